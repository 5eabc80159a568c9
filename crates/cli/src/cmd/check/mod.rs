//! `mailsec check`: one domain, a few, or a list of any length (`bulk`), the closing summary
//! and `check summary` (`summary`), and the report printer shared with `mailsec demo`.

mod bulk;
mod summary;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use mailsec_check::DomainReport;
use mailsec_core::diag::quote;
use mailsec_core::{HostName, Severity};

use self::bulk::Failure;
pub(crate) use self::bulk::Shard;
use crate::cli::{CheckArgs, CheckCommand, NetArgs};
use crate::cmd::net;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(
    args: CheckArgs,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    if let Some(CheckCommand::Summary(summary_args)) = &args.command {
        return summary::command(summary_args, out);
    }
    if let Some(input) = &args.input {
        return bulk::run(&args, input, net_args, out);
    }
    // clap's `requires` is waived when the required argument conflicts with one given (DOMAIN
    // conflicts with --input), so this rule is kept here.
    let bulk_only = [
        ("--resume", args.resume.is_some()),
        ("--shard", args.shard.is_some()),
        ("--store", args.store.is_some()),
        ("--summary-json", args.summary_json.is_some()),
    ];
    if let Some((flag, _)) = bulk_only.iter().find(|(_, given)| *given) {
        bail!(
            "{flag} works with --input only (the list to check); DOMAIN arguments are checked alone"
        );
    }
    let domains = args
        .domains
        .iter()
        .map(|d| HostName::parse(d).with_context(|| format!("{} is not a domain name", quote(d))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let deadline = Duration::from_secs(args.deadline);
    net::runtime()?.block_on(async {
        let ctx = Arc::new(context(&args, net_args).await?);
        // Results in the order given, whatever order they finish in.
        let results: Vec<Result<DomainReport, Failure>> = futures_util::stream::iter(domains)
            .map(|d| bulk::check_one(Arc::clone(&ctx), d, deadline))
            .buffered(args.concurrency as usize)
            .collect()
            .await;
        let errors = results
            .iter()
            .any(|r| r.as_ref().map_or(true, |r| r.summary.errors > 0));
        if args.json {
            /// A report, or the error record of a domain that has none.
            #[derive(serde::Serialize)]
            #[serde(untagged)]
            enum Entry<'a> {
                Report(&'a DomainReport),
                Failed(bulk::FailureRecord<'a>),
            }
            let entries: Vec<Entry<'_>> = results
                .iter()
                .map(|r| match r {
                    Ok(report) => Entry::Report(report),
                    Err(failure) => Entry::Failed(failure.record(None)),
                })
                .collect();
            output::json(out, &entries)?;
        } else {
            for r in &results {
                match r {
                    Ok(report) => print_report(out, report, None)?,
                    Err(failure) => failure.print(out, None)?,
                }
            }
        }
        Ok(Exit::from_errors(errors))
    })
}

/// What the checker needs, from the options.
async fn context(args: &CheckArgs, net_args: &NetArgs) -> anyhow::Result<mailsec_check::Context> {
    let probe = (!args.no_connect).then(|| {
        let mut p = mailsec_probe::ProbeConfig::new();
        p.ports = net_args.lab_ports.unwrap_or_default();
        p
    });
    Ok(mailsec_check::Context {
        resolver: net::resolver(net_args).await?,
        fetch: net::fetch_config(net_args)?,
        probe,
    })
}

/// A readable report; `note` is printed under the heading.
pub(crate) fn print_report(
    out: &mut dyn Write,
    r: &DomainReport,
    note: Option<&str>,
) -> std::io::Result<()> {
    writeln!(out, "== {}", r.domain)?;
    if let Some(note) = note {
        writeln!(out, "   {note}")?;
    }
    let mx_sec = r
        .mx_security
        .map_or_else(|| "lookup failed".to_owned(), |s| s.to_string());
    if r.mx.is_empty() {
        writeln!(out, "   MX        none ({mx_sec})")?;
    }
    for m in &r.mx {
        let addr = m
            .address_security
            .map_or_else(|| "lookup failed".to_owned(), |s| s.to_string());
        writeln!(
            out,
            "   MX        {} {}  (MX {mx_sec}, address {addr})",
            m.preference, m.host
        )?;
        let dane = match m.dane {
            mailsec_check::DaneState::Required => {
                format!("required: {} usable of {}", m.usable_tlsa, m.tlsa.len())
            }
            mailsec_check::DaneState::UnusableRecords => {
                "TLSA present but none usable: TLS without authentication".to_owned()
            }
            mailsec_check::DaneState::NotApplicable => "does not apply".to_owned(),
            mailsec_check::DaneState::Failed => "TLSA lookup failed: senders defer".to_owned(),
        };
        writeln!(out, "     DANE    {dane}")?;
        for t in &m.tlsa {
            writeln!(out, "     TLSA    {}", abbreviate(t))?;
        }
        // What connecting showed, address by address.
        let connected = r
            .dane
            .iter()
            .flat_map(|d| &d.hosts)
            .filter(|h| h.host == m.host)
            .flat_map(|h| &h.results);
        for a in connected {
            writeln!(out, "     SMTP    {}", crate::cmd::dane::address_line(a))?;
        }
    }
    if let Some(v) = &r.verdict {
        writeln!(
            out,
            "   SENDER    a conformant sender (DANE first, then MTA-STS) would {}",
            crate::cmd::dane::verdict_words(v)
        )?;
    }
    match (&r.sts_record, &r.sts_policy) {
        (Some(rec), Some(p)) => writeln!(
            out,
            "   MTA-STS   id {}: mode {}, max_age {}, mx {}",
            rec.id,
            p.mode,
            output::duration(p.max_age.seconds()),
            p.mx.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )?,
        (Some(rec), None) => writeln!(out, "   MTA-STS   id {}: no usable policy", rec.id)?,
        _ => writeln!(out, "   MTA-STS   {}", r.summary.mta_sts)?,
    }
    match &r.tlsrpt {
        Some(t) => writeln!(
            out,
            "   TLS-RPT   {}",
            t.rua
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )?,
        None => writeln!(out, "   TLS-RPT   {}", r.summary.tls_rpt)?,
    }
    for f in &r.findings {
        let d = &f.diagnostic;
        let mark = match d.severity {
            Severity::Error => "error  ",
            Severity::Warning => "warning",
            Severity::Info => "info   ",
        };
        let line = d.line.map(|l| format!("line {l}: ")).unwrap_or_default();
        writeln!(
            out,
            "   {mark} [{}] {}: {line}{}",
            d.check, f.subject, d.message
        )?;
    }
    writeln!(
        out,
        "   => DANE {}; MTA-STS {}; TLS-RPT {}; {} error{}, {} warning{}",
        r.summary.dane,
        r.summary.mta_sts,
        r.summary.tls_rpt,
        r.summary.errors,
        if r.summary.errors == 1 { "" } else { "s" },
        r.summary.warnings,
        if r.summary.warnings == 1 { "" } else { "s" }
    )?;
    writeln!(out)
}

fn abbreviate(tlsa: &str) -> String {
    match tlsa.rsplit_once(' ') {
        Some((head, data)) if data.len() > 24 => {
            format!("{head} {}...{}", &data[..12], &data[data.len() - 8..])
        }
        _ => tlsa.to_owned(),
    }
}
