//! Node lifecycles: start (and restart from the persisted ring seq), crash, graceful stop,
//! pause and resume, and submitting messages.
//!
//! Invariants: a node boots with `start_seq = persisted seq + 1` (corosync-behaviour §4.4, corosync's ringid
//! file, created holding 0: a fresh node starts from 1); a crash drops the node object and
//! everything in its inbox; a stop calls `leave` and drops the node once it reports
//! `NodeEvent::Left`, after its leave datagrams went out.

use quorumd_node::{Node, NodeParams};
use quorumd_proto::NodeId;

use super::{SimError, World};
use crate::check::{Lifecycle, Status};

impl World {
    fn require(&self, op: &'static str, id: NodeId, allowed: &[Status]) -> Result<(), SimError> {
        let status = self.status(id).ok_or(SimError::UnknownNode(id))?;
        if allowed.contains(&status) {
            Ok(())
        } else {
            Err(SimError::BadState { op, node: id, status })
        }
    }

    fn lifecycle(&mut self, id: NodeId, step: Lifecycle) {
        let now = self.now;
        for c in self.checkers.iter_mut() {
            c.on_lifecycle(now, id, step);
        }
        self.changed = true;
        self.quorum_dirty = true;
        if step != Lifecycle::Started {
            // A node going away can only make rings count as quorate: look now.
            self.check_quorum_views();
        }
    }

    /// Boots a node that never ran, crashed or stopped.
    pub fn start(&mut self, id: NodeId) -> Result<(), SimError> {
        self.require("start", id, &[Status::Never, Status::Crashed, Status::Stopped])?;
        let now = self.now;
        let mut params = NodeParams::new(id, self.nodelist.clone(), self.totem.clone());
        params.cluster_id = self.cluster_id;
        params.mutant = self.mutant;
        params.quorum = self.settings.as_ref().and_then(|s| s.get(&id)).cloned();
        let Some(slot) = self.slots.get_mut(&id) else { return Err(SimError::UnknownNode(id)) };
        // corosync's ringid file is created holding 0 and read back plus one (corosync-behaviour §4.4).
        let start_seq = slot.persisted.unwrap_or(0).saturating_add(1);
        params.start_seq = start_seq;
        slot.node = Some(Node::new(params, now));
        slot.stopping = false;
        slot.clients = None;
        slot.incarnation += 1;
        slot.status = Status::Running;
        slot.inbox.clear();
        self.note(&format!("start {id} (start_seq {start_seq:#x})"));
        self.lifecycle(id, Lifecycle::Started);
        self.drain(id);
        Ok(())
    }

    /// Kills a running or paused node without a word: it and everything in flight to it are
    /// gone.
    pub fn crash(&mut self, id: NodeId) -> Result<(), SimError> {
        self.require("crash", id, &[Status::Running, Status::Paused])?;
        self.take_down(id, Status::Crashed);
        self.note(&format!("crash {id}"));
        self.lifecycle(id, Lifecycle::Crashed);
        Ok(())
    }

    /// Graceful shutdown: the node leaves; once it reports that the leave is complete (at
    /// once without a quorum provider) its last datagrams go out and it stops.
    pub fn stop(&mut self, id: NodeId) -> Result<(), SimError> {
        self.require("stop", id, &[Status::Running])?;
        let now = self.now;
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.stopping = true;
            if let Some(node) = slot.node.as_mut() {
                node.leave(now);
            }
        }
        self.note(&format!("stop {id}"));
        self.drain(id);
        Ok(())
    }

    /// The node reported its leave complete: drop it.
    pub(super) fn finish_stop(&mut self, id: NodeId) {
        self.take_down(id, Status::Stopped);
        self.note(&format!("stopped {id}"));
        self.lifecycle(id, Lifecycle::Stopped);
    }

    fn take_down(&mut self, id: NodeId, status: Status) {
        self.set_timer(id, None);
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.node = None;
            slot.status = status;
            slot.inbox.clear();
            slot.stopping = false;
            slot.clients = None;
            // Bumping the incarnation loses every datagram in flight to the old one.
            slot.incarnation += 1;
        }
    }

    /// Freezes a running node.
    pub fn pause(&mut self, id: NodeId) -> Result<(), SimError> {
        self.require("pause", id, &[Status::Running])?;
        let timer = self.slots.get(&id).and_then(|s| s.timer);
        if let Some(at) = timer {
            self.timers.remove(&(at, id));
        }
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.status = Status::Paused;
        }
        self.note(&format!("pause {id}"));
        self.changed = true;
        Ok(())
    }

    /// Thaws a paused node: it handles its queued datagrams now, and its overdue timer next.
    pub fn resume(&mut self, id: NodeId) -> Result<(), SimError> {
        self.require("resume", id, &[Status::Paused])?;
        let inbox = match self.slots.get_mut(&id) {
            Some(slot) => {
                slot.status = Status::Running;
                std::mem::take(&mut slot.inbox)
            }
            None => return Err(SimError::UnknownNode(id)),
        };
        self.note(&format!("resume {id} ({} queued datagrams)", inbox.len()));
        self.changed = true;
        for bytes in inbox {
            self.handle_bytes(id, &bytes);
        }
        self.drain(id);
        Ok(())
    }

    /// Hands a message to a running node for ordered delivery; `Ok(false)` when the node
    /// refused it (queue full).
    pub fn submit(&mut self, id: NodeId, payload: Vec<u8>) -> Result<bool, SimError> {
        self.require("submit to", id, &[Status::Running])?;
        let accepted = match self.slots.get_mut(&id).and_then(|s| s.node.as_mut()) {
            Some(node) => node.submit(payload).is_ok(),
            None => false,
        };
        self.drain(id);
        Ok(accepted)
    }
}
