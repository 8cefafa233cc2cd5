//! Links end to end on a tiny network of real `Node`s with up to two links, where single
//! directions of single links can be cut: failover without a membership change, and the
//! partial-connectivity rule (one view change, then a stable view) for a one-way cut and a
//! non-transitive partition (docs/totem.md, "Links" and "Partial connectivity").

use std::collections::{BTreeMap, BTreeSet};

use quorumd_node::{ConfKind, LinkKeys, LinkMode, Node, NodeEvent, NodeParams, TotemEvent};
use quorumd_proto::{Duration, Instant, LinkId, MemberList, NodeId, RingId};
use quorumd_totem::{LinksConfig, TotemKeys};

fn id(n: u32) -> NodeId {
    NodeId::new(n).unwrap()
}

fn link(n: u32) -> LinkId {
    LinkId::new(n).unwrap()
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
        }
    }

    fn start(&mut self, n: u32) {
        let totem = TotemKeys::default().derive(3).unwrap();
        let mut p = NodeParams::new(id(n), self.nodelist.clone(), totem.clone());
        p.cluster_id = 5;
        p.incarnation = 0x100 + u64::from(n);
        p.clique_rule = true;
        let keys: Vec<LinkKeys> = (0..self.links).map(|l| LinkKeys::new(link(l))).collect();
        p.links = LinksConfig::derive(LinkMode::Passive, &keys, totem.token).unwrap();
        self.nodes.insert(id(n), Node::new(p, self.now));
        self.drain(id(n));
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
            let next_timer = self.nodes.values().filter_map(Node::poll_timeout).min();
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
                if let Some(node) = self.nodes.get_mut(&to) {
                    let _ = node.handle_link_datagram(self.now, l, &bytes);
                    self.drain(to);
                }
            } else {
                let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
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
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
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

/// A persistent one-way cut (node 3 cannot send to node 1, on the only link) makes one view
/// change and then none: node 3 is failed once, by everybody, and stays out.
#[test]
fn a_one_way_cut_makes_one_view_change_then_a_stable_view() {
    let mut net = formed_net(3, 1);
    let t0 = net.now;
    net.cut.insert((3, 1, 0));
    net.run_with_traffic(3_000, 50);
    let settled = net.now;
    net.run_with_traffic(20_000, 50);
    for n in 1..=3 {
        assert!(net.view_changes(n, t0) <= 2, "node {n}: {:?}", net.views.get(&id(n)));
        assert_eq!(net.view_changes(n, settled), 0, "node {n} kept re-forming: {:?}", net.views.get(&id(n)));
    }
    assert_eq!(net.nodes[&id(1)].members(), &MemberList::from_ids([id(1), id(2)]).unwrap());
    assert_eq!(net.nodes[&id(2)].members(), &MemberList::from_ids([id(1), id(2)]).unwrap());
    // Healed: node 3 is admitted again after the hold, and the ring holds everyone.
    net.cut.clear();
    net.run_ms(5_000);
    assert!(net.formed(), "{:?}", net.nodes.values().map(Node::ring_id).collect::<Vec<_>>());
}

/// A non-transitive partition: 1–2 cut while both still see 3. One clique wins ({1,3}, the
/// lowest ids on a tie); node 2 stays alone, and nobody re-forms after the change.
#[test]
fn a_non_transitive_partition_settles_on_the_lowest_clique() {
    let mut net = formed_net(3, 1);
    let t0 = net.now;
    net.cut_link(1, 2, 0);
    net.run_with_traffic(3_000, 50);
    let settled = net.now;
    net.run_with_traffic(20_000, 50);
    for n in 1..=3 {
        assert_eq!(net.view_changes(n, settled), 0, "node {n} kept re-forming: {:?}", net.views.get(&id(n)));
        assert!(net.view_changes(n, t0) <= 2, "node {n}: {:?}", net.views.get(&id(n)));
    }
    assert_eq!(net.nodes[&id(1)].members(), &MemberList::from_ids([id(1), id(3)]).unwrap());
    assert_eq!(net.nodes[&id(3)].members(), &MemberList::from_ids([id(1), id(3)]).unwrap());
    assert_eq!(net.nodes[&id(2)].members(), &MemberList::single(id(2)));
}
