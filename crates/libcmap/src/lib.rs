//! `libcmap.so.4`: Corosync's cmap C API (`include/corosync/cmap.h`) over quorumd. Every
//! function of the API is exported under the symbol version `COROSYNC_CMAP_1.0` (`build.rs`,
//! `libcmap.map`); the code lives in `quorumd_cabi::cmap`, and each export here only forwards
//! its arguments.
// Only forwarders of the C caller's arguments and the `.symver` directives (which must sit in
// the same object as the functions they name) live here.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)] // the contracts are the C API's, documented in quorumd_cabi::cmap

use std::ffi::{c_char, c_int, c_void};

use quorumd_cabi::cmap::{self as imp, CmapNotifyFnT};

#[no_mangle]
pub unsafe extern "C" fn cmap_initialize(handle: *mut u64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_initialize`.
    unsafe { imp::cmap_initialize(handle) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_initialize_map(handle: *mut u64, map: u32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_initialize_map`.
    unsafe { imp::cmap_initialize_map(handle, map) }
}

#[no_mangle]
pub extern "C" fn cmap_finalize(handle: u64) -> u32 {
    imp::cmap_finalize(handle)
}

#[no_mangle]
pub unsafe extern "C" fn cmap_fd_get(handle: u64, fd: *mut c_int) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_fd_get`.
    unsafe { imp::cmap_fd_get(handle, fd) }
}

#[no_mangle]
pub extern "C" fn cmap_dispatch(handle: u64, dispatch_types: u32) -> u32 {
    imp::cmap_dispatch(handle, dispatch_types)
}

#[no_mangle]
pub unsafe extern "C" fn cmap_context_get(handle: u64, context: *mut *const c_void) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_context_get`.
    unsafe { imp::cmap_context_get(handle, context) }
}

