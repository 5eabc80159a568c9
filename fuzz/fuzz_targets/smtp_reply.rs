//! What a mail server sends before and after TLS: SMTP replies (RFC 5321 §4.2), IMAP and POP3
//! responses, as the probe reads them, with small limits so that they are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_probe::reply::{
    imap_capabilities, imap_greeting, imap_tagged, line_text, parse_smtp_reply, pop3_status,
    split_line, Pop3MultiLine, ReplyError, ReplyLimits,
};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limits, the rest is the server's stream.
    let Some((&knob, stream)) = data.split_first() else {
        return;
    };
    let limits = ReplyLimits {
        max_line: 4 + usize::from(knob & 0x3f) * 8,
        max_lines: 1 + usize::from(knob >> 6) * 4,
    };
    let mut rest = stream;
    loop {
        match parse_smtp_reply(rest, &limits) {
            Ok(Some((reply, consumed))) => {
                assert!(consumed > 0 && consumed <= rest.len());
                assert!(!reply.lines.is_empty() && reply.lines.len() <= limits.max_lines);
                assert!((200..=559).contains(&reply.code));
                let _ = reply.has_extension("STARTTLS");
                rest = &rest[consumed..];
            }
            Ok(None) => break,
            Err(ReplyError::LineTooLong { max }) => {
                assert_eq!(max, limits.max_line);
                break;
            }
            Err(ReplyError::TooManyLines { max }) => {
                assert_eq!(max, limits.max_lines);
                break;
            }
            Err(_) => break,
        }
    }
    let mut body = Pop3MultiLine::new(limits);
    let mut rest = stream;
    while let Ok(Some(end)) = split_line(rest, limits.max_line) {
        assert!(end <= limits.max_line && end <= rest.len());
        let line = &rest[..end];
        let text = line_text(line);
        let _ = imap_greeting(&text);
        let _ = imap_tagged(&text, "a");
        let _ = imap_capabilities(&text);
        let _ = pop3_status(&text);
        if let Ok(Some(lines)) = body.push_line(line) {
            assert!(lines.len() <= limits.max_lines);
        }
        rest = &rest[end..];
    }
});
