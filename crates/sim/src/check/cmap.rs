//! cmap's runtime keys agree after a sync (`runtime.members.*`, `runtime.votequorum.*`).
//!
//! Every running node that has completed a sync keeps, in its cmap, `runtime.members.<id>.status`
//! = `joined` for exactly the members of the ring it last activated, and `left` for the others
//! it saw; the members of one ring hold the same joined set, the same `runtime.members.<id>.ip`
//! for them, and the same `runtime.votequorum.{lowest_node_id, highest_node_id, two_node}`.
//! (`join_count` and `this_node_id` are each node's own and are not compared; neither is
//! `config_version`.) Checked whenever a node's quorum view changed, so a node whose keys lag
//! behind its activation is caught at that activation. A node in the middle of a newer sync
//! is checked against the members of its last completed one only.
//!
//! Not a [`super::Checker`]: it reads each node's cmap, which the simulator hands in as
//! [`Snapshot`]s beside the quorum views.

use std::collections::{BTreeMap, BTreeSet};

use quorumd_proto::svc_cmap::CmapValue;
use quorumd_proto::{Instant, MemberList, NodeId, RingId};

use super::{violation, QuorumView, Status, Violation};

const NAME: &str = "cmap-runtime-keys";

/// One node's view and its `runtime.` keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The node's quorum view, with the members of its last completed sync, and that sync's
    /// ring when `settled`.
    pub view: QuorumView,
    /// No newer sync is in progress on the node: it is compared with the other members of
    /// its ring (a node in the middle of a sync is only checked against its own members).
    pub settled: bool,
    /// Its cmap keys under `runtime.members.` and `runtime.votequorum.`, in key order.
    pub keys: Vec<(String, CmapValue)>,
}

/// What members of one ring must agree on.
#[derive(Clone, Debug, PartialEq)]
struct Shared {
    joined: BTreeSet<u32>,
    ips: BTreeMap<u32, CmapValue>,
    votequorum: BTreeMap<String, CmapValue>,
}

fn shared(keys: &[(String, CmapValue)]) -> Shared {
    let mut s = Shared { joined: BTreeSet::new(), ips: BTreeMap::new(), votequorum: BTreeMap::new() };
    let mut ips = BTreeMap::new();
    for (k, v) in keys {
        if let Some(rest) = k.strip_prefix("runtime.members.") {
            let Some((id, field)) = rest.split_once('.') else { continue };
            let Ok(id) = id.parse::<u32>() else { continue };
            match field {
                "status" if *v == CmapValue::String("joined".into()) => {
                    s.joined.insert(id);
                }
                "ip" => {
                    ips.insert(id, v.clone());
                }
                _ => {}
            }
        } else if let Some(field) = k.strip_prefix("runtime.votequorum.") {
            if matches!(field, "lowest_node_id" | "highest_node_id" | "two_node") {
                s.votequorum.insert(field.to_string(), v.clone());
            }
        }
    }
    s.ips = ips.into_iter().filter(|(id, _)| s.joined.contains(id)).collect();
    s
}

fn ids(list: &MemberList) -> BTreeSet<u32> {
    list.iter().map(NodeId::get).collect()
}

/// The checker.
#[derive(Debug, Default)]
pub struct CmapAgreement;

