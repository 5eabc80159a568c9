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
pub(crate) const EXPECTED: &[(&str, &str)] = &[
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
    metrics: Option<String>,
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
    let rest = first
        .split("listening on ")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let addr = rest.split(", ").next().unwrap_or_default().to_owned();
    let metrics = rest.split(", ").find_map(|p| {
        p.strip_prefix("metrics http://")
            .and_then(|a| a.strip_suffix("/metrics"))
            .map(str::to_owned)
    });
    Daemon {
        child,
        addr,
        metrics,
    }
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

pub(crate) fn class(reply: &str) -> &'static str {
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
        "[default_zone]\ndane = \"dane-only\"\n[zones.strict]\nstrict_testing = true\n[zones.nodane]\ndane = \"off\"\n[zones.hasty]\ntimeout = 1\n[socket]\nmode = \"0600\"\n",
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
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // Owner and group by name (as root, which CI is: the test command installs packages).
    if meta.uid() == 0 {
        let owned = dir.path().join("owned.toml");
        std::fs::write(
            &owned,
            "[socket]\nowner = \"nobody\"\ngroup = \"nogroup\"\n",
        )
        .unwrap();
        let sock2 = dir.path().join("owned.sock");
        let listen2 = format!("unix:{}", sock2.display());
        let _d2 = start_daemon(
            &lab,
            &["--config", owned.to_str().unwrap(), "--listen", &listen2],
        );
        let m = std::fs::metadata(&sock2).unwrap();
        let uid = Command::new("id").args(["-u", "nobody"]).output().unwrap();
        let uid: u32 = String::from_utf8_lossy(&uid.stdout).trim().parse().unwrap();
        assert_eq!(m.uid(), uid);
        let gid = Command::new("getent")
            .args(["group", "nogroup"])
            .output()
            .unwrap();
        let gid: u32 = String::from_utf8_lossy(&gid.stdout)
            .split(':')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(m.gid(), gid);
    }
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
    // A zone's timeout: the slow policy host (3 s here) outlasts a 1 s zone, which answers
    // TEMP (Postfix defers) rather than wait past its own limits.
    let asked = std::time::Instant::now();
    s.write_all(&netstring("hasty sts-slow.test")).unwrap();
    let r = read_reply(&mut s);
    assert!(
        r.starts_with("TEMP ") && r.contains("within 1s"),
        "{r} after {:?}",
        asked.elapsed()
    );

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
    // The example configuration shipped in contrib/ is valid.
    let example = crate::testdata("../contrib/daemon.toml");
    let c = crate::mailsec(&[
        "daemon",
        "--config",
        example.to_str().unwrap(),
        "--check-config",
    ]);
    assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
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

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The value of one sample line `name{labels} value` of a Prometheus text page.
fn sample(page: &str, name_and_labels: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn metrics_reload_on_sighup_and_drain_on_sigterm() {
    let lab = start_lab();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("daemon.toml");
    std::fs::write(&config, "[default_zone]\nstrict_testing = false\n").unwrap();
    let d = start_daemon(
        &lab,
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let mut s = connect(&d);
    let ask = |s: &mut TcpStream, req: &str| {
        s.write_all(&netstring(req)).unwrap();
        read_reply(s)
    };
    assert_eq!(ask(&mut s, "postfix sts-testing.test"), "NOTFOUND ");
    assert_eq!(
        ask(&mut s, "postfix sts-enforce.test"),
        "OK secure match=mx.sts-enforce.test servername=hostname"
    );
    assert_eq!(
        ask(&mut s, "postfix sts-enforce.test"),
        "OK secure match=mx.sts-enforce.test servername=hostname"
    );
    assert_eq!(ask(&mut s, "postfix dane-ee.test"), "OK dane");
    assert!(ask(&mut s, "postfix sts-txt-servfail.test").starts_with("TEMP "));
    assert_eq!(ask(&mut s, "postfix sts-404.test"), "NOTFOUND ");

    // Metrics: the lookups by reply, cache hits and misses, fetches by outcome.
    let metrics_addr = d.metrics.clone().expect("--metrics address printed");
    let page = http_get(&metrics_addr, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert_eq!(
        sample(&page, "mailsec_sts_lookups_total{reply=\"secure\"}"),
        2.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, "mailsec_sts_lookups_total{reply=\"notfound\"}"),
        2.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, "mailsec_sts_lookups_total{reply=\"dane\"}"),
        1.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, "mailsec_sts_lookups_total{reply=\"temp\"}"),
        1.0,
        "{page}"
    );
    // sts-enforce's second lookup came from the cache.
    assert!(
        sample(&page, "mailsec_sts_cache_total{result=\"hit\"}") >= 1.0,
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            "mailsec_sts_fetches_total{outcome=\"sts-policy-fetch-error\"}"
        ),
        1.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, "mailsec_sts_fetches_total{outcome=\"ok\"}"),
        2.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, "mailsec_sts_policy_changes_total"),
        2.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, "mailsec_sts_lookup_seconds_count"),
        6.0,
        "{page}"
    );
    assert!(http_get(&metrics_addr, "/other").starts_with("HTTP/1.1 404"));

    // 1,000 lookups at once of a domain nobody asked for yet (100 connections, 10 pipelined
    // requests each): one fetch.
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let mut c = connect(&d);
            let mut burst = Vec::new();
            for _ in 0..10 {
                burst.extend(netstring("postfix sts-max-age-year.test"));
            }
            c.write_all(&burst).unwrap();
            c
        })
        .collect();
    for mut c in clients {
        for _ in 0..10 {
            assert_eq!(
                read_reply(&mut c),
                "OK secure match=mx.sts-max-age-year.test servername=hostname"
            );
        }
    }
    let page = http_get(&metrics_addr, "/metrics");
    assert_eq!(
        sample(&page, "mailsec_sts_fetches_total{outcome=\"ok\"}"),
        3.0,
        "{page}"
    );

    // SIGHUP: the zones of the file are reloaded; a broken file keeps the running ones.
    let hup = || {
        let ok = Command::new("kill")
            .args(["-HUP", &d.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        std::thread::sleep(Duration::from_millis(500));
    };
    std::fs::write(&config, "[default_zone]\nstrict_testing = true\n").unwrap();
    hup();
    assert_eq!(
        ask(&mut s, "postfix sts-testing.test"),
        "OK secure match=mx.sts-testing.test servername=hostname"
    );
    std::fs::write(&config, "[default_zone]\nstrict_testing = maybe\n").unwrap();
    hup();
    assert_eq!(
        ask(&mut s, "postfix sts-testing.test"),
        "OK secure match=mx.sts-testing.test servername=hostname"
    );

    // SIGTERM: a request in progress (the slow policy host takes the whole 3 s fetch
    // timeout) is still answered, then the daemon exits 0 and accepts nothing more.
    let mut slow = connect(&d);
    slow.write_all(&netstring("postfix sts-slow.test")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let ok = Command::new("kill")
        .args(["-TERM", &d.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(read_reply(&mut slow), "NOTFOUND ");
    let mut d = d;
    let status = d.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(TcpStream::connect(&d.addr).is_err());
}

#[test]
fn bad_clients_affect_only_themselves() {
    let lab = start_lab();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("daemon.toml");
    std::fs::write(&config, "[limits]\nwrite_timeout = 1\nidle_timeout = 2\n").unwrap();
    let d = start_daemon(
        &lab,
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let closed = |s: &mut TcpStream| {
        let mut rest = Vec::new();
        matches!(s.read_to_end(&mut rest), Ok(0) | Err(_))
    };
    // A key longer than the request limit: that connection is closed before it is read.
    let mut big = connect(&d);
    big.write_all(format!("100000:postfix {}", "a".repeat(1000)).as_bytes())
        .unwrap();
    assert!(closed(&mut big));
    // A key that is not UTF-8: a defined reply, the connection stays.
    let mut bin = connect(&d);
    bin.write_all(b"10:postfix \xff\xfe,").unwrap();
    assert!(read_reply(&mut bin).starts_with("PERM "));
    bin.write_all(&netstring("postfix plain.test")).unwrap();
    assert_eq!(read_reply(&mut bin), "NOTFOUND ");
    // A client that sends without ever reading: its replies (long ones, with the TLSRPT
    // attributes) fill the socket buffers, the write times out after 1 s and that connection
    // is closed.
    let mut warm = connect(&d);
    warm.write_all(&netstring("QUERYwithTLSRPT sts-enforce.test"))
        .unwrap();
    let long = read_reply(&mut warm);
    assert!(long.len() > 200, "{long}");
    let mut greedy = connect(&d);
    let burst: Vec<u8> = (0..20_000)
        .flat_map(|_| netstring("QUERYwithTLSRPT sts-enforce.test"))
        .collect();
    let writer = {
        let mut g = greedy.try_clone().unwrap();
        g.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        std::thread::spawn(move || {
            for _ in 0..20 {
                if let Err(e) = g.write_all(&burst) {
                    return Some(e.kind());
                }
            }
            None
        })
    };
    // Meanwhile another client is served.
    let mut other = connect(&d);
    other.write_all(&netstring("postfix dane-ee.test")).unwrap();
    assert_eq!(read_reply(&mut other), "OK dane");
    // The daemon closed the connection (reset or broken pipe), not the client's own timeout.
    let ended = writer.join().unwrap();
    assert!(
        matches!(
            ended,
            Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)
        ),
        "{ended:?}"
    );
    greedy
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Reading now drains what the kernel buffered, then the close.
    let mut sink = Vec::new();
    let _ = greedy.read_to_end(&mut sink);
    assert!(
        sink.len() < 20 * 20_000 * "9:NOTFOUND ,".len(),
        "every reply was written"
    );
    // An idle connection is closed after idle_timeout (2 s here, 9 s by default).
    let mut idle = connect(&d);
    let t = std::time::Instant::now();
    assert!(closed(&mut idle));
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
    // And the daemon still answers.
    let mut last = connect(&d);
    last.write_all(&netstring("postfix sts-enforce.test"))
        .unwrap();
    assert!(read_reply(&mut last).starts_with("OK secure "));
}

#[test]
fn the_sqlite_cache_survives_processes_and_can_be_dumped_and_purged() {
    let lab = start_lab();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("sts.db").display());
    let fetch = |domain: &str| -> Value {
        let o = with_lab(&lab, &["sts", "fetch", domain, "--cache", &url, "--json"]);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    // First process: fetched. Second process: from the file, without a lookup.
    assert_eq!(fetch("sts-enforce.test")["rule"], "fetched");
    let v = fetch("sts-enforce.test");
    assert_eq!(v["rule"], "cached", "{v}");
    assert!(v["record"].is_null(), "{v}");
    assert_eq!(v["verdict"], "enforce");
    // A failed fetch is remembered (back-off), with its result type.
    assert_eq!(fetch("sts-404.test")["rule"], "fetch-failed");
    let v = fetch("sts-404.test");
    assert_eq!(
        (v["rule"].as_str(), v["result_type"].as_str()),
        (Some("fetch-failed"), Some("sts-policy-fetch-error")),
        "{v}"
    );
    assert!(
        v["fetch"].is_null(),
        "no second fetch during the back-off: {v}"
    );

    let dump = with_lab(&lab, &["daemon", "--cache", &url, "--dump"]);
    assert_eq!(dump.status.code(), Some(0), "{}", stderr(&dump));
    let lines: Vec<Value> = stdout(&dump)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let domains: Vec<&str> = lines
        .iter()
        .map(|l| l["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["sts-404.test", "sts-enforce.test"]);
    assert_eq!(lines[1]["entry"]["policy"]["id"], "20261129T000000");
    assert_eq!(
        lines[0]["entry"]["status"]["failure"],
        "sts-policy-fetch-error"
    );
    let purge = with_lab(&lab, &["daemon", "--cache", &url, "--purge"]);
    assert_eq!(purge.status.code(), Some(0), "{}", stderr(&purge));
    assert!(
        stdout(&purge).contains("2 entries removed"),
        "{}",
        stdout(&purge)
    );
    assert_eq!(fetch("sts-enforce.test")["rule"], "fetched");
    // --dump of memory: is a usage error.
    let o = with_lab(&lab, &["daemon", "--cache", "memory:", "--dump"]);
    assert_eq!(o.status.code(), Some(2));
}
