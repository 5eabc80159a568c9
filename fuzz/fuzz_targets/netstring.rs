//! Socketmap streams: netstring frames and requests, as a daemon reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::socketmap::{decode, Request};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some(frame)) = decode(rest, 4096) {
        assert!(frame.consumed <= rest.len());
        let _ = Request::parse(frame.payload(rest));
        rest = &rest[frame.consumed..];
    }
});
