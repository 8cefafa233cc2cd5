//! Fuzzes the datagram opener: arbitrary bytes (alone, and spliced onto a genuine sealed
//! datagram) never panic and never authenticate unless they are that genuine datagram; a
//! refused datagram changes nothing (the genuine one still opens afterwards) and, when not
//! authentic, is never answered.
#![no_main]

use std::num::NonZeroU64;

use libfuzzer_sys::fuzz_target;
use quorumd_crypto::{ClusterKey, Opened, Session};

const KEY: [u8; 128] = [7; 128];

fuzz_target!(|data: &[u8]| {
    let Ok(key) = ClusterKey::derive(&KEY, "fuzz") else { return };
    let (Ok(mut rx), Ok(mut tx)) =
        (Session::new(key.clone(), 1, NonZeroU64::MIN), Session::new(key, 2, NonZeroU64::MAX))
    else {
        return;
    };
    let mut plain = vec![0x51, 0x44, 1, 5, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4];
    plain.extend_from_slice(&(0u32).to_be_bytes());
    // First contact: rx answers, tx adopts the offer and re-seals its datagram.
    let Ok(hello) = tx.seal_to(1, &plain) else { return };
    assert!(rx.open(&hello).is_err(), "a first contact is answered, not acted on");
    let Some((_, offer)) = rx.poll_output() else { panic!("a first contact is answered") };
    assert_eq!(tx.open(&offer), Ok(Opened::Offer));
    let Some((_, sealed)) = tx.poll_output() else { panic!("the datagram is re-sent") };
    // (libFuzzer can learn the genuine datagram's bytes from comparisons: that one may open.)
    if data != sealed.as_slice() {
        assert!(rx.open(data).is_err(), "bytes that are not the genuine datagram must not be acted on");
        if data == hello.as_slice() {
            while rx.poll_output().is_some() {} // a replayed first contact is answered again
        } else {
            assert!(rx.poll_output().is_none(), "forgeries are not answered");
        }
    }
    let cut = data.first().map_or(0, |b| usize::from(*b) % sealed.len());
    let mut forged = sealed[..cut].to_vec();
    forged.extend_from_slice(data);
    if forged != sealed && forged != hello {
        assert!(rx.open(&forged).is_err(), "a forged datagram must not authenticate");
        assert!(rx.poll_output().is_none(), "a forged datagram is not answered");
    }
    if data != sealed.as_slice() {
        assert_eq!(rx.open(&sealed).ok(), Some(Opened::Data(&plain)), "the genuine datagram still opens");
    }
});
