//! TLSA resource records, RFC 6698 §2.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Cert. Usage  |   Selector    | Matching Type |               /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+               /
//! /                                                               /
//! /                 Certificate Association Data                  /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The three code points are IANA registries; unknown values are kept (`Unassigned`, `Private`)
//! so that a record survives a round trip and can be judged unusable rather than unparsable.

use std::fmt;
use std::str::FromStr;

/// Certificate usage, RFC 6698 §2.1.1 and RFC 7218 §2.1.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum CertUsage {
    /// 0, PKIX-TA: CA constraint plus PKIX validation.
    PkixTa,
    /// 1, PKIX-EE: service certificate constraint plus PKIX validation.
    PkixEe,
    /// 2, DANE-TA: trust anchor assertion.
    DaneTa,
    /// 3, DANE-EE: domain-issued certificate.
    DaneEe,
    /// 4..=254: unassigned.
    Unassigned(u8),
    /// 255, PrivCert: private use.
    Private,
}

impl From<u8> for CertUsage {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::PkixTa,
            1 => Self::PkixEe,
            2 => Self::DaneTa,
            3 => Self::DaneEe,
            0xff => Self::Private,
            n => Self::Unassigned(n),
        }
    }
}

impl From<CertUsage> for u8 {
    fn from(v: CertUsage) -> Self {
        match v {
            CertUsage::PkixTa => 0,
            CertUsage::PkixEe => 1,
            CertUsage::DaneTa => 2,
            CertUsage::DaneEe => 3,
            CertUsage::Private => 0xff,
            CertUsage::Unassigned(n) => n,
        }
    }
}

/// Selector, RFC 6698 §2.1.2 and RFC 7218 §2.2.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Selector {
    /// 0, Cert: the full DER certificate.
    Cert,
    /// 1, SPKI: the DER SubjectPublicKeyInfo.
    Spki,
    /// 2..=254: unassigned.
    Unassigned(u8),
    /// 255, PrivSel: private use.
    Private,
}

impl From<u8> for Selector {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Cert,
            1 => Self::Spki,
            0xff => Self::Private,
            n => Self::Unassigned(n),
        }
    }
}

impl From<Selector> for u8 {
    fn from(v: Selector) -> Self {
        match v {
            Selector::Cert => 0,
            Selector::Spki => 1,
            Selector::Private => 0xff,
            Selector::Unassigned(n) => n,
        }
    }
}

/// Matching type, RFC 6698 §2.1.3 and RFC 7218 §2.3.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Matching {
    /// 0, Full: the selected content itself.
    Full,
    /// 1, SHA2-256.
    Sha256,
    /// 2, SHA2-512.
    Sha512,
    /// 3..=254: unassigned.
    Unassigned(u8),
    /// 255, PrivMatch: private use.
    Private,
}

impl Matching {
    /// The digest length in bytes, for the hash matching types.
    pub fn digest_len(self) -> Option<usize> {
        match self {
            Self::Sha256 => Some(32),
            Self::Sha512 => Some(64),
            _ => None,
        }
    }
}

impl From<u8> for Matching {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Full,
            1 => Self::Sha256,
            2 => Self::Sha512,
            0xff => Self::Private,
            n => Self::Unassigned(n),
        }
    }
}

impl From<Matching> for u8 {
    fn from(v: Matching) -> Self {
        match v {
            Matching::Full => 0,
            Matching::Sha256 => 1,
            Matching::Sha512 => 2,
            Matching::Private => 0xff,
            Matching::Unassigned(n) => n,
        }
    }
}

/// The RDATA of one TLSA record.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Tlsa {
    /// Certificate usage.
    pub usage: CertUsage,
    /// Selector.
    pub selector: Selector,
    /// Matching type.
    pub matching: Matching,
    /// Certificate association data.
    pub data: Vec<u8>,
}

