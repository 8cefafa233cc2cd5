//! The event loop: one thread, one `mio` poll. Wait for the earliest deadline or I/O, feed the
//! node, drain its outputs (events first: ring seqs are persisted before anything is sent).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use anyhow::{anyhow, bail, Context, Result};
use mio::net::{UdpSocket, UnixListener};
use mio::{Events, Interest, Poll, Token};
use quorumd_crypto::ClusterKey;
use quorumd_node::{ClientInput, ClientOutput, CryptoParams, LinkEvent, Node, NodeEvent, TotemEvent};
use quorumd_proto::ipc::{self, Frame, Response};
use quorumd_proto::shm::{StatePage, FLAG_ALIVE};
use quorumd_proto::status::{ConfiguredNode, LinkView, LinksView, NodeState, PeerLinkView, PeerView, Status};
use quorumd_proto::{Instant, LinkId, MemberList, NodeId};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use tracing::{debug, error, info, warn};

use crate::clients::{conn_of, Clients, Limits, ReadOutcome, FIRST_TOKEN};
use crate::drops::{Drop, Drops, RateLimited};
use crate::page::Page;
use crate::state::StateDir;
use crate::Cli;

const LISTENER: Token = Token(1);
const SIGNALS: Token = Token(2);
/// The UDP socket of the link at index `i` of `Daemon::sockets` has token `UDP_BASE + i`.
const UDP_BASE: usize = 16;

#[path = "reload.rs"]
mod reload;

/// The node's crypto parameters: the key from the authkey file and a random per-boot nonce
/// (no clock: see docs/totem.md, "Authenticated transport and replay").
fn crypto_params(
    config: &quorumd_config::Config,
    authkey: Option<crate::check::AuthKey>,
) -> Result<Option<CryptoParams>> {
    let cc = crate::check::crypto_names(config)?;
    let Some(authkey) = authkey else {
        warn!(target: "TOTEM", "crypto_cipher and crypto_hash are 'none': cluster traffic is neither encrypted nor authenticated");
        return Ok(None);
    };
    if let Some(w) = &authkey.mode_warning {
        warn!(target: "TOTEM", "{w}");
    }
    let (keyfile, key) = (authkey.path.display().to_string(), authkey.bytes);
    let cluster = config.totem.cluster_name.clone().unwrap_or_default();
    let key = ClusterKey::derive(&key, &cluster).map_err(|e| anyhow!("{keyfile}: {e}"))?;
    let boot_nonce = loop {
        let mut b = [0u8; 8];
        rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
            .context("getrandom for the per-boot nonce")?;
        if let Some(n) = std::num::NonZeroU64::new(u64::from_ne_bytes(b)) {
            break n;
        }
    };
    info!(target: "TOTEM", "crypto: {cc} (key id {:08x})", key.key_id());
    Ok(Some(CryptoParams { key, boot_nonce }))
}

pub(crate) fn socket_path(cli: &Cli) -> PathBuf {
    cli.socket
        .clone()
        .or_else(|| std::env::var_os("QUORUMD_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/run/quorumd/quorumd.sock"))
}

/// The UDP receive buffer asked for (the kernel caps it at net.core.rmem_max).
const UDP_RCVBUF: usize = 4 << 20;

/// At most this many datagrams are handled per turn of the event loop before timers and
/// clients get their turn; the rest are read in the next turn, which then does not wait.
const UDP_BATCH: usize = 256;

/// At most this many connections are accepted per turn of the event loop.
const ACCEPT_BATCH: usize = 64;
/// The first and the longest pause after an accept error.
const ACCEPT_BACKOFF_MIN: StdDuration = StdDuration::from_millis(10);
const ACCEPT_BACKOFF_MAX: StdDuration = StdDuration::from_secs(1);
/// Descriptors kept for the daemon itself (sockets, epoll, signals, state page, state files,
/// log, spare) below the open-file limit: client connections never take these.
const RESERVED_FDS: u64 = 64;
/// Descriptors one client session holds in the daemon (stream + event socket).
const FDS_PER_CONNECTION: u64 = 2;

