//! The report for people: the sender's verdict first, then one section per area with a one-line
//! verdict for the area and its findings (each with its fix), colour on a terminal.

use std::io::{self, Write};

use mailsec_check::{Area, DaneState, DomainReport, Finding};
use mailsec_core::Severity;

use crate::cmd::dane::{abbreviate, address_line, verdict_words};
use crate::output;

/// ANSI styles, or nothing when colour is off.
#[derive(Clone, Copy)]
pub(crate) struct Style {
    on: bool,
}

impl Style {
    /// Colour when `stdout` is a terminal and `NO_COLOR` is unset (no-color.org).
    pub(crate) fn for_stdout() -> Self {
        use std::io::IsTerminal;
        Self {
            on: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }

    fn severity(self, s: Severity) -> String {
        let (code, word) = match s {
            Severity::Error => ("1;31", "error  "),
            Severity::Warning => ("33", "warning"),
            Severity::Info => ("2", "info   "),
        };
        self.paint(code, word)
    }

    fn outcome(self, text: &str, good: bool) -> String {
        self.paint(if good { "1;32" } else { "1;31" }, text)
    }
}

/// Writes one domain's report; `note` goes under the heading.
pub(crate) fn print_report(
    out: &mut dyn Write,
    r: &DomainReport,
    note: Option<&str>,
    style: Style,
) -> io::Result<()> {
    let name = match &r.domain_unicode {
        Some(u) => format!("{} ({u})", r.domain),
        None => r.domain.clone(),
    };
    let overall = match &r.verdict {
        Some(v) => {
            let words = verdict_words(v);
            let good = words.starts_with("deliver");
            format!("a conformant sender would {}", style.outcome(&words, good))
        }
        None => "not connected (--no-connect): no sender's verdict".to_owned(),
    };
    writeln!(out, "== {}: {overall}", style.bold(&name))?;
    if let Some(note) = note {
        writeln!(out, "   {note}")?;
    }
    for area in Area::ALL {
        let findings: Vec<&Finding> = r.findings.iter().filter(|f| f.area == area).collect();
        let summary = area_summary(r, area);
        if findings.is_empty() && (summary.is_none() || area == Area::Consistency) {
            continue;
        }
        writeln!(
            out,
            "-- {}: {}",
            style.bold(area.title()),
            summary.unwrap_or_else(|| "see below".to_owned())
        )?;
        area_details(out, r, area)?;
        for f in findings {
            let d = &f.diagnostic;
            let line = d.line.map(|l| format!("line {l}: ")).unwrap_or_default();
            writeln!(
                out,
                "   {} [{}] {}: {line}{}",
                style.severity(d.severity),
                d.check,
                f.subject,
                d.message
            )?;
            if d.severity != Severity::Info {
                writeln!(out, "           fix: {}", f.fix)?;
            }
        }
    }
    writeln!(
        out,
        "   => DANE {}; MTA-STS {}; TLS-RPT {}; {} error{}, {} warning{}",
        r.summary.dane,
        r.summary.mta_sts,
        r.summary.tls_rpt,
        r.summary.errors,
        if r.summary.errors == 1 { "" } else { "s" },
        r.summary.warnings,
        if r.summary.warnings == 1 { "" } else { "s" }
    )?;
    writeln!(out)
}

/// The one-line verdict of an area.
fn area_summary(r: &DomainReport, area: Area) -> Option<String> {
    Some(match area {
        Area::MxDnssec => {
            let sec = r
                .mx_security
                .map_or_else(|| "lookup failed".to_owned(), |s| s.to_string());
            match r.mx.len() {
                0 => format!("no MX host ({sec})"),
                n => format!(
                    "MX RRset {sec}, {n} host{}; DANE {}",
                    if n == 1 { "" } else { "s" },
                    r.summary.dane
                ),
            }
        }
        Area::MtaSts => match (&r.sts_record, &r.sts_policy) {
            (Some(rec), Some(p)) => format!(
                "{} (id {}, max_age {}, mx {})",
                p.mode,
                rec.id,
                output::duration(p.max_age.seconds()),
                p.mx.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => r.summary.mta_sts.clone(),
        },
        Area::TlsRpt => match &r.tlsrpt {
            Some(t) => format!(
                "yes ({})",
                t.rua
                    .iter()
                    .map(|u| u.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => r.summary.tls_rpt.clone(),
        },
        Area::Connections => {
            let d = r.dane.as_ref()?;
            format!("a DANE-only sender would {}", verdict_words(&d.verdict))
        }
        Area::Consistency => "DANE and MTA-STS together (RFC 8461 §2)".to_owned(),
    })
}

/// What an area shows besides its findings: the MX hosts with their TLSA records, and each
/// address probed.
fn area_details(out: &mut dyn Write, r: &DomainReport, area: Area) -> io::Result<()> {
    match area {
        Area::MxDnssec => {
            for m in &r.mx {
                let addr = m
                    .address_security
                    .map_or_else(|| "lookup failed".to_owned(), |s| s.to_string());
                let dane = match m.dane {
                    DaneState::Required => {
                        format!(
                            "DANE required: {} usable of {}",
                            m.usable_tlsa,
                            m.tlsa.len()
                        )
                    }
                    DaneState::UnusableRecords => {
                        "TLSA present, none usable: TLS without authentication".to_owned()
                    }
                    DaneState::NotApplicable => "no DANE".to_owned(),
                    DaneState::Failed => "TLSA lookup failed: senders defer".to_owned(),
                };
                writeln!(
                    out,
                    "   {} {}  (address {addr}) {dane}",
                    m.preference, m.host
                )?;
                for t in &m.tlsa {
                    writeln!(out, "     TLSA {}", abbreviate(t))?;
                }
            }
        }
        Area::Connections => {
            for h in r.dane.iter().flat_map(|d| &d.hosts) {
                for a in &h.results {
                    writeln!(out, "   {} {}", h.host, address_line(a))?;
                    if let Some(scan) = &a.tls_scan {
                        writeln!(out, "     TLS scan: {}", scan_line(scan))?;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The TLS scan of one address (T3-T11) in one line: what the server chose for a modern TLS 1.2
/// client, then each answer.
fn scan_line(s: &mailsec_probe::TlsScan) -> String {
    use mailsec_probe::{CipherOrder, EarlyData, Renegotiation};
    let mut parts = Vec::new();
    match (&s.tls12, &s.tls12_refused) {
        (Some(t), _) => {
            let mut chose = format!("{} {}", t.version, t.cipher_suite);
            for extra in [&t.key_exchange, &t.signature].into_iter().flatten() {
                chose.push(' ');
                chose.push_str(extra);
            }
            parts.push(chose);
            let weak: Vec<&str> = s.weak_suites.iter().map(|w| w.suite.as_str()).collect();
            parts.push(match weak.is_empty() {
                true => "no weak suites".to_owned(),
                false => format!("weak suites {}", weak.join(" ")),
            });
            if let Some(order) = s.cipher_order {
                parts.push(
                    match order {
                        CipherOrder::Server => "server's order",
                        CipherOrder::Client => "client's order",
                        CipherOrder::OneSuite => "one suite",
                    }
                    .to_owned(),
                );
            }
            if let Some(bits) = s.dhe_prime_bits {
                parts.push(format!("DHE {bits} bits"));
            }
            if let Some(curve) = &s.weak_curve {
                parts.push(format!("takes {curve}"));
            }
            if let Some(sig) = &s.weak_signature {
                parts.push(format!("signs with {sig}"));
            }
            parts.push(format!(
                "compression {}, secure renegotiation {}, extended master secret {}",
                if t.compression { "on" } else { "off" },
                if t.secure_renegotiation { "yes" } else { "no" },
                if t.extended_master_secret {
                    "yes"
                } else {
                    "no"
                },
            ));
        }
        (None, Some(how)) => parts.push(format!("no TLS 1.2 or older ({how})")),
        (None, None) => {}
    }
    parts.push(match &s.client_renegotiation {
        Renegotiation::Accepted => "client renegotiation accepted".to_owned(),
        Renegotiation::Refused { how } => format!("client renegotiation refused ({how})"),
        Renegotiation::NotApplicable => "no renegotiation (TLS 1.3 only)".to_owned(),
        Renegotiation::Unknown { why } => format!("client renegotiation not tested ({why})"),
    });
    parts.push(match &s.early_data {
        EarlyData::Accepted => "0-RTT accepted".to_owned(),
        EarlyData::Rejected => "0-RTT rejected".to_owned(),
        EarlyData::NotOffered => "no 0-RTT".to_owned(),
        EarlyData::NotApplicable => "no TLS 1.3".to_owned(),
        EarlyData::Unknown { why } => format!("0-RTT not tested ({why})"),
    });
    format!(
        "{} ({} handshakes, {} ms)",
        parts.join("; "),
        s.handshakes,
        s.elapsed.as_millis()
    )
}
