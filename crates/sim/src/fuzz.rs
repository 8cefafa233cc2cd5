//! The fuzzer: one seed → one random run with a safety phase and a liveness phase.
//!
//! Safety phase: all nodes boot (staggered), then for `safety_ms` of virtual time random faults
//! (crash, restart, graceful stop, pause, resume, partitions, one-way and two-way link cuts,
//! link repairs, heals, loss changes) and background submits, with every checker after every
//! step. Liveness phase: the network heals and loses nothing, paused nodes resume, every
//! stopped or crashed node restarts, and within `3 × token + 2 s` every node must be
//! operational in one ring of all nodes (checker (g)) whose sync every node has completed,
//! reporting the quorum state votequorum's rules give for the full membership
//! ([`crate::check::quorum_liveness`]); otherwise the seed is "unconverged".
//!
//! Quorum: each seed runs with a votequorum configuration drawn from its own stream
//! ([`Preset`]: plain, wait_for_all, two_node on 2 nodes, last_man_standing with a short
//! window, auto_tie_breaker lowest/highest/list, weighted votes, or no provider), so the
//! reproduction command replays it; `--quorum` forces one.
//!
//! Invariants: the run is a function of `(seed, options)` only. Independent random streams
//! (node count, network parameters, schedule; the world has its own) keep a seed's meaning when
//! an option overrides one choice, so the printed reproduction command replays the same run.
//! A panic inside the protocol is caught and reported as a violation of the seed.

use std::panic::{catch_unwind, AssertUnwindSafe};

use quorumd_proto::ipc::Request;
use quorumd_proto::{Duration, MemberList, NodeId};
use quorumd_totem::{Mutant, TotemKeys};

use crate::check::liveness::Liveness;
use crate::check::quorum_liveness;
use crate::check::{violation, Checker, Status, Violation};
use crate::net::NetParams;
use crate::quorum::{Preset, QuorumSetup};
use crate::rng::Rng;
use crate::settle;
use crate::world::{SimMutant, World, WorldParams, WorldStats};

mod faults;
pub mod hostile;
pub mod links;

use faults::{apply, choose_fault, Fault};

const STREAM_NODES: u64 = 1;
const STREAM_NET: u64 = 2;
const STREAM_SCHEDULE: u64 = 3;
const STREAM_QUORUM: u64 = 4;
const STREAM_CPG: u64 = 5;
const STREAM_LINKS: u64 = 6;

/// How long the liveness phase lets a quiet ring deliver one restoring request (a few
/// rotations of nine nodes at the simulated latencies) before it sends the next.
const RESTORE_STEP: Duration = Duration::from_millis(100);

/// What a fuzz run varies and what it fixes.
#[derive(Clone, Debug, PartialEq)]
pub struct FuzzOptions {
    /// Fewest and most nodes (inclusive); each seed picks a count in this range.
    pub nodes: (usize, usize),
    /// Build every node with this mutant.
    pub mutant: Option<Mutant>,
    /// Run the simulated clients with this mutant.
    pub sim_mutant: Option<SimMutant>,
    /// Build the first node's CPG service with this mutant.
    pub cpg_mutant: Option<quorumd_node::CpgMutant>,
    /// CPG clients on the nodes (join, leave, multicast, close), checked for virtual
    /// synchrony.
    pub cpg: bool,
    /// Fixed loss probability (otherwise random per seed, and changed by faults).
    pub loss: Option<f64>,
    /// Fixed duplication probability (otherwise random per seed).
    pub dup: Option<f64>,
    /// Fixed one-way latency in µs (otherwise random per seed).
    pub latency_us: Option<u64>,
    /// Fixed jitter in µs (otherwise random per seed).
    pub jitter_us: Option<u64>,
    /// Length of the safety phase, virtual ms.
    pub safety_ms: u64,
    /// Whether nodes submit background messages.
    pub traffic: bool,
    /// `totem.token` in ms (otherwise the default).
    pub token_ms: Option<u32>,
    /// Keep the event log (for printing failing seeds).
    pub log: bool,
    /// Run every seed with this quorum preset (otherwise drawn per seed).
    pub quorum: Option<Preset>,
    /// Draw restarts from a wiped state directory or an older copy of it.
    pub state_loss: bool,
    /// Draw an adversarial member's bursts (crypto off).
    pub hostile: bool,
    /// Draw runtime requests (setexpected, setvotes, cancel_wait_for_all).
    pub requests: bool,
    /// Draw freezes longer than the token timeout.
    pub freezes: bool,
    /// Every node seals and opens its datagrams (authenticated transport, one cluster key).
    pub crypto: bool,
    /// Fewest and most links per node (inclusive); each seed picks a count, and with two or
    /// more a link mode, and draws link faults.
    pub links: (u32, u32),
    /// Build every node's link layer with this mutant.
    pub link_mutant: Option<quorumd_totem::LinkMutant>,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            nodes: (3, 5),
            mutant: None,
            sim_mutant: None,
            cpg_mutant: None,
            cpg: false,
            loss: None,
            dup: None,
            latency_us: None,
            jitter_us: None,
            safety_ms: 6000,
            traffic: true,
            token_ms: None,
            log: false,
            quorum: None,
            crypto: false,
            state_loss: true,
            hostile: true,
            requests: true,
            freezes: true,
            links: (1, 1),
            link_mutant: None,
        }
    }
}

