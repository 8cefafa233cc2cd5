//! Quorum liveness, checked only at the end of a liveness phase (every node running in one
//! ring, see [`super::liveness`]): every node has activated that ring, and reports what
//! votequorum's rules give for the full membership
//! ([`crate::quorum::QuorumSetup::full_membership`]): quorate, quorum = floor(E/2)+1 (1 with
//! two_node on two nodes), expected votes and total votes = the nodelist's vote total. Without
//! a provider getquorate is 1 (corosync-behaviour §2.3).
//!
//! With every node up, no preset may leave a node blocked: wait_for_all sees all its expected
//! votes at once, last_man_standing's lowered expected votes rise again with the total, and a
//! full cluster needs no tie-breaker.

use crate::check::{Status, VqNumbers};
use crate::world::World;

/// Nodes that have not activated their current Totem ring yet, or `None` when all have.
pub fn not_activated(world: &World) -> Option<String> {
    let provider = world.quorum_setup().provider;
    let late: Vec<String> = world
        .with_status(Status::Running)
        .into_iter()
        .filter_map(|id| {
            let node = world.node(id)?;
            let done = node.activated() && (!provider || node.quorum_view().0 == node.ring_id());
            (!done).then(|| {
                format!("node {id} (ring {}, last activation {})", node.ring_id(), node.quorum_view().0)
            })
        })
        .collect();
    (!late.is_empty()).then(|| late.join(", "))
}

/// Whether every node reports the full membership's quorum state; otherwise what differs.
pub fn check(world: &World) -> Result<(), String> {
    if let Some(late) = not_activated(world) {
        return Err(format!("the quorum service has not activated the converged ring on {late}"));
    }
    let full = world.quorum_setup().full_membership(world.nodelist());
    let mut problems = Vec::new();
    for id in world.with_status(Status::Running) {
        let Some(node) = world.node(id) else { continue };
        let want_quorate = full.is_none_or(|(q, ..)| q);
        if node.quorate() != want_quorate {
            problems.push(format!("node {id} getquorate {} (expected {})", node.quorate(), want_quorate));
        }
        let (Some((_, quorum, expected_votes, total_votes)), Some(seen)) = (full, world.vq_numbers(id))
        else {
            continue;
        };
        let want = VqNumbers { quorum, expected_votes, total_votes };
        if seen != want {
            problems.push(format!(
                "node {id} quorum {} expected_votes {} total_votes {} (expected {quorum} {expected_votes} {total_votes})",
                seen.quorum, seen.expected_votes, seen.total_votes
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "with every node up ({}), expected what votequorum gives the full membership; {}",
        world.quorum_setup(),
        problems.join("; ")
    ))
}
