//! T16: CAA (RFC 8659) for the names whose certificates senders judge: the MX hosts and the
//! MTA-STS policy host. Information only: CAA restricts which CA may issue, and no sender reads
//! it.

use std::collections::BTreeMap;

use mailsec_core::{Check, Diagnostic, Severity};
use mailsec_dns::{CaaRecord, Resolver, Response};

use super::Findings;

/// The relevant CAA RRset of a name (RFC 8659 §3): the first non-empty CAA RRset found at the
/// name or, climbing one label at a time, at its ancestors, the root excluded.
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub(crate) enum Relevant {
    /// Found at this owner.
    At(String, Vec<String>),
    /// No ancestor has one: any CA may issue.
    None,
    /// A lookup failed on the way up: unknown.
    Unknown(String),
}

/// The ancestors of `name` to ask, the name first, the root excluded (RFC 8659 §3).
pub(crate) fn climb(name: &str) -> Vec<&str> {
    let name = name.trim_end_matches('.');
    let mut out = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        out.push(rest);
        rest = rest.split_once('.').map_or("", |(_, parent)| parent);
    }
    out
}

async fn relevant(r: &Resolver, name: &str) -> Relevant {
    for owner in climb(name) {
        match r.caa(owner).await {
            Ok(Response::Records(a)) if !a.records.is_empty() => {
                let mut set: Vec<String> = a.records.iter().map(CaaRecord::to_string).collect();
                set.sort();
                return Relevant::At(owner.to_owned(), set);
            }
            Ok(_) => {}
            Err(e) => return Relevant::Unknown(format!("CAA lookup at {owner}: {e}")),
        }
    }
    Relevant::None
}

/// Adds one T16 finding per relevant RRset, naming the hosts it governs.
pub(crate) async fn check(r: &Resolver, names: &[String], f: &mut Findings) {
    let sets = futures_util::future::join_all(names.iter().map(|n| relevant(r, n))).await;
    let mut by_set: BTreeMap<Relevant, Vec<&str>> = BTreeMap::new();
    for (n, set) in names.iter().zip(sets) {
        by_set.entry(set).or_default().push(n.as_str());
    }
    for (set, hosts) in by_set {
        let hosts = hosts.join(", ");
        let message = match set {
            Relevant::At(owner, records) => format!(
                "CAA for {hosts}, published at {owner}: {}",
                records.join("; ")
            ),
            Relevant::None => format!(
                "no CAA records for {hosts} or its parent domains: any public CA may issue certificates for these names"
            ),
            Relevant::Unknown(why) => format!("CAA for {hosts} unknown: {why}"),
        };
        f.push("caa", Diagnostic::new(Check::T16, Severity::Info, message));
    }
}

#[cfg(test)]
mod tests {
    use super::climb;

    #[test]
    fn climbing_stops_before_the_root() {
        assert_eq!(
            climb("mx.mail.example.com."),
            [
                "mx.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        assert_eq!(climb("com"), ["com"]);
        assert!(climb("").is_empty());
        assert!(climb(".").is_empty());
    }
}
