//! Debian's unmodified `corosync-quorumtool`, `corosync-cmapctl` and `corosync-cfgtool` against
//! quorumd and against Corosync 3.1.7 in the same run: `bench/tools` forms a three-node cluster
//! of each in network namespaces (bench/cluster: the same addresses, names and token), runs the
//! same commands on both (our libraries first in `LD_LIBRARY_PATH` for quorumd) and writes both
//! transcripts normalised (dates, ring ids). This test asserts they are equal, line for line,
//! apart from the differences listed in docs/deviations.md (the link MTU `corosync-cfgtool -n`
//! prints: knet's discovered data MTU against quorumd's `totem.netmtu`).
//!
//! Needs root, `ip`, Debian's corosync (daemon and tools), `cc`, `stdbuf` and `nsenter`;
//! reports itself ignored with the reason without them (failed under `QUORUMD_REQUIRE_ALL=1`).
//! bench/tools removes its namespaces and processes on exit, pass or fail.
#![allow(clippy::disallowed_methods)] // a test harness: processes, files

use std::path::Path;
use std::process::Command;

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/built.rs"]
mod built;

use built::{build_daemon_and_libraries, profile_dir, repo_root};

fn main() {
    prereq::run(vec![prereq::needs(
        "debian_tools_print_on_quorumd_what_they_print_on_corosync",
        needs,
        debian_tools_print_on_quorumd_what_they_print_on_corosync,
    )]);
}

fn needs() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root (network and mount namespaces)"),
        (prereq::has_command("ip"), "ip (apt-get install iproute2)"),
        (
            ["corosync", "corosync-quorumtool", "corosync-cmapctl", "corosync-cfgtool"]
                .iter()
                .all(|t| prereq::has_command(t) || Path::new(&format!("/usr/sbin/{t}")).exists()),
            "Debian's corosync 3.1.7 and its tools (apt-get install corosync, service kept from starting)",
        ),
        (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
        (
            prereq::has_command("stdbuf") && prereq::has_command("nsenter") && prereq::has_command("unshare"),
            "stdbuf, nsenter and unshare (coreutils, util-linux)",
        ),
    ])
}

/// The documented differences (docs/deviations.md), made equal.
fn deviations_aside(text: &str) -> String {
    text.lines()
        .map(|l| match l.find(" mtu: ") {
            // Deviation from corosync: the link MTU is totem.netmtu, not knet's PMTUd data MTU.
            Some(i) if l.trim_start().starts_with("LINK: ") => format!("{} mtu: MTU", &l[..i]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn debian_tools_print_on_quorumd_what_they_print_on_corosync() {
    build_daemon_and_libraries();
    let out = std::env::temp_dir().join(format!("quorumd-corosync-tools-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new("timeout")
        .args(["-k", "10", "300"])
        .arg(repo_root().join("bench/tools"))
        .arg(&out)
        .env("TOOLS_BUILT", profile_dir())
        .env("TOOLS_SIDE", "0")
        .output()
        .expect("run bench/tools");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let (corosync, quorumd) = (read("corosync.norm"), read("quorumd.norm"));
    let diff = read("diff");
    let log = format!(
        "bench/tools exit {:?}\n--- stderr ---\n{}\n--- diff ---\n{diff}",
        run.status.code(),
        String::from_utf8_lossy(&run.stderr)
    );
    let _ = std::fs::remove_dir_all(&out);
    assert!(run.status.success(), "{log}");
    // Both clusters really answered: what each step must show on Corosync.
    for want in [
        "Quorate:          Yes",
        "         3          1 n3",
        "runtime.members.3.status (str) = joined",
        "Can't get key no.such.key. Error CS_ERR_NOT_EXIST",
        "Failed to set key totem.cluster_name. Error CS_ERR_ACCESS",
        "create> test.one (u32) = 5",
        "delete> test.two (str) = hello",
        "nodeid: 2 reachable",
        "Reloading corosync.conf...\nDone",
        "Killing node 3",
        "Shutting down corosync",
        "         2          1 n2 (local)",
    ] {
        assert!(corosync.contains(want), "Corosync's transcript lacks {want:?}\n{corosync}\n{log}");
    }
    let (c, q) = (deviations_aside(&corosync), deviations_aside(&quorumd));
    let differing: Vec<String> = c
        .lines()
        .zip(q.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("line {}: corosync {a:?}\n         quorumd  {b:?}", i + 1))
        .take(20)
        .collect();
    assert!(
        c == q,
        "quorumd's transcript differs from Corosync's ({} vs {} lines):\n{}\n{log}",
        c.lines().count(),
        q.lines().count(),
        differing.join("\n")
    );
}
