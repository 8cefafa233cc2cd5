//! Tests of sealing, opening and the session rules: the wire layout, each refusal, that
//! refusals change nothing, first contact in one round trip, and replays across restarts of
//! either end (issue 11 item 7).

use super::*;
use crate::seal::{ENVELOPE_LEN, SEALED_MAX, SEAL_OVERHEAD, TAG_LEN};
use proptest::prelude::*;

const CLUSTER: &str = "alpha";

fn authkey(fill: u8) -> Vec<u8> {
    (0..256u16).map(|i| (i as u8) ^ fill).collect()
}

fn key() -> ClusterKey {
    ClusterKey::derive(&authkey(0), CLUSTER).unwrap()
}

fn session(node: u32, boot: u64) -> Session {
    Session::new(key(), node, NonZeroU64::new(boot).unwrap()).unwrap()
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

/// Moves every queued answer between `a` and `b` until both are quiet; returns the plaintexts
/// each acted on (`(to a, to b)`) and how many answer datagrams crossed.
fn pump(a: &mut Session, b: &mut Session) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, usize) {
    let (mut to_a, mut to_b, mut crossed) = (Vec::new(), Vec::new(), 0);
    for _ in 0..20 {
        let mut moved = false;
        while let Some((to, bytes)) = a.poll_output() {
            assert_eq!(to, b.my_node_id());
            crossed += 1;
            moved = true;
            if let Ok(Opened::Data(p)) = b.open(&bytes) {
                to_b.push(p.to_vec());
            }
        }
        while let Some((to, bytes)) = b.poll_output() {
            assert_eq!(to, a.my_node_id());
            crossed += 1;
            moved = true;
            if let Ok(Opened::Data(p)) = a.open(&bytes) {
                to_a.push(p.to_vec());
            }
        }
        if !moved {
            break;
        }
    }
    (to_a, to_b, crossed)
}

/// `a` sends `plain` to `b` (a first contact is answered and the datagram re-sent).
fn deliver(a: &mut Session, b: &mut Session, plain: &[u8]) -> Vec<Vec<u8>> {
    let sealed = a.seal_to(b.my_node_id(), plain).unwrap();
    let mut got = Vec::new();
    if let Ok(Opened::Data(p)) = b.open(&sealed) {
        got.push(p.to_vec());
    }
    got.extend(pump(a, b).1);
    got
}

fn data(r: Result<Opened<'_>, CryptoError>) -> Result<Vec<u8>, CryptoError> {
    match r {
        Ok(Opened::Data(p)) => Ok(p.to_vec()),
        Ok(Opened::Offer) => panic!("an offer where data was expected"),
        Err(e) => Err(e),
    }
}

#[test]
fn first_contact_costs_one_round_trip_then_datagrams_open_directly() {
    let mut a = session(1, 0xA1);
    let mut b = session(2, 0xB1);
    let plain = datagram(1, b"join");
    let first = a.seal_to(2, &plain).unwrap();
    assert_eq!(b.open(&first), Err(CryptoError::NotForThisBoot { sender: 1 }));
    // One answer out, one re-send (plus the offer back) in: the datagram is acted on once.
    let (to_a, to_b, crossed) = pump(&mut a, &mut b);
    assert_eq!((to_a.len(), to_b, crossed), (0, vec![plain.clone()], 3));
    assert_eq!(b.peer_boot(1), Some(0xA1));
    assert!(a.has_ticket(2) && b.has_ticket(1), "the offer back gave b a ticket too");
    // From now on, both directions open at once and nothing is queued.
    for i in 0..5u8 {
        let p = datagram(1, &[i]);
        assert_eq!(data(b.open(&a.seal_to(2, &p).unwrap())), Ok(p));
        let q = datagram(2, &[i]);
        assert_eq!(data(a.open(&b.seal_to(1, &q).unwrap())), Ok(q));
    }
    assert_eq!((a.poll_output(), b.poll_output()), (None, None));
}

