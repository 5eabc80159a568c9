//! Cross-check: for every scenario, mailsec's DNSSEC verdict equals Unbound's on the same zones.
//!
//! Unbound (an independent validator) runs as a forwarder to the lab's DNS server with the lab's
//! root key as its only trust anchor; `dig` reads its verdict (AD bit, or SERVFAIL with an
//! extended DNS error). mailsec-dns queries the lab server directly and validates in process.

use std::time::Duration;

use mailsec_dns::{LookupError, RecordType, Response, Security};
use mailsec_lab::scenario::SCENARIOS;

use crate::{start, tool};

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
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let conf = dir.path().join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1@{port}\n  access-control: 127.0.0.0/8 allow\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"{dir}/unbound.log\"\n  ede: yes\n  val-log-level: 2\n  do-not-query-localhost: no\n  module-config: \"validator iterator\"\n  trust-anchor-file: \"{anchor}\"\n  local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  do-ip6: no\n  infra-host-ttl: 1\n  infra-cache-max-rtt: 1000\n  serve-expired: no\nforward-zone:\n  name: \".\"\n  forward-addr: {dns}\nremote-control:\n  control-enable: no\n",
            dir = dir.path().display(),
            anchor = lab.files.trust_anchor.display(),
            dns = lab.lab.dns_addr().to_string().replace(':', "@"),
        ),
    )
    .unwrap();
    let check = tool("unbound-checkconf", &[conf.display().to_string()], b"").await;
    assert!(
        check.status.success(),
        "unbound-checkconf: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut unbound = std::process::Command::new("unbound")
        .args(["-d", "-c", conf.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run unbound: scripts/test installs it");
    tokio::time::sleep(Duration::from_millis(500)).await;

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
        let time = if times_out(name) {
            "+time=30"
        } else {
            "+time=5"
        };
        let dig = tool(
            "dig",
            &[
                "@127.0.0.1".to_owned(),
                "-p".into(),
                port.to_string(),
                "+dnssec".into(),
                time.into(),
                "+tries=1".into(),
                name.clone(),
                rtype.to_string(),
            ],
            b"",
        )
        .await;
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
    let alive = unbound.try_wait().unwrap().is_none();
    let _ = unbound.kill();
    let _ = unbound.wait();
    assert!(alive, "Unbound exited during the comparison");
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
