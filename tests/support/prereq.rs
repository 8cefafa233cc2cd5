//! Tests that need something the machine may lack (root, `ip`, `cc`, Corosync's headers): a
//! test whose prerequisite is missing is reported *ignored*, with the reason, in the test
//! runner's own summary (`test x ... ignored, needs root`), never `ok`. With
//! `QUORUMD_REQUIRE_ALL=1` (as `.ci/run` sets) a missing prerequisite fails the test instead,
//! so a green CI run means every one of these tests really ran.
//!
//! Used by the `harness = false` test targets through `#[path]`; each target's `main` hands
//! its list of [`Trial`]s to [`run`].
#![allow(clippy::disallowed_methods, dead_code)]

use std::process::Command;

pub use libtest_mimic::Trial;
use libtest_mimic::{Arguments, Completion, Failed};

/// The variable that turns a missing prerequisite into a failure.
pub const REQUIRE_ALL: &str = "QUORUMD_REQUIRE_ALL";

fn require_all() -> bool {
    std::env::var(REQUIRE_ALL).is_ok_and(|v| v == "1")
}

/// True when this process runs as uid 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}

/// True when `tool` is on the PATH.
pub fn has_command(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

/// The reasons of the checks that failed, joined; `None` when every check passed.
pub fn missing(checks: &[(bool, &str)]) -> Option<String> {
    let reasons: Vec<&str> = checks.iter().filter(|(ok, _)| !ok).map(|(_, why)| *why).collect();
    (!reasons.is_empty()).then(|| format!("needs {}", reasons.join(", ")))
}

/// A test that needs nothing special.
pub fn test(name: &str, body: fn()) -> Trial {
    Trial::test(name, move || {
        body();
        Ok(())
    })
}

/// A test that another test runs in a child process (e.g. as another user, with
/// `--exact NAME --include-ignored`); on its own it is reported ignored.
pub fn child(name: &str, body: fn()) -> Trial {
    test(name, body).with_ignored_flag(true)
}

/// A test that runs only when `prereq` returns `None`; otherwise it is reported ignored with
/// the reason `prereq` gives (or fails, under `QUORUMD_REQUIRE_ALL=1`).
pub fn needs(name: &str, prereq: fn() -> Option<String>, body: fn()) -> Trial {
    Trial::ignorable_test(name, move || outcome(prereq(), require_all(), body))
}

fn outcome(missing: Option<String>, require_all: bool, body: fn()) -> Result<Completion, Failed> {
    match missing {
        Some(reason) if require_all => {
            Err(format!("{REQUIRE_ALL}=1 and this test cannot run: {reason}").into())
        }
        Some(reason) => Ok(Completion::ignored_with(reason)),
        None => {
            body();
            Ok(Completion::Completed)
        }
    }
}

/// Runs the trials with the arguments `cargo test` passed, and exits with the result.
pub fn run(trials: Vec<Trial>) -> ! {
    let mut trials = trials;
    // The harness checks itself: a missing prerequisite is ignored, or a failure under
    // QUORUMD_REQUIRE_ALL=1, and never runs the body.
    trials.push(Trial::test("prereq_missing_is_ignored_or_fails_never_ok", || {
        fn boom() {
            panic!("the body ran although its prerequisite is missing");
        }
        let ignored = outcome(Some("needs x".into()), false, boom);
        if !matches!(ignored, Ok(Completion::Ignored { reason: Some(ref r) }) if r == "needs x") {
            return Err("a missing prerequisite was not reported ignored with its reason".into());
        }
        if outcome(Some("needs x".into()), true, boom).is_ok() {
            return Err(format!("{REQUIRE_ALL}=1 did not turn a missing prerequisite into a failure").into());
        }
        if missing(&[(true, "a"), (false, "root"), (false, "ip")]).as_deref() != Some("needs root, ip") {
            return Err("missing() does not name every missing prerequisite".into());
        }
        Ok(())
    }));
    libtest_mimic::run(&Arguments::from_args(), trials).exit()
}
