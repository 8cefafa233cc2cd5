//! The daemon's status document ([`quorumd_proto::status::Status`], the one status type the
//! node builds, the daemon completes and `status --json` prints as it is) turned into the views
//! the text renderers, `explain` and `what-if` share. `what-if` builds the same views from the
//! simulator, so both render alike.

use std::time::{Duration as StdDuration, UNIX_EPOCH};

use anyhow::{Context, Result};
use quorumd_proto::status as doc;
use serde_json::{json, Value};

use crate::monitor::timestamp;

/// auto_tie_breaker's rule (`quorum.auto_tie_breaker_node`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtbMode {
    /// The lowest node id of the last quorate membership (the default).
    Lowest,
    /// The highest node id of the last quorate membership.
    Highest,
    /// The first present node of a configured list.
    List,
}

impl AtbMode {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            AtbMode::Lowest => "lowest",
            AtbMode::Highest => "highest",
            AtbMode::List => "list",
        }
    }
}

/// What auto_tie_breaker said about this membership (votequorum's `TieBreaker`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a 50:50 split of the expected votes.
    NotATie {
        /// Votes present.
        total_votes: u32,
        /// Half the expected votes (rounded down).
        half_expected: u32,
    },
    /// So many nodes left at once that the other side may be quorate.
    OtherSideMayBeQuorate {
        /// Nodes that left.
        left: u64,
        /// The quorum.
        quorum: u32,
    },
    /// The tie-breaker node is not here (`None`: none known yet, or no list node here).
    Absent {
        /// That node.
        node: Option<u32>,
    },
    /// An earlier node of the list was in the previous membership and is not here.
    EarlierListNodeElsewhere {
        /// That node.
        node: u32,
    },
    /// A member did not come from the last quorate membership: no verdict.
    NotFromQuorateMembership {
        /// That member.
        node: u32,
    },
    /// A member's history does not grant the tie: no member takes it.
    Disputed {
        /// That member.
        node: u32,
    },
    /// This side holds the tie-breaker node.
    Granted {
        /// The tie-breaker node.
        node: u32,
    },
}

/// The daemon's `tie_breaker` object: the rule and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TieBreaker {
    /// The rule.
    pub mode: AtbMode,
    /// The `auto_tie_breaker_node` list (empty unless `mode` is `List`).
    pub nodes: Vec<u32>,
    /// The verdict.
    pub verdict: Verdict,
}

impl TieBreaker {
    /// Whether the verdict gives this side the tie.
    pub fn active(&self) -> bool {
        matches!(self.verdict, Verdict::Granted { .. })
    }

    /// The node the verdict is about, if any.
    pub fn node(&self) -> Option<u32> {
        match self.verdict {
            Verdict::NotATie { .. } | Verdict::OtherSideMayBeQuorate { .. } => None,
            Verdict::Absent { node } => node,
            Verdict::EarlierListNodeElsewhere { node }
            | Verdict::NotFromQuorateMembership { node }
            | Verdict::Disputed { node }
            | Verdict::Granted { node } => Some(node),
        }
    }

    fn from_doc(t: &doc::TieBreaker) -> TieBreaker {
        let mode = match t.mode {
            doc::AtbMode::Lowest => AtbMode::Lowest,
            doc::AtbMode::Highest => AtbMode::Highest,
            doc::AtbMode::List => AtbMode::List,
        };
        let node = t.node.unwrap_or(0);
        let verdict = match &t.verdict {
            doc::Verdict::NotATie { total_votes, half_expected } => {
                Verdict::NotATie { total_votes: *total_votes, half_expected: *half_expected }
            }
            doc::Verdict::OtherSideMayBeQuorate { left, quorum } => {
                Verdict::OtherSideMayBeQuorate { left: *left, quorum: *quorum }
            }
            doc::Verdict::Absent => Verdict::Absent { node: t.node },
            doc::Verdict::EarlierListNodeElsewhere => Verdict::EarlierListNodeElsewhere { node },
            doc::Verdict::NotFromQuorateMembership => Verdict::NotFromQuorateMembership { node },
            doc::Verdict::Disputed => Verdict::Disputed { node },
            doc::Verdict::Granted => Verdict::Granted { node },
        };
        TieBreaker { mode, nodes: t.nodes.clone(), verdict }
    }

