//! The `totem { … }` section: transport, crypto, link interfaces and
//! the timing keys. Timing values are kept as written; deriving effective timeouts is the
//! totem crate's job.

use std::collections::BTreeMap;

use quorumd_proto::NodeId;

use crate::ctx::{unknown_key, unknown_section, unsupported, Ctx};
use crate::error::{ConfigError, Location};
use crate::syntax::{Item, Section};
use crate::value::{invalid, non_empty, one_of, u32_value, u64_value, u8_value, uint, yes_no};

/// The default UDP port of link 0 (`mcastport`); link `L` defaults to `DEFAULT_MCASTPORT + L`,
/// as corosync's knet configuration does.
pub const DEFAULT_MCASTPORT: u16 = 5405;

/// knet's default `knet_pong_count` (corosync's `KNET_PONG_COUNT`).
pub const DEFAULT_PONG_COUNT: u8 = 2;

/// knet's default `knet_ping_precision` (corosync's `KNET_PING_PRECISION`).
pub const DEFAULT_PING_PRECISION: u32 = 2048;

/// knet's default `knet_link_priority`.
pub const DEFAULT_LINK_PRIORITY: u8 = 1;

/// Most links (`INTERFACE_MAX` in corosync): link numbers are `0..LINKS_MAX`.
pub const LINKS_MAX: u8 = 8;

/// The Totem timing keys this implementation knows; values are `u32`.
pub use quorumd_proto::totem_keys::TIMING_KEYS;

/// The non-timing keys of `totem { }`.
pub const TOTEM_KEYS: &[&str] = &[
    "version",
    "cluster_name",
    "transport",
    "crypto_cipher",
    "crypto_hash",
    "crypto_model",
    "secauth",
    "keyfile",
    "key",
    "nodeid",
    "ip_version",
    "link_mode",
    "netmtu",
    "config_version",
    "block_unlisted_ips",
    "clear_node_high_bit",
    "knet_compression_model",
    "knet_compression_threshold",
    "knet_compression_level",
    "knet_pmtud_interval",
    "knet_mtu",
    "cancel_token_hold_on_retransmit",
];

/// The keys of `totem { interface { } }`.
pub const INTERFACE_KEYS: &[&str] = &[
    "linknumber",
    "bindnetaddr",
    "mcastaddr",
    "mcastport",
    "ttl",
    "broadcast",
    "knet_link_priority",
    "knet_ping_interval",
    "knet_ping_timeout",
    "knet_ping_precision",
    "knet_pong_count",
    "knet_transport",
];

/// Timing keys quorumd accepts but does not use (each one warns).
// Deviation from corosync: corosync uses these (send_join, downcheck, miss_count_const) or
// keeps them for old transports; quorumd's Totem has no use for them.
pub const UNUSED_TIMING_KEYS: &[&str] =
    &["send_join", "downcheck", "max_network_delay", "heartbeat_failures_allowed", "miss_count_const"];

/// The warning for a key that is accepted and has no effect.
pub(crate) fn ignored(key: &str, why: &str) -> String {
    format!("'{key}' has no effect in quorumd: {why}")
}

/// `totem.transport`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// `knet` (the default in corosync 3).
    #[default]
    Knet,
    /// `udpu`: UDP unicast.
    Udpu,
    /// `udp`: UDP multicast.
    Udp,
}

impl Transport {
    /// The name as written in corosync.conf.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Knet => "knet",
            Transport::Udpu => "udpu",
            Transport::Udp => "udp",
        }
    }
}

/// `totem.crypto_cipher`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CryptoCipher {
    /// `none`.
    None,
    /// `aes256`.
    Aes256,
    /// `aes192`.
    Aes192,
    /// `aes128`.
    Aes128,
}

/// `totem.crypto_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CryptoHash {
    /// `none`.
    None,
    /// `md5`.
    Md5,
    /// `sha1`.
    Sha1,
    /// `sha256`.
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
}

/// `totem.ip_version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpVersion {
    /// `ipv4`.
    Ipv4,
    /// `ipv6`.
    Ipv6,
    /// `ipv4-6`: IPv4 first, then IPv6.
    Ipv4Then6,
    /// `ipv6-4`: IPv6 first, then IPv4.
    Ipv6Then4,
}

