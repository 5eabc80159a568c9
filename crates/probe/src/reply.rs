//! Sans-IO parsers for what a mail server says before and after TLS: lines (with a length cap),
//! SMTP replies (RFC 5321 §4.2), IMAP responses (RFC 3501 §7, RFC 9051 §7) and POP3 responses
//! (RFC 1939 §3, RFC 2449 §5).
//!
//! Everything here takes bytes, never blocks and never panics; every buffer it fills is capped
//! by [`ReplyLimits`]. The probe's I/O shell reads bytes, cuts lines with [`split_line`] and
//! feeds them to [`SmtpReplyParser`], [`Pop3MultiLine`] or the IMAP functions.

use std::fmt;

use mailsec_core::diag::quote;

/// Caps on what one reply may hold.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ReplyLimits {
    /// Longest line, its CRLF included. RFC 5321 §4.5.3.1.5 allows 512 octets for an SMTP reply
    /// line; servers exceed it (long banners, EHLO parameters), so the default is 4096.
    pub max_line: usize,
    /// Most lines in one reply (an SMTP multi-line reply, the untagged lines before an IMAP
    /// tagged response, a POP3 multi-line response). Default 256.
    pub max_lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self {
            max_line: 4096,
            max_lines: 256,
        }
    }
}

/// Why bytes from a server are refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line is longer than [`ReplyLimits::max_line`] (or no line end came within it).
    #[error("a line longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A reply has more than [`ReplyLimits::max_lines`] lines.
    #[error("a reply of more than {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// A line that does not have the reply's syntax.
    #[error("not a {protocol} reply line: {}", quote(.line))]
    Malformed {
        /// `SMTP`, `IMAP` or `POP3`.
        protocol: &'static str,
        /// The line, without its line end.
        line: String,
    },
    /// A line of a multi-line SMTP reply with another code than the first line (RFC 5321
    /// §4.2.1: "the reply code on each of the lines MUST be the same").
    #[error("reply code changes within a multi-line reply ({first}, then {})", quote(.line))]
    CodeMismatch {
        /// The code of the first line.
        first: u16,
        /// The offending line.
        line: String,
    },
}

/// Finds the first line of `buf`: `Ok(Some(end))` when a line end (LF, normally preceded by CR)
/// lies within the first `max_line` bytes, `end` being the index after the LF; `Ok(None)` when
/// more bytes are needed; [`ReplyError::LineTooLong`] when the line is longer than `max_line`
/// bytes, whether its end has arrived or not.
pub fn split_line(buf: &[u8], max_line: usize) -> Result<Option<usize>, ReplyError> {
    let window = &buf[..buf.len().min(max_line)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => Ok(Some(i + 1)),
        None if buf.len() >= max_line => Err(ReplyError::LineTooLong { max: max_line }),
        None => Ok(None),
    }
}

/// A line as text: its CRLF (or bare LF) removed, invalid UTF-8 replaced.
pub fn line_text(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// An SMTP reply (RFC 5321 §4.2): a three-digit code and the text of each line.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct SmtpReply {
    /// The reply code (RFC 5321 §4.2.1), 200 to 559.
    pub code: u16,
    /// The text of each line, after the code and its separator (`-` or space).
    pub lines: Vec<String>,
}

impl SmtpReply {
    /// True for a 2yz (positive completion) reply.
    pub fn is_positive(&self) -> bool {
        self.code / 100 == 2
    }

    /// The EHLO keywords with their parameters (RFC 5321 §4.1.1.1): every line but the first,
    /// which carries the server's domain and greeting.
    pub fn ehlo_lines(&self) -> &[String] {
        self.lines.get(1..).unwrap_or(&[])
    }

    /// True when an EHLO reply lists `keyword` (case-insensitive, RFC 5321 §2.4).
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.ehlo_lines().iter().any(|l| {
            l.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }
}

impl fmt::Display for SmtpReply {
    /// The reply as it was sent, lines separated by ` / `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str(" / ")?;
            }
            let sep = if i == last { " " } else { "-" };
            write!(f, "{}{sep}{line}", self.code)?;
        }
        Ok(())
    }
}

