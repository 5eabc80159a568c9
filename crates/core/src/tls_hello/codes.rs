//! Code points of the IANA TLS registries the scan offers or reads: cipher suites (with what
//! makes one weak), named groups, signature schemes and extension types. Each type is total over
//! its `u16`: an unknown code point keeps its number.

use std::fmt;

/// A cipher suite (IANA "TLS Cipher Suites"; RFC 5246 Appendix A.5, RFC 8446 §B.4).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// What the scan knows of this suite, if it is in its table.
    pub fn info(self) -> Option<&'static SuiteInfo> {
        SUITES.iter().find(|s| s.code == self.0)
    }

    /// The IANA name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`), or the code point in hex.
    pub fn name(self) -> String {
        self.info()
            .map_or_else(|| format!("0x{:04x}", self.0), |i| i.name.to_owned())
    }

    /// Why the suite is weak, if it is (checks T3; internet.nl's "insufficient" suites).
    pub fn weakness(self) -> Option<Weakness> {
        self.info().and_then(SuiteInfo::weakness)
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One row of the suite table.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SuiteInfo {
    /// The code point.
    pub code: u16,
    /// The IANA name.
    pub name: &'static str,
    /// How keys are exchanged.
    pub kex: KeyExchangeKind,
    /// Whether the server is authenticated (false for `DH_anon`/`ECDH_anon`).
    pub authenticated: bool,
    /// The bulk cipher, as a short name (`NULL`, `RC4_128`, `3DES_EDE_CBC`, `AES_128_GCM`, ...).
    pub cipher: &'static str,
    /// An export suite (40- or 56-bit keys, RFC 2246 Appendix A.5).
    pub export: bool,
}

impl SuiteInfo {
    /// The first reason, in the order of [`Weakness`], that makes the suite weak.
    pub fn weakness(&self) -> Option<Weakness> {
        if self.cipher == "NULL" {
            Some(Weakness::Null)
        } else if self.export {
            Some(Weakness::Export)
        } else if !self.authenticated {
            Some(Weakness::Anonymous)
        } else if self.cipher.starts_with("RC4") {
            Some(Weakness::Rc4)
        } else if self.cipher.contains("DES") || self.cipher.starts_with("RC2") {
            Some(Weakness::Des)
        } else if self.kex == KeyExchangeKind::Rsa {
            Some(Weakness::NoForwardSecrecy)
        } else {
            None
        }
    }
}

/// Why a cipher suite is weak (T3).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weakness {
    /// No encryption at all (`NULL` cipher).
    Null,
    /// An export suite: 40- or 56-bit keys (RFC 5246 Appendix A.5 forbids negotiating them).
    Export,
    /// No server authentication (`DH_anon`, `ECDH_anon`): anyone in the path can pose as the
    /// server.
    Anonymous,
    /// RC4 (RFC 7465 prohibits it).
    Rc4,
    /// DES, 3DES or RC2: 64-bit blocks (Sweet32) or short keys.
    Des,
    /// Static RSA key exchange: a later theft of the server's key decrypts recorded traffic.
    NoForwardSecrecy,
}

impl Weakness {
    /// A few words for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Null => "no encryption (NULL)",
            Self::Export => "export-grade keys",
            Self::Anonymous => "anonymous (no server authentication)",
            Self::Rc4 => "RC4",
            Self::Des => "DES/3DES (64-bit blocks)",
            Self::NoForwardSecrecy => "static RSA key exchange (no forward secrecy)",
        }
    }
}

/// How a TLS 1.2-or-older suite exchanges keys (RFC 5246 §7.4.3, RFC 8422 §2).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyExchangeKind {
    /// RSA key transport: no ServerKeyExchange, no forward secrecy.
    Rsa,
    /// Ephemeral finite-field Diffie-Hellman (`DHE_RSA`, `DHE_DSS`, `DH_anon`).
    Dhe,
    /// Ephemeral elliptic-curve Diffie-Hellman (`ECDHE_RSA`, `ECDHE_ECDSA`, `ECDH_anon`).
    Ecdhe,
    /// A TLS 1.3 suite: the key exchange is negotiated apart (RFC 8446 §4.2.7).
    Tls13,
}

