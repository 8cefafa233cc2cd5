//! The scenario language: one command a line, virtual time in ms, checkers on throughout.
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
        matches!(self, Command::Nodes(_) | Command::Totem { .. } | Command::Seed(_))
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
    /// `state operational` (or gather, commit, recovery).
    State(State),
    /// `down`: crashed, stopped or never started.
    Down,
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
            Expectation::State(s) => write!(f, "state {s:?}"),
            Expectation::Down => f.write_str("down"),
        }
    }
}

/// A parsed scenario: commands with their 1-based line numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// `(line, command)` in file order.
    pub commands: Vec<(usize, Command)>,
}