#[test]
fn round_trip_restores_the_datagram_and_layout_is_as_documented() {
    let mut a = session(1, 0x0102_0304_0506_0708);
    let mut b = session(2, 0xB);
    deliver(&mut a, &mut b, &datagram(1, b"hello"));
    for len in [0usize, 1, 15, 16, 17, 300, 8192] {
        let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let plain = datagram(1, &body);
        let s = a.seal_to(2, &plain).unwrap();
        assert_eq!(s.len(), plain.len() + SEAL_OVERHEAD);
        assert_eq!(&s[..24], &plain[..24], "header other than payload_len is unchanged");
        assert_eq!(&s[24..28], &((len + ENVELOPE_LEN + TAG_LEN) as u32).to_be_bytes());
        assert_eq!(&s[28..32], &[0, 0, 0, 2], "kind data, for node 2");
        assert_eq!(&s[32..36], &a.key_id().to_be_bytes());
        assert_eq!(&s[36..44], &0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(&s[52..60], &0xBu64.to_be_bytes(), "names b's boot");
        assert_eq!(&s[60..68], &1u64.to_be_bytes(), "b's first generation");
        if len >= 16 {
            assert_ne!(&s[76..76 + len], &body[..], "body is encrypted");
        }
        assert_eq!(data(b.open(&s)), Ok(plain));
    }
}

#[test]
fn keys_are_bound_to_authkey_and_cluster_name() {
    let k = key();
    assert_eq!(k.key_id(), ClusterKey::derive(&authkey(0), CLUSTER).unwrap().key_id());
    assert_ne!(k.key_id(), ClusterKey::derive(&authkey(1), CLUSTER).unwrap().key_id());
    assert_ne!(k.key_id(), ClusterKey::derive(&authkey(0), "beta").unwrap().key_id());
    assert!(matches!(ClusterKey::derive(&[0; 10], CLUSTER), Err(CryptoError::AuthkeyTooShort { .. })));
}

#[test]
fn another_key_is_refused_unanswered_and_changes_nothing() {
    let mut a = Session::new(ClusterKey::derive(&authkey(9), CLUSTER).unwrap(), 1, NonZeroU64::MIN).unwrap();
    let mut b = session(2, 2);
    let sealed = a.seal_to(2, &datagram(1, b"x")).unwrap();
    assert!(matches!(b.open(&sealed), Err(CryptoError::KeyMismatch { sender: 1, .. })));
    // Same key id, other key: the tag fails.
    let mut forged = sealed.clone();
    forged[32..36].copy_from_slice(&b.key_id().to_be_bytes());
    assert_eq!(b.open(&forged), Err(CryptoError::AuthFailed { sender: 1 }));
    assert_eq!((b.poll_output(), b.peer_boot(1), b.stats()), (None, None, SessionStats::default()));
}

#[test]
fn tampering_with_any_byte_is_refused_and_changes_nothing() {
    let mut a = session(1, 11);
    let mut b = session(2, 22);
    deliver(&mut a, &mut b, &datagram(1, b"hi"));
    let plain = datagram(1, b"payload");
    let sealed = a.seal_to(2, &plain).unwrap();
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 0x40;
        assert!(b.open(&t).is_err(), "byte {i}");
        assert_eq!(b.poll_output(), None, "byte {i}: no answer to a forgery");
    }
    assert_eq!(data(b.open(&sealed)), Ok(plain), "the genuine datagram still opens: nothing changed");
}

#[test]
fn truncation_trailing_bytes_and_oversize_are_refused_without_allocating() {
    let mut a = session(1, 1);
    let mut b = session(2, 2);
    let sealed = a.seal_to(2, &datagram(1, b"abc")).unwrap();
    for cut in [0, 1, 27, 28, SEALED_MIN - 1, sealed.len() - 1] {
        assert!(matches!(b.open(&sealed[..cut]), Err(CryptoError::Truncated { .. })), "cut {cut}");
    }
    let mut long = sealed.clone();
    long.push(0);
    assert!(matches!(b.open(&long), Err(CryptoError::LengthMismatch { .. })));
    let huge = vec![0u8; SEALED_MAX + 1];
    assert!(matches!(b.open(&huge), Err(CryptoError::Oversized { .. })));
    assert_eq!(b.scratch.capacity(), 0, "nothing was copied for refused input");
    // A forged datagram of the largest size costs one buffer, reused.
    let mut big = datagram(1, &vec![0u8; SEALED_MAX - SEALED_MIN]);
    big[24..28].copy_from_slice(&((SEALED_MAX - HEADER_LEN) as u32).to_be_bytes());
    big.resize(SEALED_MAX, 0);
    big[30..32].copy_from_slice(&2u16.to_be_bytes());
    big[32..36].copy_from_slice(&b.key_id().to_be_bytes());
    for _ in 0..3 {
        assert_eq!(b.open(&big), Err(CryptoError::AuthFailed { sender: 1 }));
    }
    assert!(b.scratch.capacity() <= 2 * SEALED_MAX);
}

