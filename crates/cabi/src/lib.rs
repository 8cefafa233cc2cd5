//! What quorumd's drop-in C libraries share (`libcmap.so.4`, `libvotequorum.so.8`,
//! `libcorosync_common.so.4`, and
//! the services that follow): the handle tables, the sessions behind them and the `unsafe`
//! conversions between C arguments and `quorumd_client`'s safe API.
//!
//! Cargo builds one `cdylib` per package, so each drop-in library is a thin package whose
//! `#[no_mangle]` functions call the `extern "C"` functions here; its SONAME and symbol
//! version node come from its own `build.rs` and version script.
//!
//! Rules every C function here keeps:
//! - no panic crosses the boundary (`guard` → `CS_ERR_LIBRARY`);
//! - NULL pointers where corosync would crash give `CS_ERR_INVALID_PARAM`;
//! - no lock is held while an application callback runs (callbacks may call any function,
//!   finalize included).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cfg;
pub mod cmap;
pub mod common;
pub mod handles;
pub mod votequorum;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// `cs_error_t`.
pub type CsErrorT = u32;
/// `CS_OK`.
pub const CS_OK: CsErrorT = 1;

/// Runs `f`; a panic becomes `CS_ERR_LIBRARY`.
pub(crate) fn guard(f: impl FnOnce() -> CsErrorT) -> CsErrorT {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(quorumd_client::CsError::Library.raw())
}

/// The C number of a result.
pub(crate) fn code<T>(r: &Result<T, quorumd_client::CsError>) -> CsErrorT {
    quorumd_client::error::raw(r)
}
