//! MTA-STS policy bodies (RFC 8461 §3.2): the linter and the strict parser must agree, and a
//! valid policy must survive its own rendering.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::mta_sts::{lint_mx_coverage, lint_policy, Policy};
use mailsec_core::HostName;

fuzz_target!(|data: &[u8]| {
    let linted = lint_policy(data);
    assert_eq!(linted.parsed.is_some(), !linted.has_errors());
    if let Some(p) = linted.parsed {
        let again = Policy::parse(p.to_string().as_bytes()).expect("rendered policy parses");
        assert_eq!(again.mx, p.mx);
        let host = HostName::parse("mx.example.com").expect("static name");
        let _ = lint_mx_coverage(&p, &[host.clone()], Some(&host));
    }
});
