//! Checker: no local client reads `quorate=1` from a node that has been frozen (paused) for
//! longer than the page's documented staleness bound (`quorumd_proto::shm::stale_after_ms` of
//! the token timeout: 500 ms at the default token).
//!
//! A frozen daemon cannot notice that the others formed a ring without it, so what its page
//! says may be a lie after a token timeout; the client library reads the page only while the
//! daemon's heartbeat on it is fresh and otherwise waits for the daemon (docs/deviations.md).
//! An answer of `quorate=0` is never wrong in this sense (it is the conservative one).

use quorumd_proto::{Duration, Instant, NodeId};

use super::{fmt_ms, violation, Checker, Violation};

/// No quorate=1 from a node frozen longer than the staleness bound.
#[derive(Debug)]
pub struct FrozenGetquorate {
    stale_after: Duration,
}

impl FrozenGetquorate {
    /// With the page's freshness bound.
    pub fn new(stale_after: Duration) -> FrozenGetquorate {
        FrozenGetquorate { stale_after }
    }
}

impl Checker for FrozenGetquorate {
    fn name(&self) -> &'static str {
        "frozen-getquorate"
    }

    fn on_getquorate(
        &mut self,
        now: Instant,
        node: NodeId,
        frozen_for: Option<Duration>,
        quorate: bool,
    ) -> Result<(), Violation> {
        match frozen_for {
            Some(f) if quorate && f > self.stale_after => Err(violation(
                self.name(),
                now,
                format!(
                    "a client of node {node} read quorate=1 while the node had been frozen for {} ms, \
                     longer than the page's staleness bound of {} ms",
                    fmt_ms(Instant::from_micros(f.as_micros())),
                    self.stale_after.as_millis()
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn a_stale_quorate_answer_is_caught_and_fresh_or_inquorate_ones_pass() {
        let bound = Duration::from_millis(500);
        let mut c = FrozenGetquorate::new(bound);
        let long = Duration::from_micros(bound.as_micros() + 1);
        assert_eq!(c.on_getquorate(t(1), n(1), None, true), Ok(()));
        assert_eq!(c.on_getquorate(t(1), n(1), Some(bound), true), Ok(()));
        assert_eq!(c.on_getquorate(t(1), n(1), Some(long), false), Ok(()));
        let err = c.on_getquorate(t(9), n(2), Some(long), true).unwrap_err();
        assert!(
            err.message.contains("a client of node 2 read quorate=1 while the node had been frozen"),
            "{err}"
        );
    }
}
