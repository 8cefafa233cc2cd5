//! The quorum service end to end on a tiny fixed-latency network of real `Node`s: client
//! sessions (corosync-behaviour §1.4), notification order (corosync-behaviour §2.2), QUORUM_FREE (corosync-behaviour §2.3), access
//! (corosync-behaviour §6.1) and votequorum answers (corosync-behaviour §3).

use std::collections::BTreeMap;

use quorumd_node::{track, AccessPolicy, ClientInput, ClientOutput, ConnId, Node, NodeEvent, NodeParams};
use quorumd_proto::ipc::{self, cs, Frame, Notification, Request, Response};
use quorumd_proto::{Duration, Instant, MemberList, NodeId};
use quorumd_totem::TotemKeys;
use quorumd_votequorum::VqConfig;

fn id(n: u32) -> NodeId {
    NodeId::new(n).unwrap()
}

struct Net {
    now: Instant,
    nodes: BTreeMap<NodeId, Node>,
    nodelist: MemberList,
    in_flight: BTreeMap<(Instant, u64), (NodeId, Vec<u8>)>,
    counter: u64,
    frames: BTreeMap<(NodeId, ConnId), Vec<Frame>>,
    closed: Vec<(NodeId, ConnId)>,
    events: Vec<(NodeId, NodeEvent)>,
    quorum_keys: Option<Vec<(String, String)>>,
    access: AccessPolicy,
}

impl Net {
    fn new(n: u32, quorum_keys: Option<&[(&str, &str)]>) -> Net {
        Net {
            now: Instant::from_micros(1_000_000),
            nodes: BTreeMap::new(),
            nodelist: MemberList::from_ids((1..=n).map(id)).unwrap(),
            in_flight: BTreeMap::new(),
            counter: 0,
            frames: BTreeMap::new(),
            closed: Vec::new(),
            events: Vec::new(),
            quorum_keys: quorum_keys.map(|k| k.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()),
            access: AccessPolicy { uids: [1000].into(), gids: [].into() },
        }
    }

    fn start(&mut self, n: u32) {
        let mut p = NodeParams::new(id(n), self.nodelist.clone(), TotemKeys::default().derive(3).unwrap());
        p.cluster_id = 9;
        p.access = self.access.clone();
        if let Some(keys) = &self.quorum_keys {
            let cfg = VqConfig::from_keys(&self.nodelist, keys.iter().map(|(a, b)| (a.as_str(), b.as_str())));
            p.quorum = Some(cfg.unwrap().validate(id(n)).unwrap());
        }
        self.nodes.insert(id(n), Node::new(p, self.now));
        self.drain(id(n));
    }

    fn crash(&mut self, n: u32) {
        self.nodes.remove(&id(n));
    }

    fn drain(&mut self, n: NodeId) {
        let Some(node) = self.nodes.get_mut(&n) else { return };
        while let Some(e) = node.poll_event() {
            self.events.push((n, e));
        }
        while let Some(t) = node.poll_transmit() {
            for to in t.to {
                self.counter += 1;
                self.in_flight
                    .insert((self.now + Duration::from_micros(200), self.counter), (to, t.bytes.clone()));
            }
        }
        while let Some((conn, out)) = node.poll_client() {
            match out {
                ClientOutput::Send(b) => {
                    self.frames.entry((n, conn)).or_default().push(ipc::decode(&b).unwrap())
                }
                ClientOutput::Close => self.closed.push((n, conn)),
            }
        }
    }

    fn run_ms(&mut self, ms: u64) {
        let until = self.now + Duration::from_millis(ms);
        loop {
            let next_msg = self.in_flight.keys().next().map(|k| k.0);
            let next_timer = self.nodes.values().filter_map(Node::poll_timeout).min();
            let Some(next) = [next_msg, next_timer].into_iter().flatten().min().filter(|t| *t <= until)
            else {
                self.now = until;
                return;
            };
            self.now = self.now.max(next);
            if next_msg == Some(next) {
                let key = *self.in_flight.keys().next().unwrap();
                let (to, bytes) = self.in_flight.remove(&key).unwrap();
                if let Some(node) = self.nodes.get_mut(&to) {
                    let _ = node.handle_datagram(self.now, &bytes);
                    self.drain(to);
                }
            } else {
                let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
                for n in ids {
                    let node = self.nodes.get_mut(&n).unwrap();
                    if node.poll_timeout().is_some_and(|d| d <= self.now) {
                        node.handle_timeout(self.now);
                        self.drain(n);
                    }
                }
            }
        }
    }

    fn client(&mut self, n: u32, conn: u64, uid: u32, input: Option<Request>) {
        let node = self.nodes.get_mut(&id(n)).unwrap();
        match input {
            None => {
                node.handle_client(self.now, ConnId(conn), ClientInput::Connected { uid, gid: uid, pid: 42 })
            }
            Some(r) => node.handle_client(
                self.now,
                ConnId(conn),
                ClientInput::Frame(ipc::encode(&Frame::Request(r))),
            ),
        }
        self.drain(id(n));
    }

    fn take(&mut self, n: u32, conn: u64) -> Vec<Frame> {
        self.frames.remove(&(id(n), ConnId(conn))).unwrap_or_default()
    }

