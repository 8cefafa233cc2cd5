//! The ten exported functions of `libquorum.so.5` (corosync-behaviour §1.4), each a thin skin over
//! `quorumd_client::classic`: check the pointers, convert, call, write the out-parameters.
//!
//! Every function runs its body inside `guard`, so a panic becomes `CS_ERR_LIBRARY` instead
//! of unwinding into C. Application callbacks are wrapped in closures that call the C
//! function pointer; the lists they get point into memory that lives for the call only.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_uint, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use quorumd_client::classic::{self, ModelCallbacks, V0QuorumFn, V1NodelistFn, V1QuorumFn};
use quorumd_client::{CsError, RingId};

use crate::types::*;

/// Runs `f`; a panic becomes `CS_ERR_LIBRARY`.
fn guard(f: impl FnOnce() -> CsErrorT) -> CsErrorT {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(CS_ERR_LIBRARY)
}

fn code<T>(result: &Result<T, CsError>) -> CsErrorT {
    quorumd_client::error::raw(result)
}

fn len32(list: &[u32]) -> u32 {
    // Lists are bounded by NODES_MAX (384) on the wire.
    u32::try_from(list.len()).unwrap_or(u32::MAX)
}

fn c_ring(r: RingId) -> QuorumRingId {
    QuorumRingId { nodeid: r.nodeid, seq: r.seq }
}

fn v0_callbacks(quorum: QuorumNotificationFnT) -> ModelCallbacks {
    let quorum = quorum.map(|f| -> V0QuorumFn {
        Arc::new(move |h, quorate, ring_seq, view: &[u32]| {
            // The C type says `uint32_t *`: hand out a copy the callback may even write to.
            let mut copy = view.to_vec();
            // SAFETY: `f` is the application's callback with exactly this C signature (it came
            // in a `quorum_callbacks_t`/`quorum_model_v0_data_t`); pointer and length describe
            // `copy`, which outlives the call.
            unsafe { f(h, quorate, ring_seq, len32(&copy), copy.as_mut_ptr()) }
        })
    });
    ModelCallbacks::V0 { quorum }
}

fn v1_callbacks(data: QuorumModelV1DataT) -> ModelCallbacks {
    let quorum = data.quorum_notify_fn.map(|f| -> V1QuorumFn {
        Arc::new(move |h, quorate, ring, members: &[u32]| {
            // SAFETY: `f` has this C signature (from `quorum_model_v1_data_t`); the list is
            // borrowed from the event being dispatched and valid for the whole call.
            unsafe { f(h, quorate, c_ring(ring), len32(members), members.as_ptr()) }
        })
    });
    let nodelist = data.nodelist_notify_fn.map(|f| -> V1NodelistFn {
        Arc::new(move |h, ring, members: &[u32], joined: &[u32], left: &[u32]| {
            let (m, j, l) = (len32(members), len32(joined), len32(left));
            // SAFETY: as above, for the nodelist callback and its three lists.
            unsafe { f(h, c_ring(ring), m, members.as_ptr(), j, joined.as_ptr(), l, left.as_ptr()) }
        })
    });
    ModelCallbacks::V1 { quorum, nodelist }
}

/// Opens the connection and writes the out-parameters. `*handle` is written even when the
/// connection fails (corosync-behaviour §7 quirk 6, kept); `*quorum_type` only on success.
///
/// # Safety
/// `handle` is valid for a write; `quorum_type` is NULL or valid for a write.
unsafe fn open(
    handle: *mut u64,
    callbacks: ModelCallbacks,
    quorum_type: *mut u32,
    context: usize,
) -> CsErrorT {
    let (h, result) = classic::model_initialize(callbacks, context);
    // SAFETY: the caller checked `handle` is not NULL; it points to a `quorum_handle_t`.
    unsafe { handle.write(h) };
    if let (Ok(qt), false) = (&result, quorum_type.is_null()) {
        // SAFETY: not NULL, and the caller passes a `uint32_t *` for it.
        unsafe { quorum_type.write(*qt) };
    }
    code(&result)
}

