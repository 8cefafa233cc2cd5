//! CPG's virtual synchrony, as the simulated CPG clients see it (docs/cpg.md, "The promises").
//!
//! Fed by `crate::cpg` with what each CPG session sent and received; every session is known by
//! its pid (unique in a run). Checked as the frames arrive:
//!
//! * **same views, same messages between views**: a configuration change is identified by its
//!   group, the ring of the session's last totem confchg and its member, left and joined lists;
//!   two sessions that see the same change `V` followed by the same change `W` must have
//!   delivered the same messages, in the same order, between them;
//! * **self-delivery**: a session delivers its own messages in the order they were accepted,
//!   with no gap (a gap is a lost message: only the tail may be cut, by a leave or a crash);
//! * **no duplicates**: no session delivers one message twice;
//! * **members only**: a message is delivered only from a member of the receiver's view;
//! * **reasons**: a process is reported `LEAVE` only if it asked to leave, `PROCDOWN` only if
//!   its connection closed or its node went down, and a live process only `NODEDOWN`;
//! * **ring id**: a totem confchg carries the ring (and members) of the regular configuration
//!   its node installed last before CPG's sync completed, as Corosync's does; a session's
//!   totem confchgs never go back to an older ring; and once the membership settles,
//!   each session's last totem confchg names its node's quorum ring and members (what
//!   dlm_controld compares);
//! * **payloads** arrive whole (every byte of the deterministic pattern).
//!
//! At the end of a converged run [`CpgChecker::at_end`] requires every surviving sender to have
//! delivered everything it sent, every live member to see exactly the live joined processes of
//! its group (so a closed client was removed everywhere), and the ring ids to agree.

use std::collections::{BTreeMap, BTreeSet};

use quorumd_proto::svc_cpg::{reason, CpgAddress};
use quorumd_proto::{Instant, RingId};

use super::{violation, Violation};

const NAME: &str = "cpg-virtual-synchrony";

/// A message's identity: sender's node, sender's pid, the sender's counter.
pub type MsgId = (u32, u32, u64);

/// Bytes of the header of a simulated CPG payload.
pub const HEADER: usize = 16;

/// The payload of message `seq` of process `pid` on `node`, `len` bytes (at least
/// [`HEADER`]): its id, then a pattern of 8-byte words that depends on the id, the length and
/// the word's offset (the last word cut to the length).
pub fn payload(node: u32, pid: u32, seq: u64, len: usize) -> Vec<u8> {
    let len = len.max(HEADER);
    let mut p = Vec::with_capacity(len + 8);
    p.extend_from_slice(&node.to_be_bytes());
    p.extend_from_slice(&pid.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    let salt = salt(node, pid, seq, len);
    for k in 0..(len - HEADER).div_ceil(8) {
        p.extend_from_slice(&word(salt, k).to_le_bytes());
    }
    p.truncate(len);
    p
}

/// The id of a payload built by [`payload`], if every byte of it is right.
pub fn parse(p: &[u8]) -> Option<MsgId> {
    let node = u32::from_be_bytes(p.get(0..4)?.try_into().ok()?);
    let pid = u32::from_be_bytes(p.get(4..8)?.try_into().ok()?);
    let seq = u64::from_be_bytes(p.get(8..16)?.try_into().ok()?);
    let salt = salt(node, pid, seq, p.len());
    let body = &p[HEADER..];
    let mut words = body.chunks_exact(8);
    let whole = words.by_ref().enumerate().all(|(k, w)| w == word(salt, k).to_le_bytes());
    let rest = words.remainder();
    let tail = rest.is_empty() || *rest == word(salt, body.len() / 8).to_le_bytes()[..rest.len()];
    (whole && tail).then_some((node, pid, seq))
}

/// The length is in the pattern: a truncated or extended payload does not parse.
fn salt(node: u32, pid: u32, seq: u64, len: usize) -> u64 {
    let id = (u64::from(node) << 32 | u64::from(pid)) ^ seq.rotate_left(17) ^ (len as u64).rotate_left(41);
    id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Word `k` of the pattern salted with `salt`.
fn word(salt: u64, k: usize) -> u64 {
    (salt ^ (k as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)).rotate_left(23).wrapping_add(k as u64)
}

type Addr = (u32, u32);
type Reasoned = (u32, u32, u32);

/// One configuration change as a session saw it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ViewKey {
    group: Vec<u8>,
    ring: Option<RingId>,
    members: Vec<Addr>,
    left: Vec<Reasoned>,
    joined: Vec<Reasoned>,
}

/// What became of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Live,
    Leaving,
    Closed,
    NodeGone,
}

