//! Certificate renewals without outages (RFC 7671 §8.1, RFC 7672 §3.1): the TLSA record set to
//! publish before a new key goes live, whether a published RRset already covers the next key,
//! and whether it has been published long enough for every sender's cache to have it.
//!
//! ```text
//!   current chain + next chain or key ──> rollover_plan ──> records to publish (with roles)
//!   published RRset + next + first seen + TTL + now ──> host_readiness ──> ready / wait N s /
//!                                                                          not covered
//! ```
//!
//! Time is an input (`now`, `first_seen`: Unix seconds); remembering when a record was first
//! seen is the caller's job.

use std::time::Duration;

use pki_types::pem::PemObject;
use pki_types::{PrivateKeyDer, UnixTime};

use crate::dane::association::{CertError, Certificate, associate};
use crate::dane::tlsa::{CertUsage, Matching, Selector, Tlsa, Usability};
use crate::dane::verify::{
    DaneFailure, DaneInput, DaneOutcome, Service, effective_records, verify,
};
use crate::domain::HostName;

/// How many TTLs a new record must have been visible before the key it covers goes live
/// (RFC 7671 §8.1: publish the next key's record ahead of the change). Two rather than one:
/// one for the resolver caches that fetched the RRset just before the record was first seen,
/// one for what the observer cannot see (secondary name servers that lagged behind the one that
/// answered, a TTL lowered together with the change).
pub const WAIT_TTLS: u64 = 2;

/// The next certificate, or only its key (enough for `3 1 x`).
#[derive(Clone, Debug)]
pub enum Next {
    /// A certificate chain, leaf first (the issuer, when present, is used for `2 1 1`).
    Chain(Vec<Certificate>),
    /// A bare public key, DER SubjectPublicKeyInfo.
    Key(Vec<u8>),
}

impl Next {
    /// The next key, DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Option<&[u8]> {
        match self {
            Self::Chain(c) => c.first().map(|c| c.spki.as_slice()),
            Self::Key(k) => Some(k),
        }
    }

    /// The next leaf certificate, when a chain was given.
    pub fn leaf(&self) -> Option<&Certificate> {
        match self {
            Self::Chain(c) => c.first(),
            Self::Key(_) => None,
        }
    }

    /// The certificates after the leaf (empty for a bare key or a lone leaf).
    pub fn issuers(&self) -> &[Certificate] {
        match self {
            Self::Chain(c) if c.len() > 1 => &c[1..],
            _ => &[],
        }
    }
}

/// What a record of the rollover set is for.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// `3 1 1` of the key in use now: remove it once the next certificate is live.
    CurrentKey,
    /// `3 1 1` of the next key.
    NextKey,
    /// `3 1 1` of a key the next certificate keeps (a renewal with the same key).
    SameKey,
    /// `2 1 1` of the current certificate's issuer.
    CurrentIssuer,
    /// `2 1 1` of the next certificate's issuer.
    NextIssuer,
    /// `2 1 1` of an issuer both chains share.
    SameIssuer,
}

/// One record of the rollover set and what it is for.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Planned {
    /// The record.
    pub tlsa: Tlsa,
    /// Which key or issuer it names.
    pub role: Role,
}

/// Why a record set cannot be made.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RolloverError {
    /// No certificate in the current chain, or no key for the next one.
    #[error("{0} holds no certificate or key")]
    Empty(&'static str),
    /// `--with-issuer` without the issuer in the chain.
    #[error("the {0} chain has no issuer certificate: give the full chain (leaf, then issuer)")]
    NoIssuer(&'static str),
    /// The digest cannot be computed.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// No private key in the input (PEM without a `PRIVATE KEY`, `RSA PRIVATE KEY` or
    /// `EC PRIVATE KEY` block, or DER that is none of PKCS#8, PKCS#1, SEC1).
    #[error("no private key found")]
    NoPrivateKey,
    /// A passphrase-protected PKCS#8 key.
    #[error(
        "the private key is encrypted: derive its public key with `openssl pkey -in KEY -pubout`"
    )]
    EncryptedPrivateKey,
    /// A private key of a type the TLS stack cannot load (not RSA 2048-8192, ECDSA P-256/P-384
    /// or Ed25519).
    #[error("unsupported private key type (RSA, ECDSA P-256/P-384 and Ed25519 are supported)")]
    UnsupportedPrivateKey,
}

