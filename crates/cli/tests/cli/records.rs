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
