//! `quorumtool man DIR`: man pages generated from the clap definition, so they cannot drift
//! from `--help`: `quorumtool.1` and `quorumtool-<command>.1` for each command.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::Cli;

/// Writes every page into `dir`.
pub fn write_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cmd = Cli::command();
    write_page(dir, "quorumtool", cmd.clone())?;
    for sub in cmd.get_subcommands() {
        // clap names are `&'static str` (without its `string` feature); a one-shot program
        // can afford to leak a dozen short strings.
        let name: &'static str = format!("quorumtool-{}", sub.get_name()).leak();
        write_page(dir, name, sub.clone().name(name))?;
    }
    Ok(())
}

fn write_page(dir: &Path, name: &str, cmd: clap::Command) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}