impl CmapAgreement {
    /// Checks every running, activated node's keys against its view and against the other
    /// members of its ring.
    pub fn check(&mut self, now: Instant, nodes: &[Snapshot]) -> Result<(), Violation> {
        let mut by_ring: BTreeMap<RingId, (NodeId, Shared)> = BTreeMap::new();
        for n in nodes.iter().filter(|n| n.view.status == Status::Running && n.view.activated) {
            let mine = shared(&n.keys);
            let want = ids(&n.view.members);
            if mine.joined != want {
                return Err(violation(
                    NAME,
                    now,
                    format!(
                        "node {} activated ring {} with members {:?} but its cmap has runtime.members.*.status = joined for {:?}",
                        n.view.id, n.view.ring_id, want, mine.joined
                    ),
                ));
            }
            if !n.settled {
                continue;
            }
            match by_ring.get(&n.view.ring_id) {
                None => {
                    by_ring.insert(n.view.ring_id, (n.view.id, mine));
                }
                Some((other, theirs)) if *theirs != mine => {
                    return Err(violation(
                        NAME,
                        now,
                        format!(
                            "members of ring {} disagree: node {other} has {theirs:?}, node {} has {mine:?}",
                            n.view.ring_id, n.view.id
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{list, n, ring, t};

    fn snap(id: u32, r: RingId, members: &[u32], joined: &[u32], lowest: u32) -> Snapshot {
        let mut keys = Vec::new();
        for m in 1..=3u32 {
            let status = if joined.contains(&m) { "joined" } else { "left" };
            keys.push((
                format!("runtime.members.{m}.ip"),
                CmapValue::String(format!("r(0) ip(10.0.0.{m}) ")),
            ));
            keys.push((format!("runtime.members.{m}.join_count"), CmapValue::U32(id)));
            keys.push((format!("runtime.members.{m}.status"), CmapValue::String(status.into())));
        }
        keys.push(("runtime.votequorum.lowest_node_id".into(), CmapValue::U32(lowest)));
        keys.push(("runtime.votequorum.this_node_id".into(), CmapValue::U32(id)));
        let view = QuorumView {
            id: n(id),
            status: Status::Running,
            activated: true,
            quorate: true,
            ring_id: r,
            members: list(members),
        };
        Snapshot { view, settled: true, keys }
    }

    #[test]
    fn members_of_one_ring_with_the_same_keys_pass() {
        let r = ring(1, 8);
        let nodes = [snap(1, r, &[1, 2, 3], &[1, 2, 3], 1), snap(2, r, &[1, 2, 3], &[1, 2, 3], 1)];
        // join_count and this_node_id differ: each node's own.
        CmapAgreement.check(t(1), &nodes).unwrap();
        // Another ring's members may hold other keys.
        let other = [snap(1, r, &[1, 2], &[1, 2], 1), snap(3, ring(3, 8), &[3], &[3], 3)];
        CmapAgreement.check(t(1), &other).unwrap();
        // A node in a newer sync is not compared with the members of its last ring.
        let mut busy = snap(2, r, &[1, 2, 3], &[1, 2, 3], 2);
        busy.settled = false;
        CmapAgreement.check(t(1), &[snap(1, r, &[1, 2, 3], &[1, 2, 3], 1), busy]).unwrap();
    }

    #[test]
    fn keys_lagging_behind_the_activation_are_caught() {
        let r = ring(1, 12);
        // Node 2 activated {1,2,3} but still shows the previous ring's joined set.
        let v = CmapAgreement.check(t(5), &[snap(2, r, &[1, 2, 3], &[1, 2], 1)]).unwrap_err();
        assert_eq!(v.checker, NAME);
        assert!(v.message.contains("node 2 activated ring"), "{v}");
    }

    #[test]
    fn members_of_one_ring_disagreeing_on_votequorum_keys_are_caught() {
        let r = ring(1, 12);
        let nodes = [snap(1, r, &[1, 2, 3], &[1, 2, 3], 1), snap(3, r, &[1, 2, 3], &[1, 2, 3], 2)];
        let v = CmapAgreement.check(t(5), &nodes).unwrap_err();
        assert!(v.message.contains("disagree"), "{v}");
    }

    #[test]
    fn stopped_or_not_activated_nodes_are_not_looked_at() {
        let r = ring(1, 12);
        let mut s = snap(2, r, &[1, 2, 3], &[1], 1);
        s.view.activated = false;
        CmapAgreement.check(t(5), std::slice::from_ref(&s)).unwrap();
        s.view.activated = true;
        s.view.status = Status::Crashed;
        CmapAgreement.check(t(5), &[s]).unwrap();
    }
}
