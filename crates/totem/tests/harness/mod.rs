//! A tiny deterministic network for Totem's own tests: fixed latency, optional drop of
//! everything to or from crashed nodes, and a step loop. The full simulator lives in
//! `quorumd-sim`; this one keeps the protocol crate testable on its own.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::BTreeMap;

use quorumd_proto::wire;
use quorumd_proto::{Duration, Instant, MemberList, NodeId, RingId};
use quorumd_totem::{ConfKind, Event, Mutant, State, Totem, TotemConfig, TotemParams};

pub fn id(n: u32) -> NodeId {
    NodeId::new(n).unwrap()
}

pub struct Net {
    pub now: Instant,
    pub nodes: BTreeMap<NodeId, Totem>,
    pub nodelist: MemberList,
    pub cfg: TotemConfig,
    in_flight: BTreeMap<(Instant, u64), (NodeId, Vec<u8>)>,
    counter: u64,
    pub latency: Duration,
    pub installs: Vec<(Instant, NodeId, RingId, MemberList)>,
    pub delivered: BTreeMap<NodeId, Vec<(RingId, u64, Vec<u8>)>>,
    pub persisted: BTreeMap<NodeId, u64>,
    pub cut: Vec<(NodeId, NodeId)>,
    /// Loss and duplication probabilities in parts per thousand, and extra random delay (µs).
    pub loss_ppm: u64,
    pub dup_ppm: u64,
    pub jitter_us: u64,
    rng: u64,
    pub transitions: Vec<(NodeId, RingId, RingId, MemberList)>,
    /// Datagrams sent (one per destination).
    pub sent: u64,
    /// Join datagrams sent (one per destination), by sender.
    pub joins_sent: BTreeMap<NodeId, u64>,
    /// `NodesFailed` events, by node.
    pub failures: BTreeMap<NodeId, u64>,
    /// Nodes that do not run until the given time: their timers wait and whatever reaches them
    /// meanwhile is lost (a starved process whose socket buffer overflows).
    pub starved: BTreeMap<NodeId, Instant>,
    /// Boots so far (each boot gets its own incarnation).
    pub boots: u64,
    /// Built into every node started from now on.
    pub mutant: Option<Mutant>,
}

impl Net {
    pub fn new(n: u32, cfg: TotemConfig) -> Net {
        Net {
            now: Instant::from_micros(1_000_000),
            nodes: BTreeMap::new(),
            nodelist: MemberList::from_ids((1..=n).map(id)).unwrap(),
            cfg,
            in_flight: BTreeMap::new(),
            counter: 0,
            latency: Duration::from_micros(200),
            installs: Vec::new(),
            delivered: BTreeMap::new(),
            persisted: BTreeMap::new(),
            cut: Vec::new(),
            loss_ppm: 0,
            dup_ppm: 0,
            jitter_us: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            transitions: Vec::new(),
            sent: 0,
            joins_sent: BTreeMap::new(),
            failures: BTreeMap::new(),
            starved: BTreeMap::new(),
            boots: 0,
            mutant: None,
        }
    }

    pub fn seed(&mut self, seed: u64) {
        self.rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    }

