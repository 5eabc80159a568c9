//! Host names: RFC 5321 `Domain` syntax and normalisation to comparable A-label form.
//!
//! Every comparison of names in mailsec goes through [`normalize`]: ASCII lower case, no trailing
//! dot, U-labels converted to A-labels (RFC 8461 §4.1 compares "A-labels"; RFC 5890 §2.3.2.1).

use std::fmt;

/// Longest name in presentation form without the trailing dot (RFC 1035 §2.3.4: 255 octets on
/// the wire, 253 characters in text).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Why a string is not a host name.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The name is empty.
    #[error("empty name")]
    Empty,
    /// The name is longer than 253 characters.
    #[error("name longer than {MAX_NAME_LEN} characters")]
    TooLong,
    /// A label is empty (`a..b`, or a leading dot).
    #[error("empty label")]
    EmptyLabel,
    /// A label is longer than 63 characters.
    #[error("label {} longer than {MAX_LABEL_LEN} characters", crate::diag::quote(.0))]
    LabelTooLong(String),
    /// A label holds a character outside letters, digits and hyphen, or starts or ends with a
    /// hyphen (RFC 5321 §4.1.2 `sub-domain = Let-dig [Ldh-str]`).
    #[error("label {} is not letters, digits and inner hyphens", crate::diag::quote(.0))]
    BadLabel(String),
    /// The name holds non-ASCII characters where A-labels are required.
    #[error("non-ASCII characters; IDNs must be given as A-labels (xn--...)")]
    NotAscii,
    /// A U-label or A-label that IDNA rejects.
    #[error("invalid internationalised name")]
    BadIdn,
    /// An IP address where a host name is required.
    #[error("an IP address, not a host name")]
    IpAddress,
}

/// A host name in normal form: ASCII, lower case, A-labels, no trailing dot.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, serde::Serialize)]
#[serde(transparent)]
pub struct HostName(String);

impl HostName {
    /// Parses a host name given in any common form: U-labels or A-labels, any case, with or
    /// without a trailing dot. The result compares equal for equal names.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        normalize(input).map(Self)
    }

    /// Parses a name that must already be in A-label form (what RFC 8461 §3.2 requires of `mx`
    /// values): ASCII only, RFC 5321 syntax, no trailing dot. Upper case is accepted and folded.
    pub fn parse_ascii_strict(input: &str) -> Result<Self, DomainError> {
        if !input.is_ascii() {
            return Err(DomainError::NotAscii);
        }
        check_ldh(input)?;
        let lower = input.to_ascii_lowercase();
        // A-labels must decode (RFC 5891 §5.4); idna rejects broken punycode.
        if lower.split('.').any(|l| l.starts_with("xn--"))
            && idna::domain_to_unicode(&lower).1.is_err()
        {
            return Err(DomainError::BadIdn);
        }
        Ok(Self(lower))
    }

    /// The name with its A-labels shown as Unicode (U-labels), for people; `None` when it has
    /// no A-label or one does not decode.
    pub fn to_unicode(&self) -> Option<String> {
        if !self.labels().any(|l| l.starts_with("xn--")) {
            return None;
        }
        let (unicode, result) = idna::domain_to_unicode(self.as_str());
        result.ok().map(|()| unicode)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels, left to right.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for HostName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Normalises a host name for comparison: drops one trailing dot, converts U-labels to A-labels
/// and folds case, then checks RFC 5321 `Domain` syntax.
pub fn normalize(input: &str) -> Result<String, DomainError> {
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    if trimmed.is_empty() {
        return Err(DomainError::Empty);
    }
    let ascii = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(trimmed).map_err(|_| DomainError::BadIdn)?
    };
    check_ldh(&ascii)?;
    Ok(ascii)
}

/// Checks RFC 5321 §4.1.2 `Domain` syntax on ASCII text without a trailing dot, and refuses
/// dotted-quad IPv4 addresses, which the grammar would otherwise admit.
pub fn check_ldh(name: &str) -> Result<(), DomainError> {
    if name.is_empty() {
        return Err(DomainError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(DomainError::TooLong);
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(DomainError::IpAddress);
    }
    if name.starts_with('[') || name.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(DomainError::IpAddress);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(DomainError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(DomainError::LabelTooLong(label.to_owned()));
        }
        let ok = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(DomainError::BadLabel(label.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idns_show_in_both_forms() {
        let h = HostName::parse("Bücher.Example").unwrap();
        assert_eq!(h.as_str(), "xn--bcher-kva.example");
        assert_eq!(h.to_unicode().as_deref(), Some("bücher.example"));
        assert_eq!(HostName::parse("mx.example").unwrap().to_unicode(), None);
    }

    #[test]
    fn normalize_table() {
        for (input, expected) in [
            ("Mail.Example.COM.", Ok("mail.example.com")),
            ("mail.example.com", Ok("mail.example.com")),
            ("bücher.example", Ok("xn--bcher-kva.example")),
            ("XN--BCHER-KVA.example", Ok("xn--bcher-kva.example")),
            ("", Err(DomainError::Empty)),
            (".", Err(DomainError::Empty)),
            ("a..b", Err(DomainError::EmptyLabel)),
            ("-a.b", Err(DomainError::BadLabel("-a".into()))),
            ("a_b.c", Err(DomainError::BadLabel("a_b".into()))),
            ("192.0.2.1", Err(DomainError::IpAddress)),
            ("[192.0.2.1]", Err(DomainError::IpAddress)),
            ("2001:db8::1", Err(DomainError::IpAddress)),
        ] {
            assert_eq!(normalize(input), expected.map(String::from), "{input}");
        }
    }

    #[test]
    fn strict_ascii_refuses_u_labels_and_bad_punycode() {
        assert_eq!(
            HostName::parse_ascii_strict("bücher.example"),
            Err(DomainError::NotAscii)
        );
        assert_eq!(
            HostName::parse_ascii_strict("xn--zz.example"),
            Err(DomainError::BadIdn)
        );
        assert_eq!(
            HostName::parse_ascii_strict("MX.Example.com")
                .unwrap()
                .as_str(),
            "mx.example.com"
        );
        assert_eq!(
            HostName::parse_ascii_strict("mx.example.com."),
            Err(DomainError::EmptyLabel)
        );
    }

    #[test]
    fn length_limits() {
        let label = "a".repeat(64);
        assert_eq!(
            normalize(&label),
            Err(DomainError::LabelTooLong(label.clone()))
        );
        let long = ["a".repeat(63).as_str(); 4].join(".") + ".b";
        assert_eq!(normalize(&long), Err(DomainError::TooLong));
    }
}
