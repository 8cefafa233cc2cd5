//! Real `quorumd` daemons serving the local services (quorum, cmap, votequorum, cfg) over the
//! one IPC design: the fd each `*_fd_get` returns is a Unix socket whose peer is the daemon
//! (what Pacemaker checks with `SO_PEERCRED`), readable exactly while events are pending, and
//! hung up when the daemon dies. Every process and file is removed when a test ends, also
//! when it fails.
//!
//! The fd checks compare the peer's credentials with uid 0 / gid 0 as Pacemaker does, so the
//! tests making them need root and report themselves ignored, with the reason, without it
//! (`harness = false`, see tests/support/prereq.rs).
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

#[path = "../../../tests/support/one_daemon.rs"]
mod one_daemon;

use one_daemon::Daemon;

use std::net::UdpSocket;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient, QuorumEvent, TrackFlags};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

fn main() {
    prereq::run(vec![
        prereq::needs(
            "quorum_fd_peer_is_the_daemon_readable_exactly_when_events_wait_and_hangs_up_on_kill",
            needs_root,
            quorum_fd_peer_is_the_daemon_readable_exactly_when_events_wait_and_hangs_up_on_kill,
        ),
        prereq::needs(
            "cmap_over_a_real_daemon_rust_client_and_rust_corosync_compat",
            needs_root,
            cmap_over_a_real_daemon_rust_client_and_rust_corosync_compat,
        ),
        prereq::needs(
            "votequorum_rust_client_on_a_real_daemon",
            needs_root,
            votequorum_rust_client_on_a_real_daemon,
        ),
        prereq::test(
            "cfg_kill_node_makes_the_named_member_leave_with_the_reason_logged",
            cfg_kill_node_makes_the_named_member_leave_with_the_reason_logged,
        ),
        prereq::test(
            "votequorum_through_the_rust_corosync_shaped_module",
            votequorum_through_the_rust_corosync_shaped_module,
        ),
        prereq::test(
            "cfg_through_the_rust_corosync_shaped_module_and_a_tracker_that_says_no",
            cfg_through_the_rust_corosync_shaped_module_and_a_tracker_that_says_no,
        ),
    ]);
}

fn needs_root() -> Option<String> {
    prereq::missing(&[(prereq::is_root(), "root (the fd's peer must be uid 0 / gid 0, as Pacemaker checks)")])
}

/// Held while a test points `$QUORUMD_SOCKET` at its daemon and connects through it (the
/// rust-corosync shaped modules read it), so parallel tests never connect to each other's.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What `poll` says about `fd` right now (no waiting).
pub fn revents(fd: BorrowedFd<'_>) -> PollFlags {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
    poll(&mut fds, Some(&zero)).unwrap();
    fds[0].revents()
}

