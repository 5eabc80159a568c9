//! `pwprotect serve`: publishes the signed policy over HTTPS (`GET /policy.json`, for
//! `pwprotect policy fetch` on every agent) and answers `POST /check` on a local unix socket
//! for anything that is neither Samba nor PAM (a web form, a provisioning script, OpenLDAP's
//! `ppm`-style hooks).
//!
//! The published file is read on every request, so a newly built policy is served at once.
//! The policy that `/check` applies is reloaded when its file changes; without one (a signed
//! file missing or unverifiable) passwords are accepted and each decision says so.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pwprotect_core::signed::Mode;
use pwprotect_core::{Identity, Policy};

use crate::{BatchRequest, LoadError, MAX_PASSWORD, PolicyArgs};

/// `pwprotect serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Serve HTTPS here (`HOST:PORT`), with `--cert`, `--key`, and `--publish` or
    /// `--range-store`.
    #[arg(long, value_name = "ADDR", requires_all = ["cert", "key"])]
    listen: Option<SocketAddr>,
    /// The server's certificate chain (PEM).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The signed policy published at `/policy.json`.
    #[arg(long, value_name = "FILE")]
    publish: Option<PathBuf>,
    /// Answer the HIBP range API (`/range/{5 hex digits}`, `?mode=ntlm`, `Add-Padding: true`)
    /// from this full breach store (`breach import --full`); once for SHA-1, once for NTLM.
    #[arg(long, value_name = "FILE")]
    range_store: Vec<PathBuf>,
    /// Answer `POST /check` (a JSON request `{"password", "account", "full_name", "upn"}`,
    /// a JSON verdict) on this unix socket (mode 0600: only this user may ask).
    #[arg(long, value_name = "PATH")]
    check_socket: Option<PathBuf>,
    /// Append each `/check` decision's JSON line to this file too.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<u8> {
    if args.listen.is_none() && args.check_socket.is_none() {
        bail!("nothing to serve: give --listen (with --cert, --key, --publish) or --check-socket");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let args = Arc::new(args);
    let mut bound = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    if let (Some(addr), Some(cert), Some(key)) = (args.listen, &args.cert, &args.key) {
        if args.publish.is_none() && args.range_store.is_empty() {
            bail!("--listen serves --publish or --range-store; neither is given");
        }
        // Range stores must open, and be full, before anything is served.
        for r in &args.range_store {
            let s = crate::breach::Store::open(r)?;
            s.range(0)?;
        }
        let tls = tls_config(cert, key)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        bound.push(format!("https://{}", listener.local_addr()?));
        tasks.spawn(publish_loop(listener, tls, args.clone()));
    }
    if let Some(path) = &args.check_socket {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        bound.push(format!("unix:{}", path.display()));
        let checker = Arc::new(Checker {
            args: args.clone(),
            loaded: Mutex::new(None),
            store: Mutex::new(None),
        });
        // Load now, so that a bad list, store or filter fails at start, not at the first
        // password.
        if let Err(LoadError::Other(e)) = checker.current() {
            return Err(e);
        }
        checker.store()?;
        tasks.spawn(check_loop(listener, checker));
    }
    crate::outln!("pwprotect serve: listening on {}", bound.join(", "))?;
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        r = tasks.join_next() => {
            if let Some(Ok(Err(e))) = r {
                return Err(e);
            }
        }
    }
    if let Some(path) = &args.check_socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(0)
}

fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use pki_types::pem::PemObject;
    let chain = pki_types::CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        bail!("{}: no certificate", cert.display());
    }
    let key = pki_types::PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS configuration")?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn publish_loop(
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    file: Arc<ServeArgs>,
) -> anyhow::Result<()> {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let (tls, file) = (tls.clone(), file.clone());
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let file = file.clone();
                async move { Ok::<_, std::convert::Infallible>(published(&req, &file, peer)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `GET /policy.json`: the signed file as it is now; `GET /range/{prefix}`: the range API.
fn published(req: &Request<Incoming>, args: &ServeArgs, peer: SocketAddr) -> Response<Full<Bytes>> {
    if let Some(prefix) = req.uri().path().strip_prefix("/range/")
        && !args.range_store.is_empty()
    {
        return range(req, args, prefix);
    }
    let Some(file) = args.publish.as_deref() else {
        return respond(StatusCode::NOT_FOUND, "text/plain", "404 Not Found\n");
    };
    let status = if req.uri().path() != "/policy.json" {
        StatusCode::NOT_FOUND
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        match std::fs::read(file) {
            Ok(bytes) => {
                eprintln!(
                    "{}",
                    serde_json::json!({"served": "/policy.json", "client": peer.to_string(), "status": 200})
                );
                return respond(StatusCode::OK, "application/json", bytes);
            }
            Err(e) => {
                eprintln!("pwprotect serve: {}: {e}", file.display());
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    };
    respond(status, "text/plain", format!("{status}\n"))
}

/// A policy ready to apply, and its mode.
type Loaded = Arc<(Policy, Mode)>;

/// The HIBP range API (as api.pwnedpasswords.com answers it): every valid prefix answers 200
/// with `SUFFIX:COUNT` lines (CRLF), `?mode=ntlm` from the NTLM store; `Add-Padding: true`
/// adds rows of count 0 up to 800–1,000 lines, so that the response's size does not tell
/// which prefix was asked.
fn range(req: &Request<Incoming>, args: &ServeArgs, prefix: &str) -> Response<Full<Bytes>> {
    use pwprotect_core::breach::HashKind;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "405 Method Not Allowed\n",
        );
    }
    // Five hex digits, as the range API's prefix is (from_str_radix alone would take a sign).
    let bucket = (prefix.len() == 5 && prefix.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| usize::from_str_radix(prefix, 16).ok())
        .flatten();
    let Some(bucket) = bucket else {
        return respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "The hash prefix was not in a valid format",
        );
    };
    let ntlm = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.eq_ignore_ascii_case("mode=ntlm")));
    let kind = if ntlm { HashKind::Ntlm } else { HashKind::Sha1 };
    let store = args
        .range_store
        .iter()
        .filter_map(|p| crate::breach::Store::open(p).ok())
        .find(|s| s.kind() == kind);
    let Some(store) = store else {
        return respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("no {} store is served here\n", kind.as_str()),
        );
    };
    let mut lines = match store.range(bucket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pwprotect serve: {e:#}");
            return respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "503\n");
        }
    };
    let padding = req
        .headers()
        .get("add-padding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    if padding {
        use ring::rand::SecureRandom as _;
        let rng = ring::rand::SystemRandom::new();
        let mut b = [0u8; 2];
        let _ = rng.fill(&mut b);
        let target = 800 + usize::from(u16::from_le_bytes(b)) % 201;
        let digits = kind.hex_len() - 5;
        while lines.len() < target {
            let mut r = [0u8; 20];
            let _ = rng.fill(&mut r);
            let hex: String = r.iter().map(|b| format!("{b:02X}")).collect();
            lines.push(format!("{}:0", &hex[..digits]));
        }
    }
    let mut body = lines.join("\r\n");
    if !body.is_empty() {
        body.push_str("\r\n");
    }
    respond(StatusCode::OK, "text/plain", body)
}

/// The policy `/check` applies, reloaded when its signed file changes.
struct Checker {
    args: Arc<ServeArgs>,
    /// The signed file's modification time when loaded, and what loading gave.
    loaded: Mutex<Option<(Option<SystemTime>, Loaded)>>,
    /// The breach store and filter files' identities when opened, and the open store: opened
    /// once, not for every request (a filter is loaded into memory), and again when an import
    /// replaces either file.
    store: Mutex<Option<OpenStore>>,
}

/// The stamps of the store and filter files, and the store opened from them.
type OpenStore = (Vec<Option<FileStamp>>, Arc<crate::breach::Store>);

/// What tells a replaced file from the one opened: device, inode, length, modification time.
type FileStamp = (u64, u64, u64, Option<SystemTime>);

fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.len(), m.modified().ok()))
}

