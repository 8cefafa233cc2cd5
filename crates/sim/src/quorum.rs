//! The quorum configuration of a simulated cluster: which provider, which `quorum { }` keys of
//! corosync.conf, which `quorum_votes` per node; the fuzzer's presets of it; and what
//! votequorum's rules give for the full membership (the liveness phase's expectation).
//!
//! Invariants: every node of one world is built from the same [`QuorumSetup`] (as every node of
//! a real cluster reads the same corosync.conf); a setup that votequorum refuses is refused
//! before any node boots; a preset is a function of the seed's quorum stream only, so the
//! reproduction command replays it.

use std::collections::BTreeMap;
use std::fmt;

use quorumd_proto::{MemberList, NodeId};
use quorumd_votequorum::{Settings, VqConfig};

use crate::rng::Rng;

/// The quorum part of corosync.conf, for every node of a world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumSetup {
    /// `provider: corosync_votequorum`; false means no provider at all (`QUORUM_FREE`).
    pub provider: bool,
    /// `quorum { KEY: VALUE }`, in file order (lists as one space-separated value).
    pub keys: Vec<(String, String)>,
    /// `nodelist.node.N.quorum_votes` (default 1).
    pub votes: BTreeMap<NodeId, u32>,
}

impl Default for QuorumSetup {
    /// votequorum with every default (the scenarios' default).
    fn default() -> Self {
        QuorumSetup { provider: true, keys: Vec::new(), votes: BTreeMap::new() }
    }
}

impl QuorumSetup {
    /// No quorum provider (`QUORUM_FREE`, corosync-behaviour §2.3).
    pub fn none() -> QuorumSetup {
        QuorumSetup { provider: false, ..QuorumSetup::default() }
    }

    /// The value of a key, if set.
    pub fn key(&self, key: &str) -> Option<&str> {
        self.keys.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        self.key(key) == Some("1")
    }

    /// The validated settings of every node, or `None` without a provider; votequorum's
    /// refusal otherwise.
    pub fn settings(&self, nodelist: &MemberList) -> Result<Option<BTreeMap<NodeId, Settings>>, String> {
        if !self.provider {
            return Ok(None);
        }
        let keys = std::iter::once(("provider", "corosync_votequorum"))
            .chain(self.keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut cfg = VqConfig::from_keys(nodelist, keys).map_err(|e| format!("quorum: {e}"))?;
        for (id, v) in &self.votes {
            if !nodelist.contains(*id) {
                return Err(format!("votes: node {id} is not in the nodelist"));
            }
            cfg.set_node_votes(*id, *v).map_err(|e| format!("votes: {e}"))?;
        }
        let mut out = BTreeMap::new();
        for id in nodelist.iter() {
            out.insert(id, cfg.validate(id).map_err(|e| format!("quorum: {e}"))?);
        }
        Ok(Some(out))
    }

    /// Whether expected votes stay fixed, so that two disjoint partitions can never both hold
    /// a majority of them: a provider, and no last_man_standing (lowers expected votes),
    /// auto_tie_breaker (grants a 50:50 tie), two_node (quorum 1), allow_downscale or a
    /// configured `expected_votes` below the nodelist total. Checker (a) applies only then.
    pub fn expected_votes_fixed(&self) -> bool {
        let below_total = self.key("expected_votes").is_some();
        self.provider
            && !self.flag("last_man_standing")
            && !self.flag("auto_tie_breaker")
            && !self.flag("two_node")
            && !self.flag("allow_downscale")
            && !below_total
    }

    /// Whether last_man_standing is on (expected votes and quorum then go down when a window
    /// expires, corosync-behaviour §3.6).
    pub fn last_man_standing(&self) -> bool {
        self.provider && self.flag("last_man_standing")
    }

    /// The nodelist's vote total.
    pub fn vote_total(&self, nodelist: &MemberList) -> u32 {
        nodelist.iter().map(|id| self.votes.get(&id).copied().unwrap_or(1)).sum()
    }

    /// What votequorum's rules give when every configured node is a member and nothing was
    /// changed at runtime: `(quorate, quorum, expected_votes, total_votes)`, or `None` without
    /// a provider (then getquorate is 1). All expected votes present clears wait_for_all, the
    /// total wins over lowered expected votes (last_man_standing), so every preset is quorate.
    pub fn full_membership(&self, nodelist: &MemberList) -> Option<(bool, u32, u32, u32)> {
        if !self.provider {
            return None;
        }
        let total = self.vote_total(nodelist);
        let quorum = if self.flag("two_node") && nodelist.len() <= 2 { 1 } else { total / 2 + 1 };
        Some((total >= quorum, quorum, total, total))
    }
}

impl fmt::Display for QuorumSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.provider {
            return f.write_str("noquorum");
        }
        f.write_str("votequorum")?;
        for (k, v) in &self.keys {
            write!(f, " {k}={v}")?;
        }
        if !self.votes.is_empty() {
            let v: Vec<String> = self.votes.iter().map(|(id, v)| format!("{id}:{v}")).collect();
            write!(f, " votes={}", v.join(","))?;
        }
        Ok(())
    }
}

