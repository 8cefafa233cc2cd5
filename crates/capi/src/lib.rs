//! `libquorum.so.5`: Corosync's quorum C API (corosync-behaviour §1) over `quorumd_client::classic`.
//!
//! Built as a `cdylib` named `libquorum.so` with SONAME `libquorum.so.5`; its ten functions
//! carry the symbol version `COROSYNC_QUORUM_1.0` (see `build.rs` and `libquorum.map`), so a
//! program built against Corosync's `libquorum` runs against this one unchanged. The C types
//! are declared in `include/corosync/quorum.h` and `corotypes.h` and mirrored in [`types`].
//!
//! Rules every exported function keeps:
//! - no panic crosses the boundary (`catch_unwind` → `CS_ERR_LIBRARY`);
//! - NULL out-pointers give `CS_ERR_INVALID_PARAM` where corosync would crash (documented in
//!   `docs/deviations.md`);
//! - no lock is held while an application callback runs (callbacks may call any function,
//!   `quorum_finalize` included).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod ffi;
pub mod types;
