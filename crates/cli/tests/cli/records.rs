//! `sts lint`, `sts record`, `tlsrpt record`: exit codes and output.

use serde_json::Value;

use crate::{mailsec, mailsec_stdin, stderr, stdout, testdata};

#[test]
fn lint_valid_policy_exits_0() {
    let path = testdata("mta-sts/policy/article-exchangelabs.txt");
    let o = mailsec(&["sts", "lint", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("valid MTA-STS policy: mode enforce"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn lint_invalid_policy_exits_1_with_line_numbers() {
    let path = testdata("mta-sts/policy/blank-line-between-fields.txt");
    let o = mailsec(&["sts", "lint", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("blank-line-between-fields.txt:3: error:"),
        "{out}"
    );
    assert!(out.contains("[P1]"), "{out}");
}

#[test]
fn lint_reads_stdin_and_checks_mx_coverage() {
    let body = b"version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 1209600\n";
    let o = mailsec_stdin(
        &["sts", "lint", "-", "--mx", "mx2.example.com", "--json"],
        body,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "an uncovered MX under enforce is an error"
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["source"], "<stdin>");
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["P13", "P17", "P14"]);

    let o = mailsec_stdin(
        &["sts", "lint", "-", "--mx", "MX1.example.com.", "--json"],
        body,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["max_age"], 1_209_600);
    assert_eq!(v["policy"]["mx"][0], "mx1.example.com");
}

#[test]
fn unreadable_input_exits_2_with_one_line() {
    let o = mailsec(&["sts", "lint", "/nonexistent/policy.txt"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("mailsec: cannot read /nonexistent/policy.txt"),
        "{err}"
    );
}

#[test]
fn usage_error_exits_2() {
    assert_eq!(mailsec(&["sts", "lint"]).status.code(), Some(2));
    assert_eq!(
        mailsec(&["sts", "lint", "-", "--mx", "not a host"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn sts_record_explains_and_applies_the_selection_rule() {
    let o = mailsec(&["sts", "record", "v=STSv1; id=202306242147;"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("id       202306242147"),
        "{}",
        stdout(&o)
    );

    let o = mailsec(&[
        "sts",
        "record",
        "v=STSv1; id=a;",
        "v=STSv1; id=b;",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["diagnostics"][0]["code"], "S2");

    let o = mailsec(&["sts", "record", "v=STSv1; id=2023-06-24;"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o)
            .contains("record: error: id: id `2023-06-24` is not 1-32 letters or digits [S9]"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn tlsrpt_record() {
    let o = mailsec(&[
        "tlsrpt",
        "record",
        "v=TLSRPTv1;rua=mailto:TLSReports@exchangelabs.nl",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("reports are emailed to TLSReports@exchangelabs.nl"),
        "{}",
        stdout(&o)
    );

    let o = mailsec(&[
        "tlsrpt",
        "record",
        "v=TLSRPTv1; rua=mailto:a@example.com!10m",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "R9");
}

#[test]
fn checks_catalogue() {
    let o = mailsec(&["checks", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().iter().any(|c| c["id"] == "S9"));
    assert_eq!(mailsec(&["checks", "Z42"]).status.code(), Some(2));
}

#[test]
fn a_huge_line_is_quoted_as_an_excerpt() {
    // A 10 MB one-line "policy": every message quotes at most a short excerpt of it.
    let line = "x".repeat(10 * 1024 * 1024);
    for body in [
        line.clone(),
        format!("{line}: value"),
        format!("mx: {line}"),
    ] {
        let o = mailsec_stdin(&["sts", "lint", "-"], body.as_bytes());
        assert_eq!(o.status.code(), Some(1));
        let out = stdout(&o);
        assert!(out.len() < 2000, "{} bytes of output", out.len());
        assert!(out.contains("…` (10485760 bytes)"), "{out}");
        let o = mailsec_stdin(&["sts", "lint", "-", "--json"], body.as_bytes());
        assert!(o.stdout.len() < 4000, "{} bytes of JSON", o.stdout.len());
    }
}

#[test]
fn coverage_in_mode_none_reports_no_failures() {
    let body = b"version: STSv1\nmode: none\nmx: mx1.example.com\nmax_age: 86400\n";
    let o = mailsec_stdin(&["sts", "lint", "-", "--mx", "mx2.example.com"], body);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(!out.contains("report"), "{out}");
    assert!(
        out.contains("<stdin>: info: mx: mode none: senders apply no policy"),
        "{out}"
    );
    let testing = b"version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 86400\n";
    let o = mailsec_stdin(&["sts", "lint", "-", "--mx", "mx2.example.com"], testing);
    assert!(
        stdout(&o).contains("warning: mx: MX host mx2.example.com matches no mx pattern: in mode testing senders still deliver to it, and report a failure"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn usage_errors_are_one_line() {
    for args in [
        &["sts", "lint"][..],
        &["check"],
        &["sts", "lint", "x", "--bogus"],
        &["nosuch"],
        &["tlsa", "generate", "--cert", "x", "--port", "abc"],
    ] {
        let o = mailsec(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("mailsec: "), "{args:?}: {err}");
        assert!(err.contains("try --help"), "{args:?}: {err}");
        assert!(o.stdout.is_empty());
    }
    let o = mailsec(&["sts", "lint", "x", "--bogus"]);
    assert!(
        stderr(&o).contains("tip: to pass '--bogus' as a value, use '-- --bogus'"),
        "{}",
        stderr(&o)
    );
    // Help and version still print normally.
    for args in [
        &["--help"][..],
        &["--version"],
        &["sts", "lint", "--help"],
        &["help", "check"],
    ] {
        let o = mailsec(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(stdout(&o).lines().count() >= 1, "{args:?}");
        assert!(o.stderr.is_empty(), "{args:?}");
    }
    assert!(
        stdout(&mailsec(&["check", "--help"]))
            .contains("Usage: mailsec check [OPTIONS] <DOMAIN>...")
    );
}

#[test]
fn options_from_the_environment_are_not_shown_as_required() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .arg("check")
        .env("MAILSEC_RESOLVER", "127.0.0.1:53")
        .env("MAILSEC_TRUST_ANCHOR", "/nonexistent")
        .env("MAILSEC_CA_FILE", "/nonexistent")
        .env("MAILSEC_LAB_PORTS", "25=2525")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("usage: mailsec check [OPTIONS] <DOMAIN>..."),
        "{err}"
    );
    assert!(!err.contains("--resolver"), "{err}");
}

#[test]
fn an_os_error_is_said_once() {
    let o = mailsec(&[
        "--trust-anchor",
        "/nonexistent/anchor",
        "dns",
        "query",
        "example.com",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/anchor"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn checks_id_explains_the_check() {
    let o = mailsec(&["checks", "D2"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let title = "TLSA answer is bogus";
    assert!(out.starts_with(&format!("D2  {title}\n")), "{out}");
    // More than the title: what and why, how to fix, and the rule.
    assert!(out.lines().count() > 5, "{out}");
    assert_eq!(out.matches(title).count(), 1, "{out}");
    assert!(out.contains("defers the mail"), "{out}");
    assert!(out.contains("  Fix: "), "{out}");
    assert!(out.contains("  Rule: RFC 7672 §2.1.1"), "{out}");

    let o = mailsec(&["checks", "p13", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v[0];
    assert_eq!(c["id"], "P13");
    for key in ["explanation", "fix", "rfc"] {
        let text = c[key].as_str().unwrap();
        assert!(!text.is_empty() && text != c["title"], "{key}: {text}");
    }
    assert!(c["rfc"].as_str().unwrap().starts_with("RFC 8461 §4.1"));
    // Every check of the catalogue has its explanation in the JSON list too.
    let o = mailsec(&["checks", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for c in v.as_array().unwrap() {
        assert!(c["explanation"].as_str().unwrap().len() > 40, "{}", c["id"]);
    }
}
