//! Writes one of the scan's ClientHellos (as records) to stdout, for scripts/capture-tls-flights:
//! `cargo run -p mailsec-core --example client_hello -- <kind> [sni]`, kind one of `baseline`,
//! `weak`, `dhe`, `weak-curves`, `sha1`, `tls13`. The random is fixed (the vectors must not
//! change from one capture to the next for the same server).

use std::io::Write;

use mailsec_core::tls_hello::{ClientHello, NamedGroup, SignatureScheme, suites, version};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let sni = args.next();
    let random = [0x42; 32];
    let mut hello = match kind.as_str() {
        "baseline" => ClientHello::tls12(random, suites::ECDHE),
        "weak" => ClientHello::tls12(random, suites::WEAK),
        "dhe" => ClientHello::tls12(random, suites::DHE),
        "weak-curves" => {
            let mut h = ClientHello::tls12(random, suites::ECDHE);
            h.supported_groups = NamedGroup::WEAK.iter().map(|g| g.0).collect();
            h
        }
        "sha1" => {
            let mut h = ClientHello::tls12(random, &[suites::ECDHE, suites::DHE].concat());
            h.signature_algorithms = SignatureScheme::WEAK.iter().map(|s| s.0).collect();
            h
        }
        "tls13" => {
            // An X25519 share that is not a valid key exchange for us (no private key): only
            // the server's choice is read. 32 bytes of 9 is the curve's base point.
            let mut h = ClientHello::tls12(random, &[0x1301, 0x1302, 0x1303]);
            h.supported_versions = vec![version::TLS13];
            let mut base = [0u8; 32];
            base[0] = 9;
            h.key_shares = vec![(NamedGroup::X25519.0, base.to_vec())];
            h.session_id = vec![0x42; 32];
            h
        }
        _ => {
            eprintln!("usage: client_hello baseline|weak|dhe|weak-curves|sha1|tls13 [sni]");
            return std::process::ExitCode::from(2);
        }
    };
    // DEFLATE too, except for TLS 1.3 (RFC 8446 §4.1.2: exactly one method, null).
    if hello.supported_versions.is_empty() {
        hello.compression_methods = vec![1, 0];
    }
    hello.server_name = sni;
    match hello.encode_record() {
        Ok(bytes) => {
            if std::io::stdout().write_all(&bytes).is_err() {
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("client_hello: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
