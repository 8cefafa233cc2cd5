//! Quorum checker (b): all members of one ring report the same `quorate`, `quorum` and
//! `expected_votes` once the ring is installed (with a provider).
//!
//! Compared at each `NodeEvent::SyncCompleted` (the activation of corosync-behaviour §2.2 trigger 1), only
//! among the nodes that completed the sync of that ring: the first one to activate ring R sets
//! the reference, every later one must match it. Why this must hold: the members of R apply the
//! same votequorum messages (their nodeinfos of R, in agreed order) and settle the sync once, at
//! the barrier, from those messages alone (votequorum's invariant, docs/deviations.md).
//!
//! What is not compared:
//! - `quorate` comes from the event itself and is always exact; the numbers are read from
//!   `quorum_state()` after the input, so the simulator hands them over only when nothing else
//!   changed the state in that input after the activation (`numbers: None` otherwise);
//! - once a member of R reports a change outside a sync (a quorate flip, a delivered
//!   RECONFIGURE, a last_man_standing expiry) while R is the ring it last activated, R is
//!   *disturbed* and later activations of R are no longer compared: local timers and runtime
//!   changes legitimately move one member before the others have activated;
//! - a RECONFIGURE delivered *in* R (ordered inside R's sync, e.g. a setexpected sent while the
//!   membership changed) disturbs R too: a member that leaves R during the sync activates R
//!   from the messages it holds, which need not include it (extended virtual synchrony gives it
//!   only the messages of the members it moves on with).
//!
//! last_man_standing clusters are compared like any other. They used not to be: per-node
//! history in the expected-vote rows (corosync-behaviour §3.2: an inquorate node records other inquorate
//! members with its own expected votes, and takes over a quorate member's in the middle of the
//! sync) gave members of one ring different expected votes, quorums and even verdicts (seeds
//! 7309, 209, 937, 1082, 1717, 1732). votequorum now settles a sync's expected votes from the
//! nodeinfos of that sync, alike on every member (docs/deviations.md).

use std::collections::BTreeMap;

use quorumd_proto::{Instant, MemberList, NodeId, RingId};

use super::{violation, Checker, Lifecycle, QuorumObservation, Violation, VqNumbers};

#[derive(Debug)]
struct RingRecord {
    first: NodeId,
    quorate: bool,
    numbers: Option<(NodeId, VqNumbers)>,
    disturbed: bool,
}

/// Members of one ring agree on quorate, quorum and expected votes.
#[derive(Debug, Default)]
pub struct QuorumAgreement {
    rings: BTreeMap<RingId, RingRecord>,
    /// Rings a RECONFIGURE was delivered in before any member activated them.
    reconfigured: std::collections::BTreeSet<RingId>,
    holders: super::RingHolders,
    last_activation: BTreeMap<NodeId, RingId>,
}

impl QuorumAgreement {
    fn activated(
        &mut self,
        now: Instant,
        node: NodeId,
        ring_id: RingId,
        members: &MemberList,
        quorate: bool,
        numbers: Option<VqNumbers>,
    ) -> Result<(), Violation> {
        self.last_activation.insert(node, ring_id);
        let name = self.name();
        let Some(rec) = self.rings.get_mut(&ring_id) else {
            let numbers = numbers.map(|n| (node, n));
            let disturbed = self.reconfigured.contains(&ring_id);
            self.rings.insert(ring_id, RingRecord { first: node, quorate, numbers, disturbed });
            return Ok(());
        };
        if rec.disturbed {
            return Ok(());
        }
        if rec.quorate != quorate {
            return Err(violation(
                name,
                now,
                format!(
                    "node {node} activated ring {ring_id} {members} with quorate={quorate}, but node {} \
                     activated it with quorate={}: expected every member to agree",
                    rec.first, rec.quorate
                ),
            ));
        }
        let Some(mine) = numbers else { return Ok(()) };
        let Some((other, theirs)) = rec.numbers else {
            rec.numbers = Some((node, mine));
            return Ok(());
        };
        if mine.quorum != theirs.quorum || mine.expected_votes != theirs.expected_votes {
            return Err(violation(
                name,
                now,
                format!(
                    "node {node} activated ring {ring_id} {members} with quorum {} expected_votes {} \
                     (total_votes {}), but node {other} activated it with quorum {} expected_votes {} \
                     (total_votes {}): expected every member to agree",
                    mine.quorum,
                    mine.expected_votes,
                    mine.total_votes,
                    theirs.quorum,
                    theirs.expected_votes,
                    theirs.total_votes
                ),
            ));
        }
        Ok(())
    }
}

