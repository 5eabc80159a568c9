//! The sending MTA's policy cache as a state machine, RFC 8461 §3.3, §5.1 and §10.2: pure and
//! clock-free. Time (`now`, Unix seconds) and randomness (`jitter`, in `[0, 1)`) come in; the
//! shell does the DNS lookups and HTTPS fetches this module asks for, and stores the [`Entry`] it
//! hands back.
//!
//! One lookup goes through up to three steps:
//!
//! 1. [`plan`]: with what is cached, answer now ([`Plan::Answer`], perhaps with a background
//!    [`Background`] task) or resolve first ([`Plan::Resolve`]);
//! 2. [`after_discovery`]: given the `_mta-sts` TXT lookup, answer ([`Step::Done`]) or fetch the
//!    body ([`Step::Fetch`]);
//! 3. [`after_fetch`]: given the fetch, the new entry and the answer.
//!
//! The rules, each a test in this module:
//!
//! - a cached policy applies until `max_age` after its last successful fetch, whatever DNS says
//!   meanwhile (§3.3, §5.1): a TXT record that disappears, fails to resolve or turns invalid, and
//!   a fetch that fails, all keep the cached policy (downgrade resistance, §10.2);
//! - a new id fetches the body (§3.3); an unchanged id does not, until the body is due;
//! - the body is re-fetched before expiry whether or not the id changed: at the latest one day
//!   after the last fetch, or half of `max_age` when that is shorter, minus up to a fifth at
//!   random so that many senders (or many domains) do not refresh at once (§10.2). No policy
//!   outlives its `max_age` without a successful fetch;
//! - the TXT id of a cached policy is re-checked in the background after [`Rules::recheck`];
//! - a domain without a usable record is remembered for [`Rules::negative_ttl`], a temporary DNS
//!   failure for [`Rules::temp_ttl`];
//! - failed fetches back off per domain: [`Rules::backoff`] doubled per failure up to
//!   [`Rules::backoff_max`]; meanwhile the cached policy (or "no policy") stands;
//! - every outcome says which rule applied ([`Rule`]) and carries the TLS-RPT result type of the
//!   failure behind it, if any (RFC 8460 §4.3.2.2).
//!
//! One fetch per domain however many lookups ask at once is the shell's job (it is about
//! concurrency, not state).

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::mta_sts::policy::{MaxAge, Mode, Policy, PolicyError};
use crate::mta_sts::record::PolicyId;

/// Seconds since the Unix epoch.
pub type UnixSeconds = u64;

/// One day: the longest a body goes without a re-fetch.
pub const BODY_REFRESH_MAX: u64 = 86_400;

/// The timing rules. [`Rules::default`] is what the daemon uses unless configured otherwise.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Seconds after which a cached policy's TXT id is checked again (in the background).
    pub recheck: u64,
    /// Seconds a domain without a usable `_mta-sts` record is remembered as such.
    pub negative_ttl: u64,
    /// Seconds a temporary DNS failure (SERVFAIL, timeout, bogus) is remembered.
    pub temp_ttl: u64,
    /// First back-off after a failed fetch, in seconds; doubled per further failure.
    pub backoff: u64,
    /// The longest back-off, in seconds.
    pub backoff_max: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            recheck: 60,
            negative_ttl: 300,
            temp_ttl: 30,
            backoff: 60,
            backoff_max: 3_600,
        }
    }
}

impl Rules {
    /// The back-off after `failures` consecutive failed fetches (at least 1).
    pub fn backoff_after(&self, failures: u32) -> u64 {
        let doublings = failures.saturating_sub(1).min(32);
        self.backoff
            .saturating_mul(1u64 << doublings)
            .min(self.backoff_max.max(self.backoff))
    }
}

/// A policy as cached: its id, the body as served, the parsed mode, `max_age` and MX patterns,
/// and when it was fetched. Deserialising parses the body again, so a stored entry whose body no
/// longer parses is refused, never applied.
///
/// The id, the body and the patterns share one allocation, the patterns only when the body does
/// not already spell them as the parser normalises them (lower case, no trailing dot, no
/// repeats), and the rest of the parsed policy (its extensions, its copy of the lines) is not
/// kept: a sending MTA's memory layer holds one of these per destination domain, and 100,000
/// of them take about 21 MiB this way against 56 MiB with a `Policy` and two `String`s each
/// (BENCHMARKS.md, issue 6). [`CachedPolicy::policy`] parses the body again for the rare caller
/// that needs the rest.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredPolicy", into = "StoredPolicy")]
pub struct CachedPolicy {
    /// `id`, then the body, then (unless `mx_as_written`) the patterns in their display form
    /// (`*.` for a wildcard), each followed by one space.
    text: Box<str>,
    /// The body's `mx` values are the patterns as they are: nothing follows the body.
    mx_as_written: bool,
    /// The id's length (at most 32, RFC 8461 §3.1).
    id_len: u8,
    /// The body's length (the fetcher caps it at 64 KiB, RFC 8461 §3.2).
    body_len: u32,
    mode: Mode,
    max_age: MaxAge,
    /// When it was fetched.
    pub fetched_at: UnixSeconds,
    /// Seconds after `fetched_at` at which the body is due (at most `max_age`, a `u32`).
    refresh_after: u32,
}

impl CachedPolicy {
    /// A policy fetched at `fetched_at` under `id`, `policy` being `body` parsed.
    ///
    /// # Panics
    ///
    /// Never for a body the fetcher returns: a body over 4 GiB cannot be a policy that parsed.
    pub fn from_parts(
        id: &PolicyId,
        body: &str,
        policy: &Policy,
        fetched_at: UnixSeconds,
        refresh_at: UnixSeconds,
    ) -> Self {
        let mx_as_written = mx_values(body).eq(policy.mx.iter().map(|p| p.to_string()));
        let patterns = if mx_as_written {
            0
        } else {
            policy
                .mx
                .iter()
                .map(|p| p.name().as_str().len() + 3)
                .sum::<usize>()
        };
        let mut text = String::with_capacity(id.as_str().len() + body.len() + patterns);
        text.push_str(id.as_str());
        text.push_str(body);
        if !mx_as_written {
            for p in &policy.mx {
                // Host names are A-labels (RFC 8461 §3.2): no space inside one.
                let _ = write!(text, "{p} ");
            }
        }
        // Due no later than expiry: a policy is resolved again once expired anyway.
        let refresh_after = refresh_at
            .saturating_sub(fetched_at)
            .min(u64::from(policy.max_age.seconds()));
        Self {
            text: text.into_boxed_str(),
            mx_as_written,
            // PolicyId is 1 to 32 characters.
            id_len: id.as_str().len() as u8,
            body_len: u32::try_from(body.len()).expect("a policy body under 4 GiB"),
            mode: policy.mode,
            max_age: policy.max_age,
            fetched_at,
            // max_age is at most 31,557,600 (RFC 8461 §3.2).
            refresh_after: refresh_after as u32,
        }
    }

