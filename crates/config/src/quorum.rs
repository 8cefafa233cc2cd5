//! The `quorum { … }` section (corosync-behaviour §3.1, §3.8): typed values for the votequorum keys plus
//! the ordered list of every setting as written, so the votequorum layer can apply its own
//! rules (defaults that follow other keys, forbidden combinations) and cite lines.

use std::collections::BTreeMap;

use quorumd_proto::NodeId;

use crate::ctx::{unknown_key, unknown_section, Ctx};
use crate::error::{ConfigError, Location};
use crate::syntax::{Item, Section};
use crate::value::{flag01, invalid, non_empty, one_of, u32_value};

/// The keys of `quorum { }`.
pub const QUORUM_KEYS: &[&str] = &[
    "provider",
    "expected_votes",
    "votes",
    "two_node",
    "wait_for_all",
    "last_man_standing",
    "last_man_standing_window",
    "auto_tie_breaker",
    "auto_tie_breaker_node",
    "allow_downscale",
    "expected_votes_tracking",
    "leaving_timeout",
];

/// The keys of `quorum { device { } }` itself (its subsections belong to the device model).
pub const DEVICE_KEYS: &[&str] = &["model", "votes", "timeout", "sync_timeout", "master_wins"];

/// `quorum.provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuorumProvider {
    /// `corosync_votequorum`.
    Votequorum,
}

/// `quorum.auto_tie_breaker_node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TieBreaker {
    /// `lowest` (the default): the partition with the lowest node id wins a tie.
    Lowest,
    /// `highest`.
    Highest,
    /// A space-separated list of node ids, in order of preference.
    Nodes(Vec<NodeId>),
}

/// One `key: value` of the quorum section as written, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The key relative to `quorum.`: `two_node`, `device.votes`, `device.net.host`.
    pub key: String,
    /// The value as written.
    pub value: String,
    /// Where it was written.
    pub at: Location,
}

/// `quorum { device { } }`: parsed and type-checked; whether it is supported is decided later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumDevice {
    /// `model` (`net`).
    pub model: Option<String>,
    /// `votes`.
    pub votes: Option<u32>,
    /// `timeout` (ms).
    pub timeout: Option<u32>,
    /// `sync_timeout` (ms).
    pub sync_timeout: Option<u32>,
    /// `master_wins`.
    pub master_wins: Option<bool>,
    /// The model's own keys, flattened: `net.host` → `qnetd.example.com`.
    pub model_options: BTreeMap<String, String>,
    /// Where the (first) block opened.
    pub at: Location,
}

/// The `quorum { }` section. `None` means "not set": votequorum applies its defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quorum {
    /// `provider`; no provider means no quorum (QUORUM_FREE, corosync-behaviour §5.2).
    pub provider: Option<QuorumProvider>,
    /// `expected_votes`.
    pub expected_votes: Option<u32>,
    /// `votes` (deprecated; only used without a nodelist).
    pub votes: Option<u32>,
    /// `two_node`.
    pub two_node: Option<bool>,
    /// `wait_for_all`.
    pub wait_for_all: Option<bool>,
    /// `last_man_standing`.
    pub last_man_standing: Option<bool>,
    /// `last_man_standing_window` (ms).
    pub last_man_standing_window: Option<u32>,
    /// `auto_tie_breaker`.
    pub auto_tie_breaker: Option<bool>,
    /// `auto_tie_breaker_node`.
    pub auto_tie_breaker_node: Option<TieBreaker>,
    /// `allow_downscale`.
    pub allow_downscale: Option<bool>,
    /// `expected_votes_tracking`.
    pub expected_votes_tracking: Option<bool>,
    /// `leaving_timeout` (parsed, unused, as in corosync).
    pub leaving_timeout: Option<u32>,
    /// `device { }`.
    pub device: Option<QuorumDevice>,
    /// Every setting as written, in file order (a key set twice appears twice).
    pub settings: Vec<Setting>,
}

const SECTION: &str = "quorum";
const DEVICE: &str = "quorum.device";

/// Builds `quorum` from every top-level `quorum` section.
pub(crate) fn build(sections: &[&Section], ctx: &mut Ctx) -> Result<Quorum, ConfigError> {
    let mut q = Quorum::default();
    for section in sections {
        for item in section.items() {
            ctx.note(SECTION, SECTION, item);
            apply_key(&mut q, item)?;
            q.settings.push(Setting {
                key: item.key.clone(),
                value: item.value.clone(),
                at: item.at.clone(),
            });
        }
        for sub in section.sections() {
            if sub.name != "device" {
                return Err(unknown_section(SECTION, sub, &["device"]));
            }
            build_device(&mut q, sub, ctx)?;
        }
    }
    Ok(q)
}

