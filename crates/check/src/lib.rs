//! # mailsec-check
//!
//! Checks what a mail domain publishes for transport security, from DNS and HTTPS: the MX
//! RRset and its DNSSEC status, the `_mta-sts` record and the policy it points to, the
//! `_smtp._tls` record, and for every MX host its addresses and TLSA records. Every finding has
//! a check ID of the catalogue ([`mailsec_core::Check`]).
//!
//! With a probe configuration ([`Context::probe`]) it also connects to every address of every MX
//! host, verifies each presented chain against the TLSA records with the RFC 7672 verifier
//! ([`dane`]), and says what a DANE sender does; without one it reports what senders will look
//! up and conclude before they connect.

#![forbid(unsafe_code)]

mod areas;
pub mod dane;
pub mod states;
pub mod tls_scan;
pub mod verdict;

use mailsec_core::mta_sts::{Policy, StsRecord};
use mailsec_core::tlsrpt::TlsRptRecord;
use mailsec_core::{Diagnostic, HostName, Severity};
use mailsec_dns::{Resolver, Security};
use mailsec_fetch::FetchConfig;

/// The version of the JSON form of [`DomainReport`], documented in docs/check-json.md. A field
/// is added without a change of version; a field removed or changed in meaning changes it.
pub const SCHEMA: &str = "mailsec-check/1";

/// What the checker needs.
#[derive(Clone)]
pub struct Context {
    /// The validating resolver.
    pub resolver: Resolver,
    /// How to fetch policies.
    pub fetch: FetchConfig,
    /// How to connect to the MX hosts; `None` checks DNS and HTTPS only.
    pub probe: Option<mailsec_probe::ProbeConfig>,
}

/// Everything found about one domain.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DomainReport {
    /// The JSON schema of this report, [`SCHEMA`] (docs/check-json.md).
    pub schema: &'static str,
    /// The domain checked (A-labels).
    pub domain: String,
    /// The same in Unicode, for an internationalised domain name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_unicode: Option<String>,
    /// The MX hosts, in preference order.
    pub mx: Vec<MxReport>,
    /// Security of the MX RRset.
    pub mx_security: Option<Security>,
    /// The MTA-STS record, when valid.
    pub sts_record: Option<StsRecord>,
    /// The MTA-STS policy, when fetched and valid.
    pub sts_policy: Option<Policy>,
    /// The TLS-RPT record, when valid.
    pub tlsrpt: Option<TlsRptRecord>,
    /// Every finding, in check order.
    pub findings: Vec<Finding>,
    /// DANE over the wire: every address probed and verified, and a DANE sender's verdict
    /// (when connecting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dane: Option<dane::DaneReport>,
    /// What a conformant sender (RFC 7672 and RFC 8461, DANE first) does with mail to the
    /// domain (when connecting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<mailsec_core::dane::Verdict>,
    /// The same, per MX host and address, with what decided each host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<verdict::SenderView>,
    /// What senders will do, in one line.
    pub summary: Summary,
}

/// A finding with the part of the domain it concerns.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    /// The area of the check that found it.
    pub area: Area,
    /// `mx`, `mta-sts`, `policy`, `tls-rpt`, or an MX host name.
    pub subject: String,
    /// The finding.
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
    /// Why it matters, in one sentence or two (the catalogue's text for the check).
    pub explanation: &'static str,
    /// What to do: the exact record, policy line or command where the checker can say it,
    /// else the catalogue's fix for the check.
    pub fix: String,
    /// The RFC rule.
    pub rfc: &'static str,
}

/// The areas of a check, in the order they run and are shown.
#[derive(Clone, Copy, Debug, Default, Eq, Ord, PartialEq, PartialOrd, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// The MX RRset, DNSSEC, and each MX host's addresses and TLSA records.
    #[default]
    MxDnssec,
    /// The `_mta-sts` record, the policy host and the policy.
    MtaSts,
    /// The `_smtp._tls` record.
    TlsRpt,
    /// Every address of every MX host: STARTTLS, TLS, certificates, DANE.
    Connections,
    /// DANE and MTA-STS together.
    Consistency,
}

impl Area {
    /// Every area, in order.
    pub const ALL: [Self; 5] = [
        Self::MxDnssec,
        Self::MtaSts,
        Self::TlsRpt,
        Self::Connections,
        Self::Consistency,
    ];

