//! Every error and warning form, as golden strings: what an operator reads at startup.
//! Deviations from corosync are marked; see docs/deviations.md.

use quorumd_config::{parse_str, parse_with_includes, text_from_bytes, ConfigError};

/// Lines 1-3 are a valid totem section; the body starts on line 4.
fn err(body: &str) -> String {
    let text = format!("totem {{\n    version: 2\n}}\n{body}");
    match parse_str(&text, "corosync.conf") {
        Ok(_) => panic!("expected an error for {body:?}"),
        Err(e) => e.to_string(),
    }
}

const NODES: &str = "nodelist {\n  node {\n    nodeid: 1\n    ring0_addr: 10.0.0.1\n  }\n";

#[test]
fn unknown_quorum_key_suggests_the_nearest() {
    // Deviation from corosync: misspelled keys are errors (corosync #751).
    let body =
        format!("{}quorum {{\n    provider: corosync_votequorum\n    two_nodes: 1\n}}\n", "\n".repeat(6));
    assert_eq!(
        err(&body),
        "corosync.conf:12: unknown key 'two_nodes' in section 'quorum' (did you mean 'two_node'?)"
    );
}

#[test]
fn unknown_key_forms() {
    assert_eq!(
        err("totem {\n  tokken: 500\n}"),
        "corosync.conf:5: unknown key 'tokken' in section 'totem' (did you mean 'token'?)"
    );
    assert_eq!(err("quorum {\nbanana: 1\n}"), "corosync.conf:5: unknown key 'banana' in section 'quorum'");
    assert_eq!(
        err(&format!("{NODES}  node {{\n    nodeid: 2\n    ring8_addr: x\n  }}\n}}")),
        "corosync.conf:11: unknown key 'ring8_addr' in section 'nodelist.node' (did you mean 'ring0_addr'?)"
    );
    assert_eq!(
        err("nodelist {\n nodeid: 1\n}"),
        "corosync.conf:5: unknown key 'nodeid' in section 'nodelist'"
    );
    assert_eq!(
        err("logging {\n  to_sterr: yes\n}"),
        "corosync.conf:5: unknown key 'to_sterr' in section 'logging' (did you mean 'to_stderr'?)"
    );
    assert_eq!(
        err("logging {\n logger_subsys {\n  subsys: QUORUM\n  debg: on\n }\n}"),
        "corosync.conf:7: unknown key 'debg' in section 'logging.logger_subsys' (did you mean 'debug'?)"
    );
    assert_eq!(
        err("totem {\n interface {\n  mcastprt: 5405\n }\n}"),
        "corosync.conf:6: unknown key 'mcastprt' in section 'totem.interface' (did you mean 'mcastport'?)"
    );
    assert_eq!(
        err("quorum {\n device {\n  vote: 1\n }\n}"),
        "corosync.conf:6: unknown key 'vote' in section 'quorum.device' (did you mean 'votes'?)"
    );
    assert_eq!(
        err("uidgid {\n  user: hacluster\n}"),
        "corosync.conf:5: unknown key 'user' in section 'uidgid'"
    );
}

#[test]
fn unknown_section_forms() {
    assert_eq!(
        err("totem {\n  interfce {\n  }\n}"),
        "corosync.conf:5: unknown section 'interfce' in section 'totem' (did you mean 'interface'?)"
    );
    assert_eq!(
        err("nodelist {\n  nod {\n  }\n}"),
        "corosync.conf:5: unknown section 'nod' in section 'nodelist' (did you mean 'node'?)"
    );
    assert_eq!(
        err("quorum {\n  qdevice {\n  }\n}"),
        "corosync.conf:5: unknown section 'qdevice' in section 'quorum' (did you mean 'device'?)"
    );
}

