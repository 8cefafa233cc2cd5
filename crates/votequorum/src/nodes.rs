//! The per-node table of corosync-behaviour §3.2: `{nodeid, state, votes, expected_votes, flags}`, sorted by
//! node id, with corosync's state values and flag bits.
//!
//! Invariants: at most [`NODES_MAX`] entries (a new node takes the place of the lowest DEAD one
//! when the table is full, as corosync reuses dead slots); votes per entry at most
//! [`VOTES_MAX`](crate::limits::VOTES_MAX), so the sums below cannot overflow.

use std::collections::BTreeMap;

use quorumd_proto::limits::NODES_MAX;
use quorumd_proto::NodeId;

use crate::error::Error;

/// A node's state in the table (corosync's `nodestate_t`, values as on the C API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum NodeState {
    /// In the current membership and counted.
    Member = 1,
    /// Left the membership (or never sent its nodeinfo in this ring).
    Dead = 2,
    /// Announced a clean shutdown (allow_downscale); not counted.
    Leaving = 3,
}

impl NodeState {
    /// The raw `VOTEQUORUM_NODESTATE_*` value.
    pub const fn raw(self) -> u32 {
        self as u32
    }
}

/// The flags a node reports in its nodeinfo (corosync's `NODE_FLAGS_*`; the qdevice bits 16..128
/// are never set by quorumd).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeFlags(u32);

impl NodeFlags {
    /// The node is quorate.
    pub const QUORATE: NodeFlags = NodeFlags(1);
    /// The node is shutting down cleanly (allow_downscale).
    pub const LEAVING: NodeFlags = NodeFlags(2);
    /// The node is waiting for all (WFA status set).
    pub const WFASTATUS: NodeFlags = NodeFlags(4);
    /// The node has not yet been in a membership of more than one node.
    pub const FIRST: NodeFlags = NodeFlags(8);
    /// quorumd's own bit (not corosync's): by this node's history, auto_tie_breaker would give
    /// a 50:50 tie to the membership being synced. A tie is granted only when every member
    /// says so, so that every member reaches the same verdict.
    pub const ATB_GRANT: NodeFlags = NodeFlags(0x1_0000);
    /// Every bit quorumd knows; others are refused on the wire.
    pub const KNOWN: NodeFlags = NodeFlags(1 | 2 | 4 | 8 | 0x1_0000);
    /// No flag.
    pub const EMPTY: NodeFlags = NodeFlags(0);

    /// Flags from raw bits, if they are all known.
    pub const fn from_bits(bits: u32) -> Option<NodeFlags> {
        if bits & !Self::KNOWN.0 == 0 {
            Some(NodeFlags(bits))
        } else {
            None
        }
    }

    /// The raw bits, as on the wire.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: NodeFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets or clears the bits of `other`.
    pub fn set(&mut self, other: NodeFlags, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// The node.
    pub nodeid: NodeId,
    /// Its state.
    pub state: NodeState,
    /// Its votes.
    pub votes: u32,
    /// Its expected votes, as this node records them (corosync-behaviour §3.2).
    pub expected_votes: u32,
    /// Its last reported flags (ours: our own flags).
    pub flags: NodeFlags,
}

/// What the MEMBER rows add up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Σ votes of MEMBER nodes.
    pub total_votes: u32,
    /// Number of MEMBER nodes.
    pub total_nodes: u32,
    /// max expected_votes of MEMBER nodes.
    pub highest_expected: u32,
}

/// The table, sorted by node id.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeTable {
    rows: BTreeMap<NodeId, NodeEntry>,
}

impl NodeTable {
    pub(crate) fn get(&self, id: NodeId) -> Option<&NodeEntry> {
        self.rows.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> Option<&mut NodeEntry> {
        self.rows.get_mut(&id)
    }

    /// The row of `id`, created DEAD with nothing if absent (`true` = new). When the table is
    /// full, the lowest DEAD row makes room; with none, the node is refused.
    pub(crate) fn entry(&mut self, id: NodeId) -> Result<(&mut NodeEntry, bool), Error> {
        let is_new = !self.rows.contains_key(&id);
        if is_new && self.rows.len() >= NODES_MAX {
            let dead = self.rows.values().find(|r| r.state == NodeState::Dead).map(|r| r.nodeid);
            let dead = dead.ok_or(Error::TableFull(id))?;
            self.rows.remove(&dead);
        }
        assert!(!is_new || self.rows.len() < NODES_MAX, "node table over NODES_MAX");
        let row = self.rows.entry(id).or_insert(NodeEntry {
            nodeid: id,
            state: NodeState::Dead,
            votes: 0,
            expected_votes: 0,
            flags: NodeFlags::EMPTY,
        });
        Ok((row, is_new))
    }

    pub(crate) fn is_member(&self, id: NodeId) -> bool {
        self.rows.get(&id).is_some_and(|r| r.state == NodeState::Member)
    }

    pub(crate) fn rows(&self) -> impl Iterator<Item = &NodeEntry> + '_ {
        self.rows.values()
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = &NodeEntry> + '_ {
        self.rows.values().filter(|r| r.state == NodeState::Member)
    }

    /// Sets the expected votes of every MEMBER row (corosync's `update_node_expected_votes`).
    pub(crate) fn set_member_expected(&mut self, expected_votes: u32) {
        for row in self.rows.values_mut().filter(|r| r.state == NodeState::Member) {
            row.expected_votes = expected_votes;
        }
    }

    pub(crate) fn tally(&self) -> Tally {
        self.members().fold(Tally::default(), |t, r| Tally {
            total_votes: t.total_votes.saturating_add(r.votes),
            total_nodes: t.total_nodes + 1,
            highest_expected: t.highest_expected.max(r.expected_votes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    #[test]
    fn spec_3_2_flag_bits_are_corosyncs() {
        assert_eq!(NodeFlags::QUORATE.bits(), 1);
        assert_eq!(NodeFlags::LEAVING.bits(), 2);
        assert_eq!(NodeFlags::WFASTATUS.bits(), 4);
        assert_eq!(NodeFlags::FIRST.bits(), 8);
        assert_eq!(NodeFlags::from_bits(16), None);
        let mut f = NodeFlags::EMPTY;
        f.set(NodeFlags::QUORATE, true);
        f.set(NodeFlags::FIRST, true);
        f.set(NodeFlags::QUORATE, false);
        assert_eq!(f, NodeFlags::FIRST);
        assert_eq!((NodeState::Member.raw(), NodeState::Dead.raw(), NodeState::Leaving.raw()), (1, 2, 3));
    }

    #[test]
    fn full_table_reuses_the_lowest_dead_row_or_refuses() {
        let mut t = NodeTable::default();
        for raw in 1..=NODES_MAX as u32 {
            let (row, new) = t.entry(n(raw)).unwrap();
            assert!(new);
            row.state = NodeState::Member;
            row.votes = 1;
        }
        assert_eq!(t.entry(n(1000)).map(|(_, new)| new), Err(Error::TableFull(n(1000))));
        t.get_mut(n(7)).unwrap().state = NodeState::Dead;
        assert!(t.entry(n(1000)).unwrap().1);
        assert!(t.get(n(7)).is_none());
        assert_eq!(t.tally().total_nodes, NODES_MAX as u32 - 1);
    }
}
