//! Diagnostics: the check catalogue, severities and findings shared by every linter.
//!
//! The identifiers (`S9`, `P8`, `R5`, ...) are the stable check IDs of the project's check
//! catalogue (shared research, `checks.md`): they appear in `--json` output and never change
//! meaning. A new check gets a new ID.

use std::fmt;

use serde::{Serialize, Serializer};

mod explain;

/// Values up to this many characters are quoted whole in messages.
pub const QUOTE_WHOLE: usize = 64;
/// Longer values are quoted as their first this many characters, `…` and their length.
pub const QUOTE_EXCERPT: usize = 40;

/// A value from the input, as a message shows it: whole when short (at most [`QUOTE_WHOLE`]
/// characters), else its first [`QUOTE_EXCERPT`] characters, `…` and its length in bytes, so that
/// a 10 MB line yields a one-line message, not a 10 MB one. Control characters are escaped
/// (`\u{1b}`), so that input cannot drive the terminal.
pub fn excerpt(value: &str) -> String {
    match shorten(value) {
        (shown, None) => shown,
        (shown, Some(len)) => format!("{shown}… ({len} bytes)"),
    }
}

/// [`excerpt`] in backquotes, the way messages quote values: `` `mx1.example` ``, or
/// `` `xxxx…` (10485760 bytes) `` for a long one.
pub fn quote(value: &str) -> String {
    match shorten(value) {
        (shown, None) => format!("`{shown}`"),
        (shown, Some(len)) => format!("`{shown}…` ({len} bytes)"),
    }
}

/// The part of `value` to show, control characters escaped, and the full length when cut.
fn shorten(value: &str) -> (String, Option<usize>) {
    let cut = match value.char_indices().nth(QUOTE_WHOLE) {
        Some(_) => value
            .char_indices()
            .nth(QUOTE_EXCERPT)
            .map_or(value.len(), |(i, _)| i),
        None => value.len(),
    };
    let mut shown = String::with_capacity(cut);
    for c in value[..cut].chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    (shown, (cut < value.len()).then_some(value.len()))
}

/// How much a finding matters to the domain owner.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// Works, but risky or not conformant; some senders may behave differently.
    Warning,
    /// Senders will fail or ignore the configuration.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

macro_rules! catalogue {
    ($( $id:ident => $title:literal, )*) => {
        /// A check of the catalogue. The variant name is the stable check ID.
        #[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        #[non_exhaustive]
        pub enum Check {
            $( #[doc = concat!("`", $title, "`")] $id, )*
        }

        impl Check {
            /// Every check, in catalogue order.
            pub const ALL: &'static [Self] = &[$(Self::$id),*];

            /// The stable identifier, e.g. `"P8"`.
            pub fn id(self) -> &'static str {
                match self { $(Self::$id => stringify!($id),)* }
            }

            /// One line saying what the check is about.
            pub fn title(self) -> &'static str {
                match self { $(Self::$id => $title,)* }
            }

            /// The check with this identifier (case-insensitive).
            pub fn from_id(id: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.id().eq_ignore_ascii_case(id))
            }

            /// What the check looks at and why it matters to senders, in a few sentences.
            pub fn explanation(self) -> &'static str {
                explain::about_check(self).explanation
            }

            /// How to fix what the check finds.
            pub fn fix(self) -> &'static str {
                explain::about_check(self).fix
            }

            /// Where the rule comes from: RFC and section, e.g. `RFC 8461 §3.1`.
            pub fn rfc(self) -> &'static str {
                explain::about_check(self).rfc
            }
        }
    };
}

