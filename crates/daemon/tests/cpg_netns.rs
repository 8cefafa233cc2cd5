//! CPG's virtual synchrony between real `quorumd` processes in network namespaces (root only,
//! as CI is; ignored with the reason otherwise): 3 nodes, 3 groups, one member per node and
//! group sending all the time (messages of 40 B to 150 KiB, so some travel in chunks); while
//! traffic flows, node 3 is killed and restarted, then cut off from the others and healed.
//! Every member logs what it sees (configuration changes and messages); the logs are then
//! checked for the promises of virtual synchrony:
//!
//! - **same views**: a message is delivered in the same view (member list) everywhere;
//! - **same messages between views**: two members that go from view V to the same next view
//!   delivered the same messages in V;
//! - **total order**: the messages two members both delivered come in the same order;
//! - **no duplicates**; **no loss**: a gap in one sender's sequence at a receiver only across a
//!   view without that sender;
//! - **self-delivery**: a member that lived to the end got every message it sent.
//!
//! Members are threads of this test, each with its own session on its node's socket; they
//! share the test's pid, so a message carries its member's id (node, incarnation) and
//! sequence. Namespaces, daemons and files are removed at the end, pass or fail.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a test harness: processes, files, clocks, threads

use std::collections::{BTreeMap, BTreeSet};
use std::io::IoSlice;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorumd_client::cpg::{CpgClient, CpgEvent, GroupName, Guarantee, ModelFlags};
use quorumd_client::CsError;

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/netns.rs"]
mod netns;

use netns::NetCluster;

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");
const GROUPS: [&str; 3] = ["vs-a", "vs-b", "vs-c"];

fn new_net() -> NetCluster {
    let net = NetCluster::new(BIN, "cv", 3, 1);
    net.write_config("cpgvs", "  token: 1000\n");
    net
}

/// A member: node and incarnation (node 3's members after the restart are incarnation 1).
type MemberId = (u32, u32);

/// What a member saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// A configuration change: the members (nodeid, pid) after it, and who left (nodeid).
    View(Vec<(u32, u32)>),
    /// A message: its sender and sequence number.
    Msg(MemberId, u64),
}

#[derive(Debug, Default)]
struct Log {
    seen: Vec<Seen>,
    sent: u64,
    /// Whether the member lived to the end (its node was never killed under it).
    survived: bool,
}

fn payload(me: MemberId, seq: u64) -> Vec<u8> {
    // Mostly small; every 37th is 150 KiB (three chunks of the IPC framing).
    let len = if seq % 37 == 36 { 150 * 1024 } else { 40 + (seq % 200) as usize };
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&me.0.to_be_bytes());
    v.extend_from_slice(&me.1.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend((16..len).map(|i| (i as u64 ^ seq) as u8));
    v
}

fn parse(data: &[u8]) -> Option<(MemberId, u64)> {
    if data.len() < 16 {
        return None;
    }
    let node = u32::from_be_bytes(data[0..4].try_into().ok()?);
    let inc = u32::from_be_bytes(data[4..8].try_into().ok()?);
    let seq = u64::from_be_bytes(data[8..16].try_into().ok()?);
    (data == payload((node, inc), seq).as_slice()).then_some(((node, inc), seq))
}

