//! Just enough of a TLS 1.2 client to finish one handshake and then ask to renegotiate (check
//! T9): ECDHE (X25519, P-256, P-384) with AES-GCM (RFC 5289, RFC 5288), no client certificate
//! (an empty Certificate when asked), no resumption, no extended master secret. The server is
//! not authenticated: the question is only whether it answers a second ClientHello.
//!
//! Sans-IO: the key schedule ([`prf`], [`Keys`]) and record protection ([`Sealer`],
//! [`Opener`]); `scan.rs` moves the bytes. Everything uses ring.

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use ring::digest;
use ring::hmac;
use ring::rand::SystemRandom;

use mailsec_core::tls_hello::NamedGroup;

/// Why the handshake could not be completed on our side.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub(crate) enum Tls12Error {
    /// The server chose a suite or group this client does not have.
    #[error("the server chose {0}, which the renegotiation test does not implement")]
    Unsupported(&'static str),
    /// A key or record failed (bad point, bad tag).
    #[error("cryptographic failure ({0})")]
    Crypto(&'static str),
}

/// The suite parameters: key length and the PRF's hash (RFC 5246 §5, RFC 5289 §3.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Suite {
    key_len: usize,
    sha384: bool,
}

impl Suite {
    /// `TLS_ECDHE_{ECDSA,RSA}_WITH_AES_{128,256}_GCM_{SHA256,SHA384}`.
    pub(crate) fn of(code: u16) -> Result<Self, Tls12Error> {
        match code {
            0xc02b | 0xc02f => Ok(Self {
                key_len: 16,
                sha384: false,
            }),
            0xc02c | 0xc030 => Ok(Self {
                key_len: 32,
                sha384: true,
            }),
            _ => Err(Tls12Error::Unsupported("a suite")),
        }
    }

    /// The hash of the handshake transcript (RFC 5246 §7.4.9).
    pub(crate) fn transcript_hash(self, transcript: &[u8]) -> Vec<u8> {
        let alg = if self.sha384 {
            &digest::SHA384
        } else {
            &digest::SHA256
        };
        digest::digest(alg, transcript).as_ref().to_vec()
    }

    fn hmac(self) -> hmac::Algorithm {
        if self.sha384 {
            hmac::HMAC_SHA384
        } else {
            hmac::HMAC_SHA256
        }
    }
}

/// An ephemeral ECDH key for the server's group (RFC 8422 §5.10).
pub(crate) struct Ecdh {
    key: EphemeralPrivateKey,
    alg: &'static agreement::Algorithm,
    /// Our public value as sent in ClientKeyExchange (RFC 8422 §5.7).
    pub(crate) public: Vec<u8>,
}

impl Ecdh {
    pub(crate) fn new(group: NamedGroup, rng: &SystemRandom) -> Result<Self, Tls12Error> {
        let alg = match group {
            NamedGroup::X25519 => &agreement::X25519,
            NamedGroup::SECP256R1 => &agreement::ECDH_P256,
            NamedGroup::SECP384R1 => &agreement::ECDH_P384,
            _ => return Err(Tls12Error::Unsupported("a group")),
        };
        let key = EphemeralPrivateKey::generate(alg, rng)
            .map_err(|_| Tls12Error::Crypto("key generation"))?;
        let public = key
            .compute_public_key()
            .map_err(|_| Tls12Error::Crypto("public key"))?
            .as_ref()
            .to_vec();
        Ok(Self { key, alg, public })
    }

    /// The premaster secret: the shared secret with the server's point.
    pub(crate) fn agree(self, peer: &[u8]) -> Result<Vec<u8>, Tls12Error> {
        agreement::agree_ephemeral(self.key, &UnparsedPublicKey::new(self.alg, peer), |s| {
            s.to_vec()
        })
        .map_err(|_| Tls12Error::Crypto("the server's ECDH point"))
    }
}

/// The TLS 1.2 PRF (RFC 5246 §5): `P_hash(secret, label + seed)` cut to `len` bytes.
pub(crate) fn prf(suite: Suite, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(suite.hmac(), secret);
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    let mut out = Vec::with_capacity(len + 48);
    // A(1) = HMAC(secret, label + seed), A(i) = HMAC(secret, A(i-1)).
    let mut a = hmac::sign(&key, &label_seed);
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, a.as_ref());
    }
    out.truncate(len);
    out
}

/// The keys of both directions after the handshake.
pub(crate) struct Keys {
    /// The master secret (RFC 5246 §8.1).
    pub(crate) master: Vec<u8>,
    pub(crate) client: Sealer,
    pub(crate) server: Opener,
}

