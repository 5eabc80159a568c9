//! Where the daemon keeps its policy entries: in memory, in SQLite (the default, one file that
//! survives restarts), and a memory layer in front of a backend shared with other MTAs
//! ([`Layered`]), which keeps answering from memory while the backend is away.
//!
//! Every backend stores one [`Entry`] per domain as JSON (`mailsec_core::mta_sts::sender`'s
//! serde form; reading it back re-parses the policy body, so a stored entry that no longer
//! parses is skipped with a warning, never applied). An older entry never overwrites a newer
//! one (`checked_at`), so MTAs sharing a backend cannot roll each other back.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;
use rusqlite::{Connection, OptionalExtension, params};

use crate::store::EntryStore;

/// Why a cache operation failed: the backend and one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// SQLite.
    #[error("SQLite cache {path}: {message}")]
    Sqlite {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// Redis.
    #[error("Redis cache {url}: {message}")]
    Redis {
        /// The URL, password redacted.
        url: String,
        /// What failed.
        message: String,
    },
    /// PostgreSQL.
    #[error("PostgreSQL cache {url}: {message}")]
    Postgres {
        /// The URL, password redacted.
        url: String,
        /// What failed.
        message: String,
    },
    /// A URL this build does not know.
    #[error("cache `{0}`: expected memory:, sqlite:PATH, redis://… or postgres://…")]
    Url(String),
    /// A backend this build does not have.
    #[error("cache `{0}`: this backend is not available in this build")]
    Unsupported(String),
}

/// A cache backend.
#[async_trait]
pub trait PolicyCache: Send + Sync + 'static {
    /// The entry of `domain`; `None` when absent or unreadable.
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError>;
    /// Stores `entry` unless the stored one is newer.
    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError>;
    /// Every entry (for `--dump`).
    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError>;
    /// Removes every entry; how many there were.
    async fn purge(&self) -> Result<u64, CacheError>;
    /// The backend, for logs (no password).
    fn describe(&self) -> String;
}

/// Opens the cache named by `url`: `memory:`, `sqlite:PATH` (relative to `state_dir`).
pub async fn open(url: &str, state_dir: &Path) -> Result<Arc<dyn PolicyCache>, CacheError> {
    if url == "memory:" {
        return Ok(Arc::new(Memory::default()));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = state_dir.join(path);
        return Ok(Arc::new(Sqlite::open(path).await?));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        return Ok(Arc::new(Redis::open(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(Postgres::open(url).await?));
    }
    Err(CacheError::Url(redact(url)))
}

/// A URL without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn newer_or_equal(new: &Entry, old: Option<&Entry>) -> bool {
    old.is_none_or(|o| new.checked_at >= o.checked_at)
}

/// Entries in memory, lost on restart.
#[derive(Debug, Default)]
pub struct Memory(Mutex<HashMap<String, Entry>>);

#[async_trait]
impl PolicyCache for Memory {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        Ok(self.0.lock().ok().and_then(|m| m.get(domain).cloned()))
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        if let Ok(mut m) = self.0.lock()
            && newer_or_equal(entry, m.get(domain))
        {
            m.insert(domain.to_owned(), entry.clone());
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let mut v: Vec<(String, Entry)> = self
            .0
            .lock()
            .map(|m| m.iter().map(|(k, e)| (k.clone(), e.clone())).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        Ok(self.0.lock().map_or(0, |mut m| {
            let n = m.len() as u64;
            m.clear();
            n
        }))
    }

    fn describe(&self) -> String {
        "memory:".to_owned()
    }
}

/// SQLite: one file, WAL. rusqlite blocks, so each call runs on the blocking pool.
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sts_policies (
    domain TEXT PRIMARY KEY,
    checked_at INTEGER NOT NULL,
    entry TEXT NOT NULL
)";

impl Sqlite {
    /// Opens or creates the file. A file that is not a usable database is moved aside to
    /// `<file>.corrupt-<unix time>` with a warning, and a new one is made.
    pub async fn open(path: PathBuf) -> Result<Self, CacheError> {
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_or_rebuild(&p))
            .await
            .map_err(|e| CacheError::Sqlite {
                path: path.display().to_string(),
                message: e.to_string(),
            })??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, CacheError> {
        let conn = self.conn.clone();
        let path = self.path.display().to_string();
        let err = |message: String| CacheError::Sqlite {
            path: path.clone(),
            message,
        };
        tokio::task::spawn_blocking(move || {
            let c = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&c)
        })
        .await
        .map_err(|e| err(e.to_string()))?
        .map_err(|e| err(e.to_string()))
    }
}

fn init(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.execute_batch(SCHEMA)?;
    // A quick check reads every page: a damaged file fails here, not at the first lookup.
    let ok: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(ok),
        ));
    }
    Ok(conn)
}

