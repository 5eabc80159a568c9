//! The policy resolver: the state machine of `mailsec_core::mta_sts::sender` driven by real
//! lookups and fetches, over an [`EntryStore`].
//!
//! - A lookup answers from the cache whenever the state machine allows, and starts the
//!   background work it asks for (a TXT re-check, a body refresh) without waiting for it.
//! - Otherwise it resolves: TXT lookup, perhaps a fetch. Resolutions run as tasks of their own,
//!   one per domain at a time: every lookup for a domain that is being resolved waits for that
//!   one (RFC 8461 does not ask for it; a burst of mail to a new domain must not become a burst
//!   of fetches). A client that hangs up does not cancel it: its result is cached for the next.
//! - Fetches are bounded in number at once ([`ResolverConfig::max_fetches`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use mailsec_core::HostName;
use mailsec_core::mta_sts::record::{RecordError, discover};
use mailsec_core::mta_sts::sender::{
    self, Background, Change, Discovery, Failure, Fetch, Outcome, Plan, Reason, Rules, Status,
    Step, StsFailure,
};
use mailsec_dns::{Resolver, Response, Security};
use mailsec_fetch::{FetchConfig, FetchError};
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::store::EntryStore;

/// Where discovery and fetches come from: the DNS and HTTPS in service, a script in unit tests.
#[async_trait]
pub trait PolicySource: Send + Sync + 'static {
    /// The `_mta-sts` TXT lookup (RFC 8461 §3.1).
    async fn discover(&self, domain: &HostName) -> Discovery;
    /// The HTTPS fetch (RFC 8461 §3.3).
    async fn fetch(&self, domain: &HostName) -> Fetch;
}

/// The real source: the validating resolver and the RFC 8461 §3.3 fetcher.
#[derive(Clone)]
pub struct DnsHttps {
    /// The resolver.
    pub dns: Resolver,
    /// How to fetch.
    pub fetch: FetchConfig,
}

#[async_trait]
impl PolicySource for DnsHttps {
    async fn discover(&self, domain: &HostName) -> Discovery {
        discover_with(&self.dns, domain).await
    }

    async fn fetch(&self, domain: &HostName) -> Fetch {
        match mailsec_fetch::fetch_policy(&self.dns, domain, &self.fetch).await {
            Ok(f) => Fetch::Body(f.body),
            Err(e) => Fetch::Failed(fetch_failure(&e)),
        }
    }
}

/// The `_mta-sts` lookup as the state machine reads it.
pub async fn discover_with(dns: &Resolver, domain: &HostName) -> Discovery {
    let name = mailsec_core::mta_sts::record_name(domain);
    match dns.txt(&name).await {
        Err(e) => Discovery::Failed(format!("{name} TXT: {e}")),
        Ok(r) if r.security() == Security::Bogus => {
            Discovery::Failed(format!("{name} TXT: DNSSEC validation failed (bogus)"))
        }
        Ok(Response::Records(a)) => {
            let texts: Vec<Vec<u8>> = a.records.iter().map(|t| t.concat()).collect();
            match discover(texts.iter().map(Vec::as_slice)) {
                Ok(record) => Discovery::Record(record.id),
                Err(RecordError::NotSts) => Discovery::NoRecord,
                Err(e) => Discovery::Invalid(format!("{name}: {e}")),
            }
        }
        Ok(Response::NxDomain { .. } | Response::NoData { .. }) => Discovery::NoRecord,
    }
}

/// A fetch error as the state machine reads it: its TLS-RPT result type and one line.
pub fn fetch_failure(e: &FetchError) -> Failure {
    let result_type = match e.result_type() {
        "sts-webpki-invalid" => StsFailure::StsWebpkiInvalid,
        _ => StsFailure::StsPolicyFetchError,
    };
    Failure {
        result_type,
        reason: e.to_string(),
    }
}

/// Tuning of the resolver.
#[derive(Clone, Copy, Debug)]
pub struct ResolverConfig {
    /// The state machine's timing rules.
    pub rules: Rules,
    /// Most fetches at once, all domains together.
    pub max_fetches: usize,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            rules: Rules::default(),
            max_fetches: 64,
        }
    }
}

/// What happened during one resolution, for `mailsec sts fetch` and the logs.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// What the TXT lookup found, when one was made.
    pub discovery: Option<Discovery>,
    /// Whether a fetch was made, and its failure if it failed.
    pub fetched: Option<Result<(), Failure>>,
    /// The policy change, when the fetch brought a different policy.
    pub change: Option<Change>,
}

