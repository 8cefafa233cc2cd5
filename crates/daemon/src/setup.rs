//! From `corosync.conf` to everything the daemon runs with: the local node, peer addresses,
//! effective Totem timing, votequorum settings, crypto and the IPC access policy. Every
//! refusal names the file and line (from the config crate) or says exactly what to change.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use quorumd_config::Config;
use quorumd_proto::{LinkId, NodeId};

/// The parsed configuration plus where it came from.
pub struct Loaded {
    pub path: PathBuf,
    pub config: Config,
}

/// Largest configuration file read (corosync.conf or a `uidgid.d/` file).
pub const CONFIG_FILE_MAX: u64 = 1 << 20;

/// Reads a whole file of at most `limit` bytes. Refuses anything but a regular file (a
/// device such as /dev/zero, a FIFO, a directory) and a larger file, with an error that says
/// which, instead of reading without bound. Never reads more than `limit + 1` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let name = path.display();
    // O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .with_context(|| format!("cannot read {name}"))?;
    let meta = file.metadata().with_context(|| format!("cannot read {name}"))?;
    if !meta.file_type().is_file() {
        bail!("cannot read {name}: not a regular file");
    }
    if meta.len() > limit {
        bail!("cannot read {name}: {} bytes, more than the {limit} bytes allowed", meta.len());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {name}"))?;
    if bytes.len() as u64 > limit {
        bail!("cannot read {name}: more than the {limit} bytes allowed");
    }
    Ok(bytes)
}

/// Reads `path` and the `uidgid.d/` files beside it, and parses them.
pub fn load(path: &Path) -> Result<Loaded> {
    let name = path.display().to_string();
    let bytes = read_bounded(path, CONFIG_FILE_MAX)?;
    let text = quorumd_config::text_from_bytes(&bytes, &name).map_err(|e| anyhow!("{e}"))?;
    let mut includes = Vec::new();
    let dir = path.parent().unwrap_or(Path::new(".")).join("uidgid.d");
    if let Ok(entries) = fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            let fname = f.display().to_string();
            let b = read_bounded(&f, CONFIG_FILE_MAX)?;
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

/// Where each node listens on each link: its `ringL_addr` (resolved) and link L's port. The
/// addresses of one link must be of one family (a name may resolve to either).
pub fn link_addresses(config: &Config) -> Result<BTreeMap<LinkId, BTreeMap<NodeId, SocketAddr>>> {
    let mut out = BTreeMap::new();
    for l in config.links() {
        let link = LinkId::new(u32::from(l)).map_err(|_| anyhow!("link {l} is out of range"))?;
        let port = config.totem.mcastport(l);
        let mut addrs: BTreeMap<NodeId, SocketAddr> = BTreeMap::new();
        for n in &config.nodelist {
            let addr = n.addr(l).ok_or_else(|| anyhow!("{}: node {} has no ring{l}_addr", n.at, n.nodeid))?;
            let ip = match addr.ip {
                Some(ip) => ip,
                None => resolve(&addr.text)
                    .with_context(|| format!("{}: cannot resolve '{}'", n.addr_location(l), addr.text))?,
            };
            if let Some((first, a)) = addrs.iter().next().filter(|(_, a)| a.is_ipv4() != ip.is_ipv4()) {
                bail!(
                    "{}: ring{l}_addr '{}' is {ip}, but node {first} is on {} on link {l}: one link is one IP family",
                    n.addr_location(l),
                    addr.text,
                    a.ip()
                );
            }
            addrs.insert(n.nodeid, SocketAddr::new(ip, port));
        }
        out.insert(link, addrs);
    }
    Ok(out)
}

/// Every address of node `me` on any link can be bound here (its socket will be).
pub fn check_local_links(me: NodeId, links: &BTreeMap<LinkId, BTreeMap<NodeId, SocketAddr>>) -> Result<()> {
    for (link, addrs) in links {
        let Some(addr) = addrs.get(&me) else { bail!("node {me} has no address on link {link}") };
        if let Err(e) = UdpSocket::bind(SocketAddr::new(addr.ip(), 0)) {
            bail!("link {link}: this node's address {} is not usable on this host: {e}", addr.ip());
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_and_only_of_regular_files() {
        let e = read_bounded(Path::new("/dev/zero"), 100).unwrap_err().to_string();
        assert!(e.contains("/dev/zero: not a regular file"), "{e}");
        let e = read_bounded(Path::new("/"), 100).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let dir = std::env::temp_dir().join(format!("quorumd-bounded-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        fs::write(&f, [7u8; 101]).unwrap();
        let e = read_bounded(&f, 100).unwrap_err().to_string();
        assert!(e.contains("101 bytes, more than the 100 bytes allowed"), "{e}");
        assert_eq!(read_bounded(&f, 101).unwrap().len(), 101);
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read_bounded(&fifo, 100).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let _ = fs::remove_dir_all(&dir);
    }
}
