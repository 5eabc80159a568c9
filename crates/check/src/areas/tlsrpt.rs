//! TLS-RPT (RFC 8460 §3): the `_smtp._tls` record.

use mailsec_core::tlsrpt::{self, ReportUri, TlsRptRecord};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::{Resolver, Response};

use super::Findings;
use super::mx::lookup_failure;
use crate::Area;

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
            let fix = format!(
                "Publish `_smtp._tls.{d}. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{d}\"` (a mailbox that receives the reports; `mailsec tlsrpt record` checks the text)."
            );
            // R1: the record is absent; advisory, it breaks no delivery.
            f.push_with_fix(
                "tls-rpt",
                Diagnostic::new(
                    Check::R1,
                    Severity::Info,
                    "no TLS-RPT record at _smtp._tls: senders have nowhere to report TLS failures",
                ),
                fix.clone(),
            );
            // X3: with MTA-STS or DANE deployed, failures that stop mail go unreported.
            if expected {
                f.push_with_fix(
                    "tls-rpt",
                    Diagnostic::new(
                        Check::X3,
                        Severity::Warning,
                        "MTA-STS or DANE without TLS-RPT: when they make senders refuse delivery, nobody is told",
                    ),
                    fix,
                );
            }
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

    if let Some(record) = &tlsrpt_record {
        // R16: still useful without a policy (senders report `no-policy-found`).
        if !expected {
            f.push(
                "tls-rpt",
                Diagnostic::new(
                    Check::R16,
                    Severity::Info,
                    "TLS-RPT without MTA-STS or DANE: senders can only report that no policy was found",
                ),
            );
        }
        // R14: a mailto: destination whose domain cannot receive mail loses every report.
        for uri in &record.rua {
            if let ReportUri::Mailto { address, .. } = uri
                && let Some((_, rua_domain)) = address.rsplit_once('@')
                && let Ok(Response::NxDomain { .. }) = r.mx(rua_domain).await
            {
                f.push(
                    "tls-rpt",
                    Diagnostic::new(
                        Check::R14,
                        Severity::Warning,
                        format!(
                            "reports to {} cannot be delivered: {rua_domain} does not exist",
                            mailsec_core::diag::quote(address)
                        ),
                    ),
                );
            }
        }
    }
    apex_records(r, domain, f).await;
    (tlsrpt_record, summary)
}

/// S5 and R3: an MTA-STS or TLS-RPT record published at the domain's apex instead of its own
/// name is never seen by senders (RFC 8461 §3.1, RFC 8460 §3).
async fn apex_records(r: &Resolver, domain: &HostName, f: &mut Findings) {
    let d = domain.as_str();
    let Ok(Response::Records(a)) = r.txt(d).await else {
        return;
    };
    for t in &a.records {
        let text = t.concat();
        if text.starts_with(b"v=STSv1") {
            f.area(Area::MtaSts);
            f.push_with_fix(
                "mta-sts",
                Diagnostic::new(
                    Check::S5,
                    Severity::Error,
                    format!("an MTA-STS record is published at {d} itself; senders look only at _mta-sts.{d}"),
                ),
                format!("Move the record to `_mta-sts.{d}.` and remove it from `{d}.`."),
            );
            f.area(Area::TlsRpt);
        }
        if text.starts_with(b"v=TLSRPTv1") {
            f.push_with_fix(
                "tls-rpt",
                Diagnostic::new(
                    Check::R3,
                    Severity::Warning,
                    format!("a TLS-RPT record is published at {d} itself; senders look only at _smtp._tls.{d}"),
                ),
                format!("Move the record to `_smtp._tls.{d}.` and remove it from `{d}.`."),
            );
        }
    }
}
