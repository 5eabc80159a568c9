//! Findings about a TLSA RRset, alone and against the chain a server presents: what breaks at
//! the next certificate renewal, or already (RFC 7671 §8 operational guidance, RFC 7672 §3.1).

use crate::dane::association::{Certificate, associate};
use crate::dane::known_ca;
use crate::dane::tlsa::{CertUsage, Selector, Tlsa, Usability};
use crate::dane::verify::{Service, effective_records, match_records};
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
    // D15, D16: records of a known public CA (retired intermediates, cross-signed keys).
    out.extend(known_ca::lint_known_cas(tlsa));
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
            // A CA of the known hierarchy has its own, more precise findings (D15, D16).
            CertUsage::DaneTa
                if t.selector == Selector::Cert && known_ca::ca_named_by(t).is_none() =>
            {
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
    // D17: every current intermediate of the served CA's family.
    out.extend(known_ca::lint_family_coverage(tlsa, certificates));
    out
}

/// How long before its end a certificate counts as about to be renewed (D24): ACME clients
/// renew 30 days before the end of a 90-day certificate.
pub const RENEWAL_WINDOW_SECS: i64 = 30 * 86_400;

/// One certificate chain a server presents to some clients, with the key algorithm of its leaf
/// (`RSA`, `EC`, ...) and which clients get it.
#[derive(Clone, Debug)]
pub struct PresentedKey {
    /// The leaf's key algorithm.
    pub algorithm: String,
    /// The chain, leaf first, DER.
    pub chain: Vec<Vec<u8>>,
}

/// D14: a server with certificates of several key algorithms (RSA and ECDSA) presents one or
/// the other by the client's signature_algorithms (RFC 8446 §4.2.3); each needs a matching
/// record and its own rollover scheme (internet.nl's help text; V. Dukhovni). `keys` holds
/// every distinct chain seen; with fewer than two there is nothing to say here (D13 covers a
/// single key). `tlsa_name` is the owner name, for the records to publish.
pub fn lint_key_algorithms(
    tlsa: &[Tlsa],
    keys: &[PresentedKey],
    tlsa_name: &str,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if keys.len() < 2 {
        return out;
    }
    let matched: Vec<Vec<RecordMatchSummary>> =
        keys.iter().map(|k| summarise(tlsa, &k.chain)).collect();
    // Usable DANE-EE SPKI records that match no key the server presents: next keys.
    let next_keys = tlsa
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            t.usage == CertUsage::DaneEe
                && t.selector == Selector::Spki
                && t.usability() == Usability::Usable
                && matched.iter().all(|m| !m[*i].ee)
        })
        .count();
    for (k, m) in keys.iter().zip(&matched) {
        let ee = m.iter().any(|r| r.ee);
        let ta = m.iter().any(|r| r.ta);
        let leaf_spki = k
            .chain
            .first()
            .and_then(|d| Certificate::from_der(d).ok())
            .and_then(|c| associate(&c.spki, crate::dane::Matching::Sha256).ok())
            .map(hex::encode)
            .unwrap_or_default();
        if !ee && !ta {
            out.push(Diagnostic::new(
                Check::D14,
                Severity::Warning,
                format!(
                    "the server also has an {} certificate, presented to senders that offer only {} signatures, and no TLSA record matches it: those senders cannot authenticate the server and defer; publish `{tlsa_name}. IN TLSA 3 1 1 {leaf_spki}` (and a rollover record for that key)",
                    k.algorithm, k.algorithm
                ),
            ));
        } else if !ta && next_keys == 0 {
            out.push(Diagnostic::new(
                Check::D14,
                Severity::Warning,
                format!(
                    "the {} certificate is covered only by a `3 x x` record of its current key: the other `3 x x` records are for the server's other key algorithm, not a next key; publish the next {} key's `3 1 1` (`mailsec tlsa rollover`) or the `2 1 1` of its issuer",
                    k.algorithm, k.algorithm
                ),
            ));
        }
    }
    out
}

