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
