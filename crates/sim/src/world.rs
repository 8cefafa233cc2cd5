//! The deterministic world: a virtual clock, an event queue of datagram arrivals, the node
//! timers, the simulated network, node lifecycles and the checkers.
//!
//! Responsibility: drive [`Node`]s exactly as the daemon would — one input at a time, then
//! drain `poll_event` (persisting [`TotemEvent::PersistRingSeq`] and feeding the checkers),
//! then `poll_client` (the frames of the simulated clients), then `poll_transmit` (one arrival
//! per destination, through the [`Network`]), then `poll_timeout`. Every node is built from the
//! world's [`QuorumSetup`]; after its first sync it gets one V1 and one V0 client that track
//! changes (see `world/clients.rs`).
//!
//! Invariants:
//! - one `u64` seed decides everything: the network draws from one [`Rng`], the queue is a
//!   `BTreeMap` keyed by `(arrival time, insertion counter)`, timers by `(deadline, node id)`,
//!   and ties go to arrivals before timers; there is no wall clock, no hash iteration, no
//!   thread;
//! - a datagram reaches only the incarnation it was sent towards: a crash loses everything in
//!   flight to the node;
//! - a paused node processes nothing: arrivals wait in a bounded inbox, its timer fires late;
//! - virtual time never goes backwards, and a node that never lets time advance (a timer that
//!   stays due after firing) is reported as a violation instead of hanging the run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use quorumd_node::{ClusterKey, Node, NodeEvent, TotemEvent, Transmit};
use quorumd_proto::{Duration, Instant, MemberList, NodeId};
use quorumd_totem::{Mutant, TimingError, TotemConfig, TotemKeys};
use quorumd_votequorum::Settings;

use crate::check::{self, Checker, NodeView, QuorumView, Status, Violation, VqNumbers};
use crate::net::{NetParams, Network};
use crate::quorum::QuorumSetup;
use crate::rng::Rng;

/// Most datagrams a paused node's inbox holds; later ones are lost (a full socket buffer).
pub const PAUSED_INBOX_MAX: usize = 1024;
/// Most inputs processed at one virtual instant before the run is declared stuck.
pub const SAME_INSTANT_STEPS_MAX: u64 = 200_000;
/// Most datagrams in flight at once, at least. A healthy ring keeps a few per node in flight;
/// a membership change may cost every node a join to every other for every change it sees
/// (n³, e.g. when 64 nodes boot at once). Beyond `max(IN_FLIGHT_MIN, 2·n³)` the protocol is
/// amplifying its own traffic (a message storm), which is reported as a violation instead of
/// exhausting memory.
pub const IN_FLIGHT_MIN: usize = 100_000;
/// Most inputs (arrivals and timer expiries) one world processes, a bound on a run's cost.
pub const STEPS_MAX: u64 = 200_000_000;
/// Most violations kept per run (the first one is the one that matters).
pub const VIOLATIONS_MAX: usize = 16;
/// Older copies of a node's state directory the world keeps (for restarts from an old copy).
pub const STATE_COPIES_MAX: usize = 8;
/// Lines of the event log kept when logging is on.
pub const LOG_LINES_MAX: usize = 200_000;
/// How often `run_until_pred` re-evaluates a predicate when nothing changed.
pub const PREDICATE_POLL: Duration = Duration::from_millis(10);

/// A lifecycle operation that does not apply, or a bad configuration. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The node is not in the nodelist.
    #[error("node {0} is not in the nodelist")]
    UnknownNode(NodeId),
    /// The operation does not apply to the node's status.
    #[error("cannot {op} node {node}: it is {status}")]
    BadState {
        /// The operation.
        op: &'static str,
        /// The node.
        node: NodeId,
        /// Its status.
        status: Status,
    },
    /// The totem keys do not derive a valid timing.
    #[error(transparent)]
    Timing(#[from] TimingError),
    /// The nodelist is empty.
    #[error("the nodelist is empty")]
    EmptyNodelist,
    /// votequorum refuses the quorum configuration.
    #[error("{0}")]
    Quorum(String),
    /// A simulated client request that cannot be made or was not answered.
    #[error("{0}")]
    Client(String),
    /// A link count or link setting the nodes cannot run with.
    #[error("links: {0}")]
    Links(String),
}

