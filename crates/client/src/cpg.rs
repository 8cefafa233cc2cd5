//! The CPG client ([`CpgClient`]): closed process groups. One client is one CPG handle: it
//! joins at most one group at a time, multicasts to it (totally ordered, delivered to every
//! member including itself), and receives [`CpgEvent`]s on the session's event socket (the
//! client's `AsFd`): messages, the group's configuration changes and the ring's.
//!
//! Messages of any size up to [`MSG_MAX`] are sent in chunks of the IPC vocabulary
//! (`quorumd_proto::svc_cpg`) and handed out whole: [`CpgClient::next_event`] reassembles a
//! delivery before returning it. Back-pressure is `CS_ERR_TRY_AGAIN` from [`CpgClient::mcast`]
//! (the whole message is to be sent again later), never loss.
//!
//! ```no_run
//! use quorumd_client::cpg::{CpgClient, CpgEvent, GroupName, Guarantee, ModelFlags};
//! let cpg = CpgClient::connect(ModelFlags::empty())?;
//! let group = GroupName::new(b"demo")?;
//! cpg.join(&group)?;
//! cpg.mcast(Guarantee::Agreed, &[std::io::IoSlice::new(b"hello")])?;
//! loop {
//!     match cpg.next_event()? {
//!         CpgEvent::Deliver { nodeid, pid, data, .. } => println!("{nodeid}/{pid}: {data:?}"),
//!         CpgEvent::Confchg { members, .. } => println!("{} members", members.len()),
//!         CpgEvent::TotemConfchg { ring_id, .. } => println!("ring {ring_id:?}"),
//!     }
//! }
//! # Ok::<(), quorumd_client::CsError>(())
//! ```
#![forbid(unsafe_code)]

use std::io::IoSlice;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Mutex;

use quorumd_proto::svc_cpg::{self as wire, CpgRequest, CpgResponse, Reassembly};

use crate::channel::{Channel, Wait};
use crate::error::{ConnectError, CsError};
use crate::RingId;

pub use quorumd_proto::svc_cpg::{
    CHUNK_MAX, CPG_MAX_NAME_LENGTH as GROUP_NAME_MAX, CPG_MEMBERS_MAX as MEMBERS_MAX, MSG_MAX,
};

bitflags::bitflags! {
    /// `CPG_MODEL_V1_*` flags of `cpg_model_initialize`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct ModelFlags: u32 {
        /// `CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`: a [`CpgEvent::TotemConfchg`] right
        /// after the first configuration change of the joined group.
        const DELIVER_INITIAL_TOTEM_CONF = wire::CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
    }
}

/// A group name: 1 to [`GROUP_NAME_MAX`] bytes (`struct cpg_name`; bytes, not text).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(Vec<u8>);

impl GroupName {
    /// The name; longer than [`GROUP_NAME_MAX`] → `NameTooLong`.
    pub fn new(name: impl AsRef<[u8]>) -> Result<GroupName, CsError> {
        let b = name.as_ref();
        if b.len() > GROUP_NAME_MAX {
            return Err(CsError::NameTooLong);
        }
        Ok(GroupName(b.to_vec()))
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for GroupName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// `cpg_guarantee_t`. Corosync treats every value as AGREED (total order); SAFE is kept
/// distinct on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Guarantee {
    /// `CPG_TYPE_UNORDERED`.
    Unordered = wire::guarantee::UNORDERED,
    /// `CPG_TYPE_FIFO`.
    Fifo = wire::guarantee::FIFO,
    /// `CPG_TYPE_AGREED`.
    Agreed = wire::guarantee::AGREED,
    /// `CPG_TYPE_SAFE`.
    Safe = wire::guarantee::SAFE,
}

impl Guarantee {
    /// The guarantee with this C number.
    pub fn from_raw(raw: u32) -> Option<Guarantee> {
        Some(match raw {
            wire::guarantee::UNORDERED => Guarantee::Unordered,
            wire::guarantee::FIFO => Guarantee::Fifo,
            wire::guarantee::AGREED => Guarantee::Agreed,
            wire::guarantee::SAFE => Guarantee::Safe,
            _ => return None,
        })
    }
}

/// `cpg_reason_t`: why a process is in a left or joined list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `CPG_REASON_UNDEFINED` (member lists), or a number this library does not know.
    Undefined,
    /// `CPG_REASON_JOIN`.
    Join,
    /// `CPG_REASON_LEAVE`.
    Leave,
    /// `CPG_REASON_NODEDOWN`: its node left the ring.
    NodeDown,
    /// `CPG_REASON_NODEUP`: its node (re)joined the ring.
    NodeUp,
    /// `CPG_REASON_PROCDOWN`: the process's session ended without a leave.
    ProcDown,
}

