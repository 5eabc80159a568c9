//! The checker over every scenario of the lab: what it concludes before connecting must agree
//! with the verdict the scenario table gives for a conformant sender.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mailsec_check::{Context, DaneState, DomainReport, check_domain};
use mailsec_core::{Check, HostName, Severity};
use mailsec_dns::Security;
use mailsec_dns::{DnsConfig, Resolver, TrustAnchorSource};
use mailsec_fetch::FetchConfig;
use mailsec_lab::scenario::{
    BogusRecord, HostFault, Mx, MxCert, SCENARIOS, Scenario, StsTxt, TlsaSpec, Verdict,
    ZoneSecurity,
};
use mailsec_lab::{Lab, LabConfig};

fn has(r: &DomainReport, check: Check, severity: Severity) -> bool {
    r.findings
        .iter()
        .any(|f| f.diagnostic.check == check && f.diagnostic.severity == severity)
}

/// The DANE state of one MX host that the table implies, before connecting (RFC 7672 §2.2):
/// from the zone's DNSSEC state and the TLSA records the row publishes.
fn expected_dane(s: &Scenario, mx: &Mx) -> DaneState {
    match s.zone {
        ZoneSecurity::BogusAt(BogusRecord::Tlsa) => DaneState::Failed,
        ZoneSecurity::Unsigned => DaneState::NotApplicable,
        ZoneSecurity::Signed
        | ZoneSecurity::BogusAt(BogusRecord::Mx | BogusRecord::DenialAtTlsaName) => {
            if mx.tlsa.iter().any(|t| t.is_injected_fault()) {
                DaneState::Failed
            } else if mx.tlsa.is_empty() {
                DaneState::NotApplicable
            } else if mx.tlsa.iter().all(|t| *t == TlsaSpec::PkixOnly) {
                DaneState::UnusableRecords
            } else {
                DaneState::Required
            }
        }
    }
}

/// The MTA-STS summary the table implies: the mode of a policy that is served correctly, or
/// why there is none.
fn expected_sts(s: &Scenario) -> String {
    let valid_record = |recs: &[&str]| {
        let candidates: Vec<&&str> = recs.iter().filter(|r| r.starts_with("v=STSv1")).collect();
        // The table's invalid records: two v=STSv1 records, or an id with dashes.
        candidates.len() == 1 && !candidates[0].contains('-')
    };
    match s.sts_txt {
        StsTxt::Absent | StsTxt::NoData => "not deployed".into(),
        StsTxt::Timeout | StsTxt::ServFail => "unknown (lookup failed)".into(),
        StsTxt::Records(recs) if !valid_record(recs) => "broken (TXT record)".into(),
        StsTxt::Records(_) | StsTxt::Cname(_) => match s.policy {
            None => "broken (sts-policy-fetch-error)".into(),
            Some(p) if p.fault.serves_policy() => {
                if !p.body.contains("max_age") {
                    "broken (policy invalid)".into()
                } else if let Some(mode) = p.body.lines().find_map(|l| l.strip_prefix("mode: ")) {
                    mode.to_owned()
                } else {
                    panic!("{}: a policy body without a mode", s.name)
                }
            }
            Some(p) => format!(
                "broken ({})",
                match p.fault {
                    HostFault::UntrustedCert
                    | HostFault::WrongName
                    | HostFault::ExpiredCert
                    | HostFault::DelegatedProviderCert => "sts-webpki-invalid",
                    _ => "sts-policy-fetch-error",
                }
            ),
        },
    }
}

