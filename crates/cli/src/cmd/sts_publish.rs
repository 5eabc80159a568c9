//! `mailsec sts publish` and `mailsec sts plan`: writing a policy and its records, and saying
//! whether a change of mode is safe (RFC 8461 §5 for enforce, §8.3 for removal).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use mailsec_check::verdict::{Sts, sender_verdict};
use mailsec_core::dane::{AddressVerdict, Outcome};
use mailsec_core::diag::quote;
use mailsec_core::mta_sts::{self, Mode, Policy};
use mailsec_core::{Diagnostic, HostName};
use mailsec_dns::Response;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::{NetArgs, StsPlanArgs, StsPublishArgs};
use crate::cmd::net;
use crate::exit::Exit;
use crate::output;

/// RFC 8461 §3.2: max_age is at most 31557600 seconds (a year).
const MAX_AGE_LIMIT: u64 = 31_557_600;

/// A policy id from the time: `YYYYMMDDHHMMSS` (RFC 8461 §3.1: 1 to 32 letters and digits),
/// so that every publication changes it.
fn fresh_id(now: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// The policy text (LF line endings; `mailsec serve` sends CRLF).
pub(crate) fn policy_text(mode: &str, mx: &[String], max_age: u64) -> String {
    let mut text = format!("version: STSv1\nmode: {mode}\n");
    for p in mx {
        text.push_str(&format!("mx: {p}\n"));
    }
    text.push_str(&format!("max_age: {max_age}\n"));
    text
}

#[derive(Serialize)]
struct Published<'a> {
    domain: String,
    file: String,
    policy: &'a str,
    mta_sts_record: String,
    tlsrpt_record: String,
    mx: Vec<String>,
    uncovered: Vec<String>,
    forced: bool,
}

