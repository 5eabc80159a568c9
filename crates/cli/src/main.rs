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

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err).into(),
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        // A closed pipe (`mailsec ... | head`) is not a failure: end quietly.
        Err(err) if is_broken_pipe(&err) => Exit::Ok.into(),
        Err(err) => {
            let _ = writeln!(io::stderr(), "mailsec: {}", one_line(&err));
            Exit::Error.into()
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    let mut out = io::stdout().lock();
    let exit = match cli.command {
        Command::Sts(cmd) => cmd::sts::run(cmd, &cli.net, &mut out),
        Command::Tlsrpt(cmd) => cmd::tlsrpt::run(cmd, &mut out),
        Command::Tlsa(cmd) => cmd::tlsa::run(cmd, &cli.net, &mut out),
        Command::Checks(args) => cmd::checks::run(args, &mut out),
        Command::Check(args) => cmd::check::run(args, &cli.net, &mut out),
        Command::Dane(cmd) => cmd::dane::run(cmd, &cli.net, &mut out),
        Command::Dns(c) => cmd::dns::run(c, &cli.net, &mut out),
        Command::Lab(args) => cmd::lab::lab(args, &mut out),
        Command::Demo(args) => cmd::lab::demo(args, &mut out),
        Command::Web(args) => cmd::web::run(args, &cli.net, &mut out),
        Command::Daemon(args) => cmd::daemon::run(args, &cli.net, &mut out),
        Command::Serve(args) => cmd::serve::run(args, &mut out),
        Command::Completions { shell } => {
            cmd::docs::completions(shell, &mut out)?;
            Ok(Exit::Ok)
        }
        Command::Man { out_dir } => {
            cmd::docs::man(out_dir.as_deref(), &mut out)?;
            Ok(Exit::Ok)
        }
    }?;
    // Surface a failed final flush (a closed pipe) here rather than losing it in a drop.
    out.flush()?;
    Ok(exit)
}

/// Whether `err` comes from writing into a closed pipe. Rust ignores SIGPIPE, so every write to
/// stdout after the reader went away fails with EPIPE.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}

/// The error and its causes on one line, each cause once. Many error types show their source in
/// their own message *and* return it from `source()`; printing the chain naively says the OS
/// error twice ("cannot read X: No such file or directory: No such file or directory").
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Handles what clap returns instead of arguments: help and version go to stdout (exit 0);
/// a usage error becomes one line on stderr (exit 2), like every other error.
fn usage_error(err: &clap::Error) -> Exit {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Into a closed pipe (`mailsec --help | head -1`): nothing to report.
            let _ = err.print();
            Exit::Ok
        }
        // `mailsec` or `mailsec sts` alone: the help of that command, on stderr.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            Exit::Error
        }
        _ => {
            let _ = writeln!(io::stderr(), "mailsec: {}", usage_line(err));
            Exit::Error
        }
    }
}

/// clap's multi-line error (`error: ...`, tips, `Usage: ...`, `For more information ...`) as
/// `<message>[; tip: ...] (usage: mailsec CMD ...; try --help)`.
///
/// The usage is rendered from the command definition, not taken from clap's error: clap lists
/// the options it saw as used, and options filled from `MAILSEC_*` variables then show up as if
/// they were required (`Usage: mailsec check --resolver <IP[:PORT]> <DOMAIN>...`).
fn usage_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let mut message = String::new();
    let mut used = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage:") {
            used = Some(u.trim().to_owned());
        } else if line.starts_with("For more information") {
        } else {
            let line = line.strip_prefix("error:").map_or(line, str::trim);
            if !message.is_empty() {
                message.push_str(if message.ends_with(':') { " " } else { "; " });
            }
            message.push_str(line);
        }
    }
    match used.as_deref().and_then(clean_usage) {
        Some(usage) => format!("{message} (usage: {usage}; try --help)"),
        None => format!("{message} (try --help)"),
    }
}

/// The usage line of the (sub)command that `used` (clap's usage line) is about.
fn clean_usage(used: &str) -> Option<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut words = used.split_whitespace();
    if words.next()? != cmd.get_name() {
        return None;
    }
    let mut current = &mut cmd;
    for word in words {
        if current.find_subcommand(word).is_none() {
            break;
        }
        current = current.find_subcommand_mut(word)?;
    }
    let usage = current.render_usage().to_string();
    let usage = usage.trim();
    Some(
        usage
            .strip_prefix("Usage:")
            .map_or(usage, str::trim)
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_shown_in_the_message_are_not_repeated() {
        let os = io::Error::from(io::ErrorKind::NotFound);
        #[derive(Debug)]
        struct Shows(io::Error);
        impl std::fmt::Display for Shows {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot read X: {}", self.0)
            }
        }
        impl std::error::Error for Shows {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = anyhow::Error::new(Shows(os)).context("DNS");
        assert_eq!(one_line(&err), "DNS: cannot read X: entity not found");
        let err = anyhow::anyhow!("first\nsecond").context("outer");
        assert_eq!(one_line(&err), "outer: first second");
    }

    #[test]
    fn usage_errors_are_one_line_with_the_definition_usage() {
        let err = Cli::try_parse_from(["mailsec", "sts", "lint"]).unwrap_err();
        let line = usage_line(&err);
        assert_eq!(
            line,
            "the following required arguments were not provided: <FILE|-> \
             (usage: mailsec sts lint [OPTIONS] <FILE|->; try --help)"
        );
        let err = Cli::try_parse_from(["mailsec", "check", "--bogus", "x"]).unwrap_err();
        let line = usage_line(&err);
        assert!(
            line.starts_with("unexpected argument '--bogus' found; tip: "),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }
}
