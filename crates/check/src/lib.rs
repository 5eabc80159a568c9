//! # mailsec-check
//!
//! Checks what a mail domain publishes for transport security, from DNS and HTTPS: the MX
//! RRset and its DNSSEC status, the `_mta-sts` record and the policy it points to, the
//! `_smtp._tls` record, and for every MX host its addresses and TLSA records. Every finding has
//! a check ID of the catalogue ([`mailsec_core::Check`]).
//!
//! This version does not connect to the MX hosts (no STARTTLS or certificate probe): it reports
//! what senders will look up and what they will conclude before they connect.

#![forbid(unsafe_code)]

use mailsec_core::dane::Usability;
use mailsec_core::mta_sts::{self, Mode, Policy, StsRecord};
use mailsec_core::tlsrpt::{self, TlsRptRecord};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::{LookupError, Resolver, Response, Security};
use mailsec_fetch::{FetchConfig, FetchError, fetch_policy};

/// What the checker needs.
#[derive(Clone)]
pub struct Context {
    /// The validating resolver.
    pub resolver: Resolver,
    /// How to fetch policies.
    pub fetch: FetchConfig,
}

/// Everything found about one domain.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DomainReport {
    /// The domain checked.
    pub domain: String,
    /// The MX hosts, in preference order.
    pub mx: Vec<MxReport>,
    /// Security of the MX RRset.
    pub mx_security: Option<Security>,
    /// The MTA-STS record, when valid.
    pub sts_record: Option<StsRecord>,
    /// The MTA-STS policy, when fetched and valid.
    pub sts_policy: Option<Policy>,
    /// The TLS-RPT record, when valid.
    pub tlsrpt: Option<TlsRptRecord>,
    /// Every finding, in check order.
    pub findings: Vec<Finding>,
    /// What senders will do, in one line.
    pub summary: Summary,
}

/// A finding with the part of the domain it concerns.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    /// `mx`, `mta-sts`, `policy`, `tls-rpt`, or an MX host name.
    pub subject: String,
    /// The finding.
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
}

/// One MX host.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MxReport {
    /// The host name.
    pub host: String,
    /// MX preference.
    pub preference: u16,
    /// Security of its address records (A), or the lookup error.
    pub address_security: Option<Security>,
    /// Its TLSA records in presentation form, when secure.
    pub tlsa: Vec<String>,
    /// How many TLSA records can authenticate SMTP (RFC 7672 §3.1.3).
    pub usable_tlsa: usize,
    /// DANE status for this host.
    pub dane: DaneState,
}

/// DANE as a sender sees it for one MX host, before connecting (RFC 7672 §2.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneState {
    /// Secure, usable TLSA records: authenticated TLS is mandatory.
    Required,
    /// Secure TLSA records, none usable: TLS mandatory, unauthenticated.
    UnusableRecords,
    /// No secure TLSA records (denial, insecure zone): DANE does not apply.
    NotApplicable,
    /// The TLSA lookup failed or was bogus: senders treat the host as unreachable.
    Failed,
}

/// The summary line.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// `required on N of M MX hosts`, `not deployed`, `broken`.
    pub dane: String,
    /// `enforce`, `testing`, `none`, `not deployed`, `broken (...)`.
    pub mta_sts: String,
    /// `yes`, `no`, `invalid`.
    pub tls_rpt: String,
    /// Findings of error severity.
    pub errors: usize,
    /// Warnings counted.
    pub warnings: usize,
}