#[test]
fn invalid_value_forms() {
    // Quorum flags are 0/1 only; corosync rejects "yes" too.
    assert_eq!(
        err("quorum {\n    two_node: yes\n}"),
        "corosync.conf:5:15: invalid value 'yes' for key 'two_node' in section 'quorum': expected 0 or 1"
    );
    assert_eq!(
        err("totem {\n token: 3s\n}"),
        "corosync.conf:5:9: invalid value '3s' for key 'token' in section 'totem': expected an integer in 0..=4294967295"
    );
    assert_eq!(
        err("totem {\n token: 4294967296\n}"),
        "corosync.conf:5:9: invalid value '4294967296' for key 'token' in section 'totem': \
         expected an integer in 0..=4294967295"
    );
    assert_eq!(
        err("totem {\n transport: tcp\n}"),
        "corosync.conf:5:13: invalid value 'tcp' for key 'transport' in section 'totem': \
         expected one of: knet, udpu, udp"
    );
    assert_eq!(
        err("nodelist {\n node {\n  nodeid: 0\n  ring0_addr: a\n }\n}"),
        "corosync.conf:6:11: invalid value '0' for key 'nodeid' in section 'nodelist.node': \
         expected a node id in 1..=65535 (0 is reserved)"
    );
    assert_eq!(
        err("totem {\n interface {\n  mcastport: 65536\n }\n}"),
        "corosync.conf:6:14: invalid value '65536' for key 'mcastport' in section 'totem.interface': \
         expected an integer in 1..=65535"
    );
    assert_eq!(
        err("logging {\n to_syslog: maybe\n}"),
        "corosync.conf:5:13: invalid value 'maybe' for key 'to_syslog' in section 'logging': \
         expected yes or no (or on/off)"
    );
    assert_eq!(
        err("quorum {\n auto_tie_breaker_node: 1 x\n}"),
        "corosync.conf:5:25: invalid value '1 x' for key 'auto_tie_breaker_node' in section 'quorum': \
         expected lowest, highest, or a space-separated list of node ids in 1..=65535"
    );
}

#[test]
fn missing_key_forms() {
    assert_eq!(
        err("nodelist {\n  node {\n    ring0_addr: 10.0.0.1\n  }\n}"),
        "corosync.conf:5: missing key 'nodeid' in section 'nodelist.node': every node needs a nodeid in 1..=65535"
    );
    assert_eq!(
        err("nodelist {\n  node {\n    nodeid: 1\n  }\n}"),
        "corosync.conf:5: missing key 'ring0_addr' in section 'nodelist.node': \
         every node needs an address for link 0"
    );
    assert_eq!(
        err("logging {\n  logger_subsys {\n    debug: on\n  }\n}"),
        "corosync.conf:5: missing key 'subsys' in section 'logging.logger_subsys': \
         a logger_subsys block must name its subsystem"
    );
    let e = parse_str("totem {\n cluster_name: x\n}\n", "corosync.conf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "corosync.conf:1: missing key 'version' in section 'totem': it is required and must be 2"
    );
    let e = parse_str("quorum {\n}\n\n", "corosync.conf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "corosync.conf:3: missing key 'version' in section 'totem': \
         corosync.conf needs a 'totem' section with 'version: 2'"
    );
}

#[test]
fn duplicate_forms() {
    let second =
        |key: &str| format!("{NODES}  node {{\n    nodeid: 2\n    ring0_addr: 10.0.0.2\n    {key}\n  }}\n}}");
    assert_eq!(
        err(&format!("{NODES}  node {{\n    nodeid: 1\n    ring0_addr: 10.0.0.2\n  }}\n}}")),
        "corosync.conf:10:13: duplicate nodeid '1' (already used on line 6)"
    );
    assert_eq!(
        err(&second("ring0_addr: 10.0.0.1")),
        "corosync.conf:12:17: duplicate address '10.0.0.1' (already used on line 7)"
    );
    // Literal addresses compare as addresses, host names without case.
    let v6 = "nodelist {\n node {\n  nodeid: 1\n  ring0_addr: fd00::1\n }\n node {\n  nodeid: 2\n  \
              ring0_addr: fd00:0::0001\n }\n}";
    assert_eq!(err(v6), "corosync.conf:11:15: duplicate address 'fd00:0::0001' (already used on line 7)");
    let names = "nodelist {\n node {\n  nodeid: 1\n  ring0_addr: N1.example\n }\n node {\n  nodeid: 2\n  \
                 ring0_addr: n1.EXAMPLE\n }\n}";
    assert_eq!(err(names), "corosync.conf:11:15: duplicate address 'n1.EXAMPLE' (already used on line 7)");
    let named = "nodelist {\n node {\n  nodeid: 1\n  name: a\n  ring0_addr: x\n }\n node {\n  nodeid: 2\n  \
                 name: a\n  ring0_addr: y\n }\n}";
    assert_eq!(err(named), "corosync.conf:12:9: duplicate node name 'a' (already used on line 7)");
    assert_eq!(
        err("totem {\n interface {\n }\n interface {\n  linknumber: 0\n }\n}"),
        "corosync.conf:7: duplicate linknumber '0' (already used on line 5)"
    );
    assert_eq!(
        err("logging {\n logger_subsys {\n  subsys: QUORUM\n }\n logger_subsys {\n  subsys: QUORUM\n }\n}"),
        "corosync.conf:8: duplicate logger_subsys 'QUORUM' (already used on line 5)"
    );
}

