//! One session with the daemon, of any service: the request socket and the event socket.
//!
//! Design (see `docs/services.md`): the client connects a stream socket to the daemon and
//! sends the service's `Init` (its frame kind names the service). With a successful answer
//! the daemon passes the client's end of a `SOCK_SEQPACKET` socket pair it created; every
//! event of the session arrives there, one frame per packet, and nothing else does. Requests
//! and responses alone use the stream socket, strictly one at a time.
//!
//! Why two sockets, like libqb, and not one: the fd applications poll ([`Channel::event_fd`])
//! must be a Unix socket whose peer is the daemon (Pacemaker checks `SO_PEERCRED` for uid 0 /
//! gid 0 on every fd it gets), readable exactly when dispatch has work, and must report
//! POLLHUP when the daemon dies. With one socket, a request reads the events queued before
//! its reply and must keep them locally, and the socket then no longer tells whether events
//! are pending. With a socket that carries events only, one packet each, the kernel keeps that
//! promise: nothing is ever buffered in the library, and the daemon's end closing (its exit,
//! crash or `kill -9`) is a hang-up on ours.
//!
//! Invariants: at most one request is outstanding per session (the `req` lock); the request
//! socket never carries an event, the event socket never a response; once the daemon's
//! stream is seen closed or broken no request is sent again (`CS_ERR_LIBRARY`).
#![forbid(unsafe_code)]

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use quorumd_proto::ipc::{self, FRAME_MAX};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};

use crate::error::{from_errno, ConnectError, CsError};

/// Whether a read of the event socket may wait for the first event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Return `None` when nothing is pending.
    No,
    /// Wait as long as it takes (EINTR just loops, like corosync's dispatch).
    Forever,
}

/// What the `Init` exchange produced: the response frame and the descriptors that came with
/// it (the event socket first; for quorum, the state page second).
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) sock: OwnedFd,
    pub(crate) response: Vec<u8>,
    pub(crate) fds: Vec<OwnedFd>,
}

/// An open session.
#[derive(Debug)]
pub(crate) struct Channel {
    sock: OwnedFd,
    events: OwnedFd,
    /// Bytes of a response read so far (only under the lock).
    req: Mutex<Vec<u8>>,
    dead: AtomicBool,
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
            // ENOENT, ECONNREFUSED, ...: the daemon is not running.
            Err(e) => return Err(from_errno(e).into()),
        }
    }
}

/// Waits until `fd` is readable or hung up. EINTR or any other error just returns: the
/// caller reads without blocking and loops.
fn wait_readable(fd: &OwnedFd) {
    let mut fds = [PollFd::new(fd, PollFlags::IN | PollFlags::RDHUP)];
    let _ = poll(&mut fds, None);
}

/// Reads one frame's worth from the stream socket into `buf` (which may already hold part of
/// it). With `fds`, accepts descriptors (the `Init` response). `Err(Library)`: closed or broken.
fn read_frame(
    sock: &OwnedFd,
    buf: &mut Vec<u8>,
    mut fds: Option<&mut Vec<OwnedFd>>,
) -> Result<Vec<u8>, CsError> {
    loop {
        match ipc::frame_len(buf) {
            Ok(Some(n)) if n == buf.len() => return Ok(std::mem::take(buf)),
            // The daemon sends one response per request: anything more is not ours to read.
            Ok(Some(_)) | Err(_) => return Err(CsError::MessageError),
            Ok(None) => {}
        }
        // Wait in poll(POLLIN), then read without blocking: a read blocked on a stream socket
        // is woken for nothing when the daemon reads our request (write space).
        wait_readable(sock);
        let start = buf.len();
        let got = match fds.as_deref_mut() {
            // Into the vector's spare room: no zeroing, the length grows by what was read.
            None => {
                buf.reserve(16 * 1024);
                rustix::net::recv(sock, rustix::buffer::spare_capacity(&mut *buf), RecvFlags::DONTWAIT)
                    .map(|r| r.0)
            }
            Some(out) => {
                buf.resize(start + 16 * 1024, 0);
                let r = recv_with_fds(sock, &mut buf[start..], out);
                buf.truncate(start + r.as_ref().map_or(0, |n| *n));
                r
            }
        };
        match got {
            Ok(0) => return Err(CsError::Library),
            Ok(_) | Err(Errno::AGAIN | Errno::INTR) => {}
            Err(_) => return Err(CsError::Library),
        }
    }
}

/// `recvmsg` accepting up to two `SCM_RIGHTS` descriptors.
fn recv_with_fds(sock: &OwnedFd, buf: &mut [u8], out: &mut Vec<OwnedFd>) -> Result<usize, Errno> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let got =
        rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC);
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = msg {
            // Beyond two, the extra ones are closed when dropped here.
            out.extend(fds.take(2usize.saturating_sub(out.len())));
        }
    }
    got.map(|m| m.bytes)
}

