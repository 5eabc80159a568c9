//! `mailsec dns query`.

use std::io::Write;

use anyhow::bail;
use mailsec_core::diag::quote;
use mailsec_dns::{
    ChainBreak, ChainLink, DelegationProof, LookupError, RecordType, Response, Security,
};
use serde::Serialize;

use crate::cli::{DnsCommand, DnsQueryArgs, NetArgs};
use crate::cmd::net;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(
    cmd: DnsCommand,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match cmd {
        DnsCommand::Query(args) => net::runtime()?.block_on(query(args, net_args, out)),
    }
}

#[derive(Serialize)]
struct QueryReport<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    rtype: String,
    server: &'a str,
    /// NOERROR, NXDOMAIN, NODATA, or the failure (bogus, servfail, timeout, ...).
    status: String,
    /// secure, insecure, bogus, indeterminate.
    security: Option<Security>,
    records: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// For a bogus answer: where the chain of trust breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    broken: Option<ChainBreak>,
    /// From the zone that signed the answer (for a bogus answer: the deepest zone that
    /// validated) up to the trust anchor.
    chain: Vec<ChainLink>,
}

async fn query(
    args: DnsQueryArgs,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let Ok(rtype) = args.rtype.to_ascii_uppercase().parse::<RecordType>() else {
        bail!(
            "unknown record type {} (A, AAAA, MX, TXT, TLSA, DNSKEY, DS, ...)",
            quote(&args.rtype)
        );
    };
    let resolver = net::resolver(net_args).await?;
    let result = resolver.lookup(&args.name, rtype).await;
    // Not a DNS name: nothing was sent anywhere, so no upstream to name.
    if let Err(LookupError::BadName(_)) = &result {
        bail!("invalid DNS name {}", quote(&args.name));
    }
    let (status, security, records, error, signer) = match &result {
        Ok(r) => (
            r.status().to_owned(),
            Some(r.security()),
            r.records().iter().map(ToString::to_string).collect(),
            None,
            r.signer().map(str::to_owned),
        ),
        Err(e) => (
            e.label().to_owned(),
            matches!(e, LookupError::Bogus).then_some(Security::Bogus),
            Vec::new(),
            Some(e.to_string()),
            None,
        ),
    };
    let broken = match &result {
        Err(LookupError::Bogus) => Some(resolver.find_break(&args.name, rtype).await),
        _ => None,
    };
    let chain = if args.no_chain {
        Vec::new()
    } else if let Some(b) = &broken {
        match &b.last_secure_zone {
            Some(zone) => resolver.chain_of_trust(zone).await,
            None => Vec::new(),
        }
    } else if result.is_err() {
        Vec::new()
    } else {
        let zone = match signer {
            Some(z) => z,
            None => resolver
                .enclosing_zone(&args.name)
                .await
                .unwrap_or_else(|_| ".".to_owned()),
        };
        resolver.chain_of_trust(&zone).await
    };
    let exit = match (&result, security) {
        (Ok(_), Some(Security::Secure | Security::Insecure)) => Exit::Ok,
        (Ok(_), _) | (Err(LookupError::Bogus), _) => Exit::Findings,
        (Err(_), _) => Exit::Error,
    };
    let report = QueryReport {
        name: &args.name,
        rtype: rtype.to_string(),
        server: resolver.upstream(),
        status,
        security,
        records,
        error,
        broken,
        chain,
    };
    // A failed lookup (SERVFAIL, timeout, network) is an error: one line on stderr. With --json
    // the report still goes to stdout for scripts.
    let failure = match &result {
        Err(e) if exit == Exit::Error => Some(format!(
            "{} {}: {e} (upstream {})",
            args.name, report.rtype, report.server
        )),
        _ => None,
    };
    if args.json {
        output::json(out, &report)?;
    }
    if let Some(failure) = failure {
        bail!(failure);
    }
    if args.json {
        return Ok(exit);
    }
    match &result {
        Ok(Response::Records(a)) => {
            writeln!(
                out,
                ";; {} {}: NOERROR, {} (validated by mailsec; upstream {})",
                args.name, report.rtype, a.security, report.server
            )?;
            for (from, to) in &a.cnames {
                writeln!(out, ";; CNAME {from} -> {to}")?;
            }
            for r in &report.records {
                writeln!(out, "{r}")?;
            }
        }
        Ok(denial) => writeln!(
            out,
            ";; {} {}: {}, {} denial (upstream {})",
            args.name,
            report.rtype,
            denial.status(),
            denial.security(),
            report.server
        )?,
        // Only bogus gets here: the other failures ended above.
        Err(e) => writeln!(
            out,
            ";; {} {}: {e} (upstream {})",
            args.name, report.rtype, report.server
        )?,
    }
    if let Some(b) = &report.broken {
        writeln!(out, "; chain broken at {}: {}", b.at, b.reason)?;
        match &b.last_secure_zone {
            Some(zone) => writeln!(out, ";; the chain of trust holds down to {zone}")?,
            None => writeln!(
                out,
                ";; not even the root validates against the trust anchor"
            )?,
        }
    }
    if !report.chain.is_empty() {
        writeln!(out, ";; chain of trust:")?;
        for link in &report.chain {
            let via = match &link.delegation {
                DelegationProof::TrustAnchor { anchor_tags } => {
                    format!("trust anchor (key tags {anchor_tags:?})")
                }
                DelegationProof::Ds {
                    records,
                    security,
                    parent,
                } => {
                    format!(
                        "DS {} in {} ({security})",
                        records.join(" "),
                        parent.as_deref().unwrap_or("parent")
                    )
                }
                DelegationProof::NoDs { security } => {
                    format!("no DS in the parent ({security} denial): insecure delegation")
                }
                DelegationProof::Failed { error } => format!("DS lookup failed: {error}"),
            };
            writeln!(
                out,
                ";;   {:<28} DNSKEY {} ({}) <- {via}",
                link.zone,
                if link.dnskeys.is_empty() {
                    "-".to_owned()
                } else {
                    link.dnskeys.join(" ")
                },
                link.dnskey_security
            )?;
        }
    }
    Ok(exit)
}
