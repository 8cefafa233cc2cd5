//! The cfg service's shutdown protocol on one sans-IO node with a virtual clock: the
//! `cfg.shutdown_timeout` (5000 ms by default, as Corosync), answers, departures and a second
//! request while one is pending.

use quorumd_node::{ClientInput, ClientOutput, ConnId, Node, NodeEvent, NodeParams};
use quorumd_proto::svc_cfg::{CfgRequest, CfgResponse, CfgTestShutdown};
use quorumd_proto::{Duration, Instant, MemberList, NodeId};
use quorumd_totem::TotemKeys;

struct One {
    now: Instant,
    node: Node,
    sent: Vec<(ConnId, Vec<u8>)>,
    left: bool,
}

impl One {
    fn new() -> One {
        let me = NodeId::new(1).unwrap();
        let p =
            NodeParams::new(me, MemberList::from_ids([me]).unwrap(), TotemKeys::default().derive(1).unwrap());
        let now = Instant::from_micros(1_000_000);
        let mut one = One { now, node: Node::new(p, now), sent: Vec::new(), left: false };
        one.run_ms(500);
        assert!(one.node.activated());
        one
    }

    fn drain(&mut self) {
        while let Some(e) = self.node.poll_event() {
            self.left |= matches!(e, NodeEvent::Left);
        }
        while self.node.poll_transmit().is_some() {}
        while let Some((conn, out)) = self.node.poll_client() {
            if let ClientOutput::Send(b) = out {
                self.sent.push((conn, b));
            }
        }
    }

    /// Runs timers (a single node needs no network) for `ms` of virtual time.
    fn run_ms(&mut self, ms: u64) {
        let until = self.now + Duration::from_millis(ms);
        while let Some(at) = self.node.poll_timeout().filter(|t| *t <= until) {
            self.now = self.now.max(at);
            self.node.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
    }

    fn open(&mut self, conn: u64) {
        self.node.handle_client(self.now, ConnId(conn), ClientInput::Connected { uid: 0, gid: 0, pid: 1 });
        self.send(conn, CfgRequest::Init);
        assert_eq!(self.responses(conn), vec![CfgResponse::Init { error: 1 }]);
    }

    fn send(&mut self, conn: u64, r: CfgRequest) {
        self.node.handle_client(self.now, ConnId(conn), ClientInput::Frame(r.encode().unwrap()));
        self.drain();
    }

    fn responses(&mut self, conn: u64) -> Vec<CfgResponse> {
        let (mine, rest): (Vec<_>, Vec<_>) =
            self.sent.drain(..).partition(|(c, b)| c.0 == conn && b[5] == 13);
        self.sent = rest;
        mine.into_iter().map(|(_, b)| CfgResponse::decode(&b).unwrap()).collect()
    }

    fn asked(&mut self, conn: u64) -> Vec<u32> {
        let (mine, rest): (Vec<_>, Vec<_>) =
            self.sent.drain(..).partition(|(c, b)| c.0 == conn && b[5] == 14);
        self.sent = rest;
        mine.into_iter().map(|(_, b)| CfgTestShutdown::decode(&b).unwrap().flags).collect()
    }
}

const OK: u32 = 1;
const BUSY: u32 = 10;

#[test]
fn a_silent_tracker_makes_request_busy_after_exactly_the_default_timeout() {
    let mut n = One::new();
    n.open(1);
    n.open(2);
    n.send(2, CfgRequest::TrackStart { flags: 0 });
    assert_eq!(n.responses(2), vec![CfgResponse::Result { error: OK }]);
    n.send(1, CfgRequest::TryShutdown { flags: 0 });
    assert_eq!(n.asked(2), vec![0]);
    assert_eq!(n.responses(1), vec![], "the answer waits for the tracker");
    n.open(3);
    n.send(3, CfgRequest::TryShutdown { flags: 0 });
    assert_eq!(n.responses(3), vec![CfgResponse::Result { error: 14 }], "a second request: EXIST");
    n.run_ms(4999);
    assert_eq!(n.responses(1), vec![]);
    n.run_ms(2);
    assert_eq!(n.responses(1), vec![CfgResponse::Result { error: BUSY }]);
    assert!(!n.left);
}

#[test]
fn regardless_goes_ahead_at_the_timeout_and_yes_goes_at_once() {
    let mut n = One::new();
    n.open(1);
    n.open(2);
    n.send(2, CfgRequest::TrackStart { flags: 0 });
    n.send(1, CfgRequest::TryShutdown { flags: 1 });
    n.run_ms(5001);
    assert_eq!(n.responses(1), vec![CfgResponse::Result { error: OK }]);
    assert!(n.left, "the node leaves");

    let mut n = One::new();
    n.open(1);
    n.open(2);
    n.send(2, CfgRequest::TrackStart { flags: 0 });
    n.send(1, CfgRequest::TryShutdown { flags: 0 });
    n.send(2, CfgRequest::ReplyToShutdown { yes: 1 });
    assert_eq!(n.responses(1), vec![CfgResponse::Result { error: OK }]);
    assert!(n.left);
}

#[test]
fn a_tracker_closed_for_a_protocol_error_counts_as_yes() {
    let mut n = One::new();
    n.open(1);
    n.open(2);
    n.send(2, CfgRequest::TrackStart { flags: 0 });
    n.send(1, CfgRequest::TryShutdown { flags: 0 });
    // The tracker sends garbage: the node closes it; the shell then reports the disconnect.
    n.node.handle_client(n.now, ConnId(2), ClientInput::Frame(vec![0, 0, 0, 4, 1, 13, 0, 99]));
    n.drain();
    n.node.handle_client(n.now, ConnId(2), ClientInput::Disconnected);
    n.drain();
    assert_eq!(
        n.responses(1),
        vec![CfgResponse::Result { error: OK }],
        "decided at once, not at the timeout"
    );
}
