//! One connection to `quorumd`: the socket, the frame reader, the local event queue, the
//! state page and the readiness fd handed to applications.
//!
//! Responses and notifications share one stream socket, so a request may read events that
//! the daemon queued before its reply (trackstart's snapshot always is). Those go to a local
//! queue that dispatch drains first. Because the socket is then no longer readable although
//! events are pending, the fd given to applications ([`Connection::poll_fd`]) is an epoll
//! instance watching both the socket and an eventfd that is non-zero exactly while the local
//! queue is non-empty: it polls readable whenever an event can be dispatched without waiting,
//! or the daemon hung up.
//!
//! Deviation from corosync: corosync's fd is the libqb event socket and reports
//! POLLIN|POLLHUP when the daemon exits; ours (an epoll fd) reports POLLIN then. Deviation from
//! corosync: `getquorate` reads the state page instead of asking (same answer, no round trip).
//!
//! Invariants (all under the `io` lock):
//! - `rbuf` never holds a complete frame when the lock is released (`pump` runs after every
//!   read), so readiness of the socket plus the queue's eventfd tell the whole story;
//! - `signalled` is true exactly while the eventfd's counter is non-zero, which is exactly
//!   while `queue` is non-empty;
//! - once `broken` or `eof` is set, no request is sent again (every call returns
//!   `CS_ERR_LIBRARY`, corosync-behaviour §2.5); events already queued are still delivered.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use quorumd_proto::ipc::{self, Frame, Notification, Request, Response};
use quorumd_proto::shm::FLAG_ALIVE;
use rustix::event::{epoll, eventfd, poll, EventfdFlags, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};

use crate::error::{from_errno, ConnectError, CsError};
use crate::shm_map::{PageMap, PageState};
use crate::Model;

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;

/// Whether a dispatch may wait for the first event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Return `None` when nothing is pending.
    No,
    /// Wait as long as it takes (EINTR just loops, like corosync's dispatch).
    Forever,
}

#[derive(Debug, Default)]
struct Io {
    rbuf: Vec<u8>,
    queue: VecDeque<Notification>,
    response: Option<Response>,
    awaiting: bool,
    signalled: bool,
    eof: bool,
    broken: bool,
}

/// A connection to the daemon that passed `Init`.
#[derive(Debug)]
pub struct Connection {
    sock: OwnedFd,
    eventfd: OwnedFd,
    epoll: OwnedFd,
    io: Mutex<Io>,
    /// Mirrors `eof || broken` for the lock-free `getquorate` path.
    dead: AtomicBool,
    page: Option<PageMap>,
    model: Model,
    quorum_type: u32,
}

fn lock(m: &Mutex<Io>) -> MutexGuard<'_, Io> {
    // A panic while holding the lock cannot leave `Io` half-updated in a way that breaks
    // memory safety; carry on with what is there.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn send_all(sock: &OwnedFd, mut bytes: &[u8]) -> Result<(), CsError> {
    while !bytes.is_empty() {
        // NOSIGNAL: a C host that did not ignore SIGPIPE must not die when the daemon is gone.
        match rustix::net::send(sock, bytes, SendFlags::NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(_) => return Err(CsError::Library),
        }
    }
    Ok(())
}

impl Io {
    /// Reads once. `Ok(false)`: nothing there (only without `blocking`).
    fn fill(
        &mut self,
        sock: &OwnedFd,
        blocking: bool,
        fd_out: Option<&mut Option<OwnedFd>>,
    ) -> Result<bool, CsError> {
        let flags = if blocking { RecvFlags::empty() } else { RecvFlags::DONTWAIT };
        self.rbuf.reserve(READ_CHUNK);
        let result = match fd_out {
            None => {
                rustix::net::recv(sock, rustix::buffer::spare_capacity(&mut self.rbuf), flags).map(|r| r.0)
            }
            Some(slot) => recv_with_fd(sock, &mut self.rbuf, flags, slot),
        };
        match result {
            Ok(0) => {
                self.eof = true;
                Ok(true)
            }
            Ok(_) => Ok(true),
            Err(Errno::AGAIN | Errno::INTR) => Ok(false),
            Err(_) => {
                self.broken = true;
                Err(CsError::Library)
            }
        }
    }

