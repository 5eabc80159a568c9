//! The lab, driven through mailsec's own resolver.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dns;
