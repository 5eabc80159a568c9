//! Agreement with checkdmarc 6.0.4 (PyPI; installed by scripts/install-checkdmarc): over every
//! scenario domain of the lab, each MTA-STS or TLS-RPT problem checkdmarc reports is reported by
//! `mailsec check` too, under the check ID that [`MAPPING`] gives checkdmarc's message.
//!
//! Both tools run in the network namespace `mailsec-checkdmarc` (its own loopback, so fixed ports
//! are free; `scripts/lab-real` and `real_lab.rs` use `mailsec-lab`, and may run at the same
//! time):
//!
//! - `mailsec lab --dns-port 5300 --https-port 443 --smtp-port 25`: checkdmarc can neither take
//!   a DNS port (`--nameserver` is an address) nor a policy-host or SMTP port;
//! - Unbound on 127.0.0.1:53, validating with the lab's root key and forwarding to the lab:
//!   checkdmarc's DNS client (dnspython) is a stub that needs a recursive resolver, and the lab's
//!   server is authoritative only (it answers `sts-cname`'s CNAME without following it into the
//!   other zone). It is also the namespace's system resolver (`ip netns exec` bind-mounts
//!   /etc/netns/mailsec-checkdmarc/resolv.conf), because checkdmarc's policy fetch (requests)
//!   and MX probe (smtplib) resolve through the C library;
//! - checkdmarc `--nameserver 127.0.0.1 --check-mx-tls` with `REQUESTS_CA_BUNDLE` and
//!   `SSL_CERT_FILE` naming the lab CA; `mailsec check --json` (connecting to every MX, as
//!   `--check-mx-tls` does), validating DNSSEC itself against the lab's server.
//!
//! What is compared: checkdmarc's `mta_sts` and `smtp_tls_reporting` sections (`error` when
//! `valid` is false, and every `warnings` entry), and the `mx` section's error and warnings,
//! where `--check-mx-tls` and the MTA-STS MX coverage report. Its SPF, DMARC, BIMI, SOA and NS
//! sections are outside mailsec's scope and not read. A message that no row of [`MAPPING`] or
//! [`OUT_OF_SCOPE`] matches fails the test, as does a mapped problem mailsec does not report.
//! Where checkdmarc departs from RFC 8461, 8460 or 7672, [`DIFFERENCES`] names the departure
//! and the test checks that both tools still behave as described there.
//!
//! Needs root (network namespaces), Unbound and dig (scripts/install-lab-packages) and checkdmarc,
//! so it is `#[ignore]`d in a plain `cargo test`; `scripts/test` installs all three and runs it
//! with `--ignored`, where a missing prerequisite fails it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mailsec_lab::scenario::{SCENARIOS, StsTxt};
use serde_json::Value;

const NS: &str = "mailsec-checkdmarc";
const CHECKDMARC_VERSION: &str = "6.0.4";

/// Where in checkdmarc's JSON a message was found.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
enum Section {
    /// `mta_sts`: `error` (when `valid` is false) and `warnings`.
    MtaSts,
    /// `smtp_tls_reporting`: `error` and `warnings`.
    TlsRpt,
    /// `mx`: `error`, and `warnings` (MTA-STS coverage, `--check-mx-tls`).
    Mx,
}

/// One checkdmarc 6.0.4 message, recognised by a fixed fragment of its text (the first row of
/// its section whose fragment it contains), and the mailsec checks that report the same problem:
/// mailsec must report at least one of `ids` for the domain.
struct Row {
    section: Section,
    fragment: &'static str,
    ids: &'static [&'static str],
}

