//! mailsec-probe over the wire, all on loopback: the lab's SMTP servers (`lab`), well-behaved
//! test servers for every dialogue (`protocols`), misbehaving ones (`hostile`), and property
//! tests of the reply parsers (`props`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile;
mod lab;
mod props;
mod protocols;
mod support;
