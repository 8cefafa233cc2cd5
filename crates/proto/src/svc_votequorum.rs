//! The votequorum service's IPC vocabulary (service 1 of [`crate::svc`]), built and read with
//! the one bounded codec of [`crate::svc`].

use crate::ipc::{IpcError, WireRingId};
use crate::limits::NODES_MAX;
use crate::svc::{Dir, Reader, Service, Writer, INIT_ID};

/// `VOTEQUORUM_QDEVICE_MAX_NAME_LEN` (the name's bytes, without NUL, are fewer).
pub const QDEVICE_NAME_MAX: usize = 255;

/// `struct votequorum_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VqInfo {
    /// `node_id`.
    pub node_id: u32,
    /// `node_state` (`VOTEQUORUM_NODESTATE_*`).
    pub node_state: u32,
    /// `node_votes`.
    pub node_votes: u32,
    /// `node_expected_votes`.
    pub node_expected_votes: u32,
    /// `highest_expected`.
    pub highest_expected: u32,
    /// `total_votes`.
    pub total_votes: u32,
    /// `quorum`.
    pub quorum: u32,
    /// `flags` (`VOTEQUORUM_INFO_*`).
    pub flags: u32,
    /// `qdevice_votes`.
    pub qdevice_votes: u32,
    /// `qdevice_name`.
    pub qdevice_name: String,
}

/// Client → daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VqRequest {
    /// Open a session.
    Init,
    /// `votequorum_getinfo(nodeid)` (0: this node).
    GetInfo {
        /// Node.
        nodeid: u32,
    },
    /// `votequorum_setexpected`.
    SetExpected {
        /// Expected votes.
        expected: u32,
    },
    /// `votequorum_setvotes`.
    SetVotes {
        /// Node.
        nodeid: u32,
        /// Votes.
        votes: u32,
    },
    /// `votequorum_trackstart(context, flags)`.
    TrackStart {
        /// Given back in every notification.
        context: u64,
        /// `CS_TRACK_*`.
        flags: u32,
    },
    /// `votequorum_trackstop`.
    TrackStop,
    /// `votequorum_qdevice_register` (0), `_unregister` (1), `_update` (2), `_poll` (3),
    /// `_master_wins` (4).
    Qdevice {
        /// Which call.
        op: u32,
        /// The name (`oldname` for update).
        name: String,
        /// `newname` for update.
        newname: String,
        /// `cast_vote` / `allow`.
        arg: u32,
        /// The ring of a poll.
        ring_id: WireRingId,
    },
}

/// Daemon → client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VqResponse {
    /// To `Init`.
    Init {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `GetInfo`.
    GetInfo {
        /// `cs_error_t`.
        error: u32,
        /// The info.
        info: VqInfo,
    },
    /// To everything else.
    Result {
        /// `cs_error_t`.
        error: u32,
    },
}

/// Daemon → client, on the event socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VqEvent {
    /// Quorum notification: every known node with its state.
    Quorum {
        /// The tracker's context.
        context: u64,
        /// 1 or 0.
        quorate: u32,
        /// `(nodeid, state)`.
        nodes: Vec<(u32, u32)>,
    },
    /// Nodelist notification: the members of a ring.
    Nodelist {
        /// The tracker's context.
        context: u64,
        /// The ring.
        ring_id: WireRingId,
        /// Members.
        nodes: Vec<u32>,
    },
    /// Expected votes changed.
    ExpectedVotes {
        /// The tracker's context.
        context: u64,
        /// The new value.
        expected_votes: u32,
    },
}

impl VqRequest {
    /// The frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let id = match self {
            VqRequest::Init => INIT_ID,
            VqRequest::GetInfo { .. } => 2,
            VqRequest::SetExpected { .. } => 3,
            VqRequest::SetVotes { .. } => 4,
            VqRequest::TrackStart { .. } => 5,
            VqRequest::TrackStop => 6,
            VqRequest::Qdevice { .. } => 7,
        };
        let mut w = Writer::new(Service::Votequorum, Dir::Request, id);
        match self {
            VqRequest::Init | VqRequest::TrackStop => &mut w,
            VqRequest::GetInfo { nodeid } => w.u32(*nodeid),
            VqRequest::SetExpected { expected } => w.u32(*expected),
            VqRequest::SetVotes { nodeid, votes } => w.u32(*nodeid).u32(*votes),
            VqRequest::TrackStart { context, flags } => w.u64(*context).u32(*flags),
            VqRequest::Qdevice { op, name, newname, arg, ring_id } => {
                w.u32(*op).str(name).str(newname).u32(*arg).u32(ring_id.nodeid).u64(ring_id.seq)
            }
        };
        w.finish()
    }

    /// Reads a request frame.
    pub fn decode(frame: &[u8]) -> Result<VqRequest, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir) != (Service::Votequorum, Dir::Request) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let req = match id {
            INIT_ID => VqRequest::Init,
            2 => VqRequest::GetInfo { nodeid: r.u32()? },
            3 => VqRequest::SetExpected { expected: r.u32()? },
            4 => VqRequest::SetVotes { nodeid: r.u32()?, votes: r.u32()? },
            5 => VqRequest::TrackStart { context: r.u64()?, flags: r.u32()? },
            6 => VqRequest::TrackStop,
            7 => VqRequest::Qdevice {
                op: r.u32()?,
                name: r.str(QDEVICE_NAME_MAX)?,
                newname: r.str(QDEVICE_NAME_MAX)?,
                arg: r.u32()?,
                ring_id: WireRingId { nodeid: r.u32()?, seq: r.u64()? },
            },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(req)
    }
}

