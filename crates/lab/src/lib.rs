//! # mailsec-lab
//!
//! A hermetic mail-security world on loopback, started in process and stopped when dropped:
//!
//! ```text
//!   scenario table ──> CA (rcgen): root, intermediate, leaves per MX (valid, expired, wrong name, untrusted)
//!        │         ──> zones: signed private root "." -> "test." -> <scenario>.test (signed, unsigned, bogus)
//!        │               served by hickory-server on 127.0.0.1:<port> (UDP+TCP), with injected faults
//!        │         ──> HTTPS policy host on 127.0.0.1:<https port>, certificate and faults per SNI
//!        │         ──> SMTP servers on 127.1.<i>.<j>:<smtp port>, with or without STARTTLS
//!        v
//!   Lab { dns, trust anchor, CA, ports }  ── MAILSEC_RESOLVER, MAILSEC_TRUST_ANCHOR, MAILSEC_CA_FILE,
//!                                            MAILSEC_LAB_PORTS point any mailsec command at it
//! ```
//!
//! Nothing binds outside 127.0.0.0/8 and nothing needs root: SMTP and HTTPS listen on
//! ephemeral ports, which a port map (`25=<port>,443=<port>`) gives to mailsec. That map is for
//! labs and tests only.

#![forbid(unsafe_code)]

pub mod ca;
mod dns;
pub mod https;
pub mod oracle;
pub mod scenario;
mod smtp;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hickory_server::Server;
use mailsec_core::dane::Certificate;
use mailsec_core::ports::PortMap;
use tokio::task::JoinHandle;

use crate::ca::{Ca, Issued, LeafKind};
pub use crate::dns::ExportedZone;
use crate::dns::{LabHandler, ZoneInputs, Zones};
use crate::scenario::{MxCert, SCENARIOS, Scenario};

/// Why the lab cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A listener could not be bound.
    #[error("cannot bind the lab's {what} listener on loopback: {source}")]
    Bind {
        /// Which service.
        what: &'static str,
        /// The failure.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("lab CA: {0}")]
    Ca(#[from] rcgen::Error),
    /// Zone building or signing failed.
    #[error("lab DNS: {0}")]
    Dns(String),
    /// TLS configuration failed.
    #[error("lab TLS: {0}")]
    Tls(String),
    /// Writing the lab's files failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

/// What to start.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// The lab's notion of the current time (certificate validity).
    pub now: SystemTime,
    /// The scenarios to build.
    pub scenarios: &'static [Scenario],
    /// DNS port on 127.0.0.1; 0 picks a free one.
    pub dns_port: u16,
    /// SMTP port on every MX address; 0 picks a free one.
    pub smtp_port: u16,
    /// HTTPS port of the policy host on 127.0.0.1; 0 picks a free one.
    pub https_port: u16,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            now: SystemTime::now(),
            scenarios: SCENARIOS,
            dns_port: 0,
            smtp_port: 0,
            https_port: 0,
        }
    }
}

/// The files that point a client at the lab.
#[derive(Clone, Debug)]
pub struct LabFiles {
    /// The root DNSKEY line (for `--trust-anchor`, Unbound's `trust-anchor-file`, hickory).
    pub trust_anchor: PathBuf,
    /// The root DS line.
    pub trust_anchor_ds: PathBuf,
    /// The root key in BIND's `trust-anchors` syntax, for `delv -a FILE +root=.`.
    pub trust_anchor_bind: PathBuf,
    /// The lab root CA certificate (PEM).
    pub ca: PathBuf,
}

/// A running lab. Dropping it stops every service.
pub struct Lab {
    dns: Server<LabHandler>,
    dns_addr: SocketAddr,
    ports: PortMap,
    tasks: Vec<JoinHandle<()>>,
    anchor_line: String,
    anchor_ds_line: String,
    ca_pem: String,
    scenarios: &'static [Scenario],
    mx: Vec<Vec<MxHost>>,
    exports: Vec<ExportedZone>,
}

/// One MX host of the lab.
pub struct MxHost {
    /// Its host name.
    pub host: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// The certificate chain it presents.
    pub issued: Issued,
}

