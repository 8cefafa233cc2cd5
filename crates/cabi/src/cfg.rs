//! The functions of `libcfg.so.7` (`<corosync/cfg.h>` of Corosync 3.1.7), over
//! [`quorumd_client::cfg`].
//!
//! Deviation from corosync: NULL out-pointers corosync would write through give
//! `CS_ERR_INVALID_PARAM` instead of a crash. Deviation from corosync: an unknown
//! `cs_dispatch_flags_t` is `CS_ERR_INVALID_PARAM`; corosync's library does not check it and
//! waits for ever.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use quorumd_client::cfg::CfgClient;
use quorumd_client::{CsError, DispatchFlags};

use crate::handles::Handles;
use crate::{code, guard, CsErrorT, CS_OK};

/// `corosync_cfg_handle_t`.
pub type CfgHandleT = u64;

/// `corosync_cfg_shutdown_callback_t`.
pub type ShutdownFn = Option<unsafe extern "C" fn(CfgHandleT, u32)>;

/// `corosync_cfg_callbacks_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CfgCallbacks {
    /// Called with the flags of a shutdown request.
    pub shutdown: ShutdownFn,
}

/// `corosync_cfg_node_address_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CfgNodeAddress {
    /// Bytes of the sockaddr in `address`.
    pub address_length: c_int,
    /// A `sockaddr_in` or `sockaddr_in6`.
    pub address: [u8; 28],
}

/// `CFG_MAX_HOST_LEN`.
const HOST_LEN: usize = 256;
/// `CFG_MAX_LINKS`.
const MAX_LINKS: usize = 8;

/// `struct corosync_knet_link_status_v1`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LinkStatusV1 {
    /// Configured and enabled.
    pub enabled: u8,
    /// Connected.
    pub connected: u8,
    /// Activated by a remote dynamic IP.
    pub dynconnected: u8,
    /// MTU.
    pub mtu: c_uint,
    /// Local address.
    pub src_ipaddr: [c_char; HOST_LEN],
    /// Remote address.
    pub dst_ipaddr: [c_char; HOST_LEN],
}

/// `struct corosync_cfg_node_status_v1`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NodeStatusV1 {
    /// `CFG_NODE_STATUS_V1`.
    pub version: u32,
    /// Node id.
    pub nodeid: c_uint,
    /// Reachable.
    pub reachable: u8,
    /// Not this node.
    pub remote: u8,
    /// Outside the cluster.
    pub external: u8,
    /// On-wire minimum version.
    pub onwire_min: u8,
    /// On-wire maximum version.
    pub onwire_max: u8,
    /// On-wire version in use.
    pub onwire_ver: u8,
    /// Links.
    pub link_status: [LinkStatusV1; MAX_LINKS],
}

#[derive(Debug)]
struct Entry {
    client: CfgClient,
    callbacks: CfgCallbacks,
    finalized: AtomicBool,
}

static HANDLES: Handles<Entry> = Handles::new();

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
}

fn text<const N: usize>(s: &str) -> [c_char; N] {
    let mut out = [0 as c_char; N];
    for (d, b) in out.iter_mut().zip(s.bytes().take(N - 1)) {
        *d = b as c_char;
    }
    out
}

/// A `malloc`ed copy of `s`, NUL-terminated; NULL when out of memory.
fn c_string(s: &str) -> *mut c_char {
    // SAFETY: plain C allocation of a non-zero size.
    let p = unsafe { malloc(s.len() + 1) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: `p` has s.len() + 1 writable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
            *p.add(s.len()) = 0;
        }
    }
    p.cast()
}

/// `corosync_cfg_initialize(handle, callbacks)`; `callbacks` may be NULL.
///
/// # Safety
/// `handle` is NULL or writable; `callbacks` NULL or readable.
pub unsafe extern "C" fn corosync_cfg_initialize(
    handle: *mut CfgHandleT,
    callbacks: *const CfgCallbacks,
) -> CsErrorT {
    guard(|| {
        if handle.is_null() {
            return CsError::InvalidParam.raw();
        }
        let callbacks = if callbacks.is_null() {
            CfgCallbacks { shutdown: None }
        } else {
            // SAFETY: non-NULL and readable (contract).
            unsafe { *callbacks }
        };
        let client = match CfgClient::connect() {
            Ok(c) => c,
            Err(e) => return e.code().raw(),
        };
        let h = HANDLES.insert(Arc::new(Entry { client, callbacks, finalized: AtomicBool::new(false) }));
        // SAFETY: checked non-NULL and writable.
        unsafe { *handle = h };
        CS_OK
    })
}

/// `corosync_cfg_finalize(handle)`.
pub extern "C" fn corosync_cfg_finalize(handle: CfgHandleT) -> CsErrorT {
    guard(|| match HANDLES.remove(handle) {
        Ok(e) => {
            e.finalized.store(true, Ordering::Release);
            CS_OK
        }
        Err(e) => e.raw(),
    })
}