impl Checker for QuorumAgreement {
    fn name(&self) -> &'static str {
        "ring-agrees-on-quorum"
    }

    fn on_quorum(&mut self, now: Instant, node: NodeId, obs: &QuorumObservation) -> Result<(), Violation> {
        match obs {
            QuorumObservation::SyncCompleted { ring_id, members, quorate, numbers } => {
                self.activated(now, node, *ring_id, members, *quorate, *numbers)
            }
            QuorumObservation::Reconfigured { ring_id } => {
                match self.rings.get_mut(ring_id) {
                    Some(rec) => rec.disturbed = true,
                    None => {
                        self.reconfigured.insert(*ring_id);
                    }
                }
                if let Some(rec) = self.last_activation.get(&node).and_then(|r| self.rings.get_mut(r)) {
                    rec.disturbed = true;
                }
                Ok(())
            }
            QuorumObservation::QuorateChanged { .. } | QuorumObservation::LmsExpired => {
                if let Some(rec) = self.last_activation.get(&node).and_then(|r| self.rings.get_mut(r)) {
                    rec.disturbed = true;
                }
                Ok(())
            }
        }
    }

    fn on_event(
        &mut self,
        _now: Instant,
        node: NodeId,
        event: &quorumd_node::TotemEvent,
    ) -> Result<(), Violation> {
        self.holders.on_event(node, event);
        Ok(())
    }

    fn on_lifecycle(&mut self, _now: Instant, node: NodeId, step: Lifecycle) {
        self.last_activation.remove(&node);
        self.holders.on_lifecycle(node);
        if step == Lifecycle::StartedWithLostState {
            // Its own ring ids nobody holds may be reused by a node that lost its state (RingHolders).
            let holders = &self.holders;
            self.rings.retain(|r, _| !holders.may_reuse(node, *r));
            self.reconfigured.retain(|r| !holders.may_reuse(node, *r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn done(r: RingId, quorate: bool, numbers: Option<(u32, u32)>) -> QuorumObservation {
        QuorumObservation::SyncCompleted {
            ring_id: r,
            members: list(&[1, 2, 3]),
            quorate,
            numbers: numbers.map(|(quorum, expected_votes)| VqNumbers {
                quorum,
                expected_votes,
                total_votes: 3,
            }),
        }
    }

    #[test]
    fn members_that_disagree_on_quorate_or_quorum_are_caught() {
        let r = ring(1, 8);
        let mut c = QuorumAgreement::default();
        assert_eq!(c.on_quorum(t(1), n(1), &done(r, true, Some((2, 3)))), Ok(()));
        assert_eq!(c.on_quorum(t(2), n(2), &done(r, true, None)), Ok(()));
        let err = c.on_quorum(t(3), n(3), &done(r, false, Some((2, 3)))).unwrap_err();
        assert!(err.message.contains("node 3 activated ring 1.8 [1 2 3] with quorate=false"), "{err}");
        let mut c = QuorumAgreement::default();
        c.on_quorum(t(1), n(1), &done(r, true, Some((2, 3)))).unwrap();
        let err = c.on_quorum(t(2), n(2), &done(r, true, Some((2, 4)))).unwrap_err();
        assert!(err.message.contains("expected_votes 4"), "{err}");
    }

    #[test]
    fn disturbed_rings_are_not_compared() {
        let r = ring(1, 8);
        let mut c = QuorumAgreement::default();
        c.on_quorum(t(1), n(1), &done(r, true, Some((2, 3)))).unwrap();
        c.on_quorum(t(2), n(1), &QuorumObservation::QuorateChanged { ring_id: r, quorate: false }).unwrap();
        assert_eq!(c.on_quorum(t(3), n(2), &done(r, false, Some((3, 3)))), Ok(()));
        let mut c = QuorumAgreement::default();
        c.on_quorum(t(1), n(1), &done(r, true, Some((2, 3)))).unwrap();
        c.on_quorum(t(2), n(1), &QuorumObservation::LmsExpired).unwrap();
        assert_eq!(c.on_quorum(t(3), n(2), &done(r, true, Some((2, 2)))), Ok(()));
    }

    #[test]
    fn a_reconfigure_ordered_inside_the_sync_disturbs_the_ring() {
        // Node 2 activated R from its nodeinfos while leaving it; node 3 then delivered a
        // setexpected in R before its own activation: the numbers may differ.
        let r = ring(1, 8);
        let mut c = QuorumAgreement::default();
        c.on_quorum(t(1), n(2), &done(r, true, Some((4, 6)))).unwrap();
        c.on_quorum(t(2), n(3), &QuorumObservation::Reconfigured { ring_id: r }).unwrap();
        assert_eq!(c.on_quorum(t(3), n(3), &done(r, true, Some((5, 8)))), Ok(()));
        // Delivered before anyone activated R: the same.
        let mut c = QuorumAgreement::default();
        c.on_quorum(t(1), n(3), &QuorumObservation::Reconfigured { ring_id: r }).unwrap();
        c.on_quorum(t(2), n(3), &done(r, true, Some((5, 8)))).unwrap();
        assert_eq!(c.on_quorum(t(3), n(2), &done(r, true, Some((4, 6)))), Ok(()));
        // Without it, the same disagreement is caught.
        let mut c = QuorumAgreement::default();
        c.on_quorum(t(1), n(2), &done(r, true, Some((4, 6)))).unwrap();
        assert!(c.on_quorum(t(3), n(3), &done(r, true, Some((5, 8)))).is_err());
    }
}
