//! TEMPORARY API SKELETON (being implemented).
use crate::*;
use quorumd_proto::{Instant, MemberList, NodeId, RingId};

/// One node's Totem protocol instance.
#[derive(Debug)]
pub struct Totem {
    my_id: NodeId,
    members: MemberList,
}

#[allow(missing_docs, unused_variables, clippy::todo)]
impl Totem {
    pub fn new(params: TotemParams, now: Instant) -> Totem { todo!() }
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) -> Result<(), Dropped> { todo!() }
    pub fn handle_timeout(&mut self, now: Instant) { todo!() }
    pub fn submit(&mut self, payload: Vec<u8>) -> Result<(), SubmitError> { todo!() }
    pub fn leave(&mut self, now: Instant) { todo!() }
    pub fn poll_transmit(&mut self) -> Option<Transmit> { todo!() }
    pub fn poll_event(&mut self) -> Option<Event> { todo!() }
    pub fn poll_timeout(&self) -> Option<Instant> { todo!() }
    pub fn my_id(&self) -> NodeId { self.my_id }
    pub fn ring_id(&self) -> RingId { todo!() }
    pub fn members(&self) -> &MemberList { &self.members }
    pub fn state(&self) -> State { todo!() }
    pub fn stats(&self) -> &Stats { todo!() }
}