impl FuzzOptions {
    /// The defaults without the faults added for state loss, adversaries, runtime requests
    /// and long freezes: a seed then replays the very run it did before those existed.
    pub fn classic() -> FuzzOptions {
        FuzzOptions {
            state_loss: false,
            hostile: false,
            requests: false,
            freezes: false,
            ..FuzzOptions::default()
        }
    }
}

/// What one seed did.
#[derive(Clone, Debug)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Its node count.
    pub nodes: usize,
    /// Its quorum preset.
    pub preset: Preset,
    /// Its quorum configuration.
    pub quorum: QuorumSetup,
    /// Safety violations (empty when none).
    pub violations: Vec<Violation>,
    /// Why the liveness phase did not converge.
    pub unconverged: Option<Violation>,
    /// Digest of every event (see [`World::digest`]).
    pub digest: u64,
    /// Counters.
    pub stats: WorldStats,
    /// Virtual time at the end of the run.
    pub end: quorumd_proto::Instant,
    /// The event log (when asked for).
    pub log: Vec<String>,
    /// CPG multicasts answered OK, TRY_AGAIN and otherwise (with CPG clients on).
    pub cpg_multicasts: (u64, u64, u64),
}

/// The message a node submits as background traffic: origin id and counter, unique.
pub fn payload(node: NodeId, counter: u64) -> Vec<u8> {
    let mut p = node.get().to_be_bytes().to_vec();
    p.extend_from_slice(&counter.to_be_bytes());
    p
}

/// The node count `seed` runs with.
pub fn nodes_for_seed(seed: u64, opts: &FuzzOptions) -> usize {
    let (lo, hi) = opts.nodes;
    Rng::stream(seed, STREAM_NODES).between(lo as u64, hi as u64) as usize
}

/// The link count and mode `seed` runs with (drawn from a stream of its own only when the
/// range has more than one count, so single-link seeds replay).
pub fn links_for_seed(seed: u64, opts: &FuzzOptions) -> (u32, quorumd_totem::LinkMode) {
    let (lo, hi) = opts.links;
    if lo >= hi {
        return (lo.max(1), quorumd_totem::LinkMode::Passive);
    }
    let mut r = Rng::stream(seed, STREAM_LINKS);
    let count = r.between(u64::from(lo), u64::from(hi)) as u32;
    let modes =
        [quorumd_totem::LinkMode::Passive, quorumd_totem::LinkMode::Active, quorumd_totem::LinkMode::Rr];
    (count.max(1), modes[r.below(3) as usize])
}

/// The quorum preset and configuration `seed` runs with on `nodes` nodes.
pub fn quorum_for_seed(seed: u64, nodes: usize, opts: &FuzzOptions) -> (Preset, QuorumSetup) {
    let ids = (1..=nodes as u32).filter_map(|i| NodeId::new(i).ok());
    let nodelist = MemberList::from_ids(ids).unwrap_or_default();
    Preset::draw(&mut Rng::stream(seed, STREAM_QUORUM), &nodelist, opts.quorum)
}

