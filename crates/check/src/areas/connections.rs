//! What connecting to every MX address showed, as findings: refusals with their reasons,
//! unreachable addresses, cleartext-only servers, the certificate as MTA-STS senders judge it
//! (RFC 8461 §4.2), key and signature strength, and the TLSA RRset against the served chains.

use std::time::SystemTime;

use mailsec_core::dane::{AddressVerdict, DaneOutcome, HostPolicy, key_info};
use mailsec_core::mta_sts::{Mode, PkixFailure, Policy, validate_certificate};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use pki_types::{TrustAnchor, UnixTime};

use mailsec_probe::ProbeError;

use super::Findings;
use crate::dane;

/// Smallest RSA modulus accepted without a warning (T13).
const MIN_RSA_BITS: usize = 2048;

/// What the findings of the connections need besides the report.
pub(crate) struct Inputs<'a> {
    /// The MTA-STS policy in force, if any.
    pub(crate) policy: Option<&'a Policy>,
    /// Roots for the RFC 8461 §4.2 certificate check.
    pub(crate) roots: &'a [TrustAnchor<'a>],
    /// The time certificates are judged at.
    pub(crate) now: SystemTime,
}

/// Findings from the connections.
pub(crate) fn findings(report: &dane::DaneReport, inputs: &Inputs<'_>, f: &mut Findings) {
    let now = UnixTime::since_unix_epoch(
        inputs
            .now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    let enforce = inputs.policy.is_some_and(|p| p.mode == Mode::Enforce);
    let testing = inputs.policy.is_some_and(|p| p.mode == Mode::Testing);
    preference_order(report, f);
    for h in &report.hosts {
        let mx = HostName::parse(&h.host).ok();
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
                        Some(DaneOutcome::Failed(f)) => format!(": {f}"),
                        _ => a
                            .probe
                            .error
                            .as_ref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default(),
                    };
                    let diag = Diagnostic::new(
                        check,
                        Severity::Error,
                        format!("{at}: DANE senders refuse this server ({reason}){detail}"),
                    );
                    // For a key the TLSA records do not cover: the record that matches the
                    // served key, ready to publish (after checking that the key is the one meant).
                    // The probe already holds the served key's SHA-256.
                    let served = a
                        .probe
                        .authenticated_chain()
                        .and_then(|c| c.first())
                        .and_then(|leaf| leaf.summary.as_ref().ok())
                        .map(|s| s.spki_sha256.clone());
                    match (check, served) {
                        (Check::D7, Some(digest)) => f.push_with_fix(
                            &h.host,
                            diag,
                            format!(
                                "If the server's key is the intended one, publish `{}. IN TLSA 3 1 1 {}` (and keep a record for the next key: `mailsec tlsa rollover`); otherwise install the certificate the records describe.",
                                h.tlsa_name, digest
                            ),
                        ),
                        _ => f.push(&h.host, diag),
                    }
                }
                AddressVerdict::Unreachable => f.push(
                    &h.host,
                    Diagnostic::new(
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
                    ),
                ),
                AddressVerdict::Deliver { .. } => {
                    if h.policy == HostPolicy::Opportunistic
                        && a.probe.starttls_offered == Some(false)
                    {
                        // RFC 8461 §4.2: an enforce policy needs STARTTLS on every MX.
                        let (severity, what) = if enforce {
                            (
                                Severity::Error,
                                "senders that enforce MTA-STS do not deliver here",
                            )
                        } else {
                            (
                                Severity::Warning,
                                "mail to this server travels in cleartext",
                            )
                        };
                        f.push(
                            &h.host,
                            Diagnostic::new(
                                Check::T1,
                                severity,
                                format!("{at}: no STARTTLS: {what}"),
                            ),
                        );
                    }
                }
            }
            // The server offers no version rustls speaks (TLS 1.2 or 1.3).
            if let Some(e @ ProbeError::Tls { error }) = &a.probe.error
                && a.probe.tls.is_none()
                && matches!(
                    error,
                    rustls::Error::PeerIncompatible(_)
                        | rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
                )
            {
                f.push(
                    &h.host,
                    Diagnostic::new(
                        Check::T2,
                        Severity::Error,
                        format!("{at}: no TLS 1.2 or 1.3 offered ({e}) (RFC 8461 §7.2, RFC 8996)"),
                    ),
                );
            }
            // T3-T11 from the TLS scan.
            if a.tls_scan.is_some()
                && let Some(d) = crate::tls_scan::ocsp_finding(&a.probe)
            {
                f.push(&h.host, d);
            }
            if let Some(scan) = &a.tls_scan {
                for sf in crate::tls_scan::findings(scan) {
                    f.push_with_fix(&h.host, sf.diagnostic, sf.fix);
                }
            }
            let Some(chain) = a.probe.authenticated_chain() else {
                continue;
            };
            let chain: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
            // RFC 8461 §4.2 as MTA-STS senders judge it; for mail without a policy only
            // information (senders without MTA-STS or DANE do not check certificates).
            if let Some(mx) = &mx
                && let Err(failure) = validate_certificate(&chain, mx, inputs.roots, now)
            {
                let (check, severity, consequence) = match (&failure, enforce, testing) {
                    (_, true, _) => (
                        Check::P15,
                        Severity::Error,
                        "senders that apply the enforce MTA-STS policy do not deliver to it (RFC 8461 §4.2, §5)",
                    ),
                    (_, _, true) => (
                        Check::P15,
                        Severity::Warning,
                        "with mode: enforce, senders would not deliver to it; in testing they report it",
                    ),
                    (PkixFailure::NameMismatch, _, _) => (
                        Check::T15,
                        Severity::Info,
                        "matters to senders only with MTA-STS",
                    ),
                    _ => (
                        Check::T12,
                        Severity::Info,
                        "matters to senders only with MTA-STS",
                    ),
                };
                f.push(
                    &h.host,
                    Diagnostic::new(
                        check,
                        severity,
                        format!("{at}: certificate not valid for {mx}: {failure}; {consequence}"),
                    ),
                );
            }
            if let Some(k) = chain.first().and_then(|d| key_info(d)) {
                if k.key_algorithm == "RSA" && k.key_bits > 0 && k.key_bits < MIN_RSA_BITS {
                    f.push(&h.host, Diagnostic::new(
                        Check::T13,
                        Severity::Warning,
                        format!(
                            "{at}: the certificate's RSA key has {} bits; use at least {MIN_RSA_BITS}",
                            k.key_bits
                        ),
                    ));
                }
                let sig = k.signature_algorithm.to_ascii_lowercase();
                if sig.contains("sha1") || sig.contains("md5") {
                    f.push(&h.host, Diagnostic::new(
                        Check::T14,
                        Severity::Warning,
                        format!(
                            "{at}: the certificate is signed with {}; reissue it with SHA-256 or better",
                            k.signature_algorithm
                        ),
                    ));
                }
                // RFC 7672 §3.1.1: DANE-EE ignores dates; say so when it matters elsewhere.
                if let Some(DaneOutcome::Authenticated(m)) = &a.dane
                    && m.usage == 3
                    && i64::try_from(now.as_secs()).unwrap_or(i64::MAX) > k.not_after
                {
                    f.push(&h.host, Diagnostic::new(
                        Check::D11,
                        Severity::Info,
                        format!(
                            "{at}: the certificate has expired; DANE-EE senders accept it (RFC 7672 §3.1.1), MTA-STS and PKIX senders do not"
                        ),
                    ));
                }
            }
        }
        // T18: without SNI the server must still complete the handshake, with its certificate.
        if let Some(bare) = &h.without_sni {
            let with_sni = h.results.iter().find(|r| r.probe.tls.is_some());
            let leaf = |p: &mailsec_probe::AddrProbe| p.chain.first().map(|c| c.der.clone());
            let problem = match (&bare.tls, with_sni) {
                (None, _) => Some(format!(
                    "without SNI the handshake fails ({})",
                    bare.error
                        .as_ref()
                        .map_or_else(|| "no TLS".to_owned(), ToString::to_string)
                )),
                (Some(_), Some(w)) if leaf(bare) != leaf(&w.probe) => {
                    Some("without SNI the server presents another certificate".to_owned())
                }
                _ => None,
            };
            if let Some(problem) = problem {
                f.push(
                    &h.host,
                    Diagnostic::new(
                        Check::T18,
                        Severity::Warning,
                        format!(
                            "{}: {problem}; senders that send no SNI cannot authenticate this server (RFC 8461 §7.1, RFC 7672 §8.1)",
                            bare.dialled()
                        ),
                    ),
                );
            }
        }
        for d in &h.findings {
            if !matches!(d.check, Check::D5 | Check::D6 | Check::D13) {
                f.push(&h.host, d.clone());
            }
        }
    }
}

/// RFC 7672 §2.2.1: senders keep the MX preference order, so DANE on a backup MX protects
/// nothing while a more preferred MX without DANE accepts the mail.
fn preference_order(report: &dane::DaneReport, f: &mut Findings) {
    let first_plain = report
        .hosts
        .iter()
        .position(|h| h.policy == HostPolicy::Opportunistic);
    if let Some(i) = first_plain {
        for later in &report.hosts[i + 1..] {
            if matches!(later.policy, HostPolicy::Dane { .. })
                && later.preference > report.hosts[i].preference
            {
                f.push(
                    &later.host,
                    Diagnostic::new(
                        Check::D21,
                        Severity::Warning,
                        format!(
                            "DANE on this MX (preference {}) does not protect mail that {} (preference {}, no DANE) accepts first (RFC 7672 §2.2.1)",
                            later.preference, report.hosts[i].host, report.hosts[i].preference
                        ),
                    ),
                );
            }
        }
    }
}
