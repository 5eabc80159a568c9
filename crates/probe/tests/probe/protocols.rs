//! Each dialogue against a well-behaved test server: SMTP STARTTLS, implicit TLS on 465, 993,
//! 995 and 443, IMAP STARTTLS and POP3 STLS; the chain and the capabilities before and after TLS.

use std::sync::Arc;

use mailsec_probe::{ProbeError, Starttls, Step};
use rustls::client::danger::ServerCertVerifier;

use crate::support::{MailServer, TestPki, config, imap, pop3, probe_local, smtp};

/// Every step ran once, in this order.
fn assert_steps(probe: &mailsec_probe::AddrProbe, want: &[Step]) {
    let got: Vec<Step> = probe.timings.iter().map(|t| t.step).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn smtp_starttls_captures_both_ehlo_replies_and_the_chain() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: false,
        greeting: "220-mail.example ESMTP\n220 multi-line banner",
        respond: |l| smtp(l, &["PIPELINING", "SIZE 10240000", "STARTTLS"]),
        greeting_tls: None,
        respond_tls: |l| smtp(l, &["PIPELINING", "AUTH PLAIN"]),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(server, 587, Starttls::Smtp, config()).await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(
        p.greeting.as_deref(),
        Some(
            &[
                "220-mail.example ESMTP".to_owned(),
                "220 multi-line banner".to_owned()
            ][..]
        )
    );
    assert_eq!(
        p.capabilities_before.as_deref(),
        Some(
            &[
                "PIPELINING".to_owned(),
                "SIZE 10240000".into(),
                "STARTTLS".into()
            ][..]
        )
    );
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(
        p.capabilities_after.as_deref(),
        Some(&["PIPELINING".to_owned(), "AUTH PLAIN".into()][..])
    );
    let tls = p.tls.as_ref().unwrap();
    assert_eq!(tls.version, "TLSv1.3");
    assert!(tls.cipher_suite.starts_with("TLS_"), "{}", tls.cipher_suite);
    assert_eq!(tls.alpn, None);
    assert_eq!(p.sni_sent.as_deref(), Some("mail.example"));
    let chain: Vec<Vec<u8>> = p.chain.iter().map(|c| c.der.clone()).collect();
    assert_eq!(chain, pki.ders());
    assert_eq!(p.authenticated_chain().map(<[_]>::len), Some(1));
    let summary = p.chain[0].summary.as_ref().unwrap();
    assert_eq!(summary.dns_names.as_deref().unwrap(), ["mail.example"]);
    assert_eq!(summary.spki_sha256.len(), 64);
    assert_steps(
        &p,
        &[
            Step::Connect,
            Step::Greeting,
            Step::Capabilities,
            Step::Starttls,
            Step::Handshake,
            Step::CapabilitiesAfterTls,
            Step::Quit,
        ],
    );
    assert_eq!(p.result_type(), None);
}

#[tokio::test]
async fn implicit_tls_on_465_reads_the_banner_and_ehlo_after_the_handshake() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| smtp(l, &[]),
        greeting_tls: Some("220 mail.example ESMTP over TLS"),
        respond_tls: |l| smtp(l, &["AUTH PLAIN", "SIZE 1000"]),
        acceptor: pki.acceptor_with(&[&rustls::version::TLS12]),
    }
    .start()
    .await;
    let p = probe_local(server, 465, Starttls::for_port(465), config()).await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.starttls, Starttls::None);
    assert_eq!(p.starttls_offered, None);
    assert_eq!(p.capabilities_before, None);
    assert_eq!(
        p.greeting.as_deref(),
        Some(&["220 mail.example ESMTP over TLS".to_owned()][..])
    );
    assert_eq!(
        p.capabilities_after.as_deref(),
        Some(&["AUTH PLAIN".to_owned(), "SIZE 1000".into()][..])
    );
    let tls = p.tls.as_ref().unwrap();
    assert_eq!(tls.version, "TLSv1.2");
    assert!(
        tls.cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{}",
        tls.cipher_suite
    );
    assert_eq!(
        p.chain.iter().map(|c| c.der.clone()).collect::<Vec<_>>(),
        pki.ders()
    );
    assert_steps(
        &p,
        &[
            Step::Connect,
            Step::Handshake,
            Step::Greeting,
            Step::CapabilitiesAfterTls,
            Step::Quit,
        ],
    );
}

