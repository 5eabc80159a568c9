//! Command-line definitions: one place for every flag, its help, the man page and completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// MTA-STS, TLS-RPT and DANE for SMTP: lint, generate, check.
///
/// Exit status: 0 when everything checked is valid, 1 when a finding has error severity,
/// 2 on a usage or runtime error.
#[derive(Debug, Parser)]
#[command(
    name = "mailsec",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) net: NetArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where DNS and HTTPS go. Each option also reads an environment variable, which `mailsec lab`
/// prints, so that one `export` points every command at a lab.
#[derive(Debug, Args)]
pub(crate) struct NetArgs {
    /// DNS server to query, IP or IP:PORT (default: the system resolver). mailsec validates
    /// DNSSEC itself.
    #[arg(
        long,
        global = true,
        env = "MAILSEC_RESOLVER",
        value_name = "IP[:PORT]"
    )]
    pub(crate) resolver: Option<String>,
    /// DNSSEC trust anchor: a file of root DNSKEY or DS lines (default: the IANA root anchor).
    #[arg(long, global = true, env = "MAILSEC_TRUST_ANCHOR", value_name = "FILE")]
    pub(crate) trust_anchor: Option<PathBuf>,
    /// CA certificates (PEM) to trust for HTTPS instead of the built-in Mozilla roots.
    #[arg(long, global = true, env = "MAILSEC_CA_FILE", value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// FOR LABS AND TESTING ONLY: connect to these ports instead of 25 (SMTP) and 443 (HTTPS).
    #[arg(
        long,
        global = true,
        env = "MAILSEC_LAB_PORTS",
        value_name = "25=PORT,443=PORT"
    )]
    pub(crate) lab_ports: Option<mailsec_core::ports::PortMap>,
    /// Seconds allowed for a whole DNS lookup: the answer, the DS and DNSKEY records that
    /// validate it, and every retry.
    #[arg(long, global = true, default_value_t = 5, value_name = "SECONDS")]
    pub(crate) dns_timeout: u64,
    /// Seconds allowed for a whole policy fetch (RFC 8461 §3.3 suggests up to 60).
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    pub(crate) fetch_timeout: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// MTA-STS (RFC 8461): lint policies and records.
    #[command(subcommand)]
    Sts(StsCommand),
    /// TLS reporting (RFC 8460): check records.
    #[command(subcommand)]
    Tlsrpt(TlsrptCommand),
    /// DANE TLSA records (RFC 6698, RFC 7672): generate and explain.
    #[command(subcommand)]
    Tlsa(TlsaCommand),
    /// Check domains: MX, DNSSEC, MTA-STS, TLS-RPT and TLSA as senders will see them.
    Check(CheckArgs),
    /// DNS with DNSSEC validation.
    #[command(subcommand)]
    Dns(DnsCommand),
    /// Run the lab (signed DNS, policy hosts, SMTP servers on loopback) in the foreground.
    Lab(LabArgs),
    /// Start the lab in process and check a few of its domains.
    ///
    /// Exit status: 0 when the demo ran, although it reports errors: the misconfigured domains
    /// are broken on purpose, and showing their findings is what the demo is for. 2 when the lab
    /// cannot start or a check cannot run. (`mailsec check` on the same domains exits 1.)
    Demo(DemoArgs),
    /// List the check catalogue, or explain one check.
    Checks(ChecksArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (or write one page per command into a directory).
    Man {
        /// Write mailsec.1 and a page per subcommand here instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StsCommand {
    /// Lint a policy body: every finding with its line.
    ///
    /// Reads the body as served at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`.
    Lint(StsLintArgs),
    /// Parse and explain _mta-sts TXT records (several: the RFC 8461 §3.1 selection rule).
    Record(RecordArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StsLintArgs {
    /// The policy file, or - for standard input.
    #[arg(value_name = "FILE|-")]
    pub(crate) file: PathBuf,
    /// An MX host of the domain: check that a pattern covers it (repeatable).
    #[arg(long = "mx", value_name = "HOST")]
    pub(crate) mx: Vec<String>,
    /// The policy domain: flags wildcard patterns that cover the whole domain.
    #[arg(long, value_name = "DOMAIN")]
    pub(crate) domain: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// The TXT record text (its strings concatenated); give each record of the name.
    #[arg(value_name = "TXT", required = true)]
    pub(crate) records: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TlsrptCommand {
    /// Parse and explain a _smtp._tls TXT record.
    Record(RecordArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TlsaCommand {
    /// Generate TLSA records from a certificate (chain) or a public key.
    Generate(TlsaGenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TlsaGenerateArgs {
    /// The certificate: PEM (a chain, leaf first, is accepted) or DER.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "pubkey",
        conflicts_with = "pubkey"
    )]
    pub(crate) cert: Option<PathBuf>,
    /// A bare public key (PEM PUBLIC KEY or DER SubjectPublicKeyInfo); selector 1 only.
    #[arg(long, value_name = "FILE")]
    pub(crate) pubkey: Option<PathBuf>,
    /// Certificate usage: 2 DANE-TA, 3 DANE-EE (0 and 1 are ignored by SMTP clients).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub(crate) usage: u8,
    /// Selector: 0 whole certificate, 1 public key (SPKI).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(crate) selector: u8,
    /// Matching type: 0 full data, 1 SHA2-256, 2 SHA2-512.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(crate) matching: u8,
    /// The TLSA base domain, normally the MX host name (default: the certificate's first DNS
    /// name).
    #[arg(long, value_name = "HOST")]
    pub(crate) name: Option<String>,
    /// The port (1-65535).
    #[arg(
        long,
        default_value_t = 25,
        value_name = "PORT",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub(crate) port: u16,
    /// The transport protocol label.
    #[arg(long, default_value = "tcp", value_name = "PROTO")]
    pub(crate) proto: String,
    /// With a chain: also print the 2 1 1 record of the leaf's issuer (rollover-safe pairing).
    #[arg(long)]
    pub(crate) with_issuer: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The domains.
    #[arg(required = true, value_name = "DOMAIN")]
    pub(crate) domains: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DnsCommand {
    /// Look up NAME/TYPE, validate it, and show the chain of trust (like delv).
    ///
    /// Exit status: 0 for a validated answer or denial (secure or insecure), 1 for bogus or
    /// indeterminate, 2 when the lookup failed (SERVFAIL, timeout, network).
    Query(DnsQueryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DnsQueryArgs {
    /// The name.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The record type (A, AAAA, MX, TXT, TLSA, DNSKEY, DS, ...).
    #[arg(default_value = "A", value_name = "TYPE")]
    pub(crate) rtype: String,
    /// Do not walk the chain of trust.
    #[arg(long)]
    pub(crate) no_chain: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LabArgs {
    /// Print the scenario table and exit.
    #[arg(long)]
    pub(crate) list: bool,
    /// With --list: print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write the lab's zones (unsigned), PKI and MX list into DIR for other servers (Knot,
    /// Postfix: see scripts/lab-real), then exit.
    #[arg(long, value_name = "DIR", conflicts_with = "list")]
    pub(crate) export: Option<PathBuf>,
    /// Write the trust anchor and CA files here (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// DNS port on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub(crate) dns_port: u16,
    /// Also serve N generated domains, d1.scale.test to dN.scale.test (at most 65024).
    ///
    /// Each is a signed zone with one MX host on its own 127.2.x.y address: TLSA 3 1 1 and
    /// 2 1 1, an enforce MTA-STS policy, a TLS-RPT record. Every 10th domain's TLSA matches
    /// nothing, every 25th MX offers no STARTTLS. --list and --export include them. Every MX
    /// host has its own listener: N above about 700 needs a higher open-files limit
    /// (`ulimit -n`) than the usual 1024.
    #[arg(long, default_value_t = 0, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=i64::from(mailsec_lab::scale::MAX_SCALE)))]
    pub(crate) scale: u32,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ChecksArgs {
    /// A check ID (e.g. P8) to explain; all checks when omitted.
    #[arg(value_name = "ID")]
    pub(crate) id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
