//! DANE for SMTP: TLSA records (RFC 6698 §2, RFC 7218 names, RFC 7671) and the SMTP usability
//! rules of RFC 7672 §3.1.3; certificate association data from X.509 certificates.

pub mod association;
pub mod decide;
pub mod known_ca;
pub mod lint;
pub mod rollover;
pub mod tls;
pub mod tlsa;
pub mod verify;

pub use association::{
    CertError, Certificate, KeyInfo, associate, key_info, parse_certificates, parse_public_key,
};
pub use decide::{
    AddressVerdict, Connection, DnsState, HostPolicy, Mechanism, Outcome, TlsaState, Verdict,
    address_verdict, domain_verdict, host_policy,
};
pub use tls::DaneVerifier;
pub use tlsa::{CertUsage, Matching, Selector, Tlsa, TlsaError, TlsaRecord, Usability};
pub use verify::{
    Authenticated, DaneFailure, DaneInput, DaneOutcome, RecordMatch, Service, match_records, verify,
};
