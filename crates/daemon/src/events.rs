//! Event sockets: one per open session, of every service.
//!
//! With a successful `Init` response the daemon creates a `SOCK_SEQPACKET` socket pair, keeps
//! one end and passes the other to the client (`SCM_RIGHTS`, with the response; for quorum the
//! state page goes along). Every event frame of the session is one packet on it. What the
//! client gets from `*_fd_get` is its end, so:
//! - its peer is this daemon: `SO_PEERCRED` says the daemon's uid and gid (Pacemaker refuses
//!   any fd whose peer is not uid 0 / gid 0);
//! - it is readable exactly while an event is waiting (level-triggered, kept by the kernel,
//!   one packet per event, no client-side queue to fall out of step with);
//! - it reports POLLHUP once the daemon's end closes, which the kernel does when the daemon
//!   exits or dies.
//!
//! A client that does not read its events fills the pair's buffer; the rest queue here, bounded
//! by [`OUT_MAX`] bytes per session, past which the client is disconnected, as for its
//! request socket (it reconnects and gets a fresh snapshot; nothing is silently dropped).
//! A CPG session may fall [`CPG_EVENT_OUT_MAX`] behind instead: one CPG delivery alone may be
//! 16 MiB (`svc_cpg::MSG_MAX`), so its bound is four such messages.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use quorumd_node::ConnId;
use quorumd_proto::svc::{self, Service};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};

use crate::clients::{Clients, OUT_MAX};

/// Most event bytes queued for one CPG session before it is disconnected (4 × `MSG_MAX`).
/// Deviation from corosync: corosync queues a slow client's events without a bound.
pub const CPG_EVENT_OUT_MAX: usize = 4 * quorumd_proto::svc_cpg::MSG_MAX;

/// A CPG session whose queued events have not shrunk for this long no longer counts as a
/// reader the cluster waits for (see [`EventChannels::cpg_reader_backlog`]).
pub const CPG_READER_STALL: std::time::Duration = std::time::Duration::from_secs(5);

/// Event-socket tokens start here (far above the request sockets' tokens).
const EVENT_TOKEN_BASE: usize = usize::MAX / 2;

/// Whether `t` is an event socket's token.
pub fn is_token(t: Token) -> bool {
    t.0 >= EVENT_TOKEN_BASE
}

/// The connection of an event socket's token.
pub fn conn_of(t: Token) -> ConnId {
    ConnId((t.0 - EVENT_TOKEN_BASE) as u64)
}

fn token_of(conn: ConnId) -> Token {
    Token(EVENT_TOKEN_BASE + conn.0 as usize)
}

struct Chan {
    fd: OwnedFd,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    /// The bound on `queued`.
    max: usize,
    registered: bool,
    /// When `queue` last became non-empty or shrank.
    progress: std::time::Instant,
}

/// The daemon's ends of the event sockets, by connection.
#[derive(Default)]
pub struct EventChannels {
    map: BTreeMap<ConnId, Chan>,
}

impl EventChannels {
    /// Creates the pair for `conn`; returns the client's end (to pass, then close here).
    fn open(&mut self, conn: ConnId, service: Service) -> io::Result<OwnedFd> {
        let (ours, theirs) =
            rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?;
        // Events only go one way: the daemon never reads this socket.
        rustix::net::shutdown(&ours, rustix::net::Shutdown::Read)?;
        let max = if service == Service::Cpg { CPG_EVENT_OUT_MAX } else { OUT_MAX };
        let progress = std::time::Instant::now();
        self.map.insert(
            conn,
            Chan { fd: ours, queue: VecDeque::new(), queued: 0, max, registered: false, progress },
        );
        Ok(theirs)
    }