/// Assembles an SMTP reply line by line (RFC 5321 §4.2: `Reply-code "-" text` on every line but
/// the last, `Reply-code [SP text]` on the last). Lines are given with or without their CRLF.
#[derive(Clone, Debug)]
pub struct SmtpReplyParser {
    limits: ReplyLimits,
    code: Option<u16>,
    lines: Vec<String>,
}

impl SmtpReplyParser {
    /// A parser for one reply.
    pub fn new(limits: ReplyLimits) -> Self {
        Self {
            limits,
            code: None,
            lines: Vec::new(),
        }
    }

    /// Takes the next line: `Ok(Some(reply))` when it was the last line of the reply, `Ok(None)`
    /// when more lines follow. After a complete reply the parser starts a new one.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<SmtpReply>, ReplyError> {
        if line.len() > self.limits.max_line {
            return Err(ReplyError::LineTooLong {
                max: self.limits.max_line,
            });
        }
        if self.lines.len() >= self.limits.max_lines {
            return Err(ReplyError::TooManyLines {
                max: self.limits.max_lines,
            });
        }
        let text = line_text(line);
        let (code, last, rest) = parse_smtp_line(&text).ok_or_else(|| ReplyError::Malformed {
            protocol: "SMTP",
            line: text.clone(),
        })?;
        match self.code {
            Some(first) if first != code => {
                return Err(ReplyError::CodeMismatch {
                    first,
                    line: text.clone(),
                });
            }
            _ => self.code = Some(code),
        }
        self.lines.push(rest.to_owned());
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(SmtpReply {
            code,
            lines: std::mem::take(&mut self.lines),
        }))
    }
}

/// Parses one whole SMTP reply from the start of `buf`: `Ok(Some((reply, consumed)))` when it is
/// complete, `Ok(None)` when more bytes are needed. What the probe does with a stream, on a
/// buffer (for tests and fuzzing).
pub fn parse_smtp_reply(
    buf: &[u8],
    limits: &ReplyLimits,
) -> Result<Option<(SmtpReply, usize)>, ReplyError> {
    let mut parser = SmtpReplyParser::new(*limits);
    let mut at = 0;
    while let Some(len) = split_line(&buf[at..], limits.max_line)? {
        let line = &buf[at..at + len];
        at += len;
        if let Some(reply) = parser.push_line(line)? {
            return Ok(Some((reply, at)));
        }
    }
    Ok(None)
}

/// `Reply-code` (RFC 5321 §4.2: `%x32-35 %x30-35 %x30-39`), whether the line is the last one
/// (space or nothing after the code) and the text.
fn parse_smtp_line(line: &str) -> Option<(u16, bool, &str)> {
    let b = line.as_bytes();
    let code_ok = b.len() >= 3
        && (b'2'..=b'5').contains(&b[0])
        && (b'0'..=b'5').contains(&b[1])
        && b[2].is_ascii_digit();
    if !code_ok {
        return None;
    }
    let code = u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0');
    match b.get(3) {
        None => Some((code, true, "")),
        Some(b' ') => Some((code, true, &line[4..])),
        Some(b'-') => Some((code, false, &line[4..])),
        Some(_) => None,
    }
}

/// The status of an IMAP greeting (RFC 3501 §7.1).
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImapGreeting {
    /// `* OK`: not authenticated, STARTTLS possible.
    Ok,
    /// `* PREAUTH`: already authenticated; STARTTLS is not allowed (RFC 3501 §6.2.1).
    Preauth,
    /// `* BYE`: the server refuses the connection.
    Bye,
}

/// Parses an IMAP greeting line (`* OK ...`, `* PREAUTH ...`, `* BYE ...`).
pub fn imap_greeting(line: &str) -> Result<ImapGreeting, ReplyError> {
    let malformed = || ReplyError::Malformed {
        protocol: "IMAP",
        line: line.to_owned(),
    };
    let rest = line.strip_prefix("* ").ok_or_else(malformed)?;
    match first_word(rest).to_ascii_uppercase().as_str() {
        "OK" => Ok(ImapGreeting::Ok),
        "PREAUTH" => Ok(ImapGreeting::Preauth),
        "BYE" => Ok(ImapGreeting::Bye),
        _ => Err(malformed()),
    }
}