#[derive(Debug)]
struct Sess {
    node: u32,
    group: Vec<u8>,
    joined: bool,
    leave_asked: bool,
    fate: Fate,
    sent: Vec<MsgId>,
    self_delivered: usize,
    seen: BTreeSet<MsgId>,
    ring: Option<RingId>,
    /// The members of `ring`, as its last totem confchg said.
    ring_members: Vec<u32>,
    view: Option<ViewKey>,
    segment: Vec<MsgId>,
    /// Something of the current segment happened in a membership change (see
    /// [`CpgChecker::set_in_change`]).
    tainted: bool,
}

/// The checker.
#[derive(Debug, Default)]
pub struct CpgChecker {
    in_change: bool,
    sessions: BTreeMap<u32, Sess>,
    segments: BTreeMap<(ViewKey, ViewKey), (u32, Vec<MsgId>)>,
}

fn sorted_addrs(l: &[CpgAddress]) -> Vec<Addr> {
    let mut v: Vec<Addr> = l.iter().map(|a| (a.nodeid, a.pid)).collect();
    v.sort_unstable();
    v
}

fn sorted_reasoned(l: &[CpgAddress]) -> Vec<Reasoned> {
    let mut v: Vec<Reasoned> = l.iter().map(|a| (a.nodeid, a.pid, a.reason)).collect();
    v.sort_unstable();
    v
}

impl CpgChecker {
    /// Whether what follows happens in an input where the node went through a Totem
    /// configuration change. Extended virtual synchrony lets a node deliver, at a change,
    /// the old ring's messages it holds from the members it moves on with, skipping those of
    /// members it parts from: what it delivers then agrees only with the members of its
    /// transitional configuration. A segment touched by such an input is not compared.
    pub fn set_in_change(&mut self, in_change: bool) {
        self.in_change = in_change;
    }

    /// See [`CpgChecker::set_in_change`].
    pub fn in_change(&self) -> bool {
        self.in_change
    }

    /// A session of `node` with `pid` opened and asked to join `group`.
    pub fn opened(&mut self, node: u32, pid: u32, group: &[u8]) {
        self.sessions.insert(
            pid,
            Sess {
                node,
                group: group.to_vec(),
                joined: false,
                leave_asked: false,
                fate: Fate::Live,
                sent: Vec::new(),
                self_delivered: 0,
                seen: BTreeSet::new(),
                ring: None,
                ring_members: Vec::new(),
                view: None,
                segment: Vec::new(),
                tainted: false,
            },
        );
    }

    /// The join of `pid` was answered `CS_OK`.
    pub fn joined(&mut self, pid: u32) {
        if let Some(s) = self.sessions.get_mut(&pid) {
            s.joined = true;
        }
    }

    /// A multicast of `pid` was answered `CS_OK`.
    pub fn sent(&mut self, pid: u32, id: MsgId) {
        if let Some(s) = self.sessions.get_mut(&pid) {
            s.sent.push(id);
        }
    }

    /// The leave of `pid` was answered `CS_OK`.
    pub fn leaving(&mut self, pid: u32) {
        if let Some(s) = self.sessions.get_mut(&pid) {
            s.fate = Fate::Leaving;
            s.leave_asked = true;
        }
    }

    /// The client `pid` closed its connection.
    pub fn closed(&mut self, pid: u32) {
        if let Some(s) = self.sessions.get_mut(&pid) {
            s.fate = Fate::Closed;
        }
    }

