//! What a set of RFC 8460 reports says about one policy domain's MX hosts: the sessions reported
//! and the failures by receiving MX and result type (§4.4, §4.5). Pure: report JSON in, counts
//! out, over [`super::report::normalise`], which takes what real reporters send.

use serde_json::Value;

/// One report's figures for one policy domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainFigures {
    /// The report's reporting period's end, as written (RFC 3339).
    pub end: String,
    /// The reporter (`organization-name`).
    pub reporter: String,
    /// Successful sessions.
    pub successes: u64,
    /// Failed sessions.
    pub failures: u64,
    /// Failed sessions by receiving MX (empty when not given) and result type.
    pub by_mx: Vec<(String, String, u64)>,
}

pub use super::report::ReportError;

fn count(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The figures of `report` (JSON bytes) for `domain` (compared without case or trailing dot);
/// `None` when the report has no policy of that domain.
pub fn figures_for(report: &[u8], domain: &str) -> Result<Option<DomainFigures>, ReportError> {
    // The normal form: counts are integers whatever the reporter wrote.
    let v = super::report::normalise(report)?;
    let policies = v
        .get("policies")
        .and_then(Value::as_array)
        .ok_or(ReportError::Missing("policies"))?;
    let end = text(v.get("date-range").and_then(|d| d.get("end-datetime")));
    let want = domain.trim_end_matches('.').to_ascii_lowercase();
    let mut out: Option<DomainFigures> = None;
    for p in policies {
        let policy_domain = text(p.get("policy").and_then(|p| p.get("policy-domain")));
        if policy_domain.trim_end_matches('.').to_ascii_lowercase() != want {
            continue;
        }
        let f = out.get_or_insert_with(|| DomainFigures {
            end: end.clone(),
            reporter: text(v.get("organization-name")),
            ..DomainFigures::default()
        });
        let summary = p.get("summary");
        f.successes += count(summary.and_then(|s| s.get("total-successful-session-count")));
        f.failures += count(summary.and_then(|s| s.get("total-failure-session-count")));
        for d in p
            .get("failure-details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            f.by_mx.push((
                text(d.get("receiving-mx-hostname"))
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
                text(d.get("result-type")),
                count(d.get("failed-session-count")),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8460 §4.6's example, with a second domain's policy and a count as a string (seen
    /// from real reporters).
    const REPORT: &str = r#"{
      "organization-name": "Company-X",
      "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
      "contact-info": "sts-reporting@company-x.example",
      "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
      "policies": [{
        "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"], "policy-domain": "company-y.example", "mx-host": "*.mail.company-y.example"},
        "summary": {"total-successful-session-count": 5326, "total-failure-session-count": "303"},
        "failure-details": [
          {"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1", "receiving-mx-hostname": "mx1.mail.company-y.example", "failed-session-count": 100},
          {"result-type": "starttls-not-supported", "sending-mta-ip": "2001:db8:abcd:0013::1", "receiving-mx-hostname": "mx2.mail.company-y.example", "receiving-ip": "203.0.113.56", "failed-session-count": 200, "additional-information": "https://reports.company-x.example/report_info ? id = 5065427c-23d3#StarttlsNotSupported"},
          {"result-type": "validation-failure", "sending-mta-ip": "198.51.100.62", "receiving-ip": "203.0.113.58", "receiving-mx-hostname": "mx3.mail.company-y.example", "failed-session-count": 3, "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"}
        ]
      }, {
        "policy": {"policy-type": "no-policy-found", "policy-domain": "other.example"},
        "summary": {"total-successful-session-count": 9, "total-failure-session-count": 0}
      }]
    }"#;

    #[test]
    fn the_rfc_example() {
        let f = figures_for(REPORT.as_bytes(), "Company-Y.example.")
            .unwrap()
            .unwrap();
        assert_eq!(f.reporter, "Company-X");
        assert_eq!(f.end, "2016-04-01T23:59:59Z");
        assert_eq!((f.successes, f.failures), (5326, 303));
        assert_eq!(f.by_mx.len(), 3);
        assert_eq!(
            f.by_mx[1],
            (
                "mx2.mail.company-y.example".to_owned(),
                "starttls-not-supported".to_owned(),
                200
            )
        );
        let other = figures_for(REPORT.as_bytes(), "other.example")
            .unwrap()
            .unwrap();
        assert_eq!((other.successes, other.failures), (9, 0));
        assert_eq!(
            figures_for(REPORT.as_bytes(), "nobody.example").unwrap(),
            None
        );
    }

    #[test]
    fn not_reports() {
        assert!(matches!(figures_for(b"{", "a"), Err(ReportError::Json(_))));
        assert_eq!(
            figures_for(b"{}", "a"),
            Err(ReportError::Missing("date-range.end-datetime"))
        );
        assert_eq!(
            figures_for(br#"{"date-range": {"end-datetime": "x"}}"#, "a"),
            Err(ReportError::Missing("policies"))
        );
    }
}
