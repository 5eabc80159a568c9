//! The closing summary of a bulk run, and `mailsec check summary STORE...`.
//!
//! Both read the same JSON records (a run as it writes them, a store or a JSON Lines file
//! afterwards), so that the summary of a run and of its store are the same numbers. A record is
//! read as a JSON value with a few known fields (`domain`, `summary`, `findings[].code` and
//! `severity`, `mx[].dane`, `sts_policy.mode`, `verdict`, `error`); a field that is missing
//! counts as "no" and is never an error, so records of other mailsec versions still add up.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mailsec_store::{Location, Store};
use serde_json::Value;

use crate::cli::CheckSummaryArgs;
use crate::cmd::net;
use crate::exit::Exit;

/// Counts over records.
#[derive(Debug, Default)]
pub(super) struct Summary {
    domains: u64,
    /// Records of domains that could not be checked, by `error.kind`.
    not_checked: BTreeMap<String, u64>,
    with_errors: u64,
    sts_any: u64,
    sts_enforce: u64,
    sts_testing: u64,
    sts_none: u64,
    tls_rpt: u64,
    dane: u64,
    with_verdict: u64,
    /// Deliveries by mechanism.
    deliver: BTreeMap<String, u64>,
    /// Deferrals by reason.
    defer: BTreeMap<String, u64>,
    findings: HashMap<String, CodeCount>,
}

#[derive(Clone, Copy, Debug, Default)]
struct CodeCount {
    domains: u64,
    findings: u64,
    error: u64,
    warning: u64,
    info: u64,
}

/// What a run adds to the summary's text: how it went.
pub(super) struct RunInfo {
    pub(super) elapsed: Duration,
    /// Records written by this run.
    pub(super) this_run: u64,
    /// Records already in OUT (--resume).
    pub(super) earlier: u64,
    /// Input lines skipped because OUT had them.
    pub(super) skipped_done: u64,
    /// Input lines left to other shards.
    pub(super) other_shards: u64,
}

/// `--summary-json` and `check summary --json`: counts of domains (records), never shares.
#[derive(Debug, serde::Serialize)]
pub(super) struct SummaryJson<'a> {
    /// Records counted.
    domains: u64,
    /// Domains with a report.
    checked: u64,
    /// Domains with an error record instead.
    not_checked: u64,
    /// The same by `error.kind` (`invalid-name`, `deadline`, `internal`).
    not_checked_by_kind: &'a BTreeMap<String, u64>,
    /// Domains with at least one finding of error severity.
    with_errors: u64,
    mta_sts: StsJson,
    /// Domains with a valid TLS-RPT record.
    tls_rpt: u64,
    /// Domains with DANE required on at least one MX host.
    dane: u64,
    verdict: VerdictJson<'a>,
    findings: Vec<FindingJson<'a>>,
}

/// Domains with a valid MTA-STS policy, by mode.
#[derive(Debug, serde::Serialize)]
struct StsJson {
    any: u64,
    enforce: u64,
    testing: u64,
    none: u64,
}

/// A conformant sender's verdicts (records checked with connections carry one).
#[derive(Debug, serde::Serialize)]
struct VerdictJson<'a> {
    domains: u64,
    deliver: u64,
    defer: u64,
    deliver_by_mechanism: &'a BTreeMap<String, u64>,
    defer_by_reason: &'a BTreeMap<String, u64>,
}

/// One check ID: domains with it, findings, and findings per severity.
#[derive(Debug, serde::Serialize)]
struct FindingJson<'a> {
    code: &'a str,
    domains: u64,
    findings: u64,
    error: u64,
    warning: u64,
    info: u64,
}

