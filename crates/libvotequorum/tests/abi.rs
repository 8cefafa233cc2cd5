//! `libvotequorum.so.8` as a drop-in: its SONAME and symbol versions, and
//! `tests/abi/votequorum.c` built against the system's `<corosync/votequorum.h>` (Debian's
//! libvotequorum-dev), linked to our library by rpath, run against a real `quorumd` (node 1 of a
//! three-node nodelist, alone): every call including the error paths (bad handle, unknown node,
//! qdevice calls, no daemon, daemon killed) and the fd check Pacemaker makes.
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
    name: "votequorum",
    package: "quorumd-libvotequorum",
    built: "libvotequorum.so",
    soname: "libvotequorum.so.8",
    dev_package: "libvotequorum-dev",
    map: "crates/libvotequorum/libvotequorum.map",
    symbol_prefix: "votequorum_",
    version: "COROSYNC_VOTEQUORUM_1.0",
    functions: 16,
    env_prefix: "VQ",
    nodes: 3,
    runs_as_nobody: false,
    min_ok: 40,
};

fn main() {
    prereq::run(vec![
        prereq::needs(
            "soname_and_every_symbol_under_corosync_votequorum_1_0",
            cabi_abi::needs_readelf,
            soname_and_every_symbol_under_corosync_votequorum_1_0,
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

fn soname_and_every_symbol_under_corosync_votequorum_1_0() {
    cabi_abi::soname_and_every_symbol(&LIB);
}

fn c_program_built_against_debians_header_walks_every_call() {
    cabi_abi::c_program_walks_every_call(&LIB);
}
