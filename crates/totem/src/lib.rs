//! The Totem single-ring ordering and membership protocol (Amir, Moser, Melliar-Smith,
//! Agarwal, Ciarfella: "The Totem Single-Ring Ordering and Membership Protocol", ACM TOCS
//! 13(4), 1995; corosync's `exec/totemsrp.c`), as a sans-IO state machine.
//!
//! The caller hands in `now`, decoded packets and timer expiries; it drains transmits, events
//! and the next deadline. Nothing here reads a clock, touches a socket or draws randomness.
//!
//! Promises (checked by the simulator after every step):
//! - two nodes that install the same ring id install the same member list;
//! - the ring seqs a node installs strictly increase, across restarts when the shell persists
//!   [`Event::PersistRingSeq`] before it sends the transmits that follow it;
//! - a node is a member of every ring it installs, and rings hold only configured nodes;
//! - extended virtual synchrony: nodes that move together from one ring to the next deliver
//!   the same messages of the old ring, in the same order.
//!
//! Deviations from the paper and from corosync are listed in `docs/totem.md`.

mod config;
pub mod links;
mod ring;
mod srp;
mod timers;

pub use config::{
    TimingError, TotemConfig, TotemKeys, DEFAULT_TOKEN_MS, MIN_HOLD_MS, MIN_TIMEOUT_MS, TIMING_KEYS,
};
pub use links::{
    LinkConfig, LinkCounters, LinkError, LinkEvent, LinkKeys, LinkMode, LinkMutant, LinkStatus, Links,
    LinksConfig, LinksStatus, PeerLinks,
};
pub use srp::{Footprint, Totem};

use quorumd_proto::wire::Packet;
use quorumd_proto::{MemberList, NodeId, RingId};

/// Everything a Totem instance is built from.
#[derive(Clone, Debug)]
pub struct TotemParams {
    /// This node.
    pub my_id: NodeId,
    /// Every configured node (must contain `my_id`).
    pub nodelist: MemberList,
    /// Effective timing.
    pub config: TotemConfig,
    /// Put in every header; packets with another cluster id are dropped.
    pub cluster_id: u32,
    /// The ring seq the shell persisted last time, plus one (1 on a fresh state dir).
    pub start_seq: u64,
    /// This boot's incarnation: a random 64-bit number the shell draws at every boot and never
    /// persists (the daemon from the OS, the simulator from its seeded generator). It tells
    /// this boot's joins from those of earlier boots, even when the state directory was lost
    /// or restored from an old copy (docs/totem.md, "Node identity").
    pub incarnation: u64,
    /// Deliberately broken behaviour, for proving the simulator's checkers. Never set in the daemon.
    pub mutant: Option<Mutant>,
}

/// Deliberately broken protocol variants. Each breaks one promise; the simulator must catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// Builds the commit token as soon as it sees any join, without waiting for consensus.
    SkipConsensus,
    /// Reuses the old ring seq for a new ring instead of going past every seq seen.
    ReuseRingSeq,
    /// Delivers ordered messages as they arrive instead of in seq order.
    DeliverOutOfOrder,
    /// Skips the recovery exchange: delivers only what it holds itself when installing.
    SkipRecovery,
    /// Reverts the node identity: joins carry the persisted start seq instead of the
    /// incarnation and are ordered by `(boot, join_seq)` for ever, the pair stored before the
    /// join is judged. A node whose state was wiped is never heard again; one forged join with
    /// a huge boot locks its sender out.
    OrderJoinsByBoot,
    /// Reverts the ring seq bounds: ring seqs from joins and commit tokens are taken whatever
    /// their size, and tokens are not checked. One datagram with a ring seq near `u64::MAX`
    /// saturates the seqs and no ring can form after the next failure.
    UnboundedRingSeq,
    /// Reverts the receive window: every ordered message is stored whatever its seq, so a
    /// flood of far-ahead messages grows memory without bound.
    UnboundedStore,
    /// Reverts the fresh ring seqs: a representative always mints `max_seq_seen + 4`, as
    /// corosync does. A node whose state was wiped or restored mints, cut off from a frozen
    /// member, a ring id of its previous life that the frozen member still holds with other
    /// members.
    PredictableRingSeq,
}

impl Mutant {
    /// Every mutant, for tests.
    pub const ALL: [Mutant; 8] = [
        Mutant::SkipConsensus,
        Mutant::ReuseRingSeq,
        Mutant::DeliverOutOfOrder,
        Mutant::SkipRecovery,
        Mutant::OrderJoinsByBoot,
        Mutant::UnboundedRingSeq,
        Mutant::UnboundedStore,
        Mutant::PredictableRingSeq,
    ];