/// Everything a world is built from.
#[derive(Clone, Debug)]
pub struct WorldParams {
    /// The configured nodes.
    pub nodelist: MemberList,
    /// `totem { }` keys.
    pub keys: TotemKeys,
    /// Network parameters at the start.
    pub net: NetParams,
    /// The seed of the network's randomness.
    pub seed: u64,
    /// Broken behaviour for every node (checker tests).
    pub mutant: Option<Mutant>,
    /// Broken behaviour of the simulated clients (checker tests).
    pub sim_mutant: Option<SimMutant>,
    /// Broken CPG service on the first node of the nodelist (CPG checker tests).
    pub cpg_mutant: Option<quorumd_node::CpgMutant>,
    /// The cluster id in every header.
    pub cluster_id: u32,
    /// The quorum provider and its configuration, the same for every node.
    pub quorum: QuorumSetup,
    /// Authenticated transport for every node (`None`: plaintext). Each start draws its
    /// per-boot nonce from a stream of `seed` of its own.
    pub crypto: Option<ClusterKey>,
    /// Links per node (1 to 8; 1: a single network, as before links existed).
    pub links: u32,
    /// `totem.link_mode` with two links or more.
    pub link_mode: quorumd_totem::LinkMode,
    /// Broken link layer on every node (link checker tests).
    pub link_mutant: Option<quorumd_totem::LinkMutant>,
}

