//! `mailsec lab` and `mailsec demo`.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use mailsec_core::HostName;
use mailsec_dns::{DnsConfig, Resolver, TrustAnchorSource};
use mailsec_fetch::FetchConfig;
use mailsec_lab::scale::ScaleSpec;
use mailsec_lab::scenario::{SCENARIOS, Scenario};
use mailsec_lab::{Lab, LabConfig};
use serde::Serialize;

use crate::cli::{DemoArgs, LabArgs};
use crate::cmd::{check, net};
use crate::exit::Exit;
use crate::output;

/// The demo's domains: a good one, misconfigured MTA-STS, broken DANE.
const DEMO: &[&str] = &[
    "dane-and-sts",
    "sts-mx-mismatch",
    "sts-html",
    "dane-bogus-tlsa",
    "dane-ee-wrong",
];

#[derive(Serialize)]
struct Row<'a> {
    domain: String,
    exercises: &'a str,
    expected: String,
    /// Everything the domain publishes: its row of the table, or a generated domain's spec.
    details: Details<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Details<'a> {
    Scenario(&'a Scenario),
    Generated(ScaleSpec),
}

pub(crate) fn lab(args: LabArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    if args.list {
        let rows: Vec<Row<'_>> = SCENARIOS
            .iter()
            .map(|s| Row {
                domain: s.domain(),
                exercises: s.exercises,
                expected: s.expected.label(),
                details: Details::Scenario(s),
            })
            .chain(ScaleSpec::all(args.scale).map(|s| Row {
                domain: s.domain(),
                exercises: s.exercises(),
                expected: s.expected().label(),
                details: Details::Generated(s),
            }))
            .collect();
        if args.json {
            output::json(out, &rows)?;
        } else {
            // Columns as wide as their widest cell (names and verdicts vary in length).
            let (h1, h2) = ("domain", "a conformant sender must");
            let w1 = rows
                .iter()
                .map(|r| r.domain.len())
                .chain([h1.len()])
                .max()
                .unwrap_or(0);
            let w2 = rows
                .iter()
                .map(|r| r.expected.len())
                .chain([h2.len()])
                .max()
                .unwrap_or(0);
            writeln!(out, "{h1:<w1$}  {h2:<w2$}  exercises")?;
            for r in rows {
                writeln!(
                    out,
                    "{:<w1$}  {:<w2$}  {}",
                    r.domain, r.expected, r.exercises
                )?;
            }
        }
        return Ok(Exit::Ok);
    }
    net::runtime()?.block_on(async {
        let lab = Lab::start(LabConfig { dns_port: args.dns_port, https_port: args.https_port, smtp_port: args.smtp_port, scale: args.scale, ..LabConfig::default() }).await?;
        let generated = match args.scale {
            0 => String::new(),
            n => format!(" and {n} generated domains"),
        };
        if let Some(dir) = &args.export {
            lab.export(dir)?;
            writeln!(out, "exported {} scenarios{generated} to {}", SCENARIOS.len(), dir.display())?;
            return Ok(Exit::Ok);
        }
        let (dir, _tmp) = match &args.dir {
            Some(d) => {
                std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
                (d.clone(), None)
            }
            None => {
                let t = tempfile::Builder::new().prefix("mailsec-lab-").tempdir().context("cannot create a temporary directory")?;
                (t.path().to_owned(), Some(t))
            }
        };
        let stop = StopSignals::listen()?;
        let files = lab.write_files(&dir)?;
        for (k, v) in lab.env(&files) {
            writeln!(out, "export {k}={v}")?;
        }
        // The exports above are what scripts read; the hints below are for people. A reader that
        // stops after the exports must not stop the lab.
        let dns = lab.dns_addr();
        let https = lab.ports().https();
        out.flush()?;
        let _ = writeln!(out);
        let _ = writeln!(out, "# The lab runs until Ctrl-C (or SIGTERM, SIGHUP). {} scenarios{generated} under test (mailsec lab --list{}).", SCENARIOS.len(), if args.scale > 0 { format!(" --scale {}", args.scale) } else { String::new() });
        if args.scale > 0 {
            let _ = writeln!(out, "# Generated: d1.scale.test to d{}.scale.test (every 10th: TLSA matches nothing; every 25th: no STARTTLS).", args.scale);
        }
        let _ = writeln!(out, "# With the exports above, every mailsec command uses the lab, e.g.:");
        let _ = writeln!(out, "#   mailsec check sts-enforce.test dane-bogus-tlsa.test");
        let _ = writeln!(out, "#   mailsec dns query _25._tcp.mx.dane-ee.test TLSA");
        let _ = writeln!(out, "# dig and delv (bind9-dnsutils):");
        let _ = writeln!(out, "#   dig @{} -p {} +dnssec MX dane-ee.test", dns.ip(), dns.port());
        let _ = writeln!(out, "#   delv @{} -p {} -a {} +root=. TLSA _25._tcp.mx.dane-ee.test", dns.ip(), dns.port(), files.trust_anchor_bind.display());
        let _ = writeln!(out, "# A policy host, with curl or a browser (trust {} first):", files.ca.display());
        let _ = writeln!(out, "#   curl --cacert {} --resolve mta-sts.sts-enforce.test:{https}:127.0.0.1 https://mta-sts.sts-enforce.test:{https}/.well-known/mta-sts.txt", files.ca.display());
        let _ = writeln!(out, "#   chromium --host-resolver-rules='MAP mta-sts.*.test 127.0.0.1' https://mta-sts.sts-enforce.test:{https}/.well-known/mta-sts.txt");
        let _ = out.flush();
        stop.wait().await;
        // Stop the servers, then remove the temporary directory (`_tmp`, dropped on return).
        drop(lab);
        Ok(Exit::Ok)
    })
}

