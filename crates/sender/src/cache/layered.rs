//! [`Layered`]: memory in front of a shared backend, answering from memory while it is away.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;

use super::{CacheError, Memory, PolicyCache};

/// While the backend is down, how often a lookup or a write may try it again (the others use
/// memory alone and do not wait for it).
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// A [`Memory`] layer in front of a backend (shared with other MTAs, or a local file), itself a
/// [`PolicyCache`]:
///
/// - `get` answers from memory; a miss asks the backend and keeps what it finds in memory;
/// - `put` writes memory, then the backend (newer wins in both);
/// - when the backend fails, `get` and `put` go on from memory and never return its error: the
///   outage is logged once (a warning), the domains written meanwhile are remembered, and while
///   it lasts at most one call per retry interval ([`DEFAULT_RETRY_INTERVAL`]) tries the
///   backend again. When a call or [`Layered::reconcile`] finds it answering, the recovery is
///   logged once and the remembered entries are written back: in the background after a call,
///   before `reconcile` returns. Newer-wins keeps what other MTAs wrote meanwhile;
/// - `remove`, `list`, `purge` and `len` are about the backend (`mailsec daemon --dump`,
///   `--purge`) and return its errors; `list` also shows what only memory holds.
///
/// The memory layer is unbounded, as [`Memory`] is. Entries other MTAs write later for a domain
/// already in memory are not seen until this process restarts: each MTA refreshes its policies
/// on its own schedule (RFC 8461 §10.2), and the shared backend is what a new or restarted MTA
/// starts from.
#[derive(Clone)]
pub struct Layered {
    inner: Arc<Inner>,
}

struct Inner {
    memory: Memory,
    backend: Arc<dyn PolicyCache>,
    retry: Duration,
    health: Mutex<Health>,
    /// Held while entries are written back, so that `reconcile` returns after a write-back
    /// started by a call.
    writing_back: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Health {
    down: bool,
    last_try: Option<Instant>,
    dirty: HashSet<String>,
}

impl std::fmt::Debug for Layered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layered")
            .field("backend", &self.inner.backend.describe())
            .field("backend_ok", &self.backend_ok())
            .finish_non_exhaustive()
    }
}

impl Layered {
    /// Memory in front of `backend`, retrying a failed backend every
    /// [`DEFAULT_RETRY_INTERVAL`] at most.
    pub fn new(backend: Arc<dyn PolicyCache>) -> Self {
        Self::with_retry_interval(backend, DEFAULT_RETRY_INTERVAL)
    }

    /// Memory in front of `backend`; while the backend is down, at most one call per `retry`
    /// tries it (zero: every call does).
    pub fn with_retry_interval(backend: Arc<dyn PolicyCache>, retry: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                memory: Memory::default(),
                backend,
                retry,
                health: Mutex::new(Health::default()),
                writing_back: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The backend behind the memory layer.
    pub fn backend(&self) -> &Arc<dyn PolicyCache> {
        &self.inner.backend
    }

    /// The memory layer.
    pub fn memory(&self) -> &Memory {
        &self.inner.memory
    }

    /// False from a failed backend call until one succeeds again (for metrics).
    pub fn backend_ok(&self) -> bool {
        !self.inner.health().down
    }

    /// How many domains written while the backend was down wait to be written back.
    pub fn pending(&self) -> usize {
        self.inner.health().dirty.len()
    }

    /// Asks the backend whether it answers (whatever the retry interval); if it does after an
    /// outage, writes back the entries written meanwhile before returning. Called periodically
    /// by the daemon, so that recovery does not wait for a lookup, and an outage is noticed
    /// without one. Returns [`Self::backend_ok`].
    pub async fn reconcile(&self) -> bool {
        match self.inner.backend.ping().await {
            Ok(()) => {
                self.inner.recovered();
                // Also waits for a write-back a call started.
                self.inner.write_back().await;
            }
            Err(e) => self.inner.failed(&e, None),
        }
        self.backend_ok()
    }

    /// The backend answered: after an outage, write back in the background.
    fn succeeded(&self) {
        if self.inner.recovered() {
            let inner = self.inner.clone();
            tokio::spawn(async move { inner.write_back().await });
        }
    }
}

impl Inner {
    fn health(&self) -> MutexGuard<'_, Health> {
        // Each change to Health is complete under the lock; a panic elsewhere cannot leave it
        // half-changed.
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// May this call use the backend? Yes while it is up; while it is down, once per retry
    /// interval. When not, `dirty` (a domain just written to memory) is remembered, under the
    /// same lock as the answer, so that a recovery cannot miss it.
    fn may_try(&self, dirty: Option<&str>) -> bool {
        let mut h = self.health();
        if !h.down {
            return true;
        }
        let now = Instant::now();
        if h.last_try
            .is_none_or(|t| now.duration_since(t) >= self.retry)
        {
            h.last_try = Some(now);
            return true;
        }
        if let Some(d) = dirty {
            h.dirty.insert(d.to_owned());
        }
        false
    }

