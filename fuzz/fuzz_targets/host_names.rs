//! Host names and MX patterns (RFC 5321 §4.1.2, RFC 8461 §4.1), including IDN conversion.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::mta_sts::MxPattern;
use mailsec_core::HostName;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(h) = HostName::parse(text) {
        // Normal form is a fixed point.
        assert_eq!(HostName::parse(h.as_str()).as_ref(), Ok(&h));
    }
    if let Ok(p) = MxPattern::parse(text) {
        assert_eq!(MxPattern::parse(&p.to_string()).as_ref(), Ok(&p));
    }
});
