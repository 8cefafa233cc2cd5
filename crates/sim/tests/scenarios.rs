//! Runs every scenario file under the workspace's `scenarios/` folder.
#![allow(clippy::disallowed_methods)] // reads the scenario files

use std::path::{Path, PathBuf};

use quorumd_sim::scenario::{run_text, Outcome};

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            scenario_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "scn") {
            out.push(p);
        }
    }
}

#[test]
fn every_scenario_file_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files = Vec::new();
    scenario_files(&root, &mut files);
    assert!(files.len() >= 6, "expected the membership scenarios under {}", root.display());
    let quorum = files.iter().filter(|f| f.parent().is_some_and(|d| d.ends_with("quorum"))).count();
    assert!(quorum >= 8, "expected the quorum scenarios under {}/quorum", root.display());
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        if let Outcome::Fail { line, message } = run_text(&text) {
            failures.push(format!("FAIL {}:{line}: {message}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_failing_expectation_names_its_line_and_what_was_seen() {
    let text = "nodes 1 2\nstart 1 2\nsettle\n\n# wrong on purpose\nexpect 1 view 1\n";
    match run_text(text) {
        Outcome::Fail { line, message } => {
            assert_eq!(line, 6);
            assert!(message.contains("expected view [1]; node 1 is running in ring"), "{message}");
            assert!(message.contains("[1 2]"), "{message}");
        }
        Outcome::Pass => panic!("a wrong expectation passed"),
    }
}

#[test]
fn operations_that_do_not_apply_fail_at_their_line() {
    let text = "nodes 1 2\nstart 1\nstart 1\n";
    assert_eq!(
        run_text(text),
        Outcome::Fail { line: 3, message: "cannot start node 1: it is running".into() }
    );
    let text = "nodes 1 2\nbogus\n";
    assert!(matches!(run_text(text), Outcome::Fail { line: 2, .. }));
}
