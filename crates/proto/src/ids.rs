//! Node and ring identities.

use std::fmt;

/// A cluster node's id, as configured by `nodelist.node.nodeid`.
///
/// Always in `1..=65535`: 0 is reserved (corosync uses it for the quorum device and for
/// "leave" messages) and knet cannot address larger ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u32);

/// The largest node id a cluster may use (knet's limit, enforced by corosync 3).
pub const NODE_ID_MAX: u32 = 65_535;

/// A node id outside `1..=65535`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("node id {0} is out of range: node ids must be between 1 and 65535")]
pub struct BadNodeId(pub u32);

impl NodeId {
    /// Checks the range and makes a node id.
    pub fn new(raw: u32) -> Result<NodeId, BadNodeId> {
        if (1..=NODE_ID_MAX).contains(&raw) {
            Ok(NodeId(raw))
        } else {
            Err(BadNodeId(raw))
        }
    }

    /// The raw value, as the C API and the wire carry it.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<u32> for NodeId {
    type Error = BadNodeId;
    fn try_from(raw: u32) -> Result<Self, Self::Error> {
        NodeId::new(raw)
    }
}

/// One of a node's links (networks): `nodelist.node.N.ringL_addr` and
/// `totem.interface.linknumber` L, always in `0..8` ([`crate::limits::LINKS_MAX`]).
///
/// The shell knows a datagram's link from the socket it read it on, and sends a transmit
/// from the socket of the link it names, to the destination's `ringL_addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(u8);

/// A link number outside `0..8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("link number {0} is out of range: link numbers must be between 0 and 7")]
pub struct BadLinkId(pub u32);

impl LinkId {
    /// Link 0, the only link of a single-network cluster.
    pub const ZERO: LinkId = LinkId(0);

    /// Checks the range and makes a link id.
    pub fn new(raw: u32) -> Result<LinkId, BadLinkId> {
        if raw < crate::limits::LINKS_MAX as u32 {
            Ok(LinkId(raw as u8))
        } else {
            Err(BadLinkId(raw))
        }
    }

    /// The link number.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The link number as an index (`0..LINKS_MAX`).
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Every link id, in order.
    pub fn all() -> impl Iterator<Item = LinkId> {
        (0..crate::limits::LINKS_MAX as u8).map(LinkId)
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The identity of one Totem ring (one configuration).
///
/// `rep` is the lowest node id of the ring, the node that built its commit token; `seq` is
/// larger than any ring seq that any member had seen before. `seq` alone is not unique: two
/// partitions may pick the same seq (corosync-behaviour §4.4), the pair is.
///
/// Ordered by `(seq, rep)`, so "a later ring" compares greater.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RingId {
    /// The ring's representative: its lowest node id.
    pub rep: u32,
    /// The ring sequence number.
    pub seq: u64,
}

impl RingId {
    /// The "no ring" id, `0.0`, that QUORUM_FREE snapshots report.
    pub const ZERO: RingId = RingId { rep: 0, seq: 0 };

    /// Makes a ring id.
    pub const fn new(rep: NodeId, seq: u64) -> RingId {
        RingId { rep: rep.get(), seq }
    }
}

impl Ord for RingId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.seq, self.rep).cmp(&(other.seq, other.rep))
    }
}

impl PartialOrd for RingId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Printed `rep.seq`, both in hex, like corosync's `CS_PRI_RING_ID` (e.g. `1.1e`).
impl fmt::Display for RingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.{:x}", self.rep, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_range_is_knets() {
        assert!(NodeId::new(0).is_err());
        assert_eq!(NodeId::new(1).map(NodeId::get), Ok(1));
        assert_eq!(NodeId::new(65_535).map(NodeId::get), Ok(65_535));
        assert_eq!(NodeId::new(65_536), Err(BadNodeId(65_536)));
    }

    #[test]
    fn link_ids_are_0_to_7() {
        assert_eq!(LinkId::new(0), Ok(LinkId::ZERO));
        assert_eq!(LinkId::new(7).map(LinkId::get), Ok(7));
        assert_eq!(LinkId::new(8), Err(BadLinkId(8)));
        assert_eq!(LinkId::all().count(), 8);
    }

    #[test]
    fn ring_id_prints_like_corosync() {
        // corosync-behaviour §1.1: CS_PRI_RING_ID is "%x.%llx".
        let r = RingId { rep: 1, seq: 0x1e };
        assert_eq!(r.to_string(), "1.1e");
        assert_eq!(RingId { rep: 0x1a, seq: 0x11 }.to_string(), "1a.11");
    }

    #[test]
    fn ring_ids_order_by_seq_then_rep() {
        let a = RingId { rep: 3, seq: 0x11 };
        let b = RingId { rep: 1, seq: 0x15 };
        assert!(a < b);
        assert!(RingId { rep: 1, seq: 0x11 } < a);
    }
}
