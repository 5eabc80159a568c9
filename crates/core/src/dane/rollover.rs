//! Certificate renewals without outages (RFC 7671 §8.1, RFC 7672 §3.1): the TLSA record set to
//! publish before a new key goes live, whether a published RRset already covers the next key,
//! and whether it has been published long enough (its TTL) for every sender's cache to have it.

use crate::dane::association::{CertError, Certificate, associate};
use crate::dane::tlsa::{CertUsage, Matching, Selector, Tlsa};
use crate::dane::verify::{Service, effective_records};

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

    fn leaf(&self) -> Option<&Certificate> {
        match self {
            Self::Chain(c) => c.first(),
            Self::Key(_) => None,
        }
    }

    fn issuers(&self) -> &[Certificate] {
        match self {
            Self::Chain(c) if c.len() > 1 => &c[1..],
            _ => &[],
        }
    }
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
/// when both chains share it). Duplicates are dropped (a renewal that keeps the key needs one
/// `3 1 1`).
pub fn rollover_records(
    current: &[Certificate],
    next: &Next,
    with_issuer: bool,
) -> Result<Vec<Tlsa>, RolloverError> {
    let leaf = current
        .first()
        .ok_or(RolloverError::Empty("the current certificate"))?;
    let next_key = next
        .spki()
        .ok_or(RolloverError::Empty("the next certificate"))?;
    let mut out = vec![ee(&leaf.spki)?, ee(next_key)?];
    if with_issuer {
        let issuer = current.get(1).ok_or(RolloverError::NoIssuer("current"))?;
        out.push(ta(issuer)?);
        if let Next::Chain(chain) = next {
            let next_issuer = chain.get(1).ok_or(RolloverError::NoIssuer("next"))?;
            out.push(ta(next_issuer)?);
        }
    }
    let mut unique = Vec::new();
    for t in out {
        if !unique.contains(&t) {
            unique.push(t);
        }
    }
    Ok(unique)
}

/// The record of `rrset` that will authenticate the next certificate once it is live, if any:
/// a DANE-EE record of its key (or of the whole certificate, when given), or a DANE-TA record
/// of an issuer in the next chain. Digest agility applies (RFC 7671 §9): a record that senders
/// set aside for a stronger matching type of the same usage and selector covers nothing.
/// DANE-TA coverage also needs the new leaf to carry the right names, which only a full check
/// of the new chain can tell.
pub fn covering_record(rrset: &[Tlsa], next: &Next) -> Option<Tlsa> {
    let spki = next.spki()?;
    effective_records(rrset, Service::Smtp)
        .into_iter()
        .find(|t| match (t.usage, t.selector) {
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
}

/// Whether a record first seen at `first_seen` (Unix seconds) with `ttl` has been in DNS long
/// enough at `now` for every resolver cache to hold it (RFC 7671 §8.1: wait at least the TTL,
/// plus any time before it was first seen, which is unknown and so taken as zero).
pub fn published_long_enough(first_seen: u64, ttl: u32, now: u64) -> Result<(), u64> {
    let ready = first_seen.saturating_add(u64::from(ttl));
    if now >= ready {
        Ok(())
    } else {
        Err(ready - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_the_ttl() {
        assert_eq!(published_long_enough(1000, 300, 1300), Ok(()));
        assert_eq!(published_long_enough(1000, 300, 1299), Err(1));
        assert_eq!(published_long_enough(1000, 0, 1000), Ok(()));
        assert_eq!(published_long_enough(u64::MAX, 300, 0), Err(u64::MAX));
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
        assert_eq!(covering_record(&[mine, strong], &next), None);
    }
}