/// In JSON a record is its presentation form, `3 1 1 <hex>` (RFC 6698 §2.2).
impl serde::Serialize for Tlsa {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Whether a record can authenticate an SMTP server (RFC 7672 §3.1.3 and §2.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Usability {
    /// DANE-TA(2) or DANE-EE(3), a known selector and matching type, well-formed data.
    Usable,
    /// PKIX-TA(0)/PKIX-EE(1): SMTP clients treat them as unusable (RFC 7672 §3.1.3).
    PkixUsage,
    /// An unassigned or private code point.
    UnknownParameter,
    /// The data length does not fit the matching type (or is empty).
    BadLength,
}

impl Tlsa {
    /// Builds a record.
    pub fn new(
        usage: impl Into<CertUsage>,
        selector: impl Into<Selector>,
        matching: impl Into<Matching>,
        data: Vec<u8>,
    ) -> Self {
        Self {
            usage: usage.into(),
            selector: selector.into(),
            matching: matching.into(),
            data,
        }
    }

    /// Decodes wire-format RDATA (RFC 6698 §2.1).
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, TlsaError> {
        match rdata {
            [u, s, m, data @ ..] => Ok(Self::new(*u, *s, *m, data.to_vec())),
            _ => Err(TlsaError::ShortRdata(rdata.len())),
        }
    }

    /// Encodes wire-format RDATA.
    pub fn to_rdata(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(3 + self.data.len());
        v.extend([
            u8::from(self.usage),
            u8::from(self.selector),
            u8::from(self.matching),
        ]);
        v.extend(&self.data);
        v
    }

    /// RFC 7672 §3.1.3 and §2.2: can this record authenticate an SMTP server?
    pub fn usability(&self) -> Usability {
        match self.usage {
            CertUsage::DaneTa | CertUsage::DaneEe => {}
            CertUsage::PkixTa | CertUsage::PkixEe => return Usability::PkixUsage,
            _ => return Usability::UnknownParameter,
        }
        if !matches!(self.selector, Selector::Cert | Selector::Spki) {
            return Usability::UnknownParameter;
        }
        match self.matching {
            Matching::Full if !self.data.is_empty() => Usability::Usable,
            Matching::Full => Usability::BadLength,
            m => match m.digest_len() {
                Some(n) if n == self.data.len() => Usability::Usable,
                Some(_) => Usability::BadLength,
                None => Usability::UnknownParameter,
            },
        }
    }

    /// Parses `usage selector matching hex...` (RFC 6698 §2.2); the hex may be split by
    /// whitespace.
    /// The RFC 3597 generic form `\\# <length> <hex>` is accepted too.
    pub fn parse_rdata_text(text: &str) -> Result<Self, TlsaError> {
        let mut tokens = text.split_ascii_whitespace();
        if let Some(rest) = text.trim_start().strip_prefix("\\#") {
            let mut generic = rest.split_ascii_whitespace();
            let len: usize = generic
                .next()
                .and_then(|l| l.parse().ok())
                .ok_or(TlsaError::Missing("generic RDATA length"))?;
            let data = hex::decode(generic.collect::<String>()).map_err(|_| TlsaError::BadHex)?;
            if data.len() != len {
                return Err(TlsaError::BadHex);
            }
            return Self::from_rdata(&data);
        }
        let mut field = |name| -> Result<u8, TlsaError> {
            let t = tokens.next().ok_or(TlsaError::Missing(name))?;
            t.parse::<u8>().map_err(|_| TlsaError::BadNumber {
                field: name,
                value: t.to_owned(),
            })
        };
        let (u, s, m) = (field("usage")?, field("selector")?, field("matching type")?);
        let hex: String = tokens.collect();
        if hex.is_empty() {
            return Err(TlsaError::Missing("association data"));
        }
        let data = hex::decode(&hex).map_err(|_| TlsaError::BadHex)?;
        Ok(Self::new(u, s, m, data))
    }
}

impl fmt::Display for Tlsa {
    /// `3 1 1 <lower-case hex>`: presentation format with no spaces inside the data, as TLS-RPT
    /// `policy-string` wants it (RFC 8460 §4.5).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.data.is_empty() {
            // No presentation form has an empty hex field: use RFC 3597 §5 generic RDATA.
            return write!(f, "\\# 3 {}", hex::encode(self.to_rdata()));
        }
        write!(
            f,
            "{} {} {} {}",
            u8::from(self.usage),
            u8::from(self.selector),
            u8::from(self.matching),
            hex::encode(&self.data)
        )
    }
}

