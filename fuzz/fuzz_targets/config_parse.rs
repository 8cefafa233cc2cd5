//! Fuzzes the corosync.conf parser: any text gives a Config or an error with a line number,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = quorumd_config::text_from_bytes(data, "fuzz.conf") {
        let _ = quorumd_config::parse_str(text, "fuzz.conf");
    }
});
