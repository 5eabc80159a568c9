//! The evaluator against the vectors of `testdata/pwprotect/vectors.json` (every example of the
//! research note, written down by hand), and property tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use pwprotect_core::{Identity, Policy, Profile, evaluate, normalize, within_one};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/pwprotect/vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect())
        .unwrap_or_default()
}

fn profile(v: &Value) -> Profile {
    match v["profile"].as_str() {
        Some("extended") => Profile::Extended,
        _ => Profile::Compatible,
    }
}

#[test]
fn every_vector() {
    let all = vectors();
    assert!(all.len() >= 20);
    let mut evaluated = 0;
    for v in &all {
        let source = v["source"].as_str().unwrap();
        if let Some(input) = v["normalize"].as_str() {
            assert_eq!(
                normalize(input, profile(v)),
                v["normalized"].as_str().unwrap(),
                "{source}"
            );
            continue;
        }
        let mut policy = Policy::new(strs(&v["global"]), strs(&v["custom"]), profile(v)).unwrap();
        if let Some(t) = v["threshold"].as_u64() {
            policy.threshold = u32::try_from(t).unwrap();
        }
        policy.strict = v["strict"].as_bool().unwrap_or(false);
        let identity = Identity {
            account: v["account"].as_str(),
            full_name: v["full_name"].as_str(),
            upn: v["upn"].as_str(),
        };
        let verdict = evaluate(&policy, v["password"].as_str().unwrap(), &identity);
        let got = serde_json::json!({
            "verdict": if verdict.accepted { "accept" } else { "reject" },
            "score": verdict.score,
            "reason": verdict.reason.map(|r| r.as_str()),
            "terms": verdict.terms,
        });
        let want = serde_json::json!({
            "verdict": v["verdict"], "score": v["score"], "reason": v["reason"], "terms": v["terms"],
        });
        assert_eq!(got, want, "{source}");
        evaluated += 1;
    }
    assert!(evaluated >= 15);
}

proptest! {
    /// Any password, any lists: a verdict, never a panic; a rejection always has a reason, an
    /// acceptance never; a score exists exactly when terms were found by the score step.
    #[test]
    fn never_panics_and_verdicts_are_consistent(
        password in "\\PC{0,40}",
        terms in proptest::collection::vec("[a-z0-9@$!|]{1,8}", 0..8),
        account in proptest::option::of("[A-Za-z .-]{0,12}"),
        strict in any::<bool>(),
        threshold in 0u32..8,
    ) {
        let mut p = Policy::new(terms.iter().map(String::as_str), [], Profile::Extended).unwrap();
        p.strict = strict;
        p.threshold = threshold;
        let v = evaluate(&p, &password, &Identity { account: account.as_deref(), ..Identity::default() });
        prop_assert_eq!(v.accepted, v.reason.is_none());
        prop_assert_eq!(v.accepted, v.rule.is_none());
        if let Some(s) = v.score {
            prop_assert!(!v.terms.is_empty());
            // Never more points than characters.
            prop_assert!(s as usize <= normalize(&password, Profile::Extended).chars().count());
        }
    }

    /// Edit distance 1 agrees with a plain dynamic-programming Levenshtein distance.
    #[test]
    fn within_one_is_levenshtein_at_most_one(a in "[abc]{0,6}", b in "[abc]{0,6}") {
        prop_assert_eq!(within_one(&a, &b), levenshtein(&a, &b) <= 1);
    }

    /// Normalisation is idempotent under both profiles (mapped characters map to letters that
    /// map to themselves, except `i`, which maps to `l`).
    #[test]
    fn normalisation_is_idempotent(s in "\\PC{0,40}") {
        for p in [Profile::Compatible, Profile::Extended] {
            let once = normalize(&s, p);
            prop_assert_eq!(normalize(&once, p), once.clone());
        }
    }
}

/// The textbook O(n·m) Levenshtein distance: the independent oracle for `within_one`.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A signing key for the signed-policy properties, made once.
fn signing_key() -> &'static (Vec<u8>, [u8; 32]) {
    static KEY: std::sync::OnceLock<(Vec<u8>, [u8; 32])> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let public = pwprotect_core::signed::public_key(pkcs8.as_ref()).unwrap();
        (pkcs8.as_ref().to_vec(), public)
    })
}