#[test]
fn replays_and_old_counters_are_refused_without_an_answer() {
    let mut a = session(1, 1);
    let mut b = session(2, 2);
    deliver(&mut a, &mut b, &datagram(1, b"first"));
    let s0 = a.seal_to(2, &datagram(1, b"x")).unwrap();
    assert!(b.open(&s0).is_ok());
    assert!(matches!(b.open(&s0), Err(CryptoError::Replay { sender: 1, .. })));
    let mut later = Vec::new();
    for _ in 0..=crate::REPLAY_WINDOW {
        later.push(a.seal_to(2, &datagram(1, b"y")).unwrap());
    }
    // Out of order inside the window is fine.
    assert!(b.open(&later[crate::REPLAY_WINDOW as usize]).is_ok());
    assert!(b.open(&later[5]).is_ok());
    assert!(matches!(b.open(&later[0]), Err(CryptoError::BelowWindow { sender: 1, .. })));
    assert_eq!(b.poll_output(), None);
}

/// Issue 11 item 7, second half: a restarted node acts on no datagram sent before its restart,
/// whoever sent it, and a first contact with the new start still takes one round trip.
#[test]
fn a_restarted_receiver_acts_on_nothing_sent_before_its_restart() {
    let mut a = session(1, 0xA);
    let mut b = session(2, 0xB);
    deliver(&mut a, &mut b, &datagram(1, b"first"));
    deliver(&mut b, &mut a, &datagram(2, b"first"));
    let captured: Vec<Vec<u8>> = (0..20u8).map(|i| a.seal_to(2, &datagram(1, &[i])).unwrap()).collect();
    for c in &captured[..10] {
        assert!(b.open(c).is_ok());
    }
    let mut b2 = session(2, 0xB2); // b restarts
    for c in &captured {
        assert_eq!(b2.open(c), Err(CryptoError::NotForThisBoot { sender: 1 }));
    }
    // Its answers reach a: they echo counters a used before ... and a adopts the newest.
    let answers: Vec<_> = std::iter::from_fn(|| b2.poll_output()).collect();
    assert_eq!(answers.len(), captured.len());
    let adopted = answers.iter().filter(|(_, o)| a.open(o) == Ok(Opened::Offer)).count();
    assert!(adopted >= 1);
    assert!(a.has_ticket(2));
    // Replaying everything again after the new session exists: still nothing acted on.
    let (_, to_b2, _) = pump(&mut a, &mut b2);
    assert_eq!(to_b2.len(), 1, "only a's re-sent last datagram, sealed after b2 started");
    assert_eq!(to_b2[0], datagram(1, &[19]));
    for c in &captured {
        assert!(b2.open(c).is_err());
    }
    let p = datagram(1, b"new");
    assert_eq!(data(b2.open(&a.seal_to(2, &p).unwrap())), Ok(p));
}

/// Issue 11 item 7: a peer's previous incarnation, replayed to a node that did not restart,
/// is never acted on once the new incarnation is accepted.
#[test]
fn an_old_incarnation_is_never_accepted_again() {
    let mut a = session(1, 0xA1);
    let mut b = session(2, 0xB);
    deliver(&mut a, &mut b, &datagram(1, b"hello"));
    let old: Vec<Vec<u8>> = (0..10u8).map(|i| a.seal_to(2, &datagram(1, &[i])).unwrap()).collect();
    let never_delivered = a.seal_to(2, &datagram(1, b"never delivered")).unwrap();
    // a restarts as a2; its first contact is refused once, then accepted.
    let mut a2 = session(1, 0xA2);
    assert_eq!(deliver(&mut a2, &mut b, &datagram(1, b"again")), vec![datagram(1, b"again")]);
    assert_eq!(b.peer_boot(1), Some(0xA2));
    let before = b.stats();
    for c in old.iter().chain([&never_delivered]) {
        assert_eq!(b.open(c), Err(CryptoError::StaleSession { sender: 1 }));
    }
    // The answers go to a's old boot; a2 ignores them; b still accepts a2.
    while let Some((_, o)) = b.poll_output() {
        assert_eq!(a2.open(&o), Err(CryptoError::StaleOffer { sender: 2 }));
    }
    assert_eq!(b.stats().sessions_accepted, before.sessions_accepted);
    let p = datagram(1, b"fresh");
    assert_eq!(data(b.open(&a2.seal_to(2, &p).unwrap())), Ok(p));
    assert_eq!(b.peer_boot(1), Some(0xA2));
}

