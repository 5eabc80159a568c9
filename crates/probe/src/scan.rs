//! The TLS scan of one address (internet.nl's mail-tls items, checks T3–T11): a handful of
//! short handshakes, each asking one question, each started with the probe's own dialogue
//! ([`until_tls`]: STARTTLS or implicit TLS, with every limit of [`ProbeConfig`]).
//!
//! | question | handshakes | how |
//! |---|---|---|
//! | baseline: T7, T8, T11 | 1 | strong suites, then weak ones; DEFLATE and null compression; `renegotiation_info` and `extended_master_secret`; read the ServerHello (RFC 5246 §7.4.1.3, RFC 5746 §3.6, RFC 7627 §5.2) |
//! | T3 weak suites | 1–7 | only weak suites; each time one is chosen its class is dropped and the rest offered again |
//! | T4 cipher order | 1–2 | the strong suites in reverse order: the same choice means the server's order (confirmed by offering the rest without it), another choice the client's |
//! | T5 DHE prime, weak curves | 2 | DHE suites only (the prime's size in ServerKeyExchange, RFC 5246 §7.4.3); ECDHE with only curves under 256 bits (RFC 8422 §5.1.1) |
//! | T6 SHA-1/MD5 signature | 1 | `signature_algorithms` with SHA-1 and MD5 only (RFC 5246 §7.4.1.4.1, RFC 9155) |
//! | T9 client renegotiation | 1 | a whole TLS 1.2 handshake ([`crate::tls12`]), then a second ClientHello inside it (RFC 5746 §3.5) |
//! | T10 0-RTT | 2 | rustls: a TLS 1.3 handshake for a ticket, then a resumed one with early data (RFC 8446 §4.2.10) |
//!
//! Every handshake but T9's and T10's stops at the server's first flight
//! ([`mailsec_core::tls_hello::parse_flight`]) and closes the connection. When the server has
//! no TLS 1.2 or older (the baseline is refused), T3–T9 and T11 do not apply (RFC 8446: no
//! renegotiation, no compression, AEAD suites with ephemeral keys only) and only T10 is asked.
//! A connection that fails before TLS (connect, banner, STARTTLS) ends the scan.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailsec_core::tls_hello::{
    self, CipherSuite, ClientHello, Flight, FlightError, HelloError, KeyExchange, NamedGroup,
    Progress, SignatureScheme, Weakness, suites,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, NamedGroup as RustlsGroup};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::capture::Capture;
use crate::config::{ProbeConfig, Starttls};
use crate::error::ProbeError;
use crate::result::AddrProbe;
use crate::session::{Cx, server_name, until_tls};
use crate::tls12::{Ecdh, Keys, Suite, Tls12Error};

/// What the scan of one address found. `None` and `unknown` mean "not answered"; `errors`
/// says why.
#[derive(Clone, Debug, Serialize)]
pub struct TlsScan {
    /// The address scanned.
    pub addr: IpAddr,
    /// The port dialled.
    pub dialled_port: u16,
    /// The server's answer to a modern offer over TLS 1.2 or older; `None` when it has none
    /// (`tls12_refused` says how it refused) or the scan stopped before.
    pub tls12: Option<Negotiated>,
    /// How the server refused TLS 1.2 and older (an alert, a closed connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls12_refused: Option<String>,
    /// T3: the weak suites the server accepted, one per class of weakness.
    pub weak_suites: Vec<WeakSuite>,
    /// T4: whose order of preference decides the suite.
    pub cipher_order: Option<CipherOrder>,
    /// T5: the size of the server's DHE prime, when it accepts a DHE suite.
    pub dhe_prime_bits: Option<u32>,
    /// T5: a curve under 256 bits (or a binary curve) the server took when offered only such
    /// curves.
    pub weak_curve: Option<String>,
    /// T6: the signature scheme the server used when offered only SHA-1 and MD5 ones.
    pub weak_signature: Option<String>,
    /// T9: what the server did with a ClientHello inside an established TLS 1.2 session.
    pub client_renegotiation: Renegotiation,
    /// T10: whether the server accepted TLS 1.3 early data on a resumed session.
    pub early_data: EarlyData,
    /// How many TLS handshakes the scan started.
    pub handshakes: u32,
    /// How long the whole scan took.
    #[serde(rename = "elapsed_ms", serialize_with = "crate::result::as_ms")]
    pub elapsed: Duration,
    /// The questions that could not be answered, and why (`T4: ...`).
    pub errors: Vec<String>,
}

