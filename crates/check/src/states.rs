//! From lookup results (mailsec-dns) to the DNS states RFC 7672 decides on
//! ([`mailsec_core::dane::DnsState`], [`TlsaState`]). Pure, so that every branch is tested.

use std::net::IpAddr;

use mailsec_core::HostName;
use mailsec_core::dane::{DnsState, Tlsa, TlsaState};
use mailsec_dns::{LookupError, Response, Security};

/// The state of a lookup's outcome: a validated answer or denial is secure or insecure;
/// bogus and indeterminate are [`DnsState::Bogus`]; any other failure is [`DnsState::Failed`].
pub fn state<T>(r: &Result<Response<T>, LookupError>) -> DnsState {
    match r {
        Ok(resp) => match resp.security() {
            Security::Secure => DnsState::Secure,
            Security::Insecure => DnsState::Insecure,
            Security::Bogus | Security::Indeterminate => DnsState::Bogus,
        },
        Err(LookupError::Bogus | LookupError::Indeterminate) => DnsState::Bogus,
        Err(_) => DnsState::Failed,
    }
}

/// The state of a host's address RRsets (RFC 7672 §2.2.2): secure only
/// when every RRset that answered is secure and none failed; a failure of one family with
/// addresses in the other is the weaker of the two (the host stays usable through the other
/// family, but not as a DANE host).
pub fn addresses(
    a: &Result<Response<IpAddr>, LookupError>,
    aaaa: &Result<Response<IpAddr>, LookupError>,
) -> DnsState {
    let rank = |s: DnsState| match s {
        DnsState::Secure => 3,
        DnsState::Insecure => 2,
        DnsState::Failed => 1,
        DnsState::Bogus => 0,
    };
    let (sa, sb) = (state(a), state(aaaa));
    if rank(sa) <= rank(sb) { sa } else { sb }
}

/// RFC 7672 §2.2.3: the TLSA lookup as the host policy needs it. Only a secure answer counts as
/// records; a secure denial or an insecure answer is no TLSA; everything else has failed.
pub fn tlsa(r: &Result<Response<Tlsa>, LookupError>) -> TlsaState {
    match r {
        Ok(Response::Records(a)) => match a.security {
            Security::Secure => TlsaState::Records(a.records.clone()),
            Security::Insecure => TlsaState::Absent,
            Security::Bogus | Security::Indeterminate => TlsaState::Failed,
        },
        Ok(denial) => match denial.security() {
            Security::Secure | Security::Insecure => TlsaState::Absent,
            Security::Bogus | Security::Indeterminate => TlsaState::Failed,
        },
        Err(_) => TlsaState::Failed,
    }
}

/// RFC 7672 §2.2.3 and RFC 7671 §7: the TLSA base domains to try for `host`, in order. When its
/// address records were reached through CNAMEs that are all secure, the fully expanded name
/// comes first and `host` second; otherwise `host` alone (an insecure CNAME makes what follows
/// insecure, RFC 7672 §2.1.3).
pub fn tlsa_bases<T>(host: &str, a: &Result<Response<T>, LookupError>) -> Vec<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match a {
        Ok(Response::Records(answer))
            if !answer.cnames.is_empty() && answer.security == Security::Secure =>
        {
            let expanded = answer
                .canonical_name
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if expanded == host {
                vec![host]
            } else {
                vec![expanded, host]
            }
        }
        _ => vec![host],
    }
}

