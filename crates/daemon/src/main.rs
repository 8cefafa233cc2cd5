//! `quorumd`: one cluster node. The shell around the sans-IO `quorumd_node::Node`: UDP to the
//! nodelist, the local IPC socket, the clock, signals, the state directory, logging and
//! systemd notification. It makes no protocol decision of its own.
// `deny`, not `forbid`: the state page module (`page`) maps the page writable and allows
// `unsafe` locally; every other module is denied it.
#![deny(unsafe_code)]
// The daemon is a shell: it owns the clock, the sockets, the files and the environment.
#![allow(clippy::disallowed_methods)]

mod check;
mod clients;
mod demo;
mod drops;
mod events;
mod logging;
mod man;
mod page;
mod run;
mod sched;
mod setup;
mod state;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The quorum daemon: Totem membership, votequorum and corosync's quorum API, from corosync.conf.
#[derive(Parser, Debug)]
#[command(name = "quorumd", version, about)]
pub struct Cli {
    /// The corosync.conf to run with.
    #[arg(long, default_value = "/etc/corosync/corosync.conf")]
    pub config: PathBuf,
    /// This node's id, when several nodelist addresses are local (e.g. 127.0.0.x test clusters).
    #[arg(long)]
    pub nodeid: Option<u32>,
    /// The client socket (default: $QUORUMD_SOCKET, else /run/quorumd/quorumd.sock).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Where the ring seq and tracked expected votes are kept.
    #[arg(long, default_value = "/var/lib/quorumd")]
    pub state_dir: PathBuf,
    /// Stay in the foreground (the daemon never forks; accepted for corosync compatibility).
    #[arg(long, short = 'f')]
    pub foreground: bool,
    /// Check the configuration, print the effective settings and exit (like `corosync -t`).
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a real 3-node cluster on 127.0.0.1-3 and walk through failures, printing each callback.
    Demo,
    /// Write the quorumd(8) man page, generated from these definitions, into DIR.
    #[command(hide = true)]
    Man {
        /// Output directory.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (&cli.command, &cli.check_config) {
        (Some(Command::Demo), _) => demo::run(),
        (Some(Command::Man { dir }), _) => man::write(dir),
        (None, Some(path)) => check::check_config(path, cli.nodeid, &run::socket_path(&cli), &cli.state_dir),
        (None, None) => run::run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quorumd: {e:#}");
            ExitCode::from(8) // corosync's exit status for a configuration or service failure
        }
    }
}
