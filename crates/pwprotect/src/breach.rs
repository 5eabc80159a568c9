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
    },
    /// Say whether the password on standard input is in the store: exit 1 when it is (with
    /// its count's order of magnitude), 0 when not.
    Lookup {
        /// The store.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
    },
}

pub(crate) fn run(cmd: &BreachCommand) -> anyhow::Result<u8> {
    match cmd {
        BreachCommand::Import {
            inputs,
            store,
            ntlm,
            full,
        } => import(
            inputs,
            store,
            if *ntlm {
                HashKind::Ntlm
            } else {
                HashKind::Sha1
            },
            if *full { FULL_RECORD } else { RECORD },
        ),
        BreachCommand::Lookup { store } => {
            let password = crate::read_password()?;
            let s = Store::open(store)?;
            match s.lookup(&password)? {
                Some(floor) => {
                    println!("breached: seen at least {floor} times");
                    Ok(1)
                }
                None => {
                    println!("not in the store");
                    Ok(0)
                }
            }
        }
    }
}

/// An open store.
pub(crate) struct Store {
    file: File,
    path: PathBuf,
    kind: HashKind,
    width: usize,
}

impl Store {
    /// Opens `path` and checks its header against its length.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
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
        })
    }

    /// The hash kind.
    pub(crate) fn kind(&self) -> HashKind {
        self.kind
    }

    /// The records of one bucket.
    fn bucket(&self, bucket: usize) -> anyhow::Result<Vec<u8>> {
        let mut range = [0u8; 16];
        self.file
            .read_exact_at(&mut range, (HEADER + bucket * 8) as u64)
            .with_context(|| format!("{}: index", self.path.display()))?;
        let (start, end) = (
            u64::from_le_bytes(range[..8].try_into().unwrap_or_default()),
            u64::from_le_bytes(range[8..].try_into().unwrap_or_default()),
        );
        if end < start || end - start > 1 << 24 {
            bail!(
                "{}: damaged index at bucket {bucket:05x}",
                self.path.display()
            );
        }
        let mut records = vec![0u8; ((end - start) as usize) * self.width];
        self.file
            .read_exact_at(
                &mut records,
                (HEADER + INDEX) as u64 + start * self.width as u64,
            )
            .with_context(|| format!("{}: records of bucket {bucket:05x}", self.path.display()))?;
        Ok(records)
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
    fn hash(&self, password: &str) -> Vec<u8> {
        match self.kind {
            HashKind::Sha1 => {
                ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes())
                    .as_ref()
                    .to_vec()
            }
            HashKind::Ntlm => {
                use md4::Digest as _;
                let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
                md4::Md4::digest(&utf16).to_vec()
            }
        }
    }

    /// Whether `password` is in the store: the least count its record stands for.
    pub(crate) fn lookup(&self, password: &str) -> anyhow::Result<Option<u64>> {
        let (bucket, key) = split(&self.hash(password));
        let records = self.bucket(bucket)?;
        Ok(breach::find(&records, self.width, key).map(breach::count_floor))
    }
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

fn rest_of(hash: &[u8]) -> [u8; 10] {
    let mut r = [0u8; 10];
    let rest = hash.get(10..).unwrap_or_default();
    let n = rest.len().min(10);
    r[..n].copy_from_slice(&rest[..n]);
    r
}

fn import(inputs: &[PathBuf], store: &Path, kind: HashKind, width: usize) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let mut all: Vec<Pending> = Vec::new();
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
            bail!(
                "{} is a {} store; import {}",
                store.display(),
                if s.width == FULL_RECORD {
                    "full"
                } else {
                    "compact"
                },
                if s.width == FULL_RECORD {
                    "with --full"
                } else {
                    "without --full"
                }
            );
        }
        let bytes =
            std::fs::read(store).with_context(|| format!("cannot read {}", store.display()))?;
        let index = &bytes[HEADER..HEADER + INDEX];
        let records = &bytes[HEADER + INDEX..];
        for b in 0..BUCKETS {
            let at = |i: usize| {
                u64::from_le_bytes(index[i * 8..i * 8 + 8].try_into().unwrap_or_default())
            };
            let (start, end) = (at(b) as usize, at(b + 1) as usize);
            for r in records
                .get(start * width..end * width)
                .unwrap_or_default()
                .chunks_exact(width)
            {
                let key = u64::from_be_bytes(r[..8].try_into().unwrap_or_default());
                let mut rest = [0u8; 10];
                if width == FULL_RECORD {
                    rest.copy_from_slice(&r[8..18]);
                }
                all.push((packed(b, key, r[width - 1]), rest));
            }
        }
        before = all.len() as u64;
    }
    for path in files(inputs)? {
        let prefix = range_prefix(&path);
        let f = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.with_context(|| format!("{}:{}: not text", path.display(), i + 1))?;
            match parse_line(&line, kind, prefix.as_deref()) {
                Ok(Some((hash, count))) => {
                    let (bucket, key) = split(&hash);
                    let rest = if width == FULL_RECORD {
                        rest_of(&hash)
                    } else {
                        [0; 10]
                    };
                    all.push((packed(bucket, key, count_byte(count)), rest));
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
    all.sort_unstable_by_key(|(p, rest)| (*p >> 8, *rest, *p as u8));
    // One record per hash, the largest count kept (sorted, so the last of each run).
    let mut records: Vec<Pending> = Vec::with_capacity(all.len());
    for r in all {
        match records.last_mut() {
            Some(last) if last.0 >> 8 == r.0 >> 8 && last.1 == r.1 => *last = r,
            _ => records.push(r),
        }
    }
    let tmp = store.with_extension(format!("tmp.{}", std::process::id()));
    let result = write_store(&tmp, kind, width, &records);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, store).with_context(|| format!("cannot replace {}", store.display()))?;
    let size = std::fs::metadata(store)?.len();
    println!(
        "{}",
        serde_json::json!({
            "store": store.display().to_string(), "kind": kind.as_str(),
            "hashes": records.len(), "added": records.len() as u64 - before.min(records.len() as u64),
            "bytes": size, "bytes_per_hash": size as f64 / (records.len().max(1)) as f64,
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
    Ok(0)
}

fn write_store(
    path: &Path,
    kind: HashKind,
    width: usize,
    records: &[Pending],
) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    w.write_all(&breach::header(kind, records.len() as u64, width))?;
    // The index: the first record of every bucket, then the total.
    let mut at = 0usize;
    for b in 0..BUCKETS {
        w.write_all(&(at as u64).to_le_bytes())?;
        while at < records.len() && (records[at].0 >> 72) as usize == b {
            at += 1;
        }
    }
    w.write_all(&(records.len() as u64).to_le_bytes())?;
    for (p, rest) in records {
        let key = (*p >> 8) as u64;
        if width == FULL_RECORD {
            let mut r = [0u8; FULL_RECORD];
            r[..8].copy_from_slice(&key.to_be_bytes());
            r[8..18].copy_from_slice(rest);
            r[18] = *p as u8;
            w.write_all(&r)?;
        } else {
            w.write_all(&breach::record(key, *p as u8))?;
        }
    }
    let f = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    f.sync_all()?;
    Ok(())
}
