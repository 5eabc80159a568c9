//! `_smtp._tls` TXT records (RFC 8460 §3), and the figures `sts plan` reads from reports (§4).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::tlsrpt::{discover, lint_record};

fuzz_target!(|data: &[u8]| {
    let linted = lint_record(data);
    assert_eq!(linted.parsed.is_some(), !linted.has_errors());
    let _ = discover(data.split(|&b| b == 0));
    // The normal form is a fixed point: normalising it again changes nothing.
    if let Ok(v) = mailsec_core::tlsrpt::report::normalise(data) {
        let again = mailsec_core::tlsrpt::report::normalise(v.to_string().as_bytes())
            .expect("a normal form is a report");
        assert_eq!(again, v);
    }
    if let Ok(Some(f)) = mailsec_core::tlsrpt::failures::figures_for(data, "company-y.example") {
        assert!(!f.end.is_empty());
    }
});
