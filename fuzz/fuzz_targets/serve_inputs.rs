//! `mailsec serve`'s inputs: policy files (any name, any bytes), access-log lines for `serve
//! stats`, and configuration files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_serve::access::Stats;
use mailsec_serve::config::ServeConfig;
use mailsec_serve::site::policy_file;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line names the file, the rest is its content.
    let (name, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&data[..i]), &data[i + 1..]),
        None => ("example.com.txt".into(), data),
    };
    if let Ok((_, served, _)) = policy_file(&name, body) {
        // What is served ends every line with CRLF and is itself accepted again unchanged.
        assert!(served.ends_with(b"\r\n"));
        let again = policy_file(&name, &served).expect("a served policy is a valid file").1;
        assert_eq!(again, served);
    }
    let mut stats = Stats::default();
    for line in text.lines() {
        stats.add_line(line);
    }
    stats.finish(["example.com"]);
    let _ = ServeConfig::parse(&text, "fuzz");
});
