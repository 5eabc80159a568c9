//! `mailsec tlsa rollover`: the records to publish before a renewal, and (`--check`) whether
//! the records a domain publishes already cover the next key, and for long enough.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use mailsec_core::HostName;
use mailsec_core::dane::rollover::{self, Next, Planned, Readiness, Role, RolloverError};
use mailsec_core::dane::verify::{leaf_names, name_matches};
use mailsec_core::dane::{self, Certificate, Matching, Tlsa, TlsaRecord, lint};
use mailsec_core::diag::{Check, Diagnostic, quote};
use mailsec_dns::{Resolver, Response, Security};
use serde::Serialize;

use super::state::State;
use super::{Generated, input_error, owner_host, print_notes};
use crate::cli::{NetArgs, TlsaRolloverArgs};
use crate::cmd::{net, read_input, source_name};
use crate::exit::Exit;
use crate::output;

pub(super) fn run(
    args: TlsaRolloverArgs,
    net: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match args.check.clone() {
        Some(domain) => check(&domain, &args, net, out),
        None => plan(&args, out),
    }
}

/// Reads the next certificate or key: a PEM chain or DER certificate, a PEM `PUBLIC KEY` or DER
/// SubjectPublicKeyInfo, or a private key (PEM or DER), whose public key is derived.
pub(super) fn read_next(path: &Path) -> anyhow::Result<Next> {
    let input = read_input(path)?;
    let file = source_name(path);
    if input.is_empty() {
        bail!("not a PEM or DER certificate or key: {file} (empty input)");
    }
    let has = |s: &str| input.windows(s.len()).any(|w| w == s.as_bytes());
    if has("-----BEGIN ") {
        if has("-----BEGIN CERTIFICATE-----") {
            return dane::parse_certificates(&input)
                .map(Next::Chain)
                .map_err(|e| input_error(&e, "certificate", path, false));
        }
        if has("-----BEGIN PUBLIC KEY-----") {
            return dane::parse_public_key(&input)
                .map(Next::Key)
                .map_err(|e| input_error(&e, "public key", path, false));
        }
        if has("PRIVATE KEY-----") {
            return rollover::spki_from_private_key(&input)
                .map(Next::Key)
                .map_err(|e| anyhow!("{file}: {e}"));
        }
        bail!("no CERTIFICATE, PUBLIC KEY or PRIVATE KEY block in the PEM file {file}");
    }
    if let Ok(chain) = dane::parse_certificates(&input) {
        return Ok(Next::Chain(chain));
    }
    if let Ok(spki) = dane::parse_public_key(&input) {
        return Ok(Next::Key(spki));
    }
    // DER that none of the three parsers takes. (A DER private key of a type the TLS stack
    // cannot load lands here too: DER carries no label that would tell it from garbage.)
    match rollover::spki_from_private_key(&input) {
        Ok(spki) => Ok(Next::Key(spki)),
        Err(_) => bail!("not a PEM or DER certificate, public key or private key: {file}"),
    }
}

/// One record of the set, as printed in JSON.
#[derive(Serialize)]
struct PlannedRecord {
    #[serde(flatten)]
    record: Generated,
    role: Role,
}

#[derive(Serialize)]
struct PlanReport {
    owner: String,
    records: Vec<PlannedRecord>,
    /// What to do, in order.
    steps: Vec<String>,
    notes: Vec<String>,
    warnings: Vec<Diagnostic>,
}