    fn quorate(&self, n: u32) -> bool {
        self.nodes[&id(n)].quorate()
    }
}

fn votequorum() -> Option<&'static [(&'static str, &'static str)]> {
    Some(&[("provider", "corosync_votequorum")])
}

#[test]
fn spec_2_4_init_is_try_again_before_the_first_sync_and_ok_after() {
    let mut net = Net::new(3, votequorum());
    net.start(1);
    net.client(1, 1, 0, None);
    net.client(1, 1, 0, Some(Request::Init { model: 1 }));
    assert_eq!(
        net.take(1, 1),
        vec![Frame::Response(Response::Init { error: cs::ERR_TRY_AGAIN, quorum_type: 1 })]
    );
    assert!(net.closed.contains(&(id(1), ConnId(1))));
    net.run_ms(500);
    net.client(1, 2, 0, None);
    net.client(1, 2, 0, Some(Request::Init { model: 1 }));
    assert_eq!(net.take(1, 2), vec![Frame::Response(Response::Init { error: cs::OK, quorum_type: 1 })]);
}

#[test]
fn spec_6_1_unlisted_users_get_access_denied() {
    let mut net = Net::new(1, votequorum());
    net.start(1);
    net.run_ms(500);
    net.client(1, 1, 65534, None);
    net.client(1, 1, 65534, Some(Request::Init { model: 0 }));
    assert_eq!(
        net.take(1, 1),
        vec![Frame::Response(Response::Init { error: cs::ERR_ACCESS, quorum_type: 1 })]
    );
    assert!(net.events.iter().any(|(_, e)| matches!(e, NodeEvent::AccessDenied { uid: 65534, .. })));
    net.client(1, 2, 1000, None);
    net.client(1, 2, 1000, Some(Request::Init { model: 0 }));
    assert_eq!(net.take(1, 2), vec![Frame::Response(Response::Init { error: cs::OK, quorum_type: 1 })]);
}

#[test]
fn spec_1_4_trackstart_table_and_quirks() {
    let mut net = Net::new(1, votequorum());
    net.start(1);
    net.run_ms(500);
    net.client(1, 1, 0, None);
    net.client(1, 1, 0, Some(Request::Init { model: 1 }));
    net.take(1, 1);
    // CURRENT alone: snapshot (nodelist then quorum for V1), OK, repeatable, no tracking.
    net.client(1, 1, 0, Some(Request::TrackStart { flags: track::CURRENT }));
    let f = net.take(1, 1);
    assert!(matches!(f[0], Frame::Notification(Notification::Nodelist { .. })));
    assert!(matches!(f[1], Frame::Notification(Notification::Quorum { .. })));
    assert_eq!(f[2], Frame::Response(Response::Result { error: cs::OK }));
    net.client(1, 1, 0, Some(Request::TrackStart { flags: track::CURRENT }));
    assert_eq!(net.take(1, 1).len(), 3);
    // CHANGES_ONLY: no snapshot, tracking on.
    net.client(1, 1, 0, Some(Request::TrackStart { flags: track::CHANGES_ONLY }));
    assert_eq!(net.take(1, 1), vec![Frame::Response(Response::Result { error: cs::OK })]);
    // CHANGES again: snapshot still sent, then EXIST (quirk 2).
    net.client(1, 1, 0, Some(Request::TrackStart { flags: track::CHANGES }));
    let f = net.take(1, 1);
    assert_eq!(f.len(), 3);
    assert_eq!(f[2], Frame::Response(Response::Result { error: cs::ERR_EXIST }));
    // trackstop: OK even twice (quirk 1).
    for _ in 0..2 {
        net.client(1, 1, 0, Some(Request::TrackStop));
        assert_eq!(net.take(1, 1), vec![Frame::Response(Response::Result { error: cs::OK })]);
    }
    // flags 0: OK, nothing else.
    net.client(1, 1, 0, Some(Request::TrackStart { flags: 0 }));
    assert_eq!(net.take(1, 1), vec![Frame::Response(Response::Result { error: cs::OK })]);
}

#[test]
fn spec_2_2_nodelist_then_quorum_for_each_ring_and_v0_gets_quorum_only() {
    let mut net = Net::new(3, votequorum());
    net.start(1);
    net.run_ms(500);
    for (conn, model) in [(1, 1), (2, 0)] {
        net.client(1, conn, 0, None);
        net.client(1, conn, 0, Some(Request::Init { model }));
        net.client(1, conn, 0, Some(Request::TrackStart { flags: track::CHANGES_ONLY }));
        net.take(1, conn);
    }
    assert!(!net.quorate(1), "1 of 3 votes");
    net.start(2);
    net.run_ms(300);
    assert!(net.quorate(1));
    let v1 = net.take(1, 1);
    assert_eq!(v1.len(), 2, "{v1:?}");
    let (
        Frame::Notification(Notification::Nodelist { ring_id: r1, members, joined, left }),
        Frame::Notification(Notification::Quorum { quorate, ring_id: r2, members: view }),
    ) = (&v1[0], &v1[1])
    else {
        panic!("order: {v1:?}")
    };
    assert_eq!((members.clone(), joined.clone(), left.clone()), (vec![1, 2], vec![2], vec![]));
    assert_eq!((r1, *quorate, view.clone()), (r2, 1, vec![1, 2]));
    let v0 = net.take(1, 2);
    assert_eq!(v0.len(), 1);
    assert!(matches!(&v0[0], Frame::Notification(Notification::Quorum { quorate: 1, .. })));
    // A crash: quorum lost on the survivor, reported after the new ring.
    net.crash(2);
    net.run_ms(2000);
    assert!(!net.quorate(1));
    let v1 = net.take(1, 1);
    assert!(
        matches!(
            &v1[..],
            [
                Frame::Notification(Notification::Nodelist { .. }),
                Frame::Notification(Notification::Quorum { quorate: 0, .. })
            ]
        ),
        "{v1:?}"
    );
}

