//! `quorumd-sim`: the deterministic simulator's command line.
//!
//! - `fuzz`: random fault schedules per seed, every checker after every step, then liveness;
//! - `latency`: membership reaction times per cluster size, in virtual ms;
//! - `run`: scenario files.
//!
//! Ranges are Rust-like: `A..B` excludes B, `A..=B` includes it; a single number is itself.
// This shell reads scenario files named on the command line.
#![allow(clippy::disallowed_methods)]
#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use quorumd_sim::fuzz::{self, FuzzOptions, SeedOutcome};
use quorumd_sim::latency::{self, TARGET_EXTRA_AFTER_TOKEN_MS, TARGET_HEAL_MS, TARGET_JOIN_MS};
use quorumd_sim::quorum::Preset;
use quorumd_sim::scenario::{self, Outcome};
use quorumd_sim::world::SimMutant;
use quorumd_totem::Mutant;

#[derive(Debug, Parser)]
#[command(name = "quorumd-sim", about = "quorumd's deterministic simulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Random fault schedules, one per seed; exit 1 on any violation or unconverged seed
    /// (with --mutant: exit 1 when the checkers catch nothing).
    Fuzz(FuzzArgs),
    /// Every mutant (Totem's and the simulator's): the first seed of the range that catches
    /// it (a violation the same seed without the mutant does not report), else the first of
    /// its regression seeds that does; exit 1 if one is not caught.
    Mutants {
        /// Seeds to try per mutant: `A..B`, `A..=B` or one seed.
        #[arg(long, default_value = "1..=60")]
        seeds: String,
        /// Node count: `N`, `A..B` or `A..=B`.
        #[arg(long, default_value = "3..=5")]
        nodes: String,
    },
    /// Membership reaction times (crash, cut, heal, join) in virtual ms.
    Latency(LatencyArgs),
    /// Run scenario files.
    Run {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct FuzzArgs {
    /// Seeds: `A..B` (B excluded), `A..=B`, or one seed.
    #[arg(long, default_value = "1..101")]
    seeds: String,
    /// Node count: `N`, `A..B` or `A..=B`; each seed picks one.
    #[arg(long, default_value = "3..=5")]
    nodes: String,
    /// Build every node with this Totem mutant (skip-consensus, reuse-ring-seq, ...) or run the
    /// simulated clients with a sim mutant (stale-page); an unknown name lists them all.
    #[arg(long)]
    mutant: Option<String>,
    /// Fixed packet loss probability (default: random per seed and changed by faults).
    #[arg(long)]
    loss: Option<f64>,
    /// Fixed duplication probability (default: random per seed).
    #[arg(long)]
    dup: Option<f64>,
    /// Fixed one-way latency, µs (default: random per seed).
    #[arg(long)]
    latency_us: Option<u64>,
    /// Fixed jitter, µs (default: random per seed).
    #[arg(long)]
    jitter_us: Option<u64>,
    /// totem.token in ms (default: the totem default).
    #[arg(long)]
    token: Option<u32>,
    /// Safety phase length, virtual ms.
    #[arg(long, default_value_t = 6000)]
    safety_ms: u64,
    /// No background messages.
    #[arg(long)]
    no_traffic: bool,
    /// Never restart a node from a wiped state directory or an older copy of it.
    #[arg(long)]
    no_state_loss: bool,
    /// No adversarial member.
    #[arg(long)]
    no_hostile: bool,
    /// No runtime requests (setexpected, setvotes, cancel_wait_for_all).
    #[arg(long)]
    no_requests: bool,
    /// No freezes longer than the token timeout (plain pauses stay).
    #[arg(long)]
    no_freezes: bool,
    /// One line per seed.
    #[arg(short, long)]
    verbose: bool,
    /// Print the event log of failing seeds (last N lines).
    #[arg(long, value_name = "LINES")]
    log: Option<usize>,
    /// Force a quorum preset: plain, wait-for-all, two-node, lms, atb-lowest, atb-highest,
    /// atb-list, weighted, noquorum (default: drawn per seed).
    #[arg(long)]
    quorum: Option<String>,
    /// Every node seals and opens its datagrams (authenticated transport with one key).
    #[arg(long)]
    crypto: bool,
    /// CPG clients on the nodes (join, leave, multicast, close), checked for virtual synchrony.
    #[arg(long)]
    cpg: bool,
    /// Links per node: `N`, `A..B` or `A..=B`; each seed picks one (and a link mode), and
    /// worlds with two or more draw link faults (cuts, one-way cuts, flaps, switch failures).
    #[arg(long, default_value = "1")]
    links: String,
}

#[derive(Debug, clap::Args)]
struct LatencyArgs {
    /// Cluster sizes, comma separated.
    #[arg(long, default_value = "2,3,5,16,32,64", value_delimiter = ',')]
    nodes: Vec<usize>,
    /// Trials (seeds 1..=N) per size; the median is printed.
    #[arg(long, default_value_t = 3)]
    trials: u64,
    /// Every node seals and opens its datagrams (authenticated transport with one key).
    #[arg(long)]
    crypto: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Fuzz(args) => run_fuzz(&args),
        Cmd::Latency(args) => run_latency(&args),
        Cmd::Mutants { seeds, nodes } => run_mutants(&seeds, &nodes),
        Cmd::Run { files } => run_scenarios(&files),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("quorumd-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Parses `A..B`, `A..=B` or `N` into an inclusive range.
fn parse_range(text: &str) -> Result<(u64, u64)> {
    let num = |s: &str| s.trim().parse::<u64>().with_context(|| format!("`{s}` is not a number"));
    let (lo, hi) = if let Some((a, b)) = text.split_once("..=") {
        (num(a)?, num(b)?)
    } else if let Some((a, b)) = text.split_once("..") {
        let b = num(b)?;
        if b == 0 {
            bail!("empty range `{text}`");
        }
        (num(a)?, b - 1)
    } else {
        let n = num(text)?;
        (n, n)
    };
    if hi < lo {
        bail!("empty range `{text}`");
    }
    Ok((lo, hi))
}

fn fuzz_options(args: &FuzzArgs) -> Result<FuzzOptions> {
    let (lo, hi) = parse_range(&args.nodes)?;
    if lo < 1 || hi > 384 {
        bail!("--nodes must be between 1 and 384");
    }
    let sim_mutant = args.mutant.as_deref().and_then(SimMutant::from_name);
    let cpg_mutant = args.mutant.as_deref().and_then(quorumd_sim::cpg::mutant_from_name);
    let link_mutant = args.mutant.as_deref().and_then(quorumd_totem::LinkMutant::from_name);
    let (links_lo, links_hi) = parse_range(&args.links)?;
    if links_lo < 1 || links_hi > quorumd_proto::limits::LINKS_MAX as u64 {
        bail!("--links must be between 1 and {}", quorumd_proto::limits::LINKS_MAX);
    }
    // A link mutant needs redundant links to show.
    let links = match (link_mutant, links_hi) {
        (Some(_), 1) => (2, 3),
        _ => (links_lo as u32, links_hi as u32),
    };
    let mutant = match &args.mutant {
        None => None,
        Some(_) if sim_mutant.is_some() || cpg_mutant.is_some() || link_mutant.is_some() => None,
        Some(name) => Some(Mutant::from_name(name).with_context(|| {
            let mut names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
            names.extend(SimMutant::ALL.iter().map(|m| m.name()));
            names.extend(quorumd_sim::cpg::MUTANTS.iter().map(|m| quorumd_sim::cpg::mutant_name(*m)));
            names.extend(quorumd_totem::LinkMutant::ALL.iter().map(|m| m.name()));
            format!("unknown mutant `{name}` (known: {})", names.join(", "))
        })?),
    };
    let quorum = match &args.quorum {
        None => None,
        Some(name) => Some(Preset::from_name(name).with_context(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            format!("unknown quorum preset `{name}` (known: {})", names.join(", "))
        })?),
    };
    Ok(FuzzOptions {
        quorum,
        nodes: (lo as usize, hi as usize),
        mutant,
        sim_mutant,
        cpg_mutant,
        cpg: args.cpg || cpg_mutant.is_some(),
        loss: args.loss,
        dup: args.dup,
        latency_us: args.latency_us,
        jitter_us: args.jitter_us,
        safety_ms: args.safety_ms,
        traffic: !args.no_traffic,
        token_ms: args.token,
        log: args.log.is_some(),
        state_loss: !args.no_state_loss,
        hostile: !args.no_hostile,
        requests: !args.no_requests,
        freezes: !args.no_freezes,
        crypto: args.crypto,
        links,
        link_mutant,
    })
}

fn print_failure(o: &SeedOutcome, opts: &FuzzOptions, log_lines: Option<usize>) {
    if let Some(v) = o.violations.first() {
        println!("seed {} nodes {} quorum {}: VIOLATION {v}", o.seed, o.nodes, o.quorum);
        if o.violations.len() > 1 {
            println!("  (+{} more violations)", o.violations.len() - 1);
        }
    }
    if let Some(u) = &o.unconverged {
        println!("seed {} nodes {} quorum {}: UNCONVERGED {u}", o.seed, o.nodes, o.quorum);
    }
    println!("  reproduce: {}", fuzz::repro_command(o.seed, o.nodes, opts));
    if let Some(n) = log_lines {
        for line in o.log.iter().skip(o.log.len().saturating_sub(n)) {
            println!("    {line}");
        }
    }
}

/// A panic inside the protocol is a finding of its seed (reported with it): one line on stderr
/// saying where, instead of a backtrace per seed.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("quorumd-sim: the protocol panicked at {at}");
    }));
}

