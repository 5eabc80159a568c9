//! Completions and man pages come from the same definition as the parser.

use crate::{mailsec, stdout};

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = mailsec(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        assert!(
            stdout(&o).contains("tlsa"),
            "{shell} completion lacks subcommands"
        );
    }
}

#[test]
fn man_page() {
    let o = mailsec(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with(".ie"), "roff expected");
    let dir = tempfile::tempdir().unwrap();
    let o = mailsec(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(dir.path().join("mailsec.1").exists());
    assert!(dir.path().join("mailsec-tlsa-generate.1").exists());
}

#[test]
fn man_synopsis_names_option_values_and_repeated_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let o = mailsec(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let page = std::fs::read_to_string(dir.path().join("mailsec-check.1")).unwrap();
    let synopsis = page
        .split(".SH SYNOPSIS\n")
        .nth(1)
        .and_then(|s| s.lines().next())
        .unwrap();
    assert!(
        synopsis.contains("[\\fB\\-\\-resolver\\fR \\fIIP[:PORT]\\fR]"),
        "{synopsis}"
    );
    assert!(
        synopsis.ends_with("[\\fIDOMAIN\\fR]... [\\fICOMMAND\\fR]"),
        "{synopsis}"
    );
    let page = std::fs::read_to_string(dir.path().join("mailsec-check-summary.1")).unwrap();
    assert!(page.contains("<\\fISTORE\\fR>...\n"), "{page}");
    let top = stdout(&mailsec(&["man"]));
    assert!(
        top.contains("[\\fB\\-\\-trust\\-anchor\\fR \\fIFILE\\fR]"),
        "{top}"
    );
}

/// Runs mailsec with its stdout a pipe whose reading end is already closed, as in
/// `mailsec ... | head` once head has exited.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    std::process::Command::new(env!("CARGO_BIN_EXE_mailsec"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let policy = crate::testdata("mta-sts/policy/blank-line-between-fields.txt")
        .to_string_lossy()
        .into_owned();
    for args in [
        &["checks"][..],
        &["checks", "--json"],
        &["checks", "D2"],
        &["man"],
        &["completions", "bash"],
        &["--help"],
        &["lab", "--list"],
        &["lab", "--list", "--json"],
        &["sts", "record", "v=STSv1; id=1;"],
        &["sts", "lint", &policy],
    ] {
        let o = into_closed_pipe(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", crate::stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: {}", crate::stderr(&o));
    }
}

#[test]
fn demo_help_says_why_it_exits_0() {
    let o = mailsec(&["demo", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("Exit status: 0 when the demo ran, although it reports errors"),
        "{}",
        stdout(&o)
    );
}
