//! MX host patterns and their matching, RFC 8461 §3.2 (`sts-policy-mx`) and §4.1.

use std::fmt;

use crate::domain::{DomainError, HostName};

/// One `mx` value of a policy: a host name, or `*.` followed by a host name.
///
/// RFC 8461 §4.1: a wildcard stands for exactly one whole left-most label, so `*.example.com`
/// matches `mail.example.com` but neither `example.com` nor `a.b.example.com`.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub enum MxPattern {
    /// A literal host name.
    Exact(HostName),
    /// `*.` plus this suffix.
    Wildcard(HostName),
}

impl MxPattern {
    /// Parses an `mx` value. Names must be A-labels (RFC 8461 §3.2); a trailing dot is tolerated
    /// here and reported by the linter.
    pub fn parse(value: &str) -> Result<Self, PatternError> {
        if value.is_empty() {
            return Err(PatternError::Empty);
        }
        let (wild, name) = match value.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        if name.contains('*') {
            return Err(PatternError::MisplacedWildcard);
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let host = HostName::parse_ascii_strict(name).map_err(PatternError::Name)?;
        Ok(if wild {
            Self::Wildcard(host)
        } else {
            Self::Exact(host)
        })
    }

    /// RFC 8461 §4.1 (and its Appendix B): does this pattern match the MX host name `host`?
    pub fn matches(&self, host: &HostName) -> bool {
        match self {
            Self::Exact(name) => name == host,
            Self::Wildcard(suffix) => match host.as_str().split_once('.') {
                Some((label, rest)) => !label.is_empty() && rest == suffix.as_str(),
                None => false,
            },
        }
    }

    /// The host name or the wildcard's suffix.
    pub fn name(&self) -> &HostName {
        match self {
            Self::Exact(n) | Self::Wildcard(n) => n,
        }
    }

    /// True for a wildcard pattern.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Self::Wildcard(_))
    }
}

impl fmt::Display for MxPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::Wildcard(n) => write!(f, "*.{n}"),
        }
    }
}

impl serde::Serialize for MxPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why an `mx` value is not a pattern.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// `mx:` with no value.
    #[error("empty mx value")]
    Empty,
    /// A `*` anywhere but as the whole left-most label.
    #[error("a wildcard must be the whole left-most label (`*.example.com`)")]
    MisplacedWildcard,
    /// The name part is not a host name in A-labels.
    #[error("{0}")]
    Name(DomainError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> HostName {
        HostName::parse(s).unwrap()
    }

    #[test]
    fn matching_table() {
        for (pattern, candidate, expected) in [
            ("mail.example.com", "mail.example.com", true),
            ("mail.example.com", "MAIL.Example.com.", true),
            ("mail.example.com", "mail2.example.com", false),
            ("*.example.com", "mail.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "a.b.example.com", false),
            ("*.example.com", "mail.example.net", false),
            ("*.example.com", "mailexample.com", false),
            (
                "*.mail.protection.outlook.com",
                "exchangelabs-nl.mail.protection.outlook.com",
                true,
            ),
            ("xn--bcher-kva.example", "bücher.example", true),
            ("*.xn--bcher-kva.example", "mx.bücher.example", true),
        ] {
            let p = MxPattern::parse(pattern).unwrap();
            assert_eq!(
                p.matches(&host(candidate)),
                expected,
                "{pattern} vs {candidate}"
            );
        }
    }

    #[test]
    fn parse_errors() {
        assert_eq!(MxPattern::parse(""), Err(PatternError::Empty));
        assert_eq!(MxPattern::parse("*"), Err(PatternError::MisplacedWildcard));
        assert_eq!(
            MxPattern::parse("a.*.example"),
            Err(PatternError::MisplacedWildcard)
        );
        assert_eq!(
            MxPattern::parse("*mail.example"),
            Err(PatternError::MisplacedWildcard)
        );
        assert_eq!(
            MxPattern::parse("192.0.2.1"),
            Err(PatternError::Name(DomainError::IpAddress))
        );
        assert_eq!(
            MxPattern::parse("bücher.example"),
            Err(PatternError::Name(DomainError::NotAscii))
        );
        assert_eq!(
            MxPattern::parse("*.Example.COM").unwrap().to_string(),
            "*.example.com"
        );
    }
}
