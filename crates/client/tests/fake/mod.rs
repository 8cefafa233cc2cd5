//! A fake `quorumd` for tests and benchmarks: a Unix listener speaking the IPC frames of
//! `quorumd_proto::ipc` with the daemon's session rules (corosync-behaviour §1.4, mirrored from
//! `quorumd-node`), a state page memfd passed with the `Init` reply, and knobs for the error
//! paths (init refusals, malformed frames, wrong responses, crash, clean exit).
//!
//! A control socket at `<path>.ctl` lets another process (the C conformance program) drive it:
//! write one byte, read one byte back when done: `c` = push a membership change to trackers,
//! `k` = crash (close every connection, page left "alive"), `s` = clean stop (clear
//! FLAG_ALIVE, then close).
//!
//! The page is written as the daemon writes it: through a writable shared mapping made before
//! the memfd is sealed `SHRINK | GROW | FUTURE_WRITE | SEAL` (unless `seal_page` is off), with
//! a heartbeat thread rewriting `heartbeat_ms` every 100 ms (unless frozen).
#![allow(dead_code, clippy::disallowed_methods, missing_docs)]

use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread;

use quorumd_proto::ipc::{self, cs, Frame, Notification, Request, Response, WireRingId};
use quorumd_proto::shm::{StatePage, FLAG_ALIVE, PAGE_LEN};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

/// How the fake answers.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// The `Init` result (`cs::OK`, `cs::ERR_TRY_AGAIN`, `cs::ERR_ACCESS`, ...); 0 = hang up
    /// without answering.
    pub init_error: u32,
    /// `QUORUM_SET` (1) / `QUORUM_FREE` (0).
    pub quorum_type: u32,
    /// Pass the state page with the `Init` reply.
    pub send_page: bool,
    /// Seal the page as the daemon does (off: a page a client must refuse).
    pub seal_page: bool,
    /// Queue a quorum notification before every GetQuorate reply.
    pub event_before_reply: bool,
    /// Answer GetQuorate with bytes that do not decode.
    pub garbage_reply: bool,
    /// Answer GetQuorate with the wrong response kind.
    pub wrong_reply: bool,
}

impl Default for Behaviour {
    fn default() -> Behaviour {
        Behaviour {
            init_error: cs::OK,
            quorum_type: 1,
            send_page: true,
            seal_page: true,
            event_before_reply: false,
            garbage_reply: false,
            wrong_reply: false,
        }
    }
}

#[derive(Clone, Debug)]
struct View {
    quorate: bool,
    ring: WireRingId,
    members: Vec<u32>,
}

struct Client {
    out: Mutex<UnixStream>,
    /// The fake's end of the session's event socket (a SEQPACKET pair), once `Init` passed.
    events: Mutex<Option<OwnedFd>>,
    model: Mutex<Option<u32>>,
    tracking: AtomicBool,
}

struct Shared {
    behaviour: Behaviour,
    view: Mutex<View>,
    page: OwnedFd,
    writer: Mutex<writer::PageWriter>,
    /// The flags of the last write (the heartbeat rewrites the page with them).
    page_flags: AtomicU32,
    /// The heartbeat thread stops rewriting the page (a stopped daemon).
    frozen: AtomicBool,
    clients: Mutex<Vec<Arc<Client>>>,
    requests: AtomicU64,
    stopped: AtomicBool,
}

/// A running fake daemon. Its socket lives in a fresh directory under the system temp dir.
pub struct FakeDaemon {
    pub path: PathBuf,
    dir: PathBuf,
    shared: Arc<Shared>,
}

