//! A node whose state directory is lost, or restored from an older copy, rejoins as fast as
//! after a normal restart (issue 11, item 1; docs/totem.md, "Node identity"). Real daemons on
//! loopback, crypto off.
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

mod wire_cluster;

use std::time::Duration;

use wire_cluster::{copy_dir, Cluster};

const ALL: [u64; 3] = [1, 2, 3];

/// Starts 3 nodes, restarts node 3 normally three times, then kills it with SIGKILL and calls
/// `damage` on its state directory before starting it again (after the survivors re-formed, or
/// at once); node 3 must be in the 3-node ring, as every node reports it, within 2 s of its
/// start.
fn restart_after(name: &str, at_once: bool, damage: impl FnOnce(&Cluster)) {
    let mut c = Cluster::new(name, 3);
    for n in 1..=3 {
        c.start(n);
    }
    c.wait_all(&[1, 2, 3], &ALL, Duration::from_secs(10));
    let old = c.dir.join("state3-old");
    copy_dir(&c.state_dir(3), &old);
    for _ in 0..3 {
        c.signal(3, "-TERM");
        c.wait_all(&[1, 2], &[1, 2], Duration::from_secs(5));
        c.start(3);
        c.wait_all(&[1, 2, 3], &ALL, Duration::from_secs(5));
    }
    c.signal(3, "-KILL");
    if !at_once {
        c.wait_all(&[1, 2], &[1, 2], Duration::from_secs(5));
    }
    damage(&c);
    c.start(3);
    let took = c.wait_all(&[3, 1, 2], &ALL, Duration::from_secs(2));
    eprintln!("{name}: node 3 back in the ring after {took:?}");
}

#[test]
fn a_node_whose_state_dir_was_wiped_rejoins_within_two_seconds() {
    restart_after("wiped", false, |c| std::fs::remove_dir_all(c.state_dir(3)).unwrap());
}

#[test]
fn a_node_whose_state_dir_was_wiped_and_that_restarts_at_once_rejoins_within_two_seconds() {
    restart_after("wiped-at-once", true, |c| std::fs::remove_dir_all(c.state_dir(3)).unwrap());
}

#[test]
fn a_node_whose_state_dir_was_restored_from_an_old_copy_rejoins_within_two_seconds() {
    restart_after("restored", false, |c| {
        let dir = c.state_dir(3);
        std::fs::remove_dir_all(&dir).unwrap();
        copy_dir(&c.dir.join("state3-old"), &dir);
    });
}
