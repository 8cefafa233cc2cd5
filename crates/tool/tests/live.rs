//! `quorumtool` against real `quorumd` daemons on loopback: status, list, explain, monitor,
//! exit codes (corosync-behaviour §6.2, with the exit codes of the crate README), the wait_for_all
//! explanation that names the missing node (corosync-behaviour §3.5, corosync-behaviour §8.B), every configured node
//! with its state from the daemon's own nodelist (never seen, down since), and
//! auto_tie_breaker's verdict as a structure (corosync-behaviour §3.7).
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "../../../tests/support/prereq.rs"]
mod prereq;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{code, mask, mask_since, stderr, stdout, Cluster};
use serde_json::json;

fn main() {
    prereq::run(vec![
        prereq::test(
            "spec_6_2_status_list_explain_monitor_and_exit_codes_on_three_nodes",
            spec_6_2_status_list_explain_monitor_and_exit_codes_on_three_nodes,
        ),
        prereq::test(
            "spec_3_5_explain_names_the_node_wait_for_all_waits_for",
            spec_3_5_explain_names_the_node_wait_for_all_waits_for,
        ),
        prereq::test(
            "status_list_and_explain_show_every_node_quorumd_was_started_with",
            status_list_and_explain_show_every_node_quorumd_was_started_with,
        ),
        prereq::test(
            "spec_3_7_auto_tie_breaker_verdict_is_structured_json",
            spec_3_7_auto_tie_breaker_verdict_is_structured_json,
        ),
        prereq::test(
            "no_daemon_is_exit_2_with_a_message_that_says_so",
            no_daemon_is_exit_2_with_a_message_that_says_so,
        ),
        prereq::test(
            "corosync_flags_give_corosync_quorumtools_layout_and_exit_codes",
            corosync_flags_give_corosync_quorumtools_layout_and_exit_codes,
        ),
        prereq::test("set_votes_defaults_to_this_node", set_votes_defaults_to_this_node),
        prereq::test(
            "the_demo_prints_the_status_document_of_status_json",
            the_demo_prints_the_status_document_of_status_json,
        ),
        prereq::needs(
            "spec_6_1_denied_uid_is_exit_3_naming_the_uidgid_entry",
            root_and_setpriv,
            spec_6_1_denied_uid_is_exit_3_naming_the_uidgid_entry,
        ),
    ]);
}

fn root_and_setpriv() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root"),
        (std::path::Path::new("/usr/bin/setpriv").exists(), "/usr/bin/setpriv (util-linux)"),
    ])
}

const STATUS_3: &str = "\
Quorum information
------------------
Quorum provider:  corosync_votequorum
Nodes:            3
Node ID:          1
Ring ID:          <ring>
Quorate:          Yes
Failure detection: about 700 ms (token 500 + consensus 200)

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2
Flags:            Quorate

Membership information
----------------------
    Nodeid      Votes Name       Address   State
         1          1 n1 (local) 127.0.0.1 member since <time>
         2          1 n2         127.0.0.2 member since <time>
         3          1 n3         127.0.0.3 member since <time>
";

const EXPLAIN_3: &str = "\
Node 1 is quorate.
Votes: 3 present (nodes 1, 2 and 3) of 3 expected; quorum is 2.
Held by votes: 3 present >= quorum 2.
Margin: it stays quorate after losing up to 1 vote.
A crashed node is noticed after about 700 ms (token 500 + consensus 200).
";

const EXPLAIN_ALONE: &str = "\
Node 1 is NOT quorate: activity is blocked.
Votes: 1 present (node 1) of 3 expected; quorum is 2.
Blocked: not enough votes (1 present, quorum 2).
1 more vote needed: start node 2 (n2) or node 3 (n3).
Not in the membership: node 2 (n2, 127.0.0.2) down since <time>; node 3 (n3, 127.0.0.3) down since <time>.
A crashed node is noticed after about 700 ms (token 500 + consensus 200).
";

