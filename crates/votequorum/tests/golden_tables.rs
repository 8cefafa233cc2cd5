//! Runs the golden tables of `testdata/`: one test per section of docs/corosync-behaviour.md, each a script of
//! memberships, votes and the quorum, quorate and expected votes every node must compute.
//! See `golden/mod.rs` for the format.

mod golden;

fn check(file: &str, text: &str) {
    let failures = golden::run(file, text);
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn spec_3_3_calculation() {
    check("3_3_calculation.txt", include_str!("../testdata/3_3_calculation.txt"));
}

#[test]
fn spec_3_3_auto_tie_breaker_rules() {
    check("3_3_atb_rules.txt", include_str!("../testdata/3_3_atb_rules.txt"));
}

#[test]
fn spec_3_4_two_node() {
    check("3_4_two_node.txt", include_str!("../testdata/3_4_two_node.txt"));
}

#[test]
fn spec_3_5_wait_for_all() {
    check("3_5_wait_for_all.txt", include_str!("../testdata/3_5_wait_for_all.txt"));
}

#[test]
fn spec_3_6_last_man_standing() {
    check("3_6_last_man_standing.txt", include_str!("../testdata/3_6_last_man_standing.txt"));
}

#[test]
fn spec_3_7_auto_tie_breaker_live() {
    check("3_7_auto_tie_breaker.txt", include_str!("../testdata/3_7_auto_tie_breaker.txt"));
}

#[test]
fn spec_3_9_allow_downscale_and_tracking() {
    check("3_9_downscale_tracking.txt", include_str!("../testdata/3_9_downscale_tracking.txt"));
}

#[test]
fn spec_3_11_runtime_changes() {
    check("3_11_runtime_changes.txt", include_str!("../testdata/3_11_runtime_changes.txt"));
}

#[test]
fn spec_3_14_worked_examples() {
    check("3_14_worked_examples.txt", include_str!("../testdata/3_14_worked_examples.txt"));
}

#[test]
fn spec_3_1_config_refusals() {
    check("3_1_config.txt", include_str!("../testdata/3_1_config.txt"));
}
