//! MTA-STS, RFC 8461: the `_mta-sts` TXT record (§3.1), the policy body (§3.2), MX matching
//! (§4.1) and applying a policy to an MX host (§4.2, §5).

pub mod apply;
pub mod pattern;
pub mod policy;
pub mod record;
pub mod sender;

pub use apply::{PkixFailure, StsConnection, validate_certificate};
pub use pattern::{MxPattern, PatternError};
pub use policy::{MaxAge, Mode, Policy, PolicyError, lint_mx_coverage, lint_policy};
pub use record::{PolicyId, RecordError, StsRecord, discover, lint_record, lint_record_set};

/// The owner name of the TXT record for `domain`: `_mta-sts.<domain>` (RFC 8461 §3.1).
pub fn record_name(domain: &crate::domain::HostName) -> String {
    format!("_mta-sts.{domain}")
}

/// The policy URL for `domain` (RFC 8461 §3.3).
pub fn policy_url(domain: &crate::domain::HostName) -> String {
    format!("https://mta-sts.{domain}/.well-known/mta-sts.txt")
}
