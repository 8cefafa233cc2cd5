//! The key audit: docs/configuration.md lists every corosync.conf key with a verdict; this test
//! reads that table and holds the code to it. For each row it writes a configuration setting
//! the key to the row's example and runs the parser and the node-parameter derivation:
//! `honoured` and `deviation` rows must be accepted without a warning, `refused` rows must fail
//! naming the key's line, `warns` rows must be accepted with a warning on the key's line. Every
//! test a row names must exist, and every key the parser knows and every key Corosync 3.1.7
//! reads must have a row.
#![allow(clippy::disallowed_methods)] // reads the test sources a row names

use std::collections::BTreeSet;

use quorumd_config::uidgid::UidGidKind;
use quorumd_node::params::access_policy;
use quorumd_node::{AccessPolicy, NodeParams};
use quorumd_proto::NodeId;

const DOC: &str = include_str!("../../../docs/configuration.md");

/// Every key Corosync 3.1.7 reads from corosync.conf (exec/totemconfig.c, exec/coroparse.c,
/// exec/logconfig.c, exec/votequorum.c, exec/main.c, exec/mon.c, exec/wd.c, exec/cfg.c), as
/// dotted paths; sections whose keys belong to one feature are listed by section.
const COROSYNC_KEYS: &[&str] = &[
    "totem.version",
    "totem.cluster_name",
    "totem.transport",
    "totem.crypto_cipher",
    "totem.crypto_hash",
    "totem.crypto_model",
    "totem.secauth",
    "totem.keyfile",
    "totem.key",
    "totem.nodeid",
    "totem.ip_version",
    "totem.link_mode",
    "totem.netmtu",
    "totem.config_version",
    "totem.block_unlisted_ips",
    "totem.clear_node_high_bit",
    "totem.knet_compression_model",
    "totem.knet_compression_threshold",
    "totem.knet_compression_level",
    "totem.knet_pmtud_interval",
    "totem.knet_mtu",
    "totem.cancel_token_hold_on_retransmit",
    "totem.threads",
    "totem.rrp_mode",
    "totem.token",
    "totem.token_coefficient",
    "totem.token_retransmit",
    "totem.token_retransmits_before_loss_const",
    "totem.hold",
    "totem.join",
    "totem.send_join",
    "totem.consensus",
    "totem.merge",
    "totem.downcheck",
    "totem.fail_recv_const",
    "totem.seqno_unchanged_const",
    "totem.window_size",
    "totem.max_messages",
    "totem.miss_count_const",
    "totem.token_warning",
    "totem.max_network_delay",
    "totem.heartbeat_failures_allowed",
    "totem.interface.linknumber",
    "totem.interface.ringnumber",
    "totem.interface.bindnetaddr",
    "totem.interface.mcastaddr",
    "totem.interface.mcastport",
    "totem.interface.ttl",
    "totem.interface.broadcast",
    "totem.interface.member",
    "totem.interface.knet_link_priority",
    "totem.interface.knet_ping_interval",
    "totem.interface.knet_ping_timeout",
    "totem.interface.knet_ping_precision",
    "totem.interface.knet_pong_count",
    "totem.interface.knet_transport",
    "nodelist.node.nodeid",
    "nodelist.node.name",
    "nodelist.node.quorum_votes",
    "nodelist.node.ring0_addr",
    "nodelist.node.ring1_addr",
    "nodelist.node.ring2_addr",
    "nodelist.node.ring3_addr",
    "nodelist.node.ring4_addr",
    "nodelist.node.ring5_addr",
    "nodelist.node.ring6_addr",
    "nodelist.node.ring7_addr",
    "quorum.provider",
    "quorum.expected_votes",
    "quorum.votes",
    "quorum.two_node",
    "quorum.wait_for_all",
    "quorum.last_man_standing",
    "quorum.last_man_standing_window",
    "quorum.auto_tie_breaker",
    "quorum.auto_tie_breaker_node",
    "quorum.allow_downscale",
    "quorum.expected_votes_tracking",
    "quorum.leaving_timeout",
    "quorum.cancel_wait_for_all",
    "quorum.device.model",
    "quorum.device.votes",
    "quorum.device.timeout",
    "quorum.device.sync_timeout",
    "quorum.device.master_wins",
    "logging.to_stderr",
    "logging.to_logfile",
    "logging.to_syslog",
    "logging.logfile",
    "logging.logfile_priority",
    "logging.syslog_facility",
    "logging.syslog_priority",
    "logging.syslog_level",
    "logging.to_file",
    "logging.debug",
    "logging.timestamp",
    "logging.fileline",
    "logging.function_name",
    "logging.blackbox",
    "logging.logging_daemon",
    "logging.logger_subsys.subsys",
    "logging.logger_subsys.debug",
    "logging.logger_subsys.to_stderr",
    "logging.logger_subsys.to_logfile",
    "logging.logger_subsys.to_syslog",
    "logging.logger_subsys.logfile",
    "logging.logger_subsys.logfile_priority",
    "logging.logger_subsys.syslog_facility",
    "logging.logger_subsys.syslog_priority",
    "uidgid.uid",
    "uidgid.gid",
    "system.qb_ipc_type",
    "system.sched_rr",
    "system.priority",
    "system.move_to_root_cgroup",
    "system.allow_knet_handle_fallback",
    "system.state_dir",
    "resources",
    "nozzle",
];

