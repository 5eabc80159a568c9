//! `mailsec check --input LIST`: a list of any length, streamed.
//!
//! ```text
//!   reader thread: LIST line by line (at most MAX_LINE bytes kept per line)
//!     │  blank lines and # comments dropped; names parsed (IDNs to A-labels); --shard and
//!     │  --resume filters; a line that is no name goes on as an item that will fail
//!     v
//!   bounded channel (2 x --concurrency items)      ── the reader waits when it is full
//!     v
//!   buffer_unordered(--concurrency): each domain its own task, timeout(--deadline, check_domain)
//!     │  records as they finish: the report + input + checked_at, or an error record
//!     v
//!   stdout (or OUT with --resume) ── summary ── store writer (bounded channel, batches) ── bar
//! ```
//!
//! Memory is bounded by --concurrency, not by the length of LIST: nothing keeps the list or the
//! results. With --resume, the set of domains already in OUT is kept as 16-byte hashes.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailsec_check::DomainReport;
use mailsec_core::HostName;
use mailsec_store::{Location, Row, Store, StoreError};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::summary::{RunInfo, Summary};
use crate::cli::{CheckArgs, NetArgs};
use crate::cmd::{net, source_name};
use crate::exit::Exit;

/// `--shard K/N`: the domains whose FNV-1a 64-bit hash modulo N is K-1.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Shard {
    k: u64,
    n: u64,
}

impl Shard {
    /// Whether `key` (an A-label name, or an input line that is no name) is in this shard.
    fn contains(self, key: &str) -> bool {
        fnv1a64(key.as_bytes()) % self.n == self.k - 1
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.split_once('/').and_then(|(k, n)| {
            Some((k.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?))
        });
        match parsed {
            Some((k, n)) if 1 <= k && k <= n => Ok(Self { k, n }),
            _ => Err("expected K/N with 1 <= K <= N, e.g. 2/3".to_owned()),
        }
    }
}

/// Why a domain has no report.
#[derive(Debug)]
pub(super) enum Failure {
    /// The input line is not a domain name.
    InvalidName(String),
    /// The check did not end within the deadline.
    Deadline {
        /// The domain.
        domain: HostName,
        /// The deadline.
        seconds: u64,
    },
    /// The check's task ended without a report (a panic: a bug).
    Internal {
        /// The domain.
        domain: HostName,
        /// What the task said.
        message: String,
    },
}

impl Failure {
    /// The error record (`input` and `checked_at` in bulk mode).
    pub(super) fn record<'a>(&'a self, extra: Option<(&'a str, String)>) -> FailureRecord<'a> {
        let (input, checked_at) = extra.unzip();
        FailureRecord {
            domain: self.domain(),
            error: ErrorInfo {
                kind: self.kind(),
                message: self.message(),
            },
            input,
            checked_at,
        }
    }

    /// `== domain: not checked: why`, as the text report of a domain.
    pub(super) fn print(&self, out: &mut dyn Write, input: Option<&str>) -> io::Result<()> {
        let heading = self.domain().or(input).unwrap_or_default();
        writeln!(out, "== {heading}: not checked: {}", self.message())?;
        if let Some(input) = input.filter(|i| *i != heading) {
            writeln!(out, "   input     {input}")?;
        }
        writeln!(out)
    }

    fn domain(&self) -> Option<&str> {
        match self {
            Self::InvalidName(_) => None,
            Self::Deadline { domain, .. } | Self::Internal { domain, .. } => Some(domain.as_str()),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::InvalidName(_) => "invalid-name",
            Self::Deadline { .. } => "deadline",
            Self::Internal { .. } => "internal",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InvalidName(why) => format!("not a domain name: {why}"),
            Self::Deadline { seconds, .. } => {
                format!("the check did not end within the deadline of {seconds} s (--deadline)")
            }
            Self::Internal { message, .. } => format!("internal error: {message}"),
        }
    }
}

/// The record of a domain that could not be checked.
#[derive(Debug, serde::Serialize)]
pub(super) struct FailureRecord<'a> {
    /// The A-label name; `null` when the input is no name.
    domain: Option<&'a str>,
    error: ErrorInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checked_at: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct ErrorInfo {
    /// `invalid-name`, `deadline` or `internal`.
    kind: &'static str,
    message: String,
}

/// The record of a domain checked: the report, then the input as given and the time.
#[derive(serde::Serialize)]
struct CheckedRecord<'a> {
    #[serde(flatten)]
    report: &'a DomainReport,
    input: &'a str,
    checked_at: String,
}

