//! The lab's scenarios: one table, one row per domain under `test.`.
//!
//! Each row says what the domain publishes (DNS records and their DNSSEC state, an MTA-STS
//! policy host and its faults, MX hosts with their certificates, STARTTLS and TLSA records) and
//! what an RFC-conformant sender must conclude ([`Verdict`]). Zones, certificates, policy hosts
//! and SMTP servers are all generated from this table.

/// What a conformant sender does with mail for the domain.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Deliver over TLS authenticated by DANE (RFC 7672 §3).
    Dane,
    /// Deliver over TLS authenticated by the MTA-STS policy (RFC 8461 §4).
    Sts,
    /// Deliver; the policy is in testing mode and failures are only reported (RFC 8461 §5).
    StsTesting,
    /// No policy applies: opportunistic TLS (or cleartext).
    Opportunistic,
    /// TLS is mandatory but unauthenticated: a secure TLSA RRset with no usable record
    /// (RFC 7672 §2.2).
    MandatoryTls,
    /// Do not deliver now; retry later. The TLS-RPT result type names the reason (RFC 8460 §4.3).
    Defer(&'static str),
}

impl Verdict {
    /// Short text for tables.
    pub fn label(self) -> String {
        match self {
            Self::Dane => "deliver (DANE)".into(),
            Self::Sts => "deliver (MTA-STS)".into(),
            Self::StsTesting => "deliver (MTA-STS testing)".into(),
            Self::Opportunistic => "deliver (opportunistic)".into(),
            Self::MandatoryTls => "deliver (TLS, unauthenticated)".into(),
            Self::Defer(why) => format!("defer ({why})"),
        }
    }
}

/// The DNSSEC state of a scenario's zone.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneSecurity {
    /// Signed, with a DS in `test.`: answers validate as secure.
    Signed,
    /// Not signed, no DS in `test.` (NSEC proves the absence): answers are insecure.
    Unsigned,
    /// Signed, but the named RRset's signature is broken: answers are bogus.
    BogusAt(BogusRecord),
}

/// Which RRset of a bogus zone carries a broken signature.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BogusRecord {
    /// The TLSA RRset of the first MX.
    Tlsa,
    /// The domain's MX RRset.
    Mx,
    /// Not an RRset: the TLSA RRset of the first MX validates, but a query for any other type
    /// at the TLSA name gets NXDOMAIN without a valid denial (the signer bug internet.nl looks
    /// for with an A query there). In-process lab only: the real lab serves the zone as signed.
    DenialAtTlsaName,
}

/// What the `_mta-sts` name answers.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StsTxt {
    /// The name does not exist.
    Absent,
    /// The name exists (it has an A record) but has no TXT: NODATA.
    NoData,
    /// These TXT records; a NUL inside one separates its character strings (RFC 7208 §3.3 style
    /// splitting, which readers concatenate without spaces).
    Records(&'static [&'static str]),
    /// A CNAME to the `_mta-sts` name of another scenario (delegation, RFC 8461 §8.2).
    Cname(&'static str),
    /// The lab's DNS server never answers queries for the name. The real lab
    /// (`scripts/lab-real`) cannot withhold an answer: Knot serves the record behind the fault.
    Timeout,
    /// The lab's DNS server answers SERVFAIL for the name; in the real lab, Knot, for a zone of
    /// its own it cannot load.
    ServFail,
}

/// How the policy host misbehaves (RFC 8461 §3.3).
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostFault {
    /// Serves the policy correctly.
    None,
    /// Answers `301` to another URL.
    Redirect,
    /// Answers `404`.
    NotFound,
    /// Serves the body as `text/html`.
    Html,
    /// Serves a body over 64 KiB.
    Oversize,
    /// Sends the body one byte per second.
    Slow,
    /// Presents a certificate from an untrusted CA.
    UntrustedCert,
    /// Presents a certificate for another name.
    WrongName,
    /// Presents an expired certificate.
    ExpiredCert,
    /// Serves the policy correctly, with HTTP caching headers that contradict its max_age
    /// (`Cache-Control: no-store`, an `Expires` in the past, an `ETag`), which senders ignore
    /// (RFC 8461 §3.3).
    CacheHeaders,
    /// Speaks only TLS 1.0: answers every client hello with a fatal protocol_version alert, as
    /// OpenSSL limited to TLS 1.0 does (RFC 8461 §7.2). Served at [`OLD_TLS_POLICY_HOST`].
    OldTls,
    /// `mta-sts.<domain>` is a CNAME to a provider's host, [`PROVIDER_LABEL`]`.<domain>`
    /// (RFC 8461 §8.2 delegation), which presents a certificate for `mta-sts.<domain>`.
    Delegated,
    /// The same delegation, but the provider presents a certificate naming only its own host.
    DelegatedProviderCert,
}

