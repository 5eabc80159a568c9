//! The server's first flight, as far as the scan reads it: records (RFC 5246 §6.2.1), an alert
//! (§7.2), ServerHello (§7.4.1.3; RFC 8446 §4.1.3) or HelloRetryRequest (RFC 8446 §4.1.4),
//! Certificate and CertificateRequest skipped (§7.4.2, §7.4.4), ServerKeyExchange (§7.4.3,
//! RFC 8422 §5.4), ServerHelloDone (§7.4.5). With TLS 1.3 everything after the ServerHello is
//! encrypted, so the flight ends there.

use super::MAX_HANDSHAKE;
use super::codes::{CipherSuite, KeyExchangeKind, NamedGroup, SignatureScheme, ext};
use super::version;

/// Where parsing the bytes received so far got to.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Progress {
    /// The flight is not complete: read more bytes and parse the whole buffer again.
    NeedMore,
    /// The flight ended (ServerHelloDone, a TLS 1.3 ServerHello, a HelloRetryRequest or an
    /// alert).
    Done(Flight),
}

/// What the server's first flight said.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Flight {
    /// The ServerHello (or HelloRetryRequest), if the server sent one before any alert.
    pub server_hello: Option<ServerHello>,
    /// Whether a Certificate message came (its content is skipped).
    pub certificate: bool,
    /// Whether the server asked for a client certificate (CertificateRequest, RFC 5246
    /// §7.4.4): a client that goes on answers with a Certificate message, empty if need be.
    pub certificate_request: bool,
    /// The ServerKeyExchange, read with the chosen suite's key exchange.
    pub server_key_exchange: Option<ServerKeyExchange>,
    /// Whether the flight ended with ServerHelloDone (a complete TLS 1.2-or-older flight).
    pub server_hello_done: bool,
    /// An alert that ended the flight (RFC 5246 §7.2).
    pub alert: Option<Alert>,
    /// The handshake messages as received, headers included, HelloRequest left out (RFC 5246
    /// §7.4.1.1): the transcript a client hashes for Finished (§7.4.9).
    pub transcript: Vec<u8>,
    /// How many bytes of the buffer the flight took; what follows belongs to the next flight.
    pub consumed: usize,
}

/// An alert (RFC 5246 §7.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Alert {
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// `AlertDescription`.
    pub description: u8,
}

impl Alert {
    /// The description's name in RFC 5246 §7.2 / RFC 8446 §6 (`handshake_failure`), or its
    /// number.
    pub fn name(self) -> String {
        let known = match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            47 => "illegal_parameter",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            120 => "no_application_protocol",
            _ => return format!("alert {}", self.description),
        };
        known.to_owned()
    }
}

/// The ServerHello (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ServerHello {
    /// `server_version` / `legacy_version`.
    pub legacy_version: u16,
    /// `random`.
    pub random: [u8; 32],
    /// `session_id` / `legacy_session_id_echo`.
    pub session_id: Vec<u8>,
    /// The chosen suite.
    pub cipher_suite: CipherSuite,
    /// The chosen compression method (0 none, 1 DEFLATE).
    pub compression_method: u8,
    /// The extensions, in order (each type at most once, RFC 5246 §7.4.1.4).
    pub extensions: Vec<(u16, Vec<u8>)>,
}

