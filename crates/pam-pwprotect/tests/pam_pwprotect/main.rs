//! pam_pwprotect.so in a real PAM stack, driven by pamtester (Debian's package, installed by
//! scripts/install-lab-packages): a service file in /etc/pam.d that loads the module by its
//! path, then `pamtester SERVICE USER chauthtok` with the new password twice on standard input.
//! Needs root (to write /etc/pam.d), as the test command runs.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The module cargo built with this test binary (`target/<profile>/deps/libpam_pwprotect.so`;
/// `cargo test` leaves the copy one level up as it was at the last `cargo build`).
fn module() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let so = exe.parent().unwrap().join("libpam_pwprotect.so");
    assert!(so.exists(), "{} missing", so.display());
    so
}

/// A PAM service of its own for one test, removed when dropped.
struct Service {
    name: String,
    path: PathBuf,
}

impl Service {
    fn new(tag: &str, module_args: &str) -> Self {
        let name = format!("pwprotect-test-{tag}-{}", std::process::id());
        let path = Path::new("/etc/pam.d").join(&name);
        std::fs::write(
            &path,
            format!(
                "auth required pam_permit.so\naccount required pam_permit.so\npassword requisite {} {module_args}\npassword required pam_permit.so\n",
                module().display()
            ),
        )
        .unwrap_or_else(|e| panic!("cannot write {} (the PAM test needs root): {e}", path.display()));
        Self { name, path }
    }

    /// `pamtester SERVICE root chauthtok`, the new password given twice.
    fn change(&self, password: &str) -> Output {
        let mut child = Command::new("pamtester")
            .args([&self.name, "root", "chauthtok"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pamtester (scripts/install-lab-packages installs it)");
        let mut stdin = child.stdin.take().unwrap();
        let _ = write!(stdin, "{password}\n{password}\n");
        drop(stdin);
        child.wait_with_output().unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn last_line(log: &Path) -> Value {
    let text = std::fs::read_to_string(log).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn the_module_rejects_banned_passwords_in_a_real_pam_stack() {
    let dir = tempfile::tempdir().unwrap();
    let (global, custom, log) = (
        dir.path().join("global.txt"),
        dir.path().join("custom.txt"),
        dir.path().join("decisions.log"),
    );
    // `summer` and `2019`, as in the research note's Summer2019 example.
    std::fs::write(&global, "blank\nsummer\n2019\n").unwrap();
    std::fs::write(&custom, "contoso\n").unwrap();
    let svc = Service::new(
        "lists",
        &format!(
            "banned={} custom={} log={}",
            global.display(),
            custom.display(),
            log.display()
        ),
    );
    for (password, ok, outcome) in [
        ("Summer2019", false, "fail-global"),
        ("C0ntos0Blank12", false, "fail-both"),
        ("ContoS0Bl@nkf9!", true, "pass"),
    ] {
        let o = svc.change(password);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.success(), ok, "{password}: {err}");
        let line = last_line(&log);
        assert_eq!(line["outcome"], outcome, "{line}");
        assert_eq!(line["account"], "root");
        assert_eq!(line["agent"], "pam");
        if !ok {
            // PAM's own words for the failure, and the module's message to the user.
            assert!(
                err.contains("Authentication token manipulation error"),
                "{err}"
            );
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(format!("{out}{err}").contains("banned word"), "{out} {err}");
        }
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("C0ntos0Blank12") && !logged.contains("Summer2019"));

    // Audit mode accepts and logs what enforce would have done.
    let audit = Service::new(
        "audit",
        &format!(
            "banned={} mode=audit log={}",
            global.display(),
            log.display()
        ),
    );
    assert!(audit.change("Summer2019").status.success());
    assert_eq!(last_line(&log)["outcome"], "audit-pass-global");
}

#[test]
fn without_its_signed_policy_the_module_accepts_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (key, log) = (
        dir.path().join("policy.pub"),
        dir.path().join("decisions.log"),
    );
    std::fs::write(&key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let svc = Service::new(
        "nopolicy",
        &format!(
            "policy_file={} public_key={} on_error=closed log={}",
            dir.path().join("policy.json").display(),
            key.display(),
            log.display()
        ),
    );
    let o = svc.change("Summer2019");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = last_line(&log);
    assert_eq!(line["outcome"], "no-policy");
    assert_eq!(line["event"], 30001);
    // A configuration error follows on_error=closed.
    let bad = Service::new(
        "bad",
        &format!("colour=blue on_error=closed log={}", log.display()),
    );
    assert!(!bad.change("ContoS0Bl@nkf9!").status.success());
    assert_eq!(last_line(&log)["outcome"], "error");
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_module_applies_a_signed_policy() {
    use base64::Engine as _;
    use pwprotect_core::signed::{Mode, PolicyDocument, ProfileName, sign};
    // RFC 8032 §7.1 TEST 1's key as PKCS#8 v2 (the seed, then the public key).
    let public = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let mut pkcs8 = hex("3053020101300506032b657004220420");
    pkcs8.extend(hex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ));
    pkcs8.extend(hex("a123032100"));
    pkcs8.extend(&public);
    let doc = PolicyDocument {
        version: 1,
        issued_at: 1_800_000_000,
        mode: Mode::Enforce,
        threshold: 5,
        strict: false,
        profile: ProfileName::Compatible,
        global: vec!["blank".into()],
        custom: vec!["contoso".into()],
    };
    let dir = tempfile::tempdir().unwrap();
    let (policy, key, log) = (
        dir.path().join("policy.json"),
        dir.path().join("policy.pub"),
        dir.path().join("decisions.log"),
    );
    std::fs::write(&policy, sign(&doc, &pkcs8).unwrap()).unwrap();
    std::fs::write(
        &key,
        base64::engine::general_purpose::STANDARD.encode(&public),
    )
    .unwrap();
    let svc = Service::new(
        "signed",
        &format!(
            "policy_file={} public_key={} log={}",
            policy.display(),
            key.display(),
            log.display()
        ),
    );
    assert!(!svc.change("C0ntos0Blank12").status.success());
    assert_eq!(last_line(&log)["outcome"], "fail-both");
    assert!(svc.change("ContoS0Bl@nkf9!").status.success());
    assert_eq!(last_line(&log)["outcome"], "pass");
}