pub(crate) fn publish(
    args: StsPublishArgs,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let domain = crate::cmd::domain_arg(&args.domain)?;
    if !matches!(args.mode.as_str(), "enforce" | "testing" | "none") {
        bail!("--mode {}: enforce, testing or none", quote(&args.mode));
    }
    if args.max_age > MAX_AGE_LIMIT {
        bail!(
            "--max-age {}: at most {MAX_AGE_LIMIT} (RFC 8461 §3.2)",
            args.max_age
        );
    }
    if args.mx.is_empty() && args.mode != "none" {
        bail!("--mx: at least one pattern for mode {}", args.mode);
    }
    let text = policy_text(&args.mode, &args.mx, args.max_age);
    let linted = mta_sts::lint_policy(text.as_bytes());
    let errors: Vec<&Diagnostic> = linted.diagnostics.iter().filter(|d| d.is_error()).collect();
    let Some(policy) = linted.parsed.filter(|_| errors.is_empty()) else {
        let why = errors
            .first()
            .map_or_else(|| "not a valid policy".to_owned(), |d| d.message.clone());
        bail!("the policy would be invalid: {why}");
    };
    // The domain's MX hosts now, to refuse an enforce policy that would stop mail.
    let mx = net::runtime()?.block_on(async {
        let dns = net::resolver(net_args).await?;
        anyhow::Ok(dns.mx(domain.as_ref()).await)
    })?;
    let (mx_hosts, lookup_failed): (Vec<HostName>, Option<String>) = match mx {
        Ok(Response::Records(a)) => (
            a.records
                .iter()
                // A null MX (RFC 7505: ".") names no host to cover.
                .filter(|(_, h)| h != "." && !h.is_empty())
                .filter_map(|(_, h)| HostName::parse(h.trim_end_matches('.')).ok())
                .collect(),
            None,
        ),
        Ok(_) => (Vec::new(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let uncovered: Vec<String> = mx_hosts
        .iter()
        .filter(|h| !policy.matches(h))
        .map(ToString::to_string)
        .collect();
    let enforce = policy.mode == Mode::Enforce;
    let blocked = enforce && (!uncovered.is_empty() || lookup_failed.is_some());
    if blocked && !args.force {
        let mut lines = Vec::new();
        if let Some(e) = &lookup_failed {
            lines.push(format!(
                "the MX lookup of {domain} failed ({e}): cannot tell whether enforce would stop mail"
            ));
        }
        for h in &uncovered {
            lines.push(format!(
                "MX {h} is not covered by the patterns: senders enforcing the policy would not deliver to it (RFC 8461 §4.1); add --mx {h}"
            ));
        }
        for l in &lines {
            writeln!(out, "{domain}: {l}")?;
        }
        writeln!(
            out,
            "{domain}: refused to publish mode enforce (--force to write it anyway; --mode testing first is safer)"
        )?;
        return Ok(Exit::Findings);
    }
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let file = args.out_dir.join(format!("{domain}.txt"));
    write_atomically(&file, text.as_bytes())?;
    let now = OffsetDateTime::now_utc();
    let record = format!(
        "_mta-sts.{domain}. IN TXT \"v=STSv1; id={}\"",
        fresh_id(now)
    );
    let tlsrpt = format!("_smtp._tls.{domain}. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\"");
    if args.json {
        output::json(
            out,
            &Published {
                domain: domain.to_string(),
                file: file.display().to_string(),
                policy: &text,
                mta_sts_record: record,
                tlsrpt_record: tlsrpt,
                mx: mx_hosts.iter().map(ToString::to_string).collect(),
                uncovered,
                forced: blocked,
            },
        )?;
        return Ok(Exit::Ok);
    }
    for w in linted.diagnostics.iter().filter(|d| !d.is_error()) {
        writeln!(out, "{domain}: note: {}", w.message)?;
    }
    for h in &uncovered {
        writeln!(
            out,
            "{domain}: warning: MX {h} is not covered by the patterns"
        )?;
    }
    writeln!(out, "wrote {}:\n", file.display())?;
    for l in text.lines() {
        writeln!(out, "    {l}")?;
    }
    writeln!(
        out,
        "\npublish (a new id each time the policy changes, RFC 8461 §3.1):\n\n    {record}\n\nand, to hear about failures (RFC 8460), if you have none yet:\n\n    {tlsrpt}"
    )?;
    Ok(Exit::Ok)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[derive(Serialize)]
struct AddressPlan {
    host: String,
    decided_by: &'static str,
    verdict: AddressVerdict,
}

#[derive(Serialize)]
struct Plan {
    domain: String,
    to: String,
    safe: bool,
    /// Why not, one sentence each.
    blockers: Vec<String>,
    /// Worth knowing, not blocking.
    notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    addresses: Vec<AddressPlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<Step>,
}

#[derive(Serialize)]
struct Step {
    /// When: RFC 3339.
    at: String,
    what: String,
}

pub(crate) fn plan(
    args: StsPlanArgs,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let domain = crate::cmd::domain_arg(&args.domain)?;
    let report = net::runtime()?.block_on(async {
        let mut probe = mailsec_probe::ProbeConfig::new();
        probe.ports = net_args.lab_ports.unwrap_or_default();
        let ctx = mailsec_check::Context {
            resolver: net::resolver(net_args).await?,
            fetch: net::fetch_config(net_args)?,
            probe: Some(probe),
        };
        let report = mailsec_check::check_domain(&ctx, &domain).await;
        anyhow::Ok((report, ctx.fetch.roots.roots.clone()))
    });
    let (report, roots) = report?;
    let now = OffsetDateTime::now_utc();
    let mut plan = Plan {
        domain: domain.to_string(),
        to: args.to.clone(),
        safe: false,
        blockers: Vec::new(),
        notes: Vec::new(),
        addresses: Vec::new(),
        steps: Vec::new(),
    };
    let policy: Option<&Policy> = report.sts_policy.as_ref();
    if args.to == "remove" {
        plan_removal(&mut plan, &domain, policy, report.sts_record.is_some(), now);
    } else {
        match policy {
            None => plan.blockers.push(
                "no valid MTA-STS policy is published: publish one in testing mode first (mailsec sts publish --mode testing)".to_owned(),
            ),
            Some(p) => {
                if p.mode == Mode::Enforce {
                    plan.notes.push(
                        "the policy is already in enforce mode: this is how senders treat it today"
                            .to_owned(),
                    );
                }
                if p.mode == Mode::None {
                    plan.notes.push("the policy is in mode none: senders apply nothing today".to_owned());
                }
                let mut enforced = p.clone();
                enforced.mode = Mode::Enforce;
                match &report.dane {
                    None => plan.blockers.push("the MX hosts could not be probed".to_owned()),
                    Some(dane) => {
                        let view = sender_verdict(dane, &Sts::Policy(enforced), &roots, None);
                        for h in &view.hosts {
                            for v in &h.addresses {
                                match v {
                                    AddressVerdict::Refuse { reason } => plan.blockers.push(format!(
                                        "{}: a sender enforcing the policy would not deliver there ({reason})",
                                        h.host
                                    )),
                                    AddressVerdict::Unreachable => plan.notes.push(format!(
                                        "{}: an address could not be reached, so it was not judged",
                                        h.host
                                    )),
                                    AddressVerdict::Deliver { .. } => {}
                                }
                                plan.addresses.push(AddressPlan {
                                    host: h.host.clone(),
                                    decided_by: h.decided_by,
                                    verdict: v.clone(),
                                });
                            }
                        }
                        if view.verdict.outcome == Outcome::Defer && plan.blockers.is_empty() {
                            plan.blockers.push(format!(
                                "senders would defer mail to the domain ({})",
                                view.verdict.reason.unwrap_or("no MX host accepts")
                            ));
                        }
                    }
                }
                if report.tlsrpt.is_none() {
                    plan.notes.push(format!(
                        "no TLS-RPT record: you will not hear about failures after the change (publish _smtp._tls.{domain})"
                    ));
                }
                if args.reports.is_empty() {
                    plan.notes.push(
                        "no TLS reports given (--reports): what senders saw is not known".to_owned(),
                    );
                } else {
                    judge_reports(&mut plan, &domain, &args.reports, args.days, now)?;
                }
            }
        }
        plan.safe = plan.blockers.is_empty() && policy.is_some();
        if plan.safe && policy.is_some_and(|p| p.mode != Mode::Enforce) {
            let mx: Vec<String> = policy
                .map(|p| p.mx.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            plan.steps.push(Step {
                at: now.format(&Rfc3339).unwrap_or_default(),
                what: format!(
                    "mailsec sts publish {domain} --mode enforce {}",
                    mx.iter()
                        .map(|m| format!("--mx {m}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            });
        }
    }
    if args.json {
        output::json(out, &plan)?;
    } else {
        let verdict = match (plan.to.as_str(), plan.safe) {
            ("remove", _) => "the steps to remove MTA-STS".to_owned(),
            (_, true) => "safe to move to enforce".to_owned(),
            (_, false) => "NOT safe to move to enforce".to_owned(),
        };
        writeln!(out, "{domain}: {verdict}")?;
        for a in &plan.addresses {
            let v = match &a.verdict {
                AddressVerdict::Deliver { mechanism } => format!("deliver ({mechanism:?})"),
                AddressVerdict::Refuse { reason } => format!("refuse ({reason})"),
                AddressVerdict::Unreachable => "unreachable".to_owned(),
            };
            writeln!(out, "  {} [{}]: {v}", a.host, a.decided_by)?;
        }
        for b in &plan.blockers {
            writeln!(out, "  blocker: {b}")?;
        }
        for n in &plan.notes {
            writeln!(out, "  note: {n}")?;
        }
        for (i, s) in plan.steps.iter().enumerate() {
            writeln!(out, "  {}. {}: {}", i + 1, s.at, s.what)?;
        }
    }
    Ok(match (plan.to.as_str(), plan.safe) {
        ("remove", _) | (_, true) => Exit::Ok,
        _ => Exit::Findings,
    })
}

/// Reads the reports; failures for the domain in the last `days` days are blockers.
fn judge_reports(
    plan: &mut Plan,
    domain: &HostName,
    paths: &[std::path::PathBuf],
    days: u32,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let since = now - time::Duration::days(i64::from(days));
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    let (mut read, mut successes) = (0u64, 0u64);
    for file in &files {
        let bytes = match read_report(file) {
            Ok(b) => b,
            Err(e) => {
                plan.notes
                    .push(format!("{}: not read ({e:#})", file.display()));
                continue;
            }
        };
        let figures = match mailsec_core::tlsrpt::failures::figures_for(&bytes, domain.as_ref()) {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            Err(e) => {
                plan.notes.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        // A report whose period ended before the window, or whose date cannot be read, is
        // named and left out.
        match OffsetDateTime::parse(&figures.end, &Rfc3339) {
            Ok(end) if end < since => continue,
            Ok(_) => {}
            Err(_) => {
                plan.notes.push(format!(
                    "{}: end-datetime `{}` is not RFC 3339; left out",
                    file.display(),
                    figures.end
                ));
                continue;
            }
        }
        read += 1;
        successes += figures.successes;
        let detailed: u64 = figures.by_mx.iter().map(|(_, _, n)| n).sum();
        for (mx, result, n) in figures.by_mx.iter().filter(|(_, _, n)| *n > 0) {
            plan.blockers.push(format!(
                "{} reported {n} failed session{} at {} ({result}) in the report ending {}",
                figures.reporter,
                if *n == 1 { "" } else { "s" },
                if mx.is_empty() { "an MX host" } else { mx },
                figures.end
            ));
        }
        if figures.failures > detailed {
            plan.blockers.push(format!(
                "{} reported {} failed sessions without details in the report ending {}",
                figures.reporter,
                figures.failures - detailed,
                figures.end
            ));
        }
    }
    if read == 0 {
        plan.notes.push(format!(
            "no TLS report for {domain} in the last {days} days: what senders saw is not known"
        ));
    } else {
        plan.notes.push(format!(
            "{read} TLS report{} of the last {days} days read: {successes} successful sessions",
            if read == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// A report file's JSON: gzip (RFC 8460 §5.2) unpacked, at most 16 MiB either way (a small
/// file that unpacks to gigabytes is refused, not unpacked).
fn read_report(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    const LIMIT: u64 = 16 << 20;
    let mut raw = Vec::new();
    std::fs::File::open(path)?
        .take(LIMIT + 1)
        .read_to_end(&mut raw)?;
    let out = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(LIMIT + 1)
            .read_to_end(&mut out)?;
        out
    } else {
        raw
    };
    if out.len() as u64 > LIMIT {
        bail!("over {LIMIT} bytes");
    }
    Ok(out)
}

/// RFC 8461 §8.3: publish `mode: none` with a short max_age and a new id; when every copy of
/// the old policy has expired (now plus its max_age), remove the record and the policy host.
fn plan_removal(
    plan: &mut Plan,
    domain: &HostName,
    policy: Option<&Policy>,
    has_record: bool,
    now: OffsetDateTime,
) {
    plan.safe = true;
    let Some(p) = policy else {
        if has_record {
            plan.steps.push(Step {
                at: now.format(&Rfc3339).unwrap_or_default(),
                what: format!("remove the _mta-sts.{domain} TXT record: no valid policy is served, so no sender holds one that a fetch could renew"),
            });
        } else {
            plan.notes
                .push("MTA-STS is not published: nothing to remove".to_owned());
        }
        return;
    };
    let old_age = u64::from(p.max_age.seconds());
    let later = now + time::Duration::seconds(i64::try_from(old_age).unwrap_or(i64::MAX / 2));
    let mx: Vec<String> = p.mx.iter().map(|m| format!("--mx {m}")).collect();
    plan.steps = vec![
        Step {
            at: now.format(&Rfc3339).unwrap_or_default(),
            what: format!(
                "publish mode none with a short max_age and a new id: mailsec sts publish {domain} --mode none --max-age 86400 {} (and the TXT record it prints)",
                mx.join(" ")
            ),
        },
        Step {
            at: later.format(&Rfc3339).unwrap_or_default(),
            what: format!(
                "when every copy of the current policy has expired (now + its max_age, {old_age} s): remove the _mta-sts.{domain} TXT record, then the policy at https://mta-sts.{domain}/.well-known/mta-sts.txt"
            ),
        },
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fourteen_digits_of_the_time() {
        let t = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let id = fresh_id(t);
        assert_eq!(id.len(), 14);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert!(
            mta_sts::lint_record(format!("v=STSv1; id={id}").as_bytes())
                .parsed
                .is_some()
        );
    }

    #[test]
    fn removal_is_dated_by_the_old_max_age() {
        let linted = mta_sts::lint_policy(
            policy_text("enforce", &["mx.example".into()], 604_800).as_bytes(),
        );
        let p = linted.parsed.unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let mut plan = Plan {
            domain: "example".into(),
            to: "remove".into(),
            safe: false,
            blockers: vec![],
            notes: vec![],
            addresses: vec![],
            steps: vec![],
        };
        plan_removal(
            &mut plan,
            &HostName::parse("example.com").unwrap(),
            Some(&p),
            true,
            now,
        );
        assert_eq!(plan.steps.len(), 2);
        let later = OffsetDateTime::parse(&plan.steps[1].at, &Rfc3339).unwrap();
        assert_eq!((later - now).whole_seconds(), 604_800);
        assert!(
            plan.steps[0]
                .what
                .contains("--mode none --max-age 86400 --mx mx.example")
        );
    }
}
