//! The node's status ([`quorumd_proto::status::Status`], the one status type: the daemon adds
//! the nodelist it runs with and its counters, `quorumtool status --json` and `quorumd demo`
//! print it). Built here from the node's own state; serialized only at the edge.

use quorumd_proto::status::{
    AtbMode, Decision as SDecision, Status, TieBreaker as STieBreaker, Verdict, VoteNode, VoteStatus,
};
use quorumd_votequorum::{AtbNode, Decision, NodeState, TieBreaker};

use crate::Node;

fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Member => "member",
        NodeState::Dead => "dead",
        NodeState::Leaving => "leaving",
    }
}

fn decision(d: &Decision, atb: Option<&AtbNode>) -> SDecision {
    match d {
        Decision::QuorateByVotes { total_votes, quorum } => {
            SDecision::QuorateByVotes { total_votes: *total_votes, quorum: *quorum }
        }
        Decision::QuorateByTieBreaker { total_votes, quorum, node } => SDecision::QuorateByTieBreaker {
            total_votes: *total_votes,
            quorum: *quorum,
            tie_breaker_node: node.get(),
            tie_breaker: atb.map(|mode| tie_breaker(mode, &TieBreaker::Granted { node: *node })),
        },
        Decision::WaitingForAll { total_votes, expected_votes, missing } => SDecision::WaitingForAll {
            total_votes: *total_votes,
            expected_votes: *expected_votes,
            missing: missing.iter().map(|n| n.get()).collect(),
        },
        Decision::NotEnoughVotes { total_votes, quorum, tie_breaker: verdict } => SDecision::NotEnoughVotes {
            total_votes: *total_votes,
            quorum: *quorum,
            tie_breaker: match (atb, verdict) {
                (Some(mode), Some(verdict)) => Some(tie_breaker(mode, verdict)),
                _ => None,
            },
        },
    }
}

/// auto_tie_breaker's verdict as the status shows it.
pub fn tie_breaker(mode: &AtbNode, verdict: &TieBreaker) -> STieBreaker {
    let (mode, nodes) = match mode {
        AtbNode::Lowest => (AtbMode::Lowest, Vec::new()),
        AtbNode::Highest => (AtbMode::Highest, Vec::new()),
        AtbNode::List(list) => (AtbMode::List, list.iter().map(|n| n.get()).collect()),
    };
    let (verdict, node) = match verdict {
        TieBreaker::NotATie { total_votes, half_expected } => {
            (Verdict::NotATie { total_votes: *total_votes, half_expected: *half_expected }, None)
        }
        TieBreaker::OtherSideMayBeQuorate { left, quorum } => (
            Verdict::OtherSideMayBeQuorate { left: u64::try_from(*left).unwrap_or(0), quorum: *quorum },
            None,
        ),
        TieBreaker::Absent { node } => (Verdict::Absent, *node),
        TieBreaker::EarlierListNodeElsewhere { node } => (Verdict::EarlierListNodeElsewhere, Some(*node)),
        TieBreaker::NotFromQuorateMembership { node } => (Verdict::NotFromQuorateMembership, Some(*node)),
        TieBreaker::Disputed { node } => (Verdict::Disputed, Some(*node)),
        TieBreaker::Granted { node } => (Verdict::Granted, Some(*node)),
    };
    let active = matches!(verdict, Verdict::Granted);
    STieBreaker { mode, nodes, verdict, node: node.map(|n| n.get()), active }
}