impl Keys {
    /// RFC 5246 §8.1 (master secret) and §6.3 (key block: no MAC keys with AEAD, RFC 5288 §3:
    /// 4-byte implicit nonces).
    pub(crate) fn derive(
        suite: Suite,
        premaster: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> Result<Self, Tls12Error> {
        let randoms = [&client_random[..], &server_random[..]].concat();
        let master = prf(suite, premaster, b"master secret", &randoms, 48);
        let swapped = [&server_random[..], &client_random[..]].concat();
        let block = prf(
            suite,
            &master,
            b"key expansion",
            &swapped,
            2 * suite.key_len + 8,
        );
        let (client_key, rest) = block.split_at(suite.key_len);
        let (server_key, rest) = rest.split_at(suite.key_len);
        let (client_iv, server_iv) = rest.split_at(4);
        Ok(Self {
            client: Sealer {
                aead: aead(suite, client_key)?,
                salt: iv(client_iv),
                seq: 0,
            },
            server: Opener {
                aead: aead(suite, server_key)?,
                salt: iv(server_iv),
                seq: 0,
            },
            master,
        })
    }

    /// `verify_data` of a Finished message (RFC 5246 §7.4.9): 12 bytes.
    pub(crate) fn verify_data(
        &self,
        suite: Suite,
        label: &[u8],
        transcript_hash: &[u8],
    ) -> Vec<u8> {
        prf(suite, &self.master, label, transcript_hash, 12)
    }
}

/// Protects our records (RFC 5246 §6.2.3.3, RFC 5288 §3).
pub(crate) struct Sealer {
    aead: LessSafeKey,
    salt: [u8; 4],
    seq: u64,
}

impl Sealer {
    /// One protected record of `content_type` carrying `plaintext` (at most 2^14 bytes).
    pub(crate) fn seal(
        &mut self,
        content_type: u8,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Tls12Error> {
        let explicit = self.seq.to_be_bytes();
        let aad = additional_data(self.seq, content_type, plaintext.len());
        let mut data = plaintext.to_vec();
        let tag = self
            .aead
            .seal_in_place_separate_tag(nonce(self.salt, explicit), Aad::from(aad), &mut data)
            .map_err(|_| Tls12Error::Crypto("seal"))?;
        self.seq += 1;
        let len = 8 + data.len() + tag.as_ref().len();
        let mut record = vec![content_type, 0x03, 0x03];
        record.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        record.extend_from_slice(&explicit);
        record.extend_from_slice(&data);
        record.extend_from_slice(tag.as_ref());
        Ok(record)
    }
}

/// Removes the protection from the server's records.
pub(crate) struct Opener {
    aead: LessSafeKey,
    salt: [u8; 4],
    seq: u64,
}

impl Opener {
    /// The plaintext of one protected record's fragment.
    pub(crate) fn open(
        &mut self,
        content_type: u8,
        fragment: &[u8],
    ) -> Result<Vec<u8>, Tls12Error> {
        if fragment.len() < 8 + 16 {
            return Err(Tls12Error::Crypto("short record"));
        }
        let (explicit, sealed) = fragment.split_at(8);
        let mut explicit_nonce = [0u8; 8];
        explicit_nonce.copy_from_slice(explicit);
        let aad = additional_data(self.seq, content_type, sealed.len() - 16);
        let mut data = sealed.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce(self.salt, explicit_nonce), Aad::from(aad), &mut data)
            .map_err(|_| Tls12Error::Crypto("a record's tag"))?;
        let plain = plain.to_vec();
        self.seq += 1;
        Ok(plain)
    }
}

fn aead(suite: Suite, key: &[u8]) -> Result<LessSafeKey, Tls12Error> {
    let alg = if suite.key_len == 32 {
        &AES_256_GCM
    } else {
        &AES_128_GCM
    };
    Ok(LessSafeKey::new(
        UnboundKey::new(alg, key).map_err(|_| Tls12Error::Crypto("key"))?,
    ))
}

fn iv(b: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    out.copy_from_slice(&b[..4]);
    out
}

/// RFC 5288 §3: the nonce is the 4-byte salt and the 8-byte explicit part (our sequence
/// number, as RFC 5288 §3 suggests).
fn nonce(salt: [u8; 4], explicit: [u8; 8]) -> Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&salt);
    n[4..].copy_from_slice(&explicit);
    Nonce::assume_unique_for_key(n)
}

/// RFC 5246 §6.2.3.3: `seq_num + TLSCompressed.type + TLSCompressed.version + length`.
fn additional_data(seq: u64, content_type: u8, len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = content_type;
    aad[9] = 0x03;
    aad[10] = 0x03;
    aad[11..].copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prf_sha256_vector() {
        // The TLS 1.2 PRF test vector posted to the TLS WG list
        // (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html).
        let out = prf(
            Suite::of(0xc02f).unwrap(),
            &hex::decode("9bbe436ba940f017b17652849a71db35").unwrap(),
            b"test label",
            &hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap(),
            100,
        );
        assert_eq!(
            hex::encode(out),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66"
        );
    }

    #[test]
    fn records_open_what_they_seal() {
        // Both directions with the same key material: what one seals the other opens, in order;
        // a changed byte or a record out of order fails.
        let suite = Suite::of(0xc02f).unwrap();
        let mk = || Keys::derive(suite, &[1; 32], &[2; 32], &[3; 32]).unwrap();
        let mut a = mk();
        let b = mk();
        let mut opener = Opener {
            aead: aead(
                suite,
                &prf(
                    suite,
                    &b.master,
                    b"key expansion",
                    &[[3u8; 32], [2; 32]].concat(),
                    40,
                )[..16],
            )
            .unwrap(),
            salt: iv(&prf(
                suite,
                &b.master,
                b"key expansion",
                &[[3u8; 32], [2; 32]].concat(),
                40,
            )[32..36]),
            seq: 0,
        };
        for msg in [&b"first"[..], b"second"] {
            let rec = a.client.seal(0x16, msg).unwrap();
            assert_eq!(opener.open(0x16, &rec[5..]).unwrap(), msg);
        }
        let mut rec = a.client.seal(0x16, b"third").unwrap();
        rec[10] ^= 1;
        assert!(opener.open(0x16, &rec[5..]).is_err());
    }
}
