//! `_smtp._tls` TXT records (RFC 8460 §3), and the figures `sts plan` reads from reports (§4).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::tlsrpt::{discover, lint_record};

fuzz_target!(|data: &[u8]| {
    let linted = lint_record(data);
    assert_eq!(linted.parsed.is_some(), !linted.has_errors());
    let _ = discover(data.split(|&b| b == 0));
    if let Ok(Some(f)) = mailsec_core::tlsrpt::failures::figures_for(data, "company-y.example") {
        assert!(!f.end.is_empty());
    }
});