    /// `node` crashed or stopped: its sessions are gone.
    pub fn node_gone(&mut self, node: u32) {
        for s in self.sessions.values_mut().filter(|s| s.node == node) {
            if s.fate != Fate::NodeGone {
                s.fate = Fate::NodeGone;
            }
        }
    }

    /// Session `pid` got a totem confchg for `ring` with `members`; `accepted` are the
    /// (ring, members) its node may name now: the regular configuration it installed last
    /// before CPG's sync completed (see `World::cpg_rings`). A session's totem confchgs never
    /// go back to an older ring: each sync completes once. The same ring may come twice in a
    /// row, as in Corosync: the sync's totem confchg goes to every session, joined or not, and
    /// a session whose join is applied after it still gets its initial one.
    pub fn on_totem(
        &mut self,
        now: Instant,
        pid: u32,
        ring: RingId,
        members: &[u32],
        accepted: &[(RingId, Vec<u32>)],
    ) -> Result<(), Violation> {
        let Some(s) = self.sessions.get_mut(&pid) else { return Ok(()) };
        if !accepted.iter().any(|(r, m)| *r == ring && m.as_slice() == members) {
            return Err(violation(
                NAME,
                now,
                format!(
                    "process {pid} on node {} got totem confchg ring {ring} members {members:?}; the node's last regular configuration is {accepted:?}",
                    s.node
                ),
            ));
        }
        if let Some(before) = s.ring.filter(|b| *b != ring && b.seq >= ring.seq) {
            return Err(violation(
                NAME,
                now,
                format!("process {pid} on node {} got totem confchg ring {ring} after ring {before}", s.node),
            ));
        }
        s.ring = Some(ring);
        s.ring_members = members.to_vec();
        Ok(())
    }

