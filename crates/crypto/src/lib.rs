//! quorumd's crypto (corosync-behaviour §5.3, corosync-behaviour §8.I): authkey checks, the `crypto_cipher` /
//! `crypto_hash` settings, and the sealing of cluster datagrams with replay protection.
//!
//! Responsibility: judge key bytes and settings the caller read, and turn plaintext datagrams
//! into sealed ones and back. Pure: no files, no clock, no randomness of its own; the epoch
//! that keeps nonces unique across restarts comes from the caller.
//!
//! Invariants kept here:
//! - an authkey is 128..=4096 bytes ([`validate_authkey`]);
//! - a [`CryptoConfig`] never has a cipher without a hash;
//! - a nonce is never reused under one key, provided the caller's epochs increase;
//! - [`CryptoContext::open`] returns a datagram only if every byte of it (header included) was
//!   sealed by a holder of the same authkey and cluster name, and at most once per
//!   (sender, epoch, counter);
//! - no input makes this crate panic, and every error leaves all state unchanged.
//!
//! Deviations from corosync are listed in `docs/deviations.md`:
//! whatever cipher and hash are named, crypto on means XChaCha20-Poly1305 with an
//! HKDF-SHA256-derived key ([`config`], [`seal`]).
//!
//! ```
//! use quorumd_crypto::{authkey_mode_warning, validate_authkey, CryptoConfig, CryptoContext, HEADER_LEN};
//!
//! let authkey = [0x5au8; 256]; // the caller read it from /etc/corosync/authkey
//! validate_authkey(&authkey)?;
//! assert!(authkey_mode_warning(0o100_400).is_none());
//! let cfg = CryptoConfig::parse("aes256", "sha256")?;
//! assert!(!cfg.is_plaintext());
//!
//! // The epoch must grow across restarts, e.g. wall-clock microseconds read by the daemon.
//! let mut node1 = CryptoContext::new(&authkey, "mycluster", 1, 1_700_000_000_000_000)?;
//! let mut node2 = CryptoContext::new(&authkey, "mycluster", 2, 1_700_000_000_000_123)?;
//!
//! let mut datagram = vec![0u8; HEADER_LEN]; // a header built by the wire codec ...
//! datagram[8..12].copy_from_slice(&1u32.to_be_bytes()); // ... sender 1 ...
//! datagram[24..28].copy_from_slice(&3u32.to_be_bytes()); // ... and a 3-byte body
//! datagram.extend_from_slice(b"abc");
//! let sealed = node1.seal(&datagram)?;
//! assert_eq!(node2.open(&sealed)?, datagram);
//! assert!(node2.open(&sealed).is_err()); // a replay
//! # Ok::<(), quorumd_crypto::CryptoError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authkey;
pub mod config;
mod error;
pub mod replay;
pub mod seal;

pub use authkey::{
    authkey_mode_warning, validate_authkey, AuthkeyModeWarning, AUTHKEY_LEN_DEFAULT, AUTHKEY_LEN_MAX,
    AUTHKEY_LEN_MIN,
};
pub use config::{CryptoCipher, CryptoConfig, CryptoHash};
pub use error::CryptoError;
pub use replay::REPLAY_WINDOW;
pub use seal::{CryptoContext, HEADER_LEN, SEALED_MIN, SEAL_OVERHEAD, TAG_LEN};
