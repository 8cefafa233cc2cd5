//! Quorum checker (c): what a tracking client receives (corosync-behaviour §1.4, §2.2, §2.3).
//!
//! Every running node gets one V1 and one V0 client after its first sync (`Init`, then
//! `TrackStart CURRENT|CHANGES`). Each connection must see:
//! - `Init` answered OK with the quorum type (1 with a provider, 0 without);
//! - the snapshot: V1 a nodelist notification (no joined/left), then a quorum notification;
//!   V0 a quorum notification; then the trackstart result OK. (The snapshot's two halves may
//!   name different rings when taken during a sync, corosync-behaviour §2.4, so they are not paired.)
//!   Without a provider the snapshot's quorum part is quorate=1, ring 0.0, empty view (§2.3);
//! - then, with a provider: on a V1 connection every nodelist(R) is followed at once by
//!   quorum(R) with the same view (§2.2 trigger 1), and a quorum notification without a
//!   nodelist before it (a flip outside a sync, trigger 2) names the ring of the last nodelist;
//!   V0 connections get quorum notifications only;
//! - without a provider: no quorum notification at all after the snapshot; V1 still gets
//!   nodelist notifications.
//!
//! Responses to later requests (getquorate, cancel_wait_for_all) are not notifications and are
//! not looked at here.

use std::collections::BTreeMap;

use quorumd_node::Model;
use quorumd_proto::ipc::{cs, Frame, Notification, Response, WireRingId};
use quorumd_proto::{Instant, NodeId};

use super::{violation, Checker, Lifecycle, Violation};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Init,
    SnapshotNodelist,
    SnapshotQuorum,
    TrackResult,
    Tracking,
}

#[derive(Debug)]
struct Client {
    phase: Phase,
    last_nodelist: Option<(WireRingId, Vec<u32>)>,
    /// A nodelist notification whose quorum notification must come next.
    quorum_due: bool,
}

/// Notification order and content, per client connection.
#[derive(Debug)]
pub struct ClientNotifications {
    provider: bool,
    clients: BTreeMap<(NodeId, bool), Client>,
}

impl ClientNotifications {
    /// A checker for a cluster with (or without) a quorum provider.
    pub fn new(provider: bool) -> ClientNotifications {
        ClientNotifications { provider, clients: BTreeMap::new() }
    }

    fn step(&self, c: &mut Client, v1: bool, frame: &Frame) -> Result<(), String> {
        let due = c.phase == Phase::Tracking && c.quorum_due;
        if due && !matches!(frame, Frame::Notification(Notification::Quorum { .. })) {
            return Err(format!(
                "received {frame:?} right after a nodelist notification; expected its quorum notification"
            ));
        }
        match (c.phase, frame) {
            (Phase::Init, Frame::Response(Response::Init { error, quorum_type })) => {
                let want = u32::from(self.provider);
                if *error != cs::OK || *quorum_type != want {
                    return Err(format!(
                        "init answered error {error} quorum_type {quorum_type}; expected OK ({}) and {want}",
                        cs::OK
                    ));
                }
                c.phase = if v1 { Phase::SnapshotNodelist } else { Phase::SnapshotQuorum };
            }
            (
                Phase::SnapshotNodelist,
                Frame::Notification(Notification::Nodelist { ring_id, members, joined, left }),
            ) => {
                if !joined.is_empty() || !left.is_empty() {
                    return Err(format!(
                        "the snapshot nodelist has joined {joined:?} left {left:?}; expected none"
                    ));
                }
                c.last_nodelist = Some((*ring_id, members.clone()));
                c.phase = Phase::SnapshotQuorum;
            }
            (
                Phase::SnapshotQuorum,
                Frame::Notification(Notification::Quorum { quorate, ring_id, members }),
            ) => {
                if !self.provider
                    && (*quorate != 1 || *ring_id != WireRingId::default() || !members.is_empty())
                {
                    return Err(format!(
                        "QUORUM_FREE snapshot is quorate={quorate} ring {}.{:x} view {members:?}; expected \
                         quorate=1 ring 0.0 and an empty view (corosync-behaviour §2.3)",
                        ring_id.nodeid, ring_id.seq
                    ));
                }
                c.phase = Phase::TrackResult;
            }
            (Phase::TrackResult, Frame::Response(Response::Result { error })) if *error == cs::OK => {
                c.phase = Phase::Tracking;
            }
            (Phase::Tracking, Frame::Response(_)) => {}
            (Phase::Tracking, Frame::Notification(n)) => self.notification(c, v1, n)?,
            (phase, other) => return Err(format!("received {other:?} while expecting {phase:?}")),
        }
        Ok(())
    }

