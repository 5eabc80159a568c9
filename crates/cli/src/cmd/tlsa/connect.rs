//! `tlsa generate --connect`: the chains a server presents (through mailsec-probe, every address
//! of the host), and what is published for it now.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use mailsec_core::dane::{Certificate, Tlsa, lint};
use mailsec_core::diag::{Diagnostic, quote};
use mailsec_dns::{LookupError, Response, Security};
use mailsec_probe::{AddrProbe, ProbeConfig, Starttls, probe_addr, probe_host_with_sni};

use crate::cli::{NetArgs, TlsaGenerateArgs};
use crate::cmd::net;

/// What a connection gave.
pub(super) struct Connected {
    /// Every distinct chain the addresses presented (after a completed handshake), leaf first.
    pub(super) chains: Vec<Vec<Certificate>>,
    /// What to tell the user: addresses that failed, chains that differ.
    pub(super) notes: Vec<String>,
    /// The TLSA RRset published at the owner name now.
    pub(super) published: Published,
}

/// The TLSA lookup at the owner name.
pub(super) enum Published {
    /// A secure RRset.
    Secure(Vec<Tlsa>),
    /// Records, or a denial, that DANE senders ignore or that show nothing published.
    Nothing(String),
    /// The lookup failed.
    Failed(LookupError),
}

/// `HOST`, `HOST:PORT`, `[IPv6]:PORT` or a bare IPv6 address; the port defaults to 25.
pub(super) fn split_host_port(s: &str) -> anyhow::Result<(String, u16)> {
    let bad = || format!("--connect {}: expected HOST[:PORT]", quote(s));
    let port = |p: &str| -> anyhow::Result<u16> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => bail!("{}: the port must be 1-65535", bad()),
            Ok(n) => Ok(n),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').with_context(bad)?;
        let p = match after {
            "" => 25,
            a => port(a.strip_prefix(':').with_context(bad)?)?,
        };
        return Ok((host.to_owned(), p));
    }
    if s.parse::<IpAddr>().is_ok() {
        return Ok((s.to_owned(), 25));
    }
    match s.split_once(':') {
        Some((host, p)) if !host.is_empty() => Ok((host.to_owned(), port(p)?)),
        Some(_) => bail!(bad()),
        None if s.is_empty() => bail!(bad()),
        None => Ok((s.to_owned(), 25)),
    }
}

/// Probes `host` (every address; an IP address alone) on the logical `port`, with `owner` as
/// SNI (the TLSA base domain, RFC 7672 §8.1), and looks up the TLSA RRset at the owner name.
pub(super) fn chains(
    args: &TlsaGenerateArgs,
    net_args: &NetArgs,
    host: &str,
    port: u16,
    owner: &str,
) -> anyhow::Result<Connected> {
    let starttls = args.starttls.unwrap_or_else(|| Starttls::for_port(port));
    let mut config = ProbeConfig::new();
    config.ports = net_args.lab_ports.unwrap_or_default();
    let step = Duration::from_secs(args.timeout.max(1));
    config.step_timeout = step;
    config.connect_timeout = step.min(config.connect_timeout);
    config.deadline = step.saturating_mul(4);
    let tlsa_name = format!("_{port}._{}.{owner}", args.proto);
    net::runtime()?.block_on(async {
        let resolver = net::resolver(net_args).await?;
        let probes: Vec<AddrProbe> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![probe_addr(SocketAddr::new(ip, port), owner, starttls, &config).await],
            Err(_) => {
                let hp = probe_host_with_sni(&resolver, host, owner, port, starttls, &config).await;
                if hp.addrs.is_empty() {
                    bail!(
                        "no address for {host} (A: {}; AAAA: {})",
                        lookup_words(&hp.a),
                        lookup_words(&hp.aaaa)
                    );
                }
                hp.addrs
            }
        };
        let published = match resolver.tlsa(&tlsa_name).await {
            Ok(Response::Records(a)) if a.security == Security::Secure => {
                Published::Secure(a.records)
            }
            Ok(Response::Records(a)) => Published::Nothing(format!(
                "its TLSA RRset is {}: DANE senders ignore it",
                a.security
            )),
            Ok(denial) => Published::Nothing(format!("{}, {}", denial.status(), denial.security())),
            Err(e) => Published::Failed(e),
        };
        let mut connected = collect(host, port, &probes)?;
        connected.published = published;
        Ok(connected)
    })
}