fn apply_key(q: &mut Quorum, item: &Item) -> Result<(), ConfigError> {
    match item.key.as_str() {
        // An unknown provider is an error here; corosync fails later, when the service loads.
        "provider" => {
            q.provider = Some(one_of(item, SECTION, &[("corosync_votequorum", QuorumProvider::Votequorum)])?)
        }
        "expected_votes" => q.expected_votes = Some(u32_value(item, SECTION)?),
        "votes" => q.votes = Some(u32_value(item, SECTION)?),
        "two_node" => q.two_node = Some(flag01(item, SECTION)?),
        "wait_for_all" => q.wait_for_all = Some(flag01(item, SECTION)?),
        "last_man_standing" => q.last_man_standing = Some(flag01(item, SECTION)?),
        "last_man_standing_window" => q.last_man_standing_window = Some(u32_value(item, SECTION)?),
        "auto_tie_breaker" => q.auto_tie_breaker = Some(flag01(item, SECTION)?),
        "auto_tie_breaker_node" => q.auto_tie_breaker_node = Some(tie_breaker(item)?),
        "allow_downscale" => q.allow_downscale = Some(flag01(item, SECTION)?),
        "expected_votes_tracking" => q.expected_votes_tracking = Some(flag01(item, SECTION)?),
        "leaving_timeout" => q.leaving_timeout = Some(u32_value(item, SECTION)?),
        _ => return Err(unknown_key(SECTION, item, QUORUM_KEYS)),
    }
    Ok(())
}

/// `lowest`, `highest`, or space-separated node ids (corosync-behaviour §3.1).
fn tie_breaker(item: &Item) -> Result<TieBreaker, ConfigError> {
    let expected = "lowest, highest, or a space-separated list of node ids in 1..=65535";
    match item.value.as_str() {
        "lowest" => return Ok(TieBreaker::Lowest),
        "highest" => return Ok(TieBreaker::Highest),
        _ => {}
    }
    let mut ids = Vec::new();
    for word in item.value.split_whitespace() {
        let valid = word.bytes().all(|b| b.is_ascii_digit());
        let id = word.parse::<u32>().ok().filter(|_| valid).and_then(|raw| NodeId::new(raw).ok());
        ids.push(id.ok_or_else(|| invalid(item, SECTION, expected))?);
    }
    if ids.is_empty() {
        return Err(invalid(item, SECTION, expected));
    }
    Ok(TieBreaker::Nodes(ids))
}

fn build_device(q: &mut Quorum, section: &Section, ctx: &mut Ctx) -> Result<(), ConfigError> {
    let device = q.device.get_or_insert_with(|| QuorumDevice {
        model: None,
        votes: None,
        timeout: None,
        sync_timeout: None,
        master_wins: None,
        model_options: BTreeMap::new(),
        at: section.at.clone(),
    });
    for item in section.items() {
        ctx.note(DEVICE, DEVICE, item);
        match item.key.as_str() {
            "model" => device.model = Some(non_empty(item, DEVICE)?),
            "votes" => device.votes = Some(u32_value(item, DEVICE)?),
            "timeout" => device.timeout = Some(u32_value(item, DEVICE)?),
            "sync_timeout" => device.sync_timeout = Some(u32_value(item, DEVICE)?),
            "master_wins" => device.master_wins = Some(flag01(item, DEVICE)?),
            _ => return Err(unknown_key(DEVICE, item, DEVICE_KEYS)),
        }
        let key = format!("device.{}", item.key);
        q.settings.push(Setting { key, value: item.value.clone(), at: item.at.clone() });
    }
    for sub in section.sections() {
        flatten_model(sub, &sub.name, device, &mut q.settings, ctx);
    }
    Ok(())
}

/// The device model's own sections (`net { host: … }`) are the qdevice daemon's business:
/// kept flattened and unchecked. Depth is bounded by the parser's path limit.
fn flatten_model(
    section: &Section,
    prefix: &str,
    device: &mut QuorumDevice,
    settings: &mut Vec<Setting>,
    ctx: &mut Ctx,
) {
    for item in section.items() {
        ctx.note(&section.path, &section.path, item);
        let key = format!("{prefix}.{}", item.key);
        device.model_options.insert(key.clone(), item.value.clone());
        settings.push(Setting {
            key: format!("device.{key}"),
            value: item.value.clone(),
            at: item.at.clone(),
        });
    }
    for sub in section.sections() {
        flatten_model(sub, &format!("{prefix}.{}", sub.name), device, settings, ctx);
    }
}