    /// Session `pid` got a configuration change.
    pub fn on_confchg(
        &mut self,
        now: Instant,
        pid: u32,
        group: &[u8],
        members: &[CpgAddress],
        left: &[CpgAddress],
        joined: &[CpgAddress],
    ) -> Result<(), Violation> {
        let fates: BTreeMap<u32, (Fate, bool)> =
            self.sessions.iter().map(|(p, s)| (*p, (s.fate, s.leave_asked))).collect();
        let Some(s) = self.sessions.get_mut(&pid) else { return Ok(()) };
        let err = |m: String| Err(violation(NAME, now, format!("process {pid} on node {}: {m}", s.node)));
        if group != s.group.as_slice() {
            return err(format!("confchg of group {:?}, joined {:?}", group, s.group));
        }
        for a in left {
            let (fate, leave_asked) = fates.get(&a.pid).map_or((None, false), |(f, l)| (Some(*f), *l));
            let ok = match a.reason {
                reason::NODEDOWN => true,
                reason::LEAVE => leave_asked,
                reason::PROCDOWN => matches!(fate, Some(Fate::Closed | Fate::NodeGone)),
                _ => false,
            };
            if !ok {
                return err(format!(
                    "process {} of node {} reported left with reason {} while it is {fate:?}",
                    a.pid, a.nodeid, a.reason
                ));
            }
        }
        // The first change a session sees (its own join) comes before its initial totem
        // confchg: it belongs to the ring that confchg names.
        let key = ViewKey {
            group: group.to_vec(),
            ring: s.ring,
            members: sorted_addrs(members),
            left: sorted_reasoned(left),
            joined: sorted_reasoned(joined),
        };
        let compare = !(s.tainted || self.in_change);
        s.tainted = self.in_change;
        let seg = std::mem::take(&mut s.segment);
        let node = s.node;
        let prev = s.view.replace(key.clone());
        if let Some(prev) = prev.filter(|_| compare) {
            match self.segments.get(&(prev.clone(), key.clone())) {
                Some((other, theirs)) if *theirs != seg => {
                    return Err(violation(
                        NAME,
                        now,
                        format!(
                            "between the same two views of group {:?} (ring {:?}), process {other} delivered {theirs:?} but process {pid} on node {node} delivered {seg:?}",
                            String::from_utf8_lossy(group),
                            key.ring
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    self.segments.insert((prev, key.clone()), (pid, seg));
                }
            }
        }
        Ok(())
    }

    /// The first totem confchg came right after the first configuration change: that change
    /// belongs to its ring.
    pub fn initial_ring(&mut self, pid: u32) {
        if let Some(s) = self.sessions.get_mut(&pid) {
            if let (Some(v), Some(r)) = (s.view.as_mut(), s.ring) {
                if v.ring.is_none() {
                    v.ring = Some(r);
                }
            }
        }
    }

    /// Session `pid` delivered `payload` from `(nodeid, sender)`.
    pub fn on_deliver(
        &mut self,
        now: Instant,
        pid: u32,
        nodeid: u32,
        sender: u32,
        payload: &[u8],
    ) -> Result<(), Violation> {
        let Some(s) = self.sessions.get_mut(&pid) else { return Ok(()) };
        let node = s.node;
        let err = |m: String| Err(violation(NAME, now, format!("process {pid} on node {node}: {m}")));
        let Some(id) = parse(payload) else {
            return err(format!("a delivery from {nodeid}/{sender} of {} bytes is corrupt", payload.len()));
        };
        if (id.0, id.1) != (nodeid, sender) {
            return err(format!("message {id:?} delivered as from {nodeid}/{sender}"));
        }
        let Some(view) = &s.view else { return err(format!("message {id:?} delivered before any confchg")) };
        if view.members.binary_search(&(nodeid, sender)).is_err() {
            return err(format!("message {id:?} from a process not in the view {:?}", view.members));
        }
        if !s.seen.insert(id) {
            return err(format!("message {id:?} delivered twice"));
        }
        if sender == pid {
            match s.sent.get(s.self_delivered) {
                Some(want) if *want == id => s.self_delivered += 1,
                want => {
                    return err(format!(
                        "delivered its own message {id:?} where the next one it sent is {want:?} (a self-delivery lost or out of order)"
                    ))
                }
            }
        }
        s.segment.push(id);
        s.tainted |= self.in_change;
        Ok(())
    }

    /// The end of a converged, quiet run: `live` are the pids of sessions whose node runs and
    /// whose connection is open; `quorum` the ring and members of each running node's last
    /// quorum notification (nodes with a quorum provider). Once the membership has settled,
    /// each live session's last totem confchg names its node's quorum ring with the same
    /// members: what dlm_controld waits for before it acts on a change.
    pub fn at_end(
        &self,
        now: Instant,
        live: &BTreeSet<u32>,
        quorum: &BTreeMap<u32, (RingId, Vec<u32>)>,
    ) -> Result<(), Violation> {
        for pid in live {
            let Some(s) = self.sessions.get(pid) else { continue };
            if s.fate != Fate::Live || !s.joined {
                continue;
            }
            let err = |m: String| {
                Err(violation(NAME, now, format!("at the end, process {pid} on node {}: {m}", s.node)))
            };
            if s.self_delivered != s.sent.len() {
                return err(format!(
                    "delivered {} of the {} messages it sent (first missing {:?})",
                    s.self_delivered,
                    s.sent.len(),
                    s.sent.get(s.self_delivered)
                ));
            }
            let want: Vec<Addr> = live
                .iter()
                .filter_map(|p| self.sessions.get(p).map(|o| (p, o)))
                .filter(|(_, o)| o.fate == Fate::Live && o.joined && o.group == s.group)
                .map(|(p, o)| (o.node, *p))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let have = s.view.as_ref().map(|v| v.members.clone()).unwrap_or_default();
            if have != want {
                return err(format!("its view is {have:?}, the live members are {want:?}"));
            }
            if let Some((ring, members)) = quorum.get(&s.node) {
                if s.ring != Some(*ring) || s.ring_members != *members {
                    return err(format!(
                        "its last totem confchg is ring {:?} members {:?}, the quorum service's ring {ring} members {members:?}",
                        s.ring, s.ring_members
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
    use crate::check::testing::{ring, t};

    fn a(nodeid: u32, pid: u32, reason: u32) -> CpgAddress {
        CpgAddress { nodeid, pid, reason }
    }

    /// Sessions 10 on node 1, 20 on node 2, 30 on node 3, all in group g in ring 1.8.
    fn three() -> CpgChecker {
        let mut c = CpgChecker::default();
        let r = ring(1, 8);
        let members = [a(1, 10, 0), a(2, 20, 0), a(3, 30, 0)];
        for (node, pid) in [(1, 10), (2, 20), (3, 30)] {
            c.opened(node, pid, b"g");
            c.joined(pid);
            c.on_confchg(t(1), pid, b"g", &members, &[], &[a(3, 30, 1)]).unwrap();
            c.on_totem(t(1), pid, r, &[1, 2, 3], &[(r, vec![1, 2, 3])]).unwrap();
            c.initial_ring(pid);
        }
        c
    }

    #[test]
    fn payloads_round_trip_and_corruption_is_seen() {
        let p = payload(3, 7, 9, 9000);
        assert_eq!(parse(&p), Some((3, 7, 9)));
        let mut bad = p.clone();
        bad[8999] ^= 1;
        assert_eq!(parse(&bad), None);
        assert_eq!(parse(&p[..8999]), None);
        assert_eq!(parse(&payload(1, 2, 3, 0)), Some((1, 2, 3)));
    }

    #[test]
    fn the_same_messages_between_the_same_views_pass() {
        let mut c = three();
        c.sent(20, (2, 20, 1));
        for pid in [10, 20, 30] {
            c.on_deliver(t(2), pid, 2, 20, &payload(2, 20, 1, 40)).unwrap();
            let (m, l) = ([a(1, 10, 0), a(2, 20, 0)], [a(3, 30, reason::NODEDOWN)]);
            c.on_confchg(t(3), pid, b"g", &m, &l, &[]).unwrap();
        }
        // Node 3 saw another change (the other side of a partition): not compared.
        let (m, l) = ([a(3, 30, 0)], [a(1, 10, reason::NODEDOWN), a(2, 20, reason::NODEDOWN)]);
        let mut c = three();
        c.on_confchg(t(3), 30, b"g", &m, &l, &[]).unwrap();
    }

    #[test]
    fn a_message_delivered_after_the_next_view_on_one_node_is_caught() {
        let mut c = three();
        c.sent(20, (2, 20, 1));
        let (m, l) = ([a(1, 10, 0), a(2, 20, 0)], [a(3, 30, reason::NODEDOWN)]);
        for pid in [10, 20] {
            c.on_deliver(t(2), pid, 2, 20, &payload(2, 20, 1, 40)).unwrap();
            c.on_confchg(t(3), pid, b"g", &m, &l, &[]).unwrap();
        }
        // Node 3 (the same change, say it stayed with 1 and 2 and 30 left) delivers after it.
        let v = c.on_confchg(t(3), 30, b"g", &m, &l, &[]).unwrap_err();
        assert!(v.message.contains("between the same two views"), "{v}");
    }

    #[test]
    fn lost_or_reordered_self_deliveries_and_duplicates_are_caught() {
        let mut c = three();
        c.sent(10, (1, 10, 1));
        c.sent(10, (1, 10, 2));
        let v = c.on_deliver(t(2), 10, 1, 10, &payload(1, 10, 2, 20)).unwrap_err();
        assert!(v.message.contains("self-delivery"), "{v}");
        let mut c = three();
        c.sent(10, (1, 10, 1));
        c.on_deliver(t(2), 20, 1, 10, &payload(1, 10, 1, 20)).unwrap();
        let v = c.on_deliver(t(2), 20, 1, 10, &payload(1, 10, 1, 20)).unwrap_err();
        assert!(v.message.contains("twice"), "{v}");
        // At the end a surviving sender must have all of its messages back.
        let mut c = three();
        c.sent(10, (1, 10, 1));
        let v = c.at_end(t(9), &[10, 20].into(), &BTreeMap::new()).unwrap_err();
        assert!(v.message.contains("delivered 0 of the 1"), "{v}");
    }

    #[test]
    fn wrong_reasons_rings_and_stale_views_are_caught() {
        let mut c = three();
        // Process 20 is alive and did not leave: PROCDOWN is wrong, NODEDOWN is fine.
        let v = c.on_confchg(t(2), 10, b"g", &[a(1, 10, 0)], &[a(2, 20, reason::PROCDOWN)], &[]).unwrap_err();
        assert!(v.message.contains("reason 5"), "{v}");
        c.closed(20);
        c.on_confchg(t(2), 10, b"g", &[a(1, 10, 0)], &[a(2, 20, reason::PROCDOWN)], &[]).unwrap();
        let r = ring(1, 8);
        let v = c.on_totem(t(3), 10, ring(2, 9), &[1, 2], &[(r, vec![1, 2])]).unwrap_err();
        assert!(v.message.contains("totem confchg"), "{v}");
        // Closed 20 is gone from 10's view: fine. 20 never saw the change: not live.
        c.at_end(t(9), &[10].into(), &BTreeMap::new()).unwrap();
        // A live joined process missing from a view is caught.
        let mut c = three();
        c.opened(3, 40, b"g");
        c.joined(40);
        let v = c.at_end(t(9), &[10, 20, 30, 40].into(), &BTreeMap::new()).unwrap_err();
        assert!(v.message.contains("live members"), "{v}");
    }

    #[test]
    fn an_older_ring_and_a_final_ring_unlike_quorum_are_caught() {
        // three(): every session got ring 1.8 with members 1, 2, 3.
        let mut c = three();
        let (r8, r12) = (ring(1, 8), ring(1, 12));
        // The same ring again (the initial totem confchg after the sync's): fine; an older
        // one, or another ring of the same seq, is not.
        c.on_totem(t(2), 10, r8, &[1, 2, 3], &[(r8, vec![1, 2, 3])]).unwrap();
        let v = c.on_totem(t(2), 10, ring(2, 8), &[1, 2, 3], &[(ring(2, 8), vec![1, 2, 3])]).unwrap_err();
        assert!(v.message.contains("after ring"), "{v}");
        let v = c.on_totem(t(2), 10, ring(1, 4), &[1, 2, 3], &[(ring(1, 4), vec![1, 2, 3])]).unwrap_err();
        assert!(v.message.contains("after ring"), "{v}");
        // The right ring with other members is not the node's configuration.
        let v = c.on_totem(t(2), 10, r12, &[1, 2], &[(r12, vec![1, 2, 3])]).unwrap_err();
        assert!(v.message.contains("last regular configuration"), "{v}");
        c.on_totem(t(2), 10, r12, &[1, 2, 3], &[(r12, vec![1, 2, 3])]).unwrap();
        // At the end, node 1's quorum service reports 1.12: session 10 agrees; node 2's
        // reports 1.12 too but session 20 last heard of 1.8 (dlm_controld would wait forever).
        let quorum: BTreeMap<u32, (RingId, Vec<u32>)> =
            [(1, (r12, vec![1, 2, 3])), (3, (r8, vec![1, 2, 3]))].into();
        c.at_end(t(9), &[10, 20, 30].into(), &quorum).unwrap();
        let quorum: BTreeMap<u32, (RingId, Vec<u32>)> = [(2, (r12, vec![1, 2, 3]))].into();
        let v = c.at_end(t(9), &[10, 20, 30].into(), &quorum).unwrap_err();
        assert!(v.message.contains("quorum service's ring"), "{v}");
        // Same ring, other members: caught too.
        let quorum: BTreeMap<u32, (RingId, Vec<u32>)> = [(1, (r12, vec![1, 2]))].into();
        let v = c.at_end(t(9), &[10, 20, 30].into(), &quorum).unwrap_err();
        assert!(v.message.contains("quorum service's ring"), "{v}");
    }
}
