//! The local client IPC protocol between `quorumd` and its clients (the Rust client, the
//! C library `libquorum.so.5`, `quorumtool`), over a Unix stream socket.
//!
//! ```text
//! frame (big-endian):
//!   0  len      u32  bytes that follow this field (4 + body), at most FRAME_MAX - 4
//!   4  version  u8   IPC_VERSION
//!   5  kind     u8   0 request, 1 response, 2 event
//!   6  msg_id   u16  see the enums below
//!   8  body
//! ```
//!
//! Deviation from corosync: corosync speaks libqb IPC (shared-memory rings, host order,
//! `@quorum` abstract socket). Our library talks to our daemon only, so the transport is our
//! own: one stream socket per connection, explicit big-endian frames, a version byte, and a
//! frame bound checked before anything is allocated. The request and notification *meanings*
//! are corosync's (corosync-behaviour §1.6).

use crate::limits::NODES_MAX;

/// The IPC protocol version spoken here.
pub const IPC_VERSION: u8 = 1;
/// Largest frame, length field included.
pub const FRAME_MAX: usize = 64 * 1024;
/// Bytes before the body.
pub const FRAME_HEADER_LEN: usize = 8;

/// corosync's `cs_error_t` values used on the wire (corosync-behaviour §1.1).
pub mod cs {
    /// Success.
    pub const OK: u32 = 1;
    /// Library / connection error.
    pub const ERR_LIBRARY: u32 = 2;
    /// Try again later (e.g. before the first membership).
    pub const ERR_TRY_AGAIN: u32 = 6;
    /// Invalid parameter.
    pub const ERR_INVALID_PARAM: u32 = 7;
    /// Permission denied.
    pub const ERR_ACCESS: u32 = 11;
    /// Does not exist.
    pub const ERR_NOT_EXIST: u32 = 12;
    /// Already exists (second trackstart).
    pub const ERR_EXIST: u32 = 14;
    /// Not supported.
    pub const ERR_NOT_SUPPORTED: u32 = 19;
    /// Malformed message.
    pub const ERR_MESSAGE_ERROR: u32 = 22;
}

/// A ring id as the client API carries it (`struct quorum_ring_id`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireRingId {
    /// The ring's representative.
    pub nodeid: u32,
    /// The ring sequence number.
    pub seq: u64,
}

/// Client → daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Open the session with a model (0 = V0, 1 = V1); answered with the quorum type.
    Init {
        /// `quorum_model_t`.
        model: u32,
    },
    /// `quorum_getquorate`.
    GetQuorate,
    /// `quorum_trackstart(flags)`.
    TrackStart {
        /// `CS_TRACK_*` bits.
        flags: u32,
    },
    /// `quorum_trackstop`.
    TrackStop,
    /// The full status (for quorumtool): answered with [`Response::Status`].
    Status,
    /// `corosync-quorumtool -e`: set expected votes cluster-wide.
    SetExpected {
        /// The new expected votes.
        expected: u32,
    },
    /// `corosync-quorumtool -v`: set a node's votes.
    SetVotes {
        /// The node.
        nodeid: u32,
        /// Its new votes.
        votes: u32,
    },
    /// Cancel wait_for_all on every node (corosync: `quorum.cancel_wait_for_all`).
    CancelWaitForAll,
    /// Reload this daemon's configuration file (corosync-cfgtool -R); root only. Answered
    /// with [`Response::Reloaded`].
    Reload,
}

/// Daemon → client, answering the one outstanding request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// To `Init`: result and `QUORUM_SET`/`QUORUM_FREE`.
    Init {
        /// `cs_error_t`.
        error: u32,
        /// 1 with a provider, 0 without.
        quorum_type: u32,
    },
    /// To `GetQuorate`.
    GetQuorate {
        /// `cs_error_t`.
        error: u32,
        /// 1 or 0.
        quorate: u32,
    },
    /// To `TrackStart`, `TrackStop`, `SetExpected`, `SetVotes`, `CancelWaitForAll`.
    Result {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `Reload`: what changed, or why nothing did (with the file and line).
    Reloaded {
        /// `cs_error_t`: OK when the new configuration is in force.
        error: u32,
        /// One line of text.
        text: String,
    },
    /// To `Status`: a UTF-8 JSON document (the tool renders it).
    Status {
        /// `cs_error_t`.
        error: u32,
        /// JSON text.
        json: String,
    },
}

