//! Latency of one IPC round trip (`getquorate` asked of the daemon, not read from the state
//! page) against a running daemon, for profiling with `strace -c` / `perf`: a fixed number of
//! calls, then calls/s and the median and 99th percentile of single calls.
//!
//! `QUORUMD_SOCKET=/path/q.sock cargo run --release -p quorumd --example ipc_roundtrip -- [CALLS]`
#![allow(clippy::disallowed_methods)] // a benchmark: clocks and the environment

use std::time::{Duration, Instant};

use quorumd_client::classic::{self, ModelCallbacks};
use quorumd_client::socket_path;

fn main() {
    let calls: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let callbacks = ModelCallbacks::V1 { quorum: None, nodelist: None };
    let (h, r) = classic::model_initialize_at(&socket_path(), callbacks, 0);
    r.expect("connect");
    let mut single = Vec::with_capacity(calls);
    let t0 = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        std::hint::black_box(classic::getquorate_round_trip(h).expect("getquorate"));
        single.push(t.elapsed());
    }
    let total = t0.elapsed();
    classic::finalize(h).expect("finalize");
    single.sort_unstable();
    let pct = |p: usize| single.get(calls * p / 100).copied().unwrap_or(Duration::ZERO);
    println!(
        "{calls} round trips: {:.0} calls/s, mean {:.1} us, median {:.1} us, p99 {:.1} us",
        calls as f64 / total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / calls as f64,
        pct(50).as_secs_f64() * 1e6,
        pct(99).as_secs_f64() * 1e6
    );
}
