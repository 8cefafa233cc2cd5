//! corosync's `cs_error_t` (corosync-behaviour §1.1) as a Rust error, and `cs_strerror`.
//!
//! [`CsError`] holds every *error* value of `cs_error_t` with corosync's numbers; success
//! (`CS_OK` = 1) is the `Ok` side of a `Result`, and [`raw`] turns a result back into the C
//! number. The `Display` text of each variant is what `cs_strerror` returns for it.
//!
//! [`ConnectError`] is what the idiomatic connect returns: a `CsError` for everything except
//! `CS_ERR_ACCESS`, which it splits into its two causes (socket file permissions, or the
//! daemon's uidgid rule) with the path or the uid/gid that were refused.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// `CS_OK`: the numeric value of success.
pub const CS_OK: u32 = 1;

/// An error value of corosync's `cs_error_t`, with its number (corosync-behaviour §1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u32)]
pub enum CsError {
    /// `CS_ERR_LIBRARY` (2): the library or its connection to the daemon failed.
    #[error("CS_ERR_LIBRARY")]
    Library = 2,
    /// `CS_ERR_VERSION` (3).
    #[error("CS_ERR_VERSION")]
    Version = 3,
    /// `CS_ERR_INIT` (4).
    #[error("CS_ERR_INIT")]
    Init = 4,
    /// `CS_ERR_TIMEOUT` (5).
    #[error("CS_ERR_TIMEOUT")]
    Timeout = 5,
    /// `CS_ERR_TRY_AGAIN` (6): e.g. the daemon has not finished its first sync.
    #[error("CS_ERR_TRY_AGAIN")]
    TryAgain = 6,
    /// `CS_ERR_INVALID_PARAM` (7).
    #[error("CS_ERR_INVALID_PARAM")]
    InvalidParam = 7,
    /// `CS_ERR_NO_MEMORY` (8).
    #[error("CS_ERR_NO_MEMORY")]
    NoMemory = 8,
    /// `CS_ERR_BAD_HANDLE` (9): unknown, stale or finalized handle.
    #[error("CS_ERR_BAD_HANDLE")]
    BadHandle = 9,
    /// `CS_ERR_BUSY` (10).
    #[error("CS_ERR_BUSY")]
    Busy = 10,
    /// `CS_ERR_ACCESS` (11): the daemon refused this uid/gid, or the socket file's
    /// permissions refused the connection ([`ConnectError`] tells which).
    #[error("CS_ERR_ACCESS")]
    Access = 11,
    /// `CS_ERR_NOT_EXIST` (12).
    #[error("CS_ERR_NOT_EXIST")]
    NotExist = 12,
    /// `CS_ERR_NAME_TOO_LONG` (13).
    #[error("CS_ERR_NAME_TOO_LONG")]
    NameTooLong = 13,
    /// `CS_ERR_EXIST` (14): e.g. a second `trackstart` with CHANGES.
    #[error("CS_ERR_EXIST")]
    Exist = 14,
    /// `CS_ERR_NO_SPACE` (15).
    #[error("CS_ERR_NO_SPACE")]
    NoSpace = 15,
    /// `CS_ERR_INTERRUPT` (16).
    #[error("CS_ERR_INTERRUPT")]
    Interrupt = 16,
    /// `CS_ERR_NAME_NOT_FOUND` (17).
    #[error("CS_ERR_NAME_NOT_FOUND")]
    NameNotFound = 17,
    /// `CS_ERR_NO_RESOURCES` (18).
    #[error("CS_ERR_NO_RESOURCES")]
    NoResources = 18,
    /// `CS_ERR_NOT_SUPPORTED` (19).
    #[error("CS_ERR_NOT_SUPPORTED")]
    NotSupported = 19,
    /// `CS_ERR_BAD_OPERATION` (20).
    #[error("CS_ERR_BAD_OPERATION")]
    BadOperation = 20,
    /// `CS_ERR_FAILED_OPERATION` (21).
    #[error("CS_ERR_FAILED_OPERATION")]
    FailedOperation = 21,
    /// `CS_ERR_MESSAGE_ERROR` (22): the daemon sent something that does not decode.
    #[error("CS_ERR_MESSAGE_ERROR")]
    MessageError = 22,
    /// `CS_ERR_QUEUE_FULL` (23).
    #[error("CS_ERR_QUEUE_FULL")]
    QueueFull = 23,
    /// `CS_ERR_QUEUE_NOT_AVAILABLE` (24).
    #[error("CS_ERR_QUEUE_NOT_AVAILABLE")]
    QueueNotAvailable = 24,
    /// `CS_ERR_BAD_FLAGS` (25).
    #[error("CS_ERR_BAD_FLAGS")]
    BadFlags = 25,
    /// `CS_ERR_TOO_BIG` (26).
    #[error("CS_ERR_TOO_BIG")]
    TooBig = 26,
    /// `CS_ERR_NO_SECTIONS` (27).
    #[error("CS_ERR_NO_SECTIONS")]
    NoSections = 27,
    /// `CS_ERR_CONTEXT_NOT_FOUND` (28).
    #[error("CS_ERR_CONTEXT_NOT_FOUND")]
    ContextNotFound = 28,
    /// `CS_ERR_TOO_MANY_GROUPS` (30; 29 is unused).
    #[error("CS_ERR_TOO_MANY_GROUPS")]
    TooManyGroups = 30,
    /// `CS_ERR_SECURITY` (100).
    #[error("CS_ERR_SECURITY")]
    Security = 100,
}