const fn row(section: Section, fragment: &'static str, ids: &'static [&'static str]) -> Row {
    Row {
        section,
        fragment,
        ids,
    }
}

use Section::{MtaSts, Mx, TlsRpt};

/// checkdmarc's messages (checkdmarc/mta_sts.py, smtp_tls_reporting.py, smtp.py, utils.py at
/// 6.0.4) and the catalogue IDs (`mailsec checks`) of the same problem. Specific fragments come
/// before general ones of the same section. Rows the lab's scenarios do not trigger are kept so
/// that the table says what each message means; the test prints which rows it exercised.
const MAPPING: &[Row] = &[
    // --- mta_sts: the _mta-sts TXT record (RFC 8461 §3.1)
    row(MtaSts, "An MTA-STS DNS record does not exist.", &["S1"]),
    row(MtaSts, "The domain does not exist.", &["S1"]),
    row(
        MtaSts,
        "Multiple MTA-STS records are not permitted.",
        &["S2"],
    ),
    row(
        MtaSts,
        "Unrelated TXT records were discovered and ignored.",
        &["S3"],
    ),
    row(
        MtaSts,
        "Found an SPF record where an MTA-STS record should be",
        &["S4"],
    ),
    row(MtaSts, "The MTA-STS record must be located at", &["S5"]),
    row(MtaSts, "has both a TXT record and", &["S6"]),
    row(
        MtaSts,
        "does not begin with the literal \"v=STSv1;\"",
        &["S8"],
    ),
    row(MtaSts, "Error: Expected", &["S8", "S15"]),
    row(
        MtaSts,
        "The id value must be 1-32 letters or digits",
        &["S9"],
    ),
    row(
        MtaSts,
        "The MTA-STS record is missing the required",
        &["S9"],
    ),
    row(MtaSts, "Unknown MTA-STS tag", &["S10"]),
    row(MtaSts, "The MTA-STS record has duplicate", &["S10"]),
    // A DNS failure is not a missing record (dnspython's texts).
    row(MtaSts, "answered SERVFAIL", &["S13"]),
    row(MtaSts, "The resolution lifetime expired", &["S13"]),
    row(MtaSts, "The DNS operation timed out", &["S13"]),
    // --- mta_sts: the policy fetch (RFC 8461 §3.3; requests' exception texts)
    row(MtaSts, "NameResolutionError", &["H1"]),
    row(MtaSts, "NewConnectionError", &["H1"]),
    row(MtaSts, "Read timed out", &["H1"]),
    // With delegation (a CNAME to a provider's host), the same failure is H12 (RFC 8461 §8.2).
    row(MtaSts, "CERTIFICATE_VERIFY_FAILED", &["H2", "H12"]),
    // OpenSSL's words for a server that speaks only TLS versions before 1.2 (RFC 8461 §7.2).
    row(MtaSts, "TLSV1_ALERT_PROTOCOL_VERSION", &["H10"]),
    row(MtaSts, "UNSUPPORTED_PROTOCOL", &["H10"]),
    row(MtaSts, "The MTA-STS policy fetch returned HTTP 3", &["H5"]),
    row(MtaSts, "The MTA-STS policy fetch returned HTTP", &["H4"]),
    row(MtaSts, "The Content-Type header", &["H6"]),
    // --- mta_sts: the policy body (RFC 8461 §3.2)
    row(
        MtaSts,
        "A carriage return that is not part of a CRLF",
        &["P1"],
    ),
    row(MtaSts, "Not a key: value pair.", &["P2"]),
    row(
        MtaSts,
        "Whitespace is not allowed before a field name",
        &["P2"],
    ),
    row(MtaSts, "Invalid version:", &["P3"]),
    row(MtaSts, "Missing required key: version.", &["P3"]),
    row(MtaSts, "Invalid mode:", &["P4"]),
    row(MtaSts, "Missing required key: mode.", &["P4"]),
    row(MtaSts, "max_age must be an integer value", &["P5"]),
    row(MtaSts, "Missing required key: max_age.", &["P5"]),
    row(MtaSts, "Invalid mx value:", &["P8"]),
    row(MtaSts, "mode requires at least one mx value.", &["P9"]),
    row(MtaSts, "key. Only the first value is used.", &["P10"]),
    row(MtaSts, "Unknown key", &["P11"]),
    row(MtaSts, "is not a valid extension field name", &["P11"]),
    row(MtaSts, "The value of the extension field", &["P11"]),
    // --- smtp_tls_reporting: the _smtp._tls TXT record (RFC 8460 §3)
    row(
        TlsRpt,
        "An SMTP TLS Reporting record does not exist.",
        &["R1"],
    ),
    row(TlsRpt, "The domain does not exist.", &["R1"]),
    row(
        TlsRpt,
        "Multiple SMTP TLS Reporting records are not permitted.",
        &["R2"],
    ),
    row(
        TlsRpt,
        "Unrelated TXT records were discovered and ignored.",
        &["R3"],
    ),
    row(
        TlsRpt,
        "Found an SPF record where an SMTP TLS Reporting record",
        &["R3"],
    ),
    row(
        TlsRpt,
        "The SMTP TLS Reporting record must be located at",
        &["R3"],
    ),
    row(TlsRpt, "has both a TXT record and", &["R3"]),
    row(
        TlsRpt,
        "does not begin with the literal \"v=TLSRPTv1;\"",
        &["R4"],
    ),
    row(TlsRpt, "Error: Expected", &["R4", "R19"]),
    row(
        TlsRpt,
        "The record is missing the required rua tag.",
        &["R5"],
    ),
    row(TlsRpt, "The record contains more than one", &["R4", "R6"]),
    row(TlsRpt, "Unknown tag", &["R7"]),
    row(TlsRpt, "The value of the extension field", &["R7"]),
    row(
        TlsRpt,
        "is not a valid SMTP TLS Reporting URI.",
        &["R8", "R9", "R10", "R11"],
    ),
    row(TlsRpt, "answered SERVFAIL", &["N2", "N10"]),
    row(TlsRpt, "The resolution lifetime expired", &["N10"]),
    // --- mx: MTA-STS coverage (RFC 8461 §4.1) and --check-mx-tls (RFC 8461 §4.2, RFC 7672)
    row(Mx, "is not included in the MTA-STS policy", &["P13"]),
    row(Mx, "STARTTLS is not supported on", &["T1"]),
    // RFC 2181 §10.3: an MX target that is an alias; mailsec names the chain (N5).
    row(Mx, "MX records must not point at aliases", &["N5"]),
    // OpenSSL's verification errors on the STARTTLS session: under an MTA-STS policy they are
    // P15, under DANE-TA a D check, otherwise T12/T15 (information: senders without MTA-STS or
    // DANE do not check certificates).
    row(Mx, "Hostname mismatch", &["P15", "T15", "D8"]),
    row(Mx, "certificate has expired", &["P15", "T12", "D10", "D11"]),
    row(
        Mx,
        "unable to get local issuer certificate",
        &["P15", "T12"],
    ),
    row(Mx, "self-signed certificate", &["P15", "T12"]),
    row(Mx, "answered SERVFAIL", &["N2", "N10"]),
    row(Mx, "The resolution lifetime expired", &["N10"]),
];

/// checkdmarc messages of the `mx` section that mailsec deliberately does not check, and why.
const OUT_OF_SCOPE: &[(&str, &str)] = &[
    (
        "does not have any reverse DNS (PTR) records",
        "reverse DNS is an anti-spam convention; no MTA-STS, TLS-RPT or DANE rule reads it",
    ),
    (
        "The reverse DNS of",
        "reverse DNS is an anti-spam convention; no MTA-STS, TLS-RPT or DANE rule reads it",
    ),
    (
        "implicit TLS on port 465 failed",
        "checkdmarc falls back to port 465 (submissions, RFC 8314) when STARTTLS is missing; \
         MTAs relay to an MX on port 25 only (RFC 5321), so 465 says nothing about delivery",
    ),
    ("SSL/TLS is not supported on", "the same port 465 fallback"),
];

/// A scenario where checkdmarc departs from the RFCs, what each tool does there, and — for the
/// policy-host faults checkdmarc does not see — the checks mailsec reports instead.
struct Difference {
    scenario: &'static str,
    /// What checkdmarc 6.0.4 does.
    checkdmarc: &'static str,
    /// A fragment of the message by which checkdmarc says it (checked), if it says anything.
    evidence: Option<&'static str>,
    /// What the RFC says.
    rfc: &'static str,
    /// The checks mailsec reports for the scenario (each one required).
    mailsec: &'static [&'static str],
    /// checkdmarc accepts the MTA-STS policy that RFC-following senders refuse.
    accepts_policy: bool,
    /// IDs that checkdmarc's messages map to but that mailsec, having refused the body, cannot
    /// report; `mailsec` stands for them.
    instead_of: &'static [&'static str],
}

