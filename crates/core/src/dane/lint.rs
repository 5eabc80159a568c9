//! Findings about a TLSA RRset, alone and against the chain a server presents: what breaks at
//! the next certificate renewal, or already (RFC 7671 §8 operational guidance, RFC 7672 §3.1).

use crate::dane::association::Certificate;
use crate::dane::tlsa::{CertUsage, Selector, Tlsa, Usability};
use crate::dane::verify::{Service, match_records};
use crate::diag::{Check, Diagnostic, Severity};

/// More records than this at one name is a warning: every sender matches each of them against
/// every certificate, and large RRsets need TCP.
pub const MAX_RECORDS: usize = 8;

/// Findings about the RRset alone (no connection needed).
pub fn lint_rrset(tlsa: &[Tlsa]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in tlsa {
        let why = match t.usability() {
            Usability::Usable => continue,
            Usability::PkixUsage => {
                out.push(Diagnostic::new(
                    Check::D6,
                    Severity::Warning,
                    format!(
                        "`{t}`: PKIX-TA(0) and PKIX-EE(1) are ignored by SMTP clients (RFC 7672 §3.1.3); publish 3 1 1 or 2 1 1"
                    ),
                ));
                continue;
            }
            Usability::UnknownParameter => {
                "an unassigned certificate usage, selector or matching type (RFC 6698 §2.1, RFC 7218)".to_owned()
            }
            Usability::BadLength => match t.matching.digest_len() {
                Some(n) => format!(
                    "{} bytes of association data where the matching type gives {n} (RFC 6698 §2.1.3)",
                    t.data.len()
                ),
                None => "empty association data (RFC 6698 §2.1.4)".to_owned(),
            },
        };
        out.push(Diagnostic::new(
            Check::D5,
            Severity::Warning,
            format!("`{t}` is unusable: {why}; senders ignore it"),
        ));
    }
    let usable: Vec<&Tlsa> = tlsa
        .iter()
        .filter(|t| t.usability() == Usability::Usable)
        .collect();
    if usable.len() == 1 {
        out.push(Diagnostic::new(
            Check::D13,
            Severity::Warning,
            format!(
                "one usable record only (`{}`): publish the next key's `3 1 1` (`mailsec tlsa rollover`) or the issuer's `2 1 1` before the certificate is renewed, or mail stops at the renewal",
                usable[0]
            ),
        ));
    }
    if !usable.is_empty()
        && usable
            .iter()
            .all(|t| t.usage == CertUsage::DaneEe && t.selector == Selector::Cert)
    {
        out.push(Diagnostic::new(
            Check::D13,
            Severity::Warning,
            "only `3 0 x` records: they match the whole certificate and break at every renewal, even with the same key; publish `3 1 1` (the key) instead",
        ));
    }
    if tlsa.len() > MAX_RECORDS {
        out.push(Diagnostic::new(
            Check::D18,
            Severity::Warning,
            format!(
                "{} records at one name (more than {MAX_RECORDS}): keep the current and the next key, remove retired ones",
                tlsa.len()
            ),
        ));
    }
    out
}

/// Findings about the RRset against the chain a server presents: records the server no longer
/// gives reason for, trust anchors it does not send, full-certificate trust anchors of public
/// CAs. `is_public_ca` tells whether a certificate is a CA of the public web PKI (its issuer or
/// itself in a root store), which rotates intermediates without notice.
pub fn lint_against_chain(
    tlsa: &[Tlsa],
    chain: &[Vec<u8>],
    certificates: &[Certificate],
    is_public_ca: &dyn Fn(&Certificate) -> bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (t, m) in tlsa.iter().zip(match_records(chain, tlsa, Service::Smtp)) {
        if !m.usable {
            continue;
        }
        match t.usage {
            CertUsage::DaneEe if !m.matches.contains(&0) => out.push(Diagnostic::new(
                Check::D12,
                Severity::Warning,
                format!(
                    "`{t}` does not match the certificate the server presents: a retired key (remove it after the TTL) or a key not yet in use"
                ),
            )),
            CertUsage::DaneTa if m.matches.is_empty() => out.push(Diagnostic::new(
                Check::D9,
                Severity::Warning,
                format!(
                    "`{t}` matches no certificate the server sends: a DANE-TA trust anchor must be in the served chain (RFC 7672 §3.1.2); configure the server to send it, or remove the record"
                ),
            )),
            CertUsage::DaneTa if t.selector == Selector::Cert => {
                let public = m
                    .matches
                    .iter()
                    .filter_map(|&d| certificates.get(d))
                    .any(is_public_ca);
                if public {
                    out.push(Diagnostic::new(
                        Check::D16,
                        Severity::Warning,
                        format!(
                            "`{t}` pins a public CA's certificate: public CAs re-issue and cross-sign their intermediates without notice; prefer `2 1 1` (the CA's key) together with `3 1 1`"
                        ),
                    ));
                }
            }
            _ => {}
        }
        if m.superseded && !m.matches.is_empty() {
            out.push(Diagnostic::new(
                Check::D19,
                Severity::Error,
                format!(
                    "`{t}` matches, but a stronger matching type for the same usage and selector is published and does not: senders use only the strongest (RFC 7671 §9)"
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(d: &[Diagnostic]) -> Vec<Check> {
        d.iter().map(|d| d.check).collect()
    }

    #[test]
    fn rrset_findings() {
        let ee = |b| Tlsa::new(3, 1, 1, vec![b; 32]);
        assert_eq!(checks(&lint_rrset(&[ee(1)])), [Check::D13]);
        // Malformed records are named with the rule they break.
        let short = lint_rrset(&[ee(1), ee(2), Tlsa::new(3, 1, 1, vec![0; 31])]);
        assert_eq!(checks(&short), [Check::D5]);
        assert!(short[0].message.contains("31 bytes") && short[0].message.contains("§2.1.3"));
        let unknown = lint_rrset(&[ee(1), ee(2), Tlsa::new(3, 7, 1, vec![0; 32])]);
        assert!(unknown[0].message.contains("unassigned"), "{unknown:?}");
        assert!(lint_rrset(&[ee(1), ee(2)]).is_empty());
        let full = |b| Tlsa::new(3, 0, 1, vec![b; 32]);
        assert_eq!(checks(&lint_rrset(&[full(1), full(2)])), [Check::D13]);
        assert_eq!(checks(&lint_rrset(&[full(1)])), [Check::D13, Check::D13]);
        let many: Vec<Tlsa> = (0..9).map(ee).collect();
        assert_eq!(checks(&lint_rrset(&many)), [Check::D18]);
        // Unusable records do not count as rollover cover.
        assert_eq!(
            checks(&lint_rrset(&[ee(1), Tlsa::new(1, 1, 1, vec![0; 32])])),
            [Check::D6, Check::D13]
        );
    }
}