impl Reason {
    /// From the C number (unknown → `Undefined`).
    pub fn from_raw(raw: u32) -> Reason {
        match raw {
            wire::reason::JOIN => Reason::Join,
            wire::reason::LEAVE => Reason::Leave,
            wire::reason::NODEDOWN => Reason::NodeDown,
            wire::reason::NODEUP => Reason::NodeUp,
            wire::reason::PROCDOWN => Reason::ProcDown,
            _ => Reason::Undefined,
        }
    }

    /// The C number.
    pub fn raw(self) -> u32 {
        match self {
            Reason::Undefined => wire::reason::UNDEFINED,
            Reason::Join => wire::reason::JOIN,
            Reason::Leave => wire::reason::LEAVE,
            Reason::NodeDown => wire::reason::NODEDOWN,
            Reason::NodeUp => wire::reason::NODEUP,
            Reason::ProcDown => wire::reason::PROCDOWN,
        }
    }
}

/// A process of a group (`struct cpg_address`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// Its node.
    pub nodeid: u32,
    /// Its pid.
    pub pid: u32,
    /// Why it is in the list (`Undefined` in member lists).
    pub reason: Reason,
}

impl From<wire::CpgAddress> for Member {
    fn from(a: wire::CpgAddress) -> Member {
        Member { nodeid: a.nodeid, pid: a.pid, reason: Reason::from_raw(a.reason) }
    }
}

fn members(l: Vec<wire::CpgAddress>) -> Vec<Member> {
    l.into_iter().map(Member::from).collect()
}

/// `cpg_iteration_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum IterationType {
    /// One row per group, node and pid 0.
    NameOnly = wire::iteration::NAME_ONLY,
    /// The processes of one group.
    OneGroup = wire::iteration::ONE_GROUP,
    /// Every process of every group.
    All = wire::iteration::ALL,
}

impl IterationType {
    /// The type with this C number.
    pub fn from_raw(raw: u32) -> Option<IterationType> {
        Some(match raw {
            wire::iteration::NAME_ONLY => IterationType::NameOnly,
            wire::iteration::ONE_GROUP => IterationType::OneGroup,
            wire::iteration::ALL => IterationType::All,
            _ => return None,
        })
    }
}

/// One row of an iteration (`struct cpg_iteration_description_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IterEntry {
    /// The group.
    pub group: GroupName,
    /// The process's node (0 for `NameOnly`).
    pub nodeid: u32,
    /// Its pid (0 for `NameOnly`).
    pub pid: u32,
}

/// What arrives on the event socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgEvent {
    /// A message multicast to the group, whole.
    Deliver {
        /// The group.
        group: GroupName,
        /// The sender's node.
        nodeid: u32,
        /// The sender's pid.
        pid: u32,
        /// The message.
        data: Vec<u8>,
    },
    /// The group's membership changed.
    Confchg {
        /// The group.
        group: GroupName,
        /// Its members after the change.
        members: Vec<Member>,
        /// Who left, and why.
        left: Vec<Member>,
        /// Who joined, and why.
        joined: Vec<Member>,
    },
    /// The ring changed (model V1's totem confchg).
    TotemConfchg {
        /// The ring id (the quorum service's).
        ring_id: RingId,
        /// The ring's members.
        members: Vec<u32>,
    },
}

/// A session with the daemon's CPG service.
#[derive(Debug)]
pub struct CpgClient {
    chan: Channel,
    /// The delivery being reassembled (chunks of one delivery are never interleaved with
    /// other events).
    asm: Mutex<Option<(GroupName, u32, u32, Reassembly)>>,
}

