//! The signed policy that `pwprotect policy build` makes, `pwprotect serve` publishes and every
//! agent verifies before use (the role of Microsoft's proxy and its signed policy blobs, made
//! simpler: one Ed25519 key, one file).
//!
//! The file is JSON: an envelope naming the format and the key, the payload as base64 of its
//! exact bytes, and an Ed25519 signature over those bytes (RFC 8032). Verifying needs only the
//! 32-byte public key, and nothing of the payload is read before the signature holds. The
//! payload ([`PolicyDocument`]) carries a version that only grows, so that an agent can refuse
//! an older policy replayed to it.
//!
//! Pure: key generation (randomness) and all I/O are the caller's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};

use crate::{Policy, PolicyError, Profile};

/// The envelope's `format`.
pub const FORMAT: &str = "pwprotect-signed-policy/1";
/// Largest signed file read: far beyond a policy (the default global list is 20 KB), small
/// enough that a hostile server costs nothing.
pub const MAX_SIGNED: usize = 16 * 1024 * 1024;
/// The custom list's limits, as Microsoft's: at most 1,000 terms of 4 to 16 characters.
pub const CUSTOM_MAX_TERMS: usize = 1_000;
/// Characters of a custom term.
pub const CUSTOM_TERM_CHARS: std::ops::RangeInclusive<usize> = 4..=16;

/// What a directory does with a password the policy rejects.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Accept it and log what enforce would have done.
    Audit,
    /// Refuse it.
    Enforce,
}

/// The normalisation profile, as written in a policy.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// [`Profile::Compatible`].
    Compatible,
    /// [`Profile::Extended`].
    Extended,
}

impl From<ProfileName> for Profile {
    fn from(p: ProfileName) -> Self {
        match p {
            ProfileName::Compatible => Self::Compatible,
            ProfileName::Extended => Self::Extended,
        }
    }
}

/// A policy as signed: everything an agent needs to decide.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Grows with every policy built; agents refuse one older than what they hold.
    pub version: u64,
    /// When it was built, Unix seconds.
    pub issued_at: u64,
    /// Audit or enforce.
    pub mode: Mode,
    /// A score below this rejects.
    pub threshold: u32,
    /// Reject any password that contains a banned term.
    pub strict: bool,
    /// The normalisation profile.
    pub profile: ProfileName,
    /// The global banned list.
    pub global: Vec<String>,
    /// The custom banned list (at most [`CUSTOM_MAX_TERMS`] terms of [`CUSTOM_TERM_CHARS`]).
    pub custom: Vec<String>,
}

/// Checks a custom list's limits (Microsoft's): at most [`CUSTOM_MAX_TERMS`] terms of
/// [`CUSTOM_TERM_CHARS`] characters.
pub fn check_custom<S: AsRef<str>>(custom: &[S]) -> Result<(), SignedError> {
    if custom.len() > CUSTOM_MAX_TERMS {
        return Err(SignedError::CustomTooLong(custom.len()));
    }
    match custom
        .iter()
        .map(|t| t.as_ref().chars().count())
        .enumerate()
        .find(|(_, n)| !CUSTOM_TERM_CHARS.contains(n))
    {
        Some((i, n)) => Err(SignedError::CustomTerm {
            index: i + 1,
            chars: n,
        }),
        None => Ok(()),
    }
}

impl PolicyDocument {
    /// Checks the limits a policy must keep (the custom list's, a threshold of at least 1).
    pub fn check(&self) -> Result<(), SignedError> {
        check_custom(&self.custom)?;
        if self.threshold == 0 {
            return Err(SignedError::Threshold);
        }
        Ok(())
    }

    /// The evaluator's policy.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        let mut p = Policy::new(
            self.global.iter().map(String::as_str),
            self.custom.iter().map(String::as_str),
            self.profile.into(),
        )?;
        p.threshold = self.threshold;
        p.strict = self.strict;
        Ok(p)
    }
}

/// Why a signed policy was refused or could not be made. Never carries key material.
#[derive(Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedError {
    /// Over [`MAX_SIGNED`] bytes.
    #[error("larger than {MAX_SIGNED} bytes")]
    TooLarge,
    /// Not the envelope's JSON.
    #[error("not a signed policy: {0}")]
    Envelope(String),
    /// Another format or version of it.
    #[error("format {0:?} is not {FORMAT}")]
    Format(String),
    /// Signed with another key than the one trusted.
    #[error("signed by key {found}, not the trusted key {trusted}")]
    OtherKey {
        /// The envelope's key id.
        found: String,
        /// The trusted key's id.
        trusted: String,
    },
    /// A field is not base64.
    #[error("{0} is not base64")]
    Base64(&'static str),
    /// The signature does not hold over the payload.
    #[error("the signature does not verify: the policy was altered or signed with another key")]
    BadSignature,
    /// The signed payload is not a policy.
    #[error("the signed payload is not a policy: {0}")]
    Payload(String),
    /// Too many custom terms.
    #[error("{0} custom terms; at most {CUSTOM_MAX_TERMS}")]
    CustomTooLong(usize),
    /// A custom term of the wrong length.
    #[error("custom term {index} has {chars} characters; 4 to 16 are allowed")]
    CustomTerm {
        /// 1-based position in the list.
        index: usize,
        /// Its characters.
        chars: usize,
    },
    /// A threshold of 0 would accept everything.
    #[error("the threshold must be at least 1")]
    Threshold,
    /// The private key is not an Ed25519 PKCS#8 key.
    #[error("the private key is not an Ed25519 key in PKCS#8")]
    PrivateKey,
    /// The public key is not 32 bytes.
    #[error("the public key is not 32 bytes of Ed25519")]
    PublicKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    key_id: String,
    payload: String,
    signature: String,
}

