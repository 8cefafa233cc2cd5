//! The links of a cluster (corosync's knet links): which link numbers exist, and the checks
//! that need both `totem` and `nodelist`.
//!
//! A link `L` exists when the nodes have a `ringL_addr`; its `totem.interface { linknumber: L }`
//! block, when there is one, tunes it. The rules, each error naming the line to fix:
//! - every node has the same set of links (corosync: "Not all nodes have the same number of
//!   links"), and link 0 among them (quorumd requires `ring0_addr`);
//! - with more than one link, every node has a `name` (corosync requires it too);
//! - the addresses of one link are of one IP family (corosync: "Nodes for link N have
//!   different IP families"); a node's addresses are distinct (checked with the nodelist);
//! - an `interface` block belongs to a link that exists;
//! - only knet has more than one link, and only knet sets a link priority (as in corosync).

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::config::Config;
use crate::error::ConfigError;
use crate::totem::{Transport, DEFAULT_LINK_PRIORITY};

impl Config {
    /// The configured link numbers, ascending (those of the first node; [`check`] made every
    /// node's the same). `[0]` without a nodelist.
    pub fn links(&self) -> Vec<u8> {
        self.nodelist.first().map_or_else(|| vec![0], crate::nodelist::Node::link_numbers)
    }
}

/// The cross-section checks of the links.
pub(crate) fn check(config: &Config) -> Result<(), ConfigError> {
    let Some(first) = config.nodelist.first() else {
        return check_interfaces(config, &BTreeSet::from([0]));
    };
    let links: BTreeSet<u8> = first.link_numbers().into_iter().collect();
    for node in &config.nodelist[1..] {
        let own: BTreeSet<u8> = node.link_numbers().into_iter().collect();
        if own != links {
            let reason = format!(
                "not all nodes have the same links: node {} has {} but node {} (line {}) has {}; \
                 give every node the same ringN_addr keys",
                node.nodeid,
                list(&own),
                first.nodeid,
                first.at.line,
                list(&links)
            );
            let extra = own.symmetric_difference(&links).next().copied().unwrap_or(0);
            let at = if own.contains(&extra) { node.addr_location(extra) } else { &node.at };
            return Err(ConfigError::Inconsistent { at: at.clone(), reason });
        }
    }
    if links.len() > 1 {
        if config.totem.transport != Transport::Knet {
            let link = links.iter().copied().find(|l| *l != 0).unwrap_or(1);
            let reason = format!(
                "transport {} supports only link 0 (ring0_addr): redundant links need transport knet",
                config.totem.transport.name()
            );
            return Err(ConfigError::Inconsistent { at: first.addr_location(link).clone(), reason });
        }
        if let Some(node) = config.nodelist.iter().find(|n| n.name.is_none()) {
            let reason = format!(
                "node {} has no 'name': with more than one link every node needs a name (as corosync requires)",
                node.nodeid
            );
            return Err(ConfigError::Inconsistent { at: node.at.clone(), reason });
        }
    }
    for link in &links {
        check_family(config, *link)?;
    }
    check_interfaces(config, &links)
}

