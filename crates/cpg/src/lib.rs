//! CPG, closed process groups with virtual synchrony over Totem, sans-IO.
//!
//! The node hands in client requests, Totem configuration changes and Totem deliveries; it
//! takes out the payloads to hand to Totem ([`Cpg::poll_submit`]) and the frames for the
//! clients ([`Cpg::poll_output`]). No clock, no socket, no randomness.
//!
//! # The replicated state
//! Every node keeps the same table: for each group, its processes `(nodeid, conn, pid)`. The
//! table changes only when a CPG message is *delivered* by Totem (join, leave, procdown), at a
//! configuration change (processes of nodes that left go, with NODEDOWN), and when the sync of
//! a new ring completes (every member's list of its own processes: NODEUP / PROCDOWN). Totem
//! delivers the same messages in the same order to every node of a ring (EVS: the members that
//! move together to a new ring agree on what the old ring delivered), so every node computes
//! the same table at the same point of the order, and tells its local members the same
//! configuration changes; a message is delivered to the local members of its group as the
//! table stands when its last fragment is delivered. That is virtual synchrony: the members of
//! a view see the same changes, and between two of them the same messages in the same order.
//!
//! # Sync after a membership change
//! At the transitional configuration every partial reassembly is dropped and the processes of
//! nodes not in it are removed (one confchg per group, reason NODEDOWN). At the regular
//! configuration of ring R every node sends its joinlist (its own processes) tagged R, and
//! stops handing other CPG messages to Totem. When the joinlists of every member of R have
//! been delivered (the barrier: the same point of R's order on every node), each member's
//! processes become exactly its joinlist (NODEUP for new ones, PROCDOWN for vanished ones),
//! the totem confchg goes to every local session, and sending resumes.
//!
//! # Tags, and sending again
//! Every message carries the ring its sender was synchronised in when it handed it to Totem
//! (its tag). A message delivered in another ring is dropped by every node: it was queued in
//! Totem before a configuration change and would otherwise land on nodes that never saw the
//! beginning of it, or before the sync. The sender keeps each of its messages until it
//! delivers it to itself; after the sync of a new ring it hands every message still kept to
//! Totem again, in the original order. So a sender that survives loses nothing, its order is
//! kept, and a message is applied once (only its copy tagged with the delivering ring is).
//! Deviation from corosync: corosync answers `CS_ERR_INTERRUPT` to a fragmented send cut by a
//! configuration change and its receivers drop the partial message; we send it again.
//!
//! # Fragmentation
//! A message longer than [`wire::FRAG_DATA_MAX`] is split into fragments handed to Totem in a
//! row; a node hands Totem the fragments of one message before any byte of the next, so a
//! receiver reassembles at most one message per sending node. A fragment out of sequence (its
//! beginning was in another ring, or its node left) is dropped by every node alike.
//!
//! # Bounds and back-pressure
//! A node accepts a multicast while fewer than [`BACKLOG_FRAGS`] fragments of its own messages
//! are not yet delivered back (a message of any size is accepted when none is), and never keeps
//! more than [`INFLIGHT_MAX`]; a multicast beyond that is answered `CS_ERR_TRY_AGAIN` and
//! nothing is kept. Totem is fed while its queue holds fewer than [`TOTEM_SHARE`] messages, so
//! other services keep room. Reassembly holds at most one message ([`MSG_MAX`]) per sending
//! node.
//!
//! # Readers hold every sender back
//! Every node delivers every message of a group to its local members, however fast they read.
//! The node tells the service how far behind its slowest live reader is
//! ([`Cpg::set_reader_backlog`]); past [`READER_HOLD_ON`] bytes the node multicasts `HOLD on`
//! (and refuses its own senders at once), below [`READER_HOLD_OFF`] `HOLD off`. While any
//! node of the ring holds, every node answers multicasts `CS_ERR_TRY_AGAIN`. So a slow reader
//! falls at most about `READER_HOLD_ON` + every node's accepted backlog behind, and is never
//! disconnected for reading slowly. Deviation from corosync: corosync queues a slow reader's
//! events without a bound and never holds senders back for it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod wire;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use quorumd_proto::ipc::WireRingId;
use quorumd_proto::svc_cpg::{
    cs, deliver_frames, flow_control, iteration, reason, CpgAddress, CpgEvent, CpgRequest, CpgResponse,
    IterEntry, Reassembly, CPG_MAX_NAME_LENGTH, CPG_MEMBERS_MAX, CPG_MODEL_V1,
    CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF, MSG_MAX,
};
use quorumd_proto::RingId;

use wire::{Body, Entry, Msg, FRAG_DATA_MAX, JOINLIST_PART_MAX};

