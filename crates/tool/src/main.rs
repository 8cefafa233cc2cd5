//! `quorumtool`: the operator's view of quorumd, corosync-quorumtool's counterpart (corosync-behaviour §6.2).
//!
//! Commands: `status`, `list`, `monitor`, `explain` (why this node is or is not quorate),
//! `what-if` (a simulated failure on this cluster's real config, no daemon needed),
//! `set-expected`, `set-votes`, `cancel-wait-for-all`, `links` (corosync-cfgtool -s's
//! layout), and the hidden `man` (the man page from
//! this very definition); corosync-quorumtool's flags too ([`compat`]). Exit codes are stable for scripts: see [`fail::Exit`] and the README.
//!
//! Modules: [`fail`] (exit codes, connecting with distinct errors), [`info`] (the daemon's
//! status JSON, typed, and the stable `--json` schema), [`render`] (status/list text),
//! [`explain`], [`monitor`], [`whatif`] (the simulator run), [`cluster`] (corosync.conf).
#![forbid(unsafe_code)]
// A binary shell: it reads the environment, files and the clock, and talks to the daemon.
#![allow(clippy::disallowed_methods)]

mod cluster;
mod compat;
mod drops;
mod explain;
mod fail;
mod info;
mod links;
mod man;
mod monitor;
mod render;
mod whatif;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use quorumd_client::Model;

use crate::cluster::Cluster;
use crate::fail::{connect, exit_of, failure, request_error, Exit};
use crate::info::Status;

const EXIT_CODES: &str = "\
Exit status:
  0  success; for status and explain: this node is quorate
  1  status, explain: this node is not quorate (activity blocked)
  2  quorumd cannot be reached: not running, no socket, not ready yet (no membership), or gone
  3  permission denied: quorumd refuses this uid/gid (add a uidgid entry to corosync.conf)
  4  usage error, or any other error (e.g. the daemon rejected a change)
  5  what-if: the failure leaves more than one partition quorate (split brain)

corosync-quorumtool's flags (-s -l -m -e N -v N [-n ID] -p -o a|n|i -H -i -a) are accepted
too, with its output layout and its exit codes (0 success/quorate, 2 not quorate, 1 failure).";

/// Show and change the quorum state of a quorumd cluster node.
#[derive(Parser, Debug)]
#[command(name = "quorumtool", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The daemon's socket [default: $QUORUMD_SOCKET, else /run/quorumd/quorumd.sock].
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Machine-readable output: one JSON document (monitor: one JSON object per line).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Quorum and votequorum information and the membership (corosync-quorumtool -s).
    #[command(after_help = EXIT_CODES)]
    Status,
    /// The membership table only (corosync-quorumtool -l).
    List,
    /// One line per membership or quorum change until interrupted (corosync-quorumtool -m).
    Monitor {
        /// Stop after this many lines (the first is the current state).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Why this node is or is not quorate, which policy holds it, and what would change it.
    #[command(after_help = EXIT_CODES)]
    Explain {
        /// A corosync.conf to compare with the nodelist quorumd runs with (it reads its config only
        /// at startup); node names and never-seen nodes always come from quorumd itself.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Simulate a failure on this cluster's config and tell which side stays quorate (no daemon needed).
    #[command(name = "what-if")]
    WhatIf {
        /// The cluster's corosync.conf.
        #[arg(long, value_name = "FILE", default_value = cluster::DEFAULT_CONFIG)]
        config: PathBuf,
        /// Nodes that crash, e.g. `--down 2,3`.
        #[arg(long, value_name = "IDS", value_parser = parse_ids)]
        down: Option<Ids>,
        /// Network partitions, e.g. `--split 1,2 3,4` (running nodes in no group end up alone).
        #[arg(long, value_name = "IDS", num_args = 1.., value_parser = parse_ids)]
        split: Vec<Ids>,
        /// The simulator's seed (network timing randomness).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Set expected votes cluster-wide (corosync-quorumtool -e).
    #[command(name = "set-expected")]
    SetExpected {
        /// The new expected votes.
        expected: u32,
    },
    /// Set a node's votes (corosync-quorumtool -v N [-n ID]): `set-votes VOTES` for this node,
    /// `set-votes --node ID VOTES` or `set-votes ID VOTES` for another.
    #[command(name = "set-votes")]
    SetVotes {
        /// `VOTES` (this node, or the --node one), or `NODE VOTES`.
        #[arg(value_name = "[NODE] VOTES", num_args = 1..=2, required = true)]
        args: Vec<u32>,
        /// The node id [default: this node].
        #[arg(long, short = 'n', value_name = "ID")]
        node: Option<u32>,
    },
    /// Let nodes waiting for all expected votes (wait_for_all) become quorate with a majority.
    #[command(name = "cancel-wait-for-all")]
    CancelWaitForAll,
    /// This node's links in the layout of corosync-cfgtool -s (--json: the status document's
    /// `links`, with latency, last change and counters per node and link).
    Links,
    /// Make the daemon reload its corosync.conf (as corosync-cfgtool -R; root only): nodelist,
    /// votes, expected votes, uidgid and logging change without a restart.
    Reload,
    /// Write the quorumtool(1) man page into DIR (used by packaging/install.sh).
    #[command(hide = true)]
    Man {
        /// The directory to write to (created if missing).
        dir: PathBuf,
    },
}

/// A comma-separated list of node ids (one clap value).
#[derive(Clone, Debug)]
pub struct Ids(Vec<u32>);

fn parse_ids(s: &str) -> Result<Ids, String> {
    s.split(',')
        .map(|p| p.trim().parse::<u32>().map_err(|_| format!("`{p}` is not a node id (expected e.g. 1,2,3)")))
        .collect::<Result<Vec<u32>, String>>()
        .map(Ids)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if compat::wanted(&args) {
        return ExitCode::from(compat::main(&args));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::Error } else { Exit::Quorate };
            let _ = e.print();
            return ExitCode::from(code.code());
        }
    };
    match run(&cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("quorumtool: {e:#}");
            ExitCode::from(exit_of(&e).code())
        }
    }
}

