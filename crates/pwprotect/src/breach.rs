//! `pwprotect breach import` and the store's lookups (the format: `pwprotect_core::breach`).
//!
//! The store is read with positioned reads (`pread`), not memory-mapped: a map needs unsafe
//! code, and a mapped file that is rewritten under a reader is undefined behaviour (SIGBUS at
//! best), where a read is only ever of the file the reader opened. Imports write a new file and
//! rename it over the old one, so a lookup in progress finishes on the old store and the next
//! one opens the new. Buckets are small (about 950 records, 8.6 KB, at a billion hashes), so a
//! lookup is two reads the page cache answers.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use pwprotect_core::breach::{
    self, BUCKETS, FULL_RECORD, HEADER, HashKind, INDEX, RECORD, count_byte, parse_header,
    parse_line, split,
};
use pwprotect_core::fuse;

/// `pwprotect breach`.
#[derive(Debug, Subcommand)]
pub(crate) enum BreachCommand {
    /// Import Pwned Passwords data (`HASH:COUNT` lines: whole files, or range files named by
    /// their 5-hex-digit prefix, or directories of them) into a store, adding to what it holds.
    Import {
        /// Files or directories.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The store (created when missing; replaced atomically).
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// NTLM hashes (32 hex digits) instead of SHA-1.
        #[arg(long)]
        ntlm: bool,
        /// Keep whole hashes (19 bytes a hash instead of 9), so that `pwprotect serve
        /// --range-store` can answer the HIBP range API.
        #[arg(long)]
        full: bool,
        /// Also build the store's binary fuse filter into this file (as `pwprotect breach
        /// filter` does).
        #[arg(long, value_name = "FILE")]
        filter: Option<PathBuf>,
    },
    /// Build a store's binary fuse filter (about 2.25 bytes a hash): held in memory by
    /// `--breach-filter`, it answers for most passwords that are not breached without reading
    /// the store. Rebuild it after every import: a filter of an older store is refused.
    Filter {
        /// The store.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// The filter file to write (replaced atomically).
        #[arg(value_name = "FILE")]
        out: PathBuf,
        /// Split it into 2^N shards (0 to 12) instead of shards of about four million hashes
        /// each: the memory a build needs is one shard's.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=12))]
        shard_bits: Option<u8>,
    },
    /// Say whether the password on standard input is in the store: exit 1 when it is (with
    /// its count's order of magnitude), 0 when not.
    Lookup {
        /// The store.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// The store's binary fuse filter (`pwprotect breach filter`), loaded into memory.
        #[arg(long, value_name = "FILE")]
        filter: Option<PathBuf>,
        /// Read one password a line and write one JSON line each (`{"breached": bool,
        /// "count": N|null}`, the count's least value); exit 1 when any is breached.
        #[arg(long)]
        batch: bool,
        /// With `--batch`: each line says how long its lookup took (`"elapsed_ns"`: hashing and
        /// the search), for measuring.
        #[arg(long, requires = "batch")]
        timings: bool,
    },
}

pub(crate) fn run(cmd: &BreachCommand) -> anyhow::Result<u8> {
    match cmd {
        BreachCommand::Import {
            inputs,
            store,
            ntlm,
            full,
            filter,
        } => {
            let code = import(
                inputs,
                store,
                if *ntlm {
                    HashKind::Ntlm
                } else {
                    HashKind::Sha1
                },
                if *full { FULL_RECORD } else { RECORD },
            )?;
            if let Some(out) = filter {
                build_filter(store, out, None)?;
            }
            Ok(code)
        }
        BreachCommand::Filter {
            store,
            out,
            shard_bits,
        } => {
            build_filter(store, out, *shard_bits)?;
            Ok(0)
        }
        BreachCommand::Lookup {
            store,
            filter,
            batch,
            timings,
        } => {
            let s = Store::open_with(store, filter.as_deref())?;
            if *batch {
                return lookup_batch(&s.resident_index()?, *timings);
            }
            let password = crate::read_password()?;
            match s.lookup(&password)? {
                Some(floor) => {
                    crate::write_verdict(
                        format!("breached: seen at least {floor} times\n").as_bytes(),
                    )?;
                    Ok(1)
                }
                None => {
                    crate::write_verdict(b"not in the store\n")?;
                    Ok(0)
                }
            }
        }
    }
}

