//! Partial connectivity on a cluster of ONE link between real `quorumd` processes in network
//! namespaces (root and nftables only, as CI has): the default corosync.conf shape, one
//! `ringN_addr` per node. One namespace per node with one veth `vN` on the bridge `br0`
//! (10.215.0.N); the bridge lives in a namespace of its own and the addresses exist only inside
//! these namespaces. What node 3 receives is dropped with nftables inside its namespace (a
//! one-way cut: node 3 still sends).
//!
//! Every node has a client tracking membership changes (V1 nodelist callbacks) from the
//! moment the cluster is formed. The cut must give exactly one view change on every node
//! ({1,2} and {3}), then none for 60 s: the single-link partial-connectivity rule
//! (docs/totem.md, "Quiet mode: one link"). Without it the cut-off node re-forms every ~2 s.
//!
//! Namespaces, the nftables table (it dies with the namespace) and processes are removed when
//! the test ends, pass or fail.
#![allow(clippy::disallowed_methods)] // a test harness: processes, files, clocks, threads

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient, QuorumEvent, TrackFlags};

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");
const NODES: u32 = 3;

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

/// A nodelist callback of one node's tracking client for a ring other than the one it was in
/// when tracking started: a membership change. (A callback repeating the current ring, as
/// the quorum service may send when votequorum's state settles, is no change.)
#[derive(Clone, Debug)]
struct Change {
    node: u32,
    at: Instant,
    ring: (u32, u64),
    members: Vec<u32>,
}

struct OneLinkCluster {
    tag: String,
    dir: PathBuf,
    procs: Vec<(u32, Child)>,
    changes: Arc<Mutex<Vec<Change>>>,
}

