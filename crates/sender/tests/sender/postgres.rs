//! PostgreSQL, on a server of the test's own (`mailsec_lab::servers::TempPostgres`).

use std::sync::Arc;

use async_trait::async_trait;
use mailsec_lab::servers::TempPostgres;
use mailsec_sender::cache::{self, CacheError, POSTGRES_TABLE, PolicyCache};

use crate::entry;
use crate::suite::{Raw, Subject, conformance};

async fn start() -> TempPostgres {
    tokio::task::spawn_blocking(TempPostgres::start)
        .await
        .unwrap()
        .unwrap()
}

async fn open(url: &str) -> Arc<dyn PolicyCache> {
    cache::open(url, std::path::Path::new("/nonexistent"))
        .await
        .unwrap()
}

/// A plain connection of its own.
async fn client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Writes rows as they are (a TEXT column: bytes that are not UTF-8 go in lossily).
struct PostgresRaw(String);

#[async_trait]
impl Raw for PostgresRaw {
    async fn store(&self, domain: &str, checked_at: u64, value: &[u8]) {
        // TEXT holds no NUL either.
        let value = String::from_utf8_lossy(value).replace('\0', "");
        let at = i64::try_from(checked_at).unwrap();
        client(&self.0)
            .await
            .execute(
                &format!(
                    "INSERT INTO {POSTGRES_TABLE} (domain, checked_at, entry) VALUES ($1, $2, $3)
                     ON CONFLICT (domain) DO UPDATE SET checked_at = $2, entry = $3"
                ),
                &[&domain, &at, &value],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn postgres_passes_the_suite_with_two_connections() {
    let server = start().await;
    let url = server.url();
    // Both create the table at once (it does not exist yet).
    let (a, b) = (open(&url).await, open(&url).await);
    let (pa, pb) = tokio::join!(a.ping(), b.ping());
    pa.unwrap();
    pb.unwrap();
    let exists: Option<String> = client(&url)
        .await
        .query_one(
            &format!("SELECT to_regclass('{POSTGRES_TABLE}')::text"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(exists.as_deref(), Some(POSTGRES_TABLE));
    conformance(&Subject {
        cache: a,
        twin: b,
        raw: Some(Box::new(PostgresRaw(url))),
    })
    .await;
}

#[tokio::test]
async fn a_server_that_goes_away_is_a_one_line_error_and_no_hang() {
    let server = start().await;
    let url = server.url();
    let c = open(&url).await;
    c.put("example.com", &entry(1)).await.unwrap();
    drop(tokio::task::spawn_blocking(move || drop(server)).await);
    let e = c.get("example.com").await.unwrap_err();
    assert!(matches!(e, CacheError::Postgres { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("PostgreSQL cache {url}: get example.com: ")),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    // Still down: the next call tries to connect again and says so.
    let msg = c
        .put("example.com", &entry(2))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("PostgreSQL cache {url}: put example.com: ")),
        "{msg}"
    );
}
