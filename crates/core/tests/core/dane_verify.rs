//! The RFC 7672 verifier on chains made with rcgen for each branch: DANE-EE ignores names and
//! dates, DANE-TA needs the anchor in the presented chain, a valid path and a reference
//! identifier, digest agility, PKIX usages only outside SMTP. Validity: 2026-01-01 to
//! 2027-01-01 (expired leaves: 2025), checked at 2026-06-01.

use std::time::Duration;

use mailsec_core::HostName;
use mailsec_core::dane::{
    DaneFailure, DaneInput, DaneOutcome, DaneVerifier, Matching, Selector, Service, Tlsa,
    associate, match_records, parse_certificates, verify,
};
use pki_types::{CertificateDer, TrustAnchor, UnixTime};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};

struct Pki {
    root: Vec<u8>,
    intermediate: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
    rogue: Issuer<'static, KeyPair>,
}

fn ca(cn: &str, parent: Option<&Issuer<'static, KeyPair>>) -> (Vec<u8>, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2030, 1, 1);
    let cert = match parent {
        Some(p) => params.signed_by(&key, p).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (cert.der().to_vec(), Issuer::new(params, key))
}

impl Pki {
    fn new() -> Self {
        let (root, root_issuer) = ca("Test Root", None);
        let (intermediate, issuer) = ca("Test Intermediate", Some(&root_issuer));
        let (_, rogue) = ca("Test Intermediate", None);
        Self {
            root,
            intermediate,
            issuer,
            rogue,
        }
    }

    /// A leaf with these SAN DNS names and CN, valid in 2026 unless `expired`.
    fn leaf(&self, sans: &[&str], cn: &str, expired: bool, rogue: bool) -> Vec<u8> {
        self.leaf_with_key(sans, cn, expired, rogue).0
    }

    /// The same, with its PKCS#8 private key.
    fn leaf_with_key(
        &self,
        sans: &[&str],
        cn: &str,
        expired: bool,
        rogue: bool,
    ) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let year = if expired { 2025 } else { 2026 };
        params.not_before = date_time_ymd(year, 1, 1);
        params.not_after = date_time_ymd(year + 1, 1, 1);
        let issuer = if rogue { &self.rogue } else { &self.issuer };
        (
            params.signed_by(&key, issuer).unwrap().der().to_vec(),
            key.serialize_der(),
        )
    }

    fn good_leaf(&self) -> Vec<u8> {
        self.leaf(&["mx.example.com"], "mx.example.com", false, false)
    }
}

fn now() -> UnixTime {
    // 2026-06-01T00:00:00Z
    UnixTime::since_unix_epoch(Duration::from_secs(1_780_272_000))
}

fn spki(der: &[u8]) -> Vec<u8> {
    parse_certificates(der).unwrap()[0].spki.clone()
}

fn rec(usage: u8, selector: u8, matching: u8, der: &[u8]) -> Tlsa {
    let selected = match Selector::from(selector) {
        Selector::Cert => der.to_vec(),
        _ => spki(der),
    };
    Tlsa::new(
        usage,
        selector,
        matching,
        associate(&selected, Matching::from(matching)).unwrap(),
    )
}

fn ids(names: &[&str]) -> Vec<HostName> {
    names.iter().map(|n| HostName::parse(n).unwrap()).collect()
}

fn run(chain: &[Vec<u8>], tlsa: &[Tlsa], refs: &[&str]) -> DaneOutcome {
    let refs = ids(refs);
    verify(&DaneInput {
        chain,
        tlsa,
        reference_ids: &refs,
        service: Service::Smtp,
        now: now(),
        pkix_roots: &[],
    })
}

fn authenticated(o: &DaneOutcome) -> (u8, usize, Option<String>) {
    match o {
        DaneOutcome::Authenticated(a) => (a.usage, a.depth, a.name.clone()),
        other => panic!("not authenticated: {other:?}"),
    }
}

fn failure(o: DaneOutcome) -> DaneFailure {
    match o {
        DaneOutcome::Failed(f) => f,
        other => panic!("did not fail: {other:?}"),
    }
}

#[test]
fn dane_ee_matches_the_leaf_whatever_its_names_and_dates() {
    let pki = Pki::new();
    // RFC 7672 §3.1.1: an expired, misnamed, self-standing leaf still authenticates.
    let leaf = pki.leaf(&["other.invalid"], "other.invalid", true, true);
    for (s, m) in [(1, 1), (1, 2), (0, 1), (0, 0)] {
        let o = run(
            std::slice::from_ref(&leaf),
            &[rec(3, s, m, &leaf)],
            &["mx.example.com"],
        );
        assert_eq!(authenticated(&o), (3, 0, None), "3 {s} {m}");
    }
    let other = pki.good_leaf();
    let f = failure(run(&[leaf], &[rec(3, 1, 1, &other)], &["mx.example.com"]));
    assert_eq!(f, DaneFailure::NoMatch { usable: 1 });
    assert_eq!(f.result_type(), "tlsa-invalid");
}

