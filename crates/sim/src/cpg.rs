//! CPG clients on simulated nodes: processes that open a CPG session on a node (after its
//! first sync, like the quorum clients), join one of a few groups, multicast messages of
//! random sizes (up to several Totem fragments and several IPC chunks), leave, or close their
//! connection without a word (a crashed client). Driven by the fuzz's seeded RNG; everything
//! they send and receive goes to [`crate::check::cpg::CpgChecker`].
//!
//! Invariants: a pid is used once per run (a process never comes back); a connection id is
//! used once per run (from [`CONN_BASE`] on, above the quorum clients' 0 and 1); a session of
//! a node that crashes or stops dies with it.

use std::collections::{BTreeMap, BTreeSet};

use quorumd_node::{ClientInput, ClientOutput, ConnId, CpgMutant};
use quorumd_proto::svc_cpg::{
    cs, guarantee, mcast_frames, CpgEvent, CpgRequest, CpgResponse, Reassembly, CPG_MODEL_V1,
    CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
};
use quorumd_proto::{NodeId, RingId};

use crate::check::cpg::{payload, CpgChecker};
use crate::check::{violation, Status};
use crate::rng::Rng;
use crate::world::World;

/// The first connection id of CPG sessions.
pub const CONN_BASE: u64 = 1000;
/// The groups the clients join.
pub const GROUPS: [&[u8]; 2] = [b"sim-a", b"sim-b"];
/// Most CPG sessions open on one node at once.
pub const SESSIONS_PER_NODE: usize = 4;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum State {
    Joining,
    Joined,
    Leaving,
}

#[derive(Debug)]
struct Session {
    node: NodeId,
    pid: u32,
    group: Vec<u8>,
    state: State,
    seq: u64,
    asm: Reassembly,
    /// A delivery being reassembled: its sender.
    from: Option<(u32, u32)>,
    response: Option<CpgResponse>,
    /// Confchgs received so far (the initial totem confchg follows the first).
    confchgs: u64,
}

/// Every CPG session of the run, and the checker.
#[derive(Debug, Default)]
pub struct CpgClients {
    sessions: BTreeMap<u64, Session>,
    next_conn: u64,
    next_pid: u32,
    checker: CpgChecker,
    /// The last regular configurations each running node installed, newest last.
    installed: BTreeMap<NodeId, Vec<(RingId, Vec<u32>)>>,
    /// Regular configurations installed by the input being drained (counted by
    /// [`CpgClients::installed`], taken by [`CpgClients::set_in_change`]).
    pending: usize,
    /// How many of the newest `installed` entries the input whose outputs are being handled
    /// installed.
    fresh: usize,
    /// Multicasts answered OK, TRY_AGAIN, other.
    pub counts: (u64, u64, u64),
}

/// An action of the CPG clients.
#[derive(Clone, Copy, Debug)]
enum Action {
    Open,
    Mcast,
    Leave,
    Close,
}

impl World {
    /// One random action of the CPG clients (open and join, multicast, leave, close).
    pub fn cpg_step(&mut self, rng: &mut Rng) {
        let action = match rng.below(20) {
            0..=2 => Action::Open,
            3..=16 => Action::Mcast,
            17 => Action::Leave,
            _ => Action::Close,
        };
        let nodes: Vec<NodeId> =
            self.with_status(Status::Running).into_iter().filter(|n| self.has_clients(*n)).collect();
        let Some(&node) = rng.pick(&nodes) else { return };
        let mine: Vec<u64> =
            self.cpg_clients().sessions.iter().filter(|(_, s)| s.node == node).map(|(c, _)| *c).collect();
        match action {
            Action::Open if mine.len() < SESSIONS_PER_NODE => {
                let group = GROUPS[rng.below(GROUPS.len() as u64) as usize];
                self.cpg_open(node, group);
            }
            Action::Open => {}
            Action::Mcast => {
                let joined: Vec<u64> = mine
                    .iter()
                    .copied()
                    .filter(|c| self.cpg_clients().sessions[c].state == State::Joined)
                    .collect();
                let Some(&conn) = rng.pick(&joined) else { return self.cpg_open(node, GROUPS[0]) };
                let len = match rng.below(100) {
                    0..=69 => rng.between(16, 1500),
                    70..=96 => rng.between(8_000, 40_000),
                    _ => rng.between(65_000, 200_000),
                } as usize;
                self.cpg_mcast(node, conn, len);
            }
            Action::Leave => {
                if let Some(&conn) = rng.pick(&mine) {
                    self.cpg_leave(node, conn);
                }
            }
            Action::Close => {
                if let Some(&conn) = rng.pick(&mine) {
                    self.cpg_close(node, conn);
                }
            }
        }
    }

