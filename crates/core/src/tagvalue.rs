//! The `v=...; name=value; ...` TXT record shape shared by MTA-STS (RFC 8461 §3.1) and TLS-RPT
//! (RFC 8460 §3):
//!
//! ```text
//! record      = version 1*(field-delim field) [field-delim]
//! field-delim = *WSP ";" *WSP
//! field       = ext-name "=" ext-value
//! ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)       ; no "=", ";", SP, CTLs
//! ```
//!
//! This module splits a record into fields and reports where the split itself breaks the
//! grammar; each record type checks its own values.

use crate::diag::{Check, Diagnostic, Linted, Severity, quote};

/// One `name=value` field, trimmed of the delimiter's whitespace.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Field<'a> {
    pub(crate) name: &'a str,
    /// `None` when the field has no `=`.
    pub(crate) value: Option<&'a str>,
    /// The field as written.
    pub(crate) raw: &'a str,
}

/// A record split into its version and fields.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Split<'a> {
    /// Whitespace stood between the version and the first `;` (RFC 8461 erratum 6285).
    pub(crate) space_before_first_delim: bool,
    /// Number of empty fields (`;;`) other than the optional final delimiter.
    pub(crate) empty_fields: usize,
    pub(crate) fields: Vec<Field<'a>>,
}

/// True for RFC 5234 WSP.
pub(crate) fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits `record`, which must start with exactly `version` followed by WSP, `;` or the end.
/// Returns `None` when it does not start so: such a record is not of this kind at all.
pub(crate) fn split<'a>(record: &'a str, version: &str) -> Option<Split<'a>> {
    let rest = record.strip_prefix(version)?;
    let after_version = rest.trim_start_matches(is_wsp);
    if !(after_version.is_empty() || after_version.starts_with(';')) {
        return None;
    }
    let space_before_first_delim = after_version.len() != rest.len();
    let mut fields = Vec::new();
    let mut empty_fields = 0;
    let body = after_version.strip_prefix(';').unwrap_or(after_version);
    let parts: Vec<&str> = if body.is_empty() {
        Vec::new()
    } else {
        body.split(';').collect()
    };
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        let raw = part.trim_matches(is_wsp);
        if raw.is_empty() {
            // A final empty part is the optional trailing delimiter (plus WSP).
            if i != last {
                empty_fields += 1;
            }
            continue;
        }
        let (name, value) = match raw.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (raw, None),
        };
        fields.push(Field { name, value, raw });
    }
    Some(Split {
        space_before_first_delim,
        empty_fields,
        fields,
    })
}

/// `ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`
pub(crate) fn is_ext_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && name.len() <= 32
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `ext-value = 1*(%x21-3A / %x3C / %x3E-7E)`
pub(crate) fn is_ext_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e))
}

/// RFC 8461 §3.1 and RFC 8460 §3: records "that do not begin with" the version tag are discarded.
/// Whitespace before the `;` (allowed by both ABNFs; RFC 8461 erratum 6285) and a bare version
/// are kept as candidates, so that they count towards "exactly one" and are then judged by the
/// grammar.
pub(crate) fn begins_with_version(txt: &[u8], version: &str) -> bool {
    let Some(rest) = txt.strip_prefix(version.as_bytes()) else {
        return false;
    };
    matches!(
        rest.iter().find(|&&b| b != b' ' && b != b'\t'),
        None | Some(b';')
    )
}

/// The outcome of the "exactly one record begins with the version" rule.
pub(crate) enum Selection<'a> {
    /// No record begins with the version.
    None,
    /// Exactly this one does.
    One(&'a [u8]),
    /// Several do.
    Many(Vec<&'a [u8]>),
}

/// Applies the selection rule of RFC 8461 §3.1 / RFC 8460 §3 to the TXT records at one name.
pub(crate) fn select<'a>(
    records: impl IntoIterator<Item = &'a [u8]>,
    version: &str,
) -> Selection<'a> {
    let mut candidates: Vec<&[u8]> = records
        .into_iter()
        .filter(|r| begins_with_version(r, version))
        .collect();
    match candidates.len() {
        0 => Selection::None,
        1 => Selection::One(candidates.remove(0)),
        _ => Selection::Many(candidates),
    }
}