/// The key in a key file's text (`policy.key`, `policy.pub`): base64 on the first line that is
/// neither blank nor a `#` comment.
pub fn parse_key_text(text: &str) -> Option<Vec<u8>> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    B64.decode(line).ok()
}

/// The outcome class and event number of a decision, modelled on Microsoft's DC agent events
/// (its "change" numbers: neither Samba nor PAM says whether a password is changed or set).
pub fn event(v: &crate::Verdict, mode: Mode) -> (&'static str, u32) {
    use crate::Reason;
    match (v.reason, mode) {
        (None, _) => ("pass", 10014),
        (Some(Reason::BannedCustom), Mode::Enforce) => ("fail-custom", 30002),
        (Some(Reason::BannedGlobal), Mode::Enforce) => ("fail-global", 30004),
        (Some(Reason::BannedBoth), Mode::Enforce) => ("fail-both", 30026),
        (Some(Reason::UserName), Mode::Enforce) => ("fail-user-name", 30021),
        (Some(Reason::BannedCustom), Mode::Audit) => ("audit-pass-custom", 30007),
        (Some(Reason::BannedGlobal), Mode::Audit) => ("audit-pass-global", 30009),
        (Some(Reason::BannedBoth), Mode::Audit) => ("audit-pass-both", 30028),
        (Some(Reason::UserName), Mode::Audit) => ("audit-pass-user-name", 30023),
        // pwprotect's own numbers: Microsoft's agent has no breached-password check.
        (Some(Reason::Breached), Mode::Enforce) => ("fail-breached", 30040),
        (Some(Reason::Breached), Mode::Audit) => ("audit-pass-breached", 30041),
    }
}

/// Whether an agent accepts a password with verdict `v` under `mode` (audit accepts all), and
/// its decision line: outcome class, event number, account, verdict, score, reason, terms and
/// mode; never the password. Every agent (Samba's script, `/check`, PAM) logs this line.
pub fn decision(
    v: &crate::Verdict,
    mode: Mode,
    account: Option<&str>,
) -> (bool, serde_json::Value) {
    let (outcome, event) = event(v, mode);
    let accept = v.accepted || mode == Mode::Audit;
    let line = serde_json::json!({
        "outcome": outcome, "event": event, "account": account,
        "verdict": if accept { "accept" } else { "reject" },
        "score": v.score, "reason": v.reason.map(crate::Reason::as_str), "terms": v.terms,
        "mode": mode,
    });
    (accept, line)
}

/// A key's id: the first 8 bytes of the SHA-256 of the public key, in hex.
pub fn key_id(public_key: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, public_key);
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The public key of an Ed25519 PKCS#8 private key.
pub fn public_key(pkcs8: &[u8]) -> Result<[u8; 32], SignedError> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| SignedError::PrivateKey)?;
    pair.public_key()
        .as_ref()
        .try_into()
        .map_err(|_| SignedError::PublicKey)
}

