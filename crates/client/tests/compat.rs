//! `compat::quorum` used the way `rust-corosync`'s quorum test program uses its crate: only
//! the `use` line differs.
#![allow(clippy::disallowed_methods)]

mod fake;

use std::sync::Mutex;

use corosync::{quorum, NodeId};
use fake::{Behaviour, FakeDaemon};
use quorumd_client::compat as corosync;

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn quorum_fn(_handle: &quorum::Handle, quorate: bool, ring_id: quorum::RingId, member_list: Vec<NodeId>) {
    SEEN.lock().unwrap().push(format!("quorum {quorate} {}/{} {member_list:?}", ring_id.nodeid, ring_id.seq));
}

fn nodelist_fn(
    _handle: &quorum::Handle,
    ring_id: quorum::RingId,
    member_list: Vec<NodeId>,
    joined_list: Vec<NodeId>,
    left_list: Vec<NodeId>,
) {
    SEEN.lock().unwrap().push(format!(
        "nodelist {}/{} {member_list:?} {joined_list:?} {left_list:?}",
        ring_id.nodeid, ring_id.seq
    ));
}

#[test]
fn rust_corosync_quorum_test_ports_by_one_use_line() {
    let fake = FakeDaemon::start(Behaviour::default());
    // The only environment change in this binary.
    std::env::set_var("QUORUMD_SOCKET", &fake.path);

    assert_eq!(
        quorum::initialize(&quorum::ModelData::ModelNone, 0).err(),
        Some(corosync::CsError::CsErrInvalidParam)
    );
    let md = quorum::ModelData::ModelV1(quorum::Model1Data {
        flags: quorum::Model1Flags::None,
        quorum_notification_fn: Some(quorum_fn),
        nodelist_notification_fn: Some(nodelist_fn),
    });
    let (handle, t) = quorum::initialize(&md, 99_u64).unwrap();
    assert_eq!(t as u32, 1);
    assert_eq!(quorum::context_get(&handle), Ok(99));
    quorum::context_set(&handle, 0xabcdbeefcafe).unwrap();
    assert_eq!(quorum::context_get(&handle), Ok(0xabcdbeefcafe));
    assert!(quorum::fd_get(&handle).unwrap() >= 0);
    assert_eq!(quorum::getquorate(&handle), Ok(true));
    quorum::trackstart(&handle, corosync::TrackFlags::Changes).unwrap();
    assert_eq!(
        quorum::trackstart(&handle, corosync::TrackFlags::Changes),
        Err(corosync::CsError::CsErrExist)
    );
    quorum::dispatch(&handle, corosync::DispatchFlags::OneNonblocking).unwrap();
    quorum::dispatch(&handle, corosync::DispatchFlags::All).unwrap();
    assert_eq!(
        quorum::dispatch(&handle, corosync::DispatchFlags::OneNonblocking),
        Err(corosync::CsError::CsErrTryAgain)
    );
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen[0], "nodelist 1/4 [NodeId { id: 1 }] [] []");
    assert_eq!(seen[1], "quorum true 1/4 [NodeId { id: 1 }]");
    assert_eq!(seen.len(), 4);
    quorum::trackstop(&handle).unwrap();
    assert_eq!(corosync::CsError::CsErrTryAgain.to_string(), "ErrTryAgain");
    assert_eq!(corosync::CsError::CsErrLibrary.to_string(), "ErrLibrary");
    assert_eq!(corosync::CsError::CsOk.to_string(), "OK");

    // A clone does not finalize on drop; the original does.
    let copy = handle.clone();
    drop(copy);
    assert_eq!(quorum::getquorate(&handle), Ok(true));
    let raw_fd_handle = handle.clone();
    drop(handle);
    assert_eq!(quorum::getquorate(&raw_fd_handle), Err(corosync::CsError::CsErrBadHandle));
    assert_eq!(quorum::finalize(&raw_fd_handle), Err(corosync::CsError::CsErrBadHandle));
}
