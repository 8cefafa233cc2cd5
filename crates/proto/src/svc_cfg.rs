//! The cfg service's IPC vocabulary (service 3 of [`crate::svc`]), built and read with the one
//! bounded codec of [`crate::svc`].

use crate::ipc::IpcError;
use crate::svc::{Dir, Reader, Service, Writer, INIT_ID};

/// Longest kill reason kept (corosync's `cs_name_t` holds 255 bytes).
pub const REASON_MAX: usize = 255;
/// Most addresses returned for a node (corosync's `INTERFACE_MAX`).
pub const ADDRS_MAX: usize = 8;
/// Longest address text in a node status.
pub const HOST_MAX: usize = 255;

/// One address of a node: the IP family (4 or 6) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CfgAddr {
    /// 4 or 6.
    pub family: u8,
    /// 4 or 16 bytes, network order.
    pub bytes: Vec<u8>,
}

/// One link of a node status (`struct corosync_knet_link_status_v1`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CfgLink {
    /// Configured and enabled.
    pub enabled: u8,
    /// Connected (local view).
    pub connected: u8,
    /// Activated by a remote dynamic IP.
    pub dynconnected: u8,
    /// MTU.
    pub mtu: u32,
    /// Local address.
    pub src: String,
    /// Remote address.
    pub dst: String,
}

/// `struct corosync_cfg_node_status_v1`, with the links that exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CfgNodeStatus {
    /// Node id.
    pub nodeid: u32,
    /// Reachable.
    pub reachable: u8,
    /// Not this node.
    pub remote: u8,
    /// Outside the cluster.
    pub external: u8,
    /// On-wire protocol versions: min, max, current.
    pub onwire: [u8; 3],
    /// Links 0.. (at most 8).
    pub links: Vec<CfgLink>,
}

/// Client → daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgRequest {
    /// Open a session.
    Init,
    /// `corosync_cfg_local_get`.
    LocalGet,
    /// `corosync_cfg_get_node_addrs(nodeid)` (0: this node).
    NodeAddrs {
        /// Node.
        nodeid: u32,
    },
    /// `corosync_cfg_node_status_get(nodeid)`.
    NodeStatus {
        /// Node.
        nodeid: u32,
    },
    /// `corosync_cfg_trackstart`.
    TrackStart {
        /// Flags (unused by corosync).
        flags: u32,
    },
    /// `corosync_cfg_trackstop`.
    TrackStop,
    /// `corosync_cfg_try_shutdown(flags)`: answered only once decided.
    TryShutdown {
        /// `COROSYNC_CFG_SHUTDOWN_FLAG_*`.
        flags: u32,
    },
    /// `corosync_cfg_replyto_shutdown(flags)`.
    ReplyToShutdown {
        /// 1 yes, 0 no.
        yes: u32,
    },
    /// `corosync_cfg_kill_node(nodeid, reason)`.
    KillNode {
        /// Node.
        nodeid: u32,
        /// Why.
        reason: String,
    },
    /// `corosync_cfg_reload_config`.
    ReloadConfig,
    /// `corosync_cfg_reopen_log_files`.
    ReopenLogFiles,
    /// `corosync_cfg_ring_status_get`.
    RingStatus,
}

/// Daemon → client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgResponse {
    /// To `Init`.
    Init {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `LocalGet`.
    LocalGet {
        /// `cs_error_t`.
        error: u32,
        /// This node.
        nodeid: u32,
    },
    /// To `NodeAddrs`.
    NodeAddrs {
        /// `cs_error_t`.
        error: u32,
        /// The addresses.
        addrs: Vec<CfgAddr>,
    },
    /// To `NodeStatus`.
    NodeStatus {
        /// `cs_error_t`.
        error: u32,
        /// The status.
        status: CfgNodeStatus,
    },
    /// To `RingStatus`: (interface name, status) per link.
    RingStatus {
        /// `cs_error_t`.
        error: u32,
        /// The links.
        links: Vec<(String, String)>,
    },
    /// To everything else.
    Result {
        /// `cs_error_t`.
        error: u32,
    },
}

/// Daemon → client, on the event socket: a shutdown was requested; answer with
/// `ReplyToShutdown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CfgTestShutdown {
    /// The request's `COROSYNC_CFG_SHUTDOWN_FLAG_*`.
    pub flags: u32,
}