fn plan(args: &TlsaRolloverArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let current_path = args
        .current
        .as_deref()
        .context("give --current CERT (or --check DOMAIN)")?;
    let input = read_input(current_path)?;
    let current = dane::parse_certificates(&input)
        .map_err(|e| input_error(&e, "certificate", current_path, input.is_empty()))?;
    let next = read_next(&args.next)?;
    let planned =
        rollover::rollover_plan(&current, &next, args.with_issuer).map_err(|e| match e {
            RolloverError::NoIssuer(which) => {
                let file = source_name(if which == "current" {
                    current_path
                } else {
                    &args.next
                });
                anyhow!(
                    "--with-issuer needs the issuer: {file} holds no certificate after the leaf; give the full chain (leaf, then issuer), such as certbot's fullchain.pem"
                )
            }
            other => anyhow!(other),
        })?;
    let mut notes = Vec::new();
    let owner_host = owner_host(args.name.as_deref(), &current[0], &mut notes)?;
    let host = HostName::parse(&owner_host)
        .with_context(|| format!("{} is not a host name", quote(&owner_host)))?;
    let owner = TlsaRecord::owner_name(args.port, "tcp", host.as_str());

    let same_key = planned.iter().any(|p| p.role == Role::SameKey);
    let set: Vec<Tlsa> = planned.iter().map(|p| p.tlsa.clone()).collect();
    let mut warnings = lint::lint_rrset(&set);
    if same_key {
        // The renewal keeps the key: nothing to roll, and D13's "mail stops at the renewal" is
        // not true of this one. Say what is.
        warnings.retain(|d| d.check != Check::D13);
        notes.push(format!(
            "the next certificate keeps the current key: its `3 1 1` is the one published now, and it stays valid{}",
            if args.with_issuer {
                ""
            } else {
                "; --with-issuer adds the issuer's `2 1 1`, cover for a key change you did not plan"
            }
        ));
    }
    if args.with_issuer {
        if matches!(next, Next::Key(_)) {
            notes.push("--next is a bare key: the `2 1 1` names the current issuer only; give the next chain to cover its issuer".into());
        }
        if let Some(leaf) = next.leaf()
            && !names_host(leaf, host.as_str())
        {
            warnings.push(Diagnostic::new(
                Check::D13,
                mailsec_core::diag::Severity::Warning,
                format!(
                    "the next certificate does not name {host}: a `2 1 1` cannot authenticate it (RFC 7672 §3.2.2), only the `3 1 1` of its key can"
                ),
            ));
        }
        notes.push("a `2 1 1` covers only the issuer it names; a CA may sign the next certificate with another intermediate (Let's Encrypt picks one of several), so publish the 2 1 1 of each".into());
    }
    let subject = |p: &Planned| -> Option<&Certificate> {
        match p.role {
            Role::CurrentKey | Role::SameKey => current.first(),
            Role::NextKey => next.leaf(),
            Role::CurrentIssuer | Role::SameIssuer => current.get(1),
            Role::NextIssuer => next.issuers().first(),
        }
    };
    let records: Vec<PlannedRecord> = planned
        .iter()
        .map(|p| PlannedRecord {
            record: Generated::new(&owner, p.tlsa.clone(), subject(p)),
            role: p.role,
        })
        .collect();
    let steps = steps(&planned, &owner);
    if args.json {
        output::json(
            out,
            &PlanReport {
                owner,
                records,
                steps,
                notes,
                warnings,
            },
        )?;
        return Ok(Exit::Ok);
    }
    for (i, step) in steps.iter().enumerate() {
        notes.push(format!("{}. {step}", i + 1));
    }
    print_notes(&notes, &warnings);
    for r in &records {
        writeln!(out, "{}", r.record.record)?;
    }
    Ok(Exit::Ok)
}

/// The order of a rollover (RFC 7671 §8.1), naming the records to remove at the end.
fn steps(planned: &[Planned], owner: &str) -> Vec<String> {
    let role = |r: Role| planned.iter().find(|p| p.role == r).map(|p| &p.tlsa);
    let Some(next_key) = role(Role::NextKey) else {
        return vec![format!(
            "make sure {} published at {owner}; the new certificate keeps the key, so it can be installed at any time",
            if planned.len() == 1 {
                "this record is"
            } else {
                "these records are"
            }
        )];
    };
    let mut retire = Vec::new();
    if let Some(t) = role(Role::CurrentKey) {
        retire.push(format!("`{}`", short(t)));
    }
    if let (Some(t), Some(_)) = (role(Role::CurrentIssuer), role(Role::NextIssuer)) {
        retire.push(format!("`{}`", short(t)));
    }
    vec![
        format!(
            "publish these {} records at {owner} now, beside what is published",
            planned.len()
        ),
        format!(
            "wait until senders' caches hold them: at least {} TTLs of the TLSA RRset after they appear (`mailsec tlsa rollover --check DOMAIN --next FILE` says when; the next key's record is `{}`)",
            rollover::WAIT_TTLS,
            short(next_key)
        ),
        "install the new certificate".into(),
        format!(
            "remove the old record{}: {}",
            if retire.len() == 1 { "" } else { "s" },
            retire.join(", ")
        ),
    ]
}

/// `3 1 1 9f2c4e10…`: enough to tell records apart in prose.
fn short(t: &Tlsa) -> String {
    let hex = hex::encode(&t.data);
    format!(
        "{} {} {} {}…",
        u8::from(t.usage),
        u8::from(t.selector),
        u8::from(t.matching),
        &hex[..hex.len().min(16)]
    )
}

