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
//!        │   + N generated domains d<i>.scale.test (LabConfig::scale): signed zones under
//!        │     scale.test., DANE + MTA-STS + TLS-RPT, SMTP servers on 127.2.<x>.<y> (see [`scale`])
//!        v
//!   Lab { dns, trust anchor, CA, ports }  ── MAILSEC_RESOLVER, MAILSEC_TRUST_ANCHOR, MAILSEC_CA_FILE,
//!                                            MAILSEC_LAB_PORTS point any mailsec command at it
//! ```
//!
//! Nothing binds outside 127.0.0.0/8 and nothing needs root: SMTP and HTTPS listen on
//! ephemeral ports, which a port map (`25=<port>,443=<port>`) gives to mailsec. That map is for
//! labs and tests only.
//!
//! Every SMTP host has its own listener, so a lab with `scale` generated domains needs that many
//! file descriptors and more: [`Lab::start`] checks the open-files limit (`RLIMIT_NOFILE`, `ulimit
//! -n`) first and fails with [`LabError::FileLimit`] rather than half-starting. (It cannot raise
//! the limit itself without unsafe code.)

#![forbid(unsafe_code)]

pub mod ca;
mod dns;
pub mod https;
pub mod oracle;
pub mod scale;
pub mod scenario;
pub mod servers;
mod smtp;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use hickory_server::Server;
use mailsec_core::dane::Certificate;
use mailsec_core::ports::PortMap;
use tokio::task::JoinHandle;

use crate::ca::{Ca, Issued, LeafKind};
pub use crate::dns::ExportedZone;
use crate::dns::{LabHandler, ZoneInputs, Zones};
use crate::scale::{MAX_SCALE, ScaleSpec};
use crate::scenario::{MxCert, SCENARIOS, Scenario, Verdict};

/// File descriptors the lab wants beyond one per listener: accepted connections, the runtime,
/// files.
const FD_MARGIN: u64 = 128;
/// `EMFILE` on Linux and the BSDs: the process hit its open-files limit.
const EMFILE: i32 = 24;

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
    /// The open-files limit (`RLIMIT_NOFILE`) is too low for one listener per SMTP host. Found
    /// before anything is started, or when a bind fails with `EMFILE`.
    #[error(
        "the lab needs about {needed} open files ({listeners} listeners, and their connections), but the open-files limit RLIMIT_NOFILE is {}: raise it, e.g. `ulimit -n {needed}`{}",
        .soft.map_or_else(|| "lower".to_owned(), |n| n.to_string()),
        .hard.map(|h| format!(" (the hard limit is {h})")).unwrap_or_default()
    )]
    FileLimit {
        /// Listeners the lab opens (SMTP hosts, DNS, HTTPS).
        listeners: u64,
        /// What the lab asks for: the listeners and a margin.
        needed: u64,
        /// The soft limit, if known (`None`: unknown or unlimited).
        soft: Option<u64>,
        /// The hard limit, if known and finite.
        hard: Option<u64>,
    },
    /// More generated domains than the address plan holds.
    #[error("at most {max} generated domains fit the lab's address plan (127.2.0.0/16), not {scale}", max = MAX_SCALE)]
    Scale {
        /// What was asked for.
        scale: u32,
    },
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
    /// How many generated domains (`d1.scale.test` to `d<scale>.scale.test`, see [`scale`]) to
    /// serve besides the scenarios; at most [`MAX_SCALE`]. Each has its own SMTP listener.
    pub scale: u32,
    /// Serve the TLS 1.0-only policy host ([`HostFault::OldTls`](scenario::HostFault)) at
    /// [`OLD_TLS_POLICY_HOST`](scenario::OLD_TLS_POLICY_HOST) on the HTTPS port, by answering
    /// its protocol_version alert. `false` leaves that address to a real old server
    /// (`openssl s_server -tls1` in the real-component test).
    pub emulate_old_tls: bool,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            now: SystemTime::now(),
            scenarios: SCENARIOS,
            dns_port: 0,
            smtp_port: 0,
            https_port: 0,
            scale: 0,
            emulate_old_tls: true,
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
    scale: Vec<ScaleDomain>,
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
    /// A second chain with an RSA key, presented to clients that offer only RSA signature
    /// schemes ([`MxCert::ValidWithRsa`]).
    pub rsa: Option<Issued>,
}