impl Lab {
    /// Builds the PKI and the zones and starts the servers.
    pub async fn start(config: LabConfig) -> Result<Self, LabError> {
        let ca = Ca::new(config.now)?;
        let intermediate = Certificate::from_der(ca.intermediate_der())
            .map_err(|e| LabError::Dns(e.to_string()))?;
        let root =
            Certificate::from_der(ca.root_der()).map_err(|e| LabError::Dns(e.to_string()))?;
        let mut mx = Vec::new();
        for (i, s) in config.scenarios.iter().enumerate() {
            let mut hosts = Vec::new();
            for (j, m) in s.mx.iter().enumerate() {
                let host = format!("{}.{}", m.label, s.domain());
                let kind = match m.cert {
                    MxCert::Valid => LeafKind::Valid,
                    MxCert::Expired => LeafKind::Expired,
                    MxCert::WrongName => LeafKind::WrongName,
                    MxCert::Untrusted => LeafKind::Untrusted,
                };
                let issued = ca.issue(&[&host], kind)?;
                let addr = mx_address(i, j);
                hosts.push(MxHost { host, addr, issued });
            }
            mx.push(hosts);
        }
        // Per scenario, per MX: its address and the leaf it presents, for the TLSA records.
        let mx_certs = mx
            .iter()
            .map(|hosts| {
                hosts
                    .iter()
                    .map(|h| {
                        Ok((
                            h.addr,
                            Certificate::from_der(h.issued.leaf())
                                .map_err(|e| LabError::Dns(e.to_string()))?,
                        ))
                    })
                    .collect::<Result<Vec<_>, LabError>>()
            })
            .collect::<Result<Vec<_>, LabError>>()?;
        let smtp_hosts: Vec<smtp::SmtpHost<'_>> = config
            .scenarios
            .iter()
            .zip(&mx)
            .flat_map(|(s, hosts)| {
                s.mx.iter().zip(hosts).map(|(m, h)| smtp::SmtpHost {
                    name: &h.host,
                    addr: h.addr,
                    starttls: m.starttls,
                    issued: &h.issued,
                })
            })
            .collect();
        let (smtp_port, mut tasks) = smtp::start(&smtp_hosts, config.smtp_port).await?;
        let https_listener =
            tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.https_port))
                .await
                .map_err(|e| LabError::Bind {
                    what: "HTTPS",
                    source: e,
                })?;
        let https_port = https_listener
            .local_addr()
            .map_err(|e| LabError::Bind {
                what: "HTTPS",
                source: e,
            })?
            .port();
        tasks.push(https::start(https_listener, config.scenarios, &ca)?);
        let zones = Zones::build(
            config.scenarios,
            &ZoneInputs {
                policy_host: Ipv4Addr::LOCALHOST,
                smtp_port,
                mx: &mx_certs,
                intermediate: &intermediate,
                root: &root,
            },
        )?;
        let exports = zones.exports.clone();
        let anchor_line = zones.anchor_line();
        let anchor_ds_line = zones.anchor_ds_line()?;
        let (dns, dns_addr) = zones.serve(config.dns_port).await?;
        Ok(Self {
            dns,
            dns_addr,
            ports: PortMap::from([(25, smtp_port), (443, https_port)]),
            tasks,
            anchor_line,
            anchor_ds_line,
            ca_pem: ca.root_pem().to_owned(),
            scenarios: config.scenarios,
            mx,
            exports,
        })
    }

    /// The lab's DNS server (authoritative for every lab zone; answers as a resolver would).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns_addr
    }

    /// Where the lab's SMTP and HTTPS servers listen instead of 25 and 443.
    pub fn ports(&self) -> PortMap {
        self.ports
    }

    /// The shell assignments that point every mailsec command at this lab.
    pub fn env(&self, files: &LabFiles) -> Vec<(&'static str, String)> {
        vec![
            ("MAILSEC_RESOLVER", self.dns_addr.to_string()),
            (
                "MAILSEC_TRUST_ANCHOR",
                files.trust_anchor.display().to_string(),
            ),
            ("MAILSEC_CA_FILE", files.ca.display().to_string()),
            ("MAILSEC_LAB_PORTS", self.ports.to_string()),
        ]
    }

    /// The root trust anchor, as a DNSKEY line.
    pub fn trust_anchor(&self) -> &str {
        &self.anchor_line
    }

    /// The lab root CA (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The scenarios this lab serves.
    pub fn scenarios(&self) -> &'static [Scenario] {
        self.scenarios
    }

    /// The MX hosts of scenario `name`.
    pub fn mx_hosts(&self, name: &str) -> &[MxHost] {
        self.scenarios
            .iter()
            .position(|s| s.name == name)
            .map_or(&[], |i| &self.mx[i])
    }

    /// Writes the trust anchor and CA files into `dir`.
    pub fn write_files(&self, dir: &Path) -> Result<LabFiles, LabError> {
        let write = |file: &str, text: &str| -> Result<PathBuf, LabError> {
            let path = dir.join(file);
            std::fs::write(&path, text).map_err(|source| LabError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        };
        Ok(LabFiles {
            trust_anchor: write("root.anchor", &format!("{}\n", self.anchor_line))?,
            trust_anchor_ds: write("root.ds", &format!("{}\n", self.anchor_ds_line))?,
            trust_anchor_bind: write("root.anchor.bind", &bind_anchor(&self.anchor_line))?,
            ca: write("ca.pem", &self.ca_pem)?,
        })
    }
}