impl CpgClient {
    /// Opens a session with the daemon at `path`.
    pub fn connect_with(path: impl AsRef<Path>, flags: ModelFlags) -> Result<CpgClient, ConnectError> {
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        let init = CpgRequest::Init { model: wire::CPG_MODEL_V1, flags: flags.bits() }
            .encode()
            .map_err(|_| CsError::Library)?;
        let mut opened = Channel::open(path.as_ref(), &init)?;
        match CpgResponse::decode(&opened.response) {
            Ok(CpgResponse::Init { error }) => match CsError::check(error) {
                Ok(()) => {}
                Err(CsError::Access) => return Err(ConnectError::UidGidRefused { uid, gid }),
                Err(e) => return Err(e.into()),
            },
            _ => return Err(CsError::MessageError.into()),
        }
        Ok(CpgClient { chan: Channel::new(opened.sock, &mut opened.fds)?, asm: Mutex::new(None) })
    }

    /// Opens a session with the daemon at [`crate::socket_path`].
    pub fn connect(flags: ModelFlags) -> Result<CpgClient, ConnectError> {
        CpgClient::connect_with(crate::socket_path(), flags)
    }

    fn call(&self, req: &CpgRequest) -> Result<CpgResponse, CsError> {
        let frame = req.encode().map_err(|_| CsError::TooBig)?;
        let bytes = self.chan.request(&frame)?;
        match CpgResponse::decode(&bytes) {
            Ok(r) if r.id() == req.id() => Ok(r),
            _ => Err(self.wrong()),
        }
    }

    fn wrong(&self) -> CsError {
        self.chan.kill();
        CsError::MessageError
    }

    fn pid() -> u32 {
        rustix::process::getpid().as_raw_nonzero().get() as u32
    }

    /// `cpg_join`: this process joins `group` (one group per client). Already joined →
    /// `Exist`; a join or leave still on its way → `Busy` (retry).
    pub fn join(&self, group: &GroupName) -> Result<(), CsError> {
        match self.call(&CpgRequest::Join { group: group.0.clone(), pid: Self::pid() })? {
            CpgResponse::Join { error } => CsError::check(error),
            _ => Err(self.wrong()),
        }
    }

    /// `cpg_leave`. Not joined to `group` → `NotExist`.
    pub fn leave(&self, group: &GroupName) -> Result<(), CsError> {
        match self.call(&CpgRequest::Leave { group: group.0.clone(), pid: Self::pid() })? {
            CpgResponse::Leave { error } => CsError::check(error),
            _ => Err(self.wrong()),
        }
    }

    /// `cpg_mcast_joined`: one message, the concatenation of `parts`, to the joined group
    /// (self included). Not joined → `NotExist`; queue full → `TryAgain` (send it again
    /// later); above [`MSG_MAX`] → `TooBig` (nothing sent).
    ///
    /// Deviation from corosync: `TryAgain` is about the whole message, however many chunks it
    /// took; corosync's library retries each fragment itself and can fail half-way with
    /// `CS_ERR_INTERRUPT` (docs/deviations.md, "The CPG library").
    pub fn mcast(&self, guarantee: Guarantee, parts: &[IoSlice<'_>]) -> Result<(), CsError> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total > MSG_MAX {
            return Err(CsError::TooBig);
        }
        // Gather without copying twice: each frame's chunk is taken straight from the parts.
        let mut frames = Vec::with_capacity(total.div_ceil(CHUNK_MAX).max(1));
        let mut chunk = Vec::with_capacity(total.min(CHUNK_MAX));
        let mut first = true;
        let mut flush = |chunk: &mut Vec<u8>, first: &mut bool| -> Result<(), CsError> {
            let c = std::mem::take(chunk);
            let req = if *first {
                CpgRequest::Mcast { guarantee: guarantee as u32, total_len: total as u32, chunk: c }
            } else {
                CpgRequest::McastMore { chunk: c }
            };
            *first = false;
            frames.push(req.encode().map_err(|_| CsError::TooBig)?);
            Ok(())
        };
        for p in parts {
            let mut rest: &[u8] = p;
            while !rest.is_empty() {
                let n = rest.len().min(CHUNK_MAX - chunk.len());
                chunk.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                if chunk.len() == CHUNK_MAX {
                    flush(&mut chunk, &mut first)?;
                }
            }
        }
        if first || !chunk.is_empty() {
            flush(&mut chunk, &mut first)?;
        }
        let bytes = self.chan.request_many(&frames)?;
        match CpgResponse::decode(&bytes) {
            Ok(CpgResponse::Mcast { error }) => CsError::check(error),
            _ => Err(self.wrong()),
        }
    }