    /// A heading for people.
    pub fn title(self) -> &'static str {
        match self {
            Self::MxDnssec => "MX and DNSSEC",
            Self::MtaSts => "MTA-STS",
            Self::TlsRpt => "TLS-RPT",
            Self::Connections => "TLS and DANE on the MX hosts",
            Self::Consistency => "Consistency",
        }
    }
}

/// One MX host.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MxReport {
    /// The host name.
    pub host: String,
    /// MX preference.
    pub preference: u16,
    /// Security of its address records (A), or the lookup error.
    pub address_security: Option<Security>,
    /// Its TLSA records in presentation form, when secure.
    pub tlsa: Vec<String>,
    /// How many TLSA records can authenticate SMTP (RFC 7672 §3.1.3).
    pub usable_tlsa: usize,
    /// DANE status for this host.
    pub dane: DaneState,
    /// TLSA records of the host's other services (465, 587, 993, 995, 443) that were found, or
    /// whose lookup failed (D23); never part of the SMTP verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_services: Vec<OtherService>,
}

/// The TLSA lookup of another service of an MX host (D23).
#[derive(Clone, Debug, serde::Serialize)]
pub struct OtherService {
    /// The port.
    pub port: u16,
    /// The service on it (`submissions`, `submission`, `imaps`, `pop3s`, `https`).
    pub service: String,
    /// The TLSA owner name.
    pub name: String,
    /// The answer's DNSSEC status, when records were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// The records, in presentation form.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// Why the lookup failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// DANE as a sender sees it for one MX host, before connecting (RFC 7672 §2.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneState {
    /// Secure, usable TLSA records: authenticated TLS is mandatory.
    Required,
    /// Secure TLSA records, none usable: TLS mandatory, unauthenticated.
    UnusableRecords,
    /// No secure TLSA records (denial, insecure zone): DANE does not apply.
    NotApplicable,
    /// The TLSA lookup failed or was bogus: senders treat the host as unreachable.
    Failed,
}

/// The summary line.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// `required on N of M MX hosts`, `not deployed`, `broken`.
    pub dane: String,
    /// `enforce`, `testing`, `none`, `not deployed`, `broken (...)`.
    pub mta_sts: String,
    /// `yes`, `no`, `invalid`.
    pub tls_rpt: String,
    /// Findings of error severity.
    pub errors: usize,
    /// Warnings counted.
    pub warnings: usize,
}

/// What an earlier check of the same domain saw of MTA-STS, read from a store of results
/// (`mailsec check --store`): the base of S11 and X6, which need history.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// When that check ended, as stored.
    pub checked_at: Option<String>,
    /// The `_mta-sts` id then, when the record was valid.
    pub sts_id: Option<String>,
    /// The policy then (its JSON form, [`DomainReport::sts_policy`]), when served and valid.
    pub sts_policy: Option<serde_json::Value>,
}

impl History {
    /// The history in a stored record (the JSON form of a [`DomainReport`], with `checked_at`);
    /// `None` when the record holds no report (a domain that could not be checked).
    pub fn from_record(record: &serde_json::Value) -> Option<Self> {
        record.get("schema")?;
        let present = |v: &serde_json::Value| (!v.is_null()).then(|| v.clone());
        Some(Self {
            checked_at: record["checked_at"].as_str().map(str::to_owned),
            sts_id: record["sts_record"]["id"].as_str().map(str::to_owned),
            sts_policy: present(&record["sts_policy"]),
        })
    }
}

/// Checks `domain`: each area in turn, then (with a probe configuration) every MX address, and
/// the sender's verdict.
pub async fn check_domain(ctx: &Context, domain: &HostName) -> DomainReport {
    check_domain_with_history(ctx, domain, None).await
}

