//! The I/O shell: connect, speak each protocol up to TLS, hand the socket to rustls, speak again
//! over TLS, quit. Every read goes through [`Lines`] (line length, line count and byte budget)
//! and every step through [`Cx::step`] (step timeout and whole-probe deadline).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::capture::Capture;
use crate::config::{ProbeConfig, Starttls, is_ehlo_name};
use crate::error::{ProbeError, Step};
use crate::reply::{
    ImapGreeting, ImapStatus, Pop3MultiLine, Pop3Status, ReplyError, ReplyLimits, SmtpReply,
    SmtpReplyParser, imap_capabilities, imap_greeting, imap_offers_starttls, imap_tagged,
    line_text, pop3_offers_stls, pop3_status, split_line,
};
use crate::result::{AddrProbe, PresentedCert, Timing, TlsSession};

/// One probe under way: its configuration, its deadline and the result being filled.
pub(crate) struct Cx<'a> {
    pub(crate) config: &'a ProbeConfig,
    /// `None` when the configured deadline is too far to represent.
    pub(crate) deadline: Option<Instant>,
    pub(crate) out: AddrProbe,
}

impl Cx<'_> {
    /// Runs `f` within `limit` and the probe's deadline, and records how long it took.
    async fn timed<T>(
        &mut self,
        step: Step,
        limit: Duration,
        f: impl Future<Output = T>,
    ) -> Result<T, ProbeError> {
        let start = Instant::now();
        let left = self
            .deadline
            .map_or(Duration::MAX, |d| d.saturating_duration_since(start));
        let (limit, by_deadline) = if left < limit {
            (left, true)
        } else {
            (limit, false)
        };
        let result = tokio::time::timeout(limit, f).await;
        self.out.timings.push(Timing {
            step,
            elapsed: start.elapsed(),
        });
        result.map_err(|_| match by_deadline {
            true => ProbeError::Deadline {
                step,
                after: self.config.deadline,
            },
            false => ProbeError::Timeout { step, after: limit },
        })
    }

    /// A step after connecting: [`Cx::timed`] with the step timeout, failures tagged with `step`.
    async fn step<T>(
        &mut self,
        step: Step,
        f: impl Future<Output = Result<T, Fail>>,
    ) -> Result<T, ProbeError> {
        self.timed(step, self.config.step_timeout, f)
            .await?
            .map_err(|e| e.at(step))
    }
}

/// Probes `cx.out.addr`; fills `cx.out` as it goes.
pub(crate) async fn run(cx: &mut Cx<'_>) -> Result<(), ProbeError> {
    let config = cx.config;
    let name = server_name(cx)?;
    let app = App::of(cx.out.starttls, cx.out.port);
    let (tcp, read) = until_tls(cx).await?;
    let tls = handshake(cx, tcp, name).await?;
    let mut secure = Lines::new(tls, config.reply_limits(), config.max_read, read);
    let implicit = cx.out.starttls == Starttls::None;
    match app {
        Some(App::Smtp) => {
            if implicit {
                smtp_greeting(cx, &mut secure).await?;
            }
            let ehlo = smtp_ehlo(cx, &mut secure, Step::CapabilitiesAfterTls).await?;
            cx.out.capabilities_after = Some(ehlo.ehlo_lines().to_vec());
        }
        Some(App::Imap) => {
            if implicit {
                imap_greeting_step(cx, &mut secure).await?;
            }
            // RFC 3501 §6.2.1: after STARTTLS the client MUST discard cached capabilities.
            let tag = if implicit { "a" } else { "c" };
            let caps = imap_capability(cx, &mut secure, tag, Step::CapabilitiesAfterTls).await?;
            cx.out.capabilities_after = Some(caps);
        }
        Some(App::Pop3) => {
            if implicit {
                pop3_greeting(cx, &mut secure).await?;
            }
            cx.out.capabilities_after =
                pop3_capa(cx, &mut secure, Step::CapabilitiesAfterTls).await?;
        }
        None => {}
    }
    quit(cx, &mut secure, app).await;
    Ok(())
}

