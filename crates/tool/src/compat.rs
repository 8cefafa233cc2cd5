//! corosync-quorumtool's command line, so existing scripts keep working: `quorumtool -s`,
//! `-l`, `-m`, `-e N`, `-v N [-n ID]`, with `-p` (machine parsable), `-H` (hex node ids), `-i`
//! (addresses instead of names), `-o a|n|i` (order by address, name or node id) and `-a`
//! (every address; a node has one here). The output has corosync-quorumtool 3.1.7's layout and
//! its exit codes: 0 success (for `-s`: quorate), 2 not quorate (`-s`), 1 any failure.
//!
//! The facts this follows are written down in docs/corosync-behaviour.md ("corosync-quorumtool").

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use quorumd_client::{CsError, Model, TrackFlags};

use crate::fail::{connect, request_error};
use crate::info::{NodeState, Status};

/// corosync-quorumtool's exit codes.
const EXIT_OK: u8 = 0;
const EXIT_FAILURE: u8 = 1;
const EXIT_NOT_QUORATE: u8 = 2;

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// `-s` (also the default).
    Status,
    /// `-l`.
    List,
    /// `-m`.
    Monitor,
    /// `-e N`.
    SetExpected(u32),
    /// `-v N`.
    SetVotes(u32),
}

/// Table order (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `-o a` (the default): as the view list comes (node id ascending), as corosync's does.
    Address,
    /// `-o n`: by name.
    Name,
    /// `-o i`: by node id.
    NodeId,
}

/// A parsed corosync-quorumtool command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opts {
    /// The command (the last of `-s -l -m -e -v` wins, as with getopt there).
    pub cmd: Cmd,
    /// `--socket` (ours; corosync has none).
    pub socket: Option<PathBuf>,
    /// `-H`.
    pub hex: bool,
    /// `-i`.
    pub ip: bool,
    /// `-p`.
    pub parsable: bool,
    /// `-o`.
    pub order: Order,
    /// `-n` (for `-v`; the local node without it).
    pub nodeid: Option<u32>,
}

const USAGE: &str = "\
usage: quorumtool <options>   (corosync-quorumtool's flags; `quorumtool help` for the commands)

  options:

  -s             show quorum status
  -m             constantly monitor quorum status
  -l             list nodes
  -a             show all names or addresses for each node (one address per node here)
  -p             when used with -s or -l, generates machine parsable output
  -v <votes>     change the number of votes for a node
  -n <nodeid>    optional nodeid of node for -v (default: this node)
  -e <expected>  change expected votes for the cluster
  -H             show nodeids in hexadecimal rather than decimal
  -i             show node IP addresses instead of the resolved name
  -o <a|n|i>     order by [a] IP address (default), [n] name, [i] nodeid
  --socket PATH  the daemon's socket (default: $QUORUMD_SOCKET, else /run/quorumd/quorumd.sock)
";

/// Whether `args` (without the program name) is a corosync-quorumtool command line: its first
/// argument, after any `--socket PATH`, is a short option of corosync-quorumtool's.
pub fn wanted(args: &[String]) -> bool {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--socket" {
            i += 2;
            continue;
        }
        if a.starts_with("--socket=") {
            i += 1;
            continue;
        }
        let mut chars = a.chars();
        return chars.next() == Some('-') && chars.next().is_some_and(|c| "slmevnpHioaf".contains(c));
    }
    false
}

/// A number in `min..=max`, as corosync's `util_strtonum` takes it.
fn number(text: &str, min: u64, max: u64) -> Option<u32> {
    let n: u64 = text.trim().parse().ok()?;
    (min..=max).contains(&n).then(|| u32::try_from(n).ok()).flatten()
}

