//! Checker (a): two nodes that install the same ring id install the same member list.
//!
//! Every regular configuration is recorded by ring id with the first node that installed it;
//! a later installation of that ring id with other members is a violation (corosync-behaviour §4.4: the pair
//! (rep, seq) identifies a configuration).

use std::collections::BTreeMap;

use quorumd_node::{ConfKind, TotemEvent};
use quorumd_proto::{Instant, MemberList, NodeId, RingId};

use super::{violation, Checker, Violation};

/// Same ring id ⇒ same member list.
#[derive(Debug, Default)]
pub struct SameRing {
    seen: BTreeMap<RingId, (NodeId, MemberList)>,
}

impl Checker for SameRing {
    fn name(&self) -> &'static str {
        "same-ring-same-members"
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
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
}
