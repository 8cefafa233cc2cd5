//! The calculation of corosync-behaviour §3.3, as pure functions: the quorum formula, corosync's
//! `calculate_quorum` (never dropping unless allowed, two_node forcing 1) and the
//! auto_tie_breaker check. The machine ([`crate::Votequorum`]) supplies the inputs and applies
//! the steps in order; these functions neither read nor change any state.
//!
//! Invariant: every input sum is bounded (see [`crate::limits`]); arithmetic saturates anyway,
//! so no input can make these functions panic.

use quorumd_proto::{MemberList, NodeId};

use crate::config::AtbNode;
use crate::nodes::Tally;

/// `quorum = max((E + 2) / 2, (T + 2) / 2)`, integer division: a strict majority of the larger
/// of highest expected votes and total votes (E=2→2, 3→2, 4→3, 5→3, 6→4, 7→4, 8→5).
pub fn quorum_from(highest_expected: u32, total_votes: u32) -> u32 {
    let q1 = highest_expected.saturating_add(2) / 2;
    let q2 = total_votes.saturating_add(2) / 2;
    q1.max(q2)
}

/// What `calculate_quorum` needs besides the tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumInputs {
    /// The quorum may go down (LMS expiry, setexpected, setvotes, a leaving node, taking over a
    /// quorate node's expected votes). Otherwise `quorum = max(previous_quorum, new)`.
    pub allow_decrease: bool,
    /// When non-zero, replaces the highest expected votes (the member count for LMS and leaving
    /// nodes; the requested value for a setexpected trial).
    pub max_expected: u32,
    /// The quorum before this computation.
    pub previous_quorum: u32,
    /// two_node is on.
    pub two_node: bool,
    /// allow_downscale is on: with a decrease and an override, the override is at least
    /// `ev_barrier`.
    pub allow_downscale: bool,
    /// The last configured or setexpected expected votes.
    pub ev_barrier: u32,
}

/// corosync's `calculate_quorum`: the new quorum from the MEMBER tally (corosync-behaviour §3.3).
pub fn calculate_quorum(tally: &Tally, inputs: &QuorumInputs) -> u32 {
    let mut max_expected = inputs.max_expected;
    if inputs.allow_downscale && inputs.allow_decrease && max_expected > 0 {
        max_expected = max_expected.max(inputs.ev_barrier);
    }
    let highest_expected = if max_expected > 0 { max_expected } else { tally.highest_expected };
    let mut quorum = quorum_from(highest_expected, tally.total_votes);
    if !inputs.allow_decrease {
        quorum = quorum.max(inputs.previous_quorum);
    }
    if inputs.two_node && tally.total_nodes <= 2 {
        quorum = 1;
    }
    quorum
}

/// The outcome of the auto_tie_breaker step (corosync-behaviour §3.3 step 3), for the decision and for
/// `quorumtool explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TieBreaker {
    /// Not a 50:50 split: `total_votes != expected_votes / 2`.
    NotATie {
        /// Our total votes.
        total_votes: u32,
        /// Half our expected votes (integer division).
        half_expected: u32,
    },
    /// So many nodes left since the previous membership that the other side may be quorate.
    OtherSideMayBeQuorate {
        /// Previous member count minus current member count.
        left: i64,
        /// The quorum it must stay below.
        quorum: u32,
    },
    /// The tie-breaker node is not here (`None`: no tie-breaker known yet, or no list node here).
    Absent {
        /// The node that would have broken the tie.
        node: Option<NodeId>,
    },
    /// An earlier node of the `auto_tie_breaker_node` list was in the previous membership and
    /// is not here: it may hold the other half.
    EarlierListNodeElsewhere {
        /// That earlier list node.
        node: NodeId,
    },
    /// A member did not come from the last quorate membership (it was inquorate at the start
    /// of this sync), so the tie-breaker ids may differ between members: no verdict is given.
    NotFromQuorateMembership {
        /// The first such member.
        node: NodeId,
    },
    /// This node's history gives the tie to this membership, but a member's does not (its
    /// tie-breaker ids come from another membership): no member takes the tie.
    Disputed {
        /// The first member that did not grant it.
        node: NodeId,
    },
    /// The tie is ours: this node breaks it.
    Granted {
        /// The tie-breaker node present here.
        node: NodeId,
    },
}

