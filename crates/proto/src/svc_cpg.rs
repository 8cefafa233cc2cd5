//! The CPG service's IPC vocabulary (service 4 of [`crate::svc`]): closed process groups,
//! built and read with the one bounded codec of [`crate::svc`].
//!
//! # Sessions
//! One connection is one CPG handle (`cpg_initialize` / `cpg_model_initialize`). As in
//! corosync, a handle joins at most one group at a time: `Join` names it, `Mcast` goes to it,
//! `Leave` leaves it. Every request is answered by exactly one response carrying the
//! `cs_error_t`, with the request's message id; events (deliveries and configuration
//! changes) go to the session's event socket, one frame per packet, in the order the daemon
//! decided them.
//!
//! # Large messages (chunking)
//! A frame is at most [`FRAME_MAX`] (64 KiB) long; a CPG message may be up to [`MSG_MAX`]
//! (16 MiB). A message whose payload is longer than [`CHUNK_MAX`] travels as several frames:
//!
//! - **Mcast (client → daemon).** The first frame is [`CpgRequest::Mcast`] with the whole
//!   message's length in `total_len` and the first `chunk` (exactly [`CHUNK_MAX`] bytes when
//!   more follow). Then [`CpgRequest::McastMore`] frames follow, each with the next chunk (at
//!   most [`CHUNK_MAX`] bytes, exactly [`CHUNK_MAX`] unless it is the last), until the chunks
//!   add up to `total_len`. Nothing else may be sent on the connection in between. The daemon
//!   answers **once per message**, with [`CpgResponse::Mcast`] after the frame that completes
//!   it (message id [`ID_MCAST`], also when that frame is a `McastMore`). A message that fits
//!   is one `Mcast` frame with `total_len == chunk.len()`.
//!   The daemon checks `total_len` up front: a first frame with `total_len > MSG_MAX` is
//!   answered at once with [`cs::ERR_TOO_BIG`] and nothing is kept, so a client checks the
//!   bound itself and never sends the rest of such a message. A `McastMore` with no message
//!   open, a chunk that overshoots `total_len`, a non-final chunk shorter than
//!   [`CHUNK_MAX`], or any other request while a message is open is a protocol error: the
//!   daemon closes the connection.
//!   `CS_ERR_TRY_AGAIN` (the ordered-message queue is full) refers to the whole message: the
//!   client sends all of it again later.
//! - **Deliver (daemon → client).** The first event frame is [`CpgEvent::Deliver`] with
//!   `total_len` and the first chunk; [`CpgEvent::DeliverMore`] frames follow with the next
//!   chunks until they add up to `total_len`. The daemon never interleaves another event of
//!   the session between the frames of one delivery. [`Reassembly`] implements the reader's
//!   side for both directions.
//!
//! # Bounds
//! Group names are bytes (not necessarily text, not NUL-terminated), 1 to
//! [`CPG_MAX_NAME_LENGTH`] long (corosync's `struct cpg_name`). Each list of a configuration
//! change and a membership answer holds at most [`CPG_MEMBERS_MAX`] entries (the library's
//! arrays are that long); an iteration answer at most [`ITERATION_MAX`] entries; a totem
//! configuration change at most [`NODES_MAX`] node ids.
//!
//! Deviation from corosync: corosync has no bound on a message but memory; we refuse a
//! message above [`MSG_MAX`] with `CS_ERR_TOO_BIG` (see docs/cpg.md).

use crate::ipc::{IpcError, WireRingId, FRAME_MAX};
use crate::limits::NODES_MAX;
use crate::svc::{Dir, Reader, Service, Writer, INIT_ID};

/// `CPG_MAX_NAME_LENGTH`: bytes of a group name.
pub const CPG_MAX_NAME_LENGTH: usize = 128;
/// `CPG_MEMBERS_MAX`: entries of each list of a confchg, and of a membership answer.
pub const CPG_MEMBERS_MAX: usize = 128;
/// Largest message payload (16 MiB). Deviation from corosync: corosync has no bound.
pub const MSG_MAX: usize = 16 * 1024 * 1024;
/// Largest payload chunk of one `Mcast`/`McastMore`/`Deliver`/`DeliverMore` frame: what is
/// left of [`FRAME_MAX`] after the largest header (frame header, group name, ids, lengths).
pub const CHUNK_MAX: usize = FRAME_MAX - 512;
/// Most entries of one iteration answer (they fit one frame with the longest names).
/// Deviation from corosync: corosync pages an iteration without a bound.
pub const ITERATION_MAX: usize = 400;

/// `CPG_MODEL_V1`, the only model.
pub const CPG_MODEL_V1: u32 = 1;
/// `CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`: send a totem confchg right after the first
/// group confchg of the session.
pub const CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF: u32 = 0x01;

