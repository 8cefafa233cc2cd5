//! The cmap service, sans-IO: Corosync's typed key-value map.
//!
//! One [`Cmap`] holds a map (corosync has two: the default map of configuration and runtime
//! keys, and the statistics map). It stores typed values under dotted key names, answers
//! get / set / delete / adjust, iterates by prefix in sorted key order, and keeps the tracks
//! clients registered: every change that matches a track (exact key, or prefix with
//! `CMAP_TRACK_PREFIX`) and one of its event bits queues a [`Notification`] for its owner.
//!
//! Rules (corosync's `exec/icmap.c`, `exec/cmap.c`, `exec/main.c`):
//! - a new key name has 3..=255 characters from `[a-zA-Z0-9._/:-]`, else
//!   `CS_ERR_NAME_TOO_LONG`;
//! - a client may not set, delete or adjust a read-only key (`internal_configuration.`,
//!   `runtime.services.`, `runtime.config.`, `runtime.totem.`, `uidgid.config.`, `system.`,
//!   `nodelist.` and a few totem keys): `CS_ERR_ACCESS`. The daemon itself writes them;
//! - setting a key to the value (and type) it already has changes nothing and notifies no one;
//! - a missing key is `CS_ERR_NOT_EXIST`.
//!
//! Bounds: a value at most [`VALUE_MAX`] bytes (corosync's, `CS_ERR_INVALID_PARAM` past it);
//! at most [`KEYS_MAX`] keys, [`TRACKS_MAX`] tracks and [`ITERS_MAX`] iterators per owner
//! (`CS_ERR_NO_RESOURCES` past them). Nothing changes when a bound refuses.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;

use std::collections::{BTreeMap, VecDeque};

use quorumd_proto::ipc::cs;
pub use quorumd_proto::svc_cmap::{track, CmapValue, KEYNAME_MAX, KEYNAME_MIN, VALUE_MAX};

pub use config::config_keys;

/// Most keys in one map.
///
/// Deviation from corosync: corosync's map grows without bound (a client writing keys in a
/// loop could exhaust the daemon's memory), and it has no bound on tracks or iterators.
pub const KEYS_MAX: usize = 65_536;
/// Most tracks one owner (connection) may hold.
pub const TRACKS_MAX: usize = 1024;
/// Most open iterators one owner may hold.
pub const ITERS_MAX: usize = 64;

/// Who did something: a client connection (by the shell's number) or the daemon itself.
pub type Owner = u64;

/// Why a request was refused (a `cs_error_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CmapError {
    /// `CS_ERR_NOT_EXIST`.
    #[error("no such key")]
    NotExist,
    /// `CS_ERR_ACCESS`: a read-only key.
    #[error("the key is read-only")]
    Access,
    /// `CS_ERR_NAME_TOO_LONG`: a key name that is too short, too long or has a bad character.
    #[error("invalid key name")]
    BadName,
    /// `CS_ERR_INVALID_PARAM`.
    #[error("invalid parameter")]
    InvalidParam,
    /// `CS_ERR_NO_RESOURCES`: a bound on keys, tracks or iterators.
    #[error("limit reached")]
    NoResources,
    /// `CS_ERR_NO_SECTIONS`: an iterator is at its end.
    #[error("no more keys")]
    NoSections,
    /// `CS_ERR_BAD_HANDLE`: no such track or iterator (of this owner).
    #[error("no such track or iterator")]
    BadHandle,
}

impl CmapError {
    /// The `cs_error_t` number.
    pub fn cs(self) -> u32 {
        match self {
            CmapError::NotExist => cs::ERR_NOT_EXIST,
            CmapError::Access => cs::ERR_ACCESS,
            CmapError::BadName => 13,
            CmapError::InvalidParam => cs::ERR_INVALID_PARAM,
            CmapError::NoResources => 18,
            CmapError::NoSections => 27,
            CmapError::BadHandle => 9,
        }
    }
}

/// A change a track owner is told about.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// Whose track.
    pub owner: Owner,
    /// The track.
    pub track: u64,
    /// `track::ADD`, `DELETE` or `MODIFY`.
    pub event: u32,
    /// The key.
    pub key: String,
    /// The new value (none for a delete).
    pub new: Option<CmapValue>,
    /// The old value (none for an add).
    pub old: Option<CmapValue>,
}

#[derive(Clone, Debug)]
struct Track {
    owner: Owner,
    key: String,
    flags: u32,
}

