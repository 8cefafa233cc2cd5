//! Several services over one local IPC design, and the one bounded codec their vocabularies
//! use.
//!
//! Every service speaks the frame layout of [`crate::ipc`] (length, version, kind, message
//! id, body). The *kind* byte names the service and the direction:
//! `kind = service * 4 + direction`, direction 0 request, 1 response, 2 event. The quorum
//! service is service 0, so its kinds (0, 1, 2) are the ones [`crate::ipc`] always had.
//!
//! The handshake: the first frame on a connection is the service's `Init` request (message
//! id 1); its kind names the service, and the connection speaks that service and no other
//! until it closes. Every service's `Init` response is message id 1 and its body starts with
//! the `cs_error_t`; the daemon's shell needs nothing else to know that a session opened
//! ([`is_init_ok`]). The same access rule (peer credentials, root or a `uidgid` entry) is
//! applied to every service's `Init`.
//!
//! Events never share the request socket: with a successful `Init` response the daemon
//! passes (`SCM_RIGHTS`) one end of a `SOCK_SEQPACKET` socket pair it created, and sends every
//! event of the session there, one frame per packet ([`is_event`] tells the shell which
//! frames those are). See `docs/services.md`.
//!
//! The codec: [`Writer`] builds a frame, [`Reader`] takes one apart; every length read is
//! checked against what is left and against an explicit bound before anything is allocated.

use crate::ipc::{frame_len, IpcError, FRAME_HEADER_LEN, FRAME_MAX, IPC_VERSION};

/// The services, with their number in the kind byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Service {
    /// `libquorum`.
    Quorum = 0,
    /// `libvotequorum`.
    Votequorum = 1,
    /// `libcmap`.
    Cmap = 2,
    /// `libcfg`.
    Cfg = 3,
    /// `libcpg`.
    Cpg = 4,
}

impl Service {
    /// The service with this number.
    pub fn from_raw(raw: u8) -> Option<Service> {
        Some(match raw {
            0 => Service::Quorum,
            1 => Service::Votequorum,
            2 => Service::Cmap,
            3 => Service::Cfg,
            4 => Service::Cpg,
            _ => return None,
        })
    }

    /// corosync's name for it (log lines).
    pub fn name(self) -> &'static str {
        match self {
            Service::Quorum => "quorum",
            Service::Votequorum => "votequorum",
            Service::Cmap => "cmap",
            Service::Cfg => "cfg",
            Service::Cpg => "cpg",
        }
    }
}

/// Which way a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Dir {
    /// Client → daemon.
    Request = 0,
    /// Daemon → client, answering the one outstanding request.
    Response = 1,
    /// Daemon → client, unsolicited (on the event socket).
    Event = 2,
}

/// The message id of every service's `Init` request and response.
pub const INIT_ID: u16 = 1;

/// The kind byte of `service` frames going `dir`.
pub fn kind(service: Service, dir: Dir) -> u8 {
    (service as u8) * 4 + dir as u8
}

/// Splits a kind byte; `None` for an unknown service or direction.
pub fn split_kind(kind: u8) -> Option<(Service, Dir)> {
    let dir = match kind % 4 {
        0 => Dir::Request,
        1 => Dir::Response,
        2 => Dir::Event,
        _ => return None,
    };
    Some((Service::from_raw(kind / 4)?, dir))
}

/// Service, direction and message id of a frame's header (`None`: too short or unknown).
pub fn header(frame: &[u8]) -> Option<(Service, Dir, u16)> {
    if frame.len() < FRAME_HEADER_LEN {
        return None;
    }
    let (service, dir) = split_kind(frame[5])?;
    Some((service, dir, u16::from_be_bytes([frame[6], frame[7]])))
}

/// Whether `frame` is an event (it goes to the session's event socket).
pub fn is_event(frame: &[u8]) -> bool {
    matches!(header(frame), Some((_, Dir::Event, _)))
}

/// Whether `frame` is a successful `Init` response of any service (the event socket, and for
/// quorum the state page, go with it).
pub fn is_init_ok(frame: &[u8]) -> Option<Service> {
    match header(frame) {
        Some((service, Dir::Response, INIT_ID))
            if frame.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + 4)
                == Some(&crate::ipc::cs::OK.to_be_bytes()) =>
        {
            Some(service)
        }
        _ => None,
    }
}

/// Builds one frame. Bytes past [`FRAME_MAX`] are the caller's bug: [`Writer::finish`]
/// refuses them, and every encoder bounds its variable parts first.
#[derive(Debug)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// A frame of `service` going `dir` with message `id`.
    pub fn new(service: Service, dir: Dir, id: u16) -> Writer {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&[0, 0, 0, 0, IPC_VERSION, kind(service, dir)]);
        b.extend_from_slice(&id.to_be_bytes());
        Writer(b)
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Writer {
        self.0.push(v);
        self
    }
    /// Big-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Writer {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Writer {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A length-prefixed (u32) byte string.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Writer {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
        self
    }
    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self, v: &str) -> &mut Writer {
        self.bytes(v.as_bytes())
    }
    /// A length-prefixed list of u32.
    pub fn u32s(&mut self, v: &[u32]) -> &mut Writer {
        self.u32(v.len() as u32);
        for x in v {
            self.u32(*x);
        }
        self
    }
    /// The frame with its length filled in; `Err(TooBig)` beyond [`FRAME_MAX`].
    pub fn finish(&mut self) -> Result<Vec<u8>, IpcError> {
        let mut b = std::mem::take(&mut self.0);
        if b.len() > FRAME_MAX {
            return Err(IpcError::TooBig(b.len()));
        }
        let len = (b.len() - 4) as u32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        Ok(b)
    }
}