/// Most fragments of this node's own messages kept until delivered back (32 MiB of data:
/// room for two messages of [`MSG_MAX`]; joins, leaves and departures count against it).
pub const INFLIGHT_MAX: usize = 2 * wire::FRAGS_MAX;
/// A multicast is accepted while fewer fragments than this are not yet delivered back (about
/// 4 MiB of data: three 1 MiB messages in flight keep the ring busy while the sender streams
/// the next; a larger message is accepted when nothing is). Bounds the wait of a message
/// behind its node's backlog and what a slow reader may have to absorb.
/// Deviation from corosync: its senders are held back by their IPC ring and Totem's queue
/// level, not by a per-node count of undelivered fragments.
pub const BACKLOG_FRAGS: usize = 512;
/// A local reader this many event bytes behind makes the node hold every sender back.
pub const READER_HOLD_ON: usize = 8 << 20;
/// The hold ends once the slowest local reader is fewer bytes than this behind.
pub const READER_HOLD_OFF: usize = 2 << 20;
/// CPG hands Totem more only while Totem's queue holds fewer messages than this.
pub const TOTEM_SHARE: usize = 1024;

/// Test-only broken behaviours, one per promise, that the checkers must catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// Holds back a delivery to this node's members until after the next configuration
    /// change (a message delivered across a view change).
    DeliverAcrossViewChange,
    /// A sender's own session does not get its messages.
    DropSelfDelivery,
    /// Swaps two consecutive deliveries from different senders on this node.
    ReorderSenders,
}

/// A process of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Proc {
    /// Its node.
    pub nodeid: u32,
    /// Its connection on that node.
    pub conn: u64,
    /// Its pid.
    pub pid: u32,
}

/// A local session's join state (corosync's `cpd_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinState {
    Unjoined,
    JoinStarted,
    Joined,
    LeaveStarted,
}

#[derive(Debug)]
struct Session {
    flags: u32,
    state: JoinState,
    group: Vec<u8>,
    pid: u32,
    mcast: Reassembly,
    mcast_guarantee: u32,
    initial_totem_sent: bool,
}

#[derive(Clone, Debug)]
enum OutBody {
    Join { conn: u64, pid: u32, group: Vec<u8> },
    Leave { conn: u64 },
    ProcDown { conn: u64 },
    Mcast { conn: u64, payload: Vec<u8> },
}

#[derive(Debug)]
struct Outgoing {
    out_seq: u64,
    body: OutBody,
    frags: usize,
}

#[derive(Debug)]
struct Sync {
    ring: RingId,
    waiting: BTreeSet<u32>,
    lists: BTreeMap<u32, Vec<Entry>>,
}

#[derive(Debug)]
struct Assembly {
    out_seq: u64,
    conn: u64,
    next: u32,
    count: u32,
    total: usize,
    buf: Vec<u8>,
}

/// What a client's request came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Send this response.
    Respond(CpgResponse),
    /// Nothing yet (a chunk of a multicast; the answer comes with its last chunk).
    Pending,
    /// A protocol error: close the connection.
    Close(String),
}

/// Counters (for status and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages delivered to at least the table (completed multicasts).
    pub delivered: u64,
    /// Messages dropped because their tag was not the delivering ring.
    pub stale: u64,
    /// Fragments dropped out of sequence.
    pub orphans: u64,
    /// Messages that did not decode.
    pub malformed: u64,
    /// Own messages handed to Totem again after a ring change.
    pub resent: u64,
    /// Multicasts refused with TRY_AGAIN.
    pub try_again: u64,
}

/// The CPG service of one node.
#[derive(Debug)]
pub struct Cpg {
    my_id: u32,
    groups: BTreeMap<Vec<u8>, BTreeSet<Proc>>,
    sessions: BTreeMap<u64, Session>,
    /// The ring this node is synchronised in (sending allowed), if any.
    synced: Option<RingId>,
    /// The members of the last regular configuration.
    ring: RingId,
    members: Vec<u32>,
    sync: Option<Sync>,
    /// Own messages not yet delivered back, in order; `fed` of them (and `fed_frags`
    /// fragments of the next) were handed to Totem in the current ring.
    pending: VecDeque<Outgoing>,
    fed: usize,
    fed_frags: usize,
    inflight: usize,
    next_out_seq: u64,
    /// Joinlist parts to hand to Totem before anything else.
    urgent: VecDeque<Vec<u8>>,
    assembly: BTreeMap<u32, Assembly>,
    out: VecDeque<(u64, Vec<u8>)>,
    prefix: u8,
    stats: Stats,
    mutant: Option<Mutant>,
    /// Deliveries a mutant holds back.
    held: Vec<(u64, Vec<u8>)>,
    held_origin: Option<u32>,
    /// A local reader is behind (hysteresis between READER_HOLD_OFF and READER_HOLD_ON).
    hold_local: bool,
    /// `hold_local` changed (or a new ring began with it on): tell the ring.
    hold_announce: bool,
    /// Nodes whose `HOLD on` was delivered in this ring (and not yet their `HOLD off`).
    held_by: BTreeSet<u32>,
}