/// The SNI to send: `cx.out.sni` without a final dot, as rustls takes it (an IP address is not
/// sent, RFC 6066 §3); records what will be sent.
pub(crate) fn server_name(cx: &mut Cx<'_>) -> Result<ServerName<'static>, ProbeError> {
    let sni = cx.out.sni.clone();
    let bare = sni.strip_suffix('.').unwrap_or(&sni);
    let name = ServerName::try_from(bare.to_owned()).map_err(|_| ProbeError::InvalidSni(sni))?;
    cx.out.sni_sent = match &name {
        ServerName::DnsName(n) => Some(n.as_ref().to_owned()),
        _ => None,
    };
    Ok(name)
}

/// Connects and speaks the protocol up to the point where TLS starts: the STARTTLS go-ahead
/// (RFC 3207, RFC 3501 §6.2.1, RFC 2595 §4), or at once for implicit TLS (RFC 8314 §3.3).
/// Returns the socket, ready for a ClientHello, and the bytes read so far (the session's
/// budget goes on over TLS). The TLS scan starts each of its handshakes here.
pub(crate) async fn until_tls(cx: &mut Cx<'_>) -> Result<(TcpStream, usize), ProbeError> {
    let config = cx.config;
    let app = App::of(cx.out.starttls, cx.out.port);
    if app == Some(App::Smtp) && !is_ehlo_name(&config.ehlo_name) {
        return Err(ProbeError::InvalidEhloName(config.ehlo_name.clone()));
    }
    let dial = cx.out.dialled();
    let tcp = cx
        .timed(
            Step::Connect,
            config.connect_timeout,
            TcpStream::connect(dial),
        )
        .await?
        .map_err(|e| ProbeError::Connect {
            addr: dial,
            source: Arc::new(e),
        })?;
    // Best effort: the commands are small and each waits for its reply.
    let _ = tcp.set_nodelay(true);
    let plain = Lines::new(tcp, config.reply_limits(), config.max_read, 0);
    match cx.out.starttls {
        Starttls::Smtp => smtp_starttls(cx, plain).await,
        Starttls::Imap => imap_starttls(cx, plain).await,
        Starttls::Pop3 => pop3_starttls(cx, plain).await,
        Starttls::None => {
            let (tcp, _, read) = plain.finish();
            Ok((tcp, read))
        }
    }
}

/// The application protocol spoken on the connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum App {
    Smtp,
    Imap,
    Pop3,
}

impl App {
    /// With STARTTLS, its protocol; with implicit TLS, the protocol of the logical port
    /// (RFC 8314 §3.3: 465 submissions, 993 imaps, 995 pop3s), or none (443).
    fn of(starttls: Starttls, port: u16) -> Option<Self> {
        match (starttls, port) {
            (Starttls::Smtp, _) | (Starttls::None, 465) => Some(Self::Smtp),
            (Starttls::Imap, _) | (Starttls::None, 993) => Some(Self::Imap),
            (Starttls::Pop3, _) | (Starttls::None, 995) => Some(Self::Pop3),
            (Starttls::None, _) => None,
        }
    }
}

/// RFC 5321 §4.2 banner, EHLO (§4.1.1.1), RFC 3207 STARTTLS up to its 220 go-ahead. (EHLO
/// again over TLS follows in [`run`]: RFC 3207 §4.2, the client MUST discard what it learnt
/// before TLS.)
async fn smtp_starttls(
    cx: &mut Cx<'_>,
    mut plain: Lines<TcpStream>,
) -> Result<(TcpStream, usize), ProbeError> {
    smtp_greeting(cx, &mut plain).await?;
    let ehlo = smtp_ehlo(cx, &mut plain, Step::Capabilities).await?;
    cx.out.capabilities_before = Some(ehlo.ehlo_lines().to_vec());
    let offered = ehlo.has_extension("STARTTLS");
    cx.out.starttls_offered = Some(offered);
    if !offered {
        quit(cx, &mut plain, Some(App::Smtp)).await;
        return Err(ProbeError::StarttlsNotOffered);
    }
    let reply = cx
        .step(Step::Starttls, plain.smtp_command("STARTTLS"))
        .await?;
    if reply.code != 220 {
        quit(cx, &mut plain, Some(App::Smtp)).await;
        return Err(ProbeError::StarttlsRefused {
            reply: reply.to_string(),
        });
    }
    ready(plain)
}

/// RFC 3501 §6.2.1 / RFC 9051 §6.2.1: greeting, `CAPABILITY`, `STARTTLS` up to its `OK`.
async fn imap_starttls(
    cx: &mut Cx<'_>,
    mut plain: Lines<TcpStream>,
) -> Result<(TcpStream, usize), ProbeError> {
    let greeting = imap_greeting_step(cx, &mut plain).await?;
    let caps = imap_capability(cx, &mut plain, "a", Step::Capabilities).await?;
    // STARTTLS is a command of the not-authenticated state only.
    let offered = greeting == ImapGreeting::Ok && imap_offers_starttls(&caps);
    cx.out.capabilities_before = Some(caps);
    cx.out.starttls_offered = Some(offered);
    if !offered {
        quit(cx, &mut plain, Some(App::Imap)).await;
        return Err(ProbeError::StarttlsNotOffered);
    }
    let (status, tagged, _) = cx
        .step(Step::Starttls, plain.imap_command("b", "STARTTLS"))
        .await?;
    if status != ImapStatus::Ok {
        quit(cx, &mut plain, Some(App::Imap)).await;
        return Err(ProbeError::StarttlsRefused { reply: tagged });
    }
    ready(plain)
}

