//! The conformance suite every backend passes.

use std::sync::Arc;

use async_trait::async_trait;
use mailsec_sender::cache::PolicyCache;

use crate::{entry, other};

/// Writes a stored value as it is, past the cache's checks (the backend's own client).
#[async_trait]
pub(crate) trait Raw: Send + Sync {
    /// Stores `value` as the entry of `domain`, with `checked_at` beside it.
    async fn store(&self, domain: &str, checked_at: u64, value: &[u8]);
}

/// A backend under test.
pub(crate) struct Subject {
    /// The cache.
    pub(crate) cache: Arc<dyn PolicyCache>,
    /// Another handle on the same store (another MTA), or the same one again.
    pub(crate) twin: Arc<dyn PolicyCache>,
    /// Its raw client, when values can be stored that are not entries.
    pub(crate) raw: Option<Box<dyn Raw>>,
}

impl Subject {
    /// One handle, no raw client.
    pub(crate) fn alone(cache: Arc<dyn PolicyCache>) -> Self {
        Self {
            twin: cache.clone(),
            cache,
            raw: None,
        }
    }
}

/// Round trip, newer wins, ties, remove, list, purge, unreadable values, concurrent writers.
pub(crate) async fn conformance(s: &Subject) {
    let (c, twin) = (&s.cache, &s.twin);
    let what = c.describe();

    // Empty.
    c.purge().await.unwrap();
    c.ping().await.unwrap();
    assert_eq!(c.get("example.com").await.unwrap(), None, "{what}");
    assert_eq!(c.len().await.unwrap(), 0, "{what}");
    assert!(c.is_empty().await.unwrap(), "{what}");
    assert!(c.list().await.unwrap().is_empty(), "{what}");

    // Round trip: read back field for field, by this handle and the other.
    c.put("example.com", &entry(100)).await.unwrap();
    assert_eq!(
        c.get("example.com").await.unwrap(),
        Some(entry(100)),
        "{what}"
    );
    assert_eq!(
        twin.get("example.com").await.unwrap(),
        Some(entry(100)),
        "{what}"
    );
    assert_eq!(c.get("example.net").await.unwrap(), None, "{what}");

    // Newer wins, whichever handle writes.
    c.put("example.com", &entry(200)).await.unwrap();
    c.put("example.com", &entry(150)).await.unwrap();
    twin.put("example.com", &other(120)).await.unwrap();
    assert_eq!(
        c.get("example.com").await.unwrap(),
        Some(entry(200)),
        "{what}"
    );
    // A tie overwrites.
    twin.put("example.com", &other(200)).await.unwrap();
    assert_eq!(
        c.get("example.com").await.unwrap(),
        Some(other(200)),
        "{what}"
    );

    // Remove.
    assert!(c.remove("example.com").await.unwrap(), "{what}");
    assert_eq!(c.get("example.com").await.unwrap(), None, "{what}");
    assert_eq!(twin.get("example.com").await.unwrap(), None, "{what}");
    assert!(!c.remove("example.com").await.unwrap(), "{what}");
    // Removed means forgotten: an older entry may be stored again.
    c.put("example.com", &entry(5)).await.unwrap();
    assert_eq!(
        c.get("example.com").await.unwrap(),
        Some(entry(5)),
        "{what}"
    );

    // List, sorted by domain; len.
    c.put("example.org", &entry(1)).await.unwrap();
    twin.put("xn--bcher-kva.example", &entry(3)).await.unwrap();
    c.put("a.example", &other(4)).await.unwrap();
    let expected = vec![
        ("a.example".to_owned(), other(4)),
        ("example.com".to_owned(), entry(5)),
        ("example.org".to_owned(), entry(1)),
        ("xn--bcher-kva.example".to_owned(), entry(3)),
    ];
    assert_eq!(c.list().await.unwrap(), expected, "{what}");
    assert_eq!(c.len().await.unwrap(), 4, "{what}");
    assert!(!c.is_empty().await.unwrap(), "{what}");

    // Purge.
    assert_eq!(c.purge().await.unwrap(), 4, "{what}");
    assert!(c.list().await.unwrap().is_empty(), "{what}");
    assert_eq!(c.len().await.unwrap(), 0, "{what}");
    assert_eq!(twin.get("a.example").await.unwrap(), None, "{what}");

    if let Some(raw) = &s.raw {
        unreadable(c.as_ref(), raw.as_ref()).await;
    }
    concurrent_writers(c, twin).await;
}

/// Stored values that are not entries: skipped (absent), and replaced by the next write
/// whatever their `checked_at`.
async fn unreadable(c: &dyn PolicyCache, raw: &dyn Raw) {
    let what = c.describe();
    c.purge().await.unwrap();
    let tampered = serde_json::to_string(&entry(500))
        .unwrap()
        .replace("mode: enforce", "mode: sometimes");
    assert!(tampered.contains("mode: sometimes"));
    let bad: [(&str, &[u8]); 4] = [
        ("junk.example", b"{x"),
        ("tampered.example", tampered.as_bytes()),
        ("binary.example", &[0xff, 0xfe, 0x00, 0x01]),
        ("empty.example", b""),
    ];
    for (d, v) in bad {
        raw.store(d, 500, v).await;
    }
    c.put("good.example", &entry(7)).await.unwrap();
    for (d, _) in bad {
        assert_eq!(c.get(d).await.unwrap(), None, "{what}: {d}");
    }
    assert_eq!(
        c.list().await.unwrap(),
        vec![("good.example".to_owned(), entry(7))],
        "{what}"
    );
    // len counts what is stored, readable or not.
    assert_eq!(c.len().await.unwrap(), 5, "{what}");
    // Absent means absent for writes too: an older entry replaces an unreadable one.
    for (i, (d, _)) in bad.iter().enumerate() {
        c.put(d, &entry(10 + i as u64)).await.unwrap();
        assert_eq!(
            c.get(d).await.unwrap(),
            Some(entry(10 + i as u64)),
            "{what}: {d}"
        );
    }
    assert_eq!(c.list().await.unwrap().len(), 5, "{what}");
    assert_eq!(c.purge().await.unwrap(), 5, "{what}");
}

/// Fifty writers of one domain at once, in a scrambled order, through both handles: the newest
/// entry is what stays.
async fn concurrent_writers(c: &Arc<dyn PolicyCache>, twin: &Arc<dyn PolicyCache>) {
    let what = c.describe();
    c.purge().await.unwrap();
    let tasks: Vec<_> = (0..50u64)
        .map(|i| {
            let c = if i % 2 == 0 { c.clone() } else { twin.clone() };
            // 37 is prime to 50: every time in 1000..1050 once, out of order.
            let at = 1_000 + (i * 37) % 50;
            tokio::spawn(async move {
                c.put("busy.example", &entry(at)).await?;
                c.get("busy.example").await
            })
        })
        .collect();
    for t in tasks {
        // Every read sees some complete entry of one of the writers.
        let seen = t.await.unwrap().unwrap().expect("an entry");
        assert!((1_000..1_050).contains(&seen.checked_at), "{what}");
        assert_eq!(seen, entry(seen.checked_at), "{what}");
    }
    assert_eq!(
        c.get("busy.example").await.unwrap(),
        Some(entry(1_049)),
        "{what}"
    );
    assert_eq!(
        twin.get("busy.example").await.unwrap(),
        Some(entry(1_049)),
        "{what}"
    );
    assert_eq!(c.len().await.unwrap(), 1, "{what}");
}
