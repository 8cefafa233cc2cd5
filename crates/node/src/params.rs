//! From a parsed corosync.conf ([`quorumd_config::Config`]) to the [`NodeParams`] a node is
//! built from: one function, used by the daemon (at start, by `--check-config` and on reload),
//! by `quorumtool what-if` and by the simulator when it runs a real configuration.
//!
//! Sans-IO: user and group names in `uidgid` are resolved by a function the caller hands in
//! (the system's name service in the daemon and the tool). Every error names the file and line
//! of what the administrator wrote: a timing value that breaks a rule cites the key that was
//! written, even when the value that broke is derived from it (`token: 50` gives a
//! `token_retransmit` of 11 ms, under the 30 ms minimum).

use std::collections::BTreeMap;
use std::fmt;

use quorumd_config::uidgid::{Principal, UidGidKind};
use quorumd_config::{Config, Location};
use quorumd_proto::{Duration, LinkId};
use quorumd_proto::{MemberList, NodeId};
use quorumd_totem::{LinkError, LinkKeys, LinkMode, LinksConfig, TimingError, TotemConfig, TotemKeys};
use quorumd_votequorum::{Error as VqError, Settings, VqConfig};

use crate::{AccessPolicy, NodeParams};

/// Why a configuration cannot become node parameters. The message starts with `file:line`
/// when a line is to blame, like the parser's errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamsError {
    /// Where, when one line is to blame.
    pub at: Option<Location>,
    /// What, in one sentence.
    pub message: String,
}