/// RFC 2595 §4: greeting, `CAPA` (RFC 2449), `STLS` up to its `+OK`.
async fn pop3_starttls(
    cx: &mut Cx<'_>,
    mut plain: Lines<TcpStream>,
) -> Result<(TcpStream, usize), ProbeError> {
    pop3_greeting(cx, &mut plain).await?;
    let caps = pop3_capa(cx, &mut plain, Step::Capabilities).await?;
    // A server without CAPA cannot announce STLS.
    let offered = caps.as_deref().is_some_and(pop3_offers_stls);
    cx.out.capabilities_before = caps;
    cx.out.starttls_offered = Some(offered);
    if !offered {
        quit(cx, &mut plain, Some(App::Pop3)).await;
        return Err(ProbeError::StarttlsNotOffered);
    }
    let line = cx
        .step(Step::Starttls, async {
            plain.send(b"STLS\r\n").await?;
            plain.text_line().await
        })
        .await?;
    match pop3_status(&line) {
        Ok(Pop3Status::Ok) => {}
        Ok(Pop3Status::Err) => {
            quit(cx, &mut plain, Some(App::Pop3)).await;
            return Err(ProbeError::StarttlsRefused { reply: line });
        }
        Err(e) => return Err(ProbeError::from_reply(Step::Starttls, e)),
    }
    ready(plain)
}

/// After the server's go-ahead: refuses clear text sent after it (RFC 3207 §4.2, RFC 2595 §3.1:
/// nothing from before TLS may be taken into the TLS session). Returns the socket and the bytes
/// read so far.
fn ready(plain: Lines<TcpStream>) -> Result<(TcpStream, usize), ProbeError> {
    let (tcp, leftover, read) = plain.finish();
    if !leftover.is_empty() {
        return Err(ProbeError::Protocol {
            step: Step::Starttls,
            expected: "nothing between the STARTTLS reply and the TLS handshake",
            reply: line_text(&leftover),
        });
    }
    Ok((tcp, read))
}

/// The TLS handshake with the capturing verifier; records the chain (also when the handshake
/// then fails) and, on success, the negotiated parameters.
async fn handshake(
    cx: &mut Cx<'_>,
    tcp: TcpStream,
    name: ServerName<'static>,
) -> Result<TlsStream<TcpStream>, ProbeError> {
    let config = cx.config;
    let capture = Arc::new(Capture::new(
        config.verifier.clone(),
        config.max_chain,
        config.max_chain_bytes,
        config.signature_schemes.clone(),
    ));
    let client =
        client_config(config, capture.clone()).map_err(|error| ProbeError::Tls { error })?;
    let connector = TlsConnector::from(Arc::new(client));
    let result = cx
        .timed(
            Step::Handshake,
            config.step_timeout,
            connector.connect(name, tcp),
        )
        .await;
    let seen = capture.take();
    cx.out.chain = seen
        .chain
        .into_iter()
        .map(|c| PresentedCert::new(c.to_vec()))
        .collect();
    let stream = match result? {
        Ok(stream) => stream,
        Err(e) => return Err(seen.over.unwrap_or_else(|| handshake_error(e))),
    };
    let mut session = TlsSession::of(stream.get_ref().1);
    session.ocsp_stapled = seen.ocsp_stapled;
    cx.out.tls = Some(session);
    Ok(stream)
}

fn client_config(
    config: &ProbeConfig,
    verifier: Arc<Capture>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(only) = &config.signature_schemes {
        // TLS 1.2 picks the certificate type with the cipher suite (ECDHE_RSA vs ECDHE_ECDSA).
        provider.cipher_suites.retain(|s| match s {
            rustls::SupportedCipherSuite::Tls12(t) => t.sign.iter().any(|x| only.contains(x)),
            rustls::SupportedCipherSuite::Tls13(_) => true,
        });
    }
    let provider = Arc::new(provider);
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    client.alpn_protocols = config.alpn.clone();
    // Every probe sees a full handshake: a resumed session would skip the verifier.
    client.resumption = rustls::client::Resumption::disabled();
    Ok(client)
}