/// Parses the flags the way getopt(3) does with corosync-quorumtool's option string: flags may
/// be grouped (`-li`), a value may be attached (`-e3`) or the next argument (`-e 3`).
pub fn parse(args: &[String]) -> Result<Opts> {
    const MAX_INT: u64 = i32::MAX as u64;
    let mut o = Opts {
        cmd: Cmd::Status,
        socket: None,
        hex: false,
        ip: false,
        parsable: false,
        order: Order::Address,
        nodeid: None,
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--socket" {
            let Some(path) = args.get(i) else { bail!("--socket needs a path\n\n{USAGE}") };
            o.socket = Some(PathBuf::from(path));
            i += 1;
            continue;
        }
        if let Some(path) = arg.strip_prefix("--socket=") {
            o.socket = Some(PathBuf::from(path));
            continue;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty() && !f.starts_with('-')) else {
            bail!("unexpected argument `{arg}`\n\n{USAGE}");
        };
        let mut rest = flags;
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            if "evno".contains(c) {
                let value = if rest.is_empty() {
                    let Some(v) = args.get(i) else {
                        bail!("option requires an argument -- '{c}'\n\n{USAGE}")
                    };
                    i += 1;
                    v.clone()
                } else {
                    std::mem::take(&mut rest).to_string()
                };
                match c {
                    'e' => {
                        let Some(n) = number(&value, 1, MAX_INT) else {
                            bail!("New expected votes value was not valid, try a positive number");
                        };
                        o.cmd = Cmd::SetExpected(n);
                    }
                    'v' => {
                        let Some(n) = number(&value, 0, MAX_INT) else {
                            bail!("New votes value was not valid, try a positive number or zero");
                        };
                        o.cmd = Cmd::SetVotes(n);
                    }
                    'n' => {
                        let Some(n) = number(&value, 1, u64::from(u32::MAX)) else {
                            bail!("The nodeid was not valid, try a positive number");
                        };
                        o.nodeid = Some(n);
                    }
                    _ => {
                        o.order = match value.as_str() {
                            "a" => Order::Address,
                            "n" => Order::Name,
                            "i" => Order::NodeId,
                            _ => bail!(
                                "Invalid ordering option. valid orders are a(address), i(node ID) or n(name)"
                            ),
                        };
                    }
                }
                continue;
            }
            match c {
                's' => o.cmd = Cmd::Status,
                'l' => o.cmd = Cmd::List,
                'm' => o.cmd = Cmd::Monitor,
                'p' => o.parsable = true,
                'H' => o.hex = true,
                'i' => o.ip = true,
                'a' => {}
                // Deviation from corosync: -f is refused; there is no quorum device here.
                'f' => bail!("-f: quorumd has no quorum device to unregister"),
                other => bail!("invalid option -- '{other}'\n\n{USAGE}"),
            }
        }
    }
    Ok(o)
}

/// Runs a corosync-quorumtool command line; returns the exit code.
pub fn main(args: &[String]) -> u8 {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e:#}");
            return EXIT_FAILURE;
        }
    };
    match run(&opts) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("quorumtool: {e:#}");
            EXIT_FAILURE
        }
    }
}

fn run(o: &Opts) -> Result<u8> {
    let sock = o.socket.clone().unwrap_or_else(quorumd_client::socket_path);
    match o.cmd {
        Cmd::Status => {
            let s = crate::fetch(&sock)?;
            print!("{}", status_text(&s, o, SystemTime::now()));
            Ok(if s.quorate { EXIT_OK } else { EXIT_NOT_QUORATE })
        }
        Cmd::List => {
            let s = crate::fetch(&sock)?;
            print!("{}", nodes_text(&s, o));
            Ok(EXIT_OK)
        }
        Cmd::Monitor => monitor(&sock, o),
        Cmd::SetExpected(expected) => {
            let client = connect(&sock, Model::V1)?;
            Ok(match client.set_expected(expected) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("Unable to set expected votes: {}", cs_text(e));
                    EXIT_FAILURE
                }
            })
        }
        Cmd::SetVotes(votes) => {
            let nodeid = match o.nodeid {
                Some(n) => n,
                None => crate::fetch(&sock)?.node_id,
            };
            let client = connect(&sock, Model::V1)?;
            Ok(match client.set_votes(nodeid, votes) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("Unable to set votes {votes} for nodeid: {nodeid}: {}", cs_text(e));
                    EXIT_FAILURE
                }
            })
        }
    }
}