#[test]
fn dane_ta_needs_the_anchor_in_the_chain_a_valid_path_and_a_name() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let chain = [leaf.clone(), pki.intermediate.clone()];
    for (s, m) in [(1, 1), (0, 1), (1, 2), (0, 0)] {
        let o = run(
            &chain,
            &[rec(2, s, m, &pki.intermediate)],
            &["mx.example.com"],
        );
        assert_eq!(
            authenticated(&o),
            (2, 1, Some("mx.example.com".into())),
            "2 {s} {m}"
        );
    }
    // The root, when served, is an anchor at depth 2; not served, it matches nothing
    // (RFC 7672 §3.1.2: no issuer is fetched).
    let served = [leaf, pki.intermediate.clone(), pki.root.clone()];
    let root_ta = [rec(2, 1, 1, &pki.root)];
    assert_eq!(
        authenticated(&run(&served, &root_ta, &["mx.example.com"])).1,
        2
    );
    assert_eq!(
        failure(run(&chain, &root_ta, &["mx.example.com"])).result_type(),
        "tlsa-invalid"
    );
    // Names: the leaf must name a reference identifier.
    let f = failure(run(
        &chain,
        &[rec(2, 1, 1, &pki.intermediate)],
        &["mx2.example.com"],
    ));
    assert!(matches!(f, DaneFailure::NameMismatch { .. }), "{f:?}");
    assert_eq!(f.result_type(), "certificate-host-mismatch");
    // Dates: the path is checked.
    let expired = pki.leaf(&["mx.example.com"], "mx.example.com", true, false);
    let f = failure(run(
        &[expired, pki.intermediate.clone()],
        &[rec(2, 1, 1, &pki.intermediate)],
        &["mx.example.com"],
    ));
    assert_eq!(f.result_type(), "certificate-expired", "{f:?}");
    // Signatures: a leaf from another CA with the same name does not chain to the anchor.
    let forged = pki.leaf(&["mx.example.com"], "mx.example.com", false, true);
    let f = failure(run(
        &[forged, pki.intermediate.clone()],
        &[rec(2, 1, 1, &pki.intermediate)],
        &["mx.example.com"],
    ));
    assert_eq!(f.result_type(), "certificate-not-trusted", "{f:?}");
}

#[test]
fn reference_identifiers_follow_rfc_7672_section_3_2() {
    let pki = Pki::new();
    let ta = [rec(2, 1, 1, &pki.intermediate)];
    let chain = |leaf: Vec<u8>| [leaf, pki.intermediate.clone()];
    // The next-hop domain counts when the caller lists it (secure MX RRset).
    let o = run(
        &chain(pki.leaf(&["example.com"], "example.com", false, false)),
        &ta,
        &["mx.example.com", "example.com"],
    );
    assert_eq!(authenticated(&o).2.as_deref(), Some("example.com"));
    // A wildcard stands for one label.
    let wild = pki.leaf(&["*.example.com"], "x", false, false);
    assert!(matches!(
        run(&chain(wild.clone()), &ta, &["mx.example.com"]),
        DaneOutcome::Authenticated(_)
    ));
    assert!(matches!(
        failure(run(&chain(wild), &ta, &["a.mx.example.com"])),
        DaneFailure::NameMismatch { .. }
    ));
    // The CN counts only without SAN DNS names.
    let cn_only = pki.leaf(&[], "mx.example.com", false, false);
    assert!(matches!(
        run(&chain(cn_only), &ta, &["mx.example.com"]),
        DaneOutcome::Authenticated(_)
    ));
    let san_elsewhere = pki.leaf(&["other.example.com"], "mx.example.com", false, false);
    assert!(matches!(
        failure(run(&chain(san_elsewhere), &ta, &["mx.example.com"])),
        DaneFailure::NameMismatch { .. }
    ));
}

#[test]
fn digest_agility_decides_per_usage_and_selector() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let chain = [leaf.clone(), pki.intermediate.clone()];
    let wrong512 = Tlsa::new(3, 1, 2, vec![0xab; 64]);
    // RFC 7671 §9: a matching 3 1 1 beside a non-matching 3 1 2 does not count.
    let set = [rec(3, 1, 1, &leaf), wrong512.clone()];
    assert!(matches!(
        failure(run(&chain, &set, &["mx.example.com"])),
        DaneFailure::NoMatch { usable: 1 }
    ));
    let report = match_records(&chain, &set, Service::Smtp);
    assert!(report[0].superseded && report[0].matches == [0]);
    assert!(!report[1].superseded && report[1].matches.is_empty());
    // Another (usage, selector) pair is not affected: 3 0 1 and 2 1 1 still count.
    for other in [rec(3, 0, 1, &leaf), rec(2, 1, 1, &pki.intermediate)] {
        let set = [wrong512.clone(), other.clone()];
        assert!(
            matches!(
                run(&chain, &set, &["mx.example.com"]),
                DaneOutcome::Authenticated(_)
            ),
            "{other}"
        );
    }
}

