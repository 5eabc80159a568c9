//! The memory backend, and `open`'s URLs.

use std::sync::Arc;

use mailsec_sender::cache::{self, CacheError, Memory};

use crate::suite::{Subject, conformance};

#[tokio::test]
async fn memory_passes_the_suite() {
    conformance(&Subject::alone(Arc::new(Memory::default()))).await;
}

#[tokio::test]
async fn open_knows_each_scheme_and_names_the_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        cache::open("memory:", d).await.unwrap().describe(),
        "memory:"
    );
    assert_eq!(
        cache::open("sqlite:sub/x.db", d).await.unwrap().describe(),
        format!("sqlite:{}", d.join("sub/x.db").display())
    );
    let abs = d.join("abs.db");
    assert_eq!(
        cache::open(
            &format!("sqlite:{}", abs.display()),
            std::path::Path::new("/nonexistent")
        )
        .await
        .unwrap()
        .describe(),
        format!("sqlite:{}", abs.display())
    );
    // Shared backends do not connect here: nothing listens on port 1.
    assert_eq!(
        cache::open("redis://:secret@127.0.0.1:1/0", d)
            .await
            .unwrap()
            .describe(),
        "redis://:***@127.0.0.1:1/0"
    );
    assert_eq!(
        cache::open("rediss://127.0.0.1:1/0?prefix=mta1:", d)
            .await
            .unwrap()
            .describe(),
        "rediss://127.0.0.1:1/0 (prefix mta1:)"
    );
    assert_eq!(
        cache::open("postgres://u:secret@127.0.0.1:1/db", d)
            .await
            .unwrap()
            .describe(),
        "postgres://u:***@127.0.0.1:1/db"
    );
    assert_eq!(
        cache::open("postgresql://127.0.0.1:1/db", d)
            .await
            .unwrap()
            .describe(),
        "postgresql://127.0.0.1:1/db"
    );

    let e = cache::open("mysql://u:secret@h/db", d).await.err().unwrap();
    assert!(
        matches!(&e, CacheError::UnknownScheme { scheme, .. } if scheme == "mysql"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("cache `mysql://u:***@h/db`: unknown scheme `mysql`"),
        "{msg}"
    );
    assert!(!msg.contains("secret") && !msg.contains('\n'), "{msg}");
    let e = cache::open("/var/lib/mailsec/cache.db", d)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&e, CacheError::UnknownScheme { scheme, .. } if scheme.is_empty()),
        "{e:?}"
    );
    let e = cache::open("sqlite:", d).await.err().unwrap();
    assert!(matches!(e, CacheError::InvalidUrl { .. }), "{e:?}");
    let e = cache::open("redis://127.0.0.1:notaport/0", d)
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .starts_with("Redis cache redis://127.0.0.1:notaport/0: open: "),
        "{e}"
    );
}
