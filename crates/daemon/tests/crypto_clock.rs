//! Real `quorumd` processes on loopback with crypto on, one of them under `faketime` (issue 11
//! item 7): "a node restarted with its clock an hour behind was refused by its peers and
//! formed singleton rings until restarted with a correct clock". Replay protection reads no
//! clock now, so such a node rejoins at once.
//!
//! Needs the `faketime` program (Debian package `faketime`); without it the test fails and
//! says so: it never passes without having run.
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

struct Cluster {
    dir: PathBuf,
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

impl Cluster {
    fn new(name: &str, size: u32) -> Cluster {
        let dir = std::env::temp_dir().join(format!("quorumd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let key = dir.join("authkey");
        std::fs::write(&key, (0..=255u8).rev().collect::<Vec<u8>>()).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        let nodes: String = (1..=size)
            .map(|n| {
                format!("  node {{\n    nodeid: {n}\n    ring0_addr: 127.0.0.{n}\n    name: n{n}\n  }}\n")
            })
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {name}\n  crypto_cipher: aes256\n  crypto_hash: sha256\n  keyfile: {}\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n",
            key.display()
        );
        std::fs::write(dir.join("corosync.conf"), conf).unwrap();
        Cluster { dir, procs: Vec::new() }
    }

    fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    /// Starts node `n`, under `faketime OFFSET` when given.
    fn start(&mut self, n: u32, faketime: Option<&str>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("n{n}.log")))
            .unwrap();
        let mut cmd = match faketime {
            Some(offset) => {
                let mut c = Command::new("faketime");
                // Only the wall clock steps back; the monotonic clock is not a wall clock.
                c.env("DONT_FAKE_MONOTONIC", "1").args(["-f", offset]).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let child = cmd
            .arg("--config")
            .arg(self.dir.join("corosync.conf"))
            .args(["--nodeid", &n.to_string(), "--socket"])
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .env("QUORUMD_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((n, child));
    }

    fn kill(&mut self, n: u32) {
        let pos = self.procs.iter().position(|(id, _)| *id == n).unwrap();
        let (_, mut child) = self.procs.remove(pos);
        let _ = child.kill();
        let _ = child.wait();
    }

    fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default()
    }

    fn members(&self, n: u32) -> Option<Vec<u64>> {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).ok()?;
        let status = c.status().ok()?;
        let list = status.split("\"members\":[").nth(1)?.split(']').next()?;
        Some(list.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect())
    }

    fn wait_members(&self, nodes: &[u32], want: &[u64], limit: Duration) -> Duration {
        let start = Instant::now();
        while start.elapsed() < limit {
            if nodes.iter().all(|n| self.members(*n).as_deref() == Some(want)) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let seen: Vec<_> = nodes.iter().map(|n| (n, self.members(*n))).collect();
        panic!(
            "nodes {nodes:?} never all reported {want:?} within {limit:?}: {seen:?}\nlog of node 3:\n{}",
            self.log(3)
        );
    }
}

/// The hour (0..24) of the last log line's timestamp (`YYYY-MM-DDTHH:MM:SS...`).
fn last_log_hour(log: &str) -> Option<u32> {
    let line = log.lines().rev().find(|l| l.len() > 19 && l.as_bytes()[10] == b'T')?;
    line.get(11..13)?.parse().ok()
}

fn faketime_available(path: &Path) -> bool {
    Command::new("faketime").args(["-f", "-1h", "true"]).current_dir(path).status().is_ok_and(|s| s.success())
}

#[test]
fn a_node_restarted_with_its_clock_an_hour_behind_rejoins_at_once() {
    let mut c = Cluster::new("clockback", 3);
    assert!(
        faketime_available(&c.dir),
        "cannot run: the `faketime` program is missing (apt-get install faketime); this test \
         needs it to step a daemon's clock back and does not pass without it"
    );
    for n in 1..=3 {
        c.start(n, None);
    }
    c.wait_members(&[1, 2, 3], &[1, 2, 3], Duration::from_secs(15));
    // A normal restart first, for comparison.
    c.kill(3);
    c.wait_members(&[1, 2], &[1, 2], Duration::from_secs(10));
    c.start(3, None);
    let normal = c.wait_members(&[1, 2, 3], &[1, 2, 3], Duration::from_secs(10));
    // Node 3 dies and comes back with its wall clock one hour behind.
    c.kill(3);
    c.wait_members(&[1, 2], &[1, 2], Duration::from_secs(10));
    c.start(3, Some("-1h"));
    let took = c.wait_members(&[1, 2, 3], &[1, 2, 3], Duration::from_secs(10));
    eprintln!(
        "node 3 rejoined {normal:?} after a normal restart, {took:?} after one with its clock 1 h behind"
    );
    assert!(took < Duration::from_secs(3), "rejoined only after {took:?} (a normal restart: {normal:?})");
    // The clock really was behind: node 3 logs an hour earlier than node 1.
    let (h1, h3) = (last_log_hour(&c.log(1)), last_log_hour(&c.log(3)));
    assert!(
        matches!((h1, h3), (Some(a), Some(b)) if (a + 24 - b) % 24 == 1),
        "node 3 ran with its clock an hour behind (log hours {h1:?} and {h3:?})"
    );
    // And it stays in: no singleton rings afterwards.
    std::thread::sleep(Duration::from_millis(1500));
    for n in 1..=3 {
        assert_eq!(c.members(n).as_deref(), Some(&[1, 2, 3][..]), "node {n}");
    }
}
