//! Links: up to 8 networks per node below Totem, as knet gives corosync 3 (docs/totem.md,
//! "Links").
//!
//! Sans-IO like the rest of the core: the node hands in `now`, the heartbeats it received and
//! timer expiries; it asks which links a datagram to a peer goes over, and drains heartbeats
//! to send and link events. Responsibilities:
//! - per peer, per link: knet's ping/pong heartbeat. A link to a peer comes up after
//!   `pong_count` pongs, each within `ping_timeout` of the previous one, and goes down when
//!   no pong arrived for `ping_timeout`. A pong proves both directions of the link.
//! - routing: a datagram to a peer goes over its best up link (`passive`), every up link
//!   (`active`), or the up links in turn (`rr`); a peer with no up link is tried on every link.
//! - connectivity rows: each node publishes the peers it admits (two-way connectivity, with
//!   a hold before re-admitting a peer it lost) and relays the rows of the others in its
//!   heartbeats. From the rows every node computes the same partition of the nodelist into
//!   cliques ([`partition`]); Totem talks only to the members of this node's clique.
//!
//! Deviation from corosync: corosync leaves links to knet and has no partial-connectivity
//! rule (it re-forms again and again); the heartbeats here are quorumd datagrams carrying
//! connectivity rows, the membership is a clique, and a lost peer is re-admitted after a
//! hold (docs/deviations.md, "Links and partial connectivity").

use std::collections::{BTreeMap, VecDeque};

use quorumd_proto::limits::{DATAGRAM_MAX, HEADER_LEN, LINKS_MAX};
use quorumd_proto::wire::{ConnRow, Header, Heartbeat, Message, Packet};
use quorumd_proto::{Duration, Instant, LinkId, MemberList, NodeId, RingId};

// ---------------------------------------------------------------------------------------------
// Configuration

/// `totem.link_mode`: how traffic to a peer uses its links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LinkMode {
    /// The highest-priority up link (lowest link number on a tie); the others stand by.
    #[default]
    Passive,
    /// Every up link; the receiver's Totem drops the duplicates.
    Active,
    /// The up links in turn (knet's round robin), one datagram each.
    Rr,
}

impl LinkMode {
    /// Parses the corosync.conf value.
    pub fn from_name(name: &str) -> Option<LinkMode> {
        Some(match name {
            "passive" => LinkMode::Passive,
            "active" => LinkMode::Active,
            "rr" => LinkMode::Rr,
            _ => return None,
        })
    }

    /// The corosync.conf value.
    pub fn name(self) -> &'static str {
        match self {
            LinkMode::Passive => "passive",
            LinkMode::Active => "active",
            LinkMode::Rr => "rr",
        }
    }
}

/// One link's raw `totem { interface { linknumber: N ... } }` values; `None`: derive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkKeys {
    /// `linknumber`.
    pub link: LinkId,
    /// `knet_link_priority` (0..=255, default 1).
    pub priority: Option<u8>,
    /// `knet_ping_interval`, ms.
    pub ping_interval: Option<u32>,
    /// `knet_ping_timeout`, ms.
    pub ping_timeout: Option<u32>,
    /// `knet_pong_count` (1..=255, default 2).
    pub pong_count: Option<u32>,
}

impl LinkKeys {
    /// A link with every value derived.
    pub fn new(link: LinkId) -> LinkKeys {
        LinkKeys { link, priority: None, ping_interval: None, ping_timeout: None, pong_count: None }
    }
}

/// A link setting that is out of range or inconsistent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// No link at all.
    #[error("at least one link is required")]
    NoLinks,
    /// The same link number twice.
    #[error("link {0} is configured twice")]
    Duplicate(LinkId),
    /// A value out of range.
    #[error("link {link}: {key} = {value} is out of range: {why}")]
    OutOfRange {
        /// The link.
        link: LinkId,
        /// The key (`knet_ping_timeout`, ...).
        key: &'static str,
        /// The value given or derived.
        value: u64,
        /// The rule it breaks.
        why: &'static str,
    },
}

/// knet's default pong count as corosync sets it.
pub const DEFAULT_PONG_COUNT: u32 = 2;
/// knet's default link priority as corosync sets it.
pub const DEFAULT_LINK_PRIORITY: u8 = 1;

/// One link's effective settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// The link number.
    pub link: LinkId,
    /// Higher is preferred in `passive` mode.
    pub priority: u8,
    /// Interval between pings to each peer on this link.
    pub ping_interval: Duration,
    /// No pong for this long: the link to that peer is down.
    pub ping_timeout: Duration,
    /// Pongs needed to bring a link to a peer up.
    pub pong_count: u32,
}

impl LinkConfig {
    /// Derives one link's settings from its keys and the effective token timeout, as
    /// corosync 3 does for knet: `pong_count` 2, `ping_timeout = token / pong_count`,
    /// `ping_interval = token / (2 × pong_count)`, priority 1.
    pub fn derive(keys: &LinkKeys, token: Duration) -> Result<LinkConfig, LinkError> {
        let link = keys.link;
        let pong_count = keys.pong_count.unwrap_or(DEFAULT_PONG_COUNT);
        if !(1..=255).contains(&pong_count) {
            let why = "must be between 1 and 255";
            return Err(LinkError::OutOfRange {
                link,
                key: "knet_pong_count",
                value: pong_count.into(),
                why,
            });
        }
        let token_ms = token.as_millis();
        let timeout = keys.ping_timeout.map_or(token_ms / u64::from(pong_count), u64::from);
        let interval = keys.ping_interval.map_or(token_ms / (2 * u64::from(pong_count)), u64::from);
        if timeout == 0 {
            let why = "must be at least 1 ms";
            return Err(LinkError::OutOfRange { link, key: "knet_ping_timeout", value: timeout, why });
        }
        if interval == 0 {
            let why = "must be at least 1 ms";
            return Err(LinkError::OutOfRange { link, key: "knet_ping_interval", value: interval, why });
        }
        if interval > timeout {
            let why = "must not exceed knet_ping_timeout";
            return Err(LinkError::OutOfRange { link, key: "knet_ping_interval", value: interval, why });
        }
        Ok(LinkConfig {
            link,
            priority: keys.priority.unwrap_or(DEFAULT_LINK_PRIORITY),
            ping_interval: Duration::from_millis(interval),
            ping_timeout: Duration::from_millis(timeout),
            pong_count,
        })
    }
}

/// Every link of this node, and the mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinksConfig {
    /// `totem.link_mode`.
    pub mode: LinkMode,
    /// The links, sorted by link number, at least one.
    pub links: Vec<LinkConfig>,
}

impl LinksConfig {
    /// One link (link 0) with knet's defaults for this token: a single-network cluster.
    pub fn single(token: Duration) -> LinksConfig {
        match LinksConfig::derive(LinkMode::Passive, &[LinkKeys::new(LinkId::ZERO)], token) {
            Ok(c) => c,
            // The defaults derive for every token of at least 2 × pong_count ms, and Totem
            // refuses tokens under 30 ms; fall back to a fixed link anyway.
            Err(_) => LinksConfig {
                mode: LinkMode::Passive,
                links: vec![LinkConfig {
                    link: LinkId::ZERO,
                    priority: DEFAULT_LINK_PRIORITY,
                    ping_interval: Duration::from_millis(250),
                    ping_timeout: Duration::from_millis(500),
                    pong_count: DEFAULT_PONG_COUNT,
                }],
            },
        }
    }