#[test]
fn inconsistent_forms() {
    assert_eq!(
        err("totem {\n transport: udpu\n crypto_cipher: aes256\n crypto_hash: sha256\n}"),
        "corosync.conf:5:13: crypto_cipher & crypto_hash are only valid for the knet transport"
    );
    assert_eq!(
        err("totem {\n crypto_cipher: aes256\n}"),
        "corosync.conf:5:17: crypto_cipher requires crypto_hash with a value other than none"
    );
    assert_eq!(
        err("totem {\n version: 3\n}"),
        "corosync.conf:5:11: totem version 3 is not supported: only version 2 exists"
    );
    assert_eq!(
        err("totem {\n token_warning: 101\n}"),
        "corosync.conf:5:17: token_warning is a percentage of token: 101 is over 100"
    );
}

#[test]
fn uidgid_forms() {
    // Deviation from corosync: an empty gid is a clear error with file and line.
    let e = parse_with_includes(
        ("corosync.conf", "totem {\nversion: 2\n}\n"),
        &[("uidgid.d/pcs", "uidgid {\n    gid:\n}\n")],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "uidgid.d/pcs:2:9: invalid value '' for key 'gid' in section 'uidgid': \
         expected a user or group name, or a number"
    );
    let e = parse_with_includes(("c", "totem {\nversion: 2\n}\n"), &[("uidgid.d/x", "totem {\n}\n")])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "uidgid.d/x:1: only 'uidgid { }' sections are allowed in a uidgid.d file, not 'totem'"
    );
    let e =
        parse_with_includes(("c", "totem {\nversion: 2\n}\n"), &[("uidgid.d/y", "\nuid: 5\n")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "uidgid.d/y:2: only 'uidgid { }' sections are allowed in a uidgid.d file, not key 'uid'"
    );
    let e =
        parse_with_includes(("c", "totem {\nversion: 2\n}\n"), &[("uidgid.d/z", "uidgid {\n")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "uidgid.d/z:1: missing closing brace: section 'uidgid' opened on this line is never closed"
    );
}

#[test]
fn not_utf8_names_the_line() {
    let bytes = b"totem {\nversion: 2\ncluster_name: \xff\n}\n";
    let e = text_from_bytes(bytes, "corosync.conf").unwrap_err();
    assert_eq!(e.to_string(), "corosync.conf:3: the file is not valid UTF-8");
    assert_eq!(e.location().line, 3);
    assert_eq!(text_from_bytes(b"ok", "f"), Ok("ok"));
}

#[test]
fn every_error_has_a_location_in_the_right_file() {
    let e: ConfigError = parse_str("totem {\n", "a/b.conf").unwrap_err();
    assert_eq!(&*e.location().file, "a/b.conf");
    assert_eq!(e.location().line, 1);
}

#[test]
fn warning_forms() {
    let text = "totem {\n version: 2\n}\nstray: 1\nqourum {\n}\nnozzel {\n}\nsystem {\n sched_r: yes\n}\n\
                nodelist {\n node {\n  nodeid: 1\n  ring0_addr: a\n }\n node {\n  nodeid: 2\n  ring0_addr: b\n }\n}\n";
    let c = parse_str(text, "corosync.conf").unwrap();
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "corosync.conf:4: key 'stray' outside any section is ignored",
            "corosync.conf:5: unknown section 'qourum' is ignored (did you mean 'quorum'?)",
            "corosync.conf:7: unknown section 'nozzel' is ignored",
            "corosync.conf:10: unknown key 'sched_r' in section 'system' is ignored (did you mean 'sched_rr'?)",
            "corosync.conf:1: the nodelist has 2 nodes but no quorum provider is configured: the cluster will \
             always be quorate (set 'provider: corosync_votequorum' in 'quorum')",
        ]
    );
    let c = parse_str("totem {\nversion: 2\n}\nquorum {\nleaving_timeout: 5\n}\n", "f").unwrap();
    assert_eq!(
        c.warnings[0].to_string(),
        "f:5: quorum.leaving_timeout has no effect (it is parsed but unused)"
    );
}

