//! The `nodelist { node { … } … }` section: one [`Node`] per `node` block, in file
//! order, with unique ids, names and addresses.

use std::collections::BTreeMap;
use std::net::IpAddr;

use quorumd_proto::{limits::NODES_MAX, NodeId};

use crate::ctx::{unknown_key, unknown_section, Ctx};
use crate::error::{ConfigError, Location};
use crate::syntax::{Item, Section};
use crate::totem::{node_id, LINKS_MAX};
use crate::value::{invalid, non_empty, u32_value};

/// The keys of a `node { }` block.
pub const NODE_KEYS: &[&str] = &[
    "nodeid",
    "name",
    "quorum_votes",
    "ring0_addr",
    "ring1_addr",
    "ring2_addr",
    "ring3_addr",
    "ring4_addr",
    "ring5_addr",
    "ring6_addr",
    "ring7_addr",
];

/// A node address as written: an IP literal or a host name the daemon resolves.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// The text as written.
    pub text: String,
    /// The address, when the text is an IPv4 or IPv6 literal.
    pub ip: Option<IpAddr>,
}

impl Address {
    /// Reads an address; host names are kept as text.
    pub fn parse(text: &str) -> Address {
        Address { text: text.to_string(), ip: text.parse().ok() }
    }

    /// The form compared for duplicates: the IP, or the host name in lowercase.
    fn identity(&self) -> String {
        match self.ip {
            Some(ip) => ip.to_string(),
            None => self.text.to_ascii_lowercase(),
        }
    }
}

/// One `node { }` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `nodeid` (required).
    pub nodeid: NodeId,
    /// `name`.
    pub name: Option<String>,
    /// `quorum_votes` as written (votequorum's default is 1).
    pub quorum_votes: Option<u32>,
    /// `ring0_addr` (required): the address of link 0.
    pub ring0_addr: Address,
    /// `ring1_addr` … `ring7_addr`, keyed by link number (the redundant links).
    pub other_addrs: BTreeMap<u8, Address>,
    /// Where each `ringN_addr` value was written, keyed by link number.
    pub addr_at: BTreeMap<u8, Location>,
    /// Where the block opened.
    pub at: Location,
}

impl Node {
    /// The address of link `link`, if configured.
    pub fn addr(&self, link: u8) -> Option<&Address> {
        if link == 0 {
            Some(&self.ring0_addr)
        } else {
            self.other_addrs.get(&link)
        }
    }

    /// The node's links, ascending, with their addresses (link 0 first).
    pub fn links(&self) -> impl Iterator<Item = (u8, &Address)> {
        std::iter::once((0, &self.ring0_addr)).chain(self.other_addrs.iter().map(|(l, a)| (*l, a)))
    }

    /// The node's link numbers, ascending.
    pub fn link_numbers(&self) -> Vec<u8> {
        self.links().map(|(l, _)| l).collect()
    }

    /// Where the address of link `link` was written (the block when unknown).
    pub fn addr_location(&self, link: u8) -> &Location {
        self.addr_at.get(&link).unwrap_or(&self.at)
    }

    /// The node's votes: `quorum_votes`, or 1.
    pub fn votes(&self) -> u32 {
        self.quorum_votes.unwrap_or(1)
    }
}

const SECTION: &str = "nodelist";
const NODE: &str = "nodelist.node";

/// Builds the node list from every top-level `nodelist` section, then checks uniqueness.
pub(crate) fn build(sections: &[&Section], ctx: &mut Ctx) -> Result<Vec<Node>, ConfigError> {
    let mut nodes = Vec::new();
    let mut lines = Vec::new();
    for section in sections {
        if let Some(item) = section.items().next() {
            return Err(unknown_key(SECTION, item, &[]));
        }
        for sub in section.sections() {
            if sub.name != "node" {
                return Err(unknown_section(SECTION, sub, &["node"]));
            }
            // Deviation from corosync: the node limit is checked here, with a line.
            if nodes.len() >= NODES_MAX {
                let reason = format!("too many nodes: at most {NODES_MAX} are supported");
                return Err(ConfigError::Inconsistent { at: sub.at.clone(), reason });
            }
            let (node, at) = build_node(sub, nodes.len(), ctx)?;
            nodes.push(node);
            lines.push(at);
        }
    }
    check_unique(&nodes, &lines)?;
    Ok(nodes)
}

/// Where a node's unique values were written, for duplicate errors.
#[derive(Debug)]
struct KeyLines {
    nodeid: Location,
    name: Option<Location>,
    addrs: BTreeMap<u8, Location>,
}

