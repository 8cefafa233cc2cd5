//! CPU scheduling as corosync.conf's `system { sched_rr, priority }` ask for it.
//!
//! Like corosync, `sched_rr: yes` (the default) runs the daemon under SCHED_RR at the highest
//! real-time priority, so that a busy machine cannot hold a token up past `token`, and
//! `sched_rr: no` sets the nice value from `priority` (`max` = -20, `min` = 19, or a number).
//!
//! Deviation from corosync: when SCHED_RR is refused (no root, no CAP_SYS_NICE, a container
//! without real-time budget), quorumd falls back to `priority` (default `max`) instead of
//! ignoring it, and says in one warning what is lost and how to get it back; corosync logs only
//! that the call failed. Nothing is ever silently left as configured-but-not-applied.
#![forbid(unsafe_code)]

use quorumd_config::System;
use thread_priority::unix::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadSchedulePolicy,
};
use thread_priority::ThreadPriority;
use tracing::{info, warn};

/// The nice value `priority` names (the config parser has checked its form).
pub fn nice_of(priority: &str) -> i32 {
    match priority {
        "max" => -20,
        "min" => 19,
        n => n.parse::<i32>().map_or(-20, |n| n.clamp(-20, 19)),
    }
}

/// Applies the configured scheduling to this (single-threaded) process. Call it before any
/// thread is started: threads inherit it.
pub fn apply(system: &System) {
    const LOST: &str = "under CPU starvation quorumd may then run late, and a token held up past \
        `token` costs a membership change; run it as root or with CAP_SYS_NICE (systemd: \
        AmbientCapabilities=CAP_SYS_NICE)";
    let priority = system.priority.as_deref().unwrap_or("max");
    if system.sched_rr.unwrap_or(true) {
        let rr = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin);
        match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Max, rr) {
            Ok(()) => {
                info!(target: "MAIN", "scheduling: SCHED_RR at the highest real-time priority (system.sched_rr)");
                return;
            }
            Err(e) => warn!(
                target: "MAIN",
                "system.sched_rr: could not switch to SCHED_RR ({e:?}); falling back to priority {priority}; {LOST}, or set sched_rr: no"
            ),
        }
    }
    let nice = nice_of(priority);
    match rustix::process::setpriority_process(None, nice) {
        Ok(()) => info!(target: "MAIN", "scheduling: normal, nice {nice} (system.priority: {priority})"),
        Err(e) => warn!(
            target: "MAIN",
            "system.priority: could not set nice {nice} ({e}); running at the inherited priority; {LOST}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::nice_of;

    #[test]
    fn priority_names_map_to_nice_values() {
        assert_eq!(nice_of("max"), -20);
        assert_eq!(nice_of("min"), 19);
        assert_eq!(nice_of("-5"), -5);
        assert_eq!(nice_of("7"), 7);
    }
}
