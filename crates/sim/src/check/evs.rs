//! Checker (f): extended virtual synchrony (corosync-behaviour §4.5). Nodes that move together from ring R
//! to ring R' — both emitted a transitional configuration with `old_ring_id` R and `ring_id`
//! R', and each is in the other's transitional member list — delivered exactly the same
//! sequence of messages of ring R.
//!
//! Old-ring messages may be delivered during recovery just before the transitional event, still
//! tagged with R; they count. A delivery tagged R after the node's transitional configuration
//! out of R is a violation of its own ("messages are delivered in the configuration they were
//! sent in, or in the transitional configuration that follows").
//!
//! A crash or restart forgets the node's unfinished rings: a new incarnation starts afresh. A
//! restart with the state lost also forgets the rings it minted that nobody holds any more
//! (their ids may be reused, see [`super::RingHolders`]).

use std::collections::{BTreeMap, BTreeSet};

use quorumd_node::{ConfChange, ConfKind, TotemEvent};
use quorumd_proto::{Instant, MemberList, NodeId, RingId};

use super::{violation, Checker, Lifecycle, Violation};

/// What one node took from ring R into ring R'.
#[derive(Debug)]
struct Passage {
    transitional: MemberList,
    delivered: Vec<u64>,
}

/// Virtual synchrony across configuration changes.
#[derive(Debug, Default)]
pub struct Evs {
    /// Seqs each node delivered in each ring it has not left yet, in delivery order.
    delivered: BTreeMap<(NodeId, RingId), Vec<u64>>,
    /// Rings each node has left (delivering in them afterwards is a violation).
    left: BTreeSet<(NodeId, RingId)>,
    /// Per (R, R'): what each node that made that passage delivered of R.
    passages: BTreeMap<(RingId, RingId), BTreeMap<NodeId, Passage>>,
    holders: super::RingHolders,
}

impl Evs {
    fn on_transitional(&mut self, now: Instant, node: NodeId, cc: &ConfChange) -> Result<(), Violation> {
        let key = (cc.old_ring_id, cc.ring_id);
        let delivered = self.delivered.remove(&(node, cc.old_ring_id)).unwrap_or_default();
        self.left.insert((node, cc.old_ring_id));
        let peers = self.passages.entry(key).or_default();
        let mut result = Ok(());
        for (other, p) in peers.iter() {
            if cc.members.contains(*other) && p.transitional.contains(node) && p.delivered != delivered {
                result = Err(violation(
                    "virtual-synchrony",
                    now,
                    describe_mismatch(node, &delivered, *other, &p.delivered, key),
                ));
                break;
            }
        }
        peers.insert(node, Passage { transitional: cc.members.clone(), delivered });
        result
    }
}

fn describe_mismatch(a: NodeId, da: &[u64], b: NodeId, db: &[u64], (r, r2): (RingId, RingId)) -> String {
    let first = da.iter().zip(db.iter()).position(|(x, y)| x != y).unwrap_or(da.len().min(db.len()));
    let show = |d: &[u64]| {
        let tail: Vec<String> = d.iter().skip(first).take(8).map(u64::to_string).collect();
        format!("[{}{}]", tail.join(" "), if d.len() > first + 8 { " …" } else { "" })
    };
    format!(
        "nodes {a} and {b} moved together from ring {r} to ring {r2} but delivered different messages of \
         ring {r}: node {a} delivered {} messages, node {b} delivered {}; they differ from position {first}: \
         node {a} has seqs {} where node {b} has {}",
        da.len(),
        db.len(),
        show(da),
        show(db)
    )
}

