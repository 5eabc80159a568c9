//! MTA-STS (RFC 8461 §3): the `_mta-sts` record, the policy fetched from the policy host, the
//! policy's findings, and which MX hosts its patterns cover.

use mailsec_core::mta_sts::{self, Mode, Policy, StsRecord};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::Response;
use mailsec_fetch::{FetchError, fetch_policy};

use super::Findings;
use crate::Context;

/// A policy host certificate closer to its end than this is a warning (H3).
const EXPIRY_WARNING_DAYS: i64 = 14;

/// What the MTA-STS area found.
pub(crate) struct StsArea {
    /// The record, when valid.
    pub(crate) record: Option<StsRecord>,
    /// The policy, when fetched and valid.
    pub(crate) policy: Option<Policy>,
    /// The TXT lookup failed (neither a record nor a denial).
    pub(crate) lookup_failed: bool,
    /// The summary: the mode, `not deployed`, `broken (...)`, `unknown (...)`.
    pub(crate) summary: String,
}

/// Discovers the record, fetches and lints the policy, and checks its coverage of `mx_hosts`.
pub(crate) async fn check(
    ctx: &Context,
    domain: &HostName,
    mx_hosts: &[(u16, String)],
    f: &mut Findings,
) -> StsArea {
    let r = &ctx.resolver;
    let d = domain.as_str();
    // MTA-STS (RFC 8461 §3).
    let mut sts_record = None;
    let mut sts_policy = None;
    let mut sts_lookup_failed = false;
    let mut mta_sts = "not deployed".to_owned();
    match r.txt(&format!("_mta-sts.{d}")).await {
        Ok(Response::Records(a)) => {
            // S12: how long resolvers keep the record, so how long an id change takes to reach
            // senders (RFC 8461 §3.1).
            f.push(
                "mta-sts",
                Diagnostic::new(
                    Check::S12,
                    Severity::Info,
                    format!("the _mta-sts TXT record's TTL is {} s", a.ttl),
                ),
            );
            let concatenated: Vec<Vec<u8>> = a.records.iter().map(|t| t.concat()).collect();
            let linted = mta_sts::lint_record_set(concatenated.iter().map(Vec::as_slice));
            for diag in linted.diagnostics {
                f.push("mta-sts", diag);
            }
            sts_record = linted.parsed;
            if sts_record.is_none() {
                mta_sts = "broken (TXT record)".to_owned();
            }
        }
        Ok(denial) => f.push(
            "mta-sts",
            Diagnostic::new(
                Check::S1,
                Severity::Info,
                format!("no _mta-sts record ({})", denial.status()),
            ),
        ),
        Err(e) => {
            sts_lookup_failed = true;
            mta_sts = "unknown (lookup failed)".to_owned();
            f.push(
                "mta-sts",
                Diagnostic::new(
                    Check::S13,
                    Severity::Error,
                    format!(
                        "TXT lookup failed: {e}; senders cannot tell whether a policy exists and must not treat this as no policy"
                    ),
                ),
            );
        }
    }
    if sts_record.is_some() {
        match fetch_policy(r, domain, &ctx.fetch).await {
            Ok(fetched) => {
                f.push(
                    "policy",
                    Diagnostic::new(
                        Check::H11,
                        Severity::Info,
                        format!(
                            "{} fetched from {} over {} in {} ms",
                            fetched.url, fetched.addr, fetched.tls_version, fetched.elapsed_ms
                        ),
                    ),
                );
                // H3: a policy host certificate that lapses stops every sender's refresh.
                if let Some(not_after) = fetched.certificate_not_after {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                    let days = (not_after - now) / 86_400;
                    if days < EXPIRY_WARNING_DAYS {
                        f.push(
                            "policy",
                            Diagnostic::new(
                                Check::H3,
                                Severity::Warning,
                                format!(
                                    "the certificate of mta-sts.{d} expires in {days} days: renew it, or senders stop refreshing the policy"
                                ),
                            ),
                        );
                    }
                }
                let linted = mta_sts::lint_policy(&fetched.body);
                for diag in linted.diagnostics {
                    f.push("policy", diag);
                }
                if let Some(p) = &linted.parsed {
                    let uncovered: Vec<&str> = mx_hosts
                        .iter()
                        .map(|(_, h)| h.as_str())
                        .filter(|h| HostName::parse(h).is_ok_and(|h| !p.matches(&h)))
                        .collect();
                    for diag in coverage(p, mx_hosts, domain) {
                        if diag.check == Check::P13 && !uncovered.is_empty() {
                            let lines: Vec<String> =
                                uncovered.iter().map(|h| format!("mx: {h}")).collect();
                            let fix = format!(
                                "Add {} to the policy at https://mta-sts.{d}/.well-known/mta-sts.txt, then publish a new id: `_mta-sts.{d}. IN TXT \"v=STSv1; id=<new id>\"` (`mailsec sts lint --mx HOST` checks the body).",
                                lines.join(", ")
                            );
                            f.push_with_fix("policy", diag, fix);
                        } else {
                            f.push("policy", diag);
                        }
                    }
                    mta_sts = p.mode.to_string();
                } else {
                    mta_sts = "broken (policy invalid)".to_owned();
                }
                sts_policy = linted.parsed;
            }
            Err(e) => {
                mta_sts = format!("broken ({})", e.result_type());
                f.push("policy", fetch_finding(&e));
            }
        }
    }

    StsArea {
        record: sts_record,
        policy: sts_policy,
        lookup_failed: sts_lookup_failed,
        summary: mta_sts,
    }
}

/// RFC 8461 §4.1: which MX hosts the policy's patterns cover. An MX name that is not a valid
/// host name is reported, never dropped: no pattern can match it, so under `enforce` a sender
/// fails validation for it.
pub(crate) fn coverage(
    policy: &Policy,
    mx_hosts: &[(u16, String)],
    domain: &HostName,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut hosts = Vec::new();
    for (_, h) in mx_hosts {
        match HostName::parse(h) {
            Ok(host) => hosts.push(host),
            Err(e) => out.push(Diagnostic::new(
                Check::P13,
                if policy.mode == Mode::Enforce {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                format!(
                    "MX host `{}` cannot be matched against the policy: {e}",
                    h.escape_default()
                ),
            )),
        }
    }
    out.extend(mta_sts::lint_mx_coverage(policy, &hosts, Some(domain)));
    out
}

fn fetch_finding(e: &FetchError) -> Diagnostic {
    let check = match e {
        FetchError::Tls {
            certificate: true, ..
        } => Check::H2,
        FetchError::Redirect { .. } => Check::H5,
        FetchError::Status(_) => Check::H4,
        FetchError::ContentType(_) => Check::H6,
        FetchError::TooLarge(_) => Check::H7,
        _ => Check::H1,
    };
    Diagnostic::new(
        check,
        Severity::Error,
        format!("{e}; senders without a cached policy see none"),
    )
}
