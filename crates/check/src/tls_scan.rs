//! Checks T3–T11 (internet.nl's mail-tls items) from the TLS scan of one address
//! ([`mailsec_probe::scan_tls`]): pure decisions, each finding with the setting that fixes it
//! in Postfix (OpenSSL) where there is one.
//!
//! | ID | fires when | severity |
//! |---|---|---|
//! | T3 | a NULL, export, anonymous, RC4, DES/3DES or static-RSA suite is accepted | warning |
//! | T4 | the server follows the client's order of suites | info |
//! | T5 | a DHE prime under 2048 bits, or a curve under 256 bits, is accepted | warning |
//! | T6 | the key exchange is signed with SHA-1 or MD5 | warning |
//! | T7 | TLS compression is chosen | warning |
//! | T8 | no `renegotiation_info` (RFC 5746) | warning |
//! | T9 | a ClientHello inside the session is answered with a ServerHello | warning |
//! | T10 | 0-RTT data is accepted on a resumed session | warning |
//! | T11 | no extended master secret (RFC 7627) | info |
//! | T17 | an OCSP response is stapled (from the main probe, [`ocsp_finding`]) | info |
//!
//! A server without TLS 1.2 or older has nothing for T3–T9 and T11 to find (TLS 1.3 has no
//! weak suites, compression or renegotiation, and always binds the session hash). Questions the
//! scan could not answer are said in an information finding, never counted as passed or
//! failed.

use mailsec_core::{Check, Diagnostic, Severity};
use mailsec_probe::{AddrProbe, CipherOrder, EarlyData, Renegotiation, TlsScan};

/// Smallest DHE prime accepted without a warning (T5; internet.nl, RFC 9325 §4.1: 2048 bits).
pub const MIN_DHE_BITS: u32 = 2048;

/// One finding with its fix.
#[derive(Clone, Debug)]
pub struct ScanFinding {
    /// The finding; its message starts with the address dialled.
    pub diagnostic: Diagnostic,
    /// The setting that fixes it.
    pub fix: String,
}

/// The findings of one scan, in check order.
pub fn findings(scan: &TlsScan) -> Vec<ScanFinding> {
    let at = std::net::SocketAddr::new(scan.addr, scan.dialled_port);
    let mut out = Vec::new();
    let mut push = |check: Check, severity: Severity, message: String, fix: &str| {
        out.push(ScanFinding {
            diagnostic: Diagnostic::new(check, severity, format!("{at}: {message}")),
            fix: fix.to_owned(),
        });
    };
    if let Some(t) = &scan.tls12 {
        if !scan.weak_suites.is_empty() {
            let list: Vec<String> = scan
                .weak_suites
                .iter()
                .map(|w| format!("{} ({})", w.suite, w.weakness.describe()))
                .collect();
            push(
                Check::T3,
                Severity::Warning,
                format!("accepts weak cipher suites: {}", list.join(", ")),
                FIX_T3,
            );
        }
        if scan.cipher_order == Some(CipherOrder::Client) {
            push(
                Check::T4,
                Severity::Info,
                "the server takes the client's order of cipher suites, so a client that prefers a weaker suite gets it".to_owned(),
                FIX_T4,
            );
        }
        if let Some(bits) = scan.dhe_prime_bits.filter(|&b| b < MIN_DHE_BITS) {
            push(
                Check::T5,
                Severity::Warning,
                format!(
                    "DHE with a {bits}-bit prime; use at least {MIN_DHE_BITS} bits (RFC 9325 §4.1)"
                ),
                FIX_T5_DHE,
            );
        }
        if let Some(curve) = &scan.weak_curve {
            push(
                Check::T5,
                Severity::Warning,
                format!(
                    "ECDHE over {curve}, a curve under 256 bits, when the client offers only such curves (RFC 8422 §5.1.1)"
                ),
                FIX_T5_CURVE,
            );
        }
        let signature = scan.weak_signature.as_deref().or_else(|| {
            t.signature
                .as_deref()
                .filter(|s| s.ends_with("sha1") || s.ends_with("md5"))
        });
        if let Some(sig) = signature {
            push(
                Check::T6,
                Severity::Warning,
                format!(
                    "signs its key exchange with {sig} (RFC 9155 forbids SHA-1 and MD5 in TLS 1.2 signatures)"
                ),
                FIX_T6,
            );
        }
        if t.compression {
            push(
                Check::T7,
                Severity::Warning,
                "TLS compression is on (CRIME, RFC 7457 §2.6)".to_owned(),
                FIX_T7,
            );
        }
        if !t.secure_renegotiation {
            push(
                Check::T8,
                Severity::Warning,
                "no secure renegotiation: the server does not answer renegotiation_info (RFC 5746)"
                    .to_owned(),
                FIX_T8,
            );
        }
        if !t.extended_master_secret {
            push(
                Check::T11,
                Severity::Info,
                "no extended master secret (RFC 7627): the session keys are not bound to the handshake".to_owned(),
                FIX_T11,
            );
        }
    }
    match &scan.client_renegotiation {
        Renegotiation::Accepted => push(
            Check::T9,
            Severity::Warning,
            "accepts client-initiated renegotiation (a second ClientHello inside the TLS 1.2 session got a ServerHello)".to_owned(),
            FIX_T9,
        ),
        Renegotiation::Unknown { why } if scan.tls12.is_some() => push(
            Check::T9,
            Severity::Info,
            format!("client-initiated renegotiation not tested: {why}"),
            FIX_T9,
        ),
        _ => {}
    }
    match &scan.early_data {
        EarlyData::Accepted => push(
            Check::T10,
            Severity::Warning,
            "accepts TLS 1.3 0-RTT early data, which an attacker can replay (RFC 8446 §8)"
                .to_owned(),
            FIX_T10,
        ),
        EarlyData::Unknown { why } => push(
            Check::T10,
            Severity::Info,
            format!("0-RTT not tested: {why}"),
            FIX_T10,
        ),
        _ => {}
    }
    if !scan.errors.is_empty() {
        push(
            Check::T3,
            Severity::Info,
            format!(
                "the TLS scan could not answer every question: {}",
                scan.errors.join("; ")
            ),
            "Check that the server accepts several connections in a row from one client.",
        );
    }
    out
}

