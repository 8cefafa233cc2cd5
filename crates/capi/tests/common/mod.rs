//! What the tests of the C library share: where the repository and the build are, and building
//! the cdylib and the daemon on demand.
#![allow(clippy::disallowed_methods, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The target profile dir (`…/debug`), from this test's own path (`…/debug/deps/abi-…`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// `cargo test` builds a cdylib-only package's library only for its own dependants, and other
/// packages' binaries not at all: build the library and the daemon once, here, if missing.
pub fn ensure_built() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let want = [profile_dir().join("libquorum.so"), profile_dir().join("quorumd")];
        if want.iter().all(|p| p.exists()) {
            return;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "quorumd-capi", "-p", "quorumd"]).current_dir(repo_root());
        if profile_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p quorumd-capi -p quorumd failed");
    });
}