    fn cpg_send(&mut self, node: NodeId, conn: u64, req: &CpgRequest) -> Option<CpgResponse> {
        let frame = req.encode().ok()?;
        self.cpg_frames(node, conn, vec![frame])
    }

    fn cpg_frames(&mut self, node: NodeId, conn: u64, frames: Vec<Vec<u8>>) -> Option<CpgResponse> {
        if let Some(s) = self.cpg_clients_mut().sessions.get_mut(&conn) {
            s.response = None;
        }
        for f in frames {
            self.client_input(node, ConnId(conn), ClientInput::Frame(f));
        }
        self.cpg_clients_mut().sessions.get_mut(&conn).and_then(|s| s.response.take())
    }

    fn cpg_open(&mut self, node: NodeId, group: &[u8]) {
        let c = self.cpg_clients_mut();
        let conn = CONN_BASE + c.next_conn;
        c.next_conn += 1;
        c.next_pid += 1;
        let pid = 10_000 + c.next_pid;
        let s = Session {
            node,
            pid,
            group: group.to_vec(),
            state: State::Joining,
            seq: 0,
            asm: Reassembly::default(),
            from: None,
            response: None,
            confchgs: 0,
        };
        c.sessions.insert(conn, s);
        c.checker.opened(node.get(), pid, group);
        self.note(&format!("cpg: node {node} process {pid} (conn {conn}) opens and joins {group:?}"));
        self.client_input(node, ConnId(conn), ClientInput::Connected { uid: 0, gid: 0, pid });
        let init = CpgRequest::Init { model: CPG_MODEL_V1, flags: CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF };
        match self.cpg_send(node, conn, &init) {
            Some(CpgResponse::Init { error: cs::OK }) => {}
            other => {
                self.note(&format!("cpg: init of process {pid}: {other:?}"));
                return self.cpg_close(node, conn);
            }
        }
        match self.cpg_send(node, conn, &CpgRequest::Join { group: group.to_vec(), pid }) {
            Some(CpgResponse::Join { error: cs::OK }) => {
                if let Some(s) = self.cpg_clients_mut().sessions.get_mut(&conn) {
                    s.state = State::Joined;
                }
                self.cpg_clients_mut().checker.joined(pid);
            }
            other => {
                self.note(&format!("cpg: join of process {pid}: {other:?}"));
                self.cpg_close(node, conn);
            }
        }
    }

    fn cpg_mcast(&mut self, node: NodeId, conn: u64, len: usize) {
        let Some(s) = self.cpg_clients_mut().sessions.get_mut(&conn) else { return };
        s.seq += 1;
        let (pid, seq) = (s.pid, s.seq);
        let frames = match mcast_frames(guarantee::AGREED, &payload(node.get(), pid, seq, len)) {
            Ok(f) => f,
            Err(_) => return,
        };
        let answer = self.cpg_frames(node, conn, frames);
        let c = self.cpg_clients_mut();
        match answer {
            Some(CpgResponse::Mcast { error: cs::OK }) => {
                c.counts.0 += 1;
                c.checker.sent(pid, (node.get(), pid, seq));
            }
            Some(CpgResponse::Mcast { error: cs::ERR_TRY_AGAIN }) => c.counts.1 += 1,
            other => {
                c.counts.2 += 1;
                self.note(&format!("cpg: mcast of process {pid}: {other:?}"));
            }
        }
    }

