//! `libquorum.so.5`: Corosync's quorum C API (corosync-behaviour §1) over quorumd.
//!
//! Built as a `cdylib` named `libquorum.so` with SONAME `libquorum.so.5`; its ten functions
//! carry the symbol version `COROSYNC_QUORUM_1.0` (see `build.rs` and `libquorum.map`), so a
//! program built against Corosync's `libquorum` runs against this one unchanged. As for the
//! other drop-in libraries, the code lives in `quorumd_cabi` (`quorum`: the functions on the
//! shared handle table and dispatch loop; `quorum_types`: the C types of
//! `include/corosync/quorum.h` and `corotypes.h`), and each export here only forwards its
//! arguments.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod ffi;
