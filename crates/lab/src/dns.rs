//! The lab's authoritative DNS: a signed private root `.` → `test.` → one zone per scenario,
//! served by hickory-server from memory on loopback (UDP and TCP on one port).
//!
//! hickory's `Catalog` answers every query from the longest matching zone, which is wrong for DS
//! (RFC 4035 §3.1.4.1: DS lives in the parent). [`LabHandler`] routes DS queries to the parent
//! zone and injects the scenario faults (no answer, SERVFAIL) before any zone is consulted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, NSEC};
use hickory_proto::dnssec::{Algorithm, DigestType, DnssecSigner, PublicKeyBuf, SigningKey};
use hickory_proto::op::{Edns, Header, Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, CAA, CNAME, MX, NS, SOA, TLSA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AxfrPolicy, Catalog, MessageResponseBuilder, ZoneHandler, ZoneType,
};
use mailsec_core::dane::{self, Certificate, Matching};

use crate::scale::{STS_ID, ScaleSpec, ScaleTlsa};
use crate::scenario::{
    BogusRecord, HostFault, OLD_TLS_POLICY_HOST, PROVIDER_LABEL, Scenario, StsTxt, TlsaSpec,
    ZoneSecurity,
};
use crate::{LabError, par_map};

/// TTL of every lab record.
const TTL: u32 = 300;
/// How long the lab's signatures stay valid.
const SIG_DURATION: Duration = Duration::from_secs(30 * 86_400);

/// What the zones need to know about the rest of the lab.
pub(crate) struct ZoneInputs<'a> {
    /// Address of the HTTPS policy host.
    pub(crate) policy_host: Ipv4Addr,
    /// The SMTP port of the lab (TLSA records are published for 25 and for this port).
    pub(crate) smtp_port: u16,
    /// Per scenario (in table order), per MX: the address and the leaf certificate it presents.
    pub(crate) mx: &'a [Vec<(Ipv4Addr, Certificate)>],
    /// The lab intermediate CA (for `2 1 1`).
    pub(crate) intermediate: &'a Certificate,
    /// The lab root CA (for a `2 1 1` of a trust anchor the MX does not send).
    pub(crate) root: &'a Certificate,
    /// The generated domains (`d<i>.scale.test`), each with the leaf its MX presents.
    pub(crate) scale: &'a [(ScaleSpec, Certificate)],
    /// The SubjectPublicKeyInfo that the mismatched `3 1 1` records of generated domains name.
    pub(crate) other_spki: &'a [u8],
}

/// The signed zones, ready to serve, and the root key to trust.
pub(crate) struct Zones {
    handler: LabHandler,
    /// Every zone as unsigned text, for other servers.
    pub(crate) exports: Vec<ExportedZone>,
    /// The root KSK.
    pub(crate) root_key: PublicKeyBuf,
}

