//! Why a probe ended early: one enum, each variant with the step it happened at and, where one
//! applies, its TLS-RPT result type (RFC 8460 §4.3).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailsec_core::diag::quote;
use serde::ser::SerializeStruct;

use crate::reply::ReplyError;

/// The steps of a probe, in the order they happen with STARTTLS. With implicit TLS the
/// handshake comes right after [`Step::Connect`], then [`Step::Greeting`] and
/// [`Step::CapabilitiesAfterTls`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Checking the caller's input (SNI, EHLO name) before connecting.
    Setup,
    /// The TCP connection.
    Connect,
    /// The server's first reply: the SMTP banner (RFC 5321 §4.2, `220`), the IMAP greeting
    /// (RFC 3501 §7.1, `* OK`) or the POP3 greeting (RFC 1939 §4, `+OK`).
    Greeting,
    /// The capabilities before TLS: `EHLO`, IMAP `CAPABILITY` or POP3 `CAPA`.
    Capabilities,
    /// The `STARTTLS` (or `STLS`) command and its reply.
    Starttls,
    /// The TLS handshake.
    Handshake,
    /// The capabilities over TLS: `EHLO` again (RFC 3207 §4.2), `CAPABILITY` or `CAPA`.
    CapabilitiesAfterTls,
    /// `QUIT` or `LOGOUT` (its failure never fails the probe).
    Quit,
}

