//! corosync.conf → cmap keys, under corosync's names and with the types its parser gives them
//! (`exec/coroparse.c`): numbers that corosync parses as integers get that integer type
//! (`totem.token` u32, `totem.config_version` u64, `quorum.two_node` u8,
//! `nodelist.node.N.nodeid` u32, `totem.interface.N.mcastport` u16, ...), everything else is
//! a string as written (booleans as `yes`/`no`, `on`/`off`). `nodelist.node.N` numbers the
//! node blocks 0, 1, 2, ... in file order; `totem.interface.N` is keyed by link number;
//! `logging.logger_subsys.<SUBSYS>.<key>` by subsystem.
//!
//! `uidgid` entries are not here: names resolve to numbers in the daemon's shell, and the node
//! adds `uidgid.config.uid.<uid>` / `uidgid.config.gid.<gid>` from the resolved access policy.
//!
//! Deviation from corosync: keys come from the validated configuration, not the raw text, so a
//! boolean written `on` where corosync expects `yes` (or the reverse) is shown in the spelling
//! listed here, and a key given twice shows once, with the value that counts.

use quorumd_config::{Config, DebugLevel, LogSettings, Principal, TieBreaker, Timestamp, UidGidKind};
use quorumd_proto::svc_cmap::CmapValue;

fn s(v: impl Into<String>) -> CmapValue {
    CmapValue::String(v.into())
}

fn yes_no(b: bool) -> CmapValue {
    s(if b { "yes" } else { "no" })
}

fn on_off(b: bool) -> CmapValue {
    s(if b { "on" } else { "off" })
}

fn lower_debug<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}").to_ascii_lowercase()
}

fn log_settings(out: &mut Vec<(String, CmapValue)>, prefix: &str, l: &LogSettings) {
    let mut put = |k: &str, v: CmapValue| out.push((format!("{prefix}{k}"), v));
    if let Some(b) = l.to_stderr {
        put("to_stderr", yes_no(b));
    }
    if let Some(b) = l.to_logfile {
        put("to_logfile", yes_no(b));
    }
    if let Some(b) = l.to_syslog {
        put("to_syslog", yes_no(b));
    }
    if let Some(v) = &l.logfile {
        put("logfile", s(v.clone()));
    }
    if let Some(v) = &l.logfile_priority {
        put("logfile_priority", s(v.clone()));
    }
    if let Some(v) = &l.syslog_facility {
        put("syslog_facility", s(v.clone()));
    }
    if let Some(v) = &l.syslog_priority {
        put("syslog_priority", s(v.clone()));
    }
    if let Some(d) = l.debug {
        put(
            "debug",
            s(match d {
                DebugLevel::Off => "off",
                DebugLevel::On => "on",
                DebugLevel::Trace => "trace",
            }),
        );
    }
    if let Some(t) = l.timestamp {
        put(
            "timestamp",
            s(match t {
                Timestamp::Off => "off",
                Timestamp::On => "on",
                Timestamp::Hires => "hires",
            }),
        );
    }
    if let Some(b) = l.fileline {
        put("fileline", on_off(b));
    }
    if let Some(b) = l.function_name {
        put("function_name", on_off(b));
    }
    if let Some(b) = l.blackbox {
        put("blackbox", on_off(b));
    }
}

