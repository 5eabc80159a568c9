//! Integration tests of mailsec-core.
