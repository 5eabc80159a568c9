//! The real-component lab (scripts/lab-real): Knot serves the lab's zones, Unbound validates
//! them, Postfix sends and receives mail, all in the `mailsec-lab` network namespace.
//!
//! - mailsec's DNSSEC verdicts (validating in process against Knot) equal Unbound's (AD bit,
//!   SERVFAIL with EDE for bogus) for every scenario;
//! - Postfix, the reference RFC 7672 implementation, delivers or defers exactly as the scenario
//!   table says for every DANE-decided scenario.
//!
//! Needs root and the packages of scripts/install-lab-packages. In CI (`CI` set) a missing
//! prerequisite fails the test; elsewhere the test says that it skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mailsec_lab::scenario::{SCENARIOS, Scenario, Verdict};
use serde_json::Value;

struct RealLab {
    dir: tempfile::TempDir,
    script: PathBuf,
}

impl RealLab {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn exec(&self, args: &[&str]) -> Output {
        Command::new(&self.script)
            .arg("exec")
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for RealLab {
    fn drop(&mut self) {
        // `up` ran in <tempdir>/lab: that is where `down` finds what to stop and remove.
        let _ = Command::new(&self.script)
            .arg("down")
            .arg(self.path().join("lab"))
            .output();
    }
}

fn prerequisites() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("needs root for network namespaces".into());
    }
    for tool in ["ip", "knotd", "unbound", "postfix", "dig", "ldns-signzone"] {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Err(format!("missing {tool}: run scripts/install-lab-packages"));
        }
    }
    Ok(())
}

fn start() -> Option<RealLab> {
    if let Err(why) = prerequisites() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the real-component lab cannot run in CI: {why}"
        );
        eprintln!("SKIPPED real-component lab test: {why}");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lab-real");
    // One namespace name: a lab left behind by an aborted run is cleared first.
    let dir = tempfile::tempdir().unwrap();
    let _ = Command::new(&script).arg("down").arg(dir.path()).output();
    let lab = RealLab { dir, script };
    let up = Command::new(&lab.script)
        .arg("up")
        .arg(lab.path().join("lab"))
        .env("MAILSEC", env!("CARGO_BIN_EXE_mailsec"))
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "scripts/lab-real up failed:\n{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    Some(lab)
}

fn mailsec_verdict(json: &Value) -> String {
    let security = json["security"].as_str().unwrap_or("-");
    match json["status"].as_str().unwrap_or("") {
        s @ ("NOERROR" | "NXDOMAIN" | "NODATA") => format!("{s}/{security}"),
        "bogus" => "SERVFAIL/bogus".into(),
        _ => "SERVFAIL/-".into(),
    }
}

/// What a sender's log shows for a verdict of the table.
fn postfix_expectation(v: Verdict) -> &'static str {
    match v {
        Verdict::Defer(_) => "deferred",
        _ => "sent",
    }
}

/// Scenarios where DANE or plain DNS decides (Postfix alone knows nothing of MTA-STS), minus
/// those whose fault only the in-process lab injects.
fn dane_decided(s: &Scenario) -> bool {
    let injected =
        s.mx.iter()
            .any(|m| m.tlsa.iter().any(|t| t.is_injected_fault()));
    !injected && (s.policy.is_none() || s.mx.iter().any(|m| !m.tlsa.is_empty()))
}

#[test]
fn knot_unbound_postfix_agree_with_mailsec_and_the_table() {
    let Some(lab) = start() else { return };
    let dir = lab.path().join("lab");
    let anchor = dir.join("root.anchor");
    let mailsec = env!("CARGO_BIN_EXE_mailsec");

    // 1. DNSSEC verdicts: mailsec against Knot, Unbound through dig.
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for s in SCENARIOS {
        let d = s.domain();
        let mut queries = vec![
            (d.clone(), "MX"),
            (format!("nope.{d}"), "A"),
            (format!("_mta-sts.{d}"), "TXT"),
        ];
        for m in s.mx {
            queries.push((format!("{}.{d}", m.label), "A"));
            queries.push((format!("_25._tcp.{}.{d}", m.label), "TLSA"));
        }
        for (name, rtype) in queries {
            let dig = lab.exec(&[
                "dig",
                "@127.0.0.1",
                "+dnssec",
                "+time=5",
                "+tries=1",
                &name,
                rtype,
            ]);
            let theirs = mailsec_lab::oracle::dig_verdict(&String::from_utf8_lossy(&dig.stdout));
            let ours = lab.exec(&[
                mailsec,
                "--resolver",
                "127.0.0.1:5300",
                "--trust-anchor",
                anchor.to_str().unwrap(),
                "--dns-timeout",
                "3",
                "dns",
                "query",
                &name,
                rtype,
                "--json",
                "--no-chain",
            ]);
            let json: Value = serde_json::from_slice(&ours.stdout).unwrap_or_else(|e| {
                panic!("{name}: {e}: {}", String::from_utf8_lossy(&ours.stderr))
            });
            let ours = mailsec_verdict(&json);
            if ours != theirs {
                mismatches.push(format!("{name} {rtype}: mailsec {ours}, unbound {theirs}"));
            }
            compared += 1;
        }
    }
    assert!(compared >= 200, "{compared}");
    assert!(
        mismatches.is_empty(),
        "{} of {compared} verdicts differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );

    // 2. Postfix delivers or defers as the table says.
    let scenarios: Vec<&Scenario> = SCENARIOS.iter().filter(|s| dane_decided(s)).collect();
    for s in &scenarios {
        let mut child = Command::new(&lab.script)
            .args([
                "exec",
                "/usr/sbin/sendmail",
                "-f",
                "lab@lab.test",
                &format!("user@{}", s.domain()),
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Subject: mailsec lab\n\nhello\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    let maillog = dir.join("postfix/maillog");
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = |log: &str, s: &Scenario| -> Option<&'static str> {
        let to = format!("to=<user@{}>", s.domain());
        log.lines().filter(|l| l.contains(&to)).find_map(|l| {
            if l.contains("status=sent") {
                Some("sent")
            } else if l.contains("status=deferred") {
                Some("deferred")
            } else {
                None
            }
        })
    };
    let log = loop {
        let log = std::fs::read_to_string(&maillog).unwrap_or_default();
        if scenarios.iter().all(|s| outcome(&log, s).is_some()) || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let mut wrong = Vec::new();
    for s in &scenarios {
        let got = outcome(&log, s).unwrap_or("no result");
        let want = postfix_expectation(s.expected);
        if got != want {
            wrong.push(format!(
                "{}: postfix {got}, table {want} ({})",
                s.domain(),
                s.expected.label()
            ));
        }
        if s.expected == Verdict::Dane {
            let host = format!(
                "Verified TLS connection established to {}.{}",
                s.mx[0].label,
                s.domain()
            );
            if !log.contains(&host) {
                wrong.push(format!(
                    "{}: no `Verified TLS` (DANE) connection in the log",
                    s.domain()
                ));
            }
        }
    }
    assert!(scenarios.len() >= 12, "{}", scenarios.len());
    assert!(
        wrong.is_empty(),
        "{}\n--- maillog ---\n{log}",
        wrong.join("\n")
    );
}
