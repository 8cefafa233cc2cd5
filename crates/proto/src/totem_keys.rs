//! The names of the `totem { }` timing keys of corosync.conf (corosync-behaviour §4.1), shared by the
//! config parser (which validates them) and Totem (which derives the effective timing).

/// Every timing key; each takes a `u32`.
pub const TIMING_KEYS: &[&str] = &[
    "token",
    "token_coefficient",
    "token_retransmit",
    "token_retransmits_before_loss_const",
    "hold",
    "join",
    "send_join",
    "consensus",
    "merge",
    "downcheck",
    "fail_recv_const",
    "seqno_unchanged_const",
    "window_size",
    "max_messages",
    "miss_count_const",
    "token_warning",
    "max_network_delay",
    "heartbeat_failures_allowed",
];
