//! Test servers on 127.0.0.1 (scripted mail dialogues, TLS with rcgen certificates) and helpers.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mailsec_core::ports::PortMap;
use mailsec_probe::{AddrProbe, ProbeConfig, Starttls, probe_addr};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Fails the test instead of hanging it.
pub(crate) async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the probe hung: no result within 60 s")
}

/// Limits for tests: generous timeouts for steps that must succeed on a loaded machine.
pub(crate) fn config() -> ProbeConfig {
    let mut c = ProbeConfig::new();
    c.connect_timeout = Duration::from_secs(5);
    c.step_timeout = Duration::from_secs(5);
    c.deadline = Duration::from_secs(20);
    c.ehlo_name = "probe.mailsec.invalid".into();
    c
}

/// Probes the logical `port` of 127.0.0.1, dialling `server` instead.
pub(crate) async fn probe_local(
    server: SocketAddr,
    port: u16,
    starttls: Starttls,
    mut config: ProbeConfig,
) -> AddrProbe {
    config.ports = PortMap::from([(port, server.port())]);
    let probe = within(probe_addr(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        "mail.example",
        starttls,
        &config,
    ))
    .await;
    assert_eq!(
        (probe.port, probe.dialled_port),
        (port, server.port()),
        "the logical and the dialled port are both reported"
    );
    probe
}

/// Starts a server that runs `session` for every connection.
pub(crate) async fn serve<F, Fut>(session: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_at(IpAddr::V4(Ipv4Addr::LOCALHOST), session).await
}

/// Starts a server on `ip` (127.0.0.1 or ::1) that runs `session` for every connection.
pub(crate) async fn serve_at<F, Fut>(ip: IpAddr, session: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let session = Arc::new(session);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(session(tcp));
        }
    });
    addr
}

/// A certificate chain and the leaf's key.
#[derive(Clone)]
pub(crate) struct TestPki {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: Arc<PrivateKeyDer<'static>>,
}

impl TestPki {
    /// A self-signed P-256 certificate for `name` (SAN and CN).
    pub(crate) fn self_signed(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            chain: vec![cert.der().clone()],
            key: Arc::new(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            ))),
        }
    }

    /// The DER of each certificate.
    pub(crate) fn ders(&self) -> Vec<Vec<u8>> {
        self.chain.iter().map(|c| c.to_vec()).collect()
    }

    /// A TLS 1.2 and 1.3 acceptor presenting this chain.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor_with(&[&rustls::version::TLS13, &rustls::version::TLS12])
    }

    pub(crate) fn acceptor_with(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> TlsAcceptor {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(self.chain.clone(), self.key.clone_key())
        .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }
}

/// What a scripted server does with one command line.
pub(crate) enum Answer {
    /// Sends the text and reads the next command.
    Send(String),
    /// Sends the text and starts TLS (STARTTLS go-ahead).
    StartTls(String),
    /// Sends the text and ends the session.
    Quit(String),
}

/// How a scripted session ended.
pub(crate) enum Next {
    StartTls,
    Done,
}

/// Sends `greeting`, then answers each command line with `respond` until STARTTLS, QUIT or EOF.
pub(crate) async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    greeting: Option<&str>,
    respond: &(dyn Fn(&str) -> Answer + Send + Sync),
) -> Next {
    if let Some(g) = greeting
        && write(io, g).await.is_err()
    {
        return Next::Done;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match io.read_line(&mut line).await {
            Ok(0) | Err(_) => return Next::Done,
            Ok(_) => {}
        }
        let (text, next) = match respond(line.trim_end()) {
            Answer::Send(t) => (t, None),
            Answer::StartTls(t) => (t, Some(Next::StartTls)),
            Answer::Quit(t) => (t, Some(Next::Done)),
        };
        if write(io, &text).await.is_err() {
            return Next::Done;
        }
        if let Some(next) = next {
            return next;
        }
    }
}

/// Writes `text` in one write, lines ended with CRLF.
pub(crate) async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    text: &str,
) -> std::io::Result<()> {
    let mut bytes = text.replace('\n', "\r\n").into_bytes();
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    io.get_mut().write_all(&bytes).await?;
    io.get_mut().flush().await
}

