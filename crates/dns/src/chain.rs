//! The chain of trust behind an answer, for display (like `delv +vtrace`): from the zone that
//! signed the answer up through DS and DNSKEY records to the trust anchor.

use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{RData, RecordType};

use crate::resolver::{LookupError, Resolver, Response, Security};

/// One zone on the chain.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChainLink {
    /// The zone, fully qualified.
    pub zone: String,
    /// Its DNSKEYs as `tag/algorithm/flags`, and the security of the DNSKEY RRset.
    pub dnskeys: Vec<String>,
    /// Security of the DNSKEY RRset.
    pub dnskey_security: Security,
    /// How the parent vouches for the zone.
    pub delegation: DelegationProof,
}

/// What the parent says about a zone.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DelegationProof {
    /// The zone is the root: its keys must match the trust anchor.
    TrustAnchor {
        /// Key tags of the anchors in use.
        anchor_tags: Vec<u16>,
    },
    /// DS records in the parent, as `tag/algorithm/digest-type`.
    Ds {
        /// The DS records.
        records: Vec<String>,
        /// Their security.
        security: Security,
        /// The parent zone that signed them.
        parent: Option<String>,
    },
    /// The parent proves there is no DS: an insecure delegation.
    NoDs {
        /// Security of the denial.
        security: Security,
    },
    /// The lookup failed.
    Failed {
        /// Why.
        error: String,
    },
}

/// Where the chain of trust behind a bogus answer breaks (what `delv` says as "chain broken at").
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct ChainBreak {
    /// The deepest zone whose DNSKEY RRset validated from the trust anchor: the chain holds down
    /// to it. `None` when not even the root validated.
    pub last_secure_zone: Option<String>,
    /// The name where validation fails: a zone (its DNSKEY or DS RRset), or the answer's owner.
    pub at: String,
    /// What fails there, in one sentence.
    pub reason: String,
}

impl Resolver {
    /// Finds where validation of `name`/`rtype` fails: validates the DNSKEY RRset at every
    /// ancestor of `name` from the root down (zone apexes answer with keys, other names with a
    /// denial), and blames the first that does not validate, or else the answer's own RRset,
    /// which the deepest validated zone's keys do not verify.
    pub async fn find_break(&self, name: &str, rtype: RecordType) -> ChainBreak {
        let labels: Vec<&str> = name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
            .collect();
        let mut last_secure: Option<String> = None;
        for k in 0..=labels.len() {
            let candidate = if k == 0 {
                ".".to_owned()
            } else {
                format!("{}.", labels[labels.len() - k..].join("."))
            };
            let broken = |at: &str, reason: String| ChainBreak {
                last_secure_zone: last_secure.clone(),
                at: at.to_owned(),
                reason,
            };
            match self.lookup(&candidate, RecordType::DNSKEY).await {
                Ok(Response::Records(a)) if a.security == Security::Secure => {
                    last_secure = Some(candidate);
                }
                Ok(Response::Records(a)) => {
                    return broken(
                        &candidate,
                        format!(
                            "its DNSKEY RRset is {}: no chain of trust reaches it",
                            a.security
                        ),
                    );
                }
                // Not a zone apex: a validated denial, nothing broken here.
                Ok(_) => {}
                Err(LookupError::Bogus) => {
                    return self.diagnose_keys(&candidate, last_secure.clone()).await;
                }
                Err(e) => {
                    return broken(&candidate, format!("its DNSKEY lookup failed ({e})"));
                }
            }
        }
        let qname = match labels.is_empty() {
            true => ".".to_owned(),
            false => format!("{}.", labels.join(".")),
        };
        let reason = match &last_secure {
            Some(zone) => format!(
                "the {rtype} RRset (or the proof that it does not exist) does not verify with the \
                 keys of {zone}: a bad, expired or missing RRSIG"
            ),
            None => format!("the {rtype} RRset does not verify"),
        };
        ChainBreak {
            last_secure_zone: last_secure,
            at: qname,
            reason,
        }
    }

