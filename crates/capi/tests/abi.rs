//! ABI conformance: `tests/abi/conformance.c` compiled with `cc` against our headers (and
//! against Corosync's from `libquorum-dev` when installed), linked to *our*
//! `libquorum.so.5` by rpath, and run against the fake daemon and, once it is built, against a
//! real one-node `quorumd` on loopback.
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "../../client/tests/fake/mod.rs"]
mod fake;
#[path = "../../../tests/support/prereq.rs"]
mod prereq;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ensure_built, profile_dir, repo_root};
use fake::{Behaviour, FakeDaemon};
use quorumd_proto::ipc::cs;

/// A scratch dir holding `libquorum.so.5` (a copy of the cdylib cargo built) for the rpath.
fn scratch(name: &str) -> PathBuf {
    ensure_built();
    let dir = std::env::temp_dir().join(format!("quorumd-abi-lib-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let built = profile_dir().join("libquorum.so");
    assert!(built.exists(), "{} not built", built.display());
    std::fs::copy(&built, dir.join("libquorum.so.5")).unwrap();
    dir
}

/// Compiles the conformance program; `ours` picks our headers, else the system's.
fn compile(dir: &Path, ours: bool) -> PathBuf {
    let out = dir.join(if ours { "conformance-ours" } else { "conformance-corosync-headers" });
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g"]);
    if ours {
        cc.arg("-I").arg(repo_root().join("crates/capi/include"));
    }
    cc.arg(repo_root().join("tests/abi/conformance.c"))
        .arg("-o")
        .arg(&out)
        .arg(dir.join("libquorum.so.5"))
        .arg(format!("-Wl,-rpath,{}", dir.display()));
    let status = cc.status().expect("cc");
    assert!(status.success(), "cc failed");
    // It must load our library, never Corosync's.
    let ldd = Command::new("ldd").arg(&out).output().unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    let line = ldd.lines().find(|l| l.contains("libquorum.so.5")).unwrap().to_string();
    assert!(line.contains(&dir.display().to_string()), "loads the wrong libquorum: {line}");
    out
}

fn run(mut cmd: Command, timeout: Duration) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            println!("{text}");
            assert!(status.success(), "conformance failed:\n{text}");
            assert!(text.contains(" passed, 0 failed"));
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("conformance timed out:\n{}", String::from_utf8_lossy(&out.stdout));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_against_fake(binary: &Path) {
    let ok = FakeDaemon::start(Behaviour::default());
    let busy = FakeDaemon::start(Behaviour { init_error: cs::ERR_TRY_AGAIN, ..Behaviour::default() });
    let denied = FakeDaemon::start(Behaviour { init_error: cs::ERR_ACCESS, ..Behaviour::default() });
    let absent = std::env::temp_dir().join("quorumd-abi-absent/quorumd.sock");
    let mut cmd = Command::new(binary);
    cmd.arg("fake").arg(&ok.path).arg(&busy.path).arg(&denied.path).arg(&absent).arg(ok.ctl_path());
    run(cmd, Duration::from_secs(60));
}

fn main() {
    prereq::run(vec![
        prereq::needs(
            "c_conformance_with_our_headers_against_the_fake_daemon",
            needs_cc,
            c_conformance_with_our_headers_against_the_fake_daemon,
        ),
        prereq::needs(
            "c_conformance_with_corosync_headers_against_the_fake_daemon",
            needs_cc_and_corosync_headers,
            c_conformance_with_corosync_headers_against_the_fake_daemon,
        ),
        prereq::needs(
            "c_program_linked_to_corosyncs_libquorum_runs_on_ours",
            needs_cc_and_corosync_headers,
            c_program_linked_to_corosyncs_libquorum_runs_on_ours,
        ),
        prereq::needs(
            "exports_exactly_the_ten_versioned_symbols",
            needs_readelf,
            exports_exactly_the_ten_versioned_symbols,
        ),
        prereq::needs(
            "c_conformance_against_a_real_one_node_daemon",
            needs_cc_and_daemon,
            c_conformance_against_a_real_one_node_daemon,
        ),
    ]);
}

fn needs_cc() -> Option<String> {
    prereq::missing(&[(prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)")])
}

fn needs_cc_and_corosync_headers() -> Option<String> {
    prereq::missing(&[
        (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
        (
            Path::new("/usr/include/corosync/quorum.h").exists(),
            "Corosync's libquorum and /usr/include/corosync/quorum.h (apt-get install libquorum-dev)",
        ),
    ])
}

fn needs_readelf() -> Option<String> {
    prereq::missing(&[(prereq::has_command("readelf"), "readelf (apt-get install binutils)")])
}

fn needs_cc_and_daemon() -> Option<String> {
    prereq::missing(&[
        (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
        (daemon_binary().is_some(), "the quorumd binary (cargo build -p quorumd, or set QUORUMD_BIN)"),
    ])
}

fn c_conformance_with_our_headers_against_the_fake_daemon() {
    let dir = scratch("ours");
    run_against_fake(&compile(&dir, true));
    let _ = std::fs::remove_dir_all(&dir);
}

fn c_conformance_with_corosync_headers_against_the_fake_daemon() {
    let dir = scratch("corosync");
    run_against_fake(&compile(&dir, false));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Drop-in: a program built and linked against Corosync's own libquorum (libquorum-dev) runs
/// unchanged on ours, picked up through `LD_LIBRARY_PATH`.
fn c_program_linked_to_corosyncs_libquorum_runs_on_ours() {
    let dir = scratch("dropin");
    let out = dir.join("conformance-linked-to-corosync");
    let status = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(repo_root().join("tests/abi/conformance.c"))
        .arg("-o")
        .arg(&out)
        .arg("-lquorum")
        .status()
        .unwrap();
    assert!(status.success(), "cc -lquorum failed");
    let ldd = Command::new("ldd").arg(&out).env("LD_LIBRARY_PATH", &dir).output().unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout).to_string();
    assert!(ldd.contains(&format!("{}/libquorum.so.5", dir.display())), "not ours: {ldd}");
    let mut cmd = Command::new(&out);
    cmd.env("LD_LIBRARY_PATH", &dir);
    let ok = FakeDaemon::start(Behaviour::default());
    let busy = FakeDaemon::start(Behaviour { init_error: cs::ERR_TRY_AGAIN, ..Behaviour::default() });
    let denied = FakeDaemon::start(Behaviour { init_error: cs::ERR_ACCESS, ..Behaviour::default() });
    let absent = std::env::temp_dir().join("quorumd-abi-absent/quorumd.sock");
    cmd.arg("fake").arg(&ok.path).arg(&busy.path).arg(&denied.path).arg(&absent).arg(ok.ctl_path());
    run(cmd, Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&dir);
}

fn exports_exactly_the_ten_versioned_symbols() {
    ensure_built();
    let lib = profile_dir().join("libquorum.so");
    let out = Command::new("readelf").args(["--dyn-syms", "-W"]).arg(&lib).output().expect("run readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut exported: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" FUNC ") && l.contains(" GLOBAL ") && !l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    exported.sort_unstable();
    let mut want: Vec<String> = [
        "context_get",
        "context_set",
        "dispatch",
        "fd_get",
        "finalize",
        "getquorate",
        "initialize",
        "model_initialize",
        "trackstart",
        "trackstop",
    ]
    .iter()
    .map(|f| format!("quorum_{f}@@COROSYNC_QUORUM_1.0"))
    .collect();
    want.sort_unstable();
    assert_eq!(exported, want);
    let dynamic = Command::new("readelf").arg("-d").arg(&lib).output().unwrap();
    assert!(String::from_utf8_lossy(&dynamic.stdout).contains("Library soname: [libquorum.so.5]"));
}

/// The real daemon: `$QUORUMD_BIN`, else `quorumd` next to this profile's outputs.
fn daemon_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("QUORUMD_BIN") {
        return Some(PathBuf::from(p));
    }
    ensure_built();
    [profile_dir().join("quorumd"), profile_dir().join("../release/quorumd")].into_iter().find(|p| p.exists())
}

struct Daemon {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_daemon(binary: &Path) -> Daemon {
    let dir = std::env::temp_dir().join(format!("quorumd-abi-real-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        "totem {{\n  version: 2\n  cluster_name: t\n  crypto_cipher: none\n  crypto_hash: none\n  \
         interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\n\
         nodelist {{\n  node {{\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n  }}\n}}\n\
         quorum {{\n  provider: corosync_votequorum\n}}\n"
    );
    std::fs::write(dir.join("corosync.conf"), config).unwrap();
    let socket = dir.join("quorumd.sock");
    let child = Command::new(binary)
        .arg("--config")
        .arg(dir.join("corosync.conf"))
        .args(["--nodeid", "1", "--socket"])
        .arg(&socket)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--foreground")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Daemon { child, socket, dir }
}

/// Waits until the daemon accepts clients (TRY_AGAIN until its first membership).
fn wait_ready(socket: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if quorumd_client::QuorumClient::connect_with(socket, quorumd_client::Model::V1).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn c_conformance_against_a_real_one_node_daemon() {
    let binary = daemon_binary().expect("checked by needs_cc_and_daemon");
    let daemon = start_daemon(&binary);
    assert!(wait_ready(&daemon.socket), "quorumd did not accept clients within 30 s");
    let dir = scratch("real");
    let program = compile(&dir, true);
    let absent = daemon.dir.join("absent.sock");
    let mut cmd = Command::new(program);
    cmd.arg("real").arg(&daemon.socket).arg(&absent).arg(daemon.child.id().to_string());
    run(cmd, Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&dir);
}
