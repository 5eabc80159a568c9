//! DANE authentication of a presented certificate chain (RFC 7672 §3, RFC 7671, RFC 6698 §2.1).
//!
//! Pure: the chain the server presented, the secure TLSA RRset, the reference identifiers and
//! the time come in; a decision with its reason goes out. No DNS, no sockets, no clock. The
//! DNS states that decide whether this runs at all (RFC 7672 §2.1–§2.2) are the caller's; see
//! [`crate::dane::decide`] for them.
//!
//! - DANE-EE(3): the leaf certificate or its public key matches; names and dates are not
//!   checked (RFC 7672 §3.1.1, §3.2.1).
//! - DANE-TA(2): a certificate of the presented chain matches (RFC 7672 §3.1.2: the server MUST
//!   send it); the chain validates from the leaf to it, dates and signatures included; the leaf
//!   names one of the reference identifiers (RFC 7672 §3.2.2), with subjectAltName DNS names
//!   taking precedence over the subject CN (§3.2.3).
//! - PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (RFC 7672 §3.1.3); for other services
//!   (RFC 6698 §2.1.1) they are usable when the chain also validates against the given roots.
//! - Digest agility (RFC 7671 §9): for each (usage, selector) pair only the records of the
//!   strongest matching type present count (SHA2-512 over SHA2-256 over Full, the order of
//!   OpenSSL and Postfix).

use pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::dane::association::{associate, san_dns_names};
use crate::dane::tlsa::{CertUsage, Matching, Selector, Tlsa, Usability};
use crate::domain::HostName;

/// The service the chain was presented for: SMTP applies RFC 7672, anything else RFC 6698.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// SMTP (ports 25, 465, 587): PKIX-TA(0) and PKIX-EE(1) are unusable (RFC 7672 §3.1.3).
    Smtp,
    /// Any other service (HTTPS, IMAP, POP3 ...): all four usages (RFC 6698 §2.1.1).
    Other,
}

/// What the verifier is given.
#[derive(Clone, Copy, Debug)]
pub struct DaneInput<'a> {
    /// The presented chain, DER, in the order the server sent it (leaf first).
    pub chain: &'a [Vec<u8>],
    /// The TLSA RRset. The caller guarantees it is DNSSEC-secure (RFC 7672 §2.2.3).
    pub tlsa: &'a [Tlsa],
    /// Names the leaf may carry under DANE-TA: the TLSA base domain, the MX host name, and
    /// the next-hop domain when the MX RRset was secure (RFC 7672 §3.2.2).
    pub reference_ids: &'a [HostName],
    /// The service, which decides whether PKIX usages count.
    pub service: Service,
    /// The time for certificate validity (DANE-TA and PKIX paths only).
    pub now: UnixTime,
    /// Roots for PKIX-TA(0)/PKIX-EE(1) with [`Service::Other`]; unused for SMTP.
    pub pkix_roots: &'a [TrustAnchor<'a>],
}

/// A successful authentication: which record matched which certificate.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct Authenticated {
    /// The record that matched, in presentation form.
    pub record: String,
    /// The certificate usage of that record.
    pub usage: u8,
    /// Depth in the presented chain of the matching certificate (0 = leaf).
    pub depth: usize,
    /// The reference identifier the leaf names (DANE-TA and PKIX-EE only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What the verifier concludes.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DaneOutcome {
    /// A usable record authenticates the chain.
    Authenticated(Authenticated),
    /// The RRset has no usable record: TLS is mandatory but not authenticated (RFC 7672 §2.2).
    NoUsableRecords,
    /// Usable records exist and none authenticates the chain: the server is unusable.
    Failed(DaneFailure),
}

