//! Sessions: which authenticated datagrams a node acts on, with no clock, across restarts of
//! either end.
//!
//! Every start of a node draws a random per-boot nonce (`boot`, never 0; the caller hands it
//! in). A node R keeps, per peer S:
//! - `generation`: the number of S-sessions R has accepted since R booted; R offers
//!   `generation + 1` to whoever asks;
//! - `inbound`: the S-boot R accepted under `generation`, with its replay [`Window`];
//! - `outbound`: the ticket S offered R (S's boot, a generation), put on R's data to S;
//! - `adopted_at`: R's own counter when R last adopted an offer from S.
//!
//! Rules:
//! 0. Every datagram names the one node it is for, and no other node acts on it or answers
//!    it (a datagram for T replayed to R is dropped by R without a word).
//! 1. A data datagram is acted on only if it names this boot (`to_boot`) and either the
//!    current session (its `from_boot` is `inbound`'s and its `ticket` is `generation`, then
//!    the replay window decides) or the offered one (`ticket == generation + 1`: the session
//!    switches to its `from_boot`, `generation` grows by one, a new boot gets a new window).
//! 2. Any other authentic data datagram is dropped and answered with an offer (to its sender,
//!    echoing its `from_boot` and counter, offering `generation + 1`); nothing else changes.
//! 3. An offer is adopted only if it echoes this boot and a counter this node used after its
//!    last adoption from that peer; adopting a new ticket re-seals the last datagram sent to
//!    that peer (its first datagram was refused, rule 2) and, if this node has no session
//!    with the offerer's boot, offers one back. Re-adopting the same ticket does nothing.
//!
//! Why this is enough (the properties the node relies on):
//! - a restarted node acts on nothing sent before its restart: its new boot nonce is random,
//!   so every older datagram names another boot (rule 1);
//! - a peer's previous incarnation is never acted on again once its new one is accepted: its
//!   datagrams carry generations at most the one it was accepted under, which is then either
//!   below `generation` or equal to it with another `from_boot` (rule 1), and `generation`
//!   only grows;
//! - a replayed offer changes nothing: it echoes a counter from before the last adoption or
//!   another boot (rule 3);
//! - an unauthenticated datagram changes nothing and is never answered (authentication comes
//!   first); an authentic but refused one costs one answer of [`SEALED_MIN`] bytes, sent to
//!   the sender the header names (never to the source address), and the queue of answers is
//!   bounded by [`ANSWERS_MAX`];
//! - first contact costs one round trip: the refused datagram is re-sent as soon as the offer
//!   arrives, and the offer back rides along.
//!
//! Deviation from corosync: corosync/knet has no replay protection at this layer; quorumd's
//! needs no clock and survives restarts of either end (docs/deviations.md, crypto item 3).
//!
//! Memory: one entry per peer id that sent an authentic datagram (ids are `1..=65535`), each
//! holding a window and the last datagram sent to it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::num::NonZeroU64;

use crate::replay::{Window, WindowError};
use crate::seal::{
    check_node_id, check_plaintext, ClusterKey, Envelope, Kind, HEADER_LEN, PAYLOAD_LEN_AT, SENDER_AT,
};
use crate::CryptoError;

pub use crate::seal::SEALED_MIN;

/// Most sealed answers (offers and re-sent datagrams) waiting for [`Session::poll_output`];
/// more are not queued.
pub const ANSWERS_MAX: usize = 1024;

/// What an opened datagram turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened<'a> {
    /// A datagram to act on: the plaintext datagram (header with the body length, body).
    Data(&'a [u8]),
    /// A session offer, handled; nothing for the node above. Answers may be queued.
    Offer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ticket {
    boot: u64,
    generation: u64,
}

#[derive(Clone, Debug, Default)]
struct Peer {
    generation: u64,
    inbound: Option<(u64, Window)>,
    outbound: Option<Ticket>,
    adopted_at: u64,
    last_sent: Option<Vec<u8>>,
}

/// Counters of a session's refusals and answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Offers sent (answers to refused datagrams and offers back).
    pub offers_sent: u64,
    /// Answers not queued because [`ANSWERS_MAX`] were waiting.
    pub answers_dropped: u64,
    /// New sessions accepted (a peer's first datagram under an offered ticket).
    pub sessions_accepted: u64,
    /// Offers adopted with a new ticket.
    pub offers_adopted: u64,
}

/// Seals this node's datagrams and opens its peers', for one start of the node.
pub struct Session {
    key: ClusterKey,
    me: u32,
    boot: u64,
    /// The counter the next sealed datagram uses; `None` once every counter is used.
    next_counter: Option<u64>,
    peers: BTreeMap<u32, Peer>,
    scratch: Vec<u8>,
    answers: VecDeque<(u32, Vec<u8>)>,
    stats: SessionStats,
}