/// [`check_domain`], comparing the MTA-STS record and policy with what an earlier check saw
/// (S11, X6). Without history those checks say nothing.
pub async fn check_domain_with_history(
    ctx: &Context,
    domain: &HostName,
    history: Option<&History>,
) -> DomainReport {
    // One time for every certificate judged in this report.
    let now = std::time::SystemTime::now();
    let mut f = areas::Findings::default();
    f.area(Area::MxDnssec);
    let mx = areas::mx::check(&ctx.resolver, domain, &mut f).await;
    f.area(Area::MtaSts);
    let sts = areas::mta_sts::check(ctx, domain, &mx.hosts, now, history, &mut f).await;
    f.area(Area::TlsRpt);
    let dane_deployed = mx.reports.iter().any(|m| m.dane == DaneState::Required);
    let tlsrpt = areas::tlsrpt::check(
        &ctx.resolver,
        &ctx.fetch,
        domain,
        sts.record.is_some() || dane_deployed,
        &mx.hosts,
        &mut f,
    )
    .await;

    // T16: CAA of the names whose certificates senders judge.
    f.area(Area::MxDnssec);
    let mut caa_names: Vec<String> = mx.hosts.iter().map(|(_, h)| h.clone()).collect();
    if sts.record.is_some() {
        caa_names.push(format!("mta-sts.{}", domain.as_str()));
    }
    areas::caa::check(&ctx.resolver, &caa_names, &mut f).await;

    // Connecting: every address of every MX host (RFC 7672 §3, RFC 8461 §4.2).
    let dane_report = match &ctx.probe {
        Some(probe) => {
            let dctx = dane::DaneContext {
                resolver: ctx.resolver.clone(),
                probe: probe.clone(),
                now: Some(now),
                pkix_roots: ctx.fetch.roots.clone(),
            };
            let report = dane::check(&dctx, &dane::Target::Domain(domain.clone())).await;
            f.area(Area::Connections);
            areas::connections::findings(
                &report,
                &areas::connections::Inputs {
                    policy: sts.policy.as_ref(),
                    roots: &ctx.fetch.roots.roots,
                    now,
                },
                &mut f,
            );
            Some(report)
        }
        None => None,
    };
    let sender = dane_report.as_ref().map(|report| {
        let s = match (&sts.policy, sts.lookup_failed) {
            (Some(p), _) => verdict::Sts::Policy(p.clone()),
            (None, true) => verdict::Sts::LookupFailed,
            (None, false) => verdict::Sts::None,
        };
        verdict::sender_verdict(report, &s, &ctx.fetch.roots.roots, Some(now))
    });

    // Consistency (RFC 8461 §2).
    f.area(Area::Consistency);
    for diag in sts.consistency {
        f.push("policy", diag);
    }
    let required = mx
        .reports
        .iter()
        .filter(|m| m.dane == DaneState::Required)
        .count();
    let failed = mx
        .reports
        .iter()
        .filter(|m| m.dane == DaneState::Failed)
        .count();
    let dane_summary = if failed > 0 {
        format!("broken on {failed} of {} MX hosts", mx.reports.len())
    } else if required > 0 {
        format!("required on {required} of {} MX hosts", mx.reports.len())
    } else {
        "not deployed".to_owned()
    };
    areas::consistency::findings(
        &areas::consistency::Inputs {
            mx: &mx.reports,
            mx_security: mx.security,
            policy: sts.policy.as_ref(),
            connections: dane_report.as_ref(),
            reports_via: tlsrpt.same_mx.as_ref(),
            roots: &ctx.fetch.roots.roots,
            now,
        },
        &mut f,
    );
    let findings = f.0;
    let count = |sev| {
        findings
            .iter()
            .filter(|x| x.diagnostic.severity == sev)
            .count()
    };
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    DomainReport {
        schema: SCHEMA,
        domain: domain.as_str().to_owned(),
        domain_unicode: domain.to_unicode(),
        mx: mx.reports,
        mx_security: mx.security,
        sts_record: sts.record,
        sts_policy: sts.policy,
        tlsrpt: tlsrpt.record,
        findings,
        dane: dane_report,
        verdict: sender.as_ref().map(|s| s.verdict.clone()),
        sender,
        summary: Summary {
            dane: dane_summary,
            mta_sts: sts.summary,
            tls_rpt: tlsrpt.summary.to_owned(),
            errors,
            warnings,
        },
    }
}

#[cfg(test)]
mod tests {
    use mailsec_core::dane::Tlsa;
    use mailsec_dns::{Answer, LookupError, Response};

    use super::areas::mta_sts::coverage;
    use super::areas::mx::judge_tlsa;
    use super::*;
    use mailsec_core::Check;

    fn host() -> MxReport {
        MxReport {
            host: "mx.example.com".into(),
            preference: 10,
            address_security: Some(Security::Secure),
            tlsa: Vec::new(),
            usable_tlsa: 0,
            dane: DaneState::NotApplicable,
            other_services: Vec::new(),
        }
    }

