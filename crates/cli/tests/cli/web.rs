//! `mailsec web` and `mailsec check --html` end to end: against the lab, rendered by headless
//! Chromium (Debian's package, which `scripts/install-lab-packages` installs), and a plain HTTP
//! client for status codes and the rate limit. Without Chromium these tests fail: they never
//! skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::lab::{RunningLab, start_lab, with_lab};
use crate::{stderr, stdout};

const CHROMIUM: &str = "/usr/bin/chromium";

/// `mailsec web` on a free port with the lab's variables, stopped when dropped.
struct Web {
    child: Child,
    url: String,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_web(lab: &RunningLab, args: &[&str]) -> Web {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(["web", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(lab.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("mailsec web ended early").unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    // `mailsec web: listening on http://127.0.0.1:PORT/ (...)`
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    Web { child, url }
}

/// Runs Chromium headless with the flags of a hermetic run: its own profile and home, no
/// network but the page's, as root without the sandbox (CI runs as root).
fn chromium(args: &[&str]) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: scripts/install-lab-packages installs Debian's chromium package"
    );
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new("timeout")
        .args(["120", CHROMIUM])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-proxy-server",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .env("HOME", profile.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "chromium {args:?}: {:?}\n{}",
        o.status,
        stderr(&o)
    );
    o
}

/// The DOM of `url` after Chromium loaded and rendered it.
fn dump_dom(url: &str) -> String {
    let o = chromium(&["--dump-dom", url]);
    let dom = stdout(&o);
    assert!(
        dom.contains("</html>"),
        "no page from {url}:\n{}",
        stderr(&o)
    );
    dom
}

/// The `<li>` of the finding with check ID `code`.
fn finding<'a>(dom: &'a str, code: &str) -> &'a str {
    let start = dom
        .find(&format!("data-code=\"{code}\""))
        .unwrap_or_else(|| panic!("no {code} finding in:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</li>").unwrap()]
}

