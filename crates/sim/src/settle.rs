//! "Settled" and "converged": the predicates the scenario runner, the fuzzer's liveness phase
//! and the latency bench wait for.
//!
//! - Converged (liveness, checker (g)): every running node is operational in one ring whose
//!   members are exactly the running nodes.
//! - Settled (scenario `settle`): every running node is operational; every ring is consistent
//!   (each member runs and reports the same ring id and member list); every group of running
//!   nodes that can all reach each other both ways (a clique of the network) is one ring; and
//!   where one-way cuts leave groups that are connected but not cliques, no configuration
//!   change happened for two token timeouts (what Totem does there is its own choice, but it
//!   must stop changing); and every running node's quorum service has completed the sync of
//!   its current ring (what its clients were told is about the ring it is in).

use std::collections::BTreeSet;

use quorumd_proto::{MemberList, NodeId};
use quorumd_totem::State;

use crate::check::{liveness, Status};
use crate::world::World;

/// Whether every running node is operational in one ring of exactly the running nodes.
pub fn converged(world: &World) -> bool {
    liveness::not_converged(&world.views()).is_none()
}

/// `Ok` when settled, otherwise what is not.
pub fn settled(world: &World) -> Result<(), String> {
    let running = world.with_status(Status::Running);
    for id in &running {
        let Some(node) = world.node(*id) else { continue };
        if node.state() != State::Operational {
            return Err(format!("node {id} is {:?}", node.state()));
        }
        for m in node.members().iter() {
            let consistent = world.status(m) == Some(Status::Running)
                && world
                    .node(m)
                    .is_some_and(|o| o.ring_id() == node.ring_id() && o.members() == node.members());
            if !consistent {
                return Err(format!(
                    "node {id} is in ring {} {} but member {m} is not in that ring",
                    node.ring_id(),
                    node.members()
                ));
            }
        }
    }
    for group in components(world, &running) {
        check_group(world, &group)?;
    }
    match crate::check::quorum_liveness::not_activated(world) {
        Some(late) => Err(format!("the quorum service has not activated the current ring on {late}")),
        None => Ok(()),
    }
}

fn check_group(world: &World, group: &[NodeId]) -> Result<(), String> {
    let net = world.net();
    let clique = group.iter().all(|a| group.iter().all(|b| net.connected(*a, *b) && net.connected(*b, *a)));
    if clique {
        let expected = MemberList::from_ids(group.iter().copied()).map_err(|e| e.to_string())?;
        for id in group {
            let members = world.node(*id).map(|n| n.members().clone()).unwrap_or_default();
            if members != expected {
                return Err(format!("node {id} is in ring {members}, its network group is {expected}"));
            }
        }
        return Ok(());
    }
    let quiet = world.totem_config().token + world.totem_config().token;
    let since = world.now().saturating_since(world.last_conf_change());
    if since < quiet {
        return Err(format!(
            "nodes {group:?} are connected only through one-way links and a configuration changed {since} ago \
             (waiting for {quiet} of quiet)"
        ));
    }
    Ok(())
}

/// Connected components of `nodes` under two-way reachability, each sorted, in order of their
/// lowest node.
pub fn components(world: &World, nodes: &[NodeId]) -> Vec<Vec<NodeId>> {
    let net = world.net();
    let mut unseen: BTreeSet<NodeId> = nodes.iter().copied().collect();
    let mut out = Vec::new();
    while let Some(first) = unseen.pop_first() {
        let mut group = vec![first];
        let mut i = 0;
        while i < group.len() {
            let a = group[i];
            let next: Vec<NodeId> =
                unseen.iter().copied().filter(|b| net.connected(a, *b) && net.connected(*b, a)).collect();
            for b in next {
                unseen.remove(&b);
                group.push(b);
            }
            i += 1;
        }
        group.sort_unstable();
        out.push(group);
    }
    out
}