    /// A backend call failed: log the outage if it starts now, remember `dirty`.
    fn failed(&self, e: &CacheError, dirty: Option<&str>) {
        let mut h = self.health();
        if !h.down {
            tracing::warn!(
                cache = self.backend.describe(),
                error = %e,
                "cache backend failed: answering from memory until it answers again"
            );
            h.down = true;
        }
        h.last_try = Some(Instant::now());
        if let Some(d) = dirty {
            h.dirty.insert(d.to_owned());
        }
    }

    /// A backend call succeeded: if it was down, log the recovery; whether it was.
    fn recovered(&self) -> bool {
        let mut h = self.health();
        if !h.down {
            return false;
        }
        h.down = false;
        h.last_try = None;
        tracing::info!(
            cache = self.backend.describe(),
            write_back = h.dirty.len(),
            "cache backend answers again: writing back the entries learnt meanwhile"
        );
        true
    }

    /// Writes the memory entries of the remembered domains to the backend, one write-back at a
    /// time; stops when the backend is down (again), the rest staying remembered.
    async fn write_back(&self) {
        let _one_at_a_time = self.writing_back.lock().await;
        loop {
            let next = {
                let mut h = self.health();
                if h.down {
                    return;
                }
                let next = h.dirty.iter().next().cloned();
                if let Some(d) = &next {
                    h.dirty.remove(d);
                }
                next
            };
            let Some(d) = next else {
                return;
            };
            let Ok(Some(entry)) = self.memory.get(&d).await else {
                continue;
            };
            if let Err(e) = self.backend.put(&d, &entry).await {
                self.failed(&e, Some(&d));
                return;
            }
        }
    }
}

#[async_trait]
impl PolicyCache for Layered {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        if let Ok(Some(e)) = self.inner.memory.get(domain).await {
            return Ok(Some(e));
        }
        if !self.inner.may_try(None) {
            return Ok(None);
        }
        match self.inner.backend.get(domain).await {
            Ok(found) => {
                self.succeeded();
                if let Some(e) = &found {
                    self.inner.memory.put(domain, e).await?;
                }
                Ok(found)
            }
            Err(e) => {
                self.inner.failed(&e, None);
                Ok(None)
            }
        }
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        self.inner.memory.put(domain, entry).await?;
        if !self.inner.may_try(Some(domain)) {
            return Ok(());
        }
        match self.inner.backend.put(domain, entry).await {
            Ok(()) => self.succeeded(),
            Err(e) => self.inner.failed(&e, Some(domain)),
        }
        Ok(())
    }

    async fn remove(&self, domain: &str) -> Result<bool, CacheError> {
        let in_memory = self.inner.memory.remove(domain).await?;
        self.inner.health().dirty.remove(domain);
        match self.inner.backend.remove(domain).await {
            Ok(in_backend) => {
                self.succeeded();
                Ok(in_memory || in_backend)
            }
            Err(e) => {
                self.inner.failed(&e, None);
                Err(e)
            }
        }
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let stored = match self.inner.backend.list().await {
            Ok(l) => {
                self.succeeded();
                l
            }
            Err(e) => {
                self.inner.failed(&e, None);
                return Err(e);
            }
        };
        let mut all: HashMap<String, Entry> = stored.into_iter().collect();
        for (d, e) in self.inner.memory.list().await? {
            match all.get(&d) {
                Some(b) if b.checked_at > e.checked_at => {}
                _ => {
                    all.insert(d, e);
                }
            }
        }
        let mut all: Vec<(String, Entry)> = all.into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    /// Clears memory and the backend; returns how many entries the backend held.
    async fn purge(&self) -> Result<u64, CacheError> {
        self.inner.memory.purge().await?;
        self.inner.health().dirty.clear();
        match self.inner.backend.purge().await {
            Ok(n) => {
                self.succeeded();
                Ok(n)
            }
            Err(e) => {
                self.inner.failed(&e, None);
                Err(e)
            }
        }
    }

    /// How many entries the backend holds.
    async fn len(&self) -> Result<u64, CacheError> {
        match self.inner.backend.len().await {
            Ok(n) => {
                self.succeeded();
                Ok(n)
            }
            Err(e) => {
                self.inner.failed(&e, None);
                Err(e)
            }
        }
    }

    async fn ping(&self) -> Result<(), CacheError> {
        match self.inner.backend.ping().await {
            Ok(()) => {
                self.succeeded();
                Ok(())
            }
            Err(e) => {
                self.inner.failed(&e, None);
                Err(e)
            }
        }
    }

    fn describe(&self) -> String {
        format!("memory over {}", self.inner.backend.describe())
    }
}
