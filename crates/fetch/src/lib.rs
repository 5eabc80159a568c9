//! # mailsec-fetch
//!
//! Fetches an MTA-STS policy the way RFC 8461 §3.3 says a sender must:
//!
//! - `GET https://mta-sts.<domain>/.well-known/mta-sts.txt` with SNI `mta-sts.<domain>`
//!   (§7.1) over TLS 1.2 or 1.3 (§7.2), the certificate validated for that name against a
//!   trusted root (§3.3);
//! - only status 200 counts; redirects are **not** followed; HTTP caching is not used;
//! - the media type should be `text/plain` (§3.2; parameters ignored);
//! - the body is capped (64 KiB by default) while it streams, and the whole exchange is bounded by
//!   one timeout (the RFC suggests a minute).
//!
//! Every failure keeps its kind, and [`FetchError::result_type`] maps it to the TLS-RPT result
//! type of RFC 8460 §4.3.2.2.

#![forbid(unsafe_code)]

mod endpoint;

pub use endpoint::{Endpoint, EndpointError, probe_report_endpoint};

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::rt::TokioIo;
use mailsec_core::HostName;
use mailsec_core::mta_sts::policy::MAX_BODY_LEN;
use mailsec_core::ports::PortMap;
use mailsec_dns::{LookupError, Resolver, Response};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The path of the policy (RFC 8461 §3.3).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// How to fetch.
#[derive(Clone)]
pub struct FetchConfig {
    /// Bound on the whole fetch: address lookup, connection, TLS, response and body.
    pub timeout: Duration,
    /// Largest body accepted.
    pub max_body: usize,
    /// Trusted roots.
    pub roots: Arc<RootCertStore>,
    /// Port overrides (labs only).
    pub ports: PortMap,
}

impl FetchConfig {
    /// Mozilla's roots (webpki-roots), a 30 s timeout and the 64 KiB cap.
    pub fn new() -> Self {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self {
            timeout: Duration::from_secs(30),
            max_body: MAX_BODY_LEN,
            roots: Arc::new(roots),
            ports: PortMap::default(),
        }
    }

    /// Trusts only the CA certificates of `pem` (a lab's CA, a private PKI).
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, FetchError> {
        let text = std::fs::read(path)
            .map_err(|e| FetchError::CaFile(format!("{}: {e}", path.display())))?;
        let certs = mailsec_core::dane::parse_certificates(&text)
            .map_err(|e| FetchError::CaFile(format!("{}: {e}", path.display())))?;
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots
                .add(CertificateDer::from(c.der))
                .map_err(|e| FetchError::CaFile(format!("{}: {e}", path.display())))?;
        }
        self.roots = Arc::new(roots);
        Ok(self)
    }
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A fetched policy body, not yet parsed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Fetched {
    /// The URL fetched.
    pub url: String,
    /// The address connected to.
    pub addr: SocketAddr,
    /// The body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The Content-Type header.
    pub content_type: String,
    /// How long the fetch took.
    pub elapsed_ms: u128,
    /// The negotiated TLS version (`TLSv1.2`, `TLSv1.3`).
    pub tls_version: String,
    /// The policy host certificate's end of validity, seconds since the Unix epoch.
    pub certificate_not_after: Option<i64>,
    /// The HTTP caching headers of the response, which senders must not use (RFC 8461 §3.3).
    pub caching: CachingHeaders,
    /// The CNAME chain of `mta-sts.<domain>`, as `owner -> target` pairs (delegation to a
    /// provider, RFC 8461 §8.2); empty when the name has its own address records.
    pub host_cnames: Vec<(String, String)>,
}

