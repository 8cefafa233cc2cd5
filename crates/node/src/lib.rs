//! One quorumd cluster node, sans-IO. It composes Totem (membership and ordering), votequorum
//! (the quorum decision), the quorum service (what clients are told, and when) and the table
//! of client sessions. The daemon and the simulator drive the very same code.
//!
//! Contract: after every `handle_*` call the caller drains `poll_event` first (a
//! [`TotemEvent::PersistRingSeq`] must be stored before anything polled after it is sent),
//! then `poll_transmit` and `poll_client`, then asks `poll_timeout` for the next deadline.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cfg;
mod cpg;
mod crypto;
pub mod params;
pub mod reload;
mod service;
mod services;
mod sessions;
mod status;

use std::collections::{BTreeMap, VecDeque};

use quorumd_proto::ipc::{self, cs, Frame, Request, Response};
use quorumd_proto::wire::{self, DecodeError};
use quorumd_proto::wire::{Message, Packet};
use quorumd_proto::{Duration, Instant, LinkId, MemberList, NodeId, RingId};
use quorumd_totem::{
    Dropped, LinkMutant, Links, LinksConfig, Mutant, State, SubmitError, Totem, TotemConfig, TotemParams,
};
use quorumd_votequorum::{Action, NodeFlags, QuorumState, Settings, Votequorum, VqMessage};

use service::ServiceState;
use sessions::{nodelist_frame, quorum_frame, Session, Sessions};

pub use cpg::SERVICE_CPG;
pub use crypto::CryptoParams;
pub use quorumd_cpg::Mutant as CpgMutant;
pub use quorumd_crypto::{ClusterKey, CryptoError, SessionStats};
pub use quorumd_totem::{
    ConfChange, ConfKind, Delivery, Event as TotemEvent, LinkConfig, LinkCounters, LinkEvent, LinkKeys,
    LinkMode, LinkStatus, LinksStatus, PeerLinks,
};
pub use sessions::{track, AccessPolicy, ConnId, Model};

/// The service id that prefixes votequorum payloads on Totem (corosync's VOTEQUORUM = 5).
pub const SERVICE_VOTEQUORUM: u8 = 5;

/// Everything a node is built from.
#[derive(Clone, Debug)]
pub struct NodeParams {
    /// This node.
    pub my_id: NodeId,
    /// Every configured node.
    pub nodelist: MemberList,
    /// Effective Totem timing.
    pub totem: TotemConfig,
    /// This node's links (`totem.interface` / `ringL_addr`) and `link_mode`. Every node of a
    /// cluster has the same link numbers. [`NodeParams::new`] sets link 0 alone, with knet's
    /// defaults derived from the token.
    pub links: LinksConfig,
    /// Cluster id carried in every header.
    pub cluster_id: u32,
    /// Persisted ring seq + 1 (1 on a fresh state dir, like corosync).
    pub start_seq: u64,
    /// This boot's random incarnation (see `quorumd_totem::TotemParams::incarnation`). The
    /// shell must draw a fresh one at every boot; `new` leaves 0.
    pub incarnation: u64,
    /// Test-only broken behaviour.
    pub mutant: Option<Mutant>,
    /// Test-only broken behaviour of the CPG service (the simulator's CPG mutants).
    pub cpg_mutant: Option<CpgMutant>,
    /// Test-only broken link behaviour.
    pub link_mutant: Option<LinkMutant>,
    /// Apply the partial-connectivity rule (Totem forms rings only within this node's
    /// clique, docs/totem.md "Partial connectivity"). `NodeParams::from_config` (the daemon,
    /// configured simulations) turns it on: with two or more links it runs on knet's
    /// permanent heartbeats, with one link in quiet mode (heartbeats only while Totem changes
    /// membership or a peer is down, `Links::set_quiet`). Off ([`NodeParams::new`], the
    /// simulator's default worlds): with one link a dead link is a dead node and a one-way
    /// cut re-forms again and again, as in corosync.
    pub clique_rule: bool,
    /// Validated votequorum settings; `None` means no quorum provider (`QUORUM_FREE`).
    pub quorum: Option<Settings>,
    /// The last persisted tracked expected votes (`ev_tracking`), if any.
    pub persisted_expected_votes: Option<u32>,
    /// Who may use the IPC.
    pub access: AccessPolicy,
    /// Node names from the nodelist (for status output).
    pub names: BTreeMap<NodeId, String>,
    /// Authenticated transport (`None`: datagrams go out and are taken in plaintext, the
    /// corosync default `crypto_cipher: none`).
    pub crypto: Option<CryptoParams>,
    /// The configuration's cmap keys (`quorumd_cmap::config_keys`).
    pub cmap: Vec<(String, quorumd_proto::svc_cmap::CmapValue)>,
}