impl ParamsError {
    fn at(at: &Location, message: String) -> ParamsError {
        ParamsError { at: Some(at.clone()), message }
    }
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParamsError {}

/// What a name lookup of the system's name service gave.
pub type Lookup = Result<Option<u32>, String>;

impl NodeParams {
    /// Everything a node of `config` needs, for node `my_id`, except what the state directory
    /// supplies (`start_seq`, `persisted_expected_votes`). `access` is the IPC policy, from
    /// [`access_policy`] (the simulator and what-if, which have no clients, pass the default).
    pub fn from_config(
        config: &Config,
        my_id: NodeId,
        access: AccessPolicy,
    ) -> Result<NodeParams, ParamsError> {
        let nodelist = nodelist(config)?;
        if !nodelist.contains(my_id) {
            let message = format!("node id {my_id} is not in the nodelist");
            return Err(ParamsError::at(&config.totem.at, message));
        }
        let mut p = NodeParams::new(my_id, nodelist, totem_timing(config)?);
        p.links = links_config(config, p.totem.token)?;
        // The partial-connectivity rule (docs/totem.md): on knet's heartbeats with two links
        // or more, in quiet mode with one.
        p.clique_rule = true;
        p.cluster_id = config.cluster_id();
        p.quorum = quorum_settings(config, my_id)?;
        p.access = access;
        p.names = node_names(config);
        Ok(p)
    }
}

/// The nodelist's ids.
pub fn nodelist(config: &Config) -> Result<MemberList, ParamsError> {
    MemberList::from_ids(config.node_ids())
        .map_err(|e| ParamsError::at(&config.totem.at, format!("nodelist: {e}")))
}

/// Node names from the nodelist (`name`, else the ring0 address as written).
pub fn node_names(config: &Config) -> BTreeMap<NodeId, String> {
    config
        .nodelist
        .iter()
        .map(|n| (n.nodeid, n.name.clone().unwrap_or_else(|| n.ring0_addr.text.clone())))
        .collect()
}

/// The validated votequorum settings of node `my_id`, or `None` without a quorum provider.
/// A refusal names the line of the key it is about.
pub fn quorum_settings(config: &Config, my_id: NodeId) -> Result<Option<Settings>, ParamsError> {
    if !config.has_votequorum() {
        return Ok(None);
    }
    let nodes = nodelist(config)?;
    let keys = config.quorum.settings.iter().map(|s| (s.key.as_str(), s.value.as_str()));
    let mut vq = VqConfig::from_keys(&nodes, keys).map_err(|e| quorum_error(config, &e))?;
    for n in &config.nodelist {
        if let Some(v) = n.quorum_votes {
            vq.set_node_votes(n.nodeid, v)
                .map_err(|e| ParamsError::at(&n.at, format!("quorum_votes: {e}")))?;
        }
    }
    vq.validate(my_id).map(Some).map_err(|e| quorum_error(config, &e))
}

fn quorum_error(config: &Config, e: &VqError) -> ParamsError {
    let key = match e {
        VqError::UnknownKey(key) | VqError::BadValue { key, .. } => Some(key.as_str()),
        VqError::QdeviceNotSupported => {
            config.quorum.settings.iter().find(|s| s.key.starts_with("device.")).map(|s| s.key.as_str())
        }
        _ => None,
    };
    let setting = key.and_then(|k| config.quorum.settings.iter().rev().find(|s| s.key == k));
    let at = setting.map_or_else(|| config.totem.at.clone(), |s| s.at.clone());
    let at = if setting.is_none() {
        // A combination: point at the quorum section's first key, or totem when there is none.
        config.quorum.settings.first().map_or(at, |s| s.at.clone())
    } else {
        at
    };
    let message = e.to_string();
    match setting {
        Some(s) if !message.contains(&format!("quorum.{}", s.key)) => {
            ParamsError::at(&at, format!("quorum.{}: {message}", s.key))
        }
        _ => ParamsError::at(&at, message),
    }
}

/// Root plus the `uidgid` entries, names resolved by `lookup(kind, name)`. An unknown name
/// is an error naming its line (corosync refuses to start on one too).
pub fn access_policy(
    config: &Config,
    mut lookup: impl FnMut(UidGidKind, &str) -> Lookup,
) -> Result<AccessPolicy, ParamsError> {
    let mut policy = AccessPolicy::default();
    for entry in &config.uidgid {
        let what = match entry.kind {
            UidGidKind::Uid => "user",
            UidGidKind::Gid => "group",
        };
        let id = match &entry.who {
            Principal::Id(id) => *id,
            Principal::Name(name) => match lookup(entry.kind, name) {
                Ok(Some(id)) => id,
                Ok(None) => return Err(ParamsError::at(&entry.at, format!("unknown {what} '{name}'"))),
                Err(e) => {
                    return Err(ParamsError::at(&entry.at, format!("cannot look up {what} '{name}': {e}")))
                }
            },
        };
        match entry.kind {
            UidGidKind::Uid => policy.uids.insert(id),
            UidGidKind::Gid => policy.gids.insert(id),
        };
    }
    Ok(policy)
}

/// The links of `config` with their effective settings (knet's defaults derived from the
/// effective `token`, as corosync derives them). An error names the link's `interface` block.
pub fn links_config(config: &Config, token: Duration) -> Result<LinksConfig, ParamsError> {
    let t = &config.totem;
    let mode = match t.link_mode() {
        quorumd_config::LinkMode::Passive => LinkMode::Passive,
        quorumd_config::LinkMode::Active => LinkMode::Active,
        quorumd_config::LinkMode::RoundRobin => LinkMode::Rr,
    };
    let mut keys = Vec::new();
    for l in config.links() {
        let link = LinkId::new(u32::from(l))
            .map_err(|_| ParamsError::at(&t.at, format!("link {l} is out of range")))?;
        let mut k = LinkKeys::new(link);
        if let Some(i) = t.interface(l) {
            k.priority = i.knet_link_priority;
            k.ping_interval = i.knet_ping_interval;
            k.ping_timeout = i.knet_ping_timeout;
            k.pong_count = i.knet_pong_count.map(u32::from);
        }
        keys.push(k);
    }
    LinksConfig::derive(mode, &keys, token).map_err(|e| {
        let at = match &e {
            LinkError::OutOfRange { link, .. } | LinkError::Duplicate(link) => {
                t.interface(link.get()).map_or(&t.at, |i| &i.at)
            }
            LinkError::NoLinks => &t.at,
        };
        ParamsError::at(at, format!("{e} (token is {} ms)", token.as_millis()))
    })
}

/// The effective Totem timing of `config`. A value out of range is reported at the line of
/// the key the administrator wrote; when the broken value is derived, the message says from
/// what and by which rule.
pub fn totem_timing(config: &Config) -> Result<TotemConfig, ParamsError> {
    let t = &config.totem;
    let mut keys = TotemKeys::default();
    for (k, v) in &t.timing {
        if let Err(e) = keys.set(k, *v) {
            let at = t.timing_at.get(k).unwrap_or(&t.at);
            return Err(ParamsError::at(at, format!("{k}: {e}")));
        }
    }
    let nodes = config.node_count();
    keys.derive(nodes).map_err(|e| explain_timing(config, nodes, &e))
}

/// Which written keys a derived timing value comes from, and how (corosync's rules).
fn derivation(key: &str, nodes: usize) -> Option<(&'static [&'static str], String)> {
    let (sources, rule): (&'static [&'static str], &str) = match key {
        "token" => (&["token", "token_coefficient"], "token + (nodes - 2) × token_coefficient"),
        "token_retransmit" => (
            &["token", "token_coefficient", "token_retransmits_before_loss_const"],
            "token / (token_retransmits_before_loss_const + 0.2)",
        ),
        "hold" => (
            &["token_retransmit", "token", "token_coefficient", "token_retransmits_before_loss_const"],
            "token_retransmit × 0.8 - 10",
        ),
        "consensus" => (&["join"], "the larger of 200 and 4 × join"),
        _ => return None,
    };
    let rule = if key == "token" { format!("{rule}, with {nodes} nodes") } else { rule.to_string() };
    Some((sources, rule))
}

