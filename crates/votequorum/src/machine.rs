//! [`Votequorum`]: the policy state machine around the calculation, driven like corosync's
//! sync (corosync-behaviour §2.2, §3.2–§3.11).
//!
//! How the caller (the `node` crate) drives it:
//! 1. At each new ring: [`Votequorum::sync_start`] (marks the nodes that left DEAD and decides
//!    the LMS timer), then multicast [`Votequorum::my_nodeinfo`] in agreed order.
//! 2. Deliver every votequorum payload in Totem agreed order, to every member, with
//!    [`Votequorum::message_received`] (or the typed `nodeinfo_received` /
//!    `reconfigure_received`); our own messages too.
//! 3. At the sync barrier: [`Votequorum::activate`] recomputes and always asks for a quorum
//!    notification (§2.2 trigger 1). Nodeinfos delivered during a sync are recorded at once
//!    but the recomputation they ask for runs here, once, on the complete table, and so do
//!    what they change beyond their own row (the ring's expected votes, the take-over, the
//!    WFA clear) and the RECONFIGUREs delivered during the sync: every member settles them
//!    from the same messages (deviations: see docs/deviations.md). A sync abandoned for a
//!    newer ring changes nothing but the rows. A nodeinfo stated for another ring is dropped.
//!    Nodeinfos outside a sync (a leaving node) recompute immediately, as in corosync.
//! 4. After every call, drain [`Votequorum::poll_action`]: arm or cancel the LMS timer (feed
//!    its expiry back with [`Votequorum::lms_timer_expired`] and the generation), persist the
//!    expected votes (expected_votes_tracking), tell votequorum trackers about new expected
//!    votes, and send a quorum-only notification when quorate flipped outside a sync (§2.2
//!    trigger 2).
//! 5. Client requests: [`Votequorum::set_expected`], [`Votequorum::set_votes`] and
//!    [`Votequorum::cancel_wait_for_all`] only check and build the RECONFIGURE to multicast;
//!    nothing changes until it is delivered back, so every member applies it at the same point.
//!
//! Invariants: our own row is always present and never DEAD; the wait-for-all status implies
//! inquorate, and outside a sync (with wait_for_all) it is set exactly when inquorate, so that
//! the members a ring brings together agree on it; at most one action of each kind is queued
//! (a newer one replaces an older one, and a quorate flip followed by its flip-back cancels
//! out).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use quorumd_proto::{MemberList, NodeId, RingId};

use crate::calc::{calculate_quorum, tie_breaker, tie_holder, AtbInputs, QuorumInputs, TieBreaker};
use crate::config::{Settings, VqConfig};
use crate::error::Error;
use crate::limits::{EXPECTED_VOTES_MAX, VOTES_MAX};
use crate::nodes::{NodeEntry, NodeFlags, NodeState, NodeTable, Tally};
use crate::status::{Decision, InfoFlags, QuorumState};
use crate::wire::{NodeInfo, ReconfigParam, Reconfigure, VqMessage};

/// Something the caller must do on the machine's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// (Re)start the last-man-standing timer: cancel any armed one, then call
    /// [`Votequorum::lms_timer_expired`] with `generation` after `window_ms`.
    ArmLmsTimer {
        /// `last_man_standing_window`, milliseconds.
        window_ms: u32,
        /// Hand this back on expiry; a stale generation is ignored.
        generation: u64,
    },
    /// Cancel the last-man-standing timer.
    CancelLmsTimer,
    /// Store this value as the tracked expected votes (`ev_tracking`, 4 bytes) and hand it back
    /// to [`Votequorum::new`] after a restart.
    PersistExpectedVotes(u32),
    /// Our expected votes changed: send the expected-votes callback to votequorum trackers.
    ExpectedVotesChanged(u32),
    /// Quorate flipped outside a sync: send a quorum-only notification with the current ring.
    QuorateChanged {
        /// The new value.
        quorate: bool,
    },
}

impl Action {
    fn kind(&self) -> u8 {
        match self {
            Action::ArmLmsTimer { .. } | Action::CancelLmsTimer => 0,
            Action::PersistExpectedVotes(_) => 1,
            Action::ExpectedVotesChanged(_) => 2,
            Action::QuorateChanged { .. } => 3,
        }
    }
}

/// Kinds of [`Action`]; the queue never holds more.
const ACTION_KINDS: usize = 4;

/// What [`Votequorum::activate`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// The state after the recomputation.
    pub state: QuorumState,
    /// Send the quorum notification. Always true: corosync notifies at every activation,
    /// whether or not quorate changed (corosync-behaviour §2.2 trigger 1, §7 quirk 3).
    pub notify: bool,
}

