//! Sealing and opening cluster datagrams.
//!
//! ```text
//! plaintext datagram (from the wire codec):
//!    0  header       28 bytes, payload_len (24..28, u32 BE) = body length
//!   28  body
//!
//! sealed datagram:
//!    0  header'      28 bytes, the same header with payload_len = 20 + body length + 16
//!   28  epoch        u64 BE  the sender's epoch (caller-supplied, increases across restarts)
//!   36  counter      u64 BE  per-datagram counter within the epoch, from 0
//!   44  key_id       u32 BE  fingerprint of the derived key (tells a key mismatch from tampering)
//!   48  ciphertext   body length
//!  end  tag          16 bytes, Poly1305
//!
//! associated data = bytes 0..48 (header', epoch, counter, key_id)
//! nonce (24 bytes) = sender u32 BE || epoch u64 BE || counter u64 BE || 0u32
//! key              = HKDF-SHA256(ikm = authkey, info = "quorumd-seal-key-v1\0" || cluster_name)
//! key_id           = first 4 bytes of HKDF-SHA256(authkey, "quorumd-key-id-v1\0" || cluster_name)
//! ```
//!
//! Invariants:
//! - a nonce is never used twice under one key: the sender id is in it, the counter only moves
//!   forward within a context, a context refuses to seal once its counter is exhausted, and the
//!   caller gives each context (each start of the daemon) a higher epoch than the last;
//! - the header is authenticated: any change to any byte of a sealed datagram is refused;
//! - `open` accepts each (sender, epoch, counter) at most once and never an epoch older than
//!   one already accepted from that sender (see [`crate::replay`]);
//! - on any error neither the counter nor any replay window has changed.
//!
//! Deviation from corosync: corosync (through libknet) encrypts with the configured
//! `crypto_cipher` (AES-CBC) and appends an HMAC of `crypto_hash`, keyed directly by the
//! authkey, without replay protection in the crypto layer and without an authenticated
//! header. We always use the AEAD
//! XChaCha20-Poly1305 (the 24-byte nonce holds sender, epoch and counter verbatim, so
//! uniqueness needs no bookkeeping), with a key bound to the cluster name, a replay window per
//! sender, and a key id so that a key mismatch is reported as such. quorumd nodes do not
//! interoperate with corosync nodes on the wire in any case.

use std::fmt;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::replay::ReplayTable;
use crate::{validate_authkey, CryptoError};

/// Length of the cluster header that starts every datagram.
pub const HEADER_LEN: usize = 28;
/// Bytes between the header and the ciphertext: epoch, counter, key id.
pub const ENVELOPE_LEN: usize = 20;
/// Length of the Poly1305 tag that ends a sealed datagram.
pub const TAG_LEN: usize = 16;
/// How many bytes sealing adds to a datagram.
pub const SEAL_OVERHEAD: usize = ENVELOPE_LEN + TAG_LEN;
/// The shortest sealed datagram (an empty body).
pub const SEALED_MIN: usize = HEADER_LEN + SEAL_OVERHEAD;
/// Node ids are in `1..=NODE_ID_MAX` (knet's range).
pub const NODE_ID_MAX: u32 = 65_535;

const SENDER_AT: usize = 8;
const PAYLOAD_LEN_AT: usize = 24;
const AAD_LEN: usize = HEADER_LEN + ENVELOPE_LEN;
const SEAL_KEY_LABEL: &[u8] = b"quorumd-seal-key-v1\0";
const KEY_ID_LABEL: &[u8] = b"quorumd-key-id-v1\0";

const _: () = assert!(PAYLOAD_LEN_AT + 4 == HEADER_LEN && SENDER_AT + 4 <= PAYLOAD_LEN_AT);
const _: () = assert!(SEALED_MIN == 64);

/// Seals this node's datagrams and opens its peers'. One per start of the daemon.
pub struct CryptoContext {
    aead: XChaCha20Poly1305,
    key_id: u32,
    my_node_id: u32,
    epoch: u64,
    /// The counter the next `seal` uses; `None` once every counter of the epoch is used.
    next_counter: Option<u64>,
    replay: ReplayTable,
}