impl Summary {
    /// Counts one record.
    pub(super) fn add(&mut self, record: &Value) {
        self.domains += 1;
        if let Some(error) = record.get("error").filter(|e| !e.is_null()) {
            let kind = error.get("kind").and_then(Value::as_str).unwrap_or("error");
            *self.not_checked.entry(kind.to_owned()).or_default() += 1;
            return;
        }
        let summary = record.get("summary");
        let word = |field: &str| {
            summary
                .and_then(|s| s.get(field))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        if summary
            .and_then(|s| s.get("errors"))
            .and_then(Value::as_u64)
            .is_some_and(|n| n > 0)
        {
            self.with_errors += 1;
        }
        // MTA-STS: a valid policy, in any mode. The policy's own mode first; the summary word
        // for records that carry no policy object.
        let mode = record
            .get("sts_policy")
            .and_then(|p| p.get("mode"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| word("mta_sts"));
        match mode {
            "enforce" => self.sts_enforce += 1,
            "testing" => self.sts_testing += 1,
            "none" => self.sts_none += 1,
            _ => {}
        }
        if matches!(mode, "enforce" | "testing" | "none") {
            self.sts_any += 1;
        }
        if word("tls_rpt") == "yes" {
            self.tls_rpt += 1;
        }
        // DANE: secure, usable TLSA records on at least one MX host.
        let dane_host = record
            .get("mx")
            .and_then(Value::as_array)
            .is_some_and(|mx| {
                mx.iter()
                    .any(|m| m.get("dane").and_then(Value::as_str) == Some("required"))
            });
        if dane_host || word("dane").starts_with("required") {
            self.dane += 1;
        }
        if let Some(verdict) = record.get("verdict").filter(|v| v.is_object()) {
            self.with_verdict += 1;
            let field = |f: &str| {
                verdict
                    .get(f)
                    .and_then(Value::as_str)
                    .unwrap_or("unspecified")
            };
            let (map, key) = match verdict.get("outcome").and_then(Value::as_str) {
                Some("deliver") => (&mut self.deliver, field("mechanism")),
                _ => (&mut self.defer, field("reason")),
            };
            *map.entry(key.to_owned()).or_default() += 1;
        }
        let mut seen: Vec<&str> = Vec::new();
        for f in record
            .get("findings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(code) = f.get("code").and_then(Value::as_str) else {
                continue;
            };
            let count = self.findings.entry(code.to_owned()).or_default();
            count.findings += 1;
            match f.get("severity").and_then(Value::as_str) {
                Some("error") => count.error += 1,
                Some("warning") => count.warning += 1,
                _ => count.info += 1,
            }
            if !seen.contains(&code) {
                seen.push(code);
                count.domains += 1;
            }
        }
    }

    /// Records counted.
    pub(super) fn domains(&self) -> u64 {
        self.domains
    }

    /// Records of domains that could not be checked.
    pub(super) fn failed(&self) -> u64 {
        self.not_checked.values().sum()
    }

    fn checked(&self) -> u64 {
        self.domains - self.failed()
    }

    /// 0 when every domain was checked and none has an error finding; 1 otherwise.
    pub(super) fn exit(&self) -> Exit {
        Exit::from_errors(self.with_errors > 0 || self.failed() > 0)
    }

    /// Findings by ID: most domains first, then in catalogue order.
    fn findings_sorted(&self) -> Vec<(&str, CodeCount)> {
        let mut v: Vec<(&str, CodeCount)> = self
            .findings
            .iter()
            .map(|(code, c)| (code.as_str(), *c))
            .collect();
        v.sort_by(|a, b| {
            b.1.domains
                .cmp(&a.1.domains)
                .then_with(|| code_order(a.0).cmp(&code_order(b.0)))
        });
        v
    }

    /// The summary as one JSON object.
    pub(super) fn to_json(&self) -> SummaryJson<'_> {
        SummaryJson {
            domains: self.domains,
            checked: self.checked(),
            not_checked: self.failed(),
            not_checked_by_kind: &self.not_checked,
            with_errors: self.with_errors,
            mta_sts: StsJson {
                any: self.sts_any,
                enforce: self.sts_enforce,
                testing: self.sts_testing,
                none: self.sts_none,
            },
            tls_rpt: self.tls_rpt,
            dane: self.dane,
            verdict: VerdictJson {
                domains: self.with_verdict,
                deliver: self.deliver.values().sum(),
                defer: self.defer.values().sum(),
                deliver_by_mechanism: &self.deliver,
                defer_by_reason: &self.defer,
            },
            findings: self
                .findings_sorted()
                .into_iter()
                .map(|(code, c)| FindingJson {
                    code,
                    domains: c.domains,
                    findings: c.findings,
                    error: c.error,
                    warning: c.warning,
                    info: c.info,
                })
                .collect(),
        }
    }

