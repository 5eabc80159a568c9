//! `mailsec-serve` against real clients: curl (HTTP/1.1 and HTTP/2, SNI by `--resolve`) and a
//! rustls client holding one connection across reloads; certificates from the lab's CA in
//! certbot's layout.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mailsec_lab::ca::{Ca, LeafKind};
use mailsec_serve::access::{AccessLine, Stats};
use mailsec_serve::config::ServeConfig;
use mailsec_serve::server::Server;

const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx.{d}\nmax_age: 86400\n";

struct World {
    dir: tempfile::TempDir,
    ca: Ca,
    server: Arc<Server>,
    https: std::net::SocketAddr,
    http: std::net::SocketAddr,
    notices: Arc<Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl World {
    fn policies(&self) -> PathBuf {
        self.dir.path().join("policies")
    }

    fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    fn notices(&self) -> Vec<String> {
        self.notices.lock().unwrap().clone()
    }

    /// curl to `https://HOST:PORT/PATH` with HOST resolved to the server; extra args first.
    fn curl(&self, host: &str, path: &str, extra: &[&str]) -> (String, String) {
        let port = self.https.port();
        let o = Command::new("curl")
            .args(extra)
            .args([
                "-sS",
                "-D",
                "-",
                "-o",
                "-",
                "--max-time",
                "10",
                "--cacert",
                self.ca_file().to_str().unwrap(),
                "--resolve",
                &format!("{host}:{port}:127.0.0.1"),
                "-A",
                "test-agent/1.0",
                &format!("https://{host}:{port}{path}"),
            ])
            .output()
            .expect("curl: scripts/test installs it");
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

fn write_cert(certs: &Path, dir: &str, ca: &Ca, names: &[&str]) {
    let issued = ca.issue(names, LeafKind::Valid).unwrap();
    let d = certs.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("fullchain.pem"), &issued.chain_pem).unwrap();
    std::fs::write(d.join("privkey.pem"), &issued.key_pem).unwrap();
}

/// Domains a.test and b.test with certificates of their own, c.test under a wildcard
/// certificate in another directory.
async fn start(tweak: impl FnOnce(&mut ServeConfig)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(SystemTime::now()).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.root_pem()).unwrap();
    let (policies, certs) = (dir.path().join("policies"), dir.path().join("certs"));
    std::fs::create_dir_all(&policies).unwrap();
    for d in ["a.test", "b.test", "c.test"] {
        std::fs::write(policies.join(format!("{d}.txt")), POLICY.replace("{d}", d)).unwrap();
    }
    write_cert(&certs, "mta-sts.a.test", &ca, &["mta-sts.a.test"]);
    write_cert(&certs, "mta-sts.b.test", &ca, &["mta-sts.b.test"]);
    write_cert(&certs, "wildcard", &ca, &["*.c.test"]);
    let mut config = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        http_listen: vec!["127.0.0.1:0".into()],
        policy_dir: Some(policies),
        cert_dir: Some(certs),
        access_log: Some(dir.path().join("access.log")),
        watch_interval: 1,
        ..ServeConfig::default()
    };
    tweak(&mut config);
    config.check("test").unwrap();
    let notices = Arc::new(Mutex::new(Vec::new()));
    let n = notices.clone();
    let server = Arc::new(
        Server::new(
            config,
            Box::new(move |l| n.lock().unwrap().push(l.to_owned())),
        )
        .unwrap(),
    );
    let (https, http) = server.bind().await.unwrap();
    let (https_addr, http_addr) = (
        https[0].local_addr().unwrap(),
        http[0].local_addr().unwrap(),
    );
    let s = server.clone();
    let task = tokio::spawn(async move {
        s.run(https, http, std::future::pending()).await.unwrap();
    });
    World {
        dir,
        ca,
        server,
        https: https_addr,
        http: http_addr,
        notices,
        _task: task,
    }
}