/// What a record-set linter reports, per record kind.
pub(crate) struct SetChecks {
    /// The version tag, e.g. `v=STSv1`.
    pub(crate) version: &'static str,
    /// The owner label, for messages: `_mta-sts`.
    pub(crate) label: &'static str,
    /// The protocol, for messages: `MTA-STS`.
    pub(crate) protocol: &'static str,
    /// An SPF record answered at the name.
    pub(crate) spf: Check,
    /// A record of another kind at the name.
    pub(crate) unrelated: Check,
    /// No candidate: check, severity, message.
    pub(crate) none: (Check, Severity, &'static str),
    /// Several candidates: check, and what senders then do.
    pub(crate) many: (Check, &'static str),
    /// With several candidates, also report each one's own findings.
    pub(crate) lint_each_of_many: bool,
}

/// An SPF record (RFC 7208 §4.5): `v=spf1` alone or followed by a space, in any case (ABNF
/// literals are case-insensitive).
fn is_spf(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && b.get(6).is_none_or(|c| *c == b' ')
}

/// Lints every TXT record at one name together: the selection rule, the findings on the selected
/// record (by `lint_one`), and on the others.
pub(crate) fn lint_set<'a, T>(
    records: impl IntoIterator<Item = &'a [u8]>,
    rules: &SetChecks,
    lint_one: impl Fn(&[u8]) -> Linted<T>,
) -> Linted<T> {
    let records: Vec<&[u8]> = records.into_iter().collect();
    let mut diags = Vec::new();
    let lowercase_version = rules.version.to_ascii_lowercase();
    let has_candidate = records
        .iter()
        .any(|r| begins_with_version(r, rules.version));
    for other in records
        .iter()
        .filter(|r| !begins_with_version(r, rules.version))
    {
        let text = String::from_utf8_lossy(other);
        if is_spf(&text) {
            // What checkdmarc calls "an SPF record where an MTA-STS record should be": a wildcard
            // TXT record, or a CNAME to the apex, answers at the name. Alone it leaves the domain
            // without a record; beside a candidate it is discarded like any other record.
            diags.push(if has_candidate {
                Diagnostic::new(
                    rules.spf,
                    Severity::Warning,
                    format!(
                        "an SPF record {} is also answered at {} (a wildcard TXT record, or a CNAME to the apex?); senders discard it and use the {} record",
                        quote(&text),
                        rules.label,
                        rules.version
                    ),
                )
            } else {
                Diagnostic::new(
                    rules.spf,
                    Severity::Error,
                    format!(
                        "SPF record found where the {} record should be: {} is answered at {} (a wildcard TXT record, or a CNAME to the apex?), and no record there begins with {}",
                        rules.protocol,
                        quote(&text),
                        rules.label,
                        rules.version
                    ),
                )
            });
        } else if text.to_ascii_lowercase().starts_with(&lowercase_version) {
            // Almost a candidate (wrong case, `v=STSv10`): say why it is not one.
            diags.extend(lint_one(other).diagnostics);
        } else {
            diags.push(Diagnostic::new(
                rules.unrelated,
                Severity::Warning,
                format!("unrelated TXT record {} is ignored", quote(&text)),
            ));
        }
    }
    let parsed = match select(records.iter().copied(), rules.version) {
        Selection::None => {
            let (check, severity, message) = rules.none;
            diags.push(Diagnostic::new(check, severity, message));
            None
        }
        Selection::One(one) => {
            let linted = lint_one(one);
            diags.extend(linted.diagnostics);
            linted.parsed
        }
        Selection::Many(many) => {
            let (check, consequence) = rules.many;
            diags.push(Diagnostic::new(
                check,
                Severity::Error,
                format!(
                    "{} TXT records begin with {}; {consequence}",
                    many.len(),
                    rules.version
                ),
            ));
            if rules.lint_each_of_many {
                for one in many {
                    diags.extend(lint_one(one).diagnostics);
                }
            }
            None
        }
    };
    Linted::new(parsed, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_table() {
        let s = split("v=STSv1; id=1;", "v=STSv1").unwrap();
        assert_eq!(s.fields.len(), 1);
        assert_eq!(s.fields[0].name, "id");
        assert_eq!(s.fields[0].value, Some("1"));
        assert!(!s.space_before_first_delim);

        let s = split("v=STSv1 ;id=1 ; x=y ; ", "v=STSv1").unwrap();
        assert!(s.space_before_first_delim);
        assert_eq!(
            s.fields.iter().map(|f| f.raw).collect::<Vec<_>>(),
            ["id=1", "x=y"]
        );
        assert_eq!(s.empty_fields, 0);

        let s = split("v=STSv1;;id=1", "v=STSv1").unwrap();
        assert_eq!(s.empty_fields, 1);

        assert!(split("v=STSv10; id=1", "v=STSv1").is_none());
        assert!(split(" v=STSv1; id=1", "v=STSv1").is_none());
        assert!(split("v=stsv1; id=1", "v=STSv1").is_none());
        assert_eq!(split("v=STSv1", "v=STSv1").unwrap().fields, vec![]);
    }

    #[test]
    fn ext_syntax() {
        assert!(is_ext_name("a"));
        assert!(is_ext_name("a_b-c.d"));
        assert!(!is_ext_name("_a"));
        assert!(!is_ext_name(&"a".repeat(33)));
        assert!(is_ext_name(&"a".repeat(32)));
        assert!(is_ext_value("x:y"));
        assert!(!is_ext_value("a b"));
        assert!(!is_ext_value("a=b"));
        assert!(!is_ext_value(""));
    }
}
