//! The policy service end to end: a key, a signed policy, `pwprotect serve` publishing it over
//! HTTPS, `pwprotect policy fetch` keeping the agents' copy (refusing tampered and older
//! policies), agents deciding with it or saying they have none, and `POST /check` asked by
//! curl over the unix socket.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::{run, text};

/// `pwprotect serve`, killed when dropped.
pub(crate) struct Served {
    child: Child,
    /// `https://127.0.0.1:PORT`, when HTTPS is served.
    pub(crate) https: Option<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pwprotect"))
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("pwprotect serve: listening on "),
        "{first:?}"
    );
    let https = first
        .trim()
        .split(' ')
        .find_map(|w| w.trim_end_matches(',').strip_prefix("https://"))
        .map(|a| format!("https://{a}"));
    Served { child, https }
}

/// A CA and a server certificate for `localhost` and 127.0.0.1, as PEM files in `dir`.
pub(crate) fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: OpenSSL (curl) takes a leaf whose issuer is its own subject for a
    // self-signed certificate.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pwprotect test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (ca_file, cert_file, key_file) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (ca_file, cert_file, key_file)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn build(key: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["policy", "build", "--key", s(key), "--out", s(out)];
    args.extend_from_slice(extra);
    let o = run(&args, b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn signed_policies_are_published_fetched_verified_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A key; a second keygen into the same place refuses to replace it.
    let o = run(&["policy", "keygen", "--out", s(d)], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let again = run(&["policy", "keygen", "--out", s(d)], b"");
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("never replaced"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("policy.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (key, public) = (d.join("policy.key"), d.join("policy.pub"));

    // The research note's lists, enforce, version 2.
    std::fs::write(d.join("global.txt"), "blank\n").unwrap();
    std::fs::write(d.join("custom.txt"), "contoso\n").unwrap();
    let published = d.join("published.json");
    let (global, custom) = (d.join("global.txt"), d.join("custom.txt"));
    let lists = ["--banned", s(&global), "--custom", s(&custom)];
    let mut v2 = vec!["--version", "2"];
    v2.extend_from_slice(&lists);
    build(&key, &published, &v2);
    let o = run(
        &[
            "policy",
            "verify",
            s(&published),
            "--public-key",
            s(&public),
            "--json",
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["version"], 2);
    assert_eq!(summary["mode"], "enforce");
    assert_eq!(summary["custom_terms"], 1);
    assert_eq!(summary["global_terms"], 1);

    // A tampered copy: one line naming the file, exit 2.
    let tampered = d.join("tampered.json");
    let mut env: Value = serde_json::from_slice(&std::fs::read(&published).unwrap()).unwrap();
    env["signature"] = Value::from("AAAA".repeat(22));
    std::fs::write(&tampered, env.to_string()).unwrap();
    let o = run(
        &["policy", "verify", s(&tampered), "--public-key", s(&public)],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("tampered.json") && err.contains("signature"),
        "{err}"
    );

    // Published over HTTPS; fetched with the test CA into the agents' directory.
    let (ca, cert, tls_key) = certificates(d);
    let server = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--cert",
        s(&cert),
        "--key",
        s(&tls_key),
        "--publish",
        s(&published),
    ]);
    let base = server.https.clone().unwrap();
    let url = format!("{base}/policy.json");
    let state = d.join("state");
    let fetch = |url: &str| {
        run(
            &[
                "policy",
                "fetch",
                url,
                "--public-key",
                s(&public),
                "--state-dir",
                s(&state),
                "--ca-file",
                s(&ca),
            ],
            b"",
        )
    };
    let o = fetch(&url);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let line: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["outcome"], "policy-new");
    assert_eq!(line["event"], 30006);
    assert_eq!(
        std::fs::read(state.join("policy.json")).unwrap(),
        std::fs::read(&published).unwrap()
    );
    let o = fetch(&url);
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["outcome"],
        "policy-unchanged"
    );
    // Without the CA the server is not trusted; any other path is 404.
    let o = run(
        &[
            "policy",
            "fetch",
            &url,
            "--public-key",
            s(&public),
            "--state-dir",
            s(&state),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("TLS"), "{}", text(&o.stderr));
    let o = fetch(&format!("{base}/other"));
    assert!(
        text(&o.stderr).contains("HTTP status 404"),
        "{}",
        text(&o.stderr)
    );
    // Plain HTTP is refused before any connection.
    let o = fetch("http://127.0.0.1:9/policy.json");
    assert!(
        text(&o.stderr).contains("only https://"),
        "{}",
        text(&o.stderr)
    );

    // An older policy (version 1) published: refused, the agents' copy stays at version 2.
    let mut v1 = vec!["--version", "1", "--mode", "audit"];
    v1.extend_from_slice(&lists);
    build(&key, &published, &v1);
    let o = fetch(&url);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("rollback"), "{}", text(&o.stderr));
    // A tampered one served: refused, kept.
    std::fs::copy(&tampered, &published).unwrap();
    assert_eq!(fetch(&url).status.code(), Some(2));
    let held = run(
        &[
            "policy",
            "verify",
            s(&state.join("policy.json")),
            "--public-key",
            s(&public),
            "--json",
        ],
        b"",
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&held.stdout).unwrap()["version"],
        2
    );

    // The agents apply the fetched policy: Samba's script rejects C0ntos0Blank12 (both lists).
    let agent = |policy_file: &Path, password: &[u8]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pwprotect"));
        c.args([
            "samba-check",
            "--policy-file",
            s(policy_file),
            "--public-key",
            s(&public),
        ])
        .env("SAMBA_CPS_ACCOUNT_NAME", "jdoe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(password);
        child.wait_with_output().unwrap()
    };
    let o = agent(&state.join("policy.json"), b"C0ntos0Blank12\n");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let line: Value = serde_json::from_str(text(&o.stderr).lines().last().unwrap()).unwrap();
    assert_eq!(line["outcome"], "fail-both");
    assert_eq!(line["event"], 30026);
    // Without a policy (missing, or not verifying) the agent accepts and says so.
    for missing in [d.join("nothing.json"), tampered] {
        let o = agent(&missing, b"C0ntos0Blank12\n");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        let line: Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
        assert_eq!(line["outcome"], "no-policy", "{err}");
        assert_eq!(line["event"], 30001);
        assert!(!err.contains("C0ntos0"), "{err}");
    }
}

