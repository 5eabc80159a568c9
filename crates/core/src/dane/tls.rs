//! The RFC 7672 verifier plugged into rustls: a [`ServerCertVerifier`] that accepts a server
//! exactly when [`verify`] authenticates its chain against the TLSA RRset (or when the RRset
//! has no usable record: TLS is then mandatory but unauthenticated, RFC 7672 §2.2).
//!
//! rustls is sans-IO, so this stays in the core: the handshake signature checks are rustls's
//! own, the certificate decision is [`verify`]'s, and the time is the one rustls passes in.
//! SNI is the caller's to set to the TLSA base domain (RFC 7672 §8.1).

use std::sync::{Arc, Mutex, PoisonError};

use pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::dane::tlsa::Tlsa;
use crate::dane::verify::{DaneFailure, DaneInput, DaneOutcome, Service, verify};
use crate::domain::HostName;

/// The name of a negotiated TLS version as reports write it: `TLSv1.2`, `TLSv1.3`, or rustls's
/// name for another, `unknown` before a handshake completed.
pub fn protocol_name(version: Option<rustls::ProtocolVersion>) -> String {
    match version {
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_owned(),
    }
}

/// A rustls verifier that applies one host's TLSA RRset. Keeps the last outcome, so that the
/// caller can report which record matched at which depth: use one verifier per connection
/// (handshakes that share one overwrite each other's outcome).
#[derive(Debug)]
pub struct DaneVerifier {
    tlsa: Vec<Tlsa>,
    reference_ids: Vec<HostName>,
    service: Service,
    pkix_roots: Vec<TrustAnchor<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
    outcome: Mutex<Option<DaneOutcome>>,
}

impl DaneVerifier {
    /// A verifier for `tlsa` (a DNSSEC-secure RRset) and the reference identifiers of RFC 7672
    /// §3.2.2, with ring's signature algorithms.
    pub fn new(tlsa: Vec<Tlsa>, reference_ids: Vec<HostName>, service: Service) -> Self {
        Self {
            tlsa,
            reference_ids,
            service,
            pkix_roots: Vec::new(),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            outcome: Mutex::new(None),
        }
    }

    /// Roots for PKIX-TA(0)/PKIX-EE(1) records outside SMTP.
    pub fn with_pkix_roots(mut self, roots: Vec<TrustAnchor<'static>>) -> Self {
        self.pkix_roots = roots;
        self
    }

    /// The outcome of the last handshake, if one reached certificate verification.
    pub fn outcome(&self) -> Option<DaneOutcome> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// As an `Arc`, ready for `ClientConfig::dangerous().set_certificate_verifier`.
    pub fn into_arc(self) -> Arc<Self> {
        Arc::new(self)
    }
}

/// How a DANE failure reads to rustls (and so in its alert and error).
fn rustls_error(f: &DaneFailure) -> rustls::Error {
    rustls::Error::InvalidCertificate(match f {
        DaneFailure::NameMismatch { .. } => CertificateError::NotValidForName,
        DaneFailure::Expired { .. } => CertificateError::Expired,
        DaneFailure::Untrusted { .. } => CertificateError::UnknownIssuer,
        DaneFailure::BadCertificate { .. } | DaneFailure::EmptyChain => {
            CertificateError::BadEncoding
        }
        _ => CertificateError::ApplicationVerificationFailure,
    })
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain: Vec<Vec<u8>> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        let outcome = verify(&DaneInput {
            chain: &chain,
            tlsa: &self.tlsa,
            reference_ids: &self.reference_ids,
            service: self.service,
            now,
            pkix_roots: &self.pkix_roots,
        });
        let result = match &outcome {
            DaneOutcome::Authenticated(_) | DaneOutcome::NoUsableRecords => {
                Ok(ServerCertVerified::assertion())
            }
            DaneOutcome::Failed(f) => Err(rustls_error(f)),
        };
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
