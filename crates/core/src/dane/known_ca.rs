//! The public CA hierarchy DANE-TA publishers most often pin: Let's Encrypt's (ISRG). With it the
//! RRset linter can say which `2 x x` records name a retired intermediate (D15), which `2 0 x`
//! records pin one of several certificates of a cross-signed key (D16), and which current
//! intermediates of a family the `2 1 x` records leave out (D17): the CA picks the issuing
//! intermediate of each renewal at random, so a partial set fails at some renewal.
//!
//! The certificates are the real ones, read from `testdata/ca/letsencrypt/` (the README there
//! says where each came from); every digest is computed from them here, none is typed in.
//! Guidance: V. Dukhovni, "Let's Encrypt and DANE" (dane-users; summarised in
//! shared/research/dane.md §3): publish `2 1 1` for every current intermediate of the key type
//! in use, never `2 0 1`.

use std::sync::OnceLock;

use crate::dane::association::{Certificate, associate, parse_certificates};
use crate::dane::tlsa::{CertUsage, Matching, Selector, Tlsa, Usability};
use crate::dane::verify::{Service, effective_records};
use crate::diag::{Check, Diagnostic, Severity};

/// A family of intermediates that one CA issues from interchangeably.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Let's Encrypt's RSA intermediates (R3, R10–R14).
    LetsEncryptRsa,
    /// Let's Encrypt's ECDSA intermediates (E1, E2, E5–E9).
    LetsEncryptEcdsa,
    /// ISRG's roots (X1, X2): not served by a correct chain, listed for `2 0 x` and retirement.
    IsrgRoot,
}

impl Family {
    /// For people.
    pub fn title(self) -> &'static str {
        match self {
            Self::LetsEncryptRsa => "Let's Encrypt RSA",
            Self::LetsEncryptEcdsa => "Let's Encrypt ECDSA",
            Self::IsrgRoot => "ISRG root",
        }
    }
}

/// Whether a CA still issues.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Issues certificates now: a renewal may be signed by it.
    Current,
    /// No longer issues (expired or withdrawn): records naming it are dead weight.
    Retired,
}

/// One CA: a name and a key, with every certificate of that key (a cross-signed key has
/// several).
#[derive(Clone, Debug)]
pub struct KnownCa {
    /// Its common name (`R10`, `E5`, `ISRG Root X1`).
    pub name: &'static str,
    /// Its family.
    pub family: Family,
    /// Whether it issues now.
    pub status: Status,
    /// Every certificate of its key, the one its issuing root signs first.
    pub certificates: Vec<Certificate>,
}

impl KnownCa {
    /// The DER SubjectPublicKeyInfo (the same in every certificate).
    pub fn spki(&self) -> &[u8] {
        self.certificates.first().map_or(&[], |c| c.spki.as_slice())
    }

    /// The `2 1 1` record of this CA's key: the record to publish for it.
    pub fn ta_record(&self) -> Tlsa {
        let data = associate(self.spki(), Matching::Sha256).unwrap_or_default();
        Tlsa::new(2, 1, 1, data)
    }

    /// Whether `t` (any usage) names this CA: its key (selector 1) or one of its certificates
    /// (selector 0), under `t`'s matching type.
    pub fn named_by(&self, t: &Tlsa) -> bool {
        match t.selector {
            Selector::Spki => associate(self.spki(), t.matching).is_ok_and(|d| d == t.data),
            Selector::Cert => self
                .certificates
                .iter()
                .any(|c| associate(&c.der, t.matching).is_ok_and(|d| d == t.data)),
            _ => false,
        }
    }
}

/// `(name, family, status, PEM of each certificate of the key)`.
type Entry = (&'static str, Family, Status, &'static [&'static str]);

macro_rules! pem {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/ca/letsencrypt/",
            $file
        ))
    };
}