#[derive(Debug)]
struct Row {
    key: String,
    verdict: String,
    example: String,
    tested_by: Vec<String>,
}

fn code(cell: &str) -> Option<String> {
    let cell = cell.trim();
    cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')).map(str::to_string)
}

/// The rows of the key table (those whose first cell is a key in backquotes).
fn rows() -> Vec<Row> {
    let table = DOC.split("## The keys").nth(1).expect("a '## The keys' section");
    let mut out = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 5, "a row has key, verdict, example, what, tested by: {line}");
        let key = code(cells[0]).unwrap_or_else(|| panic!("key in backquotes: {line}"));
        let example = code(cells[2]).unwrap_or_else(|| panic!("example in backquotes: {line}"));
        let tested_by = cells[4].split(", ").filter_map(code).collect();
        out.push(Row { key, verdict: cells[1].trim().to_string(), example, tested_by });
    }
    out
}

/// A configuration with two nodes and votequorum, setting `key` to `example`; the line the
/// key (or its section) is on.
fn sample(key: &str, example: &str) -> (String, u32) {
    let parts: Vec<&str> = key.split('.').collect();
    let top = parts[0];
    // What goes into the section the key belongs to: `k: v`, or `k {` … `}` for a section.
    let entry = |name: &str, indent: &str| -> Vec<String> {
        match example.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
            Some(inner) => vec![
                format!("{indent}{name} {{"),
                format!("{indent}  {}", inner.trim()),
                format!("{indent}}}"),
            ],
            None => vec![format!("{indent}{name}: {example}")],
        }
    };
    let companions: &[(&str, &str)] = &[("totem.crypto_cipher", "crypto_hash: sha256")];
    let mut lines: Vec<String> = Vec::new();
    let mut key_line = 0;
    let mut put = |lines: &mut Vec<String>, mut new: Vec<String>, mark: bool| {
        if mark {
            key_line = u32::try_from(lines.len() + 1).unwrap();
        }
        lines.append(&mut new);
    };
    if parts.len() == 1 {
        put(&mut lines, entry(top, ""), true);
    }
    lines.push("totem {".into());
    if key != "totem.version" {
        lines.push("  version: 2".into());
    }
    if top == "totem" {
        if parts.len() == 2 {
            put(&mut lines, entry(parts[1], "  "), true);
            for (k, extra) in companions {
                if *k == key {
                    lines.push(format!("  {extra}"));
                }
            }
        } else {
            lines.push("  interface {".into());
            put(&mut lines, entry(parts[2], "    "), true);
            lines.push("  }".into());
        }
    }
    lines.push("}".into());
    // A key of link N > 0 needs that link on every node, and (as in corosync) node names.
    let extra_link: Option<u8> = match key {
        "totem.interface.linknumber" => example.parse().ok().filter(|l| *l > 0),
        _ => parts
            .get(2)
            .filter(|_| top == "nodelist")
            .and_then(|k| k.strip_prefix("ring")?.strip_suffix("_addr")?.parse().ok())
            .filter(|l| *l > 0),
    };
    lines.push("nodelist {".into());
    for n in 1..=2 {
        lines.push("  node {".into());
        let own = n == 1 && top == "nodelist";
        if !(own && parts[2] == "nodeid") {
            lines.push(format!("    nodeid: {n}"));
        }
        if !(own && parts[2] == "ring0_addr") {
            lines.push(format!("    ring0_addr: 127.0.0.{n}"));
        }
        if let Some(link) = extra_link {
            lines.push(format!("    name: n{n}"));
            if !own {
                lines.push(format!("    ring{link}_addr: 10.{link}.0.{n}"));
            }
        }
        if own {
            put(&mut lines, entry(parts[2], "    "), true);
        }
        lines.push("  }".into());
    }
    lines.push("}".into());
    lines.push("quorum {".into());
    if key != "quorum.provider" {
        lines.push("  provider: corosync_votequorum".into());
    }
    if top == "quorum" && parts.len() == 2 {
        put(&mut lines, entry(parts[1], "  "), true);
    } else if top == "quorum" {
        lines.push("  device {".into());
        put(&mut lines, entry(parts[2], "    "), true);
        lines.push("  }".into());
    }
    lines.push("}".into());
    if top == "logging" && parts.len() == 2 {
        lines.push("logging {".into());
        put(&mut lines, entry(parts[1], "  "), true);
        lines.push("}".into());
    } else if top == "logging" {
        lines.push("logging {".into());
        lines.push("  logger_subsys {".into());
        if parts[2] != "subsys" {
            lines.push("    subsys: QUORUM".into());
        }
        put(&mut lines, entry(parts[2], "    "), true);
        lines.push("  }".into());
        lines.push("}".into());
    }
    if (top == "uidgid" || top == "system") && parts.len() == 2 {
        lines.push(format!("{top} {{"));
        put(&mut lines, entry(parts[1], "  "), true);
        lines.push("}".into());
    }
    assert!(key_line > 0, "the audit does not know where {key} goes");
    (lines.join("\n") + "\n", key_line)
}

