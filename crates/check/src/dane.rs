//! DANE over the wire for one domain or one host: the MX, address and TLSA lookups, a probe of
//! every address, the RFC 7672 verifier on every presented chain, and what a conformant DANE
//! sender does (RFC 7672 §2–§3). The I/O shell around [`mailsec_core::dane`]'s pure decisions.

use std::time::SystemTime;

use mailsec_core::dane::{
    self, AddressVerdict, Connection, DaneInput, DaneOutcome, DnsState, HostPolicy, RecordMatch,
    Service, TlsaState, Verdict, lint, match_records,
};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::{LookupError, Resolver, Response};
use mailsec_probe::{
    AddrProbe, ECDSA_SCHEMES, ProbeConfig, ProbeError, RSA_SCHEMES, Starttls, Step, TlsScan,
    probe_addr, probe_host_with_sni, scan_tls,
};
use pki_types::UnixTime;

use crate::states;

/// What is checked: the MX hosts of a domain, or one host and port.
#[derive(Clone, Debug)]
pub enum Target {
    /// A mail domain: its MX hosts on port 25 (RFC 7672).
    Domain(HostName),
    /// One host and port, with its STARTTLS dialect: SMTP rules on 25, 465 and 587, RFC 6698
    /// elsewhere.
    Host {
        /// The host (the TLSA base domain).
        host: HostName,
        /// The port (`_<port>._tcp.<host>`).
        port: u16,
        /// How TLS starts.
        starttls: Starttls,
    },
}

/// The DANE check of a domain (or of one host).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DaneReport {
    /// The domain, or the host for `--host`.
    pub target: String,
    /// The state of the MX lookup (`secure` for `--host`).
    pub mx: DnsState,
    /// Why the MX lookup failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mx_error: Option<String>,
    /// The hosts, in MX preference order.
    pub hosts: Vec<HostReport>,
    /// What a conformant DANE sender does.
    pub verdict: Verdict,
}

/// One MX host (or the `--host`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct HostReport {
    /// The host name.
    pub host: String,
    /// MX preference (0 for `--host`).
    pub preference: u16,
    /// The logical port.
    pub port: u16,
    /// The state of the address lookups (A and AAAA together).
    pub addresses: DnsState,
    /// The TLSA owner name.
    pub tlsa_name: String,
    /// The TLSA lookup as the policy sees it.
    pub tlsa: TlsaState,
    /// The TLSA lookup's outcome in words (status and security, or the error).
    pub tlsa_lookup: String,
    /// What the sender requires of this host.
    pub policy: HostPolicy,
    /// One result per address.
    pub results: Vec<AddressReport>,
    /// Findings about the TLSA RRset, alone and against the presented chains.
    pub findings: Vec<Diagnostic>,
    /// The first address that completed a handshake, probed again without SNI (RFC 8461 §7.1,
    /// RFC 7672 §8.1: servers must not require it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_sni: Option<AddrProbe>,
    /// With TLSA records, the first address that completed a handshake, probed again offering
    /// only RSA, then only ECDSA signature schemes: a server with certificates of both key
    /// types presents each to the clients that can take only it (D14).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_probes: Vec<KeyProbe>,
    /// When the TLSA base domain is not the MX host name (a CNAME'd MX) and the handshake with
    /// SNI = base domain failed: the same address probed with SNI = the MX host name (D22).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_mx_name_sni: Option<AddrProbe>,
}

/// A probe that offered the signature schemes of one key type only.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyProbe {
    /// `rsa` or `ecdsa`.
    pub offered: &'static str,
    /// What the connection showed.
    pub probe: AddrProbe,
}