/// tokio-rustls reports rustls's errors as `InvalidData` I/O errors wrapping them.
fn handshake_error(e: io::Error) -> ProbeError {
    if let Some(error) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return ProbeError::Tls {
            error: error.clone(),
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => ProbeError::Closed {
            step: Step::Handshake,
        },
        _ => ProbeError::Io {
            step: Step::Handshake,
            source: Arc::new(e),
        },
    }
}

async fn smtp_greeting<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Cx<'_>,
    lines: &mut Lines<S>,
) -> Result<(), ProbeError> {
    let banner = cx.step(Step::Greeting, lines.smtp_reply()).await?;
    cx.out.greeting = Some(raw_lines(&banner));
    if banner.code != 220 {
        return Err(ProbeError::Protocol {
            step: Step::Greeting,
            expected: "a 220 greeting",
            reply: banner.to_string(),
        });
    }
    Ok(())
}

async fn smtp_ehlo<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Cx<'_>,
    lines: &mut Lines<S>,
    step: Step,
) -> Result<SmtpReply, ProbeError> {
    let command = format!("EHLO {}", cx.config.ehlo_name);
    let reply = cx.step(step, lines.smtp_command(&command)).await?;
    if step == Step::Capabilities && reply.code / 100 == 5 {
        // No ESMTP, so no STARTTLS: a sender falls back to HELO and finds no STARTTLS
        // (RFC 5321 §3.2; Postfix: "TLS is required, but was not offered").
        cx.out.starttls_offered = Some(false);
        quit(cx, lines, Some(App::Smtp)).await;
        return Err(ProbeError::StarttlsNotOffered);
    }
    if reply.code != 250 {
        return Err(ProbeError::Protocol {
            step,
            expected: "250 to EHLO",
            reply: reply.to_string(),
        });
    }
    Ok(reply)
}

async fn imap_greeting_step<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Cx<'_>,
    lines: &mut Lines<S>,
) -> Result<ImapGreeting, ProbeError> {
    let line = cx.step(Step::Greeting, lines.text_line()).await?;
    cx.out.greeting = Some(vec![line.clone()]);
    match imap_greeting(&line) {
        Ok(ImapGreeting::Bye) => Err(ProbeError::Protocol {
            step: Step::Greeting,
            expected: "an OK or PREAUTH greeting",
            reply: line,
        }),
        Ok(greeting) => Ok(greeting),
        Err(e) => Err(ProbeError::from_reply(Step::Greeting, e)),
    }
}

async fn imap_capability<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Cx<'_>,
    lines: &mut Lines<S>,
    tag: &str,
    step: Step,
) -> Result<Vec<String>, ProbeError> {
    let (status, tagged, untagged) = cx.step(step, lines.imap_command(tag, "CAPABILITY")).await?;
    if status != ImapStatus::Ok {
        return Err(ProbeError::Protocol {
            step,
            expected: "OK to CAPABILITY",
            reply: tagged,
        });
    }
    Ok(untagged
        .iter()
        .filter_map(|l| imap_capabilities(l))
        .flatten()
        .collect())
}

async fn pop3_greeting<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Cx<'_>,
    lines: &mut Lines<S>,
) -> Result<(), ProbeError> {
    let line = cx.step(Step::Greeting, lines.text_line()).await?;
    cx.out.greeting = Some(vec![line.clone()]);
    match pop3_status(&line) {
        Ok(Pop3Status::Ok) => Ok(()),
        Ok(Pop3Status::Err) => Err(ProbeError::Protocol {
            step: Step::Greeting,
            expected: "a +OK greeting",
            reply: line,
        }),
        Err(e) => Err(ProbeError::from_reply(Step::Greeting, e)),
    }
}

/// `CAPA`: the capability lines, or `None` when the server answers `-ERR` (no CAPA support).
async fn pop3_capa<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Cx<'_>,
    lines: &mut Lines<S>,
    step: Step,
) -> Result<Option<Vec<String>>, ProbeError> {
    cx.step(step, async {
        lines.send(b"CAPA\r\n").await?;
        let first = lines.text_line().await?;
        match pop3_status(&first).map_err(Fail::Reply)? {
            Pop3Status::Ok => Ok(Some(lines.pop3_multi_line().await?)),
            Pop3Status::Err => Ok(None),
        }
    })
    .await
}

/// QUIT / LOGOUT and TLS close_notify, best effort: the capture is complete, so a failure here
/// is timed but not reported.
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Cx<'_>,
    lines: &mut Lines<S>,
    app: Option<App>,
) {
    let _ = cx
        .step(Step::Quit, async {
            match app {
                Some(App::Smtp) => drop(lines.smtp_command("QUIT").await?),
                Some(App::Imap) => drop(lines.imap_command("z", "LOGOUT").await?),
                Some(App::Pop3) => {
                    lines.send(b"QUIT\r\n").await?;
                    lines.text_line().await?;
                }
                None => {}
            }
            lines.io.shutdown().await.map_err(Fail::Io)
        })
        .await;
}

