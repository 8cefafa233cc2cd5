//! Real `quorumd` processes in network namespaces (root only, as CI is): one namespace per
//! node, each with a veth into a bridge that lives in a namespace of its own, and addresses
//! that exist only inside those namespaces. A partition is made by taking a node's veth down
//! on the bridge side; the majority must stay quorate, the minority must not, and a heal must
//! merge them again. Namespaces and processes are removed when the test ends, pass or fail.
#![allow(clippy::disallowed_methods)] // a test harness: processes, files, clocks

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn must(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("run command");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

struct NetCluster {
    tag: String,
    dir: PathBuf,
    nodes: u32,
    procs: Vec<(u32, Child)>,
}

impl Drop for NetCluster {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in 1..=self.nodes {
            sh(&["ip", "netns", "del", &self.ns(n)]);
        }
        sh(&["ip", "netns", "del", &self.ns(0)]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl NetCluster {
    fn ns(&self, n: u32) -> String {
        if n == 0 {
            format!("{}-br", self.tag)
        } else {
            format!("{}-n{n}", self.tag)
        }
    }

    fn addr(n: u32) -> String {
        // Exists only inside the namespaces this test creates.
        format!("10.213.0.{n}")
    }

    /// Creates the namespaces, the bridge and one veth pair per node.
    fn new(nodes: u32) -> NetCluster {
        let tag = format!("qd{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("quorumd-netns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = NetCluster { tag, dir, nodes, procs: Vec::new() };
        let br = c.ns(0);
        must(&["ip", "netns", "add", &br]);
        must(&["ip", "-n", &br, "link", "add", "br0", "type", "bridge"]);
        must(&["ip", "-n", &br, "link", "set", "br0", "up"]);
        for n in 1..=nodes {
            let ns = c.ns(n);
            must(&["ip", "netns", "add", &ns]);
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            let (a, b) = (format!("v{n}"), format!("p{n}"));
            must(&["ip", "-n", &br, "link", "add", &b, "type", "veth", "peer", "name", &a, "netns", &ns]);
            must(&["ip", "-n", &br, "link", "set", &b, "master", "br0", "up"]);
            must(&["ip", "-n", &ns, "addr", "add", &format!("{}/24", Self::addr(n)), "dev", &a]);
            must(&["ip", "-n", &ns, "link", "set", &a, "up"]);
        }
        let nodes_conf: String = (1..=nodes)
            .map(|n| format!("  node {{\n    nodeid: {n}\n    ring0_addr: {}\n  }}\n", Self::addr(n)))
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: netns\n  crypto_cipher: none\n  crypto_hash: none\n}}\nnodelist {{\n{nodes_conf}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
        );
        std::fs::write(c.dir.join("corosync.conf"), conf).unwrap();
        c
    }

    fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    fn start(&mut self, n: u32) {
        let log = std::fs::File::create(self.dir.join(format!("n{n}.log"))).unwrap();
        // No --nodeid: the daemon finds itself by the one nodelist address it can bind.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(n), BIN, "--config"])
            .arg(self.dir.join("corosync.conf"))
            .arg("--socket")
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((n, child));
    }

    fn link(&self, n: u32, up: bool) {
        must(&["ip", "-n", &self.ns(0), "link", "set", &format!("p{n}"), if up { "up" } else { "down" }]);
    }

    fn view(&self, n: u32) -> Option<(Vec<u64>, bool)> {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).ok()?;
        let status = c.status().ok()?;
        let list = status.split("\"members\":[").nth(1)?.split(']').next()?;
        let members = list.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
        Some((members, c.getquorate().ok()?))
    }

    fn wait(&self, n: u32, members: &[u64], quorate: bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if self.view(n).is_some_and(|(m, q)| m == members && q == quorate) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default();
        panic!("node {n}: want {members:?} quorate={quorate}, have {:?}\n{log}", self.view(n));
    }
}

fn main() {
    prereq::run(vec![prereq::needs(
        "a_partition_leaves_the_majority_quorate_and_the_minority_not_then_heals",
        can_run,
        a_partition_leaves_the_majority_quorate_and_the_minority_not_then_heals,
    )]);
}

fn can_run() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root"),
        (sh(&["ip", "netns", "list"]), "iproute2 with network namespaces (ip netns)"),
    ])
}

fn a_partition_leaves_the_majority_quorate_and_the_minority_not_then_heals() {
    let mut c = NetCluster::new(3);
    for n in 1..=3 {
        c.start(n);
    }
    for n in 1..=3 {
        c.wait(n, &[1, 2, 3], true);
    }
    c.link(3, false);
    c.wait(1, &[1, 2], true);
    c.wait(2, &[1, 2], true);
    c.wait(3, &[3], false);
    c.link(3, true);
    for n in 1..=3 {
        c.wait(n, &[1, 2, 3], true);
    }
}
