//! `quorumtool what-if`: runs this cluster's real configuration (nodelist, votes, quorum keys,
//! totem timing) in quorumd's deterministic simulator (crates/sim: the very Totem and
//! votequorum code the daemon runs, on a virtual network and clock), applies the failure asked
//! for, and reports which partition stays quorate and which policy decided. No daemon needed.
//!
//! The run: start every node, wait until the cluster is one quorate ring, crash the `--down`
//! nodes and cut the network along `--split`, wait until every partition has settled and
//! activated its ring; when a last_man_standing window is running, also report the state after
//! it. Assumptions (printed): every node was up and quorate before, nothing was changed at
//! runtime (set-expected, set-votes), no quorum device.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use quorumd_proto::{Duration, MemberList, NodeId, RingId};
use quorumd_sim::check::Status as SimStatus;
use quorumd_sim::quorum::QuorumSetup;
use quorumd_sim::{settle, World, WorldParams};
use quorumd_votequorum::{AtbNode, QuorumState};
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::explain::{nodes_phrase, policy};
use crate::info::{Decision, NodeRow, VoteInfo};

/// How long (virtual) the cluster may take to form, or to settle after the failure.
const SETTLE_MAX: Duration = Duration::from_millis(120_000);

/// What to break.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failure {
    /// Nodes that crash.
    pub down: Vec<u32>,
    /// Network partitions; running nodes in no group end up alone.
    pub split: Vec<Vec<u32>>,
    /// The simulator's seed (network randomness).
    pub seed: u64,
}

/// One partition after the failure.
#[derive(Clone, Debug)]
pub struct Partition {
    /// Its members.
    pub members: Vec<u32>,
    /// Their names.
    pub names: Vec<String>,
    /// Quorate (as its lowest member reports it).
    pub quorate: bool,
    /// Its members disagree about quorate (should never happen).
    pub disagree: bool,
    /// votequorum's numbers; `None` without a provider.
    pub vq: Option<VoteInfo>,
}

/// The state at one moment.
#[derive(Clone, Debug)]
pub struct Phase {
    /// What moment.
    pub label: String,
    /// Virtual milliseconds since the failure.
    pub after_ms: u64,
    /// The partitions, by lowest member.
    pub partitions: Vec<Partition>,
}

/// The whole answer.
#[derive(Clone, Debug)]
pub struct Report {
    /// The config file.
    pub config: String,
    /// What was broken.
    pub failure: Failure,
    /// Configured node ids.
    pub nodes: Vec<u32>,
    /// Effective token and consensus.
    pub token_ms: u64,
    /// Consensus timeout.
    pub consensus_ms: u64,
    /// All nodes up.
    pub before: Partition,
    /// After the failure (and after the LMS window, if one ran).
    pub phases: Vec<Phase>,
}

fn node_id(raw: u32) -> Result<NodeId> {
    NodeId::new(raw).map_err(|e| anyhow!("node {raw}: {e}"))
}

fn params(cluster: &Cluster, seed: u64) -> Result<WorldParams> {
    let c = &cluster.config;
    let nodelist = MemberList::from_ids(c.node_ids()).map_err(|e| anyhow!("nodelist: {e}"))?;
    let mut params = WorldParams::new(nodelist);
    params.seed = seed;
    params.cluster_id = c.cluster_id();
    let mut setup = if c.has_votequorum() { QuorumSetup::default() } else { QuorumSetup::none() };
    setup.keys = c
        .quorum
        .settings
        .iter()
        .filter(|s| s.key != "provider")
        .map(|s| (s.key.clone(), s.value.clone()))
        .collect();
    for n in &c.nodelist {
        if let Some(v) = n.quorum_votes {
            setup.votes.insert(n.nodeid, v);
        }
    }
    params.quorum = setup;
    Ok(params)
}

