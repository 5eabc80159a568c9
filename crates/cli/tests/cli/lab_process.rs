//! `mailsec lab` as a process: signals, its scenario table, and bind errors.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::dns::lab;
use crate::{mailsec, stderr, stdout};

#[test]
fn sigterm_and_sighup_remove_the_temporary_directory() {
    for signal in ["TERM", "HUP", "INT"] {
        let mut running = lab(&[]);
        let anchor = &running
            .env
            .iter()
            .find(|(k, _)| k == "MAILSEC_TRUST_ANCHOR")
            .unwrap()
            .1;
        let dir = PathBuf::from(anchor).parent().unwrap().to_owned();
        assert!(dir.is_dir(), "{}", dir.display());
        let pid = running.child.id().to_string();
        let kill = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(kill.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = running.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "SIG{signal}: the lab is still running"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0), "SIG{signal}");
        assert!(!dir.exists(), "SIG{signal} left {}", dir.display());
    }
}

#[test]
fn lab_list_columns_fit_their_widest_cell() {
    let o = mailsec(&["lab", "--list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    let col2 = header.find("a conformant sender must").unwrap();
    let col3 = header.find("exercises").unwrap();
    for line in lines {
        // Every cell starts at its column, after at least one space: no cell overflows.
        for col in [col2, col3] {
            assert_eq!(&line[col - 1..col], " ", "{line}");
            assert_ne!(&line[col..=col], " ", "{line}");
        }
    }
}

#[test]
fn a_bind_error_says_the_os_error_once() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = mailsec(&["lab", "--dns-port", &port]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("in use").count(), 1, "{err}");
}