/// The command line that replays `seed` with `nodes` nodes.
pub fn repro_command(seed: u64, nodes: usize, opts: &FuzzOptions) -> String {
    let mut cmd = format!("quorumd-sim fuzz --seeds {seed}..{} --nodes {nodes}", seed + 1);
    if let Some(m) = opts.mutant {
        cmd += &format!(" --mutant {}", m.name());
    }
    if let Some(m) = opts.sim_mutant {
        cmd += &format!(" --mutant {}", m.name());
    }
    if let Some(m) = opts.cpg_mutant {
        cmd += &format!(" --mutant {}", crate::cpg::mutant_name(m));
    }
    if opts.cpg {
        cmd += " --cpg";
    }
    let defaults = FuzzOptions::default();
    let opt = |name: &str, v: Option<String>| v.map(|v| format!(" --{name} {v}")).unwrap_or_default();
    cmd += &opt("loss", opts.loss.map(|v| v.to_string()));
    cmd += &opt("dup", opts.dup.map(|v| v.to_string()));
    cmd += &opt("latency-us", opts.latency_us.map(|v| v.to_string()));
    cmd += &opt("jitter-us", opts.jitter_us.map(|v| v.to_string()));
    cmd += &opt("token", opts.token_ms.map(|v| v.to_string()));
    if opts.safety_ms != defaults.safety_ms {
        cmd += &format!(" --safety-ms {}", opts.safety_ms);
    }
    if !opts.traffic {
        cmd += " --no-traffic";
    }
    if let Some(p) = opts.quorum {
        cmd += &format!(" --quorum {}", p.name());
    }
    for (on, flag) in [
        (opts.state_loss, "state-loss"),
        (opts.hostile, "hostile"),
        (opts.requests, "requests"),
        (opts.freezes, "freezes"),
    ] {
        if !on {
            cmd += &format!(" --no-{flag}");
        }
    }
    if opts.crypto {
        cmd += " --crypto";
    }
    if let Some(m) = opts.link_mutant {
        cmd += &format!(" --mutant {}", m.name());
    }
    if opts.links != (1, 1) {
        cmd += &format!(" --links {}..={}", opts.links.0, opts.links.1);
    }
    cmd
}

fn world_params(seed: u64, nodes: usize, opts: &FuzzOptions) -> WorldParams {
    // Every draw happens whatever the overrides, so an override changes only its own value.
    let mut r = Rng::stream(seed, STREAM_NET);
    let loss = [0.0, 0.0, 0.01, 0.05][r.below(4) as usize];
    let dup = [0.0, 0.0, 0.01, 0.05][r.below(4) as usize];
    let latency_us = r.between(50, 1000);
    let jitter_us = [0, 200, 1000, 5000][r.below(4) as usize];
    let ids = (1..=nodes as u32).filter_map(|i| NodeId::new(i).ok());
    let keys = TotemKeys { token: opts.token_ms, ..TotemKeys::default() };
    WorldParams {
        nodelist: MemberList::from_ids(ids).unwrap_or_default(),
        keys,
        net: NetParams {
            loss: opts.loss.unwrap_or(loss),
            dup: opts.dup.unwrap_or(dup),
            latency: Duration::from_micros(opts.latency_us.unwrap_or(latency_us)),
            jitter: Duration::from_micros(opts.jitter_us.unwrap_or(jitter_us)),
        },
        seed,
        mutant: opts.mutant,
        sim_mutant: opts.sim_mutant,
        cpg_mutant: opts.cpg_mutant,
        cluster_id: 0x5155,
        quorum: quorum_for_seed(seed, nodes, opts).1,
        crypto: opts.crypto.then(crate::latency::sim_key),
        links: links_for_seed(seed, opts).0,
        link_mode: links_for_seed(seed, opts).1,
        link_mutant: opts.link_mutant,
    }
}