/// `breach lookup --batch`: one password a line in, one JSON line out.
fn lookup_batch(store: &Store, timings: bool) -> anyhow::Result<u8> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut any = false;
    for line in stdin.split(b'\n') {
        let mut line = zeroize::Zeroizing::new(line.context("cannot read standard input")?);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let Ok(password) = std::str::from_utf8(&line) else {
            let line = format!("{}\n", serde_json::json!({"error": "not UTF-8"}));
            if !crate::write_line(&mut stdout, line.as_bytes())? {
                break;
            }
            continue;
        };
        let started = std::time::Instant::now();
        let count = store.lookup(password)?;
        let elapsed = started.elapsed();
        any |= count.is_some();
        let mut v = serde_json::json!({"breached": count.is_some(), "count": count});
        if timings {
            v["elapsed_ns"] = serde_json::Value::from(elapsed.as_nanos() as u64);
        }
        if !crate::write_line(&mut stdout, format!("{v}\n").as_bytes())? {
            break;
        }
    }
    Ok(u8::from(any))
}

/// An open store, with its filter when one was given.
pub(crate) struct Store {
    file: File,
    path: PathBuf,
    kind: HashKind,
    width: usize,
    filter: Option<Filter>,
    /// The bucket index, when read into memory (`resident_index`).
    index: Option<Box<[u64]>>,
    /// Records, as the header says (checked against the length at open).
    count: u64,
    /// The file's length at open.
    len: u64,
}

impl Store {
    /// Opens `path` and checks its header against its length.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, None)
    }

    /// Opens `path`, and loads `filter` into memory when given, refusing a filter that was not
    /// built from this store as it is now.
    pub(crate) fn open_with(path: &Path, filter: Option<&Path>) -> anyhow::Result<Self> {
        let mut s = Self::open_store(path)?;
        if let Some(f) = filter {
            s.filter = Some(Filter::open(f, s.kind, s.count, s.len)?);
        }
        Ok(s)
    }

    fn open_store(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata()?.len();
        let mut h = [0u8; HEADER];
        file.read_exact_at(&mut h, 0)
            .map_err(|_| anyhow::anyhow!("{}: not a pwprotect breach store", path.display()))?;
        let h = parse_header(&h, len).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self {
            file,
            path: path.to_owned(),
            kind: h.kind,
            width: h.width,
            filter: None,
            index: None,
            count: h.count,
            len,
        })
    }

    /// Reads the bucket index (8 MiB) into memory, so that a lookup is one read instead of
    /// two: for the commands that look many passwords up (`--batch`, `serve`), not for one.
    pub(crate) fn resident_index(mut self) -> anyhow::Result<Self> {
        let mut raw = vec![0u8; INDEX];
        self.file
            .read_exact_at(&mut raw, HEADER as u64)
            .with_context(|| format!("{}: index", self.path.display()))?;
        self.index = Some(
            raw.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        );
        Ok(self)
    }

    /// The hash kind.
    pub(crate) fn kind(&self) -> HashKind {
        self.kind
    }

    /// The records of one bucket.
    fn bucket(&self, bucket: usize) -> anyhow::Result<Vec<u8>> {
        let mut records = Vec::new();
        self.bucket_into(bucket, &mut records)?;
        Ok(records)
    }

    /// Reads one bucket's records into `records` (reused between lookups).
    fn bucket_into(&self, bucket: usize, records: &mut Vec<u8>) -> anyhow::Result<()> {
        let (start, end) = match &self.index {
            Some(index) => (
                index.get(bucket).copied().unwrap_or(0),
                index.get(bucket + 1).copied().unwrap_or(0),
            ),
            None => {
                let mut range = [0u8; 16];
                self.file
                    .read_exact_at(&mut range, (HEADER + bucket * 8) as u64)
                    .with_context(|| format!("{}: index", self.path.display()))?;
                (
                    u64::from_le_bytes(range[..8].try_into().unwrap_or_default()),
                    u64::from_le_bytes(range[8..].try_into().unwrap_or_default()),
                )
            }
        };
        if end < start || end - start > 1 << 24 {
            bail!(
                "{}: damaged index at bucket {bucket:05x}",
                self.path.display()
            );
        }
        records.resize(((end - start) as usize) * self.width, 0);
        self.file
            .read_exact_at(records, (HEADER + INDEX) as u64 + start * self.width as u64)
            .with_context(|| format!("{}: records of bucket {bucket:05x}", self.path.display()))?;
        Ok(())
    }

    /// The HIBP range API's lines for a 5-hex-digit prefix (a full store only).
    pub(crate) fn range(&self, bucket: usize) -> anyhow::Result<Vec<String>> {
        if self.width != FULL_RECORD {
            bail!("{}: not a full store (import --full)", self.path.display());
        }
        Ok(self
            .bucket(bucket)?
            .chunks_exact(FULL_RECORD)
            .filter_map(|r| breach::range_line(self.kind, bucket, r))
            .collect())
    }

    /// The hash of `password` in the store's kind.
    fn hash(&self, password: &str) -> [u8; 20] {
        let mut out = [0u8; 20];
        match self.kind {
            HashKind::Sha1 => out.copy_from_slice(
                ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes())
                    .as_ref(),
            ),
            HashKind::Ntlm => {
                use md4::Digest as _;
                let mut md4 = md4::Md4::new();
                for unit in password.encode_utf16() {
                    md4.update(unit.to_le_bytes());
                }
                out[..16].copy_from_slice(&md4.finalize());
            }
        }
        out
    }

    /// Whether `password` is in the store: the least count its record stands for.
    pub(crate) fn lookup(&self, password: &str) -> anyhow::Result<Option<u64>> {
        let (bucket, key) = split(&self.hash(password));
        if let Some(f) = &self.filter
            && !f.may_contain(bucket, key)
        {
            return Ok(None);
        }
        // One buffer a thread, reused: a lookup allocates nothing.
        thread_local! {
            static RECORDS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        RECORDS.with_borrow_mut(|records| {
            self.bucket_into(bucket, records)?;
            Ok(breach::find(records, self.width, key).map(breach::count_floor))
        })
    }
}

