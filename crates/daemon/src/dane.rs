//! DANE first (RFC 8461 §2: "senders who implement DANE … SHOULD use DANE for the delivery
//! in preference to MTA-STS"). The question asked of the DNS, per RFC 7672 §2.2: is the
//! domain's MX RRset secure, and does one of its hosts have a secure TLSA RRset at
//! `_25._tcp.<host>`? Then Postfix's own DANE code (`dane`, `dane-only`) decides each host; a
//! lookup that failed is neither DANE nor a reason to fall back to MTA-STS: `TEMP`.
//!
//! The decision is over DNS states only (`decide`, pure); `gate` makes the lookups.

use futures_util::future::join_all;
use mailsec_core::HostName;
use mailsec_core::socketmap::policy::DaneGate;
use mailsec_dns::{Resolver, Response, Security};

/// Most MX hosts whose TLSA records are looked up (a domain with more is unusual; Postfix tries
/// at most `smtp_mx_address_limit`, 5 by default, addresses anyway).
pub const MAX_HOSTS: usize = 10;

/// What the MX lookup found.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum MxState {
    /// A secure MX RRset: its hosts, in preference order (RFC 5321 §5.1), the null MX
    /// (RFC 7505) left out.
    Secure(Vec<String>),
    /// A secure denial: no MX, so the domain itself is the host (RFC 5321 §5.1 implicit MX).
    SecureNoMx,
    /// An insecure answer or denial: DANE does not apply (RFC 7672 §2.2.1).
    Insecure,
    /// The lookup failed or was bogus.
    Failed(String),
}

/// What the TLSA lookup of one host found.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum TlsaState {
    /// A secure TLSA RRset (usable or not: Postfix applies RFC 7672 §2.2 to it).
    Secure,
    /// No records, or not secure: no DANE for this host.
    None,
    /// The lookup failed or was bogus.
    Failed(String),
}

/// The gate from the DNS states: DANE when some host has secure TLSA records; `Failed` when
/// none has and a lookup failed (the failed host might have had them); otherwise not DANE.
pub fn decide(mx: &MxState, tlsa: &[(String, TlsaState)]) -> DaneGate {
    match mx {
        MxState::Insecure => return DaneGate::NotDane,
        MxState::Failed(reason) => return DaneGate::MxFailed(reason.clone()),
        MxState::Secure(_) | MxState::SecureNoMx => {}
    }
    if tlsa.iter().any(|(_, t)| *t == TlsaState::Secure) {
        return DaneGate::Dane;
    }
    match tlsa.iter().find_map(|(_, t)| match t {
        TlsaState::Failed(r) => Some(r),
        _ => None,
    }) {
        Some(reason) => DaneGate::Failed(reason.clone()),
        None => DaneGate::NotDane,
    }
}

/// Looks up the MX RRset of `domain` and the TLSA records of its hosts, and decides.
pub async fn gate(dns: &Resolver, domain: &HostName) -> DaneGate {
    gate_ttl(dns, domain).await.0
}

/// [`gate`], with the smallest TTL of the records it read (MX, address and TLSA answers; `None`
/// when it read only denials or failures): how long the decision may be reused.
pub async fn gate_ttl(dns: &Resolver, domain: &HostName) -> (DaneGate, Option<u32>) {
    let (mx, mx_ttl) = mx_state(dns, domain).await;
    let hosts: Vec<String> = match &mx {
        MxState::Secure(hosts) => hosts.iter().take(MAX_HOSTS).cloned().collect(),
        MxState::SecureNoMx => vec![domain.as_str().to_owned()],
        MxState::Insecure | MxState::Failed(_) => Vec::new(),
    };
    let mut ttl = mx_ttl;
    let tlsa = join_all(hosts.into_iter().map(|host| async move {
        let (state, ttl) = tlsa_state(dns, &host).await;
        (host, state, ttl)
    }))
    .await
    .into_iter()
    .map(|(host, state, t)| {
        ttl = min_ttl(ttl, t);
        (host, state)
    })
    .collect::<Vec<_>>();
    (decide(&mx, &tlsa), ttl)
}

