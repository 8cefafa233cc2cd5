//! Tests of sealing and opening: the wire layout, each refusal, and that refusals change
//! nothing (corosync-behaviour §5.3, corosync-behaviour §8.I).

use super::*;
use crate::REPLAY_WINDOW;
use proptest::prelude::*;

const CLUSTER: &str = "alpha";

fn authkey(fill: u8) -> Vec<u8> {
    (0..256u16).map(|i| (i as u8) ^ fill).collect()
}

fn ctx(node: u32, epoch: u64) -> CryptoContext {
    CryptoContext::new(&authkey(0), CLUSTER, node, epoch).unwrap()
}

/// A plaintext datagram with the wire codec's header layout.
fn datagram(sender: u32, body: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(HEADER_LEN + body.len());
    d.extend_from_slice(&0x5144u16.to_be_bytes());
    d.extend_from_slice(&[1, 1]);
    d.extend_from_slice(&0xC0FF_EE00u32.to_be_bytes());
    d.extend_from_slice(&sender.to_be_bytes());
    d.extend_from_slice(&sender.to_be_bytes());
    d.extend_from_slice(&42u64.to_be_bytes());
    d.extend_from_slice(&(body.len() as u32).to_be_bytes());
    d.extend_from_slice(body);
    d
}

#[test]
fn round_trip_restores_the_datagram() {
    let mut a = ctx(1, 100);
    let mut b = ctx(2, 200);
    for len in [0usize, 1, 15, 16, 17, 300, 8192] {
        let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let plain = datagram(1, &body);
        let sealed = a.seal(&plain).unwrap();
        assert_eq!(sealed.len(), plain.len() + SEAL_OVERHEAD);
        assert_eq!(b.open(&sealed).unwrap(), plain);
    }
    assert_eq!(b.peer_epoch(1), Some(100));
    assert_eq!(b.peer_epoch(3), None);
}

