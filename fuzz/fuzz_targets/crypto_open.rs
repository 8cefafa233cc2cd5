//! Fuzzes the datagram opener: arbitrary bytes (alone, and spliced onto a genuine sealed
//! datagram) never panic and never authenticate unless they are that genuine datagram, and a
//! refused datagram changes nothing (the genuine one still opens afterwards).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorumd_crypto::CryptoContext;

const KEY: [u8; 128] = [7; 128];

fuzz_target!(|data: &[u8]| {
    let (Ok(mut rx), Ok(mut tx)) = (CryptoContext::new(&KEY, "fuzz", 1, 1), CryptoContext::new(&KEY, "fuzz", 2, 1))
    else {
        return;
    };
    let mut plain = vec![0x51, 0x44, 1, 5, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4];
    plain.extend_from_slice(&(0u32).to_be_bytes());
    let Ok(sealed) = tx.seal(&plain) else { return };
    // (libFuzzer can learn the genuine datagram's bytes from comparisons: that one may open.)
    if data != sealed.as_slice() {
        assert!(rx.open(data).is_err(), "bytes that are not the genuine datagram must not authenticate");
    }
    let cut = data.first().map_or(0, |b| usize::from(*b) % sealed.len());
    let mut forged = sealed[..cut].to_vec();
    forged.extend_from_slice(data);
    if forged != sealed {
        assert!(rx.open(&forged).is_err(), "a forged datagram must not authenticate");
    }
    if data != sealed.as_slice() {
        assert_eq!(rx.open(&sealed).ok(), Some(plain), "the genuine datagram still opens: nothing changed");
    }
});