/// The votequorum state of one node.
#[derive(Clone, Debug)]
pub struct Votequorum {
    settings: Settings,
    nodes: NodeTable,
    quorum: u32,
    quorate: bool,
    wfa_status: bool,
    /// LMS is configured and not (yet) disabled by a node with more than one vote.
    lms_enabled: bool,
    lms_armed: Option<u64>,
    lms_generation: u64,
    /// Sticky tie-breaker ids from the last quorate computation.
    lowest_node_id: Option<NodeId>,
    highest_node_id: Option<NodeId>,
    members: MemberList,
    previous_members: MemberList,
    ring_id: RingId,
    ev_barrier: u32,
    ev_tracking_barrier: u32,
    in_sync: bool,
    /// A recomputation requested by a nodeinfo during the sync, run at activation:
    /// `(allow_decrease, by_current_nodes)`.
    deferred: Option<(bool, bool)>,
    /// Members whose nodeinfo in the current sync said QUORATE (agreed by every member).
    sync_quorate: BTreeSet<NodeId>,
    /// Members whose nodeinfo in the current sync carried ATB_GRANT.
    sync_atb_grant: BTreeSet<NodeId>,
    /// A nodeinfo of the current sync came from a quorate node not waiting for all: our
    /// wait-for-all status is cleared at activation.
    sync_wfa_clear: bool,
    /// The expected votes each member stated in its nodeinfo of the current sync.
    sync_stated: BTreeMap<NodeId, u32>,
    /// RECONFIGUREs delivered during the current sync, applied at its activation.
    held: Vec<Reconfigure>,
    decision: Decision,
    actions: VecDeque<Action>,
}

impl Votequorum {
    /// Builds the state of node `my_id` from its configuration. `persisted_expected_votes` is
    /// the last [`Action::PersistExpectedVotes`] value (None on a fresh state dir); it is used
    /// only with expected_votes_tracking. Drain [`Votequorum::poll_action`] afterwards.
    pub fn new(
        my_id: NodeId,
        config: &VqConfig,
        persisted_expected_votes: Option<u32>,
    ) -> Result<Votequorum, Error> {
        Ok(Votequorum::from_settings(config.validate(my_id)?, persisted_expected_votes))
    }

    /// Builds the state from already validated settings.
    pub fn from_settings(settings: Settings, persisted_expected_votes: Option<u32>) -> Votequorum {
        let tracking = settings.expected_votes_tracking;
        let ev_tracking_barrier =
            if tracking { persisted_expected_votes.unwrap_or(0).min(EXPECTED_VOTES_MAX) } else { 0 };
        // Deviation from corosync: with tracking on and nothing persisted yet, corosync starts
        // from the nodelist total and ignores quorum.expected_votes; we use the configured value.
        let expected_votes =
            if ev_tracking_barrier > 0 { ev_tracking_barrier } else { settings.expected_votes };
        let mut flags = NodeFlags::FIRST;
        flags.set(NodeFlags::WFASTATUS, settings.wait_for_all);
        let us = NodeEntry {
            nodeid: settings.my_id,
            state: NodeState::Member,
            votes: settings.my_votes.min(VOTES_MAX),
            expected_votes,
            flags,
        };
        let mut nodes = NodeTable::default();
        let my_row = nodes.entry(us.nodeid).map(|(row, _)| *row = us);
        assert!(my_row.is_ok(), "an empty table has room for our own node");
        let mut vq = Votequorum {
            quorum: 0,
            quorate: false,
            wfa_status: settings.wait_for_all,
            lms_enabled: settings.last_man_standing,
            lms_armed: None,
            lms_generation: 0,
            lowest_node_id: None,
            highest_node_id: None,
            members: MemberList::new(),
            previous_members: MemberList::new(),
            ring_id: RingId::ZERO,
            ev_barrier: expected_votes,
            ev_tracking_barrier,
            // No quorate flip is reported before the first activation: clients cannot connect
            // before the first sync completes (corosync-behaviour §2.4), and that activation notifies anyway.
            in_sync: true,
            deferred: None,
            sync_quorate: BTreeSet::new(),
            sync_atb_grant: BTreeSet::new(),
            sync_wfa_clear: false,
            sync_stated: BTreeMap::new(),
            held: Vec::new(),
            decision: Decision::NotEnoughVotes { total_votes: 0, quorum: 0, tie_breaker: None },
            actions: VecDeque::new(),
            nodes,
            settings,
        };
        vq.recalculate(false, false);
        vq
    }