#[test]
fn pkix_usages_count_only_outside_smtp() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let chain = [leaf.clone(), pki.intermediate.clone()];
    let root = CertificateDer::from(pki.root.as_slice());
    let anchor: TrustAnchor<'_> = webpki_anchor(&root);
    let refs = ids(&["mx.example.com"]);
    for record in [rec(1, 1, 1, &leaf), rec(0, 1, 1, &pki.intermediate)] {
        let tlsa = [record.clone()];
        let mut input = DaneInput {
            chain: &chain,
            tlsa: &tlsa,
            reference_ids: &refs,
            service: Service::Smtp,
            now: now(),
            pkix_roots: std::slice::from_ref(&anchor),
        };
        assert_eq!(verify(&input), DaneOutcome::NoUsableRecords, "{record}");
        input.service = Service::Other;
        assert!(
            matches!(verify(&input), DaneOutcome::Authenticated(_)),
            "{record}: {:?}",
            verify(&input)
        );
        // Without the root the PKIX half fails.
        input.pkix_roots = &[];
        assert!(matches!(verify(&input), DaneOutcome::Failed(_)), "{record}");
    }
}

#[test]
fn unparsable_certificates_fail_with_their_depth() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let f = failure(run(
        &[leaf.clone(), b"not a certificate".to_vec()],
        &[rec(3, 1, 1, &leaf)],
        &["mx.example.com"],
    ));
    assert!(
        matches!(f, DaneFailure::BadCertificate { depth: 1, .. }),
        "{f:?}"
    );
    assert_eq!(
        failure(run(&[], &[rec(3, 1, 1, &leaf)], &[])),
        DaneFailure::EmptyChain
    );
}

fn webpki_anchor<'a>(der: &'a CertificateDer<'a>) -> TrustAnchor<'a> {
    webpki::anchor_from_trusted_cert(der).unwrap()
}

/// A TLS 1.3 handshake in memory between a rustls server presenting `chain` and a rustls client
/// whose certificate verifier is [`DaneVerifier`]. Returns the client's error, if any.
fn handshake(
    chain: &[Vec<u8>],
    key: &[u8],
    verifier: std::sync::Arc<DaneVerifier>,
) -> Result<(), rustls::Error> {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain
                .iter()
                .map(|c| CertificateDer::from(c.clone()))
                .collect(),
            pki_types::PrivateKeyDer::Pkcs8(key.to_vec().into()),
        )
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let mut c = rustls::ClientConnection::new(
        Arc::new(client),
        pki_types::ServerName::try_from("mx.example.com").unwrap(),
    )
    .unwrap();
    let mut s = rustls::ServerConnection::new(Arc::new(server)).unwrap();
    for _ in 0..10 {
        let mut buf = Vec::new();
        c.write_tls(&mut buf).unwrap();
        s.read_tls(&mut buf.as_slice()).unwrap();
        if let Err(e) = s.process_new_packets() {
            let mut alert = Vec::new();
            let _ = s.write_tls(&mut alert);
            return Err(e);
        }
        let mut buf = Vec::new();
        s.write_tls(&mut buf).unwrap();
        c.read_tls(&mut buf.as_slice()).unwrap();
        c.process_new_packets()?;
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(());
        }
    }
    panic!("the handshake did not finish");
}