const DIFFERENCES: &[Difference] = &[
    Difference {
        scenario: "sts-html",
        checkdmarc: "accepts the policy served as text/html: valid, with a warning",
        evidence: Some("The Content-Type header should be text/plain, not text/html"),
        rfc: "RFC 8461 §3.2: senders SHOULD check that the media type is text/plain (against \
              hosts where users can publish other content); such senders see no policy",
        mailsec: &["H6"],
        accepts_policy: true,
        instead_of: &[],
    },
    Difference {
        scenario: "sts-oversize",
        checkdmarc: "reads and accepts a policy body over 64 KiB, warning about each of its \
                     padding keys",
        evidence: Some("Unknown key x-padding was ignored."),
        rfc: "RFC 8461 §3.3: senders MAY cap the body, 64 KB suggested, and Policy Hosts SHOULD \
              answer within that size; mailsec stops reading at 64 KiB, so it never parses the \
              keys checkdmarc warns about (P11) and reports the size (H7) instead",
        mailsec: &["H7"],
        accepts_policy: true,
        instead_of: &["P11"],
    },
    Difference {
        scenario: "sts-slow",
        checkdmarc: "waits for a body sent one byte a second (over a minute) and accepts it: its \
                     2 s HTTP timeout bounds each read, not the fetch",
        evidence: None,
        rfc: "RFC 8461 §3.3: senders MAY time the fetch out, one minute suggested, and Policy \
              Hosts SHOULD answer within it; mailsec bounds the whole fetch (30 s)",
        mailsec: &["H1"],
        accepts_policy: true,
        instead_of: &[],
    },
    Difference {
        scenario: "dane-ee-expired",
        checkdmarc: "reports the expired certificate of the MX as a problem",
        evidence: Some("certificate has expired"),
        rfc: "RFC 7672 §3.1.1: with a DANE-EE(3) record that matches, the certificate's dates \
              (and names) are not checked; DANE senders deliver, and mailsec says so as \
              information (D11) beside the verdict deliver (dane)",
        mailsec: &["D11"],
        accepts_policy: false,
        instead_of: &[],
    },
];

