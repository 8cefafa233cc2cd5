//! Datagrams dropped because they could not be opened (decryption/authentication failed) or
//! decoded, counted per source and logged rate-limited: at most one line per source per
//! [`LOG_EVERY`], carrying the count since the previous line (issue 11 item 8: 1.33 M forged
//! datagrams used to write 1.33 M warnings). The counts are in the status document.
//!
//! Memory is bounded: one entry per nodelist address (datagrams from other addresses are
//! dropped before they are opened, and counted together in one entry, whose log line names
//! the last such source).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::warn;

/// At most one log line per source per this long.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Why a datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// From an address that is not in the nodelist.
    Stranger,
    /// Decryption or authentication failed (crypto on).
    Undecryptable,
    /// It opened but did not decode, or the node refused it as malformed.
    Malformed,
}

#[derive(Default)]
struct Source {
    stranger: u64,
    undecryptable: u64,
    malformed: u64,
    /// Drops since the last log line, and when that line was written.
    unlogged: u64,
    last_log: Option<Instant>,
}

/// Per-source drop counters.
#[derive(Default)]
pub struct Drops {
    /// Key: the nodelist address, or `None` for every other source.
    by_source: BTreeMap<Option<IpAddr>, Source>,
}

impl Drops {
    /// Counts one dropped datagram from `from` (`known`: whether its address is in the
    /// nodelist) and logs it if this source has not been logged within LOG_EVERY.
    pub fn count(
        &mut self,
        now: Instant,
        from: SocketAddr,
        known: bool,
        why: Drop,
        detail: &dyn std::fmt::Display,
    ) {
        let key = known.then_some(from.ip());
        let s = self.by_source.entry(key).or_default();
        match why {
            Drop::Stranger => s.stranger += 1,
            Drop::Undecryptable => s.undecryptable += 1,
            Drop::Malformed => s.malformed += 1,
        }
        s.unlogged += 1;
        if s.last_log.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return;
        }
        let n = std::mem::take(&mut s.unlogged);
        s.last_log = Some(now);
        let what = match why {
            Drop::Stranger => "not a nodelist address",
            Drop::Undecryptable => "cannot be opened",
            Drop::Malformed => "malformed",
        };
        if n > 1 {
            warn!(target: "TOTEM", "dropped {n} datagrams from {} in the last {} s (this one {what}: {detail})", src(key, from), LOG_EVERY.as_secs());
        } else {
            warn!(target: "TOTEM", "dropped a datagram from {} ({what}: {detail})", src(key, from));
        }
    }

    /// `"dropped_datagrams":[{"source":"…","undecryptable":n,"malformed":n,"stranger":n},…]`
    /// (source `"other"` for addresses outside the nodelist).
    pub fn json_member(&self) -> String {
        let mut out = String::from("\"dropped_datagrams\":[");
        for (i, (key, s)) in self.by_source.iter().enumerate() {
            let source = key.map_or_else(|| "other".to_string(), |ip| ip.to_string());
            let _ = write!(
                out,
                "{}{{\"source\":\"{source}\",\"undecryptable\":{},\"malformed\":{},\"stranger\":{}}}",
                if i > 0 { "," } else { "" },
                s.undecryptable,
                s.malformed,
                s.stranger
            );
        }
        out.push(']');
        out
    }
}

/// Whether the node's refusal of a datagram is counted (and logged rate-limited) as
/// malformed: everything except what a healthy cluster sends in passing (a packet for a ring
/// or state this node has left, a looped-back one of its own), which is logged at debug only.
pub fn is_counted(e: &quorumd_node::DropReason) -> bool {
    use quorumd_totem::Dropped;
    !matches!(e, quorumd_node::DropReason::Protocol(Dropped::NotApplicable | Dropped::FromSelf))
}

/// A log line at most once per LOG_EVERY, with how many occurrences it stands for.
#[derive(Default)]
pub struct RateLimited {
    last: Option<Instant>,
    unlogged: u64,
}

impl RateLimited {
    /// Counts one occurrence; `Some(n)` when a line is due, standing for `n` occurrences.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        if self.last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

fn src(key: Option<IpAddr>, from: SocketAddr) -> String {
    match key {
        Some(ip) => ip.to_string(),
        None => format!("addresses outside the nodelist (last {from})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_source_and_bounded_entries() {
        let mut d = Drops::default();
        let t = Instant::now();
        let a: SocketAddr = "127.0.0.2:5405".parse().unwrap();
        for i in 0..1000u16 {
            d.count(t, a, true, Drop::Malformed, &"x");
            let stranger = SocketAddr::new(IpAddr::from([10, 0, (i >> 8) as u8, i as u8]), 1);
            d.count(t, stranger, false, Drop::Stranger, &"x");
        }
        d.count(t, a, true, Drop::Undecryptable, &"x");
        assert_eq!(d.by_source.len(), 2, "one entry per nodelist address plus one for the rest");
        let j = d.json_member();
        assert!(
            j.contains("{\"source\":\"127.0.0.2\",\"undecryptable\":1,\"malformed\":1000,\"stranger\":0}"),
            "{j}"
        );
        assert!(
            j.contains("{\"source\":\"other\",\"undecryptable\":0,\"malformed\":0,\"stranger\":1000}"),
            "{j}"
        );
        // Logged once per LOG_EVERY: the 1000 drops since the first line are still unlogged.
        assert_eq!(d.by_source[&Some(a.ip())].unlogged, 1000);
        d.count(t + LOG_EVERY, a, true, Drop::Malformed, &"x");
        assert_eq!(d.by_source[&Some(a.ip())].unlogged, 0);
    }
}
