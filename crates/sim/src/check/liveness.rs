//! Checker (g): liveness, checked only at the end of a liveness phase (network healed, every
//! node running): every live node is OPERATIONAL in one ring whose members are exactly the
//! live nodes.

use quorumd_node::TotemEvent;
use quorumd_proto::{Instant, MemberList, NodeId};
use quorumd_totem::State;

use super::{violation, Checker, NodeView, Status, Violation};

/// Convergence to one ring of all live nodes.
#[derive(Debug, Default)]
pub struct Liveness;

/// Why `nodes` have not converged, or `None` when they have.
pub fn not_converged(nodes: &[NodeView]) -> Option<String> {
    let live: Vec<&NodeView> = nodes.iter().filter(|v| v.status == Status::Running).collect();
    let expected = match MemberList::from_ids(live.iter().map(|v| v.id)) {
        Ok(l) => l,
        Err(e) => return Some(e.to_string()),
    };
    let first = live.first()?;
    let mut problems = Vec::new();
    for v in nodes.iter().filter(|v| v.status == Status::Paused) {
        problems.push(format!("node {} is paused", v.id));
    }
    for v in &live {
        if v.state != Some(State::Operational) {
            problems.push(format!("node {} is {:?} (ring {} {})", v.id, v.state, v.ring_id, v.members));
        } else if v.members != expected || v.ring_id != first.ring_id {
            problems.push(format!("node {} is in ring {} {}", v.id, v.ring_id, v.members));
        }
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "expected every live node operational in one ring with members {expected}; {}",
        problems.join("; ")
    ))
}

impl Checker for Liveness {
    fn name(&self) -> &'static str {
        "liveness"
    }

    fn on_event(&mut self, _now: Instant, _node: NodeId, _event: &TotemEvent) -> Result<(), Violation> {
        Ok(())
    }

    fn at_end(&mut self, now: Instant, nodes: &[NodeView]) -> Result<(), Violation> {
        match not_converged(nodes) {
            None => Ok(()),
            Some(why) => Err(violation(self.name(), now, why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;
    use quorumd_proto::RingId;

    fn view(id: u32, status: Status, state: State, r: RingId, members: &[u32]) -> NodeView {
        NodeView { id: n(id), status, state: Some(state), ring_id: r, members: list(members) }
    }

    #[test]
    fn one_ring_of_all_live_nodes_passes() {
        let r = ring(1, 8);
        let nodes = [
            view(1, Status::Running, State::Operational, r, &[1, 3]),
            NodeView { id: n(2), status: Status::Crashed, state: None, ring_id: r, members: list(&[]) },
            view(3, Status::Running, State::Operational, r, &[1, 3]),
        ];
        assert_eq!(Liveness.at_end(t(1), &nodes), Ok(()));
    }

    #[test]
    fn split_rings_or_gathering_nodes_are_caught() {
        let nodes = [
            view(1, Status::Running, State::Operational, ring(1, 8), &[1]),
            view(2, Status::Running, State::Operational, ring(2, 8), &[2]),
        ];
        let err = Liveness.at_end(t(1), &nodes).unwrap_err();
        assert!(err.message.contains("expected every live node operational in one ring with members [1 2]"));
        assert!(err.message.contains("node 1 is in ring 1.8 [1]"), "{err}");
        let nodes = [
            view(1, Status::Running, State::Gather, ring(1, 8), &[1, 2]),
            view(2, Status::Running, State::Operational, ring(1, 8), &[1, 2]),
        ];
        let err = Liveness.at_end(t(1), &nodes).unwrap_err();
        assert!(err.message.contains("node 1 is Some(Gather)"), "{err}");
    }
}
