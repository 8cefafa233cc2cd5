//! Local client connections: framing, bounded buffers, peer credentials and the state-page
//! descriptor sent with the `Init` reply. A client that stops reading never stalls the daemon:
//! once its pending output passes [`OUT_MAX`] it is disconnected (and must reconnect, which
//! gives it a fresh snapshot) — nothing is silently dropped from a live connection.
//!
//! Bounds (issue 11 item 4; every client, allowed or not, counts against them):
//! - connections: at most `system.max_connections` at once, and `system.max_connections_per_uid`
//!   per user id (see [`Limits`]); one more is refused at once with an `Init` reply carrying
//!   `CS_ERR_NO_RESOURCES` and closed;
//! - a connection that has not completed `Init` within [`INIT_TIMEOUT`] is closed;
//! - output: at most [`OUT_MAX`] queued per connection and [`OUT_TOTAL_MAX`] over all of them
//!   (each queued frame is accounted with [`FRAME_OVERHEAD`] bytes on top of its length, so
//!   the bound is on memory, not just payload). When a new frame would pass the total, the
//!   connections with the most queued are disconnected first (the one sending, if it is the
//!   largest): those are the clients that stopped reading;
//! - input: a connection may have at most `4 × FRAME_MAX` bytes unparsed; one read hands the
//!   node at most [`READ_FRAMES_MAX`] bytes of whole frames, and says when more may be
//!   waiting (a CPG client streams the chunks of a large multicast without waiting).
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use mio::net::UnixStream;
use mio::{Interest, Registry, Token};
use quorumd_node::ConnId;
use quorumd_proto::ipc::{self, Frame, Response, FRAME_MAX};
use rustix::io::Errno;
use rustix::net::{recv, sendmsg, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

/// Most bytes queued for one client before it is disconnected.
pub const OUT_MAX: usize = 4 << 20;
/// Most bytes queued for all clients together (accounted as frame length + FRAME_OVERHEAD).
pub const OUT_TOTAL_MAX: usize = 32 << 20;
/// What one queued frame costs beyond its bytes (its `Vec` header and allocator overhead),
/// accounted so that many tiny frames cannot pass the bound unseen.
pub const FRAME_OVERHEAD: usize = 64;
/// A connection that has not completed `Init` by then is closed.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(5);
/// `CS_ERR_NO_RESOURCES`: the `Init` error a connection over the caps gets.
pub const CS_ERR_NO_RESOURCES: u32 = 18;
/// How many writes `flush` hands the kernel at once.
const IOV_MAX_BATCH: usize = 32;
/// First token used for clients.
pub const FIRST_TOKEN: usize = 1000;
/// Bytes of whole frames one `read` returns at most (then it says `more`).
pub const READ_FRAMES_MAX: usize = 4 * FRAME_MAX;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;

pub struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    /// Frames not yet written, the first one from `out_off` on.
    out: VecDeque<Vec<u8>>,
    out_off: usize,
    /// What `out` costs (sum of frame lengths + FRAME_OVERHEAD each).
    out_cost: usize,
    closing: bool,
    /// The last read stopped at [`READ_FRAMES_MAX`] before the socket was empty.
    more: bool,
    /// Whether WRITABLE interest is registered (changed only when it must be).
    want_write: bool,
    uid: u32,
    /// Whether `Init` succeeded (else the connection is closed at its deadline).
    inited: bool,
}

/// The connection caps in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub total: usize,
    pub per_uid: usize,
}

/// Why a new connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Total,
    PerUid,
}

/// What reading a client produced.
pub enum ReadOutcome {
    Frames(Vec<Vec<u8>>),
    Closed,
    Bad(String),
}