/// Why no usable record authenticated the chain. The most specific reason wins: a trust
/// anchor that matched but whose path or names failed says more than "nothing matched".
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize, thiserror::Error)]
#[serde(tag = "failure", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DaneFailure {
    /// The server presented no certificate.
    #[error("the server presented no certificate")]
    EmptyChain,
    /// A presented certificate cannot be parsed.
    #[error("certificate at depth {depth} cannot be parsed: {reason}")]
    BadCertificate {
        /// Depth in the presented chain.
        depth: usize,
        /// The parser's complaint.
        reason: String,
    },
    /// No usable record matches any certificate it applies to.
    #[error("none of the {usable} usable TLSA records matches the presented chain")]
    NoMatch {
        /// Usable records tried (after digest agility).
        usable: usize,
    },
    /// A DANE-TA (or PKIX) record matched but the leaf names none of the reference identifiers.
    #[error("the certificate names {presented:?}, none of {expected:?} (RFC 7672 §3.2.2)")]
    NameMismatch {
        /// DNS names of the leaf (SAN, or CN without SAN).
        presented: Vec<String>,
        /// The reference identifiers.
        expected: Vec<String>,
    },
    /// A DANE-TA record matched but a certificate of the path is expired or not yet valid.
    #[error("a trust anchor matched at depth {depth}, but the path to it is out of date: {reason}")]
    Expired {
        /// Depth of the matching trust anchor.
        depth: usize,
        /// webpki's words.
        reason: String,
    },
    /// A DANE-TA record matched but the chain does not validate to it (signatures, basic
    /// constraints, key usage).
    #[error(
        "a trust anchor matched at depth {depth}, but the chain does not validate to it: {reason}"
    )]
    Untrusted {
        /// Depth of the matching trust anchor.
        depth: usize,
        /// webpki's words.
        reason: String,
    },
}

impl DaneFailure {
    /// The TLS-RPT result type (RFC 8460 §4.3).
    pub fn result_type(&self) -> &'static str {
        match self {
            Self::NoMatch { .. } | Self::EmptyChain => "tlsa-invalid",
            Self::NameMismatch { .. } => "certificate-host-mismatch",
            Self::Expired { .. } => "certificate-expired",
            Self::Untrusted { .. } => "certificate-not-trusted",
            Self::BadCertificate { .. } => "validation-failure",
        }
    }
}

/// How one record of the RRset fared against the chain: for reports and warnings.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct RecordMatch {
    /// The record, in presentation form.
    pub record: String,
    /// Whether it can authenticate this service at all.
    pub usable: bool,
    /// Set when digest agility (RFC 7671 §9) sets it aside for a stronger matching type of the
    /// same usage and selector.
    pub superseded: bool,
    /// Depths of the presented certificates whose data it matches (whatever its usage).
    pub matches: Vec<usize>,
}

/// RFC 7671 §9 order of preference among matching types: higher is stronger.
fn strength(m: Matching) -> Option<u8> {
    match m {
        Matching::Full => Some(0),
        Matching::Sha256 => Some(1),
        Matching::Sha512 => Some(2),
        _ => None,
    }
}

fn usable_for(t: &Tlsa, service: Service) -> bool {
    match t.usability() {
        Usability::Usable => true,
        Usability::PkixUsage => service == Service::Other && pkix_shape_ok(t),
        Usability::UnknownParameter | Usability::BadLength => false,
    }
}

/// A PKIX record with a known selector and matching type and data of the right length.
fn pkix_shape_ok(t: &Tlsa) -> bool {
    let as_dane = Tlsa {
        usage: CertUsage::DaneEe,
        ..t.clone()
    };
    as_dane.usability() == Usability::Usable
}

/// The usable records after digest agility, with the index of each in `tlsa`.
fn effective(tlsa: &[Tlsa], service: Service) -> Vec<usize> {
    let usable: Vec<usize> = (0..tlsa.len())
        .filter(|&i| usable_for(&tlsa[i], service))
        .collect();
    usable
        .iter()
        .copied()
        .filter(|&i| {
            let t = &tlsa[i];
            let best = usable
                .iter()
                .map(|&j| &tlsa[j])
                .filter(|o| o.usage == t.usage && o.selector == t.selector)
                .filter_map(|o| strength(o.matching))
                .max();
            strength(t.matching) == best
        })
        .collect()
}