/// The status of `node`.
pub(crate) fn status(node: &Node) -> Status {
    let cfg = node.totem.config();
    let votequorum = node.quorum_state().map(|q| {
        let atb = node.vq.as_ref().and_then(|vq| vq.settings().auto_tie_breaker.as_ref());
        VoteStatus {
            votes: q.votes,
            expected_votes: q.expected_votes,
            highest_expected: q.highest_expected,
            total_votes: q.total_votes,
            quorum: q.quorum,
            flags_raw: q.flags.bits(),
            flags: q.flags.names().into_iter().map(str::to_string).collect(),
            wait_for_all_status: q.wait_for_all_status,
            lms_window_running: q.lms_window_running,
            decision: decision(&q.decision, atb),
            nodes: q
                .nodes
                .iter()
                .map(|n| VoteNode {
                    nodeid: n.nodeid.get(),
                    state: state_name(n.state).to_string(),
                    votes: n.votes,
                    expected_votes: n.expected_votes,
                    name: node.names.get(&n.nodeid).cloned().unwrap_or_default(),
                    local: n.nodeid == node.my_id,
                })
                .collect(),
        }
    });
    Status {
        node_id: node.my_id.get(),
        provider: if node.vq.is_some() { "corosync_votequorum" } else { "none" }.to_string(),
        ring_id: node.service.quorum_ring.to_string(),
        ring_rep: node.service.last_sync_ring.rep,
        ring_seq: node.service.last_sync_ring.seq,
        totem_state: format!("{:?}", node.totem.state()).to_lowercase(),
        members: node.service.member_list.raw(),
        quorate: node.service.quorate,
        token_ms: cfg.token.as_millis(),
        consensus_ms: cfg.consensus.as_millis(),
        expected_failure_detection_ms: (cfg.token + cfg.consensus).as_millis(),
        clients: node.sessions.table.len() as u64,
        votequorum,
        nodelist: None,
        links: None,
        counters: Default::default(),
    }
}

/// The status of `node` as the JSON that crosses the IPC.
pub(crate) fn status_json(node: &Node) -> String {
    status(node).to_json()
}

#[cfg(test)]
mod tests {
    use quorumd_proto::NodeId;

    use super::*;

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    fn tb(mode: &AtbNode, verdict: &TieBreaker) -> serde_json::Value {
        serde_json::to_value(tie_breaker(mode, verdict)).unwrap()
    }

    #[test]
    fn tie_breaker_is_a_structured_object_not_debug_text() {
        use serde_json::json;
        assert_eq!(
            tb(&AtbNode::Lowest, &TieBreaker::Absent { node: Some(n(1)) }),
            json!({"mode":"lowest","nodes":[],"verdict":"absent","node":1,"active":false})
        );
        assert_eq!(
            tb(&AtbNode::List(vec![n(3), n(1)]), &TieBreaker::EarlierListNodeElsewhere { node: n(3) }),
            json!({"mode":"list","nodes":[3,1],"verdict":"earlier_list_node_elsewhere","node":3,"active":false})
        );
        assert_eq!(
            tb(&AtbNode::Highest, &TieBreaker::Granted { node: n(4) }),
            json!({"mode":"highest","nodes":[],"verdict":"granted","node":4,"active":true})
        );
        assert_eq!(
            tb(&AtbNode::Lowest, &TieBreaker::NotATie { total_votes: 1, half_expected: 2 }),
            json!({"mode":"lowest","nodes":[],"verdict":"not_a_tie","node":null,"active":false,"total_votes":1,"half_expected":2})
        );
        assert_eq!(
            tb(&AtbNode::Lowest, &TieBreaker::OtherSideMayBeQuorate { left: 3, quorum: 3 }),
            json!({"mode":"lowest","nodes":[],"verdict":"other_side_may_be_quorate","node":null,"active":false,"left":3,"quorum":3})
        );
        for (verdict, name) in [
            (TieBreaker::Absent { node: None }, "absent"),
            (TieBreaker::NotFromQuorateMembership { node: n(2) }, "not_from_quorate_membership"),
            (TieBreaker::Disputed { node: n(2) }, "disputed"),
        ] {
            let v = tb(&AtbNode::Lowest, &verdict);
            assert_eq!(v["verdict"], name, "{v}");
            assert!(!v.to_string().contains("NodeId"), "{v}");
        }
    }
}
