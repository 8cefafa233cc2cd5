//! The caller-facing contract of `Votequorum` (corosync-behaviour §2.2, §3.2, §3.6): what is dropped, what
//! is held back during a sync, how timers and actions behave.

use quorumd_proto::{MemberList, NodeId, RingId};
use quorumd_votequorum::{
    Action, Error, NodeFlags, NodeInfo, NodeState, ReconfigParam, Reconfigure, Votequorum, VqConfig,
    VqMessage,
};

fn n(raw: u32) -> NodeId {
    NodeId::new(raw).unwrap()
}

fn ids(raw: &[u32]) -> MemberList {
    MemberList::from_ids(raw.iter().map(|r| n(*r))).unwrap()
}

fn actions(vq: &mut Votequorum) -> Vec<Action> {
    std::iter::from_fn(|| vq.poll_action()).collect()
}

/// One sync of `members` as seen by `vq`, with the others' nodeinfos given (stated for this
/// ring).
fn sync(vq: &mut Votequorum, seq: u64, members: &[u32], others: &[NodeInfo]) {
    let list = ids(members);
    let ring_id = RingId::new(list.lowest().unwrap(), seq);
    vq.sync_start(ring_id, &list);
    let mine = vq.my_nodeinfo();
    let mut all: Vec<NodeInfo> = others.iter().map(|i| NodeInfo { ring_id, ..*i }).collect();
    all.push(mine);
    all.sort_by_key(|i| i.nodeid);
    for info in all {
        vq.message_received(info.nodeid, &VqMessage::NodeInfo(info).encode()).unwrap();
    }
}

fn peer(id: u32, expected: u32, flags: NodeFlags) -> NodeInfo {
    NodeInfo { nodeid: n(id), votes: 1, expected_votes: expected, flags, ring_id: RingId::ZERO }
}

#[test]
fn spec_3_2_bad_messages_are_dropped_without_changing_state() {
    let mut vq = Votequorum::new(n(1), &VqConfig::with_nodes(&ids(&[1, 2, 3])), None).unwrap();
    sync(&mut vq, 1, &[1, 2], &[peer(2, 3, NodeFlags::EMPTY)]);
    vq.activate();
    let before = vq.state();
    assert!(matches!(vq.message_received(n(2), &[9, 9]), Err(Error::UnknownMessageType(Some(9)))));
    let forged = VqMessage::NodeInfo(peer(3, 3, NodeFlags::QUORATE)).encode();
    assert_eq!(vq.message_received(n(2), &forged), Err(Error::SenderMismatch { from: n(2), claimed: n(3) }));
    assert_eq!(vq.message_received(n(3), &forged), Err(Error::NotAMember(n(3))));
    let r = Reconfigure { nodeid: n(3), value: 1, param: ReconfigParam::CancelWfa };
    assert_eq!(vq.reconfigure_received(n(3), &r), Err(Error::NotAMember(n(3))));
    assert_eq!(vq.state(), before);
    assert_eq!(Error::NotAMember(n(3)).cs_error().raw(), 22);
}

#[test]
fn spec_2_2_flips_during_a_sync_are_held_until_activation() {
    let mut vq = Votequorum::new(n(1), &VqConfig::with_nodes(&ids(&[1, 2, 3])), None).unwrap();
    assert!(actions(&mut vq).is_empty());
    sync(&mut vq, 1, &[1, 2], &[peer(2, 3, NodeFlags::EMPTY)]);
    assert!(actions(&mut vq).iter().all(|a| !matches!(a, Action::QuorateChanged { .. })));
    let activation = vq.activate();
    assert!(activation.notify && activation.state.quorate);
    assert!(actions(&mut vq).is_empty(), "the activation itself is the notification");
    // Outside a sync, a flip is an action (trigger 2).
    let r = vq.set_expected(5).unwrap_err();
    assert_eq!(r.cs_error().raw(), 7);
    vq.reconfigure_received(
        n(2),
        &Reconfigure { nodeid: n(2), value: 5, param: ReconfigParam::ExpectedVotes },
    )
    .unwrap();
    assert_eq!(
        actions(&mut vq),
        vec![Action::ExpectedVotesChanged(5), Action::QuorateChanged { quorate: false }]
    );
}

