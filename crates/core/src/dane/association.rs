//! Certificate association data (RFC 6698 §2.1.2, §2.1.3): what a TLSA record's data is
//! computed from, and the computation.

use sha2::{Digest, Sha256, Sha512};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::dane::tlsa::{Matching, Selector};

/// An X.509 certificate with the parts TLSA records are made from.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Certificate {
    /// The whole DER certificate (selector 0).
    pub der: Vec<u8>,
    /// The DER SubjectPublicKeyInfo (selector 1).
    pub spki: Vec<u8>,
    /// Subject distinguished name, RFC 4514 text.
    pub subject: String,
    /// Issuer distinguished name, RFC 4514 text.
    pub issuer: String,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// DNS names of the subjectAltName extension (empty without one), or why the extension
    /// cannot be read: a malformed or duplicated subjectAltName is an error for whoever checks
    /// names (RFC 5280 §4.2.1.6), never an empty list.
    pub dns_names: Result<Vec<String>, CertError>,
    /// The basicConstraints CA flag.
    pub is_ca: bool,
}

impl Certificate {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| CertError::BadCertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData(rest.len()));
        }
        let dns_names = san_dns_names(&cert);
        Ok(Self {
            der: der.to_vec(),
            spki: cert.public_key().raw.to_vec(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after: cert.validity().not_after.timestamp(),
            dns_names,
            is_ca: cert.is_ca(),
        })
    }

    /// The bytes `selector` picks from this certificate (RFC 6698 §2.1.2).
    pub fn selected(&self, selector: Selector) -> Result<&[u8], CertError> {
        match selector {
            Selector::Cert => Ok(&self.der),
            Selector::Spki => Ok(&self.spki),
            other => Err(CertError::UnsupportedSelector(u8::from(other))),
        }
    }
}

/// The DNS names of a certificate's subjectAltName (empty without one). A malformed or
/// duplicated extension is an error, never an empty list (RFC 5280 §4.2.1.6).
pub(crate) fn san_dns_names(cert: &X509Certificate<'_>) -> Result<Vec<String>, CertError> {
    match cert.subject_alternative_name() {
        Ok(None) => Ok(Vec::new()),
        Ok(Some(san)) => Ok(san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect()),
        Err(e) => Err(CertError::BadSubjectAltName(e.to_string())),
    }
}

/// What a certificate says about its key and signature, for the TLS checks (T13, T14) and
/// expiry reports.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct KeyInfo {
    /// `RSA`, `EC`, `Ed25519`, ... (the key algorithm's short name).
    pub key_algorithm: String,
    /// The key size in bits (RSA modulus, EC field), 0 when unknown.
    pub key_bits: usize,
    /// The signature algorithm's short name (`ecdsa-with-SHA256`, `sha1WithRSAEncryption` ...).
    pub signature_algorithm: String,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
}

