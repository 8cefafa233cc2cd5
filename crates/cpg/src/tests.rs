//! The service against an in-memory Totem: one total order per ring, EVS-style changes.

use super::*;
use quorumd_proto::svc_cpg::{guarantee, ChunkError, CpgEvent, CHUNK_MAX};

const SVC: u8 = 8;

/// What one session saw, in order, as text.
type Log = Vec<String>;

struct Ring {
    nodes: BTreeMap<u32, Cpg>,
    ring: RingId,
    members: Vec<u32>,
    /// Payloads handed to Totem and not yet ordered, per node (kept across a ring change).
    queued: BTreeMap<u32, VecDeque<Vec<u8>>>,
    logs: BTreeMap<(u32, u64), Log>,
    /// Delivery reassembly per session.
    asm: BTreeMap<(u32, u64), Reassembly>,
}

impl Ring {
    fn new(ids: &[u32]) -> Ring {
        let mut r = Ring {
            nodes: ids.iter().map(|&i| (i, Cpg::new(i, SVC))).collect(),
            ring: RingId::ZERO,
            members: vec![],
            queued: BTreeMap::new(),
            logs: BTreeMap::new(),
            asm: BTreeMap::new(),
        };
        r.change(ids, 4);
        r.run();
        r
    }

    fn open(&mut self, node: u32, conn: u64) {
        assert_eq!(self.nodes.get_mut(&node).unwrap().open(conn, CPG_MODEL_V1, 0), cs::OK);
    }

    fn req(&mut self, node: u32, conn: u64, req: CpgRequest) -> Answer {
        self.nodes.get_mut(&node).unwrap().request(conn, req)
    }

    fn join(&mut self, node: u32, conn: u64, group: &str, pid: u32) {
        let a = self.req(node, conn, CpgRequest::Join { group: group.into(), pid });
        assert_eq!(a, Answer::Respond(CpgResponse::Join { error: cs::OK }));
    }

    /// Sends `payload` through the chunked IPC path; returns the `cs_error_t`.
    fn mcast(&mut self, node: u32, conn: u64, payload: &[u8]) -> u32 {
        let mut answer = None;
        for f in quorumd_proto::svc_cpg::mcast_frames(guarantee::AGREED, payload).unwrap() {
            assert!(answer.is_none());
            match self.req(node, conn, CpgRequest::decode(&f).unwrap()) {
                Answer::Pending => {}
                Answer::Respond(CpgResponse::Mcast { error }) => answer = Some(error),
                other => panic!("{other:?}"),
            }
        }
        answer.unwrap()
    }

    /// Hands what each member's CPG wants to send to its Totem queue.
    fn submit(&mut self) -> bool {
        let mut any = false;
        for (id, cpg) in &mut self.nodes {
            if !self.members.contains(id) {
                continue;
            }
            let q = self.queued.entry(*id).or_default();
            while let Some(p) = cpg.poll_submit(q.len()) {
                q.push_back(p);
                any = true;
            }
        }
        any
    }

    /// Orders every queued message (round robin over members, like a token) and delivers
    /// it to every member, until nothing is left.
    fn run(&mut self) {
        loop {
            self.submit();
            let mut any = false;
            for &m in &self.members.clone() {
                let Some(p) = self.queued.get_mut(&m).and_then(VecDeque::pop_front) else { continue };
                any = true;
                assert_eq!(p[0], SVC);
                for &n in &self.members.clone() {
                    self.nodes.get_mut(&n).unwrap().delivered(m, self.ring, &p[1..]);
                }
                self.collect();
            }
            if !any {
                break;
            }
        }
    }

