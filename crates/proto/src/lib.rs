//! The vocabulary every quorumd crate shares: node and ring identities, the integer clock,
//! bounded member lists, the limits, and the cluster wire codec.
//!
//! Invariants kept here:
//! - a [`NodeId`] is always in `1..=65535` (knet's range; corosync refuses the rest);
//! - a [`MemberList`] is always sorted, free of duplicates and at most [`limits::NODES_MAX`] long;
//! - decoders never panic and never allocate more than the limits allow, whatever the bytes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ids;
pub mod ipc;
pub mod limits;
pub mod members;
pub mod shm;
pub mod status;
pub mod svc;
pub mod svc_cfg;
pub mod svc_cmap;
pub mod svc_cpg;
pub mod svc_votequorum;
pub mod time;
pub mod totem_keys;
pub mod wire;

pub use ids::{LinkId, NodeId, RingId};
pub use members::MemberList;
pub use time::{Duration, Instant};
