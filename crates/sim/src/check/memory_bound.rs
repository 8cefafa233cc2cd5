//! Checker: what a node holds for ordered messages stays within the documented limits of
//! `quorumd_proto::limits`, whatever it is sent (an adversarial member flooding far-ahead
//! message seqs included).
//!
//! The bounds: one store holds at most [`STORE_MESSAGES_MAX`] messages (a token holder orders
//! a message only while its store holds fewer than [`RETAINED_MESSAGES_MAX`]; what the other
//! members send meanwhile is within one [`MESSAGE_WINDOW`]); recovery holds at most two stores'
//! worth (the old ring's messages still to send and the new ring's store); the submit queue at
//! most [`SUBMIT_QUEUE_MAX`]; and the payload bytes at most all of those messages at
//! [`MCAST_PAYLOAD_MAX`] each.

use quorumd_proto::limits::{MCAST_PAYLOAD_MAX, MESSAGE_WINDOW, RETAINED_MESSAGES_MAX, SUBMIT_QUEUE_MAX};
use quorumd_proto::{Instant, NodeId};
use quorumd_totem::Footprint;

use super::{violation, Checker, Violation};

/// Most messages one store may hold.
pub const STORE_MESSAGES_MAX: usize = RETAINED_MESSAGES_MAX + MESSAGE_WINDOW as usize;
/// Most payload bytes a node may hold for ordered messages.
pub const BYTES_MAX: usize = (3 * STORE_MESSAGES_MAX + SUBMIT_QUEUE_MAX) * MCAST_PAYLOAD_MAX;

/// Message memory within the documented limits.
#[derive(Debug, Default)]
pub struct MemoryBound;

impl Checker for MemoryBound {
    fn name(&self) -> &'static str {
        "memory-bounded"
    }

    fn on_footprint(&mut self, now: Instant, node: NodeId, f: &Footprint) -> Result<(), Violation> {
        let over = [
            ("ring store messages", f.ring_messages, STORE_MESSAGES_MAX),
            ("recovery messages", f.recovery_messages, 2 * STORE_MESSAGES_MAX),
            ("queued messages", f.queued_messages, SUBMIT_QUEUE_MAX),
            ("message bytes", f.bytes, BYTES_MAX),
        ]
        .into_iter()
        .find(|(_, seen, max)| seen > max);
        match over {
            None => Ok(()),
            Some((what, seen, max)) => Err(violation(
                self.name(),
                now,
                format!("node {node} holds {seen} {what}, above the documented bound {max} ({f:?})"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn a_store_past_its_bound_is_caught() {
        let mut c = MemoryBound;
        let ok = Footprint { ring_messages: STORE_MESSAGES_MAX, bytes: 1000, ..Footprint::default() };
        assert_eq!(c.on_footprint(t(1), n(1), &ok), Ok(()));
        let bad = Footprint { ring_messages: STORE_MESSAGES_MAX + 1, ..ok };
        let err = c.on_footprint(t(2), n(1), &bad).unwrap_err();
        let want = format!("node 1 holds {} ring store messages", STORE_MESSAGES_MAX + 1);
        assert!(err.message.contains(&want), "{err}");
        let bad = Footprint { bytes: BYTES_MAX + 1, ..Footprint::default() };
        assert!(c.on_footprint(t(2), n(1), &bad).is_err());
    }
}
