//! Every bound in one place. Decoders check lengths against these before allocating; no loop
//! is bounded by a number read from a packet.

/// Most nodes in one cluster (corosync's `PROCESSOR_COUNT_MAX`).
pub const NODES_MAX: usize = 384;

/// Largest datagram we send or accept (fits UDP over IPv4 and IPv6 with room to spare).
pub const DATAGRAM_MAX: usize = 65_000;

/// Largest payload of one ordered message handed to Totem by the layer above.
pub const MCAST_PAYLOAD_MAX: usize = 8 * 1024;

/// Most retransmission requests one token carries (corosync: 30).
pub const RTR_MAX: usize = 64;

/// Most messages the layer above may queue for ordered delivery before `submit` refuses.
pub const SUBMIT_QUEUE_MAX: usize = 4096;

/// Most ordered messages of one ring a node keeps for retransmission and recovery.
pub const RETAINED_MESSAGES_MAX: usize = 16 * 1024;

/// Size of the fixed cluster header on the wire, in bytes.
pub const HEADER_LEN: usize = 28;

// Compile-time checks that the limits fit each other.
const _: () = assert!(NODES_MAX <= u16::MAX as usize);
const _: () = assert!(RTR_MAX <= u16::MAX as usize);
const _: () = assert!(MCAST_PAYLOAD_MAX + 256 < DATAGRAM_MAX);
// The commit token is the largest message: one 33-byte entry per member.
const _: () = assert!(HEADER_LEN + 32 + NODES_MAX * 33 < DATAGRAM_MAX);
// A join carries two node lists.
const _: () = assert!(HEADER_LEN + 16 + 2 * NODES_MAX * 4 < DATAGRAM_MAX);
