//! The breached-password store's format and its pure parts: Pwned Passwords lines, the record
//! encoding, the header, and the search inside one bucket. The shell (`pwprotect breach`)
//! reads and writes the file.
//!
//! A store holds one hash kind (SHA-1 or NTLM). Each hash is split into its first 20 bits (the
//! bucket: the 5 hex digits of the HIBP range API) and the next 64 bits (the key); a record is
//! the key and one byte for the count's order of magnitude: **9 bytes per hash**. 84 bits of
//! the hash are kept, so two different passwords of one store collide with a probability of
//! about n²/2⁸⁵ (under 10⁻⁷ for a billion hashes) and a password outside it is taken for a
//! breached one with a probability of n/2⁸⁴ (about 5·10⁻¹⁷): exact in practice, as the research
//! note's 64-bit figure says. The file:
//!
//! A *full* store (`import --full`) keeps the rest of each hash too, 19 bytes a record, so that
//! `pwprotect serve` can answer the HIBP range API, whose clients compare whole suffixes.
//!
//! ```text
//! header   32 bytes: "PWPBRCH1", kind (1 SHA-1, 2 NTLM), record width (9 or 19), 6 reserved,
//!          count (u64 LE), 8 reserved
//! index    (2^20 + 1) × u64 LE: the first record of each bucket, then the count
//! records  count × width bytes, sorted: key (u64 BE), [hash bytes 10.. padded to 10 bytes,]
//!          count byte
//! ```

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"PWPBRCH1";
/// Bytes of the header.
pub const HEADER: usize = 32;
/// Buckets: the first 20 bits of a hash.
pub const BUCKETS: usize = 1 << 20;
/// Bytes of the index.
pub const INDEX: usize = (BUCKETS + 1) * 8;
/// Bytes of one record of a compact store.
pub const RECORD: usize = 9;
/// Bytes of one record of a full store.
pub const FULL_RECORD: usize = 19;

/// The hash a store holds.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum HashKind {
    /// SHA-1 of the UTF-8 password (Pwned Passwords' default).
    Sha1,
    /// NTLM: MD4 of the UTF-16LE password (`?mode=ntlm`).
    Ntlm,
}

impl HashKind {
    /// Hex digits of a whole hash.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha1 => 40,
            Self::Ntlm => 32,
        }
    }

    /// The kind's byte in the files' headers.
    pub fn code(self) -> u8 {
        match self {
            Self::Sha1 => 1,
            Self::Ntlm => 2,
        }
    }

    /// The kind of a header byte.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Sha1),
            2 => Some(Self::Ntlm),
            _ => None,
        }
    }

    /// `sha1` or `ntlm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Ntlm => "ntlm",
        }
    }
}

/// What is wrong with a line or a store.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BreachError {
    /// Not `HASH:COUNT`.
    #[error("not HASH:COUNT")]
    Shape,
    /// The hash is not hex of the expected length.
    #[error("the hash is not {0} hex digits")]
    Hash(usize),
    /// The count is not a number.
    #[error("the count is not a number")]
    Count,
    /// Not a store file.
    #[error("not a pwprotect breach store")]
    Magic,
    /// An unknown hash kind.
    #[error("unknown hash kind {0}")]
    Kind(u8),
    /// An unknown record width.
    #[error("unknown record width {0}")]
    Width(usize),
    /// Shorter or longer than its header says (truncated, or being written).
    #[error("the file has {found} bytes where its header says {expected}")]
    Size {
        /// Bytes the header implies.
        expected: u64,
        /// Bytes found.
        found: u64,
    },
}

/// The 20-bit bucket and 64-bit key of a hash (at least 11 bytes).
pub fn split(hash: &[u8]) -> (usize, u64) {
    let mut b = [0u8; 16];
    let n = hash.len().min(16);
    b[..n].copy_from_slice(&hash[..n]);
    let v = u128::from_be_bytes(b);
    ((v >> 108) as usize, (v >> 44) as u64)
}

/// The count as one byte: its bit length (0 for 0, 1 for 1, 2 for 2–3 … 64).
pub fn count_byte(count: u64) -> u8 {
    (64 - count.leading_zeros()) as u8
}

