//! # mailsec-probe
//!
//! A TLS probe for mail servers: connects, starts TLS the way the service does, and captures
//! what the server presents, with a limit on every wait and every buffer. It observes; it does
//! not judge. The DANE (RFC 7672) or PKIX decision is the caller's, made from the captured chain
//! (or by an enforcing verifier plugged in through [`ProbeConfig::verifier`]).
//!
//! ```text
//!   probe_host(resolver, host, port, starttls, config)
//!     │  A and AAAA lookups (each outcome and DNSSEC status kept: RFC 7672 §2.2.2)
//!     v
//!   probe_addr(addr, sni, starttls, config)        at most `max_concurrency` at once
//!     │  TCP to ports.dial(port)          ── connect_timeout
//!     │  greeting, capabilities, STARTTLS ── step_timeout per reply; max_line, max_lines,
//!     │                                      max_read; clear text after the go-ahead refused
//!     │  TLS handshake (rustls, SNI)      ── step_timeout; the verifier records the chain
//!     │                                      (max_chain, max_chain_bytes) and checks signatures
//!     │  capabilities again over TLS, QUIT
//!     v                                   ── deadline over all of it
//!   AddrProbe { greeting, capabilities before/after, starttls_offered, tls, chain, timings, error }
//! ```
//!
//! ## Protocols
//!
//! | [`Starttls`] | ports | dialogue |
//! |---|---|---|
//! | `Smtp` | 25, 587 | banner `220` (RFC 5321 §4.2, multi-line replies §4.2.1), `EHLO` (§4.1.1.1), `STARTTLS` → `220` (RFC 3207 §4), handshake, `EHLO` again (RFC 3207 §4.2), `QUIT` |
//! | `Imap` | 143 | `* OK` greeting, `a CAPABILITY`, `b STARTTLS` → `b OK` (RFC 3501 §6.2.1, RFC 9051 §6.2.1), handshake, `c CAPABILITY`, `LOGOUT` |
//! | `Pop3` | 110 | `+OK` greeting, `CAPA` (RFC 2449 §5), `STLS` → `+OK` (RFC 2595 §4), handshake, `CAPA`, `QUIT` |
//! | `None` | 443, 465, 993, 995 | implicit TLS (RFC 8314 §3.3): the handshake at once; then on 465 the banner and `EHLO`, on 993 the IMAP greeting and `CAPABILITY`, on 995 the POP3 greeting and `CAPA` |
//!
//! [`Starttls::for_port`] gives the default of each port. The protocol after implicit TLS is
//! chosen by the *logical* port; [`ProbeConfig::ports`] only changes the port dialled (labs).
//!
//! ## Rules kept
//!
//! - Reply lines may be 4096 bytes, not the 512 of RFC 5321 §4.5.3.1.5 (servers exceed it);
//!   longer lines, replies of more than 256 lines and sessions of more than 64 KiB fail with
//!   their own error. All three are [`ProbeConfig`] fields.
//! - Bytes that arrive after the STARTTLS go-ahead and before the handshake are refused (RFC 3207
//!   §4.2, RFC 2595 §3.1: nothing learnt in clear text may be used after TLS); the capabilities
//!   are read again over TLS.
//! - SNI is a parameter: for DANE it is the TLSA base domain (RFC 7672 §8.1), which is not always
//!   the MX host name. An IP address is not sent as SNI (RFC 6066 §3).
//! - The default verifier accepts any chain but checks the handshake signatures with ring's
//!   algorithms, so the server must hold the leaf's private key. The chain is recorded before
//!   the caller's verifier runs, so it is reported also when that verifier refuses it.
//! - TLS 1.2 and 1.3 only (rustls). Session resumption is off: every probe sees a certificate.
//! - Every failure is a [`ProbeError`] with its [`Step`] and, where one applies, its TLS-RPT
//!   result type (RFC 8460 §4.3). A failure after the handshake keeps what was captured.
//!
//! ## Features
//!
//! `net` (default): the probe. Without it only [`reply`], the sans-IO reply parsers, is built
//! (for the fuzz targets).

#![forbid(unsafe_code)]

pub mod reply;

