//! The TLS scan (checks T3–T11) against real servers started here: `openssl s_server` and
//! `gnutls-serv`, each once configured weak and once strong. The expected findings follow from
//! each server's options (written next to them), not from the scanner.
//!
//! Needs the Debian packages openssl and gnutls-bin, so `#[ignore]`d in a plain `cargo test`;
//! scripts/test installs them and runs these with `--ignored ... tls_scan::`.
//!
//! T7 (compression) is not exercised end to end: OpenSSL 3 as Debian builds it has no zlib and
//! GnuTLS dropped compression in 3.6, so no server at hand compresses; the parser reads it from
//! an edited vector (testdata/tls-flights/edited-deflate.bin) and the decision is unit-tested.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mailsec_core::{Check, Severity};
use mailsec_probe::{EarlyData, ProbeConfig, Renegotiation, Starttls, TlsScan, scan_tls};

/// A server process, killed when dropped. Its standard input stays open (s_server stops at EOF
/// on it).
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// An RSA 2048 certificate for mx.example.test and a 1024-bit DH prime, made by openssl.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ok = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args(["-subj", "/CN=mx.example.test"])
            .args(["-addext", "subjectAltName=DNS:mx.example.test"])
            .arg("-keyout")
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .expect("run openssl (install openssl)")
            .success();
        assert!(ok, "openssl req");
        let ok = Command::new("openssl")
            .args(["dhparam", "-out"])
            .arg(d.join("dh1024.pem"))
            .arg("1024")
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl dhparam");
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, child: &mut Child) {
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited: {status}");
        }
        // A bare TCP connect: the server sees a failed handshake and goes on.
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not listen on {port}");
}

fn openssl(pki: &Pki, options: &[&str]) -> Server {
    let port = free_port();
    let mut child = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept", &port.to_string()])
        .args(["-cert", &pki.path("cert.pem"), "-key", &pki.path("key.pem")])
        .args(options)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run openssl s_server");
    wait_listening(port, &mut child);
    Server { child, port }
}

fn gnutls(pki: &Pki, priority: &str) -> Server {
    let port = free_port();
    let mut child = Command::new("gnutls-serv")
        .args(["-p", &port.to_string()])
        .args(["--x509certfile", &pki.path("cert.pem")])
        .args(["--x509keyfile", &pki.path("key.pem")])
        .args(["--priority", priority])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run gnutls-serv (install gnutls-bin)");
    wait_listening(port, &mut child);
    Server { child, port }
}

fn scan(server: &Server) -> TlsScan {
    let mut config = ProbeConfig::new();
    config.step_timeout = Duration::from_secs(10);
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(scan_tls(addr, "mx.example.test", Starttls::None, &config))
}

/// The checks that fire, with their severity.
fn fired(scan: &TlsScan) -> BTreeSet<(Check, Severity)> {
    mailsec_check::tls_scan::findings(scan)
        .into_iter()
        .map(|f| (f.diagnostic.check, f.diagnostic.severity))
        .collect()
}

fn prerequisites() {
    for tool in ["openssl", "gnutls-serv"] {
        assert!(
            Path::new("/usr/bin").join(tool).exists(),
            "{tool} is missing: scripts/install-lab-packages installs it"
        );
    }
}

const W: Severity = Severity::Warning;

/// Every field of the scan's JSON is in docs/check-json.md's `tls_scan` table.
fn assert_documented(scan: &TlsScan) {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/check-json.md"
    ))
    .unwrap();
    let table = doc
        .split("`results[].tls_scan`")
        .nth(1)
        .expect("a tls_scan section")
        .split("\n\n")
        .nth(1)
        .unwrap();
    let documented: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|names| names.split(", "))
        .map(|n| n.trim_matches('`').trim_end_matches("[]"))
        .collect();
    let v = serde_json::to_value(scan).unwrap();
    for key in v.as_object().unwrap().keys() {
        assert!(
            documented.contains(&key.as_str()),
            "tls_scan field `{key}` is not in docs/check-json.md ({documented:?})"
        );
    }
}

