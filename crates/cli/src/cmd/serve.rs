//! `mailsec serve` and `mailsec serve stats`: the policy host of `mailsec-serve`.

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::Context;
use mailsec_serve::access::Stats;
use mailsec_serve::config::ServeConfig;
use mailsec_serve::server::Server;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::{ServeArgs, ServeCommand, ServeStatsArgs};
use crate::cmd::net;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(args: ServeArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    if let Some(ServeCommand::Stats(s)) = &args.command {
        return stats(s, out);
    }
    let config = load_config(&args)?;
    let notice = |line: &str| eprintln!("mailsec serve: {line}");
    if args.check_config {
        // The same load as a start: every file refused is one line on stderr.
        let loaded = Server::check(&config)?;
        for line in &loaded.refused {
            notice(line);
        }
        let (served, refused) = (loaded.site.len(), loaded.refused.len());
        writeln!(
            out,
            "{}: {served} policy host{} served{}",
            args.config
                .as_deref()
                .map_or_else(|| "options".to_owned(), |p| p.display().to_string()),
            if served == 1 { "" } else { "s" },
            if refused == 0 {
                String::new()
            } else {
                format!(
                    ", {refused} file{} refused",
                    if refused == 1 { "" } else { "s" }
                )
            }
        )?;
        return Ok(Exit::from_errors(refused > 0));
    }
    let server = Arc::new(Server::new(config, Box::new(notice))?);
    net::runtime()?.block_on(async move {
        let (https, http) = server.bind().await?;
        let mut addrs: Vec<String> = https
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| format!("https://{a}"))
            .collect();
        addrs.extend(
            http.iter()
                .filter_map(|l| l.local_addr().ok())
                .map(|a| format!("http://{a}")),
        );
        let site = server.site();
        writeln!(
            out,
            "mailsec serve: {} policy host{} on {}",
            site.len(),
            if site.len() == 1 { "" } else { "s" },
            addrs.join(" ")
        )?;
        out.flush()?;
        let mut term = signal(SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        server.run(https, http, shutdown).await?;
        Ok(Exit::Ok)
    })
}

fn load_config(args: &ServeArgs) -> anyhow::Result<ServeConfig> {
    let mut config = match &args.config {
        Some(path) => ServeConfig::load(path)?,
        None => ServeConfig {
            // Without a file nothing else names the directories: the options must.
            policy_dir: args.policy_dir.clone(),
            cert_dir: args.cert_dir.clone(),
            ..ServeConfig::default()
        },
    };
    if !args.listen.is_empty() {
        config.listen.clone_from(&args.listen);
    }
    if !args.http_listen.is_empty() {
        config.http_listen.clone_from(&args.http_listen);
    }
    if let Some(d) = &args.policy_dir {
        config.policy_dir = Some(d.clone());
    }
    if let Some(d) = &args.cert_dir {
        config.cert_dir = Some(d.clone());
    }
    if let Some(l) = &args.access_log {
        config.access_log = Some(l.clone());
    }
    let origin = args
        .config
        .as_deref()
        .map_or_else(|| "options".to_owned(), |p| p.display().to_string());
    config.check(&origin)?;
    Ok(config)
}

fn stats(args: &ServeStatsArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut stats = Stats::default();
    for path in &args.logs {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            ))
        };
        for line in reader.split(b'\n') {
            let line = line.with_context(|| format!("cannot read {}", path.display()))?;
            stats.add_line(&String::from_utf8_lossy(&line));
        }
    }
    let served: Vec<String> = match &args.policy_dir {
        Some(dir) => std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".txt")
                    .filter(|_| !name.starts_with('.'))
                    .map(str::to_ascii_lowercase)
            })
            .collect(),
        None => Vec::new(),
    };
    stats.finish(served.iter().map(String::as_str));
    if args.json {
        output::json(out, &stats)?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{} line{}, {} polic{} fetched, {} other request{}{}",
        stats.lines,
        if stats.lines == 1 { "" } else { "s" },
        stats.domains.len(),
        if stats.domains.len() == 1 { "y" } else { "ies" },
        stats.other_requests,
        if stats.other_requests == 1 { "" } else { "s" },
        if stats.skipped > 0 {
            format!(", {} line(s) not from an access log skipped", stats.skipped)
        } else {
            String::new()
        }
    )?;
    for (domain, d) in &stats.domains {
        writeln!(
            out,
            "\n{domain}: {} fetch{}, first {}, last {}",
            d.fetches,
            if d.fetches == 1 { "" } else { "es" },
            d.first,
            d.last
        )?;
        let mut agents: Vec<_> = d.user_agents.iter().collect();
        agents.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (agent, n) in agents {
            writeln!(out, "  {n:>8}  {agent}")?;
        }
        let mut addrs: Vec<_> = d.addresses.iter().collect();
        addrs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        writeln!(
            out,
            "  from {} address{}: {}",
            addrs.len(),
            if addrs.len() == 1 { "" } else { "es" },
            addrs
                .iter()
                .take(5)
                .map(|(a, n)| format!("{a} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if args.policy_dir.is_some() {
        if stats.not_fetched.is_empty() {
            writeln!(out, "\nevery domain served was fetched")?;
        } else {
            writeln!(out, "\nnobody fetched: {}", stats.not_fetched.join(" "))?;
        }
    }
    Ok(Exit::Ok)
}
