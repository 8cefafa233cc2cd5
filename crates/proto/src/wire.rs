//! The cluster wire codec: a fixed, versioned, network-order header followed by one Totem
//! message body. Every field is written explicitly; nothing is a packed host-order struct.
//!
//! ```text
//! header (28 bytes, big-endian):
//!   0  magic        u16  0x5144 ("QD")
//!   2  version      u8   1
//!   3  msg_type     u8   see MsgType
//!   4  cluster_id   u32  derived from totem.cluster_name by the shell
//!   8  sender       u32  node id of the node that built this datagram
//!  12  ring_rep     u32  the sender's current ring id ...
//!  16  ring_seq     u64  ... (rep.seq)
//!  24  payload_len  u32  length of the body that follows
//! ```
//!
//! Deviation from corosync: corosync's `totem_message_header` (magic 0xC070, version 3) is a
//! host-order packed struct; ours is network order, carries the cluster id and ring id in
//! every message (so a datagram from another cluster or another ring is recognised before its
//! body is read) and the body length (so trailing garbage is an error). The header is also the
//! associated data of the AEAD when crypto is on.

use crate::ids::{LinkId, NodeId, RingId};
use crate::limits::{DATAGRAM_MAX, HEADER_LEN, MCAST_PAYLOAD_MAX, NODES_MAX, RTR_MAX};
use crate::members::MemberList;

/// The header's magic number.
pub const MAGIC: u16 = 0x5144;
/// The wire version this code speaks.
pub const VERSION: u8 = 1;

/// Why a datagram was refused. Decoding never changes any state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the structure needs.
    #[error("truncated: needed {needed} more bytes at offset {at}")]
    Truncated {
        /// Offset where the read started.
        at: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// The magic number is not ours.
    #[error("bad magic {0:#06x}")]
    BadMagic(u16),
    /// A version we do not speak.
    #[error("unsupported wire version {0}")]
    BadVersion(u8),
    /// An unknown message type.
    #[error("unknown message type {0}")]
    BadType(u8),
    /// A list or payload longer than the limits allow.
    #[error("{what} has {len} entries, more than the limit {max}")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Length read.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A node id outside 1..=65535 where one is required.
    #[error("invalid node id {0}")]
    BadNodeId(u32),
    /// A node list that is not strictly ascending.
    #[error("{0} is not sorted or has duplicates")]
    Unsorted(&'static str),
    /// The header's payload length does not match the datagram.
    #[error("payload length {declared} does not match the {actual} bytes present")]
    LengthMismatch {
        /// Length in the header.
        declared: usize,
        /// Bytes after the header.
        actual: usize,
    },
    /// Bytes left over after the body.
    #[error("{0} trailing bytes after the message body")]
    Trailing(usize),
    /// A boolean or enum byte with a value outside its range.
    #[error("invalid value {value} for {what}")]
    BadValue {
        /// Which field.
        what: &'static str,
        /// Value read.
        value: u64,
    },
    /// The datagram is larger than [`DATAGRAM_MAX`].
    #[error("datagram of {0} bytes exceeds the maximum")]
    TooBig(usize),
}

/// The message types (corosync's totemsrp numbering, corosync-behaviour §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MsgType {
    /// The ORF token.
    Token = 0,
    /// An ordered data message.
    Mcast = 1,
    /// A representative's probe that lets separated rings find each other.
    MergeDetect = 2,
    /// A membership join (also used as "leave").
    Join = 3,
    /// The commit token.
    Commit = 4,
    /// Ask the representative to release a held token.
    TokenHoldCancel = 5,
    /// A link heartbeat request (below Totem: see [`Heartbeat`]).
    Ping = 6,
    /// The answer to a [`MsgType::Ping`], on the same link.
    Pong = 7,
}

