//! # mailsec-store
//!
//! Keeps the results of `mailsec check` runs in a database that many runs share, on one machine
//! or several, at the same time: SQLite (one file) or PostgreSQL. Each backend is an additive
//! feature (`sqlite`, `postgres`; both on by default).
//!
//! ```text
//!   mailsec check --input LIST --store URL        (one process per machine or shard)
//!     │ one Row per domain: the JSON record as written to JSON Lines, and its summary columns
//!     v
//!   Store::put(rows)        one transaction per batch; upsert on (domain, run_at)
//!     v
//!   check_results ──> Store::for_each_latest(f)   the newest record of every domain
//!                 │                               (mailsec check summary STORE)
//!                 └─> Store::latest_before(d, t)  a domain's record from an earlier run, read
//!                                                 before checking it again (S11, X6)
//! ```
//!
//! ## Schema (version 1)
//!
//! Created on first use, in one transaction (PostgreSQL: under an advisory lock, so that runs
//! starting together do not race). `mailsec_meta` holds `schema_version`; a store whose version is
//! newer than [`SCHEMA_VERSION`] is refused rather than written in a shape it does not have.
//!
//! | column | SQLite | PostgreSQL | what |
//! |---|---|---|---|
//! | `domain` | `TEXT` | `TEXT` | the A-label name; for an input that is no domain name, the input line |
//! | `run_at` | `TEXT` | `TIMESTAMPTZ` | when the run started (UTC); with `domain` the primary key |
//! | `checked_at` | `TEXT` | `TIMESTAMPTZ` | when this domain's check ended |
//! | `input` | `TEXT` | `TEXT` | the line as given (a U-label IDN stays in that form here) |
//! | `error` | `TEXT` | `TEXT` | why the domain could not be checked (`NULL` when it was) |
//! | `mta_sts`, `tls_rpt`, `dane` | `TEXT` | `TEXT` | the report's summary words (`enforce`, `yes`, `required on 1 of 1 MX hosts` ...) |
//! | `errors`, `warnings` | `INTEGER` | `BIGINT` | findings of each severity |
//! | `verdict_outcome`, `verdict_mechanism`, `verdict_reason` | `TEXT` | `TEXT` | a conformant sender's verdict, when the report has one |
//! | `record` | `TEXT` | `JSONB` | the whole JSON record |
//!
//! SQLite times are UTC in one fixed-width form (`2026-12-04T15:06:07.123456Z`), so that text
//! order is time order. Writing the same (domain, run) twice replaces the row: a batch retried
//! after an error leaves no duplicate.
//!
//! ## Many writers
//!
//! - SQLite: WAL journal (readers never block the writer), a busy timeout of 60 s, and every
//!   write transaction begun `IMMEDIATE`, so that two writers queue for the lock instead of one
//!   failing on a lock upgrade. Batches keep the lock short.
//! - PostgreSQL: one transaction per batch; rows of different runs never conflict (the run time
//!   is in the key).

#![forbid(unsafe_code)]

use std::fmt;
use std::path::PathBuf;

use time::OffsetDateTime;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("mailsec-store needs the `sqlite` or the `postgres` feature (or both)");

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

/// The schema version this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the results are kept.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Location {
    /// `sqlite:PATH`: a SQLite database file (created when missing).
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`: a PostgreSQL connection URL (libpq syntax).
    Postgres(String),
}

impl Location {
    /// Parses `sqlite:PATH`, `postgres://...` or `postgresql://...`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(StoreError::Location(s.to_owned()));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_owned()));
        }
        Err(StoreError::Location(redact(s)))
    }
}

impl fmt::Display for Location {
    /// The location without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// One domain's result, as stored.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Row {
    /// The A-label name, or the input line when it is no domain name.
    pub domain: String,
    /// When the run started.
    pub run_at: OffsetDateTime,
    /// When this domain's check ended.
    pub checked_at: OffsetDateTime,
    /// The line as given.
    pub input: String,
    /// Why the domain could not be checked; `None` when it was.
    pub error: Option<String>,
    /// The MTA-STS summary word (`enforce`, `testing`, `none`, `not deployed`, `broken (...)`).
    pub mta_sts: Option<String>,
    /// The TLS-RPT summary word (`yes`, `no`, `invalid`, ...).
    pub tls_rpt: Option<String>,
    /// The DANE summary (`required on N of M MX hosts`, `not deployed`, `broken ...`).
    pub dane: Option<String>,
    /// Findings of error severity.
    pub errors: Option<i64>,
    /// Findings of warning severity.
    pub warnings: Option<i64>,
    /// `deliver` or `defer`.
    pub verdict_outcome: Option<String>,
    /// `dane`, `mta-sts`, `tls` or `opportunistic`.
    pub verdict_mechanism: Option<String>,
    /// The TLS-RPT result type a deferring sender reports.
    pub verdict_reason: Option<String>,
    /// The whole record, as JSON text.
    pub record: String,
}

/// A connection to a store, its schema checked (and created on first use).
pub struct Store {
    location: Location,
    backend: Backend,
}

enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::Sqlite),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Postgres),
}

