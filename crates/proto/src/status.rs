//! The status of one node: the one type the node produces, the daemon completes (the nodelist
//! it runs with, its counters), `quorumtool status --json` prints and `quorumd demo` shows. It
//! crosses the IPC as JSON (`Response::Status`), serialized at the edge with serde; the key
//! names are stable, tools and scripts read them.
//!
//! Without a quorum provider the votequorum fields (`votes` … `nodes`) are absent. `decision`
//! says why quorate is what it is (`{"kind": "quorate_by_votes" | "quorate_by_tie_breaker" |
//! "waiting_for_all" | "not_enough_votes", ...}`); with auto_tie_breaker on, the last two carry
//! its verdict as a `tie_breaker` object, `null` otherwise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The status of one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// This node.
    pub node_id: u32,
    /// `corosync_votequorum` or `none`.
    pub provider: String,
    /// The ring of the last quorum notification, `rep.seq` in hex.
    pub ring_id: String,
    /// The last sync's ring: its representative.
    pub ring_rep: u32,
    /// The last sync's ring: its seq.
    pub ring_seq: u64,
    /// Totem's state, lower case (`operational`, `gather`, ...).
    pub totem_state: String,
    /// The view list (node ids, ascending).
    pub members: Vec<u32>,
    /// What clients are told.
    pub quorate: bool,
    /// The effective token timeout.
    pub token_ms: u64,
    /// The consensus timeout.
    pub consensus_ms: u64,
    /// About how long a crash takes to notice (token + consensus).
    pub expected_failure_detection_ms: u64,
    /// Connected clients.
    pub clients: u64,
    /// votequorum's part; `None` without a provider.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub votequorum: Option<VoteStatus>,
    /// Every configured node, ascending by id: added by the daemon, which alone knows the
    /// addresses and the wall clock. `None` in the node's own document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodelist: Option<Vec<ConfiguredNode>>,
    /// The links as this node sees them: added by the daemon, which alone knows the addresses
    /// and the wall clock. `None` in the node's own document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<LinksView>,
    /// Counters the daemon keeps (e.g. datagrams dropped, by reason), name → count: the place
    /// for any further counter, so the document's other keys never change for one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
}

/// The link layer of one node (`quorumtool links`, `quorumtool status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinksView {
    /// `totem.link_mode`: `passive`, `active` or `rr`.
    pub mode: String,
    /// This node's links, by link number.
    pub links: Vec<LinkView>,
    /// Every other configured node, ascending by id.
    pub peers: Vec<PeerView>,
    /// The nodes this node's Totem may form a ring with (two-way connectivity to each other).
    pub clique: Vec<u32>,
}

/// One link of this node with its effective settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// The link number.
    pub link: u8,
    /// Always `udp`.
    pub transport: String,
    /// This node's address and port on the link.
    pub address: Option<String>,
    /// `knet_link_priority`.
    pub priority: u8,
    /// `knet_ping_interval`, effective.
    pub ping_interval_ms: u64,
    /// `knet_ping_timeout`, effective.
    pub ping_timeout_ms: u64,
    /// `knet_pong_count`, effective.
    pub pong_count: u32,
}

/// Every link to one other node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerView {
    /// The node.
    pub nodeid: u32,
    /// Some link to it is up.
    pub reachable: bool,
    /// This node counts it as connected both ways (it may be in the ring).
    pub admitted: bool,
    /// One entry per link, by link number.
    pub links: Vec<PeerLinkView>,
}

/// One link to one other node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerLinkView {
    /// The link number.
    pub link: u8,
    /// The node's address and port on the link.
    pub address: Option<String>,
    /// Up: heartbeats are answered.
    pub connected: bool,
    /// The last heartbeat's round trip, in microseconds.
    pub latency_us: Option<u64>,
    /// When `connected` last changed, UTC RFC 3339 with milliseconds (`None`: never).
    pub last_change: Option<String>,
    /// The same instant in Unix milliseconds.
    pub last_change_unix_ms: Option<u64>,
    /// Datagrams sent to the node on this link (heartbeats included).
    pub sent: u64,
    /// Datagrams received from it on this link.
    pub received: u64,
    /// Datagrams from it on this link that were refused (malformed, undecryptable, ...).
    pub dropped: u64,
    /// Times the link came up.
    pub up: u64,
    /// Times the link went down.
    pub down: u64,
}

/// votequorum's part of the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteStatus {
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
    /// The votequorum info flags as a number (`VOTEQUORUM_INFO_*`).
    pub flags_raw: u32,
    /// The flags' names (`2Node`, `Quorate`, `WaitForAll`, ...), as corosync-quorumtool shows them.
    pub flags: Vec<String>,
    /// The wait-for-all status is set (the node waits for every expected vote).
    pub wait_for_all_status: bool,
    /// The last-man-standing window is running.
    pub lms_window_running: bool,
    /// Why quorate is what it is.
    pub decision: Decision,
    /// Every node votequorum knows, dead ones included.
    pub nodes: Vec<VoteNode>,
}