    /// Sends one event frame; false when the client must be dropped (too much pending, or its
    /// end is gone).
    fn send(&mut self, registry: &Registry, conn: ConnId, frame: &[u8]) -> bool {
        // An event for a session that never opened: nothing to send it on.
        let Some(c) = self.map.get_mut(&conn) else { return true };
        if c.queue.is_empty() {
            match try_send(&c.fd, frame) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(()) => return false,
            }
        }
        if c.queued + frame.len() > c.max {
            return false;
        }
        if c.queue.is_empty() {
            c.progress = std::time::Instant::now();
        }
        c.queued += frame.len();
        c.queue.push_back(frame.to_vec());
        set_interest(registry, conn, c, true)
    }

    /// The client's end has room again: send what is queued. False: drop the client.
    pub fn writable(&mut self, registry: &Registry, conn: ConnId) -> bool {
        let Some(c) = self.map.get_mut(&conn) else { return true };
        while let Some(frame) = c.queue.front() {
            match try_send(&c.fd, frame) {
                Ok(true) => {
                    c.queued -= frame.len();
                    c.queue.pop_front();
                    c.progress = std::time::Instant::now();
                }
                Ok(false) => return true,
                Err(()) => return false,
            }
        }
        set_interest(registry, conn, c, false)
    }

    /// The most event bytes queued for one CPG session that still reads (its queue became
    /// non-empty or shrank within [`CPG_READER_STALL`]): the node holds every CPG sender of the
    /// ring back while it is large, so a slow reader is never disconnected. A session that
    /// reads nothing for longer is not waited for: it is disconnected at [`CPG_EVENT_OUT_MAX`].
    pub fn cpg_reader_backlog(&self, now: std::time::Instant) -> usize {
        self.map
            .values()
            .filter(|c| {
                c.max == CPG_EVENT_OUT_MAX && now.saturating_duration_since(c.progress) < CPG_READER_STALL
            })
            .map(|c| c.queued)
            .max()
            .unwrap_or(0)
    }

    /// Forgets `conn`'s event socket (closing the daemon's end: the client sees POLLHUP).
    pub fn remove(&mut self, registry: &Registry, conn: ConnId) {
        if let Some(c) = self.map.remove(&conn) {
            if c.registered {
                let _ = registry.deregister(&mut SourceFd(&c.fd.as_raw_fd()));
            }
        }
    }
}

/// `Ok(true)` sent, `Ok(false)` no room now, `Err` the client's end is unusable.
fn try_send(fd: &OwnedFd, frame: &[u8]) -> Result<bool, ()> {
    loop {
        match rustix::net::send(fd, frame, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
            Ok(_) => return Ok(true),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(false),
            Err(_) => return Err(()),
        }
    }
}

fn set_interest(registry: &Registry, conn: ConnId, c: &mut Chan, want: bool) -> bool {
    if want == c.registered {
        return true;
    }
    let raw = c.fd.as_raw_fd();
    let result = if want {
        registry.register(&mut SourceFd(&raw), token_of(conn), Interest::WRITABLE)
    } else {
        registry.deregister(&mut SourceFd(&raw))
    };
    c.registered = want;
    result.is_ok()
}

/// Sends one frame the node produced for `conn`: events to its event socket; a successful
/// `Init` response with the client's end of a new event socket (and for quorum the state
/// page); everything else on the request socket. False: drop the client.
pub fn deliver(
    clients: &mut Clients,
    registry: &Registry,
    page: BorrowedFd<'_>,
    conn: ConnId,
    bytes: &[u8],
) -> bool {
    if svc::is_event(bytes) {
        return clients.events.send(registry, conn, bytes);
    }
    if let Some(service) = svc::is_init_ok(bytes) {
        let Ok(theirs) = clients.events.open(conn, service) else { return false };
        clients.mark_inited(conn);
        let mut fds = vec![theirs.as_fd()];
        if service == Service::Quorum {
            fds.push(page);
        }
        // `theirs` is closed here once passed: the client's copy is the only one left.
        return clients.send(registry, conn, bytes, &fds);
    }
    clients.send(registry, conn, bytes, &[])
}