/// D24: the leaf of `chain` ends within [`RENEWAL_WINDOW_SECS`] of `now` (Unix seconds), and
/// the only records that match it are DANE-EE records of its current key, with no other
/// `3 1 x` (no pre-published next key, RFC 7671 §8.1) and no `2 x x`: if the renewal brings a
/// new key, senders defer all mail until DNS catches up (the common DANE outage). The fix lists
/// the steps.
pub fn lint_renewal(
    tlsa: &[Tlsa],
    chain: &[Vec<u8>],
    now: i64,
    tlsa_name: &str,
) -> Vec<Diagnostic> {
    let Some(leaf) = chain.first().and_then(|d| Certificate::from_der(d).ok()) else {
        return Vec::new();
    };
    let left = leaf.not_after.saturating_sub(now);
    if left > RENEWAL_WINDOW_SECS {
        return Vec::new();
    }
    let usable: Vec<&Tlsa> = effective_records(tlsa, Service::Smtp);
    if usable.iter().any(|t| t.usage == CertUsage::DaneTa) {
        return Vec::new();
    }
    let m = summarise(tlsa, chain);
    let covering = m.iter().any(|r| r.ee);
    let next_key = tlsa.iter().zip(&m).any(|(t, r)| {
        t.usage == CertUsage::DaneEe
            && t.selector == Selector::Spki
            && t.usability() == Usability::Usable
            && !r.ee
    });
    if !covering || next_key {
        return Vec::new();
    }
    let days = |secs: i64| match secs / 86_400 {
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    };
    let when = if left < 0 {
        format!("ended {} ago", days(-left))
    } else {
        format!("ends in {}", days(left))
    };
    vec![Diagnostic::new(
        Check::D24,
        Severity::Warning,
        format!(
            "the certificate {when} and is about to be renewed, but the only records that match it are `3 x x` of its current key, with no record for a next key and no `2 x x`: if the renewal brings a new key, DANE senders defer all mail. Before renewing: (1) generate the next key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out next.key`, `openssl pkey -in next.key -pubout -out next.pub`); (2) `mailsec tlsa generate --pubkey next.pub --name {host}`; (3) publish that record at `{tlsa_name}` beside the current one; (4) wait two TTLs (`mailsec tlsa rollover --check`), then renew with next.key (or renew keeping the current key, e.g. certbot --reuse-key)",
            host = tlsa_name.splitn(3, '.').nth(2).unwrap_or(tlsa_name),
        ),
    )]
}

/// What one record matches in one chain, after digest agility and SMTP usability.
#[derive(Clone, Copy, Debug, Default)]
struct RecordMatchSummary {
    /// A DANE-EE record that matches the leaf.
    ee: bool,
    /// A DANE-TA record that matches a certificate above the leaf.
    ta: bool,
}

