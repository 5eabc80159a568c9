//! The TLS policy table Postfix asks through `smtp_tls_policy_maps = socketmap:…`: which keys
//! name a policy domain, and the reply for one, with DANE first (RFC 8461 §2) and MTA-STS after.
//!
//! Reply syntax: Postfix `postconf(5)` `smtp_tls_policy_maps` and `TLS_README` ("TLS policy
//! table"); the TLSRPT attributes: Postfix 3.10 `TLSRPT_README`.

use std::fmt::Write as _;

use crate::domain::HostName;
use crate::mta_sts::policy::Mode;
use crate::mta_sts::sender::{CachedPolicy, Outcome};
use crate::socketmap::Reply;

/// Longest key accepted, in bytes: a domain name is at most 253 octets in text form; the rest
/// allows for brackets, a port and U-labels before conversion.
pub const MAX_KEY_LEN: usize = 1_024;

/// Why a key names no policy domain. Each answers `NOTFOUND `.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// `[host]` or `[host]:port`: delivery without MX lookup, to which MTA-STS does not apply
    /// (RFC 8461 §4: the policy speaks of the domain's MX hosts).
    #[error("`{0}` is a bracketed next hop (no MX lookup): no MTA-STS policy applies")]
    Bracketed(String),
    /// An IP address: RFC 8461 §3.4 has no policies for address literals.
    #[error("`{0}` is an IP address: no MTA-STS policy applies")]
    Address(String),
    /// `.example.com`, a parent-domain key: RFC 8461 §3.4 has no policies for parent zones.
    #[error("`{0}` is a parent-domain key: no MTA-STS policy applies")]
    Parent(String),
    /// Longer than [`MAX_KEY_LEN`].
    #[error("key of {0} bytes is too long")]
    TooLong(usize),
    /// Not a valid domain name.
    #[error("`{key}` is not a domain name: {reason}")]
    NotADomain {
        /// The key (truncated to 80 characters).
        key: String,
        /// Why.
        reason: String,
    },
}

/// The policy domain a key names: lower case, A-labels, no trailing dot, no `:port` (Postfix's
/// `host:port` next hop still looks up the MX of `host`). Brackets, addresses and parent-domain
/// keys name none.
pub fn policy_domain(key: &str) -> Result<HostName, KeyError> {
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong(key.len()));
    }
    let key = key.trim();
    let shown = || key.chars().take(80).collect::<String>();
    if key.starts_with('[') {
        return Err(KeyError::Bracketed(shown()));
    }
    if key.parse::<std::net::IpAddr>().is_ok() {
        return Err(KeyError::Address(shown()));
    }
    // `host:port`; more than one colon is an IPv6 address without brackets (refused above when
    // it parses, otherwise not a domain).
    let host = match key.split_once(':') {
        Some((host, port)) if !port.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => key,
    };
    if host.starts_with('.') {
        return Err(KeyError::Parent(shown()));
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(KeyError::Address(shown()));
    }
    HostName::parse(host).map_err(|e| KeyError::NotADomain {
        key: shown(),
        reason: e.to_string(),
    })
}

/// What the DNS says about DANE for the domain's MX hosts (RFC 7672 §2.2), which goes first.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum DaneGate {
    /// The MX RRset is secure and some MX host has a secure TLSA RRset: Postfix applies DANE.
    Dane,
    /// No DANE: the MX RRset is insecure, or no host has TLSA records. MTA-STS decides.
    NotDane,
    /// A TLSA lookup (or the address lookup before it) failed (SERVFAIL, timeout, bogus) and no
    /// host has usable DANE records: neither DANE nor a fall back to MTA-STS may be assumed.
    Failed(String),
    /// The MX lookup itself failed: whether DANE applies is unknown. A cached MTA-STS policy
    /// still applies (RFC 8461 §5.1); without one the lookup is temporary.
    MxFailed(String),
}

