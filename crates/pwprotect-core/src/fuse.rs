//! The optional binary fuse filter of a breached-password store: its file format and its pure
//! parts. The shell (`pwprotect breach import --filter`) builds and reads the file.
//!
//! A binary fuse filter (Graf and Lemire, 2022; the `xorf` crate) answers "certainly not in the
//! store" or "perhaps", with 16-bit fingerprints: about 2.25 bytes a hash (a quarter of the
//! store) and a false "perhaps" once in 65,536. Held in memory in front of the store, it spares
//! the store's reads for the passwords that are not breached (most of them); the store still
//! decides every "perhaps", so the verdict stays exact.
//!
//! The filter is split into shards by the hash's first bits (a power of two of them, about
//! four million hashes each), so that building it needs the memory of one shard, not of the
//! whole store (a billion hashes would need some 35 GB at once). Each shard is a filter over the
//! 64-bit keys of its records (the store's key: hash bits 20 to 83).
//!
//! ```text
//! header   32 bytes: "PWPFUSE1", kind (1 SHA-1, 2 NTLM), shard bits, 6 reserved,
//!          the store's record count (u64 LE), the store's length in bytes (u64 LE)
//! shards   2^bits × 28 bytes: seed (u64 LE), segment length, segment length mask,
//!          segment count length (u32 LE each), fingerprints (u64 LE; 0 for an empty shard)
//! prints   the shards' fingerprints in shard order, u16 LE
//! ```
//!
//! The store's count and length tie a filter to the store it was built from: a filter of an
//! older store would miss the hashes added since, and answer "certainly not" for them, so a
//! mismatch is refused, never used.

use crate::breach::HashKind;

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"PWPFUSE1";
/// Bytes of the header.
pub const HEADER: usize = 32;
/// Bytes of one shard's entry.
pub const SHARD: usize = 28;
/// Hashes a shard aims at.
const SHARD_TARGET: u64 = 1 << 22;
/// At most 2^12 shards.
const MAX_BITS: u8 = 12;

/// Why a filter file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not a filter file.
    #[error("not a pwprotect breach filter")]
    Magic,
    /// An unknown hash kind or shard count.
    #[error("unknown hash kind {0} or shard bits {1}")]
    Layout(u8, u8),
    /// A shard's parameters do not describe its fingerprints.
    #[error("shard {0} is damaged")]
    Shard(usize),
    /// Shorter or longer than its header and shards say.
    #[error("the file has {found} bytes where its shards say {expected}")]
    Size {
        /// Bytes implied.
        expected: u64,
        /// Bytes found.
        found: u64,
    },
    /// Built from another store, or from this one before an import changed it.
    #[error(
        "built for a store of {built} hashes ({built_len} bytes), the store has {store} ({store_len} bytes): rebuild it (pwprotect breach filter)"
    )]
    Stale {
        /// Hashes of the store the filter was built from.
        built: u64,
        /// Its length.
        built_len: u64,
        /// Hashes of the store given.
        store: u64,
        /// Its length.
        store_len: u64,
    },
}

/// The shard bits for a store of `count` hashes: shards of about four million.
pub fn shard_bits(count: u64) -> u8 {
    let shards = count.div_ceil(SHARD_TARGET).max(1);
    (shards.next_power_of_two().trailing_zeros() as u8).min(MAX_BITS)
}

/// The shard of a record of `bucket` (the hash's first 20 bits).
pub fn shard_of(bucket: usize, bits: u8) -> usize {
    bucket >> (20 - u32::from(bits.min(MAX_BITS)))
}

/// The header of a filter file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The hash kind of its store.
    pub kind: HashKind,
    /// log2 of the shard count.
    pub bits: u8,
    /// The record count of its store.
    pub store_count: u64,
    /// The length of its store in bytes.
    pub store_len: u64,
}

impl Header {
    /// The header's bytes.
    pub fn to_bytes(self) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[..8].copy_from_slice(MAGIC);
        h[8] = self.kind.code();
        h[9] = self.bits;
        h[16..24].copy_from_slice(&self.store_count.to_le_bytes());
        h[24..32].copy_from_slice(&self.store_len.to_le_bytes());
        h
    }

    /// Reads a header.
    pub fn parse(h: &[u8]) -> Result<Self, FilterError> {
        if h.len() < HEADER || &h[..8] != MAGIC {
            return Err(FilterError::Magic);
        }
        let kind = HashKind::from_code(h[8]).ok_or(FilterError::Layout(h[8], h[9]))?;
        if h[9] > MAX_BITS {
            return Err(FilterError::Layout(h[8], h[9]));
        }
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or_default());
        Ok(Self {
            kind,
            bits: h[9],
            store_count: u64_at(16),
            store_len: u64_at(24),
        })
    }

    /// Refuses a filter built from another store (or another state of it).
    pub fn matches(&self, store_count: u64, store_len: u64) -> Result<(), FilterError> {
        if (self.store_count, self.store_len) == (store_count, store_len) {
            Ok(())
        } else {
            Err(FilterError::Stale {
                built: self.store_count,
                built_len: self.store_len,
                store: store_count,
                store_len,
            })
        }
    }

    /// Bytes of the shard table.
    pub fn table_len(&self) -> usize {
        SHARD << self.bits
    }
}

