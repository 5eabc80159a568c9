//! `mailsec sts fetch DOMAIN`: one lookup of the sending MTA's policy resolver, shown in full.

use std::io::Write;
use std::sync::Arc;

use mailsec_core::HostName;
use mailsec_core::mta_sts::sender::{Discovery, Outcome};
use mailsec_core::socketmap::policy::{DaneGate, ReplyOptions, reply};
use mailsec_daemon::resolve::{NoObserver, PolicyResolver, ResolverConfig};
use serde::Serialize;

use crate::cli::{NetArgs, StsFetchArgs};
use crate::cmd::net;
use crate::exit::Exit;
use crate::output;

#[derive(Serialize)]
struct Report {
    domain: String,
    /// What the `_mta-sts` lookup found: `found`, `none`, `invalid`, `failed`; null when the
    /// cache answered without one.
    record: Option<RecordView>,
    /// Whether a fetch was made: `ok` or `failed`; null when none was.
    fetch: Option<FetchView>,
    /// The policy in force (any mode), if one is.
    policy: Option<PolicyView>,
    /// The cache rule that decided.
    rule: &'static str,
    /// `enforce`, `testing`, `none`, `no-policy` or `temp`.
    verdict: &'static str,
    /// The TLS-RPT result type of the failure behind the verdict, if any.
    result_type: Option<&'static str>,
    /// Why, when no policy applies.
    reason: Option<String>,
    /// DANE first: `dane`, `not-dane`, or `failed: <reason>`.
    dane: String,
    /// What `mailsec daemon` answers Postfix (default zone).
    reply: String,
}

#[derive(Serialize)]
struct RecordView {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct FetchView {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct PolicyView {
    id: String,
    mode: &'static str,
    max_age: u32,
    mx: Vec<String>,
    fetched_at: u64,
    expires_at: u64,
    body: String,
}

pub(crate) fn run(
    args: StsFetchArgs,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let domain = crate::cmd::domain_arg(&args.domain)?;
    net::runtime()?.block_on(async {
        let dns = net::resolver(net_args).await?;
        let fetch = net::fetch_config(net_args)?;
        let store = crate::cmd::daemon::open_store(&args.cache, std::path::Path::new(".")).await?;
        let resolver = PolicyResolver::over_network(
            dns.clone(),
            fetch,
            store.entries(),
            ResolverConfig::default(),
            Arc::new(NoObserver),
        );
        let (gate, (outcome, trace)) = tokio::join!(
            mailsec_daemon::dane::gate(&dns, &domain),
            resolver.lookup_traced(&domain)
        );
        let record = trace.discovery.as_ref().map(|d| match d {
            Discovery::Record(id) => RecordView {
                status: "found",
                id: Some(id.to_string()),
                reason: None,
            },
            Discovery::NoRecord => RecordView {
                status: "none",
                id: None,
                reason: None,
            },
            Discovery::Invalid(r) => RecordView {
                status: "invalid",
                id: None,
                reason: Some(r.clone()),
            },
            Discovery::Failed(r) => RecordView {
                status: "failed",
                id: None,
                reason: Some(r.clone()),
            },
        });
        let fetch = trace.fetched.as_ref().map(|f| match f {
            Ok(()) => FetchView {
                status: "ok",
                result_type: None,
                reason: None,
            },
            Err(e) => FetchView {
                status: "failed",
                result_type: Some(e.result_type.as_str()),
                reason: Some(e.reason.clone()),
            },
        });
        let (policy, verdict, reason) = match &outcome {
            Outcome::Policy { policy, .. } => (
                Some(PolicyView {
                    id: policy.id().to_owned(),
                    mode: policy.mode().as_str(),
                    max_age: policy.max_age().seconds(),
                    mx: policy.mx().map(str::to_owned).collect(),
                    fetched_at: policy.fetched_at,
                    expires_at: policy.expires_at(),
                    body: policy.body().to_owned(),
                }),
                policy.mode().as_str(),
                None,
            ),
            Outcome::NoPolicy { reason, .. } => (None, "no-policy", Some(reason.clone())),
            Outcome::Temp { reason } => (None, "temp", Some(reason.clone())),
        };
        let report = Report {
            domain: domain.to_string(),
            record,
            fetch,
            policy,
            rule: outcome.rule().as_str(),
            verdict,
            result_type: outcome.result_type().map(|t| t.as_str()),
            reason,
            dane: match &gate {
                DaneGate::Dane => "dane".to_owned(),
                DaneGate::NotDane => "not-dane".to_owned(),
                DaneGate::Failed(r) | DaneGate::MxFailed(r) => format!("failed: {r}"),
            },
            reply: reply(&domain, &gate, &outcome, ReplyOptions::default()).to_string(),
        };
        let exit = match (&outcome, report.record.as_ref().map(|r| r.status)) {
            (Outcome::Temp { .. }, _) => Exit::Error,
            (
                Outcome::NoPolicy {
                    failure: Some(_), ..
                },
                _,
            )
            | (_, Some("invalid")) => Exit::Findings,
            _ => Exit::Ok,
        };
        if args.json {
            output::json(out, &report)?;
        } else {
            text(out, &report)?;
        }
        Ok(exit)
    })
}

fn text(out: &mut dyn Write, r: &Report) -> anyhow::Result<()> {
    let d = &r.domain;
    match &r.record {
        None => writeln!(
            out,
            "{d}: _mta-sts record: not looked up (answered from the cache)"
        )?,
        Some(rec) => match rec.status {
            "found" => writeln!(
                out,
                "{d}: _mta-sts record: id={}",
                rec.id.as_deref().unwrap_or("")
            )?,
            "none" => writeln!(out, "{d}: _mta-sts record: none")?,
            status => writeln!(
                out,
                "{d}: _mta-sts record: {status}: {}",
                rec.reason.as_deref().unwrap_or("")
            )?,
        },
    }
    if let Some(f) = &r.fetch {
        match f.status {
            "ok" => writeln!(
                out,
                "{d}: policy fetched from {}",
                mailsec_core::mta_sts::policy_url(&HostName::parse(d)?)
            )?,
            _ => writeln!(
                out,
                "{d}: fetch failed [{}]: {}",
                f.result_type.unwrap_or(""),
                f.reason.as_deref().unwrap_or("")
            )?,
        }
    }
    if let Some(p) = &r.policy {
        writeln!(
            out,
            "{d}: policy id={}: mode {}, max_age {}, mx {}",
            p.id,
            p.mode,
            output::duration(p.max_age),
            p.mx.join(", ")
        )?;
    }
    let why = match (&r.reason, r.result_type) {
        (Some(reason), Some(t)) => format!(" ({reason}) [{t}]"),
        (Some(reason), None) => format!(" ({reason})"),
        (None, Some(t)) => format!(" [{t}]"),
        (None, None) => String::new(),
    };
    writeln!(out, "{d}: verdict: {} by rule {}{why}", r.verdict, r.rule)?;
    writeln!(out, "{d}: DANE first: {}", r.dane)?;
    writeln!(out, "{d}: mailsec daemon answers: {}", r.reply)?;
    Ok(())
}
