//! Integration tests of mailsec-daemon against the lab.
