//! Checker (c): a node is a member of every configuration it installs, regular or
//! transitional (a node always comes along with itself).

use quorumd_node::TotemEvent;
use quorumd_proto::{Instant, NodeId};

use super::{violation, Checker, Violation};

/// Every node is in its own view.
#[derive(Debug, Default)]
pub struct SelfInRing;

impl Checker for SelfInRing {
    fn name(&self) -> &'static str {
        "self-in-ring"
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
        let TotemEvent::ConfChange(cc) = event else { return Ok(()) };
        if cc.members.contains(node) {
            return Ok(());
        }
        Err(violation(
            self.name(),
            now,
            format!(
                "node {node} installed a {:?} configuration of ring {} with members {} that do not include \
                 itself",
                cc.kind, cc.ring_id, cc.members
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn a_view_without_its_node_is_caught() {
        let mut c = SelfInRing;
        let z = ring(0, 0);
        assert_eq!(feed(&mut c, &[(2, regular(z, ring(1, 4), &[1, 2]))]), Ok(()));
        let err = feed(&mut c, &[(3, regular(z, ring(1, 4), &[1, 2]))]).unwrap_err();
        assert!(err.message.contains("node 3 installed a Regular configuration of ring 1.4"), "{err}");
        let err = feed(&mut c, &[(3, transitional(z, ring(1, 4), &[1]))]).unwrap_err();
        assert!(err.message.contains("Transitional"), "{err}");
    }
}
