//! What the policy host serves: one policy and one certificate per `mta-sts.<domain>`, built
//! from the policy directory (`<domain>.txt`) and the certificate directory (certbot's layout:
//! `<host>/fullchain.pem`, `<host>/privkey.pem`; one wildcard or multi-name certificate may
//! serve many hosts).
//!
//! Loading never fails as a whole because of one domain: a policy that fails lint, a file too
//! large, a certificate without its key or a key that does not match is refused with one line
//! naming the file, and when a previous load served that domain, its last good copy is kept.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use mailsec_core::mta_sts::{self, policy::MAX_BODY_LEN};
use mailsec_core::{Diagnostic, HostName};
use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

use crate::HOST_LABEL;

/// A directory that cannot be read: nothing can be served from it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct SiteError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// One policy host.
#[derive(Debug)]
pub struct Host {
    /// The policy domain.
    pub domain: String,
    /// The policy as served: CRLF line endings (RFC 8461 §3.2).
    pub body: Bytes,
    /// The certificate chain and key presented for `mta-sts.<domain>`.
    pub key: Arc<CertifiedKey>,
    /// The policy's mode, for the log and `stats`.
    pub mode: String,
}

/// Every host served, by lower-case host name (`mta-sts.example.com`).
#[derive(Debug, Default)]
pub struct Site {
    hosts: HashMap<String, Arc<Host>>,
}

impl Site {
    /// The host of a (lower-case, no trailing dot) name.
    pub fn host(&self, name: &str) -> Option<&Arc<Host>> {
        self.hosts.get(name)
    }

    /// How many hosts are served.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether nothing is served.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The policy domains served, sorted.
    pub fn domains(&self) -> Vec<&str> {
        let mut d: Vec<&str> = self.hosts.values().map(|h| h.domain.as_str()).collect();
        d.sort_unstable();
        d
    }

    /// Some certificate, for a client that names no host or an unknown one (it then gets 404).
    pub fn any_key(&self) -> Option<Arc<CertifiedKey>> {
        self.hosts
            .iter()
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, h)| h.key.clone())
    }
}

/// A load's result: what to serve, and one line for each file refused.
#[derive(Debug)]
pub struct Loaded {
    /// What to serve.
    pub site: Site,
    /// Refused files, one line each (`FILE: why`), with what is served instead.
    pub refused: Vec<String>,
}

/// The policy of a file named `name` (`<domain>.txt`) with content `body`: its domain and the
/// body with CRLF line endings, or why it is refused. Pure.
pub fn policy_file(name: &str, body: &[u8]) -> Result<(HostName, Bytes, String), String> {
    let domain = name
        .strip_suffix(".txt")
        .ok_or_else(|| "not <domain>.txt".to_owned())?;
    let domain =
        HostName::parse(domain).map_err(|e| format!("`{domain}` is not a domain name ({e})"))?;
    if body.len() > MAX_BODY_LEN {
        return Err(format!(
            "{} bytes; senders refuse a policy over {MAX_BODY_LEN} (RFC 8461 §3.3)",
            body.len()
        ));
    }
    let text =
        std::str::from_utf8(body).map_err(|e| format!("not UTF-8 (byte {})", e.valid_up_to()))?;
    // RFC 8461 §3.2: lines end in CRLF; senders accept LF too, but serve the standard form.
    let mut crlf = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        crlf.push_str(line.trim_end_matches('\r'));
        crlf.push_str("\r\n");
    }
    // What senders receive is the CRLF form: its size is the one that counts.
    if crlf.len() > MAX_BODY_LEN {
        return Err(format!(
            "{} bytes with CRLF line endings; senders refuse a policy over {MAX_BODY_LEN} (RFC 8461 §3.3)",
            crlf.len()
        ));
    }
    let linted = mta_sts::lint_policy(crlf.as_bytes());
    let errors: Vec<&Diagnostic> = linted.diagnostics.iter().filter(|d| d.is_error()).collect();
    match (&linted.parsed, errors.first()) {
        (Some(p), None) => Ok((domain, Bytes::from(crlf), p.mode.to_string())),
        (_, Some(d)) => Err(format!(
            "fails lint: {}{} ({})",
            d.line.map(|l| format!("line {l}: ")).unwrap_or_default(),
            d.message,
            d.check
        )),
        (None, None) => Err("not an MTA-STS policy".to_owned()),
    }
}

/// A certificate directory's entry: its chain and key, and the file to name in errors.
struct Cert {
    dir: PathBuf,
    key: Arc<CertifiedKey>,
}

impl Cert {
    fn covers(&self, host: &str) -> bool {
        let Ok(name) = ServerName::try_from(host.to_owned()) else {
            return false;
        };
        self.key.cert.first().is_some_and(|leaf| {
            webpki::EndEntityCert::try_from(leaf)
                .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok())
        })
    }
}

