//! `libcorosync_common.so.4`: `cs_strerror`, `qb_to_cs_error` and `hdb_error_to_cs`, as
//! Corosync's common library exports them (unversioned). The code lives in
//! `quorumd_cabi::common`; these are the exported names.
#![deny(unsafe_code)]

use std::ffi::{c_char, c_int};

/// `const char *cs_strerror(cs_error_t err)`.
#[allow(unsafe_code)] // `no_mangle` is an unsafe attribute: the name is the C API's, unique here.
#[no_mangle]
pub extern "C" fn cs_strerror(err: u32) -> *const c_char {
    quorumd_cabi::common::cs_strerror(err)
}

/// `cs_error_t qb_to_cs_error(int result)`.
#[allow(unsafe_code)] // as above
#[no_mangle]
pub extern "C" fn qb_to_cs_error(result: c_int) -> u32 {
    quorumd_cabi::common::qb_to_cs_error(result)
}

/// `cs_error_t hdb_error_to_cs(int res)`.
#[allow(unsafe_code)] // as above
#[no_mangle]
pub extern "C" fn hdb_error_to_cs(res: c_int) -> u32 {
    quorumd_cabi::common::hdb_error_to_cs(res)
}
