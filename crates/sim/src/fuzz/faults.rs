//! The fault menu of the safety phase: which faults apply to the world as it is, a weighted
//! random choice among them, and applying one.

use std::fmt;

use quorumd_proto::NodeId;

use super::FuzzOptions;
use crate::check::Status;
use crate::rng::Rng;
use crate::world::World;

/// One fault of the safety phase.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Kill a node.
    Crash(NodeId),
    /// Boot a crashed or stopped node.
    Restart(NodeId),
    /// Stop a node gracefully.
    Stop(NodeId),
    /// Freeze a node.
    Pause(NodeId),
    /// Thaw a node.
    Resume(NodeId),
    /// Partition.
    Split(Vec<Vec<NodeId>>),
    /// Cut a link, one way or both.
    LinkDown(NodeId, NodeId, bool),
    /// Restore one cut direction.
    LinkUp(NodeId, NodeId),
    /// Full connectivity.
    Heal,
    /// New loss probability.
    Loss(f64),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash(n) => write!(f, "crash {n}"),
            Fault::Restart(n) => write!(f, "start {n}"),
            Fault::Stop(n) => write!(f, "stop {n}"),
            Fault::Pause(n) => write!(f, "pause {n}"),
            Fault::Resume(n) => write!(f, "resume {n}"),
            Fault::Split(groups) => {
                let g: Vec<String> = groups
                    .iter()
                    .map(|g| g.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(","))
                    .collect();
                write!(f, "split {}", g.join(" "))
            }
            Fault::LinkDown(a, b, true) => write!(f, "link {a} {b} down"),
            Fault::LinkDown(a, b, false) => write!(f, "link {a}>{b} down"),
            Fault::LinkUp(a, b) => write!(f, "link {a}>{b} up"),
            Fault::Heal => write!(f, "heal"),
            Fault::Loss(p) => write!(f, "loss {p}"),
        }
    }
}

/// Picks a fault that applies now, weighted; `None` when none does.
pub fn choose_fault(rng: &mut Rng, world: &World, opts: &FuzzOptions) -> Option<Fault> {
    let running = world.with_status(Status::Running);
    let paused = world.with_status(Status::Paused);
    let mut down = world.with_status(Status::Crashed);
    down.extend(world.with_status(Status::Stopped));
    let nodes: Vec<NodeId> = world.nodelist().iter().collect();
    let cut: Vec<(NodeId, NodeId)> = world.net().cut_links().collect();
    // (weight, applicable) in a fixed order: the draw below depends on this table only.
    let menu: [(u64, bool); 10] = [
        (3, !running.is_empty()),
        (4, !down.is_empty()),
        (2, !running.is_empty()),
        (1, !running.is_empty()),
        (3, !paused.is_empty()),
        (3, nodes.len() >= 2),
        (2, nodes.len() >= 2),
        (2, !cut.is_empty()),
        (3, true),
        (1, opts.loss.is_none()),
    ];
    let total: u64 = menu.iter().filter(|(_, ok)| *ok).map(|(w, _)| w).sum();
    let mut draw = rng.below(total);
    let kind = menu.iter().position(|(w, ok)| {
        if !*ok {
            return false;
        }
        if draw < *w {
            return true;
        }
        draw -= w;
        false
    })?;
    Some(match kind {
        0 => Fault::Crash(*rng.pick(&running)?),
        1 => Fault::Restart(*rng.pick(&down)?),
        2 => Fault::Stop(*rng.pick(&running)?),
        3 => Fault::Pause(*rng.pick(&running)?),
        4 => Fault::Resume(*rng.pick(&paused)?),
        5 => Fault::Split(random_split(rng, &nodes)),
        6 => {
            let a = *rng.pick(&nodes)?;
            let others: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != a).collect();
            Fault::LinkDown(a, *rng.pick(&others)?, rng.chance(0.5))
        }
        7 => {
            let (a, b) = *rng.pick(&cut)?;
            Fault::LinkUp(a, b)
        }
        8 => Fault::Heal,
        _ => Fault::Loss([0.0, 0.01, 0.05, 0.2][rng.below(4) as usize]),
    })
}

fn random_split(rng: &mut Rng, nodes: &[NodeId]) -> Vec<Vec<NodeId>> {
    let k = rng.between(2, 3) as usize;
    let mut groups = vec![Vec::new(); k];
    for n in nodes {
        groups[rng.below(k as u64) as usize].push(*n);
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// Applies a fault chosen by [`choose_fault`] (which only offers applicable ones).
pub fn apply(world: &mut World, fault: Fault) {
    // Errors cannot happen for faults chosen from the current status; ignoring keeps a fault
    // that raced with nothing harmless.
    let _ = match fault {
        Fault::Crash(n) => world.crash(n),
        Fault::Restart(n) => world.start(n),
        Fault::Stop(n) => world.stop(n),
        Fault::Pause(n) => world.pause(n),
        Fault::Resume(n) => world.resume(n),
        Fault::Split(groups) => {
            world.net_mut().split(&groups);
            Ok(())
        }
        Fault::LinkDown(a, b, both) => {
            world.net_mut().set_link(a, b, false);
            if both {
                world.net_mut().set_link(b, a, false);
            }
            Ok(())
        }
        Fault::LinkUp(a, b) => {
            world.net_mut().set_link(a, b, true);
            Ok(())
        }
        Fault::Heal => {
            world.net_mut().heal();
            Ok(())
        }
        Fault::Loss(p) => {
            world.net_mut().params.loss = p;
            Ok(())
        }
    };
}
