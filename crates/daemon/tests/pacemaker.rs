//! Debian's unmodified Pacemaker 2.1.5 on three quorumd nodes (root only): the short form of
//! `bench/pacemaker` (`--stack quorumd --short`). Each node runs in its own network, mount and
//! UTS namespaces with this build's `quorumd` and our `libquorum.so.5`, `libcmap.so.4`,
//! `libcfg.so.7`, `libvotequorum.so.8`, `libcorosync_common.so.4` and `libcpg.so.4`
//! bind-mounted over Debian's, so pacemakerd and every daemon it spawns load ours. Checked:
//! `crm_mon -1` shows three nodes online in a partition with quorum on every node, `crm_node
//! -l/-q/-n/-p` answer, a `cibadmin` change reaches every node, an `ocf:pacemaker:Dummy`
//! resource starts (its state file exists on exactly one node), and after `kill -9` of every
//! process of that node the resource runs on a survivor, never on two nodes at once.
//!
//! Needs root, `ip` and Debian's `pacemaker`, `pacemaker-cli-utils` (which bring corosync's
//! tools and the resource agents); reported ignored with the reason without them (a failure
//! under `QUORUMD_REQUIRE_ALL=1`). The script removes its namespaces, processes and directory
//! whatever happens; on failure this test prints the Pacemaker and quorumd logs first.
#![allow(clippy::disallowed_methods)] // a test harness: processes, files

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/built.rs"]
mod built;

use built::{build_daemon_and_libraries, profile_dir, repo_root};

fn main() {
    prereq::run(vec![prereq::needs(
        "pacemaker_forms_starts_dummy_and_fails_over_after_a_node_crash",
        runnable,
        pacemaker_forms_starts_dummy_and_fails_over_after_a_node_crash,
    )]);
}

fn runnable() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root"),
        (prereq::has_command("ip"), "ip (apt-get install iproute2)"),
        (prereq::has_command("pacemakerd"), "pacemakerd (apt-get install pacemaker)"),
        (prereq::has_command("crm_mon"), "crm_mon (apt-get install pacemaker-cli-utils)"),
        (prereq::has_command("nsenter"), "nsenter (apt-get install util-linux)"),
    ])
}

/// The value of `key` in the side-by-side table the script prints (`key | value`).
fn table_value<'a>(table: &'a str, key: &str) -> Option<&'a str> {
    table.lines().find_map(|l| {
        let mut cols = l.split('|').map(str::trim);
        (cols.next() == Some(key)).then(|| cols.next()).flatten()
    })
}

fn pacemaker_forms_starts_dummy_and_fails_over_after_a_node_crash() {
    build_daemon_and_libraries();
    let out = Command::new("bash")
        .arg(repo_root().join("bench/pacemaker"))
        .args(["--stack", "quorumd", "--short", "--keep"])
        .env("BC_QUORUMD", profile_dir().join("quorumd"))
        .env("PM_OURLIBS", profile_dir())
        .output()
        .expect("run bench/pacemaker");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // --keep: the logs survive the script so that a failure can show them; removed here.
    let kept = stderr.lines().find_map(|l| l.split("logs kept in ").nth(1)).map(PathBuf::from);
    let logs = kept.as_deref().map(failure_logs).unwrap_or_default();
    if let Some(dir) = &kept {
        let _ = std::fs::remove_dir_all(dir);
    }
    let report = format!("{stdout}\n--- stderr ---\n{stderr}\n--- logs ---\n{logs}");
    assert!(out.status.success(), "bench/pacemaker --short failed:\n{report}");
    for key in ["formation_ms", "cib_propagate_ms", "crash_failover_ms"] {
        let v = table_value(&stdout, key).unwrap_or_default();
        assert!(v.parse::<u64>().is_ok(), "{key} not measured ({v:?}):\n{report}");
    }
    assert!(
        table_value(&stdout, "dummy_started_on").is_some_and(|v| v.starts_with('n')),
        "Dummy did not start:\n{report}"
    );
    assert_eq!(table_value(&stdout, "twice_crash_ms"), Some("0"), "ran on two nodes:\n{report}");
    assert_eq!(table_value(&stdout, "libcpg"), Some("ours"), "our libcpg was not in place:\n{report}");
    // every Pacemaker daemon mapped our files (by inode) for each Corosync library it links
    let on_ours = table_value(&stdout, "daemons_on_our_libs").unwrap_or_default();
    assert!(on_ours.starts_with("7 of 7"), "a daemon runs on Debian's libraries ({on_ours}):\n{report}");
}

/// The last lines of every node's Pacemaker and quorumd logs.
fn failure_logs(dir: &Path) -> String {
    let mut text = String::new();
    for n in 1..=3 {
        for f in ["log/pacemaker/pacemaker.log", "stack.log", "pacemakerd.stderr"] {
            let p = dir.join(format!("quorumd/n{n}/{f}"));
            let body = std::fs::read_to_string(&p).unwrap_or_default();
            let tail: Vec<&str> = body.lines().rev().take(40).collect();
            text.push_str(&format!("== {}\n", p.display()));
            for l in tail.into_iter().rev() {
                text.push_str(l);
                text.push('\n');
            }
        }
    }
    text
}
