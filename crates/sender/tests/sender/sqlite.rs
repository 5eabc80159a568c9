//! SQLite: the suite, restarts, a damaged file moved aside, and any bytes stored as an entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use mailsec_sender::cache::{self, CacheError, PolicyCache, SQLITE_TABLE, Sqlite};
use proptest::prelude::*;
use rusqlite::params;
use rusqlite::types::Value;

use crate::suite::{Raw, Subject, conformance};
use crate::{Logs, entry};

/// Writes rows with a connection of its own (text when the bytes are UTF-8, else a blob).
struct SqliteRaw(PathBuf);

impl SqliteRaw {
    fn store_now(&self, domain: &str, checked_at: u64, value: &[u8]) {
        let c = rusqlite::Connection::open(&self.0).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        let v = match std::str::from_utf8(value) {
            Ok(s) => Value::Text(s.to_owned()),
            Err(_) => Value::Blob(value.to_vec()),
        };
        c.execute(
            &format!("INSERT OR REPLACE INTO {SQLITE_TABLE} (domain, checked_at, entry) VALUES (?1, ?2, ?3)"),
            params![domain, i64::try_from(checked_at).unwrap(), v],
        )
        .unwrap();
    }
}

#[async_trait]
impl Raw for SqliteRaw {
    async fn store(&self, domain: &str, checked_at: u64, value: &[u8]) {
        self.store_now(domain, checked_at, value);
    }
}

#[tokio::test]
async fn sqlite_passes_the_suite_with_two_handles_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    // The directory is made when missing.
    let path = dir.path().join("state/cache.db");
    let a: Arc<dyn PolicyCache> = Arc::new(Sqlite::open(&path).await.unwrap());
    let b: Arc<dyn PolicyCache> = Arc::new(Sqlite::open(&path).await.unwrap());
    conformance(&Subject {
        cache: a,
        twin: b,
        raw: Some(Box::new(SqliteRaw(path.clone()))),
    })
    .await;
    // WAL, as promised.
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn entries_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let c = cache::open("sqlite:cache.db", dir.path()).await.unwrap();
    c.put("example.com", &entry(300)).await.unwrap();
    c.put("example.net", &entry(301)).await.unwrap();
    drop(c);
    let c = cache::open("sqlite:cache.db", dir.path()).await.unwrap();
    assert_eq!(
        c.list().await.unwrap(),
        vec![
            ("example.com".to_owned(), entry(300)),
            ("example.net".to_owned(), entry(301))
        ]
    );
}

/// The files in `dir` whose name starts with `cache.db.corrupt-`.
fn moved_aside(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cache.db.corrupt-"))
        })
        .collect()
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_moved_aside_and_rebuilt() {
    let logs = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let junk = b"this is not a database\n".repeat(400);
    std::fs::write(&path, &junk).unwrap();
    let c = Sqlite::open(&path).await.unwrap();
    c.put("example.com", &entry(1)).await.unwrap();
    assert_eq!(c.get("example.com").await.unwrap(), Some(entry(1)));
    let aside = moved_aside(dir.path());
    assert_eq!(aside.len(), 1, "{aside:?}");
    // Kept as it was, for a post-mortem; the suffix is a Unix time.
    assert_eq!(std::fs::read(&aside[0]).unwrap(), junk);
    let suffix = aside[0].to_str().unwrap().rsplit('-').next().unwrap();
    let t: u64 = suffix.parse().unwrap();
    assert!(t.abs_diff(crate::now()) < 3_600, "{t}");
    let dir_text = dir.path().display().to_string();
    assert_eq!(
        logs.count(&["moved aside", &dir_text]),
        1,
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_database_with_damaged_pages_is_moved_aside_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    {
        let c = Sqlite::open(&path).await.unwrap();
        for i in 0..300 {
            c.put(&format!("d{i}.example"), &entry(i)).await.unwrap();
        }
    }
    // Closed: the WAL is checkpointed into the file. Overwrite its pages after the first.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8 * 4096, "{}", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let c = Sqlite::open(&path).await.unwrap();
    assert_eq!(moved_aside(dir.path()).len(), 1);
    assert_eq!(c.len().await.unwrap(), 0);
    c.put("example.com", &entry(1)).await.unwrap();
    assert_eq!(c.get("example.com").await.unwrap(), Some(entry(1)));
}

#[tokio::test]
async fn another_programs_table_of_that_name_is_refused_not_moved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE sts_policies (name TEXT, value BLOB)")
        .unwrap();
    let e = Sqlite::open(&path).await.unwrap_err();
    assert!(
        matches!(&e, CacheError::Sqlite { what, .. } if what == "open"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("SQLite cache {}: open: ", path.display())),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    assert!(moved_aside(dir.path()).is_empty());
}

#[tokio::test]
async fn a_directory_that_cannot_be_made_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let e = Sqlite::open(file.join("cache.db"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("SQLite cache "), "{e}");
    assert!(e.contains("create its directory"), "{e}");
}

#[test]
fn any_bytes_stored_as_an_entry_read_back_as_absent_or_as_what_they_encode() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let c = rt.block_on(Sqlite::open(&path)).unwrap();
    let raw = SqliteRaw(path);
    let good = serde_json::to_vec(&entry(42)).unwrap();
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        // Near misses of a real entry: one byte changed, or cut short.
        (0..good.len(), any::<u8>()).prop_map({
            let good = good.clone();
            move |(i, b)| {
                let mut v = good.clone();
                v[i] = b;
                v
            }
        }),
        (0..good.len()).prop_map(move |n| good[..n].to_vec()),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
    runner
        .run(&bytes, |v| {
            raw.store_now("fuzz.example", 1, &v);
            let got = rt.block_on(c.get("fuzz.example"));
            // Never an error, never a panic: the entry the bytes encode, if any, else absent.
            let expected = serde_json::from_slice(&v).ok();
            prop_assert!(got.is_ok(), "{got:?}");
            prop_assert_eq!(got.ok().flatten(), expected);
            let listed = rt.block_on(c.list());
            prop_assert!(listed.is_ok());
            Ok(())
        })
        .unwrap();
}