    /// Applies reloaded settings (the nodelist, this node's votes, expected votes) at run
    /// time, as corosync's configuration reload does: the quorum is recomputed at once and may
    /// go down, since the configuration says so. The policy switches (two_node, wait_for_all,
    /// last_man_standing, auto_tie_breaker, allow_downscale, expected_votes_tracking) and the
    /// node id cannot change at run time; such settings are refused and nothing changes.
    /// Drain [`Votequorum::poll_action`] afterwards.
    pub fn reconfigure(&mut self, settings: Settings) -> Result<(), Error> {
        let old = &self.settings;
        let fixed = settings.my_id == old.my_id
            && settings.two_node == old.two_node
            && settings.wait_for_all == old.wait_for_all
            && settings.last_man_standing == old.last_man_standing
            && settings.auto_tie_breaker == old.auto_tie_breaker
            && settings.allow_downscale == old.allow_downscale
            && settings.expected_votes_tracking == old.expected_votes_tracking;
        if !fixed {
            return Err(Error::Refused(
                "two_node, wait_for_all, last_man_standing, auto_tie_breaker, allow_downscale and \
                 expected_votes_tracking cannot change at run time: restart the cluster to change them",
            ));
        }
        let expected = settings.expected_votes.max(self.ev_tracking_barrier);
        let votes = settings.my_votes.min(VOTES_MAX);
        let us = self.us_mut();
        us.votes = votes;
        us.expected_votes = expected;
        self.ev_barrier = expected;
        self.settings = settings;
        self.push(Action::ExpectedVotesChanged(expected));
        self.recalculate(true, false);
        Ok(())
    }

    /// The next thing the caller must do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Our nodeinfo, to multicast during every sync (after [`Votequorum::sync_start`]): it is
    /// stated for the current ring, and members drop it if it is delivered in another one.
    pub fn my_nodeinfo(&self) -> NodeInfo {
        let us = self.us();
        NodeInfo {
            nodeid: us.nodeid,
            votes: us.votes,
            expected_votes: us.expected_votes,
            flags: us.flags,
            ring_id: self.ring_id,
        }
    }

    /// The start of a membership sync (corosync's `votequorum_sync_init`): the nodes of the
    /// previous ring missing from `members` become DEAD, and the LMS timer is (re)armed when
    /// `members` still holds a quorum of nodes and somebody left, or when ATB is on, the
    /// members are at most a quorum and the (sticky) lowest node id is here (corosync-behaviour §3.6).
    pub fn sync_start(&mut self, ring_id: RingId, members: &MemberList) {
        let my_id = self.settings.my_id;
        // RECONFIGUREs held by an abandoned sync take effect now, as corosync applies them at
        // delivery: the members that move here from that ring delivered the same ones.
        for r in std::mem::take(&mut self.held) {
            self.apply_reconfigure(&r);
        }
        self.in_sync = true;
        self.deferred = None;
        self.sync_quorate.clear();
        self.sync_atb_grant.clear();
        self.sync_wfa_clear = false;
        self.sync_stated.clear();
        if members.len() > 1 {
            self.us_mut().flags.set(NodeFlags::FIRST, false);
        }
        let gone = self.members.minus(members);
        for id in gone.iter().filter(|id| *id != my_id) {
            if let Some(row) = self.nodes.get_mut(id) {
                row.state = NodeState::Dead;
            }
        }
        if self.lms_enabled {
            let count = u32::try_from(members.len()).unwrap_or(u32::MAX);
            let lowest_here = self.lowest_node_id.is_some_and(|id| self.nodes.is_member(id));
            let atb = self.settings.auto_tie_breaker.is_some();
            if (count >= self.quorum && !gone.is_empty()) || (count <= self.quorum && atb && lowest_here) {
                self.arm_lms_timer();
            }
        }
        self.previous_members = std::mem::replace(&mut self.members, members.clone());
        self.ring_id = ring_id;
        let grant = self.local_tie_holder().is_some_and(|v| matches!(v, TieBreaker::Granted { .. }));
        self.us_mut().flags.set(NodeFlags::ATB_GRANT, grant);
    }

    /// Whether, by this node's own history, this membership holds the tie-breaker (ATB only).
    fn local_tie_holder(&self) -> Option<TieBreaker> {
        let mode = self.settings.auto_tie_breaker.as_ref()?;
        let inputs = AtbInputs {
            mode,
            lowest_node_id: self.lowest_node_id,
            highest_node_id: self.highest_node_id,
            total_votes: 0,
            expected_votes: 0,
            quorum: self.quorum,
            members: &self.members,
            previous_members: &self.previous_members,
        };
        Some(tie_holder(&inputs, |id| self.members.contains(id)))
    }

    /// Decodes and applies one votequorum payload delivered by Totem from `from`.
    pub fn message_received(&mut self, from: NodeId, payload: &[u8]) -> Result<(), Error> {
        match VqMessage::decode(payload)? {
            VqMessage::NodeInfo(info) => self.nodeinfo_received(from, &info),
            VqMessage::Reconfigure(r) => self.reconfigure_received(from, &r),
        }
    }