/// Raises the open-file soft limit to the hard limit, then caps client connections so that
/// the daemon's own descriptors stay reserved (`system.max_connections`, lowered if the limit
/// requires it, with a warning) and the per-uid cap within the total.
fn connection_limits(system: &quorumd_config::System) -> Limits {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    // The kernel refuses more than fs.nr_open (1 Mi by default) even when the hard limit is
    // "unlimited".
    let want = lim.maximum.unwrap_or(1 << 20).min(1 << 20);
    if lim.current.is_some_and(|c| c < want) {
        let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(want), maximum: lim.maximum });
    }
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(want);
    // Each session holds two descriptors: its stream and the daemon's end of its event socket
    // (the client's end is held only while the Init reply passes it, inside the reserve).
    let room =
        usize::try_from(soft.saturating_sub(RESERVED_FDS) / FDS_PER_CONNECTION).unwrap_or(usize::MAX).max(1);
    let wanted = system.max_connections() as usize;
    if wanted > room {
        warn!(target: "IPC", "system.max_connections {wanted} lowered to {room}: the open-file limit is {soft}, {RESERVED_FDS} descriptors are kept for the daemon itself and each connection takes {FDS_PER_CONNECTION}");
    }
    let total = wanted.min(room);
    let per_uid = (system.max_connections_per_uid() as usize).min(total);
    info!(target: "IPC", "client connections: at most {total}, {per_uid} per uid (open-file limit {soft})");
    Limits { total, per_uid }
}

/// The reserved descriptor (see `Daemon::spare_fd`).
fn spare_fd() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

/// Binds the client socket. A stale socket file is replaced only if nothing answers on it;
/// anything else at that path (a regular file, a directory, a symlink...) is left alone and
/// refused.
fn bind_listener(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                bail!("another daemon is already serving {}", path.display());
            }
            std::fs::remove_file(path).with_context(|| format!("cannot remove stale {}", path.display()))?;
        }
        Ok(_) => bail!(
            "{} exists and is not a socket: refusing to replace it (remove it or choose another --socket)",
            path.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot check {}", path.display())),
    }
    let listener = UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
    // Anyone may connect; who may *use* the service is decided from the peer credentials
    // (root or a uidgid entry), and everyone else gets CS_ERR_ACCESS, as with corosync.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

/// The UDP socket of one link, bound to this node's address on it (`ringL_addr`).
struct LinkSocket {
    link: LinkId,
    udp: UdpSocket,
    /// The last read stopped at UDP_BATCH with datagrams possibly left in the socket.
    backlog: bool,
}

/// Binds the socket of `link` on `addr`, with the large receive buffer.
fn bind_link(link: LinkId, addr: SocketAddr) -> Result<LinkSocket> {
    let udp = UdpSocket::bind(addr).with_context(|| format!("cannot bind UDP {addr} (link {link})"))?;
    // A join storm in a large cluster delivers N-1 datagrams at once to every node; the
    // default receive buffer (208 KiB) dropped some of them at 64 nodes. The kernel caps the
    // request at net.core.rmem_max unless we may force it (CAP_NET_ADMIN).
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(&udp, UDP_RCVBUF).is_err() {
        if let Err(e) = rustix::net::sockopt::set_socket_recv_buffer_size(&udp, UDP_RCVBUF) {
            debug!(target: "TOTEM", "SO_RCVBUF {UDP_RCVBUF}: {e}");
        }
    }
    debug!(target: "TOTEM", "link {link}: UDP {addr}, receive buffer {:?} bytes", rustix::net::sockopt::socket_recv_buffer_size(&udp));
    Ok(LinkSocket { link, udp, backlog: false })
}

struct Daemon {
    node: Node,
    /// The configuration file and what it held at start or at the last reload.
    config_path: PathBuf,
    config: quorumd_config::Config,
    origin: StdInstant,
    /// One socket per configured link, in link order.
    sockets: Vec<LinkSocket>,
    /// Each node's link-0 address (the roster shows it).
    peers: BTreeMap<NodeId, SocketAddr>,
    /// Each node's address on each link: where a transmit on that link goes.
    link_peers: BTreeMap<LinkId, BTreeMap<NodeId, SocketAddr>>,
    /// Every nodelist address on any link (datagrams from elsewhere are dropped unopened).
    by_ip: BTreeMap<IpAddr, NodeId>,
    state: StateDir,
    page: Page,
    poll: Poll,
    /// A handle on `poll`'s registry, taken once (cloning it per event costs two syscalls).
    registry: mio::Registry,
    listener: UnixListener,
    clients: Clients,
    /// The last accept stopped at ACCEPT_BATCH or on an error: connections may be waiting.
    accept_backlog: bool,
    /// After an accept error (EMFILE, ENFILE, ENOBUFS...): no accept before then.
    accept_paused_until: Option<StdInstant>,
    /// The current pause after an accept error (doubles up to ACCEPT_BACKOFF_MAX).
    accept_backoff: StdDuration,
    accept_errors: RateLimited,
    refusals: RateLimited,
    denials: RateLimited,
    evictions: RateLimited,
    bad_clients: RateLimited,
    /// A descriptor held in reserve (/dev/null): released to accept-and-refuse a connection at
    /// EMFILE, or to store the ring seq if the descriptors ever ran out.
    spare_fd: Option<std::fs::File>,
    drops: Drops,
    roster: Roster,
    quorum_type: u32,
    /// The state page's freshness bound (`quorumd_proto::shm::stale_after_ms` of the token).
    stale_after_ms: u32,
    /// How often the page's heartbeat is rewritten (`heartbeat_period_ms` of the bound).
    heartbeat_ms: u64,
    ready: bool,
    left: bool,
    stop_deadline: Option<StdInstant>,
}

