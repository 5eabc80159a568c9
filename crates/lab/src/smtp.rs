//! The lab's SMTP servers: one per MX host, each on its own loopback address and the lab's SMTP
//! port, presenting that host's certificate chain after STARTTLS (RFC 3207). Mail is accepted
//! and discarded.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::SignatureScheme;
use rustls::server::{
    ClientHello, ResolvesServerCert, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::sign::CertifiedKey;
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
    /// A second, RSA chain for clients that offer only RSA signature schemes.
    pub(crate) rsa: Option<&'a Issued>,
    /// Abort a handshake whose SNI names another host than `name` (none is accepted).
    pub(crate) strict_sni: bool,
}

/// Picks the chain by the ClientHello (RFC 8446 §4.2.3, §4.4.2.2): the ECDSA chain unless the
/// client offers no ECDSA scheme and an RSA chain exists; with `strict_sni`, no chain at all
/// for an SNI other than the host's name, which aborts the handshake.
#[derive(Debug)]
struct ByClientHello {
    name: String,
    ecdsa: Arc<CertifiedKey>,
    rsa: Option<Arc<CertifiedKey>>,
    strict_sni: bool,
}

impl ResolvesServerCert for ByClientHello {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if self.strict_sni
            && let Some(sni) = hello.server_name()
            && !sni.eq_ignore_ascii_case(&self.name)
        {
            return None;
        }
        let ecdsa = hello.signature_schemes().iter().any(|s| {
            matches!(
                s,
                SignatureScheme::ECDSA_NISTP256_SHA256
                    | SignatureScheme::ECDSA_NISTP384_SHA384
                    | SignatureScheme::ECDSA_NISTP521_SHA512
            )
        });
        match &self.rsa {
            Some(rsa) if !ecdsa => Some(rsa.clone()),
            _ => Some(self.ecdsa.clone()),
        }
    }
}

fn certified(
    provider: &rustls::crypto::CryptoProvider,
    issued: &Issued,
) -> Result<Arc<CertifiedKey>, LabError> {
    let key = provider
        .key_provider
        .load_private_key(issued.private_key())
        .map_err(|e| LabError::Tls(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(issued.chain.clone(), key)))
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
                let resolver = ByClientHello {
                    name: h.name.to_owned(),
                    ecdsa: certified(&provider, h.issued)?,
                    rsa: h.rsa.map(|r| certified(&provider, r)).transpose()?,
                    strict_sni: h.strict_sni,
                };
                let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| LabError::Tls(e.to_string()))?
                    .with_no_client_auth()
                    .with_cert_resolver(Arc::new(resolver));
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
