//! The event loop: one thread, one `mio` poll. Wait for the earliest deadline or I/O, feed the
//! node, drain its outputs (events first: ring seqs are persisted before anything is sent).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use anyhow::{anyhow, bail, Context, Result};
use mio::net::{UdpSocket, UnixListener};
use mio::{Events, Interest, Poll, Token};
use quorumd_crypto::{CryptoConfig, CryptoContext};
use quorumd_node::{ClientInput, ClientOutput, Node, NodeEvent, TotemEvent};
use quorumd_proto::ipc::{self, Frame, Response};
use quorumd_proto::shm::{StatePage, FLAG_ALIVE};
use quorumd_proto::status::{ConfiguredNode, NodeState, Status};
use quorumd_proto::{Instant, MemberList, NodeId};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use tracing::{debug, error, info, warn};

use crate::clients::{conn_of, Clients, ReadOutcome, FIRST_TOKEN};
use crate::page::Page;
use crate::setup::{self, Loaded};
use crate::state::StateDir;
use crate::Cli;

const UDP: Token = Token(0);
const LISTENER: Token = Token(1);
const SIGNALS: Token = Token(2);

/// `quorumd --check-config FILE`: parse, validate, derive, print; change nothing.
pub fn check_config(path: &Path, nodeid: Option<u32>) -> Result<()> {
    let Loaded { config, .. } = setup::load(path)?;
    for w in &config.warnings {
        println!("warning: {w}");
    }
    let totem = setup::totem_config(&config)?;
    let peers = setup::peer_addresses(&config)?;
    let nodelist = setup::nodelist(&config)?;
    let any = nodeid.and_then(|n| NodeId::new(n).ok()).or_else(|| nodelist.lowest());
    let my = any.ok_or_else(|| anyhow!("the nodelist is empty"))?;
    let quorum = setup::quorum_settings(&config, my)?;
    setup::access_policy(&config)?;
    crypto_config(&config)?;
    println!("configuration {} is valid", path.display());
    println!("nodes: {} ({})", nodelist.len(), nodelist);
    for (id, addr) in &peers {
        println!("  node {id}: {addr}");
    }
    println!(
        "totem: token {} ms, consensus {} ms, join {} ms, merge {} ms, token_retransmit {} ms, hold {} ms",
        totem.token.as_millis(),
        totem.consensus.as_millis(),
        totem.join.as_millis(),
        totem.merge.as_millis(),
        totem.token_retransmit.as_millis(),
        totem.hold.as_millis()
    );
    println!("expected failure detection: about {} ms", (totem.token + totem.consensus).as_millis());
    match quorum {
        Some(q) => println!(
            "quorum: corosync_votequorum, expected votes {}, two_node {}, wait_for_all {}, last_man_standing {}, auto_tie_breaker {}",
            q.expected_votes,
            q.two_node,
            q.wait_for_all,
            q.last_man_standing,
            q.auto_tie_breaker.is_some()
        ),
        None => println!("quorum: no provider (clients always see quorate = 1)"),
    }
    Ok(())
}

fn crypto_config(config: &quorumd_config::Config) -> Result<CryptoConfig> {
    let (cipher, hash) = config.totem.effective_crypto();
    // The config crate's enums spell corosync's values; their Debug names lowercased are those.
    let (cipher, hash) = (format!("{cipher:?}").to_lowercase(), format!("{hash:?}").to_lowercase());
    CryptoConfig::parse(&cipher, &hash).map_err(|e| anyhow!("totem crypto: {e}"))
}

fn crypto_context(
    config: &quorumd_config::Config,
    my_id: NodeId,
    epoch: u64,
) -> Result<Option<CryptoContext>> {
    let cc = crypto_config(config)?;
    if cc.is_plaintext() {
        warn!(target: "TOTEM", "crypto_cipher and crypto_hash are 'none': cluster traffic is neither encrypted nor authenticated");
        return Ok(None);
    }
    let keyfile = config.totem.keyfile.clone().unwrap_or_else(|| "/etc/corosync/authkey".into());
    let key = std::fs::read(&keyfile).with_context(|| format!("cannot read the authkey {keyfile}"))?;
    if let Ok(meta) = std::fs::metadata(&keyfile) {
        if let Some(w) = quorumd_crypto::authkey_mode_warning(meta.permissions().mode()) {
            warn!(target: "TOTEM", "{keyfile}: {w}");
        }
    }
    let cluster = config.totem.cluster_name.clone().unwrap_or_default();
    let ctx =
        CryptoContext::new(&key, &cluster, my_id.get(), epoch).map_err(|e| anyhow!("{keyfile}: {e}"))?;
    info!(target: "TOTEM", "crypto: {cc} (key id {:08x})", ctx.key_id());
    Ok(Some(ctx))
}

