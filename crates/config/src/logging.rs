//! The `logging { … }` section (corosync-behaviour §5.2): where logs go, how verbose, and per-subsystem
//! overrides in `logger_subsys { subsys: QUORUM … }` blocks.

use std::collections::BTreeMap;

use crate::ctx::{unknown_key, unknown_section, Ctx};
use crate::error::{ConfigError, Location};
use crate::syntax::{Item, Section};
use crate::value::{non_empty, one_of, yes_no};

/// The keys of `logging { }` (a `logger_subsys` block takes the same keys plus `subsys`).
pub const LOGGING_KEYS: &[&str] = &[
    "to_stderr",
    "to_logfile",
    "to_syslog",
    "logfile",
    "logfile_priority",
    "syslog_facility",
    "syslog_priority",
    "debug",
    "timestamp",
    "fileline",
    "function_name",
    "blackbox",
];

/// `debug`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DebugLevel {
    /// `off`.
    Off,
    /// `on`.
    On,
    /// `trace`.
    Trace,
}

/// `timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timestamp {
    /// `off`.
    Off,
    /// `on`: seconds.
    On,
    /// `hires` (the default): milliseconds.
    Hires,
}

/// The settings shared by `logging` and each `logger_subsys`; `None` means "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// `to_stderr`.
    pub to_stderr: Option<bool>,
    /// `to_logfile`.
    pub to_logfile: Option<bool>,
    /// `to_syslog`.
    pub to_syslog: Option<bool>,
    /// `logfile`: the path.
    pub logfile: Option<String>,
    /// `logfile_priority` (a syslog priority name).
    pub logfile_priority: Option<String>,
    /// `syslog_facility` (corosync's default is `daemon`).
    pub syslog_facility: Option<String>,
    /// `syslog_priority`.
    pub syslog_priority: Option<String>,
    /// `debug`.
    pub debug: Option<DebugLevel>,
    /// `timestamp`.
    pub timestamp: Option<Timestamp>,
    /// `fileline`.
    pub fileline: Option<bool>,
    /// `function_name`.
    pub function_name: Option<bool>,
    /// `blackbox`.
    pub blackbox: Option<bool>,
}

/// One `logger_subsys { }` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerSubsys {
    /// `subsys` (required): `QUORUM`, `VOTEQ`, `TOTEM`, …
    pub subsys: String,
    /// The block's settings.
    pub settings: LogSettings,
    /// Where the block opened.
    pub at: Location,
}

/// The `logging { }` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logging {
    /// The top-level settings.
    pub settings: LogSettings,
    /// The `logger_subsys` blocks by subsystem name.
    pub logger_subsys: BTreeMap<String, LoggerSubsys>,
}

const SECTION: &str = "logging";
const SUBSYS: &str = "logging.logger_subsys";

const PRIORITIES: &[(&str, &str)] = &[
    ("emerg", "emerg"),
    ("alert", "alert"),
    ("crit", "crit"),
    ("err", "err"),
    ("error", "err"),
    ("warning", "warning"),
    ("notice", "notice"),
    ("info", "info"),
    ("debug", "debug"),
];

const FACILITIES: &[(&str, &str)] = &[
    ("daemon", "daemon"),
    ("local0", "local0"),
    ("local1", "local1"),
    ("local2", "local2"),
    ("local3", "local3"),
    ("local4", "local4"),
    ("local5", "local5"),
    ("local6", "local6"),
    ("local7", "local7"),
];

/// Builds `logging` from every top-level `logging` section.
pub(crate) fn build(sections: &[&Section], ctx: &mut Ctx) -> Result<Logging, ConfigError> {
    let mut logging = Logging::default();
    for section in sections {
        for item in section.items() {
            ctx.note(SECTION, SECTION, item);
            if !apply_key(&mut logging.settings, item, SECTION)? {
                return Err(unknown_key(SECTION, item, LOGGING_KEYS));
            }
        }
        for sub in section.sections() {
            if sub.name != "logger_subsys" {
                return Err(unknown_section(SECTION, sub, &["logger_subsys"]));
            }
            let block = build_subsys(sub, ctx, logging.logger_subsys.len())?;
            // Deviation from corosync: two logger_subsys blocks for one subsystem are an error;
            // corosync lets the later keys win.
            if let Some(old) = logging.logger_subsys.get(&block.subsys) {
                return Err(ConfigError::Duplicate {
                    at: block.at.clone(),
                    what: "logger_subsys",
                    value: block.subsys.clone(),
                    first_line: old.at.line,
                });
            }
            logging.logger_subsys.insert(block.subsys.clone(), block);
        }
    }
    Ok(logging)
}

fn build_subsys(section: &Section, ctx: &mut Ctx, index: usize) -> Result<LoggerSubsys, ConfigError> {
    if let Some(sub) = section.sections().next() {
        return Err(unknown_section(SUBSYS, sub, &[]));
    }
    let scope = format!("{SUBSYS}.{index}");
    let mut subsys = None;
    let mut settings = LogSettings::default();
    for item in section.items() {
        ctx.note(&scope, SUBSYS, item);
        if item.key == "subsys" {
            subsys = Some(non_empty(item, SUBSYS)?);
        } else if !apply_key(&mut settings, item, SUBSYS)? {
            let known: Vec<&'static str> =
                std::iter::once("subsys").chain(LOGGING_KEYS.iter().copied()).collect();
            return Err(unknown_key(SUBSYS, item, &known));
        }
    }
    let subsys = subsys.ok_or_else(|| ConfigError::MissingKey {
        at: section.at.clone(),
        section: SUBSYS,
        key: "subsys",
        why: "a logger_subsys block must name its subsystem",
    })?;
    Ok(LoggerSubsys { subsys, settings, at: section.at.clone() })
}

/// Applies a shared logging key; `Ok(false)` when the key is not one.
fn apply_key(s: &mut LogSettings, item: &Item, section: &'static str) -> Result<bool, ConfigError> {
    let debug = [("off", DebugLevel::Off), ("on", DebugLevel::On), ("trace", DebugLevel::Trace)];
    let stamp = [("off", Timestamp::Off), ("on", Timestamp::On), ("hires", Timestamp::Hires)];
    match item.key.as_str() {
        "to_stderr" => s.to_stderr = Some(yes_no(item, section)?),
        "to_logfile" => s.to_logfile = Some(yes_no(item, section)?),
        "to_syslog" => s.to_syslog = Some(yes_no(item, section)?),
        "logfile" => s.logfile = Some(non_empty(item, section)?),
        "logfile_priority" => s.logfile_priority = Some(one_of(item, section, PRIORITIES)?.to_string()),
        "syslog_facility" => s.syslog_facility = Some(one_of(item, section, FACILITIES)?.to_string()),
        "syslog_priority" => s.syslog_priority = Some(one_of(item, section, PRIORITIES)?.to_string()),
        "debug" => s.debug = Some(one_of(item, section, &debug)?),
        "timestamp" => s.timestamp = Some(one_of(item, section, &stamp)?),
        "fileline" => s.fileline = Some(yes_no(item, section)?),
        "function_name" => s.function_name = Some(yes_no(item, section)?),
        "blackbox" => s.blackbox = Some(yes_no(item, section)?),
        _ => return Ok(false),
    }
    Ok(true)
}