/// A fresh random incarnation for this boot (docs/totem.md, "Node identity"), from the OS.
fn random_incarnation() -> Result<u64> {
    let mut buf = [0u8; 8];
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(anyhow!("cannot draw this boot's incarnation: getrandom: {e}")),
        }
    }
    Ok(u64::from_ne_bytes(buf))
}

/// Runs the daemon until SIGTERM/SIGINT.
pub fn run(cli: &Cli) -> Result<()> {
    let crate::check::Prepared { config, path, peers, links: link_peers, my_id, mut params, authkey, .. } =
        crate::check::prepare(&cli.config, cli.nodeid)?;
    crate::logging::init(&config.logging)?;
    for w in &config.warnings {
        warn!(target: "MAIN", "{w}");
    }
    crate::sched::apply(&config.system);
    let limits = connection_limits(&config.system);
    params.cmap = quorumd_cmap::config_keys(&config);
    let roster = Roster::new(&config, &peers, &params.names);
    let state = StateDir::open(&cli.state_dir, my_id)?;
    params.start_seq = state.ring_seq()?.saturating_add(1);
    params.incarnation = random_incarnation()?;
    params.persisted_expected_votes = state.expected_votes()?;
    params.crypto = crypto_params(&config, authkey)?;
    let mut sockets = Vec::new();
    for (link, addrs) in &link_peers {
        let addr = addrs.get(&my_id).ok_or_else(|| anyhow!("node {my_id} has no address on link {link}"))?;
        sockets.push(bind_link(*link, *addr)?);
    }
    let bound: Vec<String> =
        sockets.iter().map(|s| format!("link {} {}", s.link, link_peers[&s.link][&my_id])).collect();
    let sock = socket_path(cli);
    let listener = bind_listener(&sock)?;
    let t = &params.totem;
    info!(target: "MAIN", "quorumd {} starting: node {my_id} of {} ({}), config {}", env!("CARGO_PKG_VERSION"), params.nodelist, bound.join(", "), path.display());
    let l = &params.links;
    let timing: Vec<String> = l
        .links
        .iter()
        .map(|c| {
            format!(
                "link {} priority {} ping {} ms timeout {} ms pong_count {}",
                c.link,
                c.priority,
                c.ping_interval.as_millis(),
                c.ping_timeout.as_millis(),
                c.pong_count
            )
        })
        .collect();
    info!(target: "TOTEM", "links: mode {}, {}", l.mode.name(), timing.join("; "));
    info!(target: "TOTEM", "token {} ms, consensus {} ms, join {} ms, merge {} ms: a failed node is noticed within about {} ms",
        t.token.as_millis(), t.consensus.as_millis(), t.join.as_millis(), t.merge.as_millis(), (t.token + t.consensus).as_millis());
    let quorum_type = u32::from(params.quorum.is_some());
    let stale_after_ms = quorumd_proto::shm::stale_after_ms(t.token.as_millis()) as u32;
    let origin = StdInstant::now();
    let node = Node::new(params, Instant::from_micros(0));
    let by_ip = by_ip(&link_peers);
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    let mut d = Daemon {
        node,
        config_path: cli.config.clone(),
        config,
        origin,
        sockets,
        peers,
        link_peers,
        by_ip,
        state,
        page: Page::new()?,
        poll,
        registry,
        listener,
        clients: Clients::new(limits),
        accept_backlog: false,
        accept_paused_until: None,
        accept_backoff: StdDuration::ZERO,
        accept_errors: RateLimited::default(),
        refusals: RateLimited::default(),
        denials: RateLimited::default(),
        evictions: RateLimited::default(),
        bad_clients: RateLimited::default(),
        spare_fd: spare_fd(),
        drops: Drops::default(),
        roster,
        quorum_type,
        stale_after_ms,
        heartbeat_ms: quorumd_proto::shm::heartbeat_period_ms(u64::from(stale_after_ms)),
        ready: false,
        left: false,
        stop_deadline: None,
    };
    let result = d.event_loop();
    d.page.retire();
    let _ = std::fs::remove_file(&sock);
    result
}

