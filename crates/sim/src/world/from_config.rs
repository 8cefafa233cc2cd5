//! A world that runs a real corosync.conf: every node's parameters come from
//! [`quorumd_node::NodeParams::from_config`], the very function the daemon starts with, so the
//! simulation and `quorumtool what-if` cannot drift from what the daemon would do.

use std::collections::BTreeMap;

use quorumd_config::Config;
use quorumd_node::{AccessPolicy, NodeParams};

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

#[cfg(test)]
mod tests {
    use super::*;
    use quorumd_proto::MemberList;

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
}