impl NodeParams {
    /// Parameters with no quorum provider, default access and no names.
    pub fn new(my_id: NodeId, nodelist: MemberList, totem: TotemConfig) -> NodeParams {
        NodeParams {
            my_id,
            nodelist,
            links: LinksConfig::single(totem.token),
            totem,
            cluster_id: 0,
            start_seq: 1,
            incarnation: 0,
            mutant: None,
            cpg_mutant: None,
            link_mutant: None,
            clique_rule: false,
            quorum: None,
            persisted_expected_votes: None,
            access: AccessPolicy::default(),
            names: BTreeMap::new(),
            crypto: None,
            cmap: Vec::new(),
        }
    }
}

/// A datagram ready for the network: send `bytes` from the socket of link `link` to the
/// `ringL_addr` (L = `link`) of each node in `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destinations.
    pub to: Vec<NodeId>,
    /// The link to send on.
    pub link: LinkId,
    /// The bytes to send to each.
    pub bytes: Vec<u8>,
}

/// Why a datagram was dropped. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// It did not decode.
    #[error("undecodable datagram: {0}")]
    Decode(#[from] DecodeError),
    /// Totem refused it.
    #[error("{0}")]
    Protocol(#[from] Dropped),
    /// The authenticated transport refused it (crypto on): forged, tampered, another key, a
    /// replay, or sent to an earlier start of this node. Nothing reached Totem.
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

/// Something that happened on a client connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientInput {
    /// A client connected; the shell read its peer credentials.
    Connected {
        /// Peer uid.
        uid: u32,
        /// Peer gid.
        gid: u32,
        /// Peer pid.
        pid: u32,
    },
    /// One whole IPC frame (see `quorumd_proto::ipc::frame_len`).
    Frame(Vec<u8>),
    /// The client went away.
    Disconnected,
}

/// What to do on a client connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOutput {
    /// Write this frame.
    Send(Vec<u8>),
    /// Close the connection (after writing what was queued).
    Close,
}

/// What the node reports to its shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// From the membership layer (ring seqs to persist, configuration changes, deliveries).
    Totem(TotemEvent),
    /// A membership sync completed: clients were told about ring `ring_id`.
    SyncCompleted {
        /// The ring.
        ring_id: RingId,
        /// Its members.
        members: MemberList,
        /// Joined since the previous completed sync.
        joined: MemberList,
        /// Left since the previous completed sync.
        left: MemberList,
        /// What getquorate now returns.
        quorate: bool,
    },
    /// Quorate flipped outside a membership change.
    QuorateChanged {
        /// The current ring.
        ring_id: RingId,
        /// The new value.
        quorate: bool,
    },
    /// The shell must store the tracked expected votes (`ev_tracking`).
    PersistExpectedVotes(u32),
    /// A client was refused (log it: corosync-behaviour §6.1 "Denied connection attempt").
    AccessDenied {
        /// Connection.
        conn: ConnId,
        /// Peer uid.
        uid: u32,
        /// Peer gid.
        gid: u32,
        /// Peer pid.
        pid: u32,
    },
    /// A client sent something invalid and was disconnected.
    ClientError {
        /// Connection.
        conn: ConnId,
        /// What was wrong.
        reason: String,
    },
    /// A configuration reload is due: a client (root) asked for one (`quorumtool reload`), or
    /// a cfg `reload_config` of any node was delivered (it reloads every node, as corosync's).
    /// The shell reloads and answers with [`Node::reload_answer`].
    ReloadRequested {
        /// Connection to answer (none when another node asked).
        conn: Option<ConnId>,
    },
    /// The clean leave is complete; the shell may exit.
    Left,
    /// A link to a peer came up or went down, or the clique changed (log it: once per change).
    Link(LinkEvent),
    /// Something a service did that the log should say (cfg shutdown, kill_node, ...).
    Notice {
        /// The subsystem, as log target (`CFG`).
        subsystem: &'static str,
        /// What happened.
        text: String,
    },
}

