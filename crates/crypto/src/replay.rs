//! Replay protection inside one session: a sliding window of [`REPLAY_WINDOW`] counters.
//!
//! A session is one incarnation (per-boot nonce) of a peer accepted under one ticket
//! generation (see [`crate::session`]); which sessions exist is decided there, with no clock.
//!
//! Invariants:
//! - `top` is the highest counter accepted and bit `c % REPLAY_WINDOW` is set exactly when
//!   counter `c` in `top - REPLAY_WINDOW + 1 ..= top` was accepted;
//! - counters at or below `top - REPLAY_WINDOW` are refused, so each counter is accepted at
//!   most once per window;
//! - a refused counter changes nothing; [`Window::accept`] changes state only on success, and
//!   only for a datagram the caller has already authenticated;
//! - fixed size (`REPLAY_WINDOW / 8` bytes), whatever the counters.

/// How many counters behind the highest one are still accepted out of order.
pub const REPLAY_WINDOW: u64 = 1024;

const WORDS: usize = (REPLAY_WINDOW / 64) as usize;
const _: () = assert!(REPLAY_WINDOW % 64 == 0 && WORDS >= 1);

/// Why a window refused a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowError {
    /// Already accepted.
    Replay,
    /// Below the window; the lowest counter still accepted.
    BelowWindow(u64),
}

/// One session's window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Window {
    /// The highest counter accepted, `None` before the first.
    top: Option<u64>,
    seen: [u64; WORDS],
}

impl Window {
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

    /// Would `counter` be accepted? Changes nothing.
    pub(crate) fn check(&self, counter: u64) -> Result<(), WindowError> {
        let Some(top) = self.top else { return Ok(()) };
        if counter > top {
            return Ok(());
        }
        if top - counter >= REPLAY_WINDOW {
            return Err(WindowError::BelowWindow(top - (REPLAY_WINDOW - 1)));
        }
        if self.is_set(counter) {
            return Err(WindowError::Replay);
        }
        Ok(())
    }

    /// Checks and, if accepted, records `counter`. On error nothing changed.
    pub(crate) fn accept(&mut self, counter: u64) -> Result<(), WindowError> {
        self.check(counter)?;
        match self.top {
            None => self.top = Some(counter),
            Some(top) if counter > top => {
                if counter - top >= REPLAY_WINDOW {
                    self.seen = [0; WORDS];
                } else {
                    // Forget the counters that slide out of the window; fewer than
                    // REPLAY_WINDOW iterations whatever the datagram says.
                    for c in top + 1..counter {
                        self.set(c, false);
                    }
                }
                self.top = Some(counter);
            }
            Some(_) => {}
        }
        self.set(counter, true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn in_order_counters_are_accepted_once() {
        let mut w = Window::default();
        for c in 0..3000 {
            assert_eq!(w.accept(c), Ok(()));
            assert_eq!(w.accept(c), Err(WindowError::Replay));
        }
    }

    #[test]
    fn reordering_inside_the_window_is_accepted() {
        let mut w = Window::default();
        w.accept(2000).unwrap();
        w.accept(2000 - (REPLAY_WINDOW - 1)).unwrap();
        for c in (1990..2000).rev() {
            w.accept(c).unwrap();
        }
        assert_eq!(w.accept(1995), Err(WindowError::Replay));
        assert_eq!(w.accept(2000 - REPLAY_WINDOW), Err(WindowError::BelowWindow(977)));
    }

    #[test]
    fn sliding_forgets_old_slots_but_refuses_their_counters() {
        let mut w = Window::default();
        w.accept(10).unwrap();
        // 10 + REPLAY_WINDOW shares 10's slot; 10 must not look already seen for it.
        w.accept(10 + REPLAY_WINDOW).unwrap();
        assert!(matches!(w.accept(10), Err(WindowError::BelowWindow(_))));
        // A jump of more than a window clears everything.
        w.accept(10 + 5 * REPLAY_WINDOW).unwrap();
        w.accept(11 + 4 * REPLAY_WINDOW).unwrap();
    }

    #[test]
    fn extreme_counters_do_not_overflow() {
        let mut w = Window::default();
        w.accept(u64::MAX).unwrap();
        w.accept(u64::MAX - 1).unwrap();
        assert!(matches!(w.accept(0), Err(WindowError::BelowWindow(_))));
        assert_eq!(w.accept(u64::MAX), Err(WindowError::Replay));
    }

    proptest! {
        /// Against a model that remembers every accepted counter: the window accepts a counter
        /// iff it is new and within REPLAY_WINDOW of the highest, and a refusal changes nothing.
        #[test]
        fn window_matches_a_model(ops in proptest::collection::vec(0u64..3000, 1..400)) {
            let mut w = Window::default();
            let mut accepted = BTreeSet::new();
            for c in ops {
                let top = accepted.last().copied();
                let expect_ok = match top {
                    None => true,
                    Some(top) => !accepted.contains(&c) && (c > top || top - c < REPLAY_WINDOW),
                };
                let before = w.clone();
                let r = w.accept(c);
                prop_assert_eq!(r.is_ok(), expect_ok, "counter {}", c);
                if r.is_ok() {
                    accepted.insert(c);
                } else {
                    prop_assert_eq!(&w, &before);
                }
            }
        }
    }
}
