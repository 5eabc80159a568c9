//! `pwprotect samba-check` as a real Samba AD DC's `check password script`: a domain provisioned
//! by the test (`samba-tool domain provision`, no daemon needed), users created and passwords
//! set through `samba-tool`, in enforce and audit mode. Samba comes from Debian
//! (`scripts/install-lab-packages`); without it the test fails, never skips.

use std::path::Path;
use std::process::{Command, Output};

fn samba_tool(args: &[&str]) -> Output {
    Command::new("samba-tool")
        .args(args)
        .output()
        .expect("samba-tool: run scripts/install-lab-packages (samba, samba-ad-dc)")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Points `check password script` of the provisioned smb.conf at pwprotect with `extra` args.
fn set_script(dir: &Path, extra: &str) {
    let conf = dir.join("etc/smb.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("check password script"))
        .collect();
    let script = format!(
        "\tcheck password script = {} samba-check --banned {} --custom {} --log {} {extra}",
        env!("CARGO_BIN_EXE_pwprotect"),
        dir.join("banned.txt").display(),
        dir.join("custom.txt").display(),
        dir.join("pwprotect.log").display(),
    );
    let mut out = Vec::new();
    for l in kept {
        out.push(l.to_owned());
        if l.trim() == "[global]" {
            out.push(script.clone());
        }
    }
    std::fs::write(&conf, out.join("\n") + "\n").unwrap();
}

#[test]
fn samba_rejects_banned_passwords_through_samba_tool() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = samba_tool(&[
        "domain",
        "provision",
        &format!("--targetdir={}", d.display()),
        "--realm=TEST.LAN",
        "--domain=TEST",
        "--server-role=dc",
        "--dns-backend=NONE",
        "--adminpass=Adm1n-Pa55word!x",
    ]);
    assert!(p.status.success(), "provision: {}", text(&p));
    // The research note's lists: global `blank` (plus `summer` and `2019`, as in Microsoft's
    // Summer2019 example), custom `contoso`.
    std::fs::write(d.join("banned.txt"), "blank\nsummer\n2019\n").unwrap();
    std::fs::write(d.join("custom.txt"), "contoso\n").unwrap();
    let sam = d.join("private/sam.ldb");
    let o = samba_tool(&[
        "domain",
        "passwordsettings",
        "set",
        "--min-pwd-age=0",
        "-H",
        sam.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let conf = d.join("etc/smb.conf");
    let conf = conf.to_str().unwrap();
    let refused = "check_password_restrictions: the password does not meet the complexity criteria";

    // Enforce.
    set_script(d, "");
    for (user, password) in [("alice", "Summer2019"), ("bob", "C0ntos0Blank12")] {
        let o = samba_tool(&["user", "create", user, password, "-s", conf]);
        assert!(!o.status.success(), "{user}: {}", text(&o));
        assert!(text(&o).contains(refused), "{user}: {}", text(&o));
    }
    let o = samba_tool(&["user", "create", "carol", "ContoS0Bl@nkf9!", "-s", conf]);
    assert!(o.status.success(), "carol: {}", text(&o));
    // setpassword goes through the same hook; the user name counts too.
    for password in ["C0ntos0Blank12", "xx-Carol-2024-xx"] {
        let o = samba_tool(&[
            "user",
            "setpassword",
            "carol",
            &format!("--newpassword={password}"),
            "-s",
            conf,
        ]);
        assert!(!o.status.success(), "{password}: {}", text(&o));
        assert!(text(&o).contains(refused), "{}", text(&o));
    }
    let o = samba_tool(&[
        "user",
        "setpassword",
        "carol",
        "--newpassword=Quartz-Lantern-Meadow-71",
        "-s",
        conf,
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // Audit: all three accepted, the would-be rejections logged.
    set_script(d, "--mode audit");
    for (user, password) in [
        ("dave", "Summer2019"),
        ("erin", "C0ntos0Blank12"),
        ("frank", "ContoS0Bl@nkf9!"),
    ] {
        let o = samba_tool(&["user", "create", user, password, "-s", conf]);
        assert!(o.status.success(), "{user}: {}", text(&o));
    }

    // One JSON line per decision, with Samba's account name, never the password.
    let log = std::fs::read_to_string(d.join("pwprotect.log")).unwrap();
    for password in ["Summer2019", "C0ntos0Blank12", "ContoS0Bl@nkf9!", "Quartz"] {
        assert!(!log.contains(password), "the log holds a password:\n{log}");
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcome = |account: &str, nth: usize| -> (String, u64) {
        let l = lines
            .iter()
            .filter(|l| l["account"] == account)
            .nth(nth)
            .unwrap_or_else(|| panic!("no line {nth} for {account}:\n{log}"));
        (
            l["outcome"].as_str().unwrap().to_owned(),
            l["event"].as_u64().unwrap(),
        )
    };
    assert_eq!(outcome("alice", 0), ("fail-global".to_owned(), 30004));
    assert_eq!(outcome("bob", 0), ("fail-both".to_owned(), 30026));
    assert_eq!(outcome("carol", 0), ("pass".to_owned(), 10014));
    assert_eq!(outcome("carol", 1), ("fail-both".to_owned(), 30026));
    assert_eq!(outcome("carol", 2), ("fail-user-name".to_owned(), 30021));
    assert_eq!(outcome("carol", 3), ("pass".to_owned(), 10014));
    assert_eq!(outcome("dave", 0), ("audit-pass-global".to_owned(), 30009));
    assert_eq!(outcome("erin", 0), ("audit-pass-both".to_owned(), 30028));
    assert_eq!(outcome("frank", 0), ("pass".to_owned(), 10014));
}

#[test]
fn internal_errors_follow_the_configured_choice() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let log = dir.path().join("log.jsonl");
    for (choice, code) in [("open", 0), ("closed", 1)] {
        let o = Command::new(env!("CARGO_BIN_EXE_pwprotect"))
            .args([
                "samba-check",
                "--banned",
                missing.to_str().unwrap(),
                "--on-error",
                choice,
                "--log",
                log.to_str().unwrap(),
            ])
            .env("SAMBA_CPS_ACCOUNT_NAME", "alice")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{choice}: {}", text(&o));
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log.lines().count(), 2);
    assert!(
        log.lines()
            .all(|l| l.contains("\"event\":10012") && l.contains("missing.txt")),
        "{log}"
    );
}
