//! A configuration reload by SIGHUP leaves its outcome in cmap exactly as a cfg
//! `reload_config` does: `config.reload_status` (the `cs_error_t`), and
//! `config.reload_error_message` while the last reload was refused (cleared by the next one).
//! One real daemon on 127.0.0.1; its process and files are removed also when the test fails.
#![allow(clippy::disallowed_methods)] // a test harness: processes, sockets, clocks, files

use std::path::Path;
use std::time::{Duration, Instant};

use quorumd_client::cfg::CfgClient;
use quorumd_client::cmap::{CmapClient, CmapMap, CmapValue};
use quorumd_client::CsError;

#[path = "../../../tests/support/one_daemon.rs"]
mod one_daemon;

use one_daemon::Daemon;

const CS_OK: i32 = 1;
const CS_ERR_INVALID_PARAM: i32 = 7;

/// The value of `key`, or the error reading it.
fn get(cmap: &CmapClient, key: &str) -> Result<CmapValue, CsError> {
    cmap.get(key)
}

/// Waits until `key` reads `want` (the reload runs in the daemon's loop after the signal).
fn wait_for(d: &Daemon, cmap: &CmapClient, key: &str, want: &Result<CmapValue, CsError>) {
    let start = Instant::now();
    loop {
        let got = get(cmap, key);
        if &got == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{key}: {got:?}, never {want:?}\n{}", d.log());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_in_progress(cmap: &CmapClient) -> Result<CmapValue, CsError> {
    get(cmap, "config.reload_in_progress")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn sighup_sets_reload_status_and_error_message_as_cfg_reload_config_does() {
    let d = Daemon::start("hupstatus", "logging {\n  to_syslog: no\n}\n");
    let cmap = CmapClient::connect_map(d.socket(), CmapMap::Default).unwrap();
    let good = std::fs::read_to_string(d.conf()).unwrap();
    assert_eq!(get(&cmap, "config.reload_status"), Err(CsError::NotExist), "no reload yet");

    // A refused file: CS_ERR_INVALID_PARAM and the reason, nothing changed.
    write(&d.conf(), "totem {\n  version: 2\n  tokn: 5\n}\n");
    d.hup();
    wait_for(&d, &cmap, "config.reload_status", &Ok(CmapValue::I32(CS_ERR_INVALID_PARAM)));
    match get(&cmap, "config.reload_error_message") {
        Ok(CmapValue::String(why)) => assert!(why.contains("unknown key 'tokn'"), "{why}"),
        other => panic!("config.reload_error_message: {other:?}\n{}", d.log()),
    }
    assert_eq!(read_in_progress(&cmap), Ok(CmapValue::U8(0)));

    // The good file again: CS_OK, and the stale reason is gone.
    write(&d.conf(), &good);
    d.hup();
    wait_for(&d, &cmap, "config.reload_status", &Ok(CmapValue::I32(CS_OK)));
    assert_eq!(get(&cmap, "config.reload_error_message"), Err(CsError::NotExist));
    assert_eq!(read_in_progress(&cmap), Ok(CmapValue::U8(0)));

    // The cfg path leaves the same keys the same way (refused, then accepted).
    let cfg = CfgClient::connect_with(d.socket()).unwrap();
    write(&d.conf(), "totem {\n  version: 2\n  tokn: 5\n}\n");
    assert_eq!(cfg.reload_config(), Err(CsError::InvalidParam));
    wait_for(&d, &cmap, "config.reload_status", &Ok(CmapValue::I32(CS_ERR_INVALID_PARAM)));
    write(&d.conf(), &good);
    assert_eq!(cfg.reload_config(), Ok(()));
    wait_for(&d, &cmap, "config.reload_status", &Ok(CmapValue::I32(CS_OK)));
    assert_eq!(get(&cmap, "config.reload_error_message"), Err(CsError::NotExist));
}
