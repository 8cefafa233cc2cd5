//! `quorum_getquorate` throughput: through the shared state page and through the round trip,
//! with 1 and 4 client threads (one handle each), via the C-semantics handle table (what
//! `libquorum.so.5` calls) and via `QuorumClient` directly.
//!
//! Runs against the in-process fake daemon, or against a real daemon when `QUORUMD_SOCKET`
//! is set. Prints calls/s and ns/call; asserts nothing about time. Corosync 3.1.7 takes about
//! 7.6 µs per call (shared-memory IPC round trip); the page path aims for under 0.76 µs.
//!
//! `cargo bench -p quorumd-client --bench getquorate`
#![allow(clippy::disallowed_methods, missing_docs)]

#[path = "../tests/fake/mod.rs"]
mod fake;

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use quorumd_client::classic::{self, ModelCallbacks};
use quorumd_client::{Model, QuorumClient};

const RUN: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    Page,
    RoundTrip,
    ClientPage,
}

fn one_thread(socket: PathBuf, path: Path, start: Arc<Barrier>) -> (u64, Duration) {
    let client = QuorumClient::connect_with(&socket, Model::V1).expect("connect");
    let (h, r) =
        classic::model_initialize_at(&socket, ModelCallbacks::V1 { quorum: None, nodelist: None }, 0);
    r.expect("init");
    start.wait();
    let t0 = Instant::now();
    let mut calls = 0u64;
    while t0.elapsed() < RUN {
        for _ in 0..1000 {
            let q = match path {
                Path::Page => classic::getquorate(h),
                Path::RoundTrip => classic::getquorate_round_trip(h),
                Path::ClientPage => client.getquorate(),
            };
            std::hint::black_box(q.expect("getquorate"));
        }
        calls += 1000;
    }
    let elapsed = t0.elapsed();
    classic::finalize(h).expect("finalize");
    (calls, elapsed)
}

fn measure(socket: &std::path::Path, path: Path, threads: usize) {
    let start = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (s, b) = (socket.to_path_buf(), Arc::clone(&start));
            thread::spawn(move || one_thread(s, path, b))
        })
        .collect();
    let results: Vec<(u64, Duration)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let calls: u64 = results.iter().map(|r| r.0).sum();
    let secs = results.iter().map(|r| r.1.as_secs_f64()).fold(0.0, f64::max);
    let per_thread_ns: f64 =
        results.iter().map(|r| r.1.as_nanos() as f64 / r.0 as f64).sum::<f64>() / results.len() as f64;
    println!(
        "{:<22} threads={threads}  {:>12.0} calls/s total  {:>9.1} ns/call per thread",
        format!("{path:?}"),
        calls as f64 / secs,
        per_thread_ns
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (fake, socket) = match std::env::var_os("QUORUMD_SOCKET") {
        Some(s) => (None, PathBuf::from(s)),
        None => {
            let f = fake::FakeDaemon::start(fake::Behaviour::default());
            let p = f.path.clone();
            (Some(f), p)
        }
    };
    println!(
        "getquorate against {} ({})",
        socket.display(),
        if fake.is_some() { "fake daemon" } else { "QUORUMD_SOCKET" }
    );
    if quick {
        println!("(not run: use cargo bench)");
        return;
    }
    for threads in [1, 4] {
        for path in [Path::Page, Path::ClientPage, Path::RoundTrip] {
            measure(&socket, path, threads);
        }
    }
}
