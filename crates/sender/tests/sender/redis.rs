//! Redis, on a server of the test's own (`mailsec_lab::servers::TempRedis`).

use std::sync::Arc;

use async_trait::async_trait;
use mailsec_core::mta_sts::record::PolicyId;
use mailsec_core::mta_sts::sender::{self, Fetch, Rule, Rules};
use mailsec_lab::servers::TempRedis;
use mailsec_sender::cache::{self, CacheError, PolicyCache, Redis, RedisOptions};

use crate::suite::{Raw, Subject, conformance};
use crate::{entry, now};

/// A plain connection of its own.
async fn client(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn open(url: &str) -> Arc<dyn PolicyCache> {
    cache::open(url, std::path::Path::new("/nonexistent"))
        .await
        .unwrap()
}

/// Writes the hash as the cache would, with any bytes as the entry.
struct RedisRaw(String);

#[async_trait]
impl Raw for RedisRaw {
    async fn store(&self, domain: &str, checked_at: u64, value: &[u8]) {
        let mut c = client(&self.0).await;
        let () = redis::cmd("HSET")
            .arg(format!("mailsec:sts:{domain}"))
            .arg("at")
            .arg(checked_at)
            .arg("entry")
            .arg(value)
            .query_async(&mut c)
            .await
            .unwrap();
    }
}

async fn ttl(url: &str, key: &str) -> i64 {
    redis::cmd("TTL")
        .arg(key)
        .query_async(&mut client(url).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_passes_the_suite_with_two_connections() {
    let server = TempRedis::start().unwrap();
    conformance(&Subject {
        cache: open(&server.url()).await,
        twin: open(&server.url()).await,
        raw: Some(Box::new(RedisRaw(server.url()))),
    })
    .await;
}

#[tokio::test]
async fn keys_expire_a_few_days_after_their_policy() {
    let server = TempRedis::start().unwrap();
    let url = server.url();
    let c = open(&url).await;
    const GRACE: i64 = 3 * 86_400;
    // A policy fetched now with max_age one week: the key lives a week and three days.
    let t = now();
    let fresh = sender::after_fetch(
        None,
        PolicyId::new("w1").unwrap(),
        Rule::Fetched,
        Fetch::Body(
            b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n".to_vec(),
        ),
        t,
        &Rules::default(),
        0.0,
    )
    .entry;
    c.put("weekly.example", &fresh).await.unwrap();
    let left = ttl(&url, "mailsec:sts:weekly.example").await;
    let expected = 604_800 + GRACE;
    // Up to a minute of slack for a slow machine between `now()` here and there.
    assert!(left <= expected && left > expected - 60, "{left}");
    // An entry whose policy expired long ago (fixtures live in 1970): the grace from now.
    c.put("old.example", &entry(1)).await.unwrap();
    let left = ttl(&url, "mailsec:sts:old.example").await;
    assert!(left <= GRACE && left > GRACE - 60, "{left}");
    // A refused (older) write leaves the key's life alone.
    c.put("weekly.example", &entry(1)).await.unwrap();
    let left = ttl(&url, "mailsec:sts:weekly.example").await;
    assert!(left > GRACE + 86_400, "{left}");
}

#[tokio::test]
async fn prefixes_keep_caches_apart_on_one_server() {
    let server = TempRedis::start().unwrap();
    let url = server.url();
    let a = open(&format!("{url}?prefix=mta-a:")).await;
    let mut options = RedisOptions::default();
    options.prefix = "mta-b:".to_owned();
    let b = Redis::connect(&url, options).await.unwrap();
    assert_eq!(b.key("example.com"), "mta-b:example.com");
    let default = open(&url).await;
    a.put("example.com", &entry(1)).await.unwrap();
    b.put("example.com", &entry(2)).await.unwrap();
    default.put("example.com", &entry(3)).await.unwrap();
    assert_eq!(a.get("example.com").await.unwrap(), Some(entry(1)));
    assert_eq!(b.get("example.com").await.unwrap(), Some(entry(2)));
    assert_eq!(default.get("example.com").await.unwrap(), Some(entry(3)));
    // The key is where the prefix says.
    let json: Vec<u8> = redis::cmd("HGET")
        .arg("mta-a:example.com")
        .arg("entry")
        .query_async(&mut client(&url).await)
        .await
        .unwrap();
    assert_eq!(json, serde_json::to_vec(&entry(1)).unwrap());
    assert_eq!(a.purge().await.unwrap(), 1);
    assert_eq!(b.len().await.unwrap(), 1);
    assert_eq!(default.len().await.unwrap(), 1);
    // A prefix with glob characters matches itself only.
    let star = open(&format!("{url}?prefix=m*:")).await;
    assert_eq!(star.len().await.unwrap(), 0);
    star.put("example.com", &entry(4)).await.unwrap();
    assert_eq!(star.len().await.unwrap(), 1);
    assert_eq!(b.len().await.unwrap(), 1);
}

#[tokio::test]
async fn a_key_of_another_type_is_absent_and_replaced() {
    let server = TempRedis::start().unwrap();
    let url = server.url();
    let c = open(&url).await;
    let mut raw = client(&url).await;
    let () = redis::cmd("SET")
        .arg("mailsec:sts:string.example")
        .arg("not a hash")
        .query_async(&mut raw)
        .await
        .unwrap();
    let () = redis::cmd("HSET")
        .arg("mailsec:sts:no-at.example")
        .arg("entry")
        .arg(serde_json::to_string(&entry(9)).unwrap())
        .arg("at")
        .arg("yesterday")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(c.get("string.example").await.unwrap(), None);
    assert_eq!(c.len().await.unwrap(), 2);
    assert_eq!(
        c.list().await.unwrap(),
        vec![("no-at.example".to_owned(), entry(9))]
    );
    c.put("string.example", &entry(1)).await.unwrap();
    assert_eq!(c.get("string.example").await.unwrap(), Some(entry(1)));
    // An `at` that is no number protects nothing.
    c.put("no-at.example", &entry(2)).await.unwrap();
    assert_eq!(c.get("no-at.example").await.unwrap(), Some(entry(2)));
}

#[tokio::test]
async fn a_server_down_at_start_is_an_error_per_call_until_it_is_up() {
    let mut server = TempRedis::start().unwrap();
    let url = server.url();
    server.stop();
    let c = open(&url).await;
    let e = c.get("example.com").await.unwrap_err();
    assert!(matches!(e, CacheError::Redis { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("Redis cache {url}: get example.com: ")),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    assert!(c.ping().await.is_err());
    server.restart().unwrap();
    // The connection manager reconnects by itself; a call may still see the old failure.
    let mut tries = 0;
    while c.ping().await.is_err() {
        tries += 1;
        assert!(tries < 100, "Redis never answered again");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.put("example.com", &entry(1)).await.unwrap();
    assert_eq!(c.get("example.com").await.unwrap(), Some(entry(1)));
}
