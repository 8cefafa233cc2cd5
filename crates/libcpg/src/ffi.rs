//! The functions of `libcpg.so.4` (`<corosync/cpg.h>` of Corosync 3.1.7), over
//! [`quorumd_client::cpg`]. Argument checks and their order follow Corosync's `lib/cpg.c`:
//! a group name longer than `CPG_MAX_NAME_LENGTH` is `CS_ERR_NAME_TOO_LONG` before the handle
//! is looked at; iteration arguments are checked before the handle; an unknown model or model
//! flag is `CS_ERR_INVALID_PARAM`.
//!
//! Deviation from corosync: NULL out-pointers corosync would write through (`handle`, `fd`,
//! `context`, `size`, `local_nodeid`, `flow_control_state`, `buffer`) and a NULL group name
//! give `CS_ERR_INVALID_PARAM` instead of a crash; so does an unknown dispatch type (corosync
//! treats it as blocking). See docs/deviations.md, "The CPG library".
#![allow(unsafe_code)]

use std::ffi::{c_int, c_uint, c_void};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use quorumd_cabi::handles::Handles;
use quorumd_client::cpg::{
    CpgClient, CpgEvent, GroupName, Guarantee, IterEntry, IterationType, Member, ModelFlags,
};
use quorumd_client::{CsError, DispatchFlags};

/// `cs_error_t`.
pub type CsErrorT = u32;
const CS_OK: CsErrorT = 1;

/// `CPG_MAX_NAME_LENGTH`.
const NAME_MAX: usize = quorumd_client::cpg::GROUP_NAME_MAX;

/// `struct cpg_name`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CpgName {
    /// Bytes of `value` in use.
    pub length: u32,
    /// The name (not NUL-terminated).
    pub value: [u8; NAME_MAX],
}

/// `struct cpg_address`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CpgAddress {
    /// Node id.
    pub nodeid: u32,
    /// Process id.
    pub pid: u32,
    /// `cpg_reason_t`.
    pub reason: u32,
}

/// `struct cpg_ring_id`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CpgRingId {
    /// Representative.
    pub nodeid: u32,
    /// Sequence.
    pub seq: u64,
}

/// `struct cpg_iteration_description_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CpgIterationDescription {
    /// Group.
    pub group: CpgName,
    /// Node id (0 with `CPG_ITERATION_NAME_ONLY`).
    pub nodeid: u32,
    /// Process id (0 with `CPG_ITERATION_NAME_ONLY`).
    pub pid: u32,
}

/// `cpg_deliver_fn_t`.
pub type DeliverFn = Option<unsafe extern "C" fn(u64, *const CpgName, u32, u32, *mut c_void, usize)>;
/// `cpg_confchg_fn_t`.
pub type ConfchgFn = Option<
    unsafe extern "C" fn(
        u64,
        *const CpgName,
        *const CpgAddress,
        usize,
        *const CpgAddress,
        usize,
        *const CpgAddress,
        usize,
    ),
>;
/// `cpg_totem_confchg_fn_t`.
pub type TotemConfchgFn = Option<unsafe extern "C" fn(u64, CpgRingId, u32, *const u32)>;

/// `cpg_callbacks_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CpgCallbacks {
    /// Messages.
    pub deliver: DeliverFn,
    /// Group membership changes.
    pub confchg: ConfchgFn,
}

/// `cpg_model_v1_data_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CpgModelV1Data {
    /// `cpg_model_t` (an `enum`: `int`-sized).
    pub model: c_int,
    /// Messages.
    pub deliver: DeliverFn,
    /// Group membership changes.
    pub confchg: ConfchgFn,
    /// Totem (ring) membership changes.
    pub totem_confchg: TotemConfchgFn,
    /// `CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`.
    pub flags: c_uint,
}

/// `CPG_MODEL_V1`.
const CPG_MODEL_V1: c_int = 1;

#[derive(Debug)]
struct Entry {
    client: CpgClient,
    callbacks: CpgModelV1Data,
    context: AtomicUsize,
    finalized: AtomicBool,
}

#[derive(Debug)]
struct Iteration {
    rows: Mutex<std::vec::IntoIter<IterEntry>>,
}

static HANDLES: Handles<Entry> = Handles::new();
static ITERATIONS: Handles<Iteration> = Handles::new();

