//! A configuration reload at run time (SIGHUP, `quorumtool reload`), as corosync's
//! `corosync-cfgtool -R`: nodelist additions and removals, votes, expected votes, node names
//! and the IPC access policy change without a restart. The new parameters come from
//! [`NodeParams::from_config`](crate::NodeParams::from_config) of the new file, so a file with
//! any error was refused before it got here.
//!
//! All or nothing: every check runs before anything changes. Refused: a different node id
//! or Totem timing (the shell refuses a different cluster name), adding or removing the quorum provider or changing its policy
//! switches (those need a restart), and removing a node that is a member of the current ring
//! (it must be stopped first).

use std::collections::BTreeSet;

use quorumd_proto::ipc::{cs, Response};
use quorumd_proto::svc::Service;
use quorumd_proto::svc_cmap::CmapValue;
use quorumd_proto::{Instant, MemberList};

use crate::sessions::Session;
use crate::{ConnId, Node, NodeEvent, NodeParams};

/// What a reload changed, in words, for the log and the client that asked.
pub type Changes = Vec<String>;

fn ids(list: &MemberList) -> String {
    list.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
}

impl Node {
    /// `Request::Reload`: root only (it rereads a file root configured); the shell does it.
    pub(crate) fn reload_requested(&mut self, conn: ConnId, session: &Session) {
        if session.uid != 0 {
            let text = "only root may reload the configuration".to_string();
            self.reply(conn, Response::Reloaded { error: cs::ERR_ACCESS, text });
            return;
        }
        self.reload_starting(Some(conn));
    }

    /// A reload is due (asked by `conn`, by another node's cfg `reload_config`, or by the
    /// shell on SIGHUP with `None`): corosync's `config.reload_in_progress` goes to 1 until
    /// [`Node::reload_answer`].
    pub fn reload_starting(&mut self, conn: Option<ConnId>) {
        let m = &mut self.cmap.map;
        let _ = m.delete("config.reload_error_message");
        let _ = m.set("config.totemconfig_reload_in_progress", CmapValue::U8(1));
        let _ = m.set("config.reload_in_progress", CmapValue::U8(1));
        self.flush_cmap();
        self.events.push_back(NodeEvent::ReloadRequested { conn });
    }

    /// Answers a [`NodeEvent::ReloadRequested`]: `Ok(what changed)` or `Err(why nothing did)`.
    /// As corosync, the outcome is left in cmap (`config.reload_status`, the `cs_error_t`;
    /// `config.reload_error_message` when refused, which `corosync-cfgtool -R` prints), and the
    /// client that asked gets it: a cfg session `reload_config`'s result (`CS_ERR_INVALID_PARAM`
    /// for a refused file, as corosync), a quorum session the text too.
    pub fn reload_answer(&mut self, conn: Option<ConnId>, result: Result<String, String>) {
        let (error, text) = match result {
            Ok(text) => (cs::OK, text),
            Err(text) => (cs::ERR_INVALID_PARAM, text),
        };
        let m = &mut self.cmap.map;
        if error != cs::OK {
            let _ = m.set("config.reload_error_message", CmapValue::String(text.clone()));
        }
        let _ = m.set("config.reload_status", CmapValue::I32(i32::try_from(error).unwrap_or(i32::MAX)));
        let _ = m.set("config.totemconfig_reload_in_progress", CmapValue::U8(0));
        let _ = m.set("config.reload_in_progress", CmapValue::U8(0));
        self.flush_cmap();
        let Some(conn) = conn else { return };
        match self.svc.get(&conn).map(|s| s.service) {
            Some(Service::Cfg) => self.cfg_reload_answer(conn, error),
            // The asker went away meanwhile: nobody to tell.
            Some(_) => {}
            None if self.sessions.table.contains_key(&conn) => {
                self.reply(conn, Response::Reloaded { error, text });
            }
            None => {}
        }
    }

    /// The configured nodes.
    pub fn nodelist(&self) -> &MemberList {
        self.totem.nodelist()
    }