/// Daemon → client, unsolicited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// A quorum notification (V0 connections use `quorate`, `ring_id.seq` and `members`).
    Quorum {
        /// 1 or 0.
        quorate: u32,
        /// Ring of the membership the view belongs to.
        ring_id: WireRingId,
        /// The view list, sorted.
        members: Vec<u32>,
    },
    /// A V1 nodelist notification.
    Nodelist {
        /// The ring.
        ring_id: WireRingId,
        /// Members, sorted.
        members: Vec<u32>,
        /// Joined since the last completed sync.
        joined: Vec<u32>,
        /// Left since the last completed sync.
        left: Vec<u32>,
    },
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
    /// An event.
    Notification(Notification),
}

/// A frame that does not decode. Nothing was consumed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IpcError {
    /// Fewer bytes than the frame needs.
    #[error("truncated frame")]
    Truncated,
    /// A length beyond [`FRAME_MAX`].
    #[error("frame of {0} bytes exceeds the maximum")]
    TooBig(usize),
    /// Unknown version.
    #[error("unsupported IPC version {0}")]
    BadVersion(u8),
    /// Unknown kind or message id.
    #[error("unknown message kind {kind} id {id}")]
    Unknown {
        /// Kind byte.
        kind: u8,
        /// Message id.
        id: u16,
    },
    /// A list longer than [`NODES_MAX`].
    #[error("node list of {0} entries exceeds the maximum")]
    ListTooLong(usize),
    /// Bytes left after the body.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// Text that is not UTF-8.
    #[error("status text is not UTF-8")]
    BadText,
}

struct W(Vec<u8>);
impl W {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn ring(&mut self, r: WireRingId) {
        self.u32(r.nodeid);
        self.u64(r.seq);
    }
    fn list(&mut self, l: &[u32]) {
        let n = l.len().min(NODES_MAX);
        self.u32(n as u32);
        for v in &l[..n] {
            self.u32(*v);
        }
    }
}

/// Encodes a frame, length prefix included. Lists are cut at [`NODES_MAX`] and status text
/// at what fits, so the result always decodes.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let mut w = W(vec![0, 0, 0, 0, IPC_VERSION]);
    let (kind, id): (u8, u16) = match frame {
        Frame::Request(r) => (
            0,
            match r {
                Request::Init { .. } => 1,
                Request::GetQuorate => 2,
                Request::TrackStart { .. } => 3,
                Request::TrackStop => 4,
                Request::Status => 5,
                Request::SetExpected { .. } => 6,
                Request::SetVotes { .. } => 7,
                Request::CancelWaitForAll => 8,
                Request::Reload => 9,
            },
        ),
        Frame::Response(r) => (
            1,
            match r {
                Response::Init { .. } => 1,
                Response::GetQuorate { .. } => 2,
                Response::Result { .. } => 3,
                Response::Status { .. } => 5,
                Response::Reloaded { .. } => 6,
            },
        ),
        Frame::Notification(n) => (
            2,
            match n {
                Notification::Quorum { .. } => 1,
                Notification::Nodelist { .. } => 2,
            },
        ),
    };
    w.0.push(kind);
    w.0.extend_from_slice(&id.to_be_bytes());
    match frame {
        Frame::Request(Request::Init { model }) => w.u32(*model),
        Frame::Request(Request::TrackStart { flags }) => w.u32(*flags),
        Frame::Request(Request::SetExpected { expected }) => w.u32(*expected),
        Frame::Request(Request::SetVotes { nodeid, votes }) => {
            w.u32(*nodeid);
            w.u32(*votes);
        }
        Frame::Request(_) => {}
        Frame::Response(Response::Init { error, quorum_type }) => {
            w.u32(*error);
            w.u32(*quorum_type);
        }
        Frame::Response(Response::GetQuorate { error, quorate }) => {
            w.u32(*error);
            w.u32(*quorate);
        }
        Frame::Response(Response::Result { error }) => w.u32(*error),
        Frame::Response(Response::Status { error, json: text } | Response::Reloaded { error, text }) => {
            let json = text;
            w.u32(*error);
            let mut end = json.len().min(FRAME_MAX - FRAME_HEADER_LEN - 8);
            while !json.is_char_boundary(end) {
                end -= 1;
            }
            w.u32(end as u32);
            w.0.extend_from_slice(&json.as_bytes()[..end]);
        }
        Frame::Notification(Notification::Quorum { quorate, ring_id, members }) => {
            w.u32(*quorate);
            w.ring(*ring_id);
            w.list(members);
        }
        Frame::Notification(Notification::Nodelist { ring_id, members, joined, left }) => {
            w.ring(*ring_id);
            w.list(members);
            w.list(joined);
            w.list(left);
        }
    }
    let len = (w.0.len() - 4) as u32;
    w.0[..4].copy_from_slice(&len.to_be_bytes());
    w.0
}

