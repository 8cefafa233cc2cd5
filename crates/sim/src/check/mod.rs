//! Invariant checkers, one invariant per file.
//!
//! Responsibility: watch the events every node emits, what its quorum service and votequorum
//! report, what its simulated clients receive (and, for liveness, the final state) and report
//! the first breach of a promise of Totem, votequorum or the quorum service with a message that
//! names the node, the ring, what was expected and what was seen.
//!
//! Invariants of the checkers themselves: they are fed in the exact order the simulator drains
//! events (deterministic), they keep their state in `BTreeMap`s, and they never panic on odd
//! input: anything unexpected is a [`Violation`]. Each is tested with a synthetic bad stream in
//! its own file, and against the Totem mutants in `tests/mutants.rs`.

use std::collections::BTreeMap;
use std::fmt;

use quorumd_node::{Model, TotemEvent};
use quorumd_proto::ipc::Frame;
use quorumd_proto::{Duration, Instant, MemberList, NodeId, RingId};
use quorumd_totem::{Footprint, State};

use crate::quorum::QuorumSetup;

pub mod client_notifications;
pub mod cmap;
pub mod configured;
pub mod cpg;
pub mod evs;
pub mod frozen_getquorate;
pub mod links;
pub mod liveness;
pub mod memory_bound;
pub mod ordering;
pub mod quorum_agreement;
pub mod quorum_liveness;
pub mod same_ring;
pub mod self_in_ring;
pub mod seq_increase;
pub mod split_brain;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("[{checker}] at {} ms: {message}", fmt_ms(*.at))]
pub struct Violation {
    /// The checker's name (one per file).
    pub checker: &'static str,
    /// Virtual time of the event that broke it.
    pub at: Instant,
    /// Node, ring, expected and seen.
    pub message: String,
}

/// Formats an instant as milliseconds with three decimals.
pub fn fmt_ms(at: Instant) -> String {
    format!("{}.{:03}", at.as_micros() / 1000, at.as_micros() % 1000)
}

/// A node's lifecycle step, as the simulator applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// A new incarnation booted (first start or restart) from the state it persisted.
    Started,
    /// A new incarnation booted from a wiped state directory or from an older copy of it: it
    /// has forgotten what it persisted since (its ring seqs may go back).
    StartedWithLostState,
    /// The node died without a word.
    Crashed,
    /// The node left gracefully and stopped.
    Stopped,
}

/// How a node is doing, as the simulator sees it from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Never started.
    Never,
    /// Running.
    Running,
    /// Frozen: processes nothing until resumed.
    Paused,
    /// Crashed.
    Crashed,
    /// Stopped gracefully.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Never => "never started",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Crashed => "crashed",
            Status::Stopped => "stopped",
        })
    }
}

/// One node's externally visible state, for end-of-phase checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// The node.
    pub id: NodeId,
    /// Whether it runs.
    pub status: Status,
    /// Its Totem state (running or paused nodes only).
    pub state: Option<State>,
    /// Its installed ring.
    pub ring_id: RingId,
    /// Its installed ring's members.
    pub members: MemberList,
}

/// votequorum's numbers on one node (`corosync-quorumtool -s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VqNumbers {
    /// `Quorum:`
    pub quorum: u32,
    /// `Expected votes:`
    pub expected_votes: u32,
    /// `Total votes:`
    pub total_votes: u32,
}

/// Something a node's quorum layer did, in the order the node reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumObservation {
    /// `NodeEvent::SyncCompleted`: clients were told about `ring_id`.
    SyncCompleted {
        /// The ring.
        ring_id: RingId,
        /// Its members.
        members: MemberList,
        /// What getquorate returns from now on.
        quorate: bool,
        /// votequorum's numbers right after this activation; `None` without a provider, or
        /// when the node did more in the same input after it (another activation, a quorate
        /// flip, a votequorum message), so that the state read afterwards is not this one.
        numbers: Option<VqNumbers>,
    },
    /// `NodeEvent::QuorateChanged`: a flip outside a sync.
    QuorateChanged {
        /// The current ring.
        ring_id: RingId,
        /// The new value.
        quorate: bool,
    },
    /// A votequorum RECONFIGURE (setexpected, setvotes, cancel_wait_for_all) was delivered.
    Reconfigured {
        /// The ring it was delivered in.
        ring_id: RingId,
    },
    /// The node's last_man_standing window expired (it recomputed with lowered expected votes).
    LmsExpired,
}

