//! Back-pressure for slow readers and the accepted backlog, on a minimal in-memory ring
//! (Totem's total order per ring; each member's queue is ordered round robin).

use super::*;
use quorumd_proto::svc_cpg::guarantee;

const SVC: u8 = 8;

struct Net {
    nodes: BTreeMap<u32, Cpg>,
    ring: RingId,
    members: Vec<u32>,
    queued: BTreeMap<u32, VecDeque<Vec<u8>>>,
    /// Deliveries (first frames) per (node, conn).
    delivered: BTreeMap<(u32, u64), usize>,
}

impl Net {
    /// `ids`, one ring, each node with session 1 joined to "g" (pid = node id).
    fn new(ids: &[u32]) -> Net {
        let mut n = Net {
            nodes: ids.iter().map(|&i| (i, Cpg::new(i, SVC))).collect(),
            ring: RingId::ZERO,
            members: vec![],
            queued: BTreeMap::new(),
            delivered: BTreeMap::new(),
        };
        n.change(ids, 4);
        for &i in ids {
            let cpg = n.nodes.get_mut(&i).unwrap();
            assert_eq!(cpg.open(1, CPG_MODEL_V1, 0), cs::OK);
            let join = CpgRequest::Join { group: b"g".to_vec(), pid: i };
            assert_eq!(cpg.request(1, join), Answer::Respond(CpgResponse::Join { error: cs::OK }));
        }
        n.run();
        n
    }

    fn change(&mut self, members: &[u32], seq: u64) {
        let old = self.members.clone();
        self.ring = RingId { rep: members[0], seq };
        for &m in members {
            let trans: Vec<u32> = old.iter().copied().filter(|o| members.contains(o)).collect();
            let cpg = self.nodes.get_mut(&m).unwrap();
            cpg.transitional(if trans.contains(&m) { &trans } else { std::slice::from_ref(&m) });
            cpg.regular(self.ring, members);
        }
        self.queued.retain(|n, _| members.contains(n));
        self.members = members.to_vec();
    }

    /// Hands over, orders and delivers until nothing is left.
    fn run(&mut self) {
        loop {
            for &m in &self.members {
                let q = self.queued.entry(m).or_default();
                while let Some(p) = self.nodes.get_mut(&m).unwrap().poll_submit(q.len()) {
                    q.push_back(p);
                }
            }
            let mut any = false;
            for m in self.members.clone() {
                let Some(p) = self.queued.get_mut(&m).and_then(VecDeque::pop_front) else { continue };
                any = true;
                for n in self.members.clone() {
                    self.nodes.get_mut(&n).unwrap().delivered(m, self.ring, &p[1..]);
                }
            }
            for (&id, cpg) in &mut self.nodes {
                while let Some((conn, f)) = cpg.poll_output() {
                    if let Ok(quorumd_proto::svc_cpg::CpgEvent::Deliver { .. }) =
                        quorumd_proto::svc_cpg::CpgEvent::decode(&f)
                    {
                        *self.delivered.entry((id, conn)).or_default() += 1;
                    }
                }
            }
            if !any {
                break;
            }
        }
    }

    fn mcast(&mut self, node: u32, payload: &[u8]) -> u32 {
        let mut answer = None;
        for f in quorumd_proto::svc_cpg::mcast_frames(guarantee::AGREED, payload).unwrap() {
            match self.nodes.get_mut(&node).unwrap().request(1, CpgRequest::decode(&f).unwrap()) {
                Answer::Pending => {}
                Answer::Respond(CpgResponse::Mcast { error }) => answer = Some(error),
                other => panic!("{other:?}"),
            }
        }
        answer.unwrap()
    }
}

#[test]
fn a_reader_far_behind_holds_every_sender_of_the_ring_back_until_it_catches_up() {
    let mut n = Net::new(&[1, 2, 3]);
    assert_eq!(n.mcast(1, b"before"), cs::OK);
    n.run();
    // Node 2's reader falls behind: node 2 refuses its own senders at once...
    n.nodes.get_mut(&2).unwrap().set_reader_backlog(READER_HOLD_ON);
    assert_eq!(n.mcast(2, b"x"), cs::ERR_TRY_AGAIN);
    // ...and, once its HOLD is ordered, every node does, keeping nothing.
    n.run();
    for id in [1, 3] {
        let before = n.nodes[&id].inflight();
        assert_eq!(n.mcast(id, b"x"), cs::ERR_TRY_AGAIN, "node {id}");
        assert_eq!(n.nodes[&id].inflight(), before);
        let fc = n.nodes.get_mut(&id).unwrap().request(1, CpgRequest::FlowControlStateGet);
        assert_eq!(
            fc,
            Answer::Respond(CpgResponse::FlowControl { error: cs::OK, state: flow_control::ENABLED })
        );
    }
    // Hysteresis: still behind by more than READER_HOLD_OFF, the hold stays.
    n.nodes.get_mut(&2).unwrap().set_reader_backlog(READER_HOLD_OFF);
    n.run();
    assert_eq!(n.mcast(1, b"x"), cs::ERR_TRY_AGAIN);
    // Caught up: the hold ends everywhere and traffic flows again.
    n.nodes.get_mut(&2).unwrap().set_reader_backlog(READER_HOLD_OFF - 1);
    n.run();
    for id in [1, 2, 3] {
        assert_eq!(n.mcast(id, b"after"), cs::OK, "node {id}");
        assert!(!n.nodes[&id].holding_senders());
    }
    n.run();
    for id in [1, 2, 3] {
        assert_eq!(n.delivered[&(id, 1)], 4, "node {id}: one message before, three after");
    }
}

#[test]
fn a_hold_ends_with_the_node_that_held_and_is_said_again_in_a_new_ring() {
    let mut n = Net::new(&[1, 2, 3]);
    n.nodes.get_mut(&3).unwrap().set_reader_backlog(READER_HOLD_ON + 1);
    n.run();
    assert_eq!(n.mcast(1, b"x"), cs::ERR_TRY_AGAIN);
    // Node 3 leaves: its hold goes with it.
    n.change(&[1, 2], 8);
    n.run();
    assert_eq!(n.mcast(1, b"x"), cs::OK);
    n.run();
    // Node 2 holds, then a new ring (1, 2) forms: the hold is announced again there.
    n.nodes.get_mut(&2).unwrap().set_reader_backlog(READER_HOLD_ON);
    n.run();
    n.change(&[1, 2], 12);
    n.run();
    assert_eq!(n.mcast(1, b"x"), cs::ERR_TRY_AGAIN, "the hold must survive the ring change");
}

#[test]
fn a_node_accepts_a_bounded_backlog_but_always_one_message() {
    let mut n = Net::new(&[1, 2]);
    // One message of the largest size is accepted on an empty backlog.
    let big = vec![7u8; MSG_MAX];
    assert_eq!(n.mcast(1, &big), cs::OK);
    assert_eq!(n.mcast(1, b"small"), cs::ERR_TRY_AGAIN);
    n.run();
    // Small messages: about BACKLOG_FRAGS of them before TRY_AGAIN.
    let mut ok = 0;
    while n.mcast(1, b"small") == cs::OK {
        ok += 1;
        assert!(ok <= BACKLOG_FRAGS);
    }
    assert_eq!(ok, BACKLOG_FRAGS);
    n.run();
    assert_eq!(n.delivered[&(2, 1)], 1 + BACKLOG_FRAGS);
    assert_eq!(n.nodes[&1].inflight(), 0);
}
