//! # pam_pwprotect.so
//!
//! pwprotect's banned-password check in the Linux PAM password stack: `pam_sm_chauthtok`
//! evaluates the new password with `pwprotect-core`, as the Samba agent does, before the
//! module that stores it (`pam_unix`, `pam_sss`, `pam_ldap`):
//!
//! ```text
//! # /etc/pam.d/common-password
//! password requisite pam_pwprotect.so policy_file=/var/lib/pwprotect/policy.json public_key=/etc/pwprotect/policy.pub log=/var/log/pwprotect.log
//! password [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt
//! ```
//!
//! Arguments (`key=value`): `policy_file` and `public_key` (the signed policy that `pwprotect
//! policy fetch` keeps current), or `banned`, `custom`, `threshold`, `mode=audit|enforce`,
//! `strict`; `on_error=open|closed` (default `open`); `log=FILE` for the decision lines. A
//! signed policy that is missing or does not verify means no policy: the password is accepted
//! and the decision line says so (event 30001), as Microsoft's agent does.
//!
//! The decision ([`decide`]) is safe Rust over plain values; the `ffi` module is the only
//! unsafe code: the C entry point, and `pam_get_user`, `pam_get_authtok` and `pam_prompt`.

use std::io::Write as _;

use pwprotect_core::signed::{self, Mode};
use pwprotect_core::{Identity, Policy, Profile, evaluate};

/// What PAM should hear about one new password.
#[derive(Debug)]
pub struct Decision {
    /// Accept the password.
    pub accept: bool,
    /// Shown to the user on a rejection.
    pub message: Option<String>,
    /// The decision line (JSON, never the password).
    pub line: serde_json::Value,
}

/// The module's arguments.
#[derive(Debug, Default)]
struct ModuleArgs {
    policy_file: Option<String>,
    public_key: Option<String>,
    banned: Option<String>,
    custom: Option<String>,
    threshold: Option<u32>,
    mode: Option<Mode>,
    strict: bool,
    fail_closed: bool,
    log: Option<String>,
}

/// The arguments, and the first that could not be read (the others still count, so that
/// `on_error` and `log` apply to that error too).
fn parse_args(args: &[String]) -> (ModuleArgs, Option<String>) {
    let mut m = ModuleArgs::default();
    let mut problem = None;
    for a in args {
        if let Err(e) = parse_arg(&mut m, a) {
            problem.get_or_insert(e);
        }
    }
    (m, problem)
}

fn parse_arg(m: &mut ModuleArgs, a: &str) -> Result<(), String> {
    {
        let (k, v) = a.split_once('=').unwrap_or((a, ""));
        match k {
            "policy_file" => m.policy_file = Some(v.to_owned()),
            "public_key" => m.public_key = Some(v.to_owned()),
            "banned" => m.banned = Some(v.to_owned()),
            "custom" => m.custom = Some(v.to_owned()),
            "threshold" => {
                m.threshold = Some(
                    v.parse()
                        .map_err(|_| format!("threshold={v}: not a number"))?,
                );
            }
            "mode" => {
                m.mode = Some(match v {
                    "audit" => Mode::Audit,
                    "enforce" => Mode::Enforce,
                    _ => return Err(format!("mode={v}: neither audit nor enforce")),
                });
            }
            "strict" => m.strict = true,
            "on_error" => {
                m.fail_closed = match v {
                    "open" => false,
                    "closed" => true,
                    _ => return Err(format!("on_error={v}: neither open nor closed")),
                };
            }
            "log" => m.log = Some(v.to_owned()),
            _ => return Err(format!("unknown argument {k:?}")),
        }
    }
    Ok(())
}

/// Why there is no policy to apply.
enum Load {
    /// The signed policy is missing or does not verify: accept, and say so.
    NoPolicy(String),
    /// Anything else: the `on_error` choice.
    Error(String),
}

