//! Checker (d): configurations hold only configured nodes (members, joined and left lists
//! are all subsets of the nodelist).

use quorumd_node::TotemEvent;
use quorumd_proto::{Instant, MemberList, NodeId};

use super::{violation, Checker, Violation};

/// Views ⊆ configured nodes.
#[derive(Debug)]
pub struct Configured {
    nodelist: MemberList,
}

impl Configured {
    /// For a cluster configured with `nodelist`.
    pub fn new(nodelist: MemberList) -> Configured {
        Configured { nodelist }
    }
}

impl Checker for Configured {
    fn name(&self) -> &'static str {
        "configured-nodes-only"
    }

    fn on_event(&mut self, now: Instant, node: NodeId, event: &TotemEvent) -> Result<(), Violation> {
        let TotemEvent::ConfChange(cc) = event else { return Ok(()) };
        for (what, list) in [("members", &cc.members), ("joined", &cc.joined), ("left", &cc.left)] {
            let stray = list.minus(&self.nodelist);
            if !stray.is_empty() {
                return Err(violation(
                    self.name(),
                    now,
                    format!(
                        "node {node} installed a {:?} configuration of ring {} whose {what} list {list} \
                         holds unconfigured nodes {stray} (nodelist {})",
                        cc.kind, cc.ring_id, self.nodelist
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn an_unconfigured_member_is_caught() {
        let mut c = Configured::new(list(&[1, 2, 3]));
        let z = ring(0, 0);
        assert_eq!(feed(&mut c, &[(1, regular(z, ring(1, 4), &[1, 2, 3]))]), Ok(()));
        let err = feed(&mut c, &[(1, regular(z, ring(1, 8), &[1, 7]))]).unwrap_err();
        assert!(err.message.contains("holds unconfigured nodes [7] (nodelist [1 2 3])"), "{err}");
    }
}
