//! SMTP TLS Reporting, RFC 8460: the `_smtp._tls` TXT record (§3).

pub mod failures;
pub mod record;
pub mod report;

pub use record::{RecordError, ReportUri, TlsRptRecord, discover, lint_record, lint_record_set};

/// The owner name of the TXT record for `domain`: `_smtp._tls.<domain>` (RFC 8460 §3).
pub fn record_name(domain: &crate::domain::HostName) -> String {
    format!("_smtp._tls.{domain}")
}
