//! The cmap checker (`crates/sim/src/check/cmap.rs`) in real simulated clusters: the unbroken
//! node passes, and a node whose `runtime.` keys lag one check behind (the `cmap-lag` sim
//! mutant) is caught by it, on a seed whose clean run has no violation at all.

use quorumd_sim::fuzz::{catch_mutant, run_seed, AnyMutant, FuzzOptions};
use quorumd_sim::world::SimMutant;

#[test]
fn keys_lagging_on_one_node_are_caught_by_the_cmap_checker() {
    let opts = FuzzOptions { nodes: (3, 5), ..FuzzOptions::default() };
    let c = catch_mutant(AnyMutant::Sim(SimMutant::CmapLag), &opts, 1..=20).expect("cmap-lag was not caught");
    assert_eq!(c.checker, "cmap-runtime-keys", "{}", c.message);
}

#[test]
fn every_members_runtime_keys_agree_over_fuzzed_runs() {
    let opts = FuzzOptions { nodes: (3, 7), ..FuzzOptions::default() };
    for seed in 1..=40 {
        let o = run_seed(seed, &opts);
        let cmap: Vec<_> = o.violations.iter().filter(|v| v.checker == "cmap-runtime-keys").collect();
        assert!(cmap.is_empty(), "seed {seed}: {cmap:?}");
    }
}
