//! `mailsec serve` as a process (configuration checks, SIGHUP, the access log and `serve
//! stats`), and `mailsec sts publish` and `sts plan` against the lab.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use mailsec_lab::ca::{Ca, LeafKind};
use serde_json::Value;

use crate::lab::{start_lab, with_lab};
use crate::{mailsec, stderr, stdout};

const POLICY: &str = "version: STSv1\nmode: testing\nmx: mx.{d}\nmax_age: 86400\n";

fn write_cert(certs: &Path, ca: &Ca, host: &str) {
    let issued = ca.issue(&[host], LeafKind::Valid).unwrap();
    let d = certs.join(host);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("fullchain.pem"), &issued.chain_pem).unwrap();
    std::fs::write(d.join("privkey.pem"), &issued.key_pem).unwrap();
}

fn curl(ca: &Path, port: u16, host: &str) -> String {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", ca.to_str().unwrap()])
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .args(["-A", "Google-SMTP-STS"])
        .arg(format!("https://{host}:{port}/.well-known/mta-sts.txt"))
        .output()
        .expect("curl: scripts/test installs it");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn serve_checks_its_configuration_reloads_on_sighup_and_logs_what_stats_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = Ca::new(SystemTime::now()).unwrap();
    let ca_file = d.join("ca.pem");
    std::fs::write(&ca_file, ca.root_pem()).unwrap();
    let (policies, certs, log) = (d.join("policies"), d.join("certs"), d.join("access.log"));
    std::fs::create_dir_all(&policies).unwrap();
    for domain in ["a.test", "b.test"] {
        std::fs::write(
            policies.join(format!("{domain}.txt")),
            POLICY.replace("{d}", domain),
        )
        .unwrap();
        write_cert(&certs, &ca, &format!("mta-sts.{domain}"));
    }
    let config = d.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "listen = [\"127.0.0.1:0\"]\npolicy_dir = \"{}\"\ncert_dir = \"{}\"\naccess_log = \"{}\"\nwatch = false\n",
            policies.display(),
            certs.display(),
            log.display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let o = mailsec(&["serve", "--config", cfg, "--check-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2 policy hosts served"),
        "{}",
        stdout(&o)
    );
    // An unknown key: 2, one line naming the file.
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "listen = [\"127.0.0.1:0\"]\npolicy_dirs = \"/x\"\n").unwrap();
    let o = mailsec(&["serve", "--config", bad.to_str().unwrap(), "--check-config"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bad.toml") && stderr(&o).contains("policy_dirs"),
        "{}",
        stderr(&o)
    );
    // A policy that fails lint: 1, the file named.
    std::fs::write(
        policies.join("c.test.txt"),
        "version: STSv1\nmode: sometimes\n",
    )
    .unwrap();
    let o = mailsec(&["serve", "--config", cfg, "--check-config"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("c.test.txt: fails lint"),
        "{}",
        stderr(&o)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(["serve", "--config", cfg])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    assert!(first.contains("2 policy hosts"), "{first}");
    let mut fetched = 1;
    assert!(curl(&ca_file, port, "mta-sts.a.test").contains("max_age: 86400\r\n"));
    // Changed on disk, but watching is off: served after SIGHUP only.
    std::fs::write(
        policies.join("a.test.txt"),
        POLICY.replace("{d}", "a.test").replace("86400", "172800"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    fetched += 1;
    assert!(curl(&ca_file, port, "mta-sts.a.test").contains("86400"));
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while {
        fetched += 1;
        !curl(&ca_file, port, "mta-sts.a.test").contains("172800")
    } {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));

    // The log, whole after SIGTERM: every fetch of a.test by Google-SMTP-STS; nobody fetched
    // b.test (or the refused c.test).
    let o = mailsec(&[
        "serve",
        "stats",
        log.to_str().unwrap(),
        "--policy-dir",
        policies.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let fetches = v["domains"]["a.test"]["fetches"].as_u64().unwrap();
    assert_eq!(fetches, fetched, "{v}");
    assert_eq!(
        v["domains"]["a.test"]["user_agents"]["Google-SMTP-STS"],
        fetches
    );
    assert_eq!(v["not_fetched"], serde_json::json!(["b.test", "c.test"]));
    let o = mailsec(&["serve", "stats", log.to_str().unwrap()]);
    assert!(stdout(&o).contains("a.test: "), "{}", stdout(&o));
    assert!(stdout(&o).contains("Google-SMTP-STS"), "{}", stdout(&o));
}

#[test]
fn publish_refuses_an_uncovered_mx_for_enforce_and_plan_judges_the_move() {
    let lab = start_lab();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    // `mailsec sts publish sts-enforce.test ARGS...` against the lab, whose sts-enforce.test
    // has MX mx.sts-enforce.test.
    let publish = |args: &[&str]| {
        let mut all = vec!["sts", "publish", "sts-enforce.test"];
        all.extend_from_slice(args);
        with_lab(&lab, &all)
    };
    let o = publish(&[
        "--mode",
        "enforce",
        "--mx",
        "mx.elsewhere.test",
        "--out-dir",
        out,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("MX mx.sts-enforce.test is not covered"),
        "{}",
        stdout(&o)
    );
    assert!(!dir.path().join("sts-enforce.test.txt").exists());
    // --force writes it anyway, and says which MX is left out.
    let forced = dir.path().join("forced");
    let o = publish(&[
        "--mode",
        "enforce",
        "--mx",
        "mx.elsewhere.test",
        "--force",
        "--out-dir",
        forced.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("warning: MX mx.sts-enforce.test is not covered"),
        "{}",
        stdout(&o)
    );
    assert!(forced.join("sts-enforce.test.txt").exists());
    // Testing is written with a warning; enforce with the right pattern is written.
    let o = publish(&[
        "--mode",
        "testing",
        "--mx",
        "mx.elsewhere.test",
        "--out-dir",
        out,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("warning: MX mx.sts-enforce.test is not covered"));
    let o = publish(&[
        "--mode",
        "enforce",
        "--mx",
        "mx.sts-enforce.test",
        "--max-age",
        "1209600",
        "--out-dir",
        out,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let written = std::fs::read_to_string(dir.path().join("sts-enforce.test.txt")).unwrap();
    assert_eq!(
        written,
        "version: STSv1\nmode: enforce\nmx: mx.sts-enforce.test\nmax_age: 1209600\n"
    );
    let record = v["mta_sts_record"].as_str().unwrap();
    assert!(
        record.starts_with("_mta-sts.sts-enforce.test. IN TXT \"v=STSv1; id="),
        "{record}"
    );
    // The record it prints is one mailsec's own record parser accepts.
    let txt = record.split('"').nth(1).unwrap();
    let r = mailsec(&["sts", "record", txt]);
    assert_eq!(r.status.code(), Some(0), "{}", stdout(&r));
    assert!(
        v["tlsrpt_record"]
            .as_str()
            .unwrap()
            .contains("v=TLSRPTv1; rua=mailto:tlsrpt@sts-enforce.test")
    );
    // The written file lints clean.
    let lint = mailsec(&[
        "sts",
        "lint",
        dir.path().join("sts-enforce.test.txt").to_str().unwrap(),
    ]);
    assert_eq!(lint.status.code(), Some(0), "{}", stdout(&lint));
    // Bad arguments: 2.
    let o = publish(&["--mode", "strict", "--mx", "a.test"]);
    assert_eq!(o.status.code(), Some(2));

    // plan --to enforce: safe where every MX would take mail under enforce.
    for (domain, code, needle) in [
        ("sts-testing.test", 0, "safe to move to enforce"),
        ("sts-enforce.test", 0, "already in enforce mode"),
        ("sts-mx-wrong-cert.test", 1, "certificate-host-mismatch"),
        ("sts-mx-mismatch.test", 1, "would not deliver"),
        ("sts-404.test", 1, "no valid MTA-STS policy"),
    ] {
        let o = with_lab(&lab, &["sts", "plan", domain, "--to", "enforce"]);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{domain}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains(needle), "{domain}: {}", stdout(&o));
    }
    // With TLS reports: failures in the window block the move; old ones and clean ones do not;
    // a gzip bomb is named and left out.
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let report = |end: &str, failures: u64| {
        serde_json::json!({
            "organization-name": "Sender-Z",
            "date-range": {"start-datetime": end, "end-datetime": end},
            "contact-info": "tlsrpt@sender-z.example",
            "report-id": format!("r-{end}-{failures}"),
            "policies": [{
                "policy": {"policy-type": "sts", "policy-domain": "sts-testing.test", "mx-host": ["mx.sts-testing.test"]},
                "summary": {"total-successful-session-count": 40, "total-failure-session-count": failures},
                "failure-details": if failures > 0 { serde_json::json!([{"result-type": "certificate-expired", "receiving-mx-hostname": "mx.sts-testing.test", "failed-session-count": failures}]) } else { serde_json::json!([]) }
            }]
        })
        .to_string()
    };
    std::fs::write(reports.join("old.json"), report("2020-01-01T23:59:59Z", 7)).unwrap();
    std::fs::write(reports.join("clean.json"), report(&now, 0)).unwrap();
    let gz = Command::new("sh")
        .current_dir(&reports)
        .args([
            "-c",
            "gzip clean.json && head -c 20000000 /dev/zero | gzip > bomb.json.gz",
        ])
        .status()
        .unwrap();
    assert!(gz.success());
    // `sts plan sts-testing.test --to enforce --reports PATH`: its exit code and output.
    let plan = |path: &Path| {
        let o = with_lab(
            &lab,
            &[
                "sts",
                "plan",
                "sts-testing.test",
                "--to",
                "enforce",
                "--reports",
                path.to_str().unwrap(),
            ],
        );
        (o.status.code(), stdout(&o))
    };
    let (code, out) = plan(&reports);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("1 TLS report of the last 14 days read: 40 successful sessions"),
        "{out}"
    );
    assert!(
        out.contains("bomb.json.gz: not read (over 16777216 bytes)"),
        "{out}"
    );
    std::fs::write(reports.join("failing.json"), report(&now, 3)).unwrap();
    let (code, out) = plan(&reports);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("blocker: Sender-Z reported 3 failed sessions at mx.sts-testing.test (certificate-expired)"),
        "{out}"
    );
    // Failures reported before the window do not count.
    let (code, out) = plan(&reports.join("old.json"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("no TLS report for sts-testing.test in the last 14 days"),
        "{out}"
    );

    // plan --to remove: mode none now, removal after the current max_age.
    let o = with_lab(
        &lab,
        &[
            "sts",
            "plan",
            "sts-enforce.test",
            "--to",
            "remove",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{v}");
    assert!(steps[0]["what"].as_str().unwrap().contains("--mode none"));
    let at = |i: usize| {
        time::OffsetDateTime::parse(
            steps[i]["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let fetched = with_lab(&lab, &["sts", "fetch", "sts-enforce.test", "--json"]);
    let max_age = serde_json::from_slice::<Value>(&fetched.stdout).unwrap()["policy"]["max_age"]
        .as_i64()
        .unwrap();
    assert_eq!((at(1) - at(0)).whole_seconds(), max_age);
}
