//! Properties over random cluster histories (splits, merges, crashes, restarts), run through the
//! golden-table harness: after every sync the members of a partition agree on quorate and
//! quorum (the harness checks it), and with a fixed expected-votes configuration no two
//! disjoint partitions are quorate at once (`safe`).

mod golden;

use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    /// Put every running node in group `groups[i % len]` and sync each group.
    Ring(Vec<u8>),
    Stop(u8),
    Start(u8),
    CancelWfa(u8),
    /// Fire every armed last_man_standing timer (each expiry is ordered in its partition).
    Expire,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => proptest::collection::vec(0u8..3, 1..7).prop_map(Step::Ring),
        1 => (0u8..6).prop_map(Step::Stop),
        1 => (0u8..6).prop_map(Step::Start),
        1 => (0u8..6).prop_map(Step::CancelWfa),
        1 => Just(Step::Expire),
    ];
    proptest::collection::vec(step, 1..25)
}

/// Builds a script; `policy` picks the quorum keys. Every `ring` checks that the members of
/// each partition agree (the harness does); `safe` adds the split-brain check after it (not
/// with last_man_standing, which lowers expected votes on one side of a partition by design).
fn script(n: u8, policy: &str, steps: &[Step], safe: bool) -> String {
    let ids: Vec<u8> = (1..=n).collect();
    let list = |v: &[u8]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
    let mut out = format!("case random\nnodes {}\n{policy}start {}\n", list(&ids), list(&ids));
    let mut running = ids.clone();
    let safe = if safe { "safe\n" } else { "" };
    out += &format!("ring {}\n{safe}", list(&running));
    for step in steps {
        match step {
            Step::Ring(groups) => {
                let mut parts: Vec<Vec<u8>> = vec![Vec::new(); 3];
                for (i, node) in running.iter().enumerate() {
                    parts[usize::from(groups[i % groups.len()])].push(*node);
                }
                let parts: Vec<String> = parts.iter().filter(|p| !p.is_empty()).map(|p| list(p)).collect();
                out += &format!("ring {}\n{safe}", parts.join(" | "));
            }
            Step::Stop(i) if running.len() > 1 => {
                let node = running.remove(usize::from(*i) % running.len());
                out += &format!("stop {node}\n");
            }
            Step::Start(i) => {
                let node = 1 + i % n;
                if !running.contains(&node) {
                    running.push(node);
                    running.sort_unstable();
                    out += &format!("start {node}\n");
                }
            }
            Step::CancelWfa(i) => {
                // Only after a ring that includes the node, so its partition is current.
                let node = running[usize::from(*i) % running.len()];
                out += &format!("ring {}\ncancel_wfa {node}\n{safe}", list(&running));
            }
            Step::Expire => out += "expire\n",
            Step::Stop(_) => {}
        }
    }
    out
}

fn check(n: u8, policy: &str, steps: &[Step]) -> Result<(), TestCaseError> {
    check_with(n, policy, steps, true)
}

fn check_with(n: u8, policy: &str, steps: &[Step], safe: bool) -> Result<(), TestCaseError> {
    let text = script(n, policy, steps, safe);
    let failures = golden::run("random", &text);
    prop_assert!(failures.is_empty(), "{}\nscript:\n{text}", failures.join("\n"));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn spec_3_3_plain_majorities_agree_and_never_split(n in 2u8..7, steps in steps()) {
        check(n, "", &steps)?;
    }

    #[test]
    fn spec_3_5_wait_for_all_agrees_and_never_splits(n in 2u8..7, steps in steps()) {
        check(n, "quorum wait_for_all 1\n", &steps)?;
    }

    #[test]
    fn spec_3_7_auto_tie_breaker_agrees_and_never_splits(half in 1u8..4, steps in steps()) {
        check(half * 2, "quorum auto_tie_breaker 1\n", &steps)?;
    }

    #[test]
    fn spec_3_6_last_man_standing_agrees(n in 2u8..7, wfa in any::<bool>(), steps in steps()) {
        let policy = if wfa { "quorum last_man_standing 1\nquorum wait_for_all 1\n" } else { "quorum last_man_standing 1\n" };
        check_with(n, policy, &steps, false)?;
    }

    #[test]
    fn spec_3_7_auto_tie_breaker_list_agrees_and_never_splits(half in 2u8..4, steps in steps()) {
        check(half * 2, "quorum auto_tie_breaker 1\nquorum auto_tie_breaker_node 3 1 2\n", &steps)?;
    }
}