    /// A NODEINFO from `from`, delivered in agreed order (corosync-behaviour §3.2): X becomes MEMBER (or
    /// LEAVING), its votes are stored, its expected votes are stored if it is quorate (or with
    /// tracking) and otherwise set to ours; if we are inquorate and X is quorate we take over
    /// its expected votes; a quorate X not waiting for all clears our WFA status.
    ///
    /// During a sync (deviations, see the comments below): only a nodeinfo stated for this ring
    /// counts; the row is recorded at once, but the expected votes (take-over included), the
    /// WFA clear and the recomputation are settled at activation from the whole sync.
    pub fn nodeinfo_received(&mut self, from: NodeId, info: &NodeInfo) -> Result<(), Error> {
        if info.nodeid != from {
            return Err(Error::SenderMismatch { from, claimed: info.nodeid });
        }
        self.check_sender(from)?;
        if info.ring_id != self.ring_id {
            // Deviation from corosync: a nodeinfo stated for another ring was queued at a sync
            // that a newer configuration abandoned, and Totem carried it into this ring. Its
            // flags describe the sender's past state (a QUORATE that the sender's next
            // activation revoked, an ATB_GRANT for another membership), and applied after this
            // ring's activation it would clear wait_for_all on every member but its sender
            // (which reads its own fresh flags, corosync-behaviour §3.2). The sender's nodeinfo for this
            // ring is in the queue too; the stale one is dropped by every member alike.
            return Err(Error::StaleNodeInfo { from, stated_for: info.ring_id, current: self.ring_id });
        }
        let (row, is_new) = self.nodes.entry(from)?;
        let before = *row;
        row.flags = info.flags;
        row.votes = info.votes.min(VOTES_MAX);
        row.state = NodeState::Member;
        let leaving = info.flags.contains(NodeFlags::LEAVING);
        if leaving {
            row.state = NodeState::Leaving;
        }
        let x_quorate = info.flags.contains(NodeFlags::QUORATE);
        if self.in_sync {
            if x_quorate {
                self.sync_quorate.insert(from);
            }
            if info.flags.contains(NodeFlags::ATB_GRANT) {
                self.sync_atb_grant.insert(from);
            }
            self.sync_stated.insert(from, info.expected_votes);
        }
        // Deviation from corosync: during a sync the take-over, and the expected votes of the
        // rows, are settled at activation (`resolve_sync_expected`); the row value set below is
        // corosync's provisional one.
        let take_over = !self.quorate && x_quorate && !self.in_sync;
        if take_over {
            self.us_mut().expected_votes = info.expected_votes;
        }
        let expected = if x_quorate || self.settings.expected_votes_tracking {
            info.expected_votes
        } else {
            self.us().expected_votes
        };
        let row = self.row_mut(from);
        row.expected_votes = expected;
        let after = *row;
        if self.lms_enabled && after.votes > 1 {
            // corosync-behaviour §3.1: LMS needs every node at 1 vote; corosync switches it off for good.
            self.lms_enabled = false;
            self.cancel_lms_timer();
        }
        let first = info.flags.contains(NodeFlags::FIRST);
        if is_new || from == self.settings.my_id || first || before != after {
            if self.in_sync {
                // Deviation from corosync: corosync recomputes here, on a table that holds only
                // the nodeinfos delivered so far. Those transient results re-arm WFA and refresh
                // the ATB ids differently on different members; we recompute once, at activation,
                // when every member holds the same rows.
                let (decrease, by_node) = self.deferred.unwrap_or((false, false));
                self.deferred = Some((decrease || leaving, by_node || leaving));
            } else {
                self.recalculate(leaving || take_over, leaving);
            }
        }
        // corosync looks at the row's flags *after* the recomputation: for our own nodeinfo they
        // are our fresh flags, not the (possibly stale) ones we sent.
        let flags = self.nodes.get(from).map_or(NodeFlags::EMPTY, |row| row.flags);
        if self.settings.wait_for_all
            && flags.contains(NodeFlags::QUORATE)
            && !flags.contains(NodeFlags::WFASTATUS)
        {
            if self.in_sync {
                // Deviation from corosync: corosync clears the status at once. When the sync
                // is abandoned (a new configuration before its barrier) the clear outlives it
                // without the recomputation that re-arms WFA on an inquorate node, so the node
                // enters the next ring inquorate *and* not waiting, while the members it meets
                // there wait (the simulator found that, seed 7449). The clear is applied at this
                // sync's activation, by every member alike, or not at all.
                self.sync_wfa_clear = true;
            } else {
                self.set_wfa_status(false);
            }
        }
        Ok(())
    }

