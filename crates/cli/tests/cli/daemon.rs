//! `mailsec daemon` and `mailsec sts fetch` against the in-process lab: the socketmap reply for
//! every scenario, pipelining, keys, zones, bad input; the one-shot fetch with its exit codes.
//! Postfix itself reading these replies is in `real_lab`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::lab::{RunningLab, start_lab, with_lab};
use crate::{stderr, stdout};

/// What the daemon must answer Postfix for each scenario, by hand from the scenario's
/// description (DANE first, RFC 8461 §2; `TEMP` when DNSSEC or the DNS fails; `secure` for an
/// enforce policy, whose failures Postfix itself then finds; `notfound` for no policy,
/// `testing`, `none` and every policy that cannot be fetched).
const EXPECTED: &[(&str, &str)] = &[
    ("sts-enforce", "secure"),
    ("sts-testing", "notfound"),
    ("sts-none", "notfound"),
    ("sts-wildcard", "secure"),
    ("sts-wildcard-deep", "secure"),
    ("sts-mx-mismatch", "secure"),
    ("sts-mx-wrong-cert", "secure"),
    ("sts-mx-expired-cert", "secure"),
    ("sts-mx-untrusted-cert", "secure"),
    ("sts-mx-no-starttls", "secure"),
    ("sts-invalid-policy", "notfound"),
    ("sts-no-txt", "notfound"),
    ("sts-txt-nodata", "notfound"),
    ("sts-two-txt", "notfound"),
    ("sts-bad-id", "notfound"),
    ("sts-split-txt", "secure"),
    ("sts-host-missing", "notfound"),
    ("sts-cname", "secure"),
    ("sts-txt-timeout", "temp"),
    ("sts-txt-servfail", "temp"),
    ("sts-redirect", "notfound"),
    ("sts-404", "notfound"),
    ("sts-html", "notfound"),
    ("sts-oversize", "notfound"),
    ("sts-slow", "notfound"),
    ("sts-host-untrusted", "notfound"),
    ("sts-host-wrong-name", "notfound"),
    ("sts-host-expired", "notfound"),
    ("dane-ee", "dane"),
    ("dane-ee-wrong", "dane"),
    ("dane-ta", "dane"),
    ("dane-ta-wrong-name", "dane"),
    ("dane-ee-expired", "dane"),
    ("dane-ee-and-ta", "dane"),
    // A secure TLSA RRset without usable records: Postfix's DANE code makes TLS mandatory.
    ("dane-pkix-only", "dane"),
    ("dane-no-starttls", "dane"),
    ("dane-insecure", "notfound"),
    ("dane-bogus-tlsa", "temp"),
    ("dane-bogus-mx", "temp"),
    ("dane-digest-agility", "dane"),
    ("dane-ta-not-served", "dane"),
    ("dane-tlsa-servfail", "temp"),
    ("dane-no-tlsa", "notfound"),
    ("dane-and-sts", "dane"),
    // DANE fails there, and MTA-STS must not rescue it: the reply is DANE's.
    ("dane-fail-sts-ok", "dane"),
    ("plain", "notfound"),
    ("dane-bogus-denial-at-tlsa-name", "dane"),
    ("dane-dual-cert", "dane"),
    // The MX is a CNAME: the TLSA records are at the expanded name (RFC 7672 §2.2.3).
    ("dane-cname-sni", "dane"),
    ("dane-submission-tlsa", "dane"),
    ("sts-txt-spf", "notfound"),
    ("sts-cache-headers", "secure"),
    ("sts-host-old-tls", "notfound"),
    ("sts-host-delegated", "secure"),
    ("sts-host-delegated-bad-cert", "notfound"),
    ("sts-max-age-year", "secure"),
    ("tlsrpt-https", "secure"),
    ("tlsrpt-https-broken", "secure"),
];

/// `mailsec daemon` on a free port with the lab's variables, stopped when dropped.
struct Daemon {
    child: Child,
    addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(lab: &RunningLab, args: &[&str]) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsec"))
        // A short fetch timeout for the slow policy host; the DNS timeout stays 5 s.
        .args(["--fetch-timeout", "3", "daemon", "--cache", "memory:"])
        .args(args)
        .envs(lab.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("mailsec daemon ended early").unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    // `mailsec daemon: listening on 127.0.0.1:PORT[, ...]`
    let addr = first
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(", ").next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    Daemon { child, addr }
}

fn netstring(payload: &str) -> Vec<u8> {
    format!("{}:{payload},", payload.len()).into_bytes()
}

/// Reads one netstring reply.
fn read_reply(r: &mut impl Read) -> String {
    let mut len = Vec::new();
    let mut b = [0u8; 1];
    loop {
        r.read_exact(&mut b).unwrap();
        if b[0] == b':' {
            break;
        }
        len.push(b[0]);
    }
    let n: usize = String::from_utf8(len).unwrap().parse().unwrap();
    let mut payload = vec![0u8; n + 1];
    r.read_exact(&mut payload).unwrap();
    assert_eq!(payload.pop(), Some(b','));
    String::from_utf8(payload).unwrap()
}

fn class(reply: &str) -> &'static str {
    if reply.starts_with("OK secure match=") {
        "secure"
    } else if reply == "OK dane" {
        "dane"
    } else if reply == "NOTFOUND " {
        "notfound"
    } else if reply.starts_with("TEMP ") {
        "temp"
    } else {
        "other"
    }
}

