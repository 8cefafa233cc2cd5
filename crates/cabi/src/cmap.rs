//! The functions of `libcmap.so.4` (`<corosync/cmap.h>`), over [`quorumd_client::cmap`].
//!
//! Argument checks follow corosync's `lib/cmap.c` in its order: pointers and key-name length
//! first (`CS_ERR_INVALID_PARAM`, `CS_ERR_NAME_TOO_LONG`), then the handle
//! (`CS_ERR_BAD_HANDLE`), then the daemon's answer. A typed getter whose key has another type
//! is `CS_ERR_INVALID_PARAM`; a `cmap_get` buffer smaller than the value likewise.
//!
//! Deviation from corosync: NULL out-pointers corosync would write through (`fd`, `context`,
//! `handle`) give `CS_ERR_INVALID_PARAM` instead of a crash. Deviation from corosync: an
//! unknown `cs_dispatch_flags_t` is `CS_ERR_INVALID_PARAM`; corosync's library does not check
//! it and waits for ever.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use quorumd_client::cmap::{CmapClient, CmapMap, CmapNotify, CmapValue, KEYNAME_MAX};
use quorumd_client::{CsError, DispatchFlags};

use crate::handles::Handles;
use crate::{code, guard, CsErrorT, CS_OK};

/// `cmap_handle_t`, `cmap_iter_handle_t`, `cmap_track_handle_t`.
pub type CmapHandleT = u64;

/// `struct cmap_notify_value`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CmapNotifyValue {
    /// `cmap_value_types_t` (0 when there is no value).
    pub type_: u32,
    /// Bytes at `data`.
    pub len: usize,
    /// The value in host order, or NULL.
    pub data: *const c_void,
}

/// `cmap_notify_fn_t`.
pub type CmapNotifyFnT = Option<
    unsafe extern "C" fn(
        CmapHandleT,
        CmapHandleT,
        i32,
        *const c_char,
        CmapNotifyValue,
        CmapNotifyValue,
        *mut c_void,
    ),
>;

#[derive(Debug, Clone, Copy)]
struct Track {
    notify: CmapNotifyFnT,
    user_data: usize,
}

#[derive(Debug)]
struct Entry {
    client: CmapClient,
    context: AtomicUsize,
    tracks: Mutex<BTreeMap<u64, Track>>,
    finalized: AtomicBool,
}

static HANDLES: Handles<Entry> = Handles::new();

/// `CS_MAX_NAME_LENGTH`: corosync refuses key names this long or longer.
const CS_MAX_NAME_LENGTH: usize = 256;

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
}

/// Reads a key name: NULL → `INVALID_PARAM`, too long → `NAME_TOO_LONG`, not UTF-8 →
/// `INVALID_PARAM` (no valid key name has such bytes).
///
/// # Safety
/// `key` is NULL or a NUL-terminated string.
unsafe fn key_arg(key: *const c_char) -> Result<String, CsError> {
    if key.is_null() {
        return Err(CsError::InvalidParam);
    }
    // SAFETY: non-NULL and NUL-terminated per the C contract of every cmap function.
    let bytes = unsafe { CStr::from_ptr(key) }.to_bytes();
    if bytes.len() >= CS_MAX_NAME_LENGTH {
        return Err(CsError::NameTooLong);
    }
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| CsError::InvalidParam)
}

fn initialize_map(handle: *mut CmapHandleT, map: u32) -> CsErrorT {
    guard(|| {
        if handle.is_null() {
            return CsError::InvalidParam.raw();
        }
        let map = match map {
            0 => CmapMap::Default,
            1 => CmapMap::Stats,
            // As Corosync: the session opens, then the daemon refuses a map it does not have.
            _ => {
                return match CmapClient::connect_map(quorumd_client::socket_path(), CmapMap::Default) {
                    Ok(_) => CsError::NotExist.raw(),
                    Err(e) => e.code().raw(),
                }
            }
        };
        let client = match CmapClient::connect_map(quorumd_client::socket_path(), map) {
            Ok(c) => c,
            Err(e) => return e.code().raw(),
        };
        let entry = Entry {
            client,
            context: AtomicUsize::new(0),
            tracks: Mutex::new(BTreeMap::new()),
            finalized: AtomicBool::new(false),
        };
        let h = HANDLES.insert(Arc::new(entry));
        // SAFETY: checked non-NULL; the caller passes a writable cmap_handle_t.
        unsafe { *handle = h };
        CS_OK
    })
}