/// The suites the scan offers, grouped as it asks about them.
pub mod suites {
    /// Every weak suite in the table (T3), in the order offered: NULL, export, anonymous, RC4,
    /// DES/3DES, then static RSA.
    pub const WEAK: &[u16] = &[
        0x0001, 0x0002, 0x003b, 0xc006, 0xc010, 0xc015, // NULL
        0x0003, 0x0006, 0x0008, 0x0011, 0x0014, // export
        0x0034, 0x003a, 0x00a6, 0x00a7, 0xc018, 0xc019, 0x0018, 0x001b, // anonymous
        0x0004, 0x0005, 0xc007, 0xc011, // RC4
        0x0009, 0x0015, 0x000a, 0x0016, 0xc008, 0xc012, // DES, 3DES
        0x009c, 0x009d, 0x002f, 0x0035, 0x003c, 0x003d, 0x0041, 0x0084, // static RSA
    ];
    /// Forward-secret AEAD and CBC suites with ECDHE, strongest first.
    pub const ECDHE: &[u16] = &[
        0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc023, 0xc027, 0xc024, 0xc028, 0xc009,
        0xc013, 0xc00a, 0xc014,
    ];
    /// Forward-secret suites with finite-field DHE.
    pub const DHE: &[u16] = &[
        0x009e, 0x009f, 0xccaa, 0x0067, 0x006b, 0x0033, 0x0039, 0x0032, 0x0038,
    ];
    /// The suites the scan's own TLS 1.2 client (renegotiation, T9) can complete a handshake
    /// with: ECDHE and AES-GCM.
    pub const ECDHE_AES_GCM: &[u16] = &[0xc02b, 0xc02f, 0xc02c, 0xc030];
    /// `TLS_EMPTY_RENEGOTIATION_INFO_SCSV` (RFC 5746 §3.3): not a suite; offered instead of
    /// the extension where an empty extension is not wanted.
    pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;
}

/// A named group (IANA "TLS Supported Groups"; RFC 8422 §5.1.1, RFC 7919, RFC 8446 §4.2.7).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct NamedGroup(pub u16);

impl NamedGroup {
    /// secp256r1 (P-256).
    pub const SECP256R1: Self = Self(0x0017);
    /// secp384r1 (P-384).
    pub const SECP384R1: Self = Self(0x0018);
    /// secp521r1 (P-521).
    pub const SECP521R1: Self = Self(0x0019);
    /// X25519 (RFC 7748).
    pub const X25519: Self = Self(0x001d);
    /// X448 (RFC 7748).
    pub const X448: Self = Self(0x001e);

    /// Every group the scan offers as strong, in its order of preference.
    pub const STRONG: &[Self] = &[
        Self::X25519,
        Self::SECP256R1,
        Self::SECP384R1,
        Self::SECP521R1,
        Self::X448,
    ];

    /// Curves of fewer than 256 bits and binary curves (RFC 8422 §5.1.1 deprecates them; RFC
    /// 8446 §4.2.7 drops them), offered alone to ask whether the server takes one (T5).
    pub const WEAK: &[Self] = &[
        Self(0x0015), // secp224r1
        Self(0x0014), // secp224k1
        Self(0x0013), // secp192r1
        Self(0x0012), // secp192k1
        Self(0x0010), // secp160r1
        Self(0x0011), // secp160r2
        Self(0x000f), // secp160k1
        Self(0x0009), // sect283k1
        Self(0x000a), // sect283r1
        Self(0x0006), // sect233k1
        Self(0x0007), // sect233r1
        Self(0x0001), // sect163k1
        Self(0x0003), // sect163r2
    ];