impl WorldParams {
    /// Default keys, default votequorum and a quiet network for `nodelist`, seed 1.
    pub fn new(nodelist: MemberList) -> WorldParams {
        WorldParams {
            nodelist,
            keys: TotemKeys::default(),
            net: NetParams::default(),
            seed: 1,
            mutant: None,
            sim_mutant: None,
            cpg_mutant: None,
            cluster_id: 0x5155,
            quorum: QuorumSetup::default(),
            crypto: None,
            links: 1,
            link_mode: quorumd_totem::LinkMode::Passive,
            link_mutant: None,
        }
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Datagram copies put on the network (one per destination, two when duplicated).
    pub scheduled: u64,
    /// Datagrams lost by the network model (loss or cut).
    pub lost: u64,
    /// Datagrams handed to a node.
    pub delivered: u64,
    /// Datagrams that found their node down, restarted or with a full inbox.
    pub undeliverable: u64,
    /// Datagrams a node refused.
    pub dropped_by_node: u64,
    /// Transmits addressed to this very node or to an unconfigured one.
    pub misaddressed: u64,
    /// Timer expiries handed to nodes.
    pub timeouts: u64,
    /// Events drained from nodes.
    pub events: u64,
    /// Ordered messages delivered to nodes (`Deliver` events).
    pub messages_delivered: u64,
    /// Datagram copies of each wire message type (by the type byte of the plaintext header;
    /// 6 and 7 are the link layer's pings and pongs).
    pub by_type: [u64; 8],
}

#[derive(Debug)]
struct Slot {
    status: Status,
    node: Option<Node>,
    incarnation: u64,
    persisted: Option<u64>,
    /// Older copies of the state directory, oldest first (at most [`STATE_COPIES_MAX`]): the
    /// values persisted before the current one, for a restart from a restored backup.
    older: VecDeque<u64>,
    inbox: VecDeque<(quorumd_proto::LinkId, Rc<[u8]>)>,
    timer: Option<Instant>,
    /// `stop` was called; the node is dropped when it reports `NodeEvent::Left`.
    stopping: bool,
    /// This incarnation's simulated clients, once its first sync completed.
    clients: Option<clients::SimClients>,
    /// When the node was paused (while it is).
    paused_at: Option<Instant>,
    /// getquorate calls waiting for the paused daemon.
    blocked_getquorate: u64,
}

#[derive(Debug)]
struct Arrival {
    to: NodeId,
    /// The link it travels on.
    link: quorumd_proto::LinkId,
    incarnation: u64,
    /// Shared by every copy of one transmit.
    bytes: Rc<[u8]>,
}

/// The simulated cluster.
#[derive(Debug)]
pub struct World {
    now: Instant,
    rng: Rng,
    net: Network,
    nodelist: MemberList,
    totem: TotemConfig,
    cluster_id: u32,
    mutant: Option<Mutant>,
    sim_mutant: Option<SimMutant>,
    cpg_mutant: Option<quorumd_node::CpgMutant>,
    /// The simulated CPG clients and their checker.
    cpg: crate::cpg::CpgClients,
    quorum: QuorumSetup,
    settings: Option<BTreeMap<NodeId, Settings>>,
    /// The cluster key and the generator of per-boot nonces (crypto on).
    crypto: Option<(ClusterKey, Rng)>,
    /// Each node's parameters when the world runs a corosync.conf ([`World::with_config`]).
    configured: BTreeMap<NodeId, quorumd_node::NodeParams>,
    /// A node's quorum view changed since the views were last checked.
    quorum_dirty: bool,
    /// [`SimMutant::CmapLag`]: the first node's runtime keys as the last check saw them.
    cmap_lagged: Vec<(String, quorumd_proto::svc_cmap::CmapValue)>,
    /// A runtime setexpected or setvotes was sent.
    quorum_overridden: bool,
    slots: BTreeMap<NodeId, Slot>,
    queue: BTreeMap<(Instant, u64), Arrival>,
    timers: BTreeSet<(Instant, NodeId)>,
    counter: u64,
    in_flight_max: usize,
    checkers: Vec<Box<dyn Checker>>,
    violations: Vec<Violation>,
    digest: u64,
    changed: bool,
    last_conf_change: Instant,
    same_instant_steps: u64,
    steps: u64,
    stuck: bool,
    log: Option<VecDeque<String>>,
    stats: WorldStats,
    /// Redundant links: their count, mode and mutant, and the environment of the link
    /// checkers (`world/links.rs`).
    links: links::WorldLinks,
}

impl World {
    /// A world of stopped nodes at time zero, with the safety checkers installed.
    pub fn new(params: WorldParams) -> Result<World, SimError> {
        if params.nodelist.is_empty() {
            return Err(SimError::EmptyNodelist);
        }
        let totem = params.keys.derive(params.nodelist.len())?;
        let settings = params.quorum.settings(&params.nodelist).map_err(SimError::Quorum)?;
        let n = params.nodelist.len();
        let in_flight_max = IN_FLIGHT_MIN.max(2 * n * n * n);
        let links = links::WorldLinks::new(&params, totem.token)?;
        let slots = params
            .nodelist
            .iter()
            .map(|id| {
                let slot = Slot {
                    status: Status::Never,
                    node: None,
                    incarnation: 0,
                    persisted: None,
                    older: VecDeque::new(),
                    inbox: VecDeque::new(),
                    timer: None,
                    stopping: false,
                    clients: None,
                    paused_at: None,
                    blocked_getquorate: 0,
                };
                (id, slot)
            })
            .collect();
        Ok(World {
            now: Instant::ZERO,
            rng: Rng::stream(params.seed, 0x6e6574),
            net: Network::new(params.net),
            checkers: links.with_checkers(check::safety_checkers(&params.nodelist, &params.quorum, &totem)),
            nodelist: params.nodelist,
            totem,
            cluster_id: params.cluster_id,
            mutant: params.mutant,
            sim_mutant: params.sim_mutant,
            cpg_mutant: params.cpg_mutant,
            cpg: crate::cpg::CpgClients::default(),
            quorum: params.quorum,
            settings,
            crypto: params.crypto.map(|k| (k, Rng::stream(params.seed, 0x626f_6f74))),
            configured: BTreeMap::new(),
            quorum_dirty: false,
            cmap_lagged: Vec::new(),
            quorum_overridden: false,
            slots,
            queue: BTreeMap::new(),
            timers: BTreeSet::new(),
            counter: 0,
            in_flight_max,
            violations: Vec::new(),
            digest: 0xcbf2_9ce4_8422_2325,
            changed: false,
            last_conf_change: Instant::ZERO,
            same_instant_steps: 0,
            steps: 0,
            stuck: false,
            log: None,
            stats: WorldStats::default(),
            links,
        })
    }