impl Drop for OneLinkCluster {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in 0..=NODES {
            sh(&["ip", "netns", "del", &self.ns(n)]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl OneLinkCluster {
    fn ns(&self, n: u32) -> String {
        if n == 0 {
            format!("{}-br", self.tag)
        } else {
            format!("{}-n{n}", self.tag)
        }
    }

    /// The address of node `n`; exists only inside this test's namespaces.
    fn addr(n: u32) -> String {
        format!("10.215.0.{n}")
    }

    /// Creates the namespaces, the bridge, one veth pair per node and the configuration.
    fn new(name: &str) -> OneLinkCluster {
        let tag = format!("q1{}{name}", std::process::id() % 10_000);
        let dir = std::env::temp_dir().join(format!("quorumd-onelink-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = OneLinkCluster { tag, dir, procs: Vec::new(), changes: Arc::default() };
        let br = c.ns(0);
        must(&["ip", "netns", "add", &br]);
        must(&["ip", "-n", &br, "link", "add", "br0", "type", "bridge"]);
        must(&["ip", "-n", &br, "link", "set", "br0", "up"]);
        for n in 1..=NODES {
            let ns = c.ns(n);
            must(&["ip", "netns", "add", &ns]);
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            let (a, b) = (format!("v{n}"), format!("p{n}"));
            must(&["ip", "-n", &br, "link", "add", &b, "type", "veth", "peer", "name", &a, "netns", &ns]);
            must(&["ip", "-n", &br, "link", "set", &b, "master", "br0", "up"]);
            let addr = format!("{}/24", Self::addr(n));
            must(&["ip", "-n", &ns, "addr", "add", &addr, "dev", &a]);
            must(&["ip", "-n", &ns, "link", "set", &a, "up"]);
        }
        let nodes_conf: String = (1..=NODES)
            .map(|n| {
                format!(
                    "  node {{\n    nodeid: {n}\n    name: n{n}\n    ring0_addr: {}\n  }}\n",
                    Self::addr(n)
                )
            })
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: onelink\n  token: 1000\n  crypto_cipher: none\n  \
             crypto_hash: none\n}}\nnodelist {{\n{nodes_conf}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
        );
        std::fs::write(c.dir.join("corosync.conf"), conf).unwrap();
        c
    }

    fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default()
    }

    fn start(&mut self, n: u32) {
        let log = std::fs::File::create(self.dir.join(format!("n{n}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(n), BIN, "--config"])
            .arg(self.dir.join("corosync.conf"))
            .arg("--socket")
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .env("QUORUMD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((n, child));
    }

    /// Drops everything node `n` receives (nftables in its namespace).
    fn cut_incoming(&self, n: u32) {
        let rules = format!(
            "table inet onelink_test {{\n chain c {{\n  type filter hook input priority 0; policy accept;\n  \
             iifname \"v{n}\" drop\n }}\n}}\n"
        );
        let path = self.dir.join("oneway.nft");
        std::fs::write(&path, rules).unwrap();
        must(&["ip", "netns", "exec", &self.ns(n), "nft", "-f", path.to_str().unwrap()]);
    }

    /// The ring node `n` is in (`rep`, `seq`), from its status.
    fn ring(&self, n: u32) -> (u32, u64) {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).expect("client");
        let s = quorumd_proto::status::Status::from_json(&c.status().expect("status")).expect("status JSON");
        (s.ring_rep, s.ring_seq)
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
        while start.elapsed() < Duration::from_secs(20) {
            if self.view(n).is_some_and(|(m, q)| m == members && q == quorate) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("node {n}: want {members:?} quorate={quorate}, have {:?}\n{}", self.view(n), self.log(n));
    }

    /// Starts every node, waits for the full quorate view, then attaches one tracking client
    /// per node that records every membership change from then on.
    fn up(&mut self) {
        for n in 1..=NODES {
            self.start(n);
        }
        let all: Vec<u64> = (1..=u64::from(NODES)).collect();
        for n in 1..=NODES {
            self.wait(n, &all, true);
        }
        for n in 1..=NODES {
            let (socket, changes, start_ring) = (self.socket(n), Arc::clone(&self.changes), self.ring(n));
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let client = QuorumClient::connect_with(socket, Model::V1).expect("tracking client");
                client.track(TrackFlags::CHANGES).expect("trackstart");
                let _ = ready_tx.send(());
                // Ends when the daemon goes away (the test is over).
                while let Ok(event) = client.next_event() {
                    if let QuorumEvent::Nodelist { members, ring_id, .. } = event {
                        let ring = (ring_id.nodeid, ring_id.seq);
                        if ring != start_ring {
                            changes.lock().unwrap().push(Change {
                                node: n,
                                at: Instant::now(),
                                ring,
                                members,
                            });
                        }
                    }
                }
            });
            ready_rx.recv_timeout(Duration::from_secs(5)).expect("the tracking client started");
        }
    }

    fn changes(&self) -> Vec<Change> {
        self.changes.lock().unwrap().clone()
    }
}

fn main() {
    prereq::run(vec![prereq::needs(
        "a_one_way_cut_on_one_link_changes_the_view_once_then_holds_for_a_minute",
        can_run_nft,
        a_one_way_cut_on_one_link_changes_the_view_once_then_holds_for_a_minute,
    )]);
}

fn can_run_nft() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root"),
        (sh(&["ip", "netns", "list"]), "iproute2 with network namespaces (ip netns)"),
        (prereq::has_command("nft"), "nftables (nft)"),
    ])
}

fn a_one_way_cut_on_one_link_changes_the_view_once_then_holds_for_a_minute() {
    let mut c = OneLinkCluster::new("a");
    c.up();
    let cut = Instant::now();
    c.cut_incoming(3);
    // One view change: 1 and 2 go on without 3, 3 alone.
    c.wait(1, &[1, 2], true);
    c.wait(2, &[1, 2], true);
    c.wait(3, &[3], false);
    let settled = Instant::now();
    std::thread::sleep(Duration::from_secs(60));
    let changes = c.changes();
    let logs: String = (1..=NODES).map(|n| format!("--- node {n}\n{}", c.log(n))).collect();
    for n in 1..=NODES {
        let mut mine: Vec<&Change> = changes.iter().filter(|ch| ch.node == n).collect();
        // A ring is one view change however many callbacks repeat it.
        mine.dedup_by_key(|ch| ch.ring);
        assert_eq!(
            mine.len(),
            1,
            "node {n}: one view change after the cut, then none for 60 s; saw {} ({:?}, cut at +0, \
             settled at +{:?})\n{logs}",
            mine.len(),
            mine.iter().map(|ch| (ch.at - cut, &ch.members)).collect::<Vec<_>>(),
            settled - cut
        );
    }
}