    /// Derives and checks every link (`token`: the effective token timeout).
    pub fn derive(mode: LinkMode, keys: &[LinkKeys], token: Duration) -> Result<LinksConfig, LinkError> {
        if keys.is_empty() {
            return Err(LinkError::NoLinks);
        }
        let mut links = Vec::with_capacity(keys.len());
        for k in keys {
            links.push(LinkConfig::derive(k, token)?);
        }
        links.sort_by_key(|l| l.link);
        if let Some(w) = links.windows(2).find(|w| w[0].link == w[1].link) {
            return Err(LinkError::Duplicate(w[0].link));
        }
        Ok(LinksConfig { mode, links })
    }

    /// The link numbers configured.
    pub fn ids(&self) -> impl Iterator<Item = LinkId> + '_ {
        self.links.iter().map(|l| l.link)
    }

    fn get(&self, link: LinkId) -> Option<&LinkConfig> {
        self.links.iter().find(|l| l.link == link)
    }

    /// The longest ping timeout of any link.
    pub fn max_ping_timeout(&self) -> Duration {
        self.links.iter().map(|l| l.ping_timeout).max().unwrap_or(Duration::ZERO)
    }
}

// ---------------------------------------------------------------------------------------------
// Status

/// Counters of one link to one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Datagrams sent to the peer on this link (heartbeats included).
    pub sent: u64,
    /// Datagrams received from the peer on this link (heartbeats included).
    pub received: u64,
    /// Datagrams from the peer on this link that were refused.
    pub dropped: u64,
    /// Times the link to the peer came up.
    pub up: u64,
    /// Times the link to the peer went down.
    pub down: u64,
}

/// One link to one peer, for observers (`quorumtool links`, cmap, cfg).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// The link.
    pub link: LinkId,
    /// Up: `pong_count` pongs came back and none is overdue.
    pub connected: bool,
    /// The last pong's round-trip time.
    pub latency: Option<Duration>,
    /// When `connected` last changed (`None`: never).
    pub last_change: Option<Instant>,
    /// Counters.
    pub counters: LinkCounters,
}

/// Every link to one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerLinks {
    /// The peer.
    pub node: NodeId,
    /// Some link to the peer is up.
    pub reachable: bool,
    /// This node admits the peer in its connectivity row (reachable, and held long enough
    /// after a loss).
    pub admitted: bool,
    /// One entry per configured link, by link number.
    pub links: Vec<LinkStatus>,
}

/// A snapshot of the link layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinksStatus {
    /// This node.
    pub me: NodeId,
    /// The mode.
    pub mode: LinkMode,
    /// This node's links.
    pub links: Vec<LinkConfig>,
    /// Every other configured node.
    pub peers: Vec<PeerLinks>,
    /// The clique this node's Totem may form a ring with (always holds this node).
    pub clique: MemberList,
}

/// What the link layer tells the node (for logs: once per change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The link to `peer` came up or went down.
    Changed {
        /// The peer.
        peer: NodeId,
        /// The link.
        link: LinkId,
        /// The new state.
        connected: bool,
    },
    /// The clique Totem may form a ring with changed.
    Clique(MemberList),
}

// ---------------------------------------------------------------------------------------------
// State

#[derive(Clone, Debug, Default)]
struct PeerLink {
    connected: bool,
    /// Pongs counted towards `pong_count` while down.
    pongs: u32,
    last_pong: Option<Instant>,
    /// Quiet mode: since when a probe of this link waits for a pong (`None`: not probing).
    probe_from: Option<Instant>,
    /// The first datagram from the peer (on any link) while a ping on this link waited for
    /// its pong: from then on the peer is heard but does not answer here.
    heard_unanswered: Option<Instant>,
    /// When the last ping on this link went to the peer.
    last_ping: Option<Instant>,
    latency: Option<Duration>,
    last_change: Option<Instant>,
    counters: LinkCounters,
}

#[derive(Clone, Debug)]
struct Peer {
    links: [PeerLink; LINKS_MAX],
    /// In this node's row.
    admitted: bool,
    /// Was admitted once and then lost: re-admission waits for `readmit_hold`.
    lost_once: bool,
    /// Since when some link to the peer has been up without interruption.
    reachable_since: Option<Instant>,
    /// Round-robin cursor.
    rr: usize,
    /// The peer's boot incarnation, from its heartbeats.
    incarnation: Option<u64>,
    /// When anything (Totem or heartbeat, any link) last arrived from the peer.
    heard_at: Option<Instant>,
    /// The peer was lost because it fell silent (crash, stall, cut both ways), not while it
    /// was heard: in quiet mode hearing it again admits it again at once.
    lost_silent: bool,
    /// Its last link went down while it was heard but did not answer (partial connectivity).
    lost_heard: bool,
}

impl Peer {
    fn new() -> Peer {
        Peer {
            links: Default::default(),
            admitted: false,
            lost_once: false,
            reachable_since: None,
            rr: 0,
            incarnation: None,
            heard_at: None,
            lost_silent: false,
            lost_heard: false,
        }
    }
    fn reachable(&self) -> bool {
        self.links.iter().any(|l| l.connected)
    }
}

/// A heartbeat to send: one packet to one peer on one link.
#[derive(Clone, Debug)]
pub struct HeartbeatTransmit {
    /// The peer.
    pub to: NodeId,
    /// The link.
    pub link: LinkId,
    /// The ping or pong.
    pub packet: Packet,
}

/// Why a heartbeat was refused (nothing changed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    /// The heartbeat names another link than the one it arrived on, or a link not configured.
    #[error("heartbeat for link {named} arrived on link {arrived}")]
    WrongLink {
        /// The link in the body.
        named: LinkId,
        /// The link it arrived on.
        arrived: LinkId,
    },
    /// A pong answering no ping of ours (a future seq).
    #[error("pong answers no ping")]
    UnknownPing,
}

/// The link layer of one node.
#[derive(Debug)]
pub struct Links {
    me: NodeId,
    cluster_id: u32,
    incarnation: u64,
    config: LinksConfig,
    nodelist: MemberList,
    peers: BTreeMap<NodeId, Peer>,
    /// Rows of the other nodes, newest version seen.
    rows: BTreeMap<NodeId, ConnRow>,
    my_version: u64,
    next_ping: [Option<Instant>; LINKS_MAX],
    ping_seq: u64,
    /// Sent pings not yet answered are recognised by seq: at most this many back.
    readmit_hold: Duration,
    clique: MemberList,
    /// A clique that loses members only because rows grew (a peer admitted here before the
    /// others): applied at this deadline unless the others' rows catch up first.
    pending_shrink: Option<Instant>,
    /// Quiet mode (one link): no heartbeat while Totem runs; see [`Links::set_quiet`].
    quiet: bool,
    /// A peer silent on every link is judged unreachable only after this long (or when
    /// Totem fails it); see [`Links::set_silence_limit`].
    silence_limit: Duration,
    /// When `handle_timeout` last ran (deadlines already passed are not reported again).
    checked_at: Instant,
    out: VecDeque<HeartbeatTransmit>,
    events: VecDeque<LinkEvent>,
    /// Test-only broken behaviour.
    mutant: Option<LinkMutant>,
}

