//! Exit codes and the errors that carry them, and connecting to the daemon with messages that
//! say which of "not running", "not ready yet" and "permission denied" it is (USER-NEEDS F).
//!
//! Invariant: every failure that reaches `main` either is a [`Failure`] (with its exit code) or
//! is treated as [`Exit::Error`]; nothing else decides the process status.

use std::fmt;
use std::path::Path;

use quorumd_client::{CsError, Model, QuorumClient};

/// The process exit status, for scripts (documented in `--help` and the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success; for `status` and `explain`: this node is quorate.
    Quorate = 0,
    /// `status` / `explain`: this node is not quorate (activity blocked).
    Inquorate = 1,
    /// The daemon cannot be reached: not running, socket missing, not ready yet, or gone.
    Unreachable = 2,
    /// The daemon refused this user.
    Denied = 3,
    /// Usage or any other error (including a request the daemon rejected).
    Error = 4,
}

impl Exit {
    /// The number handed to the OS.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error with the exit status it deserves.
#[derive(Debug)]
pub struct Failure {
    /// The status to exit with.
    pub exit: Exit,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A [`Failure`] as an `anyhow::Error`.
pub fn failure(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure { exit, message: message.into() })
}

/// The exit status an error deserves.
pub fn exit_of(e: &anyhow::Error) -> Exit {
    e.downcast_ref::<Failure>().map_or(Exit::Error, |f| f.exit)
}

/// Connects to the daemon at `socket`, turning each refusal into its own message and code.
pub fn connect(socket: &Path, model: Model) -> anyhow::Result<QuorumClient> {
    if !socket.exists() {
        return Err(failure(
            Exit::Unreachable,
            format!(
                "quorumd is not running: there is no socket at {} (start quorumd, or point --socket \
                 or QUORUMD_SOCKET at its socket)",
                socket.display()
            ),
        ));
    }
    QuorumClient::connect_with(socket, model).map_err(|e| connect_error(socket, e))
}

fn connect_error(socket: &Path, e: CsError) -> anyhow::Error {
    match e {
        CsError::Library => failure(
            Exit::Unreachable,
            format!("quorumd is not running: nothing accepts connections on {}", socket.display()),
        ),
        CsError::TryAgain => failure(
            Exit::Unreachable,
            "quorumd is running but not ready yet (no membership): it has not completed its first \
             membership; try again in a few seconds",
        ),
        CsError::Access => denied(),
        other => failure(Exit::Error, format!("cannot connect to quorumd: {other}")),
    }
}

fn denied() -> anyhow::Error {
    let (uid, gid) = effective_ids();
    failure(
        Exit::Denied,
        format!(
            "permission denied (add a uidgid entry for uid {uid}): quorumd refuses uid {uid} gid {gid}; \
             add `uidgid {{ uid: {uid} }}` (or `gid: {gid}`) to corosync.conf and restart quorumd, \
             or run as root"
        ),
    )
}

/// The effective uid and gid, from `/proc/self/status` ("?" when unreadable).
fn effective_ids() -> (String, String) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .map_or_else(|| "?".to_string(), str::to_string)
    };
    (field("Uid:"), field("Gid:"))
}

/// Maps an error of a request made on an open connection.
pub fn request_error(what: &str, e: CsError) -> anyhow::Error {
    match e {
        CsError::Library => failure(Exit::Unreachable, format!("{what}: quorumd went away")),
        CsError::TryAgain => {
            failure(Exit::Unreachable, format!("{what}: quorumd is not ready yet (no membership)"))
        }
        CsError::Access => denied(),
        other => failure(Exit::Error, format!("{what}: quorumd answered {other}")),
    }
}
