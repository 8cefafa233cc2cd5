//! Wall-clock membership latencies of real `quorumd` processes on loopback, seen by a client:
//! kill -9 of a node → quorum callback on a survivor; SIGTERM → callback; start → callback.
//! Median of several trials, for 3 and 5 nodes. Run through `bench/loopback` (release build).
#![allow(clippy::disallowed_methods)] // a benchmark: processes, clocks, files

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient, QuorumEvent, TrackFlags};

struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    procs: Vec<Option<Child>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.procs.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cluster {
    fn new(size: u32, token: u32) -> Cluster {
        let dir = std::env::temp_dir().join(format!("quorumd-bench-{}-{size}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let nodes: String = (1..=size)
            .map(|n| format!("  node {{\n    nodeid: {n}\n    ring0_addr: 127.0.0.{n}\n  }}\n"))
            .collect();
        std::fs::write(
            dir.join("corosync.conf"),
            format!("totem {{\n  version: 2\n  cluster_name: bench\n  token: {token}\n  crypto_cipher: aes256\n  crypto_hash: sha256\n  keyfile: {}\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n", dir.join("authkey").display()),
        )
        .unwrap();
        std::fs::write(dir.join("authkey"), [42u8; 256]).unwrap();
        std::fs::set_permissions(dir.join("authkey"), std::os::unix::fs::PermissionsExt::from_mode(0o400))
            .unwrap();
        let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("quorumd");
        let mut c = Cluster { dir, bin, procs: Vec::new() };
        for n in 1..=size {
            c.procs.push(None);
            c.start(n);
        }
        c
    }

    fn start(&mut self, n: u32) {
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(self.dir.join("corosync.conf"))
            .args(["--nodeid", &n.to_string(), "--socket"])
            .arg(self.dir.join(format!("n{n}.sock")))
            .arg("--state-dir")
            .arg(self.dir.join(format!("s{n}")))
            .env("QUORUMD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("quorumd (build it: cargo build --release -p quorumd)");
        self.procs[n as usize - 1] = Some(child);
    }

    fn signal(&mut self, n: u32, sig: &str) {
        if let Some(mut c) = self.procs[n as usize - 1].take() {
            let _ = Command::new("kill").args([sig, &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }

    fn client(&self, n: u32) -> QuorumClient {
        let start = Instant::now();
        loop {
            if let Ok(c) = QuorumClient::connect_with(self.dir.join(format!("n{n}.sock")), Model::V1) {
                c.track(TrackFlags::CURRENT | TrackFlags::CHANGES).unwrap();
                return c;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "node {n} never accepted a client");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Time from `t0` until `client` gets a quorum callback whose view has `members` nodes.
fn until_view(client: &QuorumClient, t0: Instant, members: usize) -> Duration {
    loop {
        match client.next_event() {
            Ok(QuorumEvent::Quorum { members: m, .. }) if m.len() == members => return t0.elapsed(),
            Ok(_) => {}
            Err(e) => panic!("client error {e:?}"),
        }
    }
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn trial(size: u32, token: u32) -> (Duration, Duration, Duration, Duration) {
    let t0 = Instant::now();
    let mut c = Cluster::new(size, token);
    let client = c.client(1);
    let form = until_view(&client, t0, size as usize);
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    c.signal(size, "-KILL");
    let crash = until_view(&client, t0, size as usize - 1);
    let t0 = Instant::now();
    c.start(size);
    let join = until_view(&client, t0, size as usize);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    c.signal(size, "-TERM");
    let leave = until_view(&client, t0, size as usize - 1);
    (form, crash, join, leave)
}

fn main() {
    let trials: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let token = 1000;
    println!("quorumd on loopback, crypto on, token {token} ms, median of {trials} trials, wall clock");
    println!("target: crash <= token + 300 = {} ms\n", token + 300);
    println!("{:>5} {:>10} {:>10} {:>10} {:>10}", "nodes", "form_ms", "crash_ms", "join_ms", "leave_ms");
    let sizes: Vec<u32> = std::env::var("QUORUMD_BENCH_SIZES")
        .ok()
        .map(|v| v.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![3, 5]);
    for size in sizes {
        let (mut form, mut crash, mut join, mut leave) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..trials {
            let (f, c, j, l) = trial(size, token);
            form.push(f);
            crash.push(c);
            join.push(j);
            leave.push(l);
        }
        let m = [median(form), median(crash), median(join), median(leave)];
        println!("{size:>5} {:>10.1} {:>10.1} {:>10.1} {:>10.1}", m[0], m[1], m[2], m[3]);
    }
}