impl CfgRequest {
    /// The frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let id = match self {
            CfgRequest::Init => INIT_ID,
            CfgRequest::LocalGet => 2,
            CfgRequest::NodeAddrs { .. } => 3,
            CfgRequest::NodeStatus { .. } => 4,
            CfgRequest::TrackStart { .. } => 5,
            CfgRequest::TrackStop => 6,
            CfgRequest::TryShutdown { .. } => 7,
            CfgRequest::ReplyToShutdown { .. } => 8,
            CfgRequest::KillNode { .. } => 9,
            CfgRequest::ReloadConfig => 10,
            CfgRequest::ReopenLogFiles => 11,
            CfgRequest::RingStatus => 12,
        };
        let mut w = Writer::new(Service::Cfg, Dir::Request, id);
        match self {
            CfgRequest::NodeAddrs { nodeid } | CfgRequest::NodeStatus { nodeid } => {
                w.u32(*nodeid);
            }
            CfgRequest::TrackStart { flags } | CfgRequest::TryShutdown { flags } => {
                w.u32(*flags);
            }
            CfgRequest::ReplyToShutdown { yes } => {
                w.u32(*yes);
            }
            CfgRequest::KillNode { nodeid, reason } => {
                w.u32(*nodeid).str(reason);
            }
            _ => {}
        }
        w.finish()
    }

    /// Reads a request frame.
    pub fn decode(frame: &[u8]) -> Result<CfgRequest, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir) != (Service::Cfg, Dir::Request) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let req = match id {
            INIT_ID => CfgRequest::Init,
            2 => CfgRequest::LocalGet,
            3 => CfgRequest::NodeAddrs { nodeid: r.u32()? },
            4 => CfgRequest::NodeStatus { nodeid: r.u32()? },
            5 => CfgRequest::TrackStart { flags: r.u32()? },
            6 => CfgRequest::TrackStop,
            7 => CfgRequest::TryShutdown { flags: r.u32()? },
            8 => CfgRequest::ReplyToShutdown { yes: r.u32()? },
            9 => CfgRequest::KillNode { nodeid: r.u32()?, reason: r.str(REASON_MAX)? },
            10 => CfgRequest::ReloadConfig,
            11 => CfgRequest::ReopenLogFiles,
            12 => CfgRequest::RingStatus,
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(req)
    }
}