fn wr(r: RingId) -> WireRingId {
    WireRingId { nodeid: r.rep, seq: r.seq }
}

fn addr(p: &Proc, reason: u32) -> CpgAddress {
    CpgAddress { nodeid: p.nodeid, pid: p.pid, reason }
}

impl Cpg {
    /// The service of node `my_id`; its Totem payloads start with `prefix` (the service id).
    pub fn new(my_id: u32, prefix: u8) -> Cpg {
        Cpg {
            my_id,
            groups: BTreeMap::new(),
            sessions: BTreeMap::new(),
            synced: None,
            ring: RingId::ZERO,
            members: Vec::new(),
            sync: None,
            pending: VecDeque::new(),
            fed: 0,
            fed_frags: 0,
            inflight: 0,
            next_out_seq: 1,
            urgent: VecDeque::new(),
            assembly: BTreeMap::new(),
            out: VecDeque::new(),
            prefix,
            stats: Stats::default(),
            mutant: None,
            held: Vec::new(),
            held_origin: None,
            hold_local: false,
            hold_announce: false,
            held_by: BTreeSet::new(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Client side

    /// A session opened with `Init { model, flags }`: the `cs_error_t` to answer (the session
    /// exists only on `CS_OK`).
    pub fn open(&mut self, conn: u64, model: u32, flags: u32) -> u32 {
        if model != CPG_MODEL_V1 {
            return cs::ERR_INVALID_PARAM;
        }
        if self.sessions.contains_key(&conn) {
            return cs::ERR_EXIST;
        }
        self.sessions.insert(
            conn,
            Session {
                flags,
                state: JoinState::Unjoined,
                group: Vec::new(),
                pid: 0,
                mcast: Reassembly::default(),
                mcast_guarantee: 0,
                initial_totem_sent: false,
            },
        );
        cs::OK
    }

    /// Whether `conn` is a CPG session.
    pub fn has_session(&self, conn: u64) -> bool {
        self.sessions.contains_key(&conn)
    }

    /// A request of an open session (not `Init`).
    pub fn request(&mut self, conn: u64, req: CpgRequest) -> Answer {
        let Some(s) = self.sessions.get_mut(&conn) else { return Answer::Close("no cpg session".into()) };
        if s.mcast.is_open() && !matches!(req, CpgRequest::McastMore { .. }) {
            return Answer::Close("a request in the middle of a chunked multicast".into());
        }
        let r = match req {
            CpgRequest::Init { .. } => return Answer::Close("second init on one connection".into()),
            CpgRequest::Join { group, pid } => CpgResponse::Join { error: self.join(conn, group, pid) },
            CpgRequest::Leave { group, pid } => CpgResponse::Leave { error: self.leave(conn, &group, pid) },
            CpgRequest::Mcast { guarantee, total_len, chunk } => {
                let s = self.sessions.get_mut(&conn).expect("checked above");
                s.mcast_guarantee = guarantee;
                match s.mcast.first(total_len, &chunk) {
                    Err(quorumd_proto::svc_cpg::ChunkError::TooBig(_)) => {
                        CpgResponse::Mcast { error: cs::ERR_TOO_BIG }
                    }
                    Err(e) => return Answer::Close(e.to_string()),
                    Ok(None) => return Answer::Pending,
                    Ok(Some(payload)) => CpgResponse::Mcast { error: self.mcast(conn, payload) },
                }
            }
            CpgRequest::McastMore { chunk } => match s.mcast.more(&chunk) {
                Err(e) => return Answer::Close(e.to_string()),
                Ok(None) => return Answer::Pending,
                Ok(Some(payload)) => CpgResponse::Mcast { error: self.mcast(conn, payload) },
            },
            CpgRequest::LocalGet => CpgResponse::LocalGet { error: cs::OK, nodeid: self.my_id },
            CpgRequest::MembershipGet { group } => {
                let members: Vec<CpgAddress> = self
                    .groups
                    .get(&group)
                    .into_iter()
                    .flatten()
                    .map(|p| addr(p, reason::UNDEFINED))
                    .collect();
                CpgResponse::Membership { error: cs::OK, members }
            }
            CpgRequest::Iterate { kind, group } => self.iterate(kind, &group),
            CpgRequest::FlowControlStateGet => {
                // Deviation from corosync: its library always says DISABLED; we say ENABLED
                // while this node's backlog is past half its bound.
                let state = if self.holding() || self.inflight >= BACKLOG_FRAGS / 2 {
                    flow_control::ENABLED
                } else {
                    flow_control::DISABLED
                };
                CpgResponse::FlowControl { error: cs::OK, state }
            }
            CpgRequest::Finalize => CpgResponse::Finalize { error: cs::OK },
        };
        Answer::Respond(r)
    }

    fn join(&mut self, conn: u64, group: Vec<u8>, pid: u32) -> u32 {
        if group.is_empty() || group.len() > CPG_MAX_NAME_LENGTH {
            return cs::ERR_NAME_TOO_LONG;
        }
        // The same pid may join a group once per node (corosync: EXIST if a session has it,
        // TRY_AGAIN while its leave is still on its way).
        let my_id = self.my_id;
        if self.sessions.values().any(|s| s.state != JoinState::Unjoined && s.pid == pid && s.group == group)
        {
            return cs::ERR_EXIST;
        }
        if self.groups.get(&group).is_some_and(|g| g.iter().any(|p| p.nodeid == my_id && p.pid == pid)) {
            return cs::ERR_TRY_AGAIN;
        }
        if self.groups.get(&group).is_some_and(|g| g.len() >= CPG_MEMBERS_MAX) {
            // Deviation from corosync: a group holds at most CPG_MEMBERS_MAX processes (the
            // library's confchg arrays); corosync does not check.
            return cs::ERR_TRY_AGAIN;
        }
        let s = self.sessions.get_mut(&conn).expect("caller checked");
        match s.state {
            JoinState::Unjoined => {}
            JoinState::LeaveStarted => return cs::ERR_BUSY,
            JoinState::JoinStarted | JoinState::Joined => return cs::ERR_EXIST,
        }
        if self.inflight + 1 > INFLIGHT_MAX {
            return cs::ERR_TRY_AGAIN;
        }
        s.state = JoinState::JoinStarted;
        s.group = group.clone();
        s.pid = pid;
        self.push_out(OutBody::Join { conn, pid, group });
        cs::OK
    }

    fn leave(&mut self, conn: u64, group: &[u8], _pid: u32) -> u32 {
        if group.len() > CPG_MAX_NAME_LENGTH {
            return cs::ERR_NAME_TOO_LONG;
        }
        let s = self.sessions.get_mut(&conn).expect("caller checked");
        match s.state {
            JoinState::Unjoined | JoinState::LeaveStarted => return cs::ERR_NOT_EXIST,
            JoinState::JoinStarted => return cs::ERR_BUSY,
            JoinState::Joined if s.group != group => return cs::ERR_NOT_EXIST,
            JoinState::Joined => {}
        }
        if self.inflight + 1 > INFLIGHT_MAX {
            return cs::ERR_TRY_AGAIN;
        }
        s.state = JoinState::LeaveStarted;
        self.push_out(OutBody::Leave { conn });
        cs::OK
    }

    fn mcast(&mut self, conn: u64, payload: Vec<u8>) -> u32 {
        let s = self.sessions.get(&conn).expect("caller checked");
        if !matches!(s.state, JoinState::JoinStarted | JoinState::Joined) {
            return cs::ERR_NOT_EXIST;
        }
        if payload.len() > MSG_MAX {
            return cs::ERR_TOO_BIG;
        }
        let frags = payload.len().div_ceil(FRAG_DATA_MAX).max(1);
        let over_backlog = self.inflight > 0 && self.inflight + frags > BACKLOG_FRAGS;
        if self.holding() || over_backlog || self.inflight + frags > INFLIGHT_MAX {
            self.stats.try_again += 1;
            return cs::ERR_TRY_AGAIN;
        }
        self.push_out(OutBody::Mcast { conn, payload });
        cs::OK
    }

    /// Whether multicasts are held back: a local reader is behind, or a node of the ring said
    /// one of its readers is.
    fn holding(&self) -> bool {
        self.hold_local || !self.held_by.is_empty()
    }

    /// How many event bytes the slowest local session that still reads is behind (the node
    /// measures it). Past [`READER_HOLD_ON`] every node of the ring holds its senders back
    /// until it is below [`READER_HOLD_OFF`] (see the crate docs).
    pub fn set_reader_backlog(&mut self, bytes: usize) {
        let on = if self.hold_local { bytes >= READER_HOLD_OFF } else { bytes >= READER_HOLD_ON };
        if on != self.hold_local {
            self.hold_local = on;
            self.hold_announce = true;
        }
    }

    /// Whether this node holds senders back now (its own reader, or another node's).
    pub fn holding_senders(&self) -> bool {
        self.holding()
    }

    fn iterate(&self, kind: u32, group: &[u8]) -> CpgResponse {
        let entries: Vec<IterEntry> = match kind {
            iteration::NAME_ONLY => {
                self.groups.keys().map(|g| IterEntry { group: g.clone(), nodeid: 0, pid: 0 }).collect()
            }
            iteration::ONE_GROUP => {
                if group.is_empty() || group.len() > CPG_MAX_NAME_LENGTH {
                    return CpgResponse::Iterate { error: cs::ERR_INVALID_PARAM, entries: vec![] };
                }
                let g = self.groups.get(group).into_iter().flatten();
                g.map(|p| IterEntry { group: group.to_vec(), nodeid: p.nodeid, pid: p.pid }).collect()
            }
            iteration::ALL => self
                .groups
                .iter()
                .flat_map(|(g, ps)| {
                    ps.iter().map(|p| IterEntry { group: g.clone(), nodeid: p.nodeid, pid: p.pid })
                })
                .collect(),
            _ => return CpgResponse::Iterate { error: cs::ERR_INVALID_PARAM, entries: vec![] },
        };
        CpgResponse::Iterate { error: cs::OK, entries }
    }

    /// The session's connection closed: its process leaves its group (PROCDOWN, through
    /// Totem so every node applies it at the same point).
    pub fn closed(&mut self, conn: u64) {
        let Some(s) = self.sessions.remove(&conn) else { return };
        let in_table = self
            .groups
            .get(&s.group)
            .is_some_and(|g| g.iter().any(|p| p.nodeid == self.my_id && p.conn == conn));
        if s.state != JoinState::Unjoined || in_table {
            // Not bounded by INFLIGHT_MAX: a departure is never refused (one per connection).
            self.push_out(OutBody::ProcDown { conn });
        }
    }

    fn push_out(&mut self, body: OutBody) {
        let frags = match &body {
            OutBody::Mcast { payload, .. } => payload.len().div_ceil(FRAG_DATA_MAX).max(1),
            _ => 1,
        };
        self.inflight += frags;
        let out_seq = self.next_out_seq;
        self.next_out_seq += 1;
        self.pending.push_back(Outgoing { out_seq, body, frags });
    }

    // -----------------------------------------------------------------------------------------
    // Totem side

    /// The next payload to hand to Totem, given how many messages its queue holds now.
    /// `None`: nothing to send now (or Totem has enough queued).
    pub fn poll_submit(&mut self, totem_queued: usize) -> Option<Vec<u8>> {
        if totem_queued >= TOTEM_SHARE {
            return None;
        }
        if let Some(p) = self.urgent.pop_front() {
            return Some(p);
        }
        let tag = self.synced?;
        if self.hold_announce {
            self.hold_announce = false;
            return Some(
                Msg { tag, out_seq: 0, body: Body::Hold { on: self.hold_local } }.encode(self.prefix),
            );
        }
        let o = self.pending.get(self.fed)?;
        let body = match &o.body {
            OutBody::Join { conn, pid, group } => Body::Join { conn: *conn, pid: *pid, group: group.clone() },
            OutBody::Leave { conn } => Body::Leave { conn: *conn },
            OutBody::ProcDown { conn } => Body::ProcDown { conn: *conn },
            OutBody::Mcast { conn, payload } => {
                let i = self.fed_frags;
                let start = i * FRAG_DATA_MAX;
                let end = (start + FRAG_DATA_MAX).min(payload.len());
                Body::Frag {
                    conn: *conn,
                    index: i as u32,
                    count: o.frags as u32,
                    total_len: payload.len() as u32,
                    data: payload[start..end].to_vec(),
                }
            }
        };
        let bytes = Msg { tag, out_seq: o.out_seq, body }.encode(self.prefix);
        self.fed_frags += 1;
        if self.fed_frags == o.frags {
            self.fed += 1;
            self.fed_frags = 0;
        }
        Some(bytes)
    }

    /// Totem's transitional configuration: `members` came from the old ring with this node.
    pub fn transitional(&mut self, members: &[u32]) {
        self.synced = None;
        self.sync = None;
        self.urgent.clear();
        self.assembly.clear();
        self.held_by.retain(|n| members.contains(n));
        let names: Vec<Vec<u8>> = self.groups.keys().cloned().collect();
        for g in names {
            let left: Vec<Proc> =
                self.groups[&g].iter().filter(|p| !members.contains(&p.nodeid)).copied().collect();
            if left.is_empty() {
                continue;
            }
            let set = self.groups.get_mut(&g).expect("listed");
            for p in &left {
                set.remove(p);
            }
            let left: Vec<CpgAddress> = left.iter().map(|p| addr(p, reason::NODEDOWN)).collect();
            self.confchg(&g, &left, &[]);
            if self.groups.get(&g).is_some_and(BTreeSet::is_empty) {
                self.groups.remove(&g);
            }
        }
        self.members = members.to_vec();
    }

    /// Totem's regular configuration of ring `ring`: the sync starts (joinlist out).
    pub fn regular(&mut self, ring: RingId, members: &[u32]) {
        self.synced = None;
        self.ring = ring;
        self.members = members.to_vec();
        self.sync = Some(Sync { ring, waiting: members.iter().copied().collect(), lists: BTreeMap::new() });
        // Holds are per ring: each node says again, once synchronised, if it still holds.
        self.held_by.clear();
        self.hold_announce = self.hold_local;
        // Everything not delivered back goes again once the sync completes.
        self.stats.resent += self.fed as u64 + u64::from(self.fed_frags > 0);
        self.fed = 0;
        self.fed_frags = 0;
        let mine: Vec<Entry> = self
            .groups
            .iter()
            .flat_map(|(g, ps)| {
                ps.iter().filter(|p| p.nodeid == self.my_id).map(|p| Entry {
                    group: g.clone(),
                    conn: p.conn,
                    pid: p.pid,
                })
            })
            .collect();
        self.urgent.clear();
        let mut parts: Vec<&[Entry]> = mine.chunks(JOINLIST_PART_MAX).collect();
        if parts.is_empty() {
            parts.push(&[]);
        }
        let n = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            let body = Body::JoinList { last: i + 1 == n, entries: part.to_vec() };
            self.urgent.push_back(Msg { tag: ring, out_seq: 0, body }.encode(self.prefix));
        }
    }

    /// A CPG payload (after the service byte) ordered by Totem in `ring` from `origin`.
    pub fn delivered(&mut self, origin: u32, ring: RingId, bytes: &[u8]) {
        let msg = match Msg::decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        if msg.tag != ring {
            self.stats.stale += 1;
            return;
        }
        if let Body::JoinList { last, entries } = msg.body {
            return self.joinlist(origin, ring, last, entries);
        }
        if let Body::Hold { on } = msg.body {
            if on {
                self.held_by.insert(origin);
            } else {
                self.held_by.remove(&origin);
            }
            return;
        }
        // Tagged with this ring: its sender passed this ring's barrier before handing it over,
        // and so did every node before delivering it.
        let complete = match msg.body {
            Body::Join { conn, pid, group } => {
                self.apply_join(origin, conn, pid, group);
                true
            }
            Body::Leave { conn } => {
                self.apply_leave(origin, conn, reason::LEAVE);
                true
            }
            Body::ProcDown { conn } => {
                self.apply_leave(origin, conn, reason::PROCDOWN);
                true
            }
            Body::Frag { conn, index, count, total_len, data } => {
                self.fragment(origin, msg.out_seq, conn, index, count, total_len, data)
            }
            Body::JoinList { .. } | Body::Hold { .. } => unreachable!("handled above"),
        };
        if complete && origin == self.my_id {
            self.delivered_back(msg.out_seq);
        }
    }

    fn delivered_back(&mut self, out_seq: u64) {
        while self.pending.front().is_some_and(|o| o.out_seq <= out_seq) {
            let o = self.pending.pop_front().expect("checked");
            self.inflight -= o.frags;
            // The message was fed in this ring (its tag is the ring), so it was counted in `fed`.
            self.fed = self.fed.saturating_sub(1);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fragment(
        &mut self,
        origin: u32,
        out_seq: u64,
        conn: u64,
        index: u32,
        count: u32,
        total_len: u32,
        data: Vec<u8>,
    ) -> bool {
        let payload = if index == 0 {
            if count == 1 {
                if data.len() != total_len as usize {
                    self.stats.orphans += 1;
                    return true;
                }
                Some(data)
            } else {
                let mut buf = Vec::with_capacity(total_len as usize);
                buf.extend_from_slice(&data);
                let a = Assembly { out_seq, conn, next: 1, count, total: total_len as usize, buf };
                self.assembly.insert(origin, a);
                None
            }
        } else {
            let ok = self.assembly.get(&origin).is_some_and(|a| {
                a.out_seq == out_seq
                    && a.conn == conn
                    && a.next == index
                    && a.count == count
                    && a.total == total_len as usize
            });
            if !ok {
                self.assembly.remove(&origin);
                self.stats.orphans += 1;
                return index + 1 == count;
            }
            let a = self.assembly.get_mut(&origin).expect("checked");
            if a.buf.len() + data.len() > a.total {
                self.assembly.remove(&origin);
                self.stats.orphans += 1;
                return index + 1 == count;
            }
            a.buf.extend_from_slice(&data);
            a.next += 1;
            if a.next < a.count {
                None
            } else {
                let a = self.assembly.remove(&origin).expect("checked");
                if a.buf.len() != a.total {
                    self.stats.orphans += 1;
                    return true;
                }
                Some(a.buf)
            }
        };
        let Some(payload) = payload else { return false };
        self.deliver(origin, conn, &payload);
        true
    }

    fn deliver(&mut self, origin: u32, conn: u64, payload: &[u8]) {
        let Some((group, sender)) = self.groups.iter().find_map(|(g, ps)| {
            ps.iter().find(|p| p.nodeid == origin && p.conn == conn).map(|p| (g.clone(), *p))
        }) else {
            // The sender is not a member (its join was refused or it left): delivered nowhere.
            return;
        };
        self.stats.delivered += 1;
        let Ok(frames) = deliver_frames(&group, sender.nodeid, sender.pid, payload) else { return };
        let mut out = Vec::new();
        let locals = self.local_members(&group);
        let last = locals.len().saturating_sub(1);
        let mut frames = Some(frames);
        for (i, local) in locals.into_iter().enumerate() {
            if self.mutant == Some(Mutant::DropSelfDelivery) && origin == self.my_id && local == conn {
                continue;
            }
            // The last member takes the frames themselves: one copy fewer of every delivery.
            match (i == last, frames.as_ref()) {
                (true, _) => out.extend(frames.take().into_iter().flatten().map(|f| (local, f))),
                (false, Some(fs)) => out.extend(fs.iter().map(|f| (local, f.clone()))),
                (false, None) => {}
            }
        }
        match self.mutant {
            Some(Mutant::DeliverAcrossViewChange) if origin != self.my_id => self.held.extend(out),
            Some(Mutant::ReorderSenders) => match self.held_origin {
                None => {
                    self.held = out;
                    self.held_origin = Some(origin);
                }
                Some(o) => {
                    let held = std::mem::take(&mut self.held);
                    self.held_origin = None;
                    if o == origin {
                        self.out.extend(held);
                        self.out.extend(out);
                    } else {
                        self.out.extend(out);
                        self.out.extend(held);
                    }
                }
            },
            _ => self.out.extend(out),
        }
    }

    /// Test-only: breaks one promise on purpose (see [`Mutant`]).
    pub fn set_mutant(&mut self, mutant: Option<Mutant>) {
        self.mutant = mutant;
    }

    fn local_members(&self, group: &[u8]) -> Vec<u64> {
        let my_id = self.my_id;
        self.groups
            .get(group)
            .into_iter()
            .flatten()
            .filter(|p| p.nodeid == my_id && self.sessions.contains_key(&p.conn))
            .map(|p| p.conn)
            .collect()
    }

    fn apply_join(&mut self, origin: u32, conn: u64, pid: u32, group: Vec<u8>) {
        let set = self.groups.entry(group.clone()).or_default();
        let dup = set.iter().any(|p| p.nodeid == origin && (p.pid == pid || p.conn == conn));
        let in_other = self
            .groups
            .iter()
            .any(|(g, ps)| *g != group && ps.iter().any(|p| p.nodeid == origin && p.conn == conn));
        let set = self.groups.get_mut(&group).expect("inserted");
        if dup || in_other || set.len() >= CPG_MEMBERS_MAX {
            if set.is_empty() {
                self.groups.remove(&group);
            }
            if origin == self.my_id {
                if let Some(s) = self.sessions.get_mut(&conn) {
                    s.state = JoinState::Unjoined;
                }
            }
            return;
        }
        let p = Proc { nodeid: origin, conn, pid };
        set.insert(p);
        if origin == self.my_id {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.state = JoinState::Joined;
            }
        }
        self.confchg(&group, &[], &[addr(&p, reason::JOIN)]);
    }

    fn apply_leave(&mut self, origin: u32, conn: u64, why: u32) {
        let found = self.groups.iter().find_map(|(g, ps)| {
            ps.iter().find(|p| p.nodeid == origin && p.conn == conn).map(|p| (g.clone(), *p))
        });
        let Some((group, p)) = found else { return };
        // The leaver is told too (corosync sends the confchg to a LEAVE_STARTED session).
        let leaver = (origin == self.my_id && why == reason::LEAVE && self.sessions.contains_key(&conn))
            .then_some(conn);
        let set = self.groups.get_mut(&group).expect("found");
        set.remove(&p);
        let l = [addr(&p, why)];
        self.confchg_to(&group, &l, &[], leaver);
        if self.groups.get(&group).is_some_and(BTreeSet::is_empty) {
            self.groups.remove(&group);
        }
        if let Some(c) = leaver {
            if let Some(s) = self.sessions.get_mut(&c) {
                s.state = JoinState::Unjoined;
                s.group.clear();
                s.pid = 0;
            }
        }
    }

    fn joinlist(&mut self, origin: u32, ring: RingId, last: bool, entries: Vec<Entry>) {
        let Some(sync) = self.sync.as_mut() else { return };
        if sync.ring != ring || !sync.waiting.contains(&origin) {
            return;
        }
        sync.lists.entry(origin).or_default().extend(entries);
        if last {
            sync.waiting.remove(&origin);
        }
        if sync.waiting.is_empty() {
            let sync = self.sync.take().expect("checked");
            self.sync_complete(sync);
        }
    }

    /// The barrier: every member's processes become its joinlist.
    fn sync_complete(&mut self, sync: Sync) {
        let mut changes: BTreeMap<Vec<u8>, (Vec<CpgAddress>, Vec<CpgAddress>)> = BTreeMap::new();
        for (node, list) in &sync.lists {
            let want: BTreeSet<(Vec<u8>, Proc)> = list
                .iter()
                .filter(|e| !e.group.is_empty() && e.group.len() <= CPG_MAX_NAME_LENGTH)
                .map(|e| (e.group.clone(), Proc { nodeid: *node, conn: e.conn, pid: e.pid }))
                .collect();
            let have: BTreeSet<(Vec<u8>, Proc)> = self
                .groups
                .iter()
                .flat_map(|(g, ps)| ps.iter().filter(|p| p.nodeid == *node).map(|p| (g.clone(), *p)))
                .collect();
            for (g, p) in have.difference(&want) {
                self.groups.get_mut(g).expect("have").remove(p);
                changes.entry(g.clone()).or_default().0.push(addr(p, reason::PROCDOWN));
            }
            for (g, p) in want.difference(&have) {
                let set = self.groups.entry(g.clone()).or_default();
                if set.len() >= CPG_MEMBERS_MAX {
                    continue;
                }
                set.insert(*p);
                changes.entry(g.clone()).or_default().1.push(addr(p, reason::NODEUP));
            }
        }
        self.groups.retain(|_, ps| !ps.is_empty());
        for (g, (left, joined)) in changes {
            self.confchg(&g, &left, &joined);
        }
        self.synced = Some(sync.ring);
        // The ring is the one this sync started in, with its members, as Corosync's
        // `last_sync_ring_id`: it may be the ring Totem is just leaving (its last joinlist among
        // the old ring's deliveries before the change), never an older one; the quorum
        // notification of the same ring carries the same id (docs/cpg.md, "Ring id").
        // Deviation from corosync: Corosync syncs CPG before votequorum, so its totem confchg of
        // a ring is emitted before the quorum notification of that ring; here the two syncs run
        // side by side and the quorum notification usually comes first. They go to different
        // connections, so no client can rely on either order (dlm_controld waits for both).
        let ev = CpgEvent::TotemConfChg { ring_id: wr(sync.ring), members: self.members.clone() };
        if let Ok(f) = ev.encode() {
            let conns: Vec<u64> = self.sessions.keys().copied().collect();
            for c in conns {
                self.out.push_back((c, f.clone()));
            }
        }
    }

    fn confchg(&mut self, group: &[u8], left: &[CpgAddress], joined: &[CpgAddress]) {
        self.confchg_to(group, left, joined, None);
    }

    /// One configuration change of `group` to its local members (and `extra`).
    fn confchg_to(&mut self, group: &[u8], left: &[CpgAddress], joined: &[CpgAddress], extra: Option<u64>) {
        let members: Vec<CpgAddress> =
            self.groups.get(group).into_iter().flatten().map(|p| addr(p, reason::UNDEFINED)).collect();
        let ev = CpgEvent::ConfChg {
            group: group.to_vec(),
            members,
            left: left.to_vec(),
            joined: joined.to_vec(),
        };
        let Ok(frame) = ev.encode() else { return };
        if self.mutant.is_some() {
            // Held deliveries go out after this change (DeliverAcrossViewChange) or before it.
            let held = std::mem::take(&mut self.held);
            self.held_origin = None;
            if self.mutant == Some(Mutant::DeliverAcrossViewChange) {
                let mut to = self.local_members(group);
                to.extend(extra);
                for c in to {
                    self.out.push_back((c, frame.clone()));
                }
                self.out.extend(held);
                return;
            }
            self.out.extend(held);
        }
        let mut to = self.local_members(group);
        to.extend(extra);
        for c in to {
            self.out.push_back((c, frame.clone()));
            let Some(s) = self.sessions.get_mut(&c) else { continue };
            if s.flags & CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF != 0 && !s.initial_totem_sent {
                s.initial_totem_sent = true;
                let ev = CpgEvent::TotemConfChg { ring_id: wr(self.ring), members: self.members.clone() };
                if let Ok(f) = ev.encode() {
                    self.out.push_back((c, f));
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Outputs and accessors

    /// The next frame for a session (responses are returned by [`Cpg::request`]).
    pub fn poll_output(&mut self) -> Option<(u64, Vec<u8>)> {
        self.out.pop_front()
    }

    /// The group table: group → its processes.
    pub fn groups(&self) -> &BTreeMap<Vec<u8>, BTreeSet<Proc>> {
        &self.groups
    }

    /// The ring this node is synchronised in (CPG traffic flows), if any.
    pub fn synced(&self) -> Option<RingId> {
        self.synced
    }

    /// Fragments of own messages not yet delivered back.
    pub fn inflight(&self) -> usize {
        self.inflight
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

#[cfg(test)]
mod hold_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vs_fuzz;
