//! quorumd's crypto (corosync-behaviour §5.3, corosync-behaviour §8.I): authkey checks, the `crypto_cipher` /
//! `crypto_hash` settings, and the sealing of cluster datagrams with replay protection.
//!
//! Responsibility: judge key bytes and settings the caller read, and turn plaintext datagrams
//! into sealed ones and back under [`Session`]'s rules. Pure: no files, no clock, no
//! randomness of its own; the per-boot nonce that tells starts of a node apart comes from the
//! caller (random, e.g. getrandom in the daemon, a seeded generator in the simulator).
//!
//! Invariants kept here:
//! - an authkey is 128..=4096 bytes ([`validate_authkey`]);
//! - a [`CryptoConfig`] never has a cipher without a hash;
//! - a nonce is never reused under one key, provided per-boot nonces do not repeat;
//! - [`Session::open`] hands a datagram to act on only if every byte of it (header included)
//!   was sealed by a holder of the same authkey and cluster name, for this start of this node,
//!   in the sender's current session, at most once ([`session`] explains why, with no clock);
//! - no input makes this crate panic; a refused datagram changes nothing but, when authentic,
//!   may queue one answer (bounded).
//!
//! Deviations from corosync are listed in `docs/deviations.md`:
//! whatever cipher and hash are named, crypto on means XChaCha20-Poly1305 with an
//! HKDF-SHA256-derived key ([`config`], [`seal`]), and sessions keyed by per-boot nonces.
//!
//! ```
//! use std::num::NonZeroU64;
//! use quorumd_crypto::{authkey_mode_warning, validate_authkey, ClusterKey, CryptoConfig, Opened, Session, HEADER_LEN};
//!
//! let authkey = [0x5au8; 256]; // the caller read it from /etc/corosync/authkey
//! validate_authkey(&authkey)?;
//! assert!(authkey_mode_warning(0o100_400).is_none());
//! let cfg = CryptoConfig::parse("aes256", "sha256")?;
//! assert!(!cfg.is_plaintext());
//!
//! let key = ClusterKey::derive(&authkey, "mycluster")?;
//! // Per-boot nonces: random at every start (fixed here for the example).
//! let mut node1 = Session::new(key.clone(), 1, NonZeroU64::new(0x1111).unwrap())?;
//! let mut node2 = Session::new(key, 2, NonZeroU64::new(0x2222).unwrap())?;
//!
//! let mut datagram = vec![0u8; HEADER_LEN]; // a header built by the wire codec ...
//! datagram[8..12].copy_from_slice(&1u32.to_be_bytes()); // ... sender 1 ...
//! datagram[24..28].copy_from_slice(&3u32.to_be_bytes()); // ... and a 3-byte body
//! datagram.extend_from_slice(b"abc");
//! // First contact: node 2 cannot know this datagram is fresh, so it answers with an offer.
//! let first = node1.seal_to(2, &datagram)?;
//! assert!(node2.open(&first).is_err());
//! let (to, offer) = node2.poll_output().unwrap();
//! assert_eq!(to, 1);
//! assert_eq!(node1.open(&offer)?, Opened::Offer);
//! // Node 1 re-sends its datagram under the ticket it was offered; node 2 acts on it once.
//! let (_, resent) = node1.poll_output().unwrap();
//! assert_eq!(node2.open(&resent)?, Opened::Data(&datagram));
//! assert!(node2.open(&resent).is_err()); // a replay
//! # Ok::<(), quorumd_crypto::CryptoError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authkey;
pub mod config;
mod error;
pub mod replay;
pub mod seal;
pub mod session;

pub use authkey::{
    authkey_mode_warning, validate_authkey, AuthkeyModeWarning, AUTHKEY_LEN_DEFAULT, AUTHKEY_LEN_MAX,
    AUTHKEY_LEN_MIN,
};
pub use config::{CryptoCipher, CryptoConfig, CryptoHash};
pub use error::CryptoError;
pub use replay::REPLAY_WINDOW;
pub use seal::{claimed_sender, ClusterKey, HEADER_LEN, SEALED_MAX, SEALED_MIN, SEAL_OVERHEAD, TAG_LEN};
pub use session::{Opened, Session, SessionStats, ANSWERS_MAX};