/// RFC 7672 §3.2.2: the names a DANE-TA certificate may carry: the TLSA base domain, the MX
/// host name, and the next-hop domain when the MX RRset is secure. Names that are not host
/// names are left out (they cannot appear in a certificate's DNS names).
pub fn reference_ids(
    tlsa_base: &str,
    mx_host: &str,
    next_hop: Option<&str>,
    mx_secure: bool,
) -> Vec<HostName> {
    let mut out: Vec<HostName> = Vec::new();
    let candidates = [
        Some(tlsa_base),
        Some(mx_host),
        next_hop.filter(|_| mx_secure),
    ];
    for name in candidates.into_iter().flatten() {
        if let Ok(h) = HostName::parse(name)
            && !out.contains(&h)
        {
            out.push(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use mailsec_dns::Answer;

    use super::*;

    fn answer<T>(records: Vec<T>, security: Security) -> Result<Response<T>, LookupError> {
        Ok(Response::Records(Answer {
            records,
            security,
            canonical_name: "x.".into(),
            cnames: Vec::new(),
            ttl: 60,
            signer: None,
        }))
    }

    #[test]
    fn lookup_states() {
        assert_eq!(state(&answer(vec![1], Security::Secure)), DnsState::Secure);
        assert_eq!(
            state(&answer(vec![1], Security::Insecure)),
            DnsState::Insecure
        );
        assert_eq!(
            state(&answer(vec![1], Security::Indeterminate)),
            DnsState::Bogus
        );
        assert_eq!(
            state::<u8>(&Err(LookupError::Indeterminate)),
            DnsState::Bogus
        );
        assert_eq!(state::<u8>(&Err(LookupError::Bogus)), DnsState::Bogus);
        assert_eq!(state::<u8>(&Err(LookupError::Timeout)), DnsState::Failed);
        assert_eq!(state::<u8>(&Err(LookupError::ServFail)), DnsState::Failed);
    }

    #[test]
    fn address_states_take_the_weaker_family() {
        let v4 = |s| answer(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)], s);
        let none = || -> Result<Response<IpAddr>, LookupError> {
            Ok(Response::NoData {
                security: Security::Secure,
                signer: None,
            })
        };
        assert_eq!(addresses(&v4(Security::Secure), &none()), DnsState::Secure);
        assert_eq!(
            addresses(&v4(Security::Secure), &Err(LookupError::Timeout)),
            DnsState::Failed
        );
        assert_eq!(
            addresses(&v4(Security::Insecure), &none()),
            DnsState::Insecure
        );
        assert_eq!(
            addresses(&v4(Security::Secure), &Err(LookupError::Bogus)),
            DnsState::Bogus
        );
    }

    #[test]
    fn tlsa_states() {
        let t = Tlsa::new(3, 1, 1, vec![0; 32]);
        assert_eq!(
            tlsa(&answer(vec![t.clone()], Security::Secure)),
            TlsaState::Records(vec![t.clone()])
        );
        assert_eq!(
            tlsa(&answer(vec![t.clone()], Security::Insecure)),
            TlsaState::Absent
        );
        assert_eq!(
            tlsa(&answer(vec![t], Security::Indeterminate)),
            TlsaState::Failed
        );
        for security in [Security::Secure, Security::Insecure] {
            assert_eq!(
                tlsa(&Ok(Response::NxDomain {
                    security,
                    signer: None
                })),
                TlsaState::Absent
            );
        }
        assert_eq!(
            tlsa(&Ok(Response::NoData {
                security: Security::Indeterminate,
                signer: None
            })),
            TlsaState::Failed
        );
        for e in [
            LookupError::Bogus,
            LookupError::Indeterminate,
            LookupError::ServFail,
            LookupError::Timeout,
        ] {
            assert_eq!(tlsa(&Err(e)), TlsaState::Failed);
        }
    }

    #[test]
    fn a_secure_cname_chain_puts_the_expanded_name_first() {
        let via_cname = |security| -> Result<Response<IpAddr>, LookupError> {
            Ok(Response::Records(Answer {
                records: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
                security,
                canonical_name: "Host.Provider.example.".into(),
                cnames: vec![("mx.example.com.".into(), "host.provider.example.".into())],
                ttl: 60,
                signer: None,
            }))
        };
        assert_eq!(
            tlsa_bases("mx.example.com", &via_cname(Security::Secure)),
            ["host.provider.example", "mx.example.com"]
        );
        assert_eq!(
            tlsa_bases("mx.example.com", &via_cname(Security::Insecure)),
            ["mx.example.com"]
        );
        let direct = answer(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)], Security::Secure);
        assert_eq!(tlsa_bases("MX.example.com.", &direct), ["mx.example.com"]);
        assert_eq!(
            tlsa_bases::<IpAddr>("mx.example.com", &Err(LookupError::Timeout)),
            ["mx.example.com"]
        );
    }

    #[test]
    fn the_next_hop_is_a_reference_id_only_behind_a_secure_mx() {
        let ids = |secure| -> Vec<String> {
            reference_ids(
                "mx.example.com",
                "mx.example.com",
                Some("example.com"),
                secure,
            )
            .iter()
            .map(|h| h.as_str().to_owned())
            .collect()
        };
        assert_eq!(ids(true), ["mx.example.com", "example.com"]);
        assert_eq!(ids(false), ["mx.example.com"]);
    }
}
