//! MTA-STS (RFC 8461 §3): the `_mta-sts` record, the policy fetched from the policy host, the
//! policy's findings, and which MX hosts its patterns cover.

use std::collections::BTreeSet;
use std::time::SystemTime;

use mailsec_core::diag::quote;
use mailsec_core::mta_sts::{self, Mode, Policy, StsRecord};
use mailsec_core::{Check, Diagnostic, HostName, Severity};
use mailsec_dns::{RecordType, Response};
use mailsec_fetch::{CachingHeaders, FetchError, WithoutSni, fetch_policy, handshake_without_sni};
use serde_json::Value;

use super::Findings;
use crate::{Context, History};

/// A policy host certificate closer to its end than this is a warning (H3).
const EXPIRY_WARNING_DAYS: i64 = 14;

/// What the MTA-STS area found.
pub(crate) struct StsArea {
    /// The record, when valid.
    pub(crate) record: Option<StsRecord>,
    /// The policy, when fetched and valid.
    pub(crate) policy: Option<Policy>,
    /// The TXT lookup failed (neither a record nor a denial).
    pub(crate) lookup_failed: bool,
    /// The summary: the mode, `not deployed`, `broken (...)`, `unknown (...)`.
    pub(crate) summary: String,
    /// Findings of the consistency area: the policy host certificate against max_age (X5), the
    /// id against an earlier check (X6).
    pub(crate) consistency: Vec<Diagnostic>,
}