impl fmt::Debug for Session {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("key", &self.key)
            .field("me", &self.me)
            .field("boot", &format_args!("{:#018x}", self.boot))
            .field("next_counter", &self.next_counter)
            .field("peers", &self.peers.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for node `me` (in `1..=65535`) started with the random per-boot nonce `boot`.
    pub fn new(key: ClusterKey, me: u32, boot: NonZeroU64) -> Result<Session, CryptoError> {
        check_node_id(me)?;
        Ok(Session {
            key,
            me,
            boot: boot.get(),
            next_counter: Some(0),
            peers: BTreeMap::new(),
            scratch: Vec::new(),
            answers: VecDeque::new(),
            stats: SessionStats::default(),
        })
    }

    /// This node's id.
    pub fn my_node_id(&self) -> u32 {
        self.me
    }

    /// This start's per-boot nonce.
    pub fn boot(&self) -> u64 {
        self.boot
    }

    /// The key's fingerprint.
    pub fn key_id(&self) -> u32 {
        self.key.key_id()
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// The boot nonce of `peer` whose datagrams are acted on now, if any.
    pub fn peer_boot(&self, peer: u32) -> Option<u64> {
        self.peers.get(&peer).and_then(|p| p.inbound.as_ref()).map(|(b, _)| *b)
    }

    /// Whether this node holds a ticket from `peer` (its data will be acted on there).
    pub fn has_ticket(&self, peer: u32) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.outbound.is_some())
    }

    fn take_counter(&mut self) -> Result<u64, CryptoError> {
        let counter = self.next_counter.ok_or(CryptoError::CounterExhausted)?;
        self.next_counter = counter.checked_add(1);
        Ok(counter)
    }

    /// Seals a plaintext datagram (28-byte header naming this node + body) for `to`.
    ///
    /// Refuses, using no counter, a datagram shorter than the header, one whose `payload_len`
    /// is not its body length, one naming another sender, one too large, and `to` outside
    /// `1..=65535` or this node.
    pub fn seal_to(&mut self, to: u32, datagram: &[u8]) -> Result<Vec<u8>, CryptoError> {
        check_plaintext(datagram, self.me)?;
        check_node_id(to)?;
        if to == self.me {
            return Err(CryptoError::FromSelf);
        }
        let sealed = self.seal_data(to, datagram)?;
        let peer = self.peers.entry(to).or_default();
        match &mut peer.last_sent {
            Some(last) => {
                last.clear();
                last.extend_from_slice(datagram);
            }
            None => peer.last_sent = Some(datagram.to_vec()),
        }
        Ok(sealed)
    }

    fn seal_data(&mut self, to: u32, datagram: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let ticket = self.peers.get(&to).and_then(|p| p.outbound);
        let counter = self.take_counter()?;
        let env = Envelope {
            kind: Kind::Data,
            sender: self.me,
            to_node: node_u16(to)?,
            from_boot: self.boot,
            counter,
            to_boot: ticket.map_or(0, |t| t.boot),
            ticket: ticket.map_or(0, |t| t.generation),
            echo: 0,
        };
        self.key.seal(&datagram[..HEADER_LEN], &env, &datagram[HEADER_LEN..])
    }

