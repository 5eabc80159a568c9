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
use mailsec_core::HostName;
use mailsec_core::diag::quote;

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
            .map(|d| bulk::check_one(Arc::clone(&ctx), d, deadline, None))
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
        if let Some(path) = &args.html {
            let values = results.iter().map(|r| match r {
                Ok(report) => serde_json::to_value(report),
                Err(failure) => serde_json::to_value(failure.record(None)),
            });
            crate::cmd::html::write(path, &values.collect::<Result<Vec<_>, _>>()?)?;
        }
        Ok(Exit::from_errors(errors))
    })
}

/// What the checker needs, from the options.
async fn context(args: &CheckArgs, net_args: &NetArgs) -> anyhow::Result<mailsec_check::Context> {
    let probe = (!args.no_connect).then(|| {
        let mut p = mailsec_probe::ProbeConfig::new();
        p.ports = net_args.lab_ports.unwrap_or_default();
        p.tls_scan = args.tls_scan;
        p
    });
    Ok(mailsec_check::Context {
        resolver: net::resolver(net_args).await?,
        fetch: net::fetch_config(net_args)?,
        probe,
    })
}

/// A readable report, grouped by area (crate::cmd::report_text); `note` is printed under the
/// heading. Colour on a terminal.
pub(crate) fn print_report(
    out: &mut dyn Write,
    r: &DomainReport,
    note: Option<&str>,
) -> std::io::Result<()> {
    crate::cmd::report_text::print_report(
        out,
        r,
        note,
        crate::cmd::report_text::Style::for_stdout(),
    )
}
