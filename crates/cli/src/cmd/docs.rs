//! Shell completions and man pages, generated from the one command definition.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

pub(crate) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    clap_complete::generate(shell, &mut Cli::command(), "mailsec", out);
    Ok(())
}

pub(crate) fn man(out_dir: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write man pages to {}", dir.display()))?;
        }
        None => clap_mangen::Man::new(cmd).render(out)?,
    }
    Ok(())
}
