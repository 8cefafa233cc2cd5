//! A bounded fuzz run: random faults with every checker after every step, then the liveness
//! phase. Any violation or unconverged seed fails with the command that reproduces it.
//! (The full runs, `quorumd-sim fuzz --seeds 1..10001 --nodes 3..=9`, live in the CLI.)

use quorumd_sim::fuzz::{repro_command, run_seed, FuzzOptions};
use quorumd_sim::quorum::Preset;

fn check(seeds: impl Iterator<Item = u64>, nodes: (usize, usize)) {
    check_with(seeds, FuzzOptions { nodes, ..FuzzOptions::default() });
}

/// Replays `seed` on `nodes` nodes with the fault menu it was found with (the regression seeds
/// below predate state loss, the adversary, runtime requests and long freezes).
fn check_classic(seed: u64, nodes: usize) {
    check_with(std::iter::once(seed), FuzzOptions { nodes: (nodes, nodes), ..FuzzOptions::classic() });
}

fn check_with(seeds: impl Iterator<Item = u64>, opts: FuzzOptions) {
    let mut failures = Vec::new();
    for seed in seeds {
        let o = run_seed(seed, &opts);
        for v in o.violations.iter().take(1) {
            failures.push(format!("{v}\n  reproduce: {}", repro_command(seed, o.nodes, &opts)));
        }
        if let Some(u) = &o.unconverged {
            failures.push(format!("{u}\n  reproduce: {}", repro_command(seed, o.nodes, &opts)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sixty_seeds_of_three_to_five_nodes_are_safe_and_converge() {
    check(1..=60, (3, 5));
}

#[test]
fn seeds_that_once_caught_totem_bugs_stay_fixed() {
    // 14, 51, 95: join storms (every node forming singletons); 859: never converged;
    // 1261, 322: commits aborted forever by excluded nodes; 4846: a late old-ring message
    // delivered by one node only (virtual synchrony). Without a quorum provider no votequorum
    // message is sent, so these replay the very runs that found the bugs.
    for (seed, nodes) in [(14, 5), (51, 4), (95, 9), (859, 3), (1261, 6), (322, 9), (4846, 4)] {
        let opts =
            FuzzOptions { nodes: (nodes, nodes), quorum: Some(Preset::NoQuorum), ..FuzzOptions::classic() };
        check_with(std::iter::once(seed), opts);
    }
}

#[test]
fn seeds_where_a_wiped_node_reused_a_frozen_members_ring_id_stay_fixed() {
    // A node restarted with its state directory wiped, cut off from a frozen member of the last
    // ring of its previous life, minted that ring's id again with other members: 2085 (alone,
    // from seq 1: ring 1.5), 13498 (with a node that was one ring behind the frozen one: the
    // same `max + 4` as before). Every fault of the menu on, as when they were found.
    for seed in [2085, 13498] {
        check_with(std::iter::once(seed), FuzzOptions { nodes: (3, 3), ..FuzzOptions::default() });
    }
}

#[test]
fn every_quorum_preset_is_safe_and_converges() {
    // Ten seeds of each votequorum configuration (the quorum checkers and the quorum liveness
    // check run in all of them); two_node on 2-node clusters.
    for preset in Preset::ALL {
        let nodes = if preset == Preset::TwoNode { (2, 2) } else { (3, 5) };
        let opts = FuzzOptions { nodes, quorum: Some(preset), ..FuzzOptions::default() };
        check_with(1..=10, opts);
    }
}

#[test]
fn seeds_that_once_caught_votequorum_bugs_stay_fixed() {
    // 1429: a 3-vote side of 7 took an auto_tie_breaker "tie" (odd expected votes); 4859, 6857,
    // 3473: members of one ring split the tie-breaker verdict (node-local sticky ids); 1839:
    // members of one ring disagreed after their own last_man_standing timers.
    for (seed, nodes) in [(1429, 7), (4859, 8), (6857, 8), (3473, 6), (1839, 6)] {
        check_classic(seed, nodes);
    }
}

#[test]
fn seeds_that_once_split_a_rings_wait_for_all_or_expected_votes_stay_fixed() {
    // 6209 (last_man_standing + wait_for_all): a nodeinfo queued at an abandoned sync was
    // delivered after the next ring's activation with a stale QUORATE, clearing wait_for_all
    // on the members but not on its sender; the next ring split its verdict. 7449, 1107
    // (auto_tie_breaker + wait_for_all): a quorate member's nodeinfo cleared wait_for_all in
    // a sync that was then abandoned, so one node entered the next ring inquorate and not
    // waiting. 7309 (last_man_standing): rows recorded before a mid-sync take-over of expected
    // votes gave members of one ring quorum 3 and 5. 209, 937, 1082, 1717, 1732
    // (last_man_standing): members of one ring with different expected votes (found with the
    // former `--strict-lms`; the agreement checker is now always strict).
    for (seed, nodes) in
        [(6209, 9), (7449, 5), (1107, 5), (7309, 9), (209, 6), (937, 9), (1082, 6), (1717, 7), (1732, 8)]
    {
        check_classic(seed, nodes);
    }
    // wait_for_all alone: members of one ring split on the WFA status (167, 2989).
    for (seed, nodes) in [(167, 8), (2989, 8)] {
        let opts =
            FuzzOptions { nodes: (nodes, nodes), quorum: Some(Preset::WaitForAll), ..FuzzOptions::classic() };
        check_with(std::iter::once(seed), opts);
    }
}
