//! Read-only mapping of the daemon's state page (`quorumd_proto::shm`), read under its seqlock.
//!
//! A page is mapped only if it carries the seals this reader relies on ([`REQUIRED_SEALS`]):
//! `F_SEAL_SHRINK` (a shorter file would make loads raise SIGBUS), `F_SEAL_GROW`,
//! `F_SEAL_FUTURE_WRITE` (nobody but the daemon's own earlier mapping can change it: no other
//! client can forge what this one reads) and `F_SEAL_SEAL` (the seals cannot change). A page
//! without them is refused, and getquorate asks the daemon instead.
//!
//! The only module of this crate with `unsafe` code: one `mmap`, one `munmap`, and atomic
//! loads through a pointer into the mapping. Everything it hands out is a plain value copied
//! out of the page.
//!
//! Invariants:
//! - `ptr` is the start of a live, page-aligned, read-only `MAP_SHARED` mapping of exactly
//!   [`PAGE_LEN`] bytes, created in [`PageMap::map`] and unmapped only in `Drop`;
//! - the file behind it was at least [`PAGE_LEN`] bytes long when mapped;
//! - every read is an atomic load of a naturally aligned `u32`/`u64` inside the page, so a
//!   concurrent writer in another process is never a data race in the Rust sense; torn
//!   *combinations* of fields are what the seqlock detects.
#![allow(unsafe_code)]

use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use quorumd_proto::shm::{offset, PAGE_LEN, PAGE_MAGIC, PAGE_VERSION};
use rustix::fs::SealFlags;
use rustix::mm::{MapFlags, ProtFlags};

/// The seals a state page must carry to be mapped.
pub(crate) const REQUIRED_SEALS: SealFlags =
    SealFlags::SHRINK.union(SealFlags::GROW).union(SealFlags::FUTURE_WRITE).union(SealFlags::SEAL);

/// How many times a reader retries a page that is being written before giving up (the
/// writer holds the odd `seq` for a few hundred nanoseconds; a daemon that died in the
/// middle of a write leaves it odd forever).
const SEQLOCK_TRIES: u32 = 10_000;

/// The fields `getquorate` needs, read consistently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageState {
    /// `FLAG_*` bits.
    pub(crate) flags: u32,
    /// 0/1.
    pub(crate) quorate: u32,
    /// `QUORUM_SET` / `QUORUM_FREE`.
    pub(crate) quorum_type: u32,
    /// Ring rep and seq of the last quorum notification.
    pub(crate) ring: (u32, u64),
    /// CLOCK_MONOTONIC milliseconds of the daemon's last write.
    pub(crate) heartbeat_ms: u64,
    /// The freshness bound the daemon set.
    pub(crate) stale_after_ms: u32,
}

/// A read-only mapping of the state page.
#[derive(Debug)]
pub(crate) struct PageMap {
    ptr: NonNull<u8>,
}

// SAFETY: the mapping is process-wide memory that stays valid until `Drop`; every access
// through `ptr` is an atomic load, so sharing it between threads is sound.
unsafe impl Send for PageMap {}
// SAFETY: as above: `&PageMap` only allows atomic loads.
unsafe impl Sync for PageMap {}

impl PageMap {
    /// Maps `fd` read-only if it is a page of the expected size, seals, magic and version.
    pub(crate) fn map(fd: impl AsFd) -> Option<PageMap> {
        let seals = rustix::fs::fcntl_get_seals(&fd).ok()?;
        if !seals.contains(REQUIRED_SEALS) {
            return None;
        }
        let stat = rustix::fs::fstat(&fd).ok()?;
        // A shorter file would make loads past its end raise SIGBUS.
        if u64::try_from(stat.st_size).ok()? < PAGE_LEN as u64 {
            return None;
        }
        // SAFETY: a fresh mapping (null hint, no MAP_FIXED) cannot alias any Rust object; it
        // is read-only and shared, the length is the page size checked against the file size
        // above, offset 0. The kernel keeps the mapping alive after `fd` is closed.
        let raw = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), PAGE_LEN, ProtFlags::READ, MapFlags::SHARED, &fd, 0)
        }
        .ok()?;
        let map = PageMap { ptr: NonNull::new(raw.cast::<u8>())? };
        let ok = map.load32(offset::MAGIC) == PAGE_MAGIC && map.load32(offset::VERSION) == PAGE_VERSION;
        ok.then_some(map)
    }

    fn load32(&self, at: usize) -> u32 {
        debug_assert!(at % 4 == 0 && at + 4 <= PAGE_LEN);
        // SAFETY: `at` is one of the page's 4-aligned field offsets (all < PAGE_LEN - 4) and the
        // mapping is page-aligned, so the pointer is in bounds and aligned for `AtomicU32`; the
        // mapping lives as long as `self` (invariant above). Only atomic loads are made, and
        // `AtomicU32` has the same layout as `u32`.
        let cell = unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(at).cast::<u32>()) };
        cell.load(Ordering::Relaxed)
    }

    fn load64(&self, at: usize, order: Ordering) -> u64 {
        debug_assert!(at % 8 == 0 && at + 8 <= PAGE_LEN);
        // SAFETY: as in `load32`, with an 8-aligned offset (`SEQ` = 0, `RING_SEQ` = 32,
        // `HEARTBEAT` = 40).
        let cell = unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(at).cast::<u64>()) };
        cell.load(order)
    }

    /// One consistent reading of the page (seqlock: retry while `seq` is odd or moved), or
    /// `None` if the writer never let go or the page stopped looking like ours.
    pub(crate) fn read(&self) -> Option<PageState> {
        for _ in 0..SEQLOCK_TRIES {
            let seq = self.load64(offset::SEQ, Ordering::Acquire);
            if seq & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let magic = self.load32(offset::MAGIC);
            let version = self.load32(offset::VERSION);
            let state = PageState {
                flags: self.load32(offset::FLAGS),
                quorate: self.load32(offset::QUORATE),
                quorum_type: self.load32(offset::QUORUM_TYPE),
                ring: (self.load32(offset::RING_REP), self.load64(offset::RING_SEQ, Ordering::Relaxed)),
                heartbeat_ms: self.load64(offset::HEARTBEAT, Ordering::Relaxed),
                stale_after_ms: self.load32(offset::STALE_AFTER),
            };
            // Orders the field loads before the second `seq` load (the reader side of a
            // seqlock: an acquire fence, then a relaxed re-read).
            fence(Ordering::Acquire);
            if self.load64(offset::SEQ, Ordering::Relaxed) == seq {
                return (magic == PAGE_MAGIC && version == PAGE_VERSION).then_some(state);
            }
        }
        None
    }
}

impl Drop for PageMap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`PAGE_LEN` is exactly the mapping made in `map`, unmapped only here;
        // no reference into it outlives `self` (readers copy values out).
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), PAGE_LEN) };
    }
}

/// CLOCK_MONOTONIC in milliseconds (the clock of the page's heartbeat).
pub(crate) fn monotonic_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).saturating_mul(1000).saturating_add(t.tv_nsec as u64 / 1_000_000)
}
