//! The web application: routes, limits, and the loop that serves them.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | the form |
//! | `GET /check?domain=D` | the report page (the [`html`](crate::html) renderer) |
//! | `GET /api/check?domain=D` | the report as JSON (schema `mailsec-check/1`) |
//!
//! A name that is not a domain is answered `400` with the reason; a client past its rate limit
//! `429` with `Retry-After`; no free check slot within [`Config::queue_wait`] `503` with
//! `Retry-After`; a check past [`Config::deadline`] `504`. JSON errors have the shape of the bulk
//! checker's error records: `{"domain": ..., "error": {"kind": ..., "message": ...}}`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use mailsec_core::HostName;
use mailsec_core::diag::quote;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::html::{self, PageOptions};
use crate::limit::{RateLimiter, retry_after};
use crate::query;

/// The checker behind the application: the real one is [`mailsec_check::Context`]; tests plug
/// in fakes.
pub trait Checker: Send + Sync + 'static {
    /// Checks `domain` and returns its report in JSON form (schema `mailsec-check/1`).
    fn check(self: Arc<Self>, domain: HostName) -> Pin<Box<dyn Future<Output = Value> + Send>>;
}

impl Checker for mailsec_check::Context {
    fn check(self: Arc<Self>, domain: HostName) -> Pin<Box<dyn Future<Output = Value> + Send>> {
        Box::pin(async move {
            let report = mailsec_check::check_domain(&self, &domain).await;
            serde_json::to_value(&report)
                .unwrap_or_else(|e| error_value(Some(domain.as_str()), "internal", &e.to_string()))
        })
    }
}

/// The application's limits.
#[derive(Clone, Debug)]
pub struct Config {
    /// Checks a client (an IPv4 address, an IPv6 /64) may start per minute, in bursts of as
    /// many.
    pub rate_per_minute: u32,
    /// The time allowed for one check, lookups, fetches and connections included.
    pub deadline: Duration,
    /// Checks running at once.
    pub concurrency: usize,
    /// How long a request waits for a check slot before it is answered `503`.
    pub queue_wait: Duration,
    /// How long a report without error findings is reused for the same domain (zero: never).
    /// Reports with errors and checks that failed are never kept, so that an owner who fixes a
    /// domain sees the fix at once.
    pub cache_ttl: Duration,
    /// Open connections at once; more are closed on arrival.
    pub max_connections: usize,
    /// Time allowed to a client to send its request headers.
    pub header_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rate_per_minute: 10,
            deadline: Duration::from_secs(60),
            concurrency: 4,
            queue_wait: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(60),
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves the application on `listener` until `shutdown` completes, then lets the requests in
/// progress finish (each within its deadline) and returns.
pub async fn serve(
    listener: TcpListener,
    checker: Arc<dyn Checker>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = config.max_connections.max(1);
    let connections = Arc::new(Semaphore::new(max_connections));
    let state = Arc::new(State::new(checker, config));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors, or a connection reset before it was accepted: pause
                // briefly rather than spin, and go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let state = Arc::clone(&state);
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let header_timeout = state.config.header_timeout;
            let service = service_fn(move |req| handle(Arc::clone(&state), peer, req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.changed() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it ends.
    let drain = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = connections.acquire_many(drain).await;
}

struct State {
    checker: Arc<dyn Checker>,
    config: Config,
    limiter: Mutex<RateLimiter>,
    checks: Semaphore,
    cache: Mutex<HashMap<HostName, (Instant, Value)>>,
}

impl State {
    fn new(checker: Arc<dyn Checker>, config: Config) -> Self {
        Self {
            checker,
            limiter: Mutex::new(RateLimiter::new(config.rate_per_minute, MAX_CLIENTS)),
            checks: Semaphore::new(config.concurrency.max(1)),
            cache: Mutex::new(HashMap::new()),
            config,
        }
    }

    fn cached(&self, domain: &HostName, now: Instant) -> Option<(Duration, Value)> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, report) = cache.get(domain)?;
        let age = now.saturating_duration_since(*at);
        (age < self.config.cache_ttl).then(|| (age, report.clone()))
    }

    fn keep(&self, domain: HostName, report: &Value, now: Instant) {
        let clean = report.get("error").is_none()
            && report
                .get("summary")
                .and_then(|s| s.get("errors"))
                .and_then(Value::as_u64)
                == Some(0);
        if !clean || self.config.cache_ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let ttl = self.config.cache_ttl;
        cache.retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
        if cache.len() >= MAX_CACHED {
            let oldest = cache
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(d, _)| d.clone());
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
            }
        }
        cache.insert(domain, (now, report.clone()));
    }
}