fn document() -> impl Strategy<Value = pwprotect_core::signed::PolicyDocument> {
    use pwprotect_core::signed::{Mode, PolicyDocument, ProfileName};
    (
        any::<u64>(),
        any::<bool>(),
        1u32..10,
        proptest::collection::vec("\\PC{1,12}", 0..20),
        proptest::collection::vec("[a-z0-9@$!]{4,16}", 0..20),
    )
        .prop_map(
            |(version, audit, threshold, global, custom)| PolicyDocument {
                version,
                issued_at: version / 2,
                mode: if audit { Mode::Audit } else { Mode::Enforce },
                threshold,
                strict: audit,
                profile: ProfileName::Compatible,
                global,
                custom,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A signed policy comes from a server: any bytes give a verdict, never a panic.
    #[test]
    fn signed_policies_from_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = pwprotect_core::signed::verify(&bytes, &signing_key().1);
        let _ = serde_json::from_slice::<pwprotect_core::signed::PolicyDocument>(&bytes);
    }

    /// Signing then verifying gives the document back; one byte changed anywhere in the file
    /// is refused, or (a change the JSON envelope ignores, such as a space) gives the very same
    /// document: never another one.
    #[test]
    fn no_changed_byte_yields_another_policy(doc in document(), at in any::<usize>(), byte in any::<u8>()) {
        let (pkcs8, public) = signing_key();
        let text = pwprotect_core::signed::sign(&doc, pkcs8).unwrap();
        prop_assert_eq!(&pwprotect_core::signed::verify(text.as_bytes(), public).unwrap(), &doc);
        let mut bytes = text.into_bytes();
        let i = at % bytes.len();
        bytes[i] = byte;
        if let Ok(got) = pwprotect_core::signed::verify(&bytes, public) {
            prop_assert_eq!(got, doc);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Breach data comes from downloads: any line, header or bucket gives an answer, never a
    /// panic; a well-formed line gives back its hash and count.
    #[test]
    fn breach_lines_headers_and_buckets(
        line in "\\PC{0,60}",
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        hash in proptest::array::uniform20(any::<u8>()),
        count in any::<u64>(),
        key in any::<u64>(),
    ) {
        use pwprotect_core::breach::{self, HashKind};
        for kind in [HashKind::Sha1, HashKind::Ntlm] {
            let _ = breach::parse_line(&line, kind, None);
            let _ = breach::parse_line(&line, kind, Some("5BAA6"));
        }
        let _ = breach::parse_header(&bytes, bytes.len() as u64);
        let _ = breach::find(&bytes, breach::RECORD, key);
        let _ = breach::find(&bytes, breach::FULL_RECORD, key);
        let _ = breach::range_line(HashKind::Sha1, 0, &bytes);
        let hex: String = hash.iter().map(|b| format!("{b:02X}")).collect();
        let (h, c) = breach::parse_line(&format!("{hex}:{count}\r"), HashKind::Sha1, None).unwrap().unwrap();
        prop_assert_eq!(&h[..], &hash[..]);
        prop_assert_eq!(c, count);
        let (r, _) = breach::parse_line(&format!("{}:{count}", &hex[5..]), HashKind::Sha1, Some(&hex[..5])).unwrap().unwrap();
        prop_assert_eq!(&r[..], &hash[..]);
        // The count byte's floor never exceeds the count, and is more than half of it.
        let floor = breach::count_floor(breach::count_byte(count));
        prop_assert!(floor <= count && (count == 0 || floor > count / 2));
    }

    /// A filter file comes from the disk: any header or shard entry is refused or accepted
    /// without a panic, and an accepted entry never makes a lookup index outside its
    /// fingerprints, whatever the key.
    #[test]
    fn filter_entries_never_index_outside(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        seed in any::<u64>(),
        seg_bits in 0u32..12,
        segments in 0u32..6,
        delta in -2i64..3,
        mask_flip in 0u32..3,
        keys in proptest::collection::vec(any::<u64>(), 1..50),
    ) {
        use pwprotect_core::fuse;
        let _ = fuse::Header::parse(&bytes);
        let _ = fuse::parse_shard(0, &bytes);
        let seg = 1u32 << seg_bits;
        let d = xorf::Descriptor {
            seed,
            segment_length: seg,
            segment_length_mask: (seg - 1) ^ (mask_flip << seg_bits),
            segment_count_length: seg * segments,
        };
        let prints = (i64::from(seg * segments) + 2 * i64::from(seg) + delta).max(0) as u64;
        if let Ok((d, n)) = fuse::parse_shard(0, &fuse::shard_entry(&d, prints)) {
            let shard = (n > 0).then(|| xorf::BinaryFuse16 {
                descriptor: d,
                fingerprints: vec![0u16; n as usize].into_boxed_slice(),
            });
            for k in keys {
                let _ = fuse::may_contain(shard.as_ref(), k);
            }
        }
    }
}
