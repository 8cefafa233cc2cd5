//! The C transcripts against Corosync 3.1.7 in the same run: `bench/abi` builds
//! `tests/abi/transcript/<service>.c` once per service (quorum, votequorum, cmap, cfg, cpg)
//! against Debian's headers and libraries, and runs each on node 1 of a three-node Corosync
//! (knet) cluster and of a three-node quorumd cluster (our libraries first in
//! `LD_LIBRARY_PATH`), in bench/cluster's namespaces: the walk of every call with its error
//! paths, a session across the daemon's `kill -9`, and initialize with no daemon. Each
//! program prints one line per call (code and values, with handles, ring ids and pids as
//! placeholders). This test asserts, per service, that quorumd's transcript equals
//! Corosync's line for line, apart from the differences listed in docs/deviations.md, each
//! made equal by [`deviations_aside`].
//!
//! Needs root, `ip`, `cc`, Debian's corosync and the five lib*-dev headers, `nsenter`;
//! reports itself ignored with the reason without them (failed under `QUORUMD_REQUIRE_ALL=1`).
//! bench/abi removes its namespaces and processes on exit, pass or fail.
#![allow(clippy::disallowed_methods)] // a test harness: processes, files

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/built.rs"]
mod built;

use built::{build_daemon_and_libraries, profile_dir, repo_root};

const SERVICES: [&str; 5] = ["quorum", "votequorum", "cmap", "cfg", "cpg"];

fn main() {
    prereq::run(vec![
        prereq::needs("quorum_transcript_equals_corosyncs", needs, quorum_transcript_equals_corosyncs),
        prereq::needs(
            "votequorum_transcript_equals_corosyncs",
            needs,
            votequorum_transcript_equals_corosyncs,
        ),
        prereq::needs("cmap_transcript_equals_corosyncs", needs, cmap_transcript_equals_corosyncs),
        prereq::needs("cfg_transcript_equals_corosyncs", needs, cfg_transcript_equals_corosyncs),
        prereq::needs("cpg_transcript_equals_corosyncs", needs, cpg_transcript_equals_corosyncs),
    ]);
}

