//! `_mta-sts` TXT records (RFC 8461 §3.1), alone and as a record set split on NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::mta_sts::{discover, lint_record, lint_record_set, StsRecord};

fuzz_target!(|data: &[u8]| {
    let linted = lint_record(data);
    if let Some(r) = linted.parsed {
        assert_eq!(r.to_string().parse::<StsRecord>().expect("rendered record parses"), r);
    }
    let set: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let _ = lint_record_set(set.iter().copied());
    let _ = discover(set.iter().copied());
});