/// One problem checkdmarc reported for one domain.
#[derive(Debug)]
struct Problem {
    domain: String,
    section: Section,
    text: String,
}

/// Processes and files of one run, all removed on drop (also when an assertion fails).
struct World {
    dir: tempfile::TempDir,
    lab: Child,
    unbound: Option<Child>,
    env: Vec<(String, String)>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(u) = &mut self.unbound {
            let _ = u.kill();
            let _ = u.wait();
        }
        let _ = self.lab.kill();
        let _ = self.lab.wait();
        remove_namespace();
    }
}

fn checkdmarc_bin() -> PathBuf {
    let venv = std::env::var_os("MAILSEC_CHECKDMARC_VENV")
        .map_or_else(|| PathBuf::from("/opt/mailsec-checkdmarc"), PathBuf::from);
    venv.join("bin/checkdmarc")
}

fn prerequisites() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("needs root for network namespaces".into());
    }
    for tool in ["ip", "unbound", "dig"] {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Err(format!("missing {tool}: run scripts/install-lab-packages"));
        }
    }
    let version = Command::new(checkdmarc_bin())
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "{}: {e}: run scripts/install-checkdmarc",
                checkdmarc_bin().display()
            )
        })?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    if version != CHECKDMARC_VERSION {
        return Err(format!(
            "checkdmarc {version}, not {CHECKDMARC_VERSION}: run scripts/install-checkdmarc"
        ));
    }
    Ok(())
}

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("run ip")
}

