//! Two links between real `quorumd` processes in network namespaces (root only, as CI is): the
//! topology of bench/cluster with `--links 2`. One namespace per node with two veths, `vN` on
//! the bridge `br0` (link 0, 10.213.0.N) and `wN` on the bridge `lk0` (link 1, 10.214.0.N);
//! the bridges live in a namespace of their own and the addresses exist only inside these
//! namespaces. A link is cut by taking the node's port on that bridge down (nothing passes
//! either way); one direction is cut with nftables inside the node's namespace.
//!
//! Every node has a client tracking membership changes (V1 nodelist callbacks) for the whole
//! test, and getquorate is asked all along:
//! - link 0 cut on one node, then on every node, then flapping: no membership change and
//!   quorate throughout; the callbacks still flow (a clean stop at the end is reported);
//! - what node 3 receives cut on both links (a one-way cut): one view change on every node,
//!   then none for 60 s (the 5-minute form is bench/links);
//! - the same one-way cut on a cluster of ONE link (one bridge, `ring0_addr` only).
//!
//! Namespaces, nftables tables (they die with the namespace) and processes are removed when
//! the test ends, pass or fail.
#![allow(clippy::disallowed_methods)] // a test harness: processes, files, clocks, threads

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient, QuorumEvent, TrackFlags};

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/netns.rs"]
mod netns;

use netns::NetCluster;

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");
const NODES: u32 = 3;

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

struct LinkCluster {
    net: NetCluster,
    changes: Arc<Mutex<Vec<Change>>>,
}

impl std::ops::Deref for LinkCluster {
    type Target = NetCluster;
    fn deref(&self) -> &NetCluster {
        &self.net
    }
}

impl std::ops::DerefMut for LinkCluster {
    fn deref_mut(&mut self) -> &mut NetCluster {
        &mut self.net
    }
}

impl LinkCluster {
    /// Creates the namespaces, the bridges (one per link), the veth pairs and the
    /// configuration: two links (passive, link 0 preferred) or one, the default shape.
    fn new(name: &str, links: u32) -> LinkCluster {
        let mut net = NetCluster::new(BIN, &format!("ql{name}"), NODES, links);
        net.log_level = Some("info");
        let totem = if links == 2 {
            "  token: 1000\n  link_mode: passive\n  interface {\n    linknumber: 0\n    knet_link_priority: 2\n  }\n  \
             interface {\n    linknumber: 1\n    knet_link_priority: 1\n  }\n"
        } else {
            "  token: 1000\n"
        };
        net.write_config("links", totem);
        LinkCluster { net, changes: Arc::default() }
    }

    /// The ring node `n` is in (`rep`, `seq`), from its status.
    fn ring(&self, n: u32) -> (u32, u64) {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).expect("client");
        let s = quorumd_proto::status::Status::from_json(&c.status().expect("status")).expect("status JSON");
        (s.ring_rep, s.ring_seq)
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

    /// Asks every node getquorate every 50 ms for `how_long`; every answer must be quorate.
    fn quorate_throughout(&self, how_long: Duration, what: &str) {
        let clients: Vec<QuorumClient> = (1..=NODES)
            .map(|n| QuorumClient::connect_with(self.socket(n), Model::V1).expect("client"))
            .collect();
        let start = Instant::now();
        while start.elapsed() < how_long {
            for (i, c) in clients.iter().enumerate() {
                let q = c.getquorate();
                assert_eq!(q, Ok(true), "{what}: node {} answered {q:?}\n{}", i + 1, self.log(i as u32 + 1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_no_change(&self, what: &str) {
        let changes = self.changes();
        let logs: String = (1..=NODES).map(|n| format!("--- node {n}\n{}", self.log(n))).collect();
        assert!(changes.is_empty(), "{what}: membership changed: {changes:?}\n{logs}");
    }
}

fn main() {
    prereq::run(vec![
        prereq::needs(
            "link_0_cut_on_one_node_then_every_node_then_flapping_changes_no_membership",
            netns::can_run,
            link_0_cut_on_one_node_then_every_node_then_flapping_changes_no_membership,
        ),
        prereq::needs(
            "a_one_way_cut_changes_the_view_once_then_holds_for_a_minute",
            netns::can_run_nft,
            a_one_way_cut_changes_the_view_once_then_holds_for_a_minute,
        ),
        prereq::needs(
            "a_one_way_cut_on_one_link_changes_the_view_once_then_holds_for_a_minute",
            netns::can_run_nft,
            a_one_way_cut_on_one_link_changes_the_view_once_then_holds_for_a_minute,
        ),
    ]);
}

fn link_0_cut_on_one_node_then_every_node_then_flapping_changes_no_membership() {
    let mut c = LinkCluster::new("a", 2);
    c.up();
    // Link 0 (the preferred one) cut on node 3: longer than the link's ping timeout plus the
    // token, so Totem would have re-formed had it been on link 0 alone.
    c.link(3, 0, false);
    c.quorate_throughout(Duration::from_secs(4), "link 0 of node 3 cut");
    c.link(3, 0, true);
    c.quorate_throughout(Duration::from_secs(2), "link 0 of node 3 back");
    c.assert_no_change("link 0 cut on node 3");
    for n in 1..=NODES {
        c.link(n, 0, false);
    }
    c.quorate_throughout(Duration::from_secs(4), "link 0 cut on every node");
    for n in 1..=NODES {
        c.link(n, 0, true);
    }
    c.quorate_throughout(Duration::from_secs(2), "link 0 back on every node");
    c.assert_no_change("link 0 cut on every node");
    // Flapping: down and up faster than a link is declared up again, then slower.
    for (down_ms, up_ms) in [(300, 300), (300, 300), (1200, 1500), (1200, 1500)] {
        c.link(2, 0, false);
        c.quorate_throughout(Duration::from_millis(down_ms), "link 0 of node 2 flapping (down)");
        c.link(2, 0, true);
        c.quorate_throughout(Duration::from_millis(up_ms), "link 0 of node 2 flapping (up)");
    }
    c.quorate_throughout(Duration::from_secs(2), "after flapping");
    c.assert_no_change("link 0 of node 2 flapping");
    // The callbacks still flow: a clean stop of node 3 is reported to nodes 1 and 2.
    c.stop(3, "TERM");
    c.wait(1, &[1, 2], true);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let seen: Vec<u32> = c.changes().iter().filter(|ch| ch.members == [1, 2]).map(|ch| ch.node).collect();
        if seen.contains(&1) && seen.contains(&2) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the stop of node 3 was not reported to both tracking clients: {:?}", c.changes());
}

fn a_one_way_cut_changes_the_view_once_then_holds_for_a_minute() {
    one_way_cut_changes_the_view_once_then_holds(LinkCluster::new("b", 2));
}

/// The default corosync.conf shape, one `ringN_addr` per node: the single-link partial
/// connectivity rule (docs/totem.md, "Quiet mode: one link"). Without it the cut-off node
/// re-forms every ~2 s.
fn a_one_way_cut_on_one_link_changes_the_view_once_then_holds_for_a_minute() {
    one_way_cut_changes_the_view_once_then_holds(LinkCluster::new("c", 1));
}

/// Everything node 3 receives dropped (nftables): one view change on every node ({1,2} and
/// {3}), then none for 60 s.
fn one_way_cut_changes_the_view_once_then_holds(mut c: LinkCluster) {
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