/// Discovers the record, fetches and lints the policy, and checks its coverage of `mx_hosts`.
pub(crate) async fn check(
    ctx: &Context,
    domain: &HostName,
    mx_hosts: &[(u16, String)],
    now: SystemTime,
    history: Option<&History>,
    f: &mut Findings,
) -> StsArea {
    let r = &ctx.resolver;
    let d = domain.as_str();
    let now_secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX));
    // MTA-STS (RFC 8461 §3).
    let mut sts_record = None;
    let mut sts_policy = None;
    let mut sts_lookup_failed = false;
    let mut mta_sts = "not deployed".to_owned();
    let mut consistency = Vec::new();
    let txt_name = format!("_mta-sts.{d}");
    match r.txt(&txt_name).await {
        Ok(Response::Records(a)) => {
            // S6: a CNAME is followed (RFC 8461 §3.1, §8.2), but it cannot share its name with
            // other data (RFC 1034 §3.6.2, RFC 2181 §10.1). The chain is asked for itself: the
            // resolver's cache may answer the TXT query without it.
            let mut chain = r.cname_chain(&txt_name).await.unwrap_or_default();
            if chain.is_empty() {
                chain.clone_from(&a.cnames);
            }
            if !chain.is_empty() {
                let conflicts = r
                    .cname_conflicts(&txt_name, RecordType::TXT)
                    .await
                    .unwrap_or_default();
                for diag in cname_findings(&chain, &conflicts) {
                    f.push("mta-sts", diag);
                }
            }
            // S12: how long resolvers keep the record, so how long an id change takes to reach
            // senders (RFC 8461 §3.1).
            f.push(
                "mta-sts",
                Diagnostic::new(
                    Check::S12,
                    Severity::Info,
                    format!("the _mta-sts TXT record's TTL is {} s", a.ttl),
                ),
            );
            let concatenated: Vec<Vec<u8>> = a.records.iter().map(|t| t.concat()).collect();
            let linted = mta_sts::lint_record_set(concatenated.iter().map(Vec::as_slice));
            for diag in linted.diagnostics {
                f.push("mta-sts", diag);
            }
            sts_record = linted.parsed;
            if sts_record.is_none() {
                mta_sts = "broken (TXT record)".to_owned();
            }
        }
        Ok(denial) => f.push(
            "mta-sts",
            Diagnostic::new(
                Check::S1,
                Severity::Info,
                format!("no _mta-sts record ({})", denial.status()),
            ),
        ),
        Err(e) => {
            sts_lookup_failed = true;
            mta_sts = "unknown (lookup failed)".to_owned();
            f.push(
                "mta-sts",
                Diagnostic::new(
                    Check::S13,
                    Severity::Error,
                    format!(
                        "TXT lookup failed: {e}; senders cannot tell whether a policy exists and must not treat this as no policy"
                    ),
                ),
            );
        }
    }
    if sts_record.is_some() {
        match fetch_policy(r, domain, &ctx.fetch).await {
            Ok(fetched) => {
                f.push(
                    "policy",
                    Diagnostic::new(
                        Check::H11,
                        Severity::Info,
                        format!(
                            "{} fetched from {} over {} in {} ms",
                            fetched.url, fetched.addr, fetched.tls_version, fetched.elapsed_ms
                        ),
                    ),
                );
                // H12 (the good case): the policy host is delegated and its certificate names
                // mta-sts.<domain>, as RFC 8461 §8.2 requires.
                let host_chain = policy_host_chain(r, d, &fetched.host_cnames).await;
                if let Some((_, target)) = host_chain.last() {
                    f.push(
                        "policy",
                        Diagnostic::new(
                            Check::H12,
                            Severity::Info,
                            format!(
                                "mta-sts.{d} is delegated (CNAME to {}) and the certificate there is valid for mta-sts.{d}, as senders require (RFC 8461 §8.2)",
                                target.trim_end_matches('.')
                            ),
                        ),
                    );
                }
                // H9: whether the host chooses its certificate by SNI (RFC 8461 §7.1).
                if let Ok(without) = handshake_without_sni(fetched.addr, domain, &ctx.fetch).await
                    && let Some(diag) = sni_finding(&without, d)
                {
                    f.push("policy", diag);
                }
                // H3: a policy host certificate that lapses stops every sender's refresh.
                if let Some(not_after) = fetched.certificate_not_after {
                    let days = (not_after - now_secs) / 86_400;
                    if days < EXPIRY_WARNING_DAYS {
                        f.push(
                            "policy",
                            Diagnostic::new(
                                Check::H3,
                                Severity::Warning,
                                format!(
                                    "the certificate of mta-sts.{d} expires in {days} days: renew it, or senders stop refreshing the policy"
                                ),
                            ),
                        );
                    }
                }
                let linted = mta_sts::lint_policy(&fetched.body);
                for diag in linted.diagnostics {
                    f.push("policy", diag);
                }
                if let Some(p) = &linted.parsed {
                    let max_age = u64::from(p.max_age.seconds());
                    // H8: HTTP caching headers, which senders must not use (RFC 8461 §3.3).
                    if let Some(diag) = caching_finding(&fetched.caching, max_age) {
                        f.push("policy", diag);
                    }
                    // X5: the certificate against the time senders keep the policy.
                    if let Some(diag) = fetched
                        .certificate_not_after
                        .and_then(|end| certificate_vs_max_age(end, now_secs, max_age, d))
                    {
                        consistency.push(diag);
                    }
                    // S11 and X6: the id against the policy an earlier check saw.
                    if let (Some(h), Some(record)) = (history, &sts_record) {
                        for diag in compare_history(h, record, p, d) {
                            if diag.check == Check::S11 {
                                let fix = format!(
                                    "Publish a new id now: `_mta-sts.{d}. IN TXT \"v=STSv1; id=<new id>\"` (any 1 to 32 letters or digits other than {}); from now on change the policy file first, then the id.",
                                    record.id
                                );
                                f.push_with_fix("mta-sts", diag, fix);
                            } else {
                                consistency.push(diag);
                            }
                        }
                    }
                    let uncovered: Vec<&str> = mx_hosts
                        .iter()
                        .map(|(_, h)| h.as_str())
                        .filter(|h| HostName::parse(h).is_ok_and(|h| !p.matches(&h)))
                        .collect();
                    for diag in coverage(p, mx_hosts, domain) {
                        if diag.check == Check::P13 && !uncovered.is_empty() {
                            let lines: Vec<String> =
                                uncovered.iter().map(|h| format!("mx: {h}")).collect();
                            let fix = format!(
                                "Add {} to the policy at https://mta-sts.{d}/.well-known/mta-sts.txt, then publish a new id: `_mta-sts.{d}. IN TXT \"v=STSv1; id=<new id>\"` (`mailsec sts lint --mx HOST` checks the body).",
                                lines.join(", ")
                            );
                            f.push_with_fix("policy", diag, fix);
                        } else {
                            f.push("policy", diag);
                        }
                    }
                    mta_sts = p.mode.to_string();
                } else {
                    mta_sts = "broken (policy invalid)".to_owned();
                }
                sts_policy = linted.parsed;
            }
            Err(mut e) => {
                mta_sts = format!("broken ({})", e.result_type());
                if let FetchError::Tls {
                    name_mismatch: true,
                    cnames,
                    ..
                } = &mut e
                {
                    *cnames = policy_host_chain(r, d, cnames).await;
                }
                let diag = fetch_finding(&e, d);
                match fetch_fix(&e, d) {
                    Some(fix) => f.push_with_fix("policy", diag, fix),
                    None => f.push("policy", diag),
                }
            }
        }
    }

    StsArea {
        record: sts_record,
        policy: sts_policy,
        lookup_failed: sts_lookup_failed,
        summary: mta_sts,
        consistency,
    }
}

