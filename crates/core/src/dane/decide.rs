//! What a DANE sender does (RFC 7672 §2.1–§2.2, §3): from the DNSSEC states of the MX, address
//! and TLSA lookups, the policy for each MX host; from that policy and what a connection
//! showed, a verdict for each address; from those, in MX preference order, the verdict for
//! the domain. Pure: lookups, probes and certificate verification happen elsewhere.

use crate::dane::tlsa::{Tlsa, Usability};
use crate::dane::verify::DaneOutcome;

/// How a DNS lookup the decision depends on came out, reduced to what RFC 7672 §2.1 needs.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsState {
    /// Answer or denial validated from the trust anchor.
    Secure,
    /// Proven to be outside any signed zone.
    Insecure,
    /// Validation failed (bogus) or could not be established (indeterminate).
    Bogus,
    /// SERVFAIL, timeout or any other failure to get an answer.
    Failed,
}

/// The TLSA lookup of one MX host (`_25._tcp.<host>`, RFC 7672 §2.2.3).
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(tag = "state", content = "records", rename_all = "kebab-case")]
pub enum TlsaState {
    /// Not looked up: the MX RRset or the host's addresses are insecure (§2.2.1, §2.2.2).
    NotQueried,
    /// A secure denial, or an answer proven insecure: no DANE for this host.
    Absent,
    /// The lookup failed (bogus, indeterminate, SERVFAIL, timeout): the host is unusable
    /// (§2.1.2).
    Failed,
    /// A secure RRset.
    Records(Vec<Tlsa>),
}

/// What the sender requires of one MX host before connecting.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum HostPolicy {
    /// Secure usable TLSA records: TLS authenticated by them, nothing less (§2.2, §3).
    Dane {
        /// The secure RRset.
        tlsa: Vec<Tlsa>,
    },
    /// A secure RRset without a usable record: TLS required, not authenticated (§2.2).
    MandatoryTls,
    /// No DANE: whatever the sender does without it (opportunistic TLS).
    Opportunistic,
    /// The host must not be used (§2.1.2).
    Unusable {
        /// TLS-RPT result type (RFC 8460 §4.3).
        reason: &'static str,
    },
}

/// RFC 7672 §2.2: the policy for one MX host from the security of the MX RRset, of the host's
/// address records, and of its TLSA lookup (made only when both are secure).
pub fn host_policy(mx: DnsState, addresses: DnsState, tlsa: &TlsaState) -> HostPolicy {
    // §2.2.1, §2.2.2: DANE applies only behind a secure MX RRset and secure addresses. A failed
    // or bogus address lookup leaves no address to connect to in that family (§2.1.2: the
    // sender uses the host's other addresses, or the next MX), so it is no DANE host either.
    if mx != DnsState::Secure || addresses != DnsState::Secure {
        return HostPolicy::Opportunistic;
    }
    match tlsa {
        TlsaState::NotQueried | TlsaState::Absent => HostPolicy::Opportunistic,
        TlsaState::Failed => HostPolicy::Unusable {
            reason: "dnssec-invalid",
        },
        TlsaState::Records(records) => {
            if records.iter().any(|t| t.usability() == Usability::Usable) {
                HostPolicy::Dane {
                    tlsa: records.clone(),
                }
            } else {
                HostPolicy::MandatoryTls
            }
        }
    }
}

/// What a connection to one address showed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Connection {
    /// No SMTP session: connection refused, timed out, or the server failed before STARTTLS.
    Unreachable,
    /// The server does not offer STARTTLS, or refused it.
    NoStarttls,
    /// STARTTLS was offered but the TLS handshake failed.
    HandshakeFailed,
    /// TLS was established; `dane` is the verifier's outcome on the presented chain when the
    /// host's policy is [`HostPolicy::Dane`].
    Tls {
        /// The verifier's outcome (RFC 7672 §3), for DANE hosts.
        dane: Option<DaneOutcome>,
    },
}

/// How mail is protected when it is delivered.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// TLS authenticated by DANE.
    Dane,
    /// TLS authenticated by an MTA-STS policy.
    MtaSts,
    /// TLS required but not authenticated (a secure TLSA RRset without usable records).
    Tls,
    /// Opportunistic: TLS when offered, cleartext otherwise.
    Opportunistic,
}