/// Everything the tie-breaker check looks at.
#[derive(Clone, Copy, Debug)]
pub struct AtbInputs<'a> {
    /// The rule.
    pub mode: &'a AtbNode,
    /// Lowest MEMBER id of the last quorate computation (sticky).
    pub lowest_node_id: Option<NodeId>,
    /// Highest MEMBER id of the last quorate computation (sticky).
    pub highest_node_id: Option<NodeId>,
    /// Our total votes.
    pub total_votes: u32,
    /// Our expected votes.
    pub expected_votes: u32,
    /// The current quorum.
    pub quorum: u32,
    /// The current Totem member list.
    pub members: &'a MemberList,
    /// The previous Totem member list.
    pub previous_members: &'a MemberList,
}

/// corosync-behaviour §3.3 step 3: whether ATB forces quorate, and why (not). `is_member` says whether a node
/// is MEMBER in the node table (lowest/highest look at the table, lists at the Totem lists, as
/// corosync does).
pub fn tie_breaker(inputs: &AtbInputs<'_>, is_member: impl Fn(NodeId) -> bool) -> TieBreaker {
    let half_expected = inputs.expected_votes / 2;
    // Deviation from corosync: with odd expected votes, E/2 (rounded down) is a minority, not a
    // tie: the other side may hold a real majority. corosync still grants the tie there (it
    // only warns when wait_for_all is off), which the simulator showed to give split brain
    // (a 3-vote partition "winning" the tie while the other 4 votes were quorate).
    if inputs.total_votes != half_expected || inputs.expected_votes % 2 != 0 {
        return TieBreaker::NotATie { total_votes: inputs.total_votes, half_expected };
    }
    tie_holder(inputs, is_member)
}

/// corosync-behaviour §3.3 step 3 without the tie condition: whether this membership holds the tie-breaker
/// (few enough nodes left, and the sticky node or the list rule points here).
pub fn tie_holder(inputs: &AtbInputs<'_>, is_member: impl Fn(NodeId) -> bool) -> TieBreaker {
    let left = inputs.previous_members.len() as i64 - inputs.members.len() as i64;
    if left >= i64::from(inputs.quorum) {
        return TieBreaker::OtherSideMayBeQuorate { left, quorum: inputs.quorum };
    }
    let sticky = |node: Option<NodeId>| match node {
        Some(id) if is_member(id) => TieBreaker::Granted { node: id },
        other => TieBreaker::Absent { node: other },
    };
    match inputs.mode {
        AtbNode::Lowest => sticky(inputs.lowest_node_id),
        AtbNode::Highest => sticky(inputs.highest_node_id),
        AtbNode::List(list) => list_tie_breaker(list, inputs.members, inputs.previous_members),
    }
}

