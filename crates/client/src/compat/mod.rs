//! A stand-in for the `rust-corosync` crate's quorum API: the same module layout, names and
//! signatures, over quorumd instead of corosync's libquorum. Code written for it ports by
//! changing one line:
//!
//! ```text
//! extern crate rust_corosync as corosync;   // before
//! use quorumd_client::compat as corosync;   // after
//! ```
//!
//! Here: [`CsError`], [`Result`], [`DispatchFlags`], [`TrackFlags`], [`NodeId`] at the top (as
//! in `rust-corosync`) and the modules [`quorum`], [`votequorum`], [`cmap`] and [`cfg`].
#![forbid(unsafe_code)]

pub mod cfg;
pub mod cmap;
pub mod cpg;
pub mod quorum;
pub mod votequorum;

use std::fmt;

/// `rust-corosync`'s error enum: corosync's `cs_error_t` numbers, plus two values of its own.
#[derive(Debug, Eq, PartialEq, Copy, Clone)]
#[repr(u32)]
#[allow(missing_docs)]
pub enum CsError {
    CsOk = 1,
    CsErrLibrary = 2,
    CsErrVersion = 3,
    CsErrInit = 4,
    CsErrTimeout = 5,
    CsErrTryAgain = 6,
    CsErrInvalidParam = 7,
    CsErrNoMemory = 8,
    CsErrBadHandle = 9,
    CsErrBusy = 10,
    CsErrAccess = 11,
    CsErrNotExist = 12,
    CsErrNameTooLong = 13,
    CsErrExist = 14,
    CsErrNoSpace = 15,
    CsErrInterrupt = 16,
    CsErrNameNotFound = 17,
    CsErrNoResources = 18,
    CsErrNotSupported = 19,
    CsErrBadOperation = 20,
    CsErrFailedOperation = 21,
    CsErrMessageError = 22,
    CsErrQueueFull = 23,
    CsErrQueueNotAvailable = 24,
    CsErrBadFlags = 25,
    CsErrTooBig = 26,
    CsErrNoSection = 27,
    CsErrContextNotFound = 28,
    CsErrTooManyGroups = 30,
    CsErrSecurity = 100,
    /// An unknown value came back.
    CsErrRustCompat = 998,
    /// A string could not be converted.
    CsErrRustString = 999,
}

impl From<crate::CsError> for CsError {
    fn from(e: crate::CsError) -> CsError {
        use crate::CsError as E;
        match e {
            E::Library => CsError::CsErrLibrary,
            E::Version => CsError::CsErrVersion,
            E::Init => CsError::CsErrInit,
            E::Timeout => CsError::CsErrTimeout,
            E::TryAgain => CsError::CsErrTryAgain,
            E::InvalidParam => CsError::CsErrInvalidParam,
            E::NoMemory => CsError::CsErrNoMemory,
            E::BadHandle => CsError::CsErrBadHandle,
            E::Busy => CsError::CsErrBusy,
            E::Access => CsError::CsErrAccess,
            E::NotExist => CsError::CsErrNotExist,
            E::NameTooLong => CsError::CsErrNameTooLong,
            E::Exist => CsError::CsErrExist,
            E::NoSpace => CsError::CsErrNoSpace,
            E::Interrupt => CsError::CsErrInterrupt,
            E::NameNotFound => CsError::CsErrNameNotFound,
            E::NoResources => CsError::CsErrNoResources,
            E::NotSupported => CsError::CsErrNotSupported,
            E::BadOperation => CsError::CsErrBadOperation,
            E::FailedOperation => CsError::CsErrFailedOperation,
            E::MessageError => CsError::CsErrMessageError,
            E::QueueFull => CsError::CsErrQueueFull,
            E::QueueNotAvailable => CsError::CsErrQueueNotAvailable,
            E::BadFlags => CsError::CsErrBadFlags,
            E::TooBig => CsError::CsErrTooBig,
            E::NoSections => CsError::CsErrNoSection,
            E::ContextNotFound => CsError::CsErrContextNotFound,
            E::TooManyGroups => CsError::CsErrTooManyGroups,
            E::Security => CsError::CsErrSecurity,
        }
    }
}

