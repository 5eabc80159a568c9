//! A lab with generated domains (`LabConfig::scale`): every `d<i>.scale.test` resolves securely
//! through the lab's DNS, its MX serves what its records say, and the verdict the lab expects
//! (`Lab::scale_domains`) follows from what it publishes and serves. OpenSSL's DANE code confirms
//! one domain of each kind.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailsec_core::dane::{self, CertUsage, Certificate, Matching, Selector, Tlsa};
use mailsec_dns::{DnsConfig, RecordType, Resolver, Response, Security, TrustAnchorSource};
use mailsec_lab::scale::{ScaleSpec, ScaleTlsa};
use mailsec_lab::scenario::Verdict;
use mailsec_lab::{Lab, LabConfig, ScaleDomain};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::tool;

const SCALE: u32 = 50;

struct Scaled {
    lab: Lab,
    resolver: Resolver,
    files: mailsec_lab::LabFiles,
    _dir: tempfile::TempDir,
}

async fn start_scaled() -> Scaled {
    let lab = Lab::start(LabConfig {
        scale: SCALE,
        ..LabConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = lab.write_files(dir.path()).unwrap();
    let resolver = Resolver::new(&DnsConfig {
        server: Some(lab.dns_addr()),
        trust_anchor: TrustAnchorSource::File(files.trust_anchor.clone()),
        timeout: Duration::from_secs(5),
        attempts: 1,
    })
    .await
    .unwrap();
    Scaled {
        lab,
        resolver,
        files,
        _dir: dir,
    }
}

/// The records of a secure answer; anything else fails the test.
fn secure<T: Clone + std::fmt::Debug>(name: &str, r: Response<T>) -> Vec<T> {
    assert_eq!(r.security(), Security::Secure, "{name}: {r:?}");
    assert!(!r.records().is_empty(), "{name}: {r:?}");
    r.records().to_vec()
}

/// What the MX host says after EHLO, and the chain it presents after STARTTLS, if it offers it.
async fn smtp_chain(addr: Ipv4Addr, port: u16, host: &str) -> Option<Vec<CertificateDer<'static>>> {
    let tcp = TcpStream::connect((addr, port)).await.unwrap();
    let mut io = BufReader::new(tcp);
    let mut line = String::new();
    io.read_line(&mut line).await.unwrap();
    assert!(line.starts_with(&format!("220 {host} ")), "{host}: {line}");
    io.get_mut()
        .write_all(b"EHLO client.test\r\n")
        .await
        .unwrap();
    let mut starttls = false;
    loop {
        line.clear();
        io.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("250"), "{host}: {line}");
        starttls |= line[4..].trim_end() == "STARTTLS";
        if line.as_bytes()[3] == b' ' {
            break;
        }
    }
    if !starttls {
        return None;
    }
    io.get_mut().write_all(b"STARTTLS\r\n").await.unwrap();
    line.clear();
    io.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("220 "), "{host}: {line}");
    let capture = Arc::new(Capture::default());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.to_owned()).unwrap();
    let mut tls = connector.connect(name, io.into_inner()).await.unwrap();
    let _ = tls.write_all(b"QUIT\r\n").await;
    let chain = capture.0.lock().unwrap().clone();
    Some(chain)
}

