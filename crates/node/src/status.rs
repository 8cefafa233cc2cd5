//! The status document `quorumtool` renders (a JSON object, written by hand so the core
//! carries no serialisation framework). Field names are stable: tools and scripts read them.

use std::fmt::Write;

use quorumd_votequorum::{Decision, NodeState, TieBreaker};

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

fn decision(j: &mut Json, d: &Decision) {
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
            if let Some(tb) = tie_breaker {
                j.text("tie_breaker", &tie_breaker_text(tb));
            }
        }
    }
    j.0.push('}');
}

fn tie_breaker_text(tb: &TieBreaker) -> String {
    format!("{tb:?}")
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
        decision(&mut j, &q.decision);
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
