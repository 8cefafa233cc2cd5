//! The state page as the simulated clients see it, and getquorate on a frozen daemon.
//!
//! The daemon publishes what getquorate returns on a shared page and refreshes a heartbeat
//! on it while it runs (every [`HEARTBEAT_PERIOD`]); a client reads the page only while it is
//! fresh ([`page_is_fresh`]), otherwise its call waits for the daemon, which answers once it
//! runs again. Here the page holds the node's quorate as last published (a frozen node
//! publishes nothing, so that is its current value) and the heartbeat is the last period
//! boundary at which the node ran: for a running node the last boundary up to now, for a
//! paused one the last boundary up to the instant it froze.
//!
//! Invariants: a blocked call is answered exactly once, when its node next runs (with what the
//! node then reports), or dropped when the node dies (the connection dies with it); every
//! answer goes to the checkers with how long the node had been frozen when it was given.

use quorumd_proto::{Duration, Instant, NodeId};

use super::World;
use crate::check::Status;

/// How often a running daemon refreshes the page's heartbeat.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_millis(100);
/// How old a heartbeat may be for the page to be read (older: the call waits for the daemon).
pub const STALE_AFTER: Duration = Duration::from_millis(500);

/// Whether a page whose heartbeat is `heartbeat` may be read at `now`.
pub fn page_is_fresh(now: Instant, heartbeat: Instant) -> bool {
    now.saturating_since(heartbeat) <= STALE_AFTER
}

/// What a getquorate call gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetQuorate {
    /// Answered now.
    Answered(bool),
    /// Waiting for the daemon (answered when it runs again).
    Blocked,
}

/// Sim-side broken behaviour, to prove the simulator's own checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimMutant {
    /// The client reads the page whatever the age of its heartbeat.
    StalePage,
}

impl SimMutant {
    /// Every sim mutant.
    pub const ALL: [SimMutant; 1] = [SimMutant::StalePage];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            SimMutant::StalePage => "stale-page",
        }
    }

    /// Parses the command-line name.
    pub fn from_name(name: &str) -> Option<SimMutant> {
        SimMutant::ALL.into_iter().find(|m| m.name() == name)
    }
}

fn last_beat(at: Instant) -> Instant {
    let p = HEARTBEAT_PERIOD.as_micros();
    Instant::from_micros(at.as_micros() / p * p)
}

impl World {
    /// The page's heartbeat of a running or paused node.
    pub fn heartbeat(&self, id: NodeId) -> Option<Instant> {
        let slot = self.slots.get(&id)?;
        match slot.status {
            Status::Running => Some(last_beat(self.now)),
            Status::Paused => slot.paused_at.map(last_beat),
            _ => None,
        }
    }

    /// How long a paused node has been frozen (`None` when it is not paused).
    pub fn frozen_for(&self, id: NodeId) -> Option<Duration> {
        let slot = self.slots.get(&id)?;
        (slot.status == Status::Paused).then(|| self.now.saturating_since(slot.paused_at.unwrap_or(self.now)))
    }

    /// A local client of node `id` calls getquorate: it reads the page when fresh, else it
    /// waits for the daemon. `None` when the node has no clients (not running, or before its
    /// first sync).
    pub fn getquorate(&mut self, id: NodeId) -> Option<GetQuorate> {
        let slot = self.slots.get(&id)?;
        if !matches!(slot.status, Status::Running | Status::Paused) || slot.clients.is_none() {
            return None;
        }
        let quorate = slot.node.as_ref()?.quorate();
        let heartbeat = self.heartbeat(id)?;
        let stale_page = self.sim_mutant == Some(SimMutant::StalePage);
        if page_is_fresh(self.now, heartbeat) || stale_page {
            self.answer_getquorate(id, quorate);
            return Some(GetQuorate::Answered(quorate));
        }
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.blocked_getquorate += 1;
        }
        Some(GetQuorate::Blocked)
    }

    fn answer_getquorate(&mut self, id: NodeId, quorate: bool) {
        let now = self.now;
        let frozen = self.frozen_for(id);
        self.feed(|c| c.on_getquorate(now, id, frozen, quorate));
    }

    /// A resumed node answers the calls that waited for it, with what it reports now.
    pub(super) fn answer_blocked(&mut self, id: NodeId) {
        let Some(slot) = self.slots.get_mut(&id) else { return };
        let waiting = std::mem::take(&mut slot.blocked_getquorate);
        let Some(quorate) = slot.node.as_ref().map(|n| n.quorate()) else { return };
        if waiting > 0 {
            self.note(&format!("node {id} answers {waiting} blocked getquorate calls: quorate={quorate}"));
        }
        for _ in 0..waiting {
            self.answer_getquorate(id, quorate);
        }
    }
}
