//! The adversarial member (crypto off): a host outside the cluster that sends well-formed
//! datagrams with a member's node id and extreme field values. It sees the traffic (it knows
//! the target's current ring and members), but it is not a node: it keeps no protocol state.
//!
//! Every attack is built with `quorumd_proto::wire`'s codec, so it decodes like any honest
//! datagram; what it tests is that no value, however extreme, wedges the ring, locks a node
//! out or grows memory past the documented limits (`crate::check::memory_bound`). The attacks
//! happen in the safety phase only: the liveness phase then checks that the honest nodes
//! re-form once the adversary has stopped.

use std::fmt;

use crate::check::memory_bound::STORE_MESSAGES_MAX;
use quorumd_proto::wire::{self, Commit, CommitEntry, Header, Join, Mcast, Message, Packet, Token};
use quorumd_proto::{MemberList, NodeId, RingId};

use crate::rng::Rng;
use crate::world::World;

/// What the adversary sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// A join carrying a ring seq at (or next to) `u64::MAX`.
    JoinMaxRingSeq,
    /// A join with a new incarnation (a "reboot") at the extreme value, and an extreme join
    /// seq.
    JoinHugeBoot,
    /// A join naming every configured node failed.
    JoinAllFailed,
    /// More far-ahead ordered messages in the target's ring than a store may hold.
    FarAheadFlood,
    /// One ordered message with a seq at `u64::MAX`.
    McastMaxSeq,
    /// A commit token (first rotation) for a ring that never existed, with extreme values.
    PhantomCommit,
    /// An ORF token for the target's ring with extreme seqs.
    ExtremeToken,
}

impl Attack {
    /// Every attack.
    pub const ALL: [Attack; 7] = [
        Attack::JoinMaxRingSeq,
        Attack::JoinHugeBoot,
        Attack::JoinAllFailed,
        Attack::FarAheadFlood,
        Attack::McastMaxSeq,
        Attack::PhantomCommit,
        Attack::ExtremeToken,
    ];

    fn name(self) -> &'static str {
        match self {
            Attack::JoinMaxRingSeq => "join-max-ring-seq",
            Attack::JoinHugeBoot => "join-huge-incarnation",
            Attack::JoinAllFailed => "join-all-failed",
            Attack::FarAheadFlood => "far-ahead-flood",
            Attack::McastMaxSeq => "mcast-max-seq",
            Attack::PhantomCommit => "phantom-commit",
            Attack::ExtremeToken => "extreme-token",
        }
    }
}

/// One hostile burst: `attack` sent as `sender` to `target`, with the drawn extreme `value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Hostile {
    /// What is sent.
    pub attack: Attack,
    /// The member whose id (and source address) is used.
    pub sender: NodeId,
    /// The node it is sent to.
    pub target: NodeId,
    /// The extreme value (a seq, a boot number), drawn.
    pub value: u64,
}

impl fmt::Display for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hostile {} as {} to {} (value {:#x})",
            self.attack.name(),
            self.sender,
            self.target,
            self.value
        )
    }
}

/// The extreme values drawn: the very top of u64, the top of the signed range, and far
/// beyond anything a cluster reaches but far from overflow.
pub const EXTREMES: [u64; 5] = [u64::MAX, u64::MAX - 1, 1 << 63, 1 << 40, u64::MAX / 3];

/// Draws an attack on `target` (a node that runs) using another configured node's id.
pub fn draw(rng: &mut Rng, nodes: &[NodeId], target: NodeId) -> Option<Hostile> {
    let others: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != target).collect();
    let sender = *rng.pick(&others)?;
    let attack = Attack::ALL[rng.below(Attack::ALL.len() as u64) as usize];
    let value = EXTREMES[rng.below(EXTREMES.len() as u64) as usize];
    Some(Hostile { attack, sender, target, value })
}

/// The datagrams of `h`, given what the adversary sniffed of the target.
pub fn datagrams(world: &World, h: &Hostile) -> Vec<Vec<u8>> {
    let Some(node) = world.node(h.target) else { return Vec::new() };
    let ring = node.ring_id();
    let all = world.nodelist().clone();
    let header = |ring_id: RingId| Header { cluster_id: world.cluster_id(), sender: h.sender, ring_id };
    let one =
        |ring_id: RingId, message: Message| vec![wire::encode(&Packet { header: header(ring_id), message })];
    // The sender's real incarnation, as sniffed from its joins (0 when it is down: any value).
    let sniffed = world.node(h.sender).map_or(0, |n| n.incarnation());
    let join = |ring_seq: u64, incarnation: u64, failed: MemberList| Join {
        ring_seq,
        incarnation,
        join_seq: h.value,
        proc_list: all.clone(),
        failed_list: failed,
    };
    match h.attack {
        Attack::JoinMaxRingSeq => one(ring, Message::Join(join(h.value, sniffed, MemberList::new()))),
        Attack::JoinHugeBoot => one(ring, Message::Join(join(ring.seq, h.value, MemberList::new()))),
        Attack::JoinAllFailed => one(ring, Message::Join(join(ring.seq, sniffed, all.clone()))),
        Attack::FarAheadFlood => {
            // More than one store may hold, so an unbounded store shows.
            let count = (STORE_MESSAGES_MAX + 64) as u64;
            let base = h.value.min(u64::MAX - 2 * count);
            (0..count)
                .map(|i| {
                    let m = Mcast {
                        seq: base + i,
                        origin: h.sender,
                        encapsulated: None,
                        payload: vec![0xad; 16],
                    };
                    wire::encode(&Packet { header: header(ring), message: Message::Mcast(m) })
                })
                .collect()
        }
        Attack::McastMaxSeq => {
            let m = Mcast { seq: h.value, origin: h.sender, encapsulated: None, payload: vec![0xad; 16] };
            one(ring, Message::Mcast(m))
        }
        Attack::PhantomCommit => {
            // The members the target would accept: its installed ring's plus the sender.
            let members = node.members().union(&MemberList::single(h.sender)).unwrap_or_else(|_| all.clone());
            let rep = members.lowest().map_or(0, NodeId::get);
            let entries = members
                .iter()
                .map(|n| CommitEntry {
                    node: n,
                    old_ring_id: RingId { rep: n.get(), seq: h.value },
                    aru: h.value,
                    high_seq: h.value,
                    filled: n == h.sender,
                })
                .collect();
            let new_ring_id = RingId { rep, seq: h.value };
            one(ring, Message::Commit(Commit { new_ring_id, rotation: 1, token_seq: h.value, entries }))
        }
        Attack::ExtremeToken => {
            let t = Token {
                token_seq: h.value,
                seq: h.value,
                aru: h.value,
                rotation_aru: h.value,
                fcc: u32::MAX,
                backlog: u32::MAX,
                retrans_flg: true,
                clear_rotations: u8::MAX,
                rtr: (0..quorumd_proto::limits::RTR_MAX as u64).map(|i| h.value - i).collect(),
            };
            one(ring, Message::Token(t))
        }
    }
}