/// The addresses of `link` written as IP literals are all IPv4 or all IPv6 (names are checked
/// by the daemon once resolved).
fn check_family(config: &Config, link: u8) -> Result<(), ConfigError> {
    let mut first: Option<(IpAddr, &crate::nodelist::Node)> = None;
    for node in &config.nodelist {
        let Some(ip) = node.addr(link).and_then(|a| a.ip) else { continue };
        match first {
            None => first = Some((ip, node)),
            Some((ip0, node0)) if ip0.is_ipv4() != ip.is_ipv4() => {
                let reason = format!(
                    "the addresses of link {link} have different IP families: {ip} (node {}) and {ip0} \
                     (node {}, line {}); one link is one network",
                    node.nodeid,
                    node0.nodeid,
                    node0.addr_location(link).line
                );
                return Err(ConfigError::Inconsistent { at: node.addr_location(link).clone(), reason });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Every `interface` block names an existing link; non-knet transports keep priority 1.
fn check_interfaces(config: &Config, links: &BTreeSet<u8>) -> Result<(), ConfigError> {
    for (n, interface) in &config.totem.interfaces {
        if !links.contains(n) && !config.nodelist.is_empty() {
            let reason = format!(
                "interface {{ linknumber: {n} }} configures link {n}, but the nodes have no ring{n}_addr \
                 (the configured links are {})",
                list(links)
            );
            return Err(ConfigError::Inconsistent { at: interface.at.clone(), reason });
        }
        let priority = interface.knet_link_priority.unwrap_or(DEFAULT_LINK_PRIORITY);
        if config.totem.transport != Transport::Knet && priority != DEFAULT_LINK_PRIORITY {
            let reason = format!(
                "knet_link_priority can only be set with transport knet (transport is {})",
                config.totem.transport.name()
            );
            return Err(ConfigError::Inconsistent { at: interface.at.clone(), reason });
        }
    }
    Ok(())
}

fn list(links: &BTreeSet<u8>) -> String {
    let parts: Vec<String> = links.iter().map(|l| format!("link {l}")).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use crate::parse_str;

    fn two_links(extra_node1: &str, totem: &str) -> String {
        format!(
            "totem {{\n version: 2\n{totem}}}\nnodelist {{\n node {{\n  nodeid: 1\n  name: a\n  \
             ring0_addr: 10.0.0.1\n  ring1_addr: 10.1.0.1\n{extra_node1} }}\n node {{\n  nodeid: 2\n  \
             name: b\n  ring0_addr: 10.0.0.2\n  ring1_addr: 10.1.0.2\n }}\n}}\n"
        )
    }

    #[test]
    fn two_links_parse_with_their_addresses_ports_and_mode() {
        let text =
            two_links("", " link_mode: active\n interface {\n  linknumber: 1\n  knet_link_priority: 5\n }\n");
        let c = parse_str(&text, "c").unwrap();
        assert_eq!(c.links(), vec![0, 1]);
        assert_eq!(c.nodelist[1].addr(1).unwrap().text, "10.1.0.2");
        assert_eq!((c.totem.mcastport(0), c.totem.mcastport(1)), (5405, 5406));
        assert_eq!(c.totem.link_mode(), crate::LinkMode::Active);
        assert_eq!(c.totem.interface(1).unwrap().knet_link_priority, Some(5));
    }

    #[test]
    fn a_node_without_a_link_the_others_have_is_refused_at_its_block() {
        let text = two_links("", "").replace("  ring1_addr: 10.1.0.2\n", "");
        let e = parse_str(&text, "c").unwrap_err().to_string();
        assert_eq!(
            e,
            "c:11: not all nodes have the same links: node 2 has link 0 but node 1 (line 5) has link 0, \
             link 1; give every node the same ringN_addr keys"
        );
        // The extra link of a node is pointed at where it is written.
        let text = two_links("  ring2_addr: 10.2.0.1\n", "");
        let e = parse_str(&text, "c").unwrap_err().to_string();
        assert!(
            e.starts_with("c:12: not all nodes have the same links: node 2 has link 0, link 1 but"),
            "{e}"
        );
    }

    #[test]
    fn the_addresses_of_one_node_are_distinct() {
        let text = two_links("", "").replace("ring1_addr: 10.1.0.1", "ring1_addr: 10.0.0.1");
        let e = parse_str(&text, "c").unwrap_err().to_string();
        assert!(e.starts_with("c:9:") && e.contains("10.0.0.1"), "{e}");
    }

    #[test]
    fn one_link_is_one_address_family() {
        let text = two_links("", "").replace("ring1_addr: 10.1.0.2", "ring1_addr: fd00::2");
        let e = parse_str(&text, "c").unwrap_err().to_string();
        assert!(e.starts_with("c:15:15:") && e.contains("link 1 have different IP families"), "{e}");
        // Different families on different links are fine.
        let ok = two_links("", "").replace("10.1.0.", "fd00::");
        assert!(parse_str(&ok, "c").is_ok());
    }

    #[test]
    fn names_knet_and_existing_links_are_required() {
        let e = parse_str(&two_links("", "").replace("  name: b\n", ""), "c").unwrap_err().to_string();
        assert!(e.starts_with("c:11:") && e.contains("node 2 has no 'name'"), "{e}");
        let e = parse_str(&two_links("", " transport: udpu\n"), "c").unwrap_err().to_string();
        assert!(e.starts_with("c:10:") && e.contains("transport udpu supports only link 0"), "{e}");
        let e =
            parse_str(&two_links("", " interface {\n  linknumber: 3\n }\n"), "c").unwrap_err().to_string();
        assert!(e.starts_with("c:3:") && e.contains("no ring3_addr"), "{e}");
        let one = "totem {\n version: 2\n transport: udpu\n interface {\n  knet_link_priority: 3\n }\n}\n\
                   nodelist {\n node {\n  nodeid: 1\n  ring0_addr: a\n }\n}\n";
        let e = parse_str(one, "c").unwrap_err().to_string();
        assert!(e.starts_with("c:4:") && e.contains("only be set with transport knet"), "{e}");
    }

    #[test]
    fn ping_timers_pong_count_and_transport_are_checked() {
        let iface = |keys: &str| two_links("", &format!(" interface {{\n  linknumber: 1\n{keys} }}\n"));
        let e = parse_str(&iface("  knet_ping_timeout: 200\n  knet_ping_interval: 200\n"), "c").unwrap_err();
        assert!(e.to_string().starts_with("c:5:22: knet_ping_timeout (200 ms) must be longer"), "{e}");
        let e = parse_str(&iface("  knet_pong_count: 0\n"), "c").unwrap_err().to_string();
        assert!(e.starts_with("c:5:20:") && e.contains("1..=255"), "{e}");
        let e = parse_str(&iface("  knet_transport: sctp\n"), "c").unwrap_err().to_string();
        assert!(e.starts_with("c:5:19:") && e.contains("UDP only"), "{e}");
        let c = parse_str(&iface("  knet_transport: udp\n  knet_ping_interval: 0\n"), "c").unwrap();
        assert_eq!(c.totem.interface(1).unwrap().knet_ping_interval, None, "0 derives it, as in corosync");
        let c = parse_str(&iface("  mcastport: 6000\n"), "c").unwrap();
        assert_eq!((c.totem.mcastport(0), c.totem.mcastport(1)), (5405, 6000));
    }
}