/// Waits up to 5 s for `want` on `fd`.
pub fn wait_for(fd: BorrowedFd<'_>, want: PollFlags) -> PollFlags {
    let start = Instant::now();
    loop {
        let got = revents(fd);
        if got.intersects(want) || start.elapsed() > Duration::from_secs(5) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Pacemaker's check (`crm_ipc_is_authentic_process`): the peer of the fd is uid 0 / gid 0.
pub fn assert_peer_is_root_daemon(fd: BorrowedFd<'_>, daemon_pid: Option<u32>) {
    let cred = rustix::net::sockopt::socket_peercred(fd).expect("SO_PEERCRED on the fd from fd_get");
    assert_eq!((cred.uid.as_raw(), cred.gid.as_raw()), (0, 0), "peer must be root (tests run as root)");
    if let Some(pid) = daemon_pid {
        assert_eq!(cred.pid.as_raw_nonzero().get() as u32, pid, "the peer is the daemon itself");
    }
}

fn quorum_fd_peer_is_the_daemon_readable_exactly_when_events_wait_and_hangs_up_on_kill() {
    let mut d = Daemon::start("quorumfd", "");
    let pid = d.pid();
    let client = QuorumClient::connect_with(d.socket(), Model::V1).unwrap();
    let fd = client.as_fd();
    assert_peer_is_root_daemon(fd, pid);
    // Nothing pending: not readable.
    assert!(!revents(fd).contains(PollFlags::IN));
    // trackstart(CURRENT) queues nodelist + quorum: readable until both are dispatched.
    client.track(TrackFlags::CURRENT).unwrap();
    assert!(wait_for(fd, PollFlags::IN).contains(PollFlags::IN));
    assert!(matches!(client.next_event().unwrap(), QuorumEvent::Nodelist { .. }));
    assert!(revents(fd).contains(PollFlags::IN), "one event still waits");
    assert!(matches!(client.next_event().unwrap(), QuorumEvent::Quorum { .. }));
    assert!(!revents(fd).contains(PollFlags::IN), "nothing waits any more");
    // A request answered after the events does not make the fd readable by itself.
    assert!(client.getquorate().unwrap());
    assert!(!revents(fd).contains(PollFlags::IN));
    d.kill();
    let got = wait_for(fd, PollFlags::HUP);
    assert!(got.contains(PollFlags::HUP), "poll after kill -9 gave {got:?}");
    assert!(client.next_event().is_err());
}

fn cmap_over_a_real_daemon_rust_client_and_rust_corosync_compat() {
    use quorumd_client::cmap::{track, CmapClient, CmapMap, CmapValue};
    use quorumd_client::compat::cmap as ccmap;
    let mut d = Daemon::start("cmaprust", "");
    let pid = d.pid();
    let c = CmapClient::connect_map(d.socket(), CmapMap::Default).unwrap();
    assert_peer_is_root_daemon(c.as_fd(), pid);
    assert_eq!(c.get("nodelist.node.0.nodeid").unwrap(), CmapValue::U32(1));
    assert_eq!(c.get("totem.cluster_name").unwrap(), CmapValue::String("cmaprust".into()));
    assert_eq!(c.get("runtime.members.1.status").unwrap(), CmapValue::String("joined".into()));
    assert_eq!(c.get("nope.nope"), Err(quorumd_client::CsError::NotExist));
    assert_eq!(c.set("nodelist.node.0.nodeid", CmapValue::U32(5)), Err(quorumd_client::CsError::Access));
    let keys: Vec<String> = c.dump("nodelist.").unwrap().into_iter().map(|(k, _)| k).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // nodelist.local_node_pos and the node's nodeid, name and ring0_addr.
    assert_eq!(keys.len(), 4, "{keys:?}");

    let t = c.track_add("app.", track::ADD | track::MODIFY | track::PREFIX).unwrap();
    assert!(!revents(c.as_fd()).contains(PollFlags::IN));
    c.set("app.x", CmapValue::U64(7)).unwrap();
    assert!(wait_for(c.as_fd(), PollFlags::IN).contains(PollFlags::IN));
    let n = c.next_event().unwrap();
    assert_eq!((n.track, n.event, n.key.as_str(), n.new), (t, track::ADD, "app.x", Some(CmapValue::U64(7))));
    assert!(!revents(c.as_fd()).contains(PollFlags::IN));

    // The rust-corosync shaped module, through $QUORUMD_SOCKET.
    let h = {
        let _env = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::env::set_var("QUORUMD_SOCKET", d.socket());
        ccmap::initialize(&ccmap::Map::Icmap).unwrap()
    };
    assert_eq!(ccmap::get(&h, "nodelist.node.0.nodeid").unwrap(), ccmap::Data::UInt32(1));
    ccmap::set_u32(&h, "app.y", 3).unwrap();
    let names: Vec<String> = ccmap::CmapIterStart::new(&h, "app.").unwrap().map(|i| i.key_name).collect();
    assert_eq!(names, vec!["app.x".to_string(), "app.y".to_string()]);
    fn cb(
        _h: &ccmap::Handle,
        _t: &ccmap::TrackHandle,
        event: ccmap::TrackType,
        key: &str,
        new: &ccmap::Data,
        old: &ccmap::Data,
        user_data: u64,
    ) {
        assert_eq!(
            (event, key, new, old, user_data),
            (ccmap::TrackType::MODIFY, "app.y", &ccmap::Data::UInt32(4), &ccmap::Data::UInt32(3), 42)
        );
        SEEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    static SEEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let cbs = ccmap::NotifyCallback { notify_fn: Some(cb) };
    ccmap::track_add(&h, "app.y", ccmap::TrackType::MODIFY, &cbs, 42).unwrap();
    ccmap::set_u32(&h, "app.y", 4).unwrap();
    ccmap::dispatch(&h, quorumd_client::compat::DispatchFlags::One).unwrap();
    assert_eq!(SEEN.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(ccmap::get(&h, "nope.x").unwrap_err().to_string(), "ErrNotExist");
    ccmap::finalize(&h).unwrap();

    d.kill();
    assert!(wait_for(c.as_fd(), PollFlags::HUP).contains(PollFlags::HUP));
    assert_eq!(c.get("totem.version"), Err(quorumd_client::CsError::Library));
}

fn votequorum_rust_client_on_a_real_daemon() {
    use quorumd_client::votequorum::{VotequorumClient, VqEvent};
    let mut d = Daemon::start("vqrust", "");
    let pid = d.pid();
    let c = VotequorumClient::connect_with(d.socket()).unwrap();
    assert_peer_is_root_daemon(c.as_fd(), pid);
    let info = c.getinfo(0).unwrap();
    assert_eq!((info.node_id, info.node_state, info.node_votes, info.quorum), (1, 1, 1, 1));
    assert_eq!(info.flags & 2, 2, "quorate");
    assert_eq!(c.getinfo(7), Err(quorumd_client::CsError::NotExist));
    c.trackstart(9, 1).unwrap();
    assert!(wait_for(c.as_fd(), PollFlags::IN).contains(PollFlags::IN));
    assert!(matches!(c.next_event().unwrap(), VqEvent::Nodelist { context: 9, .. }));
    assert!(matches!(c.next_event().unwrap(), VqEvent::Quorum { context: 9, quorate: 1, .. }));
    assert!(!revents(c.as_fd()).contains(PollFlags::IN));
    assert_eq!(c.trackstop(), Err(quorumd_client::CsError::NotExist), "CURRENT alone does not track");
    d.kill();
    assert!(wait_for(c.as_fd(), PollFlags::HUP).contains(PollFlags::HUP));
}

/// Two daemons (nodes 1 and 2 on 127.0.0.1 and 127.0.0.2) sharing one temp dir.
struct Pair {
    dir: PathBuf,
    procs: Vec<Child>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pair {
    fn start(name: &str) -> Pair {
        let dir = std::env::temp_dir().join(format!("quorumd-services-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {name}\n  crypto_cipher: none\n  crypto_hash: none\n  interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\nnodelist {{\n  node {{\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n  }}\n  node {{\n    nodeid: 2\n    ring0_addr: 127.0.0.2\n  }}\n}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
        );
        std::fs::write(dir.join("corosync.conf"), conf).unwrap();
        let mut procs = Vec::new();
        for n in 1..=2 {
            let log = std::fs::File::create(dir.join(format!("log{n}"))).unwrap();
            procs.push(
                Command::new(BIN)
                    .arg("--config")
                    .arg(dir.join("corosync.conf"))
                    .args(["--nodeid", &n.to_string(), "--socket"])
                    .arg(dir.join(format!("sock{n}")))
                    .arg("--state-dir")
                    .arg(dir.join(format!("state{n}")))
                    .env("QUORUMD_LOG", "debug")
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap(),
            );
        }
        Pair { dir, procs }
    }

    fn sock(&self, n: u32) -> PathBuf {
        self.dir.join(format!("sock{n}"))
    }

    fn log(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("log{n}"))).unwrap_or_default()
    }
}

fn cfg_kill_node_makes_the_named_member_leave_with_the_reason_logged() {
    use quorumd_client::cfg::CfgClient;
    use quorumd_client::cmap::{CmapClient, CmapMap, CmapValue};
    let mut p = Pair::start("cfgkill");
    // Both members, as node 1's cmap sees them.
    let start = Instant::now();
    loop {
        let joined = CmapClient::connect_map(p.sock(1), CmapMap::Default)
            .map(|c| c.get("runtime.members.2.status"))
            .ok()
            .and_then(Result::ok);
        if joined == Some(CmapValue::String("joined".into())) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never two members:\n{}", p.log(1));
        std::thread::sleep(Duration::from_millis(20));
    }
    let c = CfgClient::connect_with(p.sock(1)).unwrap();
    assert_eq!(c.local_get(), Ok(1));
    assert_eq!(c.node_status(2).map(|s| s.reachable), Ok(1));
    assert_eq!(c.kill_node(2, "maintenance test"), Ok(()));
    // Node 2 leaves: its process exits, and node 1 sees it as left.
    let child = &mut p.procs[1];
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "node 2 did not leave:\n{}", p.log(2));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(p.log(2).contains("killed by node 1 (cfg kill_node): maintenance test"), "{}", p.log(2));
    let m = CmapClient::connect_map(p.sock(1), CmapMap::Default).unwrap();
    let start = Instant::now();
    while m.get("runtime.members.2.status") != Ok(CmapValue::String("left".into())) {
        assert!(start.elapsed() < Duration::from_secs(10), "node 1 never saw node 2 leave:\n{}", p.log(1));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.kill_node(2, "again"), Err(quorumd_client::CsError::NotExist), "only joined members");
}

fn votequorum_through_the_rust_corosync_shaped_module() {
    use quorumd_client::compat::votequorum as vq;
    use quorumd_client::compat::{DispatchFlags, NodeId, TrackFlags};
    static CALLS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    fn on_quorum(_h: &vq::Handle, context: u64, quorate: bool, nodes: Vec<vq::Node>) {
        CALLS.lock().unwrap().push(format!("quorum {context} {quorate} {}", nodes.len()));
    }
    fn on_nodelist(_h: &vq::Handle, context: u64, ring: vq::RingId, members: Vec<NodeId>) {
        CALLS.lock().unwrap().push(format!("nodelist {context} {} {}", ring.nodeid, members.len()));
    }
    let d = Daemon::start("vqcompat", "");
    let cbs = vq::Callbacks {
        quorum_notification_fn: Some(on_quorum),
        nodelist_notification_fn: Some(on_nodelist),
        expectedvotes_notification_fn: None,
    };
    let h = {
        let _env = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::env::set_var("QUORUMD_SOCKET", d.socket());
        vq::initialize(&cbs).unwrap()
    };
    let info = vq::get_info(&h, NodeId::from(0)).unwrap();
    assert_eq!((u32::from(info.node_id), info.node_state, info.quorum), (1, vq::NodeState::Member, 1));
    assert!(info.flags.contains(vq::NodeInfoFlags::VOTEQUORUM_INFO_QUORATE));
    vq::trackstart(&h, 5, TrackFlags::Current).unwrap();
    assert!(vq::fd_get(&h).unwrap() >= 0);
    // ONE waits for an event: the snapshot's two, in order.
    vq::dispatch(&h, DispatchFlags::One).unwrap();
    vq::dispatch(&h, DispatchFlags::One).unwrap();
    assert_eq!(*CALLS.lock().unwrap(), vec!["nodelist 5 1 1".to_string(), "quorum 5 true 1".to_string()]);
    assert_eq!(vq::qdevice_register(&h, "Qdevice").unwrap_err().to_string(), "ErrAccess");
    vq::finalize(&h).unwrap();
}

fn cfg_through_the_rust_corosync_shaped_module_and_a_tracker_that_says_no() {
    use quorumd_client::cfg::CfgClient;
    use quorumd_client::compat::cfg;
    use quorumd_client::compat::{DispatchFlags, NodeId};
    fn say_no(h: &cfg::Handle, flags: u32) {
        assert_eq!(flags, 0, "REQUEST");
        cfg::reply_to_shutdown(h, cfg::ShutdownReply::No).unwrap();
    }
    let d = Daemon::start("cfgcompat", "");
    let h = {
        let _env = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::env::set_var("QUORUMD_SOCKET", d.socket());
        cfg::initialize(&cfg::Callbacks { corosync_cfg_shutdown_callback_fn: Some(say_no) }).unwrap()
    };
    assert_eq!(cfg::local_get(&h).unwrap(), NodeId::from(1));
    let st = cfg::node_status_get(&h, NodeId::from(1), cfg::NodeStatusVersion::V1).unwrap();
    assert!(st.reachable && !st.remote && st.link_status[0].connected && st.link_status.len() == 8);
    // The daemon's file, unchanged: the reload (every node's, as corosync's) succeeds.
    cfg::reload_cnfig(&h).unwrap();
    cfg::track_start(&h, cfg::TrackFlags::None).unwrap();
    // Another session asks to shut down; the tracker's callback says no: BUSY.
    let asker = CfgClient::connect_with(d.socket()).unwrap();
    let t = std::thread::spawn(move || asker.try_shutdown(0));
    cfg::dispatch(&h, DispatchFlags::One).unwrap();
    assert_eq!(t.join().unwrap(), Err(quorumd_client::CsError::Busy));
    // With REGARDLESS the same NO does not stop it: the daemon leaves.
    let asker = CfgClient::connect_with(d.socket()).unwrap();
    fn say_no_to_regardless(h: &cfg::Handle, flags: u32) {
        assert_eq!(flags, 1, "REGARDLESS");
        cfg::reply_to_shutdown(h, cfg::ShutdownReply::No).unwrap();
    }
    cfg::finalize(&h).unwrap();
    let h = {
        let _env = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::env::set_var("QUORUMD_SOCKET", d.socket());
        cfg::initialize(&cfg::Callbacks { corosync_cfg_shutdown_callback_fn: Some(say_no_to_regardless) })
            .unwrap()
    };
    cfg::track_start(&h, cfg::TrackFlags::None).unwrap();
    let t = std::thread::spawn(move || asker.try_shutdown(1));
    cfg::dispatch(&h, DispatchFlags::One).unwrap();
    assert_eq!(t.join().unwrap(), Ok(()));
    assert!(cfg::dispatch(&h, DispatchFlags::One).is_err(), "the daemon is gone");
}