/// One cluster node.
#[derive(Debug)]
pub struct Node {
    my_id: NodeId,
    totem: Totem,
    vq: Option<Votequorum>,
    service: ServiceState,
    sessions: Sessions,
    names: BTreeMap<NodeId, String>,
    access: AccessPolicy,
    lms: Option<(Instant, u64)>,
    leaving: Option<Instant>,
    left: bool,
    events: VecDeque<NodeEvent>,
    client_out: VecDeque<(ConnId, ClientOutput)>,
    dropped: u64,
    crypto: Option<crypto::NodeCrypto>,
    links: Links,
    clique_rule: bool,
    /// The link layer's heartbeats run: with two or more links (a link failing must not be a
    /// node failing), or when the clique rule needs them. With one link, a failed link is a
    /// failed node, so Totem's own token timeout is the only detector and no heartbeat is
    /// sent (as before links existed); `link_status` then reports a peer connected while it
    /// is a member of the ring.
    heartbeats: bool,
    /// Plaintext datagrams routed to links, waiting for `poll_transmit` (crypto off).
    routed: VecDeque<Transmit>,
    /// Transmits refused by sealing (too large, counters exhausted).
    unsealable: u64,
    cmap: services::CmapState,
    svc: services::SvcSessions,
    cfg: cfg::CfgState,
    cpg: quorumd_cpg::Cpg,
}

impl Node {
    /// Boots a node at `now`: it starts gathering at once.
    pub fn new(mut params: NodeParams, now: Instant) -> Node {
        let cmap_keys = std::mem::take(&mut params.cmap);
        let vq = params.quorum.clone().map(|s| Votequorum::from_settings(s, params.persisted_expected_votes));
        let crypto = params.crypto.map(|c| crypto::NodeCrypto::new(c, params.my_id, params.nodelist.clone()));
        let heartbeats = params.clique_rule || params.links.links.len() > 1;
        let quiet = params.clique_rule && params.links.links.len() == 1;
        let silence_limit = params.totem.token + params.totem.consensus;
        let mut links = Links::new(
            params.my_id,
            params.nodelist.clone(),
            params.cluster_id,
            params.incarnation,
            params.links,
            params.link_mutant,
            now,
        );
        // A peer silent everywhere is judged unreachable no sooner than Totem would fail it.
        links.set_silence_limit(silence_limit);
        if quiet {
            links.set_quiet(now);
        }
        let totem = Totem::new(
            TotemParams {
                my_id: params.my_id,
                nodelist: params.nodelist,
                config: params.totem,
                cluster_id: params.cluster_id,
                start_seq: params.start_seq,
                incarnation: params.incarnation,
                mutant: params.mutant,
            },
            now,
        );
        let mut node = Node {
            my_id: params.my_id,
            totem,
            service: ServiceState::new(vq.is_some()),
            vq,
            sessions: Sessions::default(),
            names: params.names,
            access: params.access,
            lms: None,
            leaving: None,
            left: false,
            events: VecDeque::new(),
            client_out: VecDeque::new(),
            dropped: 0,
            crypto,
            links,
            clique_rule: params.clique_rule,
            heartbeats,
            routed: VecDeque::new(),
            unsealable: 0,
            cmap: services::CmapState::default(),
            svc: services::SvcSessions::new(),
            cfg: cfg::CfgState::default(),
            cpg: cpg::new_cpg(params.my_id.get()),
        };
        node.cpg.set_mutant(params.cpg_mutant);
        if node.clique_rule {
            let clique = node.links.clique().clone();
            node.totem.set_reachable(now, clique);
        }
        node.cmap_boot(cmap_keys);
        node.drain_vq(now);
        node.pump(now);
        node
    }

    // -----------------------------------------------------------------------------------------
    // Inputs