/// Deliberately broken link behaviour, for proving the simulator's link checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMutant {
    /// A peer is dropped from the clique as soon as any one link to it goes down.
    FailOnOneLink,
    /// A lost peer is re-admitted at once, without the hold (no hysteresis).
    NoReadmitHold,
}

impl LinkMutant {
    /// Every link mutant.
    pub const ALL: [LinkMutant; 2] = [LinkMutant::FailOnOneLink, LinkMutant::NoReadmitHold];

    /// Parses the command-line name.
    pub fn from_name(name: &str) -> Option<LinkMutant> {
        Some(match name {
            "fail-on-one-link" => LinkMutant::FailOnOneLink,
            "no-readmit-hold" => LinkMutant::NoReadmitHold,
            _ => return None,
        })
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            LinkMutant::FailOnOneLink => "fail-on-one-link",
            LinkMutant::NoReadmitHold => "no-readmit-hold",
        }
    }
}

/// How many times the longest ping timeout a lost peer must stay reachable before it is
/// admitted again (docs/totem.md, "Partial connectivity").
pub const READMIT_HOLD_TIMEOUTS: u64 = 4;

/// How late `handle_timeout` may run before the lateness is taken as this node's own stall
/// and not held against the peers (see `Links::forgive_own_stall`).
pub const STALL_SLACK: Duration = Duration::from_millis(50);

/// Quiet mode: the shortest gap between two pings that traffic from a peer whose link is
/// down triggers (a burst of datagrams makes one ping, not one each).
pub const HEARD_PING_GAP: Duration = Duration::from_millis(10);

/// Whether a link to a peer is watched by heartbeats: always, except in quiet mode, where
/// only a link that is down, probed, or to a peer whose re-admission is held is.
fn watched(quiet: bool, admitted: bool, pl: &PeerLink) -> bool {
    !quiet || pl.probe_from.is_some() || !pl.connected || !admitted
}

/// Takes a link to a peer down.
fn link_down(pl: &mut PeerLink, now: Instant) {
    pl.connected = false;
    pl.pongs = 0;
    pl.probe_from = None;
    pl.last_change = Some(now);
    pl.counters.down += 1;
}

impl Peer {
    /// Quiet mode: presumed connected on every link and admitted, until shown otherwise.
    fn presume(&mut self, ids: &[LinkId]) {
        for l in ids {
            self.links[l.index()].connected = true;
        }
        self.admitted = true;
    }
}

impl Links {
    /// A link layer for `me` among `nodelist`, starting at `now` (pings go out at once).
    /// `incarnation` is this boot's (Totem's), told to peers in every heartbeat.
    pub fn new(
        me: NodeId,
        nodelist: MemberList,
        cluster_id: u32,
        incarnation: u64,
        config: LinksConfig,
        mutant: Option<LinkMutant>,
        now: Instant,
    ) -> Links {
        let mut next_ping = [None; LINKS_MAX];
        for l in config.ids() {
            next_ping[l.index()] = Some(now);
        }
        let readmit_hold = Duration::from_micros(
            config.max_ping_timeout().as_micros().saturating_mul(READMIT_HOLD_TIMEOUTS),
        );
        let peers = nodelist.iter().filter(|n| *n != me).map(|n| (n, Peer::new())).collect();
        let silence_limit = config.max_ping_timeout();
        let mut links = Links {
            me,
            cluster_id,
            incarnation,
            config,
            nodelist,
            peers,
            rows: BTreeMap::new(),
            my_version: 1,
            next_ping,
            ping_seq: 0,
            readmit_hold,
            clique: MemberList::new(),
            pending_shrink: None,
            quiet: false,
            silence_limit,
            checked_at: now,
            out: VecDeque::new(),
            events: VecDeque::new(),
            mutant,
        };
        links.clique = links.compute_clique();
        links
    }

    /// The configuration.
    pub fn config(&self) -> &LinksConfig {
        &self.config
    }

    /// The configured nodes.
    pub fn nodelist(&self) -> &MemberList {
        &self.nodelist
    }

    /// The clique this node's Totem may form a ring with (holds this node).
    pub fn clique(&self) -> &MemberList {
        &self.clique
    }

    /// The configured nodes changed (a reload): peers no longer listed are forgotten.
    pub fn set_nodelist(&mut self, now: Instant, nodelist: MemberList) {
        self.peers.retain(|n, _| nodelist.contains(*n));
        let (quiet, ids): (bool, Vec<LinkId>) = (self.quiet, self.config.ids().collect());
        for n in nodelist.iter().filter(|n| *n != self.me) {
            self.peers.entry(n).or_insert_with(|| {
                let mut p = Peer::new();
                if quiet {
                    p.presume(&ids);
                }
                p
            });
        }
        self.rows.retain(|n, _| nodelist.contains(*n));
        self.nodelist = nodelist;
        self.row_changed(now, false);
    }

    /// Quiet mode, for a cluster of one link: no heartbeat flows while Totem's own traffic
    /// shows that the peers are there. Every peer starts presumed connected and admitted, and
    /// a row not heard yet is presumed to admit everyone, so a boot forms exactly as it would
    /// without a link layer. Heartbeats flow only while a peer is in doubt: a probe of every
    /// presumed link when Totem starts a membership change ([`Links::suspect_all`]), and
    /// every ping interval to a peer whose link is down or whose re-admission is held; rows
    /// are pushed (and relayed, once per new version) when they change. A peer is judged
    /// down when Totem fails it while its probe waits ([`Links::totem_failed`]), when it is
    /// heard but does not answer for `ping_timeout`, or when it has been silent for the
    /// silence limit; one lost to silence is admitted again as soon as it is heard.
    ///
    /// Deviation from corosync: with one link, knet pings every peer all the time and its
    /// link state does not change the membership; here heartbeats flow only while Totem is
    /// changing membership or a peer is down, and they feed the partial-connectivity rule.
    pub fn set_quiet(&mut self, now: Instant) {
        self.quiet = true;
        self.next_ping = [None; LINKS_MAX];
        let ids: Vec<LinkId> = self.config.ids().collect();
        for p in self.peers.values_mut() {
            p.presume(&ids);
        }
        self.recompute(now, false, false);
    }

    /// How long a peer silent on every link may stay reachable when Totem has not failed it
    /// (the node sets Totem's `token + consensus`: a stall of the peer Totem would survive
    /// does not take its links down). A link whose peer is still heard on another link, or
    /// heard without answering, is judged on `ping_timeout` alone.
    pub fn set_silence_limit(&mut self, limit: Duration) {
        self.silence_limit = limit.max(self.config.max_ping_timeout());
    }

    /// Whether the link layer runs in quiet mode ([`Links::set_quiet`]).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    // -----------------------------------------------------------------------------------------
    // Inputs

    /// Some datagram (any type) from `from` arrived on `link`: counted.
    pub fn count_received(&mut self, from: NodeId, link: LinkId, accepted: bool) {
        if let Some(pl) = self.peers.get_mut(&from).map(|p| &mut p.links[link.index()]) {
            pl.counters.received += 1;
            if !accepted {
                pl.counters.dropped += 1;
            }
        }
    }

