//! The ten exported functions of `libquorum.so.5`, each forwarding to `quorumd_cabi::quorum`
//! (where their contracts are documented), and their symbol versions.
// Only forwarders of the C caller's arguments and the `.symver` directives (which must sit in
// the same object as the functions they name) live here.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)] // the contracts are the C API's, documented in quorumd_cabi

use std::ffi::{c_int, c_uint, c_void};

use quorumd_cabi::quorum as imp;
use quorumd_cabi::quorum_types::{CsErrorT, QuorumCallbacksT, QuorumHandleT, QuorumModelDataT};

/// `quorum_initialize`.
#[no_mangle]
pub unsafe extern "C" fn quorum_initialize(
    handle: *mut QuorumHandleT,
    callbacks: *mut QuorumCallbacksT,
    quorum_type: *mut u32,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::quorum_initialize`.
    unsafe { imp::quorum_initialize(handle, callbacks, quorum_type) }
}

/// `quorum_model_initialize`.
#[no_mangle]
pub unsafe extern "C" fn quorum_model_initialize(
    handle: *mut QuorumHandleT,
    model: u32,
    model_data: *mut QuorumModelDataT,
    quorum_type: *mut u32,
    context: *mut c_void,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::quorum_model_initialize`.
    unsafe { imp::quorum_model_initialize(handle, model, model_data, quorum_type, context) }
}

/// `quorum_finalize`.
#[no_mangle]
pub extern "C" fn quorum_finalize(handle: QuorumHandleT) -> CsErrorT {
    imp::quorum_finalize(handle)
}

/// `quorum_fd_get`.
#[no_mangle]
pub unsafe extern "C" fn quorum_fd_get(handle: QuorumHandleT, fd: *mut c_int) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::quorum_fd_get`.
    unsafe { imp::quorum_fd_get(handle, fd) }
}

/// `quorum_dispatch`.
#[no_mangle]
pub extern "C" fn quorum_dispatch(handle: QuorumHandleT, dispatch_types: u32) -> CsErrorT {
    imp::quorum_dispatch(handle, dispatch_types)
}

/// `quorum_getquorate`.
#[no_mangle]
pub unsafe extern "C" fn quorum_getquorate(handle: QuorumHandleT, quorate: *mut c_int) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::quorum_getquorate`.
    unsafe { imp::quorum_getquorate(handle, quorate) }
}

/// `quorum_trackstart`.
#[no_mangle]
pub extern "C" fn quorum_trackstart(handle: QuorumHandleT, flags: c_uint) -> CsErrorT {
    imp::quorum_trackstart(handle, flags)
}

/// `quorum_trackstop`.
#[no_mangle]
pub extern "C" fn quorum_trackstop(handle: QuorumHandleT) -> CsErrorT {
    imp::quorum_trackstop(handle)
}

/// `quorum_context_set`.
#[no_mangle]
pub extern "C" fn quorum_context_set(handle: QuorumHandleT, context: *const c_void) -> CsErrorT {
    imp::quorum_context_set(handle, context)
}

/// `quorum_context_get`.
#[no_mangle]
pub unsafe extern "C" fn quorum_context_get(handle: QuorumHandleT, context: *mut *const c_void) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::quorum_context_get`.
    unsafe { imp::quorum_context_get(handle, context) }
}

// Symbol versions (only in the shared library, not in unit-test executables): each function's
// default version is `COROSYNC_QUORUM_1.0`, the node that `libquorum.map` defines (rustc's own
// anonymous version script cannot carry a node name).
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
