//! The cache backends against real servers (Redis and PostgreSQL started by the tests, from
//! Debian's packages): the conformance suite each backend passes, two daemons' caches sharing one
//! server, and a Redis that goes away and comes back under the memory layer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mailsec_core::mta_sts::record::PolicyId;
use mailsec_core::mta_sts::sender::{self, Entry, Fetch, Rule, Rules};
use mailsec_daemon::cache::{self, Layered, PolicyCache, conformance};
use mailsec_daemon::store::EntryStore;
use mailsec_lab::servers::{TempPostgres, TempRedis};

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

async fn open(url: &str) -> Arc<dyn PolicyCache> {
    cache::open(url, std::path::Path::new("/nonexistent"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Many writers of one domain at once: the newest entry is what stays.
async fn concurrent_writers(c: Arc<dyn PolicyCache>) {
    let tasks: Vec<_> = (1..=50u64)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.put("busy.example", &entry(1_000 + (i * 37) % 50)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        c.get("busy.example").await.unwrap().unwrap().checked_at,
        1_049
    );
}

#[tokio::test]
async fn redis_passes_the_suite_and_shares_entries() {
    let redis = TempRedis::start().unwrap();
    let a = open(&redis.url()).await;
    conformance(a.as_ref(), entry).await;
    concurrent_writers(a.clone()).await;
    // A second MTA's cache on the same server sees what the first wrote.
    let b = open(&redis.url()).await;
    a.put("shared.example", &entry(5)).await.unwrap();
    assert_eq!(b.get("shared.example").await.unwrap(), Some(entry(5)));
    // Each key expires (a week past the longest max_age), unlike postfix-mta-sts-resolver's.
    let ttl = std::process::Command::new("redis-cli")
        .args(["-u", &redis.url(), "TTL", "mailsec:sts:shared.example"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Ok(ttl) = ttl
        && !ttl.is_empty()
    {
        let secs: i64 = ttl.parse().unwrap();
        assert!(
            secs > 31_557_600 && secs <= 31_557_600 + 7 * 86_400,
            "{secs}"
        );
    }
    // A value that is not an entry is skipped, not fatal.
    let ok = std::process::Command::new("redis-cli")
        .args([
            "-u",
            &redis.url(),
            "HSET",
            "mailsec:sts:junk.example",
            "at",
            "1",
            "entry",
            "{x",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(a.get("junk.example").await.unwrap(), None);
}

#[tokio::test]
async fn postgres_passes_the_suite_and_shares_entries() {
    let pg = tokio::task::spawn_blocking(TempPostgres::start)
        .await
        .unwrap()
        .unwrap();
    let a = open(&pg.url()).await;
    conformance(a.as_ref(), entry).await;
    concurrent_writers(a.clone()).await;
    let b = open(&pg.url()).await;
    a.put("shared.example", &entry(5)).await.unwrap();
    assert_eq!(b.get("shared.example").await.unwrap(), Some(entry(5)));
    // A row that is not an entry is skipped.
    let url = pg.url();
    let pg = tokio::task::spawn_blocking(move || {
        pg.psql("INSERT INTO mailsec_sts_policies VALUES ('junk.example', 1, '{x')")
            .unwrap();
        pg
    })
    .await
    .unwrap();
    assert_eq!(a.get("junk.example").await.unwrap(), None);
    assert!(!url.is_empty());
    drop(pg);
    // The server is gone: a one-line error naming the backend, not a hang.
    let e = a.get("example.com").await.unwrap_err().to_string();
    assert!(
        e.starts_with("PostgreSQL cache postgres://mailsec@127.0.0.1:"),
        "{e}"
    );
}

#[tokio::test]
async fn the_memory_layer_keeps_answering_while_redis_is_away_and_catches_up() {
    let mut redis = TempRedis::start().unwrap();
    let l = Layered::new(open(&redis.url()).await);
    l.put("a.example", &entry(10)).await;
    redis.stop();
    // Nothing cached is lost; what is learnt meanwhile stays in memory.
    assert_eq!(l.get("a.example").await, Some(entry(10)));
    l.put("b.example", &entry(20)).await;
    assert_eq!(l.get("b.example").await, Some(entry(20)));
    assert!(!l.backend_ok());
    // Back (empty: no persistence): the entries written meanwhile are written again.
    redis.restart().unwrap();
    let mut tries = 0;
    while !l.backend_ok() && tries < 50 {
        l.reconcile().await;
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(l.backend_ok());
    let fresh = open(&redis.url()).await;
    assert_eq!(fresh.get("b.example").await.unwrap(), Some(entry(20)));
}
