//! End-to-end Totem behaviour on a tiny fixed-latency network (corosync-behaviour §4, §2.6).

#![allow(clippy::disallowed_methods)] // test harness: reads TOTEM_* knobs from the environment

mod harness;

use harness::{id, Net};
use quorumd_totem::{TotemConfig, TotemKeys};

fn cfg(token: u32) -> TotemConfig {
    let mut k = TotemKeys::default();
    k.set("token", token).unwrap();
    k.derive(5).unwrap()
}

#[test]
fn three_nodes_form_one_ring() {
    let mut net = Net::new(3, cfg(1000));
    for n in 1..=3 {
        net.start(n);
    }
    let took = net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3]));
    assert!(took.is_some(), "no common ring: {:?}", net.installs);
    let ring = net.nodes[&id(1)].ring_id();
    assert_eq!(ring.rep, 1);
}

#[test]
fn ring_seqs_step_by_4_once_a_ring_of_every_node_was_installed() {
    // corosync-behaviour §4.4: from a fresh state dir a ring is the highest seq seen + 4 (1.5,
    // 1.9, 1.d ...). Here that holds for a ring of every configured node and for every ring after
    // one; before it, a ring that leaves a configured node out gets a fresh offset
    // (docs/totem.md, "Node identity": a wiped node must not mint an id of its previous life).
    let mut net = Net::new(3, cfg(1000));
    net.start(1);
    net.run_ms(500);
    let alone = net.nodes[&id(1)].ring_id();
    assert_eq!(alone.rep, 1);
    assert!(alone.seq >= 5 && alone.seq < 5 + (1 << 12), "{alone}");
    net.start(2);
    net.run_until_true(1000, |n| n.all_operational_in(&[1, 2])).unwrap();
    let two = net.nodes[&id(1)].ring_id();
    assert!(two.seq >= alone.seq + 4 && two.seq < alone.seq + 4 + (1 << 12), "{alone} then {two}");
    net.start(3);
    net.run_until_true(1000, |n| n.all_operational_in(&[1, 2, 3])).unwrap();
    assert_eq!(net.nodes[&id(1)].ring_id().seq, two.seq + 4, "a ring of every node: max + 4");
    net.crash(3);
    net.run_until_true(3000, |n| n.all_operational_in(&[1, 2])).unwrap();
    assert_eq!(net.nodes[&id(1)].ring_id().seq, two.seq + 8, "after a ring of every node: max + 4");
}

#[test]
fn nodes_booted_together_form_ring_5() {
    // corosync-behaviour §4.4: a fresh cluster's first ring of every node is 1.5, as in corosync.
    let mut net = Net::new(3, cfg(1000));
    for n in 1..=3 {
        net.start(n);
    }
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3])).unwrap();
    assert_eq!(net.nodes[&id(1)].ring_id().to_string(), "1.5");
}

#[test]
fn crash_is_detected_within_token_plus_300ms() {
    for size in [2u32, 3, 5, 16] {
        let mut net = Net::new(size, cfg(1000));
        for n in 1..=size {
            net.start(n);
        }
        let all: Vec<u32> = (1..=size).collect();
        net.run_until_true(3000, |n| n.all_operational_in(&all)).unwrap();
        net.run_ms(2000);
        net.crash(size);
        let rest: Vec<u32> = (1..size).collect();
        let took = net.run_until_true(5000, |n| n.all_operational_in(&rest)).expect("survivors re-form");
        assert!(took.as_millis() <= 1300, "size {size}: took {took}");
    }
}

#[test]
fn clean_leave_reforms_at_once() {
    let mut net = Net::new(3, cfg(1000));
    for n in 1..=3 {
        net.start(n);
    }
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3])).unwrap();
    net.run_ms(500);
    net.stop(3);
    let took = net.run_until_true(2000, |n| n.all_operational_in(&[1, 2])).unwrap();
    assert!(took.as_millis() < 50, "took {took}");
}

#[test]
fn join_and_heal_are_fast() {
    let mut net = Net::new(4, cfg(1000));
    for n in 1..=3 {
        net.start(n);
    }
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3])).unwrap();
    net.run_ms(1000);
    net.start(4);
    let join = net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3, 4])).unwrap();
    assert!(join.as_millis() <= 100, "join took {join}");
    net.run_ms(1000);
    net.cut = vec![(id(1), id(3)), (id(1), id(4)), (id(2), id(3)), (id(2), id(4))];
    net.run_until_true(3000, |n| n.all_operational_in(&[1, 2]) && n.all_operational_in(&[3, 4])).unwrap();
    net.run_ms(500);
    net.cut.clear();
    let heal = net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3, 4])).unwrap();
    assert!(heal.as_millis() <= 150, "heal took {heal}");
}

#[test]
fn messages_are_delivered_in_one_order_everywhere() {
    let mut net = Net::new(3, cfg(1000));
    for n in 1..=3 {
        net.start(n);
    }
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3])).unwrap();
    for i in 0..30u8 {
        let n = id(u32::from(i % 3) + 1);
        net.nodes.get_mut(&n).unwrap().submit(vec![i]).unwrap();
        net.run_ms(3);
    }
    net.run_ms(500);
    let d1 = &net.delivered[&id(1)];
    assert_eq!(d1.len(), 30);
    assert_eq!(Some(d1), net.delivered.get(&id(2)));
    assert_eq!(Some(d1), net.delivered.get(&id(3)));
}

#[test]
fn idle_ring_stays_stable_and_holds_the_token() {
    let mut net = Net::new(3, cfg(1000));
    for n in 1..=3 {
        net.start(n);
    }
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3])).unwrap();
    let installs = net.installs.len();
    net.run_ms(20_000);
    assert_eq!(net.installs.len(), installs, "no membership change on an idle ring");
    // With the hold, an idle ring passes the token a few times per `hold`, not every 200 µs.
    let forwarded: u64 = net.nodes.values().map(|t| t.stats().token_retransmits).sum();
    assert_eq!(forwarded, 0, "no token retransmissions on a healthy ring");
}

#[test]
fn last_peer_leaving_leaves_a_singleton_at_once() {
    let mut net = Net::new(2, cfg(1000));
    net.start(1);
    net.start(2);
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2])).unwrap();
    net.run_ms(500);
    net.stop(1);
    let took = net.run_until_true(2000, |n| n.all_operational_in(&[2])).unwrap();
    assert!(took.as_millis() < 20, "took {took}");
}

#[test]
fn an_idle_ring_sends_a_few_datagrams_per_second_per_node() {
    // With the hold (180 ms at token 1000), an idle token makes about one rotation per hold.
    let mut net = Net::new(3, cfg(1000));
    for n in 1..=3 {
        net.start(n);
    }
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3])).unwrap();
    net.run_ms(5000);
    let before = net.sent;
    net.run_ms(10_000);
    let per_node_per_s = (net.sent - before) as f64 / 3.0 / 10.0;
    assert!(per_node_per_s < 10.0, "{per_node_per_s} datagrams/s per node on an idle ring");
}
