//! `mailsec daemon`: the Postfix socketmap policy server of `mailsec-daemon`, on the resolver,
//! CA file and port map of the global options, so that it runs against `mailsec lab` unchanged.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use mailsec_core::mta_sts::sender::Rules;
use mailsec_daemon::config::{Config, import_snawoot};
use mailsec_daemon::handler::PolicyHandler;
use mailsec_daemon::metrics::Metrics;
use mailsec_daemon::resolve::{PolicyResolver, ResolverConfig};
use mailsec_daemon::server::{ListenAddr, Listener, serve};
use mailsec_daemon::store::EntryStore;
use mailsec_sender::cache::{self, Layered, Memory};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::cli::{DaemonArgs, NetArgs};
use crate::cmd::net;
use crate::exit::Exit;

/// How often entries that no longer answer anything are swept out of memory: as often as the
/// shortest time an answer without a policy is remembered (so that none stays much more than
/// twice that), between 5 s and a minute.
fn sweep_interval(rules: &Rules) -> Duration {
    Duration::from_secs(rules.negative_ttl.min(rules.temp_ttl).clamp(5, 60))
}

/// The policy cache named by `url`: memory alone, or a memory layer over a backend.
pub(crate) enum Store {
    Memory(Arc<Memory>),
    Layered(Arc<Layered>),
}

impl Store {
    pub(crate) fn entries(&self) -> Arc<dyn EntryStore> {
        match self {
            Self::Memory(m) => m.clone(),
            Self::Layered(l) => l.clone(),
        }
    }
}

/// Opens the policy cache named by `url`.
pub(crate) async fn open_store(url: &str, state_dir: &Path) -> anyhow::Result<Store> {
    if url == "memory:" {
        return Ok(Store::Memory(Arc::new(Memory::default())));
    }
    let backend = cache::open(url, state_dir).await?;
    Ok(Store::Layered(Arc::new(Layered::new(backend))))
}

fn load_config(args: &DaemonArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        for l in &args.listen {
            ListenAddr::parse(l).map_err(|e| anyhow::anyhow!("--listen: {e}"))?;
        }
        config.listen.clone_from(&args.listen);
    }
    if let Some(c) = &args.cache {
        config.cache = Some(c.clone());
    }
    if let Some(m) = &args.metrics {
        config.metrics = Some(m.clone());
    }
    config
        .check("command line")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(config)
}