fn run_fuzz(args: &FuzzArgs) -> Result<bool> {
    let opts = fuzz_options(args)?;
    quiet_panics();
    let (first, last) = parse_range(&args.seeds)?;
    let (mut seeds, mut violations, mut unconverged) = (0u64, 0u64, 0u64);
    let mut caught_by: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for seed in first..=last {
        let o = fuzz::run_seed(seed, &opts);
        seeds += 1;
        if let Some(v) = o.violations.first() {
            violations += 1;
            *caught_by.entry(v.checker).or_default() += 1;
        }
        if o.unconverged.is_some() {
            unconverged += 1;
        }
        let failed = !o.violations.is_empty() || o.unconverged.is_some();
        if args.verbose {
            println!(
                "seed {} nodes {} quorum {}: {} virtual {} ms, {} datagrams ({} heartbeats), {} events, {} \
                 deliveries, digest {:016x}",
                o.seed,
                o.nodes,
                o.preset.name(),
                if failed { "FAILED" } else { "ok" },
                o.end.as_micros() / 1000,
                o.stats.scheduled,
                o.stats.by_type[6] + o.stats.by_type[7],
                o.stats.events,
                o.stats.messages_delivered,
                o.digest
            );
        }
        if failed && (name_of_mutant(&opts).is_none() || violations + unconverged <= 3) {
            print_failure(&o, &opts, args.log);
        }
    }
    println!("sim fuzz: seeds={seeds} violations={violations} unconverged={unconverged}");
    let Some(m) = name_of_mutant(&opts) else { return Ok(violations == 0 && unconverged == 0) };
    if violations == 0 {
        println!("mutant {m}: NOT caught by any checker");
        return Ok(false);
    }
    let by: Vec<String> = caught_by.iter().map(|(c, n)| format!("{c} ({n} seeds)")).collect();
    println!("mutant {m}: caught by {}", by.join(", "));
    Ok(true)
}

