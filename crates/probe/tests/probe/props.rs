//! Property tests of the reply parsers: no panic on any bytes, every limit respected, and a
//! well-formed reply parses to what was sent, however the bytes are split.

use mailsec_probe::reply::{
    Pop3MultiLine, ReplyError, ReplyLimits, SmtpReplyParser, imap_capabilities, imap_greeting,
    imap_tagged, parse_smtp_reply, pop3_status, split_line,
};
use proptest::prelude::*;

/// Bytes biased towards SMTP replies, to reach deep paths more often than pure noise.
fn reply_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"250".to_vec()),
        Just(b"220".to_vec()),
        Just(b"554".to_vec()),
        Just(b"-".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"STARTTLS".to_vec()),
        Just(b"* OK".to_vec()),
        Just(b"+OK".to_vec()),
        Just(b".".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(token, 0..80).prop_map(|v| v.concat())
}

fn limits() -> impl Strategy<Value = ReplyLimits> {
    (1usize..64, 1usize..12).prop_map(|(max_line, max_lines)| ReplyLimits {
        max_line,
        max_lines,
    })
}

proptest! {
    #[test]
    fn smtp_parser_respects_its_limits(
        input in prop_oneof![reply_like(), proptest::collection::vec(any::<u8>(), 0..600)],
        limits in limits(),
    ) {
        match parse_smtp_reply(&input, &limits) {
            Ok(Some((reply, consumed))) => {
                prop_assert!(consumed <= input.len());
                prop_assert!((200..=559).contains(&reply.code));
                prop_assert!(!reply.lines.is_empty() && reply.lines.len() <= limits.max_lines);
                // Each line's text is shorter than its line, which is within max_line.
                for line in &reply.lines {
                    let replaced = line.contains(char::REPLACEMENT_CHARACTER);
                    prop_assert!(line.len() < limits.max_line || replaced);
                }
                let consumed_lines = input[..consumed].iter().filter(|&&b| b == b'\n').count();
                prop_assert_eq!(consumed_lines, reply.lines.len());
                prop_assert_eq!(input[consumed - 1], b'\n');
            }
            Ok(None) => {
                // Incomplete: every line is within the limit, and no more lines than the limit
                // have arrived.
                let lines: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
                let complete = lines.iter().filter(|l| l.ends_with(b"\n")).count();
                prop_assert!(complete <= limits.max_lines);
                for l in &lines {
                    prop_assert!(l.len() <= limits.max_line);
                }
            }
            Err(ReplyError::LineTooLong { max }) => prop_assert_eq!(max, limits.max_line),
            Err(ReplyError::TooManyLines { max }) => prop_assert_eq!(max, limits.max_lines),
            Err(ReplyError::Malformed { .. } | ReplyError::CodeMismatch { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    #[test]
    fn other_parsers_never_panic(input in reply_like(), limits in limits()) {
        let text = String::from_utf8_lossy(&input);
        let _ = split_line(&input, limits.max_line);
        let _ = imap_greeting(&text);
        let _ = imap_tagged(&text, "a");
        let _ = imap_capabilities(&text);
        let _ = pop3_status(&text);
        let mut body = Pop3MultiLine::new(limits);
        let mut parser = SmtpReplyParser::new(limits);
        for line in input.split_inclusive(|&b| b == b'\n') {
            if let Ok(Some(lines)) = body.push_line(line) {
                prop_assert!(lines.len() <= limits.max_lines);
            }
            if let Ok(Some(reply)) = parser.push_line(line) {
                prop_assert!(reply.lines.len() <= limits.max_lines);
            }
        }
    }

    /// A well-formed multi-line reply parses to its code and texts; any prefix that stops
    /// before its end is incomplete, never an error.
    #[test]
    fn well_formed_replies_round_trip(
        code in 200u16..=559,
        texts in proptest::collection::vec("[ -~]{0,30}", 1..8),
        crlf in any::<bool>(),
        trailing in proptest::collection::vec(any::<u8>(), 0..10),
    ) {
        prop_assume!((code / 10) % 10 <= 5);
        let end = if crlf { "\r\n" } else { "\n" };
        let last = texts.len() - 1;
        let mut wire = String::new();
        for (i, t) in texts.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            wire.push_str(&format!("{code}{sep}{t}{end}"));
        }
        let mut input = wire.clone().into_bytes();
        input.extend_from_slice(&trailing);
        let (reply, consumed) = parse_smtp_reply(&input, &ReplyLimits::default())
            .unwrap()
            .unwrap();
        prop_assert_eq!(reply.code, code);
        prop_assert_eq!(&reply.lines, &texts);
        prop_assert_eq!(consumed, wire.len());
        for cut in 0..wire.len() {
            prop_assert_eq!(parse_smtp_reply(&input[..cut], &ReplyLimits::default()), Ok(None));
        }
    }
}