    /// The stable JSON form (the status document's, `quorumd_proto::status::TieBreaker`).
    pub fn to_json(&self) -> Value {
        let verdict = match &self.verdict {
            Verdict::NotATie { .. } => "not_a_tie",
            Verdict::OtherSideMayBeQuorate { .. } => "other_side_may_be_quorate",
            Verdict::Absent { .. } => "absent",
            Verdict::EarlierListNodeElsewhere { .. } => "earlier_list_node_elsewhere",
            Verdict::NotFromQuorateMembership { .. } => "not_from_quorate_membership",
            Verdict::Disputed { .. } => "disputed",
            Verdict::Granted { .. } => "granted",
        };
        let mut out = json!({
            "mode": self.mode.as_str(), "nodes": self.nodes, "verdict": verdict, "node": self.node(),
            "active": self.active(),
        });
        if let Some(map) = out.as_object_mut() {
            match &self.verdict {
                Verdict::NotATie { total_votes, half_expected } => {
                    map.insert("total_votes".into(), json!(total_votes));
                    map.insert("half_expected".into(), json!(half_expected));
                }
                Verdict::OtherSideMayBeQuorate { left, quorum } => {
                    map.insert("left".into(), json!(left));
                    map.insert("quorum".into(), json!(quorum));
                }
                _ => {}
            }
        }
        out
    }

    /// From votequorum's own values (what-if runs votequorum in the simulator).
    pub fn from_vq(mode: &quorumd_votequorum::AtbNode, tb: &quorumd_votequorum::TieBreaker) -> TieBreaker {
        use quorumd_votequorum::{AtbNode, TieBreaker as T};
        let (mode, nodes) = match mode {
            AtbNode::Lowest => (AtbMode::Lowest, Vec::new()),
            AtbNode::Highest => (AtbMode::Highest, Vec::new()),
            AtbNode::List(list) => (AtbMode::List, list.iter().map(|n| n.get()).collect()),
        };
        let verdict = match tb {
            T::NotATie { total_votes, half_expected } => {
                Verdict::NotATie { total_votes: *total_votes, half_expected: *half_expected }
            }
            T::OtherSideMayBeQuorate { left, quorum } => {
                Verdict::OtherSideMayBeQuorate { left: u64::try_from(*left).unwrap_or(0), quorum: *quorum }
            }
            T::Absent { node } => Verdict::Absent { node: node.map(|n| n.get()) },
            T::EarlierListNodeElsewhere { node } => Verdict::EarlierListNodeElsewhere { node: node.get() },
            T::NotFromQuorateMembership { node } => Verdict::NotFromQuorateMembership { node: node.get() },
            T::Disputed { node } => Verdict::Disputed { node: node.get() },
            T::Granted { node } => Verdict::Granted { node: node.get() },
        };
        TieBreaker { mode, nodes, verdict }
    }
}

/// Why votequorum says what it says (the daemon's `decision` object).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `total_votes >= quorum`.
    QuorateByVotes {
        /// Votes present.
        total_votes: u32,
        /// The quorum.
        quorum: u32,
    },
    /// auto_tie_breaker gave this half of a 50:50 split the quorum.
    QuorateByTieBreaker {
        /// Votes present.
        total_votes: u32,
        /// The quorum (not reached).
        quorum: u32,
        /// The tie-breaker node, present here.
        node: u32,
        /// The rule and its verdict (`granted`).
        tie_breaker: Option<TieBreaker>,
    },
    /// wait_for_all: every expected vote must be seen at once.
    WaitingForAll {
        /// Votes present.
        total_votes: u32,
        /// Votes that must all be present.
        expected_votes: u32,
        /// Nodes not present.
        missing: Vec<u32>,
    },
    /// Not enough votes.
    NotEnoughVotes {
        /// Votes present.
        total_votes: u32,
        /// The quorum needed.
        quorum: u32,
        /// auto_tie_breaker's rule and verdict, when it is on.
        tie_breaker: Option<TieBreaker>,
    },
}

/// One row of votequorum's node table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    /// Node id.
    pub nodeid: u32,
    /// `member`, `dead` or `leaving`.
    pub state: String,
    /// Its votes.
    pub votes: u32,
    /// Its expected votes.
    pub expected_votes: u32,
    /// Its nodelist name (may be empty).
    pub name: String,
}

/// votequorum's part of the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteInfo {
    /// This node's votes.
    pub votes: u32,
    /// This node's expected votes.
    pub expected_votes: u32,
    /// Highest expected votes over the members.
    pub highest_expected: u32,
    /// Votes present.
    pub total_votes: u32,
    /// The quorum.
    pub quorum: u32,
    /// Flag names (`2Node`, `Quorate`, `WaitForAll`, ...).
    pub flags: Vec<String>,
    /// The wait-for-all status is set.
    pub wait_for_all_status: bool,
    /// The last-man-standing window is running.
    pub lms_window_running: bool,
    /// Why quorate is what it is.
    pub decision: Decision,
    /// Every known node, dead ones included.
    pub nodes: Vec<NodeRow>,
}