impl Daemon {
    fn now(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    fn event_loop(&mut self) -> Result<()> {
        for (i, s) in self.sockets.iter_mut().enumerate() {
            self.registry.register(&mut s.udp, Token(UDP_BASE + i), Interest::READABLE)?;
        }
        self.registry.register(&mut self.listener, LISTENER, Interest::READABLE)?;
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        self.registry.register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.drain_outputs()?;
        let mut events = Events::with_capacity(256);
        loop {
            if self.left || self.stop_deadline.is_some_and(|d| StdInstant::now() >= d) {
                info!(target: "MAIN", "quorumd stopped");
                return Ok(());
            }
            let timeout = self.node.poll_timeout().map(|at| {
                let now = self.now();
                StdDuration::from_micros(at.as_micros().saturating_sub(now.as_micros()))
            });
            // The state page's heartbeat (a frozen daemon's page goes stale: see page.rs).
            let timeout = match self.page.refresh(self.heartbeat_ms) {
                Some(due) => {
                    let wait = StdDuration::from_millis(due.saturating_sub(crate::page::monotonic_ms()));
                    Some(timeout.map_or(wait, |t| t.min(wait)))
                }
                None => timeout,
            };
            // Connections that must complete Init, and accepts left over or paused.
            let mut wake = self.clients.next_init_deadline();
            if self.accept_backlog {
                let at = self.accept_paused_until.unwrap_or_else(StdInstant::now);
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
            let timeout = match wake {
                Some(at) => {
                    let wait = at.saturating_duration_since(StdInstant::now());
                    Some(timeout.map_or(wait, |t| t.min(wait)))
                }
                None => timeout,
            };
            // Datagrams left in the socket (edge-triggered: no new event for them): do not wait.
            let timeout =
                if self.sockets.iter().any(|s| s.backlog) { Some(StdDuration::ZERO) } else { timeout };
            let timeout = match (timeout, self.stop_deadline) {
                (t, Some(d)) => {
                    Some(t.unwrap_or(StdDuration::MAX).min(d.saturating_duration_since(StdInstant::now())))
                }
                (t, None) => t,
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            let mut udp_read = [false; quorumd_proto::limits::LINKS_MAX];
            for ev in events.iter() {
                match ev.token() {
                    t if (UDP_BASE..UDP_BASE + self.sockets.len()).contains(&t.0) => {
                        udp_read[t.0 - UDP_BASE] = true;
                        self.read_udp(t.0 - UDP_BASE);
                    }
                    LISTENER => self.accept(),
                    SIGNALS => {
                        let pending: Vec<i32> = signals.pending().collect();
                        for signal in pending {
                            if signal == SIGHUP {
                                // Through the node, as a cfg reload_config: cmap's
                                // config.reload_* keys follow, the reload itself runs at
                                // NodeEvent::ReloadRequested (logged either way).
                                self.node.reload_starting(None);
                            } else {
                                self.begin_stop();
                            }
                        }
                    }
                    t if crate::events::is_token(t) => {
                        let conn = crate::events::conn_of(t);
                        if !self.clients.events.writable(&self.registry, conn) {
                            self.drop_client(conn);
                        }
                    }
                    t if t.0 >= FIRST_TOKEN => self.client_ready(
                        conn_of(t),
                        ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                        ev.is_read_closed() || ev.is_error(),
                        ev.is_writable(),
                    ),
                    _ => {}
                }
                self.drain_outputs()?;
            }
            // Every input above was drained right after it; only a timer left to run.
            let now = self.now();
            if self.node.poll_timeout().is_some_and(|at| at <= now) {
                self.node.handle_timeout(now);
                self.drain_outputs()?;
            }
            for (i, read) in udp_read.into_iter().enumerate().take(self.sockets.len()) {
                if self.sockets[i].backlog && !read {
                    self.read_udp(i);
                }
            }
            if self.accept_backlog {
                self.accept();
            }
            // CPG readers far behind hold every sender of the ring back (quorumd_cpg docs).
            let backlog = self.clients.events.cpg_reader_backlog(StdInstant::now());
            self.node.cpg_reader_backlog(backlog);
            self.drain_outputs()?;
            for conn in self.clients.init_expired(StdInstant::now()) {
                debug!(target: "IPC", "connection {}: no Init within {:?}; closed", conn.0, crate::clients::INIT_TIMEOUT);
                self.drop_client(conn);
            }
            self.drain_outputs()?;
        }
    }

    fn begin_stop(&mut self) {
        if self.stop_deadline.is_none() {
            info!(target: "MAIN", "signal received: leaving the cluster");
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
            self.stop_deadline = Some(StdInstant::now() + StdDuration::from_secs(3));
            let now = self.now();
            self.node.leave(now);
        }
    }

    /// Reads up to UDP_BATCH datagrams from the socket of link index `i` and hands each to the
    /// node with its link.
    fn read_udp(&mut self, i: usize) {
        let mut buf = vec![0u8; 65_536];
        let link = self.sockets[i].link;
        self.sockets[i].backlog = true;
        for _ in 0..UDP_BATCH {
            let (n, from) = match self.sockets[i].udp.recv_from(&mut buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.sockets[i].backlog = false;
                    return;
                }
                Err(e) => {
                    // EINTR: try again next turn. Anything else (a one-shot ICMP error): the next
                    // datagram's event brings us back; never spin on an error.
                    self.sockets[i].backlog = e.kind() == io::ErrorKind::Interrupted;
                    debug!(target: "TOTEM", "recv on link {link}: {e}");
                    return;
                }
            };
            if !self.by_ip.contains_key(&from.ip()) {
                self.drops.count(StdInstant::now(), from, false, Drop::Stranger, &"not in the nodelist");
                continue;
            }
            let now = self.now();
            // Crypto (when on) runs inside the node; refusals are counted per source and logged
            // rate-limited (undecryptable apart from malformed), the rest at debug only.
            if let Err(e) = self.node.handle_link_datagram(now, link, &buf[..n]) {
                if matches!(e, quorumd_node::DropReason::Crypto(_)) {
                    self.drops.count(StdInstant::now(), from, true, Drop::Undecryptable, &e);
                } else if crate::drops::is_counted(&e) {
                    self.drops.count(StdInstant::now(), from, true, Drop::Malformed, &e);
                } else {
                    debug!(target: "TOTEM", "dropped a datagram from {from}: {e}");
                }
            }
            if let Err(e) = self.drain_outputs() {
                error!(target: "MAIN", "{e:#}");
                std::process::exit(8);
            }
        }
    }

    /// Accepts up to ACCEPT_BATCH connections (the rest in the next turn, which then does not
    /// wait), each within the connection caps. An accept error pauses accepting with a
    /// doubling backoff instead of retrying at once: the listener is edge-triggered, so the
    /// connections left waiting are picked up when the pause ends.
    fn accept(&mut self) {
        let now = StdInstant::now();
        if self.accept_paused_until.is_some_and(|t| now < t) {
            self.accept_backlog = true;
            return;
        }
        self.accept_paused_until = None;
        self.accept_backlog = true;
        for _ in 0..ACCEPT_BATCH {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_backlog = false;
                    self.accept_backoff = StdDuration::ZERO;
                    return;
                }
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) =>
                {
                    continue;
                }
                Err(e) => {
                    // Out of descriptors: give the spare back to refuse one waiting
                    // connection cleanly rather than leave it hanging, then pause.
                    if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) {
                        if let Some(spare) = self.spare_fd.take() {
                            drop(spare);
                            if let Ok((s, _)) = self.listener.accept() {
                                crate::clients::refuse(s);
                            }
                            self.spare_fd = spare_fd();
                        }
                    }
                    self.accept_backoff =
                        (self.accept_backoff * 2).clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX);
                    self.accept_paused_until = Some(now + self.accept_backoff);
                    if let Some(n) = self.accept_errors.hit(now) {
                        warn!(target: "IPC", "accept: {e} ({n} times in the last {} s); pausing accepts for {:?}", crate::drops::LOG_EVERY.as_secs(), self.accept_backoff);
                    }
                    return;
                }
            };
            let (uid, gid, pid) = match crate::clients::peer_credentials(&stream) {
                Ok(c) => c,
                Err(e) => {
                    warn!(target: "IPC", "no peer credentials: {e}");
                    continue;
                }
            };
            if let Err(why) = self.clients.admit(uid) {
                crate::clients::refuse(stream);
                if let Some(n) = self.refusals.hit(now) {
                    let what = match why {
                        crate::clients::Refused::Total => "system.max_connections",
                        crate::clients::Refused::PerUid => "system.max_connections_per_uid",
                    };
                    warn!(target: "IPC", "refused {n} connection(s) in the last {} s, the last from pid {pid} uid {uid}: {what} reached", crate::drops::LOG_EVERY.as_secs());
                }
                continue;
            }
            let Ok(conn) = self.clients.add(&self.registry, stream, uid, now) else { continue };
            debug!(target: "IPC", "connection {} from pid {pid} uid {uid} gid {gid}", conn.0);
            let t = self.now();
            self.node.handle_client(t, conn, ClientInput::Connected { uid, gid, pid });
        }
    }

    fn client_ready(&mut self, conn: quorumd_node::ConnId, readable: bool, closed: bool, writable: bool) {
        if writable && !self.clients.flush(&self.registry, conn) {
            self.drop_client(conn);
            return;
        }
        if !readable {
            return;
        }
        let now = self.now();
        match self.clients.read(conn, closed) {
            ReadOutcome::Frames(frames) => {
                for f in frames {
                    self.node.handle_client(now, conn, ClientInput::Frame(f));
                }
                // A client streaming frames (CPG chunks): the rest is read at the next poll.
                if self.clients.more_to_read(conn) && !self.clients.rearm(&self.registry, conn) {
                    self.drop_client(conn);
                }
            }
            ReadOutcome::Closed => self.drop_client(conn),
            ReadOutcome::Bad(why) => {
                if let Some(n) = self.bad_clients.hit(StdInstant::now()) {
                    warn!(target: "IPC", "connection {}: {why}; disconnected ({n} such in the last 10 s)", conn.0);
                }
                self.drop_client(conn);
            }
        }
    }

    fn drop_client(&mut self, conn: quorumd_node::ConnId) {
        self.clients.remove(&self.registry, conn);
        let now = self.now();
        self.node.handle_client(now, conn, ClientInput::Disconnected);
    }

    /// Events first (persisting ring seqs), then the state page, datagrams and client output.
    fn drain_outputs(&mut self) -> Result<()> {
        while let Some(ev) = self.node.poll_event() {
            self.on_event(ev)?;
        }
        self.publish_page();
        while let Some(t) = self.node.poll_transmit() {
            let (Some(socket), Some(addrs)) =
                (self.sockets.iter().find(|s| s.link == t.link), self.link_peers.get(&t.link))
            else {
                continue;
            };
            for to in t.to {
                if let Some(addr) = addrs.get(&to) {
                    if let Err(e) = socket.udp.send_to(&t.bytes, *addr) {
                        debug!(target: "TOTEM", "send to node {to} on link {} ({addr}): {e}", t.link);
                    }
                }
            }
        }
        while let Some((conn, out)) = self.node.poll_client() {
            let keep = match out {
                ClientOutput::Send(bytes) => {
                    let bytes = match ipc::decode(&bytes) {
                        Ok(Frame::Response(Response::Status { error, json })) => {
                            let json = self.roster.add_to_status(json);
                            let json = self.add_links_to_status(json);
                            let json = self.add_limits_to_status(json);
                            ipc::encode(&Frame::Response(Response::Status { error, json }))
                        }
                        _ => bytes,
                    };
                    crate::events::deliver(
                        &mut self.clients,
                        &self.registry,
                        self.page.client_fd(),
                        conn,
                        &bytes,
                    )
                }
                ClientOutput::Close => self.clients.close_after_flush(&self.registry, conn),
            };
            if !keep {
                if self.clients.map.contains_key(&conn) {
                    debug!(target: "IPC", "connection {} closed", conn.0);
                }
                self.clients.remove(&self.registry, conn);
                let now = self.now();
                self.node.handle_client(now, conn, ClientInput::Disconnected);
            }
            for gone in std::mem::take(&mut self.clients.evicted) {
                if let Some(n) = self.evictions.hit(StdInstant::now()) {
                    warn!(target: "IPC", "connection {}: disconnected, it is the furthest behind of all clients and their queues reached {} MiB ({n} such in the last 10 s)", gone.0, crate::clients::OUT_TOTAL_MAX >> 20);
                }
                let now = self.now();
                self.node.handle_client(now, gone, ClientInput::Disconnected);
            }
        }
        Ok(())
    }

    /// Appends the per-source drop counters and the client queue total to the status document
    /// (`dropped_datagrams`, `client_queue_bytes`), unless that would not fit in one frame.
    fn add_limits_to_status(&self, json: String) -> String {
        let Some(head) = json.strip_suffix('}') else { return json };
        let sep = if head.ends_with('{') { "" } else { "," };
        let out = format!(
            "{head}{sep}{},\"client_queue_bytes\":{}}}",
            self.drops.json_member(),
            self.clients.out_total()
        );
        if out.len() > ipc::FRAME_MAX - ipc::FRAME_HEADER_LEN - 8 {
            return json;
        }
        out
    }

    /// Completes the status document with the links (`links`): the node's link status with
    /// the addresses and the wall clock only the shell knows.
    fn add_links_to_status(&self, json: String) -> String {
        let Ok(mut status) = Status::from_json(&json) else { return json };
        status.links = Some(self.links_view());
        let out = status.to_json();
        // The IPC frame cuts longer status text (quorumd_proto::ipc::encode).
        if out.len() > ipc::FRAME_MAX - ipc::FRAME_HEADER_LEN - 8 {
            return json;
        }
        out
    }

    fn links_view(&self) -> LinksView {
        let st = self.node.link_status();
        let (now, wall) = (self.now(), unix_ms());
        let addr = |link: LinkId, id: NodeId| {
            self.link_peers.get(&link).and_then(|a| a.get(&id)).map(ToString::to_string)
        };
        let links = st
            .links
            .iter()
            .map(|l| LinkView {
                link: l.link.get(),
                transport: "udp".into(),
                address: addr(l.link, st.me),
                priority: l.priority,
                ping_interval_ms: l.ping_interval.as_millis(),
                ping_timeout_ms: l.ping_timeout.as_millis(),
                pong_count: l.pong_count,
            })
            .collect();
        let peer_link = |node: NodeId, l: &quorumd_node::LinkStatus| {
            // The node's clock counts from the daemon's start; the wall clock is the shell's.
            let at = l
                .last_change
                .map(|t| wall.saturating_sub(now.as_micros().saturating_sub(t.as_micros()) / 1000));
            PeerLinkView {
                link: l.link.get(),
                address: addr(l.link, node),
                connected: l.connected,
                latency_us: l.latency.map(|d| d.as_micros()),
                last_change: at.map(quorumd_proto::status::rfc3339),
                last_change_unix_ms: at,
                sent: l.counters.sent,
                received: l.counters.received,
                dropped: l.counters.dropped,
                up: l.counters.up,
                down: l.counters.down,
            }
        };
        let peers = st
            .peers
            .iter()
            .map(|p| PeerView {
                nodeid: p.node.get(),
                reachable: p.reachable,
                admitted: p.admitted,
                links: p.links.iter().map(|l| peer_link(p.node, l)).collect(),
            })
            .collect();
        LinksView { mode: st.mode.name().to_string(), links, peers, clique: st.clique.raw() }
    }

    fn publish_page(&mut self) {
        if !self.node.activated() {
            return;
        }
        let (ring, view) = self.node.quorum_view();
        let page = StatePage {
            flags: FLAG_ALIVE,
            quorate: u32::from(self.node.quorate()),
            quorum_type: self.quorum_type,
            ring_rep: ring.rep,
            ring_seq: ring.seq,
            heartbeat_ms: 0, // set by Page::publish at the moment it writes
            stale_after_ms: self.stale_after_ms,
            view: view.raw(),
        };
        self.page.publish(page);
    }

    fn on_event(&mut self, ev: NodeEvent) -> Result<()> {
        match ev {
            NodeEvent::Totem(TotemEvent::PersistRingSeq(seq)) => {
                if let Err(e) = self.state.store_ring_seq(seq) {
                    // Client connections are capped well below the open-file limit, so this
                    // should not happen; if the descriptors ran out anyway, use the spare.
                    warn!(target: "MAIN", "{e:#}; retrying with the reserved descriptor");
                    self.spare_fd = None;
                    let stored = self.state.store_ring_seq(seq);
                    self.spare_fd = spare_fd();
                    stored.context("the ring seq must be stored before the ring is used")?;
                }
            }
            NodeEvent::Totem(TotemEvent::StateChanged { state, reason }) => {
                debug!(target: "TOTEM", "{state:?}: {reason}");
            }
            NodeEvent::Totem(TotemEvent::NodesFailed(nodes)) => {
                info!(target: "TOTEM", "nodes {nodes} did not answer join messages: marked failed");
            }
            NodeEvent::Totem(TotemEvent::ConfChange(c)) if c.kind == quorumd_node::ConfKind::Regular => {
                info!(target: "TOTEM", "A new membership ({}) was formed. Members{}", c.ring_id, c.members);
            }
            NodeEvent::Totem(_) => {}
            // The core reports each change once; the shell logs it.
            NodeEvent::Link(LinkEvent::Changed { peer, link, connected }) => {
                let addr = self
                    .link_peers
                    .get(&link)
                    .and_then(|a| a.get(&peer))
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if connected {
                    info!(target: "TOTEM", "link {link} to node {peer} ({addr}) is up");
                } else {
                    warn!(target: "TOTEM", "link {link} to node {peer} ({addr}) is down");
                }
            }
            NodeEvent::Link(LinkEvent::Clique(clique)) => {
                info!(target: "TOTEM", "the nodes with two-way connectivity to this node and each other are now {clique}");
            }
            NodeEvent::SyncCompleted { ring_id, members, joined, left, quorate } => {
                self.roster.synced(&members, unix_ms());
                info!(target: "QUORUM", "Sync members[{}]: {members} joined: {joined} left: {left}", members.len());
                if quorate {
                    info!(target: "QUORUM", "This node is within the primary component and will provide service (ring {ring_id}).");
                } else {
                    info!(target: "QUORUM", "This node is within the non-primary component and will NOT provide any services (ring {ring_id}).");
                }
                if !self.ready {
                    self.ready = true;
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
                }
                let status = format!(
                    "ring {ring_id}, {} members, {}",
                    members.len(),
                    if quorate { "quorate" } else { "not quorate" }
                );
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status(&status)]);
            }
            NodeEvent::QuorateChanged { ring_id, quorate } => {
                info!(target: "QUORUM", "quorate is now {quorate} (ring {ring_id})");
            }
            NodeEvent::PersistExpectedVotes(ev) => self.state.store_expected_votes(ev)?,
            NodeEvent::AccessDenied { uid, gid, pid, .. } => {
                // Rate-limited: a connect/Init loop of a refused user must not flood the log.
                if let Some(n) = self.denials.hit(StdInstant::now()) {
                    let more = if n > 1 {
                        format!(" ({n} attempts refused in the last 10 s)")
                    } else {
                        String::new()
                    };
                    warn!(target: "IPC", "Denied connection attempt from {uid}:{gid} (pid {pid}): add a uidgid entry to allow it{more}");
                }
            }
            NodeEvent::ClientError { conn, reason } => {
                warn!(target: "IPC", "connection {}: {reason}", conn.0)
            }
            NodeEvent::ReloadRequested { conn } => {
                let result = self.reload();
                self.node.reload_answer(conn, result);
            }
            NodeEvent::Notice { subsystem, text } => info!(target: "SERVICE", "{subsystem}: {text}"),
            NodeEvent::Left => {
                info!(target: "MAIN", "left the cluster");
                self.left = true;
            }
        }
        Ok(())
    }
}