/// The fuzzer's quorum configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// votequorum defaults.
    Plain,
    /// `wait_for_all: 1`.
    WaitForAll,
    /// `two_node: 1` (2-node clusters only).
    TwoNode,
    /// `last_man_standing: 1` with a short window (and wait_for_all half of the time).
    LastManStanding,
    /// `auto_tie_breaker: 1`, lowest (wait_for_all added on odd vote totals).
    AtbLowest,
    /// `auto_tie_breaker_node: highest`.
    AtbHighest,
    /// `auto_tie_breaker_node:` a random list of node ids.
    AtbList,
    /// Random `quorum_votes` of 1 to 3 per node.
    Weighted,
    /// No provider.
    NoQuorum,
}

impl Preset {
    /// Every preset, in draw order.
    pub const ALL: [Preset; 9] = [
        Preset::Plain,
        Preset::WaitForAll,
        Preset::TwoNode,
        Preset::LastManStanding,
        Preset::AtbLowest,
        Preset::AtbHighest,
        Preset::AtbList,
        Preset::Weighted,
        Preset::NoQuorum,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Plain => "plain",
            Preset::WaitForAll => "wait-for-all",
            Preset::TwoNode => "two-node",
            Preset::LastManStanding => "lms",
            Preset::AtbLowest => "atb-lowest",
            Preset::AtbHighest => "atb-highest",
            Preset::AtbList => "atb-list",
            Preset::Weighted => "weighted",
            Preset::NoQuorum => "noquorum",
        }
    }

    /// The preset of a command-line name.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the preset applies to a cluster of `nodes` nodes.
    pub fn applies(self, nodes: usize) -> bool {
        match self {
            Preset::TwoNode => nodes == 2,
            _ => true,
        }
    }

    /// Draws a preset and its parameters for `nodelist` from the seed's quorum stream. Every
    /// draw happens whatever `forced` says, so forcing the preset the seed picked replays it.
    pub fn draw(rng: &mut Rng, nodelist: &MemberList, forced: Option<Preset>) -> (Preset, QuorumSetup) {
        let applicable: Vec<Preset> = Preset::ALL.into_iter().filter(|p| p.applies(nodelist.len())).collect();
        let drawn = rng.pick(&applicable).copied().unwrap_or(Preset::Plain);
        let preset = forced.unwrap_or(drawn);
        // Parameters, all drawn every time.
        let window_ms = rng.between(500, 2500);
        let lms_wfa = rng.chance(0.5);
        let mut ids: Vec<NodeId> = nodelist.iter().collect();
        for i in (1..ids.len()).rev() {
            ids.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let list_len = rng.between(1, ids.len().max(1) as u64) as usize;
        let weights: Vec<u32> = nodelist.iter().map(|_| [1, 1, 2, 3][rng.below(4) as usize]).collect();
        (preset, preset.setup(nodelist, window_ms, lms_wfa, &ids[..list_len.min(ids.len())], &weights))
    }

    fn setup(
        self,
        nodelist: &MemberList,
        window_ms: u64,
        lms_wfa: bool,
        atb_list: &[NodeId],
        weights: &[u32],
    ) -> QuorumSetup {
        let mut s = QuorumSetup::default();
        let mut key = |k: &str, v: String| s.keys.push((k.to_string(), v));
        let odd = nodelist.len() % 2 == 1;
        match self {
            Preset::Plain => {}
            Preset::WaitForAll => key("wait_for_all", "1".into()),
            Preset::TwoNode => key("two_node", "1".into()),
            Preset::LastManStanding => {
                key("last_man_standing", "1".into());
                key("last_man_standing_window", window_ms.to_string());
                if lms_wfa {
                    key("wait_for_all", "1".into());
                }
            }
            Preset::AtbLowest | Preset::AtbHighest | Preset::AtbList => {
                key("auto_tie_breaker", "1".into());
                match self {
                    Preset::AtbHighest => key("auto_tie_breaker_node", "highest".into()),
                    Preset::AtbList => {
                        let l: Vec<String> = atb_list.iter().map(|id| id.to_string()).collect();
                        key("auto_tie_breaker_node", l.join(" "));
                    }
                    _ => {}
                }
                // votequorum refuses ATB on an odd vote total without wait_for_all (corosync-behaviour §3.1).
                if odd {
                    key("wait_for_all", "1".into());
                }
            }
            Preset::Weighted => {
                s.votes = nodelist.iter().zip(weights).map(|(id, w)| (id, *w)).collect();
                if let Some(first) = nodelist.iter().next() {
                    // At least one heavy node, or this is Plain again.
                    if s.votes.values().all(|v| *v == 1) {
                        s.votes.insert(first, 2);
                    }
                }
            }
            Preset::NoQuorum => return QuorumSetup::none(),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: u32) -> MemberList {
        MemberList::from_ids((1..=n).map(|i| NodeId::new(i).unwrap())).unwrap()
    }

    #[test]
    fn every_preset_is_accepted_by_votequorum_for_every_size() {
        for n in 1..=9u32 {
            for seed in 0..40 {
                for p in Preset::ALL.into_iter().filter(|p| p.applies(n as usize)) {
                    let (_, s) = Preset::draw(&mut Rng::stream(seed, 4), &nodes(n), Some(p));
                    let settings = s.settings(&nodes(n));
                    assert!(settings.is_ok(), "{} nodes, {}: {settings:?}", n, s);
                    let full = s.full_membership(&nodes(n));
                    assert!(full.is_none_or(|(q, ..)| q), "{s}");
                }
            }
        }
    }

    #[test]
    fn forcing_the_drawn_preset_replays_it() {
        let (p, s) = Preset::draw(&mut Rng::stream(7, 4), &nodes(5), None);
        assert_eq!(Preset::draw(&mut Rng::stream(7, 4), &nodes(5), Some(p)), (p, s));
    }

    #[test]
    fn spec_3_14_weighted_example_and_fixed_expected_votes() {
        let mut s = QuorumSetup::default();
        s.votes.insert(NodeId::new(1).unwrap(), 3);
        assert_eq!(s.full_membership(&nodes(5)), Some((true, 4, 7, 7)));
        assert!(s.expected_votes_fixed());
        s.keys.push(("auto_tie_breaker".into(), "1".into()));
        assert!(!s.expected_votes_fixed());
        assert!(!QuorumSetup::none().expected_votes_fixed());
        assert_eq!(QuorumSetup::none().to_string(), "noquorum");
    }
}
