//! Shell completions and man pages, generated from the one command definition.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::Cli;

pub(crate) fn completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    // clap_complete panics when a write fails: generate into memory, then write (a closed pipe
    // is then an ordinary error).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pwprotect", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(0)
}

/// `pwprotect.1` on standard output, or it and one page per command (`pwprotect-breach-import.1`)
/// into `out_dir`.
pub(crate) fn man(out_dir: Option<&Path>) -> anyhow::Result<u8> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_pages(&cmd, dir)
                .with_context(|| format!("cannot write man pages to {}", dir.display()))?;
        }
        None => {
            let mut roff = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut roff)?;
            std::io::stdout().lock().write_all(&roff)?;
        }
    }
    Ok(0)
}

fn write_pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    std::fs::write(dir.join(man.get_filename()), roff)
}
