//! The cluster's corosync.conf as the tool needs it: everything `what-if` feeds the simulator
//! (nodelist, totem timing keys, quorum keys, per-node votes), and the configured nodes `explain
//! --config` compares with the nodelist the daemon runs with.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use quorumd_config::Config;
use quorumd_proto::MemberList;
use quorumd_votequorum::{AtbNode, VqConfig};

/// The default corosync.conf.
pub const DEFAULT_CONFIG: &str = "/etc/corosync/corosync.conf";

/// One configured node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfNode {
    /// Node id.
    pub nodeid: u32,
    /// `name`, else the ring0 address text.
    pub name: String,
    /// `quorum_votes` (default 1).
    pub votes: u32,
}

/// A parsed corosync.conf.
#[derive(Debug)]
pub struct Cluster {
    /// Where it came from.
    pub path: PathBuf,
    /// The parsed file.
    pub config: Config,
}

impl Cluster {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Cluster> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
        let text = quorumd_config::text_from_bytes(&bytes, &name).map_err(|e| anyhow!("{e}"))?;
        // The uidgid.d/ drop-ins beside it, in name order, as the daemon reads them.
        let mut drop_ins = Vec::new();
        let dir = path.parent().unwrap_or(Path::new(".")).join("uidgid.d");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut files: Vec<PathBuf> =
                entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
            files.sort();
            for f in files {
                let fname = f.display().to_string();
                let b = std::fs::read(&f).with_context(|| format!("cannot read {fname}"))?;
                let t = quorumd_config::text_from_bytes(&b, &fname).map_err(|e| anyhow!("{e}"))?.to_string();
                drop_ins.push((fname, t));
            }
        }
        let inc: Vec<(&str, &str)> = drop_ins.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let config = quorumd_config::parse_with_includes((&name, text), &inc).map_err(|e| anyhow!("{e}"))?;
        Ok(Cluster { path: path.to_path_buf(), config })
    }

    /// The configured nodes, ascending by id.
    pub fn nodes(&self) -> Vec<ConfNode> {
        let mut out: Vec<ConfNode> = self
            .config
            .nodelist
            .iter()
            .map(|n| ConfNode {
                nodeid: n.nodeid.get(),
                name: n.name.clone().or_else(|| n.addr(0).map(|a| a.text.clone())).unwrap_or_default(),
                votes: n.votes(),
            })
            .collect();
        out.sort_by_key(|n| n.nodeid);
        out
    }

    /// The auto_tie_breaker rule, when `quorum.auto_tie_breaker` is on (for what-if's verdicts).
    pub fn auto_tie_breaker(&self) -> Option<AtbNode> {
        let nodes = MemberList::from_ids(self.config.node_ids()).ok()?;
        let keys = self.config.quorum.settings.iter().map(|s| (s.key.as_str(), s.value.as_str()));
        let vq = VqConfig::from_keys(&nodes, keys).ok()?;
        vq.auto_tie_breaker.then_some(vq.auto_tie_breaker_node)
    }
}