/// The server's choice for a modern TLS 1.2 offer.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Negotiated {
    /// `TLSv1.2` (or older, if that is all the server has).
    pub version: String,
    /// The suite chosen.
    pub cipher_suite: String,
    /// T7: the server chose DEFLATE (RFC 3749) when offered it (CRIME).
    pub compression: bool,
    /// T8: the server sent `renegotiation_info` (RFC 5746 §3.6).
    pub secure_renegotiation: bool,
    /// T11: the server agreed to the extended master secret (RFC 7627 §5.2).
    pub extended_master_secret: bool,
    /// The key exchange: `x25519`, `secp256r1`, `DHE 2048`, or `RSA` for static RSA.
    pub key_exchange: Option<String>,
    /// The ServerKeyExchange signature's scheme (TLS 1.2).
    pub signature: Option<String>,
}

/// A weak suite the server accepted (T3).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct WeakSuite {
    /// The IANA name.
    pub suite: String,
    /// Why it is weak.
    pub weakness: Weakness,
}

/// Whose preference picks the suite (T4).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CipherOrder {
    /// The server's: the same suite whatever the client's order.
    Server,
    /// The client's: the server took the client's first choice each time.
    Client,
    /// The server accepts one strong suite only: there is no order to enforce.
    OneSuite,
}

/// The answer to a client-initiated renegotiation (T9).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Renegotiation {
    /// The server answered the second ClientHello with a ServerHello.
    Accepted,
    /// The server refused: an alert, a closed connection, or no answer.
    Refused {
        /// How.
        how: String,
    },
    /// The server has no TLS 1.2 or older: TLS 1.3 has no renegotiation (RFC 8446 §4.1.2).
    NotApplicable,
    /// Not decided (the handshake before it failed, the scan stopped).
    Unknown {
        /// Why.
        why: String,
    },
}

/// The answer to TLS 1.3 early data (T10).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum EarlyData {
    /// The server accepted 0-RTT data on a resumed session (RFC 8446 §4.2.10).
    Accepted,
    /// Early data was sent and the server rejected it.
    Rejected,
    /// The server's tickets allow no early data (or it sent none): 0-RTT cannot happen.
    NotOffered,
    /// The server has no TLS 1.3.
    NotApplicable,
    /// Not decided.
    Unknown {
        /// Why.
        why: String,
    },
}

/// Scans the TLS parameters of one address (checks T3–T11; see the module documentation for
/// the handshakes). `addr` carries the logical port; `sni` and `starttls` as for
/// [`crate::probe_addr`]. Every connection keeps `config`'s timeouts and limits; the whole scan
/// is bounded by ten times `config.deadline`. Never fails: what could not be answered is left
/// `None`/unknown and said in [`TlsScan::errors`].
pub async fn scan_tls(
    addr: SocketAddr,
    sni: &str,
    starttls: Starttls,
    config: &ProbeConfig,
) -> TlsScan {
    let started = Instant::now();
    let mut s = Scanner {
        addr,
        sni: sni.to_owned(),
        starttls,
        config,
        rng: SystemRandom::new(),
        out: TlsScan {
            addr: addr.ip(),
            dialled_port: config.ports.dial(addr.port()),
            tls12: None,
            tls12_refused: None,
            weak_suites: Vec::new(),
            cipher_order: None,
            dhe_prime_bits: None,
            weak_curve: None,
            weak_signature: None,
            client_renegotiation: Renegotiation::Unknown {
                why: "not asked".to_owned(),
            },
            early_data: EarlyData::Unknown {
                why: "not asked".to_owned(),
            },
            handshakes: 0,
            elapsed: Duration::ZERO,
            errors: Vec::new(),
        },
    };
    let limit = config.deadline.saturating_mul(10);
    if tokio::time::timeout(limit, s.run()).await.is_err() {
        s.out.errors.push(format!(
            "the scan took longer than {} s and was stopped",
            limit.as_secs()
        ));
    }
    s.out.elapsed = started.elapsed();
    s.out
}

/// Why one question went unanswered.
#[derive(Debug, thiserror::Error)]
enum ScanError {
    /// Before TLS: connect, greeting, STARTTLS (ends the scan).
    #[error(transparent)]
    Probe(ProbeError),
    #[error("the server's TLS answer: {0}")]
    Flight(FlightError),
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("{0}")]
    Io(io::Error),
    #[error("more than {0} bytes")]
    TooMuchData(usize),
    #[error(transparent)]
    Tls12(Tls12Error),
    #[error(transparent)]
    Rustls(rustls::Error),
    #[error(transparent)]
    Hello(HelloError),
    #[error("{0}")]
    Unexpected(&'static str),
}

/// The server's answer to one ClientHello.
enum Answer {
    /// A ServerHello (and the rest of the flight).
    Hello(Box<Flight>),
    /// No ServerHello: an alert, or the connection closed.
    Refused(String),
}

