//! `libcmap.so.4` as a drop-in: its SONAME and symbol versions, and `tests/abi/cmap.c` built
//! against the system's `<corosync/cmap.h>` (Debian's libcmap-dev), linked to our library by
//! rpath, run against a real one-node `quorumd`: every call including the error paths (bad
//! handle, missing key, wrong type, read-only keys, no daemon, daemon killed), the fd check
//! Pacemaker makes and uidgid written at run time.
//!
//! Tests that need readelf, cc, the Debian header or root report themselves ignored, with the
//! reason, when those are missing (`harness = false`, see tests/support/prereq.rs); the harness
//! shared with the other drop-in libraries is tests/support/cabi_abi.rs.
#![allow(clippy::disallowed_methods)]

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/cabi_abi.rs"]
mod cabi_abi;

const LIB: cabi_abi::Lib = cabi_abi::Lib {
    name: "cmap",
    package: "quorumd-libcmap",
    built: "libcmap.so",
    soname: "libcmap.so.4",
    dev_package: "libcmap-dev",
    map: "crates/libcmap/libcmap.map",
    symbol_prefix: "cmap_",
    version: "COROSYNC_CMAP_1.0",
    functions: 39,
    env_prefix: "CMAP",
    nodes: 1,
    runs_as_nobody: true,
    min_ok: 100,
};

fn main() {
    prereq::run(vec![
        prereq::needs(
            "soname_and_every_symbol_under_corosync_cmap_1_0",
            cabi_abi::needs_readelf,
            soname_and_every_symbol_under_corosync_cmap_1_0,
        ),
        prereq::needs(
            "c_program_built_against_debians_header_walks_every_call",
            needs_cc_and_header,
            c_program_built_against_debians_header_walks_every_call,
        ),
    ]);
}

fn needs_cc_and_header() -> Option<String> {
    cabi_abi::needs_cc_and_header(&LIB)
}

fn soname_and_every_symbol_under_corosync_cmap_1_0() {
    cabi_abi::soname_and_every_symbol(&LIB);
}

fn c_program_built_against_debians_header_walks_every_call() {
    cabi_abi::c_program_walks_every_call(&LIB);
}