fn terms(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn load(m: &ModuleArgs) -> Result<(Policy, Mode), Load> {
    if let Some(file) = &m.policy_file {
        let key = m
            .public_key
            .as_deref()
            .ok_or_else(|| Load::Error("policy_file needs public_key".to_owned()))?;
        let key_text = std::fs::read_to_string(key)
            .map_err(|e| Load::Error(format!("cannot read {key}: {e}")))?;
        let public = signed::parse_key_text(&key_text)
            .ok_or_else(|| Load::Error(format!("{key}: no base64 key")))?;
        let bytes =
            std::fs::read(file).map_err(|e| Load::NoPolicy(format!("cannot read {file}: {e}")))?;
        let doc =
            signed::verify(&bytes, &public).map_err(|e| Load::NoPolicy(format!("{file}: {e}")))?;
        let p = doc
            .policy()
            .map_err(|e| Load::Error(format!("{file}: {e}")))?;
        return Ok((p, doc.mode));
    }
    let global = match &m.banned {
        Some(f) => terms(f).map_err(Load::Error)?,
        None => Vec::new(),
    };
    let custom = match &m.custom {
        Some(f) => terms(f).map_err(Load::Error)?,
        None => Vec::new(),
    };
    // The custom list's limits, as `pwprotect policy build` checks them.
    signed::check_custom(&custom)
        .map_err(|e| Load::Error(format!("{}: {e}", m.custom.as_deref().unwrap_or_default())))?;
    if global.is_empty() && custom.is_empty() {
        return Err(Load::Error(
            "no policy configured: give policy_file and public_key, or banned or custom".to_owned(),
        ));
    }
    let mut p = Policy::new(
        global.iter().map(String::as_str),
        custom.iter().map(String::as_str),
        Profile::Compatible,
    )
    .map_err(|e| Load::Error(e.to_string()))?;
    if let Some(t) = m.threshold {
        p.threshold = t;
    }
    p.strict = m.strict;
    Ok((p, m.mode.unwrap_or(Mode::Enforce)))
}

/// Decides on the new password `password` of `user` under the module arguments `args`, and
/// logs the decision line to `log=` when given. Never fails: an error is a decision too (the
/// `on_error` choice).
pub fn decide(args: &[String], user: &str, password: &[u8]) -> Decision {
    let (m, problem) = parse_args(args);
    if let Some(e) = problem {
        return error(&m, user, &e);
    }
    let d = match load(&m) {
        Ok((policy, mode)) => match std::str::from_utf8(password) {
            Ok(pw) => {
                let identity = Identity {
                    account: Some(user),
                    ..Identity::default()
                };
                let v = evaluate(&policy, pw, &identity);
                let (accept, mut line) = signed::decision(&v, mode, Some(user));
                line["agent"] = "pam".into();
                Decision {
                    accept,
                    message: (!accept).then(|| {
                        "The password contains a banned word or the account name; choose another."
                            .to_owned()
                    }),
                    line,
                }
            }
            Err(_) => return error(&m, user, "the password is not UTF-8"),
        },
        Err(Load::NoPolicy(why)) => Decision {
            accept: true,
            message: None,
            line: serde_json::json!({
                "outcome": "no-policy", "event": 30001, "account": user, "verdict": "accept",
                "error": why, "agent": "pam",
            }),
        },
        Err(Load::Error(why)) => return error(&m, user, &why),
    };
    log(&m, &d.line);
    d
}

fn error(m: &ModuleArgs, user: &str, why: &str) -> Decision {
    let accept = !m.fail_closed;
    let d = Decision {
        accept,
        message: (!accept)
            .then(|| "The password could not be checked; try again later.".to_owned()),
        line: serde_json::json!({
            "outcome": "error", "event": 10012, "account": user, "error": why,
            "verdict": if accept { "accept" } else { "reject" }, "agent": "pam",
        }),
    };
    log(m, &d.line);
    d
}

fn log(m: &ModuleArgs, line: &serde_json::Value) {
    if let Some(path) = &m.log
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The C side: PAM's entry point and the libpam calls, nothing else.
#[allow(unsafe_code)]
mod ffi {
    use std::ffi::{CStr, CString, c_char, c_int, c_void};

    use zeroize::Zeroizing;

    const PAM_SUCCESS: c_int = 0;
    const PAM_AUTHTOK_ERR: c_int = 20;
    const PAM_IGNORE: c_int = 25;
    const PAM_AUTHTOK: c_int = 6;
    const PAM_PRELIM_CHECK: c_int = 0x4000;
    const PAM_UPDATE_AUTHTOK: c_int = 0x2000;
    const PAM_ERROR_MSG: c_int = 3;

    unsafe extern "C" {
        fn pam_get_user(
            pamh: *mut c_void,
            user: *mut *const c_char,
            prompt: *const c_char,
        ) -> c_int;
        fn pam_get_authtok(
            pamh: *mut c_void,
            item: c_int,
            authtok: *mut *const c_char,
            prompt: *const c_char,
        ) -> c_int;
        fn pam_prompt(
            pamh: *mut c_void,
            style: c_int,
            response: *mut *mut c_char,
            fmt: *const c_char,
            ...
        ) -> c_int;
    }

    /// PAM's password-change hook. The first pass (`PAM_PRELIM_CHECK`) has nothing to check;
    /// the second (`PAM_UPDATE_AUTHTOK`) gets the new password (asking for it, twice, unless
    /// an earlier module did) and decides.
    ///
    /// # Safety
    ///
    /// Called by libpam with its handle and `argc` valid C strings in `argv`.
    #[unsafe(no_mangle)]
    #[allow(unreachable_pub)] // exported by name to libpam, not to Rust
    pub unsafe extern "C" fn pam_sm_chauthtok(
        pamh: *mut c_void,
        flags: c_int,
        argc: c_int,
        argv: *const *const c_char,
    ) -> c_int {
        if flags & PAM_PRELIM_CHECK != 0 {
            return PAM_SUCCESS;
        }
        if flags & PAM_UPDATE_AUTHTOK == 0 {
            return PAM_IGNORE;
        }
        let mut args = Vec::new();
        if !argv.is_null() {
            for i in 0..usize::try_from(argc).unwrap_or(0) {
                // SAFETY: libpam passes argc pointers to NUL-terminated strings.
                let a = unsafe { *argv.add(i) };
                if !a.is_null() {
                    // SAFETY: as above.
                    args.push(unsafe { CStr::from_ptr(a) }.to_string_lossy().into_owned());
                }
            }
        }
        let mut user: *const c_char = std::ptr::null();
        // SAFETY: a valid handle and out-pointer; libpam owns the string it sets.
        let user = if unsafe { pam_get_user(pamh, &mut user, std::ptr::null()) } == PAM_SUCCESS
            && !user.is_null()
        {
            // SAFETY: set by libpam to a NUL-terminated string.
            unsafe { CStr::from_ptr(user) }
                .to_string_lossy()
                .into_owned()
        } else {
            String::new()
        };
        let mut token: *const c_char = std::ptr::null();
        // SAFETY: as above; libpam asks for the new password (and its confirmation) when no
        // earlier module has set PAM_AUTHTOK.
        let rc = unsafe { pam_get_authtok(pamh, PAM_AUTHTOK, &mut token, std::ptr::null()) };
        if rc != PAM_SUCCESS {
            return rc;
        }
        if token.is_null() {
            return PAM_AUTHTOK_ERR;
        }
        // SAFETY: set by libpam to a NUL-terminated string; copied, the copy zeroised.
        let password = Zeroizing::new(unsafe { CStr::from_ptr(token) }.to_bytes().to_vec());
        let decided = std::panic::catch_unwind(|| super::decide(&args, &user, &password));
        let Ok(d) = decided else {
            return PAM_AUTHTOK_ERR;
        };
        if let Some(msg) = d.message.and_then(|m| CString::new(m).ok()) {
            // SAFETY: a constant format with one string argument; an error message has no
            // response (pam_error(3) is this call as a macro).
            unsafe {
                pam_prompt(
                    pamh,
                    PAM_ERROR_MSG,
                    std::ptr::null_mut(),
                    c"%s".as_ptr(),
                    msg.as_ptr(),
                )
            };
        }
        if d.accept {
            PAM_SUCCESS
        } else {
            PAM_AUTHTOK_ERR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments_are_checked_and_errors_follow_on_error() {
        let d = decide(&args(&["colour=blue"]), "jdoe", b"x");
        assert!(d.accept);
        assert_eq!(d.line["outcome"], "error");
        let d = decide(&args(&["on_error=closed"]), "jdoe", b"x");
        assert!(!d.accept, "no policy configured, failing closed");
        assert_eq!(d.line["event"], 10012);
        assert!(d.message.is_some());
    }

    #[test]
    fn the_custom_list_keeps_its_limits() {
        let dir = tempfile::tempdir().unwrap();
        let custom = dir.path().join("custom.txt");
        std::fs::write(&custom, "contoso\nabc\n").unwrap();
        let d = decide(
            &args(&[&format!("custom={}", custom.display()), "on_error=closed"]),
            "jdoe",
            b"Whatever-99",
        );
        assert!(!d.accept);
        assert_eq!(d.line["outcome"], "error");
        let why = d.line["error"].as_str().unwrap();
        assert!(why.contains("custom term 2 has 3 characters"), "{why}");
    }

    #[test]
    fn a_missing_signed_policy_accepts_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("policy.pub");
        std::fs::write(&key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
        let d = decide(
            &args(&[
                &format!("policy_file={}", dir.path().join("none.json").display()),
                &format!("public_key={}", key.display()),
                "on_error=closed",
            ]),
            "jdoe",
            b"Summer2019",
        );
        assert!(d.accept);
        assert_eq!(d.line["outcome"], "no-policy");
        assert_eq!(d.line["event"], 30001);
    }
}
