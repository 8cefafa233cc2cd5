//! Checker (e): total order. Per node and ring, delivered seqs strictly increase (no
//! duplicate, no step back), and a given `(ring_id, seq)` carries the same `(origin, payload)`
//! on every node that delivers it (agreed order, corosync-behaviour §4.5). A node restarted with its state
//! lost starts a new history, and may reuse the id of a ring it minted that nobody holds any more.

use std::collections::BTreeMap;

use quorumd_node::{Delivery, TotemEvent};
use quorumd_proto::{Instant, NodeId, RingId};

use super::{violation, Checker, Lifecycle, RingHolders, Violation};

/// Agreed, gap-tolerant, duplicate-free order.
#[derive(Debug, Default)]
pub struct Ordering {
    last: BTreeMap<(NodeId, RingId), u64>,
    content: BTreeMap<(RingId, u64), (NodeId, NodeId, Vec<u8>)>,
    holders: RingHolders,
}

impl Ordering {
    fn check_content(&mut self, now: Instant, node: NodeId, d: &Delivery) -> Result<(), Violation> {
        match self.content.get(&(d.ring_id, d.seq)) {
            None => {
                self.content.insert((d.ring_id, d.seq), (node, d.origin, d.payload.clone()));
                Ok(())
            }
            Some((first, origin, payload)) if *origin != d.origin || *payload != d.payload => Err(violation(
                self.name(),
                now,
                format!(
                    "node {node} delivered ring {} seq {} as origin {} payload {:02x?}, but node {first} \
                     delivered it as origin {origin} payload {payload:02x?}",
                    d.ring_id, d.seq, d.origin, d.payload
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

impl Checker for Ordering {
    fn name(&self) -> &'static str {
        "total-order"
    }

    fn on_lifecycle(&mut self, _now: Instant, node: NodeId, step: Lifecycle) {
        self.holders.on_lifecycle(node);
        if step == Lifecycle::StartedWithLostState {
            // Its history starts again, and its own rings nobody holds may be reused (RingHolders).
            let holders = &self.holders;
            self.last.retain(|(n, r), _| *n != node && !holders.may_reuse(node, *r));
            self.content.retain(|(r, _), _| !holders.may_reuse(node, *r));
        }
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
        self.holders.on_event(node, event);
        let TotemEvent::Deliver(d) = event else { return Ok(()) };
        if let Some(last) = self.last.get(&(node, d.ring_id)) {
            if d.seq <= *last {
                return Err(violation(
                    self.name(),
                    now,
                    format!(
                        "node {node} delivered ring {} seq {} after seq {last}: expected a seq above {last}",
                        d.ring_id, d.seq
                    ),
                ));
            }
        }
        self.last.insert((node, d.ring_id), d.seq);
        self.check_content(now, node, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn a_step_back_or_a_duplicate_is_caught() {
        let r = ring(1, 4);
        let mut c = Ordering::default();
        let ok = [(1, deliver(r, 1, 1, b"a")), (1, deliver(r, 3, 2, b"c")), (2, deliver(r, 1, 1, b"a"))];
        assert_eq!(feed(&mut c, &ok), Ok(()));
        let err = feed(&mut c, &[(1, deliver(r, 2, 2, b"b"))]).unwrap_err();
        assert!(err.message.contains("node 1 delivered ring 1.4 seq 2 after seq 3"), "{err}");
        let err = feed(&mut c, &[(2, deliver(r, 1, 1, b"a"))]).unwrap_err();
        assert!(err.message.contains("seq 1 after seq 1"), "{err}");
    }

    #[test]
    fn the_same_seq_with_other_content_is_caught() {
        let r = ring(1, 4);
        let mut c = Ordering::default();
        let err = feed(&mut c, &[(1, deliver(r, 1, 1, b"a")), (2, deliver(r, 1, 3, b"a"))]).unwrap_err();
        assert!(err.message.contains("node 2 delivered ring 1.4 seq 1 as origin 3"), "{err}");
        assert!(err.message.contains("node 1 delivered it as origin 1"), "{err}");
        let mut c = Ordering::default();
        assert!(feed(&mut c, &[(1, deliver(r, 1, 1, b"a")), (2, deliver(r, 1, 1, b"b"))]).is_err());
    }

    #[test]
    fn a_wiped_restart_forgets_only_the_restarted_nodes_own_unheld_rings() {
        use crate::check::Lifecycle;
        let z = ring(0, 0);
        let (own, other) = (ring(1, 5), ring(2, 9));
        let mut c = Ordering::default();
        let history = [
            (1, regular(z, own, &[1, 3])),
            (3, regular(z, own, &[1, 3])),
            (1, deliver(own, 1, 1, b"a")),
            (2, regular(z, other, &[2, 3])),
            (2, deliver(other, 1, 2, b"x")),
            (2, regular(other, ring(2, 0xd), &[2])),
            (3, regular(own, ring(3, 0x11), &[3])),
        ];
        feed(&mut c, &history).unwrap();
        c.on_lifecycle(t(1), n(1), Lifecycle::Crashed);
        c.on_lifecycle(t(2), n(1), Lifecycle::StartedWithLostState);
        // Node 1 may mint 1.5 again (nobody holds it): its new messages are a new history.
        assert_eq!(feed(&mut c, &[(1, deliver(own, 1, 1, b"b"))]), Ok(()));
        // But ring 2.9 was node 2's: another seq 1 in it is a real total-order violation,
        // which the scoping of commit 6197720 (every unheld ring forgotten) missed.
        assert!(feed(&mut c, &[(3, deliver(other, 1, 3, b"y"))]).is_err());
    }

    #[test]
    fn other_rings_are_independent() {
        let mut c = Ordering::default();
        let ok = [(1, deliver(ring(1, 4), 5, 1, b"a")), (1, deliver(ring(1, 8), 1, 1, b"b"))];
        assert_eq!(feed(&mut c, &ok), Ok(()));
    }
}