    fn answer(records: Vec<Tlsa>, security: Security) -> Result<Response<Tlsa>, LookupError> {
        Ok(Response::Records(Answer {
            records,
            security,
            canonical_name: "_25._tcp.mx.example.com.".into(),
            cnames: Vec::new(),
            ttl: 300,
            signer: None,
        }))
    }

    fn ee() -> Tlsa {
        Tlsa::new(3, 1, 1, vec![7; 32])
    }

    fn judged(r: &Result<Response<Tlsa>, LookupError>) -> (DaneState, Vec<Check>) {
        let mut report = host();
        let findings = judge_tlsa(r, true, &mut report);
        (report.dane, findings.iter().map(|d| d.check).collect())
    }

    fn denial(nx: bool, security: Security) -> Result<Response<Tlsa>, LookupError> {
        Ok(if nx {
            Response::NxDomain {
                security,
                signer: None,
            }
        } else {
            Response::NoData {
                security,
                signer: None,
            }
        })
    }

    #[test]
    fn every_failed_tlsa_lookup_makes_the_host_unusable() {
        // RFC 7672 §2.1.1-§2.1.2: bogus, indeterminate, SERVFAIL and timeouts all fail closed.
        for (e, check) in [
            (LookupError::Bogus, Check::D2),
            (LookupError::Indeterminate, Check::D4),
            (LookupError::ServFail, Check::N10),
            (LookupError::Timeout, Check::N10),
        ] {
            let (state, checks) = judged(&Err(e.clone()));
            assert_eq!(state, DaneState::Failed, "{e}");
            assert_eq!(checks, [check], "{e}");
        }
    }

    #[test]
    fn unproven_answers_and_denials_never_mean_no_dane() {
        for security in [Security::Indeterminate, Security::Bogus] {
            let (state, _) = judged(&answer(vec![ee()], security));
            assert_eq!(state, DaneState::Failed, "answer {security}");
            for nx in [false, true] {
                let (state, checks) = judged(&denial(nx, security));
                assert_eq!(state, DaneState::Failed, "denial {security}");
                let want = if security == Security::Bogus {
                    Check::D2
                } else {
                    Check::D4
                };
                assert_eq!(checks, [want], "denial {security}");
            }
        }
    }

    #[test]
    fn proven_answers_decide_as_rfc_7672_says() {
        assert_eq!(
            judged(&answer(vec![ee()], Security::Secure)).0,
            DaneState::Required
        );
        let (state, checks) = judged(&answer(
            vec![Tlsa::new(0, 0, 1, vec![7; 32])],
            Security::Secure,
        ));
        assert_eq!(state, DaneState::UnusableRecords);
        assert!(checks.contains(&Check::D6) && checks.contains(&Check::D5));
        assert_eq!(
            judged(&answer(vec![ee()], Security::Insecure)),
            (DaneState::NotApplicable, vec![Check::D1])
        );
        for security in [Security::Secure, Security::Insecure] {
            for nx in [false, true] {
                assert_eq!(
                    judged(&denial(nx, security)),
                    (DaneState::NotApplicable, vec![Check::D1])
                );
            }
        }
    }

    #[test]
    fn records_behind_an_insecure_path_do_not_apply() {
        // The same decision as `mailsec_core::dane::host_policy` (RFC 7672 §2.2.1-§2.2.2).
        let mut report = host();
        let findings = judge_tlsa(&answer(vec![ee()], Security::Secure), false, &mut report);
        assert_eq!(report.dane, DaneState::NotApplicable);
        assert!(findings.iter().any(|d| d.check == Check::N8));
        assert_eq!(
            mailsec_core::dane::host_policy(
                mailsec_core::dane::DnsState::Insecure,
                mailsec_core::dane::DnsState::Secure,
                &mailsec_core::dane::TlsaState::Records(vec![ee()])
            ),
            mailsec_core::dane::HostPolicy::Opportunistic
        );
    }

