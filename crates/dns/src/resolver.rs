//! The resolver: configuration, lookups and the mapping of hickory's results onto outcomes that
//! keep every case apart.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::{Proof, TrustAnchors};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use mailsec_core::dane::Tlsa;

use crate::anchor::{self, AnchorError, TrustAnchorSource};

/// RFC 4035 §4.3 security status of an answer (or of a denial of existence).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[must_use]
pub enum Security {
    /// Validated from the trust anchor.
    Secure,
    /// Proven to be outside any signed zone (an insecure delegation on the path).
    Insecure,
    /// Validation failed.
    Bogus,
    /// Could not be determined: the DNSSEC records needed to decide were not obtained, or no
    /// record of the answer carries a proof (RFC 4035 §4.3). A decision never treats it as
    /// insecure: the typed lookups turn it into [`LookupError::Indeterminate`] (RFC 7672 §2.1.1).
    Indeterminate,
}

impl Security {
    fn from_proof(p: Proof) -> Self {
        match p {
            Proof::Secure => Self::Secure,
            Proof::Insecure => Self::Insecure,
            Proof::Bogus => Self::Bogus,
            Proof::Indeterminate => Self::Indeterminate,
        }
    }

    /// True for [`Security::Secure`].
    pub fn is_secure(self) -> bool {
        self == Self::Secure
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Secure => "secure",
            Self::Insecure => "insecure",
            Self::Bogus => "bogus",
            Self::Indeterminate => "indeterminate",
        })
    }
}

/// A positive answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Answer<T> {
    /// The records of the queried type, in answer order.
    pub records: Vec<T>,
    /// The least secure status of the records and of every CNAME on the way
    /// (RFC 7672 §2.1.3: an insecure CNAME makes all that follows insecure).
    pub security: Security,
    /// The owner name of the records: the query name, or the end of its CNAME chain.
    pub canonical_name: String,
    /// The CNAME chain followed, as `owner -> target` pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cnames: Vec<(String, String)>,
    /// The smallest TTL of the records.
    pub ttl: u32,
    /// The zone whose key signed the records (from the RRSIG), when signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// What a lookup found: records, or a denial of existence with its own security status.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
#[must_use]
pub enum Response<T> {
    /// Records of the queried type exist.
    Records(Answer<T>),
    /// NXDOMAIN: the name does not exist.
    NxDomain {
        /// Security of the denial (secure only with a validated NSEC/NSEC3 proof).
        security: Security,
        /// The zone that signed the denial, when signed.
        signer: Option<String>,
    },
    /// NODATA: the name exists but has no record of this type.
    NoData {
        /// Security of the denial.
        security: Security,
        /// The zone that signed the denial, when signed.
        signer: Option<String>,
    },
}

impl<T> Response<T> {
    /// The security status, whatever the kind of response.
    pub fn security(&self) -> Security {
        match self {
            Self::Records(a) => a.security,
            Self::NxDomain { security, .. } | Self::NoData { security, .. } => *security,
        }
    }

    /// The records, or an empty slice for a denial.
    pub fn records(&self) -> &[T] {
        match self {
            Self::Records(a) => &a.records,
            _ => &[],
        }
    }

    /// `NOERROR`, `NXDOMAIN` or `NODATA`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Records(_) => "NOERROR",
            Self::NxDomain { .. } => "NXDOMAIN",
            Self::NoData { .. } => "NODATA",
        }
    }

    /// The zone that signed the answer or the denial.
    pub fn signer(&self) -> Option<&str> {
        match self {
            Self::Records(a) => a.signer.as_deref(),
            Self::NxDomain { signer, .. } | Self::NoData { signer, .. } => signer.as_deref(),
        }
    }
}

/// A lookup that produced no usable response. None of these means "no record".
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// DNSSEC validation failed (RFC 4035 §5.5). hickory also reports a timeout while fetching
    /// DNSKEY or DS records for validation this way.
    #[error("DNSSEC validation failed (bogus)")]
    Bogus,
    /// The resolver answered SERVFAIL.
    #[error("SERVFAIL")]
    ServFail,
    /// The resolver answered another error code (REFUSED, FORMERR, ...).
    #[error("{0}")]
    ResponseCode(ResponseCode),
    /// No answer arrived in time.
    #[error("timed out")]
    Timeout,
    /// An answer arrived, but its DNSSEC status could not be established (RFC 4035 §4.3
    /// "indeterminate"). RFC 7672 §2.1.1 treats such a lookup as failed, never as insecure.
    #[error(
        "DNSSEC status indeterminate (the records needed to validate the answer were not obtained)"
    )]
    Indeterminate,
    /// The name is not a valid DNS name.
    #[error("invalid name `{0}`")]
    BadName(String),
    /// Any other failure (network, malformed response).
    #[error("lookup failed: {0}")]
    Other(Arc<NetError>),
}