/// The verdict for one address.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum AddressVerdict {
    /// Mail may go to this address.
    Deliver {
        /// How it is protected.
        mechanism: Mechanism,
    },
    /// The sender must not deliver to this address.
    Refuse {
        /// TLS-RPT result type (RFC 8460 §4.3).
        reason: &'static str,
    },
    /// Could not connect: the sender tries the next address.
    Unreachable,
}

/// RFC 7672 §2.2 and §3: what the sender does at one address of a host with `policy`.
pub fn address_verdict(policy: &HostPolicy, connection: &Connection) -> AddressVerdict {
    use AddressVerdict::{Deliver, Refuse, Unreachable};
    match (policy, connection) {
        (HostPolicy::Unusable { reason }, _) => Refuse { reason },
        (_, Connection::Unreachable) => Unreachable,
        (HostPolicy::Opportunistic, _) => Deliver {
            mechanism: Mechanism::Opportunistic,
        },
        // TLS is mandatory: never cleartext (§2.2).
        (HostPolicy::Dane { .. } | HostPolicy::MandatoryTls, Connection::NoStarttls) => Refuse {
            reason: "starttls-not-supported",
        },
        (HostPolicy::Dane { .. } | HostPolicy::MandatoryTls, Connection::HandshakeFailed) => {
            Refuse {
                reason: "validation-failure",
            }
        }
        (HostPolicy::MandatoryTls, Connection::Tls { .. }) => Deliver {
            mechanism: Mechanism::Tls,
        },
        (HostPolicy::Dane { .. }, Connection::Tls { dane }) => match dane {
            Some(DaneOutcome::Authenticated(_)) => Deliver {
                mechanism: Mechanism::Dane,
            },
            Some(DaneOutcome::NoUsableRecords) => Deliver {
                mechanism: Mechanism::Tls,
            },
            Some(DaneOutcome::Failed(f)) => Refuse {
                reason: f.result_type(),
            },
            // A DANE host whose chain was not verified is not authenticated.
            None => Refuse {
                reason: "validation-failure",
            },
        },
    }
}

/// The verdict for the domain: what a conformant sender does with a message to it.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// `deliver` or `defer`.
    pub outcome: Outcome,
    /// Why not, as a TLS-RPT result type, when the sender defers for a reason it reports.
    pub reason: Option<&'static str>,
    /// How delivered mail is protected.
    pub mechanism: Option<Mechanism>,
}

/// Deliver now, or keep the message and retry later.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Deliver.
    Deliver,
    /// Defer (temporary failure; retried later).
    Defer,
}

impl Verdict {
    /// Deliver, protected by `mechanism`.
    pub fn deliver(mechanism: Mechanism) -> Self {
        Self {
            outcome: Outcome::Deliver,
            reason: None,
            mechanism: Some(mechanism),
        }
    }

    /// Defer, for `reason` (a TLS-RPT result type) when there is one.
    pub fn defer(reason: Option<&'static str>) -> Self {
        Self {
            outcome: Outcome::Defer,
            reason,
            mechanism: None,
        }
    }
}

