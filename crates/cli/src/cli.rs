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
    /// FOR LABS AND TESTING ONLY: connect to these ports instead of the standard ones (25 SMTP,
    /// 443 HTTPS, 465, 587, 993, 995 ...); what is looked up (`_25._tcp`) never changes.
    #[arg(
        long,
        global = true,
        env = "MAILSEC_LAB_PORTS",
        value_name = "PORT=PORT,..."
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
    /// DANE for SMTP (RFC 7672): connect to every MX and say what a DANE sender does.
    #[command(subcommand)]
    Dane(DaneCommand),
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
    /// Serve the checker as a small web application: a form, the report page, the JSON.
    #[command(after_long_help = WEB_HELP)]
    Web(WebArgs),
    /// The Postfix policy daemon: MTA-STS for `smtp_tls_policy_maps = socketmap:…`, DANE first.
    ///
    /// Answers `OK secure match=… servername=hostname` for an enforce policy, `OK dane` (or
    /// `dane-only`) when the domain's MX hosts have secure TLSA records, `TEMP` when the DNS
    /// fails and nothing is cached, `NOTFOUND ` otherwise. With no configuration file it runs
    /// with the defaults (127.0.0.1:8461, SQLite cache in /var/lib/mailsec).
    #[command(after_long_help = DAEMON_HELP)]
    Daemon(DaemonArgs),
    /// The MTA-STS policy host: HTTPS for the `mta-sts.` hosts of many domains (RFC 8461 §3.3).
    ///
    /// Serves `DIR/<domain>.txt` at `https://mta-sts.<domain>/.well-known/mta-sts.txt` as
    /// `text/plain` with CRLF line endings, with the certificate of `CERT_DIR/mta-sts.<domain>/`
    /// (certbot's layout; `/etc/letsencrypt/live` as it is) or any certificate there that covers
    /// the name. Every other path or host answers 404, as does plain HTTP. Reloads on SIGHUP and
    /// when a file changes; a policy that fails lint or a certificate without its key is refused
    /// with one line and the domain's last good copy keeps being served.
    #[command(args_conflicts_with_subcommands = true)]
    Serve(ServeArgs),
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
    /// Fetch a domain's policy as a sending MTA does: the record, the policy, the cache rule
    /// that applied, the verdict and the Postfix reply (DANE first).
    ///
    /// Exit status: 0 when a policy applies or the domain has none; 1 when the domain publishes
    /// a record but no valid policy can be had (invalid record, failed fetch, invalid policy);
    /// 2 when the DNS fails.
    Fetch(StsFetchArgs),
    /// Write a domain's policy file and print the `_mta-sts` TXT record (a fresh id) and a
    /// suggested `_smtp._tls` record; `enforce` is refused while an MX host of the domain is not
    /// covered by the patterns (unless `--force`).
    ///
    /// Exit status: 0 written; 1 refused (an MX not covered, or the MX lookup failed); 2 bad
    /// arguments.
    Publish(StsPublishArgs),
    /// Say whether a policy change is safe: `--to enforce` checks the domain as a sender would
    /// with the policy in enforce mode (every MX covered, STARTTLS and a certificate valid for
    /// MTA-STS on every address, or DANE); `--to remove` prints the RFC 8461 §8.3 steps with
    /// their dates.
    ///
    /// Exit status: 0 safe (or the steps printed); 1 not safe; 2 the check could not run.
    Plan(StsPlanArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StsPublishArgs {
    /// The policy domain.
    #[arg(value_name = "DOMAIN")]
    pub(crate) domain: String,
    /// `enforce`, `testing` or `none`.
    #[arg(long, value_name = "MODE")]
    pub(crate) mode: String,
    /// An MX pattern: a host name, or `*.` and a domain (repeatable, at least one unless the
    /// mode is `none`).
    #[arg(long, value_name = "PATTERN")]
    pub(crate) mx: Vec<String>,
    /// Seconds senders may cache the policy (RFC 8461 §3.2: at most 31557600).
    #[arg(long, default_value_t = 604_800, value_name = "SECONDS")]
    pub(crate) max_age: u64,
    /// Where to write `<DOMAIN>.txt` (the directory `mailsec serve --policy-dir` reads).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub(crate) out_dir: PathBuf,
    /// Write even when an MX host is not covered or the MX lookup fails.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StsPlanArgs {
    /// The policy domain.
    #[arg(value_name = "DOMAIN")]
    pub(crate) domain: String,
    /// The change: `enforce` or `remove`.
    #[arg(long, value_name = "CHANGE", value_parser = ["enforce", "remove"])]
    pub(crate) to: String,
    /// TLS reports (RFC 8460) received for the domain: JSON or gzip files, or directories of
    /// them. With `--to enforce`, failures reported in the last `--days` days block the move.
    #[arg(long, value_name = "PATH")]
    pub(crate) reports: Vec<PathBuf>,
    /// How many days of reports count.
    #[arg(long, default_value_t = 14, value_name = "N")]
    pub(crate) days: u32,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StsFetchArgs {
    /// The policy domain.
    #[arg(value_name = "DOMAIN")]
    pub(crate) domain: String,
    /// A policy cache to read and update (`sqlite:PATH`, `redis://…`, `postgres://…`), to see
    /// which cache rule applies; by default nothing is cached and the policy is fetched.
    #[arg(long, default_value = "memory:", value_name = "URL")]
    pub(crate) cache: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
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
    /// Generate TLSA records from a certificate (chain), a public key, or the chain a server
    /// presents (--connect).
    Generate(TlsaGenerateArgs),
    /// Renew a certificate without breaking DANE: the records to publish before the new key goes
    /// live, or (--check) whether the published ones already cover it and for long enough.
    #[command(long_about = ROLLOVER_ABOUT, after_long_help = ROLLOVER_AFTER)]
    Rollover(TlsaRolloverArgs),
}

const ROLLOVER_ABOUT: &str = "\
Renew a certificate without breaking DANE: the records to publish before the new key goes live, \
or (--check) whether the published ones already cover it and for long enough.

A DANE sender accepts only a certificate that a TLSA record it has cached matches. A renewal \
that changes the key therefore goes in four steps (RFC 7671 §8.1):

  1. publish the next key's record beside the current one (`--current CERT --next CERT|KEY`
     prints the set: `3 1 1` of both keys; --with-issuer adds the issuer's `2 1 1`);
  2. wait until every sender's cache holds it: two TTLs of the TLSA RRset after it appears
     (`--check DOMAIN --next CERT|KEY` says when: exit 0 safe, 1 not yet, 2 error);
  3. install the new certificate;
  4. remove the old key's record.

--next takes the next certificate (PEM chain, leaf first, or DER), its public key (PEM PUBLIC \
KEY or DER SubjectPublicKeyInfo), or its private key (PEM or DER PKCS#8, PKCS#1 or SEC1; read \
only to derive the public key).

--check looks up the MX hosts of DOMAIN and, for each, the TLSA RRset at _25._tcp.HOST \
(DNSSEC-validated, with the global --resolver and --trust-anchor). A host is safe when its \
RRset is insecure or absent (DANE does not apply to it), holds no usable record, or holds a \
usable record that covers the next key (`3 1 x` of its key, or `2 1 x` of an issuer in the \
--next chain that the RFC 7672 verifier accepts: path, dates, and the leaf names the host) \
and that was first seen at least two TTLs ago. When each record was first seen is remembered \
in the state file. A failed, bogus or indeterminate lookup is not safe.";

const ROLLOVER_AFTER: &str = "\
Exit status with --check: 0 safe (every MX host that uses DANE covers the next key and has \
waited), 1 not yet (the reason per host), 2 error. Without --check: 0, or 2 on an error.

State file (--check): JSON, by default $XDG_STATE_HOME/mailsec/rollover.json or \
~/.local/state/mailsec/rollover.json; created on first use, replaced atomically, never \
overwritten when it cannot be read. MAILSEC_NOW=UNIX-SECONDS overrides the clock, for tests \
only.

Example: a certbot deploy hook that installs a renewed certificate only when DANE senders will \
accept it (Postfix reads a copy, so nothing goes live before the hook says so). Run the same \
script from a daily timer, with RENEWED_LINEAGE set, until it succeeds:

  #!/bin/sh
  # /etc/letsencrypt/renewal-hooks/deploy/postfix-dane
  new=\"$RENEWED_LINEAGE/fullchain.pem\"
  if mailsec tlsa rollover --check example.com --next \"$new\"; then
      install -m 644 \"$new\" /etc/postfix/tls/fullchain.pem
      install -m 600 \"$RENEWED_LINEAGE/privkey.pem\" /etc/postfix/tls/privkey.pem
      postfix reload
  else
      # Not yet: show what to publish; the old certificate stays in use.
      mailsec tlsa rollover --current /etc/postfix/tls/fullchain.pem --next \"$new\" >&2
      exit 1
  fi";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["current", "check"])))]
pub(crate) struct TlsaRolloverArgs {
    /// The certificate in use now: PEM (a chain, leaf first) or DER.
    #[arg(long, value_name = "CERT")]
    pub(crate) current: Option<PathBuf>,
    /// The next certificate (PEM chain or DER), or its public or private key.
    #[arg(long, value_name = "CERT|KEY")]
    pub(crate) next: PathBuf,
    /// Also publish the 2 1 1 of the issuer of each certificate (needs the chains).
    #[arg(long, conflicts_with = "check")]
    pub(crate) with_issuer: bool,
    /// The TLSA base domain, normally the MX host name (default: the current certificate's
    /// first DNS name).
    #[arg(long, value_name = "HOST", conflicts_with = "check")]
    pub(crate) name: Option<String>,
    /// The port (1-65535).
    #[arg(
        long,
        default_value_t = 25,
        value_name = "PORT",
        conflicts_with = "check",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub(crate) port: u16,
    /// Check the TLSA records published for every MX host of DOMAIN instead.
    #[arg(long, value_name = "DOMAIN")]
    pub(crate) check: Option<String>,
    /// With --check: where to remember when each record was first seen.
    #[arg(long, value_name = "FILE", conflicts_with = "current")]
    pub(crate) state: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TlsaGenerateArgs {
    /// The certificate: PEM (a chain, leaf first, is accepted) or DER.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present_any = ["pubkey", "connect"],
        conflicts_with_all = ["pubkey", "connect"]
    )]
    pub(crate) cert: Option<PathBuf>,
    /// A bare public key (PEM PUBLIC KEY or DER SubjectPublicKeyInfo); selector 1 only.
    #[arg(long, value_name = "FILE", conflicts_with = "connect")]
    pub(crate) pubkey: Option<PathBuf>,
    /// Connect to the server (every address of HOST) and use the chain it presents; PORT
    /// (default 25) is also the port of the owner name. The owner is HOST unless --name says
    /// otherwise.
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "port")]
    pub(crate) connect: Option<String>,
    /// With --connect: how TLS starts: smtp, imap, pop3, or none (implicit TLS); by default
    /// from the port (25 and 587 smtp, 143 imap, 110 pop3, others none).
    #[arg(long, value_name = "smtp|imap|pop3|none", conflicts_with_all = ["cert", "pubkey"])]
    pub(crate) starttls: Option<mailsec_probe::Starttls>,
    /// With --connect: seconds allowed for each step of the connection (connect, banner,
    /// EHLO, STARTTLS, handshake).
    #[arg(
        long,
        default_value_t = 15,
        value_name = "SECONDS",
        conflicts_with_all = ["cert", "pubkey"]
    )]
    pub(crate) timeout: u64,
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