/// Every disagreement between the checker's view of a scenario and what the table implies for
/// it, before connecting: the MX hosts and their DANE states, the MTA-STS summary, the TLS-RPT
/// summary, and the findings that name the table's faults.
fn disagreements(s: &Scenario, r: &DomainReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            out.push(format!("{}: {what}", s.domain()));
        }
    };
    // MX hosts and DANE. A bogus MX RRset leaves no MX host to look at.
    let want_mx: Vec<(String, DaneState)> = if s.zone == ZoneSecurity::BogusAt(BogusRecord::Mx) {
        Vec::new()
    } else {
        s.mx.iter()
            .map(|m| (format!("{}.{}", m.label, s.domain()), expected_dane(s, m)))
            .collect()
    };
    let got_mx: Vec<(String, DaneState)> = r.mx.iter().map(|m| (m.host.clone(), m.dane)).collect();
    expect(
        got_mx == want_mx,
        format!("MX/DANE {got_mx:?}, table {want_mx:?}"),
    );
    match s.zone {
        ZoneSecurity::BogusAt(BogusRecord::Tlsa) => expect(
            has(r, Check::D2, Severity::Error),
            "a bogus TLSA RRset is D2".into(),
        ),
        ZoneSecurity::BogusAt(BogusRecord::Mx) => expect(
            has(r, Check::N2, Severity::Error),
            "a bogus MX RRset is N2".into(),
        ),
        ZoneSecurity::Unsigned => expect(
            has(r, Check::N7, Severity::Warning),
            "an insecure MX RRset is N7".into(),
        ),
        ZoneSecurity::BogusAt(BogusRecord::DenialAtTlsaName) => {
            expect(r.mx_security == Some(Security::Secure), "MX secure".into());
            expect(
                has(r, Check::D3, Severity::Error),
                "a bogus NXDOMAIN beside the TLSA records is D3".into(),
            );
        }
        ZoneSecurity::Signed => expect(r.mx_security == Some(Security::Secure), "MX secure".into()),
    }
    // The DANE extras fire on their rows, and nowhere else in the table.
    for (check, severity, row, what) in [
        (
            Check::D3,
            Severity::Error,
            s.zone == ZoneSecurity::BogusAt(BogusRecord::DenialAtTlsaName),
            "bogus denial at the TLSA name",
        ),
        (
            Check::D14,
            Severity::Warning,
            s.mx.iter().any(|m| m.cert == MxCert::ValidWithRsa),
            "an RSA certificate no record covers",
        ),
        (
            Check::D22,
            Severity::Warning,
            s.mx.iter()
                .any(|m| m.cert == MxCert::StrictSni && m.cname.is_some()),
            "SNI = TLSA base domain refused",
        ),
        (
            Check::D23,
            Severity::Info,
            s.mx.iter().any(|m| m.tlsa.contains(&TlsaSpec::Submission)),
            "TLSA of another service",
        ),
        (Check::D15, Severity::Warning, false, "no lab CA is retired"),
        (
            Check::D17,
            Severity::Warning,
            false,
            "the lab CA is no known family",
        ),
        (
            Check::D24,
            Severity::Warning,
            // Lab leaves last 90 days; an expired one is due for renewal, and 3 1 1 alone
            // does not cover a new key.
            s.zone == ZoneSecurity::Signed
                && s.mx
                    .iter()
                    .any(|m| m.cert == MxCert::Expired && m.tlsa == [TlsaSpec::EeSpki]),
            "a leaf due for renewal with 3 1 1 only",
        ),
    ] {
        if has(r, check, severity) != row {
            let state = if row { "missing" } else { "unexpected" };
            expect(false, format!("{check:?}/{severity:?} {state} ({what})"));
        }
    }
    if want_mx
        .iter()
        .any(|(_, d)| *d == DaneState::UnusableRecords)
    {
        expect(
            has(r, Check::D6, Severity::Warning),
            "a PKIX-only TLSA is D6".into(),
        );
    }
    // MTA-STS.
    let sts = expected_sts(s);
    expect(
        r.summary.mta_sts == sts,
        format!("MTA-STS `{}`, table `{sts}`", r.summary.mta_sts),
    );
    expect(
        r.sts_policy.is_some() == matches!(sts.as_str(), "enforce" | "testing" | "none"),
        "a policy is reported exactly when one is served and valid".into(),
    );
    match s.sts_txt {
        StsTxt::Timeout | StsTxt::ServFail => expect(
            has(r, Check::S13, Severity::Error),
            "a failed TXT lookup is S13, not 'no policy'".into(),
        ),
        StsTxt::Records(_) if s.policy.is_none() => expect(
            has(r, Check::H1, Severity::Error),
            "a record without a policy host is a failed fetch (H1)".into(),
        ),
        _ => {}
    }
    if sts == "broken (policy invalid)" {
        expect(
            has(r, Check::P5, Severity::Error),
            "a policy without max_age is P5".into(),
        );
    }
    if let Some(p) = s.policy.filter(|_| sts.starts_with("broken (sts-")) {
        let check = match p.fault {
            HostFault::Redirect => Check::H5,
            HostFault::NotFound => Check::H4,
            HostFault::Html => Check::H6,
            HostFault::Oversize => Check::H7,
            HostFault::UntrustedCert | HostFault::WrongName | HostFault::ExpiredCert => Check::H2,
            HostFault::OldTls => Check::H10,
            HostFault::DelegatedProviderCert => Check::H12,
            HostFault::Slow | HostFault::None | HostFault::CacheHeaders | HostFault::Delegated => {
                Check::H1
            }
        };
        expect(
            has(r, check, Severity::Error),
            format!("{:?} is {check:?}", p.fault),
        );
    }
    if s.expected == Verdict::Defer("validation-failure") && s.policy.is_some() {
        expect(
            has(r, Check::P13, Severity::Error),
            "an MX the enforce policy does not cover is P13".into(),
        );
    }
    // Connections: a DANE sender's refusal is a finding naming why.
    let dane_decided =
        s.mx.iter()
            .any(|m| !m.tlsa.is_empty() && !m.tlsa.iter().any(|t| t.is_injected_fault()))
            && !matches!(s.zone, ZoneSecurity::BogusAt(_) | ZoneSecurity::Unsigned);
    if let (true, Verdict::Defer(reason)) = (dane_decided, s.expected) {
        let check = match reason {
            "starttls-not-supported" => Check::T1,
            "certificate-host-mismatch" => Check::D8,
            _ => Check::D7,
        };
        expect(
            has(r, check, Severity::Error),
            format!("a DANE refusal for {reason} is {check:?}"),
        );
    }
    expect(r.dane.is_some(), "the checker connects".into());
    expect(
        !has(r, Check::N9, Severity::Error) && !has(r, Check::N6, Severity::Error),
        "the lab's root and test. validate (no N9, no N6)".into(),
    );
    if matches!(s.sts_txt, StsTxt::Records(_) | StsTxt::Cname(_)) {
        expect(
            has(r, Check::S12, Severity::Info),
            "the record's TTL is said (S12)".into(),
        );
    }
    // The lab's SMTP servers present their one certificate with or without SNI.
    let probed_without_sni = r.dane.as_ref().is_some_and(|d| {
        d.hosts
            .iter()
            .all(|h| h.without_sni.is_some() == h.results.iter().any(|a| a.probe.tls.is_some()))
    });
    expect(
        probed_without_sni,
        "every host with TLS is probed once without SNI".into(),
    );
    expect(
        !has(r, Check::T18, Severity::Warning),
        "no lab server needs SNI (no T18)".into(),
    );
    expect(
        !has(r, Check::H3, Severity::Warning),
        "the lab's policy host certificates last 90 days (no H3)".into(),
    );
    if matches!(sts.as_str(), "enforce" | "testing" | "none") {
        expect(
            has(r, Check::H11, Severity::Info),
            "a fetched policy says how long it took (H11)".into(),
        );
        // The lab's policy host chooses the certificate by SNI (a default one without).
        expect(
            has(r, Check::H9, Severity::Info),
            "the lab's policy host relies on SNI (H9)".into(),
        );
    }
    // The checks of issue 8, each where the table's row makes it fire and nowhere else.
    let fault = s.policy.map(|p| p.fault);
    let spf_at_sts =
        matches!(s.sts_txt, StsTxt::Records(recs) if recs.iter().any(|r| r.starts_with("v=spf1")));
    let pairs = [
        (
            Check::S4,
            Severity::Error,
            spf_at_sts,
            "an SPF record at _mta-sts",
        ),
        (
            Check::S6,
            Severity::Info,
            matches!(s.sts_txt, StsTxt::Cname(_)),
            "a CNAME at _mta-sts",
        ),
        (
            Check::H8,
            Severity::Info,
            fault == Some(HostFault::CacheHeaders),
            "caching headers contradicting max_age",
        ),
        (
            Check::H10,
            Severity::Error,
            fault == Some(HostFault::OldTls) && sts.starts_with("broken"),
            "a TLS 1.0-only policy host",
        ),
        (
            Check::H12,
            Severity::Error,
            fault == Some(HostFault::DelegatedProviderCert) && sts.starts_with("broken"),
            "a delegated policy host with the provider's certificate",
        ),
        (
            Check::H12,
            Severity::Info,
            fault == Some(HostFault::Delegated) && !sts.starts_with("broken"),
            "a delegated policy host with the right certificate",
        ),
        (
            Check::X5,
            Severity::Info,
            // The lab's certificates last 90 days; max_age of a year outlives them.
            r.sts_policy
                .as_ref()
                .is_some_and(|p| p.max_age.seconds() > 90 * 86_400),
            "a max_age longer than the certificate lasts",
        ),
        // Every row has an MX; an MX host is an alias only where the row says so.
        (
            Check::N5,
            Severity::Info,
            s.mx.iter().any(|m| m.cname.is_some()),
            "a CNAME on the mail path exactly where an MX host is an alias",
        ),
        // No lab zone holds a CNAME beside other data.
        (
            Check::S6,
            Severity::Warning,
            false,
            "no CNAME beside a TXT record",
        ),
        // History (S11, X6) needs a store: never without one.
        (Check::S11, Severity::Warning, false, "no history"),
        (Check::X6, Severity::Info, false, "no history"),
    ];
    for (check, severity, fires, what) in pairs {
        expect(
            has(r, check, severity) == fires,
            format!(
                "{check:?} ({severity}) {} for {what}",
                if fires { "expected" } else { "not expected" }
            ),
        );
    }
    if matches!(sts.as_str(), "enforce" | "testing")
        && s.zone == ZoneSecurity::Signed
        && s.mx.iter().all(|m| m.tlsa.is_empty())
    {
        expect(
            has(r, Check::X4, Severity::Info),
            "MTA-STS on a signed MX zone suggests DANE (X4)".into(),
        );
    }
    // RFC 8461 §4.2 under an enforce policy served correctly: every MX certificate fault and a
    // missing STARTTLS is an error naming what senders will refuse.
    let enforce = sts == "enforce";
    let mx_fault = s.mx.iter().any(|m| {
        !matches!(
            m.cert,
            MxCert::Valid | MxCert::ValidWithRsa | MxCert::StrictSni
        )
    });
    let no_starttls = s.mx.iter().any(|m| !m.starttls);
    if enforce && mx_fault {
        expect(
            has(r, Check::P15, Severity::Error),
            "an MX certificate fault under enforce is P15".into(),
        );
    }
    if enforce && !mx_fault && !no_starttls {
        expect(
            !has(r, Check::P15, Severity::Error),
            "a valid MX certificate is no P15".into(),
        );
    }
    if enforce && no_starttls {
        expect(
            has(r, Check::T1, Severity::Error),
            "no STARTTLS under enforce is a T1 error".into(),
        );
    }
    if s.expected == Verdict::Dane && s.mx.iter().any(|m| m.cert == MxCert::Expired) {
        expect(
            has(r, Check::D11, Severity::Info),
            "an expired leaf accepted by DANE-EE is said (D11)".into(),
        );
    }
    // The sender's verdict (RFC 7672 and RFC 8461, DANE first) is the table's.
    let want = table_verdict(s.expected);
    let got = r.verdict.as_ref().map(|v| {
        let v = serde_json::to_value(v).unwrap();
        (
            v["outcome"].as_str().unwrap_or("?").to_owned(),
            v["reason"].as_str().map(str::to_owned),
            v["mechanism"].as_str().map(str::to_owned),
        )
    });
    expect(
        got.as_ref() == Some(&want),
        format!("verdict {got:?}, table {want:?}"),
    );
    if s.tlsrpt.is_none() {
        expect(
            has(r, Check::R1, Severity::Info),
            "a missing TLS-RPT record is R1".into(),
        );
    }
    // TLS-RPT.
    let tlsrpt = if s.tlsrpt.is_some() { "yes" } else { "no" };
    expect(
        r.summary.tls_rpt == tlsrpt,
        format!("TLS-RPT `{}`, table `{tlsrpt}`", r.summary.tls_rpt),
    );
    out
}

