//! The read-only state page the daemon publishes for `quorum_getquorate` without a round trip.
//!
//! The daemon keeps one memfd of [`PAGE_LEN`] bytes, hands it to each client that passed
//! `Init` (as `SCM_RIGHTS` ancillary data on the `Init` response), and rewrites it after every
//! input that changes what clients see, before any notification about that change is sent.
//! Clients map it read-only. A seqlock guards it: the writer stores an odd `seq`, the body,
//! then the next even `seq`; a reader retries while `seq` is odd or changed under it.
//!
//! Layout (native endianness: the page never leaves the host; every field naturally aligned):
//! ```text
//!   0  seq          u64   seqlock counter (odd while being written)
//!   8  magic        u32   PAGE_MAGIC
//!  12  version      u32   PAGE_VERSION
//!  16  flags        u32   FLAG_* bits
//!  20  quorate      u32   what getquorate returns (0/1)
//!  24  quorum_type  u32   QUORUM_SET / QUORUM_FREE
//!  28  ring_rep     u32   ring of the last quorum notification
//!  32  ring_seq     u64
//!  40  heartbeat_ms u64   CLOCK_MONOTONIC of the daemon's last write, in milliseconds
//!  48  stale_after  u32   the freshness bound the daemon promises, in milliseconds
//!  52  view_len     u32   entries in view (<= NODES_MAX)
//!  56  view         u32 × view_len
//! ```
//! A client must also check that the daemon is alive (its socket has not hung up): a page of
//! a dead daemon is stale, and the daemon clears `FLAG_ALIVE` when it exits cleanly.
//!
//! # Freshness
//!
//! A daemon that is stopped (SIGSTOP, a debugger, a VM pause, swapped out) keeps its socket
//! open and its page says whatever it said when it stopped, while the other nodes form a ring
//! without it after the token timeout. So the daemon rewrites `heartbeat_ms` at least every
//! [`heartbeat_period_ms`] (derived from `stale_after`), and a reader trusts the page only while
//! [`page_is_fresh`] holds for it; otherwise it asks the daemon over its socket, which waits
//! for the daemon as Corosync's call does. `stale_after` is [`stale_after_ms`] of the token
//! timeout: at most half the token timeout (so well before the others can form a ring without
//! the frozen node, which takes at least the token timeout plus the consensus timeout) and at
//! most [`STALE_AFTER_MAX_MS`]. With the default token of 1000 ms: stale after 500 ms, refreshed
//! every 200 ms.

use crate::limits::NODES_MAX;

/// Size of the page.
pub const PAGE_LEN: usize = 4096;
/// "QDSP".
pub const PAGE_MAGIC: u32 = 0x5144_5350;
/// Layout version (2: `heartbeat_ms` and `stale_after` added).
pub const PAGE_VERSION: u32 = 2;
/// The daemon is running (cleared on clean exit).
pub const FLAG_ALIVE: u32 = 1;

/// Byte offsets.
pub mod offset {
    /// seqlock
    pub const SEQ: usize = 0;
    /// magic
    pub const MAGIC: usize = 8;
    /// version
    pub const VERSION: usize = 12;
    /// flags
    pub const FLAGS: usize = 16;
    /// quorate
    pub const QUORATE: usize = 20;
    /// quorum type
    pub const QUORUM_TYPE: usize = 24;
    /// ring rep
    pub const RING_REP: usize = 28;
    /// ring seq
    pub const RING_SEQ: usize = 32;
    /// heartbeat (CLOCK_MONOTONIC milliseconds)
    pub const HEARTBEAT: usize = 40;
    /// freshness bound (milliseconds)
    pub const STALE_AFTER: usize = 48;
    /// view length
    pub const VIEW_LEN: usize = 52;
    /// view entries
    pub const VIEW: usize = 56;
}

/// The longest a page may go unrefreshed and still be trusted, whatever the token timeout.
pub const STALE_AFTER_MAX_MS: u64 = 500;
/// The shortest freshness bound: below this, scheduling noise on a busy host would send most
/// calls to the socket for nothing.
pub const STALE_AFTER_MIN_MS: u64 = 50;

/// The freshness bound for a token timeout of `token_ms`: half of it, within
/// [`STALE_AFTER_MIN_MS`]..=[`STALE_AFTER_MAX_MS`]. Half the token leaves the other nodes' token
/// loss detection (`token_ms`) plus their consensus timeout as margin before they can form a
/// ring without a frozen node. (1000 ms -> 500 ms.)
pub const fn stale_after_ms(token_ms: u64) -> u64 {
    let half = token_ms / 2;
    if half < STALE_AFTER_MIN_MS {
        STALE_AFTER_MIN_MS
    } else if half > STALE_AFTER_MAX_MS {
        STALE_AFTER_MAX_MS
    } else {
        half
    }
}

/// How often the daemon rewrites the heartbeat for a freshness bound of `stale_after_ms`: two
/// fifths of it (500 ms -> 200 ms), so a refresh may run up to 3/5 of the bound late (a busy
/// event loop) before readers see the page as stale.
pub const fn heartbeat_period_ms(stale_after_ms: u64) -> u64 {
    stale_after_ms * 2 / 5
}

