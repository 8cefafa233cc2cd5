//! Redundant links in the simulated network: one path per link between two nodes, and the
//! faults of single links (docs/simulator.md, "Redundant links").
//!
//! Responsibility: on top of the node-level network of [`crate::net`] (partitions and cut
//! directions, which hold for every link), say whether a datagram sent on link `l` from `a` to
//! `b` at `now` passes: a link can be cut in one direction or both, and flap (down for `down`,
//! up for `up`, again and again, both directions). Also the link environment the link checkers
//! judge by ([`LinkEnv`]): which pairs of running nodes have a steady working link.
//!
//! Invariants: the faults are plain sets and maps (no randomness here: a flap is a fixed
//! schedule from its start, so a seed replays); with no fault, [`LinkFaults::passes`] is true
//! and the network draws exactly as in a single-link world.

use std::collections::{BTreeMap, BTreeSet};

use quorumd_proto::{Duration, Instant, LinkId, NodeId};

/// A link between two nodes that goes down for `down`, then up for `up`, from `since` on,
/// in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flap {
    /// Start of the first down phase.
    pub since: Instant,
    /// Length of each down phase.
    pub down: Duration,
    /// Length of each up phase.
    pub up: Duration,
}

impl Flap {
    /// Whether the flapping link passes at `now` (before `since` it is up).
    pub fn up_at(&self, now: Instant) -> bool {
        if now < self.since {
            return true;
        }
        let period = self.down.as_micros() + self.up.as_micros();
        if period == 0 {
            return true;
        }
        now.saturating_since(self.since).as_micros() % period >= self.down.as_micros()
    }
}

/// Faults of single links.
#[derive(Clone, Debug, Default)]
pub struct LinkFaults {
    /// Cut directions `(from, to, link)`.
    cut: BTreeSet<(NodeId, NodeId, LinkId)>,
    /// Flapping links, by `(lower id, higher id, link)`.
    flaps: BTreeMap<(NodeId, NodeId, LinkId), Flap>,
}

fn pair(a: NodeId, b: NodeId, link: LinkId) -> (NodeId, NodeId, LinkId) {
    (a.min(b), a.max(b), link)
}

impl LinkFaults {
    /// Cuts (`up == false`) or restores the direction `from → to` of `link`.
    pub fn set(&mut self, from: NodeId, to: NodeId, link: LinkId, up: bool) {
        if up {
            self.cut.remove(&(from, to, link));
        } else {
            self.cut.insert((from, to, link));
        }
    }

    /// Makes `link` between `a` and `b` flap (`Some`) or stop flapping (`None`).
    pub fn set_flap(&mut self, a: NodeId, b: NodeId, link: LinkId, flap: Option<Flap>) {
        match flap {
            Some(f) => {
                self.flaps.insert(pair(a, b, link), f);
            }
            None => {
                self.flaps.remove(&pair(a, b, link));
            }
        }
    }

    /// Restores every link.
    pub fn clear(&mut self) {
        self.cut.clear();
        self.flaps.clear();
    }

    /// Whether no link is cut or flapping.
    pub fn is_empty(&self) -> bool {
        self.cut.is_empty() && self.flaps.is_empty()
    }

    /// The cut directions, sorted.
    pub fn cut(&self) -> impl Iterator<Item = (NodeId, NodeId, LinkId)> + '_ {
        self.cut.iter().copied()
    }

    /// The flapping links, sorted.
    pub fn flaps(&self) -> impl Iterator<Item = ((NodeId, NodeId, LinkId), Flap)> + '_ {
        self.flaps.iter().map(|(k, f)| (*k, *f))
    }

    /// Whether `from → to` on `link` is neither cut nor flapping (steady, as far as the link
    /// faults go).
    pub fn steady(&self, from: NodeId, to: NodeId, link: LinkId) -> bool {
        !self.cut.contains(&(from, to, link)) && !self.flaps.contains_key(&pair(from, to, link))
    }

    /// Whether `from → to` on `link` is cut (for good, not flapping).
    pub fn is_cut(&self, from: NodeId, to: NodeId, link: LinkId) -> bool {
        self.cut.contains(&(from, to, link))
    }

    /// Whether a datagram sent on `link` from `from` to `to` at `now` passes the link faults.
    pub fn passes(&self, now: Instant, from: NodeId, to: NodeId, link: LinkId) -> bool {
        if self.is_empty() {
            return true;
        }
        if self.cut.contains(&(from, to, link)) {
            return false;
        }
        self.flaps.get(&pair(from, to, link)).is_none_or(|f| f.up_at(now))
    }
}