fn check_failure(cluster: &Cluster, f: &Failure) -> Result<()> {
    let known = cluster.config.node_ids();
    if f.down.is_empty() && f.split.is_empty() {
        bail!("say what fails: --down 2,3 and/or --split 1,2 3,4");
    }
    let mut seen = BTreeMap::new();
    for (g, group) in f.split.iter().enumerate() {
        for id in group {
            if let Some(other) = seen.insert(*id, g) {
                if other != g {
                    bail!("node {id} is in two --split groups");
                }
            }
        }
    }
    for id in f.down.iter().chain(f.split.iter().flatten()) {
        if !known.iter().any(|k| k.get() == *id) {
            bail!("node {id} is not in the nodelist of {}", cluster.path.display());
        }
    }
    Ok(())
}

/// Every running node operational in a consistent ring, and its quorum service activated on
/// that very ring.
fn ready(w: &World) -> bool {
    settle::settled(w).is_ok()
        && w.with_status(SimStatus::Running)
            .iter()
            .all(|id| w.node(*id).is_some_and(|n| n.activated() && n.quorum_view().0 == n.ring_id()))
}

fn run_until_ready(w: &mut World, what: &str) -> Result<()> {
    let deadline = w.now() + SETTLE_MAX;
    if !w.run_until_pred(deadline, ready) {
        let why = settle::settled(w).err().unwrap_or_else(|| "quorum not activated".into());
        bail!("the simulated cluster did not settle {what} within {SETTLE_MAX}: {why}");
    }
    Ok(())
}

/// Runs the simulation.
pub fn simulate(cluster: &Cluster, f: &Failure) -> Result<Report> {
    check_failure(cluster, f)?;
    // The nodes run NodeParams::from_config, as the daemon does; `params` gives the checkers'
    // view of the quorum setup and the network.
    let mut world =
        World::with_config(params(cluster, f.seed)?, &cluster.config).map_err(|e| anyhow!("{e}"))?;
    let nodes: Vec<u32> = world.nodelist().iter().map(NodeId::get).collect();
    for id in &nodes {
        world.start(node_id(*id)?).map_err(|e| anyhow!("{e}"))?;
    }
    run_until_ready(&mut world, "at startup")?;
    let names: BTreeMap<u32, String> = cluster.nodes().into_iter().map(|n| (n.nodeid, n.name)).collect();
    let atb = cluster.auto_tie_breaker();
    let names = Names { names, atb };
    let before = partitions(&world, &names).into_iter().next().ok_or_else(|| anyhow!("no node runs"))?;
    let t0 = world.now();
    for id in &f.down {
        world.crash(node_id(*id)?).map_err(|e| anyhow!("{e}"))?;
    }
    if !f.split.is_empty() {
        let groups =
            f.split.iter().map(|g| g.iter().map(|id| node_id(*id)).collect()).collect::<Result<Vec<_>>>()?;
        world.net_mut().split(&groups);
    }
    run_until_ready(&mut world, "after the failure")?;
    let mut phases = vec![phase(&world, &names, t0, "After the failure".into())];
    if let Some(window_ms) = lms_window(&world, cluster) {
        world.run_for(Duration::from_millis(u64::from(window_ms) + 100));
        run_until_ready(&mut world, "after the last_man_standing window")?;
        phases.push(phase(
            &world,
            &names,
            t0,
            format!("After the last_man_standing window ({window_ms} ms)"),
        ));
    }
    let totem = world.totem_config();
    Ok(Report {
        config: cluster.path.display().to_string(),
        failure: f.clone(),
        nodes,
        token_ms: totem.token.as_millis(),
        consensus_ms: totem.consensus.as_millis(),
        before,
        phases,
    })
}

/// The last_man_standing window when one is running on some node (votequorum's default
/// window is 10 s, corosync-behaviour §3.1).
fn lms_window(w: &World, cluster: &Cluster) -> Option<u32> {
    let running = w.with_status(SimStatus::Running);
    let any = running
        .iter()
        .any(|id| w.node(*id).and_then(|n| n.quorum_state()).is_some_and(|q| q.lms_window_running));
    any.then(|| cluster.config.quorum.last_man_standing_window.unwrap_or(10_000))
}

