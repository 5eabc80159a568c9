//! `tlsa generate` against independent oracles: `openssl x509 -pubkey | openssl pkey -pubin
//! -outform DER | sha256sum` for selector 1, `openssl x509 -outform DER | sha256sum` for selector
//! 0, and sha512sum for matching type 2. Certificates come from rcgen; RSA keys from openssl.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use rcgen::{
    BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_ED25519, SignatureAlgorithm,
};
use serde_json::Value;

use crate::{mailsec, stderr, stdout};

/// Runs `program args` with `input` on stdin; fails clearly when the tool is missing.
fn tool(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}): this test needs openssl and coreutils; scripts/test installs them")
        });
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The hex digest printed by `sha256sum`/`sha512sum`.
fn sum(program: &str, data: &[u8]) -> String {
    let out = String::from_utf8(tool(program, &["-"], data)).unwrap();
    out.split_whitespace().next().unwrap().to_owned()
}

fn spki_der_by_openssl(cert_pem: &Path) -> Vec<u8> {
    let pubkey = tool(
        "openssl",
        &[
            "x509",
            "-in",
            cert_pem.to_str().unwrap(),
            "-noout",
            "-pubkey",
        ],
        b"",
    );
    tool("openssl", &["pkey", "-pubin", "-outform", "DER"], &pubkey)
}

fn cert_der_by_openssl(cert_pem: &Path) -> Vec<u8> {
    tool(
        "openssl",
        &["x509", "-in", cert_pem.to_str().unwrap(), "-outform", "DER"],
        b"",
    )
}

fn key_pair(kind: &str) -> KeyPair {
    let alg: &'static SignatureAlgorithm = match kind {
        "rsa2048" => {
            let pem = tool(
                "openssl",
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ],
                b"",
            );
            return KeyPair::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
        }
        "p256" => &PKCS_ECDSA_P256_SHA256,
        "p384" => &PKCS_ECDSA_P384_SHA384,
        "ed25519" => &PKCS_ED25519,
        other => panic!("unknown key kind {other}"),
    };
    KeyPair::generate_for(alg).unwrap()
}