/// Whether the leaf names `host` (RFC 7672 §3.2.3: SAN DNS names, CN without them).
fn names_host(leaf: &Certificate, host: &str) -> bool {
    leaf_names(&leaf.der).is_ok_and(|names| names.iter().any(|n| name_matches(n, host)))
}

// --- --check ------------------------------------------------------------------------------

#[derive(Serialize)]
struct CheckReport {
    domain: String,
    /// The time the check used (Unix seconds).
    now: u64,
    /// Safe to install the next certificate now.
    safe: bool,
    mx: MxReport,
    next: NextReport,
    hosts: Vec<HostReport>,
    state_file: String,
}

#[derive(Serialize)]
struct MxReport {
    security: Security,
    /// No MX records: the domain itself is the mail host (RFC 5321 §5.1).
    implicit: bool,
    /// A null MX (RFC 7505): the domain accepts no mail.
    null: bool,
}

#[derive(Serialize)]
struct NextReport {
    /// `chain` or `key`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    /// SHA2-256 of the next key's SubjectPublicKeyInfo (the data of its `3 1 1`).
    spki_sha256: String,
}

#[derive(Serialize)]
struct HostReport {
    host: String,
    owner: String,
    /// `ready`, `wait`, `not-covered`, `no-dane`, `no-usable-record` or `lookup-failed`.
    status: &'static str,
    safe: bool,
    reason: String,
    /// DNSSEC status of the TLSA answer or denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    dnssec: Option<Security>,
    /// The TLSA RRset as published.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    published: Vec<Tlsa>,
    /// The record that covers the next key.
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<Tlsa>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ready_in: Option<u64>,
    /// The record to publish when nothing covers the next key.
    #[serde(skip_serializing_if = "Option::is_none")]
    publish: Option<String>,
    warnings: Vec<Diagnostic>,
}

impl HostReport {
    fn new(host: &str, owner: &str, status: &'static str, safe: bool, reason: String) -> Self {
        Self {
            host: host.to_owned(),
            owner: owner.to_owned(),
            status,
            safe,
            reason,
            dnssec: None,
            published: Vec::new(),
            record: None,
            first_seen: None,
            ttl: None,
            ready_at: None,
            ready_in: None,
            publish: None,
            warnings: Vec::new(),
        }
    }
}

