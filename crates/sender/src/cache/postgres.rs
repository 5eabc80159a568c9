//! [`Postgres`]: one row per domain, newer-wins by an upsert.

use std::sync::Arc;

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;
use tokio_postgres::{Client, NoTls};

use super::{
    CacheError, PolicyCache, SHARED_TIMEOUT, bounded, decode, encode, one_line, redact, sql_time,
};

/// The table: `domain TEXT PRIMARY KEY, checked_at BIGINT, entry TEXT` (the entry's JSON),
/// created when missing.
pub const TABLE: &str = "mailsec_sts_policies";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS mailsec_sts_policies (
    domain TEXT PRIMARY KEY,
    checked_at BIGINT NOT NULL,
    entry TEXT NOT NULL
)";

/// Newer or equal wins, in one statement (atomic whatever other MTAs write at the same time).
const UPSERT: &str = "INSERT INTO mailsec_sts_policies (domain, checked_at, entry)
    VALUES ($1, $2, $3)
    ON CONFLICT (domain) DO UPDATE SET checked_at = EXCLUDED.checked_at, entry = EXCLUDED.entry
    WHERE mailsec_sts_policies.checked_at <= EXCLUDED.checked_at";

/// PostgreSQL, shared by several MTAs: table [`TABLE`], created when missing. One connection,
/// made when first needed and made again after it broke; queries from many tasks share it
/// (tokio-postgres pipelines them). Every call is bounded by [`SHARED_TIMEOUT`]. No TLS: reach a
/// remote server over a tunnel or a trusted network.
pub struct Postgres {
    config: tokio_postgres::Config,
    shown: String,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Postgres {
    /// A cache on the server at `url` (`postgres://user[:password]@host[:port]/db`, or any
    /// form tokio-postgres parses). Does not wait for the server: the connection is made at the
    /// first call, and a URL that does not parse is the only error here.
    pub fn connect(url: &str) -> Result<Self, CacheError> {
        let shown = redact(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| CacheError::Postgres {
            url: shown.clone(),
            what: "open".to_owned(),
            reason: one_line(&e),
        })?;
        config.connect_timeout(SHARED_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("mailsec-sender");
        }
        Ok(Self {
            config,
            shown,
            client: tokio::sync::Mutex::new(None),
        })
    }

    fn err(&self, what: impl Into<String>) -> impl FnOnce(String) -> CacheError + '_ {
        let what = what.into();
        move |reason| CacheError::Postgres {
            url: self.shown.clone(),
            what,
            reason,
        }
    }

    /// The connection, made (and the table created) when there is none or the last one broke.
    async fn client(&self, what: &str) -> Result<Arc<Client>, CacheError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref()
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        *slot = None;
        let (client, connection) = bounded(self.config.connect(NoTls), self.err(what)).await?;
        let shown = self.shown.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(cache = shown, error = %one_line(&e), "PostgreSQL connection closed");
            }
        });
        match tokio::time::timeout(SHARED_TIMEOUT, client.batch_execute(SCHEMA)).await {
            Ok(Ok(())) => {}
            // Two MTAs creating the table at once: one of them gets a unique violation on the
            // catalog or "already exists"; either way the table is there.
            Ok(Err(e)) if is_already_there(&e) => {}
            Ok(Err(e)) => return Err((self.err(what))(one_line(&e))),
            Err(_) => {
                return Err((self.err(what))(format!(
                    "no answer within {SHARED_TIMEOUT:?}"
                )));
            }
        }
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Runs `f` on the connection; a connection that failed is dropped, to be made again.
    async fn run<T>(
        &self,
        what: String,
        f: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, CacheError> {
        let client = self.client(&what).await?;
        let r = tokio::time::timeout(SHARED_TIMEOUT, f(&client)).await;
        let (r, broken) = match r {
            Ok(Ok(v)) => (Ok(v), false),
            Ok(Err(e)) => {
                let broken = e.as_db_error().is_none();
                (Err((self.err(what))(one_line(&e))), broken)
            }
            Err(_) => (
                Err((self.err(what))(format!(
                    "no answer within {SHARED_TIMEOUT:?}"
                ))),
                true,
            ),
        };
        if broken {
            let mut slot = self.client.lock().await;
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &client)) {
                *slot = None;
            }
        }
        r
    }
}