fn cs_text(e: CsError) -> &'static str {
    quorumd_client::cs_strerror(e.raw())
}

/// `-m`: the whole status block at each quorum change (the first is the current state),
/// followed by an empty line, until the daemon goes away (then exit 1, as corosync's does).
fn monitor(sock: &Path, o: &Opts) -> Result<u8> {
    use std::io::Write as _;
    let client = connect(sock, Model::V1)?;
    client.track(TrackFlags::CHANGES).map_err(|e| request_error("track", e))?;
    loop {
        let event = client.next_event().map_err(|e| request_error("monitor", e))?;
        if !matches!(event, quorumd_client::QuorumEvent::Quorum { .. }) {
            continue;
        }
        let s = crate::fetch(sock)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", status_text(&s, o, SystemTime::now()))?;
        out.flush()?;
    }
}

fn id_text(id: u32, hex: bool) -> String {
    if hex {
        format!("0x{id:08x}")
    } else {
        id.to_string()
    }
}

/// corosync-quorumtool's `Date:` value, ctime(3) style (`Thu Dec  3 08:38:28 2026`), in UTC.
// Deviation from corosync: the Date line is in UTC (corosync prints local time); quorumtool
// reads no time zone database.
pub fn ctime(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let stamp = crate::monitor::timestamp(UNIX_EPOCH + std::time::Duration::from_secs(days * 86_400));
    // `YYYY-MM-DDT...`: year, month and day from the RFC 3339 stamp.
    let year = &stamp[0..4];
    let month: usize = stamp[5..7].parse().unwrap_or(1);
    let day: u32 = stamp[8..10].parse().unwrap_or(1);
    format!(
        "{} {} {day:>2} {:02}:{:02}:{:02} {year}",
        DAYS[usize::try_from(days % 7).unwrap_or(0)],
        MONTHS[month.saturating_sub(1).min(11)],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `-s`: corosync-quorumtool's status block.
pub fn status_text(s: &Status, o: &Opts, now: SystemTime) -> String {
    let mut out = String::new();
    out.push_str("Quorum information\n------------------\n");
    let _ = writeln!(out, "Date:             {}", ctime(now));
    let provider = if s.provider == "none" { "Not configured" } else { s.provider.as_str() };
    let _ = writeln!(out, "Quorum provider:  {provider}");
    let _ = writeln!(out, "Nodes:            {}", s.members.len());
    let _ = writeln!(out, "Node ID:          {}", id_text(s.node_id, o.hex));
    // With votequorum the ring id is `rep.seq`; without, corosync has only the seq.
    let ring = match &s.vq {
        Some(_) => s.ring_id.clone(),
        None => s.ring_id.rsplit('.').next().unwrap_or_default().to_string(),
    };
    let _ = writeln!(out, "Ring ID:          {ring}");
    let _ = writeln!(out, "Quorate:          {}", if s.quorate { "Yes" } else { "No" });
    if let Some(vq) = &s.vq {
        out.push_str("\nVotequorum information\n----------------------\n");
        let _ = writeln!(out, "Expected votes:   {}", vq.expected_votes);
        let _ = writeln!(out, "Highest expected: {}", vq.highest_expected);
        let _ = writeln!(out, "Total votes:      {}", vq.total_votes);
        let blocked = if vq.has_flag("Quorate") { " " } else { "Activity blocked" };
        let _ = writeln!(out, "Quorum:           {} {blocked}", vq.quorum);
        let flags: String = vq.flags.iter().map(|f| format!("{f} ")).collect();
        let _ = writeln!(out, "Flags:            {flags}");
    }
    out.push_str(&nodes_text(s, o));
    out
}

fn pad(out: &mut String, text: &str) {
    let _ = write!(out, "{text:>10} ");
}

/// `-l` (and the end of `-s`): the members, corosync-quorumtool's table.
pub fn nodes_text(s: &Status, o: &Opts) -> String {
    let mut rows: Vec<_> = s.rows().into_iter().filter(|r| r.state == NodeState::Member).collect();
    // Deviation from corosync: no reverse DNS lookup of the address when a node has no name.
    let shown = |r: &crate::info::NodeLine| -> String {
        let address = r.address.clone().unwrap_or_default();
        if o.ip || r.name.is_empty() {
            address
        } else {
            r.name.clone()
        }
    };
    // corosync-quorumtool keeps the view list's order (node id ascending) for `-o a`, its
    // default, whatever its help text says; it sorts only for `-o n` and `-o i`.
    match o.order {
        Order::Address | Order::NodeId => rows.sort_by_key(|r| r.nodeid),
        Order::Name => rows.sort_by_key(|r| shown(r)),
    }
    let mut out = String::from("\nMembership information\n----------------------\n");
    pad(&mut out, "Nodeid");
    if s.vq.is_some() {
        pad(&mut out, "Votes");
        if o.parsable {
            pad(&mut out, "Qdevice");
        }
    }
    out.push_str("Name\n");
    for r in &rows {
        if o.hex {
            let _ = write!(out, "0x{:08x} ", r.nodeid);
        } else {
            pad(&mut out, &r.nodeid.to_string());
        }
        if s.vq.is_some() {
            pad(&mut out, &r.votes.unwrap_or(0).to_string());
            if o.parsable {
                // No quorum device can register with quorumd: "not registered".
                pad(&mut out, "NR");
            }
        }
        out.push_str(&shown(r));
        if r.local {
            out.push_str(" (local)");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn flags_parse_as_getopt_does() {
        let o = parse(&args("-v 2 -n 3")).unwrap();
        assert_eq!((o.cmd, o.nodeid), (Cmd::SetVotes(2), Some(3)));
        let o = parse(&args("-e3")).unwrap();
        assert_eq!(o.cmd, Cmd::SetExpected(3));
        let o = parse(&args("-liH -o n --socket /x")).unwrap();
        assert_eq!((o.cmd, o.ip, o.hex, o.order), (Cmd::List, true, true, Order::Name));
        assert_eq!(o.socket, Some(PathBuf::from("/x")));
        let o = parse(&args("-p")).unwrap();
        assert_eq!((o.cmd, o.parsable), (Cmd::Status, true));
        assert!(parse(&args("-e 0"))
            .unwrap_err()
            .to_string()
            .contains("New expected votes value was not valid"));
        assert!(parse(&args("-v -1")).unwrap_err().to_string().contains("New votes value was not valid"));
        assert!(parse(&args("-n 0")).unwrap_err().to_string().contains("The nodeid was not valid"));
        assert!(parse(&args("-o x")).unwrap_err().to_string().contains("Invalid ordering option"));
        assert!(parse(&args("-e")).unwrap_err().to_string().contains("requires an argument"));
        assert!(parse(&args("-z")).unwrap_err().to_string().contains("invalid option"));
    }

    #[test]
    fn only_corosync_flags_select_the_compat_line() {
        assert!(wanted(&args("-s")));
        assert!(wanted(&args("--socket /x -l")));
        assert!(wanted(&args("-e 3")));
        assert!(!wanted(&args("status")));
        assert!(!wanted(&args("--json status")));
        assert!(!wanted(&args("-h")));
        assert!(!wanted(&args("--socket /x list")));
        assert!(!wanted(&args("")));
    }

    #[test]
    fn date_is_ctime_style() {
        // 2026-12-03T08:38:28Z was a Thursday.
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_796_287_108);
        assert_eq!(ctime(t), "Thu Dec  3 08:38:28 2026");
        assert_eq!(ctime(UNIX_EPOCH), "Thu Jan  1 00:00:00 1970");
    }
}
