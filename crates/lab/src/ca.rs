//! The lab's public key infrastructure: a root and an intermediate CA (rcgen, ECDSA P-256)
//! issuing leaf certificates per scenario, plus a second, untrusted root for "unknown CA" faults.
//!
//! Time is an input: every certificate's validity is computed from the `now` given to
//! [`Ca::new`], so expired and not-yet-valid certificates are exact.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

/// What a leaf certificate should be wrong about, if anything.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum LeafKind {
    /// Valid for its names, issued by the lab intermediate, current.
    Valid,
    /// Issued by the lab intermediate, but expired a day ago.
    Expired,
    /// Issued by the lab intermediate for `wrong-name.invalid` instead of the requested names.
    WrongName,
    /// Valid names and dates, but issued by a root nobody trusts.
    Untrusted,
}

/// A certificate chain and its key, ready for a TLS server.
#[derive(Debug)]
pub struct Issued {
    /// Leaf first, then the intermediate (for `Untrusted`: the rogue root's leaf alone).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8 DER).
    pub key: PrivatePkcs8KeyDer<'static>,
    /// The chain as PEM.
    pub chain_pem: String,
    /// The key as PEM.
    pub key_pem: String,
}

impl Issued {
    /// The private key in the form rustls takes.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }
}

/// The lab CA.
pub struct Ca {
    now: SystemTime,
    root_der: CertificateDer<'static>,
    root_pem: String,
    intermediate_der: CertificateDer<'static>,
    intermediate_pem: String,
    intermediate: Issuer<'static, KeyPair>,
    rogue: Issuer<'static, KeyPair>,
}

impl Ca {
    /// Creates the lab roots and intermediate, valid around `now`.
    pub fn new(now: SystemTime) -> Result<Self, rcgen::Error> {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let root_params = ca_params("mailsec Lab Root CA", now, None);
        let root_cert = root_params.self_signed(&root_key)?;
        let root = Issuer::new(root_params, root_key);

        let int_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let int_params = ca_params("mailsec Lab Intermediate CA", now, Some(0));
        let int_cert = int_params.signed_by(&int_key, &root)?;
        let intermediate = Issuer::new(int_params, int_key);

        let rogue_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let rogue_params = ca_params("Untrusted Rogue CA", now, None);
        let rogue = Issuer::new(rogue_params, rogue_key);

        Ok(Self {
            now,
            root_der: root_cert.der().clone(),
            root_pem: root_cert.pem(),
            intermediate_der: int_cert.der().clone(),
            intermediate_pem: int_cert.pem(),
            intermediate,
            rogue,
        })
    }

    /// The trust anchor clients of the lab trust (PEM), for `MAILSEC_CA_FILE`.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The trust anchor (DER).
    pub fn root_der(&self) -> &CertificateDer<'static> {
        &self.root_der
    }

    /// The intermediate CA certificate (DER): what `2 1 1` records of the lab name.
    pub fn intermediate_der(&self) -> &CertificateDer<'static> {
        &self.intermediate_der
    }

    /// Issues a leaf for `names` (DNS SANs; the first is also the CN).
    pub fn issue(&self, names: &[&str], kind: LeafKind) -> Result<Issued, rcgen::Error> {
        self.issue_with(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?, names, kind)
    }

    /// Issues a valid leaf for `names` with the lab's RSA key: the second certificate of a
    /// dual-certificate server (rcgen with ring cannot generate RSA keys, so the lab has one
    /// fixed 2048-bit test key, `lab-rsa.key`, made with `openssl genpkey -algorithm RSA`).
    pub fn issue_rsa(&self, names: &[&str]) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::from_pkcs8_pem_and_sign_algo(LAB_RSA_KEY, &PKCS_RSA_SHA256)?;
        self.issue_with(key, names, LeafKind::Valid)
    }

    fn issue_with(
        &self,
        key: KeyPair,
        names: &[&str],
        kind: LeafKind,
    ) -> Result<Issued, rcgen::Error> {
        let sans: Vec<String> = match kind {
            LeafKind::WrongName => vec!["wrong-name.invalid".to_owned()],
            _ => names.iter().map(|n| (*n).to_owned()).collect(),
        };
        let mut params = CertificateParams::new(sans.clone())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            sans.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let (not_before, not_after) = match kind {
            LeafKind::Expired => (self.now - days(90), self.now - days(1)),
            _ => (self.now - days(1), self.now + days(90)),
        };
        params.not_before = OffsetDateTime::from(not_before);
        params.not_after = OffsetDateTime::from(not_after);
        let (chain, chain_pem) = if kind == LeafKind::Untrusted {
            let cert = params.signed_by(&key, &self.rogue)?;
            (vec![cert.der().clone()], cert.pem())
        } else {
            let cert = params.signed_by(&key, &self.intermediate)?;
            (
                vec![cert.der().clone(), self.intermediate_der.clone()],
                format!("{}{}", cert.pem(), self.intermediate_pem),
            )
        };
        Ok(Issued {
            chain,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            chain_pem,
            key_pem: key.serialize_pem(),
        })
    }
}

/// The lab's RSA test key (PKCS#8 PEM); it protects nothing outside the lab.
const LAB_RSA_KEY: &str = include_str!("lab-rsa.key");

fn ca_params(cn: &str, now: SystemTime, path_len: Option<u8>) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "mailsec lab");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = path_len.is_some();
    params.not_before = OffsetDateTime::from(now - days(2));
    params.not_after = OffsetDateTime::from(now + days(3650));
    params
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}
