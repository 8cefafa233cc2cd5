//! Logging as corosync.conf's `logging { }` asks for it: to stderr, to a log file and to
//! syslog, each with its own priority, optional timestamps (`off`, `on`, `hires`), file and
//! line, the logging code's module, and `logger_subsys { subsys: … }` overrides per subsystem
//! (the event targets MAIN, TOTEM, QUORUM, IPC). Built from the tracing ecosystem's sinks:
//! tracing-appender for the file, syslog-tracing for syslog(3) and tracing-journald when
//! systemd's journal is there.
//!
//! Under systemd, messages reach the journal with their priority: when stderr is the journal
//! (`JOURNAL_STREAM` names stderr's device and inode) the stderr sink writes to the journal
//! natively, and `to_syslog` writes to the journal when its socket exists (else to syslog(3)).
//! When both would reach the journal, only the syslog one does, so no message appears twice.
//!
//! `QUORUMD_LOG` (a tracing filter such as `debug` or `info,TOTEM=trace`) overrides the
//! priorities of stderr and the log file (syslog keeps its configured `syslog_priority`, so a
//! debugging session does not flood the system log); the sinks still come from the
//! configuration.
//!
//! The configuration can change at run time ([`reload`]): the global subscriber is a switch
//! that forwards events to the subscriber built from the latest configuration.
// Deviation from corosync: `function_name: on` prints the Rust module path of the code that
// logged (Rust keeps no function names at run time); priorities `notice` and `info` are one
// level here (quorumd logs at error, warning, info, debug and trace).

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use anyhow::{anyhow, bail, Context, Result};
use quorumd_config::{DebugLevel, LogSettings, Logging, Timestamp};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// The log file written when `to_logfile: yes` names none (corosync's is
/// `/var/log/cluster/corosync.log`).
pub const DEFAULT_LOGFILE: &str = "/var/log/cluster/quorumd.log";

/// The environment variable whose tracing filter overrides every configured priority.
pub const ENV_FILTER: &str = "QUORUMD_LOG";

/// Where journald takes native messages.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// One destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Standard error.
    Stderr,
    /// The log file.
    File(PathBuf),
    /// syslog, with its facility.
    Syslog(String),
}

/// What the configuration asks for: each sink with its filter (tracing directives), and the
/// line format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The sinks in use and each one's filter.
    pub sinks: Vec<(Sink, String)>,
    /// `timestamp`.
    pub timestamp: Timestamp,
    /// `fileline`.
    pub fileline: bool,
    /// `function_name`.
    pub function_name: bool,
}

/// A corosync priority name (as the config crate canonicalises it) as a tracing level.
fn priority_level(priority: &str) -> &'static str {
    match priority {
        "emerg" | "alert" | "crit" | "err" => "error",
        "warning" => "warn",
        "debug" => "debug",
        // notice and info: quorumd's membership and quorum messages are logged at info.
        _ => "info",
    }
}

/// The sinks a settings block switches on or off (`None`: not said).
fn sink_switch(s: &LogSettings, sink: usize) -> Option<bool> {
    [s.to_stderr, s.to_logfile, s.to_syslog][sink]
}

/// The level of `sink` for settings `s` over `top` (a subsystem's block over the top level).
fn level(s: &LogSettings, top: &LogSettings, sink: usize) -> &'static str {
    match s.debug.or(top.debug) {
        Some(DebugLevel::Trace) => return "trace",
        Some(DebugLevel::On) => return "debug",
        _ => {}
    }
    let priority = if sink == 2 {
        s.syslog_priority.as_ref().or(top.syslog_priority.as_ref())
    } else {
        s.logfile_priority.as_ref().or(top.logfile_priority.as_ref())
    };
    priority.map_or("info", |p| priority_level(p))
}

