//! Scenario text → [`Scenario`]. Pure: no world is touched.
//!
//! Invariants: every error names its 1-based line; `nodes` comes first and once; setup
//! commands (`totem`, `seed`) come before anything else; every node named later is in the
//! nodelist.

use quorumd_proto::{Duration, NodeId};
use quorumd_totem::{State, TotemKeys};
use quorumd_votequorum::VqConfig;

use super::{Command, Expectation, Scenario};

/// A line that does not parse, or a command in the wrong place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses and validates a whole scenario.
pub fn parse(source: &str) -> Result<Scenario, ParseError> {
    let mut commands = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        let text = raw.split('#').next().unwrap_or("");
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let command = parse_command(&words).map_err(|message| ParseError { line: i + 1, message })?;
        commands.push((i + 1, command));
    }
    validate(&commands)?;
    Ok(Scenario { commands })
}

fn validate(commands: &[(usize, Command)]) -> Result<(), ParseError> {
    let err = |line: usize, message: String| ParseError { line, message };
    let Some((first_line, Command::Nodes(nodelist))) = commands.first() else {
        return Err(err(
            commands.first().map_or(1, |c| c.0),
            "the first command must be `nodes ID...`".into(),
        ));
    };
    let mut running = false;
    let mut quorum_keys: Option<usize> = None;
    let mut noquorum: Option<usize> = None;
    for (line, cmd) in commands.iter().skip(1) {
        match cmd {
            Command::Quorum { .. } => quorum_keys = quorum_keys.or(Some(*line)),
            Command::NoQuorum => noquorum = noquorum.or(Some(*line)),
            _ => {}
        }
        if let (Some(q), Some(nq)) = (quorum_keys, noquorum) {
            return Err(err(*line, format!("`noquorum` (line {nq}) contradicts the quorum key at line {q}")));
        }
        if let Command::Nodes(_) = cmd {
            return Err(err(*line, format!("`nodes` may appear only once (first at line {first_line})")));
        }
        if cmd.is_setup() && running {
            return Err(err(
                *line,
                "totem keys, seed, votes and quorum keys must come before any other command".into(),
            ));
        }
        running |= !cmd.is_setup();
        if let Some(stray) = named_nodes(cmd).into_iter().find(|id| !nodelist.contains(id)) {
            return Err(err(*line, format!("node {stray} is not in the nodelist")));
        }
    }
    Ok(())
}

fn named_nodes(cmd: &Command) -> Vec<NodeId> {
    match cmd {
        Command::Start(l) | Command::Stop(l) | Command::Crash(l) | Command::Pause(l) | Command::Resume(l) => {
            l.clone()
        }
        Command::Split(groups) => groups.concat(),
        Command::Link { from, to, .. } => vec![*from, *to],
        Command::Submit { node, .. } | Command::Votes { node, .. } => vec![*node],
        Command::CancelWfa(node) => vec![*node],
        Command::Expect { nodes, what: Expectation::View(v) } => [nodes.clone(), v.clone()].concat(),
        Command::Expect { nodes, .. } => nodes.clone(),
        _ => Vec::new(),
    }
}

/// Parses one command from its words (comments and blank lines already removed).
pub fn parse_command(words: &[&str]) -> Result<Command, String> {
    let (verb, args) = words.split_first().ok_or("empty command")?;
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("`{verb}` takes {n} argument(s), got {}", args.len()))
        }
    };
    Ok(match *verb {
        "nodes" => Command::Nodes(node_args(verb, args)?),
        "totem" => {
            arity(2)?;
            let value = number(args[1])?;
            let value = u32::try_from(value).map_err(|_| format!("totem value {value} is too large"))?;
            TotemKeys::default().set(args[0], value).map_err(|e| e.to_string())?;
            Command::Totem { key: args[0].to_string(), value }
        }
        "seed" => {
            arity(1)?;
            Command::Seed(number(args[0])?)
        }
        "start" => Command::Start(node_args(verb, args)?),
        "stop" => Command::Stop(node_args(verb, args)?),
        "crash" => Command::Crash(node_args(verb, args)?),
        "pause" => Command::Pause(node_args(verb, args)?),
        "resume" => Command::Resume(node_args(verb, args)?),
        "split" => Command::Split(args.iter().map(|g| node_list(g)).collect::<Result<_, _>>()?),
        "heal" => {
            arity(0)?;
            Command::Heal
        }
        "link" => parse_link(args)?,
        "loss" => {
            arity(1)?;
            Command::Loss(probability(args[0])?)
        }
        "dup" => {
            arity(1)?;
            Command::Dup(probability(args[0])?)
        }
        "latency" => parse_latency(args)?,
        "wait" => {
            arity(1)?;
            Command::Wait(Duration::from_millis(number(args[0])?))
        }
        "settle" => match args {
            [] => Command::Settle(Duration::from_millis(60_000)),
            [ms] => Command::Settle(Duration::from_millis(number(ms)?)),
            _ => return Err("`settle` takes at most one argument (the bound in ms)".into()),
        },
        "submit" => parse_submit(args)?,
        "votes" => {
            arity(2)?;
            let votes = number(args[1])?;
            let votes = u32::try_from(votes).map_err(|_| format!("votes {votes} is too large"))?;
            Command::Votes { node: node(args[0])?, votes }
        }
        "quorum" => {
            let [key, value @ ..] = args else { return Err("usage: `quorum KEY VALUE...`".into()) };
            if value.is_empty() {
                return Err(format!("`quorum {key}` needs a value"));
            }
            let key = key.strip_prefix("quorum.").unwrap_or(key).trim_end_matches(':');
            let value = value.join(" ");
            if key == "provider" {
                return Err("the provider is corosync_votequorum unless `noquorum` is given".into());
            }
            VqConfig::default().set_key(key, &value).map_err(|e| e.to_string())?;
            Command::Quorum { key: key.to_string(), value }
        }
        "noquorum" => {
            arity(0)?;
            Command::NoQuorum
        }
        "cancel_wfa" => {
            arity(1)?;
            Command::CancelWfa(node(args[0])?)
        }
        "expect" => parse_expect(args)?,
        other => return Err(format!("unknown command `{other}`")),
    })
}