fn run_mutants(seeds: &str, nodes: &str) -> Result<bool> {
    quiet_panics();
    let (first, last) = parse_range(seeds)?;
    let (lo, hi) = parse_range(nodes)?;
    if lo < 1 || hi > 384 {
        bail!("--nodes must be between 1 and 384");
    }
    let opts = FuzzOptions { nodes: (lo as usize, hi as usize), ..FuzzOptions::default() };
    println!("{:<28} {:<26} {:>6} {:>6}  reproduce", "mutant", "caught by", "seed", "tried");
    let mut all = true;
    for m in fuzz::AnyMutant::all() {
        match fuzz::catch_mutant_or_regression(m, &opts, first..=last) {
            Some(c) => println!(
                "{:<28} {:<26} {:>6} {:>6}  {}",
                m.name(),
                c.checker,
                c.seed,
                c.tried,
                fuzz::repro_command(c.seed, c.nodes, &m.apply(&opts))
            ),
            None => {
                all = false;
                println!("{:<28} NOT CAUGHT in seeds {first}..={last}", m.name());
            }
        }
    }
    Ok(all)
}

fn name_of_mutant(opts: &FuzzOptions) -> Option<&'static str> {
    opts.mutant
        .map(Mutant::name)
        .or(opts.sim_mutant.map(SimMutant::name))
        .or(opts.cpg_mutant.map(quorumd_sim::cpg::mutant_name))
        .or(opts.link_mutant.map(quorumd_totem::LinkMutant::name))
}

fn run_latency(args: &LatencyArgs) -> Result<bool> {
    println!(
        "targets: crash_ms, cut_ms <= token + {TARGET_EXTRA_AFTER_TOKEN_MS}; heal_ms <= {TARGET_HEAL_MS}; \
         join_ms <= {TARGET_JOIN_MS}  (median of {} trials, virtual time)",
        args.trials
    );
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "nodes", "crash_ms", "cut_ms", "heal_ms", "join_ms", "token_ms"
    );
    let mut all_ok = true;
    for &n in &args.nodes {
        if !(1..=384).contains(&n) {
            bail!("cluster size {n} is out of range 1..=384");
        }
        let row = latency::measure_with(n, args.trials, args.crypto);
        let ms = |d: quorumd_proto::Duration| format!("{:.1}", d.as_micros() as f64 / 1000.0);
        match row.median {
            Some(s) => println!(
                "{:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
                n,
                ms(s.crash),
                ms(s.cut),
                ms(s.heal),
                ms(s.join),
                row.token_ms
            ),
            None => println!("{:>6} {:>9} {:>9} {:>9} {:>9} {:>9}", n, "-", "-", "-", "-", row.token_ms),
        }
        for f in &row.failures {
            all_ok = false;
            println!("  FAILED TRIAL {f}");
        }
    }
    Ok(all_ok)
}

fn run_scenarios(files: &[std::path::PathBuf]) -> Result<bool> {
    let (mut passed, mut failed) = (0, 0);
    for file in files {
        let shown = file.display();
        let outcome = match std::fs::read_to_string(file) {
            Ok(text) => scenario::run_text(&text),
            Err(e) => Outcome::Fail { line: 0, message: format!("cannot read: {e}") },
        };
        match outcome {
            Outcome::Pass => {
                passed += 1;
                println!("PASS {shown}");
            }
            Outcome::Fail { line, message } => {
                failed += 1;
                println!("FAIL {shown}:{line}: {message}");
            }
        }
    }
    println!("sim run: scenarios={} passed={passed} failed={failed}", files.len());
    Ok(failed == 0)
}