catalogue! {
    // MTA-STS TXT record, RFC 8461 §3.1
    S1 => "MTA-STS TXT record exists at _mta-sts.<domain>",
    S2 => "exactly one TXT record begins with v=STSv1",
    S3 => "unrelated TXT records at _mta-sts.<domain>",
    S4 => "an SPF record is answered at _mta-sts.<domain>",
    S5 => "MTA-STS record published at the apex instead of _mta-sts",
    S6 => "CNAME at _mta-sts followed; no CNAME and TXT at the same node",
    S7 => "multi-string TXT records are concatenated without spaces",
    S8 => "v=STSv1 comes first, in exact case, without whitespace before ';'",
    S9 => "id is present and is 1-32 letters or digits",
    S10 => "unknown fields are ignored; duplicated fields: the first counts",
    S11 => "the id changed when the policy body changed",
    S12 => "TXT record TTL",
    S13 => "DNS lookup errors are told apart from a missing record",
    S14 => "the record is US-ASCII",
    S15 => "fields are name=value, separated by single ';' delimiters",
    // Policy host and HTTPS fetch, RFC 8461 §3.3
    H1 => "policy host resolves and the policy is fetched within the timeout",
    H2 => "policy host certificate is valid for mta-sts.<domain>, trusted and current",
    H3 => "policy host certificate expires soon",
    H4 => "exact path /.well-known/mta-sts.txt answers status 200",
    H5 => "no HTTP redirect",
    H6 => "Content-Type is text/plain",
    H7 => "policy body is at most 64 KiB",
    H8 => "HTTP caching headers are not relied upon",
    H9 => "the policy host is served with SNI",
    H10 => "TLS 1.2 or newer",
    H11 => "fetch time",
    H12 => "with delegation the certificate is still valid for mta-sts.<domain>",
    // Policy content, RFC 8461 §3.2
    P1 => "lines end in LF or CRLF; no stray CR; no blank lines",
    P2 => "key: value syntax, no whitespace before the key or the colon",
    P3 => "version: STSv1 is present",
    P4 => "mode is enforce, testing or none",
    P5 => "max_age is 1-10 digits and at most 31557600",
    P6 => "max_age is shorter than one day",
    P7 => "max_age is shorter than two weeks",
    P8 => "mx is a host name or *. plus a host name, in A-labels",
    P9 => "at least one mx unless the mode is none",
    P10 => "duplicated keys: the first counts",
    P11 => "unknown keys are ignored; their syntax must be valid",
    P12 => "mode testing or none does not protect mail",
    P13 => "every MX host is covered by an mx pattern",
    P14 => "an mx pattern matches no MX host",
    P15 => "every MX offers STARTTLS with a certificate valid for its name",
    P16 => "a wildcard mx pattern is broad",
    P17 => "an enforce policy permits none of the domain's MX hosts",
    P18 => "policy removal in progress",
    // TLS-RPT record, RFC 8460 §3
    R1 => "TLS-RPT TXT record exists at _smtp._tls.<domain>",
    R2 => "exactly one TXT record begins with v=TLSRPTv1",
    R3 => "unrelated TXT records at _smtp._tls.<domain>",
    R4 => "v=TLSRPTv1 comes first, in exact case, without whitespace before ';'",
    R5 => "a rua field is present",
    R6 => "repeated rua fields and duplicated URIs",
    R7 => "unknown fields are ignored; their syntax must be valid",
    R8 => "report URIs are mailto: or https:",
    R9 => "',', '!' and ';' are percent-encoded inside URIs",
    R10 => "mailto: address syntax",
    R11 => "https: URI syntax",
    R12 => "https: endpoint reachable",
    R13 => "more than one rua URI",
    R14 => "mailto: destination accepts mail",
    R15 => "mailto: destination does not depend on the TLS it reports on",
    R16 => "TLS-RPT without MTA-STS or DANE",
    R17 => "site-specific mailbox present",
    R18 => "record TTL or DNSSEC",
    R19 => "fields are name=value, separated by single ';' delimiters",
    // MX
    M1 => "the domain has MX records (or a usable fallback)",
    // DNSSEC, RFC 4033-4035 and RFC 7672 §2.1
    N1 => "mail domain zone is signed",
    N2 => "mail domain validates",
    N3 => "MX host zone is signed",
    N4 => "MX host zone validates",
    N5 => "CNAMEs followed",
    N6 => "root and TLD validate",
    N7 => "MX RRset is secure",
    N8 => "MX addresses are secure",
    N9 => "the resolver validates",
    N10 => "SERVFAIL and timeouts are resolution errors, not missing records",
    // DANE, RFC 7672 and RFC 7671
    D1 => "a secure TLSA RRset exists for the MX",
    D2 => "TLSA answer is bogus",
    D3 => "bogus denial next to the TLSA name",
    D4 => "secure denial versus an unproven empty answer",
    D5 => "at least one usable TLSA record",
    D6 => "PKIX-TA(0) or PKIX-EE(1) records on an SMTP port",
    D7 => "the presented chain matches the TLSA RRset",
    D8 => "DANE-TA: the certificate names a reference identifier",
    D9 => "DANE-TA: the trust anchor certificate is in the served chain",
    D10 => "DANE-TA: path dates and signatures are valid",
    D11 => "DANE-EE: names and dates are not checked",
    D12 => "every TLSA record matches something presented",
    D13 => "a rollover scheme is published",
    D14 => "a rollover scheme per key algorithm",
    D15 => "retired CA digests still published",
    D16 => "2 0 x records for cross-signed CAs",
    D17 => "all current intermediates of the CA are covered",
    D18 => "TLSA RRset size",
    D19 => "digest agility: the strongest matching type decides",
    D20 => "every address of every MX checked",
    D21 => "MX preference order and TLSA",
    D22 => "SNI equal to the TLSA base domain is accepted",
    D23 => "TLSA for other services on the host",
    D24 => "the next certificate is covered before renewal",
    // STARTTLS
    T1 => "STARTTLS offered on every MX",
    T2 => "TLS 1.2 or newer",
    T3 => "no weak cipher suites",
    T4 => "the server chooses the cipher suite",
    T5 => "key-exchange group strength",
    T6 => "key-exchange signature hash",
    T7 => "TLS compression disabled",
    T8 => "secure renegotiation supported",
    T9 => "client-initiated renegotiation refused",
    T10 => "0-RTT early data not accepted",
    T11 => "extended master secret",
    T12 => "certificate chains to a trusted root",
    T13 => "certificate public key type and size",
    T14 => "certificate signature algorithm",
    T15 => "certificate matches the MX host name",
    T16 => "CAA records",
    T17 => "OCSP stapling",
    T18 => "the server does not require SNI",
    // Cross-checks
    X1 => "MTA-STS does not rescue a DANE failure",
    X2 => "MTA-STS patterns, MX RRset and certificates agree",
    X3 => "MTA-STS or DANE deployed without TLS-RPT",
    X4 => "MTA-STS deployed where the MX zone is signed: DANE possible",
    X5 => "policy host certificate lifetime and max_age",
    X6 => "the _mta-sts id is in step with the served policy",
    X7 => "the TLS-RPT mailto: target does not depend on the TLS it reports on",
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Check {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One finding: which check, how bad, where, and what exactly.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Diagnostic {
    /// The check that produced the finding.
    #[serde(rename = "code")]
    pub check: Check,
    /// How much it matters.
    pub severity: Severity,
    /// The 1-based line of the input, for line-oriented inputs (the policy body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The field or key concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in one sentence, with the RFC rule where it helps.
    pub message: String,
}

impl Diagnostic {
    /// A finding not tied to a line or field.
    pub fn new(check: Check, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            check,
            severity,
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// The same finding, located at `line` (1-based).
    #[must_use]
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// The same finding, about `field` (shown as an [`excerpt`] when it is long: a field name
    /// taken from broken input can be anything).
    #[must_use]
    pub fn on_field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = Some(
            if field.len() > QUOTE_WHOLE || field.contains(char::is_control) {
                excerpt(&field)
            } else {
                field
            },
        );
        self
    }

    /// True for error severity.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `line 3: mx: <message> [P8]`, one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{} [{}]", self.message, self.check)
    }
}

/// The outcome of linting an input: the parsed value if the input is usable, and every finding.
///
/// `parsed` is `Some` exactly when no finding has error severity: a linter and the strict
/// parser built on it never disagree about what is valid.
#[derive(Clone, Debug)]
pub struct Linted<T> {
    /// The value, when no finding is an error.
    pub parsed: Option<T>,
    /// Every finding, in input order.
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Linted<T> {
    /// Builds the outcome from a candidate value, dropping it if any finding is an error.
    pub fn new(candidate: Option<T>, diagnostics: Vec<Diagnostic>) -> Self {
        let parsed = if diagnostics.iter().any(Diagnostic::is_error) {
            None
        } else {
            candidate
        };
        Self {
            parsed,
            diagnostics,
        }
    }

    /// True when some finding has error severity.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The first error finding, if any.
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.is_error())
    }

    /// The highest severity among the findings.
    pub fn worst(&self) -> Option<Severity> {
        self.diagnostics.iter().map(|d| d.severity).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in Check::ALL {
            assert!(seen.insert(c.id()), "duplicate id {}", c.id());
            assert_eq!(Check::from_id(c.id()), Some(*c));
            assert_eq!(Check::from_id(&c.id().to_lowercase()), Some(*c));
        }
        assert_eq!(Check::from_id("Z99"), None);
    }

    #[test]
    fn every_check_is_explained() {
        for c in Check::ALL {
            for (what, text) in [
                ("explanation", c.explanation()),
                ("fix", c.fix()),
                ("rfc", c.rfc()),
            ] {
                assert!(!text.trim().is_empty(), "{c}: empty {what}");
                assert_ne!(text, c.title(), "{c}: the {what} repeats the title");
                assert!(
                    !text.contains("  "),
                    "{c}: double space in the {what}: {text}"
                );
            }
            assert!(
                c.explanation().len() > c.title().len() + 40,
                "{c}: explanation too short"
            );
            assert!(c.rfc().contains("RFC"), "{c}: {}", c.rfc());
        }
    }

    #[test]
    fn linted_drops_value_on_error() {
        let warn = Diagnostic::new(Check::P10, Severity::Warning, "dup");
        let err = Diagnostic::new(Check::P3, Severity::Error, "missing");
        assert_eq!(Linted::new(Some(1), vec![warn.clone()]).parsed, Some(1));
        let l = Linted::new(Some(1), vec![warn, err.clone()]);
        assert_eq!(l.parsed, None);
        assert_eq!(l.first_error(), Some(&err));
        assert_eq!(l.worst(), Some(Severity::Error));
    }

    #[test]
    fn long_values_are_quoted_as_an_excerpt() {
        assert_eq!(quote("mx1.example.com"), "`mx1.example.com`");
        let long = "x".repeat(10 * 1024 * 1024);
        let q = quote(&long);
        assert_eq!(
            q,
            format!("`{}…` (10485760 bytes)", "x".repeat(QUOTE_EXCERPT))
        );
        assert_eq!(
            excerpt(&"é".repeat(100)),
            format!("{}… (200 bytes)", "é".repeat(40))
        );
        assert_eq!(quote("a\u{1b}[31m"), "`a\\u{1b}[31m`");
        let d = Diagnostic::new(Check::P11, Severity::Error, "x").on_field(long.as_str());
        assert!(d.field.unwrap().len() < 100);
    }

    #[test]
    fn display_is_one_line() {
        let d = Diagnostic::new(Check::P8, Severity::Error, "bad pattern")
            .at_line(3)
            .on_field("mx");
        assert_eq!(d.to_string(), "line 3: mx: bad pattern [P8]");
    }
}
