//! Invariant checkers, one invariant per file.
//!
//! Responsibility: watch the events every node emits (and, for liveness, the final state) and
//! report the first breach of a promise of Totem with a message that names the node, the ring,
//! what was expected and what was seen.
//!
//! Invariants of the checkers themselves: they are fed in the exact order the simulator drains
//! events (deterministic), they keep their state in `BTreeMap`s, and they never panic on odd
//! input: anything unexpected is a [`Violation`]. Each is tested with a synthetic bad stream in
//! its own file, and against the Totem mutants in `tests/mutants.rs`.

use std::fmt;

use quorumd_node::TotemEvent;
use quorumd_proto::{Instant, MemberList, NodeId, RingId};
use quorumd_totem::State;

pub mod configured;
pub mod evs;
pub mod liveness;
pub mod ordering;
pub mod same_ring;
pub mod self_in_ring;
pub mod seq_increase;

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
    /// A new incarnation booted (first start or restart).
    Started,
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

/// One invariant, fed with every event of every node.
pub trait Checker: fmt::Debug {
    /// Short name, printed with every violation.
    fn name(&self) -> &'static str;

    /// `node` emitted `event` at `now`.
    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation>;

    /// `node` went through a lifecycle step.
    fn on_lifecycle(&mut self, _now: Instant, _node: NodeId, _step: Lifecycle) {}

    /// The end of a phase: a last look at every node.
    fn at_end(&mut self, _now: Instant, _nodes: &[NodeView]) -> Result<(), Violation> {
        Ok(())
    }
}

/// Helper for checkers: a violation of `checker` at `at`.
pub fn violation(checker: &'static str, at: Instant, message: String) -> Violation {
    Violation { checker, at, message }
}

/// The safety checkers (a)–(f), for a cluster configured with `nodelist`. Liveness (g) is run
/// separately, at the end of the liveness phase.
pub fn safety_checkers(nodelist: &MemberList) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(same_ring::SameRing::default()),
        Box::new(seq_increase::SeqIncrease::default()),
        Box::new(self_in_ring::SelfInRing),
        Box::new(configured::Configured::new(nodelist.clone())),
        Box::new(ordering::Ordering::default()),
        Box::new(evs::Evs::default()),
    ]
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
