//! Whole files parsed into typed sections: realistic configurations and each section's keys.

use std::net::IpAddr;

use quorumd_config::{
    cluster_id_of, parse_str, parse_with_includes, CryptoCipher, CryptoHash, DebugLevel, Principal,
    QuorumProvider, TieBreaker, Timestamp, Transport, UidGidKind, DEFAULT_MCASTPORT,
};
use quorumd_proto::NodeId;

const THREE_NODES: &str = "\
# A production-like three node cluster.
totem {
    version: 2
    cluster_name: prod
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
    keyfile: /etc/corosync/authkey
    token: 3000
    token_coefficient: 650
    consensus: 3600
    join: 50
    interface {
        linknumber: 0
        mcastport: 5410
    }
}

nodelist {
    node {
        ring0_addr: 10.0.0.1
        name: alpha
        nodeid: 1
    }
    node {
        ring0_addr: 10.0.0.2
        name: beta
        nodeid: 2
        quorum_votes: 2
    }
    node {
        ring0_addr: gamma.example.com
        name: gamma
        nodeid: 65535
    }
}

quorum {
    provider: corosync_votequorum
    expected_votes: 4
    wait_for_all: 1
    last_man_standing: 1
    last_man_standing_window: 20000
    auto_tie_breaker: 1
    auto_tie_breaker_node: 2 1
    device {
        model: net
        votes: 1
        net {
            host: qnetd.example.com
            algorithm: ffsplit
        }
    }
}

logging {
    to_logfile: yes
    logfile: /var/log/cluster/corosync.log
    to_syslog: on
    syslog_facility: local3
    logfile_priority: error
    debug: off
    timestamp: hires
    logger_subsys {
        subsys: QUORUM
        debug: trace
    }
}

uidgid {
    uid: hacluster
    gid: 189
}

system {
    priority: -10
}
";

fn three_nodes() -> quorumd_config::Config {
    let c = parse_str(THREE_NODES, "corosync.conf").expect("valid config");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    c
}

#[test]
fn realistic_config_totem() {
    let c = three_nodes();
    let t = &c.totem;
    assert_eq!((t.version, t.cluster_name.as_deref(), t.transport), (2, Some("prod"), Transport::Knet));
    assert_eq!(t.effective_crypto(), (CryptoCipher::Aes256, CryptoHash::Sha256));
    assert_eq!(t.keyfile.as_deref(), Some("/etc/corosync/authkey"));
    let timing: Vec<(&str, u32)> = t.timing.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(timing, [("consensus", 3600), ("join", 50), ("token", 3000), ("token_coefficient", 650)]);
    assert!(t.interface(0).is_some());
    // A link without an interface block: corosync's default port for link L, 5405 + L.
    assert_eq!((t.mcastport(0), t.mcastport(1)), (5410, DEFAULT_MCASTPORT + 1));
    assert_eq!(c.cluster_id(), cluster_id_of("prod"));
}

#[test]
fn realistic_config_nodelist() {
    let c = three_nodes();
    assert_eq!(c.node_count(), 3);
    let ids: Vec<u32> = c.node_ids().iter().map(|n| n.get()).collect();
    assert_eq!(ids, [1, 2, 65535]);
    let alpha = c.node_by_id(NodeId::new(1).unwrap()).expect("node 1");
    assert_eq!(alpha.name.as_deref(), Some("alpha"));
    assert_eq!(alpha.ring0_addr.ip, Some("10.0.0.1".parse::<IpAddr>().unwrap()));
    assert_eq!(alpha.addr(1), None);
    assert_eq!(alpha.addr(2), None);
    let beta = c.node_by_name("beta").expect("beta");
    assert_eq!((beta.nodeid.get(), beta.votes()), (2, 2));
    assert_eq!(beta.ring0_addr.ip, Some("10.0.0.2".parse::<IpAddr>().unwrap()));
    let gamma = c.node_by_name("gamma").expect("gamma");
    assert_eq!((gamma.ring0_addr.text.as_str(), gamma.ring0_addr.ip), ("gamma.example.com", None));
    assert_eq!(c.nodelist_votes(), 4);
    assert_eq!(c.node_by_id(NodeId::new(3).unwrap()), None);
}

