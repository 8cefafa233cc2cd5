//! One quorum connection to `quorumd`: a [`Channel`] (request socket and event socket, see
//! `channel.rs`) speaking the quorum vocabulary, and the state page.
//!
//! The fd given to applications ([`Connection::poll_fd`]) is the session's event socket: its
//! peer is the daemon (`SO_PEERCRED` gives the daemon's uid/gid), it polls readable exactly
//! while an event is waiting, and POLLHUP once the daemon is gone, as corosync's does.
//!
//! Deviation from corosync: `getquorate` reads the state page instead of asking (same answer,
//! no round trip) while the page is fresh (`quorumd_proto::shm::page_is_fresh`: the daemon
//! rewrote it within its bound, 500 ms at the default token); a stale page (a stopped daemon)
//! sends the call to the socket, where it waits for the daemon as corosync's call does.
#![forbid(unsafe_code)]

use std::os::fd::BorrowedFd;
use std::path::Path;

use quorumd_proto::ipc::{self, Frame, Notification, Request, Response};
use quorumd_proto::shm::{page_is_fresh, FLAG_ALIVE, STALE_AFTER_MAX_MS};

use crate::channel::Channel;
pub(crate) use crate::channel::Wait;
use crate::error::{ConnectError, CsError};
use crate::shm_map::{monotonic_ms, PageMap, PageState};
use crate::Model;

/// A quorum connection to the daemon that passed `Init`.
#[derive(Debug)]
pub struct Connection {
    chan: Channel,
    page: Option<PageMap>,
    model: Model,
    quorum_type: u32,
}

impl Connection {
    /// Connects to the daemon at `path` and opens a session with `model` (corosync-behaviour §1.4
    /// `quorum_model_initialize`). Daemon not running → `Library`; before its first sync →
    /// `TryAgain`; socket permissions or uid/gid refused → the two `CS_ERR_ACCESS` cases of
    /// [`ConnectError`].
    pub fn connect(path: &Path, model: Model) -> Result<Connection, ConnectError> {
        // What the daemon will see through SO_PEERCRED: the credentials at connect time.
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        let init = ipc::encode(&Frame::Request(Request::Init { model: model as u32 }));
        let mut opened = Channel::open(path, &init)?;
        let quorum_type = match ipc::decode(&opened.response) {
            Ok(Frame::Response(Response::Init { error, quorum_type })) => match CsError::check(error) {
                Ok(()) => quorum_type,
                Err(CsError::Access) => return Err(ConnectError::UidGidRefused { uid, gid }),
                Err(e) => return Err(e.into()),
            },
            _ => return Err(CsError::MessageError.into()),
        };
        let chan = Channel::new(opened.sock, &mut opened.fds)?;
        // Without a page (it did not come), getquorate falls back to the round trip.
        let page = opened.fds.pop().and_then(PageMap::map);
        Ok(Connection { chan, page, model, quorum_type })
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

    /// The fd to poll for readability: the session's event socket (peer: the daemon), ready
    /// when an event can be dispatched, POLLHUP when the daemon is gone. Owned by the
    /// connection.
    pub fn poll_fd(&self) -> BorrowedFd<'_> {
        self.chan.event_fd()
    }

    /// One request and its response.
    pub fn request(&self, req: Request) -> Result<Response, CsError> {
        let bytes = self.chan.request(&ipc::encode(&Frame::Request(req)))?;
        match ipc::decode(&bytes) {
            Ok(Frame::Response(r)) => Ok(r),
            _ => Err(self.protocol_error()),
        }
    }

    /// The next event. With [`Wait::No`], `Ok(None)` when nothing is pending. `Err(Library)`
    /// once the daemon is gone and every event it sent was read.
    pub(crate) fn next_event(&self, wait: Wait) -> Result<Option<Notification>, CsError> {
        let Some(bytes) = self.chan.next_event(wait)? else { return Ok(None) };
        match ipc::decode(&bytes) {
            Ok(Frame::Notification(n)) => Ok(Some(n)),
            _ => Err(self.protocol_error()),
        }
    }

    /// The page's view, if the page is mapped, the daemon is alive, the page readable and
    /// fresh. `Err(Library)` when the daemon is gone.
    pub(crate) fn page_state(&self) -> Result<Option<PageState>, CsError> {
        let Some(page) = &self.page else { return Ok(None) };
        if self.chan.is_dead() || self.chan.hung_up() {
            return Err(CsError::Library);
        }
        let state = page.read();
        // Read after the page, so a heartbeat of the same clock is never ahead of it.
        let now = monotonic_ms();
        match state {
            // A daemon that has not rewritten its page within the bound may be stopped while
            // the others formed a ring without it: ask it instead (the call then waits for it).
            // The bound is the daemon's, never looser than STALE_AFTER_MAX_MS.
            Some(state)
                if !page_is_fresh(
                    state.heartbeat_ms,
                    now,
                    u64::from(state.stale_after_ms).min(STALE_AFTER_MAX_MS),
                ) =>
            {
                Ok(None)
            }
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

    /// The daemon answered with the wrong kind of frame: the session cannot be trusted.
    pub(crate) fn protocol_error(&self) -> CsError {
        self.chan.kill();
        CsError::MessageError
    }
}
