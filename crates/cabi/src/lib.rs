//! What quorumd's drop-in C libraries share (`libquorum.so.5`, `libcmap.so.4`,
//! `libvotequorum.so.8`, `libcfg.so.7`, `libcorosync_common.so.4`, and
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
pub mod quorum;
pub mod quorum_types;
pub mod votequorum;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use quorumd_client::{CsError, DispatchFlags};

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

/// The dispatch loop of every service (`cmap_dispatch`, `votequorum_dispatch`,
/// `corosync_cfg_dispatch`): `next(true)` waits for the next event, `next(false)` takes one
/// only if pending; `deliver` runs the application's callback (no lock held). `One` handles
/// one event (waiting for it), `OneNonblocking` at most one (`CS_ERR_TRY_AGAIN` when none),
/// `All` every pending one (`CS_OK` when none is left), `Blocking` waits for events until an
/// error. A finalize from inside a callback ends it with `CS_ERR_BAD_HANDLE`.
pub(crate) fn dispatch<E>(
    mode: DispatchFlags,
    finalized: &AtomicBool,
    mut next: impl FnMut(bool) -> Result<Option<E>, CsError>,
    mut deliver: impl FnMut(E),
) -> CsErrorT {
    loop {
        let wait = matches!(mode, DispatchFlags::One | DispatchFlags::Blocking);
        let ev = match next(wait) {
            Ok(Some(ev)) => ev,
            Ok(None) if mode == DispatchFlags::OneNonblocking => return CsError::TryAgain.raw(),
            Ok(None) => return CS_OK,
            Err(e) => return e.raw(),
        };
        deliver(ev);
        if finalized.load(Ordering::Acquire) {
            return CsError::BadHandle.raw();
        }
        if matches!(mode, DispatchFlags::One | DispatchFlags::OneNonblocking) {
            return CS_OK;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Runs `dispatch` over `pending` events (then, when waiting, the daemon is gone:
    /// `CS_ERR_LIBRARY`); returns the result, the events delivered and whether it waited.
    fn run(mode: DispatchFlags, pending: &[u32], finalize_at: Option<u32>) -> (CsErrorT, Vec<u32>, bool) {
        let finalized = AtomicBool::new(false);
        let mut queue: VecDeque<u32> = pending.iter().copied().collect();
        let (mut seen, mut waited) = (Vec::new(), false);
        let rc = dispatch(
            mode,
            &finalized,
            |wait| match queue.pop_front() {
                Some(e) => Ok(Some(e)),
                None if wait => {
                    waited = true;
                    Err(CsError::Library)
                }
                None => Ok(None),
            },
            |e| {
                seen.push(e);
                if Some(e) == finalize_at {
                    finalized.store(true, Ordering::Release);
                }
            },
        );
        (rc, seen, waited)
    }

    #[test]
    fn each_mode_handles_what_corosync_handles() {
        let bad_handle = CsError::BadHandle.raw();
        assert_eq!(run(DispatchFlags::One, &[1, 2], None), (CS_OK, vec![1], false));
        assert_eq!(run(DispatchFlags::One, &[], None), (CsError::Library.raw(), vec![], true));
        assert_eq!(run(DispatchFlags::OneNonblocking, &[1, 2], None), (CS_OK, vec![1], false));
        assert_eq!(run(DispatchFlags::OneNonblocking, &[], None), (CsError::TryAgain.raw(), vec![], false));
        assert_eq!(run(DispatchFlags::All, &[1, 2, 3], None), (CS_OK, vec![1, 2, 3], false));
        assert_eq!(run(DispatchFlags::All, &[], None), (CS_OK, vec![], false));
        assert_eq!(run(DispatchFlags::Blocking, &[1, 2], None), (CsError::Library.raw(), vec![1, 2], true));
        // A callback that finalizes ends every mode at once.
        assert_eq!(run(DispatchFlags::All, &[1, 2, 3], Some(2)), (bad_handle, vec![1, 2], false));
        assert_eq!(run(DispatchFlags::Blocking, &[1, 2], Some(1)), (bad_handle, vec![1], false));
        assert_eq!(run(DispatchFlags::One, &[1], Some(1)), (bad_handle, vec![1], false));
    }
}
