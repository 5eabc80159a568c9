//! The lab's SMTP servers: one per MX host, each on its own loopback address and the lab's SMTP
//! port, presenting that host's certificate chain after STARTTLS (RFC 3207). Mail is accepted
//! and discarded.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::ca::Issued;
use crate::{LabError, accept_failed, bind_error};

/// Longest command line accepted (RFC 5321 §4.5.3.1.4: 512 octets; generous here).
const MAX_LINE: usize = 4096;

/// One server to start.
pub(crate) struct SmtpHost<'a> {
    pub(crate) name: &'a str,
    pub(crate) addr: Ipv4Addr,
    pub(crate) starttls: bool,
    pub(crate) issued: &'a Issued,
}

/// Binds every host on the same port (picked by the first bind when `port` is 0) and starts
/// them. Returns the port and the tasks. `listeners` (all the lab opens) is for the error when
/// the open-files limit is reached.
pub(crate) async fn start(
    hosts: &[SmtpHost<'_>],
    port: u16,
    listeners: u64,
) -> Result<(u16, Vec<tokio::task::JoinHandle<()>>), LabError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut last_err = None;
    for _ in 0..20 {
        let mut bound = Vec::new();
        let mut chosen = port;
        let mut failed = false;
        for h in hosts {
            match TcpListener::bind(SocketAddr::from((h.addr, chosen))).await {
                Ok(l) => {
                    if chosen == 0 {
                        chosen = l
                            .local_addr()
                            .map_err(|e| LabError::Bind {
                                what: "SMTP",
                                source: e,
                            })?
                            .port();
                    }
                    bound.push(l);
                }
                Err(e) if port == 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
                    last_err = Some(e);
                    failed = true;
                    break;
                }
                Err(e) => return Err(bind_error("SMTP", e, listeners)),
            }
        }
        if failed {
            continue;
        }
        // One session cache for every host, instead of 25 KiB of cache per host.
        let sessions: Arc<dyn StoresServerSessions> = ServerSessionMemoryCache::new(4096);
        let mut tasks = Vec::new();
        for (h, listener) in hosts.iter().zip(bound) {
            let acceptor = if h.starttls {
                let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| LabError::Tls(e.to_string()))?
                    .with_no_client_auth()
                    .with_single_cert(h.issued.chain.clone(), h.issued.private_key())
                    .map_err(|e| LabError::Tls(e.to_string()))?;
                config.session_storage = sessions.clone();
                Some(TlsAcceptor::from(Arc::new(config)))
            } else {
                None
            };
            let name: Arc<str> = Arc::from(h.name);
            tasks.push(tokio::spawn(async move {
                loop {
                    let tcp = match listener.accept().await {
                        Ok((tcp, _)) => tcp,
                        Err(e) => {
                            accept_failed("SMTP", &e).await;
                            continue;
                        }
                    };
                    let (name, acceptor) = (name.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(
                            Duration::from_secs(120),
                            session(tcp, &name, acceptor),
                        )
                        .await;
                    });
                }
            }));
        }
        return Ok((chosen, tasks));
    }
    Err(LabError::Bind {
        what: "SMTP",
        source: last_err.unwrap_or_else(|| std::io::Error::other("no common free port")),
    })
}

async fn session(
    tcp: tokio::net::TcpStream,
    name: &str,
    acceptor: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let mut plain = BufReader::new(tcp);
    plain
        .get_mut()
        .write_all(format!("220 {name} ESMTP mailsec lab\r\n").as_bytes())
        .await?;
    match dialogue(&mut plain, name, acceptor.is_some(), false).await? {
        Next::StartTls => {
            let Some(acceptor) = acceptor else {
                return Ok(());
            };
            let tls = acceptor.accept(plain.into_inner()).await?;
            let mut tls = BufReader::new(tls);
            dialogue(&mut tls, name, false, true).await?;
        }
        Next::Quit => {}
    }
    Ok(())
}

enum Next {
    StartTls,
    Quit,
}

async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    name: &str,
    offer_tls: bool,
    secure: bool,
) -> std::io::Result<Next> {
    let mut line = Vec::new();
    let mut in_data = false;
    loop {
        line.clear();
        let n = (&mut *io)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(Next::Quit);
        }
        if in_data {
            if line == b".\r\n" || line == b".\n" {
                in_data = false;
                reply(io, "250 2.0.0 accepted and discarded").await?;
            }
            continue;
        }
        let cmd = String::from_utf8_lossy(&line)
            .trim_end()
            .to_ascii_uppercase();
        let verb = cmd.split_whitespace().next().unwrap_or_default().to_owned();
        match verb.as_str() {
            "EHLO" => {
                let ext = if offer_tls {
                    "250-STARTTLS\r\n250 8BITMIME"
                } else {
                    "250 8BITMIME"
                };
                reply(io, &format!("250-{name}\r\n250-PIPELINING\r\n{ext}")).await?;
            }
            "HELO" => reply(io, &format!("250 {name}")).await?,
            "STARTTLS" if offer_tls && !secure => {
                reply(io, "220 2.0.0 ready to start TLS").await?;
                return Ok(Next::StartTls);
            }
            "STARTTLS" => reply(io, "502 5.5.1 STARTTLS not offered").await?,
            "MAIL" | "RCPT" | "RSET" | "NOOP" => reply(io, "250 2.0.0 ok").await?,
            "DATA" => {
                in_data = true;
                reply(io, "354 end with <CRLF>.<CRLF>").await?;
            }
            "QUIT" => {
                reply(io, "221 2.0.0 bye").await?;
                return Ok(Next::Quit);
            }
            _ => reply(io, "500 5.5.2 unrecognised command").await?,
        }
    }
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    text: &str,
) -> std::io::Result<()> {
    // One write per reply: clients such as `openssl s_client -starttls` read the STARTTLS reply
    // with a single read and would take a separately sent CRLF for the start of TLS.
    let w = io.get_mut();
    w.write_all(format!("{text}\r\n").as_bytes()).await?;
    w.flush().await
}
