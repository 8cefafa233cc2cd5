//! The state page against a real daemon: a stopped daemon's page goes stale and getquorate
//! then waits for the daemon (issue 11 item 5), and the page is the daemon's alone: a client,
//! even one allowed by `uidgid`, cannot write, map writable, resize or reseal it by any path
//! (item 6).
#![allow(clippy::disallowed_methods)]
// One `mmap` call: the attack on the page that must fail.
#![allow(unsafe_code)]

mod limits_harness;

use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use limits_harness::{is_root, Cluster};
use quorumd_client::{Model, QuorumClient};
use quorumd_proto::ipc::{encode, Frame, Request};
use quorumd_proto::shm::{stale_after_ms, PAGE_LEN};

/// Node 1 is stopped (SIGSTOP) for 3 s while a client on it calls getquorate in a loop. The
/// other two form a ring without it; no call may complete with an answer read from node 1's
/// frozen page once the freshness bound (500 ms at the default token) has passed: from then on
/// each call waits for the daemon, as corosync's does.
#[test]
fn a_stopped_daemon_gives_no_answer_after_the_staleness_bound() {
    let mut c = Cluster::new("frozen", 3, "");
    for n in 1..=3 {
        c.start(n);
    }
    for n in 1..=3 {
        c.wait_members(n, &[1, 2, 3], Duration::from_secs(10));
    }
    let client = QuorumClient::connect_with(c.socket(1), Model::V1).unwrap();
    assert!(client.has_state_page());
    assert_eq!(client.getquorate(), Ok(true));
    let answers: Arc<Mutex<Vec<(Instant, Instant, bool)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let (answers, stop) = (answers.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let q = client.getquorate().unwrap();
                answers.lock().unwrap().push((t0, Instant::now(), q));
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    c.kill(1, "-STOP");
    let stopped = Instant::now();
    // Nodes 2 and 3 form a ring without node 1 while it is stopped.
    c.wait_members(2, &[2, 3], Duration::from_secs(3));
    let remaining = Duration::from_secs(3).saturating_sub(stopped.elapsed());
    std::thread::sleep(remaining);
    let resumed = Instant::now();
    c.kill(1, "-CONT");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    caller.join().unwrap();
    // The bound, plus room for the calling thread to be descheduled between reading the page
    // and taking the time (the machine may be loaded).
    let bound = Duration::from_millis(stale_after_ms(1000)) + Duration::from_millis(300);
    let answers = answers.lock().unwrap();
    let during: Vec<_> =
        answers.iter().filter(|(_, done, _)| *done > stopped + bound && *done < resumed).collect();
    assert!(
        during.is_empty(),
        "{} answers came from the stopped daemon's page after the bound, e.g. {:?} after the stop",
        during.len(),
        during.first().map(|(_, done, q)| (done.duration_since(stopped), q))
    );
    assert!(
        answers.iter().any(|(t0, done, _)| *t0 < resumed && *done > resumed),
        "a call made during the stop waited for the daemon"
    );
    assert!(answers.iter().any(|(_, done, _)| *done < stopped), "calls were answered before the stop");
}

/// Connects to `sock` as whoever we are, passes Init and returns the page descriptor.
fn page_fd(sock: &Path) -> OwnedFd {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::io::Write;
    let mut s = UnixStream::connect(sock).unwrap();
    s.write_all(&encode(&Frame::Request(Request::Init { model: 1 }))).unwrap();
    let mut buf = [0u8; 4096];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    recvmsg(&s, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC).unwrap();
    let fd = control.drain().find_map(|m| match m {
        RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
        _ => None,
    });
    fd.expect("the Init reply carries the page")
}

/// Every way of changing the page through `fd`; one line per attempt, "ok" when it failed
/// as it must.
fn attack(fd: &OwnedFd) -> Vec<String> {
    use rustix::fs::{fallocate, fcntl_add_seals, ftruncate, FallocateFlags, Mode, OFlags, SealFlags};
    use rustix::mm::{MapFlags, ProtFlags};
    let mut out = Vec::new();
    let mut check =
        |what: &str, failed: bool| out.push(format!("{what}: {}", if failed { "ok" } else { "WRITABLE" }));
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    match rustix::fs::open(&proc_path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
        // Root may reopen it (no DAC check), but still may not change it: try through it too.
        Ok(rw) => {
            check("reopen rw", is_root());
            check("pwrite via reopened", rustix::io::pwrite(&rw, b"\x01\x00\x00\x00", 20).is_err());
            check("ftruncate via reopened", ftruncate(&rw, 0).is_err());
            check(
                "fallocate via reopened",
                fallocate(&rw, FallocateFlags::empty(), 0, 2 * PAGE_LEN as u64).is_err(),
            );
            // SAFETY: a fresh mapping request (null hint); if it succeeded it is unmapped at once.
            let map = unsafe {
                rustix::mm::mmap(std::ptr::null_mut(), PAGE_LEN, ProtFlags::WRITE, MapFlags::SHARED, &rw, 0)
            };
            if let Ok(p) = map {
                // SAFETY: the mapping just made.
                let _ = unsafe { rustix::mm::munmap(p, PAGE_LEN) };
            }
            check("mmap write via reopened", map.is_err());
            check("add seal via reopened", fcntl_add_seals(&rw, SealFlags::WRITE).is_err());
        }
        Err(_) => check("reopen rw", true),
    }
    check("pwrite", rustix::io::pwrite(fd, b"\x01\x00\x00\x00", 20).is_err());
    check("ftruncate", ftruncate(fd, 0).is_err());
    check("fallocate", fallocate(fd, FallocateFlags::empty(), 0, 2 * PAGE_LEN as u64).is_err());
    // SAFETY: as above.
    let map = unsafe {
        rustix::mm::mmap(std::ptr::null_mut(), PAGE_LEN, ProtFlags::WRITE, MapFlags::SHARED, fd, 0)
    };
    if let Ok(p) = map {
        // SAFETY: the mapping just made.
        let _ = unsafe { rustix::mm::munmap(p, PAGE_LEN) };
    }
    check("mmap write", map.is_err());
    check("add seal", fcntl_add_seals(fd, SealFlags::WRITE).is_err());
    if !is_root() {
        check("fchmod", rustix::fs::fchmod(fd, Mode::from_raw_mode(0o666)).is_err());
    }
    out
}

/// As a `uidgid`-allowed user (uid/gid 65534 here) and as root: reopening the received page
/// through /proc/self/fd read-write, mapping it writable, writing, resizing and resealing it
/// all fail, and the page still says what the daemon says.
#[test]
fn no_client_can_change_the_state_page() {
    if !is_root() {
        println!("SKIPPED: needs root to run a client as another user");
        return;
    }
    // One node of three: not quorate, so a forged quorate=1 would show.
    let mut c = Cluster::new("pagewrite", 3, "uidgid {\n  uid: 65534\n}\n");
    c.start(1);
    c.wait_members(1, &[1], Duration::from_secs(10));
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "page_child", "--nocapture", "--include-ignored"])
        .env("QUORUMD_PAGE_CHILD_SOCKET", c.socket(1))
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("CHILD ")).collect();
    assert!(
        lines.len() >= 7,
        "the child ran its attacks:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for l in &lines {
        assert!(l.ends_with(": ok"), "uid 65534 could change the page: {l}\n{stdout}");
    }
    for l in attack(&page_fd(&c.socket(1))) {
        assert!(l.ends_with(": ok"), "root could change the page: {l}");
    }
    let client = QuorumClient::connect_with(c.socket(1), Model::V1).unwrap();
    assert!(client.has_state_page(), "the sealed page is accepted");
    assert_eq!(client.getquorate(), Ok(false));
}

#[test]
#[ignore = "run by no_client_can_change_the_state_page as uid 65534"]
fn page_child() {
    let Some(sock) = std::env::var_os("QUORUMD_PAGE_CHILD_SOCKET") else { return };
    assert!(!is_root());
    for l in attack(&page_fd(Path::new(&sock))) {
        println!("CHILD {l}");
    }
}