    /// The IANA name, or the code point in hex.
    pub fn name(self) -> String {
        let known = match self.0 {
            0x0001 => "sect163k1",
            0x0002 => "sect163r1",
            0x0003 => "sect163r2",
            0x0004 => "sect193r1",
            0x0005 => "sect193r2",
            0x0006 => "sect233k1",
            0x0007 => "sect233r1",
            0x0008 => "sect239k1",
            0x0009 => "sect283k1",
            0x000a => "sect283r1",
            0x000b => "sect409k1",
            0x000c => "sect409r1",
            0x000d => "sect571k1",
            0x000e => "sect571r1",
            0x000f => "secp160k1",
            0x0010 => "secp160r1",
            0x0011 => "secp160r2",
            0x0012 => "secp192k1",
            0x0013 => "secp192r1",
            0x0014 => "secp224k1",
            0x0015 => "secp224r1",
            0x0016 => "secp256k1",
            0x0017 => "secp256r1",
            0x0018 => "secp384r1",
            0x0019 => "secp521r1",
            0x001a => "brainpoolP256r1",
            0x001b => "brainpoolP384r1",
            0x001c => "brainpoolP512r1",
            0x001d => "x25519",
            0x001e => "x448",
            0x0100 => "ffdhe2048",
            0x0101 => "ffdhe3072",
            0x0102 => "ffdhe4096",
            0x0103 => "ffdhe6144",
            0x0104 => "ffdhe8192",
            0xff01 => "arbitrary_explicit_prime_curves",
            0xff02 => "arbitrary_explicit_char2_curves",
            _ => return format!("0x{:04x}", self.0),
        };
        known.to_owned()
    }

    /// Strong enough for internet.nl ("good" or "sufficient"): P-256, P-384, P-521, X25519,
    /// X448, and the RFC 7919 groups of 2048 bits or more.
    pub fn is_strong(self) -> bool {
        Self::STRONG.contains(&self) || (0x0100..=0x0104).contains(&self.0)
    }
}

