//! The `_mta-sts` TXT record, RFC 8461 §3.1.
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//! sts-version     = %s"v=STSv1"
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//! ```

use std::fmt;
use std::str::FromStr;

use crate::Extension;
use crate::diag::{Check, Diagnostic, Linted, Severity, quote};
use crate::tagvalue::{self, Selection, SetChecks, is_ext_name, is_ext_value};

/// The exact version tag every MTA-STS record begins with (RFC 8461 §3.1).
pub const STS_VERSION: &str = "v=STSv1";

/// A valid MTA-STS TXT record.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct StsRecord {
    /// The policy instance identifier.
    pub id: PolicyId,
    /// Extension fields, ignored by senders (RFC 8461 §3.1), in record order.
    pub extensions: Vec<Extension>,
}

impl StsRecord {
    /// Parses one record (its strings already concatenated), refusing anything a sender must
    /// refuse. The error is the first error-severity finding of [`lint_record`].
    pub fn parse(txt: &[u8]) -> Result<Self, RecordError> {
        let linted = lint_record(txt);
        match (
            linted.parsed,
            linted.diagnostics.into_iter().find(Diagnostic::is_error),
        ) {
            (Some(r), _) => Ok(r),
            (None, Some(d)) => Err(RecordError::Invalid(Box::new(d))),
            (None, None) => Err(RecordError::NotSts),
        }
    }
}

impl FromStr for StsRecord {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

impl fmt::Display for StsRecord {
    /// The canonical record text: `v=STSv1; id=...;` plus extensions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STS_VERSION}; id={};", self.id)?;
        for e in &self.extensions {
            write!(f, " {}={};", e.name, e.value)?;
        }
        Ok(())
    }
}

/// A policy id: 1 to 32 ASCII letters or digits (RFC 8461 §3.1). Ids have no order; compare
/// them for equality only.
#[derive(Clone, Debug, Eq, Hash, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct PolicyId(String);