/// Checks `domain` in a task of its own, within `deadline`: a panic or a hang in one domain
/// becomes that domain's failure, never the run's.
pub(super) async fn check_one(
    ctx: Arc<mailsec_check::Context>,
    domain: HostName,
    deadline: Duration,
    history: Option<mailsec_check::History>,
) -> Result<DomainReport, Failure> {
    let name = domain.clone();
    let task = tokio::spawn(async move {
        tokio::time::timeout(
            deadline,
            mailsec_check::check_domain_with_history(&ctx, &name, history.as_ref()),
        )
        .await
    });
    match task.await {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(_elapsed)) => Err(Failure::Deadline {
            domain,
            seconds: deadline.as_secs(),
        }),
        Err(e) => {
            let message = if e.is_panic() {
                let payload = e.into_panic();
                payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .map_or_else(
                        || "the check panicked".to_owned(),
                        |m| format!("the check panicked: {m}"),
                    )
            } else {
                "the check was cancelled".to_owned()
            };
            Err(Failure::Internal { domain, message })
        }
    }
}

/// `mailsec check --input`.
pub(super) fn run(
    args: &CheckArgs,
    input: &Path,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let run_at = OffsetDateTime::now_utc();
    let location = args
        .store
        .as_deref()
        .map(|s| Location::parse(s).context("--store"))
        .transpose()?;
    let mut summary = Summary::default();
    let mut resume = args
        .resume
        .as_deref()
        .map(|path| Resume::open(path, &mut summary))
        .transpose()?;
    let earlier = summary.domains();
    let filter = Arc::new(Filter {
        shard: args.shard,
        done: resume
            .as_mut()
            .map(|r| std::mem::take(&mut r.done))
            .unwrap_or_default(),
    });
    let bar = progress_bar(input, &filter)?;
    let source = open_input(input)?;
    let deadline = Duration::from_secs(args.deadline);
    let concurrency = args.concurrency as usize;

    let rt = net::runtime()?;
    let (summary, counts) = rt.block_on(async {
        let ctx = Arc::new(super::context(args, net_args).await?);
        let store = match &location {
            Some(l) => Some(Store::open(l).await.with_context(|| format!("store {l}"))?),
            None => None,
        };
        // A second connection reads each domain's record from an earlier run before checking
        // it again (S11, X6: the id against the policy), beside the writer's.
        let history_store = match &location {
            Some(l) => Some(Arc::new(
                Store::open(l).await.with_context(|| format!("store {l}"))?,
            )),
            None => None,
        };
        let (store_tx, store_task) = match store {
            Some(store) => {
                let (tx, rx) = mpsc::channel(STORE_QUEUE);
                (Some(tx), Some(tokio::spawn(store_writer(store, rx))))
            }
            None => (None, None),
        };

        let (item_tx, item_rx) = mpsc::channel::<Item>(2 * concurrency);
        let reader_filter = Arc::clone(&filter);
        let reader = std::thread::Builder::new()
            .name("mailsec-input".to_owned())
            .spawn(move || {
                read_items(source, &reader_filter, |item| {
                    item_tx.blocking_send(item).is_ok()
                })
            })
            .context("starting the input reader")?;

        // The resolver bounds its own DNSSEC validation cache (`mailsec_dns::RENEW_AFTER`:
        // hickory's grows with every new zone, about 3.7 KiB per domain of a list).
        let items = futures_util::stream::unfold((item_rx, ctx), |(mut rx, ctx)| async move {
            let item = rx.recv().await?;
            Some(((item, Arc::clone(&ctx)), (rx, ctx)))
        });
        let results = items
            .map(|(item, ctx)| {
                let history_store = history_store.clone();
                async move {
                    let result = match item.name {
                        Ok(domain) => {
                            let history = match &history_store {
                                Some(store) => history(store, &domain, run_at).await,
                                None => None,
                            };
                            check_one(ctx, domain, deadline, history).await
                        }
                        Err(why) => Err(Failure::InvalidName(why)),
                    };
                    (item.input, result)
                }
            })
            .buffer_unordered(concurrency);
        let mut results = Box::pin(results);

        let stdout_is_terminal = io::stdout().is_terminal() && resume.is_none();
        while let Some((input, result)) = results.next().await {
            let finished = OffsetDateTime::now_utc();
            let checked_at = mailsec_store::timestamp(finished);
            let line = match &result {
                Ok(report) => serde_json::to_string(&CheckedRecord {
                    report,
                    input: &input,
                    checked_at: checked_at.clone(),
                })?,
                Err(failure) => {
                    serde_json::to_string(&failure.record(Some((&input, checked_at.clone()))))?
                }
            };
            let value: Value = serde_json::from_str(&line)?;
            summary.add(&value);
            if let Some(tx) = &store_tx {
                let row = row(&value, &line, run_at, finished);
                if tx.send(row).await.is_err() {
                    // The writer stopped: its error is reported below.
                    break;
                }
            }
            let mut write = |w: &mut dyn Write| -> io::Result<()> {
                if let Some(r) = resume.as_mut() {
                    return r.append(&line);
                }
                if args.json {
                    let mut buf = line.clone().into_bytes();
                    buf.push(b'\n');
                    return w.write_all(&buf);
                }
                match &result {
                    Ok(report) => {
                        let note = (input != report.domain).then(|| format!("input     {input}"));
                        super::print_report(w, report, note.as_deref())
                    }
                    Err(failure) => failure.print(w, Some(&input)),
                }
            };
            if stdout_is_terminal {
                bar.suspend(|| write(out))?;
            } else {
                write(out)?;
            }
            bar.inc(1);
            let failed = summary.failed();
            if failed > 0 {
                bar.set_message(format!("({failed} not checked)"));
            }
        }
        drop(results);

        let counts = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the input reader failed"))?
            .with_context(|| format!("reading {}", source_name(input)))?;
        drop(store_tx);
        if let Some(task) = store_task {
            task.await
                .context("the store writer failed")?
                .with_context(|| {
                    format!(
                        "store {}",
                        location
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    )
                })?;
        }
        anyhow::Ok((summary, counts))
    })?;
    bar.finish_and_clear();

    let info = RunInfo {
        elapsed: started.elapsed(),
        this_run: summary.domains() - earlier,
        earlier,
        skipped_done: counts.skipped_done,
        other_shards: counts.other_shards,
    };
    summary.write_text(&mut io::stderr().lock(), Some(&info))?;
    if let Some(path) = &args.summary_json {
        let mut doc = serde_json::to_vec(&summary.to_json())?;
        doc.push(b'\n');
        if path.as_os_str() == "-" {
            out.write_all(&doc)?;
        } else {
            std::fs::write(path, doc)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(summary.exit())
}

/// What the newest earlier run stored for `domain`. A store that cannot be read leaves the
/// domain without history (S11 and X6 then say nothing), said once on standard error.
async fn history(
    store: &Store,
    domain: &HostName,
    run_at: OffsetDateTime,
) -> Option<mailsec_check::History> {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    match store.latest_before(domain.as_str(), run_at).await {
        Ok(record) => {
            let value: Value = serde_json::from_str(&record?).ok()?;
            mailsec_check::History::from_record(&value)
        }
        Err(e) => {
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!(
                    "mailsec: cannot read earlier results from {}: {e:#}; the checks that compare with them (S11, X6) are skipped",
                    store.location()
                );
            }
            None
        }
    }
}

/// The store's row for a record.
fn row(value: &Value, line: &str, run_at: OffsetDateTime, checked_at: OffsetDateTime) -> Row {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let int = |v: Option<&Value>| v.and_then(Value::as_i64);
    let input = text(value.get("input")).unwrap_or_default();
    let summary = value.get("summary");
    let verdict = value.get("verdict");
    let error = value.get("error").filter(|e| !e.is_null());
    Row {
        domain: text(value.get("domain")).unwrap_or_else(|| input.clone()),
        run_at,
        checked_at,
        input,
        error: error.map(|e| {
            let kind = e.get("kind").and_then(Value::as_str).unwrap_or("error");
            let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
            format!("{kind}: {message}")
        }),
        mta_sts: text(summary.and_then(|s| s.get("mta_sts"))),
        tls_rpt: text(summary.and_then(|s| s.get("tls_rpt"))),
        dane: text(summary.and_then(|s| s.get("dane"))),
        errors: int(summary.and_then(|s| s.get("errors"))),
        warnings: int(summary.and_then(|s| s.get("warnings"))),
        verdict_outcome: text(verdict.and_then(|v| v.get("outcome"))),
        verdict_mechanism: text(verdict.and_then(|v| v.get("mechanism"))),
        verdict_reason: text(verdict.and_then(|v| v.get("reason"))),
        record: line.to_owned(),
    }
}

/// Writes rows as they come, in batches of what is waiting, one transaction each.
async fn store_writer(mut store: Store, mut rx: mpsc::Receiver<Row>) -> Result<(), StoreError> {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < STORE_BATCH {
            match rx.try_recv() {
                Ok(row) => batch.push(row),
                Err(_) => break,
            }
        }
        store.put(batch).await?;
    }
    Ok(())
}

