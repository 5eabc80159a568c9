//! The first round trip of a TLS handshake, sans-IO: a [`ClientHello`] that can offer anything
//! (weak suites, compression, SHA-1 signatures, curves rustls never offers) and a parser of the
//! server's first flight ([`parse_flight`]: ServerHello, Certificate skipped,
//! ServerKeyExchange, ServerHelloDone, alerts, HelloRetryRequest).
//!
//! The probe's TLS scan (internet.nl's mail-tls items, checks T3–T11) asks one question per
//! short handshake: "does the server accept *this* offer?". rustls cannot make such offers, so
//! the ClientHello is written here byte by byte and the answer is read up to the server's first
//! flight, never further (no key is ever derived from it).
//!
//! ```text
//!   ClientHello { version, suites, compression, groups, signature_algorithms, SNI,
//!                 renegotiation_info, extended_master_secret, supported_versions, key_share }
//!       │ encode_record()                       RFC 5246 §7.4.1.2, RFC 8446 §4.1.2
//!       v
//!   server ── bytes ──> parse_flight(&buf) ──> Progress::NeedMore | Progress::Done(Flight)
//!                         records (§6.2.1), alert (§7.2), ServerHello (§7.4.1.3, RFC 8446
//!                         §4.1.3, HelloRetryRequest §4.1.4), Certificate skipped (§7.4.2),
//!                         ServerKeyExchange (§7.4.3, RFC 8422 §5.4), ServerHelloDone (§7.4.5)
//! ```
//!
//! Bounded: a record may carry at most 2^14 + 2048 bytes (RFC 5246 §6.2.3), a handshake message
//! at most [`MAX_HANDSHAKE`], and the caller bounds the whole flight (what it buffers). Every
//! length is checked before it is used; nothing here panics on any input (property test and the
//! fuzz target `tls_flight`).

mod client;
mod codes;
mod server;

pub use client::{ClientHello, HelloError};
pub use codes::{
    CipherSuite, HashAlgorithm, KeyExchangeKind, NamedGroup, SignatureScheme, SuiteInfo, Weakness,
    ext, suites,
};
pub use server::{
    Alert, Flight, FlightError, KeyExchange, Progress, ServerHello, ServerKeyExchange,
    parse_flight, parse_server_key_exchange,
};

/// Largest handshake message the parser accepts (a Certificate message with a long chain fits;
/// rustls's own limit is 64 KiB).
pub const MAX_HANDSHAKE: usize = 64 * 1024;

/// `legacy_version`/`ProtocolVersion` values (RFC 5246 Appendix A.1, RFC 8446 §4.1.2).
pub mod version {
    /// SSL 3.0.
    pub const SSL3: u16 = 0x0300;
    /// TLS 1.0.
    pub const TLS10: u16 = 0x0301;
    /// TLS 1.1.
    pub const TLS11: u16 = 0x0302;
    /// TLS 1.2.
    pub const TLS12: u16 = 0x0303;
    /// TLS 1.3 (only in `supported_versions`, RFC 8446 §4.2.1).
    pub const TLS13: u16 = 0x0304;

    /// `TLSv1.2` and the like, as reports write versions; the code point in hex otherwise.
    pub fn name(v: u16) -> String {
        match v {
            SSL3 => "SSLv3".to_owned(),
            TLS10 => "TLSv1.0".to_owned(),
            TLS11 => "TLSv1.1".to_owned(),
            TLS12 => "TLSv1.2".to_owned(),
            TLS13 => "TLSv1.3".to_owned(),
            other => format!("0x{other:04x}"),
        }
    }
}
