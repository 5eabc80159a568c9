//! Netstrings (D. J. Bernstein, <http://cr.yp.to/proto/netstrings.txt>): `<len>:<bytes>,`.
//!
//! [`decode`] is incremental: given the bytes buffered so far it returns a whole frame, says that
//! more bytes are needed, or says the stream is malformed. The length is checked against the cap
//! while its digits are read, before the caller buffers the payload, so a hostile peer cannot make
//! the reader grow without bound.

/// A decoded frame: the payload's position in the buffer, and how many bytes to drop.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Frame {
    /// Offset of the payload in the buffer.
    pub start: usize,
    /// Payload length.
    pub len: usize,
    /// Length of the whole frame, including the prefix and the comma.
    pub consumed: usize,
}

impl Frame {
    /// The payload within `buf` (the buffer the frame was decoded from).
    pub fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.start + self.len]
    }
}

/// Why the stream is not a netstring. Every case is fatal for the connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NetstringError {
    /// The frame does not start with a digit, or the length has a non-digit before `:`.
    #[error("netstring length has a non-digit byte 0x{0:02x}")]
    BadLength(u8),
    /// A length with a leading zero (`01:`), which the format forbids.
    #[error("netstring length has a leading zero")]
    LeadingZero,
    /// The announced length exceeds the cap.
    #[error("netstring length exceeds the limit of {max} bytes")]
    TooLong {
        /// The cap.
        max: usize,
    },
    /// The payload is not followed by `,`.
    #[error("netstring payload is not followed by ','")]
    MissingComma,
}

/// Decodes the first frame in `buf`. `Ok(None)` means "need more bytes"; it is returned only
/// while the bytes seen so far can still begin a valid frame no longer than `max_len`.
pub fn decode(buf: &[u8], max_len: usize) -> Result<Option<Frame>, NetstringError> {
    let mut len: usize = 0;
    let mut digits = 0;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                if digits == 1 && len == 0 {
                    return Err(NetstringError::LeadingZero);
                }
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(b - b'0')))
                    .filter(|&l| l <= max_len)
                    .ok_or(NetstringError::TooLong { max: max_len })?;
                digits += 1;
            }
            b':' if digits > 0 => {
                let start = i + 1;
                let end = start + len;
                return match buf.get(end) {
                    None => Ok(None),
                    Some(b',') => Ok(Some(Frame {
                        start,
                        len,
                        consumed: end + 1,
                    })),
                    Some(_) => Err(NetstringError::MissingComma),
                };
            }
            other => return Err(NetstringError::BadLength(other)),
        }
    }
    Ok(None)
}

/// Appends `payload` as a netstring to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(payload);
    out.push(b',');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        for (input, expected) in [
            (
                &b"19:postfix example.com,"[..],
                Ok(Some((&b"postfix example.com"[..], 23))),
            ),
            (b"0:,", Ok(Some((&b""[..], 3)))),
            (b"3:abc,rest", Ok(Some((&b"abc"[..], 6)))),
            (b"", Ok(None)),
            (b"1", Ok(None)),
            (b"19:postfix", Ok(None)),
            (b"3:abc", Ok(None)),
            (b"3:abcd", Err(NetstringError::MissingComma)),
            (b":abc,", Err(NetstringError::BadLength(b':'))),
            (b"x:", Err(NetstringError::BadLength(b'x'))),
            (b"01:a,", Err(NetstringError::LeadingZero)),
            (b"101:", Err(NetstringError::TooLong { max: 100 })),
            (
                b"99999999999999999999999:",
                Err(NetstringError::TooLong { max: 100 }),
            ),
        ] {
            let got = decode(input, 100).map(|o| o.map(|f| (f.payload(input), f.consumed)));
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn oversize_is_refused_before_the_payload_arrives() {
        // The third digit already exceeds the cap: no need to wait for 1000 bytes.
        assert_eq!(decode(b"100", 99), Err(NetstringError::TooLong { max: 99 }));
    }

    #[test]
    fn encode_then_decode() {
        let mut out = Vec::new();
        encode(b"OK secure", &mut out);
        assert_eq!(out, b"9:OK secure,");
        let f = decode(&out, 100).unwrap().unwrap();
        assert_eq!(f.payload(&out), b"OK secure");
    }
}
