//! `pwprotect policy …`: the signing key, building and verifying a signed policy, and fetching
//! it for the agents (`pwprotect_core::signed` is the format).
//!
//! Agents read the last good copy from disk (`--policy-file`), so a policy server that is down
//! costs nothing but freshness; `policy fetch` replaces that copy only with a policy that
//! verifies and is not older than it (no rollback to a weaker policy replayed by someone on
//! the path), atomically (write then rename).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Subcommand};
use pwprotect_core::signed::{self, MAX_SIGNED, PolicyDocument, ProfileName};

use crate::{ListArgs, ProfileArg};

/// `pwprotect policy`.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Make an Ed25519 signing key: DIR/policy.key (private, mode 0600) and DIR/policy.pub (to
    /// install beside every agent).
    Keygen {
        /// Where to write the two files (created if missing; existing keys are not replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Build and sign a policy from lists and settings.
    Build(BuildArgs),
    /// Verify a signed policy and print what it holds; exit 0 when it verifies, 2 when not.
    Verify {
        /// The signed policy.
        file: PathBuf,
        /// The public key.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch the signed policy over HTTPS, verify it, and make it the agents' copy
    /// (DIR/policy.json) when it is not older than the one held. Run at start and hourly
    /// (contrib/systemd/pwprotect-policy-fetch.timer); on any failure the last good copy stays.
    Fetch {
        /// `https://HOST[:PORT]/PATH`, as `pwprotect serve` publishes it (`/policy.json`).
        url: String,
        /// The public key.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// Where the agents' copy lives.
        #[arg(long, value_name = "DIR", default_value = "/var/lib/pwprotect")]
        state_dir: PathBuf,
        /// Trust only these CA certificates (PEM) instead of the system's.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
}

/// `pwprotect policy build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The private key (`pwprotect policy keygen`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The policy's version; it must grow with every policy (default: the time, in seconds).
    #[arg(long, value_name = "N")]
    version: Option<u64>,
    /// Write the signed policy here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    lists: ListArgs,
}

pub(crate) fn run(cmd: &PolicyCommand) -> anyhow::Result<u8> {
    match cmd {
        PolicyCommand::Keygen { out } => keygen(out),
        PolicyCommand::Build(args) => build(args),
        PolicyCommand::Verify {
            file,
            public_key,
            json,
        } => verify(file, public_key, *json),
        PolicyCommand::Fetch {
            url,
            public_key,
            state_dir,
            ca_file,
        } => fetch(url, public_key, state_dir, ca_file.as_deref()),
    }
}

/// Reads a key file: base64 on the first line that is not a `#` comment.
fn read_key_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    signed::parse_key_text(&text)
        .with_context(|| format!("{}: no base64 key in the file", path.display()))
}

/// The public key of a `policy.pub` file.
pub(crate) fn read_public_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    read_key_file(path)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("{}: not a 32-byte Ed25519 public key", path.display()))
}

/// A signed policy file, verified.
pub(crate) fn read_signed(path: &Path, public: &[u8; 32]) -> anyhow::Result<PolicyDocument> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    signed::verify(&bytes, public).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn keygen(dir: &Path) -> anyhow::Result<u8> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (private, public) = (dir.join("policy.key"), dir.join("policy.pub"));
    for p in [&private, &public] {
        if p.exists() {
            bail!("{} exists; a key is never replaced", p.display());
        }
    }
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("cannot generate a key"))?;
    let pk = signed::public_key(pkcs8.as_ref())?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .with_context(|| format!("cannot create {}", private.display()))?;
    writeln!(
        f,
        "# pwprotect policy signing key (Ed25519, PKCS#8); keep it off the agents\n{}",
        B64.encode(pkcs8.as_ref())
    )?;
    std::fs::write(
        &public,
        format!(
            "# pwprotect policy public key {}\n{}\n",
            signed::key_id(&pk),
            B64.encode(pk)
        ),
    )
    .with_context(|| format!("cannot write {}", public.display()))?;
    crate::outln!(
        "key {}: {} (private), {} (public)",
        signed::key_id(&pk),
        private.display(),
        public.display()
    )?;
    Ok(0)
}