    /// Applies a reloaded configuration's parameters at `now`; on an error nothing changed.
    /// `params.start_seq` and `params.persisted_expected_votes` are ignored (the running node
    /// keeps its own).
    pub fn reload(&mut self, now: Instant, params: NodeParams) -> Result<Changes, String> {
        if params.my_id != self.my_id {
            return Err(format!(
                "this node's id would change from {} to {}: restart instead",
                self.my_id, params.my_id
            ));
        }
        if &params.totem != self.totem.config() {
            return Err("the totem timing cannot change at run time: restart the cluster instead".into());
        }
        if params.quorum.is_some() != self.vq.is_some() {
            return Err("the quorum provider cannot be added or removed at run time: restart instead".into());
        }
        let old_nodes = self.totem.nodelist().clone();
        let mut changes = Changes::new();
        let added = params.nodelist.minus(&old_nodes);
        let removed = old_nodes.minus(&params.nodelist);
        // Policy switches first (no change yet), then the nodelist (refused while a removed
        // node is a member), then what cannot fail.
        if let (Some(vq), Some(new)) = (&self.vq, &params.quorum) {
            let mut probe = vq.clone();
            probe.reconfigure(new.clone()).map_err(|e| e.to_string())?;
        }
        if params.nodelist != old_nodes {
            self.totem.set_nodelist(params.nodelist.clone())?;
            if let Some(c) = self.crypto.as_mut() {
                c.set_nodelist(params.nodelist.clone());
            }
        }
        if !added.is_empty() {
            changes.push(format!("nodes added: {}", ids(&added)));
        }
        if !removed.is_empty() {
            changes.push(format!("nodes removed: {}", ids(&removed)));
        }
        if let (Some(vq), Some(new)) = (&mut self.vq, params.quorum) {
            let (votes, expected) = (vq.settings().my_votes, vq.expected_votes());
            let reconfigured = vq.reconfigure(new);
            debug_assert!(reconfigured.is_ok(), "checked on a copy above");
            if vq.settings().my_votes != votes {
                changes.push(format!("this node's votes: {votes} -> {}", vq.settings().my_votes));
            }
            if vq.expected_votes() != expected {
                changes.push(format!("expected votes: {expected} -> {}", vq.expected_votes()));
            }
        }
        if params.access != self.access {
            changes.push(format!(
                "IPC access: {} users and {} groups besides root",
                params.access.uids.len(),
                params.access.gids.len()
            ));
            self.access = params.access;
        }
        let renamed = params.names.iter().any(|(id, name)| self.names.get(id).is_some_and(|old| old != name));
        if renamed {
            changes.push("node names".into());
        }
        self.names = params.names;
        self.cmap_reloaded(params.cmap);
        self.drain_vq(now);
        self.pump(now);
        Ok(changes)
    }
}

/// The cmap sections a reload rewrites from the new file (corosync's `remove_deleted_entries`
/// prefixes, and `resources.`): keys under them not in the new file are deleted, the others
/// set. Keys elsewhere (`system.*`, applied only at start; `runtime.*`; what clients wrote
/// under their own names) keep their values.
const RELOADED_SECTIONS: [&str; 6] =
    ["logging.", "totem.", "nodelist.", "quorum.", "uidgid.config.", "resources."];