/// `totem.link_mode` (`passive` when not given, as in corosync).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkMode {
    /// `passive`: one link at a time, the connected one of highest priority.
    #[default]
    Passive,
    /// `active`: every connected link, duplicates suppressed by the receiver.
    Active,
    /// `rr`: round robin over the connected links.
    RoundRobin,
}

impl LinkMode {
    /// The name as written in corosync.conf.
    pub fn name(self) -> &'static str {
        match self {
            LinkMode::Passive => "passive",
            LinkMode::Active => "active",
            LinkMode::RoundRobin => "rr",
        }
    }
}

/// `totem.interface.knet_transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KnetTransport {
    /// `udp`.
    Udp,
    /// `sctp`.
    Sctp,
}

/// One `interface { }` block of `totem`, keyed by its link number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `linknumber` (0 when not given), `0..LINKS_MAX`.
    pub linknumber: u8,
    /// `bindnetaddr` (udp/udpu).
    pub bindnetaddr: Option<String>,
    /// `mcastaddr` (udp).
    pub mcastaddr: Option<String>,
    /// `mcastport`, `DEFAULT_MCASTPORT + linknumber` when not given.
    pub mcastport: u16,
    /// `ttl` (udp multicast).
    pub ttl: Option<u8>,
    /// `broadcast` (udp).
    pub broadcast: Option<bool>,
    /// `knet_link_priority` (higher is preferred; [`DEFAULT_LINK_PRIORITY`] when not given).
    pub knet_link_priority: Option<u8>,
    /// `knet_ping_interval` (ms); `None` (or 0 as written, as in corosync) derives it from
    /// the token.
    pub knet_ping_interval: Option<u32>,
    /// `knet_ping_timeout` (ms); `None` (or 0 as written) derives it from the token.
    pub knet_ping_timeout: Option<u32>,
    /// `knet_ping_precision` (accepted with a warning: the latency shown is not averaged).
    pub knet_ping_precision: Option<u32>,
    /// `knet_pong_count`, `1..=255`: answered pings needed before a link is up.
    pub knet_pong_count: Option<u8>,
    /// `knet_transport`.
    pub knet_transport: Option<KnetTransport>,
    /// Where the block opened.
    pub at: Location,
}

/// The `totem { }` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totem {
    /// `version`: required, and always 2.
    pub version: u32,
    /// `cluster_name`; corosync has no default (see [`crate::Config::cluster_id`]).
    pub cluster_name: Option<String>,
    /// `transport`, knet when not given.
    pub transport: Transport,
    /// `crypto_cipher` as written.
    pub crypto_cipher: Option<CryptoCipher>,
    /// `crypto_hash` as written.
    pub crypto_hash: Option<CryptoHash>,
    /// `crypto_model` (`nss`, `openssl`, …) as written.
    pub crypto_model: Option<String>,
    /// `secauth: on|off`.
    pub secauth: Option<bool>,
    /// `keyfile` (corosync's default is `/etc/corosync/authkey`).
    pub keyfile: Option<String>,
    /// `key`: an inline key (lower priority than `keyfile`).
    pub key: Option<String>,
    /// `nodeid`: this node's id, when not found through the nodelist.
    pub nodeid: Option<NodeId>,
    /// `ip_version`.
    pub ip_version: Option<IpVersion>,
    /// `link_mode`.
    pub link_mode: Option<LinkMode>,
    /// `netmtu`.
    pub netmtu: Option<u32>,
    /// `config_version`.
    pub config_version: Option<u64>,
    /// `block_unlisted_ips`.
    pub block_unlisted_ips: Option<bool>,
    /// `clear_node_high_bit`.
    pub clear_node_high_bit: Option<bool>,
    /// The `interface { }` blocks by link number.
    pub interfaces: BTreeMap<u8, Interface>,
    /// The timing keys of [`TIMING_KEYS`] that were set explicitly.
    pub timing: BTreeMap<String, u32>,
    /// Where each key of `timing` was (last) set: the value's line and column.
    pub timing_at: BTreeMap<String, Location>,
    /// Other known knet tuning keys, type-checked and kept as written.
    pub knet_options: BTreeMap<String, String>,
    /// Where the (first) `totem` section opened.
    pub at: Location,
}