/// Clients remembered by the rate limiter at once.
const MAX_CLIENTS: usize = 65_536;
/// Reports kept at once.
const MAX_CACHED: usize = 1024;

/// How a check endpoint answers.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Format {
    Html,
    Json,
}

async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let format = match path {
        "/check" => Some(Format::Html),
        "/api/check" => Some(Format::Json),
        _ => None,
    };
    if req.method() != Method::GET {
        let mut r = page(
            StatusCode::METHOD_NOT_ALLOWED,
            html::error_page("Method not allowed", "Only GET is served here.", ""),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return Ok(r);
    }
    Ok(match (path, format) {
        ("/", _) => page(StatusCode::OK, html::form_page()),
        (_, Some(format)) => {
            check(&state, peer.ip(), req.uri().query().unwrap_or(""), format).await
        }
        _ => page(
            StatusCode::NOT_FOUND,
            html::error_page(
                "Not found",
                "There is no such page; check a domain below.",
                "",
            ),
        ),
    })
}

/// A check request: the input, the rate limit, the cache, a slot, the check within its
/// deadline.
async fn check(
    state: &State,
    client: IpAddr,
    query: &str,
    format: Format,
) -> Response<Full<Bytes>> {
    if query.len() > MAX_QUERY {
        return refuse(
            format,
            StatusCode::BAD_REQUEST,
            None,
            "invalid-name",
            "the query is too long",
            "",
        );
    }
    let input = match query::param(query, "domain") {
        Ok(Some(d)) if !d.trim().is_empty() => d,
        Ok(_) => {
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                None,
                "invalid-name",
                "no domain given: add ?domain=example.com",
                "",
            );
        }
        Err(e) => {
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                None,
                "invalid-name",
                &e.to_string(),
                "",
            );
        }
    };
    let domain = match HostName::parse(input.trim()) {
        Ok(d) => d,
        Err(e) => {
            let message = format!("{} is not a domain name: {e}", quote(input.trim()));
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                None,
                "invalid-name",
                &message,
                &input,
            );
        }
    };
    let now = Instant::now();
    let limited = state
        .limiter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(client, now);
    if let Err(wait) = limited {
        let secs = retry_after(wait);
        let message = format!(
            "too many checks from your address ({} a minute); try again in {secs} s",
            state.config.rate_per_minute
        );
        let mut r = refuse(
            format,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&domain),
            "rate-limited",
            &message,
            &input,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    if let Some((age, report)) = state.cached(&domain, now) {
        let note = format!(
            "Result of a check {} s ago (reports without errors are kept for {} s).",
            age.as_secs(),
            state.config.cache_ttl.as_secs()
        );
        return answer(format, &report, &input, Some(&note));
    }
    let Ok(Ok(permit)) =
        tokio::time::timeout(state.config.queue_wait, state.checks.acquire()).await
    else {
        let secs = retry_after(state.config.queue_wait);
        let message = format!("all check slots are busy; try again in {secs} s");
        let mut r = refuse(
            format,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&domain),
            "busy",
            &message,
            &input,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    };
    // The check runs in its own task: a client that goes away does not cancel it half-way, and a
    // panic is an answer, not a dropped connection. It is aborted at the deadline.
    let mut task = tokio::spawn(Arc::clone(&state.checker).check(domain.clone()));
    let outcome = tokio::time::timeout(state.config.deadline, &mut task).await;
    drop(permit);
    match outcome {
        Ok(Ok(report)) => {
            state.keep(domain, &report, Instant::now());
            answer(format, &report, &input, None)
        }
        Ok(Err(_)) => refuse(
            format,
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(&domain),
            "internal",
            "the check ended without a report (a bug in mailsec)",
            &input,
        ),
        Err(_) => {
            task.abort();
            let message = format!(
                "the check did not finish within {} s (a DNS server or a mail server too slow to answer)",
                state.config.deadline.as_secs_f64()
            );
            refuse(
                format,
                StatusCode::GATEWAY_TIMEOUT,
                Some(&domain),
                "deadline",
                &message,
                &input,
            )
        }
    }
}