fn build(args: &BuildArgs) -> anyhow::Result<u8> {
    let key = read_key_file(&args.key)?;
    let global: Vec<String> = match &args.lists.banned {
        Some(p) => crate::read_terms(p)?.into_iter().map(|(_, t)| t).collect(),
        None => crate::default_global(),
    };
    let custom: Vec<String> = match &args.lists.custom {
        Some(p) => crate::read_custom(p)?,
        None => Vec::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let doc = PolicyDocument {
        version: args.version.unwrap_or(now),
        issued_at: now,
        mode: args.lists.mode,
        threshold: args.lists.threshold,
        strict: args.lists.strict,
        profile: match args.lists.profile {
            ProfileArg::Compatible => ProfileName::Compatible,
            ProfileArg::Extended => ProfileName::Extended,
        },
        global,
        custom,
    };
    let text =
        signed::sign(&doc, &key).map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    match &args.out {
        Some(path) => write_atomically(path, text.as_bytes())?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(0)
}

/// What `verify --json` prints.
#[derive(serde::Serialize)]
struct Summary<'a> {
    version: u64,
    issued_at: u64,
    mode: signed::Mode,
    threshold: u32,
    strict: bool,
    profile: ProfileName,
    global_terms: usize,
    custom_terms: usize,
    key_id: &'a str,
}

fn verify(file: &Path, public_key: &Path, json: bool) -> anyhow::Result<u8> {
    let pk = read_public_key(public_key)?;
    let doc = read_signed(file, &pk)?;
    let id = signed::key_id(&pk);
    let s = Summary {
        version: doc.version,
        issued_at: doc.issued_at,
        mode: doc.mode,
        threshold: doc.threshold,
        strict: doc.strict,
        profile: doc.profile,
        global_terms: doc.global.len(),
        custom_terms: doc.custom.len(),
        key_id: &id,
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &s)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{}: verified (key {id}): version {}, {:?} mode, threshold {}, {} global and {} custom terms",
            file.display(),
            s.version,
            s.mode,
            s.threshold,
            s.global_terms,
            s.custom_terms
        )?;
    }
    Ok(0)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that a reader sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(|| "policy".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn fetch(url: &str, public_key: &Path, state_dir: &Path, ca: Option<&Path>) -> anyhow::Result<u8> {
    let pk = read_public_key(public_key)?;
    let target = state_dir.join("policy.json");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let body = runtime.block_on(https_get(url, ca))?;
    let doc = signed::verify(&body, &pk).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let held = std::fs::read(&target)
        .ok()
        .and_then(|b| signed::verify(&b, &pk).ok());
    let line = match held {
        Some(old) if old.version > doc.version => bail!(
            "{url}: version {} is older than the version {} held in {}; kept (a rollback is refused)",
            doc.version,
            old.version,
            target.display()
        ),
        Some(old) if old.version == doc.version => serde_json::json!({
            "outcome": "policy-unchanged", "version": doc.version, "url": url,
        }),
        _ => {
            std::fs::create_dir_all(state_dir)
                .with_context(|| format!("cannot create {}", state_dir.display()))?;
            write_atomically(&target, &body)?;
            // Microsoft's 30006: a new policy is in force.
            serde_json::json!({
                "outcome": "policy-new", "event": 30006, "version": doc.version,
                "mode": doc.mode, "url": url, "file": target.display().to_string(),
            })
        }
    };
    crate::outln!("{line}")?;
    Ok(0)
}

/// GET `url` (https only) with rustls, the system's roots or `ca`'s, a 30 s deadline, at most
/// [`MAX_SIGNED`] bytes; only status 200 is a policy.
async fn https_get(url: &str, ca: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    use http_body_util::{BodyExt, Empty, Limited};
    use hyper::body::Bytes;
    use pki_types::pem::PemObject;

    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| anyhow::anyhow!("{url}: not a URL"))?;
    if uri.scheme_str() != Some("https") {
        bail!("{url}: only https:// is allowed (the policy must come authenticated)");
    }
    let host = uri
        .host()
        .with_context(|| format!("{url}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            for c in pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            {
                let c = c.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                roots
                    .add(c)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS configuration")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = pki_types::ServerName::try_from(host.clone())
        .map_err(|_| anyhow::anyhow!("{url}: {host} is not a server name"))?;
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("{url}: cannot connect"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .with_context(|| format!("{url}: TLS"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .with_context(|| format!("{url}: HTTP"))?;
        tokio::spawn(conn);
        let authority = uri
            .authority()
            .map_or_else(|| host.clone(), |a| a.to_string());
        let request = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("pwprotect/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .context("request")?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{url}: HTTP"))?;
        if response.status() != hyper::StatusCode::OK {
            bail!("{url}: HTTP status {}", response.status().as_u16());
        }
        let body = Limited::new(response.into_body(), MAX_SIGNED)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{url}: body: {e}"))?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| anyhow::anyhow!("{url}: no answer within 30 s"))?
}
