//! The `quorum { }` keys of corosync.conf (corosync-behaviour §3.1) and the votes of the nodelist, typed
//! ([`VqConfig`]) and validated into the effective policy ([`Settings`]).
//!
//! [`VqConfig`] holds what was configured, as plain fields; [`VqConfig::from_keys`] fills it
//! from raw `(key, value)` strings the way corosync's parser types them (u8 keys take exactly
//! `0` or `1`; "yes" is refused). [`VqConfig::validate`] applies corosync's derivations
//! (two_node implies wait_for_all, allow_downscale implies expected_votes_tracking, expected
//! votes default to the nodelist total) and refuses what corosync refuses at startup.
//!
//! Deviation from corosync: the combinations corosync silently downgrades at startup (two_node
//! with auto_tie_breaker; auto_tie_breaker on an odd nodelist total without wait_for_all;
//! last_man_standing with a node of more than one vote), unknown keys, a bad
//! `auto_tie_breaker_node` and any `quorum.device` are refused with an error instead.

use std::collections::BTreeMap;

use quorumd_proto::limits::NODES_MAX;
use quorumd_proto::{MemberList, NodeId};

use crate::error::Error;
use crate::limits::{ATB_LIST_MAX, DEFAULT_LMS_WINDOW_MS, EXPECTED_VOTES_MAX, VOTES_MAX};

/// Which node breaks a 50:50 tie (`quorum.auto_tie_breaker_node`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AtbNode {
    /// The lowest node id of the last quorate membership (the default).
    Lowest,
    /// The highest node id of the last quorate membership.
    Highest,
    /// The first node of this list that is present, unless an earlier one was present before.
    List(Vec<NodeId>),
}

/// The quorum configuration as written: one plain field per key. `None` means "not set".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VqConfig {
    /// `quorum.provider: corosync_votequorum` was given. Without it the node runs without a
    /// quorum provider (QUORUM_FREE, corosync-behaviour §2.3) and never builds a [`crate::Votequorum`].
    pub provider: bool,
    /// The nodelist: node id → `quorum_votes` (default 1). Empty when there is no nodelist.
    pub nodelist: BTreeMap<NodeId, u32>,
    /// `quorum.votes` (deprecated; used only without a nodelist).
    pub votes: Option<u32>,
    /// `quorum.expected_votes`; corosync treats 0 as unset, and so does [`VqConfig::set_key`].
    pub expected_votes: Option<u32>,
    /// `quorum.two_node`
    pub two_node: bool,
    /// `quorum.wait_for_all`; when unset it follows `two_node`.
    pub wait_for_all: Option<bool>,
    /// `quorum.last_man_standing`
    pub last_man_standing: bool,
    /// `quorum.last_man_standing_window`, milliseconds.
    pub last_man_standing_window_ms: u32,
    /// `quorum.auto_tie_breaker`
    pub auto_tie_breaker: bool,
    /// `quorum.auto_tie_breaker_node` (meaningless without `auto_tie_breaker`).
    pub auto_tie_breaker_node: AtbNode,
    /// `quorum.allow_downscale`
    pub allow_downscale: bool,
    /// `quorum.expected_votes_tracking`
    pub expected_votes_tracking: bool,
    /// `quorum.device.model` (or any other `quorum.device.*` key): always refused.
    pub device_model: Option<String>,
}

/// The effective policy of one node, derived from a [`VqConfig`] by [`VqConfig::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// This node.
    pub my_id: NodeId,
    /// This node's votes.
    pub my_votes: u32,
    /// Expected votes at startup: `quorum.expected_votes`, else the nodelist total.
    pub expected_votes: u32,
    /// The configured node ids (empty without a nodelist).
    pub nodelist: MemberList,
    /// The sum of the nodelist's votes (0 without a nodelist).
    pub nodelist_votes: u32,
    /// two_node is on.
    pub two_node: bool,
    /// wait_for_all is on (explicitly, or implied by two_node).
    pub wait_for_all: bool,
    /// last_man_standing is on.
    pub last_man_standing: bool,
    /// The LMS window in milliseconds.
    pub last_man_standing_window_ms: u32,
    /// The tie-breaker rule, when auto_tie_breaker is on.
    pub auto_tie_breaker: Option<AtbNode>,
    /// allow_downscale is on.
    pub allow_downscale: bool,
    /// expected_votes_tracking is on (explicitly, or implied by allow_downscale).
    pub expected_votes_tracking: bool,
}

