//! `mailsec dns query` against a running lab: where a bogus answer's chain breaks, and failures
//! as errors (one line on stderr).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::{mailsec, stderr, stdout};

/// A `mailsec lab` child and the `MAILSEC_*` variables it printed; killed on drop.
pub(crate) struct Lab {
    pub(crate) child: Child,
    pub(crate) env: Vec<(String, String)>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `mailsec lab ARGS` and reads its four export lines.
pub(crate) fn lab(args: &[&str]) -> Lab {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .arg("lab")
        .args(args)
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
    std::thread::spawn(move || lines.for_each(drop));
    Lab { child, env }
}

fn with(lab: &Lab, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(args)
        .envs(lab.env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_bogus_answer_says_where_the_chain_breaks() {
    let lab = lab(&[]);
    for (name, rtype, zone) in [
        (
            "_25._tcp.mx.dane-bogus-tlsa.test",
            "TLSA",
            "dane-bogus-tlsa.test.",
        ),
        ("dane-bogus-mx.test", "MX", "dane-bogus-mx.test."),
    ] {
        let o = with(&lab, &["dns", "query", name, rtype]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains(&format!(
                "; chain broken at {name}.: the {rtype} RRset (or the proof that it does not exist) \
                 does not verify with the keys of {zone}"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(";; the chain of trust holds down to {zone}")),
            "{out}"
        );
        assert!(out.contains(";;   test. "), "the chain is shown: {out}");

        let o = with(&lab, &["dns", "query", name, rtype, "--json"]);
        assert_eq!(o.status.code(), Some(1));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["broken"]["at"], format!("{name}."));
        assert_eq!(v["broken"]["last_secure_zone"], zone);
        let zones: Vec<&str> = v["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["zone"].as_str().unwrap())
            .collect();
        assert_eq!(zones, [zone, "test.", "."]);
    }
    // A secure answer has no break.
    let o = with(&lab, &["dns", "query", "mx.dane-ee.test", "A", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("broken").is_none(), "{v}");
}

#[test]
fn a_failed_lookup_is_an_error_on_stderr() {
    let lab = lab(&[]);
    let o = with(
        &lab,
        &[
            "dns",
            "query",
            "_mta-sts.sts-txt-servfail.test",
            "TXT",
            "--dns-timeout",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "mailsec: _mta-sts.sts-txt-servfail.test TXT: SERVFAIL (upstream 127.0.0.1:"
        ),
        "{err}"
    );
    // Real answers keep the delv-like form on stdout.
    let o = with(&lab, &["dns", "query", "nope.dane-ee.test", "A"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).starts_with(";; nope.dane-ee.test A: NXDOMAIN, secure denial"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_invalid_name_or_type_is_one_line_without_an_upstream() {
    // Nothing listens on the discard port: no query may be needed to refuse these.
    for (args, says) in [
        (
            &["dns", "query", "a..b", "A"][..],
            "mailsec: invalid DNS name `a..b`",
        ),
        (
            &["dns", "query", "example.com", "BOGUSTYPE"],
            "mailsec: unknown record type `BOGUSTYPE` (A, AAAA, MX, TXT, TLSA, DNSKEY, DS, ...)",
        ),
    ] {
        let mut all = vec!["--resolver", "127.0.0.1:9"];
        all.extend_from_slice(args);
        let o = mailsec(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", stdout(&o));
        assert_eq!(stderr(&o), format!("{says}\n"));
    }
}
