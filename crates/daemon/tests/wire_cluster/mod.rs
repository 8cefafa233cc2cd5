//! Three or more real `quorumd` processes on loopback (127.0.0.1–N, one UDP port, one temp
//! dir per node), crypto off, for the state-loss and hostile-wire tests. Every process and
//! file is removed when the cluster is dropped, also when a test fails.
//!
//! `QUORUMD_TEST_BIN` runs the tests against another build of the daemon (e.g. the one before
//! a fix, to see a test fail).
#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files, env

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};
use quorumd_proto::wire::{self, Header, Message, Packet};
use quorumd_proto::{NodeId, RingId};

pub fn bin() -> String {
    std::env::var("QUORUMD_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_quorumd").to_string())
}

pub struct Cluster {
    pub name: String,
    pub dir: PathBuf,
    pub port: u16,
    procs: Vec<(u32, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
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
    /// A cluster of `size` nodes with crypto off and votequorum, none started.
    pub fn new(name: &str, size: u32) -> Cluster {
        let dir = std::env::temp_dir().join(format!("quorumd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let nodes: String = (1..=size)
            .map(|n| {
                format!("  node {{\n    nodeid: {n}\n    ring0_addr: 127.0.0.{n}\n    name: n{n}\n  }}\n")
            })
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {name}\n  crypto_cipher: none\n  crypto_hash: none\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
        );
        std::fs::write(dir.join("corosync.conf"), conf).unwrap();
        Cluster { name: name.to_string(), dir, port, procs: Vec::new() }
    }

    pub fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    pub fn state_dir(&self, n: u32) -> PathBuf {
        self.dir.join(format!("state{n}"))
    }

    pub fn start(&mut self, n: u32) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("n{n}.log")))
            .unwrap();
        let child = Command::new(bin())
            .arg("--config")
            .arg(self.dir.join("corosync.conf"))
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

    /// Sends `sig` to node `n` and waits for it to exit.
    pub fn signal(&mut self, n: u32, sig: &str) {
        let pos = self.procs.iter().position(|(id, _)| *id == n).unwrap();
        let (_, mut child) = self.procs.remove(pos);
        let _ = Command::new("kill").args([sig, &child.id().to_string()]).status();
        let _ = child.wait();
    }

    pub fn pid(&self, n: u32) -> u32 {
        self.procs.iter().find(|(id, _)| *id == n).map(|(_, c)| c.id()).unwrap()
    }

    /// Resident memory of node `n`, KiB (`VmRSS` in /proc/PID/status).
    pub fn rss_kib(&self, n: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid(n))).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default()
    }

    /// The ring seq node `n` stored last (the daemon stores a little ahead of the seqs it uses).
    pub fn stored_ring_seq(&self, n: u32) -> u64 {
        let bytes = std::fs::read(self.state_dir(n).join(format!("ringid_{n}"))).unwrap();
        u64::from_ne_bytes(bytes.try_into().unwrap())
    }

    /// Node `n`'s current ring, as its status reports it (`ring_rep`, `ring_seq`).
    pub fn ring(&self, n: u32) -> RingId {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).unwrap();
        let status = c.status().unwrap();
        let num = |key: &str| -> u64 {
            let rest = status.split(&format!("\"{key}\":")).nth(1).unwrap();
            rest.split(|ch: char| !ch.is_ascii_digit()).next().unwrap().parse().unwrap()
        };
        RingId { rep: num("ring_rep") as u32, seq: num("ring_seq") }
    }

    /// The members node `n` reports, once it accepts clients.
    pub fn members(&self, n: u32) -> Option<Vec<u64>> {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).ok()?;
        let status = c.status().ok()?;
        let list = status.split("\"members\":[").nth(1)?.split(']').next()?;
        Some(list.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect())
    }

    /// Waits until every node of `nodes` reports exactly `want`, all within `limit` of now;
    /// returns how long it took, or panics with the logs.
    pub fn wait_all(&self, nodes: &[u32], want: &[u64], limit: Duration) -> Duration {
        let start = Instant::now();
        'nodes: for &n in nodes {
            while start.elapsed() < limit {
                if self.members(n).as_deref() == Some(want) {
                    continue 'nodes;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!(
                "node {n} did not report members {want:?} within {limit:?} (last: {:?})\nlog:\n{}",
                self.members(n),
                tail(&self.log(n), 60)
            );
        }
        start.elapsed()
    }

    /// Sends one datagram built from `message` as node `from` (from its nodelist address, so
    /// that it passes the daemon's source check) to node `to`, with the ring id `ring`.
    pub fn forge(&self, from: u32, to: u32, ring: RingId, message: Message) {
        let s = UdpSocket::bind(format!("127.0.0.{from}:0")).unwrap();
        self.forge_on(&s, from, to, ring, message);
    }

    pub fn forge_on(&self, s: &UdpSocket, from: u32, to: u32, ring: RingId, message: Message) {
        let header = Header {
            cluster_id: quorumd_config::cluster_id_of(&self.name),
            sender: NodeId::new(from).unwrap(),
            ring_id: ring,
        };
        let bytes = wire::encode(&Packet { header, message });
        s.send_to(&bytes, (format!("127.0.0.{to}").as_str(), self.port)).unwrap();
    }
}

pub fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}