#[test]
fn the_verifier_decides_rustls_handshakes() {
    let pki = Pki::new();
    let (leaf, key) = pki.leaf_with_key(&["mx.example.com"], "mx.example.com", false, false);
    let chain = [leaf, pki.intermediate.clone()];
    let refs = ids(&["mx.example.com"]);
    // A matching DANE-TA record: the handshake completes and the outcome names the depth.
    let ok = DaneVerifier::new(
        vec![rec(2, 1, 1, &pki.intermediate)],
        refs.clone(),
        Service::Smtp,
    )
    .into_arc();
    handshake(&chain, &key, ok.clone()).unwrap();
    assert_eq!(
        authenticated(&ok.outcome().unwrap()),
        (2, 1, Some("mx.example.com".into()))
    );
    // A record that matches nothing: rustls aborts the handshake with a certificate error.
    let bad = DaneVerifier::new(
        vec![Tlsa::new(3, 1, 1, vec![0; 32])],
        refs.clone(),
        Service::Smtp,
    )
    .into_arc();
    let e = handshake(&chain, &key, bad.clone()).unwrap_err();
    assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e}");
    assert_eq!(
        failure(bad.outcome().unwrap()).result_type(),
        "tlsa-invalid"
    );
    // A name mismatch under DANE-TA reads as such to rustls.
    let other = DaneVerifier::new(
        vec![rec(2, 1, 1, &pki.intermediate)],
        ids(&["mx2.example.com"]),
        Service::Smtp,
    )
    .into_arc();
    assert_eq!(
        handshake(&chain, &key, other).unwrap_err(),
        rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
    );
    // Only unusable records: TLS without authentication goes ahead (RFC 7672 §2.2).
    let unusable =
        DaneVerifier::new(vec![Tlsa::new(0, 0, 1, vec![0; 32])], refs, Service::Smtp).into_arc();
    handshake(&chain, &key, unusable.clone()).unwrap();
    assert_eq!(unusable.outcome(), Some(DaneOutcome::NoUsableRecords));
}

#[test]
fn rrset_findings_against_the_presented_chain() {
    use mailsec_core::Check;
    use mailsec_core::dane::lint::lint_against_chain;
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let chain = [leaf.clone(), pki.intermediate.clone()];
    let certs: Vec<_> = chain
        .iter()
        .map(|d| parse_certificates(d).unwrap().remove(0))
        .collect();
    let old_key = pki.good_leaf();
    let lint = |tlsa: &[Tlsa], public: bool| -> Vec<Check> {
        lint_against_chain(tlsa, &chain, &certs, &|_| public)
            .iter()
            .map(|d| d.check)
            .collect()
    };
    // A retired key, a trust anchor the server does not send, a pinned public CA certificate,
    // a match set aside by a stronger digest.
    assert_eq!(
        lint(&[rec(3, 1, 1, &leaf), rec(3, 1, 1, &old_key)], false),
        [Check::D12]
    );
    assert_eq!(lint(&[rec(2, 1, 1, &pki.root)], false), [Check::D9]);
    assert_eq!(lint(&[rec(2, 0, 1, &pki.intermediate)], true), [Check::D16]);
    assert!(lint(&[rec(2, 0, 1, &pki.intermediate)], false).is_empty());
    assert_eq!(
        lint(
            &[rec(3, 1, 1, &leaf), Tlsa::new(3, 1, 2, vec![1; 64])],
            false
        ),
        [Check::D19, Check::D12]
    );
    assert!(
        lint(
            &[rec(3, 1, 1, &leaf), rec(2, 1, 1, &pki.intermediate)],
            false
        )
        .is_empty()
    );
}

#[test]
fn subject_names_are_in_the_form_trust_anchors_carry() {
    let pki = Pki::new();
    let der = CertificateDer::from(pki.root.as_slice());
    let anchor = webpki_anchor(&der);
    let (subject, issuer) = mailsec_core::dane::association::subject_der(&pki.root).unwrap();
    assert_eq!(subject, anchor.subject.as_ref());
    assert_eq!(issuer, subject, "a self-signed root");
    let (_, int_issuer) = mailsec_core::dane::association::subject_der(&pki.intermediate).unwrap();
    assert_eq!(int_issuer, anchor.subject.as_ref());
    assert!(mailsec_core::dane::association::subject_der(b"junk").is_none());
}

#[test]
fn key_and_signature_as_openssl_reads_them() {
    // `openssl x509 -noout -text` on the same files: "Public-Key: (1024 bit)" and
    // "sha1WithRSAEncryption"; "Public-Key: (256 bit)" and "ecdsa-with-SHA256".
    let weak = parse_certificates(include_bytes!(
        "../../../../testdata/certs/weak-rsa1024-sha1.pem"
    ))
    .unwrap();
    let k = mailsec_core::dane::key_info(&weak[0].der).unwrap();
    assert_eq!(
        (
            k.key_algorithm.as_str(),
            k.key_bits,
            k.signature_algorithm.as_str()
        ),
        ("RSA", 1024, "sha1WithRSAEncryption")
    );
    let ec = parse_certificates(include_bytes!("../../../../testdata/certs/bad-san.pem")).unwrap();
    let k = mailsec_core::dane::key_info(&ec[0].der).unwrap();
    assert_eq!(
        (
            k.key_algorithm.as_str(),
            k.key_bits,
            k.signature_algorithm.as_str()
        ),
        ("EC", 256, "ecdsa-with-SHA256")
    );
    assert!(k.not_before < k.not_after);
    assert!(mailsec_core::dane::key_info(b"junk").is_none());
}