/// Per-zone reply options (a zone is the socketmap name, or the default).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ReplyOptions {
    /// Treat `testing` as `enforce`.
    pub strict_testing: bool,
    /// Append the TLSRPT attributes Postfix 3.10 reads.
    pub tlsrpt: bool,
    /// Answer `dane-only` instead of `dane`.
    pub dane_only: bool,
    /// Append `servername=hostname` (SNI, RFC 8461 §7.1; Postfix 3.4 and later).
    pub servername: bool,
}

impl Default for ReplyOptions {
    fn default() -> Self {
        Self {
            strict_testing: false,
            tlsrpt: false,
            dane_only: false,
            servername: true,
        }
    }
}

/// The reply for `domain`: DANE first (RFC 8461 §2), then the MTA-STS outcome.
///
/// - `dane` (or `dane-only`) when DANE applies; `TEMP` when its lookups failed;
/// - `secure match=… servername=hostname` for an `enforce` policy (and `testing` under
///   `strict_testing`), with the TLSRPT attributes when asked;
/// - `TEMP` when discovery failed with nothing cached, and when the MX lookup failed unless an
///   MTA-STS policy applies;
/// - `NOTFOUND ` otherwise: no policy, `testing`, `none`, or a fetch that failed with nothing
///   cached (RFC 8461 §3.3: then the domain is treated as having no policy).
pub fn reply(domain: &HostName, dane: &DaneGate, sts: &Outcome, opts: ReplyOptions) -> Reply {
    match dane {
        DaneGate::Dane => {
            return Reply::Ok(if opts.dane_only { "dane-only" } else { "dane" }.to_owned());
        }
        DaneGate::Failed(reason) => return Reply::Temp(one_line(reason)),
        DaneGate::MxFailed(reason) => {
            return match sts {
                Outcome::Policy { policy, .. } if applies(policy, opts) => {
                    Reply::Ok(secure(domain, policy, opts))
                }
                _ => Reply::Temp(one_line(reason)),
            };
        }
        DaneGate::NotDane => {}
    }
    match sts {
        Outcome::Temp { reason } => Reply::Temp(one_line(reason)),
        Outcome::NoPolicy { .. } => Reply::NotFound,
        Outcome::Policy { policy, .. } => {
            if applies(policy, opts) {
                Reply::Ok(secure(domain, policy, opts))
            } else {
                Reply::NotFound
            }
        }
    }
}

/// Does the policy make TLS mandatory: `enforce`, or `testing` under `strict_testing`?
fn applies(cached: &CachedPolicy, opts: ReplyOptions) -> bool {
    match cached.mode() {
        Mode::Enforce => true,
        Mode::Testing => opts.strict_testing,
        Mode::None => false,
    }
}

/// `secure match=<patterns> [servername=hostname] [TLSRPT attributes]`.
fn secure(domain: &HostName, cached: &CachedPolicy, opts: ReplyOptions) -> String {
    let mut out = String::from("secure match=");
    for (i, p) in cached.mx().enumerate() {
        if i > 0 {
            out.push(':');
        }
        // Postfix matches a leading dot against any sub-domain (`tls_client.c`), the closest
        // it has to RFC 8461 §4.1's one-label wildcard; Postfix 3.10.5 with the mx_host_pattern
        // attributes below checks the exact rule.
        match p.strip_prefix("*.") {
            Some(suffix) => {
                out.push('.');
                out.push_str(suffix);
            }
            None => out.push_str(p),
        }
    }
    if opts.servername {
        out.push_str(" servername=hostname");
    }
    if opts.tlsrpt {
        let _ = write!(out, " policy_type=sts policy_domain={domain}");
        for p in cached.mx() {
            let _ = write!(out, " mx_host_pattern={p}");
        }
        // One attribute per policy line as served (RFC 8460 §4.4 `policy-string`); braces keep
        // the spaces. A line cannot hold `}` usefully inside `{ … }`, and the policy grammar
        // allows only printable values, so such a line is left out rather than break the reply.
        for line in cached.lines() {
            if !line.contains(['{', '}']) {
                let _ = write!(out, " {{ policy_string = {line} }}");
            }
        }
    }
    out
}

