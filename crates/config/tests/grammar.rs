//! The line grammar of corosync.conf, rule by rule (corosync-behaviour §5.1).

use quorumd_config::{parse_str, Config, ConfigError};

const TOTEM: &str = "totem {\n    version: 2\n}\n";

fn parse(body: &str) -> Result<Config, ConfigError> {
    parse_str(&format!("{TOTEM}{body}"), "corosync.conf")
}

fn err(body: &str) -> String {
    match parse(body) {
        Ok(_) => panic!("expected an error for {body:?}"),
        Err(e) => e.to_string(),
    }
}

fn cluster_name(body: &str) -> Option<String> {
    let text = format!("totem {{\n    version: 2\n{body}\n}}\n");
    parse_str(&text, "corosync.conf").ok().and_then(|c| c.totem.cluster_name)
}

#[test]
fn s5_1_minimal_file_is_a_totem_section_with_version_2() {
    let c = parse("").expect("minimal config");
    assert_eq!(c.totem.version, 2);
    assert!(c.nodelist.is_empty());
    assert!(c.warnings.is_empty());
}

#[test]
fn s5_1_whole_line_comments_and_blank_lines_are_ignored() {
    let c = parse("# comment\n   # indented comment\n\t#tab\n\n   \n\t\n").expect("comments");
    assert!(c.warnings.is_empty());
}

#[test]
fn s5_1_a_hash_later_in_a_line_is_part_of_the_value() {
    assert_eq!(cluster_name("cluster_name: demo # not a comment"), Some("demo # not a comment".into()));
}

#[test]
fn s5_1_key_value_splits_at_the_first_colon_and_trims() {
    assert_eq!(cluster_name("   cluster_name   :\t  a:b c  "), Some("a:b c".into()));
    assert_eq!(cluster_name("cluster_name:x"), Some("x".into()));
}

#[test]
fn s5_1_trailing_cr_spaces_tabs_and_no_break_spaces_are_trimmed() {
    assert_eq!(cluster_name("cluster_name: demo \t\u{a0}\r"), Some("demo".into()));
    let crlf = "totem {\r\n    version: 2\r\n    cluster_name: crlf\r\n}\r\n";
    let c = parse_str(crlf, "corosync.conf").expect("CRLF file");
    assert_eq!(c.totem.cluster_name.as_deref(), Some("crlf"));
}

#[test]
fn s5_1_non_ascii_characters_ending_in_byte_a0_are_kept() {
    // 'à' is C3 A0 in UTF-8: only the U+00A0 character is trimmed, not the byte.
    assert_eq!(cluster_name("cluster_name: voilà"), Some("voilà".into()));
}

#[test]
fn s5_1_section_name_may_end_in_a_colon() {
    let c =
        parse_str("totem: {\n version: 2\n}\nquorum : {\nprovider: corosync_votequorum\n}\n", "f").unwrap();
    assert!(c.has_votequorum());
}

#[test]
fn s5_1_braces_may_have_blanks_around_them() {
    let c = parse_str("  totem{\n version: 2\n\t}\t\n", "f").expect("blanks around braces");
    assert_eq!(c.totem.version, 2);
}

#[test]
fn s5_1_one_line_sections_are_an_error() {
    assert_eq!(
        err("logging { to_stderr: yes }"),
        "corosync.conf:4:11: extra characters after opening bracket '{' \
         (a section's contents go on the following lines)"
    );
}

#[test]
fn s5_1_open_brace_wins_over_colon() {
    // `{` is looked for first, so a value containing `{` opens a (badly named) section.
    assert!(err("quorum {\nprovider: a{b\n}").contains("extra characters after opening bracket"));
}

#[test]
fn s5_1_colon_wins_over_close_brace() {
    assert_eq!(cluster_name("cluster_name: a}"), Some("a}".into()));
}

#[test]
fn s5_1_section_name_must_not_be_empty() {
    assert_eq!(err("  {"), "corosync.conf:4:3: missing section name before opening bracket '{'");
    assert_eq!(err(":{"), "corosync.conf:4:2: missing section name before opening bracket '{'");
}

#[test]
fn s5_1_key_must_not_be_empty_but_value_may_be() {
    assert_eq!(err("quorum {\n  : 1\n}"), "corosync.conf:5:3: missing key name before ':'");
    // An empty value is legal syntax; here the key's type rejects it.
    let e = err("quorum {\nexpected_votes:\n}");
    assert!(e.starts_with("corosync.conf:5:16: invalid value '' for key 'expected_votes'"), "{e}");
}

#[test]
fn s5_1_closing_brace_must_be_alone() {
    assert_eq!(err("quorum {\n} }"), "corosync.conf:5: extra characters before or after closing bracket '}'");
    assert_eq!(err("quorum {\n};"), "corosync.conf:5: extra characters before or after closing bracket '}'");
}