    fn collect(&mut self) {
        for (&id, cpg) in &mut self.nodes {
            while let Some((conn, f)) = cpg.poll_output() {
                let log = self.logs.entry((id, conn)).or_default();
                let line = match CpgEvent::decode(&f).unwrap() {
                    CpgEvent::Deliver { nodeid, pid, total_len, chunk, .. } => {
                        let a = self.asm.entry((id, conn)).or_default();
                        match a.first(total_len, &chunk).unwrap() {
                            Some(m) => format!("msg {nodeid}/{pid} {}", text(&m)),
                            None => continue,
                        }
                    }
                    CpgEvent::DeliverMore { chunk } => {
                        match self.asm.get_mut(&(id, conn)).unwrap().more(&chunk) {
                            Ok(Some(m)) => format!("msg {}", text(&m)),
                            Ok(None) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    CpgEvent::ConfChg { members, left, joined, .. } => {
                        format!("conf m{} l{} j{}", list(&members), list(&left), list(&joined))
                    }
                    CpgEvent::TotemConfChg { ring_id, members } => {
                        format!("totem {}.{} {members:?}", ring_id.nodeid, ring_id.seq)
                    }
                };
                log.push(line);
            }
        }
    }

    /// A membership change to `members` (EVS: every node that stays delivered the old ring's
    /// messages already; what is still queued at a node stays queued for the new ring).
    fn change(&mut self, members: &[u32], seq: u64) {
        let old = self.members.clone();
        self.ring = RingId { rep: *members.iter().min().unwrap(), seq };
        for &n in members {
            let trans: Vec<u32> = if old.contains(&n) {
                old.iter().copied().filter(|m| members.contains(m)).collect()
            } else {
                vec![n]
            };
            let cpg = self.nodes.get_mut(&n).unwrap();
            cpg.transitional(&trans);
            cpg.regular(self.ring, members);
        }
        for n in &old {
            if !members.contains(n) {
                self.queued.remove(n);
            }
        }
        self.members = members.to_vec();
        self.collect();
    }

    fn log(&self, node: u32, conn: u64) -> &Log {
        static EMPTY: Log = Vec::new();
        self.logs.get(&(node, conn)).unwrap_or(&EMPTY)
    }

    fn msgs(&self, node: u32, conn: u64) -> Vec<String> {
        self.log(node, conn).iter().filter(|l| l.starts_with("msg")).cloned().collect()
    }
}

fn text(m: &[u8]) -> String {
    if m.len() > 32 {
        format!("<{} bytes, sum {}>", m.len(), m.iter().map(|&b| u64::from(b)).sum::<u64>())
    } else {
        String::from_utf8_lossy(m).into_owned()
    }
}

fn list(l: &[CpgAddress]) -> String {
    let v: Vec<String> = l.iter().map(|a| format!("{}/{}:{}", a.nodeid, a.pid, a.reason)).collect();
    format!("[{}]", v.join(","))
}

#[test]
fn join_and_mcast_are_seen_alike_by_every_member_with_self_delivery() {
    let mut r = Ring::new(&[1, 2, 3]);
    for n in [1, 2, 3] {
        r.open(n, 10);
        r.join(n, 10, "g", 100 + n);
    }
    r.run();
    for n in [1, 2, 3] {
        assert_eq!(r.mcast(n, 10, format!("hello from {n}").as_bytes()), cs::OK);
        assert_eq!(r.mcast(n, 10, format!("again from {n}").as_bytes()), cs::OK);
    }
    r.run();
    let first = r.log(1, 10).clone();
    // The first member saw its own join, then the two others, each with JOIN.
    assert_eq!(first[0], "conf m[1/101:0] l[] j[1/101:1]");
    assert_eq!(r.msgs(1, 10).len(), 6);
    assert!(r.msgs(1, 10).contains(&"msg 1/101 hello from 1".to_string()), "self-delivery");
    // Every member saw the same messages in the same order after the last confchg.
    let tail = |l: &Log| l.iter().skip_while(|x| !x.contains("j[3/103:1]")).cloned().collect::<Vec<_>>();
    assert_eq!(tail(r.log(2, 10)), tail(&first));
    assert_eq!(tail(r.log(3, 10)), tail(&first));
}

#[test]
fn large_messages_are_fragmented_and_reassembled() {
    let mut r = Ring::new(&[1, 2]);
    r.open(1, 1);
    r.join(1, 1, "big", 7);
    r.open(2, 1);
    r.join(2, 1, "big", 8);
    r.run();
    let payload: Vec<u8> = (0..(1024 * 1024 + 3 * CHUNK_MAX / 2)).map(|i| (i % 253) as u8).collect();
    assert!(payload.len() > 100 * FRAG_DATA_MAX);
    assert_eq!(r.mcast(1, 1, &payload), cs::OK);
    assert_eq!(r.mcast(1, 1, b"small after"), cs::OK);
    r.run();
    let want = format!("msg 1/7 {}", text(&payload));
    for n in [1, 2] {
        let m = r.msgs(n, 1);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[1], "msg 1/7 small after");
        assert!(m[0] == want || m[0] == format!("msg {}", text(&payload)), "{}", m[0]);
    }
    assert_eq!(r.nodes[&1].inflight(), 0);
}

#[test]
fn a_closed_session_is_procdown_to_the_others() {
    let mut r = Ring::new(&[1, 2]);
    r.open(1, 1);
    r.join(1, 1, "g", 11);
    r.open(2, 5);
    r.join(2, 5, "g", 22);
    r.run();
    r.nodes.get_mut(&2).unwrap().closed(5);
    r.run();
    assert_eq!(r.log(1, 1).last().unwrap(), "conf m[1/11:0] l[2/22:5] j[]");
    assert!(r.nodes[&1].groups()[&b"g".to_vec()].iter().all(|p| p.nodeid == 1));
    assert!(r.nodes[&2].groups()[&b"g".to_vec()].iter().all(|p| p.nodeid == 1));
}

#[test]
fn leave_is_told_to_the_leaver_and_the_others() {
    let mut r = Ring::new(&[1, 2]);
    r.open(1, 1);
    r.join(1, 1, "g", 11);
    r.open(2, 5);
    r.join(2, 5, "g", 22);
    r.run();
    assert_eq!(
        r.req(2, 5, CpgRequest::Leave { group: b"other".to_vec(), pid: 22 }),
        Answer::Respond(CpgResponse::Leave { error: cs::ERR_NOT_EXIST })
    );
    assert_eq!(
        r.req(2, 5, CpgRequest::Leave { group: b"g".to_vec(), pid: 22 }),
        Answer::Respond(CpgResponse::Leave { error: cs::OK })
    );
    r.run();
    assert_eq!(r.log(2, 5).last().unwrap(), "conf m[1/11:0] l[2/22:2] j[]");
    assert_eq!(r.log(1, 1).last().unwrap(), "conf m[1/11:0] l[2/22:2] j[]");
    // Mcast after the leave: not a member any more.
    assert_eq!(r.mcast(2, 5, b"x"), cs::ERR_NOT_EXIST);
    // It may join again.
    r.join(2, 5, "g", 22);
}

#[test]
fn a_node_that_leaves_is_nodedown_and_comes_back_nodeup() {
    let mut r = Ring::new(&[1, 2, 3]);
    for n in [1, 2, 3] {
        r.open(n, 1);
        r.join(n, 1, "g", n * 10);
    }
    r.run();
    r.change(&[1, 2], 8);
    r.run();
    assert!(r.log(1, 1).contains(&"conf m[1/10:0,2/20:0] l[3/30:3] j[]".to_string()), "{:?}", r.log(1, 1));
    assert_eq!(r.log(1, 1).last().unwrap(), "totem 1.8 [1, 2]");
    assert_eq!(r.log(1, 1)[r.log(1, 1).len() - 2..], r.log(2, 1)[r.log(2, 1).len() - 2..]);
    // Node 3 comes back with its process (a partition healed): NODEUP on both sides.
    r.change(&[1, 2, 3], 12);
    r.run();
    assert!(
        r.log(1, 1).contains(&"conf m[1/10:0,2/20:0,3/30:0] l[] j[3/30:4]".to_string()),
        "{:?}",
        r.log(1, 1)
    );
    assert!(r.log(3, 1).iter().any(|l| l.ends_with("j[1/10:4,2/20:4]")), "{:?}", r.log(3, 1));
    for n in [1, 2, 3] {
        assert_eq!(r.nodes[&n].groups(), r.nodes[&1].groups());
    }
}

#[test]
fn messages_caught_in_a_ring_change_are_sent_again_in_order_once() {
    let mut r = Ring::new(&[1, 2, 3]);
    for n in [1, 2, 3] {
        r.open(n, 1);
        r.join(n, 1, "g", n);
    }
    r.run();
    // Node 1 queues a multi-fragment message and two small ones; only part reaches Totem's
    // order before node 3 leaves.
    let big = vec![9u8; 3 * FRAG_DATA_MAX + 5];
    assert_eq!(r.mcast(1, 1, &big), cs::OK);
    assert_eq!(r.mcast(1, 1, b"m1"), cs::OK);
    assert_eq!(r.mcast(1, 1, b"m2"), cs::OK);
    r.submit();
    let p = r.queued.get_mut(&1).unwrap().pop_front().unwrap();
    for n in [1, 2, 3] {
        r.nodes.get_mut(&n).unwrap().delivered(1, r.ring, &p[1..]);
    }
    r.change(&[1, 2], 8);
    r.run();
    for n in [1, 2] {
        let m = r.msgs(n, 1);
        assert_eq!(
            m,
            vec![format!("msg 1/1 {}", text(&big)), "msg 1/1 m1".into(), "msg 1/1 m2".into()],
            "node {n}"
        );
    }
    assert!(r.nodes[&1].stats().stale > 0 && r.nodes[&1].stats().resent > 0);
    assert_eq!(r.nodes[&1].inflight(), 0);
}

#[test]
fn back_pressure_is_try_again_and_keeps_nothing() {
    let mut r = Ring::new(&[1]);
    r.open(1, 1);
    r.join(1, 1, "g", 1);
    r.run();
    let big = vec![1u8; MSG_MAX];
    assert_eq!(r.mcast(1, 1, &big), cs::OK);
    assert_eq!(r.mcast(1, 1, &big), cs::ERR_TRY_AGAIN);
    let before = r.nodes[&1].inflight();
    assert_eq!(r.mcast(1, 1, &big), cs::ERR_TRY_AGAIN);
    assert_eq!(r.nodes[&1].inflight(), before);
    assert_eq!(
        r.req(1, 1, CpgRequest::FlowControlStateGet),
        Answer::Respond(CpgResponse::FlowControl { error: cs::OK, state: flow_control::ENABLED })
    );
    r.run();
    assert_eq!(r.mcast(1, 1, &big), cs::OK);
    // Totem's share is respected: CPG hands over nothing while Totem holds TOTEM_SHARE.
    assert_eq!(r.nodes.get_mut(&1).unwrap().poll_submit(TOTEM_SHARE), None);
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let mut r = Ring::new(&[1]);
    r.open(1, 1);
    assert_eq!(r.mcast(1, 1, b"x"), cs::ERR_NOT_EXIST);
    let a = r.req(1, 1, CpgRequest::Join { group: vec![], pid: 1 });
    assert_eq!(a, Answer::Respond(CpgResponse::Join { error: cs::ERR_NAME_TOO_LONG }));
    r.join(1, 1, "g", 1);
    let a = r.req(1, 1, CpgRequest::Join { group: b"h".to_vec(), pid: 1 });
    assert_eq!(a, Answer::Respond(CpgResponse::Join { error: cs::ERR_EXIST }));
    r.open(1, 2);
    let a = r.req(1, 2, CpgRequest::Join { group: b"g".to_vec(), pid: 1 });
    assert_eq!(a, Answer::Respond(CpgResponse::Join { error: cs::ERR_EXIST }));
    let a = r.req(1, 1, CpgRequest::McastMore { chunk: vec![1] });
    assert!(matches!(a, Answer::Close(_)));
    let a = r.req(1, 1, CpgRequest::Mcast { guarantee: 2, total_len: MSG_MAX as u32 + 1, chunk: vec![] });
    assert_eq!(a, Answer::Respond(CpgResponse::Mcast { error: cs::ERR_TOO_BIG }));
    let a = r.req(1, 1, CpgRequest::Mcast { guarantee: 2, total_len: 10, chunk: vec![1; 3] });
    assert!(
        matches!(a, Answer::Close(ref e) if e.contains(&ChunkError::BadFirst { chunk: 3, total: 10 }.to_string()))
    );
    assert_eq!(r.nodes[&1].inflight(), 1);
}

#[test]
fn initial_totem_conf_follows_the_first_confchg_when_asked() {
    let mut r = Ring::new(&[1, 2]);
    assert_eq!(
        r.nodes.get_mut(&1).unwrap().open(3, CPG_MODEL_V1, CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF),
        cs::OK
    );
    r.join(1, 3, "g", 3);
    r.run();
    assert_eq!(r.log(1, 3), &vec!["conf m[1/3:0] l[] j[1/3:1]".to_string(), "totem 1.4 [1, 2]".into()]);
}

#[test]
fn iteration_and_membership_list_the_table() {
    let mut r = Ring::new(&[1, 2]);
    r.open(1, 1);
    r.join(1, 1, "a", 1);
    r.open(2, 1);
    r.join(2, 1, "b", 2);
    r.run();
    let Answer::Respond(CpgResponse::Iterate { entries, .. }) =
        r.req(1, 1, CpgRequest::Iterate { kind: iteration::ALL, group: vec![] })
    else {
        panic!()
    };
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[1].group.as_slice(), entries[1].nodeid, entries[1].pid), (&b"b"[..], 2, 2));
    let Answer::Respond(CpgResponse::Membership { members, .. }) =
        r.req(2, 1, CpgRequest::MembershipGet { group: b"a".to_vec() })
    else {
        panic!()
    };
    assert_eq!(members, vec![CpgAddress { nodeid: 1, pid: 1, reason: 0 }]);
}

