//! `rust-corosync`'s `cmap` module over [`crate::cmap::CmapClient`]: the same names, types and
//! signatures (`initialize(&Map)`, `get` returning [`Data`], `track_add` with a
//! [`NotifyCallback`], [`CmapIterStart`] for prefix iteration), so code written for it ports
//! by changing one `use` line.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{dispatch_events, Sessions};
pub use super::{CsError, DispatchFlags, Result};
use crate::cmap::{CmapClient, CmapMap, CmapValue};

/// The maps [`initialize`] opens.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Map {
    /// Configuration and runtime keys.
    Icmap,
    /// Statistics.
    Stats,
}

bitflags::bitflags! {
    /// `CMAP_TRACK_*`, given to [`track_add`] and to the callback.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub struct TrackType: i32 {
        /// A key was deleted.
        const DELETE = 1;
        /// A key changed.
        const MODIFY = 2;
        /// A key was added.
        const ADD = 4;
        /// The name is a prefix.
        const PREFIX = 8;
    }
}

/// A typed value.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Data {
    Int8(i8),
    UInt8(u8),
    Int16(i16),
    UInt16(u16),
    Int32(i32),
    UInt32(u32),
    Int64(i64),
    UInt64(u64),
    Float(f32),
    Double(f64),
    String(String),
    Binary(Vec<u8>),
    /// No value (the old value of an add, the new value of a delete).
    Unknown,
}

/// The type of a [`Data`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum DataType {
    Int8 = 1,
    UInt8 = 2,
    Int16 = 3,
    UInt16 = 4,
    Int32 = 5,
    UInt32 = 6,
    Int64 = 7,
    UInt64 = 8,
    Float = 9,
    Double = 10,
    String = 11,
    Binary = 12,
    Unknown = 13,
}

impl From<CmapValue> for Data {
    fn from(v: CmapValue) -> Data {
        match v {
            CmapValue::I8(x) => Data::Int8(x),
            CmapValue::U8(x) => Data::UInt8(x),
            CmapValue::I16(x) => Data::Int16(x),
            CmapValue::U16(x) => Data::UInt16(x),
            CmapValue::I32(x) => Data::Int32(x),
            CmapValue::U32(x) => Data::UInt32(x),
            CmapValue::I64(x) => Data::Int64(x),
            CmapValue::U64(x) => Data::UInt64(x),
            CmapValue::Float(x) => Data::Float(x),
            CmapValue::Double(x) => Data::Double(x),
            CmapValue::String(x) => Data::String(x),
            CmapValue::Binary(x) => Data::Binary(x),
        }
    }
}

fn to_value(d: &Data) -> Result<CmapValue> {
    Ok(match d {
        Data::Int8(x) => CmapValue::I8(*x),
        Data::UInt8(x) => CmapValue::U8(*x),
        Data::Int16(x) => CmapValue::I16(*x),
        Data::UInt16(x) => CmapValue::U16(*x),
        Data::Int32(x) => CmapValue::I32(*x),
        Data::UInt32(x) => CmapValue::U32(*x),
        Data::Int64(x) => CmapValue::I64(*x),
        Data::UInt64(x) => CmapValue::U64(*x),
        Data::Float(x) => CmapValue::Float(*x),
        Data::Double(x) => CmapValue::Double(*x),
        Data::String(x) => CmapValue::String(x.clone()),
        Data::Binary(x) => CmapValue::Binary(x.clone()),
        Data::Unknown => return Err(CsError::CsErrInvalidParam),
    })
}

/// A session handle from [`initialize`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    cmap_handle: u64,
}

/// A tracker from [`track_add`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TrackHandle {
    track_handle: u64,
}

/// A tracker's function: `(handle, track_handle, event, key_name, new_value, old_value,
/// user_data)`.
pub type NotifyFn = fn(
    handle: &Handle,
    cmap_track_handle: &TrackHandle,
    event: TrackType,
    key_name: &str,
    new_value: &Data,
    old_value: &Data,
    user_data: u64,
);

/// The callback of a tracker: `(handle, track_handle, event, key_name, new_value, old_value,
/// user_data)`.
#[derive(Copy, Clone)]
pub struct NotifyCallback {
    /// The function.
    pub notify_fn: Option<NotifyFn>,
}

impl std::fmt::Debug for NotifyCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyCallback").field("set", &self.notify_fn.is_some()).finish()
    }
}

#[derive(Debug)]
struct Entry {
    client: CmapClient,
    context: AtomicU64,
    tracks: Mutex<BTreeMap<u64, (NotifyCallback, u64)>>,
}

static SESSIONS: Sessions<Entry> = Sessions::new();

fn lookup(handle: &Handle) -> Result<Arc<Entry>> {
    SESSIONS.get(handle.cmap_handle)
}

/// Opens a session on `map`.
pub fn initialize(map: &Map) -> Result<Handle> {
    let m = match map {
        Map::Icmap => CmapMap::Default,
        Map::Stats => CmapMap::Stats,
    };
    let client = CmapClient::connect_map(crate::socket_path(), m).map_err(|e| CsError::from(e.code()))?;
    let id =
        SESSIONS.insert(Entry { client, context: AtomicU64::new(0), tracks: Mutex::new(BTreeMap::new()) });
    Ok(Handle { cmap_handle: id })
}

