//! Redundant links in a world: every node runs with the world's link count and mode (two
//! links or more turn on the link layer's heartbeats and the partial-connectivity rule, as
//! `NodeParams::from_config` does), each datagram travels on the link its node chose, and the
//! link checkers get a [`LinkEnv`] each time the network or a node's status changed.
//!
//! Invariants: a single-link world changes nothing (no heartbeats, no link checker, the
//! network draws as before); the environment is fed before the input that follows the change,
//! so a view change is judged against the network it happened in.

use quorumd_node::NodeParams;
use quorumd_proto::{Duration, LinkId};
use quorumd_totem::{LinkKeys, LinkMode, LinkMutant, LinksConfig};

use super::{SimError, World, WorldParams};
use crate::check::Checker;
use crate::links::{LinkEnv, LinkWatch};

/// The links of a world.
#[derive(Debug)]
pub(super) struct WorldLinks {
    count: u32,
    mode: LinkMode,
    mutant: Option<LinkMutant>,
    /// Every node's link configuration (two links or more).
    config: Option<LinksConfig>,
    /// The link checkers' environment (two links or more).
    watch: Option<LinkWatch>,
}

impl WorldLinks {
    pub(super) fn new(params: &WorldParams, token: Duration) -> Result<WorldLinks, SimError> {
        let count = params.links;
        if !(1..=quorumd_proto::limits::LINKS_MAX as u32).contains(&count) {
            return Err(SimError::Links(format!(
                "{count} links per node (1 to {})",
                quorumd_proto::limits::LINKS_MAX
            )));
        }
        let config = if count > 1 {
            let keys: Vec<LinkKeys> =
                (0..count).filter_map(|l| LinkId::new(l).ok()).map(LinkKeys::new).collect();
            Some(
                LinksConfig::derive(params.link_mode, &keys, token)
                    .map_err(|e| SimError::Links(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(WorldLinks {
            count,
            mode: params.link_mode,
            mutant: params.link_mutant,
            config,
            watch: (count > 1).then(|| LinkWatch::new(count, token)),
        })
    }

    /// `checkers`, with the link checkers when the world has redundant links.
    pub(super) fn with_checkers(&self, mut checkers: Vec<Box<dyn Checker>>) -> Vec<Box<dyn Checker>> {
        if self.count > 1 {
            checkers.push(Box::new(crate::check::links::LinkChecker::default()));
        }
        checkers
    }

    /// The world changed (`disturbed`: by something else than the network).
    pub(super) fn watch_dirty(&mut self, disturbed: bool) {
        if let Some(w) = self.watch.as_mut() {
            w.dirty = true;
            w.disturbed |= disturbed;
        }
    }

    /// Gives a node about to start the world's links.
    pub(super) fn node_params(&self, params: &mut NodeParams) {
        if let Some(config) = &self.config {
            params.links = config.clone();
            params.clique_rule = true;
        }
        params.link_mutant = self.mutant;
    }
}

impl World {
    /// Links per node.
    pub fn link_count(&self) -> u32 {
        self.links.count
    }

    /// The link mode (meaningful with two links or more).
    pub fn link_mode(&self) -> LinkMode {
        self.links.mode
    }

    /// Something other than the network changed: the link checkers hear of it now.
    pub(super) fn links_disturbed(&mut self) {
        self.links.watch_dirty(true);
        self.feed_links();
    }

    /// Feeds the link checkers the current environment, if anything changed since the last.
    pub(super) fn feed_links(&mut self) {
        let Some(watch) = self.links.watch.as_mut().filter(|w| w.dirty) else { return };
        watch.dirty = false;
        let running: Vec<_> = self
            .slots
            .iter()
            .filter(|(_, s)| s.status == crate::check::Status::Running)
            .map(|(id, _)| *id)
            .collect();
        let paused = self.slots.values().any(|s| s.status == crate::check::Status::Paused);
        let env: LinkEnv = watch.env(self.now, &self.net, &running, paused);
        let now = self.now;
        self.feed(|c| c.on_links(now, &env));
    }
}