/// The least count a count byte stands for.
pub fn count_floor(b: u8) -> u64 {
    match b {
        0 => 0,
        b => 1u64 << (b.min(64) - 1),
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// One line of Pwned Passwords data: `HASH:COUNT` (a whole file), or `SUFFIX:COUNT` with the
/// 5-digit `prefix` of a range file. Blank lines are `Ok(None)`; a trailing CR is allowed.
pub fn parse_line(
    line: &str,
    kind: HashKind,
    prefix: Option<&str>,
) -> Result<Option<(Vec<u8>, u64)>, BreachError> {
    let line = line.trim_end_matches('\r').trim();
    if line.is_empty() {
        return Ok(None);
    }
    let (h, c) = line.split_once(':').ok_or(BreachError::Shape)?;
    let whole = match prefix {
        Some(p) => format!("{p}{h}"),
        None => h.to_owned(),
    };
    if whole.len() != kind.hex_len() {
        return Err(BreachError::Hash(kind.hex_len()));
    }
    let hash = hex(&whole).ok_or_else(|| BreachError::Hash(kind.hex_len()))?;
    let count = c.trim().parse().map_err(|_| BreachError::Count)?;
    Ok(Some((hash, count)))
}

/// The header of a store of `count` records of `width` bytes of `kind`.
pub fn header(kind: HashKind, count: u64, width: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8] = kind.code();
    h[9] = width as u8;
    h[16..24].copy_from_slice(&count.to_le_bytes());
    h
}

/// What a header says, checked against the file's length.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Header {
    /// The hash kind.
    pub kind: HashKind,
    /// Records.
    pub count: u64,
    /// Bytes a record: [`RECORD`] or [`FULL_RECORD`].
    pub width: usize,
}

/// Reads a header and checks the file's length against it.
pub fn parse_header(h: &[u8], file_len: u64) -> Result<Header, BreachError> {
    if h.len() < HEADER || &h[..8] != MAGIC {
        return Err(BreachError::Magic);
    }
    let kind = HashKind::from_code(h[8]).ok_or(BreachError::Kind(h[8]))?;
    let width = match h[9] as usize {
        w @ (RECORD | FULL_RECORD) => w,
        w => return Err(BreachError::Width(w)),
    };
    let mut c = [0u8; 8];
    c.copy_from_slice(&h[16..24]);
    let count = u64::from_le_bytes(c);
    let expected = count
        .checked_mul(width as u64)
        .and_then(|r| r.checked_add((HEADER + INDEX) as u64));
    match expected {
        Some(e) if e == file_len => Ok(Header { kind, count, width }),
        _ => Err(BreachError::Size {
            expected: expected.unwrap_or(u64::MAX),
            found: file_len,
        }),
    }
}

/// A record's bytes.
pub fn record(key: u64, count: u8) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..8].copy_from_slice(&key.to_be_bytes());
    r[8] = count;
    r
}

/// The hash from its 11th byte on, padded to 10 bytes: what a full record keeps beyond the
/// bucket and key.
pub fn hash_rest(hash: &[u8]) -> [u8; 10] {
    let mut r = [0u8; 10];
    let rest = hash.get(10..).unwrap_or_default();
    let n = rest.len().min(10);
    r[..n].copy_from_slice(&rest[..n]);
    r
}

/// A full record: the key, the rest of the hash ([`hash_rest`]), the count byte.
pub fn full_record(key: u64, rest: &[u8; 10], count: u8) -> [u8; FULL_RECORD] {
    let mut r = [0u8; FULL_RECORD];
    r[..8].copy_from_slice(&key.to_be_bytes());
    r[8..18].copy_from_slice(rest);
    r[18] = count;
    r
}

/// The range API's line for a full record of `bucket`: the hash's hex digits after the 5 of
/// the prefix, upper case, a colon and the count (the least its count byte stands for).
pub fn range_line(kind: HashKind, bucket: usize, record: &[u8]) -> Option<String> {
    if record.len() != FULL_RECORD {
        return None;
    }
    let mut k = [0u8; 8];
    k.copy_from_slice(&record[..8]);
    let head = ((bucket as u128) << 108) | (u128::from(u64::from_be_bytes(k)) << 44);
    let mut hash = head.to_be_bytes()[..10].to_vec();
    hash.extend_from_slice(&record[8..18]);
    hash.truncate(kind.hex_len() / 2);
    let hex: String = hash.iter().map(|b| format!("{b:02X}")).collect();
    Some(format!("{}:{}", &hex[5..], count_floor(record[18])))
}

