//! The `system { … }` and `resources { … }` sections (corosync-behaviour §5.2). Neither affects quorum:
//! `system` is type-checked and kept for the daemon; `resources` (watchdog thresholds) is kept
//! as written. Unknown keys here are warnings, not errors: these sections belong to the daemon
//! shell and to other corosync services.

use std::collections::BTreeMap;

use crate::ctx::Ctx;
use crate::error::ConfigError;
use crate::suggest::nearest;
use crate::syntax::{Item, Section};
use crate::value::{invalid, non_empty, one_of, uint, yes_no};

/// The keys of `system { }`.
pub const SYSTEM_KEYS: &[&str] = &[
    "qb_ipc_type",
    "sched_rr",
    "priority",
    "move_to_root_cgroup",
    "allow_knet_handle_fallback",
    "state_dir",
    "max_connections",
    "max_connections_per_uid",
];

/// Default of `system.max_connections`: client connections the daemon keeps at once.
pub const MAX_CONNECTIONS_DEFAULT: u32 = 256;
/// Default of `system.max_connections_per_uid`.
pub const MAX_CONNECTIONS_PER_UID_DEFAULT: u32 = 64;
/// The largest value either key takes (the daemon further caps the total below its
/// open-file limit).
pub const MAX_CONNECTIONS_LIMIT: u64 = 65_536;

/// The `system { }` section; `None` means "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct System {
    /// `qb_ipc_type`: `native`, `shm` or `socket`.
    pub qb_ipc_type: Option<String>,
    /// `sched_rr`.
    pub sched_rr: Option<bool>,
    /// `priority`: `max`, `min` or a nice value in -20..=19.
    pub priority: Option<String>,
    /// `move_to_root_cgroup`: `yes`, `no` or `auto`.
    pub move_to_root_cgroup: Option<String>,
    /// `allow_knet_handle_fallback`.
    pub allow_knet_handle_fallback: Option<bool>,
    /// `state_dir` (corosync's default is `/var/lib/corosync`).
    pub state_dir: Option<String>,
    /// `max_connections`: client connections kept at once, all users together (quorumd only).
    pub max_connections: Option<u32>,
    /// `max_connections_per_uid`: client connections kept at once per user id (quorumd only).
    pub max_connections_per_uid: Option<u32>,
}

impl System {
    /// `max_connections`, or its default.
    pub fn max_connections(&self) -> u32 {
        self.max_connections.unwrap_or(MAX_CONNECTIONS_DEFAULT)
    }

    /// `max_connections_per_uid`, or its default.
    pub fn max_connections_per_uid(&self) -> u32 {
        self.max_connections_per_uid.unwrap_or(MAX_CONNECTIONS_PER_UID_DEFAULT)
    }
}

const SECTION: &str = "system";

/// Builds `system` from every top-level `system` section.
pub(crate) fn build(sections: &[&Section], ctx: &mut Ctx) -> Result<System, ConfigError> {
    let mut s = System::default();
    for section in sections {
        for item in section.items() {
            ctx.note(SECTION, SECTION, item);
            apply_key(&mut s, item, ctx)?;
        }
        for sub in section.sections() {
            ctx.warn(&sub.at, format!("unknown section '{}' in section 'system' is ignored", sub.name));
        }
    }
    Ok(s)
}

fn apply_key(s: &mut System, item: &Item, ctx: &mut Ctx) -> Result<(), ConfigError> {
    match item.key.as_str() {
        "qb_ipc_type" => {
            let table = [("native", "native"), ("shm", "shm"), ("socket", "socket")];
            s.qb_ipc_type = Some(one_of(item, SECTION, &table)?.to_string());
        }
        "sched_rr" => s.sched_rr = Some(yes_no(item, SECTION)?),
        "priority" => s.priority = Some(priority(item)?),
        "move_to_root_cgroup" => {
            let table = [("yes", "yes"), ("no", "no"), ("auto", "auto")];
            s.move_to_root_cgroup = Some(one_of(item, SECTION, &table)?.to_string());
        }
        "allow_knet_handle_fallback" => s.allow_knet_handle_fallback = Some(yes_no(item, SECTION)?),
        "state_dir" => s.state_dir = Some(non_empty(item, SECTION)?),
        // Deviation from corosync: corosync has no cap on client connections (a local client
        // could open connections until the daemon ran out of descriptors). These two keys are
        // quorumd's own; corosync would ignore them.
        "max_connections" => s.max_connections = Some(connections(item)?),
        "max_connections_per_uid" => s.max_connections_per_uid = Some(connections(item)?),
        other => {
            let hint = match nearest(other, SYSTEM_KEYS) {
                Some(s) => format!(" (did you mean '{s}'?)"),
                None => String::new(),
            };
            ctx.warn(&item.at, format!("unknown key '{other}' in section 'system' is ignored{hint}"));
        }
    }
    Ok(())
}

fn connections(item: &Item) -> Result<u32, ConfigError> {
    let v = uint(item, SECTION, 1, MAX_CONNECTIONS_LIMIT)?;
    u32::try_from(v).map_err(|_| invalid(item, SECTION, format!("an integer in 1..={MAX_CONNECTIONS_LIMIT}")))
}

fn priority(item: &Item) -> Result<String, ConfigError> {
    let v = item.value.as_str();
    let digits = v.strip_prefix('-').unwrap_or(v);
    let numeric = !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit());
    let in_range = numeric && v.parse::<i32>().is_ok_and(|n| (-20..=19).contains(&n));
    if v == "max" || v == "min" || in_range {
        Ok(v.to_string())
    } else {
        Err(invalid(item, SECTION, "max, min, or a nice value in -20..=19"))
    }
}

/// Flattens every `resources` section into `path → value` (`system.memory_used.recovery`).
pub(crate) fn build_resources(sections: &[&Section]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for section in sections {
        flatten(section, "", &mut out);
    }
    out
}

/// Depth is bounded by the parser's path limit.
fn flatten(section: &Section, prefix: &str, out: &mut BTreeMap<String, String>) {
    for item in section.items() {
        out.insert(format!("{prefix}{}", item.key), item.value.clone());
    }
    for sub in section.sections() {
        flatten(sub, &format!("{prefix}{}.", sub.name), out);
    }
}

#[cfg(test)]
mod tests {
    use crate::parse_str;

    fn system(body: &str) -> Result<super::System, String> {
        parse_str(&format!("totem {{\nversion: 2\n}}\nsystem {{\n{body}}}\n"), "f")
            .map(|c| c.system)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn connection_caps_have_defaults_and_bounds() {
        let s = system("").unwrap();
        assert_eq!((s.max_connections(), s.max_connections_per_uid()), (256, 64));
        let s = system("max_connections: 10\nmax_connections_per_uid: 2\n").unwrap();
        assert_eq!((s.max_connections(), s.max_connections_per_uid()), (10, 2));
        for bad in ["0", "-1", "65537", "x", ""] {
            let e = system(&format!("max_connections: {bad}\n")).unwrap_err();
            assert!(e.contains("max_connections"), "{bad}: {e}");
        }
    }
}
