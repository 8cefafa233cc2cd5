//! Real `quorumd` processes on loopback (127.0.0.1–N, one UDP port, one temp dir per node):
//! membership, failure detection, clean leave, crypto, hostile datagrams, access control and
//! configuration errors (issue: the daemon; corosync-behaviour §2.5, §4.3, §5, §6.1). Every process and
//! file is removed when a test ends, also when it fails.
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

struct Cluster {
    dir: PathBuf,
    port: u16,
    procs: Vec<(u32, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    fn new(name: &str, size: u32, extra_totem: &str, quorum: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("quorumd-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let nodes: String = (1..=size)
            .map(|n| {
                format!("  node {{\n    nodeid: {n}\n    ring0_addr: 127.0.0.{n}\n    name: n{n}\n  }}\n")
            })
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {name}\n{extra_totem}  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n{quorum}}}\n"
        );
        std::fs::write(dir.join("corosync.conf"), conf).unwrap();
        Cluster { dir, port, procs: Vec::new() }
    }

    fn plain(name: &str, size: u32) -> Cluster {
        Cluster::new(
            name,
            size,
            "  crypto_cipher: none\n  crypto_hash: none\n",
            "  provider: corosync_votequorum\n",
        )
    }

    fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    fn start_with(&mut self, n: u32, config: &Path) {
        let log = std::fs::File::create(self.dir.join(format!("n{n}.log"))).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(["--nodeid", &n.to_string(), "--socket"])
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .env("QUORUMD_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((n, child));
    }

    fn start(&mut self, n: u32) {
        let conf = self.dir.join("corosync.conf");
        self.start_with(n, &conf);
    }

    fn signal(&mut self, n: u32, sig: &str) {
        let pos = self.procs.iter().position(|(id, _)| *id == n).unwrap();
        let (_, mut child) = self.procs.remove(pos);
        let _ = Command::new("kill").args([sig, &child.id().to_string()]).status();
        let _ = child.wait();
    }

    fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default()
    }

    /// The members node `n` reports, once it accepts clients.
    fn members(&self, n: u32) -> Option<Vec<u64>> {
        let c = QuorumClient::connect_with(self.socket(n), Model::V1).ok()?;
        let status = c.status().ok()?;
        let list = status.split("\"members\":[").nth(1)?.split(']').next()?;
        Some(list.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect())
    }

    fn quorate(&self, n: u32) -> Option<bool> {
        QuorumClient::connect_with(self.socket(n), Model::V1).ok()?.getquorate().ok()
    }

    /// Waits until node `n` reports exactly `want`; returns how long it took.
    fn wait_members(&self, n: u32, want: &[u64], limit: Duration) -> Duration {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.members(n).as_deref() == Some(want) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "node {n} never reported members {want:?} (last: {:?})\nlog:\n{}",
            self.members(n),
            self.log(n)
        );
    }
}

#[test]
fn three_nodes_form_one_quorate_ring_and_survivors_notice_a_kill() {
    let mut c = Cluster::plain("kill", 3);
    for n in 1..=3 {
        c.start(n);
    }
    for n in 1..=3 {
        c.wait_members(n, &[1, 2, 3], Duration::from_secs(10));
        assert_eq!(c.quorate(n), Some(true));
    }
    c.signal(3, "-KILL");
    // token 1000 + consensus 200: well inside 2.5 s even on a loaded machine.
    let took = c.wait_members(1, &[1, 2], Duration::from_secs(5));
    assert!(took < Duration::from_millis(2500), "crash noticed after {took:?}");
    c.wait_members(2, &[1, 2], Duration::from_secs(2));
    assert_eq!(c.quorate(1), Some(true), "2 of 3 votes");
    c.start(3);
    c.wait_members(1, &[1, 2, 3], Duration::from_secs(5));
}

#[test]
fn sigterm_leaves_cleanly_and_the_others_reform_at_once() {
    let mut c = Cluster::plain("leave", 3);
    for n in 1..=3 {
        c.start(n);
    }
    c.wait_members(1, &[1, 2, 3], Duration::from_secs(10));
    c.signal(2, "-TERM");
    let took = c.wait_members(1, &[1, 3], Duration::from_secs(3));
    assert!(took < Duration::from_millis(500), "leave noticed after {took:?}");
    assert!(!c.socket(2).exists(), "the socket is removed on exit");
}

#[test]
fn a_lone_node_of_three_is_not_quorate() {
    let mut c = Cluster::plain("lone", 3);
    c.start(1);
    c.wait_members(1, &[1], Duration::from_secs(10));
    assert_eq!(c.quorate(1), Some(false));
}

