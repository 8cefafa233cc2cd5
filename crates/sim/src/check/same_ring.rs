//! Checker (a): two nodes that install the same ring id install the same member list.
//!
//! Every regular configuration is recorded by ring id with the first node that installed it;
//! a later installation of that ring id with other members is a violation (corosync-behaviour §4.4: the pair
//! (rep, seq) identifies a configuration). A node restarted with its state lost may reuse the
//! id of a ring it minted that nobody holds any more (see [`RingHolders`]); the ids of rings
//! some node still holds, and those of other reps, stay protected.

use std::collections::BTreeMap;

use quorumd_node::{ConfKind, TotemEvent};
use quorumd_proto::{Instant, MemberList, NodeId, RingId};

use super::{violation, Checker, Lifecycle, RingHolders, Violation};

/// Same ring id ⇒ same member list.
#[derive(Debug, Default)]
pub struct SameRing {
    seen: BTreeMap<RingId, (NodeId, MemberList)>,
    holders: RingHolders,
}

impl Checker for SameRing {
    fn name(&self) -> &'static str {
        "same-ring-same-members"
    }

    fn on_lifecycle(&mut self, _now: Instant, node: NodeId, step: Lifecycle) {
        self.holders.on_lifecycle(node);
        if step == Lifecycle::StartedWithLostState {
            let holders = &self.holders;
            self.seen.retain(|r, _| !holders.may_reuse(node, *r));
        }
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
        self.holders.on_event(node, event);
        let TotemEvent::ConfChange(cc) = event else { return Ok(()) };
        if cc.kind != ConfKind::Regular {
            return Ok(());
        }
        match self.seen.get(&cc.ring_id) {
            None => {
                self.seen.insert(cc.ring_id, (node, cc.members.clone()));
                Ok(())
            }
            Some((first, members)) if *members != cc.members => Err(violation(
                self.name(),
                now,
                format!(
                    "node {node} installed ring {} with members {}, but node {first} installed the same \
                     ring id with members {members}",
                    cc.ring_id, cc.members
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn same_ring_id_with_other_members_is_caught() {
        let mut c = SameRing::default();
        let z = ring(0, 0);
        let ok = [(1, regular(z, ring(1, 4), &[1, 2])), (2, regular(z, ring(1, 4), &[1, 2]))];
        assert_eq!(feed(&mut c, &ok), Ok(()));
        let err = c.on_event(t(9), n(3), &regular(z, ring(1, 4), &[1, 2, 3])).unwrap_err();
        assert!(err.message.contains("node 3 installed ring 1.4 with members [1 2 3]"), "{err}");
        assert!(err.message.contains("node 1 installed the same ring id with members [1 2]"), "{err}");
    }

    #[test]
    fn transitional_configurations_are_not_compared() {
        let mut c = SameRing::default();
        let z = ring(0, 0);
        let evs = [(1, regular(z, ring(1, 4), &[1, 2])), (1, transitional(ring(1, 4), ring(1, 8), &[1]))];
        assert_eq!(feed(&mut c, &evs), Ok(()));
    }

    #[test]
    fn a_node_that_lost_its_state_may_reuse_only_a_ring_id_nobody_holds() {
        use crate::check::Lifecycle;
        let z = ring(0, 0);
        let r = ring(1, 5);
        // Ring 1.5 [1 2]; both go down; node 1 comes back with a wiped state and forms 1.5 [1].
        let mut c = SameRing::default();
        feed(&mut c, &[(1, regular(z, r, &[1, 2])), (2, regular(z, r, &[1, 2]))]).unwrap();
        c.on_lifecycle(t(1), n(2), Lifecycle::Crashed);
        c.on_lifecycle(t(2), n(1), Lifecycle::Crashed);
        c.on_lifecycle(t(3), n(1), Lifecycle::StartedWithLostState);
        assert_eq!(c.on_event(t(4), n(1), &regular(z, r, &[1])), Ok(()));
        // Node 2 still holds 1.5 [1 2]: reusing it is caught.
        let mut c = SameRing::default();
        feed(&mut c, &[(1, regular(z, r, &[1, 2])), (2, regular(z, r, &[1, 2]))]).unwrap();
        c.on_lifecycle(t(2), n(1), Lifecycle::Crashed);
        c.on_lifecycle(t(3), n(1), Lifecycle::StartedWithLostState);
        assert!(c.on_event(t(4), n(1), &regular(z, r, &[1])).is_err());
        // Another node's wiped restart does not let node 2, which kept its state, reuse its
        // own old id (nobody holds 2.9 any more: node 2 moved on to 2.d). The scoping of
        // commit 6197720 forgot every unheld ring at any lost-state restart and missed this.
        let mut c = SameRing::default();
        let r2 = ring(2, 9);
        feed(&mut c, &[(2, regular(z, r2, &[2, 3])), (3, regular(z, r2, &[2, 3]))]).unwrap();
        feed(&mut c, &[(2, regular(r2, ring(2, 0xd), &[2, 3])), (3, regular(r2, ring(2, 0xd), &[2, 3]))])
            .unwrap();
        c.on_lifecycle(t(2), n(1), Lifecycle::Crashed);
        c.on_lifecycle(t(3), n(1), Lifecycle::StartedWithLostState);
        assert!(c.on_event(t(4), n(2), &regular(ring(2, 0xd), r2, &[2])).is_err());
        // A normal restart forgets nothing.
        let mut c = SameRing::default();
        feed(&mut c, &[(1, regular(z, r, &[1, 2]))]).unwrap();
        c.on_lifecycle(t(2), n(1), Lifecycle::Crashed);
        c.on_lifecycle(t(3), n(1), Lifecycle::Started);
        assert!(c.on_event(t(4), n(1), &regular(z, r, &[1])).is_err());
    }
}