#[test]
fn s5_1_closing_brace_at_top_level_is_an_error() {
    assert_eq!(err("}"), "corosync.conf:4: unexpected closing brace '}' outside any section");
}

#[test]
fn s5_1_other_lines_are_an_error() {
    assert_eq!(err("two_node 1"), "corosync.conf:4: line is not opening or closing section or key value");
}

#[test]
fn s5_1_end_of_file_inside_a_section_is_an_error() {
    assert_eq!(
        err("nodelist {\n  node {\n    nodeid: 1\n  }\n"),
        "corosync.conf:4: missing closing brace: section 'nodelist' opened on this line is never closed"
    );
    assert_eq!(
        err("quorum {\n  device {\n"),
        "corosync.conf:5: missing closing brace: section 'quorum.device' opened on this line is never closed"
    );
}

#[test]
fn s5_1_lines_may_be_511_bytes_but_not_512() {
    let name = |len: usize| format!("    cluster_name: {}", "x".repeat(len - 18));
    let ok = name(511);
    assert_eq!(ok.len(), 511);
    assert_eq!(cluster_name(&ok).map(|n| n.len()), Some(511 - 18));
    let long = name(512);
    let text = format!("totem {{\n    version: 2\n{long}\n}}\n");
    let e = parse_str(&text, "corosync.conf").unwrap_err();
    assert_eq!(e.to_string(), "corosync.conf:3:512: line too long (512 bytes; at most 511 are allowed)");
}

#[test]
fn s5_1_the_limit_counts_a_trailing_cr() {
    let line = format!("    cluster_name: {}\r", "x".repeat(511 - 19));
    assert_eq!(line.len(), 511);
    assert!(cluster_name(&line).is_some());
    let line = format!("    cluster_name: {}\r", "x".repeat(512 - 19));
    assert!(cluster_name(&line).is_none());
}

#[test]
fn s5_1_key_paths_of_255_characters_are_refused() {
    // `resources` is kept as written, so only the path limit applies.
    let key = |len: usize| "k".repeat(len - "resources.".len());
    let ok = format!("resources {{\n{}: 1\n}}", key(254));
    assert_eq!(parse(&ok).unwrap().resources.len(), 1);
    let long = format!("resources {{\n{}: 1\n}}", key(255));
    assert_eq!(err(&long), "corosync.conf:5: key path is too long (255 characters; it must stay under 255)");
}

#[test]
fn s5_1_deep_nesting_is_bounded_by_the_path_limit() {
    let body = "r {\n".repeat(200);
    assert!(err(&body).contains("key path is too long"));
}

#[test]
fn s5_1_sections_nest_and_node_blocks_repeat_in_file_order() {
    let body = "nodelist {\n node {\n  nodeid: 3\n  ring0_addr: 10.0.0.3\n }\n node {\n  nodeid: 1\n  \
                ring0_addr: 10.0.0.1\n }\n}\nnodelist {\n node {\n  nodeid: 2\n  ring0_addr: 10.0.0.2\n }\n}\n";
    let c = parse(body).unwrap();
    let ids: Vec<u32> = c.nodelist.iter().map(|n| n.nodeid.get()).collect();
    assert_eq!(ids, [3, 1, 2]);
}

#[test]
fn s5_1_the_same_key_twice_last_wins_with_a_warning() {
    let c = parse("quorum {\n two_node: 1\n two_node: 0\n}").unwrap();
    assert_eq!(c.quorum.two_node, Some(false));
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        ["corosync.conf:6: key 'two_node' in section 'quorum' is set again (first on line 5); the last value wins"]
    );
    // Both settings stay visible to votequorum, in order.
    let keys: Vec<(&str, &str)> =
        c.quorum.settings.iter().map(|s| (s.key.as_str(), s.value.as_str())).collect();
    assert_eq!(keys, [("two_node", "1"), ("two_node", "0")]);
}

#[test]
fn s5_1_repeated_top_level_sections_are_merged() {
    let c = parse("totem {\n cluster_name: x\n}\n").unwrap();
    assert_eq!(c.totem.cluster_name.as_deref(), Some("x"));
    assert_eq!(c.totem.version, 2);
}

#[test]
fn s5_1_a_file_without_final_newline_parses() {
    let c = parse_str("totem {\nversion: 2\n}", "f").unwrap();
    assert_eq!(c.totem.version, 2);
}

#[test]
fn s5_1_leading_blanks_other_than_space_and_tab_are_not_blank() {
    // corosync only skips spaces and tabs; a form feed makes the line a key named "\x0c# x".
    assert!(err("quorum {\n\x0c# x: 1\n}").contains("unknown key"));
}
