//! The cfg service (corosync's `exec/cfg.c`): this node's id, node addresses and link status,
//! the shutdown protocol, kill_node.
//!
//! Shutdown: `try_shutdown(IMMEDIATE)` answers OK and the node leaves. REQUEST and REGARDLESS
//! with no other tracker: OK at once and the node leaves. Otherwise every other tracker gets a
//! test-shutdown event and the answer waits: all YES, or REGARDLESS once everyone answered or
//! the `cfg.shutdown_timeout` (ms, default 5000) passed → OK and the node leaves; any NO, or the
//! timeout with REQUEST → `CS_ERR_BUSY`. A tracker that disconnects counts as YES; a second
//! try_shutdown meanwhile is `CS_ERR_EXIST`; the asker disconnecting cancels it.
//!
//! kill_node: refused (`CS_ERR_NOT_EXIST`) unless `runtime.members.<id>.status` is `joined`;
//! otherwise multicast in agreed order, and the named node leaves when it is delivered.
//!
//! reload_config: multicast in agreed order, as corosync's; every node that delivers it reloads
//! its configuration file (the shell's reload, the same as SIGHUP and `quorumtool reload`), and
//! the asking node answers its client with its own result: `CS_OK`, or `CS_ERR_INVALID_PARAM`
//! when the file was refused (nothing changed; `config.reload_error_message` says why).
//!
//! Deviation from corosync: every shutdown here is a clean leave of the cluster (peers re-form
//! at once), not Corosync's exit path; a timed-out request does not also send the trackers a
//! `CS_ERR_TIMEOUT` test-shutdown; node addresses come from the nodelist's IP literals.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

use quorumd_proto::ipc::cs;
use quorumd_proto::svc_cfg::{CfgAddr, CfgLink, CfgNodeStatus, CfgRequest, CfgResponse, CfgTestShutdown};
use quorumd_proto::svc_cmap::CmapValue;
use quorumd_proto::{Duration, Instant};

use crate::{ClientOutput, ConnId, Delivery, Node, NodeEvent};

/// The service id that prefixes cfg payloads on Totem (corosync's CFG_SERVICE = 7).
pub const SERVICE_CFG: u8 = 7;

/// The cfg messages on Totem (after [`SERVICE_CFG`]): kill_node, reload_config.
const MSG_KILL: u8 = 1;
const MSG_RELOAD: u8 = 2;

/// `COROSYNC_CFG_SHUTDOWN_FLAG_REGARDLESS`.
const REGARDLESS: u32 = 1;
/// `COROSYNC_CFG_SHUTDOWN_FLAG_IMMEDIATE`.
const IMMEDIATE: u32 = 2;
/// `CS_ERR_BUSY`.
const ERR_BUSY: u32 = 10;
/// `CS_ERR_FAILED_OPERATION`.
const ERR_FAILED_OPERATION: u32 = 21;
/// corosync's default `cfg.shutdown_timeout`, ms.
const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 5000;

#[derive(Clone, Debug)]
struct Pending {
    asker: ConnId,
    flags: u32,
    /// Every other tracker at the time of asking, and its answer so far.
    replies: BTreeMap<ConnId, Option<bool>>,
    deadline: Instant,
}

/// What cfg keeps.
#[derive(Clone, Debug, Default)]
pub(crate) struct CfgState {
    trackers: BTreeSet<ConnId>,
    pending: Option<Pending>,
    /// This node's `reload_config` requests multicast and not yet delivered, in submission
    /// order (agreed order delivers them in that order).
    reloads: VecDeque<ConnId>,
}

impl CfgState {
    /// When the pending shutdown's timer fires.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }
}

fn addr_of(text: &str) -> Option<CfgAddr> {
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(CfgAddr { family: 4, bytes: a.octets().to_vec() }),
        IpAddr::V6(a) => Some(CfgAddr { family: 6, bytes: a.octets().to_vec() }),
    }
}

impl Node {
    fn cfg_reply(&mut self, conn: ConnId, r: CfgResponse) {
        match r.encode() {
            Ok(frame) => self.client_out.push_back((conn, ClientOutput::Send(frame))),
            Err(e) => self.client_error(conn, format!("cfg reply: {e}")),
        }
    }