/// `cpg_guarantee_t`.
pub mod guarantee {
    /// `CPG_TYPE_UNORDERED` (corosync: not implemented, treated as agreed).
    pub const UNORDERED: u32 = 0;
    /// `CPG_TYPE_FIFO` (same as agreed).
    pub const FIFO: u32 = 1;
    /// `CPG_TYPE_AGREED`.
    pub const AGREED: u32 = 2;
    /// `CPG_TYPE_SAFE` (corosync: not implemented, treated as agreed).
    pub const SAFE: u32 = 3;
}

/// `cpg_flow_control_state_t`.
pub mod flow_control {
    /// `CPG_FLOW_CONTROL_DISABLED`: new messages may be sent.
    pub const DISABLED: u32 = 0;
    /// `CPG_FLOW_CONTROL_ENABLED`: new messages should not be sent now.
    pub const ENABLED: u32 = 1;
}

/// `cpg_reason_t`.
pub mod reason {
    /// `CPG_REASON_UNDEFINED` (member list entries).
    pub const UNDEFINED: u32 = 0;
    /// `CPG_REASON_JOIN`.
    pub const JOIN: u32 = 1;
    /// `CPG_REASON_LEAVE`.
    pub const LEAVE: u32 = 2;
    /// `CPG_REASON_NODEDOWN`.
    pub const NODEDOWN: u32 = 3;
    /// `CPG_REASON_NODEUP`.
    pub const NODEUP: u32 = 4;
    /// `CPG_REASON_PROCDOWN`.
    pub const PROCDOWN: u32 = 5;
}

/// `cpg_iteration_type_t`.
pub mod iteration {
    /// `CPG_ITERATION_NAME_ONLY`: one entry per group (nodeid and pid 0).
    pub const NAME_ONLY: u32 = 1;
    /// `CPG_ITERATION_ONE_GROUP`: the processes of one group.
    pub const ONE_GROUP: u32 = 2;
    /// `CPG_ITERATION_ALL`: every process of every group.
    pub const ALL: u32 = 3;
}

/// The `cs_error_t` values CPG answers with (`<corosync/corotypes.h>`).
pub mod cs {
    pub use crate::ipc::cs::*;
    /// `CS_ERR_BAD_HANDLE`.
    pub const ERR_BAD_HANDLE: u32 = 9;
    /// `CS_ERR_BUSY`: a join or leave of this handle is still on its way through the ring.
    pub const ERR_BUSY: u32 = 10;
    /// `CS_ERR_NAME_TOO_LONG`.
    pub const ERR_NAME_TOO_LONG: u32 = 13;
    /// `CS_ERR_INTERRUPT`.
    pub const ERR_INTERRUPT: u32 = 16;
    /// `CS_ERR_TOO_BIG`: a message above [`super::MSG_MAX`].
    pub const ERR_TOO_BIG: u32 = 26;
}

/// Message ids of requests; a response has its request's id.
pub const ID_JOIN: u16 = 2;
/// `Leave`.
pub const ID_LEAVE: u16 = 3;
/// `Mcast` (and the response completing a chunked message).
pub const ID_MCAST: u16 = 4;
/// `McastMore` (never answered on its own).
pub const ID_MCAST_MORE: u16 = 5;
/// `LocalGet`.
pub const ID_LOCAL_GET: u16 = 6;
/// `MembershipGet`.
pub const ID_MEMBERSHIP_GET: u16 = 7;
/// `Iterate`.
pub const ID_ITERATE: u16 = 8;
/// `FlowControlStateGet`.
pub const ID_FLOW_CONTROL_GET: u16 = 9;
/// `Finalize`.
pub const ID_FINALIZE: u16 = 10;

/// Event ids.
pub const EV_DELIVER: u16 = 1;
/// `DeliverMore`.
pub const EV_DELIVER_MORE: u16 = 2;
/// `ConfChg`.
pub const EV_CONFCHG: u16 = 3;
/// `TotemConfChg`.
pub const EV_TOTEM_CONFCHG: u16 = 4;

/// `struct cpg_address`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CpgAddress {
    /// Node of the process.
    pub nodeid: u32,
    /// Its pid.
    pub pid: u32,
    /// A [`reason`] (`UNDEFINED` in member lists).
    pub reason: u32,
}

/// `struct cpg_iteration_description_t`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IterEntry {
    /// The group.
    pub group: Vec<u8>,
    /// Node (0 for `NAME_ONLY`).
    pub nodeid: u32,
    /// Pid (0 for `NAME_ONLY`).
    pub pid: u32,
}

