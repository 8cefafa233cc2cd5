//! What the daemon decides from its configuration before it binds anything, shared by the
//! start ([`prepare`], called by `run`) and by `quorumd --check-config` ([`check_config`],
//! which also tries, without creating anything, what the start would create): so "valid"
//! means "will start".
//!
//! The checks, in order: the file and its `uidgid.d/` parse; every node address resolves; this
//! node is in the nodelist and its address is local; the Totem timing and the votequorum
//! settings derive (errors cite the line the administrator wrote); `uidgid` names resolve
//! through the system's name service; with crypto on, the authkey exists, has an allowed size
//! and is owned by root or the daemon's user (its mode is warned about); the log file opens;
//! the socket and state directories are usable and the state files are readable.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use quorumd_config::uidgid::UidGidKind;
use quorumd_config::Config;
use quorumd_node::params::{self, Lookup};
use quorumd_node::{AccessPolicy, NodeParams};
use quorumd_proto::{LinkId, NodeId};
use rustix::fs::Access;

use crate::logging;
use crate::setup::{self, Loaded};
use crate::state::StateDir;

/// corosync's default authkey path.
pub const DEFAULT_KEYFILE: &str = "/etc/corosync/authkey";

/// The authkey as read and checked.
pub struct AuthKey {
    /// Where it was read.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// What is wrong with its mode, if anything (a warning, as in corosync).
    pub mode_warning: Option<String>,
}

/// Everything the start needs from the configuration, checked.
pub struct Prepared {
    /// The parsed configuration.
    pub config: Config,
    /// Where it came from.
    pub path: PathBuf,
    /// Each node's link-0 address and port.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// Each node's address and port on each link.
    pub links: BTreeMap<LinkId, BTreeMap<NodeId, SocketAddr>>,
    /// This node.
    pub my_id: NodeId,
    /// The node parameters (without what the state directory supplies).
    pub params: NodeParams,
    /// The authkey, when crypto is on.
    pub authkey: Option<AuthKey>,
    /// The logging the configuration asks for.
    pub log: logging::Plan,
}

/// The system's name service (NSS: files, LDAP, SSSD, …) for `uidgid` names.
pub fn lookup(kind: UidGidKind, name: &str) -> Lookup {
    match kind {
        UidGidKind::Uid => nix::unistd::User::from_name(name).map(|u| u.map(|u| u.uid.as_raw())),
        UidGidKind::Gid => nix::unistd::Group::from_name(name).map(|g| g.map(|g| g.gid.as_raw())),
    }
    .map_err(|e| e.to_string())
}

/// The IPC access policy of `config`, names resolved by the name service.
pub fn access_policy(config: &Config) -> Result<AccessPolicy> {
    params::access_policy(config, lookup).map_err(|e| anyhow!("{e}"))
}

/// Reads and checks everything the start derives from the configuration at `path`.
pub fn prepare(path: &Path, nodeid: Option<u32>) -> Result<Prepared> {
    let Loaded { config, path } = setup::load(path)?;
    let peers = setup::peer_addresses(&config)?;
    let my_id = setup::local_node(&config, nodeid, &peers)?;
    let links = setup::link_addresses(&config)?;
    setup::check_local_links(my_id, &links)?;
    let access = access_policy(&config)?;
    let params = NodeParams::from_config(&config, my_id, access).map_err(|e| anyhow!("{e}"))?;
    crypto_names(&config)?;
    let authkey = authkey(&config)?;
    let log = logging::Plan::new(&config.logging);
    Ok(Prepared { config, path, peers, links, my_id, params, authkey, log })
}

/// The effective cipher and hash, as the crypto crate names them.
pub fn crypto_names(config: &Config) -> Result<quorumd_crypto::CryptoConfig> {
    let (cipher, hash) = config.totem.effective_crypto();
    // The config crate's enums spell corosync's values; their Debug names lowercased are those.
    let (cipher, hash) = (format!("{cipher:?}").to_lowercase(), format!("{hash:?}").to_lowercase());
    quorumd_crypto::CryptoConfig::parse(&cipher, &hash).map_err(|e| anyhow!("totem crypto: {e}"))
}

/// With crypto on: the authkey, present, of an allowed size, owned by root or by this
/// process's user. `None` when crypto is off.
pub fn authkey(config: &Config) -> Result<Option<AuthKey>> {
    if crypto_names(config)?.is_plaintext() {
        return Ok(None);
    }
    let path = PathBuf::from(config.totem.keyfile.as_deref().unwrap_or(DEFAULT_KEYFILE));
    let shown = path.display();
    // Bounded, and only a regular file: `keyfile: /dev/zero` must not be read without end.
    let bytes = crate::setup::read_bounded(&path, quorumd_crypto::AUTHKEY_LEN_MAX as u64).with_context(|| {
        format!("cannot read the authkey {shown} (crypto is on; create one with corosync-keygen or turn crypto off)")
    })?;
    quorumd_crypto::validate_authkey(&bytes).map_err(|e| anyhow!("the authkey {shown}: {e}"))?;
    let meta = std::fs::metadata(&path).with_context(|| format!("cannot stat the authkey {shown}"))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        bail!(
            "the authkey {shown} is owned by uid {}: it must be owned by root or by the daemon's user",
            meta.uid()
        );
    }
    let mode_warning =
        quorumd_crypto::authkey_mode_warning(meta.permissions().mode()).map(|w| format!("{shown}: {w}"));
    Ok(Some(AuthKey { path, bytes, mode_warning }))
}

