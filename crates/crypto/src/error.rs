//! The crate's one error type.
//!
//! Every function in this crate that can fail leaves all state exactly as it was when it returns
//! an error: a refused datagram does not move a replay window, a refused seal does not use up a
//! counter, a refused key or setting loads nothing. Each message ends by saying so, so a log
//! line alone tells an operator that nothing was half-applied.

/// Why a key, a setting or a datagram was refused. Nothing changed in any case.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The authkey is shorter than [`crate::AUTHKEY_LEN_MIN`] bytes.
    #[error(
        "authkey is {len} bytes, shorter than the minimum of {min} bytes \
         (corosync-keygen writes 256); no key was loaded",
        min = crate::AUTHKEY_LEN_MIN
    )]
    AuthkeyTooShort {
        /// Length of the key given.
        len: usize,
    },
    /// The authkey is longer than [`crate::AUTHKEY_LEN_MAX`] bytes.
    #[error(
        "authkey is {len} bytes, longer than the maximum of {max} bytes; no key was loaded",
        max = crate::AUTHKEY_LEN_MAX
    )]
    AuthkeyTooLong {
        /// Length of the key given.
        len: usize,
    },
    /// A `crypto_cipher` value corosync does not know.
    #[error("crypto_cipher '{0}' is not one of none, aes256, aes192, aes128; nothing was configured")]
    UnknownCipher(String),
    /// A `crypto_hash` value corosync does not know.
    #[error(
        "crypto_hash '{0}' is not one of none, md5, sha1, sha256, sha384, sha512; nothing was configured"
    )]
    UnknownHash(String),
    /// A cipher with `crypto_hash: none` (corosync refuses this too).
    #[error("crypto_cipher: {0} needs a crypto_hash other than none; nothing was configured")]
    CipherWithoutHash(&'static str),
    /// A node id outside `1..=65535` (ours at construction, or a datagram's sender).
    #[error("node id {0} is outside 1..=65535; nothing changed")]
    BadNodeId(u32),
    /// `seal` was handed fewer bytes than the 28-byte cluster header.
    #[error("datagram to seal is {0} bytes, shorter than the 28-byte header; nothing was sent")]
    PlaintextTooShort(usize),
    /// `seal` was handed a datagram whose header `payload_len` is not its body length.
    #[error(
        "datagram to seal declares a {declared}-byte body but has {actual} bytes after the header; \
         nothing was sent"
    )]
    PlaintextLengthMismatch {
        /// `payload_len` in the header.
        declared: u64,
        /// Bytes after the header.
        actual: usize,
    },
    /// `seal` was handed a datagram built by another node id than this context's.
    #[error("datagram to seal names sender {sender} but this node is {me}; nothing was sent")]
    NotOurSender {
        /// Sender in the header.
        sender: u32,
        /// This context's node id.
        me: u32,
    },
    /// The sealed payload length would not fit the header's u32 `payload_len`.
    #[error("datagram body of {0} bytes is too large to seal; nothing was sent")]
    TooLarge(usize),
    /// Every datagram counter of this start has been used (2^64 of them).
    #[error("all datagram counters of this start are used; restart the node; nothing was sent")]
    CounterExhausted,
    /// A sealed datagram longer than the largest UDP payload.
    #[error("sealed datagram of {len} bytes is longer than {max}; dropped, nothing changed")]
    Oversized {
        /// Bytes received.
        len: usize,
        /// The longest accepted.
        max: usize,
    },
    /// A sealed datagram shorter than its header, envelope and tag, or than its header says.
    #[error("sealed datagram truncated: {len} bytes, at least {needed} needed; dropped, nothing changed")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the datagram needs to be whole.
        needed: usize,
    },
    /// A sealed datagram longer than its header says (trailing bytes).
    #[error(
        "sealed datagram declares {declared} payload bytes but carries {actual}; dropped, nothing changed"
    )]
    LengthMismatch {
        /// `payload_len` in the header.
        declared: u64,
        /// Bytes after the header.
        actual: usize,
    },
    /// The datagram was sealed with another authkey or cluster name (its key id is not ours).
    #[error(
        "peer {sender} failed authentication: its authkey or cluster name differs from ours \
         (key id {theirs:#010x}, ours {ours:#010x}); dropped, nothing changed"
    )]
    KeyMismatch {
        /// Sender in the header.
        sender: u32,
        /// Key id carried by the datagram.
        theirs: u32,
        /// Our key id.
        ours: u32,
    },
    /// The tag did not verify: a byte was changed in transit (or forged).
    #[error(
        "peer {sender} failed authentication: the datagram was altered or forged; dropped, nothing changed"
    )]
    AuthFailed {
        /// Sender in the header (unauthenticated, as claimed).
        sender: u32,
    },
    /// An envelope kind (or reserved bytes) this version does not know.
    #[error("datagram from peer {sender} has unknown kind {kind}; dropped, nothing changed")]
    UnknownKind {
        /// Sender in the header (unauthenticated).
        sender: u32,
        /// The kind byte.
        kind: u8,
    },
    /// A datagram naming this node as its sender (our own datagram sent back to us).
    #[error("datagram claims to come from this very node; dropped, nothing changed")]
    FromSelf,
    /// A datagram sealed for another node (replayed to us, or misdelivered).
    #[error("datagram from peer {sender} is for node {to}, not this one; dropped, nothing changed")]
    NotForMe {
        /// Sender in the header.
        sender: u32,
        /// The node it names as its destination.
        to: u16,
    },
    /// An authentic datagram that names another start of this node (sent before this
    /// restart, or before the sender learnt this start's nonce).
    #[error(
        "peer {sender} sent a datagram for another start of this node; dropped and answered \
         with this start's nonce, nothing else changed"
    )]
    NotForThisBoot {
        /// The sender.
        sender: u32,
    },
    /// An authentic datagram of a session that is not (or no longer) the sender's current
    /// one: a previous incarnation of the sender, or a first contact.
    #[error(
        "peer {sender} sent a datagram of a session not current here (an earlier start of it, \
         or a first contact); dropped and answered with an offer, nothing else changed"
    )]
    StaleSession {
        /// The sender.
        sender: u32,
    },
    /// An authentic session offer that answers a datagram of another start of this node or
    /// one sent before the last offer adopted from that peer (a replay or a late duplicate).
    #[error("peer {sender} sent a stale session offer; dropped, nothing changed")]
    StaleOffer {
        /// The sender.
        sender: u32,
    },
    /// An authentic datagram whose counter was already accepted in its session.
    #[error("peer {sender} datagram {counter} is a replay; dropped, nothing changed")]
    Replay {
        /// The sender.
        sender: u32,
        /// Counter of the datagram.
        counter: u64,
    },
    /// An authentic datagram whose counter fell below the sender's replay window.
    #[error(
        "peer {sender} datagram {counter} is older than the replay window (lowest {lowest}); \
         dropped, nothing changed"
    )]
    BelowWindow {
        /// The sender.
        sender: u32,
        /// Counter of the datagram.
        counter: u64,
        /// Lowest counter the window still accepts.
        lowest: u64,
    },
}
