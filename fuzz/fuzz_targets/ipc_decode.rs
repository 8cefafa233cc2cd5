//! Fuzzes the client IPC codec: framing never panics and accepted frames re-encode exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorumd_proto::ipc;

fuzz_target!(|data: &[u8]| {
    // A stream of frames, as the daemon splits what a client wrote.
    let mut rest = data;
    while let Ok(Some(n)) = ipc::frame_len(rest) {
        if let Ok(frame) = ipc::decode(&rest[..n]) {
            assert_eq!(ipc::encode(&frame), &rest[..n]);
        }
        rest = &rest[n..];
    }
});