/// The key, signature and validity of a DER certificate; `None` when it does not parse.
pub fn key_info(der: &[u8]) -> Option<KeyInfo> {
    use x509_parser::objects::{oid_registry, oid2sn};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let spki = cert.public_key();
    let name = |oid| {
        oid2sn(oid, oid_registry())
            .map(str::to_owned)
            .unwrap_or_else(|_| oid.to_id_string())
    };
    let key_algorithm = match name(&spki.algorithm.algorithm).as_str() {
        "rsaEncryption" => "RSA".to_owned(),
        "id-ecPublicKey" => "EC".to_owned(),
        "id-Ed25519" | "ed25519" => "Ed25519".to_owned(),
        other => other.to_owned(),
    };
    Some(KeyInfo {
        key_algorithm,
        key_bits: spki.parsed().map(|k| k.key_size()).unwrap_or(0),
        signature_algorithm: name(&cert.signature_algorithm.algorithm),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// The subject and issuer Names of a DER certificate, as the contents of their DER SEQUENCE
/// (the form trust anchors carry, RFC 5280 §4.1.2.4, §4.1.2.6). `None` when it does not parse.
pub fn subject_der(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        sequence_contents(cert.subject().as_raw())?.to_vec(),
        sequence_contents(cert.issuer().as_raw())?.to_vec(),
    ))
}

/// The contents of a DER SEQUENCE (tag 0x30, definite length).
fn sequence_contents(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (len, rest) = if len < 0x80 {
        (usize::from(len), rest)
    } else {
        let n = usize::from(len & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (digits, rest) = rest.split_at(n);
        (
            digits
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            rest,
        )
    };
    (rest.len() == len).then_some(rest)
}

/// Parses a certificate chain given as PEM (one or more `CERTIFICATE` blocks, in file order) or as
/// one DER certificate.
pub fn parse_certificates(input: &[u8]) -> Result<Vec<Certificate>, CertError> {
    if !looks_like_pem(input) {
        return Ok(vec![Certificate::from_der(input)?]);
    }
    let mut certs = Vec::new();
    for (i, pem) in x509_parser::pem::Pem::iter_from_buffer(input).enumerate() {
        let pem = pem.map_err(|e| CertError::BadPem(e.to_string()))?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        certs.push(
            Certificate::from_der(&pem.contents).map_err(|e| CertError::InChain {
                index: i + 1,
                source: Box::new(e),
            })?,
        );
    }
    if certs.is_empty() {
        return Err(CertError::NoCertificate);
    }
    Ok(certs)
}

/// Parses a bare public key: a PEM `PUBLIC KEY` block or DER SubjectPublicKeyInfo. Returns the
/// SPKI DER (what selector 1 hashes).
pub fn parse_public_key(input: &[u8]) -> Result<Vec<u8>, CertError> {
    let der = if looks_like_pem(input) {
        let pem = x509_parser::pem::Pem::iter_from_buffer(input)
            .filter_map(Result::ok)
            .find(|p| p.label == "PUBLIC KEY")
            .ok_or(CertError::NoPublicKey)?;
        pem.contents
    } else {
        input.to_vec()
    };
    let (rest, _) =
        SubjectPublicKeyInfo::from_der(&der).map_err(|e| CertError::BadPublicKey(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CertError::TrailingData(rest.len()));
    }
    Ok(der)
}

/// Computes the certificate association data for `selected` bytes (a whole certificate or an
/// SPKI, per the selector) under `matching` (RFC 6698 §2.1.3).
pub fn associate(selected: &[u8], matching: Matching) -> Result<Vec<u8>, CertError> {
    match matching {
        Matching::Full => Ok(selected.to_vec()),
        Matching::Sha256 => Ok(Sha256::digest(selected).to_vec()),
        Matching::Sha512 => Ok(Sha512::digest(selected).to_vec()),
        other => Err(CertError::UnsupportedMatching(u8::from(other))),
    }
}

fn looks_like_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Why certificate or key input is refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// PEM armour is broken.
    #[error("malformed PEM: {0}")]
    BadPem(String),
    /// No `CERTIFICATE` block in the PEM input.
    #[error("no CERTIFICATE block found")]
    NoCertificate,
    /// No `PUBLIC KEY` block in the PEM input.
    #[error("no PUBLIC KEY block found")]
    NoPublicKey,
    /// The DER is not an X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    BadCertificate(String),
    /// The subjectAltName extension is malformed or duplicated.
    #[error("malformed subjectAltName extension: {0}")]
    BadSubjectAltName(String),
    /// The DER is not a SubjectPublicKeyInfo.
    #[error("not a SubjectPublicKeyInfo: {0}")]
    BadPublicKey(String),
    /// Bytes follow the DER structure.
    #[error("{0} bytes of trailing data after the DER structure")]
    TrailingData(usize),
    /// A certificate of a chain failed.
    #[error("certificate {index} of the chain: {source}")]
    InChain {
        /// 1-based position in the input.
        index: usize,
        /// The failure.
        source: Box<Self>,
    },
    /// A selector this module cannot compute.
    #[error("selector {0} is not 0 (Cert) or 1 (SPKI)")]
    UnsupportedSelector(u8),
    /// A matching type this module cannot compute.
    #[error("matching type {0} is not 0 (Full), 1 (SHA2-256) or 2 (SHA2-512)")]
    UnsupportedMatching(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_known_input() {
        // FIPS 180-2 test vector "abc".
        assert_eq!(
            hex::encode(associate(b"abc", Matching::Sha256).unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(associate(b"abc", Matching::Sha512).unwrap().len(), 64);
        assert_eq!(associate(b"abc", Matching::Full).unwrap(), b"abc");
        assert_eq!(
            associate(b"abc", Matching::from(9)),
            Err(CertError::UnsupportedMatching(9))
        );
    }

    #[test]
    fn a_malformed_subject_alt_name_is_reported_not_emptied() {
        let certs = parse_certificates(include_bytes!("../../../../testdata/certs/bad-san.pem"))
            .expect("the certificate itself parses");
        let [cert] = certs.as_slice() else {
            panic!("{certs:?}")
        };
        assert!(
            matches!(cert.dns_names, Err(CertError::BadSubjectAltName(_))),
            "{:?}",
            cert.dns_names
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_certificates(b"").is_err());
        assert!(
            parse_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        assert_eq!(
            parse_certificates(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"),
            Err(CertError::NoCertificate)
        );
        assert!(parse_public_key(b"\x30\x03\x02\x01\x01").is_err());
    }
}