impl Plan {
    /// The plan for `logging` (corosync's defaults: stderr and syslog on, file off, priority
    /// info, facility daemon, timestamps hires).
    pub fn new(logging: &Logging) -> Plan {
        let top = &logging.settings;
        let defaults = [true, false, true];
        let mut sinks = Vec::new();
        for (i, default) in defaults.into_iter().enumerate() {
            let on = sink_switch(top, i).unwrap_or(default);
            let mut directives = vec![if on { level(top, top, i) } else { "off" }.to_string()];
            let mut any = on;
            for (name, sub) in &logging.logger_subsys {
                let sub_on = sink_switch(&sub.settings, i).unwrap_or(on);
                any |= sub_on;
                let lvl = if sub_on { level(&sub.settings, top, i) } else { "off" };
                directives.push(format!("{name}={lvl}"));
            }
            if !any {
                continue;
            }
            let sink = match i {
                0 => Sink::Stderr,
                1 => Sink::File(PathBuf::from(top.logfile.as_deref().unwrap_or(DEFAULT_LOGFILE))),
                _ => Sink::Syslog(top.syslog_facility.clone().unwrap_or_else(|| "daemon".into())),
            };
            sinks.push((sink, directives.join(",")));
        }
        Plan {
            sinks,
            timestamp: top.timestamp.unwrap_or(Timestamp::Hires),
            fileline: top.fileline.unwrap_or(false),
            function_name: top.function_name.unwrap_or(false),
        }
    }

    /// The log file, if one is written.
    pub fn logfile(&self) -> Option<&Path> {
        self.sinks.iter().find_map(|(s, _)| match s {
            Sink::File(p) => Some(p.as_path()),
            _ => None,
        })
    }

    /// What `--check-config` can say without changing anything: the log file can be opened
    /// for appending (or created: its nearest existing directory is writable).
    pub fn check(&self) -> Result<()> {
        let Some(path) = self.logfile() else { return Ok(()) };
        let cannot = || format!("cannot open the log file {}", path.display());
        if path.exists() {
            if path.is_dir() {
                bail!("{}: it is a directory", cannot());
            }
            OpenOptions::new().append(true).open(path).with_context(cannot)?;
            return Ok(());
        }
        crate::check::creatable(path).with_context(cannot)
    }
}

/// The line format: `[timestamp] level [SUBSYS] [module] [file:line] message`, or for syslog
/// and the journal (which stamp and rank messages themselves) `[SUBSYS] message`.
#[derive(Clone, Debug)]
struct Line {
    timestamp: Timestamp,
    level: bool,
    fileline: bool,
    function_name: bool,
}

impl Line {
    fn new(plan: &Plan, full: bool) -> Line {
        let timestamp = if full { plan.timestamp } else { Timestamp::Off };
        Line { timestamp, level: full, fileline: plan.fileline, function_name: plan.function_name }
    }
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        if self.timestamp != Timestamp::Off {
            // RFC 3339 in UTC with microseconds, cut to seconds (on) or milliseconds (hires).
            let mut stamp = String::new();
            tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut stamp))?;
            let keep = if self.timestamp == Timestamp::On { 19 } else { 23 };
            write!(writer, "{}Z ", stamp.get(..keep).unwrap_or(&stamp))?;
        }
        if self.level {
            let name = match *meta.level() {
                tracing::Level::ERROR => "error",
                tracing::Level::WARN => "warning",
                tracing::Level::INFO => "info",
                tracing::Level::DEBUG => "debug",
                tracing::Level::TRACE => "trace",
            };
            write!(writer, "{name:<7} ")?;
        }
        write!(writer, "[{}] ", meta.target())?;
        if self.function_name {
            write!(writer, "{}: ", meta.module_path().unwrap_or("?"))?;
        }
        if self.fileline {
            write!(writer, "{}:{}: ", meta.file().unwrap_or("?"), meta.line().unwrap_or(0))?;
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// syslog(3) through syslog-tracing. It allows one instance per process; it is shared by the
/// subscribers built across reloads while the facility stays the same.
#[derive(Clone)]
struct SharedSyslog(Arc<syslog_tracing::Syslog>);

impl<'a> MakeWriter<'a> for SharedSyslog {
    type Writer = syslog_tracing::SyslogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.0.make_writer_for(meta)
    }
}

fn facility(name: &str) -> syslog_tracing::Facility {
    use syslog_tracing::Facility as F;
    match name {
        "local0" => F::Local0,
        "local1" => F::Local1,
        "local2" => F::Local2,
        "local3" => F::Local3,
        "local4" => F::Local4,
        "local5" => F::Local5,
        "local6" => F::Local6,
        "local7" => F::Local7,
        _ => F::Daemon,
    }
}

/// syslog's facility number, for the journal's `SYSLOG_FACILITY`.
fn facility_code(name: &str) -> u32 {
    match name.strip_prefix("local").and_then(|n| n.parse::<u32>().ok()) {
        Some(n) => 16 + n,
        None => 3, // daemon
    }
}