fn ee(spki: &[u8]) -> Result<Tlsa, CertError> {
    Ok(Tlsa {
        usage: CertUsage::DaneEe,
        selector: Selector::Spki,
        matching: Matching::Sha256,
        data: associate(spki, Matching::Sha256)?,
    })
}

fn ta(issuer: &Certificate) -> Result<Tlsa, CertError> {
    Ok(Tlsa {
        usage: CertUsage::DaneTa,
        selector: Selector::Spki,
        matching: Matching::Sha256,
        data: associate(&issuer.spki, Matching::Sha256)?,
    })
}

/// The records to publish before the renewal (RFC 7671 §8.1 "current + next"): `3 1 1` of the
/// current key and of the next key, and with `with_issuer` the `2 1 1` of each issuer (once
/// when both chains share it; for a bare next key, the current issuer only). A key or issuer
/// both certificates share gives one record, marked [`Role::SameKey`] or [`Role::SameIssuer`].
pub fn rollover_plan(
    current: &[Certificate],
    next: &Next,
    with_issuer: bool,
) -> Result<Vec<Planned>, RolloverError> {
    let leaf = current
        .first()
        .ok_or(RolloverError::Empty("the current certificate"))?;
    let next_key = next
        .spki()
        .ok_or(RolloverError::Empty("the next certificate"))?;
    let mut out = Vec::new();
    let (now_ee, next_ee) = (ee(&leaf.spki)?, ee(next_key)?);
    if now_ee == next_ee {
        out.push(Planned {
            tlsa: now_ee,
            role: Role::SameKey,
        });
    } else {
        out.push(Planned {
            tlsa: now_ee,
            role: Role::CurrentKey,
        });
        out.push(Planned {
            tlsa: next_ee,
            role: Role::NextKey,
        });
    }
    if with_issuer {
        let issuer = current.get(1).ok_or(RolloverError::NoIssuer("current"))?;
        let now_ta = ta(issuer)?;
        let next_ta = match next {
            Next::Chain(chain) => Some(ta(chain.get(1).ok_or(RolloverError::NoIssuer("next"))?)?),
            Next::Key(_) => None,
        };
        match next_ta {
            Some(t) if t == now_ta => out.push(Planned {
                tlsa: now_ta,
                role: Role::SameIssuer,
            }),
            Some(t) => {
                out.push(Planned {
                    tlsa: now_ta,
                    role: Role::CurrentIssuer,
                });
                out.push(Planned {
                    tlsa: t,
                    role: Role::NextIssuer,
                });
            }
            None => out.push(Planned {
                tlsa: now_ta,
                role: Role::CurrentIssuer,
            }),
        }
    }
    Ok(out)
}

/// [`rollover_plan`] without the roles.
pub fn rollover_records(
    current: &[Certificate],
    next: &Next,
    with_issuer: bool,
) -> Result<Vec<Tlsa>, RolloverError> {
    Ok(rollover_plan(current, next, with_issuer)?
        .into_iter()
        .map(|p| p.tlsa)
        .collect())
}

/// The records of `rrset` that will authenticate the next certificate once it is live: a
/// DANE-EE record of its key (or of the whole certificate, when given), or a DANE-TA record of
/// an issuer in the next chain. Digest agility applies (RFC 7671 §9): a record that senders
/// set aside for a stronger matching type of the same usage and selector covers nothing.
/// DANE-TA coverage also needs the new leaf to carry the right names: [`host_readiness`]
/// checks them.
pub fn covering_records(rrset: &[Tlsa], next: &Next) -> Vec<Tlsa> {
    let Some(spki) = next.spki() else {
        return Vec::new();
    };
    effective_records(rrset, Service::Smtp)
        .into_iter()
        .filter(|t| match (t.usage, t.selector) {
            (CertUsage::DaneEe, Selector::Spki) => {
                associate(spki, t.matching).is_ok_and(|d| d == t.data)
            }
            (CertUsage::DaneEe, Selector::Cert) => next
                .leaf()
                .is_some_and(|c| associate(&c.der, t.matching).is_ok_and(|d| d == t.data)),
            (CertUsage::DaneTa, sel) => next.issuers().iter().any(|c| {
                let selected = if sel == Selector::Cert {
                    &c.der
                } else {
                    &c.spki
                };
                associate(selected, t.matching).is_ok_and(|d| d == t.data)
            }),
            _ => false,
        })
        .cloned()
        .collect()
}