/// One generated domain of a running lab (see [`scale`]).
pub struct ScaleDomain {
    /// What it publishes and serves.
    pub spec: ScaleSpec,
    /// Its MX host, with the chain the host presents.
    pub mx: MxHost,
}

impl ScaleDomain {
    /// `d<i>.scale.test`.
    pub fn domain(&self) -> String {
        self.spec.domain()
    }

    /// What a conformant DANE sender concludes for the domain.
    pub fn expected(&self) -> Verdict {
        self.spec.expected()
    }
}

impl Lab {
    /// Builds the PKI and the zones and starts the servers.
    pub async fn start(config: LabConfig) -> Result<Self, LabError> {
        if config.scale > MAX_SCALE {
            return Err(LabError::Scale {
                scale: config.scale,
            });
        }
        let listeners = config
            .scenarios
            .iter()
            .map(|s| s.mx.len() as u64)
            .sum::<u64>()
            + u64::from(config.scale)
            + 3;
        check_open_files(listeners)?;
        let ca = Arc::new(Ca::new(config.now)?);
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
                    MxCert::Valid | MxCert::ValidWithRsa | MxCert::StrictSni => LeafKind::Valid,
                    MxCert::Expired => LeafKind::Expired,
                    MxCert::WrongName => LeafKind::WrongName,
                    MxCert::Untrusted => LeafKind::Untrusted,
                };
                let issued = ca.issue(&[&host], kind)?;
                let rsa = match m.cert {
                    MxCert::ValidWithRsa => Some(ca.issue_rsa(&[&host])?),
                    _ => None,
                };
                let addr = mx_address(i, j);
                hosts.push(MxHost {
                    host,
                    addr,
                    issued,
                    rsa,
                });
            }
            mx.push(hosts);
        }
        // Generated domains: one key and certificate per MX host, issued on every core.
        let specs: Vec<ScaleSpec> = ScaleSpec::all(config.scale).collect();
        let scale = par_map(&specs, |spec| {
            let host = spec.mx_host();
            let issued = ca.issue(&[&host], LeafKind::Valid)?;
            let leaf =
                Certificate::from_der(issued.leaf()).map_err(|e| LabError::Dns(e.to_string()))?;
            let addr = spec.addr();
            Ok((
                ScaleDomain {
                    spec: *spec,
                    mx: MxHost {
                        host,
                        addr,
                        issued,
                        rsa: None,
                    },
                },
                leaf,
            ))
        })?;
        let (scale, scale_leaves): (Vec<ScaleDomain>, Vec<Certificate>) = scale.into_iter().unzip();
        let scale_zones: Vec<(ScaleSpec, Certificate)> =
            specs.iter().copied().zip(scale_leaves).collect();
        let other_spki = {
            use rcgen::PublicKeyData;
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?.subject_public_key_info()
        };
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
                    rsa: h.rsa.as_ref(),
                    strict_sni: m.cert == MxCert::StrictSni,
                })
            })
            .chain(scale.iter().map(|d| smtp::SmtpHost {
                name: &d.mx.host,
                addr: d.mx.addr,
                starttls: d.spec.starttls,
                issued: &d.mx.issued,
                rsa: None,
                strict_sni: false,
            }))
            .collect();
        let (smtp_port, mut tasks) = smtp::start(&smtp_hosts, config.smtp_port, listeners).await?;
        let https_listener =
            tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.https_port))
                .await
                .map_err(|e| bind_error("HTTPS", e, listeners))?;
        let https_port = https_listener
            .local_addr()
            .map_err(|e| LabError::Bind {
                what: "HTTPS",
                source: e,
            })?
            .port();
        tasks.push(https::start(
            https_listener,
            config.scenarios,
            &ca,
            config.scale,
        )?);
        let old_tls = config.scenarios.iter().any(|s| {
            s.policy
                .is_some_and(|p| p.fault == scenario::HostFault::OldTls)
        });
        if old_tls && config.emulate_old_tls {
            let listener =
                tokio::net::TcpListener::bind((scenario::OLD_TLS_POLICY_HOST, https_port))
                    .await
                    .map_err(|e| bind_error("HTTPS (TLS 1.0)", e, listeners))?;
            tasks.push(https::start_old_tls(listener));
        }
        let zones = Zones::build(
            config.scenarios,
            &ZoneInputs {
                policy_host: Ipv4Addr::LOCALHOST,
                smtp_port,
                mx: &mx_certs,
                intermediate: &intermediate,
                root: &root,
                scale: &scale_zones,
                other_spki: &other_spki,
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
            scale,
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

    /// The generated domains, `d1.scale.test` first, each with what a conformant DANE sender
    /// must conclude for it ([`ScaleDomain::expected`]). Empty unless [`LabConfig::scale`] is set.
    pub fn scale_domains(&self) -> &[ScaleDomain] {
        &self.scale
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
    /// address, `starttls` or `plain`); a dual-certificate host also has `pki/<host>.rsa.pem` and
    /// `pki/<host>.rsa.key`. Generated domains are included: their zones after the
    /// scenarios' (then `scale.test.`, `test.` and the root), their hosts after the scenarios'.
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
        let hosts = self
            .scenarios
            .iter()
            .zip(&self.mx)
            .flat_map(|(s, hosts)| s.mx.iter().zip(hosts).map(|(m, h)| (h, m.starttls)))
            .chain(self.scale.iter().map(|d| (&d.mx, d.spec.starttls)));
        let mut mx = String::new();
        for (h, starttls) in hosts {
            write(&format!("pki/{}.pem", h.host), &h.issued.chain_pem)?;
            write(&format!("pki/{}.key", h.host), &h.issued.key_pem)?;
            // A dual-certificate server's RSA chain (scripts/lab-real adds it to smtpd).
            if let Some(rsa) = &h.rsa {
                write(&format!("pki/{}.rsa.pem", h.host), &rsa.chain_pem)?;
                write(&format!("pki/{}.rsa.key", h.host), &rsa.key_pem)?;
            }
            mx.push_str(&format!(
                "{} {} {}\n",
                h.host,
                h.addr,
                if starttls { "starttls" } else { "plain" }
            ));
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

/// `f` over `items` on every core (scoped threads, order kept): key generation and zone
/// signing are most of the start-up of a lab at scale.
pub(crate) fn par_map<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<U, LabError> + Sync,
) -> Result<Vec<U>, LabError> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if items.len() < 64 || threads == 1 {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Result<Vec<U>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            let part = part
                .join()
                .map_err(|_| LabError::Dns("a lab start-up thread panicked".to_owned()))?;
            out.extend(part?);
        }
        Ok(out)
    })
}