/// The records of `tlsa` that count for `service` after digest agility (RFC 7671 §9).
pub fn effective_records(tlsa: &[Tlsa], service: Service) -> Vec<&Tlsa> {
    effective(tlsa, service)
        .into_iter()
        .map(|i| &tlsa[i])
        .collect()
}

/// Does `t`'s association data match `der` (a whole certificate)?
fn data_matches(t: &Tlsa, der: &[u8], spki: &[u8]) -> bool {
    let selected = match t.selector {
        Selector::Cert => der,
        Selector::Spki => spki,
        _ => return false,
    };
    associate(selected, t.matching).is_ok_and(|d| d == t.data)
}

struct Parsed<'a> {
    der: &'a [u8],
    spki: Vec<u8>,
}

fn parse_chain(chain: &[Vec<u8>]) -> Result<Vec<Parsed<'_>>, DaneFailure> {
    chain
        .iter()
        .enumerate()
        .map(|(depth, der)| {
            let (_, cert) =
                X509Certificate::from_der(der).map_err(|e| DaneFailure::BadCertificate {
                    depth,
                    reason: e.to_string(),
                })?;
            Ok(Parsed {
                der,
                spki: cert.public_key().raw.to_vec(),
            })
        })
        .collect()
}

/// Every record against every certificate: which depths each matches, and whether digest
/// agility or usability sets it aside. Certificates that do not parse match nothing.
pub fn match_records(chain: &[Vec<u8>], tlsa: &[Tlsa], service: Service) -> Vec<RecordMatch> {
    let eff = effective(tlsa, service);
    let parsed: Vec<Option<Vec<u8>>> = chain
        .iter()
        .map(|der| {
            X509Certificate::from_der(der)
                .ok()
                .map(|(_, c)| c.public_key().raw.to_vec())
        })
        .collect();
    tlsa.iter()
        .enumerate()
        .map(|(i, t)| RecordMatch {
            record: t.to_string(),
            usable: usable_for(t, service),
            superseded: usable_for(t, service) && !eff.contains(&i),
            matches: chain
                .iter()
                .zip(&parsed)
                .enumerate()
                .filter(|(_, (der, spki))| {
                    spki.as_ref().is_some_and(|spki| data_matches(t, der, spki))
                })
                .map(|(d, _)| d)
                .collect(),
        })
        .collect()
}

/// RFC 7672 §3: authenticates `input.chain` against `input.tlsa`.
pub fn verify(input: &DaneInput<'_>) -> DaneOutcome {
    let eff = effective(input.tlsa, input.service);
    if eff.is_empty() {
        return DaneOutcome::NoUsableRecords;
    }
    if input.chain.is_empty() {
        return DaneOutcome::Failed(DaneFailure::EmptyChain);
    }
    // Every presented certificate must parse, even when a DANE-EE record needs only the leaf
    // (RFC 7672 §3.1.1): a Certificate message with an undecodable entry is a broken handshake,
    // which OpenSSL (Postfix's TLS) refuses outright; failing closed keeps the two in step.
    let chain = match parse_chain(input.chain) {
        Ok(c) => c,
        Err(e) => return DaneOutcome::Failed(e),
    };
    let leaf = &chain[0];
    // The most specific failure seen so far (a matched anchor whose path or names failed).
    let mut failure: Option<DaneFailure> = None;
    let mut keep = |f: DaneFailure| {
        let rank = |f: &DaneFailure| match f {
            DaneFailure::NameMismatch { .. } => 3,
            DaneFailure::Expired { .. } => 2,
            DaneFailure::Untrusted { .. } => 1,
            _ => 0,
        };
        if failure.as_ref().is_none_or(|old| rank(&f) > rank(old)) {
            failure = Some(f);
        }
    };
    // DANE-EE first: it needs nothing but the leaf (RFC 7672 §3.1.1).
    for &i in &eff {
        let t = &input.tlsa[i];
        if t.usage == CertUsage::DaneEe && data_matches(t, leaf.der, &leaf.spki) {
            return DaneOutcome::Authenticated(Authenticated {
                record: t.to_string(),
                usage: 3,
                depth: 0,
                name: None,
            });
        }
    }
    for &i in &eff {
        let t = &input.tlsa[i];
        match t.usage {
            CertUsage::DaneTa => {
                for (depth, cert) in chain.iter().enumerate() {
                    if !data_matches(t, cert.der, &cert.spki) {
                        continue;
                    }
                    match anchored_path(input, depth).and_then(|()| names(input)) {
                        Ok(name) => {
                            return DaneOutcome::Authenticated(Authenticated {
                                record: t.to_string(),
                                usage: 2,
                                depth,
                                name: Some(name),
                            });
                        }
                        Err(f) => keep(f),
                    }
                }
            }
            CertUsage::PkixEe | CertUsage::PkixTa => {
                let depths: Vec<usize> = chain
                    .iter()
                    .enumerate()
                    .filter(|(d, c)| {
                        (t.usage == CertUsage::PkixEe) == (*d == 0)
                            && data_matches(t, c.der, &c.spki)
                    })
                    .map(|(d, _)| d)
                    .collect();
                if let Some(&depth) = depths.first() {
                    match pkix_path(input).and_then(|()| names(input)) {
                        Ok(name) => {
                            return DaneOutcome::Authenticated(Authenticated {
                                record: t.to_string(),
                                usage: u8::from(t.usage),
                                depth,
                                name: Some(name),
                            });
                        }
                        Err(f) => keep(f),
                    }
                }
            }
            _ => {}
        }
    }
    DaneOutcome::Failed(failure.unwrap_or(DaneFailure::NoMatch { usable: eff.len() }))
}