    /// Moves every complete frame out of `rbuf`: events to the queue, a response to its slot.
    /// A frame that does not decode, or one the daemon must never send, breaks the stream.
    fn pump(&mut self, eventfd: &OwnedFd) -> Result<(), CsError> {
        loop {
            let len = match ipc::frame_len(&self.rbuf) {
                Ok(Some(len)) => len,
                Ok(None) => return Ok(()),
                Err(_) => return Err(self.poison()),
            };
            let frame = ipc::decode(&self.rbuf[..len]);
            self.rbuf.drain(..len);
            match frame {
                Ok(Frame::Notification(n)) => {
                    self.queue.push_back(n);
                    self.signal(eventfd, true);
                }
                Ok(Frame::Response(r)) if self.awaiting && self.response.is_none() => self.response = Some(r),
                Ok(_) | Err(_) => return Err(self.poison()),
            }
        }
    }

    fn poison(&mut self) -> CsError {
        self.broken = true;
        self.rbuf.clear();
        CsError::MessageError
    }

    /// Keeps the eventfd non-zero exactly while the queue is non-empty.
    fn signal(&mut self, eventfd: &OwnedFd, pending: bool) {
        if pending && !self.signalled {
            let _ = rustix::io::write(eventfd, &1u64.to_ne_bytes());
            self.signalled = true;
        } else if !pending && self.signalled {
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(eventfd, &mut buf);
            self.signalled = false;
        }
    }

    fn pop(&mut self, eventfd: &OwnedFd) -> Option<Notification> {
        let n = self.queue.pop_front();
        if self.queue.is_empty() {
            self.signal(eventfd, false);
        }
        n
    }

    fn gone(&self) -> bool {
        self.eof || self.broken
    }
}

/// `recvmsg` accepting one `SCM_RIGHTS` fd (the state page that comes with the `Init` reply).
fn recv_with_fd(
    sock: &OwnedFd,
    rbuf: &mut Vec<u8>,
    flags: RecvFlags,
    slot: &mut Option<OwnedFd>,
) -> Result<usize, Errno> {
    let start = rbuf.len();
    rbuf.resize(start + READ_CHUNK, 0);
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [std::io::IoSliceMut::new(&mut rbuf[start..])];
    let got = rustix::net::recvmsg(sock, &mut iov, &mut control, flags | RecvFlags::CMSG_CLOEXEC);
    let n = got.as_ref().map_or(0, |m| m.bytes);
    rbuf.truncate(start + n);
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = msg {
            for fd in fds {
                // Keep the first; any other fd is closed when dropped here.
                if slot.is_none() {
                    *slot = Some(fd);
                }
            }
        }
    }
    got.map(|m| m.bytes)
}

fn connect_socket(path: &Path) -> Result<OwnedFd, ConnectError> {
    let sock = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(from_errno)?;
    let addr = SocketAddrUnix::new(path).map_err(|_| CsError::Library)?;
    loop {
        match rustix::net::connect(&sock, &addr) {
            Ok(()) => return Ok(sock),
            Err(Errno::INTR) => {}
            // The socket file exists but we may not open it: the access decision was made by
            // the file system instead of the daemon. Still CS_ERR_ACCESS for the C API.
            Err(e @ (Errno::ACCESS | Errno::PERM)) => {
                return Err(ConnectError::SocketPermission {
                    path: path.to_path_buf(),
                    errno: e.raw_os_error(),
                })
            }
            // ENOENT, ECONNREFUSED, ...: the daemon is not running (corosync-behaviour §1.4).
            Err(e) => return Err(from_errno(e).into()),
        }
    }
}

/// Waits until `sock` is readable or hung up. EINTR or any other error just returns: the
/// caller reads without blocking and loops.
fn wait_readable(sock: &OwnedFd) {
    let mut fds = [PollFd::new(sock, PollFlags::IN | PollFlags::RDHUP)];
    let _ = poll(&mut fds, None);
}

