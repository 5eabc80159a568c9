//! What a probe captured, per address and per host. Everything here is `serde::Serialize`; the
//! chain is serialised as base64 DER beside a parsed summary of each certificate.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use mailsec_core::dane::{CertError, Certificate};
use mailsec_dns::{LookupError, Response};
use rustls::ClientConnection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::config::Starttls;
use crate::error::{ProbeError, Step};

/// The probe of one address.
///
/// Fields fill in as the probe advances; `error` says where and why it stopped. `tls` is set only
/// when the handshake completed, and only then has the server proved possession of the key of
/// `chain[0]` (see [`AddrProbe::authenticated_chain`]).
#[derive(Clone, Debug, Serialize)]
pub struct AddrProbe {
    /// The address probed.
    pub addr: IpAddr,
    /// The logical port: the one the protocol and the TLSA owner name (`_25._tcp`) use.
    pub port: u16,
    /// The port dialled ([`crate::ProbeConfig::ports`] maps it, for labs).
    pub dialled_port: u16,
    /// How TLS was started.
    pub starttls: Starttls,
    /// The SNI requested (for DANE the TLSA base domain, RFC 7672 §8.1).
    pub sni: String,
    /// The server name actually sent in the ClientHello: `None` for an IP address, which TLS
    /// does not send (RFC 6066 §3).
    pub sni_sent: Option<String>,
    /// The greeting lines as received (SMTP banner, IMAP or POP3 greeting), without CRLF.
    pub greeting: Option<Vec<String>>,
    /// The capabilities before TLS: EHLO keywords with their parameters, IMAP capability atoms
    /// or POP3 `CAPA` lines.
    pub capabilities_before: Option<Vec<String>>,
    /// Whether the server offered STARTTLS; `None` with implicit TLS or when the probe stopped
    /// before the capabilities.
    pub starttls_offered: Option<bool>,
    /// The negotiated TLS parameters, when the handshake completed.
    pub tls: Option<TlsSession>,
    /// The certificates the server presented, leaf first, in the order sent. Recorded as soon
    /// as the certificate message arrives, so also when the handshake then fails.
    pub chain: Vec<PresentedCert>,
    /// The capabilities over TLS (same forms as `capabilities_before`).
    pub capabilities_after: Option<Vec<String>>,
    /// How long each step took, in order.
    pub timings: Vec<Timing>,
    /// How long the whole probe took.
    #[serde(rename = "elapsed_ms", serialize_with = "as_ms")]
    pub elapsed: Duration,
    /// Why the probe stopped early, if it did.
    pub error: Option<ProbeError>,
}

impl AddrProbe {
    pub(crate) fn new(addr: SocketAddr, dialled_port: u16, sni: &str, starttls: Starttls) -> Self {
        Self {
            addr: addr.ip(),
            port: addr.port(),
            dialled_port,
            starttls,
            sni: sni.to_owned(),
            sni_sent: None,
            greeting: None,
            capabilities_before: None,
            starttls_offered: None,
            tls: None,
            chain: Vec::new(),
            capabilities_after: None,
            timings: Vec::new(),
            elapsed: Duration::ZERO,
            error: None,
        }
    }

    /// The socket address dialled.
    pub fn dialled(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.dialled_port)
    }

    /// The presented chain when the handshake completed (the server proved possession of the
    /// leaf's key), else `None`. What a DANE or PKIX decision should be made from.
    pub fn authenticated_chain(&self) -> Option<&[PresentedCert]> {
        self.tls.as_ref().map(|_| self.chain.as_slice())
    }

    /// The TLS-RPT result type of the failure, if the probe failed and one applies
    /// ([`ProbeError::result_type`]).
    pub fn result_type(&self) -> Option<&'static str> {
        self.error.as_ref().and_then(ProbeError::result_type)
    }
}

/// The probe of every address of one host.
#[derive(Clone, Debug, Serialize)]
pub struct HostProbe {
    /// The host name looked up.
    pub host: String,
    /// The logical port.
    pub port: u16,
    /// The port dialled.
    pub dialled_port: u16,
    /// How TLS was started.
    pub starttls: Starttls,
    /// The SNI sent to every address.
    pub sni: String,
    /// The A lookup, with its DNSSEC status (RFC 7672 §2.2.2: an insecure address record means
    /// no DANE for the host; a failed lookup is not "no address").
    #[serde(serialize_with = "lookup")]
    pub a: Result<Response<IpAddr>, LookupError>,
    /// The AAAA lookup, with its DNSSEC status.
    #[serde(serialize_with = "lookup")]
    pub aaaa: Result<Response<IpAddr>, LookupError>,
    /// One probe per address: the A records first, then the AAAA records, in answer order.
    pub addrs: Vec<AddrProbe>,
    /// Addresses beyond [`crate::ProbeConfig::max_addresses`], not probed.
    pub skipped: Vec<IpAddr>,
}

/// The negotiated parameters of a completed handshake.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct TlsSession {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// The cipher suite's IANA name (`TLS_AES_256_GCM_SHA384`,
    /// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`), or its code point in hex.
    pub cipher_suite: String,
    /// The key exchange group (`X25519`, `secp256r1`, ...), when known.
    pub key_exchange: Option<String>,
    /// The ALPN protocol the server selected, if any (lossy UTF-8).
    pub alpn: Option<String>,
    /// The server stapled an OCSP response to its certificate (RFC 6066 §8).
    pub ocsp_stapled: bool,
}