/// Every error value, in numeric order (for tests and tables).
pub const ALL_ERRORS: [CsError; 29] = [
    CsError::Library,
    CsError::Version,
    CsError::Init,
    CsError::Timeout,
    CsError::TryAgain,
    CsError::InvalidParam,
    CsError::NoMemory,
    CsError::BadHandle,
    CsError::Busy,
    CsError::Access,
    CsError::NotExist,
    CsError::NameTooLong,
    CsError::Exist,
    CsError::NoSpace,
    CsError::Interrupt,
    CsError::NameNotFound,
    CsError::NoResources,
    CsError::NotSupported,
    CsError::BadOperation,
    CsError::FailedOperation,
    CsError::MessageError,
    CsError::QueueFull,
    CsError::QueueNotAvailable,
    CsError::BadFlags,
    CsError::TooBig,
    CsError::NoSections,
    CsError::ContextNotFound,
    CsError::TooManyGroups,
    CsError::Security,
];

impl CsError {
    /// The C number.
    pub const fn raw(self) -> u32 {
        self as u32
    }

    /// The error with this C number; `None` for `CS_OK`, 29 and values corosync does not define.
    pub fn from_raw(raw: u32) -> Option<CsError> {
        ALL_ERRORS.iter().copied().find(|e| e.raw() == raw)
    }

    /// A `cs_error_t` received from the daemon: `CS_OK` → `Ok`, a known error → that error,
    /// anything else → `CS_ERR_MESSAGE_ERROR` (the daemon said something we cannot read).
    pub fn check(raw: u32) -> Result<(), CsError> {
        if raw == CS_OK {
            return Ok(());
        }
        Err(CsError::from_raw(raw).unwrap_or(CsError::MessageError))
    }

    /// The text `cs_strerror` gives for this error.
    pub fn as_str(self) -> &'static str {
        match self {
            CsError::Library => "CS_ERR_LIBRARY",
            CsError::Version => "CS_ERR_VERSION",
            CsError::Init => "CS_ERR_INIT",
            CsError::Timeout => "CS_ERR_TIMEOUT",
            CsError::TryAgain => "CS_ERR_TRY_AGAIN",
            CsError::InvalidParam => "CS_ERR_INVALID_PARAM",
            CsError::NoMemory => "CS_ERR_NO_MEMORY",
            CsError::BadHandle => "CS_ERR_BAD_HANDLE",
            CsError::Busy => "CS_ERR_BUSY",
            CsError::Access => "CS_ERR_ACCESS",
            CsError::NotExist => "CS_ERR_NOT_EXIST",
            CsError::NameTooLong => "CS_ERR_NAME_TOO_LONG",
            CsError::Exist => "CS_ERR_EXIST",
            CsError::NoSpace => "CS_ERR_NO_SPACE",
            CsError::Interrupt => "CS_ERR_INTERRUPT",
            CsError::NameNotFound => "CS_ERR_NAME_NOT_FOUND",
            CsError::NoResources => "CS_ERR_NO_RESOURCES",
            CsError::NotSupported => "CS_ERR_NOT_SUPPORTED",
            CsError::BadOperation => "CS_ERR_BAD_OPERATION",
            CsError::FailedOperation => "CS_ERR_FAILED_OPERATION",
            CsError::MessageError => "CS_ERR_MESSAGE_ERROR",
            CsError::QueueFull => "CS_ERR_QUEUE_FULL",
            CsError::QueueNotAvailable => "CS_ERR_QUEUE_NOT_AVAILABLE",
            CsError::BadFlags => "CS_ERR_BAD_FLAGS",
            CsError::TooBig => "CS_ERR_TOO_BIG",
            CsError::NoSections => "CS_ERR_NO_SECTIONS",
            CsError::ContextNotFound => "CS_ERR_CONTEXT_NOT_FOUND",
            CsError::TooManyGroups => "CS_ERR_TOO_MANY_GROUPS",
            CsError::Security => "CS_ERR_SECURITY",
        }
    }
}