impl Totem {
    /// An empty section at `at`, before any key is applied.
    fn empty(at: Location) -> Totem {
        Totem {
            version: 0,
            cluster_name: None,
            transport: Transport::Knet,
            crypto_cipher: None,
            crypto_hash: None,
            crypto_model: None,
            secauth: None,
            keyfile: None,
            key: None,
            nodeid: None,
            ip_version: None,
            link_mode: None,
            netmtu: None,
            config_version: None,
            block_unlisted_ips: None,
            clear_node_high_bit: None,
            interfaces: BTreeMap::new(),
            timing: BTreeMap::new(),
            timing_at: BTreeMap::new(),
            knet_options: BTreeMap::new(),
            at,
        }
    }

    /// The cipher and hash in force, as corosync 3.1.x decides them: `secauth: on`
    /// means aes256 + sha256, explicit `crypto_*` keys override it, the default is none/none.
    pub fn effective_crypto(&self) -> (CryptoCipher, CryptoHash) {
        let (cipher, hash) = match self.secauth {
            Some(true) => (CryptoCipher::Aes256, CryptoHash::Sha256),
            _ => (CryptoCipher::None, CryptoHash::None),
        };
        (self.crypto_cipher.unwrap_or(cipher), self.crypto_hash.unwrap_or(hash))
    }

    /// The interface of link `link`, if configured.
    pub fn interface(&self, link: u8) -> Option<&Interface> {
        self.interfaces.get(&link)
    }

    /// The port of link `link`: its `mcastport`, or `DEFAULT_MCASTPORT + link` (corosync's
    /// default for knet and udpu).
    pub fn mcastport(&self, link: u8) -> u16 {
        self.interface(link).map_or(DEFAULT_MCASTPORT.saturating_add(u16::from(link)), |i| i.mcastport)
    }

    /// `link_mode`, `passive` when not given.
    pub fn link_mode(&self) -> LinkMode {
        self.link_mode.unwrap_or_default()
    }
}

const SECTION: &str = "totem";
// Deviation from corosync: with transport udp corosync multicasts; quorumd always sends
// unicast to each nodelist address, so the multicast settings do nothing (a warning says so).
const MULTICAST: &str =
    "quorumd sends unicast datagrams to each node's ringN_addr, never multicast or broadcast";
const INTERFACE: &str = "totem.interface";

/// Builds `totem` from every top-level `totem` section (corosync merges repeated sections).
/// `eof` is where to point when there is no `totem` section at all.
pub(crate) fn build(sections: &[&Section], eof: &Location, ctx: &mut Ctx) -> Result<Totem, ConfigError> {
    let Some(first) = sections.first() else {
        return Err(ConfigError::MissingKey {
            at: eof.clone(),
            section: SECTION,
            key: "version",
            why: "corosync.conf needs a 'totem' section with 'version: 2'",
        });
    };
    let mut totem = Totem::empty(first.at.clone());
    let mut last_at: BTreeMap<&'static str, Location> = BTreeMap::new();
    for section in sections {
        for item in section.items() {
            ctx.note(SECTION, SECTION, item);
            let key = apply_key(&mut totem, item, ctx)?;
            last_at.insert(key, item.value_at());
        }
        for sub in section.sections() {
            if sub.name != "interface" {
                return Err(unknown_section(SECTION, sub, &["interface"]));
            }
            let interface = build_interface(sub, ctx, totem.interfaces.len())?;
            // Deviation from corosync: two interface blocks with one linknumber are an error;
            // corosync merges their keys.
            if let Some(old) = totem.interfaces.get(&interface.linknumber) {
                return Err(ConfigError::Duplicate {
                    at: sub.at.clone(),
                    what: "linknumber",
                    value: interface.linknumber.to_string(),
                    first_line: old.at.line,
                });
            }
            totem.interfaces.insert(interface.linknumber, interface);
        }
    }
    check(&totem, &last_at)?;
    Ok(totem)
}