    fn new(id: &PolicyId, body: &str, policy: &Policy, now: UnixSeconds, jitter: f64) -> Self {
        let refresh_at = refresh_at(now, u64::from(policy.max_age.seconds()), jitter);
        Self::from_parts(id, body, policy, now, refresh_at)
    }

    /// The id of the TXT record that led to this body.
    pub fn id(&self) -> &str {
        &self.text[..usize::from(self.id_len)]
    }

    /// The body as served.
    pub fn body(&self) -> &str {
        let start = usize::from(self.id_len);
        &self.text[start..start + self.body_len as usize]
    }

    /// When the body is due for a re-fetch (before [`Self::expires_at`], jittered), or the
    /// fetch time when read back with a due time before it.
    pub fn refresh_at(&self) -> UnixSeconds {
        self.fetched_at + u64::from(self.refresh_after)
    }

    /// The policy mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The policy's `max_age`.
    pub fn max_age(&self) -> MaxAge {
        self.max_age
    }

    /// The MX patterns in policy order, as the policy writes them (`*.` before a wildcard's
    /// suffix), lower-cased, without a trailing dot and without repeats.
    pub fn mx(&self) -> impl Iterator<Item = &str> {
        let start = usize::from(self.id_len) + self.body_len as usize;
        let written = self.mx_as_written.then(|| mx_values(self.body()));
        let stored = (!self.mx_as_written).then(|| self.text[start..].split_terminator(' '));
        written
            .into_iter()
            .flatten()
            .chain(stored.into_iter().flatten())
    }

    /// The whole parsed policy, parsed again from the body.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        Policy::parse(self.body().as_bytes())
    }

    /// When it stops applying: `max_age` after the fetch (RFC 8461 §3.2, §5.1).
    pub fn expires_at(&self) -> UnixSeconds {
        self.fetched_at + u64::from(self.max_age.seconds())
    }

    /// The non-empty lines of the body without their terminators: the TLS-RPT `policy-string`
    /// (RFC 8460 §4.5), the same lines the parser keeps for every valid body.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.body()
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.is_empty())
    }

    /// Does it still apply at `now`?
    pub fn is_live(&self, now: UnixSeconds) -> bool {
        now < self.expires_at()
    }
}

/// The values of a body's `mx` lines as written (RFC 8461 §3.2: `sts-policy-field-delim` is a
/// colon and optional WSP; the value ends before trailing WSP).
fn mx_values(body: &str) -> impl Iterator<Item = &str> {
    body.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter_map(|l| l.strip_prefix("mx:"))
        .map(|v| v.trim_matches([' ', '\t']))
}

/// When a body fetched at `fetched_at` with `max_age` is due: after one day or half of
/// `max_age`, whichever is shorter, less up to a fifth of that span by `jitter` in `[0, 1)`.
pub fn refresh_at(fetched_at: UnixSeconds, max_age: u64, jitter: f64) -> UnixSeconds {
    let span = BODY_REFRESH_MAX.min(max_age / 2);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // The product is at most span / 5, so the cast cannot overflow or go negative.
    let early = (span as f64 * 0.2 * jitter) as u64;
    fetched_at + span - early.min(span)
}

/// The stored form of [`CachedPolicy`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredPolicy {
    id: String,
    body: String,
    fetched_at: UnixSeconds,
    refresh_at: UnixSeconds,
}

impl TryFrom<StoredPolicy> for CachedPolicy {
    type Error = String;

    fn try_from(s: StoredPolicy) -> Result<Self, String> {
        let id = PolicyId::new(&s.id).ok_or_else(|| format!("invalid policy id {:?}", s.id))?;
        let policy = Policy::parse(s.body.as_bytes()).map_err(|e| e.to_string())?;
        if u32::try_from(s.body.len()).is_err() {
            return Err("policy body over 4 GiB".to_owned());
        }
        Ok(Self::from_parts(
            &id,
            &s.body,
            &policy,
            s.fetched_at,
            s.refresh_at,
        ))
    }
}

impl From<CachedPolicy> for StoredPolicy {
    fn from(c: CachedPolicy) -> Self {
        Self {
            id: c.id().to_owned(),
            body: c.body().to_owned(),
            fetched_at: c.fetched_at,
            refresh_at: c.refresh_at(),
        }
    }
}

/// What a sender remembers about one policy domain: what the cache backends store.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The last policy fetched successfully, live or expired.
    pub policy: Option<CachedPolicy>,
    /// What the last resolution found.
    pub status: Status,
    /// When the `_mta-sts` record was last consulted.
    pub checked_at: UnixSeconds,
    /// Consecutive failed fetches.
    pub failures: u32,
    /// No fetch before this time (back-off); 0 when none is pending.
    pub retry_at: UnixSeconds,
}

impl Entry {
    /// The cached policy, if it still applies at `now`.
    pub fn live_policy(&self, now: UnixSeconds) -> Option<&CachedPolicy> {
        self.policy.as_ref().filter(|p| p.is_live(now))
    }
}

/// What the last resolution of a domain found.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Status {
    /// A policy was fetched, or the cached one confirmed by its id.
    Ok,
    /// No `_mta-sts` record begins with `v=STSv1` (or the name does not exist).
    NoRecord,
    /// Records exist but not exactly one valid one (RFC 8461 §3.1).
    InvalidRecord {
        /// Why.
        reason: Box<str>,
    },
    /// The last fetch failed.
    FetchFailed {
        /// The TLS-RPT result type.
        failure: StsFailure,
        /// Why, in one line.
        reason: Box<str>,
    },
    /// The `_mta-sts` lookup failed temporarily (SERVFAIL, timeout, bogus).
    DnsFailed {
        /// Why, in one line.
        reason: Box<str>,
    },
}

/// The TLS-RPT result types of an MTA-STS policy that could not be had (RFC 8460 §4.3.2.2).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StsFailure {
    /// The policy could not be fetched (connection, HTTP status, media type, size, time).
    StsPolicyFetchError,
    /// The body is not a valid policy.
    StsPolicyInvalid,
    /// The policy host's certificate did not validate.
    StsWebpkiInvalid,
}

impl StsFailure {
    /// The RFC 8460 result type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StsPolicyFetchError => "sts-policy-fetch-error",
            Self::StsPolicyInvalid => "sts-policy-invalid",
            Self::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }
}