impl ServerHello {
    /// The negotiated version: `supported_versions` when present (RFC 8446 §4.2.1), else
    /// `server_version`.
    pub fn version(&self) -> u16 {
        match self.extension(ext::SUPPORTED_VERSIONS) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => self.legacy_version,
        }
    }

    /// A HelloRetryRequest: the special random of RFC 8446 §4.1.3.
    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_REQUEST_RANDOM
    }

    /// The data of extension `kind`, if the server sent it.
    pub fn extension(&self, kind: u16) -> Option<&[u8]> {
        self.extensions
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| d.as_slice())
    }

    /// `renegotiation_info`'s `renegotiated_connection` (RFC 5746 §3.2), when the extension is
    /// there and well formed: empty on a first handshake (§3.6).
    pub fn renegotiation_info(&self) -> Option<&[u8]> {
        let data = self.extension(ext::RENEGOTIATION_INFO)?;
        let (&len, rest) = data.split_first()?;
        (rest.len() == usize::from(len)).then_some(rest)
    }

    /// Whether the server agreed to the extended master secret (RFC 7627 §5.2).
    pub fn extended_master_secret(&self) -> bool {
        self.extension(ext::EXTENDED_MASTER_SECRET).is_some()
    }

    /// The group of `key_share` (RFC 8446 §4.2.8: in a HelloRetryRequest the group asked for,
    /// in a ServerHello the group of the server's share).
    pub fn key_share_group(&self) -> Option<NamedGroup> {
        match self.extension(ext::KEY_SHARE)? {
            [a, b, ..] => Some(NamedGroup(u16::from_be_bytes([*a, *b]))),
            _ => None,
        }
    }
}

/// The ServerKeyExchange (RFC 5246 §7.4.3, RFC 8422 §5.4).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ServerKeyExchange {
    /// The parameters.
    pub key_exchange: KeyExchange,
    /// The signature's algorithm as TLS 1.2 states it (§7.4.1.4.1); `None` before TLS 1.2
    /// (the hash is then MD5+SHA-1 for RSA, SHA-1 for DSA and ECDSA: RFC 4346 §7.4.3) and for
    /// anonymous suites.
    pub signature: Option<SignatureScheme>,
    /// The server's ephemeral public value (`dh_Ys` or the EC point).
    pub public: Vec<u8>,
}

/// The key-exchange parameters of a ServerKeyExchange.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum KeyExchange {
    /// Finite-field DHE: the prime's size in bits (leading zero bytes ignored).
    Dhe {
        /// Bits of `dh_p`.
        prime_bits: u32,
    },
    /// ECDHE over a named curve (`ECCurveType.named_curve`, RFC 8422 §5.4).
    Ecdhe {
        /// The curve.
        group: NamedGroup,
    },
    /// ECDHE over explicit curve parameters (curve types 1 and 2, deprecated by RFC 8422 §5.4).
    EcdheExplicit,
    /// A suite whose key exchange the scan does not know: the message is not read.
    Unknown,
}

/// Why the server's bytes are not a first flight.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FlightError {
    /// A record longer than RFC 5246 §6.2.3 allows. Untrusted input.
    #[error("TLS record of {0} bytes (RFC 5246 §6.2.3 allows 2^14 + 2048)")]
    RecordOverflow(usize),
    /// A record type that cannot come here (e.g. application data before the handshake, or
    /// not TLS at all: a plain-text SMTP reply). Untrusted input.
    #[error("unexpected TLS record type {0} (not a TLS server, or out of order)")]
    UnexpectedContentType(u8),
    /// A handshake message that cannot come here. Untrusted input.
    #[error("unexpected handshake message type {0}")]
    UnexpectedMessage(u8),
    /// A handshake message longer than [`MAX_HANDSHAKE`]. Untrusted input.
    #[error("handshake message of {0} bytes")]
    TooLarge(usize),
    /// A message whose lengths do not add up. Untrusted input.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// Parses the server's bytes received so far (RFC 5246 §6.2.1, §7.4). Call again on the whole
