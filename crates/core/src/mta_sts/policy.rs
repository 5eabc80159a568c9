//! The MTA-STS policy body served at `https://mta-sts.<domain>/.well-known/mta-sts.txt`,
//! RFC 8461 §3.2.
//!
//! ```text
//! sts-policy-record      = sts-policy-field *WSP
//!                          *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
//! sts-policy-field-delim = ":" *WSP
//! sts-policy-term        = LF / CRLF
//! ```
//!
//! [`lint_policy`] finds every problem with its line; [`Policy::parse`] is the strict face used by
//! senders and accepts exactly what the linter finds no error in.
//!
//! Decisions where the RFC leaves room (documented in the catalogue messages too):
//! - `max_age` above 31557600 is an error (the field's defined range), not clamped;
//! - blank lines between fields break the grammar and are errors; blank lines after the last
//!   field are warnings, since common web servers append them;
//! - an `mx` value with a trailing dot is accepted without the dot, with a warning;
//! - duplicated `version`, `mode` and `max_age`: the first counts (RFC 8461 §3.2).

use std::fmt;

use crate::Extension;
use crate::diag::{Check, Diagnostic, Linted, Severity, quote};
use crate::domain::{DomainError, HostName};
use crate::mta_sts::pattern::{MxPattern, PatternError};
use crate::tagvalue::{is_ext_name, is_wsp};

/// Largest `max_age`: one year, RFC 8461 §3.2.
pub const MAX_AGE_LIMIT: u32 = 31_557_600;
/// Body size senders are advised to accept at most, RFC 8461 §3.3 ("64 kilobytes").
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// The only version, RFC 8461 §3.2.
pub const POLICY_VERSION: &str = "STSv1";

/// A valid policy.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct Policy {
    /// What senders do on failure.
    pub mode: Mode,
    /// How long senders may cache the policy.
    pub max_age: MaxAge,
    /// The MX patterns, in policy order.
    pub mx: Vec<MxPattern>,
    /// Unknown keys, ignored by senders, in policy order.
    pub extensions: Vec<Extension>,
    /// The non-empty lines as served, without terminators: the TLS-RPT `policy-string`
    /// (RFC 8460 §4.5).
    #[serde(skip)]
    pub lines: Vec<String>,
}

impl Policy {
    /// Parses a policy body strictly. The error is the first error-severity finding of
    /// [`lint_policy`].
    pub fn parse(body: &[u8]) -> Result<Self, PolicyError> {
        let linted = lint_policy(body);
        match linted.parsed {
            Some(p) => Ok(p),
            None => Err(PolicyError(Box::new(
                linted
                    .diagnostics
                    .into_iter()
                    .find(Diagnostic::is_error)
                    .unwrap_or_else(|| Diagnostic::new(Check::P3, Severity::Error, "no policy")),
            ))),
        }
    }

    /// RFC 8461 §4.1: does some `mx` pattern match the MX host `host`?
    pub fn matches(&self, host: &HostName) -> bool {
        self.mx.iter().any(|p| p.matches(host))
    }
}

impl fmt::Display for Policy {
    /// The canonical body: version, mode, each mx, max_age, extensions; LF-terminated lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "version: {POLICY_VERSION}")?;
        writeln!(f, "mode: {}", self.mode)?;
        for mx in &self.mx {
            writeln!(f, "mx: {mx}")?;
        }
        writeln!(f, "max_age: {}", self.max_age.0)?;
        for e in &self.extensions {
            writeln!(f, "{}: {}", e.name, e.value)?;
        }
        Ok(())
    }
}

/// An invalid policy: the first error found, with its line and check.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("invalid MTA-STS policy: {0}")]
pub struct PolicyError(pub Box<Diagnostic>);

/// The policy mode, RFC 8461 §5.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Do not deliver to MX hosts that fail validation.
    Enforce,
    /// Deliver anyway; report failures (TLS-RPT).
    Testing,
    /// No active policy (used to remove one, RFC 8461 §8.3).
    None,
}

impl Mode {
    /// The exact, case-sensitive policy value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "enforce" => Some(Self::Enforce),
            "testing" => Some(Self::Testing),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The policy value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
            Self::None => "none",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `max_age` in seconds, at most [`MAX_AGE_LIMIT`].
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, serde::Serialize)]
#[serde(transparent)]
pub struct MaxAge(u32);

