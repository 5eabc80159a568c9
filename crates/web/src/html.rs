//! The check report as one self-contained HTML page: inline CSS, no script, no external
//! resource, readable on a phone.
//!
//! It renders the JSON form of the report (schema `mailsec-check/1`, docs/check-json.md) rather
//! than the Rust types, so that it shows exactly what `--json` says and a stored record (or the
//! error record of a domain that could not be checked) renders the same way. Every value in a
//! report may come from DNS or from a server, so every value goes through [`escape`]; nothing
//! from a report becomes a link, an attribute name, a class or markup.
//!
//! Per domain: the sender's verdict, the summary line, then one section per area (MX and
//! DNSSEC, MTA-STS, TLS-RPT, TLS and DANE per address, consistency), each with a one-line verdict
//! for the area, what was found, and every finding of the area (severity, ID, message,
//! explanation, fix, RFC rule). Text in backquotes, as messages and fixes quote values, is shown
//! as code; a quoted DNS record (`... IN TLSA ...`) as a block that one click selects whole.

use serde_json::Value;

/// What surrounds the reports on a page.
#[derive(Clone, Debug, Default)]
pub struct PageOptions<'a> {
    /// The `<title>` and heading.
    pub title: &'a str,
    /// Show the check form (the web application) with this value in its field.
    pub form: Option<&'a str>,
    /// A note under the heading (e.g. when a result was served from the cache).
    pub note: Option<&'a str>,
}

/// A whole page with `reports` (report objects, or error records `{"domain", "error":
/// {"kind", "message"}}`).
pub fn report_page(reports: &[Value], options: &PageOptions<'_>) -> String {
    let mut body = String::new();
    if let Some(value) = options.form {
        body.push_str(&form(value));
    }
    if let Some(note) = options.note {
        body.push_str(&format!("<p class=\"note\">{}</p>\n", escape(note)));
    }
    if reports.len() > 1 {
        body.push_str(&contents(reports));
    }
    for (i, report) in reports.iter().enumerate() {
        body.push_str(&domain_section(i, report));
    }
    document(options.title, &body)
}

/// The start page of the web application: what it does, and the form.
pub fn form_page() -> String {
    let body = format!(
        "{}<p>Checks what a mail domain publishes for transport security (MX and DNSSEC, \
         MTA-STS, TLS-RPT, DANE TLSA records), connects to every address of every MX host, and \
         says what a conformant sender (RFC 7672 and RFC 8461, DANE first) does with mail to \
         the domain. Each finding comes with why it matters, how to fix it, and the RFC rule.</p>\n\
         <p>The same report as JSON: <code>/api/check?domain=example.com</code>.</p>\n",
        form("")
    );
    document("mailsec: check a mail domain", &body)
}

/// A page for a request that could not be answered with a report: `heading` (e.g. `Invalid
/// domain`), `message` (one sentence), and the form again with `value` in its field.
pub fn error_page(heading: &str, message: &str, value: &str) -> String {
    let body = format!(
        "{}<section class=\"domain\"><h2>{}</h2>\n<p class=\"verdict status-error\">{}</p>\n</section>\n",
        form(value),
        escape(heading),
        rich(message)
    );
    document(&format!("mailsec: {heading}"), &body)
}

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by character references, and control
/// characters other than newline and tab shown as `\u{..}`: safe between tags and inside a
/// quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// What a sender does, in the words of the text report: `deliver (dane)`, `defer
/// (tlsa-invalid)`.
pub fn verdict_words(verdict: &Value) -> String {
    match str_at(verdict, "outcome") {
        Some("deliver") => format!(
            "deliver ({})",
            match str_at(verdict, "mechanism") {
                Some("tls") => "tls, unauthenticated",
                Some(m) => m,
                None => "?",
            }
        ),
        Some("defer") => format!(
            "defer ({})",
            str_at(verdict, "reason").unwrap_or("no usable MX host")
        ),
        Some(other) => other.to_owned(),
        None => "unknown".to_owned(),
    }
}

/// The areas of a report, in the order the checker runs them.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Area {
    Mx,
    MtaSts,
    TlsRpt,
    Tls,
    Consistency,
    Other,
}

impl Area {
    const ALL: [Self; 6] = [
        Self::Mx,
        Self::MtaSts,
        Self::TlsRpt,
        Self::Tls,
        Self::Consistency,
        Self::Other,
    ];

    /// The area of a finding: its `area` field, or for a record without one, the catalogue
    /// letter of its check ID.
    fn of(finding: &Value) -> Self {
        match str_at(finding, "area") {
            Some("mx-dnssec") => return Self::Mx,
            Some("mta-sts") => return Self::MtaSts,
            Some("tls-rpt") => return Self::TlsRpt,
            Some("connections") => return Self::Tls,
            Some("consistency") => return Self::Consistency,
            _ => {}
        }
        match str_at(finding, "code").and_then(|c| c.chars().next()) {
            Some('M' | 'N') => Self::Mx,
            Some('S' | 'H' | 'P') => Self::MtaSts,
            Some('R') => Self::TlsRpt,
            Some('D' | 'T') => Self::Tls,
            Some('X') => Self::Consistency,
            _ => Self::Other,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Mx => "MX and DNSSEC",
            Self::MtaSts => "MTA-STS",
            Self::TlsRpt => "TLS-RPT",
            Self::Tls => "TLS and DANE on the MX hosts",
            Self::Consistency => "Consistency",
            Self::Other => "Other findings",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Self::Mx => "mx",
            Self::MtaSts => "mta-sts",
            Self::TlsRpt => "tls-rpt",
            Self::Tls => "tls",
            Self::Consistency => "consistency",
            Self::Other => "other",
        }
    }
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n{body}</main>\n<footer>mailsec {version} · report schema {schema}</footer>\n\
         </body>\n</html>\n",
        title = escape(title),
        version = env!("CARGO_PKG_VERSION"),
        schema = escape(mailsec_check::SCHEMA),
    )
}