struct Scanner<'a> {
    addr: SocketAddr,
    sni: String,
    starttls: Starttls,
    config: &'a ProbeConfig,
    rng: SystemRandom,
    out: TlsScan,
}

impl Scanner<'_> {
    async fn run(&mut self) {
        // Baseline: strong suites first, the weak ones after, so that any TLS 1.2-or-older
        // server answers.
        let strong: Vec<u16> = [suites::ECDHE, suites::DHE].concat();
        let mut offer = strong.clone();
        offer.extend_from_slice(suites::WEAK);
        let Some(baseline) = self.ask("baseline", &offer, |_| {}).await else {
            return;
        };
        let first = match baseline {
            Answer::Hello(flight) => {
                self.out.tls12 = negotiated(&flight);
                flight.server_hello.as_ref().map(|h| h.cipher_suite.0)
            }
            Answer::Refused(how) => {
                self.out.tls12_refused = Some(how);
                self.out.client_renegotiation = Renegotiation::NotApplicable;
                self.early_data().await;
                return;
            }
        };
        if self.weak_suites().await.is_none() {
            return;
        }
        if let Some(first) = first.filter(|c| strong.contains(c))
            && self.cipher_order(&strong, first).await.is_none()
        {
            return;
        }
        // T5: the DHE prime.
        match self.ask("T5", suites::DHE, |_| {}).await {
            Some(Answer::Hello(f)) => {
                if let Some(KeyExchange::Dhe { prime_bits }) =
                    f.server_key_exchange.as_ref().map(|k| &k.key_exchange)
                {
                    self.out.dhe_prime_bits = Some(*prime_bits);
                }
            }
            Some(Answer::Refused(_)) => {}
            None => return,
        }
        // T5: curves under 256 bits only.
        let weak_groups: Vec<u16> = NamedGroup::WEAK.iter().map(|g| g.0).collect();
        match self
            .ask("T5", suites::ECDHE, |h| {
                h.supported_groups = weak_groups.clone()
            })
            .await
        {
            Some(Answer::Hello(f)) => {
                if let Some(KeyExchange::Ecdhe { group }) =
                    f.server_key_exchange.as_ref().map(|k| &k.key_exchange)
                    && !group.is_strong()
                {
                    self.out.weak_curve = Some(group.name());
                }
            }
            Some(Answer::Refused(_)) => {}
            None => return,
        }
        // T6: SHA-1 and MD5 signatures only.
        let weak_sigs: Vec<u16> = SignatureScheme::WEAK.iter().map(|s| s.0).collect();
        match self
            .ask("T6", &strong, |h| {
                h.signature_algorithms = weak_sigs.clone()
            })
            .await
        {
            Some(Answer::Hello(f)) => {
                if let Some(sig) = f.server_key_exchange.as_ref().and_then(|k| k.signature)
                    && sig.hash().is_weak()
                {
                    self.out.weak_signature = Some(sig.name());
                }
            }
            Some(Answer::Refused(_)) => {}
            None => return,
        }
        self.out.client_renegotiation = match self.renegotiation().await {
            Ok(r) => r,
            Err(ScanError::Probe(e)) => {
                self.out.errors.push(format!("T9: {e}"));
                return;
            }
            Err(e) => Renegotiation::Unknown { why: e.to_string() },
        };
        self.early_data().await;
    }

    /// T3: weak suites only; after each acceptance the class of the suite chosen is dropped.
    async fn weak_suites(&mut self) -> Option<()> {
        let mut offer: Vec<u16> = suites::WEAK.to_vec();
        while !offer.is_empty() {
            let Answer::Hello(f) = self.ask("T3", &offer, |_| {}).await? else {
                break;
            };
            let Some(chosen) = f.server_hello.as_ref().map(|h| h.cipher_suite) else {
                break;
            };
            let Some(weakness) = chosen.weakness() else {
                // RFC 5246 §7.4.1.3: the server must pick one of ours; it did not.
                self.out.errors.push(format!(
                    "T3: the server chose {chosen}, which was not offered"
                ));
                break;
            };
            self.out.weak_suites.push(WeakSuite {
                suite: chosen.name(),
                weakness,
            });
            offer.retain(|&c| CipherSuite(c).weakness() != Some(weakness));
        }
        Some(())
    }

    /// T4: the strong suites reversed. The same choice as in the baseline means the server's
    /// order, unless that suite is the only one it accepts: offering the others tells.
    async fn cipher_order(&mut self, strong: &[u16], first: u16) -> Option<()> {
        let reversed: Vec<u16> = strong.iter().rev().copied().collect();
        let second = match self.ask("T4", &reversed, |_| {}).await? {
            Answer::Hello(f) => f.server_hello.as_ref().map(|h| h.cipher_suite.0),
            Answer::Refused(how) => {
                self.out
                    .errors
                    .push(format!("T4: refused the reversed offer ({how})"));
                return Some(());
            }
        };
        if second != Some(first) {
            self.out.cipher_order = Some(CipherOrder::Client);
            return Some(());
        }
        let others: Vec<u16> = strong.iter().copied().filter(|&c| c != first).collect();
        self.out.cipher_order = Some(match self.ask("T4", &others, |_| {}).await? {
            Answer::Hello(_) => CipherOrder::Server,
            Answer::Refused(_) => CipherOrder::OneSuite,
        });
        Some(())
    }

    /// One short handshake: a TLS 1.2 ClientHello offering `suites` (changed by `adjust`), up
    /// to the server's first flight. `None` when the connection failed before TLS (the error
    /// is recorded and the scan should stop) or the question failed (recorded too).
    async fn ask(
        &mut self,
        question: &str,
        suites: &[u16],
        adjust: impl FnOnce(&mut ClientHello),
    ) -> Option<Answer> {
        match self.hello_round_trip(suites, adjust).await {
            Ok(a) => Some(a),
            Err(e) => {
                self.out.errors.push(format!("{question}: {e}"));
                None
            }
        }
    }

    async fn hello_round_trip(
        &mut self,
        suites: &[u16],
        adjust: impl FnOnce(&mut ClientHello),
    ) -> Result<Answer, ScanError> {
        let (mut conn, sni) = self.open().await?;
        let mut hello = ClientHello::tls12(self.random()?, suites);
        hello.compression_methods = vec![1, 0];
        hello.server_name = sni;
        adjust(&mut hello);
        conn.send(&hello.encode_record().map_err(ScanError::Hello)?)
            .await?;
        let answer = conn.flight().await;
        conn.close().await;
        answer
    }

    /// Connects and speaks the protocol up to TLS; the SNI to send.
    async fn open(&mut self) -> Result<(Conn, Option<String>), ScanError> {
        let config = self.config;
        let started = Instant::now();
        let mut cx = Cx {
            config,
            deadline: started.checked_add(config.deadline),
            out: AddrProbe::new(
                self.addr,
                config.ports.dial(self.addr.port()),
                &self.sni,
                self.starttls,
            ),
        };
        let name = server_name(&mut cx).map_err(ScanError::Probe)?;
        let (tcp, _) = until_tls(&mut cx).await.map_err(ScanError::Probe)?;
        self.out.handshakes += 1;
        let sni = match name {
            ServerName::DnsName(n) => Some(n.as_ref().to_owned()),
            _ => None,
        };
        Ok((
            Conn {
                tcp,
                buf: Vec::new(),
                read: 0,
                max: config.max_chain_bytes + config.max_read,
                wait: config.step_timeout,
            },
            sni,
        ))
    }

    fn random(&self) -> Result<[u8; 32], ScanError> {
        let mut r = [0u8; 32];
        self.rng
            .fill(&mut r)
            .map_err(|_| ScanError::Unexpected("no randomness"))?;
        Ok(r)
    }

    /// T9: a whole TLS 1.2 handshake, then a ClientHello with the client's verify_data
    /// (RFC 5746 §3.5) inside it; the answer is the server's next record.
    async fn renegotiation(&mut self) -> Result<Renegotiation, ScanError> {
        let (mut conn, sni) = self.open().await?;
        let client_random = self.random()?;
        let groups = vec![
            NamedGroup::X25519.0,
            NamedGroup::SECP256R1.0,
            NamedGroup::SECP384R1.0,
        ];
        let mut hello = ClientHello::tls12(client_random, suites::ECDHE_AES_GCM);
        hello.server_name.clone_from(&sni);
        hello.supported_groups.clone_from(&groups);
        hello.extended_master_secret = false;
        let client_hello = hello.encode().map_err(ScanError::Hello)?;
        conn.send(&tls_hello_records(&client_hello)).await?;
        let flight = match conn.flight().await? {
            Answer::Hello(f) => f,
            Answer::Refused(how) => {
                return Ok(Renegotiation::Unknown {
                    why: format!("the ECDHE-AES-GCM handshake was refused ({how})"),
                });
            }
        };
        let (Some(sh), Some(ske), true) = (
            flight.server_hello.as_ref(),
            flight.server_key_exchange.as_ref(),
            flight.server_hello_done,
        ) else {
            return Err(ScanError::Unexpected("an incomplete TLS 1.2 flight"));
        };
        let KeyExchange::Ecdhe { group } = ske.key_exchange else {
            return Err(ScanError::Unexpected("no ECDHE key exchange"));
        };
        let suite = Suite::of(sh.cipher_suite.0).map_err(ScanError::Tls12)?;
        let ecdh = Ecdh::new(group, &self.rng).map_err(ScanError::Tls12)?;
        // RFC 5246 §7.4.6: an empty Certificate when one is requested; §7.4.7 ClientKeyExchange
        // (RFC 8422 §5.7: the point as an opaque <1..2^8-1>).
        let mut ours = Vec::new();
        if flight.certificate_request {
            ours.extend_from_slice(&[0x0b, 0, 0, 3, 0, 0, 0]);
        }
        let point_len = u8::try_from(ecdh.public.len())
            .map_err(|_| ScanError::Unexpected("a long ECDH point"))?;
        ours.extend_from_slice(&[0x10, 0, 0, point_len + 1, point_len]);
        ours.extend_from_slice(&ecdh.public);
        let premaster = ecdh.agree(&ske.public).map_err(ScanError::Tls12)?;
        let mut keys = Keys::derive(suite, &premaster, &client_random, &sh.random)
            .map_err(ScanError::Tls12)?;
        let mut transcript = client_hello;
        transcript.extend_from_slice(&flight.transcript);
        transcript.extend_from_slice(&ours);
        let verify_data = keys.verify_data(
            suite,
            b"client finished",
            &suite.transcript_hash(&transcript),
        );
        let mut finished = vec![0x14, 0, 0, 12];
        finished.extend_from_slice(&verify_data);
        let mut out = tls12_records(0x16, &ours);
        out.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        out.extend(
            keys.client
                .seal(0x16, &finished)
                .map_err(ScanError::Tls12)?,
        );
        conn.send(&out).await?;
        // The server's ChangeCipherSpec and Finished (RFC 5246 §7.4.9).
        let mut changed = false;
        loop {
            let Some((kind, fragment)) = conn.record().await? else {
                return Ok(Renegotiation::Unknown {
                    why: "the server closed the connection during the handshake".to_owned(),
                });
            };
            match (kind, changed) {
                (0x14, false) => changed = true,
                (0x15, false) => {
                    return Ok(Renegotiation::Unknown {
                        why: format!("the handshake failed ({})", alert_words(&fragment)),
                    });
                }
                (0x16, true) => {
                    let plain = keys
                        .server
                        .open(0x16, &fragment)
                        .map_err(ScanError::Tls12)?;
                    if plain.first() != Some(&0x14) {
                        return Err(ScanError::Unexpected("no Finished from the server"));
                    }
                    break;
                }
                (0x15, true) => {
                    let plain = keys
                        .server
                        .open(0x15, &fragment)
                        .map_err(ScanError::Tls12)?;
                    return Ok(Renegotiation::Unknown {
                        why: format!("the handshake failed ({})", alert_words(&plain)),
                    });
                }
                // A NewSessionTicket or other message before the ChangeCipherSpec.
                (0x16, false) => {}
                _ => return Err(ScanError::Unexpected("a record out of order")),
            }
        }
        let noop = self.noop();
        // With implicit TLS the server greets first: read the greeting, so that what comes
        // after the renegotiating ClientHello is the answer to it.
        if self.starttls == Starttls::None && noop.is_some() {
            loop {
                match conn.record().await? {
                    Some((0x17, fragment)) => {
                        keys.server
                            .open(0x17, &fragment)
                            .map_err(ScanError::Tls12)?;
                        break;
                    }
                    Some((kind, fragment)) => {
                        keys.server
                            .open(kind, &fragment)
                            .map_err(ScanError::Tls12)?;
                    }
                    None => {
                        return Ok(Renegotiation::Unknown {
                            why: "the server closed the connection before its greeting".to_owned(),
                        });
                    }
                }
            }
        }
        // The renegotiating ClientHello, protected (RFC 5746 §3.5), then a NOOP of the
        // protocol: a server that ignores the ClientHello answers the NOOP, so that "ignored"
        // needs no wait.
        let mut again = ClientHello::tls12(self.random()?, suites::ECDHE_AES_GCM);
        again.server_name = sni;
        again.supported_groups = groups;
        again.extended_master_secret = false;
        again.renegotiation_info = Some(verify_data);
        let again = again.encode().map_err(ScanError::Hello)?;
        let mut out = keys.client.seal(0x16, &again).map_err(ScanError::Tls12)?;
        if let Some(noop) = noop {
            out.extend(keys.client.seal(0x17, noop).map_err(ScanError::Tls12)?);
        }
        conn.send(&out).await?;
        conn.wait = conn.wait.min(RENEGOTIATION_WAIT);
        let answer = loop {
            let record = match conn.record().await {
                Ok(r) => r,
                Err(ScanError::Timeout(after)) => {
                    break Renegotiation::Refused {
                        how: format!("ignored (no answer within {} s)", after.as_secs()),
                    };
                }
                Err(ScanError::Io(e)) => {
                    break Renegotiation::Refused {
                        how: format!("closed the connection ({e})"),
                    };
                }
                Err(e) => return Err(e),
            };
            let Some((kind, fragment)) = record else {
                break Renegotiation::Refused {
                    how: "closed the connection".to_owned(),
                };
            };
            let plain = keys
                .server
                .open(kind, &fragment)
                .map_err(ScanError::Tls12)?;
            match (kind, plain.first()) {
                (0x15, _) => {
                    break Renegotiation::Refused {
                        how: alert_words(&plain),
                    };
                }
                (0x16, Some(0x02)) => break Renegotiation::Accepted,
                // The answer to the NOOP, not to the ClientHello.
                (0x17, _) => {
                    break Renegotiation::Refused {
                        how: "ignored (the server answered the next command instead)".to_owned(),
                    };
                }
                // A HelloRequest: read on.
                (0x16, Some(0x00)) => {}
                _ => {
                    return Err(ScanError::Unexpected(
                        "an unexpected answer to renegotiation",
                    ));
                }
            }
        };
        conn.close().await;
        Ok(answer)
    }

    /// T10, with rustls: a TLS 1.3 handshake to get a ticket, then a resumed one that sends
    /// early data (the first command of the protocol) and sees whether the server took it.
    async fn early_data(&mut self) {
        self.out.early_data = match self.early_data_inner().await {
            Ok(e) => e,
            Err(e) => EarlyData::Unknown { why: e.to_string() },
        };
    }

    async fn early_data_inner(&mut self) -> Result<EarlyData, ScanError> {
        let store = Arc::new(TicketStore::default());
        let capture = Arc::new(Capture::new(
            None,
            self.config.max_chain,
            self.config.max_chain_bytes,
            None,
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(ScanError::Rustls)?
            .dangerous()
            .with_custom_certificate_verifier(capture)
            .with_no_client_auth();
        client.resumption = Resumption::store(store.clone());
        client.enable_early_data = true;
        let client = Arc::new(client);
        let name = ServerName::try_from(self.sni.trim_end_matches('.').to_owned())
            .map_err(|_| ScanError::Unexpected("an invalid SNI"))?;
        // First: a full handshake, then wait for a ticket (RFC 8446 §4.6.1).
        let (conn, _) = self.open().await?;
        let mut tls =
            ClientConnection::new(client.clone(), name.clone()).map_err(ScanError::Rustls)?;
        let mut conn = conn;
        match drive_handshake(&mut conn, &mut tls).await {
            Ok(()) => {}
            Err(ScanError::Rustls(
                rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
                | rustls::Error::PeerIncompatible(_),
            )) => {
                conn.close().await;
                return Ok(EarlyData::NotApplicable);
            }
            Err(e) => return Err(e),
        }
        let first_command = self.first_command();
        // Some servers send their tickets only with their first reply: send the protocol's
        // first command and read until a ticket arrives or the wait ends.
        if let Some(command) = &first_command {
            let _ = io::Write::write_all(&mut tls.writer(), command);
        }
        conn.wait = conn.wait.min(TICKET_WAIT);
        while !store.has_ticket() {
            if pump(&mut conn, &mut tls).await.is_err() {
                break;
            }
        }
        // A proper close_notify: OpenSSL drops the session of a connection that ends without
        // one (and with it the single-use state that early data needs).
        close_tls(&mut conn, &mut tls).await;
        if !store.has_ticket() {
            return Ok(EarlyData::Unknown {
                why: "the server sent no TLS 1.3 session ticket".to_owned(),
            });
        }
        if !store.allows_early_data() {
            return Ok(EarlyData::NotOffered);
        }
        // Second: resume and send the first command as early data.
        let (mut conn, _) = self.open().await?;
        let mut tls = ClientConnection::new(client, name).map_err(ScanError::Rustls)?;
        let sent = match (tls.early_data(), &first_command) {
            (Some(mut early), Some(command)) => io::Write::write_all(&mut early, command).is_ok(),
            (Some(mut early), None) => io::Write::write_all(&mut early, b"\r\n").is_ok(),
            (None, _) => false,
        };
        drive_handshake(&mut conn, &mut tls).await?;
        close_tls(&mut conn, &mut tls).await;
        Ok(match (sent, tls.is_early_data_accepted()) {
            (false, _) => EarlyData::NotOffered,
            (true, true) => EarlyData::Accepted,
            (true, false) => EarlyData::Rejected,
        })
    }

    /// The protocol's first command over TLS (what early data would carry): EHLO, IMAP
    /// `CAPABILITY`, POP3 `CAPA`; with implicit TLS by the logical port (465, 993, 995).
    fn first_command(&self) -> Option<Vec<u8>> {
        match (self.starttls, self.addr.port()) {
            (Starttls::Smtp, _) | (Starttls::None, 465) => {
                Some(format!("EHLO {}\r\n", self.config.ehlo_name).into_bytes())
            }
            (Starttls::Imap, _) | (Starttls::None, 993) => Some(b"c CAPABILITY\r\n".to_vec()),
            (Starttls::Pop3, _) | (Starttls::None, 995) => Some(b"CAPA\r\n".to_vec()),
            (Starttls::None, _) => None,
        }
    }

    /// The protocol's NOOP (RFC 5321 §4.1.1.9, RFC 3501 §6.1.2, RFC 1939 §5), which any state
    /// answers; `None` without an application protocol (443).
    fn noop(&self) -> Option<&'static [u8]> {
        match (self.starttls, self.addr.port()) {
            (Starttls::Smtp | Starttls::Pop3, _) | (Starttls::None, 465 | 995) => Some(b"NOOP\r\n"),
            (Starttls::Imap, _) | (Starttls::None, 993) => Some(b"z NOOP\r\n"),
            (Starttls::None, _) => None,
        }
    }
}

