//! `libcorosync_common.so.4`: `cs_strerror`, `qb_to_cs_error`, `hdb_error_to_cs`.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};

use quorumd_client::CsError;

use crate::{CsErrorT, CS_OK};

/// The texts `cs_strerror` returns, NUL-terminated, for `CS_OK` and every error.
fn text(err: CsErrorT) -> &'static [u8] {
    if err == CS_OK {
        return b"success\0";
    }
    match CsError::from_raw(err) {
        Some(CsError::Library) => b"CS_ERR_LIBRARY\0",
        Some(CsError::Version) => b"CS_ERR_VERSION\0",
        Some(CsError::Init) => b"CS_ERR_INIT\0",
        Some(CsError::Timeout) => b"CS_ERR_TIMEOUT\0",
        Some(CsError::TryAgain) => b"CS_ERR_TRY_AGAIN\0",
        Some(CsError::InvalidParam) => b"CS_ERR_INVALID_PARAM\0",
        Some(CsError::NoMemory) => b"CS_ERR_NO_MEMORY\0",
        Some(CsError::BadHandle) => b"CS_ERR_BAD_HANDLE\0",
        Some(CsError::Busy) => b"CS_ERR_BUSY\0",
        Some(CsError::Access) => b"CS_ERR_ACCESS\0",
        Some(CsError::NotExist) => b"CS_ERR_NOT_EXIST\0",
        Some(CsError::NameTooLong) => b"CS_ERR_NAME_TOO_LONG\0",
        Some(CsError::Exist) => b"CS_ERR_EXIST\0",
        Some(CsError::NoSpace) => b"CS_ERR_NO_SPACE\0",
        Some(CsError::Interrupt) => b"CS_ERR_INTERRUPT\0",
        Some(CsError::NameNotFound) => b"CS_ERR_NAME_NOT_FOUND\0",
        Some(CsError::NoResources) => b"CS_ERR_NO_RESOURCES\0",
        Some(CsError::NotSupported) => b"CS_ERR_NOT_SUPPORTED\0",
        Some(CsError::BadOperation) => b"CS_ERR_BAD_OPERATION\0",
        Some(CsError::FailedOperation) => b"CS_ERR_FAILED_OPERATION\0",
        Some(CsError::MessageError) => b"CS_ERR_MESSAGE_ERROR\0",
        Some(CsError::QueueFull) => b"CS_ERR_QUEUE_FULL\0",
        Some(CsError::QueueNotAvailable) => b"CS_ERR_QUEUE_NOT_AVAILABLE\0",
        Some(CsError::BadFlags) => b"CS_ERR_BAD_FLAGS\0",
        Some(CsError::TooBig) => b"CS_ERR_TOO_BIG\0",
        Some(CsError::NoSections) => b"CS_ERR_NO_SECTIONS\0",
        Some(CsError::ContextNotFound) => b"CS_ERR_CONTEXT_NOT_FOUND\0",
        Some(CsError::TooManyGroups) => b"CS_ERR_TOO_MANY_GROUPS\0",
        Some(CsError::Security) => b"CS_ERR_SECURITY\0",
        None => b"unknown error\0",
    }
}

/// `cs_strerror(err)`: a static string naming `err`.
pub extern "C" fn cs_strerror(err: CsErrorT) -> *const c_char {
    text(err).as_ptr().cast()
}

/// `qb_to_cs_error(result)`: a libqb result (0 or a negative errno) as a `cs_error_t`.
pub extern "C" fn qb_to_cs_error(result: c_int) -> CsErrorT {
    use rustix::io::Errno;
    if result >= 0 {
        return CS_OK;
    }
    let e = Errno::from_raw_os_error(result.saturating_neg());
    let err = match e {
        Errno::BADF => CsError::BadHandle,
        Errno::NOMEM => CsError::NoMemory,
        Errno::NOMSG | Errno::NOBUFS | Errno::TIMEDOUT | Errno::AGAIN => CsError::TryAgain,
        Errno::BADE => CsError::FailedOperation,
        Errno::TIME => CsError::Timeout,
        Errno::INVAL => CsError::InvalidParam,
        Errno::BUSY => CsError::Busy,
        Errno::ACCESS => CsError::Access,
        Errno::OVERFLOW => CsError::NameTooLong,
        Errno::EXIST => CsError::Exist,
        Errno::NOSPC => CsError::NoSpace,
        Errno::INTR => CsError::Interrupt,
        Errno::NOENT | Errno::NODEV => CsError::NotExist,
        Errno::NOSYS | Errno::NOTSUP => CsError::NotSupported,
        Errno::BADMSG => CsError::MessageError,
        Errno::MSGSIZE | Errno::TOOBIG => CsError::TooBig,
        _ => CsError::Library,
    };
    err.raw()
}

/// `hdb_error_to_cs(res)`: a handle-database result as a `cs_error_t`.
pub extern "C" fn hdb_error_to_cs(res: c_int) -> CsErrorT {
    use rustix::io::Errno;
    if res == 0 {
        return CS_OK;
    }
    let err = match Errno::from_raw_os_error(res.saturating_neg()) {
        Errno::BADF => CsError::BadHandle,
        Errno::NOMEM => CsError::NoMemory,
        Errno::MFILE => CsError::NoResources,
        Errno::ACCESS => CsError::Access,
        _ => CsError::Library,
    };
    err.raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_conversions() {
        assert_eq!(text(1), b"success\0");
        assert_eq!(text(11), b"CS_ERR_ACCESS\0");
        assert_eq!(text(999), b"unknown error\0");
        assert_eq!(qb_to_cs_error(0), 1);
        assert_eq!(qb_to_cs_error(-libc_enoent()), CsError::NotExist.raw());
        assert_eq!(hdb_error_to_cs(-9), CsError::BadHandle.raw());
    }

    fn libc_enoent() -> c_int {
        rustix::io::Errno::NOENT.raw_os_error()
    }
}
