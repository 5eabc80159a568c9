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
