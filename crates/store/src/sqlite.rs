//! SQLite: one file, WAL, writers queued by the busy timeout. rusqlite is blocking, so every call
//! runs on tokio's blocking pool.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};

use crate::{Row, StoreError, check_version, timestamp};

pub(crate) struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

impl Sqlite {
    pub(crate) async fn open(path: PathBuf) -> Result<Self, StoreError> {
        let conn = blocking(move || {
            let mut conn = Connection::open(&path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            retry_busy(|| {
                // WAL lets readers run beside the writer. On a file system without shared
                // memory it stays in rollback mode, where the busy timeout still serialises
                // writers.
                let _mode: String =
                    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
                // In WAL mode NORMAL loses no committed transaction when a process is killed.
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute_batch(SCHEMA)?;
                let version: String = tx.query_row(
                    "SELECT value FROM mailsec_meta WHERE name = 'schema_version'",
                    [],
                    |r| r.get(0),
                )?;
                check_version(&version)?;
                tx.commit()?;
                Ok(())
            })?;
            Ok(conn)
        })
        .await?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) async fn put(&mut self, rows: Vec<Row>) -> Result<(), StoreError> {
        let conn = Arc::clone(&self.conn);
        blocking(move || {
            let mut conn = conn.lock().map_err(|_| StoreError::Worker)?;
            // An upsert: a batch tried again after SQLITE_BUSY writes the same rows.
            retry_busy(|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                {
                    let mut stmt = tx.prepare_cached(UPSERT)?;
                    for r in &rows {
                        stmt.execute(params![
                            r.domain,
                            timestamp(r.run_at),
                            timestamp(r.checked_at),
                            r.input,
                            r.error,
                            r.mta_sts,
                            r.tls_rpt,
                            r.dane,
                            r.errors,
                            r.warnings,
                            r.verdict_outcome,
                            r.verdict_mechanism,
                            r.verdict_reason,
                            r.record,
                        ])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
        })
        .await
    }

    pub(crate) async fn for_each_latest<F>(&mut self, mut f: F) -> Result<u64, StoreError>
    where
        F: FnMut(&str),
    {
        let conn = Arc::clone(&self.conn);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(256);
        let reader = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let conn = conn.lock().map_err(|_| StoreError::Worker)?;
            let mut stmt = conn.prepare(LATEST)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                if tx.blocking_send(row.get(0)?).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut n = 0;
        while let Some(record) = rx.recv().await {
            f(&record);
            n += 1;
        }
        reader.await.map_err(|_| StoreError::Worker)??;
        Ok(n)
    }
}

impl Sqlite {
    pub(crate) async fn latest_before(
        &self,
        domain: &str,
        before: time::OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let conn = Arc::clone(&self.conn);
        let (domain, before) = (domain.to_owned(), timestamp(before));
        blocking(move || {
            let conn = conn.lock().map_err(|_| StoreError::Worker)?;
            let mut stmt = conn.prepare_cached(LATEST_BEFORE)?;
            let mut rows = stmt.query(params![domain, before])?;
            Ok(match rows.next()? {
                Some(row) => Some(row.get(0)?),
                None => None,
            })
        })
        .await
    }
}

/// Runs `f` again while SQLite answers SQLITE_BUSY, for up to BUSY_TIMEOUT. The busy timeout
/// covers most waits, but not all: switching a new file to WAL while another process does the
/// same, or a WAL recovery, answer SQLITE_BUSY at once.
fn retry_busy<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Err(StoreError::Sqlite(e)) if is_busy(&e) && start.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| StoreError::Worker)?
}

/// How long a writer waits for another's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mailsec_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO mailsec_meta (name, value) VALUES ('schema_version', '1')
    ON CONFLICT (name) DO NOTHING;
CREATE TABLE IF NOT EXISTS check_results (
    domain TEXT NOT NULL,
    run_at TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    input TEXT NOT NULL,
    error TEXT,
    mta_sts TEXT,
    tls_rpt TEXT,
    dane TEXT,
    errors INTEGER,
    warnings INTEGER,
    verdict_outcome TEXT,
    verdict_mechanism TEXT,
    verdict_reason TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (domain, run_at)
);
";

const UPSERT: &str = "
INSERT INTO check_results (domain, run_at, checked_at, input, error, mta_sts, tls_rpt, dane,
    errors, warnings, verdict_outcome, verdict_mechanism, verdict_reason, record)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (domain, run_at) DO UPDATE SET
    checked_at = excluded.checked_at, input = excluded.input, error = excluded.error,
    mta_sts = excluded.mta_sts, tls_rpt = excluded.tls_rpt, dane = excluded.dane,
    errors = excluded.errors, warnings = excluded.warnings,
    verdict_outcome = excluded.verdict_outcome, verdict_mechanism = excluded.verdict_mechanism,
    verdict_reason = excluded.verdict_reason, record = excluded.record
";

/// The newest row of each domain (the primary key's index answers the inner query).
const LATEST: &str = "
SELECT record FROM check_results AS r
WHERE run_at = (SELECT max(run_at) FROM check_results WHERE domain = r.domain)
ORDER BY domain
";

/// A domain's newest row from a run before a time (the primary key's index answers it).
const LATEST_BEFORE: &str = "
SELECT record FROM check_results WHERE domain = ?1 AND run_at < ?2
ORDER BY run_at DESC LIMIT 1
";
