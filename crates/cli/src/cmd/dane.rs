//! `mailsec dane check`: what a conformant DANE sender does with mail to a domain (or a host).

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use mailsec_check::dane::{DaneContext, DaneReport, HostReport, Target, check};
use mailsec_core::HostName;
use mailsec_core::dane::{AddressVerdict, DaneOutcome, HostPolicy, Outcome, TlsaState, Verdict};
use mailsec_core::diag::quote;
use mailsec_probe::{ProbeConfig, Starttls};

use crate::cli::{DaneCheckArgs, DaneCommand, NetArgs};
use crate::cmd::net;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(
    cmd: DaneCommand,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match cmd {
        DaneCommand::Check(args) => check_command(args, net_args, out),
    }
}

fn host_name(s: &str) -> anyhow::Result<HostName> {
    HostName::parse(s).with_context(|| format!("{} is not a host name", quote(s)))
}

fn check_command(
    args: DaneCheckArgs,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let targets: Vec<Target> = match &args.host {
        Some(h) => vec![Target::Host {
            host: host_name(h)?,
            port: args.port,
            starttls: args
                .starttls
                .unwrap_or_else(|| Starttls::for_port(args.port)),
        }],
        None => args
            .domains
            .iter()
            .map(|d| host_name(d).map(Target::Domain))
            .collect::<anyhow::Result<_>>()?,
    };
    net::runtime()?.block_on(async {
        let mut probe = ProbeConfig::new();
        probe.ports = net_args.lab_ports.unwrap_or_default();
        let step = Duration::from_secs(args.timeout.max(1));
        probe.step_timeout = step;
        probe.connect_timeout = step.min(probe.connect_timeout);
        probe.deadline = step.saturating_mul(4);
        let ctx = DaneContext {
            resolver: net::resolver(net_args).await?,
            probe,
            now: None,
            pkix_roots: net::fetch_config(net_args)?.roots,
        };
        // Results come back in the order given, whatever order they finish in.
        let reports: Vec<DaneReport> = futures_util::stream::iter(targets.iter())
            .map(|t| check(&ctx, t))
            .buffered(args.concurrency as usize)
            .collect()
            .await;
        let defer = reports.iter().any(|r| r.verdict.outcome == Outcome::Defer);
        if args.json {
            output::json(out, &reports)?;
        } else {
            for r in &reports {
                print(out, r)?;
            }
        }
        Ok(Exit::from_errors(defer))
    })
}

/// `deliver (dane)`, `defer (tlsa-invalid)`.
pub(crate) fn verdict_words(v: &Verdict) -> String {
    match v.outcome {
        Outcome::Deliver => format!("deliver ({})", v.mechanism.map_or("?", mechanism_word)),
        Outcome::Defer => format!("defer ({})", v.reason.unwrap_or("no usable MX host")),
    }
}

fn mechanism_word(m: mailsec_core::dane::Mechanism) -> &'static str {
    use mailsec_core::dane::Mechanism;
    match m {
        Mechanism::Dane => "dane",
        Mechanism::MtaSts => "mta-sts",
        Mechanism::Tls => "tls, unauthenticated",
        Mechanism::Opportunistic => "opportunistic",
    }
}

fn policy_words(p: &HostPolicy) -> String {
    match p {
        HostPolicy::Dane { tlsa } => format!("DANE required ({} TLSA records)", tlsa.len()),
        HostPolicy::MandatoryTls => "TLS required, no usable TLSA record".to_owned(),
        HostPolicy::Opportunistic => "no DANE".to_owned(),
        HostPolicy::Unusable { reason } => format!("unusable ({reason})"),
    }
}

fn print(out: &mut dyn Write, r: &DaneReport) -> std::io::Result<()> {
    writeln!(out, "== {}: {}", r.target, verdict_words(&r.verdict))?;
    match &r.mx_error {
        Some(e) => writeln!(out, "   MX        {e}")?,
        None => writeln!(out, "   MX RRset  {}", serde_words(&r.mx))?,
    }
    for h in &r.hosts {
        print_host(out, h)?;
    }
    Ok(())
}

fn serde_words(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn print_host(out: &mut dyn Write, h: &HostReport) -> std::io::Result<()> {
    writeln!(
        out,
        "   {:<3} {}  (addresses {}) -> {}",
        h.preference,
        h.host,
        serde_words(&h.addresses),
        policy_words(&h.policy)
    )?;
    write!(out, "       TLSA  {}: {}", h.tlsa_name, h.tlsa_lookup)?;
    match &h.tlsa {
        TlsaState::Records(rs) => {
            writeln!(out)?;
            for t in rs {
                writeln!(out, "             {t}")?;
            }
        }
        _ => writeln!(out)?,
    }
    if h.results.is_empty() {
        writeln!(out, "       no address to connect to")?;
    }
    for a in &h.results {
        writeln!(out, "       {}", address_line(a))?;
    }
    for d in &h.findings {
        writeln!(out, "       {:<7} [{}] {}", d.severity, d.check, d.message)?;
    }
    Ok(())
}

/// One address: what TLS was negotiated (or why not), which record matched, and the verdict.
pub(crate) fn address_line(a: &mailsec_check::dane::AddressReport) -> String {
    let p = &a.probe;
    let tls = p.tls.as_ref().map_or_else(
        || match &p.error {
            Some(e) => e.to_string(),
            None => "no TLS".to_owned(),
        },
        |t| format!("{} {}", t.version, t.cipher_suite),
    );
    let what = match &a.dane {
        Some(DaneOutcome::Authenticated(m)) => {
            format!("; `{}` matched at depth {}", abbreviate(&m.record), m.depth)
        }
        Some(DaneOutcome::Failed(f)) => format!("; {f}"),
        Some(DaneOutcome::NoUsableRecords) | None => String::new(),
    };
    let verdict = match &a.verdict {
        AddressVerdict::Deliver { mechanism } => {
            format!("deliver ({})", mechanism_word(*mechanism))
        }
        AddressVerdict::Refuse { reason } => format!("refuse ({reason})"),
        AddressVerdict::Unreachable => "unreachable".to_owned(),
    };
    format!("{}  {tls}{what} -> {verdict}", p.dialled())
}

/// `3 1 1 0123456789ab...89abcdef`: records are long.
pub(crate) fn abbreviate(record: &str) -> String {
    match record.rsplit_once(' ') {
        Some((head, data)) if data.len() > 24 => {
            format!("{head} {}...{}", &data[..12], &data[data.len() - 8..])
        }
        _ => record.to_owned(),
    }
}
