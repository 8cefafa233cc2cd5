//! The bounds of votequorum, checked at compile time against each other and against
//! [`NODES_MAX`]. Config, decoders and client requests refuse values beyond them, so every sum
//! of votes fits a `u32` with room for the `+ 2` of the quorum formula.

use quorumd_proto::limits::NODES_MAX;

/// Most votes one node may hold (`quorum_votes`, `quorum.votes`, setvotes).
///
/// Deviation from corosync: corosync takes any `u32`; we bound it so sums cannot overflow.
pub const VOTES_MAX: u32 = 65_535;

/// Largest expected_votes (config, setexpected, wire): every node at [`VOTES_MAX`].
pub const EXPECTED_VOTES_MAX: u32 = VOTES_MAX * NODES_MAX as u32;

/// Most node ids in an `auto_tie_breaker_node` list.
pub const ATB_LIST_MAX: usize = NODES_MAX;

/// Default `last_man_standing_window`, in milliseconds (corosync's `DEFAULT_LMS_WIN`).
pub const DEFAULT_LMS_WINDOW_MS: u32 = 10_000;

// The largest total (a full table at VOTES_MAX) plus 2 must fit a u32.
const _: () = assert!((VOTES_MAX as u64) * (NODES_MAX as u64) + 2 <= u32::MAX as u64);
const _: () = assert!(NODES_MAX <= u32::MAX as usize);