/// Whether stderr is connected to the journal: `JOURNAL_STREAM` is `device:inode` of the
/// stream systemd connected, and stderr must still be that stream.
fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else { return false };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else { return false };
    match rustix::fs::fstat(io::stderr()) {
        Ok(st) => st.st_dev == dev && st.st_ino == ino,
        Err(_) => false,
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The sinks currently open that must outlive one subscriber.
#[derive(Default)]
struct Open {
    syslog: Option<(String, SharedSyslog)>,
}

fn filter(directives: &str, sink: &Sink) -> Result<EnvFilter> {
    match std::env::var(ENV_FILTER) {
        Ok(over) if !over.trim().is_empty() && !matches!(sink, Sink::Syslog(_)) => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse(&over)
            .map_err(|e| anyhow!("{ENV_FILTER}={over}: {e}")),
        _ => EnvFilter::builder().parse(directives).map_err(|e| anyhow!("logging filter {directives}: {e}")),
    }
}

fn journald(facility: Option<&str>) -> Option<tracing_journald::Layer> {
    use tracing_journald::{Priority, PriorityMappings};
    let mappings = PriorityMappings {
        error: Priority::Error,
        warn: Priority::Warning,
        info: Priority::Notice,
        debug: Priority::Informational,
        trace: Priority::Debug,
    };
    let layer = tracing_journald::layer()
        .ok()?
        .with_syslog_identifier("quorumd".into())
        .with_priority_mappings(mappings);
    Some(match facility {
        Some(f) => layer.with_custom_fields([("SYSLOG_FACILITY", facility_code(f).to_string())]),
        None => layer,
    })
}

/// Builds the layers of `plan`, opening what it needs; `open` keeps syslog across reloads.
fn build(plan: &Plan, open: &mut Open) -> Result<Vec<BoxedLayer>> {
    let journal_socket = Path::new(JOURNAL_SOCKET).exists();
    let syslog_to_journal = journal_socket && plan.sinks.iter().any(|(s, _)| matches!(s, Sink::Syslog(_)));
    let mut layers: Vec<BoxedLayer> = Vec::new();
    let mut syslog_wanted = None;
    for (sink, directives) in &plan.sinks {
        let f = filter(directives, sink)?;
        match sink {
            Sink::Stderr if stderr_is_journal() => {
                if syslog_to_journal {
                    continue; // the syslog sink reaches the journal already
                }
                match journald(None) {
                    Some(j) => layers.push(j.with_filter(f).boxed()),
                    None => layers.push(fmt_layer(plan, false, io::stderr).with_filter(f).boxed()),
                }
            }
            Sink::Stderr => {
                let ansi = io::stderr().is_terminal();
                layers.push(fmt_layer(plan, true, io::stderr).with_ansi(ansi).with_filter(f).boxed());
            }
            Sink::File(path) => {
                let appender = open_logfile(path)?;
                layers.push(fmt_layer(plan, true, appender).with_filter(f).boxed());
            }
            Sink::Syslog(fac) if journal_socket => match journald(Some(fac)) {
                Some(j) => layers.push(j.with_filter(f).boxed()),
                None => syslog_wanted = Some((fac.clone(), f)),
            },
            Sink::Syslog(fac) => syslog_wanted = Some((fac.clone(), f)),
        }
    }
    match syslog_wanted {
        Some((fac, f)) => {
            let writer = match &open.syslog {
                Some((old, w)) if *old == fac => w.clone(),
                _ => {
                    // One syslog instance per process: the old one goes first.
                    open.syslog = None;
                    let ident = CString::new("quorumd").map_err(|e| anyhow!("{e}"))?;
                    let options = syslog_tracing::Options::LOG_PID;
                    let s = syslog_tracing::Syslog::new(ident, options, facility(&fac))
                        .ok_or_else(|| anyhow!("syslog is already open in this process"))?;
                    let w = SharedSyslog(Arc::new(s));
                    open.syslog = Some((fac.clone(), w.clone()));
                    w
                }
            };
            layers.push(fmt_layer(plan, false, writer).with_filter(f).boxed());
        }
        None => open.syslog = None,
    }
    Ok(layers)
}

fn fmt_layer<W>(
    plan: &Plan,
    full: bool,
    writer: W,
) -> tracing_subscriber::fmt::Layer<Registry, tracing_subscriber::fmt::format::DefaultFields, Line, W>
where
    W: for<'a> MakeWriter<'a> + 'static,
{
    tracing_subscriber::fmt::layer().event_format(Line::new(plan, full)).with_ansi(false).with_writer(writer)
}

/// Opens (appends to, creating if needed) the log file; the error names it.
fn open_logfile(path: &Path) -> Result<tracing_appender::rolling::RollingFileAppender> {
    let cannot = || format!("cannot open the log file {}", path.display());
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        bail!("{}: not a file path", cannot());
    };
    if path.is_dir() {
        bail!("{}: it is a directory", cannot());
    }
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    // The appender creates missing directories; a path that cannot be a file fails here.
    OpenOptions::new().create(true).append(true).open(path).with_context(cannot)?;
    let name = name.to_str().ok_or_else(|| anyhow!("{}: the name is not UTF-8", cannot()))?;
    tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::NEVER)
        .filename_prefix(name)
        .build(dir)
        .with_context(cannot)
}

