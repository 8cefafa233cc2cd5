//! The checkers are themselves tested: each deliberately broken Totem (every node built with
//! the mutant) must be caught by the checker for the promise it breaks.

use quorumd_sim::fuzz::{repro_command, run_seed, FuzzOptions};
use quorumd_totem::Mutant;

/// Runs seeds until a safety checker catches `mutant`; returns the checker and the seed.
fn caught_by(mutant: Mutant) -> Option<(&'static str, u64)> {
    let opts = FuzzOptions { nodes: (3, 5), mutant: Some(mutant), ..FuzzOptions::default() };
    (1..=60).find_map(|seed| {
        let o = run_seed(seed, &opts);
        let v = o.violations.iter().find(|v| !matches!(v.checker, "progress" | "panic"))?;
        eprintln!("{} caught by {v}\n  reproduce: {}", mutant.name(), repro_command(seed, o.nodes, &opts));
        Some((v.checker, seed))
    })
}

#[test]
fn skip_consensus_is_caught() {
    let (checker, _) = caught_by(Mutant::SkipConsensus).expect("skip-consensus was not caught");
    assert!(
        ["same-ring-same-members", "ring-seq-increases", "virtual-synchrony", "total-order"]
            .contains(&checker),
        "{checker}"
    );
}

#[test]
fn reuse_ring_seq_is_caught() {
    let (checker, _) = caught_by(Mutant::ReuseRingSeq).expect("reuse-ring-seq was not caught");
    assert!(
        ["same-ring-same-members", "ring-seq-increases", "virtual-synchrony"].contains(&checker),
        "{checker}"
    );
}

#[test]
fn deliver_out_of_order_is_caught_by_the_ordering_checker() {
    let (checker, _) = caught_by(Mutant::DeliverOutOfOrder).expect("deliver-out-of-order was not caught");
    assert_eq!(checker, "total-order");
}

#[test]
fn skip_recovery_is_caught_by_the_virtual_synchrony_checker() {
    let (checker, _) = caught_by(Mutant::SkipRecovery).expect("skip-recovery was not caught");
    assert_eq!(checker, "virtual-synchrony");
}

#[test]
fn the_unbroken_protocol_passes_the_seeds_that_catch_mutants() {
    // Guards against checkers that would flag anything: the seeds that caught the mutants
    // must pass without the mutant.
    let opts = FuzzOptions { nodes: (3, 5), ..FuzzOptions::default() };
    for m in Mutant::ALL {
        if let Some((_, seed)) = caught_by(m) {
            let o = run_seed(seed, &opts);
            assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        }
    }
}
