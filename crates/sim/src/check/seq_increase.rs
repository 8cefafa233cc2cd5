//! Checker (b): the ring seqs a node installs strictly increase, across restarts.
//!
//! Tracked per node id, not per incarnation: a restarted node starts from its persisted seq
//! plus one (corosync-behaviour §4.4), so it must never install a seq at or below one it installed before.
//! A node restarted from a wiped state directory or from an older copy of it has lost that
//! memory (corosync promises nothing then either): its history starts again.

use std::collections::BTreeMap;

use quorumd_node::{ConfKind, TotemEvent};
use quorumd_proto::{Instant, NodeId, RingId};

use super::{violation, Checker, Lifecycle, Violation};

/// Installed ring seq strictly increases per node id.
#[derive(Debug, Default)]
pub struct SeqIncrease {
    last: BTreeMap<NodeId, RingId>,
}

impl Checker for SeqIncrease {
    fn name(&self) -> &'static str {
        "ring-seq-increases"
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
        let TotemEvent::ConfChange(cc) = event else { return Ok(()) };
        if cc.kind != ConfKind::Regular {
            return Ok(());
        }
        if let Some(last) = self.last.get(&node) {
            if cc.ring_id.seq <= last.seq {
                return Err(violation(
                    self.name(),
                    now,
                    format!(
                        "node {node} installed ring {} (seq {:#x}) after ring {last} (seq {:#x}): expected a \
                         seq above {:#x}",
                        cc.ring_id, cc.ring_id.seq, last.seq, last.seq
                    ),
                ));
            }
        }
        self.last.insert(node, cc.ring_id);
        Ok(())
    }

    fn on_lifecycle(&mut self, _now: Instant, node: NodeId, step: Lifecycle) {
        if step == Lifecycle::StartedWithLostState {
            self.last.remove(&node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn a_reused_seq_is_caught_even_across_a_restart() {
        let mut c = SeqIncrease::default();
        let z = ring(0, 0);
        let ok = [(1, regular(z, ring(1, 4), &[1])), (1, regular(ring(1, 4), ring(1, 8), &[1, 2]))];
        assert_eq!(feed(&mut c, &ok), Ok(()));
        c.on_lifecycle(t(5), n(1), Lifecycle::Crashed);
        c.on_lifecycle(t(6), n(1), Lifecycle::Started);
        let err = c.on_event(t(7), n(1), &regular(z, ring(1, 8), &[1])).unwrap_err();
        assert!(err.message.contains("node 1 installed ring 1.8 (seq 0x8) after ring 1.8"), "{err}");
    }

    #[test]
    fn a_node_that_lost_its_state_starts_a_new_history() {
        let mut c = SeqIncrease::default();
        let z = ring(0, 0);
        assert_eq!(feed(&mut c, &[(1, regular(z, ring(1, 8), &[1]))]), Ok(()));
        c.on_lifecycle(t(5), n(1), Lifecycle::StartedWithLostState);
        assert_eq!(c.on_event(t(7), n(1), &regular(z, ring(1, 4), &[1])), Ok(()));
        assert!(c.on_event(t(8), n(1), &regular(z, ring(1, 4), &[1])).is_err());
    }

    #[test]
    fn other_nodes_have_their_own_history() {
        let mut c = SeqIncrease::default();
        let z = ring(0, 0);
        let ok = [(1, regular(z, ring(1, 8), &[1])), (2, regular(z, ring(2, 4), &[2]))];
        assert_eq!(feed(&mut c, &ok), Ok(()));
    }
}