impl Step {
    /// The kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Connect => "connect",
            Self::Greeting => "greeting",
            Self::Capabilities => "capabilities",
            Self::Starttls => "starttls",
            Self::Handshake => "handshake",
            Self::CapabilitiesAfterTls => "capabilities-after-tls",
            Self::Quit => "quit",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a probe ended before it captured everything. Every variant but the first two can be
/// caused by the server (untrusted input); none is a panic or a hang. Errors at
/// [`Step::Connect`], timeouts included, are transient ([`ProbeError::is_transient`]).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The SNI given is neither a DNS name nor an IP address (caller's input).
    #[error("setup: invalid SNI {}", quote(.0))]
    InvalidSni(String),
    /// The EHLO name is neither a domain nor an address literal (caller's input).
    #[error("setup: invalid EHLO name {}", quote(.0))]
    InvalidEhloName(String),
    /// The TCP connection failed.
    #[error("connect: cannot connect to {addr}: {source}")]
    Connect {
        /// The address dialled.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: Arc<io::Error>,
    },
    /// A step took longer than its timeout ([`crate::ProbeConfig::step_timeout`] or
    /// [`crate::ProbeConfig::connect_timeout`]).
    #[error("{step}: no answer within {}", Ms(*.after))]
    Timeout {
        /// The step.
        step: Step,
        /// The timeout that passed.
        after: Duration,
    },
    /// The whole probe took longer than [`crate::ProbeConfig::deadline`].
    #[error("{step}: the probe's deadline of {} passed", Ms(*.after))]
    Deadline {
        /// The step under way.
        step: Step,
        /// The deadline.
        after: Duration,
    },
    /// The server closed the connection.
    #[error("{step}: connection closed by the server")]
    Closed {
        /// The step.
        step: Step,
    },
    /// Reading or writing failed (connection reset, ...).
    #[error("{step}: {source}")]
    Io {
        /// The step.
        step: Step,
        /// Why.
        #[source]
        source: Arc<io::Error>,
    },
    /// The server answered something the protocol does not allow at this step.
    #[error("{step}: expected {expected}, got {}", quote(.reply))]
    Protocol {
        /// The step.
        step: Step,
        /// What the protocol requires here.
        expected: &'static str,
        /// What came, as text (lines joined with ` / `).
        reply: String,
    },
    /// A line longer than [`crate::ProbeConfig::max_line`].
    #[error("{step}: a reply line longer than {max} bytes")]
    LineTooLong {
        /// The step.
        step: Step,
        /// The limit.
        max: usize,
    },
    /// A reply with more lines than [`crate::ProbeConfig::max_lines`].
    #[error("{step}: a reply of more than {max} lines")]
    TooManyLines {
        /// The step.
        step: Step,
        /// The limit.
        max: usize,
    },
    /// More bytes than [`crate::ProbeConfig::max_read`] over the session.
    #[error("{step}: more than {max} bytes from the server")]
    TooMuchData {
        /// The step.
        step: Step,
        /// The limit.
        max: usize,
    },
    /// The server does not offer STARTTLS: not in EHLO/CAPABILITY/CAPA, EHLO refused with a
    /// 5yz reply (no ESMTP, hence no STARTTLS), no POP3 `CAPA`, or an IMAP `PREAUTH` greeting
    /// (STARTTLS belongs to the not-authenticated state).
    #[error("capabilities: STARTTLS not offered")]
    StarttlsNotOffered,
    /// The server answered STARTTLS with something else than "go ahead" (SMTP `454`, IMAP
    /// `NO`/`BAD`, POP3 `-ERR`).
    #[error("starttls: refused: {}", quote(.reply))]
    StarttlsRefused {
        /// The reply.
        reply: String,
    },
    /// The TLS handshake failed: rustls's error, with its kind (alert received, peer
    /// incompatible, invalid certificate from an enforcing verifier, ...).
    #[error("handshake: {error}")]
    Tls {
        /// rustls's error.
        error: rustls::Error,
    },
    /// The server presented more certificates than [`crate::ProbeConfig::max_chain`].
    #[error("handshake: {len} certificates presented, more than {max}")]
    ChainTooLong {
        /// How many.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The presented certificates hold more bytes than
    /// [`crate::ProbeConfig::max_chain_bytes`].
    #[error("handshake: {bytes} bytes of certificates presented, more than {max}")]
    ChainTooLarge {
        /// How many.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

impl ProbeError {
    /// The step the probe was at.
    pub fn step(&self) -> Step {
        match self {
            Self::InvalidSni(_) | Self::InvalidEhloName(_) => Step::Setup,
            Self::Connect { .. } => Step::Connect,
            Self::Timeout { step, .. }
            | Self::Deadline { step, .. }
            | Self::Closed { step }
            | Self::Io { step, .. }
            | Self::Protocol { step, .. }
            | Self::LineTooLong { step, .. }
            | Self::TooManyLines { step, .. }
            | Self::TooMuchData { step, .. } => *step,
            Self::StarttlsNotOffered => Step::Capabilities,
            Self::StarttlsRefused { .. } => Step::Starttls,
            Self::Tls { .. } | Self::ChainTooLong { .. } | Self::ChainTooLarge { .. } => {
                Step::Handshake
            }
        }
    }

    /// A short stable label for JSON and metrics: `timeout`, `starttls-not-offered`, `tls`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidSni(_) => "invalid-sni",
            Self::InvalidEhloName(_) => "invalid-ehlo-name",
            Self::Connect { .. } => "connect",
            Self::Timeout { .. } => "timeout",
            Self::Deadline { .. } => "deadline",
            Self::Closed { .. } => "closed",
            Self::Io { .. } => "io",
            Self::Protocol { .. } => "protocol",
            Self::LineTooLong { .. } => "line-too-long",
            Self::TooManyLines { .. } => "too-many-lines",
            Self::TooMuchData { .. } => "too-much-data",
            Self::StarttlsNotOffered => "starttls-not-offered",
            Self::StarttlsRefused { .. } => "starttls-refused",
            Self::Tls { .. } => "tls",
            Self::ChainTooLong { .. } => "chain-too-long",
            Self::ChainTooLarge { .. } => "chain-too-large",
        }
    }

    /// The TLS-RPT result type (RFC 8460 §4.3) of a session that failed this way:
    /// `starttls-not-supported` when STARTTLS is not offered or refused; for a certificate
    /// refused by an enforcing verifier, `certificate-expired`, `certificate-host-mismatch` or
    /// `certificate-not-trusted`; `validation-failure` for every other failure once connected.
    /// `None` before a session exists (bad input, no TCP connection): TLS-RPT reports TLS
    /// sessions, and a DANE verifier's own failure says more than this mapping can.
    pub fn result_type(&self) -> Option<&'static str> {
        use rustls::CertificateError as C;
        match self {
            Self::InvalidSni(_) | Self::InvalidEhloName(_) | Self::Connect { .. } => None,
            Self::Timeout { step, .. } | Self::Deadline { step, .. } if *step == Step::Connect => {
                None
            }
            Self::StarttlsNotOffered | Self::StarttlsRefused { .. } => {
                Some("starttls-not-supported")
            }
            Self::Tls {
                error: rustls::Error::InvalidCertificate(e),
            } => Some(match e {
                C::Expired | C::ExpiredContext { .. } => "certificate-expired",
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "certificate-host-mismatch"
                }
                C::UnknownIssuer => "certificate-not-trusted",
                _ => "validation-failure",
            }),
            _ => Some("validation-failure"),
        }
    }

    /// Failures that may pass on a later try: connection failures and timeouts.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. }
                | Self::Timeout { .. }
                | Self::Deadline { .. }
                | Self::Closed { .. }
                | Self::Io { .. }
        )
    }

    pub(crate) fn from_reply(step: Step, e: ReplyError) -> Self {
        match e {
            ReplyError::LineTooLong { max } => Self::LineTooLong { step, max },
            ReplyError::TooManyLines { max } => Self::TooManyLines { step, max },
            ReplyError::Malformed { protocol, line } => Self::Protocol {
                step,
                expected: match protocol {
                    "IMAP" => "an IMAP response",
                    "POP3" => "a POP3 response",
                    _ => "an SMTP reply",
                },
                reply: line,
            },
            ReplyError::CodeMismatch { line, .. } => Self::Protocol {
                step,
                expected: "the same code on every line of a reply",
                reply: line,
            },
        }
    }
}

