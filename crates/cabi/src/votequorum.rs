//! The functions of `libvotequorum.so.8` (`<corosync/votequorum.h>` of Corosync 3.1.7), over
//! [`quorumd_client::votequorum`]. Argument checks follow corosync's `lib/votequorum.c`
//! (qdevice names: 1..=254 bytes, else `CS_ERR_INVALID_PARAM`), then the handle.
//!
//! Deviation from corosync: NULL out-pointers corosync would write through (`handle`, `fd`,
//! `info`, `context`) give `CS_ERR_INVALID_PARAM` instead of a crash.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use quorumd_client::votequorum::{QdeviceOp, VotequorumClient, VqEvent};
use quorumd_client::{CsError, DispatchFlags, RingId};

use crate::handles::Handles;
use crate::{code, guard, CsErrorT, CS_OK};

/// `votequorum_handle_t`.
pub type VqHandleT = u64;

/// `VOTEQUORUM_QDEVICE_MAX_NAME_LEN`.
const NAME_LEN: usize = 255;

/// `struct votequorum_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VotequorumInfo {
    /// `node_id`.
    pub node_id: c_uint,
    /// `node_state`.
    pub node_state: c_uint,
    /// `node_votes`.
    pub node_votes: c_uint,
    /// `node_expected_votes`.
    pub node_expected_votes: c_uint,
    /// `highest_expected`.
    pub highest_expected: c_uint,
    /// `total_votes`.
    pub total_votes: c_uint,
    /// `quorum`.
    pub quorum: c_uint,
    /// `flags`.
    pub flags: c_uint,
    /// `qdevice_votes`.
    pub qdevice_votes: c_uint,
    /// `qdevice_name`.
    pub qdevice_name: [c_char; NAME_LEN],
}

/// `votequorum_node_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VotequorumNode {
    /// Node id.
    pub nodeid: u32,
    /// `VOTEQUORUM_NODESTATE_*`.
    pub state: u32,
}

/// `votequorum_ring_id_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VotequorumRingId {
    /// Representative.
    pub nodeid: u32,
    /// Sequence.
    pub seq: u64,
}

/// `votequorum_quorum_notification_fn_t`.
pub type QuorumFn = Option<unsafe extern "C" fn(VqHandleT, u64, u32, u32, *mut VotequorumNode)>;
/// `votequorum_nodelist_notification_fn_t`.
pub type NodelistFn = Option<unsafe extern "C" fn(VqHandleT, u64, VotequorumRingId, u32, *mut u32)>;
/// `votequorum_expectedvotes_notification_fn_t`.
pub type ExpectedFn = Option<unsafe extern "C" fn(VqHandleT, u64, u32)>;

/// `votequorum_callbacks_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VotequorumCallbacks {
    /// Quorum notifications.
    pub quorum: QuorumFn,
    /// Expected-votes notifications.
    pub expected: ExpectedFn,
    /// Nodelist notifications.
    pub nodelist: NodelistFn,
}

#[derive(Debug)]
struct Entry {
    client: VotequorumClient,
    callbacks: VotequorumCallbacks,
    context: AtomicUsize,
    finalized: AtomicBool,
}

static HANDLES: Handles<Entry> = Handles::new();

/// `votequorum_initialize(handle, callbacks)`; `callbacks` may be NULL.
///
/// # Safety
/// `handle` is NULL or writable; `callbacks` NULL or readable.
pub unsafe extern "C" fn votequorum_initialize(
    handle: *mut VqHandleT,
    callbacks: *const VotequorumCallbacks,
) -> CsErrorT {
    guard(|| {
        if handle.is_null() {
            return CsError::InvalidParam.raw();
        }
        let callbacks = if callbacks.is_null() {
            VotequorumCallbacks { quorum: None, expected: None, nodelist: None }
        } else {
            // SAFETY: non-NULL and readable (contract); copied out.
            unsafe { *callbacks }
        };
        let client = match VotequorumClient::connect() {
            Ok(c) => c,
            Err(e) => return e.code().raw(),
        };
        let entry =
            Entry { client, callbacks, context: AtomicUsize::new(0), finalized: AtomicBool::new(false) };
        let h = HANDLES.insert(Arc::new(entry));
        // SAFETY: checked non-NULL and writable.
        unsafe { *handle = h };
        CS_OK
    })
}

/// `votequorum_finalize(handle)`.
pub extern "C" fn votequorum_finalize(handle: VqHandleT) -> CsErrorT {
    guard(|| match HANDLES.remove(handle) {
        Ok(e) => {
            e.finalized.store(true, Ordering::Release);
            CS_OK
        }
        Err(e) => e.raw(),
    })
}

