//! Integration tests of mailsec-core: the test vectors under `testdata/` and property tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod props;
mod vectors;