fn generate_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["tlsa", "generate", "--json"];
    all.extend_from_slice(args);
    let o = mailsec(&all);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn digests_match_openssl_for_every_key_type() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["rsa2048", "p256", "p384", "ed25519"] {
        let key = key_pair(kind);
        let cert = CertificateParams::new(vec!["mx.example.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let path = dir.path().join(format!("{kind}.pem"));
        std::fs::write(&path, cert.pem()).unwrap();
        let p = path.to_str().unwrap();
        let spki = spki_der_by_openssl(&path);
        let der = cert_der_by_openssl(&path);
        for (selector, matching, expected) in [
            ("1", "1", sum("sha256sum", &spki)),
            ("1", "2", sum("sha512sum", &spki)),
            ("0", "1", sum("sha256sum", &der)),
            ("0", "2", sum("sha512sum", &der)),
            ("1", "0", hex::encode(&spki)),
            ("0", "0", hex::encode(&der)),
        ] {
            let got = generate_json(&[
                "--cert",
                p,
                "--name",
                "mx.example.test",
                "--selector",
                selector,
                "--matching",
                matching,
            ]);
            assert_eq!(got.len(), 1);
            assert_eq!(
                got[0]["data"], expected,
                "{kind} selector {selector} matching {matching}"
            );
            assert_eq!(got[0]["owner"], "_25._tcp.mx.example.test.");
            assert_eq!(got[0]["usage"], 3);
        }
        // A DER certificate gives the same record as its PEM form.
        let der_path = dir.path().join(format!("{kind}.der"));
        std::fs::write(&der_path, &der).unwrap();
        let from_der = generate_json(&[
            "--cert",
            der_path.to_str().unwrap(),
            "--name",
            "mx.example.test",
        ]);
        assert_eq!(
            from_der[0]["data"],
            sum("sha256sum", &spki),
            "{kind} DER input"
        );
        // A bare public key (PEM, as openssl prints it) gives the same 3 1 1 data.
        let pub_path = dir.path().join(format!("{kind}.pub"));
        std::fs::write(
            &pub_path,
            tool("openssl", &["x509", "-in", p, "-noout", "-pubkey"], b""),
        )
        .unwrap();
        let from_key = generate_json(&[
            "--pubkey",
            pub_path.to_str().unwrap(),
            "--name",
            "mx.example.test",
        ]);
        assert_eq!(
            from_key[0]["data"],
            sum("sha256sum", &spki),
            "{kind} bare key"
        );
    }
}

#[test]
fn default_is_3_1_1_on_port_25_and_zone_file_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_pair("p256");
    let cert = CertificateParams::new(vec!["mx.example.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let path = dir.path().join("leaf.pem");
    std::fs::write(&path, cert.pem()).unwrap();
    let o = mailsec(&["tlsa", "generate", "--cert", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = format!(
        "_25._tcp.mx.example.test. IN TLSA 3 1 1 {}\n",
        sum("sha256sum", &spki_der_by_openssl(&path))
    );
    assert_eq!(stdout(&o), expected);
    assert!(
        stderr(&o).contains("owner name taken from the certificate"),
        "{}",
        stderr(&o)
    );
    let o = mailsec(&[
        "tlsa",
        "generate",
        "--cert",
        path.to_str().unwrap(),
        "--name",
        "smtp.example.test",
        "--port",
        "587",
    ]);
    assert!(
        stdout(&o).starts_with("_587._tcp.smtp.example.test. IN TLSA 3 1 1 "),
        "{}",
        stdout(&o)
    );
}

#[test]
fn chain_gives_leaf_and_issuer_records() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = key_pair("p256");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = key_pair("ed25519");
    let leaf = CertificateParams::new(vec!["mx.example.test".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, format!("{}{}", leaf.pem(), ca_cert.pem())).unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    let leaf_path = dir.path().join("leaf.pem");
    std::fs::write(&leaf_path, leaf.pem()).unwrap();

    let got = generate_json(&["--cert", chain.to_str().unwrap(), "--with-issuer"]);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0]["usage"].as_u64(), got[1]["usage"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(
        got[0]["data"],
        sum("sha256sum", &spki_der_by_openssl(&leaf_path)),
        "leaf by default"
    );
    assert_eq!(
        got[1]["data"],
        sum("sha256sum", &spki_der_by_openssl(&ca_path)),
        "2 1 1 of the issuer"
    );
    assert_eq!(got[1]["owner"], "_25._tcp.mx.example.test.");

    // --usage 2 alone names the issuer.
    let ta = generate_json(&["--cert", chain.to_str().unwrap(), "--usage", "2"]);
    assert_eq!(ta.len(), 1);
    assert_eq!(ta[0]["data"], got[1]["data"]);

    // A lone leaf cannot give a trust-anchor record, nor --with-issuer.
    for extra in [&["--usage", "2"][..], &["--with-issuer"][..]] {
        let mut args = vec!["tlsa", "generate", "--cert", leaf_path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = mailsec(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
}

#[test]
fn bad_certificate_input_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.pem");
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let o = mailsec(&[
        "tlsa",
        "generate",
        "--cert",
        path.to_str().unwrap(),
        "--name",
        "mx.example.test",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("junk.pem"), "{err}");
}

#[test]
fn garbage_or_empty_input_says_what_it_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"\x30\x03\x02\x01\x00junk that is not DER at all").unwrap();
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let g = garbage.to_str().unwrap();
    let e = empty.to_str().unwrap();
    for (args, says) in [
        (
            vec!["--cert", g],
            format!("mailsec: not a PEM or DER certificate: {g}\n"),
        ),
        (
            vec!["--cert", e],
            format!("mailsec: not a PEM or DER certificate: {e} (empty input)\n"),
        ),
        (
            vec!["--pubkey", g, "--name", "mx.example.test"],
            format!("mailsec: not a PEM or DER public key: {g}\n"),
        ),
        (
            vec!["--pubkey", e, "--name", "mx.example.test"],
            format!("mailsec: not a PEM or DER public key: {e} (empty input)\n"),
        ),
    ] {
        let mut all = vec!["tlsa", "generate"];
        all.extend(&args);
        let o = mailsec(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o), says);
    }
}

#[test]
fn port_zero_is_refused() {
    let o = mailsec(&[
        "tlsa",
        "generate",
        "--pubkey",
        "/dev/null",
        "--name",
        "mx.example.test",
        "--port",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("invalid value '0' for '--port <PORT>': 0 is not in 1..=65535"),
        "{err}"
    );
}

// --- tlsa generate: rollover cover warnings ----------------------------------------------------

#[test]
fn a_single_record_warns_that_it_gives_no_rollover_cover() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, leaf, _) = ca_chain(dir.path(), "mx.example.test");
    let o = mailsec(&["tlsa", "generate", "--cert", leaf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains("mailsec: warning: one usable record only (`3 1 1 ")
            && err.contains("`mailsec tlsa rollover`")
            && err.contains("[D13]"),
        "{err}"
    );
    // With the chain, the fix is one flag away; with it, no warning.
    let o = mailsec(&["tlsa", "generate", "--cert", chain.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("--with-issuer adds its `2 1 1`"),
        "{}",
        stderr(&o)
    );
    let o = mailsec(&[
        "tlsa",
        "generate",
        "--cert",
        chain.to_str().unwrap(),
        "--with-issuer",
    ]);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    // Only 3 0 x: breaks at every renewal.
    let o = mailsec(&[
        "tlsa",
        "generate",
        "--cert",
        leaf.to_str().unwrap(),
        "--selector",
        "0",
    ]);
    assert!(
        stderr(&o).contains("only `3 0 x` records"),
        "{}",
        stderr(&o)
    );
}

// --- tlsa rollover: the record set -----------------------------------------------------------

/// A CA (P-256) and a leaf for `name` it issued: writes chain.pem, leaf.pem and ca.pem into
/// `dir` (prefixed by `name`) and returns their paths.
fn ca_chain(
    dir: &Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = key_pair("p256");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = key_pair("p256");
    let leaf = CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let id: u64 = rand_id();
    let chain = dir.join(format!("{name}-{id}-chain.pem"));
    std::fs::write(&chain, format!("{}{}", leaf.pem(), ca_cert.pem())).unwrap();
    let leaf_path = dir.join(format!("{name}-{id}-leaf.pem"));
    std::fs::write(&leaf_path, leaf.pem()).unwrap();
    let ca_path = dir.join(format!("{name}-{id}-ca.pem"));
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    (chain, leaf_path, ca_path)
}

/// A distinct number per call, for file names.
fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn rollover_json(args: &[&str]) -> Value {
    let mut all = vec!["tlsa", "rollover", "--json"];
    all.extend_from_slice(args);
    let o = mailsec(&all);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn spki_sha256_of_pubkey_pem(pem: &[u8]) -> String {
    sum(
        "sha256sum",
        &tool("openssl", &["pkey", "-pubin", "-outform", "DER"], pem),
    )
}

#[test]
fn rollover_prints_current_and_next_as_openssl_computes_them() {
    let dir = tempfile::tempdir().unwrap();
    let (current, current_leaf, current_ca) = ca_chain(dir.path(), "mx.example.test");
    let (next, next_leaf, next_ca) = ca_chain(dir.path(), "mx.example.test");
    let digest = |p: &Path| sum("sha256sum", &spki_der_by_openssl(p));
    let (cur, nxt) = (digest(&current_leaf), digest(&next_leaf));

    let o = mailsec(&[
        "tlsa",
        "rollover",
        "--current",
        current.to_str().unwrap(),
        "--next",
        next.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "_25._tcp.mx.example.test. IN TLSA 3 1 1 {cur}\n_25._tcp.mx.example.test. IN TLSA 3 1 1 {nxt}\n"
        )
    );
    // The order, on stderr: publish, wait, install, remove the old record.
    let err = stderr(&o);
    let steps: Vec<usize> = [
        "1. publish these 2 records at _25._tcp.mx.example.test.",
        "2. wait until senders' caches hold them: at least 2 TTLs",
        "3. install the new certificate",
        &format!("4. remove the old record: `3 1 1 {}…`", &cur[..16]),
    ]
    .iter()
    .map(|s| {
        err.find(s)
            .unwrap_or_else(|| panic!("`{s}` missing in:\n{err}"))
    })
    .collect();
    assert!(steps.is_sorted(), "{err}");
    // Same owner-name logic as `generate`.
    assert!(
        err.contains("owner name taken from the certificate"),
        "{err}"
    );

    // --with-issuer adds the 2 1 1 of both issuers; roles in JSON.
    let v = rollover_json(&[
        "--current",
        current.to_str().unwrap(),
        "--next",
        next.to_str().unwrap(),
        "--with-issuer",
        "--name",
        "mx2.example.test",
        "--port",
        "465",
    ]);
    let records = v["records"].as_array().unwrap();
    let got: Vec<(String, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                format!("{} {} {}", r["usage"], r["selector"], r["matching"]),
                r["data"].as_str().unwrap(),
                r["role"].as_str().unwrap(),
            )
        })
        .collect();
    let (cur_ca, next_ca) = (digest(&current_ca), digest(&next_ca));
    assert_eq!(
        got,
        [
            ("3 1 1".to_owned(), cur.as_str(), "current-key"),
            ("3 1 1".to_owned(), nxt.as_str(), "next-key"),
            ("2 1 1".to_owned(), cur_ca.as_str(), "current-issuer"),
            ("2 1 1".to_owned(), next_ca.as_str(), "next-issuer"),
        ]
    );
    assert_eq!(v["owner"], "_465._tcp.mx2.example.test.");
    assert_eq!(v["steps"].as_array().unwrap().len(), 4);
    assert!(
        v["steps"][3].as_str().unwrap().contains(&cur_ca[..16]),
        "the old issuer's record is retired too: {}",
        v["steps"][3]
    );
    // The next certificate names mx.example.test, not mx2: its issuer's 2 1 1 cannot
    // authenticate it there (RFC 7672 §3.2.2).
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("does not name mx2.example.test"),
        "{v}"
    );

    // A renewal that keeps the key: one 3 1 1, and nothing to wait for.
    let o = mailsec(&[
        "tlsa",
        "rollover",
        "--current",
        current.to_str().unwrap(),
        "--next",
        current_leaf.to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&o),
        format!("_25._tcp.mx.example.test. IN TLSA 3 1 1 {cur}\n")
    );
    assert!(
        stderr(&o).contains("keeps the current key"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("[D13]"), "{}", stderr(&o));
}

#[test]
fn rollover_takes_the_next_key_alone_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let (current, current_leaf, _) = ca_chain(dir.path(), "mx.example.test");
    let cur = sum("sha256sum", &spki_der_by_openssl(&current_leaf));
    let d = |name: &str| dir.path().join(name);
    let w = |name: &str, data: &[u8]| std::fs::write(d(name), data).unwrap();
    // Keys made by openssl, as an operator pre-generating the next key would.
    let rsa = tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
        b"",
    );
    let ec = tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
        b"",
    );
    let ed = tool("openssl", &["genpkey", "-algorithm", "ED25519"], b"");
    for (kind, private) in [("rsa", &rsa), ("ec", &ec), ("ed25519", &ed)] {
        let public = tool("openssl", &["pkey", "-pubout"], private);
        let want = spki_sha256_of_pubkey_pem(&public);
        let mut forms = vec![
            ("PEM PUBLIC KEY", public.clone()),
            (
                "DER SPKI",
                tool("openssl", &["pkey", "-pubin", "-outform", "DER"], &public),
            ),
            ("PEM PKCS#8 private key", private.clone()),
            (
                "DER PKCS#8 private key",
                tool("openssl", &["pkey", "-outform", "DER"], private),
            ),
        ];
        match kind {
            "rsa" => forms.push((
                "PEM PKCS#1 private key",
                tool("openssl", &["rsa", "-traditional"], private),
            )),
            "ec" => forms.push(("PEM SEC1 private key", tool("openssl", &["ec"], private))),
            _ => {}
        }
        for (form, bytes) in forms {
            let name = format!("{kind}-{}", form.replace([' ', '#'], "_"));
            w(&name, &bytes);
            let o = mailsec(&[
                "tlsa",
                "rollover",
                "--current",
                current.to_str().unwrap(),
                "--next",
                d(&name).to_str().unwrap(),
            ]);
            assert_eq!(o.status.code(), Some(0), "{kind} {form}: {}", stderr(&o));
            assert_eq!(
                stdout(&o),
                format!(
                    "_25._tcp.mx.example.test. IN TLSA 3 1 1 {cur}\n_25._tcp.mx.example.test. IN TLSA 3 1 1 {want}\n"
                ),
                "{kind} {form}"
            );
        }
    }
    // A bare next key with --with-issuer: the current issuer's 2 1 1 only, and a note saying so.
    w("next.pub", &tool("openssl", &["pkey", "-pubout"], &ec));
    let v = rollover_json(&[
        "--current",
        current.to_str().unwrap(),
        "--next",
        d("next.pub").to_str().unwrap(),
        "--with-issuer",
    ]);
    let roles: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["current-key", "next-key", "current-issuer"]);
    assert!(v["notes"].to_string().contains("bare key"), "{v}");
}

