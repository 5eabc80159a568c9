//! Servers that misbehave (issue 7, "Bad input"): each probe ends in its typed error, never a
//! hang or a panic. Timeouts are short where a timeout is the expected end; wall-clock durations
//! are not asserted.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mailsec_probe::{ProbeConfig, ProbeError, Starttls, Step, probe_addr};
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::support::{
    Answer, MailServer, TestPki, config, probe_local, serve, smtp, within, write,
};

/// Greets and answers EHLO with STARTTLS, then hands the connection to `after_starttls` with the
/// STARTTLS command read and not answered.
async fn smtp_up_to_starttls<F, Fut>(after_starttls: F) -> SocketAddr
where
    F: Fn(BufReader<tokio::net::TcpStream>) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve(move |tcp| async move {
        let mut io = BufReader::new(tcp);
        if write(&mut io, "220 mail.example ESMTP").await.is_err() {
            return;
        }
        let mut line = String::new();
        loop {
            line.clear();
            if io.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            match crate::support::verb(&line, false).1.as_str() {
                "STARTTLS" => break,
                _ => {
                    let Answer::Send(text) = smtp(line.trim_end(), &["STARTTLS"]) else {
                        return;
                    };
                    if write(&mut io, &text).await.is_err() {
                        return;
                    }
                }
            }
        }
        after_starttls(io).await;
    })
    .await
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_greeting() {
    let server = serve(|tcp| async move {
        tokio::time::sleep(Duration::from_secs(120)).await;
        drop(tcp);
    })
    .await;
    let mut c = config();
    c.step_timeout = Duration::from_millis(300);
    let p = probe_local(server, 25, Starttls::Smtp, c).await;
    assert!(
        matches!(
            p.error,
            Some(ProbeError::Timeout {
                step: Step::Greeting,
                ..
            })
        ),
        "{:?}",
        p.error
    );
    assert_eq!(p.result_type(), Some("validation-failure"));
    assert!(p.error.as_ref().unwrap().is_transient());
}

#[tokio::test]
async fn the_whole_probe_deadline_ends_a_silent_server_too() {
    let server = serve(|tcp| async move {
        tokio::time::sleep(Duration::from_secs(120)).await;
        drop(tcp);
    })
    .await;
    let mut c = config();
    c.deadline = Duration::from_millis(300);
    let p = probe_local(server, 25, Starttls::Smtp, c).await;
    assert!(
        matches!(
            p.error,
            Some(ProbeError::Deadline {
                step: Step::Greeting,
                ..
            })
        ),
        "{:?}",
        p.error
    );
}