impl MaxAge {
    /// `1*10(DIGIT)` with a value of at most 31557600.
    pub fn parse(value: &str) -> Result<Self, MaxAgeError> {
        if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MaxAgeError::Syntax);
        }
        let n: u64 = value.parse().map_err(|_| MaxAgeError::Syntax)?;
        match u32::try_from(n) {
            Ok(n) if n <= MAX_AGE_LIMIT => Ok(Self(n)),
            _ => Err(MaxAgeError::TooLarge(n)),
        }
    }

    /// Seconds.
    pub fn seconds(self) -> u32 {
        self.0
    }
}

/// Why a `max_age` value is refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum MaxAgeError {
    /// Not 1 to 10 digits.
    #[error("max_age must be 1 to 10 digits")]
    Syntax,
    /// Above one year.
    #[error("max_age {0} exceeds the maximum of {MAX_AGE_LIMIT} (one year, RFC 8461 §3.2)")]
    TooLarge(u64),
}

/// Lints a policy body: every finding with its line, and the policy when there is no error.
pub fn lint_policy(body: &[u8]) -> Linted<Policy> {
    let mut diags = Vec::new();
    if body.len() > MAX_BODY_LEN {
        diags.push(Diagnostic::new(
            Check::H7,
            Severity::Warning,
            format!(
                "the body is {} bytes; senders may refuse more than {MAX_BODY_LEN} (RFC 8461 §3.3)",
                body.len()
            ),
        ));
    }
    let mut b = Builder::default();
    let raw_lines: Vec<&[u8]> = body.split(|&c| c == b'\n').collect();
    // After a final terminator `split` yields one empty slice: it is not a line.
    let count = match raw_lines.last() {
        Some(&[]) => raw_lines.len() - 1,
        _ => raw_lines.len(),
    };
    let last_content = raw_lines[..count]
        .iter()
        .rposition(|l| !l.is_empty() && *l != b"\r");
    for (i, raw) in raw_lines[..count].iter().enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.contains(&b'\r') {
            diags.push(
                Diagnostic::new(
                    Check::P1,
                    Severity::Error,
                    "stray CR: lines end in LF or CRLF only (RFC 8461 §3.2)",
                )
                .at_line(n),
            );
            continue;
        }
        if line.is_empty() {
            if last_content.is_some_and(|last| i < last) {
                diags.push(
                    Diagnostic::new(
                        Check::P1,
                        Severity::Error,
                        "blank line between fields breaks the policy grammar",
                    )
                    .at_line(n),
                );
            } else {
                diags.push(
                    Diagnostic::new(
                        Check::P1,
                        Severity::Warning,
                        "blank line after the last field; the grammar allows none and strict senders refuse it",
                    )
                    .at_line(n),
                );
            }
            continue;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            diags.push(
                Diagnostic::new(Check::P2, Severity::Error, "the line is not UTF-8").at_line(n),
            );
            continue;
        };
        b.line(n, line, &mut diags);
    }
    let candidate = b.finish(&mut diags);
    Linted::new(candidate, diags)
}

/// Lints a valid policy against the domain's actual MX hosts (P13, P14, P17) and, given the
/// policy domain, for broad wildcards (P16). RFC 8461 §4.1 and §10.4.
pub fn lint_mx_coverage(
    policy: &Policy,
    mx_hosts: &[HostName],
    policy_domain: Option<&HostName>,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let enforce = policy.mode == Mode::Enforce;
    let mut covered = 0;
    let mut uncovered = Vec::new();
    for host in mx_hosts {
        if policy.matches(host) {
            covered += 1;
        } else {
            uncovered.push(host);
        }
    }
    // What an uncovered MX host means depends on the mode (RFC 8461 §5): enforce refuses it,
    // testing delivers and reports, none applies nothing at all.
    match policy.mode {
        Mode::Enforce | Mode::Testing => {
            for host in &uncovered {
                let (severity, consequence) = if enforce {
                    (
                        Severity::Error,
                        "senders that enforce MTA-STS will not deliver to it (they defer)",
                    )
                } else {
                    (
                        Severity::Warning,
                        "in mode testing senders still deliver to it, and report a failure (TLS-RPT)",
                    )
                };
                diags.push(
                    Diagnostic::new(
                        Check::P13,
                        severity,
                        format!("MX host {host} matches no mx pattern: {consequence}"),
                    )
                    .on_field("mx"),
                );
            }
        }
        Mode::None if !uncovered.is_empty() => {
            let hosts: Vec<String> = uncovered.iter().map(ToString::to_string).collect();
            diags.push(
                Diagnostic::new(
                    Check::P13,
                    Severity::Info,
                    format!(
                        "mode none: senders apply no policy, so it does not matter now that {} \
                         matches no mx pattern; it will if the mode changes",
                        hosts.join(", ")
                    ),
                )
                .on_field("mx"),
            );
        }
        Mode::None => {}
    }
    if enforce && !mx_hosts.is_empty() && covered == 0 {
        diags.push(Diagnostic::new(
            Check::P17,
            Severity::Error,
            "the enforce policy permits none of the MX hosts: enforcing senders cannot deliver any mail",
        ));
    }
    if !mx_hosts.is_empty() {
        for pattern in &policy.mx {
            if !mx_hosts.iter().any(|h| pattern.matches(h)) {
                diags.push(
                    Diagnostic::new(
                        Check::P14,
                        Severity::Info,
                        format!("pattern {pattern} matches no MX host"),
                    )
                    .on_field("mx"),
                );
            }
        }
    }
    if let Some(domain) = policy_domain {
        for pattern in policy.mx.iter().filter(|p| p.is_wildcard()) {
            let suffix = pattern.name().as_str();
            let d = domain.as_str();
            if d == suffix || d.ends_with(&format!(".{suffix}")) {
                diags.push(
                    Diagnostic::new(
                        Check::P16,
                        Severity::Info,
                        format!(
                            "{pattern} lets any host with a certificate for a name one label below {suffix} \
                             receive mail for {domain} (RFC 8461 §10.4)"
                        ),
                    )
                    .on_field("mx"),
                );
            }
        }
    }
    diags
}