/// Node names and the auto_tie_breaker rule, to describe what the simulated nodes report.
struct Names {
    names: BTreeMap<u32, String>,
    atb: Option<AtbNode>,
}

fn phase(w: &World, names: &Names, t0: quorumd_proto::Instant, label: String) -> Phase {
    Phase { label, after_ms: (w.now() - t0).as_millis(), partitions: partitions(w, names) }
}

fn partitions(w: &World, names: &Names) -> Vec<Partition> {
    let mut rings: BTreeMap<(u32, RingId), Vec<NodeId>> = BTreeMap::new();
    for id in w.with_status(SimStatus::Running) {
        if let Some(n) = w.node(id) {
            let first = n.members().iter().next().map_or(id.get(), NodeId::get);
            rings.entry((first, n.ring_id())).or_default().push(id);
        }
    }
    rings
        .into_values()
        .map(|ids| {
            let quorate: Vec<bool> = ids.iter().filter_map(|id| w.node(*id)).map(|n| n.quorate()).collect();
            let lead = ids.first().and_then(|id| w.node(*id));
            let members: Vec<u32> = ids.iter().map(|id| id.get()).collect();
            Partition {
                names: members.iter().map(|id| names.names.get(id).cloned().unwrap_or_default()).collect(),
                members,
                quorate: quorate.first().copied().unwrap_or(false),
                disagree: quorate.windows(2).any(|p| p[0] != p[1]),
                vq: lead.and_then(|n| n.quorum_state()).map(|q| vote_info(&q, names)),
            }
        })
        .collect()
}

fn vote_info(q: &QuorumState, names: &Names) -> VoteInfo {
    VoteInfo {
        votes: q.votes,
        expected_votes: q.expected_votes,
        highest_expected: q.highest_expected,
        total_votes: q.total_votes,
        quorum: q.quorum,
        flags: q.flags.names().into_iter().map(str::to_string).collect(),
        wait_for_all_status: q.wait_for_all_status,
        lms_window_running: q.lms_window_running,
        decision: Decision::from_vq(&q.decision, names.atb.as_ref()),
        nodes: q
            .nodes
            .iter()
            .map(|n| NodeRow {
                nodeid: n.nodeid.get(),
                state: format!("{:?}", n.state).to_lowercase(),
                votes: n.votes,
                expected_votes: n.expected_votes,
                name: names.names.get(&n.nodeid.get()).cloned().unwrap_or_default(),
            })
            .collect(),
    }
}

impl Partition {
    fn label(&self) -> String {
        let named: Vec<&str> = self.names.iter().map(String::as_str).filter(|n| !n.is_empty()).collect();
        if named.len() == self.members.len() {
            format!("{} ({})", nodes_phrase(&self.members), named.join(", "))
        } else {
            nodes_phrase(&self.members)
        }
    }

    fn policy(&self) -> String {
        match &self.vq {
            Some(vq) => policy(vq),
            None => "no quorum provider: always quorate".into(),
        }
    }

    fn text(&self, out: &mut String, title: &str) {
        let yes = if self.quorate { "Yes" } else { "No (activity blocked)" };
        out.push_str(&format!("  {title}: {}\n", self.label()));
        if let Some(vq) = &self.vq {
            out.push_str(&format!("    Votes:      {} of {} expected\n", vq.total_votes, vq.expected_votes));
            out.push_str(&format!("    Quorum:     {}\n", vq.quorum));
        }
        out.push_str(&format!("    Quorate:    {yes}\n"));
        out.push_str(&format!("    Decided by: {}\n", self.policy()));
        if self.disagree {
            out.push_str("    WARNING:    its members disagree about quorate\n");
        }
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "members": self.members, "names": self.names, "quorate": self.quorate, "policy": self.policy(),
        });
        if let (Some(vq), Some(map)) = (&self.vq, v.as_object_mut()) {
            map.insert("total_votes".into(), json!(vq.total_votes));
            map.insert("expected_votes".into(), json!(vq.expected_votes));
            map.insert("quorum".into(), json!(vq.quorum));
            map.insert("flags".into(), json!(vq.flags));
            map.insert("decision".into(), vq.decision.to_json());
        }
        v
    }
}

