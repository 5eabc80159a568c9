//! The access log's line, and `mailsec serve stats` over a log: which senders fetched which
//! policy, when and how often, and which domains nobody fetched. Pure: lines in, a summary out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{HOST_LABEL, POLICY_PATH};

/// One request, one JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLine {
    /// When the response was sent, RFC 3339 UTC.
    pub time: String,
    /// The client's address and port.
    pub client: String,
    /// The TLS server name the client sent; absent on plain HTTP or without SNI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The Host header (HTTP/1.1) or `:authority` (HTTP/2), lower case, without port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status sent.
    pub status: u16,
    /// The User-Agent header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `HTTP/1.1`, `HTTP/2`, with `http:` for the plain listener.
    pub proto: String,
    /// Body bytes sent.
    pub bytes: u64,
}

impl AccessLine {
    /// The policy domain a successful policy fetch was for.
    pub fn fetched_domain(&self) -> Option<&str> {
        if self.status != 200 || self.path != POLICY_PATH {
            return None;
        }
        self.host
            .as_deref()
            .or(self.sni.as_deref())
            .and_then(|h| h.strip_prefix(HOST_LABEL))
    }

    /// The client's address without its port.
    pub fn address(&self) -> &str {
        match self.client.rsplit_once(':') {
            Some((a, p)) if p.bytes().all(|b| b.is_ascii_digit()) => {
                a.trim_start_matches('[').trim_end_matches(']')
            }
            _ => &self.client,
        }
    }
}

/// The fetches of one policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DomainStats {
    /// Successful fetches.
    pub fetches: u64,
    /// The first and the last, as logged.
    pub first: String,
    /// The last.
    pub last: String,
    /// Fetches by user agent (`-` for none).
    pub user_agents: BTreeMap<String, u64>,
    /// Fetches by client address.
    pub addresses: BTreeMap<String, u64>,
}

/// What a log says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Lines read.
    pub lines: u64,
    /// Lines that were not access-log lines (skipped).
    pub skipped: u64,
    /// Requests answered other than 200 (wrong host, path, plain HTTP).
    pub other_requests: u64,
    /// Fetches per policy domain.
    pub domains: BTreeMap<String, DomainStats>,
    /// Fetches by user agent, all domains.
    pub user_agents: BTreeMap<String, u64>,
    /// Domains served (given) that nobody fetched.
    pub not_fetched: Vec<String>,
}

impl Stats {
    /// Adds one line of a log.
    pub fn add_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        self.lines += 1;
        match serde_json::from_str::<AccessLine>(line) {
            Ok(l) => self.add(&l),
            Err(_) => self.skipped += 1,
        }
    }

    /// Adds one request.
    pub fn add(&mut self, l: &AccessLine) {
        let Some(domain) = l.fetched_domain() else {
            self.other_requests += 1;
            return;
        };
        let agent = l
            .user_agent
            .as_deref()
            .map_or_else(|| "-".to_owned(), |a| a.chars().take(120).collect());
        let d = self.domains.entry(domain.to_owned()).or_default();
        d.fetches += 1;
        if d.first.is_empty() || l.time < d.first {
            d.first.clone_from(&l.time);
        }
        if l.time > d.last {
            d.last.clone_from(&l.time);
        }
        *d.user_agents.entry(agent.clone()).or_default() += 1;
        *d.addresses.entry(l.address().to_owned()).or_default() += 1;
        *self.user_agents.entry(agent).or_default() += 1;
    }

    /// Names, among `served`, the domains no line fetched.
    pub fn finish<'a>(&mut self, served: impl IntoIterator<Item = &'a str>) {
        let seen: BTreeSet<&str> = self.domains.keys().map(String::as_str).collect();
        let mut missing: Vec<String> = served
            .into_iter()
            .filter(|d| !seen.contains(d))
            .map(str::to_owned)
            .collect();
        missing.sort();
        missing.dedup();
        self.not_fetched = missing;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        time: &str,
        client: &str,
        host: &str,
        path: &str,
        status: u16,
        ua: Option<&str>,
    ) -> String {
        serde_json::to_string(&AccessLine {
            time: time.to_owned(),
            client: client.to_owned(),
            sni: Some(host.to_owned()),
            host: Some(host.to_owned()),
            method: "GET".to_owned(),
            path: path.to_owned(),
            status,
            user_agent: ua.map(str::to_owned),
            proto: "HTTP/1.1".to_owned(),
            bytes: 80,
        })
        .unwrap()
    }

    #[test]
    fn fetches_by_domain_agent_and_address() {
        let mut s = Stats::default();
        for l in [
            line(
                "2026-12-05T10:00:00Z",
                "192.0.2.1:4000",
                "mta-sts.a.example",
                POLICY_PATH,
                200,
                Some("Google-SMTP-STS"),
            ),
            line(
                "2026-12-05T09:00:00Z",
                "[2001:db8::1]:4000",
                "mta-sts.a.example",
                POLICY_PATH,
                200,
                Some("Google-SMTP-STS"),
            ),
            line(
                "2026-12-05T11:00:00Z",
                "198.51.100.7:5000",
                "mta-sts.a.example",
                POLICY_PATH,
                200,
                None,
            ),
            line(
                "2026-12-05T11:00:00Z",
                "198.51.100.7:5000",
                "mta-sts.b.example",
                "/",
                404,
                None,
            ),
            "not json".to_owned(),
            String::new(),
        ] {
            s.add_line(&l);
        }
        s.finish(["a.example", "b.example", "c.example"]);
        assert_eq!(s.lines, 5);
        assert_eq!(s.skipped, 1);
        assert_eq!(s.other_requests, 1);
        let a = &s.domains["a.example"];
        assert_eq!(a.fetches, 3);
        assert_eq!(a.first, "2026-12-05T09:00:00Z");
        assert_eq!(a.last, "2026-12-05T11:00:00Z");
        assert_eq!(a.user_agents["Google-SMTP-STS"], 2);
        assert_eq!(a.user_agents["-"], 1);
        assert_eq!(a.addresses["2001:db8::1"], 1);
        assert_eq!(a.addresses["198.51.100.7"], 1);
        assert_eq!(s.not_fetched, ["b.example", "c.example"]);
    }
}
