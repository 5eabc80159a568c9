//! The RFC 7672 verifier and the RRset linters on untrusted input: a presented chain (the
//! certificates a server sends) and a TLSA RRset (what DNS returns). Nothing may panic; a
//! garbage chain is never authenticated by a record that does not match it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::dane::{
    lint, match_records, verify, DaneInput, DaneOutcome, Service, Tlsa,
};
use mailsec_core::HostName;
use pki_types::UnixTime;

fuzz_target!(|data: &[u8]| {
    // Layout: [n_tlsa] then n_tlsa records of [len][rdata], then certificates of [len_hi][len_lo][der].
    let Some((&n, mut rest)) = data.split_first() else { return };
    let mut tlsa = Vec::new();
    for _ in 0..(n % 8) {
        let Some((&len, tail)) = rest.split_first() else { break };
        let len = usize::from(len).min(tail.len());
        if let Ok(t) = Tlsa::from_rdata(&tail[..len]) {
            tlsa.push(t);
        }
        rest = &tail[len..];
    }
    let mut chain = Vec::new();
    while rest.len() >= 2 && chain.len() < 8 {
        let len = (usize::from(rest[0]) << 8 | usize::from(rest[1])).min(rest.len() - 2);
        chain.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    let refs = [HostName::parse("mx.example.com").expect("a host name")];
    for service in [Service::Smtp, Service::Other] {
        let outcome = verify(&DaneInput {
            chain: &chain,
            tlsa: &tlsa,
            reference_ids: &refs,
            service,
            now: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_780_272_000)),
            pkix_roots: &[],
        });
        if let DaneOutcome::Authenticated(a) = &outcome {
            // Whatever authenticated must match the certificate at the depth it names.
            let m = match_records(&chain, &tlsa, service);
            assert!(m.iter().any(|r| r.record == a.record && r.matches.contains(&a.depth)));
        }
        let _ = match_records(&chain, &tlsa, service);
    }
    let _ = lint::lint_rrset(&tlsa);
    let _ = lint::lint_against_chain(&tlsa, &chain, &[], &|_| true);
});
