//! CPG clients on simulated nodes, over the real node and Totem code under the fuzz's faults:
//! the unbroken service keeps virtual synchrony, and each CPG mutant (on one node) is caught
//! by the CPG checker.

use quorumd_node::CpgMutant;
use quorumd_sim::fuzz::{catch_mutant, repro_command, run_seed, AnyMutant, FuzzOptions};

fn opts() -> FuzzOptions {
    FuzzOptions { nodes: (3, 5), cpg: true, ..FuzzOptions::default() }
}

#[test]
fn cpg_traffic_under_every_fault_keeps_virtual_synchrony() {
    let opts = opts();
    let mut accepted = 0;
    for seed in 1..=3 {
        let o = run_seed(seed, &opts);
        assert!(
            o.violations.is_empty() && o.unconverged.is_none(),
            "seed {seed}: {:?} {:?}\n  reproduce: {}",
            o.violations,
            o.unconverged,
            repro_command(seed, o.nodes, &opts)
        );
        accepted += o.cpg_multicasts.0;
    }
    // The clients did send: the checker had something to look at.
    assert!(accepted > 100, "only {accepted} multicasts accepted");
}

#[test]
fn the_seeds_that_found_checker_errors_pass() {
    // 40 (3..=5 nodes): a node frozen in ring R resumed alone and delivered, at its change,
    // R's messages from its own side only (extended virtual synchrony lets it skip those of
    // the members it parted from); its segment between two views differed from the others'.
    // 181 (3..=9 nodes): CPG completed ring R's sync among the old-ring deliveries at the
    // change to the next ring, and its totem confchg named R, no longer Totem's ring.
    for (seed, nodes) in [(40, (3, 5)), (181, (3, 9))] {
        let opts = FuzzOptions { nodes, ..opts() };
        let o = run_seed(seed, &opts);
        assert!(
            o.violations.is_empty() && o.unconverged.is_none(),
            "seed {seed}: {:?} {:?}\n  reproduce: {}",
            o.violations,
            o.unconverged,
            repro_command(seed, o.nodes, &opts)
        );
    }
}

#[test]
fn every_cpg_mutant_is_caught_by_the_cpg_checker() {
    for m in quorumd_sim::cpg::MUTANTS {
        let c = catch_mutant(AnyMutant::Cpg(m), &opts(), 1..=10)
            .unwrap_or_else(|| panic!("{} not caught in seeds 1..=10", quorumd_sim::cpg::mutant_name(m)));
        assert_eq!(c.checker, "cpg-virtual-synchrony", "{}", c.message);
    }
    // The mutants are on: a CPG mutant without CPG clients would be vacuous.
    assert!(AnyMutant::Cpg(CpgMutant::DropSelfDelivery).apply(&FuzzOptions::default()).cpg);
}

/// A node restarted from a wiped state directory, or from an older copy of it, while the
/// others' CPG clients keep sending: the seeds of 1..=80 where such a restart follows CPG
/// traffic and the restarted node then serves CPG clients of its own keep virtual synchrony,
/// the ring-id rules and converge. Each kind of state loss must occur at least once.
#[test]
fn cpg_traffic_across_restarts_with_a_wiped_or_older_state_directory() {
    let opts = FuzzOptions { nodes: (3, 5), log: true, ..opts() };
    let mut seen = [0usize; 2];
    for seed in 1..=80 {
        let o = run_seed(seed, &opts);
        assert!(
            o.violations.is_empty() && o.unconverged.is_none(),
            "seed {seed}: {:?} {:?}\n  reproduce: {}",
            o.violations,
            o.unconverged,
            repro_command(seed, o.nodes, &opts)
        );
        let Some(first_open) = o.log.iter().position(|l| l.contains("opens and joins")) else { continue };
        for (i, line) in o.log.iter().enumerate().skip(first_open) {
            let kind = if line.contains("with its state dir wiped") {
                0
            } else if line.contains("from the state copy") {
                1
            } else {
                continue;
            };
            // "fault: start N ...": N serves CPG clients again afterwards.
            let Some(node) = line.split("fault: start ").nth(1).and_then(|r| r.split(' ').next()) else {
                continue;
            };
            let serves = format!("cpg: node {node} process");
            if o.log[i..].iter().any(|l| l.contains(&serves) && l.contains("opens and joins")) {
                seen[kind] += 1;
            }
        }
        if seen.iter().all(|n| *n >= 2) {
            break;
        }
    }
    assert!(seen.iter().all(|n| *n >= 1), "wiped, older restarts under CPG traffic: {seen:?}");
}
