//! # mailsec-sender
//!
//! The sending MTA's side of MTA-STS (RFC 8461) around the pure state machine of
//! `mailsec_core::mta_sts::sender`. For now one module:
//!
//! - [`cache`]: where the policy entries live between lookups (memory, SQLite, Redis,
//!   PostgreSQL), and [`cache::Layered`], a memory layer that keeps answering while a backend
//!   shared with other MTAs is away.

#![forbid(unsafe_code)]

pub mod cache;
