//! The Totem single-ring protocol state machine.
//!
//! One [`Totem`] is one node. Inputs: [`Totem::handle_packet`], [`Totem::handle_timeout`],
//! [`Totem::submit`], [`Totem::leave`]. Outputs, drained by the caller after every input:
//! [`Totem::poll_event`] (first: it carries the ring seq to persist), [`Totem::poll_transmit`],
//! [`Totem::poll_timeout`].
//!
//! States follow the paper and corosync: GATHER (joins until consensus), COMMIT (the commit
//! token's two rotations), RECOVERY (old-ring messages exchanged under the new ring's token)
//! and OPERATIONAL (the ORF token orders messages). `docs/totem.md` gives the argument for
//! each promise and every deviation.
//!
//! Invariants (asserted):
//! - `members` always contains `my_id` and only configured nodes;
//! - `proc_set` contains `my_id`, `failed_set` never does;
//! - every installed ring seq is greater than the previous one (`max_seq_seen` only grows);
//! - every value taken from the wire is bounded before it is used (docs/totem.md, "Bounds on
//!   what the wire can make a node do"): `max_seq_seen` grows by at most `RING_SEQ_JUMP_MAX`
//!   per datagram, a message store holds at most `RingData::STORED_MAX` messages, each at most
//!   `MESSAGE_WINDOW` above its `my_aru`, and a token is taken only if its seqs are consistent
//!   (`aru <= my_aru`, `seq <= aru + MESSAGE_WINDOW`, `token_seq` at most
//!   `TOKEN_SEQ_STEP_MAX` ahead);
//! - a datagram that is refused (`Err(Dropped)`) changes nothing but the drop counter.

use std::collections::{BTreeMap, VecDeque};

use quorumd_proto::limits::{
    MCAST_PAYLOAD_MAX, MESSAGE_WINDOW, RETAINED_MESSAGES_MAX, RETIRED_INCARNATIONS_MAX, RING_SEQ_JUMP_MAX,
    RTR_MAX, SUBMIT_QUEUE_MAX, TOKEN_SEQ_STEP_MAX,
};
use quorumd_proto::wire::{Commit, CommitEntry, Encapsulated, Header, Join, Mcast, Message, Packet, Token};
use quorumd_proto::{Duration, Instant, MemberList, NodeId, RingId};

use crate::ring::{RingData, StoredMsg};
use crate::timers::{Timer, Timers};
use crate::{
    ConfChange, ConfKind, Delivery, Dropped, Event, Mutant, State, Stats, SubmitError, TotemConfig,
    TotemParams, Transmit,
};

/// How long a join carrying a change waits for more changes: one round of answers to our
/// join arrives within about a network round trip, and is then sent on in one join.
const JOIN_SETTLE: Duration = Duration::from_millis(1);

/// What a node holds for ordered messages (see [`Totem::footprint`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Messages in the installed ring's store (received, not yet collected).
    pub ring_messages: usize,
    /// Messages held for recovery: old-ring messages still to send and the new ring's store.
    pub recovery_messages: usize,
    /// Messages submitted and not yet sent.
    pub queued_messages: usize,
    /// Payload bytes of all of the above.
    pub bytes: usize,
}

/// What this node knows of one peer's identity from the joins it took (docs/totem.md, "Node
/// identity").
#[derive(Clone, Debug)]
struct JoinSeen {
    /// The incarnation of the newest join taken from the peer.
    incarnation: u64,
    /// That join's `join_seq`.
    join_seq: u64,
    /// When it was taken.
    at: Instant,
    /// Incarnations the peer had before, and when each was superseded (at most
    /// `RETIRED_INCARNATIONS_MAX`; each is forgotten `identity_hold` after that).
    retired: Vec<(u64, Instant)>,
}

/// What this node agreed on in GATHER, and the ring being formed from it.
#[derive(Clone, Debug)]
struct Forming {
    /// The new ring's id.
    ring_id: RingId,
    /// Its members (proc − failed at consensus).
    members: MemberList,
    /// The failed set at consensus (a join that only repeats it is stale).
    failed: MemberList,
    /// Highest commit/ORF token_seq seen for this ring.
    token_seq_seen: u64,
    /// Filled when the second commit rotation reaches this node.
    entries: Vec<CommitEntry>,
}

/// What a commit token that reached a node in COMMIT or RECOVERY makes it do.
#[derive(Clone, Copy, Debug)]
enum CommitStep {
    /// The representative starts the second rotation.
    SecondRotation,
    /// A member enters RECOVERY and passes the token on.
    Recover,
    /// The representative, back from the second rotation, originates the ORF token.
    Originate,
}

/// State kept only while in RECOVERY.
#[derive(Debug)]
struct Recovery {
    /// Old-ring messages this node still has to send, oldest first.
    queue: VecDeque<StoredMsg>,
    /// The new ring's message store (recovery copies, then new messages).
    new_ring: RingData,
}

/// One node's Totem protocol instance.
#[derive(Debug)]
pub struct Totem {
    my_id: NodeId,
    nodelist: MemberList,
    cfg: TotemConfig,
    cluster_id: u32,
    mutant: Option<Mutant>,
    state: State,
    left: bool,

    /// The installed ring (before the first install: a pseudo ring `{my_id, start_seq}`).
    ring_id: RingId,
    members: MemberList,
    /// The failed set of the gather that formed the installed ring.
    ring_failed: MemberList,
    /// The installed ring's messages.
    ring: RingData,
    /// Highest ring seq seen in any join or used by this node.
    max_seq_seen: u64,

    // GATHER
    proc_set: MemberList,
    failed_set: MemberList,
    joins: BTreeMap<NodeId, (MemberList, MemberList)>,
    /// Each peer's identity as its joins showed it (see `join_is_overtaken`).
    join_seen: BTreeMap<NodeId, JoinSeen>,
    /// This boot's incarnation (random, handed in; for the order-joins-by-boot mutant the
    /// start seq, as joins carried before).
    incarnation: u64,
    /// Joins this node has sent (its `join_seq`).
    joins_sent: u64,
    /// Whether this boot has installed a ring of every configured node (see `mint_seq`).
    history_sure: bool,
    /// Consensus periods spent in the current gather.
    consensus_rounds: u32,
    /// When the current consensus period ends (the consensus timer may fire sooner, when a
    /// node's silence reaches a whole period).
    consensus_round_at: Instant,
    /// When our sets last changed (or the gather began), on the on-time clock.
    sets_changed_at: Instant,
    /// When each node of `proc_set` was last heard from, on the on-time clock (see `ontime`).
    last_heard: BTreeMap<NodeId, Instant>,
    /// Our sets changed since the last join we sent: when the join carrying the change is due
    /// (see `join_changed`).
    join_change_due: Option<Instant>,
    /// When the last join carrying a change was sent (the change gap counts from it).
    last_change_join: Option<Instant>,
    /// The gather's first join (to everyone) is due.
    join_entry_due: bool,
    /// When we last sent our join to each node.
    last_sent_to: BTreeMap<NodeId, Instant>,
    /// Since when (on-time) this gather has had consensus while waiting for the commit token.
    agreed_since: Option<Instant>,
    /// Time this node could not run, µs: the sum of how late its timers fired (each stretch of
    /// wall time counted once). The on-time clock is `now` minus this.
    late_us: u64,
    /// Wall time up to which lateness has been counted into `late_us`.
    late_until: Instant,

    // COMMIT / RECOVERY
    forming: Option<Forming>,
    recovery: Option<Recovery>,

    // Token handling (OPERATIONAL and RECOVERY)
    last_forward: Option<(NodeId, Packet)>,
    held_token: Option<Token>,
    my_last_sent: u32,
    idle_rotations: u32,
    last_rotation_seq: u64,
    last_visit_seq: u64,
    stuck_rotations: u32,
    last_visit_aru: u64,

    /// The nodes the link layer lets this node form a ring with (its clique, docs/totem.md
    /// "Partial connectivity"); `None`: no link layer, every configured node.
    reachable: Option<MemberList>,