#[no_mangle]
pub extern "C" fn cmap_context_set(handle: u64, context: *const c_void) -> u32 {
    imp::cmap_context_set(handle, context)
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set(
    handle: u64,
    key: *const c_char,
    value: *const c_void,
    value_len: usize,
    type_: u32,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set`.
    unsafe { imp::cmap_set(handle, key, value, value_len, type_) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_int8(handle: u64, key: *const c_char, value: i8) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_int8`.
    unsafe { imp::cmap_set_int8(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_uint8(handle: u64, key: *const c_char, value: u8) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_uint8`.
    unsafe { imp::cmap_set_uint8(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_int16(handle: u64, key: *const c_char, value: i16) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_int16`.
    unsafe { imp::cmap_set_int16(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_uint16(handle: u64, key: *const c_char, value: u16) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_uint16`.
    unsafe { imp::cmap_set_uint16(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_int32(handle: u64, key: *const c_char, value: i32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_int32`.
    unsafe { imp::cmap_set_int32(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_uint32(handle: u64, key: *const c_char, value: u32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_uint32`.
    unsafe { imp::cmap_set_uint32(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_int64(handle: u64, key: *const c_char, value: i64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_int64`.
    unsafe { imp::cmap_set_int64(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_uint64(handle: u64, key: *const c_char, value: u64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_uint64`.
    unsafe { imp::cmap_set_uint64(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_float(handle: u64, key: *const c_char, value: f32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_float`.
    unsafe { imp::cmap_set_float(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_double(handle: u64, key: *const c_char, value: f64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_double`.
    unsafe { imp::cmap_set_double(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_set_string(handle: u64, key: *const c_char, value: *const c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_set_string`.
    unsafe { imp::cmap_set_string(handle, key, value) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_delete(handle: u64, key: *const c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_delete`.
    unsafe { imp::cmap_delete(handle, key) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get(
    handle: u64,
    key: *const c_char,
    value: *mut c_void,
    value_len: *mut usize,
    type_: *mut u32,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get`.
    unsafe { imp::cmap_get(handle, key, value, value_len, type_) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_int8(handle: u64, key: *const c_char, out: *mut i8) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_int8`.
    unsafe { imp::cmap_get_int8(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_uint8(handle: u64, key: *const c_char, out: *mut u8) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_uint8`.
    unsafe { imp::cmap_get_uint8(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_int16(handle: u64, key: *const c_char, out: *mut i16) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_int16`.
    unsafe { imp::cmap_get_int16(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_uint16(handle: u64, key: *const c_char, out: *mut u16) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_uint16`.
    unsafe { imp::cmap_get_uint16(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_int32(handle: u64, key: *const c_char, out: *mut i32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_int32`.
    unsafe { imp::cmap_get_int32(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_uint32(handle: u64, key: *const c_char, out: *mut u32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_uint32`.
    unsafe { imp::cmap_get_uint32(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_int64(handle: u64, key: *const c_char, out: *mut i64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_int64`.
    unsafe { imp::cmap_get_int64(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_uint64(handle: u64, key: *const c_char, out: *mut u64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_uint64`.
    unsafe { imp::cmap_get_uint64(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_float(handle: u64, key: *const c_char, out: *mut f32) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_float`.
    unsafe { imp::cmap_get_float(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_double(handle: u64, key: *const c_char, out: *mut f64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_double`.
    unsafe { imp::cmap_get_double(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_get_string(handle: u64, key: *const c_char, out: *mut *mut c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_get_string`.
    unsafe { imp::cmap_get_string(handle, key, out) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_inc(handle: u64, key: *const c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_inc`.
    unsafe { imp::cmap_inc(handle, key) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_dec(handle: u64, key: *const c_char) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_dec`.
    unsafe { imp::cmap_dec(handle, key) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_iter_init(handle: u64, prefix: *const c_char, iter: *mut u64) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_iter_init`.
    unsafe { imp::cmap_iter_init(handle, prefix, iter) }
}

#[no_mangle]
pub unsafe extern "C" fn cmap_iter_next(
    handle: u64,
    iter: u64,
    key_name: *mut c_char,
    value_len: *mut usize,
    type_: *mut u32,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_iter_next`.
    unsafe { imp::cmap_iter_next(handle, iter, key_name, value_len, type_) }
}

#[no_mangle]
pub extern "C" fn cmap_iter_finalize(handle: u64, iter: u64) -> u32 {
    imp::cmap_iter_finalize(handle, iter)
}

#[no_mangle]
pub unsafe extern "C" fn cmap_track_add(
    handle: u64,
    key: *const c_char,
    track_type: i32,
    notify_fn: CmapNotifyFnT,
    user_data: *mut c_void,
    track: *mut u64,
) -> u32 {
    // SAFETY: the arguments come from the C caller under the same contract as `imp::cmap_track_add`.
    unsafe { imp::cmap_track_add(handle, key, track_type, notify_fn, user_data, track) }
}

#[no_mangle]
pub extern "C" fn cmap_track_delete(handle: u64, track: u64) -> u32 {
    imp::cmap_track_delete(handle, track)
}

// rust-lld gives the first version script that names a symbol the last word, and rustc's own
// export list (unversioned) comes first; a `.symver` in the object binds each function to
// `COROSYNC_CMAP_1.0` as the default version before any script is read.
#[cfg(not(test))]
std::arch::global_asm!(
    ".symver cmap_initialize, cmap_initialize@@COROSYNC_CMAP_1.0",
    ".symver cmap_initialize_map, cmap_initialize_map@@COROSYNC_CMAP_1.0",
    ".symver cmap_finalize, cmap_finalize@@COROSYNC_CMAP_1.0",
    ".symver cmap_fd_get, cmap_fd_get@@COROSYNC_CMAP_1.0",
    ".symver cmap_dispatch, cmap_dispatch@@COROSYNC_CMAP_1.0",
    ".symver cmap_context_get, cmap_context_get@@COROSYNC_CMAP_1.0",
    ".symver cmap_context_set, cmap_context_set@@COROSYNC_CMAP_1.0",
    ".symver cmap_set, cmap_set@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_int8, cmap_set_int8@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_uint8, cmap_set_uint8@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_int16, cmap_set_int16@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_uint16, cmap_set_uint16@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_int32, cmap_set_int32@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_uint32, cmap_set_uint32@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_int64, cmap_set_int64@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_uint64, cmap_set_uint64@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_float, cmap_set_float@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_double, cmap_set_double@@COROSYNC_CMAP_1.0",
    ".symver cmap_set_string, cmap_set_string@@COROSYNC_CMAP_1.0",
    ".symver cmap_delete, cmap_delete@@COROSYNC_CMAP_1.0",
    ".symver cmap_get, cmap_get@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_int8, cmap_get_int8@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_uint8, cmap_get_uint8@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_int16, cmap_get_int16@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_uint16, cmap_get_uint16@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_int32, cmap_get_int32@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_uint32, cmap_get_uint32@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_int64, cmap_get_int64@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_uint64, cmap_get_uint64@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_float, cmap_get_float@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_double, cmap_get_double@@COROSYNC_CMAP_1.0",
    ".symver cmap_get_string, cmap_get_string@@COROSYNC_CMAP_1.0",
    ".symver cmap_inc, cmap_inc@@COROSYNC_CMAP_1.0",
    ".symver cmap_dec, cmap_dec@@COROSYNC_CMAP_1.0",
    ".symver cmap_iter_init, cmap_iter_init@@COROSYNC_CMAP_1.0",
    ".symver cmap_iter_next, cmap_iter_next@@COROSYNC_CMAP_1.0",
    ".symver cmap_iter_finalize, cmap_iter_finalize@@COROSYNC_CMAP_1.0",
    ".symver cmap_track_add, cmap_track_add@@COROSYNC_CMAP_1.0",
    ".symver cmap_track_delete, cmap_track_delete@@COROSYNC_CMAP_1.0",
);