#[test]
fn spec_3_6_a_stale_lms_generation_does_nothing() {
    let mut cfg = VqConfig::with_nodes(&ids(&[1, 2, 3, 4, 5]));
    cfg.set_key("last_man_standing", "1").unwrap();
    cfg.set_key("last_man_standing_window", "3000").unwrap();
    let mut vq = Votequorum::new(n(1), &cfg, None).unwrap();
    let q = NodeFlags::QUORATE;
    let everyone: Vec<NodeInfo> = (2..=5).map(|i| peer(i, 5, NodeFlags::EMPTY)).collect();
    sync(&mut vq, 1, &[1, 2, 3, 4, 5], &everyone);
    vq.activate();
    actions(&mut vq);
    sync(&mut vq, 2, &[1, 2, 3, 4], &[peer(2, 5, q), peer(3, 5, q), peer(4, 5, q)]);
    let first = actions(&mut vq);
    assert_eq!(first, vec![Action::ArmLmsTimer { window_ms: 3000, generation: 1 }]);
    vq.activate();
    sync(&mut vq, 3, &[1, 2, 3], &[peer(2, 5, q), peer(3, 5, q)]);
    assert_eq!(actions(&mut vq), vec![Action::ArmLmsTimer { window_ms: 3000, generation: 2 }]);
    vq.activate();
    assert_eq!(vq.lms_timer_expired(1), None, "generation 1 was replaced");
    assert_eq!((vq.expected_votes(), vq.quorum()), (5, 3));
    let expiry = vq.lms_timer_expired(2).expect("a quorate node announces its expiry");
    assert_eq!((vq.expected_votes(), vq.quorum()), (5, 3), "nothing changes before it is ordered");
    vq.reconfigure_received(n(1), &expiry).unwrap();
    assert_eq!((vq.expected_votes(), vq.quorum()), (3, 2));
    assert_eq!(vq.lms_timer_expired(2), None);
    assert!(!vq.state().lms_window_running);
}

#[test]
fn spec_3_2_first_flag_clears_in_a_bigger_membership_and_dead_nodes_stay_listed() {
    let mut vq = Votequorum::new(n(1), &VqConfig::with_nodes(&ids(&[1, 2, 3])), None).unwrap();
    assert!(vq.my_nodeinfo().flags.contains(NodeFlags::FIRST));
    sync(&mut vq, 1, &[1], &[]);
    vq.activate();
    assert!(vq.my_nodeinfo().flags.contains(NodeFlags::FIRST));
    sync(&mut vq, 2, &[1, 2], &[peer(2, 3, NodeFlags::FIRST)]);
    assert!(!vq.my_nodeinfo().flags.contains(NodeFlags::FIRST));
    vq.activate();
    sync(&mut vq, 3, &[1], &[]);
    let state = vq.activate().state;
    let rows: Vec<(u32, NodeState)> = state.nodes.iter().map(|r| (r.nodeid.get(), r.state)).collect();
    assert_eq!(rows, vec![(1, NodeState::Member), (2, NodeState::Dead)]);
    // A dead node is still known (the trial quorum refuses it here: 1 vote of 3 is no quorum).
    assert!(matches!(vq.set_votes(2, 1), Err(Error::InvalidParam(_))));
    assert_eq!(vq.set_votes(3, 1), Err(Error::NameNotFound(3)));
}

#[test]
fn spec_3_6_actions_of_one_kind_coalesce_and_flip_backs_cancel() {
    let mut cfg = VqConfig::with_nodes(&ids(&[1, 2, 3]));
    cfg.set_key("wait_for_all", "1").unwrap();
    let mut vq = Votequorum::new(n(1), &cfg, None).unwrap();
    sync(&mut vq, 1, &[1, 2], &[peer(2, 3, NodeFlags::WFASTATUS)]);
    vq.activate();
    vq.reconfigure_received(n(1), &vq.cancel_wait_for_all()).unwrap();
    vq.reconfigure_received(
        n(2),
        &Reconfigure { nodeid: n(2), value: 5, param: ReconfigParam::ExpectedVotes },
    )
    .unwrap();
    // quorate went up, then down again: nothing to report; the expected votes event is kept.
    assert_eq!(actions(&mut vq), vec![Action::ExpectedVotesChanged(5)]);
    assert!(!vq.quorate());
}

#[test]
fn a_nodeinfo_stated_for_another_ring_is_dropped() {
    // Deviation from corosync (wire.rs, NodeInfo::ring_id): a nodeinfo queued at the sync of
    // an abandoned ring and delivered in the next one, even after its activation, changes
    // nothing; in particular its stale QUORATE does not clear wait_for_all (seed 6209).
    let mut cfg = VqConfig::with_nodes(&ids(&[1, 2, 3, 4, 5]));
    cfg.set_key("wait_for_all", "1").unwrap();
    let mut vq = Votequorum::new(n(1), &cfg, None).unwrap();
    let everyone: Vec<NodeInfo> = (2..=5).map(|i| peer(i, 5, NodeFlags::WFASTATUS)).collect();
    sync(&mut vq, 1, &[1, 2, 3, 4, 5], &everyone);
    assert!(vq.activate().state.quorate);
    // Node 2 stated QUORATE for ring 2, which re-formed before delivering it.
    let stale = NodeInfo { ring_id: RingId::new(n(1), 2), ..peer(2, 5, NodeFlags::QUORATE) };
    sync(&mut vq, 3, &[1, 2], &[peer(2, 5, NodeFlags::QUORATE)]);
    let state = vq.activate().state;
    assert!(!state.quorate && state.wait_for_all_status);
    let before = vq.state();
    let bytes = VqMessage::NodeInfo(stale).encode();
    assert_eq!(
        vq.message_received(n(2), &bytes),
        Err(Error::StaleNodeInfo {
            from: n(2),
            stated_for: RingId::new(n(1), 2),
            current: RingId::new(n(1), 3)
        })
    );
    assert_eq!(vq.state(), before, "still waiting for all");
    assert_eq!(vq.my_nodeinfo().ring_id, RingId::new(n(1), 3));
}