/// A lab, the directory of its files, and a resolver that validates from the lab's root.
struct Started {
    lab: Lab,
    files: mailsec_lab::LabFiles,
    _dir: tempfile::TempDir,
    resolver: Resolver,
}

async fn start(config: LabConfig) -> Started {
    let lab = Lab::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = lab.write_files(dir.path()).unwrap();
    let resolver = Resolver::new(&DnsConfig {
        server: Some(lab.dns_addr()),
        trust_anchor: TrustAnchorSource::File(files.trust_anchor.clone()),
        timeout: Duration::from_secs(3),
        attempts: 1,
    })
    .await
    .unwrap();
    Started {
        lab,
        files,
        _dir: dir,
        resolver,
    }
}

/// A checker context for the lab: its CA, its ports, short timeouts; `connect` adds the probe.
fn context(lab: &Lab, files: &mailsec_lab::LabFiles, resolver: Resolver, connect: bool) -> Context {
    let mut fetch = FetchConfig::new().with_ca_file(&files.ca).unwrap();
    fetch.ports = lab.ports();
    fetch.timeout = Duration::from_secs(5);
    let probe = connect.then(|| {
        let mut probe = mailsec_probe::ProbeConfig::new();
        probe.ports = lab.ports();
        probe.connect_timeout = Duration::from_secs(3);
        probe.step_timeout = Duration::from_secs(5);
        probe
    });
    Context {
        resolver,
        fetch,
        probe,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_is_seen_as_the_table_says() {
    let Started {
        lab,
        files,
        _dir,
        resolver,
    } = start(LabConfig::default()).await;
    let ctx = context(&lab, &files, resolver, true);
    let mut tasks = Vec::new();
    for s in SCENARIOS {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            (
                s,
                check_domain(&ctx, &HostName::parse(&s.domain()).unwrap()).await,
            )
        }));
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for t in tasks {
        let (s, report) = t.await.unwrap();
        problems.extend(disagreements(s, &report));
        checked += 1;
    }
    assert_eq!(checked, SCENARIOS.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Fixes made for the instance: the TLSA record for the key dane-ee-wrong's MX serves, as
    // openssl computes it from the served certificate.
    let wrong = check_domain(&ctx, &HostName::parse("dane-ee-wrong.test").unwrap()).await;
    let d7 = wrong
        .findings
        .iter()
        .find(|f| f.diagnostic.check == Check::D7)
        .expect("a D7 finding");
    let leaf = &wrong.dane.as_ref().unwrap().hosts[0].results[0].probe.chain[0].der;
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), leaf).unwrap();
    let digest = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -inform DER -in {} -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum",
            tmp.path().display()
        ))
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&digest.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(digest.len(), 64);
    assert!(
        d7.fix.contains(&format!(
            "_25._tcp.mx.dane-ee-wrong.test. IN TLSA 3 1 1 {digest}"
        )),
        "{}",
        d7.fix
    );
    assert!(!d7.explanation.is_empty() && d7.rfc.contains("RFC 7672"));
    // A missing TLS-RPT record comes with the record to publish.
    let plain = check_domain(&ctx, &HostName::parse("plain.test").unwrap()).await;
    let x3 = plain
        .findings
        .iter()
        .find(|f| f.diagnostic.check == Check::R1)
        .expect("an R1 finding");
    assert!(
        x3.fix
            .contains("_smtp._tls.plain.test. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@plain.test\""),
        "{}",
        x3.fix
    );

    // A resolver path that does not validate the root (here: the IANA anchor against the lab's
    // private root) is said once, up front (N9).
    let iana = Context {
        resolver: Resolver::new(&DnsConfig {
            server: Some(lab.dns_addr()),
            trust_anchor: TrustAnchorSource::IanaRoot,
            timeout: Duration::from_secs(2),
            attempts: 1,
        })
        .await
        .unwrap(),
        fetch: ctx.fetch.clone(),
        probe: None,
    };
    let doubtful = check_domain(&iana, &HostName::parse("dane-ee.test").unwrap()).await;
    assert!(
        has(&doubtful, Check::N9, Severity::Error),
        "{:?}",
        doubtful.findings
    );
    assert!(
        has(&doubtful, Check::N6, Severity::Error),
        "{:?}",
        doubtful.findings
    );

    // A domain that does not exist is said to be so, not sent to "the address records".
    let missing = check_domain(&ctx, &HostName::parse("nonexistent.test").unwrap()).await;
    let m1: Vec<_> = missing
        .findings
        .iter()
        .filter(|f| f.diagnostic.check == Check::M1)
        .collect();
    assert_eq!(m1.len(), 1, "{:?}", missing.findings);
    assert_eq!(m1[0].diagnostic.severity, Severity::Error);
    assert!(
        m1[0]
            .diagnostic
            .message
            .contains("does not exist (NXDOMAIN)")
            && !m1[0].diagnostic.message.contains("address records"),
        "{}",
        m1[0].diagnostic.message
    );
}