/// Runs one seed: safety phase, then (if no violation) the liveness phase.
pub fn run_seed(seed: u64, opts: &FuzzOptions) -> SeedOutcome {
    let nodes = nodes_for_seed(seed, opts);
    let (preset, quorum) = quorum_for_seed(seed, nodes, opts);
    let mut outcome = SeedOutcome {
        seed,
        nodes,
        preset,
        quorum,
        violations: Vec::new(),
        unconverged: None,
        digest: 0,
        stats: WorldStats::default(),
        end: quorumd_proto::Instant::ZERO,
        log: Vec::new(),
        cpg_multicasts: (0, 0, 0),
    };
    let mut world = match World::new(world_params(seed, nodes, opts)) {
        Ok(w) => w,
        Err(e) => {
            outcome.violations.push(violation("setup", quorumd_proto::Instant::ZERO, e.to_string()));
            return outcome;
        }
    };
    if opts.log {
        world.enable_log();
    }
    let result = catch_unwind(AssertUnwindSafe(|| drive(&mut world, seed, opts)));
    outcome.violations = world.violations().to_vec();
    match result {
        Ok(unconverged) => outcome.unconverged = unconverged,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            outcome.violations.push(violation(
                "panic",
                world.now(),
                format!("the protocol panicked: {what}"),
            ));
        }
    }
    outcome.digest = world.digest();
    outcome.stats = world.stats().clone();
    outcome.end = world.now();
    outcome.log = world.log_lines();
    outcome.cpg_multicasts = world.cpg_counts();
    outcome
}

fn drive(world: &mut World, seed: u64, opts: &FuzzOptions) -> Option<Violation> {
    let mut rng = Rng::stream(seed, STREAM_SCHEDULE);
    let mut cpg_rng = Rng::stream(seed, STREAM_CPG);
    safety_phase(world, &mut rng, &mut cpg_rng, opts);
    if !world.violations().is_empty() {
        return None;
    }
    let unconverged = liveness_phase(world);
    if opts.cpg && unconverged.is_none() && world.violations().is_empty() {
        // Let the CPG syncs of the final ring complete and the resent messages arrive.
        world.run_for(Duration::from_millis(3000));
        world.cpg_check_end();
    }
    // A safety violation during the liveness phase (e.g. a message storm) is the finding; the
    // missing convergence is its consequence and is not counted twice.
    unconverged.filter(|_| world.violations().is_empty())
}

fn safety_phase(world: &mut World, rng: &mut Rng, cpg_rng: &mut Rng, opts: &FuzzOptions) {
    for id in world.nodelist().clone().iter() {
        world.run_for(Duration::from_millis(rng.below(100)));
        let _ = world.start(id);
    }
    let end = world.now() + Duration::from_millis(opts.safety_ms);
    let mut next_fault = world.now() + Duration::from_millis(rng.between(100, 800));
    let mut counter = 0u64;
    let mut thaw: Vec<(quorumd_proto::Instant, NodeId)> = Vec::new();
    while world.now() < end && world.violations().is_empty() && !world.is_stuck() {
        let tick = Duration::from_millis(rng.between(5, 60));
        world.run_until((world.now() + tick).min(end));
        world.check_footprints();
        // Long freezes end on schedule; the frozen nodes' local clients keep asking.
        let now = world.now();
        for (_, id) in thaw.iter().filter(|(at, _)| *at <= now) {
            if world.status(*id) == Some(Status::Paused) {
                world.note(&format!("thaw {id}"));
                let _ = world.resume(*id);
            }
        }
        thaw.retain(|(at, _)| *at > now);
        for id in world.with_status(Status::Paused) {
            let _ = world.getquorate(id);
        }
        if opts.traffic && rng.chance(0.6) {
            let running = world.with_status(Status::Running);
            if let Some(id) = rng.pick(&running).copied() {
                counter += 1;
                let _ = world.submit(id, payload(id, counter));
            }
        }
        if opts.cpg {
            for _ in 0..cpg_rng.below(3) {
                world.cpg_step(cpg_rng);
            }
        }
        if world.now() >= next_fault {
            if let Some(fault) = choose_fault(rng, world, opts) {
                world.note(&format!("fault: {fault}"));
                if let Fault::Freeze(id, d) = fault {
                    thaw.push((world.now() + d, id));
                }
                apply(world, fault);
            }
            // Redundant links: faults four times further apart, long enough for a link fault's
            // detection (a ping timeout) and what follows to be judged before the next fault.
            let spread = if world.link_count() > 1 { 4 } else { 1 };
            next_fault = world.now() + Duration::from_millis(spread * rng.between(100, 1000));
        }
    }
}

