//! `quorumtool monitor`: one line per change, from a V1 tracking connection.
//!
//! V1 sends a nodelist event (members, joined, left) and then the quorum event of the same
//! ring; quorate may also flip on its own (a quorum event alone). Each quorum event prints one
//! line, carrying the joined/left lists of the nodelist event of its ring when there was one.
//! The first line is the snapshot of the current state.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use quorumd_client::{Model, QuorumEvent, RingId, TrackFlags};
use serde_json::json;

use crate::fail::{connect, request_error};

/// One printed change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// When it was received.
    pub time: String,
    /// `rep.seq` in hex.
    pub ring_id: String,
    /// Quorate.
    pub quorate: bool,
    /// The members.
    pub members: Vec<u32>,
    /// Nodes that joined with this ring.
    pub joined: Vec<u32>,
    /// Nodes that left with this ring.
    pub left: Vec<u32>,
    /// The first line: the state when monitoring started.
    pub snapshot: bool,
}

fn list(ids: &[u32]) -> String {
    if ids.is_empty() {
        return "-".into();
    }
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

impl Change {
    /// The text line.
    pub fn text(&self) -> String {
        let quorate = if self.quorate { "quorate" } else { "inquorate" };
        let tag = if self.snapshot { "  (current)" } else { "" };
        format!(
            "{}  ring {}  {quorate:<9}  members {}  joined {}  left {}{tag}",
            self.time,
            self.ring_id,
            list(&self.members),
            list(&self.joined),
            list(&self.left)
        )
    }

    /// The JSON line.
    pub fn json(&self) -> String {
        json!({
            "time": self.time, "ring_id": self.ring_id, "quorate": self.quorate,
            "members": self.members, "joined": self.joined, "left": self.left, "snapshot": self.snapshot,
        })
        .to_string()
    }
}

fn ring_text(r: &RingId) -> String {
    format!("{:x}.{:x}", r.nodeid, r.seq)
}

/// Monitors until interrupted, the daemon goes away, or `count` lines were printed.
pub fn run(socket: &Path, count: Option<u64>, as_json: bool) -> Result<()> {
    let client = connect(socket, Model::V1)?;
    client.track(TrackFlags::CHANGES).map_err(|e| request_error("track", e))?;
    let mut printed = 0u64;
    let mut pending: Option<(RingId, Vec<u32>, Vec<u32>)> = None;
    let stdout = std::io::stdout();
    while count.is_none_or(|c| printed < c) {
        let event = client.next_event().map_err(|e| request_error("monitor", e))?;
        let (ring_id, quorate, members) = match event {
            QuorumEvent::Nodelist { ring_id, joined, left, .. } => {
                pending = Some((ring_id, joined, left));
                continue;
            }
            QuorumEvent::Quorum { quorate, ring_id, members } => (ring_id, quorate, members),
        };
        let (joined, left) = match pending.take() {
            Some((r, j, l)) if r == ring_id => (j, l),
            _ => (Vec::new(), Vec::new()),
        };
        let change = Change {
            time: timestamp(SystemTime::now()),
            ring_id: ring_text(&ring_id),
            quorate,
            members,
            joined,
            left,
            snapshot: printed == 0,
        };
        let line = if as_json { change.json() } else { change.text() };
        let mut out = stdout.lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        printed += 1;
    }
    Ok(())
}

/// UTC, RFC 3339 with milliseconds: `2026-11-25T16:46:06.123Z`.
pub fn timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_625_166_123);
        assert_eq!(timestamp(t), "2026-11-25T16:46:06.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }
}
