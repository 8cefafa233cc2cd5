//! The cfg client ([`CfgClient`]): this node's id, node addresses and link status, the
//! shutdown protocol (test-shutdown events on the session's event socket, the client's
//! `AsFd`), kill_node.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

pub use quorumd_proto::svc_cfg::{CfgAddr, CfgLink, CfgNodeStatus, CfgTestShutdown};
use quorumd_proto::svc_cfg::{CfgRequest, CfgResponse};

use crate::channel::{Channel, Wait};
use crate::error::{ConnectError, CsError};

/// A session with the daemon's cfg service.
#[derive(Debug)]
pub struct CfgClient {
    chan: Channel,
}

impl CfgClient {
    /// Opens a session with the daemon at `path`.
    pub fn connect_with(path: impl AsRef<Path>) -> Result<CfgClient, ConnectError> {
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        let init = CfgRequest::Init.encode().map_err(|_| CsError::Library)?;
        let mut opened = Channel::open(path.as_ref(), &init)?;
        match CfgResponse::decode(&opened.response) {
            Ok(CfgResponse::Init { error }) => match CsError::check(error) {
                Ok(()) => {}
                Err(CsError::Access) => return Err(ConnectError::UidGidRefused { uid, gid }),
                Err(e) => return Err(e.into()),
            },
            _ => return Err(CsError::MessageError.into()),
        }
        Ok(CfgClient { chan: Channel::new(opened.sock, &mut opened.fds)? })
    }

    /// Opens a session with the daemon at [`crate::socket_path`].
    pub fn connect() -> Result<CfgClient, ConnectError> {
        CfgClient::connect_with(crate::socket_path())
    }

    fn call(&self, req: &CfgRequest) -> Result<CfgResponse, CsError> {
        let frame = req.encode().map_err(|_| CsError::TooBig)?;
        let bytes = self.chan.request(&frame)?;
        CfgResponse::decode(&bytes).map_err(|_| self.wrong())
    }

    fn wrong(&self) -> CsError {
        self.chan.kill();
        CsError::MessageError
    }

    fn result(&self, req: &CfgRequest) -> Result<(), CsError> {
        match self.call(req)? {
            CfgResponse::Result { error } => CsError::check(error),
            _ => Err(self.wrong()),
        }
    }

    /// `corosync_cfg_local_get`.
    pub fn local_get(&self) -> Result<u32, CsError> {
        match self.call(&CfgRequest::LocalGet)? {
            CfgResponse::LocalGet { error, nodeid } => CsError::check(error).map(|()| nodeid),
            _ => Err(self.wrong()),
        }
    }

    /// `corosync_cfg_get_node_addrs(nodeid)` (0: this node).
    pub fn node_addrs(&self, nodeid: u32) -> Result<Vec<CfgAddr>, CsError> {
        match self.call(&CfgRequest::NodeAddrs { nodeid })? {
            CfgResponse::NodeAddrs { error, addrs } => CsError::check(error).map(|()| addrs),
            _ => Err(self.wrong()),
        }
    }

    /// `corosync_cfg_node_status_get(nodeid, CFG_NODE_STATUS_V1)`.
    pub fn node_status(&self, nodeid: u32) -> Result<CfgNodeStatus, CsError> {
        match self.call(&CfgRequest::NodeStatus { nodeid })? {
            CfgResponse::NodeStatus { error, status } => CsError::check(error).map(|()| status),
            _ => Err(self.wrong()),
        }
    }

    /// `corosync_cfg_ring_status_get`: (interface, status) per link.
    pub fn ring_status(&self) -> Result<Vec<(String, String)>, CsError> {
        match self.call(&CfgRequest::RingStatus)? {
            CfgResponse::RingStatus { error, links } => CsError::check(error).map(|()| links),
            _ => Err(self.wrong()),
        }
    }

    /// `corosync_cfg_trackstart`.
    pub fn trackstart(&self, flags: u32) -> Result<(), CsError> {
        self.result(&CfgRequest::TrackStart { flags })
    }

    /// `corosync_cfg_trackstop`.
    pub fn trackstop(&self) -> Result<(), CsError> {
        self.result(&CfgRequest::TrackStop)
    }

    /// `corosync_cfg_try_shutdown(flags)`: returns once decided (`Busy` if refused).
    pub fn try_shutdown(&self, flags: u32) -> Result<(), CsError> {
        self.result(&CfgRequest::TryShutdown { flags })
    }

    /// `corosync_cfg_replyto_shutdown`.
    pub fn replyto_shutdown(&self, yes: bool) -> Result<(), CsError> {
        self.result(&CfgRequest::ReplyToShutdown { yes: u32::from(yes) })
    }

    /// `corosync_cfg_kill_node(nodeid, reason)`.
    pub fn kill_node(&self, nodeid: u32, reason: &str) -> Result<(), CsError> {
        self.result(&CfgRequest::KillNode { nodeid, reason: reason.into() })
    }

    /// `corosync_cfg_reload_config`.
    pub fn reload_config(&self) -> Result<(), CsError> {
        self.result(&CfgRequest::ReloadConfig)
    }

    /// `corosync_cfg_reopen_log_files`.
    pub fn reopen_log_files(&self) -> Result<(), CsError> {
        self.result(&CfgRequest::ReopenLogFiles)
    }

    /// Waits for the next test-shutdown event.
    pub fn next_event(&self) -> Result<CfgTestShutdown, CsError> {
        self.event(Wait::Forever)?.ok_or(CsError::Library)
    }

    /// The next test-shutdown event if one is waiting.
    pub fn try_next_event(&self) -> Result<Option<CfgTestShutdown>, CsError> {
        self.event(Wait::No)
    }

    fn event(&self, wait: Wait) -> Result<Option<CfgTestShutdown>, CsError> {
        let Some(bytes) = self.chan.next_event(wait)? else { return Ok(None) };
        CfgTestShutdown::decode(&bytes).map(Some).map_err(|_| self.wrong())
    }
}

impl AsFd for CfgClient {
    /// The session's event socket (peer: the daemon).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.chan.event_fd()
    }
}