    /// `zone`'s DNSKEY RRset is bogus: is it the DS in the parent, the keys, or a denial?
    async fn diagnose_keys(&self, zone: &str, last_secure: Option<String>) -> ChainBreak {
        let (at, reason) = match self.lookup(zone, RecordType::DS).await {
            Ok(Response::Records(_)) => (
                zone.to_owned(),
                "no DNSKEY matches the DS records in the parent zone, or the signature over the \
                 DNSKEY RRset does not verify"
                    .to_owned(),
            ),
            Ok(_) => (
                zone.to_owned(),
                "the DNSKEY query gets a denial of existence that does not verify (NSEC/NSEC3 \
                 records or their signatures)"
                    .to_owned(),
            ),
            Err(LookupError::Bogus) => (
                last_secure.clone().unwrap_or_else(|| ".".to_owned()),
                format!("the DS RRset for {zone} (or the proof that it has none) does not verify"),
            ),
            Err(e) => (
                zone.to_owned(),
                format!("its DNSKEY RRset does not validate, and the DS lookup failed ({e})"),
            ),
        };
        ChainBreak {
            last_secure_zone: last_secure,
            at,
            reason,
        }
    }

    /// Walks from `zone` (the signer of an answer) up to the root.
    pub async fn chain_of_trust(&self, zone: &str) -> Vec<ChainLink> {
        let mut links = Vec::new();
        let mut current = Some(zone.to_owned());
        while let Some(z) = current.take() {
            if links.len() > 16 {
                break;
            }
            let (dnskeys, dnskey_security) = match self.lookup(&z, RecordType::DNSKEY).await {
                Ok(Response::Records(a)) => (
                    a.records
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(format!(
                                "{}/{}/{}",
                                k.calculate_key_tag().unwrap_or(0),
                                u8::from(k.algorithm()),
                                k.flags()
                            )),
                            _ => None,
                        })
                        .collect(),
                    a.security,
                ),
                Ok(other) => (Vec::new(), other.security()),
                Err(_) => (Vec::new(), Security::Bogus),
            };
            let delegation = if z == "." {
                DelegationProof::TrustAnchor {
                    anchor_tags: self.anchor_key_tags(),
                }
            } else {
                match self.lookup(&z, RecordType::DS).await {
                    Ok(Response::Records(a)) => {
                        current = a.signer.clone();
                        DelegationProof::Ds {
                            records: a
                                .records
                                .iter()
                                .filter_map(|r| match &r.data {
                                    RData::DNSSEC(DNSSECRData::DS(d)) => Some(format!(
                                        "{}/{}/{}",
                                        d.key_tag(),
                                        u8::from(d.algorithm()),
                                        u8::from(d.digest_type())
                                    )),
                                    _ => None,
                                })
                                .collect(),
                            security: a.security,
                            parent: a.signer,
                        }
                    }
                    Ok(denial) => {
                        current = denial.signer().map(str::to_owned);
                        DelegationProof::NoDs {
                            security: denial.security(),
                        }
                    }
                    Err(e) => DelegationProof::Failed {
                        error: e.to_string(),
                    },
                }
            };
            links.push(ChainLink {
                zone: z,
                dnskeys,
                dnskey_security,
                delegation,
            });
        }
        links
    }

    /// The zone an unsigned name lives in: the closest ancestor with an SOA.
    pub async fn enclosing_zone(&self, name: &str) -> Result<String, LookupError> {
        let mut labels: Vec<&str> = name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
            .collect();
        loop {
            let candidate = if labels.is_empty() {
                ".".to_owned()
            } else {
                format!("{}.", labels.join("."))
            };
            if let Ok(Response::Records(a)) = self.lookup(&candidate, RecordType::SOA).await
                && a.records
                    .iter()
                    .any(|r| r.name.to_ascii().eq_ignore_ascii_case(&candidate))
            {
                return Ok(candidate);
            }
            if labels.is_empty() {
                return Ok(".".to_owned());
            }
            labels.remove(0);
        }
    }
}