#[tokio::test]
async fn garbage_is_a_protocol_error() {
    for garbage in [
        &b"HTTP/1.1 400 Bad Request\r\n\r\n"[..],
        b"\x16\x03\x01\x00\x05hello\r\n",
        b"* OK IMAP4rev1 ready\r\n",
        b"220-first\r\n221 second\r\n",
    ] {
        let server = serve(move |mut tcp| async move {
            let _ = tcp.write_all(garbage).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await;
        let p = probe_local(server, 25, Starttls::Smtp, config()).await;
        assert!(
            matches!(
                p.error,
                Some(ProbeError::Protocol {
                    step: Step::Greeting,
                    ..
                })
            ),
            "{garbage:?}: {:?}",
            p.error
        );
    }
    // Garbage over IMAP and POP3 too.
    for (starttls, port) in [(Starttls::Imap, 143), (Starttls::Pop3, 110)] {
        let server = serve(|mut tcp| async move {
            let _ = tcp.write_all(b"220 this is SMTP\r\n").await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await;
        let p = probe_local(server, port, starttls, config()).await;
        assert!(
            matches!(
                p.error,
                Some(ProbeError::Protocol {
                    step: Step::Greeting,
                    ..
                })
            ),
            "{starttls}: {:?}",
            p.error
        );
    }
}

#[tokio::test]
async fn a_refusing_banner_is_reported_with_its_text() {
    let server = serve(|mut tcp| async move {
        let _ = tcp.write_all(b"554 5.3.2 no service for you\r\n").await;
    })
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    let Some(ProbeError::Protocol { step, reply, .. }) = &p.error else {
        panic!("{:?}", p.error)
    };
    assert_eq!(
        (*step, reply.as_str()),
        (Step::Greeting, "554 5.3.2 no service for you")
    );
    assert_eq!(
        p.greeting.as_deref(),
        Some(&["554 5.3.2 no service for you".to_owned()][..])
    );
}

#[tokio::test]
async fn a_connection_closed_during_the_handshake() {
    let server = smtp_up_to_starttls(|mut io| async move {
        let _ = write(&mut io, "220 2.0.0 go ahead").await;
        // Read the ClientHello, then hang up.
        let mut hello = [0u8; 4096];
        let _ = io.read(&mut hello).await;
        let mut tcp = io.into_inner();
        let _ = tcp.shutdown().await;
    })
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    assert!(
        matches!(
            p.error,
            Some(
                ProbeError::Closed {
                    step: Step::Handshake
                } | ProbeError::Io {
                    step: Step::Handshake,
                    ..
                }
            )
        ),
        "{:?}",
        p.error
    );
    assert!(p.tls.is_none() && p.chain.is_empty());
    assert_eq!(p.starttls_offered, Some(true));
}

#[tokio::test]
async fn a_1_mb_banner_line_is_too_long() {
    let server = serve(|mut tcp| async move {
        let mut banner = b"220 ".to_vec();
        banner.resize(1 << 20, b'a');
        banner.extend_from_slice(b"\r\n");
        let _ = tcp.write_all(&banner).await;
    })
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    assert!(
        matches!(
            p.error,
            Some(ProbeError::LineTooLong {
                step: Step::Greeting,
                max: 4096
            })
        ),
        "{:?}",
        p.error
    );
}

#[tokio::test]
async fn an_endless_ehlo_reply_has_too_many_lines() {
    let server = serve(|tcp| async move {
        let mut io = BufReader::new(tcp);
        let _ = write(&mut io, "220 mail.example").await;
        let mut line = String::new();
        let _ = io.read_line(&mut line).await;
        while io.get_mut().write_all(b"250-x\r\n").await.is_ok() {}
    })
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    assert!(
        matches!(
            p.error,
            Some(ProbeError::TooManyLines {
                step: Step::Capabilities,
                max: 256
            })
        ),
        "{:?}",
        p.error
    );
    // With a smaller byte budget than 256 lines need, the budget ends it first.
    let mut c = config();
    c.max_read = 1000;
    let p = probe_local(server, 25, Starttls::Smtp, c).await;
    assert!(
        matches!(
            p.error,
            Some(ProbeError::TooMuchData {
                step: Step::Capabilities,
                max: 1000
            })
        ),
        "{:?}",
        p.error
    );
}

#[tokio::test]
async fn starttls_answered_with_454_is_refused() {
    let server = smtp_up_to_starttls(|mut io| async move {
        let _ = write(
            &mut io,
            "454 4.7.0 TLS not available due to temporary reason",
        )
        .await;
        let mut line = String::new();
        let _ = io.read_line(&mut line).await;
        let _ = write(&mut io, "221 bye").await;
    })
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    let Some(ProbeError::StarttlsRefused { reply }) = &p.error else {
        panic!("{:?}", p.error)
    };
    assert_eq!(reply, "454 4.7.0 TLS not available due to temporary reason");
    assert_eq!(p.result_type(), Some("starttls-not-supported"));
    assert_eq!(p.error.as_ref().unwrap().step(), Step::Starttls);
}

/// RFC 3207 §4.2: what the server sends after its go-ahead and before the handshake must not
/// be taken into the TLS session (the STARTTLS injection of CVE-2011-0411, seen from the client).
#[tokio::test]
async fn clear_text_after_the_go_ahead_is_refused() {
    let server = smtp_up_to_starttls(|mut io| async move {
        let _ = write(&mut io, "220 2.0.0 go ahead\n250-injected\n250 STARTTLS").await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    assert!(
        matches!(
            p.error,
            Some(ProbeError::Protocol {
                step: Step::Starttls,
                ..
            })
        ),
        "{:?}",
        p.error
    );
    assert!(p.chain.is_empty(), "no handshake was attempted");
}

#[tokio::test]
async fn a_100_certificate_chain_is_a_verdict() {
    let pki = TestPki::self_signed("mail.example");
    let long = TestPki {
        chain: std::iter::repeat_n(pki.chain[0].clone(), 100).collect(),
        key: pki.key.clone(),
    };
    let server = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| smtp(l, &[]),
        greeting_tls: None,
        respond_tls: |l| smtp(l, &[]),
        acceptor: long.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(server, 443, Starttls::None, config()).await;
    assert!(
        matches!(
            p.error,
            Some(ProbeError::ChainTooLong { len: 100, max: 32 })
        ),
        "{:?}",
        p.error
    );
    assert!(p.chain.is_empty() && p.tls.is_none());
    assert_eq!(p.result_type(), Some("validation-failure"));

    // Within the count but over the byte limit.
    let five = TestPki {
        chain: std::iter::repeat_n(pki.chain[0].clone(), 5).collect(),
        key: pki.key.clone(),
    };
    let server = MailServer {
        implicit: true,
        greeting: "",
        respond: |l| smtp(l, &[]),
        greeting_tls: None,
        respond_tls: |l| smtp(l, &[]),
        acceptor: five.acceptor(),
    }
    .start()
    .await;
    let mut c = config();
    c.max_chain_bytes = 4 * pki.chain[0].len();
    let p = probe_local(server, 443, Starttls::None, c).await;
    assert!(
        matches!(p.error, Some(ProbeError::ChainTooLarge { bytes, max }) if bytes == 5 * pki.chain[0].len() && max < bytes),
        "{:?}",
        p.error
    );
}

/// A server presenting a certificate whose key it does not hold: the handshake signature check
/// of the default (accepting) verifier fails, in TLS 1.3 and in TLS 1.2.
#[tokio::test]
async fn a_server_without_the_leaf_key_fails_the_handshake() {
    #[derive(Debug)]
    struct Mismatched(Arc<CertifiedKey>);
    impl ResolvesServerCert for Mismatched {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let shown = TestPki::self_signed("mail.example");
    let held = TestPki::self_signed("other.example");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider
        .key_provider
        .load_private_key(held.key.clone_key())
        .unwrap();
    let certified = Arc::new(CertifiedKey::new(
        shown.chain.iter().map(CertificateDer::clone).collect(),
        key,
    ));
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Mismatched(certified.clone())));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let server = serve(move |tcp| {
            let acceptor = acceptor.clone();
            async move {
                let _ = acceptor.accept(tcp).await;
            }
        })
        .await;
        let p = probe_local(server, 443, Starttls::None, crate::support::config()).await;
        let Some(ProbeError::Tls { error }) = &p.error else {
            panic!("{version:?}: {:?}", p.error)
        };
        assert!(
            matches!(
                error,
                rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
                    | rustls::Error::PeerMisbehaved(_)
            ),
            "{version:?}: {error:?}"
        );
        assert!(p.tls.is_none() && p.authenticated_chain().is_none());
        assert_eq!(p.chain.len(), 1, "the presented chain is still reported");
    }
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_without_result_type() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let p = probe_local(addr, 25, Starttls::Smtp, config()).await;
    assert!(
        matches!(p.error, Some(ProbeError::Connect { .. })),
        "{:?}",
        p.error
    );
    assert_eq!(p.result_type(), None);
    assert_eq!(p.error.as_ref().unwrap().step(), Step::Connect);
}

#[tokio::test]
async fn bad_caller_input_fails_before_connecting() {
    let mut c = ProbeConfig::new();
    c.ehlo_name = "x\r\nMAIL FROM:<a@b>".into();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
    let p = within(probe_addr(addr, "mail.example", Starttls::Smtp, &c)).await;
    assert!(
        matches!(p.error, Some(ProbeError::InvalidEhloName(_))),
        "{:?}",
        p.error
    );
    let p = within(probe_addr(addr, "not a name", Starttls::Smtp, &config())).await;
    assert!(
        matches!(p.error, Some(ProbeError::InvalidSni(_))),
        "{:?}",
        p.error
    );
    assert!(p.timings.is_empty(), "nothing was dialled");
}

/// The scripted helpers themselves, so the hostile servers above are known to differ from a
/// good one only in their fault.
#[tokio::test]
async fn the_scripted_smtp_server_is_good() {
    let pki = TestPki::self_signed("mail.example");
    let server = MailServer {
        implicit: false,
        greeting: "220 mail.example",
        respond: |l| smtp(l, &["STARTTLS"]),
        greeting_tls: None,
        respond_tls: |l| smtp(l, &[]),
        acceptor: pki.acceptor(),
    }
    .start()
    .await;
    let p = probe_local(server, 25, Starttls::Smtp, config()).await;
    assert!(p.error.is_none(), "{:?}", p.error);
}

/// A server without ESMTP (EHLO refused with 5yz) cannot offer STARTTLS; a temporary refusal
/// (4yz) is a protocol failure, not "no STARTTLS".
#[tokio::test]
async fn an_ehlo_refusal() {
    let pki = TestPki::self_signed("mail.example");
    for temporary in [false, true] {
        let server = MailServer {
            implicit: false,
            greeting: "220 mail.example SMTP",
            respond: if temporary {
                |l| match crate::support::verb(l, false).1.as_str() {
                    "EHLO" => Answer::Send("421 4.3.2 try later".into()),
                    _ => smtp(l, &[]),
                }
            } else {
                |l| match crate::support::verb(l, false).1.as_str() {
                    "EHLO" => Answer::Send("502 5.5.1 command not recognised".into()),
                    _ => smtp(l, &[]),
                }
            },
            greeting_tls: None,
            respond_tls: |l| smtp(l, &[]),
            acceptor: pki.acceptor(),
        }
        .start()
        .await;
        let p = probe_local(server, 25, Starttls::Smtp, config()).await;
        if !temporary {
            assert!(
                matches!(p.error, Some(ProbeError::StarttlsNotOffered)),
                "{:?}",
                p.error
            );
            assert_eq!(p.starttls_offered, Some(false));
            assert_eq!(p.result_type(), Some("starttls-not-supported"));
        } else {
            let Some(ProbeError::Protocol { step, reply, .. }) = &p.error else {
                panic!("{:?}", p.error)
            };
            assert_eq!(
                (*step, reply.as_str()),
                (Step::Capabilities, "421 4.3.2 try later")
            );
        }
    }
}
