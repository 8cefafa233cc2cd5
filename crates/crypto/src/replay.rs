//! Replay protection: per sender, the highest epoch seen and, within it, a sliding window of
//! [`REPLAY_WINDOW`] counters.
//!
//! Invariants:
//! - a sender's epoch never decreases; a higher epoch (the sender restarted) resets its window;
//! - within an epoch, `top` is the highest counter accepted and bit `c % REPLAY_WINDOW` is set
//!   exactly when counter `c` in `top - REPLAY_WINDOW + 1 ..= top` was accepted;
//! - counters at or below `top - REPLAY_WINDOW` are refused, so each (sender, epoch, counter) is
//!   accepted at most once;
//! - a refused datagram changes nothing; only `ReplayTable::accept` changes state, and only
//!   for a datagram the caller has already authenticated;
//! - at most one entry per node id in `1..=65535` (checked by the caller), so memory is bounded.

use std::collections::BTreeMap;

use crate::CryptoError;

/// How many counters behind the highest one are still accepted out of order.
pub const REPLAY_WINDOW: u64 = 1024;

const WORDS: usize = (REPLAY_WINDOW / 64) as usize;
const _: () = assert!(REPLAY_WINDOW % 64 == 0 && WORDS >= 1);

/// One sender's window.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SenderWindow {
    epoch: u64,
    top: u64,
    seen: [u64; WORDS],
}

impl SenderWindow {
    fn first(epoch: u64, counter: u64) -> SenderWindow {
        let mut w = SenderWindow { epoch, top: counter, seen: [0; WORDS] };
        w.set(counter, true);
        w
    }

    fn slot(counter: u64) -> (usize, u64) {
        let bit = counter % REPLAY_WINDOW;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    fn is_set(&self, counter: u64) -> bool {
        let (word, mask) = Self::slot(counter);
        self.seen[word] & mask != 0
    }

    fn set(&mut self, counter: u64, on: bool) {
        let (word, mask) = Self::slot(counter);
        if on {
            self.seen[word] |= mask;
        } else {
            self.seen[word] &= !mask;
        }
    }

    fn check(&self, sender: u32, epoch: u64, counter: u64) -> Result<(), CryptoError> {
        if epoch < self.epoch {
            return Err(CryptoError::OldEpoch { sender, epoch, current: self.epoch });
        }
        if epoch > self.epoch || counter > self.top {
            return Ok(());
        }
        let age = self.top - counter;
        if age >= REPLAY_WINDOW {
            let lowest = self.top - (REPLAY_WINDOW - 1);
            return Err(CryptoError::BelowWindow { sender, epoch, counter, lowest });
        }
        if self.is_set(counter) {
            return Err(CryptoError::Replay { sender, epoch, counter });
        }
        Ok(())
    }

    /// Records a counter that [`SenderWindow::check`] accepted.
    fn record(&mut self, epoch: u64, counter: u64) {
        if epoch > self.epoch {
            *self = SenderWindow::first(epoch, counter);
            return;
        }
        if counter > self.top {
            if counter - self.top >= REPLAY_WINDOW {
                self.seen = [0; WORDS];
            } else {
                // Forget the counters that slide out of the window; fewer than REPLAY_WINDOW
                // iterations whatever the datagram says.
                for c in self.top + 1..counter {
                    self.set(c, false);
                }
            }
            self.top = counter;
        }
        self.set(counter, true);
    }
}

/// The windows of every sender heard from, keyed by node id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplayTable {
    senders: BTreeMap<u32, SenderWindow>,
}

impl ReplayTable {
    /// Would (sender, epoch, counter) be accepted? Changes nothing.
    pub(crate) fn check(&self, sender: u32, epoch: u64, counter: u64) -> Result<(), CryptoError> {
        match self.senders.get(&sender) {
            None => Ok(()),
            Some(w) => w.check(sender, epoch, counter),
        }
    }

    /// Checks and, if accepted, records (sender, epoch, counter). On error nothing changed.
    pub(crate) fn accept(&mut self, sender: u32, epoch: u64, counter: u64) -> Result<(), CryptoError> {
        self.check(sender, epoch, counter)?;
        match self.senders.get_mut(&sender) {
            None => {
                self.senders.insert(sender, SenderWindow::first(epoch, counter));
            }
            Some(w) => w.record(epoch, counter),
        }
        Ok(())
    }

