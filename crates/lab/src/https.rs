//! The lab's MTA-STS policy host: one HTTPS server for every `mta-sts.<domain>`, which picks the
//! certificate and the behaviour by SNI (RFC 8461 §3.3), with each scenario's faults.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::ca::{Ca, LeafKind};
use crate::scale::ScaleSpec;
use crate::scenario::{HostFault, PROVIDER_LABEL, Scenario};
use crate::{LabError, accept_failed};

/// The well-known path, RFC 8461 §3.3.
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";
/// Where the `Redirect` fault points; it serves a valid policy, so that a client which follows
/// redirects (it must not) is caught.
const REDIRECT_PATH: &str = "/moved/mta-sts.txt";
/// Where every policy host takes TLS-RPT reports (RFC 8460 §3, `https:` rua).
pub const REPORT_PATH: &str = "/v1/tlsrpt";

/// What one policy host serves.
#[derive(Clone)]
struct Site {
    body: String,
    fault: HostFault,
    key: Arc<CertifiedKey>,
}

struct Sites {
    by_name: HashMap<String, Site>,
    fallback: Arc<CertifiedKey>,
    scale: ScaleSites,
}

/// The policy hosts of the generated domains, `mta-sts.d<i>.scale.test`: each gets its own
/// certificate when a client first asks for it (issuing them all would double the start-up of a
/// lab at scale, and most are never fetched).
struct ScaleSites {
    count: u32,
    ca: Arc<Ca>,
    provider: Arc<CryptoProvider>,
    keys: Mutex<HashMap<u32, Arc<CertifiedKey>>>,
}

impl Sites {
    /// What the policy host serves for SNI `name` (lower case), if it is one of the lab's.
    fn site(&self, name: &str) -> Option<Site> {
        if let Some(site) = self.by_name.get(name) {
            return Some(site.clone());
        }
        let index = name
            .strip_prefix("mta-sts.")
            .and_then(ScaleSpec::index_of)
            .filter(|i| *i <= self.scale.count)?;
        Some(Site {
            body: ScaleSpec::new(index).policy(),
            fault: HostFault::None,
            key: self.scale.key(index)?,
        })
    }
}

impl ScaleSites {
    fn key(&self, index: u32) -> Option<Arc<CertifiedKey>> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = keys.get(&index) {
            return Some(key.clone());
        }
        let host = format!("mta-sts.{}", ScaleSpec::new(index).domain());
        let key = certified(&self.ca, &self.provider, &[&host], LeafKind::Valid).ok()?;
        keys.insert(index, key.clone());
        Some(key)
    }
}

impl std::fmt::Debug for Sites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sites")
            .field("hosts", &self.by_name.len())
            .field("generated", &self.scale.count)
            .finish()
    }
}

impl ResolvesServerCert for Sites {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let key = hello
            .server_name()
            .and_then(|n| self.site(&n.to_ascii_lowercase()))
            .map_or_else(|| self.fallback.clone(), |s| s.key);
        Some(key)
    }
}

/// A certificate from the lab CA, ready for rustls.
fn certified(
    ca: &Ca,
    provider: &CryptoProvider,
    names: &[&str],
    kind: LeafKind,
) -> Result<Arc<CertifiedKey>, LabError> {
    let issued = ca.issue(names, kind)?;
    let key = provider
        .key_provider
        .load_private_key(issued.private_key())
        .map_err(|e| LabError::Tls(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(issued.chain, key)))
}

/// Starts the policy host on `listener` for `scenarios` and `scale` generated domains; returns
/// the task.
pub(crate) fn start(
    listener: TcpListener,
    scenarios: &[Scenario],
    ca: &Arc<Ca>,
    scale: u32,
) -> Result<tokio::task::JoinHandle<()>, LabError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = |names: &[&str], kind: LeafKind| certified(ca, &provider, names, kind);
    let mut by_name = HashMap::new();
    for s in scenarios {
        let Some(policy) = s.policy else { continue };
        let host = format!("mta-sts.{}", s.domain());
        let kind = match policy.fault {
            HostFault::UntrustedCert => LeafKind::Untrusted,
            HostFault::WrongName => LeafKind::WrongName,
            HostFault::ExpiredCert => LeafKind::Expired,
            _ => LeafKind::Valid,
        };
        // A provider that serves its own certificate for a delegated name (RFC 8461 §8.2).
        let provider = format!("{PROVIDER_LABEL}.{}", s.domain());
        let names = if policy.fault == HostFault::DelegatedProviderCert {
            [provider.as_str()]
        } else {
            [host.as_str()]
        };
        let site = Site {
            body: policy.body.replace("{domain}", &s.domain()),
            fault: policy.fault,
            key: certified(&names, kind)?,
        };
        by_name.insert(host, site);
    }
    let sites = Arc::new(Sites {
        by_name,
        fallback: certified(&["unknown.test"], LeafKind::Valid)?,
        scale: ScaleSites {
            count: scale,
            ca: ca.clone(),
            provider: provider.clone(),
            keys: Mutex::new(HashMap::new()),
        },
    });
    let config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| LabError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(sites.clone());
    let acceptor = TlsAcceptor::from(Arc::new(config));
    Ok(tokio::spawn(async move {
        loop {
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed("HTTPS", &e).await;
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let sites = sites.clone();
            tokio::spawn(async move { serve_connection(tcp, acceptor, sites).await });
        }
    }))
}