/// One row of votequorum's node table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteNode {
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
    /// It is the node asked.
    pub local: bool,
}

/// Why votequorum says what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
        /// The tie-breaker node, here.
        tie_breaker_node: u32,
        /// The rule and its verdict (`granted`); `None` when unknown.
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

/// auto_tie_breaker's rule (`quorum.auto_tie_breaker_node`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AtbMode {
    /// The lowest node id of the last quorate membership (the default).
    Lowest,
    /// The highest node id of the last quorate membership.
    Highest,
    /// The first present node of a configured list.
    List,
}

/// auto_tie_breaker's verdict on this membership: `{"mode", "nodes" (the list; empty unless
/// mode is list), "verdict", "node" (the node the verdict is about, or null), "active" (the
/// verdict gives this side the tie)}`, plus `total_votes`/`half_expected` for `not_a_tie` and
/// `left`/`quorum` for `other_side_may_be_quorate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieBreaker {
    /// The rule.
    pub mode: AtbMode,
    /// The `auto_tie_breaker_node` list (empty unless `mode` is `list`).
    pub nodes: Vec<u32>,
    /// The verdict, with its numbers.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The node the verdict is about, if any.
    pub node: Option<u32>,
    /// Whether the verdict gives this side the tie (only `granted`).
    pub active: bool,
}

/// What auto_tie_breaker said (votequorum's `TieBreaker`), its name in `verdict`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
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
    /// The tie-breaker node is not here (`node`: it, or null when none is known).
    Absent,
    /// An earlier node of the list was in the previous membership and is not here.
    EarlierListNodeElsewhere,
    /// A member did not come from the last quorate membership: no verdict.
    NotFromQuorateMembership,
    /// A member's history does not grant the tie: no member takes it.
    Disputed,
    /// This side holds the tie-breaker node.
    Granted,
}

/// Where a configured node stands, as the daemon saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// In the current membership (`since`: when it joined).
    Member,
    /// Was a member since quorumd started and is not now (`since`: when it left).
    Down,
    /// Not a member at any time since quorumd started.
    NeverSeen,
}

/// One node of the nodelist the daemon runs with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguredNode {
    /// Node id.
    pub nodeid: u32,
    /// Its votes: votequorum's as last heard (else as configured); `None` without a provider.
    pub votes: Option<u32>,
    /// `quorum_votes` as configured.
    pub configured_votes: u32,
    /// `name`, else the ring0 address text (may be empty).
    pub name: String,
    /// The ring0 address the daemon sends to; `None` when unknown.
    pub address: Option<String>,
    /// Member, down or never seen.
    pub state: NodeState,
    /// When it joined (member) or left (down), UTC RFC 3339 with milliseconds.
    pub since: Option<String>,
    /// The same instant in Unix milliseconds.
    pub since_unix_ms: Option<u64>,
    /// It is the node asked.
    pub local: bool,
}