impl VoteInfo {
    /// Whether a flag is set.
    pub fn has_flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    /// The table row of a node.
    pub fn node(&self, id: u32) -> Option<&NodeRow> {
        self.nodes.iter().find(|n| n.nodeid == id)
    }
}

/// Where a configured node stands, as the daemon saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// In the current membership (`since`: when it joined).
    Member,
    /// Was a member since quorumd started and is not now (`since`: when it left).
    Down,
    /// Not a member at any time since quorumd started.
    NeverSeen,
}

impl NodeState {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Member => "member",
            NodeState::Down => "down",
            NodeState::NeverSeen => "never_seen",
        }
    }
}

/// One node of the nodelist the daemon runs with (its `nodelist` field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredNode {
    /// Node id.
    pub nodeid: u32,
    /// `name`, else the ring0 address text (may be empty).
    pub name: String,
    /// The ring0 IP address the daemon sends to (`None` when the daemon did not say).
    pub address: Option<String>,
    /// `quorum_votes` as configured (1 by default).
    pub votes: u32,
    /// Member, down or never seen.
    pub state: NodeState,
    /// When it joined (member) or left (down), Unix milliseconds; `None` when never seen.
    pub since_unix_ms: Option<u64>,
}

/// The whole status of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This node.
    pub node_id: u32,
    /// `corosync_votequorum` or `none`.
    pub provider: String,
    /// `rep.seq`, both hex.
    pub ring_id: String,
    /// The view list.
    pub members: Vec<u32>,
    /// Quorate.
    pub quorate: bool,
    /// Effective token timeout.
    pub token_ms: u64,
    /// Consensus timeout.
    pub consensus_ms: u64,
    /// About how long a failure takes to notice.
    pub failure_detection_ms: u64,
    /// votequorum's numbers; `None` without a provider.
    pub vq: Option<VoteInfo>,
    /// Every configured node, ascending by id. From the daemon's `nodelist`; when the daemon
    /// left it out (a document too large for one IPC frame), the nodes it knows of.
    pub nodelist: Vec<ConfiguredNode>,
    /// The daemon's document, its nodelist filled in as above: what `status --json` prints.
    pub doc: doc::Status,
}

fn configured_node(n: &doc::ConfiguredNode) -> ConfiguredNode {
    ConfiguredNode {
        nodeid: n.nodeid,
        name: n.name.clone(),
        address: n.address.clone(),
        votes: n.configured_votes,
        state: match n.state {
            doc::NodeState::Member => NodeState::Member,
            doc::NodeState::Down => NodeState::Down,
            doc::NodeState::NeverSeen => NodeState::NeverSeen,
        },
        since_unix_ms: n.since_unix_ms,
    }
}

fn vote_info(v: &doc::VoteStatus) -> VoteInfo {
    VoteInfo {
        votes: v.votes,
        expected_votes: v.expected_votes,
        highest_expected: v.highest_expected,
        total_votes: v.total_votes,
        quorum: v.quorum,
        flags: v.flags.clone(),
        wait_for_all_status: v.wait_for_all_status,
        lms_window_running: v.lms_window_running,
        decision: Decision::from_doc(&v.decision),
        nodes: v
            .nodes
            .iter()
            .map(|n| NodeRow {
                nodeid: n.nodeid,
                state: n.state.clone(),
                votes: n.votes,
                expected_votes: n.expected_votes,
                name: n.name.clone(),
            })
            .collect(),
    }
}

/// Without the daemon's `nodelist`: the members and votequorum's known nodes (never-seen
/// nodes cannot be told; addresses and times are unknown).
fn known_nodes(members: &[u32], vq: Option<&VoteInfo>) -> Vec<ConfiguredNode> {
    let mut ids: Vec<u32> = members.to_vec();
    ids.extend(vq.iter().flat_map(|vq| vq.nodes.iter().map(|n| n.nodeid)));
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let row = vq.and_then(|vq| vq.node(id));
            ConfiguredNode {
                nodeid: id,
                name: row.map(|r| r.name.clone()).unwrap_or_default(),
                address: None,
                votes: row.map_or(1, |r| r.votes),
                state: if members.contains(&id) { NodeState::Member } else { NodeState::Down },
                since_unix_ms: None,
            }
        })
        .collect()
}