    /// A datagram arrived on link 0 (a single-network cluster); see
    /// [`Node::handle_link_datagram`].
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) -> Result<(), DropReason> {
        self.handle_link_datagram(now, LinkId::ZERO, bytes)
    }

    /// A datagram arrived on `link` (the shell knows it from the socket it read), exactly as
    /// received; the sender's node id is in the header. With crypto on it is opened first; a
    /// datagram the transport refuses reaches nothing else (the error says why, for the shell
    /// to count; nothing is logged here). Heartbeats go to the link layer, the rest to Totem.
    pub fn handle_link_datagram(
        &mut self,
        now: Instant,
        link: LinkId,
        bytes: &[u8],
    ) -> Result<(), DropReason> {
        let plain = match self.crypto.as_mut() {
            None => Ok(Some(bytes)),
            Some(c) => c.open(bytes).map_err(DropReason::from),
        };
        let decoded = match plain {
            Ok(Some(plain)) => wire::decode(plain).map_err(DropReason::from),
            Ok(None) => {
                // A session datagram (first contact): the peer is there, and its heartbeats
                // sealed before the session existed were refused; ping it now rather than at
                // the next interval.
                let sender = quorumd_crypto::claimed_sender(bytes).and_then(|s| NodeId::new(s).ok());
                if let (Some(sender), true) = (sender, self.heartbeats) {
                    self.links.probe(now, sender, link);
                }
                self.pump(now);
                return Ok(());
            }
            Err(e) => Err(e),
        };
        let result = decoded.and_then(|packet| self.take_packet(now, link, packet));
        if result.is_err() {
            self.dropped += 1;
        }
        self.pump(now);
        result
    }

    fn take_packet(&mut self, now: Instant, link: LinkId, packet: Packet) -> Result<(), DropReason> {
        let sender = packet.header.sender;
        let known = sender != self.my_id && self.totem.nodelist().contains(sender);
        if known && self.heartbeats && packet.header.cluster_id == self.totem.cluster_id() {
            // The peer is there: before Totem judges the packet, so that a peer lost to
            // silence and heard again (quiet mode) is in the clique when its packet is taken.
            self.links.heard(now, sender, link);
            self.link_events(now);
        }
        let result = match packet.message {
            Message::Ping(_) | Message::Pong(_) => {
                if packet.header.cluster_id != self.totem.cluster_id() {
                    Err(DropReason::Protocol(Dropped::OtherCluster))
                } else if sender == self.my_id {
                    Err(DropReason::Protocol(Dropped::FromSelf))
                } else if !known {
                    Err(DropReason::Protocol(Dropped::UnknownSender))
                } else {
                    self.links
                        .handle_heartbeat(now, link, sender, packet.message)
                        .map_err(|_| DropReason::Protocol(Dropped::Malformed))
                }
            }
            _ => self.totem.handle_packet(now, packet).map_err(DropReason::from),
        };
        if known {
            self.links.count_received(sender, link, result.is_ok());
        }
        result
    }

    /// The deadline returned by `poll_timeout` passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.heartbeats {
            self.links.handle_timeout(now);
        }
        self.totem.handle_timeout(now);
        if let Some((at, generation)) = self.lms {
            if at <= now {
                self.lms = None;
                let expiry = self.vq.as_mut().and_then(|vq| vq.lms_timer_expired(generation));
                if let Some(r) = expiry {
                    let mut payload = vec![SERVICE_VOTEQUORUM];
                    payload.extend(VqMessage::Reconfigure(r).encode());
                    // A full queue means the ring is re-forming; the next sync re-arms the window.
                    let _ = self.totem.submit(payload);
                }
                self.drain_vq(now);
            }
        }
        if self.leaving.is_some_and(|at| at <= now) {
            self.finish_leave(now);
        }
        self.cfg_timeout(now);
        self.pump(now);
    }

    /// Something happened on a client connection.
    pub fn handle_client(&mut self, now: Instant, conn: ConnId, input: ClientInput) {
        match input {
            ClientInput::Connected { uid, gid, pid } => {
                self.sessions.table.insert(conn, Session { uid, gid, pid, model: None, tracking: false });
            }
            ClientInput::Disconnected => {
                self.sessions.table.remove(&conn);
                self.service_disconnected(now, conn);
                self.cpg_closed(conn);
            }
            ClientInput::Frame(bytes) if self.service_frame(now, conn, &bytes) => {}
            ClientInput::Frame(bytes) => match ipc::decode(&bytes) {
                Ok(Frame::Request(req)) => self.handle_request(now, conn, req),
                Ok(_) => self.client_error(conn, "a client may only send requests".into()),
                Err(e) => self.client_error(conn, format!("malformed frame: {e}")),
            },
        }
        self.pump(now);
    }

    /// Queues a message for ordered delivery to every member (used by tests and tools).
    pub fn submit(&mut self, payload: Vec<u8>) -> Result<(), SubmitError> {
        self.totem.submit(payload)
    }

    /// Clean shutdown. With allow_downscale the LEAVING nodeinfo is ordered first (corosync-behaviour §3.9);
    /// then a Totem leave so that peers re-form at once. [`NodeEvent::Left`] says when done.
    pub fn leave(&mut self, now: Instant) {
        if self.left || self.leaving.is_some() {
            return;
        }
        let leaving_info = self.vq.as_mut().and_then(Votequorum::leaving_nodeinfo);
        let can_order = self.totem.state() == State::Operational && self.totem.members().len() > 1;
        match leaving_info {
            Some(info) if can_order => {
                let mut payload = vec![SERVICE_VOTEQUORUM];
                payload.extend(VqMessage::NodeInfo(info).encode());
                if self.totem.submit(payload).is_ok() {
                    self.leaving = Some(now + self.totem.config().token);
                    return;
                }
                self.finish_leave(now);
            }
            _ => self.finish_leave(now),
        }
        self.pump(now);
    }

    fn finish_leave(&mut self, now: Instant) {
        self.leaving = None;
        if !self.left {
            self.left = true;
            self.totem.leave(now);
            self.events.push_back(NodeEvent::Left);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Outputs and accessors

    /// The next datagram to send, on the link it names: heartbeats first, then Totem's
    /// packets, each destination over the link(s) the link mode picks for it. With crypto on
    /// each is sealed for its one destination.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            if let Some(c) = self.crypto.as_mut() {
                if let Some(t) = c.poll() {
                    return Some(t);
                }
                if let Some((to, bytes)) = c.poll_session() {
                    // Already sealed by the session: routed like Totem's packets.
                    for link in self.links.route(to) {
                        self.routed.push_back(Transmit { to: vec![to], link, bytes: bytes.clone() });
                    }
                }
                if let Some(t) = self.routed.pop_front() {
                    return Some(t);
                }
            } else if let Some(t) = self.routed.pop_front() {
                return Some(t);
            }
            let (to, packet, every_link) = if let Some(hb) = self.links.poll_transmit() {
                // A heartbeat goes on its own link only.
                let bytes = wire::encode(&hb.packet);
                self.emit(vec![hb.to], hb.link, bytes);
                continue;
            } else {
                let t = self.totem.poll_transmit()?;
                (t.to, t.packet, t.every_link)
            };
            let bytes = wire::encode(&packet);
            let mut by_link: BTreeMap<LinkId, Vec<NodeId>> = BTreeMap::new();
            for dest in to {
                // Deviation from corosync: knet's passive mode sends everything over the best
                // link. The token and retransmissions go over every link: the best link may be the
                // one that just failed, and waiting for its heartbeats to say so
                // (ping_timeout) would stall the ring for longer than half the token timeout.
                let links = if every_link { self.links.route_every(dest) } else { self.links.route(dest) };
                for link in links {
                    by_link.entry(link).or_default().push(dest);
                }
            }
            for (link, dests) in by_link {
                self.emit(dests, link, bytes.clone());
            }
        }
    }

    /// Queues `bytes` for `to` on `link`, sealed per destination when crypto is on.
    fn emit(&mut self, to: Vec<NodeId>, link: LinkId, bytes: Vec<u8>) {
        match self.crypto.as_mut() {
            None => self.routed.push_back(Transmit { to, link, bytes }),
            Some(c) => {
                if c.seal(&to, link, &bytes).is_err() {
                    self.unsealable += 1;
                }
            }
        }
    }

    /// The link layer: per peer, per link, connected / latency / last change / counters, and
    /// the clique this node forms rings within.
    pub fn link_status(&self) -> LinksStatus {
        let mut status = self.links.status();
        if !self.heartbeats {
            // One link and no heartbeats: the ring is what tells a peer is there.
            let members = self.totem.members();
            for peer in &mut status.peers {
                let member = members.contains(peer.node);
                peer.reachable = member;
                for l in &mut peer.links {
                    l.connected = member;
                }
            }
        }
        status
    }

    /// The authenticated transport's counters and key id (`None`: crypto off).
    pub fn crypto_stats(&self) -> Option<(u32, SessionStats)> {
        self.crypto.as_ref().map(|c| (c.key_id(), c.stats()))
    }

    /// Transmits that could not be sealed (crypto on): too large, or counters exhausted.
    pub fn unsealable(&self) -> u64 {
        self.unsealable
    }

    /// The next event (drain before transmits).
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    /// The next thing to do on a client connection.
    pub fn poll_client(&mut self) -> Option<(ConnId, ClientOutput)> {
        self.client_out.pop_front()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.totem.poll_timeout(),
            self.links.poll_timeout().filter(|_| self.heartbeats),
            self.lms.map(|(at, _)| at),
            self.leaving,
            self.cfg.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// This node's id.
    pub fn my_id(&self) -> NodeId {
        self.my_id
    }

    /// The installed ring.
    pub fn ring_id(&self) -> RingId {
        self.totem.ring_id()
    }

    /// The installed ring's members.
    pub fn members(&self) -> &MemberList {
        self.totem.members()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.totem.state()
    }

    /// What `quorum_getquorate` returns now.
    pub fn quorate(&self) -> bool {
        self.service.quorate
    }

    /// Whether a membership sync has completed (clients may connect).
    pub fn activated(&self) -> bool {
        self.service.activated
    }

    /// The ring and view of the last quorum notification.
    pub fn quorum_view(&self) -> (RingId, &MemberList) {
        (self.service.quorum_ring, &self.service.quorum_view)
    }

    /// votequorum's state, when a provider is configured.
    pub fn quorum_state(&self) -> Option<QuorumState> {
        self.vq.as_ref().map(Votequorum::state)
    }

    /// The effective Totem timing.
    pub fn totem_config(&self) -> &TotemConfig {
        self.totem.config()
    }

    /// Datagrams dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Totem counters.
    pub fn totem_stats(&self) -> &quorumd_totem::Stats {
        self.totem.stats()
    }

    /// What Totem holds for ordered messages now (one pass over its stores).
    pub fn totem_footprint(&self) -> quorumd_totem::Footprint {
        self.totem.footprint()
    }

    /// This boot's incarnation (what its joins carry).
    pub fn incarnation(&self) -> u64 {
        self.totem.incarnation()
    }

    /// Ordered messages Totem holds now (bounded: at most twice
    /// `quorumd_totem::Totem::STORED_MESSAGES_MAX`, see docs/totem.md).
    pub fn totem_stored_messages(&self) -> usize {
        self.totem.stored_messages()
    }

    /// Connected client sessions.
    pub fn client_count(&self) -> usize {
        self.sessions.table.len() + self.svc.len()
    }

    // -----------------------------------------------------------------------------------------
    // Membership → quorum service

    /// Hands the link layer's clique changes to Totem and its events to the shell.
    fn link_events(&mut self, now: Instant) {
        while let Some(ev) = self.links.poll_event() {
            if let (true, LinkEvent::Clique(clique)) = (self.clique_rule, &ev) {
                self.totem.set_reachable(now, clique.clone());
            }
            self.events.push_back(NodeEvent::Link(ev));
        }
    }

    /// Feeds Totem's events through the quorum service and forwards them to the shell.
    fn pump(&mut self, now: Instant) {
        if self.links.nodelist() != self.totem.nodelist() {
            // A reload changed the nodelist (Totem took it first).
            let nodelist = self.totem.nodelist().clone();
            self.links.set_nodelist(now, nodelist);
        }
        self.link_events(now);
        while let Some(ev) = self.totem.poll_event() {
            match &ev {
                TotemEvent::StateChanged { state: State::Gather, .. } if self.heartbeats => {
                    self.links.suspect_all(now);
                }
                TotemEvent::NodesFailed(failed) if self.heartbeats => {
                    let failed = failed.clone();
                    self.links.totem_failed(now, &failed);
                    // A clique change from it reaches Totem before its next join goes out.
                    self.link_events(now);
                }
                _ => {}
            }
            match &ev {
                TotemEvent::ConfChange(c) if c.kind == ConfKind::Transitional => {
                    self.service.trans = c.members.clone();
                    let members = c.members.clone();
                    self.cpg_transitional(&members);
                }
                TotemEvent::ConfChange(c) => {
                    let (ring, members) = (c.ring_id, c.members.clone());
                    self.events.push_back(NodeEvent::Totem(ev));
                    self.cpg_regular(ring, &members);
                    self.sync_start(now, ring, &members);
                    continue;
                }
                TotemEvent::Deliver(d) => {
                    let d = d.clone();
                    self.events.push_back(NodeEvent::Totem(ev));
                    self.delivered(now, &d);
                    continue;
                }
                _ => {}
            }
            self.events.push_back(NodeEvent::Totem(ev));
        }
        self.cpg_flush();
    }

    fn sync_start(&mut self, now: Instant, ring: RingId, members: &MemberList) {
        self.service.sync_start(ring, members);
        let Some(vq) = self.vq.as_mut() else {
            // No provider: nothing to wait for (corosync-behaviour §2.3).
            self.activate(now);
            return;
        };
        vq.sync_start(ring, members);
        let mut payload = vec![SERVICE_VOTEQUORUM];
        payload.extend(VqMessage::NodeInfo(vq.my_nodeinfo()).encode());
        // The queue is bounded; a full queue means the ring is stuck and will re-form anyway.
        let _ = self.totem.submit(payload);
        self.drain_vq(now);
    }

    fn delivered(&mut self, now: Instant, d: &Delivery) {
        if d.payload.first() == Some(&cfg::SERVICE_CFG) {
            return self.cfg_delivered(now, d);
        }
        if d.payload.first() == Some(&SERVICE_CPG) {
            return self.cpg_delivered(d);
        }
        let Some((&SERVICE_VOTEQUORUM, body)) = d.payload.split_first() else { return };
        let Some(vq) = self.vq.as_mut() else { return };
        let Ok(msg) = VqMessage::decode(body) else { return };
        let applied = match msg {
            VqMessage::NodeInfo(info) => vq.nodeinfo_received(d.origin, &info),
            VqMessage::Reconfigure(r) => vq.reconfigure_received(d.origin, &r),
        };
        self.drain_vq(now);
        if let VqMessage::NodeInfo(info) = msg {
            if d.origin == self.my_id && info.flags.contains(NodeFlags::LEAVING) && self.leaving.is_some() {
                self.finish_leave(now);
            }
            if applied.is_ok() && self.service.barrier_progress(d.ring_id, d.origin) {
                self.activate(now);
            }
        }
    }

    /// The sync barrier passed: nodelist notification, then quorum notification (corosync-behaviour §2.2).
    fn activate(&mut self, now: Instant) {
        self.service.complete_sync();
        let s = &self.service;
        let nodelist = nodelist_frame(s.last_sync_ring, &s.member_list, &s.joined, &s.left);
        for (conn, model) in self.sessions.trackers() {
            if model == Model::V1 {
                self.client_out.push_back((conn, ClientOutput::Send(nodelist.clone())));
            }
        }
        if let Some(vq) = self.vq.as_mut() {
            let activation = vq.activate();
            self.service.quorate = activation.state.quorate;
            self.service.quorum_ring = self.service.last_sync_ring;
            self.service.quorum_view = self.service.member_list.clone();
            if activation.notify {
                self.notify_quorum();
            }
            self.vq_notify_sync();
        }
        let members = self.service.member_list.clone();
        self.cmap_sync_completed(&members);
        self.events.push_back(NodeEvent::SyncCompleted {
            ring_id: self.service.last_sync_ring,
            members: self.service.member_list.clone(),
            joined: self.service.joined.clone(),
            left: self.service.left.clone(),
            quorate: self.service.quorate,
        });
        self.drain_vq(now);
    }

    fn notify_quorum(&mut self) {
        let frame = quorum_frame(self.service.quorate, self.service.quorum_ring, &self.service.quorum_view);
        for (conn, _) in self.sessions.trackers() {
            self.client_out.push_back((conn, ClientOutput::Send(frame.clone())));
        }
    }

    fn drain_vq(&mut self, now: Instant) {
        while let Some(action) = self.vq.as_mut().and_then(Votequorum::poll_action) {
            match action {
                Action::ArmLmsTimer { window_ms, generation } => {
                    self.lms = Some((now + Duration::from_millis(u64::from(window_ms)), generation));
                }
                Action::CancelLmsTimer => self.lms = None,
                Action::PersistExpectedVotes(v) => self.events.push_back(NodeEvent::PersistExpectedVotes(v)),
                Action::ExpectedVotesChanged(v) => self.vq_notify_expected(v),
                Action::QuorateChanged { quorate } => {
                    // Trigger 2 of corosync-behaviour §2.2: a flip outside a sync, reported with the current
                    // ring; flips during a sync are reported at activation instead.
                    if self.service.activated
                        && self.service.sync.is_none()
                        && quorate != self.service.quorate
                    {
                        self.service.quorate = quorate;
                        self.notify_quorum();
                        self.vq_notify_quorum();
                        let ring_id = self.service.quorum_ring;
                        self.events.push_back(NodeEvent::QuorateChanged { ring_id, quorate });
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Client requests (corosync-behaviour §1.4)

    fn reply(&mut self, conn: ConnId, response: Response) {
        self.client_out.push_back((conn, ClientOutput::Send(ipc::encode(&Frame::Response(response)))));
    }

    fn close(&mut self, conn: ConnId) {
        if self.sessions.table.remove(&conn).is_some() || self.svc.remove(&conn).is_some() {
            self.client_out.push_back((conn, ClientOutput::Close));
        }
        self.cpg_closed(conn);
    }

    fn client_error(&mut self, conn: ConnId, reason: String) {
        self.events.push_back(NodeEvent::ClientError { conn, reason });
        self.close(conn);
    }

    fn handle_request(&mut self, now: Instant, conn: ConnId, req: Request) {
        let Some(session) = self.sessions.table.get(&conn).cloned() else {
            self.client_out.push_back((conn, ClientOutput::Close));
            return;
        };
        match (req, session.model) {
            (Request::Init { model }, None) => self.init(conn, &session, model),
            (Request::Init { .. }, Some(_)) => {
                self.client_error(conn, "second init on one connection".into())
            }
            (_, None) => self.client_error(conn, "request before init".into()),
            (Request::GetQuorate, Some(_)) => {
                let quorate = u32::from(self.service.quorate);
                self.reply(conn, Response::GetQuorate { error: cs::OK, quorate });
            }
            (Request::TrackStart { flags }, Some(model)) => self.trackstart(conn, model, flags),
            (Request::TrackStop, Some(_)) => {
                if let Some(s) = self.sessions.table.get_mut(&conn) {
                    s.tracking = false;
                }
                // corosync-behaviour §7 quirk 1, kept for compatibility: CS_OK even when not tracking.
                self.reply(conn, Response::Result { error: cs::OK });
            }
            (Request::Status, Some(_)) => {
                let json = status::status_json(self);
                self.reply(conn, Response::Status { error: cs::OK, json });
            }
            (Request::Reload, Some(_)) => self.reload_requested(conn, &session),
            (
                req @ (Request::SetExpected { .. } | Request::SetVotes { .. } | Request::CancelWaitForAll),
                _,
            ) => {
                let error = self.reconfigure(req);
                self.reply(conn, Response::Result { error });
            }
        }
        self.drain_vq(now);
    }

    fn init(&mut self, conn: ConnId, session: &Session, model: u32) {
        let quorum_type = u32::from(self.vq.is_some());
        if !self.allowed(session.uid, session.gid) {
            let (uid, gid, pid) = (session.uid, session.gid, session.pid);
            self.events.push_back(NodeEvent::AccessDenied { conn, uid, gid, pid });
            self.reply(conn, Response::Init { error: cs::ERR_ACCESS, quorum_type });
            self.close(conn);
            return;
        }
        if !self.service.activated {
            // corosync-behaviour §2.4: no client before the first membership sync.
            self.reply(conn, Response::Init { error: cs::ERR_TRY_AGAIN, quorum_type });
            self.close(conn);
            return;
        }
        let model = match model {
            0 => Model::V0,
            1 => Model::V1,
            _ => {
                self.reply(conn, Response::Init { error: cs::ERR_INVALID_PARAM, quorum_type });
                self.close(conn);
                return;
            }
        };
        if let Some(s) = self.sessions.table.get_mut(&conn) {
            s.model = Some(model);
        }
        self.reply(conn, Response::Init { error: cs::OK, quorum_type });
    }

    /// corosync-behaviour §1.4 trackstart, in its exact order: snapshot, then EXIST / enable / plain OK.
    fn trackstart(&mut self, conn: ConnId, model: Model, flags: u32) {
        if flags & (track::CURRENT | track::CHANGES) != 0 {
            let s = &self.service;
            if model == Model::V1 {
                let empty = MemberList::new();
                let frame = nodelist_frame(s.last_sync_ring, &s.member_list, &empty, &empty);
                self.client_out.push_back((conn, ClientOutput::Send(frame)));
            }
            // Without a provider: quorate 1, ring 0.0, empty view (corosync-behaviour §2.3).
            let frame = quorum_frame(s.quorate, s.quorum_ring, &s.quorum_view);
            self.client_out.push_back((conn, ClientOutput::Send(frame)));
        }
        let Some(session) = self.sessions.table.get_mut(&conn) else { return };
        let error = if session.tracking {
            // corosync-behaviour §7 quirk 2, kept: EXIST, though the snapshot above was sent.
            cs::ERR_EXIST
        } else {
            if flags & (track::CHANGES | track::CHANGES_ONLY) != 0 {
                session.tracking = true;
            }
            cs::OK
        };
        self.reply(conn, Response::Result { error });
    }

    /// setexpected / setvotes / cancel_wait_for_all: checked here, applied by every member
    /// when the RECONFIGURE is delivered in agreed order.
    fn reconfigure(&mut self, req: Request) -> u32 {
        let Some(vq) = self.vq.as_ref() else { return cs::ERR_NOT_SUPPORTED };
        let checked = match req {
            Request::SetExpected { expected } => vq.set_expected(expected),
            Request::SetVotes { nodeid, votes } => vq.set_votes(nodeid, votes),
            // Deviation from corosync: nothing to cancel (this node is not waiting for all:
            // wait_for_all off, or already cleared) is CS_ERR_EXIST and sends nothing, instead
            // of a success that claims a change.
            _ if !vq.state().wait_for_all_status => return cs::ERR_EXIST,
            _ => Ok(vq.cancel_wait_for_all()),
        };
        match checked {
            Ok(r) => {
                let mut payload = vec![SERVICE_VOTEQUORUM];
                payload.extend(VqMessage::Reconfigure(r).encode());
                match self.totem.submit(payload) {
                    Ok(()) => cs::OK,
                    Err(_) => cs::ERR_TRY_AGAIN,
                }
            }
            Err(e) => e.cs_error().raw(),
        }
    }
}