fn spec_6_2_status_list_explain_monitor_and_exit_codes_on_three_nodes() {
    let mut c = Cluster::new("three", 3, &[]);
    for id in 1..=3 {
        c.start(id);
    }
    c.wait_for(1, &[1, 2, 3], true);

    let status = c.tool(1, &["status"]);
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    assert_eq!(mask(&stdout(&status)), STATUS_3);

    let list = c.tool(2, &["list"]);
    assert_eq!(code(&list), 0);
    assert_eq!(
        mask(&stdout(&list)),
        "    Nodeid      Votes Name       Address   State\n\
         \x20        1          1 n1         127.0.0.1 member since <time>\n\
         \x20        2          1 n2 (local) 127.0.0.2 member since <time>\n\
         \x20        3          1 n3         127.0.0.3 member since <time>\n"
    );

    let json: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["list", "--json"]))).unwrap();
    assert_eq!(json[0]["since"].as_str().map(str::len), Some(24), "RFC 3339 with milliseconds: {json}");
    let mut json = json!({"nodelist": json});
    mask_since(&mut json);
    assert_eq!(
        json["nodelist"][0],
        json!({"nodeid": 1, "votes": 1, "configured_votes": 1, "name": "n1", "address": "127.0.0.1",
               "state": "member", "since": "<time>", "local": true})
    );

    // No corosync.conf needed: the names come from the daemon.
    let explain = c.tool(1, &["explain"]);
    assert_eq!((code(&explain), stdout(&explain)), (0, EXPLAIN_3.to_string()));

    // monitor: the current state, then node 3's crash; then node 2's leaves node 1 alone.
    let mut monitor = Command::new(env!("CARGO_BIN_EXE_quorumtool"))
        .arg("--socket")
        .arg(c.socket(1))
        .args(["monitor", "--count", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(monitor.stdout.take().unwrap());
    let mut seen = String::new();
    lines.read_line(&mut seen).unwrap(); // the snapshot is printed: now break things
    c.kill(3);
    c.wait_for(1, &[1, 2], true);
    c.kill(2);
    c.wait_for(1, &[1], false);
    lines.read_to_string(&mut seen).unwrap();
    assert_eq!(code(&monitor.wait_with_output().unwrap()), 0);
    assert_eq!(
        mask(&seen),
        "<time>  ring <ring>  quorate    members 1,2,3  joined -  left -  (current)\n\
         <time>  ring <ring>  quorate    members 1,2  joined -  left 3\n\
         <time>  ring <ring>  inquorate  members 1  joined -  left 2\n"
    );

    let lone = c.tool(1, &["status"]);
    assert_eq!(code(&lone), 1, "a lone node of 3 is inquorate");
    assert!(stdout(&lone).contains("Quorum:           2 Activity blocked\n"), "{}", stdout(&lone));
    assert!(stdout(&lone).contains("Blocked by:       not enough votes: 1 present, quorum is 2"));
    let explain = c.tool(1, &["explain"]);
    assert_eq!((code(&explain), mask(&stdout(&explain))), (1, EXPLAIN_ALONE.to_string()));

    // status --json: the stable schema.
    let json: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["status", "--json"]))).unwrap();
    assert_eq!(
        json["decision"],
        serde_json::json!({"kind": "not_enough_votes", "total_votes": 1, "quorum": 2, "tie_breaker": null})
    );
    assert_eq!(json["flags"], serde_json::json!([]));
    assert_eq!(json["expected_failure_detection_ms"], 700);

    // A change the daemon refuses, then one it accepts (corosync-behaviour §3.11: lone node, -e 1).
    let refused = c.tool(1, &["set-votes", "9", "1"]);
    assert_eq!(code(&refused), 4, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("no such node"));
    assert_eq!(code(&c.tool(1, &["set-expected", "1"])), 0);
    c.wait_for(1, &[1], true);
    assert_eq!(code(&c.tool(1, &["status"])), 0);
}