fn needs() -> Option<String> {
    let headers = SERVICES.iter().all(|s| Path::new(&format!("/usr/include/corosync/{s}.h")).exists());
    prereq::missing(&[
        (prereq::is_root(), "root (network and mount namespaces)"),
        (prereq::has_command("ip"), "ip (apt-get install iproute2)"),
        (
            prereq::has_command("corosync") || Path::new("/usr/sbin/corosync").exists(),
            "Debian's corosync 3.1.7 (apt-get install corosync, service kept from starting)",
        ),
        (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
        (headers, "Corosync's headers (apt-get install libquorum-dev libvotequorum-dev libcmap-dev libcfg-dev libcpg-dev)"),
        (prereq::has_command("nsenter") && prereq::has_command("unshare"), "nsenter and unshare (util-linux)"),
    ])
}

/// One run of bench/abi for the five tests: the transcripts per service, or why it failed.
struct Run {
    corosync: Vec<String>,
    quorumd: Vec<String>,
    log: String,
}

fn run() -> &'static Result<Run, String> {
    static RUN: OnceLock<Result<Run, String>> = OnceLock::new();
    RUN.get_or_init(|| {
        build_daemon_and_libraries();
        let out = std::env::temp_dir().join(format!("quorumd-abi-corosync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let bench = Command::new("timeout")
            .args(["-k", "10", "240"])
            .arg(repo_root().join("bench/abi"))
            .arg(&out)
            .env("ABI_BUILT", profile_dir())
            .env("ABI_SIDE", "0")
            .output()
            .map_err(|e| format!("run bench/abi: {e}"))?;
        let read = |p: String| std::fs::read_to_string(out.join(p)).unwrap_or_default();
        let run = Run {
            corosync: SERVICES.iter().map(|s| read(format!("corosync/{s}.txt"))).collect(),
            quorumd: SERVICES.iter().map(|s| read(format!("quorumd/{s}.txt"))).collect(),
            log: format!(
                "bench/abi exit {:?}\n--- stderr ---\n{}",
                bench.status.code(),
                String::from_utf8_lossy(&bench.stderr)
            ),
        };
        let _ = std::fs::remove_dir_all(&out);
        if bench.status.success() {
            Ok(run)
        } else {
            Err(run.log)
        }
    })
}

/// The documented differences (docs/deviations.md), made equal; every other line is kept.
fn deviations_aside(service: &str, text: &str) -> String {
    let mut out = Vec::new();
    for l in text.lines() {
        let code_aside = |l: &str| match l.find(" -> ") {
            Some(i) => format!("{} -> (a listed deviation)", &l[..i]),
            None => l.to_string(),
        };
        let line = match service {
            // Deviation from corosync: token_coefficient is 0 and consensus is max(200, 4 ×
            // join), so the effective token and consensus differ from Corosync's defaults.
            "cmap"
                if l.starts_with("cmap_get_uint32(h, \"runtime.config.totem.token\"")
                    || l.starts_with("cmap_get_uint32(h, \"runtime.config.totem.consensus\"") =>
            {
                code_aside(l)
            }
            // Deviation from corosync: the link MTU is totem.netmtu, not knet's PMTUd data MTU.
            "cfg" if l.trim_start().starts_with("link ") && l.contains(" mtu=") => {
                let i = l.find(" mtu=").unwrap();
                let j = l[i + 1..].find(' ').map_or(l.len(), |j| i + 1 + j);
                format!("{} mtu=MTU{}", &l[..i], &l[j..])
            }
            // Deviation from corosync: no qdevice in quorumd; registration is refused.
            "votequorum" if l.starts_with("votequorum_qdevice_") && l.contains("(h, \"Qdevice\"") => {
                code_aside(l)
            }
            // Deviations from corosync: the atomic message size is one IPC frame; a send
            // while not joined or with an unknown guarantee is refused (Corosync's library
            // does not wait for the daemon's answer, and delivers an unknown guarantee).
            "cpg" if l.starts_with("cpg_max_atomic_msgsize_get(h, &size)") => code_aside(l),
            "cpg" if l.starts_with("cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov1, 1)") => code_aside(l),
            "cpg" if l.starts_with("cpg_mcast_joined(h, (cpg_guarantee_t)9, &bad, 1)") => code_aside(l),
            "cpg" if l.contains("cb cpg_deliver_fn") && l.contains("msg='bad-guarantee'") => continue,
            _ => l.to_string(),
        };
        out.push(line);
    }
    out.join("\n")
}

/// What each service's transcript must show on Corosync: both runs really walked.
fn corosync_shows(service: &str) -> &'static [&'static str] {
    match service {
        "quorum" => &[
            "quorum_getquorate(h, &q) -> CS_OK quorate=1",
            "  cb nodelist_notify_fn ring=RING members=[1,2,3] joined=[] left=[]",
            "fd: POLLIN|POLLHUP",
            "quorum_initialize(&h, &cb, &type) -> CS_ERR_LIBRARY",
        ],
        "votequorum" => &["node_id=1 node_state=1 node_votes=1 node_expected_votes=3", "fd: POLLIN|POLLHUP"],
        "cmap" => &[
            "cmap_get_string(h, \"totem.cluster_name\", &str) -> CS_OK 'bench'",
            "cmap_get_string(h, \"nodelist.node.0.nodeid\", &str) -> CS_ERR_INVALID_PARAM",
            "cmap_set_string(h, \"totem.cluster_name\", \"other\") -> CS_ERR_ACCESS",
            "fd: POLLIN|POLLHUP",
        ],
        "cfg" => &["corosync_cfg_local_get(h, &local) -> CS_OK nodeid=1", "10.213.0.3", "fd: POLLIN|POLLHUP"],
        "cpg" => &["cb cpg_confchg_fn group=abi-group", "PROCDOWN", "fd: POLLIN|POLLHUP"],
        _ => &[],
    }
}

fn transcript_equals_corosyncs(service: &str) {
    let run = match run() {
        Ok(r) => r,
        Err(log) => panic!("bench/abi failed:\n{log}"),
    };
    let i = SERVICES.iter().position(|s| *s == service).unwrap();
    let (corosync, quorumd) = (&run.corosync[i], &run.quorumd[i]);
    for want in corosync_shows(service) {
        assert!(
            corosync.contains(want),
            "Corosync's {service} transcript lacks {want:?}\n{corosync}\n{}",
            run.log
        );
    }
    for phase in ["== walk", "== hold", "== nodaemon"] {
        assert!(corosync.contains(phase) && quorumd.contains(phase), "{service}: no {phase:?}\n{}", run.log);
    }
    let (c, q) = (deviations_aside(service, corosync), deviations_aside(service, quorumd));
    let differing: Vec<String> = c
        .lines()
        .zip(q.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(n, (a, b))| format!("line {}: corosync {a:?}\n         quorumd  {b:?}", n + 1))
        .take(20)
        .collect();
    assert!(
        c == q,
        "quorumd's {service} transcript differs from Corosync's ({} vs {} lines):\n{}\n--- quorumd ---\n{q}\n{}",
        c.lines().count(),
        q.lines().count(),
        differing.join("\n"),
        run.log
    );
}

fn quorum_transcript_equals_corosyncs() {
    transcript_equals_corosyncs("quorum");
}

fn votequorum_transcript_equals_corosyncs() {
    transcript_equals_corosyncs("votequorum");
}

fn cmap_transcript_equals_corosyncs() {
    transcript_equals_corosyncs("cmap");
}

fn cfg_transcript_equals_corosyncs() {
    transcript_equals_corosyncs("cfg");
}

fn cpg_transcript_equals_corosyncs() {
    transcript_equals_corosyncs("cpg");
}