impl Zones {
    /// Builds every zone of `scenarios`.
    pub(crate) fn build(scenarios: &[Scenario], inputs: &ZoneInputs<'_>) -> Result<Self, LabError> {
        let mut zones: Vec<(Name, ZoneBuilder)> = Vec::new();
        let mut exports = Vec::new();
        let mut test_records: Vec<Record> = Vec::new();
        let mut timeouts = HashSet::new();
        let mut servfails = HashSet::new();
        let mut bogus_denials = HashSet::new();
        let test = name("test.")?;

        for (index, s) in scenarios.iter().enumerate() {
            let origin = name(&format!("{}.test.", s.name))?;
            let signed = !matches!(s.zone, ZoneSecurity::Unsigned);
            let mut z = zone(&origin, signed)?;
            let ns = origin.prepend_label("ns").map_err(dns_err)?;
            add(&mut z, ns.clone(), RData::A(A(Ipv4Addr::LOCALHOST)));
            test_records.push(Record::from_rdata(
                origin.clone(),
                TTL,
                RData::NS(NS(ns.clone())),
            ));
            test_records.push(Record::from_rdata(
                ns,
                TTL,
                RData::A(A(Ipv4Addr::LOCALHOST)),
            ));
            for (i, mx) in s.mx.iter().enumerate() {
                let host = name(&format!("{}.{}", mx.label, origin))?;
                add(
                    &mut z,
                    origin.clone(),
                    RData::MX(MX::new(mx.preference, host.clone())),
                );
                // Behind a CNAME the target holds the address and the TLSA records: it is the
                // TLSA base domain (RFC 7672 §2.2.3).
                let base = match mx.cname {
                    Some(target) => {
                        let target = name(&format!("{target}.{origin}"))?;
                        add(&mut z, host.clone(), RData::CNAME(CNAME(target.clone())));
                        target
                    }
                    None => host.clone(),
                };
                let (addr, cert) = &inputs.mx[index][i];
                let (addr, cert) = (*addr, cert.clone());
                add(&mut z, base.clone(), RData::A(A(addr)));
                let mut ports = vec![25];
                if inputs.smtp_port != 25 {
                    ports.push(inputs.smtp_port);
                }
                for spec in mx.tlsa {
                    // The record of another service sits at its own port only.
                    let at: Vec<u16> = if spec.port() == 25 {
                        ports.clone()
                    } else {
                        vec![spec.port()]
                    };
                    for port in at {
                        let owner = name(&format!("_{port}._tcp.{base}"))?;
                        if spec.is_injected_fault() {
                            servfails.insert(LowerName::from(&owner));
                        }
                        add(
                            &mut z,
                            owner.clone(),
                            RData::TLSA(tlsa(*spec, &cert, inputs)?),
                        );
                    }
                }
                if i == 0 && s.zone == ZoneSecurity::BogusAt(BogusRecord::DenialAtTlsaName) {
                    bogus_denials.insert(LowerName::from(&name(&format!("_25._tcp.{base}"))?));
                }
            }
            let sts = origin.prepend_label("_mta-sts").map_err(dns_err)?;
            match s.sts_txt {
                StsTxt::Absent => {}
                StsTxt::NoData => add(&mut z, sts, RData::A(A(inputs.policy_host))),
                StsTxt::Records(records) => {
                    for r in records {
                        let strings: Vec<String> = r.split('\0').map(str::to_owned).collect();
                        add(&mut z, sts.clone(), RData::TXT(TXT::new(strings)));
                    }
                }
                StsTxt::Cname(target) => {
                    let target = name(&format!("_mta-sts.{target}.test."))?;
                    add(&mut z, sts, RData::CNAME(CNAME(target)));
                }
                StsTxt::Timeout | StsTxt::ServFail => {
                    // The record exists behind the fault, so that the zone's NSEC chain does
                    // not deny the name: validators that synthesise answers from cached NSEC
                    // records (RFC 8198) must still ask, and meet the fault.
                    let hidden = RData::TXT(TXT::new(vec!["v=STSv1; id=hidden;".to_owned()]));
                    add(&mut z, sts.clone(), hidden);
                    let set = if s.sts_txt == StsTxt::Timeout {
                        &mut timeouts
                    } else {
                        &mut servfails
                    };
                    set.insert(LowerName::from(&sts));
                }
            }
            if let Some(policy) = s.policy {
                let host = origin.prepend_label("mta-sts").map_err(dns_err)?;
                if policy.fault.is_delegated() {
                    // RFC 8461 §8.2: the policy host delegated to a provider by a CNAME.
                    let provider = origin.prepend_label(PROVIDER_LABEL).map_err(dns_err)?;
                    add(&mut z, host, RData::CNAME(CNAME(provider.clone())));
                    add(&mut z, provider, RData::A(A(inputs.policy_host)));
                } else if policy.fault == HostFault::OldTls {
                    add(&mut z, host, RData::A(A(OLD_TLS_POLICY_HOST)));
                } else {
                    add(&mut z, host, RData::A(A(inputs.policy_host)));
                }
            }
            if let Some(issuer) = s.caa {
                // RFC 8659 §4.2: `0 issue "<issuer>"`.
                let issuer = Name::from_ascii(issuer).map_err(dns_err)?;
                add(
                    &mut z,
                    origin.clone(),
                    RData::CAA(CAA::new_issue(false, Some(issuer), Vec::new())),
                );
            }
            if let Some(rpt) = s.tlsrpt {
                let text = rpt.replace("{domain}", &s.domain());
                add(
                    &mut z,
                    origin
                        .prepend_label("_tls")
                        .and_then(|n| n.prepend_label("_smtp"))
                        .map_err(dns_err)?,
                    RData::TXT(TXT::new(vec![text])),
                );
            }
            exports.push(z.export(
                &origin,
                match s.zone {
                    // The real lab cannot serve a broken denial: it serves the zone as signed.
                    ZoneSecurity::Signed | ZoneSecurity::BogusAt(BogusRecord::DenialAtTlsaName) => {
                        "signed"
                    }
                    ZoneSecurity::Unsigned => "unsigned",
                    ZoneSecurity::BogusAt(BogusRecord::Tlsa) => "bogus-tlsa",
                    ZoneSecurity::BogusAt(BogusRecord::Mx) => "bogus-mx",
                },
            ));
            if s.sts_txt == StsTxt::ServFail {
                // Another server answers SERVFAIL for a zone it is told to serve and cannot
                // load: `_mta-sts.<domain>` as a zone of its own, whose file has no SOA.
                exports.push(ExportedZone {
                    origin: format!("_mta-sts.{origin}"),
                    kind: "servfail",
                    text: "; Deliberately not a zone (no SOA): the server cannot load it and \
                           answers SERVFAIL\n; for every name in it, the lab's StsTxt::ServFail.\n"
                        .to_owned(),
                });
            }
            if signed {
                let key = sign(&mut z, &origin)?;
                let ds = DS::from_key(&key, &origin, DigestType::SHA256).map_err(dns_err)?;
                test_records.push(Record::from_rdata(
                    origin.clone(),
                    TTL,
                    RData::DNSSEC(DNSSECRData::DS(ds)),
                ));
                if let ZoneSecurity::BogusAt(which) = s.zone
                    && which != BogusRecord::DenialAtTlsaName
                {
                    corrupt(&mut z, &origin, which, s)?;
                }
            }
            zones.push((origin, z));
        }

        // scale.test.: delegations (NS, DS) to every generated domain's zone, built on every
        // core (signing is most of the lab's start-up at scale).
        let mut served = Vec::new();
        if !inputs.scale.is_empty() {
            let origin = name("scale.test.")?;
            let ns = name("ns.scale.test.")?;
            let children = par_map(inputs.scale, |(spec, leaf)| {
                scale_zone(*spec, leaf, &ns, inputs)
            })?;
            // Without hickory's NSEC generation, which is quadratic in the delegations.
            let mut sz = zone(&origin, false)?;
            add(&mut sz, ns.clone(), RData::A(A(Ipv4Addr::LOCALHOST)));
            for (child, export, ds) in children {
                add(
                    &mut sz,
                    Name::from(&child.origin),
                    RData::NS(NS(ns.clone())),
                );
                add(&mut sz, ds.name, ds.data);
                exports.push(export);
                served.push(child);
            }
            exports.push(sz.export(&origin, "signed"));
            let (sz, key) = sign_delegations(sz, &origin)?;
            let ds = DS::from_key(&key, &origin, DigestType::SHA256).map_err(dns_err)?;
            test_records.push(Record::from_rdata(
                origin.clone(),
                TTL,
                RData::NS(NS(ns.clone())),
            ));
            test_records.push(Record::from_rdata(
                ns,
                TTL,
                RData::A(A(Ipv4Addr::LOCALHOST)),
            ));
            test_records.push(Record::from_rdata(
                origin.clone(),
                TTL,
                RData::DNSSEC(DNSSECRData::DS(ds)),
            ));
            zones.push((origin, sz));
        }

        // test.: delegations (NS, glue, DS) to every scenario zone.
        let mut tz = zone(&test, true)?;
        let test_ns = name("ns.test.")?;
        add(&mut tz, test_ns.clone(), RData::A(A(Ipv4Addr::LOCALHOST)));
        for r in test_records {
            add(&mut tz, r.name.clone(), r.data);
        }
        exports.push(tz.export(&test, "signed"));
        let test_key = sign(&mut tz, &test)?;
        zones.push((test.clone(), tz));

        // The private root: delegates test. and holds the only trust anchor.
        let root = Name::root();
        let mut rz = zone(&root, true)?;
        add(&mut rz, test.clone(), RData::NS(NS(test_ns.clone())));
        add(&mut rz, test_ns, RData::A(A(Ipv4Addr::LOCALHOST)));
        let test_ds = DS::from_key(&test_key, &test, DigestType::SHA256).map_err(dns_err)?;
        add(&mut rz, test, RData::DNSSEC(DNSSECRData::DS(test_ds)));
        exports.push(rz.export(&root, "signed"));
        let root_key = sign(&mut rz, &root)?;
        zones.push((root, rz));

        // The root was pushed last.
        served.extend(
            zones
                .into_iter()
                .map(|(origin, zb)| ServedZone::new(&origin, zb)),
        );
        let root = served.len() - 1;
        let by_origin = served
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin.clone(), i))
            .collect();
        Ok(Self {
            exports,
            handler: LabHandler {
                zones: served,
                by_origin,
                root,
                timeouts,
                servfails,
                bogus_denials,
            },
            root_key,
        })
    }

    /// Starts serving on `127.0.0.1:port` (UDP and TCP); port 0 picks a free port.
    pub(crate) async fn serve(
        self,
        port: u16,
    ) -> Result<(Server<LabHandler>, SocketAddr), LabError> {
        let (udp, tcp) = bind_pair(port).await?;
        let addr = udp.local_addr().map_err(|e| LabError::Bind {
            what: "DNS (UDP)",
            source: e,
        })?;
        let mut server = Server::new(self.handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 32);
        Ok((server, addr))
    }

    /// The root trust anchor as a zone-file DNSKEY line (what `--trust-anchor` reads).
    pub(crate) fn anchor_line(&self) -> String {
        format!(". {TTL} IN DNSKEY {}", DNSKEY::from_key(&self.root_key))
    }

    /// The same anchor as a DS line (SHA-256 digest), for `--trust-anchor` files of DS lines.
    pub(crate) fn anchor_ds_line(&self) -> Result<String, LabError> {
        let ds =
            DS::from_key(&self.root_key, &Name::root(), DigestType::SHA256).map_err(dns_err)?;
        Ok(format!(". {TTL} IN DS {ds}"))
    }
}

