//! The C-semantics layer (`quorumd_client::classic`) against a fake daemon: every return-code
//! path of corosync-behaviour §1.4, the dispatch modes, events queued during a request, finalize inside a
//! callback and the daemon-gone behaviour of corosync-behaviour §2.5.
#![allow(clippy::disallowed_methods)]

mod fake;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use fake::{Behaviour, FakeDaemon};
use quorumd_client::classic::{self, ModelCallbacks, QuorumHandle};
use quorumd_client::{CsError, RingId};
use quorumd_proto::ipc::cs;
use rustix::event::{poll, PollFd, PollFlags};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Quorum(u32, RingId, Vec<u32>),
    Nodelist(RingId, Vec<u32>, Vec<u32>, Vec<u32>),
    V0(u32, u64, Vec<u32>),
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn v1_logging(log: &Log) -> ModelCallbacks {
    let (a, b) = (Arc::clone(log), Arc::clone(log));
    ModelCallbacks::V1 {
        quorum: Some(Arc::new(move |_, q, r, m| a.lock().unwrap().push(Seen::Quorum(q, r, m.to_vec())))),
        nodelist: Some(Arc::new(move |_, r, m, j, l| {
            b.lock().unwrap().push(Seen::Nodelist(r, m.to_vec(), j.to_vec(), l.to_vec()))
        })),
    }
}

fn open_v1(fake: &FakeDaemon) -> (QuorumHandle, Log) {
    let log = Log::default();
    let (h, r) = classic::model_initialize_at(&fake.path, v1_logging(&log), 0);
    assert_eq!(r, Ok(1));
    (h, log)
}

fn ring(nodeid: u32, seq: u64) -> RingId {
    RingId { nodeid, seq }
}

fn readable(fd: i32) -> PollFlags {
    #[allow(unsafe_code)]
    // SAFETY: `fd` comes from `fd_get` on a handle that stays open for this whole call; the
    // borrow ends before the function returns.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 })).unwrap();
    fds[0].revents()
}

#[test]
fn spec_1_4_init_success_types_handles_and_context() {
    let fake = FakeDaemon::start(Behaviour::default());
    let (h, r) = classic::model_initialize_at(&fake.path, ModelCallbacks::V0 { quorum: None }, 0xfeed);
    assert_eq!(r, Ok(1));
    assert_ne!(h >> 32, 0, "the check half of a handle is never 0");
    assert_eq!(classic::context_get(h), Ok(0xfeed));
    assert_eq!(classic::context_set(h, 77), Ok(()));
    assert_eq!(classic::context_get(h), Ok(77));
    assert_eq!(classic::model_get(h), Ok(quorumd_client::Model::V0));
    assert_eq!(classic::finalize(h), Ok(()));
    assert_eq!(classic::finalize(h), Err(CsError::BadHandle));
    assert_eq!(classic::context_get(h), Err(CsError::BadHandle));
    assert_eq!(classic::context_set(h, 1), Err(CsError::BadHandle));
    assert_eq!(classic::getquorate(h), Err(CsError::BadHandle));
    assert_eq!(classic::trackstart(h, 1), Err(CsError::BadHandle));
    assert_eq!(classic::trackstop(h), Err(CsError::BadHandle));
    assert_eq!(classic::fd_get(h), Err(CsError::BadHandle));
    assert_eq!(classic::dispatch(h, 2), Err(CsError::BadHandle));

    let free = FakeDaemon::start(Behaviour { quorum_type: 0, ..Behaviour::default() });
    let (h2, r) = classic::model_initialize_at(&free.path, ModelCallbacks::V0 { quorum: None }, 0);
    assert_eq!(r, Ok(0), "QUORUM_FREE without a provider");
    assert_ne!(h2, h, "a reused slot gets a new check value");
    classic::finalize(h2).unwrap();
}

#[test]
fn spec_1_4_init_failures_leave_a_dead_handle() {
    let gone = std::env::temp_dir().join("quorumd-no-such-dir/quorumd.sock");
    for (behaviour, expected) in [
        (Some(Behaviour { init_error: cs::ERR_TRY_AGAIN, ..Behaviour::default() }), CsError::TryAgain),
        (Some(Behaviour { init_error: cs::ERR_ACCESS, ..Behaviour::default() }), CsError::Access),
        (Some(Behaviour { init_error: 0, ..Behaviour::default() }), CsError::Library),
        (None, CsError::Library),
    ] {
        let fake = behaviour.map(FakeDaemon::start);
        let path = fake.as_ref().map_or(gone.clone(), |f| f.path.clone());
        let (h, r) = classic::model_initialize_at(&path, ModelCallbacks::V0 { quorum: None }, 0);
        assert_eq!(r, Err(expected));
        // corosync-behaviour §7 quirk 6, kept: the handle was written, and it is dead.
        assert_ne!(h, 0);
        assert_eq!(classic::getquorate(h), Err(CsError::BadHandle));
        assert_eq!(classic::finalize(h), Err(CsError::BadHandle));
    }
}

