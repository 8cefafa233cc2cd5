//! The step loop: picks the next due input (earliest arrival or timer; arrivals first on a
//! tie), hands it to its node and drains the node's outputs.
//!
//! Invariants: after every input the node's events are drained before its transmits (a
//! persisted ring seq is stored before anything polled after it is sent); every transmit is
//! routed by the network model with the world's one [`crate::rng::Rng`], in transmit order,
//! destination order.

use std::rc::Rc;

use quorumd_proto::{Instant, NodeId};

use quorumd_node::SERVICE_VOTEQUORUM;
use quorumd_proto::RingId;
use quorumd_votequorum::VqMessage;

use super::{
    clients, Arrival, NodeEvent, TotemEvent, Transmit, World, PREDICATE_POLL, SAME_INSTANT_STEPS_MAX,
    STEPS_MAX,
};
use crate::check::{violation, QuorumObservation, Status, VqNumbers};

/// Whether the state read after an input is that of an activation followed by `later` events:
/// no other activation, no quorate flip and no votequorum message after it.
fn exact_activation(later: &[NodeEvent]) -> bool {
    !later.iter().any(|e| match e {
        NodeEvent::SyncCompleted { .. } | NodeEvent::QuorateChanged { .. } => true,
        NodeEvent::Totem(TotemEvent::Deliver(d)) => d.payload.first() == Some(&SERVICE_VOTEQUORUM),
        _ => false,
    })
}

/// The ring of a delivered votequorum RECONFIGURE.
fn reconfigure_ring(ev: &TotemEvent) -> Option<RingId> {
    let TotemEvent::Deliver(d) = ev else { return None };
    let (&SERVICE_VOTEQUORUM, body) = d.payload.split_first()? else { return None };
    matches!(VqMessage::decode(body), Ok(VqMessage::Reconfigure(_))).then_some(d.ring_id)
}

impl World {
    /// Advances virtual time to `until`, processing every input due by then.
    pub fn run_until(&mut self, until: Instant) {
        while !self.stuck && self.step(until) {}
        if !self.stuck {
            self.now = self.now.max(until);
        }
    }

    /// Advances virtual time by `d`.
    pub fn run_for(&mut self, d: quorumd_proto::Duration) {
        self.run_until(self.now + d);
    }

    /// Runs until `pred` holds (checked after every step that changed a node's membership or
    /// state, and every [`PREDICATE_POLL`]) or `deadline` passes. Returns whether it held; on
    /// success virtual now is the instant it first held.
    pub fn run_until_pred(&mut self, deadline: Instant, mut pred: impl FnMut(&World) -> bool) -> bool {
        self.changed = false;
        if pred(self) {
            return true;
        }
        let mut next_poll = self.now + PREDICATE_POLL;
        loop {
            if self.stuck {
                return false;
            }
            let horizon = next_poll.min(deadline);
            if self.step(horizon) {
                if std::mem::take(&mut self.changed) && pred(self) {
                    return true;
                }
                continue;
            }
            self.now = self.now.max(horizon);
            if pred(self) {
                return true;
            }
            if horizon >= deadline {
                return false;
            }
            next_poll = horizon + PREDICATE_POLL;
        }
    }

    /// Whether the run stopped making progress (reported as a violation).
    pub fn is_stuck(&self) -> bool {
        self.stuck
    }

    /// Processes the next input due at or before `until`; false when there is none.
    fn step(&mut self, until: Instant) -> bool {
        let arrival = self.queue.first_key_value().map(|(k, _)| k.0);
        let timer = self.timers.first().copied();
        let (at, is_arrival) = match (arrival, timer) {
            (None, None) => return false,
            (Some(a), None) => (a, true),
            (None, Some((t, _))) => (t, false),
            (Some(a), Some((t, _))) if a <= t.max(self.now) => (a, true),
            (Some(_), Some((t, _))) => (t, false),
        };
        let at = at.max(self.now);
        if at > until {
            return false;
        }
        self.advance_to(at);
        if self.stuck {
            return false;
        }
        self.feed_links();
        if is_arrival {
            if let Some((_, a)) = self.queue.pop_first() {
                self.deliver(a);
            }
        } else if let Some((_, id)) = timer {
            self.fire_timer(id);
        }
        true
    }

