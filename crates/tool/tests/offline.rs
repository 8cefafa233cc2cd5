//! `quorumtool` without a daemon: `what-if` on real configs (golden text; corosync-behaviour §3.7 and §3.14
//! examples), usage errors and help (exit codes), and man page generation.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{code, stderr, stdout, Scratch};

fn write_config(dir: &Scratch, name: &str, n: u32, extra: &[&str]) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, common::config(n, 5405, extra)).unwrap();
    path.to_str().unwrap().to_string()
}

/// The volatile part of what-if output: the config path.
fn unpath(text: &str, path: &str) -> String {
    text.replace(path, "<config>")
}

const DOWN_2_3: &str = "\
What if nodes 2 and 3 go down (crash)?
Cluster: 3 nodes from <config>; simulated with quorumd's own Totem and votequorum code
(assumes all nodes were up and quorate before, and no runtime changes).

Before:
  All nodes: nodes 1, 2 and 3 (n1, n2, n3)
    Votes:      3 of 3 expected
    Quorum:     2
    Quorate:    Yes
    Decided by: votes: 3 >= quorum 2

Down: nodes 2 and 3

After the failure: settled after <ms> ms (token 500 + consensus 200):
  Partition 1: node 1 (n1)
    Votes:      1 of 3 expected
    Quorum:     2
    Quorate:    No (activity blocked)
    Decided by: not enough votes: 1 < quorum 2

Outcome: no partition is quorate: activity is blocked everywhere.
";

const ATB_SPLIT: &str = "\
After the failure: settled after <ms> ms (token 500 + consensus 200):
  Partition 1: nodes 1 and 2 (n1, n2)
    Votes:      2 of 4 expected
    Quorum:     3
    Quorate:    Yes
    Decided by: auto_tie_breaker: a 50:50 split, and the tie-breaker node 1 is on this side
  Partition 2: nodes 3 and 4 (n3, n4)
    Votes:      2 of 4 expected
    Quorum:     3
    Quorate:    No (activity blocked)
    Decided by: not enough votes: 2 < quorum 3; auto_tie_breaker gives the tie to the other side: node 1 is not here

Outcome: nodes 1 and 2 (n1, n2) stay quorate; the other partitions are blocked.
";

