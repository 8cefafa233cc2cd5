//! Fuzzes the datagram opener: arbitrary bytes (and arbitrary bytes behind a valid header and
//! key id) never panic, never authenticate, and never change the replay state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorumd_crypto::CryptoContext;

const KEY: [u8; 128] = [7; 128];

fuzz_target!(|data: &[u8]| {
    let Ok(mut rx) = CryptoContext::new(&KEY, "fuzz", 1, 1) else { return };
    assert!(rx.open(data).is_err(), "random bytes must not authenticate");
    // The same bytes behind a genuine sealed prefix: take a real datagram and splice.
    let Ok(mut tx) = CryptoContext::new(&KEY, "fuzz", 2, 1) else { return };
    let mut plain = vec![0x51, 0x44, 1, 5, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4];
    plain.extend_from_slice(&(0u32).to_be_bytes());
    let Ok(sealed) = tx.seal(&plain) else { return };
    let cut = data.first().map_or(0, |b| usize::from(*b) % sealed.len());
    let mut forged = sealed[..cut].to_vec();
    forged.extend_from_slice(data);
    if forged != sealed {
        assert!(rx.open(&forged).is_err(), "a forged datagram must not authenticate");
    }
    assert!(rx.open(&sealed).is_ok(), "the genuine datagram still opens: nothing changed");
});
