//! The simulator with authenticated transport (issue 11, "crypto moves into the node"): runs
//! with `--crypto` are as deterministic as plain ones, really seal (first contacts are
//! answered, so nodes drop datagrams), and stay safe and converge.

use quorumd_sim::fuzz::{repro_command, run_seed, FuzzOptions};
use quorumd_sim::latency;

fn crypto() -> FuzzOptions {
    FuzzOptions { crypto: true, nodes: (3, 6), ..FuzzOptions::default() }
}

#[test]
fn crypto_runs_are_deterministic_and_differ_from_plain_ones() {
    for seed in [3, 17] {
        let a = run_seed(seed, &crypto());
        let b = run_seed(seed, &crypto());
        assert_eq!(a.digest, b.digest, "seed {seed}");
        assert_eq!(a.stats, b.stats, "seed {seed}");
        let plain = run_seed(seed, &FuzzOptions { crypto: false, ..crypto() });
        assert_ne!(a.stats, plain.stats, "seed {seed}: crypto changed nothing on the wire");
        // Every restart makes a first contact that is answered, not acted on.
        assert!(a.stats.dropped_by_node > plain.stats.dropped_by_node, "seed {seed}");
    }
    assert!(repro_command(5, 3, &crypto()).ends_with(" --crypto"));
}

#[test]
fn crypto_seeds_are_safe_and_converge() {
    for seed in 1..=25 {
        let o = run_seed(seed, &crypto());
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        assert!(o.unconverged.is_none(), "seed {seed}: {:?}", o.unconverged);
    }
}

#[test]
fn a_restart_with_crypto_joins_within_one_extra_round_trip() {
    for nodes in [3, 5] {
        let plain = latency::trial_with(nodes, 1, false).unwrap();
        let sealed = latency::trial_with(nodes, 1, true).unwrap();
        // 100 µs one-way latency ± 100 µs jitter: one round trip is well under 1 ms.
        let extra = sealed.join.as_micros().saturating_sub(plain.join.as_micros());
        assert!(extra < 1_000, "{nodes} nodes: join {} → {}", plain.join, sealed.join);
    }
}