#[derive(Debug, Subcommand)]
pub(crate) enum DaneCommand {
    /// Probe every address of every MX host, verify each presented chain against the TLSA
    /// records (RFC 7672 §3), and say what a conformant DANE sender does with mail to the
    /// domain.
    ///
    /// With --host, one host and port instead (SMTP rules on 25, 465 and 587; RFC 6698 with
    /// PKIX usages elsewhere).
    ///
    /// Exit status: 0 when every domain is deliverable, 1 when a DANE sender would defer mail to
    /// one, 2 on usage or runtime errors.
    Check(DaneCheckArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DaneCheckArgs {
    /// The mail domains.
    #[arg(
        value_name = "DOMAIN",
        required_unless_present = "host",
        conflicts_with = "host"
    )]
    pub(crate) domains: Vec<String>,
    /// Check this host instead of a domain's MX hosts.
    #[arg(long, value_name = "HOST")]
    pub(crate) host: Option<String>,
    /// The port of --host (the TLSA name is `_PORT._tcp.HOST`).
    #[arg(
        long,
        default_value_t = 25,
        value_name = "PORT",
        requires = "host",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub(crate) port: u16,
    /// How TLS starts on --host: smtp, imap, pop3, or none (implicit TLS); by default from
    /// the port (25 and 587 smtp, 143 imap, 110 pop3, others none).
    #[arg(long, value_name = "smtp|imap|pop3|none", requires = "host")]
    pub(crate) starttls: Option<mailsec_probe::Starttls>,
    /// Seconds allowed for each step of a connection (banner, EHLO, STARTTLS, handshake).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub(crate) timeout: u64,
    /// How many domains are checked at once.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) concurrency: u32,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    override_usage = "mailsec check [OPTIONS] <DOMAIN>...|--input <FILE|->, mailsec check summary <STORE>...",
    after_long_help = CHECK_HELP
)]
pub(crate) struct CheckArgs {
    #[command(subcommand)]
    pub(crate) command: Option<CheckCommand>,
    /// The domains (U-labels or A-labels).
    #[arg(
        value_name = "DOMAIN",
        required_unless_present = "input",
        conflicts_with = "input"
    )]
    pub(crate) domains: Vec<String>,
    /// Do not connect to the MX hosts: DNS and the policy fetch only.
    #[arg(long)]
    pub(crate) no_connect: bool,
    /// Also scan the TLS parameters of every MX address (checks T3-T11: weak suites, cipher
    /// order, DH and curve sizes, SHA-1 signatures, compression, renegotiation, 0-RTT, extended
    /// master secret). About ten more short handshakes per address, so off by default, also
    /// with --input.
    #[arg(long, conflicts_with = "no_connect")]
    pub(crate) tls_scan: bool,
    /// Print JSON; with --input, JSON Lines: one object per domain, as each finishes.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also write the reports as one self-contained HTML page to FILE (inline CSS, no script).
    #[arg(long, value_name = "FILE", conflicts_with = "input")]
    pub(crate) html: Option<PathBuf>,
    /// Check the domains listed in FILE (- for standard input): one per line; blank lines and
    /// lines starting with # are skipped, and a name that is not a domain gets an error record
    /// while the run goes on. Read as the run goes, so lists of any length fit in memory.
    #[arg(long, value_name = "FILE|-")]
    pub(crate) input: Option<PathBuf>,
    /// How many domains are checked at once.
    #[arg(
        long,
        default_value_t = 32,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=4096)
    )]
    pub(crate) concurrency: u32,
    /// Seconds allowed for each domain, all of its lookups, fetches and connections included;
    /// a domain past it gets an error record.
    #[arg(
        long,
        default_value_t = 120,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub(crate) deadline: u64,
    /// With --input: append the results to OUT (JSON Lines, whatever --json says) and skip the
    /// domains OUT already has; OUT is created when missing. Run the same command again after
    /// an interruption: a line cut short by a kill is dropped and its domain checked again.
    #[arg(long, value_name = "OUT")]
    pub(crate) resume: Option<PathBuf>,
    /// With --input: check only shard K of N (1 <= K <= N): the domains whose FNV-1a 64-bit hash
    /// of the A-label name, modulo N, is K-1. The same on every machine and every version, so N
    /// machines given 1/N .. N/N split one list exactly.
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<crate::cmd::check::Shard>,
    /// With --input: also keep the results in a database that many runs can share:
    /// `sqlite:PATH` or `postgres://[USER[:PASSWORD]@]HOST[:PORT]/DB`. Each domain is then also
    /// compared with its result from the last earlier run there: a policy changed under the
    /// same _mta-sts id (S11), or a new id for the same policy (X6).
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// With --input: write the closing summary as JSON to FILE (- for standard output, after
    /// the results). It is always printed as text on standard error.
    #[arg(long, value_name = "FILE|-")]
    pub(crate) summary_json: Option<PathBuf>,
}

