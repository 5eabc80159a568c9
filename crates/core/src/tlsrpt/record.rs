//! The `_smtp._tls` TXT record, RFC 8460 §3.
//!
//! ```text
//! tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//! tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-uri    = URI        ; "," "!" ";" MUST be percent-encoded
//! ```

use std::fmt;
use std::str::FromStr;

use crate::Extension;
use crate::diag::{Check, Diagnostic, Linted, Severity, quote};
use crate::domain;
use crate::tagvalue::{self, Selection, SetChecks, is_ext_name, is_ext_value, is_wsp};

/// The exact version tag every TLS-RPT record begins with (RFC 8460 §3).
pub const TLSRPT_VERSION: &str = "v=TLSRPTv1";

/// A valid TLS-RPT record.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct TlsRptRecord {
    /// Where reports go, in record order (repeated `rua` fields merged).
    pub rua: Vec<ReportUri>,
    /// Extension fields, ignored (RFC 8460 §3).
    pub extensions: Vec<Extension>,
}

impl TlsRptRecord {
    /// Parses one record strictly; the error is the first error finding of [`lint_record`].
    pub fn parse(txt: &[u8]) -> Result<Self, RecordError> {
        let linted = lint_record(txt);
        match (
            linted.parsed,
            linted.diagnostics.into_iter().find(Diagnostic::is_error),
        ) {
            (Some(r), _) => Ok(r),
            (None, Some(d)) => Err(RecordError::Invalid(Box::new(d))),
            (None, None) => Err(RecordError::NotTlsRpt),
        }
    }
}

impl FromStr for TlsRptRecord {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

impl fmt::Display for TlsRptRecord {
    /// The canonical record text: `v=TLSRPTv1; rua=a,b;` plus extensions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TLSRPT_VERSION}; rua=")?;
        for (i, u) in self.rua.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(u.as_str())?;
        }
        f.write_str(";")?;
        for e in &self.extensions {
            write!(f, " {}={};", e.name, e.value)?;
        }
        Ok(())
    }
}

/// A report destination (RFC 8460 §3: `mailto:` per RFC 6068, or `https:` for POST).
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub enum ReportUri {
    /// `mailto:` with the decoded address.
    Mailto {
        /// The URI as published.
        uri: String,
        /// The percent-decoded `addr-spec`.
        address: String,
    },
    /// `https:` URL to POST reports to.
    Https {
        /// The URI as published.
        uri: String,
        /// The host part.
        host: String,
    },
}

impl ReportUri {
    /// The URI as published.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Mailto { uri, .. } | Self::Https { uri, .. } => uri,
        }
    }
}

/// Why discovery found no usable record; every case means "the domain does not implement
/// TLSRPT" to a sender (RFC 8460 §3).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// No TXT record begins with `v=TLSRPTv1`.
    #[error("no TXT record begins with v=TLSRPTv1")]
    NotTlsRpt,
    /// More than one does.
    #[error("{0} TXT records begin with v=TLSRPTv1; exactly one is allowed")]
    Multiple(usize),
    /// The one record breaks the grammar.
    #[error("invalid TLS-RPT record: {0}")]
    Invalid(Box<Diagnostic>),
}

/// Applies the RFC 8460 §3 selection rule to every TXT record at `_smtp._tls.<domain>`.
pub fn discover<'a>(
    records: impl IntoIterator<Item = &'a [u8]>,
) -> Result<TlsRptRecord, RecordError> {
    match tagvalue::select(records, TLSRPT_VERSION) {
        Selection::None => Err(RecordError::NotTlsRpt),
        Selection::One(one) => TlsRptRecord::parse(one),
        Selection::Many(many) => Err(RecordError::Multiple(many.len())),
    }
}

/// Lints every TXT record at `_smtp._tls.<domain>` together: the RFC 8460 §3 selection rule
/// (exactly one record beginning with `v=TLSRPTv1`), the findings on the selected record, and
/// on the others (R1, R2, R3).
pub fn lint_record_set<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Linted<TlsRptRecord> {
    tagvalue::lint_set(records, &SET_CHECKS, lint_record)
}