    /// A RECONFIGURE from `from`, delivered in agreed order (corosync-behaviour §3.11): EXPECTED_VOTES sets
    /// every member's expected votes and `ev_barrier`, NODE_VOTES sets one node's votes (an
    /// unknown node is ignored, as corosync does), both recompute with decrease allowed;
    /// CANCEL_WFA clears the WFA status and recomputes.
    ///
    /// Deviation from corosync: one delivered during a sync (other than an LMS expiry, which
    /// only counts outside a sync) is held and applied at the sync's activation, right after
    /// its recomputation. corosync applies it at once and recomputes on a table that holds only
    /// the nodeinfos delivered so far, which differs between members, and the rest of the sync
    /// then overwrites part of it (a setexpected raced by a membership change).
    pub fn reconfigure_received(&mut self, from: NodeId, r: &Reconfigure) -> Result<(), Error> {
        self.check_sender(from)?;
        if self.in_sync && r.param != ReconfigParam::LmsExpired {
            self.held.push(*r);
            return Ok(());
        }
        self.apply_reconfigure(r);
        Ok(())
    }

    fn apply_reconfigure(&mut self, r: &Reconfigure) {
        match r.param {
            ReconfigParam::ExpectedVotes => {
                if r.value > 0 {
                    self.nodes.set_member_expected(r.value);
                }
                let expected = self.us().expected_votes;
                self.push(Action::ExpectedVotesChanged(expected));
                self.ev_barrier = r.value;
                if self.settings.expected_votes_tracking {
                    let floor = self.ev_tracking_barrier;
                    let us = self.us_mut();
                    us.expected_votes = us.expected_votes.max(floor);
                }
                self.recalculate(true, false);
            }
            ReconfigParam::NodeVotes => {
                let Some(row) = self.nodes.get_mut(r.nodeid) else { return };
                row.votes = r.value.min(VOTES_MAX);
                self.recalculate(true, false);
            }
            ReconfigParam::CancelWfa => {
                self.set_wfa_status(false);
                self.recalculate(false, false);
            }
            ReconfigParam::LmsExpired => {
                // Applied only in the ring whose window expired, outside a sync, and only while
                // quorate (corosync-behaviour §3.6): every member sees the same message at the same point.
                let same_ring = r.value == self.ring_id.seq as u32;
                if same_ring && !self.in_sync && self.quorate && self.lms_enabled {
                    self.cancel_lms_timer();
                    self.recalculate(true, true);
                }
            }
        }
    }

    /// The sync barrier (corosync's `votequorum_sync_activate`): recompute, end the sync, and
    /// return the state with the instruction to notify.
    pub fn activate(&mut self) -> Activation {
        let (allow_decrease, by_current_nodes) = self.deferred.take().unwrap_or((false, false));
        let took_over = self.resolve_sync_expected();
        if std::mem::take(&mut self.sync_wfa_clear) {
            self.set_wfa_status(false);
        }
        self.recalculate(allow_decrease || took_over, by_current_nodes);
        for r in std::mem::take(&mut self.held) {
            self.apply_reconfigure(&r);
        }
        self.in_sync = false;
        Activation { state: self.state(), notify: true }
    }

    /// Settles the expected votes of the sync's members from what they stated in it, the same
    /// way on every member; returns whether we took over the expected votes of quorate members
    /// (an inquorate node meeting quorate ones, which allows the quorum to go down, corosync-behaviour §3.2).
    ///
    /// Deviation from corosync: corosync records an inquorate member's row with *its own*
    /// expected votes of the moment the nodeinfo is delivered, an inquorate node takes over the
    /// expected votes of each quorate member as its nodeinfo is delivered, and a quorate node
    /// keeps its own. So rows recorded before a take-over keep the old value on one member and
    /// not on another (its own row is the one the take-over rewrites), members that meet with
    /// different expected votes and no quorate member each count their own, and quorate
    /// members that meet keep different values: one ring, different expected votes, quorums
    /// and even verdicts (the simulator found members of one ring quorate and not, seed 7309).
    /// Here, once every member's nodeinfo is in, the ring's expected votes are the highest that
    /// a quorate member stated (what a rejoining node takes over), or, when no member is
    /// quorate, the highest that any member stated. Every member takes them (a quorate one only
    /// ever raises its own), every member's row holds them, and with tracking every row holds
    /// what its node stated, as in corosync. The quorum is then the one corosync's quorate
    /// members compute when a quorate member is present, and without one the highest that any
    /// of corosync's members would compute (each of them counts only its own value).
    fn resolve_sync_expected(&mut self) -> bool {
        let quorate_stated =
            self.sync_stated.iter().filter(|(id, _)| self.sync_quorate.contains(id)).map(|(_, ev)| *ev).max();
        let any_stated = self.sync_stated.values().copied().max();
        let Some(agreed) = quorate_stated.or(any_stated) else { return false };
        let took_over = quorate_stated.is_some() && !self.sync_quorate.contains(&self.settings.my_id);
        self.us_mut().expected_votes = agreed;
        let tracking = self.settings.expected_votes_tracking;
        let my_id = self.settings.my_id;
        for (id, stated) in std::mem::take(&mut self.sync_stated) {
            if id == my_id {
                continue;
            }
            if let Some(row) = self.nodes.get_mut(id) {
                row.expected_votes = if tracking { stated } else { agreed };
            }
        }
        took_over
    }

