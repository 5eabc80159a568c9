//! DANE, MTA-STS and TLS-RPT together (RFC 8461 §2, §4; RFC 8460 §3): what no single area sees.
//! Pure: everything comes from the other areas' results.

use std::time::SystemTime;

use mailsec_core::mta_sts::{Mode, Policy, validate_certificate};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::Security;
use pki_types::{TrustAnchor, UnixTime};

use super::Findings;
use crate::{DaneState, MxReport, dane};

/// What the consistency checks look at.
pub(crate) struct Inputs<'a> {
    /// The MX hosts with their DANE state.
    pub(crate) mx: &'a [MxReport],
    /// Security of the MX RRset.
    pub(crate) mx_security: Option<Security>,
    /// The MTA-STS policy in force.
    pub(crate) policy: Option<&'a Policy>,
    /// The connections, when the checker connected.
    pub(crate) connections: Option<&'a dane::DaneReport>,
    /// A TLS-RPT `mailto:` destination delivered to the domain's own MX hosts (R15), with them.
    pub(crate) reports_via: Option<&'a (String, Vec<String>)>,
    /// Roots for the RFC 8461 §4.2 certificate check.
    pub(crate) roots: &'a [TrustAnchor<'a>],
    /// The time certificates are judged at.
    pub(crate) now: SystemTime,
}

/// Adds the consistency findings.
pub(crate) fn findings(i: &Inputs<'_>, f: &mut Findings) {
    let required =
        i.mx.iter()
            .filter(|m| m.dane == DaneState::Required)
            .count();
    let mode = i.policy.map(|p| p.mode);
    // X1: RFC 8461 §2, DANE first.
    if required > 0 && mode == Some(Mode::Enforce) {
        f.push(
            "mx",
            Diagnostic::new(
                Check::X1,
                Severity::Info,
                "DANE and MTA-STS both published: DANE takes precedence where it applies (RFC 8461 §2)",
            ),
        );
    }
    // X4: MTA-STS where DANE would be possible.
    if required == 0
        && i.mx_security == Some(Security::Secure)
        && mode.is_some_and(|m| m != Mode::None)
    {
        f.push(
            "mx",
            Diagnostic::new(
                Check::X4,
                Severity::Info,
                "the MX RRset is DNSSEC-signed: DANE (TLSA records on the MX hosts) would protect mail from the first message, and senders use it before MTA-STS",
            ),
        );
    }
    if let (Some(policy), Some(report)) = (i.policy, i.connections) {
        agreement(policy, report, i.roots, i.now, f);
    }
    // X7: reports that need the very TLS they report on (RFC 8460 §3).
    if let Some((address, shared)) = i.reports_via {
        let mandatory: Vec<&str> = shared
            .iter()
            .filter(|h| {
                mode == Some(Mode::Enforce)
                    || i.mx
                        .iter()
                        .any(|m| &m.host == *h && m.dane == DaneState::Required)
            })
            .map(String::as_str)
            .collect();
        if !mandatory.is_empty() {
            f.push_with_fix(
                "tls-rpt",
                Diagnostic::new(
                    Check::X7,
                    Severity::Info,
                    format!(
                        "TLS-RPT reports to {} go to {}, where MTA-STS or DANE makes TLS mandatory: when that TLS fails, senders that apply the same policy to the report cannot deliver it",
                        mailsec_core::diag::quote(address),
                        mandatory.join(", ")
                    ),
                ),
                "Add a rua destination outside these MX hosts: a mailbox at another domain or provider, or an https: endpoint.".to_owned(),
            );
        }
    }
}

/// How one MX host fares with the policy and its certificates.
#[derive(Debug, Eq, PartialEq)]
struct Agreement<'a> {
    host: &'a str,
    /// An `mx` pattern of the policy matches it (RFC 8461 §4.1).
    covered: bool,
    /// Every address that completed TLS presented a certificate valid for it (RFC 8461 §4.2);
    /// `None` when no address did.
    certified: Option<bool>,
}

/// X2: the MX RRset, the policy's patterns and the certificates must agree (RFC 8461 §4.1,
/// §4.2); any host where one of the three says otherwise is where a change went half-way.
fn agreement(
    policy: &Policy,
    report: &dane::DaneReport,
    roots: &[TrustAnchor<'_>],
    now: SystemTime,
    f: &mut Findings,
) {
    if policy.mode == Mode::None {
        return;
    }
    let now = UnixTime::since_unix_epoch(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    let rows: Vec<Agreement<'_>> = report
        .hosts
        .iter()
        .map(|h| {
            let name = HostName::parse(&h.host).ok();
            let covered = name.as_ref().is_some_and(|n| policy.matches(n));
            let verdicts: Vec<bool> = h
                .results
                .iter()
                .filter_map(|a| a.probe.authenticated_chain())
                .map(|chain| {
                    let chain: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
                    name.as_ref()
                        .is_some_and(|n| validate_certificate(&chain, n, roots, now).is_ok())
                })
                .collect();
            let certified = (!verdicts.is_empty()).then(|| verdicts.iter().all(|ok| *ok));
            Agreement {
                host: &h.host,
                covered,
                certified,
            }
        })
        .collect();
    let broken: Vec<String> = rows
        .iter()
        .filter(|r| !r.covered || r.certified == Some(false))
        .map(describe)
        .collect();
    if broken.is_empty() {
        return;
    }
    let severity = if policy.mode == Mode::Enforce {
        Severity::Error
    } else {
        Severity::Warning
    };
    f.push(
        "mx",
        Diagnostic::new(
            Check::X2,
            severity,
            format!(
                "the MX records, the policy's mx patterns and the certificates disagree: {}",
                broken.join("; ")
            ),
        ),
    );
}

fn describe(r: &Agreement<'_>) -> String {
    format!(
        "{} is an MX host, {} by the policy, {}",
        r.host,
        if r.covered { "covered" } else { "not covered" },
        match r.certified {
            Some(true) => "its certificate is valid for it",
            Some(false) => "its certificate is not valid for it",
            None => "no certificate seen",
        }
    )
}