    fn cpg_leave(&mut self, node: NodeId, conn: u64) {
        let Some(s) = self.cpg_clients().sessions.get(&conn) else { return };
        if s.state != State::Joined {
            return;
        }
        let (pid, group) = (s.pid, s.group.clone());
        match self.cpg_send(node, conn, &CpgRequest::Leave { group, pid }) {
            Some(CpgResponse::Leave { error: cs::OK }) => {
                self.note(&format!("cpg: process {pid} leaves"));
                if let Some(s) = self.cpg_clients_mut().sessions.get_mut(&conn) {
                    s.state = State::Leaving;
                }
                self.cpg_clients_mut().checker.leaving(pid);
            }
            other => self.note(&format!("cpg: leave of process {pid}: {other:?}")),
        }
    }

    fn cpg_close(&mut self, node: NodeId, conn: u64) {
        let Some(s) = self.cpg_clients_mut().sessions.remove(&conn) else { return };
        self.cpg_clients_mut().checker.closed(s.pid);
        self.note(&format!("cpg: process {} closes its connection", s.pid));
        self.client_input(node, ConnId(conn), ClientInput::Disconnected);
    }
}

/// Regular configurations remembered per node for the ring-id check.
const INSTALLED_KEPT: usize = 16;

impl CpgClients {
    /// `node` installed regular configuration `ring` with `members`.
    pub(crate) fn installed(&mut self, node: NodeId, ring: RingId, members: Vec<u32>) {
        let l = self.installed.entry(node).or_default();
        if l.len() >= INSTALLED_KEPT {
            l.remove(0);
        }
        l.push((ring, members));
        self.pending += 1;
    }

    /// See [`CpgChecker::set_in_change`]; called once the regular configurations of the input
    /// are known (`installed`) and before its outputs, then with `false` after them.
    pub(crate) fn set_in_change(&mut self, in_change: bool) {
        self.checker.set_in_change(in_change);
        self.fresh = std::mem::take(&mut self.pending);
    }
}

impl World {
    /// `node` crashed or stopped: its CPG sessions are gone.
    pub(crate) fn cpg_node_gone(&mut self, node: NodeId) {
        let c = self.cpg_clients_mut();
        c.sessions.retain(|_, s| s.node != node);
        c.installed.remove(&node);
        c.checker.node_gone(node.get());
    }

    /// A frame (or close) for CPG connection `conn` of `node`.
    pub(crate) fn cpg_output(&mut self, node: NodeId, conn: ConnId, out: ClientOutput) {
        let now = self.now();
        let bytes = match out {
            ClientOutput::Close => {
                if let Some(s) = self.cpg_clients_mut().sessions.remove(&conn.0) {
                    self.note(&format!("cpg: node {node} closed process {}", s.pid));
                    self.cpg_clients_mut().checker.closed(s.pid);
                }
                return;
            }
            ClientOutput::Send(b) => b,
        };
        let accepted = self.cpg_rings(node);
        let c = self.cpg_clients_mut();
        let Some(s) = c.sessions.get_mut(&conn.0) else { return };
        let pid = s.pid;
        let result = if let Ok(r) = CpgResponse::decode(&bytes) {
            s.response = Some(r);
            Ok(())
        } else {
            match CpgEvent::decode(&bytes) {
                Ok(CpgEvent::Deliver { nodeid, pid: from, total_len, chunk, .. }) => {
                    s.from = Some((nodeid, from));
                    match s.asm.first(total_len, &chunk) {
                        Ok(Some(msg)) => c.checker.on_deliver(now, pid, nodeid, from, &msg),
                        Ok(None) => Ok(()),
                        Err(e) => Err(violation("cpg-virtual-synchrony", now, format!("process {pid}: {e}"))),
                    }
                }
                Ok(CpgEvent::DeliverMore { chunk }) => match (s.asm.more(&chunk), s.from) {
                    (Ok(Some(msg)), Some((nodeid, from))) => {
                        c.checker.on_deliver(now, pid, nodeid, from, &msg)
                    }
                    (Ok(_), _) => Ok(()),
                    (Err(e), _) => {
                        Err(violation("cpg-virtual-synchrony", now, format!("process {pid}: {e}")))
                    }
                },
                Ok(CpgEvent::ConfChg { group, members, left, joined }) => {
                    s.confchgs += 1;
                    c.checker.on_confchg(now, pid, &group, &members, &left, &joined)
                }
                Ok(CpgEvent::TotemConfChg { ring_id, members }) => {
                    let first = s.confchgs == 1;
                    let ring = RingId { rep: ring_id.nodeid, seq: ring_id.seq };
                    let r = c.checker.on_totem(now, pid, ring, &members, &accepted);
                    if first {
                        c.checker.initial_ring(pid);
                    }
                    r
                }
                Err(e) => Err(violation(
                    "cpg-virtual-synchrony",
                    now,
                    format!("node {node} sent process {pid} an undecodable frame: {e}"),
                )),
            }
        };
        if let Err(v) = result {
            self.record_violation(v);
        }
        if self.logging() {
            if let Ok(ev) = CpgEvent::decode(&bytes) {
                let what = match ev {
                    CpgEvent::Deliver { nodeid, pid: from, total_len, chunk, .. } => {
                        format!("deliver {total_len} bytes from {nodeid}/{from} {:?}", chunk.get(..16))
                    }
                    CpgEvent::DeliverMore { .. } => return,
                    other => format!("{other:?}"),
                };
                self.note(&format!("cpg: node {node} process {pid}: {what}"));
            }
        }
    }

