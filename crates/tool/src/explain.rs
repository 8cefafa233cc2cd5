//! `quorumtool explain`: in plain words why a node is or is not quorate, which policy holds it
//! there, and what would change it (corosync-behaviour §8.B, C, H). Also the short "blocked by" phrase of
//! `status` and the policy phrase of `what-if`.
//!
//! Everything here is a pure function of the status, whose `nodelist` (the nodes the daemon
//! was started with, never-seen ones included) names and counts the nodes.

use crate::cluster::ConfNode;
use crate::info::{AtbMode, Decision, NodeState, Status, TieBreaker, Verdict, VoteInfo};

/// The words of an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The node is quorate.
    pub quorate: bool,
    /// One sentence a line; the first is the verdict.
    pub lines: Vec<String>,
}

/// "node 3", "nodes 3 and 4", "nodes 2, 3 and 4".
pub fn nodes_phrase(ids: &[u32]) -> String {
    let words: Vec<String> = ids.iter().map(u32::to_string).collect();
    match words.as_slice() {
        [] => "no node".to_string(),
        [one] => format!("node {one}"),
        [init @ .., last] => format!("nodes {} and {last}", init.join(", ")),
    }
}

fn votes_word(n: u32) -> &'static str {
    if n == 1 {
        "vote"
    } else {
        "votes"
    }
}

/// auto_tie_breaker's verdict in words.
pub fn tie_breaker_words(tb: &TieBreaker) -> String {
    match &tb.verdict {
        Verdict::NotATie { .. } => {
            "auto_tie_breaker does not apply: this is not a 50:50 split of the expected votes".into()
        }
        Verdict::OtherSideMayBeQuorate { .. } => {
            "auto_tie_breaker does not apply: so many nodes left at once that the other side may be quorate"
                .into()
        }
        Verdict::Absent { node: Some(node) } => {
            format!("auto_tie_breaker gives the tie to the other side: node {node} is not here")
        }
        Verdict::Absent { node: None } => match tb.mode {
            AtbMode::List => format!(
                "auto_tie_breaker gives the tie to the other side: no node of auto_tie_breaker_node ({}) is here",
                list(&tb.nodes)
            ),
            AtbMode::Lowest | AtbMode::Highest => {
                "auto_tie_breaker gives no tie: no tie-breaker node is known yet (there was no quorate membership)"
                    .into()
            }
        },
        Verdict::EarlierListNodeElsewhere { node } => {
            format!("auto_tie_breaker gives the tie to the other side: node {node}, earlier in auto_tie_breaker_node, may be there")
        }
        Verdict::NotFromQuorateMembership { node } => {
            format!("auto_tie_breaker gives no verdict: node {node} did not come from the last quorate membership")
        }
        Verdict::Disputed { node } => format!(
            "auto_tie_breaker gives no verdict: node {node} knows a different tie-breaker (from another membership)"
        ),
        Verdict::Granted { node } => format!("auto_tie_breaker grants the tie: node {node} is here"),
    }
}

