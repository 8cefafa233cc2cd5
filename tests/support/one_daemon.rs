//! One quorumd on 127.0.0.1 in a temp dir of its own (services, reload_status): started on a
//! one-node corosync.conf, killed and removed when dropped, pass or fail.
#![allow(dead_code)] // each test uses part of it
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};

/// One daemon on 127.0.0.1 in its own temp dir.
#[derive(Debug)]
pub struct Daemon {
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    /// Starts a one-node cluster with `extra` appended to corosync.conf, and waits until it
    /// accepts clients.
    pub fn start(name: &str, extra: &str) -> Daemon {
        let dir = std::env::temp_dir().join(format!("quorumd-one-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {name}\n  crypto_cipher: none\n  crypto_hash: none\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n  node {{\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n    name: n1\n  }}\n}}\nquorum {{\n  provider: corosync_votequorum\n}}\n{extra}"
        );
        std::fs::write(dir.join("corosync.conf"), conf).unwrap();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_quorumd"))
            .arg("--config")
            .arg(dir.join("corosync.conf"))
            .args(["--nodeid", "1", "--socket"])
            .arg(dir.join("sock"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .env("QUORUMD_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Daemon { dir, child: Some(child) };
        let start = Instant::now();
        while QuorumClient::connect_with(d.socket(), Model::V1).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "daemon never served:\n{}", d.log());
            std::thread::sleep(Duration::from_millis(10));
        }
        d
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The daemon's corosync.conf.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("corosync.conf")
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGHUP: reload the configuration.
    pub fn hup(&self) {
        let pid = self.pid().expect("the daemon runs");
        let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    }
}