/// The link timing every node of a world derives from its token (knet's defaults as corosync
/// sets them): `(ping_interval, ping_timeout)`.
pub fn ping_timing(token: Duration) -> (Duration, Duration) {
    let c = quorumd_totem::LinksConfig::single(token);
    let us = token.as_micros();
    c.links.first().map_or((Duration::from_micros(us / 4), Duration::from_micros(us / 2)), |l| {
        (l.ping_interval, l.ping_timeout)
    })
}

/// The link environment the link checkers judge by, computed by the world each time the
/// network, a node's status or anything else outside the protocol changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkEnv {
    /// Something other than a network change happened (a node started, crashed, stopped,
    /// paused or resumed, or an adversary's burst): what follows is not the links' doing.
    pub disturbed: bool,
    /// The running nodes.
    pub running: Vec<NodeId>,
    /// Some node is paused.
    pub paused: bool,
    /// The network loses or duplicates nothing (loss 0).
    pub lossless: bool,
    /// From when on every pair of running nodes has had a steady working link: one that has
    /// passed both ways, neither cut nor flapping, for the grace [`LinkWatch::grace`], and the
    /// last disturbance is [`LinkWatch::quiet`] old. `None`: some pair has no such link now.
    pub connected_from: Option<Instant>,
    /// From when on every link between every pair of running nodes has passed steadily both
    /// ways (the grace and the quiet after a disturbance included). `None`: some link is cut
    /// or flapping now.
    pub whole_from: Option<Instant>,
    /// Some pair of running nodes has no working link at all now (cut or flapping in some
    /// direction on every link, or apart at node level): partial connectivity or a partition.
    pub partial: bool,
    /// The pairs without a working link make a plain split: the running nodes fall into
    /// groups whose pairs all have a working link, and every direction of every link between
    /// two groups is cut (at node level or on that link; none passes one way, none flaps).
    /// Totem alone handles it (each side fails the other at consensus) and may first form a
    /// sub-ring of a side and then merge it; the partial-connectivity rule promises nothing
    /// there.
    pub split: bool,
}

impl LinkEnv {
    /// Whether the link-failover promise applies at `now`: no pause, no loss, and a steady
    /// working link between every pair of running nodes.
    pub fn protected_at(&self, now: Instant) -> bool {
        !self.paused && self.lossless && self.connected_from.is_some_and(|t| t <= now)
    }
}

/// Follows, per direction of every link, since when it has passed steadily, to build
/// [`LinkEnv`]s.
#[derive(Clone, Debug, Default)]
pub struct LinkWatch {
    /// Links per node.
    pub links: u32,
    /// How long a direction must have passed steadily before it counts as working: one ping
    /// interval (the first ping after it was restored) plus one ping timeout (the pongs that
    /// bring the link up, with room for jitter).
    pub grace: Duration,
    /// How long after a disturbance (a node started, crashed, stopped, paused or resumed, an
    /// adversary's burst) the environment stays unprotected: one token timeout, for what it
    /// set off to finish.
    pub quiet: Duration,
    last_disturbed: Option<Instant>,
    since: BTreeMap<(NodeId, NodeId, LinkId), Instant>,
    /// Something outside the network happened since the last environment.
    pub disturbed: bool,
    /// The world changed since the last environment.
    pub dirty: bool,
}

impl LinkWatch {
    /// A watch over `links` links with the timing of `token`.
    pub fn new(links: u32, token: Duration) -> LinkWatch {
        let (interval, timeout) = ping_timing(token);
        LinkWatch { links, grace: interval + timeout, quiet: token, ..LinkWatch::default() }
    }

