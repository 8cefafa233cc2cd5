//! Real `quorumd` processes in network namespaces, for the tests that need a network between
//! them (root only; see `prereq.rs` for how such a test reports itself when it cannot run).
//!
//! The topology is bench/cluster's: a namespace `TAG-br` holding the bridges, one namespace
//! `TAG-nN` per node with a veth per link whose peer is a port of that link's bridge, and
//! addresses that exist only inside these namespaces:
//!
//! | link | node side | bridge port | bridge | address |
//! |---|---|---|---|---|
//! | 0 | `vN` | `pN` | `br0` | 10.213.0.N/24 |
//! | 1 | `wN` | `qN` | `lk0` | 10.214.0.N/24 |
//!
//! A link of one node is cut by taking its bridge port down (nothing passes either way; the
//! node's own interface keeps its address, so the daemon's socket stays bound); one direction
//! is cut with nftables inside the node's namespace.
//!
//! Every namespace shares the kernel's one neighbour (ARP) table, whose size is set for a
//! single host (`gc_thresh3`, 1024 by default, counts the entries of every namespace): N
//! nodes resolving each other need N × (N − 1) entries per link, 4,032 for 64 nodes, and past
//! the limit the kernel refuses new entries and drops the datagrams waiting for them. From
//! [`STATIC_NEIGHBOURS_FROM`] nodes on, every node therefore gets fixed MAC addresses and
//! permanent neighbour entries for its peers, which the kernel does not count against that
//! limit: no host-wide setting is changed. (A real cluster of 64 hosts has 63 entries per
//! host and needs nothing.)
//!
//! Dropping a [`NetCluster`] kills its daemons and removes its namespaces and directory, pass
//! or fail.
#![allow(clippy::disallowed_methods, clippy::disallowed_types, dead_code)] // a test harness

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};

/// From this many nodes on, neighbours are permanent entries (see the module's documentation).
pub const STATIC_NEIGHBOURS_FROM: u32 = 16;

/// Runs a command quietly; whether it succeeded.
pub fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command; panics with its stderr when it fails.
pub fn must(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("run command");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `ip [-n NS] -batch -` with `lines` as its input; panics when it fails.
fn ip_batch(ns: Option<&str>, lines: &str) {
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    let mut child = cmd
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ip -batch");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(lines.as_bytes()).expect("write to ip -batch");
    }
    let out = child.wait_with_output().expect("ip -batch");
    assert!(out.status.success(), "ip -n {ns:?} -batch: {}", String::from_utf8_lossy(&out.stderr));
}

/// The prerequisites of every namespace test: root and `ip netns`.
pub fn can_run() -> Option<String> {
    crate::prereq::missing(&[
        (crate::prereq::is_root(), "root"),
        (sh(&["ip", "netns", "list"]), "iproute2 with network namespaces (ip netns)"),
    ])
}

/// [`can_run`] and nftables (for one-way cuts).
pub fn can_run_nft() -> Option<String> {
    crate::prereq::missing(&[
        (crate::prereq::is_root(), "root"),
        (sh(&["ip", "netns", "list"]), "iproute2 with network namespaces (ip netns)"),
        (crate::prereq::has_command("nft"), "nftables (nft)"),
    ])
}

/// A cluster of `nodes` daemons, each in its namespace, on `links` networks (1 or 2).
pub struct NetCluster {
    tag: String,
    dir: PathBuf,
    bin: PathBuf,
    nodes: u32,
    links: u32,
    procs: BTreeMap<u32, Child>,
    /// How long [`NetCluster::wait`] waits for a view.
    pub wait_timeout: Duration,
    /// `QUORUMD_LOG` for the daemons (unset: the daemon's default).
    pub log_level: Option<&'static str>,
}