/// Every nodelist address on any link, to its node.
fn by_ip(link_peers: &BTreeMap<LinkId, BTreeMap<NodeId, SocketAddr>>) -> BTreeMap<IpAddr, NodeId> {
    link_peers.values().flat_map(|m| m.iter().map(|(id, a)| (a.ip(), *id))).collect()
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Every configured node as this daemon started with it (name, ring0 address, `quorum_votes`),
/// and when it last joined or left the membership clients were told about (wall clock, at each
/// completed sync). The daemon appends it to the status document as `nodelist`, so quorumtool
/// shows never-seen nodes from the config the daemon runs with, not from a corosync.conf that
/// may have been edited since. Each entry: `{"nodeid", "name", "address", "votes", "state":
/// "member" | "down" | "never_seen", "since_unix_ms": joined (member) or left (down), null
/// when never seen}`. A document that would not fit in one IPC frame goes out without it.
struct Roster {
    nodes: BTreeMap<NodeId, RosterNode>,
}

struct RosterNode {
    name: String,
    address: IpAddr,
    votes: u32,
    member: bool,
    since_ms: Option<u64>,
}

impl Roster {
    fn new(
        config: &quorumd_config::Config,
        peers: &BTreeMap<NodeId, SocketAddr>,
        names: &BTreeMap<NodeId, String>,
    ) -> Roster {
        let nodes = config
            .nodelist
            .iter()
            .filter_map(|n| {
                let address = peers.get(&n.nodeid)?.ip();
                let name = names.get(&n.nodeid).cloned().unwrap_or_default();
                Some((
                    n.nodeid,
                    RosterNode { name, address, votes: n.votes(), member: false, since_ms: None },
                ))
            })
            .collect();
        Roster { nodes }
    }

    fn synced(&mut self, members: &MemberList, now_ms: u64) {
        for (id, n) in &mut self.nodes {
            let member = members.contains(*id);
            if member != n.member {
                n.member = member;
                n.since_ms = Some(now_ms);
            }
        }
    }

    /// The node's status document completed with the nodelist the daemon runs with (only the
    /// shell knows the addresses and the wall clock). Counters of the daemon go in
    /// `status.counters`.
    fn add_to_status(&self, json: String) -> String {
        let Ok(mut status) = Status::from_json(&json) else { return json };
        let nodelist =
            self.nodes
                .iter()
                .map(|(id, n)| {
                    let id = id.get();
                    let votes = status.votequorum.as_ref().map(|vq| {
                        vq.nodes.iter().find(|row| row.nodeid == id).map_or(n.votes, |row| row.votes)
                    });
                    let state = match (n.member, n.since_ms) {
                        (true, _) => NodeState::Member,
                        (false, Some(_)) => NodeState::Down,
                        (false, None) => NodeState::NeverSeen,
                    };
                    ConfiguredNode {
                        nodeid: id,
                        votes,
                        configured_votes: n.votes,
                        name: n.name.clone(),
                        address: Some(n.address.to_string()),
                        state,
                        since: n.since_ms.map(quorumd_proto::status::rfc3339),
                        since_unix_ms: n.since_ms,
                        local: id == status.node_id,
                    }
                })
                .collect();
        status.nodelist = Some(nodelist);
        let out = status.to_json();
        // The IPC frame cuts longer status text (quorumd_proto::ipc::encode).
        if out.len() > ipc::FRAME_MAX - ipc::FRAME_HEADER_LEN - 8 {
            return json;
        }
        out
    }
}
