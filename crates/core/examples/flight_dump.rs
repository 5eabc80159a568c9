//! Prints what `tls_hello::parse_flight` reads in a captured server flight (a file of raw
//! bytes): `cargo run -p mailsec-core --example flight_dump -- FILE`. For writing the
//! `.expected.json` of a new vector by hand, after checking each value against the server's
//! configuration.

use mailsec_core::tls_hello::{KeyExchange, Progress, parse_flight, version};

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: flight_dump FILE");
        return std::process::ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("flight_dump: {path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let f = match parse_flight(&bytes) {
        Ok(Progress::Done(f)) => f,
        other => {
            println!("{other:?}");
            return std::process::ExitCode::SUCCESS;
        }
    };
    if let Some(a) = f.alert {
        println!("alert: level {} {}", a.level, a.name());
    }
    if let Some(h) = &f.server_hello {
        println!("version: {}", version::name(h.version()));
        println!("hello_retry_request: {}", h.is_hello_retry_request());
        println!("cipher_suite: {}", h.cipher_suite);
        println!("compression_method: {}", h.compression_method);
        println!("renegotiation_info: {:?}", h.renegotiation_info());
        println!("extended_master_secret: {}", h.extended_master_secret());
        println!("key_share: {:?}", h.key_share_group().map(|g| g.name()));
        let kinds: Vec<String> = h
            .extensions
            .iter()
            .map(|(k, _)| format!("0x{k:04x}"))
            .collect();
        println!("extensions: {}", kinds.join(" "));
    }
    println!("certificate: {}", f.certificate);
    if let Some(k) = &f.server_key_exchange {
        match k.key_exchange {
            KeyExchange::Dhe { prime_bits } => println!("dhe_prime_bits: {prime_bits}"),
            KeyExchange::Ecdhe { group } => println!("ecdhe_group: {group}"),
            ref other => println!("key_exchange: {other:?}"),
        }
        println!("signature: {:?}", k.signature.map(|s| s.name()));
    }
    println!("server_hello_done: {}", f.server_hello_done);
    println!("consumed: {} of {}", f.consumed, bytes.len());
    std::process::ExitCode::SUCCESS
}
