//! `rust-corosync`'s `votequorum` module over [`crate::votequorum::VotequorumClient`]: the same
//! names, types and signatures (`initialize(&Callbacks)`, `get_info` returning [`NodeInfo`],
//! `trackstart(handle, context, TrackFlags)`, the qdevice calls), so a port is one `use` line.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{dispatch_events, Sessions};
pub use super::{CsError, DispatchFlags, NodeId, Result, TrackFlags};
use crate::votequorum::{QdeviceOp, VotequorumClient, VqEvent};

/// A ring id.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RingId {
    /// The representative.
    pub nodeid: NodeId,
    /// The sequence number.
    pub seq: u64,
}

/// A node's state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum NodeState {
    Member,
    Dead,
    Leaving,
    Unknown,
}

impl NodeState {
    fn new(raw: u32) -> NodeState {
        match raw {
            1 => NodeState::Member,
            2 => NodeState::Dead,
            3 => NodeState::Leaving,
            _ => NodeState::Unknown,
        }
    }
}

/// A node and its state, in quorum notifications.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The node.
    pub nodeid: NodeId,
    /// Its state.
    pub state: NodeState,
}

bitflags::bitflags! {
    /// `VOTEQUORUM_INFO_*`.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub struct NodeInfoFlags: u32 {
        /// two_node.
        const VOTEQUORUM_INFO_TWONODE = 1;
        /// quorate.
        const VOTEQUORUM_INFO_QUORATE = 2;
        /// wait_for_all.
        const VOTEQUORUM_INFO_WAIT_FOR_ALL = 4;
        /// last_man_standing.
        const VOTEQUORUM_INFO_LAST_MAN_STANDING = 8;
        /// auto_tie_breaker.
        const VOTEQUORUM_INFO_AUTO_TIE_BREAKER = 16;
        /// allow_downscale.
        const VOTEQUORUM_INFO_ALLOW_DOWNSCALE = 32;
        /// a quorum device is registered.
        const VOTEQUORUM_INFO_QDEVICE_REGISTERED = 64;
        /// the quorum device is alive.
        const VOTEQUORUM_INFO_QDEVICE_ALIVE = 128;
        /// the quorum device casts its vote.
        const VOTEQUORUM_INFO_QDEVICE_CAST_VOTE = 256;
        /// the quorum device has master_wins.
        const VOTEQUORUM_INFO_QDEVICE_MASTER_WINS = 512;
    }
}

/// What [`get_info`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node.
    pub node_id: NodeId,
    /// Its state.
    pub node_state: NodeState,
    /// Its votes.
    pub node_votes: u32,
    /// Its expected votes.
    pub node_expected_votes: u32,
    /// The highest expected votes of the members.
    pub highest_expected: u32,
    /// The quorum.
    pub quorum: u32,
    /// Flags.
    pub flags: NodeInfoFlags,
    /// Votes of the quorum device.
    pub qdevice_votes: u32,
    /// Name of the quorum device.
    pub qdevice_name: String,
}

/// Quorum callback: `(handle, context, quorate, node_list)`.
pub type QuorumNotificationFn = fn(hande: &Handle, context: u64, quorate: bool, node_list: Vec<Node>);
/// Nodelist callback: `(handle, context, ring_id, member_list)`.
pub type NodelistNotificationFn = fn(hande: &Handle, context: u64, ring_id: RingId, member_list: Vec<NodeId>);
/// Expected-votes callback: `(handle, context, expected_votes)`.
pub type ExpectedvotesNotificationFn = fn(hande: &Handle, context: u64, expected_votes: u32);

/// The callbacks given to [`initialize`].
#[derive(Copy, Clone, Debug, Default)]
pub struct Callbacks {
    /// Quorum notifications.
    pub quorum_notification_fn: Option<QuorumNotificationFn>,
    /// Nodelist notifications.
    pub nodelist_notification_fn: Option<NodelistNotificationFn>,
    /// Expected-votes notifications.
    pub expectedvotes_notification_fn: Option<ExpectedvotesNotificationFn>,
}

/// A session handle.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    votequorum_handle: u64,
}

#[derive(Debug)]
struct Entry {
    client: VotequorumClient,
    callbacks: Callbacks,
    context: AtomicU64,
}

static SESSIONS: Sessions<Entry> = Sessions::new();

fn lookup(handle: &Handle) -> Result<Arc<Entry>> {
    SESSIONS.get(handle.votequorum_handle)
}

/// Opens a session.
pub fn initialize(callbacks: &Callbacks) -> Result<Handle> {
    let client = VotequorumClient::connect().map_err(|e| CsError::from(e.code()))?;
    let id = SESSIONS.insert(Entry { client, callbacks: *callbacks, context: AtomicU64::new(0) });
    Ok(Handle { votequorum_handle: id })
}

/// Closes the session.
pub fn finalize(handle: &Handle) -> Result<()> {
    SESSIONS.remove(handle.votequorum_handle).map(|_| ())
}

