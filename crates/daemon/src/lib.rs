//! # mailsec-daemon
//!
//! The sending MTA's side of MTA-STS (RFC 8461), as a thin shell over the pure state machine of
//! `mailsec_core::mta_sts::sender` and the reply rules of `mailsec_core::socketmap::policy`:
//!
//! - [`resolve::PolicyResolver`]: one lookup = the cache, then the `_mta-sts` TXT lookup and the
//!   HTTPS fetch the state machine asks for; one resolution per domain however many lookups ask
//!   at once; background re-checks and refreshes;
//! - [`dane::gate`]: does DANE go first for this domain (RFC 8461 §2, RFC 7672 §2.2)?
//! - [`store::EntryStore`]: what the resolver needs of a cache; the backends, and the memory
//!   layer that rides out a shared backend's outages, are `mailsec_sender::cache`'s.

#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod dane;
pub mod handler;
pub mod metrics;
pub mod resolve;
pub mod server;
pub mod store;
