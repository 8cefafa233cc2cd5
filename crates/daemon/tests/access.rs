//! Access control with a real one-node `quorumd` on loopback: a client the daemon refuses
//! (uidgid) and one the socket's file mode refuses are told apart (corosync-behaviour §6.1).
//! Both run a client as uid/gid 65534 through `setpriv`, so they need root; without it they
//! are reported ignored with the reason (tests/support/prereq.rs).
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

#[path = "../../../tests/support/prereq.rs"]
mod prereq;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorumd_client::{Model, QuorumClient};

const BIN: &str = env!("CARGO_BIN_EXE_quorumd");

fn main() {
    prereq::run(vec![
        prereq::needs(
            "a_client_without_permission_gets_cs_err_access_and_is_logged",
            root_and_setpriv,
            a_client_without_permission_gets_cs_err_access_and_is_logged,
        ),
        prereq::needs(
            "a_refused_socket_mode_is_told_apart_from_a_uidgid_refusal",
            root_and_setpriv,
            a_refused_socket_mode_is_told_apart_from_a_uidgid_refusal,
        ),
        prereq::child("access_child", access_child),
    ]);
}

fn root_and_setpriv() -> Option<String> {
    prereq::missing(&[
        (prereq::is_root(), "root (to run a client as another user)"),
        (prereq::has_command("setpriv"), "setpriv (util-linux)"),
    ])
}

/// One node on 127.0.0.1, with its log; killed and removed when dropped.
struct Daemon {
    dir: PathBuf,
    socket: PathBuf,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    /// Starts it and waits until it serves clients.
    fn start(name: &str) -> Daemon {
        let dir = std::env::temp_dir().join(format!("quorumd-access-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "totem {{\n  version: 2\n  cluster_name: {name}\n  crypto_cipher: none\n  crypto_hash: none\n  \
             interface {{\n    linknumber: 0\n    mcastport: {port}\n  }}\n}}\n\
             nodelist {{\n  node {{\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n    name: n1\n  }}\n}}\n\
             quorum {{\n  provider: corosync_votequorum\n}}\n"
        );
        std::fs::write(dir.join("corosync.conf"), conf).unwrap();
        let socket = dir.join("n1.sock");
        let log = std::fs::File::create(dir.join("n1.log")).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(dir.join("corosync.conf"))
            .args(["--nodeid", "1", "--socket"])
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .env("QUORUMD_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Daemon { dir, socket, child };
        let start = Instant::now();
        while QuorumClient::connect_with(&d.socket, Model::V1).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "quorumd never served clients:\n{}", d.log());
            std::thread::sleep(Duration::from_millis(10));
        }
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("n1.log")).unwrap_or_default()
    }
}

fn a_client_without_permission_gets_cs_err_access_and_is_logged() {
    let c = Daemon::start("access");
    // Re-run this very test binary as nobody, in the child mode below.
    let out = connect_as_nobody(&c.socket);
    assert!(out.contains("CHILD SAW Access\n"), "child output:\n{out}");
    assert!(c.log().contains("Denied connection attempt from 65534:65534"), "{}", c.log());
}

/// Run as uid 65534 by the two tests above (an ignored trial on its own).
fn access_child() {
    let Some(sock) = std::env::var_os("QUORUMD_ACCESS_CHILD_SOCKET") else { return };
    match QuorumClient::connect_with(Path::new(&sock), Model::V1) {
        // The C API's number, then which of the two CS_ERR_ACCESS cases it was.
        Err(e) => println!("CHILD SAW {:?}\nCHILD DETAIL {e:?}", e.code()),
        Ok(_) => println!("CHILD CONNECTED"),
    }
}

/// Runs `access_child` as uid/gid 65534 against `sock`; its stdout.
fn connect_as_nobody(sock: &Path) -> String {
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "access_child", "--nocapture", "--include-ignored"])
        .env("QUORUMD_ACCESS_CHILD_SOCKET", sock)
        .output()
        .expect("setpriv (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The two refusals that are both CS_ERR_ACCESS are told apart by the idiomatic client: a
/// socket whose mode refuses connect(2) (the daemon never sees the attempt), and the daemon's
/// uidgid rule (it logs the uid:gid it refused).
fn a_refused_socket_mode_is_told_apart_from_a_uidgid_refusal() {
    use std::os::unix::fs::PermissionsExt;
    let c = Daemon::start("sockmode");
    let sock = c.socket.clone();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = connect_as_nobody(&sock);
    assert!(out.contains("CHILD SAW Access\n"), "{out}");
    let want = format!("CHILD DETAIL SocketPermission {{ path: {sock:?}, errno: 13 }}\n");
    assert!(out.contains(&want), "want {want:?} in:\n{out}");
    assert!(!c.log().contains("Denied connection attempt"), "the daemon saw nothing:\n{}", c.log());

    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = connect_as_nobody(&sock);
    assert!(out.contains("CHILD SAW Access\n"), "{out}");
    assert!(out.contains("CHILD DETAIL UidGidRefused { uid: 65534, gid: 65534 }\n"), "{out}");
    assert!(c.log().contains("Denied connection attempt from 65534:65534"), "{}", c.log());
}
