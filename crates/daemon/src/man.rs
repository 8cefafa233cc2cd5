//! `quorumd man DIR`: the quorumd(8) page. NAME, SYNOPSIS, DESCRIPTION and OPTIONS come from the
//! clap definition (they cannot drift from `--help`); COMMANDS (`quorumd demo`), FILES, SIGNALS,
//! ENVIRONMENT, EXIT STATUS and SEE ALSO are written here. No SUBCOMMANDS section: clap would
//! name a page per subcommand (`quorumd-demo(8)`, `quorumd-help(8)`) that nobody installs.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::Cli;

const EXTRA: &str = r#".SH COMMANDS
.TP
.B quorumd demo
Runs a real 3-node cluster on 127.0.0.1, 127.0.0.2 and 127.0.0.3, walks it through failures
(a crash, a clean stop, a restart) and prints each callback a client receives; at the end it
prints each node's status, in the JSON of \fBquorumtool status \-\-json\fR.
.SH FILES
.TP
.I /etc/corosync/corosync.conf
The configuration (\fB\-\-config\fR).
.TP
.I /etc/corosync/uidgid.d/
Further \fBuidgid\fR entries, beside the configuration: users and groups that may use the
client socket besides root.
.TP
.I /etc/corosync/authkey
The key when \fBcrypto_cipher\fR/\fBcrypto_hash\fR are set (\fBtotem.keyfile\fR says otherwise);
it must be readable by root only.
.TP
.I /var/lib/quorumd/
The state directory (\fB\-\-state\-dir\fR): \fIringid_<nodeid>\fR, the ring sequence number
(kept above every ring this node used), and \fIev_tracking\fR, the tracked expected votes.
.TP
.I /run/quorumd/quorumd.sock
The client socket (\fB\-\-socket\fR, \fBQUORUMD_SOCKET\fR): libquorum.so.5 and \fBquorumtool\fR(1)
connect here.
.SH SIGNALS
.TP
.BR SIGTERM ", " SIGINT
Leave the cluster cleanly: the node says goodbye so the others re-form at once, then exits 0.
.SH ENVIRONMENT
.TP
.B QUORUMD_SOCKET
The client socket when \fB\-\-socket\fR is not given (default \fI/run/quorumd/quorumd.sock\fR).
.TP
.B QUORUMD_LOG
The log filter, in the syntax of tracing's EnvFilter: a level (\fBerror\fR, \fBwarn\fR,
\fBinfo\fR, \fBdebug\fR, \fBtrace\fR) or per-subsystem directives such as
\fBinfo,TOTEM=debug\fR. It overrides \fBlogging.debug\fR of the configuration.
.TP
.B NOTIFY_SOCKET
Set by systemd for \fBType=notify\fR: quorumd reports READY=1 after its first membership
(when clients can be served), then the ring and quorum state as STATUS=.
.SH "EXIT STATUS"
.TP
.B 0
Stopped cleanly (SIGTERM, SIGINT), or \fB\-\-check\-config\fR found the configuration valid.
.TP
.B 8
The configuration is invalid, or the service could not start or failed (as corosync's exit
status 8); the message on standard error says which and where.
.TP
.B 2
Usage error (an unknown option).
.SH "SEE ALSO"
\fBquorumtool\fR(1)
"#;

/// Writes `quorumd.8` into `dir`.
pub fn write(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let man = clap_mangen::Man::new(Cli::command()).section("8");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    page.extend_from_slice(EXTRA.as_bytes());
    let path = dir.join("quorumd.8");
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
