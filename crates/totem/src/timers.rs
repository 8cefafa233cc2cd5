//! The timer table: one slot per named timer, each holding its deadline. Arming a slot
//! replaces its deadline (the re-arm acts as the generation: an earlier deadline for the same
//! timer can no longer fire), clearing it disarms it.

use quorumd_proto::Instant;

/// Every timer the protocol uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// No token (or commit token) for `token`: the ring is lost.
    TokenLoss = 0,
    /// Resend the token we forwarded last.
    TokenRetransmit = 1,
    /// Resend our join while gathering.
    Join = 2,
    /// Mark nodes that sent no join for `consensus` as failed.
    Consensus = 3,
    /// The representative's merge-detect probe.
    Merge = 4,
    /// Release a held token (also armed "now" to release it when a message is submitted).
    Hold = 5,
}

const TIMERS: [Timer; 6] =
    [Timer::TokenLoss, Timer::TokenRetransmit, Timer::Join, Timer::Consensus, Timer::Merge, Timer::Hold];

/// Deadlines indexed by [`Timer`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    deadlines: [Option<Instant>; 6],
}

impl Timers {
    pub(crate) fn arm(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn clear(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn clear_all(&mut self) {
        self.deadlines = [None; 6];
    }

    pub(crate) fn earliest(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Takes the earliest timer whose deadline is at or before `now` (ties: table order).
    pub(crate) fn expired(&mut self, now: Instant) -> Option<Timer> {
        let (timer, _) = TIMERS
            .iter()
            .filter_map(|t| self.deadlines[*t as usize].map(|d| (*t, d)))
            .filter(|(_, d)| *d <= now)
            .min_by_key(|(t, d)| (*d, *t as usize))?;
        self.clear(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rearming_replaces_the_deadline() {
        let mut t = Timers::default();
        t.arm(Timer::Join, Instant::from_micros(10));
        t.arm(Timer::Join, Instant::from_micros(50));
        assert_eq!(t.expired(Instant::from_micros(20)), None);
        assert_eq!(t.expired(Instant::from_micros(50)), Some(Timer::Join));
        assert_eq!(t.expired(Instant::from_micros(50)), None);
    }

    #[test]
    fn earliest_fires_first() {
        let mut t = Timers::default();
        t.arm(Timer::Merge, Instant::from_micros(30));
        t.arm(Timer::TokenLoss, Instant::from_micros(20));
        assert_eq!(t.earliest(), Some(Instant::from_micros(20)));
        assert_eq!(t.expired(Instant::from_micros(40)), Some(Timer::TokenLoss));
        assert_eq!(t.expired(Instant::from_micros(40)), Some(Timer::Merge));
    }
}
