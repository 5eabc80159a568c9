//! Reading independent tools' verdicts, so that tests compare them with mailsec's in one form:
//! `STATUS/SECURITY`, where STATUS is `NOERROR`, `NXDOMAIN`, `NODATA` or `SERVFAIL` and
//! SECURITY is `secure`, `insecure`, `bogus` or `-`.

/// The verdict of a validating resolver as `dig +dnssec` prints it: the AD flag means secure;
/// SERVFAIL with a DNSSEC extended error (RFC 8914: 6 DNSSEC Bogus, 7 Signature Expired,
/// 9 DNSKEY Missing, 10 RRSIGs Missing, 12 NSEC Missing) means bogus. No reply at all (dig
/// gave up) counts as SERVFAIL: to a client, a resolver that never answers has failed.
pub fn dig_verdict(dig: &str) -> String {
    let status = dig
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .and_then(|s| s.split(',').next())
        .unwrap_or("SERVFAIL");
    let flags = dig
        .lines()
        .find_map(|l| l.strip_prefix(";; flags:"))
        .unwrap_or("");
    let ad = flags
        .split(';')
        .next()
        .is_some_and(|f| f.split_whitespace().any(|w| w == "ad"));
    let answers = dig
        .lines()
        .find_map(|l| l.split("ANSWER: ").nth(1))
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let bogus = dig
        .lines()
        .filter_map(|l| l.split("EDE: ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .any(|code| matches!(code, "6" | "7" | "9" | "10" | "12"));
    let security = if ad { "secure" } else { "insecure" };
    match status {
        "NOERROR" if answers == 0 => format!("NODATA/{security}"),
        "NOERROR" | "NXDOMAIN" => format!("{status}/{security}"),
        "SERVFAIL" if bogus => "SERVFAIL/bogus".to_owned(),
        other => format!("{other}/-"),
    }
}

#[cfg(test)]
mod tests {
    use super::dig_verdict;

    #[test]
    fn reads_dig_output() {
        let secure = ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n;; flags: qr rd ra ad; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1\n";
        assert_eq!(dig_verdict(secure), "NOERROR/secure");
        let nodata = ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n;; flags: qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 4, ADDITIONAL: 1\n";
        assert_eq!(dig_verdict(nodata), "NODATA/insecure");
        let bogus = ";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1\n;; flags: qr rd ra; QUERY: 1, ANSWER: 0\n; EDE: 6 (DNSSEC Bogus): (validation failure)\n";
        assert_eq!(dig_verdict(bogus), "SERVFAIL/bogus");
        assert_eq!(
            dig_verdict(";; connection timed out; no servers could be reached\n"),
            "SERVFAIL/-"
        );
    }
}