/// `one_quorate`, `none_quorate` or `split_brain`, and its sentence.
fn outcome(p: &Phase) -> (&'static str, String) {
    let quorate: Vec<&Partition> = p.partitions.iter().filter(|p| p.quorate).collect();
    match quorate.as_slice() {
        [] => ("none_quorate", "no partition is quorate: activity is blocked everywhere.".into()),
        [one] if p.partitions.len() == 1 => ("one_quorate", format!("{} stay quorate.", one.label())),
        [one] => ("one_quorate", format!("{} stay quorate; the other partitions are blocked.", one.label())),
        many => {
            let sides: Vec<String> = many.iter().map(|p| p.label()).collect();
            (
                "split_brain",
                format!(
                    "SPLIT BRAIN: {} partitions are quorate at once ({}); only fencing keeps this safe.",
                    many.len(),
                    sides.join(" | ")
                ),
            )
        }
    }
}

impl Report {
    /// Whether any phase ends with more than one partition quorate at once.
    pub fn split_brain(&self) -> bool {
        self.phases.iter().any(|p| outcome(p).0 == "split_brain")
    }

    fn question(&self) -> String {
        let mut parts = Vec::new();
        if !self.failure.down.is_empty() {
            let verb = if self.failure.down.len() == 1 { "goes" } else { "go" };
            parts.push(format!("{} {verb} down (crash)", nodes_phrase(&self.failure.down)));
        }
        if !self.failure.split.is_empty() {
            let groups: Vec<String> = self.failure.split.iter().map(|g| nodes_phrase(g)).collect();
            parts.push(format!("the network splits into {}", groups.join(" | ")));
        }
        format!("What if {}?", parts.join(" and "))
    }

    /// The text answer.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.question());
        out.push_str(&format!(
            "Cluster: {} nodes from {}; simulated with quorumd's own Totem and votequorum code\n\
             (assumes all nodes were up and quorate before, and no runtime changes).\n\n",
            self.nodes.len(),
            self.config
        ));
        out.push_str("Before:\n");
        self.before.text(&mut out, "All nodes");
        if !self.failure.down.is_empty() {
            out.push_str(&format!("\nDown: {}\n", nodes_phrase(&self.failure.down)));
        }
        for phase in &self.phases {
            out.push_str(&format!(
                "\n{}: settled after {} ms (token {} + consensus {}):\n",
                phase.label, phase.after_ms, self.token_ms, self.consensus_ms
            ));
            for (i, p) in phase.partitions.iter().enumerate() {
                p.text(&mut out, &format!("Partition {}", i + 1));
            }
        }
        if let Some(last) = self.phases.last() {
            out.push_str(&format!("\nOutcome: {}\n", outcome(last).1));
        }
        out
    }

    /// The JSON answer.
    pub fn json(&self) -> Value {
        let phases: Vec<Value> = self
            .phases
            .iter()
            .map(|p| {
                let partitions: Vec<Value> = p.partitions.iter().map(Partition::json).collect();
                json!({"label": p.label, "after_ms": p.after_ms, "partitions": partitions, "outcome": outcome(p).0})
            })
            .collect();
        let last = self.phases.last().map(|p| outcome(p).0);
        json!({
            "config": self.config, "nodes": self.nodes, "down": self.failure.down, "split": self.failure.split,
            "token_ms": self.token_ms, "consensus_ms": self.consensus_ms, "before": self.before.json(),
            "phases": phases, "outcome": last,
        })
    }
}
