//! `quorumtool man DIR`: the quorumtool(1) page, its NAME, SYNOPSIS, DESCRIPTION, OPTIONS and
//! COMMANDS generated from the clap definition (so they cannot drift from `--help`), one
//! `quorumtool <command>` synopsis per command, and the sections clap has no words for:
//! corosync-quorumtool's flags, EXIT STATUS, ENVIRONMENT, FILES, SIGNALS and SEE ALSO (which
//! names only pages `packaging/install.sh` installs).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::Cli;

/// The text sections after COMMANDS, in roff.
const EXTRA: &str = r#".SH "COROSYNC-QUORUMTOOL FLAGS"
When the first argument (after any \fB--socket\fR \fIPATH\fR) is one of corosync-quorumtool's
flags, quorumtool takes corosync-quorumtool's command line and prints its layout, so existing
scripts keep working:
\fB-s\fR (status, the default), \fB-l\fR (list the members), \fB-m\fR (print the status at each
change), \fB-e\fR \fIN\fR (set expected votes), \fB-v\fR \fIN\fR [\fB-n\fR \fIID\fR] (set votes;
this node without \fB-n\fR), \fB-p\fR (machine-parsable table: a Qdevice column), \fB-H\fR (node ids
in hexadecimal), \fB-i\fR (addresses instead of names), \fB-o\fR \fBa\fR|\fBn\fR|\fBi\fR (order by
address, name or node id), \fB-a\fR (every address: one per node here).
Their exit status is corosync-quorumtool's: 0 success (for \fB-s\fR: quorate), 2 not quorate, 1 any
failure. The \fBDate:\fR line is in UTC.
.SH "EXIT STATUS"
.TP
.B 0
success; for \fBstatus\fR and \fBexplain\fR: this node is quorate
.TP
.B 1
\fBstatus\fR, \fBexplain\fR: this node is not quorate (activity blocked)
.TP
.B 2
quorumd cannot be reached: not running, no socket, not ready yet (no membership), or gone
.TP
.B 3
permission denied: quorumd refuses this uid/gid (add a uidgid entry to corosync.conf)
.TP
.B 4
usage error, or any other error (e.g. the daemon rejected a change)
.TP
.B 5
\fBwhat-if\fR: the failure leaves more than one partition quorate (split brain)
.SH ENVIRONMENT
.TP
.B QUORUMD_SOCKET
The daemon's socket when \fB--socket\fR is not given (default \fI/run/quorumd/quorumd.sock\fR).
.TP
.B QUORUMD_LOG
Read by \fBquorumd\fR(8), not by quorumtool: the daemon's log filter.
.SH FILES
.TP
.I /run/quorumd/quorumd.sock
The daemon's client socket.
.TP
.I /etc/corosync/corosync.conf
The cluster configuration \fBwhat-if\fR reads by default, and \fBexplain --config\fR compares with.
.TP
.I /etc/corosync/uidgid.d/
Further \fBuidgid\fR entries: who may use the socket besides root.
.SH SIGNALS
\fBmonitor\fR (and \fB-m\fR) runs until SIGINT or SIGTERM, which end it at once; the other
commands do not wait for anything.
.SH "SEE ALSO"
\fBquorumd\fR(8)
"#;

/// Writes `quorumtool.1` into `dir`.
pub fn write_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let page = render()?;
    let path = dir.join("quorumtool.1");
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

/// The page.
pub fn render() -> Result<String> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let mut text = String::from_utf8(page)?;
    text.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("quorumtool {}", sub.get_name());
        let mut sub = sub.clone().bin_name(name.clone());
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").trim();
        let _ = writeln!(text, ".SS \"{}\"", escape(&name));
        let _ = writeln!(text, ".B {}", escape(usage));
        let _ = writeln!(text, ".br");
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            let _ = writeln!(text, "{}", escape(&about.to_string()));
        }
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let Some(help) = arg.get_help() else { continue };
            let mut flag = match (arg.get_short(), arg.get_long()) {
                (Some(s), Some(l)) => format!("\\fB-{s}\\fR, \\fB--{}\\fR", escape(l)),
                (None, Some(l)) => format!("\\fB--{}\\fR", escape(l)),
                (Some(s), None) => format!("\\fB-{s}\\fR"),
                (None, None) => String::new(),
            };
            let value = arg.get_value_names().map(|v| v.iter().map(|n| n.to_string()).collect::<Vec<_>>());
            if let Some(names) = value.filter(|_| arg.get_action().takes_values()) {
                let shown = names.join(" ");
                if flag.is_empty() {
                    flag = format!("\\fI{}\\fR", escape(&shown));
                } else {
                    let _ = write!(flag, " \\fI{}\\fR", escape(&shown));
                }
            }
            let _ = writeln!(text, ".TP\n{flag}\n{}", escape(&help.to_string()));
        }
    }
    text.push_str(EXTRA);
    Ok(text)
}

/// Escapes text for roff: backslashes, and a leading `.` or `'`.
fn escape(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}