fn socket_path(cli: &Cli) -> PathBuf {
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

/// Binds the client socket. A stale socket file is replaced only if nothing answers on it.
fn bind_listener(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("another daemon is already serving {}", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("cannot remove stale {}", path.display()))?;
    }
    let listener = UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
    // Anyone may connect; who may *use* the service is decided from the peer credentials
    // (root or a uidgid entry), and everyone else gets CS_ERR_ACCESS, as with corosync.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

fn init_logging(config: &quorumd_config::Config) {
    let debug = config.logging.settings.debug.is_some_and(|d| !matches!(d, quorumd_config::DebugLevel::Off));
    let default = if debug { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUORUMD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&io::stderr());
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(io::stderr).try_init();
}

struct Daemon {
    node: Node,
    origin: StdInstant,
    udp: UdpSocket,
    peers: BTreeMap<NodeId, SocketAddr>,
    by_ip: BTreeMap<IpAddr, NodeId>,
    crypto: Option<CryptoContext>,
    state: StateDir,
    page: Page,
    poll: Poll,
    /// A handle on `poll`'s registry, taken once (cloning it per event costs two syscalls).
    registry: mio::Registry,
    listener: UnixListener,
    clients: Clients,
    /// The last read_udp stopped at UDP_BATCH with datagrams possibly left in the socket.
    udp_backlog: bool,
    roster: Roster,
    quorum_type: u32,
    ready: bool,
    left: bool,
    stop_deadline: Option<StdInstant>,
}

/// Runs the daemon until SIGTERM/SIGINT.
pub fn run(cli: &Cli) -> Result<()> {
    let Loaded { config, path } = setup::load(&cli.config)?;
    init_logging(&config);
    for w in &config.warnings {
        warn!(target: "MAIN", "{w}");
    }
    crate::sched::apply(&config.system);
    let peers = setup::peer_addresses(&config)?;
    let my_id = setup::local_node(&config, cli.nodeid, &peers)?;
    let mut params = setup::node_params(&config, my_id)?;
    params.cmap = quorumd_cmap::config_keys(&config);
    let roster = Roster::new(&config, &peers, &params.names);
    let state = StateDir::open(&cli.state_dir, my_id)?;
    params.start_seq = state.ring_seq()?.saturating_add(1);
    params.persisted_expected_votes = state.expected_votes()?;
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let crypto = crypto_context(&config, my_id, epoch)?;
    let bind = peers[&my_id];
    let udp = UdpSocket::bind(bind).with_context(|| format!("cannot bind UDP {bind}"))?;
    // A join storm in a large cluster delivers N-1 datagrams at once to every node; the
    // default receive buffer (208 KiB) dropped some of them at 64 nodes. The kernel caps the
    // request at net.core.rmem_max unless we may force it (CAP_NET_ADMIN).
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(&udp, UDP_RCVBUF).is_err() {
        if let Err(e) = rustix::net::sockopt::set_socket_recv_buffer_size(&udp, UDP_RCVBUF) {
            debug!(target: "TOTEM", "SO_RCVBUF {UDP_RCVBUF}: {e}");
        }
    }
    debug!(target: "TOTEM", "UDP receive buffer: {:?} bytes", rustix::net::sockopt::socket_recv_buffer_size(&udp));
    let sock = socket_path(cli);
    let listener = bind_listener(&sock)?;
    let t = &params.totem;
    info!(target: "MAIN", "quorumd {} starting: node {my_id} of {} ({}), config {}", env!("CARGO_PKG_VERSION"), params.nodelist, bind, path.display());
    info!(target: "TOTEM", "token {} ms, consensus {} ms, join {} ms, merge {} ms: a failed node is noticed within about {} ms",
        t.token.as_millis(), t.consensus.as_millis(), t.join.as_millis(), t.merge.as_millis(), (t.token + t.consensus).as_millis());
    let quorum_type = u32::from(params.quorum.is_some());
    let origin = StdInstant::now();
    let node = Node::new(params, Instant::from_micros(0));
    let by_ip = peers.iter().map(|(id, a)| (a.ip(), *id)).collect();
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    let mut d = Daemon {
        node,
        origin,
        udp,
        peers,
        by_ip,
        crypto,
        state,
        page: Page::new()?,
        poll,
        registry,
        listener,
        clients: Clients::default(),
        udp_backlog: false,
        roster,
        quorum_type,
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
        self.registry.register(&mut self.udp, UDP, Interest::READABLE)?;
        self.registry.register(&mut self.listener, LISTENER, Interest::READABLE)?;
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
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
            // Datagrams left in the socket (edge-triggered: no new event for them): do not wait.
            let timeout = if self.udp_backlog { Some(StdDuration::ZERO) } else { timeout };
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
            let mut udp_read = false;
            for ev in events.iter() {
                match ev.token() {
                    UDP => {
                        udp_read = true;
                        self.read_udp();
                    }
                    LISTENER => self.accept(),
                    SIGNALS if signals.pending().next().is_some() => self.begin_stop(),
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
            if self.udp_backlog && !udp_read {
                self.read_udp();
            }
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

    fn read_udp(&mut self) {
        let mut buf = vec![0u8; 65_536];
        self.udp_backlog = true;
        for _ in 0..UDP_BATCH {
            let (n, from) = match self.udp.recv_from(&mut buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.udp_backlog = false;
                    return;
                }
                Err(e) => {
                    // EINTR: try again next turn. Anything else (a one-shot ICMP error): the next
                    // datagram's event brings us back; never spin on an error.
                    self.udp_backlog = e.kind() == io::ErrorKind::Interrupted;
                    debug!(target: "TOTEM", "recv: {e}");
                    return;
                }
            };
            if !self.by_ip.contains_key(&from.ip()) {
                debug!(target: "TOTEM", "dropped a datagram from {from}: not a nodelist address");
                continue;
            }
            let plain = match self.crypto.as_mut() {
                Some(c) => match c.open(&buf[..n]) {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(target: "TOTEM", "dropped a datagram from {from}: {e}");
                        continue;
                    }
                },
                None => buf[..n].to_vec(),
            };
            let now = self.now();
            if let Err(e) = self.node.handle_datagram(now, &plain) {
                debug!(target: "TOTEM", "dropped a datagram from {from}: {e}");
            }
            if let Err(e) = self.drain_outputs() {
                error!(target: "MAIN", "{e:#}");
                std::process::exit(8);
            }
        }
    }

    fn accept(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    warn!(target: "IPC", "accept: {e}");
                    return;
                }
            };
            let Ok(conn) = self.clients.add(&self.registry, stream) else { continue };
            let now = self.now();
            match self.clients.peer_credentials(conn) {
                Ok((uid, gid, pid)) => {
                    debug!(target: "IPC", "connection {} from pid {pid} uid {uid} gid {gid}", conn.0);
                    self.node.handle_client(now, conn, ClientInput::Connected { uid, gid, pid });
                }
                Err(e) => {
                    warn!(target: "IPC", "no peer credentials: {e}");
                    self.clients.remove(&self.registry, conn);
                }
            }
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
            }
            ReadOutcome::Closed => self.drop_client(conn),
            ReadOutcome::Bad(why) => {
                warn!(target: "IPC", "connection {}: {why}; disconnected", conn.0);
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
        self.publish_page()?;
        while let Some(t) = self.node.poll_transmit() {
            let bytes = match self.crypto.as_mut() {
                Some(c) => c.seal(&t.bytes).map_err(|e| anyhow!("seal: {e}"))?,
                None => t.bytes,
            };
            for to in t.to {
                if let Some(addr) = self.peers.get(&to) {
                    if let Err(e) = self.udp.send_to(&bytes, *addr) {
                        debug!(target: "TOTEM", "send to node {to} ({addr}): {e}");
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
        }
        Ok(())
    }

    fn publish_page(&mut self) -> Result<()> {
        if !self.node.activated() {
            return Ok(());
        }
        let (ring, view) = self.node.quorum_view();
        let page = StatePage {
            flags: FLAG_ALIVE,
            quorate: u32::from(self.node.quorate()),
            quorum_type: self.quorum_type,
            ring_rep: ring.rep,
            ring_seq: ring.seq,
            view: view.raw(),
        };
        self.page.publish(page)
    }

    fn on_event(&mut self, ev: NodeEvent) -> Result<()> {
        match ev {
            NodeEvent::Totem(TotemEvent::PersistRingSeq(seq)) => {
                self.state
                    .store_ring_seq(seq)
                    .context("the ring seq must be stored before the ring is used")?;
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
                warn!(target: "IPC", "Denied connection attempt from {uid}:{gid} (pid {pid}): add a uidgid entry to allow it");
            }
            NodeEvent::ClientError { conn, reason } => {
                warn!(target: "IPC", "connection {}: {reason}", conn.0)
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