/// Runs `f`; a panic becomes `CS_ERR_LIBRARY`.
fn guard(f: impl FnOnce() -> CsErrorT) -> CsErrorT {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(CsError::Library.raw())
}

fn code<T>(r: &Result<T, CsError>) -> CsErrorT {
    quorumd_client::error::raw(r)
}

/// The group name a C caller passed: NULL → `INVALID_PARAM`, longer than
/// `CPG_MAX_NAME_LENGTH` → `NAME_TOO_LONG` (Corosync's check).
///
/// # Safety
/// `name` is NULL or points to a readable `struct cpg_name`.
unsafe fn group_arg(name: *const CpgName) -> Result<GroupName, CsError> {
    if name.is_null() {
        return Err(CsError::InvalidParam);
    }
    // SAFETY: non-NULL and readable (contract); copied out.
    let n = unsafe { *name };
    let len = n.length as usize;
    if len > NAME_MAX {
        return Err(CsError::NameTooLong);
    }
    GroupName::new(&n.value[..len])
}

fn c_name(g: &GroupName) -> CpgName {
    let mut value = [0u8; NAME_MAX];
    let b = g.as_bytes();
    value[..b.len()].copy_from_slice(b);
    CpgName { length: b.len() as u32, value }
}

fn c_addresses(list: &[Member]) -> Vec<CpgAddress> {
    list.iter().map(|m| CpgAddress { nodeid: m.nodeid, pid: m.pid, reason: m.reason.raw() }).collect()
}

/// `cpg_initialize(handle, callbacks)`: the V1 model with the two callbacks (or none).
///
/// # Safety
/// `handle` is NULL or writable; `callbacks` NULL or readable.
pub unsafe extern "C" fn cpg_initialize(handle: *mut u64, callbacks: *const CpgCallbacks) -> CsErrorT {
    let mut v1 =
        CpgModelV1Data { model: CPG_MODEL_V1, deliver: None, confchg: None, totem_confchg: None, flags: 0 };
    if !callbacks.is_null() {
        // SAFETY: non-NULL and readable (contract); copied out.
        let cb = unsafe { *callbacks };
        v1.deliver = cb.deliver;
        v1.confchg = cb.confchg;
    }
    // SAFETY: `handle` per our contract; `v1` is a local of the right type.
    unsafe {
        cpg_model_initialize(
            handle,
            CPG_MODEL_V1,
            (&v1 as *const CpgModelV1Data).cast(),
            std::ptr::null_mut(),
        )
    }
}

/// `cpg_model_initialize(handle, model, model_data, context)`.
///
/// # Safety
/// `handle` is NULL or writable; `model_data` NULL or a readable `cpg_model_v1_data_t` (what
/// Corosync copies for `CPG_MODEL_V1`).
pub unsafe extern "C" fn cpg_model_initialize(
    handle: *mut u64,
    model: c_int,
    model_data: *const c_void,
    context: *mut c_void,
) -> CsErrorT {
    guard(|| {
        if model != CPG_MODEL_V1 || handle.is_null() {
            return CsError::InvalidParam.raw();
        }
        let callbacks = if model_data.is_null() {
            CpgModelV1Data { model, deliver: None, confchg: None, totem_confchg: None, flags: 0 }
        } else {
            // SAFETY: non-NULL and a readable cpg_model_v1_data_t (contract); copied out.
            unsafe { *model_data.cast::<CpgModelV1Data>() }
        };
        let Some(flags) = ModelFlags::from_bits(callbacks.flags) else {
            return CsError::InvalidParam.raw();
        };
        let client = match CpgClient::connect(flags) {
            Ok(c) => c,
            Err(e) => return e.code().raw(),
        };
        let entry = Entry {
            client,
            callbacks,
            context: AtomicUsize::new(context as usize),
            finalized: AtomicBool::new(false),
        };
        let h = HANDLES.insert(Arc::new(entry));
        // SAFETY: checked non-NULL and writable.
        unsafe { *handle = h };
        CS_OK
    })
}