/// buffer after each read until it returns [`Progress::Done`] or an error; the caller bounds
/// the buffer. Never panics.
pub fn parse_flight(buf: &[u8]) -> Result<Progress, FlightError> {
    let mut flight = Flight::default();
    let mut handshake: Vec<u8> = Vec::new();
    let mut next_msg = 0;
    let mut pos = 0;
    loop {
        // Every complete handshake message buffered so far.
        while let Some(m) = message(&handshake, next_msg)? {
            let whole = &handshake[next_msg..m.end];
            next_msg = m.end;
            if m.kind != HELLO_REQUEST {
                flight.transcript.extend_from_slice(whole);
            }
            if message_ends_flight(&mut flight, m.kind, m.body)? {
                flight.consumed = pos;
                return Ok(Progress::Done(flight));
            }
        }
        // The type is known from the first byte: a server that answers in plain text (an SMTP
        // error reply) is told apart at once.
        match buf.get(pos) {
            None => return Ok(Progress::NeedMore),
            Some(&t) if !(CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HANDSHAKE).contains(&t) => {
                return Err(FlightError::UnexpectedContentType(t));
            }
            Some(_) => {}
        }
        let Some(header) = buf.get(pos..pos + 5) else {
            return Ok(Progress::NeedMore);
        };
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len > MAX_RECORD {
            return Err(FlightError::RecordOverflow(len));
        }
        let Some(fragment) = buf.get(pos + 5..pos + 5 + len) else {
            return Ok(Progress::NeedMore);
        };
        pos += 5 + len;
        match header[0] {
            CONTENT_ALERT => {
                let [level, description] = fragment else {
                    return Err(FlightError::Malformed("alert"));
                };
                flight.alert = Some(Alert {
                    level: *level,
                    description: *description,
                });
                flight.consumed = pos;
                return Ok(Progress::Done(flight));
            }
            CONTENT_HANDSHAKE => {
                if handshake.len() + fragment.len() > MAX_HANDSHAKE + 4 * 8 {
                    return Err(FlightError::TooLarge(handshake.len() + fragment.len()));
                }
                handshake.extend_from_slice(fragment);
            }
            // A TLS 1.3 server's middlebox-compatibility ChangeCipherSpec (RFC 8446 §D.4)
            // comes after its ServerHello, where the flight already ended; ignored elsewhere.
            CONTENT_CHANGE_CIPHER_SPEC => {}
            other => return Err(FlightError::UnexpectedContentType(other)),
        }
    }
}

/// Parses a ServerKeyExchange body for a suite with key exchange `kex`, negotiated at
/// `version` (the signature algorithm field exists from TLS 1.2 on, RFC 5246 §7.4.1.4.1), for
/// an authenticated suite or not.
pub fn parse_server_key_exchange(
    body: &[u8],
    kex: KeyExchangeKind,
    version: u16,
    authenticated: bool,
) -> Result<ServerKeyExchange, FlightError> {
    let mut r = Reader::new(body, "ServerKeyExchange");
    let (key_exchange, public) = match kex {
        // RFC 5246 §7.4.3: ServerDHParams { dh_p<1..2^16-1>, dh_g<1..2^16-1>, dh_Ys<1..2^16-1> }
        KeyExchangeKind::Dhe => {
            let p = r.vec16()?;
            let _g = r.vec16()?;
            let ys = r.vec16()?;
            if p.is_empty() {
                return Err(FlightError::Malformed("ServerKeyExchange"));
            }
            (
                KeyExchange::Dhe {
                    prime_bits: bits(p),
                },
                ys.to_vec(),
            )
        }
        // RFC 8422 §5.4: ECParameters { curve_type; named_curve }, ECPoint public<1..2^8-1>
        KeyExchangeKind::Ecdhe => match r.u8()? {
            3 => {
                let group = NamedGroup(r.u16()?);
                let point = r.vec8()?;
                (KeyExchange::Ecdhe { group }, point.to_vec())
            }
            1 | 2 => {
                return Ok(ServerKeyExchange {
                    key_exchange: KeyExchange::EcdheExplicit,
                    signature: None,
                    public: Vec::new(),
                });
            }
            _ => return Err(FlightError::Malformed("ServerKeyExchange")),
        },
        KeyExchangeKind::Rsa | KeyExchangeKind::Tls13 => {
            return Ok(ServerKeyExchange {
                key_exchange: KeyExchange::Unknown,
                signature: None,
                public: Vec::new(),
            });
        }
    };
    let signature = if authenticated && version >= version::TLS12 {
        // digitally-signed struct: SignatureAndHashAlgorithm, then signature<0..2^16-1>.
        let scheme = SignatureScheme(r.u16()?);
        r.vec16()?;
        Some(scheme)
    } else {
        if authenticated {
            r.vec16()?;
        }
        None
    };
    if !r.is_empty() {
        return Err(FlightError::Malformed("ServerKeyExchange"));
    }
    Ok(ServerKeyExchange {
        key_exchange,
        signature,
        public,
    })
}

