//! `mailsec tlsrpt record`.

use std::io::Write;

use mailsec_core::Diagnostic;
use mailsec_core::tlsrpt::{self, ReportUri, TlsRptRecord};
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
    let linted = tlsrpt::lint_record_set(args.records.iter().map(|r| r.as_bytes()));
    let (parsed, diagnostics) = (linted.parsed, linted.diagnostics);
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
