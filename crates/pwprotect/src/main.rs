//! `pwprotect`: banned-password protection for Linux directories.
//!
//! Exit status: 0 accepted, 1 rejected, 2 usage or runtime error (one line on stderr).

#![forbid(unsafe_code)]

/// `println!` that returns the write's error instead of panicking when standard output is a
/// closed pipe (`pwprotect ... | head`); `main` ends such a run quietly.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)
    }};
}
pub(crate) use outln;

mod breach;
mod docs;
mod publish;
mod serve;

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pwprotect_core::signed::{CUSTOM_MAX_TERMS, Mode, SignedError};
use pwprotect_core::{Identity, Policy, Profile, Verdict, evaluate};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The default global list (see data/pwprotect/README.md for its provenance).
const DEFAULT_GLOBAL: &str = include_str!("../../../data/pwprotect/global.txt");
/// Longest password read, bytes: far beyond any directory's limit (Active Directory: 256
/// characters), small enough that a hostile input costs nothing.
pub(crate) const MAX_PASSWORD: usize = 64 * 1024;

/// Banned-password protection for Samba AD, OpenLDAP and PAM.
///
/// Exit status: 0 accepted, 1 rejected, 2 usage or runtime error.
#[derive(Debug, Parser)]
#[command(name = "pwprotect", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate a password read from standard input (one trailing newline is stripped).
    Check(CheckArgs),
    /// Samba AD's `check password script`: the password on standard input, the account in
    /// `SAMBA_CPS_ACCOUNT_NAME`, `SAMBA_CPS_FULL_NAME` and `SAMBA_CPS_USER_PRINCIPAL_NAME`;
    /// exit 0 accepts, 1 rejects. Every decision is one JSON line (outcome class and event
    /// number, never the password) on standard error and in `--log FILE`.
    ///
    /// smb.conf `[global]`: `check password script = /usr/bin/pwprotect samba-check --custom
    /// /etc/pwprotect/custom.txt --log /var/log/pwprotect.log`
    SambaCheck(SambaArgs),
    /// Summarise decision logs (`samba-check --log`) as Microsoft's summary report does: per
    /// outcome class and event number, with the accounts affected.
    Report(ReportArgs),
    /// Signed policies: the signing key, building and verifying a policy, fetching it for the
    /// agents.
    #[command(subcommand)]
    Policy(publish::PolicyCommand),
    /// Publish the signed policy over HTTPS (`GET /policy.json`) and answer `POST /check` on a
    /// local socket.
    Serve(serve::ServeArgs),
    /// The breached-password store: import Pwned Passwords data, look a password up.
    #[command(subcommand)]
    Breach(breach::BreachCommand),
    /// Shell completions (bash, zsh, fish, elvish, powershell) on standard output.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The man page on standard output, or one page per command into a directory.
    Man {
        /// Write `pwprotect.1` and `pwprotect-<command>.1` pages here.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Decision logs (JSON Lines); `-` for standard input.
    #[arg(value_name = "FILE|-", required = true)]
    logs: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SambaArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// On an internal error (an unreadable list, a password that is not UTF-8): accept
    /// (`open`, as Microsoft's agent does without a policy) or reject (`closed`).
    #[arg(long, value_enum, default_value_t = OnError::Open)]
    on_error: OnError,
    /// Append each decision's JSON line to this file too.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
enum OnError {
    Open,
    Closed,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The account name (its words of 4 or more characters may not appear in the password).
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// The full (display) name.
    #[arg(long, value_name = "NAME")]
    full_name: Option<String>,
    /// The user principal name (its local part counts).
    #[arg(long, value_name = "UPN")]
    upn: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Read JSON Lines requests (`{"password", "account", "full_name", "upn"}`) from standard
    /// input and write one JSON verdict per line.
    #[arg(long)]
    batch: bool,
    /// With `--batch`: each verdict says how long its check took (`"elapsed_ns"`: the policy
    /// and the breach lookup, not the JSON around them), for measuring.
    #[arg(long, requires = "batch")]
    timings: bool,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

/// The policy options every evaluating command takes: a signed policy file, or lists and
/// settings given here.
#[derive(Debug, Args)]
struct PolicyArgs {
    /// The signed policy (`pwprotect policy build`, kept current by `pwprotect policy fetch`);
    /// replaces the lists and settings below. Needs `--public-key`.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    policy_file: Option<PathBuf>,
    /// The public key that signs policies (`pwprotect policy keygen`).
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Reject passwords found in this breached-password store (`pwprotect breach import`),
    /// reason `breached`.
    #[arg(long, value_name = "FILE")]
    breach_store: Option<PathBuf>,
    /// The store's binary fuse filter (`pwprotect breach filter`), loaded into memory (about
    /// 2.25 bytes a hash): most passwords that are not breached are then answered without
    /// reading the store. For long-running or bulk use (`serve`, `check --batch`); its load
    /// time would be paid by every `samba-check`.
    #[arg(long, value_name = "FILE", requires = "breach_store")]
    breach_filter: Option<PathBuf>,
    #[command(flatten)]
    lists: ListArgs,
}

/// Lists and settings of a policy.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The global banned list, one term per line (`#` comments); replaces the default list.
    #[arg(long, value_name = "FILE")]
    banned: Option<PathBuf>,
    /// The custom banned list: at most 1,000 terms of 4 to 16 characters.
    #[arg(long, value_name = "FILE")]
    custom: Option<PathBuf>,
    /// A score below this rejects.
    #[arg(long, default_value_t = pwprotect_core::DEFAULT_THRESHOLD, value_name = "N")]
    threshold: u32,
    /// Reject any password that contains a banned term.
    #[arg(long)]
    strict: bool,
    /// The normalisation profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Compatible)]
    profile: ProfileArg,
    /// `audit` accepts every password and reports what enforce would have done.
    #[arg(long, value_parser = parse_mode, default_value = "enforce", value_name = "audit|enforce")]
    mode: Mode,
}

/// `audit` or `enforce`.
fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "audit" => Ok(Mode::Audit),
        "enforce" => Ok(Mode::Enforce),
        _ => Err(format!("{s:?} is neither audit nor enforce")),
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ProfileArg {
    Compatible,
    Extended,
}

/// One verdict as JSON.
#[derive(Serialize)]
struct Out<'a> {
    verdict: &'static str,
    score: Option<u32>,
    reason: Option<&'static str>,
    terms: &'a [String],
    mode: Mode,
    /// In audit mode: what enforce would have done.
    #[serde(skip_serializing_if = "Option::is_none")]
    would_reject: Option<bool>,
}

