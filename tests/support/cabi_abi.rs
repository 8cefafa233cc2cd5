//! One harness for the drop-in C libraries built on `crates/cabi` (libcmap, libvotequorum,
//! libcfg): the library's SONAME and every symbol under its version node, and the C
//! conformance program `tests/abi/<name>.c` built against Debian's header, linked to our
//! library by rpath and run against a real `quorumd` (node 1 of `nodes` configured nodes,
//! alone). Each library's `tests/abi.rs` describes itself in a [`Lib`] and hands its two tests
//! to `prereq::run`.
#![allow(clippy::disallowed_methods, dead_code)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::prereq;

/// What differs between the libraries.
pub struct Lib {
    /// `cmap`: the header `<corosync/cmap.h>`, the program `tests/abi/cmap.c`.
    pub name: &'static str,
    /// The cargo package that builds it.
    pub package: &'static str,
    /// The file cargo writes (`libcmap.so`) and its SONAME (`libcmap.so.4`).
    pub built: &'static str,
    pub soname: &'static str,
    /// The Debian package with the header.
    pub dev_package: &'static str,
    /// The version script, the prefix of its function names, the version node and how many
    /// functions corosync 3.1.7's library exports.
    pub map: &'static str,
    pub symbol_prefix: &'static str,
    pub version: &'static str,
    pub functions: usize,
    /// The program's environment variable prefix (`CMAP` → `CMAP_TEST_NO_DAEMON`).
    pub env_prefix: &'static str,
    /// Configured nodes (only node 1 runs).
    pub nodes: u32,
    /// The program runs a child as uid 65534 (the scratch dir must be readable by it).
    pub runs_as_nobody: bool,
    /// Fewest `ok:` lines a complete run prints.
    pub min_ok: usize,
}

pub fn needs_readelf() -> Option<String> {
    prereq::missing(&[(prereq::has_command("readelf"), "readelf (apt-get install binutils)")])
}

pub fn needs_cc_and_header(lib: &Lib) -> Option<String> {
    let header = format!("/usr/include/corosync/{}.h", lib.name);
    let header_why = format!("{header} (apt-get install {})", lib.dev_package);
    let root_why = if lib.runs_as_nobody {
        "root (the program checks the fd's peer is uid 0 as Pacemaker does, and runs a child as uid 65534)"
    } else {
        "root (the program checks the fd's peer is uid 0 as Pacemaker does)"
    };
    prereq::missing(&[
        (prereq::has_command("cc"), "cc (apt-get install gcc libc6-dev)"),
        (Path::new(&header).exists(), &header_why),
        (prereq::is_root(), root_why),
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
fn ensure_built(lib: &Lib) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", lib.package, "-p", "quorumd"]).current_dir(repo_root());
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

fn scratch(lib: &Lib, name: &str) -> Scratch {
    ensure_built(lib);
    let dir = std::env::temp_dir().join(format!("quorumd-lib{}-{name}-{}", lib.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if lib.runs_as_nobody {
        let _ = Command::new("chmod").arg("755").arg(&dir).status();
    }
    std::fs::copy(profile_dir().join(lib.built), dir.join(lib.soname)).unwrap();
    Scratch { dir, daemon: None }
}

/// The SONAME, and exactly the version script's functions exported as `NAME@@VERSION`.
pub fn soname_and_every_symbol(lib: &Lib) {
    let s = scratch(lib, "symbols");
    let so = s.dir.join(lib.soname);
    let d = Command::new("readelf").arg("-d").arg(&so).output().unwrap();
    assert!(String::from_utf8_lossy(&d.stdout).contains(&format!("Library soname: [{}]", lib.soname)));
    let syms = Command::new("readelf").args(["--dyn-syms", "-W"]).arg(&so).output().unwrap();
    let syms = String::from_utf8_lossy(&syms.stdout);
    let mut got: Vec<String> = syms
        .lines()
        .filter(|l| l.contains(" FUNC ") && l.contains(" GLOBAL ") && !l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect();
    let map = std::fs::read_to_string(repo_root().join(lib.map)).unwrap();
    let mut want: Vec<String> = map
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(lib.symbol_prefix))
        .map(|l| format!("{}@@{}", l.trim_end_matches(';'), lib.version))
        .collect();
    assert_eq!(want.len(), lib.functions, "corosync 3.1.7's lib{} has {} functions", lib.name, lib.functions);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

fn config(lib: &Lib, port: u16) -> String {
    let mut nodes = String::from("  node {\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n    name: n1\n  }\n");
    for id in 2..=lib.nodes {
        nodes.push_str(&format!("  node {{\n    nodeid: {id}\n    ring0_addr: 127.0.0.{id}\n  }}\n"));
    }
    format!(
        "totem {{\n  version: 2\n  cluster_name: {}abi\n  crypto_cipher: none\n  crypto_hash: none\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n  two_node: 0\n}}\n",
        lib.name
    )
}

/// The C program, built against Debian's header and linked to our library, passes every
/// check against a real daemon.
pub fn c_program_walks_every_call(lib: &Lib) {
    let header = PathBuf::from(format!("/usr/include/corosync/{}.h", lib.name));
    assert!(
        header.exists(),
        "Debian's {} is needed (.ci/run installs it): {} missing",
        lib.dev_package,
        header.display()
    );
    let mut s = scratch(lib, "c");
    let exe = s.dir.join(format!("{}-conformance", lib.name));
    let status = Command::new("cc")
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-g"])
        .arg(repo_root().join(format!("tests/abi/{}.c", lib.name)))
        .arg("-o")
        .arg(&exe)
        .arg(s.dir.join(lib.soname))
        .arg(format!("-Wl,-rpath,{}", s.dir.display()))
        .status()
        .expect("cc");
    assert!(status.success(), "cc failed");
    let ldd = Command::new("ldd").arg(&exe).output().unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    let line = ldd.lines().find(|l| l.contains(lib.soname)).unwrap_or_default().to_string();
    assert!(line.contains(&s.dir.display().to_string()), "loads the wrong lib{}: {line}", lib.name);

    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(s.dir.join("corosync.conf"), config(lib, port)).unwrap();
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
        .env(format!("{}_TEST_NO_DAEMON", lib.env_prefix), s.dir.join("nothing-here"))
        .env(format!("{}_TEST_DAEMON_PID", lib.env_prefix), pid.to_string())
        .env(format!("{}_TEST_CONFIG", lib.env_prefix), s.dir.join("corosync.conf"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(s.dir.join("log")).unwrap_or_default();
    assert!(out.status.success() && text.contains("0 failures"), "{text}\n--- daemon log ---\n{log}");
    assert!(text.lines().filter(|l| l.starts_with("ok: ")).count() > lib.min_ok, "{text}");
}