fn check(
    domain: &str,
    args: &TlsaRolloverArgs,
    net: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let next = read_next(&args.next)?;
    let now = now()?;
    let state_path = match &args.state {
        Some(p) => p.clone(),
        None => State::default_path()?,
    };
    let mut state = State::load(&state_path)?;
    let domain = HostName::parse(domain)
        .with_context(|| format!("{} is not a domain name", quote(domain)))?;
    let report = net::runtime()?.block_on(async {
        let resolver = net::resolver(net).await?;
        evaluate(&resolver, &domain, &next, &mut state, now).await
    })?;
    state.save()?;
    let exit = Exit::from_errors(!report.safe);
    if args.json {
        output::json(out, &report)?;
        return Ok(exit);
    }
    let mx = if report.mx.null {
        "null MX (RFC 7505): the domain accepts no mail, nothing to roll".to_owned()
    } else if report.mx.implicit {
        format!(
            "no MX records ({}): the domain itself is the mail host",
            report.mx.security
        )
    } else {
        format!(
            "MX {}: {}",
            report.mx.security,
            report
                .hosts
                .iter()
                .map(|h| h.host.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    writeln!(out, "{}: {mx}", report.domain)?;
    for h in &report.hosts {
        writeln!(out, "{}: {}: {}", h.host, label(h), h.reason)?;
        if let Some(p) = &h.publish {
            writeln!(out, "    {p}")?;
        }
        output::findings(out, &h.host, &h.warnings)?;
    }
    let waiting = report.hosts.iter().filter(|h| !h.safe).count();
    if report.safe {
        writeln!(
            out,
            "=> safe: DANE senders will accept the next certificate on every MX host"
        )?;
    } else {
        writeln!(
            out,
            "=> not safe yet: {waiting} of {} MX hosts not ready for the next certificate",
            report.hosts.len()
        )?;
    }
    Ok(exit)
}

fn label(h: &HostReport) -> &'static str {
    match h.status {
        "ready" => "ready",
        "wait" => "not yet",
        "not-covered" => "not covered",
        "no-dane" | "no-usable-record" => "safe",
        _ => "not safe",
    }
}

async fn evaluate(
    resolver: &Resolver,
    domain: &HostName,
    next: &Next,
    state: &mut State,
    now: u64,
) -> anyhow::Result<CheckReport> {
    let spki = next
        .spki()
        .context("the next certificate file holds no certificate")?;
    let next_report = NextReport {
        kind: if matches!(next, Next::Key(_)) {
            "key"
        } else {
            "chain"
        },
        subject: next.leaf().map(|c| c.subject.clone()),
        spki_sha256: hex::encode(dane::associate(spki, Matching::Sha256)?),
    };
    let (hosts, mx) = match resolver.mx(domain.as_str()).await {
        Err(e) => {
            bail!("the MX lookup for {domain} failed ({e}): cannot tell which hosts to check")
        }
        Ok(Response::NxDomain { .. }) => bail!("{domain} does not exist (NXDOMAIN)"),
        Ok(r @ Response::NoData { .. }) => (
            vec![domain.to_string()],
            MxReport {
                security: r.security(),
                implicit: true,
                null: false,
            },
        ),
        Ok(Response::Records(a)) => {
            let mut records = a.records.clone();
            records.sort_by_key(|(pref, _)| *pref);
            let null = records.iter().all(|(_, h)| h.is_empty());
            let mut hosts: Vec<String> = Vec::new();
            for (_, h) in records {
                let h = h.to_ascii_lowercase();
                if !h.is_empty() && !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
            (
                hosts,
                MxReport {
                    security: a.security,
                    implicit: false,
                    null,
                },
            )
        }
    };
    let mut reports = Vec::new();
    for host in &hosts {
        // The reference identifiers of RFC 7672 §3.2.2: the MX host, and the next-hop domain
        // when the MX RRset is secure.
        let mut refs = Vec::new();
        if let Ok(h) = HostName::parse(host) {
            refs.push(h);
        }
        if mx.security == Security::Secure && !refs.contains(domain) {
            refs.push(domain.clone());
        }
        let mut r = host_report(resolver, host, &refs, next, spki, state, now).await;
        if mx.security != Security::Secure && r.dnssec == Some(Security::Secure) {
            r.reason.push_str(&format!(
                " (the MX RRset is {}: RFC 7672 §2.2.1 lets senders skip DANE, but Postfix uses these records anyway)",
                mx.security
            ));
        }
        reports.push(r);
    }
    Ok(CheckReport {
        domain: domain.to_string(),
        now,
        safe: reports.iter().all(|h| h.safe),
        mx,
        next: next_report,
        hosts: reports,
        state_file: state.path().display().to_string(),
    })
}

async fn host_report(
    resolver: &Resolver,
    host: &str,
    refs: &[HostName],
    next: &Next,
    spki: &[u8],
    state: &mut State,
    now: u64,
) -> HostReport {
    let owner = TlsaRecord::owner_name(25, "tcp", host);
    let answer = match resolver.tlsa(&format!("_25._tcp.{host}")).await {
        Err(e) => {
            return HostReport::new(
                host,
                &owner,
                "lookup-failed",
                false,
                format!(
                    "the TLSA lookup at {owner} failed ({e}): DANE senders treat the host as unreachable until it works (RFC 7672 §2.1.2), and whether the next key is covered cannot be told"
                ),
            );
        }
        Ok(Response::Records(a)) => a,
        Ok(denial) => {
            let security = denial.security();
            let mut r = match security {
                Security::Secure => {
                    state.forget(&owner);
                    HostReport::new(
                        host,
                        &owner,
                        "no-dane",
                        true,
                        format!(
                            "no TLSA records at {owner} ({}, validated): DANE does not apply to this host",
                            denial.status()
                        ),
                    )
                }
                Security::Insecure => HostReport::new(
                    host,
                    &owner,
                    "no-dane",
                    true,
                    format!(
                        "no TLSA records at {owner}, in an unsigned zone: DANE does not apply to this host"
                    ),
                ),
                other => HostReport::new(
                    host,
                    &owner,
                    "lookup-failed",
                    false,
                    format!(
                        "the TLSA denial at {owner} is {other}: DANE senders treat the host as unreachable (RFC 7672 §2.1.2)"
                    ),
                ),
            };
            r.dnssec = Some(security);
            return r;
        }
    };
    let mut r = match answer.security {
        Security::Secure => {
            state.observe(&owner, &answer.records, answer.ttl, now);
            let ttl = answer.ttl.max(state.ttl(&owner));
            let readiness = rollover::host_readiness(
                &answer.records,
                next,
                refs,
                ttl,
                &|t| state.first_seen(&owner, t),
                now,
            );
            let mut r = readiness_report(host, &owner, &readiness, ttl, now);
            if matches!(readiness, Readiness::NotCovered { .. }) {
                r.publish = rollover::next_key_record(&answer.records, spki)
                    .ok()
                    .map(|tlsa| {
                        TlsaRecord {
                            owner: Some(owner.clone()),
                            ttl: None,
                            tlsa,
                        }
                        .to_string()
                    });
            }
            r.ttl = Some(ttl);
            r.warnings = lint::lint_rrset(&answer.records);
            r
        }
        Security::Insecure => HostReport::new(
            host,
            &owner,
            "no-dane",
            true,
            format!(
                "the TLSA RRset at {owner} is insecure (its zone is not signed): DANE senders ignore it"
            ),
        ),
        other => HostReport::new(
            host,
            &owner,
            "lookup-failed",
            false,
            format!(
                "the TLSA RRset at {owner} is {other}: DANE senders treat the host as unreachable (RFC 7672 §2.1.2)"
            ),
        ),
    };
    r.dnssec = Some(answer.security);
    r.published = answer.records;
    r
}

fn readiness_report(
    host: &str,
    owner: &str,
    readiness: &Readiness,
    ttl: u32,
    now: u64,
) -> HostReport {
    let wait = rollover::WAIT_TTLS.saturating_mul(u64::from(ttl));
    match readiness {
        Readiness::NoUsableRecord => HostReport::new(
            host,
            owner,
            "no-usable-record",
            true,
            format!(
                "the TLSA RRset at {owner} holds no record SMTP senders can use: they require TLS but do not authenticate it, so any certificate will do (RFC 7672 §2.2)"
            ),
        ),
        Readiness::NotCovered { rejected } => {
            let mut reason = format!(
                "no usable record at {owner} matches the next key (digest agility applied, RFC 7671 §9)"
            );
            for (t, why) in rejected {
                reason.push_str(&format!(
                    "; `{}` matches an issuer in the next chain but does not authenticate it: {why}",
                    short(t)
                ));
            }
            reason.push_str("; publish this record");
            HostReport::new(host, owner, "not-covered", false, reason)
        }
        Readiness::Wait {
            record,
            first_seen,
            ready_at,
        } => {
            let left = ready_at.saturating_sub(now);
            let mut r = HostReport::new(
                host,
                owner,
                "wait",
                false,
                format!(
                    "covered by `{}` since {}, but senders may still hold the RRset without it: ready in {left} s, at {} ({} TTLs of {ttl} s)",
                    short(record),
                    utc(*first_seen),
                    utc(*ready_at),
                    rollover::WAIT_TTLS
                ),
            );
            r.record = Some(record.clone());
            r.first_seen = Some(*first_seen);
            r.ready_at = Some(*ready_at);
            r.ready_in = Some(left);
            r
        }
        Readiness::Ready { record, first_seen } => {
            let mut r = HostReport::new(
                host,
                owner,
                "ready",
                true,
                format!(
                    "covered by `{}` since {} (at least {wait} s: {} TTLs of {ttl} s)",
                    short(record),
                    utc(*first_seen),
                    rollover::WAIT_TTLS
                ),
            );
            r.record = Some(record.clone());
            r.first_seen = Some(*first_seen);
            r.ready_at = Some(rollover::ready_at(*first_seen, ttl));
            r.ready_in = Some(0);
            r
        }
    }
}

/// Unix seconds now, or `MAILSEC_NOW` (for tests only: it makes the TTL wait testable).
fn now() -> anyhow::Result<u64> {
    if let Some(v) = std::env::var_os("MAILSEC_NOW") {
        return v
            .to_str()
            .and_then(|s| s.trim().parse().ok())
            .context("MAILSEC_NOW (for tests only) must be Unix seconds");
    }
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs())
}

/// `2026-12-04T16:00:00Z` (RFC 3339, UTC).
fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{secs}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_764_864_000, "2025-12-04T16:00:00Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
        ] {
            assert_eq!(utc(secs), want);
        }
    }
}
