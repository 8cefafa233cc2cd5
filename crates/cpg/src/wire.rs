//! CPG's messages between nodes, carried as Totem payloads (after the node's service byte).
//!
//! ```text
//! every message (big-endian):
//!   0  type     u8    JOIN 1, LEAVE 2, PROCDOWN 3, FRAG 4, JOINLIST 5, HOLD 6
//!   1  tag      u32 rep + u64 seq: the ring the sender was synchronised in when it handed
//!                     the message to Totem; a message delivered in another ring is dropped
//!                     by every node (the sender sends it again, see the crate docs)
//!  13  out_seq  u64   the sender's message number (all fragments of one message share it)
//!  21  body
//! JOIN      conn u64, pid u32, group (u8 length, bytes)
//! LEAVE     conn u64
//! PROCDOWN  conn u64
//! FRAG      conn u64, index u32, count u32, total_len u32, data (the rest)
//! JOINLIST  last u8 (1 on the sender's last part), n u16, n × (conn u64, pid u32, group)
//! HOLD      on u8 (1: a reader on the sender is behind, every node holds its senders back;
//!           0: it caught up). out_seq is 0 (not one of the sender's messages).
//! ```
//!
//! A node that does not know a type drops the message (counted as malformed), so HOLD (added
//! after the first five) only costs an older node its flow control, never its order.
//!
//! Decoding checks every length against what is left and against the CPG bounds before it
//! allocates; a message that does not decode is dropped (and counted) by every node alike.

use quorumd_proto::limits::MCAST_PAYLOAD_MAX;
use quorumd_proto::svc_cpg::{CPG_MAX_NAME_LENGTH, MSG_MAX};
use quorumd_proto::RingId;

/// Bytes before a fragment's data (type, tag, out_seq, conn, index, count, total).
pub const FRAG_HEADER_LEN: usize = 1 + 12 + 8 + 8 + 12;
/// Data bytes of one fragment: what is left of one Totem message after CPG's header and the
/// node's service byte.
pub const FRAG_DATA_MAX: usize = MCAST_PAYLOAD_MAX - FRAG_HEADER_LEN - 1;
/// Most fragments of one message.
pub const FRAGS_MAX: usize = MSG_MAX.div_ceil(FRAG_DATA_MAX);
/// Bytes of one joinlist entry at most.
const ENTRY_MAX: usize = 8 + 4 + 1 + CPG_MAX_NAME_LENGTH;
/// Entries of one joinlist part (it fits one Totem message).
pub const JOINLIST_PART_MAX: usize = (MCAST_PAYLOAD_MAX - 1 - 21 - 3) / ENTRY_MAX;

/// One process of a joinlist.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// The group.
    pub group: Vec<u8>,
    /// The sender's connection.
    pub conn: u64,
    /// The process.
    pub pid: u32,
}

/// The body of a CPG message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// A process joins a group.
    Join {
        /// Its connection on the sending node.
        conn: u64,
        /// Its pid.
        pid: u32,
        /// The group.
        group: Vec<u8>,
    },
    /// A process leaves its group.
    Leave {
        /// Its connection.
        conn: u64,
    },
    /// A process's connection closed.
    ProcDown {
        /// Its connection.
        conn: u64,
    },
    /// One fragment of a multicast.
    Frag {
        /// The sending connection.
        conn: u64,
        /// Position, from 0.
        index: u32,
        /// Fragments of the message.
        count: u32,
        /// Bytes of the whole message.
        total_len: u32,
        /// This fragment's bytes.
        data: Vec<u8>,
    },
    /// Part of the sender's local processes, sent once per ring during the sync.
    JoinList {
        /// The sender's last part.
        last: bool,
        /// Its processes.
        entries: Vec<Entry>,
    },
    /// Cluster-wide flow control: whether a local reader of the sender is far behind.
    Hold {
        /// True: hold senders back; false: the sender's readers caught up.
        on: bool,
    },
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    /// The ring the sender handed it to Totem in.
    pub tag: RingId,
    /// The sender's message number.
    pub out_seq: u64,
    /// What it says.
    pub body: Body,
}

/// A message that does not decode; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the message needs, or more.
    #[error("malformed cpg message")]
    Malformed,
    /// A length beyond its bound.
    #[error("cpg message field beyond its bound")]
    Bound,
    /// An unknown type.
    #[error("unknown cpg message type {0}")]
    Type(u8),
}

fn group(b: &mut Vec<u8>, g: &[u8]) {
    b.push(g.len() as u8);
    b.extend_from_slice(g);
}

