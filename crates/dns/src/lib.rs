//! # mailsec-dns
//!
//! DNS lookups for mailsec over hickory-resolver, with DNSSEC validated in process. Every answer
//! carries its [`Security`] (RFC 4035 §4.3: secure, insecure, bogus, indeterminate), and the
//! outcomes that a sender must keep apart stay apart (RFC 7672 §2.1, RFC 8461 §3.1):
//!
//! ```text
//!   lookup(name, type) ──> Ok(Response::Records(Answer { records, security, .. }))
//!                      ──> Ok(Response::NxDomain(security))    the name does not exist
//!                      ──> Ok(Response::NoData(security))      the name exists, no such type
//!                      ──> Err(LookupError::Bogus)             validation failed
//!                      ──> Err(LookupError::ServFail)          the resolver gave up
//!                      ──> Err(LookupError::Timeout)           no answer in time
//! ```
//!
//! No failure ever becomes "no record". The caller decides what each outcome means for its
//! protocol; this crate only reports.

#![forbid(unsafe_code)]

mod anchor;
mod chain;
mod resolver;

pub use anchor::{AnchorError, TrustAnchorSource};
pub use chain::{ChainBreak, ChainLink, DelegationProof};
/// Record types, for generic lookups.
pub use hickory_proto::rr::RecordType;
pub use resolver::{
    Answer, CaaRecord, DnsConfig, LookupError, RENEW_AFTER, Resolver, ResolverError, Response,
    Security, TxtRecord,
};