/// Client → daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgRequest {
    /// Open the session (`cpg_model_initialize`; `cpg_initialize` is model V1, flags 0).
    Init {
        /// `cpg_model_t`.
        model: u32,
        /// `CPG_MODEL_V1_*` flags.
        flags: u32,
    },
    /// `cpg_join`.
    Join {
        /// The group name (1..=128 bytes).
        group: Vec<u8>,
        /// The joining process.
        pid: u32,
    },
    /// `cpg_leave`.
    Leave {
        /// The group name.
        group: Vec<u8>,
        /// The leaving process.
        pid: u32,
    },
    /// `cpg_mcast_joined`: a whole message or the first chunk of one.
    Mcast {
        /// [`guarantee`].
        guarantee: u32,
        /// Length of the whole message.
        total_len: u32,
        /// Its first bytes (all of them when `chunk.len() == total_len`).
        chunk: Vec<u8>,
    },
    /// The next chunk of the open `Mcast`.
    McastMore {
        /// The bytes.
        chunk: Vec<u8>,
    },
    /// `cpg_local_get`.
    LocalGet,
    /// `cpg_membership_get`.
    MembershipGet {
        /// The group.
        group: Vec<u8>,
    },
    /// `cpg_iteration_initialize`: the whole (bounded) list at once; the library iterates.
    Iterate {
        /// [`iteration`] type.
        kind: u32,
        /// The group (`ONE_GROUP` only; empty otherwise).
        group: Vec<u8>,
    },
    /// `cpg_flow_control_state_get`.
    FlowControlStateGet,
    /// `cpg_finalize`.
    Finalize,
}