/// One line of the list, parsed.
struct Item {
    /// The line as given, trimmed, without its comment.
    input: String,
    /// The name, or why the line is none.
    name: Result<HostName, String>,
}

impl Item {
    /// What --shard hashes and --resume compares: the A-label name, or the line.
    fn key(&self) -> &str {
        match &self.name {
            Ok(name) => name.as_str(),
            Err(_) => &self.input,
        }
    }

    /// Parses a line (at most MAX_LINE bytes of it; `long` when there was more). `None` for a
    /// blank line or a comment.
    fn parse(raw: &[u8], long: bool) -> Option<Self> {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_start_matches('\u{feff}');
        // `#` cannot occur in a domain name: everything after it is a comment.
        let text = text.split('#').next().unwrap_or_default().trim();
        if text.is_empty() {
            return None;
        }
        let name = if long {
            Err(format!("line longer than {MAX_LINE} bytes"))
        } else if std::str::from_utf8(raw).is_err() {
            Err("not UTF-8".to_owned())
        } else {
            HostName::parse(text).map_err(|e| e.to_string())
        };
        Some(Self {
            input: text.to_owned(),
            name,
        })
    }
}

/// Which items this run checks.
struct Filter {
    shard: Option<Shard>,
    /// FNV-1a 128-bit hashes of the keys already in OUT.
    done: HashSet<u128>,
}

