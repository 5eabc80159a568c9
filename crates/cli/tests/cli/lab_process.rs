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

#[test]
fn lab_list_includes_the_generated_domains_with_their_verdicts() {
    let o = mailsec(&["lab", "--scale", "50", "--list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let scenarios = mailsec_lab::scenario::SCENARIOS.len();
    assert_eq!(rows.len(), scenarios + 50);
    for (i, row) in rows[scenarios..].iter().enumerate() {
        let i = i + 1;
        assert_eq!(row["domain"], format!("d{i}.scale.test"));
        assert_eq!(row["details"]["index"], i);
        let expected = if i % 25 == 0 {
            "defer (starttls-not-supported)"
        } else if i % 10 == 0 {
            "defer (tlsa-invalid)"
        } else {
            "deliver (DANE)"
        };
        assert_eq!(row["expected"], expected, "d{i}");
    }
    // The human table lists them too, in the same columns.
    let human = stdout(&mailsec(&["lab", "--scale", "50", "--list"]));
    assert_eq!(human.lines().count(), 1 + scenarios + 50);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("d10.scale.test ") && l.contains("defer (tlsa-invalid)")),
        "{human}"
    );
    // Without --scale, the table alone.
    let plain = stdout(&mailsec(&["lab", "--list"]));
    assert_eq!(plain.lines().count(), 1 + scenarios);
    assert!(!plain.contains("scale.test"));
}

#[test]
fn lab_export_writes_the_generated_domains() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let o = mailsec(&["lab", "--scale", "5", "--export", world.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("and 5 generated domains"),
        "{}",
        stdout(&o)
    );
    let zones = std::fs::read_to_string(world.join("zones.list")).unwrap();
    for i in 1..=5 {
        let line = format!("d{i}.scale.test. signed d{i}.scale.test.zone");
        assert!(zones.lines().any(|l| l == line), "{zones}");
        let zone =
            std::fs::read_to_string(world.join(format!("zones/d{i}.scale.test.zone"))).unwrap();
        assert!(
            zone.contains(&format!("_25._tcp.mx.d{i}.scale.test. 300 IN TLSA 3 1 1 ")),
            "{zone}"
        );
        assert!(world.join(format!("pki/mx.d{i}.scale.test.pem")).is_file());
        assert!(world.join(format!("pki/mx.d{i}.scale.test.key")).is_file());
    }
    // Parents after their children: scale.test., then test. and the root last.
    let origins: Vec<&str> = zones
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(origins[origins.len() - 3..], ["scale.test.", "test.", "."]);
    let scale_zone = std::fs::read_to_string(world.join("zones/scale.test.zone")).unwrap();
    assert!(
        scale_zone.contains("d5.scale.test. 300 IN NS ns.scale.test."),
        "{scale_zone}"
    );
    let mx = std::fs::read_to_string(world.join("mx.list")).unwrap();
    let generated: Vec<&str> = mx.lines().filter(|l| l.contains(".scale.test ")).collect();
    assert_eq!(
        generated,
        [
            "mx.d1.scale.test 127.2.0.1 starttls",
            "mx.d2.scale.test 127.2.0.2 starttls",
            "mx.d3.scale.test 127.2.0.3 starttls",
            "mx.d4.scale.test 127.2.0.4 starttls",
            "mx.d5.scale.test 127.2.0.5 starttls",
        ]
    );
}

#[test]
fn too_low_an_open_files_limit_is_one_line_naming_it() {
    // The scenario hosts and 500 generated ones do not fit in 300 file descriptors.
    let o = Command::new("sh")
        .args([
            "-c",
            "ulimit -n 300 && exec \"$0\" lab --scale 500",
            env!("CARGO_BIN_EXE_mailsec"),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("RLIMIT_NOFILE is 300"), "{err}");
    // One listener per scenario MX host and per generated domain, DNS, HTTPS and the lab's
    // margin of 128 (computed from the table, which grows).
    let hosts: usize = mailsec_lab::scenario::SCENARIOS
        .iter()
        .map(|s| s.mx.len())
        .sum();
    let needed = hosts + 500 + 3 + 128;
    assert!(err.contains(&format!("ulimit -n {needed}")), "{err}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}