/// Binds UDP and TCP on the same loopback port (retrying when an ephemeral UDP port is taken
/// for TCP).
async fn bind_pair(
    port: u16,
) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), LabError> {
    let mut last = None;
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| LabError::Bind {
                what: "DNS (UDP)",
                source: e,
            })?;
        let addr = udp.local_addr().map_err(|e| LabError::Bind {
            what: "DNS (UDP)",
            source: e,
        })?;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if port == 0 => last = Some(e),
            Err(e) => {
                return Err(LabError::Bind {
                    what: "DNS (TCP)",
                    source: e,
                });
            }
        }
    }
    Err(LabError::Bind {
        what: "DNS (TCP)",
        source: last.unwrap_or_else(|| std::io::Error::other("no free port pair")),
    })
}

fn name(s: &str) -> Result<Name, LabError> {
    Name::from_str(s).map_err(dns_err)
}

fn dns_err(e: impl std::fmt::Display) -> LabError {
    LabError::Dns(e.to_string())
}

/// The signed zone of one generated domain (see [`crate::scale`]), its export and the DS record
/// for `scale.test.`.
fn scale_zone(
    spec: ScaleSpec,
    leaf: &Certificate,
    ns: &Name,
    inputs: &ZoneInputs<'_>,
) -> Result<(ServedZone, ExportedZone, Record), LabError> {
    let domain = spec.domain();
    let origin = name(&format!("{domain}."))?;
    let mut z = zone_served_by(&origin, true, ns.clone())?;
    let host = name(&format!("{}.", spec.mx_host()))?;
    add(&mut z, origin.clone(), RData::MX(MX::new(10, host.clone())));
    add(&mut z, host.clone(), RData::A(A(spec.addr())));
    let digest = |bytes: &[u8]| dane::associate(bytes, Matching::Sha256).map_err(dns_err);
    let records = match spec.tlsa {
        ScaleTlsa::Match => vec![
            TLSA::new(3.into(), 1.into(), 1.into(), digest(&leaf.spki)?),
            TLSA::new(
                2.into(),
                1.into(),
                1.into(),
                digest(&inputs.intermediate.spki)?,
            ),
        ],
        ScaleTlsa::OtherKey => vec![TLSA::new(
            3.into(),
            1.into(),
            1.into(),
            digest(inputs.other_spki)?,
        )],
    };
    let mut ports = vec![25];
    if inputs.smtp_port != 25 {
        ports.push(inputs.smtp_port);
    }
    for port in ports {
        let owner = name(&format!("_{port}._tcp.{host}"))?;
        for r in &records {
            add(&mut z, owner.clone(), RData::TLSA(r.clone()));
        }
    }
    let sts = format!("v=STSv1; id={STS_ID};");
    add(
        &mut z,
        origin.prepend_label("_mta-sts").map_err(dns_err)?,
        RData::TXT(TXT::new(vec![sts])),
    );
    add(
        &mut z,
        origin.prepend_label("mta-sts").map_err(dns_err)?,
        RData::A(A(inputs.policy_host)),
    );
    let rpt = format!("v=TLSRPTv1; rua=mailto:tlsrpt@{domain}");
    add(
        &mut z,
        origin
            .prepend_label("_tls")
            .and_then(|n| n.prepend_label("_smtp"))
            .map_err(dns_err)?,
        RData::TXT(TXT::new(vec![rpt])),
    );
    let export = z.export(&origin, "signed");
    let key = sign(&mut z, &origin)?;
    let ds = DS::from_key(&key, &origin, DigestType::SHA256).map_err(dns_err)?;
    let ds = Record::from_rdata(origin.clone(), TTL, RData::DNSSEC(DNSSECRData::DS(ds)));
    Ok((ServedZone::new(&origin, z), export, ds))
}