fn summarise(tlsa: &[Tlsa], chain: &[Vec<u8>]) -> Vec<RecordMatchSummary> {
    tlsa.iter()
        .zip(match_records(chain, tlsa, Service::Smtp))
        .map(|(t, m)| {
            let counts = m.usable && !m.superseded;
            RecordMatchSummary {
                ee: counts && t.usage == CertUsage::DaneEe && m.matches.contains(&0),
                ta: counts && t.usage == CertUsage::DaneTa && m.matches.iter().any(|&d| d > 0),
            }
        })
        .collect()
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
    /// A CA and a leaf it issued, ending on 2030-03-01 (`END`): (chain DER leaf first, leaf
    /// SPKI record `3 1 1`, issuer `2 1 1`).
    fn issued() -> (Vec<Vec<u8>>, Tlsa, Tlsa) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, PublicKeyData};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let ca_spki = ca_key.subject_public_key_info();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["mx.example.com".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2029, 12, 1);
        params.not_after = rcgen::date_time_ymd(2030, 3, 1);
        let leaf = params.signed_by(&key, &issuer).unwrap();
        let digest = |b: &[u8]| {
            use sha2::Digest;
            sha2::Sha256::digest(b).to_vec()
        };
        (
            vec![leaf.der().to_vec(), ca.der().to_vec()],
            Tlsa::new(3, 1, 1, digest(&key.subject_public_key_info())),
            Tlsa::new(2, 1, 1, digest(&ca_spki)),
        )
    }

    /// 2030-03-01T00:00:00Z, the end of every leaf of [`issued`] (`date -d 2030-03-01 +%s -u`).
    const END: i64 = 1_898_553_600;
    const NOW: i64 = END - 60 * 86_400;
    const NAME: &str = "_25._tcp.mx.example.com";

    #[test]
    fn d24_a_renewal_without_a_next_key() {
        let (chain, ee, ta) = issued();
        assert_eq!(Certificate::from_der(&chain[0]).unwrap().not_after, END);
        let now = END - 10 * 86_400;
        let found = lint_renewal(std::slice::from_ref(&ee), &chain, now, NAME);
        assert_eq!(checks(&found), [Check::D24]);
        let msg = &found[0].message;
        assert!(msg.contains("ends in 10 days"), "{msg}");
        assert!(
            msg.contains("mailsec tlsa generate --pubkey next.pub --name mx.example.com"),
            "{msg}"
        );
        assert!(msg.contains("wait two TTLs"), "{msg}");
        // A pre-published next key, or the issuer's 2 1 1: covered.
        let next = Tlsa::new(3, 1, 1, vec![9; 32]);
        assert!(lint_renewal(&[ee.clone(), next], &chain, now, NAME).is_empty());
        assert!(lint_renewal(&[ee.clone(), ta], &chain, now, NAME).is_empty());
        // Far from its end: nothing yet.
        assert!(lint_renewal(std::slice::from_ref(&ee), &chain, NOW, NAME).is_empty());
        // Past its end: still about to be renewed.
        let late = lint_renewal(std::slice::from_ref(&ee), &chain, END + 2 * 86_400, NAME);
        assert!(late[0].message.contains("ended 2 days ago"), "{late:?}");
        // Records that do not match the leaf: D7/D12's business, not this one.
        assert!(lint_renewal(&[Tlsa::new(3, 1, 1, vec![1; 32])], &chain, now, NAME).is_empty());
    }

    #[test]
    fn d14_a_rollover_scheme_per_key_algorithm() {
        let (rsa, rsa_ee, _) = issued();
        let (ec, ec_ee, ec_ta) = issued();
        let keys = [
            PresentedKey {
                algorithm: "RSA".into(),
                chain: rsa,
            },
            PresentedKey {
                algorithm: "EC".into(),
                chain: ec,
            },
        ];
        // Only the EC key has a record: the RSA certificate is uncovered, with its record.
        let found = lint_key_algorithms(&[ec_ee.clone(), ec_ta], &keys, NAME);
        assert_eq!(checks(&found), [Check::D14]);
        assert!(
            found[0]
                .message
                .contains(&format!("{NAME}. IN TLSA {rsa_ee}")),
            "{}",
            found[0].message
        );
        // Both current keys, nothing else: two 3 x x records, but no rollover for either.
        let found = lint_key_algorithms(&[ec_ee.clone(), rsa_ee.clone()], &keys, NAME);
        assert_eq!(checks(&found), [Check::D14, Check::D14]);
        // A next key, or an issuer record per chain: fine.
        let next = Tlsa::new(3, 1, 1, vec![9; 32]);
        assert!(lint_key_algorithms(&[ec_ee.clone(), rsa_ee, next], &keys, NAME).is_empty());
        // One key only: D13's business.
        assert!(lint_key_algorithms(&[ec_ee], &keys[1..], NAME).is_empty());
    }
}
