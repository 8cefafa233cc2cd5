//! The read-only view of votequorum: what `votequorum_getinfo` and `corosync-quorumtool -s`
//! show (corosync-behaviour §3.10, §3.13, §6.2), plus a machine-readable [`Decision`] saying why the node is
//! (not) quorate, for `quorumtool explain`.
//!
//! Snapshots are values: taking one never changes the machine.

use std::fmt;

use quorumd_proto::{MemberList, NodeId, RingId};

use crate::calc::TieBreaker;
use crate::nodes::NodeEntry;

/// The `votequorum_info.flags` bits (corosync-behaviour §3.13); the qdevice bits are never set by quorumd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InfoFlags(u32);

impl InfoFlags {
    /// `VOTEQUORUM_INFO_TWONODE`
    pub const TWONODE: InfoFlags = InfoFlags(1);
    /// `VOTEQUORUM_INFO_QUORATE`
    pub const QUORATE: InfoFlags = InfoFlags(2);
    /// `VOTEQUORUM_INFO_WAIT_FOR_ALL`
    pub const WAIT_FOR_ALL: InfoFlags = InfoFlags(4);
    /// `VOTEQUORUM_INFO_LAST_MAN_STANDING`
    pub const LAST_MAN_STANDING: InfoFlags = InfoFlags(8);
    /// `VOTEQUORUM_INFO_AUTO_TIE_BREAKER`
    pub const AUTO_TIE_BREAKER: InfoFlags = InfoFlags(16);
    /// `VOTEQUORUM_INFO_ALLOW_DOWNSCALE`
    pub const ALLOW_DOWNSCALE: InfoFlags = InfoFlags(32);

    /// The names corosync-quorumtool prints on its `Flags:` line, in its order.
    const NAMES: [(InfoFlags, &'static str); 6] = [
        (InfoFlags::TWONODE, "2Node"),
        (InfoFlags::QUORATE, "Quorate"),
        (InfoFlags::WAIT_FOR_ALL, "WaitForAll"),
        (InfoFlags::LAST_MAN_STANDING, "LastManStanding"),
        (InfoFlags::AUTO_TIE_BREAKER, "AutoTieBreaker"),
        (InfoFlags::ALLOW_DOWNSCALE, "AllowDownscale"),
    ];

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: InfoFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) fn with(self, other: InfoFlags, on: bool) -> InfoFlags {
        if on {
            InfoFlags(self.0 | other.0)
        } else {
            self
        }
    }

    /// The flag names as corosync-quorumtool lists them (`2Node`, `Quorate`, ...).
    pub fn names(self) -> Vec<&'static str> {
        InfoFlags::NAMES.iter().filter(|(f, _)| self.contains(*f)).map(|(_, name)| *name).collect()
    }
}

/// Space-separated flag names, as on quorumtool's `Flags:` line (empty when none).
impl fmt::Display for InfoFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(" "))
    }
}

/// Why the last computation came out as it did (corosync-behaviour §3.3 steps 1–3, §3.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Enough votes: `total_votes >= quorum`.
    QuorateByVotes {
        /// Our total votes.
        total_votes: u32,
        /// The quorum.
        quorum: u32,
    },
    /// A 50:50 split that auto_tie_breaker gave to this side.
    QuorateByTieBreaker {
        /// Our total votes.
        total_votes: u32,
        /// The quorum (not reached).
        quorum: u32,
        /// The tie-breaker node present here.
        node: NodeId,
    },
    /// wait_for_all: every expected vote must be seen at once before the first quorum.
    WaitingForAll {
        /// Our total votes.
        total_votes: u32,
        /// Our expected votes, all of which must be present.
        expected_votes: u32,
        /// Known or configured nodes that are not members now.
        missing: Vec<NodeId>,
    },
    /// Not enough votes.
    NotEnoughVotes {
        /// Our total votes.
        total_votes: u32,
        /// The quorum needed.
        quorum: u32,
        /// What auto_tie_breaker said, when it is on.
        tie_breaker: Option<TieBreaker>,
    },
}

impl Decision {
    /// Whether this decision is quorate.
    pub fn is_quorate(&self) -> bool {
        matches!(self, Decision::QuorateByVotes { .. } | Decision::QuorateByTieBreaker { .. })
    }
}

/// A snapshot of one node's votequorum state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumState {
    /// This node.
    pub node_id: NodeId,
    /// The ring of the last sync (`0.0` before the first).
    pub ring_id: RingId,
    /// The Totem members of that ring (the quorum view list).
    pub members: MemberList,
    /// Quorate (`Quorate:`; `Activity blocked` when false).
    pub quorate: bool,
    /// `Quorum:`
    pub quorum: u32,
    /// Our votes.
    pub votes: u32,
    /// `Expected votes:` (ours).
    pub expected_votes: u32,
    /// `Highest expected:` max expected votes over MEMBER nodes.
    pub highest_expected: u32,
    /// `Total votes:` Σ MEMBER votes.
    pub total_votes: u32,
    /// `Flags:`
    pub flags: InfoFlags,
    /// The wait-for-all status is set (runtime.votequorum.wait_for_all_status).
    pub wait_for_all_status: bool,
    /// The last-man-standing window is running.
    pub lms_window_running: bool,
    /// Every known node, DEAD ones included, sorted by node id.
    pub nodes: Vec<NodeEntry>,
    /// Why quorate is what it is.
    pub decision: Decision,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_3_13_info_flag_values_and_names() {
        let all = [
            InfoFlags::TWONODE,
            InfoFlags::QUORATE,
            InfoFlags::WAIT_FOR_ALL,
            InfoFlags::LAST_MAN_STANDING,
            InfoFlags::AUTO_TIE_BREAKER,
            InfoFlags::ALLOW_DOWNSCALE,
        ];
        assert_eq!(all.map(InfoFlags::bits), [1, 2, 4, 8, 16, 32]);
        let f = InfoFlags::default().with(InfoFlags::WAIT_FOR_ALL, true).with(InfoFlags::TWONODE, true);
        assert_eq!(f.to_string(), "2Node WaitForAll");
    }
}
