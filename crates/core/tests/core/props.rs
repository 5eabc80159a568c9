//! Property tests: no parser panics on any input, the linters and strict parsers agree, and
//! every renderer round-trips through its parser.

use mailsec_core::dane::{self, Tlsa, TlsaRecord};
use mailsec_core::mta_sts::{self, MxPattern, Policy, StsRecord};
use mailsec_core::socketmap::{self, Request};
use mailsec_core::{HostName, tls_hello, tlsrpt};
use proptest::prelude::*;

/// Bytes biased towards the policy alphabet, to reach deep paths more often than pure noise.
fn policy_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"version".to_vec()),
        Just(b"mode".to_vec()),
        Just(b"max_age".to_vec()),
        Just(b"mx".to_vec()),
        Just(b": ".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"STSv1".to_vec()),
        Just(b"enforce".to_vec()),
        Just(b"*.".to_vec()),
        Just(b"example.com".to_vec()),
        Just(b"31557600".to_vec()),
        Just(b" ".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..4),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|v| v.concat())
}

/// An LDH label that is not an A-label (`xn--...` must be valid punycode, tested apart).
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?".prop_filter("reserved -- at positions 3-4", |l| {
        l.get(2..4) != Some("--")
    })
}

fn host() -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), 1..4).prop_map(|v| v.join(".") + ".test")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn policy_linter_never_panics_and_agrees_with_parser(body in policy_like()) {
        let linted = mta_sts::lint_policy(&body);
        prop_assert_eq!(linted.parsed.is_some(), !linted.has_errors());
        prop_assert_eq!(Policy::parse(&body).is_ok(), linted.parsed.is_some());
        for d in &linted.diagnostics {
            prop_assert!(!d.to_string().contains('\n'), "multi-line finding: {}", d);
        }
    }

    #[test]
    fn policy_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = mta_sts::lint_policy(&body);
    }

    #[test]
    fn records_never_panic(txt in proptest::collection::vec(any::<u8>(), 0..200), s in "v=(STS|TLSRPT)v1[ ;]{0,3}[a-z=;:@./ ,!%-]{0,40}") {
        let _ = mta_sts::lint_record(&txt);
        let _ = mta_sts::lint_record_set([txt.as_slice(), s.as_bytes()]);
        let _ = tlsrpt::lint_record(&txt);
        let linted = tlsrpt::lint_record(s.as_bytes());
        prop_assert_eq!(linted.parsed.is_some(), !linted.has_errors());
        let linted = mta_sts::lint_record(s.as_bytes());
        prop_assert_eq!(linted.parsed.is_some(), !linted.has_errors());
    }

    #[test]
    fn tlsa_and_certificates_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), text in "[0-9a-fA-F IN TLSA_.()\n]{0,80}") {
        let _ = Tlsa::from_rdata(&bytes);
        let _ = text.parse::<TlsaRecord>();
        let _ = dane::parse_certificates(&bytes);
        let _ = dane::parse_public_key(&bytes);
        let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        pem.extend(&bytes);
        let _ = dane::parse_certificates(&pem);
    }

    #[test]
    fn names_never_panic(s in "\\PC{0,80}") {
        let _ = HostName::parse(&s);
        let _ = HostName::parse_ascii_strict(&s);
        let _ = MxPattern::parse(&s);
    }

    #[test]
    fn netstring_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..64), payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = socketmap::decode(&bytes, 100);
        let _ = Request::parse(&bytes);
        let mut enc = Vec::new();
        socketmap::encode(&payload, &mut enc);
        let frame = socketmap::decode(&enc, 1000).unwrap().unwrap();
        prop_assert_eq!(frame.payload(&enc), payload.as_slice());
        prop_assert_eq!(frame.consumed, enc.len());
        // Every strict prefix of a valid frame is "need more bytes", never an error.
        for cut in 0..enc.len() {
            prop_assert_eq!(socketmap::decode(&enc[..cut], 1000), Ok(None));
        }
        // A cap below the length refuses the frame.
        if !payload.is_empty() {
            prop_assert!(socketmap::decode(&enc, payload.len() - 1).is_err());
        }
    }

    #[test]
    fn policy_round_trip(
        mode in prop_oneof![Just("enforce"), Just("testing"), Just("none")],
        max_age in 0u32..=31_557_600,
        mx in proptest::collection::vec((any::<bool>(), host()), 1..5),
    ) {
        let mut body = format!("version: STSv1\nmode: {mode}\nmax_age: {max_age}\n");
        for (wild, h) in &mx {
            body.push_str(&format!("mx: {}{h}\n", if *wild { "*." } else { "" }));
        }
        let p = Policy::parse(body.as_bytes()).unwrap();
        prop_assert_eq!(p.mode.as_str(), mode);
        prop_assert_eq!(p.max_age.seconds(), max_age);
        let again = Policy::parse(p.to_string().as_bytes()).unwrap();
        prop_assert_eq!(&again.mx, &p.mx);
        prop_assert_eq!(again.mode, p.mode);
        prop_assert_eq!(again.max_age, p.max_age);
    }

    #[test]
    fn wildcard_matches_exactly_one_label(l1 in label(), l2 in label(), suffix in host()) {
        let p = MxPattern::parse(&format!("*.{suffix}")).unwrap();
        let one = HostName::parse(&format!("{l1}.{suffix}")).unwrap();
        let two = HostName::parse(&format!("{l2}.{l1}.{suffix}")).unwrap();
        let zero = HostName::parse(&suffix).unwrap();
        prop_assert!(p.matches(&one));
        prop_assert!(!p.matches(&two));
        prop_assert!(!p.matches(&zero));
        let upper = HostName::parse(&format!("{l1}.{suffix}.").to_uppercase()).unwrap();
        prop_assert!(p.matches(&upper));
    }

    #[test]
    fn sts_record_round_trip(id in "[A-Za-z0-9]{1,32}", ext in proptest::option::of("[a-z][a-z0-9_.-]{0,10}=[!-:<>-~]{1,10}")) {
        let txt = match &ext { Some(e) => format!("v=STSv1; id={id}; {e}"), None => format!("v=STSv1; id={id}") };
        let r: StsRecord = txt.parse().unwrap();
        prop_assert_eq!(r.id.as_str(), id.as_str());
        prop_assert_eq!(r.to_string().parse::<StsRecord>().unwrap(), r);
    }

    #[test]
    fn tlsa_round_trip(u in any::<u8>(), s in any::<u8>(), m in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 1..80)) {
        let t = Tlsa::new(u, s, m, data);
        prop_assert_eq!(&Tlsa::from_rdata(&t.to_rdata()).unwrap(), &t);
        prop_assert_eq!(t.to_string().parse::<Tlsa>().unwrap(), t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The verifier never panics on untrusted chains and RRsets, and what it authenticates
    /// matches the certificate at the depth it names. A real certificate (rcgen) leads the chain
    /// in some cases and its `3 1 1` (from rcgen's own SPKI) is among the records in some, so
    /// that the authenticated branch is reached, not only the failures.
    #[test]
    fn dane_verify_never_panics(
        junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..4),
        rdata in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
        other in any::<bool>(),
        with_leaf in any::<bool>(),
        with_record in any::<bool>(),
    ) {
        let (leaf, spki_digest) = real_leaf();
        let mut chain = junk;
        if with_leaf {
            chain.insert(0, leaf.clone());
        }
        let mut tlsa: Vec<Tlsa> = rdata.iter().filter_map(|r| Tlsa::from_rdata(r).ok()).collect();
        if with_record {
            tlsa.push(Tlsa::new(3, 1, 1, spki_digest.clone()));
        }
        let service = if other { dane::Service::Other } else { dane::Service::Smtp };
        let refs = [HostName::parse("mx.example.com").unwrap()];
        let outcome = dane::verify(&dane::DaneInput {
            chain: &chain,
            tlsa: &tlsa,
            reference_ids: &refs,
            service,
            now: pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_780_272_000)),
            pkix_roots: &[],
        });
        let only_ee = tlsa.iter().all(|t| t.usage == dane::CertUsage::DaneEe);
        // (A junk certificate after the leaf fails the chain whatever the records: see
        // `verify`'s parse of the whole chain.)
        if with_leaf && with_record && chain.len() == 1 && only_ee && !tlsa.iter().any(|t| {
            t.selector == dane::Selector::Spki && t.matching == dane::Matching::Sha512
        }) {
            // Nothing else can set the matching 3 1 1 aside: DANE-EE needs only the leaf.
            prop_assert!(matches!(outcome, dane::DaneOutcome::Authenticated(_)), "{outcome:?}");
        }
        if let dane::DaneOutcome::Authenticated(a) = outcome {
            let m = dane::match_records(&chain, &tlsa, service);
            prop_assert!(m.iter().any(|r| r.record == a.record && r.matches.contains(&a.depth)));
        }
        let _ = dane::lint::lint_rrset(&tlsa);
        let _ = dane::lint::lint_against_chain(&tlsa, &chain, &[], &|_| false);
    }
}