/// The distinct chains of the probes that completed a handshake; the others in notes.
fn collect(host: &str, port: u16, probes: &[AddrProbe]) -> anyhow::Result<Connected> {
    let mut chains: Vec<Vec<Certificate>> = Vec::new();
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    for p in probes {
        let addr = SocketAddr::new(p.addr, p.port);
        let Some(presented) = p.authenticated_chain().filter(|c| !c.is_empty()) else {
            let why = p.error.as_ref().map_or_else(
                || "no certificate presented".to_owned(),
                ToString::to_string,
            );
            failures.push(format!("{addr}: {why}"));
            continue;
        };
        let parsed: Result<Vec<Certificate>, _> = presented
            .iter()
            .map(|c| Certificate::from_der(&c.der))
            .collect();
        match parsed {
            Ok(chain) => {
                if !chains.contains(&chain) {
                    chains.push(chain);
                }
            }
            Err(e) => failures.push(format!(
                "{addr}: a presented certificate does not parse: {e}"
            )),
        }
    }
    if chains.is_empty() {
        bail!(
            "no certificate chain from {host} port {port}: {}",
            failures.join("; ")
        );
    }
    for f in failures {
        notes.push(format!("skipped {f}"));
    }
    if chains.len() > 1 {
        notes.push(format!(
            "the addresses of {host} present {} different chains: the records of each follow; every server behind the name must match a published record",
            chains.len()
        ));
    }
    Ok(Connected {
        chains,
        notes,
        published: Published::Nothing(String::new()),
    })
}

/// What is published at `owner` against what the server presents and what was generated:
/// records that match nothing presented (a retired key), trust anchors not served, matches set
/// aside by digest agility ([`lint::lint_against_chain`]), and generated records not published
/// yet.
pub(super) fn compare(
    published: &Published,
    chains: &[Vec<Certificate>],
    generated: &[Tlsa],
    owner: &str,
    notes: &mut Vec<String>,
    warnings: &mut Vec<Diagnostic>,
) {
    let rrset = match published {
        Published::Secure(rrset) => rrset,
        Published::Nothing(what) => {
            notes.push(format!(
                "nothing DANE senders use is published at {owner} ({what})"
            ));
            return;
        }
        Published::Failed(e) => {
            notes.push(format!(
                "the TLSA lookup at {owner} failed ({e}): cannot compare with what is published"
            ));
            return;
        }
    };
    for chain in chains {
        let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
        // Whether a CA is a public one needs a root store; the `2 0 x` pin warning (D16) is
        // `mailsec dane check`'s.
        for d in lint::lint_against_chain(rrset, &ders, chain, &|_| false) {
            if !warnings.iter().any(|w| w.message == d.message) {
                warnings.push(d);
            }
        }
    }
    let missing: Vec<String> = generated
        .iter()
        .filter(|t| !rrset.contains(t))
        .map(|t| format!("`{t}`"))
        .collect();
    if missing.is_empty() {
        notes.push(format!("{owner} already publishes these records"));
    } else {
        notes.push(format!(
            "not published at {owner} yet: {}",
            missing.join(", ")
        ));
    }
}

fn lookup_words<T>(r: &Result<Response<T>, LookupError>) -> String {
    match r {
        Ok(Response::Records(a)) => format!("{} records, {}", a.records.len(), a.security),
        Ok(other) => format!("{}, {}", other.status(), other.security()),
        Err(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        for (input, host, port) in [
            ("mx.example.com", "mx.example.com", 25),
            ("mx.example.com:587", "mx.example.com", 587),
            ("192.0.2.1:465", "192.0.2.1", 465),
            ("2001:db8::1", "2001:db8::1", 25),
            ("[2001:db8::1]:993", "2001:db8::1", 993),
            ("[2001:db8::1]", "2001:db8::1", 25),
        ] {
            assert_eq!(
                split_host_port(input).unwrap(),
                (host.to_owned(), port),
                "{input}"
            );
        }
        for bad in [
            "",
            ":25",
            "mx:0",
            "mx:x",
            "mx:99999",
            "[2001:db8::1",
            "[::1]x",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
    }
}