#[test]
fn realistic_config_quorum() {
    let c = three_nodes();
    let q = &c.quorum;
    assert!(c.has_votequorum());
    assert_eq!(q.provider, Some(QuorumProvider::Votequorum));
    assert_eq!((q.expected_votes, q.two_node, q.wait_for_all), (Some(4), None, Some(true)));
    assert_eq!((q.last_man_standing, q.last_man_standing_window), (Some(true), Some(20000)));
    let ids = vec![NodeId::new(2).unwrap(), NodeId::new(1).unwrap()];
    assert_eq!(q.auto_tie_breaker_node, Some(TieBreaker::Nodes(ids)));
    let device = q.device.as_ref().expect("device");
    assert_eq!((device.model.as_deref(), device.votes), (Some("net"), Some(1)));
    assert_eq!(device.model_options.get("net.host").map(String::as_str), Some("qnetd.example.com"));
    let keys: Vec<&str> = q.settings.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "provider",
            "expected_votes",
            "wait_for_all",
            "last_man_standing",
            "last_man_standing_window",
            "auto_tie_breaker",
            "auto_tie_breaker_node",
            "device.model",
            "device.votes",
            "device.net.host",
            "device.net.algorithm",
        ]
    );
    assert_eq!(q.settings[1].at.line, 40);
}

#[test]
fn realistic_config_logging_uidgid_system_resources() {
    let c = three_nodes();
    let l = &c.logging.settings;
    assert_eq!((l.to_logfile, l.to_syslog, l.to_stderr), (Some(true), Some(true), None));
    assert_eq!(l.logfile_priority.as_deref(), Some("err"));
    assert_eq!(l.syslog_facility.as_deref(), Some("local3"));
    assert_eq!((l.debug, l.timestamp), (Some(DebugLevel::Off), Some(Timestamp::Hires)));
    assert_eq!(c.logging.logger_subsys["QUORUM"].settings.debug, Some(DebugLevel::Trace));

    let who: Vec<(UidGidKind, Principal)> = c.uidgid.iter().map(|u| (u.kind, u.who.clone())).collect();
    assert_eq!(
        who,
        [(UidGidKind::Uid, Principal::Name("hacluster".into())), (UidGidKind::Gid, Principal::Id(189))]
    );
    assert_eq!(c.system.priority.as_deref(), Some("-10"));
    assert!(c.resources.is_empty());
}

/// A minimal two-node configuration as corosync's documentation shows it.
const EXAMPLE: &str = "\
totem {
    version: 2
    cluster_name: demo
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
}
quorum {
    provider: corosync_votequorum
    two_node: 1
}
nodelist {
    node {
        nodeid: 1
        name: n1
        ring0_addr: 10.0.0.1
    }
    node {
        nodeid: 2
        name: n2
        ring0_addr: 10.0.0.2
    }
}
logging {
    to_syslog: yes
    timestamp: on
}
";

#[test]
fn s5_2_the_spec_example_parses() {
    let c = parse_str(EXAMPLE, "corosync.conf").unwrap();
    assert!(c.warnings.is_empty());
    assert_eq!(c.quorum.two_node, Some(true));
    assert_eq!(c.quorum.wait_for_all, None, "votequorum decides that wait_for_all follows two_node");
    assert_eq!(c.node_count(), 2);
    assert_eq!(c.logging.settings.timestamp, Some(Timestamp::On));
    assert_eq!(c.cluster_id(), cluster_id_of("demo"));
}

fn with_totem(totem_body: &str) -> quorumd_config::Config {
    parse_str(&format!("totem {{\nversion: 2\n{totem_body}\n}}\n"), "f").unwrap()
}