/// `votequorum_fd_get(handle, fd)`: the session's event socket (peer: the daemon).
///
/// # Safety
/// `fd` is NULL or writable.
pub unsafe extern "C" fn votequorum_fd_get(handle: VqHandleT, fd: *mut c_int) -> CsErrorT {
    guard(|| {
        if fd.is_null() {
            return CsError::InvalidParam.raw();
        }
        match HANDLES.get(handle) {
            Ok(e) => {
                // SAFETY: checked non-NULL and writable.
                unsafe { *fd = e.client.as_fd().as_raw_fd() };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `votequorum_getinfo(handle, nodeid, info)`.
///
/// # Safety
/// `info` is NULL or writable.
pub unsafe extern "C" fn votequorum_getinfo(
    handle: VqHandleT,
    nodeid: c_uint,
    info: *mut VotequorumInfo,
) -> CsErrorT {
    guard(|| {
        if info.is_null() {
            return CsError::InvalidParam.raw();
        }
        let r = match HANDLES.get(handle).and_then(|e| e.client.getinfo(nodeid)) {
            Ok(r) => r,
            Err(e) => return e.raw(),
        };
        let mut name = [0 as c_char; NAME_LEN];
        for (d, s) in name.iter_mut().zip(r.qdevice_name.bytes().take(NAME_LEN - 1)) {
            *d = s as c_char;
        }
        let out = VotequorumInfo {
            node_id: r.node_id,
            node_state: r.node_state,
            node_votes: r.node_votes,
            node_expected_votes: r.node_expected_votes,
            highest_expected: r.highest_expected,
            total_votes: r.total_votes,
            quorum: r.quorum,
            flags: r.flags,
            qdevice_votes: r.qdevice_votes,
            qdevice_name: name,
        };
        // SAFETY: checked non-NULL and writable.
        unsafe { info.write(out) };
        CS_OK
    })
}

/// `votequorum_setexpected(handle, expected_votes)`.
pub extern "C" fn votequorum_setexpected(handle: VqHandleT, expected_votes: c_uint) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.setexpected(expected_votes))))
}

/// `votequorum_setvotes(handle, nodeid, votes)`.
pub extern "C" fn votequorum_setvotes(handle: VqHandleT, nodeid: c_uint, votes: c_uint) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.setvotes(nodeid, votes))))
}

/// `votequorum_trackstart(handle, context, flags)`.
pub extern "C" fn votequorum_trackstart(handle: VqHandleT, context: u64, flags: c_uint) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.trackstart(context, flags))))
}

/// `votequorum_trackstop(handle)`.
pub extern "C" fn votequorum_trackstop(handle: VqHandleT) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.trackstop())))
}