/// The result of a tagged IMAP command (RFC 3501 §7.1).
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImapStatus {
    /// `OK`: success.
    Ok,
    /// `NO`: failure.
    No,
    /// `BAD`: protocol error.
    Bad,
}

/// The status of `line` when it is the tagged response to the command tagged `tag`;
/// `Ok(None)` for any other line (untagged data, continuation); an error for a tagged line
/// whose status is none of `OK`, `NO`, `BAD`.
pub fn imap_tagged(line: &str, tag: &str) -> Result<Option<ImapStatus>, ReplyError> {
    let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) else {
        return Ok(None);
    };
    match first_word(rest).to_ascii_uppercase().as_str() {
        "OK" => Ok(Some(ImapStatus::Ok)),
        "NO" => Ok(Some(ImapStatus::No)),
        "BAD" => Ok(Some(ImapStatus::Bad)),
        _ => Err(ReplyError::Malformed {
            protocol: "IMAP",
            line: line.to_owned(),
        }),
    }
}

/// The capabilities of an untagged `* CAPABILITY ...` response, or of a `[CAPABILITY ...]`
/// response code in a greeting or tagged `OK` (RFC 3501 §7.2.1, §7.1); `None` for other lines.
pub fn imap_capabilities(line: &str) -> Option<Vec<String>> {
    let list = if let Some(rest) = line.strip_prefix("* ") {
        let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
        if word.eq_ignore_ascii_case("CAPABILITY") {
            after
        } else {
            let open = after.find('[')?;
            let code = &after[open + 1..];
            let code = &code[..code.find(']')?];
            let (word, list) = code.split_once(' ').unwrap_or((code, ""));
            if !word.eq_ignore_ascii_case("CAPABILITY") {
                return None;
            }
            list
        }
    } else {
        return None;
    };
    Some(list.split_ascii_whitespace().map(str::to_owned).collect())
}

/// True when an IMAP capability list contains `STARTTLS` (case-insensitive).
pub fn imap_offers_starttls(capabilities: &[String]) -> bool {
    capabilities
        .iter()
        .any(|c| c.eq_ignore_ascii_case("STARTTLS"))
}

/// The status indicator of a POP3 response (RFC 1939 §3).
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
pub enum Pop3Status {
    /// `+OK`.
    #[serde(rename = "+OK")]
    Ok,
    /// `-ERR`.
    #[serde(rename = "-ERR")]
    Err,
}

/// Parses the status of a POP3 single-line response or of the first line of a multi-line one.
pub fn pop3_status(line: &str) -> Result<Pop3Status, ReplyError> {
    let word = first_word(line);
    if word.eq_ignore_ascii_case("+OK") {
        Ok(Pop3Status::Ok)
    } else if word.eq_ignore_ascii_case("-ERR") {
        Ok(Pop3Status::Err)
    } else {
        Err(ReplyError::Malformed {
            protocol: "POP3",
            line: line.to_owned(),
        })
    }
}

/// Collects the body of a POP3 multi-line response (RFC 1939 §3): lines up to the one holding a
/// single `.`, byte-stuffing removed.
#[derive(Clone, Debug)]
pub struct Pop3MultiLine {
    limits: ReplyLimits,
    lines: Vec<String>,
}

impl Pop3MultiLine {
    /// A collector for one response body (the `+OK` line already read).
    pub fn new(limits: ReplyLimits) -> Self {
        Self {
            limits,
            lines: Vec::new(),
        }
    }

    /// Takes the next line: `Ok(Some(lines))` at the terminating `.`.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Vec<String>>, ReplyError> {
        if line.len() > self.limits.max_line {
            return Err(ReplyError::LineTooLong {
                max: self.limits.max_line,
            });
        }
        let text = line_text(line);
        if text == "." {
            return Ok(Some(std::mem::take(&mut self.lines)));
        }
        if self.lines.len() >= self.limits.max_lines {
            return Err(ReplyError::TooManyLines {
                max: self.limits.max_lines,
            });
        }
        let unstuffed = text.strip_prefix('.').unwrap_or(&text);
        self.lines.push(unstuffed.to_owned());
        Ok(None)
    }
}