/// Counters the resolver keeps (read by the daemon's metrics).
pub trait Observer: Send + Sync + 'static {
    /// A fetch ended: `Ok` or the failure's result type.
    fn fetch(&self, _outcome: Result<(), StsFailure>) {}
    /// A lookup was answered from the cache (`true`) or had to resolve (`false`).
    fn cache(&self, _hit: bool) {}
    /// A policy changed.
    fn change(&self) {}
}

/// An observer that keeps nothing.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

type Flight = Shared<BoxFuture<'static, (Outcome, Trace)>>;

struct Inner {
    source: Arc<dyn PolicySource>,
    store: Arc<dyn EntryStore>,
    clock: Arc<dyn Clock>,
    config: ResolverConfig,
    fetches: Semaphore,
    flights: Mutex<HashMap<String, Flight>>,
    observer: Arc<dyn Observer>,
}

/// The policy resolver. Cheap to clone.
#[derive(Clone)]
pub struct PolicyResolver(Arc<Inner>);

impl PolicyResolver {
    /// A resolver over `source` and `store`, reading the time from `clock`.
    pub fn new(
        source: Arc<dyn PolicySource>,
        store: Arc<dyn EntryStore>,
        clock: Arc<dyn Clock>,
        config: ResolverConfig,
        observer: Arc<dyn Observer>,
    ) -> Self {
        Self(Arc::new(Inner {
            source,
            store,
            clock,
            fetches: Semaphore::new(config.max_fetches.max(1)),
            config,
            flights: Mutex::new(HashMap::new()),
            observer,
        }))
    }

    /// The resolver of the daemon and of `mailsec sts fetch`: DNS through `dns`, HTTPS as
    /// `fetch` says, the system clock.
    pub fn over_network(
        dns: Resolver,
        fetch: FetchConfig,
        store: Arc<dyn EntryStore>,
        config: ResolverConfig,
        observer: Arc<dyn Observer>,
    ) -> Self {
        Self::new(
            Arc::new(DnsHttps { dns, fetch }),
            store,
            Arc::new(crate::clock::SystemClock),
            config,
            observer,
        )
    }

    /// Forgets from the cache's memory the entries that no longer answer anything now
    /// ([`mailsec_core::mta_sts::sender::is_stale`]); how many went. The daemon runs it as often
    /// as the shortest negative TTL (at most a minute apart), so that names asked once
    /// (misspelt domains, spam's random names) do not stay.
    pub fn sweep(&self) -> usize {
        self.0.store.sweep(self.0.clock.now(), &self.0.config.rules)
    }

    /// The MTA-STS outcome for `domain` now.
    pub async fn lookup(&self, domain: &HostName) -> Outcome {
        self.lookup_traced(domain).await.0
    }

    /// The outcome and what was done to reach it (an empty trace: answered from the cache).
    pub async fn lookup_traced(&self, domain: &HostName) -> (Outcome, Trace) {
        let inner = &self.0;
        let entry = inner.store.get(domain.as_str()).await;
        match sender::plan(entry.as_ref(), inner.clock.now(), &inner.config.rules) {
            Plan::Answer { outcome, then } => {
                inner.observer.cache(true);
                if let Some(work) = then {
                    // Not awaited: the answer does not wait for the background work.
                    drop(self.flight(domain, Reason::Background(work)));
                }
                (outcome, Trace::default())
            }
            Plan::Resolve => {
                inner.observer.cache(false);
                self.flight(domain, Reason::Lookup).await
            }
        }
    }

    /// Starts the background work for `domain` now, whatever the cache says (the daemon's
    /// sweep of due refreshes; tests).
    pub async fn refresh(&self, domain: &HostName) -> (Outcome, Trace) {
        self.flight(domain, Reason::Background(Background::Refresh))
            .await
    }

    /// The resolution in flight for `domain`, or a new one started as a task.
    fn flight(&self, domain: &HostName, why: Reason) -> Flight {
        let mut flights = self
            .0
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = flights.get(domain.as_str()) {
            return f.clone();
        }
        let inner = self.0.clone();
        let d = domain.clone();
        let task = tokio::spawn(async move {
            let result = resolve(&inner, &d, why).await;
            inner
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(d.as_str());
            result
        });
        let flight = async move {
            task.await.unwrap_or_else(|e| {
                (
                    Outcome::Temp {
                        reason: format!("internal error: resolution task failed: {e}"),
                    },
                    Trace::default(),
                )
            })
        }
        .boxed()
        .shared();
        flights.insert(domain.as_str().to_owned(), flight.clone());
        // A finished background flight must still be driven when nobody awaits it: the task
        // runs on its own, so dropping this handle is enough.
        flight
    }
}

