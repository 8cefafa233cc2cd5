//! Exit codes and the errors that carry them, and connecting to the daemon with messages that
//! say which of "not running", "not ready yet" and "permission denied" it is (corosync-behaviour §8.F).
//! Permission denied comes in two kinds with different fixes, both exit 3: the socket file's
//! permissions refused the connection (fix the socket's mode or group), or quorumd refused the
//! uid/gid (add a uidgid entry).
//!
//! Invariant: every failure that reaches `main` either is a [`Failure`] (with its exit code) or
//! is treated as [`Exit::Error`]; nothing else decides the process status.

use std::fmt;
use std::path::Path;

use quorumd_client::{ConnectError, CsError, Model, QuorumClient};

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
    /// `what-if`: the failure leaves more than one partition quorate (split brain).
    SplitBrain = 5,
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
    // `Err` (a directory on the way we may not search) is not "no socket": connect tells.
    if let Ok(false) = socket.try_exists() {
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

fn connect_error(socket: &Path, e: ConnectError) -> anyhow::Error {
    match e {
        ConnectError::SocketPermission { path, errno } => socket_denied(&path, errno),
        ConnectError::UidGidRefused { uid, gid } => uidgid_denied(&uid.to_string(), &gid.to_string()),
        ConnectError::Other(CsError::Library) => failure(
            Exit::Unreachable,
            format!("quorumd is not running: nothing accepts connections on {}", socket.display()),
        ),
        ConnectError::Other(CsError::TryAgain) => failure(
            Exit::Unreachable,
            "quorumd is running but not ready yet (no membership): it has not completed its first \
             membership; try again in a few seconds",
        ),
        other => match other.code() {
            CsError::Access => denied(),
            code => failure(Exit::Error, format!("cannot connect to quorumd: {code}")),
        },
    }
}

/// The daemon refused the process's effective ids (a request answered `CS_ERR_ACCESS`).
fn denied() -> anyhow::Error {
    let (uid, gid) = effective_ids();
    uidgid_denied(&uid, &gid)
}

/// The daemon's uidgid rule refused `uid`/`gid` (corosync-behaviour §6.1): the fix is a uidgid entry.
fn uidgid_denied(uid: &str, gid: &str) -> anyhow::Error {
    failure(
        Exit::Denied,
        format!(
            "permission denied (add a uidgid entry for uid {uid}): quorumd refuses uid {uid} gid {gid}; \
             add `uidgid {{ uid: {uid} }}` (or `gid: {gid}`) to corosync.conf or to a file in the \
             uidgid.d/ directory beside it, and restart quorumd, or run as root"
        ),
    )
}

/// `connect(2)` on the socket failed with EACCES/EPERM: the file system (or a security module)
/// refused before the daemon saw anything, so a uidgid entry would not help.
fn socket_denied(path: &Path, errno: i32) -> anyhow::Error {
    let (uid, gid) = effective_ids();
    let os = std::io::Error::from_raw_os_error(errno);
    let shown = path.display();
    let what = match std::fs::metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::MetadataExt;
            format!(
                "the socket is mode {:04o}, owner uid {}, group gid {}: let this user write to it \
                 (quorumd creates it mode 0666 at each start; to limit access, `chgrp GROUP {shown}` \
                 and `chmod 0660 {shown}` with a group this user is in)",
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid()
            )
        }
        Err(_) => format!(
            "a directory above it cannot be searched by this user: give it search (x) permission \
             for this user, e.g. `chmod o+x` on the directories of {shown}"
        ),
    };
    let lsm =
        if errno == 1 { "; EPERM can also come from a security module (SELinux, AppArmor)" } else { "" };
    failure(
        Exit::Denied,
        format!(
            "permission denied on the socket {shown} ({os}): the file system refused the connection \
             before quorumd saw uid {uid} gid {gid}, so a uidgid entry will not help; {what}{lsm}; \
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;
    use std::path::{Path, PathBuf};

    use quorumd_proto::ipc::{self, cs, Frame, Response};

    use super::*;

    fn message(e: &anyhow::Error) -> String {
        e.downcast_ref::<Failure>().map(|f| f.message.clone()).unwrap_or_default()
    }

    /// A temp dir that anyone may search, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("quorumtool-fail-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn each_access_refusal_names_its_own_fix_and_both_exit_3() {
        let path = Path::new("/nonexistent/quorumd.sock");
        let sock = connect_error(path, ConnectError::SocketPermission { path: path.into(), errno: 13 });
        assert_eq!(exit_of(&sock), Exit::Denied);
        let m = message(&sock);
        assert!(
            m.starts_with("permission denied on the socket /nonexistent/quorumd.sock (Permission denied"),
            "{m}"
        );
        assert!(m.contains("a uidgid entry will not help"), "{m}");
        assert!(m.contains("search (x) permission"), "the socket cannot be looked at here: {m}");

        let uidgid = connect_error(path, ConnectError::UidGidRefused { uid: 1000, gid: 100 });
        assert_eq!(exit_of(&uidgid), Exit::Denied);
        let m = message(&uidgid);
        assert!(
            m.starts_with(
                "permission denied (add a uidgid entry for uid 1000): quorumd refuses uid 1000 gid 100"
            ),
            "{m}"
        );
        assert!(m.contains("`uidgid { uid: 1000 }` (or `gid: 100`)") && m.contains("uidgid.d/"), "{m}");
        assert!(!m.contains("socket"), "{m}");

        let eperm =
            message(&connect_error(path, ConnectError::SocketPermission { path: path.into(), errno: 1 }));
        assert!(eperm.contains("(Operation not permitted") && eperm.contains("security module"), "{eperm}");
        assert_eq!(exit_of(&connect_error(path, ConnectError::Other(CsError::Library))), Exit::Unreachable);
        assert_eq!(exit_of(&connect_error(path, ConnectError::Other(CsError::Access))), Exit::Denied);
        assert_eq!(exit_of(&connect_error(path, ConnectError::Other(CsError::NoMemory))), Exit::Error);
    }

    /// A daemon stand-in that answers one `Init` with `CS_ERR_ACCESS`, as quorumd does for a
    /// uid/gid no uidgid entry allows: the real client turns it into the uidgid message.
    #[test]
    fn a_uidgid_refusal_from_the_daemon_says_add_a_uidgid_entry() {
        let dir = Scratch::new("uidgid");
        let path = dir.0.join("q.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let daemon = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap();
            assert!(matches!(ipc::decode(&buf[..n]), Ok(Frame::Request(_))));
            let reply = Frame::Response(Response::Init { error: cs::ERR_ACCESS, quorum_type: 1 });
            s.write_all(&ipc::encode(&reply)).unwrap();
        });
        let e = connect(&path, Model::V1).unwrap_err();
        daemon.join().unwrap();
        let (uid, gid) = effective_ids();
        assert_eq!(exit_of(&e), Exit::Denied);
        let m = message(&e);
        assert!(
            m.starts_with(&format!(
                "permission denied (add a uidgid entry for uid {uid}): quorumd refuses uid {uid} gid {gid}"
            )),
            "{m}"
        );
    }

    /// What `connect` says for `path`, as the child below prints it.
    fn report(path: &Path) -> String {
        match connect(path, Model::V1) {
            Ok(_) => "CHILD CONNECTED\n".into(),
            Err(e) => format!("CHILD EXIT {} {}\n", exit_of(&e).code(), message(&e)),
        }
    }

    /// A socket whose mode refuses connect(2), and one in a directory this user cannot search:
    /// exit 3 with the socket message (not the uidgid one, not "not running"). Root is not
    /// refused by file modes, so as root this runs the checks as uid/gid 65534 (`setpriv`).
    #[test]
    fn a_socket_the_file_system_refuses_says_fix_the_socket_permissions() {
        let dir = Scratch::new("sockperm");
        let open = dir.0.join("q.sock");
        let _a = UnixListener::bind(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o000)).unwrap();
        let closed_dir = dir.0.join("private");
        std::fs::create_dir(&closed_dir).unwrap();
        let hidden = closed_dir.join("q.sock");
        let _b = UnixListener::bind(&hidden).unwrap();
        std::fs::set_permissions(&closed_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let root = effective_ids().0 == "0";
        let out = if root {
            let setpriv = Path::new("/usr/bin/setpriv");
            if !setpriv.exists() {
                println!("SKIPPED: root without /usr/bin/setpriv cannot test refused socket permissions");
                return;
            }
            let out = std::process::Command::new(setpriv)
                .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
                .arg(std::env::current_exe().unwrap())
                .args(["--exact", "fail::tests::socket_permission_child", "--nocapture", "--include-ignored"])
                .env("QUORUMTOOL_SOCKPERM_CHILD", format!("{}\n{}", open.display(), hidden.display()))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
        } else {
            report(&open) + &report(&hidden)
        };
        let (uid, gid) = if root { ("65534".to_string(), "65534".to_string()) } else { effective_ids() };
        let mode = format!(
            "CHILD EXIT 3 permission denied on the socket {} (Permission denied (os error 13)): the file \
             system refused the connection before quorumd saw uid {uid} gid {gid}, so a uidgid entry will \
             not help; the socket is mode 0000, owner uid ",
            open.display()
        );
        assert!(out.contains(&mode), "want {mode:?} in:\n{out}");
        let dir_line = format!(
            "CHILD EXIT 3 permission denied on the socket {} (Permission denied (os error 13))",
            hidden.display()
        );
        assert!(out.contains(&dir_line), "want {dir_line:?} in:\n{out}");
        assert!(out.contains("a directory above it cannot be searched by this user"), "{out}");
        assert!(!out.contains("add a uidgid entry") && !out.contains("not running"), "{out}");
    }

    #[test]
    #[ignore = "run by a_socket_the_file_system_refuses_says_fix_the_socket_permissions as uid 65534"]
    fn socket_permission_child() {
        let Some(paths) = std::env::var_os("QUORUMTOOL_SOCKPERM_CHILD") else { return };
        for p in paths.to_string_lossy().lines() {
            print!("{}", report(Path::new(p)));
        }
    }
}
