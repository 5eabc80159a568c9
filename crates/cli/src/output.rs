//! Rendering findings for people (one line each, compiler style) and for machines (JSON).

use std::io::Write;

use mailsec_core::Diagnostic;

/// Writes `source[:line]: severity: [field: ]message [CODE]` per finding.
pub(crate) fn findings(
    out: &mut dyn Write,
    source: &str,
    diags: &[Diagnostic],
) -> std::io::Result<()> {
    for d in diags {
        match d.line {
            Some(line) => write!(out, "{source}:{line}: {}: ", d.severity)?,
            None => write!(out, "{source}: {}: ", d.severity)?,
        }
        if let Some(field) = &d.field {
            write!(out, "{field}: ")?;
        }
        writeln!(out, "{} [{}]", d.message, d.check)?;
    }
    Ok(())
}

/// Writes `value` as pretty JSON and a newline. The document is built first and written in one
/// go, so that a write error (a closed pipe) is an `io::Error`, not a serialisation error.
pub(crate) fn json(out: &mut dyn Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut doc = serde_json::to_vec_pretty(value)?;
    doc.push(b'\n');
    out.write_all(&doc)?;
    Ok(())
}

/// `604800 (7 days)`.
pub(crate) fn duration(seconds: u32) -> String {
    mailsec_web::html::duration(u64::from(seconds))
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::duration(604_800), "604800 (7 days)");
        assert_eq!(super::duration(86_400), "86400 (1 day)");
        assert_eq!(super::duration(90_000), "90000 (about 1 day)");
        assert_eq!(super::duration(59), "59 (59 seconds)");
    }
}
