//! `mailsec checks [ID]`: the check catalogue.

use std::io::Write;

use anyhow::bail;
use mailsec_core::Check;
use serde::Serialize;

use crate::cli::ChecksArgs;
use crate::exit::Exit;
use crate::output;

#[derive(Serialize)]
struct Entry {
    id: &'static str,
    title: &'static str,
}

pub(crate) fn run(args: ChecksArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let checks: Vec<Check> = match &args.id {
        Some(id) => match Check::from_id(id) {
            Some(c) => vec![c],
            None => bail!("unknown check `{id}` (see `mailsec checks`)"),
        },
        None => Check::ALL.to_vec(),
    };
    if args.json {
        let entries: Vec<Entry> = checks
            .iter()
            .map(|c| Entry {
                id: c.id(),
                title: c.title(),
            })
            .collect();
        output::json(out, &entries)?;
    } else {
        for c in checks {
            writeln!(out, "{:<4} {}", c.id(), c.title())?;
        }
    }
    Ok(Exit::Ok)
}