fn readiness_fds(sock: &OwnedFd) -> Result<(OwnedFd, OwnedFd), CsError> {
    let eventfd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).map_err(from_errno)?;
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(from_errno)?;
    epoll::add(&ep, sock, epoll::EventData::new_u64(0), epoll::EventFlags::IN | epoll::EventFlags::RDHUP)
        .map_err(from_errno)?;
    epoll::add(&ep, &eventfd, epoll::EventData::new_u64(1), epoll::EventFlags::IN).map_err(from_errno)?;
    Ok((eventfd, ep))
}

impl Connection {
    /// Connects to the daemon at `path` and opens a session with `model` (corosync-behaviour §1.4
    /// `quorum_model_initialize`). Daemon not running → `Library`; before its first sync →
    /// `TryAgain`; socket permissions or uid/gid refused → the two `CS_ERR_ACCESS` cases of
    /// [`ConnectError`].
    pub fn connect(path: &Path, model: Model) -> Result<Connection, ConnectError> {
        // What the daemon will see through SO_PEERCRED: the credentials at connect time.
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        let sock = connect_socket(path)?;
        let (eventfd, epoll) = readiness_fds(&sock)?;
        send_all(&sock, &ipc::encode(&Frame::Request(Request::Init { model: model as u32 })))?;
        let mut io = Io { awaiting: true, ..Io::default() };
        let mut page_fd = None;
        while io.response.is_none() {
            if io.gone() {
                return Err(CsError::Library.into());
            }
            io.fill(&sock, true, Some(&mut page_fd))?;
            io.pump(&eventfd)?;
        }
        io.awaiting = false;
        let quorum_type = match io.response.take() {
            Some(Response::Init { error, quorum_type }) => match CsError::check(error) {
                Ok(()) => quorum_type,
                Err(CsError::Access) => return Err(ConnectError::UidGidRefused { uid, gid }),
                Err(e) => return Err(e.into()),
            },
            _ => return Err(CsError::MessageError.into()),
        };
        // Without a page (an older daemon, or the fd did not come), getquorate falls back to
        // the round trip.
        let page = page_fd.and_then(PageMap::map);
        let dead = AtomicBool::new(io.gone());
        Ok(Connection { sock, eventfd, epoll, io: Mutex::new(io), dead, page, model, quorum_type })
    }

    /// The model this session was opened with.
    pub fn model(&self) -> Model {
        self.model
    }

    /// `QUORUM_SET` (1) or `QUORUM_FREE` (0), from the `Init` reply.
    pub fn quorum_type(&self) -> u32 {
        self.quorum_type
    }

    /// Whether the daemon's state page is mapped (getquorate without a round trip).
    pub fn has_page(&self) -> bool {
        self.page.is_some()
    }

    /// The fd to poll for readability: ready when an event can be dispatched without waiting
    /// or when the daemon hung up. Owned by the connection.
    pub fn poll_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    fn mark_dead(&self, io: &Io) {
        if io.gone() {
            self.dead.store(true, Ordering::Relaxed);
        }
    }

    /// One request and its response. Events read on the way are queued for dispatch.
    pub fn request(&self, req: Request) -> Result<Response, CsError> {
        let mut io = lock(&self.io);
        let result = self.request_locked(&mut io, req);
        io.awaiting = false;
        io.response = None;
        self.mark_dead(&io);
        result
    }

    fn request_locked(&self, io: &mut Io, req: Request) -> Result<Response, CsError> {
        if io.gone() {
            return Err(CsError::Library);
        }
        if let Err(e) = send_all(&self.sock, &ipc::encode(&Frame::Request(req))) {
            io.broken = true;
            return Err(e);
        }
        io.awaiting = true;
        loop {
            io.pump(&self.eventfd)?;
            if let Some(r) = io.response.take() {
                return Ok(r);
            }
            if io.gone() {
                return Err(CsError::Library);
            }
            // Wait in poll(POLLIN), then read without blocking. A read blocked on a stream
            // socket sleeps on the socket's one wait queue without a filter, so the daemon
            // reading our request (which frees its buffer and signals write space) would wake
            // this thread for nothing on every call; poll's waiter only wakes for the events it
            // asked for. One more syscall, one wake-up (two context switches) fewer.
            wait_readable(&self.sock);
            io.fill(&self.sock, false, None)?;
        }
    }