async fn serve_connection(tcp: tokio::net::TcpStream, acceptor: TlsAcceptor, sites: Arc<Sites>) {
    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
    else {
        return;
    };
    let sni = tls.get_ref().1.server_name().map(str::to_ascii_lowercase);
    let site = sni.and_then(|n| sites.site(&n));
    let service = service_fn(move |req: Request<Incoming>| {
        let site = site.clone();
        async move {
            Ok::<_, Infallible>(if req.uri().path() == REPORT_PATH {
                report_endpoint(site.is_some(), req.method())
            } else {
                respond(site.as_ref(), req.uri().path())
            })
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

type Body = BoxBody<Bytes, Infallible>;

/// A TLS-RPT report endpoint (RFC 8460 §3) on every policy host: it takes a POST (the report is
/// read and dropped) and answers other methods `405`, as a POST-only endpoint does.
fn report_endpoint(known_host: bool, method: &hyper::Method) -> Response<Body> {
    if !known_host {
        return status(StatusCode::NOT_FOUND, "no such host\n");
    }
    if method == hyper::Method::POST {
        return status(StatusCode::OK, "report received\n");
    }
    let mut r = status(StatusCode::METHOD_NOT_ALLOWED, "POST reports here\n");
    r.headers_mut().insert(
        hyper::header::ALLOW,
        hyper::header::HeaderValue::from_static("POST"),
    );
    r
}

fn respond(site: Option<&Site>, path: &str) -> Response<Body> {
    let Some(site) = site else {
        return status(StatusCode::NOT_FOUND, "no such policy host\n");
    };
    if site.fault == HostFault::Redirect {
        if path == REDIRECT_PATH {
            return text(StatusCode::OK, "text/plain", site.body.clone().into());
        }
        let mut r = status(StatusCode::MOVED_PERMANENTLY, "moved\n");
        if let Ok(v) = REDIRECT_PATH.parse() {
            r.headers_mut().insert(hyper::header::LOCATION, v);
        }
        return r;
    }
    if path != POLICY_PATH {
        return status(StatusCode::NOT_FOUND, "not found\n");
    }
    match site.fault {
        HostFault::NotFound => status(StatusCode::NOT_FOUND, "not found\n"),
        HostFault::Html => text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            site.body.clone().into(),
        ),
        HostFault::Oversize => {
            let mut body = site.body.clone();
            while body.len() <= 70 * 1024 {
                body.push_str("x-padding: this policy is larger than the 64 KiB senders accept\n");
            }
            text(StatusCode::OK, "text/plain", body.into())
        }
        HostFault::CacheHeaders => {
            // RFC 8461 §3.3: senders must not use HTTP caching; these contradict max_age.
            let mut r = text(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                site.body.clone().into(),
            );
            for (name, value) in [
                (hyper::header::CACHE_CONTROL, "no-store, max-age=0"),
                (hyper::header::EXPIRES, "Thu, 01 Jan 1970 00:00:00 GMT"),
                (hyper::header::ETAG, "\"policy-1\""),
            ] {
                if let Ok(v) = value.parse() {
                    r.headers_mut().insert(name, v);
                }
            }
            r
        }
        HostFault::Slow => {
            // One byte a second: longer than any sensible fetch timeout.
            let bytes: Vec<u8> = site.body.clone().into_bytes();
            let stream = futures_util::stream::unfold(0usize, move |i| {
                let b = bytes.get(i).copied();
                async move {
                    let b = b?;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Some((
                        Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b]))),
                        i + 1,
                    ))
                }
            });
            let mut r = Response::new(StreamBody::new(stream).boxed());
            if let Ok(v) = "text/plain".parse() {
                r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            r
        }
        _ => text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            site.body.clone().into(),
        ),
    }
}

fn status(code: StatusCode, body: &'static str) -> Response<Body> {
    text(code, "text/plain", Bytes::from_static(body.as_bytes()))
}

fn text(code: StatusCode, content_type: &str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body).boxed());
    *r.status_mut() = code;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// The TLS 1.0-only policy host ([`HostFault::OldTls`]): reads the client hello and answers with
/// a fatal protocol_version alert (RFC 8446 §6.2), as OpenSSL limited to TLS 1.0 answers a client
/// offering only TLS 1.2 and 1.3 (the real-component test compares it with `openssl s_server
/// -tls1`). Returns the task.
pub(crate) fn start_old_tls(listener: TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed("HTTPS (TLS 1.0)", &e).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut hello = [0u8; 512];
                let read = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut hello));
                if matches!(read.await, Ok(Ok(n)) if n > 0) {
                    // Record: alert (0x15), TLS 1.0 (0x0301), length 2; fatal (2),
                    // protocol_version (70 = 0x46).
                    let _ = tcp
                        .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
                        .await;
                    let _ = tcp.shutdown().await;
                }
            });
        }
    })
}
