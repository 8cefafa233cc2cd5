//! The one error type of this crate. Every variant says what happened to state: a refused
//! configuration built nothing, a dropped message or a refused request changed nothing.

use quorumd_proto::{NodeId, RingId};

/// Everything that can go wrong in votequorum.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `quorum` key is not one this implementation knows (corosync ignores unknown keys).
    #[error("quorum configuration refused, nothing was started: unknown key 'quorum.{0}'")]
    UnknownKey(String),
    /// A `quorum` key has a value of the wrong type or out of range.
    #[error("quorum configuration refused, nothing was started: quorum.{key} = '{value}': {why}")]
    BadValue {
        /// The key, without the `quorum.` prefix.
        key: String,
        /// The value as given.
        value: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// A combination of keys that is refused (corosync-behaviour §3.1 "Startup errors" and, as a deviation,
    /// the combinations corosync silently downgrades).
    #[error("quorum configuration refused, nothing was started: {0}")]
    Refused(&'static str),
    /// A quorum device is configured; quorumd has none.
    #[error("quorum configuration refused, nothing was started: quorum.device (qdevice) is not supported")]
    QdeviceNotSupported,

    /// A votequorum payload is shorter or longer than its type requires.
    #[error("votequorum message dropped, state unchanged: {what} has {len} bytes, expected {expected}")]
    BadLength {
        /// Which message.
        what: &'static str,
        /// Bytes present.
        len: usize,
        /// Bytes required.
        expected: usize,
    },
    /// An empty payload or an unknown leading message-type byte.
    #[error("votequorum message dropped, state unchanged: unknown message type {0:?}")]
    UnknownMessageType(Option<u8>),
    /// A RECONFIGURE with an unknown parameter.
    #[error("votequorum message dropped, state unchanged: unknown reconfigure param {0}")]
    UnknownParam(u8),
    /// A node id outside `1..=65535` in a message (the qdevice pseudo-node 0 included).
    #[error("votequorum message dropped, state unchanged: bad node id {0}")]
    BadNodeId(u32),
    /// A field out of its range (unknown flag bits, too many votes, a non-zero CANCEL_WFA value).
    #[error("votequorum message dropped, state unchanged: {what} = {value} is out of range")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u32,
    },
    /// A NODEINFO whose node id is not its sender's (only the qdevice may be spoken for).
    #[error("nodeinfo dropped, state unchanged: sent by node {from} but describes node {claimed}")]
    SenderMismatch {
        /// The Totem sender.
        from: NodeId,
        /// The node id in the message.
        claimed: NodeId,
    },
    /// A message from a node outside the current membership.
    #[error("votequorum message dropped, state unchanged: node {0} is not a member of the current ring")]
    NotAMember(NodeId),
    /// A NODEINFO stated for another ring than the current one: queued at the sync of a ring
    /// that re-formed before delivering it (see [`crate::NodeInfo::ring_id`]).
    #[error(
        "nodeinfo dropped, state unchanged: node {from} stated it for ring {stated_for}, the current ring is {current}"
    )]
    StaleNodeInfo {
        /// The sender.
        from: NodeId,
        /// The ring it names.
        stated_for: RingId,
        /// Our current ring.
        current: RingId,
    },
    /// The node table is full of live nodes and a new node would not fit.
    #[error("nodeinfo dropped, state unchanged: the node table is full, no room for node {0}")]
    TableFull(NodeId),

    /// A client request (setexpected, setvotes) that corosync refuses with CS_ERR_INVALID_PARAM.
    #[error("request refused, nothing sent: {0}")]
    InvalidParam(&'static str),
    /// setvotes for a node votequorum has never heard of (CS_ERR_NAME_NOT_FOUND).
    #[error("request refused, nothing sent: node {0} is not known")]
    NameNotFound(u32),
}

/// The `cs_error_t` values this crate's errors map to (corosync-behaviour §1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CsError {
    /// `CS_ERR_INVALID_PARAM`
    InvalidParam = 7,
    /// `CS_ERR_NAME_NOT_FOUND`
    NameNotFound = 17,
    /// `CS_ERR_NO_RESOURCES`
    NoResources = 18,
    /// `CS_ERR_NOT_SUPPORTED`
    NotSupported = 19,
    /// `CS_ERR_MESSAGE_ERROR`
    MessageError = 22,
}

impl CsError {
    /// The raw `cs_error_t`.
    pub const fn raw(self) -> u32 {
        self as u32
    }
}

impl Error {
    /// The `cs_error_t` a client would see for this error (exhaustive on purpose).
    pub fn cs_error(&self) -> CsError {
        match self {
            Error::UnknownKey(_) | Error::BadValue { .. } | Error::Refused(_) | Error::InvalidParam(_) => {
                CsError::InvalidParam
            }
            Error::QdeviceNotSupported => CsError::NotSupported,
            Error::BadLength { .. }
            | Error::UnknownMessageType(_)
            | Error::UnknownParam(_)
            | Error::BadNodeId(_)
            | Error::OutOfRange { .. }
            | Error::SenderMismatch { .. }
            | Error::NotAMember(_)
            | Error::StaleNodeInfo { .. } => CsError::MessageError,
            Error::TableFull(_) => CsError::NoResources,
            Error::NameNotFound(_) => CsError::NameNotFound,
        }
    }
}