impl Msg {
    /// The bytes (without the node's service byte, which `prefix` is put before).
    pub fn encode(&self, prefix: u8) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.push(prefix);
        let ty = match self.body {
            Body::Join { .. } => 1,
            Body::Leave { .. } => 2,
            Body::ProcDown { .. } => 3,
            Body::Frag { .. } => 4,
            Body::JoinList { .. } => 5,
            Body::Hold { .. } => 6,
        };
        b.push(ty);
        b.extend_from_slice(&self.tag.rep.to_be_bytes());
        b.extend_from_slice(&self.tag.seq.to_be_bytes());
        b.extend_from_slice(&self.out_seq.to_be_bytes());
        match &self.body {
            Body::Join { conn, pid, group: g } => {
                b.extend_from_slice(&conn.to_be_bytes());
                b.extend_from_slice(&pid.to_be_bytes());
                group(&mut b, g);
            }
            Body::Leave { conn } | Body::ProcDown { conn } => b.extend_from_slice(&conn.to_be_bytes()),
            Body::Frag { conn, index, count, total_len, data } => {
                b.extend_from_slice(&conn.to_be_bytes());
                for v in [index, count, total_len] {
                    b.extend_from_slice(&v.to_be_bytes());
                }
                b.extend_from_slice(data);
            }
            Body::JoinList { last, entries } => {
                b.push(u8::from(*last));
                b.extend_from_slice(&(entries.len() as u16).to_be_bytes());
                for e in entries {
                    b.extend_from_slice(&e.conn.to_be_bytes());
                    b.extend_from_slice(&e.pid.to_be_bytes());
                    group(&mut b, &e.group);
                }
            }
            Body::Hold { on } => b.push(u8::from(*on)),
        }
        debug_assert!(b.len() <= MCAST_PAYLOAD_MAX);
        b
    }

    /// Reads a message (the bytes after the service byte).
    pub fn decode(b: &[u8]) -> Result<Msg, WireError> {
        let mut r = R { b, p: 0 };
        let ty = r.u8()?;
        let tag = RingId { rep: r.u32()?, seq: r.u64()? };
        let out_seq = r.u64()?;
        let body = match ty {
            1 => Body::Join { conn: r.u64()?, pid: r.u32()?, group: r.group()? },
            2 => Body::Leave { conn: r.u64()? },
            3 => Body::ProcDown { conn: r.u64()? },
            4 => {
                let conn = r.u64()?;
                let (index, count, total_len) = (r.u32()?, r.u32()?, r.u32()?);
                if total_len as usize > MSG_MAX || count as usize > FRAGS_MAX || index >= count {
                    return Err(WireError::Bound);
                }
                let data = r.b[r.p..].to_vec();
                r.p = r.b.len();
                if data.len() > FRAG_DATA_MAX {
                    return Err(WireError::Bound);
                }
                Body::Frag { conn, index, count, total_len, data }
            }
            5 => {
                let last = match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(WireError::Malformed),
                };
                let n = u16::from_be_bytes([r.u8()?, r.u8()?]) as usize;
                if n > JOINLIST_PART_MAX {
                    return Err(WireError::Bound);
                }
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let (conn, pid, group) = (r.u64()?, r.u32()?, r.group()?);
                    entries.push(Entry { group, conn, pid });
                }
                Body::JoinList { last, entries }
            }
            6 => match r.u8()? {
                0 => Body::Hold { on: false },
                1 => Body::Hold { on: true },
                _ => return Err(WireError::Malformed),
            },
            t => return Err(WireError::Type(t)),
        };
        if r.p != b.len() {
            return Err(WireError::Malformed);
        }
        Ok(Msg { tag, out_seq, body })
    }
}

struct R<'a> {
    b: &'a [u8],
    p: usize,
}

impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let s = self.b.get(self.p..self.p + n).ok_or(WireError::Malformed)?;
        self.p += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn group(&mut self) -> Result<Vec<u8>, WireError> {
        let n = self.u8()? as usize;
        if n == 0 || n > CPG_MAX_NAME_LENGTH {
            return Err(WireError::Bound);
        }
        Ok(self.take(n)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_message_round_trips_and_fits_totem() {
        let tag = RingId { rep: 1, seq: 8 };
        let long = vec![b'g'; CPG_MAX_NAME_LENGTH];
        let entries: Vec<Entry> =
            (0..JOINLIST_PART_MAX as u64).map(|c| Entry { group: long.clone(), conn: c, pid: 7 }).collect();
        for body in [
            Body::Join { conn: 3, pid: 9, group: long.clone() },
            Body::Leave { conn: 3 },
            Body::ProcDown { conn: u64::MAX },
            Body::Frag { conn: 3, index: 1, count: 2, total_len: 9000, data: vec![5; FRAG_DATA_MAX] },
            Body::JoinList { last: true, entries },
            Body::Hold { on: true },
            Body::Hold { on: false },
        ] {
            let m = Msg { tag, out_seq: 77, body };
            let b = m.encode(9);
            assert!(b.len() <= MCAST_PAYLOAD_MAX, "{} bytes", b.len());
            assert_eq!(Msg::decode(&b[1..]), Ok(m));
        }
    }

    #[test]
    fn bounds_are_refused() {
        let tag = RingId { rep: 1, seq: 8 };
        let frag = |index, count, total_len| {
            Msg { tag, out_seq: 1, body: Body::Frag { conn: 1, index, count, total_len, data: vec![] } }
                .encode(0)
        };
        assert_eq!(Msg::decode(&frag(2, 2, 10)[1..]), Err(WireError::Bound));
        assert_eq!(Msg::decode(&frag(0, 1, MSG_MAX as u32 + 1)[1..]), Err(WireError::Bound));
        assert_eq!(Msg::decode(&frag(0, FRAGS_MAX as u32 + 1, 1)[1..]), Err(WireError::Bound));
        let mut j =
            Msg { tag, out_seq: 1, body: Body::Join { conn: 1, pid: 1, group: b"g".to_vec() } }.encode(0);
        j.push(0);
        assert_eq!(Msg::decode(&j[1..]), Err(WireError::Malformed));
        assert_eq!(Msg::decode(&[9; 30]), Err(WireError::Type(9)));
        let mut h = Msg { tag, out_seq: 0, body: Body::Hold { on: true } }.encode(0);
        h[22] = 2;
        assert_eq!(Msg::decode(&h[1..]), Err(WireError::Malformed));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(m) = Msg::decode(&b) {
                prop_assert_eq!(&m.encode(0)[1..], &b[..]);
            }
        }
    }
}
