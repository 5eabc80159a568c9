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

use mailsec_core::mta_sts::{Mode, Policy, StsRecord};
use mailsec_core::tlsrpt::TlsRptRecord;
use mailsec_core::{Check, Diagnostic, HostName, Severity};
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

/// Checks `domain`: each area in turn, then (with a probe configuration) every MX address, and
/// the sender's verdict.
pub async fn check_domain(ctx: &Context, domain: &HostName) -> DomainReport {
    // One time for every certificate judged in this report.
    let now = std::time::SystemTime::now();
    let mut f = areas::Findings::default();
    f.area(Area::MxDnssec);
    let mx = areas::mx::check(&ctx.resolver, domain, &mut f).await;
    f.area(Area::MtaSts);
    let sts = areas::mta_sts::check(ctx, domain, &mx.hosts, &mut f).await;
    f.area(Area::TlsRpt);
    let dane_deployed = mx.reports.iter().any(|m| m.dane == DaneState::Required);
    let (tlsrpt_record, tls_rpt) = areas::tlsrpt::check(
        &ctx.resolver,
        domain,
        sts.record.is_some() || dane_deployed,
        &mut f,
    )
    .await;

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
    if required > 0 && sts.policy.as_ref().is_some_and(|p| p.mode == Mode::Enforce) {
        f.push(
            "mx",
            Diagnostic::new(
                Check::X1,
                Severity::Info,
                "DANE and MTA-STS both published: DANE takes precedence where it applies (RFC 8461 §2)",
            ),
        );
    }
    // X4: MTA-STS where DANE would be possible.
    if required == 0
        && mx.security == Some(Security::Secure)
        && sts.policy.as_ref().is_some_and(|p| p.mode != Mode::None)
    {
        f.push(
            "mx",
            Diagnostic::new(
                Check::X4,
                Severity::Info,
                "the MX RRset is DNSSEC-signed: DANE (TLSA records on the MX hosts) would protect mail from the first message, and senders use it before MTA-STS",
            ),
        );
    }
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
        tlsrpt: tlsrpt_record,
        findings,
        dane: dane_report,
        verdict: sender.as_ref().map(|s| s.verdict.clone()),
        sender,
        summary: Summary {
            dane: dane_summary,
            mta_sts: sts.summary,
            tls_rpt: tls_rpt.to_owned(),
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

    fn host() -> MxReport {
        MxReport {
            host: "mx.example.com".into(),
            preference: 10,
            address_security: Some(Security::Secure),
            tlsa: Vec::new(),
            usable_tlsa: 0,
            dane: DaneState::NotApplicable,
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
