//! Applying an MTA-STS policy to one MX host (RFC 8461 §4, §5): the MX name must match a
//! pattern (§4.1) and the server must offer STARTTLS with a certificate that chains to a trusted
//! root, is current, and names the MX host in a subjectAltName DNS-ID (§4.2). In `enforce` mode
//! a failure means no delivery to that host; in `testing` mode it is only reported. Pure: the
//! chain, the roots and the time come in.

use pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

use crate::dane::decide::{AddressVerdict, Mechanism};
use crate::dane::verify::webpki_path;
use crate::domain::HostName;
use crate::mta_sts::policy::{Mode, Policy};

/// Why a certificate is not valid for an MX host under RFC 8461 §4.2.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize, thiserror::Error)]
#[serde(tag = "failure", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PkixFailure {
    /// No certificate was presented.
    #[error("no certificate presented")]
    NoCertificate,
    /// A certificate of the path is expired or not yet valid.
    #[error("a certificate of the chain is expired or not yet valid ({0})")]
    Expired(String),
    /// The chain does not lead to a trusted root.
    #[error("the chain does not lead to a trusted root ({0})")]
    NotTrusted(String),
    /// The certificate has no subjectAltName DNS-ID matching the MX host.
    #[error("the certificate does not name the MX host in a subjectAltName DNS-ID")]
    NameMismatch,
    /// The leaf cannot be parsed.
    #[error("the certificate cannot be parsed ({0})")]
    BadCertificate(String),
}

impl PkixFailure {
    /// The TLS-RPT result type (RFC 8460 §4.3.2).
    pub fn result_type(&self) -> &'static str {
        match self {
            Self::Expired(_) => "certificate-expired",
            Self::NotTrusted(_) => "certificate-not-trusted",
            Self::NameMismatch => "certificate-host-mismatch",
            Self::NoCertificate | Self::BadCertificate(_) => "validation-failure",
        }
    }
}

/// RFC 8461 §4.2: is `chain` (leaf first, as presented) valid for `host` under `roots` at
/// `now`? The path is checked before the name, so an expired or untrusted certificate for
/// another name reports the path failure (as senders see it first).
pub fn validate_certificate(
    chain: &[Vec<u8>],
    host: &HostName,
    roots: &[TrustAnchor<'_>],
    now: UnixTime,
) -> Result<(), PkixFailure> {
    let leaf_der =
        CertificateDer::from(chain.first().ok_or(PkixFailure::NoCertificate)?.as_slice());
    let leaf = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| PkixFailure::BadCertificate(format!("{e:?}")))?;
    webpki_path(chain, roots, now).map_err(|e| match e {
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
            PkixFailure::Expired(format!("{e:?}"))
        }
        other => PkixFailure::NotTrusted(format!("{other:?}")),
    })?;
    let name = ServerName::try_from(host.as_str()).map_err(|_| PkixFailure::NameMismatch)?;
    leaf.verify_is_valid_for_subject_name(&name)
        .map_err(|_| PkixFailure::NameMismatch)
}

/// What a connection to one address of an MX host showed, for MTA-STS.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum StsConnection {
    /// No SMTP session.
    Unreachable,
    /// STARTTLS not offered, or refused.
    NoStarttls,
    /// The handshake failed.
    HandshakeFailed,
    /// TLS was established; the certificate's RFC 8461 §4.2 check.
    Tls(Result<(), PkixFailure>),
}

/// RFC 8461 §4–§5: what a sender does at one address of MX host `mx` under `policy`.
///
/// `enforce`: deliver only when a pattern matches the MX host (§4.1), STARTTLS is offered and
/// the certificate is valid (§4.2); otherwise refuse with the TLS-RPT result type. `testing`:
/// deliver in any case (failures are reported, not enforced). `none`: no policy applies.
pub fn address_verdict(
    policy: &Policy,
    mx: &HostName,
    connection: &StsConnection,
) -> AddressVerdict {
    if connection == &StsConnection::Unreachable {
        return AddressVerdict::Unreachable;
    }
    let failure = if !policy.matches(mx) {
        // RFC 8460 §4.3.2: the MX host is not among those the policy allows.
        Some("validation-failure")
    } else {
        match connection {
            StsConnection::Unreachable => None,
            StsConnection::NoStarttls => Some("starttls-not-supported"),
            StsConnection::HandshakeFailed => Some("validation-failure"),
            StsConnection::Tls(Ok(())) => None,
            StsConnection::Tls(Err(f)) => Some(f.result_type()),
        }
    };
    match (policy.mode, failure) {
        (Mode::Enforce, None) => AddressVerdict::Deliver {
            mechanism: Mechanism::MtaSts,
        },
        (Mode::Enforce, Some(reason)) => AddressVerdict::Refuse { reason },
        // Testing and none: delivery goes on as without a policy (RFC 8461 §5).
        _ => AddressVerdict::Deliver {
            mechanism: Mechanism::Opportunistic,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: &str, mx: &str) -> Policy {
        Policy::parse(
            format!("version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: 86400\n").as_bytes(),
        )
        .unwrap()
    }

    fn host(s: &str) -> HostName {
        HostName::parse(s).unwrap()
    }

    #[test]
    fn enforce_refuses_every_failure_with_its_reason() {
        let p = policy("enforce", "mx.example.com");
        let mx = host("mx.example.com");
        let ok = StsConnection::Tls(Ok(()));
        assert_eq!(
            address_verdict(&p, &mx, &ok),
            AddressVerdict::Deliver {
                mechanism: Mechanism::MtaSts
            }
        );
        for (conn, reason) in [
            (StsConnection::NoStarttls, "starttls-not-supported"),
            (StsConnection::HandshakeFailed, "validation-failure"),
            (
                StsConnection::Tls(Err(PkixFailure::NameMismatch)),
                "certificate-host-mismatch",
            ),
            (
                StsConnection::Tls(Err(PkixFailure::Expired(String::new()))),
                "certificate-expired",
            ),
            (
                StsConnection::Tls(Err(PkixFailure::NotTrusted(String::new()))),
                "certificate-not-trusted",
            ),
        ] {
            assert_eq!(
                address_verdict(&p, &mx, &conn),
                AddressVerdict::Refuse { reason },
                "{conn:?}"
            );
        }
        // An MX the policy does not list is refused whatever the connection (§4.1).
        assert_eq!(
            address_verdict(&p, &host("other.example.com"), &ok),
            AddressVerdict::Refuse {
                reason: "validation-failure"
            }
        );
        assert_eq!(
            address_verdict(&p, &mx, &StsConnection::Unreachable),
            AddressVerdict::Unreachable
        );
    }

    #[test]
    fn testing_and_none_deliver_whatever_fails() {
        for mode in ["testing", "none"] {
            let p = if mode == "none" {
                Policy::parse(b"version: STSv1\nmode: none\nmax_age: 86400\n").unwrap()
            } else {
                policy(mode, "mx.example.com")
            };
            for conn in [
                StsConnection::NoStarttls,
                StsConnection::Tls(Err(PkixFailure::NameMismatch)),
                StsConnection::Tls(Ok(())),
            ] {
                assert_eq!(
                    address_verdict(&p, &host("other.example.com"), &conn),
                    AddressVerdict::Deliver {
                        mechanism: Mechanism::Opportunistic
                    },
                    "{mode} {conn:?}"
                );
            }
        }
    }
}