impl LookupError {
    /// Transient failures worth retrying later (everything but a bad name).
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::BadName(_))
    }

    /// A short label for metrics and JSON: `bogus`, `servfail`, `timeout`, ...
    pub fn label(&self) -> &'static str {
        match self {
            Self::Bogus => "bogus",
            Self::ServFail => "servfail",
            Self::ResponseCode(_) => "rcode",
            Self::Timeout => "timeout",
            Self::Indeterminate => "indeterminate",
            Self::BadName(_) => "bad-name",
            Self::Other(_) => "error",
        }
    }
}

/// One TXT record: its character strings as received.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct TxtRecord {
    /// The character strings, in order.
    pub strings: Vec<Vec<u8>>,
}

impl TxtRecord {
    /// The strings concatenated without separators (RFC 8461 §3.1, RFC 8460 §3).
    pub fn concat(&self) -> Vec<u8> {
        self.strings.concat()
    }
}

/// One CAA record (RFC 8659 §4): flags, property tag and value as published.
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct CaaRecord {
    /// The issuer-critical flag (bit 0 of the flags, RFC 8659 §4.1).
    pub critical: bool,
    /// The property tag: `issue`, `issuewild`, `iodef`, or another.
    pub tag: String,
    /// The value, as text (non-UTF-8 bytes replaced).
    pub value: String,
}

impl fmt::Display for CaaRecord {
    /// Presentation form: `0 issue "ca.example"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} \"{}\"",
            if self.critical { 128 } else { 0 },
            self.tag,
            self.value.escape_default()
        )
    }
}

/// How to reach DNS.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// The upstream resolver (or authoritative server); `None` reads `/etc/resolv.conf`.
    pub server: Option<SocketAddr>,
    /// The trust anchor for validation.
    pub trust_anchor: TrustAnchorSource,
    /// Time allowed for a whole lookup: every query it takes (the answer, and the DS and
    /// DNSKEY records that validate it) and every retry. Past it the lookup is
    /// [`LookupError::Timeout`].
    pub timeout: Duration,
    /// Tries per query within that time; each try is allowed `timeout / attempts`.
    pub attempts: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            server: None,
            trust_anchor: TrustAnchorSource::IanaRoot,
            timeout: Duration::from_secs(5),
            attempts: 2,
        }
    }
}

/// Lookups made with one hickory resolver before it is replaced (see [`Resolver`]).
pub const RENEW_AFTER: u64 = 5_000;

/// The hickory resolver in use, and what it takes to build the next one.
struct Generations {
    current: std::sync::Mutex<TokioResolver>,
    lookups: std::sync::atomic::AtomicU64,
    servers: Vec<NameServerConfig>,
    config: DnsConfig,
    anchors: Arc<TrustAnchors>,
    renew_after: std::sync::atomic::AtomicU64,
    renewals: std::sync::atomic::AtomicU64,
}