impl fmt::Display for StsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure behind an outcome: its TLS-RPT result type and one line.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Failure {
    /// The TLS-RPT result type.
    pub result_type: StsFailure,
    /// Why.
    pub reason: String,
}

/// Which rule decided an outcome.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A cached policy, within its re-check interval.
    Cached,
    /// A cached policy whose id the TXT record confirmed.
    IdUnchanged,
    /// A fetch for a domain seen for the first time, or whose cached policy had expired.
    Fetched,
    /// A fetch because the TXT id differs from the cached one (RFC 8461 §3.3).
    NewId,
    /// A fetch because the body was due, whatever the id (daily, or half of max_age).
    Refreshed,
    /// The cached policy kept because the fetch failed (RFC 8461 §3.3, §5.1).
    KeptFetchFailed,
    /// The cached policy kept because the TXT record is gone or invalid (RFC 8461 §10.2).
    KeptNoRecord,
    /// The cached policy kept because the TXT lookup failed.
    KeptDnsFailed,
    /// The cached policy kept while fetches back off after failures.
    KeptBackoff,
    /// No usable record (fresh or from the negative cache).
    NoRecord,
    /// The fetch failed and nothing is cached (fresh, or remembered while backing off).
    FetchFailed,
    /// The TXT lookup failed and nothing is cached (fresh or remembered).
    DnsFailed,
}

impl Rule {
    /// The rule's name, as in JSON output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cached => "cached",
            Self::IdUnchanged => "id-unchanged",
            Self::Fetched => "fetched",
            Self::NewId => "new-id",
            Self::Refreshed => "refreshed",
            Self::KeptFetchFailed => "kept-fetch-failed",
            Self::KeptNoRecord => "kept-no-record",
            Self::KeptDnsFailed => "kept-dns-failed",
            Self::KeptBackoff => "kept-backoff",
            Self::NoRecord => "no-record",
            Self::FetchFailed => "fetch-failed",
            Self::DnsFailed => "dns-failed",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the sender applies to the domain.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Outcome {
    /// A policy (any mode; `none` means no active policy, RFC 8461 §5).
    Policy {
        /// The policy and its id.
        policy: CachedPolicy,
        /// Which rule.
        rule: Rule,
        /// A failure behind it: a cached policy kept after a failed fetch is reportable
        /// (RFC 8461 §6).
        failure: Option<Failure>,
    },
    /// No policy: the domain is treated as one without MTA-STS (RFC 8461 §3.3, §5).
    NoPolicy {
        /// Which rule.
        rule: Rule,
        /// The failure behind it, when a record was found but no policy fetched.
        failure: Option<Failure>,
        /// Why, in one line.
        reason: String,
    },
    /// The lookup failed temporarily and nothing is cached: the sender defers (Postfix `TEMP`).
    Temp {
        /// Why, in one line.
        reason: String,
    },
}

impl Outcome {
    /// The rule that decided it.
    pub fn rule(&self) -> Rule {
        match self {
            Self::Policy { rule, .. } | Self::NoPolicy { rule, .. } => *rule,
            Self::Temp { .. } => Rule::DnsFailed,
        }
    }

    /// The TLS-RPT result type of the failure behind it, if any.
    pub fn result_type(&self) -> Option<StsFailure> {
        match self {
            Self::Policy { failure, .. } | Self::NoPolicy { failure, .. } => {
                failure.as_ref().map(|f| f.result_type)
            }
            Self::Temp { .. } => None,
        }
    }

    /// The policy in force, if its mode is not `none`.
    pub fn active_policy(&self) -> Option<&CachedPolicy> {
        match self {
            Self::Policy { policy, .. } if policy.mode() != Mode::None => Some(policy),
            _ => None,
        }
    }
}

/// Work to do after answering from the cache.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Background {
    /// Check the TXT id; fetch only if it changed.
    Recheck,
    /// Fetch the body whatever the id (it is due).
    Refresh,
}

/// What to do with a lookup.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Plan {
    /// Answer now; then start the background work, if any.
    Answer {
        /// The answer.
        outcome: Outcome,
        /// Work to start without waiting.
        then: Option<Background>,
    },
    /// Nothing usable is cached: look the record up (and perhaps fetch) before answering.
    Resolve,
}

/// Step 1: what the cache alone allows at `now`.
pub fn plan(entry: Option<&Entry>, now: UnixSeconds, rules: &Rules) -> Plan {
    let Some(entry) = entry else {
        return Plan::Resolve;
    };
    if let Some(policy) = entry.live_policy(now) {
        let backing_off = now < entry.retry_at;
        let then = if now >= policy.refresh_at() && !backing_off {
            Some(Background::Refresh)
        } else if now >= entry.checked_at.saturating_add(rules.recheck) && !backing_off {
            Some(Background::Recheck)
        } else {
            None
        };
        return Plan::Answer {
            outcome: kept(entry, policy, Rule::Cached),
            then,
        };
    }
    if remembered(entry, now, rules) {
        Plan::Answer {
            outcome: without_policy(&entry.status),
            then: None,
        }
    } else {
        Plan::Resolve
    }
}

/// Does `entry`, without a live policy, still answer a lookup at `now` (a negative answer within
/// its TTL, a failed fetch within its back-off)?
fn remembered(entry: &Entry, now: UnixSeconds, rules: &Rules) -> bool {
    match &entry.status {
        Status::NoRecord | Status::InvalidRecord { .. } => {
            now < entry.checked_at.saturating_add(rules.negative_ttl)
        }
        Status::FetchFailed { .. } => now < entry.retry_at,
        Status::DnsFailed { .. } => now < entry.checked_at.saturating_add(rules.temp_ttl),
        // A policy that expired: resolve again.
        Status::Ok => false,
    }
}

/// May a cache forget `entry` at `now` without changing any answer? True when it has no live
/// policy (an expired one never applies again, RFC 8461 §5.1), its remembered answer has run
/// out ([`Rules::negative_ttl`], [`Rules::temp_ttl`]), no back-off is pending, and a failure
/// count, which makes the next back-off longer, is older than [`Rules::backoff_max`]. A long
/// running sender sweeps such entries out of memory so that names asked once (a misspelt
/// domain, spam's random names) do not stay for good.
pub fn is_stale(entry: &Entry, now: UnixSeconds, rules: &Rules) -> bool {
    entry.live_policy(now).is_none()
        && !remembered(entry, now, rules)
        && now >= entry.retry_at
        && (entry.failures == 0 || now >= entry.checked_at.saturating_add(rules.backoff_max))
}