fn open_or_rebuild(path: &Path) -> Result<Connection, CacheError> {
    let fail = |e: &dyn std::fmt::Display| CacheError::Sqlite {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    match init(path) {
        Ok(c) => Ok(c),
        Err(e) if is_corrupt(&e) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let aside = PathBuf::from(format!("{}.corrupt-{now}", path.display()));
            std::fs::rename(path, &aside).map_err(|e| fail(&e))?;
            for ext in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
            }
            tracing::warn!(
                cache = %path.display(),
                moved_to = %aside.display(),
                error = %e,
                "the SQLite cache was not a usable database: moved aside, starting empty"
            );
            init(path).map_err(|e| fail(&e))
        }
        Err(e) => Err(fail(&e)),
    }
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

fn decode(domain: &str, json: &str) -> Option<Entry> {
    match serde_json::from_str(json) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::warn!(domain, error = %e, "unreadable cache entry skipped");
            None
        }
    }
}

#[async_trait]
impl PolicyCache for Sqlite {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        let d = domain.to_owned();
        let json: Option<String> = self
            .with(move |c| {
                c.query_row(
                    "SELECT entry FROM sts_policies WHERE domain = ?1",
                    params![d],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        Ok(json.and_then(|j| decode(domain, &j)))
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let json = serde_json::to_string(entry).map_err(|e| CacheError::Sqlite {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        let (d, at) = (
            domain.to_owned(),
            i64::try_from(entry.checked_at).unwrap_or(i64::MAX),
        );
        self.with(move |c| {
            c.execute(
                "INSERT INTO sts_policies (domain, checked_at, entry) VALUES (?1, ?2, ?3)
                 ON CONFLICT (domain) DO UPDATE SET checked_at = excluded.checked_at,
                     entry = excluded.entry
                 WHERE sts_policies.checked_at <= excluded.checked_at",
                params![d, at, json],
            )
        })
        .await?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let rows: Vec<(String, String)> = self
            .with(|c| {
                let mut st = c.prepare("SELECT domain, entry FROM sts_policies ORDER BY domain")?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(d, j)| decode(&d, &j).map(|e| (d, e)))
            .collect())
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        let n = self
            .with(|c| c.execute("DELETE FROM sts_policies", []))
            .await?;
        Ok(n as u64)
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

/// How long one call to a shared backend may take before it counts as failed (the daemon then
/// answers from memory).
const SHARED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long Redis keeps an entry after its last write: a week past the longest `max_age`, so
/// that dead domains do not stay for ever (postfix-mta-sts-resolver's issue #109).
const REDIS_TTL: u64 = 31_557_600 + 7 * 86_400;

async fn bounded<T, E: std::fmt::Display>(
    f: impl Future<Output = Result<T, E>>,
    err: impl Fn(String) -> CacheError,
) -> Result<T, CacheError> {
    match tokio::time::timeout(SHARED_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(err(e.to_string())),
        Err(_) => Err(err(format!("no answer within {SHARED_TIMEOUT:?}"))),
    }
}

/// Redis, shared by several MTAs: one JSON value per domain under `mailsec:sts:<domain>`,
/// written by a script that keeps the newer entry (the `checked_at` of each is stored beside it
/// in a hash), each key expiring a week after the longest `max_age` from its last write.
pub struct Redis {
    conn: redis::aio::ConnectionManager,
    url: String,
}

const REDIS_PREFIX: &str = "mailsec:sts:";
/// KEYS[1] the entry's hash; ARGV: checked_at, JSON, TTL. Newer or equal wins.
const REDIS_PUT: &str = r"
local old = redis.call('HGET', KEYS[1], 'at')
if old == false or tonumber(old) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'at', ARGV[1], 'entry', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
";

impl Redis {
    /// Connects (the connection manager reconnects by itself later).
    pub async fn open(url: &str) -> Result<Self, CacheError> {
        let shown = redact(url);
        let err = |message: String| CacheError::Redis {
            url: shown.clone(),
            message,
        };
        let client = redis::Client::open(url).map_err(|e| err(e.to_string()))?;
        let conn = bounded(client.get_connection_manager(), &err).await?;
        Ok(Self { conn, url: shown })
    }

    fn err(&self) -> impl Fn(String) -> CacheError + '_ {
        |message| CacheError::Redis {
            url: self.url.clone(),
            message,
        }
    }
}

#[async_trait]
impl PolicyCache for Redis {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        let mut c = self.conn.clone();
        let json: Option<String> = bounded(
            redis::cmd("HGET")
                .arg(format!("{REDIS_PREFIX}{domain}"))
                .arg("entry")
                .query_async(&mut c),
            self.err(),
        )
        .await?;
        Ok(json.and_then(|j| decode(domain, &j)))
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let json = serde_json::to_string(entry).map_err(|e| (self.err())(e.to_string()))?;
        let mut c = self.conn.clone();
        let _: i64 = bounded(
            redis::Script::new(REDIS_PUT)
                .key(format!("{REDIS_PREFIX}{domain}"))
                .arg(entry.checked_at)
                .arg(json)
                .arg(REDIS_TTL)
                .invoke_async(&mut c),
            self.err(),
        )
        .await?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let mut c = self.conn.clone();
        let mut keys: Vec<String> = bounded(
            redis::cmd("KEYS")
                .arg(format!("{REDIS_PREFIX}*"))
                .query_async(&mut c),
            self.err(),
        )
        .await?;
        keys.sort();
        let mut out = Vec::new();
        for k in keys {
            let d = k.trim_start_matches(REDIS_PREFIX).to_owned();
            if let Some(e) = self.get(&d).await? {
                out.push((d, e));
            }
        }
        Ok(out)
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        let mut c = self.conn.clone();
        let keys: Vec<String> = bounded(
            redis::cmd("KEYS")
                .arg(format!("{REDIS_PREFIX}*"))
                .query_async(&mut c),
            self.err(),
        )
        .await?;
        if keys.is_empty() {
            return Ok(0);
        }
        let n: u64 = bounded(redis::cmd("DEL").arg(&keys).query_async(&mut c), self.err()).await?;
        Ok(n)
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

/// PostgreSQL, shared by several MTAs: table `mailsec_sts_policies`, an upsert that keeps the
/// newer entry.
pub struct Postgres {
    client: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    url: String,
    shown: String,
}

impl Postgres {
    /// Connects and creates the table when missing.
    pub async fn open(url: &str) -> Result<Self, CacheError> {
        let p = Self {
            client: tokio::sync::Mutex::new(None),
            url: url.to_owned(),
            shown: redact(url),
        };
        drop(p.client().await?);
        Ok(p)
    }

    fn err(&self) -> impl Fn(String) -> CacheError + '_ {
        |message| CacheError::Postgres {
            url: self.shown.clone(),
            message,
        }
    }

    /// The connection, made again when the last one broke.
    async fn client(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<tokio_postgres::Client>>, CacheError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            let (client, conn) = bounded(
                tokio_postgres::connect(&self.url, tokio_postgres::NoTls),
                self.err(),
            )
            .await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            bounded(
                client.batch_execute(
                    "CREATE TABLE IF NOT EXISTS mailsec_sts_policies (
                        domain TEXT PRIMARY KEY,
                        checked_at BIGINT NOT NULL,
                        entry TEXT NOT NULL)",
                ),
                self.err(),
            )
            .await?;
            *guard = Some(client);
        }
        Ok(guard)
    }

    async fn run<T>(
        &self,
        f: impl for<'c> FnOnce(
            &'c tokio_postgres::Client,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, tokio_postgres::Error>> + Send + 'c>,
        >,
    ) -> Result<T, CacheError> {
        let mut guard = self.client().await?;
        let Some(client) = guard.as_ref() else {
            return Err((self.err())("not connected".to_owned()));
        };
        let r = bounded(f(client), self.err()).await;
        if r.is_err() {
            // Reconnect next time.
            *guard = None;
        }
        r
    }
}

#[async_trait]
impl PolicyCache for Postgres {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        let d = domain.to_owned();
        let row = self
            .run(move |c| {
                Box::pin(async move {
                    c.query_opt(
                        "SELECT entry FROM mailsec_sts_policies WHERE domain = $1",
                        &[&d],
                    )
                    .await
                })
            })
            .await?;
        Ok(row.and_then(|r| decode(domain, &r.get::<_, String>(0))))
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let json = serde_json::to_string(entry).map_err(|e| (self.err())(e.to_string()))?;
        let (d, at) = (
            domain.to_owned(),
            i64::try_from(entry.checked_at).unwrap_or(i64::MAX),
        );
        self.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO mailsec_sts_policies (domain, checked_at, entry) VALUES ($1, $2, $3)
                     ON CONFLICT (domain) DO UPDATE SET checked_at = EXCLUDED.checked_at,
                         entry = EXCLUDED.entry
                     WHERE mailsec_sts_policies.checked_at <= EXCLUDED.checked_at",
                    &[&d, &at, &json],
                )
                .await
            })
        })
        .await?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let rows = self
            .run(|c| {
                Box::pin(async move {
                    c.query(
                        "SELECT domain, entry FROM mailsec_sts_policies ORDER BY domain",
                        &[],
                    )
                    .await
                })
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let d: String = r.get(0);
                decode(&d, &r.get::<_, String>(1)).map(|e| (d, e))
            })
            .collect())
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        self.run(|c| {
            Box::pin(async move { c.execute("DELETE FROM mailsec_sts_policies", &[]).await })
        })
        .await
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// What every backend must do (run by the test suite against each; public so that the
/// integration tests reach it with real servers).
#[doc(hidden)]
pub async fn conformance(c: &dyn PolicyCache, fixture: impl Fn(u64) -> Entry) {
    let _ = c.purge().await.expect("purge");
    assert_eq!(c.get("example.com").await.expect("get"), None);
    c.put("example.com", &fixture(100)).await.expect("put");
    assert_eq!(c.get("example.com").await.expect("get"), Some(fixture(100)));
    // Newer wins; an older write is ignored; a tie overwrites.
    c.put("example.com", &fixture(200)).await.expect("put");
    c.put("example.com", &fixture(150)).await.expect("put");
    assert_eq!(
        c.get("example.com")
            .await
            .expect("get")
            .map(|e| e.checked_at),
        Some(200)
    );
    let mut tie = fixture(200);
    tie.status = mailsec_core::mta_sts::sender::Status::NoRecord;
    c.put("example.com", &tie).await.expect("put");
    assert_eq!(
        c.get("example.com").await.expect("get").map(|e| e.status),
        Some(mailsec_core::mta_sts::sender::Status::NoRecord)
    );
    c.put("example.org", &fixture(1)).await.expect("put");
    let listed: Vec<String> = c
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_eq!(listed, ["example.com", "example.org"]);
    assert_eq!(c.purge().await.expect("purge"), 2);
    assert!(c.list().await.expect("list").is_empty());
}