fn min_ttl(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The TTL of a response with records.
fn ttl_of<T>(r: &Response<T>) -> Option<u32> {
    match r {
        Response::Records(a) => Some(a.ttl),
        _ => None,
    }
}

async fn mx_state(dns: &Resolver, domain: &HostName) -> (MxState, Option<u32>) {
    let r = dns.mx(domain.as_str()).await;
    let ttl = r.as_ref().ok().and_then(ttl_of);
    let state = match r {
        Err(e) => MxState::Failed(format!("MX {domain}: {e}")),
        Ok(r) if r.security() == Security::Bogus => {
            MxState::Failed(format!("MX {domain}: DNSSEC validation failed (bogus)"))
        }
        Ok(r) if r.security() != Security::Secure => MxState::Insecure,
        Ok(Response::Records(a)) => {
            let mut records = a.records;
            records.sort_by_key(|(pref, _)| *pref);
            MxState::Secure(
                records
                    .into_iter()
                    .map(|(_, host)| host)
                    .filter(|h| !h.is_empty())
                    .collect(),
            )
        }
        Ok(Response::NoData { .. }) => MxState::SecureNoMx,
        // The domain does not exist: Postfix bounces; nothing for DANE to add.
        Ok(Response::NxDomain { .. }) => MxState::Insecure,
    };
    (state, ttl)
}

async fn tlsa_state(dns: &Resolver, host: &str) -> (TlsaState, Option<u32>) {
    // RFC 7672 §2.2.2: the address records first; TLSA records count only behind secure ones.
    let a = dns.ipv4(host).await;
    let mut ttl = a.as_ref().ok().and_then(ttl_of);
    let canonical = match a {
        Err(e) => return (TlsaState::Failed(format!("A {host}: {}", e)), ttl),
        Ok(r) if r.security() == Security::Bogus => {
            return (
                TlsaState::Failed(format!("A {host}: DNSSEC validation failed (bogus)")),
                ttl,
            );
        }
        Ok(r) if r.security() != Security::Secure => return (TlsaState::None, ttl),
        // The canonical name may come fully qualified.
        Ok(Response::Records(a)) => a.canonical_name.trim_end_matches('.').to_ascii_lowercase(),
        // A secure denial of A (an IPv6-only host): its own name.
        Ok(_) => host.to_owned(),
    };
    // RFC 7672 §2.2.3: behind a secure CNAME, the TLSA records of the expanded name first,
    // then those of the original name.
    let mut names = vec![host.to_owned()];
    if canonical != host {
        names.insert(0, canonical);
    }
    for name in names {
        let owner = format!("_25._tcp.{name}");
        let r = dns.tlsa(&owner).await;
        ttl = min_ttl(ttl, r.as_ref().ok().and_then(ttl_of));
        match r {
            Err(e) => return (TlsaState::Failed(format!("TLSA {owner}: {}", e)), ttl),
            Ok(r) if r.security() == Security::Bogus => {
                return (
                    TlsaState::Failed(format!("TLSA {owner}: DNSSEC validation failed (bogus)")),
                    ttl,
                );
            }
            Ok(Response::Records(a)) if a.security == Security::Secure && !a.records.is_empty() => {
                return (TlsaState::Secure, ttl);
            }
            Ok(_) => {}
        }
    }
    (TlsaState::None, ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(h: &[&str]) -> MxState {
        MxState::Secure(h.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn an_insecure_or_failed_mx_decides_alone() {
        assert_eq!(
            decide(&MxState::Insecure, &[("mx".into(), TlsaState::Secure)]),
            DaneGate::NotDane
        );
        assert_eq!(
            decide(&MxState::Failed("MX x: SERVFAIL".into()), &[]),
            DaneGate::MxFailed("MX x: SERVFAIL".into())
        );
    }

    #[test]
    fn one_host_with_tlsa_makes_it_dane_even_beside_a_failed_lookup() {
        let mx = hosts(&["a", "b"]);
        assert_eq!(
            decide(
                &mx,
                &[
                    ("a".into(), TlsaState::Failed("TLSA a: bogus".into())),
                    ("b".into(), TlsaState::Secure)
                ]
            ),
            DaneGate::Dane
        );
    }

    #[test]
    fn a_failed_lookup_without_tlsa_elsewhere_is_a_failure_not_a_fall_back() {
        let mx = hosts(&["a", "b"]);
        assert_eq!(
            decide(
                &mx,
                &[
                    ("a".into(), TlsaState::None),
                    ("b".into(), TlsaState::Failed("TLSA b: timed out".into()))
                ]
            ),
            DaneGate::Failed("TLSA b: timed out".into())
        );
    }

    #[test]
    fn secure_mx_without_tlsa_is_not_dane() {
        assert_eq!(
            decide(&hosts(&["a"]), &[("a".into(), TlsaState::None)]),
            DaneGate::NotDane
        );
        assert_eq!(decide(&hosts(&[]), &[]), DaneGate::NotDane);
        assert_eq!(
            decide(&MxState::SecureNoMx, &[("d".into(), TlsaState::Secure)]),
            DaneGate::Dane
        );
    }
}
