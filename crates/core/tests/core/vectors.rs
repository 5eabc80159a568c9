//! Walks `testdata/<protocol>/`: every `<case>.expected.json` beside its input `<case>.txt` or
//! `<case>.bin` is one case. A new case needs no code. Expected values are written by hand.

use std::fs;
use std::path::{Path, PathBuf};

use mailsec_core::dane::{Tlsa, TlsaRecord, Usability};
use mailsec_core::diag::Diagnostic;
use mailsec_core::mta_sts::{lint_policy, lint_record_set};
use mailsec_core::socketmap::{self, NetstringError};
use mailsec_core::tlsrpt;
use serde_json::{Value, json};

fn testdata(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(sub)
}

/// Runs `check` on every case of `dir` and fails with every mismatch at once. The directory
/// must hold exactly `cases_expected` cases, each an input (`<case>.txt` or `<case>.bin`) with
/// its `<case>.expected.json`: a missing, extra or unpaired file fails, so that no case can
/// drop out of the suite silently.
fn walk(dir: &str, cases_expected: usize, check: impl Fn(&[u8]) -> Value) {
    let path = testdata(dir);
    let mut inputs = std::collections::BTreeMap::new();
    let mut expected_files = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for entry in fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".expected.json") {
            expected_files.insert(stem.to_owned());
        } else if let Some(stem) = name
            .strip_suffix(".txt")
            .or_else(|| name.strip_suffix(".bin"))
        {
            if inputs.insert(stem.to_owned(), p.clone()).is_some() {
                problems.push(format!("{dir}/{stem}: two inputs (.txt and .bin)"));
            }
        } else {
            problems.push(format!(
                "{dir}/{name}: neither an input nor an expected file"
            ));
        }
    }
    for stem in inputs.keys().filter(|s| !expected_files.contains(*s)) {
        problems.push(format!("{dir}/{stem}: input without {stem}.expected.json"));
    }
    for stem in expected_files.iter().filter(|s| !inputs.contains_key(*s)) {
        problems.push(format!("{dir}/{stem}.expected.json: no input"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        inputs.len(),
        cases_expected,
        "{dir}: {} cases found, {cases_expected} expected (update the count when adding a case)",
        inputs.len()
    );
    let mut failures = Vec::new();
    for (stem, input_path) in &inputs {
        let input = fs::read(input_path).unwrap();
        let expected: Value = serde_json::from_str(
            &fs::read_to_string(path.join(format!("{stem}.expected.json"))).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{dir}/{stem}.expected.json: {e}"));
        let got = check(&input);
        if got != expected {
            failures.push(format!(
                "{dir}/{stem}:\n  expected {expected}\n  got      {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

/// `P8/error/3`: check, severity and line, sorted so that the order of findings does not matter.
fn findings(diags: &[Diagnostic]) -> Value {
    let mut v: Vec<String> = diags
        .iter()
        .map(|d| match d.line {
            Some(l) => format!("{}/{}/{l}", d.check, d.severity),
            None => format!("{}/{}", d.check, d.severity),
        })
        .collect();
    v.sort();
    json!(v)
}

fn sorted(mut v: Value) -> Value {
    if let Some(a) = v.get_mut("findings").and_then(Value::as_array_mut) {
        a.sort_by_key(|x| x.as_str().unwrap_or_default().to_owned());
    }
    v
}

fn lines_of(input: &[u8]) -> Vec<&[u8]> {
    input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn mta_sts_policies() {
    walk("mta-sts/policy", 41, |input| {
        let l = lint_policy(input);
        let mut v = match &l.parsed {
            Some(p) => json!({
                "valid": true,
                "mode": p.mode.as_str(),
                "max_age": p.max_age.seconds(),
                "mx": p.mx.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            None => json!({ "valid": false }),
        };
        v["findings"] = findings(&l.diagnostics);
        v
    });
    // The expected files are compared after sorting their findings too.
}

#[test]
fn mta_sts_records() {
    walk("mta-sts/record", 21, |input| {
        let l = lint_record_set(lines_of(input));
        let mut v = match &l.parsed {
            Some(r) => json!({ "valid": true, "id": r.id.as_str() }),
            None => json!({ "valid": false }),
        };
        v["findings"] = findings(&l.diagnostics);
        v
    });
}

#[test]
fn tlsrpt_records() {
    walk("tlsrpt/record", 17, |input| {
        let text = input.strip_suffix(b"\n").unwrap_or(input);
        let l = tlsrpt::lint_record(text);
        let mut v = match &l.parsed {
            Some(r) => {
                json!({ "valid": true, "rua": r.rua.iter().map(|u| u.as_str()).collect::<Vec<_>>() })
            }
            None => json!({ "valid": false }),
        };
        v["findings"] = findings(&l.diagnostics);
        v
    });
}

#[test]
fn tlsa_records() {
    walk("tlsa", 12, |input| {
        let text = std::str::from_utf8(input).unwrap();
        match text.parse::<TlsaRecord>() {
            Ok(r) => {
                let mut v = json!({
                    "usage": u8::from(r.tlsa.usage),
                    "selector": u8::from(r.tlsa.selector),
                    "matching": u8::from(r.tlsa.matching),
                    "data": hex::encode(&r.tlsa.data),
                    "usability": match r.tlsa.usability() {
                        Usability::Usable => "usable",
                        Usability::PkixUsage => "pkix-usage",
                        Usability::UnknownParameter => "unknown-parameter",
                        Usability::BadLength => "bad-length",
                    },
                    "text": r.to_string(),
                });
                if let Some(o) = &r.owner {
                    v["owner"] = json!(o);
                }
                if let Some(t) = r.ttl {
                    v["ttl"] = json!(t);
                }
                // The rendering must parse back to the same record.
                assert_eq!(r.to_string().parse::<TlsaRecord>().unwrap(), r);
                assert_eq!(Tlsa::from_rdata(&r.tlsa.to_rdata()).unwrap(), r.tlsa);
                v
            }
            Err(e) => {
                let name = format!("{e:?}");
                json!({ "error": name.split(['(', ' ']).next().unwrap() })
            }
        }
    });
}

#[test]
fn socketmap_streams() {
    /// The request cap the vectors assume (Postfix's reply limit).
    const CAP: usize = 100_000;
    walk("socketmap", 10, |input| {
        let mut frames = Vec::new();
        let mut rest = input;
        let tail = loop {
            match socketmap::decode(rest, CAP) {
                Ok(Some(f)) => {
                    frames.push(String::from_utf8(f.payload(rest).to_vec()).unwrap());
                    rest = &rest[f.consumed..];
                    if rest.is_empty() {
                        break "empty".to_owned();
                    }
                }
                Ok(None) => break "incomplete".to_owned(),
                Err(e) => {
                    let kind = match e {
                        NetstringError::BadLength(_) => "BadLength",
                        NetstringError::LeadingZero => "LeadingZero",
                        NetstringError::TooLong { .. } => "TooLong",
                        NetstringError::MissingComma => "MissingComma",
                        _ => "Other",
                    };
                    break format!("error:{kind}");
                }
            }
        };
        json!({ "frames": frames, "rest": tail })
    });
}

#[test]
fn expected_files_list_findings_sorted_or_not() {
    // `walk` compares the produced value, whose findings are sorted, with the file as written:
    // keep the files sorted so that a mismatch can only come from the parser.
    for dir in ["mta-sts/policy", "mta-sts/record", "tlsrpt/record"] {
        for entry in fs::read_dir(testdata(dir)).unwrap() {
            let p = entry.unwrap().path();
            if p.to_string_lossy().ends_with(".expected.json") {
                let v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
                assert_eq!(sorted(v.clone()), v, "{}: sort the findings", p.display());
            }
        }
    }
}

/// Inputs the fuzzers found (`testdata/fuzz-regressions/<target>/`), run through the same
/// properties as their fuzz target.
#[test]
fn fuzz_regressions() {
    let root = testdata("fuzz-regressions");
    let mut count = 0;
    for target in fs::read_dir(&root).unwrap() {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        for case in fs::read_dir(&target).unwrap() {
            let data = fs::read(case.unwrap().path()).unwrap();
            match name.as_str() {
                "tlsa" => {
                    if let Ok(t) = Tlsa::from_rdata(&data) {
                        assert_eq!(t.to_rdata(), data);
                        assert_eq!(t.to_string().parse::<Tlsa>().unwrap(), t);
                    }
                }
                "sts_policy" => {
                    let l = lint_policy(&data);
                    assert_eq!(l.parsed.is_some(), !l.has_errors());
                }
                other => panic!("no runner for fuzz target {other}"),
            }
            count += 1;
        }
    }
    // One regression input per target so far (empty TLSA association data).
    assert_eq!(count, 1);
}

/// Server flights captured by scripts/capture-tls-flights (openssl s_server and gnutls-serv,
/// each configured as the script says; the expected values follow from that configuration),
/// and two edited ones (`edited-*`, see the script).
#[test]
fn tls_flights() {
    use mailsec_core::tls_hello::{KeyExchange, Progress, parse_flight, version};
    walk("tls-flights", 15, |input| {
        let flight = match parse_flight(input) {
            Ok(Progress::Done(f)) => f,
            Ok(Progress::NeedMore) => return json!({ "need_more": true }),
            Err(e) => return json!({ "error": e.to_string() }),
        };
        let mut v = json!({});
        if let Some(a) = flight.alert {
            v["alert"] = json!(format!("{} {}", a.level, a.name()));
        }
        if let Some(h) = &flight.server_hello {
            v["version"] = json!(version::name(h.version()));
            v["cipher_suite"] = json!(h.cipher_suite.name());
            v["compression_method"] = json!(h.compression_method);
            v["renegotiation_info"] = json!(h.renegotiation_info().map(<[u8]>::len));
            v["extended_master_secret"] = json!(h.extended_master_secret());
            if h.is_hello_retry_request() {
                v["hello_retry_request"] = json!(true);
            }
            if let Some(g) = h.key_share_group() {
                v["key_share"] = json!(g.name());
            }
            v["certificate"] = json!(flight.certificate);
            v["server_hello_done"] = json!(flight.server_hello_done);
        }
        if let Some(k) = &flight.server_key_exchange {
            match k.key_exchange {
                KeyExchange::Dhe { prime_bits } => v["dhe_prime_bits"] = json!(prime_bits),
                KeyExchange::Ecdhe { group } => v["ecdhe_group"] = json!(group.name()),
                ref other => v["key_exchange"] = json!(format!("{other:?}")),
            }
            v["signature"] = json!(k.signature.map(|s| s.name()));
        }
        v["all_read"] = json!(flight.consumed == input.len());
        v
    });
}