impl Checker {
    /// The breach store of `--breach-store` (with its filter), if any.
    fn store(&self) -> anyhow::Result<Option<Arc<crate::breach::Store>>> {
        let policy = &self.args.policy;
        let Some(path) = policy.breach_store.as_deref() else {
            return Ok(None);
        };
        let stamps: Vec<_> = std::iter::once(path)
            .chain(policy.breach_filter.as_deref())
            .map(stamp)
            .collect();
        let mut open = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, s)) = open.as_ref()
            && *at == stamps
        {
            return Ok(Some(s.clone()));
        }
        let s = Arc::new(
            crate::breach::Store::open_with(path, policy.breach_filter.as_deref())?
                .resident_index()?,
        );
        *open = Some((stamps, s.clone()));
        Ok(Some(s))
    }

    fn current(&self) -> Result<Loaded, LoadError> {
        let stamp = self
            .args
            .policy
            .policy_file
            .as_deref()
            .and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok());
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, p)) = loaded.as_ref()
            && *at == stamp
        {
            return Ok(p.clone());
        }
        let p = Arc::new(crate::policy(&self.args.policy)?);
        *loaded = Some((stamp, p.clone()));
        Ok(p)
    }
}

async fn check_loop(
    listener: tokio::net::UnixListener,
    checker: Arc<Checker>,
) -> anyhow::Result<()> {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let checker = checker.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let checker = checker.clone();
                async move { Ok::<_, std::convert::Infallible>(check(req, &checker).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `POST /check`.
async fn check(req: Request<Incoming>, checker: &Checker) -> Response<Full<Bytes>> {
    if req.uri().path() != "/check" {
        return respond(StatusCode::NOT_FOUND, "text/plain", "404 Not Found\n");
    }
    if req.method() != Method::POST {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "405 Method Not Allowed\n",
        );
    }
    // The password's limit, and room for the names around it.
    let body = match Limited::new(req.into_body(), MAX_PASSWORD * 6 + 4096)
        .collect()
        .await
    {
        Ok(b) => zeroize::Zeroizing::new(b.to_bytes().to_vec()),
        Err(_) => {
            return respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                "application/json",
                serde_json::json!({"error": "request too large"}).to_string(),
            );
        }
    };
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            use crate::Classify as _;
            return respond(
                StatusCode::BAD_REQUEST,
                "application/json",
                serde_json::json!({"error": format!("not a request: {}", e.classify_str())})
                    .to_string(),
            );
        }
    };
    if request.password.len() > MAX_PASSWORD {
        return respond(
            StatusCode::PAYLOAD_TOO_LARGE,
            "application/json",
            serde_json::json!({"error": format!("the password is longer than {MAX_PASSWORD} bytes")})
                .to_string(),
        );
    }
    let log = checker.args.log.as_deref();
    let (policy, mode) = match checker.current() {
        Ok(p) => (p.clone(), p.1),
        Err(LoadError::NoPolicy(e)) => {
            let line = crate::no_policy_line(request.account.as_deref(), &e);
            crate::log_line(log, &line);
            return respond(StatusCode::OK, "application/json", line.to_string());
        }
        Err(LoadError::Other(e)) => {
            let line =
                serde_json::json!({"outcome": "error", "event": 10012, "error": format!("{e:#}")});
            crate::log_line(log, &line);
            return respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                line.to_string(),
            );
        }
    };
    let identity = Identity {
        account: request.account.as_deref(),
        full_name: request.full_name.as_deref(),
        upn: request.upn.as_deref(),
    };
    let store = match checker.store() {
        Ok(s) => s,
        Err(e) => return internal_error(log, &e),
    };
    match crate::decide(
        &policy.0,
        mode,
        store.as_deref(),
        &request.password,
        &identity,
    ) {
        Ok((_, line)) => {
            crate::log_line(log, &line);
            respond(StatusCode::OK, "application/json", line.to_string())
        }
        Err(e) => internal_error(log, &e),
    }
}

/// A 500 with the decision line of an error (event 10012).
fn internal_error(log: Option<&Path>, e: &anyhow::Error) -> Response<Full<Bytes>> {
    let line = serde_json::json!({"outcome": "error", "event": 10012, "error": format!("{e:#}")});
    crate::log_line(log, &line);
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/json",
        line.to_string(),
    )
}
