//! `mailsec web`: the checker as a small web application (`mailsec-web`), on the resolver, CA
//! file and port map of the global options, so that it runs against `mailsec lab` unchanged.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::{NetArgs, WebArgs};
use crate::cmd::net;
use crate::exit::Exit;

pub(crate) fn run(args: WebArgs, net_args: &NetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    net::runtime()?.block_on(async {
        let probe = (!args.no_connect).then(|| {
            let mut p = mailsec_probe::ProbeConfig::new();
            p.ports = net_args.lab_ports.unwrap_or_default();
            p
        });
        let ctx = mailsec_check::Context {
            resolver: net::resolver(net_args).await?,
            fetch: net::fetch_config(net_args)?,
            probe,
        };
        let config = mailsec_web::Config {
            rate_per_minute: args.rate,
            deadline: Duration::from_secs(args.deadline),
            concurrency: args.concurrency as usize,
            cache_ttl: Duration::from_secs(args.cache),
            ..mailsec_web::Config::default()
        };
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr().context("the listening address")?;
        // Listen for the signals before saying where the server is: a signal sent after reading
        // that line must stop it the orderly way.
        let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        writeln!(
            out,
            "mailsec web: listening on http://{addr}/ (Ctrl-C stops it)"
        )?;
        out.flush()?;
        let stop = async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        };
        mailsec_web::serve(listener, Arc::new(ctx), config, stop).await;
        Ok(Exit::Ok)
    })
}