    #[test]
    fn cname_chains_on_the_mail_path_are_said() {
        use super::areas::mx::{CnameAt, cname_chain, implicit_mx};
        // An MX host that is an alias, as hickory reports the chain (owner -> target).
        let chain = vec![
            (
                "mx.example.com.".to_owned(),
                "mail.provider.example.".to_owned(),
            ),
            (
                "mail.provider.example.".to_owned(),
                "mx1.provider.example.".to_owned(),
            ),
        ];
        let d = cname_chain("mx.example.com", &chain, CnameAt::MxHost).unwrap();
        assert_eq!((d.check, d.severity), (Check::N5, Severity::Info));
        assert!(
            d.message
                .contains("mx.example.com -> mail.provider.example -> mx1.provider.example")
                && d.message.contains("_25._tcp.mx1.provider.example"),
            "{}",
            d.message
        );
        let tlsa = vec![(
            "_25._tcp.mx.example.com.".to_owned(),
            "_dane.provider.example.".to_owned(),
        )];
        let d = cname_chain("_25._tcp.mx.example.com", &tlsa, CnameAt::Tlsa).unwrap();
        assert!(d.message.contains("RFC 7671 §7"), "{}", d.message);
        // No chain: nothing.
        assert_eq!(cname_chain("mx.example.com", &[], CnameAt::MxHost), None);
        // No MX but an address: the implicit MX is named; no address either: nothing (M1).
        let d = implicit_mx("example.com", &["192.0.2.1".to_owned()]).unwrap();
        assert!(d.message.contains("mx: example.com"), "{}", d.message);
        assert_eq!(implicit_mx("example.com", &[]), None);
    }

    #[test]
    fn d3_a_denial_beside_the_tlsa_records_must_validate() {
        use super::areas::mx::judge_denial_beside_tlsa;
        let name = "_25._tcp.mx.example.com";
        for bad in [
            Ok(Response::NxDomain {
                security: Security::Secure,
                signer: None,
            }),
            Ok(Response::NxDomain {
                security: Security::Insecure,
                signer: None,
            }),
            Err(LookupError::Bogus),
            Err(LookupError::Indeterminate),
        ] {
            let d = judge_denial_beside_tlsa(name, &bad).expect("a D3 finding");
            assert_eq!(
                (d.check, d.severity),
                (Check::D3, Severity::Error),
                "{bad:?}"
            );
            assert!(d.message.contains(name));
        }
        // A secure NODATA is what a correct signer gives; lookup failures are not denials.
        for fine in [
            Ok(Response::NoData {
                security: Security::Secure,
                signer: None,
            }),
            Err(LookupError::ServFail),
            Err(LookupError::Timeout),
        ] {
            assert!(judge_denial_beside_tlsa(name, &fine).is_none(), "{fine:?}");
        }
    }

    #[test]
    fn d23_other_services_are_reported_never_judged() {
        use super::areas::mx::judge_other_service;
        let name = "_587._tcp.mx.example.com";
        let found = answer(vec![ee()], Security::Secure);
        let (entry, d) = judge_other_service(587, "submission", name, "mx.example.com", &found);
        let (entry, d) = (entry.unwrap(), d.unwrap());
        assert_eq!((d.check, d.severity), (Check::D23, Severity::Info));
        assert!(
            d.message
                .contains("mailsec dane check --host mx.example.com --port 587")
        );
        assert_eq!(entry.records, [ee().to_string()]);
        // A failed lookup is said, as information only.
        let (entry, d) = judge_other_service(
            993,
            "imaps",
            name,
            "mx.example.com",
            &Err(LookupError::ServFail),
        );
        assert!(entry.unwrap().error.is_some());
        assert_eq!(d.unwrap().severity, Severity::Info);
        // Nothing there: nothing to say.
        let (entry, d) = judge_other_service(
            443,
            "https",
            name,
            "mx.example.com",
            &denial(true, Security::Secure),
        );
        assert!(entry.is_none() && d.is_none());
    }

    #[test]
    fn mx_names_that_are_not_host_names_are_reported() {
        let domain = HostName::parse("example.com").unwrap();
        let policy =
            Policy::parse(b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n")
                .unwrap();
        let mx = vec![
            (10, "mx.example.com".to_owned()),
            (20, "bad_name!.example.com".to_owned()),
        ];
        let findings = coverage(&policy, &mx, &domain);
        let bad: Vec<_> = findings
            .iter()
            .filter(|d| d.message.contains("bad_name!.example.com"))
            .collect();
        assert_eq!(bad.len(), 1, "{findings:?}");
        assert_eq!(
            (bad[0].check, bad[0].severity),
            (Check::P13, Severity::Error)
        );
    }
}