pub struct Clients {
    pub map: BTreeMap<ConnId, Client>,
    next: u64,
    /// Where reads land before they are appended to a client's `inbuf`: allocated (and
    /// zeroed) once, so a read neither clears a buffer nor keeps a large one per client.
    scratch: Box<[u8]>,
    limits: Limits,
    per_uid: BTreeMap<u32, usize>,
    /// Sum of every client's `out_cost` (at most OUT_TOTAL_MAX).
    out_total: usize,
    /// Connections disconnected to keep `out_total` bounded; the daemon tells the node.
    pub evicted: Vec<ConnId>,
    /// Init deadlines in accept order (entries of connections gone or inited are skipped).
    init_deadlines: VecDeque<(Instant, ConnId)>,
    /// The sessions' event sockets.
    pub events: crate::events::EventChannels,
}

pub fn token_of(conn: ConnId) -> Token {
    Token(FIRST_TOKEN + conn.0 as usize)
}

pub fn conn_of(token: Token) -> ConnId {
    ConnId((token.0 - FIRST_TOKEN) as u64)
}

/// `(uid, gid, pid)` of the process at the other end.
pub fn peer_credentials(stream: &UnixStream) -> io::Result<(u32, u32, u32)> {
    let cred = rustix::net::sockopt::socket_peercred(stream)?;
    Ok((cred.uid.as_raw(), cred.gid.as_raw(), cred.pid.as_raw_nonzero().get() as u32))
}

/// Refuses a connection over the caps: an `Init` reply with CS_ERR_NO_RESOURCES (a fresh
/// socket's buffer always has room for it, so this never blocks), then close.
pub fn refuse(stream: UnixStream) {
    let reply = ipc::encode(&Frame::Response(Response::Init { error: CS_ERR_NO_RESOURCES, quorum_type: 0 }));
    let _ = rustix::net::send(&stream, &reply, SendFlags::DONTWAIT | SendFlags::NOSIGNAL);
}

impl Clients {
    pub fn new(limits: Limits) -> Clients {
        Clients {
            map: BTreeMap::new(),
            next: 0,
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            limits,
            per_uid: BTreeMap::new(),
            out_total: 0,
            evicted: Vec::new(),
            init_deadlines: VecDeque::new(),
            events: Default::default(),
        }
    }

    /// Whether one more connection from `uid` is within the caps.
    pub fn admit(&self, uid: u32) -> Result<(), Refused> {
        if self.map.len() >= self.limits.total {
            return Err(Refused::Total);
        }
        if self.per_uid.get(&uid).copied().unwrap_or(0) >= self.limits.per_uid {
            return Err(Refused::PerUid);
        }
        Ok(())
    }

    pub fn add(
        &mut self,
        registry: &Registry,
        mut stream: UnixStream,
        uid: u32,
        now: Instant,
    ) -> io::Result<ConnId> {
        self.next += 1;
        let conn = ConnId(self.next);
        registry.register(&mut stream, token_of(conn), Interest::READABLE)?;
        self.map.insert(
            conn,
            Client {
                stream,
                inbuf: Vec::new(),
                out: VecDeque::new(),
                out_off: 0,
                out_cost: 0,
                closing: false,
                more: false,
                want_write: false,
                uid,
                inited: false,
            },
        );
        *self.per_uid.entry(uid).or_insert(0) += 1;
        self.init_deadlines.push_back((now + INIT_TIMEOUT, conn));
        Ok(conn)
    }

    /// Bytes queued for all clients (as accounted against OUT_TOTAL_MAX).
    pub fn out_total(&self) -> usize {
        self.out_total
    }

    /// `Init` succeeded on `conn`: it is no longer subject to the Init timeout.
    pub fn mark_inited(&mut self, conn: ConnId) {
        if let Some(c) = self.map.get_mut(&conn) {
            c.inited = true;
        }
    }

    /// When the next Init deadline falls (possibly of a connection already gone: then the
    /// caller just wakes up early once).
    pub fn next_init_deadline(&self) -> Option<Instant> {
        self.init_deadlines.front().map(|(at, _)| *at)
    }