impl Channel {
    /// Connects to `path` and sends `init` (a service's `Init` request frame); returns the
    /// response and the descriptors that came with it, for the service to judge.
    pub(crate) fn open(path: &Path, init: &[u8]) -> Result<Opened, ConnectError> {
        let sock = connect_socket(path)?;
        // A daemon over its connection caps answers Init with CS_ERR_NO_RESOURCES and closes at
        // once, maybe before this write (EPIPE): read its answer anyway. Whatever else made the
        // write fail, the read below ends: the daemon closes a connection that has not
        // completed Init within its Init timeout.
        let _ = send_all(&sock, init);
        let mut buf = Vec::new();
        let mut fds = Vec::new();
        let response = read_frame(&sock, &mut buf, Some(&mut fds))?;
        Ok(Opened { sock, response, fds })
    }

    /// The session, once the service accepted the `Init` response: the first descriptor must
    /// be the event socket (`MessageError` without it).
    pub(crate) fn new(sock: OwnedFd, fds: &mut Vec<OwnedFd>) -> Result<Channel, CsError> {
        if fds.is_empty() {
            return Err(CsError::MessageError);
        }
        let events = fds.remove(0);
        // It must be what the daemon promised: a packet socket (a stream would merge events).
        match rustix::net::sockopt::socket_type(&events) {
            Ok(SocketType::SEQPACKET) => {}
            _ => return Err(CsError::MessageError),
        }
        Ok(Channel { sock, events, req: Mutex::new(Vec::new()), dead: AtomicBool::new(false) })
    }

    /// The event socket: what `*_fd_get` returns.
    pub(crate) fn event_fd(&self) -> BorrowedFd<'_> {
        self.events.as_fd()
    }

    /// Whether the session is known to be over.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// Marks the session unusable (a response that made no sense).
    pub(crate) fn kill(&self) {
        self.dead.store(true, Ordering::Relaxed);
    }

    /// One request frame and its response frame.
    pub(crate) fn request(&self, frame: &[u8]) -> Result<Vec<u8>, CsError> {
        let mut buf = self.req.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.is_dead() {
            return Err(CsError::Library);
        }
        let result = send_all(&self.sock, frame).and_then(|()| read_frame(&self.sock, &mut buf, None));
        if result.is_err() {
            self.kill();
            buf.clear();
        }
        result
    }

    /// Several request frames that make one request (a chunked CPG multicast), then its one
    /// response frame. Nothing else is sent in between (the `req` lock).
    pub(crate) fn request_many(&self, frames: &[Vec<u8>]) -> Result<Vec<u8>, CsError> {
        let mut buf = self.req.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.is_dead() {
            return Err(CsError::Library);
        }
        let result = frames
            .iter()
            .try_for_each(|f| send_all(&self.sock, f))
            .and_then(|()| read_frame(&self.sock, &mut buf, None));
        if result.is_err() {
            self.kill();
            buf.clear();
        }
        result
    }

    /// The next event frame. With [`Wait::No`], `Ok(None)` when none is pending.
    /// `Err(Library)` once the daemon is gone (its end closed) or the session broken, and
    /// nothing is left to read.
    pub(crate) fn next_event(&self, wait: Wait) -> Result<Option<Vec<u8>>, CsError> {
        loop {
            let mut buf = Vec::with_capacity(FRAME_MAX);
            let flags = RecvFlags::DONTWAIT | RecvFlags::TRUNC;
            match rustix::net::recv(&self.events, rustix::buffer::spare_capacity(&mut buf), flags) {
                Ok((0, _)) => {
                    self.kill();
                    return Err(CsError::Library);
                }
                Ok((_, total)) if total > FRAME_MAX => {
                    // Larger than any frame: the stream cannot be trusted.
                    self.kill();
                    return Err(CsError::MessageError);
                }
                Ok(_) => return Ok(Some(buf)),
                // A session known to be over: what was sent before is still read above, but
                // nothing more will come.
                Err(Errno::AGAIN) if self.is_dead() => return Err(CsError::Library),
                Err(Errno::AGAIN) if wait == Wait::No => return Ok(None),
                Err(Errno::AGAIN | Errno::INTR) => wait_readable(&self.events),
                Err(_) => {
                    self.kill();
                    return Err(CsError::Library);
                }
            }
        }
    }

    /// Whether the daemon has hung up, without reading anything.
    pub(crate) fn hung_up(&self) -> bool {
        let mut fds = [PollFd::new(&self.sock, PollFlags::RDHUP)];
        let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        match poll(&mut fds, Some(&zero)) {
            Ok(_) => fds[0]
                .revents()
                .intersects(PollFlags::HUP | PollFlags::RDHUP | PollFlags::ERR | PollFlags::NVAL),
            Err(_) => false,
        }
    }
}