#[derive(Default)]
struct Builder {
    version: bool,
    mode: Option<Option<Mode>>,
    max_age: Option<Option<MaxAge>>,
    mx: Vec<MxPattern>,
    extensions: Vec<Extension>,
    lines: Vec<String>,
}

impl Builder {
    fn line(&mut self, n: usize, line: &str, diags: &mut Vec<Diagnostic>) {
        self.lines.push(line.to_owned());
        if line.starts_with(is_wsp) {
            diags.push(
                Diagnostic::new(Check::P2, Severity::Error, "whitespace before the key").at_line(n),
            );
            return;
        }
        let Some((key, rest)) = line.split_once(':') else {
            diags.push(
                Diagnostic::new(
                    Check::P2,
                    Severity::Error,
                    format!("{} is not `key: value`", quote(line)),
                )
                .at_line(n),
            );
            return;
        };
        if key.ends_with(is_wsp) {
            diags.push(
                Diagnostic::new(Check::P2, Severity::Error, "whitespace before the colon")
                    .at_line(n)
                    .on_field(key.trim_end()),
            );
            return;
        }
        let value = rest.trim_start_matches(is_wsp).trim_end_matches(is_wsp);
        let at = |check, severity, message: String| {
            Diagnostic::new(check, severity, message)
                .at_line(n)
                .on_field(key)
        };
        match key {
            "version" => {
                if self.version {
                    diags.push(at(
                        Check::P10,
                        Severity::Warning,
                        "duplicated version; only the first counts".into(),
                    ));
                } else {
                    self.version = true;
                    if value != POLICY_VERSION {
                        diags.push(at(
                            Check::P3,
                            Severity::Error,
                            format!("version {} is not `STSv1`", quote(value)),
                        ));
                    }
                }
            }
            "mode" => {
                if self.mode.is_some() {
                    diags.push(at(
                        Check::P10,
                        Severity::Warning,
                        "duplicated mode; only the first counts".into(),
                    ));
                    return;
                }
                let mode = Mode::parse(value);
                if mode.is_none() {
                    let hint = if Mode::parse(&value.to_ascii_lowercase()).is_some() {
                        " (values are case-sensitive)"
                    } else {
                        ""
                    };
                    diags.push(at(
                        Check::P4,
                        Severity::Error,
                        format!(
                            "mode {} is not enforce, testing or none{hint}",
                            quote(value)
                        ),
                    ));
                }
                self.mode = Some(mode);
            }
            "max_age" => {
                if self.max_age.is_some() {
                    diags.push(at(
                        Check::P10,
                        Severity::Warning,
                        "duplicated max_age; only the first counts".into(),
                    ));
                    return;
                }
                let parsed = MaxAge::parse(value);
                if let Err(e) = parsed {
                    diags.push(at(
                        Check::P5,
                        Severity::Error,
                        format!("{}: {e}", quote(value)),
                    ));
                }
                self.max_age = Some(parsed.ok());
            }
            "mx" => self.mx(value, &at, diags),
            _ => {
                let hint = ["version", "mode", "max_age", "mx"]
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(key))
                    .map(|k| format!(" (keys are case-sensitive: did you mean `{k}`?)"))
                    .unwrap_or_default();
                if !is_ext_name(key) || !is_policy_ext_value(value) {
                    diags.push(at(
                        Check::P11,
                        Severity::Error,
                        format!(
                            "unknown key {} breaks the extension grammar{hint}",
                            quote(key)
                        ),
                    ));
                } else if self.extensions.iter().any(|e| e.name == key) {
                    diags.push(at(
                        Check::P10,
                        Severity::Warning,
                        format!("duplicated key {}; only the first counts", quote(key)),
                    ));
                } else {
                    diags.push(at(
                        Check::P11,
                        Severity::Warning,
                        format!("unknown key {} is ignored by senders{hint}", quote(key)),
                    ));
                    self.extensions.push(Extension {
                        name: key.to_owned(),
                        value: value.to_owned(),
                    });
                }
            }
        }
    }

    fn mx(
        &mut self,
        value: &str,
        at: &dyn Fn(Check, Severity, String) -> Diagnostic,
        diags: &mut Vec<Diagnostic>,
    ) {
        match MxPattern::parse(value) {
            Ok(p) => {
                if value.ends_with('.') {
                    diags.push(at(
                        Check::P8,
                        Severity::Warning,
                        format!("{} ends with a dot; the grammar has none and some senders will not match it", quote(value)),
                    ));
                }
                if self.mx.contains(&p) {
                    diags.push(at(
                        Check::P10,
                        Severity::Warning,
                        format!("mx `{p}` is listed twice"),
                    ));
                } else {
                    self.mx.push(p);
                }
            }
            Err(e) => {
                let hint = match &e {
                    PatternError::Name(DomainError::NotAscii) => {
                        idna::domain_to_ascii(value.trim_start_matches("*."))
                            .map(|a| {
                                format!(
                                    " (write `{}{a}`)",
                                    if value.starts_with("*.") { "*." } else { "" }
                                )
                            })
                            .unwrap_or_default()
                    }
                    _ => String::new(),
                };
                diags.push(at(
                    Check::P8,
                    Severity::Error,
                    format!("mx {}: {e}{hint}", quote(value)),
                ));
            }
        }
    }

    fn finish(self, diags: &mut Vec<Diagnostic>) -> Option<Policy> {
        if !self.version {
            diags.push(Diagnostic::new(
                Check::P3,
                Severity::Error,
                "no `version: STSv1` line",
            ));
        }
        if self.mode.is_none() {
            diags.push(Diagnostic::new(
                Check::P4,
                Severity::Error,
                "no `mode` line",
            ));
        }
        if self.max_age.is_none() {
            diags.push(Diagnostic::new(
                Check::P5,
                Severity::Error,
                "no `max_age` line",
            ));
        }
        let mode = self.mode.flatten();
        let max_age = self.max_age.flatten();
        if self.mx.is_empty() && mode != Some(Mode::None) {
            diags.push(Diagnostic::new(
                Check::P9,
                Severity::Error,
                "no valid `mx` line; one is required unless the mode is none",
            ));
        }
        match mode {
            Some(Mode::Testing) => diags.push(Diagnostic::new(
                Check::P12,
                Severity::Warning,
                "mode testing: failures are reported but mail is still delivered without authenticated TLS",
            )),
            Some(Mode::None) => diags.push(Diagnostic::new(
                Check::P12,
                Severity::Info,
                "mode none: senders treat the domain as having no policy (RFC 8461 §8.3 removal)",
            )),
            _ => {}
        }
        if let Some(age) = max_age {
            if age.0 < 86_400 {
                diags.push(
                    Diagnostic::new(
                        Check::P6,
                        Severity::Warning,
                        format!("max_age {} is under one day: the cache barely protects the first contact after it expires", age.0),
                    )
                    .on_field("max_age"),
                );
            } else if age.0 < 1_209_600 {
                diags.push(
                    Diagnostic::new(
                        Check::P7,
                        Severity::Info,
                        format!(
                            "max_age {} is under two weeks; RFC 8461 §3.2 expects weeks or more",
                            age.0
                        ),
                    )
                    .on_field("max_age"),
                );
            }
        }
        Some(Policy {
            mode: mode?,
            max_age: max_age?,
            mx: self.mx,
            extensions: self.extensions,
            lines: self.lines,
        })
    }
}

