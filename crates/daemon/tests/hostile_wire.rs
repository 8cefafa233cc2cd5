//! Well-formed hostile datagrams, crypto off (issue 11, items 2 and 3; docs/totem.md, "Bounds
//! on what the wire can make a node do"): a ring seq near `u64::MAX` does not wedge the
//! cluster, and a flood of far-ahead ordered messages does not grow a daemon's memory. Sent
//! from a test socket bound to a member's address, as any host that can spoof it could.
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

mod wire_cluster;

use std::net::UdpSocket;
use std::time::Duration;

use quorumd_proto::limits::{MCAST_PAYLOAD_MAX, RING_SEQ_JUMP_MAX};
use quorumd_proto::wire::{Join, Mcast, Message};
use quorumd_proto::{MemberList, NodeId, RingId};
use wire_cluster::Cluster;

const ALL: [u64; 3] = [1, 2, 3];

fn id(n: u32) -> NodeId {
    NodeId::new(n).unwrap()
}

fn formed(name: &str) -> (Cluster, RingId) {
    let mut c = Cluster::new(name, 3);
    for n in 1..=3 {
        c.start(n);
    }
    c.wait_all(&[1, 2, 3], &ALL, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let ring = c.ring(1);
    assert_eq!(ring.rep, 1);
    (c, ring)
}

#[test]
fn a_ring_seq_near_u64_max_does_not_wedge_the_cluster() {
    let (mut c, ring) = formed("hugeseq");
    // One join "from node 2" to node 1, announcing a ring seq three short of the end.
    let join = Join {
        ring_seq: u64::MAX - 3,
        incarnation: 0x5eed_0000_0000_0001,
        join_seq: 1,
        proc_list: MemberList::from_ids([id(1), id(2), id(3)]).unwrap(),
        failed_list: MemberList::new(),
    };
    c.forge(2, 1, ring, Message::Join(join));
    c.wait_all(&[1, 2, 3], &ALL, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    c.signal(3, "-KILL");
    // The survivors re-form as after any crash (token 1 s, then one consensus period).
    let took = c.wait_all(&[1, 2], &[1, 2], Duration::from_secs(5));
    let seq = c.ring(1).seq;
    assert!(c.stored_ring_seq(1) < 4 * RING_SEQ_JUMP_MAX, "the forged seq was stored");
    eprintln!("survivors re-formed after {took:?}, ring seq {seq:#x}");
    assert!(seq < 4 * RING_SEQ_JUMP_MAX, "ring seq {seq:#x}: the forged seq was taken");
    // And the next restart still works.
    c.start(3);
    c.wait_all(&[1, 2, 3], &ALL, Duration::from_secs(5));
}

#[test]
fn a_flood_of_far_ahead_messages_does_not_grow_memory() {
    let (c, ring) = formed("flood");
    let before = c.rss_kib(1);
    let s = UdpSocket::bind("127.0.0.2:0").unwrap();
    // 40,000 ordered messages of the largest size "from node 2", none of them ever ordered by
    // the ring: seqs from 100 on, every third one (as an attacker would pick them).
    for k in 0..40_000u64 {
        let m = Mcast {
            seq: 100 + 3 * k,
            origin: id(2),
            encapsulated: None,
            payload: vec![0x5a; MCAST_PAYLOAD_MAX],
        };
        c.forge_on(&s, 2, 1, ring, Message::Mcast(m));
        if k % 200 == 199 {
            // Let the daemon keep up (its socket buffer would drop the rest).
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = c.rss_kib(1);
    let grown_kib = after.saturating_sub(before);
    eprintln!("VmRSS {before} KiB -> {after} KiB (+{grown_kib} KiB)");
    // docs/totem.md: a node in a formed ring stores at most MESSAGE_WINDOW (1024) messages
    // above a gap, at most 8.7 MB of payload and bookkeeping; twice that for the allocator.
    assert!(grown_kib < 2 * 8_700_000 / 1024, "VmRSS grew by {grown_kib} KiB");
    c.wait_all(&[1, 2, 3], &ALL, Duration::from_secs(2));
}