/// The HTTP caching headers of a policy response (RFC 9111 §5), kept to say that senders ignore
/// them (RFC 8461 §3.3: "HTTP caching MUST NOT be used").
#[derive(Clone, Debug, Default, Eq, PartialEq, serde::Serialize)]
pub struct CachingHeaders {
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`.
    pub expires: Option<String>,
    /// `ETag`.
    pub etag: Option<String>,
    /// `Date`, against which `Expires` is read.
    pub date: Option<String>,
}

/// What a TLS handshake with the policy host without SNI showed (RFC 8461 §7.1: senders send
/// SNI, and policy hosts MAY rely on it to choose the certificate).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum WithoutSni {
    /// The certificate presented without SNI is valid for `mta-sts.<domain>` too.
    SameCertificate,
    /// Without SNI the host presents a certificate for other names.
    OtherCertificate {
        /// The DNS names of the certificate presented, when rustls reports them.
        presented: Vec<String>,
    },
    /// Without SNI the handshake fails.
    Refused {
        /// rustls' reason.
        reason: String,
    },
}

/// Why no policy was fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The policy host name did not resolve.
    #[error("mta-sts host lookup: {0}")]
    Lookup(LookupError),
    /// The policy host has no address.
    #[error("mta-sts host has no address (NXDOMAIN or NODATA)")]
    NoAddress,
    /// The policy host offers only TLS versions older than 1.2: a protocol_version alert, or a
    /// server hello for a version rustls does not speak (RFC 8461 §7.2, RFC 8996).
    #[error(
        "TLS handshake with {host}: {reason}: the policy host offers no TLS version senders speak (1.2 or 1.3)"
    )]
    TlsVersion {
        /// The policy host.
        host: String,
        /// rustls' reason.
        reason: String,
    },
    /// TCP connection failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed, for example on an untrusted, expired or misnamed certificate.
    #[error("TLS handshake with {host}: {reason}")]
    Tls {
        /// The policy host.
        host: String,
        /// rustls' reason.
        reason: String,
        /// True when the failure is about the certificate (RFC 8460 `sts-webpki-invalid`).
        certificate: bool,
        /// True when the certificate is not valid for the policy host name (the rest of the
        /// chain may be fine).
        name_mismatch: bool,
        /// The CNAME chain of the policy host name, as `owner -> target` pairs (RFC 8461 §8.2
        /// delegation); empty when it has its own address records.
        cnames: Vec<(String, String)>,
    },
    /// HTTP failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// A redirect, which RFC 8461 §3.3 forbids following.
    #[error("HTTP {status} redirect to {location}: redirects must not be followed (RFC 8461 §3.3)")]
    Redirect {
        /// The status code.
        status: u16,
        /// The Location header.
        location: String,
    },
    /// A status other than 200.
    #[error("HTTP status {0}; only 200 is valid (RFC 8461 §3.3)")]
    Status(u16),
    /// The media type is not `text/plain`.
    #[error("Content-Type `{0}` is not text/plain (RFC 8461 §3.2)")]
    ContentType(String),
    /// The body exceeds the cap.
    #[error("policy body exceeds {0} bytes")]
    TooLarge(usize),
    /// The whole fetch took longer than the timeout.
    #[error("fetch did not complete within {0:?}")]
    Timeout(Duration),
    /// The CA file is unusable.
    #[error("CA file {0}")]
    CaFile(String),
}

impl FetchError {
    /// The TLS-RPT result type (RFC 8460 §4.3.2.2) for this failure.
    pub fn result_type(&self) -> &'static str {
        match self {
            Self::Tls {
                certificate: true, ..
            } => "sts-webpki-invalid",
            _ => "sts-policy-fetch-error",
        }
    }
}

/// Fetches the policy of `domain`.
pub async fn fetch_policy(
    resolver: &Resolver,
    domain: &HostName,
    config: &FetchConfig,
) -> Result<Fetched, FetchError> {
    match tokio::time::timeout(config.timeout, fetch_inner(resolver, domain, config)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(config.timeout)),
    }
}

async fn fetch_inner(
    resolver: &Resolver,
    domain: &HostName,
    config: &FetchConfig,
) -> Result<Fetched, FetchError> {
    let start = Instant::now();
    let host = format!("mta-sts.{domain}");
    let (addr, host_cnames) = resolve(resolver, &host).await?;
    let addr = SocketAddr::new(addr, config.ports.https());
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|source| FetchError::Connect { addr, source })?;
    let tls = handshake(tcp, &host, config, &host_cnames).await?;
    let (tls_version, certificate_not_after) = {
        let (_, session) = tls.get_ref();
        let version = mailsec_core::dane::tls::protocol_name(session.protocol_version());
        let not_after = session
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|leaf| mailsec_core::dane::key_info(leaf))
            .map(|k| k.not_after);
        (version, not_after)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    tokio::spawn(conn);
    let request = Request::get(POLICY_PATH)
        .header(hyper::header::HOST, host.as_str())
        .header(
            hyper::header::USER_AGENT,
            concat!("mailsec/", env!("CARGO_PKG_VERSION")),
        )
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let status = response.status().as_u16();
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_owned();
        return Err(FetchError::Redirect { status, location });
    }
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let header = |name: hyper::header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let caching = CachingHeaders {
        cache_control: header(hyper::header::CACHE_CONTROL),
        expires: header(hyper::header::EXPIRES),
        etag: header(hyper::header::ETAG),
        date: header(hyper::header::DATE),
    };
    let content_type = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("text/plain") {
        return Err(FetchError::ContentType(content_type));
    }
    let announced = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if announced.is_some_and(|len| len > config.max_body) {
        return Err(FetchError::TooLarge(config.max_body));
    }
    let mut body = Vec::new();
    let mut incoming = response.into_body();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| FetchError::Http(e.to_string()))?;
        if let Some(data) = frame.data_ref() {
            if body.len() + data.len() > config.max_body {
                return Err(FetchError::TooLarge(config.max_body));
            }
            body.extend_from_slice(data);
        }
    }
    Ok(Fetched {
        url: format!("https://{host}{POLICY_PATH}"),
        addr,
        body,
        content_type,
        elapsed_ms: start.elapsed().as_millis(),
        tls_version,
        certificate_not_after,
        caching,
        host_cnames,
    })
}

/// A TLS handshake with the policy host at `addr` **without** SNI, the certificate validated for
/// `mta-sts.<domain>` as with SNI: whether the host chooses its certificate by SNI
/// (RFC 8461 §7.1 lets it; senders always send SNI). Bounded by the fetch timeout.
pub async fn handshake_without_sni(
    addr: SocketAddr,
    domain: &HostName,
    config: &FetchConfig,
) -> Result<WithoutSni, FetchError> {
    let host = format!("mta-sts.{domain}");
    let attempt = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| FetchError::Connect { addr, source })?;
        let server_name =
            ServerName::try_from(host.clone()).map_err(|e| FetchError::Http(e.to_string()))?;
        Ok(
            match TlsConnector::from(client_config(config, false)?)
                .connect(server_name, tcp)
                .await
            {
                Ok(_) => WithoutSni::SameCertificate,
                Err(e) => match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                {
                    Some(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForNameContext { presented, .. },
                    )) => WithoutSni::OtherCertificate {
                        presented: presented.clone(),
                    },
                    Some(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForName,
                    )) => WithoutSni::OtherCertificate {
                        presented: Vec::new(),
                    },
                    _ => WithoutSni::Refused {
                        reason: e.to_string(),
                    },
                },
            },
        )
    };
    match tokio::time::timeout(config.timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(config.timeout)),
    }
}

/// TLS 1.2 or 1.3 to `host` over `tcp`, SNI `host`, the certificate validated for `host`
/// against `config.roots`. A server that offers only older versions is
/// [`FetchError::TlsVersion`]; a certificate failure says whether the name was the problem, with
/// the CNAMEs that led to the host (RFC 8461 §8.2 delegation).
async fn handshake(
    tcp: TcpStream,
    host: &str,
    config: &FetchConfig,
    host_cnames: &[(String, String)],
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, FetchError> {
    let server_name =
        ServerName::try_from(host.to_owned()).map_err(|e| FetchError::Http(e.to_string()))?;
    TlsConnector::from(client_config(config, true)?)
        .connect(server_name, tcp)
        .await
        .map_err(|e| {
            let rustls_error = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            if rustls_error.is_some_and(is_old_version) {
                return FetchError::TlsVersion {
                    host: host.to_owned(),
                    reason: e.to_string(),
                };
            }
            FetchError::Tls {
                host: host.to_owned(),
                reason: e.to_string(),
                certificate: rustls_error
                    .is_some_and(|re| matches!(re, rustls::Error::InvalidCertificate(_))),
                name_mismatch: rustls_error.is_some_and(|re| {
                    matches!(
                        re,
                        rustls::Error::InvalidCertificate(
                            rustls::CertificateError::NotValidForName
                                | rustls::CertificateError::NotValidForNameContext { .. }
                        )
                    )
                }),
                cnames: host_cnames.to_vec(),
            }
        })
}

/// The client side of RFC 8461 §3.3 and §7: TLS 1.2 or 1.3, the configured roots, SNI as asked.
fn client_config(config: &FetchConfig, sni: bool) -> Result<Arc<rustls::ClientConfig>, FetchError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .map_err(|e| FetchError::Http(e.to_string()))?
    .with_root_certificates(config.roots.clone())
    .with_no_client_auth();
    tls.enable_sni = sni;
    Ok(Arc::new(tls))
}

/// A handshake that failed because the server speaks no version rustls offers (1.2, 1.3): the
/// server's protocol_version alert (RFC 8446 §6.2, what OpenSSL 3 limited to TLS 1.0 sends), or
/// a server hello for an older version.
fn is_old_version(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
            | rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
                    | rustls::PeerIncompatible::SupportedVersionsExtensionRequired
            )
    )
}

/// The first address of `host` (A, then AAAA), with the CNAME chain followed to it. DNSSEC is
/// not required here: the policy is authenticated by the Web PKI (RFC 8461 §10.1).
async fn resolve(
    resolver: &Resolver,
    host: &str,
) -> Result<(IpAddr, Vec<(String, String)>), FetchError> {
    let (v4, v6) = resolver.addresses(host).await;
    let mut first_error = None;
    for r in [v4, v6] {
        match r {
            Ok(Response::Records(a)) if !a.records.is_empty() => {
                return Ok((a.records[0], a.cnames));
            }
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // No address at all: a lookup failure says more than "no address".
    Err(first_error.map_or(FetchError::NoAddress, FetchError::Lookup))
}