#[tokio::test]
async fn implicit_tls_on_993_and_995_reads_the_greeting_after_the_handshake() {
    let pki = TestPki::self_signed("mail.example");
    let imaps = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| imap(l, ""),
        greeting_tls: Some("* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] imaps ready"),
        respond_tls: |l| imap(l, "IMAP4rev2 AUTH=PLAIN"),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(imaps, 993, Starttls::for_port(993), config()).await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(
        p.capabilities_after.as_deref(),
        Some(&["IMAP4rev2".to_owned(), "AUTH=PLAIN".into()][..])
    );
    assert_eq!(p.chain.len(), 1);

    let pop3s = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| pop3(l, &[]),
        greeting_tls: Some("+OK pop3s ready"),
        respond_tls: |l| pop3(l, &["USER", "SASL PLAIN"]),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(pop3s, 995, Starttls::for_port(995), config()).await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(
        p.greeting.as_deref(),
        Some(&["+OK pop3s ready".to_owned()][..])
    );
    assert_eq!(
        p.capabilities_after.as_deref(),
        Some(&["USER".to_owned(), "SASL PLAIN".into()][..])
    );
}

#[tokio::test]
async fn implicit_tls_on_443_only_shakes_hands_and_reports_alpn() {
    let pki = TestPki::self_signed("mail.example");
    let mut server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(pki.chain.clone(), pki.key.clone_key())
    .unwrap();
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| smtp(l, &[]),
        greeting_tls: None,
        respond_tls: |l| smtp(l, &[]),
        acceptor: Arc::new(server_config).into(),
    }
    .start()
    .await;
    let mut c = config();
    c.alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let p = probe_local(server, 443, Starttls::for_port(443), c).await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.tls.as_ref().unwrap().alpn.as_deref(), Some("http/1.1"));
    assert_eq!(
        (p.greeting.as_ref(), p.capabilities_after.as_ref()),
        (None, None)
    );
    assert_steps(&p, &[Step::Connect, Step::Handshake, Step::Quit]);
}

#[tokio::test]
async fn imap_starttls() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: false,
        greeting: "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready",
        respond: |l| imap(l, "IMAP4rev1 STARTTLS LOGINDISABLED"),
        greeting_tls: None,
        respond_tls: |l| imap(l, "IMAP4rev1 AUTH=PLAIN"),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(server, 143, Starttls::for_port(143), config()).await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.starttls, Starttls::Imap);
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(
        p.capabilities_before.as_deref(),
        Some(
            &[
                "IMAP4rev1".to_owned(),
                "STARTTLS".into(),
                "LOGINDISABLED".into()
            ][..]
        )
    );
    assert_eq!(
        p.capabilities_after.as_deref(),
        Some(&["IMAP4rev1".to_owned(), "AUTH=PLAIN".into()][..])
    );
    assert_eq!(
        p.chain.iter().map(|c| c.der.clone()).collect::<Vec<_>>(),
        pki.ders()
    );
}

#[tokio::test]
async fn imap_without_starttls_and_imap_preauth_are_not_offered() {
    let pki = TestPki::self_signed("mail.example");
    for preauth in [false, true] {
        let server = MailServer {
            implicit: false,
            greeting: if preauth {
                "* PREAUTH already logged in"
            } else {
                "* OK plain only"
            },
            // STARTTLS belongs to the not-authenticated state (RFC 3501 §6.2.1), even if listed.
            respond: if preauth {
                |l| imap(l, "IMAP4rev1 STARTTLS")
            } else {
                |l| imap(l, "IMAP4rev1")
            },
            greeting_tls: None,
            respond_tls: |l| imap(l, ""),
            acceptor: pki.acceptor(),
        }
        .start()
        .await;
        let p = probe_local(server, 143, Starttls::Imap, config()).await;
        assert!(
            matches!(p.error, Some(ProbeError::StarttlsNotOffered)),
            "preauth {preauth}: {:?}",
            p.error
        );
        assert_eq!(p.starttls_offered, Some(false));
    }
}

#[tokio::test]
async fn pop3_stls() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: false,
        greeting: "+OK POP3 ready",
        respond: |l| pop3(l, &["USER", "STLS", ".dotted"]),
        greeting_tls: None,
        respond_tls: |l| pop3(l, &["USER", "SASL PLAIN"]),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(server, 110, Starttls::for_port(110), config()).await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.starttls, Starttls::Pop3);
    assert_eq!(
        p.greeting.as_deref(),
        Some(&["+OK POP3 ready".to_owned()][..])
    );
    assert_eq!(
        p.capabilities_before.as_deref(),
        // The server does not byte-stuff ".dotted": the probe unstuffs it to "dotted".
        Some(&["USER".to_owned(), "STLS".into(), "dotted".into()][..])
    );
    assert_eq!(
        p.capabilities_after.as_deref(),
        Some(&["USER".to_owned(), "SASL PLAIN".into()][..])
    );
    assert_eq!(
        p.chain.iter().map(|c| c.der.clone()).collect::<Vec<_>>(),
        pki.ders()
    );
}

