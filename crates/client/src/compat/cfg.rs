//! `rust-corosync`'s `cfg` module over [`crate::cfg::CfgClient`]: the same names, types and
//! signatures (`initialize(&Callbacks)`, `local_get`, `node_status_get`, the shutdown calls,
//! `kill_node`, and the `reload_cnfig` spelling it exports), so a port is one `use` line.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use super::{dispatch_events, Sessions};
pub use super::{CsError, DispatchFlags, NodeId, Result};
use crate::cfg::CfgClient;

/// The callbacks given to [`initialize`].
#[derive(Copy, Clone, Debug, Default)]
pub struct Callbacks {
    /// Called with the flags of a shutdown request; answer with [`reply_to_shutdown`].
    pub corosync_cfg_shutdown_callback_fn: Option<fn(handle: &Handle, flags: u32)>,
}

/// A session handle.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    cfg_handle: u64,
}

/// `corosync_cfg_shutdown_flags_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ShutdownFlags {
    /// Ask the trackers.
    Request,
    /// Tell the trackers, go anyway.
    Regardless,
    /// Go now.
    Immediate,
}

/// A tracker's answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ShutdownReply {
    /// Agree.
    Yes = 1,
    /// Refuse.
    No = 0,
}

/// Flags of [`track_start`] (none are defined).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TrackFlags {
    /// No flags.
    None,
}

/// The version of [`NodeStatus`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NodeStatusVersion {
    /// `CFG_NODE_STATUS_V1`.
    V1,
}

/// One link of a [`NodeStatus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// Configured and enabled.
    pub enabled: bool,
    /// Connected.
    pub connected: bool,
    /// Activated by a remote dynamic IP.
    pub dynconnected: bool,
    /// MTU.
    pub mtu: u32,
    /// Local address.
    pub src_ipaddr: String,
    /// Remote address.
    pub dst_ipaddr: String,
}

/// What [`node_status_get`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The version.
    pub version: NodeStatusVersion,
    /// The node.
    pub nodeid: NodeId,
    /// Reachable.
    pub reachable: bool,
    /// Not this node.
    pub remote: bool,
    /// Outside the cluster.
    pub external: bool,
    /// On-wire minimum version.
    pub onwire_min: u8,
    /// On-wire maximum version.
    pub onwire_max: u8,
    /// On-wire version in use.
    pub onwire_ver: u8,
    /// The links (eight, as the C structure has).
    pub link_status: Vec<LinkStatus>,
}

#[derive(Debug)]
struct Entry {
    client: CfgClient,
    callbacks: Callbacks,
}

static SESSIONS: Sessions<Entry> = Sessions::new();

fn lookup(handle: &Handle) -> Result<Arc<Entry>> {
    SESSIONS.get(handle.cfg_handle)
}

/// Opens a session.
pub fn initialize(callbacks: &Callbacks) -> Result<Handle> {
    let client = CfgClient::connect().map_err(|e| CsError::from(e.code()))?;
    let id = SESSIONS.insert(Entry { client, callbacks: *callbacks });
    Ok(Handle { cfg_handle: id })
}

/// Closes the session.
pub fn finalize(handle: &Handle) -> Result<()> {
    SESSIONS.remove(handle.cfg_handle).map(|_| ())
}

/// The fd to poll: the session's event socket.
pub fn fd_get(handle: &Handle) -> Result<i32> {
    Ok(lookup(handle)?.client.as_fd().as_raw_fd())
}

/// This node's id.
pub fn local_get(handle: &Handle) -> Result<NodeId> {
    Ok(NodeId::from(lookup(handle)?.client.local_get()?))
}

/// `corosync_cfg_reload_config` (the name `rust-corosync` exports).
pub fn reload_cnfig(handle: &Handle) -> Result<()> {
    Ok(lookup(handle)?.client.reload_config()?)
}

/// `corosync_cfg_reopen_log_files`.
pub fn reopen_log_files(handle: &Handle) -> Result<()> {
    Ok(lookup(handle)?.client.reopen_log_files()?)
}

/// `corosync_cfg_kill_node`.
pub fn kill_node(handle: &Handle, nodeid: NodeId, reason: &str) -> Result<()> {
    Ok(lookup(handle)?.client.kill_node(u32::from(nodeid), reason)?)
}

/// `corosync_cfg_try_shutdown`: returns once decided.
pub fn try_shutdown(handle: &Handle, flags: ShutdownFlags) -> Result<()> {
    let f = match flags {
        ShutdownFlags::Request => 0,
        ShutdownFlags::Regardless => 1,
        ShutdownFlags::Immediate => 2,
    };
    Ok(lookup(handle)?.client.try_shutdown(f)?)
}

/// `corosync_cfg_replyto_shutdown`.
pub fn reply_to_shutdown(handle: &Handle, flags: ShutdownReply) -> Result<()> {
    Ok(lookup(handle)?.client.replyto_shutdown(flags == ShutdownReply::Yes)?)
}

/// Runs the shutdown callback for pending requests, as `flags` says.
pub fn dispatch(handle: &Handle, flags: DispatchFlags) -> Result<()> {
    let e = lookup(handle)?;
    let next = |block: bool| if block { e.client.next_event().map(Some) } else { e.client.try_next_event() };
    dispatch_events(flags, next, |ev| {
        if let Some(f) = e.callbacks.corosync_cfg_shutdown_callback_fn {
            f(handle, ev.flags);
        }
    })
}

/// `corosync_cfg_node_status_get`.
pub fn node_status_get(handle: &Handle, nodeid: NodeId, _version: NodeStatusVersion) -> Result<NodeStatus> {
    let s = lookup(handle)?.client.node_status(u32::from(nodeid))?;
    let mut link_status: Vec<LinkStatus> = s
        .links
        .iter()
        .map(|l| LinkStatus {
            enabled: l.enabled != 0,
            connected: l.connected != 0,
            dynconnected: l.dynconnected != 0,
            mtu: l.mtu,
            src_ipaddr: l.src.clone(),
            dst_ipaddr: l.dst.clone(),
        })
        .collect();
    while link_status.len() < 8 {
        link_status.push(LinkStatus {
            enabled: false,
            connected: false,
            dynconnected: false,
            mtu: 0,
            src_ipaddr: String::new(),
            dst_ipaddr: String::new(),
        });
    }
    Ok(NodeStatus {
        version: NodeStatusVersion::V1,
        nodeid: NodeId::from(s.nodeid),
        reachable: s.reachable != 0,
        remote: s.remote != 0,
        external: s.external != 0,
        onwire_min: s.onwire[0],
        onwire_max: s.onwire[1],
        onwire_ver: s.onwire[2],
        link_status,
    })
}

/// `corosync_cfg_trackstart`.
pub fn track_start(handle: &Handle, _flags: TrackFlags) -> Result<()> {
    Ok(lookup(handle)?.client.trackstart(0)?)
}

/// `corosync_cfg_trackstop`.
pub fn track_stop(handle: &Handle) -> Result<()> {
    Ok(lookup(handle)?.client.trackstop()?)
}
