//! `libvotequorum.so.8`: Corosync's votequorum C API (`include/corosync/votequorum.h`) over
//! quorumd. Every function is exported under the symbol version `COROSYNC_VOTEQUORUM_1.0`
//! (`build.rs`, `libvotequorum.map`); the code lives in `quorumd_cabi::votequorum`, and each
//! export here only forwards its arguments.
// Only forwarders of the C caller's arguments and the `.symver` directives (which must sit in
// the same object as the functions they name) live here.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)] // the contracts are the C API's, documented in quorumd_cabi

use std::ffi::{c_char, c_int, c_uint, c_void};

use quorumd_cabi::votequorum::{self as imp, VotequorumCallbacks, VotequorumInfo, VotequorumRingId};

#[no_mangle]
pub unsafe extern "C" fn votequorum_initialize(
    handle: *mut u64,
    callbacks: *const VotequorumCallbacks,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_initialize`.
    unsafe { imp::votequorum_initialize(handle, callbacks) }
}

#[no_mangle]
pub extern "C" fn votequorum_finalize(handle: u64) -> u32 {
    imp::votequorum_finalize(handle)
}

#[no_mangle]
pub extern "C" fn votequorum_dispatch(handle: u64, dispatch_types: u32) -> u32 {
    imp::votequorum_dispatch(handle, dispatch_types)
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_fd_get(handle: u64, fd: *mut c_int) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_fd_get`.
    unsafe { imp::votequorum_fd_get(handle, fd) }
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_getinfo(handle: u64, nodeid: c_uint, info: *mut VotequorumInfo) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_getinfo`.
    unsafe { imp::votequorum_getinfo(handle, nodeid, info) }
}

#[no_mangle]
pub extern "C" fn votequorum_setexpected(handle: u64, expected_votes: c_uint) -> u32 {
    imp::votequorum_setexpected(handle, expected_votes)
}

#[no_mangle]
pub extern "C" fn votequorum_setvotes(handle: u64, nodeid: c_uint, votes: c_uint) -> u32 {
    imp::votequorum_setvotes(handle, nodeid, votes)
}

#[no_mangle]
pub extern "C" fn votequorum_trackstart(handle: u64, context: u64, flags: c_uint) -> u32 {
    imp::votequorum_trackstart(handle, context, flags)
}

#[no_mangle]
pub extern "C" fn votequorum_trackstop(handle: u64) -> u32 {
    imp::votequorum_trackstop(handle)
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_context_get(handle: u64, context: *mut *mut c_void) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_context_get`.
    unsafe { imp::votequorum_context_get(handle, context) }
}

#[no_mangle]
pub extern "C" fn votequorum_context_set(handle: u64, context: *mut c_void) -> u32 {
    imp::votequorum_context_set(handle, context)
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_qdevice_register(handle: u64, name: *const c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_qdevice_register`.
    unsafe { imp::votequorum_qdevice_register(handle, name) }
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_qdevice_unregister(handle: u64, name: *const c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_qdevice_unregister`.
    unsafe { imp::votequorum_qdevice_unregister(handle, name) }
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_qdevice_update(
    handle: u64,
    oldname: *const c_char,
    newname: *const c_char,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_qdevice_update`.
    unsafe { imp::votequorum_qdevice_update(handle, oldname, newname) }
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_qdevice_poll(
    handle: u64,
    name: *const c_char,
    cast_vote: c_uint,
    ring_id: VotequorumRingId,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_qdevice_poll`.
    unsafe { imp::votequorum_qdevice_poll(handle, name, cast_vote, ring_id) }
}

#[no_mangle]
pub unsafe extern "C" fn votequorum_qdevice_master_wins(
    handle: u64,
    name: *const c_char,
    allow: c_uint,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::votequorum_qdevice_master_wins`.
    unsafe { imp::votequorum_qdevice_master_wins(handle, name, allow) }
}

// rust-lld gives the first version script that names a symbol the last word, and rustc's own
// export list (unversioned) comes first; a `.symver` in the object binds each function to
// `COROSYNC_VOTEQUORUM_1.0` as the default version before any script is read.
#[cfg(not(test))]
std::arch::global_asm!(
    ".symver votequorum_initialize, votequorum_initialize@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_finalize, votequorum_finalize@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_dispatch, votequorum_dispatch@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_fd_get, votequorum_fd_get@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_getinfo, votequorum_getinfo@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_setexpected, votequorum_setexpected@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_setvotes, votequorum_setvotes@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_trackstart, votequorum_trackstart@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_trackstop, votequorum_trackstop@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_context_get, votequorum_context_get@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_context_set, votequorum_context_set@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_qdevice_register, votequorum_qdevice_register@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_qdevice_unregister, votequorum_qdevice_unregister@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_qdevice_update, votequorum_qdevice_update@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_qdevice_poll, votequorum_qdevice_poll@@COROSYNC_VOTEQUORUM_1.0",
    ".symver votequorum_qdevice_master_wins, votequorum_qdevice_master_wins@@COROSYNC_VOTEQUORUM_1.0",
);