/// `sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]`, where
/// `sts-policy-vchar` is a visible ASCII character or any non-ASCII UTF-8 character. The value
/// arrives trimmed of WSP, so only inner tabs and controls can break it.
fn is_policy_ext_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c == ' ' || ('\u{21}'..='\u{7e}').contains(&c) || !c.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_EXAMPLE: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n";

    #[test]
    fn rfc_example() {
        let p = Policy::parse(RFC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age.seconds(), 604_800);
        assert_eq!(p.mx.len(), 3);
        assert_eq!(p.lines.len(), 6);
        assert!(p.matches(&HostName::parse("foo.example.net").unwrap()));
        assert!(!p.matches(&HostName::parse("example.net").unwrap()));
    }

    #[test]
    fn round_trip_through_display() {
        let p = Policy::parse(RFC_EXAMPLE.as_bytes()).unwrap();
        let again = Policy::parse(p.to_string().as_bytes()).unwrap();
        assert_eq!(
            (again.mode, again.max_age, &again.mx),
            (p.mode, p.max_age, &p.mx)
        );
    }

    #[test]
    fn first_error_table() {
        for (body, check, line) in [
            (
                "version: STSv1\r\nmode: enforce\rx\nmx: a.example\nmax_age: 1\n",
                Check::P1,
                Some(2),
            ),
            (
                "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                Check::P1,
                Some(2),
            ),
            (
                " version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                Check::P2,
                Some(1),
            ),
            (
                "version : STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                Check::P2,
                Some(1),
            ),
            (
                "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                Check::P3,
                Some(1),
            ),
            (
                "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
                Check::P4,
                Some(2),
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n",
                Check::P5,
                Some(4),
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
                Check::P5,
                Some(4),
            ),
            (
                "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 1\n",
                Check::P8,
                Some(3),
            ),
            (
                "version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n",
                Check::P8,
                Some(3),
            ),
            (
                "version: STSv1\nmode: enforce\nmax_age: 1\n",
                Check::P9,
                None,
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nbad key: x\n",
                Check::P11,
                Some(5),
            ),
            (
                "mode: enforce\nmx: a.example\nmax_age: 1\n",
                Check::P3,
                None,
            ),
            ("", Check::P3, None),
        ] {
            let err = Policy::parse(body.as_bytes()).unwrap_err();
            assert_eq!((err.0.check, err.0.line), (check, line), "{body:?}: {err}");
        }
    }

    #[test]
    fn accepted_variants() {
        for body in [
            // no final newline, CRLF, trailing spaces, mode none without mx
            "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 86400",
            "version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 86400\r\n",
            "version:STSv1  \nmode:\tenforce\nmx: a.example \nmax_age: 86400\n",
            "version: STSv1\nmode: none\nmax_age: 86400\n",
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 86400\n\n",
            "version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 86400\nfoo: bar baz\n",
        ] {
            assert!(Policy::parse(body.as_bytes()).is_ok(), "{body:?}");
        }
        let p = Policy::parse(
            b"version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 9\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce, "first wins");
    }

    #[test]
    fn coverage() {
        let p = Policy::parse(b"version: STSv1\nmode: enforce\nmx: *.example.com\nmx: old.example.org\nmax_age: 604800\n").unwrap();
        let hosts = [
            HostName::parse("mx1.example.com").unwrap(),
            HostName::parse("mx.example.net").unwrap(),
        ];
        let domain = HostName::parse("example.com").unwrap();
        let d = lint_mx_coverage(&p, &hosts, Some(&domain));
        let checks: Vec<_> = d.iter().map(|d| (d.check, d.severity)).collect();
        assert_eq!(
            checks,
            [
                (Check::P13, Severity::Error),
                (Check::P14, Severity::Info),
                (Check::P16, Severity::Info)
            ]
        );
        let none_ok = lint_mx_coverage(&p, &hosts[1..], None);
        assert!(none_ok.iter().any(|d| d.check == Check::P17));
    }

    #[test]
    fn coverage_follows_the_mode() {
        let hosts = [HostName::parse("mx2.example.com").unwrap()];
        let p13 = |mode: &str| {
            let body =
                format!("version: STSv1\nmode: {mode}\nmx: mx1.example.com\nmax_age: 604800\n");
            let p = Policy::parse(body.as_bytes()).unwrap();
            lint_mx_coverage(&p, &hosts, None)
                .into_iter()
                .filter(|d| d.check == Check::P13)
                .map(|d| (d.severity, d.message))
                .collect::<Vec<_>>()
        };
        let enforce = p13("enforce");
        assert_eq!(enforce.len(), 1);
        assert_eq!(enforce[0].0, Severity::Error);
        assert!(enforce[0].1.contains("will not deliver"), "{enforce:?}");
        let testing = p13("testing");
        assert_eq!(testing[0].0, Severity::Warning);
        assert!(testing[0].1.contains("report"), "{testing:?}");
        let none = p13("none");
        assert_eq!(none.len(), 1);
        assert_eq!(none[0].0, Severity::Info);
        assert!(!none[0].1.contains("report"), "{none:?}");
        assert!(none[0].1.contains("apply no policy"), "{none:?}");
    }
}
