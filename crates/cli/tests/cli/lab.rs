//! `mailsec demo`, `mailsec lab` and the commands pointed at a running lab through the
//! `MAILSEC_*` variables it prints.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::{mailsec, stderr, stdout};

#[test]
fn demo_reports_the_good_the_misconfigured_and_the_broken() {
    let o = mailsec(&["demo", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = v.as_array().unwrap();
    // The demo checks five domains: a good one, two misconfigured MTA-STS ones, a broken DANE
    // zone and a forgotten TLSA update.
    assert_eq!(entries.len(), 5);
    let by_domain = |d: &str| {
        entries
            .iter()
            .find(|e| e["report"]["domain"] == d)
            .unwrap_or_else(|| panic!("{d} missing"))
    };
    let codes = |e: &Value| -> Vec<String> {
        e["report"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{}/{}",
                    f["code"].as_str().unwrap(),
                    f["severity"].as_str().unwrap()
                )
            })
            .collect()
    };
    let good = by_domain("dane-and-sts.test");
    assert_eq!(good["report"]["summary"]["errors"], 0, "{:?}", codes(good));
    assert_eq!(good["report"]["mx"][0]["dane"], "required");
    assert_eq!(good["report"]["sts_policy"]["mode"], "enforce");
    assert!(codes(by_domain("sts-html.test")).contains(&"H6/error".to_owned()));
    assert!(codes(by_domain("dane-bogus-tlsa.test")).contains(&"D2/error".to_owned()));
    // What `mailsec daemon` answers Postfix for each: DANE first, TEMP on a bogus TLSA RRset,
    // the enforce policy whose MX Postfix will then refuse, nothing for a policy served as HTML.
    assert_eq!(good["daemon_reply"], "OK dane");
    assert_eq!(
        by_domain("sts-mx-mismatch.test")["daemon_reply"],
        "OK secure match=other.sts-mx-mismatch.test servername=hostname"
    );
    assert_eq!(by_domain("sts-html.test")["daemon_reply"], "NOTFOUND ");
    assert!(
        by_domain("dane-bogus-tlsa.test")["daemon_reply"]
            .as_str()
            .unwrap()
            .starts_with("TEMP TLSA _25._tcp.mx.dane-bogus-tlsa.test: ")
    );
    assert_eq!(by_domain("dane-ee-wrong.test")["daemon_reply"], "OK dane");
    // Every field of a report and of a finding is documented in docs/check-json.md, under the
    // schema version the report names.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/check-json.md"
    ))
    .unwrap();
    let documented = |section: &str| -> Vec<String> {
        let body = doc
            .split(section)
            .nth(1)
            .unwrap()
            .split("\n#")
            .next()
            .unwrap();
        body.lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_owned)
            .collect()
    };
    let report_fields = documented("## Report");
    let finding_fields = documented("### Finding");
    for e in entries {
        let report = e["report"].as_object().unwrap();
        assert_eq!(report["schema"], "mailsec-check/1");
        for key in report.keys() {
            assert!(
                report_fields.contains(key),
                "report field `{key}` is not in docs/check-json.md"
            );
        }
        for f in report["findings"].as_array().unwrap() {
            for key in f.as_object().unwrap().keys() {
                let known = finding_fields.contains(key)
                    || finding_fields
                        .iter()
                        .any(|d| d.starts_with(&format!("{key}`")));
                assert!(
                    known || key == "line" || key == "field",
                    "finding field `{key}` is not in docs/check-json.md"
                );
            }
        }
    }
    // The sender's verdict, computed (RFC 7672 and RFC 8461 together).
    for (domain, outcome, reason, mechanism) in [
        (
            "dane-and-sts.test",
            "deliver",
            Value::Null,
            Value::from("dane"),
        ),
        (
            "sts-mx-mismatch.test",
            "defer",
            Value::from("validation-failure"),
            Value::Null,
        ),
        (
            "sts-html.test",
            "deliver",
            Value::Null,
            Value::from("opportunistic"),
        ),
        (
            "dane-bogus-tlsa.test",
            "defer",
            Value::from("dnssec-invalid"),
            Value::Null,
        ),
        (
            "dane-ee-wrong.test",
            "defer",
            Value::from("tlsa-invalid"),
            Value::Null,
        ),
    ] {
        let v = &by_domain(domain)["report"]["verdict"];
        assert_eq!(v["outcome"], outcome, "{domain}");
        assert_eq!(v["reason"], reason, "{domain}");
        assert_eq!(v["mechanism"], mechanism, "{domain}");
    }
    assert_eq!(
        by_domain("dane-bogus-tlsa.test")["report"]["summary"]["dane"],
        "broken on 1 of 1 MX hosts"
    );
    assert_eq!(
        by_domain("sts-html.test")["report"]["summary"]["mta_sts"],
        "broken (sts-policy-fetch-error)"
    );
    // The human form says what mailsec computed, in words (not the table's expectation, which
    // the demo prints beside it).
    let human = stdout(&mailsec(&["demo"]));
    for computed in [
        "=> DANE required on 1 of 1 MX hosts; MTA-STS enforce; TLS-RPT yes; 0 errors",
        "[D2] mx.dane-bogus-tlsa.test: TLSA lookup failed (DNSSEC validation failed (bogus))",
        "=> DANE broken on 1 of 1 MX hosts; MTA-STS not deployed",
        "[P17] policy: the enforce policy permits none of the MX hosts",
        "[H6] policy: Content-Type `text/html",
        "-> refuse (tlsa-invalid)",
        "== dane-ee-wrong.test: a conformant sender would defer (tlsa-invalid)",
        "== dane-and-sts.test: a conformant sender would deliver (dane)",
        "== sts-mx-mismatch.test: a conformant sender would defer (validation-failure)",
        "-- MTA-STS: enforce (id 20261129T000000",
        "fix: Add mx: mx.sts-mx-mismatch.test to the policy",
        "What `mailsec daemon` answers Postfix",
        "  dane-and-sts.test        OK dane",
        // The domain owner's side: `mailsec serve` publishing a policy, fetched over HTTPS.
        "-> HTTP/1.1 200 OK, text/plain, 4 lines ending in CRLF: a valid enforce policy (max_age 604800)",
    ] {
        assert!(
            human.contains(computed),
            "missing `{computed}` in:\n{human}"
        );
    }
}

