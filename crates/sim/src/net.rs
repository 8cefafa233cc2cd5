//! The simulated network: which datagrams arrive, how often and when.
//!
//! Responsibility: decide, for one datagram from `from` to `to`, the list of arrival delays
//! (empty: lost; two entries: duplicated). Delay is `latency + uniform(0..=jitter)` per copy,
//! so jitter reorders datagrams. Connectivity is a partition (groups; a node in no group is
//! alone) combined with a set of cut one-directional links.
//!
//! Invariants: every decision draws from the caller's [`Rng`] in a fixed order, so the same
//! seed gives the same network; a node always reaches itself; cutting a link never affects the
//! reverse direction unless asked to.

use std::collections::{BTreeMap, BTreeSet};

use quorumd_proto::{Duration, NodeId};

use crate::rng::Rng;

/// Per-run network parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct NetParams {
    /// Probability that one datagram copy is lost.
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub dup: f64,
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Largest extra random delay (uniform), which reorders datagrams.
    pub jitter: Duration,
}

impl Default for NetParams {
    /// A quiet LAN: 200 µs latency, up to 100 µs jitter, no loss, no duplication.
    fn default() -> Self {
        NetParams {
            loss: 0.0,
            dup: 0.0,
            latency: Duration::from_micros(200),
            jitter: Duration::from_micros(100),
        }
    }
}

/// Connectivity and delivery decisions.
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// The parameters in force.
    pub params: NetParams,
    /// Partition: node → group index. `None`: no partition, everyone reaches everyone.
    groups: Option<BTreeMap<NodeId, usize>>,
    /// Cut directions `(from, to)`.
    down: BTreeSet<(NodeId, NodeId)>,
    /// Faults of single links (redundant-link worlds), on top of the above.
    pub links: crate::links::LinkFaults,
}

impl Network {
    /// A fully connected network with these parameters.
    pub fn new(params: NetParams) -> Network {
        Network { params, groups: None, down: BTreeSet::new(), links: Default::default() }
    }

    /// Partitions the network into `groups`; nodes in no group are alone. Replaces any earlier
    /// partition; cut links stay cut.
    pub fn split(&mut self, groups: &[Vec<NodeId>]) {
        let mut map = BTreeMap::new();
        for (i, group) in groups.iter().enumerate() {
            for id in group {
                map.insert(*id, i);
            }
        }
        self.groups = Some(map);
    }

    /// Removes the partition and restores every cut link (and every single-link fault).
    pub fn heal(&mut self) {
        self.groups = None;
        self.down.clear();
        self.links.clear();
    }