/// `cpg_finalize(handle)`: the session ends (the daemon sees our groups' members go, reason
/// LEAVE... as Corosync's finalize); `CS_ERR_LIBRARY` when the daemon was already gone (the
/// handle is released all the same), as Corosync answers.
pub extern "C" fn cpg_finalize(handle: u64) -> CsErrorT {
    guard(|| match HANDLES.remove(handle) {
        Ok(e) => {
            e.finalized.store(true, Ordering::Release);
            code(&e.client.finalize())
        }
        Err(e) => e.raw(),
    })
}

/// `cpg_fd_get(handle, fd)`: the session's event socket (peer: the daemon).
///
/// # Safety
/// `fd` is NULL or writable.
pub unsafe extern "C" fn cpg_fd_get(handle: u64, fd: *mut c_int) -> CsErrorT {
    guard(|| {
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        if fd.is_null() {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: checked non-NULL and writable.
        unsafe { *fd = e.client.as_fd().as_raw_fd() };
        CS_OK
    })
}

/// `cpg_max_atomic_msgsize_get(handle, size)`: the largest message sent as one request.
///
/// # Safety
/// `size` is NULL or writable.
pub unsafe extern "C" fn cpg_max_atomic_msgsize_get(handle: u64, size: *mut u32) -> CsErrorT {
    guard(|| {
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        if size.is_null() {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: checked non-NULL and writable.
        unsafe { *size = e.client.max_atomic_msgsize() };
        CS_OK
    })
}

/// `cpg_context_get(handle, context)`.
///
/// # Safety
/// `context` is NULL or writable.
pub unsafe extern "C" fn cpg_context_get(handle: u64, context: *mut *mut c_void) -> CsErrorT {
    guard(|| {
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        if context.is_null() {
            return CsError::InvalidParam.raw();
        }
        // SAFETY: checked non-NULL and writable.
        unsafe { *context = e.context.load(Ordering::Relaxed) as *mut c_void };
        CS_OK
    })
}

/// `cpg_context_set(handle, context)`.
pub extern "C" fn cpg_context_set(handle: u64, context: *mut c_void) -> CsErrorT {
    guard(|| match HANDLES.get(handle) {
        Ok(e) => {
            e.context.store(context as usize, Ordering::Relaxed);
            CS_OK
        }
        Err(e) => e.raw(),
    })
}

/// Calls the application's callback for one event. No lock is held: the callback may call
/// anything, `cpg_finalize` of this handle included.
fn deliver(handle: u64, cb: &CpgModelV1Data, ev: CpgEvent) {
    match ev {
        CpgEvent::Deliver { group, nodeid, pid, mut data } => {
            if let Some(f) = cb.deliver {
                let name = c_name(&group);
                // The message is a local buffer the callback may modify (Corosync's `msg` is
                // deliberately not const).
                let ptr =
                    if data.is_empty() { std::ptr::NonNull::dangling().as_ptr() } else { data.as_mut_ptr() };
                // SAFETY: `f` has this C signature (cpg_deliver_fn_t); name and data are locals
                // valid for the call.
                unsafe { f(handle, &name, nodeid, pid, ptr.cast(), data.len()) };
            }
        }
        CpgEvent::Confchg { group, members, left, joined } => {
            if let Some(f) = cb.confchg {
                let name = c_name(&group);
                let (m, l, j) = (c_addresses(&members), c_addresses(&left), c_addresses(&joined));
                // SAFETY: `f` has this C signature (cpg_confchg_fn_t); the lists are locals
                // valid for the call (an empty Vec's pointer is dangling but never read).
                unsafe { f(handle, &name, m.as_ptr(), m.len(), l.as_ptr(), l.len(), j.as_ptr(), j.len()) };
            }
        }
        CpgEvent::TotemConfchg { ring_id, members } => {
            if let Some(f) = cb.totem_confchg {
                let ring = CpgRingId { nodeid: ring_id.nodeid, seq: ring_id.seq };
                // SAFETY: as above (cpg_totem_confchg_fn_t).
                unsafe { f(handle, ring, members.len() as u32, members.as_ptr()) };
            }
        }
    }
}

/// `cpg_dispatch(handle, dispatch_types)`.
pub extern "C" fn cpg_dispatch(handle: u64, dispatch_types: c_uint) -> CsErrorT {
    guard(|| {
        let entry = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let Some(mode) = DispatchFlags::from_raw(dispatch_types) else { return CsError::InvalidParam.raw() };
        loop {
            let got = match mode {
                DispatchFlags::One | DispatchFlags::Blocking => entry.client.next_event().map(Some),
                DispatchFlags::All | DispatchFlags::OneNonblocking => entry.client.try_next_event(),
            };
            let ev = match got {
                Ok(Some(ev)) => ev,
                Ok(None) if mode == DispatchFlags::OneNonblocking => return CsError::TryAgain.raw(),
                Ok(None) => return CS_OK,
                Err(e) => return e.raw(),
            };
            deliver(handle, &entry.callbacks, ev);
            if entry.finalized.load(Ordering::Acquire) {
                return CsError::BadHandle.raw();
            }
            if matches!(mode, DispatchFlags::One | DispatchFlags::OneNonblocking) {
                return CS_OK;
            }
        }
    })
}

/// `cpg_join(handle, group)`.
///
/// # Safety
/// `group` is NULL or a readable `struct cpg_name`.
pub unsafe extern "C" fn cpg_join(handle: u64, group: *const CpgName) -> CsErrorT {
    // SAFETY: per the contract.
    let group = unsafe { group_arg(group) };
    guard(|| code(&group.and_then(|g| HANDLES.get(handle).and_then(|e| e.client.join(&g)))))
}

/// `cpg_leave(handle, group)`.
///
/// # Safety
/// `group` is NULL or a readable `struct cpg_name`.
pub unsafe extern "C" fn cpg_leave(handle: u64, group: *const CpgName) -> CsErrorT {
    // SAFETY: per the contract.
    let group = unsafe { group_arg(group) };
    guard(|| code(&group.and_then(|g| HANDLES.get(handle).and_then(|e| e.client.leave(&g)))))
}

/// `struct iovec`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Iovec {
    /// Start.
    pub iov_base: *const c_void,
    /// Length.
    pub iov_len: usize,
}

/// `cpg_mcast_joined(handle, guarantee, iovec, iov_len)`: one message, gathered from the
/// iovecs; larger than one request, it travels in chunks and is delivered whole.
///
/// # Safety
/// `iovec` points to `iov_len` readable `struct iovec`s whose buffers are readable.
pub unsafe extern "C" fn cpg_mcast_joined(
    handle: u64,
    guarantee: c_int,
    iovec: *const Iovec,
    iov_len: c_uint,
) -> CsErrorT {
    guard(|| {
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        // Deviation from corosync: an unknown guarantee is refused (corosync's library sends
        // it, and it is delivered as agreed); a send while not joined is NOT_EXIST (corosync's
        // library does not wait for the daemon's refusal and says CS_OK).
        let Some(guarantee) = u32::try_from(guarantee).ok().and_then(Guarantee::from_raw) else {
            return CsError::InvalidParam.raw();
        };
        if iov_len > 0 && iovec.is_null() {
            return CsError::InvalidParam.raw();
        }
        let iovs: &[Iovec] = if iov_len == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, `iov_len` readable entries (contract).
            unsafe { std::slice::from_raw_parts(iovec, iov_len as usize) }
        };
        let mut slices = Vec::with_capacity(iovs.len());
        for v in iovs {
            if v.iov_len == 0 {
                continue;
            }
            if v.iov_base.is_null() {
                return CsError::InvalidParam.raw();
            }
            // SAFETY: a non-empty iovec's buffer is readable for iov_len bytes (contract) and
            // outlives this call.
            slices.push(IoSlice::new(unsafe {
                std::slice::from_raw_parts(v.iov_base.cast::<u8>(), v.iov_len)
            }));
        }
        code(&e.client.mcast(guarantee, &slices))
    })
}

