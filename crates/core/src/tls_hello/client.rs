//! The ClientHello (RFC 5246 §7.4.1.2; RFC 8446 §4.1.2), with exactly the offer asked for.

use super::codes::ext;
use super::version;

/// A ClientHello to encode. Every field is sent as given: nothing is added behind the caller's
/// back except what the fields say (an empty `supported_groups` sends no extension, and so on).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ClientHello {
    /// `client_version` (TLS 1.2: `legacy_version`, RFC 8446 §4.1.2, stays 0x0303 for TLS 1.3).
    pub version: u16,
    /// `random`: 32 bytes from the caller (the core has no randomness).
    pub random: [u8; 32],
    /// `session_id` (at most 32 bytes, RFC 5246 §7.4.1.2).
    pub session_id: Vec<u8>,
    /// `cipher_suites`, in the client's order of preference.
    pub cipher_suites: Vec<u16>,
    /// `compression_methods` (RFC 5246 §7.4.1.2; 0 null, 1 DEFLATE per RFC 3749).
    pub compression_methods: Vec<u8>,
    /// `server_name` (RFC 6066 §3): a DNS host name, never an address.
    pub server_name: Option<String>,
    /// `supported_groups` (RFC 8422 §5.1.1). With groups, `ec_point_formats` (uncompressed
    /// only, RFC 8422 §5.1.2) is sent too.
    pub supported_groups: Vec<u16>,
    /// `signature_algorithms` (RFC 5246 §7.4.1.4.1).
    pub signature_algorithms: Vec<u16>,
    /// `renegotiation_info` (RFC 5746 §3.2): `Some(empty)` on a first handshake (§3.4),
    /// `Some(client_verify_data)` when renegotiating (§3.5).
    pub renegotiation_info: Option<Vec<u8>>,
    /// `extended_master_secret` (RFC 7627 §5.1), empty.
    pub extended_master_secret: bool,
    /// `supported_versions` (RFC 8446 §4.2.1); empty sends no extension (TLS 1.2 and older).
    pub supported_versions: Vec<u16>,
    /// `key_share` entries (RFC 8446 §4.2.8): group and public key.
    pub key_shares: Vec<(u16, Vec<u8>)>,
}

/// Why a ClientHello cannot be encoded.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HelloError {
    /// A vector exceeds the length its prefix can state (RFC 5246 §4.3), or the session ID is
    /// longer than 32 bytes. Only a caller's mistake triggers it, never the server.
    #[error("ClientHello field {field} is too long ({len} bytes)")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// `cipher_suites` or `compression_methods` is empty (both `<2..>`/`<1..>` vectors).
    #[error("ClientHello field {0} must not be empty")]
    Empty(&'static str),
}

impl ClientHello {
    /// A TLS 1.2 ClientHello offering `cipher_suites`, no compression, every strong group and
    /// signature scheme, the renegotiation_info and extended_master_secret extensions.
    pub fn tls12(random: [u8; 32], cipher_suites: &[u16]) -> Self {
        Self {
            version: version::TLS12,
            random,
            session_id: Vec::new(),
            cipher_suites: cipher_suites.to_vec(),
            compression_methods: vec![0],
            server_name: None,
            supported_groups: super::NamedGroup::STRONG.iter().map(|g| g.0).collect(),
            signature_algorithms: super::SignatureScheme::STRONG.iter().map(|s| s.0).collect(),
            renegotiation_info: Some(Vec::new()),
            extended_master_secret: true,
            supported_versions: Vec::new(),
            key_shares: Vec::new(),
        }
    }

