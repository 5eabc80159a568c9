//! `mailsec serve`'s configuration: TOML, unknown keys refused, checked without starting
//! (`--check-config`). Command-line options override it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a configuration is refused; each is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, a wrong type.
    #[error("{origin}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// toml's message, on one line.
        message: String,
    },
    /// A value that parses but makes no sense.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// The configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// HTTPS listeners, `HOST:PORT`.
    pub listen: Vec<String>,
    /// Plain HTTP listeners, `HOST:PORT`: every request answers 404, since senders must fetch
    /// the policy over HTTPS and never follow a redirect (RFC 8461 §3.3).
    pub http_listen: Vec<String>,
    /// `<domain>.txt` per domain.
    pub policy_dir: Option<PathBuf>,
    /// certbot's layout: `<host>/fullchain.pem` and `<host>/privkey.pem`.
    pub cert_dir: Option<PathBuf>,
    /// The access log (JSON Lines); `-` for standard output; none by default.
    pub access_log: Option<PathBuf>,
    /// Reload when a file of the two directories changes (checked every `watch_interval`
    /// seconds), besides on SIGHUP.
    pub watch: bool,
    /// Seconds between checks for changed files.
    pub watch_interval: u64,
    /// Limits against floods and slow clients.
    pub limits: Limits,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: vec!["[::]:443".to_owned()],
            http_listen: Vec::new(),
            policy_dir: None,
            cert_dir: None,
            access_log: None,
            watch: true,
            watch_interval: 2,
            limits: Limits::default(),
        }
    }
}

/// Limits on connections and requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Seconds for a TLS handshake.
    pub handshake_timeout: u64,
    /// Seconds for a request's headers to arrive, whole (slow clients, "slowloris").
    pub header_timeout: u64,
    /// Bytes of a request's headers; more answer 431.
    pub max_header_bytes: usize,
    /// Seconds a connection may stay open, however busy.
    pub connection_lifetime: u64,
    /// Concurrent HTTP/2 streams a connection.
    pub max_streams: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            handshake_timeout: 10,
            header_timeout: 10,
            max_header_bytes: 16 * 1024,
            connection_lifetime: 300,
            max_streams: 100,
        }
    }
}

impl Limits {
    /// The handshake timeout.
    pub fn handshake(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout)
    }

    /// The header timeout.
    pub fn header(&self) -> Duration {
        Duration::from_secs(self.header_timeout)
    }

    /// The connection lifetime.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.connection_lifetime)
    }
}

impl ServeConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks TOML text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// Checks what serde cannot: addresses, directories named, limits above zero.
    pub fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        for (key, addrs) in [("listen", &self.listen), ("http_listen", &self.http_listen)] {
            for a in addrs {
                if a.parse::<SocketAddr>().is_err() {
                    return Err(invalid(format!("{key} `{a}`: expected IP:PORT")));
                }
            }
        }
        if self.listen.is_empty() {
            return Err(invalid("listen: at least one HTTPS address".to_owned()));
        }
        if self.policy_dir.is_none() {
            return Err(invalid(
                "policy_dir is missing (or --policy-dir)".to_owned(),
            ));
        }
        if self.cert_dir.is_none() {
            return Err(invalid("cert_dir is missing (or --cert-dir)".to_owned()));
        }
        let l = &self.limits;
        for (key, v) in [
            ("limits.max_connections", l.max_connections as u64),
            ("limits.handshake_timeout", l.handshake_timeout),
            ("limits.header_timeout", l.header_timeout),
            ("limits.connection_lifetime", l.connection_lifetime),
            ("limits.max_streams", u64::from(l.max_streams)),
            ("watch_interval", self.watch_interval),
        ] {
            if v == 0 {
                return Err(invalid(format!("{key} must be at least 1")));
            }
        }
        // hyper's smallest read buffer.
        if l.max_header_bytes < 8192 {
            return Err(invalid(
                "limits.max_header_bytes must be at least 8192".to_owned(),
            ));
        }
        Ok(())
    }

    /// The HTTPS addresses.
    pub fn https_addrs(&self) -> Vec<SocketAddr> {
        self.listen.iter().filter_map(|a| a.parse().ok()).collect()
    }

    /// The plain HTTP addresses.
    pub fn http_addrs(&self) -> Vec<SocketAddr> {
        self.http_listen
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "listen = [\"127.0.0.1:8443\"]\npolicy_dir = \"/p\"\ncert_dir = \"/c\"\n";

    #[test]
    fn the_contrib_file_is_valid() {
        let c =
            ServeConfig::parse(include_str!("../../../contrib/serve.toml"), "serve.toml").unwrap();
        assert_eq!(c.cert_dir.unwrap(), PathBuf::from("/etc/letsencrypt/live"));
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let c = ServeConfig::parse(GOOD, "serve.toml").unwrap();
        assert_eq!(c.limits, Limits::default());
        assert!(c.watch);
        assert!(c.http_listen.is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_one_line_naming_the_file() {
        for (text, needle) in [
            (format!("{GOOD}colour = 1\n"), "unknown field `colour`"),
            (
                format!("{GOOD}[limits]\nmax_conections = 5\n"),
                "max_conections",
            ),
            (
                "listen = [\"localhost\"]\npolicy_dir = \"/p\"\ncert_dir = \"/c\"\n".to_owned(),
                "expected IP:PORT",
            ),
            (
                format!("{GOOD}[limits]\nheader_timeout = 0\n"),
                "at least 1",
            ),
            (format!("{GOOD}[limits]\nmax_header_bytes = 100\n"), "8192"),
            (
                "listen = [\"127.0.0.1:1\"]\ncert_dir = \"/c\"\n".to_owned(),
                "policy_dir",
            ),
        ] {
            let e = ServeConfig::parse(&text, "serve.toml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("serve.toml: "), "{e}");
            assert!(e.contains(needle), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