impl TlsSession {
    pub(crate) fn of(conn: &ClientConnection) -> Self {
        let version = mailsec_core::dane::tls::protocol_name(conn.protocol_version());
        let cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| iana_suite_name(s.suite()))
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            version,
            cipher_suite,
            key_exchange: conn
                .negotiated_key_exchange_group()
                .map(|g| named_group(g.name())),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            ocsp_stapled: false,
        }
    }
}

/// One presented certificate: its DER and what it says.
#[derive(Clone, Debug, Serialize)]
pub struct PresentedCert {
    /// The DER certificate (base64 in JSON).
    #[serde(serialize_with = "as_base64")]
    pub der: Vec<u8>,
    /// Its parsed summary, or why it does not parse (a server may send anything).
    #[serde(serialize_with = "summary_or_error")]
    pub summary: Result<CertSummary, CertError>,
}

impl PresentedCert {
    pub(crate) fn new(der: Vec<u8>) -> Self {
        let summary = CertSummary::of(&der);
        Self { der, summary }
    }
}

/// The parts of a certificate worth showing.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct CertSummary {
    /// Subject DN, RFC 4514 text.
    pub subject: String,
    /// Issuer DN, RFC 4514 text.
    pub issuer: String,
    /// The subjectAltName DNS names, or why the extension cannot be read.
    #[serde(serialize_with = "names_or_error")]
    pub dns_names: Result<Vec<String>, CertError>,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// SHA-256 of the SubjectPublicKeyInfo, hex (the data of a `x 1 1` TLSA record).
    pub spki_sha256: String,
    /// The basicConstraints CA flag.
    pub is_ca: bool,
}

impl CertSummary {
    fn of(der: &[u8]) -> Result<Self, CertError> {
        let cert = Certificate::from_der(der)?;
        let not_before = X509Certificate::from_der(der)
            .map(|(_, c)| c.validity().not_before.timestamp())
            .map_err(|e| CertError::BadCertificate(e.to_string()))?;
        Ok(Self {
            spki_sha256: hex(&Sha256::digest(&cert.spki)),
            not_before: rfc3339(not_before),
            not_after: rfc3339(cert.not_after),
            subject: cert.subject,
            issuer: cert.issuer,
            dns_names: cert.dns_names,
            is_ca: cert.is_ca,
        })
    }
}

/// How long one step took.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
pub struct Timing {
    /// The step.
    pub step: Step,
    /// Its duration (milliseconds in JSON).
    #[serde(rename = "ms", serialize_with = "as_ms")]
    pub elapsed: Duration,
}

/// rustls names TLS 1.3 suites `TLS13_*`; IANA names them `TLS_*`.
fn iana_suite_name(suite: rustls::CipherSuite) -> String {
    match suite.as_str() {
        Some(name) => name
            .strip_prefix("TLS13_")
            .map_or_else(|| name.to_owned(), |rest| format!("TLS_{rest}")),
        None => format!("0x{:04x}", u16::from(suite)),
    }
}

fn named_group(group: rustls::NamedGroup) -> String {
    group
        .as_str()
        .map_or_else(|| format!("0x{:04x}", u16::from(group)), str::to_owned)
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{unix}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn as_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

fn as_base64<S: serde::Serializer>(der: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(der))
}

#[derive(Serialize)]
struct ErrorOnly {
    error: String,
}

fn summary_or_error<S: serde::Serializer>(
    r: &Result<CertSummary, CertError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match r {
        Ok(summary) => summary.serialize(s),
        Err(e) => ErrorOnly {
            error: e.to_string(),
        }
        .serialize(s),
    }
}

fn names_or_error<S: serde::Serializer>(
    r: &Result<Vec<String>, CertError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match r {
        Ok(names) => names.serialize(s),
        Err(e) => ErrorOnly {
            error: e.to_string(),
        }
        .serialize(s),
    }
}

/// A lookup as `{"status": "records"|"nxdomain"|"nodata", ...}` (the [`Response`] itself) or
/// `{"status": "error", "error": label, "message": text}`.
fn lookup<S: serde::Serializer>(
    r: &Result<Response<IpAddr>, LookupError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Failed {
        status: &'static str,
        error: &'static str,
        message: String,
    }
    match r {
        Ok(response) => response.serialize(s),
        Err(e) => Failed {
            status: "error",
            error: e.label(),
            message: e.to_string(),
        }
        .serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_and_time_names() {
        assert_eq!(
            iana_suite_name(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256),
            "TLS_AES_128_GCM_SHA256"
        );
        assert_eq!(
            iana_suite_name(rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(iana_suite_name(rustls::CipherSuite::from(0x1234)), "0x1234");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), format!("@{}", i64::MAX));
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }

    #[test]
    fn garbage_certificates_are_summarised_as_errors() {
        let c = PresentedCert::new(b"not a certificate".to_vec());
        assert!(c.summary.is_err());
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["der"], "bm90IGEgY2VydGlmaWNhdGU=");
        assert!(json["summary"]["error"].is_string());
    }
}