fn load_cert(dir: &Path, provider: &CryptoProvider) -> Result<Cert, String> {
    let chain_file = dir.join("fullchain.pem");
    let key_file = dir.join("privkey.pem");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&chain_file)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| format!("{}: {e}", chain_file.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", chain_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("{}: {e}", key_file.display()))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("{}: {e}", key_file.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| {
        format!(
            "{}: the key does not match {}",
            key_file.display(),
            chain_file.display()
        )
    })?;
    Ok(Cert {
        dir: dir.to_owned(),
        key: Arc::new(certified),
    })
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, SiteError> {
    let err = |source| SiteError {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(err)? {
        out.push(e.map_err(err)?.path());
    }
    out.sort();
    Ok(out)
}

/// Reads both directories. `previous` is what is served now: a domain whose files are refused
/// keeps its entry from it.
pub fn load(
    policy_dir: &Path,
    cert_dir: &Path,
    provider: &CryptoProvider,
    previous: Option<&Site>,
) -> Result<Loaded, SiteError> {
    let mut refused = Vec::new();
    // Certificates: every subdirectory with a chain or a key.
    let mut certs: BTreeMap<String, Cert> = BTreeMap::new();
    for dir in read_dir(cert_dir)? {
        if !dir.is_dir()
            || !(dir.join("fullchain.pem").exists() || dir.join("privkey.pem").exists())
        {
            continue;
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match load_cert(&dir, provider) {
            Ok(c) => {
                certs.insert(name, c);
            }
            Err(e) => refused.push(e),
        }
    }
    let mut hosts = HashMap::new();
    let keep = |hosts: &mut HashMap<String, Arc<Host>>,
                refused: &mut Vec<String>,
                host: &str,
                why: String| {
        match previous.and_then(|p| p.host(host)) {
            Some(old) => {
                hosts.insert(host.to_owned(), old.clone());
                refused.push(format!("{why}; still serving the last good copy"));
            }
            None => refused.push(format!("{why}; not served")),
        }
    };
    for file in read_dir(policy_dir)? {
        let Some(name) = file.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        // Editors' and tools' files beside the policies.
        if name.starts_with('.') || !name.ends_with(".txt") || !file.is_file() {
            continue;
        }
        let host = format!(
            "{HOST_LABEL}{}",
            name.trim_end_matches(".txt").to_ascii_lowercase()
        );
        // A megabyte file is refused without reading it.
        let body = match std::fs::metadata(&file) {
            Ok(m) if m.len() > MAX_BODY_LEN as u64 => Err(format!(
                "{} bytes; senders refuse a policy over {MAX_BODY_LEN} (RFC 8461 §3.3)",
                m.len()
            )),
            Ok(_) => std::fs::read(&file).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let parsed = body.and_then(|b| policy_file(&name, &b));
        let (domain, body, mode) = match parsed {
            Ok(p) => p,
            Err(why) => {
                keep(
                    &mut hosts,
                    &mut refused,
                    &host,
                    format!("{}: {why}", file.display()),
                );
                continue;
            }
        };
        let host = format!("{HOST_LABEL}{domain}");
        let cert = certs
            .get(&host)
            .filter(|c| c.covers(&host))
            .or_else(|| certs.values().find(|c| c.covers(&host)));
        let Some(cert) = cert else {
            let why = match certs.get(&host) {
                Some(c) => format!(
                    "{}: the certificate does not cover {host}",
                    c.dir.join("fullchain.pem").display()
                ),
                None => format!(
                    "{}: no certificate in {} covers {host}",
                    file.display(),
                    cert_dir.display()
                ),
            };
            keep(&mut hosts, &mut refused, &host, why);
            continue;
        };
        hosts.insert(
            host,
            Arc::new(Host {
                domain: domain.to_string(),
                body,
                key: cert.key.clone(),
                mode,
            }),
        );
    }
    Ok(Loaded {
        site: Site { hosts },
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_is_served_with_crlf() {
        let (d, body, mode) = policy_file(
            "Example.COM.txt",
            b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n",
        )
        .unwrap();
        assert_eq!(d.to_string(), "example.com");
        assert_eq!(mode, "enforce");
        assert_eq!(
            &body[..],
            b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 86400\r\n"
        );
        // Already CRLF: unchanged.
        let (_, again, _) = policy_file("example.com.txt", &body).unwrap();
        assert_eq!(again, body);
    }

    #[test]
    fn bad_policies_are_refused_with_the_reason() {
        for (name, body, needle) in [
            (
                "example.com.txt",
                &b"version: STSv1\nmode: force\nmx: a.example\nmax_age: 86400\n"[..],
                "fails lint",
            ),
            ("example.com.txt", b"mode: enforce\n", "fails lint"),
            ("exa mple.txt", b"version: STSv1\n", "not a domain name"),
            ("example.com.txt", b"\xff\xfe", "not UTF-8"),
            ("example.com", b"", "not <domain>.txt"),
        ] {
            let e = policy_file(name, body).unwrap_err();
            assert!(e.contains(needle), "{name}: {e}");
        }
        let big = vec![b'a'; MAX_BODY_LEN + 1];
        assert!(
            policy_file("example.com.txt", &big)
                .unwrap_err()
                .contains("RFC 8461")
        );
    }
}