#[test]
#[ignore = "needs openssl and gnutls-bin: scripts/test runs it with --ignored"]
fn openssl_weak_fires_t3_t4_t5_t6_t9_t10() {
    prerequisites();
    let pki = Pki::new();
    // Security level 0: every suite (NULL, anonymous, static RSA; no RC4 or 3DES in OpenSSL 3's
    // default provider), a 1024-bit DH prime (T5), secp224r1 (T5), SHA-1 signatures (T6), the
    // client's order (no -serverpref: T4), client renegotiation allowed (T9), early data
    // accepted (T10). Secure renegotiation and EMS stay on (OpenSSL cannot turn them off here).
    let server = openssl(
        &pki,
        &[
            "-cipher",
            "ALL:eNULL:@SECLEVEL=0",
            "-dhparam",
            &pki.path("dh1024.pem"),
            "-groups",
            "X25519:secp224r1",
            "-sigalgs",
            "RSA+SHA1:RSA+SHA256:rsa_pss_rsae_sha256",
            "-client_renegotiation",
            "-early_data",
        ],
    );
    let s = scan(&server);
    let json = serde_json::to_string_pretty(&s).unwrap();
    assert_eq!(s.dhe_prime_bits, Some(1024), "{json}");
    assert_eq!(s.weak_curve.as_deref(), Some("secp224r1"), "{json}");
    assert_eq!(
        s.weak_signature.as_deref(),
        Some("rsa_pkcs1_sha1"),
        "{json}"
    );
    assert_eq!(s.client_renegotiation, Renegotiation::Accepted, "{json}");
    assert_eq!(s.early_data, EarlyData::Accepted, "{json}");
    let classes: BTreeSet<_> = s.weak_suites.iter().map(|w| w.weakness).collect();
    use mailsec_core::tls_hello::Weakness::*;
    assert_eq!(
        classes,
        [Null, Anonymous, NoForwardSecrecy].into_iter().collect(),
        "{json}"
    );
    assert_documented(&s);
    assert_eq!(
        fired(&s),
        [
            (Check::T3, W),
            (Check::T4, Severity::Info),
            (Check::T5, W),
            (Check::T6, W),
            (Check::T9, W),
            (Check::T10, W),
        ]
        .into_iter()
        .collect(),
        "{json}"
    );
}

#[test]
#[ignore = "needs openssl and gnutls-bin: scripts/test runs it with --ignored"]
fn openssl_strong_fires_nothing() {
    prerequisites();
    let pki = Pki::new();
    // ECDHE with AES-GCM or ChaCha20, the server's order, Debian's security level 2 (no SHA-1
    // signatures, no small groups), OpenSSL 3's defaults: client renegotiation refused, no early
    // data, secure renegotiation and EMS on.
    let server = openssl(
        &pki,
        &["-cipher", "ECDHE+AESGCM:ECDHE+CHACHA20", "-serverpref"],
    );
    let s = scan(&server);
    let json = serde_json::to_string_pretty(&s).unwrap();
    assert!(
        matches!(s.client_renegotiation, Renegotiation::Refused { .. }),
        "{json}"
    );
    assert_eq!(s.early_data, EarlyData::NotOffered, "{json}");
    assert_eq!(fired(&s), BTreeSet::new(), "{json}");
}