impl Generations {
    /// The resolver for one more lookup, renewed first when its turn has come. A build that
    /// fails (it does no I/O, so it should not) leaves the current one in use.
    fn next(&self) -> TokioResolver {
        let n = self
            .lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let every = self.renew_after.load(std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(every.max(1))
            && let Ok(fresh) = build(
                self.servers.clone(),
                &self.config,
                Some(self.anchors.clone()),
                true,
            )
        {
            *current = fresh;
            self.renewals
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        current.clone()
    }
}

/// Why a resolver could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolverError {
    /// The trust anchor is unusable.
    #[error(transparent)]
    Anchor(#[from] AnchorError),
    /// The system resolver configuration cannot be read.
    #[error("cannot read the system resolver configuration: {0}")]
    SystemConfig(NetError),
    /// The root DNSKEY set, needed to match DS trust anchors, could not be fetched.
    #[error("cannot match the DS trust anchors of {path}: the root DNSKEY lookup failed: {error}")]
    RootKeys {
        /// The trust anchor file.
        path: std::path::PathBuf,
        /// Why the lookup failed.
        error: LookupError,
    },
    /// hickory refused the configuration.
    #[error("cannot build the resolver: {0}")]
    Build(NetError),
}

/// A validating resolver. Cheap to clone; clones share one cache.
///
/// Every [`RENEW_AFTER`] lookups the hickory resolver underneath is replaced by a new one with
/// the same servers and trust anchors: hickory's DNSSEC validator keeps every validation in a
/// cache of a million entries whose expiry is checked only when the same RRset is validated
/// again, and `hickory-resolver` gives no way to size it, so a long-running process that meets
/// ever new names (the policy daemon, a bulk check) would grow without end (about 550 bytes per
/// name, 3.7 KiB per domain checked; BENCHMARKS.md). A lookup under way keeps the resolver it
/// started with; the old one goes when the last such lookup ends. The cost: the next lookups
/// validate the chain from the root again.
#[derive(Clone)]
pub struct Resolver {
    generations: Arc<Generations>,
    upstream: String,
    timeout: Duration,
}

impl Resolver {
    /// Builds a validating resolver from `config`. With DS trust anchors, the root DNSKEY set is
    /// fetched once, without validation, and the keys the DS records cover become the anchors.
    pub async fn new(config: &DnsConfig) -> Result<Self, ResolverError> {
        let (servers, upstream) = match config.server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                (vec![ns], addr.to_string())
            }
            None => {
                let (conf, _) = hickory_resolver::system_conf::read_system_conf()
                    .map_err(ResolverError::SystemConfig)?;
                let servers = conf.name_servers().to_vec();
                let desc = servers
                    .iter()
                    .map(|s| s.ip.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                (servers, format!("system ({desc})"))
            }
        };
        let anchors = match &config.trust_anchor {
            TrustAnchorSource::IanaRoot => TrustAnchors::default(),
            TrustAnchorSource::File(path) => {
                let parsed = anchor::parse_file(path)?;
                let mut keys = parsed.keys;
                if !parsed.ds.is_empty() {
                    let plain = build(servers.clone(), config, None, false)?;
                    let root_keys: Vec<_> =
                        // Bounded like every lookup (`DnsConfig::timeout`).
                        match tokio::time::timeout(
                            config.timeout,
                            plain.lookup(Name::root(), RecordType::DNSKEY),
                        )
                        .await
                        .unwrap_or(Err(NetError::Timeout))
                        {
                            Ok(l) => l
                                .answers()
                                .iter()
                                .filter_map(|r| match &r.data {
                                    RData::DNSSEC(
                                        hickory_proto::dnssec::rdata::DNSSECRData::DNSKEY(k),
                                    ) => Some(k.clone()),
                                    _ => None,
                                })
                                .collect(),
                            Err(e) => {
                                let error = match from_error::<()>(e) {
                                    Err(error) => error,
                                    // NXDOMAIN or NODATA for the root's DNSKEY set: no keys.
                                    Ok(_) => LookupError::Other(Arc::new(NetError::from(
                                        "the root has no DNSKEY records",
                                    ))),
                                };
                                return Err(ResolverError::RootKeys {
                                    path: path.clone(),
                                    error,
                                });
                            }
                        };
                    if anchor::match_ds(&mut keys, &parsed.ds, &root_keys) == 0 && keys.is_empty() {
                        return Err(AnchorError::NoMatchingKey(path.clone()).into());
                    }
                }
                keys
            }
        };
        let anchors = Arc::new(anchors);
        let inner = build(servers.clone(), config, Some(anchors.clone()), true)?;
        Ok(Self {
            generations: Arc::new(Generations {
                current: std::sync::Mutex::new(inner),
                lookups: std::sync::atomic::AtomicU64::new(0),
                servers,
                config: config.clone(),
                anchors,
                renew_after: std::sync::atomic::AtomicU64::new(RENEW_AFTER),
                renewals: std::sync::atomic::AtomicU64::new(0),
            }),
            upstream,
            timeout: config.timeout,
        })
    }

    /// Replaces the hickory resolver underneath every `lookups` lookups instead of every
    /// [`RENEW_AFTER`] (for all clones).
    pub fn renew_every(&self, lookups: u64) {
        self.generations
            .renew_after
            .store(lookups.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// How many times the hickory resolver underneath was replaced.
    pub fn renewals(&self) -> u64 {
        self.generations
            .renewals
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Where queries go, for display.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The key tags of the trust anchors in use.
    pub fn anchor_key_tags(&self) -> Vec<u16> {
        let anchors = &self.generations.anchors;
        (0..anchors.len())
            .filter_map(|i| anchors.get(i))
            .filter_map(|k| {
                hickory_proto::dnssec::rdata::DNSKEY::new(true, true, false, k.clone())
                    .calculate_key_tag()
                    .ok()
            })
            .collect()
    }

    /// Any record type, as hickory records, for display: unlike the typed lookups, an answer
    /// whose DNSSEC status is indeterminate is returned as such, not as an error. Code that
    /// decides anything uses the typed lookups.
    pub async fn lookup(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Result<Response<Record>, LookupError> {
        self.lookup_unchecked(name, rtype, |r| Some(r.clone()))
            .await
    }

    /// The lookup with every DNSSEC status as it came, indeterminate included.
    async fn lookup_unchecked<T>(
        &self,
        name: &str,
        rtype: RecordType,
        f: impl Fn(&Record) -> Option<T>,
    ) -> Result<Response<T>, LookupError> {
        let qname = fqdn(name)?;
        match self.raw_lookup(&qname, rtype).await {
            Ok(lookup) => Ok(from_answers(&qname, rtype, lookup.answers(), f)),
            Err(e) => from_error(e),
        }
    }

    /// MX records as `(preference, exchange)`, exchange without the trailing dot.
    pub async fn mx(&self, domain: &str) -> Result<Response<(u16, String)>, LookupError> {
        self.lookup_map(domain, RecordType::MX, |r| match &r.data {
            RData::MX(mx) => Some((mx.preference, trim_dot(&mx.exchange))),
            _ => None,
        })
        .await
    }

    /// A records.
    pub async fn ipv4(&self, host: &str) -> Result<Response<Ipv4Addr>, LookupError> {
        self.lookup_map(host, RecordType::A, |r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// AAAA records.
    pub async fn ipv6(&self, host: &str) -> Result<Response<Ipv6Addr>, LookupError> {
        self.lookup_map(host, RecordType::AAAA, |r| match &r.data {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// A then AAAA, each with its own outcome (never merged: an error in one is not hidden by
    /// the other).
    pub async fn addresses(
        &self,
        host: &str,
    ) -> (
        Result<Response<IpAddr>, LookupError>,
        Result<Response<IpAddr>, LookupError>,
    ) {
        let (a, aaaa) = tokio::join!(self.ipv4(host), self.ipv6(host));
        (
            a.map(|r| map_response(r, IpAddr::V4)),
            aaaa.map(|r| map_response(r, IpAddr::V6)),
        )
    }

    /// TXT records with their character strings.
    pub async fn txt(&self, name: &str) -> Result<Response<TxtRecord>, LookupError> {
        self.lookup_map(name, RecordType::TXT, |r| match &r.data {
            RData::TXT(t) => Some(TxtRecord {
                strings: t.txt_data.iter().map(|s| s.to_vec()).collect(),
            }),
            _ => None,
        })
        .await
    }

    /// CAA records at `name` itself (RFC 8659 §4); climbing to the parents is the caller's.
    pub async fn caa(&self, name: &str) -> Result<Response<CaaRecord>, LookupError> {
        self.lookup_map(name, RecordType::CAA, |r| match &r.data {
            RData::CAA(c) => Some(CaaRecord {
                critical: c.issuer_critical,
                tag: c.tag.clone(),
                value: String::from_utf8_lossy(&c.value).into_owned(),
            }),
            _ => None,
        })
        .await
    }

    /// TLSA records.
    pub async fn tlsa(&self, name: &str) -> Result<Response<Tlsa>, LookupError> {
        self.lookup_map(name, RecordType::TLSA, |r| match &r.data {
            RData::TLSA(t) => Some(Tlsa::new(
                u8::from(t.cert_usage),
                u8::from(t.selector),
                u8::from(t.matching),
                t.cert_data.clone(),
            )),
            _ => None,
        })
        .await
    }

    /// The CNAME chain that starts at `name`, as `owner -> target` pairs, from CNAME queries (at
    /// most 8 links): unlike [`Answer::cnames`], which holds the links the resolver returned
    /// with an answer, and which its cache may leave out when the target was looked up before.
    pub async fn cname_chain(&self, name: &str) -> Result<Vec<(String, String)>, LookupError> {
        let mut chain: Vec<(String, String)> = Vec::new();
        let mut owner = fqdn(name)?.to_ascii();
        for _ in 0..8 {
            let response = self
                .lookup_unchecked(&owner, RecordType::CNAME, |r| match &r.data {
                    RData::CNAME(c) => Some(c.0.to_ascii()),
                    _ => None,
                })
                .await?;
            let Some(target) = response.records().first().cloned() else {
                break;
            };
            if chain.iter().any(|(o, _)| *o == target) {
                break;
            }
            chain.push((owner, target.clone()));
            owner = target;
        }
        Ok(chain)
    }

    /// The owner names of the answer to `name`/`rtype` that carry a CNAME beside other records,
    /// which DNS forbids (RFC 1034 §3.6.2, RFC 2181 §10.1). Such an answer can only come from a
    /// broken zone or server; where the resolver drops the conflict, nothing is found.
    pub async fn cname_conflicts(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Result<Vec<String>, LookupError> {
        let qname = fqdn(name)?;
        match self.raw_lookup(&qname, rtype).await {
            Ok(lookup) => Ok(cname_conflicts(lookup.answers())),
            Err(e) => from_error::<()>(e).map(|_| Vec::new()),
        }
    }

    /// hickory's lookup, bounded by the whole-lookup timeout.
    async fn raw_lookup(
        &self,
        qname: &Name,
        rtype: RecordType,
    ) -> Result<hickory_resolver::lookup::Lookup, NetError> {
        let inner = self.generations.next();
        tokio::time::timeout(self.timeout, inner.lookup(qname.clone(), rtype))
            .await
            .unwrap_or(Err(NetError::Timeout))
    }

    /// Looks up `name`/`rtype` and maps each record of that type with `f`. Fails closed: an
    /// answer or denial whose DNSSEC status is indeterminate is [`LookupError::Indeterminate`]
    /// (RFC 7672 §2.1.1: a lookup whose security cannot be established has failed), so no
    /// caller can mistake it for an insecure answer.
    pub async fn lookup_map<T>(
        &self,
        name: &str,
        rtype: RecordType,
        f: impl Fn(&Record) -> Option<T>,
    ) -> Result<Response<T>, LookupError> {
        fail_closed(self.lookup_unchecked(name, rtype, f).await?)
    }
}

fn build(
    servers: Vec<NameServerConfig>,
    config: &DnsConfig,
    anchors: Option<Arc<TrustAnchors>>,
    validate: bool,
) -> Result<TokioResolver, ResolverError> {
    let mut opts = ResolverOpts::default();
    opts.validate = validate;
    // The whole lookup is bounded by `config.timeout` (see `Resolver::raw_lookup`); each try
    // of each query gets its share.
    let attempts = config.attempts.max(1);
    opts.timeout = (config.timeout / u32::try_from(attempts).unwrap_or(u32::MAX))
        .max(Duration::from_millis(100));
    opts.attempts = attempts;
    opts.edns0 = true;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.preserve_intermediates = true;
    let mut builder = hickory_resolver::Resolver::builder_with_config(
        ResolverConfig::from_name_servers(servers),
        TokioRuntimeProvider::default(),
    )
    .with_options(opts);
    if let Some(a) = anchors {
        builder = builder.with_trust_anchor(a);
    }
    builder.build().map_err(ResolverError::Build)
}

/// Names are always queried fully qualified, so that no search list can retry another name
/// after an error.
fn fqdn(name: &str) -> Result<Name, LookupError> {
    let mut n = Name::from_utf8(name).map_err(|_| LookupError::BadName(name.to_owned()))?;
    n.set_fqdn(true);
    Ok(n)
}

fn trim_dot(n: &Name) -> String {
    let s = n.to_ascii();
    s.strip_suffix('.').map(str::to_owned).unwrap_or(s)
}

fn map_response<T, U>(r: Response<T>, f: impl Fn(T) -> U) -> Response<U> {
    match r {
        Response::Records(a) => Response::Records(Answer {
            records: a.records.into_iter().map(f).collect(),
            security: a.security,
            canonical_name: a.canonical_name,
            cnames: a.cnames,
            ttl: a.ttl,
            signer: a.signer,
        }),
        Response::NxDomain { security, signer } => Response::NxDomain { security, signer },
        Response::NoData { security, signer } => Response::NoData { security, signer },
    }
}

/// RFC 7672 §2.1.1: an indeterminate answer or denial is a failed lookup.
fn fail_closed<T>(response: Response<T>) -> Result<Response<T>, LookupError> {
    match response.security() {
        Security::Indeterminate => Err(LookupError::Indeterminate),
        _ => Ok(response),
    }
}

/// The least secure status among records that are not signatures.
fn worst(records: &[Record]) -> Option<Security> {
    records
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
        .map(|r| r.proof)
        .min()
        .map(Security::from_proof)
}

fn signer_of(records: &[Record], covered: Option<RecordType>) -> Option<String> {
    records.iter().find_map(|r| match &r.data {
        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig))
            if covered.is_none_or(|c| sig.input().type_covered == c) =>
        {
            Some(sig.input().signer_name.to_ascii())
        }
        _ => None,
    })
}

/// Owner names that hold a CNAME and a record of another type (signatures and NSEC records
/// excepted, RFC 4035 §2.5), in answer order, each once.
fn cname_conflicts(answers: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in answers
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
    {
        let other = answers.iter().any(|o| {
            o.name == r.name
                && !matches!(
                    o.record_type(),
                    RecordType::CNAME | RecordType::RRSIG | RecordType::NSEC
                )
        });
        let owner = r.name.to_ascii();
        if other && !out.contains(&owner) {
            out.push(owner);
        }
    }
    out
}

fn from_answers<T>(
    qname: &Name,
    rtype: RecordType,
    answers: &[Record],
    f: impl Fn(&Record) -> Option<T>,
) -> Response<T> {
    let mut cnames = Vec::new();
    let mut canonical = qname.clone();
    // Follow the chain from the query name through the CNAMEs present.
    for _ in 0..16 {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == canonical && rtype != RecordType::CNAME => {
                Some(c.0.clone())
            }
            _ => None,
        });
        let Some(target) = next else { break };
        cnames.push((canonical.to_ascii(), target.to_ascii()));
        canonical = target;
    }
    let relevant: Vec<&Record> = answers
        .iter()
        .filter(|r| {
            r.record_type() == rtype
                || (r.record_type() == RecordType::CNAME && rtype != RecordType::CNAME)
        })
        .collect();
    let security = relevant
        .iter()
        .map(|r| r.proof)
        .min()
        .map_or(Security::Indeterminate, Security::from_proof);
    let typed: Vec<&Record> = answers
        .iter()
        .filter(|r| r.record_type() == rtype)
        .collect();
    let signer = signer_of(answers, Some(rtype));
    if typed.is_empty() {
        return Response::NoData { security, signer };
    }
    Response::Records(Answer {
        ttl: typed.iter().map(|r| r.ttl).min().unwrap_or(0),
        records: typed.into_iter().filter_map(f).collect(),
        security,
        canonical_name: canonical.to_ascii(),
        cnames,
        signer,
    })
}

fn from_error<T>(e: NetError) -> Result<Response<T>, LookupError> {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            // The security of a denial is that of its authority records (SOA, NSEC, NSEC3).
            // A denial without any (or with signatures only) carries no proof that mailsec can
            // read: it is indeterminate, never assumed insecure (RFC 4035 §4.3, RFC 7672 §2.1.1).
            let (security, signer) = match nr.authorities.as_deref() {
                Some(auth) => (
                    worst(auth).unwrap_or(Security::Indeterminate),
                    signer_of(auth, None),
                ),
                None => (Security::Indeterminate, None),
            };
            Ok(if nr.response_code == ResponseCode::NXDomain {
                Response::NxDomain { security, signer }
            } else {
                Response::NoData { security, signer }
            })
        }
        NetError::Dns(DnsError::Nsec {
            response, proof, ..
        }) => {
            let security = Security::from_proof(proof);
            if security == Security::Bogus {
                return Err(LookupError::Bogus);
            }
            let signer = signer_of(&response.authorities, None);
            Ok(
                if response.metadata.response_code == ResponseCode::NXDomain {
                    Response::NxDomain { security, signer }
                } else {
                    Response::NoData { security, signer }
                },
            )
        }
        NetError::Dns(DnsError::DnssecBogus) => Err(LookupError::Bogus),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => Err(LookupError::ServFail),
        NetError::Dns(DnsError::ResponseCode(code)) => Err(LookupError::ResponseCode(code)),
        NetError::Timeout => Err(LookupError::Timeout),
        other => Err(LookupError::Other(Arc::new(other))),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::op::Query;
    use hickory_proto::rr::rdata::{A, CNAME, SOA};
    use hickory_resolver::net::NoRecords;

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn record(owner: &str, data: RData, proof: Proof) -> Record {
        let mut r = Record::from_rdata(name(owner), 300, data);
        r.proof = proof;
        r
    }

    fn a(owner: &str, proof: Proof) -> Record {
        record(owner, RData::A(A(Ipv4Addr::new(192, 0, 2, 1))), proof)
    }

    fn cname(owner: &str, target: &str, proof: Proof) -> Record {
        record(owner, RData::CNAME(CNAME(name(target))), proof)
    }

    fn map(answers: &[Record]) -> Response<Ipv4Addr> {
        from_answers(
            &name("www.example."),
            RecordType::A,
            answers,
            |r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            },
        )
    }

    #[test]
    fn an_insecure_cname_makes_the_answer_insecure() {
        // RFC 7672 §2.1.3: everything after an insecure CNAME is insecure.
        let r = map(&[
            cname("www.example.", "host.example.net.", Proof::Insecure),
            a("host.example.net.", Proof::Secure),
        ]);
        let Response::Records(answer) = r else {
            panic!("{r:?}")
        };
        assert_eq!(answer.security, Security::Insecure);
        assert_eq!(answer.canonical_name, "host.example.net.");
        assert_eq!(
            answer.cnames,
            [("www.example.".to_owned(), "host.example.net.".to_owned())]
        );
        assert_eq!(answer.records, [Ipv4Addr::new(192, 0, 2, 1)]);
    }

    #[test]
    fn secure_chain_stays_secure_and_a_lone_cname_is_nodata() {
        let r = map(&[
            cname("www.example.", "host.example.", Proof::Secure),
            a("host.example.", Proof::Secure),
        ]);
        assert_eq!(r.security(), Security::Secure);
        let r = map(&[cname("www.example.", "host.example.", Proof::Secure)]);
        assert!(
            matches!(
                r,
                Response::NoData {
                    security: Security::Secure,
                    ..
                }
            ),
            "{r:?}"
        );
    }

    fn no_records(code: ResponseCode, authority_proof: Option<Proof>) -> NetError {
        let mut nr = NoRecords::new(Query::query(name("x.example."), RecordType::A), code);
        nr.authorities = authority_proof.map(|p| {
            let soa = SOA::new(name("ns.example."), name("h.example."), 1, 1, 1, 1, 1);
            Arc::from(vec![record("example.", RData::SOA(soa), p)])
        });
        NetError::Dns(DnsError::NoRecordsFound(nr))
    }

    #[test]
    fn every_failure_keeps_its_kind() {
        let nx = from_error::<()>(no_records(ResponseCode::NXDomain, Some(Proof::Secure))).unwrap();
        assert!(matches!(
            nx,
            Response::NxDomain {
                security: Security::Secure,
                ..
            }
        ));
        let nodata =
            from_error::<()>(no_records(ResponseCode::NoError, Some(Proof::Insecure))).unwrap();
        assert!(matches!(
            nodata,
            Response::NoData {
                security: Security::Insecure,
                ..
            }
        ));
        // A denial without authority records proves nothing: indeterminate, not insecure.
        let bare = from_error::<()>(no_records(ResponseCode::NXDomain, None)).unwrap();
        assert!(matches!(
            bare,
            Response::NxDomain {
                security: Security::Indeterminate,
                ..
            }
        ));
        assert!(matches!(fail_closed(bare), Err(LookupError::Indeterminate)));
        assert!(matches!(
            from_error::<()>(NetError::Dns(DnsError::DnssecBogus)),
            Err(LookupError::Bogus)
        ));
        assert!(matches!(
            from_error::<()>(NetError::Dns(DnsError::ResponseCode(
                ResponseCode::ServFail
            ))),
            Err(LookupError::ServFail)
        ));
        assert!(matches!(
            from_error::<()>(NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused))),
            Err(LookupError::ResponseCode(ResponseCode::Refused))
        ));
        assert!(matches!(
            from_error::<()>(NetError::Timeout),
            Err(LookupError::Timeout)
        ));
    }

    #[test]
    fn a_denial_with_only_signatures_is_indeterminate() {
        let mut nr = NoRecords::new(
            Query::query(name("x.example."), RecordType::A),
            ResponseCode::NoError,
        );
        let sig = hickory_proto::dnssec::rdata::RRSIG::from_sig(
            hickory_proto::dnssec::rdata::SigInput {
                type_covered: RecordType::SOA,
                algorithm: hickory_proto::dnssec::Algorithm::ECDSAP256SHA256,
                num_labels: 1,
                original_ttl: 300,
                sig_expiration: 2.into(),
                sig_inception: 1.into(),
                key_tag: 1,
                signer_name: name("example."),
            },
            vec![0; 64],
        );
        nr.authorities = Some(Arc::from(vec![record(
            "example.",
            RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)),
            Proof::Secure,
        )]));
        let r = from_error::<()>(NetError::Dns(DnsError::NoRecordsFound(nr))).unwrap();
        assert!(
            matches!(
                r,
                Response::NoData {
                    security: Security::Indeterminate,
                    ..
                }
            ),
            "{r:?}"
        );
        assert!(matches!(fail_closed(r), Err(LookupError::Indeterminate)));
    }

    #[test]
    fn indeterminate_answers_fail_closed_and_the_rest_pass() {
        // An answer whose records were never validated (hickory's default proof).
        let r = map(&[a("www.example.", Proof::Indeterminate)]);
        assert_eq!(r.security(), Security::Indeterminate);
        assert!(matches!(fail_closed(r), Err(LookupError::Indeterminate)));
        // One indeterminate CNAME on the way makes the whole answer indeterminate.
        let r = map(&[
            cname("www.example.", "host.example.", Proof::Indeterminate),
            a("host.example.", Proof::Secure),
        ]);
        assert!(matches!(fail_closed(r), Err(LookupError::Indeterminate)));
        for proof in [Proof::Secure, Proof::Insecure] {
            let r = map(&[a("www.example.", proof)]);
            assert_eq!(
                fail_closed(r).unwrap().security(),
                Security::from_proof(proof)
            );
        }
        let insecure_denial =
            from_error::<()>(no_records(ResponseCode::NXDomain, Some(Proof::Insecure))).unwrap();
        assert_eq!(
            fail_closed(insecure_denial).unwrap().security(),
            Security::Insecure
        );
        assert_eq!(LookupError::Indeterminate.label(), "indeterminate");
    }

    #[tokio::test]
    async fn a_failed_root_key_lookup_is_reported_not_called_a_mismatch() {
        // A resolver that never answers: the DS anchors cannot be matched, and the error says
        // that the lookup failed (a timeout), not that no key matched.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let path = std::env::temp_dir().join(format!("mailsec-ds-anchor-{}", std::process::id()));
        std::fs::write(
            &path,
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
        )
        .unwrap();
        let config = DnsConfig {
            server: Some(silent.local_addr().unwrap()),
            trust_anchor: TrustAnchorSource::File(path.clone()),
            timeout: Duration::from_millis(200),
            attempts: 1,
        };
        let result = Resolver::new(&config).await;
        let _ = std::fs::remove_file(&path);
        match result {
            Err(ResolverError::RootKeys {
                error: LookupError::Timeout,
                ..
            }) => {}
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a resolver was built without trust anchors"),
        }
    }

    /// `timeout` bounds the whole lookup, retries included. Measured on tokio's paused clock
    /// (virtual time, advanced only when every task waits), so the bound is exact and the
    /// machine's load cannot change it.
    #[tokio::test(start_paused = true)]
    async fn the_timeout_bounds_the_whole_lookup() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = DnsConfig {
            server: Some(silent.local_addr().unwrap()),
            trust_anchor: TrustAnchorSource::IanaRoot,
            timeout: Duration::from_secs(5),
            attempts: 3,
        };
        let resolver = Resolver::new(&config).await.unwrap();
        let start = tokio::time::Instant::now();
        let r = resolver.mx("example.com").await;
        let elapsed = start.elapsed();
        assert!(matches!(r, Err(LookupError::Timeout)), "{r:?}");
        assert!(elapsed <= config.timeout, "{elapsed:?}");
    }

