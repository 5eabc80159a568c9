//! TLSA RDATA (wire) and presentation text (RFC 6698 §2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::dane::{Tlsa, TlsaRecord};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Tlsa::from_rdata(data) {
        assert_eq!(t.to_rdata(), data);
        let _ = t.usability();
        assert_eq!(t.to_string().parse::<Tlsa>().expect("rendered rdata parses"), t);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(r) = text.parse::<TlsaRecord>() {
            assert_eq!(r.to_string().parse::<TlsaRecord>().expect("rendered record parses").tlsa, r.tlsa);
        }
    }
});
