//! `mailsec tlsa generate` and `mailsec tlsa rollover`.

mod connect;
mod rollover;
mod state;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use mailsec_core::HostName;
use mailsec_core::dane::{
    self, CertError, CertUsage, Certificate, Matching, Selector, Tlsa, TlsaRecord,
};
use mailsec_core::diag::{Diagnostic, quote};
use serde::Serialize;

use crate::cli::{NetArgs, TlsaCommand, TlsaGenerateArgs};
use crate::cmd::{read_input, source_name};
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(cmd: TlsaCommand, net: &NetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match cmd {
        TlsaCommand::Generate(args) => generate(args, net, out),
        TlsaCommand::Rollover(args) => rollover::run(args, net, out),
    }
}

/// Why `path` gives no `what` (certificate, public key), in words: the parser's own text
/// (`Der(UnexpectedTag { .. })`, `Parsing requires 1 bytes/chars`) tells a user nothing.
fn input_error(err: &CertError, what: &str, path: &Path, empty: bool) -> anyhow::Error {
    let file = source_name(path);
    match err {
        CertError::InChain { index, source } => match source.as_ref() {
            CertError::TrailingData(n) => anyhow!(
                "{file}: certificate {index} of the PEM chain has {n} bytes after its DER structure"
            ),
            _ => {
                anyhow!("{file}: certificate {index} of the PEM chain is not an X.509 certificate")
            }
        },
        CertError::TrailingData(n) => {
            anyhow!("not a PEM or DER {what}: {file} ({n} bytes follow the DER structure)")
        }
        CertError::NoCertificate => anyhow!("no CERTIFICATE block in the PEM file {file}"),
        CertError::NoPublicKey => anyhow!("no PUBLIC KEY block in the PEM file {file}"),
        // Empty, garbage, malformed PEM armour, DER that is not the structure asked for.
        _ if empty => anyhow!("not a PEM or DER {what}: {file} (empty input)"),
        _ => anyhow!("not a PEM or DER {what}: {file}"),
    }
}

#[derive(Serialize)]
struct Generated {
    owner: String,
    usage: u8,
    selector: u8,
    matching: u8,
    data: String,
    record: String,
    /// Subject of the certificate the data was computed from (absent for a bare key).
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
}

fn generate(args: TlsaGenerateArgs, net: &NetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let usage = CertUsage::from(args.usage);
    let selector = Selector::from(args.selector);
    let matching = Matching::from(args.matching);
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let mut records: Vec<(Tlsa, Option<&Certificate>)> = Vec::new();
    // The chains the records are made from: one from --cert, one per distinct chain the
    // server's addresses present with --connect, none for --pubkey.
    let chains: Vec<Vec<Certificate>>;
    let mut port = args.port;
    let mut served = None;
    let owner_host = match (&args.cert, &args.pubkey, &args.connect) {
        (_, Some(path), _) => {
            chains = Vec::new();
            if selector != Selector::Spki {
                bail!(
                    "a bare public key gives selector 1 (SPKI) records only; drop --selector or use --cert"
                );
            }
            let input = read_input(path)?;
            let spki = dane::parse_public_key(&input)
                .map_err(|e| input_error(&e, "public key", path, input.is_empty()))?;
            let data = dane::associate(&spki, matching)?;
            records.push((Tlsa::new(usage, selector, matching, data), None));
            args.name
                .clone()
                .context("--name HOST is required with --pubkey")?
        }
        (Some(path), None, _) => {
            let input = read_input(path)?;
            chains = vec![
                dane::parse_certificates(&input)
                    .map_err(|e| input_error(&e, "certificate", path, input.is_empty()))?,
            ];
            owner_host(args.name.as_deref(), &chains[0][0], &mut notes)?
        }
        (None, None, Some(target)) => {
            let (host, p) = connect::split_host_port(target)?;
            port = p;
            let owner = match (&args.name, host.parse::<std::net::IpAddr>()) {
                (Some(n), _) => n.clone(),
                (None, Ok(_)) => {
                    bail!("--name HOST is required when --connect gives an address")
                }
                (None, Err(_)) => host.clone(),
            };
            let owner_name = HostName::parse(&owner)
                .with_context(|| format!("{} is not a host name", quote(&owner)))?;
            let got = connect::chains(&args, net, &host, port, owner_name.as_str())?;
            notes.extend(got.notes);
            chains = got.chains;
            served = Some(got.published);
            owner
        }
        (None, None, None) => bail!("give --cert FILE, --pubkey FILE or --connect HOST"),
    };
    let what = match &args.cert {
        Some(path) => source_name(path),
        None => "the presented chain".to_owned(),
    };
    for chain in &chains {
        for r in chain_records(chain, &args, &what)? {
            if !records.iter().any(|(t, _)| *t == r.0) {
                records.push(r);
            }
        }
    }
    let host = HostName::parse(&owner_host)
        .with_context(|| format!("{} is not a host name", quote(&owner_host)))?;
    if matches!(usage, CertUsage::PkixTa | CertUsage::PkixEe) {
        notes.push(
            "SMTP clients ignore PKIX-TA(0) and PKIX-EE(1) records (RFC 7672 §3.1.3); use 3 or 2"
                .into(),
        );
    }
    if matches!(usage, CertUsage::Unassigned(_) | CertUsage::Private) {
        notes.push(format!(
            "usage {} is not assigned for DANE: clients will treat the record as unusable",
            args.usage
        ));
    }
    let owner = TlsaRecord::owner_name(port, &args.proto, host.as_str());
    let set: Vec<Tlsa> = records.iter().map(|(t, _)| t.clone()).collect();
    warnings.extend(dane::lint::lint_rrset(&set));
    let usable = set
        .iter()
        .filter(|t| t.usability() == dane::Usability::Usable)
        .count();
    if usable == 1
        && usage == CertUsage::DaneEe
        && !args.with_issuer
        && chains.iter().any(|c| c.len() > 1)
    {
        notes.push("this chain holds the issuer: --with-issuer adds its `2 1 1`".into());
    }
    // With --connect: the records published now, against what the server presents.
    if let Some(published) = served {
        connect::compare(&published, &chains, &set, &owner, &mut notes, &mut warnings);
    }
    let generated: Vec<Generated> = records
        .into_iter()
        .map(|(tlsa, cert)| Generated::new(&owner, tlsa, cert))
        .collect();
    print_notes(&notes, &warnings);
    if args.json {
        output::json(out, &generated)?;
    } else {
        for g in &generated {
            writeln!(out, "{}", g.record)?;
        }
    }
    Ok(Exit::Ok)
}