fn spec_3_5_explain_names_the_node_wait_for_all_waits_for() {
    let mut c = Cluster::new("wfa", 3, &["wait_for_all: 1"]);
    c.start(1);
    c.start(2);
    c.wait_for(1, &[1, 2], false);
    let explain = c.tool(1, &["explain"]);
    assert_eq!(code(&explain), 1);
    let text = stdout(&explain);
    assert!(
        text.contains(
            "waiting for all 3 nodes to be seen together (wait_for_all): node 3 (n3) has not been seen since startup \
             or the last loss of quorum; start node 3, or run `quorumtool cancel-wait-for-all` if you are sure \
             the others are down."
        ),
        "{text}"
    );
    assert!(
        text.contains("2 of 3 expected votes are present (quorum 2), which would otherwise be enough"),
        "{text}"
    );
    let status = stdout(&c.tool(1, &["status"]));
    assert!(status.contains("Flags:            WaitForAll\n"), "{status}");
    assert!(
        status.contains("Blocked by:       wait_for_all: 2 of 3 expected votes present, waiting for node 3")
    );

    let json: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["explain", "--json"]))).unwrap();
    assert_eq!(json["decision"]["kind"], "waiting_for_all");
    assert_eq!(json["decision"]["missing"], serde_json::json!([3]));

    // The supported escape hatch; a second cancel says there was nothing left to cancel.
    let cancel = c.tool(2, &["cancel-wait-for-all"]);
    assert_eq!(code(&cancel), 0, "{}", stderr(&cancel));
    assert!(stdout(&cancel).starts_with("cancel-wait-for-all: cancelled"), "{}", stdout(&cancel));
    c.wait_for(1, &[1, 2], true);
    assert_eq!(code(&c.tool(1, &["explain"])), 0);
    let again = c.tool(2, &["cancel-wait-for-all"]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(
        stdout(&again)
            .starts_with("cancel-wait-for-all: nothing to cancel: this node is not waiting for all nodes"),
        "{}",
        stdout(&again)
    );
    assert!(!stdout(&again).contains("done"), "{}", stdout(&again));
}

/// corosync-quorumtool 3.1.7's `-s` for three quorate nodes (the Date line masked).
const COROSYNC_S_3: &str = "\
Quorum information
------------------
Date:             <date>
Quorum provider:  corosync_votequorum
Nodes:            3
Node ID:          1
Ring ID:          <ring>
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes Name
         1          1 n1 (local)
         2          1 n2
         3          1 n3
";

