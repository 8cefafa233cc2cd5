//! Local client connections: framing, bounded buffers, peer credentials and the state-page
//! descriptor sent with the `Init` reply. A client that stops reading never stalls the daemon:
//! once its pending output passes [`OUT_MAX`] it is disconnected (and must reconnect, which
//! gives it a fresh snapshot) — nothing is silently dropped from a live connection.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;

use mio::net::UnixStream;
use mio::{Interest, Registry, Token};
use quorumd_node::ConnId;
use quorumd_proto::ipc::{self, FRAME_MAX};
use rustix::io::Errno;
use rustix::net::{recv, sendmsg, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

/// Most bytes queued for one client before it is disconnected.
pub const OUT_MAX: usize = 4 << 20;
/// First token used for clients.
pub const FIRST_TOKEN: usize = 1000;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;

pub struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    closing: bool,
    /// Whether WRITABLE interest is registered (changed only when it must be).
    want_write: bool,
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
    /// The sessions' event sockets.
    pub events: crate::events::EventChannels,
}

impl Default for Clients {
    fn default() -> Clients {
        Clients {
            map: BTreeMap::new(),
            next: 0,
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            events: Default::default(),
        }
    }
}

pub fn token_of(conn: ConnId) -> Token {
    Token(FIRST_TOKEN + conn.0 as usize)
}

pub fn conn_of(token: Token) -> ConnId {
    ConnId((token.0 - FIRST_TOKEN) as u64)
}

impl Clients {
    pub fn add(&mut self, registry: &Registry, mut stream: UnixStream) -> io::Result<ConnId> {
        self.next += 1;
        let conn = ConnId(self.next);
        registry.register(&mut stream, token_of(conn), Interest::READABLE)?;
        self.map.insert(
            conn,
            Client { stream, inbuf: Vec::new(), out: Vec::new(), closing: false, want_write: false },
        );
        Ok(conn)
    }

    pub fn peer_credentials(&self, conn: ConnId) -> io::Result<(u32, u32, u32)> {
        let c = self.map.get(&conn).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let cred = rustix::net::sockopt::socket_peercred(&c.stream)?;
        Ok((cred.uid.as_raw(), cred.gid.as_raw(), cred.pid.as_raw_nonzero().get() as u32))
    }

    pub fn remove(&mut self, registry: &Registry, conn: ConnId) {
        if let Some(mut c) = self.map.remove(&conn) {
            let _ = registry.deregister(&mut c.stream);
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
        loop {
            match recv(&c.stream, &mut *buf, RecvFlags::DONTWAIT) {
                Ok((0, _)) => return ReadOutcome::Closed,
                Ok((n, _)) => {
                    c.inbuf.extend_from_slice(&buf[..n]);
                    if c.inbuf.len() > 4 * FRAME_MAX {
                        return ReadOutcome::Bad("client sent more than it may have outstanding".into());
                    }
                    if n < buf.len() && !closed {
                        break;
                    }
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => {}
                Err(_) => return ReadOutcome::Closed,
            }
        }
        let mut frames = Vec::new();
        loop {
            match ipc::frame_len(&c.inbuf) {
                Ok(Some(n)) => frames.push(c.inbuf.drain(..n).collect()),
                Ok(None) => break,
                Err(e) => return ReadOutcome::Bad(format!("bad frame: {e}")),
            }
        }
        ReadOutcome::Frames(frames)
    }

    /// Queues bytes; with `fds` (at most two), the first byte carries them as SCM_RIGHTS.
    /// Returns false when the client must be dropped (too much pending, the socket failed, or
    /// descriptors could not go out at once).
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
        if c.out.len() + rest.len() > OUT_MAX {
            return false;
        }
        c.out.extend_from_slice(rest);
        flush(registry, conn, c)
    }

    /// Writes what is pending; false when the client must be dropped.
    pub fn flush(&mut self, registry: &Registry, conn: ConnId) -> bool {
        match self.map.get_mut(&conn) {
            Some(c) => flush(registry, conn, c),
            None => true,
        }
    }

    /// Closes once everything queued is written; false when it can be dropped now.
    pub fn close_after_flush(&mut self, registry: &Registry, conn: ConnId) -> bool {
        let Some(c) = self.map.get_mut(&conn) else { return false };
        c.closing = true;
        flush(registry, conn, c)
    }
}

/// Writes what it can; false when the client is to be dropped (failed, or closing and done).
fn flush(registry: &Registry, conn: ConnId, c: &mut Client) -> bool {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(0) => return false,
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
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