impl MsgType {
    fn from_u8(v: u8) -> Result<MsgType, DecodeError> {
        Ok(match v {
            0 => MsgType::Token,
            1 => MsgType::Mcast,
            2 => MsgType::MergeDetect,
            3 => MsgType::Join,
            4 => MsgType::Commit,
            5 => MsgType::TokenHoldCancel,
            6 => MsgType::Ping,
            7 => MsgType::Pong,
            other => return Err(DecodeError::BadType(other)),
        })
    }
}

/// The fixed header of every datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Cluster id (datagrams of another cluster are dropped).
    pub cluster_id: u32,
    /// Node that built the datagram.
    pub sender: NodeId,
    /// The sender's current ring.
    pub ring_id: RingId,
}

/// The ORF (ordering, reliability, flow control) token of an operational or recovering ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Increases at every hop; a token whose `token_seq` is not newer than the last one seen is
    /// a duplicate (a retransmission) and is dropped.
    pub token_seq: u64,
    /// Highest message seq assigned in this ring.
    pub seq: u64,
    /// All-received-up-to over the last complete rotation: every member had every message up
    /// to this seq when the token last passed it.
    pub aru: u64,
    /// The minimum of the members' received-up-to in the rotation now in progress.
    pub rotation_aru: u64,
    /// Messages sent during the last rotation (flow control).
    pub fcc: u32,
    /// Messages waiting to be sent across the ring (flow control).
    pub backlog: u32,
    /// Set by any member that still has recovery messages to send or has not received all.
    pub retrans_flg: bool,
    /// Complete rotations in a row with `retrans_flg` clear and nothing missing (recovery).
    pub clear_rotations: u8,
    /// Sequence numbers some member is missing.
    pub rtr: Vec<u64>,
}

/// Where a message being recovered into a new ring came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encapsulated {
    /// The old ring the message was ordered in.
    pub ring_id: RingId,
    /// Its seq in that ring.
    pub seq: u64,
}

/// An ordered data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mcast {
    /// Position in the ring's total order.
    pub seq: u64,
    /// The node that submitted the message (not necessarily the one retransmitting it).
    pub origin: NodeId,
    /// Set on old-ring messages carried through recovery.
    pub encapsulated: Option<Encapsulated>,
    /// The message itself (at most [`MCAST_PAYLOAD_MAX`] bytes).
    pub payload: Vec<u8>,
}

/// A membership join: the sender's view of who is alive (`proc_list`) and who is not
/// (`failed_list`). A leave is a join whose failed list holds its sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Join {
    /// The highest ring seq the sender has seen or used.
    pub ring_seq: u64,
    /// The sender's incarnation: a random number drawn at every boot (never persisted), so a
    /// node that lost its state directory is still a new incarnation. Any value is valid.
    pub incarnation: u64,
    /// Counts the joins this sender sent in this incarnation; within one incarnation a join
    /// with a lower `join_seq` is one overtaken on the network (see docs/totem.md, "Node
    /// identity").
    pub join_seq: u64,
    /// Nodes believed alive.
    pub proc_list: MemberList,
    /// Nodes believed failed.
    pub failed_list: MemberList,
}

/// One member's line in the commit token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitEntry {
    /// The member.
    pub node: NodeId,
    /// The ring the member comes from.
    pub old_ring_id: RingId,
    /// Its received-up-to in the old ring.
    pub aru: u64,
    /// The highest old-ring seq it holds.
    pub high_seq: u64,
    /// Whether the member has filled this entry yet.
    pub filled: bool,
}

/// The commit token that installs a new ring (two rotations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The ring being formed.
    pub new_ring_id: RingId,
    /// 1 on the first rotation, 2 on the second.
    pub rotation: u8,
    /// Increases at every hop (duplicate detection).
    pub token_seq: u64,
    /// One entry per member, sorted by node id.
    pub entries: Vec<CommitEntry>,
}