impl Status {
    /// Reads the daemon's status document.
    pub fn parse(json: &str) -> Result<Status> {
        let mut d = doc::Status::from_json(json).context("unexpected status document from quorumd")?;
        let vq = d.votequorum.as_ref().map(vote_info);
        let mut nodelist = match &d.nodelist {
            Some(list) => list.iter().map(configured_node).collect(),
            None => known_nodes(&d.members, vq.as_ref()),
        };
        nodelist.sort_by_key(|n| n.nodeid);
        let mut s = Status {
            node_id: d.node_id,
            provider: d.provider.clone(),
            ring_id: d.ring_id.clone(),
            members: d.members.clone(),
            quorate: d.quorate,
            token_ms: d.token_ms,
            consensus_ms: d.consensus_ms,
            failure_detection_ms: d.expected_failure_detection_ms,
            vq,
            nodelist,
            doc: d.clone(),
        };
        d.nodelist = Some(s.rows().iter().map(NodeLine::to_doc).collect());
        s.doc = d;
        Ok(s)
    }

    /// The JSON of `status --json`: the daemon's document as it is (its nodelist filled in
    /// when the daemon left it out), with the daemon's drop counters from its raw text.
    pub fn to_json(&self, raw: &str) -> String {
        self.doc.printable(raw)
    }

    /// Every configured node as JSON (`status`, `list` and `explain` print it).
    pub fn nodelist_json(&self) -> Value {
        Value::Array(self.rows().iter().map(NodeLine::to_json).collect())
    }

    /// The node table: every configured node with its votes, name, address and state, ours
    /// marked local.
    pub fn rows(&self) -> Vec<NodeLine> {
        self.nodelist
            .iter()
            .map(|n| {
                let row = self.vq.as_ref().and_then(|vq| vq.node(n.nodeid));
                // Votes count only with a provider: as votequorum last heard them, else as configured.
                let votes = self.vq.as_ref().map(|_| row.map_or(n.votes, |r| r.votes));
                NodeLine {
                    nodeid: n.nodeid,
                    votes,
                    configured_votes: n.votes,
                    name: n.name.clone(),
                    address: n.address.clone(),
                    state: n.state,
                    since_unix_ms: n.since_unix_ms,
                    local: n.nodeid == self.node_id,
                }
            })
            .collect()
    }

    /// The configured node `id`.
    pub fn configured(&self, id: u32) -> Option<&ConfiguredNode> {
        self.nodelist.iter().find(|n| n.nodeid == id)
    }
}

/// One line of the node table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLine {
    /// Node id.
    pub nodeid: u32,
    /// Its votes: votequorum's (as last heard), else configured; `None` without a provider.
    pub votes: Option<u32>,
    /// `quorum_votes` as configured.
    pub configured_votes: u32,
    /// Its name (may be empty).
    pub name: String,
    /// Its ring0 address, when known.
    pub address: Option<String>,
    /// Member, down or never seen.
    pub state: NodeState,
    /// When it joined (member) or left (down), Unix milliseconds.
    pub since_unix_ms: Option<u64>,
    /// This is the node we asked.
    pub local: bool,
}

impl NodeLine {
    /// `since` as UTC RFC 3339 text.
    pub fn since(&self) -> Option<String> {
        self.since_unix_ms.map(|ms| timestamp(UNIX_EPOCH + StdDuration::from_millis(ms)))
    }

    /// The state in words: `member since <time>`, `down since <time>`, `never seen`.
    pub fn state_text(&self) -> String {
        let since = self.since().map(|t| format!(" since {t}")).unwrap_or_default();
        match self.state {
            NodeState::Member => format!("member{since}"),
            NodeState::Down => format!("down{since}"),
            NodeState::NeverSeen => "never seen".to_string(),
        }
    }

    /// The row as the status document has it.
    pub fn to_doc(&self) -> doc::ConfiguredNode {
        doc::ConfiguredNode {
            nodeid: self.nodeid,
            votes: self.votes,
            configured_votes: self.configured_votes,
            name: self.name.clone(),
            address: self.address.clone(),
            state: match self.state {
                NodeState::Member => doc::NodeState::Member,
                NodeState::Down => doc::NodeState::Down,
                NodeState::NeverSeen => doc::NodeState::NeverSeen,
            },
            since: self.since(),
            since_unix_ms: self.since_unix_ms,
            local: self.local,
        }
    }