/// A zone under construction: hickory's handler, and the unsigned records as added (for export
/// to other servers, which sign them themselves).
pub(crate) struct ZoneBuilder {
    z: InMemoryZoneHandler,
    plain: Vec<Record>,
}

/// A zone as text, for Knot or any other authoritative server.
#[derive(Clone, Debug)]
pub struct ExportedZone {
    /// The origin, fully qualified.
    pub origin: String,
    /// `signed`, `unsigned`, `bogus-tlsa`, `bogus-mx`, or `servfail`: a zone the server must
    /// fail to load (its text has no SOA), so that it answers SERVFAIL for every name in it.
    pub kind: &'static str,
    /// The unsigned zone in presentation format (no DS, DNSKEY, RRSIG or NSEC records).
    pub text: String,
}

impl ZoneBuilder {
    fn export(&self, origin: &Name, kind: &'static str) -> ExportedZone {
        let mut text = format!("$ORIGIN {origin}\n$TTL {TTL}\n");
        for r in &self.plain {
            let rdata = match &r.data {
                RData::TXT(t) => t
                    .txt_data
                    .iter()
                    .map(|s| {
                        let escaped: String = String::from_utf8_lossy(s)
                            .chars()
                            .flat_map(|c| match c {
                                '"' | '\\' => vec!['\\', c],
                                c => vec![c],
                            })
                            .collect();
                        format!("\"{escaped}\"")
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            text.push_str(&format!(
                "{} {} IN {} {rdata}\n",
                r.name,
                r.ttl,
                r.record_type()
            ));
        }
        ExportedZone {
            origin: origin.to_string(),
            kind,
            text,
        }
    }
}

/// A zone whose name server is `ns.<origin>` (`ns.test.` for the root).
fn zone(origin: &Name, signed: bool) -> Result<ZoneBuilder, LabError> {
    let ns = if origin.is_root() {
        name("ns.test.")?
    } else {
        origin.prepend_label("ns").map_err(dns_err)?
    };
    zone_served_by(origin, signed, ns)
}

/// A zone with its SOA and NS naming `ns`.
fn zone_served_by(origin: &Name, signed: bool, ns: Name) -> Result<ZoneBuilder, LabError> {
    let z = InMemoryZoneHandler::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
        signed.then_some(NxProofKind::Nsec),
    );
    let soa = SOA::new(
        ns.clone(),
        name("hostmaster.test.")?,
        1,
        3600,
        600,
        86_400,
        TTL,
    );
    let mut zb = ZoneBuilder {
        z,
        plain: Vec::new(),
    };
    add(&mut zb, origin.clone(), RData::SOA(soa));
    add(&mut zb, origin.clone(), RData::NS(NS(ns)));
    Ok(zb)
}

fn add(zb: &mut ZoneBuilder, owner: Name, rdata: RData) {
    let record = Record::from_rdata(owner, TTL, rdata);
    if record.record_type() != RecordType::DS {
        zb.plain.push(record.clone());
    }
    zb.z.upsert_mut(record, 1);
}

/// Generates a P-256 key (flags 257, used as KSK and ZSK), publishes it and signs the zone with
/// NSEC. Returns the public key for the parent's DS.
fn sign(zb: &mut ZoneBuilder, origin: &Name) -> Result<PublicKeyBuf, LabError> {
    let public = add_key(zb, origin)?;
    zb.z.secure_zone_mut().map_err(dns_err)?;
    Ok(public)
}

/// Generates a P-256 key (flags 257) and publishes it in the zone as its signing key.
fn add_key(zb: &mut ZoneBuilder, origin: &Name) -> Result<PublicKeyBuf, LabError> {
    let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(dns_err)?;
    let key = EcdsaSigningKey::from_pkcs8(&pkcs8, Algorithm::ECDSAP256SHA256).map_err(dns_err)?;
    let public = key.to_public_key().map_err(dns_err)?;
    let signer = DnssecSigner::new(
        DNSKEY::from_key(&public),
        Box::new(key),
        origin.clone(),
        SIG_DURATION,
    );
    zb.z.add_zone_signing_key_mut(signer).map_err(dns_err)?;
    Ok(public)
}

/// Signs a zone of many delegations (`scale.test.`), built without NSEC: its NSEC chain is made
/// here in one pass, then signed with the rest, and the records move to a handler that serves
/// NSEC proofs. hickory-server's own NSEC generation compares every name with every delegation
/// point, which took 3.5 s of a 10,000-domain lab's 7.
fn sign_delegations(
    mut zb: ZoneBuilder,
    origin: &Name,
) -> Result<(ZoneBuilder, PublicKeyBuf), LabError> {
    let public = add_key(&mut zb, origin)?;
    for nsec in nsec_chain(origin, zb.z.records_get_mut()) {
        zb.z.upsert_mut(nsec, 1);
    }
    zb.z.secure_zone_mut().map_err(dns_err)?;
    let mut served = InMemoryZoneHandler::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
        Some(NxProofKind::Nsec),
    );
    *served.records_get_mut() = std::mem::take(zb.z.records_get_mut());
    Ok((
        ZoneBuilder {
            z: served,
            plain: zb.plain,
        },
        public,
    ))
}

/// The NSEC records of a zone (RFC 4034 §4, RFC 4035 §2.3): one per owner name in canonical
/// order, naming the next (the last wraps to the apex) and the types present, RRSIG and NSEC
/// included. Names below a zone cut (glue) are not the zone's and get none.
fn nsec_chain(origin: &Name, records: &BTreeMap<RrKey, Arc<RecordSet>>) -> Vec<Record> {
    let apex = LowerName::from(origin);
    let cuts: HashSet<&LowerName> = records
        .keys()
        .filter(|k| k.record_type == RecordType::NS && k.name != apex)
        .map(|k| &k.name)
        .collect();
    let below_cut = |name: &LowerName| {
        let mut n = name.base_name();
        while n.num_labels() > apex.num_labels() {
            if cuts.contains(&n) {
                return true;
            }
            n = n.base_name();
        }
        false
    };
    // RrKey orders by name in canonical order (RFC 4034 §6.1), then by type.
    let mut owners: Vec<(&LowerName, BTreeSet<RecordType>)> = Vec::new();
    for key in records.keys() {
        if !apex.zone_of(&key.name) || below_cut(&key.name) {
            continue;
        }
        match owners.last_mut() {
            Some((name, types)) if **name == key.name => {
                types.insert(key.record_type);
            }
            _ => owners.push((&key.name, BTreeSet::from([key.record_type]))),
        }
    }
    owners
        .iter()
        .enumerate()
        .map(|(i, (name, types))| {
            let next = owners
                .get(i + 1)
                .map_or_else(|| origin.clone(), |(n, _)| Name::from(*n));
            let nsec = NSEC::new_cover_self(next, types.iter().copied());
            Record::from_rdata(
                Name::from(*name),
                TTL,
                RData::DNSSEC(DNSSECRData::NSEC(nsec)),
            )
        })
        .collect()
}

/// Changes the data of one signed RRset, keeping its signatures: validators must find it bogus.
fn corrupt(
    zb: &mut ZoneBuilder,
    origin: &Name,
    which: BogusRecord,
    s: &Scenario,
) -> Result<(), LabError> {
    let (owner, rtype) = match which {
        BogusRecord::Tlsa => (
            name(&format!("_25._tcp.{}.{}", s.mx[0].label, origin))?,
            RecordType::TLSA,
        ),
        BogusRecord::Mx => (origin.clone(), RecordType::MX),
        // Served by the handler, not by changing the zone.
        BogusRecord::DenialAtTlsaName => return Ok(()),
    };
    let key = RrKey::new(LowerName::from(&owner), rtype);
    let records = zb.z.records_get_mut();
    let Some(set) = records.get(&key) else {
        return Err(LabError::Dns(format!(
            "no {rtype} RRset at {owner} to corrupt"
        )));
    };
    let mut set = (**set).clone();
    let changed: Vec<Record> = set
        .records_without_rrsigs()
        .map(|r| {
            let mut r = r.clone();
            r.data = match r.data {
                RData::TLSA(t) => RData::TLSA(TLSA::new(
                    t.cert_usage,
                    t.selector,
                    t.matching,
                    flip(&t.cert_data),
                )),
                RData::MX(m) => RData::MX(MX::new(m.preference.wrapping_add(1), m.exchange)),
                other => other,
            };
            r
        })
        .collect();
    set.set_records(changed);
    records.insert(key, Arc::new(set));
    Ok(())
}

/// A zone as served: its catalog and, when signed, what NXDOMAIN answers need.
struct ServedZone {
    origin: LowerName,
    catalog: Catalog,
    index: Option<NxIndex>,
}

impl ServedZone {
    fn new(origin: &Name, mut zb: ZoneBuilder) -> Self {
        let lower = LowerName::from(origin);
        compact(zb.z.records_get_mut());
        let index = NxIndex::new(origin, zb.z.records_get_mut());
        let mut catalog = Catalog::new();
        catalog.upsert(lower.clone(), vec![Arc::new(zb.z) as Arc<dyn ZoneHandler>]);
        Self {
            origin: lower,
            catalog,
            index,
        }
    }
}

/// Trims every RRset's vectors to their length. hickory grows them to room for four records
/// (over 1 KiB) for the one record or signature most sets hold: that was a third of the memory
/// of a lab with 10,000 generated domains.
fn compact(records: &mut BTreeMap<RrKey, Arc<RecordSet>>) {
    for set in records.values_mut() {
        let set = Arc::make_mut(set);
        let mut data: Vec<Record> = set.records_without_rrsigs().cloned().collect();
        data.shrink_to_fit();
        let rrsigs = set.rrsigs().to_vec();
        set.set_records(data);
        set.set_rrsigs(rrsigs);
    }
}

/// The names and NSEC chain of a signed zone.
///
/// hickory-server's NSEC NXDOMAIN answers prove the wildcard's absence with the NSEC closest to
/// the query name's parent, which is only right when one label is missing; for
/// `_25._tcp.mx.example.test` under `example.test` validators then see a bogus denial. The lab
/// answers NXDOMAIN itself, as RFC 4035 §3.1.3.2 says: the SOA, the NSEC covering the name, and
/// the NSEC covering the wildcard at the closest encloser, each with its RRSIGs.
struct NxIndex {
    /// Every owner name, and every empty non-terminal between the apex and an owner.
    names: BTreeSet<Name>,
    /// `(owner, next, NSEC RRset with its RRSIGs)` in canonical order.
    nsec: Vec<(Name, Name, Arc<RecordSet>)>,
    /// The SOA RRset with its RRSIGs.
    soa: Option<Arc<RecordSet>>,
}

impl NxIndex {
    fn new(origin: &Name, records: &BTreeMap<RrKey, Arc<RecordSet>>) -> Option<Self> {
        let mut names = BTreeSet::new();
        let mut nsec = Vec::new();
        let mut soa = None;
        for (key, set) in records {
            let mut owner = Name::from(&key.name);
            while owner.num_labels() >= origin.num_labels() && origin.zone_of(&owner) {
                if !names.insert(owner.clone()) || owner == *origin {
                    break;
                }
                owner = owner.base_name();
            }
            match key.record_type {
                RecordType::NSEC => {
                    for r in set.records_without_rrsigs() {
                        if let RData::DNSSEC(DNSSECRData::NSEC(n)) = &r.data {
                            nsec.push((r.name.clone(), n.next_domain_name().clone(), set.clone()));
                        }
                    }
                }
                RecordType::SOA => soa = Some(set.clone()),
                _ => {}
            }
        }
        if nsec.is_empty() {
            return None;
        }
        nsec.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Self { names, nsec, soa })
    }