    fn notice(&mut self, text: String) {
        self.events.push_back(NodeEvent::Notice { subsystem: "CFG", text });
    }

    /// The `nodelist.node.<N>.` keys of node `id`: its ring addresses in link order.
    fn node_addrs(&self, id: u32) -> Option<Vec<String>> {
        let m = &self.cmap.map;
        let prefix = m
            .prefix("nodelist.node.")
            .find(|(k, v)| k.ends_with(".nodeid") && **v == CmapValue::U32(id))
            .and_then(|(k, _)| k.strip_suffix("nodeid").map(str::to_owned))?;
        let addrs = (0..8)
            .filter_map(|link| match m.get(&format!("{prefix}ring{link}_addr")) {
                Some(CmapValue::String(a)) => Some(a.clone()),
                _ => None,
            })
            .collect();
        Some(addrs)
    }

    fn shutdown_timeout(&self) -> Duration {
        let ms = match self.cmap.map.get("cfg.shutdown_timeout") {
            Some(CmapValue::U32(v)) => u64::from(*v),
            _ => DEFAULT_SHUTDOWN_TIMEOUT_MS,
        };
        Duration::from_millis(ms)
    }

    /// A cfg session's request.
    pub(crate) fn cfg_request(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let req = match CfgRequest::decode(bytes) {
            Ok(r) => r,
            Err(e) => return self.client_error(conn, format!("malformed cfg request: {e}")),
        };
        let me = self.my_id.get();
        let response = match req {
            CfgRequest::Init => return self.client_error(conn, "second init on one connection".into()),
            CfgRequest::LocalGet => CfgResponse::LocalGet { error: cs::OK, nodeid: me },
            CfgRequest::NodeAddrs { nodeid } => {
                let id = if nodeid == 0 { me } else { nodeid };
                let addrs: Vec<CfgAddr> =
                    self.node_addrs(id).unwrap_or_default().iter().filter_map(|a| addr_of(a)).collect();
                let error = if addrs.is_empty() { cs::ERR_NOT_EXIST } else { cs::OK };
                CfgResponse::NodeAddrs { error, addrs }
            }
            CfgRequest::NodeStatus { nodeid } => match self.node_addrs(nodeid) {
                // corosync: knet knows no such host.
                None => {
                    CfgResponse::NodeStatus { error: ERR_FAILED_OPERATION, status: CfgNodeStatus::default() }
                }
                Some(addrs) => {
                    let member = nodeid == me
                        || quorumd_proto::NodeId::new(nodeid)
                            .is_ok_and(|n| self.service.member_list.contains(n));
                    let mine = self.node_addrs(me).unwrap_or_default();
                    let mtu = match self.cmap.map.get("totem.netmtu") {
                        Some(CmapValue::U32(v)) => *v,
                        _ => 1500,
                    };
                    // One entry per link number, as knet reports them: connected as the link
                    // layer last saw it (this node's own links count as connected).
                    let st = self.link_status();
                    let peer = st.peers.iter().find(|p| p.node.get() == nodeid);
                    let mut links = Vec::new();
                    for (i, c) in st.links.iter().enumerate() {
                        let n = usize::from(c.link.get());
                        links.resize(links.len().max(n + 1), CfgLink::default());
                        let connected = nodeid == me
                            || peer
                                .and_then(|p| p.links.iter().find(|l| l.link == c.link))
                                .is_some_and(|l| l.connected);
                        links[n] = CfgLink {
                            enabled: 1,
                            connected: u8::from(connected),
                            dynconnected: 0,
                            mtu,
                            src: mine.get(i).cloned().unwrap_or_default(),
                            dst: addrs.get(i).cloned().unwrap_or_default(),
                        };
                    }
                    let reachable = member || peer.is_some_and(|p| p.reachable);
                    let status = CfgNodeStatus {
                        nodeid,
                        reachable: u8::from(reachable),
                        // As corosync 3.1.7 with knet 1.x reports every node (knet leaves its
                        // `remote` at 0), so `corosync-cfgtool -n` prints no "remote".
                        remote: 0,
                        external: 0,
                        // As Debian's corosync 3.1.7 reports every node: built without knet's
                        // on-wire version call, it leaves these at 0.
                        onwire: [0, 0, 0],
                        links,
                    };
                    CfgResponse::NodeStatus { error: cs::OK, status }
                }
            },
            CfgRequest::RingStatus => {
                // As corosync with knet: per link "<link number> <this node's address>", and
                // one character per configured node in node id order: 'n' for this node,
                // else '0' + (enabled | connected << 1 | dynconnected << 2).
                let mine = self.node_addrs(me).unwrap_or_default();
                let mut ids: Vec<u32> = (self.cmap.map.prefix("nodelist.node."))
                    .filter(|(k, _)| k.ends_with(".nodeid"))
                    .filter_map(|(_, v)| match v {
                        CmapValue::U32(id) => Some(*id),
                        _ => None,
                    })
                    .collect();
                ids.sort_unstable();
                let st = self.link_status();
                let links = (st.links.iter().enumerate())
                    .map(|(i, c)| {
                        let name = format!("{} {}", c.link.get(), mine.get(i).map_or("", String::as_str));
                        let status = (ids.iter())
                            .map(|&id| {
                                let peer = st.peers.iter().find(|p| p.node.get() == id);
                                let link = peer.and_then(|p| p.links.iter().find(|l| l.link == c.link));
                                match link {
                                    _ if id == me => 'n',
                                    Some(l) if l.connected => '3',
                                    _ => '1',
                                }
                            })
                            .collect();
                        (name, status)
                    })
                    .collect();
                CfgResponse::RingStatus { error: cs::OK, links }
            }
            CfgRequest::TrackStart { .. } => {
                self.cfg.trackers.insert(conn);
                // A shutdown is being decided: the new tracker is asked too.
                let flags = self.cfg.pending.as_ref().filter(|p| p.asker != conn).map(|p| p.flags);
                if let Some(flags) = flags {
                    if let Some(p) = self.cfg.pending.as_mut() {
                        p.replies.insert(conn, None);
                    }
                    self.cfg_test_shutdown(conn, flags);
                }
                CfgResponse::Result { error: cs::OK }
            }
            CfgRequest::TrackStop => {
                self.cfg_tracker_gone(now, conn);
                CfgResponse::Result { error: cs::OK }
            }
            CfgRequest::TryShutdown { flags } => return self.cfg_try_shutdown(now, conn, flags),
            CfgRequest::ReplyToShutdown { yes } => {
                let error = match self.cfg.pending.as_mut() {
                    None => cs::ERR_ACCESS,
                    Some(p) => {
                        p.replies.insert(conn, Some(yes != 0));
                        cs::OK
                    }
                };
                self.cfg_reply(conn, CfgResponse::Result { error });
                self.cfg_check(now);
                return;
            }
            CfgRequest::KillNode { nodeid, reason } => {
                let status = self.cmap.map.get(&format!("runtime.members.{nodeid}.status"));
                let error = if status == Some(&CmapValue::String("joined".into())) {
                    let mut payload = vec![SERVICE_CFG, MSG_KILL];
                    payload.extend_from_slice(&nodeid.to_be_bytes());
                    payload.extend_from_slice(reason.as_bytes());
                    match self.totem.submit(payload) {
                        Ok(()) => cs::OK,
                        Err(_) => cs::ERR_TRY_AGAIN,
                    }
                } else {
                    cs::ERR_NOT_EXIST
                };
                CfgResponse::Result { error }
            }
            CfgRequest::ReloadConfig => match self.totem.submit(vec![SERVICE_CFG, MSG_RELOAD]) {
                // Answered when delivered (`cfg_delivered`) and reloaded (`reload_answer`).
                Ok(()) => return self.cfg.reloads.push_back(conn),
                Err(_) => CfgResponse::Result { error: cs::ERR_TRY_AGAIN },
            },
            // quorumd logs to stderr / the journal: no log file to reopen.
            CfgRequest::ReopenLogFiles => CfgResponse::Result { error: cs::OK },
        };
        self.cfg_reply(conn, response);
    }