fn socket(cli: &Cli) -> PathBuf {
    cli.socket.clone().unwrap_or_else(quorumd_client::socket_path)
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn run(cli: &Cli) -> Result<Exit> {
    let sock = socket(cli);
    match &cli.command {
        Command::Status => status(&sock, cli.json),
        Command::List => list(&sock, cli.json),
        Command::Monitor { count } => monitor::run(&sock, *count, cli.json).map(|()| Exit::Quorate),
        Command::Explain { config } => explain(&sock, config.as_deref(), cli.json),
        Command::WhatIf { config, down, split, seed } => {
            let down = down.as_ref().map(|d| d.0.clone()).unwrap_or_default();
            let split = split.iter().map(|g| g.0.clone()).collect();
            let failure = whatif::Failure { down, split, seed: *seed };
            what_if(config, &failure, cli.json)
        }
        Command::SetExpected { expected } => {
            change(&sock, "set-expected", |c| c.set_expected(*expected))?;
            println!("set-expected: expected votes are now {expected}");
            Ok(Exit::Quorate)
        }
        Command::SetVotes { args, node } => {
            let (node, votes) = match (args.as_slice(), node) {
                ([node, votes], None) => (*node, *votes),
                ([_, _], Some(_)) => {
                    return Err(failure(
                        Exit::Error,
                        "set-votes: give the node either as --node or as NODE, not both",
                    ))
                }
                ([votes], Some(node)) => (*node, *votes),
                ([votes], None) => (fetch(&sock)?.node_id, *votes),
                _ => return Err(failure(Exit::Error, "set-votes: usage: set-votes [--node ID] VOTES")),
            };
            change(&sock, "set-votes", |c| c.set_votes(node, votes))?;
            println!("set-votes: node {node} now has {votes} votes");
            Ok(Exit::Quorate)
        }
        Command::CancelWaitForAll => cancel_wait_for_all(&sock),
        Command::Reload => {
            match connect(&sock, Model::V1)?.reload().map_err(|e| request_error("reload", e))? {
                Ok(done) => {
                    println!("{done}");
                    Ok(Exit::Quorate)
                }
                Err((_, why)) => Err(failure(Exit::Error, why)),
            }
        }
        Command::Links => {
            let s = fetch(&sock)?;
            let Some(view) = &s.doc.links else {
                return Err(failure(Exit::Error, "links: the daemon did not report its links"));
            };
            if cli.json {
                print_json(&serde_json::to_value(view)?)?;
            } else {
                let nodes: Vec<u32> = s.nodelist.iter().map(|n| n.nodeid).collect();
                print!("{}", links::cfgtool(view, s.node_id, &nodes));
            }
            Ok(Exit::Quorate)
        }
        Command::Man { dir } => man::write_all(dir).map(|()| Exit::Quorate),
    }
}

fn fetch(sock: &Path) -> Result<Status> {
    let client = connect(sock, Model::V1)?;
    let json = client.status().map_err(|e| request_error("status", e))?;
    Status::parse(&json).map_err(|e| failure(Exit::Error, format!("{e:#}")))
}

fn verdict(quorate: bool) -> Exit {
    if quorate {
        Exit::Quorate
    } else {
        Exit::Inquorate
    }
}

fn status(sock: &Path, as_json: bool) -> Result<Exit> {
    // The daemon's per-source drop counters ride along (crates/tool/src/drops.rs).
    let client = connect(sock, Model::V1)?;
    let raw = client.status().map_err(|e| request_error("status", e))?;
    let s = Status::parse(&raw).map_err(|e| failure(Exit::Error, format!("{e:#}")))?;
    let dropped = drops::from_status(&raw);
    if as_json {
        println!("{}", s.to_json(&raw));
    } else {
        print!("{}", render::status(&s));
        // With one link the membership table already says who is connected; the per-link
        // table (and `quorumtool links` at any count) is for redundant links.
        let redundant = s.doc.links.as_ref().filter(|l| l.links.len() > 1);
        print!("{}", redundant.map(links::details).unwrap_or_default());
        print!("{}", dropped.as_ref().map(drops::render).unwrap_or_default());
    }
    Ok(verdict(s.quorate))
}

fn list(sock: &Path, as_json: bool) -> Result<Exit> {
    let s = fetch(sock)?;
    if as_json {
        print_json(&s.nodelist_json())?;
    } else {
        print!("{}", render::table(&s.rows()));
    }
    Ok(Exit::Quorate)
}

fn explain(sock: &Path, config: Option<&Path>, as_json: bool) -> Result<Exit> {
    let on_disk = config
        .map(|p| Cluster::load(p).map(|c| c.nodes()))
        .transpose()
        .map_err(|e| failure(Exit::Error, format!("{e:#}")))?;
    let s = fetch(sock)?;
    let e = explain::explain(&s, on_disk.as_deref());
    if as_json {
        let decision = s.vq.as_ref().map(|vq| vq.decision.to_json());
        print_json(&serde_json::json!({
            "node_id": s.node_id, "quorate": e.quorate, "decision": decision, "lines": e.lines,
            "nodelist": s.nodelist_json(),
        }))?;
    } else {
        for line in &e.lines {
            println!("{line}");
        }
    }
    Ok(verdict(e.quorate))
}

fn what_if(config: &Path, f: &whatif::Failure, as_json: bool) -> Result<Exit> {
    let cluster = Cluster::load(config).map_err(|e| failure(Exit::Error, format!("{e:#}")))?;
    let report =
        whatif::simulate(&cluster, f).map_err(|e| failure(Exit::Error, format!("what-if: {e:#}")))?;
    if as_json {
        print_json(&report.json())?;
    } else {
        print!("{}", report.text());
    }
    Ok(if report.split_brain() { Exit::SplitBrain } else { Exit::Quorate })
}

fn change(
    sock: &Path,
    what: &str,
    f: impl FnOnce(&quorumd_client::QuorumClient) -> Result<(), quorumd_client::CsError>,
) -> Result<()> {
    let client = connect(sock, Model::V1)?;
    f(&client).map_err(|e| change_error(what, e))
}

/// The daemon answers CS_ERR_EXIST when this node was not waiting for all: nothing changed.
fn cancel_wait_for_all(sock: &Path) -> Result<Exit> {
    let client = connect(sock, Model::V1)?;
    match client.cancel_wait_for_all() {
        Ok(()) => {
            println!("cancel-wait-for-all: cancelled: nodes waiting for all now count a majority of votes");
            Ok(Exit::Quorate)
        }
        Err(quorumd_client::CsError::Exist) => {
            println!(
                "cancel-wait-for-all: nothing to cancel: this node is not waiting for all nodes \
                 (wait_for_all is off, or already cleared); nothing was changed"
            );
            Ok(Exit::Quorate)
        }
        Err(e) => Err(change_error("cancel-wait-for-all", e)),
    }
}

fn change_error(what: &str, e: quorumd_client::CsError) -> anyhow::Error {
    use quorumd_client::CsError;
    match e {
        CsError::InvalidParam => failure(
            Exit::Error,
            format!(
                "{what}: refused (CS_ERR_INVALID_PARAM): expected votes may not go below the votes present, \
                 a change may not make a quorate cluster inquorate, and votes must keep quorum within reach; \
                 nothing was changed"
            ),
        ),
        CsError::NameNotFound => {
            failure(Exit::Error, format!("{what}: no such node (CS_ERR_NAME_NOT_FOUND); nothing was changed"))
        }
        CsError::NotSupported => {
            failure(Exit::Error, format!("{what}: not supported: no quorum provider is configured"))
        }
        other => request_error(what, other),
    }
}
