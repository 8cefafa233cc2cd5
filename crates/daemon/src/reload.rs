//! The daemon's side of a configuration reload (SIGHUP, or `quorumtool reload` through the
//! node's `NodeEvent::ReloadRequested`): read the file again with every check
//! of the start ([`crate::check::prepare`]), refuse what cannot change while running, then hand
//! the new node parameters to the node ([`quorumd_node::Node::reload`]) and, once it accepted
//! them, switch the peers, the roster and the logging. A file with any error changes nothing
//! and the error, with its line, is logged. Declared inside `run` (it works on the daemon's
//! state).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use quorumd_config::Config;
use quorumd_node::NodeParams;
use quorumd_proto::NodeId;
use tracing::{info, warn};

use super::{Daemon, Roster};

/// A new configuration that passed every check.
pub(super) struct Reloaded {
    pub config: Config,
    pub params: NodeParams,
    pub peers: BTreeMap<NodeId, SocketAddr>,
    pub links: BTreeMap<quorumd_proto::LinkId, BTreeMap<NodeId, SocketAddr>>,
}

/// Reads `path` again for node `my_id` and checks that it differs from the `running`
/// configuration only in what can change at run time.
pub(super) fn prepare(
    path: &Path,
    my_id: NodeId,
    running: &Config,
    peers: &BTreeMap<NodeId, SocketAddr>,
) -> Result<Reloaded> {
    let p = crate::check::prepare(path, Some(my_id.get()))?;
    if p.config.totem.cluster_name != running.totem.cluster_name {
        bail!("cluster_name cannot change at run time: restart the cluster instead");
    }
    let crypto = |c: &Config| (c.totem.effective_crypto(), c.totem.keyfile.clone());
    if crypto(&p.config) != crypto(running) {
        bail!("the crypto settings cannot change at run time: restart the cluster instead");
    }
    for (id, addr) in &p.peers {
        if let Some(old) = peers.get(id).filter(|old| *old != addr) {
            bail!("node {id}'s address would change from {old} to {addr}: remove the node, reload, then add it back");
        }
    }
    // The link sockets are bound at start: links, their settings and a kept node's addresses
    // on them stay as they are.
    let link_settings = |c: &Config| (c.links(), c.totem.link_mode(), c.totem.interfaces.clone());
    if link_settings(&p.config) != link_settings(running) {
        bail!("the links and their settings (ringN_addr keys, interface blocks, link_mode) cannot change at run time: restart the cluster instead");
    }
    for n in &p.config.nodelist {
        let Some(old) = running.node_by_id(n.nodeid) else { continue };
        if let Some((l, a)) = n.links().find(|(l, a)| old.addr(*l).is_some_and(|o| o.text != a.text)) {
            bail!(
                "node {}'s address on link {l} would change to {}: remove the node, reload, then add it back",
                n.nodeid,
                a.text
            );
        }
    }
    p.log.check()?;
    let mut params = p.params;
    // The node rewrites its configuration keys in cmap from these (what a start would show).
    params.cmap = quorumd_cmap::config_keys(&p.config);
    Ok(Reloaded { config: p.config, params, peers: p.peers, links: p.links })
}

impl Roster {
    /// The roster of the new nodelist; nodes kept keep what is known about them.
    fn reconfigured(
        mut self,
        config: &Config,
        peers: &BTreeMap<NodeId, SocketAddr>,
        names: &BTreeMap<NodeId, String>,
    ) -> Roster {
        let mut new = Roster::new(config, peers, names);
        for (id, n) in &mut new.nodes {
            if let Some(old) = self.nodes.remove(id) {
                n.member = old.member;
                n.since_ms = old.since_ms;
            }
        }
        new
    }
}

impl Daemon {
    /// SIGHUP or a client's request: reload the configuration; all or nothing. Returns what
    /// changed, or why nothing did (both are logged too).
    pub(super) fn reload(&mut self) -> Result<String, String> {
        let now = self.now();
        let my_id = self.node.my_id();
        let applied = prepare(&self.config_path, my_id, &self.config, &self.peers).and_then(|r| {
            let changes = self.node.reload(now, r.params.clone()).map_err(|e| anyhow!(e))?;
            Ok((r, changes))
        });
        let (r, changes) = match applied {
            Ok(x) => x,
            Err(e) => {
                let why = format!("configuration reload refused, nothing changed: {e:#}");
                warn!(target: "MAIN", "{why}");
                return Err(why);
            }
        };
        if let Err(e) = crate::logging::reload(&r.config.logging) {
            warn!(target: "MAIN", "logging kept as it was: {e:#}");
        }
        for w in &r.config.warnings {
            warn!(target: "MAIN", "{w}");
        }
        self.by_ip = super::by_ip(&r.links);
        self.link_peers = r.links;
        let roster = std::mem::replace(&mut self.roster, Roster { nodes: BTreeMap::new() });
        self.roster = roster.reconfigured(&r.config, &r.peers, &r.params.names);
        self.peers = r.peers;
        self.config = r.config;
        let what = if changes.is_empty() { "nothing changed".to_string() } else { changes.join("; ") };
        let done = format!("configuration {} reloaded: {what}", self.config_path.display());
        info!(target: "MAIN", "{done}");
        Ok(done)
    }
}
