//! Redundant links (worlds with two links or more; docs/simulator.md, "Redundant links").
//!
//! Two promises, each judged from a settled cluster: every running node has installed the
//! same ring, whose members are exactly the running nodes, no node is paused, the network
//! loses nothing, and every pair of running nodes has a steady working link (neither cut in
//! either direction nor flapping, at node level or on that link, for the grace of
//! [`crate::links::LinkWatch`]). From such a state the checker is *armed*; then:
//!
//! - **link-failover**: while every pair of running nodes keeps a steady working link, no node
//!   changes its view (no configuration change at all), whatever the other links do (cut one
//!   way or both, flapping);
//! - **partial-connectivity**: a network change that leaves some pair of running nodes with no
//!   working link at all (a one-way cut of every link to a node, a non-transitive partition, a
//!   pair whose every link flaps), but is no plain split, opens a fault window that lasts
//!   until the next change of the network or of a node's status; in it each node installs at
//!   most one new regular configuration (one view change per fault, then a stable view). A
//!   plain split (groups connected within, every direction between them cut: see
//!   [`LinkEnv::split`]) is Totem's alone: a side may first form a sub-ring and then merge, as
//!   in corosync, and the rule promises nothing there.
//!
//! Anything else (a node started, crashed, stopped, paused or resumed, an adversary's burst, a
//! loss change, a second fault before the cluster settled) disarms the checker until the
//! cluster is settled again: what follows is not the links' doing.

use std::collections::BTreeMap;

use quorumd_node::{ConfKind, TotemEvent};
use quorumd_proto::{Instant, MemberList, NodeId, RingId};

use super::{fmt_ms, violation, Checker, Lifecycle, Violation};
use crate::links::LinkEnv;

/// The link checkers' state.
#[derive(Debug, Default)]
pub struct LinkChecker {
    env: Option<LinkEnv>,
    /// Each running node's installed ring.
    rings: BTreeMap<NodeId, (RingId, MemberList)>,
    /// The nodes whose Totem is operational.
    operational: BTreeMap<NodeId, bool>,
    /// Settled under a protected environment since then, in this ring.
    armed: Option<(Instant, RingId)>,
    /// The open partial-connectivity window: when the fault happened, and the regular
    /// configurations each node installed since.
    window: Option<(Instant, BTreeMap<NodeId, Vec<RingId>>)>,
}

impl LinkChecker {
    fn settled_ring(&self, env: &LinkEnv) -> Option<RingId> {
        if env.running.len() < 2 {
            return None;
        }
        let (ring, members) = self.rings.get(&env.running[0])?;
        let all = members.len() == env.running.len() && env.running.iter().all(|n| members.contains(*n));
        let same = env.running.iter().all(|n| {
            self.rings.get(n).is_some_and(|(r, _)| r == ring) && self.operational.get(n) == Some(&true)
        });
        (all && same).then_some(*ring)
    }

    fn try_arm(&mut self, now: Instant) {
        if self.armed.is_some() || self.window.is_some() {
            return;
        }
        let Some(env) = &self.env else { return };
        if !env.protected_at(now) {
            return;
        }
        if let Some(ring) = self.settled_ring(env) {
            self.armed = Some((now, ring));
        }
    }
}