/// The list rule: the first list node present now wins, unless a list node before it was
/// present in the previous membership (it may be on the other side); no list node here: deny.
fn list_tie_breaker(list: &[NodeId], members: &MemberList, previous: &MemberList) -> TieBreaker {
    let Some(pos) = list.iter().position(|id| members.contains(*id)) else {
        return TieBreaker::Absent { node: None };
    };
    match list[..pos].iter().find(|id| previous.contains(**id)) {
        Some(earlier) => TieBreaker::EarlierListNodeElsewhere { node: *earlier },
        None => TieBreaker::Granted { node: list[pos] },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    fn ids(raw: &[u32]) -> MemberList {
        MemberList::from_ids(raw.iter().map(|r| n(*r))).unwrap()
    }

    #[test]
    fn spec_3_3_quorum_is_a_strict_majority_of_expected() {
        let table = [(2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4), (8, 5)];
        for (e, q) in table {
            assert_eq!(quorum_from(e, 0), q, "E={e}");
            assert_eq!(quorum_from(e, e), q, "E=T={e}");
        }
        assert_eq!(quorum_from(3, 7), 4, "T above E counts");
        // Saturates instead of overflowing (the limits keep real sums far below).
        assert_eq!(quorum_from(u32::MAX, u32::MAX), u32::MAX / 2);
    }

    fn inputs() -> QuorumInputs {
        QuorumInputs {
            allow_decrease: false,
            max_expected: 0,
            previous_quorum: 0,
            two_node: false,
            allow_downscale: false,
            ev_barrier: 0,
        }
    }

    #[test]
    fn spec_3_3_quorum_never_drops_unless_allowed() {
        let tally = Tally { total_votes: 2, total_nodes: 2, highest_expected: 3 };
        let held = QuorumInputs { previous_quorum: 3, ..inputs() };
        assert_eq!(calculate_quorum(&tally, &held), 3);
        assert_eq!(calculate_quorum(&tally, &QuorumInputs { allow_decrease: true, ..held }), 2);
        let lms = QuorumInputs { allow_decrease: true, max_expected: 2, ..held };
        assert_eq!(calculate_quorum(&tally, &lms), 2);
    }

    #[test]
    fn spec_3_4_two_node_forces_quorum_1_with_at_most_2_members() {
        let two = QuorumInputs { two_node: true, ..inputs() };
        let t2 = Tally { total_votes: 2, total_nodes: 2, highest_expected: 2 };
        assert_eq!(calculate_quorum(&t2, &two), 1);
        let t3 = Tally { total_votes: 3, total_nodes: 3, highest_expected: 3 };
        assert_eq!(calculate_quorum(&t3, &two), 2);
    }

    #[test]
    fn spec_3_9_allow_downscale_keeps_the_override_above_ev_barrier() {
        let t = Tally { total_votes: 3, total_nodes: 3, highest_expected: 4 };
        let ad = QuorumInputs {
            allow_decrease: true,
            max_expected: 3,
            allow_downscale: true,
            ev_barrier: 4,
            ..inputs()
        };
        assert_eq!(calculate_quorum(&t, &ad), 3);
        assert_eq!(calculate_quorum(&t, &QuorumInputs { allow_downscale: false, ..ad }), 2);
    }

    #[test]
    fn spec_3_3_atb_list_rule() {
        let list = [n(3), n(1)];
        // {3,4} holds the first list node.
        assert_eq!(
            list_tie_breaker(&list, &ids(&[3, 4]), &ids(&[1, 2, 3, 4])),
            TieBreaker::Granted { node: n(3) }
        );
        // {1,2}: 1 is here, but 3 (earlier) was in the previous membership.
        assert_eq!(
            list_tie_breaker(&list, &ids(&[1, 2]), &ids(&[1, 2, 3, 4])),
            TieBreaker::EarlierListNodeElsewhere { node: n(3) }
        );
        // 3 was already gone before: 1 may break the tie.
        assert_eq!(
            list_tie_breaker(&list, &ids(&[1, 2]), &ids(&[1, 2, 4])),
            TieBreaker::Granted { node: n(1) }
        );
        assert_eq!(
            list_tie_breaker(&list, &ids(&[2, 4]), &ids(&[1, 2, 3, 4])),
            TieBreaker::Absent { node: None }
        );
    }

    #[test]
    fn spec_3_3_atb_needs_a_tie_and_few_leavers() {
        let (members, previous) = (ids(&[1, 2]), ids(&[1, 2, 3, 4]));
        let base = AtbInputs {
            mode: &AtbNode::Lowest,
            lowest_node_id: Some(n(1)),
            highest_node_id: Some(n(4)),
            total_votes: 2,
            expected_votes: 4,
            quorum: 3,
            members: &members,
            previous_members: &previous,
        };
        let member = |id: NodeId| members.contains(id);
        assert_eq!(tie_breaker(&base, member), TieBreaker::Granted { node: n(1) });
        let high = AtbInputs { mode: &AtbNode::Highest, ..base };
        assert_eq!(tie_breaker(&high, member), TieBreaker::Absent { node: Some(n(4)) });
        // 2 of 5 is not a tie (corosync grants it; we do not: the other 3 may be quorate).
        let odd = AtbInputs { expected_votes: 5, ..base };
        assert!(matches!(tie_breaker(&odd, member), TieBreaker::NotATie { .. }));
        let no_tie = AtbInputs { total_votes: 1, ..base };
        assert!(matches!(tie_breaker(&no_tie, member), TieBreaker::NotATie { .. }));
        let low_q = AtbInputs { quorum: 2, ..base };
        assert!(matches!(tie_breaker(&low_q, member), TieBreaker::OtherSideMayBeQuorate { left: 2, .. }));
    }
}
