//! The status document `quorumtool` renders (a JSON object, written by hand so the core
//! carries no serialisation framework). Field names are stable: tools and scripts read them.
//!
//! `decision` says why quorate is what it is: `{"kind": "quorate_by_votes" |
//! "quorate_by_tie_breaker" | "waiting_for_all" | "not_enough_votes", ...}`. When
//! auto_tie_breaker is on, `quorate_by_tie_breaker` and `not_enough_votes` carry its verdict as
//! a `tie_breaker` object (see [`write_tie_breaker`]); it is `null` otherwise.
//!
//! The daemon appends what only the shell knows: `nodelist`, every configured node with its
//! address, configured votes and when it joined or left (wall clock); see crates/daemon/src/run.rs.

use std::fmt::Write;

use quorumd_votequorum::{AtbNode, Decision, NodeState, TieBreaker};

use crate::Node;

/// A minimal JSON writer: objects, arrays, strings, numbers, booleans.
struct Json(String);

impl Json {
    fn str(&mut self, s: &str) {
        self.0.push('"');
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.0, "\\u{:04x}", c as u32);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }
    fn key(&mut self, k: &str) {
        if !self.0.ends_with('{') && !self.0.ends_with('[') {
            self.0.push(',');
        }
        self.str(k);
        self.0.push(':');
    }
    fn num(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.0, "{v}");
    }
    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.0.push_str(if v { "true" } else { "false" });
    }
    fn text(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }
    fn null(&mut self, k: &str) {
        self.key(k);
        self.0.push_str("null");
    }
    fn ids(&mut self, k: &str, v: &[u32]) {
        self.key(k);
        self.0.push('[');
        let list: Vec<String> = v.iter().map(u32::to_string).collect();
        self.0.push_str(&list.join(","));
        self.0.push(']');
    }
}

fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Member => "member",
        NodeState::Dead => "dead",
        NodeState::Leaving => "leaving",
    }
}

fn decision(j: &mut Json, d: &Decision, atb: Option<&AtbNode>) {
    j.key("decision");
    j.0.push('{');
    match d {
        Decision::QuorateByVotes { total_votes, quorum } => {
            j.text("kind", "quorate_by_votes");
            j.num("total_votes", u64::from(*total_votes));
            j.num("quorum", u64::from(*quorum));
        }
        Decision::QuorateByTieBreaker { total_votes, quorum, node } => {
            j.text("kind", "quorate_by_tie_breaker");
            j.num("total_votes", u64::from(*total_votes));
            j.num("quorum", u64::from(*quorum));
            j.num("tie_breaker_node", u64::from(node.get()));
            match atb {
                Some(mode) => write_tie_breaker(j, mode, &TieBreaker::Granted { node: *node }),
                None => j.null("tie_breaker"),
            }
        }
        Decision::WaitingForAll { total_votes, expected_votes, missing } => {
            j.text("kind", "waiting_for_all");
            j.num("total_votes", u64::from(*total_votes));
            j.num("expected_votes", u64::from(*expected_votes));
            j.ids("missing", &missing.iter().map(|n| n.get()).collect::<Vec<_>>());
        }
        Decision::NotEnoughVotes { total_votes, quorum, tie_breaker } => {
            j.text("kind", "not_enough_votes");
            j.num("total_votes", u64::from(*total_votes));
            j.num("quorum", u64::from(*quorum));
            match (atb, tie_breaker) {
                (Some(mode), Some(verdict)) => write_tie_breaker(j, mode, verdict),
                _ => j.null("tie_breaker"),
            }
        }
    }
    j.0.push('}');
}

/// auto_tie_breaker's verdict as an object:
/// `{"mode": "lowest" | "highest" | "list", "nodes": [the auto_tie_breaker_node list; empty
/// unless mode is list], "verdict": ..., "node": id or null, "active": bool}`, where `verdict`
/// is one of `not_a_tie` (+ `total_votes`, `half_expected`), `other_side_may_be_quorate`
/// (+ `left`, `quorum`), `absent` (`node`: the tie-breaker node that is not here, null when
/// none is known or no list node is here), `earlier_list_node_elsewhere`,
/// `not_from_quorate_membership`, `disputed` (`node`: the node that caused it) and `granted`
/// (`node`: the tie-breaker node, here). `active` is true when the verdict gives this side the
/// tie (only with `granted`).
fn write_tie_breaker(j: &mut Json, mode: &AtbNode, verdict: &TieBreaker) {
    j.key("tie_breaker");
    j.0.push('{');
    let (mode, list) = match mode {
        AtbNode::Lowest => ("lowest", Vec::new()),
        AtbNode::Highest => ("highest", Vec::new()),
        AtbNode::List(list) => ("list", list.iter().map(|n| n.get()).collect()),
    };
    j.text("mode", mode);
    j.ids("nodes", &list);
    let (name, node) = match verdict {
        TieBreaker::NotATie { .. } => ("not_a_tie", None),
        TieBreaker::OtherSideMayBeQuorate { .. } => ("other_side_may_be_quorate", None),
        TieBreaker::Absent { node } => ("absent", *node),
        TieBreaker::EarlierListNodeElsewhere { node } => ("earlier_list_node_elsewhere", Some(*node)),
        TieBreaker::NotFromQuorateMembership { node } => ("not_from_quorate_membership", Some(*node)),
        TieBreaker::Disputed { node } => ("disputed", Some(*node)),
        TieBreaker::Granted { node } => ("granted", Some(*node)),
    };
    j.text("verdict", name);
    match node {
        Some(n) => j.num("node", u64::from(n.get())),
        None => j.null("node"),
    }
    j.bool("active", matches!(verdict, TieBreaker::Granted { .. }));
    match verdict {
        TieBreaker::NotATie { total_votes, half_expected } => {
            j.num("total_votes", u64::from(*total_votes));
            j.num("half_expected", u64::from(*half_expected));
        }
        TieBreaker::OtherSideMayBeQuorate { left, quorum } => {
            j.num("left", u64::try_from(*left).unwrap_or(0));
            j.num("quorum", u64::from(*quorum));
        }
        _ => {}
    }
    j.0.push('}');
}