/// The name service of the audit: root is 0, nobody else exists.
fn lookup(_: UidGidKind, name: &str) -> quorumd_node::params::Lookup {
    Ok((name == "root").then_some(0))
}

/// Parse and derive; `Err(message)` from whichever refuses.
fn run(text: &str) -> Result<quorumd_config::Config, String> {
    let config = quorumd_config::parse_str(text, "corosync.conf").map_err(|e| e.to_string())?;
    let access = access_policy(&config, lookup).map_err(|e| e.to_string())?;
    NodeParams::from_config(&config, NodeId::new(1).unwrap(), access).map_err(|e| e.to_string())?;
    Ok(config)
}

#[test]
fn every_row_of_the_key_table_matches_what_the_code_does() {
    let rows = rows();
    assert!(rows.len() > 100, "the table was read: {} rows", rows.len());
    let mut wrong = Vec::new();
    for row in &rows {
        let (text, line) = sample(&row.key, &row.example);
        let name = row.key.rsplit('.').next().unwrap_or(&row.key);
        let at = format!("corosync.conf:{line}:");
        let at_line = |s: &str| s.starts_with(&at) || s.starts_with(&format!("corosync.conf:{line}: "));
        let verdict = match (row.verdict.as_str(), run(&text)) {
            ("honoured" | "deviation", Ok(c)) if c.warnings.is_empty() => Ok(()),
            ("honoured" | "deviation", Ok(c)) => Err(format!("warns: {:?}", c.warnings)),
            ("honoured" | "deviation", Err(e)) => Err(format!("refused: {e}")),
            ("refused", Err(e)) if at_line(&e) && e.contains(name) => Ok(()),
            ("refused", Err(e)) => Err(format!("refused, but not naming line {line} and '{name}': {e}")),
            ("refused", Ok(_)) => Err("accepted".into()),
            ("warns", Ok(c)) => {
                let hit = c.warnings.iter().any(|w| w.at.line == line && w.message.contains(name));
                if hit {
                    Ok(())
                } else {
                    Err(format!("no warning on line {line}: {:?}", c.warnings))
                }
            }
            ("warns", Err(e)) => Err(format!("refused: {e}")),
            (other, _) => Err(format!("unknown verdict '{other}'")),
        };
        if let Err(why) = verdict {
            wrong.push(format!("{} ({}, example {:?}): {why}\n{text}", row.key, row.verdict, row.example));
        }
    }
    assert!(wrong.is_empty(), "{} rows do not match:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn every_honoured_row_names_tests_that_exist() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for row in rows() {
        if matches!(row.verdict.as_str(), "honoured" | "deviation") {
            assert!(!row.tested_by.is_empty(), "{}: an honoured key names the test that shows it", row.key);
        }
        for t in &row.tested_by {
            let (file, test) =
                t.split_once("::").unwrap_or_else(|| panic!("{}: FILE::TEST, not {t}", row.key));
            let path = format!("{root}/{file}");
            let source =
                std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {path}: {e}", row.key));
            assert!(source.contains(&format!("fn {test}(")), "{}: no test {test} in {file}", row.key);
        }
    }
}