/// `{"kind", "step", "message", "result_type"}`, plus `"tls_error"` (rustls's variant, e.g.
/// `AlertReceived(HandshakeFailure)`) for a handshake failure.
impl serde::Serialize for ProbeError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tls = match self {
            Self::Tls { error } => Some(format!("{error:?}")),
            _ => None,
        };
        let mut s = serializer.serialize_struct("ProbeError", 4 + usize::from(tls.is_some()))?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("step", &self.step())?;
        s.serialize_field("message", &self.to_string())?;
        s.serialize_field("result_type", &self.result_type())?;
        if let Some(tls) = tls {
            s.serialize_field("tls_error", &tls)?;
        }
        s.end()
    }
}

/// A duration in seconds or milliseconds, for messages.
struct Ms(Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms >= 1000 && ms.is_multiple_of(1000) {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{ms} ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_types() {
        let t = |step| ProbeError::Timeout {
            step,
            after: Duration::from_secs(5),
        };
        for (e, want) in [
            (ProbeError::InvalidSni("a b".into()), None),
            (t(Step::Connect), None),
            (t(Step::Greeting), Some("validation-failure")),
            (
                ProbeError::StarttlsNotOffered,
                Some("starttls-not-supported"),
            ),
            (
                ProbeError::StarttlsRefused {
                    reply: "454 4.7.0 no".into(),
                },
                Some("starttls-not-supported"),
            ),
            (
                ProbeError::Tls {
                    error: rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
                },
                Some("certificate-expired"),
            ),
            (
                ProbeError::Tls {
                    error: rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForName,
                    ),
                },
                Some("certificate-host-mismatch"),
            ),
            (
                ProbeError::Tls {
                    error: rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
                },
                Some("validation-failure"),
            ),
            (
                ProbeError::ChainTooLong { len: 100, max: 32 },
                Some("validation-failure"),
            ),
        ] {
            assert_eq!(e.result_type(), want, "{e}");
        }
    }

    #[test]
    fn messages_are_one_line() {
        let e = ProbeError::Protocol {
            step: Step::Greeting,
            expected: "220",
            reply: "554 no\r\nmore".into(),
        };
        assert_eq!(
            e.to_string(),
            "greeting: expected 220, got `554 no\\r\\nmore`"
        );
        assert_eq!(
            ProbeError::Timeout {
                step: Step::Greeting,
                after: Duration::from_millis(300)
            }
            .to_string(),
            "greeting: no answer within 300 ms"
        );
        let json = serde_json::to_value(&ProbeError::StarttlsNotOffered).unwrap();
        assert_eq!(json["kind"], "starttls-not-offered");
        assert_eq!(json["step"], "capabilities");
        assert_eq!(json["result_type"], "starttls-not-supported");
    }
}
