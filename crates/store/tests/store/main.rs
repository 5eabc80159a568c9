//! The SQLite backend through the public API: schema on first use, idempotent upserts, the
//! newest row per domain, refusal of a newer schema, and writers running at the same time.
//! (The PostgreSQL backend is tested by the `mailsec` binary's tests against a real server.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mailsec_store::{Location, Row, Store, StoreError};
use time::OffsetDateTime;

fn row(domain: &str, run: i64, record: &str) -> Row {
    let run_at = OffsetDateTime::from_unix_timestamp(1_796_000_000 + run).unwrap();
    Row {
        domain: domain.to_owned(),
        run_at,
        checked_at: run_at,
        input: domain.to_owned(),
        error: None,
        mta_sts: Some("enforce".to_owned()),
        tls_rpt: Some("yes".to_owned()),
        dane: Some("not deployed".to_owned()),
        errors: Some(0),
        warnings: Some(1),
        verdict_outcome: None,
        verdict_mechanism: None,
        verdict_reason: None,
        record: record.to_owned(),
    }
}

async fn latest(store: &mut Store) -> Vec<String> {
    let mut out = Vec::new();
    let n = store
        .for_each_latest(|r| out.push(r.to_owned()))
        .await
        .unwrap();
    assert_eq!(n as usize, out.len());
    out
}

fn location(dir: &tempfile::TempDir) -> Location {
    Location::parse(&format!("sqlite:{}", dir.path().join("r.db").display())).unwrap()
}

#[tokio::test]
async fn upserts_are_idempotent_and_the_newest_row_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&location(&dir)).await.unwrap();
    store
        .put(vec![row("b.test", 0, "b0"), row("a.test", 0, "a0")])
        .await
        .unwrap();
    // The same (domain, run) again replaces the row; a later run adds one.
    store.put(vec![row("a.test", 0, "a0 again")]).await.unwrap();
    store.put(vec![row("a.test", 5, "a5")]).await.unwrap();
    store.put(vec![row("b.test", -5, "b-5")]).await.unwrap();
    assert_eq!(latest(&mut store).await, ["a5", "b0"]);
    drop(store);

    // Reopening finds the schema and the rows; nothing is created twice.
    let mut store = Store::open(&location(&dir)).await.unwrap();
    assert_eq!(latest(&mut store).await, ["a5", "b0"]);
    assert_eq!(rusqlite_count(&dir), 4, "a.test twice, b.test twice");
}

#[tokio::test]
async fn the_latest_row_before_a_run_is_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&location(&dir)).await.unwrap();
    store
        .put(vec![
            row("a.test", 0, "a0"),
            row("a.test", 10, "a10"),
            row("a.test", 20, "a20"),
            row("b.test", 5, "b5"),
        ])
        .await
        .unwrap();
    let at = |run: i64| OffsetDateTime::from_unix_timestamp(1_796_000_000 + run).unwrap();
    // Strictly before: a run does not read its own row.
    assert_eq!(
        store
            .latest_before("a.test", at(20))
            .await
            .unwrap()
            .as_deref(),
        Some("a10")
    );
    assert_eq!(
        store
            .latest_before("a.test", at(21))
            .await
            .unwrap()
            .as_deref(),
        Some("a20")
    );
    assert_eq!(store.latest_before("a.test", at(0)).await.unwrap(), None);
    assert_eq!(store.latest_before("c.test", at(99)).await.unwrap(), None);
    assert_eq!(
        store
            .latest_before("b.test", at(99))
            .await
            .unwrap()
            .as_deref(),
        Some("b5")
    );
}

/// Rows in the table, counted beside the store.
fn rusqlite_count(dir: &tempfile::TempDir) -> i64 {
    let conn = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    conn.query_row("SELECT count(*) FROM check_results", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let loc = location(&dir);
    drop(Store::open(&loc).await.unwrap());
    let mut store = Store::open(&loc).await.unwrap();
    store.put(vec![row("a.test", 0, "a0")]).await.unwrap();
    drop(store);
    bump_version(&dir);
    match Store::open(&loc).await {
        Err(e @ StoreError::SchemaTooNew { found: 2 }) => {
            assert!(e.to_string().contains("version 2"), "{e}")
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

/// Sets `schema_version` to 2 in the store's file, as a newer mailsec would.
fn bump_version(dir: &tempfile::TempDir) {
    let conn = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    conn.execute(
        "UPDATE mailsec_meta SET value = '2' WHERE name = 'schema_version'",
        [],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_at_the_same_time_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let loc = location(&dir);
    let mut tasks = Vec::new();
    for w in 0..4 {
        let loc = loc.clone();
        tasks.push(tokio::spawn(async move {
            // Each writer opens the store itself, as separate runs do (the first creates it).
            let mut store = Store::open(&loc).await.unwrap();
            for batch in 0..20 {
                let rows = (0..25)
                    .map(|i| {
                        let n = batch * 25 + i;
                        row(&format!("d{n}.w{w}.test"), 0, &format!("{w}/{n}"))
                    })
                    .collect();
                store.put(rows).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut store = Store::open(&loc).await.unwrap();
    let records = latest(&mut store).await;
    assert_eq!(records.len(), 4 * 500);
    let mut sorted = records.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), records.len(), "every row once");
}

#[tokio::test]
async fn unsupported_locations_are_errors() {
    for bad in ["mysql://h/db", "sqlite:", "results.db"] {
        assert!(
            matches!(Location::parse(bad), Err(StoreError::Location(_))),
            "{bad}"
        );
    }
}
