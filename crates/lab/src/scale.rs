//! Generated domains for tests and benchmarks at scale: `d<i>.scale.test` for `i` in `1..=N`.
//!
//! Besides the scenario table, a lab started with [`LabConfig::scale`](crate::LabConfig) serves
//! `N` domains built from one pattern, each in its own signed zone under a signed `scale.test.`
//! (delegated from `test.`, DS records all the way down):
//!
//! ```text
//!   d<i>.scale.test.            MX 10 mx.d<i>.scale.test.
//!   mx.d<i>.scale.test.         A  127.2.<(i-1) / 254>.<(i-1) % 254 + 1>
//!   _25._tcp.mx.d<i>...         TLSA 3 1 1 <the host's key>, TLSA 2 1 1 <the lab intermediate>
//!   _mta-sts.d<i>...            TXT "v=STSv1; id=20261129T000000;"  (enforce policy on the policy host)
//!   mta-sts.d<i>...             A  127.0.0.1
//!   _smtp._tls.d<i>...          TXT "v=TLSRPTv1; rua=mailto:tlsrpt@d<i>.scale.test"
//! ```
//!
//! The variety is deterministic, so that a checker has failures to find and a test knows which:
//! every 10th domain publishes only a `3 1 1` of another key (nothing matches: `tlsa-invalid`),
//! every 25th domain's SMTP server offers no STARTTLS (`starttls-not-supported`, which is what a
//! sender meets first when both apply, as for every 50th). [`ScaleSpec`] is the description; the
//! lab serves exactly what it says, and [`ScaleSpec::expected`] is what a conformant DANE sender
//! (RFC 7672) must conclude. DANE takes precedence over the enforce MTA-STS policy (RFC 8461 §2).

use std::net::Ipv4Addr;

use crate::scenario::Verdict;

/// The zone holding every generated domain.
pub const SCALE_ZONE: &str = "scale.test";

/// The most generated domains the address plan holds: one MX per domain in `127.2.0.0/16`, 254
/// addresses per `/24` (the last octet runs from 1 to 254).
pub const MAX_SCALE: u32 = 254 * 256;

/// The MTA-STS record id of every generated domain.
pub(crate) const STS_ID: &str = "20261129T000000";

/// The TLSA records a generated MX host publishes.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaleTlsa {
    /// `3 1 1` of the host's own key and `2 1 1` of the lab intermediate: both match.
    Match,
    /// Only a `3 1 1` of another key (a retired one, say): no record matches the served chain,
    /// so DANE authentication fails (RFC 7672 §3.1).
    OtherKey,
}

/// One generated domain: what it publishes and serves, computed from its index alone.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
pub struct ScaleSpec {
    /// `i` of `d<i>.scale.test`, from 1.
    pub index: u32,
    /// Whether the MX host's SMTP server offers STARTTLS (all but every 25th).
    pub starttls: bool,
    /// Its TLSA records (every 10th matches nothing).
    pub tlsa: ScaleTlsa,
}

impl ScaleSpec {
    /// The spec of `d<index>.scale.test`.
    pub const fn new(index: u32) -> Self {
        Self {
            index,
            starttls: !index.is_multiple_of(25),
            tlsa: if index.is_multiple_of(10) {
                ScaleTlsa::OtherKey
            } else {
                ScaleTlsa::Match
            },
        }
    }

    /// The specs of a lab with `scale` generated domains, `d1` first.
    pub fn all(scale: u32) -> impl Iterator<Item = Self> {
        (1..=scale).map(Self::new)
    }

