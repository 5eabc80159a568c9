//! Cross-check: for every scenario, mailsec's DNSSEC verdict equals Unbound's on the same zones.
//!
//! Unbound (an independent validator) runs as a forwarder to the lab's DNS server with the lab's
//! root key as its only trust anchor; `dig` reads its verdict (AD bit, or SERVFAIL with an
//! extended DNS error). mailsec-dns queries the lab server directly and validates in process.

use mailsec_dns::{LookupError, RecordType, Response, Security};
use mailsec_lab::scenario::SCENARIOS;

use crate::{Unbound, start};

fn mailsec_verdict<T>(r: &Result<Response<T>, LookupError>) -> String {
    // Indeterminate has a line of its own: Unbound never reports it, so it shows up as a
    // disagreement instead of passing for "insecure".
    let sec = |s: Security| match s {
        Security::Secure => "secure",
        Security::Insecure => "insecure",
        Security::Indeterminate => "indeterminate",
        Security::Bogus => "bogus",
    };
    match r {
        Ok(Response::Records(a)) => format!("NOERROR/{}", sec(a.security)),
        Ok(Response::NxDomain { security, .. }) => format!("NXDOMAIN/{}", sec(*security)),
        Ok(Response::NoData { security, .. }) => format!("NODATA/{}", sec(*security)),
        Err(LookupError::Bogus) => "SERVFAIL/bogus".to_owned(),
        Err(LookupError::Indeterminate) => "SERVFAIL/indeterminate".to_owned(),
        Err(LookupError::Timeout) => "TIMEOUT/-".to_owned(),
        Err(_) => "SERVFAIL/-".to_owned(),
    }
}

#[tokio::test]
async fn mailsec_and_unbound_agree_on_every_scenario() {
    let lab = start().await;
    let unbound = Unbound::start(
        &lab.files,
        lab.lab.dns_addr(),
        "  val-log-level: 2\n  infra-host-ttl: 1\n  infra-cache-max-rtt: 1000\n  serve-expired: no\n",
    )
    .await;

    let mut queries = Vec::new();
    for s in SCENARIOS {
        let d = s.domain();
        queries.push((d.clone(), RecordType::MX));
        queries.push((format!("nope.{d}"), RecordType::A));
        queries.push((format!("_mta-sts.{d}"), RecordType::TXT));
        queries.push((format!("_smtp._tls.{d}"), RecordType::TXT));
        for m in s.mx {
            queries.push((format!("{}.{d}", m.label), RecordType::A));
            queries.push((format!("_25._tcp.{}.{d}", m.label), RecordType::TLSA));
            // Another type at the TLSA name (D3): NODATA beside records, or the lab's bogus
            // denial, which Unbound must find bogus too.
            queries.push((format!("_25._tcp.{}.{d}", m.label), RecordType::A));
        }
    }
    // A forwarder that times out is marked unresponsive by Unbound for a while, and the lab
    // serves every zone from one address: ask the names that time out last.
    let times_out = |name: &str| {
        SCENARIOS.iter().any(|s| {
            s.sts_txt == mailsec_lab::scenario::StsTxt::Timeout
                && name == format!("_mta-sts.{}", s.domain())
        })
    };
    queries.sort_by_key(|(name, _)| times_out(name));
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (name, rtype) in &queries {
        // A name the lab never answers: give Unbound time to give up and answer SERVFAIL
        // itself, so that dig reads a reply, not its own timeout.
        let time = if times_out(name) { 30 } else { 5 };
        let dig = unbound.dig(name, &rtype.to_string(), time).await;
        let ours = mailsec_verdict(&lab.resolver.lookup(name, *rtype).await);
        match mailsec_lab::oracle::dig_verdict(&String::from_utf8_lossy(&dig.stdout)) {
            Ok(theirs) if theirs == ours => {}
            Ok(theirs) => {
                mismatches.push(format!("{name} {rtype}: mailsec {ours}, unbound {theirs}"))
            }
            Err(e) => mismatches.push(format!(
                "{name} {rtype}: mailsec {ours}, unbound gave no verdict ({e})"
            )),
        }
        compared += 1;
    }
    if let Err(log) = unbound.stop() {
        panic!("Unbound exited during the comparison; its log:\n{log}");
    }
    // Every query of the table: per scenario its MX, a missing name, the two TXT names, and
    // the address, TLSA and A-at-the-TLSA-name of each MX host.
    let expected: usize = SCENARIOS.iter().map(|s| 4 + 3 * s.mx.len()).sum();
    assert_eq!(compared, expected);
    assert!(
        mismatches.is_empty(),
        "{} of {compared} verdicts differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