#[tokio::test]
async fn pop3_without_capa_is_not_offered() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: false,
        greeting: "+OK old POP3",
        respond: |l| match crate::support::verb(l, false).1.as_str() {
            "QUIT" => crate::support::Answer::Quit("+OK".into()),
            _ => crate::support::Answer::Send("-ERR what".into()),
        },
        greeting_tls: None,
        respond_tls: |l| pop3(l, &[]),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(server, 110, Starttls::Pop3, config()).await;
    assert!(
        matches!(p.error, Some(ProbeError::StarttlsNotOffered)),
        "{:?}",
        p.error
    );
    assert_eq!(p.capabilities_before, None);
    assert_eq!(p.result_type(), Some("starttls-not-supported"));
}

/// An enforcing verifier plugged in: the handshake fails with rustls's error and its kind, and
/// the chain it refused is still reported (not as authenticated).
#[tokio::test]
async fn a_plugged_verifier_decides_and_the_chain_is_still_captured() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| smtp(l, &[]),
        greeting_tls: Some("220 mail.example"),
        respond_tls: |l| smtp(l, &[]),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let other = TestPki::self_signed("ca.other.example");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(other.chain[0].clone()).unwrap();
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let mut c = config();
    c.verifier = Some(verifier as Arc<dyn ServerCertVerifier>);
    let p = probe_local(server, 465, Starttls::None, c).await;
    let Some(ProbeError::Tls { error }) = &p.error else {
        panic!("{:?}", p.error)
    };
    assert!(
        matches!(
            error,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "{error:?}"
    );
    assert_eq!(p.result_type(), Some("certificate-not-trusted"));
    assert_eq!(
        p.chain.iter().map(|c| c.der.clone()).collect::<Vec<_>>(),
        pki.ders()
    );
    assert!(p.tls.is_none());
    assert!(p.authenticated_chain().is_none());

    // The same verifier with the server's certificate as root accepts it.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.chain[0].clone()).unwrap();
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let server = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| smtp(l, &[]),
        greeting_tls: Some("220 mail.example"),
        respond_tls: |l| smtp(l, &[]),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let mut c = config();
    c.verifier = Some(verifier);
    let p = probe_local(server, 465, Starttls::None, c).await;
    assert!(p.error.is_none(), "{:?}", p.error);
}

/// A JSON rendering carries the chain as base64 DER beside its summary, the error with its step
/// and result type, and both ports.
#[tokio::test]
async fn json_shape() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: false,
        greeting: "220 mail.example",
        respond: |l| smtp(l, &["STARTTLS"]),
        greeting_tls: None,
        respond_tls: |_| crate::support::Answer::Send("554 5.7.0 go away".into()),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["port"], 25);
    assert_eq!(json["starttls"], "smtp");
    assert_eq!(json["error"]["kind"], "protocol");
    assert_eq!(json["error"]["step"], "capabilities-after-tls");
    assert_eq!(json["error"]["result_type"], "validation-failure");
    assert_eq!(json["tls"]["version"], "TLSv1.3");
    let der = json["chain"][0]["der"].as_str().unwrap();
    assert!(der.starts_with("MII"), "{der}");
    assert_eq!(json["chain"][0]["summary"]["dns_names"][0], "mail.example");
    assert!(
        json["chain"][0]["summary"]["not_before"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(json["timings"][0]["ms"].is_number());
    assert!(json["elapsed_ms"].is_number());
}

/// IPv6: the same SMTP dialogue to `::1`, dialled by address (RFC 7672 §2.2.2 asks for every
/// address of a host, AAAA included).
#[tokio::test]
async fn smtp_starttls_over_ipv6() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: false,
        greeting: "220 mail.example ESMTP",
        respond: |l| smtp(l, &["STARTTLS"]),
        greeting_tls: None,
        respond_tls: |l| smtp(l, &["PIPELINING"]),
        acceptor: pki.acceptor(),
    }
    .start_at(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
    .await;
    let mut c = config();
    c.ports = mailsec_core::ports::PortMap::from([(25, server.port())]);
    let p = crate::support::within(mailsec_probe::probe_addr(
        std::net::SocketAddr::new(server.ip(), 25),
        "mail.example",
        Starttls::Smtp,
        &c,
    ))
    .await;
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.addr, std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST));
    assert_eq!(p.dialled(), server);
    assert_eq!(p.tls.as_ref().unwrap().version, "TLSv1.3");
    assert_eq!(
        p.chain.iter().map(|c| c.der.clone()).collect::<Vec<_>>(),
        pki.ders()
    );
}