#[test]
fn sealed_layout_is_header_epoch_counter_key_id_ciphertext_tag() {
    let mut a = ctx(1, 0x0102_0304_0506_0708);
    let body = [0xAAu8; 40];
    let plain = datagram(1, &body);
    for counter in 0u64..3 {
        let s = a.seal(&plain).unwrap();
        assert_eq!(&s[..24], &plain[..24], "header other than payload_len is unchanged");
        assert_eq!(&s[24..28], &(40 + 36u32).to_be_bytes());
        assert_eq!(&s[28..36], &0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(&s[36..44], &counter.to_be_bytes());
        assert_eq!(&s[44..48], &a.key_id().to_be_bytes());
        assert_ne!(&s[48..88], &body[..], "body is encrypted");
        assert_eq!(s.len(), 88 + TAG_LEN);
    }
}

#[test]
fn same_plaintext_never_gives_the_same_ciphertext() {
    // Different counters, and different senders at the same epoch and counter.
    let mut a = ctx(1, 5);
    let mut b = ctx(2, 5);
    let pa = datagram(1, &[0u8; 32]);
    let s1 = a.seal(&pa).unwrap();
    let s2 = a.seal(&pa).unwrap();
    assert_ne!(s1[48..], s2[48..]);
    let sb = b.seal(&datagram(2, &[0u8; 32])).unwrap();
    assert_eq!(s1[28..44], sb[28..44], "same epoch and counter");
    assert_ne!(s1[48..], sb[48..]);
}

#[test]
fn keys_are_bound_to_authkey_and_cluster_name() {
    let k = authkey(0);
    let same = CryptoContext::new(&k, CLUSTER, 2, 1).unwrap();
    let other_key = CryptoContext::new(&authkey(1), CLUSTER, 2, 1).unwrap();
    let other_name = CryptoContext::new(&k, "beta", 2, 1).unwrap();
    assert_eq!(ctx(1, 1).key_id(), same.key_id());
    assert_ne!(same.key_id(), other_key.key_id());
    assert_ne!(same.key_id(), other_name.key_id());
}

/// corosync-behaviour §8.I: a key mismatch is reported as one, naming the peer.
#[test]
fn wrong_key_is_a_key_mismatch() {
    let mut a = ctx(1, 1);
    let sealed = a.seal(&datagram(1, b"hello")).unwrap();
    for mut other in [
        CryptoContext::new(&authkey(9), CLUSTER, 2, 1).unwrap(),
        CryptoContext::new(&authkey(0), "beta", 2, 1).unwrap(),
    ] {
        let err = other.open(&sealed).unwrap_err();
        assert!(matches!(err, CryptoError::KeyMismatch { sender: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("peer 1 failed authentication"), "{err}");
        assert_eq!(other.peer_epoch(1), None);
    }
}

#[test]
fn a_key_with_a_forged_key_id_still_fails_authentication() {
    let mut a = ctx(1, 1);
    let mut other = CryptoContext::new(&authkey(9), CLUSTER, 2, 1).unwrap();
    let mut sealed = a.seal(&datagram(1, b"hello")).unwrap();
    sealed[44..48].copy_from_slice(&other.key_id().to_be_bytes());
    assert_eq!(other.open(&sealed), Err(CryptoError::AuthFailed { sender: 1 }));
}

/// Every byte is covered: the header (as associated data), the envelope (associated data and
/// nonce), the ciphertext and the tag. A refusal leaves the window as it was.
#[test]
fn tampering_with_any_byte_is_refused_and_changes_nothing() {
    let mut a = ctx(3, 7);
    let mut b = ctx(2, 1);
    let plain = datagram(3, b"the quick brown fox");
    let sealed = a.seal(&plain).unwrap();
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 0x01;
        let err = b.open(&t).unwrap_err();
        let expected_kind = match i {
            8..=9 => matches!(err, CryptoError::BadNodeId(_)),
            24..=27 => matches!(err, CryptoError::Truncated { .. } | CryptoError::LengthMismatch { .. }),
            44..=47 => matches!(err, CryptoError::KeyMismatch { .. }),
            _ => matches!(err, CryptoError::AuthFailed { .. }),
        };
        assert!(expected_kind, "byte {i}: {err:?}");
    }
    assert_eq!(b.peer_epoch(3), None);
    assert_eq!(b.open(&sealed).unwrap(), plain);
}

#[test]
fn truncation_and_trailing_bytes_are_refused() {
    let mut a = ctx(1, 1);
    let mut b = ctx(2, 1);
    let sealed = a.seal(&datagram(1, &[5u8; 50])).unwrap();
    for cut in 0..sealed.len() {
        let err = b.open(&sealed[..cut]).unwrap_err();
        assert!(matches!(err, CryptoError::Truncated { len, .. } if len == cut), "cut {cut}: {err:?}");
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert_eq!(b.open(&longer), Err(CryptoError::LengthMismatch { declared: 86, actual: 87 }));
    assert_eq!(b.open(&sealed).map(|p| p.len()), Ok(HEADER_LEN + 50));
}

#[test]
fn a_replayed_datagram_is_refused() {
    let mut a = ctx(1, 1);
    let mut b = ctx(2, 1);
    let sealed = a.seal(&datagram(1, b"once")).unwrap();
    b.open(&sealed).unwrap();
    assert_eq!(b.open(&sealed), Err(CryptoError::Replay { sender: 1, epoch: 1, counter: 0 }));
}

#[test]
fn reordering_within_the_window_is_accepted() {
    let mut a = ctx(1, 1);
    let mut b = ctx(2, 1);
    let sealed: Vec<Vec<u8>> = (0..64u8).map(|i| a.seal(&datagram(1, &[i])).unwrap()).collect();
    for (i, s) in sealed.iter().enumerate().rev() {
        assert_eq!(b.open(s).unwrap()[HEADER_LEN..], [i as u8]);
    }
    for s in &sealed {
        assert!(matches!(b.open(s), Err(CryptoError::Replay { .. })));
    }
}

#[test]
fn counters_below_the_window_are_refused() {
    let mut a = ctx(1, 1);
    let mut b = ctx(2, 1);
    let first = a.seal(&datagram(1, b"old")).unwrap();
    let mut last = Vec::new();
    for _ in 0..REPLAY_WINDOW {
        last = a.seal(&datagram(1, b"new")).unwrap();
    }
    b.open(&last).unwrap();
    assert_eq!(b.open(&first), Err(CryptoError::BelowWindow { sender: 1, epoch: 1, counter: 0, lowest: 1 }));
}

/// A restarted node (higher epoch) is accepted and resets its window; datagrams of its old
/// epoch, and a node whose epoch went backwards, are refused.
#[test]
fn epochs_only_move_forward() {
    let mut b = ctx(2, 1);
    let mut before = ctx(1, 1_000);
    let old = before.seal(&datagram(1, b"a")).unwrap();
    let old2 = before.seal(&datagram(1, b"b")).unwrap();
    b.open(&old).unwrap();

    let mut restarted = ctx(1, 2_000);
    b.open(&restarted.seal(&datagram(1, b"c")).unwrap()).unwrap();
    assert_eq!(b.peer_epoch(1), Some(2_000));
    assert_eq!(b.open(&old2), Err(CryptoError::OldEpoch { sender: 1, epoch: 1_000, current: 2_000 }));

    let mut clock_went_back = ctx(1, 1_500);
    let err = b.open(&clock_went_back.seal(&datagram(1, b"d")).unwrap()).unwrap_err();
    assert!(matches!(err, CryptoError::OldEpoch { epoch: 1_500, current: 2_000, .. }));
    assert!(err.to_string().contains("backwards"), "{err}");
}

#[test]
fn senders_have_independent_windows() {
    let mut r = ctx(9, 1);
    let mut a = ctx(1, 1);
    let mut c = ctx(3, 1);
    // Same epoch and counter from two senders: both accepted.
    r.open(&a.seal(&datagram(1, b"x")).unwrap()).unwrap();
    r.open(&c.seal(&datagram(3, b"x")).unwrap()).unwrap();
    assert_eq!((r.peer_epoch(1), r.peer_epoch(3)), (Some(1), Some(1)));
}

#[test]
fn a_sender_outside_the_node_id_range_is_refused() {
    let mut a = ctx(1, 1);
    let mut b = ctx(2, 1);
    let mut sealed = a.seal(&datagram(1, b"x")).unwrap();
    for bad in [0u32, 65_536, u32::MAX] {
        sealed[8..12].copy_from_slice(&bad.to_be_bytes());
        assert_eq!(b.open(&sealed), Err(CryptoError::BadNodeId(bad)));
    }
}

#[test]
fn seal_refuses_bad_plaintext_without_using_a_counter() {
    let mut a = ctx(1, 1);
    assert_eq!(a.seal(&[0u8; 27]), Err(CryptoError::PlaintextTooShort(27)));
    let mut wrong_len = datagram(1, b"abc");
    wrong_len[27] = 4;
    assert_eq!(a.seal(&wrong_len), Err(CryptoError::PlaintextLengthMismatch { declared: 4, actual: 3 }));
    assert_eq!(a.seal(&datagram(2, b"abc")), Err(CryptoError::NotOurSender { sender: 2, me: 1 }));
    let s = a.seal(&datagram(1, b"abc")).unwrap();
    assert_eq!(&s[36..44], &0u64.to_be_bytes());
}

#[test]
fn an_exhausted_counter_refuses_to_seal() {
    let mut a = ctx(1, 1);
    let mut b = ctx(2, 1);
    a.next_counter = Some(u64::MAX);
    b.open(&a.seal(&datagram(1, b"last")).unwrap()).unwrap();
    assert_eq!(a.seal(&datagram(1, b"more")), Err(CryptoError::CounterExhausted(1)));
    assert_eq!(a.seal(&datagram(1, b"more")), Err(CryptoError::CounterExhausted(1)));
}

#[test]
fn new_checks_the_key_and_the_node_id() {
    assert_eq!(
        CryptoContext::new(&[1u8; 127], CLUSTER, 1, 1).unwrap_err(),
        CryptoError::AuthkeyTooShort { len: 127 }
    );
    assert_eq!(
        CryptoContext::new(&[1u8; 4097], CLUSTER, 1, 1).unwrap_err(),
        CryptoError::AuthkeyTooLong { len: 4097 }
    );
    assert_eq!(CryptoContext::new(&authkey(0), CLUSTER, 0, 1).unwrap_err(), CryptoError::BadNodeId(0));
    assert_eq!(
        CryptoContext::new(&authkey(0), CLUSTER, 65_536, 1).unwrap_err(),
        CryptoError::BadNodeId(65_536)
    );
    assert!(CryptoContext::new(&authkey(0), CLUSTER, 65_535, 0).is_ok());
}

#[test]
fn debug_output_shows_no_key_material() {
    let text = format!("{:?}", ctx(1, 1));
    assert!(text.contains("key_id") && text.contains("my_node_id: 1"), "{text}");
    assert!(!text.contains("aead"), "{text}");
}

proptest! {
    #[test]
    fn open_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut b = ctx(2, 1);
        prop_assert!(b.open(&bytes).is_err());
        prop_assert_eq!(b.peer_epoch(1), None);
    }

    /// Arbitrary bytes behind a consistent length field and our key id reach the AEAD check.
    #[test]
    fn open_never_panics_on_well_framed_garbage(
        sender in any::<u32>(),
        rest in proptest::collection::vec(any::<u8>(), 36..200),
    ) {
        let mut b = ctx(2, 1);
        let mut bytes = datagram(sender, &rest);
        bytes[44..48].copy_from_slice(&b.key_id().to_be_bytes());
        prop_assert!(b.open(&bytes).is_err());
    }

    #[test]
    fn any_single_flipped_bit_is_refused(
        body in proptest::collection::vec(any::<u8>(), 0..100),
        epoch in any::<u64>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let mut a = ctx(1, epoch);
        let mut b = ctx(2, 1);
        let plain = datagram(1, &body);
        let sealed = a.seal(&plain).unwrap();
        let mut flipped = sealed.clone();
        let i = bit.index(sealed.len() * 8);
        flipped[i / 8] ^= 1 << (i % 8);
        prop_assert!(b.open(&flipped).is_err());
        prop_assert_eq!(b.open(&sealed), Ok(plain));
    }

    #[test]
    fn every_datagram_round_trips(
        node in 1u32..=65_535,
        epoch in any::<u64>(),
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
    ) {
        let mut a = ctx(node, epoch);
        let mut b = ctx(if node == 1 { 2 } else { 1 }, 0);
        for body in bodies {
            let plain = datagram(node, &body);
            let sealed = a.seal(&plain).unwrap();
            prop_assert_eq!(b.open(&sealed), Ok(plain));
        }
    }
}
