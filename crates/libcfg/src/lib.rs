//! `libcfg.so.7`: Corosync's cfg C API (`include/corosync/cfg.h`) over quorumd. Every
//! function is exported under the symbol version `COROSYNC_CFG_0.82` (`build.rs`,
//! `libcfg.map`); the code lives in `quorumd_cabi::cfg`, and each export here only forwards its
//! arguments.
// Only forwarders of the C caller's arguments and the `.symver` directives (which must sit in
// the same object as the functions they name) live here.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)] // the contracts are the C API's, documented in quorumd_cabi

use std::ffi::{c_char, c_int, c_uint, c_void};

use quorumd_cabi::cfg::{self as imp, CfgCallbacks, CfgNodeAddress};

#[no_mangle]
pub unsafe extern "C" fn corosync_cfg_initialize(handle: *mut u64, callbacks: *const CfgCallbacks) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::corosync_cfg_initialize`.
    unsafe { imp::corosync_cfg_initialize(handle, callbacks) }
}

#[no_mangle]
pub unsafe extern "C" fn corosync_cfg_fd_get(handle: u64, fd: *mut i32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::corosync_cfg_fd_get`.
    unsafe { imp::corosync_cfg_fd_get(handle, fd) }
}

#[no_mangle]
pub extern "C" fn corosync_cfg_dispatch(handle: u64, dispatch_flags: u32) -> u32 {
    imp::corosync_cfg_dispatch(handle, dispatch_flags)
}

#[no_mangle]
pub extern "C" fn corosync_cfg_finalize(handle: u64) -> u32 {
    imp::corosync_cfg_finalize(handle)
}

#[no_mangle]
pub unsafe extern "C" fn corosync_cfg_ring_status_get(
    handle: u64,
    interface_names: *mut *mut *mut c_char,
    status: *mut *mut *mut c_char,
    interface_count: *mut c_uint,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::corosync_cfg_ring_status_get`.
    unsafe { imp::corosync_cfg_ring_status_get(handle, interface_names, status, interface_count) }
}

#[no_mangle]
pub unsafe extern "C" fn corosync_cfg_node_status_get(
    handle: u64,
    nodeid: c_uint,
    version: u32,
    node_status: *mut c_void,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::corosync_cfg_node_status_get`.
    unsafe { imp::corosync_cfg_node_status_get(handle, nodeid, version, node_status) }
}

#[no_mangle]
pub unsafe extern "C" fn corosync_cfg_kill_node(handle: u64, nodeid: c_uint, reason: *const c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::corosync_cfg_kill_node`.
    unsafe { imp::corosync_cfg_kill_node(handle, nodeid, reason) }
}

#[no_mangle]
pub extern "C" fn corosync_cfg_trackstart(handle: u64, track_flags: u8) -> u32 {
    imp::corosync_cfg_trackstart(handle, track_flags)
}

#[no_mangle]
pub extern "C" fn corosync_cfg_trackstop(handle: u64) -> u32 {
    imp::corosync_cfg_trackstop(handle)
}

#[no_mangle]
pub extern "C" fn corosync_cfg_try_shutdown(handle: u64, flags: u32) -> u32 {
    imp::corosync_cfg_try_shutdown(handle, flags)
}

#[no_mangle]
pub extern "C" fn corosync_cfg_replyto_shutdown(handle: u64, flags: u32) -> u32 {
    imp::corosync_cfg_replyto_shutdown(handle, flags)
}

#[no_mangle]
pub unsafe extern "C" fn corosync_cfg_get_node_addrs(
    handle: u64,
    nodeid: c_uint,
    max_addrs: usize,
    num_addrs: *mut c_int,
    addrs: *mut CfgNodeAddress,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::corosync_cfg_get_node_addrs`.
    unsafe { imp::corosync_cfg_get_node_addrs(handle, nodeid, max_addrs, num_addrs, addrs) }
}

#[no_mangle]
pub unsafe extern "C" fn corosync_cfg_local_get(handle: u64, local_nodeid: *mut c_uint) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::corosync_cfg_local_get`.
    unsafe { imp::corosync_cfg_local_get(handle, local_nodeid) }
}

#[no_mangle]
pub extern "C" fn corosync_cfg_reload_config(handle: u64) -> u32 {
    imp::corosync_cfg_reload_config(handle)
}

#[no_mangle]
pub extern "C" fn corosync_cfg_reopen_log_files(handle: u64) -> u32 {
    imp::corosync_cfg_reopen_log_files(handle)
}

// rust-lld gives the first version script that names a symbol the last word, and rustc's own
// export list (unversioned) comes first; a `.symver` in the object binds each function to
// `COROSYNC_CFG_0.82` as the default version before any script is read.
#[cfg(not(test))]
std::arch::global_asm!(
    ".symver corosync_cfg_initialize, corosync_cfg_initialize@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_fd_get, corosync_cfg_fd_get@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_dispatch, corosync_cfg_dispatch@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_finalize, corosync_cfg_finalize@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_ring_status_get, corosync_cfg_ring_status_get@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_node_status_get, corosync_cfg_node_status_get@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_kill_node, corosync_cfg_kill_node@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_trackstart, corosync_cfg_trackstart@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_trackstop, corosync_cfg_trackstop@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_try_shutdown, corosync_cfg_try_shutdown@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_replyto_shutdown, corosync_cfg_replyto_shutdown@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_get_node_addrs, corosync_cfg_get_node_addrs@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_local_get, corosync_cfg_local_get@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_reload_config, corosync_cfg_reload_config@@COROSYNC_CFG_0.82",
    ".symver corosync_cfg_reopen_log_files, corosync_cfg_reopen_log_files@@COROSYNC_CFG_0.82",
);
