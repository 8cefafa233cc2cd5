//! The client side of quorumd's quorum service: what `libquorum` is to corosync.
//!
//! Three layers over one connection type:
//! - [`classic`]: corosync's C semantics one to one (corosync-behaviour §1): a process-wide handle table of
//!   `u64` handles, models V0/V1, the four dispatch modes, callbacks that may call anything
//!   (finalize included), `cs_error_t` results. `libquorum.so.5` (crate `quorumd-capi`) is a
//!   thin `extern "C"` skin over it.
//! - [`QuorumClient`]: the idiomatic API: `connect`, `track(TrackFlags::CURRENT |
//!   TrackFlags::CHANGES)`, `next_event()` returning [`QuorumEvent`], `dispatch` with a
//!   closure, `AsFd` for poll loops; with the `tokio` feature a `Stream` of events.
//! - [`compat::quorum`]: the names and types of the `rust-corosync` crate's `quorum` module,
//!   so that code written for it ports by changing one `use` line.
//!
//! The library runs no threads and no runtime of its own; everything happens inside the
//! caller's calls. `getquorate` reads the daemon's state page (a read-only shared mapping,
//! module `shm_map`, the only `unsafe` code here) after checking the daemon is alive, that
//! the page is sealed as the daemon seals it, and that its heartbeat is fresh; otherwise (no
//! page, or a stopped daemon's stale page) it asks the daemon, and waits for it.
//!
//! Where the daemon lives: `$QUORUMD_SOCKET`, else [`DEFAULT_SOCKET`].
// The client is a shell in the sense of clippy.toml: it owns sockets and reads the environment.
#![allow(clippy::disallowed_methods)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod cfg;
mod channel;
pub mod classic;
mod client;
pub mod cmap;
pub mod compat;
mod conn;
pub mod cpg;
pub mod error;
mod shm_map;
#[cfg(feature = "tokio")]
pub mod stream;
pub mod votequorum;

use std::path::PathBuf;

pub use client::{QuorumClient, QuorumEvent, QuorumType};
pub use conn::Connection;
pub use error::{cs_strerror, ConnectError, CsError, CS_OK};
/// A ring id as the client API carries it (`struct quorum_ring_id`: representative and seq).
pub use quorumd_proto::ipc::WireRingId as RingId;

/// Where the daemon listens unless `QUORUMD_SOCKET` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/quorumd/quorumd.sock";

/// The socket path: `$QUORUMD_SOCKET`, else [`DEFAULT_SOCKET`]. Read at every connect.
pub fn socket_path() -> PathBuf {
    std::env::var_os("QUORUMD_SOCKET")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
}

/// `quorum_model_t`: which notifications a connection gets (corosync-behaviour §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Model {
    /// Quorum notifications only, with the ring seq but not its representative.
    V0 = 0,
    /// Nodelist notifications (members, joined, left) and quorum notifications, with full
    /// ring ids.
    V1 = 1,
}

impl Model {
    /// `QUORUM_MODEL_V0` / `QUORUM_MODEL_V1`; `None` for anything else.
    pub fn from_raw(raw: u32) -> Option<Model> {
        match raw {
            0 => Some(Model::V0),
            1 => Some(Model::V1),
            _ => None,
        }
    }
}

bitflags::bitflags! {
    /// `CS_TRACK_*` (corosync-behaviour §1.1, §1.4 trackstart).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct TrackFlags: u32 {
        /// A snapshot now (nodelist then quorum for V1).
        const CURRENT = 0x01;
        /// A snapshot now and a notification on every change.
        const CHANGES = 0x02;
        /// A notification on every change, no snapshot.
        const CHANGES_ONLY = 0x04;
    }
}

/// `cs_dispatch_flags_t` (corosync-behaviour §1.4 quorum_dispatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DispatchFlags {
    /// Wait for one event, handle it, return.
    One = 1,
    /// Handle every event already pending, never wait; `CS_OK` when none.
    All = 2,
    /// Handle events until an error (or a finalize seen after a callback).
    Blocking = 3,
    /// Handle at most one pending event; `CS_ERR_TRY_AGAIN` when none.
    OneNonblocking = 4,
}

impl DispatchFlags {
    /// The mode with this C number; `None` outside 1..=4.
    pub fn from_raw(raw: u32) -> Option<DispatchFlags> {
        match raw {
            1 => Some(DispatchFlags::One),
            2 => Some(DispatchFlags::All),
            3 => Some(DispatchFlags::Blocking),
            4 => Some(DispatchFlags::OneNonblocking),
            _ => None,
        }
    }
}