/// Removes the namespace and what it holds: processes left by an aborted run, its resolv.conf.
fn remove_namespace() {
    let pids = ip(&["netns", "pids", NS]);
    for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
    let _ = ip(&["netns", "del", NS]);
    let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(NS));
}

/// A command run inside the namespace.
fn in_ns(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", NS]).arg(program);
    c
}

fn start() -> World {
    if let Err(why) = prerequisites() {
        panic!("checkdmarc agreement cannot run: {why}");
    }
    remove_namespace();
    let add = ip(&["netns", "add", NS]);
    assert!(
        add.status.success(),
        "ip netns add: {}",
        String::from_utf8_lossy(&add.stderr)
    );
    let lo = ip(&["netns", "exec", NS, "ip", "link", "set", "lo", "up"]);
    assert!(
        lo.status.success(),
        "{}",
        String::from_utf8_lossy(&lo.stderr)
    );
    let etc = Path::new("/etc/netns").join(NS);
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let labdir = dir.path().join("lab");
    let mut lab = in_ns(env!("CARGO_BIN_EXE_mailsec"))
        .args([
            "lab",
            "--dns-port",
            "5300",
            "--https-port",
            "443",
            "--smtp-port",
            "25",
            "--dir",
        ])
        .arg(&labdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(lab.stdout.take().unwrap()).lines();
    let mut env = Vec::new();
    while env.len() < 4 {
        let Some(Ok(line)) = lines.next() else {
            panic!("mailsec lab ended before printing its exports");
        };
        let (k, v) = line
            .strip_prefix("export ")
            .and_then(|l| l.split_once('='))
            .expect("an export line first");
        env.push((k.to_owned(), v.to_owned()));
    }
    std::thread::spawn(move || lines.for_each(drop));
    let mut world = World {
        dir,
        lab,
        unbound: None,
        env,
    };

    // Unbound marks a server that leaves a query unanswered as down, per zone: the names the lab
    // never answers get a forward zone of their own, so that the domain's other names (and the
    // other domains) still resolve while it times out, as they would with a real server.
    let timeout_zones: String = SCENARIOS
        .iter()
        .filter(|s| s.sts_txt == StsTxt::Timeout)
        .map(|s| {
            format!(
                "forward-zone:\n  name: \"_mta-sts.{}.\"\n  forward-addr: 127.0.0.1@5300\n",
                s.domain()
            )
        })
        .collect();
    let conf = world.dir.path().join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1@53\n  access-control: 127.0.0.0/8 allow\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"{dir}/unbound.log\"\n  do-not-query-localhost: no\n  module-config: \"validator iterator\"\n  trust-anchor-file: \"{anchor}\"\n  local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  do-ip6: no\n  infra-host-ttl: 1\n  infra-cache-max-rtt: 1000\n{timeout_zones}forward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@5300\nremote-control:\n  control-enable: no\n",
            dir = world.dir.path().display(),
            anchor = labdir.join("root.anchor").display(),
        ),
    )
    .unwrap();
    world.unbound = Some(
        in_ns("unbound")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run unbound: scripts/install-lab-packages installs it"),
    );
    // Ready when Unbound answers a validated name of the lab.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let dig = in_ns("dig")
            .args([
                "@127.0.0.1",
                "+time=1",
                "+tries=1",
                "+short",
                "sts-enforce.test",
                "MX",
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&dig.stdout).contains("mx.sts-enforce.test.") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Unbound did not answer for the lab in 20 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    world
}

impl World {
    fn ca(&self) -> String {
        self.var("MAILSEC_CA_FILE")
    }

    fn var(&self, k: &str) -> String {
        self.env
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    }

