//! quorumd's deterministic simulator: the very same [`quorumd_node::Node`] the daemon runs,
//! driven on a virtual clock over a simulated network, with invariant checkers after every
//! step.
//!
//! Layout:
//! - [`rng`]: our own xoshiro256** PRNG (one `u64` seed decides everything);
//! - [`quorum`]: the quorum configuration of a world (provider, keys, votes) and the fuzzer's
//!   presets of it;
//! - [`net`]: loss, duplication, latency + jitter (reordering), partitions, one-way cuts;
//! - [`links`]: redundant links: one path per link, single-link cuts and flaps;
//! - [`world`]: virtual clock, arrival queue, node timers and lifecycles (start, restart from
//!   the persisted ring seq, crash, graceful stop, pause/resume), draining of node outputs;
//! - [`check`]: one invariant per file, fed with every event;
//! - [`cpg`]: CPG clients on the simulated nodes (join, leave, multicast, crash);
//! - [`settle`]: the "settled" and "converged" predicates;
//! - [`fuzz`]: random fault schedules per seed, safety phase then liveness phase;
//! - [`latency`]: membership reaction times in virtual ms;
//! - [`scenario`]: the scenario language (parse, then run).
//!
//! Invariants: no wall clock, no hash-order iteration, no threads: a run is a function of its
//! seed and options, and every failure message carries what is needed to reproduce it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod cpg;
pub mod fuzz;
pub mod latency;
pub mod links;
pub mod net;
pub mod quorum;
pub mod rng;
pub mod scenario;
pub mod settle;
pub mod world;

pub use check::{Checker, Violation};
pub use world::{SimError, World, WorldParams};
