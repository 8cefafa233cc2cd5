//! `uidgid { uid: … gid: … }` in corosync.conf and in the drop-in files of `uidgid.d/`
//! (corosync-behaviour §5.1, §6.1): which non-root users and groups may connect to the IPC services.
//! Names stay names here; the daemon resolves them (this crate never reads `/etc/passwd`).

use crate::ctx::{unknown_key, unknown_section};
use crate::error::{ConfigError, Location};
use crate::syntax::{Item, Section};
use crate::value::invalid;

/// The keys of `uidgid { }`.
pub const UIDGID_KEYS: &[&str] = &["uid", "gid"];

/// Whether an entry names a user or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UidGidKind {
    /// `uid:` — a user.
    Uid,
    /// `gid:` — a group.
    Gid,
}

/// A user or group as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// A number (`uid: 1000`).
    Id(u32),
    /// A name to resolve (`gid: haclient`).
    Name(String),
}

/// One `uid:` or `gid:` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UidGid {
    /// User or group.
    pub kind: UidGidKind,
    /// Who.
    pub who: Principal,
    /// Where (the file may be a `uidgid.d/` drop-in).
    pub at: Location,
}

const SECTION: &str = "uidgid";

/// Reads one `uidgid { }` section, appending its entries.
pub(crate) fn build(section: &Section, out: &mut Vec<UidGid>) -> Result<(), ConfigError> {
    if let Some(sub) = section.sections().next() {
        return Err(unknown_section(SECTION, sub, &[]));
    }
    for item in section.items() {
        let kind = match item.key.as_str() {
            "uid" => UidGidKind::Uid,
            "gid" => UidGidKind::Gid,
            _ => return Err(unknown_key(SECTION, item, UIDGID_KEYS)),
        };
        out.push(UidGid { kind, who: principal(item)?, at: item.at.clone() });
    }
    Ok(())
}

/// A number, or a name without blanks or colons.
fn principal(item: &Item) -> Result<Principal, ConfigError> {
    let value = item.value.as_str();
    // Deviation from corosync: an empty uid or gid is rejected here with its file and line;
    // corosync once mapped an empty uid to root and now fails with "The '' group is not found".
    let bad = value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == ':');
    if bad {
        return Err(invalid(item, SECTION, "a user or group name, or a number"));
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Deviation from corosync: numeric ids are taken as ids (corosync looks every value
        // up as a name).
        return value
            .parse::<u32>()
            .map(Principal::Id)
            .map_err(|_| invalid(item, SECTION, "a user or group name, or a number in 0..=4294967295"));
    }
    Ok(Principal::Name(value.to_string()))
}

/// Reads a `uidgid.d/` drop-in: only `uidgid { }` sections are allowed in it (corosync-behaviour §5.1).
pub(crate) fn build_drop_in(root: &Section, out: &mut Vec<UidGid>) -> Result<(), ConfigError> {
    if let Some(item) = root.items().next() {
        let reason =
            format!("only 'uidgid {{ }}' sections are allowed in a uidgid.d file, not key '{}'", item.key);
        return Err(ConfigError::Inconsistent { at: item.at.clone(), reason });
    }
    for section in root.sections() {
        if section.name != SECTION {
            let reason = format!(
                "only 'uidgid {{ }}' sections are allowed in a uidgid.d file, not '{}'",
                section.name
            );
            return Err(ConfigError::Inconsistent { at: section.at.clone(), reason });
        }
        build(section, out)?;
    }
    Ok(())
}