/// One rcgen certificate and the SHA-256 of its SubjectPublicKeyInfo as rcgen encodes it (not
/// as the code under test extracts it), made once.
fn real_leaf() -> &'static (Vec<u8>, Vec<u8>) {
    static LEAF: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    LEAF.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example.com".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let digest = dane::associate(
            &rcgen::PublicKeyData::subject_public_key_info(&key),
            dane::Matching::Sha256,
        )
        .unwrap();
        (cert.der().to_vec(), digest)
    })
}

/// A handshake record whose messages are built from the types and lengths a server flight
/// uses, with random bodies: reaches the message parsers, not only the record layer.
fn flight_like() -> impl Strategy<Value = Vec<u8>> {
    let message = (
        prop_oneof![
            Just(0u8),
            Just(2u8),
            Just(11u8),
            Just(12u8),
            Just(13u8),
            Just(14u8),
            any::<u8>()
        ],
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(kind, body)| {
            let mut m = vec![kind, 0, (body.len() >> 8) as u8, body.len() as u8];
            m.extend(body);
            m
        });
    (
        prop_oneof![Just(0x16u8), Just(0x15u8), Just(0x14u8), any::<u8>()],
        proptest::collection::vec(message, 0..5),
    )
        .prop_map(|(content_type, messages)| {
            let payload = messages.concat();
            let mut r = vec![content_type, 3, 3];
            r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            r.extend(payload);
            r
        })
}