/// The records `args` asks for from one chain (leaf first), with the certificate each names.
fn chain_records<'c>(
    chain: &'c [Certificate],
    args: &TlsaGenerateArgs,
    what: &str,
) -> anyhow::Result<Vec<(Tlsa, Option<&'c Certificate>)>> {
    let usage = CertUsage::from(args.usage);
    let selector = Selector::from(args.selector);
    let matching = Matching::from(args.matching);
    let leaf = chain.first().context("no certificate")?;
    let target = match usage {
        // A trust-anchor usage names a CA: the leaf's issuer when the chain has one.
        CertUsage::DaneTa | CertUsage::PkixTa => match chain.get(1) {
            Some(issuer) => issuer,
            None if leaf.is_ca => leaf,
            None => bail!(
                "usage {} names a CA certificate, but {what} holds only a leaf: give the chain (leaf, then issuer) or the CA certificate",
                args.usage,
            ),
        },
        _ => leaf,
    };
    let data = dane::associate(target.selected(selector)?, matching)?;
    let mut out = vec![(Tlsa::new(usage, selector, matching, data), Some(target))];
    if args.with_issuer {
        let Some(issuer) = chain.get(1) else {
            bail!("--with-issuer needs a chain (leaf, then issuer) in {what}");
        };
        let ta = Tlsa::new(
            CertUsage::DaneTa,
            Selector::Spki,
            Matching::Sha256,
            dane::associate(&issuer.spki, Matching::Sha256)?,
        );
        if !out.iter().any(|(t, _)| *t == ta) {
            out.push((ta, Some(issuer)));
        }
    }
    Ok(out)
}

impl Generated {
    fn new(owner: &str, tlsa: Tlsa, cert: Option<&Certificate>) -> Self {
        let record = TlsaRecord {
            owner: Some(owner.to_owned()),
            ttl: None,
            tlsa,
        };
        Self {
            owner: owner.to_owned(),
            usage: u8::from(record.tlsa.usage),
            selector: u8::from(record.tlsa.selector),
            matching: u8::from(record.tlsa.matching),
            data: hex::encode(&record.tlsa.data),
            record: record.to_string(),
            subject: cert.map(|c| c.subject.clone()),
        }
    }
}

/// The TLSA base domain: `name` when given, else the leaf's first non-wildcard subjectAltName
/// DNS name (said in a note).
fn owner_host(
    name: Option<&str>,
    leaf: &Certificate,
    notes: &mut Vec<String>,
) -> anyhow::Result<String> {
    if let Some(n) = name {
        return Ok(n.to_owned());
    }
    let names = leaf
        .dns_names
        .as_ref()
        .map_err(|e| anyhow!("{e}: cannot take the owner name from it; give --name HOST"))?;
    let name = names
        .iter()
        .find(|n| !n.starts_with("*."))
        .context("the certificate names no host (no subjectAltName DNS name): give --name HOST")?;
    notes.push(format!(
        "owner name taken from the certificate's subjectAltName ({name}); set it with --name"
    ));
    Ok(name.clone())
}

/// `mailsec: note: ...` and `mailsec: warning: ... [ID]` lines on stderr. Best effort: a closed
/// stderr must not stop the records.
fn print_notes(notes: &[String], warnings: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for note in notes {
        let _ = writeln!(err, "mailsec: note: {note}");
    }
    for w in warnings {
        let _ = writeln!(err, "mailsec: {}: {} [{}]", w.severity, w.message, w.check);
    }
}