/// Sends setexpected (the full membership's expected votes) and setvotes (each node's
/// configured votes) through the first node with clients, one at a time, each once the one
/// before has been delivered (votequorum checks each against the state it finds).
fn restore_configured_votes(world: &mut World) {
    let Some((_, _, expected, _)) = world.quorum_setup().full_membership(world.nodelist()) else { return };
    let Some(at) = world.with_status(Status::Running).into_iter().find(|n| world.has_clients(*n)) else {
        return;
    };
    world.note(&format!("liveness phase: restore expected votes {expected} and every node's votes"));
    let mut requests = vec![Request::SetExpected { expected }];
    for n in world.nodelist().clone().iter() {
        let votes = world.quorum_setup().votes.get(&n).copied().unwrap_or(1);
        requests.push(Request::SetVotes { nodeid: n.get(), votes });
    }
    for r in requests {
        let answer = world.client_request(at, r.clone());
        world.note(&format!("{r:?} on node {at}: {answer:?}"));
        world.run_for(RESTORE_STEP);
    }
}

fn liveness_phase(world: &mut World) -> Option<Violation> {
    world.note("liveness phase: heal, resume, restart");
    world.net_mut().heal();
    world.net_mut().params.loss = 0.0;
    world.net_mut().params.dup = 0.0;
    for id in world.with_status(Status::Paused) {
        let _ = world.resume(id);
    }
    for status in [Status::Never, Status::Crashed, Status::Stopped] {
        for id in world.with_status(status) {
            let _ = world.start(id);
        }
    }
    let token = world.totem_config().token;
    let bound = token + token + token + Duration::from_millis(2000);
    let deadline = world.now() + bound;
    let settled = |w: &World| settle::converged(w) && quorum_liveness::not_activated(w).is_none();
    world.run_until_pred(deadline, settled);
    if world.quorum_overridden() && settled(world) {
        // Runtime setexpected/setvotes outlive the faults: once the requests still queued
        // from the safety phase are delivered (a few rotations of a quiet ring), the
        // administrator puts the configured values back, then the full membership's numbers
        // must follow.
        world.run_for(RESTORE_STEP + RESTORE_STEP);
        restore_configured_votes(world);
        let deadline = world.now() + bound;
        world.run_until_pred(deadline, |w| settled(w) && quorum_liveness::check(w).is_ok());
    }
    world.check_footprints();
    let views = world.views();
    let unconverged = Liveness.at_end(world.now(), &views).err().map(|v| Violation {
        message: format!("not converged within {bound} of the liveness phase: {}", v.message),
        ..v
    });
    unconverged.or_else(|| {
        quorum_liveness::check(world).err().map(|why| {
            violation("quorum-liveness", world.now(), format!("{bound} into the liveness phase: {why}"))
        })
    })
}

/// A deliberately broken variant: of Totem (every node built with it) or of the simulated
/// clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyMutant {
    /// A Totem mutant.
    Totem(Mutant),
    /// A sim mutant.
    Sim(SimMutant),
    /// A CPG mutant (the first node's CPG service; the run has CPG clients).
    Cpg(quorumd_node::CpgMutant),
    /// A link-layer mutant (every node; the run has two or three links).
    Link(quorumd_totem::LinkMutant),
}