/// Checks `domain`.
pub async fn check_domain(ctx: &Context, domain: &HostName) -> DomainReport {
    let mut findings = Vec::new();
    let mut push = |subject: &str, d: Diagnostic| {
        findings.push(Finding {
            subject: subject.to_owned(),
            diagnostic: d,
        })
    };
    let r = &ctx.resolver;
    let d = domain.as_str();

    // MX (RFC 5321 §5.1; RFC 7672 §2.2.1 for its DNSSEC status).
    let (mx_hosts, mx_security) = match r.mx(d).await {
        Ok(Response::Records(a)) => {
            let mut hosts = a.records.clone();
            hosts.sort();
            match a.security {
                Security::Secure => {}
                s => push(
                    "mx",
                    Diagnostic::new(
                        Check::N7,
                        Severity::Warning,
                        format!(
                            "the MX RRset is {s}: DANE does not apply to this domain (RFC 7672 §2.2.1)"
                        ),
                    ),
                ),
            }
            (hosts, Some(a.security))
        }
        Ok(denial) => {
            push(
                "mx",
                Diagnostic::new(
                    Check::M1,
                    Severity::Error,
                    format!(
                        "no MX records ({}): mail goes to the address records, if any",
                        denial.status()
                    ),
                ),
            );
            (Vec::new(), Some(denial.security()))
        }
        Err(e) => {
            push(
                "mx",
                lookup_failure(
                    &e,
                    "MX",
                    "senders cannot find the mail servers and defer all mail (RFC 7672 §2.1.2)",
                ),
            );
            (Vec::new(), None)
        }
    };

    // MX hosts: addresses and TLSA (RFC 7672 §2.2.2, §2.2.3).
    let mut mx = Vec::new();
    for (preference, host) in &mx_hosts {
        let mut report = MxReport {
            host: host.clone(),
            preference: *preference,
            address_security: None,
            tlsa: Vec::new(),
            usable_tlsa: 0,
            dane: DaneState::NotApplicable,
        };
        match r.ipv4(host).await {
            Ok(resp) => report.address_security = Some(resp.security()),
            Err(e) => push(host, lookup_failure(&e, "A", "senders skip this MX host")),
        }
        let secure_path = mx_security == Some(Security::Secure)
            && report.address_security == Some(Security::Secure);
        match r.tlsa(&format!("_25._tcp.{host}")).await {
            Ok(Response::Records(a)) if a.security == Security::Secure => {
                report.tlsa = a.records.iter().map(ToString::to_string).collect();
                report.usable_tlsa = a
                    .records
                    .iter()
                    .filter(|t| t.usability() == Usability::Usable)
                    .count();
                for t in &a.records {
                    match t.usability() {
                        Usability::Usable => {}
                        Usability::PkixUsage => push(
                            host,
                            Diagnostic::new(
                                Check::D6,
                                Severity::Warning,
                                format!(
                                    "`{t}`: PKIX-TA/PKIX-EE records are ignored by SMTP clients (RFC 7672 §3.1.3)"
                                ),
                            ),
                        ),
                        Usability::UnknownParameter | Usability::BadLength => push(
                            host,
                            Diagnostic::new(
                                Check::D5,
                                Severity::Warning,
                                format!(
                                    "`{t}` is unusable (unknown parameter or wrong digest length)"
                                ),
                            ),
                        ),
                    }
                }
                report.dane = if report.usable_tlsa > 0 {
                    DaneState::Required
                } else {
                    push(
                        host,
                        Diagnostic::new(
                            Check::D5,
                            Severity::Error,
                            "no usable TLSA record: senders require TLS but cannot authenticate it (RFC 7672 §2.2)",
                        ),
                    );
                    DaneState::UnusableRecords
                };
                if !secure_path {
                    push(
                        host,
                        Diagnostic::new(
                            Check::N8,
                            Severity::Warning,
                            "TLSA records are secure but the MX RRset or the host's addresses are not: strict senders ignore them (RFC 7672 §2.2.2)",
                        ),
                    );
                }
                if report.tlsa.len() < 2 {
                    push(
                        host,
                        Diagnostic::new(
                            Check::D13,
                            Severity::Info,
                            "a single TLSA record: publish the next key or the issuer (2 1 1) before the certificate is renewed",
                        ),
                    );
                }
            }
            Ok(Response::Records(a)) => {
                push(
                    host,
                    Diagnostic::new(
                        Check::D1,
                        Severity::Info,
                        format!("TLSA records are {}: senders ignore them", a.security),
                    ),
                );
            }
            Ok(denial) => {
                push(
                    host,
                    Diagnostic::new(
                        Check::D1,
                        Severity::Info,
                        format!(
                            "no TLSA records ({}, {}): DANE not deployed",
                            denial.status(),
                            denial.security()
                        ),
                    ),
                );
            }
            Err(e) => {
                report.dane = DaneState::Failed;
                let check = if matches!(e, LookupError::Bogus) {
                    Check::D2
                } else {
                    Check::N10
                };
                push(
                    host,
                    Diagnostic::new(
                        check,
                        Severity::Error,
                        format!(
                            "TLSA lookup failed ({e}): DANE senders treat this host as unreachable and defer (RFC 7672 §2.1.2)"
                        ),
                    ),
                );
            }
        }
        mx.push(report);
    }

    // MTA-STS (RFC 8461 §3).
    let mut sts_record = None;
    let mut sts_policy = None;
    let mut mta_sts = "not deployed".to_owned();
    match r.txt(&format!("_mta-sts.{d}")).await {
        Ok(Response::Records(a)) => {
            let concatenated: Vec<Vec<u8>> = a.records.iter().map(|t| t.concat()).collect();
            let linted = mta_sts::lint_record_set(concatenated.iter().map(Vec::as_slice));
            for diag in linted.diagnostics {
                push("mta-sts", diag);
            }
            sts_record = linted.parsed;
            if sts_record.is_none() {
                mta_sts = "broken (TXT record)".to_owned();
            }
        }
        Ok(denial) => push(
            "mta-sts",
            Diagnostic::new(
                Check::S1,
                Severity::Info,
                format!("no _mta-sts record ({})", denial.status()),
            ),
        ),
        Err(e) => {
            mta_sts = "unknown (lookup failed)".to_owned();
            push(
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
                let linted = mta_sts::lint_policy(&fetched.body);
                for diag in linted.diagnostics {
                    push("policy", diag);
                }
                if let Some(p) = &linted.parsed {
                    let hosts: Vec<HostName> = mx_hosts
                        .iter()
                        .filter_map(|(_, h)| HostName::parse(h).ok())
                        .collect();
                    for diag in mta_sts::lint_mx_coverage(p, &hosts, Some(domain)) {
                        push("policy", diag);
                    }
                    mta_sts = p.mode.to_string();
                } else {
                    mta_sts = "broken (policy invalid)".to_owned();
                }
                sts_policy = linted.parsed;
            }
            Err(e) => {
                mta_sts = format!("broken ({})", e.result_type());
                push("policy", fetch_finding(&e));
            }
        }
    }

    // TLS-RPT (RFC 8460 §3).
    let mut tlsrpt_record = None;
    let tls_rpt = match r.txt(&format!("_smtp._tls.{d}")).await {
        Ok(Response::Records(a)) => {
            let concatenated: Vec<Vec<u8>> = a.records.iter().map(|t| t.concat()).collect();
            let l = tlsrpt::lint_record_set(concatenated.iter().map(Vec::as_slice));
            for diag in l.diagnostics {
                push("tls-rpt", diag);
            }
            tlsrpt_record = l.parsed;
            if tlsrpt_record.is_some() {
                "yes"
            } else {
                "invalid"
            }
        }
        Ok(_) => {
            let sev = if sts_record.is_some() || mx.iter().any(|m| m.dane == DaneState::Required) {
                Severity::Warning
            } else {
                Severity::Info
            };
            push(
                "tls-rpt",
                Diagnostic::new(
                    Check::X3,
                    sev,
                    "no TLS-RPT record: failures will go unreported",
                ),
            );
            "no"
        }
        Err(e) => {
            push(
                "tls-rpt",
                lookup_failure(&e, "TXT", "senders cannot find where to report"),
            );
            "unknown"
        }
    };

    let required = mx.iter().filter(|m| m.dane == DaneState::Required).count();
    let failed = mx.iter().filter(|m| m.dane == DaneState::Failed).count();
    let dane = if failed > 0 {
        format!("broken on {failed} of {} MX hosts", mx.len())
    } else if required > 0 {
        format!("required on {required} of {} MX hosts", mx.len())
    } else {
        "not deployed".to_owned()
    };
    if required > 0 && sts_policy.as_ref().is_some_and(|p| p.mode == Mode::Enforce) {
        push(
            "mx",
            Diagnostic::new(
                Check::X1,
                Severity::Info,
                "DANE and MTA-STS both published: DANE takes precedence where it applies (RFC 8461 §2)",
            ),
        );
    }
    let errors = findings
        .iter()
        .filter(|f| f.diagnostic.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.diagnostic.severity == Severity::Warning)
        .count();
    DomainReport {
        domain: d.to_owned(),
        mx,
        mx_security,
        sts_record,
        sts_policy,
        tlsrpt: tlsrpt_record,
        findings,
        summary: Summary {
            dane,
            mta_sts,
            tls_rpt: tls_rpt.to_owned(),
            errors,
            warnings,
        },
    }
}

fn lookup_failure(e: &LookupError, what: &str, consequence: &str) -> Diagnostic {
    let check = match e {
        LookupError::Bogus => Check::N2,
        _ => Check::N10,
    };
    Diagnostic::new(
        check,
        Severity::Error,
        format!("{what} lookup failed: {e}; {consequence}"),
    )
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
