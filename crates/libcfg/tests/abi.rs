//! `libcfg.so.7` as a drop-in: its SONAME and symbol versions, and `tests/abi/cfg.c` built
//! against the system's `<corosync/cfg.h>` (Debian's libcfg-dev), linked to our library by
//! rpath, run against a real `quorumd` (node 1 of a two-node nodelist, alone): every call, the
//! shutdown protocol with trackers in child processes (NO → BUSY, silence → BUSY after the
//! 5 s timeout, a disconnected tracker counts as YES → OK and the daemon leaves), and the fd
//! check Pacemaker makes.
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
    name: "cfg",
    package: "quorumd-libcfg",
    built: "libcfg.so",
    soname: "libcfg.so.7",
    dev_package: "libcfg-dev",
    map: "crates/libcfg/libcfg.map",
    symbol_prefix: "corosync_cfg_",
    version: "COROSYNC_CFG_0.82",
    functions: 15,
    env_prefix: "CFG",
    nodes: 2,
    runs_as_nobody: false,
    min_ok: 30,
};

fn main() {
    prereq::run(vec![
        prereq::needs(
            "soname_and_every_symbol_under_corosync_cfg_0_82",
            cabi_abi::needs_readelf,
            soname_and_every_symbol_under_corosync_cfg_0_82,
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

fn soname_and_every_symbol_under_corosync_cfg_0_82() {
    cabi_abi::soname_and_every_symbol(&LIB);
}

fn c_program_built_against_debians_header_walks_every_call() {
    cabi_abi::c_program_walks_every_call(&LIB);
}
