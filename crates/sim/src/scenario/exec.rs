//! Executes a parsed [`Scenario`] on a [`World`].
//!
//! Invariants: the world is built at the first command that is not setup (so `nodes`, `totem`
//! and `seed` shape it); after every command the checkers' violations are examined, and the
//! first one fails the scenario at that command's line; a panic inside the protocol is a
//! failure at the line being executed, not a crash of the runner.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use quorumd_proto::ipc::{cs, Request, Response};
use quorumd_proto::{MemberList, NodeId};

use super::{parse, Command, Expectation, Scenario};
use crate::quorum::QuorumSetup;
use crate::settle;
use crate::world::{World, WorldParams};

/// The result of one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation held and no checker complained.
    Pass,
    /// The first failure.
    Fail {
        /// 1-based line of the command that failed.
        line: usize,
        /// What was expected and what was seen.
        message: String,
    },
}

/// Parses and runs a scenario text.
pub fn run_text(text: &str) -> Outcome {
    match parse(text) {
        Ok(s) => run(&s),
        Err(e) => Outcome::Fail { line: e.line, message: e.message },
    }
}

/// Runs a parsed scenario.
pub fn run(scenario: &Scenario) -> Outcome {
    let current = Cell::new(0usize);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut runner = Runner::default();
        for (line, cmd) in &scenario.commands {
            current.set(*line);
            if let Err(message) = runner.execute(cmd).and_then(|()| runner.check_violations()) {
                return Outcome::Fail { line: *line, message };
            }
        }
        Outcome::Pass
    }));
    result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".to_string());
        Outcome::Fail { line: current.get(), message: format!("panic: {what}") }
    })
}

#[derive(Debug, Default)]
struct Runner {
    params: Option<WorldParams>,
    world: Option<World>,
    submitted: u64,
    /// Each node's ring seq at its last `ring` expectation (for `ring R.+N`).
    ring_seqs: std::collections::BTreeMap<NodeId, u64>,
}

impl Runner {
    fn params(&mut self) -> Result<&mut WorldParams, String> {
        self.params.as_mut().ok_or_else(|| "`nodes` must come first".to_string())
    }

    fn world(&mut self) -> Result<&mut World, String> {
        if self.world.is_none() {
            let params = self.params()?.clone();
            self.world = Some(World::new(params).map_err(|e| e.to_string())?);
        }
        self.world.as_mut().ok_or_else(|| "no world".to_string())
    }

    fn check_violations(&self) -> Result<(), String> {
        match self.world.as_ref().and_then(|w| w.violations().first()) {
            Some(v) => Err(format!("checker violation: {v}")),
            None => Ok(()),
        }
    }

    fn execute(&mut self, cmd: &Command) -> Result<(), String> {
        match cmd {
            Command::Nodes(ids) => {
                let list = MemberList::from_ids(ids.iter().copied()).map_err(|e| e.to_string())?;
                self.params = Some(WorldParams::new(list));
            }
            Command::Totem { key, value } => {
                self.params()?.keys.set(key, *value).map_err(|e| e.to_string())?
            }
            Command::Seed(seed) => self.params()?.seed = *seed,
            Command::Votes { node, votes } => {
                self.params()?.quorum.votes.insert(*node, *votes);
            }
            Command::Quorum { key, value } => self.params()?.quorum.keys.push((key.clone(), value.clone())),
            Command::NoQuorum => self.params()?.quorum = QuorumSetup::none(),
            Command::CancelWfa(node) => {
                let response = self.world()?.client_request(*node, Request::CancelWaitForAll);
                match response.map_err(|e| e.to_string())? {
                    Response::Result { error } if error == cs::OK => {}
                    other => return Err(format!("cancel_wait_for_all on node {node} answered {other:?}")),
                }
            }
            Command::Start(ids) => self.each(ids, World::start)?,
            Command::Stop(ids) => self.each(ids, World::stop)?,
            Command::Crash(ids) => self.each(ids, World::crash)?,
            Command::Pause(ids) => self.each(ids, World::pause)?,
            Command::Resume(ids) => self.each(ids, World::resume)?,
            Command::Submit { node, count } => self.submit(*node, *count)?,
            Command::Expect { nodes, what } => self.expect(nodes, what)?,
            _ => self.execute_network_or_time(cmd)?,
        }
        Ok(())
    }