/// RFC 7672 §2.1.2, §2.2.1: the domain's verdict. `mx` is the state of the MX lookup; `hosts`
/// the verdicts of each MX host's addresses, in MX preference order. The first address that
/// may be delivered to wins; when none may, the sender defers with the reason of the most
/// preferred host that gave one. A failed MX lookup defers everything.
pub fn domain_verdict(mx: DnsState, hosts: &[Vec<AddressVerdict>]) -> Verdict {
    if matches!(mx, DnsState::Bogus | DnsState::Failed) {
        return Verdict::defer(Some("dnssec-invalid"));
    }
    let mut reason = None;
    for addresses in hosts {
        for v in addresses {
            match v {
                AddressVerdict::Deliver { mechanism } => return Verdict::deliver(*mechanism),
                AddressVerdict::Refuse { reason: r } => {
                    reason = reason.or(Some(*r));
                }
                AddressVerdict::Unreachable => {}
            }
        }
    }
    Verdict::defer(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dane::verify::{Authenticated, DaneFailure};

    fn ee() -> Tlsa {
        Tlsa::new(3, 1, 1, vec![0; 32])
    }

    #[test]
    fn host_policy_follows_the_dns_states() {
        let secure = TlsaState::Records(vec![ee()]);
        use DnsState::{Bogus, Failed, Insecure, Secure};
        assert_eq!(
            host_policy(Secure, Secure, &secure),
            HostPolicy::Dane { tlsa: vec![ee()] }
        );
        // Insecure MX or addresses: no DANE, whatever the TLSA records say (§2.2.1, §2.2.2).
        for (mx, addr) in [(Insecure, Secure), (Secure, Insecure), (Insecure, Insecure)] {
            assert_eq!(host_policy(mx, addr, &secure), HostPolicy::Opportunistic);
        }
        assert_eq!(
            host_policy(Secure, Secure, &TlsaState::Failed),
            HostPolicy::Unusable {
                reason: "dnssec-invalid"
            }
        );
        assert_eq!(
            host_policy(Secure, Secure, &TlsaState::Absent),
            HostPolicy::Opportunistic
        );
        assert_eq!(
            host_policy(
                Secure,
                Secure,
                &TlsaState::Records(vec![Tlsa::new(1, 1, 1, vec![0; 32])])
            ),
            HostPolicy::MandatoryTls
        );
        // The domain-level states Bogus and Failed never reach here as "secure".
        for s in [Bogus, Failed] {
            assert_eq!(host_policy(Secure, s, &secure), HostPolicy::Opportunistic);
        }
    }

    #[test]
    fn address_verdicts_never_downgrade() {
        let dane = HostPolicy::Dane { tlsa: vec![ee()] };
        let ok = Connection::Tls {
            dane: Some(DaneOutcome::Authenticated(Authenticated {
                record: ee().to_string(),
                usage: 3,
                depth: 0,
                name: None,
            })),
        };
        let mismatch = Connection::Tls {
            dane: Some(DaneOutcome::Failed(DaneFailure::NoMatch { usable: 1 })),
        };
        use AddressVerdict::{Deliver, Refuse, Unreachable};
        assert_eq!(
            address_verdict(&dane, &ok),
            Deliver {
                mechanism: Mechanism::Dane
            }
        );
        assert_eq!(
            address_verdict(&dane, &mismatch),
            Refuse {
                reason: "tlsa-invalid"
            }
        );
        assert_eq!(
            address_verdict(&dane, &Connection::Tls { dane: None }),
            Refuse {
                reason: "validation-failure"
            }
        );
        for p in [&dane, &HostPolicy::MandatoryTls] {
            assert_eq!(
                address_verdict(p, &Connection::NoStarttls),
                Refuse {
                    reason: "starttls-not-supported"
                }
            );
            assert_eq!(
                address_verdict(p, &Connection::HandshakeFailed),
                Refuse {
                    reason: "validation-failure"
                }
            );
            assert_eq!(address_verdict(p, &Connection::Unreachable), Unreachable);
        }
        assert_eq!(
            address_verdict(&HostPolicy::MandatoryTls, &mismatch),
            Deliver {
                mechanism: Mechanism::Tls
            }
        );
        assert_eq!(
            address_verdict(&HostPolicy::Opportunistic, &Connection::NoStarttls),
            Deliver {
                mechanism: Mechanism::Opportunistic
            }
        );
        let unusable = HostPolicy::Unusable {
            reason: "dnssec-invalid",
        };
        assert_eq!(
            address_verdict(&unusable, &ok),
            Refuse {
                reason: "dnssec-invalid"
            }
        );
    }

    #[test]
    fn the_domain_follows_mx_preference() {
        use AddressVerdict::{Deliver, Refuse, Unreachable};
        let refuse = |r| Refuse { reason: r };
        let dane = Deliver {
            mechanism: Mechanism::Dane,
        };
        // The first host fails, the second delivers: deliver.
        assert_eq!(
            domain_verdict(
                DnsState::Secure,
                &[
                    vec![refuse("tlsa-invalid")],
                    vec![Unreachable, dane.clone()]
                ]
            ),
            Verdict::deliver(Mechanism::Dane)
        );
        // Nobody delivers: the most preferred host's reason.
        assert_eq!(
            domain_verdict(
                DnsState::Secure,
                &[
                    vec![Unreachable],
                    vec![refuse("tlsa-invalid")],
                    vec![refuse("dnssec-invalid")]
                ]
            ),
            Verdict::defer(Some("tlsa-invalid"))
        );
        assert_eq!(
            domain_verdict(DnsState::Secure, &[vec![Unreachable]]),
            Verdict::defer(None)
        );
        assert_eq!(domain_verdict(DnsState::Secure, &[]), Verdict::defer(None));
        for mx in [DnsState::Bogus, DnsState::Failed] {
            assert_eq!(
                domain_verdict(mx, &[vec![dane.clone()]]),
                Verdict::defer(Some("dnssec-invalid"))
            );
        }
    }
}
