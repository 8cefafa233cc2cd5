//! votequorum: the quorum decision of a quorumd node (corosync-behaviour §3), as pure functions and a small
//! sans-IO state machine. It is the Rust counterpart of corosync's `exec/votequorum.c`
//! (corosync 3.1.7), without the quorum device.
//!
//! Responsibility: from the node table (who is a member, with how many votes and which expected
//! votes) compute `total_votes`, `expected_votes`, `quorum` and `quorate`, and apply the policies
//! two_node, wait_for_all, last_man_standing, auto_tie_breaker, allow_downscale and
//! expected_votes_tracking. It reads no clock, touches no file or socket, draws no randomness:
//! the caller (the `node` crate) hands in memberships, delivered messages and timer expiries, and
//! drains [`Action`]s (arm/cancel the LMS timer, persist expected votes, notify a quorate flip).
//!
//! Modules:
//! - [`calc`]: the calculation of corosync-behaviour §3.3 and the tie-breaker check, pure functions;
//! - [`config`]: the `quorum { }` keys, typed and validated ([`VqConfig`], [`Settings`]);
//! - [`nodes`]: the per-node table (state, votes, expected votes, flags);
//! - [`machine`]: [`Votequorum`], the policy state machine driven like corosync's sync;
//! - [`status`]: the read-only snapshot ([`QuorumState`]) and the "why blocked" explanation;
//! - [`wire`]: the NODEINFO and RECONFIGURE messages carried as Totem payloads.
//!
//! Invariants kept here (asserted where they could break):
//! - the members of one ring that process the same messages in the same order agree on
//!   `quorate`, `quorum` and expected votes: nothing depends on local time or on local-only
//!   mutations, a sync is settled once from the complete set of this ring's nodeinfos (the
//!   ring's expected votes, the take-over and the WFA clear included), LMS window expiries are
//!   ordered messages, and auto_tie_breaker decides only when every member comes from the last
//!   quorate membership (docs/deviations.md; checked by `tests/properties.rs` and the
//!   simulator);
//! - our own node is always in the table and never DEAD;
//! - while the wait-for-all status is set the node is inquorate;
//! - the table holds at most [`quorumd_proto::limits::NODES_MAX`] nodes, each with at most
//!   [`limits::VOTES_MAX`] votes, so every sum fits a `u32`.
//!
//! Deviations from corosync are marked `Deviation from corosync:` in the code and listed in
//! `docs/deviations.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod calc;
pub mod config;
mod error;
pub mod limits;
pub mod machine;
pub mod nodes;
pub mod status;
pub mod wire;

pub use calc::TieBreaker;
pub use config::{AtbNode, Settings, VqConfig};
pub use error::{CsError, Error};
pub use machine::{Action, Activation, Votequorum};
pub use nodes::{NodeEntry, NodeFlags, NodeState};
pub use status::{Decision, InfoFlags, QuorumState};
pub use wire::{NodeInfo, ReconfigParam, Reconfigure, VqMessage};