#[test]
fn s5_3_secauth_and_explicit_crypto_keys() {
    assert_eq!(with_totem("").totem.effective_crypto(), (CryptoCipher::None, CryptoHash::None));
    assert_eq!(
        with_totem("secauth: on").totem.effective_crypto(),
        (CryptoCipher::Aes256, CryptoHash::Sha256)
    );
    assert_eq!(with_totem("secauth: off").totem.effective_crypto(), (CryptoCipher::None, CryptoHash::None));
    let c = with_totem("secauth: on\ncrypto_cipher: aes128");
    assert_eq!(c.totem.effective_crypto(), (CryptoCipher::Aes128, CryptoHash::Sha256));
    // A hash alone (authentication only) is allowed.
    let c = with_totem("crypto_hash: sha512");
    assert_eq!(c.totem.effective_crypto(), (CryptoCipher::None, CryptoHash::Sha512));
    // none/none is fine with udpu.
    let c = with_totem("transport: udpu\ncrypto_cipher: none\ncrypto_hash: none");
    assert_eq!(c.totem.transport, Transport::Udpu);
}

#[test]
fn s4_1_every_timing_key_is_a_u32() {
    for key in quorumd_config::TIMING_KEYS {
        // token_warning is a percentage (0..100).
        let max = if *key == "token_warning" { 100 } else { u32::MAX };
        let c = with_totem(&format!("{key}: {max}"));
        assert_eq!(c.totem.timing.get(*key), Some(&max), "{key}");
        let e = parse_str(&format!("totem {{\nversion: 2\n{key}: -1\n}}\n"), "f").unwrap_err();
        assert!(e.to_string().contains("expected an integer"), "{key}: {e}");
    }
    assert_eq!(quorumd_config::TIMING_KEYS.len(), 18);
}

#[test]
fn s3_1_quorum_keys_and_their_types() {
    let flags = ["two_node", "wait_for_all", "last_man_standing", "auto_tie_breaker", "allow_downscale"];
    for key in flags.iter().chain(&["expected_votes_tracking"]) {
        for bad in ["yes", "2", "on", "true", ""] {
            let text = format!("totem {{\nversion: 2\n}}\nquorum {{\n{key}: {bad}\n}}\n");
            assert!(parse_str(&text, "f").is_err(), "{key}: {bad} must be refused");
        }
    }
    let u32s = ["expected_votes", "votes", "last_man_standing_window", "leaving_timeout"];
    for key in u32s {
        let text = format!("totem {{\nversion: 2\n}}\nquorum {{\n{key}: 4294967295\n}}\n");
        assert!(parse_str(&text, "f").is_ok(), "{key}");
    }
    let tb = |v: &str| {
        let text = format!("totem {{\nversion: 2\n}}\nquorum {{\nauto_tie_breaker_node: {v}\n}}\n");
        parse_str(&text, "f").ok().and_then(|c| c.quorum.auto_tie_breaker_node)
    };
    assert_eq!(tb("lowest"), Some(TieBreaker::Lowest));
    assert_eq!(tb("highest"), Some(TieBreaker::Highest));
    assert_eq!(tb("3"), Some(TieBreaker::Nodes(vec![NodeId::new(3).unwrap()])));
    assert_eq!(tb("0"), None);
    assert_eq!(tb("+3"), None);
    assert_eq!(tb(""), None);
}

#[test]
fn s5_2_no_quorum_section_means_no_provider() {
    let c = with_totem("");
    assert!(!c.has_votequorum());
    assert_eq!(c.quorum.settings.len(), 0);
}

#[test]
fn s5_2_interface_defaults_and_link_limit() {
    let c = with_totem("interface {\nbindnetaddr: 10.0.0.0\n}");
    let i = c.totem.interface(0).unwrap();
    assert_eq!((i.linknumber, i.mcastport, i.bindnetaddr.as_deref()), (0, 5405, Some("10.0.0.0")));
    assert!(parse_str("totem {\nversion: 2\ninterface {\nlinknumber: 8\n}\n}\n", "f").is_err());
    // 1..=7 are link numbers; 8 is not one at all.
    let c = parse_str("totem {\nversion: 2\ninterface {\nlinknumber: 7\n}\n}\n", "f").unwrap();
    assert_eq!(c.totem.interface(7).map(|i| i.mcastport), Some(5412));
}