fn out(v: &Verdict, mode: Mode) -> Out<'_> {
    let accepted = v.accepted || mode == Mode::Audit;
    Out {
        verdict: if accepted { "accept" } else { "reject" },
        score: v.score,
        reason: v.reason.map(|r| r.as_str()),
        terms: &v.terms,
        mode,
        would_reject: (mode == Mode::Audit).then_some(!v.accepted),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    password: Zeroizing<String>,
    account: Option<String>,
    full_name: Option<String>,
    upn: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        // `pwprotect ... | head`: the reader went away; nothing more to say.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line; never the password (no error carries it).
            let _ = writeln!(std::io::stderr(), "pwprotect: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Check(args) => check(&args),
        Command::SambaCheck(args) => Ok(samba_check(&args)),
        Command::Report(args) => report(&args),
        Command::Policy(cmd) => publish::run(&cmd),
        Command::Serve(args) => serve::run(args),
        Command::Breach(cmd) => breach::run(&cmd),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out_dir } => docs::man(out_dir.as_deref()),
    }
}

/// Terms of a list file: one per line, trimmed, `#` comments and blank lines skipped.
pub(crate) fn read_terms(path: &Path) -> anyhow::Result<Vec<(usize, String)>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not UTF-8 (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect())
}

/// Why an evaluating command has no policy.
#[derive(Debug)]
enum LoadError {
    /// The signed policy file is missing or does not verify. An agent accepts passwords then,
    /// and says so (Microsoft's event 30001): a directory must not lock everyone out because
    /// its policy went missing.
    NoPolicy(anyhow::Error),
    /// Anything else (a list that cannot be read, a bad key file).
    Other(anyhow::Error),
}

impl From<LoadError> for anyhow::Error {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::NoPolicy(e) => e.context("no policy"),
            LoadError::Other(e) => e,
        }
    }
}