const FIX_T3: &str = "Postfix: `smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, DES, 3DES, RC4, MD5, kRSA` (and `smtpd_tls_ciphers = high`); in OpenSSL terms `CipherString = ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!eNULL:!kRSA`.";
const FIX_T4: &str =
    "Postfix: `tls_preempt_cipherlist = yes`; OpenSSL: `Options = ServerPreference`.";
const FIX_T5_DHE: &str = "Postfix: `smtpd_tls_dh1024_param_file = /etc/postfix/ffdhe3072.pem` with the RFC 7919 group (Postfix 3.7 and later default to a 2048-bit group), or drop DHE with `smtpd_tls_exclude_ciphers = kDHE`.";
const FIX_T5_CURVE: &str = "Postfix: `tls_eecdh_auto_curves = X25519 X448 prime256v1 secp384r1 secp521r1`; OpenSSL: `Groups = X25519:P-256:P-384`.";
const FIX_T6: &str = "Allow only SHA-2 signature algorithms: OpenSSL `SignatureAlgorithms = ECDSA+SHA256:RSA-PSS+SHA256:RSA+SHA256:ECDSA+SHA384:RSA-PSS+SHA384:RSA+SHA384` (Postfix 3.9 and later: in `tls_config_file`), or `@SECLEVEL=2` in the cipher list, which refuses SHA-1 signatures.";
const FIX_T7: &str = "Postfix: `tls_ssl_options = NO_COMPRESSION`; OpenSSL: `Options = -Compression` (OpenSSL 1.1.0 and later build without it by default).";
const FIX_T8: &str = "Update the TLS library (OpenSSL since 0.9.8m supports RFC 5746); GnuTLS: remove `%DISABLE_SAFE_RENEGOTIATION` or `%UNSAFE_RENEGOTIATION` from the priority string.";
const FIX_T9: &str = "Postfix: `tls_ssl_options = NO_RENEGOTIATION` (Postfix 3.4 and later with OpenSSL 1.1.0h and later); OpenSSL 3 refuses client renegotiation unless `Options = ClientRenegotiation` is set: remove it.";
const FIX_T10: &str = "Disable early data: OpenSSL `SSL_CTX_set_max_early_data(ctx, 0)` (the default; Postfix never enables it), `max_early_data = 0` in the server's TLS settings.";
const FIX_T11: &str = "Update the TLS library (OpenSSL 1.1.0 and later, GnuTLS 3.4 and later support RFC 7627); GnuTLS: remove `%NO_SESSION_HASH` from the priority string; OpenSSL: remove `Options = -ExtendedMasterSecret`.";

