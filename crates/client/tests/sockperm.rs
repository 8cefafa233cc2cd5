//! A socket whose file mode refuses `connect(2)`, as the idiomatic and the classic client see
//! it. As root the check runs in a child as uid/gid 65534 through `setpriv`; without it the
//! test is reported ignored with the reason (tests/support/prereq.rs).
#![allow(clippy::disallowed_methods)]

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

use quorumd_client::classic::{self, ModelCallbacks};
use quorumd_client::{ConnectError, Model, QuorumClient};

fn main() {
    prereq::run(vec![
        prereq::needs(
            "a_socket_whose_mode_denies_connect_is_socket_permission",
            setpriv_when_root,
            a_socket_whose_mode_denies_connect_is_socket_permission,
        ),
        prereq::child("socket_permission_child", socket_permission_child),
    ]);
}

/// Root is not refused by file modes: as root the check needs a child as another user.
fn setpriv_when_root() -> Option<String> {
    prereq::missing(&[(
        !prereq::is_root() || std::path::Path::new("/usr/bin/setpriv").exists(),
        "/usr/bin/setpriv (util-linux) to run the check as uid 65534 when run as root",
    )])
}

/// A socket whose file mode refuses `connect(2)`: `SocketPermission` with the path, not
/// `UidGidRefused`, in the idiomatic API; still `CS_ERR_ACCESS` in the C-semantics layer. Root
/// is not refused by file modes, so as root the checks run in a child as uid/gid 65534
/// (`setpriv`, util-linux); reported ignored when neither works.
fn a_socket_whose_mode_denies_connect_is_socket_permission() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("quorumd-sockperm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("q.sock");
    // Anything that reached the listener would hang waiting for an Init reply; nothing may.
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let lines = if rustix::process::geteuid().is_root() {
        let setpriv = std::path::Path::new("/usr/bin/setpriv");
        let out = std::process::Command::new(setpriv)
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "socket_permission_child",
                "--nocapture",
                "--include-ignored",
                "--test-threads=1",
            ])
            .env("QUORUMD_SOCKPERM_CHILD_SOCKET", &path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    } else {
        socket_permission_report(&path)
    };
    let _ = std::fs::remove_dir_all(&dir);
    let want = format!("IDIOMATIC {:?}\n", ConnectError::SocketPermission { path: path.clone(), errno: 13 });
    assert!(lines.contains(&want), "want {want:?} in:\n{lines}");
    assert!(lines.contains("CLASSIC Err(Access)\n"), "{lines}");
    assert!(
        lines.contains(&format!(
            "DISPLAY CS_ERR_ACCESS: connecting to {} was refused by the file system",
            path.display()
        )),
        "{lines}"
    );
}

/// What the connect calls say for the socket at `path`, one line each.
fn socket_permission_report(path: &std::path::Path) -> String {
    let e = QuorumClient::connect_with(path, Model::V1).err();
    let (_, classic) = classic::model_initialize_at(path, ModelCallbacks::V0 { quorum: None }, 0);
    let display = e.as_ref().map(ToString::to_string).unwrap_or_default();
    let idiomatic = e.map_or_else(|| "CONNECTED".to_string(), |e| format!("{e:?}"));
    format!("IDIOMATIC {idiomatic}\nCLASSIC {classic:?}\nDISPLAY {display}\n")
}

/// Run by `a_socket_whose_mode_denies_connect_is_socket_permission` as uid 65534 (an ignored
/// trial otherwise).
fn socket_permission_child() {
    let Some(path) = std::env::var_os("QUORUMD_SOCKPERM_CHILD_SOCKET") else { return };
    print!("{}", socket_permission_report(std::path::Path::new(&path)));
}