impl VqResponse {
    /// The frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let (id, error) = match self {
            VqResponse::Init { error } => (INIT_ID, error),
            VqResponse::GetInfo { error, .. } => (2, error),
            VqResponse::Result { error } => (3, error),
        };
        let mut w = Writer::new(Service::Votequorum, Dir::Response, id);
        w.u32(*error);
        if let VqResponse::GetInfo { info: i, .. } = self {
            for v in [
                i.node_id,
                i.node_state,
                i.node_votes,
                i.node_expected_votes,
                i.highest_expected,
                i.total_votes,
                i.quorum,
                i.flags,
                i.qdevice_votes,
            ] {
                w.u32(v);
            }
            w.str(&i.qdevice_name);
        }
        w.finish()
    }

    /// Reads a response frame.
    pub fn decode(frame: &[u8]) -> Result<VqResponse, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir) != (Service::Votequorum, Dir::Response) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let error = r.u32()?;
        let resp = match id {
            INIT_ID => VqResponse::Init { error },
            2 => VqResponse::GetInfo {
                error,
                info: VqInfo {
                    node_id: r.u32()?,
                    node_state: r.u32()?,
                    node_votes: r.u32()?,
                    node_expected_votes: r.u32()?,
                    highest_expected: r.u32()?,
                    total_votes: r.u32()?,
                    quorum: r.u32()?,
                    flags: r.u32()?,
                    qdevice_votes: r.u32()?,
                    qdevice_name: r.str(QDEVICE_NAME_MAX - 1)?,
                },
            },
            3 => VqResponse::Result { error },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(resp)
    }
}

impl VqEvent {
    /// The frame; lists are cut at [`NODES_MAX`] (+2 for a device) so it always decodes.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let id = match self {
            VqEvent::Quorum { .. } => 1,
            VqEvent::Nodelist { .. } => 2,
            VqEvent::ExpectedVotes { .. } => 3,
        };
        let mut w = Writer::new(Service::Votequorum, Dir::Event, id);
        match self {
            VqEvent::Quorum { context, quorate, nodes } => {
                let n = nodes.len().min(NODES_MAX + 2);
                w.u64(*context).u32(*quorate).u32(n as u32);
                for (id, st) in &nodes[..n] {
                    w.u32(*id).u32(*st);
                }
            }
            VqEvent::Nodelist { context, ring_id, nodes } => {
                let n = nodes.len().min(NODES_MAX);
                w.u64(*context).u32(ring_id.nodeid).u64(ring_id.seq).u32s(&nodes[..n]);
            }
            VqEvent::ExpectedVotes { context, expected_votes } => {
                w.u64(*context).u32(*expected_votes);
            }
        }
        w.finish()
    }

    /// Reads an event frame.
    pub fn decode(frame: &[u8]) -> Result<VqEvent, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir) != (Service::Votequorum, Dir::Event) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let ev = match id {
            1 => {
                let context = r.u64()?;
                let quorate = r.u32()?;
                let n = r.u32()? as usize;
                if n > NODES_MAX + 2 {
                    return Err(IpcError::ListTooLong(n));
                }
                let mut nodes = Vec::with_capacity(n);
                for _ in 0..n {
                    nodes.push((r.u32()?, r.u32()?));
                }
                VqEvent::Quorum { context, quorate, nodes }
            }
            2 => VqEvent::Nodelist {
                context: r.u64()?,
                ring_id: WireRingId { nodeid: r.u32()?, seq: r.u64()? },
                nodes: r.u32s(NODES_MAX)?,
            },
            3 => VqEvent::ExpectedVotes { context: r.u64()?, expected_votes: r.u32()? },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let reqs = [
            VqRequest::Init,
            VqRequest::GetInfo { nodeid: 0 },
            VqRequest::SetExpected { expected: 3 },
            VqRequest::SetVotes { nodeid: 2, votes: 1 },
            VqRequest::TrackStart { context: u64::MAX, flags: 2 },
            VqRequest::TrackStop,
            VqRequest::Qdevice {
                op: 3,
                name: "Qdevice".into(),
                newname: String::new(),
                arg: 1,
                ring_id: WireRingId { nodeid: 1, seq: 9 },
            },
        ];
        for r in reqs {
            assert_eq!(VqRequest::decode(&r.encode().unwrap()).unwrap(), r);
        }
        let info = VqInfo { node_id: 1, node_state: 1, quorum: 2, flags: 2, ..VqInfo::default() };
        let resp = VqResponse::GetInfo { error: 1, info };
        assert_eq!(VqResponse::decode(&resp.encode().unwrap()).unwrap(), resp);
        for ev in [
            VqEvent::Quorum { context: 5, quorate: 1, nodes: vec![(1, 1), (2, 2)] },
            VqEvent::Nodelist { context: 5, ring_id: WireRingId { nodeid: 1, seq: 4 }, nodes: vec![1, 2] },
            VqEvent::ExpectedVotes { context: 5, expected_votes: 3 },
        ] {
            assert_eq!(VqEvent::decode(&ev.encode().unwrap()).unwrap(), ev);
        }
        let mut bad = VqEvent::ExpectedVotes { context: 0, expected_votes: 1 }.encode().unwrap();
        bad.push(0);
        assert!(VqEvent::decode(&bad).is_err());
    }
}