/// Daemon → client, answering the one outstanding request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgResponse {
    /// To `Init`.
    Init {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `Join`.
    Join {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `Leave`.
    Leave {
        /// `cs_error_t`.
        error: u32,
    },
    /// To a whole `Mcast` message (after its last chunk).
    Mcast {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `LocalGet`.
    LocalGet {
        /// `cs_error_t`.
        error: u32,
        /// This node's id.
        nodeid: u32,
    },
    /// To `MembershipGet`: the group's processes (reason `UNDEFINED`).
    Membership {
        /// `cs_error_t`.
        error: u32,
        /// At most [`CPG_MEMBERS_MAX`].
        members: Vec<CpgAddress>,
    },
    /// To `Iterate`.
    Iterate {
        /// `cs_error_t`.
        error: u32,
        /// At most [`ITERATION_MAX`].
        entries: Vec<IterEntry>,
    },
    /// To `FlowControlStateGet`.
    FlowControl {
        /// `cs_error_t`.
        error: u32,
        /// [`flow_control`] state.
        state: u32,
    },
    /// To `Finalize`.
    Finalize {
        /// `cs_error_t`.
        error: u32,
    },
}

/// Daemon → client, on the event socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgEvent {
    /// A message (whole, or its first chunk).
    Deliver {
        /// The group.
        group: Vec<u8>,
        /// Sender's node.
        nodeid: u32,
        /// Sender's pid.
        pid: u32,
        /// Length of the whole message.
        total_len: u32,
        /// Its first bytes.
        chunk: Vec<u8>,
    },
    /// The next chunk of the delivery in progress.
    DeliverMore {
        /// The bytes.
        chunk: Vec<u8>,
    },
    /// A configuration change of the joined group.
    ConfChg {
        /// The group.
        group: Vec<u8>,
        /// The members after the change (reason `UNDEFINED`).
        members: Vec<CpgAddress>,
        /// Who left, with the reason.
        left: Vec<CpgAddress>,
        /// Who joined, with the reason.
        joined: Vec<CpgAddress>,
    },
    /// The totem membership (`cpg_totem_confchg_fn_t`).
    TotemConfChg {
        /// The ring id (the quorum service's).
        ring_id: WireRingId,
        /// The ring's members.
        members: Vec<u32>,
    },
}

fn group_ok(r: &mut Reader<'_>) -> Result<Vec<u8>, IpcError> {
    Ok(r.bytes(CPG_MAX_NAME_LENGTH)?.to_vec())
}

fn chunk_ok(r: &mut Reader<'_>) -> Result<Vec<u8>, IpcError> {
    Ok(r.bytes(CHUNK_MAX)?.to_vec())
}

fn addrs(w: &mut Writer, l: &[CpgAddress]) {
    let n = l.len().min(CPG_MEMBERS_MAX);
    w.u32(n as u32);
    for a in &l[..n] {
        w.u32(a.nodeid).u32(a.pid).u32(a.reason);
    }
}

fn read_addrs(r: &mut Reader<'_>) -> Result<Vec<CpgAddress>, IpcError> {
    let n = r.u32()? as usize;
    if n > CPG_MEMBERS_MAX {
        return Err(IpcError::ListTooLong(n));
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(CpgAddress { nodeid: r.u32()?, pid: r.u32()?, reason: r.u32()? });
    }
    Ok(v)
}

fn check(frame: &[u8], want: Dir) -> Result<(Reader<'_>, u16), IpcError> {
    let (r, service, dir, id) = Reader::open(frame)?;
    if (service, dir) != (Service::Cpg, want) {
        return Err(IpcError::Unknown { kind: frame[5], id });
    }
    Ok((r, id))
}

impl CpgRequest {
    /// The message id of this request (and of its response).
    pub fn id(&self) -> u16 {
        match self {
            CpgRequest::Init { .. } => INIT_ID,
            CpgRequest::Join { .. } => ID_JOIN,
            CpgRequest::Leave { .. } => ID_LEAVE,
            CpgRequest::Mcast { .. } => ID_MCAST,
            CpgRequest::McastMore { .. } => ID_MCAST_MORE,
            CpgRequest::LocalGet => ID_LOCAL_GET,
            CpgRequest::MembershipGet { .. } => ID_MEMBERSHIP_GET,
            CpgRequest::Iterate { .. } => ID_ITERATE,
            CpgRequest::FlowControlStateGet => ID_FLOW_CONTROL_GET,
            CpgRequest::Finalize => ID_FINALIZE,
        }
    }

    /// The frame; `Err(TooBig)` for a group name or chunk beyond its bound.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let mut w = Writer::new(Service::Cpg, Dir::Request, self.id());
        match self {
            CpgRequest::Init { model, flags } => w.u32(*model).u32(*flags),
            CpgRequest::Join { group, pid } | CpgRequest::Leave { group, pid } => {
                bound(group.len(), CPG_MAX_NAME_LENGTH)?;
                w.bytes(group).u32(*pid)
            }
            CpgRequest::Mcast { guarantee, total_len, chunk } => {
                bound(chunk.len(), CHUNK_MAX)?;
                w.u32(*guarantee).u32(*total_len).bytes(chunk)
            }
            CpgRequest::McastMore { chunk } => {
                bound(chunk.len(), CHUNK_MAX)?;
                w.bytes(chunk)
            }
            CpgRequest::MembershipGet { group } => {
                bound(group.len(), CPG_MAX_NAME_LENGTH)?;
                w.bytes(group)
            }
            CpgRequest::Iterate { kind, group } => {
                bound(group.len(), CPG_MAX_NAME_LENGTH)?;
                w.u32(*kind).bytes(group)
            }
            CpgRequest::LocalGet | CpgRequest::FlowControlStateGet | CpgRequest::Finalize => &mut w,
        };
        w.finish()
    }

    /// Reads a request frame.
    pub fn decode(frame: &[u8]) -> Result<CpgRequest, IpcError> {
        let (mut r, id) = check(frame, Dir::Request)?;
        let req = match id {
            INIT_ID => CpgRequest::Init { model: r.u32()?, flags: r.u32()? },
            ID_JOIN => CpgRequest::Join { group: group_ok(&mut r)?, pid: r.u32()? },
            ID_LEAVE => CpgRequest::Leave { group: group_ok(&mut r)?, pid: r.u32()? },
            ID_MCAST => {
                CpgRequest::Mcast { guarantee: r.u32()?, total_len: r.u32()?, chunk: chunk_ok(&mut r)? }
            }
            ID_MCAST_MORE => CpgRequest::McastMore { chunk: chunk_ok(&mut r)? },
            ID_LOCAL_GET => CpgRequest::LocalGet,
            ID_MEMBERSHIP_GET => CpgRequest::MembershipGet { group: group_ok(&mut r)? },
            ID_ITERATE => CpgRequest::Iterate { kind: r.u32()?, group: group_ok(&mut r)? },
            ID_FLOW_CONTROL_GET => CpgRequest::FlowControlStateGet,
            ID_FINALIZE => CpgRequest::Finalize,
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(req)
    }
}

fn bound(n: usize, max: usize) -> Result<(), IpcError> {
    if n > max {
        return Err(IpcError::TooBig(n));
    }
    Ok(())
}

impl CpgResponse {
    /// The message id (the request's).
    pub fn id(&self) -> u16 {
        match self {
            CpgResponse::Init { .. } => INIT_ID,
            CpgResponse::Join { .. } => ID_JOIN,
            CpgResponse::Leave { .. } => ID_LEAVE,
            CpgResponse::Mcast { .. } => ID_MCAST,
            CpgResponse::LocalGet { .. } => ID_LOCAL_GET,
            CpgResponse::Membership { .. } => ID_MEMBERSHIP_GET,
            CpgResponse::Iterate { .. } => ID_ITERATE,
            CpgResponse::FlowControl { .. } => ID_FLOW_CONTROL_GET,
            CpgResponse::Finalize { .. } => ID_FINALIZE,
        }
    }

    /// The `cs_error_t` it carries.
    pub fn error(&self) -> u32 {
        match self {
            CpgResponse::Init { error }
            | CpgResponse::Join { error }
            | CpgResponse::Leave { error }
            | CpgResponse::Mcast { error }
            | CpgResponse::LocalGet { error, .. }
            | CpgResponse::Membership { error, .. }
            | CpgResponse::Iterate { error, .. }
            | CpgResponse::FlowControl { error, .. }
            | CpgResponse::Finalize { error } => *error,
        }
    }

    /// The frame; lists are cut at their bound so it always decodes.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let mut w = Writer::new(Service::Cpg, Dir::Response, self.id());
        w.u32(self.error());
        match self {
            CpgResponse::LocalGet { nodeid, .. } => {
                w.u32(*nodeid);
            }
            CpgResponse::Membership { members, .. } => addrs(&mut w, members),
            CpgResponse::Iterate { entries, .. } => {
                let n = entries.len().min(ITERATION_MAX);
                w.u32(n as u32);
                for e in &entries[..n] {
                    bound(e.group.len(), CPG_MAX_NAME_LENGTH)?;
                    w.bytes(&e.group).u32(e.nodeid).u32(e.pid);
                }
            }
            CpgResponse::FlowControl { state, .. } => {
                w.u32(*state);
            }
            _ => {}
        }
        w.finish()
    }

    /// Reads a response frame.
    pub fn decode(frame: &[u8]) -> Result<CpgResponse, IpcError> {
        let (mut r, id) = check(frame, Dir::Response)?;
        let error = r.u32()?;
        let resp = match id {
            INIT_ID => CpgResponse::Init { error },
            ID_JOIN => CpgResponse::Join { error },
            ID_LEAVE => CpgResponse::Leave { error },
            ID_MCAST => CpgResponse::Mcast { error },
            ID_LOCAL_GET => CpgResponse::LocalGet { error, nodeid: r.u32()? },
            ID_MEMBERSHIP_GET => CpgResponse::Membership { error, members: read_addrs(&mut r)? },
            ID_ITERATE => {
                let n = r.u32()? as usize;
                if n > ITERATION_MAX {
                    return Err(IpcError::ListTooLong(n));
                }
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    entries.push(IterEntry { group: group_ok(&mut r)?, nodeid: r.u32()?, pid: r.u32()? });
                }
                CpgResponse::Iterate { error, entries }
            }
            ID_FLOW_CONTROL_GET => CpgResponse::FlowControl { error, state: r.u32()? },
            ID_FINALIZE => CpgResponse::Finalize { error },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(resp)
    }
}

