//! Wall-clock membership latencies of real `quorumd` processes on loopback, seen by a client:
//! kill -9 of a node → quorum callback on a survivor; SIGTERM → callback; start → callback.
//! Median of several trials, for 3 and 5 nodes. Run through `bench/loopback` (release build).
//!
//! Environment (all optional):
//! - `QUORUMD_BENCH_SIZES`: cluster sizes, space separated (default `3 5`);
//! - `QUORUMD_BENCH_TOKEN`: write `token: N` into the config (default: no timing key at all,
//!   so the daemon's own defaults, derived from the node count, are what is measured);
//! - `QUORUMD_BENCH_TOTEM`: extra `totem { }` lines, `;` separated (e.g. `join: 100; consensus: 400`);
//! - `QUORUMD_BENCH_SYSTEM`: a `system { }` section with these lines, `;` separated (e.g.
//!   `sched_rr: no; priority: min` to keep the daemons off real-time scheduling and at nice 19
//!   on a shared machine; by default they run as corosync.conf's defaults say: SCHED_RR);
//! - `QUORUMD_BENCH_IDLE_SECS`: after formation, measure the whole cluster's CPU (every daemon's
//!   CPU time, from `/proc/PID/schedstat`, else utime + stime from `/proc/PID/stat`) over this
//!   many seconds of idling, and count the membership changes node 1 sees meanwhile (default 0:
//!   not measured);
//! - `QUORUMD_BENCH_TIMEOUT_SECS`: give up on a phase after this long (default 60);
//! - `QUORUMD_BENCH_LOG`: a log level; each daemon's log goes to `nN.log` in the cluster's
//!   directory, which is then kept (its path is printed).
#![allow(clippy::disallowed_methods)] // a benchmark: processes, clocks, files

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient, QuorumEvent, TrackFlags};

/// The kernel's `USER_HZ`: the unit of utime and stime in `/proc/PID/stat` (100 on Linux).
const USER_HZ: u64 = 100;

struct Opts {
    token: Option<u32>,
    totem_extra: Vec<String>,
    system: Vec<String>,
    idle: Duration,
    timeout: Duration,
    log: Option<String>,
}

impl Opts {
    fn from_env() -> Opts {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Opts {
            token: var("QUORUMD_BENCH_TOKEN").and_then(|v| v.trim().parse().ok()),
            totem_extra: var("QUORUMD_BENCH_TOTEM").map(|v| lines(&v)).unwrap_or_default(),
            system: var("QUORUMD_BENCH_SYSTEM").map(|v| lines(&v)).unwrap_or_default(),
            idle: Duration::from_secs(
                var("QUORUMD_BENCH_IDLE_SECS").and_then(|v| v.parse().ok()).unwrap_or(0),
            ),
            timeout: Duration::from_secs(
                var("QUORUMD_BENCH_TIMEOUT_SECS").and_then(|v| v.parse().ok()).unwrap_or(60),
            ),
            log: var("QUORUMD_BENCH_LOG"),
        }
    }
}