    /// The handshake message: `msg_type` 1, a 24-bit length, the body (RFC 5246 §7.4).
    pub fn encode(&self) -> Result<Vec<u8>, HelloError> {
        if self.cipher_suites.is_empty() {
            return Err(HelloError::Empty("cipher_suites"));
        }
        if self.compression_methods.is_empty() {
            return Err(HelloError::Empty("compression_methods"));
        }
        if self.session_id.len() > 32 {
            return Err(HelloError::TooLong {
                field: "session_id",
                len: self.session_id.len(),
            });
        }
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(&self.version.to_be_bytes());
        body.extend_from_slice(&self.random);
        vec8(&mut body, "session_id", &self.session_id)?;
        let suites: Vec<u8> = self
            .cipher_suites
            .iter()
            .flat_map(|s| s.to_be_bytes())
            .collect();
        vec16(&mut body, "cipher_suites", &suites)?;
        vec8(&mut body, "compression_methods", &self.compression_methods)?;
        let extensions = self.extensions()?;
        if !extensions.is_empty() {
            vec16(&mut body, "extensions", &extensions)?;
        }
        let mut msg = Vec::with_capacity(body.len() + 4);
        msg.push(HANDSHAKE_CLIENT_HELLO);
        let len = u32::try_from(body.len())
            .ok()
            .filter(|&l| l < 1 << 24)
            .ok_or(HelloError::TooLong {
                field: "ClientHello",
                len: body.len(),
            })?;
        msg.extend_from_slice(&len.to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        Ok(msg)
    }

    /// The message in plaintext records (RFC 5246 §6.2.1: content type 22, at most 2^14 bytes
    /// each), with record version 0x0301 as RFC 8446 §5.1 and Appendix E of RFC 5246 advise for
    /// a first ClientHello.
    pub fn encode_record(&self) -> Result<Vec<u8>, HelloError> {
        Ok(records(CONTENT_HANDSHAKE, version::TLS10, &self.encode()?))
    }

    fn extensions(&self) -> Result<Vec<u8>, HelloError> {
        let mut out = Vec::new();
        if let Some(name) = &self.server_name {
            // RFC 6066 §3: ServerNameList of one host_name (type 0).
            let mut entry = vec![0u8];
            vec16(&mut entry, "server_name", name.as_bytes())?;
            let mut list = Vec::new();
            vec16(&mut list, "server_name_list", &entry)?;
            extension(&mut out, ext::SERVER_NAME, &list)?;
        }
        if !self.supported_groups.is_empty() {
            let groups: Vec<u8> = self
                .supported_groups
                .iter()
                .flat_map(|g| g.to_be_bytes())
                .collect();
            let mut data = Vec::new();
            vec16(&mut data, "supported_groups", &groups)?;
            extension(&mut out, ext::SUPPORTED_GROUPS, &data)?;
            // RFC 8422 §5.1.2: uncompressed (0) is the only format left.
            extension(&mut out, ext::EC_POINT_FORMATS, &[1, 0])?;
        }
        if !self.signature_algorithms.is_empty() {
            let algs: Vec<u8> = self
                .signature_algorithms
                .iter()
                .flat_map(|s| s.to_be_bytes())
                .collect();
            let mut data = Vec::new();
            vec16(&mut data, "signature_algorithms", &algs)?;
            extension(&mut out, ext::SIGNATURE_ALGORITHMS, &data)?;
        }
        if let Some(info) = &self.renegotiation_info {
            let mut data = Vec::new();
            vec8(&mut data, "renegotiation_info", info)?;
            extension(&mut out, ext::RENEGOTIATION_INFO, &data)?;
        }
        if self.extended_master_secret {
            extension(&mut out, ext::EXTENDED_MASTER_SECRET, &[])?;
        }
        if !self.supported_versions.is_empty() {
            let versions: Vec<u8> = self
                .supported_versions
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect();
            let mut data = Vec::new();
            vec8(&mut data, "supported_versions", &versions)?;
            extension(&mut out, ext::SUPPORTED_VERSIONS, &data)?;
        }
        if !self.key_shares.is_empty() {
            let mut shares = Vec::new();
            for (group, key) in &self.key_shares {
                shares.extend_from_slice(&group.to_be_bytes());
                vec16(&mut shares, "key_exchange", key)?;
            }
            let mut data = Vec::new();
            vec16(&mut data, "client_shares", &shares)?;
            extension(&mut out, ext::KEY_SHARE, &data)?;
        }
        Ok(out)
    }
}

/// Splits `payload` into records of `content_type` (RFC 5246 §6.2.1: fragments of at most 2^14
/// bytes; an empty payload gives no record).
pub(crate) fn records(content_type: u8, record_version: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    for chunk in payload.chunks(MAX_FRAGMENT) {
        out.push(content_type);
        out.extend_from_slice(&record_version.to_be_bytes());
        // chunk.len() <= 2^14 fits in 16 bits.
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

fn vec8(out: &mut Vec<u8>, field: &'static str, data: &[u8]) -> Result<(), HelloError> {
    let len = u8::try_from(data.len()).map_err(|_| HelloError::TooLong {
        field,
        len: data.len(),
    })?;
    out.push(len);
    out.extend_from_slice(data);
    Ok(())
}

fn vec16(out: &mut Vec<u8>, field: &'static str, data: &[u8]) -> Result<(), HelloError> {
    let len = u16::try_from(data.len()).map_err(|_| HelloError::TooLong {
        field,
        len: data.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) -> Result<(), HelloError> {
    out.extend_from_slice(&kind.to_be_bytes());
    vec16(out, "extension_data", data)
}

/// `HandshakeType.client_hello` (RFC 5246 §7.4).
const HANDSHAKE_CLIENT_HELLO: u8 = 0x01;
/// `ContentType.handshake` (RFC 5246 §6.2.1).
pub(crate) const CONTENT_HANDSHAKE: u8 = 0x16;
/// Largest plaintext fragment (RFC 5246 §6.2.1).
const MAX_FRAGMENT: usize = 1 << 14;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_hello_byte_by_byte() {
        // RFC 5246 §7.4.1.2 layout, written out by hand.
        let mut hello = ClientHello::tls12([0xaa; 32], &[0xc02f]);
        hello.supported_groups.clear();
        hello.signature_algorithms.clear();
        hello.renegotiation_info = None;
        hello.extended_master_secret = true;
        let mut want = vec![
            0x16, 0x03, 0x01, 0x00, 0x33, 0x01, 0x00, 0x00, 0x2f, 0x03, 0x03,
        ];
        want.extend([0xaa; 32]);
        want.extend([0x00, 0x00, 0x02, 0xc0, 0x2f, 0x01, 0x00]);
        want.extend([0x00, 0x04, 0x00, 0x17, 0x00, 0x00]);
        assert_eq!(hello.encode_record(), Ok(want));
    }

    #[test]
    fn what_cannot_be_encoded() {
        let mut hello = ClientHello::tls12([0; 32], &[]);
        assert_eq!(hello.encode(), Err(HelloError::Empty("cipher_suites")));
        hello.cipher_suites = vec![0x002f];
        hello.session_id = vec![0; 33];
        assert!(matches!(hello.encode(), Err(HelloError::TooLong { .. })));
        hello.session_id.clear();
        hello.renegotiation_info = Some(vec![0; 256]);
        assert!(matches!(hello.encode(), Err(HelloError::TooLong { .. })));
        hello.renegotiation_info = Some(vec![0; 12]);
        hello.server_name = Some("x".repeat(70_000));
        assert!(matches!(hello.encode(), Err(HelloError::TooLong { .. })));
    }

    #[test]
    fn long_messages_span_records() {
        let payload = vec![1u8; (1 << 14) + 10];
        let r = records(CONTENT_HANDSHAKE, version::TLS10, &payload);
        assert_eq!(r.len(), payload.len() + 10);
        assert_eq!(&r[..5], &[0x16, 0x03, 0x01, 0x40, 0x00]);
        assert_eq!(&r[5 + (1 << 14)..][..5], &[0x16, 0x03, 0x01, 0x00, 0x0a]);
    }
}