impl HostFault {
    /// True when senders get the policy despite the fault (it is no fault for them).
    pub fn serves_policy(self) -> bool {
        matches!(self, Self::None | Self::CacheHeaders | Self::Delegated)
    }

    /// True when `mta-sts.<domain>` is a CNAME to the provider's host.
    pub fn is_delegated(self) -> bool {
        matches!(self, Self::Delegated | Self::DelegatedProviderCert)
    }
}

/// Where the lab serves the [`HostFault::OldTls`] policy host (on the lab's HTTPS port).
pub const OLD_TLS_POLICY_HOST: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// The label of the provider's policy host under a delegating domain: `mta-sts.<domain>` is a
/// CNAME to `sts-provider.<domain>` ([`HostFault::Delegated`]).
pub const PROVIDER_LABEL: &str = "sts-provider";

/// The policy host of a scenario.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
pub struct PolicyHost {
    /// The body; `{domain}` is replaced by the scenario's domain.
    pub body: &'static str,
    /// The fault, if any.
    pub fault: HostFault,
}

/// A TLSA record an MX publishes, computed from the lab's certificates.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsaSpec {
    /// `3 1 1` of the MX's own leaf.
    EeSpki,
    /// `3 1 1` with a digest that matches nothing.
    EeWrong,
    /// `2 1 1` of the lab intermediate.
    TaSpki,
    /// `0 0 1` of the leaf (PKIX-TA: unusable for SMTP).
    PkixOnly,
    /// `3 1 2` with a digest that matches nothing. Beside a correct `3 1 1` it must win: the
    /// strongest matching type of a (usage, selector) pair decides (RFC 7671 §9, RFC 7672 §5).
    EeSha512Wrong,
    /// `2 1 1` of the lab root, which the MX does not send (RFC 7672 §3.1.2: the trust anchor
    /// must be in the served chain).
    TaRootNotServed,
    /// The TLSA lookup answers SERVFAIL (a `3 1 1` record sits behind the fault): the host is
    /// unusable (RFC 7672 §2.1.2). In-process lab only.
    LookupServFail,
    /// `3 1 1` of the MX's own leaf at `_587._tcp.<mx>` (submission), not at port 25: a TLSA
    /// record for another service on the MX host.
    Submission,
}

impl TlsaSpec {
    /// True for faults only the in-process lab can inject.
    pub fn is_injected_fault(self) -> bool {
        self == Self::LookupServFail
    }

    /// The port whose TLSA name carries the record: 587 for [`Self::Submission`], else 25
    /// (and the lab's SMTP port).
    pub fn port(self) -> u16 {
        match self {
            Self::Submission => 587,
            _ => 25,
        }
    }
}

/// The certificate an MX presents.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MxCert {
    /// Valid for the MX name, from the lab CA.
    Valid,
    /// Expired.
    Expired,
    /// For another name.
    WrongName,
    /// From an untrusted CA.
    Untrusted,
    /// Valid, ECDSA (the leaf the TLSA specs name), and a second, RSA leaf for the same name,
    /// presented to clients that offer only RSA signature schemes (a dual-certificate server).
    ValidWithRsa,
    /// Valid for the MX name; the server aborts a handshake whose SNI names any other host
    /// (no SNI is accepted). Postfix's smtpd cannot do this: in-process lab only.
    StrictSni,
}

impl MxCert {
    /// True for servers only the in-process lab can build.
    pub fn is_in_process_only(self) -> bool {
        self == Self::StrictSni
    }
}

