//! Completions and man pages from the command definition; a closed pipe ends a run quietly.

use crate::{run, text};

#[test]
fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell], b"");
        assert_eq!(o.status.code(), Some(0), "{shell}");
        assert!(text(&o.stdout).contains("samba-check"), "{shell}");
    }
    let o = run(&["man"], b"");
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o.stdout).contains(".TH pwprotect"),
        "{}",
        text(&o.stdout)
    );
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["man", "--out-dir", dir.path().to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for page in [
        "pwprotect.1",
        "pwprotect-breach-filter.1",
        "pwprotect-samba-check.1",
    ] {
        let roff = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(roff.contains(".SH SYNOPSIS"), "{page}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let (_d, g, _) = crate::lists();
    let batch = "{\"password\": \"Bl@nK\"}\n".repeat(10_000);
    for (args, stdin, want) in [
        (vec!["man"], &b""[..], 0),
        (vec!["completions", "bash"], b"", 0),
        (vec!["--help"], b"", 0),
        // A verdict keeps its exit status when nobody reads the output: 1, rejected.
        (vec!["check", "--banned", &g, "--json"], b"Bl@nK\n", 1),
        (vec!["check", "--banned", &g], b"Bl@nK\n", 1),
        (
            vec!["check", "--banned", &g, "--batch"],
            batch.as_bytes(),
            1,
        ),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pwprotect"));
        c.args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(writer)
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write as _;
            let _ = child.stdin.take().unwrap().write_all(stdin);
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(want), "{args:?}: {}", text(&o.stderr));
        assert!(o.stderr.is_empty(), "{args:?}: {}", text(&o.stderr));
    }
}
