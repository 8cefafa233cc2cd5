//! `quorumtool` against real `quorumd` daemons on loopback: status, list, explain, monitor,
//! exit codes (SPEC §6.2, with the exit codes of the crate README), the wait_for_all
//! explanation that names the missing node (SPEC §3.5, USER-NEEDS B), every configured node
//! with its state from the daemon's own nodelist (never seen, down since), and
//! auto_tie_breaker's verdict as a structure (SPEC §3.7).
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{code, mask, mask_since, stderr, stdout, Cluster};
use serde_json::json;

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

#[test]
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

    // A change the daemon refuses, then one it accepts (SPEC §3.11: lone node, -e 1).
    let refused = c.tool(1, &["set-votes", "9", "1"]);
    assert_eq!(code(&refused), 4, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("no such node"));
    assert_eq!(code(&c.tool(1, &["set-expected", "1"])), 0);
    c.wait_for(1, &[1], true);
    assert_eq!(code(&c.tool(1, &["status"])), 0);
}

#[test]
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

    // The supported escape hatch.
    assert_eq!(code(&c.tool(2, &["cancel-wait-for-all"])), 0);
    c.wait_for(1, &[1, 2], true);
    assert_eq!(code(&c.tool(1, &["explain"])), 0);
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
#[test]
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
             "state": "member", "since": "<time>", "local": true},
            {"nodeid": 2, "votes": 1, "configured_votes": 1, "name": "n2", "address": "127.0.0.2",
             "state": "member", "since": "<time>", "local": false},
            {"nodeid": 3, "votes": 1, "configured_votes": 1, "name": "n3", "address": "127.0.0.3",
             "state": "never_seen", "since": null, "local": false},
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

/// SPEC §3.7 on real daemons: the tie-breaker (lowest id of the last quorate membership) is
/// reported as a structure, absent on the losing half and granted on the winning one.
#[test]
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

#[test]
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

/// USER-NEEDS F: a refused uid gets its own exit code and a message naming the fix. Needs
/// root (to run the tool as `nobody` through `setpriv`); skipped otherwise.
#[test]
fn spec_6_1_denied_uid_is_exit_3_naming_the_uidgid_entry() {
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0")));
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    if !root || !setpriv.exists() {
        println!("SKIPPED: needs root and /usr/bin/setpriv");
        return;
    }
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