    fn notification(&self, c: &mut Client, v1: bool, n: &Notification) -> Result<(), String> {
        match n {
            Notification::Nodelist { .. } if !v1 => {
                Err("a V0 client received a nodelist notification".into())
            }
            Notification::Nodelist { ring_id, members, .. } => {
                if c.quorum_due {
                    return Err(
                        "two nodelist notifications without a quorum notification between them".into()
                    );
                }
                c.last_nodelist = Some((*ring_id, members.clone()));
                c.quorum_due = self.provider;
                Ok(())
            }
            Notification::Quorum { ring_id, .. } if !self.provider => Err(format!(
                "a quorum notification (ring {}.{:x}) without a quorum provider; expected none after the \
                 snapshot (corosync-behaviour §2.3)",
                ring_id.nodeid, ring_id.seq
            )),
            Notification::Quorum { .. } if !v1 => Ok(()),
            Notification::Quorum { ring_id, members, .. } => {
                let due = std::mem::take(&mut c.quorum_due);
                match &c.last_nodelist {
                    Some((r, m)) if r == ring_id && (!due || m == members) => Ok(()),
                    Some((r, m)) => Err(format!(
                        "quorum notification for ring {}.{:x} view {members:?} after the nodelist of ring {}.{:x} \
                         {m:?}; expected nodelist(R) before quorum(R) with the same members",
                        ring_id.nodeid, ring_id.seq, r.nodeid, r.seq
                    )),
                    None => Err("a quorum notification before any nodelist notification".into()),
                }
            }
        }
    }
}

impl Checker for ClientNotifications {
    fn name(&self) -> &'static str {
        "client-notifications"
    }

    fn on_client(
        &mut self,
        now: Instant,
        node: NodeId,
        model: Model,
        frame: &Frame,
    ) -> Result<(), Violation> {
        let v1 = model == Model::V1;
        let mut c = self.clients.remove(&(node, v1)).unwrap_or(Client {
            phase: Phase::Init,
            last_nodelist: None,
            quorum_due: false,
        });
        let result = self.step(&mut c, v1, frame);
        self.clients.insert((node, v1), c);
        result.map_err(|why| violation(self.name(), now, format!("{model:?} client of node {node}: {why}")))
    }

    fn on_lifecycle(&mut self, _now: Instant, node: NodeId, _step: Lifecycle) {
        self.clients.remove(&(node, true));
        self.clients.remove(&(node, false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn nodelist(seq: u64, members: &[u32]) -> Frame {
        let ring_id = WireRingId { nodeid: 1, seq };
        Frame::Notification(Notification::Nodelist {
            ring_id,
            members: members.to_vec(),
            joined: vec![],
            left: vec![],
        })
    }

    fn quorum(seq: u64, members: &[u32]) -> Frame {
        let ring_id = WireRingId { nodeid: if seq == 0 { 0 } else { 1 }, seq };
        Frame::Notification(Notification::Quorum { quorate: 1, ring_id, members: members.to_vec() })
    }

    fn handshake(c: &mut ClientNotifications, model: Model, provider: bool) {
        let init = Frame::Response(Response::Init { error: cs::OK, quorum_type: u32::from(provider) });
        c.on_client(t(0), n(1), model, &init).unwrap();
        if model == Model::V1 {
            c.on_client(t(0), n(1), model, &nodelist(5, &[1])).unwrap();
        }
        let q = if provider { quorum(5, &[1]) } else { quorum(0, &[]) };
        c.on_client(t(0), n(1), model, &q).unwrap();
        c.on_client(t(0), n(1), model, &Frame::Response(Response::Result { error: cs::OK })).unwrap();
    }

    #[test]
    fn spec_2_2_nodelist_then_quorum_passes_and_quorum_first_is_caught() {
        let mut c = ClientNotifications::new(true);
        handshake(&mut c, Model::V1, true);
        assert_eq!(c.on_client(t(1), n(1), Model::V1, &nodelist(9, &[1, 2])), Ok(()));
        assert_eq!(c.on_client(t(1), n(1), Model::V1, &quorum(9, &[1, 2])), Ok(()));
        assert_eq!(c.on_client(t(2), n(1), Model::V1, &quorum(9, &[1, 2])), Ok(()), "a flip outside a sync");
        let err = c.on_client(t(3), n(1), Model::V1, &quorum(0xd, &[1, 2, 3])).unwrap_err();
        assert!(err.message.contains("quorum notification for ring 1.d"), "{err}");
    }

    #[test]
    fn v0_gets_no_nodelist_and_quorum_free_no_quorum_notification() {
        let mut c = ClientNotifications::new(true);
        handshake(&mut c, Model::V0, true);
        assert!(c.on_client(t(1), n(1), Model::V0, &nodelist(9, &[1, 2])).is_err());
        let mut c = ClientNotifications::new(false);
        handshake(&mut c, Model::V1, false);
        assert_eq!(c.on_client(t(1), n(1), Model::V1, &nodelist(9, &[1, 2])), Ok(()));
        let err = c.on_client(t(1), n(1), Model::V1, &quorum(9, &[1, 2])).unwrap_err();
        assert!(err.message.contains("without a quorum provider"), "{err}");
    }

    #[test]
    fn a_missing_snapshot_is_caught() {
        let mut c = ClientNotifications::new(true);
        let init = Frame::Response(Response::Init { error: cs::OK, quorum_type: 1 });
        c.on_client(t(0), n(1), Model::V1, &init).unwrap();
        let err = c.on_client(t(0), n(1), Model::V1, &Frame::Response(Response::Result { error: cs::OK }));
        assert!(err.unwrap_err().message.contains("while expecting SnapshotNodelist"));
    }
}