/// The old incarnation was still alive when an offer for the next generation went out (an
/// answer to a replay reached it): what it sealed under that generation is refused once its
/// successor holds the generation.
#[test]
fn a_generation_taken_by_the_successor_is_refused_to_the_predecessor() {
    let mut a = session(1, 0xA1);
    let mut b = session(2, 0xB);
    deliver(&mut a, &mut b, &datagram(1, b"hello"));
    let hello = a.seal_to(2, &datagram(1, b"old")).unwrap();
    // b answers a datagram with a bad ticket: craft one by a fresh session of a's boot that
    // never got a ticket (same boot, so a's replay window would otherwise decide).
    let mut a_noticket = session(1, 0xA1);
    a_noticket.next_counter = Some(1_000);
    let stale = a_noticket.seal_to(2, &datagram(1, b"no ticket")).unwrap();
    assert_eq!(b.open(&stale), Err(CryptoError::NotForThisBoot { sender: 1 }));
    let (_, offer_gen2) = b.poll_output().unwrap();
    a.next_counter = Some(2_000);
    assert_eq!(a.open(&offer_gen2), Ok(Opened::Offer), "a (alive) adopts generation 2");
    let under_gen2 = a.seal_to(2, &datagram(1, b"gen2 by a1")).unwrap();
    // a crashes before b saw anything under generation 2; a2 gets generation 2 as well.
    let mut a2 = session(1, 0xA2);
    assert_eq!(deliver(&mut a2, &mut b, &datagram(1, b"a2")), vec![datagram(1, b"a2")]);
    assert_eq!(b.peer_boot(1), Some(0xA2));
    assert_eq!(b.open(&under_gen2), Err(CryptoError::StaleSession { sender: 1 }));
    assert_eq!(b.open(&hello), Err(CryptoError::StaleSession { sender: 1 }));
    assert_eq!(b.peer_boot(1), Some(0xA2));
}

/// A datagram sealed for one node and replayed to another is dropped there without an
/// answer: no node can be made to answer (and so re-send or re-key) with traffic meant for
/// another.
#[test]
fn a_datagram_for_another_node_is_refused_unanswered() {
    let mut a = session(1, 1);
    let mut b = session(2, 2);
    let mut c = session(3, 3);
    deliver(&mut a, &mut b, &datagram(1, b"to b"));
    deliver(&mut a, &mut c, &datagram(1, b"to c"));
    let for_b = a.seal_to(2, &datagram(1, b"for b only")).unwrap();
    assert_eq!(c.open(&for_b), Err(CryptoError::NotForMe { sender: 1, to: 2 }));
    assert_eq!(c.poll_output(), None);
    // Rewriting the destination breaks the tag.
    let mut redirected = for_b.clone();
    redirected[30..32].copy_from_slice(&3u16.to_be_bytes());
    assert_eq!(c.open(&redirected), Err(CryptoError::AuthFailed { sender: 1 }));
    assert_eq!(c.poll_output(), None);
    assert!(b.open(&for_b).is_ok());
}

#[test]
fn a_replayed_offer_changes_nothing() {
    let mut a = session(1, 1);
    let mut b = session(2, 2);
    let first = a.seal_to(2, &datagram(1, b"x")).unwrap();
    assert!(b.open(&first).is_err());
    let (_, offer) = b.poll_output().unwrap();
    assert_eq!(a.open(&offer), Ok(Opened::Offer));
    let stats = a.stats();
    assert_eq!(a.open(&offer), Err(CryptoError::StaleOffer { sender: 2 }));
    assert_eq!(a.stats(), stats);
    // An offer answering a datagram of a's previous start is refused by its successor.
    let mut a2 = session(1, 3);
    assert_eq!(a2.open(&offer), Err(CryptoError::StaleOffer { sender: 2 }));
    assert!(!a2.has_ticket(2));
    assert_eq!(a2.poll_output(), None);
}