/// One member: joins `group` on node `me.0`, sends until `stop`, logs everything it sees
/// until its session ends or `done` (then leaves and drains).
fn member(socket: PathBuf, group: &'static str, me: MemberId, stop: Arc<AtomicBool>, log: Arc<Mutex<Log>>) {
    let start = Instant::now();
    let client = loop {
        match CpgClient::connect_with(&socket, ModelFlags::empty()) {
            Ok(c) => break c,
            Err(_) if start.elapsed() < Duration::from_secs(15) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("member {me:?}: connect: {e}"),
        }
    };
    let g = GroupName::new(group).unwrap();
    loop {
        match client.join(&g) {
            Ok(()) => break,
            Err(CsError::TryAgain | CsError::Busy) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("member {me:?}: join: {e}"),
        }
    }
    let mut seq = 0u64;
    let mut next_send = Instant::now();
    let mut stopped_at = None;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping && stopped_at.is_none() {
            stopped_at = Some(Instant::now());
        }
        // Drain for 3 s after the stop, then leave.
        if stopped_at.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
            log.lock().unwrap().survived = true;
            let _ = client.leave(&g);
            return;
        }
        if !stopping && Instant::now() >= next_send {
            match client.mcast(Guarantee::Agreed, &[IoSlice::new(&payload(me, seq))]) {
                Ok(()) => {
                    seq += 1;
                    log.lock().unwrap().sent = seq;
                    next_send += Duration::from_millis(4);
                }
                Err(CsError::TryAgain) => next_send = Instant::now() + Duration::from_millis(2),
                // The daemon went away (killed): the member's life is over.
                Err(_) => return,
            }
        }
        let fd = client.as_fd();
        let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
        let _ =
            rustix::event::poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 2_000_000 }));
        loop {
            match client.try_next_event() {
                Ok(Some(CpgEvent::Confchg { members, .. })) => {
                    let v = members.iter().map(|m| (m.nodeid, m.pid)).collect();
                    log.lock().unwrap().seen.push(Seen::View(v));
                }
                Ok(Some(CpgEvent::Deliver { data, .. })) => {
                    let (from, s) = parse(&data).unwrap_or_else(|| panic!("member {me:?}: corrupt message"));
                    log.lock().unwrap().seen.push(Seen::Msg(from, s));
                }
                Ok(Some(CpgEvent::TotemConfchg { .. })) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

fn main() {
    prereq::run(vec![
        prereq::needs(
            "three_groups_keep_virtual_synchrony_through_a_kill_a_restart_and_a_partition",
            netns::can_run,
            three_groups_keep_virtual_synchrony_through_a_kill_a_restart_and_a_partition,
        ),
        prereq::test("the_checker_catches_each_broken_promise", the_checker_catches_each_broken_promise),
        prereq::test("rust_client_and_compat_cpg_on_one_daemon", rust_client_and_compat_cpg_on_one_daemon),
    ]);
}

type Logs = BTreeMap<(&'static str, MemberId), Arc<Mutex<Log>>>;

fn spawn(
    net: &NetCluster,
    node: u32,
    inc: u32,
    stop: &Arc<AtomicBool>,
    logs: &mut Logs,
) -> Vec<std::thread::JoinHandle<()>> {
    GROUPS
        .iter()
        .map(|&g| {
            let log = Arc::new(Mutex::new(Log::default()));
            logs.insert((g, (node, inc)), Arc::clone(&log));
            let (sock, stop) = (net.socket(node), Arc::clone(stop));
            std::thread::spawn(move || member(sock, g, (node, inc), stop, log))
        })
        .collect()
}

fn wait_members(net: &NetCluster, node: u32, group: &str, want: usize) {
    let start = Instant::now();
    let g = GroupName::new(group).unwrap();
    let mut c = None;
    while start.elapsed() < Duration::from_secs(20) {
        if c.is_none() {
            c = CpgClient::connect_with(net.socket(node), ModelFlags::empty()).ok();
        }
        if c.as_ref().is_some_and(|c| c.membership(&g).is_ok_and(|m| m.len() == want)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("node {node}: group {group} never had {want} members\n{}", net.logs_tail(15));
}

fn three_groups_keep_virtual_synchrony_through_a_kill_a_restart_and_a_partition() {
    let mut net = new_net();
    for n in 1..=3 {
        net.start(n);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut logs = Logs::new();
    let mut threads = Vec::new();
    for n in 1..=3 {
        threads.extend(spawn(&net, n, 0, &stop, &mut logs));
    }
    for g in GROUPS {
        wait_members(&net, 1, g, 3);
    }
    std::thread::sleep(Duration::from_secs(2));
    // Node 3 dies under load, and comes back.
    net.kill(3);
    for g in GROUPS {
        wait_members(&net, 1, g, 2);
    }
    std::thread::sleep(Duration::from_secs(1));
    net.start(3);
    threads.extend(spawn(&net, 3, 1, &stop, &mut logs));
    for g in GROUPS {
        wait_members(&net, 1, g, 3);
    }
    std::thread::sleep(Duration::from_secs(2));
    // Node 3 is cut off, then the partition heals.
    net.link(3, 0, false);
    for g in GROUPS {
        wait_members(&net, 1, g, 2);
    }
    std::thread::sleep(Duration::from_secs(2));
    net.link(3, 0, true);
    for g in GROUPS {
        wait_members(&net, 1, g, 3);
        wait_members(&net, 3, g, 3);
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let logs: BTreeMap<_, _> =
        logs.into_iter().map(|(k, v)| (k, std::mem::take(&mut *v.lock().unwrap()))).collect();
    match check(&logs) {
        Ok(total) if total < 1000 => {
            panic!("only {total} deliveries: traffic did not flow\n{}", net.logs_tail(15))
        }
        Ok(total) => eprintln!("{total} deliveries checked in {} member logs", logs.len()),
        Err(e) => panic!("{e}\n{}", net.logs_tail(15)),
    }
}

/// Changes one member's log.
type Mutation<'a> = dyn Fn(MemberId, &mut Vec<Seen>) + 'a;

/// The checker is not vacuous: a correct set of logs passes, and each broken promise is found.
fn the_checker_catches_each_broken_promise() {
    let v3 = vec![(1, 9), (2, 9), (3, 9)];
    let v2 = vec![(1, 9), (2, 9)];
    let good = |me: MemberId| -> Vec<Seen> {
        let mut s = vec![Seen::View(v3.clone())];
        for k in 0..400u64 {
            s.push(Seen::Msg(((k % 3) as u32 + 1, 0), k / 3));
        }
        s.push(Seen::View(v2.clone()));
        s.push(Seen::Msg((me.0.min(2), 0), 134));
        s
    };
    let build = |f: &Mutation<'_>| {
        let mut logs = BTreeMap::new();
        for g in GROUPS {
            for n in 1..=3 {
                let me = (n, 0);
                let mut seen = good(me);
                if n == 3 {
                    seen.truncate(401); // node 3 is not in the last view
                }
                f(me, &mut seen);
                let sent = if n == 3 { 133 } else { 134 + u64::from(n == 2) };
                logs.insert((g, me), Log { seen, sent, survived: n != 3 });
            }
            // A third survivor that joined late and saw nothing yet.
            logs.insert((g, (3, 1)), Log { seen: vec![Seen::View(v2.clone())], sent: 0, survived: true });
        }
        logs
    };
    // Node 1 and 2 both deliver node 2's #134 in v2; make the baseline consistent.
    let fix = |me: MemberId, s: &mut Vec<Seen>| {
        if me.0 != 3 {
            s.pop();
            s.push(Seen::Msg((1, 0), 134));
            s.push(Seen::Msg((2, 0), 133));
            s.push(Seen::Msg((2, 0), 134));
        }
    };
    let base = build(&fix);
    assert_eq!(check(&base).map(|_| ()), Ok(()), "a correct history passes");
    let broken: [(&str, &Mutation<'_>); 5] = [
        ("twice", &|me, s| {
            fix(me, s);
            if me.0 == 1 {
                s.insert(5, s[4].clone());
            }
        }),
        ("different orders", &|me, s| {
            fix(me, s);
            if me.0 == 2 {
                s.swap(10, 11);
            }
        }),
        ("with no view without the sender", &|me, s| {
            fix(me, s);
            if me.0 == 1 {
                s.remove(30);
            }
        }),
        ("never got its own message", &|me, s| {
            fix(me, s);
            if me.0 == 2 {
                s.pop();
            }
        }),
        ("delivered in view", &|me, s| {
            fix(me, s);
            if me.0 == 1 {
                let m = s.remove(400);
                s.insert(401, m);
            }
        }),
    ];
    for (what, f) in broken {
        let err = check(&build(f)).expect_err(what);
        assert!(err.contains(what), "{what}: {err}");
    }
}

/// A member's log cut into views: (members, messages delivered in it, the next view's members).
type Segment = (Vec<(u32, u32)>, Vec<(MemberId, u64)>, Option<Vec<(u32, u32)>>);

fn segments(seen: &[Seen]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for s in seen {
        match s {
            Seen::View(v) => {
                if let Some(last) = out.last_mut() {
                    last.2 = Some(v.clone());
                }
                out.push((v.clone(), Vec::new(), None));
            }
            Seen::Msg(from, seq) => match out.last_mut() {
                Some(last) => last.1.push((*from, *seq)),
                None => out.push((Vec::new(), vec![(*from, *seq)], None)),
            },
        }
    }
    out
}

/// The number of deliveries checked, or the first broken promise.
fn check(logs: &BTreeMap<(&'static str, MemberId), Log>) -> Result<usize, String> {
    let mut total = 0usize;
    for g in GROUPS {
        let members: Vec<(&MemberId, &Log)> =
            logs.iter().filter(|((gg, _), _)| *gg == g).map(|((_, m), l)| (m, l)).collect();
        // Per member: no duplicates, gaps only across a view without the sender, self-delivery.
        let mut view_of: BTreeMap<(MemberId, u64), Vec<(u32, u32)>> = BTreeMap::new();
        for (me, log) in &members {
            let mut got = BTreeSet::new();
            let mut last: BTreeMap<MemberId, (u64, usize)> = BTreeMap::new();
            let mut view: Vec<(u32, u32)> = Vec::new();
            let mut views_seen = 0usize;
            let mut sender_absent_since: BTreeMap<MemberId, usize> = BTreeMap::new();
            for s in &log.seen {
                match s {
                    Seen::View(v) => {
                        views_seen += 1;
                        view = v.clone();
                        for from in last.keys() {
                            if !v.iter().any(|(n, _)| *n == from.0) {
                                sender_absent_since.insert(*from, views_seen);
                            }
                        }
                    }
                    Seen::Msg(from, seq) => {
                        total += 1;
                        if !got.insert((*from, *seq)) {
                            return Err(format!("{g}: {me:?} delivered {from:?}#{seq} twice"));
                        }
                        if let Some((prev, at)) = last.get(from) {
                            let absent = sender_absent_since.get(from).is_some_and(|v| *v > *at);
                            if *seq != prev + 1 && !absent {
                                return Err(format!(
                                    "{g}: {me:?} got {from:?}#{seq} after #{prev} with no view without the sender between"
                                ));
                            }
                        }
                        last.insert(*from, (*seq, views_seen));
                        // Same view everywhere for the same message.
                        match view_of.get(&(*from, *seq)) {
                            Some(v) if *v != view => {
                                return Err(format!(
                                    "{g}: {from:?}#{seq} delivered in view {v:?} at one member and {view:?} at {me:?}"
                                ))
                            }
                            Some(_) => {}
                            None => {
                                view_of.insert((*from, *seq), view.clone());
                            }
                        }
                    }
                }
            }
            if log.survived {
                for seq in 0..log.sent {
                    if !got.contains(&(**me, seq)) {
                        return Err(format!(
                            "{g}: {me:?} never got its own message #{seq} (sent {})",
                            log.sent
                        ));
                    }
                }
            }
        }
        // Total order between every two members, and the same messages between the same views.
        for (i, (p, lp)) in members.iter().enumerate() {
            for (q, lq) in members.iter().skip(i + 1) {
                let in_q: BTreeMap<(MemberId, u64), usize> = lq
                    .seen
                    .iter()
                    .filter_map(|s| if let Seen::Msg(f, n) = s { Some((*f, *n)) } else { None })
                    .enumerate()
                    .map(|(k, m)| (m, k))
                    .collect();
                let mut prev = None;
                for s in &lp.seen {
                    if let Seen::Msg(f, n) = s {
                        if let Some(k) = in_q.get(&(*f, *n)) {
                            if prev.is_some_and(|p| p > *k) {
                                return Err(format!(
                                    "{g}: {p:?} and {q:?} delivered {f:?}#{n} in different orders"
                                ));
                            }
                            prev = Some(*k);
                        }
                    }
                }
                let (sp, sq) = (segments(&lp.seen), segments(&lq.seen));
                for a in &sp {
                    for b in &sq {
                        let same_instance = a.1.iter().any(|m| b.1.contains(m));
                        if a.0 == b.0 && a.2.is_some() && a.2 == b.2 && same_instance && a.1 != b.1 {
                            return Err(format!(
                                "{g}: {p:?} and {q:?} went from view {:?} to {:?} with different messages ({} vs {})",
                                a.0,
                                a.2,
                                a.1.len(),
                                b.1.len()
                            ));
                        }
                    }
                }
            }
        }
        let survivors = members.iter().filter(|(_, l)| l.survived).count();
        if survivors != 3 {
            return Err(format!("{g}: {survivors} members lived to the end, expected 3"));
        }
    }
    Ok(total)
}

/// One daemon on 127.0.0.1 (no root needed): the idiomatic client and `compat::cpg` through
/// every call, a chunked message included.
fn rust_client_and_compat_cpg_on_one_daemon() {
    use quorumd_client::compat::cpg as ccpg;
    use quorumd_client::compat::{CsError as CompatError, DispatchFlags};

    let dir = std::env::temp_dir().join(format!("quorumd-cpg-rust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(PathBuf, Option<Child>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Some(mut c) = self.1.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = format!(
        "totem {{\n  version: 2\n  cluster_name: cpgrust\n  crypto_cipher: none\n  crypto_hash: none\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n  node {{\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n  }}\n  node {{\n    nodeid: 2\n    ring0_addr: 127.0.0.2\n  }}\n}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
    );
    std::fs::write(dir.join("corosync.conf"), conf).unwrap();
    let sock = dir.join("sock");
    let child = Command::new(BIN)
        .arg("--config")
        .arg(dir.join("corosync.conf"))
        .args(["--nodeid", "1", "--socket"])
        .arg(&sock)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _cleanup = Cleanup(dir.clone(), Some(child));
    let start = Instant::now();
    let cpg = loop {
        match CpgClient::connect_with(&sock, ModelFlags::DELIVER_INITIAL_TOTEM_CONF) {
            Ok(c) => break c,
            Err(e) if start.elapsed() > Duration::from_secs(10) => panic!("connect: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let g = GroupName::new("rust").unwrap();
    assert_eq!(cpg.local_nodeid(), Ok(1));
    assert_eq!(cpg.leave(&g), Err(CsError::NotExist));
    assert_eq!(cpg.mcast(Guarantee::Agreed, &[IoSlice::new(b"x")]), Err(CsError::NotExist));
    cpg.join(&g).unwrap();
    assert_eq!(cpg.join(&g), Err(CsError::Exist));
    let pid = std::process::id();
    match cpg.next_event().unwrap() {
        CpgEvent::Confchg { group, members, joined, left } => {
            assert_eq!(group, g);
            assert_eq!(members.iter().map(|m| (m.nodeid, m.pid)).collect::<Vec<_>>(), vec![(1, pid)]);
            assert_eq!(joined.len(), 1);
            assert!(left.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match cpg.next_event().unwrap() {
        CpgEvent::TotemConfchg { ring_id, members } => assert!(ring_id.seq > 0 && members == vec![1]),
        other => panic!("{other:?}"),
    }
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    cpg.mcast(Guarantee::Safe, &[IoSlice::new(&big[..10]), IoSlice::new(&big[10..])]).unwrap();
    match cpg.next_event().unwrap() {
        CpgEvent::Deliver { nodeid, pid: p, data, .. } => assert!(nodeid == 1 && p == pid && data == big),
        other => panic!("{other:?}"),
    }
    assert_eq!(cpg.membership(&g).unwrap().len(), 1);
    let rows = cpg.iterate(quorumd_client::cpg::IterationType::All, None).unwrap();
    assert!(rows.iter().any(|r| r.group == g && r.nodeid == 1 && r.pid == pid));
    assert_eq!(cpg.flow_control_enabled(), Ok(false));

    // compat::cpg, as a rust-corosync program would use it, in the same group.
    static GOT: Mutex<Vec<(String, u32, Vec<u8>)>> = Mutex::new(Vec::new());
    fn deliver(
        _h: &ccpg::Handle,
        group: String,
        nodeid: quorumd_client::compat::NodeId,
        _pid: u32,
        msg: &[u8],
        len: usize,
    ) {
        assert_eq!(msg.len(), len);
        GOT.lock().unwrap().push((group, u32::from(nodeid), msg.to_vec()));
    }
    let model = ccpg::ModelData::ModelV1(ccpg::Model1Data {
        flags: ccpg::Model1Flags::None,
        deliver_fn: Some(deliver),
        confchg_fn: None,
        totem_confchg_fn: None,
    });
    // rust-corosync's initialize takes no path: the socket comes from $QUORUMD_SOCKET (the
    // other tests of this file give their paths explicitly).
    std::env::set_var("QUORUMD_SOCKET", &sock);
    assert_eq!(ccpg::initialize(&ccpg::ModelData::ModelNone, 0).unwrap_err(), CompatError::CsErrInvalidParam);
    let h = ccpg::initialize(&model, 42).unwrap();
    assert_eq!(ccpg::context_get(&h), Ok(42));
    assert_eq!(ccpg::join(&h, &"x".repeat(128)).unwrap_err(), CompatError::CsErrInvalidParam);
    // The same process cannot join the same group twice (the daemon's rule, as Corosync's).
    assert_eq!(ccpg::join(&h, "rust").unwrap_err(), CompatError::CsErrExist);
    ccpg::join(&h, "rust2").unwrap();
    ccpg::mcast_joined(&h, ccpg::Guarantee::TypeAgreed, b"compat").unwrap();
    let start = Instant::now();
    while GOT.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(5) {
        ccpg::dispatch(&h, DispatchFlags::All).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(GOT.lock().unwrap().as_slice(), &[("rust2".to_string(), 1, b"compat".to_vec())]);
    assert_eq!(ccpg::local_get(&h).map(u32::from), Ok(1));
    assert_eq!(ccpg::membership_get(&h, "rust2").unwrap().len(), 1);
    let groups: Vec<String> = ccpg::CpgIterStart::new(&h, "", ccpg::CpgIterType::NameOnly)
        .unwrap()
        .into_iter()
        .map(|r| r.group)
        .collect();
    assert!(groups.contains(&"rust".to_string()) && groups.contains(&"rust2".to_string()), "{groups:?}");
    assert_eq!(format!("{}", CompatError::CsErrTryAgain), "ErrTryAgain");
    ccpg::leave(&h, "rust2").unwrap();
    ccpg::finalize(&h).unwrap();
    assert_eq!(ccpg::finalize(&h).unwrap_err(), CompatError::CsErrBadHandle);
    cpg.leave(&g).unwrap();
    cpg.finalize().unwrap();
}