    /// Parses the name used on the command line.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Some(match name {
            "skip-consensus" => Mutant::SkipConsensus,
            "reuse-ring-seq" => Mutant::ReuseRingSeq,
            "deliver-out-of-order" => Mutant::DeliverOutOfOrder,
            "skip-recovery" => Mutant::SkipRecovery,
            "order-joins-by-boot" => Mutant::OrderJoinsByBoot,
            "unbounded-ring-seq" => Mutant::UnboundedRingSeq,
            "unbounded-store" => Mutant::UnboundedStore,
            "predictable-ring-seq" => Mutant::PredictableRingSeq,
            _ => return None,
        })
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::SkipConsensus => "skip-consensus",
            Mutant::ReuseRingSeq => "reuse-ring-seq",
            Mutant::DeliverOutOfOrder => "deliver-out-of-order",
            Mutant::SkipRecovery => "skip-recovery",
            Mutant::OrderJoinsByBoot => "order-joins-by-boot",
            Mutant::UnboundedRingSeq => "unbounded-ring-seq",
            Mutant::UnboundedStore => "unbounded-store",
            Mutant::PredictableRingSeq => "predictable-ring-seq",
        }
    }
}

/// The protocol state (corosync's numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A ring is installed and the token circulates.
    Operational = 1,
    /// Exchanging joins to agree on a membership.
    Gather = 2,
    /// The commit token is going round.
    Commit = 3,
    /// Exchanging old-ring messages before installing the new ring.
    Recovery = 4,
}

/// A datagram to send: one packet, to each listed node.
#[derive(Clone, Debug)]
pub struct Transmit {
    /// Destinations (never this node).
    pub to: Vec<NodeId>,
    /// What to send.
    pub packet: Packet,
    /// Send over every link, not only the best one: the token (and the commit token) at each
    /// hop, and every retransmission (the token again after `token_retransmit`, a message a
    /// member asked for again). One lost token costs the whole ring `token_retransmit` per
    /// hop, so the token must not depend on the best link still working while its
    /// heartbeats have not yet said it failed; receivers drop the copies (`token_seq`, `seq`).
    pub every_link: bool,
}

/// Which half of a configuration change (EVS: transitional first, then regular).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfKind {
    /// The members that came from this node's old ring together; `left` holds the others.
    Transitional,
    /// The new ring's members; `joined` holds those not in the transitional configuration.
    Regular,
}

/// A configuration change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfChange {
    /// Transitional or regular.
    pub kind: ConfKind,
    /// The new ring's id (both halves carry it).
    pub ring_id: RingId,
    /// The ring this node comes from.
    pub old_ring_id: RingId,
    /// Members of this configuration.
    pub members: MemberList,
    /// Regular: members not in the transitional configuration. Transitional: empty.
    pub joined: MemberList,
    /// Transitional: old members that did not come along. Regular: empty.
    pub left: MemberList,
}

/// One ordered message delivered to the layer above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The ring the message was ordered in.
    pub ring_id: RingId,
    /// Its position in that ring's total order.
    pub seq: u64,
    /// The node that submitted it.
    pub origin: NodeId,
    /// The message.
    pub payload: Vec<u8>,
}

/// What the protocol tells its caller, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The shell must store this ring seq durably before it sends any transmit polled after
    /// this event (corosync-behaviour §4.4: corosync writes the ring id before using it).
    PersistRingSeq(u64),
    /// An ordered message.
    Deliver(Delivery),
    /// A configuration change.
    ConfChange(ConfChange),
    /// The protocol changed state (for logs).
    StateChanged {
        /// The new state.
        state: State,
        /// Why, in words.
        reason: &'static str,
    },
    /// GATHER marked nodes failed because they did not answer joins (for logs).
    NodesFailed(MemberList),
}

/// `submit` refused a message; nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The payload is longer than `limits::MCAST_PAYLOAD_MAX`.
    #[error("message of {0} bytes is larger than the maximum")]
    TooBig(usize),
    /// `limits::SUBMIT_QUEUE_MAX` messages are already waiting.
    #[error("the send queue is full")]
    QueueFull,
}

/// A packet was ignored; no state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    /// From a node not in the nodelist.
    #[error("sender is not in the nodelist")]
    UnknownSender,
    /// Header cluster id is not ours.
    #[error("packet for another cluster")]
    OtherCluster,
    /// Sent by this very node (a looped-back datagram).
    #[error("packet from ourselves")]
    FromSelf,
    /// Not meaningful in the current state or ring (stale, duplicate, foreign).
    #[error("packet not applicable in the current state")]
    NotApplicable,
    /// Inconsistent content (e.g. a commit token that does not list the sender).
    #[error("malformed protocol content")]
    Malformed,
    /// From a node outside this node's clique: no working link both ways, or held back by
    /// the partial-connectivity rule (docs/totem.md, "Partial connectivity").
    #[error("sender is outside this node's clique")]
    Unreachable,
}

/// Counters for logs, metrics and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Rings installed.
    pub rings_installed: u64,
    /// Token losses (OPERATIONAL → GATHER by timeout).
    pub token_losses: u64,
    /// Token retransmissions.
    pub token_retransmits: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Message retransmissions sent on request.
    pub mcast_retransmits: u64,
}
