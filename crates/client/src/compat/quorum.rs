//! `rust-corosync`'s `quorum` module over [`crate::classic`]: same names, same signatures,
//! same behaviour (only model V1 is offered, a handle finalizes itself when the original, not
//! a clone, is dropped, callbacks receive a `&Handle`).
//!
//! Differences, all in the direction of fewer surprises: `fd_get` returns the real fd, and
//! dispatch errors are the daemon's (see corosync-behaviour §1.4), not libqb's.
#![forbid(unsafe_code)]

use std::sync::Arc;

pub use super::{CsError, DispatchFlags, NodeId, Result, TrackFlags};
use crate::classic::{self, ModelCallbacks, QuorumHandle};

/// Data for the model given to [`initialize`].
#[derive(Copy, Clone, Debug)]
pub enum ModelData {
    /// No model: [`initialize`] refuses it (`CsErrInvalidParam`).
    ModelNone,
    /// Model V1 with its callbacks.
    ModelV1(Model1Data),
}

/// Returned by [`initialize`]: whether a quorum provider is configured.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum QuorumType {
    /// No provider (`QUORUM_FREE`).
    Free,
    /// A provider (`QUORUM_SET`).
    Set,
}

/// Flags for model V1; none are defined.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Model1Flags {
    /// No flags.
    None,
}

/// The ring id given to the callbacks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RingId {
    /// The ring's representative.
    pub nodeid: NodeId,
    /// The ring's sequence number.
    pub seq: u64,
}

/// V1 quorum callback: `(handle, quorate, ring_id, member_list)`.
pub type QuorumNotificationFn = fn(hande: &Handle, quorate: bool, ring_id: RingId, member_list: Vec<NodeId>);
/// V1 nodelist callback: `(handle, ring_id, member_list, joined_list, left_list)`.
pub type NodelistNotificationFn = fn(
    hande: &Handle,
    ring_id: RingId,
    member_list: Vec<NodeId>,
    joined_list: Vec<NodeId>,
    left_list: Vec<NodeId>,
);

/// Model V1 data for [`initialize`].
#[derive(Copy, Clone)]
pub struct Model1Data {
    /// Unused flags.
    pub flags: Model1Flags,
    /// Called with each quorum notification.
    pub quorum_notification_fn: Option<QuorumNotificationFn>,
    /// Called with each nodelist notification.
    pub nodelist_notification_fn: Option<NodelistNotificationFn>,
}

impl std::fmt::Debug for Model1Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model1Data")
            .field("flags", &self.flags)
            .field("quorum_notification_fn", &self.quorum_notification_fn.is_some())
            .field("nodelist_notification_fn", &self.nodelist_notification_fn.is_some())
            .finish()
    }
}

/// A connection, returned by [`initialize`]. The original finalizes on drop; clones do not.
#[derive(Debug)]
pub struct Handle {
    quorum_handle: QuorumHandle,
    model_data: ModelData,
    clone: bool,
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        Handle { quorum_handle: self.quorum_handle, model_data: self.model_data, clone: true }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.clone {
            let _ = classic::finalize(self.quorum_handle);
        }
    }
}

impl PartialEq for Handle {
    fn eq(&self, other: &Handle) -> bool {
        self.quorum_handle == other.quorum_handle
    }
}

fn to_nodes(list: &[u32]) -> Vec<NodeId> {
    list.iter().copied().map(NodeId::from).collect()
}

fn ring(r: crate::RingId) -> RingId {
    RingId { nodeid: NodeId::from(r.nodeid), seq: r.seq }
}

fn callbacks(model_data: ModelData, md: Model1Data) -> ModelCallbacks {
    let borrowed = move |h: QuorumHandle| Handle { quorum_handle: h, model_data, clone: true };
    ModelCallbacks::V1 {
        quorum: md.quorum_notification_fn.map(|f| -> classic::V1QuorumFn {
            Arc::new(move |h, quorate, ring_id, members| {
                f(&borrowed(h), quorate == 1, ring(ring_id), to_nodes(members))
            })
        }),
        nodelist: md.nodelist_notification_fn.map(|f| -> classic::V1NodelistFn {
            Arc::new(move |h, ring_id, members, joined, left| {
                f(&borrowed(h), ring(ring_id), to_nodes(members), to_nodes(joined), to_nodes(left))
            })
        }),
    }
}

/// Opens a connection (model V1 only, like `rust-corosync`). `context` is handed back by
/// [`context_get`].
pub fn initialize(model_data: &ModelData, context: u64) -> Result<(Handle, QuorumType)> {
    let ModelData::ModelV1(md) = *model_data else { return Err(CsError::CsErrInvalidParam) };
    let (handle, result) = classic::model_initialize(callbacks(*model_data, md), context as usize);
    let quorum_type = result.map_err(CsError::from)?;
    let quorum_type = if quorum_type == 0 { QuorumType::Free } else { QuorumType::Set };
    Ok((Handle { quorum_handle: handle, model_data: *model_data, clone: false }, quorum_type))
}

/// Closes the connection.
pub fn finalize(handle: &Handle) -> Result<()> {
    classic::finalize(handle.quorum_handle).map_err(CsError::from)
}

/// The fd to poll for readability before calling [`dispatch`].
pub fn fd_get(handle: &Handle) -> Result<i32> {
    classic::fd_get(handle.quorum_handle).map_err(CsError::from)
}

/// Runs callbacks for pending events, as `flags` says.
pub fn dispatch(handle: &Handle, flags: DispatchFlags) -> Result<()> {
    classic::dispatch(handle.quorum_handle, flags as u32).map_err(CsError::from)
}

/// Whether the cluster is quorate.
pub fn getquorate(handle: &Handle) -> Result<bool> {
    classic::getquorate(handle.quorum_handle).map_err(CsError::from)
}

/// Starts tracking node and quorum changes.
pub fn trackstart(handle: &Handle, flags: TrackFlags) -> Result<()> {
    classic::trackstart(handle.quorum_handle, flags as u32).map_err(CsError::from)
}

/// Stops tracking.
pub fn trackstop(handle: &Handle) -> Result<()> {
    classic::trackstop(handle.quorum_handle).map_err(CsError::from)
}

/// The context value of this handle.
pub fn context_get(handle: &Handle) -> Result<u64> {
    classic::context_get(handle.quorum_handle).map(|c| c as u64).map_err(CsError::from)
}

/// Sets the context value of this handle.
pub fn context_set(handle: &Handle, context: u64) -> Result<()> {
    classic::context_set(handle.quorum_handle, context as usize).map_err(CsError::from)
}