/// What the reader left out.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    /// Items kept.
    kept: u64,
    /// Items already in OUT.
    skipped_done: u64,
    /// Items of other shards.
    other_shards: u64,
}

/// Reads the list and hands each item this run checks to `emit`, until the list ends or `emit`
/// returns false.
fn read_items(
    mut source: Box<dyn BufRead + Send>,
    filter: &Filter,
    mut emit: impl FnMut(Item) -> bool,
) -> io::Result<Counts> {
    let mut counts = Counts::default();
    let mut buf = Vec::with_capacity(MAX_LINE);
    while let Some(long) = read_line(&mut *source, &mut buf)? {
        let Some(item) = Item::parse(&buf, long) else {
            continue;
        };
        let key = item.key();
        if filter.shard.is_some_and(|s| !s.contains(key)) {
            counts.other_shards += 1;
            continue;
        }
        if !filter.done.is_empty() && filter.done.contains(&fnv1a128(key.as_bytes())) {
            counts.skipped_done += 1;
            continue;
        }
        counts.kept += 1;
        if !emit(item) {
            break;
        }
    }
    Ok(counts)
}

/// Reads one line into `buf` without its newline, keeping at most MAX_LINE bytes and skipping
/// the rest. `None` at the end of the input; `Some(true)` when the line was longer.
fn read_line(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let mut long = false;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(long));
        }
        any = true;
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(chunk.len());
        let room = MAX_LINE.saturating_sub(buf.len());
        if take > room {
            long = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            return Ok(Some(long));
        }
    }
}

fn open_input(path: &Path) -> anyhow::Result<Box<dyn BufRead + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin())));
    }
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
}

/// A bar on standard error when it is a terminal; hidden otherwise. For a regular file, the
/// total comes from a first pass over it (the same filters, nothing kept).
fn progress_bar(input: &Path, filter: &Filter) -> anyhow::Result<ProgressBar> {
    if !io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    // Only a regular file can be read twice: a pipe (`--input <(...)`) would be used up.
    let total = if input.as_os_str() != "-" && std::fs::metadata(input).is_ok_and(|m| m.is_file()) {
        Some(read_items(open_input(input)?, filter, |_| true)?.kept)
    } else {
        None
    };
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{elapsed_precise} {wide_bar} {pos}/{len} domains, {per_sec}, ETA {eta} {msg}",
        ),
        None => (
            ProgressBar::no_length(),
            "{elapsed_precise} {spinner} {pos} domains, {per_sec} {msg}",
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    Ok(bar)
}

/// --resume OUT: the domains already there, and OUT open for appending.
struct Resume {
    file: File,
    path: PathBuf,
    done: HashSet<u128>,
}

