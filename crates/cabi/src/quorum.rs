//! The ten functions of `libquorum.so.5` (corosync-behaviour §1.4), on the handle table and the
//! dispatch loop every other drop-in library uses ([`crate::handles`], [`crate::dispatch`]),
//! over [`QuorumClient`]: check the pointers, convert, call, write the out-parameters.
//!
//! Every function runs its body inside `guard`, so a panic becomes `CS_ERR_LIBRARY` instead of
//! unwinding into C. Callbacks run with no lock held; the lists they get point into memory
//! that lives for the call only.
//!
//! Deviation from corosync: NULL out-pointers corosync would write through (`handle`, `fd`,
//! `quorate`, `context`) give `CS_ERR_INVALID_PARAM` instead of a crash.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_uint, c_void};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use quorumd_client::{CsError, DispatchFlags, Model, QuorumClient, QuorumEvent, RingId, TrackFlags};

use crate::handles::Handles;
use crate::quorum_types::*;
use crate::{code, dispatch, guard};

/// The model of a session and the application's callbacks for it.
#[derive(Clone, Copy, Debug)]
enum Callbacks {
    V0(QuorumNotificationFnT),
    V1(QuorumModelV1DataT),
}

#[derive(Debug)]
struct Entry {
    client: QuorumClient,
    callbacks: Callbacks,
    context: AtomicUsize,
    finalized: AtomicBool,
}

static HANDLES: Handles<Entry> = Handles::new();

fn len32(list: &[u32]) -> u32 {
    // Lists are bounded by NODES_MAX (384) on the wire.
    u32::try_from(list.len()).unwrap_or(u32::MAX)
}

fn c_ring(r: RingId) -> QuorumRingId {
    QuorumRingId { nodeid: r.nodeid, seq: r.seq }
}

/// Opens the session and writes the out-parameters. `*handle` is written even when the
/// connection fails (corosync-behaviour §7 quirk 6, kept: a handle every call refuses);
/// `*quorum_type` only on success.
///
/// # Safety
/// `handle` is valid for a write; `quorum_type` is NULL or valid for a write.
unsafe fn open(handle: *mut u64, callbacks: Callbacks, quorum_type: *mut u32, context: usize) -> CsErrorT {
    let model = match callbacks {
        Callbacks::V0(_) => Model::V0,
        Callbacks::V1(_) => Model::V1,
    };
    let (h, result) = match QuorumClient::connect_with(quorumd_client::socket_path(), model) {
        Ok(client) => {
            let qt = u32::from(client.quorum_type() == quorumd_client::QuorumType::Set);
            let entry = Entry {
                client,
                callbacks,
                context: AtomicUsize::new(context),
                finalized: AtomicBool::new(false),
            };
            (HANDLES.insert(Arc::new(entry)), Ok(qt))
        }
        // Both kinds of refusal are CS_ERR_ACCESS here, as with corosync.
        Err(e) => (HANDLES.dead(), Err(e.code())),
    };
    // SAFETY: the caller checked `handle` is not NULL; it points to a `quorum_handle_t`.
    unsafe { handle.write(h) };
    if let (Ok(qt), false) = (&result, quorum_type.is_null()) {
        // SAFETY: not NULL, and the caller passes a `uint32_t *` for it.
        unsafe { quorum_type.write(*qt) };
    }
    code(&result)
}

/// `quorum_initialize`: a V0 session; `callbacks` and `quorum_type` may be NULL.
///
/// # Safety
/// Pointers are NULL or valid for the C types in `quorum.h`.
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
        unsafe { open(handle, Callbacks::V0(cb), quorum_type, 0) }
    })
}

/// `quorum_model_initialize`: `model_data`, `quorum_type` and `context` may be NULL; the
/// `model` argument decides how many bytes of `model_data` are read (16 for V0, 24 for V1).
///
/// # Safety
/// Pointers are NULL or valid for the C types in `quorum.h`; a non-NULL `model_data` points
/// to the model block of `model`.
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
                Callbacks::V0(None)
            } else {
                Callbacks::V1(QuorumModelV1DataT { model, quorum_notify_fn: None, nodelist_notify_fn: None })
            }
        } else if model == QUORUM_MODEL_V0 {
            // SAFETY: not NULL; for V0 the caller's block is a `quorum_model_v0_data_t`.
            // Unaligned read: only the C type's own alignment is promised.
            let data = unsafe { model_data.cast::<QuorumModelV0DataT>().read_unaligned() };
            Callbacks::V0(data.quorum_notify_fn)
        } else {
            // SAFETY: not NULL; for V1 the caller's block is a `quorum_model_v1_data_t`.
            Callbacks::V1(unsafe { model_data.cast::<QuorumModelV1DataT>().read_unaligned() })
        };
        // SAFETY: `handle` checked above; `quorum_type` NULL or valid (caller contract).
        unsafe { open(handle, callbacks, quorum_type, context.expose_provenance()) }
    })
}

/// `quorum_finalize`: the handle is dead at once; the session closes when the last call
/// using it returns. `CS_OK` even if the daemon is gone; a second finalize is `BAD_HANDLE`.
pub extern "C" fn quorum_finalize(handle: QuorumHandleT) -> CsErrorT {
    guard(|| match HANDLES.remove(handle) {
        Ok(e) => {
            e.finalized.store(true, Ordering::Release);
            CS_OK
        }
        Err(e) => e.raw(),
    })
}

