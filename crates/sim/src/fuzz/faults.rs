//! The fault menu of the safety phase: which faults apply to the world as it is, a weighted
//! random choice among them, and applying one.
//!
//! Besides crashes, restarts, pauses and network faults: restarts from a wiped state directory
//! or from an older copy of it, an adversarial member's bursts (see [`super::hostile`]), and
//! runtime requests through a node's client IPC (setexpected, setvotes, cancel_wait_for_all),
//! sent preferably to a node whose membership sync is in progress.

use std::fmt;

use quorumd_proto::ipc::Request;
use quorumd_proto::{Duration, NodeId};

use super::hostile::{self, Hostile};
use super::FuzzOptions;
use crate::check::Status;
use crate::rng::Rng;
use crate::world::{StateDir, World};

/// One fault of the safety phase.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Kill a node.
    Crash(NodeId),
    /// Boot a crashed or stopped node.
    Restart(NodeId),
    /// Boot a crashed or stopped node from a wiped state directory or an older copy of it.
    RestartLost(NodeId, StateDir),
    /// Freeze a node for this long (longer than the token timeout), then thaw it.
    Freeze(NodeId, Duration),
    /// An adversarial member's burst.
    Hostile(Hostile),
    /// A runtime request on a node's client connection.
    Request(NodeId, Request),
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
    /// A fault of single links (worlds with two links or more).
    Links(super::links::LinkFault),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash(n) => write!(f, "crash {n}"),
            Fault::Restart(n) => write!(f, "start {n}"),
            Fault::RestartLost(n, StateDir::Wiped) => write!(f, "start {n} with its state dir wiped"),
            Fault::RestartLost(n, StateDir::Older(k)) => write!(f, "start {n} from the state copy {k} back"),
            Fault::RestartLost(n, StateDir::Kept) => write!(f, "start {n}"),
            Fault::Hostile(h) => write!(f, "{h}"),
            Fault::Freeze(n, d) => write!(f, "freeze {n} for {} ms", d.as_millis()),
            Fault::Request(n, r) => write!(f, "request {r:?} on node {n}"),
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
            Fault::Links(l) => write!(f, "{l}"),
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
    let with_clients: Vec<NodeId> = running.iter().copied().filter(|n| world.has_clients(*n)).collect();
    // (weight, applicable) in a fixed order: the draw below depends on this table only.
    let links = super::links::menu(world);
    let menu: [(u64, bool); 20] = [
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
        (2, !down.is_empty() && opts.state_loss),
        (3, !running.is_empty() && nodes.len() >= 2 && opts.hostile),
        (3, !with_clients.is_empty() && opts.requests),
        (2, !running.is_empty() && opts.freezes),
        links[0],
        links[1],
        links[2],
        links[3],
        links[4],
        links[5],
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
        9 => Fault::Loss([0.0, 0.01, 0.05, 0.2][rng.below(4) as usize]),
        10 => {
            let n = *rng.pick(&down)?;
            let state =
                if rng.chance(0.5) { StateDir::Wiped } else { StateDir::Older(rng.between(1, 4) as usize) };
            Fault::RestartLost(n, state)
        }
        11 => {
            let target = *rng.pick(&running)?;
            Fault::Hostile(hostile::draw(rng, &nodes, target)?)
        }
        14.. => Fault::Links(super::links::draw(rng, world, kind - 14)?),
        13 => {
            let token = world.totem_config().token.as_millis();
            Fault::Freeze(*rng.pick(&running)?, Duration::from_millis(rng.between(token + 1, 4 * token)))
        }
        _ => {
            // Syncs are where runtime changes race with membership: prefer a node in one.
            let syncing: Vec<NodeId> = with_clients.iter().copied().filter(|n| world.in_sync(*n)).collect();
            let pool = if !syncing.is_empty() && rng.chance(0.7) { &syncing } else { &with_clients };
            let at = *rng.pick(pool)?;
            Fault::Request(at, runtime_request(rng, world, &nodes))
        }
    })
}

/// setexpected, setvotes or cancel_wait_for_all, with values that keep the split-brain
/// promise checkable: expected votes only at or above the configured full membership's, a
/// node's votes only at or below its configured votes (disjoint partitions still cannot both
/// hold a majority of the expected votes). The liveness phase restores the configured values.
fn runtime_request(rng: &mut Rng, world: &World, nodes: &[NodeId]) -> Request {
    let setup = world.quorum_setup();
    let expected = setup.full_membership(world.nodelist()).map_or(nodes.len() as u32, |f| f.2);
    match rng.below(3) {
        0 => Request::SetExpected { expected: expected + [0, 1, 2, expected][rng.below(4) as usize] },
        1 => {
            let node = nodes[rng.below(nodes.len() as u64) as usize];
            let configured = setup.votes.get(&node).copied().unwrap_or(1);
            Request::SetVotes { nodeid: node.get(), votes: rng.below(u64::from(configured) + 1) as u32 }
        }
        _ => Request::CancelWaitForAll,
    }
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
        Fault::RestartLost(n, state) => world.start_with_state(n, state),
        Fault::Hostile(h) => {
            let datagrams = hostile::datagrams(world, &h);
            world.inject(h.target, &datagrams);
            Ok(())
        }
        Fault::Request(n, r) => {
            // Refusals (a request votequorum rejects, a node without a provider) are answers
            // too; the checkers watch what follows.
            if matches!(r, Request::SetExpected { .. } | Request::SetVotes { .. }) {
                world.note_quorum_override();
            }
            world.client_request(n, r).map(|_| ())
        }
        Fault::Stop(n) => world.stop(n),
        Fault::Pause(n) | Fault::Freeze(n, _) => world.pause(n),
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
        Fault::Links(l) => {
            super::links::apply(world, &l);
            Ok(())
        }
    };
}