    /// The NSEC whose span covers `name` (RFC 4034 §6.1 canonical order; the last wraps).
    fn covering(&self, name: &Name) -> Option<&RecordSet> {
        // The last owner before `name` is the only candidate (a binary search: `scale.test.`
        // holds a delegation per generated domain).
        let i = self.nsec.partition_point(|(owner, _, _)| owner < name);
        let (owner, next, set) = self.nsec.get(i.checked_sub(1)?)?;
        (name < next || next <= owner).then_some(&**set)
    }

    async fn nxdomain<R: ResponseHandler>(
        &self,
        request: &Request,
        meta: &Metadata,
        qname: &Name,
        mut response: R,
    ) -> ResponseInfo {
        let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        let mut closest = qname.base_name();
        while !self.names.contains(&closest) && !closest.is_root() {
            closest = closest.base_name();
        }
        let mut proof: Vec<&Record> = Vec::new();
        if dnssec_ok {
            let wildcard = closest.prepend_label("*").ok();
            let covers = [
                self.covering(qname),
                wildcard.as_ref().and_then(|w| self.covering(w)),
            ];
            for (i, c) in covers.iter().enumerate() {
                if let Some(set) = c {
                    if i == 1 && covers[0].is_some_and(|first| std::ptr::eq(first, *set)) {
                        continue;
                    }
                    proof.extend(set.records_with_rrsigs());
                }
            }
        }
        let soa: Vec<&Record> = self
            .soa
            .iter()
            .flat_map(|set| set.records_with_rrsigs())
            .filter(|r| dnssec_ok || r.record_type() == RecordType::SOA)
            .collect();
        let mut metadata = Metadata::response_from_request(meta);
        metadata.authoritative = true;
        metadata.response_code = ResponseCode::NXDomain;
        let mut edns = Edns::new();
        if let Some(req) = request.edns.as_ref() {
            edns.set_dnssec_ok(req.flags().dnssec_ok);
            edns.set_max_payload(req.max_payload().max(512));
        }
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if request.edns.is_some() {
            builder.edns(&edns);
        }
        let msg = builder.build(metadata, std::iter::empty(), proof, soa, std::iter::empty());
        match response.send_response(msg).await {
            Ok(info) => info,
            Err(_) => ResponseInfo::from(Header {
                metadata,
                counts: Default::default(),
            }),
        }
    }
}