impl Default for VqConfig {
    fn default() -> Self {
        VqConfig {
            provider: false,
            nodelist: BTreeMap::new(),
            votes: None,
            expected_votes: None,
            two_node: false,
            wait_for_all: None,
            last_man_standing: false,
            last_man_standing_window_ms: DEFAULT_LMS_WINDOW_MS,
            auto_tie_breaker: false,
            auto_tie_breaker_node: AtbNode::Lowest,
            allow_downscale: false,
            expected_votes_tracking: false,
            device_model: None,
        }
    }
}

impl VqConfig {
    /// A votequorum config (provider set) whose nodelist holds `nodes`, one vote each.
    pub fn with_nodes(nodes: &MemberList) -> VqConfig {
        VqConfig { provider: true, nodelist: nodes.iter().map(|id| (id, 1)).collect(), ..VqConfig::default() }
    }

    /// Builds a config from a nodelist (one vote each; see [`VqConfig::set_node_votes`]) and
    /// raw `quorum` keys, with or without the `quorum.` prefix. `provider` must be given for
    /// [`VqConfig::provider`] to be set.
    pub fn from_keys<I, K, V>(nodes: &MemberList, keys: I) -> Result<VqConfig, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut cfg = VqConfig { provider: false, ..VqConfig::with_nodes(nodes) };
        for (key, value) in keys {
            cfg.set_key(key.as_ref(), value.as_ref())?;
        }
        Ok(cfg)
    }

    /// Sets `quorum_votes` of one nodelist node (adding it to the nodelist if absent).
    pub fn set_node_votes(&mut self, node: NodeId, votes: u32) -> Result<(), Error> {
        if votes > VOTES_MAX {
            return Err(bad("quorum_votes", &votes.to_string(), "at most 65535 votes per node"));
        }
        if !self.nodelist.contains_key(&node) && self.nodelist.len() >= NODES_MAX {
            return Err(Error::Refused("the nodelist holds more than 384 nodes"));
        }
        self.nodelist.insert(node, votes);
        Ok(())
    }

    /// Sets one key from its raw string value, typed as corosync types it.
    pub fn set_key(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let key = key.strip_prefix("quorum.").unwrap_or(key);
        match key {
            "provider" if value == "corosync_votequorum" => self.provider = true,
            "provider" => return Err(bad(key, value, "the only provider is corosync_votequorum")),
            "expected_votes" => {
                let v = parse_u32(key, value)?;
                if v > EXPECTED_VOTES_MAX {
                    return Err(bad(key, value, "larger than 384 nodes of 65535 votes"));
                }
                self.expected_votes = (v > 0).then_some(v);
            }
            "votes" => {
                let v = parse_u32(key, value)?;
                if v > VOTES_MAX {
                    return Err(bad(key, value, "at most 65535 votes per node"));
                }
                self.votes = Some(v);
            }
            "two_node" => self.two_node = parse_u8_bool(key, value)?,
            "wait_for_all" => self.wait_for_all = Some(parse_u8_bool(key, value)?),
            "last_man_standing" => self.last_man_standing = parse_u8_bool(key, value)?,
            "last_man_standing_window" => self.last_man_standing_window_ms = parse_u32(key, value)?,
            "auto_tie_breaker" => self.auto_tie_breaker = parse_u8_bool(key, value)?,
            "auto_tie_breaker_node" => self.auto_tie_breaker_node = parse_atb_node(value)?,
            "allow_downscale" => self.allow_downscale = parse_u8_bool(key, value)?,
            "expected_votes_tracking" => self.expected_votes_tracking = parse_u8_bool(key, value)?,
            // Parsed and unused by corosync too (corosync-behaviour §7 quirk 10).
            "leaving_timeout" => {
                parse_u32(key, value)?;
            }
            // A runtime trigger (Votequorum::cancel_wait_for_all); corosync ignores it at startup.
            "cancel_wait_for_all" => {
                parse_u8_bool(key, value)?;
            }
            // Refused by validate(), so that a config built field by field is refused too.
            "device.model" => self.device_model = Some(value.to_string()),
            k if k == "device" || k.starts_with("device.") => return Err(Error::QdeviceNotSupported),
            // Deviation from corosync: unknown keys are refused, not ignored (corosync-behaviour §7 quirk 14).
            other => return Err(Error::UnknownKey(other.to_string())),
        }
        Ok(())
    }

    /// Derives the effective [`Settings`] for node `my_id`, refusing what corosync refuses.
    pub fn validate(&self, my_id: NodeId) -> Result<Settings, Error> {
        if self.device_model.as_deref().is_some_and(|m| !m.is_empty()) {
            return Err(Error::QdeviceNotSupported);
        }
        let nodelist = self.checked_nodelist()?;
        let nodelist_votes = self.nodelist.values().fold(0u32, |sum, v| sum.saturating_add(*v));
        let my_votes = if nodelist.is_empty() {
            self.votes.unwrap_or(1)
        } else {
            // Deviation from corosync: corosync treats a nodelist without this node as "no
            // nodelist"; we refuse it, since Totem could not run with it either.
            *self.nodelist.get(&my_id).ok_or(Error::Refused("this node is not in the nodelist"))?
        };
        if my_votes > VOTES_MAX {
            return Err(bad("votes", &my_votes.to_string(), "at most 65535 votes per node"));
        }
        let expected_votes = match (self.expected_votes, nodelist.is_empty()) {
            (Some(e), _) => e,
            (None, false) => nodelist_votes,
            (None, true) => {
                return Err(Error::Refused(
                    "configuration error: nodelist or quorum.expected_votes must be configured",
                ))
            }
        };
        if expected_votes == 0 || expected_votes > EXPECTED_VOTES_MAX {
            return Err(bad("expected_votes", &expected_votes.to_string(), "must be between 1 and 25165440"));
        }
        let settings = Settings {
            my_id,
            my_votes,
            expected_votes,
            nodelist,
            nodelist_votes,
            two_node: self.two_node,
            wait_for_all: self.wait_for_all.unwrap_or(self.two_node),
            last_man_standing: self.last_man_standing,
            last_man_standing_window_ms: self.last_man_standing_window_ms,
            auto_tie_breaker: self.auto_tie_breaker.then(|| self.auto_tie_breaker_node.clone()),
            allow_downscale: self.allow_downscale,
            expected_votes_tracking: self.expected_votes_tracking || self.allow_downscale,
        };
        self.check_combinations(&settings)?;
        Ok(settings)
    }

    fn checked_nodelist(&self) -> Result<MemberList, Error> {
        if let Some(v) = self.nodelist.values().find(|v| **v > VOTES_MAX) {
            return Err(bad("quorum_votes", &v.to_string(), "at most 65535 votes per node"));
        }
        MemberList::from_ids(self.nodelist.keys().copied())
            .map_err(|_| Error::Refused("the nodelist holds more than 384 nodes"))
    }

    fn check_combinations(&self, s: &Settings) -> Result<(), Error> {
        let atb = s.auto_tie_breaker.is_some();
        if s.two_node && atb {
            // Deviation from corosync: corosync logs CRIT and drops two_node.
            return Err(Error::Refused(
                "two_node and auto_tie_breaker cannot be combined (two_node settles a split by a fence race, ATB by node id)",
            ));
        }
        if atb && s.nodelist_votes % 2 == 1 && !s.wait_for_all {
            if s.last_man_standing {
                return Err(Error::Refused(
                    "configuration error: auto_tie_breaker & last_man_standing not available in odd sized cluster",
                ));
            }
            // Deviation from corosync: corosync logs CRIT and disables auto_tie_breaker.
            return Err(Error::Refused(
                "auto_tie_breaker on a nodelist with an odd vote total needs wait_for_all: 1",
            ));
        }
        let heavy = self.nodelist.values().any(|v| *v > 1) || s.my_votes > 1;
        if s.last_man_standing && heavy {
            // Deviation from corosync: corosync disables LMS when the first such nodeinfo
            // arrives; a nodelist that already says so is refused up front (the runtime rule
            // stays, for votes changed later).
            return Err(Error::Refused("last_man_standing needs every node to have exactly 1 vote"));
        }
        Ok(())
    }
}