/// `cpg_membership_get(handle, group, member_list, member_list_entries)`: the group's members
/// now. As Corosync, `*member_list_entries` is only written (callers pass it uninitialised) and
/// the list must have room for `CPG_MEMBERS_MAX` entries, the most a group has.
///
/// # Safety
/// `group` NULL or readable; `member_list` NULL or writable for `CPG_MEMBERS_MAX` entries;
/// `member_list_entries` NULL or writable.
pub unsafe extern "C" fn cpg_membership_get(
    handle: u64,
    group: *const CpgName,
    member_list: *mut CpgAddress,
    member_list_entries: *mut c_int,
) -> CsErrorT {
    // SAFETY: per the contract.
    let group = unsafe { group_arg(group) };
    guard(|| {
        let group = match group {
            Ok(g) => g,
            Err(e) => return e.raw(),
        };
        if member_list.is_null() || member_list_entries.is_null() {
            return CsError::InvalidParam.raw();
        }
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        let members = match e.client.membership(&group) {
            Ok(m) => m,
            Err(e) => return e.raw(),
        };
        let list = c_addresses(&members);
        let n = list.len().min(quorumd_client::cpg::MEMBERS_MAX);
        for (i, m) in list.into_iter().take(n).enumerate() {
            // SAFETY: i < CPG_MEMBERS_MAX, and the list is writable for that many (contract).
            unsafe { member_list.add(i).write(m) };
        }
        // SAFETY: checked non-NULL and writable.
        unsafe { *member_list_entries = n as c_int };
        CS_OK
    })
}