fn list(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// The short reason a node is blocked (the `Blocked by:` line of `status`).
pub fn blocked_by(vq: &VoteInfo) -> String {
    match &vq.decision {
        Decision::WaitingForAll { total_votes, expected_votes, missing } => format!(
            "wait_for_all: {total_votes} of {expected_votes} expected votes present, waiting for {}",
            nodes_phrase(missing)
        ),
        Decision::NotEnoughVotes { total_votes, quorum, .. } => {
            format!("not enough votes: {total_votes} present, quorum is {quorum}")
        }
        Decision::QuorateByVotes { .. } | Decision::QuorateByTieBreaker { .. } => "nothing".into(),
    }
}

/// The policy that decided, in one phrase (for `what-if`).
pub fn policy(vq: &VoteInfo) -> String {
    match &vq.decision {
        Decision::QuorateByVotes { total_votes, quorum } if *quorum == 1 && vq.has_flag("2Node") => {
            format!("two_node: quorum is 1 with at most 2 nodes ({total_votes} present)")
        }
        Decision::QuorateByVotes { total_votes, quorum } => {
            format!("votes: {total_votes} >= quorum {quorum}")
        }
        Decision::QuorateByTieBreaker { node, .. } => {
            format!("auto_tie_breaker: a 50:50 split, and the tie-breaker node {node} is on this side")
        }
        Decision::WaitingForAll { .. } => blocked_by(vq),
        Decision::NotEnoughVotes { total_votes, quorum, tie_breaker } => {
            let tb = tie_breaker.as_ref().map(|t| format!("; {}", tie_breaker_words(t))).unwrap_or_default();
            format!("not enough votes: {total_votes} < quorum {quorum}{tb}")
        }
    }
}

/// Explains `s`. `on_disk` is a corosync.conf nodelist to compare with the one the daemon runs
/// with (`explain --config FILE`); names, votes and never-seen nodes come from the daemon.
pub fn explain(s: &Status, on_disk: Option<&[ConfNode]>) -> Explanation {
    let mut lines = Vec::new();
    let Some(vq) = &s.vq else {
        lines.push(format!("Node {} is quorate: no quorum provider is configured.", s.node_id));
        lines.push(
            "Without `provider: corosync_votequorum` in the quorum section quorumd always reports \
             quorate, and nothing protects the cluster against split brain."
                .into(),
        );
        lines.extend(absent_line(s));
        lines.extend(on_disk.and_then(|nodes| drift_line(s, nodes)));
        return Explanation { quorate: true, lines };
    };
    lines.push(if s.quorate {
        format!("Node {} is quorate.", s.node_id)
    } else {
        format!("Node {} is NOT quorate: activity is blocked.", s.node_id)
    });
    lines.push(format!(
        "Votes: {} present ({}) of {} expected; quorum is {}.",
        vq.total_votes,
        nodes_phrase(&s.members),
        vq.expected_votes,
        vq.quorum
    ));
    if vq.highest_expected > vq.expected_votes {
        lines.push(format!(
            "Another member expects {} votes, so quorum is computed from {}.",
            vq.highest_expected, vq.highest_expected
        ));
    }
    match &vq.decision {
        Decision::QuorateByVotes { .. } | Decision::QuorateByTieBreaker { .. } => {
            quorate_lines(vq, &mut lines)
        }
        Decision::WaitingForAll { .. } => wait_for_all_lines(s, vq, &mut lines),
        Decision::NotEnoughVotes { .. } => not_enough_lines(s, vq, &mut lines),
    }
    lines.extend(absent_line(s));
    common_lines(s, vq, &mut lines);
    lines.extend(on_disk.and_then(|nodes| drift_line(s, nodes)));
    Explanation { quorate: s.quorate, lines }
}

fn quorate_lines(vq: &VoteInfo, lines: &mut Vec<String>) {
    match &vq.decision {
        Decision::QuorateByVotes { total_votes, quorum } if *quorum == 1 && vq.has_flag("2Node") => {
            lines.push(format!(
                "Held by two_node: with at most 2 nodes 1 vote is enough ({total_votes} present). If the \
                 link between the two nodes breaks, both stay quorate: only fencing keeps that safe."
            ));
        }
        Decision::QuorateByVotes { total_votes, quorum } => {
            lines.push(format!("Held by votes: {total_votes} present >= quorum {quorum}."));
            let spare = total_votes.saturating_sub(*quorum);
            lines.push(if spare == 0 {
                "No margin: losing any voting member blocks this partition.".to_string()
            } else {
                format!("Margin: it stays quorate after losing up to {spare} {}.", votes_word(spare))
            });
        }
        Decision::QuorateByTieBreaker { total_votes, quorum, node, .. } => lines.push(format!(
            "Held by auto_tie_breaker: {total_votes} votes are exactly half of the expected votes (quorum \
             {quorum} is not reached), and this side holds the tie-breaker, node {node}. The other half is blocked."
        )),
        Decision::WaitingForAll { .. } | Decision::NotEnoughVotes { .. } => {}
    }
}

/// Configured nodes that are not members, with their votes (as votequorum last heard them, else
/// as configured).
fn absent(s: &Status) -> Vec<(u32, u32)> {
    s.rows()
        .iter()
        .filter(|r| !s.members.contains(&r.nodeid))
        .map(|r| (r.nodeid, r.votes.unwrap_or(r.configured_votes)))
        .collect()
}

/// "node 3 (n3)", "nodes 2 and 3 (n2, n3)": names from the daemon's nodelist.
fn named(s: &Status, ids: &[u32]) -> String {
    let phrase = nodes_phrase(ids);
    let names: Vec<&str> = ids
        .iter()
        .filter_map(|id| s.configured(*id))
        .map(|n| n.name.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() == ids.len() && !names.is_empty() {
        format!("{phrase} ({})", names.join(", "))
    } else {
        phrase
    }
}

/// Where each configured non-member stands: "Not in the membership: node 3 (n3, 10.0.0.3)
/// never seen since quorumd started; node 2 (n2, 10.0.0.2) down since <time>."
fn absent_line(s: &Status) -> Option<String> {
    let parts: Vec<String> = s
        .rows()
        .iter()
        .filter(|r| !s.members.contains(&r.nodeid))
        .map(|r| {
            let who: Vec<&str> = [Some(r.name.as_str()), r.address.as_deref()]
                .into_iter()
                .flatten()
                .filter(|w| !w.is_empty())
                .collect();
            let who = if who.is_empty() { String::new() } else { format!(" ({})", who.join(", ")) };
            let state = match r.state {
                NodeState::NeverSeen => "never seen since quorumd started".to_string(),
                _ => r.state_text(),
            };
            format!("node {}{who} {state}", r.nodeid)
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Not in the membership: {}.", parts.join("; ")))
}

fn wait_for_all_lines(s: &Status, vq: &VoteInfo, lines: &mut Vec<String>) {
    let Decision::WaitingForAll { total_votes, expected_votes, missing } = &vq.decision else { return };
    let all = s.nodelist.len().max(s.members.len() + missing.len());
    let verb = if missing.len() == 1 { "has" } else { "have" };
    lines.push(format!(
        "Blocked by wait_for_all: waiting for all {all} nodes to be seen together (wait_for_all): {} {verb} \
         not been seen since startup or the last loss of quorum; start {}, or run \
         `quorumtool cancel-wait-for-all` if you are sure the others are down.",
        named(s, missing),
        nodes_phrase(missing),
    ));
    if total_votes < expected_votes {
        let enough = if *total_votes >= vq.quorum { ", which would otherwise be enough" } else { "" };
        lines.push(format!(
            "{total_votes} of {expected_votes} expected votes are present (quorum {}){enough}: after a loss of \
             quorum wait_for_all needs every expected vote at once before it lets a majority go on.",
            vq.quorum
        ));
    }
}

fn not_enough_lines(s: &Status, vq: &VoteInfo, lines: &mut Vec<String>) {
    let Decision::NotEnoughVotes { total_votes, quorum, tie_breaker } = &vq.decision else { return };
    lines.push(format!("Blocked: not enough votes ({total_votes} present, quorum {quorum})."));
    if let Some(tb) = tie_breaker {
        lines.push(format!("{}.", tie_breaker_words(tb)));
    }
    let need = quorum.saturating_sub(*total_votes);
    let candidates = absent(s);
    let singles: Vec<u32> = candidates.iter().filter(|(_, v)| *v >= need).map(|(id, _)| *id).collect();
    let reachable: u32 = candidates.iter().map(|(_, v)| v).sum();
    let what = format!("{need} more {} needed", votes_word(need));
    if !singles.is_empty() {
        let ids: Vec<String> = singles.iter().map(|id| named(s, &[*id])).collect();
        lines.push(format!("{what}: start {}.", ids.join(" or ")));
    } else if reachable >= need && need > 0 {
        let ids: Vec<u32> = candidates.iter().map(|(id, _)| *id).collect();
        lines.push(format!(
            "{what}: start enough of {} to add {need} {}.",
            nodes_phrase(&ids),
            votes_word(need)
        ));
    } else {
        lines.push(format!(
            "{what}, but the nodes not present hold only {reachable}: expected votes ({}) are above what the \
             configured nodes can give; if nodes were removed for good, lower them with `quorumtool set-expected N`.",
            vq.expected_votes
        ));
    }
}

fn common_lines(s: &Status, vq: &VoteInfo, lines: &mut Vec<String>) {
    let total: u32 = s.nodelist.iter().map(|n| n.votes).sum();
    if vq.expected_votes > total {
        lines.push(format!(
            "Expected votes ({}) are above the configured nodes' total ({total}): raised at runtime or by \
             expected_votes_tracking; `quorumtool set-expected {total}` lowers them.",
            vq.expected_votes
        ));
    }
    if vq.lms_window_running {
        let members = u32::try_from(s.members.len()).unwrap_or(u32::MAX);
        lines.push(format!(
            "The last_man_standing window is running: when it ends and this partition is still quorate, \
             expected votes drop to the member count ({members}) and quorum to {}.",
            members / 2 + 1
        ));
    }
    lines.push(format!(
        "A crashed node is noticed after about {} ms (token {} + consensus {}).",
        s.failure_detection_ms, s.token_ms, s.consensus_ms
    ));
}

/// How a corosync.conf nodelist differs from the one the daemon runs with (read only at startup).
fn drift_line(s: &Status, on_disk: &[ConfNode]) -> Option<String> {
    let mut diffs = Vec::new();
    for f in on_disk {
        match s.configured(f.nodeid) {
            None => diffs.push(format!("node {} ({}) is new", f.nodeid, f.name)),
            Some(d) if d.votes != f.votes => diffs.push(format!(
                "node {} has quorum_votes {} there, {} in quorumd",
                f.nodeid, f.votes, d.votes
            )),
            Some(d) if d.name != f.name => {
                diffs.push(format!("node {} is named {} there, {} in quorumd", f.nodeid, f.name, d.name))
            }
            Some(_) => {}
        }
    }
    for d in s.nodelist.iter().filter(|d| !on_disk.iter().any(|f| f.nodeid == d.nodeid)) {
        diffs.push(format!("node {} ({}) is gone", d.nodeid, d.name));
    }
    (!diffs.is_empty()).then(|| {
        format!(
            "The config file differs from the nodelist quorumd runs with: {}. quorumd reads it only at startup: \
             restart quorumd on every node to apply it.",
            diffs.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases() {
        assert_eq!(nodes_phrase(&[3]), "node 3");
        assert_eq!(nodes_phrase(&[3, 4]), "nodes 3 and 4");
        assert_eq!(nodes_phrase(&[2, 3, 4]), "nodes 2, 3 and 4");
    }

    fn tb(mode: AtbMode, nodes: &[u32], verdict: Verdict) -> String {
        tie_breaker_words(&TieBreaker { mode, nodes: nodes.to_vec(), verdict })
    }

    #[test]
    fn every_tie_breaker_verdict_has_words() {
        assert_eq!(
            tb(AtbMode::Lowest, &[], Verdict::Absent { node: Some(1) }),
            "auto_tie_breaker gives the tie to the other side: node 1 is not here"
        );
        assert!(tb(AtbMode::Lowest, &[], Verdict::NotATie { total_votes: 1, half_expected: 2 })
            .contains("not a 50:50"));
        assert!(tb(AtbMode::List, &[4, 2], Verdict::Absent { node: None })
            .contains("auto_tie_breaker_node (4 2)"));
        assert!(tb(AtbMode::Highest, &[], Verdict::Absent { node: None })
            .contains("no tie-breaker node is known"));
        assert!(tb(AtbMode::List, &[4, 2], Verdict::EarlierListNodeElsewhere { node: 4 })
            .contains("node 4, earlier"));
        assert!(tb(AtbMode::Lowest, &[], Verdict::Disputed { node: 3 }).contains("node 3 knows a different"));
        assert!(tb(AtbMode::Lowest, &[], Verdict::NotFromQuorateMembership { node: 3 })
            .contains("node 3 did not"));
        assert!(tb(AtbMode::Lowest, &[], Verdict::OtherSideMayBeQuorate { left: 2, quorum: 2 })
            .contains("other side may be quorate"));
        assert_eq!(
            tb(AtbMode::Lowest, &[], Verdict::Granted { node: 1 }),
            "auto_tie_breaker grants the tie: node 1 is here"
        );
    }
}
