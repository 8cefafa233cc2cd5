//! The idiomatic client (`QuorumClient`), the tokio stream and the quorumtool helpers against
//! a fake daemon.
#![allow(clippy::disallowed_methods)]

mod fake;

use std::os::fd::AsFd;

use fake::{Behaviour, FakeDaemon};
use quorumd_client::{
    ConnectError, CsError, DispatchFlags, Model, QuorumClient, QuorumEvent, QuorumType, RingId, TrackFlags,
};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

fn ring(nodeid: u32, seq: u64) -> RingId {
    RingId { nodeid, seq }
}

fn readable(client: &QuorumClient) -> bool {
    let mut fds = [PollFd::new(client, PollFlags::IN)];
    poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })).unwrap();
    fds[0].revents().contains(PollFlags::IN)
}

#[test]
fn track_current_and_changes_then_events_in_order() {
    let fake = FakeDaemon::start(Behaviour::default());
    let client = QuorumClient::connect_with(&fake.path, Model::V1).unwrap();
    assert_eq!(client.quorum_type(), QuorumType::Set);
    assert!(client.has_state_page());
    assert_eq!(client.getquorate(), Ok(true));
    assert_eq!(client.try_next_event(), Ok(None));
    client.track(TrackFlags::CURRENT | TrackFlags::CHANGES).unwrap();
    assert_eq!(client.track(TrackFlags::CHANGES), Err(CsError::Exist));
    assert!(readable(&client));
    let snapshot = [
        QuorumEvent::Nodelist { ring_id: ring(1, 4), members: vec![1], joined: vec![], left: vec![] },
        QuorumEvent::Quorum { quorate: true, ring_id: ring(1, 4), members: vec![1] },
    ];
    assert_eq!(client.next_event().unwrap(), snapshot[0]);
    assert_eq!(client.next_event().unwrap(), snapshot[1]);
    // The second trackstart's snapshot (corosync-behaviour §7 quirk 2), through dispatch.
    let mut seen = Vec::new();
    assert_eq!(client.dispatch(DispatchFlags::All, |e| seen.push(e)), Ok(2));
    assert_eq!(seen, snapshot);
    assert_eq!(client.dispatch(DispatchFlags::OneNonblocking, |_| {}), Err(CsError::TryAgain));
    assert_eq!(client.dispatch(DispatchFlags::All, |_| {}), Ok(0));
    fake.change(false, ring(1, 8), &[1, 3], &[3], &[]);
    assert_eq!(
        client.next_event().unwrap(),
        QuorumEvent::Nodelist { ring_id: ring(1, 8), members: vec![1, 3], joined: vec![3], left: vec![] }
    );
    assert_eq!(client.dispatch(DispatchFlags::One, |e| seen.push(e)), Ok(1));
    assert_eq!(seen[2], QuorumEvent::Quorum { quorate: false, ring_id: ring(1, 8), members: vec![1, 3] });
    assert_eq!(client.getquorate(), Ok(false));
    client.untrack().unwrap();
    client.finalize();
}

#[test]
fn quorumtool_helpers() {
    let fake = FakeDaemon::start(Behaviour::default());
    let client = QuorumClient::connect_with(&fake.path, Model::V0).unwrap();
    assert_eq!(client.model(), Model::V0);
    assert_eq!(client.status().unwrap(), "{\"fake\":true}");
    assert_eq!(client.set_expected(3), Ok(()));
    assert_eq!(client.set_expected(0), Err(CsError::InvalidParam));
    assert_eq!(client.set_votes(2, 1), Ok(()));
    assert_eq!(client.cancel_wait_for_all(), Ok(()));
}

#[test]
fn connect_errors_and_daemon_gone() {
    let missing = std::env::temp_dir().join("quorumd-nowhere/quorumd.sock");
    let e = QuorumClient::connect_with(&missing, Model::V1).unwrap_err();
    assert_eq!(e, ConnectError::Other(CsError::Library));
    assert_eq!(e.code(), CsError::Library);
    let busy = FakeDaemon::start(Behaviour { init_error: 6, ..Behaviour::default() });
    assert_eq!(
        QuorumClient::connect_with(&busy.path, Model::V1).err(),
        Some(ConnectError::Other(CsError::TryAgain))
    );
    // The daemon refused our uid/gid: that variant, with the ids the daemon saw.
    let denied = FakeDaemon::start(Behaviour { init_error: 11, ..Behaviour::default() });
    let e = QuorumClient::connect_with(&denied.path, Model::V1).unwrap_err();
    let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
    assert_eq!(e, ConnectError::UidGidRefused { uid, gid });
    assert_eq!(e.code(), CsError::Access);
    assert_eq!(CsError::from(e.clone()), CsError::Access, "`?` into CsError keeps CS_ERR_ACCESS");
    assert!(e.to_string().contains(&format!("refused uid {uid} gid {gid}")), "{e}");

    let fake = FakeDaemon::start(Behaviour::default());
    let client = QuorumClient::connect_with(&fake.path, Model::V1).unwrap();
    fake.crash();
    assert_eq!(client.next_event(), Err(CsError::Library));
    assert_eq!(client.getquorate(), Err(CsError::Library));
    assert_eq!(client.status(), Err(CsError::Library));
    assert!(client.as_fd().try_clone_to_owned().is_ok());
}

#[test]
fn socket_path_defaults_and_env() {
    // Only this test touches the variable in this binary.
    std::env::remove_var("QUORUMD_SOCKET");
    assert_eq!(quorumd_client::socket_path(), std::path::Path::new(quorumd_client::DEFAULT_SOCKET));
    std::env::set_var("QUORUMD_SOCKET", "/tmp/x.sock");
    assert_eq!(quorumd_client::socket_path(), std::path::Path::new("/tmp/x.sock"));
    std::env::remove_var("QUORUMD_SOCKET");
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn tokio_stream_of_events() {
    use std::future::poll_fn;
    use std::pin::Pin;

    use futures_core::Stream;

    let fake = FakeDaemon::start(Behaviour::default());
    let client = QuorumClient::connect_with(&fake.path, Model::V1).unwrap();
    client.track(TrackFlags::CURRENT | TrackFlags::CHANGES).unwrap();
    let mut stream = client.into_stream().unwrap();
    assert!(matches!(
        poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await,
        Some(Ok(QuorumEvent::Nodelist { .. }))
    ));
    assert!(matches!(
        poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await,
        Some(Ok(QuorumEvent::Quorum { .. }))
    ));
    let ctl = fake.ctl_path();
    tokio::task::spawn_blocking(move || fake::control(&ctl, b'c')).await.unwrap();
    assert!(matches!(
        poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await,
        Some(Ok(QuorumEvent::Nodelist { .. }))
    ));
    assert!(matches!(
        poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await,
        Some(Ok(QuorumEvent::Quorum { .. }))
    ));
    fake.crash();
    assert_eq!(poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await, Some(Err(CsError::Library)));
    assert_eq!(poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await, None);
}