fn is_already_there(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code()
        .is_some_and(|c| *c == SqlState::UNIQUE_VIOLATION || *c == SqlState::DUPLICATE_TABLE)
}

#[async_trait]
impl PolicyCache for Postgres {
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError> {
        let row = self
            .run(format!("get {domain}"), async |c| {
                c.query_opt(
                    "SELECT entry FROM mailsec_sts_policies WHERE domain = $1",
                    &[&domain],
                )
                .await
            })
            .await?;
        Ok(row.and_then(|r| match r.try_get::<_, String>(0) {
            Ok(json) => decode(&self.shown, domain, json.as_bytes()),
            Err(e) => {
                tracing::warn!(
                    cache = self.shown,
                    domain,
                    error = %one_line(&e),
                    "unreadable cache entry skipped (treated as absent)"
                );
                None
            }
        }))
    }

    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError> {
        let (at, json) = (sql_time(entry), encode(entry));
        let written = self
            .run(format!("put {domain}"), async |c| {
                c.execute(UPSERT, &[&domain, &at, &json]).await
            })
            .await?;
        if written > 0 {
            return Ok(());
        }
        // Refused: a later entry is stored, unless it is unreadable (then it counts as absent):
        // replaced if it is still the one read.
        let old = self
            .run(format!("put {domain}"), async |c| {
                c.query_opt(
                    "SELECT entry FROM mailsec_sts_policies WHERE domain = $1",
                    &[&domain],
                )
                .await
            })
            .await?
            .and_then(|r| r.try_get::<_, String>(0).ok());
        if let Some(old) = old
            && serde_json::from_str::<Entry>(&old).is_err()
        {
            tracing::warn!(
                cache = self.shown,
                domain,
                "unreadable cache entry replaced"
            );
            self.run(format!("put {domain}"), async |c| {
                c.execute(
                    "UPDATE mailsec_sts_policies SET checked_at = $2, entry = $3
                     WHERE domain = $1 AND entry = $4",
                    &[&domain, &at, &json, &old],
                )
                .await
            })
            .await?;
        }
        Ok(())
    }

    async fn remove(&self, domain: &str) -> Result<bool, CacheError> {
        let n = self
            .run(format!("remove {domain}"), async |c| {
                c.execute(
                    "DELETE FROM mailsec_sts_policies WHERE domain = $1",
                    &[&domain],
                )
                .await
            })
            .await?;
        Ok(n > 0)
    }

    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let rows = self
            .run("list".to_owned(), async |c| {
                c.query("SELECT domain, entry FROM mailsec_sts_policies", &[])
                    .await
            })
            .await?;
        let mut out: Vec<(String, Entry)> = rows
            .into_iter()
            .filter_map(|r| {
                let domain: String = r.try_get(0).ok()?;
                let json: String = r.try_get(1).ok()?;
                decode(&self.shown, &domain, json.as_bytes()).map(|e| (domain, e))
            })
            .collect();
        // In byte order, as every backend (the server's collation may order otherwise).
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn purge(&self) -> Result<u64, CacheError> {
        self.run("purge".to_owned(), async |c| {
            c.execute("DELETE FROM mailsec_sts_policies", &[]).await
        })
        .await
    }

    async fn len(&self) -> Result<u64, CacheError> {
        let n: i64 = self
            .run("count".to_owned(), async |c| {
                c.query_one("SELECT count(*) FROM mailsec_sts_policies", &[])
                    .await?
                    .try_get(0)
            })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.run("ping".to_owned(), async |c| {
            c.batch_execute("SELECT 1").await
        })
        .await
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_does_not_parse_is_refused_without_its_password() {
        let e = Postgres::connect("postgres://u:secret@h:notaport/db")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("PostgreSQL cache postgres://u:***@h:notaport/db: open: "),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
    }
}
