//! The lab, checked against independent tools (openssl, curl) and driven through mailsec's own
//! resolver and fetcher.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dns;
mod policy_host;
mod scale;
mod smtp;
mod unbound;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mailsec_dns::{DnsConfig, Resolver, TrustAnchorSource};
use mailsec_lab::{Lab, LabConfig, LabFiles};

pub(crate) struct Running {
    pub(crate) lab: Lab,
    pub(crate) resolver: Resolver,
    pub(crate) files: LabFiles,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start() -> Running {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let lab = Lab::start(LabConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = lab.write_files(dir.path()).unwrap();
    let resolver = Resolver::new(&DnsConfig {
        server: Some(lab.dns_addr()),
        trust_anchor: TrustAnchorSource::File(files.trust_anchor.clone()),
        timeout: Duration::from_secs(2),
        attempts: 1,
    })
    .await
    .unwrap();
    Running {
        lab,
        resolver,
        files,
        _dir: dir,
    }
}

/// Runs an oracle tool; fails with a clear message when it is missing.
pub(crate) async fn tool(program: &str, args: &[String], stdin: &[u8]) -> Output {
    let program = program.to_owned();
    let args = args.to_vec();
    let stdin = stdin.to_vec();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new(&program)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): scripts/test installs it"));
        let _ = child.stdin.take().unwrap().write_all(&stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}