/// RFC 8461 §4.1: which MX hosts the policy's patterns cover. An MX name that is not a valid
/// host name is reported, never dropped: no pattern can match it, so under `enforce` a sender
/// fails validation for it.
pub(crate) fn coverage(
    policy: &Policy,
    mx_hosts: &[(u16, String)],
    domain: &HostName,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut hosts = Vec::new();
    for (_, h) in mx_hosts {
        match HostName::parse(h) {
            Ok(host) => hosts.push(host),
            Err(e) => out.push(Diagnostic::new(
                Check::P13,
                if policy.mode == Mode::Enforce {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                format!(
                    "MX host `{}` cannot be matched against the policy: {e}",
                    h.escape_default()
                ),
            )),
        }
    }
    out.extend(mta_sts::lint_mx_coverage(policy, &hosts, Some(domain)));
    out
}

/// The finding for a failed fetch (RFC 8461 §3.3): which rule the policy host broke.
pub(crate) fn fetch_finding(e: &FetchError, domain: &str) -> Diagnostic {
    let check = match e {
        // RFC 8461 §8.2: with delegation the certificate must still name mta-sts.<domain>.
        FetchError::Tls {
            name_mismatch: true,
            cnames,
            ..
        } if !cnames.is_empty() => {
            let target = cnames.last().map_or("", |(_, t)| t.trim_end_matches('.'));
            return Diagnostic::new(
                Check::H12,
                Severity::Error,
                format!(
                    "mta-sts.{domain} is delegated (CNAME to {target}), and the certificate presented there is not valid for mta-sts.{domain} ({e}); senders require a certificate for mta-sts.{domain}, not for the provider's host (RFC 8461 §8.2), and without a cached policy see none"
                ),
            );
        }
        FetchError::Tls {
            certificate: true, ..
        } => Check::H2,
        // RFC 8461 §7.2: TLS 1.2 or newer.
        FetchError::TlsVersion { .. } => Check::H10,
        FetchError::Redirect { .. } => Check::H5,
        FetchError::Status(_) => Check::H4,
        FetchError::ContentType(_) => Check::H6,
        FetchError::TooLarge(_) => Check::H7,
        _ => Check::H1,
    };
    Diagnostic::new(
        check,
        Severity::Error,
        format!("{e}; senders without a cached policy see none"),
    )
}

/// The CNAME chain of `mta-sts.<domain>` (RFC 8461 §8.2 delegation): asked for itself, as the
/// address lookup's cache may have left it out; `seen` when that finds nothing.
async fn policy_host_chain(
    r: &mailsec_dns::Resolver,
    domain: &str,
    seen: &[(String, String)],
) -> Vec<(String, String)> {
    match r.cname_chain(&format!("mta-sts.{domain}")).await {
        Ok(chain) if !chain.is_empty() => chain,
        _ => seen.to_vec(),
    }
}

/// A fix for this instance of a fetch failure, where one can be named.
fn fetch_fix(e: &FetchError, domain: &str) -> Option<String> {
    match e {
        FetchError::Tls {
            name_mismatch: true,
            cnames,
            ..
        } if !cnames.is_empty() => {
            let target = cnames.last().map_or("", |(_, t)| t.trim_end_matches('.'));
            Some(format!(
                "Have the provider behind {target} serve a certificate whose subjectAltName includes mta-sts.{domain} (most issue one by ACME once the CNAME is in place); or serve the policy yourself: replace the CNAME with the address of a host that has such a certificate."
            ))
        }
        FetchError::TlsVersion { .. } => Some(format!(
            "Enable TLS 1.2 and TLS 1.3 on the server of mta-sts.{domain} (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`, Apache: `SSLProtocol -all +TLSv1.2 +TLSv1.3`); TLS 1.0 and 1.1 are deprecated (RFC 8996) and senders do not speak them."
        )),
        _ => None,
    }
}

/// S6: the CNAME chain followed from `_mta-sts.<domain>` (RFC 8461 §3.1 says senders follow it;
/// §8.2 uses it to delegate the record), and owner names in the answer that carry a CNAME beside
/// other data, which DNS forbids (RFC 1034 §3.6.2, RFC 2181 §10.1).
pub(crate) fn cname_findings(cnames: &[(String, String)], conflicts: &[String]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !cnames.is_empty() {
        let mut chain = vec![cnames[0].0.trim_end_matches('.').to_owned()];
        chain.extend(
            cnames
                .iter()
                .map(|(_, t)| t.trim_end_matches('.').to_owned()),
        );
        out.push(Diagnostic::new(
            Check::S6,
            Severity::Info,
            format!(
                "the _mta-sts record is reached through a CNAME ({}); senders follow it (RFC 8461 §3.1, §8.2): the record at {} is the domain's",
                chain.join(" -> "),
                chain.last().map_or("", String::as_str)
            ),
        ));
    }
    for owner in conflicts {
        out.push(Diagnostic::new(
            Check::S6,
            Severity::Warning,
            format!(
                "{} has a CNAME and other records at once, which DNS forbids (RFC 1034 §3.6.2, RFC 2181 §10.1): resolvers answer either, so senders may see either record",
                owner.trim_end_matches('.')
            ),
        ));
    }
    out
}

/// H9: what a handshake without SNI showed. Policy hosts MAY choose the certificate by SNI
/// (RFC 8461 §7.1), and senders send it: information, for clients that do not.
pub(crate) fn sni_finding(without: &WithoutSni, domain: &str) -> Option<Diagnostic> {
    let what = match without {
        WithoutSni::SameCertificate => return None,
        WithoutSni::OtherCertificate { presented } if !presented.is_empty() => format!(
            "presents a certificate for {}",
            presented
                .iter()
                .map(|n| quote(presented_name(n)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        WithoutSni::OtherCertificate { .. } => "presents a certificate for other names".to_owned(),
        WithoutSni::Refused { reason } => format!("refuses the handshake ({reason})"),
    };
    Some(Diagnostic::new(
        Check::H9,
        Severity::Info,
        format!(
            "without SNI the policy host {what}; with SNI mta-sts.{domain} it presents the right one: it chooses the certificate by SNI, which senders send (RFC 8461 §7.1)"
        ),
    ))
}

/// A name as rustls reports it among the presented names (`DnsName("mx.example")`), bare.
fn presented_name(n: &str) -> &str {
    n.strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .unwrap_or(n)
}

/// H8: HTTP caching headers whose lifetime contradicts `max_age` (seconds). Senders must not use
/// HTTP caching (RFC 8461 §3.3), so the headers change nothing for them; a `no-store`, or a
/// lifetime less than half or more than twice `max_age`, is said, for whoever reads them as the
/// policy's lifetime. `ETag` is named beside them: senders do not revalidate with it.
pub(crate) fn caching_finding(c: &CachingHeaders, max_age: u64) -> Option<Diagnostic> {
    let far = |lifetime: u64| {
        lifetime.saturating_mul(2) < max_age || lifetime > max_age.saturating_mul(2)
    };
    let mut contradictions = Vec::new();
    if let Some(cc) = &c.cache_control {
        let mut why = Vec::new();
        for directive in cc.split(',') {
            let directive = directive.trim();
            let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim().to_ascii_lowercase();
            match name.as_str() {
                "no-store" | "no-cache" => why.push(name),
                "max-age" | "s-maxage" => {
                    // RFC 9111 §1.2.2 delta-seconds, possibly quoted.
                    if let Ok(n) = value.trim().trim_matches('"').parse::<u64>()
                        && far(n)
                    {
                        why.push(format!("{name}={n}"));
                    }
                }
                _ => {}
            }
        }
        if !why.is_empty() {
            contradictions.push(format!(
                "{} ({})",
                quote(&format!("Cache-Control: {cc}")),
                why.join(", ")
            ));
        }
    }
    if let Some(expires) = &c.expires {
        // RFC 9111 §5.3: an invalid date means "already expired"; the lifetime is counted from
        // the response's Date.
        let lifetime = match (
            httpdate::parse_http_date(expires.trim()),
            c.date
                .as_deref()
                .map(|d| httpdate::parse_http_date(d.trim())),
        ) {
            (Ok(e), Some(Ok(d))) => Some(e.duration_since(d).map_or(0, |t| t.as_secs())),
            (Err(_), _) => Some(0),
            _ => None,
        };
        if let Some(lifetime) = lifetime.filter(|l| far(*l)) {
            contradictions.push(format!(
                "{} ({lifetime} s after Date)",
                quote(&format!("Expires: {expires}"))
            ));
        }
    }
    if contradictions.is_empty() {
        return None;
    }
    let etag = c
        .etag
        .as_ref()
        .map(|e| format!(" and {}", quote(&format!("ETag: {e}"))))
        .unwrap_or_default();
    Some(Diagnostic::new(
        Check::H8,
        Severity::Info,
        format!(
            "the policy response carries HTTP caching headers that contradict max_age {max_age} s: {}{etag}; senders ignore them, keep the policy for max_age and fetch it again when the id changes (RFC 8461 §3.3)",
            contradictions.join(", ")
        ),
    ))
}

/// X5: a policy host certificate that ends (`not_after`, seconds since the epoch) before a
/// policy fetched `now` expires (`max_age` seconds later). Senders keep the policy for max_age
/// and must fetch it again over HTTPS within that time (RFC 8461 §3.3, §10.2): a certificate not
/// renewed by then turns every refresh into a failure. Information: renewal is the usual
/// practice; an expired certificate is H2.
pub(crate) fn certificate_vs_max_age(
    not_after: i64,
    now: i64,
    max_age: u64,
    domain: &str,
) -> Option<Diagnostic> {
    let remaining = u64::try_from(not_after.checked_sub(now)?).ok()?;
    if remaining >= max_age {
        return None;
    }
    Some(Diagnostic::new(
        Check::X5,
        Severity::Info,
        format!(
            "the certificate of mta-sts.{domain} ends in {} days, before a policy fetched now expires (max_age {max_age} s, {} days): senders refresh the policy from this host until then, so it must be renewed in time",
            remaining / 86_400,
            max_age / 86_400
        ),
    ))
}

/// S11 and X6: the record and policy now against what an earlier check of the same domain saw
/// (`mailsec check --store`). The id must change whenever the policy does (RFC 8461 §3.1: it
/// identifies a policy instance; §8.1: update the policy, then the id):
///
/// - the policy changed, the id did not: S11, a warning: senders that cached the old policy do
///   not fetch the new one until their copy expires;
/// - the id changed, the policy did not: X6, information: a harmless new id, or a TXT record
///   updated before the policy file, in which case senders fetching now cache the old policy
///   under the new id and miss the file's change.
///
/// Policies are compared as senders read them: mode, max_age, the set of mx patterns and the
/// extensions (not line order or whitespace).
pub(crate) fn compare_history(
    history: &History,
    record: &StsRecord,
    policy: &Policy,
    domain: &str,
) -> Vec<Diagnostic> {
    let (Some(old_id), Some(old_policy)) = (&history.sts_id, &history.sts_policy) else {
        return Vec::new();
    };
    let Ok(new_policy) = serde_json::to_value(policy) else {
        return Vec::new();
    };
    let (old, new) = (
        PolicyContent::of(old_policy),
        PolicyContent::of(&new_policy),
    );
    let id = record.id.as_str();
    let when = history
        .checked_at
        .as_deref()
        .map(|t| format!("the check of {t}"))
        .unwrap_or_else(|| "the last stored check".to_owned());
    let mut out = Vec::new();
    if old != new && old_id == id {
        out.push(Diagnostic::new(
            Check::S11,
            Severity::Warning,
            format!(
                "the policy of {domain} changed since {when} ({}) but the _mta-sts id is still `{id}`: senders that cached the old policy keep applying it until it expires, up to its max_age later (RFC 8461 §3.1, §8.1)",
                old.differences(&new).join("; ")
            ),
        ));
    }
    if old == new && old_id != id {
        out.push(Diagnostic::new(
            Check::X6,
            Severity::Info,
            format!(
                "the _mta-sts id of {domain} changed since {when} (`{old_id}` -> `{id}`) but the policy served is the same: harmless if nothing was meant to change; if a policy change is pending, senders fetching now cache the old policy under the new id and will not fetch the new file (publish the policy first, then the id, RFC 8461 §8.1)"
            ),
        ));
    }
    out
}

/// A policy as senders read it, from its JSON form (as stored by an earlier check, or of the
/// policy now): order and whitespace do not count.
#[derive(Debug, Eq, PartialEq)]
struct PolicyContent {
    mode: Option<String>,
    max_age: Option<u64>,
    mx: BTreeSet<String>,
    extensions: BTreeSet<String>,
}

impl PolicyContent {
    fn of(v: &Value) -> Self {
        let set = |key: &str| -> BTreeSet<String> {
            v[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| match x.as_str() {
                            Some(s) => s.to_ascii_lowercase(),
                            None => x.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            mode: v["mode"].as_str().map(str::to_owned),
            max_age: v["max_age"].as_u64(),
            mx: set("mx"),
            extensions: set("extensions"),
        }
    }

    /// What changed from `self` to `new`, for people.
    fn differences(&self, new: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
        if self.mode != new.mode {
            out.push(format!("mode {} -> {}", show(&self.mode), show(&new.mode)));
        }
        if self.max_age != new.max_age {
            let n = |o: Option<u64>| o.map_or_else(|| "-".to_owned(), |n| n.to_string());
            out.push(format!("max_age {} -> {}", n(self.max_age), n(new.max_age)));
        }
        let added: Vec<&String> = new.mx.difference(&self.mx).collect();
        let removed: Vec<&String> = self.mx.difference(&new.mx).collect();
        if !added.is_empty() {
            out.push(format!("mx added: {}", join(&added)));
        }
        if !removed.is_empty() {
            out.push(format!("mx removed: {}", join(&removed)));
        }
        if self.extensions != new.extensions {
            out.push("extension fields changed".to_owned());
        }
        out
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use mailsec_core::mta_sts::{StsRecord, lint_policy};

    use super::*;

    fn policy(body: &str) -> Policy {
        lint_policy(body.as_bytes()).parsed.unwrap()
    }

    fn headers(
        cache_control: Option<&str>,
        expires: Option<&str>,
        date: Option<&str>,
    ) -> CachingHeaders {
        CachingHeaders {
            cache_control: cache_control.map(str::to_owned),
            expires: expires.map(str::to_owned),
            etag: None,
            date: date.map(str::to_owned),
        }
    }

    #[test]
    fn caching_headers_that_contradict_max_age_are_said() {
        let week = 604_800;
        let date = Some("Sun, 29 Nov 2026 00:00:00 GMT");
        // What servers send: nginx `expires epoch` / no-store, a short proxy max-age (RFC 8461
        // §8.2's reverse proxy), an Expires in the past, an unparsable Expires (RFC 9111 §5.3).
        for (cc, expires) in [
            (Some("no-store"), None),
            (Some("no-cache, no-store, must-revalidate"), None),
            (Some("public, max-age=60"), None),
            (Some("max-age=\"60\""), None),
            (None, Some("Thu, 01 Jan 1970 00:00:01 GMT")),
            (None, Some("0")),
            (Some("max-age=31536000"), None),
        ] {
            let d = caching_finding(&headers(cc, expires, date), week)
                .unwrap_or_else(|| panic!("{cc:?} {expires:?}"));
            assert_eq!((d.check, d.severity), (Check::H8, Severity::Info));
            assert!(d.message.contains("senders ignore them"), "{}", d.message);
        }
        // Lifetimes close to max_age, directives without a lifetime, no headers: nothing.
        for (cc, expires) in [
            (None, None),
            (Some("max-age=604800"), None),
            (
                Some("public, max-age=600000, s-maxage=604800"),
                Some("Sun, 06 Dec 2026 00:00:00 GMT"),
            ),
            (Some("public"), None),
            (Some("max-age=oops"), None),
        ] {
            assert_eq!(
                caching_finding(&headers(cc, expires, date), week),
                None,
                "{cc:?}"
            );
        }
        // An Expires without Date is not judged (no base to count from).
        assert_eq!(
            caching_finding(
                &headers(None, Some("Thu, 01 Jan 1970 00:00:01 GMT"), None),
                week
            )
            .map(|d| d.check),
            None
        );
        // The ETag is named beside a contradiction.
        let mut h = headers(Some("no-store"), None, date);
        h.etag = Some("\"5f1c-6a\"".to_owned());
        assert!(
            caching_finding(&h, week)
                .unwrap()
                .message
                .contains("ETag: \"5f1c-6a\"")
        );
    }

    #[test]
    fn a_certificate_ending_before_max_age_is_said() {
        let now = 1_796_000_000;
        let day = 86_400;
        // A 90-day certificate (Let's Encrypt) with 60 days left, and a policy kept a year.
        let d = certificate_vs_max_age(now + 60 * day, now, 31_557_600, "example.com").unwrap();
        assert_eq!((d.check, d.severity), (Check::X5, Severity::Info));
        assert!(
            d.message.contains("ends in 60 days") && d.message.contains("365 days"),
            "{}",
            d.message
        );
        // The same certificate and a week's max_age; an expired certificate (H2's business).
        assert_eq!(
            certificate_vs_max_age(now + 60 * day, now, 604_800, "example.com"),
            None
        );
        assert_eq!(
            certificate_vs_max_age(now - day, now, 604_800, "example.com"),
            None
        );
    }

    #[test]
    fn handshakes_without_sni() {
        assert_eq!(
            sni_finding(&WithoutSni::SameCertificate, "example.com"),
            None
        );
        for w in [
            WithoutSni::OtherCertificate {
                presented: vec!["DnsName(\"default.example.net\")".to_owned()],
            },
            WithoutSni::OtherCertificate { presented: vec![] },
            WithoutSni::Refused {
                reason: "received fatal alert: UnrecognisedName".to_owned(),
            },
        ] {
            let d = sni_finding(&w, "example.com").unwrap();
            assert_eq!((d.check, d.severity), (Check::H9, Severity::Info), "{w:?}");
            assert!(!d.message.contains("DnsName"), "{}", d.message);
        }
    }

    #[test]
    fn cnames_at_mta_sts() {
        let chain = vec![(
            "_mta-sts.example.com.".to_owned(),
            "_mta-sts.provider.example.".to_owned(),
        )];
        let d = cname_findings(&chain, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].check, d[0].severity), (Check::S6, Severity::Info));
        assert!(
            d[0].message
                .contains("_mta-sts.example.com -> _mta-sts.provider.example"),
            "{}",
            d[0].message
        );
        let d = cname_findings(&chain, &["_mta-sts.example.com.".to_owned()]);
        assert_eq!(d[1].check, Check::S6);
        assert_eq!(d[1].severity, Severity::Warning);
        assert!(cname_findings(&[], &[]).is_empty());
    }

    #[test]
    fn fetch_failures_name_their_rule() {
        let tls = |name_mismatch: bool, cnames: Vec<(String, String)>| FetchError::Tls {
            host: "mta-sts.example.com".to_owned(),
            reason: "invalid peer certificate: NotValidForName".to_owned(),
            certificate: true,
            name_mismatch,
            cnames,
        };
        let delegated = vec![(
            "mta-sts.example.com.".to_owned(),
            "sts.provider.example.".to_owned(),
        )];
        let d = fetch_finding(&tls(true, delegated.clone()), "example.com");
        assert_eq!((d.check, d.severity), (Check::H12, Severity::Error));
        assert!(
            d.message.contains("CNAME to sts.provider.example"),
            "{}",
            d.message
        );
        assert!(
            fetch_fix(&tls(true, delegated.clone()), "example.com")
                .unwrap()
                .contains("mta-sts.example.com")
        );
        // Without delegation, or another certificate fault (an expired one): H2.
        assert_eq!(
            fetch_finding(&tls(true, vec![]), "example.com").check,
            Check::H2
        );
        assert_eq!(
            fetch_finding(&tls(false, delegated), "example.com").check,
            Check::H2
        );
        let old = FetchError::TlsVersion {
            host: "mta-sts.example.com".to_owned(),
            reason: "received fatal alert: ProtocolVersion".to_owned(),
        };
        assert_eq!(fetch_finding(&old, "example.com").check, Check::H10);
        assert!(fetch_fix(&old, "example.com").unwrap().contains("TLSv1.2"));
    }

    #[test]
    fn the_id_must_change_with_the_policy() {
        let body = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 604800\n";
        let record: StsRecord = "v=STSv1; id=20261129".parse().unwrap();
        let earlier = |id: &str, body: &str| History {
            checked_at: Some("2026-11-28T00:00:00.000000Z".to_owned()),
            sts_id: Some(id.to_owned()),
            sts_policy: Some(serde_json::to_value(policy(body)).unwrap()),
        };
        let checks = |h: &History, body: &str| -> Vec<(Check, Severity)> {
            compare_history(h, &record, &policy(body), "example.com")
                .iter()
                .map(|d| (d.check, d.severity))
                .collect()
        };
        // Same id, same policy (lines reordered, case of a pattern): nothing.
        let reordered = "version: STSv1\nmx: *.example.net\nmode: enforce\nmax_age: 604800\nmx: MX1.example.com\n";
        assert!(checks(&earlier("20261129", body), reordered).is_empty());
        // Same id, a new mx: S11.
        let added = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmx: *.example.net\nmax_age: 604800\n";
        let h = earlier("20261129", body);
        assert_eq!(checks(&h, added), [(Check::S11, Severity::Warning)]);
        let d = &compare_history(&h, &record, &policy(added), "example.com")[0];
        assert!(
            d.message.contains("mx added: mx2.example.com"),
            "{}",
            d.message
        );
        // A new id for the same policy: X6.
        assert_eq!(
            checks(&earlier("20261101", body), body),
            [(Check::X6, Severity::Info)]
        );
        // A new id with a new policy: as it should be.
        assert!(checks(&earlier("20261101", body), added).is_empty());
        // No earlier policy or record: nothing to compare.
        let none = History {
            sts_policy: None,
            ..earlier("20261129", body)
        };
        assert!(checks(&none, added).is_empty());
    }
}