    pub fn rand(&mut self, below: u64) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % below.max(1)
    }

    pub fn start(&mut self, n: u32) {
        let start_seq = self.persisted.get(&id(n)).map_or(1, |s| s + 1);
        // A different, well-mixed incarnation per boot (splitmix64 of the boot count).
        self.boots += 1;
        let mut z = self.boots.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let incarnation = z ^ (z >> 31);
        let t = Totem::new(
            TotemParams {
                my_id: id(n),
                nodelist: self.nodelist.clone(),
                config: self.cfg.clone(),
                cluster_id: 7,
                start_seq,
                incarnation,
                mutant: self.mutant,
            },
            self.now,
        );
        self.nodes.insert(id(n), t);
        self.drain(id(n));
    }

    pub fn crash(&mut self, n: u32) {
        self.nodes.remove(&id(n));
    }

    pub fn stop(&mut self, n: u32) {
        if let Some(t) = self.nodes.get_mut(&id(n)) {
            t.leave(self.now);
        }
        self.drain(id(n));
        self.nodes.remove(&id(n));
    }

    fn drain(&mut self, n: NodeId) {
        let Some(t) = self.nodes.get_mut(&n) else { return };
        while let Some(ev) = t.poll_event() {
            match ev {
                Event::PersistRingSeq(s) => {
                    self.persisted.insert(n, s);
                }
                Event::ConfChange(c) if c.kind == ConfKind::Regular => {
                    self.installs.push((self.now, n, c.ring_id, c.members.clone()));
                }
                Event::ConfChange(c) => {
                    self.transitions.push((n, c.old_ring_id, c.ring_id, c.members.clone()));
                }
                Event::StateChanged { state, reason } if std::env::var("TOTEM_TRACE").is_ok() => {
                    eprintln!("{:?} {n} -> {state:?}: {reason}", self.now);
                }
                Event::NodesFailed(f) => {
                    *self.failures.entry(n).or_default() += 1;
                    if std::env::var("TOTEM_TRACE").is_ok() {
                        eprintln!("{:?} {n} failed {f}", self.now);
                    }
                }
                Event::Deliver(d) => self.delivered.entry(n).or_default().push((d.ring_id, d.seq, d.payload)),
                _ => {}
            }
        }
        let mut txs = Vec::new();
        while let Some(tx) = t.poll_transmit() {
            txs.push(tx);
        }
        for tx in txs {
            let bytes = wire::encode(&tx.packet);
            let is_join = matches!(tx.packet.message, wire::Message::Join(_));
            for to in tx.to {
                self.sent += 1;
                if is_join {
                    *self.joins_sent.entry(n).or_default() += 1;
                }
                if self.cut.contains(&(n, to)) || self.cut.contains(&(to, n)) {
                    continue;
                }
                if self.rand(1000) < self.loss_ppm {
                    continue;
                }
                let copies = if self.rand(1000) < self.dup_ppm { 2 } else { 1 };
                for _ in 0..copies {
                    self.counter += 1;
                    let delay = self.latency + Duration::from_micros(self.rand(self.jitter_us + 1));
                    self.in_flight.insert((self.now + delay, self.counter), (to, bytes.clone()));
                }
            }
        }
    }

    /// Runs until `until`, processing arrivals and timers in time order.
    pub fn run_until(&mut self, until: Instant) {
        let mut steps = 0u64;
        loop {
            steps += 1;
            assert!(
                steps < 2_000_000,
                "runaway at {:?}: {} in flight; states {:?}",
                self.now,
                self.in_flight.len(),
                self.nodes
                    .values()
                    .map(|t| (t.my_id(), t.state(), t.ring_id(), t.poll_timeout()))
                    .collect::<Vec<_>>()
            );
            let next_msg = self.in_flight.keys().next().map(|k| k.0);
            let next_timer = self
                .nodes
                .values()
                .filter_map(|t| t.poll_timeout().map(|d| d.max(self.starved_until(t.my_id()))))
                .min();
            let next = match (next_msg, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (None, None) => {
                    self.now = until;
                    return;
                }
                (a, b) => a.or(b).unwrap_or(until),
            };
            if next > until {
                self.now = until;
                return;
            }
            self.now = self.now.max(next);
            if next_msg == Some(next) {
                let key = *self.in_flight.keys().next().unwrap();
                let (to, bytes) = self.in_flight.remove(&key).unwrap();
                if self.now < self.starved_until(to) {
                    continue;
                }
                if let Some(t) = self.nodes.get_mut(&to) {
                    let _ = t.handle_packet(self.now, wire::decode(&bytes).unwrap());
                    self.drain(to);
                }
            } else {
                let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
                for n in ids {
                    if self.now < self.starved_until(n) {
                        continue;
                    }
                    let t = self.nodes.get_mut(&n).unwrap();
                    if t.poll_timeout().is_some_and(|d| d <= self.now) {
                        t.handle_timeout(self.now);
                        self.drain(n);
                    }
                }
            }
        }
    }

    /// Hands `packet` to node `to` now, as if it had arrived from the network (a forged or
    /// hostile datagram); returns what the node said.
    pub fn inject(&mut self, to: u32, packet: wire::Packet) -> Result<(), quorumd_totem::Dropped> {
        let bytes = wire::encode(&packet);
        let Some(t) = self.nodes.get_mut(&id(to)) else { return Err(quorumd_totem::Dropped::NotApplicable) };
        let r = t.handle_packet(self.now, wire::decode(&bytes).unwrap());
        self.drain(id(to));
        r
    }

    fn starved_until(&self, n: NodeId) -> Instant {
        self.starved.get(&n).copied().unwrap_or(Instant::ZERO)
    }

    pub fn run_ms(&mut self, ms: u64) {
        let until = self.now + Duration::from_millis(ms);
        self.run_until(until);
    }

    pub fn all_operational_in(&self, members: &[u32]) -> bool {
        let want = MemberList::from_ids(members.iter().map(|n| id(*n))).unwrap();
        let rings: Vec<RingId> =
            members.iter().filter_map(|n| self.nodes.get(&id(*n))).map(|t| t.ring_id()).collect();
        members.iter().all(|n| {
            self.nodes.get(&id(*n)).is_some_and(|t| t.state() == State::Operational && *t.members() == want)
        }) && rings.windows(2).all(|w| w[0] == w[1])
    }

    /// Runs in 1 ms steps until the predicate holds; returns the time it took.
    pub fn run_until_true(&mut self, limit_ms: u64, f: impl Fn(&Net) -> bool) -> Option<Duration> {
        let start = self.now;
        for _ in 0..limit_ms {
            if f(self) {
                return Some(self.now - start);
            }
            self.run_ms(1);
        }
        f(self).then(|| self.now - start)
    }
}