impl Checker for Evs {
    fn name(&self) -> &'static str {
        "virtual-synchrony"
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
        self.holders.on_event(node, event);
        match event {
            TotemEvent::Deliver(d) => {
                if self.left.contains(&(node, d.ring_id)) {
                    return Err(violation(
                        self.name(),
                        now,
                        format!(
                            "node {node} delivered seq {} of ring {} after its transitional configuration out \
                             of that ring",
                            d.seq, d.ring_id
                        ),
                    ));
                }
                self.delivered.entry((node, d.ring_id)).or_default().push(d.seq);
                Ok(())
            }
            TotemEvent::ConfChange(cc) if cc.kind == ConfKind::Transitional => {
                self.on_transitional(now, node, cc)
            }
            _ => Ok(()),
        }
    }

    fn on_lifecycle(&mut self, _now: Instant, node: NodeId, step: Lifecycle) {
        self.holders.on_lifecycle(node);
        if matches!(step, Lifecycle::Started | Lifecycle::StartedWithLostState) {
            self.delivered.retain(|(n, _), _| *n != node);
        }
        if step == Lifecycle::StartedWithLostState {
            // Its own rings nobody holds may be reused by a node that lost its state (RingHolders).
            let holders = &self.holders;
            self.delivered.retain(|(_, r), _| !holders.may_reuse(node, *r));
            self.left.retain(|(_, r)| !holders.may_reuse(node, *r));
            self.passages.retain(|(r, r2), _| {
                holders.held(*r) || holders.held(*r2) || (r.rep != node.get() && r2.rep != node.get())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn nodes_moving_together_with_different_deliveries_are_caught() {
        let (r, r2) = (ring(1, 4), ring(1, 8));
        let mut c = Evs::default();
        let evs = [
            (1, deliver(r, 1, 1, b"a")),
            (2, deliver(r, 1, 1, b"a")),
            (1, deliver(r, 2, 2, b"b")),
            (1, transitional(r, r2, &[1, 2])),
            (2, transitional(r, r2, &[1, 2])),
        ];
        let err = feed(&mut c, &evs).unwrap_err();
        assert!(err.message.contains("nodes 2 and 1 moved together from ring 1.4 to ring 1.8"), "{err}");
        assert!(err.message.contains("node 2 delivered 1 messages, node 1 delivered 2"), "{err}");
        assert!(
            err.message.contains("differ from position 1: node 2 has seqs [] where node 1 has [2]"),
            "{err}"
        );
    }

    #[test]
    fn nodes_that_did_not_move_together_may_differ() {
        let (r, r2) = (ring(1, 4), ring(1, 8));
        let mut c = Evs::default();
        let evs = [
            (1, deliver(r, 1, 1, b"a")),
            (1, transitional(r, r2, &[1])),
            (2, transitional(r, r2, &[2])),
            (3, transitional(r, ring(3, 8), &[3])),
        ];
        assert_eq!(feed(&mut c, &evs), Ok(()));
    }

    #[test]
    fn same_deliveries_including_recovered_old_ring_messages_pass() {
        let (r, r2) = (ring(1, 4), ring(1, 8));
        let mut c = Evs::default();
        let evs = [
            (1, deliver(r, 1, 1, b"a")),
            (2, deliver(r, 1, 1, b"a")),
            (2, deliver(r, 2, 1, b"b")),
            (1, deliver(r, 2, 1, b"b")),
            (1, transitional(r, r2, &[1, 2])),
            (1, regular(r, r2, &[1, 2])),
            (1, deliver(r2, 1, 1, b"c")),
            (2, transitional(r, r2, &[1, 2])),
        ];
        assert_eq!(feed(&mut c, &evs), Ok(()));
    }

    #[test]
    fn delivering_in_a_ring_after_leaving_it_is_caught() {
        let (r, r2) = (ring(1, 4), ring(1, 8));
        let mut c = Evs::default();
        let err =
            feed(&mut c, &[(1, transitional(r, r2, &[1])), (1, deliver(r, 3, 1, b"late"))]).unwrap_err();
        assert!(err.message.contains("node 1 delivered seq 3 of ring 1.4 after its transitional"), "{err}");
    }
}
