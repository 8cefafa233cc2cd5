//! The read-only state page (layout in `quorumd_proto::shm`): a memfd the daemon rewrites
//! with `pwrite` under a seqlock after every input, and a read-only descriptor of it that is
//! handed to each client with its `Init` reply. No mapping on this side, so no `unsafe`.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result};
use quorumd_proto::shm::{StatePage, FLAG_ALIVE, PAGE_LEN};
use rustix::fs::{memfd_create, MemfdFlags, SealFlags};

pub struct Page {
    rw: OwnedFd,
    ro: OwnedFd,
    seq: u64,
    last: Option<StatePage>,
}

impl Page {
    pub fn new() -> Result<Page> {
        let rw = memfd_create(c"quorumd-state", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
            .context("memfd_create")?;
        rustix::fs::ftruncate(&rw, PAGE_LEN as u64).context("ftruncate state page")?;
        // Clients map the page; it must never shrink or grow under them.
        rustix::fs::fcntl_add_seals(&rw, SealFlags::SHRINK | SealFlags::GROW).context("seal state page")?;
        // A read-only open of the same file: clients can map it but never write through it.
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&rw));
        let ro: OwnedFd =
            OpenOptions::new().read(true).open(&path).context("reopen state page read-only")?.into();
        Ok(Page { rw, ro, seq: 0, last: None })
    }

    /// The descriptor to hand to clients.
    pub fn client_fd(&self) -> BorrowedFd<'_> {
        self.ro.as_fd()
    }

    /// Publishes `page` if it differs from what is there.
    pub fn publish(&mut self, mut page: StatePage) -> Result<()> {
        page.heartbeat_ms = self.last.as_ref().map_or(0, |l| l.heartbeat_ms);
        if self.last.as_ref() == Some(&page) {
            return Ok(());
        }
        page.heartbeat_ms = monotonic_ms();
        let body = page.encode_body();
        self.seq += 1; // odd: being written
        rustix::io::pwrite(&self.rw, &self.seq.to_ne_bytes(), 0).context("write state page")?;
        rustix::io::pwrite(&self.rw, &body, 8).context("write state page")?;
        self.seq += 1; // even: stable
        rustix::io::pwrite(&self.rw, &self.seq.to_ne_bytes(), 0).context("write state page")?;
        self.last = Some(page);
        Ok(())
    }

    /// Marks the daemon gone (clean exit).
    pub fn retire(&mut self) {
        if let Some(mut p) = self.last.clone() {
            p.flags &= !FLAG_ALIVE;
            let _ = self.publish(p);
        }
    }
}

/// CLOCK_MONOTONIC in milliseconds (the clock of the page's heartbeat).
pub fn monotonic_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).saturating_mul(1000).saturating_add(t.tv_nsec as u64 / 1_000_000)
}