#[test]
fn check_answers_over_the_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        run(&["policy", "keygen", "--out", s(d)], b"").status.code(),
        Some(0)
    );
    std::fs::write(d.join("global.txt"), "blank\n").unwrap();
    std::fs::write(d.join("custom.txt"), "contoso\n").unwrap();
    let policy = d.join("policy.json");
    build(
        &d.join("policy.key"),
        &policy,
        &[
            "--banned",
            s(&d.join("global.txt")),
            "--custom",
            s(&d.join("custom.txt")),
        ],
    );
    let socket = d.join("check.sock");
    let log = d.join("decisions.log");
    let _server = serve(&[
        "--check-socket",
        s(&socket),
        "--policy-file",
        s(&policy),
        "--public-key",
        s(&d.join("policy.pub")),
        "--log",
        s(&log),
    ]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // curl as the client, as any script would.
    let ask = |path: &str, body: &str| {
        let o = Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                "--unix-socket",
                s(&socket),
                "-X",
                "POST",
            ])
            .args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
            ])
            .arg(format!("http://localhost{path}"))
            .output()
            .unwrap();
        let out = text(&o.stdout);
        let (json, code) = out.rsplit_once('\n').unwrap();
        (code.to_owned(), json.to_owned())
    };
    for (password, verdict, outcome) in [
        ("C0ntos0Blank12", "reject", "fail-both"),
        ("ContoS0Bl@nkf9!", "accept", "pass"),
        ("Bl@nK", "reject", "fail-global"),
    ] {
        let (code, json) = ask(
            "/check",
            &serde_json::json!({"password": password, "account": "jdoe"}).to_string(),
        );
        assert_eq!(code, "200", "{json}");
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["verdict"], verdict, "{json}");
        assert_eq!(v["outcome"], outcome, "{json}");
        assert_eq!(v["account"], "jdoe");
        assert!(!json.contains(password), "{json}");
    }
    // Bad requests: a defined status, never the password back.
    let (code, json) = ask("/check", r#"{"password": "Secret99", "extra": 1}"#);
    assert_eq!(code, "400");
    assert!(!json.contains("Secret99"), "{json}");
    let (code, _) = ask("/elsewhere", "{}");
    assert_eq!(code, "404");
    let big = serde_json::json!({"password": "x".repeat(70_000)}).to_string();
    let (code, _) = ask("/check", &big);
    assert_eq!(code, "413");
    // Every decision went to the log, without a password.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 3, "{logged}");
    assert!(!logged.contains("C0ntos0Blank12"));

    // A new policy (audit) replaces the file: the next check applies it without a restart.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    build(
        &d.join("policy.key"),
        &policy,
        &[
            "--mode",
            "audit",
            "--banned",
            s(&d.join("global.txt")),
            "--custom",
            s(&d.join("custom.txt")),
        ],
    );
    let (_, json) = ask("/check", r#"{"password": "C0ntos0Blank12"}"#);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verdict"], "accept", "{json}");
    assert_eq!(v["outcome"], "audit-pass-both", "{json}");
}
