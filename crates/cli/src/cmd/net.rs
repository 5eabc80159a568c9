//! Building the resolver and the fetcher from the global options.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use mailsec_core::diag::quote;
use mailsec_dns::{DnsConfig, Resolver, TrustAnchorSource};
use mailsec_fetch::FetchConfig;

use crate::cli::NetArgs;

/// `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub(crate) fn parse_server(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    bail!("--resolver {}: expected IP or IP:PORT", quote(s))
}

pub(crate) fn dns_config(net: &NetArgs) -> anyhow::Result<DnsConfig> {
    Ok(DnsConfig {
        server: net.resolver.as_deref().map(parse_server).transpose()?,
        trust_anchor: net
            .trust_anchor
            .clone()
            .map_or(TrustAnchorSource::IanaRoot, TrustAnchorSource::File),
        timeout: Duration::from_secs(net.dns_timeout.max(1)),
        attempts: 2,
    })
}

pub(crate) async fn resolver(net: &NetArgs) -> anyhow::Result<Resolver> {
    Resolver::new(&dns_config(net)?).await.context("DNS")
}

pub(crate) fn fetch_config(net: &NetArgs) -> anyhow::Result<FetchConfig> {
    let mut config = FetchConfig::new();
    if let Some(ca) = &net.ca_file {
        config = config.with_ca_file(ca)?;
    }
    config.timeout = Duration::from_secs(net.fetch_timeout.max(1));
    config.ports = net.lab_ports.unwrap_or_default();
    Ok(config)
}

/// A runtime for the commands that do I/O.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