/// `quorum_fd_get`: the session's event socket (do not close or read it).
///
/// # Safety
/// `fd` is NULL or valid for writing an `int`.
pub unsafe extern "C" fn quorum_fd_get(handle: QuorumHandleT, fd: *mut c_int) -> CsErrorT {
    guard(|| {
        // Deviation from corosync: NULL is refused instead of written to.
        if fd.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        let result = HANDLES.get(handle).map(|e| e.client.as_raw_fd());
        if let Ok(raw) = result {
            // SAFETY: not NULL, and the caller passes an `int *`.
            unsafe { fd.write(raw) };
        }
        code(&result)
    })
}

/// Calls the application's callback for one event. The lists point into `event`, valid for
/// the call only.
fn deliver(handle: QuorumHandleT, callbacks: &Callbacks, event: QuorumEvent) {
    match (callbacks, event) {
        (Callbacks::V0(Some(f)), QuorumEvent::Quorum { quorate, ring_id, members }) => {
            // The C type says `uint32_t *`: hand out a copy the callback may even write to.
            let mut copy = members;
            // SAFETY: `f` is the application's callback with exactly this C signature (it came
            // in a `quorum_callbacks_t`/`quorum_model_v0_data_t`); pointer and length describe
            // `copy`, which outlives the call.
            unsafe { f(handle, u32::from(quorate), ring_id.seq, len32(&copy), copy.as_mut_ptr()) }
        }
        (Callbacks::V1(data), QuorumEvent::Quorum { quorate, ring_id, members }) => {
            if let Some(f) = data.quorum_notify_fn {
                // SAFETY: `f` has this C signature (from `quorum_model_v1_data_t`); the list
                // is borrowed from the event being dispatched and valid for the whole call.
                unsafe { f(handle, u32::from(quorate), c_ring(ring_id), len32(&members), members.as_ptr()) }
            }
        }
        (Callbacks::V1(data), QuorumEvent::Nodelist { ring_id, members, joined, left }) => {
            if let Some(f) = data.nodelist_notify_fn {
                let (m, j, l) = (len32(&members), len32(&joined), len32(&left));
                // SAFETY: as above, for the nodelist callback and its three lists.
                unsafe {
                    f(handle, c_ring(ring_id), m, members.as_ptr(), j, joined.as_ptr(), l, left.as_ptr())
                }
            }
        }
        // V0 without a callback: the event is read and dropped. A nodelist event never reaches
        // a V0 session (refused in `quorum_dispatch`).
        (Callbacks::V0(_), _) => {}
    }
}

/// `quorum_dispatch`: an invalid `dispatch_types` is `CS_ERR_INVALID_PARAM` before the handle
/// is looked up; callbacks run on this thread with no library lock held.
pub extern "C" fn quorum_dispatch(handle: QuorumHandleT, dispatch_types: u32) -> CsErrorT {
    guard(|| {
        let Some(mode) = DispatchFlags::from_raw(dispatch_types) else {
            return CsError::InvalidParam.raw();
        };
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(err) => return err.raw(),
        };
        let v0 = matches!(e.callbacks, Callbacks::V0(_));
        dispatch(
            mode,
            &e.finalized,
            |wait| {
                let ev = if wait { e.client.next_event().map(Some) } else { e.client.try_next_event() };
                match ev {
                    // An event the session's model cannot carry: the daemon broke the protocol.
                    Ok(Some(QuorumEvent::Nodelist { .. })) if v0 => Err(CsError::Library),
                    other => other,
                }
            },
            |ev| deliver(handle, &e.callbacks, ev),
        )
    })
}

/// `quorum_getquorate`: 1 or 0 in `*quorate` (the state page when the daemon passed one,
/// else a round trip).
///
/// # Safety
/// `quorate` is NULL or valid for writing an `int`.
pub unsafe extern "C" fn quorum_getquorate(handle: QuorumHandleT, quorate: *mut c_int) -> CsErrorT {
    guard(|| {
        // Deviation from corosync: NULL is refused instead of written to.
        if quorate.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        let result = HANDLES.get(handle).and_then(|e| e.client.getquorate());
        if let Ok(q) = result {
            // SAFETY: not NULL, and the caller passes an `int *`.
            unsafe { quorate.write(c_int::from(q)) };
        }
        code(&result)
    })
}

/// `quorum_trackstart`: `CS_TRACK_*` flags, passed to the daemon as they are.
pub extern "C" fn quorum_trackstart(handle: QuorumHandleT, flags: c_uint) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.track(TrackFlags::from_bits_retain(flags)))))
}

/// `quorum_trackstop`: `CS_OK` even when not tracking (corosync-behaviour §7 quirk 1, the
/// daemon's answer).
pub extern "C" fn quorum_trackstop(handle: QuorumHandleT) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.untrack())))
}

/// `quorum_context_set`: stores an opaque pointer (never dereferenced).
pub extern "C" fn quorum_context_set(handle: QuorumHandleT, context: *const c_void) -> CsErrorT {
    guard(|| {
        let r = HANDLES.get(handle).map(|e| e.context.store(context.expose_provenance(), Ordering::Relaxed));
        code(&r)
    })
}

/// `quorum_context_get`.
///
/// # Safety
/// `context` is NULL or valid for writing a `const void *`.
pub unsafe extern "C" fn quorum_context_get(handle: QuorumHandleT, context: *mut *const c_void) -> CsErrorT {
    guard(|| {
        // Deviation from corosync: NULL is refused instead of written to.
        if context.is_null() {
            return CS_ERR_INVALID_PARAM;
        }
        let result = HANDLES.get(handle).map(|e| e.context.load(Ordering::Relaxed));
        if let Ok(addr) = result {
            // SAFETY: not NULL, and the caller passes a `const void **`. The value is the
            // address the application stored; we only hand it back.
            unsafe { context.write(std::ptr::with_exposed_provenance(addr)) };
        }
        code(&result)
    })
}