    fn advance_to(&mut self, at: Instant) {
        self.steps += 1;
        if self.queue.len() > self.in_flight_max || self.steps > STEPS_MAX {
            self.stuck = true;
            let v = violation(
                "progress",
                self.now,
                format!(
                    "{} datagrams in flight after {} inputs (bounds: {} in flight, {STEPS_MAX} inputs): the \
                     protocol is amplifying its own traffic or never quiesces",
                    self.queue.len(),
                    self.steps,
                    self.in_flight_max
                ),
            );
            self.record_violation(v);
            return;
        }
        if at > self.now {
            self.now = at;
            self.same_instant_steps = 0;
            return;
        }
        self.same_instant_steps += 1;
        if self.same_instant_steps > SAME_INSTANT_STEPS_MAX {
            self.stuck = true;
            let now = self.now;
            let due_timers: Vec<String> =
                self.timers.iter().take_while(|(t, _)| *t <= now).map(|(_, id)| id.to_string()).collect();
            let due_arrivals = self.queue.keys().take_while(|(t, _)| *t <= now).count();
            let v = violation(
                "progress",
                now,
                format!(
                    "more than {SAME_INSTANT_STEPS_MAX} inputs at one virtual instant: the run makes no \
                     progress (still due now: {due_arrivals} datagrams, {} queued in all; timers of nodes [{}])",
                    self.queue.len(),
                    due_timers.join(" ")
                ),
            );
            self.record_violation(v);
        }
    }

    fn fire_timer(&mut self, id: NodeId) {
        self.set_timer(id, None);
        let now = self.now;
        let lms = self.quorum.last_man_standing();
        let mut lms_expired = false;
        if let Some(node) = self.slots.get_mut(&id).and_then(|s| s.node.as_mut()) {
            self.stats.timeouts += 1;
            // An LMS expiry recomputes before the membership events of this input are pumped,
            // so it is reported first. A window re-armed by a sync in the same input hides an
            // expiry that changed no number, which is harmless to the checkers.
            let before = if lms { node.quorum_state() } else { None };
            node.handle_timeout(now);
            if let Some(before) = before.filter(|b| b.lms_window_running) {
                let after = node.quorum_state();
                lms_expired = after.is_some_and(|a| {
                    !a.lms_window_running
                        || a.expected_votes != before.expected_votes
                        || a.quorum != before.quorum
                });
            }
        }
        if lms_expired {
            self.note(&format!("node {id}: last_man_standing window expired"));
            self.feed(|c| c.on_quorum(now, id, &QuorumObservation::LmsExpired));
        }
        self.drain(id);
    }

    fn deliver(&mut self, a: Arrival) {
        let Some(slot) = self.slots.get_mut(&a.to) else { return };
        if slot.incarnation != a.incarnation {
            self.stats.undeliverable += 1;
            return;
        }
        match slot.status {
            Status::Running => self.handle_link_bytes(a.to, a.link, &a.bytes),
            Status::Paused if slot.inbox.len() < super::PAUSED_INBOX_MAX => {
                slot.inbox.push_back((a.link, a.bytes))
            }
            _ => self.stats.undeliverable += 1,
        }
        self.drain(a.to);
    }

    /// Datagrams from outside the simulated cluster (a hostile host using a member's source
    /// address) arriving at node `to` now, in order: a running node handles them, a paused one
    /// queues them in its bounded inbox, a down one loses them. Then the node is drained once
    /// and the footprints are checked.
    pub fn inject(&mut self, to: NodeId, datagrams: &[Vec<u8>]) {
        self.links_disturbed();
        let Some(slot) = self.slots.get_mut(&to) else { return };
        match slot.status {
            Status::Running => {
                for d in datagrams {
                    self.handle_bytes(to, d);
                }
            }
            Status::Paused => {
                for d in datagrams {
                    if slot.inbox.len() >= super::PAUSED_INBOX_MAX {
                        break;
                    }
                    slot.inbox.push_back((quorumd_proto::LinkId::ZERO, d.as_slice().into()));
                }
            }
            _ => self.stats.undeliverable += datagrams.len() as u64,
        }
        self.drain(to);
        self.check_footprints();
    }

    /// Feeds what every running or paused node holds for ordered messages to the checkers.
    pub fn check_footprints(&mut self) {
        let now = self.now;
        let footprints: Vec<_> =
            self.slots.iter().filter_map(|(id, s)| Some((*id, s.node.as_ref()?.totem_footprint()))).collect();
        for (id, f) in footprints {
            self.feed(|c| c.on_footprint(now, id, &f));
        }
    }

    /// Hands one datagram to a running node (its outputs are drained by the caller).
    pub(super) fn handle_bytes(&mut self, id: NodeId, bytes: &[u8]) {
        self.handle_link_bytes(id, quorumd_proto::LinkId::ZERO, bytes);
    }

