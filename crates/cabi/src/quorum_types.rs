//! The C types of `quorum.h` / `corotypes.h` (corosync-behaviour §1.1–§1.2), with their sizes and offsets
//! checked at compile time against the x86_64 figures of docs/corosync-behaviour.md §1.2.
//! (`libquorum.so.5`'s types; [`crate::quorum`] has its functions.)
#![forbid(unsafe_code)]

use std::mem::{offset_of, size_of};

/// `cs_error_t` (an `int`-sized enum; values in `quorumd_client::CsError`).
pub type CsErrorT = u32;
/// `quorum_handle_t`.
pub type QuorumHandleT = u64;

/// `CS_OK`.
pub const CS_OK: CsErrorT = 1;
/// `CS_ERR_LIBRARY`.
pub const CS_ERR_LIBRARY: CsErrorT = 2;
/// `CS_ERR_INVALID_PARAM`.
pub const CS_ERR_INVALID_PARAM: CsErrorT = 7;
/// `QUORUM_MODEL_V0`.
pub const QUORUM_MODEL_V0: u32 = 0;
/// `QUORUM_MODEL_V1`.
pub const QUORUM_MODEL_V1: u32 = 1;

/// `struct quorum_ring_id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuorumRingId {
    /// The ring's representative.
    pub nodeid: u32,
    /// The ring sequence number.
    pub seq: u64,
}

/// `quorum_notification_fn_t` (V0).
pub type QuorumNotificationFnT = Option<
    unsafe extern "C" fn(
        handle: u64,
        quorate: u32,
        ring_seq: u64,
        view_list_entries: u32,
        view_list: *mut u32,
    ),
>;

/// `quorum_v1_quorum_notification_fn_t`.
pub type QuorumV1QuorumNotificationFnT = Option<
    unsafe extern "C" fn(
        handle: u64,
        quorate: u32,
        ring_id: QuorumRingId,
        member_list_entries: u32,
        member_list: *const u32,
    ),
>;

/// `quorum_v1_nodelist_notification_fn_t`.
pub type QuorumV1NodelistNotificationFnT = Option<
    unsafe extern "C" fn(
        handle: u64,
        ring_id: QuorumRingId,
        member_list_entries: u32,
        member_list: *const u32,
        joined_list_entries: u32,
        joined_list: *const u32,
        left_list_entries: u32,
        left_list: *const u32,
    ),
>;

/// `quorum_callbacks_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct QuorumCallbacksT {
    /// V0 quorum callback.
    pub quorum_notify_fn: QuorumNotificationFnT,
}

/// `quorum_model_data_t`: the common head of the model blocks.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct QuorumModelDataT {
    /// `quorum_model_t` (ignored by initialize: the `model` argument wins).
    pub model: u32,
}

/// `quorum_model_v0_data_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct QuorumModelV0DataT {
    /// `quorum_model_t`.
    pub model: u32,
    /// V0 quorum callback.
    pub quorum_notify_fn: QuorumNotificationFnT,
}

/// `quorum_model_v1_data_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct QuorumModelV1DataT {
    /// `quorum_model_t`.
    pub model: u32,
    /// V1 quorum callback.
    pub quorum_notify_fn: QuorumV1QuorumNotificationFnT,
    /// V1 nodelist callback.
    pub nodelist_notify_fn: QuorumV1NodelistNotificationFnT,
}

// corosync-behaviour §1.2, x86_64 (LP64) layouts.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<QuorumRingId>() == 16);
    assert!(offset_of!(QuorumRingId, seq) == 8);
    assert!(size_of::<QuorumCallbacksT>() == 8);
    assert!(size_of::<QuorumModelDataT>() == 4);
    assert!(size_of::<QuorumModelV0DataT>() == 16);
    assert!(offset_of!(QuorumModelV0DataT, quorum_notify_fn) == 8);
    assert!(size_of::<QuorumModelV1DataT>() == 24);
    assert!(offset_of!(QuorumModelV1DataT, quorum_notify_fn) == 8);
    assert!(offset_of!(QuorumModelV1DataT, nodelist_notify_fn) == 16);
};
