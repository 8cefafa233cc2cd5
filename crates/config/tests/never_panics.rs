//! Property tests: no input makes the parser panic, and whatever it accepts keeps the
//! `Config` invariants; every error points at a line that exists.

use proptest::prelude::*;
use quorumd_config::{parse_str, parse_with_includes, text_from_bytes, Config, ConfigError};

/// Lines a real corosync.conf is made of, plus near-misses and broken ones.
const FRAGMENTS: &[&str] = &[
    "totem {",
    "totem: {",
    "quorum {",
    "nodelist {",
    "node {",
    "interface {",
    "logging {",
    "logger_subsys {",
    "uidgid {",
    "system {",
    "resources {",
    "device {",
    "net {",
    "}",
    "  }  ",
    "} }",
    "{",
    "version: 2",
    "version: 3",
    "cluster_name: demo",
    "transport: udpu",
    "transport: knet",
    "crypto_cipher: aes256",
    "crypto_hash: sha256",
    "secauth: on",
    "token: 3000",
    "token_warning: 101",
    "linknumber: 1",
    "mcastport: 70000",
    "provider: corosync_votequorum",
    "two_node: 1",
    "two_node: yes",
    "two_nodes: 1",
    "auto_tie_breaker_node: 1 2 0",
    "nodeid: 1",
    "nodeid: 2",
    "nodeid: 0",
    "ring0_addr: 10.0.0.1",
    "ring0_addr: fd00::1",
    "ring1_addr: host.example",
    "name: n1",
    "quorum_votes: 2",
    "subsys: QUORUM",
    "debug: trace",
    "uid: hacluster",
    "gid:",
    "# comment",
    "",
    "   ",
    "key: value # not a comment",
    ": empty key",
    "no colon here",
    "logging { to_stderr: yes }",
    "\u{a0}",
    "é: ü",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|lines| lines.join("\n"))
}

fn check_error(e: &ConfigError, text: &str) {
    let lines = text.split('\n').count().max(1);
    let line = usize::try_from(e.location().line).unwrap_or(usize::MAX);
    assert!((1..=lines).contains(&line), "line {line} of {lines}: {e}");
    assert!(!e.to_string().is_empty());
}

fn check_config(c: &Config) {
    assert_eq!(c.totem.version, 2);
    let mut ids: Vec<u32> = c.nodelist.iter().map(|n| n.nodeid.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), c.node_count());
    for n in &c.nodelist {
        assert!((1..=65_535).contains(&n.nodeid.get()));
        assert!(c.node_by_id(n.nodeid).is_some());
    }
    let _ = c.cluster_id();
}

fn run(text: &str) {
    match parse_str(text, "corosync.conf") {
        Ok(c) => check_config(&c),
        Err(e) => check_error(&e, text),
    }
    // Parsing is a pure function.
    assert_eq!(parse_str(text, "corosync.conf"), parse_str(text, "corosync.conf"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        run(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(text) = text_from_bytes(&bytes, "corosync.conf") {
            run(text);
        }
    }

    #[test]
    fn line_soups_never_panic(text in soup()) {
        run(&text);
    }

    #[test]
    fn soups_after_a_valid_totem_never_panic(text in soup()) {
        run(&format!("totem {{\nversion: 2\n}}\n{text}"));
    }

    #[test]
    fn soups_in_drop_ins_never_panic(main in soup(), drop_in in soup()) {
        let main = format!("totem {{\nversion: 2\n}}\n{main}");
        match parse_with_includes(("corosync.conf", &main), &[("uidgid.d/x", &drop_in)]) {
            Ok(c) => check_config(&c),
            Err(e) => {
                let text = if &*e.location().file == "corosync.conf" { &main } else { &drop_in };
                check_error(&e, text);
            }
        }
    }

    #[test]
    fn long_and_deep_lines_never_panic(depth in 0usize..300, width in 0usize..700) {
        let text = format!("{}{}: 1\n", "a {\n".repeat(depth), "k".repeat(width));
        run(&text);
    }
}
