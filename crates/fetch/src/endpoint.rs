//! Reaching a TLS-RPT `https:` report endpoint (RFC 8460 §3, §5.3) the way a report submitter
//! will: the host resolved, a TLS connection with the certificate validated for the host
//! against the trusted roots (RFC 8460 §5.3 requires TLS for HTTPS submission), then one `HEAD`
//! request for the URI's path. `HEAD` submits nothing: a status that says the path exists
//! (anything but 404, 410 and 5xx; a `405 Method Not Allowed` is what a POST-only endpoint
//! answers) means reports can arrive. Redirects are reported, not followed.

use std::net::SocketAddr;

use hyper::Request;
use hyper_util::rt::TokioIo;
use mailsec_dns::Resolver;
use tokio::net::TcpStream;

use crate::{FetchConfig, FetchError, handshake, resolve};

/// The User-Agent of every request.
const USER_AGENT: &str = concat!("mailsec/", env!("CARGO_PKG_VERSION"));

/// What the endpoint answered.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Endpoint {
    /// The URI probed.
    pub uri: String,
    /// The address connected to.
    pub addr: SocketAddr,
    /// The status of the `HEAD` request.
    pub status: u16,
}

impl Endpoint {
    /// True when the status says the path takes no reports: not found, gone, or a server error.
    /// Every other status (2xx, 3xx, 400, 401, 403, 405, …) shows a live endpoint that will
    /// judge a real POST (RFC 8460 §5.3).
    pub fn refuses_reports(&self) -> bool {
        matches!(self.status, 404 | 410) || self.status >= 500
    }
}

/// Why an `https:` report URI cannot be probed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The URI is not an absolute `https:` URI with a host.
    #[error("`{0}` is not an https: URI with a host")]
    BadUri(String),
    /// Resolution, connection, TLS or HTTP failed, as for a policy fetch.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Probes `uri` (an `https:` rua of a TLS-RPT record), within `config.timeout`.
pub async fn probe_report_endpoint(
    resolver: &Resolver,
    uri: &str,
    config: &FetchConfig,
) -> Result<Endpoint, EndpointError> {
    let parsed: hyper::Uri = uri
        .parse()
        .map_err(|_| EndpointError::BadUri(uri.to_owned()))?;
    let (Some(host), Some("https")) = (parsed.host(), parsed.scheme_str()) else {
        return Err(EndpointError::BadUri(uri.to_owned()));
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let port = parsed.port_u16().unwrap_or(443);
    let path = parsed
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let inner = async {
        let (ip, cnames) = resolve(resolver, &host).await?;
        let addr = SocketAddr::new(ip, config.ports.dial(port));
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| FetchError::Connect { addr, source })?;
        let tls = handshake(tcp, &host, config, &cnames).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        tokio::spawn(conn);
        let authority = if port == 443 {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        let request = Request::head(path.as_str())
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        Ok::<_, FetchError>(Endpoint {
            uri: uri.to_owned(),
            addr,
            status: response.status().as_u16(),
        })
    };
    match tokio::time::timeout(config.timeout, inner).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(FetchError::Timeout(config.timeout).into()),
    }
}
