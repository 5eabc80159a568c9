//! What one socketmap request means: the key's policy domain, DANE first, then the MTA-STS
//! outcome, replied in the zone's style (the zone is chosen by the socketmap name).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
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

/// Longest a DANE gate answer is reused, and only while every record it was decided from is
/// within its TTL (the smallest of them): the resolver caches those answers for their TTLs
/// anyway; this saves their re-validation on every lookup without keeping a TLSA record past
/// its TTL during a key rollover (RFC 7671 §8.1).
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
    gates: Mutex<GateCache>,
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
            gates: Mutex::new(GateCache::new(GATE_CACHE_MAX)),
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
        if let Some(g) = self.gates().get(domain.as_str(), Instant::now()) {
            return g;
        }
        let (g, ttl) = crate::dane::gate_ttl(&self.dns, domain).await;
        let keep = gate_lifetime(&g, ttl);
        self.gates()
            .insert(domain.as_str(), g.clone(), Instant::now(), keep);
        g
    }

    fn gates(&self) -> MutexGuard<'_, GateCache> {
        // Each change is one insert or retain: a panic elsewhere leaves a usable map.
        self.gates.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the gate answers that may no longer be reused; how many went.
    pub fn sweep(&self) -> usize {
        self.gates().sweep(Instant::now())
    }
}

/// DANE gate answers and until when each may be reused, at most `max` of them.
#[derive(Debug)]
struct GateCache {
    map: HashMap<String, (DaneGate, Instant)>,
    max: usize,
}

impl GateCache {
    fn new(max: usize) -> Self {
        Self {
            map: HashMap::new(),
            max: max.max(1),
        }
    }

    fn get(&self, domain: &str, now: Instant) -> Option<DaneGate> {
        self.map
            .get(domain)
            .filter(|(_, until)| now < *until)
            .map(|(g, _)| g.clone())
    }

    /// Keeps `gate` for `keep` from `now`. When full, the expired answers go first, and all of
    /// them if none had expired (they are only a saving: the resolver still has the DNS
    /// answers).
    fn insert(&mut self, domain: &str, gate: DaneGate, now: Instant, keep: Duration) {
        if self.map.len() >= self.max && !self.map.contains_key(domain) {
            self.sweep(now);
            if self.map.len() >= self.max {
                self.map.clear();
            }
        }
        self.map.insert(domain.to_owned(), (gate, now + keep));
    }

    fn sweep(&mut self, now: Instant) -> usize {
        let before = self.map.len();
        self.map.retain(|_, (_, until)| now < *until);
        if self.map.capacity() > 4 * self.map.len().max(1024) {
            self.map.shrink_to_fit();
        }
        before - self.map.len()
    }
}

/// How long a gate answer may be reused: a failure [`GATE_FAILED_TTL`]; otherwise
/// [`GATE_TTL`], or less when a record it was decided from has a smaller TTL.
fn gate_lifetime(gate: &DaneGate, ttl: Option<u32>) -> Duration {
    if matches!(gate, DaneGate::Failed(_) | DaneGate::MxFailed(_)) {
        return GATE_FAILED_TTL;
    }
    ttl.map_or(GATE_TTL, |t| {
        GATE_TTL.min(Duration::from_secs(u64::from(t)))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_answers_live_no_longer_than_their_records() {
        assert_eq!(gate_lifetime(&DaneGate::Dane, None), GATE_TTL);
        assert_eq!(gate_lifetime(&DaneGate::Dane, Some(3_600)), GATE_TTL);
        assert_eq!(
            gate_lifetime(&DaneGate::NotDane, Some(10)),
            Duration::from_secs(10)
        );
        assert_eq!(gate_lifetime(&DaneGate::Dane, Some(0)), Duration::ZERO);
        for failed in [
            DaneGate::Failed("TLSA: SERVFAIL".into()),
            DaneGate::MxFailed("MX: timed out".into()),
        ] {
            assert_eq!(gate_lifetime(&failed, Some(3_600)), GATE_FAILED_TTL);
        }
    }

    #[test]
    fn the_gate_cache_expires_sweeps_and_stays_bounded() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = GateCache::new(3);
        c.insert("a.example", DaneGate::Dane, t0, s(10));
        c.insert("b.example", DaneGate::NotDane, t0, s(60));
        assert_eq!(c.get("a.example", t0 + s(9)), Some(DaneGate::Dane));
        assert_eq!(c.get("a.example", t0 + s(10)), None);
        assert_eq!(c.get("c.example", t0), None);
        // A sweep drops what expired only.
        assert_eq!(c.sweep(t0 + s(10)), 1);
        assert_eq!(c.get("b.example", t0 + s(10)), Some(DaneGate::NotDane));
        // Full of live answers: a new domain clears the cache rather than grow past the bound.
        c.insert("c.example", DaneGate::Dane, t0, s(60));
        c.insert("d.example", DaneGate::Dane, t0, s(60));
        assert_eq!(c.map.len(), 3);
        c.insert("e.example", DaneGate::Dane, t0, s(60));
        assert_eq!(c.map.len(), 1);
        assert_eq!(c.get("e.example", t0), Some(DaneGate::Dane));
        // Replacing a domain already held does not count as growth.
        c.insert("f.example", DaneGate::Dane, t0, s(60));
        c.insert("g.example", DaneGate::Dane, t0, s(60));
        c.insert("g.example", DaneGate::NotDane, t0, s(60));
        assert_eq!(c.map.len(), 3);
        assert_eq!(c.get("g.example", t0), Some(DaneGate::NotDane));
    }
}
