//! Shell completions and man pages, generated from the one command definition.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

pub(crate) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    // clap_complete panics when a write fails; write into memory, then out (a closed pipe is
    // then an ordinary error).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mailsec", &mut script);
    out.write_all(&script)?;
    Ok(())
}

pub(crate) fn man(out_dir: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_pages(&cmd, dir)
                .with_context(|| format!("cannot write man pages to {}", dir.display()))?;
        }
        None => out.write_all(&page(&cmd)?)?,
    }
    Ok(())
}

/// `mailsec.1`, then one page per subcommand (`mailsec-tlsa-generate.1`), as clap_mangen names
/// them.
fn write_pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    let name = clap_mangen::Man::new(cmd.clone()).get_filename();
    std::fs::write(dir.join(name), page(cmd)?)
}

/// One man page: clap_mangen's, with our own SYNOPSIS. clap_mangen's synopsis names options
/// without their values (`[--resolver]`) and a repeatable argument as a single one (`<DOMAIN>`).
fn page(cmd: &clap::Command) -> std::io::Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut roff)?;
    let text = String::from_utf8_lossy(&roff);
    const HEAD: &str = ".SH SYNOPSIS\n";
    let Some(start) = text.find(HEAD).map(|i| i + HEAD.len()) else {
        return Ok(roff);
    };
    let end = text[start..]
        .find("\n.SH ")
        .map_or(text.len(), |i| start + i + 1);
    Ok(format!("{}{}\n{}", &text[..start], synopsis(cmd), &text[end..]).into_bytes())
}

/// `\fBmailsec check\fR [\fB\-\-json\fR] [\fB\-\-resolver\fR \fIIP[:PORT]\fR] ... <\fIDOMAIN\fR>...`
fn synopsis(cmd: &clap::Command) -> String {
    let mut parts = vec![format!(
        "\\fB{}\\fR",
        escape(cmd.get_bin_name().unwrap_or_else(|| cmd.get_name()))
    )];
    for opt in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
    {
        let flag = match (opt.get_short(), opt.get_long()) {
            (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", escape(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", escape(l)),
            (None, None) => continue,
        };
        let value = if opt.get_num_args().is_some_and(|n| n.takes_values()) {
            format!(" \\fI{}\\fR", escape(&value_name(opt)))
        } else {
            String::new()
        };
        parts.push(if opt.is_required_set() {
            format!("{flag}{value}")
        } else {
            format!("[{flag}{value}]")
        });
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let (open, close) = if arg.is_required_set() {
            ("<", ">")
        } else {
            ("[", "]")
        };
        let repeat = if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
            "..."
        } else {
            ""
        };
        parts.push(format!(
            "{open}\\fI{}\\fR{close}{repeat}",
            escape(&value_name(arg))
        ));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        // `mailsec check` runs alone too: its subcommand (`summary`) is optional.
        parts.push(if cmd.is_subcommand_required_set() {
            "<\\fICOMMAND\\fR>".to_owned()
        } else {
            "[\\fICOMMAND\\fR]".to_owned()
        });
    }
    parts.join(" ")
}

/// What `--help` shows for the value: the value names, or the upper-case argument id.
fn value_name(arg: &clap::Arg) -> String {
    match arg.get_value_names() {
        Some(names) => names
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        None => arg.get_id().as_str().to_ascii_uppercase(),
    }
}

/// roff escapes for text: backslashes and hyphens (a plain `-` may render as a hyphen, not a
/// minus, and break copy and paste).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('-', "\\-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built() -> clap::Command {
        let mut cmd = Cli::command().disable_help_subcommand(true);
        cmd.build();
        cmd
    }

    #[test]
    fn synopsis_names_values_and_repetition() {
        let cmd = built();
        let check = cmd.find_subcommand("check").unwrap();
        let s = synopsis(check);
        assert!(s.starts_with("\\fBmailsec check\\fR "), "{s}");
        assert!(
            s.contains("[\\fB\\-\\-resolver\\fR \\fIIP[:PORT]\\fR]"),
            "{s}"
        );
        assert!(s.contains("[\\fB\\-\\-json\\fR]"), "{s}");
        // DOMAIN... or --input; `check summary` is an optional subcommand.
        assert!(s.ends_with("[\\fIDOMAIN\\fR]... [\\fICOMMAND\\fR]"), "{s}");
        let summary = synopsis(check.find_subcommand("summary").unwrap());
        assert!(summary.ends_with("<\\fISTORE\\fR>..."), "{summary}");
        let top = synopsis(&cmd);
        assert!(top.ends_with("<\\fICOMMAND\\fR>"), "{top}");
    }

    #[test]
    fn page_replaces_only_the_synopsis() {
        let cmd = built();
        let page = String::from_utf8(page(&cmd).unwrap()).unwrap();
        assert_eq!(page.matches(".SH SYNOPSIS\n").count(), 1);
        assert!(page.contains(".SH SYNOPSIS\n\\fBmailsec\\fR ["), "{page}");
        assert!(page.contains("\n.SH DESCRIPTION\n"), "{page}");
        assert!(page.contains("\n.SH OPTIONS\n"), "{page}");
    }
}