#[test]
fn lab_list_is_the_scenario_table() {
    let o = mailsec(&["lab", "--list", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(
        rows.len(),
        mailsec_lab::scenario::SCENARIOS.len(),
        "every scenario of the table"
    );
    assert!(
        rows.iter()
            .all(|r| r["domain"].as_str().unwrap().ends_with(".test") && r["expected"].is_string())
    );
}

/// `mailsec lab` in the background, stopped when dropped; `env` holds the variables it printed.
pub(crate) struct RunningLab {
    child: Child,
    pub(crate) env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Drop for RunningLab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_lab() -> RunningLab {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(["lab", "--dir", dir.path().to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut env = Vec::new();
    while env.len() < 4 {
        let line = lines.next().expect("mailsec lab ended early").unwrap();
        let (k, v) = line
            .strip_prefix("export ")
            .and_then(|l| l.split_once('='))
            .expect("an export line first");
        env.push((k.to_owned(), v.to_owned()));
    }
    // Keep reading what the lab prints, so that its stdout stays open while it runs.
    std::thread::spawn(move || lines.for_each(drop));
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "MAILSEC_RESOLVER",
            "MAILSEC_TRUST_ANCHOR",
            "MAILSEC_CA_FILE",
            "MAILSEC_LAB_PORTS"
        ]
    );
    RunningLab {
        child,
        env,
        _dir: dir,
    }
}

pub(crate) fn with_lab(lab: &RunningLab, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(args)
        .envs(lab.env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn commands_follow_the_lab_variables() {
    let lab = start_lab();
    let o = with_lab(
        &lab,
        &["dns", "query", "_25._tcp.mx.dane-ee.test", "TLSA", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "NOERROR");
    assert_eq!(v["security"], "secure");
    assert!(v["records"][0].as_str().unwrap().contains("TLSA 3 1 1 "));
    let zones: Vec<&str> = v["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["zone"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["dane-ee.test.", "test.", "."]);

    for (name, rtype, status, security, code) in [
        ("mx.dane-insecure.test", "A", "NOERROR", "insecure", 0),
        ("nope.dane-ee.test", "A", "NXDOMAIN", "secure", 0),
        ("_mta-sts.sts-txt-nodata.test", "TXT", "NODATA", "secure", 0),
        (
            "_25._tcp.mx.dane-bogus-tlsa.test",
            "TLSA",
            "bogus",
            "bogus",
            1,
        ),
        ("_mta-sts.sts-txt-servfail.test", "TXT", "servfail", "", 2),
        ("_mta-sts.sts-txt-timeout.test", "TXT", "timeout", "", 2),
    ] {
        let o = with_lab(
            &lab,
            &["dns", "query", name, rtype, "--json", "--dns-timeout", "1"],
        );
        assert_eq!(o.status.code(), Some(code), "{name}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["status"], status, "{name}");
        assert_eq!(v["security"].as_str().unwrap_or(""), security, "{name}");
    }

    let o = with_lab(&lab, &["check", "sts-enforce.test", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["sts_policy"]["mode"], "enforce");
    let o = with_lab(&lab, &["check", "sts-404.test"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("[H4]"), "{}", stdout(&o));
}

#[test]
fn dane_check_says_what_a_dane_sender_does() {
    let lab = start_lab();
    // Deliverable domains exit 0; the JSON names the record and depth that matched.
    let o = with_lab(
        &lab,
        &[
            "dane",
            "check",
            "dane-ta.test",
            "dane-pkix-only.test",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["verdict"]["outcome"], "deliver");
    assert_eq!(v[0]["verdict"]["mechanism"], "dane");
    assert_eq!(v[0]["verdict"]["reason"], Value::Null);
    let first = &v[0]["hosts"][0]["results"][0];
    assert_eq!(first["dane"]["outcome"], "authenticated");
    assert_eq!(first["dane"]["usage"], 2);
    assert_eq!(first["dane"]["depth"], 1);
    assert_eq!(first["dane"]["name"], "mx.dane-ta.test");
    assert_eq!(v[0]["hosts"][0]["tlsa_lookup"], "NOERROR (secure)");
    assert_eq!(v[1]["verdict"]["mechanism"], "tls");
    // A domain a DANE sender defers exits 1, with the TLS-RPT result type.
    for (domain, reason) in [
        ("dane-ee-wrong.test", "tlsa-invalid"),
        ("dane-ta-wrong-name.test", "certificate-host-mismatch"),
        ("dane-no-starttls.test", "starttls-not-supported"),
        ("dane-bogus-tlsa.test", "dnssec-invalid"),
        ("dane-bogus-mx.test", "dnssec-invalid"),
    ] {
        let o = with_lab(&lab, &["dane", "check", domain, "--json"]);
        assert_eq!(o.status.code(), Some(1), "{domain}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v[0]["verdict"]["outcome"], "defer", "{domain}");
        assert_eq!(v[0]["verdict"]["reason"], reason, "{domain}");
    }
    // One host and port, and the text form.
    let o = with_lab(
        &lab,
        &["dane", "check", "--host", "mx.dane-ee.test", "--port", "25"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("== mx.dane-ee.test: deliver (dane)"),
        "{text}"
    );
    assert!(
        text.contains("matched at depth 0 -> deliver (dane)"),
        "{text}"
    );
    // Another service: implicit TLS on 443 (the policy host), no TLSA records there.
    let o = with_lab(
        &lab,
        &[
            "dane",
            "check",
            "--host",
            "mta-sts.sts-enforce.test",
            "--port",
            "443",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let host = &v[0]["hosts"][0];
    assert_eq!(host["tlsa_name"], "_443._tcp.mta-sts.sts-enforce.test");
    assert_eq!(host["results"][0]["probe"]["starttls"], "none");
    assert_eq!(host["results"][0]["probe"]["tls"]["version"], "TLSv1.3");
    assert_eq!(v[0]["verdict"]["mechanism"], "opportunistic");
    // Usage errors stay one line, exit 2.
    let o = with_lab(&lab, &["dane", "check"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn a_lab_that_cannot_bind_says_which_and_why_in_one_line() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = mailsec(&["lab", "--dns-port", &port]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("DNS (UDP)") && err.contains("in use"), "{err}");
}

/// `check --tls-scan` against the lab's rustls MX: the scan is in the JSON and in the text,
/// with no T3-T11 warning (rustls has nothing weak to offer); without the flag there is none.
#[test]
fn check_tls_scan_shows_the_scan_of_each_address() {
    let lab = start_lab();
    let o = with_lab(
        &lab,
        &["check", "dane-and-sts.test", "--tls-scan", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let scan = &v[0]["dane"]["hosts"][0]["results"][0]["tls_scan"];
    assert_eq!(
        scan["client_renegotiation"]["result"], "refused",
        "{scan:#}"
    );
    assert!(scan["handshakes"].as_u64().unwrap() >= 8, "{scan:#}");
    for f in v[0]["findings"].as_array().unwrap() {
        let code = f["code"].as_str().unwrap();
        let scan_check = ["T3", "T5", "T6", "T7", "T8", "T9", "T10", "T11"].contains(&code);
        assert!(!scan_check || f["severity"] == "info", "{f:#}");
    }
    let o = with_lab(&lab, &["check", "dane-and-sts.test", "--tls-scan"]);
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("TLS scan: "))
        .unwrap_or_else(|| panic!("no TLS scan line:\n{text}"));
    assert!(line.contains("TLSv1.2 TLS_ECDHE_"), "{line}");
    assert!(line.contains("no weak suites"), "{line}");
    assert!(line.contains("client renegotiation refused"), "{line}");
    let o = with_lab(&lab, &["check", "dane-and-sts.test", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v[0]["dane"]["hosts"][0]["results"][0]["tls_scan"].is_null());
    // The flag asks for connections: with --no-connect it is a usage error.
    let o = with_lab(
        &lab,
        &["check", "dane-and-sts.test", "--tls-scan", "--no-connect"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