/// One node's connectivity row, as the link layer relays it: the peers `node` has admitted
/// (two-way connectivity proven by pongs, see docs/totem.md, "Links").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnRow {
    /// Whose row.
    pub node: NodeId,
    /// Increases every time `node` changes its row (the newest version wins).
    pub version: u64,
    /// The peers `node` admits.
    pub peers: MemberList,
}

/// A link heartbeat (knet's ping/pong, below Totem). A ping is answered by a pong on the
/// same link echoing `seq` and `stamp`; the pong proves both directions of the link and
/// gives its round-trip latency. Both carry the connectivity rows the sender knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The link it was sent on (a datagram arriving on another link is refused).
    pub link: LinkId,
    /// The pinger's sequence number (echoed by the pong).
    pub seq: u64,
    /// The pinger's clock when it sent the ping, in microseconds (echoed by the pong).
    pub stamp: u64,
    /// The sender's boot incarnation (a restarted node is a new peer, not a flapping one).
    pub incarnation: u64,
    /// Connectivity rows, sorted by node, at most one per node.
    pub rows: Vec<ConnRow>,
}

/// A decoded message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// The ORF token.
    Token(Token),
    /// An ordered data message.
    Mcast(Mcast),
    /// A merge-detect probe.
    MergeDetect,
    /// A join (or leave).
    Join(Join),
    /// The commit token.
    Commit(Commit),
    /// Release a held token.
    TokenHoldCancel,
    /// A link heartbeat request.
    Ping(Heartbeat),
    /// A link heartbeat answer.
    Pong(Heartbeat),
}

impl Message {
    /// The type byte of this message.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Message::Token(_) => MsgType::Token,
            Message::Mcast(_) => MsgType::Mcast,
            Message::MergeDetect => MsgType::MergeDetect,
            Message::Join(_) => MsgType::Join,
            Message::Commit(_) => MsgType::Commit,
            Message::TokenHoldCancel => MsgType::TokenHoldCancel,
            Message::Ping(_) => MsgType::Ping,
            Message::Pong(_) => MsgType::Pong,
        }
    }
}

/// A whole datagram: header and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The header.
    pub header: Header,
    /// The body.
    pub message: Message,
}

// ---------------------------------------------------------------------------------------------
// Encoding

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn ring(&mut self, r: RingId) {
        self.u32(r.rep);
        self.u64(r.seq);
    }
    fn nodes(&mut self, l: &MemberList) {
        // MemberList is bounded by NODES_MAX <= u16::MAX (checked in limits).
        self.u16(l.len() as u16);
        for id in l.iter() {
            self.u32(id.get());
        }
    }
}

/// Encodes only the 28-byte header for a body of `payload_len` bytes (the AEAD's associated
/// data is exactly these bytes).
pub fn encode_header(header: &Header, msg_type: MsgType, payload_len: usize) -> [u8; HEADER_LEN] {
    let mut w = Writer(Vec::with_capacity(HEADER_LEN));
    w.u16(MAGIC);
    w.u8(VERSION);
    w.u8(msg_type as u8);
    w.u32(header.cluster_id);
    w.u32(header.sender.get());
    w.ring(header.ring_id);
    w.u32(u32::try_from(payload_len).unwrap_or(u32::MAX));
    let mut out = [0u8; HEADER_LEN];
    out.copy_from_slice(&w.0);
    out
}