#[test]
fn spec_2_3_quorum_free_snapshot_and_no_quorum_notifications() {
    let mut net = Net::new(2, None);
    net.start(1);
    net.run_ms(500);
    net.client(1, 1, 0, None);
    net.client(1, 1, 0, Some(Request::Init { model: 1 }));
    net.client(1, 1, 0, Some(Request::GetQuorate));
    net.client(1, 1, 0, Some(Request::TrackStart { flags: track::CHANGES }));
    let f = net.take(1, 1);
    assert_eq!(f[0], Frame::Response(Response::Init { error: cs::OK, quorum_type: 0 }));
    assert_eq!(f[1], Frame::Response(Response::GetQuorate { error: cs::OK, quorate: 1 }));
    assert!(
        matches!(&f[3], Frame::Notification(Notification::Quorum { quorate: 1, ring_id, members }) if ring_id.seq == 0 && ring_id.nodeid == 0 && members.is_empty())
    );
    net.start(2);
    net.run_ms(300);
    let f = net.take(1, 1);
    assert!(matches!(&f[..], [Frame::Notification(Notification::Nodelist { .. })]), "{f:?}");
}

#[test]
fn spec_3_5_cancel_wait_for_all_from_a_client() {
    let mut net = Net::new(3, Some(&[("provider", "corosync_votequorum"), ("wait_for_all", "1")]));
    net.start(1);
    net.start(2);
    net.run_ms(500);
    assert!(!net.quorate(1), "2 of 3 but waiting for all");
    net.client(2, 1, 0, None);
    net.client(2, 1, 0, Some(Request::Init { model: 1 }));
    net.client(2, 1, 0, Some(Request::CancelWaitForAll));
    net.run_ms(100);
    assert!(net.quorate(1) && net.quorate(2));
}

/// A cancel with nothing to cancel answers CS_ERR_EXIST and changes nothing, so the tool can
/// say so instead of `done`; a cancel that lifts the wait answers CS_OK.
#[test]
fn cancel_wait_for_all_says_when_there_was_nothing_to_cancel() {
    let mut net = Net::new(3, Some(&[("provider", "corosync_votequorum"), ("wait_for_all", "1")]));
    net.start(1);
    net.start(2);
    net.run_ms(500);
    net.client(2, 1, 0, None);
    net.client(2, 1, 0, Some(Request::Init { model: 1 }));
    net.client(2, 1, 0, Some(Request::CancelWaitForAll));
    net.run_ms(100);
    assert!(net.quorate(2));
    let f = net.take(2, 1);
    assert_eq!(f.last(), Some(&Frame::Response(Response::Result { error: cs::OK })), "{f:?}");
    net.client(2, 1, 0, Some(Request::CancelWaitForAll));
    net.run_ms(100);
    assert_eq!(net.take(2, 1), vec![Frame::Response(Response::Result { error: cs::ERR_EXIST })]);
    assert!(net.quorate(1) && net.quorate(2));

    // wait_for_all not configured at all: nothing to cancel either.
    let mut net = Net::new(1, Some(&[("provider", "corosync_votequorum")]));
    net.start(1);
    net.run_ms(500);
    net.client(1, 1, 0, None);
    net.client(1, 1, 0, Some(Request::Init { model: 1 }));
    let _ = net.take(1, 1);
    net.client(1, 1, 0, Some(Request::CancelWaitForAll));
    net.run_ms(100);
    assert_eq!(net.take(1, 1), vec![Frame::Response(Response::Result { error: cs::ERR_EXIST })]);
}

#[test]
fn malformed_frames_close_the_connection_and_change_nothing() {
    let mut net = Net::new(1, votequorum());
    net.start(1);
    net.run_ms(500);
    net.client(1, 1, 0, None);
    let node = net.nodes.get_mut(&id(1)).unwrap();
    node.handle_client(net.now, ConnId(1), ClientInput::Frame(vec![0, 0, 0, 4, 9, 9, 9, 9]));
    net.drain(id(1));
    assert!(net.closed.contains(&(id(1), ConnId(1))));
    assert!(net.events.iter().any(|(_, e)| matches!(e, NodeEvent::ClientError { .. })));
    assert_eq!(net.nodes[&id(1)].client_count(), 0);
}