    /// The row as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "nodeid": self.nodeid, "votes": self.votes, "configured_votes": self.configured_votes,
            "name": self.name, "address": self.address, "state": self.state.as_str(),
            "since": self.since(), "local": self.local,
        })
    }
}

impl Decision {
    fn from_doc(d: &doc::Decision) -> Decision {
        let tb = |t: &Option<doc::TieBreaker>| t.as_ref().map(TieBreaker::from_doc);
        match d {
            doc::Decision::QuorateByVotes { total_votes, quorum } => {
                Decision::QuorateByVotes { total_votes: *total_votes, quorum: *quorum }
            }
            doc::Decision::QuorateByTieBreaker { total_votes, quorum, tie_breaker_node, tie_breaker } => {
                Decision::QuorateByTieBreaker {
                    total_votes: *total_votes,
                    quorum: *quorum,
                    node: *tie_breaker_node,
                    tie_breaker: tb(tie_breaker),
                }
            }
            doc::Decision::WaitingForAll { total_votes, expected_votes, missing } => {
                Decision::WaitingForAll {
                    total_votes: *total_votes,
                    expected_votes: *expected_votes,
                    missing: missing.clone(),
                }
            }
            doc::Decision::NotEnoughVotes { total_votes, quorum, tie_breaker } => Decision::NotEnoughVotes {
                total_votes: *total_votes,
                quorum: *quorum,
                tie_breaker: tb(tie_breaker),
            },
        }
    }

    /// The stable JSON form (`kind` plus the numbers of that kind).
    pub fn to_json(&self) -> Value {
        match self {
            Decision::QuorateByVotes { total_votes, quorum } => {
                json!({"kind": "quorate_by_votes", "total_votes": total_votes, "quorum": quorum})
            }
            Decision::QuorateByTieBreaker { total_votes, quorum, node, tie_breaker } => json!({
                "kind": "quorate_by_tie_breaker", "total_votes": total_votes, "quorum": quorum,
                "tie_breaker_node": node, "tie_breaker": tie_breaker.as_ref().map(TieBreaker::to_json),
            }),
            Decision::WaitingForAll { total_votes, expected_votes, missing } => json!({
                "kind": "waiting_for_all", "total_votes": total_votes,
                "expected_votes": expected_votes, "missing": missing,
            }),
            Decision::NotEnoughVotes { total_votes, quorum, tie_breaker } => json!({
                "kind": "not_enough_votes", "total_votes": total_votes, "quorum": quorum,
                "tie_breaker": tie_breaker.as_ref().map(TieBreaker::to_json),
            }),
        }
    }
}