impl fmt::Debug for CryptoContext {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoContext")
            .field("key_id", &format_args!("{:#010x}", self.key_id))
            .field("my_node_id", &self.my_node_id)
            .field("epoch", &self.epoch)
            .field("next_counter", &self.next_counter)
            .field("peers", &self.replay.len())
            .finish_non_exhaustive()
    }
}

impl CryptoContext {
    /// Derives the keys from `authkey` (checked with [`validate_authkey`]) and `cluster_name`.
    ///
    /// `epoch` must be higher than the epoch of every earlier context of this node under the
    /// same key (e.g. wall-clock microseconds at start, or a persisted boot counter): peers
    /// refuse a lower epoch, and reusing one would reuse nonces.
    pub fn new(
        authkey: &[u8],
        cluster_name: &str,
        my_node_id: u32,
        epoch: u64,
    ) -> Result<CryptoContext, CryptoError> {
        validate_authkey(authkey)?;
        check_node_id(my_node_id)?;
        let hk = Hkdf::<Sha256>::new(None, authkey);
        let mut key = [0u8; 32];
        let mut key_id = [0u8; 4];
        // HKDF-SHA256 can expand to 8160 bytes; 32 and 4 always succeed.
        let expanded = hk
            .expand_multi_info(&[SEAL_KEY_LABEL, cluster_name.as_bytes()], &mut key)
            .and_then(|()| hk.expand_multi_info(&[KEY_ID_LABEL, cluster_name.as_bytes()], &mut key_id));
        assert!(expanded.is_ok(), "HKDF-SHA256 refused a 32-byte output");
        let aead = XChaCha20Poly1305::new(&Key::from(key));
        key.fill(0);
        Ok(CryptoContext {
            aead,
            key_id: u32::from_be_bytes(key_id),
            my_node_id,
            epoch,
            next_counter: Some(0),
            replay: ReplayTable::default(),
        })
    }

    /// This node's id.
    pub fn my_node_id(&self) -> u32 {
        self.my_node_id
    }

    /// This context's epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The fingerprint of the derived key carried in every sealed datagram. Nodes with the same
    /// authkey and cluster name have the same key id; log it to compare nodes.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The highest epoch accepted from `sender`, if any datagram of it was.
    pub fn peer_epoch(&self, sender: u32) -> Option<u64> {
        self.replay.epoch_of(sender)
    }

    /// Seals a plaintext datagram (28-byte header + body) built by this node.
    ///
    /// Refuses (using no counter) a datagram shorter than the header, one whose header
    /// `payload_len` is not its body length, one whose header names another sender, or one
    /// too large for the header's u32 length.
    pub fn seal(&mut self, datagram: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let body_len = check_plaintext(datagram, self.my_node_id)?;
        let sealed_len = body_len
            .checked_add(SEAL_OVERHEAD)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(CryptoError::TooLarge(body_len))?;
        let counter = self.next_counter.ok_or(CryptoError::CounterExhausted(self.epoch))?;

        let mut out = Vec::with_capacity(HEADER_LEN + SEAL_OVERHEAD + body_len);
        out.extend_from_slice(&datagram[..PAYLOAD_LEN_AT]);
        out.extend_from_slice(&sealed_len.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&datagram[HEADER_LEN..]);
        let (aad, body) = out.split_at_mut(AAD_LEN);
        let nonce = nonce(self.my_node_id, self.epoch, counter);
        let tag = self
            .aead
            .encrypt_in_place_detached(&nonce, aad, body)
            .map_err(|_| CryptoError::TooLarge(body_len))?;
        out.extend_from_slice(&tag);
        self.next_counter = counter.checked_add(1);
        Ok(out)
    }

