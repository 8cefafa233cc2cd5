//! The votequorum client ([`VotequorumClient`]): votequorum's view of the cluster (`getinfo`
//! for any node), expected votes and node votes, and notifications (quorum, nodelist,
//! expected votes) on the session's event socket (the client's `AsFd`).
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

pub use quorumd_proto::svc_votequorum::{VqEvent, VqInfo};
use quorumd_proto::svc_votequorum::{VqRequest, VqResponse};

use crate::channel::{Channel, Wait};
use crate::error::{ConnectError, CsError};

/// The qdevice calls, by the number [`VotequorumClient::qdevice`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum QdeviceOp {
    /// `votequorum_qdevice_register`.
    Register = 0,
    /// `votequorum_qdevice_unregister`.
    Unregister = 1,
    /// `votequorum_qdevice_update`.
    Update = 2,
    /// `votequorum_qdevice_poll`.
    Poll = 3,
    /// `votequorum_qdevice_master_wins`.
    MasterWins = 4,
}

/// A session with the daemon's votequorum service.
#[derive(Debug)]
pub struct VotequorumClient {
    chan: Channel,
}

impl VotequorumClient {
    /// Opens a session with the daemon at `path`. No quorum provider configured →
    /// `NotSupported`.
    pub fn connect_with(path: impl AsRef<Path>) -> Result<VotequorumClient, ConnectError> {
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        let init = VqRequest::Init.encode().map_err(|_| CsError::Library)?;
        let mut opened = Channel::open(path.as_ref(), &init)?;
        match VqResponse::decode(&opened.response) {
            Ok(VqResponse::Init { error }) => match CsError::check(error) {
                Ok(()) => {}
                Err(CsError::Access) => return Err(ConnectError::UidGidRefused { uid, gid }),
                Err(e) => return Err(e.into()),
            },
            _ => return Err(CsError::MessageError.into()),
        }
        Ok(VotequorumClient { chan: Channel::new(opened.sock, &mut opened.fds)? })
    }

    /// Opens a session with the daemon at [`crate::socket_path`].
    pub fn connect() -> Result<VotequorumClient, ConnectError> {
        VotequorumClient::connect_with(crate::socket_path())
    }

    fn call(&self, req: &VqRequest) -> Result<VqResponse, CsError> {
        let frame = req.encode().map_err(|_| CsError::TooBig)?;
        let bytes = self.chan.request(&frame)?;
        VqResponse::decode(&bytes).map_err(|_| self.wrong())
    }

    fn wrong(&self) -> CsError {
        self.chan.kill();
        CsError::MessageError
    }

    fn result(&self, req: &VqRequest) -> Result<(), CsError> {
        match self.call(req)? {
            VqResponse::Result { error } => CsError::check(error),
            _ => Err(self.wrong()),
        }
    }

    /// `votequorum_getinfo(nodeid)`; 0 is this node.
    pub fn getinfo(&self, nodeid: u32) -> Result<VqInfo, CsError> {
        match self.call(&VqRequest::GetInfo { nodeid })? {
            VqResponse::GetInfo { error, info } => CsError::check(error).map(|()| info),
            _ => Err(self.wrong()),
        }
    }

    /// `votequorum_setexpected`.
    pub fn setexpected(&self, expected: u32) -> Result<(), CsError> {
        self.result(&VqRequest::SetExpected { expected })
    }

    /// `votequorum_setvotes`.
    pub fn setvotes(&self, nodeid: u32, votes: u32) -> Result<(), CsError> {
        self.result(&VqRequest::SetVotes { nodeid, votes })
    }

    /// `votequorum_trackstart(context, flags)` (`CS_TRACK_*`).
    pub fn trackstart(&self, context: u64, flags: u32) -> Result<(), CsError> {
        self.result(&VqRequest::TrackStart { context, flags })
    }

    /// `votequorum_trackstop`.
    pub fn trackstop(&self) -> Result<(), CsError> {
        self.result(&VqRequest::TrackStop)
    }

    /// One of the qdevice calls.
    pub fn qdevice(
        &self,
        op: QdeviceOp,
        name: &str,
        newname: &str,
        arg: u32,
        ring: crate::RingId,
    ) -> Result<(), CsError> {
        self.result(&VqRequest::Qdevice {
            op: op as u32,
            name: name.into(),
            newname: newname.into(),
            arg,
            ring_id: ring,
        })
    }

    /// Waits for the next notification.
    pub fn next_event(&self) -> Result<VqEvent, CsError> {
        self.event(Wait::Forever)?.ok_or(CsError::Library)
    }

    /// The next notification if one is waiting.
    pub fn try_next_event(&self) -> Result<Option<VqEvent>, CsError> {
        self.event(Wait::No)
    }

    fn event(&self, wait: Wait) -> Result<Option<VqEvent>, CsError> {
        let Some(bytes) = self.chan.next_event(wait)? else { return Ok(None) };
        VqEvent::decode(&bytes).map(Some).map_err(|_| self.wrong())
    }
}

impl AsFd for VotequorumClient {
    /// The session's event socket (peer: the daemon).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.chan.event_fd()
    }
}
