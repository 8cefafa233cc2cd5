//! The `system { … }` and `resources { … }` sections (corosync-behaviour §5.2). Neither affects quorum:
//! `system` is type-checked and kept for the daemon; `resources` (watchdog thresholds) is kept
//! as written. Unknown keys here are warnings, not errors: these sections belong to the daemon
//! shell and to other corosync services.

use std::collections::BTreeMap;

use crate::ctx::Ctx;
use crate::error::ConfigError;
use crate::suggest::nearest;
use crate::syntax::{Item, Section};
use crate::value::{invalid, non_empty, one_of, yes_no};

/// The keys of `system { }`.
pub const SYSTEM_KEYS: &[&str] = &[
    "qb_ipc_type",
    "sched_rr",
    "priority",
    "move_to_root_cgroup",
    "allow_knet_handle_fallback",
    "state_dir",
];

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
