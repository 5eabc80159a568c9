//! # mailsec-web
//!
//! The domain checker for browsers: [`html`] renders check reports as one self-contained page
//! (`mailsec check --html FILE`), and [`serve`] runs a small web application on the same
//! checker (`mailsec web`):
//!
//! ```text
//!   browser ── GET /check?domain=D ──> serve: query -> HostName -> rate limit (token bucket per
//!                                             client) -> cache (clean reports only) -> check slot
//!                                             (semaphore) -> Checker::check within the deadline
//!                                                                  │
//!           <── report page (html::report_page) or JSON <── report (JSON, mailsec-check/1)
//! ```
//!
//! The renderer reads the report's JSON form, never the Rust types, so that the page says what
//! `--json` says; every value in it is escaped ([`html::escape`]), since DNS records, policy
//! bodies and SMTP banners are written by whoever controls the domain. Pages carry no script
//! and no external resource, and are served with a Content-Security-Policy that forbids both.

#![forbid(unsafe_code)]

pub mod html;
mod limit;
mod query;
mod server;

pub use server::{Checker, Config, serve};