    /// A datagram (any type, before it is judged) from the configured peer `from` arrived on
    /// `link`: the peer is there. Silence is measured from here. In quiet mode a peer lost to
    /// silence is presumed connected again (and probed), and a link that is down is pinged
    /// at once.
    pub fn heard(&mut self, now: Instant, from: NodeId, link: LinkId) {
        let quiet = self.quiet;
        let known_link = self.config.get(link).is_some();
        let Some(p) = self.peers.get_mut(&from) else { return };
        p.heard_at = Some(now);
        for pl in &mut p.links {
            // Heard while a ping of ours waits for its pong: from now on the peer talks to us
            // without answering. (What it sent before our ping, e.g. just before it stalled,
            // proves nothing.)
            let outstanding = pl.last_ping.is_some_and(|s| pl.last_pong.is_none_or(|r| s > r));
            if outstanding && pl.heard_unanswered.is_none() {
                pl.heard_unanswered = Some(now);
            }
        }
        if !quiet || !known_link || p.links[link.index()].connected {
            return;
        }
        if p.lost_silent {
            p.lost_silent = false;
            let pl = &mut p.links[link.index()];
            pl.connected = true;
            pl.pongs = 0;
            pl.last_change = Some(now);
            pl.counters.up += 1;
            pl.probe_from = Some(now);
            self.events.push_back(LinkEvent::Changed { peer: from, link, connected: true });
            self.reachability_changed(now, from);
            self.ping_one(now, from, link);
        } else if p.links[link.index()].last_ping.is_none_or(|t| now.saturating_since(t) >= HEARD_PING_GAP) {
            self.ping_one(now, from, link);
        }
        self.schedule_pings(now);
    }

    /// Totem started a membership change: in quiet mode every link presumed up is probed
    /// (pinged now, then every ping interval until a pong comes back).
    pub fn suspect_all(&mut self, now: Instant) {
        if !self.quiet {
            return;
        }
        let ids: Vec<LinkId> = self.config.ids().collect();
        let peers: Vec<NodeId> = self.peers.keys().copied().collect();
        for n in peers {
            for &l in &ids {
                let Some(pl) = self.peers.get_mut(&n).map(|p| &mut p.links[l.index()]) else { continue };
                if pl.connected && pl.probe_from.is_none() {
                    pl.probe_from = Some(now);
                    pl.heard_unanswered = None;
                    self.ping_one(now, n, l);
                }
            }
        }
        self.schedule_pings(now);
    }

    /// Totem failed `nodes` for silence in a membership change. A link to one of them that
    /// waits for a pong (quiet mode: its probe is unanswered; otherwise: its last pong is
    /// older than `ping_timeout`) goes down now: Totem has judged the silence, and the link
    /// layer neither waits longer nor judged sooner.
    pub fn totem_failed(&mut self, now: Instant, nodes: &MemberList) {
        let quiet = self.quiet;
        let mut changed = Vec::new();
        for n in nodes.iter() {
            let Some(p) = self.peers.get_mut(&n) else { continue };
            let mut down = false;
            let mut heard = false;
            for cfg in &self.config.links {
                let pl = &mut p.links[cfg.link.index()];
                let waiting = if quiet {
                    pl.probe_from.is_some()
                } else {
                    pl.last_pong.is_none_or(|at| now.saturating_since(at) > cfg.ping_timeout)
                };
                if pl.connected && waiting {
                    heard |= pl.heard_unanswered.is_some();
                    link_down(pl, now);
                    self.events.push_back(LinkEvent::Changed { peer: n, link: cfg.link, connected: false });
                    down = true;
                }
            }
            if down {
                p.lost_heard = heard;
                changed.push(n);
            }
        }
        for n in changed {
            self.reachability_changed(now, n);
        }
        self.schedule_pings(now);
    }

    /// A ping or pong from `from` (already checked: our cluster, a configured peer, not us)
    /// arrived on `link`.
    pub fn handle_heartbeat(
        &mut self,
        now: Instant,
        link: LinkId,
        from: NodeId,
        message: Message,
    ) -> Result<(), HeartbeatError> {
        let (hb, pong) = match message {
            Message::Ping(h) => (h, false),
            Message::Pong(h) => (h, true),
            _ => return Ok(()),
        };
        let Some(cfg) = self.config.get(link).cloned() else {
            return Err(HeartbeatError::WrongLink { named: hb.link, arrived: link });
        };
        if hb.link != link {
            return Err(HeartbeatError::WrongLink { named: hb.link, arrived: link });
        }
        if pong && hb.seq > self.ping_seq {
            return Err(HeartbeatError::UnknownPing);
        }
        self.merge_rows(now, &hb.rows);
        if let Some(peer) = self.peers.get_mut(&from) {
            if peer.incarnation.is_some_and(|i| i != hb.incarnation) {
                // A restarted node: a new peer, admitted without the hold of a flapping one.
                peer.lost_once = false;
            }
            peer.incarnation = Some(hb.incarnation);
        }
        if pong {
            let sent = Instant::from_micros(hb.stamp);
            let Some(peer) = self.peers.get_mut(&from) else { return Ok(()) };
            let pl = &mut peer.links[link.index()];
            // A pong older than the timeout proves nothing about now.
            if sent > now || now.saturating_since(sent) > cfg.ping_timeout {
                return Ok(());
            }
            pl.latency = Some(now.saturating_since(sent));
            pl.last_pong = Some(now);
            pl.heard_unanswered = None;
            if pl.connected {
                // A probe is answered.
                pl.probe_from = None;
            } else {
                pl.pongs += 1;
                if pl.pongs >= cfg.pong_count {
                    pl.connected = true;
                    pl.probe_from = None;
                    pl.pongs = 0;
                    pl.last_change = Some(now);
                    pl.counters.up += 1;
                    self.events.push_back(LinkEvent::Changed { peer: from, link, connected: true });
                    self.reachability_changed(now, from);
                } else {
                    // Deviation from corosync (knet pings at its interval only): while coming
                    // up the next ping goes at once, so a link comes up after pong_count round
                    // trips rather than pong_count ping intervals.
                    self.ping_one(now, from, link);
                }
            }
        } else {
            // A ping on a link that is down here: ping back at once, so that both sides
            // bring it up within pong_count round trips (one ping per ping received).
            if self.peers.get(&from).is_some_and(|p| !p.links[link.index()].connected) {
                self.ping_one(now, from, link);
            }
            let rows = self.rows_to_send();
            let answer =
                Heartbeat { link, seq: hb.seq, stamp: hb.stamp, incarnation: self.incarnation, rows };
            self.push(from, link, Message::Pong(answer));
        }
        Ok(())
    }

    /// `peer` was heard from on `link` outside heartbeats (a crypto session's first contact):
    /// if that link to it is not up, it is pinged at once.
    pub fn probe(&mut self, now: Instant, peer: NodeId, link: LinkId) {
        let down = self.peers.get(&peer).is_some_and(|p| !p.links[link.index()].connected);
        if down && self.config.get(link).is_some() {
            self.ping_one(now, peer, link);
        }
    }