impl CpgEvent {
    /// The frame; lists are cut at their bound so it always decodes; `Err(TooBig)` for a
    /// group name or chunk beyond its bound.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let id = match self {
            CpgEvent::Deliver { .. } => EV_DELIVER,
            CpgEvent::DeliverMore { .. } => EV_DELIVER_MORE,
            CpgEvent::ConfChg { .. } => EV_CONFCHG,
            CpgEvent::TotemConfChg { .. } => EV_TOTEM_CONFCHG,
        };
        let mut w = Writer::new(Service::Cpg, Dir::Event, id);
        match self {
            CpgEvent::Deliver { group, nodeid, pid, total_len, chunk } => {
                bound(group.len(), CPG_MAX_NAME_LENGTH)?;
                bound(chunk.len(), CHUNK_MAX)?;
                w.bytes(group).u32(*nodeid).u32(*pid).u32(*total_len).bytes(chunk);
            }
            CpgEvent::DeliverMore { chunk } => {
                bound(chunk.len(), CHUNK_MAX)?;
                w.bytes(chunk);
            }
            CpgEvent::ConfChg { group, members, left, joined } => {
                bound(group.len(), CPG_MAX_NAME_LENGTH)?;
                w.bytes(group);
                addrs(&mut w, members);
                addrs(&mut w, left);
                addrs(&mut w, joined);
            }
            CpgEvent::TotemConfChg { ring_id, members } => {
                let n = members.len().min(NODES_MAX);
                w.u32(ring_id.nodeid).u64(ring_id.seq).u32s(&members[..n]);
            }
        }
        w.finish()
    }

    /// Reads an event frame.
    pub fn decode(frame: &[u8]) -> Result<CpgEvent, IpcError> {
        let (mut r, id) = check(frame, Dir::Event)?;
        let ev = match id {
            EV_DELIVER => CpgEvent::Deliver {
                group: group_ok(&mut r)?,
                nodeid: r.u32()?,
                pid: r.u32()?,
                total_len: r.u32()?,
                chunk: chunk_ok(&mut r)?,
            },
            EV_DELIVER_MORE => CpgEvent::DeliverMore { chunk: chunk_ok(&mut r)? },
            EV_CONFCHG => CpgEvent::ConfChg {
                group: group_ok(&mut r)?,
                members: read_addrs(&mut r)?,
                left: read_addrs(&mut r)?,
                joined: read_addrs(&mut r)?,
            },
            EV_TOTEM_CONFCHG => CpgEvent::TotemConfChg {
                ring_id: WireRingId { nodeid: r.u32()?, seq: r.u64()? },
                members: r.u32s(NODES_MAX)?,
            },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(ev)
    }
}