#[test]
fn getquorate_reads_the_page_without_a_round_trip() {
    let fake = FakeDaemon::start(Behaviour::default());
    let (h, _) = open_v1(&fake);
    let before = fake.requests();
    assert_eq!(classic::getquorate(h), Ok(true));
    fake.set_page_quorate(false);
    assert_eq!(classic::getquorate(h), Ok(false));
    assert_eq!(fake.requests(), before, "no request for a page read");
    assert_eq!(classic::getquorate_round_trip(h), Ok(false));
    assert_eq!(fake.requests(), before + 1);
    // A writer that never lets go of the seqlock: fall back to asking.
    fake.wedge_page();
    assert_eq!(classic::getquorate(h), Ok(false));
    assert_eq!(fake.requests(), before + 2);
    classic::finalize(h).unwrap();
}

#[test]
fn getquorate_without_a_page_asks_the_daemon() {
    let fake = FakeDaemon::start(Behaviour { send_page: false, ..Behaviour::default() });
    let (h, _) = open_v1(&fake);
    let before = fake.requests();
    assert_eq!(classic::getquorate(h), Ok(true));
    assert_eq!(fake.requests(), before + 1);
    classic::finalize(h).unwrap();
}

#[test]
fn spec_2_5_page_of_a_dead_daemon_is_not_trusted() {
    let fake = FakeDaemon::start(Behaviour::default());
    let (h, _) = open_v1(&fake);
    fake.clear_alive();
    assert_eq!(classic::getquorate(h), Err(CsError::Library), "FLAG_ALIVE cleared");
    classic::finalize(h).unwrap();

    let fake = FakeDaemon::start(Behaviour::default());
    let (h, _) = open_v1(&fake);
    fake.crash();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(classic::getquorate(h), Err(CsError::Library), "socket hung up, page still says alive");
    classic::finalize(h).unwrap();
}

#[test]
fn spec_1_4_trackstart_snapshot_order_exist_and_trackstop() {
    let fake = FakeDaemon::start(Behaviour::default());
    let (h, log) = open_v1(&fake);
    assert_eq!(classic::dispatch(h, 4), Err(CsError::TryAgain), "nothing pending yet");
    assert_eq!(classic::trackstart(h, 1), Ok(()));
    assert_eq!(classic::trackstart(h, 1), Ok(()), "CURRENT alone is repeatable");
    assert_eq!(classic::trackstart(h, 2), Ok(()));
    assert_eq!(classic::trackstart(h, 2), Err(CsError::Exist), "already tracking");
    assert_eq!(classic::dispatch(h, 2), Ok(()));
    let snapshot =
        vec![Seen::Nodelist(ring(1, 4), vec![1], vec![], vec![]), Seen::Quorum(1, ring(1, 4), vec![1])];
    let all: Vec<Seen> = log.lock().unwrap().drain(..).collect();
    assert_eq!(all, [snapshot.clone(), snapshot.clone(), snapshot.clone(), snapshot].concat());
    assert_eq!(classic::dispatch(h, 2), Ok(()), "ALL with nothing pending is OK");
    assert_eq!(classic::trackstop(h), Ok(()));
    assert_eq!(classic::trackstop(h), Ok(()), "corosync-behaviour §7 quirk 1: OK when not tracking");
    classic::finalize(h).unwrap();
}

#[test]
fn events_read_during_a_request_are_queued_and_the_fd_says_so() {
    let fake = FakeDaemon::start(Behaviour { event_before_reply: true, ..Behaviour::default() });
    let (h, log) = open_v1(&fake);
    let fd = classic::fd_get(h).unwrap();
    assert!(!readable(fd).contains(PollFlags::IN));
    assert_eq!(classic::getquorate_round_trip(h), Ok(true));
    assert!(readable(fd).contains(PollFlags::IN), "a queued event must make the fd readable");
    assert_eq!(classic::dispatch(h, 4), Ok(()));
    assert_eq!(log.lock().unwrap().as_slice(), [Seen::Quorum(1, ring(1, 4), vec![1])]);
    assert!(!readable(fd).contains(PollFlags::IN), "drained");
    assert_eq!(classic::dispatch(h, 4), Err(CsError::TryAgain));
    classic::finalize(h).unwrap();
}