const SET_CHECKS: SetChecks = SetChecks {
    version: TLSRPT_VERSION,
    label: "_smtp._tls",
    protocol: "TLS-RPT",
    spf: Check::R3,
    unrelated: Check::R3,
    none: (
        Check::R1,
        Severity::Warning,
        "no TXT record begins with v=TLSRPTv1: senders will not report TLS failures",
    ),
    many: (Check::R2, "senders require exactly one and report to none"),
    lint_each_of_many: false,
};

/// Lints one record, its strings already concatenated.
pub fn lint_record(txt: &[u8]) -> Linted<TlsRptRecord> {
    let mut diags = Vec::new();
    let text = match std::str::from_utf8(txt) {
        Ok(t) if t.is_ascii() => t,
        _ => {
            diags.push(Diagnostic::new(
                Check::R19,
                Severity::Error,
                "the record is not US-ASCII",
            ));
            return Linted::new(None, diags);
        }
    };
    let Some(split) = tagvalue::split(text, TLSRPT_VERSION) else {
        let message = if text.to_ascii_lowercase().starts_with("v=tlsrptv1") {
            "the record must begin with exactly `v=TLSRPTv1` (case-sensitive, nothing before it); senders discard it"
        } else {
            "the record does not begin with v=TLSRPTv1; senders discard it"
        };
        diags.push(Diagnostic::new(Check::R4, Severity::Error, message).on_field("v"));
        return Linted::new(None, diags);
    };
    if split.space_before_first_delim {
        diags.push(
            Diagnostic::new(
                Check::R4,
                Severity::Warning,
                "whitespace before the first `;`: the grammar allows it but some senders discard the record",
            )
            .on_field("v"),
        );
    }
    if split.empty_fields > 0 {
        diags.push(Diagnostic::new(
            Check::R19,
            Severity::Error,
            "empty field between `;` delimiters",
        ));
    }
    let mut rua: Option<Vec<ReportUri>> = None;
    let mut extensions: Vec<Extension> = Vec::new();
    for field in &split.fields {
        let Some(value) = field.value else {
            diags.push(
                Diagnostic::new(
                    Check::R19,
                    Severity::Error,
                    format!("{} is not name=value", quote(field.raw)),
                )
                .on_field(field.name),
            );
            continue;
        };
        if field.name == "rua" {
            if rua.is_some() {
                diags.push(
                    Diagnostic::new(
                        Check::R6,
                        Severity::Info,
                        "repeated rua field; its URIs are merged",
                    )
                    .on_field("rua"),
                );
            }
            let list = rua.get_or_insert_with(Vec::new);
            for uri in value.split(',').map(|u| u.trim_matches(is_wsp)) {
                match parse_uri(uri) {
                    Ok(u) => {
                        if list
                            .iter()
                            .any(|x| x.as_str().eq_ignore_ascii_case(u.as_str()))
                        {
                            diags.push(
                                Diagnostic::new(
                                    Check::R6,
                                    Severity::Warning,
                                    format!("{} is listed twice", quote(uri)),
                                )
                                .on_field("rua"),
                            );
                        } else {
                            list.push(u);
                        }
                    }
                    Err(d) => diags.push(d.on_field("rua")),
                }
            }
            continue;
        }
        if !is_ext_name(field.name) || !is_ext_value(value) {
            diags.push(
                Diagnostic::new(
                    Check::R7,
                    Severity::Error,
                    format!("field {} breaks the extension grammar", quote(field.raw)),
                )
                .on_field(field.name),
            );
            continue;
        }
        let hint = if field.name.eq_ignore_ascii_case("rua") {
            " (field names are case-sensitive: `rua`)"
        } else {
            ""
        };
        if extensions.iter().any(|e| e.name == field.name) {
            diags.push(
                Diagnostic::new(
                    Check::R7,
                    Severity::Warning,
                    "duplicated field; only the first counts",
                )
                .on_field(field.name),
            );
            continue;
        }
        diags.push(
            Diagnostic::new(
                Check::R7,
                Severity::Warning,
                format!("unknown field {} is ignored{hint}", quote(field.name)),
            )
            .on_field(field.name),
        );
        extensions.push(Extension {
            name: field.name.to_owned(),
            value: value.to_owned(),
        });
    }
    let candidate = match rua {
        None => {
            diags.push(Diagnostic::new(
                Check::R5,
                Severity::Error,
                "no rua field: `v=TLSRPTv1; rua=mailto:...`",
            ));
            None
        }
        Some(list) => {
            if list.len() > 1 {
                diags.push(
                    Diagnostic::new(
                        Check::R13,
                        Severity::Info,
                        format!(
                            "{} report URIs; some senders deliver to one only",
                            list.len()
                        ),
                    )
                    .on_field("rua"),
                );
            }
            if list.is_empty() {
                diags.push(
                    Diagnostic::new(Check::R5, Severity::Error, "rua lists no valid URI")
                        .on_field("rua"),
                );
            }
            Some(TlsRptRecord {
                rua: list,
                extensions,
            })
        }
    };
    Linted::new(candidate, diags)
}