/// Encodes a message body alone.
pub fn encode_body(message: &Message) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64));
    match message {
        Message::Token(t) => {
            w.u64(t.token_seq);
            w.u64(t.seq);
            w.u64(t.aru);
            w.u64(t.rotation_aru);
            w.u32(t.fcc);
            w.u32(t.backlog);
            w.u8(u8::from(t.retrans_flg));
            w.u8(t.clear_rotations);
            let n = t.rtr.len().min(RTR_MAX);
            w.u16(n as u16);
            for s in &t.rtr[..n] {
                w.u64(*s);
            }
        }
        Message::Mcast(m) => {
            w.u64(m.seq);
            w.u32(m.origin.get());
            match m.encapsulated {
                None => w.u8(0),
                Some(e) => {
                    w.u8(1);
                    w.ring(e.ring_id);
                    w.u64(e.seq);
                }
            }
            w.u32(m.payload.len() as u32);
            w.0.extend_from_slice(&m.payload);
        }
        Message::MergeDetect | Message::TokenHoldCancel => {}
        Message::Join(j) => {
            w.u64(j.ring_seq);
            w.u64(j.incarnation);
            w.u64(j.join_seq);
            w.nodes(&j.proc_list);
            w.nodes(&j.failed_list);
        }
        Message::Ping(h) | Message::Pong(h) => {
            w.u8(h.link.get());
            w.u64(h.seq);
            w.u64(h.stamp);
            w.u64(h.incarnation);
            w.u16(h.rows.len().min(NODES_MAX) as u16);
            for row in h.rows.iter().take(NODES_MAX) {
                w.u32(row.node.get());
                w.u64(row.version);
                w.nodes(&row.peers);
            }
        }
        Message::Commit(c) => {
            w.ring(c.new_ring_id);
            w.u8(c.rotation);
            w.u64(c.token_seq);
            w.u16(c.entries.len().min(NODES_MAX) as u16);
            for e in c.entries.iter().take(NODES_MAX) {
                w.u32(e.node.get());
                w.ring(e.old_ring_id);
                w.u64(e.aru);
                w.u64(e.high_seq);
                w.u8(u8::from(e.filled));
            }
        }
    }
    w.0
}

/// Encodes a whole datagram (header + body).
pub fn encode(packet: &Packet) -> Vec<u8> {
    let body = encode_body(&packet.message);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&encode_header(&packet.header, packet.message.msg_type(), body.len()));
    out.extend_from_slice(&body);
    out
}

// ---------------------------------------------------------------------------------------------
// Decoding

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or(DecodeError::Truncated {
            at: self.pos,
            needed: n.saturating_sub(self.buf.len().saturating_sub(self.pos)),
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::BadValue { what, value: u64::from(v) }),
        }
    }
    fn node(&mut self) -> Result<NodeId, DecodeError> {
        let raw = self.u32()?;
        NodeId::new(raw).map_err(|_| DecodeError::BadNodeId(raw))
    }
    fn ring(&mut self) -> Result<RingId, DecodeError> {
        Ok(RingId { rep: self.u32()?, seq: self.u64()? })
    }
    fn count(&mut self, what: &'static str, max: usize, entry_len: usize) -> Result<usize, DecodeError> {
        let n = usize::from(self.u16()?);
        if n > max {
            return Err(DecodeError::TooLong { what, len: n, max });
        }
        // Check the bytes are there before allocating anything for them.
        let need = n * entry_len;
        if self.buf.len() - self.pos < need {
            return Err(DecodeError::Truncated { at: self.pos, needed: need - (self.buf.len() - self.pos) });
        }
        Ok(n)
    }
    fn nodes(&mut self, what: &'static str) -> Result<MemberList, DecodeError> {
        let n = self.count(what, NODES_MAX, 4)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let id = self.node()?;
            if v.last().is_some_and(|last| *last >= id) {
                return Err(DecodeError::Unsorted(what));
            }
            v.push(id);
        }
        MemberList::from_ids(v).map_err(|_| DecodeError::TooLong { what, len: n, max: NODES_MAX })
    }
}

