//! Integration tests of mailsec-core: the test vectors under `testdata/`, property tests, and
//! the RFC 7672 verifier on certificate chains made for each of its branches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dane_verify;
mod props;
mod vectors;
