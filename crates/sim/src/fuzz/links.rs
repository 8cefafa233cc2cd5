//! Link faults of the safety phase, drawn only in worlds with two links or more (a
//! single-link world draws exactly what it drew before links existed).
//!
//! Single links: a cut of one link between two nodes (both directions or one), a repair of
//! one cut direction, a flapping link, a failed switch (one link cut between every pair). And
//! partial connectivity: every link from (or to) one node cut one way, every link of a pair
//! flapping with up phases shorter than the re-admission hold.

use std::fmt;

use quorumd_proto::{Duration, LinkId, NodeId};

use crate::links::{ping_timing, Flap};
use crate::rng::Rng;
use crate::world::World;

/// One link fault.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkFault {
    /// Cut `link` from `a` to `b` (and back when `both`).
    Cut(NodeId, NodeId, LinkId, bool),
    /// Restore one cut direction of one link.
    Restore(NodeId, NodeId, LinkId),
    /// Make `link` between `a` and `b` flap.
    Flap(NodeId, NodeId, LinkId, Flap),
    /// Cut `link` both ways between every pair (its switch failed).
    Switch(LinkId),
    /// Cut every link from `node` to every other node (`inbound`: to `node` from every other)
    /// one way.
    OneWay(NodeId, bool),
    /// Make every link between `a` and `b` flap together.
    PairFlap(NodeId, NodeId, Flap),
}

impl fmt::Display for LinkFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flap = |fl: &Flap| format!("down {} ms / up {} ms", fl.down.as_millis(), fl.up.as_millis());
        match self {
            LinkFault::Cut(a, b, l, true) => write!(f, "link {l} of {a} {b} down"),
            LinkFault::Cut(a, b, l, false) => write!(f, "link {l} of {a}>{b} down"),
            LinkFault::Restore(a, b, l) => write!(f, "link {l} of {a}>{b} up"),
            LinkFault::Flap(a, b, l, fl) => write!(f, "link {l} of {a} {b} flaps ({})", flap(fl)),
            LinkFault::Switch(l) => write!(f, "link {l} down everywhere"),
            LinkFault::OneWay(n, false) => write!(f, "every link from {n} down one way"),
            LinkFault::OneWay(n, true) => write!(f, "every link to {n} down one way"),
            LinkFault::PairFlap(a, b, fl) => write!(f, "every link of {a} {b} flaps ({})", flap(fl)),
        }
    }
}

/// The menu's weights, in the order of [`draw`]'s `kind` (applicable or not, see `menu`).
pub fn menu(world: &World) -> [(u64, bool); 6] {
    let multi = world.link_count() > 1;
    let cut = world.net().links.cut().next().is_some();
    [(12, multi), (6, multi && cut), (6, multi), (3, multi), (3, multi), (3, multi)]
}

/// A duration between `lo` and `hi` µs.
fn us_between(rng: &mut Rng, lo: u64, hi: u64) -> Duration {
    Duration::from_micros(rng.between(lo, hi.max(lo)))
}

/// Draws the link fault of menu entry `kind`.
pub fn draw(rng: &mut Rng, world: &World, kind: usize) -> Option<LinkFault> {
    let nodes: Vec<NodeId> = world.nodelist().iter().collect();
    let links: Vec<LinkId> = (0..world.link_count()).filter_map(|l| LinkId::new(l).ok()).collect();
    let (interval, timeout) = ping_timing(world.totem_config().token);
    let (interval, timeout) = (interval.as_micros(), timeout.as_micros());
    let now = world.now();
    let two = |rng: &mut Rng| -> Option<(NodeId, NodeId)> {
        let a = *rng.pick(&nodes)?;
        let others: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != a).collect();
        Some((a, *rng.pick(&others)?))
    };
    Some(match kind {
        0 => {
            let (a, b) = two(rng)?;
            LinkFault::Cut(a, b, *rng.pick(&links)?, rng.chance(0.5))
        }
        1 => {
            let cut: Vec<_> = world.net().links.cut().collect();
            let (a, b, l) = *rng.pick(&cut)?;
            LinkFault::Restore(a, b, l)
        }
        2 => {
            let (a, b) = two(rng)?;
            let l = *rng.pick(&links)?;
            let down = us_between(rng, interval / 2, timeout * 3);
            let up = us_between(rng, interval / 2, timeout * 3);
            LinkFault::Flap(a, b, l, Flap { since: now, down, up })
        }
        3 => LinkFault::Switch(*rng.pick(&links)?),
        4 => LinkFault::OneWay(*rng.pick(&nodes)?, rng.chance(0.5)),
        _ => {
            let (a, b) = two(rng)?;
            // Down long enough for every link to time out; up for less than the re-admission
            // hold (4 ping timeouts) minus the ping timeout it takes to notice the next down.
            let down = us_between(rng, timeout + timeout / 2, timeout * 3);
            let up = us_between(rng, timeout / 2, timeout * 2);
            LinkFault::PairFlap(a, b, Flap { since: now, down, up })
        }
    })
}

/// Applies a link fault.
pub fn apply(world: &mut World, fault: &LinkFault) {
    let nodes: Vec<NodeId> = world.nodelist().iter().collect();
    let links: Vec<LinkId> = (0..world.link_count()).filter_map(|l| LinkId::new(l).ok()).collect();
    let faults = &mut world.net_mut().links;
    match *fault {
        LinkFault::Cut(a, b, l, both) => {
            faults.set(a, b, l, false);
            if both {
                faults.set(b, a, l, false);
            }
        }
        LinkFault::Restore(a, b, l) => faults.set(a, b, l, true),
        LinkFault::Flap(a, b, l, flap) => faults.set_flap(a, b, l, Some(flap)),
        LinkFault::Switch(l) => {
            for &a in &nodes {
                for &b in nodes.iter().filter(|b| **b != a) {
                    faults.set(a, b, l, false);
                }
            }
        }
        LinkFault::OneWay(n, inbound) => {
            for &other in nodes.iter().filter(|o| **o != n) {
                for &l in &links {
                    if inbound {
                        faults.set(other, n, l, false);
                    } else {
                        faults.set(n, other, l, false);
                    }
                }
            }
        }
        LinkFault::PairFlap(a, b, flap) => {
            for &l in &links {
                faults.set_flap(a, b, l, Some(flap));
            }
        }
    }
}
