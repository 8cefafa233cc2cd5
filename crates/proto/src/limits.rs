//! Every bound in one place. Decoders check lengths against these before allocating; no loop
//! is bounded by a number read from a packet.

/// Most nodes in one cluster (corosync's `PROCESSOR_COUNT_MAX`).
pub const NODES_MAX: usize = 384;

/// Most links (networks) a node may have: corosync's `ring0_addr` … `ring7_addr`, knet's
/// `KNET_MAX_LINK` as corosync 3 uses it.
pub const LINKS_MAX: usize = 8;

/// Largest datagram we send or accept (fits UDP over IPv4 and IPv6 with room to spare).
pub const DATAGRAM_MAX: usize = 65_000;

/// Largest payload of one ordered message handed to Totem by the layer above.
pub const MCAST_PAYLOAD_MAX: usize = 8 * 1024;

/// Most retransmission requests one token carries (corosync: 30).
pub const RTR_MAX: usize = 64;

/// Most messages the layer above may queue for ordered delivery before `submit` refuses.
pub const SUBMIT_QUEUE_MAX: usize = 4096;

/// Most ordered messages of one ring a node keeps for retransmission and recovery. A token
/// holder orders a new message only while its store holds fewer; a receiver stores one only
/// while its store holds fewer than `RETAINED_MESSAGES_MAX + MESSAGE_WINDOW` (in flight from
/// the other members meanwhile: at most one window). A node keeps at most two stores (the
/// installed ring and, in RECOVERY, the new one): see docs/totem.md, "Bounds on what the wire
/// can make a node do", for the bytes.
pub const RETAINED_MESSAGES_MAX: usize = 4 * 1024;

/// Message seqs: a node stores an ordered message only if its seq is at most this far above
/// the highest seq up to which it holds every message (`my_aru`), and a token holder orders a
/// new message only if its seq is at most this far above the ring-wide aru on the token. The
/// ring-wide aru is at most every member's `my_aru`, so an honest message is never refused;
/// a far-ahead one is, and so is a token whose `seq` is more than this above its `aru`.
pub const MESSAGE_WINDOW: u64 = 1024;

/// Ring seqs: a ring seq taken from the wire raises what this node has seen by at most this
/// much per datagram (a join's `ring_seq` is clamped to it; a commit token for a ring further
/// ahead is refused). Honest seqs grow by 4 per ring, so this is 4 million rings; a node
/// further behind (a wiped state directory in a cluster pushed far ahead) climbs by this much
/// per join it hears. Reaching `u64::MAX` from 0 takes at least 2^40 accepted datagrams.
pub const RING_SEQ_JUMP_MAX: u64 = 1 << 24;

/// Token seqs (ORF and commit token): each hop adds one, so between two visits of a node the
/// token's `token_seq` grows by one rotation (at most `NODES_MAX` hops). A token further ahead
/// than this is refused.
pub const TOKEN_SEQ_STEP_MAX: u64 = 2 * NODES_MAX as u64 + 2;

/// Node identity: the incarnations of one node that are remembered as retired (their joins,
/// overtaken on the network, are refused for a while). Any 64-bit incarnation is valid; this
/// bounds what a node keeps per peer.
pub const RETIRED_INCARNATIONS_MAX: usize = 4;

/// Size of the fixed cluster header on the wire, in bytes.
pub const HEADER_LEN: usize = 28;

// Compile-time checks that the limits fit each other.
const _: () = assert!(MESSAGE_WINDOW as usize <= RETAINED_MESSAGES_MAX);
const _: () = assert!(SUBMIT_QUEUE_MAX <= RETAINED_MESSAGES_MAX);
const _: () = assert!(NODES_MAX <= u16::MAX as usize);
const _: () = assert!(RTR_MAX <= u16::MAX as usize);
const _: () = assert!(MCAST_PAYLOAD_MAX + 256 < DATAGRAM_MAX);
// The commit token is the largest message: one 33-byte entry per member.
const _: () = assert!(HEADER_LEN + 32 + NODES_MAX * 33 < DATAGRAM_MAX);
// A join carries two node lists.
const _: () = assert!(HEADER_LEN + 16 + 2 * NODES_MAX * 4 < DATAGRAM_MAX);