    /// Hands one datagram that arrived on `link` to a running node.
    pub(super) fn handle_link_bytes(&mut self, id: NodeId, link: quorumd_proto::LinkId, bytes: &[u8]) {
        let now = self.now;
        if let Some(node) = self.slots.get_mut(&id).and_then(|s| s.node.as_mut()) {
            self.stats.delivered += 1;
            if node.handle_link_datagram(now, link, bytes).is_err() {
                self.stats.dropped_by_node += 1;
            }
        }
    }

    /// Drains a running node's events, then its client frames, then its transmits, then
    /// re-arms its timer (or drops the node when its graceful leave is complete); connects the
    /// simulated clients after the incarnation's first sync.
    pub(super) fn drain(&mut self, id: NodeId) {
        let Some(slot) = self.slots.get_mut(&id) else { return };
        if slot.status != Status::Running {
            return;
        }
        let Some(node) = slot.node.as_mut() else { return };
        let mut events = Vec::new();
        while let Some(ev) = node.poll_event() {
            if let NodeEvent::Totem(TotemEvent::PersistRingSeq(s)) = ev {
                if let Some(old) = slot.persisted.replace(s) {
                    if slot.older.len() >= super::STATE_COPIES_MAX {
                        slot.older.pop_front();
                    }
                    slot.older.push_back(old);
                }
            }
            events.push(ev);
        }
        let activated = events.iter().any(|e| matches!(e, NodeEvent::SyncCompleted { .. }));
        // The state after this input: it is the state of an activation only if nothing after
        // the activation changed it (see `exact_activation`).
        let numbers = if activated { node.quorum_state() } else { None }.map(|s| VqNumbers {
            quorum: s.quorum,
            expected_votes: s.expected_votes,
            total_votes: s.total_votes,
        });
        let mut outputs = Vec::new();
        while let Some(out) = node.poll_client() {
            outputs.push(out);
        }
        let mut transmits = Vec::new();
        while let Some(t) = node.poll_transmit() {
            transmits.push(t);
        }
        let timeout = node.poll_timeout();
        let left = events.iter().any(|e| matches!(e, NodeEvent::Left));
        let finish = left && slot.stopping;
        let connect = activated && slot.clients.is_none() && !finish;
        if connect {
            slot.clients = Some(clients::SimClients::default());
        }
        for (i, ev) in events.iter().enumerate() {
            match ev {
                NodeEvent::Totem(ev) => self.observe(id, ev),
                other => {
                    let exact = exact_activation(&events[i + 1..]);
                    self.observe_quorum(id, other, if exact { numbers } else { None });
                }
            }
        }
        let changed = events.iter().any(|e| matches!(e, NodeEvent::Totem(TotemEvent::ConfChange(_))));
        for e in &events {
            if let NodeEvent::Totem(TotemEvent::ConfChange(cc)) = e {
                if cc.kind == quorumd_node::ConfKind::Regular {
                    let members = cc.members.iter().map(NodeId::get).collect();
                    self.cpg_clients_mut().installed(id, cc.ring_id, members);
                }
            }
        }
        self.cpg_clients_mut().set_in_change(changed);
        for (conn, out) in outputs {
            self.client_output(id, conn, out);
        }
        self.cpg_clients_mut().set_in_change(false);
        for t in transmits {
            self.send(id, t);
        }
        self.set_timer(id, timeout);
        if finish {
            self.finish_stop(id);
        }
        if connect {
            self.connect_clients(id);
        }
        self.check_quorum_views();
    }

    pub(super) fn set_timer(&mut self, id: NodeId, at: Option<Instant>) {
        let Some(slot) = self.slots.get_mut(&id) else { return };
        if let Some(old) = slot.timer.take() {
            self.timers.remove(&(old, id));
        }
        slot.timer = at;
        if let Some(at) = at {
            if slot.status == Status::Running {
                self.timers.insert((at, id));
            }
        }
    }

    /// Folds a line into the run's digest.
    pub(super) fn digest_line(&mut self, line: &str) {
        self.digest_bytes(line.as_bytes());
    }

    /// Folds bytes into the run's digest (FNV-1a).
    fn digest_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Folds a payload into the run's digest eight bytes at a time (FNV-1a over words; the
    /// last few bytes one by one).
    fn digest_payload(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in words.by_ref() {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            self.digest = (self.digest ^ w).wrapping_mul(0x0100_0000_01b3);
        }
        self.digest_bytes(words.remainder());
    }

