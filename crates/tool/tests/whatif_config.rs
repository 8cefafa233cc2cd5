//! `quorumtool what-if` reads a configuration as the daemon does: the `uidgid.d/` drop-ins
//! beside it, and the node parameters from the daemon's own `NodeParams::from_config` (so a
//! configuration the daemon refuses is refused here too, with the same message).
#![allow(clippy::disallowed_methods)] // a test harness: files, processes

mod common;

use common::{stderr, stdout, tool, Scratch};

fn write(dir: &Scratch, n: u32, extra: &[&str]) -> String {
    let path = dir.0.join("corosync.conf");
    std::fs::write(&path, common::config(n, 5405, extra)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn what_if_reads_the_uidgid_drop_ins_and_names_a_broken_one() {
    let dir = Scratch::new("whatif-dropin");
    let conf = write(&dir, 3, &[]);
    std::fs::create_dir_all(dir.0.join("uidgid.d")).unwrap();
    let drop_in = dir.0.join("uidgid.d/pacemaker");
    std::fs::write(&drop_in, "uidgid {\n  uid:\n}\n").unwrap();
    let out = tool(&["what-if", "--config", &conf, "--down", "3"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(err.contains(&format!("{}:2", drop_in.display())), "{err}");
    std::fs::write(&drop_in, "uidgid {\n  uid: 1000\n}\n").unwrap();
    let out = tool(&["what-if", "--config", &conf, "--down", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn what_if_refuses_what_the_daemon_refuses_with_the_same_message() {
    let dir = Scratch::new("whatif-timing");
    let conf = write(&dir, 3, &[]);
    let text = std::fs::read_to_string(&conf).unwrap().replace("token: 500", "token: 50");
    std::fs::write(&conf, text).unwrap();
    let out = tool(&["what-if", "--config", &conf, "--down", "3"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("corosync.conf:6:12: token: 50 gives token_retransmit = 11 ms"), "{err}");
}