/// One resolution: discovery, perhaps a fetch, the new entry stored.
async fn resolve(inner: &Inner, domain: &HostName, why: Reason) -> (Outcome, Trace) {
    let mut trace = Trace::default();
    let entry = inner.store.get(domain.as_str()).await;
    let discovery = inner.source.discover(domain).await;
    match &discovery {
        Discovery::Invalid(reason) => {
            tracing::info!(
                domain = domain.as_str(),
                reason = reason.as_str(),
                "invalid MTA-STS record: no policy"
            );
        }
        Discovery::Failed(reason) => {
            tracing::warn!(
                domain = domain.as_str(),
                reason = reason.as_str(),
                "MTA-STS record lookup failed"
            );
        }
        Discovery::Record(_) | Discovery::NoRecord => {}
    }
    trace.discovery = Some(discovery.clone());
    let now = inner.clock.now();
    let step = sender::after_discovery(entry.as_ref(), discovery, why, now);
    let (id, rule) = match step {
        Step::Done { entry, outcome } => {
            inner.store.put(domain.as_str(), &entry).await;
            return (outcome, trace);
        }
        Step::Fetch { id, rule } => (id, rule),
    };
    let fetch = {
        let _permit = inner.fetches.acquire().await;
        inner.source.fetch(domain).await
    };
    let now = inner.clock.now();
    let done = sender::after_fetch(
        entry.as_ref(),
        id,
        rule,
        fetch,
        now,
        &inner.config.rules,
        fastrand::f64(),
    );
    // A body that does not parse is a failed fetch too (`sts-policy-invalid`).
    let fetch_result = match &done.entry.status {
        Status::FetchFailed { failure, reason } => {
            // RFC 8461 §10.2: repeated refresh failures deserve attention well before the
            // cached policy expires (except for mode none).
            let kept = done.entry.live_policy(now);
            tracing::warn!(
                domain = domain.as_str(),
                result_type = failure.as_str(),
                reason = &**reason,
                failures = done.entry.failures,
                retry_in = done.entry.retry_at.saturating_sub(now),
                cached_policy_expires_in = kept.map_or(0, |p| p.expires_at().saturating_sub(now)),
                cached_mode = kept.map_or("-", |p| p.mode().as_str()),
                "MTA-STS policy fetch failed"
            );
            trace.fetched = Some(Err(Failure {
                result_type: *failure,
                reason: reason.to_string(),
            }));
            Err(*failure)
        }
        _ => {
            trace.fetched = Some(Ok(()));
            Ok(())
        }
    };
    inner.observer.fetch(fetch_result);
    if let Some(change) = &done.change {
        inner.observer.change();
        tracing::info!(
            domain = domain.as_str(),
            old_id = change.old_id.as_deref().unwrap_or("-"),
            old_mode = change.old_mode.map_or("-", |m| m.as_str()),
            new_id = change.new_id.as_str(),
            new_mode = change.new_mode.as_str(),
            "MTA-STS policy changed"
        );
    }
    trace.change = done.change;
    inner.store.put(domain.as_str(), &done.entry).await;
    (done.outcome, trace)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use mailsec_core::mta_sts::record::PolicyId;
    use mailsec_core::mta_sts::sender::Rule;

    use super::*;
    use crate::clock::ManualClock;
    use mailsec_sender::cache::Memory;

    /// A scripted source: the id the TXT record holds (None: no record), the body served, and
    /// counts of what was asked. Fetches take a while, so that lookups pile up.
    struct Script {
        id: Mutex<Option<String>>,
        body: Mutex<Option<String>>,
        discoveries: AtomicUsize,
        fetches: AtomicUsize,
    }

    impl Script {
        fn new(id: &str, body: &str) -> Arc<Self> {
            Arc::new(Self {
                id: Mutex::new(Some(id.to_owned())),
                body: Mutex::new(Some(body.to_owned())),
                discoveries: AtomicUsize::new(0),
                fetches: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl PolicySource for Script {
        async fn discover(&self, _: &HostName) -> Discovery {
            self.discoveries.fetch_add(1, Ordering::SeqCst);
            match self.id.lock().unwrap().clone() {
                Some(id) => Discovery::Record(PolicyId::new(&id).unwrap()),
                None => Discovery::NoRecord,
            }
        }

        async fn fetch(&self, _: &HostName) -> Fetch {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            match self.body.lock().unwrap().clone() {
                Some(b) => Fetch::Body(b.into_bytes()),
                None => Fetch::Failed(Failure {
                    result_type: StsFailure::StsPolicyFetchError,
                    reason: "HTTP status 404".into(),
                }),
            }
        }
    }

    const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n";
    const T0: u64 = 1_800_000_000;

    fn resolver(script: &Arc<Script>, clock: &ManualClock) -> (PolicyResolver, Arc<Memory>) {
        let store = Arc::new(Memory::default());
        let r = PolicyResolver::new(
            script.clone(),
            store.clone(),
            Arc::new(clock.clone()),
            ResolverConfig::default(),
            Arc::new(NoObserver),
        );
        (r, store)
    }

    fn domain() -> HostName {
        HostName::parse("example.com").unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_concurrent_lookups_of_a_new_domain_make_one_fetch() {
        let script = Script::new("a1", ENFORCE);
        let clock = ManualClock::new(T0);
        let (r, _) = resolver(&script, &clock);
        let lookups: Vec<_> = (0..1_000)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { r.lookup(&domain()).await })
            })
            .collect();
        for l in lookups {
            let o = l.await.unwrap();
            assert_eq!(o.active_policy().unwrap().id(), "a1");
        }
        assert_eq!(script.fetches.load(Ordering::SeqCst), 1);
        assert_eq!(script.discoveries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn cached_answers_make_no_lookup_and_background_work_runs_once_due() {
        let script = Script::new("a1", ENFORCE);
        let clock = ManualClock::new(T0);
        let (r, store) = resolver(&script, &clock);
        let (o, trace) = r.lookup_traced(&domain()).await;
        assert_eq!(o.rule(), Rule::Fetched);
        assert!(matches!(trace.fetched, Some(Ok(()))));
        assert!(trace.change.is_some());
        for _ in 0..100 {
            assert_eq!(r.lookup(&domain()).await.rule(), Rule::Cached);
        }
        assert_eq!(script.discoveries.load(Ordering::SeqCst), 1);
        // After the re-check interval the answer still comes from the cache, and one TXT
        // lookup runs in the background.
        clock.advance(61);
        assert_eq!(r.lookup(&domain()).await.rule(), Rule::Cached);
        for _ in 0..50 {
            if store.get("example.com").await.unwrap().checked_at == T0 + 61 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.get("example.com").await.unwrap().checked_at, T0 + 61);
        assert_eq!(script.discoveries.load(Ordering::SeqCst), 2);
        assert_eq!(script.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_sweep_forgets_names_without_policy_once_their_answer_runs_out() {
        let script = Script::new("a1", ENFORCE);
        let clock = ManualClock::new(T0);
        let (r, store) = resolver(&script, &clock);
        r.lookup(&domain()).await;
        *script.id.lock().unwrap() = None;
        r.lookup(&HostName::parse("nothing.example").unwrap()).await;
        assert_eq!(store.count(), 2);
        // Within the negative TTL both stay.
        clock.advance(Rules::default().negative_ttl - 1);
        assert_eq!(r.sweep(), 0);
        // Then the name without a policy goes; the live policy stays, and is answered from the
        // cache without a lookup.
        clock.advance(1);
        assert_eq!(r.sweep(), 1);
        assert_eq!(store.count(), 1);
        let discoveries = script.discoveries.load(Ordering::SeqCst);
        assert_eq!(r.lookup(&domain()).await.rule(), Rule::Cached);
        assert_eq!(script.discoveries.load(Ordering::SeqCst), discoveries);
    }

    #[tokio::test]
    async fn a_failing_fetch_keeps_the_cached_policy_and_reports_it() {
        let script = Script::new("a1", ENFORCE);
        let clock = ManualClock::new(T0);
        let (r, _) = resolver(&script, &clock);
        r.lookup(&domain()).await;
        // The record changes, the policy host is gone.
        *script.id.lock().unwrap() = Some("b2".into());
        *script.body.lock().unwrap() = None;
        clock.advance(3_600);
        let (o, trace) = r.refresh(&domain()).await;
        assert_eq!(o.rule(), Rule::KeptFetchFailed);
        assert_eq!(o.active_policy().unwrap().id(), "a1");
        assert_eq!(o.result_type(), Some(StsFailure::StsPolicyFetchError));
        assert!(matches!(trace.fetched, Some(Err(_))));
    }

    #[tokio::test]
    async fn an_invalid_body_is_a_failed_fetch_in_the_trace() {
        let script = Script::new("a1", "version: STSv1\nmode: enforce\n");
        let clock = ManualClock::new(T0);
        let (r, _) = resolver(&script, &clock);
        let (o, trace) = r.lookup_traced(&domain()).await;
        assert_eq!(o.result_type(), Some(StsFailure::StsPolicyInvalid));
        assert!(
            matches!(
                trace.fetched,
                Some(Err(Failure {
                    result_type: StsFailure::StsPolicyInvalid,
                    ..
                }))
            ),
            "{trace:?}"
        );
    }
}
