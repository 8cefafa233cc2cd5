//! Node lifecycles: start (and restart from the persisted ring seq), crash, graceful stop,
//! pause and resume, and submitting messages.
//!
//! Invariants: a node boots with `start_seq = persisted seq + 1` (corosync-behaviour §4.4, corosync's ringid
//! file, created holding 0: a fresh node starts from 1) — from a wiped state directory as a
//! fresh node, from a restored older copy with that copy's seq; a crash drops the node object and
//! everything in its inbox; a stop calls `leave` and drops the node once it reports
//! `NodeEvent::Left`, after its leave datagrams went out.

use quorumd_node::{CryptoParams, Node, NodeParams};
use quorumd_proto::NodeId;

use super::{SimError, World};
use crate::check::{Lifecycle, Status};

/// What a (re)started node finds in its state directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateDir {
    /// What it persisted last (a normal restart).
    Kept,
    /// Nothing: the directory was lost (a reinstall, a new disk).
    Wiped,
    /// A restored older copy: the value persisted `n` stores before the last one (1 = the one
    /// before; the oldest kept copy when fewer are kept, a wiped directory when none is).
    Older(usize),
}

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
        self.links_disturbed();
        if step != Lifecycle::Started {
            // A node going away can only make rings count as quorate: look now.
            self.check_quorum_views();
        }
    }

    /// Boots a node that never ran, crashed or stopped, from what it persisted.
    pub fn start(&mut self, id: NodeId) -> Result<(), SimError> {
        self.start_with_state(id, StateDir::Kept)
    }

    /// Boots a node that never ran, crashed or stopped, from `state`: a lost or older state
    /// replaces what it persisted (its newer copies are gone for good).
    pub fn start_with_state(&mut self, id: NodeId, state: StateDir) -> Result<(), SimError> {
        self.require("start", id, &[Status::Never, Status::Crashed, Status::Stopped])?;
        let lost = match (state, self.slots.get_mut(&id)) {
            (StateDir::Kept, _) | (_, None) => false,
            (StateDir::Wiped, Some(slot)) => {
                slot.persisted = None;
                slot.older.clear();
                true
            }
            (StateDir::Older(n), Some(slot)) => {
                let keep = slot.older.len().saturating_sub(n.max(1));
                let restored = slot.older.get(keep).copied();
                slot.older.truncate(keep);
                slot.persisted = restored;
                true
            }
        };
        let now = self.now;
        let mut params = match self.configured.get(&id) {
            Some(configured) => configured.clone(),
            None => {
                let mut params = NodeParams::new(id, self.nodelist.clone(), self.totem.clone());
                params.cluster_id = self.cluster_id;
                params.quorum = self.settings.as_ref().and_then(|s| s.get(&id)).cloned();
                params
            }
        };
        params.mutant = self.mutant;
        self.links.node_params(&mut params);
        // The CPG mutants break one node (every node broken alike would agree with itself).
        params.cpg_mutant = self.cpg_mutant.filter(|_| self.nodelist.iter().next() == Some(id));
        if let Some((key, rng)) = self.crypto.as_mut() {
            let boot_nonce = std::iter::repeat_with(|| rng.next_u64()).find_map(std::num::NonZeroU64::new);
            params.crypto = boot_nonce.map(|boot_nonce| CryptoParams { key: key.clone(), boot_nonce });
        }
        let Some(slot) = self.slots.get_mut(&id) else { return Err(SimError::UnknownNode(id)) };
        // corosync's ringid file is created holding 0 and read back plus one (corosync-behaviour §4.4).
        let start_seq = slot.persisted.unwrap_or(0).saturating_add(1);
        params.start_seq = start_seq;
        params.incarnation = self.rng.next_u64();
        slot.node = Some(Node::new(params, now));
        slot.stopping = false;
        slot.clients = None;
        slot.incarnation += 1;
        slot.status = Status::Running;
        slot.inbox.clear();
        self.note(&format!("start {id} (start_seq {start_seq:#x}, state dir {state:?})"));
        self.lifecycle(id, if lost { Lifecycle::StartedWithLostState } else { Lifecycle::Started });
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
        self.cpg_node_gone(id);
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.node = None;
            slot.status = status;
            slot.inbox.clear();
            slot.stopping = false;
            slot.clients = None;
            slot.paused_at = None;
            slot.blocked_getquorate = 0;
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
        let now = self.now;
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.status = Status::Paused;
            slot.paused_at = Some(now);
        }
        self.note(&format!("pause {id}"));
        self.changed = true;
        self.links_disturbed();
        Ok(())
    }

    /// Thaws a paused node: it handles its queued datagrams now, and its overdue timer next.
    pub fn resume(&mut self, id: NodeId) -> Result<(), SimError> {
        self.require("resume", id, &[Status::Paused])?;
        let inbox = match self.slots.get_mut(&id) {
            Some(slot) => {
                slot.status = Status::Running;
                slot.paused_at = None;
                std::mem::take(&mut slot.inbox)
            }
            None => return Err(SimError::UnknownNode(id)),
        };
        self.note(&format!("resume {id} ({} queued datagrams)", inbox.len()));
        self.changed = true;
        self.links_disturbed();
        for (link, bytes) in inbox {
            self.handle_link_bytes(id, link, &bytes);
        }
        self.drain(id);
        // The calls that waited get what the daemon answers once it runs again.
        self.answer_blocked(id);
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