fn status_line(out: &str) -> &str {
    out.lines().next().unwrap_or("").trim_end()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_domain_by_sni_and_host_over_http1_and_http2() {
    let w = start(|_| {}).await;
    assert!(w.notices().is_empty(), "{:?}", w.notices());
    assert_eq!(w.server.site().domains(), ["a.test", "b.test", "c.test"]);
    let p = "/.well-known/mta-sts.txt";
    for (host, flag, proto) in [
        ("mta-sts.a.test", "--http1.1", "HTTP/1.1 200"),
        ("mta-sts.b.test", "--http2", "HTTP/2 200"),
        ("mta-sts.c.test", "--http2", "HTTP/2 200"),
    ] {
        let (out, err) = tokio::task::block_in_place(|| w.curl(host, p, &[flag]));
        assert!(status_line(&out).starts_with(proto), "{host}: {out}{err}");
        let lower = out.to_ascii_lowercase();
        assert!(lower.contains("\ncontent-type: text/plain\r\n"), "{out}");
        let d = host.trim_start_matches("mta-sts.");
        let body = POLICY.replace("{d}", d).replace('\n', "\r\n");
        assert!(out.ends_with(&format!("\r\n\r\n{body}")), "{host}: {out:?}");
    }
    // HEAD: the length, no body. POST: 405. Another path, another host named by Host than by
    // SNI, an unknown host, plain HTTP: 404.
    let (out, _) = tokio::task::block_in_place(|| w.curl("mta-sts.a.test", p, &["-I"]));
    assert_eq!(status_line(&out), "HTTP/2 200", "{out}");
    let len = POLICY.replace("{d}", "a.test").replace('\n', "\r\n").len();
    assert!(out.contains(&format!("content-length: {len}")), "{out}");
    for (host, path, extra, want) in [
        ("mta-sts.a.test", p, &["-X", "POST"][..], "405"),
        ("mta-sts.a.test", "/", &[][..], "404"),
        (
            "mta-sts.a.test",
            "/.well-known/mta-sts.txt.bak",
            &[][..],
            "404",
        ),
        (
            "mta-sts.a.test",
            p,
            &["-H", "Host: mta-sts.b.test", "--http1.1"][..],
            "404",
        ),
        ("mta-sts.nowhere.test", p, &["-k"][..], "404"),
    ] {
        let (out, err) = tokio::task::block_in_place(|| w.curl(host, path, extra));
        assert!(
            status_line(&out).ends_with(want) || status_line(&out).contains(&format!(" {want}")),
            "{host}{path} {extra:?}: {out}{err}"
        );
    }
    // An unknown host gets some certificate that does not name it: a verifying client stops.
    let (_, err) = tokio::task::block_in_place(|| w.curl("mta-sts.nowhere.test", p, &[]));
    assert!(err.contains("SSL") || err.contains("certificate"), "{err}");
    let plain = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Host: mta-sts.a.test",
        ])
        .arg(format!("http://{}{p}", w.http))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "404");

    // The access log: one JSON line a request, with SNI, Host and user agent.
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = std::fs::read_to_string(w.log())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<AccessLine>(l).unwrap())
            .collect::<Vec<_>>();
        if lines.len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines.len(), 10, "{lines:?}");
    let first = &lines[0];
    assert_eq!(first.sni.as_deref(), Some("mta-sts.a.test"));
    assert_eq!(first.host.as_deref(), Some("mta-sts.a.test"));
    assert_eq!(first.user_agent.as_deref(), Some("test-agent/1.0"));
    assert_eq!((first.status, first.proto.as_str()), (200, "HTTP/1.1"));
    assert!(lines.iter().any(|l| l.proto == "HTTP/2" && l.status == 200));
    assert!(
        lines
            .iter()
            .any(|l| l.proto == "http:HTTP/1.1" && l.status == 404)
    );
    let mut stats = Stats::default();
    for l in std::fs::read_to_string(w.log()).unwrap().lines() {
        stats.add_line(l);
    }
    stats.finish(["a.test", "b.test", "c.test", "d.test"]);
    assert_eq!(stats.domains["a.test"].fetches, 2);
    assert_eq!(stats.domains["b.test"].user_agents["test-agent/1.0"], 1);
    assert_eq!(stats.not_fetched, ["d.test"]);
}