/// How many bytes the frame starting at `buf` occupies, once its length prefix is there.
/// `Ok(None)`: not enough bytes yet. An error: the stream is unusable (bad length).
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, IpcError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let total = len.saturating_add(4);
    if total > FRAME_MAX {
        return Err(IpcError::TooBig(total));
    }
    if len < FRAME_HEADER_LEN - 4 {
        return Err(IpcError::Truncated);
    }
    Ok((buf.len() >= total).then_some(total))
}

struct R<'a> {
    b: &'a [u8],
    p: usize,
}
impl R<'_> {
    fn u32(&mut self) -> Result<u32, IpcError> {
        let s = self.b.get(self.p..self.p + 4).ok_or(IpcError::Truncated)?;
        self.p += 4;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, IpcError> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn ring(&mut self) -> Result<WireRingId, IpcError> {
        Ok(WireRingId { nodeid: self.u32()?, seq: self.u64()? })
    }
    fn list(&mut self) -> Result<Vec<u32>, IpcError> {
        let n = self.u32()? as usize;
        if n > NODES_MAX {
            return Err(IpcError::ListTooLong(n));
        }
        if self.b.len() - self.p < n * 4 {
            return Err(IpcError::Truncated);
        }
        (0..n).map(|_| self.u32()).collect()
    }
}