const TABLE: &[Entry] = &[
    (
        "ISRG Root X1",
        Family::IsrgRoot,
        Status::Current,
        &[pem!("isrg-root-x1.pem")],
    ),
    (
        "ISRG Root X2",
        Family::IsrgRoot,
        Status::Current,
        &[
            pem!("isrg-root-x2.pem"),
            pem!("isrg-root-x2-cross-signed.pem"),
        ],
    ),
    (
        "R10",
        Family::LetsEncryptRsa,
        Status::Current,
        &[pem!("r10.pem")],
    ),
    (
        "R11",
        Family::LetsEncryptRsa,
        Status::Current,
        &[pem!("r11.pem")],
    ),
    (
        "R12",
        Family::LetsEncryptRsa,
        Status::Current,
        &[pem!("r12.pem")],
    ),
    (
        "R13",
        Family::LetsEncryptRsa,
        Status::Current,
        &[pem!("r13.pem")],
    ),
    (
        "R14",
        Family::LetsEncryptRsa,
        Status::Current,
        &[pem!("r14.pem")],
    ),
    (
        "E5",
        Family::LetsEncryptEcdsa,
        Status::Current,
        &[pem!("e5.pem"), pem!("e5-cross.pem")],
    ),
    (
        "E6",
        Family::LetsEncryptEcdsa,
        Status::Current,
        &[pem!("e6.pem"), pem!("e6-cross.pem")],
    ),
    (
        "E7",
        Family::LetsEncryptEcdsa,
        Status::Current,
        &[pem!("e7.pem"), pem!("e7-cross.pem")],
    ),
    (
        "E8",
        Family::LetsEncryptEcdsa,
        Status::Current,
        &[pem!("e8.pem"), pem!("e8-cross.pem")],
    ),
    (
        "E9",
        Family::LetsEncryptEcdsa,
        Status::Current,
        &[pem!("e9.pem"), pem!("e9-cross.pem")],
    ),
    (
        "R3",
        Family::LetsEncryptRsa,
        Status::Retired,
        &[pem!("r3.pem")],
    ),
    (
        "E1",
        Family::LetsEncryptEcdsa,
        Status::Retired,
        &[pem!("e1.pem")],
    ),
    (
        "E2",
        Family::LetsEncryptEcdsa,
        Status::Retired,
        &[pem!("e2.pem")],
    ),
];

/// Every known CA, parsed once. A certificate that does not parse is left out (a test keeps the
/// table whole).
pub fn known_cas() -> &'static [KnownCa] {
    static KNOWN: OnceLock<Vec<KnownCa>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        TABLE
            .iter()
            .map(|(name, family, status, pems)| KnownCa {
                name,
                family: *family,
                status: *status,
                certificates: pems
                    .iter()
                    .filter_map(|p| parse_certificates(p.as_bytes()).ok())
                    .flatten()
                    .collect(),
            })
            .collect()
    })
}

/// The known CA a record names, if any.
pub fn ca_named_by(t: &Tlsa) -> Option<&'static KnownCa> {
    known_cas().iter().find(|ca| ca.named_by(t))
}

/// D15 and D16: the RRset's DANE-TA records against the known hierarchy.
///
/// - D15: a `2 x x` record of a retired intermediate: it authenticates nothing the CA issues
///   now; remove it.
/// - D16: a `2 0 x` record of a CA key that has several certificates (cross-signed): a chain
///   that carries the other certificate does not match; name the key (`2 1 1`) instead.
pub fn lint_known_cas(tlsa: &[Tlsa]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in tlsa {
        if t.usage != CertUsage::DaneTa || t.usability() != Usability::Usable {
            continue;
        }
        let Some(ca) = ca_named_by(t) else {
            continue;
        };
        if ca.status == Status::Retired {
            out.push(Diagnostic::new(
                Check::D15,
                Severity::Warning,
                format!(
                    "`{t}` names {} {}, a retired intermediate that issues no certificates any more: remove the record{}",
                    ca.family.title(),
                    ca.name,
                    current_hint(ca.family)
                ),
            ));
        }
        if t.selector == Selector::Cert && ca.certificates.len() > 1 {
            out.push(Diagnostic::new(
                Check::D16,
                Severity::Warning,
                format!(
                    "`{t}` pins one certificate of {}, whose key has {} certificates (cross-signed): a server that sends another of them does not match; replace it with `{}` (the key, RFC 7671 §5.2)",
                    ca.name,
                    ca.certificates.len(),
                    ca.ta_record()
                ),
            ));
        }
    }
    out
}

