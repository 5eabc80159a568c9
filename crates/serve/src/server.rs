//! The listeners: HTTPS (rustls; HTTP/1.1 and HTTP/2 by ALPN) picking the certificate by SNI,
//! plain HTTP answering 404, the access log, the limits, and reloads on SIGHUP and on file
//! change. A reload swaps what is served for new handshakes and requests; open connections
//! are not touched.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;

use crate::POLICY_PATH;
use crate::access::AccessLine;
use crate::config::ServeConfig;
use crate::site::{self, Site, SiteError};

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A directory cannot be read.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// A listener cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The access log cannot be opened.
    #[error("{path}: {source}")]
    Log {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS: {0}")]
    Tls(String),
}

enum LogMsg {
    Line(String),
    Reopen,
    /// Write what is queued and stop (at shutdown: no line is lost).
    Close,
}

/// A policy host server.
pub struct Server {
    config: ServeConfig,
    provider: Arc<CryptoProvider>,
    site: RwLock<Arc<Site>>,
    log: Option<mpsc::Sender<LogMsg>>,
    log_rx: std::sync::Mutex<Option<mpsc::Receiver<LogMsg>>>,
    connections: Arc<Semaphore>,
    notice: Box<dyn Fn(&str) + Send + Sync>,
    reloads: AtomicU64,
    dropped_log_lines: AtomicU64,
    /// The files as they were just before the last load: the watcher reloads when they differ.
    loaded_from: std::sync::Mutex<Fingerprint>,
}

/// Names, lengths and modification times of the files a load reads.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