    /// The next event: from the local queue, else from the socket. With [`Wait::No`],
    /// `Ok(None)` when nothing is pending. `Err(Library)` once the daemon is gone and the
    /// queue is empty.
    pub(crate) fn next_event(&self, wait: Wait) -> Result<Option<Notification>, CsError> {
        loop {
            {
                let mut io = lock(&self.io);
                let got = self.try_event(&mut io);
                self.mark_dead(&io);
                match got {
                    Ok(None) if wait == Wait::Forever => {}
                    other => return other,
                }
            }
            // Wait without the lock, so that another thread's request on this connection is
            // not held up; its reads signal the eventfd when they queue events.
            self.wait_readable();
        }
    }

    fn try_event(&self, io: &mut Io) -> Result<Option<Notification>, CsError> {
        loop {
            if let Some(n) = io.pop(&self.eventfd) {
                return Ok(Some(n));
            }
            if io.gone() {
                return Err(CsError::Library);
            }
            if !io.fill(&self.sock, false, None)? {
                return Ok(None);
            }
            io.pump(&self.eventfd)?;
        }
    }

    fn wait_readable(&self) {
        let mut fds = [
            PollFd::new(&self.sock, PollFlags::IN | PollFlags::RDHUP),
            PollFd::new(&self.eventfd, PollFlags::IN),
        ];
        // EINTR or any other error: the caller loops and looks again.
        let _ = poll(&mut fds, None);
    }

    /// Whether the daemon has hung up, without reading anything (POLLIN alone only means
    /// events are pending).
    fn hung_up(&self) -> bool {
        let mut fds = [PollFd::new(&self.sock, PollFlags::RDHUP)];
        let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        match poll(&mut fds, Some(&zero)) {
            Ok(_) => fds[0]
                .revents()
                .intersects(PollFlags::HUP | PollFlags::RDHUP | PollFlags::ERR | PollFlags::NVAL),
            Err(_) => false,
        }
    }

    /// The page's view, if the page is mapped, the daemon is alive and the page readable.
    /// `Err(Library)` when the daemon is gone.
    pub(crate) fn page_state(&self) -> Result<Option<PageState>, CsError> {
        let Some(page) = &self.page else { return Ok(None) };
        if self.dead.load(Ordering::Relaxed) || self.hung_up() {
            return Err(CsError::Library);
        }
        match page.read() {
            Some(state) if state.flags & FLAG_ALIVE != 0 => Ok(Some(state)),
            // Cleared on the daemon's clean exit.
            Some(_) => Err(CsError::Library),
            // The writer never let go: ask the daemon instead.
            None => Ok(None),
        }
    }

    /// `quorum_getquorate`: from the state page when mapped, else by a round trip.
    pub fn getquorate(&self) -> Result<bool, CsError> {
        if let Some(state) = self.page_state()? {
            return Ok(state.quorate != 0);
        }
        self.getquorate_round_trip()
    }

    /// `quorum_getquorate` by a request to the daemon, whatever the page says.
    pub fn getquorate_round_trip(&self) -> Result<bool, CsError> {
        match self.request(Request::GetQuorate)? {
            Response::GetQuorate { error, quorate } => CsError::check(error).map(|()| quorate != 0),
            _ => Err(self.protocol_error()),
        }
    }

    /// A request whose answer is a bare result (`TrackStart`, `TrackStop`, reconfiguration).
    pub(crate) fn request_result(&self, req: Request) -> Result<(), CsError> {
        match self.request(req)? {
            Response::Result { error } => CsError::check(error),
            _ => Err(self.protocol_error()),
        }
    }

    /// The daemon answered with the wrong kind of response: the stream cannot be trusted.
    pub(crate) fn protocol_error(&self) -> CsError {
        let mut io = lock(&self.io);
        io.broken = true;
        self.mark_dead(&io);
        CsError::MessageError
    }
}