    /// `cpg_membership_get`: the processes of `group` now.
    pub fn membership(&self, group: &GroupName) -> Result<Vec<Member>, CsError> {
        match self.call(&CpgRequest::MembershipGet { group: group.0.clone() })? {
            CpgResponse::Membership { error, members: m } => CsError::check(error).map(|()| members(m)),
            _ => Err(self.wrong()),
        }
    }

    /// `cpg_local_get`: this node's id.
    pub fn local_nodeid(&self) -> Result<u32, CsError> {
        match self.call(&CpgRequest::LocalGet)? {
            CpgResponse::LocalGet { error, nodeid } => CsError::check(error).map(|()| nodeid),
            _ => Err(self.wrong()),
        }
    }

    /// `cpg_iteration_*`: the rows, taken now. `group` only (and always) with `OneGroup`,
    /// else `InvalidParam`.
    pub fn iterate(&self, kind: IterationType, group: Option<&GroupName>) -> Result<Vec<IterEntry>, CsError> {
        if (kind == IterationType::OneGroup) != group.is_some() {
            return Err(CsError::InvalidParam);
        }
        let req =
            CpgRequest::Iterate { kind: kind as u32, group: group.map(|g| g.0.clone()).unwrap_or_default() };
        match self.call(&req)? {
            CpgResponse::Iterate { error, entries } => CsError::check(error).map(|()| {
                entries
                    .into_iter()
                    .map(|e| IterEntry { group: GroupName(e.group), nodeid: e.nodeid, pid: e.pid })
                    .collect()
            }),
            _ => Err(self.wrong()),
        }
    }

    /// `cpg_flow_control_state_get`: whether the daemon asks this session to hold back.
    pub fn flow_control_enabled(&self) -> Result<bool, CsError> {
        match self.call(&CpgRequest::FlowControlStateGet)? {
            CpgResponse::FlowControl { error, state } => {
                CsError::check(error).map(|()| state == wire::flow_control::ENABLED)
            }
            _ => Err(self.wrong()),
        }
    }

    /// `cpg_max_atomic_msgsize_get`: the largest message that travels as one IPC frame.
    /// Larger ones are chunked and still delivered whole. Deviation from corosync: corosync
    /// answers its IPC buffer size minus 1024.
    pub fn max_atomic_msgsize(&self) -> u32 {
        CHUNK_MAX as u32
    }

    /// `cpg_finalize`: tells the daemon the session ends (its member leaves its group).
    /// `Library` when the daemon is already gone (the session is over either way).
    pub fn finalize(&self) -> Result<(), CsError> {
        match self.call(&CpgRequest::Finalize)? {
            CpgResponse::Finalize { error } => CsError::check(error),
            _ => Err(self.wrong()),
        }
    }

    /// Waits for the next event (a delivery is returned whole).
    pub fn next_event(&self) -> Result<CpgEvent, CsError> {
        loop {
            if let Some(ev) = self.event(Wait::Forever)? {
                return Ok(ev);
            }
        }
    }

    /// The next event if one is waiting (`None` also while a delivery's chunks are still
    /// arriving).
    pub fn try_next_event(&self) -> Result<Option<CpgEvent>, CsError> {
        loop {
            let Some(bytes) = self.chan.next_event(Wait::No)? else { return Ok(None) };
            if let Some(ev) = self.decode_event(&bytes)? {
                return Ok(Some(ev));
            }
        }
    }

    fn event(&self, wait: Wait) -> Result<Option<CpgEvent>, CsError> {
        let Some(bytes) = self.chan.next_event(wait)? else { return Ok(None) };
        self.decode_event(&bytes)
    }

