//! corosync's libquorum semantics one to one (corosync-behaviour §1.3–§1.5), over a process-wide table of
//! `u64` handles. `libquorum.so.5` and [`crate::compat::quorum`] are skins over this module.
//!
//! Handles are `(check << 32) | index`: `index` is a slot in the table (freed slots are
//! reused) and `check` a fresh random positive 31-bit value per use of a slot, so a stale
//! handle is refused with `CS_ERR_BAD_HANDLE` instead of reaching a newer connection.
//!
//! Invariants:
//! - the table lock is held only to look a handle up, insert or remove it; never during I/O
//!   and never while a callback runs, so callbacks may call any function of this module;
//! - an entry removed by `finalize` stays alive (an `Arc`) until every call that looked it up
//!   has returned; its connection closes when the last reference goes;
//! - dispatch looks at the entry's `finalized` flag after every callback and then returns
//!   `CS_ERR_BAD_HANDLE` (corosync-behaviour §1.4 quorum_finalize).
#![forbid(unsafe_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use quorumd_proto::ipc::{Notification, Request};

use crate::conn::{Connection, Wait};
use crate::{CsError, DispatchFlags, Model, RingId};

/// `quorum_handle_t`.
pub type QuorumHandle = u64;

/// V0 quorum callback: `(handle, quorate, ring_seq, view_list)`.
pub type V0QuorumFn = Arc<dyn Fn(QuorumHandle, u32, u64, &[u32]) + Send + Sync>;
/// V1 quorum callback: `(handle, quorate, ring_id, member_list)`.
pub type V1QuorumFn = Arc<dyn Fn(QuorumHandle, u32, RingId, &[u32]) + Send + Sync>;
/// V1 nodelist callback: `(handle, ring_id, member_list, joined_list, left_list)`.
pub type V1NodelistFn = Arc<dyn Fn(QuorumHandle, RingId, &[u32], &[u32], &[u32]) + Send + Sync>;

/// The model and its callbacks (`quorum_model_v0_data_t` / `quorum_model_v1_data_t`). A
/// missing callback means those events are read and dropped.
#[derive(Clone)]
pub enum ModelCallbacks {
    /// `QUORUM_MODEL_V0`.
    V0 {
        /// `quorum_notify_fn`.
        quorum: Option<V0QuorumFn>,
    },
    /// `QUORUM_MODEL_V1`.
    V1 {
        /// `quorum_notify_fn`.
        quorum: Option<V1QuorumFn>,
        /// `nodelist_notify_fn`.
        nodelist: Option<V1NodelistFn>,
    },
}

impl std::fmt::Debug for ModelCallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelCallbacks::V0 { quorum } => f.debug_struct("V0").field("quorum", &quorum.is_some()).finish(),
            ModelCallbacks::V1 { quorum, nodelist } => f
                .debug_struct("V1")
                .field("quorum", &quorum.is_some())
                .field("nodelist", &nodelist.is_some())
                .finish(),
        }
    }
}

impl ModelCallbacks {
    /// The model these callbacks belong to.
    pub fn model(&self) -> Model {
        match self {
            ModelCallbacks::V0 { .. } => Model::V0,
            ModelCallbacks::V1 { .. } => Model::V1,
        }
    }
}

#[derive(Debug)]
struct Entry {
    conn: Connection,
    callbacks: ModelCallbacks,
    context: AtomicUsize,
    finalized: AtomicBool,
}

#[derive(Debug)]
struct Slot {
    check: u32,
    entry: Option<Arc<Entry>>,
}

/// Most handles one process may hold at once (corosync has no limit; this one only keeps a
/// runaway caller from growing the table without bound).
const HANDLES_MAX: usize = 1 << 20;

static TABLE: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

fn table() -> MutexGuard<'static, Vec<Slot>> {
    // Every update of the table is a single assignment; a poisoned lock holds a valid table.
    TABLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A fresh random positive 31-bit check value, never 0 (std's randomly keyed hasher: no
/// extra dependency, and handles need not be secret, only unlikely to repeat).
fn fresh_check() -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x5155_4f52_554d);
    let check = (h.finish() as u32) & 0x7fff_ffff;
    check.max(1)
}

