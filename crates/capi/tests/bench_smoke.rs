//! A short smoke run of the benchmark harness in `bench/` (the full runs are not part of
//! `cargo test`): one fault cycle on 3 quorumd nodes (`bench/faults 1 plain`) and one trial of the
//! side-by-side table for quorumd alone (`bench/run 1 1`), both in network namespaces with this
//! build's daemon and `libquorum.so`, and the probe compiled from `bench/probe.c`.
//!
//! Needs root, `ip` and `cc`; reported ignored with the reason without them (CI runs as root
//! with `QUORUMD_REQUIRE_ALL=1`, where a missing one fails).
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "../../../tests/support/prereq.rs"]
mod prereq;

use std::path::Path;
use std::process::{Command, Output};

use common::{ensure_built, profile_dir, repo_root};

fn main() {
    prereq::run(vec![
        prereq::needs("one_fault_cycle_on_three_nodes", runnable, one_fault_cycle_on_three_nodes),
        prereq::needs("one_side_by_side_trial_of_quorumd", runnable, one_side_by_side_trial_of_quorumd),
    ]);
}

/// Network namespaces and the C probe.
fn runnable() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root"),
        (prereq::has_command("ip"), "ip (apt-get install iproute2)"),
        (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
    ])
}

fn bench(script: &str, args: &[&str], env: &[(&str, &Path)]) -> (Output, String) {
    ensure_built();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("bench").join(script))
        .args(args)
        .env("BC_QUORUMD", profile_dir().join("quorumd"))
        .env("BC_LIBQUORUM", profile_dir().join("libquorum.so"))
        .env("BENCH_NO_BUILD", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run bash");
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn one_fault_cycle_on_three_nodes() {
    let dir = tempdir("faults");
    let (out, text) = bench(
        "faults",
        &["1", "plain"],
        &[("FAULTS_NODES", Path::new("3")), ("FAULTS_SEED", Path::new("7")), ("FAULTS_OUT", &dir)],
    );
    assert!(out.status.success(), "bench/faults failed:\n{text}");
    assert!(text.contains("faults: cycles=1 wrong=0 lost=0 unsettled=0"), "unexpected summary:\n{text}");
    let actions = std::fs::read_to_string(dir.join("actions.log")).unwrap();
    assert!(actions.contains("cycle 1 ") && actions.contains("settled=1"), "{actions}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn one_side_by_side_trial_of_quorumd() {
    let dir = tempdir("run");
    let raw = dir.join("raw");
    let (out, text) = bench(
        "run",
        &["1", "2"],
        &[
            ("BENCH_CONFIGS", Path::new("quorumd")),
            ("BENCH_SIZES", Path::new("3")),
            ("BENCH_RATE_SECONDS", Path::new("0.5")),
            ("BENCH_OUT", &raw),
        ],
    );
    assert!(out.status.success(), "bench/run failed:\n{text}");
    let raw = std::fs::read_to_string(&raw).unwrap();
    // Every measure was taken, and each is a number: a NaN means a node never showed the view.
    for measure in [
        "crash",
        "join",
        "partition_majority",
        "partition_minority",
        "heal",
        "getquorate_1",
        "getquorate_4",
        "rss_mb",
        "idle_cpu_pct",
    ] {
        let line = raw
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(measure))
            .unwrap_or_else(|| panic!("no {measure} in the raw results:\n{raw}\n{text}"));
        let value: f64 = line.split_whitespace().nth(3).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        assert!(value.is_finite() && value >= 0.0, "{measure}: {line}\n{text}");
    }
    // The table has the quorumd column filled for N=3.
    assert!(text.contains("| 3 | crash (ms) | "), "no table:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("quorumd-bench-smoke-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