/// The fd to poll: the session's event socket.
pub fn fd_get(handle: &Handle) -> Result<i32> {
    Ok(lookup(handle)?.client.as_fd().as_raw_fd())
}

/// votequorum's view of `nodeid` (0: this node).
pub fn get_info(handle: &Handle, nodeid: NodeId) -> Result<NodeInfo> {
    let i = lookup(handle)?.client.getinfo(u32::from(nodeid))?;
    Ok(NodeInfo {
        node_id: NodeId::from(i.node_id),
        node_state: NodeState::new(i.node_state),
        node_votes: i.node_votes,
        node_expected_votes: i.node_expected_votes,
        highest_expected: i.highest_expected,
        quorum: i.quorum,
        flags: NodeInfoFlags::from_bits_truncate(i.flags),
        qdevice_votes: i.qdevice_votes,
        qdevice_name: i.qdevice_name,
    })
}

/// Runs the callbacks of pending notifications, as `flags` says.
pub fn dispatch(handle: &Handle, flags: DispatchFlags) -> Result<()> {
    let e = lookup(handle)?;
    let next = |block: bool| if block { e.client.next_event().map(Some) } else { e.client.try_next_event() };
    dispatch_events(flags, next, |ev| {
        let cb = &e.callbacks;
        match ev {
            VqEvent::Quorum { context, quorate, nodes } => {
                if let Some(f) = cb.quorum_notification_fn {
                    let list = nodes
                        .into_iter()
                        .map(|(n, s)| Node { nodeid: NodeId::from(n), state: NodeState::new(s) })
                        .collect();
                    f(handle, context, quorate == 1, list);
                }
            }
            VqEvent::Nodelist { context, ring_id, nodes } => {
                if let Some(f) = cb.nodelist_notification_fn {
                    let ring = RingId { nodeid: NodeId::from(ring_id.nodeid), seq: ring_id.seq };
                    f(handle, context, ring, nodes.into_iter().map(NodeId::from).collect());
                }
            }
            VqEvent::ExpectedVotes { context, expected_votes } => {
                if let Some(f) = cb.expectedvotes_notification_fn {
                    f(handle, context, expected_votes);
                }
            }
        }
    })
}

/// Starts tracking; `context` comes back in every notification.
pub fn trackstart(handle: &Handle, context: u64, flags: TrackFlags) -> Result<()> {
    Ok(lookup(handle)?.client.trackstart(context, flags as u32)?)
}

/// Stops tracking.
pub fn trackstop(handle: &Handle) -> Result<()> {
    Ok(lookup(handle)?.client.trackstop()?)
}

/// The context value.
pub fn context_get(handle: &Handle) -> Result<u64> {
    Ok(lookup(handle)?.context.load(Ordering::Relaxed))
}

/// Sets the context value.
pub fn context_set(handle: &Handle, context: u64) -> Result<()> {
    lookup(handle)?.context.store(context, Ordering::Relaxed);
    Ok(())
}

/// Sets expected votes cluster-wide.
pub fn set_expected(handle: &Handle, expected_votes: u32) -> Result<()> {
    Ok(lookup(handle)?.client.setexpected(expected_votes)?)
}

/// Sets a node's votes.
pub fn set_votes(handle: &Handle, nodeid: NodeId, votes: u32) -> Result<()> {
    Ok(lookup(handle)?.client.setvotes(u32::from(nodeid), votes)?)
}

fn qdevice(
    handle: &Handle,
    op: QdeviceOp,
    name: &str,
    newname: &str,
    arg: u32,
    ring: crate::RingId,
) -> Result<()> {
    Ok(lookup(handle)?.client.qdevice(op, name, newname, arg, ring)?)
}

/// `votequorum_qdevice_register`.
pub fn qdevice_register(handle: &Handle, name: &str) -> Result<()> {
    qdevice(handle, QdeviceOp::Register, name, "", 0, crate::RingId::default())
}

/// `votequorum_qdevice_unregister`.
pub fn qdevice_unregister(handle: &Handle, name: &str) -> Result<()> {
    qdevice(handle, QdeviceOp::Unregister, name, "", 0, crate::RingId::default())
}

/// `votequorum_qdevice_update`.
pub fn qdevice_update(handle: &Handle, oldname: &str, newname: &str) -> Result<()> {
    qdevice(handle, QdeviceOp::Update, oldname, newname, 0, crate::RingId::default())
}

/// `votequorum_qdevice_poll`.
pub fn qdevice_poll(handle: &Handle, name: &str, cast_vote: bool, ring_id: &RingId) -> Result<()> {
    let ring = crate::RingId { nodeid: u32::from(ring_id.nodeid), seq: ring_id.seq };
    qdevice(handle, QdeviceOp::Poll, name, "", u32::from(cast_vote), ring)
}

/// `votequorum_qdevice_master_wins`.
pub fn qdevice_master_wins(handle: &Handle, name: &str, master_wins: bool) -> Result<()> {
    qdevice(handle, QdeviceOp::MasterWins, name, "", u32::from(master_wins), crate::RingId::default())
}
