//! The daemon's status document (crates/node/src/status.rs) as typed values, and the stable
//! JSON `quorumtool --json` prints from them.
//!
//! The tool owns its output schema: it reads the daemon's fields by name and writes its own,
//! so a change inside the daemon shows up here as a parse error, not as silently different
//! output. `what-if` builds the same values from the simulator, so both render alike.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

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
        /// auto_tie_breaker's verdict, as the daemon words it (Rust debug text).
        tie_breaker: Option<String>,
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

impl NodeRow {
    /// The row as JSON, `local` marking the node asked.
    pub fn to_json(&self, local: bool) -> Value {
        json!({
            "nodeid": self.nodeid, "state": self.state, "votes": self.votes,
            "expected_votes": self.expected_votes, "name": self.name, "local": local,
        })
    }
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
}

fn num(v: &Value, key: &str) -> Result<u64> {
    v.get(key).and_then(Value::as_u64).ok_or_else(|| anyhow!("field `{key}` is missing or not a number"))
}

fn num32(v: &Value, key: &str) -> Result<u32> {
    u32::try_from(num(v, key)?).map_err(|_| anyhow!("field `{key}` is out of range"))
}

fn flag(v: &Value, key: &str) -> Result<bool> {
    v.get(key).and_then(Value::as_bool).ok_or_else(|| anyhow!("field `{key}` is missing or not a boolean"))
}

fn text(v: &Value, key: &str) -> Result<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string).ok_or_else(|| anyhow!("field `{key}` is missing"))
}

fn ids(v: &Value, key: &str) -> Result<Vec<u32>> {
    let list = v.get(key).and_then(Value::as_array).ok_or_else(|| anyhow!("field `{key}` is not a list"))?;
    list.iter()
        .map(|x| {
            x.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| anyhow!("`{key}` holds a non-id"))
        })
        .collect()
}

impl Status {
    /// Parses the daemon's status document.
    pub fn parse(json: &str) -> Result<Status> {
        let v: Value = serde_json::from_str(json).context("the daemon's status is not JSON")?;
        let parsed: Result<Status> = (|| {
            let vq = if v.get("quorum").is_some() { Some(vote_info(&v)?) } else { None };
            Ok(Status {
                node_id: num32(&v, "node_id")?,
                provider: text(&v, "provider")?,
                ring_id: text(&v, "ring_id")?,
                members: ids(&v, "members")?,
                quorate: flag(&v, "quorate")?,
                token_ms: num(&v, "token_ms")?,
                consensus_ms: num(&v, "consensus_ms")?,
                failure_detection_ms: num(&v, "expected_failure_detection_ms")?,
                vq,
            })
        })();
        parsed.context("unexpected status document from quorumd")
    }

    /// The stable JSON of `status --json`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "node_id": self.node_id,
            "provider": self.provider,
            "ring_id": self.ring_id,
            "members": self.members,
            "quorate": self.quorate,
            "token_ms": self.token_ms,
            "consensus_ms": self.consensus_ms,
            "expected_failure_detection_ms": self.failure_detection_ms,
        });
        if let (Some(vq), Some(map)) = (&self.vq, out.as_object_mut()) {
            map.insert("votes".into(), json!(vq.votes));
            map.insert("expected_votes".into(), json!(vq.expected_votes));
            map.insert("highest_expected".into(), json!(vq.highest_expected));
            map.insert("total_votes".into(), json!(vq.total_votes));
            map.insert("quorum".into(), json!(vq.quorum));
            map.insert("flags".into(), json!(vq.flags));
            map.insert("wait_for_all_status".into(), json!(vq.wait_for_all_status));
            map.insert("lms_window_running".into(), json!(vq.lms_window_running));
            map.insert("decision".into(), vq.decision.to_json());
        }
        let nodes: Vec<Value> = match &self.vq {
            Some(vq) => vq.nodes.iter().map(|n| n.to_json(n.nodeid == self.node_id)).collect(),
            None => self.rows().iter().map(MemberRow::to_json).collect(),
        };
        if let Some(map) = out.as_object_mut() {
            map.insert("nodes".into(), Value::Array(nodes));
        }
        out
    }

    /// The membership table: the view list with votes and names, ours marked local.
    pub fn rows(&self) -> Vec<MemberRow> {
        self.members
            .iter()
            .map(|id| {
                let row = self.vq.as_ref().and_then(|vq| vq.node(*id));
                MemberRow {
                    nodeid: *id,
                    votes: row.map(|r| r.votes),
                    name: row.map(|r| r.name.clone()).unwrap_or_default(),
                    local: *id == self.node_id,
                }
            })
            .collect()
    }
}

/// One line of the membership table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    /// Node id.
    pub nodeid: u32,
    /// Its votes (unknown without a provider).
    pub votes: Option<u32>,
    /// Its name (may be empty).
    pub name: String,
    /// This is the node we asked.
    pub local: bool,
}

impl MemberRow {
    /// The row as JSON.
    pub fn to_json(&self) -> Value {
        json!({"nodeid": self.nodeid, "votes": self.votes, "name": self.name, "local": self.local})
    }
}