/// One HTTP/1.1 keep-alive connection over rustls, to see it survive reloads.
struct Client {
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl Client {
    async fn connect(w: &World, host: &str) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(w.ca.root_der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(w.https).await.unwrap();
        let name = pki_types::ServerName::try_from(host.to_owned()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        Self { tls }
    }

    /// GET the policy; the body.
    async fn get(&mut self, host: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.tls
            .write_all(
                format!("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.tls.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection was closed");
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if body.len() >= len {
                    return body.to_owned();
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_served_without_dropping_connections_and_bad_ones_keep_the_last_good() {
    let w = start(|_| {}).await;
    let host = "mta-sts.a.test";
    let mut client = Client::connect(&w, host).await;
    assert!(client.get(host).await.contains("max_age: 86400\r\n"));
    // A changed policy is picked up by the watcher (every second) and served on the same
    // connection.
    let file = w.policies().join("a.test.txt");
    std::fs::write(
        &file,
        POLICY.replace("{d}", "a.test").replace("86400", "604800"),
    )
    .unwrap();
    let mut served = String::new();
    for _ in 0..100 {
        served = client.get(host).await;
        if served.contains("604800") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served.contains("max_age: 604800\r\n"), "{served}");
    // A policy that fails lint is refused with one line naming the file; the last good copy
    // stays.
    std::fs::write(
        &file,
        "version: STSv1\nmode: force\nmx: mx.a.test\nmax_age: 1\n",
    )
    .unwrap();
    w.server.reload().unwrap();
    assert!(client.get(host).await.contains("604800"));
    let notices = w.notices();
    let refused = notices.iter().find(|l| l.contains("a.test.txt")).unwrap();
    assert!(
        refused.contains("fails lint") && refused.contains("last good copy"),
        "{refused}"
    );
    // A key that does not match its certificate: refused, the domain still served with the
    // old pair, on a new connection too.
    let other = w.ca.issue(&["mta-sts.b.test"], LeafKind::Valid).unwrap();
    std::fs::write(w.certs().join("mta-sts.b.test/privkey.pem"), &other.key_pem).unwrap();
    let refused = w.server.reload().unwrap();
    assert!(
        refused
            .iter()
            .any(|l| l.contains("privkey.pem: the key does not match")),
        "{refused:?}"
    );
    let mut fresh = Client::connect(&w, "mta-sts.b.test").await;
    assert!(fresh.get("mta-sts.b.test").await.contains("mx: mx.b.test"));
    // A new domain with no certificate covering it: refused, not served.
    std::fs::write(
        w.policies().join("new.test.txt"),
        POLICY.replace("{d}", "new.test"),
    )
    .unwrap();
    let refused = w.server.reload().unwrap();
    assert!(
        refused.iter().any(|l| l.contains("new.test.txt")
            && l.contains("covers mta-sts.new.test")
            && l.ends_with("not served")),
        "{refused:?}"
    );
    // The connection opened first is still there.
    assert!(client.get(host).await.contains("604800"));
    assert!(w.server.reloads() >= 3);
    // The policy directory gone: the reload is refused as a whole, everything stays served.
    std::fs::rename(w.policies(), w.dir.path().join("gone")).unwrap();
    let e = w.server.reload().unwrap_err();
    assert!(e.to_string().contains("policies"), "{e}");
    assert!(client.get(host).await.contains("604800"));
    assert_eq!(w.server.site().domains(), ["a.test", "b.test", "c.test"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_oversized_and_excess_clients_are_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = start(|c| {
        c.limits.header_timeout = 1;
        c.limits.max_connections = 3;
    })
    .await;
    let host = "mta-sts.a.test";
    // Slowloris: headers that never end are cut off after the header timeout.
    let mut slow = Client::connect(&w, host).await;
    slow.tls
        .write_all(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nX-A: 1\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), slow.tls.read(&mut buf))
        .await
        .expect("a slow client is cut off");
    let text = String::from_utf8_lossy(&buf[..*n.as_ref().unwrap_or(&0)]).into_owned();
    assert!(
        n.is_err() || text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(9));
    // 20 KiB of headers: 431, and the server goes on.
    let mut big = Client::connect(&w, host).await;
    let filler = "x".repeat(20 * 1024);
    big.tls
        .write_all(
            format!(
                "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nX-Big: {filler}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), big.tls.read_to_end(&mut head)).await;
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    // Three connections held open: a fourth is closed at once; after they go, service resumes.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect(&w, host).await);
    }
    let mut tcp = tokio::net::TcpStream::connect(w.https).await.unwrap();
    let mut one = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut one))
        .await
        .unwrap();
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    drop(held);
    let mut ok = String::new();
    for _ in 0..50 {
        let (out, _) =
            tokio::task::block_in_place(|| w.curl(host, "/.well-known/mta-sts.txt", &[]));
        ok = out;
        if status_line(&ok).ends_with("200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status_line(&ok).ends_with("200"), "{ok}");
}

#[test]
fn unreadable_directories_and_huge_policies() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(SystemTime::now()).unwrap();
    let provider = rustls::crypto::ring::default_provider();
    let missing = dir.path().join("missing");
    let e = mailsec_serve::site::load(&missing, dir.path(), &provider, None).unwrap_err();
    assert!(
        e.to_string().starts_with(&missing.display().to_string()),
        "{e}"
    );
    let (policies, certs) = (dir.path().join("p"), dir.path().join("c"));
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::create_dir_all(&certs).unwrap();
    write_cert(&certs, "mta-sts.big.test", &ca, &["mta-sts.big.test"]);
    write_cert(&certs, "mta-sts.ok.test", &ca, &["mta-sts.ok.test"]);
    // A megabyte policy, a certificate directory without its key, editors' files.
    let mut big = POLICY.replace("{d}", "big.test");
    big.push_str(&"# padding\n".repeat(100_000));
    std::fs::write(policies.join("big.test.txt"), big).unwrap();
    std::fs::write(
        policies.join("ok.test.txt"),
        POLICY.replace("{d}", "ok.test"),
    )
    .unwrap();
    std::fs::write(policies.join(".ok.test.txt.swp"), "junk").unwrap();
    std::fs::write(policies.join("README"), "junk").unwrap();
    std::fs::create_dir_all(certs.join("mta-sts.half.test")).unwrap();
    std::fs::write(
        certs.join("mta-sts.half.test/fullchain.pem"),
        ca.issue(&["mta-sts.half.test"], LeafKind::Valid)
            .unwrap()
            .chain_pem,
    )
    .unwrap();
    let loaded = mailsec_serve::site::load(&policies, &certs, &provider, None).unwrap();
    assert_eq!(loaded.site.domains(), ["ok.test"]);
    assert_eq!(loaded.refused.len(), 2, "{:?}", loaded.refused);
    assert!(
        loaded
            .refused
            .iter()
            .any(|l| l.contains("big.test.txt") && l.contains("RFC 8461"))
    );
    assert!(
        loaded
            .refused
            .iter()
            .any(|l| l.contains("mta-sts.half.test/privkey.pem"))
    );
    assert!(loaded.refused.iter().all(|l| l.lines().count() == 1));
}

mod props {
    use mailsec_serve::access::Stats;
    use mailsec_serve::config::ServeConfig;
    use mailsec_serve::site::policy_file;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any file name and bytes: a verdict, never a panic; what is served has CRLF endings
        /// and is accepted again unchanged.
        #[test]
        fn policy_files(name in "\\PC{0,40}", body in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok((_, served, _)) = policy_file(&name, &body) {
                prop_assert!(served.ends_with(b"\r\n"));
                prop_assert_eq!(policy_file(&name, &served).unwrap().1, served);
            }
        }

        /// Well-formed policies with LF, CRLF or mixed endings are served identically.
        #[test]
        fn line_endings_do_not_matter(crlf in proptest::collection::vec(any::<bool>(), 4), age in 86_400u32..31_557_600) {
            let lines = ["version: STSv1", "mode: testing", "mx: mx.example.com", &format!("max_age: {age}")];
            let mut body = String::new();
            for (l, c) in lines.iter().zip(&crlf) {
                body.push_str(l);
                body.push_str(if *c { "\r\n" } else { "\n" });
            }
            let (_, served, mode) = policy_file("example.com.txt", body.as_bytes()).unwrap();
            prop_assert_eq!(mode, "testing");
            prop_assert_eq!(served, lines.join("\r\n") + "\r\n");
        }

        /// Log lines and configuration files of any text: counted or refused, never a panic.
        #[test]
        fn log_lines_and_configurations(text in "\\PC{0,300}") {
            let mut stats = Stats::default();
            for l in text.lines() {
                stats.add_line(l);
            }
            prop_assert_eq!(stats.lines, stats.skipped + stats.other_requests + stats.domains.values().map(|d| d.fetches).sum::<u64>());
            if let Err(e) = ServeConfig::parse(&text, "f.toml") {
                prop_assert_eq!(e.to_string().lines().count(), 1);
            }
        }
    }
}
