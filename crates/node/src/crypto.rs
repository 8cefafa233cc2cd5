//! Authenticated transport inside the node: every datagram the node sends is sealed here for
//! its one destination, and every datagram it receives is opened here before Totem sees it
//! (see `quorumd_crypto::session` for the rules and docs/totem.md, "Authenticated transport
//! and replay").
//!
//! Responsibility: turn Totem's transmits (one encoding, several destinations) into one sealed
//! datagram per destination, and queue the session's own datagrams (offers, re-sent
//! datagrams) behind them. Invariants: with crypto on, nothing leaves the node unsealed and
//! nothing reaches Totem unopened; a refused datagram reaches neither Totem nor the quorum
//! service, so it changes no protocol state.
//!
//! Deviation from corosync: corosync seals in knet, below totem, and has no replay protection
//! there; here the node seals and opens with per-boot session tickets (docs/deviations.md,
//! crypto items 3 and 6).

use std::collections::VecDeque;
use std::num::NonZeroU64;

use quorumd_crypto::{ClusterKey, CryptoError, Opened, Session, SessionStats};
use quorumd_proto::{LinkId, MemberList, NodeId};

use crate::Transmit;

/// What a node needs for authenticated transport. The key material comes from the shell
/// (which reads the authkey file); the per-boot nonce must be random at every start (the
/// daemon draws it from getrandom, the simulator from its seeded generator) and never 0.
#[derive(Clone, Debug)]
pub struct CryptoParams {
    /// The cluster key derived from the authkey and the cluster name.
    pub key: ClusterKey,
    /// This start's random nonce.
    pub boot_nonce: NonZeroU64,
}

/// The node's sealing and opening.
#[derive(Debug)]
pub(crate) struct NodeCrypto {
    session: Session,
    nodelist: MemberList,
    /// Sealed datagrams waiting for `poll_transmit`, one destination each.
    out: VecDeque<Transmit>,
}

impl NodeCrypto {
    pub(crate) fn new(params: CryptoParams, me: NodeId, nodelist: MemberList) -> NodeCrypto {
        let session = match Session::new(params.key, me.get(), params.boot_nonce) {
            Ok(s) => s,
            // NodeId guarantees 1..=65535, the only thing Session::new checks.
            Err(e) => unreachable!("a NodeId outside the crypto node id range: {e}"),
        };
        NodeCrypto { session, nodelist, out: VecDeque::new() }
    }

    /// The configured nodes changed (a configuration reload): senders are checked against the
    /// new list from now on.
    pub(crate) fn set_nodelist(&mut self, nodelist: MemberList) {
        self.nodelist = nodelist;
    }

    /// Opens a received datagram: `Ok(Some(plaintext))` to hand to Totem, `Ok(None)` for a
    /// session datagram handled here. A datagram claiming a sender outside the nodelist is
    /// refused before any cryptography.
    pub(crate) fn open<'a>(&'a mut self, bytes: &[u8]) -> Result<Option<&'a [u8]>, CryptoError> {
        if let Some(sender) = quorumd_crypto::claimed_sender(bytes) {
            if !NodeId::new(sender).is_ok_and(|id| self.nodelist.contains(id)) {
                return Err(CryptoError::BadNodeId(sender));
            }
        }
        match self.session.open(bytes)? {
            Opened::Data(plain) => Ok(Some(plain)),
            Opened::Offer => Ok(None),
        }
    }

    /// Seals `plain` once per destination and queues the results; on an error (a datagram
    /// too large, counters exhausted) nothing of it is queued.
    pub(crate) fn seal(&mut self, to: &[NodeId], link: LinkId, plain: &[u8]) -> Result<(), CryptoError> {
        let mut sealed = Vec::with_capacity(to.len());
        for dest in to {
            let bytes = self.session.seal_to(dest.get(), plain)?;
            sealed.push(Transmit { to: vec![*dest], link, bytes });
        }
        self.out.extend(sealed);
        Ok(())
    }

    /// The session's own next datagram (an offer, a re-sent datagram), for the node to route.
    pub(crate) fn poll_session(&mut self) -> Option<(NodeId, Vec<u8>)> {
        while let Some((to, bytes)) = self.session.poll_output() {
            if let Ok(to) = NodeId::new(to) {
                return Some((to, bytes));
            }
        }
        None
    }

    /// The next sealed datagram.
    pub(crate) fn poll(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub(crate) fn stats(&self) -> SessionStats {
        self.session.stats()
    }

    pub(crate) fn key_id(&self) -> u32 {
        self.session.key_id()
    }
}