#[cfg(feature = "net")]
mod capture;
#[cfg(feature = "net")]
mod config;
#[cfg(feature = "net")]
mod error;
#[cfg(feature = "net")]
mod result;
#[cfg(feature = "net")]
mod scan;
#[cfg(feature = "net")]
mod session;
#[cfg(feature = "net")]
mod tls12;

#[cfg(feature = "net")]
pub use crate::config::{
    ECDSA_SCHEMES, ProbeConfig, RSA_SCHEMES, Starttls, StarttlsError, default_ehlo_name,
};
#[cfg(feature = "net")]
pub use crate::error::{ProbeError, Step};
#[cfg(feature = "net")]
pub use crate::result::{AddrProbe, CertSummary, HostProbe, PresentedCert, Timing, TlsSession};
#[cfg(feature = "net")]
pub use crate::scan::{
    CipherOrder, EarlyData, Negotiated, Renegotiation, TlsScan, WeakSuite, scan_tls,
};
#[cfg(feature = "net")]
pub use net::{probe_addr, probe_host, probe_host_with_sni};

#[cfg(feature = "net")]
mod net {
    use std::net::{IpAddr, SocketAddr};

    use futures_util::StreamExt;
    use mailsec_dns::Resolver;
    use tokio::time::Instant;

    use crate::config::{ProbeConfig, Starttls};
    use crate::result::{AddrProbe, HostProbe};
    use crate::session::{Cx, run};

    /// Probes one address. `addr` carries the *logical* port (25, 465, 993, ...); the port
    /// dialled is `config.ports.dial(port)`. `sni` is the name sent in the ClientHello (for DANE
    /// the TLSA base domain, RFC 7672 §8.1). Never fails: the result says how far the probe got
    /// and why it stopped ([`AddrProbe::error`]).
    pub async fn probe_addr(
        addr: SocketAddr,
        sni: &str,
        starttls: Starttls,
        config: &ProbeConfig,
    ) -> AddrProbe {
        let started = Instant::now();
        let dialled = config.ports.dial(addr.port());
        let mut cx = Cx {
            config,
            deadline: started.checked_add(config.deadline),
            out: AddrProbe::new(addr, dialled, sni, starttls),
        };
        if let Err(e) = run(&mut cx).await {
            cx.out.error = Some(e);
        }
        cx.out.elapsed = started.elapsed();
        cx.out
    }

    /// Resolves `host` (A and AAAA, each outcome kept with its DNSSEC status) and probes every
    /// address, at most [`ProbeConfig::max_concurrency`] at once, with `host` as SNI. Addresses
    /// appear in answer order, A before AAAA, duplicates once; those beyond
    /// [`ProbeConfig::max_addresses`] are listed in [`HostProbe::skipped`].
    pub async fn probe_host(
        resolver: &Resolver,
        host: &str,
        port: u16,
        starttls: Starttls,
        config: &ProbeConfig,
    ) -> HostProbe {
        probe_host_with_sni(resolver, host, host, port, starttls, config).await
    }

    /// [`probe_host`] with another SNI than the host name: the TLSA base domain when it differs
    /// from the MX host (RFC 7672 §2.2.2, §8.1: a secure CNAME chain moves it to the target).
    pub async fn probe_host_with_sni(
        resolver: &Resolver,
        host: &str,
        sni: &str,
        port: u16,
        starttls: Starttls,
        config: &ProbeConfig,
    ) -> HostProbe {
        let (a, aaaa) = resolver.addresses(host).await;
        let mut ips: Vec<IpAddr> = Vec::new();
        for response in [&a, &aaaa].into_iter().flatten() {
            for ip in response.records() {
                if !ips.contains(ip) {
                    ips.push(*ip);
                }
            }
        }
        let skipped = ips.split_off(ips.len().min(config.max_addresses));
        let addrs = futures_util::stream::iter(ips)
            .map(|ip| probe_addr(SocketAddr::new(ip, port), sni, starttls, config))
            .buffered(config.max_concurrency.max(1))
            .collect()
            .await;
        HostProbe {
            host: host.to_owned(),
            port,
            dialled_port: config.ports.dial(port),
            starttls,
            sni: sni.to_owned(),
            a,
            aaaa,
            addrs,
            skipped,
        }
    }
}