impl fmt::Display for CsError {
    /// As `rust-corosync` prints them: `OK`, else the variant's name without its `Cs` prefix
    /// (`ErrLibrary`, `ErrTryAgain`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsError::CsOk => f.write_str("OK"),
            other => {
                let name = format!("{other:?}");
                f.write_str(name.strip_prefix("Cs").unwrap_or(&name))
            }
        }
    }
}

impl std::error::Error for CsError {}

/// `rust-corosync`'s result type.
pub type Result<T> = std::result::Result<T, CsError>;

/// `rust-corosync`'s dispatch modes (`cs_dispatch_flags_t`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DispatchFlags {
    /// Wait for one event, handle it, return.
    One = 1,
    /// Handle every pending event without waiting.
    All = 2,
    /// Handle events until an error.
    Blocking = 3,
    /// Handle at most one pending event (`CsErrTryAgain` when none).
    OneNonblocking = 4,
}

/// `rust-corosync`'s tracking flags (one `CS_TRACK_*` value each).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TrackFlags {
    /// `CS_TRACK_CURRENT`.
    Current = 1,
    /// `CS_TRACK_CHANGES`.
    Changes = 2,
    /// `CS_TRACK_CHANGES_ONLY`.
    ChangesOnly = 4,
}

/// A corosync node id.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    id: u32,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)
    }
}

impl From<u32> for NodeId {
    fn from(id: u32) -> NodeId {
        NodeId { id }
    }
}

impl From<NodeId> for u32 {
    fn from(nodeid: NodeId) -> u32 {
        nodeid.id
    }
}

/// The open sessions of one service, by handle number: what every module's handle names.
/// A handle is never reused; a finalized or unknown one is `CsErrBadHandle`.
pub(crate) struct Sessions<E> {
    table: std::sync::Mutex<std::collections::BTreeMap<u64, std::sync::Arc<E>>>,
    next: std::sync::atomic::AtomicU64,
}

impl<E> Sessions<E> {
    pub(crate) const fn new() -> Sessions<E> {
        Sessions {
            table: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            next: std::sync::atomic::AtomicU64::new(1),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, std::sync::Arc<E>>> {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new session and returns its handle number.
    pub(crate) fn insert(&self, entry: E) -> u64 {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.table().insert(id, std::sync::Arc::new(entry));
        id
    }

    /// The session `id` names.
    pub(crate) fn get(&self, id: u64) -> Result<std::sync::Arc<E>> {
        self.table().get(&id).cloned().ok_or(CsError::CsErrBadHandle)
    }

    /// Forgets the session `id` names and returns it.
    pub(crate) fn remove(&self, id: u64) -> Result<std::sync::Arc<E>> {
        self.table().remove(&id).ok_or(CsError::CsErrBadHandle)
    }
}

/// The dispatch loop every service shares: takes events (`next(true)` blocks for one,
/// `next(false)` returns what is already there) and runs `run` on each, as `flags` says: `One`
/// and `OneNonblocking` stop after one event, `All` when none is left, `Blocking` never while
/// the session lives. `OneNonblocking` with nothing pending is `CsErrTryAgain`.
pub(crate) fn dispatch_events<Ev>(
    flags: DispatchFlags,
    mut next: impl FnMut(bool) -> std::result::Result<Option<Ev>, crate::CsError>,
    mut run: impl FnMut(Ev),
) -> Result<()> {
    loop {
        let blocking = matches!(flags, DispatchFlags::One | DispatchFlags::Blocking);
        let Some(ev) = next(blocking)? else {
            return match flags {
                DispatchFlags::OneNonblocking => Err(CsError::CsErrTryAgain),
                _ => Ok(()),
            };
        };
        run(ev);
        if matches!(flags, DispatchFlags::One | DispatchFlags::OneNonblocking) {
            return Ok(());
        }
    }
}
