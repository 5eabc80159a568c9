//! # mailsec-check
//!
//! Checks what a mail domain publishes for transport security, from DNS and HTTPS: the MX
//! RRset and its DNSSEC status, the `_mta-sts` record and the policy it points to, the
//! `_smtp._tls` record, and for every MX host its addresses and TLSA records. Every finding has
//! a check ID of the catalogue ([`mailsec_core::Check`]).
//!
//! With a probe configuration ([`Context::probe`]) it also connects to every address of every MX
//! host, verifies each presented chain against the TLSA records with the RFC 7672 verifier
//! ([`dane`]), and says what a DANE sender does; without one it reports what senders will look
//! up and conclude before they connect.

#![forbid(unsafe_code)]

use mailsec_core::dane::{Tlsa, Usability};

pub mod dane;
pub mod states;
pub mod verdict;
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
    /// How to connect to the MX hosts; `None` checks DNS and HTTPS only.
    pub probe: Option<mailsec_probe::ProbeConfig>,
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
    /// DANE over the wire: every address probed and verified, and a DANE sender's verdict
    /// (when connecting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dane: Option<dane::DaneReport>,
    /// What a conformant sender (RFC 7672 and RFC 8461, DANE first) does with mail to the
    /// domain (when connecting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<mailsec_core::dane::Verdict>,
    /// The same, per MX host and address, with what decided each host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<verdict::SenderView>,
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
                Security::Insecure => push(
                    "mx",
                    Diagnostic::new(
                        Check::N7,
                        Severity::Warning,
                        "the MX RRset is insecure: DANE does not apply to this domain (RFC 7672 §2.2.1)",
                    ),
                ),
                // The typed lookups return these as errors (fail closed); never "insecure".
                Security::Bogus | Security::Indeterminate => push(
                    "mx",
                    Diagnostic::new(
                        Check::N2,
                        Severity::Error,
                        format!(
                            "the MX RRset is {}: senders defer all mail (RFC 7672 §2.1.1)",
                            a.security
                        ),
                    ),
                ),
            }
            // RFC 7505: a single MX with the root as exchange says the domain takes no mail.
            if hosts.iter().any(|(_, h)| h.is_empty()) {
                push(
                    "mx",
                    Diagnostic::new(
                        Check::M1,
                        if hosts.len() == 1 {
                            Severity::Info
                        } else {
                            Severity::Error
                        },
                        if hosts.len() == 1 {
                            "null MX (RFC 7505): the domain accepts no mail".to_owned()
                        } else {
                            "a null MX (`.`) beside other MX records is invalid (RFC 7505 §3)"
                                .to_owned()
                        },
                    ),
                );
                hosts.retain(|(_, h)| !h.is_empty());
            }
            (hosts, Some(a.security))
        }
        Ok(Response::NxDomain { .. }) => {
            push(
                "mx",
                Diagnostic::new(
                    Check::M1,
                    Severity::Error,
                    "the domain does not exist (NXDOMAIN): mail to it bounces",
                ),
            );
            (Vec::new(), None)
        }
        Ok(denial) => {
            push(
                "mx",
                Diagnostic::new(
                    Check::M1,
                    Severity::Error,
                    "no MX records (NODATA): senders fall back to the domain's address records (RFC 5321 §5.1), which MTA-STS and DANE do not cover",
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
        let tlsa = r.tlsa(&format!("_25._tcp.{host}")).await;
        for d in judge_tlsa(&tlsa, secure_path, &mut report) {
            push(host, d);
        }
        mx.push(report);
    }

    // MTA-STS (RFC 8461 §3).
    let mut sts_record = None;
    let mut sts_policy = None;
    let mut sts_lookup_failed = false;
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
            sts_lookup_failed = true;
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
                    for diag in coverage(p, &mx_hosts, domain) {
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

    // Connecting: every address of every MX host (RFC 7672 §3).
    let dane_report = match &ctx.probe {
        Some(probe) => {
            let dctx = dane::DaneContext {
                resolver: ctx.resolver.clone(),
                probe: probe.clone(),
                now: None,
                pkix_roots: ctx.fetch.roots.clone(),
            };
            let report = dane::check(&dctx, &dane::Target::Domain(domain.clone())).await;
            for f in connection_findings(&report) {
                push(&f.subject, f.diagnostic);
            }
            Some(report)
        }
        None => None,
    };
    let sender = dane_report.as_ref().map(|report| {
        let sts = match (&sts_policy, sts_lookup_failed) {
            (Some(p), _) => verdict::Sts::Policy(p.clone()),
            (None, true) => verdict::Sts::LookupFailed,
            (None, false) => verdict::Sts::None,
        };
        verdict::sender_verdict(report, &sts, &ctx.fetch.roots.roots, None)
    });

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
        dane: dane_report,
        verdict: sender.as_ref().map(|s| s.verdict.clone()),
        sender,
        summary: Summary {
            dane,
            mta_sts,
            tls_rpt: tls_rpt.to_owned(),
            errors,
            warnings,
        },
    }
}

/// RFC 8461 §4.1: which MX hosts the policy's patterns cover. An MX name that is not a valid
/// host name is reported, never dropped: no pattern can match it, so under `enforce` a sender
/// fails validation for it.
fn coverage(policy: &Policy, mx_hosts: &[(u16, String)], domain: &HostName) -> Vec<Diagnostic> {
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

/// RFC 7672 §2.1–§2.2: what a TLSA lookup result means for one MX host, before connecting.
/// Fills the host's TLSA fields and DANE state and returns the findings. Pure, so that every
/// branch is unit-tested, the failures above all.
fn judge_tlsa(
    tlsa: &Result<Response<Tlsa>, LookupError>,
    secure_path: bool,
    report: &mut MxReport,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match tlsa {
        Ok(Response::Records(a)) => match a.security {
            Security::Secure => {
                report.tlsa = a.records.iter().map(ToString::to_string).collect();
                report.usable_tlsa = a
                    .records
                    .iter()
                    .filter(|t| t.usability() == Usability::Usable)
                    .count();
                for t in &a.records {
                    match t.usability() {
                        Usability::Usable => {}
                        Usability::PkixUsage => out.push(Diagnostic::new(
                            Check::D6,
                            Severity::Warning,
                            format!(
                                "`{t}`: PKIX-TA/PKIX-EE records are ignored by SMTP clients (RFC 7672 §3.1.3)"
                            ),
                        )),
                        Usability::UnknownParameter | Usability::BadLength => {
                            out.push(Diagnostic::new(
                                Check::D5,
                                Severity::Warning,
                                format!(
                                    "`{t}` is unusable (unknown parameter or wrong digest length)"
                                ),
                            ))
                        }
                    }
                }
                report.dane = if report.usable_tlsa > 0 {
                    DaneState::Required
                } else {
                    out.push(Diagnostic::new(
                        Check::D5,
                        Severity::Error,
                        "no usable TLSA record: senders require TLS but cannot authenticate it (RFC 7672 §2.2)",
                    ));
                    DaneState::UnusableRecords
                };
                if !secure_path {
                    out.push(Diagnostic::new(
                        Check::N8,
                        Severity::Warning,
                        "TLSA records are secure but the MX RRset or the host's addresses are not: strict senders ignore them (RFC 7672 §2.2.2)",
                    ));
                }
                if report.tlsa.len() < 2 {
                    out.push(Diagnostic::new(
                        Check::D13,
                        Severity::Info,
                        "a single TLSA record: publish the next key or the issuer (2 1 1) before the certificate is renewed",
                    ));
                }
            }
            // Proven insecure (an insecure delegation on the path): DANE does not apply.
            Security::Insecure => out.push(Diagnostic::new(
                Check::D1,
                Severity::Info,
                "TLSA records are insecure (the zone is not signed): senders ignore them",
            )),
            // The typed lookups turn both into errors; kept here so that a change there cannot
            // make them count as "no DANE".
            Security::Bogus | Security::Indeterminate => {
                report.dane = DaneState::Failed;
                out.push(tlsa_failure(&match a.security {
                    Security::Bogus => LookupError::Bogus,
                    _ => LookupError::Indeterminate,
                }));
            }
        },
        Ok(denial) => match denial.security() {
            Security::Secure | Security::Insecure => out.push(Diagnostic::new(
                Check::D1,
                Severity::Info,
                format!(
                    "no TLSA records ({}, {} denial): DANE not deployed",
                    denial.status(),
                    denial.security()
                ),
            )),
            Security::Bogus | Security::Indeterminate => {
                report.dane = DaneState::Failed;
                out.push(tlsa_failure(&match denial.security() {
                    Security::Bogus => LookupError::Bogus,
                    _ => LookupError::Indeterminate,
                }));
            }
        },
        Err(e) => {
            report.dane = DaneState::Failed;
            out.push(tlsa_failure(e));
        }
    }
    out
}

/// RFC 7672 §2.1.1, §2.1.2: a TLSA lookup that failed (bogus, indeterminate, SERVFAIL,
/// timeout) makes the host unusable for DANE senders.
fn tlsa_failure(e: &LookupError) -> Diagnostic {
    let check = match e {
        LookupError::Bogus => Check::D2,
        LookupError::Indeterminate => Check::D4,
        _ => Check::N10,
    };
    Diagnostic::new(
        check,
        Severity::Error,
        format!(
            "TLSA lookup failed ({e}): DANE senders treat this host as unreachable and defer (RFC 7672 §2.1.2)"
        ),
    )
}

/// Findings from the connections: each address a DANE sender refuses or cannot reach, STARTTLS
/// missing where TLS is opportunistic, and the TLSA RRset against the presented chains (the
/// RRset's own findings are reported from DNS already).
fn connection_findings(report: &dane::DaneReport) -> Vec<Finding> {
    use mailsec_core::dane::{AddressVerdict, HostPolicy};
    let mut out = Vec::new();
    for h in &report.hosts {
        let mut push = |d: Diagnostic| {
            out.push(Finding {
                subject: h.host.clone(),
                diagnostic: d,
            })
        };
        for a in &h.results {
            let at = a.probe.dialled();
            match &a.verdict {
                AddressVerdict::Refuse { reason } => {
                    let check = match *reason {
                        "starttls-not-supported" => Check::T1,
                        "certificate-host-mismatch" => Check::D8,
                        "certificate-expired" | "certificate-not-trusted" => Check::D10,
                        "dnssec-invalid" => continue, // reported from DNS
                        _ => Check::D7,
                    };
                    let detail = match &a.dane {
                        Some(mailsec_core::dane::DaneOutcome::Failed(f)) => format!(": {f}"),
                        _ => a
                            .probe
                            .error
                            .as_ref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default(),
                    };
                    push(Diagnostic::new(
                        check,
                        Severity::Error,
                        format!("{at}: DANE senders refuse this server ({reason}){detail}"),
                    ));
                }
                AddressVerdict::Unreachable => push(Diagnostic::new(
                    Check::D20,
                    Severity::Warning,
                    format!(
                        "{at}: no SMTP session{}",
                        a.probe
                            .error
                            .as_ref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    ),
                )),
                AddressVerdict::Deliver { .. } => {
                    if h.policy == HostPolicy::Opportunistic
                        && a.probe.starttls_offered == Some(false)
                    {
                        push(Diagnostic::new(
                            Check::T1,
                            Severity::Warning,
                            format!("{at}: no STARTTLS: mail to this server travels in cleartext"),
                        ));
                    }
                }
            }
        }
        for d in &h.findings {
            if !matches!(d.check, Check::D5 | Check::D6 | Check::D13) {
                push(d.clone());
            }
        }
    }
    out
}

fn lookup_failure(e: &LookupError, what: &str, consequence: &str) -> Diagnostic {
    let check = match e {
        // The DNSSEC status could not be established: a validation failure, not a missing record.
        LookupError::Bogus | LookupError::Indeterminate => Check::N2,
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

#[cfg(test)]
mod tests {
    use mailsec_dns::Answer;

    use super::*;

    fn host() -> MxReport {
        MxReport {
            host: "mx.example.com".into(),
            preference: 10,
            address_security: Some(Security::Secure),
            tlsa: Vec::new(),
            usable_tlsa: 0,
            dane: DaneState::NotApplicable,
        }
    }

    fn answer(records: Vec<Tlsa>, security: Security) -> Result<Response<Tlsa>, LookupError> {
        Ok(Response::Records(Answer {
            records,
            security,
            canonical_name: "_25._tcp.mx.example.com.".into(),
            cnames: Vec::new(),
            ttl: 300,
            signer: None,
        }))
    }

    fn ee() -> Tlsa {
        Tlsa::new(3, 1, 1, vec![7; 32])
    }

    fn judged(r: &Result<Response<Tlsa>, LookupError>) -> (DaneState, Vec<Check>) {
        let mut report = host();
        let findings = judge_tlsa(r, true, &mut report);
        (report.dane, findings.iter().map(|d| d.check).collect())
    }

    fn denial(nx: bool, security: Security) -> Result<Response<Tlsa>, LookupError> {
        Ok(if nx {
            Response::NxDomain {
                security,
                signer: None,
            }
        } else {
            Response::NoData {
                security,
                signer: None,
            }
        })
    }

    #[test]
    fn every_failed_tlsa_lookup_makes_the_host_unusable() {
        // RFC 7672 §2.1.1-§2.1.2: bogus, indeterminate, SERVFAIL and timeouts all fail closed.
        for (e, check) in [
            (LookupError::Bogus, Check::D2),
            (LookupError::Indeterminate, Check::D4),
            (LookupError::ServFail, Check::N10),
            (LookupError::Timeout, Check::N10),
        ] {
            let (state, checks) = judged(&Err(e.clone()));
            assert_eq!(state, DaneState::Failed, "{e}");
            assert_eq!(checks, [check], "{e}");
        }
    }

    #[test]
    fn unproven_answers_and_denials_never_mean_no_dane() {
        for security in [Security::Indeterminate, Security::Bogus] {
            let (state, _) = judged(&answer(vec![ee()], security));
            assert_eq!(state, DaneState::Failed, "answer {security}");
            for nx in [false, true] {
                let (state, checks) = judged(&denial(nx, security));
                assert_eq!(state, DaneState::Failed, "denial {security}");
                assert!(checks.contains(&Check::D4) || checks.contains(&Check::D2));
            }
        }
    }

    #[test]
    fn proven_answers_decide_as_rfc_7672_says() {
        assert_eq!(
            judged(&answer(vec![ee()], Security::Secure)).0,
            DaneState::Required
        );
        let (state, checks) = judged(&answer(
            vec![Tlsa::new(0, 0, 1, vec![7; 32])],
            Security::Secure,
        ));
        assert_eq!(state, DaneState::UnusableRecords);
        assert!(checks.contains(&Check::D6) && checks.contains(&Check::D5));
        assert_eq!(
            judged(&answer(vec![ee()], Security::Insecure)),
            (DaneState::NotApplicable, vec![Check::D1])
        );
        for security in [Security::Secure, Security::Insecure] {
            for nx in [false, true] {
                assert_eq!(
                    judged(&denial(nx, security)),
                    (DaneState::NotApplicable, vec![Check::D1])
                );
            }
        }
    }

    #[test]
    fn mx_names_that_are_not_host_names_are_reported() {
        let domain = HostName::parse("example.com").unwrap();
        let policy =
            Policy::parse(b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n")
                .unwrap();
        let mx = vec![
            (10, "mx.example.com".to_owned()),
            (20, "bad_name!.example.com".to_owned()),
        ];
        let findings = coverage(&policy, &mx, &domain);
        let bad: Vec<_> = findings
            .iter()
            .filter(|d| d.message.contains("bad_name!.example.com"))
            .collect();
        assert_eq!(bad.len(), 1, "{findings:?}");
        assert_eq!(
            (bad[0].check, bad[0].severity),
            (Check::P13, Severity::Error)
        );
    }
}