/// `cpg_local_get(handle, local_nodeid)`.
///
/// # Safety
/// `local_nodeid` is NULL or writable.
pub unsafe extern "C" fn cpg_local_get(handle: u64, local_nodeid: *mut c_uint) -> CsErrorT {
    guard(|| {
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        if local_nodeid.is_null() {
            return CsError::InvalidParam.raw();
        }
        match e.client.local_nodeid() {
            Ok(id) => {
                // SAFETY: checked non-NULL and writable.
                unsafe { *local_nodeid = id };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `cpg_flow_control_state_get(handle, flow_control_state)`: `CPG_FLOW_CONTROL_ENABLED` (1)
/// while the daemon asks this session to hold back (mcast would say `CS_ERR_TRY_AGAIN`).
///
/// # Safety
/// `flow_control_state` is NULL or writable.
pub unsafe extern "C" fn cpg_flow_control_state_get(handle: u64, flow_control_state: *mut c_int) -> CsErrorT {
    guard(|| {
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        if flow_control_state.is_null() {
            return CsError::InvalidParam.raw();
        }
        match e.client.flow_control_enabled() {
            Ok(on) => {
                // SAFETY: checked non-NULL and writable.
                unsafe { *flow_control_state = c_int::from(on) };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// The header in front of a zero-copy buffer: its allocation size, for `cpg_zcb_free`.
const ZCB_HEADER: usize = 16;

/// `cpg_zcb_alloc(handle, size, buffer)`: a buffer for `cpg_zcb_mcast_joined`. As in
/// Corosync 3, plain memory (16-byte aligned): the handle is not looked at.
///
/// # Safety
/// `buffer` is NULL or writable.
pub unsafe extern "C" fn cpg_zcb_alloc(_handle: u64, size: usize, buffer: *mut *mut c_void) -> CsErrorT {
    guard(|| {
        if buffer.is_null() {
            return CsError::InvalidParam.raw();
        }
        let layout = size
            .checked_add(ZCB_HEADER)
            .and_then(|total| std::alloc::Layout::from_size_align(total, ZCB_HEADER).ok());
        let Some(layout) = layout else {
            // SAFETY: checked non-NULL and writable.
            unsafe { *buffer = std::ptr::null_mut() };
            return CsError::NoMemory.raw();
        };
        // SAFETY: the layout's size is at least ZCB_HEADER, never zero.
        let base = unsafe { std::alloc::alloc(layout) };
        if base.is_null() {
            // SAFETY: checked non-NULL and writable.
            unsafe { *buffer = std::ptr::null_mut() };
            return CsError::NoMemory.raw();
        }
        // SAFETY: `base` is 16-byte aligned and has room for the header; the caller's part
        // starts right after it.
        unsafe {
            base.cast::<usize>().write(layout.size());
            *buffer = base.add(ZCB_HEADER).cast();
        }
        CS_OK
    })
}

/// `cpg_zcb_free(handle, buffer)`.
///
/// # Safety
/// `buffer` is NULL or came from `cpg_zcb_alloc` and was not freed.
pub unsafe extern "C" fn cpg_zcb_free(_handle: u64, buffer: *mut c_void) -> CsErrorT {
    guard(|| {
        if buffer.is_null() {
            return CS_OK;
        }
        // SAFETY: the buffer came from cpg_zcb_alloc (contract): its allocation starts
        // ZCB_HEADER bytes before it, with the allocation size there, and the layout rebuilt
        // from it is the one it was allocated with.
        unsafe {
            let base = buffer.cast::<u8>().sub(ZCB_HEADER);
            let total = base.cast::<usize>().read();
            std::alloc::dealloc(base, std::alloc::Layout::from_size_align_unchecked(total, ZCB_HEADER));
        }
        CS_OK
    })
}

/// `cpg_zcb_mcast_joined(handle, guarantee, msg, msg_len)`: `cpg_mcast_joined` of one buffer.
///
/// # Safety
/// `msg` is readable for `msg_len` bytes.
pub unsafe extern "C" fn cpg_zcb_mcast_joined(
    handle: u64,
    guarantee: c_int,
    msg: *mut c_void,
    msg_len: usize,
) -> CsErrorT {
    let iov = Iovec { iov_base: msg, iov_len: msg_len };
    // SAFETY: one iovec describing the caller's buffer (contract).
    unsafe { cpg_mcast_joined(handle, guarantee, &iov, 1) }
}

/// `cpg_iteration_initialize(handle, iteration_type, group, iteration_handle)`: the rows are
/// taken from the daemon now (as Corosync's daemon builds its list at initialize).
/// Deviation from corosync: they come in one answer and `cpg_iteration_next` hands them out
/// without asking the daemon again.
///
/// # Safety
/// `group` NULL or readable; `iteration_handle` NULL or writable.
pub unsafe extern "C" fn cpg_iteration_initialize(
    handle: u64,
    iteration_type: c_int,
    group: *const CpgName,
    iteration_handle: *mut u64,
) -> CsErrorT {
    let group = if group.is_null() {
        None
    } else {
        // SAFETY: per the contract.
        match unsafe { group_arg(group) } {
            Ok(g) => Some(g),
            Err(e) => return e.raw(),
        }
    };
    guard(|| {
        if iteration_handle.is_null() {
            return CsError::InvalidParam.raw();
        }
        let kind = u32::try_from(iteration_type).ok().and_then(IterationType::from_raw);
        let kind = match (kind, &group) {
            (Some(IterationType::OneGroup), Some(_)) => IterationType::OneGroup,
            (Some(k @ (IterationType::NameOnly | IterationType::All)), None) => k,
            _ => return CsError::InvalidParam.raw(),
        };
        let e = match HANDLES.get(handle) {
            Ok(e) => e,
            Err(e) => return e.raw(),
        };
        match e.client.iterate(kind, group.as_ref()) {
            Ok(rows) => {
                let h = ITERATIONS.insert(Arc::new(Iteration { rows: Mutex::new(rows.into_iter()) }));
                // SAFETY: checked non-NULL and writable.
                unsafe { *iteration_handle = h };
                CS_OK
            }
            Err(e) => e.raw(),
        }
    })
}

/// `cpg_iteration_next(iteration_handle, description)`: the next row; `CS_ERR_NO_SECTIONS`
/// after the last.
///
/// # Safety
/// `description` is NULL or writable.
pub unsafe extern "C" fn cpg_iteration_next(
    iteration_handle: u64,
    description: *mut CpgIterationDescription,
) -> CsErrorT {
    guard(|| {
        if description.is_null() {
            return CsError::InvalidParam.raw();
        }
        let it = match ITERATIONS.get(iteration_handle) {
            Ok(it) => it,
            Err(e) => return e.raw(),
        };
        let next = it.rows.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
        match next {
            Some(row) => {
                let d =
                    CpgIterationDescription { group: c_name(&row.group), nodeid: row.nodeid, pid: row.pid };
                // SAFETY: checked non-NULL and writable.
                unsafe { description.write(d) };
                CS_OK
            }
            None => CsError::NoSections.raw(),
        }
    })
}

/// `cpg_iteration_finalize(iteration_handle)`.
pub extern "C" fn cpg_iteration_finalize(iteration_handle: u64) -> CsErrorT {
    guard(|| match ITERATIONS.remove(iteration_handle) {
        Ok(_) => CS_OK,
        Err(e) => e.raw(),
    })
}