fn connect(d: &Daemon) -> TcpStream {
    let s = TcpStream::connect(&d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

#[test]
fn every_scenario_gets_the_reply_postfix_needs_pipelined_in_order() {
    let lab = start_lab();
    // Every scenario is classified, and only scenarios are.
    let list = with_lab(&lab, &["lab", "--list", "--json"]);
    let listed: Vec<String> = serde_json::from_slice::<Value>(&list.stdout)
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s["domain"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_else(|e| panic!("lab --list --json: {e}: {}", stdout(&list)));
    let mut mine: Vec<String> = EXPECTED.iter().map(|(n, _)| format!("{n}.test")).collect();
    let mut theirs = listed;
    mine.sort();
    theirs.sort();
    assert_eq!(mine, theirs, "the table must classify every scenario");

    let d = start_daemon(&lab, &["--listen", "127.0.0.1:0"]);
    let mut s = connect(&d);
    // All requests at once: Postfix sends one at a time, but the protocol allows pipelining
    // and replies must come back in order.
    let mut all = Vec::new();
    for (name, _) in EXPECTED {
        all.extend(netstring(&format!("postfix {name}.test")));
    }
    s.write_all(&all).unwrap();
    let mut wrong = Vec::new();
    for (name, want) in EXPECTED {
        let reply = read_reply(&mut s);
        if class(&reply) != *want {
            wrong.push(format!("{name}: {reply:?}, expected {want}"));
        }
        if *want == "secure" {
            assert!(reply.contains("servername=hostname"), "{name}: {reply}");
            assert!(reply.contains(&format!("{name}.test")), "{name}: {reply}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The same again: now from the cache.
    let mut s = connect(&d);
    s.write_all(&netstring("postfix sts-enforce.test")).unwrap();
    assert_eq!(
        read_reply(&mut s),
        "OK secure match=mx.sts-enforce.test servername=hostname"
    );

    // Keys: case, trailing dot and a port are normalised; brackets, addresses and parent
    // keys have no policy.
    for (key, want) in [
        (
            "STS-Enforce.TEST.",
            "OK secure match=mx.sts-enforce.test servername=hostname",
        ),
        (
            "sts-enforce.test:25",
            "OK secure match=mx.sts-enforce.test servername=hostname",
        ),
        ("[mx.sts-enforce.test]", "NOTFOUND "),
        ("[mx.sts-enforce.test]:587", "NOTFOUND "),
        ("192.0.2.1", "NOTFOUND "),
        ("2001:db8::1", "NOTFOUND "),
        (".sts-enforce.test", "NOTFOUND "),
    ] {
        s.write_all(&netstring(&format!("postfix {key}"))).unwrap();
        assert_eq!(read_reply(&mut s), want, "{key}");
    }
    // postfix-tlspol's map name adds the TLSRPT attributes of Postfix 3.10.
    s.write_all(&netstring("QUERYwithTLSRPT sts-wildcard.test"))
        .unwrap();
    let r = read_reply(&mut s);
    assert!(
        r.starts_with("OK secure match=.mx.sts-wildcard.test servername=hostname policy_type=sts policy_domain=sts-wildcard.test mx_host_pattern=*.mx.sts-wildcard.test { policy_string = version: STSv1 }"),
        "{r}"
    );
    // A request without a key is answered, and the connection stays.
    s.write_all(&netstring("postfix")).unwrap();
    assert!(read_reply(&mut s).starts_with("PERM "));
    s.write_all(&netstring("postfix plain.test")).unwrap();
    assert_eq!(read_reply(&mut s), "NOTFOUND ");
    // A malformed netstring closes that connection alone.
    s.write_all(b"x:garbage,").unwrap();
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0, "{rest:?}");
    let mut s2 = connect(&d);
    s2.write_all(&netstring("postfix dane-ee.test")).unwrap();
    assert_eq!(read_reply(&mut s2), "OK dane");
}

#[test]
fn zones_unix_sockets_and_configuration() {
    let lab = start_lab();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        "[default_zone]\ndane = \"dane-only\"\n[zones.strict]\nstrict_testing = true\n[zones.nodane]\ndane = \"off\"\n[socket]\nmode = \"0600\"\n",
    )
    .unwrap();
    let check = with_lab(
        &lab,
        &[
            "daemon",
            "--config",
            config.to_str().unwrap(),
            "--check-config",
        ],
    );
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(stdout(&check).contains(": valid: "), "{}", stdout(&check));
    let sock = dir.path().join("sts.sock");
    let listen = format!("unix:{}", sock.display());
    let d = start_daemon(
        &lab,
        &["--config", config.to_str().unwrap(), "--listen", &listen],
    );
    assert_eq!(d.addr, listen);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    for (req, want) in [
        ("postfix dane-ee.test", "OK dane-only"),
        (
            "strict sts-testing.test",
            "OK secure match=mx.sts-testing.test servername=hostname",
        ),
        ("postfix sts-testing.test", "NOTFOUND "),
        // Without DANE first, the MTA-STS policy of a DANE domain is what is left.
        (
            "nodane dane-and-sts.test",
            "OK secure match=mx.dane-and-sts.test servername=hostname",
        ),
        ("postfix dane-and-sts.test", "OK dane-only"),
    ] {
        s.write_all(&netstring(req)).unwrap();
        assert_eq!(read_reply(&mut s), want, "{req}");
    }

    // Unknown keys and bad values: exit 2 with one line naming the file.
    std::fs::write(&config, "[default_zone]\nstrict = true\n").unwrap();
    let bad = with_lab(
        &lab,
        &[
            "daemon",
            "--config",
            config.to_str().unwrap(),
            "--check-config",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = stderr(&bad);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("daemon.toml") && err.contains("unknown field `strict`"),
        "{err}"
    );
}

#[test]
fn import_config_prints_toml_the_daemon_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let yml = dir.path().join("mta-sts-daemon.yml");
    std::fs::write(
        &yml,
        "host: 127.0.0.1\nport: 8461\ncache:\n  type: sqlite\n  options:\n    filename: /var/lib/mta-sts/cache.db\ndefault_zone:\n  strict_testing: false\n  timeout: 4\nzones:\n  myzone:\n    strict_testing: true\n    tlsrpt: true\n",
    )
    .unwrap();
    let o = crate::mailsec(&["daemon", "--import-config", yml.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let toml = dir.path().join("daemon.toml");
    std::fs::write(&toml, &o.stdout).unwrap();
    let c = crate::mailsec(&[
        "daemon",
        "--config",
        toml.to_str().unwrap(),
        "--check-config",
    ]);
    assert_eq!(c.status.code(), Some(0), "{}{}", stdout(&o), stderr(&c));
    assert!(
        stdout(&c).contains("listen 127.0.0.1:8461"),
        "{}",
        stdout(&c)
    );
    assert!(stdout(&c).contains("1 named zone"), "{}", stdout(&c));
}

#[test]
fn sts_fetch_shows_the_record_the_policy_the_rule_and_the_reply() {
    let lab = start_lab();
    let o = with_lab(&lab, &["sts", "fetch", "sts-enforce.test", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["record"]["status"], "found");
    assert_eq!(v["fetch"]["status"], "ok");
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["mx"][0], "mx.sts-enforce.test");
    assert_eq!(v["rule"], "fetched");
    assert_eq!(v["verdict"], "enforce");
    assert_eq!(v["dane"], "not-dane");
    assert_eq!(
        v["reply"],
        "OK secure match=mx.sts-enforce.test servername=hostname"
    );
    // A record but no policy: exit 1 with the result type.
    for (domain, result_type) in [
        ("sts-404.test", "sts-policy-fetch-error"),
        ("sts-host-untrusted.test", "sts-webpki-invalid"),
        ("sts-invalid-policy.test", "sts-policy-invalid"),
    ] {
        let o = with_lab(&lab, &["sts", "fetch", domain, "--json"]);
        assert_eq!(o.status.code(), Some(1), "{domain}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["verdict"], "no-policy", "{domain}");
        assert_eq!(v["result_type"], result_type, "{domain}");
        assert_eq!(v["fetch"]["status"], "failed", "{domain}");
    }
    // No record at all: exit 0. A DNS failure: exit 2.
    let o = with_lab(&lab, &["sts", "fetch", "plain.test"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("verdict: no-policy by rule no-record"),
        "{}",
        stdout(&o)
    );
    let o = with_lab(&lab, &["sts", "fetch", "sts-txt-servfail.test", "--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "temp");
    assert!(v["reply"].as_str().unwrap().starts_with("TEMP "), "{v}");
}