#[test]
fn s5_2_node_addresses_on_links_0_to_7() {
    let text = "totem {\nversion: 2\n}\nnodelist {\nnode {\nnodeid: 9\nname: n\nring0_addr: a\nring7_addr: b\n}\n}\n";
    let c = parse_str(text, "f").unwrap();
    assert_eq!(c.nodelist[0].addr(7).map(|a| a.text.as_str()), Some("b"));
    assert_eq!(c.nodelist[0].addr_location(7).line, 9);
    let e = parse_str(&text.replace("ring7", "ring10"), "f").unwrap_err().to_string();
    assert!(e.contains("unknown key 'ring10_addr'"), "{e}");
    assert!(parse_str(&text.replace("ring0_addr: a", "ring0_addr: a b"), "f").is_err());
}

#[test]
fn nodelist_may_hold_384_nodes_but_not_385() {
    let nodes = |n: u32| {
        let mut s =
            String::from("totem {\nversion: 2\n}\nquorum {\nprovider: corosync_votequorum\n}\nnodelist {\n");
        for i in 1..=n {
            s.push_str(&format!("node {{\nnodeid: {i}\nring0_addr: n{i}\n}}\n"));
        }
        s + "}\n"
    };
    assert_eq!(parse_str(&nodes(384), "f").map(|c| c.node_count()), Ok(384));
    let e = parse_str(&nodes(385), "f").unwrap_err();
    assert_eq!(e.to_string(), "f:1544: too many nodes: at most 384 are supported");
}

#[test]
fn s6_1_uidgid_from_main_file_and_drop_ins_in_order() {
    let main = ("corosync.conf", "totem {\nversion: 2\n}\nuidgid {\ngid: haclient\n}\n");
    let c =
        parse_with_includes(main, &[("uidgid.d/a", "uidgid {\nuid: 1000\n}\n"), ("uidgid.d/b", "# empty\n")])
            .unwrap();
    let who: Vec<(UidGidKind, Principal, &str, u32)> =
        c.uidgid.iter().map(|u| (u.kind, u.who.clone(), &*u.at.file, u.at.line)).collect();
    assert_eq!(
        who,
        [
            (UidGidKind::Gid, Principal::Name("haclient".into()), "corosync.conf", 5),
            (UidGidKind::Uid, Principal::Id(1000), "uidgid.d/a", 2),
        ]
    );
    let bad =
        |v: &str| parse_str(&format!("totem {{\nversion: 2\n}}\nuidgid {{\nuid: {v}\n}}\n"), "f").is_err();
    assert!(bad(""));
    assert!(bad("a b"));
    assert!(bad("99999999999"));
}

#[test]
fn logging_switches_take_yes_no_and_on_off() {
    let parse = |body: &str| parse_str(&format!("totem {{\nversion: 2\n}}\nlogging {{\n{body}\n}}\n"), "f");
    for (v, want) in [("yes", true), ("on", true), ("no", false), ("off", false)] {
        let c = parse(&format!("to_stderr: {v}\nfileline: {v}")).unwrap();
        assert_eq!((c.logging.settings.to_stderr, c.logging.settings.fileline), (Some(want), Some(want)));
    }
    assert!(parse("to_stderr: 1").is_err());
    assert!(parse("debug: yes").is_err());
    assert!(parse("syslog_priority: loud").is_err());
}

#[test]
fn system_priority_range() {
    let parse =
        |v: &str| parse_str(&format!("totem {{\nversion: 2\n}}\nsystem {{\npriority: {v}\n}}\n"), "f");
    for ok in ["max", "min", "-20", "19", "0"] {
        assert!(parse(ok).is_ok(), "{ok}");
    }
    for bad in ["-21", "20", "", "high", "--1"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn cluster_id_is_fnv1a_of_the_name_or_of_nothing() {
    assert_eq!(with_totem("").cluster_id(), 0x811c_9dc5);
    assert_eq!(with_totem("cluster_name: a").cluster_id(), 0xe40c_292c);
    assert!(parse_str("totem {\nversion: 2\ncluster_name:\n}\n", "f").is_err());
}