/// The first of [`covering_records`].
pub fn covering_record(rrset: &[Tlsa], next: &Next) -> Option<Tlsa> {
    covering_records(rrset, next).into_iter().next()
}

/// The record that makes `rrset` cover a next key (`spki`, DER SubjectPublicKeyInfo):
/// `3 1 m`, with `m` the strongest matching type the RRset already publishes for `3 1` (SHA2-256
/// when it publishes none), so that digest agility (RFC 7671 §9) neither sets the new record
/// aside nor sets the published ones aside.
pub fn next_key_record(rrset: &[Tlsa], spki: &[u8]) -> Result<Tlsa, CertError> {
    let matching = effective_records(rrset, Service::Smtp)
        .into_iter()
        .find(|t| t.usage == CertUsage::DaneEe && t.selector == Selector::Spki)
        .map_or(Matching::Sha256, |t| t.matching);
    Ok(Tlsa {
        usage: CertUsage::DaneEe,
        selector: Selector::Spki,
        matching,
        data: associate(spki, matching)?,
    })
}

/// When a record first seen at `first_seen` with `ttl` has been in DNS long enough for the next
/// key to go live: [`WAIT_TTLS`] times the TTL later.
pub fn ready_at(first_seen: u64, ttl: u32) -> u64 {
    first_seen.saturating_add(WAIT_TTLS.saturating_mul(u64::from(ttl)))
}

/// Whether a record first seen at `first_seen` (Unix seconds) with `ttl` has been in DNS long
/// enough at `now` for every resolver cache to hold it ([`ready_at`]); if not, the seconds
/// left.
pub fn published_long_enough(first_seen: u64, ttl: u32, now: u64) -> Result<(), u64> {
    let ready = ready_at(first_seen, ttl);
    if now >= ready {
        Ok(())
    } else {
        Err(ready - now)
    }
}

/// Whether one host's published TLSA RRset lets the next certificate go live.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Readiness {
    /// The RRset holds no record an SMTP sender can use: senders require TLS but do not
    /// authenticate it (RFC 7672 §2.2), so any certificate is accepted.
    NoUsableRecord,
    /// No usable record covers the next key.
    NotCovered {
        /// DANE-TA records that match an issuer of the next chain but do not authenticate it
        /// (names, dates or signatures, RFC 7672 §3.1.2 and §3.2.2), each with the reason.
        rejected: Vec<(Tlsa, DaneFailure)>,
    },
    /// Covered, but not yet for long enough.
    Wait {
        /// The covering record that is ready first.
        record: Tlsa,
        /// When it was first seen (Unix seconds).
        first_seen: u64,
        /// When the next certificate can go live (Unix seconds).
        ready_at: u64,
    },
    /// Covered, and published long enough.
    Ready {
        /// The covering record that was ready first.
        record: Tlsa,
        /// When it was first seen (Unix seconds).
        first_seen: u64,
    },
}

impl Readiness {
    /// True when installing the next certificate now keeps mail flowing to this host.
    pub fn is_safe(&self) -> bool {
        matches!(self, Self::NoUsableRecord | Self::Ready { .. })
    }
}