    /// Timers: pings to send, overdue pongs, held re-admissions.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.forgive_own_stall(now);
        self.checked_at = now;
        let ids: Vec<LinkId> = self.config.ids().collect();
        let (quiet, silence_limit) = (self.quiet, self.silence_limit);
        // Overdue pongs first, so that the pings below carry the new row.
        let mut changed = Vec::new();
        for (&n, peer) in &mut self.peers {
            let fresh: Vec<bool> = ids
                .iter()
                .map(|l| {
                    let pl = &peer.links[l.index()];
                    let timeout = self.config.get(*l).map_or(Duration::ZERO, |c| c.ping_timeout);
                    pl.connected && pl.last_pong.is_some_and(|at| now.saturating_since(at) <= timeout)
                })
                .collect();
            let (admitted, heard_at) = (peer.admitted, peer.heard_at);
            let mut heard_unanswered = false;
            let mut down = false;
            for (i, &l) in ids.iter().enumerate() {
                let Some(cfg) = self.config.get(l) else { continue };
                let pl = &mut peer.links[l.index()];
                if !watched(quiet, admitted, pl) {
                    continue;
                }
                let since = if quiet { pl.last_pong.max(pl.probe_from) } else { pl.last_pong };
                let overdue = since.is_none_or(|at| now.saturating_since(at) > cfg.ping_timeout);
                if !overdue {
                    continue;
                }
                pl.pongs = 0;
                if !pl.connected {
                    continue;
                }
                // Judged down: when the peer still answers on another link (knet's failover),
                // when it is heard but does not answer here (partial connectivity), or when it
                // has been silent everywhere for the silence limit (a stall Totem would not
                // survive either; Totem failing it is handled by `totem_failed`).
                let other_fresh = fresh.iter().enumerate().any(|(j, f)| *f && j != i);
                let unanswered =
                    pl.heard_unanswered.is_some_and(|h| now.saturating_since(h) > cfg.ping_timeout);
                let silent = heard_at.map_or(!quiet, |h| now.saturating_since(h) >= silence_limit);
                if other_fresh || unanswered || silent {
                    heard_unanswered |= unanswered;
                    link_down(pl, now);
                    self.events.push_back(LinkEvent::Changed { peer: n, link: l, connected: false });
                    down = true;
                }
            }
            if down {
                peer.lost_heard = heard_unanswered;
                changed.push(n);
            }
        }
        for n in changed {
            self.reachability_changed(now, n);
        }
        self.admit_held(now);
        if self.pending_shrink.is_some_and(|at| at <= now) {
            self.pending_shrink = None;
            self.recompute(now, false, false);
        }
        for l in ids {
            let Some(at) = self.next_ping[l.index()] else { continue };
            if at > now {
                continue;
            }
            self.ping_all(now, l);
        }
        self.schedule_pings(now);
    }

    /// Silence is judged on an on-time clock, as Totem judges it: when this node itself ran
    /// late (its loop stalled on a slow `fsync` of the ring seq, or it was descheduled), the
    /// peers' pongs waited unread in the socket, so the time it was late is not counted as
    /// their silence. Without this, one stall took every link down at once, the clique
    /// shrank, Totem re-formed, stored a new ring seq, and could stall again.
    /// Deviation from corosync: knet's heartbeats run in threads of their own, which a stall
    /// of corosync's main loop does not stop; ours share the node's loop.
    fn forgive_own_stall(&mut self, now: Instant) {
        let Some(due) = self.poll_timeout() else { return };
        let late = now.saturating_since(due);
        if late <= STALL_SLACK {
            return;
        }
        let shift = |at: &mut Option<Instant>| {
            if let Some(t) = *at {
                *at = Some((t + late).min(now));
            }
        };
        for peer in self.peers.values_mut() {
            shift(&mut peer.heard_at);
            for pl in &mut peer.links {
                shift(&mut pl.last_pong);
                shift(&mut pl.probe_from);
                shift(&mut pl.heard_unanswered);
            }
        }
    }

    /// When `handle_timeout` must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pings = self.next_ping.iter().flatten().copied();
        let mut next = pings.min();
        let mut consider = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        for peer in self.peers.values() {
            for cfg in &self.config.links {
                let pl = &peer.links[cfg.link.index()];
                if !pl.connected || !watched(self.quiet, peer.admitted, pl) {
                    continue;
                }
                let since = if self.quiet { pl.last_pong.max(pl.probe_from) } else { pl.last_pong };
                // A link overdue but kept up (its peer silent, not for long enough yet) is
                // judged again at the next ping, not in a loop.
                if let Some(at) = since.map(|at| at + cfg.ping_timeout + Duration::from_micros(1)) {
                    if at > self.checked_at {
                        consider(at);
                    }
                }
            }
            if let (false, Some(since)) = (peer.admitted, peer.reachable_since) {
                consider(since + self.readmit_hold);
            }
        }
        if let Some(at) = self.pending_shrink {
            consider(at);
        }
        next
    }

    // -----------------------------------------------------------------------------------------
    // Outputs

    /// The next heartbeat to send.
    pub fn poll_transmit(&mut self) -> Option<HeartbeatTransmit> {
        self.out.pop_front()
    }

    /// The next link event.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// The links a datagram to `peer` goes over now (counted as sent on each). A peer with
    /// no up link is tried on every link, so that a link coming back is found by traffic too.
    pub fn route(&mut self, peer: NodeId) -> Vec<LinkId> {
        self.route_by_mode(peer, false)
    }

    /// Every configured link to `peer` (counted as sent on each): where the token and a
    /// retransmission go, so that they do not depend on the best link still working.
    /// Receivers drop the duplicates as they do in `active` mode. With one link this is
    /// [`Links::route`].
    pub fn route_every(&mut self, peer: NodeId) -> Vec<LinkId> {
        self.route_by_mode(peer, true)
    }

    fn route_by_mode(&mut self, peer: NodeId, every: bool) -> Vec<LinkId> {
        let mode = self.config.mode;
        let Some(p) = self.peers.get_mut(&peer) else {
            return self.config.ids().take(1).collect();
        };
        let up: Vec<&LinkConfig> =
            self.config.links.iter().filter(|c| p.links[c.link.index()].connected).collect();
        let chosen: Vec<LinkId> = if up.is_empty() || every {
            self.config.ids().collect()
        } else {
            match mode {
                LinkMode::Active => up.iter().map(|c| c.link).collect(),
                LinkMode::Passive => {
                    // Highest priority, lowest link number on a tie.
                    let best = up.iter().max_by(|a, b| a.priority.cmp(&b.priority).then(b.link.cmp(&a.link)));
                    best.map(|c| c.link).into_iter().collect()
                }
                LinkMode::Rr => {
                    p.rr = p.rr.wrapping_add(1);
                    vec![up[p.rr % up.len()].link]
                }
            }
        };
        for l in &chosen {
            p.links[l.index()].counters.sent += 1;
        }
        chosen
    }

    /// A snapshot for observers.
    pub fn status(&self) -> LinksStatus {
        let peers = self
            .peers
            .iter()
            .map(|(&node, p)| PeerLinks {
                node,
                // Quiet mode: a presumed link is shown connected once the peer was heard.
                reachable: p.reachable() && (!self.quiet || p.heard_at.is_some()),
                admitted: p.admitted,
                links: self
                    .config
                    .links
                    .iter()
                    .map(|c| {
                        let pl = &p.links[c.link.index()];
                        LinkStatus {
                            link: c.link,
                            connected: pl.connected && (!self.quiet || p.heard_at.is_some()),
                            latency: pl.latency,
                            last_change: pl.last_change,
                            counters: pl.counters,
                        }
                    })
                    .collect(),
            })
            .collect();
        LinksStatus {
            me: self.me,
            mode: self.config.mode,
            links: self.config.links.clone(),
            peers,
            clique: self.clique.clone(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Internals

    fn push(&mut self, to: NodeId, link: LinkId, message: Message) {
        let header = Header { cluster_id: self.cluster_id, sender: self.me, ring_id: RingId::ZERO };
        if let (Some(p), Message::Ping(hb)) = (self.peers.get_mut(&to), &message) {
            p.links[link.index()].last_ping = Some(Instant::from_micros(hb.stamp));
        }
        if let Some(p) = self.peers.get_mut(&to) {
            p.links[link.index()].counters.sent += 1;
        }
        self.out.push_back(HeartbeatTransmit { to, link, packet: Packet { header, message } });
    }

    fn ping_all(&mut self, now: Instant, link: LinkId) {
        let Some(cfg) = self.config.get(link) else { return };
        self.next_ping[link.index()] = Some(now + cfg.ping_interval);
        self.ping_seq += 1;
        let rows = self.rows_to_send();
        let quiet = self.quiet;
        let peers: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| watched(quiet, p.admitted, &p.links[link.index()]))
            .map(|(n, _)| *n)
            .collect();
        for to in peers {
            let (seq, stamp, incarnation) = (self.ping_seq, now.as_micros(), self.incarnation);
            let hb = Heartbeat { link, seq, stamp, incarnation, rows: rows.clone() };
            self.push(to, link, Message::Ping(hb));
        }
    }

    fn ping_one(&mut self, now: Instant, to: NodeId, link: LinkId) {
        self.ping_seq += 1;
        let rows = self.rows_to_send();
        let (seq, stamp, incarnation) = (self.ping_seq, now.as_micros(), self.incarnation);
        self.push(to, link, Message::Ping(Heartbeat { link, seq, stamp, incarnation, rows }));
    }

    /// Sends a ping round on every link now (this node's row changed: tell everyone). In
    /// quiet mode one ping to every peer, without starting periodic pings.
    fn ping_now(&mut self, now: Instant) {
        let ids: Vec<LinkId> = self.config.ids().collect();
        if self.quiet {
            let peers: Vec<NodeId> = self.peers.keys().copied().collect();
            for l in ids {
                for &n in &peers {
                    self.ping_one(now, n, l);
                }
            }
            return;
        }
        for l in ids {
            self.ping_all(now, l);
        }
    }

    /// Quiet mode: starts the periodic pings of a link as soon as a peer on it is watched
    /// (down, probed or held), and stops them when none is.
    fn schedule_pings(&mut self, now: Instant) {
        if !self.quiet {
            return;
        }
        for cfg in &self.config.links {
            let i = cfg.link.index();
            let any = self.peers.values().any(|p| watched(true, p.admitted, &p.links[i]));
            match (any, self.next_ping[i]) {
                (true, None) => self.next_ping[i] = Some(now + cfg.ping_interval),
                (false, Some(_)) => self.next_ping[i] = None,
                _ => {}
            }
        }
    }

    fn my_row(&self) -> ConnRow {
        let peers = MemberList::from_ids(self.peers.iter().filter(|(_, p)| p.admitted).map(|(n, _)| *n))
            .unwrap_or_default();
        ConnRow { node: self.me, version: self.my_version, peers }
    }

    /// This node's row and the others' it knows, as many as fit one datagram.
    fn rows_to_send(&self) -> Vec<ConnRow> {
        let mut rows: Vec<ConnRow> = Vec::with_capacity(self.rows.len() + 1);
        let mine = self.my_row();
        let mut budget = DATAGRAM_MAX - HEADER_LEN - 64;
        for row in self.rows.values().chain(std::iter::once(&mine)) {
            let size = 14 + 4 * row.peers.len();
            if size > budget {
                break;
            }
            budget -= size;
            rows.push(row.clone());
        }
        rows.sort_by_key(|r| r.node);
        rows
    }

    fn merge_rows(&mut self, now: Instant, rows: &[ConnRow]) {
        let mut changed = false;
        let mut bumped = false;
        let mut removal = false;
        for row in rows {
            if row.node == self.me {
                // A row of an earlier boot of ours: publish above it, at once. (Our current
                // row relayed back to us is no news: bumping on it made every relay answer a
                // relay, a storm of heartbeats.)
                let ours = row.version == self.my_version && row.peers == self.my_row().peers;
                if row.version >= self.my_version && !ours {
                    self.my_version = row.version + 1;
                    bumped = true;
                }
                continue;
            }
            if !self.nodelist.contains(row.node) {
                continue;
            }
            let newer = self.rows.get(&row.node).is_none_or(|old| row.version > old.version);
            if newer {
                let old = self.rows.get(&row.node).map(|r| r.peers.clone());
                let old = old.or_else(|| self.quiet.then(|| self.presumed_row(row.node)));
                removal |= old.as_ref().is_some_and(|o| o.iter().any(|n| !row.peers.contains(n)));
                let same = self.rows.get(&row.node).is_some_and(|old| old.peers == row.peers);
                self.rows.insert(row.node, row.clone());
                changed |= !same;
            }
        }
        if changed || bumped {
            // Quiet mode has no periodic pings to carry a new row on: it is relayed at once
            // (each node relays each new row once).
            self.recompute(now, bumped || (self.quiet && changed), !removal);
        }
    }

    fn reachability_changed(&mut self, now: Instant, peer: NodeId) {
        let hold = self.readmit_hold;
        let no_hold = self.mutant == Some(LinkMutant::NoReadmitHold);
        let fail_on_one = self.mutant == Some(LinkMutant::FailOnOneLink);
        let ids: Vec<LinkId> = self.config.ids().collect();
        let Some(p) = self.peers.get_mut(&peer) else { return };
        let reachable =
            if fail_on_one { ids.iter().all(|l| p.links[l.index()].connected) } else { p.reachable() };
        let mut row_changed = false;
        if reachable {
            if p.reachable_since.is_none() {
                p.reachable_since = Some(now);
            }
            if !p.admitted && (!p.lost_once || no_hold || hold == Duration::ZERO) {
                p.admitted = true;
                row_changed = true;
            }
        } else {
            p.reachable_since = None;
            if p.admitted {
                p.admitted = false;
                // Only a peer lost while it was heard (partial connectivity, a flapping
                // link) waits for the hold; one that fell silent (crash, stall, both
                // directions cut) is taken back as soon as it answers, as Totem would.
                p.lost_once = p.lost_heard;
                p.lost_silent = !p.lost_heard;
                row_changed = true;
            }
        }
        if row_changed {
            self.row_changed(now, reachable);
        }
    }

    /// Admits the lost peers that stayed reachable for the whole hold.
    fn admit_held(&mut self, now: Instant) {
        let hold = self.readmit_hold;
        let mut changed = false;
        for p in self.peers.values_mut() {
            if let (false, Some(since)) = (p.admitted, p.reachable_since) {
                if now.saturating_since(since) >= hold {
                    p.admitted = true;
                    changed = true;
                }
            }
        }
        if changed {
            self.row_changed(now, true);
        }
    }

    /// This node's row changed (`growth`: only by admitting peers).
    fn row_changed(&mut self, now: Instant, growth: bool) {
        self.my_version += 1;
        self.recompute(now, true, growth);
    }

    /// Recomputes the clique after a row changed (`growth`: rows only gained peers). A clique
    /// that loses members only because rows grew is transient: a peer admitted here before
    /// the others admitted it too makes a clique with it tie with, and win over, the one the
    /// ring already has. Such a change waits one ping interval for the others' rows (they
    /// travel within a round trip) and is applied then if it still holds.
    fn recompute(&mut self, now: Instant, tell: bool, growth: bool) {
        let clique = self.compute_clique();
        let loses = self.clique.iter().any(|n| !clique.contains(n));
        if clique == self.clique {
            self.pending_shrink = None;
        } else if loses && growth && !self.clique.is_empty() {
            if self.pending_shrink.is_none() {
                let settle =
                    self.config.links.iter().map(|l| l.ping_interval).max().unwrap_or(Duration::ZERO);
                self.pending_shrink = Some(now + settle);
            }
        } else {
            self.pending_shrink = None;
            self.clique = clique.clone();
            self.events.push_back(LinkEvent::Clique(clique));
        }
        if tell {
            self.ping_now(now);
        }
    }

    /// Quiet mode: the row presumed for a node not heard yet (it admits everyone).
    fn presumed_row(&self, node: NodeId) -> MemberList {
        self.nodelist.minus(&MemberList::single(node))
    }

    fn compute_clique(&self) -> MemberList {
        let mine = self.my_row();
        let presumed: BTreeMap<NodeId, MemberList> = if self.quiet {
            self.nodelist
                .iter()
                .filter(|n| *n != self.me && !self.rows.contains_key(n))
                .map(|n| (n, self.presumed_row(n)))
                .collect()
        } else {
            BTreeMap::new()
        };
        let rows = |n: NodeId| -> Option<&MemberList> {
            if n == self.me {
                Some(&mine.peers)
            } else {
                self.rows.get(&n).map(|r| &r.peers).or_else(|| presumed.get(&n))
            }
        };
        let nodes: Vec<NodeId> = self.nodelist.iter().collect();
        let edge = |a: NodeId, b: NodeId| {
            rows(a).is_some_and(|r| r.contains(b)) && rows(b).is_some_and(|r| r.contains(a))
        };
        partition(&nodes, edge)
            .into_iter()
            .find(|c| c.contains(self.me))
            .unwrap_or_else(|| MemberList::from_ids([self.me]).unwrap_or_default())
    }
}

/// The partial-connectivity rule (docs/totem.md, "Partial connectivity"): splits `nodes`
/// into cliques of the undirected graph `edge`. Repeatedly, among the nodes not yet placed,
/// the largest clique is taken, ties broken by the smallest sorted list of node ids. Every
/// node that computes it over the same graph gets the same partition.
pub fn partition(nodes: &[NodeId], edge: impl Fn(NodeId, NodeId) -> bool) -> Vec<MemberList> {
    let mut left: Vec<NodeId> = nodes.to_vec();
    left.sort();
    left.dedup();
    let mut out = Vec::new();
    while !left.is_empty() {
        let best = max_clique(&left, &edge);
        left.retain(|n| !best.contains(n));
        out.push(MemberList::from_ids(best).unwrap_or_default());
    }
    out
}

/// Most recursion steps of the exact search; past it the greedy clique is taken (still the
/// same on every node, the search being deterministic).
const CLIQUE_STEPS_MAX: usize = 200_000;

fn max_clique(nodes: &[NodeId], edge: &impl Fn(NodeId, NodeId) -> bool) -> Vec<NodeId> {
    // Bron–Kerbosch with pivoting over the sorted candidates; keeps the largest maximal
    // clique, the lexicographically smallest on a tie.
    fn better(a: &[NodeId], b: &[NodeId]) -> bool {
        a.len() > b.len() || (a.len() == b.len() && a < b)
    }
    struct Search<'a, E> {
        edge: &'a E,
        best: Vec<NodeId>,
        steps: usize,
    }
    impl<E: Fn(NodeId, NodeId) -> bool> Search<'_, E> {
        fn run(&mut self, r: &mut Vec<NodeId>, p: Vec<NodeId>, x: Vec<NodeId>) {
            self.steps += 1;
            if self.steps > CLIQUE_STEPS_MAX {
                return;
            }
            if p.is_empty() && x.is_empty() {
                let mut c = r.clone();
                c.sort();
                if better(&c, &self.best) {
                    self.best = c;
                }
                return;
            }
            if r.len() + p.len() < self.best.len() {
                return;
            }
            let pivot =
                p.iter().chain(x.iter()).copied().max_by_key(|u| {
                    (p.iter().filter(|v| (self.edge)(*u, **v)).count(), std::cmp::Reverse(*u))
                });
            let Some(pivot) = pivot else { return };
            let candidates: Vec<NodeId> = p.iter().copied().filter(|v| !(self.edge)(pivot, *v)).collect();
            let (mut p, mut x) = (p, x);
            for v in candidates {
                let np = p.iter().copied().filter(|w| (self.edge)(v, *w)).collect();
                let nx = x.iter().copied().filter(|w| (self.edge)(v, *w)).collect();
                r.push(v);
                self.run(r, np, nx);
                r.pop();
                p.retain(|w| *w != v);
                x.push(v);
            }
        }
    }
    let mut search = Search { edge, best: Vec::new(), steps: 0 };
    search.run(&mut Vec::new(), nodes.to_vec(), Vec::new());
    if search.steps > CLIQUE_STEPS_MAX || search.best.is_empty() {
        // Greedy: from the lowest node, add every node adjacent to all taken so far.
        let mut c: Vec<NodeId> = Vec::new();
        for &n in nodes {
            if c.iter().all(|m| edge(*m, n)) {
                c.push(n);
            }
        }
        return c;
    }
    search.best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> NodeId {
        NodeId::new(n).unwrap()
    }
    fn link(n: u32) -> LinkId {
        LinkId::new(n).unwrap()
    }
    fn list(ids: &[u32]) -> MemberList {
        MemberList::from_ids(ids.iter().map(|n| id(*n))).unwrap()
    }

    #[test]
    fn defaults_are_derived_from_the_token_as_corosync_does() {
        // totemconfig.c: ping_timeout = token / pong_count, ping_interval = token / (2 × pong_count).
        let c = LinkConfig::derive(&LinkKeys::new(LinkId::ZERO), Duration::from_millis(3000)).unwrap();
        assert_eq!((c.ping_timeout.as_millis(), c.ping_interval.as_millis(), c.pong_count), (1500, 750, 2));
        assert_eq!(c.priority, 1);
        let mut k = LinkKeys::new(link(1));
        k.pong_count = Some(5);
        let c = LinkConfig::derive(&k, Duration::from_millis(1000)).unwrap();
        assert_eq!((c.ping_timeout.as_millis(), c.ping_interval.as_millis()), (200, 100));
        k.ping_timeout = Some(700);
        let c = LinkConfig::derive(&k, Duration::from_millis(1000)).unwrap();
        assert_eq!((c.ping_timeout.as_millis(), c.ping_interval.as_millis()), (700, 100));
    }

    #[test]
    fn bad_link_settings_are_refused() {
        let mut k = LinkKeys::new(link(2));
        k.pong_count = Some(0);
        assert!(matches!(
            LinkConfig::derive(&k, Duration::from_millis(1000)),
            Err(LinkError::OutOfRange { key: "knet_pong_count", .. })
        ));
        let mut k = LinkKeys::new(link(2));
        k.ping_interval = Some(900);
        k.ping_timeout = Some(100);
        assert!(matches!(
            LinkConfig::derive(&k, Duration::from_millis(1000)),
            Err(LinkError::OutOfRange { key: "knet_ping_interval", .. })
        ));
        let keys = [LinkKeys::new(link(1)), LinkKeys::new(link(1))];
        assert_eq!(
            LinksConfig::derive(LinkMode::Passive, &keys, Duration::from_millis(1000)),
            Err(LinkError::Duplicate(link(1)))
        );
        assert_eq!(
            LinksConfig::derive(LinkMode::Passive, &[], Duration::from_millis(1000)),
            Err(LinkError::NoLinks)
        );
    }

    #[test]
    fn partition_takes_the_largest_clique_lowest_ids_on_a_tie() {
        // 1–2 cut while both see 3: {1,3} then {2}.
        let nodes = [id(1), id(2), id(3)];
        let cut =
            |a: NodeId, b: NodeId| a != b && !((a == id(1) && b == id(2)) || (a == id(2) && b == id(1)));
        assert_eq!(partition(&nodes, cut), vec![list(&[1, 3]), list(&[2])]);
        // Five nodes, 1 cut from 4 and 5: {2,3,4,5} is larger than any clique holding 1.
        let nodes: Vec<NodeId> = (1..=5).map(id).collect();
        let cut = |a: NodeId, b: NodeId| {
            let (lo, hi) = (a.min(b).get(), a.max(b).get());
            a != b && !(lo == 1 && hi >= 4)
        };
        assert_eq!(partition(&nodes, cut), vec![list(&[2, 3, 4, 5]), list(&[1])]);
        // Fully connected: one clique.
        assert_eq!(partition(&nodes, |a, b| a != b), vec![list(&[1, 2, 3, 4, 5])]);
    }

    /// Two link layers wired together; `cut` lists the (from, to, link) directions that lose
    /// everything.
    fn exchange(a: &mut Links, b: &mut Links, now: Instant, cut: &[(u32, u32, u32)]) {
        fn pass(src: &mut Links, dst: &mut Links, now: Instant, cut: &[(u32, u32, u32)]) {
            while let Some(t) = src.poll_transmit() {
                let lost = cut.contains(&(src.me.get(), dst.me.get(), u32::from(t.link.get())));
                if !lost {
                    let from = t.packet.header.sender;
                    dst.heard(now, from, t.link);
                    dst.handle_heartbeat(now, t.link, from, t.packet.message).unwrap();
                }
            }
        }
        for _ in 0..4 {
            pass(a, b, now, cut);
            pass(b, a, now, cut);
        }
    }

    #[test]
    fn a_link_comes_up_after_pong_count_pongs_and_goes_down_after_the_timeout() {
        let token = Duration::from_millis(1000);
        let keys = [LinkKeys::new(link(0)), LinkKeys::new(link(1))];
        let cfg = LinksConfig::derive(LinkMode::Passive, &keys, token).unwrap();
        let t0 = Instant::from_micros(1_000_000);
        let mut a = Links::new(id(1), list(&[1, 2]), 7, 11, cfg.clone(), None, t0);
        let mut b = Links::new(id(2), list(&[1, 2]), 7, 12, cfg, None, t0);
        let mut now = t0;
        let mut step = |a: &mut Links, b: &mut Links, cut: &[(u32, u32, u32)], ms: u64| {
            for _ in 0..ms / 10 {
                now = now + Duration::from_millis(10);
                a.handle_timeout(now);
                b.handle_timeout(now);
                exchange(a, b, now, cut);
            }
        };
        a.handle_timeout(t0);
        b.handle_timeout(t0);
        exchange(&mut a, &mut b, t0, &[]);
        // Bring-up pings back at once after each pong: up after pong_count round trips,
        // without waiting for the ping interval.
        let l0 = &a.status().peers[0].links[0];
        assert!(l0.connected && l0.counters.up == 1 && l0.counters.sent >= 2, "{l0:?}");
        step(&mut a, &mut b, &[], 300);
        assert!(a.status().peers[0].links.iter().all(|l| l.connected));
        assert_eq!(a.clique(), &list(&[1, 2]));
        assert_eq!(a.route(id(2)), vec![link(0)]);
        // Cut one direction of link 0: down on both sides after the ping timeout, traffic
        // moves to link 1, the clique stays.
        step(&mut a, &mut b, &[(1, 2, 0)], 600);
        let s = a.status();
        assert!(!s.peers[0].links[0].connected && s.peers[0].links[1].connected);
        assert!(!b.status().peers[0].links[0].connected);
        assert_eq!(a.route(id(2)), vec![link(1)]);
        assert_eq!(a.clique(), &list(&[1, 2]));
        assert_eq!(b.clique(), &list(&[1, 2]));
        // Both links cut: the peer leaves the clique; once healed it is admitted again only
        // after the hold.
        step(&mut a, &mut b, &[(1, 2, 0), (1, 2, 1)], 600);
        assert_eq!(a.clique(), &list(&[1]));
        step(&mut a, &mut b, &[], 600);
        assert_eq!(a.clique(), &list(&[1]), "re-admitted before the hold");
        step(&mut a, &mut b, &[], 2000);
        assert_eq!(a.clique(), &list(&[1, 2]));
        assert_eq!(b.clique(), &list(&[1, 2]));
    }

    #[test]
    fn a_stall_of_this_node_does_not_take_its_links_down() {
        let token = Duration::from_millis(1000);
        let keys = [LinkKeys::new(link(0)), LinkKeys::new(link(1))];
        let cfg = LinksConfig::derive(LinkMode::Passive, &keys, token).unwrap();
        let t0 = Instant::from_micros(1_000_000);
        let mut a = Links::new(id(1), list(&[1, 2]), 7, 11, cfg.clone(), None, t0);
        let mut b = Links::new(id(2), list(&[1, 2]), 7, 12, cfg, None, t0);
        let mut now = t0;
        for _ in 0..30 {
            now = now + Duration::from_millis(10);
            a.handle_timeout(now);
            b.handle_timeout(now);
            exchange(&mut a, &mut b, now, &[]);
        }
        assert!(a.status().peers[0].links.iter().all(|l| l.connected));
        // Node 1's loop stalls for 2 s (4 ping timeouts) while node 2 keeps going; node 2's
        // pongs to pings sent before the stall wait in the socket. When node 1 runs again its
        // first timer is late: the links stay up, and fresh pings go out.
        let woke = now + Duration::from_millis(2000);
        a.handle_timeout(woke);
        let s = a.status();
        assert!(s.peers[0].links.iter().all(|l| l.connected), "{s:?}");
        assert_eq!(a.clique(), &list(&[1, 2]));
        // Real silence after the stall still counts: with node 2 gone for a ping timeout on
        // an on-time clock, the links go down.
        let mut t = woke;
        for _ in 0..80 {
            t = t + Duration::from_millis(10);
            a.handle_timeout(t);
            while a.poll_transmit().is_some() {}
        }
        assert!(a.status().peers[0].links.iter().all(|l| !l.connected));
    }
}