/// A memory layer in front of a backend. Reads hit memory first; writes go to both. While the
/// backend fails, lookups go on from memory: the outage is logged once, the domains written
/// meanwhile are remembered, and [`Layered::reconcile`] (or the next successful call) writes
/// them back (newer-wins keeps what other MTAs wrote meanwhile) and logs the recovery once.
pub struct Layered {
    memory: Memory,
    backend: Arc<dyn PolicyCache>,
    state: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    down: bool,
    dirty: HashSet<String>,
}

impl Layered {
    /// Memory in front of `backend`.
    pub fn new(backend: Arc<dyn PolicyCache>) -> Self {
        Self {
            memory: Memory::default(),
            backend,
            state: Mutex::new(Health::default()),
        }
    }

    /// The backend behind the memory layer.
    pub fn backend(&self) -> &Arc<dyn PolicyCache> {
        &self.backend
    }

    /// True while the backend answers.
    pub fn backend_ok(&self) -> bool {
        self.state.lock().is_ok_and(|s| !s.down)
    }

    fn failed(&self, e: &CacheError, domain: Option<&str>) {
        if let Ok(mut s) = self.state.lock() {
            if !s.down {
                tracing::warn!(
                    cache = self.backend.describe(),
                    error = %e,
                    "cache backend failed: answering from memory until it returns"
                );
            }
            s.down = true;
            if let Some(d) = domain {
                s.dirty.insert(d.to_owned());
            }
        }
    }

