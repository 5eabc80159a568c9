//! pwprotect's signed policy files as an agent reads them from a server: the envelope, its
//! base64 and signature, and (as if the signature held) the payload's JSON and limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pwprotect_core::signed::{PolicyDocument, verify};

/// The public key of fuzz/corpus/pwprotect_signed's seed (signed with a throwaway key).
const PUBLIC: [u8; 32] = [
    0xf4, 0xf9, 0xf7, 0xd0, 0x80, 0x99, 0xf8, 0xae, 0x58, 0x33, 0xce, 0x3c, 0x30, 0x27, 0xac,
    0x30, 0x13, 0xac, 0x08, 0x6d, 0xf0, 0x55, 0xd2, 0x63, 0xe3, 0x67, 0x00, 0x90, 0x78, 0x10,
    0x29, 0x18,
];

fuzz_target!(|data: &[u8]| {
    let _ = verify(data, &PUBLIC);
    if let Ok(doc) = serde_json::from_slice::<PolicyDocument>(data)
        && doc.check().is_ok()
    {
        let _ = doc.policy();
    }
});