/// One shard's entry: its filter's parameters and fingerprint count.
pub fn shard_entry(descriptor: &xorf::Descriptor, prints: u64) -> [u8; SHARD] {
    let mut e = [0u8; SHARD];
    e[..8].copy_from_slice(&descriptor.seed.to_le_bytes());
    e[8..12].copy_from_slice(&descriptor.segment_length.to_le_bytes());
    e[12..16].copy_from_slice(&descriptor.segment_length_mask.to_le_bytes());
    e[16..20].copy_from_slice(&descriptor.segment_count_length.to_le_bytes());
    e[20..28].copy_from_slice(&prints.to_le_bytes());
    e
}

/// Reads shard `i`'s entry: its parameters and fingerprint count, checked so that a lookup
/// can never index outside the fingerprints (the filter's lookup reads three of them, at
/// most `segment_count_length + 2 × segment_length - 1`).
pub fn parse_shard(i: usize, e: &[u8]) -> Result<(xorf::Descriptor, u64), FilterError> {
    if e.len() < SHARD {
        return Err(FilterError::Shard(i));
    }
    let u32_at = |j: usize| u32::from_le_bytes(e[j..j + 4].try_into().unwrap_or_default());
    let d = xorf::Descriptor {
        seed: u64::from_le_bytes(e[..8].try_into().unwrap_or_default()),
        segment_length: u32_at(8),
        segment_length_mask: u32_at(12),
        segment_count_length: u32_at(16),
    };
    let prints = u64::from_le_bytes(e[20..28].try_into().unwrap_or_default());
    if prints == 0 {
        return Ok((d, 0));
    }
    let seg = u64::from(d.segment_length);
    let span = u64::from(d.segment_count_length);
    let sound = d.segment_length.is_power_of_two()
        && d.segment_length_mask == d.segment_length - 1
        && span > 0
        && span.is_multiple_of(seg)
        && span + 2 * seg == prints
        && prints <= u64::from(u32::MAX);
    if sound {
        Ok((d, prints))
    } else {
        Err(FilterError::Shard(i))
    }
}

/// A shard's filter over its records' keys; `None` for an empty shard. `keys` need not be
/// sorted or distinct. Fails only when the construction does (it retries with new seeds; in
/// practice never).
pub fn build(keys: &mut Vec<u64>) -> Result<Option<xorf::BinaryFuse16>, &'static str> {
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(None);
    }
    xorf::BinaryFuse16::try_from(&keys[..]).map(Some)
}

/// Whether the shard may hold `key`: false means certainly not.
pub fn may_contain(shard: Option<&xorf::BinaryFuse16>, key: u64) -> bool {
    use xorf::Filter as _;
    shard.is_some_and(|f| f.contains(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_of_about_four_million() {
        assert_eq!(shard_bits(0), 0);
        assert_eq!(shard_bits(10), 0);
        assert_eq!(shard_bits(1 << 22), 0);
        assert_eq!(shard_bits((1 << 22) + 1), 1);
        assert_eq!(shard_bits(100_000_000), 5);
        assert_eq!(shard_bits(1_000_000_000), 8);
        assert_eq!(shard_bits(u64::MAX), MAX_BITS);
        assert_eq!(shard_of(0xfffff, 0), 0);
        assert_eq!(shard_of(0xfffff, 8), 0xff);
        assert_eq!(shard_of(0x5baa6, 4), 5);
    }

    #[test]
    fn a_filter_keeps_every_key_and_rejects_almost_all_others() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let keys: Vec<u64> = (0..200_000).map(|_| next()).collect();
        let mut with_repeats = keys.clone();
        with_repeats.extend_from_slice(&keys[..1000]);
        let f = build(&mut with_repeats).unwrap().unwrap();
        assert!(keys.iter().all(|k| may_contain(Some(&f), *k)));
        let false_hits = (0..200_000)
            .filter(|_| may_contain(Some(&f), next()))
            .count();
        // 2^-16 of 200,000 is about 3.
        assert!(false_hits < 30, "{false_hits}");
        assert!(build(&mut Vec::new()).unwrap().is_none());
        assert!(!may_contain(None, 7));
    }

    #[test]
    fn entries_round_trip_and_damage_is_refused() {
        let mut keys: Vec<u64> = (1..5000).map(|i| i * 0x1234_5678_9abc).collect();
        let f = build(&mut keys).unwrap().unwrap();
        let e = shard_entry(&f.descriptor, f.fingerprints.len() as u64);
        let (d, n) = parse_shard(3, &e).unwrap();
        assert_eq!(d, f.descriptor);
        assert_eq!(n, f.fingerprints.len() as u64);
        for (at, value) in [(8, 0x7u8), (12, 0xff), (20, 1)] {
            let mut bad = e;
            bad[at] ^= value;
            assert_eq!(parse_shard(3, &bad), Err(FilterError::Shard(3)), "{at}");
        }
        assert_eq!(parse_shard(0, &[0u8; SHARD]).unwrap().1, 0);
        assert_eq!(parse_shard(0, &e[..10]), Err(FilterError::Shard(0)));
    }

    #[test]
    fn headers_round_trip_and_tie_the_filter_to_its_store() {
        let h = Header {
            kind: HashKind::Ntlm,
            bits: 5,
            store_count: 100,
            store_len: 8_389_000,
        };
        assert_eq!(Header::parse(&h.to_bytes()), Ok(h));
        assert_eq!(h.matches(100, 8_389_000), Ok(()));
        assert!(matches!(
            h.matches(101, 8_389_009),
            Err(FilterError::Stale { built: 100, .. })
        ));
        assert_eq!(Header::parse(b"short"), Err(FilterError::Magic));
        let mut bad = h.to_bytes();
        bad[9] = 40;
        assert_eq!(Header::parse(&bad), Err(FilterError::Layout(2, 40)));
        assert_eq!(h.table_len(), 32 * SHARD);
    }
}
