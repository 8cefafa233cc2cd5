//! CPG over real `quorumd` daemons on loopback (127.0.0.1–3, one temp dir per node), with a
//! small test client speaking the IPC vocabulary of `quorumd_proto::svc_cpg` directly: join,
//! multicast (small and chunked), the same deliveries in the same order on every node with
//! self-delivery, PROCDOWN when a client's connection closes, NODEDOWN when a daemon is
//! killed, and the CPG ring id equal to the quorum service's. Every process and file is
//! removed when the test ends, also when it fails.
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use quorumd_proto::ipc::{self, WireRingId};
use quorumd_proto::svc_cpg::{
    guarantee, mcast_frames, reason, CpgAddress, CpgEvent, CpgRequest, CpgResponse, Reassembly, CPG_MODEL_V1,
};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

mod wire_cluster;
use wire_cluster::Cluster;

/// A cluster of `size` nodes on loopback, every node started.
fn up(name: &str, size: u32) -> Cluster {
    let mut c = Cluster::new(&format!("cpg-{name}"), size);
    for n in 1..=size {
        c.start(n);
    }
    c
}

/// A CPG session on node `n`, retrying while the daemon is not ready.
fn session(c: &Cluster, n: u32) -> Session {
    let start = Instant::now();
    loop {
        match Session::open(&c.socket(n)) {
            Ok(s) => return s,
            Err(e) if start.elapsed() > Duration::from_secs(20) => {
                panic!("node {n}: no CPG session ({e})\n{}", c.log(n))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A CPG client over the raw IPC.
struct Session {
    sock: UnixStream,
    events: OwnedFd,
    asm: Reassembly,
}

fn read_frame(sock: &mut UnixStream) -> Vec<u8> {
    let mut buf = vec![0u8; 4];
    sock.read_exact(&mut buf).unwrap();
    let total = 4 + u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    assert!(total <= ipc::FRAME_MAX, "frame of {total} bytes");
    buf.resize(total, 0);
    sock.read_exact(&mut buf[4..]).unwrap();
    buf
}

impl Session {
    fn open(path: &std::path::Path) -> Result<Session, String> {
        let sock = UnixStream::connect(path).map_err(|e| e.to_string())?;
        let init = CpgRequest::Init { model: CPG_MODEL_V1, flags: 0 }.encode().unwrap();
        (&sock).write_all(&init).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 64];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = rustix::net::recvmsg(
            &sock,
            &mut [std::io::IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .map_err(|e| e.to_string())?
        .bytes;
        let mut fds = Vec::new();
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(r) = msg {
                fds.extend(r);
            }
        }
        buf.truncate(got);
        let mut sock = sock;
        while ipc::frame_len(&buf).map_err(|e| e.to_string())?.is_none() {
            let mut more = [0u8; 64];
            let n = sock.read(&mut more).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed".into());
            }
            buf.extend_from_slice(&more[..n]);
        }
        match CpgResponse::decode(&buf).map_err(|e| e.to_string())? {
            CpgResponse::Init { error: 1 } => {}
            other => return Err(format!("{other:?}")),
        }
        let events = fds.into_iter().next().ok_or("no event socket")?;
        Ok(Session { sock, events, asm: Reassembly::default() })
    }

    fn request(&mut self, req: &CpgRequest) -> CpgResponse {
        self.sock.write_all(&req.encode().unwrap()).unwrap();
        CpgResponse::decode(&read_frame(&mut self.sock)).unwrap()
    }

    fn join(&mut self, group: &str, pid: u32) {
        let r = self.request(&CpgRequest::Join { group: group.into(), pid });
        assert_eq!(r, CpgResponse::Join { error: 1 });
    }

    /// Sends a message, retrying on TRY_AGAIN.
    fn mcast(&mut self, payload: &[u8]) {
        let frames = mcast_frames(guarantee::AGREED, payload).unwrap();
        let start = Instant::now();
        loop {
            for f in &frames {
                self.sock.write_all(f).unwrap();
            }
            match CpgResponse::decode(&read_frame(&mut self.sock)).unwrap() {
                CpgResponse::Mcast { error: 1 } => return,
                CpgResponse::Mcast { error: 6 } if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                other => panic!("mcast: {other:?}"),
            }
        }
    }

    /// The next whole event (deliveries reassembled), within `limit`.
    fn next(&mut self, limit: Duration) -> Option<Ev> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let ts = Timespec { tv_sec: left.as_secs() as i64, tv_nsec: i64::from(left.subsec_nanos()) };
            let mut fds = [PollFd::new(&self.events, PollFlags::IN)];
            if poll(&mut fds, Some(&ts)).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = vec![0u8; ipc::FRAME_MAX];
            let n = rustix::net::recv(self.events.as_fd(), &mut buf, RecvFlags::empty()).unwrap().0;
            if n == 0 {
                return None;
            }
            buf.truncate(n);
            let ev = match CpgEvent::decode(&buf).unwrap() {
                CpgEvent::Deliver { nodeid, pid, total_len, chunk, .. } => {
                    match self.asm.first(total_len, &chunk).unwrap() {
                        Some(m) => Ev::Msg(nodeid, pid, m),
                        None => {
                            let mut got = None;
                            while got.is_none() {
                                let n =
                                    rustix::net::recv(self.events.as_fd(), &mut buf[..], RecvFlags::empty())
                                        .unwrap()
                                        .0;
                                let CpgEvent::DeliverMore { chunk } = CpgEvent::decode(&buf[..n]).unwrap()
                                else {
                                    panic!("a delivery was interleaved")
                                };
                                got = self.asm.more(&chunk).unwrap();
                            }
                            Ev::Msg(nodeid, pid, got.unwrap())
                        }
                    }
                }
                CpgEvent::DeliverMore { .. } => panic!("a chunk without its first frame"),
                CpgEvent::ConfChg { members, left, joined, .. } => Ev::Conf { members, left, joined },
                CpgEvent::TotemConfChg { ring_id, members } => Ev::Totem(ring_id, members),
            };
            return Some(ev);
        }
    }

    /// Events until `done` says stop (panics after `limit`).
    fn until(&mut self, limit: Duration, mut done: impl FnMut(&Ev) -> bool) -> Vec<Ev> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Some(ev) = self.next(deadline.saturating_duration_since(Instant::now())) {
            let stop = done(&ev);
            seen.push(ev);
            if stop {
                return seen;
            }
        }
        panic!("timed out; saw {seen:?}");
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Msg(u32, u32, Vec<u8>),
    Conf { members: Vec<CpgAddress>, left: Vec<CpgAddress>, joined: Vec<CpgAddress> },
    Totem(WireRingId, Vec<u32>),
}

fn payload(node: u32, i: u32) -> Vec<u8> {
    // Every fourth message is large: several IPC chunks and many Totem fragments.
    let len = if i % 4 == 3 { 200_000 + i as usize } else { 40 + i as usize };
    let mut p = format!("{node}:{i}:").into_bytes();
    p.extend((0..len).map(|k| (k as u32 ^ node ^ i) as u8));
    p
}

#[test]
fn three_daemons_cpg_virtual_synchrony_procdown_and_nodedown() {
    let mut c = up("vs", 3);
    let mut s: Vec<Session> = (1..=3).map(|n| session(&c, n)).collect();
    for (i, sess) in s.iter_mut().enumerate() {
        sess.join("g", 100 + i as u32 + 1);
    }
    // A second process on node 3, in the same group, whose connection will close.
    let mut extra = session(&c, 3);
    extra.join("g", 300);
    for sess in &mut s {
        sess.until(Duration::from_secs(20), |e| matches!(e, Ev::Conf { members, .. } if members.len() == 4));
    }

    // Every node sends; every member must see the same sequence, its own messages included.
    const PER_NODE: u32 = 12;
    std::thread::scope(|scope| {
        for (k, sess) in s.iter_mut().enumerate() {
            scope.spawn(move || {
                for i in 0..PER_NODE {
                    sess.mcast(&payload(k as u32 + 1, i));
                }
            });
        }
    });
    let logs: Vec<Vec<Ev>> = s
        .iter_mut()
        .map(|sess| {
            let mut n = 0;
            sess.until(Duration::from_secs(30), |e| {
                n += u32::from(matches!(e, Ev::Msg(..)));
                n == 3 * PER_NODE
            })
            .into_iter()
            .filter(|e| matches!(e, Ev::Msg(..)))
            .collect()
        })
        .collect();
    assert_eq!(logs[0], logs[1], "nodes 1 and 2 delivered different sequences");
    assert_eq!(logs[0], logs[2], "nodes 1 and 3 delivered different sequences");
    for node in 1..=3u32 {
        let mine: Vec<&Vec<u8>> = logs[0]
            .iter()
            .filter_map(|e| match e {
                Ev::Msg(n, _, m) if *n == node => Some(m),
                _ => None,
            })
            .collect();
        let want: Vec<Vec<u8>> = (0..PER_NODE).map(|i| payload(node, i)).collect();
        assert_eq!(mine.len(), want.len(), "node {node}: lost or duplicated messages");
        assert!(
            mine.iter().zip(&want).all(|(a, b)| *a == b),
            "node {node}: messages out of order or altered"
        );
    }

    // A client whose connection closes: PROCDOWN to every other member, at the same point.
    drop(extra);
    for sess in &mut s {
        let seen =
            sess.until(Duration::from_secs(10), |e| matches!(e, Ev::Conf { left, .. } if !left.is_empty()));
        let Some(Ev::Conf { left, members, .. }) = seen.last() else { unreachable!() };
        assert_eq!(left, &vec![CpgAddress { nodeid: 3, pid: 300, reason: reason::PROCDOWN }]);
        assert_eq!(members.len(), 3);
    }

    // A killed daemon: NODEDOWN for its process, then the totem confchg of the new ring.
    c.signal(3, "-KILL");
    let mut rings = Vec::new();
    for sess in &mut s[..2] {
        let seen = sess.until(Duration::from_secs(10), |e| matches!(e, Ev::Totem(_, m) if m == &vec![1, 2]));
        assert!(
            seen.iter().any(|e| matches!(e, Ev::Conf { left, .. } if left == &vec![CpgAddress { nodeid: 3, pid: 103, reason: reason::NODEDOWN }])),
            "{seen:?}"
        );
        let Some(Ev::Totem(ring, _)) = seen.last() else { unreachable!() };
        rings.push(*ring);
    }
    assert_eq!(rings[0], rings[1]);
    // The CPG ring id is the quorum service's.
    let q = quorumd_client::QuorumClient::connect_with(c.socket(1), quorumd_client::Model::V1).unwrap();
    let status = q.status().unwrap();
    let (rep, seq) = (format!("\"ring_rep\":{}", rings[0].nodeid), format!("\"ring_seq\":{}", rings[0].seq));
    assert!(
        status.contains(&rep) && status.contains(&seq),
        "ring {:?} is not the quorum ring: {status}",
        rings[0]
    );

    // Traffic still flows between the survivors.
    s[0].mcast(b"after");
    for sess in &mut s[..2] {
        sess.until(Duration::from_secs(10), |e| matches!(e, Ev::Msg(1, 101, m) if m == b"after"));
    }
}

/// A short sanity measurement of Totem carrying CPG traffic (not a benchmark: the side-by-side
/// with Corosync lives in bench/): one sender on a 3-node loopback ring, 1 KiB and 1 MiB
/// messages; every message must reach the other node, in order. Prints the rates.
#[test]
fn cpg_traffic_rates_on_loopback() {
    let c = up("rate", 3);
    let mut tx = session(&c, 1);
    let mut rx = session(&c, 2);
    tx.join("rate", 1);
    rx.join("rate", 2);
    rx.until(Duration::from_secs(20), |e| matches!(e, Ev::Conf { members, .. } if members.len() == 2));
    for (size, count) in [(1024usize, 2000u32), (1 << 20, 16)] {
        let start = Instant::now();
        let rx_thread = std::thread::spawn(move || {
            let mut n = 0u32;
            rx.until(Duration::from_secs(60), |e| {
                if let Ev::Msg(1, 1, m) = e {
                    assert_eq!(
                        u32::from_be_bytes([m[0], m[1], m[2], m[3]]),
                        n,
                        "lost, duplicated or reordered"
                    );
                    assert_eq!(m.len(), size);
                    n += 1;
                }
                n == count
            });
            rx
        });
        for i in 0..count {
            let mut m = vec![7u8; size];
            m[..4].copy_from_slice(&i.to_be_bytes());
            tx.mcast(&m);
        }
        rx = rx_thread.join().unwrap();
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "cpg loopback, 3 nodes, 1 sender: {count} x {size} B in {secs:.2} s = {:.0} msg/s, {:.1} MB/s",
            f64::from(count) / secs,
            f64::from(count) * size as f64 / secs / 1e6
        );
    }
}
