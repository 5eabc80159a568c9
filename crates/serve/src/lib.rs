//! `mailsec serve`: the HTTPS policy host of RFC 8461 §3.3 for the `mta-sts.` hosts of many
//! domains.
//!
//! - [`config`]: the TOML configuration (unknown keys refused) and its checks;
//! - [`site`]: what is served, built from a policy directory (`<domain>.txt`) and a certificate
//!   directory in certbot's layout; a policy that fails lint or a certificate without its key is
//!   refused with one line, and the last good copy of that domain keeps being served;
//! - [`access`]: the access log's line and `mailsec serve stats` over it (pure);
//! - [`server`]: the listeners (rustls, HTTP/1.1 and HTTP/2), limits, reloads.

pub mod access;
pub mod config;
#[cfg(feature = "server")]
pub mod server;
pub mod site;

/// The well-known path, RFC 8461 §3.3.
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";
/// The label of a policy host, RFC 8461 §3.3.
pub const HOST_LABEL: &str = "mta-sts.";