fn captured(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tls-flights")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The flight parser never panics, and what it says it consumed lies within the input.
    #[test]
    fn tls_flight_never_panics(
        records in proptest::collection::vec(flight_like(), 0..4),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        for input in [records.concat(), noise] {
            if let Ok(tls_hello::Progress::Done(f)) = tls_hello::parse_flight(&input) {
                prop_assert!(f.consumed <= input.len());
                prop_assert!(f.transcript.len() <= input.len());
            }
        }
    }

    /// Every proper prefix of a real flight asks for more bytes (never an error, never done);
    /// a real flight with one byte changed parses or fails, without panicking.
    #[test]
    fn tls_flight_prefixes_and_mutations(cut in 0usize..1248, at in 0usize..1248, byte in any::<u8>()) {
        let whole = captured("openssl-weak-baseline.bin");
        prop_assert_eq!(
            tls_hello::parse_flight(&whole[..cut.min(whole.len() - 1)]),
            Ok(tls_hello::Progress::NeedMore)
        );
        let mut changed = whole;
        let i = at % changed.len();
        changed[i] = byte;
        let _ = tls_hello::parse_flight(&changed);
    }

    /// A ClientHello of any suites, groups, algorithms and name encodes with consistent
    /// lengths: the record length and the handshake length add up to the bytes written.
    #[test]
    fn client_hello_lengths(
        suites in proptest::collection::vec(any::<u16>(), 1..200),
        groups in proptest::collection::vec(any::<u16>(), 0..40),
        algs in proptest::collection::vec(any::<u16>(), 0..40),
        sni in proptest::option::of("[a-z]{1,20}\\.test"),
        ems in any::<bool>(),
    ) {
        let mut hello = tls_hello::ClientHello::tls12([7; 32], &suites);
        hello.supported_groups = groups;
        hello.signature_algorithms = algs;
        hello.server_name = sni;
        hello.extended_master_secret = ems;
        let record = hello.encode_record().unwrap();
        let message = hello.encode().unwrap();
        prop_assert_eq!(&record[5..], &message[..]);
        prop_assert_eq!(usize::from(u16::from_be_bytes([record[3], record[4]])), message.len());
        let body_len = usize::from(message[1]) << 16 | usize::from(message[2]) << 8 | usize::from(message[3]);
        prop_assert_eq!(body_len + 4, message.len());
    }
}

