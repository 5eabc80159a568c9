//! The SMTP servers and the TLSA records the zones publish for them, checked with
//! `openssl s_client -starttls smtp -dane_tlsa_*` (OpenSSL's own DANE code) as the oracle.

use mailsec_dns::Response;

use crate::{start, tool};

struct Probe {
    ok: bool,
    text: String,
}

async fn s_client(lab: &crate::Running, scenario: &str, tlsa: &[String], extra: &[&str]) -> Probe {
    let host = &lab.lab.mx_hosts(scenario)[0];
    let mut args = vec![
        "s_client".to_owned(),
        "-connect".to_owned(),
        format!("{}:{}", host.addr, lab.lab.ports().smtp()),
        "-starttls".to_owned(),
        "smtp".to_owned(),
        "-servername".to_owned(),
        host.host.clone(),
        "-CAfile".to_owned(),
        lab.files.ca.display().to_string(),
        "-verify_return_error".to_owned(),
    ];
    if !tlsa.is_empty() {
        args.extend(["-dane_tlsa_domain".to_owned(), host.host.clone()]);
        for t in tlsa {
            args.extend(["-dane_tlsa_rrdata".to_owned(), t.clone()]);
        }
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let o = tool("openssl", &args, b"QUIT\r\n").await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Probe {
        ok: o.status.success() && text.contains("Verification: OK"),
        text,
    }
}

async fn tlsa_of(lab: &crate::Running, scenario: &str) -> Vec<String> {
    let host = &lab.lab.mx_hosts(scenario)[0].host;
    match lab
        .resolver
        .tlsa(&format!("_25._tcp.{host}"))
        .await
        .unwrap()
    {
        Response::Records(a) => a.records.iter().map(ToString::to_string).collect(),
        other => panic!("{scenario}: no TLSA: {other:?}"),
    }
}

#[tokio::test]
async fn published_tlsa_matches_served_chain_per_openssl() {
    let lab = start().await;
    for (scenario, expect_ok, needle) in [
        ("dane-ee", true, "matched EE certificate"),
        ("dane-ta", true, "matched TA certificate"),
        ("dane-ee-and-ta", true, "matched"),
        ("dane-ee-expired", true, "matched EE certificate"),
        ("dane-ee-wrong", false, "no matching DANE TLSA records"),
        ("dane-ta-wrong-name", false, "hostname mismatch"),
        // OpenSSL prefers SHA2-512 over SHA2-256 per (usage, selector) by default.
        (
            "dane-digest-agility",
            false,
            "no matching DANE TLSA records",
        ),
        ("dane-ta-not-served", false, "no matching DANE TLSA records"),
    ] {
        let tlsa = tlsa_of(&lab, scenario).await;
        let p = s_client(&lab, scenario, &tlsa, &[]).await;
        assert_eq!(p.ok, expect_ok, "{scenario}:\n{}", p.text);
        assert!(
            p.text.contains(needle),
            "{scenario}: expected `{needle}` in\n{}",
            p.text
        );
    }
}

#[tokio::test]
async fn pkix_view_of_the_mx_certificates() {
    let lab = start().await;
    let good = s_client(
        &lab,
        "sts-enforce",
        &[],
        &["-verify_hostname", "mx.sts-enforce.test"],
    )
    .await;
    assert!(good.ok, "{}", good.text);
    for (scenario, needle) in [
        ("sts-mx-wrong-cert", "hostname mismatch"),
        ("sts-mx-expired-cert", "certificate has expired"),
        (
            "sts-mx-untrusted-cert",
            "unable to get local issuer certificate",
        ),
    ] {
        let host = lab.lab.mx_hosts(scenario)[0].host.clone();
        let p = s_client(&lab, scenario, &[], &["-verify_hostname", &host]).await;
        assert!(
            !p.ok && p.text.contains(needle),
            "{scenario}: expected `{needle}` in\n{}",
            p.text
        );
    }
    let none = s_client(&lab, "sts-mx-no-starttls", &[], &[]).await;
    assert!(!none.ok, "{}", none.text);
    assert!(none.text.contains("STARTTLS"), "{}", none.text);
}