impl Store {
    /// Connects (or creates the SQLite file), and creates the schema when it is missing.
    pub async fn open(location: &Location) -> Result<Self, StoreError> {
        let backend = match location {
            #[cfg(feature = "sqlite")]
            Location::Sqlite(path) => Backend::Sqlite(sqlite::Sqlite::open(path.clone()).await?),
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => Backend::Postgres(postgres::Postgres::open(url).await?),
            #[cfg(not(feature = "sqlite"))]
            Location::Sqlite(_) => return Err(StoreError::Unsupported("SQLite")),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(_) => return Err(StoreError::Unsupported("PostgreSQL")),
        };
        Ok(Self {
            location: location.clone(),
            backend,
        })
    }

    /// Where this store is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Writes `rows` in one transaction; a row whose (domain, run_at) is already there replaces
    /// it.
    pub async fn put(&mut self, rows: Vec<Row>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        match &mut self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.put(rows).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.put(rows).await,
        }
    }

    /// Calls `f` with the record (JSON text) of the newest row of every domain, in domain
    /// order, and returns how many there were. Reads in batches: memory stays bounded however
    /// large the store.
    pub async fn for_each_latest<F>(&mut self, f: F) -> Result<u64, StoreError>
    where
        F: FnMut(&str),
    {
        match &mut self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.for_each_latest(f).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.for_each_latest(f).await,
        }
    }
}

impl Store {
    /// The record (JSON text) of the newest row of `domain` from a run that started before
    /// `before`: what the last earlier check saw, for the checks that need history (S11, X6).
    /// Takes `&self`, so that many checks can read at once beside the writer's connection.
    pub async fn latest_before(
        &self,
        domain: &str,
        before: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(s) => s.latest_before(domain, before).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.latest_before(domain, before).await,
        }
    }
}

/// What went wrong with a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The location is neither `sqlite:PATH` nor a PostgreSQL URL.
    #[error("{0}: expected sqlite:PATH or postgres://...")]
    Location(String),
    /// The backend was left out of this build.
    #[error("{0} support is not built into this mailsec")]
    Unsupported(&'static str),
    /// An error from SQLite.
    #[cfg(feature = "sqlite")]
    #[error("SQLite")]
    Sqlite(#[from] rusqlite::Error),
    /// An error from PostgreSQL or the connection to it.
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL")]
    Postgres(#[from] tokio_postgres::Error),
    /// The store was written by a newer mailsec.
    #[error(
        "the store's schema is version {found}; this mailsec reads version {SCHEMA_VERSION} and older"
    )]
    SchemaTooNew {
        /// The version found.
        found: u32,
    },
    /// `mailsec_meta` holds something that is not a version number.
    #[error("the store's schema version {0:?} is not a number")]
    BadSchemaVersion(String),
    /// The thread that talks to SQLite ended unexpectedly.
    #[error("the store's worker thread failed")]
    Worker,
}

/// Checks a `schema_version` value read from `mailsec_meta`.
fn check_version(value: &str) -> Result<(), StoreError> {
    let found: u32 = value
        .trim()
        .parse()
        .map_err(|_| StoreError::BadSchemaVersion(value.to_owned()))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found });
    }
    Ok(())
}

/// `2026-12-04T15:06:07.123456Z`: UTC, fixed width, so that text order is time order.
pub fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// A PostgreSQL URL with its password replaced by `***` (for messages): the one in the user
/// information and a `password` query parameter, which libpq also takes.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        for (input, expected) in [
            (
                "sqlite:/tmp/x.db",
                Some(Location::Sqlite("/tmp/x.db".into())),
            ),
            ("sqlite:rel.db", Some(Location::Sqlite("rel.db".into()))),
            (
                "postgres://u@h/db",
                Some(Location::Postgres("postgres://u@h/db".into())),
            ),
            (
                "postgresql://h:5433/db",
                Some(Location::Postgres("postgresql://h:5433/db".into())),
            ),
            ("sqlite:", None),
            ("mysql://h/db", None),
            ("/tmp/x.db", None),
        ] {
            assert_eq!(Location::parse(input).ok(), expected, "{input}");
        }
    }

    #[test]
    fn passwords_are_never_shown() {
        for (url, shown) in [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db?user=u", "postgres://h/db?user=u"),
            ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
            (
                "postgres://h/db?user=u&password=secret&sslmode=require",
                "postgres://h/db?user=u&password=***&sslmode=require",
            ),
            ("postgres://h?PASSWORD=secret", "postgres://h?PASSWORD=***"),
            (
                "postgres://u:secret@h/db?password=other",
                "postgres://u:***@h/db?password=***",
            ),
        ] {
            assert_eq!(
                Location::Postgres(url.to_owned()).to_string(),
                shown,
                "{url}"
            );
        }
        let err = Location::parse("mysql://u:secret@h/db").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let b = a + time::Duration::microseconds(1);
        let c = a + time::Duration::seconds(1);
        assert_eq!(timestamp(a), "2026-11-30T00:53:20.000000Z");
        assert!(timestamp(a) < timestamp(b) && timestamp(b) < timestamp(c));
    }

    #[test]
    fn versions() {
        assert!(check_version("1").is_ok());
        assert!(matches!(
            check_version("2"),
            Err(StoreError::SchemaTooNew { found: 2 })
        ));
        assert!(matches!(
            check_version("x"),
            Err(StoreError::BadSchemaVersion(_))
        ));
    }
}
