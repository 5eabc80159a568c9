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
    #[command(subcommand)]
    pub(crate) command: Command,
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
    /// List the check catalogue, or explain one check.
    Checks(ChecksArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
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
    /// Reads the body as served at https://mta-sts.<domain>/.well-known/mta-sts.txt.
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
    #[arg(long, default_value_t = 3)]
    pub(crate) usage: u8,
    /// Selector: 0 whole certificate, 1 public key (SPKI).
    #[arg(long, default_value_t = 1)]
    pub(crate) selector: u8,
    /// Matching type: 0 full data, 1 SHA2-256, 2 SHA2-512.
    #[arg(long, default_value_t = 1)]
    pub(crate) matching: u8,
    /// The TLSA base domain, normally the MX host name (default: the certificate's first DNS
    /// name).
    #[arg(long, value_name = "HOST")]
    pub(crate) name: Option<String>,
    /// The port.
    #[arg(long, default_value_t = 25)]
    pub(crate) port: u16,
    /// The transport protocol label.
    #[arg(long, default_value = "tcp")]
    pub(crate) proto: String,
    /// With a chain: also print the 2 1 1 record of the leaf's issuer (rollover-safe pairing).
    #[arg(long)]
    pub(crate) with_issuer: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ChecksArgs {
    /// A check ID (e.g. P8) to explain; all checks when omitted.
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