/// T17: OCSP stapling (RFC 6066 §8). SMTP senders do not check revocation, so a stapled
/// response changes nothing for mail and its absence is nothing to fix (internet.nl does not
/// score it for mail): said, as information, only where the server staples one.
pub fn ocsp_finding(probe: &AddrProbe) -> Option<Diagnostic> {
    probe.tls.as_ref().filter(|t| t.ocsp_stapled).map(|_| {
        Diagnostic::new(
            Check::T17,
            Severity::Info,
            format!(
                "{}: the server staples an OCSP response to its certificate; SMTP senders do not check revocation, so it has no effect on mail",
                probe.dialled()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use mailsec_core::tls_hello::Weakness;
    use mailsec_probe::{Negotiated, WeakSuite};

    use super::*;

    fn strong() -> TlsScan {
        TlsScan {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dialled_port: 25,
            tls12: Some(Negotiated {
                version: "TLSv1.2".into(),
                cipher_suite: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into(),
                compression: false,
                secure_renegotiation: true,
                extended_master_secret: true,
                key_exchange: Some("x25519".into()),
                signature: Some("rsa_pss_rsae_sha256".into()),
            }),
            tls12_refused: None,
            weak_suites: Vec::new(),
            cipher_order: Some(CipherOrder::Server),
            dhe_prime_bits: Some(2048),
            weak_curve: None,
            weak_signature: None,
            client_renegotiation: Renegotiation::Refused {
                how: "fatal alert no_renegotiation".into(),
            },
            early_data: EarlyData::NotOffered,
            handshakes: 9,
            elapsed: Duration::ZERO,
            errors: Vec::new(),
        }
    }

    /// A change to the strong scan.
    type Change = fn(&mut TlsScan);

    fn checks(scan: &TlsScan) -> Vec<(Check, Severity)> {
        findings(scan)
            .iter()
            .map(|f| (f.diagnostic.check, f.diagnostic.severity))
            .collect()
    }

    #[test]
    fn a_strong_server_has_no_finding() {
        assert_eq!(checks(&strong()), []);
        // Nor one with TLS 1.3 only.
        let mut only13 = strong();
        only13.tls12 = None;
        only13.tls12_refused = Some("fatal alert protocol_version".into());
        only13.cipher_order = None;
        only13.dhe_prime_bits = None;
        only13.client_renegotiation = Renegotiation::NotApplicable;
        assert_eq!(checks(&only13), []);
    }

    #[test]
    fn each_weakness_fires_its_check() {
        let w = Severity::Warning;
        let cases: Vec<(Change, (Check, Severity))> = vec![
            (
                |s| {
                    s.weak_suites.push(WeakSuite {
                        suite: "TLS_RSA_WITH_AES_128_GCM_SHA256".into(),
                        weakness: Weakness::NoForwardSecrecy,
                    })
                },
                (Check::T3, w),
            ),
            (
                |s| s.cipher_order = Some(CipherOrder::Client),
                (Check::T4, Severity::Info),
            ),
            (|s| s.dhe_prime_bits = Some(1024), (Check::T5, w)),
            (|s| s.weak_curve = Some("secp224r1".into()), (Check::T5, w)),
            (
                |s| s.weak_signature = Some("rsa_pkcs1_sha1".into()),
                (Check::T6, w),
            ),
            (
                |s| {
                    if let Some(t) = &mut s.tls12 {
                        t.signature = Some("ecdsa_sha1".into());
                    }
                },
                (Check::T6, w),
            ),
            (
                |s| {
                    if let Some(t) = &mut s.tls12 {
                        t.compression = true;
                    }
                },
                (Check::T7, w),
            ),
            (
                |s| {
                    if let Some(t) = &mut s.tls12 {
                        t.secure_renegotiation = false;
                    }
                },
                (Check::T8, w),
            ),
            (
                |s| s.client_renegotiation = Renegotiation::Accepted,
                (Check::T9, w),
            ),
            (|s| s.early_data = EarlyData::Accepted, (Check::T10, w)),
            (
                |s| {
                    if let Some(t) = &mut s.tls12 {
                        t.extended_master_secret = false;
                    }
                },
                (Check::T11, Severity::Info),
            ),
            (
                |s| {
                    s.client_renegotiation = Renegotiation::Unknown {
                        why: "no ECDHE-AES-GCM".into(),
                    }
                },
                (Check::T9, Severity::Info),
            ),
        ];
        for (change, want) in cases {
            let mut scan = strong();
            change(&mut scan);
            assert_eq!(checks(&scan), [want]);
        }
        // The boundary of T5: 2048 bits pass.
        let mut scan = strong();
        scan.dhe_prime_bits = Some(MIN_DHE_BITS);
        assert_eq!(checks(&scan), []);
    }
}