/// `Date:             Thu Dec  3 08:38:28 2026` → `Date:             <date>`, after checking its shape.
fn mask_date(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("Date:             ") {
            Some(date) => {
                let words: Vec<&str> = date.split_whitespace().collect();
                assert_eq!(words.len(), 5, "ctime-style date: {date}");
                assert_eq!(words[3].len(), 8, "HH:MM:SS: {date}");
                "Date:             <date>".to_string()
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn corosync_flags_give_corosync_quorumtools_layout_and_exit_codes() {
    let mut c = Cluster::new("compat", 3, &[]);
    for id in 1..=3 {
        c.start(id);
    }
    c.wait_for(1, &[1, 2, 3], true);

    let s = c.tool(1, &["-s"]);
    assert_eq!(code(&s), 0, "{}", stderr(&s));
    assert_eq!(mask(&mask_date(&stdout(&s))), COROSYNC_S_3);
    let hex = c.tool(2, &["-l", "-H"]);
    assert_eq!(code(&hex), 0, "{}", stderr(&hex));
    assert_eq!(
        stdout(&hex),
        "\nMembership information\n----------------------\n    Nodeid      Votes Name\n\
         0x00000001          1 n1\n0x00000002          1 n2 (local)\n0x00000003          1 n3\n"
    );
    let ip = c.tool(1, &["-li", "-o", "i"]);
    assert_eq!(
        stdout(&ip),
        "\nMembership information\n----------------------\n    Nodeid      Votes Name\n\
         \x20        1          1 127.0.0.1 (local)\n         2          1 127.0.0.2\n         3          1 127.0.0.3\n"
    );
    let parsable = c.tool(1, &["-p", "-l"]);
    assert_eq!(
        stdout(&parsable),
        "\nMembership information\n----------------------\n    Nodeid      Votes    Qdevice Name\n\
         \x20        1          1         NR n1 (local)\n         2          1         NR n2\n\
         \x20        3          1         NR n3\n"
    );
    let hex_status = stdout(&c.tool(3, &["-s", "-H"]));
    assert!(hex_status.contains("Node ID:          0x00000003\n"), "{hex_status}");

    // -m: the whole block at each change, each followed by an empty line.
    let mut monitor = Command::new(env!("CARGO_BIN_EXE_quorumtool"))
        .arg("--socket")
        .arg(c.socket(1))
        .arg("-m")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(monitor.stdout.take().unwrap());
    let block = |lines: &mut BufReader<std::process::ChildStdout>| {
        let mut text = String::new();
        let mut seen_table = false;
        loop {
            let mut line = String::new();
            assert!(lines.read_line(&mut line).unwrap() > 0, "monitor ended: {text}");
            seen_table |= line.starts_with("    Nodeid");
            let end = seen_table && line == "\n";
            text.push_str(&line);
            if end {
                return text;
            }
        }
    };
    let first = block(&mut lines);
    assert_eq!(mask(&mask_date(&first)), format!("{COROSYNC_S_3}\n"));
    c.kill(3);
    c.wait_for(1, &[1, 2], true);
    let second = block(&mut lines);
    assert!(second.contains("Nodes:            2\n"), "{second}");
    let _ = monitor.kill();
    let _ = monitor.wait();

    // -v without -n is this node, as corosync's; silent on success, as corosync's.
    let votes = c.tool(1, &["-v", "2"]);
    assert_eq!((code(&votes), stdout(&votes)), (0, String::new()), "{}", stderr(&votes));
    let json: serde_json::Value = serde_json::from_str(&stdout(&c.tool(2, &["status", "--json"]))).unwrap();
    let node1 = json["nodes"].as_array().unwrap().iter().find(|n| n["nodeid"] == 1).unwrap().clone();
    assert_eq!(node1["votes"], 2, "{json}");
    assert_eq!(code(&c.tool(1, &["-v", "1", "-n", "1"])), 0);
    let unknown = c.tool(1, &["-v", "3", "-n", "9"]);
    assert_eq!(code(&unknown), 1);
    assert!(stderr(&unknown).starts_with("Unable to set votes 3 for nodeid: 9: "), "{}", stderr(&unknown));
    let bad = c.tool(1, &["-e", "0"]);
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("New expected votes value was not valid, try a positive number"));
    let bad = c.tool(1, &["-o", "x"]);
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("Invalid ordering option"));

    // Not quorate: corosync-quorumtool's exit 2, "Activity blocked".
    c.kill(2);
    c.wait_for(1, &[1], false);
    let lone = c.tool(1, &["-s"]);
    assert_eq!(code(&lone), 2);
    assert!(stdout(&lone).contains("Quorum:           2 Activity blocked\n"), "{}", stdout(&lone));
    assert!(stdout(&lone).contains("Flags:            \n"), "{}", stdout(&lone));
    // -e as corosync's: silent, and it makes the lone node quorate.
    let e = c.tool(1, &["-e", "1"]);
    assert_eq!((code(&e), stdout(&e)), (0, String::new()), "{}", stderr(&e));
    c.wait_for(1, &[1], true);
}

fn set_votes_defaults_to_this_node() {
    let mut c = Cluster::new("setvotes", 2, &[]);
    c.start(1);
    c.start(2);
    c.wait_for(1, &[1, 2], true);
    let out = c.tool(2, &["set-votes", "3"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "set-votes: node 2 now has 3 votes\n");
    let out = c.tool(2, &["set-votes", "--node", "1", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["status", "--json"]))).unwrap();
    let votes: Vec<(u64, u64)> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["nodeid"].as_u64().unwrap(), n["votes"].as_u64().unwrap()))
        .collect();
    assert_eq!(votes, vec![(1, 2), (2, 3)]);
    let both = c.tool(2, &["set-votes", "--node", "1", "1", "2"]);
    assert_eq!(code(&both), 4);
}

