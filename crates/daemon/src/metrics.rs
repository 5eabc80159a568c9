//! Prometheus metrics of the daemon (text exposition format), served on their own listener.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mailsec_core::mta_sts::sender::StsFailure;
use mailsec_core::socketmap::Reply;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::resolve::Observer;
use crate::server::stopped;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplyLabel {
    reply: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    lookups: Family<ReplyLabel, Counter>,
    cache: Family<ResultLabel, Counter>,
    fetches: Family<OutcomeLabel, Counter>,
    changes: Counter,
    latency: Histogram,
    backend_up: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mailsec_sts");
        let lookups = Family::<ReplyLabel, Counter>::default();
        registry.register(
            "lookups",
            "Socketmap lookups by reply (secure, dane, dane-only, notfound, temp, perm)",
            lookups.clone(),
        );
        let cache = Family::<ResultLabel, Counter>::default();
        registry.register(
            "cache",
            "MTA-STS lookups answered from the cache (hit) or resolved (miss)",
            cache.clone(),
        );
        let fetches = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "fetches",
            "Policy fetches by outcome (ok or the TLS-RPT result type)",
            fetches.clone(),
        );
        let changes = Counter::default();
        registry.register(
            "policy_changes",
            "Policies replaced by a different one",
            changes.clone(),
        );
        // 100 µs to about 26 s.
        let latency = Histogram::new(exponential_buckets(0.000_1, 4.0, 10));
        registry.register(
            "lookup_seconds",
            "Time to answer a socketmap lookup",
            latency.clone(),
        );
        let backend_up = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "cache_backend_up",
            "1 while the cache backend answers, 0 while the daemon answers from memory alone",
            backend_up.clone(),
        );
        backend_up.set(1);
        Self {
            registry,
            lookups,
            cache,
            fetches,
            changes,
            latency,
            backend_up,
        }
    }

    /// Counts one answered lookup.
    pub fn lookup(&self, reply: &Reply, took: Duration) {
        let label = match reply {
            Reply::Ok(s) if s.starts_with("secure") => "secure",
            Reply::Ok(s) if s == "dane-only" => "dane-only",
            Reply::Ok(s) if s == "dane" => "dane",
            Reply::Ok(_) => "ok",
            Reply::NotFound => "notfound",
            Reply::Temp(_) => "temp",
            Reply::Timeout(_) => "timeout",
            Reply::Perm(_) => "perm",
        };
        self.lookups
            .get_or_create(&ReplyLabel { reply: label })
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    /// Records whether the cache backend answers.
    pub fn set_backend_up(&self, up: bool) {
        self.backend_up.set(i64::from(up));
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Observer for Metrics {
    fn fetch(&self, outcome: Result<(), StsFailure>) {
        let label = match outcome {
            Ok(()) => "ok",
            Err(f) => f.as_str(),
        };
        self.fetches
            .get_or_create(&OutcomeLabel { outcome: label })
            .inc();
    }

    fn cache(&self, hit: bool) {
        let label = if hit { "hit" } else { "miss" };
        self.cache
            .get_or_create(&ResultLabel { result: label })
            .inc();
    }

    fn change(&self) {
        self.changes.inc();
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown`; any other path is 404.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            () = stopped(&mut shutdown) => return,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move {
                    let (status, body) = if req.uri().path() == "/metrics" {
                        (StatusCode::OK, metrics.render())
                    } else {
                        (StatusCode::NOT_FOUND, "not found\n".to_owned())
                    };
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = status;
                    resp.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static(
                            "text/plain; version=0.0.4; charset=utf-8",
                        ),
                    );
                    Ok::<_, Infallible>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
        });
    }
}