impl Decision {
    /// From votequorum's own decision (what-if), `atb` being the auto_tie_breaker rule when on.
    pub fn from_vq(d: &quorumd_votequorum::Decision, atb: Option<&quorumd_votequorum::AtbNode>) -> Decision {
        use quorumd_votequorum::Decision as D;
        let tb =
            |verdict: &quorumd_votequorum::TieBreaker| atb.map(|mode| TieBreaker::from_vq(mode, verdict));
        match d {
            D::QuorateByVotes { total_votes, quorum } => {
                Decision::QuorateByVotes { total_votes: *total_votes, quorum: *quorum }
            }
            D::QuorateByTieBreaker { total_votes, quorum, node } => Decision::QuorateByTieBreaker {
                total_votes: *total_votes,
                quorum: *quorum,
                node: node.get(),
                tie_breaker: tb(&quorumd_votequorum::TieBreaker::Granted { node: *node }),
            },
            D::WaitingForAll { total_votes, expected_votes, missing } => Decision::WaitingForAll {
                total_votes: *total_votes,
                expected_votes: *expected_votes,
                missing: missing.iter().map(|n| n.get()).collect(),
            },
            D::NotEnoughVotes { total_votes, quorum, tie_breaker } => Decision::NotEnoughVotes {
                total_votes: *total_votes,
                quorum: *quorum,
                tie_breaker: tie_breaker.as_ref().and_then(tb),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What crates/node/src/status.rs builds, plus the daemon's `nodelist` (crates/daemon/src/run.rs).
    const SAMPLE: &str = r#"{"node_id":1,"provider":"corosync_votequorum","ring_id":"1.c","ring_rep":1,
        "ring_seq":12,"totem_state":"operational","members":[1,2],"quorate":false,"token_ms":1650,
        "consensus_ms":200,"expected_failure_detection_ms":1850,"clients":1,"votes":1,"expected_votes":3,
        "highest_expected":3,"total_votes":2,"quorum":2,"flags_raw":4,"flags":["WaitForAll"],
        "wait_for_all_status":true,"lms_window_running":false,
        "decision":{"kind":"waiting_for_all","total_votes":2,"expected_votes":3,"missing":[3]},
        "nodes":[{"nodeid":1,"state":"member","votes":1,"expected_votes":3,"name":"n1","local":true},
                 {"nodeid":2,"state":"member","votes":1,"expected_votes":3,"name":"n2","local":false}],
        "nodelist":[{"nodeid":1,"votes":1,"configured_votes":1,"name":"n1","address":"10.0.0.1","state":"member","since":"2026-11-25T16:46:06.123Z","since_unix_ms":1795625166123,"local":true},
                    {"nodeid":2,"votes":1,"configured_votes":1,"name":"n2","address":"10.0.0.2","state":"member","since":"2026-11-25T16:46:06.123Z","since_unix_ms":1795625166123,"local":false},
                    {"nodeid":3,"votes":2,"configured_votes":2,"name":"n3","address":"10.0.0.3","state":"never_seen","since":null,"since_unix_ms":null,"local":false}]}"#;

    #[test]
    fn parses_the_daemon_document_of_crates_node_status_rs() {
        let s = Status::parse(SAMPLE).unwrap();
        let vq = s.vq.as_ref().unwrap();
        assert_eq!(vq.flags, ["WaitForAll"]);
        assert_eq!(
            vq.decision,
            Decision::WaitingForAll { total_votes: 2, expected_votes: 3, missing: vec![3] }
        );
        let rows = s.rows();
        assert_eq!(rows.len(), 3, "every configured node, the never-seen one included");
        assert_eq!(rows[0].state_text(), "member since 2026-11-25T16:46:06.123Z");
        assert!(rows[0].local && !rows[1].local);
        assert_eq!((rows[2].votes, rows[2].state_text()), (Some(2), "never seen".to_string()));
        // status --json prints the document itself, keys and all.
        let out: Value = serde_json::from_str(&s.to_json(SAMPLE)).unwrap();
        let sample: Value = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(out, sample);
    }

    #[test]
    fn without_the_daemons_nodelist_the_known_nodes_are_listed() {
        let cut = SAMPLE.find(",\n        \"nodelist\"").unwrap();
        let s = Status::parse(&format!("{}}}", &SAMPLE[..cut])).unwrap();
        let ids: Vec<u32> = s.nodelist.iter().map(|n| n.nodeid).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(s.nodelist[1].address, None);
        let out: Value = serde_json::from_str(&s.to_json(SAMPLE)).unwrap();
        assert_eq!(out["nodelist"][1]["nodeid"], 2, "the document's nodelist is filled in: {out}");
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let err = Status::parse(&SAMPLE.replace("\"quorate\":false,", "")).unwrap_err();
        assert!(format!("{err:#}").contains("`quorate`"), "{err:#}");
        let err = Status::parse(&SAMPLE.replace("\"state\":\"never_seen\",", "")).unwrap_err();
        assert!(format!("{err:#}").contains("`state`"), "{err:#}");
    }

    #[test]
    fn the_tie_breaker_is_read_as_a_structure_and_written_back_alike() {
        let daemon = json!({"kind": "not_enough_votes", "total_votes": 2, "quorum": 3,
            "tie_breaker": {"mode": "list", "nodes": [3, 1], "verdict": "earlier_list_node_elsewhere",
                            "node": 3, "active": false}});
        let d = Decision::from_doc(&serde_json::from_value(daemon.clone()).unwrap());
        let tb = TieBreaker {
            mode: AtbMode::List,
            nodes: vec![3, 1],
            verdict: Verdict::EarlierListNodeElsewhere { node: 3 },
        };
        assert_eq!(d, Decision::NotEnoughVotes { total_votes: 2, quorum: 3, tie_breaker: Some(tb) });
        assert_eq!(d.to_json(), daemon);
        let not_a_tie = json!({"mode": "lowest", "nodes": [], "verdict": "not_a_tie", "node": null,
            "active": false, "total_votes": 1, "half_expected": 2});
        let read = TieBreaker::from_doc(&serde_json::from_value(not_a_tie.clone()).unwrap());
        assert_eq!(read.to_json(), not_a_tie);
        let bad = json!({"mode": "lowest", "nodes": [], "verdict": "Absent { node: None }", "node": null,
            "active": false});
        assert!(serde_json::from_value::<doc::TieBreaker>(bad).is_err(), "debug text is not a verdict");
    }
}