    /// The highest epoch seen from `sender`.
    pub(crate) fn epoch_of(&self, sender: u32) -> Option<u64> {
        self.senders.get(&sender).map(|w| w.epoch)
    }

    /// How many senders have a window.
    pub(crate) fn len(&self) -> usize {
        self.senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn in_order_counters_are_accepted_once() {
        let mut t = ReplayTable::default();
        for c in 0..3000 {
            assert_eq!(t.accept(1, 5, c), Ok(()));
            assert_eq!(t.accept(1, 5, c), Err(CryptoError::Replay { sender: 1, epoch: 5, counter: c }));
        }
    }

    #[test]
    fn reordering_inside_the_window_is_accepted() {
        let mut t = ReplayTable::default();
        t.accept(1, 1, 2000).unwrap();
        // Oldest still inside the window, then a few in reverse order.
        t.accept(1, 1, 2000 - (REPLAY_WINDOW - 1)).unwrap();
        for c in (1990..2000).rev() {
            t.accept(1, 1, c).unwrap();
        }
        assert!(matches!(t.accept(1, 1, 1995), Err(CryptoError::Replay { .. })));
        assert_eq!(
            t.accept(1, 1, 2000 - REPLAY_WINDOW),
            Err(CryptoError::BelowWindow { sender: 1, epoch: 1, counter: 976, lowest: 977 })
        );
    }

    #[test]
    fn sliding_forgets_old_slots_but_refuses_their_counters() {
        let mut t = ReplayTable::default();
        t.accept(1, 1, 10).unwrap();
        // 10 + REPLAY_WINDOW shares 10's slot; 10 must not look already seen for it.
        t.accept(1, 1, 10 + REPLAY_WINDOW).unwrap();
        assert!(matches!(t.accept(1, 1, 10), Err(CryptoError::BelowWindow { .. })));
        // A jump of more than a window clears everything.
        t.accept(1, 1, 10 + 5 * REPLAY_WINDOW).unwrap();
        t.accept(1, 1, 11 + 4 * REPLAY_WINDOW).unwrap();
    }

    #[test]
    fn a_higher_epoch_resets_and_a_lower_one_is_refused() {
        let mut t = ReplayTable::default();
        t.accept(7, 100, 50_000).unwrap();
        // The sender restarted: its counter starts again from 0.
        t.accept(7, 101, 0).unwrap();
        assert_eq!(t.epoch_of(7), Some(101));
        assert_eq!(
            t.accept(7, 100, 50_001),
            Err(CryptoError::OldEpoch { sender: 7, epoch: 100, current: 101 })
        );
        assert!(matches!(t.accept(7, 101, 0), Err(CryptoError::Replay { .. })));
        // Senders are independent.
        t.accept(8, 1, 0).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn extreme_counters_do_not_overflow() {
        let mut t = ReplayTable::default();
        t.accept(1, u64::MAX, u64::MAX).unwrap();
        t.accept(1, u64::MAX, u64::MAX - 1).unwrap();
        assert!(matches!(t.accept(1, u64::MAX, 0), Err(CryptoError::BelowWindow { .. })));
        assert!(matches!(t.accept(1, u64::MAX, u64::MAX), Err(CryptoError::Replay { .. })));
    }

    proptest! {
        /// Against a model that remembers every accepted counter: the window accepts a counter
        /// iff it is new and within REPLAY_WINDOW of the highest, and a refusal changes nothing.
        #[test]
        fn window_matches_a_model(ops in proptest::collection::vec(0u64..3000, 1..400)) {
            let mut t = ReplayTable::default();
            let mut accepted = BTreeSet::new();
            for c in ops {
                let top = accepted.last().copied();
                let expect_ok = match top {
                    None => true,
                    Some(top) => !accepted.contains(&c) && (c > top || top - c < REPLAY_WINDOW),
                };
                let before = t.clone();
                let r = t.accept(3, 9, c);
                prop_assert_eq!(r.is_ok(), expect_ok, "counter {}", c);
                if r.is_ok() {
                    accepted.insert(c);
                } else {
                    prop_assert_eq!(&t, &before);
                }
            }
        }
    }
}