/// One MX host of a scenario.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
pub struct Mx {
    /// The host name relative to the domain (`mx` → `mx.<domain>`).
    pub label: &'static str,
    /// MX preference.
    pub preference: u16,
    /// Whether the SMTP server offers STARTTLS.
    pub starttls: bool,
    /// What certificate it presents.
    pub cert: MxCert,
    /// TLSA records at `_25._tcp.<mx>` (or, behind a CNAME, at the target's TLSA name).
    pub tlsa: &'static [TlsaSpec],
    /// When set, the MX host name is a CNAME to `<cname>.<domain>`, which holds the address
    /// and the TLSA records: the TLSA base domain is the target (RFC 7672 §2.2.3), and so is
    /// the SNI a DANE sender sends (§8.1).
    pub cname: Option<&'static str>,
}

/// One row of the table.
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Serialize)]
pub struct Scenario {
    /// The label under `test.`: the domain is `<name>.test`.
    pub name: &'static str,
    /// What the row exercises, in a few words.
    pub exercises: &'static str,
    /// The DNSSEC state of the zone.
    pub zone: ZoneSecurity,
    /// What `_mta-sts.<domain>` answers.
    pub sts_txt: StsTxt,
    /// The policy host, if the domain runs one.
    pub policy: Option<PolicyHost>,
    /// The `_smtp._tls.<domain>` TXT record, if any.
    pub tlsrpt: Option<&'static str>,
    /// The MX hosts.
    pub mx: &'static [Mx],
    /// The CA named in a CAA `issue` record at the domain's apex (RFC 8659), if any.
    pub caa: Option<&'static str>,
    /// What a conformant sender concludes.
    pub expected: Verdict,
}

impl Scenario {
    /// `<name>.test`.
    pub fn domain(&self) -> String {
        format!("{}.test", self.name)
    }

    /// True for rows only the in-process lab can build (the real-component lab leaves them out
    /// of the Postfix and posttls-finger comparisons).
    pub fn is_in_process_only(&self) -> bool {
        self.mx
            .iter()
            .any(|m| m.tlsa.iter().any(|t| t.is_injected_fault()) || m.cert.is_in_process_only())
    }

    /// Looks a scenario up by name or domain.
    pub fn find(name: &str) -> Option<&'static Self> {
        let name = name.trim_end_matches('.');
        let name = name.strip_suffix(".test").unwrap_or(name);
        SCENARIOS.iter().find(|s| s.name == name)
    }
}

const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: mx.{domain}\nmax_age: 604800\n";
const ENFORCE_WILD: &str = "version: STSv1\nmode: enforce\nmx: *.mx.{domain}\nmax_age: 604800\n";
const TESTING: &str = "version: STSv1\nmode: testing\nmx: mx.{domain}\nmax_age: 604800\n";
const NONE: &str = "version: STSv1\nmode: none\nmax_age: 86400\n";
const OTHER_MX: &str = "version: STSv1\nmode: enforce\nmx: other.{domain}\nmax_age: 604800\n";
const NO_MAX_AGE: &str = "version: STSv1\nmode: enforce\nmx: mx.{domain}\n";
/// max_age one year: longer than the lab's 90-day policy host certificates.
const ENFORCE_YEAR: &str = "version: STSv1\nmode: enforce\nmx: mx.{domain}\nmax_age: 31557600\n";
const STS_TXT: StsTxt = StsTxt::Records(&["v=STSv1; id=20261129T000000;"]);

const fn host(body: &'static str) -> Option<PolicyHost> {
    Some(PolicyHost {
        body,
        fault: HostFault::None,
    })
}

const fn faulty(fault: HostFault) -> Option<PolicyHost> {
    Some(PolicyHost {
        body: ENFORCE,
        fault,
    })
}

const fn mx(starttls: bool, cert: MxCert, tlsa: &'static [TlsaSpec]) -> Mx {
    Mx {
        label: "mx",
        preference: 10,
        starttls,
        cert,
        tlsa,
        cname: None,
    }
}

const GOOD_MX: &[Mx] = &[mx(true, MxCert::Valid, &[])];
const TLSRPT: Option<&str> = Some("v=TLSRPTv1; rua=mailto:tlsrpt@{domain}");

const fn sts(
    name: &'static str,
    exercises: &'static str,
    policy: Option<PolicyHost>,
    expected: Verdict,
) -> Scenario {
    Scenario {
        name,
        exercises,
        zone: ZoneSecurity::Signed,
        sts_txt: STS_TXT,
        policy,
        tlsrpt: TLSRPT,
        mx: GOOD_MX,
        caa: None,
        expected,
    }
}