fn vote_info(v: &Value) -> Result<VoteInfo> {
    let flags = text(v, "flags")?.split_whitespace().map(str::to_string).collect();
    let nodes =
        v.get("nodes").and_then(Value::as_array).ok_or_else(|| anyhow!("field `nodes` is not a list"))?;
    let nodes = nodes
        .iter()
        .map(|n| {
            Ok(NodeRow {
                nodeid: num32(n, "nodeid")?,
                state: text(n, "state")?,
                votes: num32(n, "votes")?,
                expected_votes: num32(n, "expected_votes")?,
                name: text(n, "name")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(VoteInfo {
        votes: num32(v, "votes")?,
        expected_votes: num32(v, "expected_votes")?,
        highest_expected: num32(v, "highest_expected")?,
        total_votes: num32(v, "total_votes")?,
        quorum: num32(v, "quorum")?,
        flags,
        wait_for_all_status: flag(v, "wait_for_all_status")?,
        lms_window_running: flag(v, "lms_window_running")?,
        decision: Decision::parse(v.get("decision").ok_or_else(|| anyhow!("field `decision` is missing"))?)?,
        nodes,
    })
}

impl Decision {
    fn parse(d: &Value) -> Result<Decision> {
        let total_votes = num32(d, "total_votes")?;
        Ok(match text(d, "kind")?.as_str() {
            "quorate_by_votes" => Decision::QuorateByVotes { total_votes, quorum: num32(d, "quorum")? },
            "quorate_by_tie_breaker" => Decision::QuorateByTieBreaker {
                total_votes,
                quorum: num32(d, "quorum")?,
                node: num32(d, "tie_breaker_node")?,
            },
            "waiting_for_all" => Decision::WaitingForAll {
                total_votes,
                expected_votes: num32(d, "expected_votes")?,
                missing: ids(d, "missing")?,
            },
            "not_enough_votes" => Decision::NotEnoughVotes {
                total_votes,
                quorum: num32(d, "quorum")?,
                tie_breaker: d.get("tie_breaker").and_then(Value::as_str).map(str::to_string),
            },
            other => bail!("unknown decision kind `{other}`"),
        })
    }

    /// The stable JSON form (`kind` plus the numbers of that kind).
    pub fn to_json(&self) -> Value {
        match self {
            Decision::QuorateByVotes { total_votes, quorum } => {
                json!({"kind": "quorate_by_votes", "total_votes": total_votes, "quorum": quorum})
            }
            Decision::QuorateByTieBreaker { total_votes, quorum, node } => json!({
                "kind": "quorate_by_tie_breaker", "total_votes": total_votes, "quorum": quorum,
                "tie_breaker_node": node,
            }),
            Decision::WaitingForAll { total_votes, expected_votes, missing } => json!({
                "kind": "waiting_for_all", "total_votes": total_votes,
                "expected_votes": expected_votes, "missing": missing,
            }),
            Decision::NotEnoughVotes { total_votes, quorum, tie_breaker } => json!({
                "kind": "not_enough_votes", "total_votes": total_votes, "quorum": quorum,
                "tie_breaker": tie_breaker,
            }),
        }
    }
}

impl From<&quorumd_votequorum::Decision> for Decision {
    fn from(d: &quorumd_votequorum::Decision) -> Decision {
        use quorumd_votequorum::Decision as D;
        match d {
            D::QuorateByVotes { total_votes, quorum } => {
                Decision::QuorateByVotes { total_votes: *total_votes, quorum: *quorum }
            }
            D::QuorateByTieBreaker { total_votes, quorum, node } => {
                Decision::QuorateByTieBreaker { total_votes: *total_votes, quorum: *quorum, node: node.get() }
            }
            D::WaitingForAll { total_votes, expected_votes, missing } => Decision::WaitingForAll {
                total_votes: *total_votes,
                expected_votes: *expected_votes,
                missing: missing.iter().map(|n| n.get()).collect(),
            },
            // The daemon words the tie-breaker verdict as its debug text; so do we.
            D::NotEnoughVotes { total_votes, quorum, tie_breaker } => Decision::NotEnoughVotes {
                total_votes: *total_votes,
                quorum: *quorum,
                tie_breaker: tie_breaker.as_ref().map(|tb| format!("{tb:?}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"node_id":1,"provider":"corosync_votequorum","ring_id":"1.c","ring_rep":1,
        "ring_seq":12,"totem_state":"operational","members":[1,2],"quorate":false,"token_ms":1650,
        "consensus_ms":200,"expected_failure_detection_ms":1850,"clients":1,"votes":1,"expected_votes":3,
        "highest_expected":3,"total_votes":2,"quorum":2,"flags_raw":4,"flags":"WaitForAll",
        "wait_for_all_status":true,"lms_window_running":false,
        "decision":{"kind":"waiting_for_all","total_votes":2,"expected_votes":3,"missing":[3]},
        "nodes":[{"nodeid":1,"state":"member","votes":1,"expected_votes":3,"name":"n1"},
                 {"nodeid":2,"state":"member","votes":1,"expected_votes":3,"name":"n2"}]}"#;

    #[test]
    fn parses_the_daemon_document_of_crates_node_status_rs() {
        let s = Status::parse(SAMPLE).unwrap();
        let vq = s.vq.as_ref().unwrap();
        assert_eq!(vq.flags, ["WaitForAll"]);
        assert_eq!(
            vq.decision,
            Decision::WaitingForAll { total_votes: 2, expected_votes: 3, missing: vec![3] }
        );
        assert_eq!(s.rows()[0], MemberRow { nodeid: 1, votes: Some(1), name: "n1".into(), local: true });
        let out = s.to_json();
        assert_eq!(out["decision"]["missing"], json!([3]));
        assert_eq!(out["flags"], json!(["WaitForAll"]));
        assert_eq!(out["expected_failure_detection_ms"], json!(1850));
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let err = Status::parse(&SAMPLE.replace("\"quorate\":false,", "")).unwrap_err();
        assert!(format!("{err:#}").contains("`quorate`"), "{err:#}");
    }
}