    /// Verifies a sealed datagram and applies the session rules (module docs).
    ///
    /// Errors, in the order they are checked, with nothing changed: [`CryptoError::Oversized`],
    /// [`CryptoError::Truncated`], [`CryptoError::LengthMismatch`], [`CryptoError::BadNodeId`],
    /// [`CryptoError::UnknownKind`], [`CryptoError::FromSelf`], [`CryptoError::NotForMe`],
    /// [`CryptoError::KeyMismatch`],
    /// [`CryptoError::AuthFailed`]; then, for authentic datagrams only,
    /// [`CryptoError::StaleOffer`], and [`CryptoError::NotForThisBoot`],
    /// [`CryptoError::StaleSession`] (both answered with an offer, the only change), then
    /// [`CryptoError::Replay`] and [`CryptoError::BelowWindow`].
    pub fn open(&mut self, sealed: &[u8]) -> Result<Opened<'_>, CryptoError> {
        let env = self.key.open_into(sealed, self.me, &mut self.scratch)?;
        match env.kind {
            Kind::Offer => {
                self.adopt(&env)?;
                Ok(Opened::Offer)
            }
            Kind::Data => {
                self.accept_data(&env)?;
                Ok(Opened::Data(&self.scratch))
            }
        }
    }

    fn accept_data(&mut self, env: &Envelope) -> Result<(), CryptoError> {
        let sender = env.sender;
        if env.to_boot != self.boot {
            self.answer(env);
            return Err(CryptoError::NotForThisBoot { sender });
        }
        let peer = self.peers.entry(sender).or_default();
        let window_error = |e| match e {
            WindowError::Replay => CryptoError::Replay { sender, counter: env.counter },
            WindowError::BelowWindow(lowest) => {
                CryptoError::BelowWindow { sender, counter: env.counter, lowest }
            }
        };
        let same_boot = peer.inbound.as_ref().is_some_and(|(b, _)| *b == env.from_boot);
        if same_boot && env.ticket == peer.generation {
            if let Some((_, w)) = peer.inbound.as_mut() {
                w.accept(env.counter).map_err(window_error)?;
            }
            return Ok(());
        }
        if peer.generation.checked_add(1) == Some(env.ticket) {
            let mut window = match (&peer.inbound, same_boot) {
                (Some((_, w)), true) => w.clone(),
                _ => Window::default(),
            };
            window.accept(env.counter).map_err(window_error)?;
            peer.inbound = Some((env.from_boot, window));
            peer.generation = env.ticket;
            self.stats.sessions_accepted += 1;
            return Ok(());
        }
        self.answer(env);
        Err(CryptoError::StaleSession { sender })
    }

    fn adopt(&mut self, env: &Envelope) -> Result<(), CryptoError> {
        let sender = env.sender;
        let next = self.next_counter.unwrap_or(u64::MAX);
        let adopted_at = self.peers.get(&sender).map_or(0, |p| p.adopted_at);
        if env.to_boot != self.boot || env.echo < adopted_at || env.echo >= next || env.ticket == 0 {
            return Err(CryptoError::StaleOffer { sender });
        }
        let ticket = Ticket { boot: env.from_boot, generation: env.ticket };
        let peer = self.peers.entry(sender).or_default();
        if peer.outbound == Some(ticket) {
            return Ok(());
        }
        peer.outbound = Some(ticket);
        peer.adopted_at = next;
        let offer_back = peer.inbound.as_ref().is_none_or(|(b, _)| *b != env.from_boot);
        let last = peer.last_sent.take();
        self.stats.offers_adopted += 1;
        if let Some(last) = last {
            // The last datagram to this peer was refused for want of this ticket.
            if let Ok(sealed) = self.seal_data(sender, &last) {
                self.queue(sender, sealed);
            }
            if let Some(p) = self.peers.get_mut(&sender) {
                p.last_sent = Some(last);
            }
        }
        if offer_back {
            self.answer(env);
        }
        Ok(())
    }

    /// Queues an offer to `env`'s sender answering `env`.
    fn answer(&mut self, env: &Envelope) {
        if self.answers.len() >= ANSWERS_MAX {
            self.stats.answers_dropped += 1;
            return;
        }
        let Ok(counter) = self.take_counter() else { return };
        let generation = self.peers.get(&env.sender).map_or(0, |p| p.generation);
        let Ok(to_node) = node_u16(env.sender) else { return };
        let offer = Envelope {
            kind: Kind::Offer,
            sender: self.me,
            to_node,
            from_boot: self.boot,
            counter,
            to_boot: env.from_boot,
            ticket: generation.saturating_add(1),
            echo: env.counter,
        };
        // The answered datagram's header, naming this node, with an empty body.
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.scratch[..HEADER_LEN]);
        header[SENDER_AT..SENDER_AT + 4].copy_from_slice(&self.me.to_be_bytes());
        header[PAYLOAD_LEN_AT..].fill(0);
        if let Ok(sealed) = self.key.seal(&header, &offer, &[]) {
            self.stats.offers_sent += 1;
            self.queue(env.sender, sealed);
        }
    }

    fn queue(&mut self, to: u32, sealed: Vec<u8>) {
        if self.answers.len() >= ANSWERS_MAX {
            self.stats.answers_dropped += 1;
        } else {
            self.answers.push_back((to, sealed));
        }
    }

    /// The next sealed datagram the session itself wants sent: `(destination, bytes)`.
    pub fn poll_output(&mut self) -> Option<(u32, Vec<u8>)> {
        self.answers.pop_front()
    }
}

/// A node id as the envelope's u16 (ids are checked to be in 1..=65535 before).
fn node_u16(id: u32) -> Result<u16, CryptoError> {
    u16::try_from(id).map_err(|_| CryptoError::BadNodeId(id))
}

#[cfg(test)]
mod tests;