/// Decodes exactly one whole frame (as delimited by [`frame_len`]).
pub fn decode(buf: &[u8]) -> Result<Frame, IpcError> {
    let total = frame_len(buf)?.ok_or(IpcError::Truncated)?;
    if total != buf.len() {
        return Err(IpcError::Trailing(buf.len() - total));
    }
    if buf[4] != IPC_VERSION {
        return Err(IpcError::BadVersion(buf[4]));
    }
    let (kind, id) = (buf[5], u16::from_be_bytes([buf[6], buf[7]]));
    let mut r = R { b: buf, p: FRAME_HEADER_LEN };
    let frame = match (kind, id) {
        (0, 1) => Frame::Request(Request::Init { model: r.u32()? }),
        (0, 2) => Frame::Request(Request::GetQuorate),
        (0, 3) => Frame::Request(Request::TrackStart { flags: r.u32()? }),
        (0, 4) => Frame::Request(Request::TrackStop),
        (0, 5) => Frame::Request(Request::Status),
        (0, 6) => Frame::Request(Request::SetExpected { expected: r.u32()? }),
        (0, 7) => Frame::Request(Request::SetVotes { nodeid: r.u32()?, votes: r.u32()? }),
        (0, 8) => Frame::Request(Request::CancelWaitForAll),
        (0, 9) => Frame::Request(Request::Reload),
        (1, 1) => Frame::Response(Response::Init { error: r.u32()?, quorum_type: r.u32()? }),
        (1, 2) => Frame::Response(Response::GetQuorate { error: r.u32()?, quorate: r.u32()? }),
        (1, 3) => Frame::Response(Response::Result { error: r.u32()? }),
        (1, 5) => {
            let error = r.u32()?;
            let n = r.u32()? as usize;
            let bytes = buf.get(r.p..r.p.saturating_add(n)).ok_or(IpcError::Truncated)?;
            r.p += n;
            let json = String::from_utf8(bytes.to_vec()).map_err(|_| IpcError::BadText)?;
            Frame::Response(Response::Status { error, json })
        }
        (1, 6) => {
            let error = r.u32()?;
            let n = r.u32()? as usize;
            let bytes = buf.get(r.p..r.p.saturating_add(n)).ok_or(IpcError::Truncated)?;
            r.p += n;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| IpcError::BadText)?;
            Frame::Response(Response::Reloaded { error, text })
        }
        (2, 1) => Frame::Notification(Notification::Quorum {
            quorate: r.u32()?,
            ring_id: r.ring()?,
            members: r.list()?,
        }),
        (2, 2) => Frame::Notification(Notification::Nodelist {
            ring_id: r.ring()?,
            members: r.list()?,
            joined: r.list()?,
            left: r.list()?,
        }),
        (kind, id) => return Err(IpcError::Unknown { kind, id }),
    };
    if r.p != buf.len() {
        return Err(IpcError::Trailing(buf.len() - r.p));
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list() -> impl Strategy<Value = Vec<u32>> {
        proptest::collection::vec(any::<u32>(), 0..50)
    }
    fn ring() -> impl Strategy<Value = WireRingId> {
        (any::<u32>(), any::<u64>()).prop_map(|(nodeid, seq)| WireRingId { nodeid, seq })
    }
    fn frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            any::<u32>().prop_map(|model| Frame::Request(Request::Init { model })),
            Just(Frame::Request(Request::GetQuorate)),
            any::<u32>().prop_map(|flags| Frame::Request(Request::TrackStart { flags })),
            Just(Frame::Request(Request::TrackStop)),
            Just(Frame::Request(Request::Status)),
            any::<u32>().prop_map(|expected| Frame::Request(Request::SetExpected { expected })),
            any::<(u32, u32)>()
                .prop_map(|(nodeid, votes)| Frame::Request(Request::SetVotes { nodeid, votes })),
            Just(Frame::Request(Request::CancelWaitForAll)),
            Just(Frame::Request(Request::Reload)),
            (any::<u32>(), ".{0,100}")
                .prop_map(|(error, text)| Frame::Response(Response::Reloaded { error, text })),
            any::<(u32, u32)>()
                .prop_map(|(error, quorum_type)| Frame::Response(Response::Init { error, quorum_type })),
            any::<(u32, u32)>()
                .prop_map(|(error, quorate)| Frame::Response(Response::GetQuorate { error, quorate })),
            any::<u32>().prop_map(|error| Frame::Response(Response::Result { error })),
            (any::<u32>(), ".{0,100}")
                .prop_map(|(error, json)| Frame::Response(Response::Status { error, json })),
            (any::<u32>(), ring(), list()).prop_map(|(quorate, ring_id, members)| Frame::Notification(
                Notification::Quorum { quorate, ring_id, members }
            )),
            (ring(), list(), list(), list()).prop_map(
                |(ring_id, members, joined, left)| Frame::Notification(Notification::Nodelist {
                    ring_id,
                    members,
                    joined,
                    left
                })
            ),
        ]
    }

    proptest! {
        #[test]
        fn frames_round_trip(f in frame()) {
            let bytes = encode(&f);
            prop_assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
            prop_assert_eq!(decode(&bytes), Ok(f));
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = frame_len(&bytes);
            if let Ok(f) = decode(&bytes) {
                prop_assert_eq!(encode(&f), bytes);
            }
        }
    }

    #[test]
    fn oversized_frames_are_refused_from_the_length_alone() {
        assert_eq!(frame_len(&[0xff, 0xff, 0xff, 0xff]), Err(IpcError::TooBig(0xffff_ffff + 4)));
        assert_eq!(frame_len(&[0, 0, 0]), Ok(None));
        assert_eq!(frame_len(&[0, 0, 0, 1]), Err(IpcError::Truncated));
    }

    #[test]
    fn list_lengths_are_checked_before_allocation() {
        let mut f = encode(&Frame::Notification(Notification::Quorum {
            quorate: 1,
            ring_id: WireRingId::default(),
            members: vec![],
        }));
        let n = f.len();
        f[n - 4..].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(decode(&f), Err(IpcError::ListTooLong(100_000)));
    }
}
