//! The votequorum messages carried as Totem payloads (corosync-behaviour §3.2), in network byte order with a
//! leading message-type byte (corosync's exec message ids):
//!
//! ```text
//! NODEINFO     (29 bytes)  0:u8=0  nodeid:u32  votes:u32  expected_votes:u32  flags:u32
//!                                  ring_rep:u32  ring_seq:u64
//! RECONFIGURE  (10 bytes)  0:u8=1  nodeid:u32  value:u32  param:u8 (1 EXPECTED_VOTES,
//!                                                                  2 NODE_VOTES, 3 CANCEL_WFA)
//! ```
//!
//! Decoders check the exact length first and every field's range (node ids in `1..=65535`,
//! only known flag bits, votes within [`crate::limits`]); they never panic and never allocate.
//! Deviation from corosync: no qdevice messages (exec ids 2 and 3) and no qdevice nodeinfo
//! (node id 0); corosync's C structs in host order are replaced by this explicit layout.
//! Deviation from corosync: a NODEINFO names the ring it was built for (see [`NodeInfo::ring_id`]).

use quorumd_proto::{NodeId, RingId};

use crate::error::Error;
use crate::limits::{EXPECTED_VOTES_MAX, VOTES_MAX};
use crate::nodes::NodeFlags;

/// Message type byte of NODEINFO (corosync exec message 0).
pub const MSG_NODEINFO: u8 = 0;
/// Message type byte of RECONFIGURE (corosync exec message 1).
pub const MSG_RECONFIGURE: u8 = 1;
/// Encoded length of a NODEINFO.
pub const NODEINFO_LEN: usize = 29;
/// Encoded length of a RECONFIGURE.
pub const RECONFIGURE_LEN: usize = 10;

/// A node's state as it multicasts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node described (always the sender).
    pub nodeid: NodeId,
    /// Its votes.
    pub votes: u32,
    /// Its expected votes.
    pub expected_votes: u32,
    /// Its flags (QUORATE, LEAVING, WFASTATUS, FIRST, ATB_GRANT).
    pub flags: NodeFlags,
    /// The ring this state was stated for: the ring whose sync it was built at (or, for a
    /// LEAVING nodeinfo, the ring it leaves). Deviation from corosync: corosync's nodeinfo
    /// carries no ring. A nodeinfo queued at the sync of a ring that re-formed before
    /// delivering it is carried into the next ring and delivered there, once or more, next to
    /// the sender's fresh nodeinfo, possibly after that ring's activation: its flags (QUORATE,
    /// WFASTATUS, ATB_GRANT) describe a past state. Receivers drop a nodeinfo stated for another
    /// ring ([`crate::Error::StaleNodeInfo`]); the simulator found such a stale QUORATE clearing
    /// wait_for_all on some members of an inquorate ring and not on its sender (seed 6209).
    pub ring_id: RingId,
}

/// What a RECONFIGURE changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReconfigParam {
    /// Set every member's expected votes to `value` (setexpected).
    ExpectedVotes = 1,
    /// Set node `nodeid`'s votes to `value` (setvotes).
    NodeVotes = 2,
    /// Clear the wait-for-all status (`quorum.cancel_wait_for_all`); `value` is 0.
    CancelWfa = 3,
    /// A last-man-standing window expired on the sender in the ring whose seq (low 32 bits) is
    /// `value`. Deviation from corosync: corosync applies each node's own timer locally, so
    /// members of one ring can end up with different expected votes and quorum (found by the
    /// simulator); here the expiry is ordered and every member applies it at the same point.
    LmsExpired = 4,
}

/// A runtime change, multicast in agreed order so every member applies it at the same point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconfigure {
    /// The requesting node (EXPECTED_VOTES, CANCEL_WFA) or the target node (NODE_VOTES).
    pub nodeid: NodeId,
    /// The new value (0 for CANCEL_WFA).
    pub value: u32,
    /// What to change.
    pub param: ReconfigParam,
}

/// Any votequorum message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VqMessage {
    /// NODEINFO
    NodeInfo(NodeInfo),
    /// RECONFIGURE
    Reconfigure(Reconfigure),
}