#[test]
fn an_abandoned_sync_does_not_clear_wait_for_all() {
    // Deviation from corosync (machine.rs, nodeinfo_received): node 1 restarted (waiting for
    // all) meets quorate node 3, but the ring re-forms before the sync completes. corosync's
    // node 1 would enter the next ring inquorate and no longer waiting, and be quorate there
    // with nodes that still wait (seed 7449).
    let mut cfg = VqConfig::with_nodes(&ids(&[1, 2, 3, 4, 5]));
    cfg.set_key("wait_for_all", "1").unwrap();
    let mut vq = Votequorum::new(n(1), &cfg, None).unwrap();
    let list = ids(&[1, 3, 4, 5]);
    let ring = RingId::new(n(1), 0x16);
    vq.sync_start(ring, &list);
    let q = NodeInfo { ring_id: ring, ..peer(3, 5, NodeFlags::QUORATE) };
    vq.message_received(n(3), &VqMessage::NodeInfo(q).encode()).unwrap();
    assert!(vq.state().wait_for_all_status, "settled at activation only");
    // Abandoned: ring [1 4 5], whose members wait for all too.
    let wfa = NodeFlags::WFASTATUS;
    sync(&mut vq, 0x1e, &[1, 4, 5], &[peer(4, 5, wfa), peer(5, 5, wfa)]);
    assert!(vq.my_nodeinfo().flags.contains(wfa));
    let state = vq.activate().state;
    assert!(!state.quorate && state.wait_for_all_status);
}

#[test]
fn a_sync_settles_expected_votes_alike_on_every_member() {
    // Deviation from corosync (machine.rs, resolve_sync_expected): nodes 1 and 3 (inquorate,
    // expected votes 5) meet node 2 (quorate after a last_man_standing window, expected 3).
    // corosync's node 3 records node 1's row with 5 before taking over 3 and computes quorum
    // 3; node 1 computes 2 (seed 7309). Here both take 3 and every row holds it.
    let mut cfg = VqConfig::with_nodes(&ids(&[1, 2, 3, 4, 5]));
    cfg.set_key("last_man_standing", "1").unwrap();
    let mut outcomes = Vec::new();
    for me in [1, 3] {
        let mut vq = Votequorum::new(n(me), &cfg, None).unwrap();
        let others: Vec<NodeInfo> = [1, 2, 3]
            .into_iter()
            .filter(|id| *id != me)
            .map(|id| if id == 2 { peer(2, 3, NodeFlags::QUORATE) } else { peer(id, 5, NodeFlags::EMPTY) })
            .collect();
        sync(&mut vq, 9, &[1, 2, 3], &others);
        let s = vq.activate().state;
        assert!(s.nodes.iter().all(|r| r.expected_votes == 3), "node {me}: {:?}", s.nodes);
        outcomes.push((s.quorate, s.quorum, s.expected_votes));
    }
    assert_eq!(outcomes, vec![(true, 2, 3), (true, 2, 3)]);
}

#[test]
fn a_reconfigure_delivered_during_a_sync_applies_at_its_activation() {
    // Deviation from corosync (machine.rs, reconfigure_received): a setexpected raced by a
    // membership change takes effect once, after the sync, on every member alike.
    let mut vq = Votequorum::new(n(1), &VqConfig::with_nodes(&ids(&[1, 2, 3])), None).unwrap();
    sync(&mut vq, 1, &[1, 2, 3], &[peer(2, 3, NodeFlags::EMPTY), peer(3, 3, NodeFlags::EMPTY)]);
    assert!(vq.activate().state.quorate);
    let r = vq.set_expected(5).unwrap();
    let list = ids(&[1, 2, 3]);
    let ring = RingId::new(n(1), 2);
    vq.sync_start(ring, &list);
    vq.reconfigure_received(n(1), &r).unwrap();
    assert_eq!(vq.expected_votes(), 3, "held during the sync");
    for id in [1, 2, 3] {
        let info = if id == 1 {
            vq.my_nodeinfo()
        } else {
            NodeInfo { ring_id: ring, ..peer(id, 3, NodeFlags::QUORATE) }
        };
        vq.message_received(n(id), &VqMessage::NodeInfo(info).encode()).unwrap();
    }
    let s = vq.activate().state;
    assert_eq!((s.quorate, s.quorum, s.expected_votes), (true, 3, 5));
    assert!(actions(&mut vq).contains(&Action::ExpectedVotesChanged(5)));
}