/// Whether the next certificate can go live on a host that publishes `rrset` (a secure TLSA
/// RRset with `ttl`): a covering record ([`covering_records`]) that has been published long
/// enough ([`published_long_enough`]). A DANE-TA record covers only a chain that the RFC 7672
/// verifier accepts with that record alone: the path from the anchor validates at `now` and the
/// leaf names one of `reference_ids` (the MX host, and the next-hop domain when the MX RRset is
/// secure, §3.2.2). `first_seen` says when each record was first seen; a record never seen
/// before is seen `now`.
pub fn host_readiness(
    rrset: &[Tlsa],
    next: &Next,
    reference_ids: &[HostName],
    ttl: u32,
    first_seen: &dyn Fn(&Tlsa) -> Option<u64>,
    now: u64,
) -> Readiness {
    if !rrset.iter().any(|t| t.usability() == Usability::Usable) {
        return Readiness::NoUsableRecord;
    }
    let chain: Vec<Vec<u8>> = match next {
        Next::Chain(c) => c.iter().map(|c| c.der.clone()).collect(),
        Next::Key(_) => Vec::new(),
    };
    let mut rejected = Vec::new();
    let mut covering = Vec::new();
    for t in covering_records(rrset, next) {
        if t.usage != CertUsage::DaneTa {
            covering.push(t);
            continue;
        }
        let outcome = verify(&DaneInput {
            chain: &chain,
            tlsa: std::slice::from_ref(&t),
            reference_ids,
            service: Service::Smtp,
            now: UnixTime::since_unix_epoch(Duration::from_secs(now)),
            pkix_roots: &[],
        });
        match outcome {
            DaneOutcome::Authenticated(_) => covering.push(t),
            DaneOutcome::Failed(why) => rejected.push((t, why)),
            DaneOutcome::NoUsableRecords => {}
        }
    }
    let best = covering
        .into_iter()
        .map(|t| {
            let seen = first_seen(&t).unwrap_or(now);
            (ready_at(seen, ttl), seen, t)
        })
        .min_by_key(|(ready, _, _)| *ready);
    match best {
        None => Readiness::NotCovered { rejected },
        Some((ready, first_seen, record)) if ready <= now => {
            Readiness::Ready { record, first_seen }
        }
        Some((ready_at, first_seen, record)) => Readiness::Wait {
            record,
            first_seen,
            ready_at,
        },
    }
}