/// `quorum_initialize`: a V0 connection; `callbacks` and `quorum_type` may be NULL.
///
/// # Safety
/// Pointers are NULL or valid for the C types in `quorum.h`.
#[no_mangle]
pub unsafe extern "C" fn quorum_initialize(
    handle: *mut QuorumHandleT,
    callbacks: *mut QuorumCallbacksT,
    quorum_type: *mut u32,
) -> CsErrorT {
    guard(|| {
        // Deviation from corosync: a NULL handle pointer is refused instead of written to.
        if handle.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        // SAFETY: NULL or a valid `quorum_callbacks_t` (copied by value, like corosync).
        let cb = unsafe { callbacks.as_ref() }.and_then(|c| c.quorum_notify_fn);
        // SAFETY: `handle` checked above; `quorum_type` NULL or valid (caller contract).
        unsafe { open(handle, v0_callbacks(cb), quorum_type, 0) }
    })
}

/// `quorum_model_initialize`: `model_data`, `quorum_type` and `context` may be NULL; the
/// `model` argument decides how many bytes of `model_data` are read (16 for V0, 24 for V1).
///
/// # Safety
/// Pointers are NULL or valid for the C types in `quorum.h`; a non-NULL `model_data` points
/// to the model block of `model`.
#[no_mangle]
pub unsafe extern "C" fn quorum_model_initialize(
    handle: *mut QuorumHandleT,
    model: u32,
    model_data: *mut QuorumModelDataT,
    quorum_type: *mut u32,
    context: *mut c_void,
) -> CsErrorT {
    guard(|| {
        // An unknown model is refused before anything else, `*handle` untouched (corosync-behaviour §1.4).
        if model != QUORUM_MODEL_V0 && model != QUORUM_MODEL_V1 {
            return CS_ERR_INVALID_PARAM;
        }
        // Deviation from corosync: a NULL handle pointer is refused instead of written to.
        if handle.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        let callbacks = if model_data.is_null() {
            if model == QUORUM_MODEL_V0 {
                v0_callbacks(None)
            } else {
                ModelCallbacks::V1 { quorum: None, nodelist: None }
            }
        } else if model == QUORUM_MODEL_V0 {
            // SAFETY: not NULL; for V0 the caller's block is a `quorum_model_v0_data_t`.
            // Unaligned read: only the C type's own alignment is promised.
            let data = unsafe { model_data.cast::<QuorumModelV0DataT>().read_unaligned() };
            v0_callbacks(data.quorum_notify_fn)
        } else {
            // SAFETY: not NULL; for V1 the caller's block is a `quorum_model_v1_data_t`.
            v1_callbacks(unsafe { model_data.cast::<QuorumModelV1DataT>().read_unaligned() })
        };
        // SAFETY: `handle` checked above; `quorum_type` NULL or valid (caller contract).
        unsafe { open(handle, callbacks, quorum_type, context.expose_provenance()) }
    })
}

/// `quorum_finalize`.
#[no_mangle]
pub extern "C" fn quorum_finalize(handle: QuorumHandleT) -> CsErrorT {
    guard(|| code(&classic::finalize(handle)))
}

/// `quorum_fd_get`: the library's poll fd (do not close or read it).
///
/// # Safety
/// `fd` is NULL or valid for writing an `int`.
#[no_mangle]
pub unsafe extern "C" fn quorum_fd_get(handle: QuorumHandleT, fd: *mut c_int) -> CsErrorT {
    guard(|| {
        // Deviation from corosync: NULL is refused instead of written to.
        if fd.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        let result = classic::fd_get(handle);
        if let Ok(raw) = result {
            // SAFETY: not NULL, and the caller passes an `int *`.
            unsafe { fd.write(raw) };
        }
        code(&result)
    })
}

