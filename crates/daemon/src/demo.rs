//! `quorumd demo`: a real 3-node cluster of `quorumd` processes on 127.0.0.1–3 (temporary
//! configs, state dirs and sockets, removed afterwards), a client on node 1, and a walk through
//! a crash, a restart and a clean stop, printing each callback the client receives with the time
//! since the action that caused it. Ctrl-C stops the cluster and removes everything too.

use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use quorumd_proto::ipc::{self, cs, Frame, Notification, Request, Response, WireRingId};
use quorumd_proto::status::Status;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

struct Demo {
    dir: PathBuf,
    exe: PathBuf,
    nodes: [Option<Child>; 3],
}

impl Drop for Demo {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(port: u16) -> String {
    let nodes: String = (1..=3)
        .map(|n| format!("    node {{\n        nodeid: {n}\n        ring0_addr: 127.0.0.{n}\n        name: node{n}\n    }}\n"))
        .collect();
    format!(
        "totem {{\n    version: 2\n    cluster_name: demo\n    crypto_cipher: none\n    crypto_hash: none\n    \
         interface {{\n        linknumber: 0\n        mcastport: {port}\n    }}\n}}\n\
         nodelist {{\n{nodes}}}\nquorum {{\n    provider: corosync_votequorum\n}}\n"
    )
}

impl Demo {
    fn socket(&self, n: usize) -> PathBuf {
        self.dir.join(format!("node{n}.sock"))
    }

    fn start(&mut self, n: usize) -> Result<()> {
        let log = std::fs::File::create(self.dir.join(format!("node{n}.log")))?;
        let child = Command::new(&self.exe)
            .arg("--config")
            .arg(self.dir.join("corosync.conf"))
            .args(["--nodeid", &n.to_string(), "--socket"])
            .arg(self.socket(n))
            .arg("--state-dir")
            .arg(self.dir.join(format!("state{n}")))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("start quorumd")?;
        self.nodes[n - 1] = Some(child);
        Ok(())
    }

