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
