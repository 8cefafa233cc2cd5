//! One ring's message store: what this node received of the ring's total order, how far it
//! is contiguous (`my_aru`), how far it was delivered, and garbage collection below the
//! ring-wide aru.
//!
//! Invariants: `gc_floor <= delivered_up_to <= my_aru <= high_seq`; every seq in
//! `(gc_floor, my_aru]` is present in `msgs`. A message received from the wire is stored only
//! if its seq is at most `my_aru + MESSAGE_WINDOW` and the store holds fewer than
//! `RETAINED_MESSAGES_MAX + MESSAGE_WINDOW` messages (`insert_received`), so the store's size
//! is bounded whatever the wire carries.

use std::collections::{BTreeMap, BTreeSet};

use quorumd_proto::limits::{MESSAGE_WINDOW, RETAINED_MESSAGES_MAX};
use quorumd_proto::wire::Encapsulated;
use quorumd_proto::NodeId;

/// An ordered message as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredMsg {
    /// The node that submitted it.
    pub(crate) origin: NodeId,
    /// The message.
    pub(crate) payload: Vec<u8>,
    /// Set for an old-ring message carried through recovery (not delivered in this ring).
    pub(crate) encapsulated: Option<Encapsulated>,
}

/// The message store of one ring.
#[derive(Clone, Debug, Default)]
pub(crate) struct RingData {
    pub(crate) msgs: BTreeMap<u64, StoredMsg>,
    /// Every seq up to here was received.
    pub(crate) my_aru: u64,
    /// Highest seq received.
    pub(crate) high_seq: u64,
    /// Every seq up to here was delivered (or skipped as a recovery copy).
    pub(crate) delivered_up_to: u64,
    /// Messages up to here were discarded (every member had them).
    pub(crate) gc_floor: u64,
    /// Highest token_seq seen for this ring's ORF token.
    pub(crate) token_seq_seen: u64,
    /// Only for the deliver-out-of-order mutant: seqs delivered above `delivered_up_to`.
    delivered_early: BTreeSet<u64>,
}

impl RingData {
    /// Stores a message; false if it is a duplicate or already collected.
    pub(crate) fn insert(&mut self, seq: u64, msg: StoredMsg) -> bool {
        if seq <= self.gc_floor || seq == 0 || self.msgs.contains_key(&seq) {
            return false;
        }
        self.msgs.insert(seq, msg);
        self.high_seq = self.high_seq.max(seq);
        while self.msgs.contains_key(&(self.my_aru + 1)) {
            self.my_aru += 1;
        }
        true
    }

    /// Most messages a store holds: honest senders order a message only while their own store
    /// holds fewer than `RETAINED_MESSAGES_MAX`; what the others send meanwhile is within one
    /// window.
    pub(crate) const STORED_MAX: usize = RETAINED_MESSAGES_MAX + MESSAGE_WINDOW as usize;

    /// Whether a message with this seq, received from another node, may be stored: at most
    /// `MESSAGE_WINDOW` above `my_aru` (an honest seq is at most that far above the ring-wide
    /// aru, which is at most `my_aru`), and only while the store is below `STORED_MAX`.
    ///
    /// Deviation from corosync: corosync's receive queue spans 16,384 seqs; ours spans 1,024
    /// above `my_aru` (and holders order only within 1,024 of the ring's aru), so that a store
    /// stays under 43.3 MB whatever the wire carries (docs/totem.md).
    pub(crate) fn in_window(&self, seq: u64) -> bool {
        seq <= self.my_aru.saturating_add(MESSAGE_WINDOW) && self.msgs.len() < Self::STORED_MAX
    }

    /// Stores a message received from the wire; false (and nothing changed) if it is outside
    /// the window (`in_window`, unless `unbounded`: the unbounded-store mutant), a duplicate or
    /// already collected.
    pub(crate) fn insert_received(&mut self, seq: u64, msg: StoredMsg, unbounded: bool) -> bool {
        if !unbounded && !self.in_window(seq) {
            return false;
        }
        self.insert(seq, msg)
    }

