//! MX and DNSSEC: the MX RRset and its security (RFC 5321 §5.1, RFC 7505, RFC 7672 §2.2.1), and
//! for every MX host its address records and TLSA RRset as a sender sees them before connecting
//! (RFC 7672 §2.1–§2.2.3).

use std::net::Ipv4Addr;

use mailsec_core::dane::{Tlsa, TlsaState, Usability};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::{LookupError, RecordType, Resolver, Response, Security};

use super::Findings;
use crate::{DaneState, MxReport, OtherService, states};

/// The other services whose TLSA records are reported (D23): port and service name
/// (RFC 8314 submissions, RFC 6409 submission, IMAPS, POP3S, HTTPS).
pub(crate) const OTHER_SERVICES: [(u16, &str); 5] = [
    (465, "submissions"),
    (587, "submission"),
    (993, "imaps"),
    (995, "pop3s"),
    (443, "https"),
];

/// What the MX area found.
pub(crate) struct MxArea {
    /// `(preference, host)`, sorted; a null MX removed.
    pub(crate) hosts: Vec<(u16, String)>,
    /// Security of the MX RRset or of its denial; `None` when the lookup failed or the domain
    /// does not exist.
    pub(crate) security: Option<Security>,
    /// One report per MX host.
    pub(crate) reports: Vec<MxReport>,
}

