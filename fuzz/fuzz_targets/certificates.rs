//! Certificate chains and public keys (PEM or DER) for TLSA generation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::dane::{associate, parse_certificates, parse_public_key, Matching, Selector};

fuzz_target!(|data: &[u8]| {
    if let Ok(chain) = parse_certificates(data) {
        for c in &chain {
            let _ = associate(c.selected(Selector::Spki).expect("spki"), Matching::Sha256);
        }
    }
    let _ = parse_public_key(data);
});