fn explain_timing(config: &Config, nodes: usize, e: &TimingError) -> ParamsError {
    let t = &config.totem;
    let TimingError::OutOfRange { key, value, why } = e else {
        return ParamsError::at(&t.at, e.to_string());
    };
    let written = |k: &str| t.timing.get(k).copied().zip(t.timing_at.get(k));
    // The other key a rule compares with ("must be at least join"), as the reader can check it.
    let other = ["token_retransmit", "token", "join"].into_iter().find(|k| why.ends_with(&format!(" {k}")));
    let compared = match other {
        Some(k) => match written(k) {
            Some((v, at)) => format!(" ({k} is {v}, set on line {})", at.line),
            None => format!(" ({k} is not set; derived or default, see --check-config)"),
        },
        None => String::new(),
    };
    // A key set explicitly (and not rescaled by the node count): the error is its own.
    let scaled = *key == "token" && nodes >= 3 && t.timing.contains_key("token_coefficient");
    if let Some((v, at)) = written(key).filter(|_| !scaled) {
        return ParamsError::at(at, format!("{key}: {v} is out of range: {why}{compared}"));
    }
    // A derived value: blame the last written key it comes from, and say how.
    match derivation(key, nodes) {
        Some((sources, rule)) => {
            let from: Vec<(&str, u32, &Location)> =
                sources.iter().filter_map(|k| written(k).map(|(v, at)| (*k, v, at))).collect();
            let Some(&(first, v, at)) = from.first() else {
                return ParamsError::at(
                    &t.at,
                    format!("the derived {key} = {value} ms is out of range: {why}"),
                );
            };
            let also: Vec<String> =
                from.iter().skip(1).map(|(k, v, at)| format!("{k}: {v} on line {}", at.line)).collect();
            let also = if also.is_empty() { String::new() } else { format!(", with {}", also.join(", ")) };
            let message = format!(
                "{first}: {v}{also} gives {key} = {value} ms ({rule}), which {why}{compared}; \
                 raise {first} or set {key} explicitly"
            );
            ParamsError::at(at, message)
        }
        None => ParamsError::at(&t.at, format!("{key} = {value} (default) {why}{compared}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(totem: &str, nodes: u32) -> Config {
        let mut text = format!("totem {{\n    version: 2\n{totem}}}\nnodelist {{\n");
        for n in 1..=nodes {
            text.push_str(&format!(
                "    node {{\n        nodeid: {n}\n        ring0_addr: 10.0.0.{n}\n    }}\n"
            ));
        }
        text.push_str("}\nquorum {\n    provider: corosync_votequorum\n}\n");
        quorumd_config::parse_str(&text, "corosync.conf").unwrap()
    }

    fn timing_error(totem: &str) -> String {
        totem_timing(&config(totem, 3)).unwrap_err().to_string()
    }

    #[test]
    fn a_small_token_is_blamed_for_the_token_retransmit_it_gives() {
        // Before: "totem.token_retransmit = 11 is out of range: must be at least 30 ms".
        assert_eq!(
            timing_error("    token: 50\n"),
            "corosync.conf:3:12: token: 50 gives token_retransmit = 11 ms (token / \
             (token_retransmits_before_loss_const + 0.2)), which must be at least 30 ms; raise token \
             or set token_retransmit explicitly"
        );
    }

    #[test]
    fn a_consensus_below_join_names_both_lines() {
        // Before: "totem.consensus = 500 is out of range: must be at least join", no line.
        assert_eq!(
            timing_error("    consensus: 500\n    join: 2000\n"),
            "corosync.conf:3:16: consensus: 500 is out of range: must be at least join (join is 2000, \
             set on line 4)"
        );
    }

    #[test]
    fn a_large_join_is_blamed_for_nothing_when_consensus_follows_it() {
        let c = totem_timing(&config("    join: 2000\n", 3)).unwrap();
        assert_eq!(c.consensus.as_millis(), 8000);
    }

    #[test]
    fn every_honoured_timing_key_reaches_the_totem_timing() {
        let base = totem_timing(&config("", 3)).unwrap();
        let ms = |d: quorumd_proto::Duration| d.as_millis();
        type Field = fn(&TotemConfig) -> u64;
        let cases: [(&str, u32, Field); 13] = [
            ("token", 3000, |c| c.token.as_millis()),
            ("token_coefficient", 650, |c| c.token.as_millis()),
            ("token_retransmit", 200, |c| c.token_retransmit.as_millis()),
            ("token_retransmits_before_loss_const", 6, |c| c.token_retransmit.as_millis()),
            ("hold", 100, |c| c.hold.as_millis()),
            ("join", 60, |c| c.join.as_millis()),
            ("consensus", 400, |c| c.consensus.as_millis()),
            ("merge", 100, |c| c.merge.as_millis()),
            ("fail_recv_const", 3000, |c| u64::from(c.fail_recv_const)),
            ("seqno_unchanged_const", 40, |c| u64::from(c.seqno_unchanged_const)),
            ("window_size", 60, |c| u64::from(c.window_size)),
            ("max_messages", 20, |c| u64::from(c.max_messages)),
            ("token_warning", 80, |c| u64::from(c.token_warning_percent)),
        ];
        for (key, value, field) in cases {
            let c = totem_timing(&config(&format!("    {key}: {value}\n"), 3)).unwrap();
            assert_ne!(field(&c), field(&base), "{key}: {value} changed nothing");
        }
        assert_eq!(ms(base.token), 1000);
    }

    #[test]
    fn a_written_value_out_of_range_names_itself() {
        assert_eq!(
            timing_error("    token: 20\n"),
            "corosync.conf:3:12: token: 20 is out of range: must be at least 30 ms"
        );
    }

    #[test]
    fn quorum_errors_name_the_line_of_their_key() {
        let mut text = String::from(
            "totem {\n version: 2\n}\nnodelist {\n node {\n  nodeid: 1\n  ring0_addr: a\n }\n}\n",
        );
        text.push_str("quorum {\n provider: corosync_votequorum\n device {\n  model: net\n }\n}\n");
        let c = quorumd_config::parse_str(&text, "corosync.conf").unwrap();
        let e = quorum_settings(&c, NodeId::new(1).unwrap()).unwrap_err().to_string();
        assert!(e.starts_with("corosync.conf:13:") && e.contains("qdevice"), "{e}");
    }

    #[test]
    fn from_config_builds_every_part_and_resolves_names() {
        let mut c = config("    cluster_name: demo\n", 3);
        c.uidgid = quorumd_config::parse_str(
            "totem {\nversion: 2\n}\nuidgid {\nuid: hacluster\ngid: 7\n}\n",
            "corosync.conf",
        )
        .unwrap()
        .uidgid;
        let access = access_policy(&c, |kind, name| {
            Ok((kind == UidGidKind::Uid && name == "hacluster").then_some(189))
        })
        .unwrap();
        assert!(access.uids.contains(&189) && access.gids.contains(&7));
        let p = NodeParams::from_config(&c, NodeId::new(2).unwrap(), access).unwrap();
        assert_eq!(
            (p.my_id.get(), p.nodelist.len(), p.cluster_id),
            (2, 3, quorumd_config::cluster_id_of("demo"))
        );
        assert!(p.quorum.is_some());
        let heavy = quorumd_config::parse_str(
            "totem {\nversion: 2\n}\nnodelist {\nnode {\nnodeid: 1\nring0_addr: a\nquorum_votes: 3\n}\n}\n\
             quorum {\nprovider: corosync_votequorum\n}\n",
            "c",
        )
        .unwrap();
        let q =
            NodeParams::from_config(&heavy, NodeId::new(1).unwrap(), AccessPolicy::default()).unwrap().quorum;
        assert_eq!(q.map(|q| (q.my_votes, q.expected_votes)), Some((3, 3)));
        assert_eq!(p.names[&NodeId::new(3).unwrap()], "10.0.0.3");
        let e = access_policy(&c, |_, _| Ok(None)).unwrap_err();
        assert_eq!(e.to_string(), "corosync.conf:5: unknown user 'hacluster'");
        let e = NodeParams::from_config(&c, NodeId::new(9).unwrap(), AccessPolicy::default()).unwrap_err();
        assert!(e.to_string().contains("node id 9 is not in the nodelist"), "{e}");
    }
}
