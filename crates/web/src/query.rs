//! The query string of a GET form (`application/x-www-form-urlencoded`, as browsers send it).

use std::fmt;

/// Why a query string cannot be read.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum QueryError {
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadEscape => "the query has a % not followed by two hexadecimal digits",
            Self::NotUtf8 => "the query is not UTF-8",
        })
    }
}

/// The value of the first `name` parameter of `query`, decoded (`+` is a space, `%XX` a byte).
pub(crate) fn param(query: &str, name: &str) -> Result<Option<String>, QueryError> {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key)? == name {
            return decode(value).map(Some);
        }
    }
    Ok(None)
}

fn decode(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(QueryError::BadEscape)?;
                let hex = std::str::from_utf8(hex).map_err(|_| QueryError::BadEscape)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(QueryError::BadEscape);
                }
                out.push(u8::from_str_radix(hex, 16).map_err(|_| QueryError::BadEscape)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_as_browsers_encode_them() {
        for (query, expected) in [
            ("domain=example.com", Ok(Some("example.com"))),
            ("x=1&domain=a.test&domain=b.test", Ok(Some("a.test"))),
            ("domain=b%C3%BCcher.example", Ok(Some("bücher.example"))),
            ("domain=+spaced+", Ok(Some(" spaced "))),
            ("domain=%3Cscript%3E", Ok(Some("<script>"))),
            ("domain", Ok(Some(""))),
            ("other=1", Ok(None)),
            ("", Ok(None)),
            ("domain=%zz", Err(QueryError::BadEscape)),
            ("domain=%4", Err(QueryError::BadEscape)),
            ("domain=%+1", Err(QueryError::BadEscape)),
            ("domain=%ff", Err(QueryError::NotUtf8)),
        ] {
            assert_eq!(
                param(query, "domain").as_ref().map(|o| o.as_deref()),
                expected.as_ref().map(|o| *o),
                "{query}"
            );
        }
    }
}