impl CfgResponse {
    /// The frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let (id, error) = match self {
            CfgResponse::Init { error } => (INIT_ID, error),
            CfgResponse::LocalGet { error, .. } => (2, error),
            CfgResponse::NodeAddrs { error, .. } => (3, error),
            CfgResponse::NodeStatus { error, .. } => (4, error),
            CfgResponse::RingStatus { error, .. } => (12, error),
            CfgResponse::Result { error } => (13, error),
        };
        let mut w = Writer::new(Service::Cfg, Dir::Response, id);
        w.u32(*error);
        match self {
            CfgResponse::LocalGet { nodeid, .. } => {
                w.u32(*nodeid);
            }
            CfgResponse::NodeAddrs { addrs, .. } => {
                let n = addrs.len().min(ADDRS_MAX);
                w.u32(n as u32);
                for a in &addrs[..n] {
                    w.u8(a.family).bytes(&a.bytes);
                }
            }
            CfgResponse::NodeStatus { status: s, .. } => {
                w.u32(s.nodeid).u8(s.reachable).u8(s.remote).u8(s.external);
                w.u8(s.onwire[0]).u8(s.onwire[1]).u8(s.onwire[2]);
                let n = s.links.len().min(8);
                w.u32(n as u32);
                for l in &s.links[..n] {
                    w.u8(l.enabled).u8(l.connected).u8(l.dynconnected).u32(l.mtu).str(&l.src).str(&l.dst);
                }
            }
            CfgResponse::RingStatus { links, .. } => {
                let n = links.len().min(8);
                w.u32(n as u32);
                for (a, b) in &links[..n] {
                    w.str(a).str(b);
                }
            }
            CfgResponse::Init { .. } | CfgResponse::Result { .. } => {}
        }
        w.finish()
    }

    /// Reads a response frame.
    pub fn decode(frame: &[u8]) -> Result<CfgResponse, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir) != (Service::Cfg, Dir::Response) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let error = r.u32()?;
        let resp = match id {
            INIT_ID => CfgResponse::Init { error },
            2 => CfgResponse::LocalGet { error, nodeid: r.u32()? },
            3 => {
                let n = r.u32()? as usize;
                if n > ADDRS_MAX {
                    return Err(IpcError::ListTooLong(n));
                }
                let mut addrs = Vec::with_capacity(n);
                for _ in 0..n {
                    addrs.push(CfgAddr { family: r.u8()?, bytes: r.bytes(16)?.to_vec() });
                }
                CfgResponse::NodeAddrs { error, addrs }
            }
            4 => {
                let mut s = CfgNodeStatus {
                    nodeid: r.u32()?,
                    reachable: r.u8()?,
                    remote: r.u8()?,
                    external: r.u8()?,
                    onwire: [r.u8()?, r.u8()?, r.u8()?],
                    links: Vec::new(),
                };
                let n = r.u32()? as usize;
                if n > 8 {
                    return Err(IpcError::ListTooLong(n));
                }
                for _ in 0..n {
                    s.links.push(CfgLink {
                        enabled: r.u8()?,
                        connected: r.u8()?,
                        dynconnected: r.u8()?,
                        mtu: r.u32()?,
                        src: r.str(HOST_MAX)?,
                        dst: r.str(HOST_MAX)?,
                    });
                }
                CfgResponse::NodeStatus { error, status: s }
            }
            12 => {
                let n = r.u32()? as usize;
                if n > 8 {
                    return Err(IpcError::ListTooLong(n));
                }
                let mut links = Vec::with_capacity(n);
                for _ in 0..n {
                    links.push((r.str(HOST_MAX)?, r.str(HOST_MAX)?));
                }
                CfgResponse::RingStatus { error, links }
            }
            13 => CfgResponse::Result { error },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(resp)
    }
}

impl CfgTestShutdown {
    /// The event frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        Writer::new(Service::Cfg, Dir::Event, 1).u32(self.flags).finish()
    }

    /// Reads an event frame.
    pub fn decode(frame: &[u8]) -> Result<CfgTestShutdown, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir, id) != (Service::Cfg, Dir::Event, 1) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let e = CfgTestShutdown { flags: r.u32()? };
        r.end()?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for r in [
            CfgRequest::Init,
            CfgRequest::LocalGet,
            CfgRequest::NodeAddrs { nodeid: 2 },
            CfgRequest::NodeStatus { nodeid: 3 },
            CfgRequest::TrackStart { flags: 0 },
            CfgRequest::TrackStop,
            CfgRequest::TryShutdown { flags: 1 },
            CfgRequest::ReplyToShutdown { yes: 0 },
            CfgRequest::KillNode { nodeid: 2, reason: "test".into() },
            CfgRequest::ReloadConfig,
            CfgRequest::ReopenLogFiles,
            CfgRequest::RingStatus,
        ] {
            assert_eq!(CfgRequest::decode(&r.encode().unwrap()).unwrap(), r);
        }
        let status = CfgNodeStatus {
            nodeid: 1,
            reachable: 1,
            links: vec![CfgLink {
                enabled: 1,
                connected: 1,
                mtu: 1500,
                src: "a".into(),
                dst: "b".into(),
                ..CfgLink::default()
            }],
            ..CfgNodeStatus::default()
        };
        for r in [
            CfgResponse::Init { error: 1 },
            CfgResponse::LocalGet { error: 1, nodeid: 4 },
            CfgResponse::NodeAddrs {
                error: 1,
                addrs: vec![CfgAddr { family: 4, bytes: vec![127, 0, 0, 1] }],
            },
            CfgResponse::NodeStatus { error: 1, status },
            CfgResponse::RingStatus { error: 1, links: vec![("127.0.0.1".into(), "OK".into())] },
            CfgResponse::Result { error: 10 },
        ] {
            assert_eq!(CfgResponse::decode(&r.encode().unwrap()).unwrap(), r);
        }
        let e = CfgTestShutdown { flags: 1 };
        assert_eq!(CfgTestShutdown::decode(&e.encode().unwrap()).unwrap(), e);
    }
}