/// `votequorum_context_get(handle, context)`.
///
/// # Safety
/// `context` is NULL or writable.
pub unsafe extern "C" fn votequorum_context_get(handle: VqHandleT, context: *mut *mut c_void) -> CsErrorT {
    guard(|| {
        if context.is_null() {
            return CsError::InvalidParam.raw();
        }
        match HANDLES.get(handle) {
            Ok(e) => {
                // SAFETY: checked non-NULL and writable.
                unsafe { *context = e.context.load(Ordering::Relaxed) as *mut c_void };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `votequorum_context_set(handle, context)`.
pub extern "C" fn votequorum_context_set(handle: VqHandleT, context: *mut c_void) -> CsErrorT {
    guard(|| match HANDLES.get(handle) {
        Ok(e) => {
            e.context.store(context as usize, Ordering::Relaxed);
            CS_OK
        }
        Err(e) => e.raw(),
    })
}

/// A qdevice name: NULL, empty or 255+ bytes → `INVALID_PARAM`.
///
/// # Safety
/// `name` is NULL or a C string.
unsafe fn name_arg(name: *const c_char) -> Result<String, CsError> {
    if name.is_null() {
        return Err(CsError::InvalidParam);
    }
    // SAFETY: non-NULL C string (contract).
    let b = unsafe { CStr::from_ptr(name) }.to_bytes();
    if b.is_empty() || b.len() >= NAME_LEN {
        return Err(CsError::InvalidParam);
    }
    Ok(String::from_utf8_lossy(b).into_owned())
}

fn qdevice(
    handle: VqHandleT,
    op: QdeviceOp,
    name: Result<String, CsError>,
    newname: Result<String, CsError>,
    arg: u32,
    ring: RingId,
) -> CsErrorT {
    guard(|| {
        let (name, newname) = match (name, newname) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return e.raw(),
        };
        code(&HANDLES.get(handle).and_then(|e| e.client.qdevice(op, &name, &newname, arg, ring)))
    })
}

/// `votequorum_qdevice_register(handle, name)`.
///
/// # Safety
/// `name` is NULL or a C string.
pub unsafe extern "C" fn votequorum_qdevice_register(handle: VqHandleT, name: *const c_char) -> CsErrorT {
    // SAFETY: per the contract.
    qdevice(handle, QdeviceOp::Register, unsafe { name_arg(name) }, Ok(String::new()), 0, RingId::default())
}

/// `votequorum_qdevice_unregister(handle, name)`.
///
/// # Safety
/// `name` is NULL or a C string.
pub unsafe extern "C" fn votequorum_qdevice_unregister(handle: VqHandleT, name: *const c_char) -> CsErrorT {
    // SAFETY: per the contract.
    qdevice(handle, QdeviceOp::Unregister, unsafe { name_arg(name) }, Ok(String::new()), 0, RingId::default())
}

/// `votequorum_qdevice_update(handle, oldname, newname)`.
///
/// # Safety
/// `oldname` and `newname` are NULL or C strings.
pub unsafe extern "C" fn votequorum_qdevice_update(
    handle: VqHandleT,
    oldname: *const c_char,
    newname: *const c_char,
) -> CsErrorT {
    // SAFETY: per the contract.
    let (a, b) = unsafe { (name_arg(oldname), name_arg(newname)) };
    qdevice(handle, QdeviceOp::Update, a, b, 0, RingId::default())
}

/// `votequorum_qdevice_poll(handle, name, cast_vote, ring_id)`.
///
/// # Safety
/// `name` is NULL or a C string.
pub unsafe extern "C" fn votequorum_qdevice_poll(
    handle: VqHandleT,
    name: *const c_char,
    cast_vote: c_uint,
    ring_id: VotequorumRingId,
) -> CsErrorT {
    let ring = RingId { nodeid: ring_id.nodeid, seq: ring_id.seq };
    // SAFETY: per the contract.
    qdevice(handle, QdeviceOp::Poll, unsafe { name_arg(name) }, Ok(String::new()), cast_vote, ring)
}

/// `votequorum_qdevice_master_wins(handle, name, allow)`.
///
/// # Safety
/// `name` is NULL or a C string.
pub unsafe extern "C" fn votequorum_qdevice_master_wins(
    handle: VqHandleT,
    name: *const c_char,
    allow: c_uint,
) -> CsErrorT {
    // SAFETY: per the contract.
    qdevice(
        handle,
        QdeviceOp::MasterWins,
        unsafe { name_arg(name) },
        Ok(String::new()),
        allow,
        RingId::default(),
    )
}

fn len32<T>(l: &[T]) -> u32 {
    u32::try_from(l.len()).unwrap_or(u32::MAX)
}

fn deliver(handle: VqHandleT, cb: &VotequorumCallbacks, ev: &VqEvent) {
    match ev {
        VqEvent::Quorum { context, quorate, nodes } => {
            if let Some(f) = cb.quorum {
                let mut list: Vec<VotequorumNode> =
                    nodes.iter().map(|(n, s)| VotequorumNode { nodeid: *n, state: *s }).collect();
                // SAFETY: `f` has this C signature (from votequorum_callbacks_t); the list is a
                // local copy valid for the call.
                unsafe { f(handle, *context, *quorate, len32(&list), list.as_mut_ptr()) };
            }
        }
        VqEvent::Nodelist { context, ring_id, nodes } => {
            if let Some(f) = cb.nodelist {
                let mut list = nodes.clone();
                let ring = VotequorumRingId { nodeid: ring_id.nodeid, seq: ring_id.seq };
                // SAFETY: as above.
                unsafe { f(handle, *context, ring, len32(&list), list.as_mut_ptr()) };
            }
        }
        VqEvent::ExpectedVotes { context, expected_votes } => {
            if let Some(f) = cb.expected {
                // SAFETY: as above (no pointers).
                unsafe { f(handle, *context, *expected_votes) };
            }
        }
    }
}

/// `votequorum_dispatch(handle, dispatch_types)`.
pub extern "C" fn votequorum_dispatch(handle: VqHandleT, dispatch_types: u32) -> CsErrorT {
    guard(|| {
        let Some(mode) = DispatchFlags::from_raw(dispatch_types) else { return CsError::InvalidParam.raw() };
        let entry = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let next = |wait: bool| {
            if wait {
                entry.client.next_event().map(Some)
            } else {
                entry.client.try_next_event()
            }
        };
        crate::dispatch(mode, &entry.finalized, next, |ev| {
            deliver(handle, &entry.callbacks, &ev);
        })
    })
}