/// Whether `path` (which does not exist) could be created: its nearest existing ancestor is a
/// directory this process may write to. Creates nothing.
pub fn creatable(path: &Path) -> Result<()> {
    let mut dir = path.parent();
    while let Some(d) = dir {
        let d = if d.as_os_str().is_empty() { Path::new(".") } else { d };
        if d.exists() {
            if !d.is_dir() {
                bail!("{} is not a directory", d.display());
            }
            rustix::fs::access(d, Access::WRITE_OK | Access::EXEC_OK)
                .with_context(|| format!("{} is not writable", d.display()))?;
            return Ok(());
        }
        dir = d.parent();
    }
    bail!("no existing directory above {}", path.display())
}

/// A directory the daemon will use (and create if missing): usable as it stands, or creatable.
fn usable_dir(dir: &Path, what: &str) -> Result<()> {
    let context = || format!("the {what} {} is not usable", dir.display());
    if dir.exists() {
        if !dir.is_dir() {
            bail!("{}: not a directory", context());
        }
        return rustix::fs::access(dir, Access::WRITE_OK | Access::EXEC_OK)
            .map_err(|e| anyhow!("{}: {e}", context()));
    }
    creatable(dir).with_context(context)
}

/// `quorumd --check-config FILE`: every check of the start, then the effective settings;
/// changes nothing. `socket` and `state_dir` are those the daemon would use.
pub fn check_config(path: &Path, nodeid: Option<u32>, socket: &Path, state_dir: &Path) -> Result<()> {
    let p = prepare(path, nodeid)?;
    for w in &p.config.warnings {
        println!("warning: {w}");
    }
    if let Some(w) = p.authkey.as_ref().and_then(|k| k.mode_warning.as_ref()) {
        println!("warning: {w}");
    }
    p.log.check()?;
    if let Some(dir) = socket.parent() {
        usable_dir(dir, "socket directory")?;
    }
    usable_dir(state_dir, "state directory")?;
    if state_dir.is_dir() {
        let state = StateDir::open(state_dir, p.my_id)?;
        state.ring_seq()?;
        state.expected_votes()?;
    }
    print_summary(&p);
    Ok(())
}

fn print_summary(p: &Prepared) {
    let params = &p.params;
    println!("configuration {} is valid", p.path.display());
    println!("this node: {} ({})", p.my_id, p.peers[&p.my_id]);
    println!("nodes: {} ({})", params.nodelist.len(), params.nodelist);
    for (id, addr) in &p.peers {
        println!("  node {id}: {addr}");
    }
    let totem = &params.totem;
    println!(
        "totem: token {} ms, consensus {} ms, join {} ms, merge {} ms, token_retransmit {} ms, hold {} ms",
        totem.token.as_millis(),
        totem.consensus.as_millis(),
        totem.join.as_millis(),
        totem.merge.as_millis(),
        totem.token_retransmit.as_millis(),
        totem.hold.as_millis()
    );
    println!("expected failure detection: about {} ms", (totem.token + totem.consensus).as_millis());
    let links = &params.links;
    println!("links: {}, link_mode {}", links.links.len(), links.mode.name());
    for l in &links.links {
        let here =
            p.links.get(&l.link).and_then(|a| a.get(&p.my_id)).map(ToString::to_string).unwrap_or_default();
        println!(
            "  link {}: udp {here}, priority {}, knet_ping_interval {} ms, knet_ping_timeout {} ms, knet_pong_count {}",
            l.link,
            l.priority,
            l.ping_interval.as_millis(),
            l.ping_timeout.as_millis(),
            l.pong_count
        );
        if let Some(addrs) = p.links.get(&l.link).filter(|_| links.links.len() > 1) {
            for (id, addr) in addrs.iter().filter(|(id, _)| **id != p.my_id) {
                println!("    node {id}: {addr}");
            }
        }
    }
    match &params.quorum {
        Some(q) => println!(
            "quorum: corosync_votequorum, expected votes {}, two_node {}, wait_for_all {}, last_man_standing {}, auto_tie_breaker {}",
            q.expected_votes,
            q.two_node,
            q.wait_for_all,
            q.last_man_standing,
            q.auto_tie_breaker.is_some()
        ),
        None => println!("quorum: no provider (clients always see quorate = 1)"),
    }
    match &p.authkey {
        Some(k) => println!("crypto: on, authkey {} ({} bytes)", k.path.display(), k.bytes.len()),
        None => println!("crypto: off"),
    }
    let sinks: Vec<String> = p
        .log
        .sinks
        .iter()
        .map(|(s, f)| match s {
            logging::Sink::Stderr => format!("stderr ({f})"),
            logging::Sink::File(path) => format!("{} ({f})", path.display()),
            logging::Sink::Syslog(fac) => format!("syslog facility {fac} ({f})"),
        })
        .collect();
    println!("logging: {}", if sinks.is_empty() { "nowhere".to_string() } else { sinks.join(", ") });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidgid_names_resolve_through_the_name_service() {
        assert_eq!(lookup(UidGidKind::Uid, "root"), Ok(Some(0)));
        assert_eq!(lookup(UidGidKind::Gid, "root"), Ok(Some(0)));
        assert_eq!(lookup(UidGidKind::Uid, "no-such-user-quorumd"), Ok(None));
        let text = "totem {\nversion: 2\n}\nuidgid {\ngid: root\n}\nuidgid {\nuid: no-such-user-quorumd\n}\n";
        let config = quorumd_config::parse_str(text, "c").unwrap();
        let e = access_policy(&config).unwrap_err().to_string();
        assert_eq!(e, "c:8: unknown user 'no-such-user-quorumd'");
        let ok = quorumd_config::parse_str("totem {\nversion: 2\n}\nuidgid {\ngid: root\n}\n", "c").unwrap();
        assert!(access_policy(&ok).unwrap().gids.contains(&0));
    }
}
