//! The memory layer: the suite over SQLite, then outages of a stand-in backend and of a real
//! Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;
use mailsec_lab::servers::TempRedis;
use mailsec_sender::cache::{self, CacheError, Layered, Memory, PolicyCache, Sqlite};

use crate::suite::{Subject, conformance};
use crate::{Logs, entry, other};

#[tokio::test]
async fn layered_over_sqlite_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Sqlite::open(dir.path().join("cache.db")).await.unwrap());
    let l = Arc::new(Layered::new(backend));
    assert_eq!(
        l.describe(),
        format!(
            "memory over sqlite:{}",
            dir.path().join("cache.db").display()
        )
    );
    conformance(&Subject::alone(l)).await;
}

/// A backend that fails while `down` is set, counting the calls that reach it.
struct Flaky {
    name: String,
    inner: Memory,
    down: AtomicBool,
    calls: AtomicUsize,
    /// Calls that may still succeed before it goes down by itself (`usize::MAX`: no limit).
    budget: AtomicUsize,
}

impl Default for Flaky {
    fn default() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        Self {
            name: format!("flaky-{}", N.fetch_add(1, Ordering::SeqCst)),
            inner: Memory::default(),
            down: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
            budget: AtomicUsize::new(usize::MAX),
        }
    }
}

impl Flaky {
    fn check(&self) -> Result<(), CacheError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.budget.load(Ordering::SeqCst) {
            usize::MAX => {}
            0 => {
                self.set_down(true);
                self.budget.store(usize::MAX, Ordering::SeqCst);
            }
            n => self.budget.store(n - 1, Ordering::SeqCst),
        }
        if self.down.load(Ordering::SeqCst) {
            // The error a real backend gives.
            return Err(CacheError::Redis {
                url: "redis://flaky".to_owned(),
                what: "call".to_owned(),
                reason: "Connection refused".to_owned(),
            });
        }
        Ok(())
    }

    /// Goes down by itself after `n` more calls.
    fn fail_after(&self, n: usize) {
        self.budget.store(n, Ordering::SeqCst);
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl PolicyCache for Flaky {
    async fn get(&self, d: &str) -> Result<Option<Entry>, CacheError> {
        self.check()?;
        self.inner.get(d).await
    }
    async fn put(&self, d: &str, e: &Entry) -> Result<(), CacheError> {
        self.check()?;
        self.inner.put(d, e).await
    }
    async fn remove(&self, d: &str) -> Result<bool, CacheError> {
        self.check()?;
        self.inner.remove(d).await
    }
    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        self.check()?;
        self.inner.list().await
    }
    async fn purge(&self) -> Result<u64, CacheError> {
        self.check()?;
        self.inner.purge().await
    }
    async fn len(&self) -> Result<u64, CacheError> {
        self.check()?;
        self.inner.len().await
    }
    async fn ping(&self) -> Result<(), CacheError> {
        self.check()
    }
    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[tokio::test]
async fn reads_go_through_to_the_backend_and_stay_in_memory() {
    let backend = Arc::new(Flaky::default());
    let l = Layered::new(backend.clone());
    // What another MTA stored is read through once, then answered from memory.
    backend
        .inner
        .put("shared.example", &entry(10))
        .await
        .unwrap();
    assert_eq!(l.get("shared.example").await.unwrap(), Some(entry(10)));
    assert_eq!(
        l.memory().get("shared.example").await.unwrap(),
        Some(entry(10))
    );
    let calls = backend.calls();
    assert_eq!(l.get("shared.example").await.unwrap(), Some(entry(10)));
    assert_eq!(backend.calls(), calls);
    // Writes reach both.
    l.put("a.example", &entry(20)).await.unwrap();
    assert_eq!(
        backend.inner.get("a.example").await.unwrap(),
        Some(entry(20))
    );
    // list shows the backend's entries and memory's, the newer of each domain.
    backend.inner.put("a.example", &entry(25)).await.unwrap();
    backend
        .inner
        .put("only-backend.example", &entry(1))
        .await
        .unwrap();
    let listed: Vec<(String, u64)> = l
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(d, e)| (d, e.checked_at))
        .collect();
    assert_eq!(
        listed,
        [
            ("a.example".to_owned(), 25),
            ("only-backend.example".to_owned(), 1),
            ("shared.example".to_owned(), 10)
        ]
    );
}