/// Applies one item; returns the canonical key name it set.
fn apply_key(t: &mut Totem, item: &Item, ctx: &mut Ctx) -> Result<&'static str, ConfigError> {
    if let Some(&key) = TIMING_KEYS.iter().find(|k| **k == item.key) {
        if UNUSED_TIMING_KEYS.contains(&key) {
            ctx.warn(&item.at, ignored(key, "quorumd's Totem does not use it (udp unicast only; a missing message is requested one rotation after it was ordered)"));
        }
        t.timing.insert(key.to_string(), u32_value(item, SECTION)?);
        t.timing_at.insert(key.to_string(), item.value_at());
        return Ok(key);
    }
    let Some(&key) = TOTEM_KEYS.iter().find(|k| **k == item.key) else {
        let known: Vec<&'static str> = TOTEM_KEYS.iter().chain(TIMING_KEYS).copied().collect();
        return Err(unknown_key(SECTION, item, &known));
    };
    match key {
        "version" => t.version = u32_value(item, SECTION)?,
        "cluster_name" => t.cluster_name = Some(non_empty(item, SECTION)?),
        "transport" => t.transport = one_of(item, SECTION, TRANSPORTS)?,
        "crypto_cipher" => t.crypto_cipher = Some(one_of(item, SECTION, CIPHERS)?),
        "crypto_hash" => t.crypto_hash = Some(one_of(item, SECTION, HASHES)?),
        "secauth" => t.secauth = Some(yes_no(item, SECTION)?),
        "keyfile" => t.keyfile = Some(non_empty(item, SECTION)?),
        "key" => {
            t.key = Some(non_empty(item, SECTION)?);
            // Deviation from corosync: an inline key is refused (corosync uses it when there
            // is no keyfile); quorumd reads the key from a file whose owner and mode it checks.
            return Err(unsupported(
                item,
                "an inline key is not supported: put the key in a file named by 'keyfile'",
            ));
        }
        "nodeid" => t.nodeid = Some(node_id(item, SECTION)?),
        "link_mode" => t.link_mode = Some(one_of(item, SECTION, LINK_MODES)?),
        "block_unlisted_ips" => {
            t.block_unlisted_ips = Some(yes_no(item, SECTION)?);
            if t.block_unlisted_ips == Some(false) {
                let why = "quorumd always drops datagrams from addresses that are not in the nodelist";
                return Err(unsupported(item, why));
            }
        }
        "clear_node_high_bit" => {
            t.clear_node_high_bit = Some(yes_no(item, SECTION)?);
            ctx.warn(&item.at, ignored(&item.key, "it only applies to node ids derived from addresses, and quorumd requires every node's nodeid (as corosync ignores it when nodeids are given)"));
        }
        "crypto_model" => {
            t.crypto_model = Some(non_empty(item, SECTION)?);
            ctx.warn(&item.at, ignored(&item.key, "quorumd has one crypto implementation of its own"));
        }
        "ip_version" => {
            t.ip_version = Some(one_of(item, SECTION, IP_VERSIONS)?);
            ctx.warn(
                &item.at,
                ignored(
                    &item.key,
                    "host names in the nodelist are resolved in the order the system resolver gives",
                ),
            );
        }
        "netmtu" => {
            t.netmtu = Some(u32_value(item, SECTION)?);
            ctx.warn(
                &item.at,
                ignored(
                    &item.key,
                    "quorumd's datagrams are far below any path MTU and are never fragmented by quorumd",
                ),
            );
        }
        "config_version" => {
            t.config_version = Some(u64_value(item, SECTION)?);
            ctx.warn(
                &item.at,
                ignored(&item.key, "quorumd does not compare configuration versions between nodes"),
            );
        }
        _ => {
            check_knet_option(item)?;
            t.knet_options.insert(key.to_string(), item.value.clone());
            // Only the values that are what quorumd does anyway are accepted.
            let harmless = matches!(
                (key, item.value.as_str()),
                ("knet_compression_model", "none") | ("cancel_token_hold_on_retransmit", "no" | "off")
            );
            if !harmless {
                let why = if key == "cancel_token_hold_on_retransmit" {
                    "quorumd's Totem does not implement it (only 'no' is accepted)"
                } else if key == "knet_compression_model" {
                    "quorumd has its own UDP transport, without compression (only 'none' is accepted)"
                } else {
                    "quorumd has its own UDP transport, not knet: knet tuning is not supported"
                };
                return Err(unsupported(item, why));
            }
        }
    }
    Ok(key)
}

fn check_knet_option(item: &Item) -> Result<(), ConfigError> {
    match item.key.as_str() {
        "knet_compression_threshold" | "knet_pmtud_interval" | "knet_mtu" => {
            u32_value(item, SECTION).map(drop)
        }
        "cancel_token_hold_on_retransmit" => yes_no(item, SECTION).map(drop),
        "knet_compression_level" => {
            let digits = item.value.strip_prefix('-').unwrap_or(&item.value);
            let plain = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            match item.value.parse::<i32>() {
                Ok(_) if plain => Ok(()),
                _ => Err(invalid(item, SECTION, "an integer in -2147483648..=2147483647")),
            }
        }
        _ => non_empty(item, SECTION).map(drop),
    }
}