fn raw_lines(reply: &SmtpReply) -> Vec<String> {
    let last = reply.lines.len().saturating_sub(1);
    reply
        .lines
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let sep = if i == last { ' ' } else { '-' };
            format!("{}{sep}{text}", reply.code)
        })
        .collect()
}

/// A failure inside a step, before it is tagged with the step.
#[derive(Debug)]
pub(crate) enum Fail {
    Closed,
    Io(io::Error),
    Reply(ReplyError),
    TooMuchData { max: usize },
}

impl Fail {
    fn at(self, step: Step) -> ProbeError {
        match self {
            Self::Closed => ProbeError::Closed { step },
            Self::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => ProbeError::Closed { step },
            Self::Io(e) => ProbeError::Io {
                step,
                source: Arc::new(e),
            },
            Self::Reply(e) => ProbeError::from_reply(step, e),
            Self::TooMuchData { max } => ProbeError::TooMuchData { step, max },
        }
    }
}

/// A line reader over a stream, with every limit: line length and reply line count
/// ([`ReplyLimits`]) and the session's byte budget.
pub(crate) struct Lines<S> {
    io: S,
    buf: Vec<u8>,
    limits: ReplyLimits,
    /// Bytes read over the session so far, and the most allowed.
    read: usize,
    max_read: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    fn new(io: S, limits: ReplyLimits, max_read: usize, read: usize) -> Self {
        Self {
            io,
            buf: Vec::new(),
            limits,
            read,
            max_read,
        }
    }

    /// The stream, the bytes read but not consumed, and the bytes read so far.
    fn finish(self) -> (S, Vec<u8>, usize) {
        (self.io, self.buf, self.read)
    }

    /// The next line, its line end included.
    async fn line(&mut self) -> Result<Vec<u8>, Fail> {
        let mut chunk = [0u8; CHUNK];
        loop {
            if let Some(end) = split_line(&self.buf, self.limits.max_line).map_err(Fail::Reply)? {
                return Ok(self.buf.drain(..end).collect());
            }
            let room = self.max_read.saturating_sub(self.read).min(CHUNK);
            if room == 0 {
                return Err(Fail::TooMuchData { max: self.max_read });
            }
            let n = self.io.read(&mut chunk[..room]).await.map_err(Fail::Io)?;
            if n == 0 {
                return Err(Fail::Closed);
            }
            self.read += n;
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn text_line(&mut self) -> Result<String, Fail> {
        Ok(line_text(&self.line().await?))
    }

    async fn send(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.io.write_all(data).await.map_err(Fail::Io)?;
        self.io.flush().await.map_err(Fail::Io)
    }

    async fn smtp_reply(&mut self) -> Result<SmtpReply, Fail> {
        let mut parser = SmtpReplyParser::new(self.limits);
        loop {
            let line = self.line().await?;
            if let Some(reply) = parser.push_line(&line).map_err(Fail::Reply)? {
                return Ok(reply);
            }
        }
    }

    async fn smtp_command(&mut self, command: &str) -> Result<SmtpReply, Fail> {
        self.send(format!("{command}\r\n").as_bytes()).await?;
        self.smtp_reply().await
    }

    /// Sends `tag command` and reads up to the tagged response: its status, the tagged line and
    /// the untagged lines before it (at most `max_lines`).
    async fn imap_command(
        &mut self,
        tag: &str,
        command: &str,
    ) -> Result<(ImapStatus, String, Vec<String>), Fail> {
        self.send(format!("{tag} {command}\r\n").as_bytes()).await?;
        let mut untagged = Vec::new();
        loop {
            let line = self.text_line().await?;
            if let Some(status) = imap_tagged(&line, tag).map_err(Fail::Reply)? {
                return Ok((status, line, untagged));
            }
            if untagged.len() >= self.limits.max_lines {
                return Err(Fail::Reply(ReplyError::TooManyLines {
                    max: self.limits.max_lines,
                }));
            }
            untagged.push(line);
        }
    }

    async fn pop3_multi_line(&mut self) -> Result<Vec<String>, Fail> {
        let mut body = Pop3MultiLine::new(self.limits);
        loop {
            let line = self.line().await?;
            if let Some(lines) = body.push_line(&line).map_err(Fail::Reply)? {
                return Ok(lines);
            }
        }
    }
}

/// Bytes asked of the socket per read.
const CHUNK: usize = 4096;
