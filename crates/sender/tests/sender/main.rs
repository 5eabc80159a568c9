//! The policy cache against every backend: one conformance suite (`suite`) run on memory,
//! SQLite, and real Redis and PostgreSQL servers that the tests start themselves (from Debian's
//! packages, `scripts/install-lab-packages`), then what is particular to each backend, and the
//! memory layer riding out a backend's outage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod layered;
mod memory;
mod postgres;
mod redis;
mod sqlite;
mod suite;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use mailsec_core::mta_sts::record::PolicyId;
use mailsec_core::mta_sts::sender::{self, Entry, Fetch, Rule, Rules, Status};

/// The body of every fixture's policy.
const BODY: &[u8] = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";

/// An entry whose policy was fetched (and the record checked) at `at`.
pub(crate) fn entry(at: u64) -> Entry {
    sender::after_fetch(
        None,
        PolicyId::new("a1").unwrap(),
        Rule::Fetched,
        Fetch::Body(BODY.to_vec()),
        at,
        &Rules::default(),
        0.0,
    )
    .entry
}

/// An entry checked at `at` too, but different from [`entry`]`(at)`.
pub(crate) fn other(at: u64) -> Entry {
    let mut e = entry(at);
    e.status = Status::NoRecord;
    e.failures = 3;
    assert_ne!(e, entry(at));
    e
}

/// Now, in Unix seconds.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What the code under test logs, as text: one subscriber for the whole binary (a scoped one
/// per test misses events when tests run in parallel: tracing caches per call site whether
/// anyone listens), so each test picks its own lines by something only it logs (a temporary
/// path, a port, a backend's name).
pub(crate) struct Logs;

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

impl Logs {
    pub(crate) fn capture() -> Self {
        LOGS.get_or_init(|| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let writer = buf.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || LogWriter(writer.clone()))
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            buf
        });
        Self
    }

    pub(crate) fn text(&self) -> String {
        LOGS.get()
            .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
            .unwrap_or_default()
    }

    /// How many lines contain every one of `needles`.
    pub(crate) fn count(&self, needles: &[&str]) -> usize {
        self.text()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