/// Checks one URI of the `rua` list (RFC 8460 §3, RFC 3986, RFC 6068).
fn parse_uri(uri: &str) -> Result<ReportUri, Diagnostic> {
    let err = |check, message: String| Diagnostic::new(check, Severity::Error, message);
    if uri.is_empty() {
        return Err(err(Check::R11, "empty URI in the rua list".into()));
    }
    if uri.contains('!') {
        return Err(err(
            Check::R9,
            format!(
                "{}: `!` must be percent-encoded (%21); DMARC-style size limits are not allowed",
                quote(uri)
            ),
        ));
    }
    if let Some(bad) = uri.chars().find(|c| !is_uri_char(*c)) {
        return Err(err(
            Check::R9,
            format!("{}: character {bad:?} must be percent-encoded", quote(uri)),
        ));
    }
    let decoded = percent_decode(uri).ok_or_else(|| {
        err(
            Check::R9,
            format!("{}: broken percent-encoding", quote(uri)),
        )
    })?;
    let (scheme, rest) = uri
        .split_once(':')
        .ok_or_else(|| err(Check::R8, format!("{} has no scheme", quote(uri))))?;
    if scheme.eq_ignore_ascii_case("mailto") {
        let addr = decoded[scheme.len() + 1..]
            .split('?')
            .next()
            .unwrap_or_default();
        check_address(addr).map_err(|why| err(Check::R10, format!("{}: {why}", quote(uri))))?;
        return Ok(ReportUri::Mailto {
            uri: uri.to_owned(),
            address: addr.to_owned(),
        });
    }
    if scheme.eq_ignore_ascii_case("https") {
        let authority = rest.strip_prefix("//").ok_or_else(|| {
            err(
                Check::R11,
                format!("{}: https URIs need `//host`", quote(uri)),
            )
        })?;
        let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
        let authority = &authority[..end];
        if authority.contains('@') {
            return Err(err(
                Check::R11,
                format!(
                    "{}: user information is not allowed in the authority",
                    quote(uri)
                ),
            ));
        }
        let host = split_port(authority)
            .ok_or_else(|| err(Check::R11, format!("{}: bad port", quote(uri))))?;
        let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            v6.parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            host.parse::<std::net::Ipv4Addr>().is_ok() || domain::normalize(host).is_ok()
        };
        if !host_ok {
            return Err(err(
                Check::R11,
                format!("{}: {} is not a host", quote(uri), quote(host)),
            ));
        }
        return Ok(ReportUri::Https {
            uri: uri.to_owned(),
            host: host.to_ascii_lowercase(),
        });
    }
    Err(err(
        Check::R8,
        format!(
            "{}: scheme {} is not mailto or https",
            quote(uri),
            quote(scheme)
        ),
    ))
}

/// Returns the host of `host[:port]`, or `None` for a bad port.
fn split_port(authority: &str) -> Option<&str> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(i) => (&authority[..=i], authority[i + 1..].strip_prefix(':')),
            None => (authority, None),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    match port {
        Some(p) if p.parse::<u16>().is_err() => None,
        _ => Some(host),
    }
}

