//! DNSSEC verdicts of the lab zones through mailsec-dns.

use mailsec_dns::{LookupError, Response, Security};

use crate::start;

#[tokio::test]
async fn secure_insecure_bogus_and_denials() {
    let lab = start().await;
    let r = &lab.resolver;
    let mx = r.mx("dane-ee.test").await.unwrap();
    assert_eq!(mx.security(), Security::Secure, "{mx:?}");
    assert_eq!(mx.records()[0].1, "mx.dane-ee.test");
    let tlsa = r.tlsa("_25._tcp.mx.dane-ee.test").await.unwrap();
    assert_eq!(tlsa.security(), Security::Secure);
    assert_eq!(tlsa.records().len(), 1);

    let insecure = r.tlsa("_25._tcp.mx.dane-insecure.test").await.unwrap();
    assert_eq!(insecure.security(), Security::Insecure, "{insecure:?}");

    let bogus = r.tlsa("_25._tcp.mx.dane-bogus-tlsa.test").await;
    assert!(matches!(bogus, Err(LookupError::Bogus)), "{bogus:?}");
    // The rest of the bogus zone is fine.
    assert_eq!(
        r.mx("dane-bogus-tlsa.test").await.unwrap().security(),
        Security::Secure
    );
    assert!(matches!(
        r.mx("dane-bogus-mx.test").await,
        Err(LookupError::Bogus)
    ));

    let nx = r.tlsa("_25._tcp.nope.dane-ee.test").await.unwrap();
    assert!(
        matches!(
            nx,
            Response::NxDomain {
                security: Security::Secure,
                ..
            }
        ),
        "{nx:?}"
    );
    let nodata = r.tlsa("_25._tcp.mx.dane-no-tlsa.test").await;
    assert!(
        matches!(
            nodata,
            Ok(Response::NoData {
                security: Security::Secure,
                ..
            }) | Ok(Response::NxDomain {
                security: Security::Secure,
                ..
            })
        ),
        "{nodata:?}"
    );
    let nodata = r.txt("_mta-sts.sts-txt-nodata.test").await.unwrap();
    assert!(
        matches!(
            nodata,
            Response::NoData {
                security: Security::Secure,
                ..
            }
        ),
        "{nodata:?}"
    );
}

#[tokio::test]
async fn txt_faults_stay_distinct() {
    let lab = start().await;
    let r = &lab.resolver;
    let t = r.txt("_mta-sts.sts-split-txt.test").await.unwrap();
    let joined: Vec<Vec<u8>> = t.records().iter().map(|x| x.concat()).collect();
    assert!(
        joined.contains(&b"v=STSv1; id=split1;".to_vec()),
        "{joined:?}"
    );
    assert!(matches!(
        r.txt("_mta-sts.sts-txt-servfail.test").await,
        Err(LookupError::ServFail)
    ));
    assert!(matches!(
        r.txt("_mta-sts.sts-txt-timeout.test").await,
        Err(LookupError::Timeout)
    ));
    let absent = r.txt("_mta-sts.sts-no-txt.test").await.unwrap();
    assert!(
        matches!(
            absent,
            Response::NxDomain {
                security: Security::Secure,
                ..
            }
        ),
        "{absent:?}"
    );
}

#[tokio::test]
async fn cnames_are_followed_and_keep_their_security() {
    let lab = start().await;
    let t = lab.resolver.txt("_mta-sts.sts-cname.test").await.unwrap();
    let Response::Records(a) = t else {
        panic!("{t:?}")
    };
    assert_eq!(a.security, Security::Secure);
    assert_eq!(a.canonical_name, "_mta-sts.sts-enforce.test.");
    assert_eq!(
        a.cnames,
        [(
            "_mta-sts.sts-cname.test.".to_owned(),
            "_mta-sts.sts-enforce.test.".to_owned()
        )]
    );
    assert_eq!(a.records[0].concat(), b"v=STSv1; id=20261129T000000;");
}

#[tokio::test]
async fn a_ds_trust_anchor_works_like_the_key() {
    let lab = start().await;
    let resolver = ds_resolver(&lab).await;
    assert_eq!(
        resolver.mx("dane-ee.test").await.unwrap().security(),
        Security::Secure
    );
    assert!(matches!(
        resolver.tlsa("_25._tcp.mx.dane-bogus-tlsa.test").await,
        Err(LookupError::Bogus)
    ));
}

#[tokio::test]
async fn a_renewed_resolver_validates_like_the_first() {
    // The resolver replaces hickory's underneath every so many lookups (to bound its
    // validation cache); the new one must keep the trust anchors: secure stays secure, bogus
    // stays bogus, never an unvalidated answer.
    let lab = start().await;
    let resolver = ds_resolver(&lab).await;
    resolver.renew_every(1);
    for _ in 0..3 {
        assert_eq!(
            resolver.mx("dane-ee.test").await.unwrap().security(),
            Security::Secure
        );
        assert_eq!(
            resolver
                .tlsa("_25._tcp.mx.dane-insecure.test")
                .await
                .unwrap()
                .security(),
            Security::Insecure
        );
        assert!(matches!(
            resolver.tlsa("_25._tcp.mx.dane-bogus-tlsa.test").await,
            Err(LookupError::Bogus)
        ));
    }
    assert_eq!(resolver.renewals(), 9);
}

/// A resolver whose trust anchor is the lab root's DS record (the key is fetched and matched).
async fn ds_resolver(lab: &crate::Running) -> mailsec_dns::Resolver {
    mailsec_dns::Resolver::new(&mailsec_dns::DnsConfig {
        server: Some(lab.lab.dns_addr()),
        trust_anchor: mailsec_dns::TrustAnchorSource::File(lab.files.trust_anchor_ds.clone()),
        timeout: std::time::Duration::from_secs(1),
        attempts: 1,
    })
    .await
    .unwrap()
}