    fn signal(&mut self, n: usize, sig: &str) {
        if let Some(mut child) = self.nodes[n - 1].take() {
            let _ = Command::new("kill").args([sig, &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

/// A minimal V1 client speaking the IPC frames directly (the demo shows the wire, too): the
/// request stream it connected, and the event socket (`SOCK_SEQPACKET`, one frame per packet)
/// the daemon passes with the `Init` reply (docs/services.md).
struct Client {
    stream: UnixStream,
    events: OwnedFd,
    buf: Vec<u8>,
}

/// Reads what `sock` has into `buf`, keeping the descriptors passed with it (`SCM_RIGHTS`).
fn recv_with_fds(sock: &UnixStream, buf: &mut Vec<u8>, fds: &mut Vec<OwnedFd>) -> Result<()> {
    let mut chunk = [0u8; 4096];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [std::io::IoSliceMut::new(&mut chunk)];
    let got = rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)?;
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(passed) = msg {
            fds.extend(passed);
        }
    }
    if got.bytes == 0 {
        bail!("the daemon closed the connection");
    }
    buf.extend_from_slice(&chunk[..got.bytes]);
    Ok(())
}

impl Client {
    fn connect(path: &Path) -> Result<Client> {
        let mut stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(&ipc::encode(&Frame::Request(Request::Init { model: 1 })))?;
        let (mut buf, mut fds) = (Vec::new(), Vec::new());
        let len = loop {
            if let Some(n) = ipc::frame_len(&buf)? {
                break n;
            }
            recv_with_fds(&stream, &mut buf, &mut fds)?;
        };
        let frame: Vec<u8> = buf.drain(..len).collect();
        match ipc::decode(&frame)? {
            Frame::Response(Response::Init { error: cs::OK, .. }) => {}
            Frame::Response(Response::Init { error, .. }) => bail!("init refused: cs_error {error}"),
            other => bail!("unexpected reply {other:?}"),
        }
        // The first descriptor is the event socket (the second, the state page, is not used).
        let Some(events) = fds.into_iter().next() else { bail!("no event socket with the Init reply") };
        Ok(Client { stream, events, buf })
    }

    fn send(&mut self, r: Request) -> Result<()> {
        Ok(self.stream.write_all(&ipc::encode(&Frame::Request(r)))?)
    }

    /// The next frame: a response from the request stream or an event from the event socket.
    fn next(&mut self, wait: Duration) -> Result<Option<Frame>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(n) = ipc::frame_len(&self.buf)? {
                let frame: Vec<u8> = self.buf.drain(..n).collect();
                return Ok(Some(ipc::decode(&frame)?));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let left = left.min(Duration::from_millis(100));
            let timeout = Timespec { tv_sec: 0, tv_nsec: i64::from(left.subsec_nanos()) };
            let mut fds =
                [PollFd::new(&self.events, PollFlags::IN), PollFd::new(&self.stream, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            let (event_ready, stream_ready) = (fds[0].revents(), fds[1].revents());
            if event_ready.contains(PollFlags::IN) {
                let mut packet = vec![0u8; 64 * 1024 + 4];
                let (n, _) = rustix::net::recv(&self.events, &mut packet, RecvFlags::DONTWAIT)?;
                if n == 0 {
                    bail!("the daemon closed the event socket");
                }
                return Ok(Some(ipc::decode(&packet[..n])?));
            }
            if event_ready.intersects(PollFlags::HUP | PollFlags::ERR) {
                bail!("the daemon closed the event socket");
            }
            if !stream_ready.is_empty() {
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk) {
                    Ok(0) => bail!("the daemon closed the connection"),
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::TimedOut
                                | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

fn ring(r: &WireRingId) -> String {
    format!("{:x}.{:x}", r.nodeid, r.seq)
}

fn list(v: &[u32]) -> String {
    format!("[{}]", v.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
}

/// Prints callbacks until a quorum notification with exactly `want` members arrives.
fn watch(client: &mut Client, since: Instant, want: &[u32], stop: &AtomicBool) -> Result<()> {
    let deadline = since + Duration::from_secs(10);
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let Some(frame) = client.next(Duration::from_millis(200))? else { continue };
        let ms = since.elapsed().as_secs_f64() * 1000.0;
        match frame {
            Frame::Notification(Notification::Nodelist { ring_id, members, joined, left }) => {
                println!(
                    "  +{ms:7.1} ms  nodelist  ring {:<6} members {:<9} joined {} left {}",
                    ring(&ring_id),
                    list(&members),
                    list(&joined),
                    list(&left)
                );
            }
            Frame::Notification(Notification::Quorum { quorate, ring_id, members }) => {
                let q = if quorate == 1 { "quorate" } else { "NOT quorate" };
                println!(
                    "  +{ms:7.1} ms  quorum    ring {:<6} members {:<9} {q}",
                    ring(&ring_id),
                    list(&members)
                );
                if members == want {
                    return Ok(());
                }
            }
            _ => {}
        }
    }
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    bail!("no callback with members {} within 10 s", list(want))
}

fn step(title: &str) -> Instant {
    println!("\n{title}");
    Instant::now()
}

/// `quorumtool status` when it was built beside us, then node 1's status document: the very
/// JSON `quorumtool status --json` prints (one type, `quorumd_proto::status::Status`).
fn print_status(demo: &Demo, client: &mut Client) -> Result<()> {
    let tool = demo.exe.with_file_name("quorumtool");
    if tool.exists() {
        println!("\n$ quorumtool status   (on node 1)");
        let _ = Command::new(tool).arg("--socket").arg(demo.socket(1)).arg("status").status();
    }
    client.send(Request::Status)?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Some(Frame::Response(Response::Status { json, .. })) =
            client.next(Duration::from_millis(200))?
        {
            let doc = Status::from_json(&json).context("node 1's status document")?.printable(&json);
            println!("\nstatus of node 1 (what `quorumtool status --json` prints):\n{doc}");
            return Ok(());
        }
    }
    bail!("node 1 did not answer the status request within 2 s")
}

pub fn run() -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;
    let dir = std::env::temp_dir().join(format!("quorumd-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
    std::fs::write(dir.join("corosync.conf"), config(port))?;
    let mut demo = Demo { dir, exe: std::env::current_exe()?, nodes: [None, None, None] };
    println!("quorumd demo: 3 nodes on 127.0.0.1-3, UDP port {port}, files in {}", demo.dir.display());
    println!("(each line: time since the action, the callback a V1 client on node 1 received)");

    let t = step("1. start nodes 1, 2 and 3");
    for n in 1..=3 {
        demo.start(n)?;
    }
    let mut client = loop {
        match Client::connect(&demo.socket(1)) {
            Ok(c) => break c,
            Err(_) if t.elapsed() < Duration::from_secs(10) && !stop.load(Ordering::Relaxed) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(e.context("node 1 never accepted a client")),
        }
    };
    client.send(Request::TrackStart { flags: 0x01 | 0x02 })?;
    watch(&mut client, t, &[1, 2, 3], &stop)?;

    let t =
        step("2. kill -9 node 3 (a crash: noticed after the token timeout, 1000 ms, + consensus, 200 ms)");
    demo.signal(3, "-KILL");
    watch(&mut client, t, &[1, 2], &stop)?;

    let t = step("3. restart node 3");
    demo.start(3)?;
    watch(&mut client, t, &[1, 2, 3], &stop)?;

    let t = step("4. stop node 2 cleanly (SIGTERM: it says goodbye, the others re-form at once)");
    demo.signal(2, "-TERM");
    watch(&mut client, t, &[1, 3], &stop)?;

    let t = step("5. start node 2 again");
    demo.start(2)?;
    watch(&mut client, t, &[1, 2, 3], &stop)?;

    let t = step("6. kill -9 nodes 2 and 3 at once: node 1 alone has 1 of 3 votes and must stop acting");
    demo.signal(2, "-KILL");
    demo.signal(3, "-KILL");
    watch(&mut client, t, &[1], &stop)?;

    let t = step("7. start nodes 2 and 3 again: quorum is back");
    demo.start(2)?;
    demo.start(3)?;
    watch(&mut client, t, &[1, 2, 3], &stop)?;

    print_status(&demo, &mut client)?;
    for n in 1..=3 {
        demo.signal(n, "-TERM");
    }
    println!("\ndemo finished: all nodes stopped, {} removed", demo.dir.display());
    Ok(())
}
