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

/// Unbound as an independent validator: a forwarder to the lab's DNS server with the lab's root
/// key as its only trust anchor, on a port of its own.
pub(crate) struct Unbound {
    child: std::process::Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Unbound {
    /// Starts Unbound and waits until it answers. `extra` adds `server:` options (indented lines).
    ///
    /// The port is one that was free for both UDP and TCP a moment ago; another test may take it
    /// in between, so a start that fails (Unbound exits, or never answers) is retried on a new
    /// port, and the last failure's log is in the panic message.
    pub(crate) async fn start(files: &LabFiles, dns: std::net::SocketAddr, extra: &str) -> Self {
        let mut last_log = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let conf = dir.path().join("unbound.conf");
            std::fs::write(
                &conf,
                format!(
                    "server:\n  interface: 127.0.0.1@{port}\n  access-control: 127.0.0.0/8 allow\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"{dir}/unbound.log\"\n  ede: yes\n  do-not-query-localhost: no\n  module-config: \"validator iterator\"\n  trust-anchor-file: \"{anchor}\"\n  local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  do-ip6: no\n{extra}forward-zone:\n  name: \".\"\n  forward-addr: {dns}\nremote-control:\n  control-enable: no\n",
                    dir = dir.path().display(),
                    anchor = files.trust_anchor.display(),
                    dns = dns.to_string().replace(':', "@"),
                ),
            )
            .unwrap();
            let check = tool("unbound-checkconf", &[conf.display().to_string()], b"").await;
            assert!(
                check.status.success(),
                "unbound-checkconf: {}",
                String::from_utf8_lossy(&check.stderr)
            );
            let child = Command::new("unbound")
                .args(["-d", "-c", conf.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot run unbound: scripts/test installs it");
            let mut unbound = Self { child, port, dir };
            // Ready when it answers a query for the root (which the lab serves, signed).
            for _ in 0..50 {
                if !unbound.alive() {
                    break;
                }
                let dig = unbound.dig(".", "SOA", 1).await;
                if mailsec_lab::oracle::dig_verdict(&String::from_utf8_lossy(&dig.stdout))
                    .is_ok_and(|v| v.starts_with("NOERROR"))
                {
                    return unbound;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            last_log = unbound.log();
            let _ = unbound.stop();
        }
        panic!("Unbound did not start in five attempts; its last log:\n{last_log}");
    }

    /// `dig +dnssec` through this Unbound, waiting `secs` for the reply, one try.
    pub(crate) async fn dig(&self, name: &str, rtype: &str, secs: u32) -> Output {
        tool(
            "dig",
            &[
                "@127.0.0.1".to_owned(),
                "-p".into(),
                self.port.to_string(),
                "+dnssec".into(),
                format!("+time={secs}"),
                "+tries=1".into(),
                name.to_owned(),
                rtype.to_owned(),
            ],
            b"",
        )
        .await
    }

    pub(crate) fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }

    /// Stops Unbound; says whether it was still running, with its log when it was not.
    pub(crate) fn stop(mut self) -> Result<(), String> {
        let alive = self.alive();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if alive { Ok(()) } else { Err(self.log()) }
    }
}

/// A loopback port free for both UDP and TCP (Unbound listens on both).
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