impl Server {
    /// Reads the directories. `notice` receives one line per refused file and per reload.
    pub fn new(
        config: ServeConfig,
        notice: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Result<Self, ServeError> {
        let provider = Arc::new(provider());
        let (policy_dir, cert_dir) = dirs(&config);
        // Taken before reading, so that a change made during the load is seen afterwards.
        let loaded_from = fingerprint(&config);
        let loaded = site::load(&policy_dir, &cert_dir, &provider, None)?;
        for line in &loaded.refused {
            notice(line);
        }
        let (log, log_rx) = match &config.access_log {
            Some(_) => {
                let (tx, rx) = mpsc::channel(1 << 16);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        Ok(Self {
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            config,
            provider,
            site: RwLock::new(Arc::new(loaded.site)),
            log,
            log_rx: std::sync::Mutex::new(log_rx),
            notice,
            reloads: AtomicU64::new(0),
            dropped_log_lines: AtomicU64::new(0),
            loaded_from: std::sync::Mutex::new(loaded_from),
        })
    }

    /// What a start with `config` would serve, and the files it would refuse: the same load,
    /// without a server (`--check-config`).
    pub fn check(config: &ServeConfig) -> Result<site::Loaded, SiteError> {
        let (policy_dir, cert_dir) = dirs(config);
        site::load(&policy_dir, &cert_dir, &provider(), None)
    }

    /// What is served now.
    pub fn site(&self) -> Arc<Site> {
        self.site
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reloads both directories; a refused file keeps its domain's last good copy. Returns the
    /// refused lines (also given to `notice`).
    pub fn reload(&self) -> Result<Vec<String>, SiteError> {
        let (policy_dir, cert_dir) = dirs(&self.config);
        let current = self.site();
        // Recorded before reading, and whether or not the load succeeds: a refused reload is
        // tried again when the files change again, not every watch interval.
        *self
            .loaded_from
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fingerprint(&self.config);
        let loaded = site::load(&policy_dir, &cert_dir, &self.provider, Some(&current))?;
        for line in &loaded.refused {
            (self.notice)(line);
        }
        (self.notice)(&format!(
            "reloaded: {} policy host{}",
            loaded.site.len(),
            if loaded.site.len() == 1 { "" } else { "s" }
        ));
        *self.site.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded.site);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        if let Some(log) = &self.log {
            let _ = log.try_send(LogMsg::Reopen);
        }
        Ok(loaded.refused)
    }

    /// How many reloads happened.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Binds the configured listeners: HTTPS, then plain HTTP.
    pub async fn bind(&self) -> Result<(Vec<TcpListener>, Vec<TcpListener>), ServeError> {
        let bind = |addrs: Vec<SocketAddr>| async move {
            let mut out = Vec::new();
            for addr in addrs {
                out.push(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| ServeError::Bind { addr, source })?,
                );
            }
            Ok::<_, ServeError>(out)
        };
        Ok((
            bind(self.config.https_addrs()).await?,
            bind(self.config.http_addrs()).await?,
        ))
    }

    /// Serves until `shutdown` completes.
    pub async fn run(
        self: Arc<Self>,
        https: Vec<TcpListener>,
        http: Vec<TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let mut tasks = tokio::task::JoinSet::new();
        let rx = self
            .log_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut writer = None;
        if let Some(rx) = rx
            && let Some(path) = self.config.access_log.clone()
        {
            let out = open_log(&path).await?;
            writer = Some(tokio::spawn(write_log(path, out, rx)));
        }
        let mut tls = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServeError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // Stateless resumption (RFC 8446 §4.6.1 tickets, keys rotated by rustls' ticketer): a
        // client that comes back skips the certificate and its signature, and the server keeps
        // no per-client cache. One ticket a handshake: a client resumes one connection at a
        // time.
        tls.ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|e| ServeError::Tls(e.to_string()))?;
        tls.send_tls13_tickets = 1;
        tls.ignore_client_order = true;
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        for l in https {
            // One accepting task per core: under a flood of new connections a single one is
            // polled too rarely among the handshakes it has spawned.
            let l = Arc::new(l);
            for _ in 0..std::thread::available_parallelism().map_or(1, usize::from) {
                tasks.spawn(self.clone().accept_loop(l.clone(), Some(acceptor.clone())));
            }
        }
        for l in http {
            tasks.spawn(self.clone().accept_loop(Arc::new(l), None));
        }
        tasks.spawn(self.clone().watch());
        shutdown.await;
        tasks.abort_all();
        if let (Some(log), Some(writer)) = (&self.log, writer) {
            let _ = log.send(LogMsg::Close).await;
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
        }
        Ok(())
    }

    async fn accept_loop(self: Arc<Self>, listener: Arc<TcpListener>, tls: Option<TlsAcceptor>) {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                // Out of descriptors or a reset before accept: wait, go on.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            // Over the limit: closed at once, before any work.
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let server = self.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let lifetime = server.config.limits.lifetime();
                let _ = tokio::time::timeout(lifetime, server.connection(tcp, peer, tls)).await;
            });
        }
    }

    async fn connection(
        self: Arc<Self>,
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
        tls: Option<TlsAcceptor>,
    ) {
        let limits = &self.config.limits;
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header())
            .max_buf_size(limits.max_header_bytes);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
        match tls {
            Some(acceptor) => {
                let Ok(Ok(stream)) =
                    tokio::time::timeout(limits.handshake(), acceptor.accept(tcp)).await
                else {
                    return;
                };
                let sni = stream
                    .get_ref()
                    .1
                    .server_name()
                    .map(|s| s.trim_end_matches('.').to_ascii_lowercase());
                let server = self.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let response = server.respond(&req, peer, sni.as_deref(), true);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
            None => {
                let server = self.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let response = server.respond(&req, peer, None, false);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = builder
                    .http1_only()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            }
        }
    }

    /// The response to one request, logged.
    fn respond(
        &self,
        req: &Request<Incoming>,
        peer: SocketAddr,
        sni: Option<&str>,
        secure: bool,
    ) -> Response<Full<Bytes>> {
        let host = request_host(req);
        let site = self.site();
        let decision = decide(
            &site,
            secure,
            sni,
            host.as_deref(),
            req.method(),
            req.uri().path(),
        );
        let (status, body) = match &decision {
            Answer::Policy(body) => (StatusCode::OK, body.len()),
            Answer::Status(s, text) => (*s, text.len()),
        };
        if let Some(log) = &self.log {
            let line = AccessLine {
                time: now_rfc3339(),
                client: peer.to_string(),
                sni: sni.map(str::to_owned),
                host,
                method: req.method().as_str().to_owned(),
                path: req.uri().path().chars().take(256).collect(),
                status: status.as_u16(),
                user_agent: req
                    .headers()
                    .get(USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.chars().take(256).collect()),
                proto: format!(
                    "{}{}",
                    if secure { "" } else { "http:" },
                    match req.version() {
                        hyper::Version::HTTP_2 => "HTTP/2",
                        hyper::Version::HTTP_10 => "HTTP/1.0",
                        hyper::Version::HTTP_09 => "HTTP/0.9",
                        _ => "HTTP/1.1",
                    }
                ),
                bytes: if req.method() == Method::HEAD {
                    0
                } else {
                    body as u64
                },
            };
            if let Ok(text) = serde_json::to_string(&line)
                && log.try_send(LogMsg::Line(text)).is_err()
            {
                self.dropped_log_lines.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut response = match decision {
            Answer::Policy(body) => {
                let mut r = Response::new(Full::new(if req.method() == Method::HEAD {
                    Bytes::new()
                } else {
                    body
                }));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                r
            }
            Answer::Status(s, text) => {
                let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
                *r.status_mut() = s;
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                if s == StatusCode::METHOD_NOT_ALLOWED {
                    r.headers_mut()
                        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                }
                r
            }
        };
        if req.method() == Method::HEAD
            && let Ok(v) = HeaderValue::from_str(&body.to_string())
        {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_LENGTH, v);
        }
        response
    }

    /// Reloads on SIGHUP, and when a file of the two directories changes.
    async fn watch(self: Arc<Self>) {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        let interval = std::time::Duration::from_secs(self.config.watch_interval);
        loop {
            let hangup = tokio::select! {
                _ = hup.recv() => true,
                () = tokio::time::sleep(interval), if self.config.watch => false,
            };
            // Compared with the files as the last load found them, not as this task first saw
            // them: a change made between the load and the task's start is not missed.
            let changed = *self
                .loaded_from
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                != fingerprint(&self.config);
            if (hangup || changed)
                && let Err(e) = self.reload()
            {
                (self.notice)(&format!(
                    "reload refused, still serving the last good configuration: {e}"
                ));
            }
        }
    }
}

