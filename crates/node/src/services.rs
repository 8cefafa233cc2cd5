//! The services beside quorum (cmap now; votequorum and cfg join here), composed into the node
//! with one session table and one access rule.
//!
//! A connection starts in the quorum session table (the shell reports it `Connected` before
//! any frame). Its first frame is an `Init`; when that frame's kind names another service, the
//! session moves to [`SvcSessions`] and speaks that service until it closes. The access rule
//! is the same for every service ([`Node::allowed`]): uid 0 or gid 0, a `uidgid` entry from
//! the configuration (`uidgid.config.uid.<uid>` / `uidgid.config.gid.<gid>`), or one written at
//! run time through cmap (`uidgid.uid.<uid>` / `uidgid.gid.<gid>` = u8 1), looked up at each
//! `Init`, so a write is honoured at once.
//!
//! The cmap service keeps the default map (configuration and `runtime.*` keys the node
//! maintains: `runtime.votequorum.*`, `runtime.members.<id>.*`, `runtime.config.totem.*`) and
//! the statistics map (`stats.srp.*`, refreshed from Totem's counters when a stats session
//! asks).

use std::collections::BTreeMap;

use quorumd_cmap::{Cmap, CmapError};
use quorumd_proto::ipc::cs;
use quorumd_proto::svc::{self, Dir, Service};
use quorumd_proto::svc_cmap::{CmapNotify, CmapRequest, CmapResponse, CmapValue};
use quorumd_proto::svc_votequorum::{VqEvent, VqInfo, VqRequest, VqResponse};
use quorumd_proto::{MemberList, NodeId};

use crate::{ClientOutput, ConnId, Node};

/// One session of a service other than quorum.
#[derive(Clone, Debug)]
pub(crate) struct SvcSession {
    pub(crate) service: Service,
    /// cmap: which map (0 default, 1 statistics).
    pub(crate) map: u32,
    /// votequorum: the tracking context while tracking changes.
    pub(crate) vq_track: Option<u64>,
}

/// The sessions of services other than quorum.
pub(crate) type SvcSessions = BTreeMap<ConnId, SvcSession>;

/// What the node keeps about each node for `runtime.members.<id>.*`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemberRecord {
    pub(crate) join_count: u32,
    pub(crate) joined: bool,
}

/// The cmap state the node owns.
#[derive(Clone, Debug, Default)]
pub(crate) struct CmapState {
    pub(crate) map: Cmap,
    pub(crate) stats: Cmap,
    pub(crate) members: BTreeMap<NodeId, MemberRecord>,
}

/// corosync's `nodelist.local_node_pos`: the `N` of this node's `nodelist.node.<N>.nodeid`.
pub(crate) fn local_node_pos<'a>(
    keys: impl Iterator<Item = (&'a String, &'a CmapValue)>,
    my_id: u32,
) -> Option<u32> {
    keys.filter(|(_, v)| **v == CmapValue::U32(my_id))
        .find_map(|(k, _)| k.strip_prefix("nodelist.node.")?.strip_suffix(".nodeid")?.parse().ok())
}

/// corosync's `totem.interface.<link>.bindnetaddr` keys, which it derives from the nodelist:
/// this node's `ring<link>_addr` for every link (`pos` is `nodelist.local_node_pos`).
pub(crate) fn bindnetaddrs<'a>(
    keys: impl Iterator<Item = (&'a String, &'a CmapValue)>,
    pos: u32,
) -> Vec<(String, CmapValue)> {
    let mine = format!("nodelist.node.{pos}.ring");
    keys.filter_map(|(k, v)| {
        let link: u8 = k.strip_prefix(&mine)?.strip_suffix("_addr")?.parse().ok()?;
        Some((format!("totem.interface.{link}.bindnetaddr"), v.clone()))
    })
    .collect()
}