/// Takes one whole frame apart. Every read is bounds-checked; nothing is allocated beyond
/// what the frame holds and the caller's bound allows.
#[derive(Debug)]
pub struct Reader<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Reader<'a> {
    /// Checks the header of exactly one whole frame; returns the reader (at the body),
    /// the service, the direction and the message id.
    pub fn open(frame: &'a [u8]) -> Result<(Reader<'a>, Service, Dir, u16), IpcError> {
        let total = frame_len(frame)?.ok_or(IpcError::Truncated)?;
        if total != frame.len() {
            return Err(IpcError::Trailing(frame.len() - total));
        }
        if frame[4] != IPC_VERSION {
            return Err(IpcError::BadVersion(frame[4]));
        }
        let id = u16::from_be_bytes([frame[6], frame[7]]);
        let (service, dir) = split_kind(frame[5]).ok_or(IpcError::Unknown { kind: frame[5], id })?;
        Ok((Reader { b: frame, p: FRAME_HEADER_LEN }, service, dir, id))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IpcError> {
        let end = self.p.checked_add(n).ok_or(IpcError::Truncated)?;
        let s = self.b.get(self.p..end).ok_or(IpcError::Truncated)?;
        self.p = end;
        Ok(s)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, IpcError> {
        Ok(self.take(1)?[0])
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, IpcError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64, IpcError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_be_bytes(a))
    }
    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8], IpcError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(IpcError::TooBig(n));
        }
        self.take(n)
    }
    /// A length-prefixed UTF-8 string of at most `max` bytes.
    pub fn str(&mut self, max: usize) -> Result<String, IpcError> {
        let b = self.bytes(max)?;
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| IpcError::BadText)
    }
    /// A length-prefixed list of at most `max` u32.
    pub fn u32s(&mut self, max: usize) -> Result<Vec<u32>, IpcError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(IpcError::ListTooLong(n));
        }
        if self.b.len() - self.p < n.saturating_mul(4) {
            return Err(IpcError::Truncated);
        }
        (0..n).map(|_| self.u32()).collect()
    }
    /// Succeeds only if the whole frame was read.
    pub fn end(&self) -> Result<(), IpcError> {
        match self.b.len() - self.p {
            0 => Ok(()),
            n => Err(IpcError::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{self, cs, Frame, Request, Response};
    use proptest::prelude::*;

    #[test]
    fn quorum_kinds_are_the_ipc_kinds() {
        let req = ipc::encode(&Frame::Request(Request::Init { model: 1 }));
        assert_eq!(header(&req), Some((Service::Quorum, Dir::Request, INIT_ID)));
        let ok = ipc::encode(&Frame::Response(Response::Init { error: cs::OK, quorum_type: 1 }));
        assert_eq!(is_init_ok(&ok), Some(Service::Quorum));
        let refused = ipc::encode(&Frame::Response(Response::Init { error: cs::ERR_ACCESS, quorum_type: 1 }));
        assert_eq!(is_init_ok(&refused), None);
        let ev = ipc::encode(&Frame::Notification(ipc::Notification::Quorum {
            quorate: 1,
            ring_id: ipc::WireRingId::default(),
            members: vec![1],
        }));
        assert!(is_event(&ev) && !is_event(&ok));
    }

    #[test]
    fn writer_and_reader_agree() {
        let f = Writer::new(Service::Cmap, Dir::Response, 7)
            .u8(3)
            .u32(9)
            .u64(u64::MAX - 1)
            .str("totem.cluster_name")
            .u32s(&[1, 2, 3])
            .finish()
            .unwrap();
        let (mut r, s, d, id) = Reader::open(&f).unwrap();
        assert_eq!((s, d, id), (Service::Cmap, Dir::Response, 7));
        assert_eq!(r.u8().unwrap(), 3);
        assert_eq!(r.u32().unwrap(), 9);
        assert_eq!(r.u64().unwrap(), u64::MAX - 1);
        assert_eq!(r.str(100).unwrap(), "totem.cluster_name");
        assert_eq!(r.u32s(3).unwrap(), vec![1, 2, 3]);
        r.end().unwrap();
    }

    #[test]
    fn bounds_are_enforced() {
        let f = Writer::new(Service::Cmap, Dir::Request, 2).str("abcdef").finish().unwrap();
        let (mut r, ..) = Reader::open(&f).unwrap();
        assert_eq!(r.str(5), Err(IpcError::TooBig(6)));
        let big = Writer::new(Service::Cfg, Dir::Event, 1).bytes(&vec![0; FRAME_MAX]).finish();
        assert!(matches!(big, Err(IpcError::TooBig(_))));
        let mut bad = Writer::new(Service::Cfg, Dir::Event, 1).finish().unwrap();
        bad[5] = 3; // direction 3 does not exist
        assert!(matches!(Reader::open(&bad), Err(IpcError::Unknown { .. })));
    }

    proptest! {
        #[test]
        fn reading_garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut w = Writer::new(Service::Votequorum, Dir::Request, 3);
            for b in &body { w.u8(*b); }
            let f = w.finish().unwrap();
            let (mut r, ..) = Reader::open(&f).unwrap();
            let _ = r.str(16);
            let _ = r.u32s(8);
            let _ = r.u64();
            let _ = r.bytes(4);
        }
    }
}