/// The longest query string read.
const MAX_QUERY: usize = 2048;

fn answer(
    format: Format,
    report: &Value,
    input: &str,
    note: Option<&str>,
) -> Response<Full<Bytes>> {
    match format {
        Format::Json => json_response(StatusCode::OK, report),
        Format::Html => {
            let domain = report
                .get("domain")
                .and_then(Value::as_str)
                .unwrap_or(input);
            let title = format!("mailsec: {domain}");
            page(
                StatusCode::OK,
                html::report_page(
                    std::slice::from_ref(report),
                    &PageOptions {
                        title: &title,
                        form: Some(input),
                        note,
                    },
                ),
            )
        }
    }
}

/// An answer without a report: an HTML page with the form again, or a JSON error record.
fn refuse(
    format: Format,
    status: StatusCode,
    domain: Option<&HostName>,
    kind: &str,
    message: &str,
    input: &str,
) -> Response<Full<Bytes>> {
    match format {
        Format::Json => json_response(
            status,
            &error_value(domain.map(HostName::as_str), kind, message),
        ),
        Format::Html => {
            let heading = match status {
                StatusCode::BAD_REQUEST => "Invalid domain",
                StatusCode::TOO_MANY_REQUESTS => "Too many checks",
                StatusCode::SERVICE_UNAVAILABLE => "Busy",
                StatusCode::GATEWAY_TIMEOUT => "Check timed out",
                _ => "Error",
            };
            page(status, html::error_page(heading, message, input))
        }
    }
}

fn error_value(domain: Option<&str>, kind: &str, message: &str) -> Value {
    json!({"domain": domain, "error": {"kind": kind, "message": message}})
}