fn form(value: &str) -> String {
    format!(
        "<form class=\"check\" action=\"/check\" method=\"get\">\
         <label for=\"domain\">Mail domain</label>\
         <input id=\"domain\" name=\"domain\" type=\"text\" value=\"{}\" required maxlength=\"253\" \
         placeholder=\"example.com\" autocapitalize=\"off\" autocorrect=\"off\" spellcheck=\"false\" inputmode=\"url\">\
         <button type=\"submit\">Check</button></form>\n",
        escape(value)
    )
}

/// Links to each domain, with its verdict, when a page holds several.
fn contents(reports: &[Value]) -> String {
    let mut s = String::from("<nav class=\"contents\"><ul>\n");
    for (i, r) in reports.iter().enumerate() {
        let verdict = match (r.get("verdict"), r.get("error")) {
            (_, Some(e)) if !e.is_null() => {
                format!("not checked: {}", str_at(e, "message").unwrap_or("error"))
            }
            (Some(v), _) if !v.is_null() => verdict_words(v),
            _ => "not connected".to_owned(),
        };
        s.push_str(&format!(
            "<li><a href=\"#d{i}\">{}</a> {}</li>\n",
            escape(&heading_of(r)),
            escape(&verdict)
        ));
    }
    s.push_str("</ul></nav>\n");
    s
}

/// `xn--bcher-kva.example (bücher.example)`, as the text report names a domain.
fn heading_of(r: &Value) -> String {
    let name = str_at(r, "domain")
        .or_else(|| str_at(r, "input"))
        .unwrap_or("(no name)");
    match str_at(r, "domain_unicode") {
        Some(u) if u != name => format!("{name} ({u})"),
        _ => name.to_owned(),
    }
}

fn domain_section(i: usize, r: &Value) -> String {
    let mut s = format!(
        "<section class=\"domain\" id=\"d{i}\">\n<h2>{}</h2>\n",
        escape(&heading_of(r))
    );
    if let Some(error) = r.get("error").filter(|e| !e.is_null()) {
        if let Some(input) = str_at(r, "input").filter(|i| Some(*i) != str_at(r, "domain")) {
            s.push_str(&format!("<p>Input: <code>{}</code></p>\n", escape(input)));
        }
        s.push_str(&format!(
            "<p class=\"verdict status-error\">Not checked: {}</p>\n</section>\n",
            escape(str_at(error, "message").unwrap_or("error"))
        ));
        return s;
    }
    s.push_str(&overall(r));
    let findings: Vec<&Value> = r
        .get("findings")
        .and_then(Value::as_array)
        .map(|f| f.iter().collect())
        .unwrap_or_default();
    for area in Area::ALL {
        let mut mine: Vec<&Value> = findings
            .iter()
            .copied()
            .filter(|f| Area::of(f) == area)
            .collect();
        if area == Area::Other && mine.is_empty() {
            continue;
        }
        // Worst first; the catalogue order within a severity.
        mine.sort_by_key(|f| std::cmp::Reverse(severity_rank(str_at(f, "severity"))));
        s.push_str(&area_section(i, area, r, &mine));
    }
    s.push_str("</section>\n");
    s
}

/// The sender's verdict and the summary line.
fn overall(r: &Value) -> String {
    let summary = r.get("summary").unwrap_or(&Value::Null);
    let mut s = match r.get("verdict").filter(|v| !v.is_null()) {
        Some(v) => {
            let class = if str_at(v, "outcome") == Some("deliver") {
                "status-ok"
            } else {
                "status-error"
            };
            format!(
                "<p class=\"verdict {class}\">A conformant sender (DANE first, then MTA-STS) would \
                 <strong class=\"outcome\">{}</strong></p>\n",
                escape(&verdict_words(v))
            )
        }
        None => "<p class=\"verdict status-unknown\">Checked without connecting to the MX hosts: \
                 no sender's verdict.</p>\n"
            .to_owned(),
    };
    let errors = summary.get("errors").and_then(Value::as_u64).unwrap_or(0);
    let warnings = summary.get("warnings").and_then(Value::as_u64).unwrap_or(0);
    s.push_str(&format!(
        "<p class=\"summary\">DANE {}; MTA-STS {}; TLS-RPT {}; {}, {}</p>\n",
        escape(str_at(summary, "dane").unwrap_or("?")),
        escape(str_at(summary, "mta_sts").unwrap_or("?")),
        escape(str_at(summary, "tls_rpt").unwrap_or("?")),
        plural(errors, "error"),
        plural(warnings, "warning")
    ));
    s
}

