//! The daemon's TOML configuration (unknown keys are errors), its defaults, and the import of a
//! postfix-mta-sts-resolver `mta-sts-daemon.yml`.
//!
//! ```toml
//! listen = ["127.0.0.1:8461", "unix:/run/mailsec/sts.sock"]
//! cache = "sqlite:sts-cache.db"      # memory:, sqlite:PATH, redis://…, postgres://…
//! state_dir = "/var/lib/mailsec"
//! metrics = "127.0.0.1:9461"
//!
//! [socket]                            # unix sockets
//! owner = "postfix"
//! group = "postfix"
//! mode = "0660"
//!
//! [default_zone]
//! strict_testing = false
//! tlsrpt = false
//! dane = "dane"                       # "dane", "dane-only" or "off"
//! timeout = 30
//! servername = true
//!
//! [zones.tlsrpt]                      # socketmap:inet:127.0.0.1:8461:tlsrpt
//! tlsrpt = true
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mailsec_core::mta_sts::sender::Rules;
use mailsec_core::socketmap::policy::ReplyOptions;
use serde::{Deserialize, Serialize};

use crate::handler::{DaneMode, Zone, Zones};
use crate::server::{ListenAddr, ServerLimits};

/// Where the daemon listens by default: postfix-mta-sts-resolver's port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8461";
/// The default state directory (the SQLite cache lives there).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/mailsec";
/// The default cache.
pub const DEFAULT_CACHE: &str = "sqlite:sts-cache.db";

/// Why a configuration is refused: the file and one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// toml's message, on one line.
        message: String,
    },
    /// A value that parses but makes no sense.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where to listen: `HOST:PORT` or `unix:PATH` (default `127.0.0.1:8461`).
    pub listen: Vec<String>,
    /// The cache: `memory:`, `sqlite:PATH` (relative to `state_dir`), `redis://…`,
    /// `postgres://…`.
    pub cache: Option<String>,
    /// Where relative cache paths live.
    pub state_dir: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`HOST:PORT`), if anywhere.
    pub metrics: Option<String>,
    /// Most policy fetches at once.
    pub max_fetches: Option<usize>,
    /// Seconds a whole policy fetch may take (RFC 8461 §3.3 suggests up to a minute; keep it
    /// below the zone timeout so that a slow host gives a cached answer next time).
    pub fetch_timeout: Option<u64>,
    /// Ownership and mode of unix sockets.
    pub socket: SocketConfig,
    /// Server limits.
    pub limits: LimitsConfig,
    /// The cache's timing rules.
    pub cache_rules: Option<Rules>,
    /// The zone for every socketmap name without its own.
    pub default_zone: ZoneConfig,
    /// Zones by socketmap name.
    pub zones: BTreeMap<String, ZoneConfig>,
}

/// Unix socket ownership and mode.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocketConfig {
    /// User name.
    pub owner: Option<String>,
    /// Group name.
    pub group: Option<String>,
    /// Octal mode, e.g. `"0660"`.
    pub mode: Option<String>,
}

impl SocketConfig {
    /// The mode as a number.
    pub fn mode_bits(&self) -> Result<Option<u32>, String> {
        self.mode
            .as_deref()
            .map(|m| {
                u32::from_str_radix(m.trim_start_matches("0o"), 8)
                    .ok()
                    .filter(|b| *b <= 0o7777)
                    .ok_or_else(|| {
                        format!("socket.mode `{m}` is not an octal mode such as \"0660\"")
                    })
            })
            .transpose()
    }
}

/// Server limits; unset values take [`ServerLimits::default`].
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Most connections at once.
    pub max_connections: Option<usize>,
    /// Most requests of one connection looked up at once.
    pub pipeline: Option<usize>,
    /// Longest request, bytes.
    pub max_request: Option<usize>,
    /// Seconds without a request before a connection is closed (below Postfix's 10).
    pub idle_timeout: Option<u64>,
    /// Seconds after which an idle connection is closed (below Postfix's 100).
    pub max_lifetime: Option<u64>,
    /// Seconds a reply may take to be written.
    pub write_timeout: Option<u64>,
}

/// One zone; unset values take the default zone's (for named zones) or the built-in defaults.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZoneConfig {
    /// Treat `testing` as `enforce`.
    pub strict_testing: Option<bool>,
    /// Append the TLSRPT attributes (Postfix 3.10).
    pub tlsrpt: Option<bool>,
    /// `dane`, `dane-only` or `off`.
    pub dane: Option<DaneMode>,
    /// Seconds a lookup may take before `TEMP`.
    pub timeout: Option<u64>,
    /// Append `servername=hostname` (Postfix 3.4 and later).
    pub servername: Option<bool>,
}

