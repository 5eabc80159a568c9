//! The checker over every scenario of the lab: what it concludes before connecting must agree
//! with the verdict the scenario table gives for a conformant sender.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mailsec_check::{Context, DaneState, DomainReport, check_domain};
use mailsec_core::{Check, HostName, Severity};
use mailsec_dns::{DnsConfig, Resolver, TrustAnchorSource};
use mailsec_fetch::FetchConfig;
use mailsec_lab::scenario::{
    BogusRecord, HostFault, SCENARIOS, Scenario, StsTxt, Verdict, ZoneSecurity,
};
use mailsec_lab::{Lab, LabConfig};

fn has(r: &DomainReport, check: Check, severity: Severity) -> bool {
    r.findings
        .iter()
        .any(|f| f.diagnostic.check == check && f.diagnostic.severity == severity)
}

/// What the table implies about the checker's view, for the parts it can see without
/// connecting. Returns a description of each disagreement.
fn disagreements(s: &Scenario, r: &DomainReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            out.push(format!("{}: {what}", s.domain()));
        }
    };
    let dane = r.mx.first().map(|m| m.dane);
    match s.zone {
        ZoneSecurity::BogusAt(BogusRecord::Tlsa) => expect(
            has(r, Check::D2, Severity::Error),
            "a bogus TLSA RRset is D2",
        ),
        ZoneSecurity::BogusAt(BogusRecord::Mx) => {
            expect(has(r, Check::N2, Severity::Error), "a bogus MX RRset is N2")
        }
        ZoneSecurity::Unsigned => expect(
            dane == Some(DaneState::NotApplicable),
            "TLSA in an unsigned zone must not apply",
        ),
        ZoneSecurity::Signed => {}
    }
    if s.mx
        .iter()
        .any(|m| m.tlsa.iter().any(|t| t.is_injected_fault()))
    {
        expect(
            dane == Some(DaneState::Failed),
            "a failed TLSA lookup makes the host unusable",
        );
    }
    if s.expected == Verdict::Dane {
        expect(dane == Some(DaneState::Required), "DANE must be required");
    }
    if s.expected == Verdict::MandatoryTls {
        expect(
            dane == Some(DaneState::UnusableRecords),
            "unusable TLSA records must be reported",
        );
    }
    match (s.sts_txt, s.policy) {
        (StsTxt::Timeout | StsTxt::ServFail, _) => expect(
            has(r, Check::S13, Severity::Error),
            "a failed TXT lookup is S13, not 'no policy'",
        ),
        (StsTxt::Absent | StsTxt::NoData, _) => expect(
            r.sts_record.is_none() && r.summary.mta_sts == "not deployed",
            "no record means not deployed",
        ),
        (StsTxt::Records(recs), Some(p)) => {
            // The table's invalid records: two v=STSv1 records, or an id with dashes.
            let candidates: Vec<&&str> = recs.iter().filter(|r| r.starts_with("v=STSv1")).collect();
            let valid_record = candidates.len() == 1 && !candidates[0].contains('-');
            if !valid_record {
                expect(
                    r.sts_record.is_none(),
                    "an invalid or duplicated record gives no policy",
                );
            } else if p.fault != HostFault::None {
                expect(
                    r.sts_policy.is_none() && r.summary.mta_sts.starts_with("broken"),
                    "a policy-host fault gives no policy",
                );
            } else if s.expected != Verdict::Opportunistic || s.name == "sts-none" {
                expect(r.sts_policy.is_some(), "the policy must be fetched");
            }
        }
        (StsTxt::Cname(_), _) => {
            expect(r.sts_policy.is_some(), "a CNAME'd record must be followed")
        }
        (StsTxt::Records(_), None) => expect(
            r.sts_policy.is_none() && has(r, Check::H1, Severity::Error),
            "a record without a policy host is a failed fetch (H1)",
        ),
    }
    if s.expected == Verdict::Defer("validation-failure") && s.policy.is_some() {
        expect(
            has(r, Check::P13, Severity::Error),
            "an MX the enforce policy does not cover is P13",
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_is_seen_as_the_table_says() {
    let lab = Lab::start(LabConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = lab.write_files(dir.path()).unwrap();
    let resolver = Resolver::new(&DnsConfig {
        server: Some(lab.dns_addr()),
        trust_anchor: TrustAnchorSource::File(files.trust_anchor),
        timeout: Duration::from_secs(2),
        attempts: 1,
    })
    .await
    .unwrap();
    let mut fetch = FetchConfig::new().with_ca_file(&files.ca).unwrap();
    fetch.ports = lab.ports();
    fetch.timeout = Duration::from_secs(3);
    let ctx = Context { resolver, fetch };
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
    for t in tasks {
        let (s, report) = t.await.unwrap();
        problems.extend(disagreements(s, &report));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
