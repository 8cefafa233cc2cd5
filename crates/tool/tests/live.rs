//! `quorumtool` against real `quorumd` daemons on loopback: status, list, explain, monitor,
//! exit codes (SPEC §6.2, with the exit codes of the crate README), and the wait_for_all
//! explanation that names the missing node (SPEC §3.5, USER-NEEDS B).
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{code, mask, stderr, stdout, Cluster};

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
    Nodeid      Votes Name
         1          1 n1 (local)
         2          1 n2
         3          1 n3
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
    assert_eq!(stdout(&list), "    Nodeid      Votes Name\n         1          1 n1\n         2          1 n2 (local)\n         3          1 n3\n");

    let json: serde_json::Value = serde_json::from_str(&stdout(&c.tool(1, &["list", "--json"]))).unwrap();
    assert_eq!(json[0], serde_json::json!({"nodeid": 1, "votes": 1, "name": "n1", "local": true}));

    let config = c.config_path();
    let explain = c.tool(1, &["explain", "--config", config.to_str().unwrap()]);
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
    let explain = c.tool(1, &["explain", "--config", config.to_str().unwrap()]);
    assert_eq!((code(&explain), stdout(&explain)), (1, EXPLAIN_ALONE.to_string()));

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
    let config = c.config_path();
    let explain = c.tool(1, &["explain", "--config", config.to_str().unwrap()]);
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
