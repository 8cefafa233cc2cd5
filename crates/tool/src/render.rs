//! Text output of `status` and `list`, laid out like corosync-quorumtool (corosync-behaviour §6.2): labels
//! padded to 18 columns (at least one space after the colon), membership columns right-aligned to 10 characters plus a space.
//!
//! Differences from corosync-quorumtool: no `Date:` line (it made every output differ); one
//! `Failure detection:` line (corosync-behaviour §8.C); a `Blocked by:` line when the node is inquorate
//! (corosync-behaviour §8.B); the membership table lists every configured node (as the daemon was started
//! with them), with two more columns: `Address` and `State` (`member since <time>`, `down since
//! <time>`, `never seen`).

use std::fmt::Write;

use crate::explain::blocked_by;
use crate::info::{NodeLine, Status};

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

/// The node table (`list`, and the end of `status`): every configured node. The first three
/// columns are corosync-quorumtool's; Name and Address are padded to their longest value.
pub fn table(rows: &[NodeLine]) -> String {
    let names: Vec<String> =
        rows.iter().map(|r| format!("{}{}", r.name, if r.local { " (local)" } else { "" })).collect();
    let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_deref().unwrap_or("-")).collect();
    let name_w = names.iter().map(String::len).chain([4]).max().unwrap_or(4);
    let addr_w = addresses.iter().map(|a| a.len()).chain([7]).max().unwrap_or(7);
    let mut out =
        format!("{:>10} {:>10} {:<name_w$} {:<addr_w$} State\n", "Nodeid", "Votes", "Name", "Address");
    for ((r, name), address) in rows.iter().zip(&names).zip(&addresses) {
        let votes = r.votes.map_or_else(|| "-".to_string(), |v| v.to_string());
        let _ = writeln!(
            out,
            "{:>10} {:>10} {name:<name_w$} {address:<addr_w$} {}",
            r.nodeid,
            votes,
            r.state_text()
        );
    }
    out
}