    /// The summary for people; `run` adds how the run went.
    pub(super) fn write_text(&self, out: &mut dyn Write, run: Option<&RunInfo>) -> io::Result<()> {
        let checked = self.checked();
        let share = |n: u64| {
            if checked == 0 {
                String::new()
            } else {
                format!("{:5.1}%", n as f64 * 100.0 / checked as f64)
            }
        };
        let failed = self.failed();
        let kinds = self
            .not_checked
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        write!(
            out,
            "summary: {} domain{}, {checked} checked",
            self.domains,
            plural(self.domains)
        )?;
        if failed > 0 {
            write!(out, ", {failed} not checked ({kinds})")?;
        }
        writeln!(out)?;
        if let Some(run) = run {
            let secs = run.elapsed.as_secs_f64();
            let rate = if secs > 0.0 {
                run.this_run as f64 / secs
            } else {
                0.0
            };
            write!(
                out,
                "  {:<9}{:>9} in {secs:.1} s ({rate:.1} per second)",
                "this run", run.this_run
            )?;
            if run.earlier > 0 || run.skipped_done > 0 {
                write!(
                    out,
                    "; {} from earlier runs ({} input lines skipped)",
                    run.earlier, run.skipped_done
                )?;
            }
            if run.other_shards > 0 {
                write!(out, "; {} left to other shards", run.other_shards)?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "  {:<9}{:>9} {}  enforce {} ({}), testing {}, none {}",
            "MTA-STS",
            self.sts_any,
            share(self.sts_any),
            self.sts_enforce,
            share(self.sts_enforce).trim(),
            self.sts_testing,
            self.sts_none
        )?;
        writeln!(
            out,
            "  {:<9}{:>9} {}",
            "TLS-RPT",
            self.tls_rpt,
            share(self.tls_rpt)
        )?;
        writeln!(
            out,
            "  {:<9}{:>9} {}  required on at least one MX host",
            "DANE",
            self.dane,
            share(self.dane)
        )?;
        writeln!(
            out,
            "  {:<9}{:>9} {}  domains with at least one error finding",
            "errors",
            self.with_errors,
            share(self.with_errors)
        )?;
        if self.with_verdict > 0 {
            let list = |m: &BTreeMap<String, u64>| {
                m.iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            writeln!(
                out,
                "  verdict   deliver {} ({}); defer {} ({})",
                self.deliver.values().sum::<u64>(),
                list(&self.deliver),
                self.defer.values().sum::<u64>(),
                list(&self.defer)
            )?;
        }
        let findings = self.findings_sorted();
        if !findings.is_empty() {
            writeln!(
                out,
                "  {:<9}{:>9} {:>9}  (error, warning, info)",
                "by ID", "domains", "findings"
            )?;
            for (code, c) in findings {
                writeln!(
                    out,
                    "    {code:<7}{:>9} {:>9}  ({}, {}, {})",
                    c.domains, c.findings, c.error, c.warning, c.info
                )?;
            }
        }
        Ok(())
    }
}

/// `mailsec check summary STORE...`.
pub(super) fn command(args: &CheckSummaryArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut summary = Summary::default();
    let mut runtime = None;
    for source in &args.stores {
        if source.starts_with("sqlite:") || source.contains("://") {
            let location = Location::parse(source)?;
            let rt = match &mut runtime {
                Some(rt) => rt,
                None => runtime.insert(net::runtime()?),
            };
            rt.block_on(read_store(&location, &mut summary))
                .with_context(|| format!("store {location}"))?;
        } else {
            read_json_lines(Path::new(source), &mut summary)?;
        }
    }
    if args.json {
        crate::output::json(out, &summary.to_json())?;
    } else {
        summary.write_text(out, None)?;
    }
    Ok(summary.exit())
}

async fn read_store(location: &Location, summary: &mut Summary) -> anyhow::Result<()> {
    let mut store = Store::open(location).await?;
    let mut bad = None;
    store
        .for_each_latest(|record| match serde_json::from_str::<Value>(record) {
            Ok(value) => summary.add(&value),
            Err(e) => {
                bad.get_or_insert(e);
            }
        })
        .await?;
    if let Some(e) = bad {
        bail!("a stored record is not JSON: {e}");
    }
    Ok(())
}

/// A JSON Lines file of records; a last line without its newline (a killed run) is left out
/// with a note.
fn read_json_lines(path: &Path, summary: &mut Summary) -> anyhow::Result<()> {
    let name = path.display();
    let mut file = File::open(path).with_context(|| format!("cannot read {name}"))?;
    let mut magic = [0u8; 16];
    let n = file
        .read(&mut magic)
        .with_context(|| format!("cannot read {name}"))?;
    if magic[..n] == SQLITE_MAGIC[..n.min(SQLITE_MAGIC.len())] && n == SQLITE_MAGIC.len() {
        bail!("{name} is a SQLite database: name it sqlite:{name}");
    }
    let mut reader = BufReader::new(io::Cursor::new(magic[..n].to_vec()).chain(file));
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {name}"))?
            == 0
        {
            break;
        }
        if line.last() != Some(&b'\n') {
            let _ = writeln!(
                io::stderr(),
                "mailsec: note: {name}: the last line is unfinished (a run stopped while writing it) and is left out"
            );
            break;
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = serde_json::from_slice(&line)
            .ok()
            .filter(Value::is_object)
            .with_context(|| format!("{name}:{number}: not a mailsec check record"))?;
        // A summary written into the same stream (--summary-json -) is not a domain.
        if value.get("domain").is_none() && value.get("input").is_none() {
            continue;
        }
        summary.add(&value);
    }
    Ok(())
}

/// `M1` < `M2` < `M10` < `N1`: letter, then number.
fn code_order(code: &str) -> (String, u32, String) {
    let letters: String = code
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let rest = &code[letters.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (
        letters,
        digits.parse().unwrap_or(u32::MAX),
        rest[digits.len()..].to_owned(),
    )
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts() {
        let mut s = Summary::default();
        for record in [
            json!({"domain": "a.test", "summary": {"mta_sts": "enforce", "tls_rpt": "yes", "dane": "required on 1 of 1 MX hosts", "errors": 0},
                   "sts_policy": {"mode": "enforce"}, "mx": [{"dane": "required"}],
                   "verdict": {"outcome": "deliver", "mechanism": "dane", "reason": null},
                   "findings": [{"code": "X1", "severity": "info"}]}),
            json!({"domain": "b.test", "summary": {"mta_sts": "testing", "tls_rpt": "no", "dane": "not deployed", "errors": 2},
                   "findings": [{"code": "P13", "severity": "error"}, {"code": "P13", "severity": "warning"}, {"code": "M10", "severity": "error"}]}),
            json!({"domain": "c.test", "summary": {"mta_sts": "broken (sts-policy-fetch-error)", "tls_rpt": "invalid", "dane": "broken on 1 of 1 MX hosts", "errors": 1},
                   "verdict": {"outcome": "defer", "mechanism": null, "reason": "tlsa-invalid"},
                   "findings": [{"code": "M2", "severity": "error"}]}),
            json!({"domain": null, "input": "not a name", "error": {"kind": "invalid-name", "message": "..."}}),
            json!({"domain": "slow.test", "input": "slow.test", "error": {"kind": "deadline", "message": "..."}}),
        ] {
            s.add(&record);
        }
        let v = serde_json::to_value(s.to_json()).unwrap();
        assert_eq!(v["domains"], 5);
        assert_eq!(v["checked"], 3);
        assert_eq!(v["not_checked"], 2);
        assert_eq!(
            v["not_checked_by_kind"],
            json!({"deadline": 1, "invalid-name": 1})
        );
        assert_eq!(v["with_errors"], 2);
        assert_eq!(
            v["mta_sts"],
            json!({"any": 2, "enforce": 1, "testing": 1, "none": 0})
        );
        assert_eq!(v["tls_rpt"], 1);
        assert_eq!(v["dane"], 1);
        assert_eq!(v["verdict"]["deliver_by_mechanism"], json!({"dane": 1}));
        assert_eq!(v["verdict"]["defer_by_reason"], json!({"tlsa-invalid": 1}));
        let codes: Vec<(&str, u64, u64)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["code"].as_str().unwrap(),
                    f["domains"].as_u64().unwrap(),
                    f["findings"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [("M2", 1, 1), ("M10", 1, 1), ("P13", 1, 2), ("X1", 1, 1)]
        );
        assert_eq!(s.exit(), Exit::Findings);
        let mut text = Vec::new();
        s.write_text(&mut text, None).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            text,
            "\
summary: 5 domains, 3 checked, 2 not checked (1 deadline, 1 invalid-name)
  MTA-STS          2  66.7%  enforce 1 (33.3%), testing 1, none 0
  TLS-RPT          1  33.3%
  DANE             1  33.3%  required on at least one MX host
  errors           2  66.7%  domains with at least one error finding
  verdict   deliver 1 (dane 1); defer 1 (tlsa-invalid 1)
  by ID      domains  findings  (error, warning, info)
    M2             1         1  (1, 0, 0)
    M10            1         1  (1, 0, 0)
    P13            1         2  (1, 1, 0)
    X1             1         1  (0, 0, 1)
"
        );
    }

    #[test]
    fn a_clean_run_exits_0() {
        let mut s = Summary::default();
        s.add(&json!({"domain": "a.test", "summary": {"errors": 0}}));
        assert_eq!(s.exit(), Exit::Ok);
        assert_eq!(Summary::default().exit(), Exit::Ok);
    }
}
