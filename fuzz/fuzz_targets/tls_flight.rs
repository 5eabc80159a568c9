//! The server's first TLS flight as the TLS scan reads it (ServerHello, Certificate skipped,
//! ServerKeyExchange, ServerHelloDone, alerts, HelloRetryRequest: RFC 5246 §7.4, RFC 8446
//! §4.1.3), fed as the scan feeds it: the whole buffer again after every read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_core::tls_hello::{
    parse_flight, parse_server_key_exchange, KeyExchangeKind, Progress,
};

fuzz_target!(|data: &[u8]| {
    // The first byte says where reads end (the scan sees the flight grow), the rest is the
    // server's stream.
    let Some((&knob, stream)) = data.split_first() else {
        return;
    };
    let step = 1 + usize::from(knob);
    let mut end = 0;
    while end < stream.len() {
        end = (end + step).min(stream.len());
        match parse_flight(&stream[..end]) {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Done(f)) => {
                assert!(f.consumed <= end);
                if let Some(h) = &f.server_hello {
                    let _ = (h.version(), h.renegotiation_info(), h.key_share_group());
                    let _ = (h.cipher_suite.name(), h.cipher_suite.weakness());
                }
                break;
            }
            Err(_) => break,
        }
    }
    for kex in [KeyExchangeKind::Dhe, KeyExchangeKind::Ecdhe] {
        for version in [0x0301, 0x0303] {
            let _ = parse_server_key_exchange(stream, kex, version, knob & 1 == 0);
        }
    }
});
