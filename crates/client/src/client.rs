//! The idiomatic client: one value per connection, events as an enum, closures instead of
//! registered callbacks, `AsFd` for the caller's poll loop. Same meaning as the C API
//! (corosync-behaviour §1.4), without handles.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

use quorumd_proto::ipc::{Notification, Request, Response};

use crate::conn::{Connection, Wait};
use crate::{ConnectError, CsError, DispatchFlags, Model, RingId, TrackFlags};

/// `QUORUM_SET` / `QUORUM_FREE`: whether the daemon has a quorum provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuorumType {
    /// No provider (`QUORUM_FREE`, 0): always quorate.
    Free,
    /// A provider is configured (`QUORUM_SET`, 1).
    Set,
}

/// One notification from the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumEvent {
    /// The quorum state of a membership (V0 and V1; V0 readers should use `ring_id.seq`).
    Quorum {
        /// Whether this partition has quorum.
        quorate: bool,
        /// The ring the view belongs to.
        ring_id: RingId,
        /// The view list, sorted by node id.
        members: Vec<u32>,
    },
    /// A membership change (V1 only). Comes before the quorum event of the same ring.
    Nodelist {
        /// The new ring.
        ring_id: RingId,
        /// Its members, sorted.
        members: Vec<u32>,
        /// Nodes that joined since the previous ring (empty in a snapshot).
        joined: Vec<u32>,
        /// Nodes that left since the previous ring (empty in a snapshot).
        left: Vec<u32>,
    },
}

impl From<Notification> for QuorumEvent {
    fn from(n: Notification) -> QuorumEvent {
        match n {
            Notification::Quorum { quorate, ring_id, members } => {
                QuorumEvent::Quorum { quorate: quorate != 0, ring_id, members }
            }
            Notification::Nodelist { ring_id, members, joined, left } => {
                QuorumEvent::Nodelist { ring_id, members, joined, left }
            }
        }
    }
}

/// A connection to quorumd's quorum service. Closed (finalized) exactly once, when dropped
/// or by [`QuorumClient::finalize`].
#[derive(Debug)]
pub struct QuorumClient {
    conn: Connection,
}

impl QuorumClient {
    /// Connects to [`crate::socket_path`] with model V1.
    pub fn connect() -> Result<QuorumClient, ConnectError> {
        Self::connect_with(crate::socket_path(), Model::V1)
    }

    /// Connects to the daemon at `path` with `model`. Daemon not running → `Other(Library)`;
    /// before its first membership → `Other(TryAgain)`; `CS_ERR_ACCESS` comes as one of two
    /// variants: the socket file's permissions refused the connection
    /// ([`ConnectError::SocketPermission`]) or the daemon refused this uid/gid
    /// ([`ConnectError::UidGidRefused`]). [`ConnectError::code`] gives the C API's number, and
    /// `?` converts into [`CsError`].
    pub fn connect_with(path: impl AsRef<Path>, model: Model) -> Result<QuorumClient, ConnectError> {
        Ok(QuorumClient { conn: Connection::connect(path.as_ref(), model)? })
    }

    /// Closes the connection (what dropping does; spelled out for symmetry with the C API).
    pub fn finalize(self) {}

    /// The model of this connection.
    pub fn model(&self) -> Model {
        self.conn.model()
    }

    /// Whether the daemon has a quorum provider.
    pub fn quorum_type(&self) -> QuorumType {
        if self.conn.quorum_type() == 0 {
            QuorumType::Free
        } else {
            QuorumType::Set
        }
    }

    /// Whether the node is quorate now (the state page when mapped, else a round trip).
    pub fn getquorate(&self) -> Result<bool, CsError> {
        self.conn.getquorate()
    }

    /// Whether `getquorate` can answer from the shared state page.
    pub fn has_state_page(&self) -> bool {
        self.conn.has_page()
    }

    /// Starts tracking (corosync's `trackstart`). With `CURRENT` or `CHANGES`, a snapshot
    /// is queued (for V1: nodelist, then quorum). `Exist` if this connection already tracks
    /// changes (the snapshot was still queued).
    pub fn track(&self, flags: TrackFlags) -> Result<(), CsError> {
        self.conn.request_result(Request::TrackStart { flags: flags.bits() })
    }

    /// Stops tracking changes. Events already queued are still delivered.
    pub fn untrack(&self) -> Result<(), CsError> {
        self.conn.request_result(Request::TrackStop)
    }

    /// The next event, waiting as long as it takes. `Library` once the daemon is gone.
    pub fn next_event(&self) -> Result<QuorumEvent, CsError> {
        match self.conn.next_event(Wait::Forever)? {
            Some(n) => Ok(n.into()),
            None => Err(CsError::Library),
        }
    }

    /// The next event if one is pending, without waiting.
    pub fn try_next_event(&self) -> Result<Option<QuorumEvent>, CsError> {
        Ok(self.conn.next_event(Wait::No)?.map(QuorumEvent::from))
    }

    /// Hands events to `f` the way `quorum_dispatch` does with `mode`; returns how many.
    /// `OneNonblocking` with nothing pending is `TryAgain`; `Blocking` returns only errors.
    pub fn dispatch(&self, mode: DispatchFlags, mut f: impl FnMut(QuorumEvent)) -> Result<usize, CsError> {
        let wait = match mode {
            DispatchFlags::One | DispatchFlags::Blocking => Wait::Forever,
            DispatchFlags::All | DispatchFlags::OneNonblocking => Wait::No,
        };
        let mut handled = 0;
        loop {
            match self.conn.next_event(wait)? {
                Some(n) => {
                    f(n.into());
                    handled += 1;
                }
                None if mode == DispatchFlags::OneNonblocking => return Err(CsError::TryAgain),
                None => return Ok(handled),
            }
            if matches!(mode, DispatchFlags::One | DispatchFlags::OneNonblocking) {
                return Ok(handled);
            }
        }
    }

    /// The daemon's full status as JSON (what `quorumtool` renders).
    pub fn status(&self) -> Result<String, CsError> {
        match self.conn.request(Request::Status)? {
            Response::Status { error, json } => CsError::check(error).map(|()| json),
            _ => Err(self.conn.protocol_error()),
        }
    }

    /// `corosync-quorumtool -e`: sets expected votes cluster-wide.
    pub fn set_expected(&self, expected: u32) -> Result<(), CsError> {
        self.conn.request_result(Request::SetExpected { expected })
    }

    /// `corosync-quorumtool -v`: sets a node's votes.
    pub fn set_votes(&self, nodeid: u32, votes: u32) -> Result<(), CsError> {
        self.conn.request_result(Request::SetVotes { nodeid, votes })
    }

    /// Cancels wait_for_all on every node.
    pub fn cancel_wait_for_all(&self) -> Result<(), CsError> {
        self.conn.request_result(Request::CancelWaitForAll)
    }

    /// Makes the daemon reload its configuration file (root only). `Ok(what changed)`;
    /// `Err((error, why nothing changed))` when the daemon refused the new file.
    pub fn reload(&self) -> Result<Result<String, (CsError, String)>, CsError> {
        match self.conn.request(Request::Reload)? {
            Response::Reloaded { error, text } => {
                Ok(CsError::check(error).map(|()| text.clone()).map_err(|e| (e, text)))
            }
            _ => Err(self.conn.protocol_error()),
        }
    }
}

impl AsFd for QuorumClient {
    /// Polls readable when an event can be had without waiting, or the daemon hung up.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.conn.poll_fd()
    }
}

impl AsRawFd for QuorumClient {
    fn as_raw_fd(&self) -> RawFd {
        self.conn.poll_fd().as_raw_fd()
    }
}
