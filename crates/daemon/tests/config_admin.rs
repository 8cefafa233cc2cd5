//! The configuration as an administrator meets it: `logging { }` sends the daemon's log where
//! it says, `--check-config` refuses what the start would refuse (with the same message), and
//! refused keys name their line. Real `quorumd` processes on 127.0.0.1; every process and
//! file is removed when a test ends, also when it fails.
#![allow(clippy::disallowed_methods)] // a test harness: processes, clocks, files

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

/// A temp dir holding one corosync.conf, and the daemon started on it (if any).
struct Setup {
    dir: PathBuf,
    child: Option<Child>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Setup {
    /// One node on 127.0.0.1; `totem` and `rest` are added to the file.
    fn new(name: &str, totem: &str, rest: &str) -> Setup {
        let dir = std::env::temp_dir().join(format!("quorumd-cfgadm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let s = Setup { dir, child: None };
        s.write(totem, rest);
        s
    }

    fn write(&self, totem: &str, rest: &str) {
        let port = free_port();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: cfgadm\n  crypto_cipher: none\n  crypto_hash: none\n{totem}  \
             interface {{\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n  node {{\n    nodeid: 1\n    \
             ring0_addr: 127.0.0.1\n  }}\n}}\nquorum {{\n  provider: corosync_votequorum\n}}\n{rest}"
        );
        std::fs::write(self.conf(), conf).unwrap();
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("corosync.conf")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn args(&self) -> Vec<std::ffi::OsString> {
        vec![
            "--config".into(),
            self.conf().into(),
            "--socket".into(),
            self.path("q.sock").into(),
            "--state-dir".into(),
            self.path("state").into(),
        ]
    }

    /// Starts the daemon, stderr to `stderr.log`, without QUORUMD_LOG.
    fn start(&mut self) {
        let err = std::fs::File::create(self.path("stderr.log")).unwrap();
        let child = Command::new(BIN)
            .args(self.args())
            .env_remove("QUORUMD_LOG")
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Runs the daemon to completion (it is expected to refuse to start).
    fn run(&self) -> Output {
        Command::new(BIN).args(self.args()).env_remove("QUORUMD_LOG").output().unwrap()
    }

    fn check(&self) -> Output {
        Command::new(BIN)
            .arg("--check-config")
            .arg(self.conf())
            .arg("--socket")
            .arg(self.path("q.sock"))
            .arg("--state-dir")
            .arg(self.path("state"))
            .output()
            .unwrap()
    }
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Waits until `path` contains `needle`; returns its text.
fn wait_for(path: &Path, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let t = std::fs::read_to_string(path).unwrap_or_default();
        if t.contains(needle) {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} never contained {needle:?}:\n{t}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_log_file_receives_the_log_and_stderr_stays_quiet() {
    let mut s = Setup::new("file", "", "");
    let log = s.path("quorumd.log");
    let logging = format!(
        "logging {{\n  to_stderr: no\n  to_syslog: no\n  to_logfile: yes\n  logfile: {}\n}}\n",
        log.display()
    );
    s.write("", &logging);
    s.start();
    let t = wait_for(&log, "This node is within the primary component");
    assert!(t.contains("[MAIN] quorumd"), "{t}");
    // timestamp defaults to hires, as in corosync: 2026-12-03T08:30:01.123Z
    let first = t.lines().next().unwrap();
    assert!(first.len() > 24 && first.as_bytes()[4] == b'-' && &first[23..25] == "Z ", "{first}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(std::fs::read_to_string(s.path("stderr.log")).unwrap(), "", "to_stderr: no");
}

#[test]
fn timestamp_off_logs_no_timestamps_and_debug_on_logs_debug() {
    let mut s = Setup::new("nostamp", "", "logging {\n  to_syslog: no\n  timestamp: off\n  debug: on\n}\n");
    s.start();
    let t = wait_for(&s.path("stderr.log"), "This node is within the primary component");
    for line in t.lines() {
        let level = line.split_whitespace().next().unwrap_or("");
        assert!(["error", "warning", "info", "debug"].contains(&level), "no timestamp first: {line}");
    }
    assert!(t.lines().any(|l| l.starts_with("debug ")), "{t}");
}

#[test]
fn a_subsystem_block_changes_only_its_subsystem() {
    let logging = "logging {\n  to_syslog: no\n  timestamp: off\n  logfile_priority: warning\n  \
                   logger_subsys {\n    subsys: QUORUM\n    logfile_priority: info\n  }\n}\n";
    let mut s = Setup::new("subsys", "", logging);
    s.start();
    let t = wait_for(&s.path("stderr.log"), "[QUORUM] This node is within the primary component");
    assert!(!t.contains("[MAIN] quorumd"), "MAIN's info lines are below warning: {t}");
}

#[test]
fn a_log_file_that_cannot_be_opened_stops_the_start_and_is_named() {
    let s =
        Setup::new("badlog", "", "logging {\n  to_logfile: yes\n  logfile: /proc/version/quorumd.log\n}\n");
    for (what, out) in [("start", s.run()), ("--check-config", s.check())] {
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{what}: {err}");
        assert!(err.contains("cannot open the log file /proc/version/quorumd.log"), "{what}: {err}");
    }
    assert!(!s.path("state").exists(), "a refused start creates nothing");
}

#[test]
fn check_config_refuses_a_missing_or_short_authkey_like_the_start() {
    let key = |s: &Setup| s.path("authkey");
    let s = Setup::new("authkey", "", "");
    let crypto =
        format!("  crypto_cipher: aes256\n  crypto_hash: sha256\n  keyfile: {}\n", key(&s).display());
    // The later crypto keys win over the none/none of the template.
    s.write(&crypto, "");
    for (bytes, needle) in [(None, "cannot read the authkey"), (Some(64), "the authkey")] {
        if let Some(n) = bytes {
            std::fs::write(key(&s), vec![7u8; n]).unwrap();
        }
        for (what, out) in [("--check-config", s.check()), ("start", s.run())] {
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(8), "{what} {bytes:?}: {err}");
            assert!(err.contains(needle) && err.contains(&key(&s).display().to_string()), "{what}: {err}");
        }
    }
    std::fs::write(key(&s), vec![7u8; 256]).unwrap();
    let out = s.check();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("crypto: on, authkey"), "{}", text(&out.stdout));
}

#[test]
fn check_config_refuses_a_node_address_that_is_not_local() {
    let s = Setup::new("notlocal", "", "");
    let conf = std::fs::read_to_string(s.conf()).unwrap().replace("127.0.0.1", "192.0.2.77");
    std::fs::write(s.conf(), conf).unwrap();
    let out = s.check();
    assert_eq!(out.status.code(), Some(8));
    assert!(text(&out.stderr).contains("none of the nodelist addresses is configured on this host"));
}

#[test]
fn check_config_refuses_an_unusable_state_dir() {
    let s = Setup::new("statedir", "", "");
    std::fs::write(s.path("state"), "a file, not a directory").unwrap();
    let out = s.check();
    assert_eq!(out.status.code(), Some(8));
    assert!(text(&out.stderr).contains("the state directory"), "{}", text(&out.stderr));
}

#[test]
fn timing_errors_cite_the_users_key_and_line() {
    let s = Setup::new("timing", "  token: 50\n", "");
    let out = s.check();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("corosync.conf:6:") && err.contains("token: 50 gives token_retransmit = 11 ms"),
        "{err}"
    );
    let s = Setup::new("consensus", "  consensus: 500\n  join: 2000\n", "");
    let err = text(&s.check().stderr);
    assert!(
        err.contains("corosync.conf:6:")
            && err.contains("must be at least join (join is 2000, set on line 7)"),
        "{err}"
    );
}

#[test]
fn a_second_link_is_shown_by_check_config_and_a_node_without_a_name_is_refused() {
    // Before: "redundant links are not supported yet" (line 14).
    let s = Setup::new("links", "", "");
    let conf = std::fs::read_to_string(s.conf())
        .unwrap()
        .replace("ring0_addr: 127.0.0.1\n", "ring0_addr: 127.0.0.1\n    ring1_addr: 127.0.1.1\n");
    std::fs::write(s.conf(), &conf).unwrap();
    let err = text(&s.check().stderr);
    // Corosync requires a name for every node when there is more than one link.
    assert!(err.contains("corosync.conf:11:") && err.contains("node 1 has no 'name'"), "{err}");
    std::fs::write(s.conf(), conf.replace("nodeid: 1\n", "nodeid: 1\n    name: one\n")).unwrap();
    let out = s.check();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{o}{}", text(&out.stderr));
    assert!(o.contains("links: 2, link_mode passive"), "{o}");
    assert!(
        o.contains(
            "  link 1: udp 127.0.1.1:5406, priority 1, knet_ping_interval 250 ms, knet_ping_timeout 500 ms, \
             knet_pong_count 2"
        ),
        "{o}"
    );
}

#[test]
fn a_valid_config_checks_valid_and_changes_nothing() {
    let s = Setup::new("valid", "", "");
    let out = s.check();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let conf = std::fs::read_to_string(s.conf()).unwrap();
    let port = conf.split("mcastport: ").nth(1).unwrap().lines().next().unwrap();
    assert!(o.contains("is valid") && o.contains(&format!("this node: 1 (127.0.0.1:{port})")), "{o}");
    assert!(!s.path("state").exists() && !s.path("q.sock").exists());
}

#[test]
fn totem_nodeid_chooses_this_node() {
    let s = Setup::new("nodeid", "", "");
    let two = std::fs::read_to_string(s.conf())
        .unwrap()
        .replace("  }\n}\nquorum", "  }\n  node {\n    nodeid: 2\n    ring0_addr: 127.0.0.2\n  }\n}\nquorum");
    std::fs::write(s.conf(), &two).unwrap();
    let err = text(&s.check().stderr);
    assert!(err.contains("several nodelist entries (1, 2)"), "both are local: {err}");
    std::fs::write(s.conf(), two.replace("  version: 2\n", "  version: 2\n  nodeid: 2\n")).unwrap();
    let out = s.check();
    assert!(
        text(&out.stdout).contains("this node: 2 (127.0.0.2:"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A loopback cluster of `n` nodes on 127.0.0.1..=n sharing one config file.
struct Ring {
    dir: PathBuf,
    port: u16,
    procs: Vec<(u32, Child)>,
}

impl Drop for Ring {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Ring {
    fn new(name: &str) -> Ring {
        let dir = std::env::temp_dir().join(format!("quorumd-cfgadm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Ring { dir, port: free_port(), procs: Vec::new() }
    }

    /// Writes the config of nodes `ids` with `quorum` lines.
    fn write(&self, ids: &[u32], quorum: &str) {
        let nodes: String = ids
            .iter()
            .map(|n| format!("  node {{\n    nodeid: {n}\n    ring0_addr: 127.0.0.{n}\n  }}\n"))
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: reload\n  crypto_cipher: none\n  crypto_hash: none\n  \
             interface {{\n    mcastport: {}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n{quorum}}}\n\
             logging {{\n  to_syslog: no\n  timestamp: off\n}}\n",
            self.port
        );
        std::fs::write(self.dir.join("corosync.conf"), conf).unwrap();
    }

    fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default()
    }

    fn start(&mut self, n: u32) {
        let log = std::fs::File::create(self.dir.join(format!("n{n}.log"))).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(self.dir.join("corosync.conf"))
            .args(["--nodeid", &n.to_string(), "--socket"])
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .env("QUORUMD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((n, child));
    }

    fn hup(&self, n: u32) {
        let pid = self.pid(n);
        assert!(Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap().success());
    }

    fn pid(&self, n: u32) -> u32 {
        self.procs.iter().find(|(id, _)| *id == n).map(|(_, c)| c.id()).unwrap()
    }

    fn alive(&mut self, n: u32) -> bool {
        let c = self.procs.iter_mut().find(|(id, _)| *id == n).map(|(_, c)| c).unwrap();
        c.try_wait().unwrap().is_none()
    }

    /// (members, quorate) node `n` reports.
    fn view(&self, n: u32) -> Option<(Vec<u64>, bool)> {
        let c = quorumd_client::QuorumClient::connect_with(self.socket(n), quorumd_client::Model::V1).ok()?;
        let status = c.status().ok()?;
        let list = status.split("\"members\":[").nth(1)?.split(']').next()?;
        let members = list.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
        Some((members, c.getquorate().ok()?))
    }

    fn client(&self, n: u32) -> quorumd_client::QuorumClient {
        quorumd_client::QuorumClient::connect_with(self.socket(n), quorumd_client::Model::V1).unwrap()
    }

    fn wait(&self, n: u32, members: &[u64]) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.view(n) == Some((members.to_vec(), true)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("node {n} never reported {members:?} quorate (last {:?})\n{}", self.view(n), self.log(n));
    }
}

#[test]
fn sighup_adds_a_fourth_node_to_a_running_cluster_without_restarting_the_three() {
    let mut r = Ring::new("add4");
    r.write(&[1, 2, 3], "");
    for n in 1..=3 {
        r.start(n);
    }
    for n in 1..=3 {
        r.wait(n, &[1, 2, 3]);
    }
    let pids: Vec<u32> = (1..=3).map(|n| r.pid(n)).collect();
    // A file with an error changes nothing and the log names its line.
    std::fs::write(r.dir.join("corosync.conf"), "totem {\n  version: 2\n  tokn: 5\n}\n").unwrap();
    r.hup(1);
    let t = wait_for(&r.dir.join("n1.log"), "configuration reload refused, nothing changed");
    assert!(t.contains("corosync.conf:3: unknown key 'tokn'"), "{t}");
    // The same through a client request (quorumtool reload): the answer says why.
    let (_, why) = r.client(2).reload().unwrap().unwrap_err();
    assert!(why.contains("corosync.conf:3: unknown key 'tokn'"), "{why}");
    // Node 4 is added to the file and every running node is told: two by SIGHUP, one by
    // a client request.
    r.write(&[1, 2, 3, 4], "");
    for n in 1..=2 {
        r.hup(n);
    }
    let done = r.client(3).reload().unwrap().unwrap();
    assert!(done.ends_with("reloaded: nodes added: 4; expected votes: 3 -> 4"), "{done}");
    for n in 1..=3 {
        let t =
            wait_for(&r.dir.join(format!("n{n}.log")), "reloaded: nodes added: 4; expected votes: 3 -> 4");
        assert!(t.contains("[MAIN]"), "{t}");
    }
    r.start(4);
    for n in 1..=4 {
        r.wait(n, &[1, 2, 3, 4]);
    }
    for (i, n) in (1..=3).enumerate() {
        assert!(r.alive(n) && r.pid(n) == pids[i], "node {n} was not restarted");
    }
    // Removing a node that is a member is refused; once it is down, it may go.
    r.write(&[1, 2, 3], "");
    r.hup(1);
    let t =
        wait_for(&r.dir.join("n1.log"), "node 4 is a member of the current ring: stop it before removing it");
    assert!(t.contains("reload refused"), "{t}");
    let (_, mut four) = r.procs.pop().unwrap();
    let _ = four.kill();
    let _ = four.wait();
    r.wait(1, &[1, 2, 3]);
    r.hup(1);
    wait_for(&r.dir.join("n1.log"), "reloaded: nodes removed: 4; expected votes: 4 -> 3");
    // Logging changes too: node 1 now also writes a log file.
    let file = r.dir.join("reloaded.log");
    let conf = std::fs::read_to_string(r.dir.join("corosync.conf")).unwrap().replace(
        "  timestamp: off\n",
        &format!("  timestamp: off\n  to_logfile: yes\n  logfile: {}\n", file.display()),
    );
    std::fs::write(r.dir.join("corosync.conf"), conf).unwrap();
    r.hup(1);
    wait_for(&file, "[MAIN] configuration");
    for n in 1..=3 {
        assert!(r.alive(n), "node {n} still runs");
    }
}
