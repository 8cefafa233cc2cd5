//! Lost state and hostile datagrams (issue 11, items 1-3): a node whose state directory was
//! wiped rejoins as fast as after a normal restart; a forged join cannot lock a node out; a
//! ring seq near `u64::MAX` cannot wedge formation; far-ahead messages do not grow the store.
//!
//! Each scenario is also run with the mutant that reverts its fix, and must fail there: that
//! is the proof that the test can fail.

#![allow(clippy::disallowed_methods)] // test harness: reads TOTEM_TRACE from the environment

mod harness;

use harness::{id, Net};
use quorumd_proto::limits::{MESSAGE_WINDOW, RING_SEQ_JUMP_MAX};
use quorumd_proto::wire::{Header, Join, Mcast, Message, Packet, Token};
use quorumd_proto::{MemberList, RingId};
use quorumd_totem::{Dropped, Mutant, Totem, TotemConfig, TotemKeys};

fn cfg() -> TotemConfig {
    TotemKeys::default().derive(3).unwrap()
}

fn formed(mutant: Option<Mutant>) -> Net {
    let mut net = Net::new(3, cfg());
    net.mutant = mutant;
    for n in 1..=3 {
        net.start(n);
    }
    net.run_until_true(2000, |n| n.all_operational_in(&[1, 2, 3])).expect("3 nodes form");
    net.run_ms(500);
    net
}

fn header(from: u32, ring_id: RingId) -> Header {
    Header { cluster_id: 7, sender: id(from), ring_id }
}

fn all() -> MemberList {
    MemberList::from_ids([id(1), id(2), id(3)]).unwrap()
}

/// Node 3 restarted normally three times, then from a wiped state directory; returns how long
/// each start took to reach the 3-node ring, or an error naming the start that never did.
fn restarts(mutant: Option<Mutant>, immediate: bool) -> Result<Vec<u64>, String> {
    let mut net = formed(mutant);
    let mut took = Vec::new();
    for round in 0..4 {
        net.crash(3);
        if round == 3 {
            net.persisted.remove(&id(3)); // the state directory is gone: start_seq 1
        }
        if !immediate {
            net.run_until_true(3000, |n| n.all_operational_in(&[1, 2])).ok_or("survivors re-form")?;
            net.run_ms(300);
        }
        net.start(3);
        let t = net.run_until_true(5000, |n| n.all_operational_in(&[1, 2, 3])).ok_or(format!(
            "start {} (wiped: {}) never rejoined",
            round + 1,
            round == 3
        ))?;
        took.push(t.as_millis());
        net.run_ms(300);
    }
    Ok(took)
}

#[test]
fn a_node_with_wiped_state_rejoins_as_fast_as_after_a_normal_restart() {
    for immediate in [false, true] {
        let took = restarts(None, immediate).unwrap();
        let normal = took[..3].iter().copied().max().unwrap();
        // As fast as a normal restart, give or take one join period.
        assert!(took[3] <= normal + 50, "immediate {immediate}: {took:?}");
    }
}

#[test]
fn ordering_joins_by_boot_leaves_the_wiped_node_out() {
    let r = restarts(Some(Mutant::OrderJoinsByBoot), false);
    assert!(r.is_err(), "the reverted rule let the wiped node in: {r:?}");
}

/// A forged join "from node 3" with a huge incarnation and join_seq reaches node 1 (`refused`:
/// while node 3 is down, naming node 1 failed, so that node 1 refuses it; otherwise while node 3
/// is up, a join node 1 takes). Returns whether node 3, (re)started afterwards, is back in the
/// ring within `bound_ms`.
fn forged_join_then_restart(mutant: Option<Mutant>, refused: bool, bound_ms: u64) -> bool {
    let mut net = formed(mutant);
    if refused {
        net.crash(3);
        net.run_until_true(3000, |n| n.all_operational_in(&[1, 2]));
        net.run_ms(300);
    }
    let ring = net.nodes[&id(1)].ring_id();
    let join = Join {
        ring_seq: ring.seq,
        incarnation: u64::MAX,
        join_seq: u64::MAX,
        proc_list: all(),
        failed_list: if refused { MemberList::single(id(1)) } else { MemberList::new() },
    };
    let r = net.inject(1, Packet { header: header(3, ring), message: Message::Join(join) });
    if refused {
        assert_eq!(r, Err(Dropped::NotApplicable), "an outsider's join naming us failed is refused");
    } else {
        net.run_until_true(3000, |n| n.all_operational_in(&[1, 2, 3]));
        net.crash(3);
        net.run_until_true(3000, |n| n.all_operational_in(&[1, 2]));
        net.run_ms(300);
    }
    net.start(3);
    net.run_until_true(bound_ms, |n| n.all_operational_in(&[1, 2, 3])).is_some()
}

#[test]
fn a_refused_forged_join_changes_nothing() {
    assert!(forged_join_then_restart(None, true, 100), "node 3 was locked out by a refused join");
    assert!(
        !forged_join_then_restart(Some(Mutant::OrderJoinsByBoot), true, 3000),
        "the reverted rule (store, then refuse) did not lock node 3 out"
    );
}

