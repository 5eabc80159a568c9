//! What connecting to every MX address showed, as findings: refusals with their reasons,
//! unreachable addresses, cleartext-only servers, and the TLSA RRset against the served chains.

use mailsec_core::{Check, Diagnostic, Severity};

use super::Findings;
use crate::dane;

/// Findings from the connections: each address a DANE sender refuses or cannot reach, STARTTLS
/// missing where TLS is opportunistic, and the TLSA RRset against the presented chains (the
/// RRset's own findings are reported from DNS already).
pub(crate) fn findings(report: &dane::DaneReport, f: &mut Findings) {
    use mailsec_core::dane::{AddressVerdict, HostPolicy};
    for h in &report.hosts {
        let mut push = |d: Diagnostic| f.push(&h.host, d);
        for a in &h.results {
            let at = a.probe.dialled();
            match &a.verdict {
                AddressVerdict::Refuse { reason } => {
                    let check = match *reason {
                        "starttls-not-supported" => Check::T1,
                        "certificate-host-mismatch" => Check::D8,
                        "certificate-expired" | "certificate-not-trusted" => Check::D10,
                        "dnssec-invalid" => continue, // reported from DNS
                        _ => Check::D7,
                    };
                    let detail = match &a.dane {
                        Some(mailsec_core::dane::DaneOutcome::Failed(f)) => format!(": {f}"),
                        _ => a
                            .probe
                            .error
                            .as_ref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default(),
                    };
                    push(Diagnostic::new(
                        check,
                        Severity::Error,
                        format!("{at}: DANE senders refuse this server ({reason}){detail}"),
                    ));
                }
                AddressVerdict::Unreachable => push(Diagnostic::new(
                    Check::D20,
                    Severity::Warning,
                    format!(
                        "{at}: no SMTP session{}",
                        a.probe
                            .error
                            .as_ref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    ),
                )),
                AddressVerdict::Deliver { .. } => {
                    if h.policy == HostPolicy::Opportunistic
                        && a.probe.starttls_offered == Some(false)
                    {
                        push(Diagnostic::new(
                            Check::T1,
                            Severity::Warning,
                            format!("{at}: no STARTTLS: mail to this server travels in cleartext"),
                        ));
                    }
                }
            }
        }
        for d in &h.findings {
            if !matches!(d.check, Check::D5 | Check::D6 | Check::D13) {
                push(d.clone());
            }
        }
    }
}