/// Takes one handshake message into the flight; true when it ends the flight.
fn message_ends_flight(flight: &mut Flight, kind: u8, body: &[u8]) -> Result<bool, FlightError> {
    if kind == SERVER_HELLO {
        if flight.server_hello.is_some() {
            return Err(FlightError::UnexpectedMessage(kind));
        }
        let hello = server_hello(body)?;
        let ends = hello.is_hello_retry_request() || hello.version() >= version::TLS13;
        flight.server_hello = Some(hello);
        return Ok(ends);
    }
    if kind == HELLO_REQUEST {
        // RFC 5246 §7.4.1.1: ignored while negotiating.
        return Ok(false);
    }
    let Some(hello) = &flight.server_hello else {
        return Err(FlightError::UnexpectedMessage(kind));
    };
    match kind {
        CERTIFICATE => flight.certificate = true,
        CERTIFICATE_REQUEST => flight.certificate_request = true,
        CERTIFICATE_STATUS => {}
        SERVER_KEY_EXCHANGE => {
            if flight.server_key_exchange.is_some() {
                return Err(FlightError::UnexpectedMessage(kind));
            }
            let ske = match hello.cipher_suite.info() {
                Some(info) => {
                    parse_server_key_exchange(body, info.kex, hello.version(), info.authenticated)?
                }
                None => ServerKeyExchange {
                    key_exchange: KeyExchange::Unknown,
                    signature: None,
                    public: Vec::new(),
                },
            };
            flight.server_key_exchange = Some(ske);
        }
        SERVER_HELLO_DONE => {
            flight.server_hello_done = true;
            return Ok(true);
        }
        other => return Err(FlightError::UnexpectedMessage(other)),
    }
    Ok(false)
}

/// RFC 5246 §7.4.1.3: version, random, session_id<0..32>, cipher_suite, compression_method,
/// extensions<0..2^16-1> (absent when the body ends there).
fn server_hello(body: &[u8]) -> Result<ServerHello, FlightError> {
    let mut r = Reader::new(body, "ServerHello");
    let legacy_version = r.u16()?;
    let mut random = [0u8; 32];
    random.copy_from_slice(r.take(32)?);
    let session_id = r.vec8()?;
    if session_id.len() > 32 {
        return Err(FlightError::Malformed("ServerHello"));
    }
    let cipher_suite = CipherSuite(r.u16()?);
    let compression_method = r.u8()?;
    let mut extensions: Vec<(u16, Vec<u8>)> = Vec::new();
    if !r.is_empty() {
        let mut e = Reader::new(r.vec16()?, "ServerHello extensions");
        while !e.is_empty() {
            let kind = e.u16()?;
            let data = e.vec16()?;
            if extensions.iter().any(|(k, _)| *k == kind) {
                return Err(FlightError::Malformed("ServerHello (duplicate extension)"));
            }
            extensions.push((kind, data.to_vec()));
        }
    }
    if !r.is_empty() {
        return Err(FlightError::Malformed("ServerHello"));
    }
    Ok(ServerHello {
        legacy_version,
        random,
        session_id: session_id.to_vec(),
        cipher_suite,
        compression_method,
        extensions,
    })
}

