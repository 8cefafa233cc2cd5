//! From `corosync.conf` to everything the daemon runs with: the local node, peer addresses,
//! effective Totem timing, votequorum settings, crypto and the IPC access policy. Every
//! refusal names the file and line (from the config crate) or says exactly what to change.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use quorumd_config::Config;
use quorumd_proto::NodeId;

/// The parsed configuration plus where it came from.
pub struct Loaded {
    pub path: PathBuf,
    pub config: Config,
}

/// Reads `path` and the `uidgid.d/` files beside it, and parses them.
pub fn load(path: &Path) -> Result<Loaded> {
    let name = path.display().to_string();
    let bytes = fs::read(path).with_context(|| format!("cannot read {name}"))?;
    let text = quorumd_config::text_from_bytes(&bytes, &name).map_err(|e| anyhow!("{e}"))?;
    let mut includes = Vec::new();
    let dir = path.parent().unwrap_or(Path::new(".")).join("uidgid.d");
    if let Ok(entries) = fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            let fname = f.display().to_string();
            let b = fs::read(&f).with_context(|| format!("cannot read {fname}"))?;
            let t = quorumd_config::text_from_bytes(&b, &fname).map_err(|e| anyhow!("{e}"))?.to_string();
            includes.push((fname, t));
        }
    }
    let inc: Vec<(&str, &str)> = includes.iter().map(|(n, t)| (n.as_ref(), t.as_ref())).collect();
    let config = quorumd_config::parse_with_includes((&name, text), &inc).map_err(|e| anyhow!("{e}"))?;
    Ok(Loaded { path: path.to_path_buf(), config })
}

/// Where each node listens: ring0 address and the link-0 port.
pub fn peer_addresses(config: &Config) -> Result<BTreeMap<NodeId, SocketAddr>> {
    let port = config.totem.mcastport(0);
    let mut out = BTreeMap::new();
    for n in &config.nodelist {
        let addr = n.addr(0).ok_or_else(|| anyhow!("{}: node {} has no ring0_addr", n.at, n.nodeid))?;
        let ip = match addr.ip {
            Some(ip) => ip,
            None => {
                resolve(&addr.text).with_context(|| format!("{}: cannot resolve '{}'", n.at, addr.text))?
            }
        };
        out.insert(n.nodeid, SocketAddr::new(ip, port));
    }
    Ok(out)
}

fn resolve(host: &str) -> Result<IpAddr> {
    (host, 0).to_socket_addrs()?.next().map(|a| a.ip()).ok_or_else(|| anyhow!("no address"))
}

/// Picks the local node: `--nodeid`, else `totem.nodeid`, else the one nodelist entry whose
/// address can be bound here.
pub fn local_node(config: &Config, cli: Option<u32>, peers: &BTreeMap<NodeId, SocketAddr>) -> Result<NodeId> {
    let wanted = match cli {
        Some(raw) => Some(NodeId::new(raw).map_err(|e| anyhow!("--nodeid: {e}"))?),
        None => config.totem.nodeid,
    };
    if let Some(id) = wanted {
        if !peers.contains_key(&id) {
            bail!("node id {id} is not in the nodelist of {}", config.totem.at);
        }
        return Ok(id);
    }
    let local: Vec<NodeId> = peers
        .iter()
        .filter(|(_, addr)| UdpSocket::bind(SocketAddr::new(addr.ip(), 0)).is_ok())
        .map(|(id, _)| *id)
        .collect();
    match local.as_slice() {
        [one] => Ok(*one),
        [] => bail!("none of the nodelist addresses is configured on this host; use --nodeid N"),
        many => bail!(
            "several nodelist entries ({}) have addresses on this host; choose one with --nodeid N",
            many.iter().map(NodeId::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}