/// D17: the `2 1 x` records cover some but not all current intermediates of a family (the
/// family of an intermediate `served` in the chain, or one the records already name). The CA
/// picks the intermediate of each renewal at random, so a renewal signed by a missing one
/// fails DANE. Returns one warning per family, listing the exact records to add.
pub fn lint_family_coverage(tlsa: &[Tlsa], served: &[Certificate]) -> Vec<Diagnostic> {
    // RFC 7671 §9: only the strongest matching type of a (usage, selector) pair counts.
    let effective: Vec<&Tlsa> = effective_records(tlsa, Service::Smtp)
        .into_iter()
        .filter(|t| t.usage == CertUsage::DaneTa && t.selector == Selector::Spki)
        .collect();
    let cas = known_cas();
    let mut out = Vec::new();
    for family in [Family::LetsEncryptRsa, Family::LetsEncryptEcdsa] {
        let current: Vec<&KnownCa> = cas
            .iter()
            .filter(|c| c.family == family && c.status == Status::Current)
            .collect();
        let covered: Vec<&KnownCa> = current
            .iter()
            .copied()
            .filter(|ca| effective.iter().any(|t| ca.named_by(t)))
            .collect();
        let serving = current
            .iter()
            .find(|ca| served.iter().skip(1).any(|c| c.spki == ca.spki()));
        if covered.is_empty() || covered.len() == current.len() {
            continue;
        }
        let missing: Vec<String> = current
            .iter()
            .filter(|ca| !covered.iter().any(|c| c.name == ca.name))
            .map(|ca| format!("`{}` ({})", ca.ta_record(), ca.name))
            .collect();
        let names: Vec<&str> = covered.iter().map(|c| c.name).collect();
        out.push(Diagnostic::new(
            Check::D17,
            Severity::Warning,
            format!(
                "the 2 1 x records cover {} of the {} current {} intermediates ({}){}: the CA picks one at random at each renewal, and a certificate from a missing one fails DANE; add {}",
                covered.len(),
                current.len(),
                family.title(),
                names.join(", "),
                serving
                    .map(|s| format!("; the server's chain is issued by {}", s.name))
                    .unwrap_or_default(),
                missing.join(", ")
            ),
        ));
    }
    out
}