    /// The LMS timer armed with `generation` fired. Only if it is the current timer and we are
    /// still quorate, returns the RECONFIGURE to multicast: when it is delivered (in agreed
    /// order, to every member) each member recomputes with decrease allowed and expected votes
    /// = member count (corosync-behaviour §3.6). A stale or cancelled timer gives nothing.
    pub fn lms_timer_expired(&mut self, generation: u64) -> Option<Reconfigure> {
        if self.lms_armed != Some(generation) {
            return None;
        }
        self.lms_armed = None;
        self.quorate.then_some(Reconfigure {
            nodeid: self.settings.my_id,
            value: self.ring_id.seq as u32,
            param: ReconfigParam::LmsExpired,
        })
    }

    /// Checks `votequorum_setexpected(expected_votes)` (corosync-behaviour §3.11) and returns the RECONFIGURE
    /// to multicast. Refused (INVALID_PARAM) below the current total votes, or when a quorate
    /// cluster would become inquorate under the trial quorum.
    pub fn set_expected(&self, expected_votes: u32) -> Result<Reconfigure, Error> {
        if expected_votes == 0 || expected_votes > EXPECTED_VOTES_MAX {
            // Deviation from corosync: 0 and values beyond the limits are refused outright.
            return Err(Error::InvalidParam("expected votes must be between 1 and 25165440"));
        }
        let tally = self.nodes.tally();
        if expected_votes < tally.total_votes {
            return Err(Error::InvalidParam("expected votes cannot be below the current total votes"));
        }
        // corosync switches allow_downscale off for this trial.
        let trial = self.quorum_inputs(true, expected_votes);
        let trial = calculate_quorum(&tally, &QuorumInputs { allow_downscale: false, ..trial });
        if self.quorate && trial > tally.total_votes {
            return Err(Error::InvalidParam("this would make a quorate cluster inquorate"));
        }
        Ok(Reconfigure {
            nodeid: self.settings.my_id,
            value: expected_votes,
            param: ReconfigParam::ExpectedVotes,
        })
    }

    /// Checks `votequorum_setvotes(nodeid, votes)` (corosync-behaviour §3.11) and returns the RECONFIGURE to
    /// multicast: NAME_NOT_FOUND for a node never heard of; INVALID_PARAM when the trial quorum
    /// falls outside `[total/2, total]`.
    pub fn set_votes(&self, nodeid: u32, votes: u32) -> Result<Reconfigure, Error> {
        let id = NodeId::new(nodeid).map_err(|_| Error::NameNotFound(nodeid))?;
        let row = self.nodes.get(id).ok_or(Error::NameNotFound(nodeid))?;
        if votes > VOTES_MAX {
            // Deviation from corosync: votes are bounded (crate::limits).
            return Err(Error::InvalidParam("a node may hold at most 65535 votes"));
        }
        let mut tally = self.nodes.tally();
        if row.state == NodeState::Member {
            tally.total_votes = tally.total_votes.saturating_sub(row.votes).saturating_add(votes);
        }
        let trial = calculate_quorum(&tally, &self.quorum_inputs(true, 0));
        if trial < tally.total_votes / 2 || trial > tally.total_votes {
            return Err(Error::InvalidParam("the new quorum would lie outside [total/2, total]"));
        }
        Ok(Reconfigure { nodeid: id, value: votes, param: ReconfigParam::NodeVotes })
    }

    /// `quorum.cancel_wait_for_all` was set: the RECONFIGURE to multicast (corosync-behaviour §3.5).
    pub fn cancel_wait_for_all(&self) -> Reconfigure {
        Reconfigure { nodeid: self.settings.my_id, value: 0, param: ReconfigParam::CancelWfa }
    }

    /// A clean shutdown: with allow_downscale, marks us LEAVING and returns the nodeinfo to
    /// multicast before exiting (corosync-behaviour §3.9); without it, nothing is sent.
    pub fn leaving_nodeinfo(&mut self) -> Option<NodeInfo> {
        if !self.settings.allow_downscale {
            return None;
        }
        self.us_mut().flags.set(NodeFlags::LEAVING, true);
        Some(self.my_nodeinfo())
    }

    /// Whether we are quorate.
    pub fn quorate(&self) -> bool {
        self.quorate
    }

    /// The current quorum.
    pub fn quorum(&self) -> u32 {
        self.quorum
    }

    /// Our expected votes.
    pub fn expected_votes(&self) -> u32 {
        self.us().expected_votes
    }