fn make_handle(index: usize, check: u32) -> QuorumHandle {
    (u64::from(check) << 32) | index as u64
}

fn insert(entry: Option<Arc<Entry>>) -> Result<QuorumHandle, CsError> {
    let mut t = table();
    let check = fresh_check();
    let index = match t.iter().position(|s| s.entry.is_none()) {
        Some(i) => i,
        None if t.len() < HANDLES_MAX => {
            t.push(Slot { check: 0, entry: None });
            t.len() - 1
        }
        None => return Err(CsError::NoResources),
    };
    t[index] = Slot { check, entry };
    Ok(make_handle(index, check))
}

fn lookup(handle: QuorumHandle) -> Result<Arc<Entry>, CsError> {
    let (index, check) = (handle as u32 as usize, (handle >> 32) as u32);
    let t = table();
    match t.get(index) {
        Some(Slot { check: c, entry: Some(e) }) if *c == check => Ok(Arc::clone(e)),
        _ => Err(CsError::BadHandle),
    }
}

/// `quorum_model_initialize` against the daemon at `path`. Always returns a handle value
/// (corosync writes `*handle` even when init fails, corosync-behaviour §7 quirk 6, kept): on failure it is
/// a dead handle that every call refuses with `CS_ERR_BAD_HANDLE`. On success the result is
/// the quorum type (`QUORUM_SET` 1 / `QUORUM_FREE` 0).
pub fn model_initialize_at(
    path: &Path,
    callbacks: ModelCallbacks,
    context: usize,
) -> (QuorumHandle, Result<u32, CsError>) {
    let conn = match Connection::connect(path, callbacks.model()) {
        Ok(conn) => conn,
        // Both kinds of refusal are CS_ERR_ACCESS here, as with corosync.
        Err(e) => return (dead_handle(), Err(e.code())),
    };
    let quorum_type = conn.quorum_type();
    let entry =
        Entry { conn, callbacks, context: AtomicUsize::new(context), finalized: AtomicBool::new(false) };
    match insert(Some(Arc::new(entry))) {
        Ok(handle) => (handle, Ok(quorum_type)),
        Err(e) => (dead_handle(), Err(e)),
    }
}

/// A handle value that is not (and will not become) valid: a slot is taken and freed again.
fn dead_handle() -> QuorumHandle {
    insert(None).unwrap_or(0)
}

/// `quorum_model_initialize` against [`crate::socket_path`].
pub fn model_initialize(callbacks: ModelCallbacks, context: usize) -> (QuorumHandle, Result<u32, CsError>) {
    model_initialize_at(&crate::socket_path(), callbacks, context)
}

/// `quorum_initialize`: V0 with an optional quorum callback and a null context.
pub fn initialize(quorum: Option<V0QuorumFn>) -> (QuorumHandle, Result<u32, CsError>) {
    initialize_at(&crate::socket_path(), quorum)
}

/// `quorum_initialize` against the daemon at `path`.
pub fn initialize_at(path: &Path, quorum: Option<V0QuorumFn>) -> (QuorumHandle, Result<u32, CsError>) {
    model_initialize_at(path, ModelCallbacks::V0 { quorum }, 0)
}

/// `quorum_finalize`: the handle is dead at once; the connection closes when the last call
/// using it returns. `CS_OK` even if the daemon is gone; a second finalize is `BAD_HANDLE`.
pub fn finalize(handle: QuorumHandle) -> Result<(), CsError> {
    let (index, check) = (handle as u32 as usize, (handle >> 32) as u32);
    let entry = {
        let mut t = table();
        match t.get_mut(index) {
            Some(slot) if slot.check == check && slot.entry.is_some() => slot.entry.take(),
            _ => return Err(CsError::BadHandle),
        }
    };
    if let Some(e) = entry {
        e.finalized.store(true, Ordering::Release);
    }
    Ok(())
}

/// `quorum_fd_get`: an fd that polls readable when `dispatch` has work (or the daemon hung
/// up). Owned by the library: do not close or read it.
pub fn fd_get(handle: QuorumHandle) -> Result<RawFd, CsError> {
    Ok(lookup(handle)?.conn.poll_fd().as_raw_fd())
}

