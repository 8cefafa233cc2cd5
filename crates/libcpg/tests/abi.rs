//! `libcpg.so.4` as a drop-in: its SONAME and symbol versions exactly as Debian's binary, and
//! `tests/abi/cpg.c` built against the system's `<corosync/cpg.h>` (Debian's libcpg-dev),
//! linked to our library by rpath, run against a real `quorumd` (node 1 of a two-node
//! nodelist, alone): every call, error paths included (bad handle, not joined, name too long,
//! unknown model or flag, iteration arguments), joins and leaves of child processes (JOIN,
//! LEAVE, PROCDOWN), gathered iovecs, a 3 MiB message chunked and delivered whole, the four
//! dispatch modes, the fd's SO_PEERCRED, and the daemon killed (POLLHUP, CS_ERR_LIBRARY).
//!
//! Tests that need readelf, cc, the Debian header or root report themselves ignored, with the
//! reason, when those are missing (`harness = false`, see tests/support/prereq.rs); the harness
//! shared with the other drop-in libraries is tests/support/cabi_abi.rs.
#![allow(clippy::disallowed_methods)]

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/cabi_abi.rs"]
mod cabi_abi;

use std::process::Command;

const LIB: cabi_abi::Lib = cabi_abi::Lib {
    name: "cpg",
    package: "quorumd-libcpg",
    built: "libcpg.so",
    soname: "libcpg.so.4",
    dev_package: "libcpg-dev",
    map: "crates/libcpg/libcpg.map",
    symbol_prefix: "cpg_",
    version: "COROSYNC_CPG_1.0",
    functions: 12,
    env_prefix: "CPG",
    nodes: 2,
    runs_as_nobody: false,
    min_ok: 100,
};

/// The functions Debian's libcpg.so.4 (corosync 3.1.7-1+deb12u2) exports without a version.
const UNVERSIONED: [&str; 8] = [
    "cpg_flow_control_state_get",
    "cpg_iteration_finalize",
    "cpg_iteration_initialize",
    "cpg_iteration_next",
    "cpg_local_get",
    "cpg_max_atomic_msgsize_get",
    "cpg_model_initialize",
    "cpg_zcb_mcast_joined",
];

fn main() {
    prereq::run(vec![
        prereq::needs(
            "soname_and_symbol_versions_as_debians_libcpg",
            cabi_abi::needs_readelf,
            soname_and_symbol_versions_as_debians_libcpg,
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

/// The exported functions of a shared object as `name@@VERSION` or `name`.
fn exported(so: &std::path::Path) -> Vec<String> {
    let out = Command::new("readelf").args(["--dyn-syms", "-W"]).arg(so).output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" FUNC ") && l.contains(" GLOBAL ") && !l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.starts_with("cpg_"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// `cargo test` does not build a cdylib-only package's library: build it (a no-op when fresh).
fn build() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(std::path::Path::parent).unwrap().to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", LIB.package]).current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    if profile.ends_with("release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().expect("cargo build").success(), "cargo build failed");
    profile.join(LIB.built)
}

fn soname_and_symbol_versions_as_debians_libcpg() {
    // The twelve versioned ones: the version script's, under COROSYNC_CPG_1.0 (the harness).
    // Then every export: those twelve plus the eight unversioned ones, nothing else.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let map = std::fs::read_to_string(root.join(LIB.map)).unwrap();
    let mut want: Vec<String> = map
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cpg_"))
        .map(|l| format!("{}@@COROSYNC_CPG_1.0", l.trim_end_matches(';')))
        .chain(UNVERSIONED.iter().map(|s| s.to_string()))
        .collect();
    want.sort();
    assert_eq!(want.len(), 20, "Corosync 3.1.7's libcpg has 20 functions");
    let built = build();
    let d = Command::new("readelf").arg("-d").arg(&built).output().unwrap();
    assert!(String::from_utf8_lossy(&d.stdout).contains("Library soname: [libcpg.so.4]"));
    assert_eq!(exported(&built), want);
    // Debian's own binary, when installed, exports exactly the same.
    let debian = std::path::Path::new("/usr/lib/x86_64-linux-gnu/libcpg.so.4");
    if debian.exists() {
        assert_eq!(exported(debian), want, "Debian's libcpg.so.4 exports differ from ours");
    }
}

fn c_program_built_against_debians_header_walks_every_call() {
    cabi_abi::c_program_walks_every_call(&LIB);
}