fn unique_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("quorumd-fake-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl FakeDaemon {
    pub fn start(behaviour: Behaviour) -> FakeDaemon {
        let dir = unique_dir();
        let path = dir.join("quorumd.sock");
        let page = rustix::fs::memfd_create(
            "quorumd-state",
            rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
        )
        .unwrap();
        rustix::fs::ftruncate(&page, PAGE_LEN as u64).unwrap();
        let writer = writer::PageWriter::new(&page);
        if behaviour.seal_page {
            use rustix::fs::SealFlags;
            let seals = SealFlags::SHRINK | SealFlags::GROW | SealFlags::FUTURE_WRITE | SealFlags::SEAL;
            rustix::fs::fcntl_add_seals(&page, seals).unwrap();
        }
        let shared = Arc::new(Shared {
            behaviour,
            view: Mutex::new(View {
                quorate: true,
                ring: WireRingId { nodeid: 1, seq: 4 },
                members: vec![1],
            }),
            page,
            writer: Mutex::new(writer),
            page_flags: AtomicU32::new(0),
            frozen: AtomicBool::new(false),
            clients: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        });
        shared.write_page(FLAG_ALIVE);
        let weak = Arc::downgrade(&shared);
        thread::spawn(move || heartbeat_loop(weak));
        let listener = UnixListener::bind(&path).unwrap();
        let s = Arc::clone(&shared);
        thread::spawn(move || accept_loop(listener, s));
        let ctl = UnixListener::bind(path.with_extension("sock.ctl")).unwrap();
        let s = Arc::clone(&shared);
        thread::spawn(move || control_loop(ctl, s));
        FakeDaemon { path, dir, shared }
    }

    /// The control socket path (`<path>.ctl`).
    pub fn ctl_path(&self) -> PathBuf {
        self.path.with_extension("sock.ctl")
    }

    /// Requests answered so far (to tell page reads from round trips).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// A new membership: page first, then nodelist (V1) and quorum notifications to trackers.
    pub fn change(&self, quorate: bool, ring: WireRingId, members: &[u32], joined: &[u32], left: &[u32]) {
        self.shared.change(quorate, ring, members, joined, left);
    }

    /// Sets quorate in the page only (no notification), e.g. to see a page read.
    pub fn set_page_quorate(&self, quorate: bool) {
        self.shared.view.lock().unwrap().quorate = quorate;
        self.shared.write_page(FLAG_ALIVE);
    }

    /// Leaves the page's seqlock odd, as a writer that died mid-update would.
    pub fn wedge_page(&self) {
        self.shared.frozen.store(true, Ordering::SeqCst);
        self.shared.writer.lock().unwrap().wedge();
    }

    /// Stops (true) or restarts (false) the heartbeat, as SIGSTOP / SIGCONT would.
    pub fn freeze_heartbeat(&self, frozen: bool) {
        self.shared.frozen.store(frozen, Ordering::SeqCst);
    }

    /// Crash: every connection closed, page left as it was (FLAG_ALIVE still set).
    pub fn crash(&self) {
        self.shared.close_all();
    }

    /// Clean exit: FLAG_ALIVE cleared first, then every connection closed.
    pub fn stop(&self) {
        self.shared.write_page(0);
        self.shared.close_all();
    }

    /// Frees the connection threads of a crash without closing: clear FLAG_ALIVE only.
    pub fn clear_alive(&self) {
        self.shared.write_page(0);
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.shared.close_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Shared {
    fn write_page(&self, flags: u32) {
        let v = self.view.lock().unwrap().clone();
        let body = StatePage {
            flags,
            quorate: u32::from(v.quorate),
            quorum_type: self.behaviour.quorum_type,
            ring_rep: v.ring.nodeid,
            ring_seq: v.ring.seq,
            heartbeat_ms: {
                let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
                t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
            },
            stale_after_ms: 500,
            view: v.members,
        }
        .encode_body();
        self.page_flags.store(flags, Ordering::SeqCst);
        self.writer.lock().unwrap().write(&body);
    }

    fn change(&self, quorate: bool, ring: WireRingId, members: &[u32], joined: &[u32], left: &[u32]) {
        *self.view.lock().unwrap() = View { quorate, ring, members: members.to_vec() };
        self.write_page(FLAG_ALIVE);
        let nodelist = ipc::encode(&Frame::Notification(Notification::Nodelist {
            ring_id: ring,
            members: members.to_vec(),
            joined: joined.to_vec(),
            left: left.to_vec(),
        }));
        let quorum = self.quorum_frame();
        for c in self.clients.lock().unwrap().iter() {
            if !c.tracking.load(Ordering::SeqCst) {
                continue;
            }
            if *c.model.lock().unwrap() == Some(1) {
                c.event(&nodelist);
            }
            c.event(&quorum);
        }
    }

    fn quorum_frame(&self) -> Vec<u8> {
        let v = self.view.lock().unwrap().clone();
        ipc::encode(&Frame::Notification(Notification::Quorum {
            quorate: u32::from(v.quorate),
            ring_id: v.ring,
            members: v.members,
        }))
    }

    fn close_all(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for c in self.clients.lock().unwrap().drain(..) {
            let _ = c.out.lock().unwrap().shutdown(std::net::Shutdown::Both);
            // Closing our end of the event socket is the hang-up the client sees there.
            c.events.lock().unwrap().take();
        }
    }
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let client = Arc::new(Client {
            out: Mutex::new(stream.try_clone().unwrap()),
            events: Mutex::new(None),
            model: Mutex::new(None),
            tracking: AtomicBool::new(false),
        });
        shared.clients.lock().unwrap().push(Arc::clone(&client));
        let s = Arc::clone(&shared);
        thread::spawn(move || serve(stream, client, s));
    }
}

fn control_loop(listener: UnixListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { return };
        let mut cmd = [0u8; 1];
        if stream.read_exact(&mut cmd).is_err() {
            continue;
        }
        match cmd[0] {
            b'c' => {
                let ring = shared.view.lock().unwrap().ring;
                let next = WireRingId { nodeid: 1, seq: ring.seq + 4 };
                shared.change(true, next, &[1, 2], &[2], &[]);
            }
            b'k' => shared.close_all(),
            b's' => {
                shared.write_page(0);
                shared.close_all();
            }
            _ => {}
        }
        let _ = stream.write_all(b"!");
    }
}