/// The request frames of one multicast: one `Mcast`, then `McastMore` chunks of
/// [`CHUNK_MAX`]. `Err(TooBig)` above [`MSG_MAX`] (nothing to send: answer
/// `CS_ERR_TOO_BIG` locally).
pub fn mcast_frames(guarantee: u32, payload: &[u8]) -> Result<Vec<Vec<u8>>, IpcError> {
    bound(payload.len(), MSG_MAX)?;
    let mut chunks = payload.chunks(CHUNK_MAX);
    let first = chunks.next().unwrap_or(&[]);
    let mut out =
        vec![CpgRequest::Mcast { guarantee, total_len: payload.len() as u32, chunk: first.to_vec() }
            .encode()?];
    for c in chunks {
        out.push(CpgRequest::McastMore { chunk: c.to_vec() }.encode()?);
    }
    Ok(out)
}

/// The event frames of one delivery: one `Deliver`, then `DeliverMore` chunks of
/// [`CHUNK_MAX`]. `Err(TooBig)` for a group name or payload beyond its bound.
pub fn deliver_frames(group: &[u8], nodeid: u32, pid: u32, payload: &[u8]) -> Result<Vec<Vec<u8>>, IpcError> {
    bound(payload.len(), MSG_MAX)?;
    let mut chunks = payload.chunks(CHUNK_MAX);
    let first = chunks.next().unwrap_or(&[]);
    let mut out = vec![CpgEvent::Deliver {
        group: group.to_vec(),
        nodeid,
        pid,
        total_len: payload.len() as u32,
        chunk: first.to_vec(),
    }
    .encode()?];
    for c in chunks {
        out.push(CpgEvent::DeliverMore { chunk: c.to_vec() }.encode()?);
    }
    Ok(out)
}

/// Why a chunk sequence is refused (the stream is then unusable: close it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The declared total is above [`MSG_MAX`].
    #[error("message of {0} bytes exceeds the maximum")]
    TooBig(usize),
    /// A first chunk longer than the declared total, or a non-final first chunk shorter
    /// than [`CHUNK_MAX`].
    #[error("first chunk of {chunk} bytes does not fit a message of {total}")]
    BadFirst {
        /// Chunk bytes.
        chunk: usize,
        /// Declared total.
        total: usize,
    },
    /// A continuation with no message open.
    #[error("continuation chunk with no message open")]
    NotOpen,
    /// A continuation overshooting the total, or a non-final one shorter than [`CHUNK_MAX`].
    #[error("continuation of {chunk} bytes with {left} bytes left")]
    BadMore {
        /// Chunk bytes.
        chunk: usize,
        /// Bytes the message still needed.
        left: usize,
    },
    /// A new message started while one was open.
    #[error("new message while {left} bytes of the previous one are missing")]
    Interrupted {
        /// Bytes the previous message still needed.
        left: usize,
    },
}

/// Reassembles one chunked message at a time (the daemon's side of `Mcast`, the library's
/// side of `Deliver`). The total is checked against [`MSG_MAX`] before anything is
/// allocated; the buffer never grows past the declared total.
#[derive(Debug, Default)]
pub struct Reassembly {
    open: Option<(usize, Vec<u8>)>,
}

impl Reassembly {
    /// Whether a message is partly received.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// A first chunk. `Ok(Some(message))` when it is the whole message, `Ok(None)` when
    /// continuations must follow. On error nothing is kept.
    pub fn first(&mut self, total_len: u32, chunk: &[u8]) -> Result<Option<Vec<u8>>, ChunkError> {
        if let Some((total, buf)) = self.open.take() {
            return Err(ChunkError::Interrupted { left: total - buf.len() });
        }
        let total = total_len as usize;
        if total > MSG_MAX {
            return Err(ChunkError::TooBig(total));
        }
        if chunk.len() == total {
            return Ok(Some(chunk.to_vec()));
        }
        if chunk.len() > total || chunk.len() != CHUNK_MAX {
            return Err(ChunkError::BadFirst { chunk: chunk.len(), total });
        }
        let mut buf = Vec::with_capacity(total);
        buf.extend_from_slice(chunk);
        self.open = Some((total, buf));
        Ok(None)
    }

    /// A continuation chunk. `Ok(Some(message))` when it completes the message. On error the
    /// open message is dropped.
    pub fn more(&mut self, chunk: &[u8]) -> Result<Option<Vec<u8>>, ChunkError> {
        let (total, mut buf) = self.open.take().ok_or(ChunkError::NotOpen)?;
        let left = total - buf.len();
        if chunk.len() > left || (chunk.len() < left && chunk.len() != CHUNK_MAX) {
            return Err(ChunkError::BadMore { chunk: chunk.len(), left });
        }
        buf.extend_from_slice(chunk);
        if buf.len() == total {
            return Ok(Some(buf));
        }
        self.open = Some((total, buf));
        Ok(None)
    }

