//! The sender's policy cache: one [`Entry`] per policy domain, kept between lookups (RFC 8461
//! §5.1: a policy applies until `max_age` after its fetch, so it must outlive the lookup that
//! fetched it, and, with a persistent backend, a restart).
//!
//! ```text
//!   PolicyCache (trait)          the key: the policy domain in normal form (lower-case
//!   ├── Memory                   A-labels, no trailing dot), as the caller gives it
//!   ├── Sqlite      sqlite:PATH  (the default; one file, WAL)
//!   ├── Redis       redis://…, rediss://…      } shared by several MTAs
//!   ├── Postgres    postgres://…, postgresql://… }
//!   └── Layered     Memory in front of any of them; answers from memory while it is away
//! ```
//!
//! Rules every backend keeps (one test suite runs them all against each):
//!
//! - **newer wins**: [`PolicyCache::put`] never replaces a stored entry whose
//!   [`Entry::checked_at`] is later than the new one's; a tie overwrites. Several MTAs share one
//!   backend and each writes what it learnt, so none can roll another back to an older policy
//!   (which would also be a downgrade path, RFC 8461 §10.2). Shared backends decide this in the
//!   server, in one step (an SQL upsert, a Redis script);
//! - **unreadable means absent**: entries are stored as `Entry`'s JSON, and reading one back
//!   parses the policy body again. A stored value that does not deserialise (damaged, tampered
//!   with, or written by another version) is skipped with a warning and treated as absent by
//!   `get` and `list`, and a `put` replaces it whatever its `checked_at`. It is never applied and
//!   never a panic;
//! - errors are one line naming the backend, where, and what failed ([`CacheError`]); a URL's
//!   password never appears in them or in [`PolicyCache::describe`] ([`redact`]).

mod layered;
mod memory;
mod postgres;
mod redis_store;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mailsec_core::mta_sts::sender::Entry;

pub use layered::{DEFAULT_RETRY_INTERVAL, Layered};
pub use memory::Memory;
pub use postgres::{Postgres, TABLE as POSTGRES_TABLE};
pub use redis_store::{DEFAULT_PREFIX as DEFAULT_REDIS_PREFIX, Redis, RedisOptions};
pub use sqlite::{Sqlite, TABLE as SQLITE_TABLE};

/// How long one call to a shared backend (Redis, PostgreSQL) may take before it counts as failed,
/// so that [`Layered`] answers from memory instead of keeping a lookup waiting.
pub const SHARED_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a cache operation failed: which backend, where, what it was doing, and why, in one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The SQLite file could not be opened, read or written.
    #[error("SQLite cache {}: {what}: {reason}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The operation (`open`, `get example.com`, ...).
        what: String,
        /// Why, in one line.
        reason: String,
    },
    /// The Redis server failed or did not answer (transient: the server may come back).
    #[error("Redis cache {url}: {what}: {reason}")]
    Redis {
        /// The URL, password redacted.
        url: String,
        /// The operation.
        what: String,
        /// Why, in one line.
        reason: String,
    },
    /// The PostgreSQL server failed or did not answer (transient: the server may come back).
    #[error("PostgreSQL cache {url}: {what}: {reason}")]
    Postgres {
        /// The URL, password redacted.
        url: String,
        /// The operation.
        what: String,
        /// Why, in one line.
        reason: String,
    },
    /// The URL names no backend this crate has.
    #[error(
        "cache `{url}`: unknown scheme `{scheme}`; expected memory:, sqlite:PATH, redis://, \
         rediss://, postgres:// or postgresql://"
    )]
    UnknownScheme {
        /// The URL, password redacted.
        url: String,
        /// Its scheme, as given (empty when it has none).
        scheme: String,
    },
    /// The URL has a known scheme but cannot be used as it is.
    #[error("cache `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// Why.
        reason: String,
    },
}

/// One store of policy entries, keyed by policy domain. Every method is safe to call from many
/// tasks at once; see the [module documentation](self) for the rules every backend keeps.
#[async_trait]
pub trait PolicyCache: Send + Sync + 'static {
    /// The entry of `domain`; `None` when there is none, or when the stored one is unreadable
    /// (skipped with a warning).
    async fn get(&self, domain: &str) -> Result<Option<Entry>, CacheError>;

    /// Stores `entry` for `domain`, unless the stored entry's `checked_at` is later (newer
    /// wins; a tie overwrites; an unreadable stored entry is replaced).
    async fn put(&self, domain: &str, entry: &Entry) -> Result<(), CacheError>;

    /// Removes the entry of `domain`; whether there was one (readable or not).
    async fn remove(&self, domain: &str) -> Result<bool, CacheError>;

    /// Every readable entry, sorted by domain (for `mailsec daemon --dump`); unreadable ones
    /// are skipped with a warning.
    async fn list(&self) -> Result<Vec<(String, Entry)>, CacheError>;

    /// Removes every entry; how many there were (readable or not).
    async fn purge(&self) -> Result<u64, CacheError>;

    /// How many entries are stored (readable or not, so possibly more than [`Self::list`]
    /// returns).
    async fn len(&self) -> Result<u64, CacheError>;

    /// True when no entry is stored.
    async fn is_empty(&self) -> Result<bool, CacheError> {
        Ok(self.len().await? == 0)
    }

    /// Checks that the backend answers (a cheap round trip; [`Layered::reconcile`] uses it).
    async fn ping(&self) -> Result<(), CacheError>;

    /// The backend for logs: its URL or path, never a password.
    fn describe(&self) -> String;
}

