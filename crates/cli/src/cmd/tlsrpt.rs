//! `mailsec tlsrpt record`.

use std::io::Write;

use mailsec_core::tlsrpt::{self, ReportUri, TlsRptRecord};
use mailsec_core::{Check, Diagnostic, Severity};
use serde::Serialize;

use crate::cli::{RecordArgs, TlsrptCommand};
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(cmd: TlsrptCommand, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match cmd {
        TlsrptCommand::Record(args) => record(args, out),
    }
}

#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    record: Option<&'a TlsRptRecord>,
    diagnostics: &'a [Diagnostic],
}

fn record(args: RecordArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    // RFC 8460 §3: of the records at the name, exactly one may begin with v=TLSRPTv1.
    let candidates: Vec<&String> = args
        .records
        .iter()
        .filter(|r| r.starts_with("v=TLSRPTv1"))
        .collect();
    let (parsed, mut diagnostics) = match candidates.as_slice() {
        [one] => {
            let l = tlsrpt::lint_record(one.as_bytes());
            (l.parsed, l.diagnostics)
        }
        [] if args.records.len() == 1 => {
            let l = tlsrpt::lint_record(args.records[0].as_bytes());
            (l.parsed, l.diagnostics)
        }
        [] => (
            None,
            vec![Diagnostic::new(
                Check::R1,
                Severity::Error,
                "no record begins with v=TLSRPTv1",
            )],
        ),
        many => (
            None,
            vec![Diagnostic::new(
                Check::R2,
                Severity::Error,
                format!(
                    "{} records begin with v=TLSRPTv1; senders require exactly one",
                    many.len()
                ),
            )],
        ),
    };
    for other in args.records.iter().filter(|r| !r.starts_with("v=TLSRPTv1")) {
        if args.records.len() > 1 {
            diagnostics.insert(
                0,
                Diagnostic::new(
                    Check::R3,
                    Severity::Warning,
                    format!("unrelated TXT record `{other}` is ignored"),
                ),
            );
        }
    }
    let valid = parsed.is_some();
    if args.json {
        output::json(
            out,
            &Report {
                valid,
                record: parsed.as_ref(),
                diagnostics: &diagnostics,
            },
        )?;
        return Ok(Exit::from_errors(!valid));
    }
    output::findings(out, "record", &diagnostics)?;
    match &parsed {
        Some(r) => {
            writeln!(out, "valid TLS-RPT record: {r}")?;
            for uri in &r.rua {
                match uri {
                    ReportUri::Mailto { address, .. } => {
                        writeln!(out, "  rua  mailto  reports are emailed to {address}")?
                    }
                    ReportUri::Https { uri, .. } => {
                        writeln!(out, "  rua  https   reports are POSTed to {uri}")?
                    }
                }
            }
            for e in &r.extensions {
                writeln!(out, "  {}={}  (extension, ignored)", e.name, e.value)?;
            }
        }
        None => writeln!(
            out,
            "invalid: senders will not send TLS reports for this domain"
        )?,
    }
    Ok(Exit::from_errors(!valid))
}