impl AnyMutant {
    /// Every mutant: Totem's, then the simulator's own.
    pub fn all() -> Vec<AnyMutant> {
        Mutant::ALL
            .into_iter()
            .map(AnyMutant::Totem)
            .chain(SimMutant::ALL.into_iter().map(AnyMutant::Sim))
            .chain(crate::cpg::MUTANTS.into_iter().map(AnyMutant::Cpg))
            // no-readmit-hold is not caught yet (docs/simulator.md, "Redundant links").
            .chain([quorumd_totem::LinkMutant::FailOnOneLink].into_iter().map(AnyMutant::Link))
            .collect()
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            AnyMutant::Totem(m) => m.name(),
            AnyMutant::Sim(m) => m.name(),
            AnyMutant::Cpg(m) => crate::cpg::mutant_name(m),
            AnyMutant::Link(m) => m.name(),
        }
    }

    /// Seeds `(seed, nodes)` known to catch this mutant although a short seed range may not:
    /// the runs that found the bug the mutant brings back. Only for bugs that need a rare
    /// coincidence of faults (a wiped node cut off from everyone while a member of its old ring
    /// is frozen).
    pub fn regression_seeds(self) -> &'static [(u64, usize)] {
        match self {
            AnyMutant::Totem(Mutant::PredictableRingSeq) => &[(2085, 3), (13498, 3)],
            _ => &[],
        }
    }

    /// `opts` with this mutant (and no other).
    pub fn apply(self, opts: &FuzzOptions) -> FuzzOptions {
        let (mutant, sim_mutant, cpg_mutant) = match self {
            AnyMutant::Totem(m) => (Some(m), None, None),
            AnyMutant::Sim(m) => (None, Some(m), None),
            AnyMutant::Cpg(m) => (None, None, Some(m)),
            AnyMutant::Link(_) => (None, None, None),
        };
        let link_mutant = match self {
            AnyMutant::Link(m) => Some(m),
            _ => None,
        };
        // A link mutant needs redundant links to show.
        let links = if link_mutant.is_some() && opts.links.1 < 2 { (2, 3) } else { opts.links };
        let cpg = opts.cpg || cpg_mutant.is_some();
        FuzzOptions { mutant, sim_mutant, cpg_mutant, link_mutant, links, cpg, ..opts.clone() }
    }
}

/// How a mutant was caught: the first seed where it breaks a promise that the same seed
/// without the mutant keeps.
#[derive(Clone, Debug)]
pub struct Catch {
    /// The seed.
    pub seed: u64,
    /// Its node count.
    pub nodes: usize,
    /// The checker that caught it (`liveness` or `quorum-liveness` for an unconverged seed).
    pub checker: &'static str,
    /// The first violation, as printed.
    pub message: String,
    /// Seeds run with the mutant until then.
    pub tried: u64,
}

/// [`catch_mutant`] over `seeds`, then over the mutant's [`AnyMutant::regression_seeds`] (each
/// on its own node count); `tried` counts every seed run with the mutant.
pub fn catch_mutant_or_regression(
    mutant: AnyMutant,
    opts: &FuzzOptions,
    seeds: std::ops::RangeInclusive<u64>,
) -> Option<Catch> {
    let mut tried = seeds.end().saturating_sub(*seeds.start()).saturating_add(1);
    catch_mutant(mutant, opts, seeds).or_else(|| {
        mutant.regression_seeds().iter().find_map(|&(seed, nodes)| {
            let fixed = FuzzOptions { nodes: (nodes, nodes), ..opts.clone() };
            tried += 1;
            catch_mutant(mutant, &fixed, seed..=seed).map(|c| Catch { tried, ..c })
        })
    })
}

/// Runs `seeds` with `mutant` until one reports a violation (or does not converge) while the
/// same seed without the mutant is clean; `None` when no seed of the range catches it.
pub fn catch_mutant(
    mutant: AnyMutant,
    opts: &FuzzOptions,
    seeds: std::ops::RangeInclusive<u64>,
) -> Option<Catch> {
    let broken = mutant.apply(opts);
    let clean =
        FuzzOptions { mutant: None, sim_mutant: None, cpg_mutant: None, link_mutant: None, ..broken.clone() };
    let first = *seeds.start();
    seeds.into_iter().find_map(|seed| {
        let o = run_seed(seed, &broken);
        let found = o.violations.first().or(o.unconverged.as_ref())?.clone();
        let control = run_seed(seed, &clean);
        if !control.violations.is_empty() || control.unconverged.is_some() {
            return None;
        }
        Some(Catch {
            seed,
            nodes: o.nodes,
            checker: found.checker,
            message: found.to_string(),
            tried: seed - first + 1,
        })
    })
}
