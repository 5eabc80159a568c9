//! # mailsec-core
//!
//! The sans-IO heart of mailsec: every parser and every decision about SMTP transport security
//! that needs no network, no clock and no filesystem.
//!
//! ```text
//!   DNS answers (TXT, TLSA)   HTTPS body        certificates      socketmap bytes
//!            |                    |                  |                  |
//!            v                    v                  v                  v
//!   mta_sts::record       mta_sts::policy      dane::association   socketmap::netstring
//!   tlsrpt::record        mta_sts::pattern     dane::tlsa          socketmap::{Request, Reply}
//!            \____________________|__________________|__________________/
//!                                 v
//!                 typed values + diag::Diagnostic findings
//! ```
//!
//! Every parser takes bytes or text, never panics, and has two faces where it matters: a strict
//! parser that returns a typed value (what a sender applies) and a linter that returns every
//! finding with its line and a stable check ID from [`diag::Check`] (what a domain owner reads).
//! The I/O shells (DNS, HTTPS, the daemon, the CLI) live in other crates and depend on this one,
//! never the reverse.
//!
//! Standards: RFC 8461 (MTA-STS), RFC 8460 (TLS-RPT), RFC 6698/7671/7672 (DANE, DANE for SMTP),
//! RFC 7218 (TLSA acronyms), Postfix `socketmap_table(5)`.

#![forbid(unsafe_code)]

pub mod dane;
pub mod diag;
pub mod domain;
pub mod mta_sts;
pub mod ports;
pub mod socketmap;
mod tagvalue;
pub mod tls_hello;
pub mod tlsrpt;

pub use diag::{Check, Diagnostic, Linted, Severity};
pub use domain::HostName;

/// An extension field or key: ignored by senders, kept for display and round trips.
#[derive(Clone, Debug, Eq, Hash, PartialEq, serde::Serialize)]
pub struct Extension {
    /// The field or key name.
    pub name: String,
    /// Its value.
    pub value: String,
}