/// Opens the cache named by `url`:
///
/// | URL | backend |
/// |---|---|
/// | `memory:` | [`Memory`]: lost on restart |
/// | `sqlite:PATH` | [`Sqlite`]; a relative `PATH` is under `state_dir` |
/// | `redis://…`, `rediss://…` | [`Redis`]; `?prefix=P` sets the key prefix ([`DEFAULT_REDIS_PREFIX`]) |
/// | `postgres://…`, `postgresql://…` | [`Postgres`] (no TLS) |
///
/// Shared backends connect lazily: a server that is down when the daemon starts is an outage
/// like any other ([`Layered`] rides it out) and the first call reports it. A URL that cannot be
/// parsed is refused here. Anything else is [`CacheError::UnknownScheme`].
pub async fn open(url: &str, state_dir: &Path) -> Result<Arc<dyn PolicyCache>, CacheError> {
    if url == "memory:" {
        return Ok(Arc::new(Memory::default()));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err(CacheError::InvalidUrl {
                url: redact(url),
                reason: "no file: expected sqlite:PATH".to_owned(),
            });
        }
        return Ok(Arc::new(Sqlite::open(state_dir.join(path)).await?));
    }
    let scheme = scheme_of(url);
    match scheme.as_str() {
        "redis" | "rediss" => {
            let (url, prefix) = take_query_param(url, "prefix");
            let mut options = RedisOptions::default();
            if let Some(prefix) = prefix {
                options.prefix = prefix;
            }
            Ok(Arc::new(Redis::connect(&url, options).await?))
        }
        "postgres" | "postgresql" => Ok(Arc::new(Postgres::connect(url)?)),
        _ => Err(CacheError::UnknownScheme {
            url: redact(url),
            scheme,
        }),
    }
}

/// The scheme of `url` (lower case), or the empty string when it has none.
fn scheme_of(url: &str) -> String {
    match url.split_once(':') {
        Some((s, _))
            if s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            s.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

/// `url` without the query parameter `name`, and that parameter's value (not percent-decoded).
fn take_query_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((k, v)) if k == name => {
                value = Some(v.to_owned());
                false
            }
            _ => true,
        })
        .filter(|pair| !pair.is_empty())
        .collect();
    let mut out = base.to_owned();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    (out, value)
}

/// `url` with its password replaced by `***`: in the user information
/// (`redis://user:secret@host` → `redis://user:***@host`) and in a `password=` query
/// parameter. Everything between `://` and the last `@` before the query counts as user
/// information, so a password with an unescaped `/` or `@` is hidden too.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match (head.find("://"), head.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let userinfo = &head[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &head[..s + 3], &head[at..]),
                None => head.to_owned(),
            }
        }
        _ => head.to_owned(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// An error and its sources in one line (drivers put the interesting part in the source:
/// tokio-postgres displays a server error as just "db error").
fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A stored value read back: the entry, or `None` (with a warning) when it does not
/// deserialise.
fn decode(backend: &str, domain: &str, stored: &[u8]) -> Option<Entry> {
    match serde_json::from_slice(stored) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::warn!(
                cache = backend,
                domain,
                error = %e,
                "unreadable cache entry skipped (treated as absent)"
            );
            None
        }
    }
}

/// An entry as stored.
fn encode(entry: &Entry) -> String {
    // Entry is plain data (strings, numbers, enums): serialising it cannot fail, but a failure
    // would still be no reason to panic; an empty value reads back as unreadable.
    serde_json::to_string(entry).unwrap_or_default()
}

/// `checked_at` as an SQL integer (Unix seconds fit; a value past `i64::MAX` saturates).
fn sql_time(entry: &Entry) -> i64 {
    i64::try_from(entry.checked_at).unwrap_or(i64::MAX)
}

/// Runs `f` for at most [`SHARED_TIMEOUT`].
async fn bounded<T, E: std::error::Error>(
    f: impl Future<Output = Result<T, E>>,
    err: impl FnOnce(String) -> CacheError,
) -> Result<T, CacheError> {
    match tokio::time::timeout(SHARED_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(err(one_line(&e))),
        Err(_) => Err(err(format!("no answer within {SHARED_TIMEOUT:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(redact("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(
            redact("postgres://mailsec:s3cret@db.example:5432/mta?sslmode=disable"),
            "postgres://mailsec:***@db.example:5432/mta?sslmode=disable"
        );
        assert_eq!(redact("redis://user@h/0"), "redis://user@h/0");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact("postgres://h/db?user=u&password=pw&x=1"),
            "postgres://h/db?user=u&password=***&x=1"
        );
        // Unescaped separators in the password: still hidden.
        assert_eq!(redact("redis://u:p/w@d@h/0"), "redis://u:***@h/0");
        assert_eq!(redact("memory:"), "memory:");
    }

    #[test]
    fn schemes_and_query_parameters() {
        assert_eq!(scheme_of("Redis://h"), "redis");
        assert_eq!(scheme_of("mysql://u@h/db"), "mysql");
        assert_eq!(scheme_of("/var/lib/cache.db"), "");
        assert_eq!(scheme_of("no scheme here"), "");
        assert_eq!(
            take_query_param("redis://h/0?prefix=a:b:&protocol=resp3", "prefix"),
            (
                "redis://h/0?protocol=resp3".to_owned(),
                Some("a:b:".to_owned())
            )
        );
        assert_eq!(
            take_query_param("redis://h/0?prefix=x", "prefix"),
            ("redis://h/0".to_owned(), Some("x".to_owned()))
        );
        assert_eq!(
            take_query_param("redis://h/0", "prefix"),
            ("redis://h/0".to_owned(), None)
        );
    }

    #[test]
    fn one_line_joins_sources_and_lines() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("inner\nsecond line"));
        assert_eq!(one_line(&e), "outer: inner second line");
    }
}