    /// The connections whose Init deadline has passed without a successful Init.
    pub fn init_expired(&mut self, now: Instant) -> Vec<ConnId> {
        let mut out = Vec::new();
        while let Some(&(at, conn)) = self.init_deadlines.front() {
            if at > now {
                break;
            }
            self.init_deadlines.pop_front();
            if self.map.get(&conn).is_some_and(|c| !c.inited) {
                out.push(conn);
            }
        }
        out
    }

    pub fn remove(&mut self, registry: &Registry, conn: ConnId) {
        if let Some(mut c) = self.map.remove(&conn) {
            let _ = registry.deregister(&mut c.stream);
            self.out_total -= c.out_cost;
            if let Some(n) = self.per_uid.get_mut(&c.uid) {
                *n -= 1;
                if *n == 0 {
                    self.per_uid.remove(&c.uid);
                }
            }
        }
        self.events.remove(registry, conn);
    }

    /// Reads what is there and splits it into whole frames. `closed`: the readiness event
    /// said the peer hung up (or the socket has an error).
    ///
    /// The socket is registered edge-triggered. A read that returns less than the room it was
    /// given has emptied the socket, and anything that arrives later raises a new edge, so
    /// there is no need for one more read to see `EAGAIN` (one syscall per request fewer).
    /// The exception is a hang-up already reported in this event: no new edge will come for
    /// it, so then we read on until end of file.
    pub fn read(&mut self, conn: ConnId, closed: bool) -> ReadOutcome {
        let Some(c) = self.map.get_mut(&conn) else { return ReadOutcome::Closed };
        let buf = &mut self.scratch[..];
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut taken = 0;
        c.more = false;
        loop {
            match recv(&c.stream, &mut *buf, RecvFlags::DONTWAIT) {
                Ok((0, _)) => return ReadOutcome::Closed,
                Ok((n, _)) => {
                    c.inbuf.extend_from_slice(&buf[..n]);
                    loop {
                        match ipc::frame_len(&c.inbuf) {
                            Ok(Some(n)) => {
                                taken += n;
                                frames.push(c.inbuf.drain(..n).collect());
                            }
                            Ok(None) => break,
                            Err(e) => return ReadOutcome::Bad(format!("bad frame: {e}")),
                        }
                    }
                    if c.inbuf.len() > 4 * FRAME_MAX {
                        return ReadOutcome::Bad("client sent more than it may have outstanding".into());
                    }
                    if n < buf.len() && !closed {
                        break;
                    }
                    if taken >= READ_FRAMES_MAX {
                        // The socket may hold more and no new edge will come for it: the
                        // caller reads again once these frames are handled.
                        c.more = true;
                        break;
                    }
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => {}
                Err(_) => return ReadOutcome::Closed,
            }
        }
        if c.inbuf.is_empty() && c.inbuf.capacity() > READ_CHUNK {
            c.inbuf = Vec::new(); // do not keep a large buffer per idle client
        }
        ReadOutcome::Frames(frames)
    }

    /// Whether the last `read` of `conn` stopped before the socket was empty.
    pub fn more_to_read(&self, conn: ConnId) -> bool {
        self.map.get(&conn).is_some_and(|c| c.more)
    }

    /// Registers `conn` again with its current interest: epoll then reports it readable at the
    /// next poll if bytes wait (a read that stopped early gets no new edge otherwise), after the
    /// other ready sources had their turn. False: drop the client.
    pub fn rearm(&mut self, registry: &Registry, conn: ConnId) -> bool {
        let Some(c) = self.map.get_mut(&conn) else { return true };
        let interest =
            if c.want_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
        registry.reregister(&mut c.stream, token_of(conn), interest).is_ok()
    }

    /// Queues bytes; with `fds` (at most two), the first byte carries them as SCM_RIGHTS.
    /// Returns false when the client must be dropped (too much pending, the socket failed, or
    /// descriptors could not go out at once). Other clients disconnected to keep the total
    /// bound are left in `evicted`.
    pub fn send(&mut self, registry: &Registry, conn: ConnId, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> bool {
        let Some(c) = self.map.get_mut(&conn) else { return true };
        let mut rest = bytes;
        if !fds.is_empty() {
            if !c.out.is_empty() || fds.len() > 2 {
                return false;
            }
            let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            control.push(SendAncillaryMessage::ScmRights(fds));
            match sendmsg(&c.stream, &[io::IoSlice::new(bytes)], &mut control, SendFlags::NOSIGNAL) {
                Ok(n) => rest = &bytes[n..],
                Err(_) => return false,
            }
        }
        if c.out.is_empty() && !write_now(c, &mut rest) {
            return false;
        }
        if !rest.is_empty() {
            let cost = rest.len() + FRAME_OVERHEAD;
            if c.out_cost + cost > OUT_MAX {
                return false;
            }
            // Over the total: disconnect whoever has the most queued, until it fits.
            while self.out_total + cost > OUT_TOTAL_MAX {
                let largest = self.map.iter().max_by_key(|(_, c)| c.out_cost).map(|(id, _)| *id);
                match largest {
                    Some(id) if id != conn && self.map[&id].out_cost > 0 => {
                        self.remove(registry, id);
                        self.evicted.push(id);
                    }
                    _ => return false,
                }
            }
            let Some(c) = self.map.get_mut(&conn) else { return false };
            c.out.push_back(rest.to_vec());
            c.out_cost += cost;
            self.out_total += cost;
        }
        let Some(c) = self.map.get_mut(&conn) else { return false };
        flush(registry, conn, c, &mut self.out_total)
    }

    /// Writes what is pending; false when the client must be dropped.
    pub fn flush(&mut self, registry: &Registry, conn: ConnId) -> bool {
        match self.map.get_mut(&conn) {
            Some(c) => flush(registry, conn, c, &mut self.out_total),
            None => true,
        }
    }

    /// Closes once everything queued is written; false when it can be dropped now.
    pub fn close_after_flush(&mut self, registry: &Registry, conn: ConnId) -> bool {
        let Some(c) = self.map.get_mut(&conn) else { return false };
        c.closing = true;
        flush(registry, conn, c, &mut self.out_total)
    }
}

/// With nothing queued, writes what the socket takes at once (the usual case: no copy into
/// the queue). `rest` keeps what is left; false when the socket failed.
fn write_now(c: &mut Client, rest: &mut &[u8]) -> bool {
    while !rest.is_empty() {
        match c.stream.write(rest) {
            Ok(0) => return false,
            Ok(n) => *rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    true
}

/// Writes what it can; false when the client is to be dropped (failed, or closing and done).
fn flush(registry: &Registry, conn: ConnId, c: &mut Client, total: &mut usize) -> bool {
    while !c.out.is_empty() {
        let mut slices = [IoSlice::new(&[]); IOV_MAX_BATCH];
        let mut n_slices = 0;
        for (i, frame) in c.out.iter().take(IOV_MAX_BATCH).enumerate() {
            slices[i] = IoSlice::new(if i == 0 { &frame[c.out_off..] } else { frame });
            n_slices += 1;
        }
        match c.stream.write_vectored(&slices[..n_slices]) {
            Ok(0) => return false,
            Ok(mut n) => {
                while n > 0 {
                    let Some(front) = c.out.front() else { break };
                    let left = front.len() - c.out_off;
                    if n < left {
                        c.out_off += n;
                        break;
                    }
                    n -= left;
                    let cost = front.len() + FRAME_OVERHEAD;
                    c.out.pop_front();
                    c.out_off = 0;
                    c.out_cost -= cost;
                    *total -= cost;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    if c.out.is_empty() && c.out.capacity() > 64 {
        c.out = VecDeque::new(); // do not keep a large ring of slots per idle client
    }
    let want_write = !c.out.is_empty();
    if want_write != c.want_write {
        let interest = if want_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
        if registry.reregister(&mut c.stream, token_of(conn), interest).is_err() {
            return false;
        }
        c.want_write = want_write;
    }
    !(c.closing && c.out.is_empty())
}
