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
//!  40  view_len     u32   entries in view (<= NODES_MAX)
//!  44  view         u32 × view_len
//! ```
//! A client must also check that the daemon is alive (its socket has not hung up): a page of
//! a dead daemon is stale, and the daemon clears `FLAG_ALIVE` when it exits cleanly.

use crate::limits::NODES_MAX;

/// Size of the page.
pub const PAGE_LEN: usize = 4096;
/// "QDSP".
pub const PAGE_MAGIC: u32 = 0x5144_5350;
/// Layout version.
pub const PAGE_VERSION: u32 = 1;
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
    /// view length
    pub const VIEW_LEN: usize = 40;
    /// view entries
    pub const VIEW: usize = 44;
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
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&page[offset::RING_SEQ..offset::RING_SEQ + 8]);
        Some(StatePage {
            flags: get32(offset::FLAGS),
            quorate: get32(offset::QUORATE),
            quorum_type: get32(offset::QUORUM_TYPE),
            ring_rep: get32(offset::RING_REP),
            ring_seq: u64::from_ne_bytes(seq),
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
            view: vec![1, 2, 3],
        };
        let mut page = vec![0u8; 8];
        page.extend(p.encode_body());
        assert_eq!(page.len(), PAGE_LEN);
        assert_eq!(StatePage::decode(&page), Some(p));
    }

    #[test]
    fn foreign_pages_are_refused() {
        assert_eq!(StatePage::decode(&[0u8; PAGE_LEN]), None);
        assert_eq!(StatePage::decode(&[0u8; 16]), None);
    }
}