#[derive(Clone, Debug)]
struct Iter {
    owner: Owner,
    prefix: String,
    /// The last key returned.
    after: Option<String>,
}

/// Keys only the daemon may change, by prefix (corosync's `set_icmap_ro_keys_flag`).
const RO_PREFIXES: &[&str] = &[
    "internal_configuration.",
    "runtime.services.",
    "runtime.config.",
    "runtime.totem.",
    "uidgid.config.",
    "system.",
    "nodelist.",
];

/// Keys only the daemon may change, exactly.
const RO_KEYS: &[&str] = &[
    "totem.crypto_cipher",
    "totem.crypto_hash",
    "totem.crypto_model",
    "totem.keyfile",
    "totem.key",
    "totem.secauth",
    "totem.ip_version",
    "totem.ip_dscp",
    "totem.transport",
    "totem.cluster_name",
    "quorum.provider",
    "quorum.wait_for_all",
    "quorum.last_man_standing",
    "quorum.last_man_standing_window",
    "quorum.auto_tie_breaker",
    "quorum.auto_tie_breaker_node",
    "quorum.allow_downscale",
    "quorum.expected_votes_tracking",
];

/// Whether clients may not change `key`.
pub fn is_read_only(key: &str) -> bool {
    RO_PREFIXES.iter().any(|p| key.starts_with(p)) || RO_KEYS.contains(&key)
}

/// Whether `key` is a name a new key may have.
pub fn valid_name(key: &str) -> bool {
    (KEYNAME_MIN..=KEYNAME_MAX).contains(&key.len())
        && key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'/' | b':'))
}

/// One map with its tracks and iterators.
#[derive(Clone, Debug, Default)]
pub struct Cmap {
    map: BTreeMap<String, CmapValue>,
    tracks: BTreeMap<u64, Track>,
    iters: BTreeMap<u64, Iter>,
    next_handle: u64,
    out: VecDeque<Notification>,
}

fn same(a: &CmapValue, b: &CmapValue) -> bool {
    // Bitwise for floats, so that a NaN written twice is "unchanged" as corosync's memcmp.
    a.type_code() == b.type_code() && a.to_ne_bytes() == b.to_ne_bytes()
}