#[test]
fn an_accepted_forged_join_locks_nobody_out() {
    assert!(forged_join_then_restart(None, false, 100), "node 3 was locked out by a forged join");
    assert!(!forged_join_then_restart(Some(Mutant::OrderJoinsByBoot), false, 3000));
}

#[test]
fn a_forged_new_incarnation_holds_the_real_one_off_for_one_consensus_period_at_most() {
    let mut net = formed(None);
    let ring = net.nodes[&id(1)].ring_id();
    let join = Join {
        ring_seq: ring.seq,
        incarnation: 42,
        join_seq: 1,
        proc_list: all(),
        failed_list: MemberList::new(),
    };
    net.inject(1, Packet { header: header(3, ring), message: Message::Join(join) }).unwrap();
    // Node 1 gathers with the forged view; node 3's real joins are held off for one consensus
    // period (200 ms), then the three re-form.
    let took = net.run_until_true(3000, |n| n.all_operational_in(&[1, 2, 3])).expect("re-form");
    assert!(took.as_millis() <= 1500, "took {took}");
}

/// A join with a ring seq near `u64::MAX` reaches node 1; then node 3 crashes. Returns whether
/// the survivors re-form within 3 s, and the ring seq they reach.
fn huge_ring_seq_then_crash(mutant: Option<Mutant>) -> (bool, u64) {
    let mut net = formed(mutant);
    let ring = net.nodes[&id(1)].ring_id();
    let join = Join {
        ring_seq: u64::MAX - 2,
        incarnation: 7,
        join_seq: 1,
        proc_list: all(),
        failed_list: MemberList::new(),
    };
    let _ = net.inject(1, Packet { header: header(2, ring), message: Message::Join(join) });
    net.run_until_true(3000, |n| n.all_operational_in(&[1, 2, 3]));
    net.run_ms(500);
    net.crash(3);
    let ok = net.run_until_true(3000, |n| n.all_operational_in(&[1, 2])).is_some();
    (ok, net.nodes[&id(1)].ring_id().seq)
}

#[test]
fn a_ring_seq_near_the_end_of_its_range_does_not_wedge_formation() {
    let (ok, seq) = huge_ring_seq_then_crash(None);
    assert!(ok, "the survivors did not re-form");
    assert!(seq < 4 * RING_SEQ_JUMP_MAX, "seq {seq:#x}: more than the bounded jumps");
    let (ok, seq) = huge_ring_seq_then_crash(Some(Mutant::UnboundedRingSeq));
    assert!(!ok, "the unbounded mutant re-formed (seq {seq:#x})");
}

#[test]
fn a_wiped_node_catches_up_with_a_cluster_far_ahead() {
    // A cluster pushed further ahead than one jump (two forged joins): a wiped node climbs.
    let mut net = formed(None);
    for (k, from) in [(1u64, 2u32), (2, 3)] {
        let ring = net.nodes[&id(1)].ring_id();
        let join = Join {
            ring_seq: u64::MAX,
            incarnation: 100 + k,
            join_seq: 1,
            proc_list: all(),
            failed_list: MemberList::new(),
        };
        let _ = net.inject(1, Packet { header: header(from, ring), message: Message::Join(join) });
        net.run_until_true(3000, |n| n.all_operational_in(&[1, 2, 3])).expect("re-form");
        net.run_ms(500);
    }
    assert!(net.nodes[&id(1)].ring_id().seq > RING_SEQ_JUMP_MAX + 4);
    net.crash(3);
    net.persisted.remove(&id(3));
    net.run_until_true(3000, |n| n.all_operational_in(&[1, 2])).expect("survivors");
    net.start(3);
    net.run_until_true(10_000, |n| n.all_operational_in(&[1, 2, 3])).expect("the wiped node catches up");
}

fn far_ahead_flood(mutant: Option<Mutant>) -> usize {
    let mut net = formed(mutant);
    let ring = net.nodes[&id(1)].ring_id();
    for k in 0..40_000u64 {
        let m = Mcast { seq: 10 + k * 3, origin: id(2), encapsulated: None, payload: vec![0; 64] };
        let _ = net.inject(1, Packet { header: header(2, ring), message: Message::Mcast(m) });
    }
    let held = net.nodes[&id(1)].stored_messages();
    net.run_ms(1000);
    assert!(net.all_operational_in(&[1, 2, 3]));
    held
}

#[test]
fn far_ahead_messages_do_not_grow_the_store() {
    let held = far_ahead_flood(None);
    assert!(held as u64 <= MESSAGE_WINDOW, "{held} messages held");
    assert!(held <= Totem::STORED_MESSAGES_MAX);
    let held = far_ahead_flood(Some(Mutant::UnboundedStore));
    assert!(held > 30_000, "the unbounded mutant held only {held}");
}