    /// The cluster id in every header.
    pub fn cluster_id(&self) -> u32 {
        self.cluster_id
    }

    /// Whether a runtime setexpected or setvotes was sent (the liveness phase restores the
    /// configured values before it checks the full membership's numbers).
    pub fn quorum_overridden(&self) -> bool {
        self.quorum_overridden
    }

    /// Records that a runtime setexpected or setvotes is being sent.
    pub fn note_quorum_override(&mut self) {
        self.quorum_overridden = true;
    }

    /// Whether a running node has its simulated clients (its first sync completed).
    pub fn has_clients(&self, id: NodeId) -> bool {
        self.slots.get(&id).is_some_and(|s| s.clients.as_ref().is_some_and(|c| !c.closed))
    }

    /// Whether a node is between rings: not operational, or its quorum service has not
    /// activated the ring Totem installed.
    pub fn in_sync(&self, id: NodeId) -> bool {
        self.node(id).is_some_and(|n| {
            n.state() != quorumd_totem::State::Operational || n.quorum_view().0 != n.ring_id()
        })
    }

    /// Virtual now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The configured nodes.
    pub fn nodelist(&self) -> &MemberList {
        &self.nodelist
    }

    /// The effective Totem timing every node uses.
    pub fn totem_config(&self) -> &TotemConfig {
        &self.totem
    }

    /// The network, to partition, cut links or change loss.
    pub fn net_mut(&mut self) -> &mut Network {
        self.links.watch_dirty(false);
        &mut self.net
    }

    /// The network.
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// Violations found so far (at most [`VIOLATIONS_MAX`]).
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// FNV-1a digest of every event every node emitted, with its time and node: two runs with
    /// the same digest behaved the same.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Counters.
    pub fn stats(&self) -> &WorldStats {
        &self.stats
    }

    /// When the last configuration change was emitted by any node.
    pub fn last_conf_change(&self) -> Instant {
        self.last_conf_change
    }

    /// Starts keeping a log of lifecycle steps, faults and membership events.
    pub fn enable_log(&mut self) {
        self.log = Some(VecDeque::new());
    }

    /// Whether the log is kept.
    pub fn logging(&self) -> bool {
        self.log.is_some()
    }

    /// The kept log lines, oldest first.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.as_ref().map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }

    /// Adds a line to the log (when logging is on), stamped with virtual now.
    pub fn note(&mut self, line: &str) {
        let stamped = format!("{:>12} ms  {line}", check::fmt_ms(self.now));
        if let Some(log) = self.log.as_mut() {
            if log.len() >= LOG_LINES_MAX {
                log.pop_front();
            }
            log.push_back(stamped);
        }
    }

    /// A node's status.
    pub fn status(&self, id: NodeId) -> Option<Status> {
        self.slots.get(&id).map(|s| s.status)
    }

    /// The running (or paused) node object.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.slots.get(&id).and_then(|s| s.node.as_ref())
    }

    /// Nodes with this status, ascending.
    pub fn with_status(&self, status: Status) -> Vec<NodeId> {
        self.slots.iter().filter(|(_, s)| s.status == status).map(|(id, _)| *id).collect()
    }

    /// A node's externally visible state.
    pub fn view(&self, id: NodeId) -> Option<NodeView> {
        let slot = self.slots.get(&id)?;
        Some(match &slot.node {
            Some(node) => NodeView {
                id,
                status: slot.status,
                state: Some(node.state()),
                ring_id: node.ring_id(),
                members: node.members().clone(),
            },
            None => NodeView {
                id,
                status: slot.status,
                state: None,
                ring_id: quorumd_proto::RingId::ZERO,
                members: MemberList::new(),
            },
        })
    }

    /// Every node's view, ascending by id.
    pub fn views(&self) -> Vec<NodeView> {
        self.nodelist.iter().filter_map(|id| self.view(id)).collect()
    }

    /// The quorum configuration every node runs with.
    pub fn quorum_setup(&self) -> &QuorumSetup {
        &self.quorum
    }