    /// checkdmarc over `domains`, started in the background.
    fn checkdmarc(&self, domains: &[String]) -> Child {
        let mut c = in_ns(checkdmarc_bin());
        for proxy in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "all_proxy",
        ] {
            c.env_remove(proxy);
        }
        c.args(domains)
            .args([
                "--check-mx-tls",
                "--format",
                "json",
                "--timeout",
                "5",
                "--nameserver",
                "127.0.0.1",
            ])
            .env("REQUESTS_CA_BUNDLE", self.ca())
            .env("SSL_CERT_FILE", self.ca())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `mailsec check --json` over `domains`, started in the background.
    fn mailsec(&self, domains: &[String]) -> Child {
        in_ns(env!("CARGO_BIN_EXE_mailsec"))
            .args(["check", "--json"])
            .args(domains)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// checkdmarc prints one object for one domain, an array for several.
fn checkdmarc_results(child: Child) -> Vec<Value> {
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "checkdmarc failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    match serde_json::from_slice(&o.stdout) {
        Ok(Value::Array(a)) => a,
        Ok(v @ Value::Object(_)) => vec![v],
        other => panic!(
            "checkdmarc output is not JSON ({other:?}): {}",
            String::from_utf8_lossy(&o.stdout)
        ),
    }
}

/// One report per domain: a JSON array, or JSON Lines.
fn mailsec_reports(child: Child) -> BTreeMap<String, Value> {
    let o = child.wait_with_output().unwrap();
    // 0: all valid; 1: findings of error severity (the lab's broken domains); 2: it failed.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "mailsec check failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reports: Vec<Value> = match serde_json::from_slice(&o.stdout) {
        Ok(Value::Array(a)) => a,
        Ok(v) => vec![v],
        Err(_) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("JSON Lines"))
            .collect(),
    };
    reports
        .into_iter()
        .map(|r| (r["domain"].as_str().unwrap().to_owned(), r))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every problem checkdmarc reported in the sections compared.
fn problems(result: &Value) -> Vec<Problem> {
    let domain = result["domain"].as_str().unwrap().to_owned();
    let mut out = Vec::new();
    for (section, key) in [
        (MtaSts, "mta_sts"),
        (TlsRpt, "smtp_tls_reporting"),
        (Mx, "mx"),
    ] {
        let s = &result[key];
        let mut texts = Vec::new();
        if let Some(e) = s["error"].as_str() {
            texts.push(e.to_owned());
        }
        texts.extend(strings(&s["warnings"]));
        out.extend(texts.into_iter().map(|text| Problem {
            domain: domain.clone(),
            section,
            text,
        }));
    }
    out
}