/// One event in the life of a cached policy, for the sender's state machine.
#[derive(Clone, Debug)]
enum Event {
    /// Time passes.
    Wait(u64),
    /// A lookup: plan, and resolve when asked, with this discovery and this fetch result.
    Lookup(u8, u8),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0u64..200_000).prop_map(Event::Wait),
        (any::<u8>(), any::<u8>()).prop_map(|(d, f)| Event::Lookup(d, f)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Postfix socketmap keys: never a panic; an accepted key gives a normal-form domain that
    /// is accepted again unchanged (idempotent).
    #[test]
    fn socketmap_keys(key in "\\PC{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        use mailsec_core::socketmap::policy::policy_domain;
        if let Ok(d) = policy_domain(&key) {
            let s = d.as_str();
            prop_assert!(s.is_ascii() && !s.ends_with('.') && s == s.to_ascii_lowercase(), "{s}");
            let again = policy_domain(s).unwrap();
            prop_assert_eq!(again.as_str(), s);
        }
        let _ = policy_domain(&String::from_utf8_lossy(&bytes));
    }

    /// Stored cache entries come from a shared store: arbitrary JSON never panics.
    #[test]
    fn cache_entries_from_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), body in policy_like()) {
        use mailsec_core::mta_sts::sender::Entry;
        let _ = serde_json::from_slice::<Entry>(&bytes);
        let json = serde_json::json!({
            "policy": {"id": "a1", "body": String::from_utf8_lossy(&body), "fetched_at": 1, "refresh_at": 2},
            "status": {"status": "ok"}, "checked_at": 1, "failures": 0, "retry_at": 0
        });
        // Accepted exactly when the body is a valid policy.
        let parsed = serde_json::from_value::<Entry>(json);
        let policy = Policy::parse(String::from_utf8_lossy(&body).as_bytes());
        prop_assert_eq!(parsed.is_ok(), policy.is_ok());
        // The compact cached form gives back what the parser found: the same patterns in the
        // same order (from the body as written or from its stored copy), mode, max_age, lines.
        if let (Ok(entry), Ok(policy)) = (parsed, policy) {
            let cached = entry.policy.unwrap();
            let want: Vec<String> = policy.mx.iter().map(ToString::to_string).collect();
            prop_assert_eq!(cached.mx().collect::<Vec<_>>(), want);
            prop_assert_eq!(cached.mode(), policy.mode);
            prop_assert_eq!(cached.max_age(), policy.max_age);
            prop_assert_eq!(cached.lines().collect::<Vec<_>>(), policy.lines);
            prop_assert_eq!(cached.id(), "a1");
            prop_assert_eq!(cached.refresh_at(), 2);
        }
    }

    /// RFC 8461 §3.3, §5.1 and §10.2 over any history: a cached policy is applied only before
    /// `max_age` has run out since its last successful fetch, and one that was fetched is
    /// applied (not "no policy", not TEMP) until then, whatever the DNS and the policy host do.
    #[test]
    fn the_sender_never_applies_an_expired_policy_nor_drops_a_live_one(events in proptest::collection::vec(event(), 1..60)) {
        use mailsec_core::mta_sts::record::PolicyId;
        use mailsec_core::mta_sts::sender::{self, Discovery, Fetch, Failure, Outcome, Plan, Reason, Rules, Step, StsFailure};
        let rules = Rules::default();
        let mut now: u64 = 1_800_000_000;
        let mut entry = None;
        for e in events {
            match e {
                Event::Wait(s) => now += s,
                Event::Lookup(d, f) => {
                    let live_before = entry.as_ref().and_then(|e: &sender::Entry| e.live_policy(now).cloned());
                    let outcome = match sender::plan(entry.as_ref(), now, &rules) {
                        Plan::Answer { outcome, .. } => outcome,
                        Plan::Resolve => {
                            let id = PolicyId::new(["a1", "b2", "c3"][usize::from(d % 3)]).unwrap();
                            let discovery = match d % 7 {
                                0 => Discovery::NoRecord,
                                1 => Discovery::Invalid("two records".into()),
                                2 => Discovery::Failed("SERVFAIL".into()),
                                _ => Discovery::Record(id),
                            };
                            match sender::after_discovery(entry.as_ref(), discovery, Reason::Lookup, now) {
                                Step::Done { entry: next, outcome } => {
                                    entry = Some(next);
                                    outcome
                                }
                                Step::Fetch { id, rule } => {
                                    let max_age = [60u64, 3_600, 86_400, 604_800][usize::from(f % 4)];
                                    let fetch = match f % 5 {
                                        0 => Fetch::Failed(Failure { result_type: StsFailure::StsPolicyFetchError, reason: "404".into() }),
                                        1 => Fetch::Body(b"version: STSv1\nmode: enforce\n".to_vec()),
                                        _ => Fetch::Body(format!("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: {max_age}\n").into_bytes()),
                                    };
                                    let done = sender::after_fetch(entry.as_ref(), id, rule, fetch, now, &rules, f64::from(f) / 256.0);
                                    entry = Some(done.entry);
                                    done.outcome
                                }
                            }
                        }
                    };
                    match &outcome {
                        Outcome::Policy { policy, .. } => {
                            prop_assert!(now < policy.expires_at(), "expired policy applied at {now}: {policy:?}");
                            prop_assert!(policy.fetched_at <= now);
                        }
                        Outcome::NoPolicy { .. } | Outcome::Temp { .. } => {
                            // A live policy before the lookup is never dropped by it.
                            prop_assert!(live_before.is_none(), "live policy dropped: {outcome:?}");
                        }
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Reports come from anyone: any bytes give figures or an error, never a panic; a report
    /// built from counts (as numbers or as strings, as real reporters send them) gives them back.
    #[test]
    fn tlsrpt_report_figures(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ok in 0u64..1_000_000,
        failed in proptest::collection::vec(0u64..1000, 0..5),
        as_strings in any::<bool>(),
    ) {
        use mailsec_core::tlsrpt::failures::figures_for;
        let _ = figures_for(&bytes, "example.com");
        let n = |v: u64| if as_strings { serde_json::json!(v.to_string()) } else { serde_json::json!(v) };
        let total: u64 = failed.iter().sum();
        let details: Vec<_> = failed
            .iter()
            .enumerate()
            .map(|(i, c)| serde_json::json!({"result-type": "validation-failure", "receiving-mx-hostname": format!("MX{i}.example.com."), "failed-session-count": n(*c)}))
            .collect();
        let report = serde_json::json!({
            "organization-name": "r",
            "date-range": {"start-datetime": "2026-01-01T00:00:00Z", "end-datetime": "2026-01-01T23:59:59Z"},
            "policies": [{"policy": {"policy-type": "sts", "policy-domain": "Example.COM"},
                          "summary": {"total-successful-session-count": n(ok), "total-failure-session-count": n(total)},
                          "failure-details": details}],
        });
        let f = figures_for(report.to_string().as_bytes(), "example.com.").unwrap().unwrap();
        prop_assert_eq!((f.successes, f.failures), (ok, total));
        prop_assert_eq!(f.by_mx.len(), failed.len());
        for (i, (mx, _, c)) in f.by_mx.iter().enumerate() {
            prop_assert_eq!(mx, &format!("mx{i}.example.com"));
            prop_assert_eq!(*c, failed[i]);
        }
    }
}
