//! [`Sqlite`]: one file, WAL, the default backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

use super::{CacheError, PolicyCache, decode, encode, one_line, sql_time};

/// The table: `domain TEXT PRIMARY KEY, checked_at INTEGER, entry TEXT` (the entry's JSON).
pub const TABLE: &str = "sts_policies";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sts_policies (
    domain TEXT PRIMARY KEY,
    checked_at INTEGER NOT NULL,
    entry TEXT NOT NULL
)";

/// Newer wins, in one statement. A `checked_at` that is not an integer (written by hand) does
/// not protect its row: SQLite orders any text after any integer.
const UPSERT: &str = "INSERT INTO sts_policies (domain, checked_at, entry) VALUES (?1, ?2, ?3)
    ON CONFLICT (domain) DO UPDATE SET checked_at = excluded.checked_at, entry = excluded.entry
    WHERE typeof(sts_policies.checked_at) <> 'integer'
       OR sts_policies.checked_at <= excluded.checked_at";

/// How long a call waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite: one file (plus its `-wal` and `-shm` while open) that survives restarts, shared
/// safely by the processes of one machine. rusqlite blocks, so every call runs on Tokio's
/// blocking pool; calls of one `Sqlite` take turns on its one connection, waiting for it
/// without a thread (64 lookups at once used to hold 64 blocking threads waiting on one lock:
/// 9 MiB of stacks and malloc arenas for nothing).
pub struct Sqlite {
    conn: Arc<tokio::sync::Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").field("path", &self.path).finish()
    }
}

impl Sqlite {
    /// Opens `path`, creating it (and its directory) when missing. A file that is not a
    /// database, or whose pages are damaged, is moved aside to `<path>.corrupt-<unix time>`
    /// with a warning, and a new empty one is made in its place (the cache only saves
    /// lookups; losing it costs re-fetches, not safety).
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, CacheError> {
        let path = path.into();
        let p = path.clone();
        let conn = blocking(move || open_or_rebuild(&p))
            .await
            .map_err(|e| error(&path, "open", &e))??;
        Ok(Self {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
            path,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection, on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, CacheError> {
        // Tokio's lock is not poisoned by a panic in `f`; SQLite itself stays consistent (it has
        // its own transactions), so the connection is used as it is.
        let conn = self.conn.clone().lock_owned().await;
        let r = blocking(move || f(&conn)).await;
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(error(&self.path, &what(), &e)),
            Err(e) => Err(error(&self.path, &what(), &e)),
        }
    }

    fn decode(&self, domain: &str, stored: ValueRef<'_>) -> Option<Entry> {
        let describe = self.describe();
        match stored {
            ValueRef::Text(b) | ValueRef::Blob(b) => decode(&describe, domain, b),
            other => {
                tracing::warn!(
                    cache = describe,
                    domain,
                    stored = ?other.data_type(),
                    "unreadable cache entry skipped (treated as absent)"
                );
                None
            }
        }
    }
}

/// Runs `f` on Tokio's blocking pool, logging to the caller's subscriber.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    tokio::task::spawn_blocking(move || tracing::dispatcher::with_default(&dispatch, f)).await
}

fn error(path: &Path, what: &str, e: &dyn std::error::Error) -> CacheError {
    CacheError::Sqlite {
        path: path.to_owned(),
        what: what.to_owned(),
        reason: one_line(e),
    }
}

fn init(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.execute_batch(SCHEMA)?;
    // Reads every page, so that a damaged file fails here (and is moved aside), not at the
    // first lookup that happens to touch the damage.
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(check),
        ));
    }
    // A table of that name but another shape is someone else's: refused, not moved aside.
    conn.prepare("SELECT domain, checked_at, entry FROM sts_policies LIMIT 0")?;
    Ok(conn)
}