/// Why [`crate::QuorumClient::connect`] (or [`crate::Connection::connect`]) failed.
///
/// corosync folds two different refusals into one `CS_ERR_ACCESS`, and the C API and
/// [`crate::classic`] keep doing so ([`ConnectError::code`]). This type tells them apart, because
/// the fixes differ:
/// - [`ConnectError::SocketPermission`]: `connect(2)` on the socket file failed with
///   EACCES/EPERM. The file system (the socket's mode, owner or group, or a directory on the
///   way without search permission) or a security module refused; the daemon never saw the
///   attempt. Fix the socket's permissions or group.
/// - [`ConnectError::UidGidRefused`]: the daemon accepted the connection, looked at the peer
///   credentials and refused them (neither root nor allowed by a `uidgid` entry). Add a
///   `uidgid` entry to corosync.conf or `uidgid.d/`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The file system refused `connect(2)` on the socket (`CS_ERR_ACCESS`).
    #[error(
        "CS_ERR_ACCESS: connecting to {} was refused by the file system ({}), before the daemon \
         saw this process",
        path.display(),
        std::io::Error::from_raw_os_error(*errno)
    )]
    SocketPermission {
        /// The socket that could not be connected to.
        path: PathBuf,
        /// The OS error number `connect(2)` gave (EACCES or EPERM).
        errno: i32,
    },
    /// The daemon refused these credentials: not root, and no `uidgid` entry allows them
    /// (`CS_ERR_ACCESS`, corosync-behaviour §6.1).
    #[error("CS_ERR_ACCESS: the daemon refused uid {uid} gid {gid} (no uidgid entry allows them)")]
    UidGidRefused {
        /// The effective uid the daemon saw (this process's, at connect time).
        uid: u32,
        /// The effective (primary) gid the daemon saw; supplementary groups do not count.
        gid: u32,
    },
    /// Any other failure: not running (`Library`), not ready yet (`TryAgain`), ...
    #[error(transparent)]
    Other(CsError),
}

impl ConnectError {
    /// The `cs_error_t` the C API gives for this failure (both refusals are `CS_ERR_ACCESS`).
    pub fn code(&self) -> CsError {
        match self {
            ConnectError::SocketPermission { .. } | ConnectError::UidGidRefused { .. } => CsError::Access,
            ConnectError::Other(e) => *e,
        }
    }
}

impl From<CsError> for ConnectError {
    fn from(e: CsError) -> ConnectError {
        ConnectError::Other(e)
    }
}

impl From<ConnectError> for CsError {
    fn from(e: ConnectError) -> CsError {
        e.code()
    }
}

/// A result as a C `cs_error_t` number.
pub fn raw<T>(result: &Result<T, CsError>) -> u32 {
    match result {
        Ok(_) => CS_OK,
        Err(e) => e.raw(),
    }
}

/// corosync's `cs_strerror`: "success" for `CS_OK`, the enum name for an error, and
/// "unknown error" for any other number (corosync-behaviour §1.1).
pub fn cs_strerror(raw: u32) -> &'static str {
    if raw == CS_OK {
        return "success";
    }
    CsError::from_raw(raw).map_or("unknown error", CsError::as_str)
}

/// Maps an OS error met while talking to the daemon, like corosync's `qb_to_cs_error`
/// (corosync-behaviour §1.3): connection failures (ECONNREFUSED, ENOENT of the socket, EPIPE, ...) are
/// `CS_ERR_LIBRARY`.
pub(crate) fn from_errno(e: rustix::io::Errno) -> CsError {
    use rustix::io::Errno;
    match e {
        Errno::ACCESS | Errno::PERM => CsError::Access,
        Errno::NOMEM => CsError::NoMemory,
        Errno::MFILE | Errno::NFILE => CsError::NoResources,
        Errno::INTR => CsError::Interrupt,
        _ => CsError::Library,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_1_1_numbers_and_strings() {
        assert_eq!(CsError::Library.raw(), 2);
        assert_eq!(CsError::TryAgain.raw(), 6);
        assert_eq!(CsError::BadHandle.raw(), 9);
        assert_eq!(CsError::Access.raw(), 11);
        assert_eq!(CsError::MessageError.raw(), 22);
        assert_eq!(CsError::ContextNotFound.raw(), 28);
        assert_eq!(CsError::TooManyGroups.raw(), 30);
        assert_eq!(CsError::Security.raw(), 100);
        assert_eq!(CsError::from_raw(29), None);
        assert_eq!(CsError::from_raw(1), None);
        assert_eq!(cs_strerror(1), "success");
        assert_eq!(cs_strerror(29), "unknown error");
        assert_eq!(cs_strerror(0), "unknown error");
        assert_eq!(cs_strerror(14), "CS_ERR_EXIST");
        for e in ALL_ERRORS {
            assert_eq!(CsError::from_raw(e.raw()), Some(e));
            assert_eq!(e.to_string(), e.as_str());
            assert_eq!(cs_strerror(e.raw()), e.as_str());
        }
        let numbers: Vec<u32> = ALL_ERRORS.iter().map(|e| e.raw()).collect();
        let mut expected: Vec<u32> = (2..=28).collect();
        expected.extend([30, 100]);
        assert_eq!(numbers, expected);
    }

    #[test]
    fn daemon_values_map_to_errors() {
        assert_eq!(CsError::check(1), Ok(()));
        assert_eq!(CsError::check(6), Err(CsError::TryAgain));
        assert_eq!(CsError::check(0), Err(CsError::MessageError));
        assert_eq!(CsError::check(12345), Err(CsError::MessageError));
    }
}
