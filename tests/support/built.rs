//! The daemon and the drop-in libraries as built for this test's profile, for the tests that
//! run them beside Debian's Corosync (corosync_tools, abi_corosync, pacemaker).
#![allow(dead_code)] // each test uses part of it
#![allow(clippy::disallowed_methods)] // a test harness: processes, env

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `target/debug` or `target/release`: where this test binary's profile puts the daemon and
/// the libraries.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// `cargo test` builds neither the cdylib packages nor their files: builds the daemon and every
/// drop-in library (a no-op when fresh) in this test's profile.
pub fn build_daemon_and_libraries() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build").current_dir(repo_root());
    for p in [
        "quorumd",
        "quorumd-capi",
        "quorumd-libcmap",
        "quorumd-libcfg",
        "quorumd-libvotequorum",
        "quorumd-libcorosync_common",
        "quorumd-libcpg",
    ] {
        cmd.args(["-p", p]);
    }
    if profile_dir().ends_with("release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().expect("cargo build").success(), "cargo build failed");
}