/// The DER SubjectPublicKeyInfo of a private key (PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or
/// `EC PRIVATE KEY`, or DER PKCS#8, PKCS#1 or SEC1): for operators who pre-generate the next
/// key and hold only its private half. The key is read only to derive the public key.
pub fn spki_from_private_key(input: &[u8]) -> Result<Vec<u8>, RolloverError> {
    let pem = input.windows(11).any(|w| w == b"-----BEGIN ");
    let der = if pem {
        if input
            .windows(32)
            .any(|w| w == b"-----BEGIN ENCRYPTED PRIVATE KEY")
        {
            return Err(RolloverError::EncryptedPrivateKey);
        }
        PrivateKeyDer::from_pem_slice(input).map_err(|_| RolloverError::NoPrivateKey)?
    } else {
        PrivateKeyDer::try_from(input)
            .map_err(|_| RolloverError::NoPrivateKey)?
            .clone_key()
    };
    let key = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|_| RolloverError::UnsupportedPrivateKey)?;
    let spki = key
        .public_key()
        .ok_or(RolloverError::UnsupportedPrivateKey)?;
    Ok(spki.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PublicKeyData,
    };

    use super::*;

    /// A CA and a leaf it issued for `name`: (chain, leaf key).
    fn chain(name: &str) -> (Vec<Certificate>, KeyPair) {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params.signed_by(&key, &issuer).unwrap();
        let chain = vec![
            Certificate::from_der(leaf.der()).unwrap(),
            Certificate::from_der(ca.der()).unwrap(),
        ];
        (chain, key)
    }

    fn ee_of(spki: &[u8]) -> Tlsa {
        ee(spki).unwrap()
    }

    #[test]
    fn waiting_for_the_ttl() {
        assert_eq!(WAIT_TTLS, 2);
        assert_eq!(published_long_enough(1000, 300, 1600), Ok(()));
        assert_eq!(published_long_enough(1000, 300, 1599), Err(1));
        assert_eq!(published_long_enough(1000, 300, 1300), Err(300));
        assert_eq!(published_long_enough(1000, 0, 1000), Ok(()));
        assert_eq!(published_long_enough(u64::MAX, 300, 0), Err(u64::MAX));
        assert_eq!(ready_at(u64::MAX - 1, u32::MAX), u64::MAX);
    }

    #[test]
    fn a_bare_key_is_covered_by_its_3_1_x_only() {
        let key = b"spki bytes".to_vec();
        let next = Next::Key(key.clone());
        let mine = Tlsa::new(3, 1, 1, associate(&key, Matching::Sha256).unwrap());
        let other = Tlsa::new(3, 1, 1, vec![0; 32]);
        assert_eq!(
            covering_record(&[other.clone(), mine.clone()], &next),
            Some(mine.clone())
        );
        assert_eq!(covering_record(&[other], &next), None);
        // A 3 1 2 of another key sets the 3 1 1 aside (RFC 7671 §9).
        let strong = Tlsa::new(3, 1, 2, vec![0; 64]);
        assert_eq!(
            covering_record(&[mine.clone(), strong.clone()], &next),
            None
        );
        // What to publish for the next key follows the strongest matching type in use.
        let key_record = |rrset: &[Tlsa]| next_key_record(rrset, &key).unwrap().to_string();
        assert!(key_record(&[]).starts_with("3 1 1 "));
        assert!(key_record(&[strong.clone(), mine.clone()]).starts_with("3 1 2 "));
        assert!(key_record(&[Tlsa::new(3, 1, 0, key.clone())]).starts_with("3 1 0 "));
        // Records of other usages and selectors, and unusable ones, do not count.
        let ta512 = Tlsa::new(2, 1, 2, vec![0; 64]);
        let short = Tlsa::new(3, 1, 2, vec![0; 10]);
        assert!(key_record(&[ta512, short, mine]).starts_with("3 1 1 "));
        let covered = next_key_record(std::slice::from_ref(&strong), &key).unwrap();
        assert_eq!(
            covering_record(&[strong, covered.clone()], &next),
            Some(covered)
        );
    }

    #[test]
    fn the_plan_names_each_record() {
        let (current, _) = chain("mx.example.test");
        let (next, _) = chain("mx.example.test");
        let roles = |p: Vec<Planned>| p.into_iter().map(|p| p.role).collect::<Vec<_>>();
        let plan = rollover_plan(&current, &Next::Chain(next.clone()), true).unwrap();
        assert_eq!(plan[0].tlsa, ee_of(&current[0].spki));
        assert_eq!(plan[1].tlsa, ee_of(&next[0].spki));
        assert_eq!(plan[2].tlsa, ta(&current[1]).unwrap());
        assert_eq!(plan[3].tlsa, ta(&next[1]).unwrap());
        assert_eq!(
            roles(plan),
            [
                Role::CurrentKey,
                Role::NextKey,
                Role::CurrentIssuer,
                Role::NextIssuer
            ]
        );
        // Same key and same issuer: one record each.
        let same = rollover_plan(&current, &Next::Chain(current.clone()), true).unwrap();
        assert_eq!(roles(same), [Role::SameKey, Role::SameIssuer]);
        // A bare next key: the current issuer only.
        let key = Next::Key(next[0].spki.clone());
        assert_eq!(
            roles(rollover_plan(&current, &key, true).unwrap()),
            [Role::CurrentKey, Role::NextKey, Role::CurrentIssuer]
        );
        assert_eq!(
            rollover_records(&current, &key, false).unwrap(),
            [ee_of(&current[0].spki), ee_of(&next[0].spki)]
        );
        // --with-issuer needs both issuers.
        assert_eq!(
            rollover_plan(&current[..1], &key, true),
            Err(RolloverError::NoIssuer("current"))
        );
        assert_eq!(
            rollover_plan(&current, &Next::Chain(next[..1].to_vec()), true),
            Err(RolloverError::NoIssuer("next"))
        );
        assert_eq!(
            rollover_plan(&[], &key, false),
            Err(RolloverError::Empty("the current certificate"))
        );
    }

    #[test]
    fn readiness_of_one_host() {
        let (now_chain, _) = chain("mx.example.test");
        let (next_chain, _) = chain("mx.example.test");
        let next = Next::Chain(next_chain.clone());
        let current_ee = ee_of(&now_chain[0].spki);
        let next_ee = ee_of(&next_chain[0].spki);
        let next_ta = ta(&next_chain[1]).unwrap();
        let never = |_: &Tlsa| None;
        let refs = [HostName::parse("mx.example.test").unwrap()];
        // Within the certificates' validity.
        let t = 1_800_000_000;

        // Only the current key: not covered.
        assert_eq!(
            host_readiness(
                std::slice::from_ref(&current_ee),
                &next,
                &refs,
                300,
                &never,
                t
            ),
            Readiness::NotCovered { rejected: vec![] }
        );
        // Covered, never seen before: seen now, wait two TTLs.
        let set = [current_ee.clone(), next_ee.clone()];
        assert_eq!(
            host_readiness(&set, &next, &refs, 300, &never, t),
            Readiness::Wait {
                record: next_ee.clone(),
                first_seen: t,
                ready_at: t + 600
            }
        );
        let seen = |r: &Tlsa| (*r == next_ee).then_some(t);
        assert!(!host_readiness(&set, &next, &refs, 300, &seen, t + 599).is_safe());
        let ready = host_readiness(&set, &next, &refs, 300, &seen, t + 600);
        assert_eq!(
            ready,
            Readiness::Ready {
                record: next_ee.clone(),
                first_seen: t
            }
        );
        assert!(ready.is_safe());
        // A bare key is covered by its 3 1 1 alike.
        let key = Next::Key(next_chain[0].spki.clone());
        assert!(host_readiness(&set, &key, &refs, 300, &seen, t + 600).is_safe());

        // The issuer's 2 1 1 covers a chain that carries the issuer, if the leaf names the host.
        let with_ta = [current_ee, next_ta.clone()];
        assert!(matches!(
            host_readiness(&with_ta, &next, &refs, 300, &never, t),
            Readiness::Wait { record, .. } if record == next_ta
        ));
        let other = [HostName::parse("mx.other.test").unwrap()];
        assert!(matches!(
            host_readiness(&with_ta, &next, &other, 300, &never, t),
            Readiness::NotCovered { rejected } if matches!(
                rejected.as_slice(),
                [(r, DaneFailure::NameMismatch { .. })] if *r == next_ta
            )
        ));
        // Out of date at `now`: rejected too.
        assert!(matches!(
            host_readiness(&with_ta, &next, &refs, 300, &never, 0),
            Readiness::NotCovered { rejected } if matches!(
                rejected.as_slice(),
                [(_, DaneFailure::Expired { .. })]
            )
        ));
        // The leaf alone (no issuer in the chain), or a bare key, is not covered by the 2 1 1.
        let lone = Next::Chain(next_chain[..1].to_vec());
        for n in [&lone, &key] {
            assert_eq!(
                host_readiness(&with_ta, n, &refs, 300, &never, t),
                Readiness::NotCovered { rejected: vec![] }
            );
        }
        // An issuer certificate appended to a leaf it did not sign matches the 2 1 1, but the
        // chain does not validate to it.
        let (stranger, _) = chain("mx.example.test");
        let forged = Next::Chain(vec![stranger[0].clone(), next_chain[1].clone()]);
        assert!(matches!(
            host_readiness(&with_ta, &forged, &refs, 300, &never, t),
            Readiness::NotCovered { rejected } if matches!(
                rejected.as_slice(),
                [(_, DaneFailure::Untrusted { .. })]
            )
        ));
        // The earliest-ready covering record counts.
        let both = [next_ee.clone(), next_ta.clone()];
        let older_ta = |r: &Tlsa| Some(if *r == next_ta { t - 5000 } else { t - 10 });
        assert_eq!(
            host_readiness(&both, &next, &refs, 300, &older_ta, t),
            Readiness::Ready {
                record: next_ta.clone(),
                first_seen: t - 5000
            }
        );
        // Unusable records only: TLS without authentication, any certificate will do.
        let pkix = [Tlsa::new(0, 0, 1, vec![0; 32])];
        assert_eq!(
            host_readiness(&pkix, &next, &refs, 300, &never, t),
            Readiness::NoUsableRecord
        );
    }

    #[test]
    fn public_keys_from_private_keys() {
        for alg in [
            &PKCS_ECDSA_P256_SHA256,
            &PKCS_ECDSA_P384_SHA384,
            &PKCS_ED25519,
        ] {
            let key = KeyPair::generate_for(alg).unwrap();
            let want = key.subject_public_key_info();
            assert_eq!(
                spki_from_private_key(key.serialize_pem().as_bytes()).unwrap(),
                want
            );
            assert_eq!(spki_from_private_key(&key.serialize_der()).unwrap(), want);
        }
        assert_eq!(
            spki_from_private_key(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            Err(RolloverError::NoPrivateKey)
        );
        assert_eq!(
            spki_from_private_key(
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
            ),
            Err(RolloverError::EncryptedPrivateKey)
        );
        assert_eq!(
            spki_from_private_key(b"garbage"),
            Err(RolloverError::NoPrivateKey)
        );
    }
}