impl Cmap {
    /// An empty map.
    pub fn new() -> Cmap {
        Cmap::default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&CmapValue> {
        self.map.get(key)
    }

    /// A `u8` key, if it exists with that type.
    pub fn get_u8(&self, key: &str) -> Option<u8> {
        match self.map.get(key) {
            Some(CmapValue::U8(v)) => Some(*v),
            _ => None,
        }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every key under `prefix`, sorted.
    pub fn prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a String, &'a CmapValue)> + 'a {
        self.map.range(prefix.to_string()..).take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// A client's `cmap_set`: refused for read-only keys.
    pub fn client_set(&mut self, key: &str, value: CmapValue) -> Result<(), CmapError> {
        if is_read_only(key) {
            return Err(CmapError::Access);
        }
        self.set(key, value)
    }

    /// A client's `cmap_delete`.
    pub fn client_delete(&mut self, key: &str) -> Result<(), CmapError> {
        if is_read_only(key) {
            return Err(CmapError::Access);
        }
        self.delete(key)
    }

    /// A client's `cmap_inc` / `cmap_dec` (integers wrap, as corosync's do; other types are
    /// `CS_ERR_INVALID_PARAM`).
    pub fn client_adjust(&mut self, key: &str, step: i32) -> Result<(), CmapError> {
        if is_read_only(key) {
            return Err(CmapError::Access);
        }
        let old = self.map.get(key).ok_or(CmapError::NotExist)?;
        let s = i64::from(step);
        let new = match *old {
            CmapValue::I8(v) => CmapValue::I8(v.wrapping_add(s as i8)),
            CmapValue::U8(v) => CmapValue::U8(v.wrapping_add(s as u8)),
            CmapValue::I16(v) => CmapValue::I16(v.wrapping_add(s as i16)),
            CmapValue::U16(v) => CmapValue::U16(v.wrapping_add(s as u16)),
            CmapValue::I32(v) => CmapValue::I32(v.wrapping_add(s as i32)),
            CmapValue::U32(v) => CmapValue::U32(v.wrapping_add(s as u32)),
            CmapValue::I64(v) => CmapValue::I64(v.wrapping_add(s)),
            CmapValue::U64(v) => CmapValue::U64(v.wrapping_add(s as u64)),
            _ => return Err(CmapError::InvalidParam),
        };
        self.set(key, new)
    }

    /// Sets `key` (the daemon's own write: read-only keys included).
    pub fn set(&mut self, key: &str, value: CmapValue) -> Result<(), CmapError> {
        if value.len() > VALUE_MAX {
            return Err(CmapError::InvalidParam);
        }
        let old = self.map.get(key);
        if let Some(old) = old {
            if same(old, &value) {
                return Ok(());
            }
        } else {
            if !valid_name(key) {
                return Err(CmapError::BadName);
            }
            if self.map.len() >= KEYS_MAX {
                return Err(CmapError::NoResources);
            }
        }
        let old = self.map.insert(key.to_string(), value.clone());
        let event = if old.is_some() { track::MODIFY } else { track::ADD };
        self.notify(key, event, Some(value), old);
        Ok(())
    }

    /// Deletes `key` (the daemon's own delete).
    pub fn delete(&mut self, key: &str) -> Result<(), CmapError> {
        let old = self.map.remove(key).ok_or(CmapError::NotExist)?;
        self.notify(key, track::DELETE, None, Some(old));
        Ok(())
    }

    /// Deletes every key under `prefix` (the daemon's own cleanup).
    pub fn delete_prefix(&mut self, prefix: &str) {
        let keys: Vec<String> = self.prefix(prefix).map(|(k, _)| k.clone()).collect();
        for k in keys {
            let _ = self.delete(&k);
        }
    }

    /// Queues the notifications of a change of `key`, in Corosync's order (its tracks hang on
    /// the nodes of a trie, notified from the key's own node up to the root): tracks on longer
    /// keys first; on one key the exact tracks newest first, then the prefix tracks oldest first.
    fn notify(&mut self, key: &str, event: u32, new: Option<CmapValue>, old: Option<CmapValue>) {
        let mut hits: Vec<(u64, &Track)> = (self.tracks.iter())
            .filter(|(_, t)| {
                let hit = if t.flags & track::PREFIX != 0 { key.starts_with(&t.key) } else { key == t.key };
                hit && t.flags & event != 0
            })
            .map(|(id, t)| (*id, t))
            .collect();
        hits.sort_by_key(|(id, t)| {
            let prefix = t.flags & track::PREFIX != 0;
            (std::cmp::Reverse(t.key.len()), prefix, if prefix { *id } else { u64::MAX - *id })
        });
        let queued: Vec<Notification> = (hits.into_iter())
            .map(|(id, t)| Notification {
                owner: t.owner,
                track: id,
                event,
                key: key.to_string(),
                new: new.clone(),
                old: old.clone(),
            })
            .collect();
        self.out.extend(queued);
    }

    fn handle(&mut self) -> u64 {
        self.next_handle += 1;
        self.next_handle
    }

    /// `cmap_track_add`: a track of `owner` on `key` (a prefix with `track::PREFIX`) for the
    /// event bits in `flags`. Unknown bits: `CS_ERR_INVALID_PARAM`; no event bit is a track
    /// that never fires, as Corosync accepts it.
    pub fn track_add(&mut self, owner: Owner, key: &str, flags: u32) -> Result<u64, CmapError> {
        let events = track::ADD | track::DELETE | track::MODIFY;
        if flags & !(events | track::PREFIX) != 0 || key.len() > KEYNAME_MAX {
            return Err(CmapError::InvalidParam);
        }
        if self.tracks.values().filter(|t| t.owner == owner).count() >= TRACKS_MAX {
            return Err(CmapError::NoResources);
        }
        let id = self.handle();
        self.tracks.insert(id, Track { owner, key: key.to_string(), flags });
        Ok(id)
    }

    /// `cmap_track_delete`.
    pub fn track_delete(&mut self, owner: Owner, track: u64) -> Result<(), CmapError> {
        match self.tracks.get(&track) {
            Some(t) if t.owner == owner => {
                self.tracks.remove(&track);
                // Notifications already queued for it are dropped: the client forgot it.
                self.out.retain(|n| n.track != track);
                Ok(())
            }
            _ => Err(CmapError::BadHandle),
        }
    }

    /// `cmap_iter_init`.
    pub fn iter_init(&mut self, owner: Owner, prefix: &str) -> Result<u64, CmapError> {
        if prefix.len() > KEYNAME_MAX {
            return Err(CmapError::BadName);
        }
        if self.iters.values().filter(|i| i.owner == owner).count() >= ITERS_MAX {
            return Err(CmapError::NoResources);
        }
        let id = self.handle();
        self.iters.insert(id, Iter { owner, prefix: prefix.to_string(), after: None });
        Ok(id)
    }

    /// `cmap_iter_next`: the next key (in sorted order) under the iterator's prefix, with
    /// its value; keys added or deleted meanwhile are seen or skipped as the order says.
    pub fn iter_next(&mut self, owner: Owner, iter: u64) -> Result<(String, &CmapValue), CmapError> {
        let it = match self.iters.get_mut(&iter) {
            Some(it) if it.owner == owner => it,
            _ => return Err(CmapError::BadHandle),
        };
        let next = match &it.after {
            None => self.map.range(it.prefix.clone()..).next(),
            Some(a) => {
                self.map.range::<String, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)).next()
            }
        };
        match next {
            Some((k, v)) if k.starts_with(&it.prefix) => {
                it.after = Some(k.clone());
                Ok((k.clone(), v))
            }
            _ => Err(CmapError::NoSections),
        }
    }

    /// `cmap_iter_finalize`.
    pub fn iter_finalize(&mut self, owner: Owner, iter: u64) -> Result<(), CmapError> {
        match self.iters.get(&iter) {
            Some(it) if it.owner == owner => {
                self.iters.remove(&iter);
                Ok(())
            }
            _ => Err(CmapError::BadHandle),
        }
    }

    /// Forgets everything `owner` held (its connection closed).
    pub fn drop_owner(&mut self, owner: Owner) {
        self.tracks.retain(|_, t| t.owner != owner);
        self.iters.retain(|_, i| i.owner != owner);
        self.out.retain(|n| n.owner != owner);
    }

    /// The next notification to send.
    pub fn poll_notification(&mut self) -> Option<Notification> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> CmapValue {
        CmapValue::String(v.into())
    }

    #[test]
    fn typed_get_set_delete_and_read_only_keys() {
        let mut m = Cmap::new();
        m.set("nodelist.node.0.nodeid", CmapValue::U32(1)).unwrap();
        assert_eq!(m.client_set("nodelist.node.0.nodeid", CmapValue::U32(2)), Err(CmapError::Access));
        assert_eq!(m.client_delete("nodelist.node.0.nodeid"), Err(CmapError::Access));
        assert_eq!(m.client_set("runtime.config.totem.token", CmapValue::U32(2)), Err(CmapError::Access));
        assert_eq!(m.client_set("totem.cluster_name", s("x")), Err(CmapError::Access));
        m.client_set("uidgid.gid.189", CmapValue::U8(1)).unwrap();
        assert_eq!(m.get_u8("uidgid.gid.189"), Some(1));
        assert_eq!(m.client_delete("no.such.key"), Err(CmapError::NotExist));
        assert_eq!(m.client_set("ab", CmapValue::U8(1)), Err(CmapError::BadName));
        assert_eq!(m.client_set("a b.c", CmapValue::U8(1)), Err(CmapError::BadName));
        assert_eq!(m.client_set(&"k".repeat(256), CmapValue::U8(1)), Err(CmapError::BadName));
        assert_eq!(
            m.client_set("big.value", CmapValue::Binary(vec![0; VALUE_MAX + 1])),
            Err(CmapError::InvalidParam)
        );
        m.client_set("test.i64", CmapValue::I64(-5)).unwrap();
        m.client_adjust("test.i64", 1).unwrap();
        assert_eq!(m.get("test.i64"), Some(&CmapValue::I64(-4)));
        m.client_set("test.s", s("x")).unwrap();
        assert_eq!(m.client_adjust("test.s", 1), Err(CmapError::InvalidParam));
    }

    #[test]
    fn prefix_iteration_is_sorted_and_sees_live_changes() {
        let mut m = Cmap::new();
        for k in
            ["nodelist.node.1.nodeid", "nodelist.node.0.ring0_addr", "nodelist.node.0.nodeid", "totem.token"]
        {
            m.set(k, CmapValue::U32(1)).unwrap();
        }
        let it = m.iter_init(7, "nodelist.node.").unwrap();
        assert_eq!(m.iter_next(8, it).unwrap_err(), CmapError::BadHandle, "another owner's iterator");
        assert_eq!(m.iter_next(7, it).unwrap().0, "nodelist.node.0.nodeid");
        m.set("nodelist.node.0.zzz", CmapValue::U8(0)).unwrap();
        assert_eq!(m.iter_next(7, it).unwrap().0, "nodelist.node.0.ring0_addr");
        assert_eq!(m.iter_next(7, it).unwrap().0, "nodelist.node.0.zzz");
        assert_eq!(m.iter_next(7, it).unwrap().0, "nodelist.node.1.nodeid");
        assert_eq!(m.iter_next(7, it).unwrap_err(), CmapError::NoSections);
        m.iter_finalize(7, it).unwrap();
        assert_eq!(m.iter_finalize(7, it), Err(CmapError::BadHandle));
    }

    #[test]
    fn tracks_see_add_modify_delete_exact_and_prefix() {
        let mut m = Cmap::new();
        let exact = m.track_add(1, "quorum.two_node", track::ADD | track::MODIFY | track::DELETE).unwrap();
        let pfx = m.track_add(2, "quorum.", track::ADD | track::DELETE | track::PREFIX).unwrap();
        assert_eq!(m.track_add(2, "x.y.z", 0x40), Err(CmapError::InvalidParam));
        m.client_set("quorum.two_node", CmapValue::U8(0)).unwrap();
        m.client_set("quorum.two_node", CmapValue::U8(0)).unwrap(); // unchanged: no event
        m.client_set("quorum.two_node", CmapValue::U8(1)).unwrap();
        m.client_delete("quorum.two_node").unwrap();
        let got: Vec<_> =
            std::iter::from_fn(|| m.poll_notification()).map(|n| (n.owner, n.track, n.event)).collect();
        assert_eq!(
            got,
            vec![
                (1, exact, track::ADD),
                (2, pfx, track::ADD),
                (1, exact, track::MODIFY),
                (1, exact, track::DELETE),
                (2, pfx, track::DELETE),
            ]
        );
        m.set("quorum.expected_votes", CmapValue::U32(3)).unwrap();
        let n = m.poll_notification().unwrap();
        assert_eq!((n.new, n.old), (Some(CmapValue::U32(3)), None));
        m.track_delete(2, pfx).unwrap();
        assert_eq!(m.track_delete(2, pfx), Err(CmapError::BadHandle));
        m.set("quorum.x", CmapValue::U8(1)).unwrap();
        assert_eq!(m.poll_notification(), None);
        m.drop_owner(1);
        m.set("quorum.two_node", CmapValue::U8(1)).unwrap();
        assert_eq!(m.poll_notification(), None);
    }

    #[test]
    fn bounds_on_tracks_and_iterators() {
        let mut m = Cmap::new();
        for _ in 0..TRACKS_MAX {
            m.track_add(1, "a.b.c", track::ADD).unwrap();
        }
        assert_eq!(m.track_add(1, "a.b.c", track::ADD), Err(CmapError::NoResources));
        assert!(m.track_add(2, "a.b.c", track::ADD).is_ok());
        for _ in 0..ITERS_MAX {
            m.iter_init(1, "").unwrap();
        }
        assert_eq!(m.iter_init(1, ""), Err(CmapError::NoResources));
    }

    #[test]
    fn a_track_without_events_is_accepted_and_never_fires() {
        let mut m = Cmap::new();
        let t = m.track_add(1, "a.", 0).unwrap();
        m.track_add(1, "a.", track::PREFIX).unwrap();
        m.client_set("a.b", CmapValue::U8(1)).unwrap();
        assert!(m.poll_notification().is_none());
        m.track_delete(1, t).unwrap();
    }

    #[test]
    fn notifications_come_in_corosyncs_trie_order() {
        let mut m = Cmap::new();
        let all = track::ADD | track::MODIFY | track::DELETE;
        let p1 = m.track_add(1, "t.", all | track::PREFIX).unwrap();
        let e1 = m.track_add(1, "t.x", all).unwrap();
        let p2 = m.track_add(1, "t.", all | track::PREFIX).unwrap();
        let e2 = m.track_add(1, "t.x", all).unwrap();
        let px = m.track_add(1, "t.x", all | track::PREFIX).unwrap();
        let root = m.track_add(1, "", all | track::PREFIX).unwrap();
        m.client_set("t.x", CmapValue::U8(1)).unwrap();
        let got: Vec<u64> = std::iter::from_fn(|| m.poll_notification()).map(|n| n.track).collect();
        // The key's own node (exact newest first, then prefix), then "t.", then the root.
        assert_eq!(got, vec![e2, e1, px, p1, p2, root]);
    }
}
