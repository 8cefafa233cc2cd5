//! GATHER at scale and on a busy machine: what it costs in datagrams, and that slowness
//! (a commit token that takes long to go round, a node that is not scheduled) is not taken
//! for failure. See docs/totem.md, "Large clusters on small machines".

#![allow(clippy::disallowed_methods)] // test harness: reads TOTEM_* knobs from the environment

mod harness;

use harness::{id, Net};
use quorumd_proto::{Duration, MemberList};
use quorumd_totem::{State, TotemConfig, TotemKeys};

fn cfg(nodes: usize) -> TotemConfig {
    TotemKeys::default().derive(nodes).unwrap()
}

fn all(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

fn joins(net: &Net) -> u64 {
    net.joins_sent.values().sum()
}

#[test]
fn a_gather_waiting_for_a_crashed_node_costs_two_rounds_of_joins_not_one_per_period() {
    // 32 nodes: one round of joins (everyone to everyone) is 31 × 31 = 961 datagrams. The
    // survivors agree at once and then wait a consensus period (four join periods) for the
    // crashed node: only the crashed node is sent the periodic join, so the gather costs the
    // first round and the round that fails the node, not a round per period on top.
    let n = 32;
    let mut net = Net::new(n, cfg(n as usize));
    for i in 1..=n {
        net.start(i);
    }
    net.run_until_true(3000, |x| x.all_operational_in(&all(n))).expect("formed");
    net.run_ms(2000);
    let before = joins(&net);
    net.crash(n);
    net.run_until_true(5000, |x| x.all_operational_in(&all(n - 1))).expect("re-formed");
    let round = u64::from((n - 1) * (n - 1));
    let sent = joins(&net) - before;
    assert!(sent <= 2 * round + 4 * u64::from(n), "{sent} join datagrams for one crash (a round is {round})");
}

#[test]
fn a_burst_of_joins_is_answered_with_one_join() {
    // 16 nodes start at once: each hears 15 joins within a round trip, each adding a node to
    // its proc set. It sends one join carrying all of them (after its first), not one per
    // change: formation costs a few rounds of joins, not one round per node.
    let n = 16;
    let mut net = Net::new(n, cfg(n as usize));
    for i in 1..=n {
        net.start(i);
    }
    net.run_until_true(3000, |x| x.all_operational_in(&all(n))).expect("formed");
    let round = u64::from(n * (n - 1));
    let sent = joins(&net);
    assert!(sent <= 3 * round, "{sent} join datagrams to form (a round is {round})");
}

#[test]
fn a_commit_token_slower_than_the_consensus_period_does_not_abort_the_ring() {
    // 48 nodes, 10 ms per hop: the commit token's first rotation takes 480 ms, more than two
    // consensus periods (200 ms). The nodes it has not reached yet still wait in GATHER, and
    // the ones it has reached are silent (they are in COMMIT): they agreed, so they are not
    // failed.
    let n = 48;
    let mut net = Net::new(n, cfg(n as usize));
    net.latency = Duration::from_millis(10);
    for i in 1..=n {
        net.start(i);
    }
    net.run_until_true(10_000, |x| x.all_operational_in(&all(n))).expect("one ring of 48");
    assert!(net.failures.is_empty(), "nodes were failed: {:?}", net.failures);
    let rings: std::collections::BTreeSet<_> = net.installs.iter().map(|(_, _, r, _)| *r).collect();
    assert_eq!(rings.len(), 1, "the first ring went through: {rings:?}");
}

#[test]
fn a_node_that_could_not_run_does_not_fail_the_others() {
    // Node 1 enters GATHER (node 5 crashed), sends its join, and then is not scheduled for
    // 300 ms, its socket dropping what arrives. When it runs again its consensus timer is long
    // overdue and it has not heard from 2, 3 and 4 since it stopped: but it was not running
    // either, so that is not their silence.
    let mut net = Net::new(5, cfg(5));
    for i in 1..=5 {
        net.start(i);
    }
    net.run_until_true(3000, |x| x.all_operational_in(&all(5))).expect("formed");
    net.run_ms(2000);
    net.crash(5);
    while net.nodes[&id(1)].state() != State::Gather {
        net.run_until(net.now + Duration::from_micros(50));
    }
    net.starved.insert(id(1), net.now + Duration::from_millis(300));
    let from = net.installs.len();
    net.run_until_true(5000, |x| x.all_operational_in(&[1, 2, 3, 4])).expect("re-formed");
    let four = MemberList::from_ids([1, 2, 3, 4].map(id)).unwrap();
    for (_, node, ring, members) in &net.installs[from..] {
        assert_eq!(members, &four, "node {node} installed {ring} with {members}");
    }
    assert!(!net.failures.contains_key(&id(1)) || net.failures[&id(1)] == 1, "node 1: {:?}", net.failures);
}

#[test]
fn nodes_starting_one_after_the_other_are_not_failed_for_disagreeing() {
    // 32 nodes start 25 ms apart on a 5 ms network: for most of a second every gather's sets
    // keep growing, and the nodes that have not heard of the newest one yet disagree. They
    // answer, and the news reaches them; none is failed for it.
    let n = 32;
    let mut net = Net::new(n, cfg(n as usize));
    net.latency = Duration::from_millis(5);
    for i in 1..=n {
        net.start(i);
        net.run_ms(25);
    }
    net.run_until_true(10_000, |x| x.all_operational_in(&all(n))).expect("one ring of 32");
    assert!(net.failures.is_empty(), "nodes were failed: {:?}", net.failures);
}
