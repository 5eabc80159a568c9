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
    report: mailsec_check::DomainReport,
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
        for name in DEMO {
            let Some(s) = Scenario::find(name) else { continue };
            let domain = HostName::parse(&s.domain())?;
            let report = mailsec_check::check_domain(&ctx, &domain).await;
            if !args.json {
                let note = format!("{} -- a conformant sender must: {}", s.exercises, s.expected.label());
                check::print_report(out, &report, Some(&note))?;
            }
            entries.push(DemoEntry { expected: s.expected.label(), report });
        }
        if args.json {
            output::json(out, &entries)?;
        } else {
            writeln!(out, "Run `mailsec lab` to explore all {} scenarios by hand.", SCENARIOS.len())?;
        }
        Ok(Exit::Ok)
    })
}