    submit_queue: VecDeque<Vec<u8>>,
    timers: Timers,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

/// The offsets `Totem::mint_seq` adds stay below this. Small on purpose: every offset raises the
/// cluster's seqs for good, and a node that lost its state climbs to them at most
/// `RING_SEQ_JUMP_MAX` per join it hears (each step can cost a failed commit, about a second).
/// With 2^20, 300 cycles of `bench/faults` (kills, restarts and wipes on 5 nodes, rarely all
/// up) took the seqs past 2^26 and a wiped node needed 4-6 s to rejoin; at 2^12 it takes
/// thousands of rings minted without every node to get there.
const FRESH_SEQ_SPAN: u64 = 1 << 12;
const _: () = assert!(FRESH_SEQ_SPAN * 4 < RING_SEQ_JUMP_MAX);

/// A well-mixed offset in `0..FRESH_SEQ_SPAN` from this boot's incarnation and the seq it is
/// added to (splitmix64's finaliser).
fn fresh_seq_offset(incarnation: u64, seq: u64) -> u64 {
    let mut z = incarnation ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % FRESH_SEQ_SPAN
}

impl Totem {
    /// Boots a node at `now`. It starts in GATHER; its first join is due at once (`poll_timeout`
    /// returns `now`).
    pub fn new(params: TotemParams, now: Instant) -> Totem {
        let TotemParams { my_id, nodelist, config, cluster_id, start_seq, incarnation, mutant } = params;
        let incarnation = if mutant == Some(Mutant::OrderJoinsByBoot) { start_seq } else { incarnation };
        assert!(nodelist.contains(my_id), "the nodelist must contain this node");
        let mut t = Totem {
            my_id,
            nodelist,
            cfg: config,
            cluster_id,
            mutant,
            state: State::Gather,
            left: false,
            ring_id: RingId::new(my_id, start_seq),
            members: MemberList::single(my_id),
            ring_failed: MemberList::new(),
            ring: RingData::default(),
            max_seq_seen: start_seq,
            proc_set: MemberList::single(my_id),
            failed_set: MemberList::new(),
            joins: BTreeMap::new(),
            join_seen: BTreeMap::new(),
            joins_sent: 0,
            history_sure: false,
            consensus_rounds: 0,
            consensus_round_at: Instant::ZERO,
            sets_changed_at: Instant::ZERO,
            incarnation,
            last_heard: BTreeMap::new(),
            join_change_due: None,
            last_change_join: None,
            join_entry_due: false,
            last_sent_to: BTreeMap::new(),
            agreed_since: None,
            late_us: 0,
            late_until: Instant::ZERO,
            forming: None,
            recovery: None,
            last_forward: None,
            held_token: None,
            my_last_sent: 0,
            idle_rotations: 0,
            last_rotation_seq: 0,
            last_visit_seq: 0,
            stuck_rotations: 0,
            last_visit_aru: 0,
            reachable: None,
            submit_queue: VecDeque::new(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        };
        // The start seq is persisted at once, so the next boot starts above it even if this one
        // never forms a ring.
        t.events.push_back(Event::PersistRingSeq(start_seq));
        t.enter_gather(now, "node started");
        t
    }

    // -----------------------------------------------------------------------------------------
    // Inputs

    /// A decoded packet arrived. An `Err` means it was ignored and nothing changed.
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) -> Result<(), Dropped> {
        let result = self.dispatch(now, packet);
        if result.is_err() {
            self.stats.dropped += 1;
        }
        result
    }

    fn dispatch(&mut self, now: Instant, packet: Packet) -> Result<(), Dropped> {
        let Packet { header, message } = packet;
        if self.left {
            return Err(Dropped::NotApplicable);
        }
        if header.cluster_id != self.cluster_id {
            return Err(Dropped::OtherCluster);
        }
        if header.sender == self.my_id {
            return Err(Dropped::FromSelf);
        }
        if !self.nodelist.contains(header.sender) {
            return Err(Dropped::UnknownSender);
        }
        if !self.is_reachable(header.sender) {
            return Err(Dropped::Unreachable);
        }
        match message {
            Message::Join(j) => self.on_join(now, header, j),
            Message::Commit(c) => self.on_commit(now, header, c),
            Message::Token(t) => self.on_token(now, header, t),
            Message::Mcast(m) => self.on_mcast(header, m),
            Message::MergeDetect => self.on_merge_detect(now, header),
            Message::TokenHoldCancel => self.on_hold_cancel(now, header),
            // Heartbeats belong to the link layer below (`links`), never to Totem.
            Message::Ping(_) | Message::Pong(_) => Err(Dropped::NotApplicable),
        }
    }