fn parse_link(args: &[&str]) -> Result<Command, String> {
    let (from, to, both, dir) = match args {
        [a, b, dir] => (node(a)?, node(b)?, true, *dir),
        [ab, dir] => {
            let (a, b) = ab.split_once('>').ok_or("one-way links are written `A>B`")?;
            (node(a)?, node(b)?, false, *dir)
        }
        _ => return Err("usage: `link A B up|down` or `link A>B up|down`".into()),
    };
    if from == to {
        return Err(format!("a link joins two different nodes, got {from} twice"));
    }
    let up = match dir {
        "up" => true,
        "down" => false,
        other => return Err(format!("link state must be `up` or `down`, got `{other}`")),
    };
    Ok(Command::Link { from, to, both, up })
}

fn parse_latency(args: &[&str]) -> Result<Command, String> {
    let (latency, jitter) = match args {
        [l] => (number(l)?, 0),
        [l, j] => (number(l)?, number(j)?),
        _ => return Err("usage: `latency US [JITTER_US]`".into()),
    };
    Ok(Command::Latency { latency: Duration::from_micros(latency), jitter: Duration::from_micros(jitter) })
}

fn parse_submit(args: &[&str]) -> Result<Command, String> {
    let (node_word, count) = match args {
        [n] => (n, 1),
        [n, c] => (n, number(c)?),
        _ => return Err("usage: `submit NODE [COUNT]`".into()),
    };
    let count = u32::try_from(count).map_err(|_| format!("count {count} is too large"))?;
    Ok(Command::Submit { node: node(node_word)?, count })
}

fn parse_expect(args: &[&str]) -> Result<Command, String> {
    let [who, what, rest @ ..] = args else {
        return Err("usage: `expect NODES view IDS | same-ring | ring-seq N | ring R.S | state S | down | \
                    quorate yes|no | quorum N | expected_votes N | total_votes N`"
            .into());
    };
    let nodes = node_list(who)?;
    let none =
        |e: Expectation| if rest.is_empty() { Ok(e) } else { Err(format!("`{what}` takes no argument")) };
    let what = match (*what, rest) {
        ("view", ids) => Expectation::View(node_args("view", ids)?),
        ("same-ring", _) => none(Expectation::SameRing)?,
        ("down", _) => none(Expectation::Down)?,
        ("ring-seq", [s]) => Expectation::RingSeq(number(s)?),
        ("ring", [r]) => {
            let (rep, seq) = r.split_once('.').ok_or("a ring id is written `rep.seq` in hex")?;
            let rep = hex(rep)? as u32;
            match (seq, seq.strip_prefix('+')) {
                ("*", _) => Expectation::RingRep(rep),
                (_, Some(step)) => Expectation::RingStep { rep, step: hex(step)? },
                _ => Expectation::Ring { rep, seq: hex(seq)? },
            }
        }
        ("state", [s]) => Expectation::State(state(s)?),
        ("quorate", ["yes"]) => Expectation::Quorate(true),
        ("quorate", ["no"]) => Expectation::Quorate(false),
        ("quorate", _) => return Err("`quorate` takes `yes` or `no`".into()),
        ("quorum", [v]) => Expectation::Quorum(small(v)?),
        ("expected_votes", [v]) => Expectation::ExpectedVotes(small(v)?),
        ("total_votes", [v]) => Expectation::TotalVotes(small(v)?),
        (w @ ("ring-seq" | "ring" | "state" | "quorum" | "expected_votes" | "total_votes"), _) => {
            return Err(format!("`{w}` takes one argument"))
        }
        (other, _) => return Err(format!("unknown expectation `{other}`")),
    };
    Ok(Command::Expect { nodes, what })
}