#[test]
fn a_flood_of_joins_from_one_client_is_bounded_and_leaves_the_others_alone() {
    let join = |group: &str, pid: u32| CpgRequest::Join { group: group.into(), pid };
    let answer = |error| Answer::Respond(CpgResponse::Join { error });
    let mut r = Ring::new(&[1, 2, 3]);
    r.open(2, 1);
    r.join(2, 1, "g", 900);
    r.open(3, 1);
    r.join(3, 1, "other", 300);
    r.run();
    // One process (pid 500) on node 1 joins; the same handle again, or the same pid on another
    // handle, is CS_ERR_EXIST (Corosync's answers) and sends nothing.
    r.open(1, 1);
    r.join(1, 1, "g", 500);
    assert_eq!(r.req(1, 1, join("g", 500)), answer(cs::ERR_EXIST));
    assert_eq!(r.req(1, 1, join("other", 500)), answer(cs::ERR_EXIST));
    r.open(1, 2);
    assert_eq!(r.req(1, 2, join("g", 500)), answer(cs::ERR_EXIST));
    r.run();
    // Its children flood the group: 300 handles, each with a pid of its own, in one burst
    // (answered before any of them is ordered), then one more after the burst is applied.
    let flood: Vec<u64> = (100..400).collect();
    for &c in &flood {
        r.open(1, c);
        let a = r.req(1, c, join("g", 10_000 + c as u32));
        assert!(a == answer(cs::OK) || a == answer(cs::ERR_TRY_AGAIN), "{a:?}");
    }
    r.run();
    for n in [1, 2, 3] {
        assert_eq!(r.nodes[&n].groups()[&b"g".to_vec()].len(), CPG_MEMBERS_MAX, "node {n}");
    }
    r.open(1, 999);
    assert_eq!(r.req(1, 999, join("g", 99_999)), answer(cs::ERR_TRY_AGAIN));
    // Exactly the processes that fit were told of their join; the others got nothing and
    // may not send.
    let told: Vec<u64> = flood.iter().copied().filter(|c| !r.log(1, *c).is_empty()).collect();
    assert_eq!(told.len(), CPG_MEMBERS_MAX - 2);
    let left_out = *flood.iter().find(|c| !told.contains(c)).unwrap();
    assert_eq!(r.mcast(1, left_out, b"not a member"), cs::ERR_NOT_EXIST);
    // The others are unaffected: the member on node 2 and a new member see the crowd's
    // traffic, node 3's other group sees no change of its own and its traffic flows.
    let conf_before = r.log(3, 1).iter().filter(|l| l.starts_with("conf")).count();
    assert_eq!(r.mcast(2, 1, b"to the crowd"), cs::OK);
    assert_eq!(r.mcast(3, 1, b"still here"), cs::OK);
    r.run();
    assert_eq!(r.msgs(2, 1).last().unwrap(), "msg 2/900 to the crowd");
    assert_eq!(r.msgs(1, told[told.len() - 1]).last().unwrap(), "msg 2/900 to the crowd");
    assert_eq!(r.msgs(3, 1).last().unwrap(), "msg 3/300 still here");
    assert_eq!(r.log(3, 1).iter().filter(|l| l.starts_with("conf")).count(), conf_before);
    assert_eq!(conf_before, 1, "{:?}", r.log(3, 1));
}