#[test]
fn every_known_key_has_a_row() {
    let documented: BTreeSet<String> = rows().into_iter().map(|r| r.key).collect();
    let mut expected: BTreeSet<String> = COROSYNC_KEYS.iter().map(|k| k.to_string()).collect();
    let parser: [(&str, &[&str]); 8] = [
        ("totem", quorumd_config::totem::TOTEM_KEYS),
        ("totem", quorumd_config::TIMING_KEYS),
        ("totem.interface", quorumd_config::totem::INTERFACE_KEYS),
        ("nodelist.node", quorumd_config::nodelist::NODE_KEYS),
        ("quorum", quorumd_config::quorum::QUORUM_KEYS),
        ("quorum.device", quorumd_config::quorum::DEVICE_KEYS),
        ("logging", quorumd_config::logging::LOGGING_KEYS),
        ("system", quorumd_config::system::SYSTEM_KEYS),
    ];
    for (section, keys) in parser {
        expected.extend(keys.iter().map(|k| format!("{section}.{k}")));
    }
    expected
        .extend(quorumd_config::logging::LOGGING_KEYS.iter().map(|k| format!("logging.logger_subsys.{k}")));
    expected.extend(quorumd_config::uidgid::UIDGID_KEYS.iter().map(|k| format!("uidgid.{k}")));
    expected.extend(quorumd_config::REFUSED_SECTIONS.iter().map(|(s, _)| s.to_string()));
    let missing: Vec<&String> = expected.difference(&documented).collect();
    assert!(missing.is_empty(), "keys without a row in docs/configuration.md: {missing:?}");
}

#[test]
fn the_audit_sees_a_key_that_drifts() {
    // The harness itself: a refused key run as if honoured is caught, and so is a wrong line.
    let (text, line) = sample("totem.interface.knet_transport", "sctp");
    let e = run(&text).unwrap_err();
    assert!(e.starts_with(&format!("corosync.conf:{line}:")), "{e}");
    // A second link's key is written on every node, so it can be accepted.
    let (text, _) = sample("nodelist.node.ring1_addr", "10.1.0.1");
    assert!(run(&text).is_ok(), "{text}");
    let (text, line) = sample("totem.send_join", "10");
    let c = run(&text).unwrap();
    assert!(c.warnings.iter().any(|w| w.at.line == line));
    let (text, _) = sample("quorum.wait_for_all", "1");
    assert!(run(&text).unwrap().warnings.is_empty());
    assert_eq!(AccessPolicy::default(), AccessPolicy::default());
}
