//! `libcpg.so.4`: Corosync's CPG C API (`<corosync/cpg.h>`) over quorumd. The code lives in
//! [`ffi`]; each export here only forwards its arguments. Symbol versions as Debian's binary:
//! twelve functions under `COROSYNC_CPG_1.0` (`build.rs`, `libcpg.map`), eight unversioned.
// Only forwarders of the C caller's arguments and the `.symver` directives (which must sit in
// the same object as the functions they name) live here.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)] // the contracts are the C API's, documented in `ffi`

pub mod ffi;

use std::ffi::{c_int, c_uint, c_void};

use ffi::{CpgAddress, CpgCallbacks, CpgIterationDescription, CpgName, CsErrorT, Iovec};

#[no_mangle]
pub unsafe extern "C" fn cpg_initialize(handle: *mut u64, callbacks: *const CpgCallbacks) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_initialize`.
    unsafe { ffi::cpg_initialize(handle, callbacks) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_model_initialize(
    handle: *mut u64,
    model: c_int,
    model_data: *const c_void,
    context: *mut c_void,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_model_initialize`.
    unsafe { ffi::cpg_model_initialize(handle, model, model_data, context) }
}

#[no_mangle]
pub extern "C" fn cpg_finalize(handle: u64) -> CsErrorT {
    ffi::cpg_finalize(handle)
}

#[no_mangle]
pub unsafe extern "C" fn cpg_fd_get(handle: u64, fd: *mut c_int) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_fd_get`.
    unsafe { ffi::cpg_fd_get(handle, fd) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_max_atomic_msgsize_get(handle: u64, size: *mut u32) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_max_atomic_msgsize_get`.
    unsafe { ffi::cpg_max_atomic_msgsize_get(handle, size) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_context_get(handle: u64, context: *mut *mut c_void) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_context_get`.
    unsafe { ffi::cpg_context_get(handle, context) }
}

#[no_mangle]
pub extern "C" fn cpg_context_set(handle: u64, context: *mut c_void) -> CsErrorT {
    ffi::cpg_context_set(handle, context)
}

#[no_mangle]
pub extern "C" fn cpg_dispatch(handle: u64, dispatch_types: c_uint) -> CsErrorT {
    ffi::cpg_dispatch(handle, dispatch_types)
}

#[no_mangle]
pub unsafe extern "C" fn cpg_join(handle: u64, group: *const CpgName) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_join`.
    unsafe { ffi::cpg_join(handle, group) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_leave(handle: u64, group: *const CpgName) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_leave`.
    unsafe { ffi::cpg_leave(handle, group) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_mcast_joined(
    handle: u64,
    guarantee: c_int,
    iovec: *const Iovec,
    iov_len: c_uint,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_mcast_joined`.
    unsafe { ffi::cpg_mcast_joined(handle, guarantee, iovec, iov_len) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_membership_get(
    handle: u64,
    group: *const CpgName,
    member_list: *mut CpgAddress,
    member_list_entries: *mut c_int,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_membership_get`.
    unsafe { ffi::cpg_membership_get(handle, group, member_list, member_list_entries) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_local_get(handle: u64, local_nodeid: *mut c_uint) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_local_get`.
    unsafe { ffi::cpg_local_get(handle, local_nodeid) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_flow_control_state_get(handle: u64, flow_control_state: *mut c_int) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_flow_control_state_get`.
    unsafe { ffi::cpg_flow_control_state_get(handle, flow_control_state) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_zcb_alloc(_handle: u64, size: usize, buffer: *mut *mut c_void) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_zcb_alloc`.
    unsafe { ffi::cpg_zcb_alloc(_handle, size, buffer) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_zcb_free(_handle: u64, buffer: *mut c_void) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_zcb_free`.
    unsafe { ffi::cpg_zcb_free(_handle, buffer) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_zcb_mcast_joined(
    handle: u64,
    guarantee: c_int,
    msg: *mut c_void,
    msg_len: usize,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_zcb_mcast_joined`.
    unsafe { ffi::cpg_zcb_mcast_joined(handle, guarantee, msg, msg_len) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_iteration_initialize(
    handle: u64,
    iteration_type: c_int,
    group: *const CpgName,
    iteration_handle: *mut u64,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_iteration_initialize`.
    unsafe { ffi::cpg_iteration_initialize(handle, iteration_type, group, iteration_handle) }
}

#[no_mangle]
pub unsafe extern "C" fn cpg_iteration_next(
    iteration_handle: u64,
    description: *mut CpgIterationDescription,
) -> CsErrorT {
    // SAFETY: the arguments come from the C caller under the same contract as `ffi::cpg_iteration_next`.
    unsafe { ffi::cpg_iteration_next(iteration_handle, description) }
}

#[no_mangle]
pub extern "C" fn cpg_iteration_finalize(iteration_handle: u64) -> CsErrorT {
    ffi::cpg_iteration_finalize(iteration_handle)
}

// rust-lld gives the first version script that names a symbol the last word, and rustc's own
// export list (unversioned) comes first; a `.symver` in the object binds each of the twelve
// functions to `COROSYNC_CPG_1.0` as the default version before any script is read. The other
// eight keep rustc's (unversioned) export, as in Debian's binary.
#[cfg(not(test))]
std::arch::global_asm!(
    ".symver cpg_initialize, cpg_initialize@@COROSYNC_CPG_1.0",
    ".symver cpg_finalize, cpg_finalize@@COROSYNC_CPG_1.0",
    ".symver cpg_fd_get, cpg_fd_get@@COROSYNC_CPG_1.0",
    ".symver cpg_context_get, cpg_context_get@@COROSYNC_CPG_1.0",
    ".symver cpg_context_set, cpg_context_set@@COROSYNC_CPG_1.0",
    ".symver cpg_dispatch, cpg_dispatch@@COROSYNC_CPG_1.0",
    ".symver cpg_join, cpg_join@@COROSYNC_CPG_1.0",
    ".symver cpg_leave, cpg_leave@@COROSYNC_CPG_1.0",
    ".symver cpg_mcast_joined, cpg_mcast_joined@@COROSYNC_CPG_1.0",
    ".symver cpg_membership_get, cpg_membership_get@@COROSYNC_CPG_1.0",
    ".symver cpg_zcb_alloc, cpg_zcb_alloc@@COROSYNC_CPG_1.0",
    ".symver cpg_zcb_free, cpg_zcb_free@@COROSYNC_CPG_1.0",
);