/// ring's provider with the TLS 1.3 suites in the order the server picks from: AES-128-GCM with
/// SHA-256 first. Every TLS 1.3 suite is strong; SHA-256's key schedule costs a new connection
/// less than SHA-384's (a policy is a few hundred bytes, so the handshake is nearly all the
/// work).
fn provider() -> CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => 1,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 2,
        _ => 3,
    });
    p
}

/// What a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the policy.
    Policy(Bytes),
    /// Any other status, with a short text.
    Status(StatusCode, &'static str),
}

/// The decision for one request (pure): the policy only over HTTPS, at the well-known path,
/// for a known host named alike by SNI and Host (RFC 8461 §3.3), by GET or HEAD.
pub fn decide(
    site: &Site,
    secure: bool,
    sni: Option<&str>,
    host: Option<&str>,
    method: &Method,
    path: &str,
) -> Answer {
    const NOT_FOUND: Answer = Answer::Status(StatusCode::NOT_FOUND, "not found\n");
    if !secure || path != POLICY_PATH {
        return NOT_FOUND;
    }
    let name = match (sni, host) {
        (Some(s), Some(h)) if s != h => return NOT_FOUND,
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => return NOT_FOUND,
    };
    let Some(h) = site.host(name) else {
        return NOT_FOUND;
    };
    if method != Method::GET && method != Method::HEAD {
        return Answer::Status(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD\n");
    }
    Answer::Policy(h.body.clone())
}

/// The host a request names: HTTP/2's `:authority` or HTTP/1.1's Host, lower case, without
/// port or trailing dot.
fn request_host(req: &Request<Incoming>) -> Option<String> {
    let raw = req
        .uri()
        .authority()
        .map(|a| a.host().to_owned())
        .or_else(|| {
            req.headers()
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .map(|h| match h.rsplit_once(':') {
                    Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                        name.to_owned()
                    }
                    _ => h.to_owned(),
                })
        })?;
    Some(raw.trim_end_matches('.').to_ascii_lowercase())
}

struct Resolver(Arc<Server>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let site = self.0.site();
        let name = hello
            .server_name()
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase());
        name.and_then(|n| site.host(&n).map(|h| h.key.clone()))
            .or_else(|| site.any_key())
    }
}

fn dirs(config: &ServeConfig) -> (PathBuf, PathBuf) {
    (
        config.policy_dir.clone().unwrap_or_default(),
        config.cert_dir.clone().unwrap_or_default(),
    )
}

/// Names, lengths and modification times of the files a reload reads.
fn fingerprint(config: &ServeConfig) -> Fingerprint {
    let (policy_dir, cert_dir) = dirs(config);
    let mut out = Vec::new();
    let mut add = |p: PathBuf| {
        // metadata follows symbolic links: certbot's live/ points into archive/.
        if let Ok(m) = std::fs::metadata(&p) {
            out.push((p, m.len(), m.modified().ok()));
        }
    };
    if let Ok(rd) = std::fs::read_dir(&policy_dir) {
        for e in rd.flatten() {
            add(e.path());
        }
    }
    if let Ok(rd) = std::fs::read_dir(&cert_dir) {
        for e in rd.flatten() {
            add(e.path().join("fullchain.pem"));
            add(e.path().join("privkey.pem"));
        }
    }
    out.sort();
    out
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

enum LogOut {
    Stdout(tokio::io::Stdout),
    File(tokio::fs::File),
}

async fn open_log(path: &PathBuf) -> Result<LogOut, ServeError> {
    if path.as_os_str() == "-" {
        return Ok(LogOut::Stdout(tokio::io::stdout()));
    }
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map(LogOut::File)
        .map_err(|source| ServeError::Log {
            path: path.clone(),
            source,
        })
}

/// Writes log lines in batches: whatever has queued up, then one write.
async fn write_log(path: PathBuf, mut out: LogOut, mut rx: mpsc::Receiver<LogMsg>) {
    let mut buf = Vec::with_capacity(1 << 16);
    while let Some(first) = rx.recv().await {
        let (mut reopen, mut close) = (false, false);
        let mut msg = Some(first);
        while let Some(m) = msg {
            match m {
                LogMsg::Line(l) => {
                    buf.extend_from_slice(l.as_bytes());
                    buf.push(b'\n');
                }
                LogMsg::Reopen => reopen = true,
                LogMsg::Close => close = true,
            }
            msg = if buf.len() < 1 << 20 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let _ = match &mut out {
            LogOut::Stdout(s) => s.write_all(&buf).await,
            LogOut::File(f) => f.write_all(&buf).await,
        };
        buf.clear();
        if close {
            let _ = match &mut out {
                LogOut::Stdout(s) => s.flush().await,
                LogOut::File(f) => f.sync_data().await,
            };
            return;
        }
        // After a rotation (logrotate, then SIGHUP): write to the new file of that name.
        if reopen
            && matches!(out, LogOut::File(_))
            && let Ok(o) = open_log(&path).await
        {
            out = o;
        }
    }
}
