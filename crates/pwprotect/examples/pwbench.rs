//! The data and the plain competitor of `scripts/bench-pwprotect`.
//!
//! - `pwbench gen N DIR`: `DIR/pwned.txt`, N SHA-1 hashes in Pwned Passwords' text format
//!   (`HASH:COUNT`, CRLF, sorted), 5,000 of them the hashes of `breached-password-{i}`;
//!   `DIR/requests.jsonl`, 10,000 `check --batch` requests, those 5,000 and 5,000 others in
//!   turn; `DIR/passwords.txt`, the same passwords one a line; `DIR/terms.txt`, 100,000 terms
//!   of 4 to 16 letters.
//! - `pwbench search|search-cold FILE PASSWORDS`: the plain way to use the text file: SHA-1 the password,
//!   binary search over the sorted file by byte offset (read a block, skip to the next line,
//!   compare); prints one JSON line with p50, p99 and lookups per second, after one warm pass
//!   (`search`) or none (`search-cold`, after the caller dropped the page cache).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::time::Instant;

fn sha1_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// xorshift64*: fast, reproducible filler.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn generate(n: usize, dir: &str) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let breached: Vec<String> = (0..5_000)
        .map(|i| format!("breached-password-{i}"))
        .collect();
    let mut hashes: Vec<[u8; 20]> = Vec::with_capacity(n);
    for p in &breached {
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, p.as_bytes());
        hashes.push(d.as_ref().try_into().unwrap());
    }
    while hashes.len() < n {
        let mut h = [0u8; 20];
        h[..8].copy_from_slice(&rng.next().to_be_bytes());
        h[8..16].copy_from_slice(&rng.next().to_be_bytes());
        h[16..].copy_from_slice(&rng.next().to_be_bytes()[..4]);
        hashes.push(h);
    }
    hashes.sort_unstable();
    hashes.dedup();
    let mut w =
        BufWriter::with_capacity(1 << 22, File::create(format!("{dir}/pwned.txt")).unwrap());
    for h in &hashes {
        for b in h {
            write!(w, "{b:02X}").unwrap();
        }
        write!(w, ":{}\r\n", 1 + rng.next() % 1_000).unwrap();
    }
    w.flush().unwrap();
    let mut req = BufWriter::new(File::create(format!("{dir}/requests.jsonl")).unwrap());
    let mut pw = BufWriter::new(File::create(format!("{dir}/passwords.txt")).unwrap());
    for (i, b) in breached.iter().enumerate() {
        for p in [b.clone(), format!("unseen-password-{i}")] {
            writeln!(
                req,
                "{}",
                serde_json::json!({"password": p, "account": "bench"})
            )
            .unwrap();
            writeln!(pw, "{p}").unwrap();
        }
    }
    req.flush().unwrap();
    pw.flush().unwrap();
    let mut t = BufWriter::new(File::create(format!("{dir}/terms.txt")).unwrap());
    for _ in 0..100_000 {
        let len = 4 + (rng.next() % 13) as usize;
        let term: String = (0..len)
            .map(|_| (b'a' + (rng.next() % 26) as u8) as char)
            .collect();
        writeln!(t, "{term}").unwrap();
    }
    t.flush().unwrap();
    println!("{} hashes", hashes.len());
}

/// Binary search over the sorted text file: is `hash` (40 upper-case hex) in it?
fn text_search(f: &File, len: u64, hash: &str) -> bool {
    let (mut lo, mut hi) = (0u64, len);
    let mut buf = [0u8; 256];
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let n = f.read_at(&mut buf, mid).unwrap();
        let chunk = &buf[..n];
        // The first whole line at or after mid (mid itself when it starts a line).
        let start = if mid == 0 {
            0
        } else {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => {
                    hi = mid;
                    continue;
                }
            }
        };
        if start + 40 > n {
            hi = mid;
            continue;
        }
        let line = &chunk[start..start + 40];
        match line.cmp(hash.as_bytes()) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = mid + start as u64 + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    false
}

fn search(file: &str, passwords: &str, warm: bool) {
    let f = File::open(file).unwrap();
    let len = f.metadata().unwrap().len();
    let pws: Vec<String> = std::fs::read_to_string(passwords)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut found = 0;
    // A warm pass (unless measuring a cold page cache), then the measured one.
    if warm {
        for p in &pws {
            text_search(&f, len, &sha1_hex(p));
        }
    }
    let mut ns = Vec::with_capacity(pws.len());
    let all = Instant::now();
    for p in &pws {
        let t = Instant::now();
        if text_search(&f, len, &sha1_hex(p)) {
            found += 1;
        }
        ns.push(t.elapsed().as_nanos() as u64);
    }
    let secs = all.elapsed().as_secs_f64();
    ns.sort_unstable();
    let q = |x: f64| ns[((ns.len() as f64 * x) as usize).min(ns.len() - 1)];
    println!(
        "{}",
        serde_json::json!({
            "lookups": pws.len(), "found": found, "p50_ns": q(0.5), "p99_ns": q(0.99),
            "per_sec": pws.len() as f64 / secs,
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => generate(args[2].parse().unwrap(), &args[3]),
        Some("search") => search(&args[2], &args[3], true),
        Some("search-cold") => search(&args[2], &args[3], false),
        _ => {
            eprintln!("usage: pwbench gen N DIR | pwbench search FILE PASSWORDS");
            std::process::exit(2);
        }
    }
}
