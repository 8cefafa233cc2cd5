//! `rust-corosync`'s `cpg` module over [`crate::cpg::CpgClient`]: the same names, types and
//! signatures (`initialize(&ModelData, context)`, `join(&handle, "group")`,
//! `mcast_joined(&handle, Guarantee::TypeAgreed, &msg)`, the three callbacks of
//! [`Model1Data`], [`CpgIterStart`]), so a port is one `use` line.
//!
//! As in `rust-corosync`: a group name of 128 bytes or more is `CsErrInvalidParam`; group
//! names reach the callbacks as `String`s (lossy for non-UTF-8 bytes); `Model1Flags` has only
//! `None`. One difference: `CpgIterStart::new` with `CpgIterType::NameOnly` ignores the group
//! (`rust-corosync` passes it to `cpg_iteration_initialize`, which then refuses the call).
#![forbid(unsafe_code)]

use std::fmt;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{dispatch_events, Sessions};
pub use super::{CsError, DispatchFlags, NodeId, Result};
use crate::cpg::{self as imp, CpgClient, CpgEvent, GroupName, IterationType, ModelFlags};

/// The ring id of a totem confchg.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RingId {
    /// The representative.
    pub nodeid: NodeId,
    /// The sequence number.
    pub seq: u64,
}

/// Delivery guarantee of [`mcast_joined`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Guarantee {
    TypeUnordered,
    TypeFifo,
    TypeAgreed,
    TypeSafe,
}

impl Guarantee {
    /// The `cpg_guarantee_t` number.
    pub fn to_c(&self) -> u32 {
        self.to_imp() as u32
    }

    fn to_imp(self) -> imp::Guarantee {
        match self {
            Guarantee::TypeUnordered => imp::Guarantee::Unordered,
            Guarantee::TypeFifo => imp::Guarantee::Fifo,
            Guarantee::TypeAgreed => imp::Guarantee::Agreed,
            Guarantee::TypeSafe => imp::Guarantee::Safe,
        }
    }
}

/// Flow control state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FlowControlState {
    Disabled,
    Enabled,
}

/// Model 1 flags: none defined.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Model1Flags {
    None,
}

/// Why a process is in a left or joined list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Reason {
    Undefined = 0,
    Join = 1,
    Leave = 2,
    NodeDown = 3,
    NodeUp = 4,
    ProcDown = 5,
}

impl Reason {
    /// From the `cpg_reason_t` number (unknown → `Undefined`).
    pub fn new(r: u32) -> Reason {
        match imp::Reason::from_raw(r) {
            imp::Reason::Undefined => Reason::Undefined,
            imp::Reason::Join => Reason::Join,
            imp::Reason::Leave => Reason::Leave,
            imp::Reason::NodeDown => Reason::NodeDown,
            imp::Reason::NodeUp => Reason::NodeUp,
            imp::Reason::ProcDown => Reason::ProcDown,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A process in a callback's list.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Address {
    /// Its node.
    pub nodeid: NodeId,
    /// Its pid.
    pub pid: u32,
    /// Why it is in the list.
    pub reason: Reason,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[nodeid: {}, pid: {}, reason: {}]", self.nodeid, self.pid, self.reason)
    }
}

fn addresses(l: Vec<imp::Member>) -> Vec<Address> {
    l.into_iter()
        .map(|m| Address { nodeid: NodeId::from(m.nodeid), pid: m.pid, reason: Reason::new(m.reason.raw()) })
        .collect()
}

/// `deliver_fn`: handle, group, sender's node and pid, the message and its length.
pub type DeliverFn =
    fn(handle: &Handle, group_name: String, nodeid: NodeId, pid: u32, msg: &[u8], msg_len: usize);
/// `confchg_fn`: handle, group, members, left, joined.
pub type ConfchgFn = fn(
    handle: &Handle,
    group_name: &str,
    member_list: Vec<Address>,
    left_list: Vec<Address>,
    joined_list: Vec<Address>,
);
/// `totem_confchg_fn`: handle, ring id, the ring's members.
pub type TotemConfchgFn = fn(handle: &Handle, ring_id: RingId, member_list: Vec<NodeId>);

/// The callbacks of model 1.
#[derive(Copy, Clone, Debug)]
pub struct Model1Data {
    /// Flags (none defined).
    pub flags: Model1Flags,
    /// Messages.
    pub deliver_fn: Option<DeliverFn>,
    /// Group membership changes.
    pub confchg_fn: Option<ConfchgFn>,
    /// Ring changes.
    pub totem_confchg_fn: Option<TotemConfchgFn>,
}

/// What [`initialize`] takes: only model 1 is supported.
#[derive(Copy, Clone, Debug)]
pub enum ModelData {
    /// Refused with `CsErrInvalidParam`.
    ModelNone,
    /// Model 1.
    ModelV1(Model1Data),
}

/// A session handle.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    cpg_handle: u64,
}

#[derive(Debug)]
struct Entry {
    client: CpgClient,
    model: Model1Data,
    context: AtomicU64,
}

static SESSIONS: Sessions<Entry> = Sessions::new();

fn lookup(handle: &Handle) -> Result<Arc<Entry>> {
    SESSIONS.get(handle.cpg_handle)
}

fn group_name(group: &str) -> Result<GroupName> {
    if group.len() >= imp::GROUP_NAME_MAX {
        return Err(CsError::CsErrInvalidParam);
    }
    Ok(GroupName::new(group)?)
}

