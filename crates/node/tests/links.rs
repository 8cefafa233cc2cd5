//! Links end to end on a tiny network of real `Node`s with up to two links, where single
//! directions of single links can be cut and nodes can stall: failover without a membership
//! change, the partial-connectivity rule (one view change, then a stable view) for a one-way
//! cut and a non-transitive partition on one link and on two, and a peer's stall shorter
//! than Totem's token changing nothing (docs/totem.md, "Links" and "Partial connectivity").
//! Every node is built from a corosync.conf by `NodeParams::from_config`, as the daemon does.

use std::collections::{BTreeMap, BTreeSet};

use quorumd_node::{AccessPolicy, ConfKind, Node, NodeEvent, NodeParams, TotemEvent};
use quorumd_proto::wire::{self, Message};
use quorumd_proto::{Duration, Instant, LinkId, MemberList, NodeId, RingId};

fn id(n: u32) -> NodeId {
    NodeId::new(n).unwrap()
}

/// A datagram on the wire: from, to, link, bytes.
type Datagram = (NodeId, NodeId, LinkId, Vec<u8>);

struct Net {
    now: Instant,
    nodes: BTreeMap<NodeId, Node>,
    nodelist: MemberList,
    links: u32,
    in_flight: BTreeMap<(Instant, u64), Datagram>,
    counter: u64,
    /// Cut directions: (from, to, link).
    cut: BTreeSet<(u32, u32, u32)>,
    /// Regular configurations installed, per node.
    views: BTreeMap<NodeId, Vec<(Instant, RingId, MemberList)>>,
    /// Ordered messages delivered, per node: (time, payload).
    delivered: BTreeMap<NodeId, Vec<Instant>>,
    /// Stalled nodes: they run no timer and read nothing; what arrives waits in their socket.
    paused: BTreeSet<NodeId>,
    /// Datagrams waiting in a stalled node's socket.
    socket: BTreeMap<NodeId, Vec<(LinkId, Vec<u8>)>>,
    /// Heartbeats (pings and pongs) sent, all nodes.
    heartbeats: u64,
}

impl Net {
    fn new(n: u32, links: u32) -> Net {
        Net {
            now: Instant::from_micros(1_000_000),
            nodes: BTreeMap::new(),
            nodelist: MemberList::from_ids((1..=n).map(id)).unwrap(),
            links,
            in_flight: BTreeMap::new(),
            counter: 0,
            cut: BTreeSet::new(),
            views: BTreeMap::new(),
            delivered: BTreeMap::new(),
            paused: BTreeSet::new(),
            socket: BTreeMap::new(),
            heartbeats: 0,
        }
    }

    /// The corosync.conf of this cluster: default timing, `links` links, votequorum.
    fn config(&self) -> String {
        let mut text = String::from("totem {\n version: 2\n cluster_name: links\n}\nnodelist {\n");
        for n in self.nodelist.iter() {
            text.push_str(&format!(" node {{\n  nodeid: {n}\n  name: n{n}\n"));
            for l in 0..self.links {
                text.push_str(&format!("  ring{l}_addr: 10.0.{l}.{n}\n"));
            }
            text.push_str(" }\n");
        }
        text.push_str("}\nquorum {\n provider: corosync_votequorum\n}\n");
        text
    }

    fn start(&mut self, n: u32) {
        let config = quorumd_config::parse_str(&self.config(), "corosync.conf").unwrap();
        let mut p = NodeParams::from_config(&config, id(n), AccessPolicy::default()).unwrap();
        assert_eq!(p.links.links.len(), self.links as usize);
        p.incarnation = 0x100 + u64::from(n);
        self.nodes.insert(id(n), Node::new(p, self.now));
        self.drain(id(n));
    }

    fn pause(&mut self, n: u32) {
        self.paused.insert(id(n));
    }

    /// The stalled node runs again: its late timers fire, then it reads its socket.
    fn resume(&mut self, n: u32) {
        self.paused.remove(&id(n));
        let node = self.nodes.get_mut(&id(n)).unwrap();
        if node.poll_timeout().is_some_and(|d| d <= self.now) {
            node.handle_timeout(self.now);
        }
        self.drain(id(n));
        for (l, bytes) in self.socket.remove(&id(n)).unwrap_or_default() {
            let _ = self.nodes.get_mut(&id(n)).unwrap().handle_link_datagram(self.now, l, &bytes);
            self.drain(id(n));
        }
    }

