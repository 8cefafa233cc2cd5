//! The cmap client: Corosync's typed key-value map over quorumd's IPC ([`CmapClient`]).
//!
//! One session per client, on the map chosen at connect ([`CmapMap::Default`]: configuration
//! and `runtime.*` keys; [`CmapMap::Stats`]: statistics). Calls block for their answer; track
//! notifications arrive on the session's event socket (the client's `AsFd`), readable exactly
//! while one waits.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

pub use quorumd_proto::svc_cmap::{track, CmapNotify, CmapValue, KEYNAME_MAX, VALUE_MAX};
use quorumd_proto::svc_cmap::{CmapRequest, CmapResponse};

use crate::channel::{Channel, Wait};
use crate::error::{ConnectError, CsError};

/// `cmap_map_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CmapMap {
    /// `CMAP_MAP_DEFAULT` / `CMAP_MAP_ICMAP`: configuration and runtime keys.
    Default = 0,
    /// `CMAP_MAP_STATS`: statistics (read-only).
    Stats = 1,
}

/// One key as iteration returns it: name, value length (a string's NUL included) and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmapKey {
    /// The key name.
    pub name: String,
    /// `value_len` as `cmap_iter_next` reports it.
    pub value_len: u64,
    /// The `cmap_value_types_t` number.
    pub type_code: u8,
}

/// A session with the daemon's cmap service.
#[derive(Debug)]
pub struct CmapClient {
    chan: Channel,
}

impl CmapClient {
    /// Opens a session on the default map at [`crate::socket_path`].
    pub fn connect() -> Result<CmapClient, ConnectError> {
        CmapClient::connect_map(crate::socket_path(), CmapMap::Default)
    }

    /// Opens a session on `map` of the daemon at `path`. Daemon not running → `Library`;
    /// before its first sync → `TryAgain`; refused uid/gid → `Access`.
    pub fn connect_map(path: impl AsRef<Path>, map: CmapMap) -> Result<CmapClient, ConnectError> {
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        let init = CmapRequest::Init { map: map as u32 }.encode().map_err(|_| CsError::Library)?;
        let mut opened = Channel::open(path.as_ref(), &init)?;
        match CmapResponse::decode(&opened.response) {
            Ok(CmapResponse::Init { error }) => match CsError::check(error) {
                Ok(()) => {}
                Err(CsError::Access) => return Err(ConnectError::UidGidRefused { uid, gid }),
                Err(e) => return Err(e.into()),
            },
            _ => return Err(CsError::MessageError.into()),
        }
        Ok(CmapClient { chan: Channel::new(opened.sock, &mut opened.fds)? })
    }

    fn call(&self, req: &CmapRequest) -> Result<CmapResponse, CsError> {
        let frame = req.encode().map_err(|_| CsError::TooBig)?;
        let bytes = self.chan.request(&frame)?;
        CmapResponse::decode(&bytes).map_err(|_| {
            self.chan.kill();
            CsError::MessageError
        })
    }

    fn result(&self, req: &CmapRequest) -> Result<(), CsError> {
        match self.call(req)? {
            CmapResponse::Result { error } => CsError::check(error),
            _ => Err(self.wrong()),
        }
    }

    fn wrong(&self) -> CsError {
        self.chan.kill();
        CsError::MessageError
    }

    /// `cmap_get`: the value of `key` (`NotExist` if there is none).
    pub fn get(&self, key: &str) -> Result<CmapValue, CsError> {
        match self.call(&CmapRequest::Get { key: key.into() })? {
            CmapResponse::Get { error, value } => {
                CsError::check(error)?;
                value.ok_or_else(|| self.wrong())
            }
            _ => Err(self.wrong()),
        }
    }

    /// `cmap_set`.
    pub fn set(&self, key: &str, value: CmapValue) -> Result<(), CsError> {
        self.result(&CmapRequest::Set { key: key.into(), value })
    }

