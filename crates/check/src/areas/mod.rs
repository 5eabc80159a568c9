//! One module per area of the check (MX and DNSSEC, MTA-STS, TLS-RPT, connections); each takes
//! what it needs and adds its findings. A new check touches one area and the catalogue.

pub(crate) mod caa;
pub(crate) mod connections;
pub(crate) mod consistency;
pub(crate) mod mta_sts;
pub(crate) mod mx;
pub(crate) mod tlsrpt;

use mailsec_core::Diagnostic;

use crate::{Area, Finding};

/// The findings of one domain, each with its subject, in the order the areas add them.
#[derive(Default)]
pub(crate) struct Findings(pub(crate) Vec<Finding>, pub(crate) Area);

impl Findings {
    /// Sets the area the next findings belong to.
    pub(crate) fn area(&mut self, area: Area) {
        self.1 = area;
    }

    /// Adds `d` about `subject` (`mx`, `mta-sts`, `policy`, `tls-rpt`, or an MX host), with the
    /// catalogue's explanation and fix for its check.
    pub(crate) fn push(&mut self, subject: &str, d: Diagnostic) {
        let fix = d.check.fix().to_owned();
        self.push_with_fix(subject, d, fix);
    }

    /// Adds `d` with a fix made for this instance (the exact record or line to publish).
    pub(crate) fn push_with_fix(&mut self, subject: &str, d: Diagnostic, fix: String) {
        self.0.push(Finding {
            area: self.1,
            subject: subject.to_owned(),
            explanation: d.check.explanation(),
            rfc: d.check.rfc(),
            fix,
            diagnostic: d,
        });
    }
}
