//! Reading independent tools' verdicts, so that tests compare them with mailsec's in one form:
//! `STATUS/SECURITY`, where STATUS is `NOERROR`, `NXDOMAIN`, `NODATA` or `SERVFAIL` and
//! SECURITY is `secure`, `insecure`, `bogus` or `-`.

/// The verdict of a validating resolver as `dig +dnssec` prints it: the AD flag means secure;
/// SERVFAIL with a DNSSEC extended error (RFC 8914: 6 DNSSEC Bogus, 7 Signature Expired,
/// 9 DNSKEY Missing, 10 RRSIGs Missing, 12 NSEC Missing) means bogus.
///
/// A query that timed out is `TIMEOUT/-`. Any other output without a reply header (the
/// connection was refused, dig printed nothing) is an error of the oracle, never a verdict: a
/// dead resolver must not "agree" with a SERVFAIL.
pub fn dig_verdict(dig: &str) -> Result<String, String> {
    let Some(status) = dig
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .and_then(|s| s.split(',').next())
    else {
        let said = dig.trim();
        // The resolver is up but never answered in time: that is an observation (the lab's
        // timeout scenario), unlike a refused connection or silence from dig itself.
        if said.lines().any(|l| l.contains("timed out")) && !said.contains("refused") {
            return Ok("TIMEOUT/-".to_owned());
        }
        return Err(if said.is_empty() {
            "dig printed nothing".to_owned()
        } else {
            format!(
                "dig printed no reply: {}",
                said.lines().last().unwrap_or(said)
            )
        });
    };
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
    Ok(match status {
        "NOERROR" if answers == 0 => format!("NODATA/{security}"),
        "NOERROR" | "NXDOMAIN" => format!("{status}/{security}"),
        "SERVFAIL" if bogus => "SERVFAIL/bogus".to_owned(),
        other => format!("{other}/-"),
    })
}

#[cfg(test)]
mod tests {
    use super::dig_verdict;

    #[test]
    fn reads_dig_output() {
        let secure = ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n;; flags: qr rd ra ad; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1\n";
        assert_eq!(dig_verdict(secure).unwrap(), "NOERROR/secure");
        let nodata = ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n;; flags: qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 4, ADDITIONAL: 1\n";
        assert_eq!(dig_verdict(nodata).unwrap(), "NODATA/insecure");
        let bogus = ";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1\n;; flags: qr rd ra; QUERY: 1, ANSWER: 0\n; EDE: 6 (DNSSEC Bogus): (validation failure)\n";
        assert_eq!(dig_verdict(bogus).unwrap(), "SERVFAIL/bogus");
        let servfail = ";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1\n;; flags: qr rd ra; QUERY: 1, ANSWER: 0\n";
        assert_eq!(dig_verdict(servfail).unwrap(), "SERVFAIL/-");
        assert_eq!(
            dig_verdict(";; connection timed out; no servers could be reached\n").unwrap(),
            "TIMEOUT/-"
        );
        // A dead resolver is the oracle's failure, not a SERVFAIL that could match mailsec's.
        assert!(
            dig_verdict(";; communications error to 127.0.0.1#53: connection refused\n;; no servers could be reached\n")
                .unwrap_err()
                .contains("no servers")
        );
        assert_eq!(dig_verdict("").unwrap_err(), "dig printed nothing");
    }
}