impl Lab {
    /// Writes everything another set of servers needs to serve the same world: the unsigned
    /// zones (`zones/*.zone` and `zones.list`: origin, kind, file), the PKI (`pki/ca.pem`,
    /// `pki/<host>.pem` chains and `pki/<host>.key` keys) and the MX hosts (`mx.list`: host,
    /// address, `starttls` or `plain`).
    pub fn export(&self, dir: &Path) -> Result<(), LabError> {
        let write = |rel: &str, text: &str| -> Result<(), LabError> {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| LabError::Write {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            std::fs::write(&path, text).map_err(|source| LabError::Write { path, source })
        };
        let mut list = String::new();
        for z in &self.exports {
            let file = if z.origin == "." {
                "root.zone".to_owned()
            } else {
                format!("{}zone", z.origin)
            };
            write(&format!("zones/{file}"), &z.text)?;
            list.push_str(&format!("{} {} {file}\n", z.origin, z.kind));
        }
        write("zones.list", &list)?;
        write("pki/ca.pem", &self.ca_pem)?;
        let mut mx = String::new();
        for (s, hosts) in self.scenarios.iter().zip(&self.mx) {
            for (m, h) in s.mx.iter().zip(hosts) {
                write(&format!("pki/{}.pem", h.host), &h.issued.chain_pem)?;
                write(&format!("pki/{}.key", h.host), &h.issued.key_pem)?;
                mx.push_str(&format!(
                    "{} {} {}\n",
                    h.host,
                    h.addr,
                    if m.starttls { "starttls" } else { "plain" }
                ));
            }
        }
        write("mx.list", &mx)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.dns.shutdown_token().cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `. 300 IN DNSKEY 257 3 13 <base64>` as BIND's `trust-anchors { . static-key ...; };`.
fn bind_anchor(dnskey_line: &str) -> String {
    let t: Vec<&str> = dnskey_line.split_whitespace().collect();
    match t.iter().position(|x| *x == "DNSKEY") {
        Some(i) if t.len() > i + 4 => format!(
            "trust-anchors {{\n  \".\" static-key {} {} {} \"{}\";\n}};\n",
            t[i + 1],
            t[i + 2],
            t[i + 3],
            t[i + 4..].concat()
        ),
        _ => String::new(),
    }
}

/// The loopback address of MX `j` of scenario `i`: 127.1.<i>.<j+1>.
fn mx_address(i: usize, j: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        127,
        1,
        u8::try_from(i).unwrap_or(255),
        u8::try_from(j + 1).unwrap_or(255),
    )
}