/// `corosync_cfg_fd_get(handle, fd)`: the session's event socket (peer: the daemon).
///
/// # Safety
/// `fd` is NULL or writable.
pub unsafe extern "C" fn corosync_cfg_fd_get(handle: CfgHandleT, fd: *mut i32) -> CsErrorT {
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

/// `corosync_cfg_dispatch(handle, flags)`: runs the shutdown callback.
pub extern "C" fn corosync_cfg_dispatch(handle: CfgHandleT, dispatch_flags: u32) -> CsErrorT {
    guard(|| {
        let Some(mode) = DispatchFlags::from_raw(dispatch_flags) else { return CsError::InvalidParam.raw() };
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
            if let Some(f) = entry.callbacks.shutdown {
                // SAFETY: `f` has this C signature (from corosync_cfg_callbacks_t).
                unsafe { f(handle, ev.flags) };
            }
        })
    })
}

/// `corosync_cfg_local_get(handle, local_nodeid)`.
///
/// # Safety
/// `local_nodeid` is NULL or writable.
pub unsafe extern "C" fn corosync_cfg_local_get(handle: CfgHandleT, local_nodeid: *mut c_uint) -> CsErrorT {
    guard(|| {
        if local_nodeid.is_null() {
            return CsError::InvalidParam.raw();
        }
        match HANDLES.get(handle).and_then(|e| e.client.local_get()) {
            Ok(id) => {
                // SAFETY: checked non-NULL and writable.
                unsafe { *local_nodeid = id };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `corosync_cfg_get_node_addrs(handle, nodeid, max_addrs, num_addrs, addrs)`: real
/// `sockaddr_in` / `sockaddr_in6` (port 0).
///
/// # Safety
/// `num_addrs` NULL or writable; `addrs` NULL or `max_addrs` writable entries.
pub unsafe extern "C" fn corosync_cfg_get_node_addrs(
    handle: CfgHandleT,
    nodeid: c_uint,
    max_addrs: usize,
    num_addrs: *mut c_int,
    addrs: *mut CfgNodeAddress,
) -> CsErrorT {
    guard(|| {
        if num_addrs.is_null() || (addrs.is_null() && max_addrs > 0) {
            return CsError::InvalidParam.raw();
        }
        let list = match HANDLES.get(handle).and_then(|e| e.client.node_addrs(nodeid)) {
            Ok(l) => l,
            Err(e) => return e.raw(),
        };
        let n = list.len().min(max_addrs);
        for (i, a) in list.iter().take(n).enumerate() {
            let mut out = CfgNodeAddress { address_length: 0, address: [0; 28] };
            if a.family == 4 && a.bytes.len() == 4 {
                out.address[..2].copy_from_slice(&(rustix::net::AddressFamily::INET.as_raw()).to_ne_bytes());
                out.address[4..8].copy_from_slice(&a.bytes);
                out.address_length = 16;
            } else if a.bytes.len() == 16 {
                out.address[..2].copy_from_slice(&(rustix::net::AddressFamily::INET6.as_raw()).to_ne_bytes());
                out.address[8..24].copy_from_slice(&a.bytes);
                out.address_length = 28;
            }
            // SAFETY: i < n <= max_addrs entries are writable (contract).
            unsafe { addrs.add(i).write(out) };
        }
        // As Corosync: the number of addresses the node has, even when fewer fit in `addrs`.
        // SAFETY: checked non-NULL and writable.
        unsafe { *num_addrs = c_int::try_from(list.len()).unwrap_or(c_int::MAX) };
        CS_OK
    })
}

/// `corosync_cfg_node_status_get(handle, nodeid, version, node_status)`.
///
/// # Safety
/// `node_status` is NULL or a writable `struct corosync_cfg_node_status_v1`.
pub unsafe extern "C" fn corosync_cfg_node_status_get(
    handle: CfgHandleT,
    nodeid: c_uint,
    version: u32,
    node_status: *mut c_void,
) -> CsErrorT {
    guard(|| {
        if node_status.is_null() {
            return CsError::InvalidParam.raw();
        }
        // As Corosync's library: a version it does not know is refused before asking.
        if version != 1 {
            return CsError::InvalidParam.raw();
        }
        let s = match HANDLES.get(handle).and_then(|e| e.client.node_status(nodeid)) {
            Ok(s) => s,
            Err(e) => return e.raw(),
        };
        let empty = LinkStatusV1 {
            enabled: 0,
            connected: 0,
            dynconnected: 0,
            mtu: 0,
            src_ipaddr: [0; HOST_LEN],
            dst_ipaddr: [0; HOST_LEN],
        };
        let mut links = [empty; MAX_LINKS];
        for (d, l) in links.iter_mut().zip(&s.links) {
            *d = LinkStatusV1 {
                enabled: l.enabled,
                connected: l.connected,
                dynconnected: l.dynconnected,
                mtu: l.mtu,
                src_ipaddr: text(&l.src),
                dst_ipaddr: text(&l.dst),
            };
        }
        let out = NodeStatusV1 {
            version: 1,
            nodeid: s.nodeid,
            reachable: s.reachable,
            remote: s.remote,
            external: s.external,
            onwire_min: s.onwire[0],
            onwire_max: s.onwire[1],
            onwire_ver: s.onwire[2],
            link_status: links,
        };
        // SAFETY: non-NULL and points to a writable struct of this layout (contract).
        unsafe { node_status.cast::<NodeStatusV1>().write(out) };
        CS_OK
    })
}

/// `corosync_cfg_ring_status_get(handle, interface_names, status, interface_count)`: two
/// `malloc`ed arrays of `malloc`ed strings, for the caller to free.
///
/// # Safety
/// The three out-pointers are NULL or writable.
pub unsafe extern "C" fn corosync_cfg_ring_status_get(
    handle: CfgHandleT,
    interface_names: *mut *mut *mut c_char,
    status: *mut *mut *mut c_char,
    interface_count: *mut c_uint,
) -> CsErrorT {
    guard(|| {
        if interface_names.is_null() || status.is_null() || interface_count.is_null() {
            return CsError::InvalidParam.raw();
        }
        let links = match HANDLES.get(handle).and_then(|e| e.client.ring_status()) {
            Ok(l) => l,
            Err(e) => return e.raw(),
        };
        let n = links.len().max(1);
        // SAFETY: plain C allocations of non-zero sizes.
        let (names, stats) = unsafe {
            (
                malloc(n * size_of::<*mut c_char>()).cast::<*mut c_char>(),
                malloc(n * size_of::<*mut c_char>()).cast::<*mut c_char>(),
            )
        };
        if names.is_null() || stats.is_null() {
            return CsError::NoMemory.raw();
        }
        for (i, (a, b)) in links.iter().enumerate() {
            // SAFETY: i < links.len() <= n entries allocated above.
            unsafe {
                names.add(i).write(c_string(a));
                stats.add(i).write(c_string(b));
            }
        }
        // SAFETY: the out-pointers are non-NULL and writable (contract).
        unsafe {
            *interface_names = names;
            *status = stats;
            *interface_count = c_uint::try_from(links.len()).unwrap_or(0);
        }
        CS_OK
    })
}

/// `corosync_cfg_kill_node(handle, nodeid, reason)`: a reason of 256 bytes or more is
/// `CS_ERR_NAME_TOO_LONG`.
///
/// # Safety
/// `reason` is NULL or a C string.
pub unsafe extern "C" fn corosync_cfg_kill_node(
    handle: CfgHandleT,
    nodeid: c_uint,
    reason: *const c_char,
) -> CsErrorT {
    guard(|| {
        if reason.is_null() {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: non-NULL C string (contract).
        let r = unsafe { CStr::from_ptr(reason) }.to_bytes();
        if r.len() >= 256 {
            return CsError::NameTooLong.raw();
        }
        let r = String::from_utf8_lossy(r).into_owned();
        code(&HANDLES.get(handle).and_then(|e| e.client.kill_node(nodeid, &r)))
    })
}

/// `corosync_cfg_trackstart(handle, track_flags)`.
pub extern "C" fn corosync_cfg_trackstart(handle: CfgHandleT, track_flags: u8) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.trackstart(u32::from(track_flags)))))
}

/// `corosync_cfg_trackstop(handle)`.
pub extern "C" fn corosync_cfg_trackstop(handle: CfgHandleT) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.trackstop())))
}