impl Resume {
    /// Reads OUT (creating it when missing): every complete line must be a record; a last line
    /// without its newline (a run killed while writing it) is cut off, and its domain checked
    /// again. Each record also goes into `summary`, which then covers the whole of OUT.
    fn open(path: &Path, summary: &mut Summary) -> anyhow::Result<Self> {
        let name = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("cannot open {name}"))?;
        let mut done = HashSet::new();
        let mut reader = BufReader::with_capacity(1 << 16, &mut file);
        let mut line = Vec::new();
        let mut complete_len = 0u64;
        let mut number = 0u64;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot read {name}"))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            number += 1;
            let value: Value = serde_json::from_slice(&line).ok().filter(Value::is_object).with_context(|| {
                format!("{name}:{number}: not a mailsec check record; --resume appends to the JSON Lines of an earlier run")
            })?;
            let key = value
                .get("domain")
                .and_then(Value::as_str)
                .or_else(|| value.get("input").and_then(Value::as_str))
                .with_context(|| format!("{name}:{number}: a record without domain or input"))?;
            done.insert(fnv1a128(key.as_bytes()));
            summary.add(&value);
            complete_len += n as u64;
        }
        drop(reader);
        let len = file
            .metadata()
            .with_context(|| format!("cannot read {name}"))?
            .len();
        if len > complete_len {
            file.set_len(complete_len)
                .with_context(|| format!("cannot cut the unfinished last line of {name}"))?;
        }
        file.seek(SeekFrom::End(0))
            .with_context(|| format!("cannot append to {name}"))?;
        Ok(Self {
            file,
            path: path.to_owned(),
            done,
        })
    }

    /// Appends one record: one write, so that a kill leaves at most the last line cut short.
    fn append(&mut self, line: &str) -> io::Result<()> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.file.write_all(&buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot append to {}: {e}", self.path.display()),
            )
        })
    }
}

/// FNV-1a, 64 bits (offset basis 0xcbf29ce484222325, prime 0x100000001b3): --shard's hash. It
/// is fixed by its definition, so the same name falls in the same shard everywhere, always.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// FNV-1a, 128 bits: the keys --resume remembers (16 bytes each, whatever the name's length).
fn fnv1a128(bytes: &[u8]) -> u128 {
    bytes
        .iter()
        .fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d, |h, &b| {
            (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b)
        })
}

/// Longest part of an input line kept; a longer line is no name (at most 253 characters, or
/// four times that in U-labels) and gets an error record.
const MAX_LINE: usize = 1024;

/// Rows waiting for the store writer.
const STORE_QUEUE: usize = 1024;

/// Most rows in one store transaction.
const STORE_BATCH: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_vectors() {
        // From the FNV reference (draft-eastlake-fnv): the empty string and "a".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn shards() {
        for (s, ok) in [
            ("1/1", true),
            ("2/3", true),
            ("3/3", true),
            ("0/3", false),
            ("4/3", false),
            ("1/0", false),
            ("1", false),
            ("a/b", false),
        ] {
            assert_eq!(s.parse::<Shard>().is_ok(), ok, "{s}");
        }
        // Every name in exactly one shard.
        let shards: Vec<Shard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for i in 0..1000 {
            let name = format!("d{i}.scale.test");
            assert_eq!(shards.iter().filter(|s| s.contains(&name)).count(), 1);
        }
    }

    #[test]
    fn lines() {
        for (line, expected) in [
            ("", None),
            ("   ", None),
            ("# a comment", None),
            ("example.com", Some(("example.com", Ok("example.com")))),
            (
                "  Example.COM.  # trailing comment",
                Some(("Example.COM.", Ok("example.com"))),
            ),
            (
                "\u{feff}example.com",
                Some(("example.com", Ok("example.com"))),
            ),
            (
                "bücher.example",
                Some(("bücher.example", Ok("xn--bcher-kva.example"))),
            ),
            ("not a name", Some(("not a name", Err(())))),
            ("192.0.2.1", Some(("192.0.2.1", Err(())))),
            ("-bad-.example", Some(("-bad-.example", Err(())))),
        ] {
            let item = Item::parse(line.as_bytes(), false);
            let got = item.as_ref().map(|i| {
                (
                    i.input.as_str(),
                    i.name.as_ref().map(HostName::as_str).map_err(|_| ()),
                )
            });
            assert_eq!(got, expected, "{line:?}");
        }
        let item = Item::parse(b"caf\xe9.example", false).unwrap();
        assert_eq!(item.name.unwrap_err(), "not UTF-8");
    }

    #[test]
    fn long_lines_are_cut_and_the_next_line_read() {
        let mut input = vec![b'a'; 5000];
        input.extend_from_slice(b"\nexample.com\nlast");
        let mut r = io::Cursor::new(input);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(true));
        assert_eq!(buf.len(), MAX_LINE);
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(false));
        assert_eq!(buf, b"example.com");
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(false));
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), None);
    }
}