    /// Takes the messages that may be delivered now, in order: the contiguous run after
    /// `delivered_up_to` (or, for the mutant, everything received and not yet delivered).
    pub(crate) fn take_deliverable(&mut self, out_of_order: bool) -> Vec<(u64, StoredMsg)> {
        let mut out = Vec::new();
        if out_of_order {
            for (seq, m) in self.msgs.range(self.delivered_up_to + 1..) {
                if self.delivered_early.insert(*seq) {
                    out.push((*seq, m.clone()));
                }
            }
            self.delivered_up_to = self.my_aru.max(self.delivered_up_to);
            return out;
        }
        while self.delivered_up_to < self.my_aru {
            self.delivered_up_to += 1;
            if let Some(m) = self.msgs.get(&self.delivered_up_to) {
                out.push((self.delivered_up_to, m.clone()));
            }
        }
        out
    }

    /// Discards messages every member has (`aru` is the ring-wide all-received mark) and
    /// that this node delivered.
    pub(crate) fn collect_garbage(&mut self, aru: u64) {
        let floor = aru.min(self.delivered_up_to).min(self.my_aru);
        if floor <= self.gc_floor {
            return;
        }
        self.msgs = self.msgs.split_off(&(floor + 1));
        self.gc_floor = floor;
        assert!(self.gc_floor <= self.delivered_up_to && self.delivered_up_to <= self.my_aru);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u8) -> StoredMsg {
        StoredMsg { origin: NodeId::new(1).unwrap(), payload: vec![n], encapsulated: None }
    }

    #[test]
    fn aru_advances_only_over_contiguous_messages() {
        let mut r = RingData::default();
        assert!(r.insert(1, msg(1)));
        assert!(r.insert(3, msg(3)));
        assert_eq!((r.my_aru, r.high_seq), (1, 3));
        assert!(!r.insert(3, msg(3)), "duplicates are refused");
        assert!(r.insert(2, msg(2)));
        assert_eq!(r.my_aru, 3);
    }

    #[test]
    fn delivery_is_in_order_and_once() {
        let mut r = RingData::default();
        r.insert(2, msg(2));
        assert!(r.take_deliverable(false).is_empty());
        r.insert(1, msg(1));
        let seqs: Vec<u64> = r.take_deliverable(false).into_iter().map(|(s, _)| s).collect();
        assert_eq!(seqs, vec![1, 2]);
        assert!(r.take_deliverable(false).is_empty());
    }

    #[test]
    fn garbage_collection_keeps_undelivered_messages() {
        let mut r = RingData::default();
        for s in 1..=4 {
            r.insert(s, msg(s as u8));
        }
        r.collect_garbage(4);
        assert_eq!(r.msgs.len(), 4, "nothing delivered yet, nothing collected");
        r.take_deliverable(false);
        r.collect_garbage(3);
        assert_eq!(r.msgs.keys().copied().collect::<Vec<_>>(), vec![4]);
        assert!(!r.insert(2, msg(2)), "collected seqs are not stored again");
    }

    #[test]
    fn received_messages_are_stored_only_within_the_window() {
        let mut r = RingData::default();
        assert!(r.insert_received(1, msg(1), false));
        assert!(!r.insert_received(2 + MESSAGE_WINDOW, msg(2), false), "beyond my_aru + window");
        assert!(!r.insert_received(u64::MAX, msg(3), false));
        assert!(r.insert_received(1 + MESSAGE_WINDOW, msg(4), false), "the window's last seq");
        assert_eq!(r.msgs.len(), 2);
        assert!(r.insert_received(u64::MAX, msg(5), true), "the mutant stores anything");
    }

    #[test]
    fn the_store_never_holds_more_than_its_maximum() {
        let mut r = RingData::default();
        // Contiguous messages move the window along; the count bound still holds.
        let mut stored = 0;
        for s in 1..=(RingData::STORED_MAX as u64 + 10) {
            stored += usize::from(r.insert_received(s, msg(0), false));
        }
        assert_eq!(stored, RingData::STORED_MAX);
        assert_eq!(r.msgs.len(), RingData::STORED_MAX);
    }
}
