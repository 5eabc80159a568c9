//! `mailsec sts lint` and `mailsec sts record`.

use std::io::Write;

use anyhow::Context;
use mailsec_core::diag::quote;
use mailsec_core::mta_sts::{self, Policy};
use mailsec_core::{Diagnostic, HostName, Linted};
use serde::Serialize;

use crate::cli::{NetArgs, RecordArgs, StsCommand, StsLintArgs};
use crate::cmd::{read_input, source_name};
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(cmd: StsCommand, net: &NetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match cmd {
        StsCommand::Lint(args) => lint(args, out),
        StsCommand::Record(args) => record(args, out),
        StsCommand::Fetch(args) => crate::cmd::sts_fetch::run(args, net, out),
        StsCommand::Publish(args) => crate::cmd::sts_publish::publish(args, net, out),
        StsCommand::Plan(args) => crate::cmd::sts_publish::plan(args, net, out),
    }
}

#[derive(Serialize)]
struct LintReport<'a> {
    source: &'a str,
    valid: bool,
    policy: Option<&'a Policy>,
    diagnostics: &'a [Diagnostic],
}

fn lint(args: StsLintArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mx_hosts = args
        .mx
        .iter()
        .map(|h| HostName::parse(h).with_context(|| format!("--mx {}: not a host name", quote(h))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let domain = args
        .domain
        .as_deref()
        .map(|d| {
            HostName::parse(d).with_context(|| format!("--domain {}: not a domain name", quote(d)))
        })
        .transpose()?;
    let body = read_input(&args.file)?;
    let source = source_name(&args.file);
    let Linted {
        parsed,
        mut diagnostics,
    } = mta_sts::lint_policy(&body);
    if let Some(policy) = &parsed {
        diagnostics.extend(mta_sts::lint_mx_coverage(
            policy,
            &mx_hosts,
            domain.as_ref(),
        ));
    }
    let valid = parsed.is_some() && !diagnostics.iter().any(Diagnostic::is_error);
    if args.json {
        output::json(
            out,
            &LintReport {
                source: &source,
                valid,
                policy: parsed.as_ref(),
                diagnostics: &diagnostics,
            },
        )?;
    } else {
        output::findings(out, &source, &diagnostics)?;
        match &parsed {
            Some(p) if valid => writeln!(
                out,
                "{source}: valid MTA-STS policy: mode {}, max_age {}, {} mx pattern{}",
                p.mode,
                output::duration(p.max_age.seconds()),
                p.mx.len(),
                if p.mx.len() == 1 { "" } else { "s" }
            )?,
            Some(_) => writeln!(
                out,
                "{source}: the policy parses but fails the checks above"
            )?,
            None => writeln!(
                out,
                "{source}: invalid MTA-STS policy: senders will ignore it"
            )?,
        }
    }
    Ok(Exit::from_errors(!valid))
}

#[derive(Serialize)]
struct RecordReport<'a, T> {
    valid: bool,
    record: Option<&'a T>,
    diagnostics: &'a [Diagnostic],
}

fn record(args: RecordArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let linted = mta_sts::lint_record_set(args.records.iter().map(|r| r.as_bytes()));
    let valid = linted.parsed.is_some();
    if args.json {
        output::json(
            out,
            &RecordReport {
                valid,
                record: linted.parsed.as_ref(),
                diagnostics: &linted.diagnostics,
            },
        )?;
        return Ok(Exit::from_errors(!valid));
    }
    output::findings(out, "record", &linted.diagnostics)?;
    match &linted.parsed {
        Some(r) => {
            writeln!(out, "valid MTA-STS record: {r}")?;
            writeln!(out, "  version  STSv1")?;
            writeln!(
                out,
                "  id       {}  (a new id tells senders to fetch the policy again)",
                r.id
            )?;
            for e in &r.extensions {
                writeln!(
                    out,
                    "  {:<8} {}  (extension, ignored by senders)",
                    e.name, e.value
                )?;
            }
        }
        None => writeln!(
            out,
            "invalid: senders see no MTA-STS policy for this domain"
        )?,
    }
    Ok(Exit::from_errors(!valid))
}
