//! corosync.conf text → a typed, validated [`Config`]; every key is listed in docs/configuration.md.
//!
//! Pure: this crate never reads a file. The daemon reads `corosync.conf` and the files of
//! `uidgid.d/` and hands their texts to [`parse_with_includes`] (or [`parse_str`] for one file).
//!
//! Two layers:
//! - [`syntax`] is the line grammar exactly as corosync's `exec/coroparse.c` applies it:
//!   whole-line comments, first-colon split, `name {` … `}`, the 511-byte line limit, the 255-character key path limit;
//! - the section modules ([`totem`], [`nodelist`], [`quorum`], [`logging`], [`uidgid`],
//!   [`system`]) give the keys types and check them.
//!
//! Invariants:
//! - no input makes the parser panic, recurse without bound or allocate more than a small
//!   multiple of the input;
//! - every error and warning carries the file and line it is about;
//! - a returned [`Config`] satisfies the invariants listed on it.
//!
//! ```
//! let text = "totem {\n    version: 2\n    cluster_name: demo\n}\n\
//!             quorum {\n    provider: corosync_votequorum\n    two_nodes: 1\n}\n";
//! let err = quorumd_config::parse_str(text, "corosync.conf").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "corosync.conf:7: unknown key 'two_nodes' in section 'quorum' (did you mean 'two_node'?)"
//! );
//! let ok = quorumd_config::parse_str(&text.replace("two_nodes", "two_node"), "corosync.conf").unwrap();
//! assert_eq!(ok.quorum.two_node, Some(true));
//! assert!(ok.has_votequorum());
//! ```
//!
//! Deviations from corosync (each marked `Deviation from corosync:` in the code and listed in
//! `docs/deviations.md`): unknown keys and subsections in `totem`, `quorum`, `nodelist`, `node`,
//! `logging` are errors with a "did you mean" suggestion; unknown top-level sections are
//! warnings; values are type-checked everywhere; duplicate node ids, names, addresses, link
//! numbers and logger subsystems are errors; every node needs a nodeid and a ring0_addr; a
//! knet pong count of 0 and the SCTP knet transport are refused;
//! yes/no switches take on/off too; empty uid/gid values are errors; numeric uid/gid are ids.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod ctx;
mod error;
mod links;
pub mod logging;
pub mod nodelist;
pub mod quorum;
mod suggest;
pub mod syntax;
pub mod system;
pub mod totem;
pub mod uidgid;
mod value;

pub use config::{cluster_id_of, Config};
pub use error::{ConfigError, Location, Warning};
pub use logging::{DebugLevel, LogSettings, LoggerSubsys, Logging, Timestamp};
pub use nodelist::{Address, Node};
pub use quorum::{Quorum, QuorumDevice, QuorumProvider, Setting, TieBreaker};
pub use system::System;
pub use totem::{
    CryptoCipher, CryptoHash, Interface, IpVersion, KnetTransport, LinkMode, Totem, Transport,
    DEFAULT_LINK_PRIORITY, DEFAULT_MCASTPORT, DEFAULT_PING_PRECISION, DEFAULT_PONG_COUNT, LINKS_MAX,
    TIMING_KEYS,
};
pub use uidgid::{Principal, UidGid, UidGidKind};

use crate::ctx::Ctx;
use crate::syntax::Section;

/// The top-level sections this crate interprets.
pub const SECTIONS: &[&str] = &["totem", "nodelist", "quorum", "logging", "uidgid", "system", "resources"];

/// Top-level sections corosync acts on that quorumd does not implement: refused, with why.
// Deviation from corosync: quorumd has no watchdog/resource monitor and no nozzle device;
// rather than accept these and do nothing, it refuses them.
pub const REFUSED_SECTIONS: &[(&str, &str)] = &[
    ("resources", "resource monitoring and the watchdog (corosync's mon and wd services) are not supported"),
    ("nozzle", "the nozzle (tap device) network is not supported"),
];

/// `system { }` keys quorumd accepts without effect (each one warns), with why.
// Deviation from corosync: corosync acts on these; quorumd has nothing they could change.
pub const UNUSED_SYSTEM_KEYS: &[(&str, &str)] = &[
    ("qb_ipc_type", "clients use quorumd's own Unix socket, not libqb IPC"),
    (
        "move_to_root_cgroup",
        "quorumd does not move itself between cgroups (its scheduling is set by sched_rr and priority)",
    ),
    ("allow_knet_handle_fallback", "quorumd does not use knet"),
    ("state_dir", "quorumd keeps its state in the directory given by --state-dir (default /var/lib/quorumd)"),
];

/// Parses one corosync.conf text. `file_name` is used in error messages only.
pub fn parse_str(text: &str, file_name: &str) -> Result<Config, ConfigError> {
    parse_with_includes((file_name, text), &[])
}

/// Parses corosync.conf `main` = `(file name, text)` and then the `uidgid.d/` drop-ins, each
/// `(file name, text)`, in the order given (the daemon should sort them by name for a stable
/// order). A drop-in may only contain `uidgid { }` sections.
pub fn parse_with_includes(main: (&str, &str), uidgid_files: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let (name, text) = main;
    let root = syntax::parse(text, name)?;
    let eof = Location::new(name, u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX));
    let mut ctx = Ctx::default();
    let mut config = assemble(&root, &eof, &mut ctx)?;
    for (file, body) in uidgid_files {
        let drop_in = syntax::parse(body, file)?;
        uidgid::build_drop_in(&drop_in, &mut config.uidgid)?;
    }
    check_two_node(&config)?;
    links::check(&config)?;
    advise(&config, &mut ctx);
    config.warnings = ctx.warnings;
    Ok(config)
}