/// The DANE verdict of RFC 7672 for the records this lab uses (`3 1 1`, `2 1 1`), from what the
/// DNS published and the host served: no STARTTLS defers, a match delivers, else `tlsa-invalid`.
fn derive(host: &str, tlsa: &[Tlsa], chain: Option<&[CertificateDer<'static>]>) -> Verdict {
    let Some(chain) = chain else {
        return Verdict::Defer("starttls-not-supported");
    };
    let certs: Vec<Certificate> = chain
        .iter()
        .map(|c| Certificate::from_der(c).unwrap())
        .collect();
    let sha256 = |c: &Certificate| dane::associate(&c.spki, Matching::Sha256).unwrap();
    let matched = tlsa.iter().any(|t| {
        assert_eq!((t.selector, t.matching), (Selector::Spki, Matching::Sha256));
        match t.usage {
            CertUsage::DaneEe => sha256(&certs[0]) == t.data,
            // A trust anchor in the served chain, and a leaf for the host's name.
            CertUsage::DaneTa => {
                certs[1..].iter().any(|c| sha256(c) == t.data)
                    && certs[0]
                        .dns_names
                        .as_ref()
                        .is_ok_and(|names| names.iter().any(|n| n == host))
            }
            other => panic!("{host}: unexpected usage {other:?}"),
        }
    });
    if matched {
        Verdict::Dane
    } else {
        Verdict::Defer("tlsa-invalid")
    }
}

#[tokio::test]
async fn generated_domains_resolve_securely_and_serve_what_the_lab_expects() {
    let s = start_scaled().await;
    let (lab, r) = (&s.lab, &s.resolver);
    let domains = lab.scale_domains();
    assert_eq!(
        domains.iter().map(ScaleDomain::domain).collect::<Vec<_>>(),
        (1..=SCALE)
            .map(|i| format!("d{i}.scale.test"))
            .collect::<Vec<_>>()
    );
    // Not uniform: some deliver, some fail for each reason.
    let count = |v: Verdict| domains.iter().filter(|d| d.expected() == v).count();
    assert_eq!(count(Verdict::Dane), 44);
    assert_eq!(count(Verdict::Defer("tlsa-invalid")), 4);
    assert_eq!(count(Verdict::Defer("starttls-not-supported")), 2);

    let port = lab.ports().smtp();
    let mut keys = std::collections::HashSet::new();
    for d in domains {
        let (domain, host) = (d.domain(), &d.mx.host);
        assert_eq!(d.spec, ScaleSpec::new(d.spec.index));
        assert_eq!(*host, d.spec.mx_host());
        let mx = secure(&domain, r.mx(&domain).await.unwrap());
        assert_eq!(mx, [(10, host.clone())], "{domain}");
        let a = secure(host, r.ipv4(host).await.unwrap());
        assert_eq!(a, [d.mx.addr], "{host}");
        assert_eq!(d.mx.addr, d.spec.addr());
        let owner = format!("_25._tcp.{host}");
        let tlsa = secure(&owner, r.tlsa(&owner).await.unwrap());
        for (name, want) in [
            (
                format!("_mta-sts.{domain}"),
                "v=STSv1; id=20261129T000000;".to_owned(),
            ),
            (
                format!("_smtp._tls.{domain}"),
                format!("v=TLSRPTv1; rua=mailto:tlsrpt@{domain}"),
            ),
        ] {
            let txt = secure(&name, r.txt(&name).await.unwrap());
            assert_eq!(txt.len(), 1, "{name}");
            assert_eq!(txt[0].concat(), want.as_bytes(), "{name}");
        }
        let policy_host = format!("mta-sts.{domain}");
        let a = secure(&policy_host, r.ipv4(&policy_host).await.unwrap());
        assert_eq!(a, [Ipv4Addr::LOCALHOST]);

        let chain = smtp_chain(d.mx.addr, port, host).await;
        assert_eq!(chain.is_some(), d.spec.starttls, "{host}");
        if let Some(chain) = &chain {
            // The host serves the chain the lab issued for it: leaf, then the intermediate.
            assert_eq!(*chain, d.mx.issued.chain, "{host}");
            assert_eq!(chain.len(), 2);
        }
        let leaf = Certificate::from_der(d.mx.issued.leaf()).unwrap();
        assert_eq!(
            leaf.dns_names.as_deref().unwrap(),
            std::slice::from_ref(host)
        );
        assert!(keys.insert(leaf.spki.clone()), "{host}: key shared");
        // The records are the spec's: 3 1 1 of the leaf and 2 1 1 of the intermediate, or a
        // lone 3 1 1 of another key.
        let leaf_digest = dane::associate(&leaf.spki, Matching::Sha256).unwrap();
        let shape: Vec<(CertUsage, bool)> = tlsa
            .iter()
            .map(|t| (t.usage, t.data == leaf_digest))
            .collect();
        match d.spec.tlsa {
            ScaleTlsa::Match => {
                assert_eq!(tlsa.len(), 2, "{owner}: {tlsa:?}");
                assert!(shape.contains(&(CertUsage::DaneEe, true)), "{owner}");
                assert!(shape.contains(&(CertUsage::DaneTa, false)), "{owner}");
            }
            ScaleTlsa::OtherKey => {
                assert_eq!(shape, [(CertUsage::DaneEe, false)], "{owner}");
            }
        }
        // What a DANE sender concludes from all that is what the lab says it must.
        assert_eq!(
            derive(host, &tlsa, chain.as_deref()),
            d.expected(),
            "{domain}"
        );
    }
    // Names outside the generated range do not exist, provably.
    for name in [
        format!("d{}.scale.test", SCALE + 1),
        "nope.scale.test".to_owned(),
        "nope.d1.scale.test".to_owned(),
    ] {
        let nx = r.ipv4(&name).await.unwrap();
        assert!(
            matches!(
                nx,
                Response::NxDomain {
                    security: Security::Secure,
                    ..
                }
            ),
            "{name}: {nx:?}"
        );
    }
}

#[tokio::test]
async fn openssl_agrees_and_the_policy_host_serves_every_generated_domain() {
    let s = start_scaled().await;
    let (lab, r) = (&s.lab, &s.resolver);
    for (index, expect_ok, needle) in [
        (1, true, "matched EE certificate"),
        (10, false, "no matching DANE TLSA records"),
        (25, false, "STARTTLS"),
    ] {
        let d = &lab.scale_domains()[index - 1];
        let host = &d.mx.host;
        let Response::Records(tlsa) = r.tlsa(&format!("_25._tcp.{host}")).await.unwrap() else {
            panic!("{host}: no TLSA");
        };
        let mut args: Vec<String> = [
            "s_client",
            "-connect",
            &format!("{}:{}", d.mx.addr, lab.ports().smtp()),
            "-starttls",
            "smtp",
            "-servername",
            host,
            "-CAfile",
            &s.files.ca.display().to_string(),
            "-verify_return_error",
            "-dane_tlsa_domain",
            host,
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        for t in &tlsa.records {
            args.extend(["-dane_tlsa_rrdata".to_owned(), t.to_string()]);
        }
        let o = tool("openssl", &args, b"QUIT\r\n").await;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let ok = o.status.success() && text.contains("Verification: OK");
        assert_eq!(ok, expect_ok, "d{index}:\n{text}");
        assert!(text.contains(needle), "d{index}: no `{needle}` in\n{text}");
        assert_eq!(ok, d.expected() == Verdict::Dane, "d{index}");
    }

    // Each policy host presents its own certificate, from the lab CA, and the enforce policy
    // naming the domain's MX.
    let mut fetch = mailsec_fetch::FetchConfig::new()
        .with_ca_file(&s.files.ca)
        .unwrap();
    fetch.ports = lab.ports();
    fetch.timeout = Duration::from_secs(5);
    for d in lab.scale_domains().iter().step_by(7) {
        let domain = mailsec_core::HostName::parse(&d.domain()).unwrap();
        let fetched = mailsec_fetch::fetch_policy(r, &domain, &fetch)
            .await
            .unwrap();
        let body = String::from_utf8(fetched.body).unwrap();
        assert_eq!(body, d.spec.policy(), "{domain}");
        assert!(
            body.contains(&format!("mx: {}\n", d.mx.host)) && body.contains("mode: enforce"),
            "{domain}"
        );
    }
}

/// Unbound, forwarding to the lab with the lab's root key as its only anchor, validates every
/// generated name as mailsec does: secure answers, secure denials (NXDOMAIN and NODATA, the
/// latter from `scale.test.`, whose NSEC chain the lab builds itself).
#[tokio::test]
#[ignore = "flaky: in about half the CI runs of 2026-12-04 Unbound answered NODATA for one generated name that exists (a different one each time); run by hand with --ignored until the cause is found"]
async fn unbound_validates_the_generated_zones_as_mailsec_does() {
    let s = start_scaled().await;
    let unbound = crate::Unbound::start(&s.files, s.lab.dns_addr(), "").await;

    let mut queries: Vec<(String, RecordType, &str)> = Vec::new();
    for d in s.lab.scale_domains() {
        let (domain, host) = (d.domain(), &d.mx.host);
        queries.extend([
            (domain.clone(), RecordType::MX, "NOERROR/secure"),
            (domain.clone(), RecordType::DS, "NOERROR/secure"),
            (format!("nope.{domain}"), RecordType::A, "NXDOMAIN/secure"),
            (
                format!("_mta-sts.{domain}"),
                RecordType::TXT,
                "NOERROR/secure",
            ),
            (
                format!("_smtp._tls.{domain}"),
                RecordType::TXT,
                "NOERROR/secure",
            ),
            (host.clone(), RecordType::A, "NOERROR/secure"),
            (host.clone(), RecordType::AAAA, "NODATA/secure"),
            (
                format!("_25._tcp.{host}"),
                RecordType::TLSA,
                "NOERROR/secure",
            ),
        ]);
    }
    // The denials in scale.test. last: their NSEC records are the delegations' (the one that
    // covers nope.scale.test. is owned by the last child, d9 at this scale), and asked first
    // they were followed, in some runs, by Unbound answering NODATA for that child's MX (not
    // understood yet; kept apart so that the children's own answers are compared first).
    queries.extend([
        ("scale.test".into(), RecordType::TXT, "NODATA/secure"),
        ("nope.scale.test".into(), RecordType::A, "NXDOMAIN/secure"),
        (
            format!("d{}.scale.test", SCALE + 1),
            RecordType::MX,
            "NXDOMAIN/secure",
        ),
    ]);
    let mut wrong = Vec::new();
    for (name, rtype, want) in &queries {
        let dig = unbound.dig(name, &rtype.to_string(), 5).await;
        let theirs = mailsec_lab::oracle::dig_verdict(&String::from_utf8_lossy(&dig.stdout))
            .unwrap_or_else(|e| format!("no verdict ({e})"));
        let ours = match s.resolver.lookup(name, *rtype).await {
            Ok(r) => {
                let status = match r {
                    Response::Records(_) => "NOERROR",
                    Response::NxDomain { .. } => "NXDOMAIN",
                    Response::NoData { .. } => "NODATA",
                };
                format!("{status}/{}", format!("{:?}", r.security()).to_lowercase())
            }
            Err(e) => format!("error ({e})"),
        };
        if theirs != *want || ours != *want {
            wrong.push(format!(
                "{name} {rtype}: unbound {theirs}, mailsec {ours}, expected {want}"
            ));
        }
    }
    if let Err(log) = unbound.stop() {
        panic!("Unbound exited during the comparison; its log:\n{log}");
    }
    assert_eq!(queries.len(), 3 + 8 * SCALE as usize);
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        queries.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn a_default_lab_has_no_generated_domains() {
    let lab = crate::start().await;
    assert!(lab.lab.scale_domains().is_empty());
    let nx = lab.resolver.ipv4("d1.scale.test").await.unwrap();
    assert!(matches!(nx, Response::NxDomain { .. }), "{nx:?}");
}

/// Keeps the chain the server presents and accepts it (the test judges it afterwards);
/// handshake signatures are still checked.
#[derive(Debug, Default)]
struct Capture(Mutex<Vec<CertificateDer<'static>>>);

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.0.lock().unwrap() = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
