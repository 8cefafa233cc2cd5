//! The read-only state page (layout in `quorumd_proto::shm`): a memfd the daemon rewrites
//! under a seqlock after every input and at least every `heartbeat_period_ms`, and a
//! read-only descriptor of it that is handed to each client with its `Init` reply.
//!
//! The page is the daemon's alone, by every path:
//! - the memfd is `fchmod`ed to 0444, so a client that is not root cannot reopen the
//!   descriptor it received read-write through `/proc/self/fd/N`;
//! - it is sealed `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL`: nobody,
//!   root included, can resize it, write it with `write(2)`, map it writable, or change the
//!   seals again. The daemon writes through the one writable shared mapping it made *before*
//!   sealing (`F_SEAL_FUTURE_WRITE` leaves existing mappings writable), so its writes are
//!   plain stores that cannot fail once the page exists: no write error can stop the daemon;
//! - clients refuse a page without these seals (`quorumd_client`'s `shm_map`).
//!
//! The only module of the daemon with `unsafe` code: one `mmap`, one `munmap` and atomic
//! stores through a pointer into the mapping.
//!
//! Invariants:
//! - `ptr` is the start of a live, page-aligned, writable `MAP_SHARED` mapping of exactly
//!   [`PAGE_LEN`] bytes of a file that is [`PAGE_LEN`] bytes long and can never shrink,
//!   created in [`Page::new`] and unmapped only in `Drop`;
//! - every access through `ptr` is an atomic store of a naturally aligned `u32`/`u64` inside
//!   the page: readers in other processes load the same words concurrently, and the seqlock
//!   (odd `seq` while writing) tells them when a combination of fields may be torn.
#![allow(unsafe_code)]

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use anyhow::{Context, Result};
use quorumd_proto::shm::{offset, StatePage, FLAG_ALIVE, PAGE_LEN};
use rustix::fs::{memfd_create, MemfdFlags, Mode, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};

/// The seals every page carries (and that clients check for).
pub const SEALS: SealFlags =
    SealFlags::SHRINK.union(SealFlags::GROW).union(SealFlags::FUTURE_WRITE).union(SealFlags::SEAL);

pub struct Page {
    ptr: NonNull<u8>,
    ro: OwnedFd,
    seq: u64,
    /// What the page holds (its heartbeat included); `None` before the first publish.
    last: Option<StatePage>,
}

impl Page {
    pub fn new() -> Result<Page> {
        let rw = memfd_create(c"quorumd-state", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
            .context("memfd_create")?;
        rustix::fs::ftruncate(&rw, PAGE_LEN as u64).context("ftruncate state page")?;
        // SAFETY: a fresh mapping (null hint, no MAP_FIXED) cannot alias any Rust object; the
        // length is PAGE_LEN and the file was just sized to PAGE_LEN, offset 0. It is made
        // before F_SEAL_FUTURE_WRITE, which leaves it writable, and outlives `rw` (the kernel
        // keeps the file alive while it is mapped).
        let raw = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                PAGE_LEN,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &rw,
                0,
            )
        }
        .context("map state page")?;
        let ptr = NonNull::new(raw.cast::<u8>()).context("map state page: null")?;
        // Built now so that `Drop` unmaps on every error path below.
        let mut page = Page { ptr, ro: rw, seq: 0, last: None };
        rustix::fs::fchmod(&page.ro, Mode::from_raw_mode(0o444)).context("chmod state page")?;
        // A read-only open of the same file: clients can map it but never write through it.
        let path = format!("/proc/self/fd/{}", page.ro.as_raw_fd());
        let ro: OwnedFd =
            OpenOptions::new().read(true).open(&path).context("reopen state page read-only")?.into();
        rustix::fs::fcntl_add_seals(&page.ro, SEALS).context("seal state page")?;
        page.ro = ro; // closes the writable descriptor: only the mapping can write now
        Ok(page)
    }

    /// The descriptor to hand to clients.
    pub fn client_fd(&self) -> BorrowedFd<'_> {
        self.ro.as_fd()
    }

    fn cell32(&self, at: usize) -> &AtomicU32 {
        assert!(at % 4 == 0 && at + 4 <= PAGE_LEN);
        // SAFETY: `at` is 4-aligned and inside the page (checked above), the mapping is
        // page-aligned and lives as long as `self` (invariant), so the pointer is valid and
        // aligned for `AtomicU32`, which has the layout of `u32`. Only atomic accesses are made
        // through it, here and (in other processes) by readers.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(at).cast::<u32>()) }
    }

    fn cell64(&self, at: usize) -> &AtomicU64 {
        assert!(at % 8 == 0 && at + 8 <= PAGE_LEN);
        // SAFETY: as in `cell32`, with an 8-aligned offset.
        unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(at).cast::<u64>()) }
    }

    /// One seqlock write: odd `seq`, `body`, even `seq`.
    fn write(&mut self, body: impl FnOnce(&Page)) {
        self.seq += 1; // odd: being written
        self.cell64(offset::SEQ).store(self.seq, Ordering::Relaxed);
        // Readers that see any of the stores below also see the odd seq.
        fence(Ordering::Release);
        body(self);
        self.seq += 1; // even: stable
        self.cell64(offset::SEQ).store(self.seq, Ordering::Release);
    }

    /// Publishes `page` (with a fresh heartbeat) if it differs from what is there apart from
    /// the heartbeat.
    pub fn publish(&mut self, mut page: StatePage) {
        page.heartbeat_ms = self.last.as_ref().map_or(0, |l| l.heartbeat_ms);
        if self.last.as_ref() == Some(&page) {
            return;
        }
        page.heartbeat_ms = monotonic_ms();
        let body = page.encode_body();
        self.write(|p| {
            for (i, word) in body.chunks_exact(4).enumerate() {
                let v = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
                p.cell32(offset::MAGIC + 4 * i).store(v, Ordering::Relaxed);
            }
        });
        self.last = Some(page);
    }

    /// Rewrites the heartbeat if it is `period_ms` old or older (nothing before the first
    /// publish: a page without magic is never mapped by clients). Returns when it is next due.
    pub fn refresh(&mut self, period_ms: u64) -> Option<u64> {
        let now = monotonic_ms();
        let last = self.last.as_mut()?;
        if now.saturating_sub(last.heartbeat_ms) >= period_ms {
            last.heartbeat_ms = now;
            self.write(|p| p.cell64(offset::HEARTBEAT).store(now, Ordering::Relaxed));
        }
        self.last.as_ref().map(|l| l.heartbeat_ms.saturating_add(period_ms))
    }

    /// Marks the daemon gone (clean exit).
    pub fn retire(&mut self) {
        if let Some(mut p) = self.last.clone() {
            p.flags &= !FLAG_ALIVE;
            self.publish(p);
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`PAGE_LEN` is exactly the mapping made in `new`, unmapped only here;
        // the references `cell32`/`cell64` hand out borrow `self`, so none outlives it.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), PAGE_LEN) };
    }
}

/// CLOCK_MONOTONIC in milliseconds (the clock of the page's heartbeat).
pub fn monotonic_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).saturating_mul(1000).saturating_add(t.tv_nsec as u64 / 1_000_000)
}