#[tokio::test]
async fn an_outage_is_answered_from_memory_logged_once_and_caught_up() {
    let logs = Logs::capture();
    let backend = Arc::new(Flaky::default());
    // A retry interval longer than the test: only reconcile() tries the backend again.
    let l = Layered::with_retry_interval(backend.clone(), Duration::from_secs(3_600));
    l.put("a.example", &entry(20)).await.unwrap();
    l.put("shared.example", &entry(30)).await.unwrap();
    assert!(l.backend_ok());

    backend.set_down(true);
    // Nothing cached is lost, nothing fails; what is learnt meanwhile stays in memory.
    assert_eq!(l.get("a.example").await.unwrap(), Some(entry(20)));
    l.put("b.example", &entry(40)).await.unwrap();
    assert!(!l.backend_ok());
    l.put("a.example", &entry(50)).await.unwrap();
    assert_eq!(l.get("unknown.example").await.unwrap(), None);
    l.put("c.example", &entry(60)).await.unwrap();
    assert_eq!(l.get("a.example").await.unwrap(), Some(entry(50)));
    assert_eq!(l.get("b.example").await.unwrap(), Some(entry(40)));
    assert_eq!(l.pending(), 3);
    // Only the first failing call reached the backend.
    let calls = backend.calls();
    l.put("d.example", &entry(70)).await.unwrap();
    assert_eq!(backend.calls(), calls);
    assert_eq!(l.pending(), 4);
    // The admin calls say the backend failed.
    assert!(l.len().await.is_err());
    assert!(l.list().await.is_err());

    // Still away: reconcile tries, changes nothing, logs nothing more.
    assert!(!l.reconcile().await);
    let me = backend.describe();
    assert_eq!(
        logs.count(&["cache backend failed", &me]),
        1,
        "logged once: {}",
        logs.text()
    );

    // Meanwhile another MTA stored a newer entry of one of them: it must stay.
    backend.inner.put("c.example", &other(65)).await.unwrap();
    backend.set_down(false);
    assert!(l.reconcile().await);
    assert_eq!(l.pending(), 0);
    assert_eq!(
        backend.inner.get("a.example").await.unwrap(),
        Some(entry(50))
    );
    assert_eq!(
        backend.inner.get("b.example").await.unwrap(),
        Some(entry(40))
    );
    assert_eq!(
        backend.inner.get("c.example").await.unwrap(),
        Some(other(65))
    );
    assert_eq!(
        backend.inner.get("d.example").await.unwrap(),
        Some(entry(70))
    );
    assert_eq!(
        logs.count(&["cache backend answers again", &me]),
        1,
        "{}",
        logs.text()
    );
    // Up: reconcile has nothing to do, and logs nothing.
    assert!(l.reconcile().await);
    assert_eq!(logs.count(&["cache backend answers again", &me]), 1);
    assert_eq!(logs.count(&["cache backend failed", &me]), 1);
}

#[tokio::test]
async fn a_later_call_notices_the_recovery() {
    let backend = Arc::new(Flaky::default());
    // Zero: every call tries the backend while it is down.
    let l = Layered::with_retry_interval(backend.clone(), Duration::ZERO);
    backend.set_down(true);
    l.put("a.example", &entry(1)).await.unwrap();
    assert!(!l.backend_ok());
    assert_eq!(l.pending(), 1);
    backend.set_down(false);
    assert_eq!(l.get("other.example").await.unwrap(), None);
    assert!(l.backend_ok(), "the call that succeeded ends the outage");
    // The write-back runs in the background; reconcile waits for it.
    assert!(l.reconcile().await);
    assert_eq!(
        backend.inner.get("a.example").await.unwrap(),
        Some(entry(1))
    );
    assert_eq!(l.pending(), 0);
}

#[tokio::test]
async fn a_write_back_that_fails_halfway_keeps_the_rest() {
    let backend = Arc::new(Flaky::default());
    let l = Layered::with_retry_interval(backend.clone(), Duration::from_secs(3_600));
    backend.set_down(true);
    for d in ["a.example", "b.example", "c.example"] {
        l.put(d, &entry(1)).await.unwrap();
    }
    assert_eq!(l.pending(), 3);
    // Back for two calls only: the probe and one write.
    backend.set_down(false);
    backend.fail_after(2);
    assert!(!l.reconcile().await);
    assert_eq!(l.pending(), 2);
    assert_eq!(backend.inner.len().await.unwrap(), 1);
    // Back for good: the other two follow.
    backend.set_down(false);
    assert!(l.reconcile().await);
    for d in ["a.example", "b.example", "c.example"] {
        assert_eq!(backend.inner.get(d).await.unwrap(), Some(entry(1)), "{d}");
    }
    assert_eq!(l.pending(), 0);
}

#[tokio::test]
async fn redis_killed_and_restarted_under_the_memory_layer() {
    let logs = Logs::capture();
    let mut server = TempRedis::start().unwrap();
    let url = server.url();
    let backend = cache::open(&url, std::path::Path::new("/nonexistent"))
        .await
        .unwrap();
    let l = Layered::with_retry_interval(backend, Duration::ZERO);
    l.put("a.example", &entry(10)).await.unwrap();
    assert!(l.backend_ok());

    server.stop();
    // Lookups and writes go on from memory, without an error.
    assert_eq!(l.get("a.example").await.unwrap(), Some(entry(10)));
    l.put("b.example", &entry(20)).await.unwrap();
    assert_eq!(l.get("b.example").await.unwrap(), Some(entry(20)));
    assert_eq!(l.get("never.example").await.unwrap(), None);
    assert!(!l.backend_ok());
    assert_eq!(
        logs.count(&["cache backend failed", &url]),
        1,
        "{}",
        logs.text()
    );

    // Back on the same port, empty (no persistence): the entries learnt meanwhile reach it.
    server.restart().unwrap();
    let mut tries = 0;
    while !l.reconcile().await {
        tries += 1;
        assert!(tries < 100, "Redis never answered again: {}", logs.text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fresh = cache::open(&url, std::path::Path::new("/nonexistent"))
        .await
        .unwrap();
    assert_eq!(fresh.get("b.example").await.unwrap(), Some(entry(20)));
    assert_eq!(
        logs.count(&["cache backend answers again", &url]),
        1,
        "{}",
        logs.text()
    );
    // Written before the outage and lost with the server's memory: not dirty, not rewritten
    // until it is written again.
    assert_eq!(fresh.get("a.example").await.unwrap(), None);
    l.put("a.example", &entry(11)).await.unwrap();
    assert_eq!(fresh.get("a.example").await.unwrap(), Some(entry(11)));
}
