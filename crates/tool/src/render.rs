//! Text output of `status` and `list`, laid out like corosync-quorumtool (SPEC §6.2): labels
//! padded to 18 columns (at least one space after the colon), membership columns right-aligned to 10 characters plus a space.
//!
//! Differences from corosync-quorumtool: no `Date:` line (it made every output differ); one
//! `Failure detection:` line (USER-NEEDS C); a `Blocked by:` line when the node is inquorate
//! (USER-NEEDS B).

use std::fmt::Write;

use crate::explain::blocked_by;
use crate::info::{MemberRow, Status};

fn line(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let text = format!("{:<17} {value}", format!("{label}:"));
    let _ = writeln!(out, "{}", text.trim_end());
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

/// The full `status` text.
pub fn status(s: &Status) -> String {
    let mut out = String::new();
    out.push_str("Quorum information\n------------------\n");
    let provider = if s.provider == "none" { "Not configured" } else { s.provider.as_str() };
    line(&mut out, "Quorum provider", provider);
    line(&mut out, "Nodes", s.members.len());
    line(&mut out, "Node ID", s.node_id);
    line(&mut out, "Ring ID", &s.ring_id);
    line(&mut out, "Quorate", yes_no(s.quorate));
    line(
        &mut out,
        "Failure detection",
        format_args!(
            "about {} ms (token {} + consensus {})",
            s.failure_detection_ms, s.token_ms, s.consensus_ms
        ),
    );
    if let Some(vq) = &s.vq {
        out.push_str("\nVotequorum information\n----------------------\n");
        line(&mut out, "Expected votes", vq.expected_votes);
        line(&mut out, "Highest expected", vq.highest_expected);
        line(&mut out, "Total votes", vq.total_votes);
        let blocked = if s.quorate { "" } else { " Activity blocked" };
        line(&mut out, "Quorum", format_args!("{}{blocked}", vq.quorum));
        line(&mut out, "Flags", vq.flags.join(" "));
        if !s.quorate {
            line(&mut out, "Blocked by", format_args!("{} (see `quorumtool explain`)", blocked_by(vq)));
        }
    }
    out.push_str("\nMembership information\n----------------------\n");
    out.push_str(&table(&s.rows()));
    out
}

/// The membership table (`list`, and the end of `status`).
pub fn table(rows: &[MemberRow]) -> String {
    let mut out = format!("{:>10} {:>10} {}\n", "Nodeid", "Votes", "Name");
    for r in rows {
        let votes = r.votes.map_or_else(|| "-".to_string(), |v| v.to_string());
        let local = if r.local { " (local)" } else { "" };
        let _ = writeln!(out, "{:>10} {:>10} {}{local}", r.nodeid, votes, r.name);
    }
    out
}
