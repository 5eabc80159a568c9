//! The sender's verdict: what a conformant sender (RFC 7672 and RFC 8461 together, DANE first)
//! does with mail to the domain, from the DANE report (every address probed) and the MTA-STS
//! state. DANE decides every MX host it applies to (RFC 8461 §2: a sender that finds secure
//! TLSA records uses DANE, never MTA-STS, for that host); MTA-STS decides the others.

use std::time::SystemTime;

use mailsec_core::HostName;
use mailsec_core::dane::{AddressVerdict, HostPolicy, Verdict, domain_verdict};
use mailsec_core::mta_sts::apply::address_verdict as sts_address_verdict;
use mailsec_core::mta_sts::{Mode, Policy, StsConnection, validate_certificate};
use pki_types::{TrustAnchor, UnixTime};

use crate::dane::{DaneReport, connection};

/// What the sender knows of the domain's MTA-STS policy.
#[derive(Clone, Debug)]
pub enum Sts {
    /// No policy applies: no record, an invalid one, or no valid policy could be fetched
    /// (RFC 8461 §3.3: then "as though the domain has not implemented MTA-STS").
    None,
    /// The `_mta-sts` TXT lookup failed: the sender cannot tell whether a policy exists and,
    /// holding none in cache, defers rather than send unprotected. RFC 8461 is silent here
    /// (§3.1 says how to read the records found, §3.3 what a failed policy fetch means); this is
    /// the project's choice, written in the lab table (`sts-txt-timeout`, `sts-txt-servfail`).
    LookupFailed,
    /// A valid policy.
    Policy(Policy),
}

/// The verdict, and the verdict of each address of each host (in MX order).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SenderView {
    /// What the sender does with the domain's mail.
    pub verdict: Verdict,
    /// Per MX host (preference order), per address: what the sender does there.
    pub hosts: Vec<HostVerdicts>,
}

/// One MX host's addresses, as the combined sender sees them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HostVerdicts {
    /// The host.
    pub host: String,
    /// `dane` when DANE decides this host, `mta-sts` when the policy does, `none` otherwise.
    pub decided_by: &'static str,
    /// One verdict per address probed.
    pub addresses: Vec<AddressVerdict>,
}

/// RFC 7672 + RFC 8461: the sender's verdict. `roots` are the trusted roots for the RFC 8461
/// §4.2 certificate check and `now` its time.
pub fn sender_verdict(
    dane: &DaneReport,
    sts: &Sts,
    roots: &[TrustAnchor<'_>],
    now: Option<SystemTime>,
) -> SenderView {
    let now = now.unwrap_or_else(SystemTime::now);
    let now = UnixTime::since_unix_epoch(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    let mut hosts = Vec::new();
    for h in &dane.hosts {
        let dane_decides = !matches!(h.policy, HostPolicy::Opportunistic);
        let sts_applies = match sts {
            Sts::Policy(p) => p.mode != Mode::None,
            Sts::LookupFailed => true,
            Sts::None => false,
        };
        let (decided_by, addresses) = if dane_decides || !sts_applies {
            (
                if dane_decides { "dane" } else { "none" },
                h.results.iter().map(|r| r.verdict.clone()).collect(),
            )
        } else {
            let mx = HostName::parse(&h.host).ok();
            let verdicts = h
                .results
                .iter()
                .map(|r| match (sts, &mx) {
                    (Sts::Policy(p), Some(mx)) => {
                        let conn = match connection(&r.probe, None) {
                            mailsec_core::dane::Connection::Unreachable => {
                                StsConnection::Unreachable
                            }
                            mailsec_core::dane::Connection::NoStarttls => StsConnection::NoStarttls,
                            mailsec_core::dane::Connection::HandshakeFailed => {
                                StsConnection::HandshakeFailed
                            }
                            mailsec_core::dane::Connection::Tls { .. } => {
                                let chain: Vec<Vec<u8>> = r
                                    .probe
                                    .authenticated_chain()
                                    .map(|c| c.iter().map(|p| p.der.clone()).collect())
                                    .unwrap_or_default();
                                StsConnection::Tls(validate_certificate(&chain, mx, roots, now))
                            }
                        };
                        sts_address_verdict(p, mx, &conn)
                    }
                    // An MX name that is not a host name matches no pattern (RFC 8461 §4.1).
                    (Sts::Policy(p), None) if p.mode == Mode::Enforce => AddressVerdict::Refuse {
                        reason: "validation-failure",
                    },
                    (Sts::LookupFailed, _) => AddressVerdict::Refuse {
                        reason: "sts-policy-fetch-error",
                    },
                    _ => r.verdict.clone(),
                })
                .collect();
            ("mta-sts", verdicts)
        };
        hosts.push(HostVerdicts {
            host: h.host.clone(),
            decided_by,
            addresses,
        });
    }
    let verdict = domain_verdict(
        dane.mx,
        &hosts
            .iter()
            .map(|h| h.addresses.clone())
            .collect::<Vec<_>>(),
    );
    SenderView { verdict, hosts }
}