    #[test]
    fn names_are_fully_qualified() {
        assert!(fqdn("example.com").unwrap().is_fqdn());
        assert!(
            fqdn("bücher.example")
                .unwrap()
                .to_ascii()
                .starts_with("xn--")
        );
    }

    #[test]
    fn a_cname_beside_other_data_is_found() {
        let txt = |owner: &str| {
            record(
                owner,
                RData::TXT(hickory_proto::rr::rdata::TXT::new(vec![
                    "v=STSv1; id=1".to_owned(),
                ])),
                Proof::Insecure,
            )
        };
        // RFC 1034 §3.6.2: a CNAME and a TXT record at _mta-sts.example.
        let broken = [
            cname(
                "_mta-sts.example.",
                "_mta-sts.provider.example.",
                Proof::Insecure,
            ),
            txt("_mta-sts.example."),
            txt("_mta-sts.provider.example."),
        ];
        assert_eq!(cname_conflicts(&broken), ["_mta-sts.example."]);
        // A plain chain, and a record with its signature: no conflict.
        let chain = [
            cname(
                "_mta-sts.example.",
                "_mta-sts.provider.example.",
                Proof::Insecure,
            ),
            txt("_mta-sts.provider.example."),
        ];
        assert!(cname_conflicts(&chain).is_empty());
        assert!(cname_conflicts(&[txt("_mta-sts.example.")]).is_empty());
    }
}