/// Looks up the MX RRset of `domain` and, for each host, its A records and TLSA RRset.
pub(crate) async fn check(r: &Resolver, domain: &HostName, f: &mut Findings) -> MxArea {
    let d = domain.as_str();
    // N6: the top-level domain's keys must validate too, or nothing under it can.
    if let Some(tld) = domain.labels().last() {
        match r.lookup(&format!("{tld}."), RecordType::DNSKEY).await {
            Ok(resp) if matches!(resp.security(), Security::Secure | Security::Insecure) => {}
            other => f.push(
                "mx",
                Diagnostic::new(
                    Check::N6,
                    Severity::Error,
                    format!(
                        "the DNSKEY set of the top-level domain {tld}. does not validate ({}): no DNSSEC status under it can be trusted",
                        match other {
                            Ok(resp) => resp.security().to_string(),
                            Err(e) => e.to_string(),
                        }
                    ),
                ),
            ),
        }
    }
    // N9: every DNSSEC result below means something only if the root validates.
    match r.lookup(".", RecordType::SOA).await {
        Ok(resp) if resp.security() == Security::Secure => {}
        other => f.push(
            "mx",
            Diagnostic::new(
                Check::N9,
                Severity::Error,
                format!(
                    "the root zone does not validate through this resolver ({}): every DNSSEC status in this report is doubtful; check the trust anchor and that the resolver passes DNSSEC records",
                    match other {
                        Ok(resp) => resp.security().to_string(),
                        Err(e) => e.to_string(),
                    }
                ),
            ),
        ),
    }
    // MX (RFC 5321 §5.1; RFC 7672 §2.2.1 for its DNSSEC status).
    let (mx_hosts, mx_security) = match r.mx(d).await {
        Ok(Response::Records(a)) => {
            let mut hosts = a.records.clone();
            hosts.sort();
            match a.security {
                Security::Secure => {}
                Security::Insecure => f.push(
                    "mx",
                    Diagnostic::new(
                        Check::N7,
                        Severity::Warning,
                        "the MX RRset is insecure: DANE does not apply to this domain (RFC 7672 §2.2.1)",
                    ),
                ),
                // The typed lookups return these as errors (fail closed); never "insecure".
                Security::Bogus | Security::Indeterminate => f.push(
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
                f.push(
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
            f.push(
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
            f.push(
                "mx",
                Diagnostic::new(
                    Check::M1,
                    Severity::Error,
                    "no MX records (NODATA): senders fall back to the domain's address records (RFC 5321 §5.1), which MTA-STS and DANE do not cover",
                ),
            );
            // N5: the implicit MX is not followed any further here.
            let (v4, v6) = r.addresses(d).await;
            let addresses: Vec<String> = [v4, v6]
                .iter()
                .flat_map(|a| a.as_ref().map(|r| r.records().to_vec()).unwrap_or_default())
                .map(|a| a.to_string())
                .collect();
            if let Some(diag) = implicit_mx(d, &addresses) {
                f.push("mx", diag);
            }
            (Vec::new(), Some(denial.security()))
        }
        Err(e) => {
            f.push(
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
    let mut reports = Vec::new();
    for (preference, host) in &mx_hosts {
        let mut report = MxReport {
            host: host.clone(),
            preference: *preference,
            address_security: None,
            tlsa: Vec::new(),
            usable_tlsa: 0,
            dane: DaneState::NotApplicable,
            other_services: Vec::new(),
        };
        let a = r.ipv4(host).await;
        match &a {
            Ok(resp) => {
                report.address_security = Some(resp.security());
                if let Response::Records(ans) = resp
                    && let Some(diag) = cname_chain(host, &ans.cnames, CnameAt::MxHost)
                {
                    f.push(host, diag);
                }
            }
            Err(e) => {
                let mut d = lookup_failure(e, "A", "senders skip this MX host");
                // The MX host's own zone fails validation (N4), not the mail domain's (N2).
                if d.check == Check::N2 {
                    d.check = Check::N4;
                }
                f.push(host, d);
            }
        }
        let secure_path = mx_security == Some(Security::Secure)
            && report.address_security == Some(Security::Secure);
        if mx_security == Some(Security::Secure)
            && report.address_security == Some(Security::Insecure)
        {
            f.push(
                host,
                Diagnostic::new(
                    Check::N3,
                    Severity::Warning,
                    "the MX host's zone is not signed: senders cannot look up its TLSA records, so DANE cannot protect it (RFC 7672 §2.2.2)",
                ),
            );
        }
        // RFC 7672 §2.2.3, RFC 7671 §7: behind a secure CNAME chain the TLSA base domain is the
        // expanded name first, the MX name when the expanded one has no TLSA records.
        let mut bases = states::tlsa_bases(host, &a).into_iter();
        let mut base = bases.next().unwrap_or_else(|| host.clone());
        let mut tlsa = r.tlsa(&format!("_25._tcp.{base}")).await;
        for fallback in bases {
            if states::tlsa(&tlsa) != TlsaState::Absent {
                break;
            }
            base = fallback;
            tlsa = r.tlsa(&format!("_25._tcp.{base}")).await;
        }
        if let Ok(Response::Records(ans)) = &tlsa
            && let Some(diag) = cname_chain(&format!("_25._tcp.{base}"), &ans.cnames, CnameAt::Tlsa)
        {
            f.push(host, diag);
        }
        for d in judge_tlsa(&tlsa, secure_path, &mut report) {
            f.push(host, d);
        }
        // D3: beside a secure TLSA RRset, another type at the same name must get a secure
        // NODATA; internet.nl asks for A there to catch signers whose denials do not validate.
        let tlsa_name = format!("_25._tcp.{base}");
        if matches!(&tlsa, Ok(Response::Records(ans)) if ans.security == Security::Secure) {
            let beside = r.ipv4(&tlsa_name).await;
            if let Some(d) = judge_denial_beside_tlsa(&tlsa_name, &beside) {
                f.push(host, d);
            }
        }
        // D23: TLSA records of the host's other services, looked up together; what they say
        // (or a failure to look them up) never changes the SMTP verdict.
        let lookups = OTHER_SERVICES.iter().map(|(port, _)| {
            let name = format!("_{port}._tcp.{base}");
            async move {
                let result = r.tlsa(&name).await;
                (name, result)
            }
        });
        let found = futures_util::future::join_all(lookups).await;
        for ((port, service), (name, result)) in OTHER_SERVICES.iter().zip(found) {
            let (entry, d) = judge_other_service(*port, service, &name, base.as_str(), &result);
            if let Some(d) = d {
                f.push(host, d);
            }
            if let Some(entry) = entry {
                report.other_services.push(entry);
            }
        }
        reports.push(report);
    }

    MxArea {
        hosts: mx_hosts,
        security: mx_security,
        reports,
    }
}

/// Where a CNAME chain was followed (N5).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum CnameAt {
    /// The MX host name (its address lookup).
    MxHost,
    /// The TLSA name `_25._tcp.<mx>`.
    Tlsa,
}

/// N5: a CNAME chain followed from an MX host name or a TLSA name, named with its links.
/// Senders follow both; an MX that names an alias breaks RFC 2181 §10.3 but works, and its TLSA
/// records are sought at the expanded name first when the chain is secure (RFC 7672 §2.2.2);
/// TLSA names may be CNAMEs (RFC 7671 §7), every link validated (RFC 7672 §2.1.3).
pub(crate) fn cname_chain(
    name: &str,
    cnames: &[(String, String)],
    at: CnameAt,
) -> Option<Diagnostic> {
    let last = cnames.last()?;
    let mut chain = vec![name.trim_end_matches('.').to_owned()];
    chain.extend(
        cnames
            .iter()
            .map(|(_, t)| t.trim_end_matches('.').to_owned()),
    );
    let target = last.1.trim_end_matches('.');
    let message = match at {
        CnameAt::MxHost => format!(
            "the MX host is an alias ({}): senders follow it, though an MX should name the host itself (RFC 2181 §10.3); DANE senders look for TLSA records at _25._tcp.{target} first when the chain is secure (RFC 7672 §2.2.2)",
            chain.join(" -> ")
        ),
        CnameAt::Tlsa => format!(
            "the TLSA records are reached through a CNAME ({}): senders follow it, and every link must validate (RFC 7671 §7, RFC 7672 §2.1.3)",
            chain.join(" -> ")
        ),
    };
    Some(Diagnostic::new(Check::N5, Severity::Info, message))
}

/// N5: no MX RRset but address records: mail goes to the domain itself as an implicit MX
/// (RFC 5321 §5.1), which this check does not follow further (no TLSA lookup, no connection),
/// and which an MTA-STS policy would have to name (RFC 8461 §4.1 matches the MX host name).
pub(crate) fn implicit_mx(domain: &str, addresses: &[String]) -> Option<Diagnostic> {
    if addresses.is_empty() {
        return None;
    }
    Some(Diagnostic::new(
        Check::N5,
        Severity::Info,
        format!(
            "without MX records mail goes to {domain} itself ({}), the implicit MX of RFC 5321 §5.1: this report does not check TLS or TLSA records there, and an MTA-STS policy would have to list `mx: {domain}`; publish an MX record instead",
            addresses.join(", ")
        ),
    ))
}

/// RFC 7672 §2.1–§2.2: what a TLSA lookup result means for one MX host, before connecting.
/// Fills the host's TLSA fields and DANE state and returns the findings. Pure, so that every
/// branch is unit-tested, the failures above all.
pub(crate) fn judge_tlsa(
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
                    // RFC 7672 §2.2.1-§2.2.2: behind an insecure MX RRset or insecure addresses
                    // senders do not look the records up, as `dane::host_policy` decides.
                    report.dane = DaneState::NotApplicable;
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

pub(crate) fn lookup_failure(e: &LookupError, what: &str, consequence: &str) -> Diagnostic {
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

/// D3: what a query for A at a name that holds a secure TLSA RRset says. A secure NODATA is
/// right; an NXDOMAIN there contradicts the TLSA answer, and a bogus or unprovable denial is the
/// signer bug internet.nl reports as `none_bogus` (resolvers that cache the bad denial, or
/// synthesise from it, RFC 8198, may then fail the TLSA lookup too).
pub(crate) fn judge_denial_beside_tlsa(
    tlsa_name: &str,
    beside: &Result<Response<Ipv4Addr>, LookupError>,
) -> Option<Diagnostic> {
    let what = match beside {
        Ok(Response::NxDomain { security, .. }) => format!("NXDOMAIN ({security})"),
        Err(e @ (LookupError::Bogus | LookupError::Indeterminate)) => e.to_string(),
        _ => return None,
    };
    Some(Diagnostic::new(
        Check::D3,
        Severity::Error,
        format!(
            "`{tlsa_name}` holds a secure TLSA RRset, but a query for A at the same name gets {what}: the zone's signer produces a broken denial next to the TLSA records, and validating resolvers may treat the name as bogus (senders then defer)"
        ),
    ))
}

/// D23: the TLSA lookup of another service of the host: an entry for the report when records
/// were found or the lookup failed, and an information finding saying so. A denial says
/// nothing worth reporting.
pub(crate) fn judge_other_service(
    port: u16,
    service: &str,
    name: &str,
    base: &str,
    result: &Result<Response<Tlsa>, LookupError>,
) -> (Option<OtherService>, Option<Diagnostic>) {
    match result {
        Ok(Response::Records(a)) => {
            let records: Vec<String> = a.records.iter().map(ToString::to_string).collect();
            let d = Diagnostic::new(
                Check::D23,
                Severity::Info,
                format!(
                    "`{name}` ({service}) publishes {} TLSA record{} ({}): {}; check that service with `mailsec dane check --host {base} --port {port}`",
                    records.len(),
                    if records.len() == 1 { "" } else { "s" },
                    a.security,
                    records
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            (
                Some(OtherService {
                    port,
                    service: service.to_owned(),
                    name: name.to_owned(),
                    security: Some(a.security),
                    records,
                    error: None,
                }),
                Some(d),
            )
        }
        Ok(_) => (None, None),
        Err(e) => (
            Some(OtherService {
                port,
                service: service.to_owned(),
                name: name.to_owned(),
                security: None,
                records: Vec::new(),
                error: Some(e.to_string()),
            }),
            Some(Diagnostic::new(
                Check::D23,
                Severity::Info,
                format!(
                    "the TLSA lookup of `{name}` ({service}) failed ({e}); it does not affect mail delivery on port 25"
                ),
            )),
        ),
    }
}
