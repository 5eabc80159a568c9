//! What to probe with: the STARTTLS dialect, the limits and the TLS knobs.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use mailsec_core::HostName;
use mailsec_core::ports::PortMap;
use rustls::SignatureScheme;
use rustls::client::danger::ServerCertVerifier;

use crate::reply::ReplyLimits;

/// How TLS is started on the connection.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Starttls {
    /// SMTP `STARTTLS` (RFC 3207), after the banner and EHLO (RFC 5321 §4.2, §4.1.1.1).
    Smtp,
    /// IMAP `STARTTLS` (RFC 3501 §6.2.1, RFC 9051 §6.2.1), after the greeting and `CAPABILITY`.
    Imap,
    /// POP3 `STLS` (RFC 2595 §4), after the greeting and `CAPA` (RFC 2449).
    Pop3,
    /// Implicit TLS (RFC 8314 §3.3): the handshake starts at once. On the logical ports 465,
    /// 993 and 995 the SMTP banner and EHLO, the IMAP greeting and `CAPABILITY`, or the POP3
    /// greeting and `CAPA` are read after the handshake; on any other port (443) nothing is.
    None,
}

impl Starttls {
    /// The dialect of a well-known port: 25 and 587 SMTP, 143 IMAP, 110 POP3; implicit TLS for
    /// every other port (443, 465, 993, 995).
    pub fn for_port(port: u16) -> Self {
        match port {
            25 | 587 => Self::Smtp,
            143 => Self::Imap,
            110 => Self::Pop3,
            _ => Self::None,
        }
    }

    /// The keyword: `smtp`, `imap`, `pop3` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "smtp",
            Self::Imap => "imap",
            Self::Pop3 => "pop3",
            Self::None => "none",
        }
    }
}

impl fmt::Display for Starttls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown STARTTLS dialect name.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("STARTTLS dialect {}: expected smtp, imap, pop3 or none", mailsec_core::diag::quote(.0))]
pub struct StarttlsError(pub String);

impl FromStr for Starttls {
    type Err = StarttlsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "smtp" => Ok(Self::Smtp),
            "imap" => Ok(Self::Imap),
            "pop3" => Ok(Self::Pop3),
            "none" => Ok(Self::None),
            _ => Err(StarttlsError(s.to_owned())),
        }
    }
}

/// Limits and knobs of a probe. Every wait and every buffer is bounded by one of these.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// Bound on the TCP connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Bound on each step after connecting: one reply (the banner, EHLO, STARTTLS, ...) or the
    /// TLS handshake. Default 30 s (RFC 5321 §4.5.3.2 allows servers minutes; a probe that
    /// waits that long for one host is of no use).
    pub step_timeout: Duration,
    /// Bound on the whole probe of one address, from connecting to QUIT. Default 60 s.
    pub deadline: Duration,
    /// Longest reply line, CRLF included. RFC 5321 §4.5.3.1.5 says 512; default 4096.
    pub max_line: usize,
    /// Most lines in one reply. Default 256.
    pub max_lines: usize,
    /// Most application bytes read from the server over the whole session, before and after
    /// TLS. Default 64 KiB.
    pub max_read: usize,
    /// Most certificates in the presented chain. Default 32.
    pub max_chain: usize,
    /// Most bytes of DER in the presented chain. Default 64 KiB (rustls refuses a handshake
    /// message over 64 KiB anyway).
    pub max_chain_bytes: usize,
    /// The name sent with EHLO (RFC 5321 §4.1.1.1: a fully qualified domain name or an address
    /// literal). Default [`default_ehlo_name`].
    pub ehlo_name: String,
    /// ALPN protocols to offer (RFC 7301), none by default.
    pub alpn: Vec<Vec<u8>>,
    /// Where to connect instead of the logical port (labs and tests only).
    pub ports: PortMap,
    /// How many addresses of one host are probed at once. Default 8.
    pub max_concurrency: usize,
    /// How many addresses of one host are probed at all; the others are listed as skipped.
    /// Default 16.
    pub max_addresses: usize,
    /// The certificate verifier. `None` (the default) records the chain and accepts it, while
    /// still checking the handshake signatures: the probe observes, the caller decides from the
    /// captured chain. `Some` plugs in an enforcing verifier (DANE, WebPKI); the chain is
    /// recorded before it is called.
    pub verifier: Option<Arc<dyn ServerCertVerifier>>,
    /// The signature schemes offered (RFC 8446 §4.2.3 `signature_algorithms`; for TLS 1.2 also
    /// the cipher suites, RFC 5246 §7.4.2). `None` (the default) offers every scheme the
    /// provider verifies. A subset ([`RSA_SCHEMES`], [`ECDSA_SCHEMES`]) makes a server that holds
    /// certificates of several key types present the one for that subset.
    pub signature_schemes: Option<Vec<SignatureScheme>>,
    /// Whether a checker that probes with this configuration also scans the TLS parameters of
    /// every address that completed a handshake ([`crate::scan_tls`], checks T3–T11: about ten
    /// more handshakes per address). [`crate::probe_addr`] itself ignores it. Default off.
    pub tls_scan: bool,
}

