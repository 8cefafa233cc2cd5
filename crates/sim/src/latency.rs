//! The membership latency bench: how long, in virtual time, the cluster takes to react.
//!
//! Per cluster size and trial (one seed each): boot all nodes and converge, then
//! - crash: kill one node → every survivor is operational in a ring without it;
//! - join: restart it → every node is operational in a ring that contains it;
//! - cut: isolate it by a partition → the rest are operational in a ring without it;
//! - heal: restore the network → all nodes converge into one ring.
//!
//! Invariants: deterministic per `(nodes, seed)`; a phase that does not finish within
//! [`PHASE_BOUND`] makes the trial fail with a message rather than report a number; a checker
//! violation during the bench fails it too.

use quorumd_proto::{Duration, MemberList, NodeId};
use quorumd_totem::TotemKeys;

use crate::check::Status;
use crate::net::NetParams;
use crate::rng::Rng;
use crate::settle;
use crate::world::{World, WorldParams};

/// Longest any measured phase may take.
pub const PHASE_BOUND: Duration = Duration::from_millis(60_000);

/// Targets (for information): crash and cut within token + 300 ms, heal 150 ms, join 100 ms.
pub const TARGET_EXTRA_AFTER_TOKEN_MS: u64 = 300;
/// Heal target, ms.
pub const TARGET_HEAL_MS: u64 = 150;
/// Join target, ms.
pub const TARGET_JOIN_MS: u64 = 100;

/// The four measurements of one trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sample {
    /// Crash → survivors re-formed.
    pub crash: Duration,
    /// Cut → majority re-formed.
    pub cut: Duration,
    /// Heal → one merged ring.
    pub heal: Duration,
    /// Start → every ring contains the node.
    pub join: Duration,
}

/// Medians over the trials of one cluster size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyRow {
    /// Cluster size.
    pub nodes: usize,
    /// Effective token timeout, ms.
    pub token_ms: u64,
    /// Median of the successful trials (`None`: every trial failed).
    pub median: Option<Sample>,
    /// Failures, one message per failed trial.
    pub failures: Vec<String>,
}

/// The cluster key of simulated runs with crypto on.
pub fn sim_key() -> quorumd_node::ClusterKey {
    match quorumd_node::ClusterKey::derive(&[0x5a; 128], "quorumd-sim") {
        Ok(k) => k,
        Err(e) => unreachable!("a 128-byte authkey is valid: {e}"),
    }
}

/// Measures `nodes` over `trials` seeds (1..=trials).
pub fn measure(nodes: usize, trials: u64) -> LatencyRow {
    measure_with(nodes, trials, false)
}

/// [`measure`], with every node sealing its datagrams when `crypto`.
pub fn measure_with(nodes: usize, trials: u64, crypto: bool) -> LatencyRow {
    let token_ms = TotemKeys::default().derive(nodes).map(|c| c.token.as_millis()).unwrap_or(0);
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for seed in 1..=trials {
        match trial_with(nodes, seed, crypto) {
            Ok(s) => samples.push(s),
            Err(e) => failures.push(format!("nodes {nodes} seed {seed}: {e}")),
        }
    }
    let median = (!samples.is_empty()).then(|| Sample {
        crash: median(samples.iter().map(|s| s.crash).collect()),
        cut: median(samples.iter().map(|s| s.cut).collect()),
        heal: median(samples.iter().map(|s| s.heal).collect()),
        join: median(samples.iter().map(|s| s.join).collect()),
    });
    LatencyRow { nodes, token_ms, median, failures }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// One trial of the four measurements.
pub fn trial(nodes: usize, seed: u64) -> Result<Sample, String> {
    trial_with(nodes, seed, false)
}

/// [`trial`], with every node sealing its datagrams when `crypto`.
pub fn trial_with(nodes: usize, seed: u64, crypto: bool) -> Result<Sample, String> {
    let ids: Vec<NodeId> = (1..=nodes as u32).filter_map(|i| NodeId::new(i).ok()).collect();
    let nodelist = MemberList::from_ids(ids.iter().copied()).map_err(|e| e.to_string())?;
    let params = WorldParams {
        seed,
        net: NetParams {
            latency: Duration::from_micros(100),
            jitter: Duration::from_micros(100),
            ..NetParams::default()
        },
        crypto: crypto.then(sim_key),
        ..WorldParams::new(nodelist)
    };
    let mut world = World::new(params).map_err(|e| e.to_string())?;
    let mut rng = Rng::stream(seed, 0x6c6174);
    for id in &ids {
        world.start(*id).map_err(|e| e.to_string())?;
    }
    converge(&mut world, &mut rng, "initial formation")?;
    let victim = *rng.pick(&ids).ok_or("no nodes")?;
    world.crash(victim).map_err(|e| e.to_string())?;
    let crash = timed(&mut world, "crash", |w| without(w, victim))?;
    world.start(victim).map_err(|e| e.to_string())?;
    let join = timed(&mut world, "join", |w| all_contain(w, victim))?;
    converge(&mut world, &mut rng, "after join")?;
    let rest: Vec<NodeId> = ids.iter().copied().filter(|i| *i != victim).collect();
    world.net_mut().split(&[rest]);
    let cut = timed(&mut world, "cut", |w| without(w, victim))?;
    world.net_mut().heal();
    let heal = timed(&mut world, "heal", settle::converged)?;
    Ok(Sample { crash, cut, heal, join })
}

/// Converges, then waits a random part of a token timeout so that faults hit the ring at a
/// random phase of the token's rotation.
fn converge(world: &mut World, rng: &mut Rng, what: &str) -> Result<(), String> {
    timed(world, what, settle::converged)?;
    let token = world.totem_config().token.as_micros();
    world.run_for(Duration::from_micros(rng.below(token)));
    Ok(())
}

fn timed(world: &mut World, what: &str, pred: impl FnMut(&World) -> bool) -> Result<Duration, String> {
    let t0 = world.now();
    let ok = world.run_until_pred(t0 + PHASE_BOUND, pred);
    if let Some(v) = world.violations().first() {
        return Err(format!("{what}: checker violation: {v}"));
    }
    if !ok {
        return Err(format!("{what}: not done within {PHASE_BOUND}: {:?}", world.views()));
    }
    Ok(world.now() - t0)
}

/// Every running node except `victim` is operational in a ring without it.
fn without(world: &World, victim: NodeId) -> bool {
    world.with_status(Status::Running).into_iter().filter(|id| *id != victim).all(|id| {
        world
            .node(id)
            .is_some_and(|n| n.state() == quorumd_totem::State::Operational && !n.members().contains(victim))
    })
}

/// Every running node is operational in a ring that contains `node`.
fn all_contain(world: &World, node: NodeId) -> bool {
    world.with_status(Status::Running).into_iter().all(|id| {
        world
            .node(id)
            .is_some_and(|n| n.state() == quorumd_totem::State::Operational && n.members().contains(node))
    })
}
