//! Fuzzes the cluster wire decoder: it must never panic, and whatever it accepts must
//! re-encode to exactly the same bytes (the codec has one encoding per message).
//!
//! Run on stable: `cargo fuzz run wire_decode --sanitizer none` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorumd_proto::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = wire::decode(data) {
        assert_eq!(wire::encode(&packet), data, "accepted bytes must round-trip exactly");
    }
});