fn flip(data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    if let Some(b) = d.first_mut() {
        *b ^= 0xff;
    }
    d
}

/// TLSA RDATA for a spec (RFC 6698 §2.1), computed from the lab certificates.
fn tlsa(spec: TlsaSpec, leaf: &Certificate, inputs: &ZoneInputs<'_>) -> Result<TLSA, LabError> {
    let digest = |bytes: &[u8]| dane::associate(bytes, Matching::Sha256).map_err(dns_err);
    let digest512 = |bytes: &[u8]| dane::associate(bytes, Matching::Sha512).map_err(dns_err);
    Ok(match spec {
        TlsaSpec::EeSpki | TlsaSpec::LookupServFail | TlsaSpec::Submission => {
            TLSA::new(3.into(), 1.into(), 1.into(), digest(&leaf.spki)?)
        }
        TlsaSpec::EeWrong => TLSA::new(3.into(), 1.into(), 1.into(), flip(&digest(&leaf.spki)?)),
        TlsaSpec::EeSha512Wrong => {
            TLSA::new(3.into(), 1.into(), 2.into(), flip(&digest512(&leaf.spki)?))
        }
        TlsaSpec::TaSpki => TLSA::new(
            2.into(),
            1.into(),
            1.into(),
            digest(&inputs.intermediate.spki)?,
        ),
        TlsaSpec::TaRootNotServed => {
            TLSA::new(2.into(), 1.into(), 1.into(), digest(&inputs.root.spki)?)
        }
        TlsaSpec::PkixOnly => TLSA::new(0.into(), 0.into(), 1.into(), digest(&leaf.der)?),
    })
}

