//! Test harness: real `quorumd` daemons on 127.0.0.1–N (one temp dir, one UDP port, one socket
//! and state dir per node), killed in `Drop` even when a test fails, and the `quorumtool`
//! binary run against them.
#![allow(clippy::disallowed_methods, dead_code)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The target profile dir (`…/debug`), from this test's own path (`…/debug/deps/live-…`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().and_then(Path::parent).expect("profile dir").to_path_buf()
}

/// `quorumd`: `$QUORUMD_BIN`, else next to this profile's outputs, built once if missing
/// (`cargo test -p quorumtool` does not build other packages' binaries).
pub fn daemon_binary() -> PathBuf {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if let Some(p) = std::env::var_os("QUORUMD_BIN") {
        return PathBuf::from(p);
    }
    let path = profile_dir().join("quorumd");
    ONCE.call_once(|| {
        if path.exists() {
            return;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "quorumd"]).current_dir(root);
        if profile_dir().ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().expect("run cargo build").success(), "cargo build -p quorumd failed");
    });
    path
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("quorumtool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A corosync.conf for nodes 1..=n on 127.0.0.x named `n1`…, with extra `quorum { }` lines.
pub fn config(n: u32, port: u16, quorum_extra: &[&str]) -> String {
    let nodes: String = (1..=n)
        .map(|i| format!("    node {{\n        nodeid: {i}\n        ring0_addr: 127.0.0.{i}\n        name: n{i}\n    }}\n"))
        .collect();
    let extra: String = quorum_extra.iter().map(|l| format!("    {l}\n")).collect();
    format!(
        "totem {{\n    version: 2\n    cluster_name: tool\n    crypto_cipher: none\n    crypto_hash: none\n    \
         token: 500\n    interface {{\n        linknumber: 0\n        mcastport: {port}\n    }}\n}}\n\
         nodelist {{\n{nodes}}}\nquorum {{\n    provider: corosync_votequorum\n{extra}}}\n"
    )
}

/// A loopback cluster of real daemons.
pub struct Cluster {
    pub dir: Scratch,
    children: Vec<(u32, Child)>,
}

impl Cluster {
    /// Writes the config of an `n`-node cluster; starts nothing.
    pub fn new(name: &str, n: u32, quorum_extra: &[&str]) -> Cluster {
        let dir = Scratch::new(name);
        let port = UdpSocket::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        std::fs::write(dir.0.join("corosync.conf"), config(n, port, quorum_extra)).expect("write config");
        Cluster { dir, children: Vec::new() }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.0.join("corosync.conf")
    }

    pub fn socket(&self, id: u32) -> PathBuf {
        self.dir.0.join(format!("n{id}.sock"))
    }

    pub fn start(&mut self, id: u32) {
        let state = self.dir.0.join(format!("state{id}"));
        std::fs::create_dir_all(&state).expect("state dir");
        let log = std::fs::File::create(self.dir.0.join(format!("n{id}.log"))).expect("log file");
        let child = Command::new(daemon_binary())
            .arg("--config")
            .arg(self.config_path())
            .args(["--nodeid", &id.to_string(), "--socket"])
            .arg(self.socket(id))
            .arg("--state-dir")
            .arg(state)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn quorumd");
        self.children.push((id, child));
    }

    /// kill -9.
    pub fn kill(&mut self, id: u32) {
        if let Some(pos) = self.children.iter().position(|(n, _)| *n == id) {
            let (_, mut child) = self.children.remove(pos);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `quorumtool --socket <node id's socket> ARGS…`.
    pub fn tool(&self, id: u32, args: &[&str]) -> Output {
        let sock = self.socket(id);
        let mut all = vec!["--socket", sock.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        tool(&all)
    }

    /// Waits until node `id` reports exactly `members` with `quorate`, via `status --json`.
    pub fn wait_for(&self, id: u32, members: &[u32], quorate: bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        while Instant::now() < deadline {
            let out = self.tool(id, &["status", "--json"]);
            last = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&stdout(&out)) {
                if v["members"] == serde_json::json!(members) && v["quorate"] == serde_json::json!(quorate) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("node {id} did not reach members {members:?} quorate {quorate}; last:\n{last}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `quorumtool ARGS…`.
pub fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quorumtool")).args(args).output().expect("run quorumtool")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `since` of every `nodelist` entry of a `--json` document, masked (it is wall-clock time).
pub fn mask_since(v: &mut serde_json::Value) {
    if let Some(list) = v.get_mut("nodelist").and_then(serde_json::Value::as_array_mut) {
        for n in list {
            if n["since"].is_string() {
                n["since"] = "<time>".into();
            }
            if n.get("since_unix_ms").is_some_and(serde_json::Value::is_u64) {
                n["since_unix_ms"] = "<ms>".into();
            }
        }
    }
}

/// Replaces the volatile parts of tool output: ring ids and timestamps.
pub fn mask(text: &str) -> String {
    text.lines()
        .map(|l| {
            let words: Vec<String> = l
                .split(' ')
                .map(|word| {
                    // Trailing punctuation stays: "<time>;", "<time>.".
                    let w = word.trim_end_matches([';', ',', '.', ')']);
                    let tail = &word[w.len()..];
                    let ring = w.split_once('.').is_some_and(|(a, b)| {
                        !a.is_empty()
                            && !b.is_empty()
                            && (a.chars().chain(b.chars())).all(|c| c.is_ascii_hexdigit())
                    });
                    let stamp = w.len() == 24 && w.ends_with('Z') && w.contains('T');
                    if stamp {
                        format!("<time>{tail}")
                    } else if ring {
                        format!("<ring>{tail}")
                    } else {
                        word.to_string()
                    }
                })
                .collect();
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