#[test]
fn a_second_link_is_checked_with_its_line_whatever_the_transport() {
    // Before: every ringN_addr but ring0_addr, linknumber > 0, link_mode and the knet link
    // keys were refused ("redundant links are not supported yet").
    let second = |transport: &str, node2: &str| {
        format!(
            "totem {{\n    version: 2\n    transport: {transport}\n}}\nnodelist {{\n  node {{\n    nodeid: 1\n    \
             name: a\n    ring0_addr: 10.0.0.1\n    ring1_addr: 10.1.0.1\n  }}\n  node {{\n    nodeid: 2\n    \
             name: b\n    ring0_addr: 10.0.0.2\n{node2}  }}\n}}\n"
        )
    };
    let ok = parse_str(&second("knet", "    ring1_addr: 10.1.0.2\n"), "corosync.conf").unwrap();
    assert_eq!(ok.links(), vec![0, 1]);
    // Only knet runs more than one link (as in corosync).
    for transport in ["udpu", "udp"] {
        let e = parse_str(&second(transport, "    ring1_addr: 10.1.0.2\n"), "corosync.conf").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "corosync.conf:10:17: transport {transport} supports only link 0 (ring0_addr): redundant \
                 links need transport knet"
            )
        );
    }
    // A node without the second link.
    let e = parse_str(&second("knet", ""), "corosync.conf").unwrap_err().to_string();
    assert!(e.starts_with("corosync.conf:12: not all nodes have the same links"), "{e}");
    for ring in 1..=7 {
        let body = format!(
            "nodelist {{\n node {{\n  nodeid: 1\n  name: a\n  ring0_addr: a\n  ring{ring}_addr: b\n }}\n}}"
        );
        let c = parse_str(&format!("totem {{\n    version: 2\n}}\n{body}"), "corosync.conf").unwrap();
        assert_eq!(c.links(), vec![0, ring]);
    }
    assert_eq!(
        err("totem {\n interface {\n  linknumber: 1\n }\n}\nnodelist {\n node {\n  nodeid: 1\n  ring0_addr: a\n }\n}"),
        "corosync.conf:5: interface { linknumber: 1 } configures link 1, but the nodes have no ring1_addr \
         (the configured links are link 0)"
    );
    let mode = parse_str("totem {\n version: 2\n link_mode: rr\n}\n", "f").unwrap();
    assert_eq!(mode.totem.link_mode(), quorumd_config::LinkMode::RoundRobin);
    assert!(err("totem {\n link_mode: fast\n}").contains("expected one of: passive, active, rr"));
    for key in [
        "knet_link_priority: 1",
        "knet_ping_interval: 200",
        "knet_ping_timeout: 400",
        "knet_ping_precision: 2",
        "knet_pong_count: 2",
        "knet_transport: udp",
    ] {
        let text = format!("totem {{\n version: 2\n interface {{\n  {key}\n }}\n}}\n");
        let c = parse_str(&text, "f").unwrap_or_else(|e| panic!("{key}: {e}"));
        // knet_ping_precision is accepted with a warning: the latency is not averaged.
        let warned: Vec<u32> = c.warnings.iter().map(|w| w.at.line).collect();
        let want: &[u32] = if key.starts_with("knet_ping_precision") { &[4] } else { &[] };
        assert_eq!(warned, want, "{key}: {:?}", c.warnings);
    }
    // Link 0's port, and each link's default port.
    let ok = "totem {\n version: 2\n interface {\n  linknumber: 0\n  mcastport: 5500\n }\n}\n";
    assert_eq!(parse_str(ok, "f").unwrap().totem.mcastport(0), 5500);
    assert_eq!(parse_str(ok, "f").unwrap().totem.mcastport(3), 5408);
}