/// A store's binary fuse filter, in memory (`pwprotect_core::fuse`).
pub(crate) struct Filter {
    bits: u8,
    shards: Vec<Option<xorf::BinaryFuse16>>,
}

impl Filter {
    /// Reads a filter file and checks it against the store it is to stand before.
    fn open(path: &Path, kind: HashKind, store_count: u64, store_len: u64) -> anyhow::Result<Self> {
        use std::io::Read as _;
        let what = |e: fuse::FilterError| anyhow::anyhow!("{}: {e}", path.display());
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata()?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut h = [0u8; fuse::HEADER];
        r.read_exact(&mut h)
            .map_err(|_| what(fuse::FilterError::Magic))?;
        let header = fuse::Header::parse(&h).map_err(what)?;
        if header.kind != kind {
            bail!(
                "{}: a filter of {} hashes, the store holds {}",
                path.display(),
                header.kind.as_str(),
                kind.as_str()
            );
        }
        header.matches(store_count, store_len).map_err(what)?;
        let mut table = vec![0u8; header.table_len()];
        r.read_exact(&mut table).map_err(|_| {
            what(fuse::FilterError::Size {
                expected: (fuse::HEADER + header.table_len()) as u64,
                found: len,
            })
        })?;
        let mut shards = Vec::with_capacity(1 << header.bits);
        let mut entries = Vec::with_capacity(1 << header.bits);
        let mut expected = (fuse::HEADER + table.len()) as u64;
        for (i, e) in table.chunks_exact(fuse::SHARD).enumerate() {
            let (d, prints) = fuse::parse_shard(i, e).map_err(what)?;
            expected += 2 * prints;
            entries.push((d, prints));
        }
        if expected != len {
            return Err(what(fuse::FilterError::Size {
                expected,
                found: len,
            }));
        }
        let mut buf = vec![0u8; 1 << 16];
        for (descriptor, prints) in entries {
            if prints == 0 {
                shards.push(None);
                continue;
            }
            let mut fingerprints = Vec::with_capacity(prints as usize);
            let mut left = prints as usize * 2;
            while left > 0 {
                let n = left.min(buf.len());
                r.read_exact(&mut buf[..n])
                    .with_context(|| format!("cannot read {}", path.display()))?;
                fingerprints.extend(
                    buf[..n]
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]])),
                );
                left -= n;
            }
            shards.push(Some(xorf::BinaryFuse16 {
                descriptor,
                fingerprints: fingerprints.into_boxed_slice(),
            }));
        }
        Ok(Self {
            bits: header.bits,
            shards,
        })
    }

    fn may_contain(&self, bucket: usize, key: u64) -> bool {
        let shard = self.shards.get(fuse::shard_of(bucket, self.bits));
        fuse::may_contain(shard.and_then(Option::as_ref), key)
    }
}