/// Signs `doc` (checked first) with the Ed25519 PKCS#8 key `pkcs8`: the file's text.
pub fn sign(doc: &PolicyDocument, pkcs8: &[u8]) -> Result<String, SignedError> {
    doc.check()?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| SignedError::PrivateKey)?;
    let payload = serde_json::to_vec(doc).map_err(|e| SignedError::Payload(e.to_string()))?;
    let signature = pair.sign(&payload);
    let envelope = Envelope {
        format: FORMAT.to_owned(),
        key_id: key_id(pair.public_key().as_ref()),
        payload: B64.encode(&payload),
        signature: B64.encode(signature.as_ref()),
    };
    let mut text =
        serde_json::to_string_pretty(&envelope).map_err(|e| SignedError::Payload(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// Verifies a signed policy against the trusted `public_key` and returns its payload, checked.
/// Nothing of the payload is parsed before the signature holds.
pub fn verify(signed: &[u8], public_key: &[u8]) -> Result<PolicyDocument, SignedError> {
    if signed.len() > MAX_SIGNED {
        return Err(SignedError::TooLarge);
    }
    if public_key.len() != 32 {
        return Err(SignedError::PublicKey);
    }
    let envelope: Envelope =
        serde_json::from_slice(signed).map_err(|e| SignedError::Envelope(e.to_string()))?;
    if envelope.format != FORMAT {
        return Err(SignedError::Format(envelope.format));
    }
    let trusted = key_id(public_key);
    if envelope.key_id != trusted {
        return Err(SignedError::OtherKey {
            found: envelope.key_id,
            trusted,
        });
    }
    let payload = B64
        .decode(envelope.payload.as_bytes())
        .map_err(|_| SignedError::Base64("payload"))?;
    let sig = B64
        .decode(envelope.signature.as_bytes())
        .map_err(|_| SignedError::Base64("signature"))?;
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(&payload, &sig)
        .map_err(|_| SignedError::BadSignature)?;
    let doc: PolicyDocument =
        serde_json::from_slice(&payload).map_err(|e| SignedError::Payload(e.to_string()))?;
    doc.check()?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed test key (PKCS#8 v2 of the RFC 8032 §7.1 TEST 1 secret key).
    fn key() -> Vec<u8> {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let public = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        // PKCS#8 v2 as ring writes it: the seed, then the public key.
        let mut der = hex("3053020101300506032b657004220420");
        der.extend_from_slice(&seed);
        der.extend_from_slice(&hex("a123032100"));
        der.extend_from_slice(&public);
        der
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn doc() -> PolicyDocument {
        PolicyDocument {
            version: 7,
            issued_at: 1_800_000_000,
            mode: Mode::Enforce,
            threshold: 5,
            strict: false,
            profile: ProfileName::Compatible,
            global: vec!["password".into(), "summer".into()],
            custom: vec!["contoso".into()],
        }
    }

    #[test]
    fn the_rfc_8032_key_gives_its_public_key() {
        assert_eq!(
            public_key(&key()).unwrap().to_vec(),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
    }

    #[test]
    fn a_signed_policy_verifies_and_gives_back_the_document() {
        let text = sign(&doc(), &key()).unwrap();
        let pk = public_key(&key()).unwrap();
        assert_eq!(verify(text.as_bytes(), &pk).unwrap(), doc());
        let p = verify(text.as_bytes(), &pk).unwrap().policy().unwrap();
        assert_eq!(p.threshold, 5);
    }

    #[test]
    fn any_change_to_the_payload_or_signature_is_refused() {
        let text = sign(&doc(), &key()).unwrap();
        let pk = public_key(&key()).unwrap();
        let mut env: serde_json::Value = serde_json::from_str(&text).unwrap();
        // A payload re-encoded with the custom list emptied.
        let mut altered = doc();
        altered.custom.clear();
        env["payload"] = B64.encode(serde_json::to_vec(&altered).unwrap()).into();
        let forged = serde_json::to_vec(&env).unwrap();
        assert_eq!(verify(&forged, &pk), Err(SignedError::BadSignature));
        // A signature with one bit flipped.
        let mut env: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut sig = B64.decode(env["signature"].as_str().unwrap()).unwrap();
        sig[0] ^= 1;
        env["signature"] = B64.encode(sig).into();
        assert_eq!(
            verify(&serde_json::to_vec(&env).unwrap(), &pk),
            Err(SignedError::BadSignature)
        );
    }

    #[test]
    fn another_key_format_or_shape_is_refused_by_name() {
        let text = sign(&doc(), &key()).unwrap();
        let other = [7u8; 32];
        assert!(matches!(
            verify(text.as_bytes(), &other),
            Err(SignedError::OtherKey { .. })
        ));
        assert_eq!(
            verify(text.as_bytes(), &[0; 31]),
            Err(SignedError::PublicKey)
        );
        let pk = public_key(&key()).unwrap();
        let v2 = text.replace(FORMAT, "pwprotect-signed-policy/2");
        assert!(matches!(
            verify(v2.as_bytes(), &pk),
            Err(SignedError::Format(_))
        ));
        assert!(matches!(verify(b"{}", &pk), Err(SignedError::Envelope(_))));
        assert!(matches!(
            verify(b"\xff\x00", &pk),
            Err(SignedError::Envelope(_))
        ));
        let big = vec![b' '; MAX_SIGNED + 1];
        assert_eq!(verify(&big, &pk), Err(SignedError::TooLarge));
        assert_eq!(sign(&doc(), b"not a key"), Err(SignedError::PrivateKey));
    }

    #[test]
    fn limits_are_checked_when_signing() {
        let mut d = doc();
        d.custom = (0..1_001).map(|i| format!("term{i:04}")).collect();
        assert_eq!(sign(&d, &key()), Err(SignedError::CustomTooLong(1_001)));
        d.custom = vec!["abcd".into(), "abc".into()];
        assert_eq!(
            sign(&d, &key()),
            Err(SignedError::CustomTerm { index: 2, chars: 3 })
        );
        d.custom = vec!["a".repeat(17)];
        assert_eq!(
            sign(&d, &key()),
            Err(SignedError::CustomTerm {
                index: 1,
                chars: 17
            })
        );
        let mut d = doc();
        d.threshold = 0;
        assert_eq!(sign(&d, &key()), Err(SignedError::Threshold));
    }
}