    fn execute_network_or_time(&mut self, cmd: &Command) -> Result<(), String> {
        let world = self.world()?;
        match cmd {
            Command::Split(groups) => world.net_mut().split(groups),
            Command::Heal => world.net_mut().heal(),
            Command::Link { from, to, both, up } => {
                world.net_mut().set_link(*from, *to, *up);
                if *both {
                    world.net_mut().set_link(*to, *from, *up);
                }
            }
            Command::Loss(p) => world.net_mut().params.loss = *p,
            Command::Dup(p) => world.net_mut().params.dup = *p,
            Command::Latency { latency, jitter } => {
                world.net_mut().params.latency = *latency;
                world.net_mut().params.jitter = *jitter;
            }
            Command::Wait(d) => world.run_for(*d),
            Command::Settle(bound) => {
                let deadline = world.now() + *bound;
                if !world.run_until_pred(deadline, |w| settle::settled(w).is_ok()) {
                    let why = settle::settled(world).err().unwrap_or_else(|| "the run is stuck".into());
                    return Err(format!("not settled after {bound}: {why}"));
                }
            }
            other => return Err(format!("internal: {other:?} is not a network or time command")),
        }
        Ok(())
    }

    fn each(
        &mut self,
        ids: &[NodeId],
        op: impl Fn(&mut World, NodeId) -> Result<(), crate::world::SimError>,
    ) -> Result<(), String> {
        let world = self.world()?;
        for id in ids {
            op(world, *id).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn submit(&mut self, node: NodeId, count: u32) -> Result<(), String> {
        for _ in 0..count {
            self.submitted += 1;
            let payload = crate::fuzz::payload(node, self.submitted);
            self.world()?.submit(node, payload).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn expect(&mut self, nodes: &[NodeId], what: &Expectation) -> Result<(), String> {
        match what {
            Expectation::Quorate(_)
            | Expectation::Quorum(_)
            | Expectation::ExpectedVotes(_)
            | Expectation::TotalVotes(_) => return self.expect_quorum(nodes, what),
            _ => {}
        }
        let prev = self.ring_seqs.clone();
        let world = self.world()?;
        let mut first_ring = None;
        let mut seen_seqs = Vec::new();
        for id in nodes {
            let view = world.view(*id).ok_or_else(|| format!("node {id} is not configured"))?;
            let running = view.state.is_some();
            let seen = format!("node {id} is {} in ring {} {}", view.status, view.ring_id, view.members);
            let ok = match what {
                Expectation::Down => !running,
                _ if !running => false,
                Expectation::View(ids) => view.members.iter().eq(sorted(ids)),
                Expectation::SameRing => *first_ring.get_or_insert(view.ring_id) == view.ring_id,
                Expectation::RingSeq(seq) => view.ring_id.seq == *seq,
                Expectation::Ring { rep, seq } => view.ring_id.rep == *rep && view.ring_id.seq == *seq,
                Expectation::RingRep(rep) => view.ring_id.rep == *rep,
                Expectation::RingStep { rep, step } => {
                    let prev = prev.get(id).copied();
                    view.ring_id.rep == *rep
                        && prev.is_some_and(|p| p.checked_add(*step) == Some(view.ring_id.seq))
                }
                Expectation::State(s) => view.state == Some(*s),
                _ => false,
            };
            if !ok {
                let state = view.state.map(|s| format!(" ({s:?})")).unwrap_or_default();
                return Err(format!("expected {what}; {seen}{state}"));
            }
            seen_seqs.push((*id, view.ring_id.seq));
        }
        if matches!(what, Expectation::Ring { .. } | Expectation::RingRep(_) | Expectation::RingStep { .. }) {
            self.ring_seqs.extend(seen_seqs);
        }
        Ok(())
    }
}

impl Runner {
    /// Quorum expectations: getquorate through the node's V1 client, the numbers from
    /// votequorum's state.
    fn expect_quorum(&mut self, nodes: &[NodeId], what: &Expectation) -> Result<(), String> {
        let world = self.world()?;
        for id in nodes {
            let seen = match what {
                Expectation::Quorate(_) => match world.client_request(*id, Request::GetQuorate) {
                    Ok(Response::GetQuorate { error, quorate }) if error == cs::OK => {
                        format!("quorate {}", if quorate == 1 { "yes" } else { "no" })
                    }
                    Ok(other) => format!("getquorate answered {other:?}"),
                    Err(e) => e.to_string(),
                },
                _ => match world.vq_numbers(*id) {
                    None if world.node(*id).is_none() => format!("node {id} is not running"),
                    None => "no quorum provider".into(),
                    Some(n) => match what {
                        Expectation::Quorum(_) => format!("quorum {}", n.quorum),
                        Expectation::ExpectedVotes(_) => format!("expected_votes {}", n.expected_votes),
                        _ => format!("total_votes {}", n.total_votes),
                    },
                },
            };
            if seen != what.to_string() {
                let detail = world
                    .node(*id)
                    .and_then(|n| n.quorum_state())
                    .map(|s| {
                        format!(
                            " (ring {}, quorum {}, expected_votes {}, total_votes {}, flags [{}], {:?})",
                            s.ring_id, s.quorum, s.expected_votes, s.total_votes, s.flags, s.decision
                        )
                    })
                    .unwrap_or_default();
                return Err(format!("expected {what}; node {id}: {seen}{detail}"));
            }
        }
        Ok(())
    }
}

fn sorted(ids: &[NodeId]) -> Vec<NodeId> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}
