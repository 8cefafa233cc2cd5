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
    /// Send our join while gathering: at entry, after a change (batched), and periodically.
    Join = 2,
    /// Mark nodes that sent no join for `consensus` as failed (also fires early, when a
    /// node's silence reaches a whole period).
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

    /// Arms `timer` at `at` unless it is already armed at or before `at`.
    pub(crate) fn arm_no_later(&mut self, timer: Timer, at: Instant) {
        let slot = &mut self.deadlines[timer as usize];
        if slot.is_none_or(|d| at < d) {
            *slot = Some(at);
        }
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

    /// Takes the earliest timer whose deadline is at or before `now` (ties: table order), with
    /// that deadline.
    pub(crate) fn expired(&mut self, now: Instant) -> Option<(Timer, Instant)> {
        let (timer, deadline) = TIMERS
            .iter()
            .filter_map(|t| self.deadlines[*t as usize].map(|d| (*t, d)))
            .filter(|(_, d)| *d <= now)
            .min_by_key(|(t, d)| (*d, *t as usize))?;
        self.clear(timer);
        Some((timer, deadline))
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
        assert_eq!(t.expired(Instant::from_micros(50)), Some((Timer::Join, Instant::from_micros(50))));
        assert_eq!(t.expired(Instant::from_micros(50)), None);
    }

    #[test]
    fn earliest_fires_first() {
        let mut t = Timers::default();
        t.arm(Timer::Merge, Instant::from_micros(30));
        t.arm(Timer::TokenLoss, Instant::from_micros(20));
        assert_eq!(t.earliest(), Some(Instant::from_micros(20)));
        assert_eq!(t.expired(Instant::from_micros(40)), Some((Timer::TokenLoss, Instant::from_micros(20))));
        assert_eq!(t.expired(Instant::from_micros(40)), Some((Timer::Merge, Instant::from_micros(30))));
    }

    #[test]
    fn arm_no_later_only_brings_a_deadline_forward() {
        let mut t = Timers::default();
        t.arm_no_later(Timer::Join, Instant::from_micros(50));
        t.arm_no_later(Timer::Join, Instant::from_micros(70));
        assert_eq!(t.earliest(), Some(Instant::from_micros(50)));
        t.arm_no_later(Timer::Join, Instant::from_micros(30));
        assert_eq!(t.earliest(), Some(Instant::from_micros(30)));
    }
}