fn area_section(i: usize, area: Area, r: &Value, findings: &[&Value]) -> String {
    let worst = findings
        .iter()
        .map(|f| severity_rank(str_at(f, "severity")))
        .max()
        .unwrap_or(0);
    let count = |rank| {
        findings
            .iter()
            .filter(|f| severity_rank(str_at(f, "severity")) == rank)
            .count() as u64
    };
    let (class, word) = match worst {
        2 => ("status-error", plural(count(2), "error")),
        1 => ("status-warning", plural(count(1), "warning")),
        _ => ("status-ok", "ok".to_owned()),
    };
    let mut s = format!(
        "<section class=\"area\" id=\"d{i}-{}\">\n<h3>{}</h3>\n\
         <p class=\"area-verdict {class}\"><span class=\"badge\">{}</span> {}</p>\n",
        area.slug(),
        area.title(),
        escape(&word),
        escape(&area_line(area, r, findings))
    );
    s.push_str(&area_details(area, r));
    if !findings.is_empty() {
        s.push_str("<ul class=\"findings\">\n");
        for f in findings {
            s.push_str(&finding(f));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</section>\n");
    s
}

/// The one-line verdict of an area, in the words of the text report.
fn area_line(area: Area, r: &Value, findings: &[&Value]) -> String {
    let summary = r.get("summary").unwrap_or(&Value::Null);
    match area {
        Area::Mx => {
            let sec = str_at(r, "mx_security").unwrap_or("lookup failed");
            match array_at(r, "mx").len() {
                0 => format!("no MX host ({sec})"),
                n => format!(
                    "MX RRset {sec}, {}; DANE {}",
                    plural(n as u64, "host"),
                    str_at(summary, "dane").unwrap_or("?")
                ),
            }
        }
        Area::MtaSts => match (
            r.get("sts_record").filter(|x| !x.is_null()),
            r.get("sts_policy").filter(|x| !x.is_null()),
        ) {
            (Some(rec), Some(p)) => {
                let mx: Vec<&str> = array_at(p, "mx").iter().filter_map(Value::as_str).collect();
                format!(
                    "{} (id {}, max_age {}, mx {})",
                    str_at(p, "mode").unwrap_or("?"),
                    str_at(rec, "id").unwrap_or("?"),
                    p.get("max_age")
                        .and_then(Value::as_u64)
                        .map_or_else(|| "?".to_owned(), duration),
                    mx.join(", ")
                )
            }
            _ => str_at(summary, "mta_sts").unwrap_or("?").to_owned(),
        },
        Area::TlsRpt => match r.get("tlsrpt").filter(|t| !t.is_null()) {
            Some(t) => {
                let uris: Vec<&str> = array_at(t, "rua")
                    .iter()
                    .filter_map(|u| str_at(u, "uri"))
                    .collect();
                format!("yes ({})", uris.join(", "))
            }
            None => str_at(summary, "tls_rpt").unwrap_or("?").to_owned(),
        },
        Area::Tls => match r.get("dane").filter(|d| !d.is_null()) {
            Some(d) => format!(
                "a DANE-only sender would {}",
                verdict_words(d.get("verdict").unwrap_or(&Value::Null))
            ),
            None => "not connected (--no-connect)".to_owned(),
        },
        Area::Consistency if findings.is_empty() => {
            "DANE, MTA-STS and TLS-RPT do not contradict each other".to_owned()
        }
        Area::Consistency | Area::Other => plural(findings.len() as u64, "finding"),
    }
}

/// What the area found, beyond its findings.
fn area_details(area: Area, r: &Value) -> String {
    match area {
        Area::Mx => mx_details(r),
        Area::MtaSts => sts_details(r),
        Area::TlsRpt => tlsrpt_details(r),
        Area::Tls => tls_details(r),
        Area::Consistency | Area::Other => String::new(),
    }
}

fn mx_details(r: &Value) -> String {
    let hosts = array_at(r, "mx");
    if hosts.is_empty() {
        return String::new();
    }
    let mut s = String::from("<div class=\"cards\">\n");
    for m in hosts {
        let mut rows = vec![
            (
                "MX",
                format!(
                    "{} {}",
                    m.get("preference").and_then(Value::as_u64).unwrap_or(0),
                    str_at(m, "host").unwrap_or("?")
                ),
            ),
            (
                "Addresses",
                str_at(m, "address_security")
                    .map_or_else(|| "lookup failed".to_owned(), security_words),
            ),
            (
                "DANE",
                match str_at(m, "dane") {
                    Some("required") => format!(
                        "required: {} usable of {}",
                        m.get("usable_tlsa").and_then(Value::as_u64).unwrap_or(0),
                        plural(array_at(m, "tlsa").len() as u64, "TLSA record")
                    ),
                    Some("unusable-records") => {
                        "TLSA present but none usable: TLS without authentication".to_owned()
                    }
                    Some("not-applicable") => "does not apply".to_owned(),
                    Some("failed") => "TLSA lookup failed: senders defer".to_owned(),
                    Some(other) => other.to_owned(),
                    None => "?".to_owned(),
                },
            ),
        ];
        let tlsa: Vec<&str> = array_at(m, "tlsa")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut card = String::new();
        for (k, v) in rows.drain(..) {
            card.push_str(&format!("<dt>{k}</dt><dd>{}</dd>", escape(&v)));
        }
        if !tlsa.is_empty() {
            card.push_str("<dt>TLSA</dt><dd>");
            for t in tlsa {
                card.push_str(&format!("<code class=\"record\">{}</code>", escape(t)));
            }
            card.push_str("</dd>");
        }
        s.push_str(&format!("<dl class=\"card\">{card}</dl>\n"));
    }
    s.push_str("</div>\n");
    s
}

fn sts_details(r: &Value) -> String {
    let mut rows = Vec::new();
    if let Some(rec) = r.get("sts_record").filter(|x| !x.is_null()) {
        rows.push(("Record id", str_at(rec, "id").unwrap_or("?").to_owned()));
    }
    if let Some(p) = r.get("sts_policy").filter(|x| !x.is_null()) {
        rows.push(("Mode", str_at(p, "mode").unwrap_or("?").to_owned()));
        rows.push((
            "max_age",
            p.get("max_age")
                .and_then(Value::as_u64)
                .map_or_else(|| "?".to_owned(), duration),
        ));
        for pattern in array_at(p, "mx").iter().filter_map(Value::as_str) {
            rows.push(("mx", pattern.to_owned()));
        }
    }
    kv_card(&rows)
}

fn tlsrpt_details(r: &Value) -> String {
    let rows: Vec<(&str, String)> = r
        .get("tlsrpt")
        .filter(|x| !x.is_null())
        .map(|t| {
            array_at(t, "rua")
                .iter()
                .map(|u| ("rua", str_at(u, "uri").unwrap_or("?").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    kv_card(&rows)
}

fn kv_card(rows: &[(&str, String)]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from("<dl class=\"card\">");
    for (k, v) in rows {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
    }
    s.push_str("</dl>\n");
    s
}

/// Every address of every MX host: the connection, the certificate, the DANE outcome and what
/// the sender does there.
fn tls_details(r: &Value) -> String {
    let Some(dane) = r.get("dane").filter(|d| !d.is_null()) else {
        return String::new();
    };
    let sender_hosts = r
        .get("sender")
        .map(|s| array_at(s, "hosts"))
        .unwrap_or_default();
    let mut s = String::new();
    if let Some(e) = str_at(dane, "mx_error") {
        s.push_str(&format!("<p>MX: {}</p>\n", escape(e)));
    }
    s.push_str("<div class=\"cards\">\n");
    for h in array_at(dane, "hosts") {
        let host = str_at(h, "host").unwrap_or("?");
        let sender = sender_hosts
            .iter()
            .find(|x| str_at(x, "host") == Some(host));
        let decided_by = sender.and_then(|x| str_at(x, "decided_by"));
        for (n, a) in array_at(h, "results").iter().enumerate() {
            let verdict = sender
                .and_then(|x| array_at(x, "addresses").get(n))
                .or_else(|| a.get("verdict"))
                .unwrap_or(&Value::Null);
            s.push_str(&address_card(h, a, verdict, decided_by));
        }
        if array_at(h, "results").is_empty() {
            s.push_str(&format!(
                "<dl class=\"card\"><dt>Host</dt><dd>{}</dd><dt>Addresses</dt><dd>none probed ({})</dd>\
                 <dt>Policy</dt><dd>{}</dd></dl>\n",
                escape(host),
                escape(str_at(h, "addresses").unwrap_or("?")),
                escape(&policy_words(h.get("policy").unwrap_or(&Value::Null)))
            ));
        }
    }
    s.push_str("</div>\n");
    s
}

fn address_card(h: &Value, a: &Value, verdict: &Value, decided_by: Option<&str>) -> String {
    let probe = a.get("probe").unwrap_or(&Value::Null);
    let addr = str_at(probe, "addr").unwrap_or("?");
    let port = probe.get("port").and_then(Value::as_u64).unwrap_or(0);
    let mut rows: Vec<(&str, String)> = vec![
        ("Host", str_at(h, "host").unwrap_or("?").to_owned()),
        (
            "Address",
            if addr.contains(':') {
                format!("[{addr}]:{port}")
            } else {
                format!("{addr}:{port}")
            },
        ),
    ];
    if let Some(banner) = array_at(probe, "greeting").first().and_then(|g| g.as_str()) {
        rows.push(("Banner", banner.to_owned()));
    }
    match probe.get("tls").filter(|t| !t.is_null()) {
        Some(tls) => rows.push((
            "TLS",
            format!(
                "{} {} {}",
                str_at(tls, "version").unwrap_or("?"),
                str_at(tls, "cipher_suite").unwrap_or("?"),
                str_at(tls, "key_exchange").unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        )),
        None => rows.push((
            "TLS",
            probe
                .get("error")
                .and_then(|e| str_at(e, "message"))
                .unwrap_or("no TLS")
                .to_owned(),
        )),
    }
    if let Some(leaf) = array_at(probe, "chain")
        .first()
        .and_then(|c| c.get("summary"))
    {
        let names: Vec<&str> = array_at(leaf, "dns_names")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        rows.push((
            "Certificate",
            format!(
                "{}; names {}; valid until {}",
                str_at(leaf, "subject").unwrap_or("?"),
                if names.is_empty() {
                    "(none)".to_owned()
                } else {
                    names.join(", ")
                },
                str_at(leaf, "not_after").unwrap_or("?")
            ),
        ));
        rows.push(("Issuer", str_at(leaf, "issuer").unwrap_or("?").to_owned()));
    }
    rows.push((
        "Policy",
        policy_words(h.get("policy").unwrap_or(&Value::Null)),
    ));
    if let Some(d) = a.get("dane").filter(|d| !d.is_null()) {
        rows.push(("DANE", dane_words(d)));
    }
    let mut card = String::new();
    for (k, v) in &rows {
        card.push_str(&format!("<dt>{k}</dt><dd>{}</dd>", escape(v)));
    }
    let records = array_at(a, "records");
    if !records.is_empty() {
        card.push_str("<dt>TLSA</dt><dd><ul class=\"records\">");
        for rec in records {
            let matches: Vec<String> = array_at(rec, "matches")
                .iter()
                .filter_map(Value::as_u64)
                .map(|d| d.to_string())
                .collect();
            let how = if rec.get("usable").and_then(Value::as_bool) == Some(false) {
                "unusable".to_owned()
            } else if rec.get("superseded").and_then(Value::as_bool) == Some(true) {
                "set aside (digest agility)".to_owned()
            } else if matches.is_empty() {
                "matches nothing presented".to_owned()
            } else {
                format!("matches at depth {}", matches.join(", "))
            };
            card.push_str(&format!(
                "<li><code class=\"record\">{}</code> {}</li>",
                escape(str_at(rec, "record").unwrap_or("?")),
                escape(&how)
            ));
        }
        card.push_str("</ul></dd>");
    }
    let (class, words) = match str_at(verdict, "outcome") {
        Some("deliver") => (
            "status-ok",
            format!("deliver ({})", mechanism_word(verdict)),
        ),
        Some("refuse") => (
            "status-error",
            format!("refuse ({})", str_at(verdict, "reason").unwrap_or("?")),
        ),
        Some("unreachable") => ("status-warning", "unreachable".to_owned()),
        _ => ("status-unknown", "?".to_owned()),
    };
    let by = decided_by
        .map(|d| format!(" <span class=\"by\">decided by {}</span>", escape(d)))
        .unwrap_or_default();
    card.push_str(&format!(
        "<dt>Sender</dt><dd><strong class=\"{class}\">{}</strong>{by}</dd>",
        escape(&words)
    ));
    format!("<dl class=\"card\">{card}</dl>\n")
}

fn mechanism_word(verdict: &Value) -> &str {
    match str_at(verdict, "mechanism") {
        Some("tls") => "tls, unauthenticated",
        Some(m) => m,
        None => "?",
    }
}

fn policy_words(p: &Value) -> String {
    match str_at(p, "policy") {
        Some("dane") => format!(
            "DANE required ({})",
            plural(array_at(p, "tlsa").len() as u64, "TLSA record")
        ),
        Some("mandatory-tls") => "TLS required, no usable TLSA record".to_owned(),
        Some("opportunistic") => "no DANE".to_owned(),
        Some("unusable") => format!("unusable ({})", str_at(p, "reason").unwrap_or("?")),
        Some(other) => other.to_owned(),
        None => "?".to_owned(),
    }
}

/// The verifier's outcome in words (the Display of `DaneOutcome`'s failures).
fn dane_words(d: &Value) -> String {
    let n = |k| d.get(k).and_then(Value::as_u64).unwrap_or(0);
    let list = |k| {
        array_at(d, k)
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match str_at(d, "outcome") {
        Some("authenticated") => format!(
            "authenticated: {} matched at depth {}",
            str_at(d, "record").unwrap_or("?"),
            n("depth")
        ),
        Some("no-usable-records") => "no usable TLSA record".to_owned(),
        Some("failed") => match str_at(d, "failure") {
            Some("no-match") => format!(
                "failed: none of the {} usable TLSA records matches the presented chain",
                n("usable")
            ),
            Some("name-mismatch") => format!(
                "failed: the certificate names {}, none of {} (RFC 7672 §3.2.2)",
                list("presented"),
                list("expected")
            ),
            Some("expired") => format!(
                "failed: a trust anchor matched at depth {}, but the path to it is out of date: {}",
                n("depth"),
                str_at(d, "reason").unwrap_or("?")
            ),
            Some("untrusted") => format!(
                "failed: a trust anchor matched at depth {}, but the chain does not validate to it: {}",
                n("depth"),
                str_at(d, "reason").unwrap_or("?")
            ),
            Some("bad-certificate") => format!(
                "failed: certificate at depth {} cannot be parsed: {}",
                n("depth"),
                str_at(d, "reason").unwrap_or("?")
            ),
            Some("empty-chain") => "failed: the server presented no certificate".to_owned(),
            Some(other) => format!("failed: {other}"),
            None => "failed".to_owned(),
        },
        Some(other) => other.to_owned(),
        None => "?".to_owned(),
    }
}

fn finding(f: &Value) -> String {
    let severity = match str_at(f, "severity") {
        Some("error") => "error",
        Some("warning") => "warning",
        _ => "info",
    };
    let code = str_at(f, "code").unwrap_or("?");
    let mut where_ = String::new();
    if let Some(line) = f.get("line").and_then(Value::as_u64) {
        where_.push_str(&format!("line {line}: "));
    }
    if let Some(field) = str_at(f, "field") {
        where_.push_str(&format!("{field}: "));
    }
    let mut s = format!(
        "<li class=\"finding sev-{severity}\" data-code=\"{code}\">\n\
         <p class=\"fhead\"><span class=\"sev\">{severity}</span> <span class=\"code\">{code}</span> \
         <span class=\"subject\">{subject}</span></p>\n\
         <p class=\"message\">{where_}{message}</p>\n",
        code = escape(code),
        subject = escape(str_at(f, "subject").unwrap_or("")),
        where_ = escape(&where_),
        message = rich(str_at(f, "message").unwrap_or("")),
    );
    if let Some(e) = str_at(f, "explanation").filter(|e| !e.is_empty()) {
        s.push_str(&format!(
            "<p class=\"explanation\"><span class=\"label\">Why</span> {}</p>\n",
            rich(e)
        ));
    }
    if let Some(fix) = str_at(f, "fix").filter(|e| !e.is_empty()) {
        s.push_str(&format!(
            "<div class=\"fix\"><span class=\"label\">Fix</span> {}</div>\n",
            rich(fix)
        ));
    }
    if let Some(rfc) = str_at(f, "rfc").filter(|e| !e.is_empty()) {
        s.push_str(&format!("<p class=\"rfc\">{}</p>\n", escape(rfc)));
    }
    s.push_str("</li>\n");
    s
}

/// Text whose backquoted parts are code: a DNS record (`... IN TYPE ...`) as a block that one
/// click selects whole, anything else inline. An unpaired backquote is shown as it is.
fn rich(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let paired = parts.len() % 2 == 1;
    let mut s = String::with_capacity(text.len() + 32);
    for (i, part) in parts.iter().enumerate() {
        let code = i % 2 == 1 && (paired || i + 1 < parts.len());
        if !code {
            if i % 2 == 1 {
                s.push('`');
            }
            s.push_str(&escape(part));
        } else if is_record(part) {
            s.push_str(&format!("<code class=\"record\">{}</code>", escape(part)));
        } else {
            s.push_str(&format!("<code>{}</code>", escape(part)));
        }
    }
    s
}

/// `_25._tcp.mx.example. IN TLSA 3 1 1 ...`, `_mta-sts.example. IN TXT "..."`.
fn is_record(code: &str) -> bool {
    let mut words = code.split_whitespace();
    words.next().is_some() && words.next() == Some("IN") && words.next().is_some()
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn array_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn severity_rank(severity: Option<&str>) -> u8 {
    match severity {
        Some("error") => 2,
        Some("warning") => 1,
        _ => 0,
    }
}

fn security_words(security: &str) -> String {
    match security {
        "secure" => "secure (DNSSEC-signed)".to_owned(),
        "insecure" => "insecure (not signed)".to_owned(),
        other => other.to_owned(),
    }
}

fn plural(n: u64, word: &str) -> String {
    match (n, word.as_bytes().last()) {
        (1, _) => format!("1 {word}"),
        (_, Some(b's')) => format!("{n} {word}es"),
        _ => format!("{n} {word}s"),
    }
}

/// `604800 (7 days)`, `90000 (about 1 day)`: a number of seconds with its size in words (the
/// form of a policy's max_age in every report).
pub fn duration(s: u64) -> String {
    let (n, unit, exact) = match s {
        0..60 => (s, "second", true),
        60..3600 => (s / 60, "minute", s.is_multiple_of(60)),
        3600..86_400 => (s / 3600, "hour", s.is_multiple_of(3600)),
        _ => (s / 86_400, "day", s.is_multiple_of(86_400)),
    };
    format!(
        "{s} ({}{n} {unit}{})",
        if exact { "" } else { "about " },
        if n == 1 { "" } else { "s" }
    )
}

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;--card:#f6f8fa;
--ok:#116329;--okbg:#dafbe1;--warn:#7d4e00;--warnbg:#fff8c5;--err:#a40e26;--errbg:#ffebe9;--info:#0550ae;--infobg:#ddf4ff}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;--card:#151b23;
--ok:#3fb950;--okbg:#12261e;--warn:#d29922;--warnbg:#272115;--err:#f85149;--errbg:#25171c;--info:#58a6ff;--infobg:#121d2f}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:60rem;margin:0 auto;padding:1rem}
footer{max-width:60rem;margin:0 auto;padding:1rem;color:var(--muted);font-size:.85rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.3rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h3{font-size:1.1rem;margin:1.2rem 0 .3rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
p{margin:.4rem 0}
code{font:.9em/1.4 ui-monospace,'DejaVu Sans Mono',monospace;background:var(--card);border:1px solid var(--line);border-radius:4px;padding:0 .2em;overflow-wrap:anywhere}
code.record{display:block;margin:.3rem 0;padding:.4rem .5rem;white-space:pre-wrap;word-break:break-all;user-select:all;-webkit-user-select:all}
form.check{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:0 0 1rem}
form.check label{flex-basis:100%;font-weight:600}
form.check input{flex:1 1 12rem;min-width:0;font-size:1rem;padding:.5rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
form.check button{font-size:1rem;padding:.5rem 1.2rem;border:0;border-radius:6px;background:var(--info);color:var(--bg);font-weight:600}
.note{color:var(--muted)}
nav.contents ul{padding-left:1.2rem}
section.domain{border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1.5rem}
.verdict{font-size:1.1rem;padding:.5rem .7rem;border-radius:6px}
.status-ok{color:var(--ok)}.status-warning{color:var(--warn)}.status-error{color:var(--err)}.status-unknown{color:var(--muted)}
p.verdict.status-ok{background:var(--okbg)}p.verdict.status-error{background:var(--errbg)}p.verdict.status-unknown{background:var(--card)}
.summary{color:var(--muted)}
p.area-verdict{color:var(--fg)}
p.area-verdict.status-ok .badge{color:var(--ok)}p.area-verdict.status-warning .badge{color:var(--warn)}p.area-verdict.status-error .badge{color:var(--err)}
.badge{display:inline-block;font-weight:600;font-size:.85rem;padding:0 .5em;border-radius:1em;border:1px solid currentColor}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,22rem),1fr));gap:.6rem;margin:.5rem 0}
dl.card{display:grid;grid-template-columns:minmax(5.5rem,max-content) minmax(0,1fr);gap:.15rem .7rem;margin:.5rem 0;padding:.6rem .7rem;background:var(--card);border:1px solid var(--line);border-radius:6px}
dl.card dt{color:var(--muted);font-size:.9rem}
dl.card dd{margin:0;overflow-wrap:anywhere;min-width:0}
ul.records{list-style:none;margin:0;padding:0}
.by{color:var(--muted);font-size:.9rem}
ul.findings{list-style:none;margin:.5rem 0;padding:0}
li.finding{border-left:4px solid var(--line);padding:.3rem 0 .3rem .7rem;margin:.6rem 0}
li.sev-error{border-color:var(--err)}li.sev-warning{border-color:var(--warn)}li.sev-info{border-color:var(--info)}
.fhead{margin:0}
.sev{font-weight:700;text-transform:uppercase;font-size:.8rem;letter-spacing:.03em}
li.sev-error .sev{color:var(--err)}li.sev-warning .sev{color:var(--warn)}li.sev-info .sev{color:var(--info)}
.code{font-weight:700}
.subject{color:var(--muted);overflow-wrap:anywhere}
.message{font-weight:500;overflow-wrap:anywhere}
.explanation,.rfc{color:var(--muted);font-size:.95rem}
.fix{margin:.3rem 0;padding:.4rem .6rem;background:var(--card);border-radius:6px;overflow-wrap:anywhere}
.label{font-weight:700;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;margin-right:.3rem}
@media (max-width:30rem){main{padding:.6rem}section.domain{padding:.6rem}
dl.card{grid-template-columns:minmax(4.5rem,max-content) minmax(0,1fr);padding:.5rem}}
";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn escape_replaces_every_markup_character() {
        for (input, expected) in [
            ("plain", "plain"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a & b", "a &amp; b"),
            ("\" onload=\"x", "&quot; onload=&quot;x"),
            ("' onload='x", "&#39; onload=&#39;x"),
            ("&lt;", "&amp;lt;"),
            ("esc\u{1b}[31m", "esc\\u{1b}[31m"),
            ("nul\u{0}", "nul\\u{0}"),
            ("line\nnext\ttab", "line\nnext\ttab"),
            ("bücher.example", "bücher.example"),
        ] {
            assert_eq!(escape(input), expected, "{input:?}");
        }
    }

    #[test]
    fn backquoted_text_is_code_and_records_are_blocks() {
        assert_eq!(
            rich("publish `_25._tcp.mx.example. IN TLSA 3 1 1 ab` now"),
            "publish <code class=\"record\">_25._tcp.mx.example. IN TLSA 3 1 1 ab</code> now"
        );
        assert_eq!(rich("host `mx1.example`"), "host <code>mx1.example</code>");
        assert_eq!(rich("odd ` quote"), "odd ` quote");
        assert_eq!(rich("`<b>` & `x"), "<code>&lt;b&gt;</code> &amp; `x");
    }

    #[test]
    fn words_match_the_text_report() {
        assert_eq!(
            verdict_words(
                &json!({"outcome": "defer", "reason": "tlsa-invalid", "mechanism": null})
            ),
            "defer (tlsa-invalid)"
        );
        assert_eq!(
            verdict_words(&json!({"outcome": "deliver", "reason": null, "mechanism": "mta-sts"})),
            "deliver (mta-sts)"
        );
        assert_eq!(
            verdict_words(&json!({"outcome": "defer", "reason": null})),
            "defer (no usable MX host)"
        );
        assert_eq!(duration(604_800), "604800 (7 days)");
        assert_eq!(duration(90_000), "90000 (about 1 day)");
        assert_eq!(plural(2, "address"), "2 addresses");
        assert_eq!(plural(1, "error"), "1 error");
    }

    #[test]
    fn findings_are_grouped_by_area() {
        for (code, area) in [
            ("M1", Area::Mx),
            ("N10", Area::Mx),
            ("S1", Area::MtaSts),
            ("H6", Area::MtaSts),
            ("P13", Area::MtaSts),
            ("R1", Area::TlsRpt),
            ("D7", Area::Tls),
            ("T1", Area::Tls),
            ("X3", Area::Consistency),
            ("", Area::Other),
        ] {
            assert_eq!(Area::of(&json!({"code": code})), area, "{code}");
        }
        assert_eq!(
            Area::of(&json!({"area": "mta-sts", "code": "D1"})),
            Area::MtaSts
        );
        assert_eq!(
            Area::of(&json!({"area": "connections", "code": "X1"})),
            Area::Tls
        );
    }

    /// A report whose every value from DNS or a server is hostile markup.
    fn hostile() -> Value {
        let evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
        json!({
            "schema": "mailsec-check/1",
            "domain": evil,
            "mx": [{"host": evil, "preference": 10, "address_security": evil,
                    "tlsa": [format!("3 1 1 {evil}")], "usable_tlsa": 1, "dane": evil}],
            "mx_security": evil,
            "sts_record": {"id": evil, "extensions": []},
            "sts_policy": {"mode": evil, "max_age": 86400, "mx": [evil], "extensions": []},
            "tlsrpt": {"rua": [{"scheme": "https", "uri": format!("javascript:{evil}")}], "extensions": []},
            "findings": [
                {"subject": evil, "code": evil, "severity": evil, "message": format!("TXT `{evil}` and {evil}"),
                 "field": evil, "explanation": evil, "fix": format!("publish `x. IN TXT \"{evil}\"`"), "rfc": evil},
                {"subject": "mx", "code": "D7", "severity": "error", "message": evil,
                 "explanation": evil, "fix": evil, "rfc": evil}
            ],
            "dane": {"target": evil, "mx": "secure", "mx_error": evil, "verdict": {"outcome": "defer", "reason": evil},
                "hosts": [{"host": evil, "preference": 10, "port": 25, "addresses": evil, "tlsa_name": evil,
                    "tlsa": {"state": "records", "records": [evil]}, "tlsa_lookup": evil,
                    "policy": {"policy": "unusable", "reason": evil},
                    "results": [{"probe": {"addr": evil, "port": 25, "greeting": [format!("220 {evil}")],
                        "tls": {"version": evil, "cipher_suite": evil, "key_exchange": evil},
                        "chain": [{"summary": {"subject": evil, "issuer": evil, "dns_names": [evil], "not_after": evil}}],
                        "error": {"message": evil}},
                      "dane": {"outcome": "failed", "failure": "name-mismatch", "presented": [evil], "expected": [evil]},
                      "records": [{"record": evil, "usable": true, "superseded": false, "matches": []}],
                      "verdict": {"outcome": "refuse", "reason": evil}}],
                    "findings": []}]},
            "verdict": {"outcome": evil, "reason": evil, "mechanism": evil},
            "sender": {"verdict": {"outcome": "defer", "reason": evil},
                "hosts": [{"host": evil, "decided_by": evil, "addresses": [{"outcome": "refuse", "reason": evil}]}]},
            "summary": {"dane": evil, "mta_sts": evil, "tls_rpt": evil, "errors": 1, "warnings": 0}
        })
    }

    /// The tags the renderer may write, and their attributes.
    const TAGS: &[&str] = &[
        "!doctype", "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3",
        "footer", "form", "label", "input", "button", "p", "nav", "ul", "li", "a", "section",
        "span", "strong", "code", "dl", "dt", "dd", "div",
    ];
    const ATTRIBUTES: &[&str] = &[
        "html",
        "lang",
        "charset",
        "name",
        "content",
        "http-equiv",
        "class",
        "id",
        "href",
        "data-code",
        "action",
        "method",
        "for",
        "type",
        "value",
        "required",
        "maxlength",
        "placeholder",
        "autocapitalize",
        "autocorrect",
        "spellcheck",
        "inputmode",
    ];

    /// Every start tag of `page` (outside the style sheet) with its attribute names, read the
    /// way an HTML tokenizer does: a tag runs from `<` to the first `>` outside a quoted value.
    fn tags(page: &str) -> Vec<(String, Vec<String>)> {
        let style_start = page.find("<style>").unwrap();
        let style_end = page.find("</style>").unwrap();
        let page = format!("{}{}", &page[..style_start + 7], &page[style_end..]);
        let mut out = Vec::new();
        let mut rest = page.as_str();
        while let Some(start) = rest.find('<') {
            rest = &rest[start + 1..];
            if rest.starts_with('/') {
                continue;
            }
            let mut chars = rest.char_indices().peekable();
            let mut name = String::new();
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '>') {
                name.push(c.to_ascii_lowercase());
            }
            let mut attributes = Vec::new();
            loop {
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                match chars.peek() {
                    None => break,
                    Some((i, '>')) => {
                        rest = &rest[i + 1..];
                        break;
                    }
                    Some(_) => {}
                }
                let mut attr = String::new();
                while let Some((_, c)) =
                    chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=' && *c != '>')
                {
                    attr.push(c.to_ascii_lowercase());
                }
                if chars.next_if(|(_, c)| *c == '=').is_some() {
                    let quote = chars.next().map(|(_, c)| c);
                    assert!(
                        matches!(quote, Some('"')),
                        "unquoted value of {attr} in {name}"
                    );
                    while chars.next_if(|(_, c)| *c != '"').is_some() {}
                    chars.next();
                }
                attributes.push(attr);
            }
            out.push((name, attributes));
        }
        out
    }

    #[test]
    fn the_tag_reader_sees_injected_markup() {
        let page = "<style>p>a{}</style><p class=\"a>b\" onclick=\"x\">t<script>";
        assert_eq!(
            tags(page),
            [
                ("style".to_owned(), vec![]),
                (
                    "p".to_owned(),
                    vec!["class".to_owned(), "onclick".to_owned()]
                ),
                ("script".to_owned(), vec![]),
            ]
        );
    }

    #[test]
    fn hostile_values_never_become_markup() {
        let evil_error = json!({"domain": null, "input": "<script>x</script>",
                                "error": {"kind": "invalid-name", "message": "<script>y</script>"}});
        let page = report_page(
            &[hostile(), evil_error],
            &PageOptions {
                title: "<script>t</script>",
                form: Some("\"><script>f</script>"),
                note: Some("<script>n</script>"),
            },
        );
        // Every tag and every attribute on the page is one the renderer writes.
        for (name, attributes) in tags(&page) {
            assert!(TAGS.contains(&name.as_str()), "tag {name}");
            for a in attributes {
                assert!(ATTRIBUTES.contains(&a.as_str()), "attribute {a} in {name}");
            }
        }
        // The values are there, as text.
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("220 &lt;script&gt;"));
        assert!(page.contains("&lt;script&gt;y&lt;/script&gt;"));
        // The only links are to sections of the page.
        for (i, _) in page.match_indices("href=") {
            assert!(page[i..].starts_with("href=\"#d"), "{}", &page[i..i + 40]);
        }
        // A crafted severity cannot choose a class.
        assert!(page.contains("class=\"finding sev-info\""));
    }

    #[test]
    fn a_report_shows_every_finding_with_its_parts() {
        let report = json!({
            "domain": "example.test",
            "mx": [{"host": "mx.example.test", "preference": 10, "address_security": "secure",
                    "tlsa": ["3 1 1 aa"], "usable_tlsa": 1, "dane": "required"}],
            "mx_security": "secure",
            "findings": [
                {"subject": "mta-sts", "code": "S1", "severity": "info", "message": "no _mta-sts record",
                 "explanation": "Senders discover MTA-STS through a TXT record.", "fix": "Publish `_mta-sts.example.test. IN TXT \"v=STSv1; id=1\"`.", "rfc": "RFC 8461 §3.1"},
                {"subject": "mx.example.test", "code": "D7", "severity": "error", "message": "no match",
                 "explanation": "why", "fix": "publish `_25._tcp.mx.example.test. IN TLSA 3 1 1 bb`", "rfc": "RFC 7672 §3.1"},
                {"subject": "tls-rpt", "code": "X3", "severity": "warning", "message": "no TLS-RPT", "explanation": "e", "fix": "f", "rfc": "RFC 8460 §3"}
            ],
            "verdict": {"outcome": "defer", "reason": "tlsa-invalid", "mechanism": null},
            "summary": {"dane": "required on 1 of 1 MX hosts", "mta_sts": "not deployed", "tls_rpt": "no", "errors": 1, "warnings": 1}
        });
        let page = report_page(
            &[report],
            &PageOptions {
                title: "t",
                ..PageOptions::default()
            },
        );
        assert!(page.contains("<strong class=\"outcome\">defer (tlsa-invalid)</strong>"));
        assert!(page.contains(
            "DANE required on 1 of 1 MX hosts; MTA-STS not deployed; TLS-RPT no; 1 error, 1 warning"
        ));
        for area in [
            "MX and DNSSEC",
            "MTA-STS",
            "TLS-RPT",
            "TLS and DANE on the MX hosts",
            "Consistency",
        ] {
            assert!(page.contains(&format!("<h3>{area}</h3>")), "{area}");
        }
        assert!(!page.contains("Other findings"));
        let d7 = &page[page.find("data-code=\"D7\"").unwrap()..];
        let d7 = &d7[..d7.find("</li>").unwrap()];
        assert!(d7.contains("<span class=\"sev\">error</span>"));
        assert!(
            d7.contains("<code class=\"record\">_25._tcp.mx.example.test. IN TLSA 3 1 1 bb</code>")
        );
        assert!(d7.contains("RFC 7672 §3.1"));
        // The D7 finding is in the connections area, whose verdict counts it; a finding goes
        // where its `area` says.
        let tls = &page[page.find("id=\"d0-tls\"").unwrap()..];
        assert!(tls.starts_with("id=\"d0-tls\">\n<h3>TLS and DANE on the MX hosts</h3>\n<p class=\"area-verdict status-error\"><span class=\"badge\">1 error</span>"));
        let consistency = &page[page.find("id=\"d0-consistency\"").unwrap()..];
        assert!(consistency.contains("data-code=\"X3\""));
        assert!(page.contains("<meta name=\"viewport\""));
        assert!(!page.contains("<script"));
    }
}