fn state(s: &str) -> Result<State, String> {
    Ok(match s {
        "operational" => State::Operational,
        "gather" => State::Gather,
        "commit" => State::Commit,
        "recovery" => State::Recovery,
        other => return Err(format!("unknown state `{other}` (operational, gather, commit, recovery)")),
    })
}

/// Node ids given as separate words and/or comma lists; at least one.
fn node_args(verb: &str, args: &[&str]) -> Result<Vec<NodeId>, String> {
    let mut out = Vec::new();
    for a in args {
        out.extend(node_list(a)?);
    }
    if out.is_empty() {
        return Err(format!("`{verb}` needs at least one node id"));
    }
    Ok(out)
}

fn node_list(word: &str) -> Result<Vec<NodeId>, String> {
    word.split(',').filter(|w| !w.is_empty()).map(node).collect()
}

fn node(word: &str) -> Result<NodeId, String> {
    let raw: u32 = word.parse().map_err(|_| format!("`{word}` is not a node id"))?;
    NodeId::new(raw).map_err(|e| e.to_string())
}

fn number(word: &str) -> Result<u64, String> {
    match word.strip_prefix("0x") {
        Some(h) => hex(h),
        None => word.parse().map_err(|_| format!("`{word}` is not a number")),
    }
}

fn small(word: &str) -> Result<u32, String> {
    let v = number(word)?;
    u32::try_from(v).map_err(|_| format!("{v} is too large"))
}

fn hex(word: &str) -> Result<u64, String> {
    u64::from_str_radix(word, 16).map_err(|_| format!("`{word}` is not a hex number"))
}