    fn recovered(&self) -> Vec<String> {
        match self.state.lock() {
            Ok(mut s) if s.down => {
                s.down = false;
                tracing::info!(
                    cache = self.backend.describe(),
                    pending = s.dirty.len(),
                    "cache backend answers again"
                );
                s.dirty.drain().collect()
            }
            _ => Vec::new(),
        }
    }

    /// Writes back the entries changed while the backend was away, if it answers now. Called
    /// periodically by the daemon.
    pub async fn reconcile(&self) {
        let was_down = !self.backend_ok();
        if !was_down {
            return;
        }
        // A cheap probe: reading a name no domain has.
        match self.backend.get("-probe-.invalid").await {
            Ok(_) => self.flush(self.recovered()).await,
            Err(e) => self.failed(&e, None),
        }
    }

    async fn flush(&self, domains: Vec<String>) {
        for d in domains {
            if let Ok(Some(e)) = self.memory.get(&d).await
                && let Err(err) = self.backend.put(&d, &e).await
            {
                self.failed(&err, Some(&d));
                return;
            }
        }
    }
}

#[async_trait]
impl EntryStore for Layered {
    async fn get(&self, domain: &str) -> Option<Entry> {
        if let Ok(Some(e)) = self.memory.get(domain).await {
            return Some(e);
        }
        if !self.backend_ok() {
            return None;
        }
        match self.backend.get(domain).await {
            Ok(Some(e)) => {
                let _ = self.memory.put(domain, &e).await;
                Some(e)
            }
            Ok(None) => None,
            Err(e) => {
                self.failed(&e, None);
                None
            }
        }
    }