/// The table's verdict as `(outcome, reason, mechanism)`: MTA-STS testing delivers as without a
/// policy (failures are only reported, RFC 8461 §5).
fn table_verdict(v: Verdict) -> (String, Option<String>, Option<String>) {
    let (o, r, m) = match v {
        Verdict::Dane => ("deliver", None, Some("dane")),
        Verdict::Sts => ("deliver", None, Some("mta-sts")),
        Verdict::MandatoryTls => ("deliver", None, Some("tls")),
        Verdict::StsTesting | Verdict::Opportunistic => ("deliver", None, Some("opportunistic")),
        Verdict::Defer(r) => ("defer", Some(r), None),
    };
    (o.to_owned(), r.map(str::to_owned), m.map(str::to_owned))
}

/// What a DANE-only sender (RFC 7672, no MTA-STS) does for a scenario, from the table: the
/// table's verdict where DANE or DNS decides (the MX publishes TLSA records, or the zone is
/// bogus), opportunistic delivery elsewhere (MTA-STS verdicts do not bind a DANE-only sender).
fn dane_only_verdict(s: &Scenario) -> (String, Option<String>, Option<String>) {
    let dane_decided =
        matches!(s.zone, ZoneSecurity::BogusAt(_)) || s.mx.iter().any(|m| !m.tlsa.is_empty());
    table_verdict(match s.expected {
        // MTA-STS verdicts do not bind a DANE-only sender.
        Verdict::Sts | Verdict::StsTesting => Verdict::Opportunistic,
        v if dane_decided => v,
        _ => Verdict::Opportunistic,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dane_check_gives_the_tables_verdict_for_every_scenario() {
    use mailsec_check::dane::{DaneContext, Target, check};
    let Started {
        lab,
        files,
        _dir,
        resolver,
    } = start(LabConfig::default()).await;
    let mut probe = mailsec_probe::ProbeConfig::new();
    probe.ports = lab.ports();
    probe.connect_timeout = Duration::from_secs(3);
    probe.step_timeout = Duration::from_secs(5);
    let ctx = DaneContext {
        resolver,
        probe,
        now: None,
        pkix_roots: FetchConfig::new().with_ca_file(&files.ca).unwrap().roots,
    };
    let mut tasks = Vec::new();
    for s in SCENARIOS {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let target = Target::Domain(HostName::parse(&s.domain()).unwrap());
            (s, check(&ctx, &target).await)
        }));
    }
    let mut wrong = Vec::new();
    let mut checked = 0;
    for t in tasks {
        let (s, report) = t.await.unwrap();
        let v = serde_json::to_value(&report.verdict).unwrap();
        let got = (
            v["outcome"].as_str().unwrap_or("?").to_owned(),
            v["reason"].as_str().map(str::to_owned),
            v["mechanism"].as_str().map(str::to_owned),
        );
        let want = dane_only_verdict(s);
        if got != want {
            wrong.push(format!("{}: mailsec {got:?}, table {want:?}", s.domain()));
        }
        // Every DANE-authenticated delivery names the record and the depth that matched.
        if want.2.as_deref() == Some("dane") {
            let results = &report.hosts[0].results;
            let matched = !results.is_empty()
                && results.iter().all(|r| {
                    matches!(
                        r.dane,
                        Some(mailsec_core::dane::DaneOutcome::Authenticated(_))
                    )
                });
            if !matched {
                wrong.push(format!(
                    "{}: no authenticated record in the report",
                    s.domain()
                ));
            }
        }
        checked += 1;
    }
    assert_eq!(checked, SCENARIOS.len());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// H3: a policy host certificate close to its end (the lab's certificates last 90 days from the
/// lab's `now`; a lab that "started" 80 days ago serves ones that end in 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_host_certificate_near_its_end_is_a_warning() {
    let Started {
        lab,
        files,
        _dir,
        resolver,
    } = start(LabConfig {
        now: std::time::SystemTime::now() - Duration::from_secs(80 * 86_400),
        ..LabConfig::default()
    })
    .await;
    let ctx = context(&lab, &files, resolver, false);
    let r = check_domain(&ctx, &HostName::parse("sts-enforce.test").unwrap()).await;
    let h3: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.diagnostic.check == Check::H3)
        .collect();
    assert_eq!(h3.len(), 1, "{:?}", r.findings);
    assert_eq!(h3[0].diagnostic.severity, Severity::Warning);
    assert!(
        h3[0].diagnostic.message.contains("expires in"),
        "{}",
        h3[0].diagnostic.message
    );
}