/// Opens a session; `context` comes back from [`context_get`].
pub fn initialize(model_data: &ModelData, context: u64) -> Result<Handle> {
    let ModelData::ModelV1(model) = model_data else { return Err(CsError::CsErrInvalidParam) };
    let client = CpgClient::connect(ModelFlags::empty()).map_err(|e| CsError::from(e.code()))?;
    let id = SESSIONS.insert(Entry { client, model: *model, context: AtomicU64::new(context) });
    Ok(Handle { cpg_handle: id })
}

/// Closes the session (its member leaves its group).
pub fn finalize(handle: &Handle) -> Result<()> {
    let e = SESSIONS.remove(handle.cpg_handle)?;
    Ok(e.client.finalize()?)
}

/// The fd to poll: the session's event socket.
pub fn fd_get(handle: &Handle) -> Result<i32> {
    Ok(lookup(handle)?.client.as_fd().as_raw_fd())
}

/// Runs the callbacks of pending events, as `flags` says.
pub fn dispatch(handle: &Handle, flags: DispatchFlags) -> Result<()> {
    let e = lookup(handle)?;
    let next = |block: bool| if block { e.client.next_event().map(Some) } else { e.client.try_next_event() };
    dispatch_events(flags, next, |ev| {
        let m = &e.model;
        match ev {
            CpgEvent::Deliver { group, nodeid, pid, data } => {
                if let Some(f) = m.deliver_fn {
                    f(handle, group.to_string(), NodeId::from(nodeid), pid, &data, data.len());
                }
            }
            CpgEvent::Confchg { group, members, left, joined } => {
                if let Some(f) = m.confchg_fn {
                    f(handle, &group.to_string(), addresses(members), addresses(left), addresses(joined));
                }
            }
            CpgEvent::TotemConfchg { ring_id, members } => {
                if let Some(f) = m.totem_confchg_fn {
                    let ring = RingId { nodeid: NodeId::from(ring_id.nodeid), seq: ring_id.seq };
                    f(handle, ring, members.into_iter().map(NodeId::from).collect());
                }
            }
        }
    })
}

/// Joins `group`.
pub fn join(handle: &Handle, group: &str) -> Result<()> {
    let g = group_name(group)?;
    Ok(lookup(handle)?.client.join(&g)?)
}

/// Leaves `group`.
pub fn leave(handle: &Handle, group: &str) -> Result<()> {
    let g = group_name(group)?;
    Ok(lookup(handle)?.client.leave(&g)?)
}

/// This node's id.
pub fn local_get(handle: &Handle) -> Result<NodeId> {
    Ok(NodeId::from(lookup(handle)?.client.local_nodeid()?))
}

/// The members of `group`.
pub fn membership_get(handle: &Handle, group: &str) -> Result<Vec<Address>> {
    let g = group_name(group)?;
    Ok(addresses(lookup(handle)?.client.membership(&g)?))
}

/// The largest message sent as one IPC frame (larger ones are chunked, delivered whole).
pub fn max_atomic_msgsize_get(handle: &Handle) -> Result<u32> {
    Ok(lookup(handle)?.client.max_atomic_msgsize())
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

/// Whether flow control is on (new messages should wait).
pub fn flow_control_state_get(handle: &Handle) -> Result<bool> {
    Ok(lookup(handle)?.client.flow_control_enabled()?)
}

/// Multicasts `msg` to the joined group.
pub fn mcast_joined(handle: &Handle, guarantee: Guarantee, msg: &[u8]) -> Result<()> {
    Ok(lookup(handle)?.client.mcast(guarantee.to_imp(), &[IoSlice::new(msg)])?)
}

/// What [`CpgIterStart`] lists.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CpgIterType {
    NameOnly = 1,
    OneGroup = 2,
    All = 3,
}

/// One row of an iteration.
#[derive(Clone, PartialEq, Eq)]
pub struct CpgIter {
    /// The group.
    pub group: String,
    /// The process's node (0 for `NameOnly`).
    pub nodeid: NodeId,
    /// Its pid (0 for `NameOnly`).
    pub pid: u32,
}

impl fmt::Debug for CpgIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[group: {}, nodeid: {}, pid: {}]", self.group, self.nodeid, self.pid)
    }
}

/// An iteration over the groups, taken when it is created: `for row in CpgIterStart::new(..)?`.
#[derive(Debug)]
pub struct CpgIterStart {
    rows: Vec<CpgIter>,
}

impl CpgIterStart {
    /// Lists `iter_type` (`group` is used by `OneGroup` only).
    pub fn new(cpg_handle: &Handle, group: &str, iter_type: CpgIterType) -> Result<CpgIterStart> {
        let (kind, g) = match iter_type {
            CpgIterType::NameOnly => (IterationType::NameOnly, None),
            CpgIterType::All => (IterationType::All, None),
            CpgIterType::OneGroup => (IterationType::OneGroup, Some(group_name(group)?)),
        };
        let rows = lookup(cpg_handle)?.client.iterate(kind, g.as_ref())?;
        Ok(CpgIterStart {
            rows: rows
                .into_iter()
                .map(|r| CpgIter { group: r.group.to_string(), nodeid: NodeId::from(r.nodeid), pid: r.pid })
                .collect(),
        })
    }
}

/// The iterator of a [`CpgIterStart`].
#[derive(Debug)]
pub struct CpgIntoIter {
    rows: std::vec::IntoIter<CpgIter>,
}

impl Iterator for CpgIntoIter {
    type Item = CpgIter;

    fn next(&mut self) -> Option<CpgIter> {
        self.rows.next()
    }
}

impl IntoIterator for CpgIterStart {
    type Item = CpgIter;
    type IntoIter = CpgIntoIter;

    fn into_iter(self) -> CpgIntoIter {
        CpgIntoIter { rows: self.rows.into_iter() }
    }
}
