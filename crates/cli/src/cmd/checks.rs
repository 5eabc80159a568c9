//! `mailsec checks [ID]`: the check catalogue, and the explanation of one check.

use std::io::Write;

use anyhow::bail;
use mailsec_core::Check;
use mailsec_core::diag::quote;
use serde::Serialize;

use crate::cli::ChecksArgs;
use crate::exit::Exit;
use crate::output;

/// Width of the explanation text.
const WIDTH: usize = 92;

#[derive(Serialize)]
struct Entry {
    id: &'static str,
    title: &'static str,
    explanation: &'static str,
    fix: &'static str,
    rfc: &'static str,
}

pub(crate) fn run(args: ChecksArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let checks: Vec<Check> = match &args.id {
        Some(id) => match Check::from_id(id) {
            Some(c) => vec![c],
            None => bail!("unknown check {} (see `mailsec checks`)", quote(id)),
        },
        None => Check::ALL.to_vec(),
    };
    if args.json {
        let entries: Vec<Entry> = checks
            .iter()
            .map(|c| Entry {
                id: c.id(),
                title: c.title(),
                explanation: c.explanation(),
                fix: c.fix(),
                rfc: c.rfc(),
            })
            .collect();
        output::json(out, &entries)?;
    } else if let [c] = checks.as_slice()
        && args.id.is_some()
    {
        writeln!(out, "{}  {}", c.id(), c.title())?;
        writeln!(out)?;
        paragraph(out, "", c.explanation())?;
        writeln!(out)?;
        paragraph(out, "Fix: ", c.fix())?;
        writeln!(out)?;
        paragraph(out, "Rule: ", c.rfc())?;
    } else {
        for c in checks {
            writeln!(out, "{:<4} {}", c.id(), c.title())?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "`mailsec checks ID` explains a check: what, why, the RFC rule and how to fix it."
        )?;
    }
    Ok(Exit::Ok)
}

/// `text` wrapped at [`WIDTH`] columns, indented by two spaces, starting with `label`.
fn paragraph(out: &mut dyn Write, label: &str, text: &str) -> std::io::Result<()> {
    let mut line = format!("  {label}");
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            writeln!(out, "{line}")?;
            line = "  ".to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    writeln!(out, "{line}")
}