/// Routes each query to the right zone, and injects the scenario faults.
pub(crate) struct LabHandler {
    /// One catalog per zone.
    zones: Vec<ServedZone>,
    /// Where each zone is in `zones`, by origin.
    by_origin: HashMap<LowerName, usize>,
    /// Where the root zone is in `zones`.
    root: usize,
    /// Names whose queries get no answer at all.
    timeouts: HashSet<LowerName>,
    /// Names whose queries get SERVFAIL.
    servfails: HashSet<LowerName>,
    /// TLSA names where every type but TLSA gets an NXDOMAIN without a valid proof: the name
    /// exists, so no NSEC covers it, and validators find the denial bogus (a signer bug that
    /// internet.nl tests for, checks.md D3).
    bogus_denials: HashSet<LowerName>,
}

#[async_trait::async_trait]
impl RequestHandler for LabHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let Ok(info) = request.request_info() else {
            return self
                .root()
                .catalog
                .handle_request::<R, T>(request, response)
                .await;
        };
        let (qname, qtype) = (info.query.name(), info.query.query_type());
        if self.timeouts.contains(qname) {
            // Say nothing: the client times out.
            let mut metadata = Metadata::response_from_request(info.metadata);
            metadata.response_code = ResponseCode::ServFail;
            return ResponseInfo::from(Header {
                metadata,
                counts: Default::default(),
            });
        }
        if self.servfails.contains(qname) {
            let msg = MessageResponseBuilder::from_message_request(request)
                .error_msg(info.metadata, ResponseCode::ServFail);
            return match response.send_response(msg).await {
                Ok(info) => info,
                Err(_) => {
                    let mut metadata = Metadata::response_from_request(info.metadata);
                    metadata.response_code = ResponseCode::ServFail;
                    ResponseInfo::from(Header {
                        metadata,
                        counts: Default::default(),
                    })
                }
            };
        }
        let zone = self.zone_for(qname, qtype);
        if let Some(index) = &zone.index {
            let qname = Name::from(qname);
            let bogus = qtype != RecordType::TLSA && self.bogus_denials.contains(info.query.name());
            if bogus || !index.names.contains(&qname) {
                return index
                    .nxdomain(request, info.metadata, &qname, response)
                    .await;
            }
        }
        zone.catalog.handle_request::<R, T>(request, response).await
    }
}

impl LabHandler {
    /// The closest enclosing zone of `qname`; for DS, the parent side of a zone cut
    /// (RFC 4035 §3.1.4.1).
    fn zone_for(&self, qname: &LowerName, qtype: RecordType) -> &ServedZone {
        let mut name = qname.clone();
        loop {
            match self.by_origin.get(&name) {
                Some(i) if !(qtype == RecordType::DS && name == *qname) => return &self.zones[*i],
                _ => {}
            }
            if name.is_root() {
                return self.root();
            }
            name = name.base_name();
        }
    }

    /// The root zone, which answers what no other zone holds.
    fn root(&self) -> &ServedZone {
        &self.zones[self.root]
    }
}