    /// Reads the index back from `d<i>.scale.test` (a trailing dot allowed, any case).
    pub fn index_of(domain: &str) -> Option<u32> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let label = domain
            .strip_suffix(SCALE_ZONE)?
            .strip_suffix('.')?
            .strip_prefix('d')?;
        // Exactly the canonical digits: no sign, no leading zero.
        if label.is_empty() || label.starts_with('0') || !label.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        label.parse().ok().filter(|i| *i >= 1)
    }

    /// `d<i>.scale.test`.
    pub fn domain(&self) -> String {
        format!("d{}.{SCALE_ZONE}", self.index)
    }

    /// The MX host: `mx.d<i>.scale.test`.
    pub fn mx_host(&self) -> String {
        format!("mx.{}", self.domain())
    }

    /// The MX host's address: `127.2.<(i-1) / 254>.<(i-1) % 254 + 1>`, so `d1` is at
    /// `127.2.0.1` and `d255` at `127.2.1.1` (the scenarios' hosts are on `127.1.0.0/16`).
    /// Indices beyond [`MAX_SCALE`] wrap around.
    pub fn addr(&self) -> Ipv4Addr {
        let k = self.index.saturating_sub(1) % MAX_SCALE;
        let (hi, lo) = (k / 254, k % 254 + 1);
        Ipv4Addr::new(
            127,
            2,
            u8::try_from(hi).unwrap_or(u8::MAX),
            u8::try_from(lo).unwrap_or(u8::MAX),
        )
    }

    /// The MTA-STS policy body the policy host serves for the domain.
    pub fn policy(&self) -> String {
        format!(
            "version: STSv1\nmode: enforce\nmx: {}\nmax_age: 604800\n",
            self.mx_host()
        )
    }

    /// What a conformant DANE sender concludes: no STARTTLS is met first (RFC 7672 §2.2: TLS is
    /// mandatory, never cleartext), then the TLSA match (§3).
    pub fn expected(&self) -> Verdict {
        if !self.starttls {
            Verdict::Defer("starttls-not-supported")
        } else if self.tlsa == ScaleTlsa::OtherKey {
            Verdict::Defer("tlsa-invalid")
        } else {
            Verdict::Dane
        }
    }

    /// What the domain exercises, in a few words (for `mailsec lab --list`).
    pub fn exercises(&self) -> &'static str {
        match (self.starttls, self.tlsa) {
            (true, ScaleTlsa::Match) => "generated: DANE 3 1 1 + 2 1 1, MTA-STS enforce",
            (true, ScaleTlsa::OtherKey) => "generated: TLSA 3 1 1 of another key",
            (false, ScaleTlsa::Match) => "generated: no STARTTLS",
            (false, ScaleTlsa::OtherKey) => "generated: no STARTTLS, TLSA of another key",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variety_addresses_and_names() {
        for (i, starttls, tlsa, expected) in [
            (1, true, ScaleTlsa::Match, Verdict::Dane),
            (
                10,
                true,
                ScaleTlsa::OtherKey,
                Verdict::Defer("tlsa-invalid"),
            ),
            (
                25,
                false,
                ScaleTlsa::Match,
                Verdict::Defer("starttls-not-supported"),
            ),
            (
                50,
                false,
                ScaleTlsa::OtherKey,
                Verdict::Defer("starttls-not-supported"),
            ),
        ] {
            let s = ScaleSpec::new(i);
            assert_eq!(
                (s.starttls, s.tlsa, s.expected()),
                (starttls, tlsa, expected)
            );
        }
        let verdicts: Vec<Verdict> = ScaleSpec::all(100).map(|s| s.expected()).collect();
        assert_eq!(verdicts.len(), 100);
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Dane).count(), 88);
        for (i, addr) in [
            (1, [127, 2, 0, 1]),
            (254, [127, 2, 0, 254]),
            (255, [127, 2, 1, 1]),
            (10_000, [127, 2, 39, 94]),
            (MAX_SCALE, [127, 2, 255, 254]),
        ] {
            assert_eq!(ScaleSpec::new(i).addr(), Ipv4Addr::from(addr), "d{i}");
        }
        let addrs: std::collections::HashSet<Ipv4Addr> =
            ScaleSpec::all(MAX_SCALE).map(|s| s.addr()).collect();
        assert_eq!(addrs.len(), MAX_SCALE as usize);
        assert_eq!(ScaleSpec::new(7).mx_host(), "mx.d7.scale.test");
        for (text, index) in [
            ("d7.scale.test", Some(7)),
            ("D7.Scale.Test.", Some(7)),
            ("d0.scale.test", None),
            ("d07.scale.test", None),
            ("d+7.scale.test", None),
            ("d.scale.test", None),
            ("x.d7.scale.test", None),
            ("d7.scale.test.example", None),
            ("d99999999999.scale.test", None),
        ] {
            assert_eq!(ScaleSpec::index_of(text), index, "{text}");
        }
    }
}