/// A simplified RFC 5322 `addr-spec`: dot-atom local part (or quoted string) and a host name.
fn check_address(addr: &str) -> Result<(), String> {
    let (local, host) = addr
        .rsplit_once('@')
        .ok_or_else(|| format!("{} is not local@domain", quote(addr)))?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let local_ok = quoted
        || (!local.is_empty()
            && local
                .split('.')
                .all(|a| !a.is_empty() && a.chars().all(atext)));
    if !local_ok {
        return Err(format!("local part {} is not a dot-atom", quote(local)));
    }
    domain::normalize(host).map_err(|e| format!("domain {}: {e}", quote(host)))?;
    Ok(())
}

/// RFC 3986 unreserved, reserved and `%`. `;` and `,` cannot occur here: they delimit fields and
/// URIs and so must already have been percent-encoded.
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@$&'()*+=%".contains(c)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        for (input, uris) in [
            (
                "v=TLSRPTv1;rua=mailto:reports@example.com",
                Some(vec!["mailto:reports@example.com"]),
            ),
            (
                "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
                Some(vec!["https://reporting.example.com/v1/tlsrpt"]),
            ),
            (
                "v=TLSRPTv1;rua=mailto:TLSReports@exchangelabs.nl",
                Some(vec!["mailto:TLSReports@exchangelabs.nl"]),
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@example.com , https://r.example:8443/x",
                Some(vec!["mailto:a@example.com", "https://r.example:8443/x"]),
            ),
            (
                "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
                Some(vec!["mailto:a@example.com", "mailto:b@example.com"]),
            ),
            (
                "v=TLSRPTv1; rua=mailto:a%21b@example.com",
                Some(vec!["mailto:a%21b@example.com"]),
            ),
            ("v=TLSRPTv1;", None),
            ("v=TLSRPTv1", None),
            ("v=TLSRPTv1; RUA=mailto:a@example.com", None),
            ("v=TLSRPTv1; rua=http://r.example/", None),
            ("v=TLSRPTv1; rua=mailto:a@example.com!10m", None),
            ("v=TLSRPTv1; rua=mailto:not-an-address", None),
            ("v=TLSRPTv1; rua=https://", None),
            ("v=tlsrptv1; rua=mailto:a@example.com", None),
            ("v=TLSRPTv1; rua=mailto:a@example.com; x=a b", None),
        ] {
            let got = input.parse::<TlsRptRecord>().ok().map(|r| {
                r.rua
                    .iter()
                    .map(|u| u.as_str().to_owned())
                    .collect::<Vec<_>>()
            });
            let expected = uris.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, expected, "{input}");
        }
    }

    #[test]
    fn record_set_rule() {
        let ok: &[u8] = b"v=TLSRPTv1; rua=mailto:a@example.com";
        let l = lint_record_set([ok, b"site-verification=1".as_slice()]);
        assert!(l.parsed.is_some());
        assert_eq!(
            l.diagnostics.iter().map(|d| d.check).collect::<Vec<_>>(),
            [Check::R3]
        );
        let l = lint_record_set([ok, ok]);
        assert!(l.parsed.is_none() && l.diagnostics.iter().any(|d| d.check == Check::R2));
        let l = lint_record_set([b"v=spf1 -all".as_slice()]);
        assert_eq!(
            l.diagnostics
                .iter()
                .map(|d| (d.check, d.severity))
                .collect::<Vec<_>>(),
            [(Check::R3, Severity::Error), (Check::R1, Severity::Warning)]
        );
    }

    #[test]
    fn discovery_and_display() {
        let r: &[u8] = b"v=TLSRPTv1; rua=mailto:a@example.com";
        assert_eq!(
            discover([r, b"v=spf1 -all".as_slice()])
                .unwrap()
                .to_string(),
            "v=TLSRPTv1; rua=mailto:a@example.com;"
        );
        assert_eq!(discover([r, r]), Err(RecordError::Multiple(2)));
        assert_eq!(discover([]), Err(RecordError::NotTlsRpt));
    }
}