const fn dane(
    name: &'static str,
    exercises: &'static str,
    zone: ZoneSecurity,
    mx: &'static [Mx],
    expected: Verdict,
) -> Scenario {
    Scenario {
        name,
        exercises,
        zone,
        sts_txt: StsTxt::Absent,
        policy: None,
        tlsrpt: TLSRPT,
        mx,
        caa: None,
        expected,
    }
}

/// Every scenario of the lab.
pub const SCENARIOS: &[Scenario] = &[
    // --- MTA-STS: modes
    sts(
        "sts-enforce",
        "MTA-STS enforce, MX covered, valid certificate",
        host(ENFORCE),
        Verdict::Sts,
    ),
    sts(
        "sts-testing",
        "MTA-STS testing mode",
        host(TESTING),
        Verdict::StsTesting,
    ),
    sts(
        "sts-none",
        "MTA-STS mode none (policy removal)",
        host(NONE),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-wildcard",
        "wildcard pattern *.mx.<domain> covers mx1.mx.<domain>",
        host(ENFORCE_WILD),
        Verdict::Sts,
    )
    .with_mx(&[Mx {
        label: "mx1.mx",
        preference: 10,
        starttls: true,
        cert: MxCert::Valid,
        tlsa: &[],
        cname: None,
    }]),
    sts(
        "sts-wildcard-deep",
        "wildcard matches one label only: a.b.mx.<domain> is not covered",
        host(ENFORCE_WILD),
        Verdict::Defer("validation-failure"),
    )
    .with_mx(&[Mx {
        label: "a.b.mx",
        preference: 10,
        starttls: true,
        cert: MxCert::Valid,
        tlsa: &[],
        cname: None,
    }]),
    sts(
        "sts-mx-mismatch",
        "enforce policy does not list the MX",
        host(OTHER_MX),
        Verdict::Defer("validation-failure"),
    ),
    sts(
        "sts-mx-wrong-cert",
        "enforce, MX certificate for another name",
        host(ENFORCE),
        Verdict::Defer("certificate-host-mismatch"),
    )
    .with_mx(&[mx(true, MxCert::WrongName, &[])]),
    sts(
        "sts-mx-expired-cert",
        "enforce, MX certificate expired",
        host(ENFORCE),
        Verdict::Defer("certificate-expired"),
    )
    .with_mx(&[mx(true, MxCert::Expired, &[])]),
    sts(
        "sts-mx-untrusted-cert",
        "enforce, MX certificate from an unknown CA",
        host(ENFORCE),
        Verdict::Defer("certificate-not-trusted"),
    )
    .with_mx(&[mx(true, MxCert::Untrusted, &[])]),
    sts(
        "sts-mx-no-starttls",
        "enforce, MX does not offer STARTTLS",
        host(ENFORCE),
        Verdict::Defer("starttls-not-supported"),
    )
    .with_mx(&[mx(false, MxCert::Valid, &[])]),
    sts(
        "sts-invalid-policy",
        "policy body without max_age",
        host(NO_MAX_AGE),
        Verdict::Opportunistic,
    ),
    // --- MTA-STS: discovery (RFC 8461 §3.1)
    sts(
        "sts-no-txt",
        "no _mta-sts record (NXDOMAIN): no policy",
        host(ENFORCE),
        Verdict::Opportunistic,
    )
    .with_txt(StsTxt::Absent),
    sts(
        "sts-txt-nodata",
        "_mta-sts exists without TXT (NODATA): no policy",
        host(ENFORCE),
        Verdict::Opportunistic,
    )
    .with_txt(StsTxt::NoData),
    sts(
        "sts-two-txt",
        "two v=STSv1 records: no policy",
        host(ENFORCE),
        Verdict::Opportunistic,
    )
    .with_txt(StsTxt::Records(&["v=STSv1; id=one;", "v=STSv1; id=two;"])),
    sts(
        "sts-bad-id",
        "id with dashes: invalid record, no policy",
        host(ENFORCE),
        Verdict::Opportunistic,
    )
    .with_txt(StsTxt::Records(&["v=STSv1; id=2026-11-29;"])),
    sts(
        "sts-split-txt",
        "record split into two strings, plus an unrelated record",
        host(ENFORCE),
        Verdict::Sts,
    )
    .with_txt(StsTxt::Records(&[
        "v=STSv1; \u{0}id=split1;",
        "site-verification=abc",
    ])),
    Scenario {
        name: "sts-host-missing",
        exercises: "valid _mta-sts record but mta-sts.<domain> does not resolve: no policy",
        zone: ZoneSecurity::Signed,
        sts_txt: STS_TXT,
        policy: None,
        tlsrpt: TLSRPT,
        mx: GOOD_MX,
        caa: None,
        expected: Verdict::Opportunistic,
    },
    sts(
        "sts-cname",
        "_mta-sts is a CNAME to another domain's record (RFC 8461 §8.2 delegation)",
        host(ENFORCE),
        Verdict::Sts,
    )
    .with_txt(StsTxt::Cname("sts-enforce")),
    sts(
        "sts-txt-timeout",
        "the _mta-sts query times out: lookup failure, not 'no policy'",
        host(ENFORCE),
        Verdict::Defer("sts-policy-fetch-error"),
    )
    .with_txt(StsTxt::Timeout),
    sts(
        "sts-txt-servfail",
        "the _mta-sts query answers SERVFAIL",
        host(ENFORCE),
        Verdict::Defer("sts-policy-fetch-error"),
    )
    .with_txt(StsTxt::ServFail),
    // --- MTA-STS: policy host faults (RFC 8461 §3.3): no cached policy, so no policy applies
    sts(
        "sts-redirect",
        "policy host answers 301: redirects MUST NOT be followed",
        faulty(HostFault::Redirect),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-404",
        "policy host answers 404",
        faulty(HostFault::NotFound),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-html",
        "policy served as text/html",
        faulty(HostFault::Html),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-oversize",
        "policy body over 64 KiB",
        faulty(HostFault::Oversize),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-slow",
        "policy body trickles past the fetch timeout",
        faulty(HostFault::Slow),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-host-untrusted",
        "policy host certificate from an unknown CA",
        faulty(HostFault::UntrustedCert),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-host-wrong-name",
        "policy host certificate for another name",
        faulty(HostFault::WrongName),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-host-expired",
        "policy host certificate expired",
        faulty(HostFault::ExpiredCert),
        Verdict::Opportunistic,
    ),
    // --- DANE (RFC 7672)
    dane(
        "dane-ee",
        "TLSA 3 1 1 matching the leaf",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Valid, &[TlsaSpec::EeSpki])],
        Verdict::Dane,
    ),
    dane(
        "dane-ee-wrong",
        "TLSA 3 1 1 matching nothing",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Valid, &[TlsaSpec::EeWrong])],
        Verdict::Defer("tlsa-invalid"),
    ),
    dane(
        "dane-ta",
        "TLSA 2 1 1 of the issuing CA, name matches",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Valid, &[TlsaSpec::TaSpki])],
        Verdict::Dane,
    ),
    dane(
        "dane-ta-wrong-name",
        "TLSA 2 1 1 matches but the certificate names another host",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::WrongName, &[TlsaSpec::TaSpki])],
        Verdict::Defer("certificate-host-mismatch"),
    ),
    dane(
        "dane-ee-expired",
        "TLSA 3 1 1 with an expired leaf: still valid (RFC 7672 §3.1.1)",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Expired, &[TlsaSpec::EeSpki])],
        Verdict::Dane,
    ),
    dane(
        "dane-ee-and-ta",
        "rollover pair 3 1 1 + 2 1 1",
        ZoneSecurity::Signed,
        &[mx(
            true,
            MxCert::Valid,
            &[TlsaSpec::EeSpki, TlsaSpec::TaSpki],
        )],
        Verdict::Dane,
    ),
    dane(
        "dane-pkix-only",
        "only a PKIX-TA record: unusable, TLS without authentication",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Valid, &[TlsaSpec::PkixOnly])],
        Verdict::MandatoryTls,
    ),
    dane(
        "dane-no-starttls",
        "usable TLSA but no STARTTLS: never deliver in cleartext",
        ZoneSecurity::Signed,
        &[mx(false, MxCert::Valid, &[TlsaSpec::EeSpki])],
        Verdict::Defer("starttls-not-supported"),
    ),
    dane(
        "dane-insecure",
        "TLSA in an unsigned zone: ignored",
        ZoneSecurity::Unsigned,
        &[mx(true, MxCert::Valid, &[TlsaSpec::EeSpki])],
        Verdict::Opportunistic,
    ),
    dane(
        "dane-bogus-tlsa",
        "TLSA RRset with a broken signature",
        ZoneSecurity::BogusAt(BogusRecord::Tlsa),
        &[mx(true, MxCert::Valid, &[TlsaSpec::EeSpki])],
        Verdict::Defer("dnssec-invalid"),
    ),
    dane(
        "dane-bogus-mx",
        "MX RRset with a broken signature: the destination is unresolvable",
        ZoneSecurity::BogusAt(BogusRecord::Mx),
        &[mx(true, MxCert::Valid, &[TlsaSpec::EeSpki])],
        Verdict::Defer("dnssec-invalid"),
    ),
    dane(
        "dane-digest-agility",
        "3 1 1 matches but a 3 1 2 does not: the stronger digest decides (RFC 7672 §5)",
        ZoneSecurity::Signed,
        &[mx(
            true,
            MxCert::Valid,
            &[TlsaSpec::EeSpki, TlsaSpec::EeSha512Wrong],
        )],
        Verdict::Defer("tlsa-invalid"),
    ),
    dane(
        "dane-ta-not-served",
        "2 1 1 of a root the server does not send (RFC 7672 §3.1.2)",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Valid, &[TlsaSpec::TaRootNotServed])],
        Verdict::Defer("tlsa-invalid"),
    ),
    dane(
        "dane-tlsa-servfail",
        "the TLSA lookup answers SERVFAIL: the host is unusable (RFC 7672 §2.1.2)",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Valid, &[TlsaSpec::LookupServFail])],
        Verdict::Defer("dnssec-invalid"),
    ),
    dane(
        "dane-no-tlsa",
        "signed zone, no TLSA (secure denial): opportunistic TLS",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::Valid, &[])],
        Verdict::Opportunistic,
    ),
    // --- both
    Scenario {
        name: "dane-and-sts",
        exercises: "valid DANE and MTA-STS: DANE takes precedence (RFC 8461 §2)",
        zone: ZoneSecurity::Signed,
        sts_txt: STS_TXT,
        policy: host(ENFORCE),
        tlsrpt: TLSRPT,
        mx: &[mx(true, MxCert::Valid, &[TlsaSpec::EeSpki])],
        caa: None,
        expected: Verdict::Dane,
    },
    Scenario {
        name: "dane-fail-sts-ok",
        exercises: "failing DANE is not rescued by a valid MTA-STS policy (RFC 8461 §2)",
        zone: ZoneSecurity::Signed,
        sts_txt: STS_TXT,
        policy: host(ENFORCE),
        tlsrpt: TLSRPT,
        mx: &[mx(true, MxCert::Valid, &[TlsaSpec::EeWrong])],
        caa: None,
        expected: Verdict::Defer("tlsa-invalid"),
    },
    Scenario {
        name: "plain",
        exercises: "no MTA-STS, no DANE, no TLS-RPT, no STARTTLS",
        zone: ZoneSecurity::Signed,
        sts_txt: StsTxt::Absent,
        policy: None,
        tlsrpt: None,
        mx: &[mx(false, MxCert::Valid, &[])],
        caa: None,
        expected: Verdict::Opportunistic,
    },
    // --- DANE extras (issue 8): new DANE rows go here
    dane(
        "dane-bogus-denial-at-tlsa-name",
        "TLSA validates, but an A query at the TLSA name gets a bogus NXDOMAIN (D3); senders only ask for TLSA",
        ZoneSecurity::BogusAt(BogusRecord::DenialAtTlsaName),
        &[mx(
            true,
            MxCert::Valid,
            &[TlsaSpec::EeSpki, TlsaSpec::TaSpki],
        )],
        Verdict::Dane,
    ),
    dane(
        "dane-dual-cert",
        "ECDSA and RSA certificates; 3 1 1 names the ECDSA key only (D14): RSA-only senders defer",
        ZoneSecurity::Signed,
        &[mx(true, MxCert::ValidWithRsa, &[TlsaSpec::EeSpki])],
        Verdict::Dane,
    ),
    dane(
        "dane-cname-sni",
        "MX is a CNAME; TLSA at the target; the server refuses SNI = TLSA base domain (D22)",
        ZoneSecurity::Signed,
        &[Mx {
            label: "mx",
            preference: 10,
            starttls: true,
            cert: MxCert::StrictSni,
            tlsa: &[TlsaSpec::EeSpki, TlsaSpec::TaSpki],
            cname: Some("mail"),
        }],
        Verdict::Defer("validation-failure"),
    ),
    dane(
        "dane-submission-tlsa",
        "TLSA at _25._tcp and at _587._tcp of the MX host: the other service is reported (D23)",
        ZoneSecurity::Signed,
        &[mx(
            true,
            MxCert::Valid,
            &[TlsaSpec::EeSpki, TlsaSpec::TaSpki, TlsaSpec::Submission],
        )],
        Verdict::Dane,
    ),
    // --- MTA-STS and TLS-RPT extras (issue 8): new MTA-STS and TLS-RPT rows go here
    sts(
        "sts-txt-spf",
        "an SPF record answered at _mta-sts and no v=STSv1 record: no policy (S4)",
        host(ENFORCE),
        Verdict::Opportunistic,
    )
    .with_txt(StsTxt::Records(&["v=spf1 -all"])),
    sts(
        "sts-cache-headers",
        "policy served with Cache-Control: no-store and an Expires in the past: ignored (H8)",
        faulty(HostFault::CacheHeaders),
        Verdict::Sts,
    ),
    sts(
        "sts-host-old-tls",
        "policy host speaks only TLS 1.0: senders cannot fetch the policy (H10)",
        faulty(HostFault::OldTls),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-host-delegated",
        "mta-sts.<domain> is a CNAME to a provider serving a certificate for mta-sts.<domain>",
        faulty(HostFault::Delegated),
        Verdict::Sts,
    ),
    sts(
        "sts-host-delegated-bad-cert",
        "mta-sts.<domain> is a CNAME to a provider whose certificate names only itself (H12)",
        faulty(HostFault::DelegatedProviderCert),
        Verdict::Opportunistic,
    ),
    sts(
        "sts-max-age-year",
        "max_age of a year, longer than the policy host certificate lasts (X5)",
        host(ENFORCE_YEAR),
        Verdict::Sts,
    ),
    // --- TLS-RPT report endpoints and CAA (issue 8, lead)
    sts(
        "tlsrpt-https",
        "TLS-RPT to an https: endpoint that takes reports; CAA at the apex (RFC 8460 §3, RFC 8659)",
        host(ENFORCE),
        Verdict::Sts,
    )
    .with_tlsrpt("v=TLSRPTv1; rua=https://mta-sts.{domain}/v1/tlsrpt")
    .with_caa("lab.test"),
    sts(
        "tlsrpt-https-broken",
        "TLS-RPT https: endpoints that cannot take reports: a host without address, a path answering 404",
        host(ENFORCE),
        Verdict::Sts,
    )
    .with_tlsrpt(
        "v=TLSRPTv1; rua=https://reports.{domain}/v1/tlsrpt,https://mta-sts.{domain}/no-such-path",
    ),
];

impl Scenario {
    const fn with_mx(mut self, mx: &'static [Mx]) -> Self {
        self.mx = mx;
        self
    }

    const fn with_txt(mut self, txt: StsTxt) -> Self {
        self.sts_txt = txt;
        self
    }

    const fn with_tlsrpt(mut self, record: &'static str) -> Self {
        self.tlsrpt = Some(record);
        self
    }

    const fn with_caa(mut self, issuer: &'static str) -> Self {
        self.caa = Some(issuer);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert!(SCENARIOS.len() >= 30, "{} scenarios", SCENARIOS.len());
        let mut names = std::collections::HashSet::new();
        for s in SCENARIOS {
            assert!(names.insert(s.name), "duplicate scenario {}", s.name);
            assert!(!s.mx.is_empty(), "{} has no MX", s.name);
            assert!(Scenario::find(&s.domain()).is_some());
        }
    }
}
