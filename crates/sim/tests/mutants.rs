//! The checkers are themselves tested: each deliberately broken Totem (every node built with
//! the mutant) must be caught by the checker for the promise it breaks, and every mutant —
//! Totem's, those reverting each hardening fix, and the simulator's own (a client reading a
//! stale page) — must be caught by the fuzz within a small range of seeds.

use quorumd_sim::fuzz::{
    catch_mutant, catch_mutant_or_regression, repro_command, run_seed, AnyMutant, FuzzOptions,
};
use quorumd_sim::world::SimMutant;
use quorumd_totem::Mutant;

/// The four mutants the classic fault menu was proven against.
const CLASSIC: [Mutant; 4] =
    [Mutant::SkipConsensus, Mutant::ReuseRingSeq, Mutant::DeliverOutOfOrder, Mutant::SkipRecovery];

/// Runs seeds (classic faults, so that these replay the runs they always did) until a safety
/// checker catches `mutant`; returns the checker and the seed.
fn caught_by(mutant: Mutant) -> Option<(&'static str, u64)> {
    let opts = FuzzOptions { nodes: (3, 5), mutant: Some(mutant), ..FuzzOptions::classic() };
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
    let opts = FuzzOptions { nodes: (3, 5), ..FuzzOptions::classic() };
    for m in CLASSIC {
        if let Some((_, seed)) = caught_by(m) {
            let o = run_seed(seed, &opts);
            assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        }
    }
}

#[test]
fn every_mutant_is_caught_by_the_full_fuzz_within_sixty_seeds() {
    // With every fault of the menu (state loss, the adversary, runtime requests, freezes): a
    // mutant is caught when a seed reports a violation (or does not converge) that the same
    // seed without the mutant does not. A mutant whose bug needs a rare coincidence of faults
    // is tried on its regression seeds too (`AnyMutant::regression_seeds`).
    let opts = FuzzOptions { nodes: (3, 5), ..FuzzOptions::default() };
    let mut missed = Vec::new();
    for m in AnyMutant::all() {
        match catch_mutant_or_regression(m, &opts, 1..=60) {
            Some(c) => eprintln!(
                "{} caught by {} at seed {}: {}\n  reproduce: {}",
                m.name(),
                c.checker,
                c.seed,
                c.message,
                repro_command(c.seed, c.nodes, &m.apply(&opts))
            ),
            None => missed.push(m.name()),
        }
    }
    assert!(missed.is_empty(), "not caught in seeds 1..=60: {missed:?}");
}

#[test]
fn a_client_reading_a_stale_page_is_caught_by_the_frozen_getquorate_checker() {
    let opts = FuzzOptions { nodes: (3, 5), ..FuzzOptions::default() };
    let c =
        catch_mutant(AnyMutant::Sim(SimMutant::StalePage), &opts, 1..=60).expect("stale-page was not caught");
    assert_eq!(c.checker, "frozen-getquorate", "{}", c.message);
}

#[test]
fn a_predictable_ring_seq_is_caught_at_each_seed_that_found_the_reuse() {
    // 2085, 13498: a node restarted with its state wiped, cut off from a frozen member of its
    // previous life's last ring, minted that ring's id again (1.5 alone; 1.d with a node that
    // was one ring behind). Each seed must catch the mutant on its own.
    let m = AnyMutant::Totem(Mutant::PredictableRingSeq);
    for &(seed, nodes) in m.regression_seeds() {
        let opts = FuzzOptions { nodes: (nodes, nodes), ..FuzzOptions::default() };
        let c = catch_mutant(m, &opts, seed..=seed)
            .unwrap_or_else(|| panic!("seed {seed} did not catch {}", m.name()));
        assert_eq!(c.checker, "same-ring-same-members", "{}", c.message);
    }
}
