//! PostgreSQL through tokio-postgres: one connection, one transaction per batch, reads through a
//! portal (a server-side cursor) in batches.

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use crate::{Row, StoreError, check_version, timestamp};

pub(crate) struct Postgres {
    client: Client,
    upsert: Statement,
}

impl Postgres {
    pub(crate) async fn open(url: &str) -> Result<Self, StoreError> {
        let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
        // The connection does the I/O; its error, if any, is what the client's calls return.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let tx = client.transaction().await?;
        // Runs that start together would race on CREATE TABLE IF NOT EXISTS (a unique violation
        // in the catalogue); the lock makes them take turns, until the end of the transaction.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await?;
        tx.batch_execute(SCHEMA).await?;
        let version: String = tx
            .query_one(
                "SELECT value FROM mailsec_meta WHERE name = 'schema_version'",
                &[],
            )
            .await?
            .try_get(0)?;
        check_version(&version)?;
        tx.commit().await?;
        let upsert = client.prepare(UPSERT).await?;
        Ok(Self { client, upsert })
    }

    pub(crate) async fn put(&mut self, rows: Vec<Row>) -> Result<(), StoreError> {
        let tx = self.client.transaction().await?;
        for r in &rows {
            let run_at = timestamp(r.run_at);
            let checked_at = timestamp(r.checked_at);
            let params: [&(dyn ToSql + Sync); 14] = [
                &r.domain,
                &run_at,
                &checked_at,
                &r.input,
                &r.error,
                &r.mta_sts,
                &r.tls_rpt,
                &r.dane,
                &r.errors,
                &r.warnings,
                &r.verdict_outcome,
                &r.verdict_mechanism,
                &r.verdict_reason,
                &r.record,
            ];
            tx.execute(&self.upsert, &params).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn for_each_latest<F>(&mut self, mut f: F) -> Result<u64, StoreError>
    where
        F: FnMut(&str),
    {
        let tx = self.client.transaction().await?;
        let portal = tx.bind(LATEST, &[]).await?;
        let mut n = 0;
        loop {
            let rows = tx.query_portal(&portal, BATCH).await?;
            for row in &rows {
                let record: &str = row.try_get(0)?;
                f(record);
                n += 1;
            }
            if rows.len() < BATCH as usize {
                break;
            }
        }
        tx.commit().await?;
        Ok(n)
    }
}

impl Postgres {
    pub(crate) async fn latest_before(
        &self,
        domain: &str,
        before: time::OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let before = timestamp(before);
        let row = self
            .client
            .query_opt(LATEST_BEFORE, &[&domain, &before])
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        })
    }
}

/// The advisory lock key of schema creation ("mailsec" in ASCII).
const SCHEMA_LOCK: i64 = 0x006d_6169_6c73_6563;

/// Rows read per round trip.
const BATCH: i32 = 1000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mailsec_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO mailsec_meta (name, value) VALUES ('schema_version', '1')
    ON CONFLICT (name) DO NOTHING;
CREATE TABLE IF NOT EXISTS check_results (
    domain TEXT NOT NULL,
    run_at TIMESTAMPTZ NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    input TEXT NOT NULL,
    error TEXT,
    mta_sts TEXT,
    tls_rpt TEXT,
    dane TEXT,
    errors BIGINT,
    warnings BIGINT,
    verdict_outcome TEXT,
    verdict_mechanism TEXT,
    verdict_reason TEXT,
    record JSONB NOT NULL,
    PRIMARY KEY (domain, run_at)
);
";

const UPSERT: &str = "
INSERT INTO check_results (domain, run_at, checked_at, input, error, mta_sts, tls_rpt, dane,
    errors, warnings, verdict_outcome, verdict_mechanism, verdict_reason, record)
VALUES ($1, $2::text::timestamptz, $3::text::timestamptz, $4, $5, $6, $7, $8, $9, $10, $11, $12,
    $13, $14::text::jsonb)
ON CONFLICT (domain, run_at) DO UPDATE SET
    checked_at = excluded.checked_at, input = excluded.input, error = excluded.error,
    mta_sts = excluded.mta_sts, tls_rpt = excluded.tls_rpt, dane = excluded.dane,
    errors = excluded.errors, warnings = excluded.warnings,
    verdict_outcome = excluded.verdict_outcome, verdict_mechanism = excluded.verdict_mechanism,
    verdict_reason = excluded.verdict_reason, record = excluded.record
";

/// The newest row of each domain.
const LATEST: &str =
    "SELECT DISTINCT ON (domain) record::text FROM check_results ORDER BY domain, run_at DESC";

/// A domain's newest row from a run before a time.
const LATEST_BEFORE: &str = "SELECT record::text FROM check_results WHERE domain = $1 \
     AND run_at < $2::text::timestamptz ORDER BY run_at DESC LIMIT 1";
