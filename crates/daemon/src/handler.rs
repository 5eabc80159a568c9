//! What one socketmap request means: the key's policy domain, DANE first, then the MTA-STS
//! outcome, replied in the zone's style (the zone is chosen by the socketmap name).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mailsec_core::HostName;
use mailsec_core::socketmap::policy::{DaneGate, ReplyOptions, policy_domain, reply};
use mailsec_core::socketmap::{Reply, Request};
use mailsec_dns::Resolver;

use crate::metrics::Metrics;
use crate::resolve::PolicyResolver;
use crate::server::Handler;

/// The map name postfix-tlspol answers with TLSRPT attributes; here the default zone with
/// `tlsrpt` on, unless a zone of that name is configured.
pub const TLSRPT_MAP_NAME: &str = "QUERYwithTLSRPT";

/// Whether and how DANE goes first.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneMode {
    /// Answer `dane` for DANE domains (Postfix: opportunistic DANE).
    Dane,
    /// Answer `dane-only` (Postfix: mandatory DANE).
    DaneOnly,
    /// Do not look: MTA-STS only. For MTAs whose own resolver does DANE before asking the map.
    Off,
}

/// One zone's settings.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Zone {
    /// How the reply is written.
    pub reply: ReplyOptions,
    /// DANE first or not.
    pub dane: DaneMode,
    /// Longest a lookup may take before `TEMP` (the resolution goes on and is cached).
    pub timeout: Duration,
}

impl Default for Zone {
    fn default() -> Self {
        Self {
            reply: ReplyOptions::default(),
            dane: DaneMode::Dane,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The default zone and the named ones.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    /// For every socketmap name without its own zone.
    pub default: Zone,
    /// By socketmap name.
    pub named: HashMap<String, Zone>,
}

impl Zones {
    /// The zone for socketmap name `name`.
    pub fn for_name(&self, name: &str) -> Zone {
        if let Some(z) = self.named.get(name) {
            return *z;
        }
        let mut z = self.default;
        if name == TLSRPT_MAP_NAME {
            z.reply.tlsrpt = true;
        }
        z
    }
}

/// How long a DANE gate answer is reused: the DNS answers it comes from are cached by the
/// resolver for their TTLs anyway; this saves their re-validation on every lookup.
const GATE_TTL: Duration = Duration::from_secs(60);
/// A failed gate is reused for a short time only, so that a recovering zone is seen soon.
const GATE_FAILED_TTL: Duration = Duration::from_secs(5);
/// Most gate answers kept.
const GATE_CACHE_MAX: usize = 100_000;

/// The daemon's handler.
pub struct PolicyHandler {
    resolver: PolicyResolver,
    dns: Resolver,
    zones: RwLock<Arc<Zones>>,
    gates: Mutex<HashMap<String, (DaneGate, Instant)>>,
    metrics: Arc<Metrics>,
}

impl PolicyHandler {
    /// A handler over the policy resolver and the DNS (for the DANE gate).
    pub fn new(
        resolver: PolicyResolver,
        dns: Resolver,
        zones: Zones,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            resolver,
            dns,
            zones: RwLock::new(Arc::new(zones)),
            gates: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// The reply to `key` in `zone`.
    pub async fn answer(&self, zone: Zone, key: &str) -> Reply {
        let domain = match policy_domain(key) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(key = key, reason = %e, "NOTFOUND");
                return Reply::NotFound;
            }
        };
        let work = async {
            let gate = match zone.dane {
                DaneMode::Off => DaneGate::NotDane,
                DaneMode::Dane | DaneMode::DaneOnly => self.gate(&domain).await,
            };
            let sts = if matches!(gate, DaneGate::NotDane | DaneGate::MxFailed(_)) {
                self.resolver.lookup(&domain).await
            } else {
                // DANE decides (or its failure does): no MTA-STS lookup is needed.
                mailsec_core::mta_sts::sender::Outcome::NoPolicy {
                    rule: mailsec_core::mta_sts::sender::Rule::NoRecord,
                    failure: None,
                    reason: "DANE first".to_owned(),
                }
            };
            let mut opts = zone.reply;
            opts.dane_only = zone.dane == DaneMode::DaneOnly;
            reply(&domain, &gate, &sts, opts)
        };
        match tokio::time::timeout(zone.timeout, work).await {
            Ok(r) => r,
            Err(_) => Reply::Temp(format!(
                "{domain}: lookup did not complete within {:?}",
                zone.timeout
            )),
        }
    }

    /// The zones in force.
    pub fn zones(&self) -> Arc<Zones> {
        self.zones
            .read()
            .map_or_else(|p| p.into_inner().clone(), |z| z.clone())
    }

    /// Replaces the zones (configuration reload); lookups in progress keep the old ones.
    pub fn set_zones(&self, zones: Zones) {
        match self.zones.write() {
            Ok(mut z) => *z = Arc::new(zones),
            Err(p) => *p.into_inner() = Arc::new(zones),
        }
    }

    async fn gate(&self, domain: &HostName) -> DaneGate {
        if let Some((g, at)) = self
            .gates
            .lock()
            .ok()
            .and_then(|m| m.get(domain.as_str()).cloned())
        {
            let ttl = if matches!(g, DaneGate::Failed(_) | DaneGate::MxFailed(_)) {
                GATE_FAILED_TTL
            } else {
                GATE_TTL
            };
            if at.elapsed() < ttl {
                return g;
            }
        }
        let g = crate::dane::gate(&self.dns, domain).await;
        if let Ok(mut m) = self.gates.lock() {
            if m.len() >= GATE_CACHE_MAX {
                m.retain(|_, (_, at)| at.elapsed() < GATE_TTL);
                if m.len() >= GATE_CACHE_MAX {
                    m.clear();
                }
            }
            m.insert(domain.as_str().to_owned(), (g.clone(), Instant::now()));
        }
        g
    }
}

impl Handler for PolicyHandler {
    fn reply(
        self: Arc<Self>,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Reply> + Send + 'static>> {
        let this = self;
        Box::pin(async move {
            let started = Instant::now();
            let zone = this.zones().for_name(&request.name);
            let r = this.answer(zone, &request.key).await;
            this.metrics.lookup(&r, started.elapsed());
            // The key is the client's: recorded as a string, which the log formats escape.
            tracing::debug!(
                map = request.name.as_str(),
                key = request.key.as_str(),
                reply = %r,
                "answered"
            );
            r
        })
    }
}

/// A handler that answers every request with the same reply at once: the ceiling a load
/// generator reaches on this machine (benchmarks).
#[derive(Debug)]
pub struct FixedHandler(pub Reply);

impl Handler for FixedHandler {
    fn reply(self: Arc<Self>, _: Request) -> Pin<Box<dyn Future<Output = Reply> + Send + 'static>> {
        let r = self.0.clone();
        Box::pin(async move { r })
    }
}