#[test]
#[ignore = "needs openssl and gnutls-bin: scripts/test runs it with --ignored"]
fn gnutls_legacy_fires_t8_t9_t11() {
    prerequisites();
    let pki = Pki::new();
    // GnuTLS without RFC 5746 (T8) and RFC 7627 (T11), TLS 1.2 only, ECDHE with AEAD suites
    // only, SHA-2 signatures only and the server's order, so that nothing else fires but T9:
    // gnutls-serv answers a client's renegotiation with a new handshake whatever the priority
    // string says (it calls gnutls_handshake on GNUTLS_E_REHANDSHAKE).
    let server = gnutls(
        &pki,
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-SIGN-RSA-SHA1:-SIGN-RSA-SHA224:%SERVER_PRECEDENCE:%DISABLE_SAFE_RENEGOTIATION:%NO_SESSION_HASH",
    );
    let s = scan(&server);
    let json = serde_json::to_string_pretty(&s).unwrap();
    let t = s.tls12.as_ref().expect("TLS 1.2");
    assert!(
        !t.secure_renegotiation && !t.extended_master_secret,
        "{json}"
    );
    assert_eq!(s.early_data, EarlyData::NotApplicable, "{json}");
    assert_eq!(s.client_renegotiation, Renegotiation::Accepted, "{json}");
    assert_eq!(
        fired(&s),
        [(Check::T8, W), (Check::T9, W), (Check::T11, Severity::Info)]
            .into_iter()
            .collect(),
        "{json}"
    );
}

#[test]
#[ignore = "needs openssl and gnutls-bin: scripts/test runs it with --ignored"]
fn gnutls_strong_fires_only_t9() {
    prerequisites();
    let pki = Pki::new();
    // ECDHE with AEAD suites, SHA-2 signatures, the server's order, TLS 1.2 and 1.3, RFC 5746
    // and RFC 7627 on (GnuTLS's defaults). gnutls-serv renegotiates on request (see above): T9
    // is the one finding, and what tells it from OpenSSL's refusal is the openssl pair.
    let server = gnutls(
        &pki,
        "NORMAL:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-SIGN-RSA-SHA1:-SIGN-RSA-SHA224:%SERVER_PRECEDENCE",
    );
    let s = scan(&server);
    let json = serde_json::to_string_pretty(&s).unwrap();
    let t = s.tls12.as_ref().expect("TLS 1.2");
    assert!(t.secure_renegotiation && t.extended_master_secret, "{json}");
    assert_eq!(fired(&s), [(Check::T9, W)].into_iter().collect(), "{json}");
}

/// T17: an OCSP response made by `openssl ocsp` (the certificate signs for itself) and stapled
/// by `openssl s_server -status_file` is seen by the probe and said as information; the same
/// server without it staples nothing and nothing is said.
#[test]
#[ignore = "needs openssl and gnutls-bin: scripts/test runs it with --ignored"]
fn a_stapled_ocsp_response_is_t17_information() {
    prerequisites();
    let pki = Pki::new();
    std::fs::write(pki.path("index.txt"), "").unwrap();
    let ok = Command::new("openssl")
        .args(["ocsp", "-index", &pki.path("index.txt")])
        .args([
            "-rsigner",
            &pki.path("cert.pem"),
            "-rkey",
            &pki.path("key.pem"),
        ])
        .args([
            "-CA",
            &pki.path("cert.pem"),
            "-issuer",
            &pki.path("cert.pem"),
        ])
        .args(["-cert", &pki.path("cert.pem"), "-ndays", "1"])
        .args(["-respout", &pki.path("ocsp.der")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl ocsp");
    let probe = |server: &Server| {
        let mut config = ProbeConfig::new();
        config.step_timeout = Duration::from_secs(3);
        let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(mailsec_probe::probe_addr(
            addr,
            "mx.example.test",
            Starttls::None,
            &config,
        ))
    };
    let stapling = openssl(&pki, &["-status_file", &pki.path("ocsp.der")]);
    let p = probe(&stapling);
    assert_eq!(p.tls.as_ref().map(|t| t.ocsp_stapled), Some(true), "{p:?}");
    let d = mailsec_check::tls_scan::ocsp_finding(&p).expect("a T17 finding");
    assert_eq!((d.check, d.severity), (Check::T17, Severity::Info));
    let plain = openssl(&pki, &[]);
    let p = probe(&plain);
    assert_eq!(p.tls.as_ref().map(|t| t.ocsp_stapled), Some(false), "{p:?}");
    assert_eq!(mailsec_check::tls_scan::ocsp_finding(&p), None);
}