    fn cfg_test_shutdown(&mut self, conn: ConnId, flags: u32) {
        if let Ok(frame) = (CfgTestShutdown { flags }).encode() {
            self.client_out.push_back((conn, ClientOutput::Send(frame)));
        }
    }

    fn cfg_try_shutdown(&mut self, now: Instant, conn: ConnId, flags: u32) {
        if flags == IMMEDIATE {
            self.cfg_reply(conn, CfgResponse::Result { error: cs::OK });
            self.cfg_shut_down(now, "try_shutdown(IMMEDIATE)");
            return;
        }
        if self.cfg.pending.is_some() {
            self.cfg_reply(conn, CfgResponse::Result { error: cs::ERR_EXIST });
            return;
        }
        let others: Vec<ConnId> = self.cfg.trackers.iter().copied().filter(|c| *c != conn).collect();
        if others.is_empty() {
            self.cfg_reply(conn, CfgResponse::Result { error: cs::OK });
            self.cfg_shut_down(now, "try_shutdown with no tracker to ask");
            return;
        }
        let deadline = now + self.shutdown_timeout();
        let replies = others.iter().map(|c| (*c, None)).collect();
        self.cfg.pending = Some(Pending { asker: conn, flags, replies, deadline });
        for c in others {
            self.cfg_test_shutdown(c, flags);
        }
    }