impl fmt::Display for NamedGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A signature scheme (RFC 8446 §4.2.3) or, for TLS 1.2, a `SignatureAndHashAlgorithm` (RFC
/// 5246 §7.4.1.4.1: the hash in the high byte, the signature in the low byte).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct SignatureScheme(pub u16);

impl SignatureScheme {
    /// What the scan offers by default: SHA-2 with RSA (PKCS#1 and PSS) and ECDSA, and EdDSA.
    pub const STRONG: &[Self] = &[
        Self(0x0403),
        Self(0x0503),
        Self(0x0603),
        Self(0x0804),
        Self(0x0805),
        Self(0x0806),
        Self(0x0401),
        Self(0x0501),
        Self(0x0601),
        Self(0x0807),
        Self(0x0808),
    ];
    /// SHA-1 and MD5 only (RSA, DSA, ECDSA), offered alone to ask whether the server signs its
    /// key exchange with them (T6).
    pub const WEAK: &[Self] = &[
        Self(0x0201),
        Self(0x0203),
        Self(0x0202),
        Self(0x0101),
        Self(0x0103),
        Self(0x0102),
    ];

    /// The hash the signature uses.
    pub fn hash(self) -> HashAlgorithm {
        match self.0 {
            0x0804 | 0x0809 => HashAlgorithm::Sha256,
            0x0805 | 0x080a => HashAlgorithm::Sha384,
            0x0806 | 0x080b => HashAlgorithm::Sha512,
            0x0807 | 0x0808 => HashAlgorithm::Intrinsic,
            v => match v >> 8 {
                0x01 => HashAlgorithm::Md5,
                0x02 => HashAlgorithm::Sha1,
                0x03 => HashAlgorithm::Sha224,
                0x04 => HashAlgorithm::Sha256,
                0x05 => HashAlgorithm::Sha384,
                0x06 => HashAlgorithm::Sha512,
                _ => HashAlgorithm::Unknown,
            },
        }
    }

    /// The name (`rsa_pkcs1_sha256`, `ecdsa_sha1`), or the code point in hex.
    pub fn name(self) -> String {
        let sig = match self.0 & 0xff {
            0x01 => "rsa_pkcs1",
            0x02 => "dsa",
            0x03 => "ecdsa",
            _ => "",
        };
        let known = match self.0 {
            0x0804..=0x0806 => Some(format!("rsa_pss_rsae_{}", self.hash().name())),
            0x0809..=0x080b => Some(format!("rsa_pss_pss_{}", self.hash().name())),
            0x0807 => Some("ed25519".to_owned()),
            0x0808 => Some("ed448".to_owned()),
            v if v >> 8 <= 0x06 && v >> 8 >= 0x01 && !sig.is_empty() => {
                Some(format!("{sig}_{}", self.hash().name()))
            }
            _ => None,
        };
        known.unwrap_or_else(|| format!("0x{:04x}", self.0))
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The hash of a signature scheme.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashAlgorithm {
    /// MD5 (broken).
    Md5,
    /// SHA-1 (collisions found; RFC 9155 deprecates it in TLS 1.2 signatures).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// EdDSA: the hash is part of the algorithm.
    Intrinsic,
    /// Not a hash the scan knows.
    Unknown,
}

impl HashAlgorithm {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Intrinsic => "intrinsic",
            Self::Unknown => "unknown",
        }
    }

    /// MD5 and SHA-1: RFC 9155 §2 (MUST NOT) and internet.nl's "insufficient".
    pub fn is_weak(self) -> bool {
        matches!(self, Self::Md5 | Self::Sha1)
    }
}

/// Extension types used here (IANA "TLS ExtensionType Values").
pub mod ext {
    /// `server_name` (RFC 6066 §3).
    pub const SERVER_NAME: u16 = 0x0000;
    /// `supported_groups` (RFC 8422 §5.1.1, RFC 8446 §4.2.7).
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    /// `ec_point_formats` (RFC 8422 §5.1.2).
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    /// `signature_algorithms` (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3).
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    /// `extended_master_secret` (RFC 7627 §5.1).
    pub const EXTENDED_MASTER_SECRET: u16 = 0x0017;
    /// `session_ticket` (RFC 5077).
    pub const SESSION_TICKET: u16 = 0x0023;
    /// `early_data` (RFC 8446 §4.2.10).
    pub const EARLY_DATA: u16 = 0x002a;
    /// `supported_versions` (RFC 8446 §4.2.1).
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    /// `key_share` (RFC 8446 §4.2.8).
    pub const KEY_SHARE: u16 = 0x0033;
    /// `renegotiation_info` (RFC 5746 §3.2).
    pub const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// The suite table: every suite the scan offers, and the TLS 1.3 suites (for names).
const SUITES: &[SuiteInfo] = &[
    s(0x0001, "TLS_RSA_WITH_NULL_MD5", K::Rsa, true, "NULL", false),
    s(0x0002, "TLS_RSA_WITH_NULL_SHA", K::Rsa, true, "NULL", false),
    s(
        0x003b,
        "TLS_RSA_WITH_NULL_SHA256",
        K::Rsa,
        true,
        "NULL",
        false,
    ),
    s(
        0xc006,
        "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
        K::Ecdhe,
        true,
        "NULL",
        false,
    ),
    s(
        0xc010,
        "TLS_ECDHE_RSA_WITH_NULL_SHA",
        K::Ecdhe,
        true,
        "NULL",
        false,
    ),
    s(
        0xc015,
        "TLS_ECDH_anon_WITH_NULL_SHA",
        K::Ecdhe,
        false,
        "NULL",
        false,
    ),
    s(
        0x0003,
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        K::Rsa,
        true,
        "RC4_40",
        true,
    ),
    s(
        0x0006,
        "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
        K::Rsa,
        true,
        "RC2_CBC_40",
        true,
    ),
    s(
        0x0008,
        "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
        K::Rsa,
        true,
        "DES40_CBC",
        true,
    ),
    s(
        0x0011,
        "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
        K::Dhe,
        true,
        "DES40_CBC",
        true,
    ),
    s(
        0x0014,
        "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
        K::Dhe,
        true,
        "DES40_CBC",
        true,
    ),
    s(
        0x0034,
        "TLS_DH_anon_WITH_AES_128_CBC_SHA",
        K::Dhe,
        false,
        "AES_128_CBC",
        false,
    ),
    s(
        0x003a,
        "TLS_DH_anon_WITH_AES_256_CBC_SHA",
        K::Dhe,
        false,
        "AES_256_CBC",
        false,
    ),
    s(
        0x00a6,
        "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
        K::Dhe,
        false,
        "AES_128_GCM",
        false,
    ),
    s(
        0x00a7,
        "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
        K::Dhe,
        false,
        "AES_256_GCM",
        false,
    ),
    s(
        0xc018,
        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        K::Ecdhe,
        false,
        "AES_128_CBC",
        false,
    ),
    s(
        0xc019,
        "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
        K::Ecdhe,
        false,
        "AES_256_CBC",
        false,
    ),
    s(
        0x0018,
        "TLS_DH_anon_WITH_RC4_128_MD5",
        K::Dhe,
        false,
        "RC4_128",
        false,
    ),
    s(
        0x001b,
        "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
        K::Dhe,
        false,
        "3DES_EDE_CBC",
        false,
    ),
    s(
        0x0004,
        "TLS_RSA_WITH_RC4_128_MD5",
        K::Rsa,
        true,
        "RC4_128",
        false,
    ),
    s(
        0x0005,
        "TLS_RSA_WITH_RC4_128_SHA",
        K::Rsa,
        true,
        "RC4_128",
        false,
    ),
    s(
        0xc007,
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        K::Ecdhe,
        true,
        "RC4_128",
        false,
    ),
    s(
        0xc011,
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        K::Ecdhe,
        true,
        "RC4_128",
        false,
    ),
    s(
        0x0009,
        "TLS_RSA_WITH_DES_CBC_SHA",
        K::Rsa,
        true,
        "DES_CBC",
        false,
    ),
    s(
        0x0015,
        "TLS_DHE_RSA_WITH_DES_CBC_SHA",
        K::Dhe,
        true,
        "DES_CBC",
        false,
    ),
    s(
        0x000a,
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        K::Rsa,
        true,
        "3DES_EDE_CBC",
        false,
    ),
    s(
        0x0016,
        "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        K::Dhe,
        true,
        "3DES_EDE_CBC",
        false,
    ),
    s(
        0xc008,
        "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        K::Ecdhe,
        true,
        "3DES_EDE_CBC",
        false,
    ),
    s(
        0xc012,
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        K::Ecdhe,
        true,
        "3DES_EDE_CBC",
        false,
    ),
    s(
        0x009c,
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        K::Rsa,
        true,
        "AES_128_GCM",
        false,
    ),
    s(
        0x009d,
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        K::Rsa,
        true,
        "AES_256_GCM",
        false,
    ),
    s(
        0x002f,
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        K::Rsa,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0x0035,
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        K::Rsa,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0x003c,
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        K::Rsa,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0x003d,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        K::Rsa,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0x0041,
        "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
        K::Rsa,
        true,
        "CAMELLIA_128_CBC",
        false,
    ),
    s(
        0x0084,
        "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
        K::Rsa,
        true,
        "CAMELLIA_256_CBC",
        false,
    ),
    s(
        0xc02b,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        K::Ecdhe,
        true,
        "AES_128_GCM",
        false,
    ),
    s(
        0xc02c,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        K::Ecdhe,
        true,
        "AES_256_GCM",
        false,
    ),
    s(
        0xc02f,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        K::Ecdhe,
        true,
        "AES_128_GCM",
        false,
    ),
    s(
        0xc030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        K::Ecdhe,
        true,
        "AES_256_GCM",
        false,
    ),
    s(
        0xcca8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        K::Ecdhe,
        true,
        "CHACHA20_POLY1305",
        false,
    ),
    s(
        0xcca9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        K::Ecdhe,
        true,
        "CHACHA20_POLY1305",
        false,
    ),
    s(
        0xc023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        K::Ecdhe,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0xc024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        K::Ecdhe,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0xc027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        K::Ecdhe,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0xc028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        K::Ecdhe,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0xc009,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        K::Ecdhe,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0xc00a,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        K::Ecdhe,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0xc013,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        K::Ecdhe,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0xc014,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        K::Ecdhe,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0x009e,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        K::Dhe,
        true,
        "AES_128_GCM",
        false,
    ),
    s(
        0x009f,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        K::Dhe,
        true,
        "AES_256_GCM",
        false,
    ),
    s(
        0xccaa,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        K::Dhe,
        true,
        "CHACHA20_POLY1305",
        false,
    ),
    s(
        0x0067,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        K::Dhe,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0x006b,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        K::Dhe,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0x0033,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        K::Dhe,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0x0039,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        K::Dhe,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0x0032,
        "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
        K::Dhe,
        true,
        "AES_128_CBC",
        false,
    ),
    s(
        0x0038,
        "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
        K::Dhe,
        true,
        "AES_256_CBC",
        false,
    ),
    s(
        0x1301,
        "TLS_AES_128_GCM_SHA256",
        K::Tls13,
        true,
        "AES_128_GCM",
        false,
    ),
    s(
        0x1302,
        "TLS_AES_256_GCM_SHA384",
        K::Tls13,
        true,
        "AES_256_GCM",
        false,
    ),
    s(
        0x1303,
        "TLS_CHACHA20_POLY1305_SHA256",
        K::Tls13,
        true,
        "CHACHA20_POLY1305",
        false,
    ),
];

use KeyExchangeKind as K;

const fn s(
    code: u16,
    name: &'static str,
    kex: KeyExchangeKind,
    authenticated: bool,
    cipher: &'static str,
    export: bool,
) -> SuiteInfo {
    SuiteInfo {
        code,
        name,
        kex,
        authenticated,
        cipher,
        export,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_suite_is_in_the_table_once() {
        for list in [
            suites::WEAK,
            suites::ECDHE,
            suites::DHE,
            suites::ECDHE_AES_GCM,
        ] {
            for &c in list {
                assert!(CipherSuite(c).info().is_some(), "0x{c:04x}");
            }
        }
        for (i, a) in SUITES.iter().enumerate() {
            assert!(
                SUITES[i + 1..].iter().all(|b| b.code != a.code),
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn weak_suites_are_weak_and_strong_ones_not() {
        // The names say it; the table must agree with them.
        for &c in suites::WEAK {
            let s = CipherSuite(c);
            let w = s.weakness().unwrap_or_else(|| panic!("{s} should be weak"));
            let name = s.name();
            let expected = if name.contains("NULL") {
                Weakness::Null
            } else if name.contains("EXPORT") {
                Weakness::Export
            } else if name.contains("anon") {
                Weakness::Anonymous
            } else if name.contains("RC4") {
                Weakness::Rc4
            } else if name.contains("DES") {
                Weakness::Des
            } else {
                Weakness::NoForwardSecrecy
            };
            assert_eq!(w, expected, "{name}");
        }
        for &c in suites::ECDHE.iter().chain(suites::DHE) {
            assert_eq!(CipherSuite(c).weakness(), None, "{}", CipherSuite(c));
        }
        assert_eq!(CipherSuite(0x1301).weakness(), None);
        assert_eq!(CipherSuite(0xfefe).name(), "0xfefe");
    }

    #[test]
    fn signature_hashes() {
        for (code, name, hash) in [
            (0x0201, "rsa_pkcs1_sha1", HashAlgorithm::Sha1),
            (0x0203, "ecdsa_sha1", HashAlgorithm::Sha1),
            (0x0101, "rsa_pkcs1_md5", HashAlgorithm::Md5),
            (0x0401, "rsa_pkcs1_sha256", HashAlgorithm::Sha256),
            (0x0503, "ecdsa_sha384", HashAlgorithm::Sha384),
            (0x0804, "rsa_pss_rsae_sha256", HashAlgorithm::Sha256),
            (0x0807, "ed25519", HashAlgorithm::Intrinsic),
            (0x0700, "0x0700", HashAlgorithm::Unknown),
        ] {
            let s = SignatureScheme(code);
            assert_eq!((s.name().as_str(), s.hash()), (name, hash));
        }
        assert!(SignatureScheme::WEAK.iter().all(|s| s.hash().is_weak()));
        assert!(SignatureScheme::STRONG.iter().all(|s| !s.hash().is_weak()));
    }

    #[test]
    fn groups() {
        assert!(NamedGroup::STRONG.iter().all(|g| g.is_strong()));
        assert!(NamedGroup::WEAK.iter().all(|g| !g.is_strong()));
        assert_eq!(NamedGroup(0x0015).name(), "secp224r1");
        assert_eq!(NamedGroup(0x0100).name(), "ffdhe2048");
        assert!(NamedGroup(0x0100).is_strong());
    }
}
