//! The sealed datagram format: one AEAD per datagram under a key derived from the authkey and
//! the cluster name, with a cleartext envelope that carries what [`crate::session`] needs.
//!
//! ```text
//! plaintext datagram (from the wire codec):
//!    0  header       28 bytes, payload_len (24..28, u32 BE) = body length
//!   28  body
//!
//! sealed datagram:
//!    0  header'      28 bytes, the same header with payload_len = 48 + body length + 16
//!   28  kind         u8      0 data, 1 session offer
//!   29  reserved     u8, zero
//!   30  to_node      u16 BE  the one node this datagram is for (node ids are 1..=65535)
//!   32  key_id       u32 BE  fingerprint of the derived key (tells a key mismatch from tampering)
//!   36  from_boot    u64 BE  the sender's per-boot nonce (random, never 0)
//!   44  counter      u64 BE  the sender's datagram counter in this boot, from 0
//!   52  to_boot      u64 BE  data: the receiver's per-boot nonce as the sender knows it (0: none)
//!                            offer: the from_boot of the datagram answered
//!   60  ticket       u64 BE  data: the session generation the receiver offered (0: none)
//!                            offer: the generation offered
//!   68  echo         u64 BE  offer: the counter of the datagram answered; data: 0
//!   76  ciphertext   body length
//!  end  tag          16 bytes, Poly1305
//!
//! associated data = bytes 0..76 (header' and the whole envelope)
//! nonce (24 bytes) = sender u32 BE || from_boot u64 BE || counter u64 BE || 0u32
//! key              = HKDF-SHA256(ikm = authkey, info = "quorumd-seal-key-v2\0" || cluster_name)
//! key_id           = first 4 bytes of HKDF-SHA256(authkey, "quorumd-key-id-v2\0" || cluster_name)
//! ```
//!
//! Invariants:
//! - a nonce is never used twice under one key as long as per-boot nonces do not repeat (the
//!   sender id is in it, the counter only moves forward within a boot and is never reused);
//! - the header and envelope are authenticated: any change to any byte is refused;
//! - opening allocates nothing in proportion to the datagram: it decrypts into a buffer the
//!   caller keeps, of at most [`SEALED_MAX`] bytes, and refuses longer input first;
//! - on any error nothing but that scratch buffer was written.
//!
//! Deviation from corosync: corosync (through libknet) encrypts with the configured
//! `crypto_cipher` (AES-CBC) and appends an HMAC of `crypto_hash`, keyed directly by the
//! authkey, without replay protection in the crypto layer and without an authenticated
//! header. We always use the AEAD XChaCha20-Poly1305 (the 24-byte nonce holds sender, boot
//! nonce and counter verbatim, so uniqueness needs no bookkeeping), with a key bound to the
//! cluster name, sessions with per-boot nonces and a replay window per session, and a key id
//! so that a key mismatch is reported as such. quorumd nodes do not interoperate with
//! corosync nodes on the wire in any case.

use std::fmt;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::{validate_authkey, CryptoError};

/// Length of the cluster header that starts every datagram.
pub const HEADER_LEN: usize = 28;
/// Bytes between the header and the ciphertext.
pub const ENVELOPE_LEN: usize = 48;
/// Length of the Poly1305 tag that ends a sealed datagram.
pub const TAG_LEN: usize = 16;
/// How many bytes sealing adds to a datagram.
pub const SEAL_OVERHEAD: usize = ENVELOPE_LEN + TAG_LEN;
/// The shortest sealed datagram (an empty body).
pub const SEALED_MIN: usize = HEADER_LEN + SEAL_OVERHEAD;
/// The longest sealed datagram opened (the largest UDP payload); longer input is refused
/// before anything is copied.
pub const SEALED_MAX: usize = 65_535;
/// Node ids are in `1..=NODE_ID_MAX` (knet's range).
pub const NODE_ID_MAX: u32 = 65_535;

pub(crate) const SENDER_AT: usize = 8;
pub(crate) const PAYLOAD_LEN_AT: usize = 24;
const AAD_LEN: usize = HEADER_LEN + ENVELOPE_LEN;
const SEAL_KEY_LABEL: &[u8] = b"quorumd-seal-key-v2\0";
const KEY_ID_LABEL: &[u8] = b"quorumd-key-id-v2\0";

const _: () = assert!(PAYLOAD_LEN_AT + 4 == HEADER_LEN && SENDER_AT + 4 <= PAYLOAD_LEN_AT);
const _: () = assert!(SEALED_MIN == 92 && AAD_LEN == 76);

/// What a sealed datagram carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A cluster datagram for the node above.
    Data,
    /// A session offer: no body; see [`crate::session`].
    Offer,
}

/// The cleartext fields of a sealed datagram (authenticated, not secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Data or offer.
    pub kind: Kind,
    /// The sender, from the header.
    pub sender: u32,
    /// The one node the datagram is for.
    pub to_node: u16,
    /// The sender's per-boot nonce.
    pub from_boot: u64,
    /// The sender's datagram counter.
    pub counter: u64,
    /// See the format above.
    pub to_boot: u64,
    /// See the format above.
    pub ticket: u64,
    /// See the format above.
    pub echo: u64,
}

/// The key every node of the cluster derives from the authkey and the cluster name.
#[derive(Clone)]
pub struct ClusterKey {
    aead: XChaCha20Poly1305,
    key_id: u32,
}