/// One complete handshake message in the buffer.
struct Message<'a> {
    kind: u8,
    body: &'a [u8],
    /// Where the next message starts.
    end: usize,
}

/// The handshake message starting at `at`, when complete.
fn message(buf: &[u8], at: usize) -> Result<Option<Message<'_>>, FlightError> {
    let Some(header) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    if len > MAX_HANDSHAKE {
        return Err(FlightError::TooLarge(len));
    }
    Ok(buf.get(at + 4..at + 4 + len).map(|body| Message {
        kind: header[0],
        body,
        end: at + 4 + len,
    }))
}

/// Bits of a big-endian unsigned integer, leading zeros ignored.
fn bits(n: &[u8]) -> u32 {
    let n = match n.iter().position(|&b| b != 0) {
        Some(i) => &n[i..],
        None => return 0,
    };
    let rest = u32::try_from(n.len() - 1).unwrap_or(u32::MAX / 16);
    rest * 8 + (8 - n[0].leading_zeros())
}

/// A bounds-checked cursor over a message.
struct Reader<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, what }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FlightError> {
        if n > self.data.len() {
            return Err(FlightError::Malformed(self.what));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, FlightError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, FlightError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn vec8(&mut self) -> Result<&'a [u8], FlightError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn vec16(&mut self) -> Result<&'a [u8], FlightError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// RFC 8446 §4.1.3: SHA-256 of "HelloRetryRequest".
const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
/// RFC 5246 §6.2.3: `TLSCiphertext.length` MUST NOT exceed 2^14 + 2048.
const MAX_RECORD: usize = (1 << 14) + 2048;
const CONTENT_CHANGE_CIPHER_SPEC: u8 = 0x14;
const CONTENT_ALERT: u8 = 0x15;
const CONTENT_HANDSHAKE: u8 = 0x16;
const HELLO_REQUEST: u8 = 0x00;
const SERVER_HELLO: u8 = 0x02;
const CERTIFICATE: u8 = 0x0b;
const SERVER_KEY_EXCHANGE: u8 = 0x0c;
const CERTIFICATE_REQUEST: u8 = 0x0d;
const SERVER_HELLO_DONE: u8 = 0x0e;
const CERTIFICATE_STATUS: u8 = 0x16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prime_bits() {
        for (n, want) in [
            (&[0x00u8][..], 0),
            (&[0x01], 1),
            (&[0x80], 8),
            (&[0x00, 0x80, 0x00], 16),
            (&[0x7f, 0xff], 15),
        ] {
            assert_eq!(bits(n), want, "{n:?}");
        }
    }

    #[test]
    fn truncated_and_hostile_flights() {
        // A record header alone, then a record over the limit, then plain SMTP.
        assert_eq!(parse_flight(&[0x16, 3, 3]), Ok(Progress::NeedMore));
        assert_eq!(
            parse_flight(&[0x16, 3, 3, 0xff, 0xff]),
            Err(FlightError::RecordOverflow(0xffff))
        );
        assert_eq!(
            parse_flight(b"554 5.7.0 go away\r\n"),
            Err(FlightError::UnexpectedContentType(b'5'))
        );
        assert_eq!(parse_flight(b""), Ok(Progress::NeedMore));
        // An alert.
        let Ok(Progress::Done(f)) = parse_flight(&[0x15, 3, 3, 0, 2, 2, 40]) else {
            panic!("alert")
        };
        assert_eq!(
            f.alert.map(Alert::name).as_deref(),
            Some("handshake_failure")
        );
        // ServerHelloDone before ServerHello.
        assert_eq!(
            parse_flight(&[0x16, 3, 3, 0, 4, 14, 0, 0, 0]),
            Err(FlightError::UnexpectedMessage(14))
        );
        // A handshake message announcing 16 MiB.
        assert_eq!(
            parse_flight(&[0x16, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff]),
            Err(FlightError::TooLarge(0xff_ffff))
        );
    }
}