fn page(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    response(status, "text/html; charset=utf-8", body.into_bytes())
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
    body.push(b'\n');
    response(status, "application/json", body)
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Reports change as soon as their owner fixes something, and errors must never be kept.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// A checker that counts its calls, takes `delay`, reports `errors` error findings, and
    /// panics for `panic.test`.
    struct Fake {
        calls: AtomicUsize,
        delay: Duration,
        errors: u64,
    }

    impl Checker for Fake {
        fn check(self: Arc<Self>, domain: HostName) -> Pin<Box<dyn Future<Output = Value> + Send>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                assert_ne!(domain.as_str(), "panic.test", "a bug in the checker");
                json!({
                    "schema": "mailsec-check/1",
                    "domain": domain.as_str(),
                    "findings": [],
                    "verdict": {"outcome": "deliver", "reason": null, "mechanism": "dane"},
                    "summary": {"dane": "required on 1 of 1 MX hosts", "mta_sts": "enforce",
                                "tls_rpt": "yes", "errors": self.errors, "warnings": 0}
                })
            })
        }
    }

    struct Server {
        addr: SocketAddr,
        fake: Arc<Fake>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
    }

    async fn start(config: Config, delay: Duration, errors: u64) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Arc::new(Fake {
            calls: AtomicUsize::new(0),
            delay,
            errors,
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let checker: Arc<dyn Checker> = Arc::clone(&fake) as Arc<dyn Checker>;
        let task = tokio::spawn(serve(listener, checker, config, async {
            let _ = rx.await;
        }));
        Server {
            addr,
            fake,
            stop: Some(tx),
            task,
        }
    }

    /// Status, headers (lower-case names) and body of `GET target` (or another method).
    async fn request(
        addr: SocketAddr,
        method: &str,
        target: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let req = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        (status, headers, body.to_owned())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn config() -> Config {
        Config {
            deadline: Duration::from_secs(5),
            ..Config::default()
        }
    }

    #[tokio::test]
    async fn routes_answer_with_pages_json_and_clear_errors() {
        let s = start(config(), Duration::ZERO, 0).await;
        let (status, headers, body) = request(s.addr, "GET", "/").await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(body.contains("<form class=\"check\" action=\"/check\" method=\"get\">"));
        assert!(
            header(&headers, "content-security-policy")
                .unwrap()
                .starts_with("default-src 'none'")
        );

        let (status, _, body) = request(s.addr, "GET", "/check?domain=Example.TEST.").await;
        assert_eq!(status, 200);
        assert!(body.contains("<h2>example.test</h2>"), "{body}");
        assert!(body.contains("deliver (dane)"));
        // The form shows what was typed.
        assert!(body.contains("value=\"Example.TEST.\""));

        let (status, headers, body) =
            request(s.addr, "GET", "/api/check?domain=b%C3%BCcher.test").await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "content-type"), Some("application/json"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["domain"], "xn--bcher-kva.test");

        for target in [
            "/check?domain=bad..name",
            "/check?domain=%3Cscript%3E.test",
            "/check",
            "/check?domain=%zz",
            "/check?domain=192.0.2.1",
        ] {
            let (status, headers, body) = request(s.addr, "GET", target).await;
            assert_eq!(status, 400, "{target}");
            assert!(body.contains("<h2>Invalid domain</h2>"), "{target}: {body}");
            assert!(!body.contains("<script>"), "{target}");
            assert_eq!(header(&headers, "cache-control"), Some("no-store"));
        }
        let (_, _, body) = request(s.addr, "GET", "/check?domain=bad..name").await;
        assert!(
            body.contains("<code>bad..name</code> is not a domain name: empty label"),
            "{body}"
        );
        let (status, _, body) = request(s.addr, "GET", "/api/check?domain=a_b!.test").await;
        assert_eq!(status, 400);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["kind"], "invalid-name");
        assert_eq!(v["domain"], Value::Null);

        let (status, _, body) = request(s.addr, "GET", "/nope").await;
        assert_eq!((status, body.contains("<h2>Not found</h2>")), (404, true));
        let (status, headers, _) = request(s.addr, "POST", "/check?domain=example.test").await;
        assert_eq!((status, header(&headers, "allow")), (405, Some("GET")));
        // Invalid input, 404s and refused methods ran no check.
        assert_eq!(s.fake.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_client_past_its_rate_is_told_when_to_come_back() {
        let s = start(
            Config {
                rate_per_minute: 2,
                cache_ttl: Duration::ZERO,
                ..config()
            },
            Duration::ZERO,
            0,
        )
        .await;
        for _ in 0..2 {
            assert_eq!(
                request(s.addr, "GET", "/api/check?domain=a.test").await.0,
                200
            );
        }
        let (status, headers, body) = request(s.addr, "GET", "/api/check?domain=a.test").await;
        assert_eq!(status, 429);
        assert_eq!(header(&headers, "retry-after"), Some("30"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["kind"], "rate-limited");
        let (status, headers, body) = request(s.addr, "GET", "/check?domain=a.test").await;
        assert_eq!((status, header(&headers, "retry-after")), (429, Some("30")));
        assert!(
            body.contains("too many checks from your address (2 a minute)"),
            "{body}"
        );
        // The form and invalid names cost nothing.
        assert_eq!(request(s.addr, "GET", "/").await.0, 200);
        assert_eq!(request(s.addr, "GET", "/check?domain=-x-").await.0, 400);
        assert_eq!(s.fake.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_slow_check_ends_at_its_deadline_and_is_not_kept() {
        let s = start(
            Config {
                deadline: Duration::from_millis(200),
                ..config()
            },
            Duration::from_secs(30),
            0,
        )
        .await;
        let started = std::time::Instant::now();
        let (status, _, body) = request(s.addr, "GET", "/check?domain=slow.test").await;
        assert_eq!(status, 504);
        assert!(body.contains("did not finish within 0.2 s"), "{body}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let (status, _, body) = request(s.addr, "GET", "/api/check?domain=slow.test").await;
        assert_eq!(status, 504);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["kind"],
            "deadline"
        );
        // Not cached: checked again.
        assert_eq!(s.fake.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn clean_reports_are_reused_and_reports_with_errors_are_not() {
        let s = start(config(), Duration::ZERO, 0).await;
        request(s.addr, "GET", "/check?domain=good.test").await;
        let (status, _, body) = request(s.addr, "GET", "/check?domain=good.test").await;
        assert_eq!(status, 200);
        assert!(body.contains("Result of a check 0 s ago"), "{body}");
        assert_eq!(s.fake.calls.load(Ordering::SeqCst), 1);

        let s = start(config(), Duration::ZERO, 1).await;
        request(s.addr, "GET", "/check?domain=broken.test").await;
        let (_, _, body) = request(s.addr, "GET", "/check?domain=broken.test").await;
        assert!(!body.contains("Result of a check"));
        assert_eq!(s.fake.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn checks_beyond_the_slots_wait_then_get_503() {
        let s = start(
            Config {
                concurrency: 1,
                queue_wait: Duration::from_millis(100),
                ..config()
            },
            Duration::from_millis(1500),
            0,
        )
        .await;
        let addr = s.addr;
        let first =
            tokio::spawn(async move { request(addr, "GET", "/api/check?domain=a.test").await.0 });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, headers, body) = request(s.addr, "GET", "/api/check?domain=b.test").await;
        assert_eq!((status, header(&headers, "retry-after")), (503, Some("1")));
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["kind"],
            "busy"
        );
        assert_eq!(first.await.unwrap(), 200);
    }

    #[tokio::test]
    async fn a_panicking_check_is_an_answer() {
        let s = start(config(), Duration::ZERO, 0).await;
        let (status, _, body) = request(s.addr, "GET", "/api/check?domain=panic.test").await;
        assert_eq!(status, 500);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["kind"],
            "internal"
        );
        // The server goes on.
        assert_eq!(request(s.addr, "GET", "/").await.0, 200);
    }

    #[tokio::test]
    async fn shutdown_lets_the_checks_in_progress_finish() {
        let mut s = start(config(), Duration::from_millis(500), 0).await;
        let addr = s.addr;
        let in_flight =
            tokio::spawn(async move { request(addr, "GET", "/api/check?domain=a.test").await.0 });
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.stop.take().unwrap().send(()).unwrap();
        assert_eq!(in_flight.await.unwrap(), 200);
        tokio::time::timeout(Duration::from_secs(5), &mut s.task)
            .await
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }
    #[tokio::test]
    async fn idle_silent_and_slow_clients_are_closed_at_the_header_timeout() {
        let s = start(
            Config {
                header_timeout: Duration::from_millis(300),
                ..config()
            },
            Duration::ZERO,
            0,
        )
        .await;
        let mut buf = vec![0; 65_536];
        // Idle after a request (keep-alive), silent from the start, or stalled mid-header.
        let mut idle = TcpStream::connect(s.addr).await.unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(idle.read(&mut buf).await.unwrap() > 0);
        let silent = TcpStream::connect(s.addr).await.unwrap();
        let mut slow = TcpStream::connect(s.addr).await.unwrap();
        slow.write_all(b"GET / HT").await.unwrap();
        for mut tcp in [idle, silent, slow] {
            let closed = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
            assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
        }
    }
}