fn mailsec_ids(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
#[ignore = "needs root, Unbound and checkdmarc: scripts/test runs it with --ignored"]
fn every_mta_sts_and_tls_rpt_problem_checkdmarc_reports_mailsec_reports_too() {
    let world = start();
    let all: Vec<String> = SCENARIOS.iter().map(|s| s.domain()).collect();
    let ours = world.mailsec(&all);
    let theirs = checkdmarc_results(world.checkdmarc(&all));
    let ours = mailsec_reports(ours);
    assert_eq!(theirs.len(), SCENARIOS.len(), "checkdmarc results");
    assert_eq!(ours.len(), SCENARIOS.len(), "mailsec reports");

    // 1. Every problem checkdmarc reports: mapped, and reported by mailsec.
    let mut reported = 0;
    let mut out_of_scope = BTreeMap::<&str, usize>::new();
    let mut unmapped = Vec::new();
    let mut missing = Vec::new();
    let mut confirmed = BTreeMap::<(Section, &str, String), usize>::new();
    for result in &theirs {
        for p in problems(result) {
            reported += 1;
            let short: String = p.text.chars().take(160).collect();
            if p.section == Mx
                && let Some((fragment, _)) = OUT_OF_SCOPE.iter().find(|(f, _)| p.text.contains(f))
            {
                *out_of_scope.entry(fragment).or_default() += 1;
                continue;
            }
            let Some(row) = MAPPING
                .iter()
                .find(|r| r.section == p.section && p.text.contains(r.fragment))
            else {
                unmapped.push(format!("{} {:?}: {short}", p.domain, p.section));
                continue;
            };
            let scenario = p.domain.trim_end_matches(".test");
            let ids: &[&str] = match DIFFERENCES.iter().find(|d| {
                d.scenario == scenario && row.ids.iter().any(|id| d.instead_of.contains(id))
            }) {
                Some(d) => d.mailsec,
                None => row.ids,
            };
            let report = ours
                .get(&p.domain)
                .unwrap_or_else(|| panic!("no mailsec report for {}", p.domain));
            let found = mailsec_ids(report);
            match ids.iter().find(|id| found.iter().any(|f| f == *id)) {
                Some(id) => {
                    *confirmed
                        .entry((p.section, row.fragment, (*id).to_owned()))
                        .or_default() += 1
                }
                None => missing.push(format!(
                    "{} {:?}: checkdmarc `{short}` -> {ids:?}; mailsec reports {found:?}",
                    p.domain, p.section
                )),
            }
        }
    }
    println!(
        "checkdmarc {CHECKDMARC_VERSION}: {reported} problems over {} domains",
        theirs.len()
    );
    for ((section, fragment, id), n) in &confirmed {
        println!("  {n:4}  {section:?} `{fragment}` -> mailsec {id}");
    }
    for (fragment, n) in &out_of_scope {
        println!("  {n:4}  Mx `{fragment}`: out of scope");
    }
    assert!(
        unmapped.is_empty(),
        "checkdmarc messages with no row in MAPPING:\n{}",
        unmapped.join("\n")
    );
    assert!(
        missing.is_empty(),
        "problems checkdmarc reports and mailsec does not:\n{}",
        missing.join("\n")
    );
    let confirmed_total: usize = confirmed.values().sum();
    let out_of_scope_total: usize = out_of_scope.values().sum();
    assert_eq!(confirmed_total + out_of_scope_total, reported);

    // 2. Whether each domain has a valid MTA-STS policy and TLS-RPT record: the same verdicts,
    //    except where checkdmarc accepts a policy the RFC lets senders refuse (DIFFERENCES).
    let mut policy_differs = Vec::new();
    for result in &theirs {
        let domain = result["domain"].as_str().unwrap();
        let report = &ours[domain];
        let cd_policy = result["mta_sts"]["valid"].as_bool().unwrap();
        let ms_policy = report["sts_policy"].is_object();
        if cd_policy != ms_policy {
            policy_differs.push(format!(
                "{domain}: checkdmarc valid={cd_policy}, mailsec policy={ms_policy}"
            ));
        }
        let cd_rpt = result["smtp_tls_reporting"]["valid"].as_bool().unwrap();
        assert_eq!(
            cd_rpt,
            report["tlsrpt"].is_object(),
            "{domain}: TLS-RPT record valid"
        );
    }
    let mut expected_differs: Vec<String> = DIFFERENCES
        .iter()
        .filter(|d| d.accepts_policy)
        .map(|d| {
            format!(
                "{}.test: checkdmarc valid=true, mailsec policy=false",
                d.scenario
            )
        })
        .collect();
    policy_differs.sort();
    expected_differs.sort();
    assert_eq!(
        policy_differs, expected_differs,
        "MTA-STS policy verdicts that differ"
    );

    // 3. The differences from the RFCs, as named.
    for d in DIFFERENCES {
        let domain = format!("{}.test", d.scenario);
        let result = theirs
            .iter()
            .find(|r| r["domain"] == domain.as_str())
            .unwrap();
        let report = &ours[&domain];
        let found = mailsec_ids(report);
        for id in d.mailsec {
            assert!(
                found.iter().any(|f| f == id),
                "{domain}: mailsec does not report {id} ({})",
                d.rfc
            );
        }
        if let Some(evidence) = d.evidence {
            assert!(
                problems(result).iter().any(|p| p.text.contains(evidence)),
                "{domain}: checkdmarc no longer says `{evidence}`"
            );
        }
        if d.accepts_policy {
            assert_eq!(
                result["mta_sts"]["valid"], true,
                "{domain}: checkdmarc {}",
                d.checkdmarc
            );
        }
        println!(
            "difference {domain}: checkdmarc {}; {}",
            d.checkdmarc, d.rfc
        );
    }
    let ee = &ours["dane-ee-expired.test"];
    assert_eq!(
        ee["verdict"]["mechanism"], "dane",
        "dane-ee-expired: DANE-EE delivers"
    );
}