/// What one node's quorum service reports now, for checkers that look at every node at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumView {
    /// The node.
    pub id: NodeId,
    /// Whether it runs.
    pub status: Status,
    /// A sync has completed in this incarnation.
    pub activated: bool,
    /// What getquorate returns.
    pub quorate: bool,
    /// The ring of its last quorum notification (its last activation).
    pub ring_id: RingId,
    /// That notification's view list.
    pub members: MemberList,
}

/// One invariant, fed with every event of every node.
pub trait Checker: fmt::Debug {
    /// Short name, printed with every violation.
    fn name(&self) -> &'static str;

    /// `node` emitted the Totem `event` at `now`.
    fn on_event(&mut self, _now: Instant, _node: NodeId, _event: &TotemEvent) -> Result<(), Violation> {
        Ok(())
    }

    /// `node`'s quorum layer did something.
    fn on_quorum(&mut self, _now: Instant, _node: NodeId, _obs: &QuorumObservation) -> Result<(), Violation> {
        Ok(())
    }

    /// A simulated client of `node` with `model` received `frame` (responses and notifications).
    fn on_client(
        &mut self,
        _now: Instant,
        _node: NodeId,
        _model: Model,
        _frame: &Frame,
    ) -> Result<(), Violation> {
        Ok(())
    }

    /// Every node's quorum view, after each input that changed one of them (and after each
    /// lifecycle step).
    fn on_quorum_views(&mut self, _now: Instant, _views: &[QuorumView]) -> Result<(), Violation> {
        Ok(())
    }

    /// What `node` holds for ordered messages (after each fuzz tick and each hostile burst).
    fn on_footprint(
        &mut self,
        _now: Instant,
        _node: NodeId,
        _footprint: &Footprint,
    ) -> Result<(), Violation> {
        Ok(())
    }

    /// A local client of `node` got `quorate` from getquorate (from the page or, after
    /// waiting, from the daemon); `frozen_for` is how long the node had been paused then.
    fn on_getquorate(
        &mut self,
        _now: Instant,
        _node: NodeId,
        _frozen_for: Option<Duration>,
        _quorate: bool,
    ) -> Result<(), Violation> {
        Ok(())
    }

    /// `node` went through a lifecycle step.
    fn on_lifecycle(&mut self, _now: Instant, _node: NodeId, _step: Lifecycle) {}

    /// The network or a node's status changed (worlds with redundant links only): what the
    /// link checkers judge the next view changes by.
    fn on_links(&mut self, _now: Instant, _env: &crate::links::LinkEnv) -> Result<(), Violation> {
        Ok(())
    }

    /// The end of a phase: a last look at every node.
    fn at_end(&mut self, _now: Instant, _nodes: &[NodeView]) -> Result<(), Violation> {
        Ok(())
    }
}

/// Which ring each node has installed now (its last regular configuration, until it crashes,
/// stops or restarts), for checkers that key their memory by ring id: a node restarted with
/// its state lost may reuse the id of a ring *it* minted (it is the id's `rep`) that nobody
/// holds any more (it cannot know that ring, and nobody alive remembers it), while the id of a
/// ring someone still holds stays protected, and so does every id minted by another node (a
/// node that kept its state never mints an id twice).
#[derive(Debug, Default)]
pub struct RingHolders {
    current: BTreeMap<NodeId, RingId>,
}

impl RingHolders {
    /// Follows `node`'s regular configurations.
    pub fn on_event(&mut self, node: NodeId, event: &TotemEvent) {
        if let TotemEvent::ConfChange(cc) = event {
            if cc.kind == quorumd_node::ConfKind::Regular {
                self.current.insert(node, cc.ring_id);
            }
        }
    }

