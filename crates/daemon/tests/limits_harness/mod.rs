//! Real `quorumd` processes on loopback for `page.rs` and `limits.rs` (127.0.0.1–N, one UDP
//! port, one temp dir per node). Every process and file is removed when a test ends, also
//! when it fails.
#![allow(dead_code, clippy::disallowed_methods)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};

pub const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    pub procs: Vec<(u32, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = Command::new("kill").args(["-CONT", &c.id().to_string()]).status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    /// `size` nodes, crypto off, votequorum, `extra` appended to the config.
    pub fn new(name: &str, size: u32, extra: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("quorumd-limits-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let nodes: String = (1..=size)
            .map(|n| {
                format!("  node {{\n    nodeid: {n}\n    ring0_addr: 127.0.0.{n}\n    name: n{n}\n  }}\n")
            })
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {name}\n  crypto_cipher: none\n  crypto_hash: none\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n{extra}"
        );
        std::fs::write(dir.join("corosync.conf"), conf).unwrap();
        Cluster { dir, port, procs: Vec::new() }
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.join("corosync.conf")
    }

    pub fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    pub fn state_dir(&self, n: u32) -> PathBuf {
        self.dir.join(format!("state{n}"))
    }

    pub fn start_with(&mut self, n: u32, config: &Path) {
        let log = std::fs::File::create(self.dir.join(format!("n{n}.log"))).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(["--nodeid", &n.to_string(), "--socket"])
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.state_dir(n))
            .env("QUORUMD_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((n, child));
    }

    pub fn start(&mut self, n: u32) {
        let conf = self.conf();
        self.start_with(n, &conf);
    }

    pub fn pid(&self, n: u32) -> u32 {
        self.procs.iter().find(|(id, _)| *id == n).unwrap().1.id()
    }

    /// Sends `sig` (e.g. "-STOP") to node `n` and leaves it in the list.
    pub fn kill(&self, n: u32, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.pid(n).to_string()]).status().unwrap();
        assert!(ok.success());
    }

    /// Kills node `n` with `sig` and waits for it.
    pub fn signal(&mut self, n: u32, sig: &str) {
        let pos = self.procs.iter().position(|(id, _)| *id == n).unwrap();
        let (_, mut child) = self.procs.remove(pos);
        let _ = Command::new("kill").args([sig, &child.id().to_string()]).status();
        let _ = child.wait();
    }

    /// Whether node `n`'s process is still running.
    pub fn running(&mut self, n: u32) -> bool {
        let pos = self.procs.iter().position(|(id, _)| *id == n).unwrap();
        matches!(self.procs[pos].1.try_wait(), Ok(None))
    }

    pub fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default()
    }

    pub fn status(&self, n: u32) -> Option<String> {
        QuorumClient::connect_with(self.socket(n), Model::V1).ok()?.status().ok()
    }

    /// The members node `n` reports, once it accepts clients.
    pub fn members(&self, n: u32) -> Option<Vec<u64>> {
        let status = self.status(n)?;
        let list = status.split("\"members\":[").nth(1)?.split(']').next()?;
        Some(list.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect())
    }

    /// Waits until node `n` reports exactly `want`; returns how long it took.
    pub fn wait_members(&self, n: u32, want: &[u64], limit: Duration) -> Duration {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.members(n).as_deref() == Some(want) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "node {n} never reported members {want:?} (last: {:?})\nlog:\n{}",
            self.members(n),
            self.log(n)
        );
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The resident set size of `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}