#[test]
fn a_token_with_inconsistent_seqs_is_refused_and_changes_nothing() {
    let mut net = formed(None);
    let ring = net.nodes[&id(1)].ring_id();
    let before = (net.nodes[&id(1)].state(), net.nodes[&id(1)].stored_messages());
    for (seq, aru, token_seq) in
        [(u64::MAX, 0, 1_000_000), (u64::MAX, u64::MAX, 1_000_000), (5, 9, 1_000_000)]
    {
        let t = Token {
            token_seq,
            seq,
            aru,
            rotation_aru: 0,
            fcc: 0,
            backlog: 0,
            retrans_flg: false,
            clear_rotations: 0,
            rtr: vec![u64::MAX],
        };
        let r = net.inject(1, Packet { header: header(3, ring), message: Message::Token(t) });
        assert!(r.is_err(), "token seq {seq:#x} aru {aru:#x} taken");
    }
    assert_eq!(before, (net.nodes[&id(1)].state(), net.nodes[&id(1)].stored_messages()));
    net.run_ms(2000);
    assert!(net.all_operational_in(&[1, 2, 3]));
    assert_eq!(net.nodes[&id(1)].ring_id(), ring, "the forged tokens broke the ring");

    // The mutant without the checks takes such a token (and the ring is lost).
    let mut net = formed(Some(Mutant::UnboundedRingSeq));
    let ring = net.nodes[&id(1)].ring_id();
    let t = Token {
        token_seq: 1_000_000,
        seq: u64::MAX,
        aru: 0,
        rotation_aru: 0,
        fcc: 0,
        backlog: 0,
        retrans_flg: false,
        clear_rotations: 0,
        rtr: Vec::new(),
    };
    assert_eq!(net.inject(1, Packet { header: header(3, ring), message: Message::Token(t) }), Ok(()));
}

/// The node's whole state, with the drop counter left out.
fn snapshot(t: &Totem) -> String {
    let s = format!("{t:?}");
    let at = s.find("dropped: ").expect("stats are printed");
    let end = at + s[at..].find(',').unwrap();
    format!("{}{}", &s[..at], &s[end..])
}

#[test]
fn a_refused_datagram_changes_nothing_whatever_its_values() {
    let mut net = formed(None);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut refused, mut taken) = (0, 0);
    for round in 0..3000 {
        if round == 1500 {
            // Also while gathering: node 3 crashed, nodes 1 and 2 are forming a new ring.
            net.crash(3);
            net.run_ms(1100);
        }
        let ring = net.nodes[&id(1)].ring_id();
        let pick = |v: u64, r: u64| match r % 5 {
            0 => v,
            1 => u64::MAX - (r % 3),
            2 => v.saturating_add(r % 2000),
            3 => v.saturating_sub(1 + r % 10),
            _ => r,
        };
        let r = next();
        let ring_id = if r % 3 == 0 { RingId { rep: 1, seq: pick(ring.seq, next()) } } else { ring };
        let message = match r % 5 {
            0 => Message::Join(Join {
                ring_seq: pick(ring.seq, next()),
                incarnation: pick(0, next()),
                join_seq: pick(1, next()),
                proc_list: all(),
                failed_list: if next() % 2 == 0 { MemberList::new() } else { MemberList::single(id(1)) },
            }),
            1 => Message::Token(Token {
                token_seq: pick(0, next()),
                seq: pick(0, next()),
                aru: pick(0, next()),
                rotation_aru: pick(0, next()),
                fcc: 0,
                backlog: 0,
                retrans_flg: next() % 2 == 0,
                clear_rotations: 0,
                rtr: vec![pick(0, next())],
            }),
            2 => Message::Mcast(Mcast {
                seq: pick(1, next()),
                origin: id(1 + (next() % 3) as u32),
                encapsulated: None,
                payload: vec![1; 16],
            }),
            3 => Message::Commit(quorumd_proto::wire::Commit {
                new_ring_id: RingId { rep: 1, seq: pick(ring.seq + 4, next()) },
                rotation: 1 + (next() % 2) as u8,
                token_seq: pick(1, next()),
                entries: [1u32, 2, 3]
                    .iter()
                    .map(|n| quorumd_proto::wire::CommitEntry {
                        node: id(*n),
                        old_ring_id: ring,
                        aru: pick(0, next()),
                        high_seq: pick(0, next()),
                        filled: true,
                    })
                    .collect(),
            }),
            _ => Message::MergeDetect,
        };
        let from = 2 + (next() % 2) as u32;
        let packet = Packet { header: header(from, ring_id), message };
        let now = net.now;
        let t = net.nodes.get_mut(&id(1)).unwrap();
        let before = snapshot(t);
        if t.handle_packet(now, packet.clone()).is_err() {
            refused += 1;
            assert_eq!(before, snapshot(t), "refused {packet:?} changed the state");
        } else {
            taken += 1;
        }
        net.run_ms(1 + next() % 5);
    }
    eprintln!("{refused} refused, {taken} taken");
    assert!(refused > 1000 && taken > 100, "{refused} refused, {taken} taken");
}
