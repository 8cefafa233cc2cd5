//! A CPG reader that reads slowly but keeps reading is never disconnected: three daemons on
//! loopback, one session sending 1 MiB messages on every node; node 2's session takes one
//! message every 500 ms for its first 10 s before it reads at full speed. The senders must get
//! `CS_ERR_TRY_AGAIN` (the whole ring holds back for the slow reader) and every session,
//! the slow reader included, must deliver every message of every sender, in order, whole.
//!
//! Before the ring-wide hold, the three senders' backlogs (32 MiB each) overran the reader's
//! 64 MiB event bound and the daemon disconnected it (PROCDOWN to the others, then
//! `CS_ERR_LIBRARY` in the reader). Every process and file is removed when the test ends.
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use quorumd_client::cpg::{CpgClient, CpgEvent, GroupName, Guarantee, ModelFlags};
use quorumd_client::error::CsError;

mod wire_cluster;
use wire_cluster::Cluster;

const MSGS: u32 = 40;
const SIZE: usize = 1 << 20;
const SENDERS: u32 = 3;
const SLOW_FOR: Duration = Duration::from_secs(10);
const LIMIT: Duration = Duration::from_secs(120);

fn payload(node: u32, i: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(SIZE);
    p.extend_from_slice(&node.to_be_bytes());
    p.extend_from_slice(&i.to_be_bytes());
    p.extend((8..SIZE).map(|k| (k as u32 ^ node.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8));
    p
}

fn connect(c: &Cluster, n: u32) -> CpgClient {
    let start = Instant::now();
    loop {
        match CpgClient::connect_with(c.socket(n), ModelFlags::empty()) {
            Ok(s) => return s,
            Err(e) if start.elapsed() > Duration::from_secs(20) => panic!("node {n}: no CPG session ({e})"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Checks and counts one delivery; true once every sender's every message arrived.
fn take(who: &str, ev: CpgEvent, next: &mut [u32; SENDERS as usize], members: &mut usize) -> bool {
    match ev {
        CpgEvent::Deliver { nodeid, data, .. } => {
            let from = u32::from_be_bytes(data[..4].try_into().unwrap());
            let i = u32::from_be_bytes(data[4..8].try_into().unwrap());
            assert_eq!(from, nodeid, "{who}: a message of node {from} delivered as node {nodeid}'s");
            let want = &mut next[from as usize - 1];
            assert_eq!(i, *want, "{who}: node {from}'s messages lost, duplicated or reordered");
            assert!(data == payload(from, i), "{who}: node {from}'s message {i} is not whole");
            *want += 1;
        }
        CpgEvent::Confchg { members: m, left, .. } => {
            assert!(left.is_empty(), "{who}: a member left under load: {left:?}");
            *members = m.len();
        }
        CpgEvent::TotemConfchg { .. } => {}
    }
    next.iter().all(|&n| n == MSGS)
}

/// One session's life: waits for every member, sends its messages (retrying on TRY_AGAIN)
/// and reads until it has every sender's every message. `slow`: for the first [`SLOW_FOR`] it
/// takes one message every 500 ms.
fn run(c: &Cluster, node: u32, s: CpgClient, slow: bool, start: &Barrier, try_again: &AtomicU64) {
    let who = format!("node {node}");
    let (mut next, mut members) = ([0u32; SENDERS as usize], 0);
    while members < SENDERS as usize {
        take(&who, s.next_event().unwrap(), &mut next, &mut members);
    }
    start.wait();
    let began = Instant::now();
    let mut sent = 0;
    let mut done = false;
    while !done {
        assert!(began.elapsed() < LIMIT, "{who}: sent {sent}, delivered {next:?} in {LIMIT:?}");
        if sent < MSGS {
            let p = payload(node, sent);
            match s.mcast(Guarantee::Agreed, &[IoSlice::new(&p)]) {
                Ok(()) => sent += 1,
                Err(CsError::TryAgain) => {
                    try_again.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    panic!("{who}: mcast: {e:?} after {next:?}\n{}", wire_cluster::tail(&c.log(node), 20))
                }
            }
        }
        let slow_now = slow && began.elapsed() < SLOW_FOR;
        let mut idle = true;
        loop {
            let ev = match s.try_next_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) => panic!(
                    "{who}: lost its session ({e:?}) after {next:?}\n{}",
                    wire_cluster::tail(&c.log(node), 20)
                ),
            };
            idle = false;
            let message = matches!(ev, CpgEvent::Deliver { .. });
            done = take(&who, ev, &mut next, &mut members);
            if done {
                break;
            }
            if slow_now && message {
                std::thread::sleep(Duration::from_millis(500));
                break;
            }
        }
        if idle && (sent == MSGS || try_again.load(Ordering::Relaxed) > 0) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[test]
fn a_slow_reader_holds_every_sender_back_and_is_never_disconnected() {
    let mut c = Cluster::new("cpg-slow-reader", SENDERS);
    for n in 1..=SENDERS {
        c.start(n);
    }
    let group = GroupName::new("slow").unwrap();
    let sessions: Vec<CpgClient> = (1..=SENDERS).map(|n| connect(&c, n)).collect();
    for s in &sessions {
        loop {
            match s.join(&group) {
                Ok(()) => break,
                Err(CsError::TryAgain) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("join: {e:?}"),
            }
        }
    }
    let start = Barrier::new(SENDERS as usize);
    let try_again = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (k, s) in sessions.into_iter().enumerate() {
            let node = k as u32 + 1;
            let (c, start, try_again) = (&c, &start, &try_again);
            // Node 2's session also reads slowly for the first SLOW_FOR.
            scope.spawn(move || run(c, node, s, node == 2, start, try_again));
        }
    });
    assert!(try_again.load(Ordering::Relaxed) > 0, "the senders were never held back");
}