#[test]
fn crypto_with_one_key_forms_a_ring_and_a_wrong_key_is_kept_out() {
    let mut c = Cluster::new(
        "crypto",
        3,
        "  crypto_cipher: aes256\n  crypto_hash: sha256\n  keyfile: KEYFILE\n",
        "  provider: corosync_votequorum\n",
    );
    let good = c.dir.join("authkey");
    std::fs::write(&good, (0..=255u8).collect::<Vec<u8>>()).unwrap();
    std::fs::set_permissions(&good, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
    let bad = c.dir.join("badkey");
    std::fs::write(&bad, vec![7u8; 256]).unwrap();
    let conf = std::fs::read_to_string(c.dir.join("corosync.conf")).unwrap();
    std::fs::write(c.dir.join("corosync.conf"), conf.replace("KEYFILE", good.to_str().unwrap())).unwrap();
    std::fs::write(c.dir.join("bad.conf"), conf.replace("KEYFILE", bad.to_str().unwrap())).unwrap();
    c.start(1);
    c.start(2);
    let bad_conf = c.dir.join("bad.conf");
    c.start_with(3, &bad_conf);
    c.wait_members(1, &[1, 2], Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(c.members(1).as_deref(), Some(&[1, 2][..]), "the node with the wrong key stays out");
    assert_eq!(c.members(3).as_deref(), Some(&[3][..]));
    assert!(c.log(1).contains("key"), "the refusal is logged with its reason:\n{}", c.log(1));
}

#[test]
fn garbage_datagrams_change_nothing() {
    let mut c = Cluster::plain("garbage", 2);
    c.start(1);
    c.start(2);
    c.wait_members(1, &[1, 2], Duration::from_secs(10));
    let before = QuorumClient::connect_with(c.socket(1), Model::V1).unwrap().status().unwrap();
    let ring = |s: &str| s.split("\"ring_id\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    // From a nodelist address (127.0.0.2) and from one outside it (127.0.0.9).
    for src in ["127.0.0.2:0", "127.0.0.9:0"] {
        let s = UdpSocket::bind(src).unwrap();
        let mut seed = 0x1234_5678u32;
        for len in [0usize, 1, 27, 28, 29, 64, 500, 1400, 9000] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = s.send_to(&bytes, ("127.0.0.1", c.port));
        }
        // A well-formed header with a wrong magic and one for another cluster.
        let mut hdr = vec![0x51, 0x44, 1, 3, 0, 0, 0, 9, 0, 0, 0, 2];
        hdr.extend_from_slice(&[0; 16]);
        let _ = s.send_to(&hdr, ("127.0.0.1", c.port));
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = QuorumClient::connect_with(c.socket(1), Model::V1).unwrap().status().unwrap();
    assert_eq!(ring(&before), ring(&after), "no membership change");
    assert_eq!(c.members(1).as_deref(), Some(&[1, 2][..]));
}

#[test]
fn configuration_errors_name_the_file_and_line_and_change_nothing() {
    let dir = std::env::temp_dir().join(format!("quorumd-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("corosync.conf");
    std::fs::write(
        &conf,
        "totem {\n  version: 2\n  cluster_name: x\n}\nnodelist {\n  node {\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n  }\n}\nquorum {\n  provider: corosync_votequorum\n  two_nodes: 1\n}\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("--check-config").arg(&conf).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("corosync.conf:13"), "{err}");
    assert!(err.contains("two_node"), "suggests the right key: {err}");
    let out =
        Command::new(BIN).arg("--config").arg(&conf).arg("--state-dir").arg(dir.join("s")).output().unwrap();
    assert_eq!(out.status.code(), Some(8));
    assert!(!dir.join("s").exists(), "a refused config creates nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn five_nodes_form_and_a_restarted_node_continues_its_ring_seq() {
    let mut c = Cluster::plain("five", 5);
    for n in 1..=5 {
        c.start(n);
    }
    for n in 1..=5 {
        c.wait_members(n, &[1, 2, 3, 4, 5], Duration::from_secs(10));
    }
    let ringfile = c.dir.join("state5").join("ringid_5");
    let stored = |p: &Path| u64::from_ne_bytes(std::fs::read(p).unwrap().try_into().unwrap());
    let before = stored(&ringfile);
    c.signal(5, "-KILL");
    c.wait_members(1, &[1, 2, 3, 4], Duration::from_secs(5));
    c.start(5);
    c.wait_members(1, &[1, 2, 3, 4, 5], Duration::from_secs(5));
    assert!(stored(&ringfile) > before, "the restarted node went past its persisted ring seq");
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_never_stalls_the_others() {
    use quorumd_proto::ipc::{encode, Frame, Request};
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let mut c = Cluster::plain("slow", 1);
    c.start(1);
    c.wait_members(1, &[1], Duration::from_secs(10));
    let mut slow = UnixStream::connect(c.socket(1)).unwrap();
    slow.write_all(&encode(&Frame::Request(Request::Init { model: 1 }))).unwrap();
    slow.set_write_timeout(Some(Duration::from_millis(200))).unwrap();
    let status = encode(&Frame::Request(Request::Status));
    let start = Instant::now();
    let mut cut_off = false;
    while start.elapsed() < Duration::from_secs(20) {
        // Ask for status over and over without ever reading an answer.
        if slow.write_all(&status).is_err() {
            cut_off = true;
            break;
        }
        if start.elapsed().as_millis() % 50 == 0 {
            // Meanwhile another client is served promptly.
            let t = Instant::now();
            assert!(c.members(1).is_some(), "the daemon stopped serving others");
            assert!(t.elapsed() < Duration::from_secs(1), "another client waited {:?}", t.elapsed());
        }
    }
    assert!(cut_off, "the slow client was never disconnected");
    assert!(c.members(1).is_some());
}

/// Clients that write part of a frame and hang up at once: the data and the hang-up reach the
/// daemon in one readiness event, no reply is ever due, so only reading on to end of file
/// forgets them (the daemon stops reading after a short read otherwise). The status document's
/// `clients` must come back to 1 (the connection asking).
#[test]
fn clients_that_hang_up_right_after_writing_are_all_forgotten() {
    use quorumd_proto::ipc::{encode, Frame, Request};
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let mut c = Cluster::plain("hangup", 1);
    c.start(1);
    c.wait_members(1, &[1], Duration::from_secs(10));
    let partial = encode(&Frame::Request(Request::GetQuorate));
    for _ in 0..50 {
        let mut s = UnixStream::connect(c.socket(1)).unwrap();
        s.write_all(&partial[..partial.len() - 1]).unwrap();
    }
    let clients = || {
        let status = QuorumClient::connect_with(c.socket(1), Model::V1).ok()?.status().ok()?;
        status
            .split("\"clients\":")
            .nth(1)?
            .split(|ch: char| !ch.is_ascii_digit())
            .next()?
            .parse::<u64>()
            .ok()
    };
    let start = Instant::now();
    while clients() != Some(1) {
        assert!(start.elapsed() < Duration::from_secs(5), "sessions left behind: {:?}", clients());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (nice, rt_priority, policy) of a process, from /proc/PID/stat.
fn sched_of(pid: u32) -> (i64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // fields[0] is field 3 (state): nice is field 19, rt_priority 40, policy 41.
    (fields[16].parse().unwrap(), fields[37].parse().unwrap(), fields[38].parse().unwrap())
}

#[test]
fn scheduling_follows_sched_rr_and_priority() {
    let mut c = Cluster::plain("sched", 2);
    let base = std::fs::read_to_string(c.dir.join("corosync.conf")).unwrap();
    let niced = c.dir.join("niced.conf");
    std::fs::write(&niced, format!("{base}system {{\n  sched_rr: no\n  priority: 5\n}}\n")).unwrap();
    c.start(1);
    c.start_with(2, &niced);
    c.wait_members(1, &[1, 2], Duration::from_secs(10));
    let pid = |n: u32| c.procs.iter().find(|(id, _)| *id == n).unwrap().1.id();
    // The default, sched_rr: yes: SCHED_RR (2) at 99 when permitted, else a warning that says
    // what is lost, and the fallback to `priority` max.
    let (_, rt, policy) = sched_of(pid(1));
    if rustix_is_root() {
        assert_eq!((policy, rt), (2, 99), "root runs under SCHED_RR at the highest priority");
        assert!(c.log(1).contains("SCHED_RR at the highest real-time priority"), "{}", c.log(1));
    } else {
        assert_eq!(policy, 0);
        assert!(c.log(1).contains("could not switch to SCHED_RR"), "{}", c.log(1));
    }
    // sched_rr: no, priority: 5: normal scheduling at nice 5 (anyone may lower their priority).
    assert_eq!(sched_of(pid(2)), (5, 0, 0), "{}", c.log(2));
    assert!(c.log(2).contains("nice 5 (system.priority: 5)"), "{}", c.log(2));
}

/// Robustness under a flood of refused datagrams from a nodelist address. (One sender cannot
/// outpace the daemon's reads here, so this does not single out the 256-datagram batch cap;
/// it checks that a flood costs neither the ring nor the clients.)
#[test]
fn a_datagram_flood_neither_stalls_clients_nor_breaks_the_ring() {
    let mut c = Cluster::plain("flood", 2);
    c.start(1);
    c.start(2);
    c.wait_members(1, &[1, 2], Duration::from_secs(10));
    let port = c.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // From a nodelist address, so every datagram is decoded (and refused) by node 1.
            let s = UdpSocket::bind("127.0.0.2:0").unwrap();
            let garbage = vec![0xa5u8; 200];
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..64 {
                    if s.send_to(&garbage, ("127.0.0.1", port)).is_ok() {
                        sent += 1;
                    }
                }
            }
            sent
        })
    };
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(3) {
        let t = Instant::now();
        assert_eq!(c.members(1).as_deref(), Some(&[1, 2][..]), "node 1 lost its ring or its clients");
        worst = worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = flood.join().unwrap();
    assert!(sent > 1000, "the flood did not happen ({sent} datagrams)");
    assert!(worst < Duration::from_secs(1), "a client waited {worst:?} during the flood of {sent} datagrams");
    assert_eq!(c.members(2).as_deref(), Some(&[1, 2][..]));
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}
