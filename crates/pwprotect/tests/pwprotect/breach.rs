//! The breached-password store: Pwned Passwords text in (whole files, range files, a
//! directory; SHA-1 and NTLM), lookups, the `breached` reason in the agents, bad input, and
//! lookups while the store is being replaced. Hashes come from `sha1sum` and from the
//! well-known NTLM of `password`, not from the code under test.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::{run, text};

/// SHA-1 of `password` in upper-case hex, by coreutils' sha1sum.
fn sha1(password: &str) -> String {
    let o = Command::new("sh")
        .args(["-c", "printf %s \"$1\" | sha1sum", "sh", password])
        .output()
        .unwrap();
    text(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_ascii_uppercase()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `pwprotect breach import --store STORE ARGS...`.
fn import(store: &Path, args: &[&str]) -> std::process::Output {
    let mut a = vec!["breach", "import", "--store", s(store)];
    a.extend_from_slice(args);
    run(&a, b"")
}

fn lookup(store: &Path, password: &str) -> i32 {
    run(
        &["breach", "lookup", "--store", s(store)],
        format!("{password}\n").as_bytes(),
    )
    .status
    .code()
    .unwrap()
}

#[test]
fn pwned_passwords_text_becomes_a_store_of_nine_bytes_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A whole file (CRLF, as Pwned Passwords is served) with 20,000 filler hashes, and a range
    // file named by its prefix in a directory.
    let mut whole = format!("{}:10434004\r\n", sha1("password"));
    for i in 0..20_000u32 {
        whole.push_str(&format!(
            "{:08X}{:032X}:{}\r\n",
            i.wrapping_mul(2_654_435_761),
            i,
            i + 1
        ));
    }
    whole.push_str(&format!("{}:3\r\n", sha1("Summer2019")));
    std::fs::write(d.join("pwned.txt"), whole).unwrap();
    let h = sha1("ContoS0Bl@nkf9!");
    std::fs::create_dir(d.join("ranges")).unwrap();
    std::fs::write(
        d.join("ranges").join(format!("{}.txt", &h[..5])),
        format!("{}:7\n", &h[5..]),
    )
    .unwrap();
    let store = d.join("sha1.store");
    let o = import(&store, &[s(&d.join("pwned.txt"))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["hashes"], 20_002);
    // Header, the bucket index (2^20 + 1 offsets), then 9 bytes a hash.
    let len = std::fs::metadata(&store).unwrap().len();
    assert_eq!(len, 32 + 8 * ((1 << 20) + 1) + 9 * 20_002);
    assert_eq!(report["bytes"], len);
    assert_eq!(lookup(&store, "password"), 1);
    assert_eq!(lookup(&store, "Summer2019"), 1);
    assert_eq!(lookup(&store, "ContoS0Bl@nkf9!"), 0);
    assert_eq!(lookup(&store, "correct horse battery staple"), 0);
    // Incremental: the range directory adds one.
    let o = import(&store, &[s(&d.join("ranges"))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["hashes"], 20_003);
    assert_eq!(report["added"], 1);
    assert_eq!(lookup(&store, "ContoS0Bl@nkf9!"), 1);
    let o = run(&["breach", "lookup", "--store", s(&store)], b"password\n");
    assert!(
        text(&o.stdout).contains("at least 8388608"),
        "{}",
        text(&o.stdout)
    );

    // The agents: `breached`, its own reason; audit accepts and says what enforce would do.
    let o = run(
        &["check", "--breach-store", s(&store), "--json"],
        b"ContoS0Bl@nkf9!\n",
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reason"], "breached");
    let o = run(
        &[
            "check",
            "--breach-store",
            s(&store),
            "--json",
            "--mode",
            "audit",
        ],
        b"ContoS0Bl@nkf9!\n",
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["would_reject"],
        true
    );
    // A password the lists reject keeps that reason.
    let o = run(
        &["check", "--breach-store", s(&store), "--json"],
        b"password\n",
    );
    assert_ne!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["reason"],
        "breached"
    );
    let mut samba = Command::new(env!("CARGO_BIN_EXE_pwprotect"));
    samba
        .args(["samba-check", "--breach-store", s(&store)])
        .env("SAMBA_CPS_ACCOUNT_NAME", "alice");
    let o = crate::run_command(samba, b"ContoS0Bl@nkf9!\n");
    assert_eq!(o.status.code(), Some(1));
    let line: Value = serde_json::from_str(text(&o.stderr).lines().last().unwrap()).unwrap();
    assert_eq!(line["outcome"], "fail-breached");
    assert_eq!(line["event"], 30040);

    // NTLM: the well-known NT hash of `password`.
    std::fs::write(d.join("ntlm.txt"), "8846F7EAEE8FB117AD06BDD830B7586C:5\n").unwrap();
    let ntlm = d.join("ntlm.store");
    let o = import(&ntlm, &["--ntlm", s(&d.join("ntlm.txt"))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(lookup(&ntlm, "password"), 1);
    assert_eq!(lookup(&ntlm, "Password"), 0);
    // Mixing kinds is refused.
    let o = import(&ntlm, &[s(&d.join("pwned.txt"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("holds ntlm"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_input_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("s.store");
    std::fs::write(d.join("ok.txt"), format!("{}:1\n", sha1("password"))).unwrap();
    assert_eq!(
        import(&store, &[s(&d.join("ok.txt"))]).status.code(),
        Some(0)
    );
    let before = std::fs::read(&store).unwrap();
    for (name, content, says) in [
        (
            "short.txt",
            "5BAA61E4:1\n",
            "short.txt:1: the hash is not 40 hex digits",
        ),
        (
            "nocount.txt",
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8\n",
            "nocount.txt:1: not HASH:COUNT",
        ),
        (
            "count.txt",
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:many\n",
            "count.txt:1: the count",
        ),
    ] {
        std::fs::write(d.join(name), content).unwrap();
        let o = import(&store, &[s(&d.join(name))]);
        assert_eq!(o.status.code(), Some(2));
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says) && err.contains("unchanged"), "{err}");
        assert_eq!(std::fs::read(&store).unwrap(), before);
    }
    // A damaged index (a bucket ending before it starts): one line naming the bucket.
    let damaged = d.join("damaged.store");
    let mut bytes = before.clone();
    let bucket = 0x5baa6usize; // SHA-1("password") begins 5BAA6
    bytes[32 + bucket * 8..32 + bucket * 8 + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&damaged, bytes).unwrap();
    let o = run(&["breach", "lookup", "--store", s(&damaged)], b"password\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("damaged index at bucket 5baa6"),
        "{}",
        text(&o.stderr)
    );
    // A truncated store, and a file that is not one: one line each, never a wrong answer.
    let cut = d.join("cut.store");
    std::fs::write(&cut, &before[..before.len() - 4]).unwrap();
    std::fs::write(d.join("other.store"), b"hello").unwrap();
    for bad in [cut, d.join("other.store"), d.join("missing.store")] {
        let o = run(&["check", "--breach-store", s(&bad)], b"x\n");
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    }
}

#[test]
fn lookups_while_the_store_is_replaced_see_the_old_or_the_new() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let store = d.join("s.store");
    std::fs::write(d.join("a.txt"), format!("{}:1\n", sha1("password"))).unwrap();
    assert_eq!(
        import(&store, &[s(&d.join("a.txt"))]).status.code(),
        Some(0)
    );
    let writer = {
        let (d, store) = (d, store.clone());
        std::thread::spawn(move || {
            for i in 0..6u32 {
                std::fs::write(d.join("b.txt"), format!("{:040X}:1\n", i + 1)).unwrap();
                let o = import(&store, &[s(&d.join("b.txt"))]);
                assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
            }
        })
    };
    let mut lookups = 0;
    while !writer.is_finished() || lookups < 10 {
        assert_eq!(lookup(&store, "password"), 1);
        lookups += 1;
    }
    writer.join().unwrap();
}

#[test]
fn the_range_api_answers_from_a_full_store_under_curl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut whole = format!("{}:10434004\r\n", sha1("password"));
    for i in 0..2_000u32 {
        whole.push_str(&format!("5BAA6{:035X}:{}\r\n", u64::from(i) * 7_919, i + 1));
    }
    std::fs::write(d.join("pwned.txt"), whole).unwrap();
    std::fs::write(d.join("ntlm.txt"), "8846F7EAEE8FB117AD06BDD830B7586C:5\n").unwrap();
    let (sha, nt) = (d.join("sha1.store"), d.join("ntlm.store"));
    for (args, store) in [
        (vec!["--full", s(&d.join("pwned.txt"))], &sha),
        (vec!["--full", "--ntlm", s(&d.join("ntlm.txt"))], &nt),
    ] {
        let o = import(store, &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    // A full store is 19 bytes a hash, and lookups work on it as on a compact one.
    assert_eq!(
        std::fs::metadata(&sha).unwrap().len(),
        32 + 8 * ((1 << 20) + 1) + 19 * 2_001
    );
    assert_eq!(lookup(&sha, "password"), 1);
    let (ca, cert, key) = crate::policy::certificates(d);
    let server = crate::policy::serve(&[
        "--listen",
        "127.0.0.1:0",
        "--cert",
        s(&cert),
        "--key",
        s(&key),
        "--range-store",
        s(&sha),
        "--range-store",
        s(&nt),
    ]);
    let base = server.https.clone().unwrap();
    let get = |path: &str, headers: &[&str]| {
        let mut c = Command::new("curl");
        c.args(["-sS", "-w", "\n%{http_code}", "--cacert", s(&ca)]);
        for h in headers {
            c.args(["-H", h]);
        }
        let o = c.arg(format!("{base}{path}")).output().unwrap();
        let out = text(&o.stdout);
        let (body, code) = out.rsplit_once('\n').unwrap();
        assert_ne!(code, "000", "curl: {}", text(&o.stderr));
        (code.to_owned(), body.to_owned())
    };
    // The suffix of SHA-1("password") that api.pwnedpasswords.com documents.
    let (code, body) = get("/range/5BAA6", &[]);
    assert_eq!(code, "200");
    assert!(
        body.contains("1E4C9B93F3F0682250B6CF8331B7EE68FD8:8388608\r\n"),
        "{body}"
    );
    assert_eq!(body.lines().count(), 2_001);
    // CRLF line ends, as api.pwnedpasswords.com sends them.
    assert!(
        body.split_terminator('\n')
            .all(|l| l.len() > 36 && l.ends_with('\r'))
    );
    let (_, body) = get("/range/8846F?mode=ntlm", &[]);
    assert_eq!(body.trim_end(), "7EAEE8FB117AD06BDD830B7586C:4");
    // Padding: 800 to 1,000 lines, the real ones among them, the rest with count 0.
    let (_, body) = get("/range/8846F?mode=ntlm", &["Add-Padding: true"]);
    let n = body.lines().count();
    assert!((800..=1_000).contains(&n), "{n}");
    assert!(body.contains("7EAEE8FB117AD06BDD830B7586C:4"));
    assert_eq!(
        body.lines()
            .filter(|l| l.trim_end().ends_with(":0"))
            .count(),
        n - 1
    );
    assert!(
        body.lines()
            .all(|l| l.split(':').next().unwrap().len() == 27)
    );
    // Every prefix answers; a bad one is 400.
    assert_eq!(get("/range/00000", &[]), ("200".to_owned(), String::new()));
    assert_eq!(get("/range/XYZ12", &[]).0, "400");
    assert_eq!(get("/range/5BAA61", &[]).0, "400");
    // A sign is not a hex digit, though a radix parse alone would take one.
    assert_eq!(get("/range/+BAA6", &[]).0, "400");
    drop(server);
    // A compact store cannot answer the range API: refused at start, in one line.
    let compact = d.join("compact.store");
    import(&compact, &[s(&d.join("pwned.txt"))]);
    let o = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cert",
            s(&cert),
            "--key",
            s(&key),
            "--range-store",
            s(&compact),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("not a full store"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn sorted_shuffled_and_incremental_imports_make_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 3,000 lines with repeats (the larger count wins), sorted and shuffled.
    let mut lines: Vec<String> = (0..3_000u64)
        .map(|i| {
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_500;
            format!(
                "{:016X}{:024X}:{}",
                h.wrapping_mul(0x2545_F491_4F6C_DD1D),
                h,
                i + 1
            )
        })
        .collect();
    lines.sort();
    std::fs::write(d.join("sorted.txt"), lines.join("\r\n")).unwrap();
    let mut shuffled = lines.clone();
    shuffled.reverse();
    shuffled.swap(0, 1_000);
    std::fs::write(d.join("shuffled.txt"), shuffled.join("\n")).unwrap();
    std::fs::write(d.join("first.txt"), lines[..1_700].join("\n")).unwrap();
    std::fs::write(d.join("second.txt"), lines[1_700..].join("\n")).unwrap();
    // Imports `file` (with `extra`) into `store`; the store's bytes.
    let made = |store: &str, file: &str, extra: &[&str]| {
        let (store, file) = (d.join(store), d.join(file));
        let mut args = extra.to_vec();
        args.push(s(&file));
        let o = import(&store, &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        std::fs::read(store).unwrap()
    };
    let sorted = made("a.store", "sorted.txt", &[]);
    assert_eq!(made("b.store", "shuffled.txt", &[]), sorted);
    made("c.store", "second.txt", &[]);
    assert_eq!(made("c.store", "first.txt", &[]), sorted);
    let full = made("x.store", "sorted.txt", &["--full"]);
    assert_ne!(full, sorted);
    assert_eq!(made("y.store", "shuffled.txt", &["--full"]), full);
}

/// `breach lookup --batch` over `passwords` (one a line): its output lines.
fn lookup_batch(store: &Path, filter: Option<&Path>, passwords: &str) -> (i32, Vec<Value>) {
    let mut a = vec!["breach", "lookup", "--batch", "--store", s(store)];
    if let Some(f) = filter {
        a.extend(["--filter", s(f)]);
    }
    let o = run(&a, passwords.as_bytes());
    assert!(o.status.code() != Some(2), "{}", text(&o.stderr));
    let lines = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (o.status.code().unwrap(), lines)
}

#[test]
fn a_filter_answers_as_the_store_does_and_a_stale_or_damaged_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 3,000 passwords hashed by one sha1sum run, and 20,000 filler hashes.
    std::fs::create_dir(d.join("pw")).unwrap();
    for i in 0..3_000 {
        std::fs::write(d.join("pw").join(format!("{i}")), format!("breached-{i}")).unwrap();
    }
    let o = Command::new("sh")
        .current_dir(d.join("pw"))
        .args(["-c", "sha1sum *"])
        .output()
        .unwrap();
    let mut body = String::new();
    for line in text(&o.stdout).lines() {
        let hash = line.split_whitespace().next().unwrap().to_ascii_uppercase();
        body.push_str(&format!("{hash}:2\n"));
    }
    for i in 0..20_000u64 {
        body.push_str(&format!(
            "{:016X}{:024X}:1\n",
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            i
        ));
    }
    std::fs::write(d.join("pwned.txt"), body).unwrap();
    let (store, filter) = (d.join("s.store"), d.join("s.fuse"));
    let o = import(&store, &["--filter", s(&filter), s(&d.join("pwned.txt"))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report: Value = serde_json::from_str(text(&o.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(report["hashes"], 23_000);
    // 16-bit fingerprints, a little over 1.125 a hash.
    let per_hash = report["bytes_per_hash"].as_f64().unwrap();
    assert!((2.2..2.7).contains(&per_hash), "{per_hash}");

    let mut passwords = String::new();
    for i in 0..3_000 {
        passwords.push_str(&format!("breached-{i}\nnot-breached-{i}\n"));
    }
    let (code, plain) = lookup_batch(&store, None, &passwords);
    assert_eq!(code, 1);
    assert_eq!(plain.len(), 6_000);
    let breached = |v: &[Value]| v.iter().filter(|l| l["breached"] == true).count();
    assert_eq!(breached(&plain), 3_000);
    assert!(plain.iter().step_by(2).all(|l| l["count"] == 2));
    let (_, filtered) = lookup_batch(&store, Some(&filter), &passwords);
    assert_eq!(filtered, plain);
    // Sixteen shards (as a store of 64 million hashes would have) answer the same.
    let o = run(
        &[
            "breach",
            "filter",
            "--store",
            s(&store),
            "--shard-bits",
            "4",
            s(&filter),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let (_, sharded) = lookup_batch(&store, Some(&filter), &passwords);
    assert_eq!(sharded, plain);
    // The agents take it too.
    let o = run(
        &[
            "check",
            "--breach-store",
            s(&store),
            "--breach-filter",
            s(&filter),
            "--json",
        ],
        b"breached-17\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["reason"],
        "breached"
    );

    // Damaged: a filter two bytes short, or with a shard's parameters changed (shard 0's
    // segment length): exit 2, one line saying what.
    let good = std::fs::read(&filter).unwrap();
    let mut changed = good.clone();
    changed[32 + 8] ^= 1;
    let bad = d.join("bad.fuse");
    for (bytes, says) in [
        (&good[..good.len() - 2], "bytes where its shards say"),
        (&changed[..], "shard 0 is damaged"),
    ] {
        std::fs::write(&bad, bytes).unwrap();
        let o = run(
            &[
                "breach",
                "lookup",
                "--store",
                s(&store),
                "--filter",
                s(&bad),
            ],
            b"x\n",
        );
        assert_eq!(o.status.code(), Some(2));
        let err = text(&o.stderr);
        assert!(err.contains(says) && err.lines().count() == 1, "{err}");
    }

    // Stale: after another import the old filter would miss the new hash; it is refused.
    let h = sha1("fresh-breach");
    std::fs::write(d.join("more.txt"), format!("{h}:1\n")).unwrap();
    let o = import(&store, &[s(&d.join("more.txt"))]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for args in [
        vec![
            "breach",
            "lookup",
            "--store",
            s(&store),
            "--filter",
            s(&filter),
        ],
        vec![
            "check",
            "--breach-store",
            s(&store),
            "--breach-filter",
            s(&filter),
        ],
    ] {
        let o = run(&args, b"fresh-breach\n");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = text(&o.stderr);
        assert!(
            err.contains("rebuild it") && err.lines().count() == 1,
            "{err}"
        );
    }
    let o = run(&["breach", "filter", "--store", s(&store), s(&filter)], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let (code, _) = lookup_batch(&store, Some(&filter), "fresh-breach\n");
    assert_eq!(code, 1);
}
