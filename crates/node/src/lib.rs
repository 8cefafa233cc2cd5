//! One quorumd cluster node, sans-IO. It owns the Totem instance and (as the project grows)
//! votequorum, crypto and the client session table; the daemon and the simulator drive the
//! very same code.
//!
//! Contract: after every `handle_*` call the caller drains `poll_event` first (a
//! [`TotemEvent::PersistRingSeq`] must be stored before anything polled after it is sent),
//! then `poll_transmit`, then asks `poll_timeout` for the next deadline.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use quorumd_proto::wire::{self, DecodeError};
use quorumd_proto::{Instant, MemberList, NodeId, RingId};
use quorumd_totem::{Dropped, Mutant, State, SubmitError, Totem, TotemConfig, TotemParams};

pub use quorumd_totem::{ConfChange, ConfKind, Delivery, Event as TotemEvent};

/// Everything a node is built from.
#[derive(Clone, Debug)]
pub struct NodeParams {
    /// This node.
    pub my_id: NodeId,
    /// Every configured node.
    pub nodelist: MemberList,
    /// Effective Totem timing.
    pub totem: TotemConfig,
    /// Cluster id carried in every header.
    pub cluster_id: u32,
    /// Persisted ring seq + 1 (0 when fresh).
    pub start_seq: u64,
    /// Test-only broken behaviour.
    pub mutant: Option<Mutant>,
}

/// A datagram ready for the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destinations.
    pub to: Vec<NodeId>,
    /// The bytes to send to each.
    pub bytes: Vec<u8>,
}

/// Why a datagram was dropped. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// It did not decode.
    #[error("undecodable datagram: {0}")]
    Decode(#[from] DecodeError),
    /// Totem refused it.
    #[error("{0}")]
    Protocol(#[from] Dropped),
}

/// What the node reports to its shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// From the membership layer.
    Totem(TotemEvent),
}

/// One cluster node.
#[derive(Debug)]
pub struct Node {
    totem: Totem,
    dropped: u64,
}

impl Node {
    /// Boots a node at `now`: it starts gathering at once.
    pub fn new(params: NodeParams, now: Instant) -> Node {
        let totem = Totem::new(
            TotemParams {
                my_id: params.my_id,
                nodelist: params.nodelist,
                config: params.totem,
                cluster_id: params.cluster_id,
                start_seq: params.start_seq,
                mutant: params.mutant,
            },
            now,
        );
        Node { totem, dropped: 0 }
    }

    /// A datagram arrived.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) -> Result<(), DropReason> {
        let result = wire::decode(bytes)
            .map_err(DropReason::from)
            .and_then(|packet| self.totem.handle_packet(now, packet).map_err(DropReason::from));
        if result.is_err() {
            self.dropped += 1;
        }
        result
    }

    /// The deadline returned by `poll_timeout` passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.totem.handle_timeout(now);
    }

    /// Queues a message for ordered delivery to every member.
    pub fn submit(&mut self, payload: Vec<u8>) -> Result<(), SubmitError> {
        self.totem.submit(payload)
    }

    /// Clean shutdown: tells the ring so that peers re-form at once.
    pub fn leave(&mut self, now: Instant) {
        self.totem.leave(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.totem.poll_transmit().map(|t| Transmit { to: t.to, bytes: wire::encode(&t.packet) })
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.totem.poll_event().map(NodeEvent::Totem)
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.totem.poll_timeout()
    }

    /// This node's id.
    pub fn my_id(&self) -> NodeId {
        self.totem.my_id()
    }

    /// The installed ring.
    pub fn ring_id(&self) -> RingId {
        self.totem.ring_id()
    }

    /// The installed ring's members.
    pub fn members(&self) -> &MemberList {
        self.totem.members()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.totem.state()
    }

    /// Datagrams dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