impl VqMessage {
    /// The payload bytes to hand to Totem.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            VqMessage::NodeInfo(info) => info.encode().to_vec(),
            VqMessage::Reconfigure(r) => r.encode().to_vec(),
        }
    }

    /// Decodes a payload delivered by Totem.
    pub fn decode(bytes: &[u8]) -> Result<VqMessage, Error> {
        match bytes.first() {
            Some(&MSG_NODEINFO) => NodeInfo::decode(bytes).map(VqMessage::NodeInfo),
            Some(&MSG_RECONFIGURE) => Reconfigure::decode(bytes).map(VqMessage::Reconfigure),
            other => Err(Error::UnknownMessageType(other.copied())),
        }
    }
}

impl NodeInfo {
    /// The 29 bytes of this NODEINFO.
    pub fn encode(&self) -> [u8; NODEINFO_LEN] {
        let mut out = [0u8; NODEINFO_LEN];
        out[0] = MSG_NODEINFO;
        out[1..5].copy_from_slice(&self.nodeid.get().to_be_bytes());
        out[5..9].copy_from_slice(&self.votes.to_be_bytes());
        out[9..13].copy_from_slice(&self.expected_votes.to_be_bytes());
        out[13..17].copy_from_slice(&self.flags.bits().to_be_bytes());
        out[17..21].copy_from_slice(&self.ring_id.rep.to_be_bytes());
        out[21..29].copy_from_slice(&self.ring_id.seq.to_be_bytes());
        out
    }

    /// Decodes exactly one NODEINFO.
    pub fn decode(bytes: &[u8]) -> Result<NodeInfo, Error> {
        let b = exact(bytes, MSG_NODEINFO, NODEINFO_LEN, "nodeinfo")?;
        let nodeid = node_id(be32(b, 1))?;
        let votes = within("votes", be32(b, 5), VOTES_MAX)?;
        let expected_votes = within("expected_votes", be32(b, 9), EXPECTED_VOTES_MAX)?;
        let raw_flags = be32(b, 13);
        let flags =
            NodeFlags::from_bits(raw_flags).ok_or(Error::OutOfRange { what: "flags", value: raw_flags })?;
        let ring_id = RingId { rep: be32(b, 17), seq: be64(b, 21) };
        Ok(NodeInfo { nodeid, votes, expected_votes, flags, ring_id })
    }
}

impl Reconfigure {
    /// The 10 bytes of this RECONFIGURE.
    pub fn encode(&self) -> [u8; RECONFIGURE_LEN] {
        let mut out = [0u8; RECONFIGURE_LEN];
        out[0] = MSG_RECONFIGURE;
        out[1..5].copy_from_slice(&self.nodeid.get().to_be_bytes());
        out[5..9].copy_from_slice(&self.value.to_be_bytes());
        out[9] = self.param as u8;
        out
    }

    /// Decodes exactly one RECONFIGURE.
    pub fn decode(bytes: &[u8]) -> Result<Reconfigure, Error> {
        let b = exact(bytes, MSG_RECONFIGURE, RECONFIGURE_LEN, "reconfigure")?;
        let nodeid = node_id(be32(b, 1))?;
        let raw_value = be32(b, 5);
        let (param, value) = match b[9] {
            1 => (ReconfigParam::ExpectedVotes, within("expected_votes", raw_value, EXPECTED_VOTES_MAX)?),
            2 => (ReconfigParam::NodeVotes, within("votes", raw_value, VOTES_MAX)?),
            3 => (ReconfigParam::CancelWfa, within("cancel_wait_for_all value", raw_value, 0)?),
            4 => (ReconfigParam::LmsExpired, raw_value),
            other => return Err(Error::UnknownParam(other)),
        };
        Ok(Reconfigure { nodeid, value, param })
    }
}

/// Checks the type byte and the exact length; returns the bytes as a fixed-size view.
fn exact<'a>(bytes: &'a [u8], kind: u8, len: usize, what: &'static str) -> Result<&'a [u8], Error> {
    if bytes.first() != Some(&kind) {
        return Err(Error::UnknownMessageType(bytes.first().copied()));
    }
    if bytes.len() != len {
        return Err(Error::BadLength { what, len: bytes.len(), expected: len });
    }
    Ok(bytes)
}