/// Every configuration key of `config`, in no particular order (the map sorts).
pub fn config_keys(config: &Config) -> Vec<(String, CmapValue)> {
    let mut out: Vec<(String, CmapValue)> = Vec::new();
    let t = &config.totem;
    let mut put = |k: &str, v: CmapValue| out.push((k.to_string(), v));
    put("totem.version", CmapValue::U32(t.version));
    if let Some(n) = &t.cluster_name {
        put("totem.cluster_name", s(n.clone()));
    }
    put("totem.transport", s(t.transport.name()));
    if let Some(c) = t.crypto_cipher {
        put("totem.crypto_cipher", s(lower_debug(&c)));
    }
    if let Some(h) = t.crypto_hash {
        put("totem.crypto_hash", s(lower_debug(&h)));
    }
    if let Some(m) = &t.crypto_model {
        put("totem.crypto_model", s(m.clone()));
    }
    if let Some(b) = t.secauth {
        put("totem.secauth", on_off(b));
    }
    if let Some(k) = &t.keyfile {
        put("totem.keyfile", s(k.clone()));
    }
    if let Some(n) = t.nodeid {
        put("totem.nodeid", CmapValue::U32(n.get()));
    }
    if let Some(v) = t.ip_version {
        put(
            "totem.ip_version",
            s(match v {
                quorumd_config::IpVersion::Ipv4 => "ipv4",
                quorumd_config::IpVersion::Ipv6 => "ipv6",
                quorumd_config::IpVersion::Ipv4Then6 => "ipv4-6",
                quorumd_config::IpVersion::Ipv6Then4 => "ipv6-4",
            }),
        );
    }
    if let Some(m) = t.link_mode {
        put(
            "totem.link_mode",
            s(match m {
                quorumd_config::LinkMode::Passive => "passive",
                quorumd_config::LinkMode::Active => "active",
                quorumd_config::LinkMode::RoundRobin => "rr",
            }),
        );
    }
    if let Some(v) = t.netmtu {
        put("totem.netmtu", CmapValue::U32(v));
    }
    if let Some(v) = t.config_version {
        put("totem.config_version", CmapValue::U64(v));
    }
    if let Some(b) = t.block_unlisted_ips {
        put("totem.block_unlisted_ips", yes_no(b));
    }
    if let Some(b) = t.clear_node_high_bit {
        put("totem.clear_node_high_bit", yes_no(b));
    }
    for (k, v) in &t.timing {
        put(&format!("totem.{k}"), CmapValue::U32(*v));
    }
    for (k, v) in &t.knet_options {
        put(&format!("totem.{k}"), s(v.clone()));
    }
    for (n, i) in &t.interfaces {
        let p = format!("totem.interface.{n}.");
        let mut put_i = |k: &str, v: CmapValue| out.push((format!("{p}{k}"), v));
        if let Some(v) = &i.bindnetaddr {
            put_i("bindnetaddr", s(v.clone()));
        }
        if let Some(v) = &i.mcastaddr {
            put_i("mcastaddr", s(v.clone()));
        }
        put_i("mcastport", CmapValue::U16(i.mcastport));
        if let Some(v) = i.ttl {
            put_i("ttl", CmapValue::U8(v));
        }
        if let Some(b) = i.broadcast {
            put_i("broadcast", yes_no(b));
        }
        if let Some(v) = i.knet_link_priority {
            put_i("knet_link_priority", CmapValue::U8(v));
        }
        for (k, v) in [
            ("knet_ping_interval", i.knet_ping_interval),
            ("knet_ping_timeout", i.knet_ping_timeout),
            ("knet_ping_precision", i.knet_ping_precision),
            ("knet_pong_count", i.knet_pong_count.map(u32::from)),
        ] {
            if let Some(v) = v {
                put_i(k, CmapValue::U32(v));
            }
        }
        if let Some(v) = i.knet_transport {
            put_i("knet_transport", s(lower_debug(&v)));
        }
    }
    for (idx, n) in config.nodelist.iter().enumerate() {
        let p = format!("nodelist.node.{idx}.");
        out.push((format!("{p}nodeid"), CmapValue::U32(n.nodeid.get())));
        if let Some(name) = &n.name {
            out.push((format!("{p}name"), s(name.clone())));
        }
        out.push((format!("{p}ring0_addr"), s(n.ring0_addr.text.clone())));
        for (link, a) in &n.other_addrs {
            out.push((format!("{p}ring{link}_addr"), s(a.text.clone())));
        }
        if let Some(v) = n.quorum_votes {
            out.push((format!("{p}quorum_votes"), CmapValue::U32(v)));
        }
    }
    let q = &config.quorum;
    let mut put = |k: &str, v: CmapValue| out.push((format!("quorum.{k}"), v));
    if q.provider.is_some() {
        put("provider", s("corosync_votequorum"));
    }
    for (k, v) in [
        ("expected_votes", q.expected_votes),
        ("votes", q.votes),
        ("last_man_standing_window", q.last_man_standing_window),
        ("leaving_timeout", q.leaving_timeout),
    ] {
        if let Some(v) = v {
            put(k, CmapValue::U32(v));
        }
    }
    for (k, v) in [
        ("two_node", q.two_node),
        ("wait_for_all", q.wait_for_all),
        ("last_man_standing", q.last_man_standing),
        ("auto_tie_breaker", q.auto_tie_breaker),
        ("allow_downscale", q.allow_downscale),
        ("expected_votes_tracking", q.expected_votes_tracking),
    ] {
        if let Some(v) = v {
            put(k, CmapValue::U8(u8::from(v)));
        }
    }
    if let Some(atb) = &q.auto_tie_breaker_node {
        let text = match atb {
            TieBreaker::Lowest => "lowest".to_string(),
            TieBreaker::Highest => "highest".to_string(),
            TieBreaker::Nodes(ids) => ids.iter().map(|n| n.get().to_string()).collect::<Vec<_>>().join(" "),
        };
        put("auto_tie_breaker_node", s(text));
    }
    if let Some(d) = &q.device {
        if let Some(m) = &d.model {
            put("device.model", s(m.clone()));
        }
        for (k, v) in [("votes", d.votes), ("timeout", d.timeout), ("sync_timeout", d.sync_timeout)] {
            if let Some(v) = v {
                put(&format!("device.{k}"), CmapValue::U32(v));
            }
        }
        if let Some(b) = d.master_wins {
            put("device.master_wins", CmapValue::U8(u8::from(b)));
        }
        for (k, v) in &d.model_options {
            put(&format!("device.{k}"), s(v.clone()));
        }
    }
    log_settings(&mut out, "logging.", &config.logging.settings);
    for (name, sub) in &config.logging.logger_subsys {
        let p = format!("logging.logger_subsys.{name}.");
        out.push((format!("{p}subsys"), s(name.clone())));
        log_settings(&mut out, &p, &sub.settings);
    }
    let sys = &config.system;
    let mut put = |k: &str, v: CmapValue| out.push((format!("system.{k}"), v));
    if let Some(v) = &sys.qb_ipc_type {
        put("qb_ipc_type", s(v.clone()));
    }
    if let Some(b) = sys.sched_rr {
        put("sched_rr", yes_no(b));
    }
    if let Some(v) = &sys.priority {
        put("priority", s(v.clone()));
    }
    if let Some(v) = &sys.move_to_root_cgroup {
        put("move_to_root_cgroup", s(v.clone()));
    }
    if let Some(b) = sys.allow_knet_handle_fallback {
        put("allow_knet_handle_fallback", yes_no(b));
    }
    if let Some(v) = &sys.state_dir {
        put("state_dir", s(v.clone()));
    }
    for (k, v) in &config.resources {
        out.push((format!("resources.{k}"), s(v.clone())));
    }
    // Numeric uidgid entries; names are added by the node from the resolved policy.
    for e in &config.uidgid {
        if let Principal::Id(id) = e.who {
            let kind = if e.kind == UidGidKind::Uid { "uid" } else { "gid" };
            out.push((format!("uidgid.config.{kind}.{id}"), CmapValue::U8(1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corosync_names_and_types() {
        let text = "totem {\n version: 2\n cluster_name: demo\n token: 3000\n config_version: 7\n crypto_cipher: none\n crypto_hash: none\n interface {\n  linknumber: 0\n  mcastport: 5405\n }\n}\nnodelist {\n node {\n  nodeid: 1\n  name: a\n  ring0_addr: 127.0.0.1\n }\n node {\n  nodeid: 2\n  ring0_addr: 127.0.0.2\n  quorum_votes: 2\n }\n}\nquorum {\n provider: corosync_votequorum\n two_node: 0\n}\nlogging {\n debug: off\n logger_subsys {\n  subsys: QDEVICE\n  debug: on\n }\n}\nuidgid {\n gid: 189\n}\n";
        let config = quorumd_config::parse_str(text, "test.conf").unwrap();
        let keys: std::collections::BTreeMap<_, _> = config_keys(&config).into_iter().collect();
        let get = |k: &str| keys.get(k).cloned();
        assert_eq!(get("totem.version"), Some(CmapValue::U32(2)));
        assert_eq!(get("totem.cluster_name"), Some(s("demo")));
        assert_eq!(get("totem.token"), Some(CmapValue::U32(3000)));
        assert_eq!(get("totem.config_version"), Some(CmapValue::U64(7)));
        assert_eq!(get("totem.transport"), Some(s("knet")));
        assert_eq!(get("totem.interface.0.mcastport"), Some(CmapValue::U16(5405)));
        assert_eq!(get("nodelist.node.0.nodeid"), Some(CmapValue::U32(1)));
        assert_eq!(get("nodelist.node.0.name"), Some(s("a")));
        assert_eq!(get("nodelist.node.1.ring0_addr"), Some(s("127.0.0.2")));
        assert_eq!(get("nodelist.node.1.quorum_votes"), Some(CmapValue::U32(2)));
        assert_eq!(get("quorum.provider"), Some(s("corosync_votequorum")));
        assert_eq!(get("quorum.two_node"), Some(CmapValue::U8(0)));
        assert_eq!(get("logging.debug"), Some(s("off")));
        assert_eq!(get("logging.logger_subsys.QDEVICE.debug"), Some(s("on")));
        assert_eq!(get("uidgid.config.gid.189"), Some(CmapValue::U8(1)));
    }
}
