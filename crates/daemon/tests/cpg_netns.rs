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

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");
const GROUPS: [&str; 3] = ["vs-a", "vs-b", "vs-c"];

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn must(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("run command");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

struct Net {
    tag: String,
    dir: PathBuf,
    procs: BTreeMap<u32, Child>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in self.procs.values_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in 0..=3 {
            sh(&["ip", "netns", "del", &self.ns(n)]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Net {
    fn ns(&self, n: u32) -> String {
        if n == 0 {
            format!("{}-br", self.tag)
        } else {
            format!("{}-n{n}", self.tag)
        }
    }

    fn new() -> Net {
        let tag = format!("cv{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("quorumd-cpg-netns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let net = Net { tag, dir, procs: BTreeMap::new() };
        let br = net.ns(0);
        must(&["ip", "netns", "add", &br]);
        must(&["ip", "-n", &br, "link", "add", "br0", "type", "bridge"]);
        must(&["ip", "-n", &br, "link", "set", "br0", "up"]);
        for n in 1..=3 {
            let ns = net.ns(n);
            must(&["ip", "netns", "add", &ns]);
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            let (a, b) = (format!("v{n}"), format!("p{n}"));
            must(&["ip", "-n", &br, "link", "add", &b, "type", "veth", "peer", "name", &a, "netns", &ns]);
            must(&["ip", "-n", &br, "link", "set", &b, "master", "br0", "up"]);
            // Addresses that exist only inside these namespaces.
            must(&["ip", "-n", &ns, "addr", "add", &format!("10.213.0.{n}/24"), "dev", &a]);
            must(&["ip", "-n", &ns, "link", "set", &a, "up"]);
        }
        let nodes: String = (1..=3)
            .map(|n| format!("  node {{\n    nodeid: {n}\n    ring0_addr: 10.213.0.{n}\n  }}\n"))
            .collect();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: cpgvs\n  token: 1000\n  crypto_cipher: none\n  crypto_hash: none\n}}\nnodelist {{\n{nodes}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
        );
        std::fs::write(net.dir.join("corosync.conf"), conf).unwrap();
        net
    }

    fn socket(&self, n: u32) -> PathBuf {
        self.dir.join(format!("n{n}.sock"))
    }

    fn start(&mut self, n: u32) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("n{n}.log")))
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(n), BIN, "--config"])
            .arg(self.dir.join("corosync.conf"))
            .arg("--socket")
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.insert(n, child);
    }

    fn kill(&mut self, n: u32) {
        if let Some(mut c) = self.procs.remove(&n) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn link(&self, n: u32, up: bool) {
        must(&["ip", "-n", &self.ns(0), "link", "set", &format!("p{n}"), if up { "up" } else { "down" }]);
    }

    fn logs(&self) -> String {
        (1..=3)
            .map(|n| {
                let t = std::fs::read_to_string(self.dir.join(format!("n{n}.log"))).unwrap_or_default();
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                format!("--- node {n} ---\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect()
    }
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
            can_run,
            three_groups_keep_virtual_synchrony_through_a_kill_a_restart_and_a_partition,
        ),
        prereq::test("the_checker_catches_each_broken_promise", the_checker_catches_each_broken_promise),
    ]);
}

fn can_run() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root"),
        (sh(&["ip", "netns", "list"]), "iproute2 with network namespaces (ip netns)"),
    ])
}

type Logs = BTreeMap<(&'static str, MemberId), Arc<Mutex<Log>>>;

fn spawn(
    net: &Net,
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

fn wait_members(net: &Net, node: u32, group: &str, want: usize) {
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
    panic!("node {node}: group {group} never had {want} members\n{}", net.logs());
}

fn three_groups_keep_virtual_synchrony_through_a_kill_a_restart_and_a_partition() {
    let mut net = Net::new();
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
    net.link(3, false);
    for g in GROUPS {
        wait_members(&net, 1, g, 2);
    }
    std::thread::sleep(Duration::from_secs(2));
    net.link(3, true);
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
        Ok(total) if total < 1000 => panic!("only {total} deliveries: traffic did not flow\n{}", net.logs()),
        Ok(total) => eprintln!("{total} deliveries checked in {} member logs", logs.len()),
        Err(e) => panic!("{e}\n{}", net.logs()),
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
