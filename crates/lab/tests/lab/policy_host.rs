//! The policy host, checked with curl (an independent client) and fetched with mailsec-fetch.

use std::time::Duration;

use mailsec_core::HostName;
use mailsec_core::mta_sts::Policy;
use mailsec_fetch::{FetchConfig, FetchError, fetch_policy};
use mailsec_lab::scenario::{HostFault, SCENARIOS};

use crate::{start, tool};

#[tokio::test]
async fn curl_sees_what_the_table_says() {
    let lab = start().await;
    let port = lab.lab.ports().https();
    let ca = lab.files.ca.display().to_string();
    let curl = |domain: &str| {
        let host = format!("mta-sts.{domain}");
        vec![
            "-sS".to_owned(),
            "--max-time".to_owned(),
            "5".to_owned(),
            "--resolve".to_owned(),
            format!("{host}:{port}:127.0.0.1"),
            "--cacert".to_owned(),
            ca.clone(),
            "-w".to_owned(),
            "\n%{http_code} %{content_type}".to_owned(),
            format!("https://{host}:{port}/.well-known/mta-sts.txt"),
        ]
    };
    let ok = tool("curl", &curl("sts-enforce.test"), b"").await;
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.starts_with("version: STSv1\nmode: enforce\nmx: mx.sts-enforce.test\n"),
        "{out}"
    );
    assert!(out.ends_with("200 text/plain; charset=utf-8"), "{out}");

    let redirect = tool("curl", &curl("sts-redirect.test"), b"").await;
    assert!(String::from_utf8_lossy(&redirect.stdout).ends_with("301 text/plain"));
    let html = tool("curl", &curl("sts-html.test"), b"").await;
    assert!(String::from_utf8_lossy(&html.stdout).ends_with("200 text/html; charset=utf-8"));
    // curl's exit code 60: the peer certificate cannot be authenticated.
    for bad in [
        "sts-host-untrusted.test",
        "sts-host-wrong-name.test",
        "sts-host-expired.test",
        // A certificate naming only the provider's host behind the CNAME (RFC 8461 §8.2).
        "sts-host-delegated-bad-cert.test",
    ] {
        let o = tool("curl", &curl(bad), b"").await;
        assert_eq!(
            o.status.code(),
            Some(60),
            "{bad}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// What RFC 8461 §3.3 makes of each fault, written from the table, not from the fetcher.
fn expected(fault: HostFault) -> &'static str {
    match fault {
        HostFault::None | HostFault::CacheHeaders | HostFault::Delegated => "ok",
        HostFault::OldTls => "tls-version",
        HostFault::DelegatedProviderCert => "sts-webpki-invalid",
        HostFault::Redirect => "redirect",
        HostFault::NotFound => "status",
        HostFault::Html => "content-type",
        HostFault::Oversize => "too-large",
        HostFault::Slow => "timeout",
        HostFault::UntrustedCert | HostFault::WrongName | HostFault::ExpiredCert => {
            "sts-webpki-invalid"
        }
    }
}

/// The emulated TLS 1.0-only host answers as OpenSSL does: a protocol_version alert, which
/// curl (OpenSSL) names; the caching headers reach curl as sent.
#[tokio::test]
async fn curl_sees_the_old_tls_host_and_the_caching_headers() {
    let lab = start().await;
    let port = lab.lab.ports().https();
    let ca = lab.files.ca.display().to_string();
    let host = "mta-sts.sts-host-old-tls.test";
    let old = mailsec_lab::scenario::OLD_TLS_POLICY_HOST;
    let o = tool(
        "curl",
        &[
            "-sS".to_owned(),
            "--max-time".to_owned(),
            "5".to_owned(),
            "--resolve".to_owned(),
            format!("{host}:{port}:{old}"),
            "--cacert".to_owned(),
            ca.clone(),
            format!("https://{host}:{port}/.well-known/mta-sts.txt"),
        ],
        b"",
    )
    .await;
    let err = String::from_utf8_lossy(&o.stderr);
    // curl's exit code 35: the TLS handshake failed.
    assert_eq!(o.status.code(), Some(35), "{err}");
    assert!(err.contains("protocol version"), "{err}");

    let host = "mta-sts.sts-cache-headers.test";
    let o = tool(
        "curl",
        &[
            "-sS".to_owned(),
            "-D".to_owned(),
            "-".to_owned(),
            "-o".to_owned(),
            "/dev/null".to_owned(),
            "--resolve".to_owned(),
            format!("{host}:{port}:127.0.0.1"),
            "--cacert".to_owned(),
            ca,
            format!("https://{host}:{port}/.well-known/mta-sts.txt"),
        ],
        b"",
    )
    .await;
    let head = String::from_utf8_lossy(&o.stdout).to_ascii_lowercase();
    assert!(
        head.contains("cache-control: no-store, max-age=0"),
        "{head}"
    );
    assert!(
        head.contains("expires: thu, 01 jan 1970 00:00:00 gmt"),
        "{head}"
    );
}

#[tokio::test]
async fn fetcher_applies_rfc8461_to_every_policy_host() {
    let lab = start().await;
    let mut config = FetchConfig::new().with_ca_file(&lab.files.ca).unwrap();
    config.ports = lab.lab.ports();
    config.timeout = Duration::from_secs(3);
    let mut checked = 0;
    let mut faults = Vec::new();
    let mut tasks = Vec::new();
    for s in SCENARIOS.iter().filter(|s| s.policy.is_some()) {
        let (resolver, config) = (lab.resolver.clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            let domain = HostName::parse(&s.domain()).unwrap();
            (s, fetch_policy(&resolver, &domain, &config).await)
        }));
    }
    for t in tasks {
        let (s, got) = t.await.unwrap();
        let fault = s.policy.unwrap().fault;
        faults.push(fault);
        let kind = match &got {
            Ok(f) => {
                // Every correctly served body is the table's body, over TLS 1.3 (the lab's
                // rustls server prefers it) with the certificate's end read.
                assert_eq!(
                    String::from_utf8_lossy(&f.body),
                    s.policy.unwrap().body.replace("{domain}", &s.domain())
                );
                assert_eq!(f.tls_version, "TLSv1.3", "{}", s.name);
                assert!(f.certificate_not_after.is_some(), "{}", s.name);
                "ok"
            }
            Err(FetchError::Redirect { status: 301, .. }) => "redirect",
            Err(FetchError::Status(404)) => "status",
            Err(FetchError::ContentType(_)) => "content-type",
            Err(FetchError::TooLarge(_)) => "too-large",
            Err(FetchError::Timeout(_)) => "timeout",
            Err(e @ FetchError::Tls { .. }) => e.result_type(),
            Err(FetchError::TlsVersion { .. }) => "tls-version",
            Err(e) => panic!("{}: unexpected {e}", s.name),
        };
        assert_eq!(kind, expected(fault), "{}: {got:?}", s.name);
        if s.name == "sts-invalid-policy" {
            assert!(Policy::parse(&got.unwrap().body).is_err());
        }
        checked += 1;
    }
    // Every policy host of the table, and among them every fault the lab can inject.
    assert_eq!(
        checked,
        SCENARIOS.iter().filter(|s| s.policy.is_some()).count()
    );
    let all = [
        HostFault::None,
        HostFault::Redirect,
        HostFault::NotFound,
        HostFault::Html,
        HostFault::Oversize,
        HostFault::Slow,
        HostFault::UntrustedCert,
        HostFault::WrongName,
        HostFault::ExpiredCert,
        HostFault::CacheHeaders,
        HostFault::OldTls,
        HostFault::Delegated,
        HostFault::DelegatedProviderCert,
    ];
    // Exhaustive: a new fault must be added here and to the table.
    for f in all {
        match f {
            HostFault::None
            | HostFault::Redirect
            | HostFault::NotFound
            | HostFault::Html
            | HostFault::Oversize
            | HostFault::Slow
            | HostFault::UntrustedCert
            | HostFault::WrongName
            | HostFault::ExpiredCert
            | HostFault::CacheHeaders
            | HostFault::OldTls
            | HostFault::Delegated
            | HostFault::DelegatedProviderCert => {
                assert!(faults.contains(&f), "no scenario has {f:?}")
            }
        }
    }
}

#[tokio::test]
async fn a_missing_or_silent_policy_host_is_a_fetch_error() {
    let lab = start().await;
    let mut config = FetchConfig::new().with_ca_file(&lab.files.ca).unwrap();
    config.timeout = Duration::from_secs(3);
    config.ports = lab.lab.ports();
    // mta-sts.<domain> does not exist.
    let missing = HostName::parse("sts-host-missing.test").unwrap();
    let e = fetch_policy(&lab.resolver, &missing, &config)
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::NoAddress), "{e}");
    assert_eq!(e.result_type(), "sts-policy-fetch-error");
    // The host exists but nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config
        .ports
        .insert(443, closed.local_addr().unwrap().port())
        .unwrap();
    drop(closed);
    let domain = HostName::parse("sts-enforce.test").unwrap();
    let e = fetch_policy(&lab.resolver, &domain, &config)
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Connect { .. }), "{e}");
    assert_eq!(e.result_type(), "sts-policy-fetch-error");
}