#[test]
fn two_node_with_more_than_two_nodes_is_refused_unless_forced() {
    let three =
        "nodelist {\n node {\n  nodeid: 1\n  ring0_addr: a\n }\n node {\n  nodeid: 2\n  ring0_addr: b\n }\n \
                 node {\n  nodeid: 3\n  ring0_addr: c\n }\n}\n";
    let quorum = "quorum {\n provider: corosync_votequorum\n two_node: 1\n}\n";
    let e = err(&format!("{three}{quorum}"));
    assert!(e.starts_with("corosync.conf:20: two_node: 1 with 3 nodes in the nodelist"), "{e}");
    assert!(e.contains("two_node_force: 1"), "{e}");
    let forced = quorum.replace("two_node: 1", "two_node: 1\n two_node_force: 1");
    let text = format!("totem {{\n version: 2\n}}\n{three}{forced}");
    let c = parse_str(&text, "f").unwrap();
    assert_eq!((c.quorum.two_node, c.quorum.two_node_force), (Some(true), Some(true)));
    // two_node_force is quorumd's, never handed to votequorum.
    assert!(c.quorum.settings.iter().all(|s| s.key != "two_node_force"));
    // Two nodes: fine without the override.
    let two = three.replace(" node {\n  nodeid: 3\n  ring0_addr: c\n }\n", "");
    assert!(parse_str(&format!("totem {{\n version: 2\n}}\n{two}{quorum}"), "f").is_ok());
}

#[test]
fn refused_sections_and_values_name_their_line() {
    assert_eq!(
        err("resources {\n system {\n  memory_used {\n   warning: 80\n  }\n }\n}"),
        "corosync.conf:4: resources: resource monitoring and the watchdog (corosync's mon and wd services) are not supported"
    );
    assert_eq!(
        err("nozzle {\n}"),
        "corosync.conf:4: nozzle: the nozzle (tap device) network is not supported"
    );
    assert!(err("totem {\n key: abcdefgh\n}")
        .starts_with("corosync.conf:5:7: key: an inline key is not supported"));
    assert!(
        err("totem {\n block_unlisted_ips: no\n}").starts_with("corosync.conf:5:22: block_unlisted_ips: ")
    );
    assert!(err("totem {\n knet_compression_model: zlib\n}").contains("only 'none' is accepted"));
    assert!(err("totem {\n knet_mtu: 1400\n}").contains("knet tuning is not supported"));
    let ok = "totem {\n version: 2\n knet_compression_model: none\n block_unlisted_ips: yes\n}\n";
    assert!(parse_str(ok, "f").unwrap().warnings.is_empty());
}

#[test]
fn keys_without_effect_warn_with_their_line() {
    let text =
        "totem {\n version: 2\n send_join: 10\n netmtu: 1500\n interface {\n  bindnetaddr: 10.0.0.0\n }\n}\n\
                logging {\n blackbox: yes\n logger_subsys {\n  subsys: CPG\n  debug: on\n }\n}\n\
                system {\n qb_ipc_type: native\n}\n";
    let c = parse_str(text, "f").unwrap();
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    let lines: Vec<&str> = w.iter().map(|w| w.split(": ").next().unwrap()).collect();
    assert_eq!(lines, ["f:3", "f:4", "f:6", "f:10", "f:11", "f:17"], "{w:#?}");
    assert!(w[0].contains("'send_join' has no effect"), "{}", w[0]);
    assert!(w[4].contains("logger_subsys 'CPG' has no effect"), "{}", w[4]);
    assert!(w[5].contains("system.'qb_ipc_type' has no effect"), "{}", w[5]);
}
