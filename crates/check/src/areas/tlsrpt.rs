//! TLS-RPT (RFC 8460 §3): the `_smtp._tls` record.

use mailsec_core::tlsrpt::{self, ReportUri, TlsRptRecord};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::{Resolver, Response};
use mailsec_fetch::{EndpointError, FetchConfig, FetchError};

use super::Findings;
use super::mx::lookup_failure;
use crate::Area;

/// What the TLS-RPT area found.
pub(crate) struct TlsRpt {
    /// The record, when valid.
    pub(crate) record: Option<TlsRptRecord>,
    /// `yes`, `no`, `invalid`, `unknown`.
    pub(crate) summary: &'static str,
    /// A `mailto:` destination whose mail goes to the domain's own MX hosts (R15), with those
    /// hosts.
    pub(crate) same_mx: Option<(String, Vec<String>)>,
}

/// Looks up and lints the record. `expected` (MTA-STS or DANE deployed) makes its absence a
/// warning rather than information; `mx_hosts` are the domain's MX hosts (R15).
pub(crate) async fn check(
    r: &Resolver,
    fetch: &FetchConfig,
    domain: &HostName,
    expected: bool,
    mx_hosts: &[(u16, String)],
    f: &mut Findings,
) -> TlsRpt {
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
    let mut same_mx = None;
    if let Some(record) = &tlsrpt_record {
        for uri in &record.rua {
            match uri {
                ReportUri::Https { uri, .. } => endpoint(r, fetch, uri, f).await,
                ReportUri::Mailto { address, .. } if same_mx.is_none() => {
                    same_mx = shared_mx(r, domain, address, mx_hosts, f).await;
                }
                ReportUri::Mailto { .. } => {}
            }
        }
    }
    apex_records(r, domain, f).await;
    TlsRpt {
        record: tlsrpt_record,
        summary,
        same_mx,
    }
}

/// R12: an `https:` destination must take a POST over TLS with a valid certificate (RFC 8460
/// §3, §5.3); probed with `HEAD`, which submits nothing.
async fn endpoint(r: &Resolver, fetch: &FetchConfig, uri: &str, f: &mut Findings) {
    let fix = format!(
        "Make {} answer POST requests over HTTPS with a certificate valid for its host, or remove it from the rua list.",
        mailsec_core::diag::quote(uri)
    );
    let message = match mailsec_fetch::probe_report_endpoint(r, uri, fetch).await {
        Ok(e) if e.refuses_reports() => format!(
            "the report endpoint {} answers HTTP {}: reports POSTed there are lost",
            mailsec_core::diag::quote(uri),
            e.status
        ),
        Ok(_) | Err(EndpointError::BadUri(_)) => return,
        Err(EndpointError::Fetch(FetchError::Tls {
            certificate: true,
            reason,
            ..
        })) => format!(
            "the report endpoint {} presents a certificate submitters reject ({reason}): reports are not sent",
            mailsec_core::diag::quote(uri)
        ),
        Err(e) => format!(
            "the report endpoint {} is unreachable ({e}): reports are not sent",
            mailsec_core::diag::quote(uri)
        ),
    };
    f.push_with_fix(
        "tls-rpt",
        Diagnostic::new(Check::R12, Severity::Warning, message),
        fix,
    );
}

/// R15: a `mailto:` destination whose domain's mail goes to the same MX hosts as the domain's
/// own: when TLS to those hosts fails, the report about it travels the same broken path (RFC
/// 8460 §3 tells submitters to deliver reports regardless, not all do). Returns the address
/// and the hosts shared.
async fn shared_mx(
    r: &Resolver,
    domain: &HostName,
    address: &str,
    mx_hosts: &[(u16, String)],
    f: &mut Findings,
) -> Option<(String, Vec<String>)> {
    let (_, rua_domain) = address.rsplit_once('@')?;
    let rua_domain = rua_domain.trim_end_matches('.').to_ascii_lowercase();
    let own: Vec<String> = mx_hosts
        .iter()
        .map(|(_, h)| h.to_ascii_lowercase())
        .collect();
    let theirs = if rua_domain == domain.as_str() {
        own.clone()
    } else {
        match r.mx(&rua_domain).await {
            Ok(Response::Records(a)) => a
                .records
                .iter()
                .map(|(_, h)| h.to_ascii_lowercase())
                .collect(),
            _ => return None,
        }
    };
    let shared: Vec<String> = own.into_iter().filter(|h| theirs.contains(h)).collect();
    if shared.is_empty() {
        return None;
    }
    f.push(
        "tls-rpt",
        Diagnostic::new(
            Check::R15,
            Severity::Info,
            format!(
                "reports to {} are delivered to the domain's own MX hosts ({}): a TLS failure there can hold back the report about it",
                mailsec_core::diag::quote(address),
                shared.join(", ")
            ),
        ),
    );
    Some((address.to_owned(), shared))
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