fn webpki_failure(depth: usize, e: &webpki::Error) -> DaneFailure {
    let reason = format!("{e:?}");
    match e {
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
            DaneFailure::Expired { depth, reason }
        }
        _ => DaneFailure::Untrusted { depth, reason },
    }
}

/// RFC 7672 §3.1.2: the chain validates from the leaf to the certificate at `depth`, taken as
/// the trust anchor; dates and signatures are checked, and no issuer is fetched (only the
/// presented certificates are intermediates). A leaf that is its own anchor only has its
/// dates checked.
fn anchored_path(input: &DaneInput<'_>, depth: usize) -> Result<(), DaneFailure> {
    let anchor_der = CertificateDer::from(input.chain[depth].as_slice());
    if depth == 0 {
        let (_, leaf) = X509Certificate::from_der(&input.chain[0]).map_err(|e| {
            DaneFailure::BadCertificate {
                depth: 0,
                reason: e.to_string(),
            }
        })?;
        let now = i64::try_from(input.now.as_secs()).unwrap_or(i64::MAX);
        let validity = leaf.validity();
        if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
            return Err(DaneFailure::Expired {
                depth: 0,
                reason: format!(
                    "valid from {} to {}",
                    validity.not_before, validity.not_after
                ),
            });
        }
        return Ok(());
    }
    let anchor = webpki::anchor_from_trusted_cert(&anchor_der)
        .map_err(|e| webpki_failure(depth, &e))?
        .to_owned();
    path_to(input, std::slice::from_ref(&anchor), depth)
}

/// PKIX validation against the caller's roots (PKIX-TA/EE, other services).
fn pkix_path(input: &DaneInput<'_>) -> Result<(), DaneFailure> {
    path_to(input, input.pkix_roots, input.chain.len())
}