    async fn put(&self, domain: &str, entry: &Entry) {
        let _ = self.memory.put(domain, entry).await;
        if !self.backend_ok() {
            if let Ok(mut s) = self.state.lock() {
                s.dirty.insert(domain.to_owned());
            }
            return;
        }
        if let Err(e) = self.backend.put(domain, entry).await {
            self.failed(&e, Some(domain));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use mailsec_core::mta_sts::record::PolicyId;
    use mailsec_core::mta_sts::sender::{self, Fetch, Rule, Rules};

    use super::*;

    fn entry(at: u64) -> Entry {
        sender::after_fetch(
            None,
            PolicyId::new("a1").unwrap(),
            Rule::Fetched,
            Fetch::Body(
                b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n".to_vec(),
            ),
            at,
            &Rules::default(),
            0.0,
        )
        .entry
    }

    async fn suite(c: &dyn PolicyCache) {
        conformance(c, entry).await;
    }

    #[tokio::test]
    async fn memory_passes_the_suite() {
        suite(&Memory::default()).await;
    }

    #[tokio::test]
    async fn sqlite_passes_the_suite_survives_reopening_and_skips_unreadable_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cache.db");
        let c = Sqlite::open(path.clone()).await.unwrap();
        suite(&c).await;
        c.put("example.com", &entry(300)).await.unwrap();
        drop(c);
        let c = open(
            &format!("sqlite:{}", path.display()),
            Path::new("/nonexistent"),
        )
        .await
        .unwrap();
        assert_eq!(c.get("example.com").await.unwrap(), Some(entry(300)));
        // A stored entry whose policy no longer parses (tampered, or from another version).
        let raw = Connection::open(&path).unwrap();
        let bad = serde_json::to_string(&entry(400))
            .unwrap()
            .replace("mode: enforce", "mode: sometimes");
        raw.execute(
            "INSERT INTO sts_policies VALUES ('bad.example', 400, ?1), ('junk.example', 1, 'x')",
            params![bad],
        )
        .unwrap();
        assert_eq!(c.get("bad.example").await.unwrap(), None);
        assert_eq!(c.get("junk.example").await.unwrap(), None);
        assert_eq!(c.list().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_corrupt_sqlite_file_is_moved_aside_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.db");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let c = Sqlite::open(path.clone()).await.unwrap();
        c.put("example.com", &entry(1)).await.unwrap();
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("cache.db.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(
            std::fs::read(dir.path().join(&aside[0])).unwrap(),
            vec![0x42u8; 8192]
        );
    }

    #[tokio::test]
    async fn urls() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            open("memory:", dir.path()).await.unwrap().describe(),
            "memory:"
        );
        let s = open("sqlite:x.db", dir.path()).await.unwrap();
        assert_eq!(
            s.describe(),
            format!("sqlite:{}", dir.path().join("x.db").display())
        );
        let e = open("mysql://u:secret@h/db", dir.path())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("mysql://u:***@h/db") && !e.contains("secret"),
            "{e}"
        );
        assert_eq!(redact("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    /// A backend that fails while `down` is set (the unit-test stand-in for a Redis that went
    /// away; the real servers are in the integration tests).
    #[derive(Default)]
    struct Flaky {
        inner: Memory,
        down: AtomicBool,
    }

    #[async_trait]
    impl PolicyCache for Flaky {
        async fn get(&self, d: &str) -> Result<Option<Entry>, CacheError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(CacheError::Unsupported("down".into()));
            }
            self.inner.get(d).await
        }
        async fn put(&self, d: &str, e: &Entry) -> Result<(), CacheError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(CacheError::Unsupported("down".into()));
            }
            self.inner.put(d, e).await
        }
        async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
            self.inner.list().await
        }
        async fn purge(&self) -> Result<u64, CacheError> {
            self.inner.purge().await
        }
        fn describe(&self) -> String {
            "flaky".into()
        }
    }

    #[tokio::test]
    async fn layered_answers_from_memory_while_the_backend_is_away_and_catches_up() {
        let backend = Arc::new(Flaky::default());
        let l = Layered::new(backend.clone());
        // What another MTA stored is read through and kept in memory.
        backend
            .inner
            .put("shared.example", &entry(10))
            .await
            .unwrap();
        assert_eq!(EntryStore::get(&l, "shared.example").await, Some(entry(10)));
        EntryStore::put(&l, "a.example", &entry(20)).await;
        backend.down.store(true, Ordering::SeqCst);
        // Nothing cached is lost; new entries still land in memory.
        assert_eq!(EntryStore::get(&l, "a.example").await, Some(entry(20)));
        assert_eq!(EntryStore::get(&l, "shared.example").await, Some(entry(10)));
        EntryStore::put(&l, "b.example", &entry(30)).await;
        EntryStore::put(&l, "a.example", &entry(40)).await;
        assert!(!l.backend_ok());
        assert_eq!(EntryStore::get(&l, "b.example").await, Some(entry(30)));
        assert_eq!(EntryStore::get(&l, "unknown.example").await, None);
        // Still away: reconcile changes nothing.
        l.reconcile().await;
        assert!(!l.backend_ok());
        // Back: the entries written meanwhile reach it.
        backend.down.store(false, Ordering::SeqCst);
        l.reconcile().await;
        assert!(l.backend_ok());
        assert_eq!(
            backend.inner.get("b.example").await.unwrap(),
            Some(entry(30))
        );
        assert_eq!(
            backend.inner.get("a.example").await.unwrap(),
            Some(entry(40))
        );
    }
}