/// A node id, `1..=65535`.
pub(crate) fn node_id(item: &Item, section: &'static str) -> Result<NodeId, ConfigError> {
    let expected = "a node id in 1..=65535 (0 is reserved)";
    let raw = uint(item, section, 1, 65_535).map_err(|_| invalid(item, section, expected))?;
    u32::try_from(raw).ok().and_then(|r| NodeId::new(r).ok()).ok_or_else(|| invalid(item, section, expected))
}

const TRANSPORTS: &[(&str, Transport)] =
    &[("knet", Transport::Knet), ("udpu", Transport::Udpu), ("udp", Transport::Udp)];
const CIPHERS: &[(&str, CryptoCipher)] = &[
    ("none", CryptoCipher::None),
    ("aes256", CryptoCipher::Aes256),
    ("aes192", CryptoCipher::Aes192),
    ("aes128", CryptoCipher::Aes128),
];
const HASHES: &[(&str, CryptoHash)] = &[
    ("none", CryptoHash::None),
    ("md5", CryptoHash::Md5),
    ("sha1", CryptoHash::Sha1),
    ("sha256", CryptoHash::Sha256),
    ("sha384", CryptoHash::Sha384),
    ("sha512", CryptoHash::Sha512),
];
const IP_VERSIONS: &[(&str, IpVersion)] = &[
    ("ipv4", IpVersion::Ipv4),
    ("ipv6", IpVersion::Ipv6),
    ("ipv4-6", IpVersion::Ipv4Then6),
    ("ipv6-4", IpVersion::Ipv6Then4),
];
const LINK_MODES: &[(&str, LinkMode)] =
    &[("passive", LinkMode::Passive), ("active", LinkMode::Active), ("rr", LinkMode::RoundRobin)];
const KNET_TRANSPORTS: &[(&str, KnetTransport)] =
    &[("udp", KnetTransport::Udp), ("sctp", KnetTransport::Sctp)];

/// Builds one `interface { }` block; `index` numbers blocks for duplicate-key tracking.
fn build_interface(section: &Section, ctx: &mut Ctx, index: usize) -> Result<Interface, ConfigError> {
    if let Some(sub) = section.sections().next() {
        return Err(unknown_section(INTERFACE, sub, &[]));
    }
    let mut i = Interface {
        linknumber: 0,
        bindnetaddr: None,
        mcastaddr: None,
        mcastport: 0,
        ttl: None,
        broadcast: None,
        knet_link_priority: None,
        knet_ping_interval: None,
        knet_ping_timeout: None,
        knet_ping_precision: None,
        knet_pong_count: None,
        knet_transport: None,
        at: section.at.clone(),
    };
    let scope = format!("{INTERFACE}.{index}");
    let mut mcastport = None;
    for item in section.items() {
        ctx.note(&scope, INTERFACE, item);
        match item.key.as_str() {
            "linknumber" => {
                i.linknumber = u8_value(item, INTERFACE, 0, LINKS_MAX - 1)?;
            }
            "bindnetaddr" => {
                i.bindnetaddr = Some(non_empty(item, INTERFACE)?);
                let why = "the local address of link N is this node's ringN_addr (corosync too ignores bindnetaddr when there is a nodelist, which quorumd requires)";
                ctx.warn(&item.at, ignored(&item.key, why));
            }
            "mcastaddr" => {
                i.mcastaddr = Some(non_empty(item, INTERFACE)?);
                ctx.warn(&item.at, ignored(&item.key, MULTICAST));
            }
            "mcastport" => {
                // Port 0 is refused as corosync refuses it ("No multicast port specified").
                let port = uint(item, INTERFACE, 1, u64::from(u16::MAX))?;
                mcastport = u16::try_from(port).ok();
            }
            "ttl" => {
                i.ttl = Some(u8_value(item, INTERFACE, 0, u8::MAX)?);
                ctx.warn(&item.at, ignored(&item.key, MULTICAST));
            }
            "broadcast" => {
                i.broadcast = Some(yes_no(item, INTERFACE)?);
                ctx.warn(&item.at, ignored(&item.key, MULTICAST));
            }
            "knet_link_priority" => i.knet_link_priority = Some(u8_value(item, INTERFACE, 0, u8::MAX)?),
            // 0 means "derive it from the token", as in corosync.
            "knet_ping_interval" => {
                i.knet_ping_interval = Some(u32_value(item, INTERFACE)?).filter(|v| *v > 0)
            }
            "knet_ping_timeout" => i.knet_ping_timeout = Some(u32_value(item, INTERFACE)?).filter(|v| *v > 0),
            "knet_ping_precision" => {
                // knet refuses a precision of 0 (there would be no sample to average).
                let v = uint(item, INTERFACE, 1, u64::from(u32::MAX))?;
                i.knet_ping_precision = u32::try_from(v).ok();
                // Deviation from corosync: knet averages the link latency over this many
                // samples; quorumd shows the last heartbeat's round trip.
                let why = "the link latency shown is the last heartbeat's round trip, not an average";
                ctx.warn(&item.at, ignored(&item.key, why));
            }
            // Deviation from corosync: a pong count of 0 is an error (corosync silently takes
            // the default 2 then); knet's own range is 1..=255.
            "knet_pong_count" => i.knet_pong_count = Some(u8_value(item, INTERFACE, 1, u8::MAX)?),
            "knet_transport" => {
                i.knet_transport = Some(one_of(item, INTERFACE, KNET_TRANSPORTS)?);
                if i.knet_transport == Some(KnetTransport::Sctp) {
                    // Deviation from corosync: corosync 3.1.7 runs knet over SCTP (deprecated);
                    // quorumd's links are UDP only.
                    return Err(unsupported(
                        item,
                        "quorumd's links run over UDP only ('udp'); SCTP is not supported",
                    ));
                }
            }
            _ => return Err(unknown_key(INTERFACE, item, INTERFACE_KEYS)),
        }
    }
    i.mcastport = mcastport.unwrap_or(DEFAULT_MCASTPORT.saturating_add(u16::from(i.linknumber)));
    if let (Some(interval), Some(timeout)) = (i.knet_ping_interval, i.knet_ping_timeout) {
        if timeout <= interval {
            let at = last_value_at(section, "knet_ping_timeout");
            let reason = format!(
                "knet_ping_timeout ({timeout} ms) must be longer than knet_ping_interval ({interval} ms): \
                 a link would be declared down between two pings"
            );
            return Err(ConfigError::Inconsistent { at, reason });
        }
    }
    Ok(i)
}