const STATUS_NEVER_SEEN: &str = "\
Quorum information
------------------
Quorum provider:  corosync_votequorum
Nodes:            2
Node ID:          1
Ring ID:          <ring>
Quorate:          Yes
Failure detection: about 700 ms (token 500 + consensus 200)

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      2
Quorum:           2
Flags:            Quorate

Membership information
----------------------
    Nodeid      Votes Name       Address   State
         1          1 n1 (local) 127.0.0.1 member since <time>
         2          1 n2         127.0.0.2 member since <time>
         3          1 n3         127.0.0.3 never seen
";

const EXPLAIN_NEVER_SEEN: &str = "\
Node 1 is quorate.
Votes: 2 present (nodes 1 and 2) of 3 expected; quorum is 2.
Held by votes: 2 present >= quorum 2.
No margin: losing any voting member blocks this partition.
Not in the membership: node 3 (n3, 127.0.0.3) never seen since quorumd started.
A crashed node is noticed after about 700 ms (token 500 + consensus 200).
";

/// Every configured node comes from the daemon, never-seen ones included, even after
/// corosync.conf on disk was edited; `explain --config` points out the difference.
fn status_list_and_explain_show_every_node_quorumd_was_started_with() {
    let mut c = Cluster::new("neverseen", 3, &[]);
    c.start(1);
    c.start(2);
    c.wait_for(1, &[1, 2], true);
    // Someone edits corosync.conf after start: node 3 replaced by node 4, renamed.
    let edited = std::fs::read_to_string(c.config_path())
        .unwrap()
        .replace("nodeid: 3", "nodeid: 4")
        .replace("n3", "n4");
    std::fs::write(c.config_path(), edited).unwrap();

    let status = c.tool(1, &["status"]);
    assert_eq!((code(&status), mask(&stdout(&status))), (0, STATUS_NEVER_SEEN.to_string()));
    let explain = c.tool(1, &["explain"]);
    assert_eq!((code(&explain), mask(&stdout(&explain))), (0, EXPLAIN_NEVER_SEEN.to_string()));

    let mut v: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["status", "--json"]))).unwrap();
    mask_since(&mut v);
    assert_eq!(
        v["nodelist"],
        json!([
            {"nodeid": 1, "votes": 1, "configured_votes": 1, "name": "n1", "address": "127.0.0.1",
             "state": "member", "since": "<time>", "since_unix_ms": "<ms>", "local": true},
            {"nodeid": 2, "votes": 1, "configured_votes": 1, "name": "n2", "address": "127.0.0.2",
             "state": "member", "since": "<time>", "since_unix_ms": "<ms>", "local": false},
            {"nodeid": 3, "votes": 1, "configured_votes": 1, "name": "n3", "address": "127.0.0.3",
             "state": "never_seen", "since": null, "since_unix_ms": null, "local": false},
        ])
    );
    // The votequorum table still lists only the nodes it has heard from.
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(2));

    let mut v: serde_json::Value = serde_json::from_str(&stdout(&c.tool(2, &["explain", "--json"]))).unwrap();
    mask_since(&mut v);
    assert_eq!(v["nodelist"][2]["state"], "never_seen");
    assert_eq!(v["nodelist"][1]["local"], true);

    let config = c.config_path();
    let explain = c.tool(1, &["explain", "--config", config.to_str().unwrap()]);
    assert_eq!(code(&explain), 0);
    assert_eq!(
        stdout(&explain).lines().last(),
        Some(
            "The config file differs from the nodelist quorumd runs with: node 4 (n4) is new; node 3 (n3) is \
             gone. quorumd reads it only at startup: restart quorumd on every node to apply it."
        )
    );

    // Node 2 goes down: "down since", with its last votes; the list shows it too.
    c.kill(2);
    c.wait_for(1, &[1], false);
    let list = c.tool(1, &["list"]);
    assert_eq!(
        mask(&stdout(&list)),
        "    Nodeid      Votes Name       Address   State\n\
         \x20        1          1 n1 (local) 127.0.0.1 member since <time>\n\
         \x20        2          1 n2         127.0.0.2 down since <time>\n\
         \x20        3          1 n3         127.0.0.3 never seen\n"
    );
    let explain = mask(&stdout(&c.tool(1, &["explain"])));
    assert!(
        explain.contains(
            "Not in the membership: node 2 (n2, 127.0.0.2) down since <time>; node 3 (n3, 127.0.0.3) never \
             seen since quorumd started.\n"
        ),
        "{explain}"
    );
    assert!(explain.contains("1 more vote needed: start node 2 (n2) or node 3 (n3).\n"), "{explain}");
}

