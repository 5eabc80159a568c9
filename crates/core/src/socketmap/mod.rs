//! The Postfix socketmap protocol (`socketmap_table(5)`): netstring framing, requests
//! (`name key`) and replies (`OK data`, `NOTFOUND `, `TEMP`, `TIMEOUT`, `PERM`).

pub mod netstring;
pub mod policy;

use std::fmt;

pub use netstring::{Frame, NetstringError, decode, encode};

/// Largest reply payload Postfix accepts (`socketmap_table(5)`: 100000 characters).
pub const MAX_REPLY_LEN: usize = 100_000;

/// A lookup request: the map name and the key.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Request {
    /// The socketmap name (what follows the last `:` in `socketmap:inet:host:port:name`).
    pub name: String,
    /// The lookup key, e.g. the next-hop domain.
    pub key: String,
}

impl Request {
    /// Parses a netstring payload `name SP key`.
    pub fn parse(payload: &[u8]) -> Result<Self, RequestError> {
        let text = std::str::from_utf8(payload).map_err(|_| RequestError::NotUtf8)?;
        let (name, key) = text.split_once(' ').ok_or(RequestError::NoSpace)?;
        if name.is_empty() {
            return Err(RequestError::EmptyName);
        }
        if key.is_empty() {
            return Err(RequestError::EmptyKey);
        }
        Ok(Self {
            name: name.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// Why a request payload is refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not UTF-8.
    #[error("request is not UTF-8")]
    NotUtf8,
    /// No space between name and key.
    #[error("request has no space between name and key")]
    NoSpace,
    /// The name is empty.
    #[error("request has an empty map name")]
    EmptyName,
    /// The key is empty.
    #[error("request has an empty key")]
    EmptyKey,
}

/// A reply (`socketmap_table(5)`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Reply {
    /// Found: the table value.
    Ok(String),
    /// Not found.
    NotFound,
    /// Temporary failure: Postfix defers the delivery.
    Temp(String),
    /// Timeout.
    Timeout(String),
    /// Permanent failure.
    Perm(String),
}

impl Reply {
    /// The reply as a netstring, truncated to [`MAX_REPLY_LEN`] at a character boundary.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut text = self.to_string();
        if text.len() > MAX_REPLY_LEN {
            let mut end = MAX_REPLY_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        encode(text.as_bytes(), out);
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok(data) => write!(f, "OK {data}"),
            // The trailing space is part of the protocol's example and what Postfix expects.
            Self::NotFound => f.write_str("NOTFOUND "),
            Self::Temp(r) => write!(f, "TEMP {r}"),
            Self::Timeout(r) => write!(f, "TIMEOUT {r}"),
            Self::Perm(r) => write!(f, "PERM {r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply() {
        assert_eq!(
            Request::parse(b"postfix example.com").unwrap(),
            Request {
                name: "postfix".into(),
                key: "example.com".into()
            }
        );
        assert_eq!(Request::parse(b"postfix"), Err(RequestError::NoSpace));
        assert_eq!(
            Request::parse(b" example.com"),
            Err(RequestError::EmptyName)
        );
        assert_eq!(Request::parse(b"postfix "), Err(RequestError::EmptyKey));
        assert_eq!(Request::parse(b"a \xff"), Err(RequestError::NotUtf8));
        let mut out = Vec::new();
        Reply::NotFound.encode(&mut out);
        assert_eq!(out, b"9:NOTFOUND ,");
        let mut out = Vec::new();
        Reply::Ok("x".repeat(MAX_REPLY_LEN)).encode(&mut out);
        assert_eq!(out.len(), "100000:".len() + MAX_REPLY_LEN + 1);
    }
}
