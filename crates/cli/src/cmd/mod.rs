//! One module per command group.

pub(crate) mod check;
pub(crate) mod checks;
pub(crate) mod daemon;
pub(crate) mod dane;
pub(crate) mod dns;
pub(crate) mod docs;
pub(crate) mod html;
pub(crate) mod lab;
pub(crate) mod net;
pub(crate) mod report_text;
pub(crate) mod serve;
pub(crate) mod sts;
pub(crate) mod sts_fetch;
pub(crate) mod sts_publish;
pub(crate) mod tlsa;
pub(crate) mod tlsrpt;
pub(crate) mod web;

use std::io::Read;
use std::path::Path;

use anyhow::Context;

/// Reads a file, or standard input for `-`.
pub(crate) fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A domain given on the command line (a trailing dot allowed), or a one-line error naming it.
pub(crate) fn domain_arg(domain: &str) -> anyhow::Result<mailsec_core::HostName> {
    mailsec_core::HostName::parse(domain.trim_end_matches('.'))
        .with_context(|| format!("{}: not a domain name", mailsec_core::diag::quote(domain)))
}

/// How to name an input in messages.
pub(crate) fn source_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}
