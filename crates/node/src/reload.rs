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

use quorumd_proto::ipc::{cs, Response};
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
        self.events.push_back(NodeEvent::ReloadRequested { conn });
    }

    /// Answers a [`NodeEvent::ReloadRequested`]: `Ok(what changed)` or `Err(why nothing did)`.
    pub fn reload_answer(&mut self, conn: ConnId, result: Result<String, String>) {
        let (error, text) = match result {
            Ok(text) => (cs::OK, text),
            Err(text) => (cs::ERR_INVALID_PARAM, text),
        };
        self.reply(conn, Response::Reloaded { error, text });
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
        self.drain_vq(now);
        self.pump(now);
        Ok(changes)
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