#[test]
fn spec_1_4_dispatch_modes() {
    let fake = FakeDaemon::start(Behaviour::default());
    let (h, log) = open_v1(&fake);
    assert_eq!(classic::dispatch(h, 0), Err(CsError::InvalidParam));
    assert_eq!(classic::dispatch(h, 5), Err(CsError::InvalidParam));
    assert_eq!(classic::dispatch(0, 9), Err(CsError::InvalidParam), "mode checked before the handle");
    classic::trackstart(h, 2).unwrap();
    // ONE_NONBLOCKING handles exactly one of the two snapshot events.
    assert_eq!(classic::dispatch(h, 4), Ok(()));
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(classic::dispatch(h, 4), Ok(()));
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(classic::dispatch(h, 4), Err(CsError::TryAgain));
    // ONE waits for the next event.
    let fake = Arc::new(fake);
    let f2 = Arc::clone(&fake);
    let pusher = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        f2.change(false, ring(1, 8), &[1, 3], &[3], &[2]);
    });
    assert_eq!(classic::dispatch(h, 1), Ok(()));
    assert_eq!(log.lock().unwrap()[2], Seen::Nodelist(ring(1, 8), vec![1, 3], vec![3], vec![2]));
    assert_eq!(classic::dispatch(h, 1), Ok(()));
    assert_eq!(log.lock().unwrap()[3], Seen::Quorum(0, ring(1, 8), vec![1, 3]));
    pusher.join().unwrap();
    classic::finalize(h).unwrap();
}

#[test]
fn spec_1_4_finalize_inside_a_callback_ends_blocking_dispatch() {
    let fake = FakeDaemon::start(Behaviour::default());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = Arc::clone(&calls);
    let cb = ModelCallbacks::V1 {
        quorum: None,
        nodelist: Some(Arc::new(move |h, _, _, _, _| {
            // Any function may be called from a callback: no lock is held.
            c.lock().unwrap().push((classic::getquorate(h), classic::context_get(h), classic::finalize(h)));
        })),
    };
    let (h, r) = classic::model_initialize_at(&fake.path, cb, 5);
    assert_eq!(r, Ok(1));
    classic::trackstart(h, 1).unwrap();
    assert_eq!(classic::dispatch(h, 3), Err(CsError::BadHandle));
    assert_eq!(calls.lock().unwrap().as_slice(), [(Ok(true), Ok(5), Ok(()))]);
    assert_eq!(classic::dispatch(h, 2), Err(CsError::BadHandle));
}

#[test]
fn a_missing_callback_drops_the_event_and_still_counts_for_one() {
    let fake = FakeDaemon::start(Behaviour::default());
    let log = Log::default();
    let l = Arc::clone(&log);
    let cb = ModelCallbacks::V1 {
        quorum: Some(Arc::new(move |_, q, r, m| l.lock().unwrap().push(Seen::Quorum(q, r, m.to_vec())))),
        nodelist: None,
    };
    let (h, _) = classic::model_initialize_at(&fake.path, cb, 0);
    classic::trackstart(h, 1).unwrap();
    assert_eq!(classic::dispatch(h, 4), Ok(()), "the nodelist event, dropped");
    assert!(log.lock().unwrap().is_empty());
    assert_eq!(classic::dispatch(h, 4), Ok(()));
    assert_eq!(log.lock().unwrap().len(), 1);
    classic::finalize(h).unwrap();
}

#[test]
fn v0_callbacks_get_the_ring_seq() {
    let fake = FakeDaemon::start(Behaviour::default());
    let log = Log::default();
    let l = Arc::clone(&log);
    let (h, r) = classic::initialize_at(
        &fake.path,
        Some(Arc::new(move |_, q, seq, m| l.lock().unwrap().push(Seen::V0(q, seq, m.to_vec())))),
    );
    assert_eq!(r, Ok(1));
    classic::trackstart(h, 2).unwrap();
    fake.change(true, ring(2, 12), &[1, 2], &[2], &[]);
    assert_eq!(classic::dispatch(h, 1), Ok(()));
    assert_eq!(classic::dispatch(h, 1), Ok(()));
    assert_eq!(log.lock().unwrap().as_slice(), [Seen::V0(1, 4, vec![1]), Seen::V0(1, 12, vec![1, 2])]);
    classic::finalize(h).unwrap();
}