/// A reason on one line (a reply is one netstring, read as one line by Postfix's log).
fn one_line(reason: &str) -> String {
    reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mta_sts::record::PolicyId;
    use crate::mta_sts::sender::{self, Discovery, Fetch, Reason, Rule, Rules, Step};

    fn outcome(body: &str) -> Outcome {
        let id = PolicyId::new("x1").unwrap();
        let Step::Fetch { rule, .. } =
            sender::after_discovery(None, Discovery::Record(id.clone()), Reason::Lookup, 1_000)
        else {
            panic!()
        };
        sender::after_fetch(
            None,
            id,
            rule,
            Fetch::Body(body.as_bytes().to_vec()),
            1_000,
            &Rules::default(),
            0.0,
        )
        .outcome
    }

    fn d(s: &str) -> HostName {
        HostName::parse(s).unwrap()
    }

    const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n";

    #[test]
    fn enforce_gives_secure_with_patterns_in_policy_order() {
        let r = reply(
            &d("example.com"),
            &DaneGate::NotDane,
            &outcome(ENFORCE),
            ReplyOptions::default(),
        );
        assert_eq!(
            r.to_string(),
            "OK secure match=mx1.example.com:.example.net servername=hostname"
        );
        let no_sni = ReplyOptions {
            servername: false,
            ..ReplyOptions::default()
        };
        assert_eq!(
            reply(
                &d("example.com"),
                &DaneGate::NotDane,
                &outcome(ENFORCE),
                no_sni
            )
            .to_string(),
            "OK secure match=mx1.example.com:.example.net"
        );
    }

    #[test]
    fn tlsrpt_attributes_carry_the_raw_lines() {
        let opts = ReplyOptions {
            tlsrpt: true,
            ..ReplyOptions::default()
        };
        let r = reply(
            &d("example.com"),
            &DaneGate::NotDane,
            &outcome(ENFORCE),
            opts,
        );
        assert_eq!(
            r.to_string(),
            "OK secure match=mx1.example.com:.example.net servername=hostname \
             policy_type=sts policy_domain=example.com mx_host_pattern=mx1.example.com \
             mx_host_pattern=*.example.net { policy_string = version: STSv1 } \
             { policy_string = mode: enforce } { policy_string = mx: mx1.example.com } \
             { policy_string = mx: *.example.net } { policy_string = max_age: 86400 }"
        );
    }

    #[test]
    fn tlsrpt_attributes_leave_out_a_line_with_braces() {
        // An extension value may hold braces (RFC 8461 §3.2 `sts-policy-ext-value` is any
        // printable text); inside Postfix's `{ … }` they would end the attribute early.
        let body = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\nx-note: a{b}c\r\n";
        let opts = ReplyOptions {
            tlsrpt: true,
            ..ReplyOptions::default()
        };
        let r = reply(&d("example.com"), &DaneGate::NotDane, &outcome(body), opts).to_string();
        assert!(r.ends_with("{ policy_string = max_age: 86400 }"), "{r}");
        assert!(!r.contains("x-note"), "{r}");
    }

    #[test]
    fn testing_and_none_are_notfound_unless_strict_testing() {
        let testing = outcome(&ENFORCE.replace("enforce", "testing"));
        let none = outcome(&ENFORCE.replace("enforce", "none"));
        let dom = d("example.com");
        let strict = ReplyOptions {
            strict_testing: true,
            ..ReplyOptions::default()
        };
        assert_eq!(
            reply(&dom, &DaneGate::NotDane, &testing, ReplyOptions::default()),
            Reply::NotFound
        );
        assert!(
            matches!(reply(&dom, &DaneGate::NotDane, &testing, strict), Reply::Ok(s) if s.starts_with("secure "))
        );
        assert_eq!(
            reply(&dom, &DaneGate::NotDane, &none, strict),
            Reply::NotFound
        );
    }

    #[test]
    fn dane_goes_first_and_a_failed_dane_lookup_is_temp_whatever_mta_sts_says() {
        let dom = d("example.com");
        let sts = outcome(ENFORCE);
        assert_eq!(
            reply(&dom, &DaneGate::Dane, &sts, ReplyOptions::default()),
            Reply::Ok("dane".into())
        );
        let only = ReplyOptions {
            dane_only: true,
            ..ReplyOptions::default()
        };
        assert_eq!(
            reply(&dom, &DaneGate::Dane, &sts, only),
            Reply::Ok("dane-only".into())
        );
        assert_eq!(
            reply(
                &dom,
                &DaneGate::Failed("TLSA _25._tcp.mx1.example.com: bogus\n".into()),
                &sts,
                ReplyOptions::default()
            ),
            Reply::Temp("TLSA _25._tcp.mx1.example.com: bogus ".into())
        );
    }

    #[test]
    fn a_failed_mx_lookup_keeps_an_enforce_policy_and_is_temp_otherwise() {
        let dom = d("example.com");
        let mx = DaneGate::MxFailed("MX example.com: SERVFAIL".into());
        assert_eq!(
            reply(&dom, &mx, &outcome(ENFORCE), ReplyOptions::default()).to_string(),
            "OK secure match=mx1.example.com:.example.net servername=hostname"
        );
        let no = Outcome::NoPolicy {
            rule: Rule::NoRecord,
            failure: None,
            reason: "no record".into(),
        };
        assert_eq!(
            reply(&dom, &mx, &no, ReplyOptions::default()).to_string(),
            "TEMP MX example.com: SERVFAIL"
        );
        let testing = outcome(&ENFORCE.replace("enforce", "testing"));
        assert_eq!(
            reply(&dom, &mx, &testing, ReplyOptions::default()).to_string(),
            "TEMP MX example.com: SERVFAIL"
        );
    }

    #[test]
    fn no_policy_is_notfound_and_a_dns_failure_is_temp() {
        let dom = d("example.com");
        let no = Outcome::NoPolicy {
            rule: Rule::NoRecord,
            failure: None,
            reason: "no record".into(),
        };
        assert_eq!(
            reply(&dom, &DaneGate::NotDane, &no, ReplyOptions::default()).to_string(),
            "NOTFOUND "
        );
        let temp = Outcome::Temp {
            reason: "_mta-sts.example.com TXT: SERVFAIL".into(),
        };
        assert_eq!(
            reply(&dom, &DaneGate::NotDane, &temp, ReplyOptions::default()).to_string(),
            "TEMP _mta-sts.example.com TXT: SERVFAIL"
        );
    }

    #[test]
    fn keys_are_normalised_and_non_domains_refused() {
        for (key, want) in [
            ("Example.COM", "example.com"),
            ("example.com.", "example.com"),
            (" example.com ", "example.com"),
            ("example.com:25", "example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("BÜCHER.example.", "xn--bcher-kva.example"),
        ] {
            assert_eq!(policy_domain(key).unwrap().as_str(), want, "{key}");
        }
        for key in ["[mx.example.com]", "[mx.example.com]:587", "[192.0.2.1]"] {
            assert!(
                matches!(policy_domain(key), Err(KeyError::Bracketed(_))),
                "{key}"
            );
        }
        for key in ["192.0.2.1", "2001:db8::1", "192.0.2.1:25", "::1"] {
            assert!(
                matches!(policy_domain(key), Err(KeyError::Address(_))),
                "{key}"
            );
        }
        assert!(matches!(
            policy_domain(".example.com"),
            Err(KeyError::Parent(_))
        ));
        for key in ["exa mple.com", "a..b", "", "\u{0}", "x:y:z"] {
            assert!(
                matches!(policy_domain(key), Err(KeyError::NotADomain { .. })),
                "{key:?}: {:?}",
                policy_domain(key)
            );
        }
        assert!(matches!(
            policy_domain(&"a".repeat(MAX_KEY_LEN + 1)),
            Err(KeyError::TooLong(_))
        ));
    }
}