/// Builds the filter of `store` into `out`, one shard at a time (the memory of one shard: 8
/// bytes a key and the construction's tables, about 200 MB at four million keys).
fn build_filter(store: &Path, out: &Path, bits: Option<u8>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let s = Store::open(store)?;
    let (count, store_len) = (s.count, s.len);
    let header = fuse::Header {
        kind: s.kind,
        bits: bits.unwrap_or_else(|| fuse::shard_bits(count)),
        store_count: count,
        store_len,
    };
    let tmp = out.with_extension(format!("tmp.{}", std::process::id()));
    let result = (|| -> anyhow::Result<u64> {
        let f = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 22, f);
        w.write_all(&header.to_bytes())?;
        w.write_all(&vec![0u8; header.table_len()])?;
        let mut table = Vec::with_capacity(header.table_len());
        let mut keys: Vec<u64> = Vec::new();
        let mut shard = 0usize;
        let mut flush =
            |keys: &mut Vec<u64>, w: &mut std::io::BufWriter<File>| -> anyhow::Result<()> {
                let f = fuse::build(keys).map_err(|e| {
                    anyhow::anyhow!("{}: cannot build the filter: {e}", store.display())
                })?;
                keys.clear();
                match f {
                    Some(f) => {
                        table.extend_from_slice(&fuse::shard_entry(
                            &f.descriptor,
                            f.fingerprints.len() as u64,
                        ));
                        for p in f.fingerprints.iter() {
                            w.write_all(&p.to_le_bytes())?;
                        }
                    }
                    None => table.extend_from_slice(&[0u8; fuse::SHARD]),
                }
                Ok(())
            };
        for (packed, _) in store_records(store, s.width)? {
            let (bucket, key) = ((packed >> 72) as usize, (packed >> 8) as u64);
            let this = fuse::shard_of(bucket, header.bits);
            while shard < this {
                flush(&mut keys, &mut w)?;
                shard += 1;
            }
            keys.push(key);
        }
        while shard < 1 << header.bits {
            flush(&mut keys, &mut w)?;
            shard += 1;
        }
        let f = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing the filter: {e}"))?;
        f.write_all_at(&table, fuse::HEADER as u64)?;
        f.sync_all()?;
        Ok(f.metadata()?.len())
    })();
    let bytes = match result {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).with_context(|| format!("cannot replace {}", out.display()))?;
    crate::outln!(
        "{}",
        serde_json::json!({
            "filter": out.display().to_string(), "store": store.display().to_string(),
            "hashes": count, "shards": 1u32 << header.bits, "bytes": bytes,
            "bytes_per_hash": bytes as f64 / count.max(1) as f64,
            "seconds": started.elapsed().as_secs_f64(),
        })
    )?;
    Ok(())
}

/// The prefix of a range file: its name (without extension) when that is 5 hex digits.
fn range_prefix(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    (stem.len() == 5 && stem.bytes().all(|b| b.is_ascii_hexdigit())).then(|| stem.to_owned())
}