/// The answer from a cached policy under `rule`, with the failure the entry remembers.
fn kept(entry: &Entry, policy: &CachedPolicy, rule: Rule) -> Outcome {
    let failure = match &entry.status {
        Status::FetchFailed { failure, reason } => Some(Failure {
            result_type: *failure,
            reason: reason.to_string(),
        }),
        _ => None,
    };
    Outcome::Policy {
        policy: policy.clone(),
        rule,
        failure,
    }
}

/// The answer when no policy is live, from what the last resolution found.
fn without_policy(status: &Status) -> Outcome {
    match status {
        Status::Ok | Status::NoRecord => Outcome::NoPolicy {
            rule: Rule::NoRecord,
            failure: None,
            reason: "no MTA-STS record".to_owned(),
        },
        Status::InvalidRecord { reason } => Outcome::NoPolicy {
            rule: Rule::NoRecord,
            failure: None,
            reason: reason.to_string(),
        },
        Status::FetchFailed { failure, reason } => Outcome::NoPolicy {
            rule: Rule::FetchFailed,
            failure: Some(Failure {
                result_type: *failure,
                reason: reason.to_string(),
            }),
            reason: reason.to_string(),
        },
        Status::DnsFailed { reason } => Outcome::Temp {
            reason: reason.to_string(),
        },
    }
}

/// What the `_mta-sts` TXT lookup found (RFC 8461 §3.1).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Discovery {
    /// Exactly one valid record.
    Record(PolicyId),
    /// No record begins with `v=STSv1`, or the name does not exist.
    NoRecord,
    /// Several records, or an invalid one: treated as none, reported apart.
    Invalid(String),
    /// SERVFAIL, timeout or a bogus answer.
    Failed(String),
}

/// Why the shell is resolving.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Reason {
    /// A lookup found nothing usable in the cache ([`Plan::Resolve`]).
    Lookup,
    /// Background work after a cached answer.
    Background(Background),
}

/// What to do after discovery.
// A value returned once per resolution and matched at once: boxing `Done` would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Step {
    /// Fetch the body, then call [`after_fetch`] with this id.
    Fetch {
        /// The id the fetched body will be cached under.
        id: PolicyId,
        /// The rule that a successful fetch answers under.
        rule: Rule,
    },
    /// No fetch: store the entry and give the answer.
    Done {
        /// The entry to store.
        entry: Entry,
        /// The answer.
        outcome: Outcome,
    },
}

/// Step 2: after the TXT lookup at `now`.
pub fn after_discovery(
    entry: Option<&Entry>,
    discovery: Discovery,
    why: Reason,
    now: UnixSeconds,
) -> Step {
    let live = entry.and_then(|e| e.live_policy(now));
    let backing_off = entry.is_some_and(|e| now < e.retry_at);
    match (discovery, live) {
        (Discovery::Record(id), Some(cached)) => {
            let entry = entry.expect("a live policy comes from an entry");
            let due = why == Reason::Background(Background::Refresh) || now >= cached.refresh_at();
            if id.as_str() == cached.id() && !due {
                // RFC 8461 §3.3: an unchanged id needs no fetch.
                let mut next = entry.clone();
                next.checked_at = now;
                let outcome = kept(&next, cached, Rule::IdUnchanged);
                return Step::Done {
                    entry: next,
                    outcome,
                };
            }
            if backing_off {
                let mut next = entry.clone();
                next.checked_at = now;
                let outcome = kept(&next, cached, Rule::KeptBackoff);
                return Step::Done {
                    entry: next,
                    outcome,
                };
            }
            let rule = if id.as_str() == cached.id() {
                Rule::Refreshed
            } else {
                Rule::NewId
            };
            Step::Fetch { id, rule }
        }
        (Discovery::Record(id), None) => match entry {
            Some(e) if backing_off => {
                let mut next = e.clone();
                next.checked_at = now;
                Step::Done {
                    outcome: without_policy(&next.status),
                    entry: next,
                }
            }
            _ => Step::Fetch {
                id,
                rule: Rule::Fetched,
            },
        },
        // The record is gone or invalid, or its lookup failed, while a policy is cached: the
        // policy stands until it expires (RFC 8461 §5.1, §10.2). A body that is due is fetched
        // under the cached id all the same, so that a `mode: none` published before the record
        // was removed (§8.3) is seen.
        (Discovery::NoRecord | Discovery::Invalid(_), Some(cached)) => {
            let entry = entry.expect("a live policy comes from an entry");
            let due = why == Reason::Background(Background::Refresh) || now >= cached.refresh_at();
            if due && !backing_off {
                return Step::Fetch {
                    id: PolicyId::from_valid(cached.id()),
                    rule: Rule::Refreshed,
                };
            }
            let mut next = entry.clone();
            next.checked_at = now;
            let outcome = kept(&next, cached, Rule::KeptNoRecord);
            Step::Done {
                entry: next,
                outcome,
            }
        }
        (Discovery::Failed(_), Some(cached)) => {
            let entry = entry.expect("a live policy comes from an entry");
            let mut next = entry.clone();
            next.checked_at = now;
            let outcome = kept(&next, cached, Rule::KeptDnsFailed);
            Step::Done {
                entry: next,
                outcome,
            }
        }
        (discovery, None) => {
            let status = match discovery {
                Discovery::NoRecord => Status::NoRecord,
                Discovery::Invalid(reason) => Status::InvalidRecord {
                    reason: reason.into(),
                },
                Discovery::Failed(reason) => Status::DnsFailed {
                    reason: reason.into(),
                },
                Discovery::Record(_) => unreachable!("matched above"),
            };
            let next = Entry {
                // An expired policy is kept for the record (its id, for logs); it never applies.
                policy: entry.and_then(|e| e.policy.clone()),
                status,
                checked_at: now,
                failures: 0,
                retry_at: 0,
            };
            Step::Done {
                outcome: without_policy(&next.status),
                entry: next,
            }
        }
    }
}

/// What the HTTPS fetch gave: the body, or the failure with its TLS-RPT result type.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Fetch {
    /// A body, served with status 200 and `text/plain` (not yet parsed).
    Body(Vec<u8>),
    /// No body.
    Failed(Failure),
}

/// A change of the policy in force, for the log (one line per change).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Change {
    /// The previous id, if a policy was cached (live or not).
    pub old_id: Option<String>,
    /// The previous mode.
    pub old_mode: Option<Mode>,
    /// The new id.
    pub new_id: String,
    /// The new mode.
    pub new_mode: Mode,
}

/// The result of step 3.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Fetched {
    /// The entry to store.
    pub entry: Entry,
    /// The answer.
    pub outcome: Outcome,
    /// Set when a new body replaced a different one (or the first one arrived).
    pub change: Option<Change>,
}

