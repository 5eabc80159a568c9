//! TLS-RPT (RFC 8460 §3): the `_smtp._tls` record.

use mailsec_core::tlsrpt::{self, TlsRptRecord};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::{Resolver, Response};

use super::Findings;
use super::mx::lookup_failure;

/// Looks up and lints the record. `expected` (MTA-STS or DANE deployed) makes its absence a
/// warning rather than information. Returns the record and the summary (`yes`, `no`,
/// `invalid`, `unknown`).
pub(crate) async fn check(
    r: &Resolver,
    domain: &HostName,
    expected: bool,
    f: &mut Findings,
) -> (Option<TlsRptRecord>, &'static str) {
    let d = domain.as_str();
    // TLS-RPT (RFC 8460 §3).
    let mut tlsrpt_record = None;
    let summary = match r.txt(&format!("_smtp._tls.{d}")).await {
        Ok(Response::Records(a)) => {
            let concatenated: Vec<Vec<u8>> = a.records.iter().map(|t| t.concat()).collect();
            let l = tlsrpt::lint_record_set(concatenated.iter().map(Vec::as_slice));
            for diag in l.diagnostics {
                f.push("tls-rpt", diag);
            }
            tlsrpt_record = l.parsed;
            if tlsrpt_record.is_some() {
                "yes"
            } else {
                "invalid"
            }
        }
        Ok(_) => {
            let sev = if expected {
                Severity::Warning
            } else {
                Severity::Info
            };
            f.push_with_fix(
                "tls-rpt",
                Diagnostic::new(
                    Check::X3,
                    sev,
                    "no TLS-RPT record: failures will go unreported",
                ),
                format!(
                    "Publish `_smtp._tls.{d}. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{d}\"` (a mailbox that receives the reports; `mailsec tlsrpt record` checks the text)."
                ),
            );
            "no"
        }
        Err(e) => {
            f.push(
                "tls-rpt",
                lookup_failure(&e, "TXT", "senders cannot find where to report"),
            );
            "unknown"
        }
    };

    (tlsrpt_record, summary)
}