impl ZoneConfig {
    fn apply(&self, base: Zone) -> Zone {
        Zone {
            reply: ReplyOptions {
                strict_testing: self.strict_testing.unwrap_or(base.reply.strict_testing),
                tlsrpt: self.tlsrpt.unwrap_or(base.reply.tlsrpt),
                dane_only: false,
                servername: self.servername.unwrap_or(base.reply.servername),
            },
            dane: self.dane.unwrap_or(base.dane),
            timeout: self.timeout.map_or(base.timeout, Duration::from_secs),
        }
    }
}

impl Config {
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
            path: origin.to_owned(),
            message: one_line(&e),
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// Checks what serde cannot: addresses, modes, ranges.
    pub fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            message,
        };
        for l in &self.listen {
            ListenAddr::parse(l).map_err(invalid)?;
        }
        if let Some(m) = &self.metrics
            && m.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(invalid(format!("metrics `{m}`: expected IP:PORT")));
        }
        self.socket.mode_bits().map_err(invalid)?;
        for (name, z) in std::iter::once(("default_zone", &self.default_zone))
            .chain(self.zones.iter().map(|(n, z)| (n.as_str(), z)))
        {
            if z.timeout == Some(0) {
                return Err(invalid(format!(
                    "zone {name}: timeout must be at least 1 second"
                )));
            }
            if name.contains(char::is_whitespace) || name.is_empty() {
                return Err(invalid(format!(
                    "zone `{name}`: a socketmap name has no spaces"
                )));
            }
        }
        if self.max_fetches == Some(0) {
            return Err(invalid("max_fetches must be at least 1".to_owned()));
        }
        if self.fetch_timeout == Some(0) {
            return Err(invalid(
                "fetch_timeout must be at least 1 second".to_owned(),
            ));
        }
        let l = &self.limits;
        if l.max_connections == Some(0) || l.pipeline == Some(0) {
            return Err(invalid(
                "limits.max_connections and limits.pipeline must be at least 1".to_owned(),
            ));
        }
        if l.idle_timeout.is_some_and(|s| s >= 10) {
            return Err(invalid(
                "limits.idle_timeout must be below 10 s, Postfix's own idle limit (it would write to a connection being closed)".to_owned(),
            ));
        }
        if l.max_lifetime.is_some_and(|s| s >= 100 || s == 0) {
            return Err(invalid(
                "limits.max_lifetime must be between 1 and 99 s (Postfix closes at 100 s)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The listen addresses (the default when none is set).
    pub fn listen_addrs(&self) -> Vec<ListenAddr> {
        let list: Vec<&str> = if self.listen.is_empty() {
            vec![DEFAULT_LISTEN]
        } else {
            self.listen.iter().map(String::as_str).collect()
        };
        list.into_iter()
            .filter_map(|l| ListenAddr::parse(l).ok())
            .collect()
    }

    /// The zones.
    pub fn zones(&self) -> Zones {
        let default = self.default_zone.apply(Zone::default());
        Zones {
            default,
            named: self
                .zones
                .iter()
                .map(|(n, z)| (n.clone(), z.apply(default)))
                .collect::<HashMap<_, _>>(),
        }
    }

    /// The server limits.
    pub fn limits(&self) -> ServerLimits {
        let d = ServerLimits::default();
        let l = &self.limits;
        ServerLimits {
            max_request: l.max_request.unwrap_or(d.max_request),
            pipeline: l.pipeline.unwrap_or(d.pipeline),
            max_connections: l.max_connections.unwrap_or(d.max_connections),
            idle_timeout: l.idle_timeout.map_or(d.idle_timeout, Duration::from_secs),
            max_lifetime: l.max_lifetime.map_or(d.max_lifetime, Duration::from_secs),
            write_timeout: l.write_timeout.map_or(d.write_timeout, Duration::from_secs),
        }
    }

    /// The cache URL.
    pub fn cache_url(&self) -> &str {
        self.cache.as_deref().unwrap_or(DEFAULT_CACHE)
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        self.state_dir
            .as_deref()
            .unwrap_or_else(|| Path::new(DEFAULT_STATE_DIR))
    }
}

fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '|' || c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

/// postfix-mta-sts-resolver's configuration (`mta-sts-daemon.yml`), the keys it documents.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SnawootConfig {
    host: Option<String>,
    port: Option<u16>,
    path: Option<String>,
    mode: Option<serde_norway::Value>,
    reuse_port: Option<bool>,
    shutdown_timeout: Option<f64>,
    cache_grace: Option<f64>,
    cache: Option<SnawootCache>,
    proactive_policy_fetching: Option<serde_norway::Value>,
    default_zone: Option<SnawootZone>,
    zones: Option<BTreeMap<String, SnawootZone>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SnawootCache {
    #[serde(rename = "type")]
    kind: Option<String>,
    options: Option<BTreeMap<String, serde_norway::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SnawootZone {
    strict_testing: Option<bool>,
    timeout: Option<f64>,
    require_sni: Option<bool>,
    tlsrpt: Option<bool>,
}

impl SnawootZone {
    fn to_zone(&self) -> ZoneConfig {
        ZoneConfig {
            strict_testing: self.strict_testing,
            tlsrpt: self.tlsrpt,
            dane: None,
            // At least a second; fractions round up.
            timeout: self.timeout.map(|t| t.ceil().max(1.0) as u64),
            servername: self.require_sni,
        }
    }
}

/// The TOML equivalent of a postfix-mta-sts-resolver YAML configuration, with a comment per
/// key that has no equivalent or changes meaning. Errors name the file.
pub fn import_snawoot(yaml: &str, origin: &str) -> Result<String, ConfigError> {
    let s: SnawootConfig = serde_norway::from_str(yaml).map_err(|e| ConfigError::Parse {
        path: origin.to_owned(),
        message: one_line(&e),
    })?;
    let mut notes: Vec<String> = Vec::new();
    let mut c = Config::default();
    match (&s.path, &s.host, s.port) {
        (Some(p), _, _) => c.listen.push(format!("unix:{p}")),
        (None, h, p) => {
            let host = h.clone().unwrap_or_else(|| "127.0.0.1".to_owned());
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            c.listen.push(format!("{host}:{}", p.unwrap_or(8461)));
        }
    }
    if let Some(m) = &s.mode {
        let text = match m {
            serde_norway::Value::Number(n) => format!("{:04o}", n.as_u64().unwrap_or(0)),
            serde_norway::Value::String(s) => s.clone(),
            other => format!("{other:?}"),
        };
        c.socket.mode = Some(text);
    }
    if s.reuse_port.is_some() {
        notes.push("reuse_port: not needed; mailsec reloads on SIGHUP without a restart".into());
    }
    if s.shutdown_timeout.is_some() {
        notes.push(
            "shutdown_timeout: mailsec drains open connections on SIGTERM (systemd's TimeoutStopSec bounds it)"
                .into(),
        );
    }
    if let Some(g) = s.cache_grace {
        c.cache_rules = Some(Rules {
            recheck: g.ceil().max(1.0) as u64,
            ..Rules::default()
        });
        notes.push(format!(
            "cache_grace: {g} s became cache_rules.recheck; unlike postfix-mta-sts-resolver, an unchanged id never extends a policy past max_age: the body is re-fetched at least daily"
        ));
    }
    if let Some(cache) = &s.cache {
        let opt = |k: &str| -> Option<String> {
            cache
                .options
                .as_ref()
                .and_then(|o| o.get(k))
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        match cache.kind.as_deref().unwrap_or("internal") {
            "internal" => c.cache = Some("memory:".into()),
            "sqlite" => {
                c.cache = Some(format!(
                    "sqlite:{}",
                    opt("filename").unwrap_or_else(|| "sts-cache.db".into())
                ));
                notes.push(
                    "cache: the SQLite file is mailsec's own format; the old file is not read"
                        .into(),
                );
            }
            "redis" => {
                c.cache = Some(opt("url").unwrap_or_else(|| "redis://127.0.0.1:6379/0".into()));
            }
            "postgres" => {
                c.cache = Some(opt("dsn").unwrap_or_else(|| "postgres://localhost/mailsec".into()));
            }
            "redis_sentinel" => {
                notes.push("cache type redis_sentinel: not supported; point cache at the current Redis master".into());
            }
            other => notes.push(format!("cache type {other}: unknown, left out")),
        }
    }
    if s.proactive_policy_fetching.is_some() {
        notes.push(
            "proactive_policy_fetching: always on in mailsec (each policy is refreshed before it expires, with jitter)"
                .into(),
        );
    }
    if let Some(z) = &s.default_zone {
        c.default_zone = z.to_zone();
    }
    for (name, z) in s.zones.iter().flatten() {
        c.zones.insert(name.clone(), z.to_zone());
    }
    c.check(origin)?;
    let body = toml::to_string_pretty(&c).map_err(|e| ConfigError::Invalid {
        path: origin.to_owned(),
        message: e.to_string(),
    })?;
    let mut out = format!("# mailsec daemon configuration imported from {origin}\n");
    for n in notes {
        out.push_str(&format!("# {n}\n"));
    }
    out.push_str("# DANE goes first in every zone (dane = \"dane\"); postfix-mta-sts-resolver had no DANE.\n\n");
    out.push_str(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        let c = Config::parse("", "x.toml").unwrap();
        assert_eq!(c.listen_addrs(), [ListenAddr::Tcp(DEFAULT_LISTEN.into())]);
        assert_eq!(c.cache_url(), DEFAULT_CACHE);
        let z = c.zones();
        assert_eq!(z.default, Zone::default());
        assert!(z.named.is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_file_name() {
        for (text, needle) in [
            ("lisen = []", "unknown field `lisen`"),
            ("[default_zone]\nstrict = true", "unknown field `strict`"),
            ("[zones.x]\ndane = \"maybe\"", "unknown variant `maybe`"),
            ("listen = [\"nowhere\"]", "expected HOST:PORT or unix:PATH"),
            ("[socket]\nmode = \"rw\"", "octal mode"),
            ("[limits]\nidle_timeout = 10", "below 10 s"),
            ("[limits]\nmax_lifetime = 100", "between 1 and 99"),
            ("[default_zone]\ntimeout = 0", "at least 1 second"),
            ("metrics = \"localhost\"", "expected IP:PORT"),
            ("[cache_rules]\nrecheck = \"soon\"", "invalid type"),
        ] {
            let e = Config::parse(text, "/etc/mailsec/daemon.toml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("/etc/mailsec/daemon.toml: "), "{e}");
            assert!(e.contains(needle), "{text}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn named_zones_inherit_the_default_zone() {
        let c = Config::parse(
            "[default_zone]\ntimeout = 7\nstrict_testing = true\n[zones.tlsrpt]\ntlsrpt = true\n[zones.nodane]\ndane = \"off\"\n",
            "x",
        )
        .unwrap();
        let z = c.zones();
        let t = z.for_name("tlsrpt");
        assert!(t.reply.tlsrpt && t.reply.strict_testing);
        assert_eq!(t.timeout, Duration::from_secs(7));
        assert_eq!(z.for_name("nodane").dane, DaneMode::Off);
        assert!(!z.for_name("postfix").reply.tlsrpt);
        assert!(z.for_name(crate::handler::TLSRPT_MAP_NAME).reply.tlsrpt);
    }

    #[test]
    fn a_postfix_mta_sts_resolver_file_maps_over() {
        // The example of its README (abridged) with a zone and a cache.
        let yaml = "host: 127.0.0.1\nport: 8461\nreuse_port: true\nshutdown_timeout: 20\ncache_grace: 60\ncache:\n  type: redis\n  options:\n    url: redis://127.0.0.1:6379/0\n    max_connections: 25\ndefault_zone:\n  strict_testing: false\n  timeout: 4\n  require_sni: true\nzones:\n  myzone:\n    strict_testing: true\n    timeout: 4\n    tlsrpt: true\n";
        let toml_text = import_snawoot(yaml, "mta-sts-daemon.yml").unwrap();
        let c = Config::parse(&toml_text, "imported").unwrap();
        assert_eq!(c.listen, ["127.0.0.1:8461"]);
        assert_eq!(c.cache_url(), "redis://127.0.0.1:6379/0");
        assert_eq!(c.cache_rules.unwrap().recheck, 60);
        let z = c.zones();
        assert_eq!(z.default.timeout, Duration::from_secs(4));
        let my = z.for_name("myzone");
        assert!(my.reply.strict_testing && my.reply.tlsrpt);
        assert!(toml_text.contains("# reuse_port"), "{toml_text}");
        // A unix socket with its mode.
        let c = Config::parse(
            &import_snawoot("path: /var/run/mta-sts.sock\nmode: 0666\n", "y").unwrap(),
            "imported",
        )
        .unwrap();
        assert_eq!(c.listen, ["unix:/var/run/mta-sts.sock"]);
        assert_eq!(c.socket.mode_bits().unwrap(), Some(0o666));
        assert!(
            import_snawoot("port: [1", "bad.yml")
                .unwrap_err()
                .to_string()
                .starts_with("bad.yml: ")
        );
    }
}