/// Ctrl-C (SIGINT), SIGTERM (`kill PID`) and SIGHUP (the terminal closed): each ends the lab the
/// same way, its temporary files removed. Listening starts before the lab says where its files
/// are, so that no signal sent after reading that can kill it the default way.
struct StopSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            hup: signal(SignalKind::hangup()).context("listening for SIGHUP")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

#[derive(Serialize)]
struct DemoEntry {
    expected: String,
    /// What `mailsec daemon` answers Postfix for the domain (socketmap, DANE first).
    daemon_reply: String,
    report: mailsec_check::DomainReport,
}

/// `mailsec daemon` in process on a free loopback port, asked over a real socketmap
/// connection, as Postfix's `smtp_tls_policy_maps` would: one reply per domain, in order.
async fn daemon_replies(
    ctx: &mailsec_check::Context,
    domains: &[String],
) -> anyhow::Result<Vec<String>> {
    use mailsec_daemon::server::{ListenAddr, Listener, ServerLimits, serve};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let resolver = mailsec_daemon::resolve::PolicyResolver::over_network(
        ctx.resolver.clone(),
        ctx.fetch.clone(),
        std::sync::Arc::new(mailsec_sender::cache::Memory::default()),
        mailsec_daemon::resolve::ResolverConfig::default(),
        std::sync::Arc::new(mailsec_daemon::resolve::NoObserver),
    );
    let handler = mailsec_daemon::handler::PolicyHandler::new(
        resolver,
        ctx.resolver.clone(),
        mailsec_daemon::handler::Zones::default(),
        std::sync::Arc::new(mailsec_daemon::metrics::Metrics::new()),
    );
    let listener = Listener::bind(&ListenAddr::Tcp("127.0.0.1:0".into())).await?;
    let addr = listener.local_addr();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve(listener, handler, ServerLimits::default(), stopped));
    let mut conn = tokio::net::TcpStream::connect(&addr).await?;
    let mut request = Vec::new();
    for d in domains {
        mailsec_core::socketmap::encode(format!("postfix {d}").as_bytes(), &mut request);
    }
    conn.write_all(&request).await?;
    let (mut buf, mut replies) = (Vec::new(), Vec::new());
    while replies.len() < domains.len() {
        match mailsec_core::socketmap::decode(&buf, mailsec_core::socketmap::MAX_REPLY_LEN)? {
            Some(frame) => {
                replies.push(String::from_utf8_lossy(frame.payload(&buf)).into_owned());
                buf.drain(..frame.consumed);
            }
            None => {
                let mut chunk = [0u8; 4096];
                let n = conn.read(&mut chunk).await?;
                anyhow::ensure!(n > 0, "the daemon closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    drop(conn);
    let _ = stop.send(true);
    let _ = server.await;
    Ok(replies)
}

pub(crate) fn demo(args: DemoArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    net::runtime()?.block_on(async {
        let lab = Lab::start(LabConfig::default()).await?;
        let tmp = tempfile::Builder::new().prefix("mailsec-demo-").tempdir().context("cannot create a temporary directory")?;
        let files = lab.write_files(tmp.path())?;
        let resolver = Resolver::new(&DnsConfig {
            server: Some(lab.dns_addr()),
            trust_anchor: TrustAnchorSource::File(files.trust_anchor.clone()),
            timeout: Duration::from_secs(2),
            attempts: 1,
        })
        .await?;
        let mut fetch = FetchConfig::new().with_ca_file(&files.ca)?;
        fetch.ports = lab.ports();
        fetch.timeout = Duration::from_secs(5);
        let mut probe = mailsec_probe::ProbeConfig::new();
        probe.ports = lab.ports();
        let ctx = mailsec_check::Context {
            resolver,
            fetch,
            probe: Some(probe),
        };
        if !args.json {
            writeln!(out, "mailsec demo: a lab with {} scenario domains is running on loopback (DNS {}, signed private root).", SCENARIOS.len(), lab.dns_addr())?;
            writeln!(out, "Checking {} of them as a sender would see them.\n", DEMO.len())?;
        }
        let mut entries = Vec::new();
        let domains: Vec<String> = DEMO.iter().filter_map(|n| Scenario::find(n)).map(Scenario::domain).collect();
        let replies = daemon_replies(&ctx, &domains).await?;
        for (name, daemon_reply) in DEMO.iter().zip(replies) {
            let Some(s) = Scenario::find(name) else { continue };
            let domain = HostName::parse(&s.domain())?;
            let report = mailsec_check::check_domain(&ctx, &domain).await;
            if !args.json {
                let note = format!("{} -- a conformant sender must: {}", s.exercises, s.expected.label());
                check::print_report(out, &report, Some(&note))?;
            }
            entries.push(DemoEntry { expected: s.expected.label(), daemon_reply, report });
        }
        if args.json {
            output::json(out, &entries)?;
        } else {
            writeln!(out, "What `mailsec daemon` answers Postfix (smtp_tls_policy_maps = socketmap:inet:...:postfix), DANE first:")?;
            for e in &entries {
                writeln!(out, "  {:<24} {}", e.report.domain, e.daemon_reply)?;
            }
            writeln!(out)?;
            policy_host_demo(tmp.path(), out).await?;
            writeln!(out)?;
            writeln!(out, "Run `mailsec lab` to explore all {} scenarios by hand.", SCENARIOS.len())?;
        }
        Ok(Exit::Ok)
    })
}

/// The domain owner's side: a policy written as `mailsec sts publish` writes it, served by
/// `mailsec serve` (in process, on a loopback port, with a certificate from a CA of its own),
/// fetched over HTTPS with SNI and checked by the policy linter.
async fn policy_host_demo(dir: &std::path::Path, out: &mut dyn Write) -> anyhow::Result<()> {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (domain, host) = ("owner.test", "mta-sts.owner.test");
    let ca = mailsec_lab::ca::Ca::new(std::time::SystemTime::now())?;
    let issued = ca.issue(&[host], mailsec_lab::ca::LeafKind::Valid)?;
    let (policies, certs) = (dir.join("policies"), dir.join("certs").join(host));
    std::fs::create_dir_all(&policies)?;
    std::fs::create_dir_all(&certs)?;
    std::fs::write(certs.join("fullchain.pem"), &issued.chain_pem)?;
    std::fs::write(certs.join("privkey.pem"), &issued.key_pem)?;
    let text = crate::cmd::sts_publish::policy_text("enforce", &[format!("mx.{domain}")], 604_800);
    std::fs::write(policies.join(format!("{domain}.txt")), &text)?;
    let config = mailsec_serve::config::ServeConfig {
        listen: vec!["127.0.0.1:0".to_owned()],
        policy_dir: Some(policies),
        cert_dir: Some(dir.join("certs")),
        watch: false,
        ..Default::default()
    };
    let server = Arc::new(mailsec_serve::server::Server::new(
        config,
        Box::new(|_| {}),
    )?);
    let (https, http) = server.bind().await?;
    let addr = https.first().context("no listener")?.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(https, http, async {
        let _ = stopped.await;
    }));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.root_der().clone())?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(pki_types::ServerName::try_from(host)?.to_owned(), tcp)
        .await?;
    stream
        .write_all(
            format!(
                "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let _ = stop.send(());
    let _ = task.await;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or("").trim();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    let linted = mailsec_core::mta_sts::lint_policy(body.as_bytes());
    let verdict = match &linted.parsed {
        Some(p)
            if !linted
                .diagnostics
                .iter()
                .any(mailsec_core::Diagnostic::is_error) =>
        {
            format!(
                "a valid {} policy (max_age {})",
                p.mode,
                p.max_age.seconds()
            )
        }
        _ => "NOT a valid policy".to_owned(),
    };
    writeln!(
        out,
        "The domain owner's side: `mailsec sts publish {domain} --mode enforce --mx mx.{domain}` writes the policy, `mailsec serve` publishes it:"
    )?;
    writeln!(
        out,
        "  GET https://{host}/.well-known/mta-sts.txt (SNI {host}, on {addr}) -> {status}, {content_type}, {} lines ending in CRLF: {verdict}",
        body.matches("\r\n").count()
    )?;
    Ok(())
}
