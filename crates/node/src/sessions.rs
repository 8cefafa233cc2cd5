//! The table of client sessions (one per IPC connection): who connected (peer credentials),
//! the model (V0/V1), whether it tracks changes; the access rule; and the notification frames.
//!
//! Invariants: a session answers requests only after a successful `Init`; a session is removed
//! exactly once (on disconnect or when the node closes it).

use std::collections::{BTreeMap, BTreeSet};

use quorumd_proto::ipc::{self, Frame, Notification, WireRingId};
use quorumd_proto::{MemberList, RingId};

/// The `CS_TRACK_*` flags (corosync-behaviour §1.1).
pub mod track {
    /// Snapshot now.
    pub const CURRENT: u32 = 0x01;
    /// Snapshot now and every change.
    pub const CHANGES: u32 = 0x02;
    /// Every change, no snapshot.
    pub const CHANGES_ONLY: u32 = 0x04;
}

/// A connection handle chosen by the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Who may use the IPC: root, and the uids and gids of corosync.conf `uidgid` entries
/// (corosync-behaviour §6.1). Names are resolved to numbers by the shell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Allowed user ids (besides 0).
    pub uids: BTreeSet<u32>,
    /// Allowed group ids (besides 0).
    pub gids: BTreeSet<u32>,
}

impl AccessPolicy {
    /// corosync's rule: uid 0 or gid 0, or a listed uid, or a listed gid.
    pub fn allows(&self, uid: u32, gid: u32) -> bool {
        uid == 0 || gid == 0 || self.uids.contains(&uid) || self.gids.contains(&gid)
    }
}

/// The client models (`quorum_model_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Quorum notifications only, ring seq without rep.
    V0,
    /// Nodelist and quorum notifications with full ring ids.
    V1,
}

/// One client connection.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) pid: u32,
    pub(crate) model: Option<Model>,
    pub(crate) tracking: bool,
}

/// The sessions, keyed by connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sessions {
    pub(crate) table: BTreeMap<ConnId, Session>,
}

impl Sessions {
    /// Connections that receive change notifications, with their model.
    pub(crate) fn trackers(&self) -> Vec<(ConnId, Model)> {
        self.table.iter().filter(|(_, s)| s.tracking).filter_map(|(c, s)| s.model.map(|m| (*c, m))).collect()
    }
}

pub(crate) fn wire_ring(r: RingId) -> WireRingId {
    WireRingId { nodeid: r.rep, seq: r.seq }
}

/// A quorum notification frame.
pub(crate) fn quorum_frame(quorate: bool, ring: RingId, view: &MemberList) -> Vec<u8> {
    ipc::encode(&Frame::Notification(Notification::Quorum {
        quorate: u32::from(quorate),
        ring_id: wire_ring(ring),
        members: view.raw(),
    }))
}

/// A V1 nodelist notification frame.
pub(crate) fn nodelist_frame(
    ring: RingId,
    members: &MemberList,
    joined: &MemberList,
    left: &MemberList,
) -> Vec<u8> {
    ipc::encode(&Frame::Notification(Notification::Nodelist {
        ring_id: wire_ring(ring),
        members: members.raw(),
        joined: joined.raw(),
        left: left.raw(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_6_1_access_rule() {
        let p = AccessPolicy { uids: [1000].into(), gids: [50].into() };
        assert!(p.allows(0, 1234));
        assert!(p.allows(1000, 1000));
        assert!(p.allows(4000, 50));
        assert!(!p.allows(65534, 65534));
        assert!(AccessPolicy::default().allows(0, 0));
        assert!(!AccessPolicy::default().allows(1, 1));
    }
}