/// The count byte of `key` in one bucket's records (sorted, `width` bytes each), if present.
/// Bytes that do not make a whole record are ignored at the end.
pub fn find(records: &[u8], width: usize, key: u64) -> Option<u8> {
    let width = width.max(RECORD);
    let n = records.len() / width;
    let key_at = |i: usize| {
        let mut k = [0u8; 8];
        k.copy_from_slice(&records[i * width..i * width + 8]);
        u64::from_be_bytes(k)
    };
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match key_at(mid).cmp(&key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(records[mid * width + width - 1]),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_whole_and_range_files() {
        // SHA-1("password") from the Pwned Passwords documentation's example.
        let (h, c) = parse_line(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r",
            HashKind::Sha1,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(h[0], 0x5b);
        assert_eq!(c, 10_434_004);
        let (r, _) = parse_line(
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:3",
            HashKind::Sha1,
            Some("5BAA6"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r, h);
        assert_eq!(parse_line("  ", HashKind::Sha1, None), Ok(None));
        assert_eq!(
            parse_line("5BAA61E4", HashKind::Sha1, None),
            Err(BreachError::Shape)
        );
        assert_eq!(
            parse_line("5BAA61E4:1", HashKind::Sha1, None),
            Err(BreachError::Hash(40))
        );
        assert_eq!(
            parse_line("8846F7EAEE8FB117AD06BDD830B7586C:x", HashKind::Ntlm, None),
            Err(BreachError::Count)
        );
        assert_eq!(
            parse_line("ZZ46F7EAEE8FB117AD06BDD830B7586C:1", HashKind::Ntlm, None),
            Err(BreachError::Hash(32))
        );
    }

    #[test]
    fn buckets_keys_and_counts() {
        let h = [
            0x5b, 0xaa, 0x61, 0xe4, 0xc9, 0xb9, 0x3f, 0x3f, 0x06, 0x82, 0x25, 0x0b,
        ];
        let (bucket, key) = split(&h);
        assert_eq!(bucket, 0x5baa6);
        assert_eq!(key, 0x1e4c_9b93_f3f0_6822);
        assert_eq!(count_byte(0), 0);
        assert_eq!(count_byte(1), 1);
        assert_eq!(count_byte(3), 2);
        assert_eq!(count_byte(10_434_004), 24);
        assert_eq!(count_floor(24), 1 << 23);
        assert_eq!(count_byte(u64::MAX), 64);
    }

    #[test]
    fn headers_check_the_length_and_search_finds_exactly() {
        let h = header(HashKind::Ntlm, 3, RECORD);
        let len = (HEADER + INDEX + 3 * RECORD) as u64;
        assert_eq!(
            parse_header(&h, len),
            Ok(Header {
                kind: HashKind::Ntlm,
                count: 3,
                width: RECORD
            })
        );
        assert!(matches!(
            parse_header(&h, len - 1),
            Err(BreachError::Size { .. })
        ));
        assert_eq!(
            parse_header(b"nonsense but long enough to be a header", 10),
            Err(BreachError::Magic)
        );
        let mut records = Vec::new();
        for (k, c) in [(3u64, 1u8), (7, 2), (u64::MAX, 9)] {
            records.extend_from_slice(&record(k, c));
        }
        assert_eq!(find(&records, RECORD, 7), Some(2));
        assert_eq!(find(&records, RECORD, u64::MAX), Some(9));
        assert_eq!(find(&records, RECORD, 3), Some(1));
        assert_eq!(find(&records, RECORD, 4), None);
        assert_eq!(find(&records[..5], RECORD, 3), None);
    }

    #[test]
    fn full_records_give_back_the_range_api_line() {
        let (sha1, _) = parse_line(
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004",
            HashKind::Sha1,
            None,
        )
        .unwrap()
        .unwrap();
        let r = full_record(split(&sha1).1, &hash_rest(&sha1), count_byte(10_434_004));
        assert_eq!(find(&r, FULL_RECORD, split(&sha1).1), Some(24));
        assert_eq!(
            range_line(HashKind::Sha1, 0x5baa6, &r).unwrap(),
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:8388608"
        );
        let (nt, _) = parse_line("8846F7EAEE8FB117AD06BDD830B7586C:5", HashKind::Ntlm, None)
            .unwrap()
            .unwrap();
        let r = full_record(split(&nt).1, &hash_rest(&nt), count_byte(5));
        assert_eq!(
            range_line(HashKind::Ntlm, 0x8846f, &r).unwrap(),
            "7EAEE8FB117AD06BDD830B7586C:4"
        );
    }
}