    /// The expected-votes barrier (corosync's `ev_barrier`, cmap `runtime.votequorum.ev_barrier`):
    /// the configured expected votes, or the last value set at run time.
    pub fn ev_barrier(&self) -> u32 {
        self.ev_barrier
    }

    /// The effective settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// One node's row (`votequorum_getinfo(nodeid)`), if known.
    pub fn node(&self, id: NodeId) -> Option<NodeEntry> {
        self.nodes.get(id).copied()
    }

    /// A snapshot for getinfo, quorumtool and explain.
    pub fn state(&self) -> QuorumState {
        let tally = self.nodes.tally();
        let s = &self.settings;
        let flags = InfoFlags::default()
            .with(InfoFlags::TWONODE, s.two_node)
            .with(InfoFlags::QUORATE, self.quorate)
            .with(InfoFlags::WAIT_FOR_ALL, s.wait_for_all)
            .with(InfoFlags::LAST_MAN_STANDING, self.lms_enabled)
            .with(InfoFlags::AUTO_TIE_BREAKER, s.auto_tie_breaker.is_some())
            .with(InfoFlags::ALLOW_DOWNSCALE, s.allow_downscale);
        let us = self.us();
        QuorumState {
            node_id: s.my_id,
            ring_id: self.ring_id,
            members: self.members.clone(),
            quorate: self.quorate,
            quorum: self.quorum,
            votes: us.votes,
            expected_votes: us.expected_votes,
            highest_expected: tally.highest_expected,
            total_votes: tally.total_votes,
            flags,
            wait_for_all_status: self.wfa_status,
            lms_window_running: self.lms_armed.is_some(),
            nodes: self.nodes.rows().copied().collect(),
            decision: self.decision.clone(),
        }
    }

    /// corosync's `recalculate_quorum`: raise our expected votes to the total if below it
    /// (persisting it with tracking), compute the quorum, apply an LMS/leaving override to
    /// every member's expected votes, then decide quorate (corosync-behaviour §3.3 steps in order).
    fn recalculate(&mut self, allow_decrease: bool, by_current_nodes: bool) {
        let before = self.nodes.tally();
        if before.total_votes > self.us().expected_votes {
            self.us_mut().expected_votes = before.total_votes;
            self.push(Action::ExpectedVotesChanged(before.total_votes));
        }
        let expected = self.us().expected_votes;
        if self.settings.expected_votes_tracking && expected > self.ev_tracking_barrier {
            self.ev_tracking_barrier = expected;
            self.push(Action::PersistExpectedVotes(expected));
        }
        // Our expected votes may have risen: tally again, as corosync walks the table afresh.
        let tally = self.nodes.tally();
        let max_expected = if by_current_nodes { tally.total_nodes } else { 0 };
        self.quorum = calculate_quorum(&tally, &self.quorum_inputs(allow_decrease, max_expected));
        if max_expected > 0 {
            self.nodes.set_member_expected(max_expected);
        }
        self.are_we_quorate(tally);
    }

    fn quorum_inputs(&self, allow_decrease: bool, max_expected: u32) -> QuorumInputs {
        QuorumInputs {
            allow_decrease,
            max_expected,
            previous_quorum: self.quorum,
            two_node: self.settings.two_node,
            allow_downscale: self.settings.allow_downscale,
            ev_barrier: self.ev_barrier,
        }
    }

    /// corosync's `are_we_quorate`: the WFA gate, votes, the tie-breaker, then the flags, the
    /// WFA re-arm and the flip notification (corosync-behaviour §3.3 steps 1, 2, 3, 5, 6).
    fn are_we_quorate(&mut self, tally: Tally) {
        assert!(!(self.wfa_status && self.quorate), "invariant: the WFA status implies inquorate");
        let total_votes = tally.total_votes;
        let expected_votes = self.us().expected_votes;
        if self.settings.wait_for_all && self.wfa_status {
            if total_votes != expected_votes {
                let missing = self.missing_nodes();
                self.decision = Decision::WaitingForAll { total_votes, expected_votes, missing };
                return;
            }
            self.set_wfa_status(false);
        }
        let quorum = self.quorum;
        let mut decision = if quorum <= total_votes {
            self.refresh_tie_breaker_ids();
            Decision::QuorateByVotes { total_votes, quorum }
        } else {
            Decision::NotEnoughVotes { total_votes, quorum, tie_breaker: None }
        };
        if let (Decision::NotEnoughVotes { .. }, Some(verdict)) = (&decision, self.tie_breaker_verdict(tally))
        {
            decision = match verdict {
                TieBreaker::Granted { node } => Decision::QuorateByTieBreaker { total_votes, quorum, node },
                other => Decision::NotEnoughVotes { total_votes, quorum, tie_breaker: Some(other) },
            };
        }
        let quorate = decision.is_quorate();
        let flipped = quorate != self.quorate;
        self.quorate = quorate;
        self.us_mut().flags.set(NodeFlags::QUORATE, quorate);
        if self.settings.wait_for_all {
            // WFA re-arms whenever we are inquorate (corosync-behaviour §3.5).
            self.set_wfa_status(!quorate);
        }
        self.decision = decision;
        if flipped && !self.in_sync {
            self.push(Action::QuorateChanged { quorate });
        }
    }