const EXPLAIN_ATB_ABSENT: &str = "\
Node 3 is NOT quorate: activity is blocked.
Votes: 2 present (nodes 3 and 4) of 4 expected; quorum is 3.
Blocked: not enough votes (2 present, quorum 3).
auto_tie_breaker gives the tie to the other side: node 2 is not here.
1 more vote needed: start node 1 (n1) or node 2 (n2).
Not in the membership: node 1 (n1, 127.0.0.1) down since <time>; node 2 (n2, 127.0.0.2) down since <time>.
A crashed node is noticed after about 700 ms (token 500 + consensus 200).
";

const EXPLAIN_ATB_GRANTED: &str = "\
Node 1 is quorate.
Votes: 2 present (nodes 1 and 3) of 4 expected; quorum is 3.
Held by auto_tie_breaker: 2 votes are exactly half of the expected votes (quorum 3 is not reached), and this side holds the tie-breaker, node 1. The other half is blocked.
Not in the membership: node 2 (n2, 127.0.0.2) never seen since quorumd started; node 4 (n4, 127.0.0.4) down since <time>.
A crashed node is noticed after about 700 ms (token 500 + consensus 200).
";

/// corosync-behaviour §3.7 on real daemons: the tie-breaker (lowest id of the last quorate membership) is
/// reported as a structure, absent on the losing half and granted on the winning one.
fn spec_3_7_auto_tie_breaker_verdict_is_structured_json() {
    let mut c = Cluster::new("atb", 4, &["auto_tie_breaker: 1"]);
    for id in 1..=4 {
        c.start(id);
    }
    c.wait_for(3, &[1, 2, 3, 4], true);
    // 2, 3, 4 stay quorate by votes (the tie-breaker becomes node 2); then 3, 4 is a 50:50
    // split whose tie-breaker is elsewhere.
    c.kill(1);
    c.wait_for(3, &[2, 3, 4], true);
    c.kill(2);
    c.wait_for(3, &[3, 4], false);
    let v: serde_json::Value = serde_json::from_str(&stdout(&c.tool(3, &["status", "--json"]))).unwrap();
    assert_eq!(
        v["decision"],
        json!({"kind": "not_enough_votes", "total_votes": 2, "quorum": 3,
               "tie_breaker": {"mode": "lowest", "nodes": [], "verdict": "absent", "node": 2, "active": false}})
    );
    assert_eq!(v["flags"], json!(["AutoTieBreaker"]));
    let explain = c.tool(3, &["explain"]);
    assert_eq!((code(&explain), mask(&stdout(&explain))), (1, EXPLAIN_ATB_ABSENT.to_string()));

    // Node 1 comes back: 1, 3, 4 are quorate by votes (tie-breaker node 1); without 4 the tie
    // is theirs.
    c.start(1);
    c.wait_for(1, &[1, 3, 4], true);
    c.kill(4);
    c.wait_for(1, &[1, 3], true);
    let v: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["explain", "--json"]))).unwrap();
    assert_eq!(
        v["decision"],
        json!({"kind": "quorate_by_tie_breaker", "total_votes": 2, "quorum": 3, "tie_breaker_node": 1,
               "tie_breaker": {"mode": "lowest", "nodes": [], "verdict": "granted", "node": 1, "active": true}})
    );
    let explain = c.tool(1, &["explain"]);
    assert_eq!((code(&explain), mask(&stdout(&explain))), (0, EXPLAIN_ATB_GRANTED.to_string()));
}