    /// One event frame: `Some` when it completes an event.
    fn decode_event(&self, bytes: &[u8]) -> Result<Option<CpgEvent>, CsError> {
        let ev = wire::CpgEvent::decode(bytes).map_err(|_| self.wrong())?;
        let mut asm = self.asm.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = match ev {
            wire::CpgEvent::Deliver { group, nodeid, pid, total_len, chunk } => {
                if asm.is_some() {
                    return Err(self.wrong());
                }
                let mut r = Reassembly::default();
                match r.first(total_len, &chunk).map_err(|_| self.wrong())? {
                    Some(data) => Some(CpgEvent::Deliver { group: GroupName(group), nodeid, pid, data }),
                    None => {
                        *asm = Some((GroupName(group), nodeid, pid, r));
                        None
                    }
                }
            }
            wire::CpgEvent::DeliverMore { chunk } => {
                let Some((group, nodeid, pid, mut r)) = asm.take() else { return Err(self.wrong()) };
                match r.more(&chunk).map_err(|_| self.wrong())? {
                    Some(data) => Some(CpgEvent::Deliver { group, nodeid, pid, data }),
                    None => {
                        *asm = Some((group, nodeid, pid, r));
                        None
                    }
                }
            }
            _ if asm.is_some() => return Err(self.wrong()),
            wire::CpgEvent::ConfChg { group, members: m, left, joined } => Some(CpgEvent::Confchg {
                group: GroupName(group),
                members: members(m),
                left: members(left),
                joined: members(joined),
            }),
            wire::CpgEvent::TotemConfChg { ring_id, members } => {
                Some(CpgEvent::TotemConfchg { ring_id, members })
            }
        };
        Ok(out)
    }
}

impl AsFd for CpgClient {
    /// The session's event socket (peer: the daemon).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.chan.event_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    use std::os::fd::OwnedFd;