/// A plain HTTP/1.1 GET: status, headers (lower-case names), body.
fn get(url: &str) -> (u16, Vec<(String, String)>, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut tcp = TcpStream::connect(host).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status.parse().unwrap(), headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn web_pages_render_in_chromium_against_the_lab() {
    let lab = start_lab();
    // Four checks a minute: the three page loads below and one plain request.
    let web = start_web(&lab, &["--rate", "4"]);
    let url = &web.url;

    let dom = dump_dom(url);
    assert!(
        dom.contains("<form class=\"check\" action=\"/check\" method=\"get\">"),
        "{dom}"
    );
    assert!(dom.contains("name=\"domain\""));

    // A DANE record that matches nothing: senders defer, and the fix is the record to publish.
    let dom = dump_dom(&format!("{url}check?domain=dane-ee-wrong.test"));
    assert!(
        dom.contains("<strong class=\"outcome\">defer (tlsa-invalid)</strong>"),
        "{dom}"
    );
    let d7 = finding(&dom, "D7");
    assert!(d7.contains("<span class=\"sev\">error</span>"), "{d7}");
    assert!(d7.contains("IN TLSA 3 1 1 "), "{d7}");
    assert!(
        d7.contains("<code class=\"record\">_25._tcp.mx.dane-ee-wrong.test. IN TLSA 3 1 1 "),
        "{d7}"
    );
    assert!(d7.contains("class=\"rfc\""), "{d7}");
    for area in [
        "MX and DNSSEC",
        "MTA-STS",
        "TLS-RPT",
        "TLS and DANE on the MX hosts",
        "Consistency",
    ] {
        assert!(dom.contains(&format!("<h3>{area}</h3>")), "{area}");
    }

    let dom = dump_dom(&format!("{url}check?domain=sts-enforce.test"));
    assert!(
        dom.contains("<strong class=\"outcome\">deliver (mta-sts)</strong>"),
        "{dom}"
    );

    // Invalid input: a 400 page that says why, with the form to try again.
    let (status, _, body) = get(&format!("{url}check?domain=not_a_domain!"));
    assert_eq!(status, 400, "{body}");
    let dom = dump_dom(&format!("{url}check?domain=not_a_domain!"));
    assert!(dom.contains("<h2>Invalid domain</h2>"), "{dom}");
    assert!(dom.contains("is not a domain name"), "{dom}");
    assert!(dom.contains("value=\"not_a_domain!\""), "{dom}");

    // The same result page at a phone's width.
    let shots = tempfile::tempdir().unwrap();
    let png = shots.path().join("phone.png");
    chromium(&[
        "--window-size=390,844",
        &format!("--screenshot={}", png.display()),
        &format!("{url}check?domain=dane-ee-wrong.test"),
    ]);
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (390, 844));
    // A blank page compresses to a few hundred bytes; text and colours do not.
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());

    // The JSON behind the page.
    let (status, headers, body) = get(&format!("{url}api/check?domain=sts-enforce.test"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["schema"], "mailsec-check/1");
    assert_eq!(v["verdict"]["mechanism"], "mta-sts");

    // Four checks spent (page loads and the JSON, cached or not; the form and invalid names
    // cost nothing), and a token comes back every 15 s: a quick burst of cached answers is
    // refused within at most four more requests, with the time to wait.
    let mut burst = Vec::new();
    let (headers, body) = loop {
        let (status, headers, body) = get(&format!("{url}api/check?domain=sts-enforce.test"));
        burst.push(status);
        if status != 200 || burst.len() > 5 {
            break (headers, body);
        }
    };
    assert_eq!(burst.last(), Some(&429), "{burst:?}: {body}");
    assert!(burst.len() <= 5, "{burst:?}");
    let retry: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!((1..=15).contains(&retry), "Retry-After {retry}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["kind"], "rate-limited");
    let (status, _, body) = get(&format!("{url}check?domain=sts-enforce.test"));
    assert_eq!(status, 429);
    assert!(body.contains("<h2>Too many checks</h2>"), "{body}");
}

#[test]
fn check_html_is_one_page_with_what_the_json_says() {
    let lab = start_lab();
    let dir = tempfile::tempdir().unwrap();
    let page: PathBuf = dir.path().join("report.html");
    let domains = [
        "dane-ee-wrong.test",
        "sts-enforce.test",
        "dane-bogus-tlsa.test",
    ];
    let mut args = vec!["check", "--json", "--html", page.to_str().unwrap()];
    args.extend(domains);
    let o = with_lab(&lab, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let reports: Value = serde_json::from_slice(&o.stdout).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no script, nothing loaded from elsewhere.
    for banned in ["<script", "src=", "<link", "url(", "@import"] {
        assert!(!html.contains(banned), "{banned}");
    }
    assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width"));
    // Every finding of every report, with its ID, severity, explanation, fix and RFC rule.
    let findings: Vec<&Value> = reports
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .collect();
    assert_eq!(html.matches("<li class=\"finding ").count(), findings.len());
    for f in &findings {
        assert!(html.contains(&format!("data-code=\"{}\"", f["code"].as_str().unwrap())));
    }
    assert_eq!(
        html.matches("<p class=\"explanation\">").count(),
        findings.len()
    );
    assert_eq!(html.matches("<div class=\"fix\">").count(), findings.len());
    assert_eq!(html.matches("<p class=\"rfc\">").count(), findings.len());

    // Chromium renders the file as it is.
    let dom = dump_dom(&format!("file://{}", page.display()));
    for (domain, verdict) in [
        ("dane-ee-wrong.test", "defer (tlsa-invalid)"),
        ("sts-enforce.test", "deliver (mta-sts)"),
        ("dane-bogus-tlsa.test", "defer (dnssec-invalid)"),
    ] {
        assert!(
            dom.contains(&format!(">{domain}</a> {verdict}</li>")),
            "{domain}: {dom}"
        );
        assert!(dom.contains(&format!("<h2>{domain}</h2>")), "{domain}");
    }
    assert!(finding(&dom, "D7").contains("IN TLSA 3 1 1 "));
    assert!(finding(&dom, "D2").contains("<span class=\"sev\">error</span>"));
}