fn path_to(
    input: &DaneInput<'_>,
    anchors: &[TrustAnchor<'_>],
    depth: usize,
) -> Result<(), DaneFailure> {
    webpki_path(input.chain, anchors, input.now).map_err(|e| webpki_failure(depth, &e))
}

/// The RFC 5280 path check (signatures, dates, basic constraints, serverAuth) from the presented
/// leaf to one of `anchors`, with the other presented certificates as the only intermediates:
/// no issuer is fetched (RFC 7672 §3.1.2). Shared by DANE-TA, the PKIX usages and MTA-STS's
/// certificate check (RFC 8461 §4.2).
pub(crate) fn webpki_path(
    chain: &[Vec<u8>],
    anchors: &[TrustAnchor<'_>],
    now: UnixTime,
) -> Result<(), webpki::Error> {
    let leaf_der = CertificateDer::from(chain.first().ok_or(webpki::Error::BadDer)?.as_slice());
    let leaf = webpki::EndEntityCert::try_from(&leaf_der)?;
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        &intermediates,
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map(|_| ())
}

/// RFC 7672 §3.2.2–§3.2.3: the reference identifier the leaf names. DNS names of the
/// subjectAltName take precedence; the subject CN counts only without any. A wildcard is a
/// whole left-most label and stands for exactly one label.
fn names(input: &DaneInput<'_>) -> Result<String, DaneFailure> {
    let presented = leaf_names(&input.chain[0])?;
    for r in input.reference_ids {
        if presented.iter().any(|p| name_matches(p, r.as_str())) {
            return Ok(r.as_str().to_owned());
        }
    }
    Err(DaneFailure::NameMismatch {
        presented,
        expected: input
            .reference_ids
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
    })
}

/// The DNS names a leaf certificate carries for RFC 7672 §3.2.3: its subjectAltName DNS names,
/// or its subject CNs when it has none. A malformed subjectAltName is an error, never "no SAN".
pub fn leaf_names(der: &[u8]) -> Result<Vec<String>, DaneFailure> {
    let bad = |reason: String| DaneFailure::BadCertificate { depth: 0, reason };
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
    let dns: Vec<String> = san_dns_names(&cert)
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    if !dns.is_empty() {
        return Ok(dns);
    }
    Ok(cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_ascii_lowercase)
        .collect())
}

/// RFC 7672 §3.2.3 / RFC 6125 §6.4: exact (case-insensitive, trailing dot ignored) or a
/// `*.` wildcard standing for exactly one left-most label.
pub fn name_matches(presented: &str, reference: &str) -> bool {
    let p = presented.trim_end_matches('.').to_ascii_lowercase();
    let r = reference.trim_end_matches('.').to_ascii_lowercase();
    if p.is_empty() || r.is_empty() {
        return false;
    }
    if let Some(suffix) = p.strip_prefix("*.") {
        // The wildcard covers one whole label; the rest must be at least two labels so that
        // `*.com` covers nothing.
        if suffix.contains('*') || !suffix.contains('.') {
            return false;
        }
        return r
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix);
    }
    !p.contains('*') && p == r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(name_matches("mx.example.com", "MX.example.com."));
        assert!(name_matches("*.example.com", "mx.example.com"));
        assert!(!name_matches("*.example.com", "a.mx.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(!name_matches("m*.example.com", "mx.example.com"));
        assert!(!name_matches("", "example.com"));
    }

    #[test]
    fn digest_agility_keeps_the_strongest_type_per_usage_and_selector() {
        let r = |u, s, m, n| Tlsa::new(u, s, m, vec![0; n]);
        let set = [
            r(3, 1, 1, 32),
            r(3, 1, 2, 64),
            r(3, 0, 1, 32),
            r(2, 1, 0, 5),
            r(2, 1, 1, 32),
            r(3, 1, 9, 32),
        ];
        // 3 1 1 loses to 3 1 2; 3 0 1 stands alone; 2 1 0 loses to 2 1 1; 3 1 9 is unusable.
        assert_eq!(effective(&set, Service::Smtp), [1, 2, 4]);
    }

    #[test]
    fn no_usable_record_means_mandatory_unauthenticated_tls() {
        let pkix = [
            Tlsa::new(0, 0, 1, vec![0; 32]),
            Tlsa::new(1, 1, 1, vec![0; 32]),
        ];
        let input = DaneInput {
            chain: &[],
            tlsa: &pkix,
            reference_ids: &[],
            service: Service::Smtp,
            now: UnixTime::since_unix_epoch(std::time::Duration::from_secs(0)),
            pkix_roots: &[],
        };
        assert_eq!(verify(&input), DaneOutcome::NoUsableRecords);
        // The same records are usable for another service (RFC 6698).
        let other = DaneInput {
            service: Service::Other,
            ..input
        };
        assert_eq!(verify(&other), DaneOutcome::Failed(DaneFailure::EmptyChain));
    }
}