/// `a; b; c` → `["a", "b", "c"]`.
fn lines(v: &str) -> Vec<String> {
    v.split(';').map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    log: Option<String>,
    procs: Vec<Option<Child>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.procs.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.log.is_some() {
            println!("      (logs kept in {})", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Cluster {
    fn new(size: u32, opts: &Opts) -> Cluster {
        let dir = std::env::temp_dir().join(format!("quorumd-bench-{}-{size}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let nodes: String = (1..=size)
            .map(|n| format!("  node {{\n    nodeid: {n}\n    ring0_addr: 127.0.0.{n}\n  }}\n"))
            .collect();
        let mut timing = String::new();
        if let Some(token) = opts.token {
            timing.push_str(&format!("  token: {token}\n"));
        }
        for line in &opts.totem_extra {
            timing.push_str(&format!("  {line}\n"));
        }
        let system = if opts.system.is_empty() {
            String::new()
        } else {
            let body: String = opts.system.iter().map(|l| format!("  {l}\n")).collect();
            format!("system {{\n{body}}}\n")
        };
        std::fs::write(
            dir.join("corosync.conf"),
            format!("totem {{\n  version: 2\n  cluster_name: bench\n{timing}  crypto_cipher: aes256\n  crypto_hash: sha256\n  keyfile: {}\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n{system}", dir.join("authkey").display()),
        )
        .unwrap();
        std::fs::write(dir.join("authkey"), [42u8; 256]).unwrap();
        std::fs::set_permissions(dir.join("authkey"), std::os::unix::fs::PermissionsExt::from_mode(0o400))
            .unwrap();
        let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("quorumd");
        let mut c = Cluster { dir, bin, log: opts.log.clone(), procs: Vec::new() };
        for n in 1..=size {
            c.procs.push(None);
            c.start(n);
        }
        c
    }

    fn start(&mut self, n: u32) {
        let stderr = match &self.log {
            Some(_) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(format!("n{n}.log")))
                .map_or_else(|_| Stdio::null(), Stdio::from),
            None => Stdio::null(),
        };
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(self.dir.join("corosync.conf"))
            .args(["--nodeid", &n.to_string(), "--socket"])
            .arg(self.dir.join(format!("n{n}.sock")))
            .arg("--state-dir")
            .arg(self.dir.join(format!("s{n}")))
            .env("QUORUMD_LOG", self.log.as_deref().unwrap_or("warn"))
            .stdout(Stdio::null())
            .stderr(stderr)
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

    /// CPU time every running daemon has used so far, seconds.
    fn cpu_secs(&self) -> f64 {
        self.procs.iter().flatten().map(|c| proc_cpu_secs(c.id()).unwrap_or(0.0)).sum()
    }
}

/// CPU time one process has used: `/proc/PID/schedstat` (ns) where the kernel has it, else
/// utime + stime (fields 14 and 15 of `/proc/PID/stat`, in ticks of `USER_HZ`).
fn proc_cpu_secs(pid: u32) -> Option<f64> {
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/schedstat")) {
        if let Some(ns) = s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()) {
            return Some(ns as f64 / 1e9);
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ as f64)
}

/// Time from `t0` until `client` gets a quorum callback whose view has `members` nodes; an
/// error after `timeout` (with the last view seen).
fn until_view(
    client: &QuorumClient,
    t0: Instant,
    members: usize,
    timeout: Duration,
) -> Result<Duration, String> {
    let mut last = 0;
    loop {
        match client.try_next_event() {
            Ok(Some(QuorumEvent::Quorum { members: m, .. })) if m.len() == members => return Ok(t0.elapsed()),
            Ok(Some(QuorumEvent::Quorum { members: m, .. })) => last = m.len(),
            Ok(Some(_)) => {}
            Ok(None) => {
                if t0.elapsed() > timeout {
                    return Err(format!(
                        "no view of {members} nodes within {} s (last view seen: {last} nodes)",
                        timeout.as_secs()
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("client error {e:?}")),
        }
    }
}

/// Quorum callbacks pending on `client` (membership changes it was told about).
fn drain_views(client: &QuorumClient) -> usize {
    let mut n = 0;
    while let Ok(Some(ev)) = client.try_next_event() {
        n += usize::from(matches!(ev, QuorumEvent::Quorum { .. }));
    }
    n
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

struct Sample {
    form: Duration,
    /// CPU seconds every daemon together used from start until the view on node 1 was full.
    form_cpu: f64,
    crash: Duration,
    join: Duration,
    leave: Duration,
    /// Whole-cluster CPU while idle, percent of one core, and the view changes seen meanwhile.
    idle: Option<(f64, usize)>,
}

fn trial(size: u32, opts: &Opts) -> Result<Sample, String> {
    let t0 = Instant::now();
    let mut c = Cluster::new(size, opts);
    let client = c.client(1);
    let form = until_view(&client, t0, size as usize, opts.timeout).map_err(|e| format!("form: {e}"))?;
    let form_cpu = c.cpu_secs();
    std::thread::sleep(Duration::from_millis(500));
    let idle = (!opts.idle.is_zero()).then(|| {
        drain_views(&client);
        let (cpu0, w0) = (c.cpu_secs(), Instant::now());
        std::thread::sleep(opts.idle);
        let (cpu1, secs) = (c.cpu_secs(), w0.elapsed().as_secs_f64());
        ((cpu1 - cpu0).max(0.0) / secs * 100.0, drain_views(&client))
    });
    let t0 = Instant::now();
    c.signal(size, "-KILL");
    let crash =
        until_view(&client, t0, size as usize - 1, opts.timeout).map_err(|e| format!("crash: {e}"))?;
    let t0 = Instant::now();
    c.start(size);
    let join = until_view(&client, t0, size as usize, opts.timeout).map_err(|e| format!("join: {e}"))?;
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    c.signal(size, "-TERM");
    let leave =
        until_view(&client, t0, size as usize - 1, opts.timeout).map_err(|e| format!("leave: {e}"))?;
    Ok(Sample { form, form_cpu, crash, join, leave, idle })
}

fn main() {
    let trials: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let opts = Opts::from_env();
    let token = opts.token.unwrap_or(1000);
    let timing = match (opts.token, opts.totem_extra.is_empty()) {
        (None, true) => "default timing".to_string(),
        _ => {
            let mut keys: Vec<String> = opts.token.map(|t| format!("token: {t}")).into_iter().collect();
            keys.extend(opts.totem_extra.iter().cloned());
            keys.join(", ")
        }
    };
    let sched =
        if opts.system.is_empty() { "default scheduling".to_string() } else { opts.system.join(", ") };
    println!("quorumd on loopback, crypto on, {timing}, {sched}, median of {trials} trials, wall clock");
    println!("target: crash <= token + 300 = {} ms\n", token + 300);
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "nodes", "form_ms", "form_cpu_s", "crash_ms", "join_ms", "leave_ms", "idle_cpu%", "idle_views"
    );
    let sizes: Vec<u32> = std::env::var("QUORUMD_BENCH_SIZES")
        .ok()
        .map(|v| v.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![3, 5]);
    for size in sizes {
        let mut samples = Vec::new();
        for _ in 0..trials {
            match trial(size, &opts) {
                Ok(s) => samples.push(s),
                Err(e) => println!("{size:>5} trial failed: {e}"),
            }
        }
        if samples.is_empty() {
            continue;
        }
        let pick = |f: fn(&Sample) -> Duration| median(samples.iter().map(f).collect());
        let m = [pick(|s| s.form), pick(|s| s.crash), pick(|s| s.join), pick(|s| s.leave)];
        let mut form_cpu: Vec<f64> = samples.iter().map(|s| s.form_cpu).collect();
        form_cpu.sort_by(f64::total_cmp);
        let form_cpu = form_cpu[form_cpu.len() / 2];
        let mut idle: Vec<(f64, usize)> = samples.iter().filter_map(|s| s.idle).collect();
        idle.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (cpu, views) = match idle.get(idle.len() / 2) {
            Some((cpu, views)) => (format!("{cpu:.1}"), views.to_string()),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{size:>5} {:>10.1} {form_cpu:>10.2} {:>10.1} {:>10.1} {:>10.1} {cpu:>10} {views:>10}",
            m[0], m[1], m[2], m[3]
        );
    }
}
