//! The state directory: the ring seq (`ringid_<nodeid>`, 8 bytes, host order, as corosync
//! keeps it) and the tracked expected votes (`ev_tracking`, 4 bytes, host order). Writes go
//! to a temporary file that is synced and renamed, so a crash never leaves half a value; a
//! write failure is fatal for the daemon (corosync's rule: a ring id must be stored before
//! the ring is used).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use quorumd_proto::NodeId;

/// The state dir of one node.
pub struct StateDir {
    dir: PathBuf,
    ringid: PathBuf,
    ev: PathBuf,
}

impl StateDir {
    /// Creates the directory if needed (mode 0700).
    pub fn open(dir: &Path, node: NodeId) -> Result<StateDir> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create state dir {}", dir.display()))?;
        Ok(StateDir {
            dir: dir.to_path_buf(),
            ringid: dir.join(format!("ringid_{}", node.get())),
            ev: dir.join("ev_tracking"),
        })
    }

    /// The stored ring seq (0 when there is none yet, like corosync's fresh file).
    pub fn ring_seq(&self) -> Result<u64> {
        match fs::read(&self.ringid) {
            Ok(b) if b.len() == 8 => Ok(u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))),
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
        match fs::read(&self.ev) {
            Ok(b) if b.len() == 4 => Ok(Some(u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))),
            Ok(b) => bail!("{}: expected 4 bytes, found {}; delete it to reset", self.ev.display(), b.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.ev.display())),
        }
    }

    pub fn store_ring_seq(&self, seq: u64) -> Result<()> {
        self.store(&self.ringid, &seq.to_ne_bytes())
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
