//! The simulated clients: after a node's first sync (corosync-behaviour §2.4: not before), one V1 and one V0
//! connection (uid 0) that call `Init` and `TrackStart CURRENT|CHANGES`; every frame they
//! receive goes to the checkers. Requests the scenario runner makes (getquorate,
//! cancel_wait_for_all) go over the V1 connection and their answer is returned.
//!
//! Invariants: a node incarnation gets its clients exactly once; a restarted node gets new ones
//! (the old connections died with the daemon, corosync-behaviour §2.5).

use quorumd_node::{track, ClientInput, ClientOutput, ConnId, Model};
use quorumd_proto::ipc::{self, Frame, Request, Response};
use quorumd_proto::NodeId;

use super::{SimError, World};
use crate::check::Status;

/// The V1 connection of every node.
pub(super) const V1: ConnId = ConnId(1);
/// The V0 connection of every node.
pub(super) const V0: ConnId = ConnId(0);

/// One incarnation's clients.
#[derive(Debug, Default)]
pub(super) struct SimClients {
    /// The last response the V1 connection received.
    pub(super) last_response: Option<Response>,
    /// A connection the node closed.
    pub(super) closed: bool,
}

/// The model of a connection.
pub(super) fn model(conn: ConnId) -> Model {
    if conn == V1 {
        Model::V1
    } else {
        Model::V0
    }
}

impl World {
    /// Opens the two tracking connections of a node whose first sync just completed.
    pub(super) fn connect_clients(&mut self, id: NodeId) {
        let now = self.now;
        let Some(node) = self.slots.get_mut(&id).and_then(|s| s.node.as_mut()) else { return };
        for (conn, m) in [(V1, 1), (V0, 0)] {
            node.handle_client(
                now,
                conn,
                ClientInput::Connected { uid: 0, gid: 0, pid: 1000 + conn.0 as u32 },
            );
            let init = ipc::encode(&Frame::Request(Request::Init { model: m }));
            node.handle_client(now, conn, ClientInput::Frame(init));
            let flags = track::CURRENT | track::CHANGES;
            let start = ipc::encode(&Frame::Request(Request::TrackStart { flags }));
            node.handle_client(now, conn, ClientInput::Frame(start));
        }
        self.note(&format!("node {id}: V1 and V0 clients connected and tracking"));
        self.drain(id);
    }

    /// Hands a client output of node `id` to its client: decoded and shown to the checkers.
    pub(super) fn client_output(&mut self, id: NodeId, conn: ConnId, out: ClientOutput) {
        if conn.0 >= crate::cpg::CONN_BASE {
            return self.cpg_output(id, conn, out);
        }
        let now = self.now;
        let frame = match out {
            ClientOutput::Close => {
                if let Some(c) = self.slots.get_mut(&id).and_then(|s| s.clients.as_mut()) {
                    c.closed = true;
                }
                self.note(&format!("node {id} closed client {conn:?}"));
                return;
            }
            ClientOutput::Send(bytes) => match ipc::decode(&bytes) {
                Ok(f) => f,
                Err(e) => {
                    let v = crate::check::violation(
                        "client-notifications",
                        now,
                        format!("node {id} sent client {conn:?} an undecodable frame: {e}"),
                    );
                    self.record_violation(v);
                    return;
                }
            },
        };
        self.digest_line(&format!("{} {id} client {} {frame:?}\n", now.as_micros(), conn.0));
        if let Frame::Response(r) = &frame {
            if conn == V1 {
                if let Some(c) = self.slots.get_mut(&id).and_then(|s| s.clients.as_mut()) {
                    c.last_response = Some(r.clone());
                }
            }
        }
        let m = model(conn);
        self.feed(|c| c.on_client(now, id, m, &frame));
    }

    /// Hands `input` to a running node's connection `conn` and drains the node (the CPG
    /// clients' way in). Nothing happens on a node that is not running.
    pub(crate) fn client_input(&mut self, id: NodeId, conn: ConnId, input: ClientInput) {
        let now = self.now;
        if self.status(id) != Some(Status::Running) {
            return;
        }
        let Some(node) = self.slots.get_mut(&id).and_then(|s| s.node.as_mut()) else { return };
        node.handle_client(now, conn, input);
        self.drain(id);
    }

    /// Sends `request` on node `id`'s V1 client connection and returns the response.
    pub fn client_request(&mut self, id: NodeId, request: Request) -> Result<Response, SimError> {
        let status = self.status(id).ok_or(SimError::UnknownNode(id))?;
        if status != Status::Running {
            return Err(SimError::BadState { op: "ask a client of", node: id, status });
        }
        let now = self.now;
        let Some(slot) = self.slots.get_mut(&id) else { return Err(SimError::UnknownNode(id)) };
        let (Some(node), Some(clients)) = (slot.node.as_mut(), slot.clients.as_mut()) else {
            return Err(SimError::Client(format!(
                "node {id} has no client yet: its first membership sync has not completed"
            )));
        };
        if clients.closed {
            return Err(SimError::Client(format!("node {id} closed its client connection")));
        }
        clients.last_response = None;
        node.handle_client(now, V1, ClientInput::Frame(ipc::encode(&Frame::Request(request.clone()))));
        self.drain(id);
        self.slots
            .get_mut(&id)
            .and_then(|s| s.clients.as_mut())
            .and_then(|c| c.last_response.take())
            .ok_or_else(|| SimError::Client(format!("node {id} did not answer {request:?}")))
    }
}