/// The findings of `check` in `r`, as (severity, message).
fn of(r: &DomainReport, check: Check) -> Vec<(Severity, String)> {
    r.findings
        .iter()
        .filter(|f| f.diagnostic.check == check)
        .map(|f| (f.diagnostic.severity, f.diagnostic.message.clone()))
        .collect()
}

/// R12, R15, T16, X2 and X7 on the rows that make each fire and on rows where it must not; the
/// expectations are written from the table's rows, not computed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_endpoints_caa_and_cross_checks() {
    let Started {
        lab,
        files,
        _dir,
        resolver,
    } = start(LabConfig::default()).await;
    let ctx = context(&lab, &files, resolver, true);
    let check = |name: &'static str| {
        let ctx = ctx.clone();
        async move { check_domain(&ctx, &HostName::parse(name).unwrap()).await }
    };

    // R12: the endpoint that takes reports passes; a name without address and a 404 do not.
    let good = check("tlsrpt-https.test").await;
    assert_eq!(of(&good, Check::R12), [], "{:?}", good.findings);
    let broken = check("tlsrpt-https-broken.test").await;
    let r12 = of(&broken, Check::R12);
    assert_eq!(r12.len(), 2, "{r12:?}");
    assert!(r12.iter().all(|(s, _)| *s == Severity::Warning), "{r12:?}");
    assert!(
        r12.iter()
            .any(|(_, m)| m.contains("reports.tlsrpt-https-broken.test")
                && m.contains("unreachable")),
        "{r12:?}"
    );
    assert!(
        r12.iter()
            .any(|(_, m)| m.contains("/no-such-path") && m.contains("HTTP 404")),
        "{r12:?}"
    );

    // T16: the row with CAA shows it, with where it was found; the others have none.
    let t16 = of(&good, Check::T16);
    assert_eq!(t16.len(), 1, "{t16:?}");
    assert!(
        t16[0].1.contains("published at tlsrpt-https.test")
            && t16[0].1.contains("0 issue \"lab.test\"")
            && t16[0].1.contains("mx.tlsrpt-https.test")
            && t16[0].1.contains("mta-sts.tlsrpt-https.test"),
        "{t16:?}"
    );
    let enforce = check("sts-enforce.test").await;
    let t16 = of(&enforce, Check::T16);
    assert_eq!(t16.len(), 1, "{t16:?}");
    assert!(t16[0].1.starts_with("no CAA records"), "{t16:?}");

    // R15 and X7: reports to tlsrpt@<domain> go to the domain's own MX; X7 only where TLS
    // there is mandatory (MTA-STS enforce, DANE), not under testing, not without TLS-RPT.
    assert_eq!(of(&enforce, Check::R15).len(), 1, "{:?}", enforce.findings);
    assert_eq!(of(&enforce, Check::X7).len(), 1, "{:?}", enforce.findings);
    let testing = check("sts-testing.test").await;
    assert_eq!(of(&testing, Check::R15).len(), 1, "{:?}", testing.findings);
    assert_eq!(of(&testing, Check::X7), [], "{:?}", testing.findings);
    let dane = check("dane-ee.test").await;
    assert_eq!(of(&dane, Check::X7).len(), 1, "{:?}", dane.findings);
    let plain = check("plain.test").await;
    assert_eq!(of(&plain, Check::R15), []);
    assert_eq!(of(&plain, Check::X7), []);
    // An https: destination only: no mailto to share the MX.
    assert_eq!(of(&good, Check::R15), []);

    // X2: MX RRset, mx patterns and certificates agree on sts-enforce; not on the rows where
    // the pattern misses the MX or the certificate names another host.
    assert_eq!(of(&enforce, Check::X2), [], "{:?}", enforce.findings);
    for (name, what) in [
        ("sts-mx-mismatch.test", "not covered by the policy"),
        ("sts-wildcard-deep.test", "not covered by the policy"),
        (
            "sts-mx-wrong-cert.test",
            "its certificate is not valid for it",
        ),
    ] {
        let r = check(name).await;
        let x2 = of(&r, Check::X2);
        assert_eq!(x2.len(), 1, "{name}: {:?}", r.findings);
        assert_eq!(x2[0].0, Severity::Error, "{name}");
        assert!(x2[0].1.contains(what), "{name}: {}", x2[0].1);
    }
    let x2 = of(&testing, Check::X2);
    assert_eq!(x2, [], "{:?}", testing.findings);
}