pub(crate) fn run(
    args: DaemonArgs,
    net_args: &NetArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    if let Some(yaml) = &args.import_config {
        let text = std::fs::read_to_string(yaml)
            .with_context(|| format!("cannot read {}", yaml.display()))?;
        out.write_all(import_snawoot(&text, &yaml.display().to_string())?.as_bytes())?;
        return Ok(Exit::Ok);
    }
    let config = load_config(&args)?;
    if args.check_config {
        let listen: Vec<String> = config
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(
            out,
            "{}: valid: listen {}, cache {}, {} named zone{}",
            args.config
                .as_deref()
                .map_or_else(|| "defaults".to_owned(), |p| p.display().to_string()),
            listen.join(" "),
            config.cache_url(),
            config.zones.len(),
            if config.zones.len() == 1 { "" } else { "s" }
        )?;
        return Ok(Exit::Ok);
    }
    init_logging(args.log_json);
    net::runtime()?.block_on(async move {
        let store = open_store(config.cache_url(), config.state_dir()).await?;
        if args.dump || args.purge {
            let Store::Layered(l) = &store else {
                bail!("--dump and --purge read a persistent cache; `memory:` holds nothing between runs");
            };
            if args.purge {
                let n = l.backend().purge().await?;
                writeln!(out, "{}: {n} entr{} removed", l.backend().describe(), if n == 1 { "y" } else { "ies" })?;
            } else {
                for (domain, entry) in l.backend().list().await? {
                    serde_json::to_writer(&mut *out, &serde_json::json!({"domain": domain, "entry": entry}))?;
                    writeln!(out)?;
                }
            }
            return Ok(Exit::Ok);
        }
        daemon(args, config, net_args, store, out).await
    })
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILSEC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    // A second initialisation (tests in one process) is harmless: the first stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn daemon(
    args: DaemonArgs,
    config: Config,
    net_args: &NetArgs,
    store: Store,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let dns = net::resolver(net_args).await?;
    let mut fetch = net::fetch_config(net_args)?;
    if let Some(t) = config.fetch_timeout {
        fetch.timeout = Duration::from_secs(t);
    }
    let metrics = Arc::new(Metrics::new());
    let resolver = PolicyResolver::over_network(
        dns.clone(),
        fetch,
        store.entries(),
        ResolverConfig {
            rules: config.cache_rules.unwrap_or_default(),
            max_fetches: config.max_fetches.unwrap_or(64),
        },
        metrics.clone(),
    );
    let handler = PolicyHandler::new(resolver.clone(), dns, config.zones(), metrics.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    let mut bound = Vec::new();
    let mode = config.socket.mode_bits().map_err(|e| anyhow::anyhow!(e))?;
    for addr in config.listen_addrs() {
        let listener = Listener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        if let ListenAddr::Unix(path) = &addr {
            socket_permissions(path, &config, mode)?;
        }
        bound.push(listener.local_addr());
        servers.spawn(serve(
            listener,
            handler.clone(),
            config.limits(),
            stop_rx.clone(),
        ));
    }
    if let Some(m) = &config.metrics {
        let l = tokio::net::TcpListener::bind(m)
            .await
            .with_context(|| format!("cannot serve metrics on {m}"))?;
        bound.push(format!(
            "metrics http://{}/metrics",
            l.local_addr().map_or_else(|_| m.clone(), |a| a.to_string())
        ));
        servers.spawn(mailsec_daemon::metrics::serve(
            l,
            metrics.clone(),
            stop_rx.clone(),
        ));
    }
    if let Store::Layered(l) = &store {
        // A shared backend that went away is retried every 10 s; the gauge says whether it
        // answers.
        let (l, m, mut stop) = (l.clone(), metrics.clone(), stop_rx.clone());
        servers.spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(10)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                l.reconcile().await;
                m.set_backend_up(l.backend_ok());
            }
        });
    }
    {
        // Entries that no longer answer anything leave memory, and so do DANE gate answers
        // past their TTL.
        let mut stop = stop_rx.clone();
        let every = sweep_interval(&config.cache_rules.unwrap_or_default());
        let handler = handler.clone();
        servers.spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                let swept = resolver.sweep();
                let gates = handler.sweep();
                tracing::debug!(swept, gates, "stale cache entries forgotten from memory");
            }
        });
    }
    let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    writeln!(out, "mailsec daemon: listening on {}", bound.join(", "))?;
    out.flush()?;
    tracing::info!(
        listen = bound.join(" "),
        cache = config.cache_url(),
        "ready"
    );
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    loop {
        tokio::select! {
            _ = hup.recv() => reload(&args, &handler),
            _ = int.recv() => break,
            _ = term.recv() => break,
        }
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("stopping: no new connections; open ones finish their requests");
    let _ = stop_tx.send(true);
    while servers.join_next().await.is_some() {}
    Ok(Exit::Ok)
}

/// SIGHUP: the zones of the configuration file are reloaded; a file that fails to load leaves
/// the running configuration as it is.
fn reload(args: &DaemonArgs, handler: &PolicyHandler) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
    match load_config(args) {
        Ok(c) => {
            handler.set_zones(c.zones());
            tracing::info!(
                config = args
                    .config
                    .as_deref()
                    .map_or_else(|| "defaults".into(), |p| p.display().to_string()),
                "configuration reloaded (zones; listeners, cache and limits change on restart)"
            );
        }
        Err(e) => tracing::error!(error = %e, "configuration not reloaded; the running one stays"),
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
}

fn socket_permissions(path: &Path, config: &Config, mode: Option<u32>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let uid = match &config.socket.owner {
        Some(name) => Some(
            nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .with_context(|| format!("socket.owner: no user `{name}`"))?
                .uid,
        ),
        None => None,
    };
    let gid = match &config.socket.group {
        Some(name) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .with_context(|| format!("socket.group: no group `{name}`"))?
                .gid,
        ),
        None => None,
    };
    if uid.is_some() || gid.is_some() {
        nix::unistd::chown(path, uid, gid)
            .with_context(|| format!("cannot change the owner of {}", path.display()))?;
    }
    if let Some(m) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))
            .with_context(|| format!("cannot change the mode of {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_follow_the_shortest_negative_ttl_within_bounds() {
        let r = Rules::default();
        assert_eq!(sweep_interval(&r), Duration::from_secs(r.temp_ttl.min(60)));
        let short = Rules {
            negative_ttl: 1,
            ..r
        };
        assert_eq!(sweep_interval(&short), Duration::from_secs(5));
        let long = Rules {
            negative_ttl: 3_600,
            temp_ttl: 600,
            ..r
        };
        assert_eq!(sweep_interval(&long), Duration::from_secs(60));
    }
}