/// `quorum_dispatch`: an invalid `dispatch_types` is `CS_ERR_INVALID_PARAM` before the handle
/// is looked up; callbacks run on this thread with no library lock held.
#[no_mangle]
pub extern "C" fn quorum_dispatch(handle: QuorumHandleT, dispatch_types: u32) -> CsErrorT {
    guard(|| code(&classic::dispatch(handle, dispatch_types)))
}

/// `quorum_getquorate`: 1 or 0 in `*quorate`.
///
/// # Safety
/// `quorate` is NULL or valid for writing an `int`.
#[no_mangle]
pub unsafe extern "C" fn quorum_getquorate(handle: QuorumHandleT, quorate: *mut c_int) -> CsErrorT {
    guard(|| {
        // Deviation from corosync: NULL is refused instead of written to.
        if quorate.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        let result = classic::getquorate(handle);
        if let Ok(q) = result {
            // SAFETY: not NULL, and the caller passes an `int *`.
            unsafe { quorate.write(c_int::from(q)) };
        }
        code(&result)
    })
}

/// `quorum_trackstart`: `CS_TRACK_*` flags, passed to the daemon as they are.
#[no_mangle]
pub extern "C" fn quorum_trackstart(handle: QuorumHandleT, flags: c_uint) -> CsErrorT {
    guard(|| code(&classic::trackstart(handle, flags)))
}

/// `quorum_trackstop`.
#[no_mangle]
pub extern "C" fn quorum_trackstop(handle: QuorumHandleT) -> CsErrorT {
    guard(|| code(&classic::trackstop(handle)))
}

/// `quorum_context_set`: stores an opaque pointer (never dereferenced).
#[no_mangle]
pub extern "C" fn quorum_context_set(handle: QuorumHandleT, context: *const c_void) -> CsErrorT {
    guard(|| code(&classic::context_set(handle, context.expose_provenance())))
}

/// `quorum_context_get`.
///
/// # Safety
/// `context` is NULL or valid for writing a `const void *`.
#[no_mangle]
pub unsafe extern "C" fn quorum_context_get(handle: QuorumHandleT, context: *mut *const c_void) -> CsErrorT {
    guard(|| {
        // Deviation from corosync: NULL is refused instead of written to.
        if context.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        let result = classic::context_get(handle);
        if let Ok(addr) = result {
            // SAFETY: not NULL, and the caller passes a `const void **`. The value is the
            // address the application stored; we only hand it back.
            unsafe { context.write(std::ptr::with_exposed_provenance(addr)) };
        }
        code(&result)
    })
}

// Symbol versions (only in the shared library, not in unit-test executables): each function's default version is `COROSYNC_QUORUM_1.0`, the node that
// `libquorum.map` defines (rustc's own anonymous version script cannot carry a node name).
#[cfg(not(test))]
std::arch::global_asm!(
    ".symver quorum_initialize, quorum_initialize@@COROSYNC_QUORUM_1.0",
    ".symver quorum_model_initialize, quorum_model_initialize@@COROSYNC_QUORUM_1.0",
    ".symver quorum_finalize, quorum_finalize@@COROSYNC_QUORUM_1.0",
    ".symver quorum_fd_get, quorum_fd_get@@COROSYNC_QUORUM_1.0",
    ".symver quorum_dispatch, quorum_dispatch@@COROSYNC_QUORUM_1.0",
    ".symver quorum_getquorate, quorum_getquorate@@COROSYNC_QUORUM_1.0",
    ".symver quorum_trackstart, quorum_trackstart@@COROSYNC_QUORUM_1.0",
    ".symver quorum_trackstop, quorum_trackstop@@COROSYNC_QUORUM_1.0",
    ".symver quorum_context_set, quorum_context_set@@COROSYNC_QUORUM_1.0",
    ".symver quorum_context_get, quorum_context_get@@COROSYNC_QUORUM_1.0",
);