/// D24: a leaf close to its end whose only records are `3 x x` of its key (the lab's leaves
/// last 90 days from the lab's `now`; a lab that "started" 80 days ago serves ones that end in
/// 10). With the issuer's `2 1 1` beside it (dane-ee-and-ta) a new key is covered: no D24.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_without_a_next_key_is_a_warning() {
    let Started {
        lab,
        files,
        _dir,
        resolver,
    } = start(LabConfig {
        now: std::time::SystemTime::now() - Duration::from_secs(80 * 86_400),
        ..LabConfig::default()
    })
    .await;
    let ctx = context(&lab, &files, resolver, true);
    let r = check_domain(&ctx, &HostName::parse("dane-ee.test").unwrap()).await;
    let d24: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.diagnostic.check == Check::D24)
        .collect();
    assert_eq!(d24.len(), 1, "{:?}", r.findings);
    assert_eq!(d24[0].diagnostic.severity, Severity::Warning);
    let msg = &d24[0].diagnostic.message;
    assert!(
        msg.contains("ends in")
            && msg.contains("mailsec tlsa generate --pubkey next.pub --name mx.dane-ee.test")
            && msg.contains("_25._tcp.mx.dane-ee.test"),
        "{msg}"
    );
    let covered = check_domain(&ctx, &HostName::parse("dane-ee-and-ta.test").unwrap()).await;
    assert!(
        !has(&covered, Check::D24, Severity::Warning),
        "{:?}",
        covered.findings
    );
}