/// Decodes the header and returns it with the message type and the body bytes.
pub fn decode_header(bytes: &[u8]) -> Result<(Header, MsgType, &[u8]), DecodeError> {
    if bytes.len() > DATAGRAM_MAX {
        return Err(DecodeError::TooBig(bytes.len()));
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    let magic = r.u16()?;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let msg_type = MsgType::from_u8(r.u8()?)?;
    let cluster_id = r.u32()?;
    let sender = r.node()?;
    let ring_id = r.ring()?;
    let declared = r.u32()? as usize;
    let actual = bytes.len() - HEADER_LEN;
    if declared != actual {
        return Err(DecodeError::LengthMismatch { declared, actual });
    }
    Ok((Header { cluster_id, sender, ring_id }, msg_type, &bytes[HEADER_LEN..]))
}

/// Decodes a body of the given type; every byte must be used.
pub fn decode_body(msg_type: MsgType, body: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader { buf: body, pos: 0 };
    let message = match msg_type {
        MsgType::Token => {
            let token_seq = r.u64()?;
            let seq = r.u64()?;
            let aru = r.u64()?;
            let rotation_aru = r.u64()?;
            let fcc = r.u32()?;
            let backlog = r.u32()?;
            let retrans_flg = r.bool("retrans_flg")?;
            let clear_rotations = r.u8()?;
            let n = r.count("rtr list", RTR_MAX, 8)?;
            let mut rtr = Vec::with_capacity(n);
            for _ in 0..n {
                rtr.push(r.u64()?);
            }
            Message::Token(Token {
                token_seq,
                seq,
                aru,
                rotation_aru,
                fcc,
                backlog,
                retrans_flg,
                clear_rotations,
                rtr,
            })
        }
        MsgType::Mcast => {
            let seq = r.u64()?;
            let origin = r.node()?;
            let encapsulated = if r.bool("encapsulated")? {
                Some(Encapsulated { ring_id: r.ring()?, seq: r.u64()? })
            } else {
                None
            };
            let len = r.u32()? as usize;
            if len > MCAST_PAYLOAD_MAX {
                return Err(DecodeError::TooLong { what: "mcast payload", len, max: MCAST_PAYLOAD_MAX });
            }
            let payload = r.take(len)?.to_vec();
            Message::Mcast(Mcast { seq, origin, encapsulated, payload })
        }
        MsgType::MergeDetect => Message::MergeDetect,
        MsgType::TokenHoldCancel => Message::TokenHoldCancel,
        MsgType::Join => {
            let ring_seq = r.u64()?;
            let incarnation = r.u64()?;
            let join_seq = r.u64()?;
            let proc_list = r.nodes("proc list")?;
            let failed_list = r.nodes("failed list")?;
            Message::Join(Join { ring_seq, incarnation, join_seq, proc_list, failed_list })
        }
        MsgType::Ping | MsgType::Pong => {
            let raw = r.u8()?;
            let link = LinkId::new(u32::from(raw))
                .map_err(|_| DecodeError::BadValue { what: "link number", value: u64::from(raw) })?;
            let seq = r.u64()?;
            let stamp = r.u64()?;
            let incarnation = r.u64()?;
            // Each row is at least 14 bytes (node, version, empty list).
            let n = r.count("connectivity rows", NODES_MAX, 14)?;
            let mut rows: Vec<ConnRow> = Vec::with_capacity(n);
            for _ in 0..n {
                let node = r.node()?;
                if rows.last().is_some_and(|last| last.node >= node) {
                    return Err(DecodeError::Unsorted("connectivity rows"));
                }
                let version = r.u64()?;
                let peers = r.nodes("connectivity row")?;
                rows.push(ConnRow { node, version, peers });
            }
            let h = Heartbeat { link, seq, stamp, incarnation, rows };
            if msg_type == MsgType::Ping {
                Message::Ping(h)
            } else {
                Message::Pong(h)
            }
        }
        MsgType::Commit => {
            let new_ring_id = r.ring()?;
            let rotation = r.u8()?;
            if !(1..=2).contains(&rotation) {
                return Err(DecodeError::BadValue { what: "commit rotation", value: u64::from(rotation) });
            }
            let token_seq = r.u64()?;
            let n = r.count("commit entries", NODES_MAX, 33)?;
            let mut entries: Vec<CommitEntry> = Vec::with_capacity(n);
            for _ in 0..n {
                let node = r.node()?;
                if entries.last().is_some_and(|e| e.node >= node) {
                    return Err(DecodeError::Unsorted("commit entries"));
                }
                let old_ring_id = r.ring()?;
                let aru = r.u64()?;
                let high_seq = r.u64()?;
                let filled = r.bool("commit entry filled")?;
                entries.push(CommitEntry { node, old_ring_id, aru, high_seq, filled });
            }
            Message::Commit(Commit { new_ring_id, rotation, token_seq, entries })
        }
    };
    if r.pos != body.len() {
        return Err(DecodeError::Trailing(body.len() - r.pos));
    }
    Ok(message)
}

/// Decodes a whole plaintext datagram.
pub fn decode(bytes: &[u8]) -> Result<Packet, DecodeError> {
    let (header, msg_type, body) = decode_header(bytes)?;
    let message = decode_body(msg_type, body)?;
    Ok(Packet { header, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node() -> impl Strategy<Value = NodeId> {
        (1u32..=65_535).prop_map(|r| NodeId::new(r).unwrap())
    }
    fn ring() -> impl Strategy<Value = RingId> {
        (any::<u32>(), any::<u64>()).prop_map(|(rep, seq)| RingId { rep, seq })
    }
    fn nodes(max: usize) -> impl Strategy<Value = MemberList> {
        proptest::collection::vec(node(), 0..max).prop_map(|v| MemberList::from_ids(v).unwrap())
    }
    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (
                any::<[u64; 4]>(),
                any::<u32>(),
                any::<u32>(),
                any::<bool>(),
                any::<u8>(),
                proptest::collection::vec(any::<u64>(), 0..RTR_MAX)
            )
                .prop_map(|(a, fcc, backlog, retrans_flg, clear_rotations, rtr)| Message::Token(
                    Token {
                        token_seq: a[0],
                        seq: a[1],
                        aru: a[2],
                        rotation_aru: a[3],
                        fcc,
                        backlog,
                        retrans_flg,
                        clear_rotations,
                        rtr
                    }
                )),
            (
                any::<u64>(),
                node(),
                proptest::option::of((ring(), any::<u64>())),
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(seq, origin, enc, payload)| Message::Mcast(Mcast {
                    seq,
                    origin,
                    encapsulated: enc.map(|(ring_id, seq)| Encapsulated { ring_id, seq }),
                    payload
                })),
            Just(Message::MergeDetect),
            Just(Message::TokenHoldCancel),
            (any::<(u64, u64, u64)>(), nodes(40), nodes(40)).prop_map(
                |((ring_seq, incarnation, join_seq), proc_list, failed_list)| Message::Join(Join {
                    ring_seq,
                    incarnation,
                    join_seq,
                    proc_list,
                    failed_list
                })
            ),
            (ring(), 1u8..=2, any::<u64>(), nodes(40), any::<(u64, u64, bool)>(), ring()).prop_map(
                |(new_ring_id, rotation, token_seq, members, (aru, high_seq, filled), old_ring_id)| {
                    let entries = members
                        .iter()
                        .map(|node| CommitEntry { node, old_ring_id, aru, high_seq, filled })
                        .collect();
                    Message::Commit(Commit { new_ring_id, rotation, token_seq, entries })
                }
            ),
            (0u8..8, any::<(u64, u64, bool)>(), nodes(12), nodes(12)).prop_map(
                |(link, (seq, stamp, pong), row_nodes, peers)| {
                    let rows = row_nodes
                        .iter()
                        .map(|node| ConnRow {
                            node,
                            version: seq ^ u64::from(node.get()),
                            peers: peers.clone(),
                        })
                        .collect();
                    let link = LinkId::new(u32::from(link)).unwrap();
                    let h = Heartbeat { link, seq, stamp, incarnation: stamp ^ seq, rows };
                    if pong {
                        Message::Pong(h)
                    } else {
                        Message::Ping(h)
                    }
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(m in message(), cluster_id in any::<u32>(), sender in node(), ring_id in ring()) {
            let p = Packet { header: Header { cluster_id, sender, ring_id }, message: m };
            let bytes = encode(&p);
            prop_assert!(bytes.len() <= DATAGRAM_MAX);
            prop_assert_eq!(decode(&bytes), Ok(p));
        }

        #[test]
        fn garbage_never_panics_and_accepted_bytes_are_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = decode(&bytes) {
                prop_assert_eq!(encode(&p), bytes);
            }
        }

        #[test]
        fn any_truncation_or_extension_is_refused(m in message(), cut in any::<prop::sample::Index>(), extra in 1usize..8) {
            let p = Packet { header: Header { cluster_id: 7, sender: NodeId::new(1).unwrap(), ring_id: RingId::ZERO }, message: m };
            let bytes = encode(&p);
            let n = cut.index(bytes.len());
            prop_assert!(decode(&bytes[..n]).is_err());
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            prop_assert!(decode(&longer).is_err());
        }
    }

    #[test]
    fn heartbeat_with_a_link_number_past_7_is_refused() {
        let h = Header { cluster_id: 1, sender: NodeId::new(2).unwrap(), ring_id: RingId::ZERO };
        let hb = Heartbeat { link: LinkId::ZERO, seq: 1, stamp: 2, incarnation: 3, rows: Vec::new() };
        let mut dg = encode(&Packet { header: h, message: Message::Ping(hb) });
        dg[HEADER_LEN] = 8;
        assert_eq!(decode(&dg), Err(DecodeError::BadValue { what: "link number", value: 8 }));
    }

    #[test]
    fn header_layout_is_fixed_and_big_endian() {
        let h = Header {
            cluster_id: 0x0102_0304,
            sender: NodeId::new(5).unwrap(),
            ring_id: RingId { rep: 5, seq: 0x11 },
        };
        let b = encode_header(&h, MsgType::Join, 9);
        assert_eq!(&b[..4], &[0x51, 0x44, 1, 3]);
        assert_eq!(&b[4..8], &[1, 2, 3, 4]);
        assert_eq!(&b[8..12], &[0, 0, 0, 5]);
        assert_eq!(&b[16..24], &[0, 0, 0, 0, 0, 0, 0, 0x11]);
        assert_eq!(&b[24..28], &[0, 0, 0, 9]);
    }

    #[test]
    fn oversized_counts_are_refused_before_allocation() {
        let h = Header { cluster_id: 1, sender: NodeId::new(1).unwrap(), ring_id: RingId::ZERO };
        // A join claiming 65535 proc entries with no bytes behind them.
        let mut body = [0u8; 24].to_vec();
        body.extend_from_slice(&u16::MAX.to_be_bytes());
        let mut dg = encode_header(&h, MsgType::Join, body.len()).to_vec();
        dg.extend_from_slice(&body);
        assert!(matches!(decode(&dg), Err(DecodeError::TooLong { what: "proc list", .. })));
    }

    #[test]
    fn node_zero_and_unsorted_lists_are_refused() {
        let h = Header { cluster_id: 1, sender: NodeId::new(1).unwrap(), ring_id: RingId::ZERO };
        let mut body = [0u8; 24].to_vec();
        body.extend_from_slice(&2u16.to_be_bytes());
        body.extend_from_slice(&3u32.to_be_bytes());
        body.extend_from_slice(&2u32.to_be_bytes());
        body.extend_from_slice(&0u16.to_be_bytes());
        let mut dg = encode_header(&h, MsgType::Join, body.len()).to_vec();
        dg.extend_from_slice(&body);
        assert_eq!(decode(&dg), Err(DecodeError::Unsorted("proc list")));
        dg[8..12].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(decode(&dg), Err(DecodeError::BadNodeId(0)));
    }
}