    /// The environment at `now`: `net` is the network, `running` the running nodes, `paused`
    /// whether some node is paused. Updates the steadiness of every direction.
    pub fn env(
        &mut self,
        now: Instant,
        net: &crate::net::Network,
        running: &[NodeId],
        paused: bool,
    ) -> LinkEnv {
        let links: Vec<LinkId> = (0..self.links).filter_map(|l| LinkId::new(l).ok()).collect();
        let mut connected_from = Some(Instant::ZERO);
        let mut whole_from = Some(Instant::ZERO);
        let mut partial = false;
        // Pairs with a working link, and whether some pair without one still has a direction
        // that is not cut for good (a one-way remnant or a flapping link).
        let mut working: BTreeSet<(NodeId, NodeId)> = BTreeSet::new();
        let mut remnant = false;
        for (i, &a) in running.iter().enumerate() {
            for &b in &running[i + 1..] {
                let mut best: Option<Instant> = None;
                let mut any = false;
                for &l in &links {
                    let mut both = Some(Instant::ZERO);
                    for (x, y) in [(a, b), (b, a)] {
                        let passes = net.connected(x, y) && net.links.steady(x, y, l);
                        if passes {
                            let since = *self.since.entry((x, y, l)).or_insert(now);
                            both = both.map(|t| t.max(since));
                        } else {
                            self.since.remove(&(x, y, l));
                            both = None;
                        }
                    }
                    if let Some(t) = both {
                        any = true;
                        let from = t + self.grace;
                        best = Some(best.map_or(from, |b: Instant| b.min(from)));
                    }
                    whole_from = match (whole_from, both) {
                        (Some(w), Some(t)) => Some(w.max(t + self.grace)),
                        _ => None,
                    };
                }
                partial |= !any;
                if any {
                    working.insert((a, b));
                    working.insert((b, a));
                } else {
                    remnant |= links.iter().any(|&l| {
                        [(a, b), (b, a)]
                            .iter()
                            .any(|&(x, y)| net.connected(x, y) && !net.links.is_cut(x, y, l))
                    });
                }
                connected_from = match (connected_from, best) {
                    (Some(c), Some(b)) => Some(c.max(b)),
                    _ => None,
                };
            }
        }
        // Transitive: whoever shares a working link with a node shares one with its partners.
        let transitive = running.iter().all(|&a| {
            running.iter().all(|&b| {
                a == b
                    || !working.contains(&(a, b))
                    || running
                        .iter()
                        .all(|&c| c == a || c == b || !working.contains(&(b, c)) || working.contains(&(a, c)))
            })
        });
        let split = partial && !remnant && transitive;
        let disturbed = std::mem::take(&mut self.disturbed);
        if disturbed {
            self.last_disturbed = Some(now);
        }
        if let Some(d) = self.last_disturbed {
            connected_from = connected_from.map(|c| c.max(d + self.quiet));
            whole_from = whole_from.map(|c| c.max(d + self.quiet));
        }
        LinkEnv {
            disturbed,
            running: running.to_vec(),
            paused,
            lossless: net.params.loss == 0.0,
            connected_from,
            whole_from,
            partial,
            split,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Network;

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }
    fn l(raw: u32) -> LinkId {
        LinkId::new(raw).unwrap()
    }
    fn ms(v: u64) -> Instant {
        Instant::from_micros(v * 1000)
    }

    #[test]
    fn a_cut_or_a_flap_holds_for_its_link_and_direction_only() {
        let mut f = LinkFaults::default();
        assert!(f.is_empty() && f.passes(ms(0), n(1), n(2), l(0)));
        f.set(n(1), n(2), l(0), false);
        assert!(!f.passes(ms(0), n(1), n(2), l(0)));
        assert!(f.passes(ms(0), n(2), n(1), l(0)));
        assert!(f.passes(ms(0), n(1), n(2), l(1)));
        f.set(n(1), n(2), l(0), true);
        let flap = Flap { since: ms(100), down: Duration::from_millis(50), up: Duration::from_millis(30) };
        f.set_flap(n(2), n(1), l(1), Some(flap));
        for (at, up) in
            [(99, true), (100, false), (149, false), (150, true), (179, true), (180, false), (230, true)]
        {
            assert_eq!(f.passes(ms(at), n(1), n(2), l(1)), up, "at {at} ms");
            assert_eq!(f.passes(ms(at), n(2), n(1), l(1)), up, "at {at} ms");
        }
        assert!(!f.steady(n(1), n(2), l(1)) && f.steady(n(1), n(2), l(0)));
        f.clear();
        assert!(f.is_empty());
    }

    #[test]
    fn only_groups_cut_apart_in_every_direction_make_a_plain_split() {
        let mut net = Network::default();
        let mut w = LinkWatch::new(2, Duration::from_millis(1000));
        let running = [n(1), n(2), n(3)];
        // 3 apart from 1 and 2 both ways at node level: a plain split.
        for (a, b) in [(n(1), n(3)), (n(3), n(1)), (n(2), n(3)), (n(3), n(2))] {
            net.set_link(a, b, false);
        }
        let e = w.env(ms(0), &net, &running, false);
        assert!(e.partial && e.split);
        // 3 → 2 passes again: a one-way remnant, no plain split.
        net.set_link(n(3), n(2), true);
        assert!(!w.env(ms(10), &net, &running, false).split);
        // 2 and 3 cut both ways on link 0 only: they keep link 1, so 1–3 apart while both
        // see 2 is not transitive.
        net.set_link(n(2), n(3), true);
        net.links.set(n(2), n(3), l(0), false);
        net.links.set(n(3), n(2), l(0), false);
        let e = w.env(ms(20), &net, &running, false);
        assert!(e.partial && !e.split);
        // Every direction of every link between 1 and 2 cut instead, with 3 apart: {1}, {2},
        // {3} is a plain split.
        net.links.clear();
        net.set_link(n(2), n(3), false);
        net.set_link(n(3), n(2), false);
        for link in [l(0), l(1)] {
            net.links.set(n(1), n(2), link, false);
            net.links.set(n(2), n(1), link, false);
        }
        assert!(w.env(ms(30), &net, &running, false).split);
    }

    #[test]
    fn the_environment_needs_a_steady_two_way_link_per_pair() {
        let mut net = Network::default();
        let mut w = LinkWatch::new(2, Duration::from_millis(1000));
        assert_eq!(w.grace, Duration::from_millis(750));
        let running = [n(1), n(2), n(3)];
        let e = w.env(ms(0), &net, &running, false);
        assert_eq!(e.connected_from, Some(ms(750)));
        assert!(!e.partial && e.protected_at(ms(750)) && !e.protected_at(ms(749)));
        // Link 0 cut one way between 1 and 2: link 1 still carries the pair, since 0.
        net.links.set(n(1), n(2), l(0), false);
        let e = w.env(ms(1000), &net, &running, false);
        assert_eq!(e.connected_from, Some(ms(750)));
        // Link 1 flapping too: the pair has no working link, and none at all.
        net.links.set_flap(
            n(1),
            n(2),
            l(1),
            Some(Flap { since: ms(1000), down: Duration::from_millis(1), up: Duration::from_millis(1) }),
        );
        let e = w.env(ms(1100), &net, &running, false);
        assert!(e.connected_from.is_none() && e.partial && !e.split);
        // Link 0 restored: working again one grace later.
        net.links.set(n(1), n(2), l(0), true);
        let e = w.env(ms(2000), &net, &running, false);
        assert_eq!(e.connected_from, Some(ms(2750)));
        assert!(!e.partial);
        // A node-level cut holds for every link.
        net.set_link(n(3), n(1), false);
        let e = w.env(ms(3000), &net, &running, false);
        assert!(e.connected_from.is_none() && e.partial && !e.split);
        net.params.loss = 0.1;
        assert!(!w.env(ms(3000), &net, &running, false).lossless);
    }
}