impl FromStr for Tlsa {
    type Err = TlsaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rdata_text(s)
    }
}

/// A TLSA record in zone-file presentation form: `owner [ttl] [IN] TLSA u s m hex`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TlsaRecord {
    /// Owner name, e.g. `_25._tcp.mx.example.com.`; `None` when only the RDATA was given.
    pub owner: Option<String>,
    /// TTL, when given.
    pub ttl: Option<u32>,
    /// The RDATA.
    pub tlsa: Tlsa,
}

impl TlsaRecord {
    /// The owner name for `host`, `port` and `proto` (RFC 6698 §3): `_25._tcp.host.`.
    pub fn owner_name(port: u16, proto: &str, host: &str) -> String {
        let host = host.strip_suffix('.').unwrap_or(host);
        format!("_{port}._{proto}.{host}.")
    }
}

impl FromStr for TlsaRecord {
    type Err = TlsaError;

    /// Accepts `3 1 1 hex`, `TLSA 3 1 1 hex`, or a zone-file line with owner, optional TTL and
    /// class in either order. Parentheses (multi-line form) are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s
            .chars()
            .map(|c| if c == '(' || c == ')' { ' ' } else { c })
            .collect();
        let tokens: Vec<&str> = cleaned.split_ascii_whitespace().collect();
        let Some(pos) = tokens.iter().position(|t| t.eq_ignore_ascii_case("TLSA")) else {
            return Ok(Self {
                owner: None,
                ttl: None,
                tlsa: Tlsa::parse_rdata_text(&cleaned)?,
            });
        };
        let head = &tokens[..pos];
        let mut owner = None;
        let mut ttl = None;
        for (i, t) in head.iter().enumerate() {
            if t.eq_ignore_ascii_case("IN") {
                continue;
            }
            if let Ok(n) = t.parse::<u32>() {
                if ttl.replace(n).is_some() {
                    return Err(TlsaError::BadPrefix((*t).to_owned()));
                }
                continue;
            }
            if i == 0 {
                owner = Some((*t).to_owned());
            } else {
                return Err(TlsaError::BadPrefix((*t).to_owned()));
            }
        }
        let tlsa = Tlsa::parse_rdata_text(&tokens[pos + 1..].join(" "))?;
        Ok(Self { owner, ttl, tlsa })
    }
}

impl fmt::Display for TlsaRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(owner) = &self.owner {
            write!(f, "{owner} ")?;
        }
        if let Some(ttl) = self.ttl {
            write!(f, "{ttl} ")?;
        }
        if self.owner.is_some() || self.ttl.is_some() {
            f.write_str("IN ")?;
        }
        write!(f, "TLSA {}", self.tlsa)
    }
}

