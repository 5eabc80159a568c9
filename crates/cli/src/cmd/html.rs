//! `mailsec check --html FILE`: the reports as one self-contained page (the renderer of
//! `mailsec-web`, shared with `mailsec web`).

use std::path::Path;

use anyhow::Context;
use mailsec_web::html::{PageOptions, report_page};
use serde_json::Value;

/// Writes the page of `reports` (report objects or error records, as `--json` prints them) to
/// `path`.
pub(crate) fn write(path: &Path, reports: &[Value]) -> anyhow::Result<()> {
    let title = match reports {
        [one] => format!(
            "mailsec check: {}",
            one.get("domain").and_then(Value::as_str).unwrap_or("?")
        ),
        many => format!("mailsec check: {} domains", many.len()),
    };
    let page = report_page(
        reports,
        &PageOptions {
            title: &title,
            ..PageOptions::default()
        },
    );
    std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))
}