    fn tie_breaker_verdict(&self, tally: Tally) -> Option<TieBreaker> {
        let mode = self.settings.auto_tie_breaker.as_ref()?;
        // Deviation from corosync (corosync-behaviour §7 quirk 12): the sticky ids are node-local, so a node
        // that missed the last quorate membership holds a stale tie-breaker and can grant a
        // tie the quorate side also grants (split brain). We let ATB decide only when every
        // member said QUORATE in this sync: they all come from the last quorate membership and
        // share its ids, so every member reaches the same verdict.
        if let Some(stale) = self.members.iter().find(|id| !self.sync_quorate.contains(id)) {
            return Some(TieBreaker::NotFromQuorateMembership { node: stale });
        }
        let inputs = AtbInputs {
            mode,
            lowest_node_id: self.lowest_node_id,
            highest_node_id: self.highest_node_id,
            total_votes: tally.total_votes,
            expected_votes: self.us().expected_votes,
            quorum: self.quorum,
            members: &self.members,
            previous_members: &self.previous_members,
        };
        let verdict = tie_breaker(&inputs, |id| self.nodes.is_member(id));
        if !matches!(verdict, TieBreaker::Granted { .. }) {
            return Some(verdict);
        }
        // Deviation from corosync: the tie goes to this membership only if every member's own
        // history says so (ATB_GRANT in this sync), so that all members decide alike.
        match self.members.iter().find(|id| !self.sync_atb_grant.contains(id)) {
            Some(node) => Some(TieBreaker::Disputed { node }),
            None => Some(verdict),
        }
    }

    /// Lowest and highest MEMBER ids (starting from ours), kept until the next quorate
    /// computation.
    fn refresh_tie_breaker_ids(&mut self) {
        let my_id = self.settings.my_id;
        let ids = self.nodes.members().map(|r| r.nodeid);
        let (low, high) = ids.fold((my_id, my_id), |(lo, hi), id| (lo.min(id), hi.max(id)));
        self.lowest_node_id = Some(low);
        self.highest_node_id = Some(high);
    }

    /// Configured or known nodes that are not members now (for the WFA explanation).
    fn missing_nodes(&self) -> Vec<NodeId> {
        let known = self.nodes.rows().filter(|r| r.state != NodeState::Member).map(|r| r.nodeid);
        let configured = self.settings.nodelist.iter().filter(|id| !self.nodes.is_member(*id));
        known.chain(configured).collect::<BTreeSet<_>>().into_iter().collect()
    }

    fn check_sender(&self, from: NodeId) -> Result<(), Error> {
        // Only members of the current ring speak; our own startup nodeinfo may come first.
        if from == self.settings.my_id || self.members.contains(from) {
            Ok(())
        } else {
            Err(Error::NotAMember(from))
        }
    }

    fn set_wfa_status(&mut self, on: bool) {
        self.wfa_status = on;
        self.us_mut().flags.set(NodeFlags::WFASTATUS, on);
    }

    fn arm_lms_timer(&mut self) {
        self.lms_generation += 1;
        self.lms_armed = Some(self.lms_generation);
        let window_ms = self.settings.last_man_standing_window_ms;
        self.push(Action::ArmLmsTimer { window_ms, generation: self.lms_generation });
    }

    fn cancel_lms_timer(&mut self) {
        if self.lms_armed.take().is_some() {
            self.push(Action::CancelLmsTimer);
        }
    }

    /// Queues an action, replacing an older one of its kind; a quorate flip that undoes a
    /// queued flip cancels both.
    fn push(&mut self, action: Action) {
        let undone = matches!(action, Action::QuorateChanged { quorate }
            if self.actions.contains(&Action::QuorateChanged { quorate: !quorate }));
        self.actions.retain(|queued| queued.kind() != action.kind());
        if !undone {
            self.actions.push_back(action);
        }
        assert!(self.actions.len() <= ACTION_KINDS, "action queue holds one action per kind");
    }

    fn us(&self) -> &NodeEntry {
        self.nodes.get(self.settings.my_id).expect("invariant: our own node is always in the table")
    }

    fn us_mut(&mut self) -> &mut NodeEntry {
        self.row_mut(self.settings.my_id)
    }

    fn row_mut(&mut self, id: NodeId) -> &mut NodeEntry {
        self.nodes.get_mut(id).expect("invariant: the row was just looked up or is our own")
    }
}