    /// A node event of the quorum layer (everything but Totem's): to the log, the digest and
    /// the checkers. `numbers` are votequorum's after a `SyncCompleted`, when exact.
    fn observe_quorum(&mut self, id: NodeId, ev: &NodeEvent, numbers: Option<VqNumbers>) {
        let now = self.now;
        let obs = match ev {
            NodeEvent::SyncCompleted { ring_id, members, quorate, .. } => {
                self.note(&format!("node {id} sync completed: ring {ring_id} {members} quorate={quorate}"));
                QuorumObservation::SyncCompleted {
                    ring_id: *ring_id,
                    members: members.clone(),
                    quorate: *quorate,
                    numbers,
                }
            }
            NodeEvent::QuorateChanged { ring_id, quorate } => {
                self.note(&format!("node {id} quorate changed: ring {ring_id} quorate={quorate}"));
                QuorumObservation::QuorateChanged { ring_id: *ring_id, quorate: *quorate }
            }
            _ => return,
        };
        self.quorum_dirty = true;
        self.digest_line(&format!("{} {id} {obs:?}\n", now.as_micros()));
        self.feed(|c| c.on_quorum(now, id, &obs));
    }

    fn observe(&mut self, id: NodeId, ev: &TotemEvent) {
        self.stats.events += 1;
        if let TotemEvent::Deliver(d) = ev {
            // The payload's bytes go into the digest as they are: formatting them as a decimal
            // list cost most of a CPG run (8 KiB fragments, delivered on every node).
            let line = format!(
                "{} {id} Deliver {} {} {} {}\n",
                self.now.as_micros(),
                d.ring_id,
                d.seq,
                d.origin,
                d.payload.len()
            );
            self.digest_line(&line);
            self.digest_payload(&d.payload);
        } else {
            let line = format!("{} {id} {ev:?}\n", self.now.as_micros());
            self.digest_line(&line);
        }
        if let Some(ring_id) = reconfigure_ring(ev) {
            let now = self.now;
            self.feed(|c| c.on_quorum(now, id, &QuorumObservation::Reconfigured { ring_id }));
        }
        match ev {
            TotemEvent::ConfChange(cc) => {
                self.changed = true;
                self.last_conf_change = self.now;
                self.note(&format!(
                    "node {id} {:?} ring {} members {} (from {}, joined {}, left {})",
                    cc.kind, cc.ring_id, cc.members, cc.old_ring_id, cc.joined, cc.left
                ));
            }
            TotemEvent::StateChanged { state, reason } => {
                self.changed = true;
                self.note(&format!("node {id} -> {state:?}: {reason}"));
            }
            TotemEvent::NodesFailed(l) => self.note(&format!("node {id} marks failed {l}")),
            TotemEvent::Deliver(d) => {
                self.stats.messages_delivered += 1;
                // Logged only when the log is kept: every votequorum message, decoded.
                let logging = self.log.is_some();
                if let Some((&SERVICE_VOTEQUORUM, body)) = d.payload.split_first().filter(|_| logging) {
                    let msg = match VqMessage::decode(body) {
                        Ok(VqMessage::NodeInfo(i)) => format!(
                            "NODEINFO of ring {} (votes {}, expected {}, flags {:#x})",
                            i.ring_id,
                            i.votes,
                            i.expected_votes,
                            i.flags.bits()
                        ),
                        Ok(VqMessage::Reconfigure(r)) => {
                            format!("RECONFIGURE {:?} node {} value {}", r.param, r.nodeid, r.value)
                        }
                        Err(e) => format!("undecodable message ({e})"),
                    };
                    self.note(&format!(
                        "node {id} delivered votequorum {msg} from {} in ring {}",
                        d.origin, d.ring_id
                    ));
                }
            }
            TotemEvent::PersistRingSeq(_) => {}
        }
        let now = self.now;
        let mut found = Vec::new();
        for c in self.checkers.iter_mut() {
            if let Err(v) = c.on_event(now, id, ev) {
                found.push(v);
            }
        }
        for v in found {
            self.record_violation(v);
        }
    }

    fn send(&mut self, from: NodeId, t: Transmit) {
        let shared: Rc<[u8]> = t.bytes.into();
        for to in t.to {
            let Some(incarnation) = self.slots.get(&to).map(|s| s.incarnation) else {
                self.stats.misaddressed += 1;
                continue;
            };
            if to == from {
                self.stats.misaddressed += 1;
                continue;
            }
            let delays = self.net.route_link(&mut self.rng, self.now, from, to, t.link);
            if delays.is_empty() {
                self.stats.lost += 1;
            }
            for d in delays {
                let bytes = Rc::clone(&shared);
                self.counter += 1;
                self.stats.scheduled += 1;
                if let Some(k) = shared.get(3).and_then(|t| self.stats.by_type.get_mut(usize::from(*t))) {
                    *k += 1;
                }
                let arrival = Arrival { to, link: t.link, incarnation, bytes };
                self.queue.insert((self.now + d, self.counter), arrival);
            }
        }
    }
}