/// The lab's MX servers are rustls with its defaults: the TLS scan (T3–T11) finds nothing to
/// warn about on any of them (rustls has no weak suites, small groups, SHA-1 signatures,
/// compression, renegotiation or early data, and does RFC 5746 and RFC 7627). Information
/// findings may remain (T4: rustls takes the client's order by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_scan_finds_no_weakness_in_the_labs_rustls_servers() {
    let Started {
        lab,
        files,
        _dir,
        resolver,
    } = start(LabConfig::default()).await;
    let mut ctx = context(&lab, &files, resolver, true);
    if let Some(probe) = ctx.probe.as_mut() {
        probe.tls_scan = true;
    }
    let scan_ids = [
        Check::T3,
        Check::T4,
        Check::T5,
        Check::T6,
        Check::T7,
        Check::T8,
        Check::T9,
        Check::T10,
        Check::T11,
    ];
    let mut tasks = Vec::new();
    for s in SCENARIOS {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            (
                s.name,
                check_domain(&ctx, &HostName::parse(&s.domain()).unwrap()).await,
            )
        }));
    }
    let mut problems = Vec::new();
    let mut scanned = 0;
    for t in tasks {
        let (name, report) = t.await.unwrap();
        for f in &report.findings {
            if scan_ids.contains(&f.diagnostic.check) && f.diagnostic.severity != Severity::Info {
                problems.push(format!("{name}: {}", f.diagnostic));
            }
        }
        for h in report.dane.iter().flat_map(|d| &d.hosts) {
            for a in &h.results {
                let Some(scan) = &a.tls_scan else { continue };
                scanned += 1;
                // Every question answered: rustls refuses renegotiation with an alert and
                // issues tickets without early data.
                if !scan.errors.is_empty()
                    || scan.tls12.is_none()
                    || !matches!(
                        scan.client_renegotiation,
                        mailsec_probe::Renegotiation::Refused { .. }
                    )
                    || scan.early_data != mailsec_probe::EarlyData::NotOffered
                {
                    problems.push(format!("{name}: {}", serde_json::to_string(scan).unwrap()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(scanned > 20, "only {scanned} addresses scanned");
}
