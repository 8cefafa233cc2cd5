//! The scenario language: one command a line, virtual time in ms, checkers on throughout.
//!
//! Quorum: every scenario runs with votequorum (`provider: corosync_votequorum`) unless it says
//! `noquorum`; `quorum KEY VALUE` and `votes NODE N` configure it; every node gets a tracking V1
//! and V0 client after its first sync, whose notifications the checkers read; `expect ...
//! quorate` asks such a client (getquorate), the numbers come from votequorum's state.
//!
//! Responsibility: [`parse`] turns a file into [`Command`]s with their line numbers (every
//! syntax or ordering error is a [`ParseError`] naming the line), [`run`] executes them on a
//! [`crate::world::World`] and stops at the first failed expectation or checker violation,
//! naming its line.
//!
//! Adding a command: a variant in [`Command`], a branch in `parse::parse_command`, a branch in
//! `exec::Runner::execute` (and, for an expectation, in [`Expectation`]).

mod exec;
mod parse;

use std::fmt;

use quorumd_proto::{Duration, NodeId};
use quorumd_totem::State;

pub use exec::{run, run_text, Outcome};
pub use parse::{parse, ParseError};

/// One scenario command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `nodes 1 2 3`: the nodelist; once, first.
    Nodes(Vec<NodeId>),
    /// `totem KEY VALUE`: a corosync.conf totem key, before anything runs.
    Totem {
        /// The key.
        key: String,
        /// Its value.
        value: u32,
    },
    /// `seed N`: the network's seed, before anything runs (default 1).
    Seed(u64),
    /// `start 1 2`: boot nodes, or restart crashed or stopped ones.
    Start(Vec<NodeId>),
    /// `stop 2`: graceful shutdown.
    Stop(Vec<NodeId>),
    /// `crash 3`: silent death.
    Crash(Vec<NodeId>),
    /// `pause 4`: freeze.
    Pause(Vec<NodeId>),
    /// `resume 4`: thaw.
    Resume(Vec<NodeId>),
    /// `split 1,2 3,4,5`: partition; unlisted nodes are alone.
    Split(Vec<Vec<NodeId>>),
    /// `heal`: full connectivity again.
    Heal,
    /// `link 1 2 down` (both ways) or `link 1>2 down` (one way); `up` restores.
    Link {
        /// One end (the sender for one-way).
        from: NodeId,
        /// The other end.
        to: NodeId,
        /// Both directions.
        both: bool,
        /// Restore (true) or cut (false).
        up: bool,
    },
    /// `loss P`: packet loss probability from now on.
    Loss(f64),
    /// `dup P`: duplication probability from now on.
    Dup(f64),
    /// `latency US [JITTER_US]`: one-way delay in µs from now on.
    Latency {
        /// Fixed part.
        latency: Duration,
        /// Random extra.
        jitter: Duration,
    },
    /// `wait MS`: advance virtual time.
    Wait(Duration),
    /// `settle [MS]`: advance until settled; fails after MS (default 60 000).
    Settle(Duration),
    /// `submit N [COUNT]`: node N submits COUNT small messages.
    Submit {
        /// The node.
        node: NodeId,
        /// How many.
        count: u32,
    },
    /// `votes 3 2`: node 3's `quorum_votes` (default 1), before anything runs.
    Votes {
        /// The node.
        node: NodeId,
        /// Its votes.
        votes: u32,
    },
    /// `quorum KEY VALUE...`: a `quorum { }` key of corosync.conf (a list value as several
    /// words), before anything runs; implies `provider: corosync_votequorum`.
    Quorum {
        /// The key, without `quorum.`.
        key: String,
        /// Its value (list words joined by one space).
        value: String,
    },
    /// `noquorum`: no quorum provider at all (`QUORUM_FREE`), before anything runs.
    NoQuorum,
    /// `cancel_wfa 1`: a client on node 1 cancels wait_for_all cluster-wide.
    CancelWfa(NodeId),
    /// `expect 1,2 WHAT ...`.
    Expect {
        /// The nodes it is about.
        nodes: Vec<NodeId>,
        /// What must hold.
        what: Expectation,
    },
}

impl Command {
    /// Configuration that must come before anything runs.
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            Command::Nodes(_)
                | Command::Totem { .. }
                | Command::Seed(_)
                | Command::Votes { .. }
                | Command::Quorum { .. }
                | Command::NoQuorum
        )
    }
}

/// What an `expect` line requires of each listed node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// `view 1 2`: the current ring holds exactly these nodes.
    View(Vec<NodeId>),
    /// `same-ring`: all listed nodes have one ring id.
    SameRing,
    /// `ring-seq 0x11`: the current ring's seq.
    RingSeq(u64),
    /// `ring 1.11`: the current ring id (`rep.seq`, both hex, as corosync prints it).
    Ring {
        /// Representative.
        rep: u32,
        /// Seq.
        seq: u64,
    },
    /// `ring 1.*`: the current ring's representative, whatever its seq (before a node's boot
    /// installed a ring of every configured node, a ring that leaves one out gets a fresh seq:
    /// docs/totem.md, "Node identity").
    RingRep(u32),
    /// `ring 1.+4`: the representative, and a seq that much (hex) above the seq this node's
    /// ring had at its previous `ring` expectation.
    RingStep {
        /// Representative.
        rep: u32,
        /// Seq above the previous one.
        step: u64,
    },
    /// `state operational` (or gather, commit, recovery).
    State(State),
    /// `down`: crashed, stopped or never started.
    Down,
    /// `quorate yes|no`: what `quorum_getquorate` returns to a client of the node.
    Quorate(bool),
    /// `quorum N`: votequorum's quorum.
    Quorum(u32),
    /// `expected_votes N`: votequorum's expected votes.
    ExpectedVotes(u32),
    /// `total_votes N`: votequorum's total votes.
    TotalVotes(u32),
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::View(ids) => {
                let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
                write!(f, "view [{}]", ids.join(" "))
            }
            Expectation::SameRing => f.write_str("same-ring"),
            Expectation::RingSeq(s) => write!(f, "ring-seq {s:#x}"),
            Expectation::Ring { rep, seq } => write!(f, "ring {rep:x}.{seq:x}"),
            Expectation::RingRep(rep) => write!(f, "ring {rep:x}.*"),
            Expectation::RingStep { rep, step } => write!(f, "ring {rep:x}.+{step:x}"),
            Expectation::State(s) => write!(f, "state {s:?}"),
            Expectation::Down => f.write_str("down"),
            Expectation::Quorate(q) => write!(f, "quorate {}", if *q { "yes" } else { "no" }),
            Expectation::Quorum(v) => write!(f, "quorum {v}"),
            Expectation::ExpectedVotes(v) => write!(f, "expected_votes {v}"),
            Expectation::TotalVotes(v) => write!(f, "total_votes {v}"),
        }
    }
}

/// A parsed scenario: commands with their 1-based line numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// `(line, command)` in file order.
    pub commands: Vec<(usize, Command)>,
}