/// `quorum_getquorate`: from the state page when the daemon passed one, else a round trip.
pub fn getquorate(handle: QuorumHandle) -> Result<bool, CsError> {
    lookup(handle)?.conn.getquorate()
}

/// `quorum_getquorate` always by a round trip (for benchmarks and tests).
pub fn getquorate_round_trip(handle: QuorumHandle) -> Result<bool, CsError> {
    lookup(handle)?.conn.getquorate_round_trip()
}

/// `quorum_trackstart(flags)`: the flags go to the daemon as they are (corosync-behaviour §1.4).
pub fn trackstart(handle: QuorumHandle, flags: u32) -> Result<(), CsError> {
    lookup(handle)?.conn.request_result(Request::TrackStart { flags })
}

/// `quorum_trackstop`: `CS_OK` even when not tracking (corosync-behaviour §7 quirk 1, the daemon's answer).
pub fn trackstop(handle: QuorumHandle) -> Result<(), CsError> {
    lookup(handle)?.conn.request_result(Request::TrackStop)
}

/// `quorum_context_set`.
pub fn context_set(handle: QuorumHandle, context: usize) -> Result<(), CsError> {
    lookup(handle)?.context.store(context, Ordering::Relaxed);
    Ok(())
}

/// `quorum_context_get`.
pub fn context_get(handle: QuorumHandle) -> Result<usize, CsError> {
    Ok(lookup(handle)?.context.load(Ordering::Relaxed))
}

/// The model a handle was opened with.
pub fn model_get(handle: QuorumHandle) -> Result<Model, CsError> {
    Ok(lookup(handle)?.conn.model())
}

/// `quorum_dispatch(handle, dispatch_types)` (corosync-behaviour §1.4): an invalid mode is
/// `CS_ERR_INVALID_PARAM` before the handle is looked up. Callbacks run with no lock held.
pub fn dispatch(handle: QuorumHandle, dispatch_types: u32) -> Result<(), CsError> {
    let mode = DispatchFlags::from_raw(dispatch_types).ok_or(CsError::InvalidParam)?;
    let entry = lookup(handle)?;
    let wait = match mode {
        DispatchFlags::One | DispatchFlags::Blocking => Wait::Forever,
        DispatchFlags::All | DispatchFlags::OneNonblocking => Wait::No,
    };
    loop {
        let Some(event) = entry.conn.next_event(wait)? else {
            return match mode {
                DispatchFlags::OneNonblocking => Err(CsError::TryAgain),
                _ => Ok(()),
            };
        };
        deliver(handle, &entry.callbacks, &event)?;
        if entry.finalized.load(Ordering::Acquire) {
            return Err(CsError::BadHandle);
        }
        if matches!(mode, DispatchFlags::One | DispatchFlags::OneNonblocking) {
            return Ok(());
        }
    }
}

/// Calls the callback for one event. The lists point into `event`, so they are valid only
/// during the callback. An event the connection's model cannot carry is `CS_ERR_LIBRARY`.
fn deliver(handle: QuorumHandle, callbacks: &ModelCallbacks, event: &Notification) -> Result<(), CsError> {
    match (callbacks, event) {
        (ModelCallbacks::V0 { quorum }, Notification::Quorum { quorate, ring_id, members }) => {
            if let Some(f) = quorum {
                f(handle, *quorate, ring_id.seq, members);
            }
        }
        (ModelCallbacks::V1 { quorum, .. }, Notification::Quorum { quorate, ring_id, members }) => {
            if let Some(f) = quorum {
                f(handle, *quorate, *ring_id, members);
            }
        }
        (ModelCallbacks::V1 { nodelist, .. }, Notification::Nodelist { ring_id, members, joined, left }) => {
            if let Some(f) = nodelist {
                f(handle, *ring_id, members, joined, left);
            }
        }
        (ModelCallbacks::V0 { .. }, Notification::Nodelist { .. }) => return Err(CsError::Library),
    }
    Ok(())
}