    /// The ring (with its members) a totem confchg of `node` may name now: the regular
    /// configuration the node installed last before the point of Totem's order where CPG's
    /// sync completed, as in Corosync (cpg.c names `last_sync_ring_id`, the ring its sync
    /// started in; any configuration change aborts that sync).
    ///
    /// That is the newest regular configuration the node installed, or, in an input where it
    /// installed new ones, also the one it had before that input: the sync of ring R completes
    /// when R's last joinlist is delivered, which may be among the old ring's deliveries Totem
    /// makes just before its change to the next ring (Corosync alike: its sync barrier of R may
    /// be among them, and names R).
    fn cpg_rings(&self, node: NodeId) -> Vec<(RingId, Vec<u32>)> {
        let c = self.cpg_clients();
        let Some(l) = c.installed.get(&node) else { return Vec::new() };
        let keep = if c.checker.in_change() { c.fresh + 1 } else { 1 };
        l[l.len().saturating_sub(keep)..].to_vec()
    }

    /// The end of a converged run: every surviving sender got its messages back and every
    /// live member sees exactly the live members of its group.
    pub fn cpg_check_end(&mut self) {
        let live: BTreeSet<u32> = self
            .cpg_clients()
            .sessions
            .values()
            .filter(|s| self.status(s.node) == Some(Status::Running))
            .map(|s| s.pid)
            .collect();
        let quorum: BTreeMap<u32, (RingId, Vec<u32>)> = self
            .with_status(Status::Running)
            .into_iter()
            .filter_map(|n| {
                // Without a quorum provider there is no quorum notification to compare with.
                let node = self.node(n).filter(|node| node.quorum_state().is_some())?;
                let (ring, members) = node.quorum_view();
                Some((n.get(), (ring, members.iter().map(NodeId::get).collect())))
            })
            .collect();
        let now = self.now();
        if let Err(v) = self.cpg_clients().checker.at_end(now, &live, &quorum) {
            self.record_violation(v);
        }
    }

    /// Multicasts answered OK, TRY_AGAIN and otherwise so far.
    pub fn cpg_counts(&self) -> (u64, u64, u64) {
        self.cpg_clients().counts
    }
}

/// The CPG mutants (`quorumd_cpg::Mutant`, on the first node), in the order
/// `quorumd-sim mutants` lists them.
pub const MUTANTS: [CpgMutant; 3] =
    [CpgMutant::DeliverAcrossViewChange, CpgMutant::DropSelfDelivery, CpgMutant::ReorderSenders];

/// The command-line name of a CPG mutant.
pub fn mutant_name(m: CpgMutant) -> &'static str {
    match m {
        CpgMutant::DeliverAcrossViewChange => "cpg-deliver-across-view-change",
        CpgMutant::DropSelfDelivery => "cpg-drop-self-delivery",
        CpgMutant::ReorderSenders => "cpg-reorder-senders",
    }
}

/// The CPG mutant named `name`.
pub fn mutant_from_name(name: &str) -> Option<CpgMutant> {
    MUTANTS.into_iter().find(|m| mutant_name(*m) == name)
}