/// A big-endian u32 at `at`; callers checked the length first.
fn be32(b: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(word)
}

/// A big-endian u64 at `at`; callers checked the length first.
fn be64(b: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(word)
}

fn node_id(raw: u32) -> Result<NodeId, Error> {
    NodeId::new(raw).map_err(|_| Error::BadNodeId(raw))
}

fn within(what: &'static str, value: u32, max: u32) -> Result<u32, Error> {
    if value <= max {
        Ok(value)
    } else {
        Err(Error::OutOfRange { what, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node_ids() -> impl Strategy<Value = NodeId> {
        (1u32..=65_535).prop_map(|r| NodeId::new(r).unwrap())
    }

    fn messages() -> impl Strategy<Value = VqMessage> {
        let ring = (any::<u32>(), any::<u64>()).prop_map(|(rep, seq)| RingId { rep, seq });
        let info = (node_ids(), 0..=VOTES_MAX, 0..=EXPECTED_VOTES_MAX, 0u32..16, ring).prop_map(
            |(nodeid, votes, e, f, ring_id)| {
                VqMessage::NodeInfo(NodeInfo {
                    nodeid,
                    votes,
                    expected_votes: e,
                    flags: NodeFlags::from_bits(f).unwrap(),
                    ring_id,
                })
            },
        );
        let reconf = (node_ids(), 0u8..4, 0..=VOTES_MAX).prop_map(|(nodeid, p, v)| {
            let (param, value) = match p {
                0 => (ReconfigParam::ExpectedVotes, v),
                1 => (ReconfigParam::NodeVotes, v),
                2 => (ReconfigParam::LmsExpired, v),
                _ => (ReconfigParam::CancelWfa, 0),
            };
            VqMessage::Reconfigure(Reconfigure { nodeid, value, param })
        });
        prop_oneof![info, reconf]
    }

    proptest! {
        #[test]
        fn spec_3_2_messages_round_trip(msg in messages()) {
            prop_assert_eq!(VqMessage::decode(&msg.encode()), Ok(msg));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = VqMessage::decode(&bytes);
        }

        #[test]
        fn truncated_or_extended_messages_are_refused(msg in messages(), cut in 0usize..29, extra in 1usize..4) {
            let bytes = msg.encode();
            if cut < bytes.len() {
                prop_assert!(VqMessage::decode(&bytes[..cut]).is_err());
            }
            let mut longer = bytes.clone();
            longer.resize(longer.len() + extra, 0);
            prop_assert!(VqMessage::decode(&longer).is_err());
        }
    }

    #[test]
    fn spec_3_2_layout_is_big_endian_with_a_type_byte() {
        let info = NodeInfo {
            nodeid: NodeId::new(0x0102).unwrap(),
            votes: 1,
            expected_votes: 3,
            flags: NodeFlags::from_bits(0b1001).unwrap(),
            ring_id: RingId { rep: 3, seq: 0x1_0000_002a },
        };
        assert_eq!(
            info.encode(),
            [0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0x2a]
        );
        let r = Reconfigure { nodeid: NodeId::new(2).unwrap(), value: 5, param: ReconfigParam::NodeVotes };
        assert_eq!(r.encode(), [1, 0, 0, 0, 2, 0, 0, 0, 5, 2]);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(VqMessage::decode(&[]), Err(Error::UnknownMessageType(None)));
        assert_eq!(VqMessage::decode(&[7, 0]), Err(Error::UnknownMessageType(Some(7))));
        let mut qdevice = [0u8; NODEINFO_LEN];
        assert_eq!(VqMessage::decode(&qdevice), Err(Error::BadNodeId(0)));
        qdevice[4] = 1;
        qdevice[16] = 16;
        assert_eq!(VqMessage::decode(&qdevice), Err(Error::OutOfRange { what: "flags", value: 16 }));
        assert_eq!(VqMessage::decode(&[1, 0, 0, 0, 1, 0, 0, 0, 0, 5]), Err(Error::UnknownParam(5)));
        assert!(matches!(VqMessage::decode(&[1, 0, 0, 0, 1, 0, 0, 0, 1, 3]), Err(Error::OutOfRange { .. })));
    }
}