#[test]
fn rollover_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, leaf, _) = ca_chain(dir.path(), "mx.example.test");
    let (c, l) = (chain.to_str().unwrap(), leaf.to_str().unwrap());
    let enc = dir.path().join("enc.key");
    std::fs::write(
        &enc,
        tool(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-aes256",
                "-pass",
                "pass:secret",
            ],
            b"",
        ),
    )
    .unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x30\x03\x02\x01\x00 not a key").unwrap();
    let other = dir.path().join("other.pem");
    std::fs::write(
        &other,
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .unwrap();
    for (args, says) in [
        (
            vec!["--current", l, "--next", c, "--with-issuer"],
            format!("--with-issuer needs the issuer: {l} holds no certificate after the leaf"),
        ),
        (
            vec!["--current", c, "--next", l, "--with-issuer"],
            format!("--with-issuer needs the issuer: {l} holds no certificate after the leaf"),
        ),
        (
            vec!["--current", c, "--next", enc.to_str().unwrap()],
            "the private key is encrypted: derive its public key with `openssl pkey -in KEY -pubout`".to_owned(),
        ),
        (
            vec!["--current", c, "--next", junk.to_str().unwrap()],
            format!(
                "not a PEM or DER certificate, public key or private key: {}",
                junk.display()
            ),
        ),
        (
            vec!["--current", c, "--next", other.to_str().unwrap()],
            format!(
                "no CERTIFICATE, PUBLIC KEY or PRIVATE KEY block in the PEM file {}",
                other.display()
            ),
        ),
        (
            vec!["--current", junk.to_str().unwrap(), "--next", c],
            format!("not a PEM or DER certificate: {}", junk.display()),
        ),
        (
            vec!["--next", c],
            "the following required arguments were not provided".to_owned(),
        ),
        (
            vec!["--check", "example.test", "--next", c, "--with-issuer"],
            "cannot be used with".to_owned(),
        ),
        (
            vec!["--current", c, "--next", c, "--state", "x"],
            "cannot be used with '--state <FILE>'".to_owned(),
        ),
    ] {
        let mut all = vec!["tlsa", "rollover"];
        all.extend(&args);
        let o = mailsec(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("mailsec: ") && err.contains(&says), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

// --- tlsa rollover --check against the lab -----------------------------------------------------

/// The lab in this process (so that its MX hosts' chains and keys are at hand), the
/// `MAILSEC_*` variables that point the binary at it, and a scratch directory.
struct InLab {
    lab: mailsec_lab::Lab,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    // Dropped last: the lab's servers run on it.
    _rt: tokio::runtime::Runtime,
}

impl InLab {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let lab = rt
            .block_on(mailsec_lab::Lab::start(mailsec_lab::LabConfig::default()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = lab.write_files(dir.path()).unwrap();
        // The PKI as `mailsec lab --export` writes it: pki/<host>.pem (chain) and .key.
        lab.export(&dir.path().join("export")).unwrap();
        let env = lab
            .env(&files)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        Self {
            lab,
            env,
            dir,
            _rt: rt,
        }
    }

    /// Writes a file into the scratch directory.
    fn file(&self, name: &str, data: impl AsRef<[u8]>) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// The chain (PEM, leaf then intermediate) and key of scenario `name`'s first MX host.
    fn mx(&self, name: &str) -> &mailsec_lab::MxHost {
        &self.lab.mx_hosts(name)[0]
    }

    /// Runs mailsec against the lab with extra environment variables.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_mailsec"))
            .args(args)
            .env_remove("XDG_STATE_HOME")
            .envs(self.env.iter().cloned())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `tlsa rollover --check DOMAIN --next NEXT --state STATE --json` at `now`: exit code and
    /// the JSON report.
    fn check(&self, domain: &str, next: &str, state: &str, now: u64) -> (i32, Value) {
        let now = now.to_string();
        let o = self.run(
            &[
                "tlsa",
                "rollover",
                "--check",
                domain,
                "--next",
                next,
                "--state",
                state,
                "--json",
                "--dns-timeout",
                "2",
            ],
            &[("MAILSEC_NOW", &now)],
        );
        let code = o.status.code().unwrap();
        assert!(code < 2, "{domain}: {}", stderr(&o));
        (code, serde_json::from_slice(&o.stdout).unwrap())
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The leaf of a PEM chain, alone.
fn first_pem(chain: &str) -> String {
    let end = "-----END CERTIFICATE-----\n";
    let i = chain.find(end).unwrap() + end.len();
    chain[..i].to_owned()
}

#[test]
fn rollover_check_says_per_host_whether_the_next_key_is_covered() {
    let lab = InLab::start();
    let t0 = unix_now();
    let state = lab.dir.path().join("state.json");
    let state = state.to_str().unwrap();
    // A fresh key, as `openssl genpkey` makes it for the next certificate.
    let fresh = tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
        b"",
    );
    let fresh_pub = tool("openssl", &["pkey", "-pubout"], &fresh);
    let fresh_key = lab.file("fresh.key", &fresh);
    let fresh_311 = spki_sha256_of_pubkey_pem(&fresh_pub);

    // dane-ee publishes one 3 1 1: a fresh key is not covered, and the fix is spelt out.
    let (code, v) = lab.check("dane-ee.test", &fresh_key, state, t0);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["safe"], false);
    assert_eq!(v["mx"]["security"], "secure");
    let host = &v["hosts"][0];
    assert_eq!(host["host"], "mx.dane-ee.test");
    assert_eq!(host["status"], "not-covered");
    assert_eq!(host["dnssec"], "secure");
    assert_eq!(
        host["publish"],
        format!("_25._tcp.mx.dane-ee.test. IN TLSA 3 1 1 {fresh_311}")
    );
    assert_eq!(host["warnings"][0]["code"], "D13", "single record: {host}");
    assert_eq!(v["next"]["spki_sha256"], fresh_311.as_str());

    // dane-ee-and-ta publishes 3 1 1 + 2 1 1 (the lab intermediate). Another lab host's chain
    // (a new key from the same CA, with the intermediate) matches the 2 1 1, but names
    // mx.dane-ee.test: not the MX host nor the domain, so senders refuse it (RFC 7672 §3.2.2).
    let other = lab.file("other-chain.pem", &lab.mx("dane-ee").issued.chain_pem);
    let (code, v) = lab.check("dane-ee-and-ta.test", &other, state, t0);
    assert_eq!(code, 1);
    let host = &v["hosts"][0];
    assert_eq!(host["status"], "not-covered");
    let reason = host["reason"].as_str().unwrap();
    assert!(
        reason.contains("`2 1 1 ")
            && reason.contains("none of [\"mx.dane-ee-and-ta.test\", \"dane-ee-and-ta.test\"]"),
        "{reason}"
    );
    // The same leaf without the intermediate does not even match the 2 1 1.
    let other_leaf = lab.file(
        "other-leaf.pem",
        first_pem(&lab.mx("dane-ee").issued.chain_pem),
    );
    let (_, v) = lab.check("dane-ee-and-ta.test", &other_leaf, state, t0);
    assert!(
        !v["hosts"][0]["reason"].as_str().unwrap().contains("2 1 1"),
        "{v}"
    );

    // Hosts where DANE does not apply are safe; a failed lookup is not.
    for (domain, status, safe, dnssec) in [
        ("dane-insecure.test", "no-dane", true, "insecure"),
        ("dane-no-tlsa.test", "no-dane", true, "secure"),
        ("plain.test", "no-dane", true, "secure"),
        ("dane-pkix-only.test", "no-usable-record", true, "secure"),
        ("dane-bogus-tlsa.test", "lookup-failed", false, ""),
        ("dane-tlsa-servfail.test", "lookup-failed", false, ""),
    ] {
        let (code, v) = lab.check(domain, &fresh_key, state, t0);
        let host = &v["hosts"][0];
        assert_eq!(host["status"], status, "{domain}: {v}");
        assert_eq!(host["safe"], safe, "{domain}");
        assert_eq!(host["dnssec"].as_str().unwrap_or(""), dnssec, "{domain}");
        assert_eq!(code, if safe { 0 } else { 1 }, "{domain}");
    }
    // An MX lookup that fails is an error: there is no host list to judge.
    let o = lab.run(
        &[
            "tlsa",
            "rollover",
            "--check",
            "dane-bogus-mx.test",
            "--next",
            &fresh_key,
            "--state",
            state,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "mailsec: the MX lookup for dane-bogus-mx.test failed (DNSSEC validation failed (bogus)): cannot tell which hosts to check\n"
    );
}

#[test]
fn rollover_check_waits_two_ttls_from_the_first_sighting() {
    let lab = InLab::start();
    let t0 = unix_now();
    let state_path = lab.dir.path().join("state/rollover.json");
    let state = state_path.to_str().unwrap();
    // The renewal keeps the key (certbot --reuse-key): the next key is mx.dane-ee.test's own
    // private key, and its 3 1 1 is published. Never seen before, it must still wait.
    let key = lab.file("dane-ee.key", &lab.mx("dane-ee").issued.key_pem);
    let (code, v) = lab.check("dane-ee.test", &key, state, t0);
    assert_eq!(code, 1, "{v}");
    let host = &v["hosts"][0];
    assert_eq!(host["status"], "wait");
    assert_eq!(host["first_seen"], t0);
    assert_eq!(host["ttl"], 300, "the lab's TTL");
    assert_eq!(host["ready_in"], 600, "two TTLs");
    assert_eq!(host["ready_at"], t0 + 600);
    // The state file now exists and holds the first sighting.
    let saved: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let seen = &saved["records"]["_25._tcp.mx.dane-ee.test."];
    assert_eq!(seen.as_object().unwrap().len(), 1, "{saved}");
    assert_eq!(
        seen.as_object().unwrap().values().next().unwrap()["first_seen"],
        t0
    );

    // Later, before the TTLs have passed: how long to wait, in words too.
    let later = (t0 + 599).to_string();
    let o = lab.run(
        &[
            "tlsa",
            "rollover",
            "--check",
            "dane-ee.test",
            "--next",
            &key,
            "--state",
            state,
        ],
        &[("MAILSEC_NOW", &later)],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("mx.dane-ee.test: not yet: covered by `3 1 1 ")
            && out.contains("ready in 1 s"),
        "{out}"
    );
    assert!(
        out.ends_with("=> not safe yet: 1 of 1 MX hosts not ready for the next certificate\n"),
        "{out}"
    );
    // Then safe.
    let (code, v) = lab.check("dane-ee.test", &key, state, t0 + 600);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["hosts"][0]["status"], "ready");
    assert_eq!(
        v["hosts"][0]["first_seen"], t0,
        "the first sighting is kept"
    );

    // dane-ee-and-ta with the host's own chain: covered by the 3 1 1 (same key) and, because
    // the chain carries the lab intermediate, by the 2 1 1. Seed the state as if the 2 1 1 had
    // been published long ago: the earliest-ready cover counts, so it is safe at once ...
    let eeta = lab.mx("dane-ee-and-ta");
    let chain = lab.file("eeta-chain.pem", &eeta.issued.chain_pem);
    let leaf = lab.file("eeta-leaf.pem", first_pem(&eeta.issued.chain_pem));
    let published = {
        let o = lab.run(
            &[
                "dns",
                "query",
                "_25._tcp.mx.dane-ee-and-ta.test",
                "TLSA",
                "--json",
            ],
            &[],
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let r = r.as_str().unwrap();
                r[r.find("TLSA ").unwrap() + 5..].to_owned()
            })
            .collect::<Vec<String>>()
    };
    let ta = published.iter().find(|r| r.starts_with("2 1 1 ")).unwrap();
    let seeded = lab.dir.path().join("seeded.json");
    std::fs::write(
        &seeded,
        serde_json::json!({
            "version": 1,
            "records": {"_25._tcp.mx.dane-ee-and-ta.test.": {ta: {"first_seen": t0 - 3600, "ttl": 300}}}
        })
        .to_string(),
    )
    .unwrap();
    let seeded = seeded.to_str().unwrap();
    let (code, v) = lab.check("dane-ee-and-ta.test", &chain, seeded, t0);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["hosts"][0]["record"], ta.as_str());
    // ... but the leaf alone is covered by the 3 1 1 only, first seen by the run above: wait.
    let (code, v) = lab.check("dane-ee-and-ta.test", &leaf, seeded, t0);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["hosts"][0]["record"]
            .as_str()
            .unwrap()
            .starts_with("3 1 1 ")
    );
    assert_eq!(v["hosts"][0]["ready_in"], 600);
}

#[test]
fn rollover_state_file_default_place_and_corruption() {
    let lab = InLab::start();
    let key = lab.file("dane-ee.key", &lab.mx("dane-ee").issued.key_pem);
    let xdg = lab.dir.path().join("xdg");
    let args = [
        "tlsa",
        "rollover",
        "--check",
        "dane-ee.test",
        "--next",
        &key,
    ];
    // $XDG_STATE_HOME/mailsec/rollover.json, created on first use.
    let o = lab.run(&args, &[("XDG_STATE_HOME", xdg.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let in_xdg = xdg.join("mailsec/rollover.json");
    assert!(in_xdg.is_file());
    // Else ~/.local/state/mailsec/rollover.json.
    let home = lab.dir.path().join("home");
    let o = lab.run(&args, &[("HOME", home.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(home.join(".local/state/mailsec/rollover.json").is_file());

    // A corrupt file: one line naming it, exit 2, and the file left as it was.
    for text in [
        "{\"version\": 1, \"records\": {",
        "{\"version\": 7, \"records\": {}}",
    ] {
        std::fs::write(&in_xdg, text).unwrap();
        let o = lab.run(&args, &[("XDG_STATE_HOME", xdg.to_str().unwrap())]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "mailsec: rollover state file {}: fix or remove it (mailsec does not overwrite it): ",
                in_xdg.display()
            )),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&in_xdg).unwrap(), text);
        assert!(o.stdout.is_empty());
    }
    // MAILSEC_NOW is checked.
    let o = lab.run(
        &args,
        &[
            ("XDG_STATE_HOME", xdg.to_str().unwrap()),
            ("MAILSEC_NOW", "soon"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "mailsec: MAILSEC_NOW (for tests only) must be Unix seconds\n"
    );
}

// --- tlsa generate --connect ---------------------------------------------------------------------

/// `owner usage selector matching data` from a zone-file line as mailsec, danetool
/// (`owner IN TLSA ( 03 01 01 hex )`) or ldns-dane (`owner TTL IN TLSA 3 1 1 hex`) print it.
fn tlsa_fields(line: &str) -> (String, u8, u8, u8, String) {
    let tokens: Vec<&str> = line
        .split_whitespace()
        .filter(|t| *t != "(" && *t != ")")
        .collect();
    let i = tokens
        .iter()
        .position(|t| *t == "TLSA")
        .unwrap_or_else(|| panic!("no TLSA in `{line}`"));
    let n = |k: usize| tokens[i + k].parse::<u8>().unwrap();
    (
        tokens[0].to_owned(),
        n(1),
        n(2),
        n(3),
        tokens[i + 4..].concat().to_ascii_lowercase(),
    )
}

/// Runs an oracle that may fail: (exit code, stdout, stderr).
fn oracle(program: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}): this test needs gnutls-bin (danetool) and ldnsutils (ldns-dane); scripts/test installs them")
        });
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn generate_connect_equals_the_exported_certificate_danetool_and_ldns_dane() {
    let lab = InLab::start();
    let pki = lab.dir.path().join("export/pki");
    for scenario in ["dane-ee", "dane-ee-and-ta", "dane-ta", "dane-ee-expired"] {
        let host = lab.mx(scenario).host.clone();
        let chain = pki.join(format!("{host}.pem"));
        let chain_text = std::fs::read_to_string(&chain).unwrap();
        let leaf = lab.file(&format!("{host}-leaf.pem"), first_pem(&chain_text));
        let issuer = lab.file(
            &format!("{host}-issuer.pem"),
            &chain_text[first_pem(&chain_text).len()..],
        );
        let chain = chain.to_str().unwrap();
        for (u, sel, m) in [
            ("3", "1", "1"),
            ("3", "1", "2"),
            ("3", "0", "1"),
            ("3", "0", "2"),
            ("3", "1", "0"),
            ("2", "1", "1"),
            ("2", "0", "1"),
            ("2", "1", "2"),
        ] {
            let what = format!("{host} {u} {sel} {m}");
            let params = ["--usage", u, "--selector", sel, "--matching", m];
            let mut args = vec!["tlsa", "generate", "--connect", &host];
            args.extend(params);
            let connected = lab.run(&args, &[]);
            assert_eq!(
                connected.status.code(),
                Some(0),
                "{what}: {}",
                stderr(&connected)
            );
            let mut args = vec!["tlsa", "generate", "--cert", chain, "--name", &host];
            args.extend(params);
            let from_file = mailsec(&args);
            assert_eq!(stdout(&connected), stdout(&from_file), "{what}");
            let ours = tlsa_fields(stdout(&connected).trim_end());
            assert_eq!(ours.0, format!("_25._tcp.{host}."), "{what}");

            // danetool: the certificate to hash is given alone (--ca for a trust anchor:
            // loaded with the whole chain, it hashes the first certificate, the leaf); it
            // knows SHA2-256 and SHA2-512 only.
            if m != "0" {
                let mut args = vec![
                    "--tlsa-rr",
                    "--load-certificate",
                    if u == "2" { &issuer } else { &leaf },
                    "--host",
                    &host,
                    "--port",
                    "25",
                ];
                if sel == "0" {
                    args.push("--x509");
                }
                if m == "2" {
                    args.extend(["--hash", "sha512"]);
                }
                if u == "2" {
                    args.push("--ca");
                }
                let (code, out, err) = oracle("danetool", &args);
                assert_eq!(code, 0, "danetool {args:?}: {err}");
                assert_eq!(tlsa_fields(out.trim_end()), ours, "danetool, {what}");
            }

            // ldns-dane: -n, because it checks names even for DANE-EE (below); for 2 x x,
            // -o 0 selects the last certificate of the presented chain (below).
            let mut args = vec!["-n", "-c", chain];
            if u == "2" {
                args.extend(["-o", "0"]);
            }
            args.extend(["create", &host, "25", u, sel, m]);
            let (code, out, err) = oracle("ldns-dane", &args);
            assert_eq!(code, 0, "ldns-dane {args:?}: {err}");
            assert_eq!(tlsa_fields(out.trim_end()), ours, "ldns-dane, {what}");
        }
    }

    // Where the tools ignore an RFC 7672 rule, the difference, named.
    let pki_chain = |scenario: &str| {
        pki.join(format!("{}.pem", lab.mx(scenario).host))
            .to_str()
            .unwrap()
            .to_owned()
    };
    // 1. DANE-EE binds the key, not the names (RFC 7672 §3.1.1): mailsec makes the 3 1 1 of a
    //    certificate for another name; ldns-dane refuses without -n.
    let wrong = lab.mx("dane-ta-wrong-name").host.clone();
    let o = lab.run(&["tlsa", "generate", "--connect", &wrong], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (code, _, err) = oracle(
        "ldns-dane",
        &[
            "-c",
            &pki_chain("dane-ta-wrong-name"),
            "create",
            &wrong,
            "25",
            "3",
            "1",
            "1",
        ],
    );
    assert_ne!(code, 0, "ldns-dane now ignores names for DANE-EE: {err}");
    assert!(err.contains("does not match the server name"), "{err}");
    let (_, out, _) = oracle(
        "ldns-dane",
        &[
            "-n",
            "-c",
            &pki_chain("dane-ta-wrong-name"),
            "create",
            &wrong,
            "25",
            "3",
            "1",
            "1",
        ],
    );
    assert_eq!(
        tlsa_fields(out.trim_end()),
        tlsa_fields(stdout(&o).trim_end())
    );
    // 2. A DANE-TA record must name a certificate the server sends (RFC 7672 §3.1.2): mailsec's
    //    2 x x names the leaf's issuer from the presented chain. ldns-dane by default names the
    //    self-signed root at the end of the validation path, which the server does not send, and
    //    so refuses the lab's chain (leaf + intermediate).
    let eeta = lab.mx("dane-ee-and-ta").host.clone();
    let (code, _, err) = oracle(
        "ldns-dane",
        &[
            "-n",
            "-c",
            &pki_chain("dane-ee-and-ta"),
            "create",
            &eeta,
            "25",
            "2",
            "1",
            "1",
        ],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("did not end in a self-signed certificate"),
        "{err}"
    );
    // And the 2 1 1 mailsec makes is the one the lab publishes for that host.
    let o = lab.run(
        &["tlsa", "generate", "--connect", &eeta, "--with-issuer"],
        &[],
    );
    assert!(
        stderr(&o).contains("already publishes these records"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn generate_connect_options_and_failures() {
    let lab = InLab::start();
    let host = lab.mx("dane-ee").host.clone();
    let addr = lab.mx("dane-ee").addr.to_string();
    let expected = stdout(&lab.run(&["tlsa", "generate", "--connect", &host], &[]));
    // HOST:PORT, an address with --name, and --starttls smtp say the same.
    let with_port = format!("{host}:25");
    for args in [
        vec!["--connect", &with_port],
        vec!["--connect", &addr, "--name", &host],
        vec!["--connect", &host, "--starttls", "smtp"],
    ] {
        let mut all = vec!["tlsa", "generate"];
        all.extend(args.iter().copied());
        let o = lab.run(&all, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), expected, "{args:?}");
    }
    // The published RRset is compared with what the server presents.
    let o = lab.run(&["tlsa", "generate", "--connect", &host], &[]);
    assert!(
        stderr(&o).contains("_25._tcp.mx.dane-ee.test. already publishes these records"),
        "{}",
        stderr(&o)
    );
    // dane-ee-wrong publishes a 3 1 1 that matches nothing the server presents.
    let wrong = lab.mx("dane-ee-wrong").host.clone();
    let o = lab.run(&["tlsa", "generate", "--connect", &wrong], &[]);
    let err = stderr(&o);
    assert!(
        err.contains("does not match the certificate the server presents") && err.contains("[D12]"),
        "{err}"
    );
    assert!(
        err.contains("not published at _25._tcp.mx.dane-ee-wrong.test. yet"),
        "{err}"
    );

    let no_tls = lab.mx("dane-no-starttls").host.clone();
    for (args, code, says) in [
        (
            vec!["--connect", no_tls.as_str()],
            2,
            format!("mailsec: no certificate chain from {no_tls} port 25: "),
        ),
        (
            vec!["--connect", &addr],
            2,
            "mailsec: --name HOST is required when --connect gives an address".to_owned(),
        ),
        (
            vec!["--connect", "nowhere.dane-ee.test"],
            2,
            "mailsec: no address for nowhere.dane-ee.test (A: NXDOMAIN, secure; AAAA: NXDOMAIN, secure)".to_owned(),
        ),
        (
            vec!["--connect", &host, "--port", "25"],
            2,
            "cannot be used with".to_owned(),
        ),
        (
            vec!["--cert", "x.pem", "--starttls", "smtp"],
            2,
            "cannot be used with".to_owned(),
        ),
        (
            vec!["--connect", "mx:0"],
            2,
            "the port must be 1-65535".to_owned(),
        ),
    ] {
        let mut all = vec!["tlsa", "generate"];
        all.extend(args.iter().copied());
        let o = lab.run(&all, &[("MAILSEC_NOW", "0")]);
        assert_eq!(o.status.code(), Some(code), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(&says), "{args:?}: {err}");
        assert!(o.stdout.is_empty());
    }
}