    /// A client wired to socket pairs instead of a daemon: (client, daemon's stream end,
    /// daemon's event end).
    fn wired() -> (CpgClient, OwnedFd, OwnedFd) {
        let (c, d) = socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None).unwrap();
        let (ce, de) =
            socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None).unwrap();
        let client = CpgClient { chan: Channel::new(c, &mut vec![ce]).unwrap(), asm: Mutex::new(None) };
        (client, d, de)
    }

    /// Reads request frames from the daemon's end until one completes a multicast.
    fn read_frames(d: &OwnedFd) -> Vec<CpgRequest> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut need = None;
        loop {
            while let Ok(Some(n)) = quorumd_proto::ipc::frame_len(&buf) {
                if buf.len() < n {
                    break;
                }
                let f: Vec<u8> = buf.drain(..n).collect();
                let req = CpgRequest::decode(&f).unwrap();
                let mut left = need.unwrap_or(0usize);
                match &req {
                    CpgRequest::Mcast { total_len, chunk, .. } => left = *total_len as usize - chunk.len(),
                    CpgRequest::McastMore { chunk } => left -= chunk.len(),
                    _ => {}
                }
                need = Some(left);
                out.push(req);
                if left == 0 {
                    return out;
                }
            }
            let mut tmp = [0u8; 65536];
            let n = rustix::net::recv(d, &mut tmp, rustix::net::RecvFlags::empty()).unwrap().0;
            assert!(n > 0, "client closed");
            buf.extend_from_slice(&tmp[..n]);
        }
    }

    #[test]
    fn mcast_gathers_the_parts_into_chunks_of_chunk_max() {
        let (client, d, _de) = wired();
        let a: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..(2 * CHUNK_MAX + 17) as u32).map(|i| (i * 7) as u8).collect();
        let daemon = std::thread::spawn(move || {
            let frames = read_frames(&d);
            let reply = CpgResponse::Mcast { error: wire::cs::ERR_TRY_AGAIN }.encode().unwrap();
            rustix::net::send(&d, &reply, rustix::net::SendFlags::empty()).unwrap();
            frames
        });
        let r = client.mcast(Guarantee::Safe, &[IoSlice::new(&a), IoSlice::new(&[]), IoSlice::new(&b)]);
        assert_eq!(r, Err(CsError::TryAgain), "the daemon's answer to the whole message");
        let frames = daemon.join().unwrap();
        let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        assert_eq!(frames.len(), whole.len().div_ceil(CHUNK_MAX));
        let mut got = Vec::new();
        for (i, f) in frames.into_iter().enumerate() {
            match f {
                CpgRequest::Mcast { guarantee, total_len, chunk } => {
                    assert_eq!(
                        (i, guarantee, total_len as usize, chunk.len()),
                        (0, 3, whole.len(), CHUNK_MAX)
                    );
                    got.extend(chunk);
                }
                CpgRequest::McastMore { chunk } => {
                    assert!(i > 0 && chunk.len() <= CHUNK_MAX);
                    got.extend(chunk);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, whole);
        // Above the bound nothing is sent at all.
        let big = vec![0u8; MSG_MAX + 1];
        assert_eq!(client.mcast(Guarantee::Agreed, &[IoSlice::new(&big)]), Err(CsError::TooBig));
    }

    #[test]
    fn an_empty_message_is_one_frame() {
        let (client, d, _de) = wired();
        let daemon = std::thread::spawn(move || {
            let frames = read_frames(&d);
            let reply = CpgResponse::Mcast { error: wire::cs::OK }.encode().unwrap();
            rustix::net::send(&d, &reply, rustix::net::SendFlags::empty()).unwrap();
            frames
        });
        assert_eq!(client.mcast(Guarantee::Agreed, &[]), Ok(()));
        let frames = daemon.join().unwrap();
        assert_eq!(frames, vec![CpgRequest::Mcast { guarantee: 2, total_len: 0, chunk: vec![] }]);
    }

    #[test]
    fn chunked_deliveries_come_out_whole_and_in_order() {
        let (client, _d, de) = wired();
        let big: Vec<u8> = (0..(CHUNK_MAX * 2 + 5) as u32).map(|i| (i % 253) as u8).collect();
        let send = |f: &[u8]| rustix::net::send(&de, f, rustix::net::SendFlags::empty()).unwrap();
        let frames = wire::deliver_frames(b"grp", 2, 77, &big).unwrap();
        send(&frames[0]);
        // Only the first chunk is there: nothing complete yet.
        assert_eq!(client.try_next_event(), Ok(None));
        for f in &frames[1..] {
            send(f);
        }
        let conf = wire::CpgEvent::ConfChg {
            group: b"grp".to_vec(),
            members: vec![wire::CpgAddress { nodeid: 1, pid: 5, reason: 0 }],
            left: vec![],
            joined: vec![wire::CpgAddress { nodeid: 1, pid: 5, reason: wire::reason::JOIN }],
        };
        send(&conf.encode().unwrap());
        match client.next_event().unwrap() {
            CpgEvent::Deliver { group, nodeid, pid, data } => {
                assert_eq!((group.as_bytes(), nodeid, pid), (&b"grp"[..], 2, 77));
                assert_eq!(data, big);
            }
            other => panic!("{other:?}"),
        }
        match client.next_event().unwrap() {
            CpgEvent::Confchg { members, joined, left, .. } => {
                assert_eq!(members, vec![Member { nodeid: 1, pid: 5, reason: Reason::Undefined }]);
                assert_eq!(joined, vec![Member { nodeid: 1, pid: 5, reason: Reason::Join }]);
                assert!(left.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(client.try_next_event(), Ok(None));
    }

    #[test]
    fn an_event_inside_a_delivery_breaks_the_session() {
        let (client, _d, de) = wired();
        let frames = wire::deliver_frames(b"g", 1, 1, &vec![9u8; CHUNK_MAX + 1]).unwrap();
        rustix::net::send(&de, &frames[0], rustix::net::SendFlags::empty()).unwrap();
        let totem = wire::CpgEvent::TotemConfChg { ring_id: RingId { nodeid: 1, seq: 4 }, members: vec![1] };
        rustix::net::send(&de, &totem.encode().unwrap(), rustix::net::SendFlags::empty()).unwrap();
        assert_eq!(client.try_next_event(), Err(CsError::MessageError));
        // A continuation with nothing open is refused the same way.
        let (client, _d, de) = wired();
        let more = wire::CpgEvent::DeliverMore { chunk: vec![1] };
        rustix::net::send(&de, &more.encode().unwrap(), rustix::net::SendFlags::empty()).unwrap();
        assert_eq!(client.next_event(), Err(CsError::MessageError));
    }

    #[test]
    fn names_and_reasons() {
        assert!(GroupName::new([b'x'; GROUP_NAME_MAX]).is_ok());
        assert_eq!(GroupName::new([b'x'; GROUP_NAME_MAX + 1]), Err(CsError::NameTooLong));
        for r in 0..=6 {
            let reason = Reason::from_raw(r);
            assert_eq!(reason.raw(), if r == 6 { 0 } else { r });
        }
        assert_eq!(Guarantee::from_raw(4), None);
        assert_eq!(IterationType::from_raw(0), None);
    }
}