impl PolicyId {
    /// Checks the `sts-id` syntax.
    pub fn new(id: &str) -> Option<Self> {
        let ok = (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
        ok.then(|| Self(id.to_owned()))
    }

    /// An id checked before (a cached policy's).
    pub(crate) fn from_valid(id: &str) -> Self {
        debug_assert!(Self::new(id).is_some());
        Self(id.to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why discovery found no usable record. Each case means "no MTA-STS policy is available" to a
/// sender (RFC 8461 §3.1), but they are reported apart.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// No TXT record begins with `v=STSv1`.
    #[error("no TXT record begins with v=STSv1")]
    NotSts,
    /// More than one TXT record begins with `v=STSv1` (RFC 8461 §3.1: not exactly one).
    #[error("{0} TXT records begin with v=STSv1; exactly one is allowed")]
    Multiple(usize),
    /// The one record breaks the grammar.
    #[error("invalid MTA-STS record: {0}")]
    Invalid(Box<Diagnostic>),
}

/// Applies the RFC 8461 §3.1 selection rule to every TXT record at `_mta-sts.<domain>` (each with
/// its strings concatenated, RFC 8461 §3.1 and RFC 7208 §3.3): discard records that do not begin
/// with `v=STSv1`, require exactly one, and require it to be valid.
pub fn discover<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Result<StsRecord, RecordError> {
    match tagvalue::select(records, STS_VERSION) {
        Selection::None => Err(RecordError::NotSts),
        Selection::One(one) => StsRecord::parse(one),
        Selection::Many(many) => Err(RecordError::Multiple(many.len())),
    }
}

/// Lints every TXT record at `_mta-sts.<domain>` together: the selection rule of [`discover`]
/// plus the findings on the selected record and on the others (S1, S2, S3, S4).
pub fn lint_record_set<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Linted<StsRecord> {
    tagvalue::lint_set(records, &SET_CHECKS, lint_record)
}

const SET_CHECKS: SetChecks = SetChecks {
    version: STS_VERSION,
    label: "_mta-sts",
    protocol: "MTA-STS",
    spf: Check::S4,
    unrelated: Check::S3,
    none: (
        Check::S1,
        Severity::Error,
        "no TXT record begins with v=STSv1: senders see no MTA-STS policy",
    ),
    many: (Check::S2, "senders require exactly one and see no policy"),
    lint_each_of_many: true,
};

/// Lints one record, its strings already concatenated.
pub fn lint_record(txt: &[u8]) -> Linted<StsRecord> {
    let mut diags = Vec::new();
    let Ok(text) = std::str::from_utf8(txt) else {
        diags.push(Diagnostic::new(
            Check::S14,
            Severity::Error,
            "the record is not US-ASCII (RFC 8461 §3.1)",
        ));
        return Linted::new(None, diags);
    };
    if !text.is_ascii() {
        diags.push(Diagnostic::new(
            Check::S14,
            Severity::Error,
            "the record is not US-ASCII (RFC 8461 §3.1)",
        ));
        return Linted::new(None, diags);
    }
    let Some(split) = tagvalue::split(text, STS_VERSION) else {
        let message = if text.to_ascii_lowercase().starts_with("v=stsv1") {
            "the record must begin with exactly `v=STSv1` (case-sensitive, nothing before it); \
             senders discard it"
        } else {
            "the record does not begin with v=STSv1; senders discard it"
        };
        diags.push(Diagnostic::new(Check::S8, Severity::Error, message).on_field("v"));
        return Linted::new(None, diags);
    };
    if split.space_before_first_delim {
        diags.push(
            Diagnostic::new(
                Check::S8,
                Severity::Warning,
                "whitespace before the first `;`: the grammar allows it but the discard rule says \
                 `v=STSv1;` (erratum 6285), and some senders discard the record",
            )
            .on_field("v"),
        );
    }
    if split.empty_fields > 0 {
        diags.push(Diagnostic::new(
            Check::S15,
            Severity::Error,
            "empty field between `;` delimiters",
        ));
    }
    if split.fields.is_empty() {
        diags.push(Diagnostic::new(
            Check::S9,
            Severity::Error,
            "no id field: `v=STSv1; id=<1-32 letters or digits>;`",
        ));
        return Linted::new(None, diags);
    }
    let mut id = None;
    let mut extensions = Vec::new();
    for field in &split.fields {
        let Some(value) = field.value else {
            diags.push(
                Diagnostic::new(
                    Check::S15,
                    Severity::Error,
                    format!("{} is not name=value", quote(field.raw)),
                )
                .on_field(field.name),
            );
            continue;
        };
        if field.name == "id" {
            if id.is_some() {
                diags.push(
                    Diagnostic::new(
                        Check::S10,
                        Severity::Warning,
                        "duplicated id; only the first counts",
                    )
                    .on_field("id"),
                );
                continue;
            }
            match PolicyId::new(value) {
                Some(v) => id = Some(v),
                None => {
                    diags.push(
                        Diagnostic::new(
                            Check::S9,
                            Severity::Error,
                            format!("id {} is not 1-32 letters or digits", quote(value)),
                        )
                        .on_field("id"),
                    );
                    // The first id counts even when invalid: remember that one was seen.
                    id = Some(PolicyId(String::new()));
                }
            }
            continue;
        }
        if !is_ext_name(field.name) || !is_ext_value(value) {
            diags.push(
                Diagnostic::new(
                    Check::S10,
                    Severity::Error,
                    format!("field {} breaks the extension grammar (name: letters, digits, `_-.`; value: no spaces, `=` or `;`)", quote(field.raw)),
                )
                .on_field(field.name),
            );
            continue;
        }
        let hint = if field.name.eq_ignore_ascii_case("id") {
            " (field names are case-sensitive: `id`)"
        } else {
            ""
        };
        if extensions.iter().any(|e: &Extension| e.name == field.name) {
            diags.push(
                Diagnostic::new(
                    Check::S10,
                    Severity::Warning,
                    "duplicated field; only the first counts",
                )
                .on_field(field.name),
            );
            continue;
        }
        diags.push(
            Diagnostic::new(
                Check::S10,
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
    if id.is_none() {
        diags.push(Diagnostic::new(
            Check::S9,
            Severity::Error,
            "no id field: `v=STSv1; id=<1-32 letters or digits>;`",
        ));
    }
    let candidate = id.map(|id| StsRecord { id, extensions });
    Linted::new(candidate, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        for (input, id) in [
            ("v=STSv1; id=20160831085700Z;", Some("20160831085700Z")),
            ("v=STSv1; id=202306242147;", Some("202306242147")),
            ("v=STSv1;id=abc", Some("abc")),
            ("v=STSv1; id=abc; ext=1; ", Some("abc")),
            ("v=STSv1; id=a; id=b", Some("a")),
            ("v=STSv1;", None),
            ("v=STSv1; id=", None),
            ("v=STSv1; id=abc def", None),
            ("v=STSv1; id=123456789012345678901234567890123", None),
            ("v=STSv1; id=abc-1", None),
            ("v=STSv1; ID=abc", None),
            ("v=STSv1;; id=abc", None),
            ("id=abc; v=STSv1", None),
            ("v=STSv1; id=é", None),
        ] {
            let got = input
                .parse::<StsRecord>()
                .ok()
                .map(|r| r.id.as_str().to_owned());
            assert_eq!(got.as_deref(), id, "{input}");
        }
    }

    #[test]
    fn discovery_rule() {
        let ok: &[u8] = b"v=STSv1; id=1;";
        let other: &[u8] = b"google-site-verification=x";
        assert_eq!(discover([ok, other]).unwrap().id.as_str(), "1");
        assert_eq!(discover([other]), Err(RecordError::NotSts));
        assert_eq!(discover([ok, ok]), Err(RecordError::Multiple(2)));
        assert!(matches!(
            discover([b"v=STSv1; id=#".as_slice()]),
            Err(RecordError::Invalid(_))
        ));
        // `v=STSv10` does not begin with `v=STSv1;`.
        assert_eq!(
            discover([b"v=STSv10; id=1".as_slice()]),
            Err(RecordError::NotSts)
        );
    }

    #[test]
    fn display_round_trips() {
        let r: StsRecord = "v=STSv1 ; id=x1; foo=bar".parse().unwrap();
        assert_eq!(r.to_string(), "v=STSv1; id=x1; foo=bar;");
        assert_eq!(r.to_string().parse::<StsRecord>().unwrap(), r);
    }

    #[test]
    fn an_spf_record_at_the_name_is_s4() {
        let checks = |records: &[&[u8]]| {
            let l = lint_record_set(records.iter().copied());
            let found: Vec<(Check, Severity)> = l
                .diagnostics
                .iter()
                .map(|d| (d.check, d.severity))
                .collect();
            (l.parsed.is_some(), found)
        };
        // Alone (a wildcard TXT record answering at _mta-sts): no record, said as checkdmarc
        // says it.
        let alone = lint_record_set([b"v=spf1 include:_spf.example.net -all".as_slice()]);
        assert!(alone.parsed.is_none());
        assert!(
            alone.diagnostics[0]
                .message
                .starts_with("SPF record found where the MTA-STS record should be"),
            "{}",
            alone.diagnostics[0].message
        );
        assert_eq!(
            checks(&[b"v=spf1 -all"]),
            (
                false,
                vec![(Check::S4, Severity::Error), (Check::S1, Severity::Error)]
            )
        );
        // The version tag in any case (RFC 7208 §4.5; ABNF literals are case-insensitive).
        assert_eq!(checks(&[b"V=SPF1 -all"]).1[0], (Check::S4, Severity::Error));
        // Beside a valid record it is discarded: said, as a warning.
        assert_eq!(
            checks(&[b"v=STSv1; id=1", b"v=spf1 -all"]),
            (true, vec![(Check::S4, Severity::Warning)])
        );
        // Not SPF: v=spf10, and words that merely begin alike.
        assert_eq!(
            checks(&[b"v=STSv1; id=1", b"v=spf10 -all"]),
            (true, vec![(Check::S3, Severity::Warning)])
        );
    }
}
