//! The probe against the in-process lab: every MX host of the scenario table, by address, and
//! whole hosts through the lab's signed DNS.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mailsec_dns::{DnsConfig, Resolver, Response, Security, TrustAnchorSource};
use mailsec_lab::scenario::{Scenario, ZoneSecurity};
use mailsec_lab::{Lab, LabConfig};
use mailsec_probe::{ProbeError, Starttls, probe_addr, probe_host};

use crate::support::{config, within};

async fn lab() -> (Lab, Resolver, tempfile::TempDir) {
    let lab = Lab::start(LabConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = lab.write_files(dir.path()).unwrap();
    let resolver = Resolver::new(&DnsConfig {
        server: Some(lab.dns_addr()),
        trust_anchor: TrustAnchorSource::File(files.trust_anchor),
        timeout: Duration::from_secs(3),
        attempts: 1,
    })
    .await
    .unwrap();
    (lab, resolver, dir)
}

/// Every MX host of the table, probed at its address on the logical port 25: a STARTTLS host
/// presents exactly the chain the lab issued for it, a host without STARTTLS ends in
/// `StarttlsNotOffered`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lab_mx_presents_its_issued_chain_or_no_starttls() {
    let (lab, _resolver, _dir) = lab().await;
    let mut c = config();
    c.ports = lab.ports();
    let mut probed = 0;
    let mut problems = Vec::new();
    for s in lab.scenarios() {
        for (m, h) in s.mx.iter().zip(lab.mx_hosts(s.name)) {
            let addr = SocketAddr::new(IpAddr::V4(h.addr), 25);
            let p = within(probe_addr(addr, &h.host, Starttls::Smtp, &c)).await;
            probed += 1;
            assert_eq!((p.port, p.dialled_port), (25, lab.ports().smtp()));
            let chain: Vec<&[u8]> = p.chain.iter().map(|c| c.der.as_slice()).collect();
            let issued: Vec<&[u8]> = h.issued.chain.iter().map(|c| c.as_ref()).collect();
            let ok = if m.starttls {
                p.error.is_none()
                    && chain == issued
                    && p.authenticated_chain().is_some()
                    && p.starttls_offered == Some(true)
                    && p.sni_sent.as_deref() == Some(h.host.as_str())
            } else {
                matches!(p.error, Some(ProbeError::StarttlsNotOffered))
                    && p.result_type() == Some("starttls-not-supported")
                    && p.starttls_offered == Some(false)
                    && p.chain.is_empty()
            };
            if !ok {
                problems.push(format!(
                    "{} (starttls {}): error {:?}, {} certificates",
                    h.host,
                    m.starttls,
                    p.error.as_ref().map(ToString::to_string),
                    p.chain.len()
                ));
            }
        }
    }
    assert!(probed > 40, "only {probed} MX hosts probed");
    assert!(problems.is_empty(), "{problems:#?}");
}

fn scenario(name: &str) -> &'static Scenario {
    Scenario::find(name).unwrap()
}

/// Whole hosts through DNS: the A and AAAA outcomes with their DNSSEC status, one probe per
/// address, the greeting and both EHLO replies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_host_resolves_and_probes_every_address() {
    let (lab, resolver, _dir) = lab().await;
    let mut c = config();
    c.ports = lab.ports();
    for (name, security) in [
        ("sts-enforce", Security::Secure),
        ("dane-insecure", Security::Insecure),
    ] {
        let s = scenario(name);
        assert_eq!(
            s.zone == ZoneSecurity::Signed,
            security == Security::Secure,
            "table changed: {name}"
        );
        let h = &lab.mx_hosts(name)[0];
        let p = within(probe_host(&resolver, &h.host, 25, Starttls::Smtp, &c)).await;
        let Ok(Response::Records(a)) = &p.a else {
            panic!("{name}: A {:?}", p.a)
        };
        assert_eq!(a.records, [IpAddr::V4(h.addr)], "{name}");
        assert_eq!(a.security, security, "{name}");
        assert!(
            matches!(&p.aaaa, Ok(Response::NoData { security: s, .. }) if *s == security),
            "{name}: AAAA {:?}",
            p.aaaa
        );
        assert_eq!(p.addrs.len(), 1, "{name}");
        assert!(p.skipped.is_empty());
        let addr = &p.addrs[0];
        assert!(addr.error.is_none(), "{name}: {:?}", addr.error);
        assert_eq!(addr.addr, IpAddr::V4(h.addr));
        let chain: Vec<&[u8]> = addr.chain.iter().map(|c| c.der.as_slice()).collect();
        let issued: Vec<&[u8]> = h.issued.chain.iter().map(|c| c.as_ref()).collect();
        assert_eq!(chain, issued, "{name}");
        assert!(
            addr.greeting.as_ref().unwrap()[0].starts_with(&format!("220 {}", h.host)),
            "{name}: {:?}",
            addr.greeting
        );
        assert!(
            addr.capabilities_before
                .as_ref()
                .unwrap()
                .iter()
                .any(|l| l == "STARTTLS")
        );
        assert!(
            !addr
                .capabilities_after
                .as_ref()
                .unwrap()
                .iter()
                .any(|l| l == "STARTTLS")
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["a"]["status"], "records", "{json}");
        assert_eq!(json["a"]["security"], security.to_string());
        assert_eq!(json["dialled_port"], lab.ports().smtp());
        assert_eq!(
            json["addrs"][0]["chain"][0]["summary"]["dns_names"][0],
            h.host.as_str()
        );
    }
    // A host that does not exist: the denial is kept, nothing is probed.
    let p = within(probe_host(
        &resolver,
        "nx.sts-enforce.test",
        25,
        Starttls::Smtp,
        &c,
    ))
    .await;
    assert!(matches!(p.a, Ok(Response::NxDomain { .. })), "{:?}", p.a);
    assert!(p.addrs.is_empty());
}

/// A host without STARTTLS through DNS: `starttls-not-supported`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_host_without_starttls() {
    let (lab, resolver, _dir) = lab().await;
    let mut c = config();
    c.ports = lab.ports();
    let s = scenario("sts-mx-no-starttls");
    assert!(!s.mx[0].starttls, "table changed");
    let h = &lab.mx_hosts(s.name)[0];
    let p = within(probe_host(&resolver, &h.host, 25, Starttls::Smtp, &c)).await;
    assert_eq!(p.addrs.len(), 1);
    let addr = &p.addrs[0];
    assert!(
        matches!(addr.error, Some(ProbeError::StarttlsNotOffered)),
        "{:?}",
        addr.error
    );
    assert_eq!(addr.result_type(), Some("starttls-not-supported"));
    assert_eq!(addr.starttls_offered, Some(false));
    assert!(addr.capabilities_before.is_some() && addr.tls.is_none());
}