/// Builds one `node { }` block; `index` is its position (corosync's `nodelist.node.<N>`).
fn build_node(section: &Section, index: usize, ctx: &mut Ctx) -> Result<(Node, KeyLines), ConfigError> {
    if let Some(sub) = section.sections().next() {
        return Err(unknown_section(NODE, sub, &[]));
    }
    let scope = format!("{NODE}.{index}");
    let mut nodeid = None;
    let mut name = None;
    let mut quorum_votes = None;
    let mut addrs: BTreeMap<u8, Address> = BTreeMap::new();
    let mut lines = KeyLines { nodeid: section.at.clone(), name: None, addrs: BTreeMap::new() };
    for item in section.items() {
        ctx.note(&scope, NODE, item);
        match item.key.as_str() {
            "nodeid" => {
                nodeid = Some(node_id(item, NODE)?);
                lines.nodeid = item.value_at();
            }
            "name" => {
                name = Some(non_empty(item, NODE)?);
                lines.name = Some(item.value_at());
            }
            "quorum_votes" => quorum_votes = Some(u32_value(item, NODE)?),
            key => {
                let link = ring_link(key).ok_or_else(|| unknown_key(NODE, item, NODE_KEYS))?;
                addrs.insert(link, address(item)?);
                lines.addrs.insert(link, item.value_at());
            }
        }
    }
    // Deviation from corosync: a nodeid is required for every transport. Corosync can derive
    // one from the ring0 IPv4 address for udp/udpu, but such ids exceed 65535, which quorumd
    // (like knet) does not accept.
    let nodeid =
        nodeid.ok_or_else(|| missing(section, "nodeid", "every node needs a nodeid in 1..=65535"))?;
    // Deviation from corosync: ring0_addr is required, so every node is on link 0 (the link
    // whose node count sets the effective token).
    let ring0_addr = addrs
        .remove(&0)
        .ok_or_else(|| missing(section, "ring0_addr", "every node needs an address for link 0"))?;
    let addr_at = lines.addrs.clone();
    let node =
        Node { nodeid, name, quorum_votes, ring0_addr, other_addrs: addrs, addr_at, at: section.at.clone() };
    Ok((node, lines))
}

fn missing(section: &Section, key: &'static str, why: &'static str) -> ConfigError {
    ConfigError::MissingKey { at: section.at.clone(), section: NODE, key, why }
}

/// `ringN_addr` → `N`, for `N < LINKS_MAX`.
fn ring_link(key: &str) -> Option<u8> {
    let digits = key.strip_prefix("ring")?.strip_suffix("_addr")?;
    if digits.len() != 1 {
        return None;
    }
    digits.parse::<u8>().ok().filter(|n| *n < LINKS_MAX)
}

fn address(item: &Item) -> Result<Address, ConfigError> {
    if item.value.is_empty() || item.value.chars().any(char::is_whitespace) {
        return Err(invalid(item, NODE, "an IP address or a host name"));
    }
    Ok(Address::parse(&item.value))
}

/// Node ids, names and addresses must each be unique across the nodelist.
fn check_unique(nodes: &[Node], lines: &[KeyLines]) -> Result<(), ConfigError> {
    let mut ids: BTreeMap<NodeId, u32> = BTreeMap::new();
    let mut names: BTreeMap<&str, u32> = BTreeMap::new();
    let mut addrs: BTreeMap<String, u32> = BTreeMap::new();
    for (node, at) in nodes.iter().zip(lines) {
        // Deviation from corosync: duplicate ids, names and addresses are errors here; corosync
        // does not check them at parse time and misbehaves at runtime instead.
        if let Some(first_line) = ids.insert(node.nodeid, at.nodeid.line) {
            return Err(duplicate(&at.nodeid, "nodeid", node.nodeid.to_string(), first_line));
        }
        if let (Some(name), Some(name_at)) = (node.name.as_deref(), at.name.as_ref()) {
            if let Some(first_line) = names.insert(name, name_at.line) {
                return Err(duplicate(name_at, "node name", name.to_string(), first_line));
            }
        }
        for (link, addr_at) in &at.addrs {
            let Some(addr) = node.addr(*link) else { continue };
            if let Some(first_line) = addrs.insert(addr.identity(), addr_at.line) {
                return Err(duplicate(addr_at, "address", addr.text.clone(), first_line));
            }
        }
    }
    Ok(())
}

fn duplicate(at: &Location, what: &'static str, value: String, first_line: u32) -> ConfigError {
    ConfigError::Duplicate { at: at.clone(), what, value, first_line }
}