/// The open-files limit as `/proc/self/limits` states it: (soft, hard), `None` for unlimited.
/// `None` altogether where there is no such file.
fn open_files_limit() -> Option<(Option<u64>, Option<u64>)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some((fields.next()?, fields.next()?))
}

/// Fails when the soft open-files limit cannot hold `listeners` listeners and a margin.
fn check_open_files(listeners: u64) -> Result<(), LabError> {
    let needed = listeners + FD_MARGIN;
    match open_files_limit() {
        Some((Some(soft), hard)) if soft < needed => Err(LabError::FileLimit {
            listeners,
            needed,
            soft: Some(soft),
            hard,
        }),
        _ => Ok(()),
    }
}

/// A failed bind, as [`LabError::FileLimit`] when the process ran out of file descriptors.
pub(crate) fn bind_error(what: &'static str, source: std::io::Error, listeners: u64) -> LabError {
    if source.raw_os_error() != Some(EMFILE) {
        return LabError::Bind { what, source };
    }
    let (soft, hard) = open_files_limit().unwrap_or((None, None));
    LabError::FileLimit {
        listeners,
        needed: listeners + FD_MARGIN,
        soft,
        hard,
    }
}

/// After a failed `accept`: waits a little instead of spinning, and says once per process, on
/// stderr, when the cause is the open-files limit (a client's connection then waits in the
/// backlog; there is no caller to return the error to).
pub(crate) async fn accept_failed(what: &str, e: &std::io::Error) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if e.raw_os_error() == Some(EMFILE) && !SAID.swap(true, Ordering::Relaxed) {
        let limit = match open_files_limit() {
            Some((Some(soft), _)) => soft.to_string(),
            _ => "reached".to_owned(),
        };
        eprintln!(
            "mailsec-lab: {what}: cannot accept a connection: {e}; the open-files limit RLIMIT_NOFILE is {limit}: raise it (ulimit -n)"
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}