/// The status of `node` as one JSON object.
pub(crate) fn status_json(node: &Node) -> String {
    let mut j = Json(String::from("{"));
    j.num("node_id", u64::from(node.my_id.get()));
    j.text("provider", if node.vq.is_some() { "corosync_votequorum" } else { "none" });
    j.text("ring_id", &node.service.quorum_ring.to_string());
    j.num("ring_rep", u64::from(node.service.last_sync_ring.rep));
    j.num("ring_seq", node.service.last_sync_ring.seq);
    j.text("totem_state", &format!("{:?}", node.totem.state()).to_lowercase());
    j.ids("members", &node.service.member_list.raw());
    j.bool("quorate", node.service.quorate);
    let cfg = node.totem.config();
    j.num("token_ms", cfg.token.as_millis());
    j.num("consensus_ms", cfg.consensus.as_millis());
    j.num("expected_failure_detection_ms", (cfg.token + cfg.consensus).as_millis());
    j.num("clients", node.sessions.table.len() as u64);
    if let Some(q) = node.quorum_state() {
        j.num("votes", u64::from(q.votes));
        j.num("expected_votes", u64::from(q.expected_votes));
        j.num("highest_expected", u64::from(q.highest_expected));
        j.num("total_votes", u64::from(q.total_votes));
        j.num("quorum", u64::from(q.quorum));
        j.num("flags_raw", u64::from(q.flags.bits()));
        j.text("flags", &q.flags.to_string());
        j.bool("wait_for_all_status", q.wait_for_all_status);
        j.bool("lms_window_running", q.lms_window_running);
        let atb = node.vq.as_ref().and_then(|vq| vq.settings().auto_tie_breaker.as_ref());
        decision(&mut j, &q.decision, atb);
        j.key("nodes");
        j.0.push('[');
        for (i, n) in q.nodes.iter().enumerate() {
            if i > 0 {
                j.0.push(',');
            }
            j.0.push('{');
            j.num("nodeid", u64::from(n.nodeid.get()));
            j.text("state", state_name(n.state));
            j.num("votes", u64::from(n.votes));
            j.num("expected_votes", u64::from(n.expected_votes));
            j.text("name", node.names.get(&n.nodeid).map_or("", String::as_str));
            j.0.push('}');
        }
        j.0.push(']');
    }
    j.0.push('}');
    j.0
}

#[cfg(test)]
mod tests {
    use quorumd_proto::NodeId;

    use super::*;

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    fn tb(mode: &AtbNode, verdict: &TieBreaker) -> String {
        let mut j = Json(String::from("{"));
        write_tie_breaker(&mut j, mode, verdict);
        j.0.push('}');
        j.0
    }

    #[test]
    fn tie_breaker_is_a_structured_object_not_debug_text() {
        assert_eq!(
            tb(&AtbNode::Lowest, &TieBreaker::Absent { node: Some(n(1)) }),
            r#"{"tie_breaker":{"mode":"lowest","nodes":[],"verdict":"absent","node":1,"active":false}}"#
        );
        assert_eq!(
            tb(&AtbNode::List(vec![n(3), n(1)]), &TieBreaker::EarlierListNodeElsewhere { node: n(3) }),
            r#"{"tie_breaker":{"mode":"list","nodes":[3,1],"verdict":"earlier_list_node_elsewhere","node":3,"active":false}}"#
        );
        assert_eq!(
            tb(&AtbNode::Highest, &TieBreaker::Granted { node: n(4) }),
            r#"{"tie_breaker":{"mode":"highest","nodes":[],"verdict":"granted","node":4,"active":true}}"#
        );
        assert_eq!(
            tb(&AtbNode::Lowest, &TieBreaker::NotATie { total_votes: 1, half_expected: 2 }),
            r#"{"tie_breaker":{"mode":"lowest","nodes":[],"verdict":"not_a_tie","node":null,"active":false,"total_votes":1,"half_expected":2}}"#
        );
        assert_eq!(
            tb(&AtbNode::Lowest, &TieBreaker::OtherSideMayBeQuorate { left: 3, quorum: 3 }),
            r#"{"tie_breaker":{"mode":"lowest","nodes":[],"verdict":"other_side_may_be_quorate","node":null,"active":false,"left":3,"quorum":3}}"#
        );
        for (verdict, name) in [
            (TieBreaker::Absent { node: None }, "absent"),
            (TieBreaker::NotFromQuorateMembership { node: n(2) }, "not_from_quorate_membership"),
            (TieBreaker::Disputed { node: n(2) }, "disputed"),
        ] {
            let text = tb(&AtbNode::Lowest, &verdict);
            assert!(text.contains(&format!(r#""verdict":"{name}""#)), "{text}");
            assert!(!text.contains("NodeId"), "{text}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut j = Json(String::from("{"));
        j.text("name", "a\"b\\c\n");
        assert_eq!(j.0, r#"{"name":"a\"b\\c\u000a""#);
    }
}
