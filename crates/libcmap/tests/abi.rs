//! `libcmap.so.4` as a drop-in: its SONAME and symbol versions, and `tests/abi/cmap.c` built
//! against the system's `<corosync/cmap.h>` (Debian's libcmap-dev), linked to our library by
//! rpath, run against a real one-node `quorumd`: every call including the error paths (bad
//! handle, missing key, wrong type, read-only keys, no daemon, daemon killed), the fd check
//! Pacemaker makes and uidgid written at run time.
//!
//! Tests that need readelf, cc or the Debian header, or root, report themselves ignored, with the
//! reason, when those are missing (`harness = false`, see tests/support/prereq.rs).
#![allow(clippy::disallowed_methods)]

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    prereq::run(vec![
        prereq::needs(
            "soname_and_every_symbol_under_corosync_cmap_1_0",
            needs_readelf,
            soname_and_every_symbol_under_corosync_cmap_1_0,
        ),
        prereq::needs(
            "c_program_built_against_debians_header_walks_every_call",
            needs_cc_and_header,
            c_program_built_against_debians_header_walks_every_call,
        ),
    ]);
}

fn needs_readelf() -> Option<String> {
    prereq::missing(&[(prereq::has_command("readelf"), "readelf (apt-get install binutils)")])
}

fn needs_cc_and_header() -> Option<String> {
    prereq::missing(&[
        (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
        (
            Path::new("/usr/include/corosync/cmap.h").exists(),
            "/usr/include/corosync/cmap.h (apt-get install libcmap-dev)",
        ),
        (prereq::is_root(), "root (the program checks the fd's peer is uid 0 as Pacemaker does, and runs a child as uid 65534)"),
    ])
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// `cargo test` does not build a cdylib-only package's library or other packages' binaries:
/// build both here (cargo makes it a no-op when they are fresh).
fn ensure_built() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "quorumd-libcmap", "-p", "quorumd"]).current_dir(repo_root());
        if profile_dir().ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().expect("cargo build").success(), "cargo build failed");
    });
}

struct Scratch {
    dir: PathBuf,
    daemon: Option<Child>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch(name: &str) -> Scratch {
    ensure_built();
    let dir = std::env::temp_dir().join(format!("quorumd-libcmap-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Readable by uid 65534 (the uidgid check runs the library as nobody).
    let _ = Command::new("chmod").arg("755").arg(&dir).status();
    std::fs::copy(profile_dir().join("libcmap.so"), dir.join("libcmap.so.4")).unwrap();
    Scratch { dir, daemon: None }
}

fn soname_and_every_symbol_under_corosync_cmap_1_0() {
    let s = scratch("symbols");
    let lib = s.dir.join("libcmap.so.4");
    let d = Command::new("readelf").arg("-d").arg(&lib).output().unwrap();
    assert!(String::from_utf8_lossy(&d.stdout).contains("Library soname: [libcmap.so.4]"));
    let syms = Command::new("readelf").args(["--dyn-syms", "-W"]).arg(&lib).output().unwrap();
    let syms = String::from_utf8_lossy(&syms.stdout);
    let exported: Vec<&str> = syms
        .lines()
        .filter(|l| l.contains(" FUNC ") && l.contains(" GLOBAL ") && !l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let map = std::fs::read_to_string(repo_root().join("crates/libcmap/libcmap.map")).unwrap();
    let want: Vec<String> = map
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cmap_"))
        .map(|l| format!("{}@@COROSYNC_CMAP_1.0", l.trim_end_matches(';')))
        .collect();
    assert_eq!(want.len(), 39, "corosync's libcmap has 39 functions");
    let mut got: Vec<String> = exported.iter().map(|s| s.to_string()).collect();
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
}

fn c_program_built_against_debians_header_walks_every_call() {
    let header = Path::new("/usr/include/corosync/cmap.h");
    assert!(
        header.exists(),
        "Debian's libcmap-dev is needed (.ci/run installs it): {} missing",
        header.display()
    );
    let mut s = scratch("c");
    let exe = s.dir.join("cmap-conformance");
    let status = Command::new("cc")
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-g"])
        .arg(repo_root().join("tests/abi/cmap.c"))
        .arg("-o")
        .arg(&exe)
        .arg(s.dir.join("libcmap.so.4"))
        .arg(format!("-Wl,-rpath,{}", s.dir.display()))
        .status()
        .expect("cc");
    assert!(status.success(), "cc failed");
    let ldd = Command::new("ldd").arg(&exe).output().unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    let line = ldd.lines().find(|l| l.contains("libcmap.so.4")).unwrap_or_default().to_string();
    assert!(line.contains(&s.dir.display().to_string()), "loads the wrong libcmap: {line}");

    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = format!(
        "totem {{\n  version: 2\n  cluster_name: cmapabi\n  crypto_cipher: none\n  crypto_hash: none\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n  node {{\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n    name: n1\n  }}\n}}\nquorum {{\n  provider: corosync_votequorum\n  two_node: 0\n}}\n"
    );
    std::fs::write(s.dir.join("corosync.conf"), conf).unwrap();
    let sock = s.dir.join("sock");
    let log = std::fs::File::create(s.dir.join("log")).unwrap();
    let daemon = Command::new(profile_dir().join("quorumd"))
        .arg("--config")
        .arg(s.dir.join("corosync.conf"))
        .args(["--nodeid", "1", "--socket"])
        .arg(&sock)
        .arg("--state-dir")
        .arg(s.dir.join("state"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = daemon.id();
    s.daemon = Some(daemon);
    let start = Instant::now();
    while quorumd_client::cmap::CmapClient::connect_map(&sock, quorumd_client::cmap::CmapMap::Default)
        .is_err()
    {
        assert!(start.elapsed() < Duration::from_secs(10), "daemon never served");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = Command::new(&exe)
        .env("QUORUMD_SOCKET", &sock)
        .env("CMAP_TEST_NO_DAEMON", s.dir.join("nothing-here"))
        .env("CMAP_TEST_DAEMON_PID", pid.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(s.dir.join("log")).unwrap_or_default();
    assert!(out.status.success() && text.contains("0 failures"), "{text}\n--- daemon log ---\n{log}");
    assert!(text.lines().filter(|l| l.starts_with("ok: ")).count() > 100, "{text}");
}