/// `cmap_initialize(handle)`.
///
/// # Safety
/// `handle` is NULL or writable.
pub unsafe extern "C" fn cmap_initialize(handle: *mut CmapHandleT) -> CsErrorT {
    initialize_map(handle, 0)
}

/// `cmap_initialize_map(handle, map)`.
///
/// # Safety
/// `handle` is NULL or writable.
pub unsafe extern "C" fn cmap_initialize_map(handle: *mut CmapHandleT, map: u32) -> CsErrorT {
    initialize_map(handle, map)
}

/// `cmap_finalize(handle)`: the handle is dead at once; the session closes when the last call
/// using it returns.
pub extern "C" fn cmap_finalize(handle: CmapHandleT) -> CsErrorT {
    guard(|| match HANDLES.remove(handle) {
        Ok(e) => {
            e.finalized.store(true, Ordering::Release);
            CS_OK
        }
        Err(e) => e.raw(),
    })
}

/// `cmap_fd_get(handle, fd)`: the session's event socket (peer: the daemon).
///
/// # Safety
/// `fd` is NULL or writable.
pub unsafe extern "C" fn cmap_fd_get(handle: CmapHandleT, fd: *mut c_int) -> CsErrorT {
    guard(|| {
        if fd.is_null() {
            return CsError::InvalidParam.raw();
        }
        match HANDLES.get(handle) {
            Ok(e) => {
                // SAFETY: checked non-NULL; the caller passes a writable int.
                unsafe { *fd = e.client.as_fd().as_raw_fd() };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `cmap_context_get(handle, context)`.
///
/// # Safety
/// `context` is NULL or writable.
pub unsafe extern "C" fn cmap_context_get(handle: CmapHandleT, context: *mut *const c_void) -> CsErrorT {
    guard(|| {
        if context.is_null() {
            return CsError::InvalidParam.raw();
        }
        match HANDLES.get(handle) {
            Ok(e) => {
                // SAFETY: checked non-NULL; the caller passes a writable pointer.
                unsafe { *context = e.context.load(Ordering::Relaxed) as *const c_void };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `cmap_context_set(handle, context)`.
pub extern "C" fn cmap_context_set(handle: CmapHandleT, context: *const c_void) -> CsErrorT {
    guard(|| match HANDLES.get(handle) {
        Ok(e) => {
            e.context.store(context as usize, Ordering::Relaxed);
            CS_OK
        }
        Err(e) => e.raw(),
    })
}

/// `cmap_set(handle, key, value, value_len, type)`: numbers need exactly their size, a string
/// at most its length plus NUL (corosync's rules); unknown types are `INVALID_PARAM`.
///
/// # Safety
/// `key` is NULL or a C string; `value` is NULL or `value_len` readable bytes.
pub unsafe extern "C" fn cmap_set(
    handle: CmapHandleT,
    key: *const c_char,
    value: *const c_void,
    value_len: usize,
    type_: u32,
) -> CsErrorT {
    guard(|| {
        if value.is_null() {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: per this function's contract.
        let key = match unsafe { key_arg(key) } {
            Ok(k) => k,
            Err(e) => return e.raw(),
        };
        let entry = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let Ok(type_code) = u8::try_from(type_) else { return CsError::InvalidParam.raw() };
        if value_len > quorumd_client::cmap::VALUE_MAX {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: `value` is non-NULL and points to `value_len` readable bytes (contract).
        let bytes = unsafe { std::slice::from_raw_parts(value.cast::<u8>(), value_len) };
        let fixed = match type_code {
            1 | 2 => Some(1),
            3 | 4 => Some(2),
            5 | 6 | 9 => Some(4),
            7 | 8 | 10 => Some(8),
            _ => None,
        };
        if fixed.is_some_and(|n| n != value_len) {
            return CsError::InvalidParam.raw();
        }
        if type_code == 11 {
            // A string: `value_len` may cut it short, but must not pass its NUL.
            let strlen = bytes.iter().position(|b| *b == 0);
            if strlen.is_some_and(|n| value_len > n + 1) {
                return CsError::InvalidParam.raw();
            }
        }
        let Some(v) = CmapValue::from_ne_bytes(type_code, bytes) else { return CsError::InvalidParam.raw() };
        code(&entry.client.set(&key, v))
    })
}

macro_rules! setter {
    ($name:ident, $t:ty, $code:expr) => {
        /// A typed `cmap_set_*`.
        ///
        /// # Safety
        /// `key` is NULL or a C string.
        pub unsafe extern "C" fn $name(handle: CmapHandleT, key: *const c_char, value: $t) -> CsErrorT {
            let bytes = value.to_ne_bytes();
            // SAFETY: `bytes` is readable for its length; `key` per this function's contract.
            unsafe { cmap_set(handle, key, bytes.as_ptr().cast(), bytes.len(), $code) }
        }
    };
}

setter!(cmap_set_int8, i8, 1);
setter!(cmap_set_uint8, u8, 2);
setter!(cmap_set_int16, i16, 3);
setter!(cmap_set_uint16, u16, 4);
setter!(cmap_set_int32, i32, 5);
setter!(cmap_set_uint32, u32, 6);
setter!(cmap_set_int64, i64, 7);
setter!(cmap_set_uint64, u64, 8);
setter!(cmap_set_float, f32, 9);
setter!(cmap_set_double, f64, 10);

/// `cmap_set_string(handle, key, value)`.
///
/// # Safety
/// `key` and `value` are NULL or C strings.
pub unsafe extern "C" fn cmap_set_string(
    handle: CmapHandleT,
    key: *const c_char,
    value: *const c_char,
) -> CsErrorT {
    if value.is_null() {
        return CsError::InvalidParam.raw();
    }
    // SAFETY: non-NULL C string per the contract.
    let len = unsafe { CStr::from_ptr(value) }.to_bytes().len();
    // SAFETY: `value` is readable for len + 1 bytes; `key` per the contract.
    unsafe { cmap_set(handle, key, value.cast(), len + 1, 11) }
}

fn key_op(
    handle: CmapHandleT,
    key: *const c_char,
    op: impl FnOnce(&CmapClient, &str) -> Result<(), CsError>,
) -> CsErrorT {
    guard(|| {
        // SAFETY: every caller passes its C `key_name` argument (NULL or a C string).
        let key = match unsafe { key_arg(key) } {
            Ok(k) => k,
            Err(e) => return e.raw(),
        };
        match HANDLES.get(handle) {
            Ok(e) => code(&op(&e.client, &key)),
            Err(e) => e.raw(),
        }
    })
}

/// `cmap_delete(handle, key)`.
///
/// # Safety
/// `key` is NULL or a C string.
pub unsafe extern "C" fn cmap_delete(handle: CmapHandleT, key: *const c_char) -> CsErrorT {
    key_op(handle, key, |c, k| c.delete(k))
}

/// `cmap_inc(handle, key)`.
///
/// # Safety
/// `key` is NULL or a C string.
pub unsafe extern "C" fn cmap_inc(handle: CmapHandleT, key: *const c_char) -> CsErrorT {
    key_op(handle, key, |c, k| c.inc(k))
}

/// `cmap_dec(handle, key)`.
///
/// # Safety
/// `key` is NULL or a C string.
pub unsafe extern "C" fn cmap_dec(handle: CmapHandleT, key: *const c_char) -> CsErrorT {
    key_op(handle, key, |c, k| c.dec(k))
}

/// `cmap_get(handle, key, value, value_len, type)`: with `value`, `*value_len` is its size
/// (smaller than the value: `INVALID_PARAM`); `*value_len` and `*type` receive the value's.
///
/// # Safety
/// `key` is NULL or a C string; `value` NULL or `*value_len` writable bytes; `value_len` and
/// `type_` NULL or writable.
pub unsafe extern "C" fn cmap_get(
    handle: CmapHandleT,
    key: *const c_char,
    value: *mut c_void,
    value_len: *mut usize,
    type_: *mut u32,
) -> CsErrorT {
    guard(|| {
        // SAFETY: per this function's contract.
        let key = match unsafe { key_arg(key) } {
            Ok(k) => k,
            Err(e) => return e.raw(),
        };
        if !value.is_null() && value_len.is_null() {
            return CsError::InvalidParam.raw();
        }
        let entry = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let v = match entry.client.get(&key) {
            Ok(v) => v,
            Err(e) => return e.raw(),
        };
        let bytes = v.to_ne_bytes();
        if !value.is_null() {
            // SAFETY: `value_len` is non-NULL here (checked above) and readable.
            let room = unsafe { *value_len };
            if room < bytes.len() {
                return CsError::InvalidParam.raw();
            }
            // SAFETY: `value` has `room` >= bytes.len() writable bytes (contract).
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), value.cast::<u8>(), bytes.len()) };
        }
        if !value_len.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { *value_len = bytes.len() };
        }
        if !type_.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { *type_ = u32::from(v.type_code()) };
        }
        CS_OK
    })
}

macro_rules! getter {
    ($name:ident, $t:ty, $code:expr) => {
        /// A typed `cmap_get_*`: another stored type is `CS_ERR_INVALID_PARAM`.
        ///
        /// # Safety
        /// `key` is NULL or a C string; `out` NULL or writable.
        pub unsafe extern "C" fn $name(handle: CmapHandleT, key: *const c_char, out: *mut $t) -> CsErrorT {
            if out.is_null() {
                return CsError::InvalidParam.raw();
            }
            let mut buf = [0u8; 16];
            let mut len = buf.len();
            let mut ty = 0u32;
            // SAFETY: the buffer, its length and the type are local and writable.
            let r = unsafe { cmap_get(handle, key, buf.as_mut_ptr().cast(), &mut len, &mut ty) };
            if r != CS_OK {
                return r;
            }
            if ty != $code {
                return CsError::InvalidParam.raw();
            }
            let mut a = [0u8; std::mem::size_of::<$t>()];
            let n = a.len();
            a.copy_from_slice(&buf[..n]);
            // SAFETY: `out` is non-NULL and writable (contract).
            unsafe { *out = <$t>::from_ne_bytes(a) };
            CS_OK
        }
    };
}

getter!(cmap_get_int8, i8, 1);
getter!(cmap_get_uint8, u8, 2);
getter!(cmap_get_int16, i16, 3);
getter!(cmap_get_uint16, u16, 4);
getter!(cmap_get_int32, i32, 5);
getter!(cmap_get_uint32, u32, 6);
getter!(cmap_get_int64, i64, 7);
getter!(cmap_get_uint64, u64, 8);
getter!(cmap_get_float, f32, 9);
getter!(cmap_get_double, f64, 10);

/// `cmap_get_string(handle, key, str)`: `*str` is a `malloc`ed copy the caller frees.
///
/// # Safety
/// `key` is NULL or a C string; `out` NULL or writable.
pub unsafe extern "C" fn cmap_get_string(
    handle: CmapHandleT,
    key: *const c_char,
    out: *mut *mut c_char,
) -> CsErrorT {
    guard(|| {
        if out.is_null() {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: per this function's contract.
        let key = match unsafe { key_arg(key) } {
            Ok(k) => k,
            Err(e) => return e.raw(),
        };
        let entry = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let v = match entry.client.get(&key) {
            Ok(v) => v,
            Err(e) => return e.raw(),
        };
        let CmapValue::String(_) = v else { return CsError::InvalidParam.raw() };
        let bytes = v.to_ne_bytes();
        // SAFETY: plain C allocation of a non-zero size.
        let p = unsafe { malloc(bytes.len()) }.cast::<u8>();
        if p.is_null() {
            return CsError::NoMemory.raw();
        }
        // SAFETY: `p` has bytes.len() writable bytes; `out` is non-NULL and writable.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *out = p.cast();
        }
        CS_OK
    })
}

/// `cmap_iter_init(handle, prefix, iter)`: a NULL prefix means every key.
///
/// # Safety
/// `prefix` is NULL or a C string; `iter` NULL or writable.
pub unsafe extern "C" fn cmap_iter_init(
    handle: CmapHandleT,
    prefix: *const c_char,
    iter: *mut CmapHandleT,
) -> CsErrorT {
    guard(|| {
        if iter.is_null() {
            return CsError::InvalidParam.raw();
        }
        let prefix = if prefix.is_null() {
            String::new()
        } else {
            // SAFETY: a non-NULL C string per the contract.
            match unsafe { key_arg(prefix) } {
                Ok(p) => p,
                Err(e) => return e.raw(),
            }
        };
        match HANDLES.get(handle).and_then(|e| e.client.iter_init(&prefix)) {
            Ok(i) => {
                // SAFETY: non-NULL and writable.
                unsafe { *iter = i };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `cmap_iter_next(handle, iter, key_name, value_len, type)`: `key_name` has room for
/// `CMAP_KEYNAME_MAXLEN + 1` bytes; `CS_ERR_NO_SECTIONS` after the last key.
///
/// # Safety
/// `key_name` is NULL or has 256 writable bytes; `value_len` and `type_` NULL or writable.
pub unsafe extern "C" fn cmap_iter_next(
    handle: CmapHandleT,
    iter: CmapHandleT,
    key_name: *mut c_char,
    value_len: *mut usize,
    type_: *mut u32,
) -> CsErrorT {
    guard(|| {
        if key_name.is_null() {
            return CsError::InvalidParam.raw();
        }
        match HANDLES.get(handle).and_then(|e| e.client.iter_next(iter)) {
            Ok(k) => {
                let n = k.name.len().min(KEYNAME_MAX);
                // SAFETY: `key_name` has KEYNAME_MAX + 1 writable bytes (contract); n <= MAX.
                unsafe {
                    std::ptr::copy_nonoverlapping(k.name.as_ptr(), key_name.cast::<u8>(), n);
                    *key_name.add(n) = 0;
                    if !value_len.is_null() {
                        *value_len = usize::try_from(k.value_len).unwrap_or(usize::MAX);
                    }
                    if !type_.is_null() {
                        *type_ = u32::from(k.type_code);
                    }
                }
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `cmap_iter_finalize(handle, iter)`.
pub extern "C" fn cmap_iter_finalize(handle: CmapHandleT, iter: CmapHandleT) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.iter_finalize(iter))))
}

/// `cmap_track_add(handle, key, track_type, notify_fn, user_data, track)`.
///
/// # Safety
/// `key` is NULL or a C string; `track` NULL or writable.
pub unsafe extern "C" fn cmap_track_add(
    handle: CmapHandleT,
    key: *const c_char,
    track_type: i32,
    notify_fn: CmapNotifyFnT,
    user_data: *mut c_void,
    track: *mut CmapHandleT,
) -> CsErrorT {
    guard(|| {
        if track.is_null() || notify_fn.is_none() {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: per this function's contract.
        let key = match unsafe { key_arg(key) } {
            Ok(k) => k,
            Err(e) => return e.raw(),
        };
        let entry = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let mut tracks = entry.tracks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match entry.client.track_add(&key, track_type as u32) {
            Ok(id) => {
                tracks.insert(id, Track { notify: notify_fn, user_data: user_data as usize });
                // SAFETY: non-NULL and writable.
                unsafe { *track = id };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `cmap_track_delete(handle, track)`.
pub extern "C" fn cmap_track_delete(handle: CmapHandleT, track: CmapHandleT) -> CsErrorT {
    guard(|| {
        let entry = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let r = entry.client.track_delete(track);
        if r.is_ok() {
            entry.tracks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&track);
        }
        code(&r)
    })
}

fn c_value(v: &Option<CmapValue>, store: &mut Vec<u8>) -> CmapNotifyValue {
    match v {
        None => CmapNotifyValue { type_: 0, len: 0, data: std::ptr::null() },
        Some(v) => {
            *store = v.to_ne_bytes();
            CmapNotifyValue { type_: u32::from(v.type_code()), len: store.len(), data: store.as_ptr().cast() }
        }
    }
}

fn deliver(handle: CmapHandleT, entry: &Entry, n: &CmapNotify) {
    let t = entry.tracks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&n.track).copied();
    // A track deleted meanwhile, or without a callback: nothing to call.
    // Deviation from corosync: its library may still call a just-deleted track's callback.
    let Some(Track { notify: Some(f), user_data }) = t else { return };
    let mut key = n.key.as_bytes().to_vec();
    key.push(0);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let new = c_value(&n.new, &mut a);
    let old = c_value(&n.old, &mut b);
    // SAFETY: `f` is the application's callback with this C signature (from cmap_track_add);
    // the key and the values point into locals that live for the whole call.
    unsafe { f(handle, n.track, n.event as i32, key.as_ptr().cast(), new, old, user_data as *mut c_void) };
}

/// `cmap_dispatch(handle, dispatch_types)`: an invalid mode is `INVALID_PARAM` before the
/// handle is looked up. Callbacks run with no lock held.
pub extern "C" fn cmap_dispatch(handle: CmapHandleT, dispatch_types: u32) -> CsErrorT {
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
        crate::dispatch(mode, &entry.finalized, next, |n| {
            deliver(handle, &entry, &n);
        })
    })
}
