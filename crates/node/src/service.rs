//! The quorum service (corosync's `exec/vsf_quorum.c` plus the sync barrier of
//! `exec/sync.c`, corosync-behaviour §2): it turns Totem configuration changes and votequorum decisions into
//! the state clients see, and decides when each notification is due.
//!
//! Sync: at every regular configuration this node multicasts its votequorum nodeinfo in the
//! new ring; when the nodeinfo of every member has been delivered in that ring (the barrier),
//! the sync activates (only a nodeinfo votequorum accepts counts: one stated for an earlier
//! ring, queued at an abandoned sync and carried into this one, is dropped and does not): first the nodelist notification (ring R), then the quorum notification
//! (ring R). A new configuration before the barrier abandons the sync; the joined/left lists
//! are always relative to the last *completed* sync (corosync-behaviour §2.1).
//!
//! Invariants: `activated` implies `last_sync_ring` is a ring this node installed; the view
//! list and the nodelist member list of one activation are the same list.

use quorumd_proto::{MemberList, RingId};

/// What clients are told about the membership and quorum.
#[derive(Clone, Debug)]
pub(crate) struct ServiceState {
    /// At least one sync has completed (clients may connect).
    pub(crate) activated: bool,
    /// `primary_designated`: the quorate value clients get.
    pub(crate) quorate: bool,
    /// Ring and view list of the last quorum notification.
    pub(crate) quorum_ring: RingId,
    pub(crate) quorum_view: MemberList,
    /// Ring and member list of the last sync start (nodelist notifications).
    pub(crate) last_sync_ring: RingId,
    pub(crate) member_list: MemberList,
    /// Member list as of the previous completed sync.
    pub(crate) old_member_list: MemberList,
    /// Lists of the sync in progress (or last completed).
    pub(crate) joined: MemberList,
    pub(crate) left: MemberList,
    /// The sync in progress: its ring and the members whose nodeinfo is still awaited.
    pub(crate) sync: Option<(RingId, MemberList)>,
    /// Transitional members of the configuration change in progress.
    pub(crate) trans: MemberList,
}

impl ServiceState {
    pub(crate) fn new(provider: bool) -> ServiceState {
        ServiceState {
            activated: false,
            // corosync-behaviour §2.1: set to 1 at startup when there is no provider.
            quorate: !provider,
            quorum_ring: RingId::ZERO,
            quorum_view: MemberList::new(),
            last_sync_ring: RingId::ZERO,
            member_list: MemberList::new(),
            old_member_list: MemberList::new(),
            joined: MemberList::new(),
            left: MemberList::new(),
            sync: None,
            trans: MemberList::new(),
        }
    }

    /// Starts the sync of a regular configuration: computes joined/left (corosync-behaviour §2.1).
    pub(crate) fn sync_start(&mut self, ring: RingId, members: &MemberList) {
        // left: old members that did not move here with us, or are not in the new ring.
        let stayed = self.trans.intersect(members);
        self.left = self.old_member_list.minus(&stayed);
        // joined: new members that were not in the old list, or that left (fast restart).
        let fresh = members.minus(&self.old_member_list);
        self.joined = fresh.union(&members.intersect(&self.left)).unwrap_or(fresh);
        self.member_list = members.clone();
        self.last_sync_ring = ring;
        self.sync = Some((ring, members.clone()));
    }

    /// A nodeinfo of `ring` from `from` was delivered; true when that completes the barrier.
    pub(crate) fn barrier_progress(&mut self, ring: RingId, from: quorumd_proto::NodeId) -> bool {
        match self.sync.as_mut() {
            Some((sync_ring, waiting)) if *sync_ring == ring => {
                waiting.remove(from);
                waiting.is_empty()
            }
            _ => false,
        }
    }

    /// Ends the sync: the member list becomes the reference for the next joined/left.
    pub(crate) fn complete_sync(&mut self) {
        self.sync = None;
        self.activated = true;
        self.old_member_list = self.member_list.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quorumd_proto::NodeId;

    fn l(ids: &[u32]) -> MemberList {
        MemberList::from_ids(ids.iter().map(|i| NodeId::new(*i).unwrap())).unwrap()
    }

    #[test]
    fn spec_2_1_fast_restart_is_in_joined_and_left() {
        // kill -9 of node 2 and restart before the others noticed: members [1 2 3] again,
        // node 2 did not move with us from the old ring (corosync-behaviour §2.1 live example).
        let mut s = ServiceState::new(true);
        s.old_member_list = l(&[1, 2, 3]);
        s.trans = l(&[1, 3]);
        s.sync_start(RingId { rep: 1, seq: 0x1e }, &l(&[1, 2, 3]));
        assert_eq!(s.joined, l(&[2]));
        assert_eq!(s.left, l(&[2]));
    }

    #[test]
    fn spec_2_1_plain_join_and_leave() {
        let mut s = ServiceState::new(true);
        s.old_member_list = l(&[1, 2]);
        s.trans = l(&[1, 2]);
        s.sync_start(RingId { rep: 1, seq: 0xd }, &l(&[1, 2, 3]));
        assert_eq!((s.joined.clone(), s.left.clone()), (l(&[3]), l(&[])));
        s.complete_sync();
        s.trans = l(&[1, 2]);
        s.sync_start(RingId { rep: 1, seq: 0x11 }, &l(&[1, 2]));
        assert_eq!((s.joined.clone(), s.left.clone()), (l(&[]), l(&[3])));
    }

    #[test]
    fn lists_are_relative_to_the_last_completed_sync() {
        let mut s = ServiceState::new(true);
        s.old_member_list = l(&[1, 2]);
        s.trans = l(&[1, 2]);
        s.sync_start(RingId { rep: 1, seq: 9 }, &l(&[1, 2, 3]));
        // Abandoned: a new configuration before the barrier.
        s.trans = l(&[1, 2, 3]);
        s.sync_start(RingId { rep: 1, seq: 0xd }, &l(&[1, 2, 3, 4]));
        assert_eq!(s.joined, l(&[3, 4]));
        assert!(!s.barrier_progress(RingId { rep: 1, seq: 9 }, NodeId::new(1).unwrap()));
    }
}