fn bad(key: &str, value: &str, why: &'static str) -> Error {
    Error::BadValue { key: key.to_string(), value: value.to_string(), why }
}

/// A corosync u8 flag key: exactly "0" or "1".
///
/// Deviation from corosync: corosync's u8 type takes 0..=255 (any non-zero means on); we take
/// only 0 and 1, so a typo cannot switch a policy on.
fn parse_u8_bool(key: &str, value: &str) -> Result<bool, Error> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(bad(key, value, "must be 0 or 1")),
    }
}

fn parse_u32(key: &str, value: &str) -> Result<u32, Error> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(key, value, "must be an unsigned decimal integer"));
    }
    value.parse::<u32>().map_err(|_| bad(key, value, "must fit in 32 bits"))
}

/// `lowest`, `highest`, or a space-separated list of node ids.
///
/// Deviation from corosync: corosync disables ATB with a warning on anything else; we refuse.
fn parse_atb_node(value: &str) -> Result<AtbNode, Error> {
    const KEY: &str = "auto_tie_breaker_node";
    match value.trim() {
        "lowest" => return Ok(AtbNode::Lowest),
        "highest" => return Ok(AtbNode::Highest),
        _ => {}
    }
    let mut list = Vec::new();
    for word in value.split_whitespace() {
        if list.len() >= ATB_LIST_MAX {
            return Err(bad(KEY, value, "lists at most 384 node ids"));
        }
        let raw = parse_u32(KEY, word).map_err(|_| bad(KEY, value, "must be lowest, highest or node ids"))?;
        let id = NodeId::new(raw).map_err(|_| bad(KEY, value, "node ids must be between 1 and 65535"))?;
        if list.contains(&id) {
            return Err(bad(KEY, value, "lists a node id twice"));
        }
        list.push(id);
    }
    if list.is_empty() {
        return Err(bad(KEY, value, "must be lowest, highest or node ids"));
    }
    Ok(AtbNode::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[u32]) -> MemberList {
        MemberList::from_ids(raw.iter().map(|r| NodeId::new(*r).unwrap())).unwrap()
    }

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    #[test]
    fn spec_3_1_u8_keys_take_only_0_or_1() {
        let mut cfg = VqConfig::with_nodes(&ids(&[1, 2]));
        assert!(cfg.set_key("two_node", "1").is_ok());
        assert!(matches!(cfg.set_key("quorum.two_node", "yes"), Err(Error::BadValue { .. })));
        assert!(matches!(cfg.set_key("wait_for_all", "2"), Err(Error::BadValue { .. })));
    }

    #[test]
    fn spec_3_4_two_node_implies_wait_for_all_unless_set() {
        let cfg =
            VqConfig::from_keys(&ids(&[1, 2]), [("provider", "corosync_votequorum"), ("two_node", "1")])
                .unwrap();
        assert!(cfg.provider);
        let s = cfg.validate(n(1)).unwrap();
        assert!(s.two_node && s.wait_for_all);
        let cfg = VqConfig::from_keys(&ids(&[1, 2]), [("two_node", "1"), ("wait_for_all", "0")]).unwrap();
        assert!(!cfg.validate(n(1)).unwrap().wait_for_all);
    }

    #[test]
    fn spec_3_1_startup_errors_and_refused_downgrades() {
        let three = ids(&[1, 2, 3]);
        let refuse =
            |keys: &[(&str, &str)]| VqConfig::from_keys(&three, keys.iter().copied())?.validate(n(1));
        assert_eq!(refuse(&[("device.model", "net")]), Err(Error::QdeviceNotSupported));
        assert!(matches!(refuse(&[("two_node", "1"), ("auto_tie_breaker", "1")]), Err(Error::Refused(_))));
        assert!(matches!(refuse(&[("auto_tie_breaker", "1")]), Err(Error::Refused(_))));
        assert!(matches!(
            refuse(&[("auto_tie_breaker", "1"), ("last_man_standing", "1")]),
            Err(Error::Refused(m)) if m.contains("odd sized")
        ));
        assert!(refuse(&[("auto_tie_breaker", "1"), ("wait_for_all", "1")]).is_ok());
        assert!(matches!(refuse(&[("no_such_key", "1")]), Err(Error::UnknownKey(_))));
        assert!(matches!(refuse(&[("auto_tie_breaker_node", "lowest 2")]), Err(Error::BadValue { .. })));
        let none = VqConfig { provider: true, ..VqConfig::default() };
        assert!(matches!(none.validate(n(1)), Err(Error::Refused(m)) if m.contains("expected_votes")));
        let mut heavy = VqConfig::with_nodes(&three);
        heavy.set_node_votes(n(2), 2).unwrap();
        heavy.last_man_standing = true;
        assert!(matches!(heavy.validate(n(1)), Err(Error::Refused(_))));
    }

    #[test]
    fn spec_3_1_expected_votes_default_to_the_nodelist_total() {
        let mut cfg = VqConfig::with_nodes(&ids(&[1, 2, 3, 4, 5]));
        cfg.set_node_votes(n(1), 3).unwrap();
        let s = cfg.validate(n(1)).unwrap();
        assert_eq!((s.my_votes, s.expected_votes, s.nodelist_votes), (3, 7, 7));
        cfg.set_key("expected_votes", "9").unwrap();
        assert_eq!(cfg.validate(n(2)).unwrap().expected_votes, 9);
        cfg.set_key("expected_votes", "0").unwrap();
        assert_eq!(cfg.expected_votes, None);
    }

    #[test]
    fn spec_3_7_atb_node_parses_lowest_highest_and_lists() {
        assert_eq!(parse_atb_node("lowest"), Ok(AtbNode::Lowest));
        assert_eq!(parse_atb_node("highest"), Ok(AtbNode::Highest));
        assert_eq!(parse_atb_node("3 1  2"), Ok(AtbNode::List(vec![n(3), n(1), n(2)])));
        assert!(parse_atb_node("").is_err());
        assert!(parse_atb_node("0").is_err());
        assert!(parse_atb_node("1 1").is_err());
    }
}