/// Runs rustls's handshake over the connection.
async fn drive_handshake(conn: &mut Conn, tls: &mut ClientConnection) -> Result<(), ScanError> {
    while tls.is_handshaking() {
        pump(conn, tls).await?;
    }
    // Whatever is left to write (Finished).
    flush_tls(conn, tls).await
}

/// Writes what rustls has to send, then reads once and lets it process the bytes.
async fn pump(conn: &mut Conn, tls: &mut ClientConnection) -> Result<(), ScanError> {
    flush_tls(conn, tls).await?;
    let mut chunk = [0u8; 4096];
    let n = conn.read_some(&mut chunk).await?;
    if n == 0 {
        return Err(ScanError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    let mut data = &chunk[..n];
    while !data.is_empty() {
        tls.read_tls(&mut data).map_err(ScanError::Io)?;
        tls.process_new_packets().map_err(ScanError::Rustls)?;
    }
    // Application data (a greeting, a reply) is read and dropped.
    let mut sink = [0u8; 4096];
    while let Ok(n) = io::Read::read(&mut tls.reader(), &mut sink) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Sends close_notify (RFC 8446 §6.1) and closes the connection, best effort.
async fn close_tls(conn: &mut Conn, tls: &mut ClientConnection) {
    tls.send_close_notify();
    let _ = flush_tls(conn, tls).await;
    conn.close().await;
}

async fn flush_tls(conn: &mut Conn, tls: &mut ClientConnection) -> Result<(), ScanError> {
    let mut out = Vec::new();
    while tls.wants_write() {
        tls.write_tls(&mut out).map_err(ScanError::Io)?;
    }
    if !out.is_empty() {
        conn.send(&out).await?;
    }
    Ok(())
}

/// What the baseline's flight says.
fn negotiated(f: &Flight) -> Option<Negotiated> {
    let h = f.server_hello.as_ref()?;
    let key_exchange = match f.server_key_exchange.as_ref().map(|k| &k.key_exchange) {
        Some(KeyExchange::Dhe { prime_bits }) => Some(format!("DHE {prime_bits}")),
        Some(KeyExchange::Ecdhe { group }) => Some(group.name()),
        Some(KeyExchange::EcdheExplicit) => Some("explicit curve".to_owned()),
        Some(KeyExchange::Unknown) => None,
        None => h
            .cipher_suite
            .info()
            .filter(|i| i.kex == tls_hello::KeyExchangeKind::Rsa)
            .map(|_| "RSA".to_owned()),
    };
    Some(Negotiated {
        version: tls_hello::version::name(h.version()),
        cipher_suite: h.cipher_suite.name(),
        compression: h.compression_method != 0,
        secure_renegotiation: h.renegotiation_info().is_some(),
        extended_master_secret: h.extended_master_secret(),
        key_exchange,
        signature: f
            .server_key_exchange
            .as_ref()
            .and_then(|k| k.signature)
            .map(|s| s.name()),
    })
}

fn alert_words(alert: &[u8]) -> String {
    match alert {
        [level, description] => {
            let a = tls_hello::Alert {
                level: *level,
                description: *description,
            };
            let level = if *level == 1 { "warning" } else { "fatal" };
            format!("{level} alert {}", a.name())
        }
        _ => "a malformed alert".to_owned(),
    }
}

/// A handshake message in plaintext TLS 1.2 records (the first ClientHello's record version is
/// 0x0301, as [`ClientHello::encode_record`] writes it).
fn tls_hello_records(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    for chunk in message.chunks(1 << 14) {
        out.extend_from_slice(&[0x16, 0x03, 0x01]);
        out.extend_from_slice(&u16::try_from(chunk.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

fn tls12_records(content_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    for chunk in payload.chunks(1 << 14) {
        out.extend_from_slice(&[content_type, 0x03, 0x03]);
        out.extend_from_slice(&u16::try_from(chunk.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// One scan connection after the dialogue: a byte budget and a wait per read.
struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
    read: usize,
    max: usize,
    wait: Duration,
}

impl Conn {
    async fn send(&mut self, data: &[u8]) -> Result<(), ScanError> {
        match tokio::time::timeout(self.wait, self.tcp.write_all(data)).await {
            Ok(r) => r.map_err(ScanError::Io),
            Err(_) => Err(ScanError::Timeout(self.wait)),
        }
    }

    /// Reads once into `chunk`, within the wait and the budget; 0 at the end of the stream.
    async fn read_some(&mut self, chunk: &mut [u8]) -> Result<usize, ScanError> {
        let room = self.max.saturating_sub(self.read).min(chunk.len());
        if room == 0 {
            return Err(ScanError::TooMuchData(self.max));
        }
        let n = match tokio::time::timeout(self.wait, self.tcp.read(&mut chunk[..room])).await {
            Ok(r) => r.map_err(ScanError::Io)?,
            Err(_) => return Err(ScanError::Timeout(self.wait)),
        };
        self.read += n;
        Ok(n)
    }

    /// Reads more into the buffer; false at the end of the stream.
    async fn fill(&mut self) -> Result<bool, ScanError> {
        let mut chunk = [0u8; 4096];
        let n = self.read_some(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The server's first flight.
    async fn flight(&mut self) -> Result<Answer, ScanError> {
        loop {
            match tls_hello::parse_flight(&self.buf).map_err(ScanError::Flight)? {
                Progress::Done(f) => {
                    self.buf.drain(..f.consumed.min(self.buf.len()));
                    return Ok(match (&f.server_hello, f.alert) {
                        (Some(_), _) => Answer::Hello(Box::new(f)),
                        (None, Some(a)) => Answer::Refused(alert_words(&[a.level, a.description])),
                        (None, None) => Answer::Refused("no ServerHello".to_owned()),
                    });
                }
                Progress::NeedMore => match self.fill().await {
                    Ok(true) => {}
                    Ok(false) if self.buf.is_empty() => {
                        return Ok(Answer::Refused("closed the connection".to_owned()));
                    }
                    Ok(false) => return Err(ScanError::Unexpected("a flight cut short")),
                    // A reset instead of an alert is a refusal too.
                    Err(ScanError::Io(e)) if self.buf.is_empty() => {
                        return Ok(Answer::Refused(format!("closed the connection ({e})")));
                    }
                    Err(e) => return Err(e),
                },
            }
        }
    }

    /// The next record: its type and fragment; `None` at the end of the stream.
    async fn record(&mut self) -> Result<Option<(u8, Vec<u8>)>, ScanError> {
        loop {
            if self.buf.len() >= 5 {
                let len = usize::from(u16::from_be_bytes([self.buf[3], self.buf[4]]));
                if len > (1 << 14) + 2048 {
                    return Err(ScanError::Flight(FlightError::RecordOverflow(len)));
                }
                if self.buf.len() >= 5 + len {
                    let kind = self.buf[0];
                    let fragment = self.buf[5..5 + len].to_vec();
                    self.buf.drain(..5 + len);
                    return Ok(Some((kind, fragment)));
                }
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Closes the connection, best effort (the server may have closed it already).
    async fn close(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tcp.shutdown()).await;
    }
}

/// A ticket store that says whether a TLS 1.3 ticket came and whether it allows early data.
#[derive(Debug)]
struct TicketStore {
    inner: ClientSessionMemoryCache,
    seen: Mutex<(bool, bool)>,
}

impl Default for TicketStore {
    fn default() -> Self {
        Self {
            inner: ClientSessionMemoryCache::new(4),
            seen: Mutex::new((false, false)),
        }
    }
}

impl TicketStore {
    fn has_ticket(&self) -> bool {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    fn allows_early_data(&self) -> bool {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).1
    }
}

impl ClientSessionStore for TicketStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: RustlsGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<RustlsGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.0 = true;
            seen.1 |= value.max_early_data_size() > 0;
        }
        self.inner.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(server_name)
    }
}

/// How long to wait for the answer to a renegotiation (a server that wants to renegotiate
/// answers at once; one that ignores it never does).
const RENEGOTIATION_WAIT: Duration = Duration::from_secs(5);
/// How long to wait for a TLS 1.3 session ticket after the handshake.
const TICKET_WAIT: Duration = Duration::from_secs(5);