    /// Verifies a sealed datagram and returns the plaintext datagram, its header's
    /// `payload_len` restored to the body length.
    ///
    /// Errors, in the order they are checked: [`CryptoError::Truncated`],
    /// [`CryptoError::LengthMismatch`], [`CryptoError::BadNodeId`],
    /// [`CryptoError::KeyMismatch`], [`CryptoError::AuthFailed`], then, for authentic
    /// datagrams only, [`CryptoError::OldEpoch`], [`CryptoError::BelowWindow`] and
    /// [`CryptoError::Replay`]. None of them changes anything.
    pub fn open(&mut self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let env = Envelope::parse(sealed)?;
        if env.key_id != self.key_id {
            return Err(CryptoError::KeyMismatch {
                sender: env.sender,
                theirs: env.key_id,
                ours: self.key_id,
            });
        }
        let body_len = sealed.len() - SEALED_MIN;
        let (aad, rest) = sealed.split_at(AAD_LEN);
        let (ciphertext, tag) = rest.split_at(body_len);
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag);

        let mut out = Vec::with_capacity(HEADER_LEN + body_len);
        out.extend_from_slice(&sealed[..PAYLOAD_LEN_AT]);
        // body_len < the sealed payload length, which was read from a u32.
        out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(ciphertext);
        let nonce = nonce(env.sender, env.epoch, env.counter);
        self.aead
            .decrypt_in_place_detached(&nonce, aad, &mut out[HEADER_LEN..], &Tag::from(tag_bytes))
            .map_err(|_| CryptoError::AuthFailed { sender: env.sender })?;
        self.replay.accept(env.sender, env.epoch, env.counter)?;
        Ok(out)
    }
}

/// The cleartext fields of a sealed datagram, read after its lengths are checked.
struct Envelope {
    sender: u32,
    epoch: u64,
    counter: u64,
    key_id: u32,
}

impl Envelope {
    fn parse(sealed: &[u8]) -> Result<Envelope, CryptoError> {
        if sealed.len() < SEALED_MIN {
            return Err(CryptoError::Truncated { len: sealed.len(), needed: SEALED_MIN });
        }
        let declared = u64::from(be_u32(sealed, PAYLOAD_LEN_AT));
        let actual = sealed.len() - HEADER_LEN;
        if declared > actual as u64 {
            let needed = usize::try_from(declared).unwrap_or(usize::MAX).saturating_add(HEADER_LEN);
            return Err(CryptoError::Truncated { len: sealed.len(), needed });
        }
        if declared < actual as u64 {
            return Err(CryptoError::LengthMismatch { declared, actual });
        }
        let sender = be_u32(sealed, SENDER_AT);
        check_node_id(sender)?;
        Ok(Envelope {
            sender,
            epoch: be_u64(sealed, HEADER_LEN),
            counter: be_u64(sealed, HEADER_LEN + 8),
            key_id: be_u32(sealed, HEADER_LEN + 16),
        })
    }
}

/// Checks a datagram handed to `seal` and returns its body length.
fn check_plaintext(datagram: &[u8], me: u32) -> Result<usize, CryptoError> {
    if datagram.len() < HEADER_LEN {
        return Err(CryptoError::PlaintextTooShort(datagram.len()));
    }
    let declared = u64::from(be_u32(datagram, PAYLOAD_LEN_AT));
    let actual = datagram.len() - HEADER_LEN;
    if declared != actual as u64 {
        return Err(CryptoError::PlaintextLengthMismatch { declared, actual });
    }
    let sender = be_u32(datagram, SENDER_AT);
    if sender != me {
        return Err(CryptoError::NotOurSender { sender, me });
    }
    Ok(actual)
}

fn check_node_id(id: u32) -> Result<(), CryptoError> {
    if (1..=NODE_ID_MAX).contains(&id) {
        Ok(())
    } else {
        Err(CryptoError::BadNodeId(id))
    }
}

fn nonce(sender: u32, epoch: u64, counter: u64) -> XNonce {
    let mut n = [0u8; 24];
    n[..4].copy_from_slice(&sender.to_be_bytes());
    n[4..12].copy_from_slice(&epoch.to_be_bytes());
    n[12..20].copy_from_slice(&counter.to_be_bytes());
    XNonce::from(n)
}

/// Reads a big-endian u32; the caller has checked `at + 4 <= bytes.len()`.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(b)
}

/// Reads a big-endian u64; the caller has checked `at + 8 <= bytes.len()`.
fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(b)
}
#[cfg(test)]
mod tests;