/// The policy and mode in force: the signed file's, or the lists' and settings given.
fn policy(args: &PolicyArgs) -> Result<(Policy, Mode), LoadError> {
    if let Some(file) = &args.policy_file {
        let key = args
            .public_key
            .as_deref()
            .ok_or_else(|| LoadError::Other(anyhow::anyhow!("--policy-file needs --public-key")))?;
        let public = publish::read_public_key(key).map_err(LoadError::Other)?;
        let doc = publish::read_signed(file, &public).map_err(LoadError::NoPolicy)?;
        let p = doc
            .policy()
            .map_err(|e| LoadError::Other(anyhow::anyhow!("{}: {e}", file.display())))?;
        return Ok((p, doc.mode));
    }
    lists(&args.lists)
        .map(|p| (p, args.lists.mode))
        .map_err(LoadError::Other)
}

/// The policy of lists and settings given on the command line.
fn lists(args: &ListArgs) -> anyhow::Result<Policy> {
    let global: Vec<String> = match &args.banned {
        Some(p) => read_terms(p)?.into_iter().map(|(_, t)| t).collect(),
        None => default_global(),
    };
    let custom: Vec<String> = match &args.custom {
        Some(p) => read_custom(p)?,
        None => Vec::new(),
    };
    let profile = match args.profile {
        ProfileArg::Compatible => Profile::Compatible,
        ProfileArg::Extended => Profile::Extended,
    };
    let mut p = Policy::new(
        global.iter().map(String::as_str),
        custom.iter().map(String::as_str),
        profile,
    )?;
    p.threshold = args.threshold;
    p.strict = args.strict;
    Ok(p)
}

/// The built-in global list's terms.
pub(crate) fn default_global() -> Vec<String> {
    DEFAULT_GLOBAL
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// A custom list file, its limits checked (at most 1,000 terms of 4 to 16 characters).
pub(crate) fn read_custom(p: &Path) -> anyhow::Result<Vec<String>> {
    let terms = read_terms(p)?;
    let texts: Vec<&str> = terms.iter().map(|(_, t)| t.as_str()).collect();
    match pwprotect_core::signed::check_custom(&texts) {
        Ok(()) => Ok(terms.into_iter().map(|(_, t)| t).collect()),
        Err(SignedError::CustomTooLong(n)) => bail!(
            "{}: {n} terms; a custom list holds at most {CUSTOM_MAX_TERMS}",
            p.display()
        ),
        Err(SignedError::CustomTerm { index, chars }) => bail!(
            "{}:{}: a custom term has 4 to 16 characters, this one {chars}",
            p.display(),
            terms.get(index - 1).map_or(0, |(line, _)| *line)
        ),
        Err(e) => bail!("{}: {e}", p.display()),
    }
}

/// The password on standard input, one trailing newline (LF or CRLF) stripped.
fn read_password() -> anyhow::Result<Zeroizing<String>> {
    let mut raw = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(MAX_PASSWORD as u64 + 3)
        .read_to_end(&mut raw)
        .context("cannot read the password from standard input")?;
    // One trailing newline (LF or CRLF) is stripped.
    if raw.last() == Some(&b'\n') {
        raw.pop();
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
    }
    if raw.len() > MAX_PASSWORD {
        bail!("the password is longer than {MAX_PASSWORD} bytes");
    }
    let password = std::str::from_utf8(&raw).map_err(|e| {
        anyhow::anyhow!(
            "the password is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    Ok(Zeroizing::new(password.to_owned()))
}

fn check(args: &CheckArgs) -> anyhow::Result<u8> {
    let (policy, mode) = policy(&args.policy)?;
    if args.batch {
        let store = open_store(&args.policy)?
            .map(breach::Store::resident_index)
            .transpose()?;
        return batch(&policy, mode, store.as_ref(), args.timings);
    }
    let password = read_password()?;
    let identity = Identity {
        account: args.account.as_deref(),
        full_name: args.full_name.as_deref(),
        upn: args.upn.as_deref(),
    };
    let store = open_store(&args.policy)?;
    let v = verdict(&policy, store.as_ref(), &password, &identity)?;
    let o = out(&v, mode);
    let mut stdout = Vec::new();
    if args.json {
        serde_json::to_writer(&mut stdout, &o)?;
        writeln!(stdout)?;
    } else {
        let why = match (v.reason, v.score) {
            (Some(r), Some(s)) => {
                format!(" ({}, score {s}, terms {})", r.as_str(), v.terms.join(" "))
            }
            (Some(r), None) if v.terms.is_empty() => format!(" ({})", r.as_str()),
            (Some(r), None) => format!(" ({}, near {})", r.as_str(), v.terms.join(" ")),
            (None, Some(s)) => format!(" (score {s}, terms {})", v.terms.join(" ")),
            (None, None) => String::new(),
        };
        match (mode, v.accepted) {
            (Mode::Audit, false) => writeln!(stdout, "accept (audit: enforce would reject{why})")?,
            (_, true) => writeln!(stdout, "accept{why}")?,
            (Mode::Enforce, false) => writeln!(stdout, "reject{why}")?,
        }
    }
    write_verdict(&stdout)?;
    Ok(if o.verdict == "accept" { 0 } else { 1 })
}

/// Writes a verdict: a closed pipe (`| head`) is not an error, so that the exit status still
/// says accepted or rejected.
pub(crate) fn write_verdict(bytes: &[u8]) -> std::io::Result<()> {
    write_line(&mut std::io::stdout().lock(), bytes).map(drop)
}

fn batch(
    policy: &Policy,
    mode: Mode,
    store: Option<&breach::Store>,
    timings: bool,
) -> anyhow::Result<u8> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut line_out = Vec::new();
    let (mut rejected, mut failed) = (false, false);
    for (i, line) in stdin.split(b'\n').enumerate() {
        let line = Zeroizing::new(line.context("cannot read standard input")?);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let req: BatchRequest = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                // serde_json's message names the position, never the value.
                failed = true;
                line_out.clear();
                serde_json::to_writer(
                    &mut line_out,
                    &serde_json::json!({"line": i + 1, "error": format!("not a request: {}", e.classify_str())}),
                )?;
                line_out.push(b'\n');
                if !write_line(&mut stdout, &line_out)? {
                    break;
                }
                continue;
            }
        };
        let identity = Identity {
            account: req.account.as_deref(),
            full_name: req.full_name.as_deref(),
            upn: req.upn.as_deref(),
        };
        let started = std::time::Instant::now();
        let v = verdict(policy, store, &req.password, &identity)?;
        let elapsed = started.elapsed();
        let o = out(&v, mode);
        rejected |= o.verdict == "reject";
        line_out.clear();
        if timings {
            let mut value = serde_json::to_value(&o)?;
            value["elapsed_ns"] = serde_json::Value::from(elapsed.as_nanos() as u64);
            serde_json::to_writer(&mut line_out, &value)?;
        } else {
            serde_json::to_writer(&mut line_out, &o)?;
        }
        line_out.push(b'\n');
        if !write_line(&mut stdout, &line_out)? {
            break;
        }
    }
    Ok(if failed {
        2
    } else if rejected {
        1
    } else {
        0
    })
}

/// Writes one output line of a batch; false when the reader has gone (`| head`): the batch
/// stops, and its exit status still says whether any password was rejected.
pub(crate) fn write_line(stdout: &mut impl Write, line: &[u8]) -> std::io::Result<bool> {
    match stdout.write_all(line) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        r => r.map(|()| true),
    }
}

