//! The assembled, validated [`Config`] and the helpers the daemon and the node need from it.

use std::collections::BTreeMap;

use quorumd_proto::NodeId;

use crate::error::Warning;
use crate::logging::Logging;
use crate::nodelist::Node;
use crate::quorum::{Quorum, QuorumProvider};
use crate::system::System;
use crate::totem::Totem;
use crate::uidgid::UidGid;

/// A parsed, validated corosync.conf (plus its `uidgid.d/` drop-ins).
///
/// Invariants: `totem.version` is 2; node ids, node names and node addresses are unique; every
/// node has a nodeid in `1..=65535` and a `ring0_addr`; every node has the same links, the
/// addresses of a link are of one family, more than one link means knet and named nodes; at most
/// [`quorumd_proto::limits::NODES_MAX`] nodes; crypto is only set for knet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `totem { }`.
    pub totem: Totem,
    /// `nodelist { node { } … }`, in file order.
    pub nodelist: Vec<Node>,
    /// `quorum { }` (all `None` and no provider when the section is absent).
    pub quorum: Quorum,
    /// `logging { }`.
    pub logging: Logging,
    /// `uidgid { }` entries from the main file, then from each drop-in in the order given.
    pub uidgid: Vec<UidGid>,
    /// `system { }`.
    pub system: System,
    /// `resources { }`, flattened to `path → value`.
    pub resources: BTreeMap<String, String>,
    /// Things accepted but probably not meant, in file order.
    pub warnings: Vec<Warning>,
}

impl Config {
    /// The node with id `id`, if it is in the nodelist.
    pub fn node_by_id(&self, id: NodeId) -> Option<&Node> {
        self.nodelist.iter().find(|n| n.nodeid == id)
    }

    /// The node named `name` (the `name` key), if any.
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.nodelist.iter().find(|n| n.name.as_deref() == Some(name))
    }

    /// How many nodes the nodelist has.
    pub fn node_count(&self) -> usize {
        self.nodelist.len()
    }

    /// The nodelist's ids, ascending.
    pub fn node_ids(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.nodelist.iter().map(|n| n.nodeid).collect();
        ids.sort_unstable();
        ids
    }

    /// The sum of every node's votes (`quorum_votes`, default 1).
    pub fn nodelist_votes(&self) -> u64 {
        self.nodelist.iter().map(|n| u64::from(n.votes())).sum()
    }

    /// Whether `quorum.provider` is `corosync_votequorum` (otherwise: QUORUM_FREE).
    pub fn has_votequorum(&self) -> bool {
        self.quorum.provider == Some(QuorumProvider::Votequorum)
    }

    /// The cluster id carried in every datagram header: [`cluster_id_of`] the configured
    /// `cluster_name`, or of the empty string when none is configured (corosync has no default
    /// cluster name).
    pub fn cluster_id(&self) -> u32 {
        cluster_id_of(self.totem.cluster_name.as_deref().unwrap_or(""))
    }
}

/// The 32-bit cluster id of a cluster name: FNV-1a (offset basis `0x811c9dc5`, prime
/// `0x01000193`) over the name's UTF-8 bytes. Stable across versions and platforms; two
/// clusters on one network must have different names (a collision only means their datagrams
/// are not told apart by the header, authentication still is).
pub fn cluster_id_of(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // Published FNV-1a 32-bit test vectors.
        assert_eq!(cluster_id_of(""), 0x811c_9dc5);
        assert_eq!(cluster_id_of("a"), 0xe40c_292c);
        assert_eq!(cluster_id_of("foobar"), 0xbf9c_f968);
    }
}