/// Closes the session.
pub fn finalize(handle: &Handle) -> Result<()> {
    SESSIONS.remove(handle.cmap_handle).map(|_| ())
}

/// The fd to poll: the session's event socket.
pub fn fd_get(handle: &Handle) -> Result<i32> {
    Ok(lookup(handle)?.client.as_fd().as_raw_fd())
}

/// The context value.
pub fn context_get(handle: &Handle) -> Result<u64> {
    Ok(lookup(handle)?.context.load(Ordering::Relaxed))
}

/// Sets the context value.
pub fn context_set(handle: &Handle, context: u64) -> Result<()> {
    lookup(handle)?.context.store(context, Ordering::Relaxed);
    Ok(())
}

/// Stores `data` under `key_name`.
pub fn set(handle: &Handle, key_name: &str, data: &Data) -> Result<()> {
    Ok(lookup(handle)?.client.set(key_name, to_value(data)?)?)
}

macro_rules! typed_set {
    ($name:ident, $t:ty, $v:ident) => {
        /// Stores a typed value.
        pub fn $name(handle: &Handle, key_name: &str, value: $t) -> Result<()> {
            set(handle, key_name, &Data::$v(value))
        }
    };
}

typed_set!(set_i8, i8, Int8);
typed_set!(set_u8, u8, UInt8);
typed_set!(set_i16, i16, Int16);
typed_set!(set_u16, u16, UInt16);
typed_set!(set_i32, i32, Int32);
typed_set!(set_u32, u32, UInt32);
typed_set!(set_i64, i64, Int64);
typed_set!(set_u64, u64, UInt64);

/// Stores a string.
pub fn set_string(handle: &Handle, key_name: &str, value: &str) -> Result<()> {
    set(handle, key_name, &Data::String(value.to_string()))
}

/// Deletes a key.
pub fn delete(handle: &Handle, key_name: &str) -> Result<()> {
    Ok(lookup(handle)?.client.delete(key_name)?)
}

/// The value of a key.
pub fn get(handle: &Handle, key_name: &str) -> Result<Data> {
    Ok(lookup(handle)?.client.get(key_name)?.into())
}

/// Adds one to an integer key.
pub fn inc(handle: &Handle, key_name: &str) -> Result<()> {
    Ok(lookup(handle)?.client.inc(key_name)?)
}

/// Subtracts one from an integer key.
pub fn dec(handle: &Handle, key_name: &str) -> Result<()> {
    Ok(lookup(handle)?.client.dec(key_name)?)
}

/// Tracks `key_name` for the events in `track_type`; `notify_callback` gets `user_data`.
pub fn track_add(
    handle: &Handle,
    key_name: &str,
    track_type: TrackType,
    notify_callback: &NotifyCallback,
    user_data: u64,
) -> Result<TrackHandle> {
    let e = lookup(handle)?;
    let mut tracks = e.tracks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let id = e.client.track_add(key_name, track_type.bits() as u32)?;
    tracks.insert(id, (*notify_callback, user_data));
    Ok(TrackHandle { track_handle: id })
}

/// Removes a tracker.
pub fn track_delete(handle: &Handle, track_handle: TrackHandle) -> Result<()> {
    let e = lookup(handle)?;
    e.client.track_delete(track_handle.track_handle)?;
    e.tracks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&track_handle.track_handle);
    Ok(())
}

/// Runs the callbacks of pending notifications, as `flags` says.
pub fn dispatch(handle: &Handle, flags: DispatchFlags) -> Result<()> {
    let e = lookup(handle)?;
    let next = |block: bool| if block { e.client.next_event().map(Some) } else { e.client.try_next_event() };
    dispatch_events(flags, next, |n| {
        let cb = e.tracks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&n.track).copied();
        if let Some((NotifyCallback { notify_fn: Some(f) }, user_data)) = cb {
            let new = n.new.map_or(Data::Unknown, Data::from);
            let old = n.old.map_or(Data::Unknown, Data::from);
            let event = TrackType::from_bits_truncate(n.event as i32);
            f(handle, &TrackHandle { track_handle: n.track }, event, &n.key, &new, &old, user_data);
        }
    })
}

/// One key of an iteration: its name and value.
#[derive(Clone, Debug, PartialEq)]
pub struct CmapIter {
    /// The key.
    pub key_name: String,
    /// Its value.
    pub data: Data,
}

/// Starts an iteration over the keys beginning with a prefix.
#[derive(Debug)]
pub struct CmapIterStart {
    entry: Arc<Entry>,
    iter: u64,
}

impl CmapIterStart {
    /// An iterator over the keys under `prefix`, in sorted order.
    pub fn new(cmap_handle: &Handle, prefix: &str) -> Result<CmapIterStart> {
        let entry = lookup(cmap_handle)?;
        let iter = entry.client.iter_init(prefix)?;
        Ok(CmapIterStart { entry, iter })
    }
}

impl Iterator for CmapIterStart {
    type Item = CmapIter;

    fn next(&mut self) -> Option<CmapIter> {
        loop {
            let key = self.entry.client.iter_next(self.iter).ok()?;
            // A key deleted between the two calls is skipped.
            if let Ok(v) = self.entry.client.get(&key.name) {
                return Some(CmapIter { key_name: key.name, data: v.into() });
            }
        }
    }
}

impl Drop for CmapIterStart {
    fn drop(&mut self) {
        let _ = self.entry.client.iter_finalize(self.iter);
    }
}