    /// Drops a partly received message.
    pub fn reset(&mut self) {
        self.open = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svc::{header, is_event, is_init_ok};

    fn a(nodeid: u32, pid: u32, reason: u32) -> CpgAddress {
        CpgAddress { nodeid, pid, reason }
    }

    #[test]
    fn requests_round_trip() {
        let reqs = [
            CpgRequest::Init { model: CPG_MODEL_V1, flags: CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF },
            CpgRequest::Join { group: b"pcmk".to_vec(), pid: 42 },
            CpgRequest::Leave { group: vec![0xff; CPG_MAX_NAME_LENGTH], pid: 42 },
            CpgRequest::Mcast { guarantee: guarantee::AGREED, total_len: 3, chunk: b"abc".to_vec() },
            CpgRequest::McastMore { chunk: vec![7; CHUNK_MAX] },
            CpgRequest::LocalGet,
            CpgRequest::MembershipGet { group: b"g".to_vec() },
            CpgRequest::Iterate { kind: iteration::ALL, group: vec![] },
            CpgRequest::FlowControlStateGet,
            CpgRequest::Finalize,
        ];
        for r in reqs {
            let f = r.encode().unwrap();
            assert!(f.len() <= FRAME_MAX);
            assert_eq!(header(&f).map(|h| h.0), Some(Service::Cpg));
            assert_eq!(CpgRequest::decode(&f).unwrap(), r);
        }
    }

    #[test]
    fn responses_round_trip() {
        let longest: Vec<IterEntry> = (0..ITERATION_MAX + 5)
            .map(|i| IterEntry { group: vec![b'x'; CPG_MAX_NAME_LENGTH], nodeid: i as u32, pid: 1 })
            .collect();
        let resps = [
            CpgResponse::Init { error: cs::OK },
            CpgResponse::Join { error: cs::ERR_EXIST },
            CpgResponse::Leave { error: cs::ERR_NOT_EXIST },
            CpgResponse::Mcast { error: cs::ERR_TRY_AGAIN },
            CpgResponse::LocalGet { error: cs::OK, nodeid: 3 },
            CpgResponse::Membership { error: cs::OK, members: vec![a(1, 10, 0), a(2, 20, 0)] },
            CpgResponse::FlowControl { error: cs::OK, state: flow_control::ENABLED },
            CpgResponse::Finalize { error: cs::OK },
        ];
        for r in resps {
            assert_eq!(CpgResponse::decode(&r.encode().unwrap()).unwrap(), r);
        }
        assert_eq!(is_init_ok(&CpgResponse::Init { error: cs::OK }.encode().unwrap()), Some(Service::Cpg));
        // The longest iteration answer fits one frame, cut at ITERATION_MAX.
        let f = CpgResponse::Iterate { error: cs::OK, entries: longest.clone() }.encode().unwrap();
        match CpgResponse::decode(&f).unwrap() {
            CpgResponse::Iterate { entries, .. } => assert_eq!(entries, longest[..ITERATION_MAX]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_round_trip_and_longest_lists_fit() {
        let full: Vec<CpgAddress> = (0..CPG_MEMBERS_MAX as u32).map(|i| a(i, i, reason::NODEDOWN)).collect();
        let evs = [
            CpgEvent::Deliver { group: b"g".to_vec(), nodeid: 1, pid: 2, total_len: 1, chunk: b"x".to_vec() },
            CpgEvent::Deliver {
                group: vec![b'n'; CPG_MAX_NAME_LENGTH],
                nodeid: 1,
                pid: 2,
                total_len: MSG_MAX as u32,
                chunk: vec![1; CHUNK_MAX],
            },
            CpgEvent::DeliverMore { chunk: vec![2; CHUNK_MAX] },
            CpgEvent::ConfChg {
                group: vec![b'n'; CPG_MAX_NAME_LENGTH],
                members: full.clone(),
                left: full.clone(),
                joined: full.clone(),
            },
            CpgEvent::TotemConfChg { ring_id: WireRingId { nodeid: 1, seq: 8 }, members: vec![1, 2, 3] },
        ];
        for e in evs {
            let f = e.encode().unwrap();
            assert!(is_event(&f));
            assert_eq!(CpgEvent::decode(&f).unwrap(), e);
        }
    }

    #[test]
    fn bounds_are_refused_on_both_sides() {
        let long = CpgRequest::Join { group: vec![b'a'; CPG_MAX_NAME_LENGTH + 1], pid: 1 };
        assert_eq!(long.encode(), Err(IpcError::TooBig(CPG_MAX_NAME_LENGTH + 1)));
        // A hand-made frame with a 129-byte name is refused by the decoder.
        let f = Writer::new(Service::Cpg, Dir::Request, ID_JOIN)
            .bytes(&[b'a'; CPG_MAX_NAME_LENGTH + 1])
            .u32(1)
            .finish()
            .unwrap();
        assert_eq!(CpgRequest::decode(&f), Err(IpcError::TooBig(CPG_MAX_NAME_LENGTH + 1)));
        let f = Writer::new(Service::Cpg, Dir::Event, EV_CONFCHG)
            .bytes(b"g")
            .u32(CPG_MEMBERS_MAX as u32 + 1)
            .finish()
            .unwrap();
        assert_eq!(CpgEvent::decode(&f), Err(IpcError::ListTooLong(CPG_MEMBERS_MAX + 1)));
        // Another service's frame is not a CPG frame.
        let vq = crate::svc_votequorum::VqRequest::Init.encode().unwrap();
        assert!(CpgRequest::decode(&vq).is_err());
        let mut trailing = CpgRequest::LocalGet.encode().unwrap();
        trailing.push(0);
        assert!(CpgRequest::decode(&trailing).is_err());
        assert_eq!(
            mcast_frames(guarantee::AGREED, &vec![0; MSG_MAX + 1]),
            Err(IpcError::TooBig(MSG_MAX + 1))
        );
    }

    #[test]
    fn chunked_mcast_reassembles_exactly() {
        for len in [0, 1, CHUNK_MAX - 1, CHUNK_MAX, CHUNK_MAX + 1, 3 * CHUNK_MAX, 1024 * 1024 + 17] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let frames = mcast_frames(guarantee::AGREED, &payload).unwrap();
            assert_eq!(frames.len(), len.div_ceil(CHUNK_MAX).max(1));
            let mut asm = Reassembly::default();
            let mut got = None;
            for (i, f) in frames.iter().enumerate() {
                assert!(got.is_none(), "complete before the last frame");
                assert!(f.len() <= FRAME_MAX);
                got = match CpgRequest::decode(f).unwrap() {
                    CpgRequest::Mcast { total_len, chunk, .. } => {
                        assert_eq!(i, 0);
                        asm.first(total_len, &chunk).unwrap()
                    }
                    CpgRequest::McastMore { chunk } => asm.more(&chunk).unwrap(),
                    other => panic!("{other:?}"),
                };
            }
            assert_eq!(got.as_deref(), Some(&payload[..]));
            assert!(!asm.is_open());
        }
    }

    #[test]
    fn chunked_deliver_reassembles_exactly() {
        let payload: Vec<u8> = (0..5 * CHUNK_MAX / 2).map(|i| i as u8).collect();
        let frames = deliver_frames(b"grp", 2, 99, &payload).unwrap();
        assert_eq!(frames.len(), 3);
        let mut asm = Reassembly::default();
        let mut got = None;
        for f in &frames {
            got = match CpgEvent::decode(f).unwrap() {
                CpgEvent::Deliver { group, nodeid, pid, total_len, chunk } => {
                    assert_eq!((group.as_slice(), nodeid, pid), (&b"grp"[..], 2, 99));
                    asm.first(total_len, &chunk).unwrap()
                }
                CpgEvent::DeliverMore { chunk } => asm.more(&chunk).unwrap(),
                other => panic!("{other:?}"),
            };
        }
        assert_eq!(got, Some(payload));
    }

    #[test]
    fn bad_chunk_sequences_are_refused_and_keep_nothing() {
        let mut asm = Reassembly::default();
        assert_eq!(asm.first(MSG_MAX as u32 + 1, &[]), Err(ChunkError::TooBig(MSG_MAX + 1)));
        assert!(!asm.is_open());
        assert_eq!(asm.more(b"x"), Err(ChunkError::NotOpen));
        // A short non-final first chunk.
        assert_eq!(asm.first(10, b"abc"), Err(ChunkError::BadFirst { chunk: 3, total: 10 }));
        // A first chunk longer than the message.
        assert_eq!(asm.first(2, b"abc"), Err(ChunkError::BadFirst { chunk: 3, total: 2 }));
        let total = (2 * CHUNK_MAX + 5) as u32;
        assert_eq!(asm.first(total, &vec![0; CHUNK_MAX]), Ok(None));
        // Overshoot.
        assert_eq!(asm.more(&vec![0; CHUNK_MAX]), Ok(None));
        assert_eq!(asm.more(&[0; 6]), Err(ChunkError::BadMore { chunk: 6, left: 5 }));
        assert!(!asm.is_open());
        // A new message while one is open.
        assert_eq!(asm.first(total, &vec![0; CHUNK_MAX]), Ok(None));
        assert_eq!(asm.first(1, b"a"), Err(ChunkError::Interrupted { left: CHUNK_MAX + 5 }));
        assert!(!asm.is_open());
        // A short middle chunk.
        assert_eq!(asm.first(total, &vec![0; CHUNK_MAX]), Ok(None));
        assert_eq!(asm.more(&[0; 5]), Err(ChunkError::BadMore { chunk: 5, left: CHUNK_MAX + 5 }));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), id in 0u16..12) {
            for dir in [Dir::Request, Dir::Response, Dir::Event] {
                let mut w = Writer::new(Service::Cpg, dir, id);
                for b in &body { w.u8(*b); }
                let f = w.finish().unwrap();
                let _ = CpgRequest::decode(&f);
                let _ = CpgResponse::decode(&f);
                let _ = CpgEvent::decode(&f);
            }
        }
    }
}