    /// `cmap_delete`.
    pub fn delete(&self, key: &str) -> Result<(), CsError> {
        self.result(&CmapRequest::Delete { key: key.into() })
    }

    /// `cmap_inc`.
    pub fn inc(&self, key: &str) -> Result<(), CsError> {
        self.result(&CmapRequest::Adjust { key: key.into(), step: 1 })
    }

    /// `cmap_dec`.
    pub fn dec(&self, key: &str) -> Result<(), CsError> {
        self.result(&CmapRequest::Adjust { key: key.into(), step: -1 })
    }

    /// `cmap_iter_init`: an iterator handle over the keys starting with `prefix`.
    pub fn iter_init(&self, prefix: &str) -> Result<u64, CsError> {
        match self.call(&CmapRequest::IterInit { prefix: prefix.into() })? {
            CmapResponse::IterInit { error, iter } => CsError::check(error).map(|()| iter),
            _ => Err(self.wrong()),
        }
    }

    /// `cmap_iter_next`: the next key, `NoSections` at the end.
    pub fn iter_next(&self, iter: u64) -> Result<CmapKey, CsError> {
        match self.call(&CmapRequest::IterNext { iter })? {
            CmapResponse::IterNext { error, key, value_len, type_code } => {
                CsError::check(error).map(|()| CmapKey { name: key, value_len, type_code })
            }
            _ => Err(self.wrong()),
        }
    }

    /// `cmap_iter_finalize`.
    pub fn iter_finalize(&self, iter: u64) -> Result<(), CsError> {
        self.result(&CmapRequest::IterFinalize { iter })
    }

    /// Every key under `prefix` with its value, in sorted order.
    pub fn dump(&self, prefix: &str) -> Result<Vec<(String, CmapValue)>, CsError> {
        let iter = self.iter_init(prefix)?;
        let mut out = Vec::new();
        let result = loop {
            match self.iter_next(iter) {
                Ok(k) => match self.get(&k.name) {
                    Ok(v) => out.push((k.name, v)),
                    // Deleted between the two calls.
                    Err(CsError::NotExist) => {}
                    Err(e) => break Err(e),
                },
                Err(CsError::NoSections) => break Ok(out),
                Err(e) => break Err(e),
            }
        };
        let _ = self.iter_finalize(iter);
        result
    }

    /// `cmap_track_add`: notifications for `key` (a prefix with [`track::PREFIX`]) on the
    /// events in `flags`; returns the track handle the notifications carry.
    pub fn track_add(&self, key: &str, flags: u32) -> Result<u64, CsError> {
        match self.call(&CmapRequest::TrackAdd { key: key.into(), flags })? {
            CmapResponse::TrackAdd { error, track } => CsError::check(error).map(|()| track),
            _ => Err(self.wrong()),
        }
    }

    /// `cmap_track_delete`.
    pub fn track_delete(&self, track: u64) -> Result<(), CsError> {
        self.result(&CmapRequest::TrackDelete { track })
    }

    /// Waits for the next track notification.
    pub fn next_event(&self) -> Result<CmapNotify, CsError> {
        match self.event(Wait::Forever)? {
            Some(n) => Ok(n),
            None => Err(CsError::Library),
        }
    }

    /// The next track notification if one is waiting.
    pub fn try_next_event(&self) -> Result<Option<CmapNotify>, CsError> {
        self.event(Wait::No)
    }

    pub(crate) fn event(&self, wait: Wait) -> Result<Option<CmapNotify>, CsError> {
        let Some(bytes) = self.chan.next_event(wait)? else { return Ok(None) };
        CmapNotify::decode(&bytes).map(Some).map_err(|_| self.wrong())
    }
}

impl AsFd for CmapClient {
    /// The session's event socket (peer: the daemon): readable while a notification waits,
    /// POLLHUP when the daemon is gone.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.chan.event_fd()
    }
}
