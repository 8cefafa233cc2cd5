//! Real `quorumd` processes in network namespaces (root only, as CI is): one namespace per
//! node, each with a veth into a bridge that lives in a namespace of its own, and addresses
//! that exist only inside those namespaces (the harness is `tests/support/netns.rs`). A
//! partition is made by taking a node's veth down on the bridge side; the majority must stay
//! quorate, the minority must not, and a heal must merge them again. Namespaces and processes
//! are removed when the test ends, pass or fail.
#![allow(clippy::disallowed_methods)] // a test harness: processes, files, clocks

use std::time::Duration;

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/netns.rs"]
mod netns;

use netns::NetCluster;

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

fn main() {
    prereq::run(vec![prereq::needs(
        "a_partition_leaves_the_majority_quorate_and_the_minority_not_then_heals",
        netns::can_run,
        a_partition_leaves_the_majority_quorate_and_the_minority_not_then_heals,
    )]);
}

fn a_partition_leaves_the_majority_quorate_and_the_minority_not_then_heals() {
    let mut c = NetCluster::new(BIN, "qd", 3, 1);
    c.wait_timeout = Duration::from_secs(15);
    c.write_config("netns", "");
    for n in 1..=3 {
        c.start(n);
    }
    for n in 1..=3 {
        c.wait(n, &[1, 2, 3], true);
    }
    c.link(3, 0, false);
    c.wait(1, &[1, 2], true);
    c.wait(2, &[1, 2], true);
    c.wait(3, &[3], false);
    c.link(3, 0, true);
    for n in 1..=3 {
        c.wait(n, &[1, 2, 3], true);
    }
}