/// Why TLSA text or RDATA is refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsaError {
    /// A field is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field is not a number from 0 to 255.
    #[error("{field} {} is not a number from 0 to 255", crate::diag::quote(.value))]
    BadNumber {
        /// Which field.
        field: &'static str,
        /// What was there.
        value: String,
    },
    /// The association data is not hexadecimal (an even number of hex digits).
    #[error("association data is not an even number of hex digits")]
    BadHex,
    /// Something other than owner, TTL or class before `TLSA`.
    #[error("unexpected {} before TLSA", crate::diag::quote(.0))]
    BadPrefix(String),
    /// Wire RDATA shorter than the three fixed octets.
    #[error("TLSA RDATA of {0} bytes is shorter than 3")]
    ShortRdata(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = "_25._tcp.smtphost.exchangelabs.nl. IN TLSA 3 1 1 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab";

    #[test]
    fn code_points_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(CertUsage::from(v)), v);
            assert_eq!(u8::from(Selector::from(v)), v);
            assert_eq!(u8::from(Matching::from(v)), v);
        }
        assert_eq!(CertUsage::from(4), CertUsage::Unassigned(4));
        assert_eq!(CertUsage::from(254), CertUsage::Unassigned(254));
        assert_eq!(CertUsage::from(255), CertUsage::Private);
    }

    #[test]
    fn presentation_round_trip() {
        let r: TlsaRecord = ARTICLE.parse().unwrap();
        assert_eq!(
            r.owner.as_deref(),
            Some("_25._tcp.smtphost.exchangelabs.nl.")
        );
        assert_eq!(r.tlsa.usage, CertUsage::DaneEe);
        assert_eq!(r.tlsa.data.len(), 32);
        assert_eq!(r.to_string(), ARTICLE);
        let with_ttl: TlsaRecord = "_25._tcp.mx.example. 3600 IN TLSA ( 3 1 1 a63d74fc7ec1acad702017d13479a1b6\n 0b36f234ccb96b90f97c9619ba2c91ab )".parse().unwrap();
        assert_eq!(with_ttl.ttl, Some(3600));
        assert_eq!(with_ttl.tlsa.data, r.tlsa.data);
        assert_eq!(Tlsa::from_rdata(&r.tlsa.to_rdata()).unwrap(), r.tlsa);
    }

    #[test]
    fn usability_table() {
        for (text, expected) in [
            (
                "3 1 1 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab",
                Usability::Usable,
            ),
            (
                "2 0 1 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab",
                Usability::Usable,
            ),
            ("3 1 0 3059", Usability::Usable),
            (
                "3 1 2 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab",
                Usability::BadLength,
            ),
            ("3 1 1 a63d", Usability::BadLength),
            (
                "0 0 1 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab",
                Usability::PkixUsage,
            ),
            (
                "1 1 1 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab",
                Usability::PkixUsage,
            ),
            (
                "4 1 1 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab",
                Usability::UnknownParameter,
            ),
            (
                "3 2 1 a63d74fc7ec1acad702017d13479a1b60b36f234ccb96b90f97c9619ba2c91ab",
                Usability::UnknownParameter,
            ),
            ("3 1 255 00", Usability::UnknownParameter),
        ] {
            assert_eq!(
                text.parse::<Tlsa>().unwrap().usability(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            "3 1".parse::<Tlsa>(),
            Err(TlsaError::Missing("matching type"))
        );
        assert_eq!(
            "3 1 1".parse::<Tlsa>(),
            Err(TlsaError::Missing("association data"))
        );
        assert!(matches!(
            "256 1 1 00".parse::<Tlsa>(),
            Err(TlsaError::BadNumber { .. })
        ));
        assert_eq!("3 1 1 abc".parse::<Tlsa>(), Err(TlsaError::BadHex));
        assert_eq!(Tlsa::from_rdata(&[3, 1]), Err(TlsaError::ShortRdata(2)));
        // Found by the fuzzer: empty association data must still render and parse back.
        let empty = Tlsa::from_rdata(&[0x84, 0xf5, 0x40]).unwrap();
        assert_eq!(empty.to_string(), "\\# 3 84f540");
        assert_eq!(empty.to_string().parse::<Tlsa>().unwrap(), empty);
        assert_eq!(empty.usability(), Usability::UnknownParameter);
        assert_eq!(
            "\\# 3 030101".parse::<Tlsa>().unwrap().usability(),
            Usability::BadLength
        );
        assert!(matches!(
            "a b IN TLSA 3 1 1 00".parse::<TlsaRecord>(),
            Err(TlsaError::BadPrefix(_))
        ));
    }
}