/// Where the last `key` of `section` was written (its value), or the section.
fn last_value_at(section: &Section, key: &str) -> Location {
    section.items().filter(|i| i.key == key).last().map_or_else(|| section.at.clone(), Item::value_at)
}

/// Cross-key checks inside `totem`.
fn check(t: &Totem, last_at: &BTreeMap<&'static str, Location>) -> Result<(), ConfigError> {
    let at = |key: &str| last_at.get(key).cloned().unwrap_or_else(|| t.at.clone());
    if !last_at.contains_key("version") {
        return Err(ConfigError::MissingKey {
            at: t.at.clone(),
            section: SECTION,
            key: "version",
            why: "it is required and must be 2",
        });
    }
    if t.version != 2 {
        let reason = format!("totem version {} is not supported: only version 2 exists", t.version);
        return Err(ConfigError::Inconsistent { at: at("version"), reason });
    }
    let (cipher, hash) = t.effective_crypto();
    if cipher != CryptoCipher::None && hash == CryptoHash::None {
        let reason = "crypto_cipher requires crypto_hash with a value other than none".to_string();
        let key = if last_at.contains_key("crypto_cipher") { "crypto_cipher" } else { "secauth" };
        return Err(ConfigError::Inconsistent { at: at(key), reason });
    }
    if t.transport != Transport::Knet {
        if (cipher, hash) != (CryptoCipher::None, CryptoHash::None) {
            let reason = "crypto_cipher & crypto_hash are only valid for the knet transport".to_string();
            return Err(ConfigError::Inconsistent { at: at("transport"), reason });
        }
        if let Some(extra) = t.interfaces.values().find(|i| i.linknumber != 0) {
            let reason = format!("transport {} supports only link 0", t.transport.name());
            return Err(ConfigError::Inconsistent { at: extra.at.clone(), reason });
        }
    }
    if let Some(warning) = t.timing.get("token_warning").filter(|w| **w > 100) {
        let reason = format!("token_warning is a percentage of token: {warning} is over 100");
        return Err(ConfigError::Inconsistent { at: at("token_warning"), reason });
    }
    Ok(())
}