fn open_or_rebuild(path: &Path) -> Result<Connection, CacheError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| error(path, "create its directory", &e))?;
    }
    match init(path) {
        Ok(c) => Ok(c),
        Err(e) if is_corrupt(&e) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".corrupt-{now}"));
            let aside = PathBuf::from(aside);
            std::fs::rename(path, &aside).map_err(|e| error(path, "move aside", &e))?;
            for suffix in ["-wal", "-shm"] {
                let mut side = path.as_os_str().to_owned();
                side.push(suffix);
                let _ = std::fs::remove_file(side);
            }
            tracing::warn!(
                cache = %path.display(),
                moved_to = %aside.display(),
                error = %one_line(&e),
                "the SQLite cache was not a usable database: moved aside, starting empty"
            );
            init(path).map_err(|e| error(path, "open", &e))
        }
        Err(e) => Err(error(path, "open", &e)),
    }
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

#[async_trait]
impl PolicyCache for Sqlite {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        let d = domain.to_owned();
        let stored: Option<Value> = self
            .with(
                || format!("get {domain}"),
                move |c| {
                    c.query_row(
                        "SELECT entry FROM sts_policies WHERE domain = ?1",
                        params![d],
                        |r| r.get(0),
                    )
                    .optional()
                },
            )
            .await?;
        Ok(stored.and_then(|v| self.decode(domain, ValueRef::from(&v))))
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let (d, at, json) = (domain.to_owned(), sql_time(entry), encode(entry));
        let describe = self.describe();
        self.with(
            || format!("put {domain}"),
            move |c| {
                if c.execute(UPSERT, params![d, at, json])? > 0 {
                    return Ok(());
                }
                // Refused: a later entry is stored, unless what is stored is unreadable, which
                // counts as absent. Replaced only if unchanged since read (another process may
                // have written a good one meanwhile).
                let old: Option<Value> = c
                    .query_row(
                        "SELECT entry FROM sts_policies WHERE domain = ?1",
                        params![d],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(old) = old {
                    let readable = match ValueRef::from(&old) {
                        ValueRef::Text(b) | ValueRef::Blob(b) => {
                            serde_json::from_slice::<Entry>(b).is_ok()
                        }
                        _ => false,
                    };
                    if !readable {
                        tracing::warn!(
                            cache = describe,
                            domain = d,
                            "unreadable cache entry replaced"
                        );
                        c.execute(
                            "UPDATE sts_policies SET checked_at = ?2, entry = ?3
                             WHERE domain = ?1 AND entry IS ?4",
                            params![d, at, json, old],
                        )?;
                    }
                }
                Ok(())
            },
        )
        .await
    }

    async fn remove(&self, domain: &str) -> Result<bool, CacheError> {
        let d = domain.to_owned();
        let n = self
            .with(
                || format!("remove {domain}"),
                move |c| c.execute("DELETE FROM sts_policies WHERE domain = ?1", params![d]),
            )
            .await?;
        Ok(n > 0)
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let rows: Vec<(Value, Value)> = self
            .with(
                || "list".to_owned(),
                |c| {
                    let mut st = c.prepare("SELECT domain, entry FROM sts_policies")?;
                    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect()
                },
            )
            .await?;
        let mut out: Vec<(String, Entry)> = rows
            .into_iter()
            .filter_map(|(d, v)| {
                let Value::Text(d) = d else {
                    tracing::warn!(
                        cache = self.describe(),
                        "cache row without a text domain skipped"
                    );
                    return None;
                };
                self.decode(&d, ValueRef::from(&v)).map(|e| (d, e))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        let n = self
            .with(
                || "purge".to_owned(),
                |c| c.execute("DELETE FROM sts_policies", []),
            )
            .await?;
        Ok(n as u64)
    }

    async fn len(&self) -> Result<u64, CacheError> {
        let n: i64 = self
            .with(
                || "count".to_owned(),
                |c| c.query_row("SELECT count(*) FROM sts_policies", [], |r| r.get(0)),
            )
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.with(
            || "ping".to_owned(),
            |c| c.query_row("SELECT 1", [], |_| Ok(())),
        )
        .await
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}