    fn drain(&mut self, n: NodeId) {
        let Some(node) = self.nodes.get_mut(&n) else { return };
        while let Some(e) = node.poll_event() {
            match e {
                NodeEvent::Totem(TotemEvent::ConfChange(c)) if c.kind == ConfKind::Regular => {
                    self.views.entry(n).or_default().push((self.now, c.ring_id, c.members));
                }
                NodeEvent::Totem(TotemEvent::Deliver(_)) => {
                    self.delivered.entry(n).or_default().push(self.now)
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit() {
            for to in t.to {
                out.push((to, t.link, t.bytes.clone()));
            }
        }
        for (to, l, bytes) in out {
            if matches!(wire::decode(&bytes).map(|p| p.message), Ok(Message::Ping(_) | Message::Pong(_))) {
                self.heartbeats += 1;
            }
            if self.cut.contains(&(n.get(), to.get(), u32::from(l.get()))) {
                continue;
            }
            self.counter += 1;
            self.in_flight.insert((self.now + Duration::from_micros(300), self.counter), (n, to, l, bytes));
        }
    }

    fn run_ms(&mut self, ms: u64) {
        let until = self.now + Duration::from_millis(ms);
        loop {
            let next_msg = self.in_flight.keys().next().map(|k| k.0);
            let next_timer = self
                .nodes
                .iter()
                .filter(|(n, _)| !self.paused.contains(*n))
                .filter_map(|(_, node)| node.poll_timeout())
                .min();
            let Some(next) = [next_msg, next_timer].into_iter().flatten().min().filter(|t| *t <= until)
            else {
                self.now = until;
                return;
            };
            self.now = self.now.max(next);
            if next_msg == Some(next) {
                let k = *self.in_flight.keys().next().unwrap();
                let (from, to, l, bytes) = self.in_flight.remove(&k).unwrap();
                // A cut made while the datagram was in flight loses it too.
                if self.cut.contains(&(from.get(), to.get(), u32::from(l.get()))) {
                    continue;
                }
                if self.paused.contains(&to) {
                    self.socket.entry(to).or_default().push((l, bytes));
                } else if let Some(node) = self.nodes.get_mut(&to) {
                    let _ = node.handle_link_datagram(self.now, l, &bytes);
                    self.drain(to);
                }
            } else {
                let ids: Vec<NodeId> =
                    self.nodes.keys().filter(|n| !self.paused.contains(*n)).copied().collect();
                for n in ids {
                    let node = self.nodes.get_mut(&n).unwrap();
                    if node.poll_timeout().is_some_and(|d| d <= self.now) {
                        node.handle_timeout(self.now);
                        self.drain(n);
                    }
                }
            }
        }
    }

    /// Submits one message per node every `every_ms` for `ms`.
    fn run_with_traffic(&mut self, ms: u64, every_ms: u64) {
        for i in 0..ms / every_ms {
            let ids: Vec<NodeId> = self.nodes.keys().filter(|n| !self.paused.contains(*n)).copied().collect();
            for n in ids {
                let _ = self.nodes.get_mut(&n).unwrap().submit(vec![0xAB, i as u8]);
                self.drain(n);
            }
            self.run_ms(every_ms);
        }
    }

    fn formed(&self) -> bool {
        let rings: Vec<RingId> = self.nodes.values().map(Node::ring_id).collect();
        self.nodes.values().all(|n| n.members() == &self.nodelist) && rings.windows(2).all(|w| w[0] == w[1])
    }

    fn view_changes(&self, n: u32, since: Instant) -> usize {
        self.views.get(&id(n)).map_or(0, |v| v.iter().filter(|(at, _, _)| *at >= since).count())
    }

    fn cut_link(&mut self, a: u32, b: u32, l: u32) {
        self.cut.insert((a, b, l));
        self.cut.insert((b, a, l));
    }

    /// The longest time without a delivery at node `n` from `since` (the fault) to now: from
    /// `since` to the first delivery, between two deliveries, and from the last one to now.
    fn longest_gap(&self, n: u32, since: Instant) -> Duration {
        let mut times = vec![since];
        if let Some(v) = self.delivered.get(&id(n)) {
            times.extend(v.iter().copied().filter(|t| *t >= since));
        }
        times.push(self.now);
        times.windows(2).map(|w| w[1].saturating_since(w[0])).max().unwrap_or(Duration::ZERO)
    }
}

fn formed_net(n: u32, links: u32) -> Net {
    let mut net = Net::new(n, links);
    for i in 1..=n {
        net.start(i);
    }
    net.run_ms(2_000);
    assert!(net.formed(), "not formed: {:?}", net.nodes.values().map(Node::ring_id).collect::<Vec<_>>());
    net
}

/// Link 0 cut between every pair of a two-link cluster: traffic moves to link 1 and nobody
/// sees a membership change; the delivery gap stays under half the token timeout.
#[test]
fn cutting_link_0_everywhere_changes_no_membership() {
    let mut net = formed_net(3, 2);
    net.run_with_traffic(500, 20);
    let t0 = net.now;
    for (a, b) in [(1, 2), (1, 3), (2, 3)] {
        net.cut_link(a, b, 0);
    }
    net.run_with_traffic(3_000, 20);
    for n in 1..=3 {
        assert_eq!(net.view_changes(n, t0), 0, "node {n} changed membership: {:?}", net.views[&id(n)]);
        let s = net.nodes[&id(n)].link_status();
        assert!(s.peers.iter().all(|p| !p.links[0].connected && p.links[1].connected), "{s:?}");
        let gap = net.longest_gap(n, t0);
        assert!(gap <= Duration::from_millis(500), "node {n}: delivery gap {gap} > token / 2");
    }
    // And back: link 0 heals, flaps, then one direction of it is cut on one node.
    net.cut.clear();
    net.run_with_traffic(1_000, 20);
    for _ in 0..5 {
        net.cut_link(1, 2, 0);
        net.run_with_traffic(300, 20);
        net.cut.clear();
        net.run_with_traffic(300, 20);
    }
    net.cut.insert((3, 1, 0));
    net.run_with_traffic(2_000, 20);
    for n in 1..=3 {
        assert_eq!(net.view_changes(n, t0), 0, "node {n} changed membership: {:?}", net.views[&id(n)]);
    }
}

/// A persistent one-way cut (node 3 cannot send to node 1, on every link) makes exactly one
/// view change at every node and then none: node 3 is failed once, by everybody, and stays
/// out; healed, it is admitted again after the hold.
fn one_way_cut(links: u32) {
    let mut net = formed_net(3, links);
    let t0 = net.now;
    for l in 0..links {
        net.cut.insert((3, 1, l));
    }
    net.run_with_traffic(3_000, 50);
    let settled = net.now;
    net.run_with_traffic(20_000, 50);
    for n in 1..=3 {
        assert_eq!(net.view_changes(n, t0), 1, "node {n}: {:?}", net.views.get(&id(n)));
        assert_eq!(net.view_changes(n, settled), 0, "node {n} kept re-forming: {:?}", net.views.get(&id(n)));
    }
    assert_eq!(net.nodes[&id(1)].members(), &MemberList::from_ids([id(1), id(2)]).unwrap());
    assert_eq!(net.nodes[&id(2)].members(), &MemberList::from_ids([id(1), id(2)]).unwrap());
    assert_eq!(net.nodes[&id(3)].members(), &MemberList::single(id(3)));
    // Healed: node 3 is admitted again after the hold, and the ring holds everyone.
    net.cut.clear();
    net.run_ms(5_000);
    assert!(net.formed(), "{:?}", net.nodes.values().map(Node::ring_id).collect::<Vec<_>>());
}

#[test]
fn a_one_way_cut_on_one_link_makes_one_view_change_then_a_stable_view() {
    one_way_cut(1);
}

#[test]
fn a_one_way_cut_on_two_links_makes_one_view_change_then_a_stable_view() {
    one_way_cut(2);
}

/// A non-transitive partition: 1–2 cut (every link, both ways) while both still see 3. One
/// clique wins ({1,3}, the lowest ids on a tie); node 2 stays alone, every node changes view
/// exactly once, and nobody re-forms after that.
fn non_transitive(links: u32) {
    let mut net = formed_net(3, links);
    let t0 = net.now;
    for l in 0..links {
        net.cut_link(1, 2, l);
    }
    net.run_with_traffic(3_000, 50);
    let settled = net.now;
    net.run_with_traffic(20_000, 50);
    for n in 1..=3 {
        assert_eq!(net.view_changes(n, settled), 0, "node {n} kept re-forming: {:?}", net.views.get(&id(n)));
        assert_eq!(net.view_changes(n, t0), 1, "node {n}: {:?}", net.views.get(&id(n)));
    }
    assert_eq!(net.nodes[&id(1)].members(), &MemberList::from_ids([id(1), id(3)]).unwrap());
    assert_eq!(net.nodes[&id(3)].members(), &MemberList::from_ids([id(1), id(3)]).unwrap());
    assert_eq!(net.nodes[&id(2)].members(), &MemberList::single(id(2)));
    net.cut.clear();
    net.run_ms(5_000);
    assert!(net.formed(), "{:?}", net.nodes.values().map(Node::ring_id).collect::<Vec<_>>());
}

#[test]
fn a_non_transitive_partition_on_one_link_settles_on_the_lowest_clique() {
    non_transitive(1);
}

#[test]
fn a_non_transitive_partition_on_two_links_settles_on_the_lowest_clique() {
    non_transitive(2);
}

/// A peer that stalls for 800 ms (an `fsync` of its ring seq, a SIGSTOP), shorter than the
/// token (1000 ms) but longer than `ping_timeout` (500 ms), changes no membership: its links
/// are not judged down while it is silent everywhere and Totem has not failed it.
fn peer_stall(links: u32) {
    let mut net = formed_net(3, links);
    net.run_with_traffic(500, 20);
    let t0 = net.now;
    for _ in 0..3 {
        net.pause(3);
        net.run_with_traffic(800, 20);
        net.resume(3);
        net.run_with_traffic(2_000, 20);
    }
    for n in 1..=3 {
        assert_eq!(net.view_changes(n, t0), 0, "node {n} changed membership: {:?}", net.views[&id(n)]);
    }
    // A stall longer than Totem tolerates is a failure, as without links: node 3 is failed
    // once, and taken back as soon as it runs again.
    net.pause(3);
    net.run_ms(2_500);
    assert_eq!(net.nodes[&id(1)].members(), &MemberList::from_ids([id(1), id(2)]).unwrap());
    net.resume(3);
    net.run_ms(1_500);
    assert!(net.formed(), "{:?}", net.nodes.values().map(Node::ring_id).collect::<Vec<_>>());
}

#[test]
fn a_peer_stall_shorter_than_the_token_keeps_one_link_up() {
    peer_stall(1);
}

#[test]
fn a_peer_stall_shorter_than_the_token_keeps_two_links_up() {
    peer_stall(2);
}

/// With one link and nothing failing, no heartbeat is sent once the ring is formed: the ring
/// carries exactly the datagrams it carried before links existed.
#[test]
fn one_link_sends_no_heartbeat_while_the_ring_runs() {
    let mut net = formed_net(3, 1);
    net.run_ms(1_000);
    let before = net.heartbeats;
    net.run_ms(5_000);
    net.run_with_traffic(5_000, 20);
    assert_eq!(net.heartbeats, before, "heartbeats sent while the ring ran ({before} at formation)");
    for n in 1..=3 {
        let s = net.nodes[&id(n)].link_status();
        assert!(s.peers.iter().all(|p| p.links[0].connected), "{s:?}");
    }
}

/// With one link, a crash is noticed as Totem notices it: the survivors install their ring
/// within token + consensus (plus the commit's round trips).
#[test]
fn a_crash_on_one_link_is_noticed_within_token_plus_consensus() {
    let mut net = formed_net(3, 1);
    net.run_with_traffic(500, 20);
    let t0 = net.now;
    net.nodes.remove(&id(3));
    net.run_with_traffic(3_000, 20);
    let want = MemberList::from_ids([id(1), id(2)]).unwrap();
    for n in 1..=2 {
        let views = &net.views[&id(n)];
        let at = views.iter().find(|(at, _, m)| *at >= t0 && *m == want).map(|v| v.0);
        let took = at.map(|at| at.saturating_since(t0));
        assert!(took.is_some_and(|d| d <= Duration::from_millis(1_000 + 200 + 50)), "node {n}: {took:?}");
        assert_eq!(net.view_changes(n, t0), 1, "node {n}: {views:?}");
    }
}