/// Every input file: the files given, and the files of the directories given, in name order.
fn files(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for i in inputs {
        if i.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(i)
                .with_context(|| format!("cannot read {}", i.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(i.clone());
        }
    }
    Ok(out)
}

/// A record being imported: bucket (20 bits), key (64 bits) and count byte (8 bits) packed,
/// and the hash's bytes from the 11th on (a full store's; zero in a compact one).
type Pending = (u128, [u8; 10]);

fn packed(bucket: usize, key: u64, count: u8) -> u128 {
    ((bucket as u128) << 72) | (u128::from(key) << 8) | u128::from(count)
}

/// The order of records in a store: bucket and key, then the rest of the hash.
fn order(r: &Pending) -> (u128, [u8; 10]) {
    (r.0 >> 8, r.1)
}

/// Calls `f` with each record of the input files, in input order; `f` returns false to stop.
fn input_records(
    inputs: &[PathBuf],
    kind: HashKind,
    width: usize,
    mut f: impl FnMut(Pending) -> anyhow::Result<bool>,
) -> anyhow::Result<bool> {
    for path in files(inputs)? {
        let prefix = range_prefix(&path);
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        for (i, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
            let line = line.with_context(|| format!("{}:{}: not text", path.display(), i + 1))?;
            match parse_line(&line, kind, prefix.as_deref()) {
                Ok(Some((hash, count))) => {
                    let (bucket, key) = split(&hash);
                    let rest = if width == FULL_RECORD {
                        breach::hash_rest(&hash)
                    } else {
                        [0; 10]
                    };
                    if !f((packed(bucket, key, count_byte(count)), rest))? {
                        return Ok(false);
                    }
                }
                Ok(None) => {}
                Err(e) => bail!(
                    "{}:{}: {e} (a {} line is {}HASH:COUNT); the store is unchanged",
                    path.display(),
                    i + 1,
                    kind.as_str(),
                    if prefix.is_some() { "range-file " } else { "" }
                ),
            }
        }
    }
    Ok(true)
}

/// The records of an existing store, in order, read sequentially.
fn store_records(path: &Path, width: usize) -> anyhow::Result<impl Iterator<Item = Pending>> {
    use std::io::Read as _;
    let mut f = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut head = vec![0u8; HEADER + INDEX];
    f.read_exact(&mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let index: Vec<u64> = head[HEADER..]
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    let mut bucket = 0usize;
    let mut at = 0u64;
    let mut buf = vec![0u8; width];
    Ok(std::iter::from_fn(move || {
        while bucket < BUCKETS && at >= index[bucket + 1] {
            bucket += 1;
        }
        if bucket >= BUCKETS || f.read_exact(&mut buf).is_err() {
            return None;
        }
        at += 1;
        let key = u64::from_be_bytes(buf[..8].try_into().unwrap_or_default());
        let mut rest = [0u8; 10];
        if width == FULL_RECORD {
            rest.copy_from_slice(&buf[8..18]);
        }
        Some((packed(bucket, key, buf[width - 1]), rest))
    }))
}

/// Writes a store record by record, in order, merging repeats (the largest count kept), and
/// the header and index at the end.
struct StoreWriter {
    w: std::io::BufWriter<File>,
    kind: HashKind,
    width: usize,
    /// Records per bucket.
    counts: Vec<u64>,
    last: Option<Pending>,
    written: u64,
}

impl StoreWriter {
    fn create(path: &Path, kind: HashKind, width: usize) -> anyhow::Result<Self> {
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 22, f);
        w.write_all(&vec![0u8; HEADER + INDEX])?;
        Ok(Self {
            w,
            kind,
            width,
            counts: vec![0; BUCKETS],
            last: None,
            written: 0,
        })
    }

    fn push(&mut self, r: Pending) -> anyhow::Result<()> {
        match &mut self.last {
            Some(last) if order(last) == order(&r) => {
                if (r.0 as u8) > (last.0 as u8) {
                    *last = r;
                }
                Ok(())
            }
            _ => {
                if let Some(prev) = self.last.replace(r) {
                    self.emit(prev)?;
                }
                Ok(())
            }
        }
    }

    fn emit(&mut self, (p, rest): Pending) -> anyhow::Result<()> {
        let key = (p >> 8) as u64;
        self.counts[(p >> 72) as usize] += 1;
        self.written += 1;
        if self.width == FULL_RECORD {
            self.w
                .write_all(&breach::full_record(key, &rest, p as u8))?;
        } else {
            self.w.write_all(&breach::record(key, p as u8))?;
        }
        Ok(())
    }

    /// Writes the header and index; how many records the store holds.
    fn finish(mut self) -> anyhow::Result<u64> {
        if let Some(last) = self.last.take() {
            self.emit(last)?;
        }
        let f = self
            .w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing the store: {e}"))?;
        let mut head = Vec::with_capacity(HEADER + INDEX);
        head.extend_from_slice(&breach::header(self.kind, self.written, self.width));
        let mut at = 0u64;
        for c in &self.counts {
            head.extend_from_slice(&at.to_le_bytes());
            at += c;
        }
        head.extend_from_slice(&at.to_le_bytes());
        f.write_all_at(&head, 0)?;
        f.sync_all()?;
        Ok(self.written)
    }
}

fn import(inputs: &[PathBuf], store: &Path, kind: HashKind, width: usize) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    // What the store holds already (incremental updates).
    let mut before = 0u64;
    if store.exists() {
        let s = Store::open(store)?;
        if s.kind != kind {
            bail!(
                "{} holds {} hashes; this import is {}",
                store.display(),
                s.kind.as_str(),
                kind.as_str()
            );
        }
        if s.width != width {
            let full = s.width == FULL_RECORD;
            bail!(
                "{} is a {} store; import {}",
                store.display(),
                if full { "full" } else { "compact" },
                if full {
                    "with --full"
                } else {
                    "without --full"
                }
            );
        }
        before = s.count;
    }
    let tmp = store.with_extension(format!("tmp.{}", std::process::id()));
    let result = import_into(inputs, store, &tmp, kind, width, before > 0);
    let hashes = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, store).with_context(|| format!("cannot replace {}", store.display()))?;
    let size = std::fs::metadata(store)?.len();
    crate::outln!(
        "{}",
        serde_json::json!({
            "store": store.display().to_string(), "kind": kind.as_str(),
            "hashes": hashes, "added": hashes.saturating_sub(before),
            "bytes": size, "bytes_per_hash": size as f64 / (hashes.max(1)) as f64,
            "seconds": started.elapsed().as_secs_f64(),
        })
    )?;
    Ok(0)
}