/// Step 3: after fetching the body for `id` at `now` (`rule` from [`Step::Fetch`]).
pub fn after_fetch(
    entry: Option<&Entry>,
    id: PolicyId,
    rule: Rule,
    fetch: Fetch,
    now: UnixSeconds,
    rules: &Rules,
    jitter: f64,
) -> Fetched {
    let parsed = match fetch {
        Fetch::Body(body) => match String::from_utf8(body) {
            Ok(text) => match Policy::parse(text.as_bytes()) {
                Ok(policy) => Ok((text, policy)),
                Err(PolicyError(d)) => Err(Failure {
                    result_type: StsFailure::StsPolicyInvalid,
                    reason: d.to_string(),
                }),
            },
            Err(_) => Err(Failure {
                result_type: StsFailure::StsPolicyInvalid,
                reason: "policy body is not UTF-8".to_owned(),
            }),
        },
        Fetch::Failed(f) => Err(f),
    };
    match parsed {
        Ok((body, policy)) => {
            let old = entry.and_then(|e| e.policy.as_ref());
            let change = match old {
                Some(o) if o.body() == body && o.id() == id.as_str() => None,
                _ => Some(Change {
                    old_id: old.map(|o| o.id().to_owned()),
                    old_mode: old.map(CachedPolicy::mode),
                    new_id: id.as_str().to_owned(),
                    new_mode: policy.mode,
                }),
            };
            let cached = CachedPolicy::new(&id, &body, &policy, now, jitter);
            let entry = Entry {
                policy: Some(cached.clone()),
                status: Status::Ok,
                checked_at: now,
                failures: 0,
                retry_at: 0,
            };
            Fetched {
                entry,
                outcome: Outcome::Policy {
                    policy: cached,
                    rule,
                    failure: None,
                },
                change,
            }
        }
        Err(failure) => {
            let failures = entry.map_or(0, |e| e.failures).saturating_add(1);
            let entry = Entry {
                policy: entry.and_then(|e| e.policy.clone()),
                status: Status::FetchFailed {
                    failure: failure.result_type,
                    reason: failure.reason.as_str().into(),
                },
                checked_at: now,
                failures,
                retry_at: now.saturating_add(rules.backoff_after(failures)),
            };
            let outcome = match entry.live_policy(now) {
                // RFC 8461 §3.3: a fetch that fails leaves the cached, unexpired policy in force.
                Some(cached) => kept(&entry, cached, Rule::KeptFetchFailed),
                None => Outcome::NoPolicy {
                    rule: Rule::FetchFailed,
                    reason: failure.reason.clone(),
                    failure: Some(failure),
                },
            };
            Fetched {
                entry,
                outcome,
                change: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000;
    const DAY: u64 = 86_400;
    const WEEK: u64 = 7 * DAY;

    fn body(mode: &str, max_age: u64) -> Vec<u8> {
        format!("version: STSv1\nmode: {mode}\nmx: mx.example.com\nmax_age: {max_age}\n")
            .into_bytes()
    }

    fn id(s: &str) -> PolicyId {
        PolicyId::new(s).unwrap()
    }

    fn rules() -> Rules {
        Rules::default()
    }

    /// A first lookup: resolve, find the record, fetch, cache.
    fn first(mode: &str, max_age: u64, at: u64) -> Entry {
        assert_eq!(plan(None, at, &rules()), Plan::Resolve);
        let step = after_discovery(None, Discovery::Record(id("a1")), Reason::Lookup, at);
        let Step::Fetch { id: fid, rule } = step else {
            panic!("{step:?}")
        };
        assert_eq!(rule, Rule::Fetched);
        let f = after_fetch(
            None,
            fid,
            rule,
            Fetch::Body(body(mode, max_age)),
            at,
            &rules(),
            0.0,
        );
        assert_eq!(f.outcome.rule(), Rule::Fetched);
        assert_eq!(
            f.change,
            Some(Change {
                old_id: None,
                old_mode: None,
                new_id: "a1".into(),
                new_mode: Mode::parse(mode).unwrap()
            })
        );
        f.entry
    }

    fn answer(p: Plan) -> (Outcome, Option<Background>) {
        match p {
            Plan::Answer { outcome, then } => (outcome, then),
            Plan::Resolve => panic!("expected an answer from the cache"),
        }
    }

    fn fail(kind: StsFailure) -> Fetch {
        Fetch::Failed(Failure {
            result_type: kind,
            reason: "HTTP status 404".into(),
        })
    }

    #[test]
    fn stale_entries_are_those_that_no_longer_answer() {
        let r = rules();
        // A live policy stays; once expired (max_age a week) it can go.
        let live = first("enforce", WEEK, T0);
        assert!(!is_stale(&live, T0 + WEEK - 1, &r));
        assert!(is_stale(&live, T0 + WEEK, &r));
        let without = |status: Status, failures: u32, retry_at: u64| Entry {
            policy: None,
            status,
            checked_at: T0,
            failures,
            retry_at,
        };
        // No record: remembered for negative_ttl.
        let none = without(Status::NoRecord, 0, 0);
        assert!(!is_stale(&none, T0 + r.negative_ttl - 1, &r));
        assert!(is_stale(&none, T0 + r.negative_ttl, &r));
        let invalid = without(
            Status::InvalidRecord {
                reason: "two records".into(),
            },
            0,
            0,
        );
        assert!(!is_stale(&invalid, T0 + r.negative_ttl - 1, &r));
        assert!(is_stale(&invalid, T0 + r.negative_ttl, &r));
        // A DNS failure: remembered for temp_ttl.
        let temp = without(
            Status::DnsFailed {
                reason: "SERVFAIL".into(),
            },
            0,
            0,
        );
        assert!(!is_stale(&temp, T0 + r.temp_ttl - 1, &r));
        assert!(is_stale(&temp, T0 + r.temp_ttl, &r));
        // A failed fetch: kept through its back-off, and its failure count until backoff_max
        // after the last check (so that the next back-off still doubles).
        let failed = without(
            Status::FetchFailed {
                failure: StsFailure::StsPolicyFetchError,
                reason: "HTTP status 404".into(),
            },
            3,
            T0 + 240,
        );
        assert!(!is_stale(&failed, T0 + 239, &r));
        assert!(!is_stale(&failed, T0 + 240, &r));
        assert!(!is_stale(&failed, T0 + r.backoff_max - 1, &r));
        assert!(is_stale(&failed, T0 + r.backoff_max, &r));
        // An expired policy with a back-off pending stays until the back-off ends.
        let mut expired = first("enforce", 86_400, T0);
        expired.retry_at = T0 + 2 * DAY;
        expired.failures = 1;
        assert!(!is_stale(&expired, T0 + DAY, &r));
        assert!(is_stale(&expired, T0 + 2 * DAY, &r));
    }

    #[test]
    fn entries_stay_small() {
        // A memory layer holds one per destination domain (issue 6: 100,000 in under 50 MB);
        // 88 bytes is one 96-byte malloc chunk on 64-bit glibc.
        assert!(size_of::<Entry>() <= 88, "{}", size_of::<Entry>());
        assert!(
            size_of::<CachedPolicy>() <= 40,
            "{}",
            size_of::<CachedPolicy>()
        );
    }

    #[test]
    fn patterns_as_written_are_read_from_the_body() {
        let body = "version: STSv1\nmode: testing\nmx:\t*.example.net \nmx: mx.example.com\nmax_age: 86400\n";
        let p = CachedPolicy::from_parts(
            &PolicyId::new("b2").unwrap(),
            body,
            &Policy::parse(body.as_bytes()).unwrap(),
            T0,
            T0 + 10,
        );
        assert!(p.mx_as_written);
        assert_eq!(&*p.text, &format!("b2{body}"));
        assert_eq!(
            p.mx().collect::<Vec<_>>(),
            ["*.example.net", "mx.example.com"]
        );
        assert_eq!(p.refresh_at(), T0 + 10);
        // A due time before the fetch or after expiry is clamped into [fetched, expires].
        let early = CachedPolicy::from_parts(
            &PolicyId::new("b2").unwrap(),
            body,
            &Policy::parse(body.as_bytes()).unwrap(),
            T0,
            1,
        );
        assert_eq!(early.refresh_at(), T0);
        let late = CachedPolicy::from_parts(
            &PolicyId::new("b2").unwrap(),
            body,
            &Policy::parse(body.as_bytes()).unwrap(),
            T0,
            u64::MAX,
        );
        assert_eq!(late.refresh_at(), late.expires_at());
    }

    #[test]
    fn cached_policies_keep_id_body_and_patterns_in_one_allocation() {
        let body = "version: STSv1\r\nmode: enforce\r\nmx: MX.example.com.\r\nmx: *.Backup.example.com\r\nmx: mx.example.com\r\nmax_age: 604800\r\nfuture: x\r\n";
        let e = after_fetch(
            None,
            PolicyId::new("a1").unwrap(),
            Rule::Fetched,
            Fetch::Body(body.as_bytes().to_vec()),
            T0,
            &Rules::default(),
            0.0,
        )
        .entry;
        let fetched = e.policy.clone().unwrap();
        let json = serde_json::to_string(&e).unwrap();
        let read: Entry = serde_json::from_str(&json).unwrap();
        assert_eq!(read, e);
        for p in [fetched, read.policy.unwrap()] {
            assert!(!p.mx_as_written);
            assert_eq!(p.id(), "a1");
            assert_eq!(p.body(), body);
            assert_eq!(p.mode(), Mode::Enforce);
            assert_eq!(p.max_age().seconds(), 604_800);
            // Lower-cased, without the trailing dot, the repeat dropped, in policy order.
            assert_eq!(
                p.mx().collect::<Vec<_>>(),
                ["mx.example.com", "*.backup.example.com"]
            );
            assert_eq!(
                p.lines().collect::<Vec<_>>(),
                [
                    "version: STSv1",
                    "mode: enforce",
                    "mx: MX.example.com.",
                    "mx: *.Backup.example.com",
                    "mx: mx.example.com",
                    "max_age: 604800",
                    "future: x"
                ]
            );
            assert_eq!(p.policy().unwrap().extensions.len(), 1);
        }
    }

    #[test]
    fn a_fresh_entry_answers_from_the_cache_without_work() {
        let e = first("enforce", WEEK, T0);
        let (o, then) = answer(plan(Some(&e), T0 + 10, &rules()));
        assert_eq!(o.rule(), Rule::Cached);
        assert_eq!(then, None);
        assert_eq!(o.active_policy().unwrap().id(), "a1");
        assert_eq!(o.result_type(), None);
    }

    #[test]
    fn after_the_recheck_interval_the_id_is_checked_in_the_background() {
        let e = first("enforce", WEEK, T0);
        let (o, then) = answer(plan(Some(&e), T0 + 60, &rules()));
        assert_eq!((o.rule(), then), (Rule::Cached, Some(Background::Recheck)));
        // The same id: no fetch, the check time moves on.
        let Step::Done { entry, outcome } = after_discovery(
            Some(&e),
            Discovery::Record(id("a1")),
            Reason::Background(Background::Recheck),
            T0 + 60,
        ) else {
            panic!()
        };
        assert_eq!(outcome.rule(), Rule::IdUnchanged);
        assert_eq!(entry.checked_at, T0 + 60);
        assert_eq!(entry.policy, e.policy);
        assert_eq!(answer(plan(Some(&entry), T0 + 61, &rules())).1, None);
    }

    #[test]
    fn a_new_id_fetches_the_body_and_logs_the_change() {
        let e = first("testing", WEEK, T0);
        let step = after_discovery(
            Some(&e),
            Discovery::Record(id("b2")),
            Reason::Lookup,
            T0 + 99,
        );
        assert_eq!(
            step,
            Step::Fetch {
                id: id("b2"),
                rule: Rule::NewId
            }
        );
        let f = after_fetch(
            Some(&e),
            id("b2"),
            Rule::NewId,
            Fetch::Body(body("enforce", WEEK)),
            T0 + 99,
            &rules(),
            0.5,
        );
        assert_eq!(f.outcome.rule(), Rule::NewId);
        let change = f.change.unwrap();
        assert_eq!(
            (change.old_id.as_deref(), change.old_mode, change.new_mode),
            (Some("a1"), Some(Mode::Testing), Mode::Enforce)
        );
        assert_eq!(f.entry.policy.unwrap().fetched_at, T0 + 99);
    }

    #[test]
    fn the_body_is_refetched_daily_even_on_an_unchanged_id() {
        let e = first("enforce", WEEK, T0);
        let p = e.policy.clone().unwrap();
        // Jitter 0: exactly one day.
        assert_eq!(p.refresh_at(), T0 + DAY);
        let (o, then) = answer(plan(Some(&e), T0 + DAY, &rules()));
        assert_eq!((o.rule(), then), (Rule::Cached, Some(Background::Refresh)));
        let step = after_discovery(
            Some(&e),
            Discovery::Record(id("a1")),
            Reason::Background(Background::Refresh),
            T0 + DAY,
        );
        assert_eq!(
            step,
            Step::Fetch {
                id: id("a1"),
                rule: Rule::Refreshed
            }
        );
        // The same body again: no change to log, a new fetch time and a new expiry.
        let f = after_fetch(
            Some(&e),
            id("a1"),
            Rule::Refreshed,
            Fetch::Body(body("enforce", WEEK)),
            T0 + DAY,
            &rules(),
            0.0,
        );
        assert_eq!(f.change, None);
        assert_eq!(
            f.entry.policy.as_ref().unwrap().expires_at(),
            T0 + DAY + WEEK
        );
        // A due body is fetched even when a lookup, not the background, finds the same id.
        let step = after_discovery(
            Some(&e),
            Discovery::Record(id("a1")),
            Reason::Lookup,
            T0 + DAY,
        );
        assert!(
            matches!(
                step,
                Step::Fetch {
                    rule: Rule::Refreshed,
                    ..
                }
            ),
            "{step:?}"
        );
    }

    #[test]
    fn refresh_comes_at_half_max_age_when_that_is_shorter_and_jitter_makes_it_earlier() {
        assert_eq!(refresh_at(T0, 3_600, 0.0), T0 + 1_800);
        assert_eq!(refresh_at(T0, WEEK, 0.0), T0 + DAY);
        // Up to a fifth earlier.
        // (truncated: 17279.98 s early)
        assert_eq!(refresh_at(T0, WEEK, 0.999_999), T0 + DAY - DAY / 5 + 1);
        assert_eq!(refresh_at(T0, WEEK, 0.5), T0 + DAY - DAY / 10);
        for j in [-1.0, 2.0, f64::NAN, f64::INFINITY] {
            let r = refresh_at(T0, WEEK, j);
            assert!((T0 + DAY - DAY / 5..=T0 + DAY).contains(&r), "{j}: {r}");
        }
        // Always before expiry, even for the shortest policies.
        for max_age in [0, 1, 2, 59, 86_400, 31_557_600] {
            for j in [0.0, 0.3, 0.99] {
                let r = refresh_at(T0, max_age, j);
                assert!(r <= T0 + max_age, "{max_age} {j}");
                if max_age >= 2 {
                    assert!(r < T0 + max_age, "{max_age} {j}");
                }
            }
        }
    }

    #[test]
    fn a_failed_fetch_keeps_the_cached_policy_until_it_expires_and_backs_off() {
        let e = first("enforce", 3 * DAY, T0);
        let now = T0 + 2 * DAY;
        let step = after_discovery(Some(&e), Discovery::Record(id("c3")), Reason::Lookup, now);
        assert!(matches!(
            step,
            Step::Fetch {
                rule: Rule::NewId,
                ..
            }
        ));
        let f = after_fetch(
            Some(&e),
            id("c3"),
            Rule::NewId,
            fail(StsFailure::StsWebpkiInvalid),
            now,
            &rules(),
            0.0,
        );
        assert_eq!(f.outcome.rule(), Rule::KeptFetchFailed);
        assert_eq!(f.outcome.result_type(), Some(StsFailure::StsWebpkiInvalid));
        assert_eq!(f.outcome.active_policy().unwrap().id(), "a1");
        assert_eq!((f.entry.failures, f.entry.retry_at), (1, now + 60));
        // During the back-off the cached policy answers, with the failure, and no background
        // work starts.
        let (o, then) = answer(plan(Some(&f.entry), now + 59, &rules()));
        assert_eq!((o.rule(), then), (Rule::Cached, None));
        assert_eq!(o.result_type(), Some(StsFailure::StsWebpkiInvalid));
        // A lookup that resolves meanwhile does not fetch either.
        let step = after_discovery(
            Some(&f.entry),
            Discovery::Record(id("c3")),
            Reason::Lookup,
            now + 30,
        );
        let Step::Done { outcome, .. } = step else {
            panic!("{step:?}")
        };
        assert_eq!(outcome.rule(), Rule::KeptBackoff);
        // A second failure doubles the back-off.
        let f2 = after_fetch(
            Some(&f.entry),
            id("c3"),
            Rule::NewId,
            fail(StsFailure::StsPolicyFetchError),
            now + 60,
            &rules(),
            0.0,
        );
        assert_eq!((f2.entry.failures, f2.entry.retry_at), (2, now + 60 + 120));
        // After max_age the cached policy no longer applies: resolve.
        assert_eq!(plan(Some(&f2.entry), T0 + 3 * DAY, &rules()), Plan::Resolve);
        // And a success resets the count.
        let ok = after_fetch(
            Some(&f2.entry),
            id("c3"),
            Rule::NewId,
            Fetch::Body(body("enforce", DAY)),
            now + 200,
            &rules(),
            0.0,
        );
        assert_eq!((ok.entry.failures, ok.entry.retry_at), (0, 0));
        assert_eq!(ok.entry.status, Status::Ok);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = rules();
        let seq: Vec<u64> = (1..=9).map(|n| r.backoff_after(n)).collect();
        assert_eq!(seq, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(r.backoff_after(u32::MAX), 3600);
        assert_eq!(r.backoff_after(0), 60);
    }

    #[test]
    fn no_policy_outlives_max_age_without_a_successful_fetch() {
        // Whatever happens after the fetch, at expires_at the cache alone answers nothing.
        let e = first("enforce", DAY, T0);
        let events = [
            Discovery::Record(id("a1")),
            Discovery::NoRecord,
            Discovery::Failed("SERVFAIL".into()),
            Discovery::Invalid("two records".into()),
        ];
        for d in events {
            let mut entry = e.clone();
            // Checks every hour, with failing fetches whenever one is asked for.
            let mut now = T0;
            while now < T0 + DAY {
                now += 3_600;
                match after_discovery(Some(&entry), d.clone(), Reason::Lookup, now) {
                    Step::Done { entry: next, .. } => entry = next,
                    Step::Fetch { id, rule } => {
                        entry = after_fetch(
                            Some(&entry),
                            id,
                            rule,
                            fail(StsFailure::StsPolicyFetchError),
                            now,
                            &rules(),
                            0.0,
                        )
                        .entry;
                    }
                }
            }
            assert!(entry.live_policy(T0 + DAY).is_none(), "{d:?}");
            assert!(!matches!(
                plan(Some(&entry), T0 + DAY, &rules()),
                Plan::Answer {
                    outcome: Outcome::Policy { .. },
                    ..
                }
            ));
        }
    }

    #[test]
    fn a_vanished_or_invalid_record_keeps_the_cached_policy() {
        let e = first("enforce", WEEK, T0);
        for d in [Discovery::NoRecord, Discovery::Invalid("2 records".into())] {
            let Step::Done { entry, outcome } =
                after_discovery(Some(&e), d.clone(), Reason::Lookup, T0 + 3_600)
            else {
                panic!("{d:?}")
            };
            assert_eq!(outcome.rule(), Rule::KeptNoRecord, "{d:?}");
            assert!(outcome.active_policy().is_some());
            assert_eq!(entry.policy, e.policy);
        }
        // When the body is due, it is fetched under the cached id: a `mode: none` published
        // before the record was removed takes over.
        let step = after_discovery(Some(&e), Discovery::NoRecord, Reason::Lookup, T0 + DAY);
        assert_eq!(
            step,
            Step::Fetch {
                id: id("a1"),
                rule: Rule::Refreshed
            }
        );
        let f = after_fetch(
            Some(&e),
            id("a1"),
            Rule::Refreshed,
            Fetch::Body(body("none", DAY)),
            T0 + DAY,
            &rules(),
            0.0,
        );
        assert!(f.outcome.active_policy().is_none());
        assert!(matches!(f.outcome, Outcome::Policy { .. }));
        assert_eq!(f.change.unwrap().new_mode, Mode::None);
    }

    #[test]
    fn a_failed_txt_lookup_keeps_the_cached_policy_and_otherwise_is_temporary() {
        let e = first("enforce", WEEK, T0);
        let Step::Done { outcome, .. } = after_discovery(
            Some(&e),
            Discovery::Failed("SERVFAIL".into()),
            Reason::Lookup,
            T0 + 3_600,
        ) else {
            panic!()
        };
        assert_eq!(outcome.rule(), Rule::KeptDnsFailed);
        assert!(outcome.active_policy().is_some());

        let Step::Done { entry, outcome } = after_discovery(
            None,
            Discovery::Failed("timeout".into()),
            Reason::Lookup,
            T0,
        ) else {
            panic!()
        };
        assert_eq!(
            outcome,
            Outcome::Temp {
                reason: "timeout".into()
            }
        );
        // Remembered for temp_ttl, then resolved again.
        let (o, _) = answer(plan(Some(&entry), T0 + 29, &rules()));
        assert!(matches!(o, Outcome::Temp { .. }));
        assert_eq!(plan(Some(&entry), T0 + 30, &rules()), Plan::Resolve);
    }

    #[test]
    fn no_record_is_cached_briefly() {
        let Step::Done { entry, outcome } =
            after_discovery(None, Discovery::NoRecord, Reason::Lookup, T0)
        else {
            panic!()
        };
        assert_eq!(outcome.rule(), Rule::NoRecord);
        assert_eq!(outcome.result_type(), None);
        let (o, then) = answer(plan(Some(&entry), T0 + 299, &rules()));
        assert_eq!((o.rule(), then), (Rule::NoRecord, None));
        assert_eq!(plan(Some(&entry), T0 + 300, &rules()), Plan::Resolve);
        // An invalid record likewise, with its reason.
        let Step::Done { entry, .. } = after_discovery(
            None,
            Discovery::Invalid("2 records".into()),
            Reason::Lookup,
            T0,
        ) else {
            panic!()
        };
        let (o, _) = answer(plan(Some(&entry), T0 + 1, &rules()));
        assert!(matches!(o, Outcome::NoPolicy { ref reason, .. } if reason == "2 records"));
    }

    #[test]
    fn a_failed_first_fetch_means_no_policy_with_its_result_type_and_backs_off() {
        let f = after_fetch(
            None,
            id("a1"),
            Rule::Fetched,
            fail(StsFailure::StsPolicyFetchError),
            T0,
            &rules(),
            0.0,
        );
        assert_eq!(f.outcome.rule(), Rule::FetchFailed);
        assert_eq!(
            f.outcome.result_type(),
            Some(StsFailure::StsPolicyFetchError)
        );
        assert!(f.outcome.active_policy().is_none());
        let (o, _) = answer(plan(Some(&f.entry), T0 + 59, &rules()));
        assert_eq!(o.result_type(), Some(StsFailure::StsPolicyFetchError));
        assert_eq!(plan(Some(&f.entry), T0 + 60, &rules()), Plan::Resolve);
        // An invalid body is `sts-policy-invalid`.
        let f = after_fetch(
            None,
            id("a1"),
            Rule::Fetched,
            Fetch::Body(b"version: STSv1\nmode: enforce\n".to_vec()),
            T0,
            &rules(),
            0.0,
        );
        assert_eq!(f.outcome.result_type(), Some(StsFailure::StsPolicyInvalid));
        let f = after_fetch(
            None,
            id("a1"),
            Rule::Fetched,
            Fetch::Body(vec![0xff, 0xfe]),
            T0,
            &rules(),
            0.0,
        );
        assert_eq!(f.outcome.result_type(), Some(StsFailure::StsPolicyInvalid));
    }

    #[test]
    fn an_expired_policy_resolves_again_and_fetches_even_on_the_same_id() {
        let e = first("enforce", 3_600, T0);
        assert_eq!(plan(Some(&e), T0 + 3_600, &rules()), Plan::Resolve);
        let step = after_discovery(
            Some(&e),
            Discovery::Record(id("a1")),
            Reason::Lookup,
            T0 + 3_600,
        );
        assert_eq!(
            step,
            Step::Fetch {
                id: id("a1"),
                rule: Rule::Fetched
            }
        );
        // An expired policy with no record: no policy, and the old one is never applied.
        let Step::Done { outcome, entry } =
            after_discovery(Some(&e), Discovery::NoRecord, Reason::Lookup, T0 + 3_600)
        else {
            panic!()
        };
        assert_eq!(outcome.rule(), Rule::NoRecord);
        assert!(entry.live_policy(T0 + 3_600).is_none());
    }

    #[test]
    fn entries_round_trip_through_json_and_a_tampered_body_is_refused() {
        let e = first("enforce", WEEK, T0);
        let json = serde_json::to_string(&e).unwrap();
        let back: Entry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        let bad = json.replace("mode: enforce", "mode: sometimes");
        assert!(serde_json::from_str::<Entry>(&bad).is_err());
        let unknown = json.replacen('{', "{\"x\":1,", 1);
        assert!(serde_json::from_str::<Entry>(&unknown).is_err());
        let failed = Entry {
            policy: None,
            status: Status::FetchFailed {
                failure: StsFailure::StsWebpkiInvalid,
                reason: "expired".into(),
            },
            checked_at: T0,
            failures: 3,
            retry_at: T0 + 240,
        };
        let json = serde_json::to_string(&failed).unwrap();
        assert!(json.contains("\"sts-webpki-invalid\""), "{json}");
        assert_eq!(serde_json::from_str::<Entry>(&json).unwrap(), failed);
    }
}