    /// Cuts (`up == false`) or restores the direction `from → to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, up: bool) {
        if up {
            self.down.remove(&(from, to));
        } else {
            self.down.insert((from, to));
        }
    }

    /// Whether a datagram from `from` can reach `to` at all.
    pub fn connected(&self, from: NodeId, to: NodeId) -> bool {
        if from == to {
            return true;
        }
        if self.down.contains(&(from, to)) {
            return false;
        }
        match &self.groups {
            None => true,
            Some(map) => matches!((map.get(&from), map.get(&to)), (Some(a), Some(b)) if a == b),
        }
    }

    /// Whether the network is fully connected (no partition, no cut link).
    pub fn is_whole(&self) -> bool {
        self.groups.is_none() && self.down.is_empty() && self.links.is_empty()
    }

    /// Whether the network is whole at node level (no partition, no cut direction); single
    /// links may still be cut or flapping.
    pub fn nodes_whole(&self) -> bool {
        self.groups.is_none() && self.down.is_empty()
    }

    /// The cut directions, sorted.
    pub fn cut_links(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.down.iter().copied()
    }

    /// [`Network::route`] for a datagram sent on `link` at `now`: lost when that link is cut in
    /// this direction or in the down phase of a flap. With no link fault it draws exactly as
    /// `route` does (a single-link world replays its seeds).
    pub fn route_link(
        &self,
        rng: &mut Rng,
        now: quorumd_proto::Instant,
        from: NodeId,
        to: NodeId,
        link: quorumd_proto::LinkId,
    ) -> Vec<Duration> {
        if !self.links.passes(now, from, to, link) {
            return Vec::new();
        }
        self.route(rng, from, to)
    }

    /// The arrival delays of one datagram: empty when it is lost or cannot pass, one entry
    /// normally, two when duplicated. Draws: duplication, then per copy loss and jitter.
    pub fn route(&self, rng: &mut Rng, from: NodeId, to: NodeId) -> Vec<Duration> {
        if !self.connected(from, to) {
            return Vec::new();
        }
        let copies = if rng.chance(self.params.dup) { 2 } else { 1 };
        let mut delays = Vec::with_capacity(copies);
        for _ in 0..copies {
            let lost = rng.chance(self.params.loss);
            let jitter = rng.below(self.params.jitter.as_micros() + 1);
            if !lost {
                delays.push(self.params.latency + Duration::from_micros(jitter));
            }
        }
        delays
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    #[test]
    fn split_groups_talk_inside_only_and_unlisted_nodes_are_alone() {
        let mut net = Network::default();
        net.split(&[vec![n(1), n(2)], vec![n(3), n(4), n(5)]]);
        assert!(net.connected(n(1), n(2)));
        assert!(net.connected(n(3), n(5)));
        assert!(!net.connected(n(2), n(3)));
        assert!(!net.connected(n(6), n(1)));
        assert!(!net.connected(n(1), n(6)));
        assert!(net.connected(n(6), n(6)));
        net.heal();
        assert!(net.connected(n(2), n(3)) && net.is_whole());
    }

    #[test]
    fn one_way_cut_keeps_the_other_direction() {
        let mut net = Network::default();
        net.set_link(n(1), n(2), false);
        assert!(!net.connected(n(1), n(2)));
        assert!(net.connected(n(2), n(1)));
        assert_eq!(net.cut_links().collect::<Vec<_>>(), vec![(n(1), n(2))]);
        net.set_link(n(1), n(2), true);
        assert!(net.connected(n(1), n(2)) && net.is_whole());
    }

    #[test]
    fn delays_are_latency_plus_bounded_jitter() {
        let params = NetParams {
            loss: 0.0,
            dup: 0.0,
            latency: Duration::from_micros(500),
            jitter: Duration::from_micros(1000),
        };
        let net = Network::new(params);
        let mut rng = Rng::new(5);
        let mut distinct = BTreeSet::new();
        for _ in 0..500 {
            let d = net.route(&mut rng, n(1), n(2));
            assert_eq!(d.len(), 1);
            assert!((500..=1500).contains(&d[0].as_micros()));
            distinct.insert(d[0]);
        }
        assert!(distinct.len() > 100, "jitter must vary the delay (and so reorder)");
    }

    #[test]
    fn loss_and_duplication_follow_their_probabilities() {
        let net = Network::new(NetParams { loss: 0.3, dup: 0.2, ..NetParams::default() });
        let mut rng = Rng::new(11);
        let (mut lost, mut dup) = (0, 0);
        for _ in 0..10_000 {
            match net.route(&mut rng, n(1), n(2)).len() {
                0 => lost += 1,
                2 => dup += 1,
                _ => {}
            }
        }
        // P(0 copies) = 0.8·0.3 + 0.2·0.09 = 0.258; P(2 copies) = 0.2·0.49 = 0.098.
        assert!((2_300..2_900).contains(&lost), "{lost}");
        assert!((800..1_200).contains(&dup), "{dup}");
        let all_lost = Network::new(NetParams { loss: 1.0, ..NetParams::default() });
        assert!(all_lost.route(&mut rng, n(1), n(2)).is_empty());
    }

    #[test]
    fn same_seed_same_routing() {
        let net = Network::new(NetParams { loss: 0.1, dup: 0.1, ..NetParams::default() });
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..200).map(|_| net.route(&mut rng, n(1), n(2))).collect::<Vec<_>>()
        };
        assert_eq!(run(8), run(8));
        assert_ne!(run(8), run(9));
    }
}