const CHECK_HELP: &str = "\
Many domains: `mailsec check --input LIST --json > results.jsonl` checks a list of any length, \
--concurrency domains at a time, each within --deadline, and writes one line per domain as it \
finishes; a progress bar shows on standard error when it is a terminal, and a summary closes the \
run (shares with MTA-STS, enforce, TLS-RPT, DANE; findings by ID). `mailsec check summary STORE` \
prints the same summary from a store or a JSON Lines file.

Exit status: 0 every domain checked and valid; 1 at least one finding of error severity, or a \
domain that could not be checked (an invalid name, the deadline): each has its record and the run \
goes on; 2 the run itself failed (unreadable input, unwritable output, store unreachable).";

#[derive(Debug, Subcommand)]
pub(crate) enum CheckCommand {
    /// Summarise stored results: domains, failures, shares with MTA-STS, enforce, TLS-RPT and
    /// DANE, and findings by ID.
    ///
    /// Reads the newest result of every domain in each STORE. Exit status: 0 when no domain has
    /// an error finding or a failed check, 1 otherwise, 2 when a store cannot be read.
    Summary(CheckSummaryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckSummaryArgs {
    /// sqlite:PATH, postgres://..., or a JSON Lines file written by `check --input --json` or
    /// `--resume` (several: the summary of all of them).
    #[arg(required = true, value_name = "STORE")]
    pub(crate) stores: Vec<String>,
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
    /// HTTPS port of the policy hosts on 127.0.0.1 (default: any free port). 443 lets clients
    /// without a port map fetch policies, e.g. inside a network namespace.
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub(crate) https_port: u16,
    /// SMTP port of every MX host (default: any free port). 25 lets clients without a port map
    /// connect, e.g. inside a network namespace.
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub(crate) smtp_port: u16,
    /// Also serve N generated domains, d1.scale.test to dN.scale.test (at most 65024).
    ///
    /// Each is a signed zone with one MX host on its own 127.2.x.y address: TLSA 3 1 1 and
    /// 2 1 1, an enforce MTA-STS policy, a TLS-RPT record. Every 10th domain's TLSA matches
    /// nothing, every 25th MX offers no STARTTLS. --list and --export include them. Every MX
    /// host has its own listener: N above about 850 needs a higher open-files limit
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

const DAEMON_HELP: &str = "\
Postfix (main.cf):
  smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix
  smtp_tls_security_level = dane
  smtp_dns_support_level = dnssec

The socketmap name (`postfix` above) selects a zone of the configuration; `QUERYwithTLSRPT` adds
the TLSRPT attributes of Postfix 3.10. Signals: SIGHUP reloads the zones of the configuration
file; SIGTERM stops accepting connections and lets open ones finish.";

#[derive(Debug, Args)]
pub(crate) struct DaemonArgs {
    /// The TOML configuration file (unknown keys are errors). Without it: the defaults.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where to listen, HOST:PORT or unix:PATH (repeatable; replaces the configuration's list).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Vec<String>,
    /// The policy cache: memory:, sqlite:PATH (relative: under the state directory),
    /// redis://…, postgres://… (replaces the configuration's).
    #[arg(long, value_name = "URL")]
    pub(crate) cache: Option<String>,
    /// Where to serve Prometheus metrics, IP:PORT (replaces the configuration's).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<String>,
    /// Check the configuration and exit (0 when valid, 2 when not).
    #[arg(long)]
    pub(crate) check_config: bool,
    /// Print the TOML equivalent of a postfix-mta-sts-resolver `mta-sts-daemon.yml` and exit.
    #[arg(long, value_name = "YAML")]
    pub(crate) import_config: Option<PathBuf>,
    /// Print every cached policy as JSON Lines and exit.
    #[arg(long, conflicts_with = "purge")]
    pub(crate) dump: bool,
    /// Empty the cache and exit.
    #[arg(long)]
    pub(crate) purge: bool,
    /// Log lines as JSON instead of text.
    #[arg(long)]
    pub(crate) log_json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(subcommand)]
    pub(crate) command: Option<ServeCommand>,
    /// The TOML configuration file (unknown keys are errors); the options below override it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// HTTPS address, HOST:PORT (repeatable; replaces the configuration's list).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Vec<String>,
    /// Plain HTTP address, HOST:PORT, answering 404 to everything (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub(crate) http_listen: Vec<String>,
    /// The policies: `<domain>.txt` each.
    #[arg(long, value_name = "DIR")]
    pub(crate) policy_dir: Option<PathBuf>,
    /// The certificates: `<host>/fullchain.pem` and `<host>/privkey.pem`.
    #[arg(long, value_name = "DIR")]
    pub(crate) cert_dir: Option<PathBuf>,
    /// The access log, JSON Lines (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    pub(crate) access_log: Option<PathBuf>,
    /// Check the configuration, the policies and the certificates, and exit: 0 when all are
    /// served, 1 when some file is refused, 2 when the configuration is invalid.
    #[arg(long)]
    pub(crate) check_config: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeCommand {
    /// Read access logs: which senders fetched which policy, when and how often (by user
    /// agent and address), and which domains nobody fetched.
    Stats(ServeStatsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeStatsArgs {
    /// Access logs of `mailsec serve` (JSON Lines); `-` for standard input.
    #[arg(value_name = "LOGFILE", required = true)]
    pub(crate) logs: Vec<PathBuf>,
    /// The policy directory served: its domains that nobody fetched are listed.
    #[arg(long, value_name = "DIR")]
    pub(crate) policy_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WebArgs {
    /// Address and port to listen on (port 0: any free port; the address taken is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub(crate) listen: std::net::SocketAddr,
    /// Checks a client (an IPv4 address, an IPv6 /64) may start per minute, in bursts of as
    /// many; past it the answer is 429 with Retry-After.
    #[arg(long, default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) rate: u32,
    /// Seconds allowed for each check, all of its lookups, fetches and connections included;
    /// past it the answer is 504.
    #[arg(long, default_value_t = 60, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) deadline: u64,
    /// Checks running at once; a request waits up to 10 s for a free slot, then gets 503.
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) concurrency: u32,
    /// Seconds a report without error findings is reused for the same domain (0: never), so
    /// that many visitors cause one round of connections; reports with errors and failed
    /// checks are never kept.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) cache: u64,
    /// Do not connect to the MX hosts: DNS and the policy fetch only.
    #[arg(long)]
    pub(crate) no_connect: bool,
}

const WEB_HELP: &str = "\
Routes: GET / (the form), GET /check?domain=D (the report page: the same page as `mailsec check \
--html`), GET /api/check?domain=D (the report as JSON, as `mailsec check --json` prints one). \
A name that is not a domain gets 400 with the reason; JSON errors are {\"domain\", \"error\": \
{\"kind\", \"message\"}}. Pages have no script and no external resource.

The server connects to the DNS, policy and mail servers of any domain a visitor names, private \
addresses included (the lab needs them): expose it only where that is acceptable. The rate \
limit counts per peer address, so behind a reverse proxy every visitor shares the proxy's \
budget. With the variables `mailsec lab` prints, it checks the lab's domains.

Runs until Ctrl-C or SIGTERM, then finishes the checks in progress.";

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
