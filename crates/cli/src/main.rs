//! `mailsec`: MTA-STS, TLS-RPT and DANE for SMTP from the command line.
//!
//! A thin shell: arguments are parsed here, every parse and decision happens in
//! `mailsec-core`, and each command returns an [`exit::Exit`].

#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod exit;
mod output;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            // A closed pipe (`mailsec ... | head`) is not a failure.
            if err.chain().any(|e| {
                e.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return Exit::Ok.into();
            }
            let _ = writeln!(io::stderr(), "mailsec: {err:#}");
            Exit::Error.into()
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    let mut out = io::stdout().lock();
    match cli.command {
        Command::Sts(cmd) => cmd::sts::run(cmd, &mut out),
        Command::Tlsrpt(cmd) => cmd::tlsrpt::run(cmd, &mut out),
        Command::Tlsa(cmd) => cmd::tlsa::run(cmd, &mut out),
        Command::Checks(args) => cmd::checks::run(args, &mut out),
        Command::Check(args) => cmd::check::run(args, &cli.net, &mut out),
        Command::Dns(c) => cmd::dns::run(c, &cli.net, &mut out),
        Command::Lab(args) => cmd::lab::lab(args, &mut out),
        Command::Demo(args) => cmd::lab::demo(args, &mut out),
        Command::Completions { shell } => {
            cmd::docs::completions(shell, &mut out)?;
            Ok(Exit::Ok)
        }
        Command::Man { out_dir } => {
            cmd::docs::man(out_dir.as_deref(), &mut out)?;
            Ok(Exit::Ok)
        }
    }
}
