//! The CPG service composed into the node: sessions from the shared session table, Totem
//! configuration changes and deliveries into `quorumd_cpg::Cpg`, its payloads out to Totem
//! (prefixed with [`SERVICE_CPG`]) and its frames out to the clients. See docs/cpg.md.

use quorumd_cpg::{Answer, Cpg};
use quorumd_proto::svc_cpg::{CpgRequest, CpgResponse};
use quorumd_proto::{MemberList, RingId};

use crate::services::SvcSession;
use crate::{ClientOutput, ConnId, Node};

/// The service id that prefixes CPG payloads on Totem (corosync's CPG service is 8).
pub const SERVICE_CPG: u8 = 8;

/// A new CPG service for node `my_id`.
pub(crate) fn new_cpg(my_id: u32) -> Cpg {
    Cpg::new(my_id, SERVICE_CPG)
}

fn ids(m: &MemberList) -> Vec<u32> {
    m.iter().map(|n| n.get()).collect()
}

impl Node {
    /// The first frame of a CPG session; `error` is what the shared access rule decided.
    pub(crate) fn cpg_init(&mut self, conn: ConnId, bytes: &[u8], error: u32) {
        let Ok(CpgRequest::Init { model, flags }) = CpgRequest::decode(bytes) else {
            self.client_error(conn, "malformed cpg init".into());
            return;
        };
        let error =
            if error == quorumd_proto::ipc::cs::OK { self.cpg.open(conn.0, model, flags) } else { error };
        self.cpg_reply(conn, CpgResponse::Init { error });
        if error == quorumd_proto::ipc::cs::OK {
            let session = SvcSession { service: quorumd_proto::svc::Service::Cpg, map: 0, vq_track: None };
            self.svc.insert(conn, session);
        } else {
            self.client_out.push_back((conn, ClientOutput::Close));
        }
    }

    /// A request of an open CPG session.
    pub(crate) fn cpg_request(&mut self, conn: ConnId, bytes: &[u8]) {
        let req = match CpgRequest::decode(bytes) {
            Ok(r) => r,
            Err(e) => return self.client_error(conn, format!("malformed cpg request: {e}")),
        };
        let finalize = matches!(req, CpgRequest::Finalize);
        match self.cpg.request(conn.0, req) {
            Answer::Respond(r) => self.cpg_reply(conn, r),
            Answer::Pending => {}
            Answer::Close(reason) => self.client_error(conn, reason),
        }
        if finalize {
            self.close(conn);
        }
        self.cpg_flush();
    }

    fn cpg_reply(&mut self, conn: ConnId, r: CpgResponse) {
        match r.encode() {
            Ok(frame) => self.client_out.push_back((conn, ClientOutput::Send(frame))),
            Err(e) => self.client_error(conn, format!("cpg reply: {e}")),
        }
    }

    /// The connection is gone (closed by the client or by us): PROCDOWN for its process.
    pub(crate) fn cpg_closed(&mut self, conn: ConnId) {
        if self.cpg.has_session(conn.0) {
            self.cpg.closed(conn.0);
            self.cpg_flush();
        }
    }

    pub(crate) fn cpg_transitional(&mut self, members: &MemberList) {
        self.cpg.transitional(&ids(members));
        self.cpg_flush();
    }

    pub(crate) fn cpg_regular(&mut self, ring: RingId, members: &MemberList) {
        self.cpg.regular(ring, &ids(members));
        self.cpg_flush();
    }

    pub(crate) fn cpg_delivered(&mut self, d: &crate::Delivery) {
        self.cpg.delivered(d.origin.get(), d.ring_id, &d.payload[1..]);
        self.cpg_flush();
    }

    /// Hands Totem what CPG has to send (within its share of the queue) and the clients
    /// their frames.
    pub(crate) fn cpg_flush(&mut self) {
        let mut queued = self.totem.queued();
        while let Some(payload) = self.cpg.poll_submit(queued) {
            // Cannot fail: CPG's payloads fit, and its share is far below the queue's bound.
            let submitted = self.totem.submit(payload);
            debug_assert!(submitted.is_ok());
            queued += 1;
        }
        while let Some((conn, frame)) = self.cpg.poll_output() {
            self.client_out.push_back((ConnId(conn), ClientOutput::Send(frame)));
        }
    }

    /// How many event bytes the slowest local CPG session that still reads is behind (the
    /// daemon measures its queues): past a bound every node holds its CPG senders back with
    /// `CS_ERR_TRY_AGAIN` until the reader catches up (see `quorumd_cpg::Cpg::set_reader_backlog`).
    pub fn cpg_reader_backlog(&mut self, bytes: usize) {
        self.cpg.set_reader_backlog(bytes);
        self.cpg_flush();
    }

    /// The CPG service (for status, the simulator and tests).
    pub fn cpg(&self) -> &Cpg {
        &self.cpg
    }
}
