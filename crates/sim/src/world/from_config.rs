//! A world that runs a real corosync.conf: every node's parameters come from
//! [`quorumd_node::NodeParams::from_config`], the very function the daemon starts with, so the
//! simulation and `quorumtool what-if` cannot drift from what the daemon would do.

use std::collections::BTreeMap;

use quorumd_config::Config;
use quorumd_node::{AccessPolicy, NodeParams};
use quorumd_proto::NodeId;

use super::{SimError, World, WorldParams};

impl World {
    /// A world of `config`'s nodelist whose nodes are built from `config` (Totem timing,
    /// cluster id, votequorum settings). `params` supplies the network, the seed, the mutant and
    /// the quorum setup the checkers judge by; its nodelist must be `config`'s.
    pub fn with_config(params: WorldParams, config: &Config) -> Result<World, SimError> {
        let mut configured = BTreeMap::new();
        for id in params.nodelist.iter() {
            // The simulated clients are root: the access policy does not matter here.
            let p = NodeParams::from_config(config, id, AccessPolicy::default())
                .map_err(|e| SimError::Quorum(e.to_string()))?;
            configured.insert(id, p);
        }
        let mut world = World::new(params)?;
        if let Some(first) = configured.values().next() {
            world.totem = first.totem.clone();
            world.cluster_id = first.cluster_id;
        }
        world.settings = configured.iter().map(|(id, p)| p.quorum.clone().map(|q| (*id, q))).collect();
        world.configured = configured;
        Ok(world)
    }
}

impl World {
    /// Gives node `id` (running or not) the parameters of `config`: a running node reloads
    /// them ([`quorumd_node::Node::reload`], as the daemon does on SIGHUP) and answers what
    /// changed; a node that is not running starts with them next time. On an error nothing
    /// changed. Like the world's nodelist at creation, every node a configuration names must
    /// be one of the world's.
    pub fn reconfigure(&mut self, id: NodeId, config: &Config) -> Result<Vec<String>, SimError> {
        let p = NodeParams::from_config(config, id, AccessPolicy::default())
            .map_err(|e| SimError::Quorum(e.to_string()))?;
        if let Some(stranger) = p.nodelist.minus(&self.nodelist).iter().next() {
            return Err(SimError::UnknownNode(stranger));
        }
        let now = self.now;
        let changes = match self.slots.get_mut(&id).and_then(|s| s.node.as_mut()) {
            Some(node) => node.reload(now, p.clone()).map_err(SimError::Quorum)?,
            None => Vec::new(),
        };
        self.note(&format!("reconfigure {id}: {}", changes.join("; ")));
        self.configured.insert(id, p);
        self.quorum_dirty = true;
        self.drain(id);
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::NetParams;
    use quorumd_proto::{Duration, MemberList};

    #[test]
    fn nodes_of_a_configured_world_run_the_configured_timing() {
        let text =
            "totem {\n version: 2\n cluster_name: sim\n token: 700\n}\nnodelist {\n node {\n  nodeid: 1\n  \
                    ring0_addr: a\n  quorum_votes: 2\n }\n node {\n  nodeid: 2\n  ring0_addr: b\n }\n}\n\
                    quorum {\n provider: corosync_votequorum\n}\n";
        let config = quorumd_config::parse_str(text, "c").unwrap();
        let nodelist = MemberList::from_ids(config.node_ids()).unwrap();
        let world = World::with_config(WorldParams::new(nodelist), &config).unwrap();
        assert_eq!(world.totem_config().token.as_millis(), 700);
        assert_eq!(world.cluster_id, quorumd_config::cluster_id_of("sim"));
        let votes: Vec<u32> =
            world.configured.values().filter_map(|p| p.quorum.as_ref()).map(|q| q.my_votes).collect();
        assert_eq!(votes, [2, 1]);
    }

    fn config(ids: &[u32]) -> Config {
        let mut text = String::from("totem {\n version: 2\n cluster_name: grow\n}\nnodelist {\n");
        for n in ids {
            text.push_str(&format!(" node {{\n  nodeid: {n}\n  ring0_addr: 10.0.0.{n}\n }}\n"));
        }
        text.push_str("}\nquorum {\n provider: corosync_votequorum\n}\n");
        quorumd_config::parse_str(&text, "c").unwrap()
    }

    fn id(n: u32) -> NodeId {
        NodeId::new(n).unwrap()
    }

    /// Every running node in one ring of `want`, quorate, within a minute of virtual time.
    fn settle_to(world: &mut World, want: &[u32]) {
        let want = MemberList::from_ids(want.iter().map(|n| id(*n))).unwrap();
        let deadline = world.now() + Duration::from_millis(60_000);
        let ok = world.run_until_pred(deadline, |w| {
            crate::settle::settled(w).is_ok()
                && want
                    .iter()
                    .all(|n| w.node(n).is_some_and(|node| node.members() == &want && node.quorate()))
        });
        assert!(
            ok,
            "never settled to {want}: {:?}\n{}",
            crate::settle::settled(world),
            world.log_lines().join("\n")
        );
    }

    #[test]
    fn nodes_added_and_removed_by_reload_under_loss_and_a_partition() {
        for seed in 1..=20 {
            let all = MemberList::from_ids([1, 2, 3, 4].map(id)).unwrap();
            let mut params = WorldParams::new(all);
            params.seed = seed;
            params.net = NetParams { loss: 0.05, ..NetParams::default() };
            let mut world = World::new(params).unwrap();
            world.enable_log();
            let three = config(&[1, 2, 3]);
            let four = config(&[1, 2, 3, 4]);
            for n in 1..=3 {
                world.reconfigure(id(n), &three).unwrap();
                world.start(id(n)).unwrap();
            }
            world.reconfigure(id(4), &four).unwrap();
            settle_to(&mut world, &[1, 2, 3]);
            // Node 4 is added everywhere, then starts; a partition cuts node 3 off meanwhile.
            for n in 1..=3 {
                let changes = world.reconfigure(id(n), &four).unwrap();
                assert_eq!(changes, ["nodes added: 4", "expected votes: 3 -> 4"], "seed {seed}");
            }
            world.start(id(4)).unwrap();
            world.net_mut().split(&[vec![id(1), id(2), id(4)], vec![id(3)]]);
            settle_to(&mut world, &[1, 2, 4]);
            world.net_mut().heal();
            settle_to(&mut world, &[1, 2, 3, 4]);
            // Removing a running member is refused; once it is stopped, it may go.
            let e = world.reconfigure(id(1), &config(&[1, 2, 3])).unwrap_err().to_string();
            assert!(e.contains("node 4 is a member of the current ring"), "seed {seed}: {e}");
            world.crash(id(4)).unwrap();
            settle_to(&mut world, &[1, 2, 3]);
            for n in 1..=3 {
                world.reconfigure(id(n), &config(&[1, 2, 3])).unwrap();
            }
            settle_to(&mut world, &[1, 2, 3]);
            assert!(world.violations().is_empty(), "seed {seed}: {:?}", world.violations());
        }
    }
}