/// True when POP3 `CAPA` lines list `STLS` (RFC 2595 §4).
pub fn pop3_offers_stls(capabilities: &[String]) -> bool {
    capabilities
        .iter()
        .any(|c| first_word(c).eq_ignore_ascii_case("STLS"))
}

fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ReplyLimits {
        ReplyLimits::default()
    }

    #[test]
    fn smtp_replies() {
        for (input, code, lines, consumed) in [
            (
                &b"220 mx.example ESMTP\r\n"[..],
                220,
                &["mx.example ESMTP"][..],
                22,
            ),
            (b"250\r\n", 250, &[""], 5),
            (b"250 \r\n", 250, &[""], 6),
            (b"220 bare LF\n", 220, &["bare LF"], 12),
            (
                b"250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\nrest",
                250,
                &["mx.example", "PIPELINING", "STARTTLS"],
                46,
            ),
            (b"250-\r\n250 x\r\n", 250, &["", "x"], 13),
            (b"554 5.3.2 no\xff\r\n", 554, &["5.3.2 no\u{fffd}"], 15),
        ] {
            let (reply, n) = parse_smtp_reply(input, &limits()).unwrap().unwrap();
            assert_eq!((reply.code, n), (code, consumed), "{input:?}");
            assert_eq!(reply.lines, lines, "{input:?}");
        }
    }

    #[test]
    fn smtp_incomplete_and_errors() {
        for input in [
            &b""[..],
            b"220",
            b"220 x",
            b"250-a\r\n250-b\r\n",
            b"250-a\r\n25",
        ] {
            assert_eq!(parse_smtp_reply(input, &limits()), Ok(None), "{input:?}");
        }
        for (input, want) in [
            (&b"HTTP/1.1 400\r\n"[..], "Malformed"),
            (b"2500 x\r\n", "Malformed"),
            (b"600 x\r\n", "Malformed"),
            (b"260 x\r\n", "Malformed"),
            (b"1xx\r\n", "Malformed"),
            (b"\r\n", "Malformed"),
            (b"250-a\r\n251 b\r\n", "CodeMismatch"),
        ] {
            let e = parse_smtp_reply(input, &limits()).unwrap_err();
            assert!(format!("{e:?}").starts_with(want), "{input:?}: {e:?}");
        }
    }

    #[test]
    fn smtp_limits() {
        let small = ReplyLimits {
            max_line: 16,
            max_lines: 3,
        };
        // The line end must come within max_line bytes, CRLF included.
        assert!(
            parse_smtp_reply(b"220 0123456789\r\n", &small)
                .unwrap()
                .is_some()
        );
        for input in [&b"220 01234567890\r\n"[..], b"220 0123456789012345"] {
            assert_eq!(
                parse_smtp_reply(input, &small),
                Err(ReplyError::LineTooLong { max: 16 }),
                "{input:?}"
            );
        }
        assert!(parse_smtp_reply(b"250-a\r\n250-b\r\n250 c\r\n", &small).is_ok());
        assert_eq!(
            parse_smtp_reply(b"250-a\r\n250-b\r\n250-c\r\n250 d\r\n", &small),
            Err(ReplyError::TooManyLines { max: 3 })
        );
    }

    #[test]
    fn smtp_parser_starts_over_after_a_reply() {
        let mut p = SmtpReplyParser::new(limits());
        assert_eq!(p.push_line(b"250-a\r\n"), Ok(None));
        let r = p.push_line(b"250 b\r\n").unwrap().unwrap();
        assert_eq!(r.to_string(), "250-a / 250 b");
        let r = p.push_line(b"221 bye").unwrap().unwrap();
        assert_eq!((r.code, r.to_string()), (221, "221 bye".to_owned()));
    }

    #[test]
    fn ehlo_extensions() {
        let (r, _) = parse_smtp_reply(
            b"250-mx.example STARTTLS\r\n250-SIZE 1000\r\n250 starttls\r\n",
            &limits(),
        )
        .unwrap()
        .unwrap();
        assert!(r.has_extension("STARTTLS"));
        assert!(r.has_extension("size"));
        assert!(!r.has_extension("mx.example"));
        assert_eq!(r.ehlo_lines(), ["SIZE 1000", "starttls"]);
        let (r, _) = parse_smtp_reply(b"250 mx.example STARTTLS\r\n", &limits())
            .unwrap()
            .unwrap();
        assert!(
            !r.has_extension("STARTTLS"),
            "the domain line is no extension"
        );
    }

    #[test]
    fn imap_lines() {
        for (line, want) in [
            (
                "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready",
                Ok(ImapGreeting::Ok),
            ),
            ("* ok hi", Ok(ImapGreeting::Ok)),
            ("* PREAUTH hi", Ok(ImapGreeting::Preauth)),
            ("* BYE go away", Ok(ImapGreeting::Bye)),
        ] {
            assert_eq!(imap_greeting(line), want, "{line}");
        }
        for line in ["+OK pop3", "* NO", "", "*"] {
            assert!(imap_greeting(line).is_err(), "{line}");
        }
        assert_eq!(imap_tagged("a OK done", "a"), Ok(Some(ImapStatus::Ok)));
        assert_eq!(imap_tagged("b NO [x] no", "b"), Ok(Some(ImapStatus::No)));
        assert_eq!(imap_tagged("b bad", "b"), Ok(Some(ImapStatus::Bad)));
        assert_eq!(imap_tagged("* OK x", "a"), Ok(None));
        assert_eq!(imap_tagged("ab OK x", "a"), Ok(None));
        assert!(imap_tagged("a WHAT", "a").is_err());
        for (line, want) in [
            (
                "* CAPABILITY IMAP4rev1 STARTTLS",
                Some(&["IMAP4rev1", "STARTTLS"][..]),
            ),
            ("* capability", Some(&[])),
            (
                "* OK [CAPABILITY IMAP4rev2 LOGINDISABLED] hi",
                Some(&["IMAP4rev2", "LOGINDISABLED"]),
            ),
            ("* OK [ALERT] hi", None),
            ("* OK [CAPABILITY", None),
            ("a OK [CAPABILITY X] done", None),
            ("* 3 EXISTS", None),
        ] {
            let got = imap_capabilities(line);
            assert_eq!(
                got.as_deref(),
                want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .as_deref(),
                "{line}"
            );
        }
        assert!(imap_offers_starttls(&["starttls".into()]));
        assert!(!imap_offers_starttls(&["STARTTLSX".into()]));
    }

    #[test]
    fn pop3_lines() {
        assert_eq!(pop3_status("+OK ready"), Ok(Pop3Status::Ok));
        assert_eq!(pop3_status("-ERR no"), Ok(Pop3Status::Err));
        assert_eq!(pop3_status("+ok"), Ok(Pop3Status::Ok));
        assert!(pop3_status("* OK imap").is_err());
        let mut m = Pop3MultiLine::new(ReplyLimits {
            max_line: 64,
            max_lines: 2,
        });
        assert_eq!(m.push_line(b"STLS\r\n"), Ok(None));
        assert_eq!(m.push_line(b"..dot\r\n"), Ok(None));
        assert_eq!(
            m.push_line(b".\r\n"),
            Ok(Some(vec!["STLS".to_owned(), ".dot".to_owned()]))
        );
        assert_eq!(m.push_line(b"a\r\n"), Ok(None));
        assert_eq!(m.push_line(b"b\r\n"), Ok(None));
        assert_eq!(
            m.push_line(b"c\r\n"),
            Err(ReplyError::TooManyLines { max: 2 })
        );
        assert!(pop3_offers_stls(&["stls".into(), "USER".into()]));
        assert!(!pop3_offers_stls(&["USER".into()]));
    }

    #[test]
    fn lines_are_cut_within_the_limit() {
        assert_eq!(split_line(b"ab\r\ncd", 8), Ok(Some(4)));
        assert_eq!(split_line(b"ab", 8), Ok(None));
        assert_eq!(
            split_line(b"abcdefgh", 8),
            Err(ReplyError::LineTooLong { max: 8 })
        );
        assert_eq!(split_line(b"abcdefg\n", 8), Ok(Some(8)));
        assert_eq!(
            split_line(b"abcdefgh\n", 8),
            Err(ReplyError::LineTooLong { max: 8 })
        );
        assert_eq!(line_text(b"a\r\n"), "a");
        assert_eq!(line_text(b"a\n"), "a");
        assert_eq!(line_text(b"a\r\r\n"), "a\r");
    }
}