/// One address of a host.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AddressReport {
    /// What the probe captured.
    pub probe: AddrProbe,
    /// The verifier's outcome, when the host's policy is DANE and TLS was established.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dane: Option<DaneOutcome>,
    /// Each TLSA record against the presented chain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordMatch>,
    /// What the sender does at this address.
    pub verdict: AddressVerdict,
    /// The TLS scan of this address (checks T3–T11), when asked for
    /// ([`ProbeConfig::tls_scan`]) and the probe completed a handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_scan: Option<TlsScan>,
}

/// What the DANE check needs.
#[derive(Clone)]
pub struct DaneContext {
    /// The validating resolver.
    pub resolver: Resolver,
    /// How to probe.
    pub probe: ProbeConfig,
    /// The time certificates are checked at (RFC 7672 §3.1.2 paths); `None` is now.
    pub now: Option<SystemTime>,
    /// Roots for PKIX-TA(0)/PKIX-EE(1) records on ports other than SMTP's (RFC 6698 §2.1.1):
    /// the same store as the policy fetch (Mozilla's, or `--ca-file`).
    pub pkix_roots: std::sync::Arc<rustls::RootCertStore>,
}

impl DaneContext {
    fn now(&self) -> UnixTime {
        let t = self.now.unwrap_or_else(SystemTime::now);
        UnixTime::since_unix_epoch(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
    }
}

/// The service whose rules apply on `port`.
pub fn service_for_port(port: u16) -> Service {
    match port {
        25 | 465 | 587 => Service::Smtp,
        _ => Service::Other,
    }
}

/// How a probe ended, as the decision needs it.
pub fn connection(probe: &AddrProbe, dane: Option<DaneOutcome>) -> Connection {
    if probe.tls.is_some() {
        // TLS was established; what failed later (the EHLO over TLS) does not undo that.
        return Connection::Tls { dane };
    }
    match &probe.error {
        Some(ProbeError::StarttlsNotOffered | ProbeError::StarttlsRefused { .. }) => {
            Connection::NoStarttls
        }
        Some(e) if e.step() == Step::Handshake => Connection::HandshakeFailed,
        // Before STARTTLS (connect, banner, EHLO): the sender cannot talk to this address.
        Some(_) => Connection::Unreachable,
        None => Connection::Unreachable,
    }
}

/// Checks `target`.
pub async fn check(ctx: &DaneContext, target: &Target) -> DaneReport {
    match target {
        Target::Domain(domain) => check_domain(ctx, domain).await,
        Target::Host {
            host,
            port,
            starttls,
        } => {
            let report = check_host(
                ctx,
                host.as_str(),
                0,
                *port,
                *starttls,
                None,
                DnsState::Secure,
            )
            .await;
            let verdict = dane::domain_verdict(
                DnsState::Secure,
                &[report.results.iter().map(|r| r.verdict.clone()).collect()],
            );
            DaneReport {
                target: host.as_str().to_owned(),
                mx: DnsState::Secure,
                mx_error: None,
                hosts: vec![report],
                verdict,
            }
        }
    }
}

async fn check_domain(ctx: &DaneContext, domain: &HostName) -> DaneReport {
    let d = domain.as_str();
    let mx = ctx.resolver.mx(d).await;
    let mx_state = states::state(&mx);
    let (hosts, mx_error): (Vec<(u16, String)>, Option<String>) = match &mx {
        Ok(Response::Records(a)) => {
            let mut h: Vec<(u16, String)> = a
                .records
                .iter()
                .filter(|(_, h)| !h.is_empty())
                .cloned()
                .collect();
            h.sort();
            (h, None)
        }
        // RFC 5321 §5.1: no MX records, the domain itself is the host (implicit MX).
        Ok(Response::NoData { .. }) => (vec![(0, d.to_owned())], None),
        Ok(Response::NxDomain { .. }) => (
            Vec::new(),
            Some("the domain does not exist (NXDOMAIN)".into()),
        ),
        Err(e) => (Vec::new(), Some(format!("MX lookup failed: {e}"))),
    };
    let mut reports = Vec::new();
    if mx_error.is_none() {
        let futures = hosts.iter().map(|(pref, host)| {
            check_host(ctx, host, *pref, 25, Starttls::Smtp, Some(d), mx_state)
        });
        reports = futures_util::future::join_all(futures).await;
    }
    let verdict = dane::domain_verdict(
        mx_state,
        &reports
            .iter()
            .map(|h| h.results.iter().map(|r| r.verdict.clone()).collect())
            .collect::<Vec<_>>(),
    );
    DaneReport {
        target: d.to_owned(),
        mx: mx_state,
        mx_error,
        hosts: reports,
        verdict,
    }
}

fn lookup_words<T>(r: &Result<Response<T>, LookupError>) -> String {
    match r {
        Ok(resp) => format!("{} ({})", resp.status(), resp.security()),
        Err(e) => e.to_string(),
    }
}

async fn check_host(
    ctx: &DaneContext,
    host: &str,
    preference: u16,
    port: u16,
    starttls: Starttls,
    next_hop: Option<&str>,
    mx_state: DnsState,
) -> HostReport {
    // RFC 7672 §2.2.3, RFC 7671 §7: behind a secure CNAME chain the TLSA base domain is the
    // expanded name first, the original name when the expanded one has no TLSA records.
    let a = ctx.resolver.ipv4(host).await;
    let mut bases = states::tlsa_bases(host, &a).into_iter();
    let mut base = bases.next().unwrap_or_else(|| host.to_owned());
    let mut tlsa_name = format!("_{port}._tcp.{base}");
    let mut tlsa_lookup = ctx.resolver.tlsa(&tlsa_name).await;
    for fallback in bases {
        if states::tlsa(&tlsa_lookup) != TlsaState::Absent {
            break;
        }
        base = fallback;
        tlsa_name = format!("_{port}._tcp.{base}");
        tlsa_lookup = ctx.resolver.tlsa(&tlsa_name).await;
    }
    // SNI is the TLSA base domain (RFC 7672 §8.1).
    let probe = probe_host_with_sni(&ctx.resolver, host, &base, port, starttls, &ctx.probe).await;
    let address_state = states::addresses(&probe.a, &probe.aaaa);
    let tlsa = states::tlsa(&tlsa_lookup);
    // RFC 7672 §2.2.1-§2.2.2: the TLSA records count only behind a secure MX RRset and secure
    // addresses (they are looked up regardless, to report them).
    let secure_path = mx_state == DnsState::Secure && address_state == DnsState::Secure;
    let policy_tlsa = if secure_path {
        tlsa.clone()
    } else {
        TlsaState::NotQueried
    };
    let policy = dane::host_policy(mx_state, address_state, &policy_tlsa);
    let service = service_for_port(port);
    let reference_ids = states::reference_ids(&base, host, next_hop, mx_state == DnsState::Secure);
    let now = ctx.now();
    let records: &[dane::Tlsa] = match &tlsa {
        TlsaState::Records(r) => r,
        _ => &[],
    };
    let mut findings = lint::lint_rrset(records);
    let mut results = Vec::new();
    for addr in probe.addrs {
        let chain: Vec<Vec<u8>> = addr
            .authenticated_chain()
            .map(|c| c.iter().map(|p| p.der.clone()).collect())
            .unwrap_or_default();
        let dane_outcome = match &policy {
            HostPolicy::Dane { tlsa } if addr.tls.is_some() => Some(dane::verify(&DaneInput {
                chain: &chain,
                tlsa,
                reference_ids: &reference_ids,
                service,
                now,
                pkix_roots: &ctx.pkix_roots.roots,
            })),
            _ => None,
        };
        let record_matches = if records.is_empty() || chain.is_empty() {
            Vec::new()
        } else {
            match_records(&chain, records, service)
        };
        if !chain.is_empty() && !records.is_empty() && results.is_empty() {
            let certs: Vec<_> = chain
                .iter()
                .filter_map(|d| dane::parse_certificates(d).ok().and_then(|mut c| c.pop()))
                .collect();
            findings.extend(lint::lint_against_chain(
                records,
                &chain,
                &certs,
                &is_public_ca,
            ));
        }
        let verdict = dane::address_verdict(&policy, &connection(&addr, dane_outcome.clone()));
        results.push(AddressReport {
            probe: addr,
            dane: dane_outcome,
            records: record_matches,
            verdict,
            tls_scan: None,
        });
    }
    let tls_first = results.iter().find(|r| r.probe.tls.is_some());
    let dane_host = matches!(policy, HostPolicy::Dane { .. });
    let served: Vec<Vec<u8>> = tls_first
        .and_then(|r| r.probe.authenticated_chain())
        .map(|c| c.iter().map(|p| p.der.clone()).collect())
        .unwrap_or_default();
    // D24: the certificate is about to be renewed and nothing covers a new key.
    if dane_host && !served.is_empty() {
        let secs = now.as_secs();
        findings.extend(lint::lint_renewal(
            records,
            &served,
            i64::try_from(secs).unwrap_or(i64::MAX),
            &tlsa_name,
        ));
    }
    // D14: the certificate of each key type, as clients that offer only that type get it.
    let mut key_probes = Vec::new();
    if let Some(first) = tls_first.filter(|_| !records.is_empty()) {
        let addr = std::net::SocketAddr::new(first.probe.addr, port);
        let only = |schemes: &[rustls::SignatureScheme]| {
            let mut config = ctx.probe.clone();
            config.signature_schemes = Some(schemes.to_vec());
            config
        };
        let (rsa_config, ecdsa_config) = (only(RSA_SCHEMES), only(ECDSA_SCHEMES));
        let (rsa, ecdsa) = tokio::join!(
            probe_addr(addr, &base, starttls, &rsa_config),
            probe_addr(addr, &base, starttls, &ecdsa_config)
        );
        key_probes = vec![
            KeyProbe {
                offered: "rsa",
                probe: rsa,
            },
            KeyProbe {
                offered: "ecdsa",
                probe: ecdsa,
            },
        ];
        let mut keys: Vec<lint::PresentedKey> = Vec::new();
        let chains = std::iter::once(served.clone()).chain(key_probes.iter().map(|k| {
            k.probe
                .authenticated_chain()
                .map(|c| c.iter().map(|p| p.der.clone()).collect())
                .unwrap_or_default()
        }));
        for chain in chains {
            let Some(leaf) = chain.first() else { continue };
            if keys.iter().any(|k| k.chain.first() == Some(leaf)) {
                continue;
            }
            let algorithm = dane::key_info(leaf).map_or_else(
                || "unknown".to_owned(),
                |k| match k.key_algorithm.as_str() {
                    "EC" => "ECDSA".to_owned(),
                    other => other.to_owned(),
                },
            );
            keys.push(lint::PresentedKey { algorithm, chain });
        }
        findings.extend(lint::lint_key_algorithms(records, &keys, &tlsa_name));
    }
    // D22: RFC 7672 §8.1: a DANE sender's SNI is the TLSA base domain; when that is not the
    // MX host name and the handshake failed, try the MX host name to see whether the SNI is
    // the cause.
    let mut with_mx_name_sni = None;
    let failed_handshake = results.iter().find(|r| {
        r.probe.tls.is_none()
            && r.probe
                .error
                .as_ref()
                .is_some_and(|e| e.step() == Step::Handshake)
    });
    if let Some(r) = failed_handshake.filter(|_| !base.eq_ignore_ascii_case(host)) {
        let addr = std::net::SocketAddr::new(r.probe.addr, port);
        let retry = probe_addr(addr, host, starttls, &ctx.probe).await;
        if retry.tls.is_some() {
            findings.push(Diagnostic::new(
                Check::D22,
                Severity::Warning,
                format!(
                    "{}: the server aborts the handshake when the SNI is `{base}`, the TLSA base domain that DANE senders must send (RFC 7672 §8.1: the MX name {host} is a CNAME to it), and completes it with SNI `{host}`: configure the server to accept `{base}` (or any SNI) with this certificate",
                    r.probe.dialled()
                ),
            ));
        }
        with_mx_name_sni = Some(retry);
    }
    // T3-T11: the TLS scan, one address after the other (each costs the server about ten
    // handshakes), with the same SNI as the probe.
    if ctx.probe.tls_scan {
        for r in results.iter_mut().filter(|r| r.probe.tls.is_some()) {
            let addr = std::net::SocketAddr::new(r.probe.addr, port);
            r.tls_scan = Some(scan_tls(addr, &base, starttls, &ctx.probe).await);
        }
    }
    // T18: one more handshake, without SNI, at the first address that completed one.
    let without_sni = match results.iter().find(|r| r.probe.tls.is_some()) {
        Some(r) => {
            let addr = std::net::SocketAddr::new(r.probe.addr, port);
            Some(probe_addr(addr, &r.probe.addr.to_string(), starttls, &ctx.probe).await)
        }
        None => None,
    };
    HostReport {
        without_sni,
        key_probes,
        with_mx_name_sni,
        host: host.to_owned(),
        preference,
        port,
        addresses: address_state,
        tlsa_name,
        tlsa,
        tlsa_lookup: lookup_words(&tlsa_lookup),
        policy,
        results,
        findings,
    }
}

/// Whether a certificate belongs to the public web PKI: it is, or is issued by, a root of
/// Mozilla's store (webpki-roots). Used to warn about `2 0 x` pins of public CAs.
fn is_public_ca(cert: &dane::Certificate) -> bool {
    let Some((subject, issuer)) = dane::association::subject_der(&cert.der) else {
        return false;
    };
    webpki_roots::TLS_SERVER_ROOTS.iter().any(|root| {
        let name = root.subject.as_ref();
        subject == name || issuer == name
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;

    fn probe(error: Option<ProbeError>) -> AddrProbe {
        AddrProbe {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 25,
            dialled_port: 25,
            starttls: Starttls::Smtp,
            sni: "mx.example.com".into(),
            sni_sent: None,
            greeting: None,
            capabilities_before: None,
            starttls_offered: None,
            tls: None,
            chain: Vec::new(),
            capabilities_after: None,
            timings: Vec::new(),
            elapsed: std::time::Duration::ZERO,
            error,
        }
    }

    #[test]
    fn probes_become_connections() {
        assert_eq!(
            connection(&probe(Some(ProbeError::StarttlsNotOffered)), None),
            Connection::NoStarttls
        );
        assert_eq!(
            connection(
                &probe(Some(ProbeError::StarttlsRefused {
                    reply: "454 no".into()
                })),
                None
            ),
            Connection::NoStarttls
        );
        assert_eq!(
            connection(
                &probe(Some(ProbeError::Tls {
                    error: rustls::Error::HandshakeNotComplete
                })),
                None
            ),
            Connection::HandshakeFailed
        );
        assert_eq!(
            connection(
                &probe(Some(ProbeError::Connect {
                    addr: "127.0.0.1:25".parse().unwrap(),
                    source: Arc::new(std::io::Error::other("refused")),
                })),
                None
            ),
            Connection::Unreachable
        );
        assert_eq!(
            connection(
                &probe(Some(ProbeError::Closed {
                    step: Step::Greeting
                })),
                None
            ),
            Connection::Unreachable
        );
    }

    #[test]
    fn smtp_rules_apply_on_smtp_ports() {
        for p in [25, 465, 587] {
            assert_eq!(service_for_port(p), Service::Smtp);
        }
        for p in [443, 993, 995, 143, 110] {
            assert_eq!(service_for_port(p), Service::Other);
        }
    }
}