fn no_daemon_is_exit_2_with_a_message_that_says_so() {
    let dir = common::Scratch::new("nodaemon");
    let missing = dir.0.join("absent.sock");
    let out = common::tool(&["--socket", missing.to_str().unwrap(), "status"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("quorumd is not running: there is no socket at"), "{}", stderr(&out));

    // A socket file nobody listens on (a daemon that died).
    let stale = dir.0.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for cmd in ["status", "explain", "list", "monitor", "cancel-wait-for-all"] {
        let out = common::tool(&["--socket", stale.to_str().unwrap(), cmd]);
        assert_eq!(code(&out), 2, "{cmd}: {}", stderr(&out));
        assert!(stderr(&out).contains("nothing accepts connections"), "{cmd}: {}", stderr(&out));
    }
}

/// corosync-behaviour §8.F: a refused uid gets its own exit code and a message naming the fix. Needs
/// root (to run the tool as `nobody` through `setpriv`); reported ignored otherwise.
fn spec_6_1_denied_uid_is_exit_3_naming_the_uidgid_entry() {
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    let mut c = Cluster::new("denied", 1, &[]);
    c.start(1);
    c.wait_for(1, &[1], true);
    let out = Command::new(setpriv)
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", env!("CARGO_BIN_EXE_quorumtool")])
        .arg("--socket")
        .arg(c.socket(1))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("permission denied (add a uidgid entry for uid 65534)"),
        "{}",
        stderr(&out)
    );
}

/// The keys of a JSON object, and of its first `nodelist` and `nodes` rows.
fn key_sets(v: &serde_json::Value) -> Vec<Vec<String>> {
    let keys = |o: &serde_json::Value| {
        let mut k: Vec<String> = o.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        k.sort();
        k
    };
    vec![keys(v), keys(&v["nodelist"][0]), keys(&v["nodes"][0])]
}

/// `quorumd demo` ends with node 1's status in the very document `quorumtool status --json`
/// prints: the same keys, at the top and in the rows.
fn the_demo_prints_the_status_document_of_status_json() {
    let out = Command::new(common::daemon_binary()).arg("demo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "demo failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let marker = "status of node 1 (what `quorumtool status --json` prints):\n";
    let at = text.find(marker).unwrap_or_else(|| panic!("no status document in:\n{text}")) + marker.len();
    let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<serde_json::Value>();
    let demo = stream.next().unwrap().unwrap();

    let mut c = Cluster::new("demokeys", 3, &[]);
    for id in 1..=3 {
        c.start(id);
    }
    c.wait_for(1, &[1, 2, 3], true);
    let tool: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["status", "--json"]))).unwrap();
    assert_eq!(key_sets(&demo), key_sets(&tool), "demo:\n{demo:#}\ntool:\n{tool:#}");
    assert!(key_sets(&tool)[0].contains(&"nodelist".to_string()));
}
