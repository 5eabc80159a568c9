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

impl Resolver {
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