/// `corosync_cfg_try_shutdown(handle, flags)`: returns once the trackers decided.
pub extern "C" fn corosync_cfg_try_shutdown(handle: CfgHandleT, flags: u32) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.try_shutdown(flags))))
}

/// `corosync_cfg_replyto_shutdown(handle, flags)`: `COROSYNC_CFG_SHUTDOWN_FLAG_YES` (1) or NO (0).
pub extern "C" fn corosync_cfg_replyto_shutdown(handle: CfgHandleT, flags: u32) -> CsErrorT {
    // As Corosync's library: the daemon's verdict (CS_ERR_ACCESS when no shutdown is asking)
    // is not returned, only whether the request reached it.
    guard(|| match HANDLES.get(handle).and_then(|e| e.client.replyto_shutdown(flags == 1)) {
        Ok(()) | Err(CsError::Access) => CS_OK,
        Err(e) => e.raw(),
    })
}

/// `corosync_cfg_reload_config(handle)`.
pub extern "C" fn corosync_cfg_reload_config(handle: CfgHandleT) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.reload_config())))
}

/// `corosync_cfg_reopen_log_files(handle)`.
pub extern "C" fn corosync_cfg_reopen_log_files(handle: CfgHandleT) -> CsErrorT {
    guard(|| code(&HANDLES.get(handle).and_then(|e| e.client.reopen_log_files())))
}
