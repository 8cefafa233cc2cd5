//! Sorted, bounded, duplicate-free lists of node ids.

use crate::ids::NodeId;
use crate::limits::NODES_MAX;

/// A set of nodes, kept sorted by node id ascending (the order corosync reports members in),
/// without duplicates, and never longer than [`NODES_MAX`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberList(Vec<NodeId>);

/// A member list would exceed [`NODES_MAX`]; the list is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a member list may hold at most {NODES_MAX} nodes")]
pub struct TooManyMembers;

impl MemberList {
    /// The empty list.
    pub const fn new() -> MemberList {
        MemberList(Vec::new())
    }

    /// Builds a list from any ids: sorts them and drops duplicates.
    pub fn from_ids<I: IntoIterator<Item = NodeId>>(ids: I) -> Result<MemberList, TooManyMembers> {
        let mut v: Vec<NodeId> = ids.into_iter().take(NODES_MAX * 4 + 1).collect();
        v.sort_unstable();
        v.dedup();
        if v.len() > NODES_MAX {
            return Err(TooManyMembers);
        }
        Ok(MemberList(v))
    }

    /// A one-node list.
    pub fn single(id: NodeId) -> MemberList {
        MemberList(vec![id])
    }

    /// Adds a node; adding a present node changes nothing.
    pub fn insert(&mut self, id: NodeId) -> Result<(), TooManyMembers> {
        match self.0.binary_search(&id) {
            Ok(_) => Ok(()),
            Err(_) if self.0.len() >= NODES_MAX => Err(TooManyMembers),
            Err(pos) => {
                self.0.insert(pos, id);
                Ok(())
            }
        }
    }

    /// Removes a node if present; returns whether it was.
    pub fn remove(&mut self, id: NodeId) -> bool {
        match self.0.binary_search(&id) {
            Ok(pos) => {
                self.0.remove(pos);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: NodeId) -> bool {
        self.0.binary_search(&id).is_ok()
    }

    /// The members, sorted.
    pub fn as_slice(&self) -> &[NodeId] {
        &self.0
    }

    /// Iterates the members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.iter().copied()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The lowest node id, if any.
    pub fn lowest(&self) -> Option<NodeId> {
        self.0.first().copied()
    }

    /// The members of `self` that are not in `other`.
    pub fn minus(&self, other: &MemberList) -> MemberList {
        MemberList(self.0.iter().copied().filter(|id| !other.contains(*id)).collect())
    }

    /// The members of both.
    pub fn intersect(&self, other: &MemberList) -> MemberList {
        MemberList(self.0.iter().copied().filter(|id| other.contains(*id)).collect())
    }

    /// The members of either, bounded by [`NODES_MAX`].
    pub fn union(&self, other: &MemberList) -> Result<MemberList, TooManyMembers> {
        MemberList::from_ids(self.iter().chain(other.iter()))
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset(&self, other: &MemberList) -> bool {
        self.0.iter().all(|id| other.contains(*id))
    }

    /// The raw ids, as the C API carries them.
    pub fn raw(&self) -> Vec<u32> {
        self.0.iter().map(|id| id.get()).collect()
    }
}

impl std::fmt::Display for MemberList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{id}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[u32]) -> MemberList {
        MemberList::from_ids(raw.iter().map(|r| NodeId::new(*r).unwrap())).unwrap()
    }

    #[test]
    fn lists_are_sorted_and_deduplicated() {
        let l = ids(&[3, 1, 2, 3]);
        assert_eq!(l.raw(), vec![1, 2, 3]);
        assert_eq!(l.to_string(), "[1 2 3]");
    }

    #[test]
    fn set_operations() {
        let a = ids(&[1, 2, 3]);
        let b = ids(&[2, 3, 4]);
        assert_eq!(a.minus(&b).raw(), vec![1]);
        assert_eq!(a.intersect(&b).raw(), vec![2, 3]);
        assert_eq!(a.union(&b).unwrap().raw(), vec![1, 2, 3, 4]);
        assert!(ids(&[2]).is_subset(&a));
    }

    #[test]
    fn lists_are_bounded() {
        let too_many = (1..=(NODES_MAX as u32 + 1)).map(|r| NodeId::new(r).unwrap());
        assert_eq!(MemberList::from_ids(too_many), Err(TooManyMembers));
        let mut full = MemberList::from_ids((1..=NODES_MAX as u32).map(|r| NodeId::new(r).unwrap())).unwrap();
        assert_eq!(full.insert(NodeId::new(60_000).unwrap()), Err(TooManyMembers));
        assert_eq!(full.len(), NODES_MAX);
    }
}