impl Checker for LinkChecker {
    fn name(&self) -> &'static str {
        "links"
    }

    fn on_links(&mut self, now: Instant, env: &LinkEnv) -> Result<(), Violation> {
        let was_armed = self.armed.take();
        self.window = None;
        // Partial connectivity is judged for one fault on a whole network: every link of every
        // pair worked until then (a link cut or flapping unnoticed yet loses what rr and
        // passive send on it, which is not the rule's doing).
        let was_whole = self.env.as_ref().is_some_and(|e| e.whole_from.is_some_and(|t| t <= now));
        if let (false, Some(armed)) = (env.disturbed, was_armed) {
            if env.protected_at(now) {
                self.armed = Some(armed);
            } else if env.partial && !env.split && env.lossless && !env.paused && was_whole {
                self.window = Some((now, BTreeMap::new()));
            }
        }
        self.env = Some(env.clone());
        self.try_arm(now);
        Ok(())
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
        let cc = match event {
            TotemEvent::ConfChange(cc) => cc,
            TotemEvent::StateChanged { state, .. } => {
                self.operational.insert(node, *state == quorumd_totem::State::Operational);
                self.try_arm(now);
                return Ok(());
            }
            _ => {
                self.try_arm(now);
                return Ok(());
            }
        };
        if let Some((since, ring)) = self.armed {
            return Err(violation(
                "link-failover",
                now,
                format!(
                    "node {node} changed its view ({:?} configuration of ring {} with members {}, left {}) \
                     although every pair of running nodes has had a working link since {} ms, when all \
                     of them were settled in ring {ring}",
                    cc.kind,
                    cc.ring_id,
                    cc.members,
                    cc.left,
                    fmt_ms(since)
                ),
            ));
        }
        if cc.kind == ConfKind::Regular {
            self.rings.insert(node, (cc.ring_id, cc.members.clone()));
            if let Some((at, installed)) = self.window.as_mut() {
                let mine = installed.entry(node).or_default();
                mine.push(cc.ring_id);
                if mine.len() > 1 {
                    let rings: Vec<String> = mine.iter().map(|r| r.to_string()).collect();
                    return Err(violation(
                        "partial-connectivity",
                        now,
                        format!(
                            "node {node} installed {} views since the network fault at {} ms (rings {}; now \
                             members {}): at most one view change per fault",
                            mine.len(),
                            fmt_ms(*at),
                            rings.join(", "),
                            cc.members
                        ),
                    ));
                }
            }
        }
        self.try_arm(now);
        Ok(())
    }

    fn on_lifecycle(&mut self, _now: Instant, node: NodeId, _step: Lifecycle) {
        self.rings.remove(&node);
        self.operational.remove(&node);
        self.armed = None;
        self.window = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{n, regular, ring, t, transitional};

    fn env(running: &[u32], connected_from: Option<u64>, partial: bool) -> LinkEnv {
        LinkEnv {
            disturbed: false,
            running: running.iter().map(|r| n(*r)).collect(),
            paused: false,
            lossless: true,
            connected_from: connected_from.map(t),
            whole_from: connected_from.map(t),
            partial,
            split: false,
        }
    }

    fn operational() -> TotemEvent {
        TotemEvent::StateChanged { state: quorumd_totem::State::Operational, reason: "new ring installed" }
    }

    /// Three nodes settled in ring 1.4 at 10 ms under full connectivity.
    fn settled() -> LinkChecker {
        let mut c = LinkChecker::default();
        c.on_links(t(0), &env(&[1, 2, 3], Some(5), false)).unwrap();
        for node in 1..=3 {
            c.on_event(t(10), n(node), &regular(ring(1, 1), ring(1, 4), &[1, 2, 3])).unwrap();
            c.on_event(t(10), n(node), &operational()).unwrap();
        }
        assert!(c.armed.is_some());
        c
    }

    #[test]
    fn a_view_change_while_every_pair_keeps_a_link_is_a_violation() {
        let mut c = settled();
        // Link 0 cut everywhere: link 1 still carries every pair.
        c.on_links(t(20), &env(&[1, 2, 3], Some(5), false)).unwrap();
        let v = c.on_event(t(900), n(2), &transitional(ring(1, 4), ring(1, 8), &[2, 3])).unwrap_err();
        assert_eq!(v.checker, "link-failover");
        assert!(v.message.contains("node 2 changed its view"), "{v}");
    }

    #[test]
    fn a_view_change_after_a_disturbance_or_without_a_working_link_is_not_judged() {
        for e in [
            // A disturbance: the watch protects again only a token later.
            LinkEnv { disturbed: true, ..env(&[1, 2, 3], Some(1020), false) },
            LinkEnv { paused: true, ..env(&[1, 2, 3], Some(5), false) },
            LinkEnv { lossless: false, ..env(&[1, 2, 3], Some(5), false) },
            // A link restored a moment ago does not count yet.
            env(&[1, 2, 3], Some(800), false),
        ] {
            let mut c = settled();
            c.on_links(t(20), &e).unwrap();
            c.on_event(t(30), n(2), &transitional(ring(1, 4), ring(1, 8), &[2, 3])).unwrap();
            c.on_event(t(30), n(2), &regular(ring(1, 4), ring(1, 8), &[2, 3])).unwrap();
        }
        // Nor before the cluster settled: node 3 is not in the ring yet.
        let mut c = LinkChecker::default();
        c.on_links(t(0), &env(&[1, 2, 3], Some(5), false)).unwrap();
        c.on_event(t(10), n(1), &regular(ring(1, 1), ring(1, 4), &[1, 2])).unwrap();
        c.on_event(t(10), n(2), &regular(ring(1, 1), ring(1, 4), &[1, 2])).unwrap();
        c.on_event(t(20), n(1), &regular(ring(1, 4), ring(1, 8), &[1, 2, 3])).unwrap();
    }

    #[test]
    fn a_plain_split_opens_no_window() {
        let mut c = settled();
        // {1,2} and {3} apart both ways on every link: Totem's, two views are allowed.
        c.on_links(t(20), &LinkEnv { split: true, ..env(&[1, 2, 3], None, true) }).unwrap();
        c.on_event(t(900), n(3), &regular(ring(1, 4), ring(3, 8), &[3])).unwrap();
        c.on_event(t(950), n(3), &regular(ring(3, 8), ring(3, 12), &[3])).unwrap();
        // The same view changes after a fault that is no plain split are violations.
        let mut c = settled();
        c.on_links(t(20), &env(&[1, 2, 3], None, true)).unwrap();
        c.on_event(t(900), n(3), &regular(ring(1, 4), ring(3, 8), &[3])).unwrap();
        let v = c.on_event(t(950), n(3), &regular(ring(3, 8), ring(3, 12), &[3])).unwrap_err();
        assert_eq!(v.checker, "partial-connectivity");
    }

    #[test]
    fn a_partial_connectivity_fault_allows_one_view_change_per_node() {
        let mut c = settled();
        // Node 3 hears nobody on any link: one view change each is fine.
        c.on_links(t(20), &env(&[1, 2, 3], None, true)).unwrap();
        c.on_event(t(900), n(1), &regular(ring(1, 4), ring(1, 8), &[1, 2])).unwrap();
        c.on_event(t(900), n(2), &regular(ring(1, 4), ring(1, 8), &[1, 2])).unwrap();
        c.on_event(t(950), n(3), &regular(ring(1, 4), ring(3, 8), &[3])).unwrap();
        // A second one is not.
        let v = c.on_event(t(3000), n(3), &regular(ring(3, 8), ring(1, 12), &[1, 2, 3])).unwrap_err();
        assert_eq!(v.checker, "partial-connectivity");
        assert!(v.message.contains("node 3 installed 2 views"), "{v}");
        // The next fault opens no new window before the cluster settled again.
        c.on_links(t(4000), &env(&[1, 2, 3], None, true)).unwrap();
        c.on_event(t(4100), n(1), &regular(ring(1, 8), ring(1, 16), &[1])).unwrap();
        c.on_event(t(4200), n(1), &regular(ring(1, 16), ring(1, 20), &[1, 2])).unwrap();
    }
}
