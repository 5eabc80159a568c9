//! Reading RFC 8460 reports as real senders send them (§4; ../shared/research/tlsrpt.md §5),
//! into one normal form: the RFC's key names; `policies[].policy["mx-host"]` always an array;
//! `policy-string` always an array of strings (Microsoft's TLSA policy string, a JSON array
//! inside one string, unwrapped); counts as integers (some reporters send strings); every other
//! key and every unknown value (result types, policy types) kept verbatim. Pure: bytes in, JSON
//! out. The first consumer is `mailsec sts plan --reports` (through [`super::failures`]).

use serde_json::{Map, Value};

/// Why bytes are not a report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// JSON without what every report has.
    #[error("not an RFC 8460 report: no {0}")]
    Missing(&'static str),
}

/// A count as an integer: a number, or a string of digits; anything else is refused by the
/// caller's default (0).
fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `mx-host` as an array of strings (RFC 8460 §4.4 says an array; Appendix B and some senders
/// write one string).
fn string_array(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::Array(vec![Value::String(s.clone())]),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| match i {
                    Value::String(_) => i.clone(),
                    other => Value::String(other.to_string()),
                })
                .collect(),
        ),
        Value::Null => Value::Array(Vec::new()),
        other => Value::Array(vec![Value::String(other.to_string())]),
    }
}

/// `policy-string` as an array of strings; a single string that is itself a JSON array of
/// strings (Microsoft's TLSA reports) is unwrapped.
fn policy_strings(v: &Value) -> Value {
    let arr = string_array(v);
    if let Value::Array(items) = &arr
        && let [Value::String(only)] = items.as_slice()
        && only.trim_start().starts_with('[')
        && let Ok(Value::Array(inner)) = serde_json::from_str::<Value>(only)
        // Unwrapped once only, and not into strings that look nested again, so that the normal
        // form normalises to itself.
        && inner
            .iter()
            .all(|i| i.as_str().is_some_and(|s| !s.trim_start().starts_with('[')))
    {
        return Value::Array(inner);
    }
    arr
}

fn normalise_counts(obj: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = obj.get_mut(*k)
            && let Some(n) = count(v)
        {
            *v = Value::from(n);
        }
    }
}

/// The normal form of one report.
pub fn normalise(bytes: &[u8]) -> Result<Value, ReportError> {
    let mut v: Value =
        serde_json::from_slice(bytes).map_err(|e| ReportError::Json(e.to_string()))?;
    let top = v
        .as_object_mut()
        .ok_or(ReportError::Missing("top-level object"))?;
    let end = top
        .get("date-range")
        .and_then(|d| d.get("end-datetime"))
        .and_then(Value::as_str);
    if end.is_none() {
        return Err(ReportError::Missing("date-range.end-datetime"));
    }
    let policies = top
        .get_mut("policies")
        .and_then(Value::as_array_mut)
        .ok_or(ReportError::Missing("policies"))?;
    for p in policies.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(policy) = p.get_mut("policy").and_then(Value::as_object_mut) {
            let mx = policy
                .get("mx-host")
                .map_or(Value::Array(Vec::new()), string_array);
            policy.insert("mx-host".to_owned(), mx);
            let strings = policy
                .get("policy-string")
                .map_or(Value::Array(Vec::new()), policy_strings);
            policy.insert("policy-string".to_owned(), strings);
        }
        if let Some(summary) = p.get_mut("summary").and_then(Value::as_object_mut) {
            normalise_counts(
                summary,
                &[
                    "total-successful-session-count",
                    "total-failure-session-count",
                ],
            );
        }
        if let Some(details) = p.get_mut("failure-details").and_then(Value::as_array_mut) {
            for d in details.iter_mut().filter_map(Value::as_object_mut) {
                normalise_counts(d, &["failed-session-count"]);
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_real_senders_send() {
        // Microsoft: no mx-host, a TLSA policy string holding a JSON array; counts as strings;
        // an unknown result type and an extra key kept.
        let ms = r#"{"organization-name":"Microsoft Corporation","date-range":{"start-datetime":"2026-11-01T00:00:00Z","end-datetime":"2026-11-01T23:59:59Z"},"report-id":"1+example.com","x-extra":1,
          "policies":[{"policy":{"policy-type":"tlsa","policy-string":["[\"2 1 1 AB\",\"3 1 1 CD\"]"],"policy-domain":"example.com"},
            "summary":{"total-successful-session-count":"12","total-failure-session-count":"2"},
            "failure-details":[{"result-type":"quantum-failure","failed-session-count":"2","receiving-mx-hostname":"mx.example.com"}]}]}"#;
        let v = normalise(ms.as_bytes()).unwrap();
        let p = &v["policies"][0];
        assert_eq!(p["policy"]["mx-host"], serde_json::json!([]));
        assert_eq!(
            p["policy"]["policy-string"],
            serde_json::json!(["2 1 1 AB", "3 1 1 CD"])
        );
        assert_eq!(p["summary"]["total-successful-session-count"], 12);
        assert_eq!(p["failure-details"][0]["failed-session-count"], 2);
        assert_eq!(p["failure-details"][0]["result-type"], "quantum-failure");
        assert_eq!(v["x-extra"], 1);
        // RFC 8460 Appendix B: mx-host as one string; Google: an array. Both become arrays.
        for mx in [r#""*.mail.example""#, r#"["*.mail.example"]"#] {
            let r = format!(
                r#"{{"date-range":{{"end-datetime":"2026-11-01T23:59:59Z"}},"policies":[{{"policy":{{"policy-type":"sts","mx-host":{mx},"policy-string":["version: STSv1"]}}}}]}}"#
            );
            let v = normalise(r.as_bytes()).unwrap();
            assert_eq!(
                v["policies"][0]["policy"]["mx-host"],
                serde_json::json!(["*.mail.example"])
            );
            assert_eq!(
                v["policies"][0]["policy"]["policy-string"],
                serde_json::json!(["version: STSv1"])
            );
        }
        // Mail.ru: no policy-string at all.
        let r = r#"{"date-range":{"end-datetime":"2026-11-02T00:00:00Z"},"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com"}}]}"#;
        assert_eq!(
            normalise(r.as_bytes()).unwrap()["policies"][0]["policy"]["policy-string"],
            serde_json::json!([])
        );
    }

    #[test]
    fn the_normal_form_is_a_fixed_point() {
        // A policy string holding a JSON array whose one string holds another.
        let nested = serde_json::json!([
            serde_json::json!([serde_json::json!(["x"]).to_string()]).to_string()
        ]);
        let first = serde_json::json!({"date-range": {"end-datetime": "e"}, "policies": [{"policy": {"policy-string": nested}}]}).to_string();
        for r in [
            first.as_str(),
            r#"{"date-range":{"end-datetime":"e"},"policies":[{"policy":{"mx-host":[1,null]},"summary":{"total-failure-session-count":"-1"}}]}"#,
        ] {
            let v = normalise(r.as_bytes()).unwrap();
            assert_eq!(normalise(v.to_string().as_bytes()).unwrap(), v, "{r}");
        }
    }

    #[test]
    fn not_reports() {
        assert!(matches!(normalise(b"nope"), Err(ReportError::Json(_))));
        assert_eq!(
            normalise(b"[]"),
            Err(ReportError::Missing("top-level object"))
        );
        assert_eq!(
            normalise(br#"{"policies":[]}"#),
            Err(ReportError::Missing("date-range.end-datetime"))
        );
        assert_eq!(
            normalise(br#"{"date-range":{"end-datetime":"x"}}"#),
            Err(ReportError::Missing("policies"))
        );
    }
}