    /// A node that crashed, stopped or restarted holds no ring.
    pub fn on_lifecycle(&mut self, node: NodeId) {
        self.current.remove(&node);
    }

    /// Whether some node has ring `r` installed now.
    pub fn held(&self, r: RingId) -> bool {
        self.current.values().any(|c| *c == r)
    }

    /// Whether `node`, restarted with its state lost, may mint ring id `r` again: `r` is one
    /// of its own ids and nobody holds it. What checkers forget at such a restart.
    pub fn may_reuse(&self, node: NodeId, r: RingId) -> bool {
        r.rep == node.get() && !self.held(r)
    }
}

/// Helper for checkers: a violation of `checker` at `at`.
pub fn violation(checker: &'static str, at: Instant, message: String) -> Violation {
    Violation { checker, at, message }
}

/// The safety checkers for a cluster configured with `nodelist` and `quorum`: Totem's (a)–(f),
/// then the quorum ones: no split brain (only where expected votes are fixed), members of one
/// ring agree, clients see notifications in order. Liveness (Totem's and the quorum one) is run
/// separately, at the end of the liveness phase.
pub fn safety_checkers(
    nodelist: &MemberList,
    quorum: &QuorumSetup,
    totem: &quorumd_totem::TotemConfig,
) -> Vec<Box<dyn Checker>> {
    let stale_after = Duration::from_millis(quorumd_proto::shm::stale_after_ms(totem.token.as_millis()));
    let mut checkers: Vec<Box<dyn Checker>> = vec![
        Box::new(same_ring::SameRing::default()),
        Box::new(seq_increase::SeqIncrease::default()),
        Box::new(self_in_ring::SelfInRing),
        Box::new(configured::Configured::new(nodelist.clone())),
        Box::new(ordering::Ordering::default()),
        Box::new(evs::Evs::default()),
        Box::new(memory_bound::MemoryBound),
        Box::new(frozen_getquorate::FrozenGetquorate::new(stale_after)),
    ];
    if quorum.expected_votes_fixed() {
        checkers.push(Box::new(split_brain::SplitBrain));
    }
    if quorum.provider {
        checkers.push(Box::new(quorum_agreement::QuorumAgreement::default()));
    }
    checkers.push(Box::new(client_notifications::ClientNotifications::new(quorum.provider)));
    checkers
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for synthetic event streams.
    use super::*;
    use quorumd_node::{ConfChange, ConfKind, Delivery};

    pub fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    pub fn list(raw: &[u32]) -> MemberList {
        MemberList::from_ids(raw.iter().map(|r| n(*r))).unwrap()
    }

    pub fn ring(rep: u32, seq: u64) -> RingId {
        RingId { rep, seq }
    }

    pub fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    pub fn regular(old: RingId, new: RingId, members: &[u32]) -> TotemEvent {
        TotemEvent::ConfChange(ConfChange {
            kind: ConfKind::Regular,
            ring_id: new,
            old_ring_id: old,
            members: list(members),
            joined: MemberList::new(),
            left: MemberList::new(),
        })
    }

    pub fn transitional(old: RingId, new: RingId, members: &[u32]) -> TotemEvent {
        TotemEvent::ConfChange(ConfChange {
            kind: ConfKind::Transitional,
            ring_id: new,
            old_ring_id: old,
            members: list(members),
            joined: MemberList::new(),
            left: MemberList::new(),
        })
    }

    pub fn deliver(ring_id: RingId, seq: u64, origin: u32, payload: &[u8]) -> TotemEvent {
        TotemEvent::Deliver(Delivery { ring_id, seq, origin: n(origin), payload: payload.to_vec() })
    }

    /// Feeds `(node, event)` pairs and returns the first violation.
    pub fn feed(c: &mut dyn Checker, events: &[(u32, TotemEvent)]) -> Result<(), Violation> {
        for (i, (node, ev)) in events.iter().enumerate() {
            c.on_event(t(i as u64), n(*node), ev)?;
        }
        Ok(())
    }
}