#[test]
fn answers_are_bounded() {
    let mut a = session(1, 1);
    let mut b = session(2, 2);
    let many: Vec<Vec<u8>> =
        (0..ANSWERS_MAX + 10).map(|_| a.seal_to(2, &datagram(1, b"z")).unwrap()).collect();
    for m in &many {
        assert!(b.open(m).is_err());
    }
    assert_eq!(b.answers.len(), ANSWERS_MAX);
    assert_eq!(b.stats().answers_dropped, 10);
}

#[test]
fn seal_refuses_bad_plaintext_without_using_a_counter() {
    let mut a = session(1, 1);
    assert_eq!(a.seal_to(2, &[0u8; 27]), Err(CryptoError::PlaintextTooShort(27)));
    let mut bad = datagram(1, b"abc");
    bad[27] = 9;
    assert!(matches!(a.seal_to(2, &bad), Err(CryptoError::PlaintextLengthMismatch { .. })));
    assert!(matches!(a.seal_to(2, &datagram(3, b"")), Err(CryptoError::NotOurSender { sender: 3, me: 1 })));
    assert_eq!(a.seal_to(0, &datagram(1, b"")), Err(CryptoError::BadNodeId(0)));
    assert_eq!(a.seal_to(1, &datagram(1, b"")), Err(CryptoError::FromSelf));
    assert_eq!(a.next_counter, Some(0));
    assert!(matches!(Session::new(key(), 0, NonZeroU64::MIN), Err(CryptoError::BadNodeId(0))));
}

#[test]
fn an_exhausted_counter_refuses_to_seal() {
    let mut a = session(1, 1);
    a.next_counter = Some(u64::MAX);
    assert!(a.seal_to(2, &datagram(1, b"")).is_ok());
    assert_eq!(a.seal_to(2, &datagram(1, b"")), Err(CryptoError::CounterExhausted));
}

#[test]
fn debug_output_shows_no_key_material() {
    let text = format!("{:?}", session(1, 1));
    assert!(text.contains("key_id") && text.contains("me: 1"), "{text}");
    assert!(!text.contains("aead"), "{text}");
}

proptest! {
    #[test]
    fn open_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut b = session(2, 1);
        prop_assert!(b.open(&bytes).is_err());
        prop_assert_eq!(b.peer_boot(1), None);
        prop_assert_eq!(b.poll_output(), None);
    }

    /// Arbitrary bytes behind a consistent length field and our key id reach the AEAD check.
    #[test]
    fn open_never_panics_on_well_framed_garbage(
        sender in any::<u32>(),
        rest in proptest::collection::vec(any::<u8>(), 64..200),
    ) {
        let mut b = session(2, 1);
        let mut bytes = datagram(sender, &rest);
        bytes[28..32].copy_from_slice(&[0, 0, 0, 2]);
        bytes[32..36].copy_from_slice(&b.key_id().to_be_bytes());
        prop_assert!(b.open(&bytes).is_err());
        prop_assert_eq!(b.poll_output(), None);
    }

    #[test]
    fn any_single_flipped_bit_is_refused(
        body in proptest::collection::vec(any::<u8>(), 0..100),
        boot in 1u64..,
        bit in any::<prop::sample::Index>(),
    ) {
        let mut a = session(1, boot);
        let mut b = session(2, 1);
        deliver(&mut a, &mut b, &datagram(1, b"hi"));
        let plain = datagram(1, &body);
        let sealed = a.seal_to(2, &plain).unwrap();
        let mut flipped = sealed.clone();
        let i = bit.index(sealed.len() * 8);
        flipped[i / 8] ^= 1 << (i % 8);
        prop_assert!(b.open(&flipped).is_err());
        prop_assert_eq!(b.poll_output(), None);
        prop_assert_eq!(data(b.open(&sealed)), Ok(plain));
    }

    #[test]
    fn every_datagram_round_trips(
        node in 2u32..=65_535,
        boot in 1u64..,
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
    ) {
        let mut a = session(node, boot);
        let mut b = session(1, 7);
        for body in bodies {
            let plain = datagram(node, &body);
            prop_assert_eq!(deliver(&mut a, &mut b, &plain), vec![plain]);
        }
    }
}
