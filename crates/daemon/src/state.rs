//! The state directory: the ring seq (`ringid_<nodeid>`, 8 bytes, host order, as corosync
//! keeps it) and the tracked expected votes (`ev_tracking`, 4 bytes, host order). Writes go
//! to a temporary file that is synced and renamed, so a crash never leaves half a value; a
//! write failure is fatal for the daemon (corosync's rule: a ring id must be stored before
//! the ring is used).
//!
//! Deviation from corosync: the stored ring seq is a reservation, not the last ring's seq.
//! Corosync writes every new ring's seq without syncing it (a power cut can lose it); we sync,
//! and a sync on a busy disk can take tens of milliseconds, on the path of every membership
//! change. So a store writes `seq + RING_SEQ_RESERVE` and the rings up to that mark need no
//! write at all: one synced write per 64 rings, and the guarantee is unchanged (every seq this
//! node used is at or below the stored value, so after a restart it starts above all of them).
//! A restart therefore moves the ring seq on by up to the reserve.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use quorumd_proto::NodeId;

/// How far ahead of the ring seq in use a store reserves (64 rings of 4 seqs each).
pub const RING_SEQ_RESERVE: u64 = 256;

/// The state dir of one node.
pub struct StateDir {
    dir: PathBuf,
    ringid: PathBuf,
    ev: PathBuf,
    /// The ring seq stored on disk (read at boot, then what the last store wrote): seqs up to
    /// it are covered without a write.
    reserved: Cell<u64>,
}

impl StateDir {
    /// Creates the directory if needed (mode 0700, and its missing parents too). An existing
    /// directory that others may read or write is used, with a warning: its mode is left
    /// alone, since it may be a directory shared on purpose (`--state-dir /tmp/...`).
    pub fn open(dir: &Path, node: NodeId) -> Result<StateDir> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create state dir {}", dir.display()))?;
        let meta = fs::metadata(dir).with_context(|| format!("cannot read state dir {}", dir.display()))?;
        if !meta.is_dir() {
            bail!("state dir {} is not a directory", dir.display());
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(target: "MAIN", "state dir {} has mode {mode:04o}: other users can read or change the ring seq kept there; chmod 700 it", dir.display());
        }
        Ok(StateDir {
            dir: dir.to_path_buf(),
            ringid: dir.join(format!("ringid_{}", node.get())),
            ev: dir.join("ev_tracking"),
            reserved: Cell::new(0),
        })
    }

    /// The stored ring seq (0 when there is none yet, like corosync's fresh file): at or above
    /// every seq this node has used.
    pub fn ring_seq(&self) -> Result<u64> {
        match read_small(&self.ringid) {
            Ok(b) if b.len() == 8 => {
                let seq = u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
                self.reserved.set(self.reserved.get().max(seq));
                Ok(seq)
            }
            Ok(b) => bail!(
                "{}: expected 8 bytes, found {}; delete it to start over",
                self.ringid.display(),
                b.len()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.ringid.display())),
        }
    }

    /// The tracked expected votes, if stored.
    pub fn expected_votes(&self) -> Result<Option<u32>> {
        match read_small(&self.ev) {
            Ok(b) if b.len() == 4 => Ok(Some(u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))),
            Ok(b) => bail!("{}: expected 4 bytes, found {}; delete it to reset", self.ev.display(), b.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.ev.display())),
        }
    }

    /// Makes sure `seq` is covered by the stored value before the ring is used: no write when
    /// an earlier store reserved it, else a synced write of `seq + RING_SEQ_RESERVE`.
    pub fn store_ring_seq(&self, seq: u64) -> Result<()> {
        if seq <= self.reserved.get() {
            return Ok(());
        }
        let mark = seq.saturating_add(RING_SEQ_RESERVE);
        self.store(&self.ringid, &mark.to_ne_bytes())?;
        self.reserved.set(mark);
        Ok(())
    }

    pub fn store_expected_votes(&self, ev: u32) -> Result<()> {
        self.store(&self.ev, &ev.to_ne_bytes())
    }

    fn store(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().with_context(|| format!("cannot store {}", path.display()))
    }
}

/// Reads a state file of at most STATE_FILE_MAX bytes (ours are 4 or 8: anything longer is
/// reported as the wrong length without reading it all; a non-regular file is an error).
fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    const STATE_FILE_MAX: u64 = 64;
    let f = File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file"));
    }
    let mut out = Vec::new();
    f.take(STATE_FILE_MAX).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(dir: &Path) -> u64 {
        u64::from_ne_bytes(fs::read(dir.join("ringid_3")).unwrap().try_into().unwrap())
    }

    #[test]
    fn ring_seqs_are_reserved_ahead_and_a_restart_starts_above_every_used_seq() {
        let dir = std::env::temp_dir().join(format!("quorumd-state-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let node = NodeId::new(3).unwrap();
        let state = StateDir::open(&dir, node).unwrap();
        assert_eq!(state.ring_seq().unwrap(), 0);
        state.store_ring_seq(4).unwrap();
        assert_eq!(stored(&dir), 4 + RING_SEQ_RESERVE);
        // Covered by the reservation: nothing is written (the file is left alone).
        fs::write(dir.join("ringid_3"), 7u64.to_ne_bytes()).unwrap();
        state.store_ring_seq(8).unwrap();
        state.store_ring_seq(4 + RING_SEQ_RESERVE).unwrap();
        assert_eq!(stored(&dir), 7);
        // Past it: a new reservation.
        state.store_ring_seq(5 + RING_SEQ_RESERVE).unwrap();
        assert_eq!(stored(&dir), 5 + 2 * RING_SEQ_RESERVE);
        // After a restart the stored value is above every seq used before.
        let again = StateDir::open(&dir, node).unwrap();
        let start = again.ring_seq().unwrap();
        assert!(start >= 5 + RING_SEQ_RESERVE);
        again.store_ring_seq(start).unwrap();
        assert_eq!(stored(&dir), start, "a seq at the stored value needs no write");
        again.store_ring_seq(start + 4).unwrap();
        assert_eq!(stored(&dir), start + 4 + RING_SEQ_RESERVE);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_state_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("quorumd-state-mode-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let dir = base.join("a").join("b");
        StateDir::open(&dir, NodeId::new(1).unwrap()).unwrap();
        for d in [&base, &dir] {
            assert_eq!(fs::metadata(d).unwrap().permissions().mode() & 0o777, 0o700, "{}", d.display());
        }
        let _ = fs::remove_dir_all(&base);
    }
}