/// Masks the simulated settle time (it depends on the simulator's network model).
fn unms(text: &str) -> String {
    text.lines()
        .map(|l| {
            match l.split_once("settled after ").and_then(|(a, b)| b.split_once(" ms").map(|(_, c)| (a, c))) {
                Some((a, c)) => format!("{a}settled after <ms> ms{c}"),
                None => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn spec_3_14_what_if_three_nodes_lose_two() {
    let dir = Scratch::new("whatif3");
    let conf = write_config(&dir, "three.conf", 3, &[]);
    let out = common::tool(&["what-if", "--config", &conf, "--down", "2,3"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(unms(&unpath(&stdout(&out), &conf)), DOWN_2_3);

    let out = common::tool(&["what-if", "--config", &conf, "--split", "1,2", "3", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["outcome"], "one_quorate");
    let parts = &v["phases"][0]["partitions"];
    assert_eq!(parts[0]["members"], serde_json::json!([1, 2]));
    assert_eq!(parts[0]["quorate"], true);
    assert_eq!(parts[1]["members"], serde_json::json!([3]));
    assert_eq!(parts[1]["decision"]["kind"], "not_enough_votes");
}

#[test]
fn spec_3_7_what_if_auto_tie_breaker_gives_a_50_50_split_to_the_lowest_id() {
    let dir = Scratch::new("whatifatb");
    let conf = write_config(&dir, "atb.conf", 4, &["auto_tie_breaker: 1"]);
    let out = common::tool(&["what-if", "--config", &conf, "--split", "1,2", "3,4"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = unms(&stdout(&out));
    let tail = &text[text.find("After the failure").unwrap()..];
    assert_eq!(tail, ATB_SPLIT);

    // The verdicts as structures, alike for what-if and the daemon's status.
    let out = common::tool(&["what-if", "--config", &conf, "--split", "1,2", "3,4", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let parts = &v["phases"][0]["partitions"];
    assert_eq!(
        parts[0]["decision"],
        serde_json::json!({"kind": "quorate_by_tie_breaker", "total_votes": 2, "quorum": 3, "tie_breaker_node": 1,
            "tie_breaker": {"mode": "lowest", "nodes": [], "verdict": "granted", "node": 1, "active": true}})
    );
    assert_eq!(
        parts[1]["decision"]["tie_breaker"],
        serde_json::json!({"mode": "lowest", "nodes": [], "verdict": "absent", "node": 1, "active": false})
    );
}

#[test]
fn spec_3_4_what_if_two_node_split_is_a_split_brain() {
    let dir = Scratch::new("whatif2n");
    let conf = write_config(&dir, "two.conf", 2, &["two_node: 1"]);
    let out = common::tool(&["what-if", "--config", &conf, "--split", "1", "2", "--json"]);
    // A predicted split brain is exit 5, so a script (or ExecStartPre) can act on it.
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["outcome"], "split_brain");
    let text = common::tool(&["what-if", "--config", &conf, "--split", "1", "2"]);
    assert_eq!(code(&text), 5, "{}", stderr(&text));
    assert!(stdout(&text).contains("SPLIT BRAIN"), "{}", stdout(&text));
    assert!(v["phases"][0]["partitions"][0]["policy"].as_str().unwrap().starts_with("two_node"));
}

#[test]
fn what_if_refuses_nodes_outside_the_nodelist_and_missing_configs() {
    let dir = Scratch::new("whatifbad");
    let conf = write_config(&dir, "three.conf", 3, &[]);
    let out = common::tool(&["what-if", "--config", &conf, "--down", "7"]);
    assert_eq!(code(&out), 4);
    assert!(stderr(&out).contains("node 7 is not in the nodelist"), "{}", stderr(&out));
    let out = common::tool(&["what-if", "--config", &conf]);
    assert_eq!(code(&out), 4);
    let absent = dir.0.join("absent.conf");
    let out = common::tool(&["what-if", "--config", absent.to_str().unwrap(), "--down", "1"]);
    assert_eq!(code(&out), 4);
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

#[test]
fn usage_errors_are_exit_4_and_help_documents_the_exit_codes() {
    assert_eq!(code(&common::tool(&["no-such-command"])), 4);
    assert_eq!(code(&common::tool(&["what-if", "--down", "x"])), 4);
    let help = common::tool(&["--help"]);
    assert_eq!(code(&help), 0);
    for line in [
        "0  success",
        "1  status, explain: this node is not quorate",
        "2  quorumd cannot be reached",
        "3  permission denied",
        "4  usage error",
        "5  what-if: the failure leaves more than one partition quorate",
    ] {
        assert!(stdout(&help).contains(line), "{line}");
    }
}

#[test]
fn man_writes_one_page_with_quorumtool_sub_synopses_and_the_admin_sections() {
    let dir = Scratch::new("man");
    let out = common::tool(&["man", dir.0.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pages: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(pages, vec!["quorumtool.1".to_string()], "one page, no internal quorumtool-man(1)");
    let page = std::fs::read_to_string(dir.0.join("quorumtool.1")).unwrap();
    assert!(page.contains(".TH quorumtool 1"), "{page}");
    for sub in [
        "status",
        "list",
        "monitor",
        "explain",
        "what\\-if",
        "set\\-expected",
        "set\\-votes",
        "cancel\\-wait\\-for\\-all",
    ] {
        assert!(page.contains(&format!(".SS \"quorumtool {sub}\"")), "no synopsis for {sub}:\n{page}");
        assert!(page.contains(&format!(".B quorumtool {sub}")), "no usage line for {sub}:\n{page}");
    }
    assert!(!page.contains("quorumtool\\-"), "a synopsis reads quorumtool-<sub>:\n{page}");
    assert!(!page.contains("quorumtool man"), "the internal man command is not documented");
    for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES", ".SH SIGNALS", ".SH \"SEE ALSO\""]
    {
        assert!(page.contains(section), "no {section}");
    }
    for var in ["QUORUMD_SOCKET", "QUORUMD_LOG"] {
        assert!(page.contains(&format!(".B {var}")), "{var} undocumented");
    }
    // Every page referenced is one install.sh installs.
    let refs: Vec<&str> = page
        .match_indices("\\fR(")
        .map(|(i, _)| &page[page[..i].rfind("\\fB").unwrap() + 3..i + 5])
        .collect();
    assert!(!refs.is_empty());
    for r in refs {
        assert!(r == "quorumd\\fR(8" || r == "quorumtool\\fR(1", "reference to a page not installed: {r}");
    }
}