/// The verb of a command line, upper case, and for IMAP the tag before it.
pub(crate) fn verb(line: &str, tagged: bool) -> (String, String) {
    let mut words = line.split_whitespace();
    let tag = if tagged {
        words.next().unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    (tag, words.next().unwrap_or_default().to_ascii_uppercase())
}

/// A mail server: `greeting` and `respond` in clear text, then (after STARTTLS, or at once when
/// `implicit`) the TLS handshake and `greeting_tls`/`respond_tls` over TLS.
pub(crate) struct MailServer {
    pub(crate) implicit: bool,
    pub(crate) greeting: &'static str,
    pub(crate) respond: fn(&str) -> Answer,
    pub(crate) greeting_tls: Option<&'static str>,
    pub(crate) respond_tls: fn(&str) -> Answer,
    pub(crate) acceptor: TlsAcceptor,
}

impl MailServer {
    pub(crate) async fn start(self) -> SocketAddr {
        self.start_at(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// The same server on another loopback address (`::1` for IPv6).
    pub(crate) async fn start_at(self, ip: IpAddr) -> SocketAddr {
        let server = Arc::new(self);
        serve_at(ip, move |tcp| {
            let server = server.clone();
            async move {
                let tcp = if server.implicit {
                    tcp
                } else {
                    let mut plain = BufReader::new(tcp);
                    match dialogue(&mut plain, Some(server.greeting), &server.respond).await {
                        Next::StartTls => plain.into_inner(),
                        Next::Done => return,
                    }
                };
                let Ok(tls) = server.acceptor.accept(tcp).await else {
                    return;
                };
                let mut secure = BufReader::new(tls);
                dialogue(&mut secure, server.greeting_tls, &server.respond_tls).await;
                let _ = secure.get_mut().shutdown().await;
            }
        })
        .await
    }
}

/// SMTP: EHLO lists `extensions`, STARTTLS goes ahead when listed, QUIT ends.
pub(crate) fn smtp(line: &str, extensions: &[&str]) -> Answer {
    match verb(line, false).1.as_str() {
        "EHLO" => {
            let mut lines = vec!["mail.example greets you".to_owned()];
            lines.extend(extensions.iter().map(|e| (*e).to_owned()));
            let last = lines.len() - 1;
            let text = lines
                .iter()
                .enumerate()
                .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                .collect::<Vec<_>>()
                .join("\n");
            Answer::Send(text)
        }
        "STARTTLS" if extensions.contains(&"STARTTLS") => {
            Answer::StartTls("220 2.0.0 ready to start TLS".into())
        }
        "QUIT" => Answer::Quit("221 2.0.0 bye".into()),
        _ => Answer::Send("502 5.5.1 not implemented".into()),
    }
}

/// IMAP: CAPABILITY lists `caps`, STARTTLS goes ahead when listed, LOGOUT ends.
pub(crate) fn imap(line: &str, caps: &str) -> Answer {
    let (tag, verb) = verb(line, true);
    match verb.as_str() {
        "CAPABILITY" => Answer::Send(format!(
            "* CAPABILITY {caps}\n{tag} OK CAPABILITY completed"
        )),
        "STARTTLS" if caps.contains("STARTTLS") => {
            Answer::StartTls(format!("{tag} OK Begin TLS negotiation now"))
        }
        "LOGOUT" => Answer::Quit(format!("* BYE logging out\n{tag} OK LOGOUT completed")),
        _ => Answer::Send(format!("{tag} BAD unknown command")),
    }
}

/// POP3: CAPA lists `caps` (one per line), STLS goes ahead when listed, QUIT ends.
pub(crate) fn pop3(line: &str, caps: &[&str]) -> Answer {
    match verb(line, false).1.as_str() {
        "CAPA" => Answer::Send(format!(
            "+OK capability list follows\n{}\n.",
            caps.join("\n")
        )),
        "STLS" if caps.contains(&"STLS") => Answer::StartTls("+OK begin TLS negotiation".into()),
        "QUIT" => Answer::Quit("+OK bye".into()),
        _ => Answer::Send("-ERR unknown command".into()),
    }
}
