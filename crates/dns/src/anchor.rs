//! Trust anchors: the IANA root keys built into hickory, or a file of DNSKEY or DS lines (for
//! labs and private roots).

use std::path::{Path, PathBuf};

use hickory_proto::dnssec::TrustAnchors;
use hickory_proto::dnssec::rdata::{DNSSECRData, DS};
use hickory_proto::rr::{Name, RData, RecordType};

/// Where the validator's trust comes from.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub enum TrustAnchorSource {
    /// The IANA root zone KSKs built into hickory.
    #[default]
    IanaRoot,
    /// A file with `. [ttl] [IN] DNSKEY ...` or `. [ttl] [IN] DS ...` lines for the root.
    File(PathBuf),
}

/// Why a trust anchor file is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// The file cannot be read.
    #[error("cannot read trust anchor {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A line is not a DNSKEY or DS record for the root.
    #[error("trust anchor {path}, line {line}: {reason}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file holds no key.
    #[error("trust anchor {0} holds no DNSKEY or DS line")]
    Empty(PathBuf),
    /// DS lines were given but no root DNSKEY matched them.
    #[error("no root DNSKEY served by the resolver matches the DS records of {0}")]
    NoMatchingKey(PathBuf),
}

/// A parsed anchor file: keys to trust directly, and DS records still to be matched against the
/// root DNSKEY set.
pub(crate) struct ParsedAnchor {
    pub(crate) keys: TrustAnchors,
    pub(crate) ds: Vec<DS>,
}

/// Parses an anchor file: DNSKEY lines (`. 300 IN DNSKEY 257 3 13 base64`) or DS lines
/// (`. IN DS 20326 8 2 hex`), `;` comments and blank lines.
pub(crate) fn parse_file(path: &Path) -> Result<ParsedAnchor, AnchorError> {
    let text = std::fs::read_to_string(path).map_err(|source| AnchorError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_text(&text, path)
}

pub(crate) fn parse_text(text: &str, path: &Path) -> Result<ParsedAnchor, AnchorError> {
    let mut keys = TrustAnchors::empty();
    let mut ds = Vec::new();
    let syntax = |line, reason: String| AnchorError::Syntax {
        path: path.to_owned(),
        line,
        reason,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(type_pos) = tokens
            .iter()
            .position(|t| t.eq_ignore_ascii_case("DNSKEY") || t.eq_ignore_ascii_case("DS"))
        else {
            return Err(syntax(i + 1, "neither a DNSKEY nor a DS record".into()));
        };
        if tokens[0] != "." {
            return Err(syntax(
                i + 1,
                format!(
                    "owner {} is not the root `.`; only root anchors are supported",
                    mailsec_core::diag::quote(tokens[0])
                ),
            ));
        }
        if tokens[type_pos].eq_ignore_ascii_case("DNSKEY") {
            let one: TrustAnchors = line
                .parse()
                .map_err(|e| syntax(i + 1, format!("bad DNSKEY: {e}")))?;
            for k in 0..one.len() {
                if let Some(key) = one.get(k) {
                    keys.insert(key);
                }
            }
        } else {
            let rdata = tokens[type_pos + 1..].join(" ");
            match RData::try_from_str(RecordType::DS, &rdata) {
                Ok(RData::DNSSEC(DNSSECRData::DS(d))) => ds.push(d),
                Ok(_) => return Err(syntax(i + 1, "bad DS".into())),
                Err(e) => return Err(syntax(i + 1, format!("bad DS: {e}"))),
            }
        }
    }
    if keys.is_empty() && ds.is_empty() {
        return Err(AnchorError::Empty(path.to_owned()));
    }
    Ok(ParsedAnchor { keys, ds })
}

/// Adds to `keys` every root DNSKEY (fetched without validation) that one of `ds` covers.
pub(crate) fn match_ds(
    keys: &mut TrustAnchors,
    ds: &[DS],
    root_keys: &[hickory_proto::dnssec::rdata::DNSKEY],
) -> usize {
    let root = Name::root();
    let mut added = 0;
    for key in root_keys {
        if ds.iter().any(|d| d.covers(&root, key).unwrap_or(false)) && keys.insert(key.public_key())
        {
            added += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedAnchor, AnchorError> {
        parse_text(text, Path::new("anchor"))
    }

    #[test]
    fn accepted_forms() {
        let dnskey = ". 300 IN DNSKEY 257 3 13 OShgl0jY99Ot+608NF+u14FTcvoLc/cpz1arH0A2eu93kT9i2npPFoOAlbUbLgeFHgsy+KipfPhLGlL6MW4uHQ==";
        let p = parse(&format!("; a comment\n\n{dnskey}\n")).unwrap();
        assert_eq!((p.keys.len(), p.ds.len()), (1, 0));
        let p = parse(
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
        )
        .unwrap();
        assert_eq!((p.keys.len(), p.ds.len()), (0, 1));
    }

    #[test]
    fn refused_forms_name_the_line() {
        for (text, line) in [
            ("example. IN DS 1 8 2 00\n", 1),
            ("\n. IN A 192.0.2.1\n", 2),
            (". IN DS 1 8 2 zz\n", 1),
        ] {
            match parse(text) {
                Err(AnchorError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {:?}", other.map(|_| ())),
            }
        }
        assert!(matches!(parse("; nothing\n"), Err(AnchorError::Empty(_))));
        // A long owner is quoted as an excerpt.
        let long = format!("{} IN DS 1 8 2 00\n", "x".repeat(100_000));
        let err = parse(&long).err().unwrap().to_string();
        assert!(err.len() < 200, "{err}");
    }
}
