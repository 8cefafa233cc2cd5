//! Quorum checker (a): no two disjoint partitions are quorate at the same time, while expected
//! votes are fixed (votequorum with no last_man_standing, no auto_tie_breaker, no two_node, no
//! allow_downscale, no configured expected_votes; installed only then, see
//! [`crate::quorum::QuorumSetup::expected_votes_fixed`]). With every node holding the same
//! expected votes E, quorum is at least floor(E/2)+1, and two disjoint sets of nodes cannot
//! both hold that many votes. (`cancel_wait_for_all` keeps this: it lifts the WFA gate, not the
//! vote count, so the checker stays on after one.)
//!
//! The rule, evaluated after every input that changed a node's quorum view and after every
//! lifecycle step: a ring R *is quorate* when at least one running node reports R as its last
//! activation and quorate, and **every running member of R** does so. Two quorate rings whose
//! member sets are disjoint are a split brain.
//!
//! Why "every running member": a node keeps reporting the state of its last activation until a
//! new membership forms around it (corosync-behaviour §2.4: loss is reported only after failure detection,
//! issue #182), so after {1,2} | {3,4,5} splits a quorate {1..5} ring, nodes 1 and 2 still
//! say "quorate, ring {1..5}" while {3,4,5} is quorate in a new ring. That is the inherent
//! stale-view window, not a split brain: ring {1..5} has been abandoned by its running members
//! 3, 4, 5, so it no longer counts. A ring counts only while nobody of it who is alive has moved
//! on; then its members really act as one quorate partition. Crashed, stopped and paused
//! members do not vote on it (they report nothing, or nothing they can act on). A stale ring
//! and a live one are never disjoint anyway (the live one was formed by nodes that left it),
//! so the rule flags only two self-consistent quorate partitions — the real thing.

use std::collections::BTreeMap;

use quorumd_proto::{Instant, MemberList, RingId};

use super::{violation, Checker, QuorumView, Status, Violation};

/// No two disjoint quorate partitions at one instant.
#[derive(Debug, Default)]
pub struct SplitBrain;

/// The rings that are quorate under the rule above, ascending by ring id.
pub fn quorate_rings(views: &[QuorumView]) -> Vec<(RingId, MemberList)> {
    let running = |v: &&QuorumView| v.status == Status::Running;
    let reports = |v: &QuorumView, r: RingId| v.activated && v.quorate && v.ring_id == r;
    let mut candidates: BTreeMap<RingId, MemberList> = BTreeMap::new();
    for v in views.iter().filter(running).filter(|v| reports(v, v.ring_id)) {
        candidates.entry(v.ring_id).or_insert_with(|| v.members.clone());
    }
    candidates
        .into_iter()
        .filter(|(r, members)| {
            members.iter().all(|m| {
                views.iter().find(|v| v.id == m).is_none_or(|v| v.status != Status::Running || reports(v, *r))
            })
        })
        .collect()
}

impl Checker for SplitBrain {
    fn name(&self) -> &'static str {
        "no-split-brain"
    }

    fn on_quorum_views(&mut self, now: Instant, views: &[QuorumView]) -> Result<(), Violation> {
        let rings = quorate_rings(views);
        for (i, (a, am)) in rings.iter().enumerate() {
            for (b, bm) in &rings[i + 1..] {
                if am.intersect(bm).is_empty() {
                    return Err(violation(
                        self.name(),
                        now,
                        format!(
                            "ring {a} {am} and ring {b} {bm} are both quorate (every running member of each \
                             reports it quorate) and share no node: expected at most one quorate partition \
                             while expected votes are fixed"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn v(id: u32, status: Status, quorate: bool, r: RingId, members: &[u32]) -> QuorumView {
        QuorumView { id: n(id), status, activated: true, quorate, ring_id: r, members: list(members) }
    }

    #[test]
    fn two_self_consistent_disjoint_quorate_rings_are_caught() {
        let (a, b) = (ring(1, 8), ring(3, 8));
        let views = [
            v(1, Status::Running, true, a, &[1, 2]),
            v(2, Status::Running, true, a, &[1, 2]),
            v(3, Status::Running, true, b, &[3, 4]),
            v(4, Status::Running, true, b, &[3, 4]),
        ];
        let err = SplitBrain.on_quorum_views(t(1), &views).unwrap_err();
        assert!(err.message.contains("ring 1.8 [1 2] and ring 3.8 [3 4] are both quorate"), "{err}");
    }

    #[test]
    fn a_stale_view_of_an_abandoned_ring_is_not_a_split_brain() {
        // corosync-behaviour §2.4: 1 and 2 have not noticed yet that {3,4,5} left ring 1.4.
        let (old, new) = (ring(1, 4), ring(3, 8));
        let views = [
            v(1, Status::Running, true, old, &[1, 2, 3, 4, 5]),
            v(2, Status::Running, true, old, &[1, 2, 3, 4, 5]),
            v(3, Status::Running, true, new, &[3, 4, 5]),
            v(4, Status::Running, true, new, &[3, 4, 5]),
            v(5, Status::Running, true, new, &[3, 4, 5]),
        ];
        assert_eq!(SplitBrain.on_quorum_views(t(1), &views), Ok(()));
        assert_eq!(quorate_rings(&views), vec![(new, list(&[3, 4, 5]))]);
    }

    #[test]
    fn down_or_paused_members_do_not_vote_and_inquorate_rings_do_not_count() {
        let (a, b) = (ring(1, 8), ring(3, 8));
        let views = [
            v(1, Status::Running, true, a, &[1, 2]),
            v(2, Status::Paused, false, ring(0, 0), &[]),
            v(3, Status::Running, false, b, &[3, 4]),
            v(4, Status::Running, false, b, &[3, 4]),
        ];
        assert_eq!(quorate_rings(&views), vec![(a, list(&[1, 2]))]);
        assert_eq!(SplitBrain.on_quorum_views(t(1), &views), Ok(()));
    }
}