/// Writes the new store to `tmp`: streamed, merged with the old one, when the input is sorted
/// (Pwned Passwords' files are, so memory stays flat whatever their size); sorted in memory
/// (32 bytes a hash) when it is not.
fn import_into(
    inputs: &[PathBuf],
    store: &Path,
    tmp: &Path,
    kind: HashKind,
    width: usize,
    merge: bool,
) -> anyhow::Result<u64> {
    {
        let mut old = if merge {
            Some(store_records(store, width)?.peekable())
        } else {
            None
        };
        let mut w = StoreWriter::create(tmp, kind, width)?;
        let mut last: Option<(u128, [u8; 10])> = None;
        let sorted = input_records(inputs, kind, width, |r| {
            if last.is_some_and(|l| order(&r) < l) {
                return Ok(false);
            }
            last = Some(order(&r));
            if let Some(old) = &mut old {
                while let Some(o) = old.next_if(|o| order(o) <= order(&r)) {
                    w.push(o)?;
                }
            }
            w.push(r)?;
            Ok(true)
        })?;
        if sorted {
            if let Some(old) = old {
                for o in old {
                    w.push(o)?;
                }
            }
            return w.finish();
        }
    }
    // Unsorted input: everything in memory, sorted, written.
    let mut all: Vec<Pending> = Vec::new();
    if merge {
        all.extend(store_records(store, width)?);
    }
    input_records(inputs, kind, width, |r| {
        all.push(r);
        Ok(true)
    })?;
    all.sort_unstable_by_key(|r| (order(r), r.0 as u8));
    let mut w = StoreWriter::create(tmp, kind, width)?;
    for r in all {
        w.push(r)?;
    }
    w.finish()
}