impl fmt::Debug for ClusterKey {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterKey")
            .field("key_id", &format_args!("{:#010x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl ClusterKey {
    /// Derives the key from `authkey` (checked with [`validate_authkey`]) and `cluster_name`.
    pub fn derive(authkey: &[u8], cluster_name: &str) -> Result<ClusterKey, CryptoError> {
        validate_authkey(authkey)?;
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
        Ok(ClusterKey { aead, key_id: u32::from_be_bytes(key_id) })
    }

    /// The fingerprint carried in every sealed datagram. Nodes with the same authkey and
    /// cluster name have the same key id; log it to compare nodes.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Seals `header` (its sender and length already checked by the caller) and `body`.
    pub(crate) fn seal(&self, header: &[u8], env: &Envelope, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sealed_len = body
            .len()
            .checked_add(SEAL_OVERHEAD)
            .filter(|n| n + HEADER_LEN <= SEALED_MAX)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(CryptoError::TooLarge(body.len()))?;
        let mut out = Vec::with_capacity(SEALED_MIN + body.len());
        out.extend_from_slice(&header[..PAYLOAD_LEN_AT]);
        out.extend_from_slice(&sealed_len.to_be_bytes());
        out.push(match env.kind {
            Kind::Data => 0,
            Kind::Offer => 1,
        });
        out.push(0);
        out.extend_from_slice(&env.to_node.to_be_bytes());
        out.extend_from_slice(&self.key_id.to_be_bytes());
        for v in [env.from_boot, env.counter, env.to_boot, env.ticket, env.echo] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(body);
        let (aad, body) = out.split_at_mut(AAD_LEN);
        let nonce = nonce(env.sender, env.from_boot, env.counter);
        let tag = self
            .aead
            .encrypt_in_place_detached(&nonce, aad, body)
            .map_err(|_| CryptoError::TooLarge(body.len()))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Verifies `sealed` and writes the plaintext datagram (header with `payload_len` restored
    /// to the body length, then the body) into `out`, whose capacity is reused. Cleartext
    /// checks come first (lengths, sender range, kind, destination, key id), so a datagram
    /// refused by them costs no decryption; `me` is refused as a sender (our own datagram
    /// reflected), and a datagram for another node (replayed to us) is refused.
    pub(crate) fn open_into(
        &self,
        sealed: &[u8],
        me: u32,
        out: &mut Vec<u8>,
    ) -> Result<Envelope, CryptoError> {
        let env = parse(sealed)?;
        if env.sender == me {
            return Err(CryptoError::FromSelf);
        }
        if u32::from(env.to_node) != me {
            return Err(CryptoError::NotForMe { sender: env.sender, to: env.to_node });
        }
        let key_id = be_u32(sealed, HEADER_LEN + 4);
        if key_id != self.key_id {
            return Err(CryptoError::KeyMismatch { sender: env.sender, theirs: key_id, ours: self.key_id });
        }
        let body_len = sealed.len() - SEALED_MIN;
        let (aad, rest) = sealed.split_at(AAD_LEN);
        let (ciphertext, tag) = rest.split_at(body_len);
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag);
        out.clear();
        out.extend_from_slice(&sealed[..PAYLOAD_LEN_AT]);
        // body_len < SEALED_MAX.
        out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(ciphertext);
        let nonce = nonce(env.sender, env.from_boot, env.counter);
        let verified =
            self.aead.decrypt_in_place_detached(&nonce, aad, &mut out[HEADER_LEN..], &Tag::from(tag_bytes));
        if verified.is_err() {
            out.clear();
            return Err(CryptoError::AuthFailed { sender: env.sender });
        }
        Ok(env)
    }
}

/// The sender a datagram's header claims (unauthenticated), if it has a header.
pub fn claimed_sender(datagram: &[u8]) -> Option<u32> {
    (datagram.len() >= HEADER_LEN).then(|| be_u32(datagram, SENDER_AT))
}

/// Reads and checks the cleartext envelope; nothing is authenticated yet.
fn parse(sealed: &[u8]) -> Result<Envelope, CryptoError> {
    if sealed.len() > SEALED_MAX {
        return Err(CryptoError::Oversized { len: sealed.len(), max: SEALED_MAX });
    }
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
    let kind = match (sealed[HEADER_LEN], sealed[HEADER_LEN + 1]) {
        (0, 0) => Kind::Data,
        (1, 0) if sealed.len() == SEALED_MIN => Kind::Offer,
        (k, _) => return Err(CryptoError::UnknownKind { sender, kind: k }),
    };
    let to_node = u16::from_be_bytes([sealed[HEADER_LEN + 2], sealed[HEADER_LEN + 3]]);
    let at = HEADER_LEN + 8;
    Ok(Envelope {
        kind,
        sender,
        to_node,
        from_boot: be_u64(sealed, at),
        counter: be_u64(sealed, at + 8),
        to_boot: be_u64(sealed, at + 16),
        ticket: be_u64(sealed, at + 24),
        echo: be_u64(sealed, at + 32),
    })
}

/// Checks a datagram handed to `seal` and returns its body length.
pub(crate) fn check_plaintext(datagram: &[u8], me: u32) -> Result<usize, CryptoError> {
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
    if actual + SEALED_MIN > SEALED_MAX {
        return Err(CryptoError::TooLarge(actual));
    }
    Ok(actual)
}

pub(crate) fn check_node_id(id: u32) -> Result<(), CryptoError> {
    if (1..=NODE_ID_MAX).contains(&id) {
        Ok(())
    } else {
        Err(CryptoError::BadNodeId(id))
    }
}

fn nonce(sender: u32, boot: u64, counter: u64) -> XNonce {
    let mut n = [0u8; 24];
    n[..4].copy_from_slice(&sender.to_be_bytes());
    n[4..12].copy_from_slice(&boot.to_be_bytes());
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