impl Status {
    /// The document as JSON text (what crosses the IPC).
    pub fn to_json(&self) -> String {
        // Serializing plain structs, strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The document as indented JSON (`quorumtool status --json`, `quorumd demo`).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The document `quorumtool status --json` and `quorumd demo` print: this status, plus
    /// the daemon's per-source `dropped_datagrams` rows when its raw status text `raw` carries
    /// them.
    pub fn printable(&self, raw: &str) -> String {
        let mut doc = serde_json::to_value(self).unwrap_or_default();
        let raw: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
        if let (Some(drops), Some(map)) =
            (raw.get("dropped_datagrams").filter(|d| d.is_array()), doc.as_object_mut())
        {
            map.insert("dropped_datagrams".into(), drops.clone());
        }
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Reads a document; a missing or mistyped field is an error naming it.
    pub fn from_json(text: &str) -> Result<Status, serde_json::Error> {
        let status: Status = serde_json::from_str(text)?;
        if status.provider != "none" && status.votequorum.is_none() {
            // A flattened Option hides the inner error: read the part alone to name the field.
            let _: VoteStatus = serde_json::from_str(text)?;
        }
        Ok(status)
    }
}

/// Unix milliseconds as UTC RFC 3339 with milliseconds: `2026-11-25T16:46:06.123Z`.
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            node_id: 1,
            provider: "corosync_votequorum".into(),
            ring_id: "1.c".into(),
            ring_rep: 1,
            ring_seq: 12,
            totem_state: "operational".into(),
            members: vec![1, 2],
            quorate: false,
            token_ms: 1650,
            consensus_ms: 200,
            expected_failure_detection_ms: 1850,
            clients: 1,
            votequorum: Some(VoteStatus {
                votes: 1,
                expected_votes: 4,
                highest_expected: 4,
                total_votes: 2,
                quorum: 3,
                flags_raw: 16,
                flags: vec!["AutoTieBreaker".into()],
                wait_for_all_status: false,
                lms_window_running: false,
                decision: Decision::NotEnoughVotes {
                    total_votes: 2,
                    quorum: 3,
                    tie_breaker: Some(TieBreaker {
                        mode: AtbMode::List,
                        nodes: vec![3, 1],
                        verdict: Verdict::EarlierListNodeElsewhere,
                        node: Some(3),
                        active: false,
                    }),
                },
                nodes: vec![VoteNode {
                    nodeid: 1,
                    state: "member".into(),
                    votes: 1,
                    expected_votes: 4,
                    name: "n\"1".into(),
                    local: true,
                }],
            }),
            nodelist: Some(vec![ConfiguredNode {
                nodeid: 3,
                votes: Some(2),
                configured_votes: 2,
                name: "n3".into(),
                address: Some("10.0.0.3".into()),
                state: NodeState::NeverSeen,
                since: None,
                since_unix_ms: None,
                local: false,
            }]),
            links: Some(LinksView {
                mode: "passive".into(),
                links: vec![LinkView {
                    link: 1,
                    transport: "udp".into(),
                    address: Some("10.1.0.1:5406".into()),
                    priority: 1,
                    ping_interval_ms: 250,
                    ping_timeout_ms: 500,
                    pong_count: 2,
                }],
                peers: vec![PeerView {
                    nodeid: 3,
                    reachable: true,
                    admitted: false,
                    links: vec![PeerLinkView {
                        link: 1,
                        address: None,
                        connected: true,
                        latency_us: Some(120),
                        last_change: None,
                        last_change_unix_ms: Some(7),
                        sent: 1,
                        received: 2,
                        dropped: 3,
                        up: 4,
                        down: 5,
                    }],
                }],
                clique: vec![1, 3],
            }),
            counters: BTreeMap::new(),
        }
    }

    #[test]
    fn the_keys_are_the_documented_ones_and_a_round_trip_keeps_everything() {
        let s = sample();
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for key in [
            "node_id",
            "provider",
            "ring_id",
            "members",
            "quorate",
            "token_ms",
            "consensus_ms",
            "expected_failure_detection_ms",
            "votes",
            "expected_votes",
            "highest_expected",
            "total_votes",
            "quorum",
            "flags",
            "wait_for_all_status",
            "lms_window_running",
            "decision",
            "nodes",
            "nodelist",
        ] {
            assert!(keys.contains(&key), "{key} missing: {v}");
        }
        assert_eq!(
            v["decision"],
            serde_json::json!({"kind": "not_enough_votes", "total_votes": 2, "quorum": 3,
                "tie_breaker": {"mode": "list", "nodes": [3, 1], "verdict": "earlier_list_node_elsewhere",
                                "node": 3, "active": false}})
        );
        assert_eq!(v["nodelist"][0]["state"], "never_seen");
        assert_eq!(v["nodes"][0]["name"], "n\"1", "strings are escaped");
        assert!(v.get("counters").is_none(), "no counters, no key");
        assert_eq!(Status::from_json(&s.to_json()).unwrap(), s);

        let mut counted = s.clone();
        counted.counters.insert("dropped_datagrams".into(), 7);
        assert_eq!(Status::from_json(&counted.to_json()).unwrap(), counted);

        let mut free = s;
        free.provider = "none".into();
        free.votequorum = None;
        let text = free.to_json();
        assert!(!text.contains("\"quorum\""), "{text}");
        assert_eq!(Status::from_json(&text).unwrap(), free);
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let text = sample().to_json();
        let err = Status::from_json(&text.replace("\"quorate\":false,", "")).unwrap_err();
        assert!(err.to_string().contains("`quorate`"), "{err}");
        let err = Status::from_json(&text.replace("\"highest_expected\":4,", "")).unwrap_err();
        assert!(err.to_string().contains("`highest_expected`"), "{err}");
    }

    #[test]
    fn not_a_tie_carries_its_numbers() {
        let tb = TieBreaker {
            mode: AtbMode::Lowest,
            nodes: vec![],
            verdict: Verdict::NotATie { total_votes: 1, half_expected: 2 },
            node: None,
            active: false,
        };
        assert_eq!(
            serde_json::to_value(&tb).unwrap(),
            serde_json::json!({"mode": "lowest", "nodes": [], "verdict": "not_a_tie", "node": null,
                "active": false, "total_votes": 1, "half_expected": 2})
        );
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(1_795_625_166_123), "2026-11-25T16:46:06.123Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
