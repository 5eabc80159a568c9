//! The certificate verifier of a probe: records the presented chain, enforces the chain limits,
//! then accepts the chain or hands it to the caller's verifier. The handshake signatures are
//! always checked, so a server cannot present a chain whose leaf key it does not hold.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::ProbeError;

/// What the verifier saw in one handshake.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The chain as presented (leaf first), when within the limits.
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The limit the chain broke, if any.
    pub(crate) over: Option<ProbeError>,
    /// The server stapled an OCSP response (RFC 6066 §8; rustls always asks for one).
    pub(crate) ocsp_stapled: bool,
}

#[derive(Debug)]
pub(crate) struct Capture {
    delegate: Option<Arc<dyn ServerCertVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    max_chain: usize,
    max_bytes: usize,
    /// The schemes to offer, when restricted.
    schemes: Option<Vec<SignatureScheme>>,
    seen: Mutex<Seen>,
}

impl Capture {
    pub(crate) fn new(
        delegate: Option<Arc<dyn ServerCertVerifier>>,
        max_chain: usize,
        max_bytes: usize,
        schemes: Option<Vec<SignatureScheme>>,
    ) -> Self {
        Self {
            delegate,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            max_chain,
            max_bytes,
            schemes,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// What was seen, leaving nothing behind.
    pub(crate) fn take(&self) -> Seen {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn limit(
        &self,
        end_entity: &CertificateDer<'_>,
        rest: &[CertificateDer<'_>],
    ) -> Option<ProbeError> {
        let len = 1 + rest.len();
        if len > self.max_chain {
            return Some(ProbeError::ChainTooLong {
                len,
                max: self.max_chain,
            });
        }
        let bytes = end_entity.len() + rest.iter().map(|c| c.len()).sum::<usize>();
        (bytes > self.max_bytes).then_some(ProbeError::ChainTooLarge {
            bytes,
            max: self.max_bytes,
        })
    }
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(over) = self.limit(end_entity, intermediates) {
                let message = over.to_string();
                seen.over = Some(over);
                return Err(rustls::Error::General(message));
            }
            seen.ocsp_stapled = !ocsp_response.is_empty();
            seen.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        match &self.delegate {
            Some(d) => {
                d.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.delegate {
            Some(d) => d.verify_tls12_signature(message, cert, dss),
            None => verify_tls12_signature(message, cert, dss, &self.algorithms),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.delegate {
            Some(d) => d.verify_tls13_signature(message, cert, dss),
            None => verify_tls13_signature(message, cert, dss, &self.algorithms),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut all = match &self.delegate {
            Some(d) => d.supported_verify_schemes(),
            None => self.algorithms.supported_schemes(),
        };
        if let Some(only) = &self.schemes {
            all.retain(|s| only.contains(s));
        }
        all
    }

    fn requires_raw_public_keys(&self) -> bool {
        false
    }
}