/// Whether a page whose heartbeat says `heartbeat_ms` may be trusted at `now_ms` (both
/// CLOCK_MONOTONIC milliseconds; the reader takes `now_ms` *after* reading the page, so a
/// heartbeat from the same clock is never ahead of it). A heartbeat ahead of `now_ms` comes
/// from another clock (a reader in another time namespace) and is not trusted.
pub const fn page_is_fresh(heartbeat_ms: u64, now_ms: u64, stale_after_ms: u64) -> bool {
    heartbeat_ms <= now_ms && now_ms - heartbeat_ms <= stale_after_ms
}

const _: () = assert!(offset::VIEW + NODES_MAX * 4 <= PAGE_LEN);

/// The page's contents apart from the seqlock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatePage {
    /// FLAG_* bits.
    pub flags: u32,
    /// 0/1.
    pub quorate: u32,
    /// QUORUM_SET (1) or QUORUM_FREE (0).
    pub quorum_type: u32,
    /// Ring rep.
    pub ring_rep: u32,
    /// Ring seq.
    pub ring_seq: u64,
    /// CLOCK_MONOTONIC milliseconds of this write.
    pub heartbeat_ms: u64,
    /// The freshness bound readers apply ([`stale_after_ms`] of the token timeout).
    pub stale_after_ms: u32,
    /// The view list (cut at NODES_MAX).
    pub view: Vec<u32>,
}

impl StatePage {
    /// The body bytes from offset 8 to the end of the page (the writer stores `seq` itself).
    pub fn encode_body(&self) -> Vec<u8> {
        let mut page = vec![0u8; PAGE_LEN];
        let put32 = |p: &mut Vec<u8>, at: usize, v: u32| p[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        put32(&mut page, offset::MAGIC, PAGE_MAGIC);
        put32(&mut page, offset::VERSION, PAGE_VERSION);
        put32(&mut page, offset::FLAGS, self.flags);
        put32(&mut page, offset::QUORATE, self.quorate);
        put32(&mut page, offset::QUORUM_TYPE, self.quorum_type);
        put32(&mut page, offset::RING_REP, self.ring_rep);
        page[offset::RING_SEQ..offset::RING_SEQ + 8].copy_from_slice(&self.ring_seq.to_ne_bytes());
        page[offset::HEARTBEAT..offset::HEARTBEAT + 8].copy_from_slice(&self.heartbeat_ms.to_ne_bytes());
        put32(&mut page, offset::STALE_AFTER, self.stale_after_ms);
        let n = self.view.len().min(NODES_MAX);
        put32(&mut page, offset::VIEW_LEN, n as u32);
        for (i, v) in self.view[..n].iter().enumerate() {
            put32(&mut page, offset::VIEW + 4 * i, *v);
        }
        page.split_off(offset::MAGIC)
    }

    /// Reads a whole page image (for tests and for readers that copied the page under the
    /// seqlock). `None` if magic or version do not match or the length is out of bounds.
    pub fn decode(page: &[u8]) -> Option<StatePage> {
        if page.len() < PAGE_LEN {
            return None;
        }
        let get32 = |at: usize| u32::from_ne_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]]);
        if get32(offset::MAGIC) != PAGE_MAGIC || get32(offset::VERSION) != PAGE_VERSION {
            return None;
        }
        let n = get32(offset::VIEW_LEN) as usize;
        if n > NODES_MAX {
            return None;
        }
        let get64 = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&page[at..at + 8]);
            u64::from_ne_bytes(b)
        };
        Some(StatePage {
            flags: get32(offset::FLAGS),
            quorate: get32(offset::QUORATE),
            quorum_type: get32(offset::QUORUM_TYPE),
            ring_rep: get32(offset::RING_REP),
            ring_seq: get64(offset::RING_SEQ),
            heartbeat_ms: get64(offset::HEARTBEAT),
            stale_after_ms: get32(offset::STALE_AFTER),
            view: (0..n).map(|i| get32(offset::VIEW + 4 * i)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_round_trips() {
        let p = StatePage {
            flags: FLAG_ALIVE,
            quorate: 1,
            quorum_type: 1,
            ring_rep: 1,
            ring_seq: 0x1e,
            heartbeat_ms: 123_456,
            stale_after_ms: 500,
            view: vec![1, 2, 3],
        };
        let mut page = vec![0u8; 8];
        page.extend(p.encode_body());
        assert_eq!(page.len(), PAGE_LEN);
        assert_eq!(StatePage::decode(&page), Some(p));
    }

    #[test]
    fn freshness_rule() {
        assert_eq!(stale_after_ms(1000), 500);
        assert_eq!(heartbeat_period_ms(stale_after_ms(1000)), 200);
        assert_eq!(stale_after_ms(60_000), STALE_AFTER_MAX_MS);
        assert_eq!(stale_after_ms(10), STALE_AFTER_MIN_MS);
        for token in [10, 100, 300, 1000, 3000] {
            let bound = stale_after_ms(token);
            assert!(heartbeat_period_ms(bound) > 0 && heartbeat_period_ms(bound) < bound);
            assert!(bound <= (token / 2).max(STALE_AFTER_MIN_MS));
        }
        assert!(page_is_fresh(1000, 1000, 500));
        assert!(page_is_fresh(1000, 1500, 500));
        assert!(!page_is_fresh(1000, 1501, 500));
        assert!(!page_is_fresh(2000, 1000, 500), "a heartbeat from another clock");
        assert!(!page_is_fresh(0, u64::MAX, 500));
    }

    #[test]
    fn foreign_pages_are_refused() {
        assert_eq!(StatePage::decode(&[0u8; PAGE_LEN]), None);
        assert_eq!(StatePage::decode(&[0u8; 16]), None);
    }
}