    /// Decides the pending shutdown once every tracker answered.
    fn cfg_check(&mut self, now: Instant) {
        let Some(p) = &self.cfg.pending else { return };
        if p.replies.values().any(Option::is_none) {
            return;
        }
        let all_yes = p.replies.values().all(|r| *r == Some(true));
        self.cfg_decide(now, all_yes || p.flags == REGARDLESS);
    }

    fn cfg_decide(&mut self, now: Instant, go: bool) {
        let Some(p) = self.cfg.pending.take() else { return };
        if go {
            self.cfg_reply(p.asker, CfgResponse::Result { error: cs::OK });
            self.cfg_shut_down(now, "try_shutdown agreed by every tracker");
        } else {
            self.cfg_reply(p.asker, CfgResponse::Result { error: ERR_BUSY });
            self.notice("shutdown refused by a tracker (or it did not answer in time)".into());
        }
    }

    /// The `cfg.shutdown_timeout` passed: missing answers count as NO.
    pub(crate) fn cfg_timeout(&mut self, now: Instant) {
        let Some(p) = &self.cfg.pending else { return };
        if p.deadline > now {
            return;
        }
        let regardless = p.flags == REGARDLESS;
        self.cfg_decide(now, regardless);
    }

    /// A tracker stopped tracking or disconnected: during a shutdown it counts as YES; the
    /// asker going away cancels the shutdown.
    pub(crate) fn cfg_tracker_gone(&mut self, now: Instant, conn: ConnId) {
        self.cfg.trackers.remove(&conn);
        if self.cfg.pending.as_ref().is_some_and(|p| p.asker == conn) {
            self.cfg.pending = None;
            return;
        }
        if let Some(p) = self.cfg.pending.as_mut() {
            if let Some(r) = p.replies.get_mut(&conn) {
                *r = Some(true);
            }
        }
        self.cfg_check(now);
    }

    fn cfg_shut_down(&mut self, now: Instant, why: &str) {
        self.notice(format!("shutting down: {why}"));
        self.leave(now);
    }

    /// The result of this node's reload for the cfg session that asked.
    pub(crate) fn cfg_reload_answer(&mut self, conn: ConnId, error: u32) {
        self.cfg_reply(conn, CfgResponse::Result { error });
    }

    /// A cfg message delivered in agreed order (kill_node, reload_config).
    pub(crate) fn cfg_delivered(&mut self, now: Instant, d: &Delivery) {
        let p = &d.payload;
        if p.get(1) == Some(&MSG_RELOAD) {
            self.notice(format!("Config reload requested by node {}", d.origin));
            let conn = if d.origin == self.my_id { self.cfg.reloads.pop_front() } else { None };
            // The asker may have gone meanwhile; `reload_answer` then tells no one.
            return self.reload_starting(conn);
        }
        if p.len() < 6 || p[1] != MSG_KILL {
            return;
        }
        let nodeid = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
        if nodeid != self.my_id.get() {
            return;
        }
        let reason = String::from_utf8_lossy(&p[6..]).into_owned();
        self.notice(format!("killed by node {} (cfg kill_node): {reason}", d.origin));
        self.leave(now);
    }
}