fn ms(d: quorumd_proto::Duration) -> CmapValue {
    CmapValue::U32(u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
}

impl Node {
    /// The access rule of every service (see the module docs).
    pub(crate) fn allowed(&self, uid: u32, gid: u32) -> bool {
        let m = &self.cmap.map;
        let yes = |k: String| m.get_u8(&k) == Some(1);
        self.access.allows(uid, gid)
            || yes(format!("uidgid.uid.{uid}"))
            || yes(format!("uidgid.config.uid.{uid}"))
            || yes(format!("uidgid.gid.{gid}"))
            || yes(format!("uidgid.config.gid.{gid}"))
    }

    /// Fills the map at boot: configuration keys, the resolved uidgid entries and the runtime
    /// keys known before any membership.
    pub(crate) fn cmap_boot(&mut self, config_keys: Vec<(String, CmapValue)>) {
        let m = &mut self.cmap.map;
        for (k, v) in config_keys {
            // A key the map refuses (a name corosync could not have) is left out.
            let _ = m.set(&k, v);
        }
        if let Some(pos) = local_node_pos(m.prefix("nodelist.node."), self.my_id.get()) {
            let _ = m.set("nodelist.local_node_pos", CmapValue::U32(pos));
            for (k, v) in bindnetaddrs(m.prefix("nodelist.node."), pos) {
                let _ = m.set(&k, v);
            }
        }
        for uid in &self.access.uids {
            let _ = m.set(&format!("uidgid.config.uid.{uid}"), CmapValue::U8(1));
        }
        for gid in &self.access.gids {
            let _ = m.set(&format!("uidgid.config.gid.{gid}"), CmapValue::U8(1));
        }
        let _ = m.set("runtime.votequorum.this_node_id", CmapValue::U32(self.my_id.get()));
        let t = self.totem.config().clone();
        for (k, v) in [
            ("token", ms(t.token)),
            ("token_retransmit", ms(t.token_retransmit)),
            ("hold", ms(t.hold)),
            ("join", ms(t.join)),
            ("send_join", ms(t.send_join)),
            ("consensus", ms(t.consensus)),
            ("merge", ms(t.merge)),
            ("downcheck", ms(t.downcheck)),
            ("fail_recv_const", CmapValue::U32(t.fail_recv_const)),
            ("seqno_unchanged_const", CmapValue::U32(t.seqno_unchanged_const)),
            ("window_size", CmapValue::U32(t.window_size)),
            ("max_messages", CmapValue::U32(t.max_messages)),
            ("miss_count_const", CmapValue::U32(t.miss_count_const)),
        ] {
            let _ = m.set(&format!("runtime.config.totem.{k}"), v);
        }
        // The effective knet link timers, as corosync publishes them.
        for l in &self.links.config().links {
            let p = format!("runtime.config.totem.interface.{}.", l.link);
            let _ = m.set(&format!("{p}knet_ping_interval"), ms(l.ping_interval));
            let _ = m.set(&format!("{p}knet_ping_timeout"), ms(l.ping_timeout));
        }
        self.cmap_runtime_quorum();
    }

    /// `runtime.votequorum.*` from votequorum's state.
    pub(crate) fn cmap_runtime_quorum(&mut self) {
        let Some(vq) = self.vq.as_ref() else { return };
        let (q, ev_barrier) = (vq.state(), vq.ev_barrier());
        let m = &mut self.cmap.map;
        let two_node = q.flags.contains(quorumd_votequorum::InfoFlags::TWONODE);
        let _ = m.set("runtime.votequorum.two_node", CmapValue::U8(u8::from(two_node)));
        let _ = m.set("runtime.votequorum.ev_barrier", CmapValue::U32(ev_barrier));
        // As corosync: the status key exists once wait_for_all is configured (it then follows
        // the status); without wait_for_all there is no such key.
        let wfa_key = "runtime.votequorum.wait_for_all_status";
        if q.flags.contains(quorumd_votequorum::InfoFlags::WAIT_FOR_ALL) || m.get(wfa_key).is_some() {
            let _ = m.set(wfa_key, CmapValue::U8(u8::from(q.wait_for_all_status)));
        }
        if let (Some(lo), Some(hi)) = (q.members.lowest(), q.members.iter().last()) {
            let _ = m.set("runtime.votequorum.lowest_node_id", CmapValue::U32(lo.get()));
            let _ = m.set("runtime.votequorum.highest_node_id", CmapValue::U32(hi.get()));
        }
    }

    /// A sync completed: `runtime.members.<id>.*` follow the member list (corosync counts
    /// joins and marks nodes that left as `left`).
    pub(crate) fn cmap_sync_completed(&mut self, members: &MemberList) {
        let config_version = match self.cmap.map.get("totem.config_version") {
            Some(CmapValue::U64(v)) => *v,
            _ => 0,
        };
        let addrs: BTreeMap<u32, String> = self
            .cmap
            .map
            .prefix("nodelist.node.")
            .filter(|(k, _)| k.ends_with(".nodeid"))
            .filter_map(|(k, v)| {
                let CmapValue::U32(id) = v else { return None };
                let addr = k.strip_suffix("nodeid").map(|p| format!("{p}ring0_addr"))?;
                match self.cmap.map.get(&addr) {
                    Some(CmapValue::String(a)) => Some((*id, a.clone())),
                    _ => None,
                }
            })
            .collect();
        let mut changed = Vec::new();
        for id in members.iter() {
            let rec = self.cmap.members.entry(id).or_default();
            if !rec.joined {
                rec.joined = true;
                rec.join_count = rec.join_count.saturating_add(1);
                changed.push(id);
            }
        }
        for (id, rec) in self.cmap.members.iter_mut() {
            if rec.joined && !members.contains(*id) {
                rec.joined = false;
                changed.push(*id);
            }
        }
        for id in changed {
            let rec = self.cmap.members[&id].clone();
            let p = format!("runtime.members.{id}.");
            let m = &mut self.cmap.map;
            let ip = addrs.get(&id.get()).map_or_else(String::new, |a| format!("r(0) ip({a}) "));
            let _ = m.set(&format!("{p}ip"), CmapValue::String(ip));
            let _ = m.set(&format!("{p}join_count"), CmapValue::U32(rec.join_count));
            let status = if rec.joined { "joined" } else { "left" };
            let _ = m.set(&format!("{p}status"), CmapValue::String(status.into()));
            let _ = m.set(&format!("{p}config_version"), CmapValue::U64(config_version));
        }
        self.cmap_runtime_quorum();
        self.flush_cmap();
    }

    /// The default map's keys under `prefix`, in key order, with their values (for observers:
    /// the simulator's cmap checker).
    pub fn cmap_keys(&self, prefix: &str) -> Vec<(String, CmapValue)> {
        self.cmap.map.prefix(prefix).map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The members of the last completed sync, which `runtime.members.*` follow (with or
    /// without a quorum provider), and its ring when no newer sync is in progress.
    pub fn last_sync(&self) -> (Option<quorumd_proto::RingId>, &MemberList) {
        let s = &self.service;
        (s.sync.is_none().then_some(s.last_sync_ring), &s.old_member_list)
    }

    /// Sends the queued track notifications to their owners' event sockets.
    pub(crate) fn flush_cmap(&mut self) {
        while let Some(n) = self.cmap.map.poll_notification() {
            let frame =
                CmapNotify { track: n.track, event: n.event, key: n.key, new: n.new, old: n.old }.encode();
            if let Ok(frame) = frame {
                self.client_out.push_back((ConnId(n.owner), ClientOutput::Send(frame)));
            }
        }
    }

    /// A frame of a session that is not (or is not yet) a quorum session. Returns false when
    /// it is a quorum frame after all (the caller handles it).
    pub(crate) fn service_frame(&mut self, now: quorumd_proto::Instant, conn: ConnId, bytes: &[u8]) -> bool {
        let Some((service, dir, id)) = svc::header(bytes) else { return false };
        if let Some(s) = self.svc.get(&conn) {
            if (service, dir) != (s.service, Dir::Request) {
                self.client_error(
                    conn,
                    format!("a {} session sent a {} frame", s.service.name(), service.name()),
                );
                return true;
            }
            match service {
                Service::Cmap => self.cmap_request(conn, bytes),
                Service::Votequorum => self.vq_request(conn, bytes),
                Service::Cfg => self.cfg_request(now, conn, bytes),
                Service::Cpg => self.cpg_request(conn, bytes),
                _ => self.client_error(conn, format!("{} is not served", service.name())),
            }
            return true;
        }
        if service == Service::Quorum {
            return false;
        }
        // The first frame: it must be that service's Init, on a connection that has not
        // opened any session yet.
        let fresh = self.sessions.table.get(&conn).is_some_and(|s| s.model.is_none());
        if !fresh || dir != Dir::Request || id != svc::INIT_ID {
            self.client_error(conn, "request before init".into());
            return true;
        }
        let Some(session) = self.sessions.table.remove(&conn) else { return true };
        let error = if !self.allowed(session.uid, session.gid) {
            let (uid, gid, pid) = (session.uid, session.gid, session.pid);
            self.events.push_back(crate::NodeEvent::AccessDenied { conn, uid, gid, pid });
            cs::ERR_ACCESS
        } else if !self.service.activated {
            cs::ERR_TRY_AGAIN
        } else {
            cs::OK
        };
        match service {
            Service::Cmap => {
                let map = match CmapRequest::decode(bytes) {
                    Ok(CmapRequest::Init { map }) => map,
                    _ => {
                        self.client_error(conn, "malformed cmap init".into());
                        return true;
                    }
                };
                let error = if error == cs::OK && map > 1 { cs::ERR_INVALID_PARAM } else { error };
                self.cmap_reply(conn, CmapResponse::Init { error });
                if error == cs::OK {
                    self.svc.insert(conn, SvcSession { service, map, vq_track: None });
                } else {
                    self.client_out.push_back((conn, ClientOutput::Close));
                }
            }
            Service::Votequorum => {
                if !matches!(VqRequest::decode(bytes), Ok(VqRequest::Init)) {
                    self.client_error(conn, "malformed votequorum init".into());
                    return true;
                }
                // Without a quorum provider the service is not loaded (corosync: ENOSYS).
                let error = if error == cs::OK && self.vq.is_none() { cs::ERR_NOT_SUPPORTED } else { error };
                self.vq_reply(conn, VqResponse::Init { error });
                if error == cs::OK {
                    self.svc.insert(conn, SvcSession { service, map: 0, vq_track: None });
                } else {
                    self.client_out.push_back((conn, ClientOutput::Close));
                }
            }
            Service::Cfg => {
                if !matches!(
                    quorumd_proto::svc_cfg::CfgRequest::decode(bytes),
                    Ok(quorumd_proto::svc_cfg::CfgRequest::Init)
                ) {
                    self.client_error(conn, "malformed cfg init".into());
                    return true;
                }
                let r = quorumd_proto::svc_cfg::CfgResponse::Init { error };
                if let Ok(frame) = r.encode() {
                    self.client_out.push_back((conn, ClientOutput::Send(frame)));
                }
                if error == cs::OK {
                    self.svc.insert(conn, SvcSession { service, map: 0, vq_track: None });
                } else {
                    self.client_out.push_back((conn, ClientOutput::Close));
                }
            }
            Service::Cpg => self.cpg_init(conn, bytes, error),
            Service::Quorum => {
                self.client_error(conn, format!("{} is not served", service.name()));
            }
        }
        true
    }

    fn cmap_reply(&mut self, conn: ConnId, r: CmapResponse) {
        match r.encode() {
            Ok(frame) => self.client_out.push_back((conn, ClientOutput::Send(frame))),
            Err(e) => self.client_error(conn, format!("cmap reply: {e}")),
        }
    }

    fn cmap_request(&mut self, conn: ConnId, bytes: &[u8]) {
        let req = match CmapRequest::decode(bytes) {
            Ok(r) => r,
            Err(e) => return self.client_error(conn, format!("malformed cmap request: {e}")),
        };
        let stats = self.svc.get(&conn).is_some_and(|s| s.map == 1);
        if stats {
            self.refresh_stats();
        }
        let owner = conn.0;
        let err = |e: CmapError| e.cs();
        let m = if stats { &mut self.cmap.stats } else { &mut self.cmap.map };
        let response = match req {
            CmapRequest::Init { .. } => {
                return self.client_error(conn, "second init on one connection".into())
            }
            CmapRequest::Get { key } => match m.get(&key) {
                Some(v) => CmapResponse::Get { error: cs::OK, value: Some(v.clone()) },
                None => CmapResponse::Get { error: cs::ERR_NOT_EXIST, value: None },
            },
            // The statistics map is read-only to clients, as corosync's.
            CmapRequest::Set { .. } | CmapRequest::Delete { .. } | CmapRequest::Adjust { .. } if stats => {
                CmapResponse::Result { error: cs::ERR_ACCESS }
            }
            CmapRequest::Set { key, value } => {
                let result = m.client_set(&key, value.clone());
                if result.is_ok() {
                    self.cmap_trigger(&key, &value);
                }
                CmapResponse::Result { error: result.map_or_else(err, |()| cs::OK) }
            }
            CmapRequest::Delete { key } => {
                CmapResponse::Result { error: m.client_delete(&key).map_or_else(err, |()| cs::OK) }
            }
            CmapRequest::Adjust { key, step } => {
                CmapResponse::Result { error: m.client_adjust(&key, step).map_or_else(err, |()| cs::OK) }
            }
            CmapRequest::IterInit { prefix } => match m.iter_init(owner, &prefix) {
                Ok(iter) => CmapResponse::IterInit { error: cs::OK, iter },
                Err(e) => CmapResponse::IterInit { error: e.cs(), iter: 0 },
            },
            CmapRequest::IterNext { iter } => match m.iter_next(owner, iter) {
                Ok((key, v)) => {
                    let (value_len, type_code) = (v.len() as u64, v.type_code());
                    CmapResponse::IterNext { error: cs::OK, key, value_len, type_code }
                }
                Err(e) => {
                    CmapResponse::IterNext { error: e.cs(), key: String::new(), value_len: 0, type_code: 0 }
                }
            },
            CmapRequest::IterFinalize { iter } => {
                CmapResponse::Result { error: m.iter_finalize(owner, iter).map_or_else(err, |()| cs::OK) }
            }
            CmapRequest::TrackAdd { key, flags } => match m.track_add(owner, &key, flags) {
                Ok(track) => CmapResponse::TrackAdd { error: cs::OK, track },
                Err(e) => CmapResponse::TrackAdd { error: e.cs(), track: 0 },
            },
            CmapRequest::TrackDelete { track } => {
                CmapResponse::Result { error: m.track_delete(owner, track).map_or_else(err, |()| cs::OK) }
            }
        };
        self.cmap_reply(conn, response);
        self.flush_cmap();
        // Notifications of the statistics map (its keys change only on refresh) go out too.
        while let Some(n) = self.cmap.stats.poll_notification() {
            let frame =
                CmapNotify { track: n.track, event: n.event, key: n.key, new: n.new, old: n.old }.encode();
            if let Ok(frame) = frame {
                self.client_out.push_back((ConnId(n.owner), ClientOutput::Send(frame)));
            }
        }
    }

    /// Keys whose write is a command (corosync's `quorum.cancel_wait_for_all`).
    fn cmap_trigger(&mut self, key: &str, value: &CmapValue) {
        if key == "quorum.cancel_wait_for_all" && *value == CmapValue::U8(1) {
            let _ = self.reconfigure(quorumd_proto::ipc::Request::CancelWaitForAll);
        }
    }

    /// `stats.srp.*` from Totem's counters.
    ///
    /// Deviation from corosync: only these counters, not Corosync's whole `stats.*` tree
    /// (knet links, IPC connections).
    fn refresh_stats(&mut self) {
        let st = self.totem.stats().clone();
        let dropped = self.dropped;
        let m = &mut self.cmap.stats;
        for (k, v) in [
            ("rings_installed", st.rings_installed),
            ("token_losses", st.token_losses),
            ("orf_token_retx", st.token_retransmits),
            ("rx_msg_dropped", st.dropped.max(dropped)),
            ("mcast_rx", st.delivered),
            ("mcast_retx", st.mcast_retransmits),
        ] {
            let _ = m.set(&format!("stats.srp.{k}"), CmapValue::U64(v));
        }
    }

    fn vq_reply(&mut self, conn: ConnId, r: VqResponse) {
        match r.encode() {
            Ok(frame) => self.client_out.push_back((conn, ClientOutput::Send(frame))),
            Err(e) => self.client_error(conn, format!("votequorum reply: {e}")),
        }
    }

    fn vq_event(&mut self, conn: ConnId, ev: &VqEvent) {
        if let Ok(frame) = ev.encode() {
            self.client_out.push_back((conn, ClientOutput::Send(frame)));
        }
    }

    fn vq_quorum_event(&self, context: u64) -> Option<VqEvent> {
        let q = self.vq.as_ref()?.state();
        let nodes = q.nodes.iter().map(|n| (n.nodeid.get(), n.state as u32)).collect();
        Some(VqEvent::Quorum { context, quorate: u32::from(q.quorate), nodes })
    }

    fn vq_nodelist_event(&self, context: u64) -> VqEvent {
        let s = &self.service;
        let ring_id = crate::sessions::wire_ring(s.last_sync_ring);
        VqEvent::Nodelist { context, ring_id, nodes: s.member_list.raw() }
    }

    fn vq_trackers(&self) -> Vec<(ConnId, u64)> {
        self.svc.iter().filter_map(|(c, s)| s.vq_track.map(|ctx| (*c, ctx))).collect()
    }

    /// A sync completed: nodelist then quorum notification to every votequorum tracker.
    pub(crate) fn vq_notify_sync(&mut self) {
        for (conn, ctx) in self.vq_trackers() {
            let ev = self.vq_nodelist_event(ctx);
            self.vq_event(conn, &ev);
            if let Some(ev) = self.vq_quorum_event(ctx) {
                self.vq_event(conn, &ev);
            }
        }
    }

    /// Quorate changed outside a sync.
    pub(crate) fn vq_notify_quorum(&mut self) {
        for (conn, ctx) in self.vq_trackers() {
            if let Some(ev) = self.vq_quorum_event(ctx) {
                self.vq_event(conn, &ev);
            }
        }
    }

    /// Expected votes changed.
    pub(crate) fn vq_notify_expected(&mut self, expected_votes: u32) {
        self.cmap_runtime_quorum();
        self.flush_cmap();
        for (conn, context) in self.vq_trackers() {
            self.vq_event(conn, &VqEvent::ExpectedVotes { context, expected_votes });
        }
    }

    /// `votequorum_getinfo`: node 0 is this node; a node votequorum does not know is
    /// `CS_ERR_NOT_EXIST`. Flags are the cluster's, as corosync sets them (no device bits).
    fn vq_info(&self, nodeid: u32) -> Result<VqInfo, u32> {
        let q = self.vq.as_ref().ok_or(cs::ERR_NOT_SUPPORTED)?.state();
        let id = if nodeid == 0 { self.my_id.get() } else { nodeid };
        let n = q.nodes.iter().find(|n| n.nodeid.get() == id).ok_or(cs::ERR_NOT_EXIST)?;
        Ok(VqInfo {
            node_id: id,
            node_state: n.state as u32,
            node_votes: n.votes,
            node_expected_votes: n.expected_votes,
            highest_expected: q.highest_expected,
            total_votes: q.total_votes,
            quorum: q.quorum,
            flags: q.flags.bits(),
            qdevice_votes: 0,
            qdevice_name: String::new(),
        })
    }

    fn vq_request(&mut self, conn: ConnId, bytes: &[u8]) {
        let req = match VqRequest::decode(bytes) {
            Ok(r) => r,
            Err(e) => return self.client_error(conn, format!("malformed votequorum request: {e}")),
        };
        let response = match req {
            VqRequest::Init => return self.client_error(conn, "second init on one connection".into()),
            VqRequest::GetInfo { nodeid } => match self.vq_info(nodeid) {
                Ok(info) => VqResponse::GetInfo { error: cs::OK, info },
                Err(error) => VqResponse::GetInfo { error, info: VqInfo::default() },
            },
            VqRequest::SetExpected { expected } => VqResponse::Result {
                error: self.reconfigure(quorumd_proto::ipc::Request::SetExpected { expected }),
            },
            VqRequest::SetVotes { nodeid, votes } => VqResponse::Result {
                error: self.reconfigure(quorumd_proto::ipc::Request::SetVotes { nodeid, votes }),
            },
            VqRequest::TrackStart { context, flags } => {
                use crate::sessions::track;
                if flags & (track::CURRENT | track::CHANGES) != 0 {
                    let ev = self.vq_nodelist_event(context);
                    self.vq_event(conn, &ev);
                    if let Some(ev) = self.vq_quorum_event(context) {
                        self.vq_event(conn, &ev);
                    }
                }
                let Some(s) = self.svc.get_mut(&conn) else { return };
                let error = if s.vq_track.is_some() {
                    cs::ERR_EXIST
                } else {
                    if flags & (track::CHANGES | track::CHANGES_ONLY) != 0 {
                        s.vq_track = Some(context);
                    }
                    cs::OK
                };
                VqResponse::Result { error }
            }
            VqRequest::TrackStop => {
                let Some(s) = self.svc.get_mut(&conn) else { return };
                // Unlike quorum's, corosync's votequorum trackstop says NOT_EXIST when idle.
                let error = if s.vq_track.take().is_some() { cs::OK } else { cs::ERR_NOT_EXIST };
                VqResponse::Result { error }
            }
            // No quorum device can be configured (quorumd refuses `quorum.device`): register,
            // poll and master_wins are refused (ACCESS: no device may operate), unregister and
            // update find nothing registered (NOT_EXIST). Deviation from corosync: without a
            // configured device corosync still lets a device register (and then unregister,
            // with poll and master_wins NOT_EXIST before registering), as its
            // `qdevice_can_operate` starts true; quorumd has no device votes to give it.
            VqRequest::Qdevice { op, .. } => VqResponse::Result {
                error: match op {
                    0 | 3 | 4 => cs::ERR_ACCESS,
                    1 | 2 => cs::ERR_NOT_EXIST,
                    _ => cs::ERR_INVALID_PARAM,
                },
            },
        };
        self.vq_reply(conn, response);
    }

    /// A connection closed: forget its session, tracks and iterators.
    pub(crate) fn service_disconnected(&mut self, now: quorumd_proto::Instant, conn: ConnId) {
        self.svc.remove(&conn);
        // Also when the node itself closed the session first (a protocol error): a cfg
        // tracker that goes away counts as YES, an asker that goes away cancels.
        self.cfg_tracker_gone(now, conn);
        self.cmap.map.drop_owner(conn.0);
        self.cmap.stats.drop_owner(conn.0);
    }
}