    /// The deadline from [`Totem::poll_timeout`] passed (calling early does nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.left {
            return;
        }
        while let Some((timer, deadline)) = self.timers.expired(now) {
            if timer != Timer::Hold {
                // (`submit` arms the hold timer at time zero to release a held token at once.)
                self.count_lateness(now, deadline);
            }
            self.on_timer(now, timer);
        }
    }

    /// Queues a message for ordered delivery to every member of the ring.
    pub fn submit(&mut self, payload: Vec<u8>) -> Result<(), SubmitError> {
        if payload.len() > MCAST_PAYLOAD_MAX {
            return Err(SubmitError::TooBig(payload.len()));
        }
        if self.submit_queue.len() >= SUBMIT_QUEUE_MAX {
            return Err(SubmitError::QueueFull);
        }
        let was_empty = self.submit_queue.is_empty();
        self.submit_queue.push_back(payload);
        if self.state == State::Operational {
            if self.held_token.is_some() || self.members.len() == 1 {
                // Released by handle_timeout as soon as the caller polls: the deadline is past.
                self.timers.arm(Timer::Hold, Instant::ZERO);
            } else if was_empty && !self.is_rep() {
                if let Some(rep) = self.members.lowest() {
                    self.send(vec![rep], Message::TokenHoldCancel);
                }
            }
        }
        Ok(())
    }

    /// Clean shutdown: a leave (a join naming this node failed) so peers re-form at once.
    /// After this the instance ignores every input.
    pub fn leave(&mut self, _now: Instant) {
        if self.left {
            return;
        }
        // What we leave: the installed ring, or the set being gathered.
        let mut proc_list =
            if self.state == State::Operational { self.members.clone() } else { self.proc_set.clone() };
        proc_list.remove(self.my_id);
        self.joins_sent += 1;
        let join = Join {
            ring_seq: self.max_seq_seen,
            incarnation: self.incarnation,
            join_seq: self.joins_sent,
            proc_list,
            failed_list: MemberList::single(self.my_id),
        };
        // Sent twice (the copy is dropped as a duplicate): a lost leave costs a token timeout.
        for _ in 0..2 {
            self.send_to_others(Message::Join(join.clone()));
        }
        self.left = true;
        self.timers.clear_all();
    }

    // -----------------------------------------------------------------------------------------
    // Outputs and accessors

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event. Drain events before transmits (see [`Event::PersistRingSeq`]).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest armed deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.left {
            return None;
        }
        self.timers.earliest()
    }

    /// This node.
    pub fn my_id(&self) -> NodeId {
        self.my_id
    }

    /// The installed ring's id (before the first ring: `{my_id, start_seq}`).
    pub fn ring_id(&self) -> RingId {
        self.ring_id
    }

    /// The installed ring's members.
    pub fn members(&self) -> &MemberList {
        &self.members
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The effective timing.
    pub fn config(&self) -> &TotemConfig {
        &self.cfg
    }

    /// What this node holds for ordered messages now (the simulator checks it against
    /// `quorumd_proto::limits`). Costs one pass over the stores.
    pub fn footprint(&self) -> Footprint {
        let bytes = |m: &StoredMsg| m.payload.len();
        let rec = self.recovery.as_ref();
        let rec_msgs = rec.map_or(0, |r| r.queue.len() + r.new_ring.msgs.len());
        let rec_bytes = rec.map_or(0, |r| {
            r.queue.iter().map(bytes).sum::<usize>() + r.new_ring.msgs.values().map(bytes).sum::<usize>()
        });
        Footprint {
            ring_messages: self.ring.msgs.len(),
            recovery_messages: rec_msgs,
            queued_messages: self.submit_queue.len(),
            bytes: self.ring.msgs.values().map(bytes).sum::<usize>()
                + rec_bytes
                + self.submit_queue.iter().map(Vec::len).sum::<usize>(),
        }
    }

    /// Most ordered messages one store holds; a node holds at most two stores (the installed
    /// ring's and, in RECOVERY, the new ring's).
    pub const STORED_MESSAGES_MAX: usize = RingData::STORED_MAX;

    /// Messages submitted and not yet ordered (the layer above keeps within its share).
    pub fn queued(&self) -> usize {
        self.submit_queue.len()
    }

    /// Ordered messages held now (for retransmission, recovery and delivery), all stores.
    pub fn stored_messages(&self) -> usize {
        self.ring.msgs.len() + self.recovery.as_ref().map_or(0, |r| r.new_ring.msgs.len())
    }

    /// This boot's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The highest ring seq this node has seen or used.
    pub fn max_seq_seen(&self) -> u64 {
        self.max_seq_seen
    }

    /// The cluster id carried in every header.
    pub fn cluster_id(&self) -> u32 {
        self.cluster_id
    }

    /// The link layer's clique changed: from now on this node forms rings only with
    /// `reachable` (it always holds this node), and takes packets only from its members.
    /// A member of the ring outside it starts a gather at once, in which it is failed.
    pub fn set_reachable(&mut self, now: Instant, reachable: MemberList) {
        let reachable = reachable.union(&MemberList::single(self.my_id)).unwrap_or(reachable);
        if self.reachable.as_ref() == Some(&reachable) {
            return;
        }
        self.reachable = Some(reachable);
        if self.left {
            return;
        }
        let lost = |m: &MemberList| m.iter().any(|n| !self.is_reachable(n));
        match self.state {
            State::Operational if lost(&self.members) => {
                self.enter_gather(now, "a member has no working link");
            }
            State::Commit | State::Recovery if self.forming.as_ref().is_some_and(|f| lost(&f.members)) => {
                self.enter_gather(now, "a member of the new ring has no working link");
            }
            State::Gather => {
                let before = (self.proc_set.clone(), self.failed_set.clone());
                self.fail_unreachable();
                if (self.proc_set.clone(), self.failed_set.clone()) != before {
                    self.join_changed(now, &before);
                    self.check_consensus(now);
                }
            }
            _ => {}
        }
    }

    fn is_reachable(&self, n: NodeId) -> bool {
        self.reachable.as_ref().is_none_or(|r| r.contains(n))
    }

    /// Puts every node of the proc set the link layer cannot reach into the failed set.
    fn fail_unreachable(&mut self) {
        let unreachable: Vec<NodeId> = self.proc_set.iter().filter(|n| !self.is_reachable(*n)).collect();
        for n in unreachable {
            let _ = self.failed_set.insert(n);
            self.joins.remove(&n);
        }
    }

    /// The configured nodes.
    pub fn nodelist(&self) -> &MemberList {
        &self.nodelist
    }

    /// Replaces the configured nodes at run time (a configuration reload). Only between
    /// membership changes (Operational), and only if this node and every member of the
    /// installed ring stay configured: a node must be down before it is removed. Nodes added
    /// are reached by the representative's merge probes and their joins are accepted from now.
    pub fn set_nodelist(&mut self, nodelist: MemberList) -> Result<(), String> {
        if !nodelist.contains(self.my_id) {
            return Err(format!("the new nodelist does not contain this node ({})", self.my_id));
        }
        if let Some(member) = self.members.minus(&nodelist).iter().next() {
            return Err(format!("node {member} is a member of the current ring: stop it before removing it"));
        }
        if self.state != State::Operational {
            return Err("the membership is changing: try again when it has settled".into());
        }
        self.nodelist = nodelist;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Sending helpers

    fn header(&self) -> Header {
        Header { cluster_id: self.cluster_id, sender: self.my_id, ring_id: self.current_ring_for_header() }
    }

    /// The ring id put in headers: the ring being recovered into while in RECOVERY (its token
    /// and messages belong to it), otherwise the installed ring.
    fn current_ring_for_header(&self) -> RingId {
        match (&self.state, &self.forming) {
            (State::Recovery, Some(f)) => f.ring_id,
            _ => self.ring_id,
        }
    }

    fn send(&mut self, to: Vec<NodeId>, message: Message) {
        self.send_marked(to, message, false);
    }

    fn send_marked(&mut self, mut to: Vec<NodeId>, message: Message, every_link: bool) {
        if let Some(r) = &self.reachable {
            to.retain(|n| r.contains(*n));
        }
        if to.is_empty() {
            return;
        }
        let packet = Packet { header: self.header(), message };
        self.transmits.push_back(Transmit { to, packet, every_link });
    }

    fn send_to_others(&mut self, message: Message) {
        let to: Vec<NodeId> = self.nodelist.iter().filter(|n| *n != self.my_id).collect();
        self.send(to, message);
    }

    fn send_to_ring(&mut self, members: &MemberList, message: Message) {
        let to: Vec<NodeId> = members.iter().filter(|n| *n != self.my_id).collect();
        self.send(to, message);
    }

    fn next_in(&self, members: &MemberList) -> NodeId {
        let s = members.as_slice();
        let pos = s.iter().position(|n| *n == self.my_id).unwrap_or(0);
        s[(pos + 1) % s.len()]
    }

    fn set_state(&mut self, state: State, reason: &'static str) {
        self.state = state;
        self.events.push_back(Event::StateChanged { state, reason });
    }

    /// The on-time clock: `now` minus the time this node could not run (`count_lateness`).
    /// GATHER measures silence on it.
    fn ontime(&self, now: Instant) -> Instant {
        Instant::from_micros(now.as_micros().saturating_sub(self.late_us))
    }

    /// A timer due at `deadline` fires at `now`: the node could not run in between (it was not
    /// scheduled, or was busy with a backlog of input). Each stretch of wall time is counted
    /// once.
    ///
    /// Deviation from corosync: corosync times GATHER on the wall clock. Here the time a node
    /// spent late does not count as anyone's silence: on a starved machine its own late timers
    /// show that the others were probably starved too, and a node that was not running cannot
    /// tell a silent peer from its own deafness (its socket may even have dropped what the
    /// peer sent). Timers fire on time in the simulator, so this changes nothing there except
    /// for the nodes it pauses.
    fn count_lateness(&mut self, now: Instant, deadline: Instant) {
        let from = deadline.max(self.late_until);
        self.late_us = self.late_us.saturating_add(now.saturating_since(from).as_micros());
        self.late_until = self.late_until.max(now);
    }

    fn persist_seq(&mut self, seq: u64) {
        assert!(seq >= self.max_seq_seen || self.mutant == Some(Mutant::ReuseRingSeq));
        self.max_seq_seen = self.max_seq_seen.max(seq);
        self.events.push_back(Event::PersistRingSeq(seq));
    }

    // -----------------------------------------------------------------------------------------
    // GATHER
    //
    // Sending joins. Deviation from corosync: corosync sends its join to every node on every
    // change and again to every node every `join` ms. Here a join goes to every node when this
    // node enters GATHER and when its sets change, the changes batched (`join_changed`); the
    // periodic resend goes only to the nodes that have not shown agreement (whose last join
    // does not carry our sets); and a node that repeats a join agreeing with ours, which it
    // does only while it lacks ours, gets ours back (`gather_join`). Every node still hears
    // our sets after each change, and a lost join is made good within about one `join`
    // period, but a gather in which everybody agrees and waits (for a silent node to be
    // failed, or for the commit token) no longer costs N × (N − 1) datagrams per period.

    fn enter_gather(&mut self, now: Instant, reason: &'static str) {
        if self.state == State::Recovery {
            // Token loss in RECOVERY restores the old ring's state: keep every old-ring message
            // received so far (they are old-ring messages whichever ring comes next).
            self.absorb_recovered();
        }
        let mut proc_set = self.members.clone();
        if let Some(f) = self.forming.take() {
            proc_set = proc_set.union(&f.members).unwrap_or(proc_set);
        }
        let _ = proc_set.insert(self.my_id);
        self.failed_set = MemberList::new();
        self.joins.clear();
        self.consensus_rounds = 0;
        let heard = self.ontime(now);
        self.last_heard = proc_set.iter().map(|n| (n, heard)).collect();
        self.sets_changed_at = heard;
        self.agreed_since = None;
        self.proc_set = proc_set;
        self.recovery = None;
        self.last_forward = None;
        self.held_token = None;
        self.timers.clear_all();
        self.set_state(State::Gather, reason);
        self.consensus_round_at = now + self.cfg.consensus;
        self.timers.arm(Timer::Consensus, self.consensus_round_at);
        // Members the link layer cannot reach are failed at once: waiting a consensus period
        // for nodes that no link reaches would only delay the ring.
        self.fail_unreachable();
        // Our first join of this gather goes to everyone and is due at once, as a timer: the
        // shell fires it after the rest of the input at hand (the daemon: after draining its
        // socket), so that it carries whatever that input teaches us (a merge probe's sender,
        // the joins queued while we were busy) instead of going out once per datagram.
        self.join_change_due = None;
        self.join_entry_due = true;
        self.timers.arm(Timer::Join, now);
    }

    /// Our sets changed (they were `before`): a join carrying them to everyone is due. It goes
    /// out `JOIN_SETTLE` later, so that one burst of answers (every node answering our join)
    /// makes one join and not one per answer, and never sooner than `join` after the previous
    /// join sent for a change; changes in between are batched into that one join.
    fn join_changed(&mut self, now: Instant, before: &(MemberList, MemberList)) {
        // Nodes that agreed with our old sets were waiting, not silent: their silence counts
        // from now on, while they take in our change.
        let heard = self.ontime(now);
        let agreed: Vec<NodeId> = self
            .joins
            .iter()
            .filter(|(_, (p, f))| *p == before.0 && *f == before.1)
            .map(|(n, _)| *n)
            .collect();
        for n in agreed {
            self.last_heard.insert(n, heard);
        }
        self.sets_changed_at = heard;
        self.agreed_since = None;
        if self.join_change_due.is_some() {
            return; // already scheduled; the join will carry this change too
        }
        let mut due = now + JOIN_SETTLE;
        if let Some(last) = self.last_change_join {
            due = due.max(last + self.cfg.join);
        }
        self.join_change_due = Some(due);
        self.timers.arm_no_later(Timer::Join, due);
    }

    /// The join timer: the gather's first join or a change (to everyone), or the periodic
    /// resend (to the nodes that have not shown agreement). Re-arms the periodic resend.
    fn on_join_timer(&mut self, now: Instant) {
        if self.state != State::Gather {
            return;
        }
        let change = self.join_change_due.take();
        // Only a join sent at its change deadline counts for the gap: a gather's first join
        // that happens to carry a change does not delay the next change.
        if change.is_some_and(|due| due <= now) {
            self.last_change_join = Some(now);
        }
        let everyone = std::mem::take(&mut self.join_entry_due) || change.is_some();
        let to: Vec<NodeId> =
            self.nodelist.iter().filter(|n| *n != self.my_id && (everyone || !self.agrees(*n))).collect();
        self.send_join_to(now, to);
        self.timers.arm(Timer::Join, now + self.cfg.join);
    }

    /// Sends our join (our current sets) to `to`.
    fn send_join_to(&mut self, now: Instant, to: Vec<NodeId>) {
        if to.is_empty() {
            return;
        }
        self.joins_sent += 1;
        let join = Join {
            ring_seq: self.max_seq_seen,
            incarnation: self.incarnation,
            join_seq: self.joins_sent,
            proc_list: self.proc_set.clone(),
            failed_list: self.failed_set.clone(),
        };
        for n in &to {
            self.last_sent_to.insert(*n, now);
        }
        self.send(to, Message::Join(join));
    }

    /// Whether `n`'s last join in this gather carries exactly our sets.
    fn agrees(&self, n: NodeId) -> bool {
        self.joins.get(&n).is_some_and(|(p, f)| *p == self.proc_set && *f == self.failed_set)
    }

    /// Whether a join tells this node something about the ring `members` (formed from a gather
    /// whose failed set was `failed`, with seq `seq`) that it does not know: a join that only
    /// repeats that gather is stale and must not break the ring.
    fn join_is_news(
        &self,
        from: NodeId,
        j: &Join,
        members: &MemberList,
        failed: &MemberList,
        seq: u64,
        forming: bool,
    ) -> bool {
        if !members.contains(from) {
            // An outsider matters only if it wants us: a leave, or a join that names us failed
            // (stale, or from a node that cannot hear us) gives us nothing to merge with. While
            // a ring is being formed, a node its gather agreed to leave out waits for the next
            // round (merging it now would abort the formation again and again).
            let excluded = forming && failed.contains(from);
            return !excluded && !j.failed_list.contains(from) && !j.failed_list.contains(self.my_id);
        }
        if j.failed_list.contains(from) || j.ring_seq >= seq {
            return true;
        }
        if self.join_seen.get(&from).is_some_and(|s| s.incarnation != j.incarnation) {
            // A member that restarted: news even if its state was lost and its ring seq is old.
            return true;
        }
        if j.failed_list.iter().any(|n| members.contains(n)) {
            return true;
        }
        j.proc_list.iter().any(|n| !members.contains(n) && !failed.contains(n))
    }

    /// How long a peer's superseded join order is upheld: a join of a retired incarnation, or
    /// one with a lower `join_seq` than the newest of its incarnation, is refused for this long
    /// after the newer one was taken. Datagrams are overtaken on the network by far less than
    /// a consensus period; a forged join (crypto off) locks its sender's real joins out for at
    /// most this long.
    fn identity_hold(&self) -> Duration {
        self.cfg.consensus
    }

    /// Whether a join from `from` is older than one already taken from it: the same
    /// incarnation with a `join_seq` not above the newest taken, or a retired incarnation,
    /// within `identity_hold` of the newer join. Changes nothing.
    ///
    /// Deviation from corosync: corosync's joins carry no incarnation or counter. Here they
    /// do, so an overtaken join is recognised; the incarnation is random per boot (never
    /// persisted), so a node that lost its state directory is simply a new incarnation, and the
    /// order is upheld only for one hold, so a forged join cannot lock a node out for longer.
    fn join_is_overtaken(&self, now: Instant, from: NodeId, j: &Join) -> bool {
        let Some(seen) = self.join_seen.get(&from) else { return false };
        let hold = self.identity_hold();
        if j.incarnation == seen.incarnation {
            return j.join_seq <= seen.join_seq && now.saturating_since(seen.at) < hold;
        }
        seen.retired.iter().any(|(inc, at)| *inc == j.incarnation && now.saturating_since(*at) < hold)
    }

    /// Records a join that was taken (never one that was refused).
    fn note_join(&mut self, now: Instant, from: NodeId, j: &Join) {
        let hold = self.identity_hold();
        let seen = self.join_seen.entry(from).or_insert(JoinSeen {
            incarnation: j.incarnation,
            join_seq: j.join_seq,
            at: now,
            retired: Vec::new(),
        });
        if seen.incarnation != j.incarnation {
            // A new incarnation (a restart; or a forged join, whose effect ends with the hold).
            seen.retired.retain(|(inc, at)| *inc != j.incarnation && now.saturating_since(*at) < hold);
            seen.retired.push((seen.incarnation, now));
            if seen.retired.len() > RETIRED_INCARNATIONS_MAX {
                seen.retired.remove(0);
            }
        }
        seen.incarnation = j.incarnation;
        seen.join_seq = j.join_seq;
        seen.at = now;
    }

    fn on_join(&mut self, now: Instant, header: Header, j: Join) -> Result<(), Dropped> {
        let from = header.sender;
        if self.mutant == Some(Mutant::OrderJoinsByBoot) {
            // The reverted rule: `(boot, join_seq)` only grows, and is stored before the join
            // is judged.
            let seen = self.join_seen.entry(from).or_insert(JoinSeen {
                incarnation: 0,
                join_seq: 0,
                at: now,
                retired: Vec::new(),
            });
            if (j.incarnation, j.join_seq) <= (seen.incarnation, seen.join_seq) {
                return Err(Dropped::NotApplicable);
            }
            (seen.incarnation, seen.join_seq) = (j.incarnation, j.join_seq);
        } else if self.join_is_overtaken(now, from, &j) {
            return Err(Dropped::NotApplicable);
        }
        match self.state {
            State::Operational => {
                let (members, failed) = (self.members.clone(), self.ring_failed.clone());
                if !self.join_is_news(from, &j, &members, &failed, self.ring_id.seq, false) {
                    return Err(Dropped::NotApplicable);
                }
                self.enter_gather(now, "join message received");
            }
            State::Commit | State::Recovery => {
                let Some(f) = self.forming.clone() else { return Err(Dropped::NotApplicable) };
                if !self.join_is_news(from, &j, &f.members, &f.failed, f.ring_id.seq, true) {
                    return Err(Dropped::NotApplicable);
                }
                self.enter_gather(now, "join message received while forming a ring");
            }
            State::Gather => {}
        }
        if self.mutant != Some(Mutant::OrderJoinsByBoot) {
            self.note_join(now, from, &j);
        }
        self.gather_join(now, from, j);
        Ok(())
    }

    fn gather_join(&mut self, now: Instant, from: NodeId, j: Join) {
        // A join raises the highest ring seq seen by at most RING_SEQ_JUMP_MAX: one datagram
        // cannot push the seqs to the end of their range. A node far behind (a wiped state
        // directory) climbs by that much per join it hears. Deviation from corosync: corosync
        // takes the seq as it comes.
        let ring_seq = if self.mutant == Some(Mutant::UnboundedRingSeq) {
            j.ring_seq
        } else {
            j.ring_seq.min(self.max_seq_seen.saturating_add(RING_SEQ_JUMP_MAX))
        };
        self.max_seq_seen = self.max_seq_seen.max(ring_seq);
        if self.failed_set.contains(from) {
            // Already given up on for this gather (as corosync does): it is settled in the next.
            return;
        }
        if j.failed_list.contains(self.my_id) && !j.failed_list.contains(from) {
            // The sender counts us as failed. Its view is not merged and the join does not
            // count as hearing from it: its gather ends without us (we are in its failed set),
            // after which it falls silent and our own consensus period marks it failed. Failing
            // it at once instead would let one stale view set every node against every other.
            self.joins.remove(&from);
            return;
        }
        let before = (self.proc_set.clone(), self.failed_set.clone());
        if j.failed_list.contains(from) {
            // A leave: the leaver's view does not matter any more.
            self.add_proc(from, now);
            let _ = self.failed_set.insert(from);
            self.joins.remove(&from);
            self.failed_set.remove(self.my_id);
            self.join_changed(now, &before);
            self.check_consensus(now);
            return;
        }
        let repeated = self.agrees(from);
        let nodelist = self.nodelist.clone();
        let known = |n: &NodeId| nodelist.contains(*n);
        let reachable = self.reachable.clone();
        let procs: Vec<NodeId> = j
            .proc_list
            .iter()
            .filter(known)
            .filter(|n| reachable.as_ref().is_none_or(|r| r.contains(*n)))
            .chain([from])
            .collect();
        for n in procs {
            self.add_proc(n, now);
        }
        let heard = self.ontime(now);
        self.last_heard.insert(from, heard);
        self.joins.insert(from, (j.proc_list.clone(), j.failed_list.clone()));
        for n in j.failed_list.iter().filter(known) {
            let _ = self.failed_set.insert(n);
        }
        self.failed_set.remove(self.my_id);
        if (self.proc_set.clone(), self.failed_set.clone()) != before {
            self.join_changed(now, &before);
        } else if repeated && self.agrees(from) {
            // The sender repeats a join that agrees with ours. It resends only to nodes that
            // have not shown agreement, or starts a new gather: either way it lacks our join.
            // Answer it, unless we sent it one within the last join period (ours may still be
            // on its way, and two nodes answering each other's answers would never stop).
            let recent =
                self.last_sent_to.get(&from).is_some_and(|t| now.saturating_since(*t) < self.cfg.join);
            if !recent {
                self.send_join_to(now, vec![from]);
            }
        }
        self.check_consensus(now);
    }

    /// Adds a node to the proc set; a node learnt of now gets a whole consensus period to
    /// answer before it can be declared failed.
    fn add_proc(&mut self, n: NodeId, now: Instant) {
        if self.proc_set.insert(n).is_ok() {
            let heard = self.ontime(now);
            self.last_heard.entry(n).or_insert(heard);
        }
    }

    fn consensus_members(&self) -> MemberList {
        self.proc_set.minus(&self.failed_set)
    }

    fn has_consensus(&self) -> bool {
        self.consensus_members().iter().filter(|n| *n != self.my_id).all(|n| self.agrees(n))
    }

    fn check_consensus(&mut self, now: Instant) {
        if self.state != State::Gather {
            return;
        }
        if self.mutant == Some(Mutant::SkipConsensus) && !self.joins.is_empty() {
            self.mutant_install_without_agreement(now);
            return;
        }
        if !self.has_consensus() {
            return;
        }
        let members = self.consensus_members();
        if members.lowest() == Some(self.my_id) {
            self.create_commit(now, members);
        }
    }

    /// The skip-consensus mutant: installs its own view at once, with the ring id the
    /// representative would pick, without the commit token or recovery.
    fn mutant_install_without_agreement(&mut self, now: Instant) {
        let members = self.consensus_members();
        let Some(rep) = members.lowest() else { return };
        let ring_id = RingId::new(rep, self.max_seq_seen.saturating_add(4));
        self.persist_seq(ring_id.seq);
        self.forming = Some(Forming {
            ring_id,
            members,
            failed: self.failed_set.clone(),
            token_seq_seen: 0,
            entries: Vec::new(),
        });
        self.install(now);
    }

    fn on_consensus_timeout(&mut self, now: Instant) {
        // Silence is measured on the on-time clock: time this node itself could not run does
        // not count against the others (see `count_lateness`).
        let ontime = self.ontime(now);
        let window_start =
            Instant::from_micros(ontime.as_micros().saturating_sub(self.cfg.consensus.as_micros()));
        let round = now >= self.consensus_round_at;
        if round {
            self.consensus_rounds = self.consensus_rounds.saturating_add(1);
            self.consensus_round_at = now + self.cfg.consensus;
        }
        self.timers.arm(Timer::Consensus, self.consensus_round_at);
        if self.has_consensus() {
            // (A lone node, or a representative that has not tried yet, builds the commit now.)
            self.check_consensus(now);
            if self.state != State::Gather {
                return;
            }
            // Everybody agrees and we wait for the representative's commit token. Those that
            // agree are silent by design (they too wait, or have gone on to COMMIT), so none is
            // failed for it; but after a whole token timeout without a commit token the
            // representative may be gone: as corosync does, start the agreement over (forget
            // the joins and ask everyone again); whoever does not answer within a period is
            // failed at the next timeout.
            let since = *self.agreed_since.get_or_insert(ontime);
            if ontime.saturating_since(since) >= self.cfg.token {
                self.agreed_since = None;
                self.joins.clear();
                let members: Vec<NodeId> = self.consensus_members().iter().collect();
                for n in members {
                    self.last_heard.insert(n, ontime);
                }
                self.join_entry_due = true;
                self.timers.arm_no_later(Timer::Join, now);
                self.arm_silence_check(now);
            }
            return;
        }
        self.agreed_since = None;
        // Deviation from corosync: corosync fails every node that has not reached consensus
        // when its consensus timer expires. Here a node is failed for silence, and only while
        // it does not agree with us: a node whose last join carries our sets is waiting like
        // us (or has already gone on to COMMIT with the commit token, which can take long to
        // go round a large ring on a busy machine), and failing it would abort the ring being
        // formed.
        let mut silent: Vec<NodeId> = self
            .consensus_members()
            .iter()
            .filter(|n| *n != self.my_id && !self.agrees(*n))
            .filter(|n| self.last_heard.get(n).is_none_or(|t| *t <= window_start))
            .collect();
        let settled = ontime.saturating_since(self.sets_changed_at) >= self.cfg.consensus;
        if silent.is_empty() && round && self.consensus_rounds >= 2 && settled {
            // Everyone answers but some still disagree after two periods (their view keeps
            // changing, e.g. they are caught up in another gather): as corosync does, give up
            // on those that do not agree. Deviation from corosync: only once our own sets have
            // not changed for a whole period. While they still grow (nodes starting one after
            // the other, answers arriving late from a starved machine) the disagreement is
            // news still travelling, and failing those nodes would split a cluster that is
            // converging. Sets only grow within a gather, so this waits a bounded time.
            silent =
                self.consensus_members().iter().filter(|n| *n != self.my_id && !self.agrees(*n)).collect();
        }
        if !silent.is_empty() {
            let before = (self.proc_set.clone(), self.failed_set.clone());
            for n in &silent {
                let _ = self.failed_set.insert(*n);
            }
            self.events.push_back(Event::NodesFailed(MemberList::from_ids(silent).unwrap_or_default()));
            self.join_changed(now, &before);
        }
        self.check_consensus(now);
        if self.state == State::Gather {
            self.arm_silence_check(now);
        }
    }

    /// Brings the consensus timer forward to when the longest-silent node that does not agree
    /// will have been silent for a whole period (on the on-time clock), so that time this node
    /// spent late does not cost a whole extra period.
    fn arm_silence_check(&mut self, now: Instant) {
        let ontime = self.ontime(now);
        let oldest = self
            .consensus_members()
            .iter()
            .filter(|n| *n != self.my_id && !self.agrees(*n))
            .filter_map(|n| self.last_heard.get(&n).copied())
            .min();
        if let Some(heard) = oldest {
            let silent_for = ontime.saturating_since(heard).as_micros();
            let left = self.cfg.consensus.as_micros().saturating_sub(silent_for);
            self.timers.arm_no_later(Timer::Consensus, now + Duration::from_micros(left.max(1)));
        }
    }

    // -----------------------------------------------------------------------------------------
    // COMMIT

    fn my_commit_entry(&self) -> CommitEntry {
        CommitEntry {
            node: self.my_id,
            old_ring_id: self.ring_id,
            aru: self.ring.my_aru,
            high_seq: self.ring.high_seq,
            filled: true,
        }
    }

    /// The seq of a ring this node mints as its representative: corosync's `max_seq_seen + 4`,
    /// plus a fresh offset while the id could be one this node minted in a previous life.
    ///
    /// Deviation from corosync: corosync always mints `max + 4`. A node whose state directory
    /// was wiped or restored from an older copy has forgotten the ids it minted; after hearing
    /// a peer that was one ring behind (a frozen or partitioned member), or alone from seq 1, it
    /// computes `max + 4` exactly as its previous life did and mints `{own id, seq}` again,
    /// while a member left out of the new ring may still have that ring installed with other
    /// members (the two rings' tokens and messages would be taken for one another). A node
    /// cannot tell a lost or restored state from a fresh one, so until this boot has installed
    /// a ring of every configured node, a ring that leaves some configured node out gets an
    /// offset on top of `max + 4`, below 2^12 and drawn from the random per-boot incarnation
    /// and the seq: a reuse then needs a 2^-12 coincidence on top of the rare faults that
    /// make it possible. Exempt, with corosync's numbering: a ring of
    /// every configured node (no member is left out to hold an old id, and a member holding
    /// `{own id, s}` has seen `s` and refuses the commit unless the seq is above it), and every
    /// ring after this boot installed one (each node then accepted a commit token above every
    /// id it held, and seqs only grow).
    fn mint_seq(&self, members: &MemberList) -> u64 {
        let next = self.max_seq_seen.saturating_add(4);
        if self.history_sure || *members == self.nodelist || self.mutant == Some(Mutant::PredictableRingSeq) {
            return next;
        }
        next.saturating_add(fresh_seq_offset(self.incarnation, next))
    }

    fn create_commit(&mut self, now: Instant, members: MemberList) {
        let seq = if self.mutant == Some(Mutant::ReuseRingSeq) {
            self.ring_id.seq.max(1)
        } else {
            self.mint_seq(&members)
        };
        let ring_id = RingId::new(self.my_id, seq);
        self.persist_seq(seq);
        let entries = members
            .iter()
            .map(|node| {
                if node == self.my_id {
                    self.my_commit_entry()
                } else {
                    CommitEntry { node, old_ring_id: RingId::ZERO, aru: 0, high_seq: 0, filled: false }
                }
            })
            .collect::<Vec<_>>();
        self.forming = Some(Forming {
            ring_id,
            members: members.clone(),
            failed: self.failed_set.clone(),
            token_seq_seen: 1,
            entries: Vec::new(),
        });
        self.timers.clear(Timer::Join);
        self.timers.clear(Timer::Consensus);
        self.set_state(State::Commit, "consensus reached, commit token created");
        self.timers.arm(Timer::TokenLoss, now + self.cfg.token);
        let commit = Commit { new_ring_id: ring_id, rotation: 1, token_seq: 1, entries };
        if members.len() == 1 {
            self.commit_second_rotation(now, commit);
        } else {
            self.forward_token(now, &members, Message::Commit(commit));
        }
    }

    fn on_commit(&mut self, now: Instant, header: Header, c: Commit) -> Result<(), Dropped> {
        let members =
            MemberList::from_ids(c.entries.iter().map(|e| e.node)).map_err(|_| Dropped::Malformed)?;
        if !members.contains(self.my_id) || !members.contains(header.sender) {
            return Err(Dropped::Malformed);
        }
        if c.new_ring_id.rep != members.lowest().map_or(0, NodeId::get) {
            return Err(Dropped::Malformed);
        }
        match self.state {
            State::Gather => self.accept_commit(now, c, members),
            State::Commit | State::Recovery => self.continue_commit(now, c),
            State::Operational => Err(Dropped::NotApplicable),
        }
    }

    fn accept_commit(&mut self, now: Instant, mut c: Commit, members: MemberList) -> Result<(), Dropped> {
        // The creator saw every member's join carry the same sets; ours must be those sets too.
        let agreed = members == self.consensus_members();
        let newer = c.new_ring_id.seq > self.max_seq_seen || self.mutant == Some(Mutant::ReuseRingSeq);
        // Bounds: the seq at most RING_SEQ_JUMP_MAX above what we have seen (the creator saw our
        // join, so an honest seq is at most that far ahead of it); the token_seq of a first
        // rotation at most one rotation from the creator's 1.
        let bounded = self.mutant == Some(Mutant::UnboundedRingSeq)
            || (c.new_ring_id.seq.saturating_sub(self.max_seq_seen) <= RING_SEQ_JUMP_MAX
                && c.token_seq <= TOKEN_SEQ_STEP_MAX);
        if c.rotation != 1 || !agreed || !newer || !bounded {
            return Err(Dropped::NotApplicable);
        }
        let mine = self.my_commit_entry();
        if let Some(e) = c.entries.iter_mut().find(|e| e.node == self.my_id) {
            *e = mine;
        }
        self.persist_seq(c.new_ring_id.seq);
        self.forming = Some(Forming {
            ring_id: c.new_ring_id,
            members: members.clone(),
            failed: self.failed_set.clone(),
            token_seq_seen: c.token_seq,
            entries: Vec::new(),
        });
        self.timers.clear(Timer::Join);
        self.timers.clear(Timer::Consensus);
        self.set_state(State::Commit, "commit token received");
        self.timers.arm(Timer::TokenLoss, now + self.cfg.token);
        self.forward_token(now, &members, Message::Commit(c));
        Ok(())
    }

    fn continue_commit(&mut self, now: Instant, c: Commit) -> Result<(), Dropped> {
        let Some(f) = self.forming.as_mut() else { return Err(Dropped::NotApplicable) };
        if c.new_ring_id != f.ring_id || c.token_seq <= f.token_seq_seen {
            return Err(Dropped::NotApplicable);
        }
        if c.token_seq - f.token_seq_seen > TOKEN_SEQ_STEP_MAX
            && self.mutant != Some(Mutant::UnboundedRingSeq)
        {
            return Err(Dropped::Malformed); // more than a rotation ahead: not this ring's token
        }
        if !c.entries.iter().map(|e| e.node).eq(f.members.iter()) {
            return Err(Dropped::Malformed); // not the members this ring is being formed with
        }
        // Decide before changing anything: a refused commit token changes nothing.
        let is_rep = f.ring_id.rep == self.my_id.get();
        let filled = c.entries.iter().all(|e| e.filled);
        let step = match (self.state, c.rotation, is_rep) {
            (State::Commit, 1, true) if filled => CommitStep::SecondRotation,
            (State::Commit, 2, false) if filled => CommitStep::Recover,
            (State::Recovery, 2, true) => CommitStep::Originate,
            _ => return Err(Dropped::NotApplicable),
        };
        f.token_seq_seen = c.token_seq;
        let members = f.members.clone();
        self.last_forward = None;
        self.timers.clear(Timer::TokenRetransmit);
        self.timers.arm(Timer::TokenLoss, now + self.cfg.token);
        match step {
            CommitStep::SecondRotation => self.commit_second_rotation(now, c),
            CommitStep::Recover => {
                self.enter_recovery(now, &c.entries);
                self.forward_token(now, &members, Message::Commit(c));
            }
            CommitStep::Originate => self.originate_token(now),
        }
        Ok(())
    }

    /// The representative got the commit token back with every entry filled: second rotation.
    fn commit_second_rotation(&mut self, now: Instant, mut c: Commit) {
        c.rotation = 2;
        let entries = c.entries.clone();
        let members = self.forming.as_ref().map(|f| f.members.clone()).unwrap_or_default();
        self.enter_recovery(now, &entries);
        if members.len() == 1 {
            self.install(now);
        } else {
            self.forward_token(now, &members, Message::Commit(c));
        }
    }

    // -----------------------------------------------------------------------------------------
    // RECOVERY

    fn enter_recovery(&mut self, now: Instant, entries: &[CommitEntry]) {
        let my_old = self.ring_id;
        let trans: Vec<&CommitEntry> = entries.iter().filter(|e| e.old_ring_id == my_old).collect();
        let low_aru = trans.iter().map(|e| e.aru).min().unwrap_or(0);
        let queue: VecDeque<StoredMsg> = if self.mutant == Some(Mutant::SkipRecovery) {
            VecDeque::new()
        } else {
            self.ring
                .msgs
                .range(low_aru.saturating_add(1)..)
                .filter(|(_, m)| m.encapsulated.is_none())
                .map(|(seq, m)| StoredMsg {
                    origin: m.origin,
                    payload: m.payload.clone(),
                    encapsulated: Some(Encapsulated { ring_id: my_old, seq: *seq }),
                })
                .collect()
        };
        if let Some(f) = self.forming.as_mut() {
            f.entries = entries.to_vec();
        }
        self.recovery = Some(Recovery { queue, new_ring: RingData::default() });
        self.my_last_sent = 0;
        self.idle_rotations = 0;
        self.last_visit_seq = 0;
        self.stuck_rotations = 0;
        self.last_visit_aru = 0;
        self.set_state(State::Recovery, "commit token completed its rotations");
        self.timers.arm(Timer::TokenLoss, now + self.cfg.token);
    }

    /// Copies the old-ring messages received through recovery into the old ring's store.
    fn absorb_recovered(&mut self) {
        let old = self.ring_id;
        let recovered: Vec<(u64, StoredMsg)> = self
            .recovery
            .iter()
            .flat_map(|r| r.new_ring.msgs.values())
            .filter_map(|m| match m.encapsulated {
                Some(enc) if enc.ring_id == old => Some((
                    enc.seq,
                    StoredMsg { origin: m.origin, payload: m.payload.clone(), encapsulated: None },
                )),
                _ => None,
            })
            .collect();
        let unbounded = self.mutant == Some(Mutant::UnboundedStore);
        for (seq, m) in recovered {
            // An honest old-ring seq is within the old ring's window above our my_aru there.
            self.ring.insert_received(seq, m, unbounded);
        }
    }

    fn originate_token(&mut self, now: Instant) {
        let token = Token {
            token_seq: 0,
            seq: 0,
            aru: 0,
            rotation_aru: 0,
            fcc: 0,
            backlog: 0,
            retrans_flg: true,
            clear_rotations: 0,
            rtr: Vec::new(),
        };
        self.visit_token(now, token);
    }

    /// Delivers what the old ring still owes, then the transitional and regular
    /// configurations, and becomes OPERATIONAL in the new ring.
    fn install(&mut self, now: Instant) {
        self.absorb_recovered();
        let Some(f) = self.forming.take() else { return };
        let trans = MemberList::from_ids(
            f.entries.iter().filter(|e| e.old_ring_id == self.ring_id).map(|e| e.node).chain([self.my_id]),
        )
        .unwrap_or_default();
        let old_ring_id = self.ring_id;
        // Old-ring messages: everything held above what was delivered, in seq order.
        let pending: Vec<(u64, StoredMsg)> = self
            .ring
            .msgs
            .range(self.ring.delivered_up_to.saturating_add(1)..)
            .map(|(s, m)| (*s, m.clone()))
            .collect();
        for (seq, m) in pending {
            if m.encapsulated.is_none() {
                self.deliver(old_ring_id, seq, m);
            }
        }
        let left = self.members.minus(&trans);
        self.events.push_back(Event::ConfChange(ConfChange {
            kind: ConfKind::Transitional,
            ring_id: f.ring_id,
            old_ring_id,
            members: trans.clone(),
            joined: MemberList::new(),
            left,
        }));
        self.events.push_back(Event::ConfChange(ConfChange {
            kind: ConfKind::Regular,
            ring_id: f.ring_id,
            old_ring_id,
            members: f.members.clone(),
            joined: f.members.minus(&trans),
            left: MemberList::new(),
        }));
        assert!(f.members.contains(self.my_id), "a node is a member of every ring it installs");
        assert!(f.members.is_subset(&self.nodelist), "rings hold only configured nodes");
        self.ring_id = f.ring_id;
        self.members = f.members;
        self.history_sure |= self.members == self.nodelist;
        self.ring_failed = f.failed;
        self.ring = self.recovery.take().map(|r| r.new_ring).unwrap_or_default();
        self.stats.rings_installed += 1;
        self.set_state(State::Operational, "new ring installed");
        self.timers.clear(Timer::Join);
        self.timers.clear(Timer::Consensus);
        self.timers.arm(Timer::TokenLoss, now + self.cfg.token);
        if self.is_rep() && self.members.len() < self.nodelist.len() {
            self.timers.arm(Timer::Merge, now + self.cfg.merge);
        }
        if self.members.len() == 1 {
            // A singleton ring has no token to wait for: deliver its own messages directly.
            self.timers.clear(Timer::TokenLoss);
            self.flush_singleton();
        } else {
            self.deliver_ring();
        }
    }

    fn is_rep(&self) -> bool {
        self.members.lowest() == Some(self.my_id)
    }

    // -----------------------------------------------------------------------------------------
    // Ordered messages

    fn deliver(&mut self, ring_id: RingId, seq: u64, m: StoredMsg) {
        self.stats.delivered += 1;
        self.events.push_back(Event::Deliver(Delivery {
            ring_id,
            seq,
            origin: m.origin,
            payload: m.payload,
        }));
    }

    /// Delivers the installed ring's messages that are now contiguous (agreed order).
    fn deliver_ring(&mut self) {
        if self.state != State::Operational {
            return;
        }
        let ring_id = self.ring_id;
        for (seq, m) in self.ring.take_deliverable(self.mutant == Some(Mutant::DeliverOutOfOrder)) {
            if m.encapsulated.is_none() {
                self.deliver(ring_id, seq, m);
            }
        }
    }

    /// In a singleton ring every submitted message is ordered and delivered at once.
    fn flush_singleton(&mut self) {
        while let Some(payload) = self.submit_queue.pop_front() {
            let seq = self.ring.high_seq + 1;
            self.ring.insert(seq, StoredMsg { origin: self.my_id, payload, encapsulated: None });
        }
        self.deliver_ring();
        let aru = self.ring.my_aru;
        self.ring.collect_garbage(aru);
    }

    fn on_mcast(&mut self, header: Header, m: Mcast) -> Result<(), Dropped> {
        if !self.nodelist.contains(m.origin) {
            return Err(Dropped::Malformed);
        }
        let unbounded = self.mutant == Some(Mutant::UnboundedStore);
        let stored = StoredMsg { origin: m.origin, payload: m.payload, encapsulated: m.encapsulated };
        if let (State::Recovery, Some(rec), Some(f)) =
            (self.state, self.recovery.as_mut(), self.forming.as_ref())
        {
            if header.ring_id == f.ring_id {
                return if rec.new_ring.insert_received(m.seq, stored, unbounded) {
                    Ok(())
                } else {
                    Err(Dropped::NotApplicable)
                };
            }
            // The old ring's store is frozen once recovery starts: what it held then is exactly
            // what this node re-sends to the others. A late old-ring message stored now would be
            // delivered here and nowhere else, breaking virtual synchrony.
            return Err(Dropped::NotApplicable);
        }
        if header.ring_id != self.ring_id {
            return Err(Dropped::NotApplicable);
        }
        if !self.ring.insert_received(m.seq, stored, unbounded) {
            return Err(Dropped::NotApplicable);
        }
        self.deliver_ring();
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // The ORF token

    fn on_token(&mut self, now: Instant, header: Header, t: Token) -> Result<(), Dropped> {
        let expected_ring = match self.state {
            State::Operational => self.ring_id,
            State::Recovery => self.forming.as_ref().map_or(RingId::ZERO, |f| f.ring_id),
            _ => return Err(Dropped::NotApplicable),
        };
        if header.ring_id != expected_ring {
            return Err(Dropped::NotApplicable);
        }
        // The ORF token's token_seq starts at 0 with the ring's representative and grows at
        // every hop: anything not newer is a retransmission we already handled.
        let ring = self.active_ring();
        if t.token_seq <= ring.token_seq_seen {
            return Err(Dropped::NotApplicable);
        }
        // Bounds (every one holds for an honest token): one rotation adds at most one hop per
        // member to token_seq; the ring-wide aru is the minimum of the members' my_aru, ours
        // included, and never above seq; a holder orders a message only within MESSAGE_WINDOW
        // of the aru.
        let consistent = t.token_seq - ring.token_seq_seen <= TOKEN_SEQ_STEP_MAX
            && t.aru <= t.seq
            && t.rotation_aru <= t.seq
            && t.aru <= ring.my_aru
            && t.seq - t.aru <= MESSAGE_WINDOW;
        if !consistent && self.mutant != Some(Mutant::UnboundedRingSeq) {
            return Err(Dropped::Malformed);
        }
        self.visit_token(now, t);
        Ok(())
    }

    /// This node's turn with the token: retransmit, request, send, account, forward.
    fn visit_token(&mut self, now: Instant, mut t: Token) {
        let recovering = self.state == State::Recovery;
        let members = if recovering {
            self.forming.as_ref().map(|f| f.members.clone()).unwrap_or_default()
        } else {
            self.members.clone()
        };
        let is_rep = members.lowest() == Some(self.my_id);
        self.last_forward = None;
        self.timers.clear(Timer::TokenRetransmit);
        self.timers.arm(Timer::TokenLoss, now + self.cfg.token);
        {
            let ring = self.active_ring_mut();
            ring.token_seq_seen = t.token_seq;
        }
        if is_rep {
            // A rotation ends here: its minimum aru is now known to every member.
            t.aru = t.rotation_aru.min(t.seq);
            t.clear_rotations = if t.retrans_flg { 0 } else { t.clear_rotations.saturating_add(1) };
            t.retrans_flg = false;
            self.track_idle(&t);
        }
        let aru = t.aru;
        self.active_ring_mut().collect_garbage(aru);
        let retransmitted = self.serve_retransmits(&members, &mut t);
        self.request_missing(&mut t);
        let sent = self.send_new_messages(&members, &mut t, retransmitted);
        let my_aru = self.active_ring().my_aru;
        let pending = self.recovery.as_ref().is_some_and(|r| !r.queue.is_empty());
        if sent > 0 || pending || my_aru < t.seq {
            t.retrans_flg = true;
        }
        t.rotation_aru = if is_rep { my_aru } else { t.rotation_aru.min(my_aru) };
        self.check_fail_to_recv(my_aru, t.seq);
        if self.stuck_rotations >= self.cfg.fail_recv_const {
            // corosync's "FAILED TO RECEIVE": this node holds the ring back; re-form.
            self.stuck_rotations = 0;
            self.enter_gather(now, "failed to receive");
            return;
        }
        if recovering && t.clear_rotations >= 1 {
            self.install(now);
        }
        if self.state == State::Operational {
            self.deliver_ring();
        }
        t.token_seq = t.token_seq.saturating_add(1);
        if self.state == State::Operational && is_rep && self.should_hold(&t) {
            self.held_token = Some(t);
            self.timers.arm(Timer::Hold, now + self.cfg.hold);
            return;
        }
        let next_members = if self.state == State::Operational { self.members.clone() } else { members };
        self.forward_token(now, &next_members, Message::Token(t));
    }

    fn active_ring(&self) -> &RingData {
        match (&self.state, &self.recovery) {
            (State::Recovery, Some(r)) => &r.new_ring,
            _ => &self.ring,
        }
    }

    fn active_ring_mut(&mut self) -> &mut RingData {
        match (&self.state, &mut self.recovery) {
            (State::Recovery, Some(r)) => &mut r.new_ring,
            _ => &mut self.ring,
        }
    }

    fn serve_retransmits(&mut self, members: &MemberList, t: &mut Token) -> u32 {
        let mut served = 0u32;
        let mut still_missing = Vec::with_capacity(t.rtr.len());
        let requests = std::mem::take(&mut t.rtr);
        let (floor, top) = (self.active_ring().gc_floor, t.seq);
        for seq in requests {
            if seq <= floor || seq > top {
                continue; // nobody can miss what everybody had, or what was never ordered
            }
            let found = self.active_ring().msgs.get(&seq).cloned();
            match found {
                Some(m) => {
                    served += 1;
                    self.stats.mcast_retransmits += 1;
                    let mcast =
                        Mcast { seq, origin: m.origin, encapsulated: m.encapsulated, payload: m.payload };
                    let to: Vec<NodeId> = members.iter().filter(|n| *n != self.my_id).collect();
                    self.send_marked(to, Message::Mcast(mcast), true);
                }
                None => still_missing.push(seq),
            }
        }
        t.rtr = still_missing;
        served
    }

    fn request_missing(&mut self, t: &mut Token) {
        // Ask only for messages that were already ordered at this node's previous visit: a
        // message sent just before the token may simply still be on its way.
        let horizon = self.last_visit_seq.min(t.seq);
        self.last_visit_seq = t.seq;
        let ring = self.active_ring();
        let missing: Vec<u64> = (ring.my_aru.saturating_add(1)..=horizon)
            .filter(|s| !ring.msgs.contains_key(s) && *s > ring.gc_floor)
            .take(RTR_MAX)
            .collect();
        for s in missing {
            if t.rtr.len() >= RTR_MAX {
                break;
            }
            if !t.rtr.contains(&s) {
                t.rtr.push(s);
            }
        }
    }

    fn send_new_messages(&mut self, members: &MemberList, t: &mut Token, retransmitted: u32) -> u32 {
        let fcc = t.fcc.saturating_sub(self.my_last_sent);
        let window_room = self.cfg.window_size.saturating_sub(fcc).saturating_sub(retransmitted);
        let budget = self.cfg.max_messages.min(window_room);
        let mut sent = 0u32;
        // A new message's seq is at most MESSAGE_WINDOW above the ring-wide aru: every member
        // stores it (it is within the window above its own my_aru).
        while sent < budget
            && self.active_ring().msgs.len() < RETAINED_MESSAGES_MAX
            && t.seq < t.aru.saturating_add(MESSAGE_WINDOW)
        {
            let Some(msg) = self.next_outgoing() else { break };
            t.seq = t.seq.saturating_add(1);
            let seq = t.seq;
            self.active_ring_mut().insert(seq, msg.clone());
            let mcast =
                Mcast { seq, origin: msg.origin, encapsulated: msg.encapsulated, payload: msg.payload };
            self.send_to_ring(members, Message::Mcast(mcast));
            sent += 1;
        }
        self.my_last_sent = sent;
        t.fcc = fcc.saturating_add(sent);
        t.backlog = u32::try_from(self.submit_queue.len()).unwrap_or(u32::MAX);
        sent
    }

    /// The next message to order: old-ring copies first while recovering, new messages only
    /// once OPERATIONAL.
    fn next_outgoing(&mut self) -> Option<StoredMsg> {
        match self.state {
            State::Recovery => self.recovery.as_mut().and_then(|r| r.queue.pop_front()),
            State::Operational => self.submit_queue.pop_front().map(|payload| StoredMsg {
                origin: self.my_id,
                payload,
                encapsulated: None,
            }),
            _ => None,
        }
    }

    fn check_fail_to_recv(&mut self, my_aru: u64, seq: u64) {
        if my_aru < seq && my_aru == self.last_visit_aru {
            self.stuck_rotations = self.stuck_rotations.saturating_add(1);
        } else {
            self.stuck_rotations = 0;
        }
        self.last_visit_aru = my_aru;
    }

    fn track_idle(&mut self, t: &Token) {
        if t.seq == self.last_rotation_seq && t.rtr.is_empty() {
            self.idle_rotations = self.idle_rotations.saturating_add(1);
        } else {
            self.idle_rotations = 0;
        }
        self.last_rotation_seq = t.seq;
    }

    fn should_hold(&self, t: &Token) -> bool {
        self.idle_rotations >= self.cfg.seqno_unchanged_const
            && t.rtr.is_empty()
            && self.submit_queue.is_empty()
            && t.aru == t.seq
    }

    fn release_held_token(&mut self, now: Instant) {
        if let Some(t) = self.held_token.take() {
            self.timers.clear(Timer::Hold);
            // The idle count is not reset here: an idle ring goes on being held at every
            // rotation (a new message resets the count when the token's seq moves).
            let members = self.members.clone();
            self.forward_token(now, &members, Message::Token(t));
        }
    }

    fn on_hold_cancel(&mut self, now: Instant, header: Header) -> Result<(), Dropped> {
        if self.state != State::Operational || header.ring_id != self.ring_id || self.held_token.is_none() {
            return Err(Dropped::NotApplicable);
        }
        self.release_held_token(now);
        Ok(())
    }

    fn forward_token(&mut self, now: Instant, members: &MemberList, mut message: Message) {
        if let Message::Commit(c) = &mut message {
            // Like the ORF token, the commit token's token_seq grows at every hop so that a
            // retransmitted copy is recognised.
            c.token_seq = c.token_seq.saturating_add(1);
            if let Some(f) = self.forming.as_mut() {
                f.token_seq_seen = f.token_seq_seen.max(c.token_seq);
            }
        }
        let next = self.next_in(members);
        let packet = Packet { header: self.header(), message };
        self.transmits.push_back(Transmit { to: vec![next], packet: packet.clone(), every_link: true });
        self.last_forward = Some((next, packet));
        self.timers.arm(Timer::TokenRetransmit, now + self.cfg.token_retransmit);
    }

    // -----------------------------------------------------------------------------------------
    // Merge detection and timers

    fn on_merge_detect(&mut self, now: Instant, header: Header) -> Result<(), Dropped> {
        if self.state != State::Operational || header.ring_id == self.ring_id {
            return Err(Dropped::NotApplicable);
        }
        if self.members.contains(header.sender) && header.ring_id.seq < self.ring_id.seq {
            return Err(Dropped::NotApplicable); // a stale probe from our own previous ring
        }
        self.enter_gather(now, "another ring detected");
        // The gather's first join is due now and will carry the prober.
        self.add_proc(header.sender, now);
        Ok(())
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::TokenLoss => {
                if self.state == State::Operational {
                    self.stats.token_losses += 1;
                }
                self.enter_gather(now, "token lost");
            }
            Timer::TokenRetransmit => {
                if let Some((to, packet)) = self.last_forward.clone() {
                    self.stats.token_retransmits += 1;
                    self.transmits.push_back(Transmit { to: vec![to], packet, every_link: true });
                    self.timers.arm(Timer::TokenRetransmit, now + self.cfg.token_retransmit);
                }
            }
            Timer::Join => self.on_join_timer(now),
            Timer::Consensus => self.on_consensus_timeout(now),
            Timer::Merge => {
                if self.state == State::Operational && self.is_rep() {
                    let others: Vec<NodeId> = self.nodelist.minus(&self.members).iter().collect();
                    self.send(others, Message::MergeDetect);
                    self.timers.arm(Timer::Merge, now + self.cfg.merge);
                }
            }
            Timer::Hold => {
                if self.state == State::Operational && self.members.len() == 1 {
                    self.flush_singleton();
                } else {
                    self.release_held_token(now);
                }
            }
        }
    }
}