/// The RSA signature schemes (RSASSA-PSS first, then PKCS#1 v1.5, RFC 8446 §4.2.3).
pub const RSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

/// The ECDSA signature schemes (RFC 8446 §4.2.3).
pub const ECDSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
];

impl ProbeConfig {
    /// The defaults listed on each field.
    pub fn new() -> Self {
        let limits = ReplyLimits::default();
        Self {
            connect_timeout: Duration::from_secs(10),
            step_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(60),
            max_line: limits.max_line,
            max_lines: limits.max_lines,
            max_read: 64 * 1024,
            max_chain: 32,
            max_chain_bytes: 64 * 1024,
            ehlo_name: default_ehlo_name(),
            alpn: Vec::new(),
            ports: PortMap::new(),
            max_concurrency: 8,
            max_addresses: 16,
            verifier: None,
            signature_schemes: None,
            tls_scan: false,
        }
    }

    /// The reply limits of this configuration.
    pub fn reply_limits(&self) -> ReplyLimits {
        ReplyLimits {
            max_line: self.max_line,
            max_lines: self.max_lines,
        }
    }
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The machine's host name when it is a fully qualified domain name (RFC 5321 §4.1.4 wants one
/// in EHLO), else `mailsec.invalid` (RFC 2606: a name that cannot exist).
pub fn default_ehlo_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| name.contains('.') && is_ehlo_name(name))
        .unwrap_or_else(|| FALLBACK_EHLO_NAME.to_owned())
}

/// True for a valid EHLO argument (RFC 5321 §4.1.1.1): an ASCII domain or an address literal
/// (`[192.0.2.1]`, `[IPv6:2001:db8::1]`, §4.1.3).
pub(crate) fn is_ehlo_name(name: &str) -> bool {
    if let Some(literal) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return match literal.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => literal.parse::<std::net::Ipv4Addr>().is_ok(),
        };
    }
    HostName::parse_ascii_strict(name).is_ok()
}

const FALLBACK_EHLO_NAME: &str = "mailsec.invalid";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_per_port() {
        for (port, want) in [
            (25, Starttls::Smtp),
            (587, Starttls::Smtp),
            (143, Starttls::Imap),
            (110, Starttls::Pop3),
            (443, Starttls::None),
            (465, Starttls::None),
            (993, Starttls::None),
            (995, Starttls::None),
        ] {
            assert_eq!(Starttls::for_port(port), want, "{port}");
            assert_eq!(want.to_string().parse::<Starttls>(), Ok(want));
        }
        assert_eq!("SMTP".parse::<Starttls>(), Ok(Starttls::Smtp));
        assert!("ftp".parse::<Starttls>().is_err());
    }

    #[test]
    fn ehlo_names() {
        for (name, ok) in [
            ("mx.example.com", true),
            ("mailsec.invalid", true),
            ("[192.0.2.1]", true),
            ("[IPv6:2001:db8::1]", true),
            ("[2001:db8::1]", false),
            ("a b", false),
            ("x\r\nMAIL FROM:<a@b>", false),
            ("", false),
            ("bücher.example", false),
        ] {
            assert_eq!(is_ehlo_name(name), ok, "{name:?}");
        }
        assert!(is_ehlo_name(&default_ehlo_name()));
    }
}
