//! Integration tests of the `mailsec` binary: exit codes, output shapes, and TLSA generation
//! checked against openssl and coreutils as independent oracles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bulk;
mod checkdmarc;
mod daemon;
mod dns;
mod docs;
mod lab;
mod lab_process;
mod real_lab;
mod records;
mod serve;
mod tls_scan;
mod tlsa;
mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs the built binary.
pub(crate) fn mailsec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mailsec")
}

/// Runs the binary with `stdin` as standard input.
pub(crate) fn mailsec_stdin(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mailsec");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}