/// The global subscriber: forwards every event to the subscriber of the latest plan. Spans
/// are not forwarded (quorumd logs events only), so a reload can never orphan one.
struct Switch {
    current: Arc<RwLock<Dispatch>>,
}

impl Subscriber for Switch {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Never cached: the filters change on reload.
        Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.current.read().map(|d| d.enabled(meta)).unwrap_or(false)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if let Ok(d) = self.current.read() {
            d.event(event);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

struct State {
    current: Arc<RwLock<Dispatch>>,
    open: std::sync::Mutex<Open>,
}

static STATE: OnceLock<State> = OnceLock::new();

fn dispatch(layers: Vec<BoxedLayer>) -> Dispatch {
    Dispatch::new(Registry::default().with(layers))
}

/// Sets up logging as `logging` asks; an error (a log file that cannot be opened) names what.
/// Called once at start.
pub fn init(logging: &Logging) -> Result<()> {
    let plan = Plan::new(logging);
    let mut open = Open::default();
    let layers = build(&plan, &mut open)?;
    let current = Arc::new(RwLock::new(dispatch(layers)));
    let state = State { current: Arc::clone(&current), open: std::sync::Mutex::new(open) };
    if STATE.set(state).is_err() {
        bail!("logging is already set up");
    }
    tracing::subscriber::set_global_default(Switch { current })
        .map_err(|e| anyhow!("cannot install the logger: {e}"))
}

/// Applies a new `logging` section; on an error (a log file that cannot be opened) the
/// logging in force is kept.
pub fn reload(logging: &Logging) -> Result<()> {
    let Some(state) = STATE.get() else { return init(logging) };
    let plan = Plan::new(logging);
    let mut open = state.open.lock().map_err(|_| anyhow!("logging state poisoned"))?;
    let changes_syslog = plan.sinks.iter().any(|(s, _)| match (s, &open.syslog) {
        (Sink::Syslog(f), Some((old, _))) => f != old,
        _ => false,
    });
    if changes_syslog {
        // The one syslog instance must be closed before another opens: log to the other sinks
        // meanwhile (test the file first so a failure keeps everything as it was).
        if let Some(path) = plan.logfile() {
            open_logfile(path)?;
        }
        let bare = Plan {
            sinks: plan.sinks.iter().filter(|(s, _)| !matches!(s, Sink::Syslog(_))).cloned().collect(),
            ..plan.clone()
        };
        let mut none = Open::default();
        let layers = build(&bare, &mut none)?;
        *state.current.write().map_err(|_| anyhow!("logging state poisoned"))? = dispatch(layers);
        open.syslog = None;
    }
    let layers = build(&plan, &mut open)?;
    *state.current.write().map_err(|_| anyhow!("logging state poisoned"))? = dispatch(layers);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        let config = quorumd_config::parse_str(&format!("totem {{\nversion: 2\n}}\n{text}"), "c").unwrap();
        Plan::new(&config.logging)
    }

    #[test]
    fn corosync_defaults_are_stderr_and_syslog_at_info() {
        let p = plan("");
        assert_eq!(p.sinks, [(Sink::Stderr, "info".into()), (Sink::Syslog("daemon".into()), "info".into())]);
        assert_eq!(p.timestamp, Timestamp::Hires);
    }

    #[test]
    fn each_sink_has_its_priority_and_subsystems_override() {
        let p = plan(
            "logging {\n to_stderr: no\n to_logfile: yes\n logfile: /tmp/q.log\n logfile_priority: warning\n \
             to_syslog: yes\n syslog_facility: local4\n syslog_priority: err\n logger_subsys {\n  subsys: TOTEM\n  \
             debug: on\n }\n logger_subsys {\n  subsys: IPC\n  to_syslog: no\n }\n}\n",
        );
        assert_eq!(
            p.sinks,
            [
                (Sink::File("/tmp/q.log".into()), "warn,IPC=warn,TOTEM=debug".into()),
                (Sink::Syslog("local4".into()), "error,IPC=off,TOTEM=debug".into()),
            ]
        );
    }

    #[test]
    fn a_subsystem_can_turn_on_a_sink_the_top_level_leaves_off() {
        let p = plan("logging {\n to_stderr: no\n to_syslog: no\n logger_subsys {\n  subsys: QUORUM\n  to_stderr: yes\n  debug: trace\n }\n}\n");
        assert_eq!(p.sinks, [(Sink::Stderr, "off,QUORUM=trace".into())]);
    }

    #[test]
    fn to_logfile_without_logfile_uses_the_default_path() {
        let p = plan("logging {\n to_logfile: yes\n}\n");
        assert_eq!(p.logfile(), Some(Path::new(DEFAULT_LOGFILE)));
    }

    /// Formats one event with `plan`'s line format through a fmt layer writing to a buffer.
    fn line(plan: &Plan, full: bool) -> String {
        #[derive(Clone, Default)]
        struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
        impl io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let layer = fmt_layer(plan, full, move || buf.clone());
        tracing::subscriber::with_default(Registry::default().with(layer), || {
            tracing::info!(target: "TOTEM", "a new ring");
        });
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn timestamps_follow_the_timestamp_key() {
        let off = line(&plan("logging {\n timestamp: off\n}\n"), true);
        assert_eq!(off, "info    [TOTEM] a new ring\n");
        let on = line(&plan("logging {\n timestamp: on\n}\n"), true);
        assert_eq!(on.len(), "2026-01-01T00:00:00Z info    [TOTEM] a new ring\n".len(), "{on}");
        let hires = line(&plan(""), true);
        assert_eq!(hires.len(), "2026-01-01T00:00:00.000Z info    [TOTEM] a new ring\n".len(), "{hires}");
        // syslog and the journal stamp and rank messages themselves.
        assert_eq!(line(&plan(""), false), "[TOTEM] a new ring\n");
    }

    #[test]
    fn fileline_and_function_name_add_where_it_was_logged() {
        let l = line(&plan("logging {\n timestamp: off\n fileline: on\n function_name: on\n}\n"), true);
        assert!(
            l.starts_with("info    [TOTEM] quorumd::logging::tests: crates/daemon/src/logging.rs:"),
            "{l}"
        );
    }

    #[test]
    fn a_log_file_that_cannot_be_opened_is_named() {
        let e = open_logfile(Path::new("/proc/version/quorumd.log")).unwrap_err();
        assert!(format!("{e:#}").starts_with("cannot open the log file /proc/version/quorumd.log"), "{e:#}");
        let e = open_logfile(Path::new("/tmp")).unwrap_err();
        assert!(format!("{e:#}").contains("it is a directory"), "{e:#}");
    }

    #[test]
    fn stderr_is_the_journal_only_when_journal_stream_names_it() {
        // The only reader of JOURNAL_STREAM in this binary is this function.
        let st = rustix::fs::fstat(io::stderr()).unwrap();
        std::env::set_var("JOURNAL_STREAM", format!("{}:{}", st.st_dev, st.st_ino));
        assert!(stderr_is_journal());
        std::env::set_var("JOURNAL_STREAM", format!("{}:{}", st.st_dev, st.st_ino.wrapping_add(1)));
        assert!(!stderr_is_journal());
        std::env::set_var("JOURNAL_STREAM", "garbage");
        assert!(!stderr_is_journal());
        std::env::remove_var("JOURNAL_STREAM");
        assert!(!stderr_is_journal());
    }

    #[test]
    fn journald_facility_codes() {
        assert_eq!((facility_code("daemon"), facility_code("local0"), facility_code("local7")), (3, 16, 23));
    }
}