fn current_hint(family: Family) -> String {
    let current: Vec<String> = known_cas()
        .iter()
        .filter(|c| c.family == family && c.status == Status::Current)
        .map(|c| c.name.to_owned())
        .collect();
    if current.is_empty() || family == Family::IsrgRoot {
        String::new()
    } else {
        format!(
            " (the current {} intermediates are {})",
            family.title(),
            current.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> &'static KnownCa {
        known_cas().iter().find(|c| c.name == name).unwrap()
    }

    fn checks(d: &[Diagnostic]) -> Vec<Check> {
        d.iter().map(|d| d.check).collect()
    }

    /// A record of `usage selector matching` over a certificate's bytes, computed here with
    /// sha2 directly (not through `associate`), so that the table is checked independently.
    fn record(usage: u8, selector: u8, cert: &Certificate) -> Tlsa {
        use sha2::Digest;
        let bytes = if selector == 0 { &cert.der } else { &cert.spki };
        Tlsa::new(usage, selector, 1, sha2::Sha256::digest(bytes).to_vec())
    }

    #[test]
    fn the_table_is_whole_and_consistent() {
        assert_eq!(known_cas().len(), TABLE.len());
        for (entry, ca) in TABLE.iter().zip(known_cas()) {
            // Every PEM parsed, into exactly one certificate.
            assert_eq!(ca.certificates.len(), entry.3.len(), "{}", ca.name);
            for c in &ca.certificates {
                // One key per CA, and its name is the subject's CN.
                assert_eq!(c.spki, ca.spki(), "{}", ca.name);
                assert!(
                    c.subject.ends_with(&format!("CN={}", ca.name)),
                    "{}",
                    c.subject
                );
                assert!(c.is_ca, "{}", ca.name);
            }
            // Intermediates are issued by the root of their key type; crosses by X1.
            let first = &ca.certificates[0];
            let issuer = match ca.family {
                Family::LetsEncryptRsa => "CN=ISRG Root X1",
                Family::LetsEncryptEcdsa => "CN=ISRG Root X2",
                Family::IsrgRoot => "CN=ISRG Root X",
            };
            assert!(
                first.issuer.contains(issuer),
                "{}: {}",
                ca.name,
                first.issuer
            );
            for cross in &ca.certificates[1..] {
                assert!(cross.issuer.contains("CN=ISRG Root X1"), "{}", cross.issuer);
            }
        }
        // The research notes' current set: R10-R14 and E5-E9; R3, E1 and E2 retired.
        let current: Vec<&str> = known_cas()
            .iter()
            .filter(|c| c.status == Status::Current && c.family != Family::IsrgRoot)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            current,
            [
                "R10", "R11", "R12", "R13", "R14", "E5", "E6", "E7", "E8", "E9"
            ]
        );
        // Retired means expired: every retired certificate ended before every current one.
        for retired in known_cas().iter().filter(|c| c.status == Status::Retired) {
            for cur in known_cas().iter().filter(|c| c.status == Status::Current) {
                assert!(
                    retired.certificates[0].not_after < cur.certificates[0].not_after,
                    "{} vs {}",
                    retired.name,
                    cur.name
                );
            }
        }
    }

    #[test]
    fn every_digest_is_the_certificates() {
        // `2 1 1` of each CA is the SHA-256 of its SPKI, recomputed here with sha2.
        for ca in known_cas() {
            assert_eq!(
                ca.ta_record(),
                record(2, 1, &ca.certificates[0]),
                "{}",
                ca.name
            );
            for c in &ca.certificates {
                assert!(ca.named_by(&record(2, 0, c)));
                assert_eq!(ca_named_by(&record(2, 0, c)).map(|x| x.name), Some(ca.name));
            }
        }
    }

    #[test]
    fn d15_retired_intermediates() {
        let r3 = record(2, 1, &ca("R3").certificates[0]);
        let r10 = record(2, 1, &ca("R10").certificates[0]);
        let found = lint_known_cas(&[r3, r10.clone()]);
        assert_eq!(checks(&found), [Check::D15]);
        assert!(found[0].message.contains("R3") && found[0].message.contains("R10, R11"));
        assert_eq!(found[0].severity, Severity::Warning);
        let e1 = record(2, 0, &ca("E1").certificates[0]);
        assert_eq!(checks(&lint_known_cas(&[e1])), [Check::D15]);
        // Current intermediates and unrelated records: nothing.
        assert!(lint_known_cas(&[r10, Tlsa::new(2, 1, 1, vec![7; 32])]).is_empty());
        // DANE-EE records are not CA records, even with a CA's digest.
        assert!(lint_known_cas(&[record(3, 1, &ca("R3").certificates[0])]).is_empty());
    }

    #[test]
    fn d16_cross_signed_keys() {
        let e5 = ca("E5");
        for c in &e5.certificates {
            let found = lint_known_cas(&[record(2, 0, c)]);
            assert_eq!(checks(&found), [Check::D16], "{}", c.issuer);
            // The replacement is the key's 2 1 1, as sha2 computes it from the certificate.
            let want = record(2, 1, c).to_string();
            assert!(found[0].message.contains(&want), "{}", found[0].message);
        }
        // A key with one certificate, or a 2 1 1: no D16.
        assert!(lint_known_cas(&[record(2, 0, &ca("R11").certificates[0])]).is_empty());
        assert!(lint_known_cas(&[record(2, 1, &e5.certificates[1])]).is_empty());
        // ISRG Root X2 is cross-signed too.
        let x2 = &ca("ISRG Root X2").certificates[0];
        assert_eq!(checks(&lint_known_cas(&[record(2, 0, x2)])), [Check::D16]);
    }

    #[test]
    fn d17_every_current_intermediate_of_the_family() {
        let rsa: Vec<Tlsa> = ["R10", "R11", "R12", "R13", "R14"]
            .iter()
            .map(|n| record(2, 1, &ca(n).certificates[0]))
            .collect();
        let ecdsa: Vec<Tlsa> = ["E5", "E6", "E7", "E8", "E9"]
            .iter()
            .map(|n| record(2, 1, &ca(n).certificates[0]))
            .collect();
        let leaf_chain = |issuer: &str| {
            // The chain a server sends: a leaf (any certificate in its place) and the issuer.
            vec![
                ca("R3").certificates[0].clone(),
                ca(issuer).certificates[0].clone(),
            ]
        };
        // All five: nothing, with or without a served chain.
        assert!(lint_family_coverage(&rsa, &[]).is_empty());
        assert!(lint_family_coverage(&rsa, &leaf_chain("R12")).is_empty());
        let mut both = rsa.clone();
        both.extend(ecdsa.clone());
        assert!(lint_family_coverage(&both, &leaf_chain("E7")).is_empty());
        // Two of five: the three missing records, exactly.
        let found = lint_family_coverage(&rsa[..2], &leaf_chain("R10"));
        assert_eq!(checks(&found), [Check::D17]);
        let msg = &found[0].message;
        assert!(
            msg.contains("2 of the 5") && msg.contains("issued by R10"),
            "{msg}"
        );
        for missing in &rsa[2..] {
            assert!(msg.contains(&format!("`{missing}`")), "{msg}");
        }
        for present in &rsa[..2] {
            assert!(!msg.contains(&format!("`{present}`")), "{msg}");
        }
        // The ECDSA family the same way; the RSA family untouched.
        let found = lint_family_coverage(&[ecdsa[4].clone(), rsa[0].clone()], &[]);
        assert_eq!(checks(&found), [Check::D17, Check::D17]);
        // No 2 1 x of the family at all: the publisher does not rely on the CA; nothing.
        assert!(
            lint_family_coverage(&[Tlsa::new(3, 1, 1, vec![1; 32])], &leaf_chain("E5")).is_empty()
        );
        // 2 0 1 records do not cover a family (D16 says why).
        let full: Vec<Tlsa> = ["R10", "R11"]
            .iter()
            .map(|n| record(2, 0, &ca(n).certificates[0]))
            .collect();
        assert!(lint_family_coverage(&full, &[]).is_empty());
    }
}