/// Writes one decision line to standard error and appends it to `log`, if any.
fn log_line(log: Option<&Path>, line: &serde_json::Value) {
    let text = format!("{line}\n");
    let _ = std::io::stderr().write_all(text.as_bytes());
    if let Some(path) = log
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// The decision line of an agent that has no policy: the password is accepted (event 30001).
fn no_policy_line(account: Option<&str>, why: &anyhow::Error) -> serde_json::Value {
    serde_json::json!({
        "outcome": "no-policy", "event": 30001, "account": account,
        "error": format!("{why:#}"), "verdict": "accept",
    })
}

/// Evaluates one password for an agent: whether it is accepted, and the decision line to log
/// (outcome class, event number, account, verdict, score, reason, terms, mode; never the
/// password).
fn decide(
    policy: &Policy,
    mode: Mode,
    store: Option<&breach::Store>,
    password: &str,
    identity: &Identity<'_>,
) -> anyhow::Result<(bool, serde_json::Value)> {
    let v = verdict(policy, store, password, identity)?;
    Ok(pwprotect_core::signed::decision(&v, mode, identity.account))
}

/// The policy's verdict, then the breach store's: a password the policy accepts and the store
/// holds is rejected as `breached`.
fn verdict(
    policy: &Policy,
    store: Option<&breach::Store>,
    password: &str,
    identity: &Identity<'_>,
) -> anyhow::Result<Verdict> {
    let mut v = evaluate(policy, password, identity);
    if v.accepted
        && let Some(s) = store
        && s.lookup(password)?.is_some()
    {
        v.breached();
    }
    Ok(v)
}

/// The breached-password store of `--breach-store`, opened and checked.
fn open_store(args: &PolicyArgs) -> anyhow::Result<Option<breach::Store>> {
    args.breach_store
        .as_deref()
        .map(|s| breach::Store::open_with(s, args.breach_filter.as_deref()))
        .transpose()
}

fn samba_check(args: &SambaArgs) -> u8 {
    let account = std::env::var("SAMBA_CPS_ACCOUNT_NAME").ok();
    let full_name = std::env::var("SAMBA_CPS_FULL_NAME").ok();
    let upn = std::env::var("SAMBA_CPS_USER_PRINCIPAL_NAME").ok();
    let log = args.log.as_deref();
    let decided = match policy(&args.policy) {
        Ok((p, mode)) => open_store(&args.policy)
            .and_then(|store| read_password().map(|pw| (p, mode, store, pw))),
        Err(LoadError::NoPolicy(e)) => {
            log_line(log, &no_policy_line(account.as_deref(), &e));
            return 0;
        }
        Err(LoadError::Other(e)) => Err(e),
    };
    let decided = decided.and_then(|(policy, mode, store, password)| {
        let identity = Identity {
            account: account.as_deref(),
            full_name: full_name.as_deref(),
            upn: upn.as_deref(),
        };
        decide(&policy, mode, store.as_ref(), &password, &identity)
    });
    let (accepted, line) = match decided {
        Ok(x) => x,
        Err(e) => {
            let accept = args.on_error == OnError::Open;
            log_line(
                log,
                &serde_json::json!({
                    "outcome": "error", "event": 10012, "account": account,
                    "error": format!("{e:#}"),
                    "verdict": if accept { "accept" } else { "reject" },
                }),
            );
            return if accept { 0 } else { 1 };
        }
    };
    log_line(log, &line);
    u8::from(!accepted)
}

/// One outcome class in a report.
#[derive(Default, Serialize)]
struct Count {
    event: u64,
    decisions: u64,
    accounts: std::collections::BTreeSet<String>,
}

/// `pwprotect report`: counts per outcome class (Microsoft's summary report counts the same
/// events per domain controller; here per log). Lines that are not decisions are counted and
/// skipped, each named by file and line on standard error.
fn report(args: &ReportArgs) -> anyhow::Result<u8> {
    let mut by: std::collections::BTreeMap<String, Count> = std::collections::BTreeMap::new();
    let (mut total, mut skipped) = (0u64, 0u64);
    for path in &args.logs {
        let text = if path.as_os_str() == "-" {
            let mut t = String::new();
            std::io::stdin().read_to_string(&mut t)?;
            t
        } else {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(_) => {
                    skipped += 1;
                    eprintln!(
                        "pwprotect: {}:{}: not a decision line, skipped",
                        path.display(),
                        i + 1
                    );
                    continue;
                }
            };
            let (Some(outcome), Some(event)) = (v["outcome"].as_str(), v["event"].as_u64()) else {
                skipped += 1;
                eprintln!(
                    "pwprotect: {}:{}: no outcome or event, skipped",
                    path.display(),
                    i + 1
                );
                continue;
            };
            total += 1;
            let c = by.entry(outcome.to_owned()).or_default();
            c.event = event;
            c.decisions += 1;
            if let Some(a) = v["account"].as_str() {
                c.accounts.insert(a.to_owned());
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(
            &mut stdout,
            &serde_json::json!({"decisions": total, "skipped": skipped, "outcomes": by}),
        )?;
        writeln!(stdout)?;
    } else {
        writeln!(stdout, "{total} decisions ({skipped} lines skipped)")?;
        writeln!(
            stdout,
            "{:<22} {:>6} {:>10} {:>9}",
            "outcome", "event", "decisions", "accounts"
        )?;
        for (outcome, c) in &by {
            writeln!(
                stdout,
                "{outcome:<22} {:>6} {:>10} {:>9}",
                c.event,
                c.decisions,
                c.accounts.len()
            )?;
        }
    }
    Ok(0)
}

/// serde_json's error category, without the offending text.
trait Classify {
    fn classify_str(&self) -> String;
}

impl Classify for serde_json::Error {
    fn classify_str(&self) -> String {
        let kind = match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "wrong fields or types",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        format!("{kind} at column {}", self.column())
    }
}