impl Drop for NetCluster {
    fn drop(&mut self) {
        for c in self.procs.values_mut() {
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
    /// Creates the namespaces, the bridges and the veths. `name` tells this cluster's
    /// namespaces and directory apart from those of other tests (of this process or another).
    pub fn new(bin: &str, name: &str, nodes: u32, links: u32) -> NetCluster {
        assert!((1..=2).contains(&links) && (1..=250).contains(&nodes));
        let pid = std::process::id();
        let tag = format!("{name}{}", pid % 100_000);
        let dir = std::env::temp_dir().join(format!("quorumd-{name}-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = NetCluster {
            tag,
            dir,
            bin: PathBuf::from(bin),
            nodes,
            links,
            procs: BTreeMap::new(),
            wait_timeout: Duration::from_secs(20),
            log_level: None,
        };
        let br = c.ns(0);
        must(&["ip", "netns", "add", &br]);
        let bridges = &["br0", "lk0"][..links as usize];
        let mut batch = String::new();
        for b in bridges {
            batch += &format!("link add {b} type bridge\nlink set {b} up\n");
        }
        ip_batch(Some(&br), &batch);
        let fixed_macs = nodes >= STATIC_NEIGHBOURS_FROM;
        for n in 1..=nodes {
            let ns = c.ns(n);
            must(&["ip", "netns", "add", &ns]);
            let mut bridge_side = String::new();
            let mut node_side = String::from("link set lo up\n");
            for link in 0..links {
                let (dev, port) = (Self::dev(n, link), Self::port(n, link));
                bridge_side += &format!("link add {port} type veth peer name {dev} netns {ns}\n");
                bridge_side += &format!("link set {port} master {} up\n", bridges[link as usize]);
                if fixed_macs {
                    node_side += &format!("link set {dev} address {}\n", Self::mac(n, link));
                }
                node_side += &format!("addr add {}/24 dev {dev}\nlink set {dev} up\n", Self::addr(n, link));
            }
            ip_batch(Some(&br), &bridge_side);
            if fixed_macs {
                for link in 0..links {
                    for m in (1..=nodes).filter(|m| *m != n) {
                        node_side += &format!(
                            "neigh replace {} lladdr {} dev {} nud permanent\n",
                            Self::addr(m, link),
                            Self::mac(m, link),
                            Self::dev(n, link)
                        );
                    }
                }
            }
            ip_batch(Some(&ns), &node_side);
        }
        c
    }

    /// The namespace of node `n` (0: the bridges').
    pub fn ns(&self, n: u32) -> String {
        if n == 0 {
            format!("{}-br", self.tag)
        } else {
            format!("{}-n{n}", self.tag)
        }
    }

    /// The address of node `n` on link `link`; exists only inside these namespaces.
    pub fn addr(n: u32, link: u32) -> String {
        format!("10.{}.0.{n}", 213 + link)
    }

    fn mac(n: u32, link: u32) -> String {
        format!("02:71:64:00:{link:02x}:{n:02x}")
    }

    /// Node `n`'s interface on link `link`.
    pub fn dev(n: u32, link: u32) -> String {
        format!("{}{n}", if link == 0 { "v" } else { "w" })
    }

    /// Node `n`'s port on link `link`'s bridge.
    pub fn port(n: u32, link: u32) -> String {
        format!("{}{n}", if link == 0 { "p" } else { "q" })
    }

    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the configuration every node reads: a totem section with `totem` (lines of
    /// `key: value`, indented) added, one nodelist entry per node (with `ring1_addr` on two
    /// links), votequorum.
    pub fn write_config(&self, cluster_name: &str, totem: &str) {
        let nodes: String = (1..=self.nodes)
            .map(|n| {
                let ring1 = if self.links == 2 {
                    format!("    ring1_addr: {}\n", Self::addr(n, 1))
                } else {
                    String::new()
                };
                format!(
                    "  node {{\n    nodeid: {n}\n    name: n{n}\n    ring0_addr: {}\n{ring1}  }}\n",
                    Self::addr(n, 0)
                )
            })
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {cluster_name}\n  crypto_cipher: none\n  crypto_hash: none\n\
             {totem}}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
        );
        std::fs::write(self.dir.join("corosync.conf"), conf).unwrap();
    }

    pub fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    /// Node `n`'s log (every life of it).
    pub fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default()
    }

    /// The last `lines` lines of every node's log.
    pub fn logs_tail(&self, lines: usize) -> String {
        (1..=self.nodes)
            .map(|n| {
                let t = self.log(n);
                let tail: Vec<&str> = t.lines().rev().take(lines).collect();
                format!("--- node {n} ---\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect()
    }

    /// Starts node `n`'s daemon (its log is appended to).
    pub fn start(&mut self, n: u32) {
        let log =
            OpenOptions::new().create(true).append(true).open(self.dir.join(format!("n{n}.log"))).unwrap();
        let mut cmd = Command::new("ip");
        // No --nodeid: the daemon finds itself by the one nodelist address it can bind.
        cmd.args(["netns", "exec", &self.ns(n)])
            .arg(&self.bin)
            .arg("--config")
            .arg(self.dir.join("corosync.conf"))
            .arg("--socket")
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(level) = self.log_level {
            cmd.env("QUORUMD_LOG", level);
        }
        let child = cmd.spawn().unwrap();
        if let Some(mut old) = self.procs.insert(n, child) {
            let _ = old.kill();
            let _ = old.wait();
        }
    }

    /// The pid of node `n`'s daemon (`ip netns exec` execs it), if it runs.
    pub fn pid(&self, n: u32) -> Option<u32> {
        self.procs.get(&n).map(Child::id)
    }

    /// Sends `signal` (e.g. "TERM") to node `n`'s daemon and waits for it to end.
    pub fn stop(&mut self, n: u32, signal: &str) {
        if let Some(mut c) = self.procs.remove(&n) {
            sh(&["kill", &format!("-{signal}"), &c.id().to_string()]);
            let _ = c.wait();
        }
    }

    /// Kills node `n`'s daemon (SIGKILL) and waits for it.
    pub fn kill(&mut self, n: u32) {
        self.stop(n, "KILL");
    }

    /// Takes node `n`'s port on link `link`'s bridge down (`up: false`) or up.
    pub fn link(&self, n: u32, link: u32, up: bool) {
        must(&["ip", "-n", &self.ns(0), "link", "set", &Self::port(n, link), if up { "up" } else { "down" }]);
    }

    /// Drops everything node `n` receives, on every link (nftables in its namespace).
    pub fn cut_incoming(&self, n: u32) {
        let drops: String =
            (0..self.links).map(|l| format!("  iifname \"{}\" drop\n", Self::dev(n, l))).collect();
        let rules = format!(
            "table inet netns_test {{\n chain c {{\n  type filter hook input priority 0; policy accept;\n{drops} }}\n}}\n"
        );
        let path = self.dir.join(format!("oneway-{n}.nft"));
        std::fs::write(&path, rules).unwrap();
        must(&["ip", "netns", "exec", &self.ns(n), "nft", "-f", path.to_str().unwrap()]);
    }

    /// Node `n`'s members (from its status) and its getquorate answer.
    pub fn view(&self, n: u32) -> Option<(Vec<u64>, bool)> {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).ok()?;
        let status = c.status().ok()?;
        let list = status.split("\"members\":[").nth(1)?.split(']').next()?;
        let members = list.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
        Some((members, c.getquorate().ok()?))
    }

    /// Waits (up to [`NetCluster::wait_timeout`]) until node `n` has exactly `members` and
    /// answers `quorate`; panics with its log otherwise.
    pub fn wait(&self, n: u32, members: &[u64], quorate: bool) {
        if let Err(e) = self.wait_for(n, members, quorate, self.wait_timeout) {
            panic!("{e}\n{}", self.log(n));
        }
    }

    /// As [`NetCluster::wait`], returning the time it took, or what node `n` had instead.
    pub fn wait_for(
        &self,
        n: u32,
        members: &[u64],
        quorate: bool,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.view(n).is_some_and(|(m, q)| m == members && q == quorate) {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("node {n}: want {members:?} quorate={quorate}, have {:?}", self.view(n)))
    }
}