impl Node {
    /// After an accepted reload: the configuration keys become what a fresh start with the
    /// new file shows (`config_keys` and the resolved `uidgid` entries), and every tracker of
    /// a key that was added, changed or deleted is notified, as corosync's reload does.
    fn cmap_reloaded(&mut self, config_keys: Vec<(String, CmapValue)>) {
        let in_section = |k: &str| RELOADED_SECTIONS.iter().any(|p| k.starts_with(p));
        let mut want: Vec<(String, CmapValue)> = config_keys
            .into_iter()
            .filter(|(k, _)| in_section(k) && !k.starts_with("uidgid.config."))
            .collect();
        want.extend(self.access.uids.iter().map(|u| (format!("uidgid.config.uid.{u}"), CmapValue::U8(1))));
        want.extend(self.access.gids.iter().map(|g| (format!("uidgid.config.gid.{g}"), CmapValue::U8(1))));
        let pos = crate::services::local_node_pos(want.iter().map(|(k, v)| (k, v)), self.my_id.get());
        if let Some(pos) = pos {
            want.push(("nodelist.local_node_pos".into(), CmapValue::U32(pos)));
            let derived = crate::services::bindnetaddrs(want.iter().map(|(k, v)| (k, v)), pos);
            want.extend(derived);
        }
        let keep: BTreeSet<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
        let m = &mut self.cmap.map;
        let gone: Vec<String> = RELOADED_SECTIONS
            .iter()
            .flat_map(|p| m.prefix(p).map(|(k, _)| k.clone()).collect::<Vec<_>>())
            .filter(|k| !keep.contains(k.as_str()))
            .collect();
        for k in gone {
            let _ = m.delete(&k);
        }
        for (k, v) in want {
            // A key the map refuses (a name corosync could not have) is left out, as at boot.
            let _ = m.set(&k, v);
        }
        self.cmap_runtime_quorum();
        self.flush_cmap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::access_policy;
    use quorumd_proto::NodeId;

    fn config(nodes: u32, extra_node: &str) -> quorumd_config::Config {
        let mut text = String::from("totem {\n version: 2\n cluster_name: r\n}\nnodelist {\n");
        for n in 1..=nodes {
            text.push_str(&format!(" node {{\n  nodeid: {n}\n  ring0_addr: 10.0.0.{n}\n{extra_node} }}\n"));
        }
        text.push_str("}\nquorum {\n provider: corosync_votequorum\n}\n");
        quorumd_config::parse_str(&text, "c").unwrap()
    }

    fn params(c: &quorumd_config::Config) -> NodeParams {
        let access = access_policy(c, |_, _| Ok(None)).unwrap();
        NodeParams::from_config(c, NodeId::new(1).unwrap(), access).unwrap()
    }

    #[test]
    fn a_lone_node_takes_a_new_nodelist_and_its_expected_votes() {
        let mut node = Node::new(params(&config(1, "")), Instant::from_micros(0));
        let mut now = Instant::from_micros(0);
        for _ in 0..200 {
            now = node.poll_timeout().unwrap_or(now);
            node.handle_timeout(now);
            while node.poll_event().is_some() {}
            while node.poll_transmit().is_some() {}
        }
        let changes = node.reload(now, params(&config(2, ""))).unwrap();
        assert_eq!(changes, ["nodes added: 2", "expected votes: 1 -> 2"]);
        assert_eq!(node.nodelist().len(), 2);
        // Back to one node: node 2 never joined, so it may go.
        let changes = node.reload(now, params(&config(1, ""))).unwrap();
        assert_eq!(changes, ["nodes removed: 2", "expected votes: 2 -> 1"]);
        // uidgid entries change who may connect.
        let mut more = params(&config(1, ""));
        more.access.uids.insert(1000);
        let changes = node.reload(now, more).unwrap();
        assert_eq!(changes, ["IPC access: 1 users and 0 groups besides root"]);
        // A timing change is refused and changes nothing.
        let mut slow = params(&config(2, ""));
        slow.totem.token = quorumd_proto::Duration::from_millis(5000);
        let e = node.reload(now, slow).unwrap_err();
        assert!(e.contains("totem timing"), "{e}");
        assert_eq!(node.nodelist().len(), 1);
    }

    /// A node that ran its startup rounds alone.
    fn settled(p: NodeParams) -> (Node, Instant) {
        let mut node = Node::new(p, Instant::from_micros(0));
        let mut now = Instant::from_micros(0);
        for _ in 0..200 {
            now = node.poll_timeout().unwrap_or(now);
            node.handle_timeout(now);
            while node.poll_event().is_some() {}
            while node.poll_transmit().is_some() {}
        }
        (node, now)
    }

    fn with_keys(c: &quorumd_config::Config) -> NodeParams {
        let mut p = params(c);
        p.cmap = quorumd_cmap::config_keys(c);
        p
    }

    /// The configuration sections of the default map.
    fn config_section(node: &Node) -> Vec<(String, CmapValue)> {
        RELOADED_SECTIONS
            .iter()
            .flat_map(|p| node.cmap.map.prefix(p).map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn a_reload_rewrites_the_config_keys_as_a_fresh_start_and_notifies_trackers() {
        use quorumd_proto::svc_cmap::{track, CmapNotify};
        let two = config(2, "  quorum_votes: 1\n");
        let (mut node, now) = settled(with_keys(&two));
        let tracker = ConnId(77);
        let flags = track::ADD | track::MODIFY | track::DELETE | track::PREFIX;
        node.cmap.map.track_add(tracker.0, "nodelist.", flags).unwrap();
        node.cmap.map.track_add(tracker.0, "uidgid.config.", flags).unwrap();
        node.cmap.map.track_add(tracker.0, "quorum.", flags).unwrap();
        // A key a client wrote under quorum. goes, as in corosync (not in the file).
        node.cmap.map.set("quorum.scratch", CmapValue::U8(1)).unwrap();
        while node.poll_client().is_some() {}

        // Three nodes, node 2 with 2 votes, a uidgid entry, expected votes: every key a
        // fresh start with this file would show, and nothing of the old file's.
        let text = "totem {\n version: 2\n cluster_name: r\n}\nnodelist {\n node {\n  nodeid: 1\n  ring0_addr: 10.0.0.1\n }\n node {\n  nodeid: 3\n  ring0_addr: 10.0.0.3\n  quorum_votes: 2\n }\n}\nquorum {\n provider: corosync_votequorum\n expected_votes: 3\n}\nuidgid {\n uid: 1000\n}\n";
        let three = quorumd_config::parse_str(text, "c").unwrap();
        let mut p = with_keys(&three);
        p.access.uids.insert(1000);
        let fresh = {
            let mut q = with_keys(&three);
            q.access.uids.insert(1000);
            settled(q).0
        };
        node.reload(now, p).unwrap();
        assert_eq!(config_section(&node), config_section(&fresh));
        assert_eq!(node.cmap.map.get("nodelist.node.1.nodeid"), Some(&CmapValue::U32(3)));
        assert_eq!(node.cmap.map.get("nodelist.node.1.quorum_votes"), Some(&CmapValue::U32(2)));
        assert_eq!(node.cmap.map.get("quorum.expected_votes"), Some(&CmapValue::U32(3)));
        assert_eq!(node.cmap.map.get("uidgid.config.uid.1000"), Some(&CmapValue::U8(1)));
        assert_eq!(node.cmap.map.get("quorum.scratch"), None);
        assert_eq!(node.cmap.map.get("nodelist.node.0.quorum_votes"), None);

        let mut seen = Vec::new();
        while let Some((conn, out)) = node.poll_client() {
            if let (true, crate::ClientOutput::Send(bytes)) = (conn == tracker, out) {
                let n = CmapNotify::decode(&bytes).unwrap();
                seen.push((n.event, n.key));
            }
        }
        for want in [
            (track::MODIFY, "nodelist.node.1.nodeid"),
            (track::MODIFY, "nodelist.node.1.ring0_addr"),
            (track::DELETE, "nodelist.node.0.quorum_votes"),
            (track::ADD, "quorum.expected_votes"),
            (track::DELETE, "quorum.scratch"),
            (track::ADD, "uidgid.config.uid.1000"),
        ] {
            assert!(seen.iter().any(|(e, k)| (*e, k.as_str()) == want), "{want:?} not in {seen:?}");
        }
        // Unchanged keys are not notified.
        assert!(!seen.iter().any(|(_, k)| k == "nodelist.node.0.nodeid"), "{seen:?}");

        // A refused reload changes no key.
        let before = config_section(&node);
        let mut slow = with_keys(&config(1, ""));
        slow.totem.token = quorumd_proto::Duration::from_millis(5000);
        node.reload(now, slow).unwrap_err();
        assert_eq!(config_section(&node), before);
    }

    #[test]
    fn a_cfg_reload_is_multicast_and_answered_to_the_cfg_session_that_asked() {
        use crate::{ClientInput, ClientOutput};
        use quorumd_proto::svc_cfg::{CfgRequest, CfgResponse};
        let (mut node, mut now) = settled(with_keys(&config(1, "")));
        let conn = ConnId(5);
        node.handle_client(now, conn, ClientInput::Connected { uid: 0, gid: 0, pid: 9 });
        for req in [CfgRequest::Init, CfgRequest::ReloadConfig] {
            node.handle_client(now, conn, ClientInput::Frame(req.encode().unwrap()));
        }
        let mut asked = None;
        let mut answers = Vec::new();
        for _ in 0..200 {
            while let Some(e) = node.poll_event() {
                if let NodeEvent::ReloadRequested { conn } = e {
                    asked = Some(conn);
                    assert_eq!(node.cmap.map.get("config.reload_in_progress"), Some(&CmapValue::U8(1)));
                    node.reload_answer(conn, Err("line 3: no".into()));
                }
            }
            while let Some((c, out)) = node.poll_client() {
                if let (true, ClientOutput::Send(bytes)) = (c == conn, out) {
                    answers.push(CfgResponse::decode(&bytes).unwrap());
                }
            }
            while node.poll_transmit().is_some() {}
            now = node.poll_timeout().unwrap_or(now);
            node.handle_timeout(now);
        }
        assert_eq!(asked, Some(Some(conn)), "delivered in agreed order, then reloaded");
        assert_eq!(
            answers,
            [CfgResponse::Init { error: cs::OK }, CfgResponse::Result { error: cs::ERR_INVALID_PARAM }]
        );
        let m = &node.cmap.map;
        assert_eq!(m.get("config.reload_in_progress"), Some(&CmapValue::U8(0)));
        assert_eq!(m.get("config.reload_status"), Some(&CmapValue::I32(7)));
        assert_eq!(m.get("config.reload_error_message"), Some(&CmapValue::String("line 3: no".into())));
    }

    #[test]
    fn only_root_may_ask_for_a_reload() {
        use crate::{ClientInput, ClientOutput, ConnId};
        use quorumd_proto::ipc::{self, Frame, Request};
        let mut p = params(&config(1, ""));
        p.access.uids.insert(1000);
        let mut node = Node::new(p, Instant::from_micros(0));
        let mut now = Instant::from_micros(0);
        for _ in 0..200 {
            now = node.poll_timeout().unwrap_or(now);
            node.handle_timeout(now);
            while node.poll_event().is_some() {}
            while node.poll_transmit().is_some() {}
        }
        let mut ask = |conn: u64, uid: u32| {
            let conn = ConnId(conn);
            node.handle_client(now, conn, ClientInput::Connected { uid, gid: 1000, pid: 7 });
            for req in [Request::Init { model: 1 }, Request::Reload] {
                node.handle_client(now, conn, ClientInput::Frame(ipc::encode(&Frame::Request(req))));
            }
            let mut answers = Vec::new();
            while let Some((_, out)) = node.poll_client() {
                if let ClientOutput::Send(bytes) = out {
                    answers.push(ipc::decode(&bytes).unwrap());
                }
            }
            let asked = std::iter::from_fn(|| node.poll_event())
                .any(|e| matches!(e, NodeEvent::ReloadRequested { .. }));
            (answers, asked)
        };
        let (answers, asked) = ask(1, 1000);
        assert!(!asked);
        assert!(
            answers
                .iter()
                .any(|f| matches!(f, Frame::Response(Response::Reloaded { error: cs::ERR_ACCESS, .. }))),
            "{answers:?}"
        );
        let (_, asked) = ask(2, 0);
        assert!(asked, "root's request reaches the shell");
    }
}
