//! The state page as the simulated clients see it, and getquorate on a frozen daemon.
//!
//! The daemon publishes what getquorate returns on a shared page and refreshes a heartbeat
//! on it while it runs (every `quorumd_proto::shm::heartbeat_period_ms` of the freshness
//! bound, itself `shm::stale_after_ms` of the token timeout); a client reads the page only
//! while `shm::page_is_fresh` holds, otherwise its call waits for the daemon, which answers
//! once it runs again. Here the page holds the node's quorate as last published (a frozen node
//! publishes nothing, so that is its current value) and the heartbeat is the last period
//! boundary at which the node ran: for a running node the last boundary up to now, for a
//! paused one the last boundary up to the instant it froze.
//!
//! Invariants: a blocked call is answered exactly once, when its node next runs (with what the
//! node then reports), or dropped when the node dies (the connection dies with it); every
//! answer goes to the checkers with how long the node had been frozen when it was given.

use quorumd_proto::shm;
use quorumd_proto::{Duration, Instant, NodeId};

use super::World;
use crate::check::Status;

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
    /// The first node's cmap `runtime.` keys lag one check behind (the cmap checker's mutant).
    CmapLag,
}

impl SimMutant {
    /// Every sim mutant.
    pub const ALL: [SimMutant; 2] = [SimMutant::StalePage, SimMutant::CmapLag];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            SimMutant::StalePage => "stale-page",
            SimMutant::CmapLag => "cmap-lag",
        }
    }

    /// Parses the command-line name.
    pub fn from_name(name: &str) -> Option<SimMutant> {
        SimMutant::ALL.into_iter().find(|m| m.name() == name)
    }
}

fn ms(at: Instant) -> u64 {
    at.as_micros() / 1000
}

impl World {
    /// The page's freshness bound: `shm::stale_after_ms` of the token timeout.
    pub fn stale_after(&self) -> Duration {
        Duration::from_millis(shm::stale_after_ms(self.totem.token.as_millis()))
    }

    /// The last heartbeat a running daemon wrote at or before `at`, in ms: the last period
    /// boundary.
    fn last_beat_ms(&self, at: Instant) -> u64 {
        let period = shm::heartbeat_period_ms(self.stale_after().as_millis()).max(1);
        ms(at) / period * period
    }

    /// The page's heartbeat (ms) of a running or paused node.
    pub fn heartbeat_ms(&self, id: NodeId) -> Option<u64> {
        let slot = self.slots.get(&id)?;
        match slot.status {
            Status::Running => Some(self.last_beat_ms(self.now)),
            Status::Paused => slot.paused_at.map(|at| self.last_beat_ms(at)),
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
        let heartbeat = self.heartbeat_ms(id)?;
        let stale_page = self.sim_mutant == Some(SimMutant::StalePage);
        if shm::page_is_fresh(heartbeat, ms(self.now), self.stale_after().as_millis()) || stale_page {
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
        // In whole milliseconds, the page's resolution.
        let frozen = self.slots.get(&id).and_then(|s| s.paused_at.filter(|_| s.status == Status::Paused));
        let frozen = frozen.map(|at| Duration::from_millis(ms(now) - ms(at)));
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
