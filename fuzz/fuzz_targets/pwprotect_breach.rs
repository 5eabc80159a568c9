//! pwprotect's breach data as downloaded: Pwned Passwords lines, store headers and buckets,
//! filter headers and shard entries (an accepted entry is then looked up).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pwprotect_core::breach::{FULL_RECORD, HashKind, RECORD, find, parse_header, parse_line, range_line};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        for kind in [HashKind::Sha1, HashKind::Ntlm] {
            let _ = parse_line(line, kind, None);
            let _ = parse_line(line, kind, Some("5BAA6"));
        }
    }
    let _ = parse_header(data, data.len() as u64);
    let key = data.iter().fold(0u64, |k, b| k.rotate_left(8) ^ u64::from(*b));
    let _ = find(data, RECORD, key);
    let _ = find(data, FULL_RECORD, key);
    let _ = range_line(HashKind::Sha1, 0, data);
    let _ = range_line(HashKind::Ntlm, 0, data);
    let _ = pwprotect_core::fuse::Header::parse(data);
    if let Ok((d, n)) = pwprotect_core::fuse::parse_shard(0, data)
        && n > 0
        && n <= 1 << 20
    {
        let shard = xorf::BinaryFuse16 {
            descriptor: d,
            fingerprints: vec![0u16; n as usize].into_boxed_slice(),
        };
        let _ = pwprotect_core::fuse::may_contain(Some(&shard), key);
    }
});