    /// What a node's quorum service reports now (a stopped node reports nothing quorate).
    pub fn quorum_view(&self, id: NodeId) -> Option<QuorumView> {
        let slot = self.slots.get(&id)?;
        Some(match &slot.node {
            Some(node) => {
                let (ring_id, members) = node.quorum_view();
                QuorumView {
                    id,
                    status: slot.status,
                    activated: node.activated(),
                    quorate: node.quorate(),
                    ring_id,
                    members: members.clone(),
                }
            }
            None => QuorumView {
                id,
                status: slot.status,
                activated: false,
                quorate: false,
                ring_id: quorumd_proto::RingId::ZERO,
                members: MemberList::new(),
            },
        })
    }

    /// Every node's quorum view, ascending by id.
    pub fn quorum_views(&self) -> Vec<QuorumView> {
        self.nodelist.iter().filter_map(|id| self.quorum_view(id)).collect()
    }

    /// votequorum's numbers on a running node (`None` without a provider).
    pub fn vq_numbers(&self, id: NodeId) -> Option<VqNumbers> {
        self.node(id).and_then(Node::quorum_state).map(|s| VqNumbers {
            quorum: s.quorum,
            expected_votes: s.expected_votes,
            total_votes: s.total_votes,
        })
    }

    /// Feeds every node's quorum view to the checkers, if one changed since the last time.
    pub(crate) fn check_quorum_views(&mut self) {
        if !std::mem::take(&mut self.quorum_dirty) {
            return;
        }
        let views = self.quorum_views();
        let now = self.now;
        self.feed(|c| c.on_quorum_views(now, &views));
        self.check_cmap(now, views);
    }

    /// Every node's `runtime.` cmap keys agree with its view and its ring's other members.
    fn check_cmap(&mut self, now: Instant, views: Vec<QuorumView>) {
        let lag =
            (self.sim_mutant == Some(SimMutant::CmapLag)).then(|| self.nodelist.iter().next()).flatten();
        let mut snapshots = Vec::with_capacity(views.len());
        for mut view in views {
            let (mut keys, mut settled) = (Vec::new(), false);
            if let Some(node) = self.node(view.id) {
                keys = node.cmap_keys("runtime.members.");
                keys.extend(node.cmap_keys("runtime.votequorum."));
                // The keys follow the last completed sync (the quorum view does only with a
                // provider); its ring is known when no newer sync is in progress.
                let (ring_id, members) = node.last_sync();
                settled = ring_id.is_some();
                view.ring_id = ring_id.unwrap_or(view.ring_id);
                view.members = members.clone();
            }
            if lag == Some(view.id) {
                // The mutant: this node's keys are those of the previous check.
                keys = std::mem::replace(&mut self.cmap_lagged, keys);
            }
            snapshots.push(check::cmap::Snapshot { view, settled, keys });
        }
        if let Err(v) = check::cmap::CmapAgreement.check(now, &snapshots) {
            self.record_violation(v);
        }
    }

    fn feed(&mut self, f: impl Fn(&mut dyn Checker) -> Result<(), Violation>) {
        let mut found = Vec::new();
        for c in self.checkers.iter_mut() {
            if let Err(v) = f(c.as_mut()) {
                found.push(v);
            }
        }
        for v in found {
            self.record_violation(v);
        }
    }

    /// Runs `checker.at_end` on the current views; a violation is recorded and returned.
    pub fn check_end(&mut self, checker: &mut dyn Checker) -> Result<(), Violation> {
        let views = self.views();
        let result = checker.at_end(self.now, &views);
        if let Err(v) = &result {
            self.record_violation(v.clone());
        }
        result
    }

    /// The simulated CPG clients.
    pub(crate) fn cpg_clients(&self) -> &crate::cpg::CpgClients {
        &self.cpg
    }

    /// The simulated CPG clients.
    pub(crate) fn cpg_clients_mut(&mut self) -> &mut crate::cpg::CpgClients {
        &mut self.cpg
    }

    pub(crate) fn record_violation(&mut self, v: Violation) {
        self.note(&format!("VIOLATION {v}"));
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(v);
        }
    }
}

mod clients;
mod drive;
mod from_config;
mod lifecycle;
mod links;
mod page;

pub use lifecycle::StateDir;
pub use page::{GetQuorate, SimMutant};