/// Checks that `bytes` are UTF-8 and returns them as text; the error names the line of the
/// first bad byte. For the daemon, which reads bytes.
pub fn text_from_bytes<'a>(bytes: &'a [u8], file_name: &str) -> Result<&'a str, ConfigError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        ConfigError::NotUtf8 { at: Location::new(file_name, u32::try_from(line).unwrap_or(u32::MAX)) }
    })
}

/// Groups the top-level sections by name and builds each part.
fn assemble(root: &Section, eof: &Location, ctx: &mut Ctx) -> Result<Config, ConfigError> {
    let mut groups: std::collections::BTreeMap<&str, Vec<&Section>> = std::collections::BTreeMap::new();
    for item in root.items() {
        // corosync stores top-level keys silently; nothing reads them.
        ctx.warn(&item.at, format!("key '{}' outside any section is ignored", item.key));
    }
    for section in root.sections() {
        if let Some(why) = REFUSED_SECTIONS.iter().find(|(name, _)| *name == section.name).map(|(_, why)| why)
        {
            let (key, reason) = (section.name.clone(), (*why).to_string());
            return Err(ConfigError::Unsupported { at: section.at.clone(), key, reason });
        }
        if SECTIONS.contains(&section.name.as_str()) {
            groups.entry(section.name.as_str()).or_default().push(section);
        } else {
            // Unknown top-level sections belong to other corosync services (qb, nozzle, …):
            // accepted, as in corosync, but reported with a suggestion in case of a typo.
            let hint = match suggest::nearest(&section.name, SECTIONS) {
                Some(s) => format!(" (did you mean '{s}'?)"),
                None => String::new(),
            };
            let message = format!("unknown section '{}' is ignored{hint}", section.name);
            ctx.warn(&section.at, message);
        }
    }
    let get = |name: &str| groups.get(name).cloned().unwrap_or_default();
    let totem = totem::build(&get("totem"), eof, ctx)?;
    let nodelist = nodelist::build(&get("nodelist"), ctx)?;
    let quorum = quorum::build(&get("quorum"), ctx)?;
    let logging = logging::build(&get("logging"), ctx)?;
    let mut uidgid = Vec::new();
    for section in get("uidgid") {
        uidgid::build(section, &mut uidgid)?;
    }
    let system = system::build(&get("system"), ctx)?;
    for item in get("system").iter().flat_map(|s| s.items()) {
        if let Some((key, why)) = UNUSED_SYSTEM_KEYS.iter().find(|(k, _)| *k == item.key) {
            ctx.warn(&item.at, format!("system.{}", totem::ignored(key, why)));
        }
    }
    let resources = system::build_resources(&get("resources"));
    Ok(Config { totem, nodelist, quorum, logging, uidgid, system, resources, warnings: Vec::new() })
}

/// `two_node: 1` makes one node quorate on its own; with more than two nodes that lets two
/// partitions be quorate at once. Refused unless `two_node_force: 1` says it is meant.
// Deviation from corosync: corosync accepts two_node with any node count.
fn check_two_node(config: &Config) -> Result<(), ConfigError> {
    let count = config.node_count();
    if config.quorum.two_node != Some(true) || count <= 2 || config.quorum.two_node_force == Some(true) {
        return Ok(());
    }
    let at = config
        .quorum
        .settings
        .iter()
        .rev()
        .find(|s| s.key == "two_node")
        .map_or_else(|| config.totem.at.clone(), |s| s.at.clone());
    let reason = format!(
        "two_node: 1 with {count} nodes in the nodelist: two_node is for clusters of exactly two nodes \
         (it makes one node's votes a quorum, so a split could leave two partitions quorate); \
         remove it, or add 'two_node_force: 1' to the quorum section if this is really meant"
    );
    Err(ConfigError::Inconsistent { at, reason })
}

/// Warnings about configurations that are valid but rarely what was meant.
fn advise(config: &Config, ctx: &mut Ctx) {
    // Deviation from corosync: these warnings are new; corosync says nothing.
    if config.node_count() > 1 && config.quorum.provider.is_none() {
        // Without a provider there is no quorum at all, silently.
        let message = format!(
            "the nodelist has {} nodes but no quorum provider is configured: the cluster will \
             always be quorate (set 'provider: corosync_votequorum' in 'quorum')",
            config.node_count()
        );
        ctx.warn(&config.totem.at, message);
    }
    if let Some(setting) = config.quorum.settings.iter().find(|s| s.key == "votes") {
        if !config.nodelist.is_empty() {
            let why = "with a nodelist each node's votes are its quorum_votes (corosync ignores quorum.votes then too)";
            ctx.warn(&setting.at, format!("quorum.{}", totem::ignored("votes", why)));
        }
    }
    if let Some(setting) = config.quorum.settings.iter().find(|s| s.key == "leaving_timeout") {
        // corosync parses it and never uses it.
        ctx.warn(&setting.at, "quorum.leaving_timeout has no effect (it is parsed but unused)".to_string());
    }
}
