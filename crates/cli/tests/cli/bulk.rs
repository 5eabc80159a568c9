//! `mailsec check --input` against a running lab: a list with comments, blank lines, invalid
//! names, an IDN and a stalling server; JSON Lines; resuming after SIGKILL; shards; a SQLite
//! and a PostgreSQL store written by runs at the same time, and `check summary`; the progress
//! bar on a terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::dns::{Lab, lab};
use crate::{stderr, stdout};

fn command(lab: &Lab, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailsec"));
    c.args(args)
        .envs(lab.env.iter().cloned())
        .stdin(Stdio::null());
    c
}

fn run(lab: &Lab, args: &[&str]) -> Output {
    command(lab, args).output().unwrap()
}

fn spawn(lab: &Lab, args: &[&str]) -> Child {
    command(lab, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// JSON Lines: every line a complete object.
fn records(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// What identifies a record: the A-label name, or the input of a line that is no name.
fn key(v: &Value) -> String {
    v["domain"]
        .as_str()
        .or_else(|| v["input"].as_str())
        .unwrap_or_else(|| panic!("a record without domain or input: {v}"))
        .to_owned()
}

fn by_key(records: &[Value]) -> BTreeMap<String, &Value> {
    let map: BTreeMap<String, &Value> = records.iter().map(|r| (key(r), r)).collect();
    assert_eq!(map.len(), records.len(), "a domain twice");
    map
}

fn scale_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("d{i}.scale.test")).collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_list_with_comments_invalid_names_idns_and_a_stalling_server() {
    let lab = lab(&[]);
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(2000);
    let list = format!(
        "# scenario domains\n\
         \n\
         sts-enforce.test\n  DANE-EE.TEST.   # upper case, final dot and a comment\n\
         \t\n\
         not a name\n192.0.2.1\n-bad-.test\nbücher.test\n{long}\n\
         sts-slow.test\n\
         plain.test\n"
    );
    let list_path = dir.path().join("list.txt");
    std::fs::write(&list_path, &list).unwrap();
    let summary_path = dir.path().join("summary.json");
    let started = Instant::now();
    let o = run(
        &lab,
        &[
            "check",
            "--input",
            path_str(&list_path),
            "--json",
            "--no-connect",
            "--deadline",
            "3",
            "--summary-json",
            path_str(&summary_path),
        ],
    );
    // The policy host of sts-slow.test trickles its body for 30 s: the deadline ends it.
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    // Invalid names and a domain past its deadline: exit 1, and every line has its record.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&stdout(&o));
    assert_eq!(recs.len(), 9, "one record per name line:\n{}", stdout(&o));
    let map = by_key(&recs);

    let enforce = map["sts-enforce.test"];
    assert_eq!(enforce["summary"]["mta_sts"], "enforce");
    assert_eq!(enforce["input"], "sts-enforce.test");
    assert!(enforce["checked_at"].as_str().unwrap().ends_with('Z'));
    let ee = map["dane-ee.test"];
    assert_eq!(ee["input"], "DANE-EE.TEST.", "the input form is kept");
    assert_eq!(ee["mx"][0]["dane"], "required");

    let idn = map["xn--bcher-kva.test"];
    assert_eq!(idn["input"], "bücher.test");
    assert!(
        idn["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "M1"),
        "NXDOMAIN in the lab: {idn}"
    );

    for bad in ["not a name", "192.0.2.1", "-bad-.test"] {
        let r = map[bad];
        assert_eq!(r["domain"], Value::Null, "{bad}");
        assert_eq!(r["error"]["kind"], "invalid-name", "{bad}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("not a domain name: "),
            "{r}"
        );
    }
    let cut = recs
        .iter()
        .find(|r| r["input"].as_str().unwrap().starts_with("xxx"))
        .unwrap();
    assert_eq!(
        cut["input"].as_str().unwrap().len(),
        1024,
        "a long line is cut"
    );
    assert_eq!(cut["error"]["kind"], "invalid-name");

    let slow = map["sts-slow.test"];
    assert_eq!(slow["error"]["kind"], "deadline", "{slow}");
    assert_eq!(slow["input"], "sts-slow.test");
    assert_eq!(map["plain.test"]["summary"]["mta_sts"], "not deployed");

    // The summary: counts over the same records, as JSON and as text on stderr.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    assert_eq!(summary["domains"], 9);
    assert_eq!(summary["checked"], 4);
    assert_eq!(summary["not_checked"], 5);
    assert_eq!(
        summary["not_checked_by_kind"],
        serde_json::json!({"deadline": 1, "invalid-name": 4})
    );
    assert_eq!(summary["mta_sts"]["enforce"], 1);
    assert_eq!(summary["dane"], 1);
    let err = stderr(&o);
    assert!(
        err.contains("summary: 9 domains, 4 checked, 5 not checked (1 deadline, 4 invalid-name)"),
        "{err}"
    );

    // The same list on standard input, in text: the same domains, in the report's words.
    let mut child = command(
        &lab,
        &["check", "--input", "-", "--no-connect", "--deadline", "3"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(list.as_bytes()).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    for expected in [
        "== sts-enforce.test: ",
        "== dane-ee.test: not connected (--no-connect): no sender's verdict\n   input     DANE-EE.TEST.\n",
        "== xn--bcher-kva.test (bücher.test): ",
        "== not a name: not checked: not a domain name: ",
        "== sts-slow.test: not checked: the check did not end within the deadline of 3 s",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(text.matches("\n== ").count() + 1, 9, "{text}");
}

#[test]
fn a_run_killed_by_sigkill_resumes_without_losing_or_repeating_a_domain() {
    let lab = lab(&["--scale", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let mut names = scale_names(300);
    names.extend(["sts-enforce.test", "dane-ee.test", "not a name"].map(String::from));
    let list_path = dir.path().join("list.txt");
    std::fs::write(&list_path, names.join("\n")).unwrap();
    let out = dir.path().join("results.jsonl");
    let args = [
        "check",
        "--input",
        path_str(&list_path),
        "--resume",
        path_str(&out),
    ];

    // A slow run (4 at a time, connecting), killed once some results are in.
    let mut slow = args.to_vec();
    slow.extend(["--concurrency", "4"]);
    let mut child = spawn(&lab, &slow);
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let lines = std::fs::read(&out)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0);
        if lines >= 40 {
            break;
        }
        assert!(Instant::now() < until, "no progress: {lines} lines");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let complete: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    assert!(
        complete.len() < names.len(),
        "killed mid-way: {} of {}",
        complete.len(),
        names.len()
    );
    // And a kill in the middle of a line: half a record of a domain not done yet.
    let done: BTreeSet<String> = complete
        .iter()
        .map(|l| key(&serde_json::from_str(l).unwrap()))
        .collect();
    let pending = names
        .iter()
        .find(|n| n.ends_with(".scale.test") && !done.contains(*n))
        .unwrap();
    let mut cut = complete.concat();
    cut.push_str(&format!(
        "{{\"domain\":\"{pending}\",\"mx\":[{{\"host\":\"mx."
    ));
    std::fs::write(&out, cut).unwrap();

    let o = run(&lab, &args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an invalid name: exit 1\n{}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "from earlier runs ({} input lines skipped)",
            complete.len()
        )),
        "{err}"
    );
    let recs = records(&std::fs::read_to_string(&out).unwrap());
    let keys: Vec<String> = recs.iter().map(key).collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "no domain twice");
    let expected: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique, expected, "every domain once");
    assert_eq!(
        map_get(&recs, pending)["summary"]["mta_sts"],
        "enforce",
        "the cut record was checked again"
    );
    // The closing summary covers all of OUT, earlier runs included.
    assert!(
        err.contains(&format!("summary: {} domains", names.len())),
        "{err}"
    );

    // Once complete, a run again has nothing to do.
    let o = run(&lab, &args);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let this_run = err
        .lines()
        .find(|l| l.trim_start().starts_with("this run"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(this_run.split_whitespace().nth(2), Some("0"), "{err}");
    assert!(
        this_run.ends_with(&format!(
            "; {n} from earlier runs ({n} input lines skipped)",
            n = names.len()
        )),
        "{err}"
    );
    assert_eq!(
        records(&std::fs::read_to_string(&out).unwrap()).len(),
        names.len()
    );
}

#[test]
fn a_list_longer_than_one_resolver_batch() {
    // A run renews its resolver every 1,000 domains (hickory's DNSSEC validation cache would
    // otherwise grow with the list): the domains after the renewal validate as those before.
    let lab = lab(&["--scale", "1100"]);
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("list.txt");
    std::fs::write(&list_path, scale_names(1100).join("\n")).unwrap();
    let o = run(
        &lab,
        &[
            "check",
            "--input",
            path_str(&list_path),
            "--json",
            "--no-connect",
            "--concurrency",
            "64",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let recs = records(&stdout(&o));
    assert_eq!(by_key(&recs).len(), 1100);
    for r in &recs {
        assert_eq!(r["mx_security"], "secure", "{r}");
        assert_eq!(r["mx"][0]["dane"], "required", "{r}");
        assert_eq!(r["summary"]["mta_sts"], "enforce", "{r}");
    }
}

fn map_get<'a>(recs: &'a [Value], domain: &str) -> &'a Value {
    recs.iter().find(|r| r["domain"] == domain).unwrap()
}

/// FNV-1a 64-bit, written here again from its definition: the shard of a name must not depend on
/// mailsec's code.
fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 14_695_981_039_346_656_037;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(1_099_511_628_211);
    }
    h
}

#[test]
fn three_shards_partition_the_list_exactly() {
    let lab = lab(&["--scale", "200"]);
    let dir = tempfile::tempdir().unwrap();
    let mut names = scale_names(200);
    names.extend(["bücher.test", "not a name"].map(String::from));
    let list_path = dir.path().join("list.txt");
    std::fs::write(&list_path, names.join("\n")).unwrap();
    let mut all = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3u64 {
        let shard = format!("{k}/3");
        let o = run(
            &lab,
            &[
                "check",
                "--input",
                path_str(&list_path),
                "--shard",
                &shard,
                "--json",
                "--no-connect",
            ],
        );
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        let recs = records(&stdout(&o));
        assert!(!recs.is_empty(), "shard {shard} is empty");
        for r in &recs {
            let key = key(r);
            assert_eq!(fnv1a64(&key) % 3, k - 1, "{key} in shard {shard}");
            assert!(all.insert(key), "in two shards");
        }
        total += recs.len();
        let left = names.len() - recs.len();
        assert!(
            stderr(&o).contains(&format!("{left} left to other shards")),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(total, names.len());
    let expected: BTreeSet<String> = names
        .iter()
        .map(|n| match n.as_str() {
            "bücher.test" => "xn--bcher-kva.test".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    assert_eq!(all, expected);
}

/// Runs two checks of `list` at the same time into `store`, each also writing JSON Lines, and
/// returns their outputs.
fn two_runs_at_once(lab: &Lab, list: &Path, store: &str, shards: [&str; 2]) -> [Output; 2] {
    let children = shards.map(|shard| {
        spawn(
            lab,
            &[
                "check",
                "--input",
                path_str(list),
                "--shard",
                shard,
                "--store",
                store,
                "--json",
                "--no-connect",
                "--concurrency",
                "16",
            ],
        )
    });
    children.map(|c| c.wait_with_output().unwrap())
}

/// `check summary ARGS --json`.
fn summary_json(lab: &Lab, args: &[&str]) -> Value {
    let mut all = vec!["check", "summary"];
    all.extend(args);
    all.push("--json");
    let o = run(lab, &all);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The list of the store tests: generated domains, scenario ones and a name that is none.
fn store_list(dir: &Path) -> (PathBuf, usize) {
    let mut names = scale_names(150);
    names.extend(
        [
            "sts-enforce.test",
            "sts-testing.test",
            "sts-404.test",
            "dane-ee.test",
            "plain.test",
            "not a name",
        ]
        .map(String::from),
    );
    let path = dir.join("list.txt");
    std::fs::write(&path, names.join("\n")).unwrap();
    (path, names.len())
}

#[test]
fn a_sqlite_store_written_by_two_runs_at_once_and_summarised() {
    let lab = lab(&["--scale", "150"]);
    let dir = tempfile::tempdir().unwrap();
    let (list, n) = store_list(dir.path());
    let store = format!("sqlite:{}", dir.path().join("results.db").display());
    // Both runs check the whole list, at the same time: every domain is stored twice (two run
    // times), and the summary counts its newest row once.
    let outs = two_runs_at_once(&lab, &list, &store, ["1/1", "1/1"]);
    for o in &outs {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        assert_eq!(records(&stdout(o)).len(), n);
    }
    let jsonl = dir.path().join("run.jsonl");
    std::fs::write(&jsonl, &outs[0].stdout).unwrap();
    let from_store = summary_json(&lab, &[&store]);
    let from_file = summary_json(&lab, &[path_str(&jsonl)]);
    assert_eq!(from_store, from_file);
    assert_eq!(from_store["domains"], n);
    assert_eq!(from_store["not_checked"], 1);
    assert_eq!(
        from_store["mta_sts"]["any"], 152,
        "150 generated + enforce + testing"
    );
    assert_eq!(from_store["mta_sts"]["testing"], 1);
    assert!(
        from_store["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "H4" && f["domains"] == 1)
    );

    // In text, on standard output, exit 1 (error findings, a name that is none).
    let o = run(&lab, &["check", "summary", &store]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with(&format!(
            "summary: {n} domains, {} checked, 1 not checked",
            n - 1
        )),
        "{}",
        stdout(&o)
    );
    // A bare path to the database is named for what it is.
    let o = run(&lab, &["check", "summary", &store["sqlite:".len()..]]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is a SQLite database: name it sqlite:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_postgres_store_written_by_two_runs_at_once_and_summarised() {
    let pg = mailsec_lab::servers::TempPostgres::start().expect("PostgreSQL");
    let lab = lab(&["--scale", "150"]);
    let dir = tempfile::tempdir().unwrap();
    let (list, n) = store_list(dir.path());
    let url = pg.url();
    // Two shards at once; both create the schema on first use.
    let outs = two_runs_at_once(&lab, &list, &url, ["1/2", "2/2"]);
    let mut union = Vec::new();
    for o in &outs {
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(o));
        union.extend_from_slice(&o.stdout);
    }
    assert_eq!(records(&String::from_utf8(union.clone()).unwrap()).len(), n);
    let jsonl = dir.path().join("union.jsonl");
    std::fs::write(&jsonl, &union).unwrap();
    // Shard 1 again, later: newer rows for its domains, the same summary.
    let o = run(
        &lab,
        &[
            "check",
            "--input",
            path_str(&list),
            "--shard",
            "1/2",
            "--store",
            &url,
            "--no-connect",
            "--json",
        ],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let shard1 = records(&stdout(&o)).len();

    let from_store = summary_json(&lab, &[&url]);
    assert_eq!(from_store, summary_json(&lab, &[path_str(&jsonl)]));
    assert_eq!(from_store["domains"], n);

    // The table itself: one row per domain and run, the summary columns filled.
    let q = |sql: &str| pg.psql(sql).expect("psql");
    assert_eq!(
        q("SELECT count(*) FROM check_results"),
        (n + shard1).to_string()
    );
    assert_eq!(
        q("SELECT count(DISTINCT domain) FROM check_results"),
        n.to_string()
    );
    assert_eq!(
        q(
            "SELECT DISTINCT mta_sts || ' ' || tls_rpt || ' ' || errors FROM check_results WHERE domain = 'sts-enforce.test'"
        ),
        "enforce yes 0"
    );
    assert!(
        q("SELECT DISTINCT error FROM check_results WHERE domain = 'not a name'")
            .starts_with("invalid-name: not a domain name: "),
    );
    assert_eq!(
        q("SELECT DISTINCT record->>'input' FROM check_results WHERE domain = 'dane-ee.test'"),
        "dane-ee.test"
    );
    assert_eq!(
        q("SELECT value FROM mailsec_meta WHERE name = 'schema_version'"),
        "1"
    );
}

/// S11 and X6 need history: each domain of a run with --store is compared with its record from
/// the last earlier run there. An earlier run "saw" another policy under the same id (S11), or
/// another id for the same policy (X6): rows written here, as a run before would have.
fn history_is_compared(lab: &Lab, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        "sts-enforce.test
sts-testing.test
",
    )
    .unwrap();
    let check = || {
        let o = run(
            lab,
            &[
                "check",
                "--input",
                path_str(&list),
                "--store",
                url,
                "--no-connect",
                "--json",
            ],
        );
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        records(&stdout(&o))
    };
    // In domain order: records come as the checks finish.
    let history_ids = |recs: &[Value]| -> BTreeSet<(String, String, String)> {
        recs.iter()
            .flat_map(|r| {
                r["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(move |f| {
                        let code = f["code"].as_str().unwrap();
                        matches!(code, "S11" | "X6").then(|| {
                            (
                                key(r),
                                code.to_owned(),
                                f["severity"].as_str().unwrap().to_owned(),
                            )
                        })
                    })
            })
            .collect()
    };
    // The first run has no history; the second finds the same id and policy: nothing either.
    let first = check();
    assert_eq!(first.len(), 2);
    assert!(history_ids(&first).is_empty(), "{first:?}");
    assert!(history_ids(&check()).is_empty());

    // An earlier run that saw max_age 86400 under the same id (sts-enforce.test), and another id
    // for the same policy (sts-testing.test).
    let by = by_key(&first);
    let mut changed = by["sts-enforce.test"].clone();
    changed["sts_policy"]["max_age"] = 86_400.into();
    let mut new_id = by["sts-testing.test"].clone();
    new_id["sts_record"]["id"] = "20200101".into();
    put_rows(url, &[changed, new_id]);
    let third = check();
    assert_eq!(
        history_ids(&third),
        BTreeSet::from([
            (
                "sts-enforce.test".to_owned(),
                "S11".to_owned(),
                "warning".to_owned()
            ),
            (
                "sts-testing.test".to_owned(),
                "X6".to_owned(),
                "info".to_owned()
            ),
        ])
    );
    let s11 = third
        .iter()
        .find(|r| r["domain"] == "sts-enforce.test")
        .and_then(|r| {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["code"] == "S11")
        })
        .unwrap();
    assert!(
        s11["message"]
            .as_str()
            .unwrap()
            .contains("max_age 86400 -> 604800"),
        "{s11}"
    );
    assert!(
        s11["fix"]
            .as_str()
            .unwrap()
            .contains("_mta-sts.sts-enforce.test. IN TXT"),
        "{s11}"
    );
    // The third run's rows are now the latest: in step again.
    assert!(history_ids(&check()).is_empty());
}

/// Writes `records` as rows of a run that started now, through the store's own API.
fn put_rows(url: &str, records: &[Value]) {
    let run_at = time::OffsetDateTime::now_utc();
    let rows = records
        .iter()
        .map(|r| mailsec_store::Row {
            domain: key(r),
            run_at,
            checked_at: run_at,
            input: key(r),
            error: None,
            mta_sts: None,
            tls_rpt: None,
            dane: None,
            errors: None,
            warnings: None,
            verdict_outcome: None,
            verdict_mechanism: None,
            verdict_reason: None,
            record: r.to_string(),
        })
        .collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let location = mailsec_store::Location::parse(url).unwrap();
            let mut store = mailsec_store::Store::open(&location).await.unwrap();
            store.put(rows).await.unwrap();
        });
}

#[test]
fn a_sqlite_store_gives_each_check_its_history() {
    let lab = lab(&[]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", path_str(&dir.path().join("history.db")));
    history_is_compared(&lab, &url);
}

#[test]
fn a_postgres_store_gives_each_check_its_history() {
    let pg = mailsec_lab::servers::TempPostgres::start().expect("PostgreSQL");
    let lab = lab(&[]);
    history_is_compared(&lab, &pg.url());
}

#[test]
fn a_progress_bar_on_a_terminal_only() {
    let lab = lab(&["--scale", "50"]);
    let dir = tempfile::tempdir().unwrap();
    let list_path = dir.path().join("list.txt");
    std::fs::write(&list_path, scale_names(50).join("\n")).unwrap();
    let bin = env!("CARGO_BIN_EXE_mailsec");
    let shell = format!(
        "{bin} check --input {} --no-connect --json --concurrency 2 >{}",
        path_str(&list_path),
        path_str(&dir.path().join("out.jsonl"))
    );
    // util-linux's script(1) gives the command a terminal for standard error.
    let o = Command::new("script")
        .args(["-qefc", &shell, "/dev/null"])
        .envs(lab.env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    let tty = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{tty}");
    assert!(tty.contains("/50 domains, "), "no bar with a total: {tty}");
    assert!(tty.contains("ETA"), "{tty}");
    assert!(tty.contains("summary: 50 domains, 50 checked"), "{tty}");
    // A list from a pipe has no total (and is read once: counting it first would use it up).
    let out = dir.path().join("piped.jsonl");
    let shell = format!(
        "cat {} | {bin} check --input /dev/stdin --no-connect --json >{}",
        path_str(&list_path),
        path_str(&out)
    );
    let o = Command::new("script")
        .args(["-qefc", &shell, "/dev/null"])
        .envs(lab.env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{tty}");
    assert!(!tty.contains("/50 domains"), "{tty}");
    assert!(tty.contains("summary: 50 domains, 50 checked"), "{tty}");
    assert_eq!(records(&std::fs::read_to_string(&out).unwrap()).len(), 50);
    // Not a terminal: no bar, only the summary.
    let o = run(
        &lab,
        &[
            "check",
            "--input",
            path_str(&list_path),
            "--no-connect",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).starts_with("summary: 50 domains"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("ETA"));
}