#[test]
fn spec_2_5_daemon_gone() {
    let fake = FakeDaemon::start(Behaviour::default());
    let (h, log) = open_v1(&fake);
    classic::trackstart(h, 2).unwrap();
    let fd = classic::fd_get(h).unwrap();
    fake.crash();
    thread::sleep(Duration::from_millis(50));
    assert!(readable(fd).contains(PollFlags::IN), "the poll fd wakes the application");
    // Events that arrived before the hang-up are still delivered, then LIBRARY.
    assert_eq!(classic::dispatch(h, 2), Err(CsError::Library));
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(classic::dispatch(h, 3), Err(CsError::Library));
    assert_eq!(classic::dispatch(h, 1), Err(CsError::Library));
    assert_eq!(classic::dispatch(h, 4), Err(CsError::Library));
    assert_eq!(classic::getquorate(h), Err(CsError::Library));
    assert_eq!(classic::getquorate_round_trip(h), Err(CsError::Library));
    assert_eq!(classic::trackstart(h, 1), Err(CsError::Library));
    assert_eq!(classic::trackstop(h), Err(CsError::Library));
    assert_eq!(classic::context_set(h, 3), Ok(()), "local calls still work");
    assert_eq!(classic::finalize(h), Ok(()), "finalize still OK");
    // And a new init while it is down: LIBRARY.
    let (_, r) = classic::model_initialize_at(&fake.path, ModelCallbacks::V0 { quorum: None }, 0);
    assert_eq!(r, Err(CsError::Library));
}

#[test]
fn blocking_dispatch_ends_with_library_when_the_daemon_exits() {
    let fake = Arc::new(FakeDaemon::start(Behaviour::default()));
    let (h, _) = open_v1(&fake);
    let f2 = Arc::clone(&fake);
    let stopper = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        f2.stop();
    });
    assert_eq!(classic::dispatch(h, 3), Err(CsError::Library));
    stopper.join().unwrap();
    assert_eq!(classic::finalize(h), Ok(()));
}

#[test]
fn malformed_or_unexpected_frames_are_errors_not_panics() {
    for behaviour in [
        Behaviour { garbage_reply: true, send_page: false, ..Behaviour::default() },
        Behaviour { wrong_reply: true, send_page: false, ..Behaviour::default() },
    ] {
        let fake = FakeDaemon::start(behaviour);
        let (h, _) = open_v1(&fake);
        assert_eq!(classic::getquorate(h), Err(CsError::MessageError));
        assert_eq!(classic::getquorate(h), Err(CsError::Library), "the stream is not trusted again");
        assert_eq!(classic::dispatch(h, 2), Err(CsError::Library));
        assert_eq!(classic::finalize(h), Ok(()));
    }
}

#[test]
fn requests_and_dispatch_from_two_threads_share_one_handle() {
    let fake =
        FakeDaemon::start(Behaviour { event_before_reply: true, send_page: false, ..Behaviour::default() });
    let (h, log) = open_v1(&fake);
    let dispatcher = thread::spawn(move || classic::dispatch(h, 3));
    for _ in 0..50 {
        assert_eq!(classic::getquorate(h), Ok(true));
    }
    // Every event queued by the requests reaches the blocking dispatcher.
    for _ in 0..100 {
        if log.lock().unwrap().len() == 50 {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(log.lock().unwrap().len(), 50);
    classic::finalize(h).unwrap();
    fake.crash();
    assert!(dispatcher.join().unwrap().is_err());
}

/// A daemon that stopped rewriting its page (SIGSTOP) is not trusted past the freshness
/// bound: getquorate asks it instead; once it writes again, the page is used again.
#[test]
fn a_stale_page_is_not_trusted_and_the_call_asks_the_daemon() {
    let fake = FakeDaemon::start(Behaviour::default());
    let (h, _) = open_v1(&fake);
    let before = fake.requests();
    assert_eq!(classic::getquorate(h), Ok(true));
    assert_eq!(fake.requests(), before, "a fresh page is read");
    fake.freeze_heartbeat(true);
    std::thread::sleep(std::time::Duration::from_millis(quorumd_proto::shm::STALE_AFTER_MAX_MS + 200));
    assert_eq!(classic::getquorate(h), Ok(true));
    assert_eq!(fake.requests(), before + 1, "a stale page sends the call to the daemon");
    fake.freeze_heartbeat(false);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let again = fake.requests();
    assert_eq!(classic::getquorate(h), Ok(true));
    assert_eq!(fake.requests(), again, "fresh again: read from the page");
    classic::finalize(h).unwrap();
}

/// A page without the seals that make it the daemon's alone (anyone could have written it)
/// is never mapped: getquorate asks the daemon.
#[test]
fn an_unsealed_page_is_refused() {
    let fake = FakeDaemon::start(Behaviour { seal_page: false, ..Behaviour::default() });
    let (h, _) = open_v1(&fake);
    let before = fake.requests();
    assert_eq!(classic::getquorate(h), Ok(true));
    assert_eq!(fake.requests(), before + 1);
    classic::finalize(h).unwrap();
}