fn read_frame(stream: &mut UnixStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        match ipc::frame_len(buf) {
            Ok(Some(n)) => return Some(buf.drain(..n).collect()),
            Ok(None) => {}
            Err(_) => return None,
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Client {
    /// One event frame as one packet on the event socket.
    fn event(&self, bytes: &[u8]) {
        if let Some(fd) = self.events.lock().unwrap().as_ref() {
            let _ = rustix::net::send(fd, bytes, SendFlags::NOSIGNAL);
        }
    }
}

fn send(client: &Client, frame: Frame) {
    let _ = client.out.lock().unwrap().write_all(&ipc::encode(&frame));
}

fn send_init_ok(client: &Client, shared: &Shared) {
    let bytes = ipc::encode(&Frame::Response(Response::Init {
        error: cs::OK,
        quorum_type: shared.behaviour.quorum_type,
    }));
    let out = client.out.lock().unwrap();
    let (ours, theirs) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::SEQPACKET,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    *client.events.lock().unwrap() = Some(ours);
    let mut fds = vec![theirs.as_fd()];
    if shared.behaviour.send_page {
        fds.push(shared.page.as_fd());
    }
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
    let iov = [std::io::IoSlice::new(&bytes)];
    let n = rustix::net::sendmsg(&*out, &iov, &mut control, SendFlags::NOSIGNAL).unwrap();
    assert_eq!(n, bytes.len());
}

fn serve(mut stream: UnixStream, client: Arc<Client>, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    while let Some(bytes) = read_frame(&mut stream, &mut buf) {
        shared.requests.fetch_add(1, Ordering::SeqCst);
        let Ok(Frame::Request(req)) = ipc::decode(&bytes) else { break };
        let model = *client.model.lock().unwrap();
        match (req, model) {
            (Request::Init { model }, None) => {
                let b = &shared.behaviour;
                if b.init_error == 0 {
                    break;
                }
                if b.init_error != cs::OK || model > 1 {
                    let error = if model > 1 { cs::ERR_INVALID_PARAM } else { b.init_error };
                    send(&client, Frame::Response(Response::Init { error, quorum_type: b.quorum_type }));
                    break;
                }
                *client.model.lock().unwrap() = Some(model);
                send_init_ok(&client, &shared);
            }
            (_, None) | (Request::Init { .. }, Some(_)) => break,
            (req, Some(model)) => answer(&client, &shared, model, req),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    client.events.lock().unwrap().take();
    shared.clients.lock().unwrap().retain(|c| !Arc::ptr_eq(c, &client));
}

fn answer(client: &Client, shared: &Shared, model: u32, req: Request) {
    let b = &shared.behaviour;
    let response = match req {
        Request::GetQuorate if b.garbage_reply => {
            let _ = client.out.lock().unwrap().write_all(&[0, 0, 0, 8, 99, 1, 0, 2, 0, 0, 0, 1]);
            return;
        }
        Request::GetQuorate if b.wrong_reply => Response::Result { error: cs::OK },
        Request::GetQuorate => {
            if b.event_before_reply {
                client.event(&shared.quorum_frame());
            }
            let quorate = u32::from(shared.view.lock().unwrap().quorate);
            Response::GetQuorate { error: cs::OK, quorate }
        }
        Request::TrackStart { flags } => Response::Result { error: trackstart(client, shared, model, flags) },
        Request::TrackStop => {
            client.tracking.store(false, Ordering::SeqCst);
            Response::Result { error: cs::OK }
        }
        Request::Status => Response::Status { error: cs::OK, json: "{\"fake\":true}".into() },
        Request::SetExpected { expected: 0 } => Response::Result { error: cs::ERR_INVALID_PARAM },
        Request::SetExpected { .. } | Request::SetVotes { .. } | Request::CancelWaitForAll => {
            Response::Result { error: cs::OK }
        }
        Request::Reload => Response::Reloaded { error: cs::OK, text: "fake: nothing changed".into() },
        Request::Init { .. } => return,
    };
    send(client, Frame::Response(response));
}

/// corosync-behaviour §1.4 trackstart, in its order: snapshot, then EXIST / enable / plain OK.
fn trackstart(client: &Client, shared: &Shared, model: u32, flags: u32) -> u32 {
    if flags & 0x03 != 0 {
        let v = shared.view.lock().unwrap().clone();
        if model == 1 {
            let nodelist =
                Notification::Nodelist { ring_id: v.ring, members: v.members, joined: vec![], left: vec![] };
            client.event(&ipc::encode(&Frame::Notification(nodelist)));
        }
        client.event(&shared.quorum_frame());
    }
    if client.tracking.load(Ordering::SeqCst) {
        cs::ERR_EXIST
    } else {
        if flags & 0x06 != 0 {
            client.tracking.store(true, Ordering::SeqCst);
        }
        cs::OK
    }
}

/// Connects to a fake daemon's control socket and runs one command.
pub fn control(ctl: &Path, cmd: u8) {
    let mut s = UnixStream::connect(ctl).unwrap();
    s.write_all(&[cmd]).unwrap();
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).unwrap();
}

/// Rewrites the page every 100 ms (a fresh heartbeat) until the fake is gone.
fn heartbeat_loop(shared: Weak<Shared>) {
    loop {
        thread::sleep(std::time::Duration::from_millis(100));
        let Some(s) = shared.upgrade() else { return };
        if !s.frozen.load(Ordering::SeqCst) && !s.stopped.load(Ordering::SeqCst) {
            s.write_page(s.page_flags.load(Ordering::SeqCst));
        }
    }
}

/// The fake's writable shared mapping of the page, made before sealing (as the daemon's).
mod writer {
    #![allow(unsafe_code)]

    use std::os::fd::OwnedFd;
    use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

    use quorumd_proto::shm::PAGE_LEN;

    pub struct PageWriter {
        ptr: *mut u8,
        seq: u64,
    }

    // SAFETY: the mapping is process memory valid until `Drop`; every access is atomic, and
    // the fake serialises writers with a mutex.
    unsafe impl Send for PageWriter {}

    impl PageWriter {
        pub fn new(fd: &OwnedFd) -> PageWriter {
            use rustix::mm::{MapFlags, ProtFlags};
            // SAFETY: a fresh shared mapping of the PAGE_LEN-byte file (null hint, no
            // MAP_FIXED), aliasing no Rust object.
            let ptr = unsafe {
                rustix::mm::mmap(
                    std::ptr::null_mut(),
                    PAGE_LEN,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::SHARED,
                    fd,
                    0,
                )
            }
            .unwrap();
            PageWriter { ptr: ptr.cast(), seq: 0 }
        }

        fn store32(&self, at: usize, v: u32) {
            assert!(at % 4 == 0 && at + 4 <= PAGE_LEN);
            // SAFETY: in bounds and 4-aligned inside the live page-aligned mapping.
            unsafe { AtomicU32::from_ptr(self.ptr.add(at).cast::<u32>()) }.store(v, Ordering::Relaxed);
        }

        fn store_seq(&self, v: u64) {
            // SAFETY: offset 0 of the live page-aligned mapping.
            unsafe { AtomicU64::from_ptr(self.ptr.cast::<u64>()) }.store(v, Ordering::Release);
        }

        /// A seqlock write of `body` (the page from offset 8).
        pub fn write(&mut self, body: &[u8]) {
            self.seq = (self.seq + 1) | 1; // odd (also after a wedge)
            self.store_seq(self.seq);
            fence(Ordering::Release);
            for (i, w) in body.chunks_exact(4).enumerate() {
                self.store32(8 + 4 * i, u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
            }
            self.seq += 1;
            self.store_seq(self.seq);
        }

        /// Leaves the seqlock odd, as a writer that died mid-update would.
        pub fn wedge(&mut self) {
            self.seq = (self.seq + 1) | 1;
            self.store_seq(self.seq);
        }
    }

    impl Drop for PageWriter {
        fn drop(&mut self) {
            // SAFETY: exactly the mapping made in `new`, unmapped only here.
            let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), PAGE_LEN) };
        }
    }
}