fn probability(word: &str) -> Result<f64, String> {
    match word.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{word}` is not a probability between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: u32) -> NodeId {
        NodeId::new(raw).unwrap()
    }

    #[test]
    fn a_full_scenario_parses_with_line_numbers() {
        let src = "# comment\n\nnodes 1 2 3 4 5   # the nodelist\ntotem token 1000\nstart 1 2 3\n\
                   split 1,2 3,4,5\nlink 1>2 down\nlink 1 2 up\nwait 1500\nsettle\nexpect 1,2 view 1 2\n\
                   expect 1 ring-seq 0x11\nexpect 1 ring 1.1e\nloss 0.2\nexpect 3 state operational\n";
        let s = parse(src).unwrap();
        let lines: Vec<usize> = s.commands.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(s.commands[0].1, Command::Nodes(vec![n(1), n(2), n(3), n(4), n(5)]));
        assert_eq!(s.commands[3].1, Command::Split(vec![vec![n(1), n(2)], vec![n(3), n(4), n(5)]]));
        assert_eq!(s.commands[4].1, Command::Link { from: n(1), to: n(2), both: false, up: false });
        assert_eq!(s.commands[5].1, Command::Link { from: n(1), to: n(2), both: true, up: true });
        assert_eq!(s.commands[6].1, Command::Wait(Duration::from_millis(1500)));
        assert_eq!(
            s.commands[8].1,
            Command::Expect { nodes: vec![n(1), n(2)], what: Expectation::View(vec![n(1), n(2)]) }
        );
        assert_eq!(s.commands[9].1, Command::Expect { nodes: vec![n(1)], what: Expectation::RingSeq(0x11) });
        assert_eq!(
            s.commands[10].1,
            Command::Expect { nodes: vec![n(1)], what: Expectation::Ring { rep: 1, seq: 0x1e } }
        );
    }

    #[test]
    fn a_ring_expectation_may_name_only_the_rep_or_a_step() {
        let s = parse("nodes 1 2\nexpect 1 ring 1.*\nexpect 1,2 ring 2.+4\n").unwrap();
        assert_eq!(s.commands[1].1, Command::Expect { nodes: vec![n(1)], what: Expectation::RingRep(1) });
        assert_eq!(
            s.commands[2].1,
            Command::Expect { nodes: vec![n(1), n(2)], what: Expectation::RingStep { rep: 2, step: 4 } }
        );
        assert!(parse("nodes 1\nexpect 1 ring 1.+x\n").is_err());
    }

    fn error_of(src: &str) -> ParseError {
        parse(src).unwrap_err()
    }

    #[test]
    fn bad_lines_are_reported_with_their_line_number() {
        let cases: &[(&str, usize, &str)] = &[
            ("nodes 1 2\nfrobnicate 3\n", 2, "unknown command `frobnicate`"),
            ("nodes 1 2\n\n# x\nwait soon\n", 4, "`soon` is not a number"),
            ("nodes 1 2\nstart 0\n", 2, "node id 0 is out of range"),
            ("nodes 1 2\nstart\n", 2, "`start` needs at least one node id"),
            ("nodes 1 2\nlink 1 2 sideways\n", 2, "must be `up` or `down`"),
            ("nodes 1 2\nlink 1 down\n", 2, "one-way links are written `A>B`"),
            ("nodes 1 2\nloss 1.5\n", 2, "not a probability"),
            ("nodes 1 2\ntotem tokn 5\n", 2, "unknown totem timing key 'tokn'"),
            ("nodes 1 2\nexpect 1 flying\n", 2, "unknown expectation `flying`"),
            ("nodes 1 2\nexpect 1 same-ring 3\n", 2, "`same-ring` takes no argument"),
            ("nodes 1 2\nexpect 1 ring 1:5\n", 2, "rep.seq"),
            ("nodes 1 2\nheal now\n", 2, "`heal` takes 0 argument(s), got 1"),
            ("nodes 1 2\nquorum two_node yes\n", 2, "must be 0 or 1"),
            ("nodes 1 2\nquorum no_such_key 1\n", 2, "no_such_key"),
            ("nodes 1 2\nquorum wait_for_all\n", 2, "needs a value"),
            ("nodes 1 2\nquorum two_node 1\nnoquorum\n", 3, "contradicts the quorum key at line 2"),
            ("nodes 1 2\nvotes 3 2\n", 2, "node 3 is not in the nodelist"),
            ("nodes 1 2\nexpect 1 quorate maybe\n", 2, "`quorate` takes `yes` or `no`"),
            ("nodes 1 2\nstart 1\nvotes 1 2\n", 3, "before any other command"),
        ];
        for (src, line, msg) in cases {
            let e = error_of(src);
            assert_eq!(e.line, *line, "{src:?}: {e}");
            assert!(e.message.contains(msg), "{src:?}: {e}");
        }
    }

    #[test]
    fn quorum_commands_parse() {
        let src = "nodes 1 2 3 4\nvotes 3 2\nquorum auto_tie_breaker 1\nquorum auto_tie_breaker_node 1 3\n\
                   start 1 2 3 4\nexpect 1,2 quorate yes\nexpect 3 quorate no\nexpect 1 quorum 3\n\
                   expect 1 expected_votes 5\nexpect 1 total_votes 2\ncancel_wfa 1\n";
        let s = parse(src).unwrap();
        let cmds: Vec<Command> = s.commands.into_iter().map(|(_, c)| c).collect();
        assert_eq!(cmds[1], Command::Votes { node: n(3), votes: 2 });
        assert_eq!(cmds[3], Command::Quorum { key: "auto_tie_breaker_node".into(), value: "1 3".into() });
        assert_eq!(cmds[5], Command::Expect { nodes: vec![n(1), n(2)], what: Expectation::Quorate(true) });
        assert_eq!(cmds[7], Command::Expect { nodes: vec![n(1)], what: Expectation::Quorum(3) });
        assert_eq!(cmds[8], Command::Expect { nodes: vec![n(1)], what: Expectation::ExpectedVotes(5) });
        assert_eq!(cmds[9], Command::Expect { nodes: vec![n(1)], what: Expectation::TotalVotes(2) });
        assert_eq!(cmds[10], Command::CancelWfa(n(1)));
        assert_eq!(parse("nodes 1\nnoquorum\n").unwrap().commands[1].1, Command::NoQuorum);
    }

    #[test]
    fn ordering_rules_are_enforced() {
        let e = error_of("start 1\nnodes 1\n");
        assert_eq!((e.line, e.message.contains("first command must be `nodes")), (1, true));
        let e = error_of("nodes 1 2\nstart 1\nnodes 1 2\n");
        assert_eq!((e.line, e.message.contains("only once")), (3, true), "{e}");
        let e = error_of("nodes 1 2\nstart 1\ntotem token 2000\n");
        assert_eq!((e.line, e.message.contains("before any other command")), (3, true), "{e}");
        let e = error_of("nodes 1 2\nstart 1\nexpect 1 view 1 7\n");
        assert_eq!((e.line, e.message.as_str()), (3, "node 7 is not in the nodelist"));
        let e = error_of("# only a comment\n");
        assert_eq!(e.line, 1);
    }
}
