//! What each check of the catalogue is about, why it matters, how to fix it, and where the rule
//! comes from: the text of `mailsec checks ID`. One exhaustive match, so that a new check cannot
//! be added without its explanation.

use super::Check;

/// The long form of a check.
pub(super) struct About {
    /// What the check looks at and why it matters, in a few sentences.
    pub(super) explanation: &'static str,
    /// What to change when the check fails.
    pub(super) fix: &'static str,
    /// The rule's source: RFC and section.
    pub(super) rfc: &'static str,
}

const fn about(explanation: &'static str, fix: &'static str, rfc: &'static str) -> About {
    About {
        explanation,
        fix,
        rfc,
    }
}

pub(super) fn about_check(check: Check) -> About {
    use Check::*;
    match check {
        // MTA-STS TXT record
        S1 => about(
            "Senders discover MTA-STS through a TXT record at _mta-sts.<domain>. Without one \
             (NXDOMAIN or NODATA) they never fetch the policy: a policy file on the policy host \
             has no effect, and mail goes with opportunistic TLS only.",
            "Publish `_mta-sts.<domain>. IN TXT \"v=STSv1; id=<1-32 letters or digits>\"` once \
             the policy is served at https://mta-sts.<domain>/.well-known/mta-sts.txt.",
            "RFC 8461 §3.1",
        ),
        S2 => about(
            "Senders discard the TXT records at _mta-sts.<domain> that do not begin with \
             v=STSv1; if the number left is not exactly one, they assume the domain has no \
             MTA-STS policy. Two v=STSv1 records (often an old and a new one side by side) switch \
             MTA-STS off.",
            "Keep exactly one v=STSv1 record at the name; to change the id, replace the record \
             instead of adding one.",
            "RFC 8461 §3.1",
        ),
        S3 => about(
            "TXT records that do not begin with v=STSv1 are ignored by senders, so they do not \
             break discovery, but they usually point at a mistake: a record meant for another \
             name, or a wildcard TXT record answering at _mta-sts.",
            "Remove the records that do not belong at _mta-sts.<domain>; if a wildcard answers \
             there, publish the name explicitly.",
            "RFC 8461 §3.1",
        ),
        S4 => about(
            "A v=spf1 record answered at _mta-sts comes from a wildcard TXT record or a CNAME to \
             the apex. It is not an MTA-STS record: when it is the only TXT record, senders see \
             no policy.",
            "Publish the MTA-STS record at _mta-sts.<domain> explicitly (an explicit name \
             overrides the wildcard) and make sure _mta-sts is not a CNAME to the apex.",
            "RFC 8461 §3.1",
        ),
        S5 => about(
            "Senders look for the MTA-STS record only at _mta-sts.<domain>. A v=STSv1 record at \
             the domain itself is never queried, so the domain has no MTA-STS policy.",
            "Move the record to _mta-sts.<domain>.",
            "RFC 8461 §3.1",
        ),
        S6 => about(
            "_mta-sts may be a CNAME (to a provider that hosts the policy, for example), and \
             senders follow it. A name with a CNAME cannot hold other records: a CNAME next to a \
             TXT record is invalid DNS and resolvers answer unpredictably.",
            "Publish either the TXT record or a CNAME at _mta-sts.<domain>, not both. With \
             delegation, the policy host's certificate must still name mta-sts.<domain>.",
            "RFC 8461 §3.1, §8.2; RFC 1034 §3.6.2",
        ),
        S7 => about(
            "A TXT record may hold several character strings (at most 255 bytes each); senders \
             join them without adding spaces before parsing. A record split inside a field still \
             works, but a space expected at the join is not there.",
            "Nothing to fix when the joined text is the intended record; otherwise split it where \
             no space is needed, or keep a short record in one string.",
            "RFC 8461 §3.1",
        ),
        S8 => about(
            "The record must begin with exactly `v=STSv1` (case-sensitive); senders discard any \
             other record. Whitespace before the first ';' (`v=STSv1 ;`) fits the grammar but \
             not the rule that records begin with `v=STSv1;` (erratum 6285), and some senders \
             discard it.",
            "Begin the record with `v=STSv1;` exactly, e.g. `v=STSv1; id=20240101120000`.",
            "RFC 8461 §3.1 (erratum 6285)",
        ),
        S9 => about(
            "The id tells senders that the policy changed: they fetch it again when the id \
             differs from the one they cached. It is required and holds 1 to 32 ASCII letters or \
             digits only; dashes, dots, colons or a longer id make the record invalid, and \
             senders then see no policy.",
            "Use a timestamp without separators, e.g. `id=20240101120000`, and change it whenever \
             the policy body changes.",
            "RFC 8461 §3.1",
        ),
        S10 => about(
            "Fields other than v and id are extensions that senders ignore, provided their syntax \
             is valid (name: letters, digits, `_-.`; value: no spaces, `=` or `;`); an invalid \
             field makes the whole record invalid. Of a field given twice only the first counts, \
             so a second id is silently ignored.",
            "Remove unknown and duplicated fields; check the spelling and case of field names \
             (`id`, not `ID`).",
            "RFC 8461 §3.1, §3.2",
        ),
        S11 => about(
            "Senders fetch the policy again only when the id in the TXT record changes. A new \
             policy body under the old id stays unseen by every sender that cached the old one, \
             until its max_age runs out. Needs history: `mailsec check --input LIST --store URL` \
             compares each domain with its last stored result (policies compared as senders \
             read them: mode, max_age, the mx patterns, extensions).",
            "Every time the policy changes, update the policy file first, then the id in the TXT \
             record, in that order.",
            "RFC 8461 §3.1, §8.1",
        ),
        S12 => about(
            "The TTL decides how long resolvers keep the record: senders see a new id only after \
             the old record's TTL has passed, which delays policy updates.",
            "Nothing to fix; an hour to a day is usual. Lower it before a planned change that \
             must spread fast.",
            "RFC 8461 §8.1",
        ),
        S13 => about(
            "SERVFAIL, a timeout or a bogus answer at _mta-sts is not \"no record\": a sender with \
             a cached policy keeps applying it, and an auditor must not conclude that MTA-STS is \
             absent. The cause is usually an unreachable authoritative server or broken DNSSEC.",
            "Make _mta-sts.<domain> resolve reliably: check every authoritative server of the \
             zone and the zone's DNSSEC signatures.",
            "RFC 8461 §3.1, §5.1",
        ),
        S14 => about(
            "The MTA-STS record must be US-ASCII. Non-ASCII bytes (often a typographic quote or a \
             non-breaking space pasted from a document) make it invalid, and senders see no \
             policy.",
            "Type the record again in plain ASCII.",
            "RFC 8461 §3.1",
        ),
        S15 => about(
            "After v=STSv1, each field is name=value, with ';' (and optional whitespace) between \
             fields. A field without '=', an empty field (`;;`) or stray text breaks the grammar \
             and the record is invalid.",
            "Write the record as `v=STSv1; id=<id>;` with one ';' between fields.",
            "RFC 8461 §3.1",
        ),
        // Policy host and HTTPS fetch
        H1 => about(
            "Senders fetch the policy from https://mta-sts.<domain>/.well-known/mta-sts.txt. If \
             the host does not resolve, port 443 does not answer or the fetch outlasts the \
             sender's timeout (the RFC suggests one minute), the sender has no policy: first \
             contacts go without MTA-STS and cached policies cannot be refreshed.",
            "Publish A/AAAA records for mta-sts.<domain> and serve the policy over HTTPS on port \
             443, promptly.",
            "RFC 8461 §3.3",
        ),
        H2 => about(
            "The policy is authenticated by the policy host's Web PKI certificate alone: it must \
             name mta-sts.<domain> in its subjectAltName, chain to a root senders trust and be \
             within its validity period. Otherwise senders refuse the policy (TLS-RPT result \
             sts-webpki-invalid) and go on as if the domain had none.",
            "Install a certificate from a public CA whose subjectAltName covers mta-sts.<domain> \
             (a *.<domain> wildcard does), and serve the whole chain.",
            "RFC 8461 §3.3",
        ),
        H3 => about(
            "Once the policy host's certificate expires, senders can neither fetch nor refresh \
             the policy; cached policies protect mail only until their max_age runs out.",
            "Renew the certificate now and automate renewal (ACME).",
            "RFC 8461 §3.3",
        ),
        H4 => about(
            "Senders request exactly /.well-known/mta-sts.txt and accept only HTTP status 200. \
             Any other status (404, 403, 5xx) means no policy.",
            "Serve the policy file at that path with status 200 (mind the dot in .well-known).",
            "RFC 8461 §3.3",
        ),
        H5 => about(
            "Senders must not follow HTTP redirects when they fetch the policy: a 301 or 302 (to \
             www., to HTTPS elsewhere, to another host) means no policy, even when its target \
             serves a valid one.",
            "Serve the policy directly at https://mta-sts.<domain>/.well-known/mta-sts.txt and \
             exempt that path from site-wide redirects.",
            "RFC 8461 §3.3",
        ),
        H6 => about(
            "Senders should check that the policy is served as text/plain (charset utf-8 or \
             us-ascii; other parameters are ignored). Many do, and refuse text/html or \
             application/octet-stream, which web servers send for unknown file types and for \
             error pages.",
            "Configure the web server to send `Content-Type: text/plain` for mta-sts.txt.",
            "RFC 8461 §3.2",
        ),
        H7 => about(
            "Senders may refuse policy bodies larger than 64 kilobytes, and several \
             implementations do. A real policy is a few hundred bytes: a larger body is usually \
             an error page or the wrong file.",
            "Serve only the policy lines.",
            "RFC 8461 §3.3",
        ),
        H8 => about(
            "Senders must not use HTTP caching (Cache-Control, Expires) for the policy: how long \
             they keep it is decided by max_age alone, and when they fetch it again by the id in \
             the TXT record. Caching headers on the policy host change nothing for senders.",
            "Nothing to fix. To change how long senders keep the policy, change max_age; to make \
             them fetch it again, change the id.",
            "RFC 8461 §3.3",
        ),
        H9 => about(
            "Senders send the policy host name, mta-sts.<domain>, as SNI, and policy hosts may \
             rely on it to pick the certificate. mailsec also connects without SNI: a host that \
             then presents another certificate (or refuses) chooses by SNI, which is fine for \
             senders; with SNI the certificate must be for mta-sts.<domain> (H2).",
            "Configure a virtual host (server block) for mta-sts.<domain> with its own \
             certificate.",
            "RFC 8461 §7.1",
        ),
        H10 => about(
            "MTA-STS requires TLS 1.2 or newer; a policy host that offers only older versions \
             cannot be reached by conformant senders.",
            "Enable TLS 1.2 and 1.3 on the policy host.",
            "RFC 8461 §7.2",
        ),
        H11 => about(
            "How long the policy fetch took. Senders give up after their own timeout (the RFC \
             suggests one minute, some allow far less), so a slow policy host can look like no \
             policy at all.",
            "Nothing to fix when it is fast; otherwise serve the small static file from a host \
             that answers promptly.",
            "RFC 8461 §3.3",
        ),
        H12 => about(
            "When mta-sts.<domain> is delegated to a provider (a CNAME), senders still connect \
             with SNI mta-sts.<domain> and require a certificate for that name, not for the \
             provider's own host name.",
            "Have the provider serve a certificate for mta-sts.<domain> (most issue one through \
             ACME once the CNAME is in place).",
            "RFC 8461 §8.2",
        ),
        // Policy content
        P1 => about(
            "The policy is a list of `key: value` lines, each ending in LF or CRLF. A lone CR or \
             a blank line between fields breaks the grammar and senders reject the whole \
             policy; a blank line after the last field is outside the grammar too, and strict \
             senders refuse it.",
            "Save the file with LF (or CRLF) line endings and no empty lines.",
            "RFC 8461 §3.2 (erratum 6253)",
        ),
        P2 => about(
            "Each line is a key, a colon, optional whitespace and the value. Whitespace before \
             the key or before the colon, or a line without a colon, breaks the grammar and \
             invalidates the policy.",
            "Write each line as `key: value` from the first column, e.g. `mode: enforce`.",
            "RFC 8461 §3.2",
        ),
        P3 => about(
            "The policy must contain `version: STSv1` exactly (case-sensitive). Without it, or \
             with another value, the policy is invalid.",
            "Add the line `version: STSv1`.",
            "RFC 8461 §3.2",
        ),
        P4 => about(
            "mode is required and is enforce (do not deliver to MX hosts that fail validation), \
             testing (deliver anyway, report failures) or none (no active policy), in lower \
             case. A missing or misspelled mode invalidates the policy.",
            "Start with `mode: testing`, and switch to `mode: enforce` once the TLS reports are \
             clean.",
            "RFC 8461 §3.2, §5",
        ),
        P5 => about(
            "max_age is how long, in seconds, senders may keep the policy. It is required, 1 to \
             10 plain digits, and at most 31557600 (one year); signs, units or larger values \
             invalidate the policy.",
            "Give seconds, e.g. `max_age: 1209600` (two weeks) or `max_age: 31557600` (a year).",
            "RFC 8461 §3.2 (erratum 7282)",
        ),
        P6 => about(
            "The cached policy is what protects mail when an attacker blocks the policy fetch. \
             With a max_age under one day the cache barely outlives a sending session, so the \
             protection is mostly gone; some checkers and senders treat such policies as weak.",
            "Raise max_age to a week or more; keep short values for removing a policy (mode \
             none).",
            "RFC 8461 §3.2, §10.2",
        ),
        P7 => about(
            "The RFC expects max_age values of weeks or more: the longer it is, the smaller the \
             window in which an attacker who blocks the fetch can downgrade first-contact mail.",
            "Once the policy is stable, use 1209600 (two weeks) or more, up to 31557600.",
            "RFC 8461 §3.2, §10.2",
        ),
        P8 => about(
            "Each mx line names one MX host, or `*.` and a domain to match exactly one label \
             below it. IP addresses, several names on a line, a `*` other than the whole \
             left-most label, and Unicode names (write A-labels, xn--) are invalid. A trailing \
             dot is outside the grammar, and some senders then fail to match.",
            "One `mx:` line per host, e.g. `mx: mail.example.com` or `mx: *.example.net`, IDNs in \
             xn-- form, no trailing dot.",
            "RFC 8461 §3.2, §4.1",
        ),
        P9 => about(
            "In mode enforce or testing, senders accept only MX hosts that match an mx line; a \
             policy without any is invalid, since no MX host could ever match.",
            "Add an `mx:` line for every MX host of the domain.",
            "RFC 8461 §3.2",
        ),
        P10 => about(
            "When version, mode, max_age or an extension key appears more than once, senders use \
             the first line and ignore the others, so a new mode or max_age appended below the \
             old one has no effect. (mx is meant to repeat.)",
            "Keep one line per key and edit it in place.",
            "RFC 8461 §3.2",
        ),
        P11 => about(
            "Keys other than version, mode, max_age and mx are extensions that senders ignore, \
             as long as the line follows the extension grammar (a name of letters, digits and \
             `_-.`, a value of visible characters). Keys are case-sensitive: `Mode:` is an \
             unknown key, and the real mode is then missing.",
            "Check the spelling and case of every key, and remove lines that are not part of the \
             policy.",
            "RFC 8461 §3.2",
        ),
        P12 => about(
            "In mode testing senders deliver even to MX hosts that fail validation (and report \
             the failures through TLS-RPT); in mode none they apply no policy. Either way an \
             attacker on the path can still downgrade or intercept the connection.",
            "Read the TLS-RPT reports; once they show no failures, switch to `mode: enforce` and \
             change the id.",
            "RFC 8461 §5",
        ),
        P13 => about(
            "Senders match each MX host name against the mx lines (a wildcard matches exactly \
             one left-most label). In mode enforce an MX host that no pattern covers is not used \
             and mail to it is deferred; in testing the failure is reported; in none nothing is \
             applied.",
            "Add an `mx:` line for each MX host (or a wildcard that covers it with one label), \
             then change the id.",
            "RFC 8461 §4.1, §5",
        ),
        P14 => about(
            "A pattern that matches none of the domain's MX hosts does not stop delivery, but it \
             is usually left over from a former mail provider, whose hosts can still receive \
             mail authenticated by the policy.",
            "Remove the mx lines of hosts that no longer receive mail for the domain, then change \
             the id.",
            "RFC 8461 §4.1",
        ),
        P15 => about(
            "Under a policy, senders require each MX host to offer STARTTLS with a certificate \
             that names the MX host (a subjectAltName DNS-ID), chains to a trusted root and has \
             not expired. In mode enforce a host that fails is not used.",
            "Offer STARTTLS on every MX host with a publicly trusted certificate naming it.",
            "RFC 8461 §4.2",
        ),
        P16 => about(
            "`*.example.com` lets any host one label below example.com that has a valid \
             certificate receive mail for the domain. Where such certificates are easy to get \
             (shared hosting, many subdomains), the policy protects less than it seems to.",
            "List the MX hosts by name, or use a wildcard under a subdomain used only for mail \
             (e.g. `*.mx.example.com`).",
            "RFC 8461 §10.4",
        ),
        P17 => about(
            "With mode enforce and no MX host matching any mx line, senders that apply MTA-STS \
             cannot deliver any mail to the domain: every attempt is deferred until the message \
             bounces.",
            "Make the mx lines match the MX records now (and change the id), or switch to mode \
             testing while you do.",
            "RFC 8461 §4.1, §5",
        ),
        P18 => about(
            "Removing MTA-STS takes steps: publish mode none with a short max_age and a new id, \
             wait until every policy senders may have cached (the longest max_age ever served) \
             has expired, then remove the TXT record and the policy host. Removing everything at \
             once leaves senders applying their cached enforce policy.",
            "Keep the mode none policy and the TXT record online until the old max_age has \
             passed since the change.",
            "RFC 8461 §8.3",
        ),
        // TLS-RPT record
        R1 => about(
            "The TXT record at _smtp._tls.<domain> tells senders where to send daily reports of \
             TLS successes and failures for the domain (MTA-STS and DANE). Without it nobody \
             learns of failed or downgraded connections; its absence breaks no delivery.",
            "Publish `_smtp._tls.<domain>. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@<domain>\"`.",
            "RFC 8460 §3",
        ),
        R2 => about(
            "Senders discard the TXT records at _smtp._tls that do not begin with v=TLSRPTv1; if \
             not exactly one is left, they assume the domain wants no reports.",
            "Merge the records into one, with every report URI in its rua field.",
            "RFC 8460 §3",
        ),
        R3 => about(
            "Records that do not begin with v=TLSRPTv1 are ignored by senders; they usually come \
             from a wildcard TXT record or were meant for another name.",
            "Remove them, or publish the name explicitly so that a wildcard no longer answers.",
            "RFC 8460 §3",
        ),
        R4 => about(
            "The record must begin with exactly `v=TLSRPTv1` (case-sensitive), or senders \
             discard it. Whitespace before the first ';' fits the grammar but not the rule that \
             records begin with `v=TLSRPTv1;`, and some senders discard it.",
            "Begin the record with `v=TLSRPTv1;`.",
            "RFC 8460 §3",
        ),
        R5 => about(
            "rua, where reports go, is the one required field. `v=TLSRPTv1;` alone, or `RUA=` \
             (field names are case-sensitive), is invalid, and no reports are sent.",
            "Add `rua=mailto:<address>` or `rua=https://<endpoint>`.",
            "RFC 8460 §3",
        ),
        R6 => about(
            "Several URIs go in one rua field, separated by commas. A second rua= field is \
             grammatical and merged, but some parsers keep only one; a URI listed twice gets \
             duplicate reports.",
            "Use one rua field: `rua=mailto:a@example.com,https://r.example.com/tlsrpt`.",
            "RFC 8460 §3",
        ),
        R7 => about(
            "Fields other than v and rua are extensions that senders ignore, as long as they \
             follow the extension grammar (name: letters, digits, `_-.`; value: no spaces, `=` \
             or `;`); an invalid one makes the record invalid.",
            "Remove unknown fields; check the spelling and case of `rua`.",
            "RFC 8460 §3",
        ),
        R8 => about(
            "Reports are sent by mail (mailto:) or by HTTPS POST (https:). Other schemes, http: \
             included, cannot be used and make the record invalid.",
            "Use `mailto:` or `https:` URIs.",
            "RFC 8460 §3",
        ),
        R9 => about(
            "In rua, ',' separates URIs and ';' separates fields, so inside a URI these \
             characters, and '!', must be percent-encoded (%2C, %3B, %21). DMARC-style size \
             limits (`mailto:x@example.com!10m`) are therefore invalid.",
            "Percent-encode these characters and drop size suffixes.",
            "RFC 8460 §3",
        ),
        R10 => about(
            "A mailto: URI must hold a valid address, local-part@domain; with a malformed one \
             reports cannot be delivered.",
            "Write it as `mailto:tlsrpt@example.com`.",
            "RFC 8460 §3; RFC 6068 §2",
        ),
        R11 => about(
            "An https: URI needs `//` and a host (a name, an IPv4 address or a bracketed IPv6 \
             address), an optional port and path, and no user information; otherwise senders \
             cannot POST reports to it.",
            "Write it as `https://reports.example.com/tlsrpt`.",
            "RFC 8460 §3, §5.4; RFC 3986 §3",
        ),
        R12 => about(
            "Senders POST reports to the https: endpoint; if it does not resolve, refuses the \
             connection or answers with an error status, those reports are lost.",
            "Make the endpoint accept POST requests of application/tlsrpt+json and \
             application/tlsrpt+gzip.",
            "RFC 8460 §5.4",
        ),
        R13 => about(
            "Senders may deliver reports to every URI or to one of them only, and some pick one: \
             only a single destination is sure to get the reports.",
            "Make sure every destination processes reports, or keep a single rua URI.",
            "RFC 8460 §3",
        ),
        R14 => about(
            "Reports to a mailto: address are sent as mail; if the address's domain has no MX or \
             address records, or rejects the mail, the reports are lost. Unlike DMARC, TLS-RPT \
             does not ask an external destination to authorise reports.",
            "Use an address whose domain receives mail, and check that reports arrive.",
            "RFC 8460 §5.3",
        ),
        R15 => about(
            "Reports matter most when TLS to the domain fails. If the report mailbox sits behind \
             the same MX hosts, reports about their failures may not arrive: senders must \
             deliver reports despite TLS failures, but not every sender does.",
            "Use an https: endpoint, or a mailbox at another domain or provider.",
            "RFC 8460 §3, §5.3",
        ),
        R16 => about(
            "Without MTA-STS or DANE there is no policy to report on, but some senders still \
             send reports (policy type no-policy-found), which show who uses TLS.",
            "Nothing to fix; deploy MTA-STS (mode testing first) or DANE to make the reports \
             useful.",
            "RFC 8460 §4.4",
        ),
        R17 => about(
            "Some organisations require their own reporting address in the record (the UK NCSC \
             Mail Check, for example). mailsec requires none; the check applies only where such \
             a mailbox is asked for.",
            "Add the required address to the rua field if your organisation asks for it.",
            "RFC 8460 §3",
        ),
        R18 => about(
            "An attacker who can downgrade TLS can also hide or change the TLS-RPT record in \
             transit. A long TTL keeps the record cached through such an attack; DNSSEC \
             protects it outright.",
            "Sign the zone with DNSSEC, or give the record a long TTL (a day or more).",
            "RFC 8460 §7",
        ),
        R19 => about(
            "After v=TLSRPTv1, each field is name=value, with ';' (and optional whitespace) \
             between fields. A field without '=', an empty field (`;;`) or stray text breaks the \
             grammar and the record is invalid.",
            "Write the record as `v=TLSRPTv1; rua=mailto:tlsrpt@example.com`.",
            "RFC 8460 §3",
        ),
        // MX
        M1 => about(
            "Senders deliver to the hosts of the domain's MX records; without MX records they \
             fall back to the domain's own address records, and a null MX (`0 .`) says that the \
             domain takes no mail. MTA-STS and DANE apply to the MX hosts, so without them there \
             is nothing to check.",
            "Publish MX records for the mail servers, or a null MX if the domain receives no \
             mail.",
            "RFC 5321 §5.1; RFC 7505",
        ),
        // DNSSEC
        N1 => about(
            "DANE works only when the MX records are validated by DNSSEC; an unsigned mail \
             domain cannot use DANE, and its MX records can be forged in transit.",
            "Sign the zone with DNSSEC and publish its DS record in the parent zone.",
            "RFC 4033; RFC 7672 §2.2.1",
        ),
        N2 => about(
            "A signed zone whose answers fail validation (bogus: expired or broken signatures, a \
             DS that matches no key) cannot be resolved through validating resolvers: senders \
             cannot find the MX hosts and defer mail.",
            "Re-sign the zone, check that the DS in the parent matches a current DNSKEY, and \
             monitor signature expiry.",
            "RFC 4035 §5; RFC 7672 §2.1.2",
        ),
        N3 => about(
            "TLSA records are looked up only for MX hosts whose address records validate as \
             secure; an MX host in an unsigned zone (often a provider's) cannot use DANE.",
            "Use MX hosts in a signed zone: your own, or a provider that supports DANE.",
            "RFC 7672 §2.2.2",
        ),
        N4 => about(
            "When the MX host's zone fails validation, senders cannot look up its addresses or \
             TLSA records; DANE senders treat the host as unreachable.",
            "Have the MX host's zone re-signed and its DS checked (ask the provider if it is \
             theirs).",
            "RFC 4035 §5; RFC 7672 §2.1.2",
        ),
        N5 => about(
            "MX targets and TLSA names may be reached through CNAMEs, and senders follow them. \
             Every CNAME on the way must validate too: an insecure CNAME makes all that follows \
             insecure, and DANE then does not apply. A domain without MX records sends mail to \
             its own address records (the implicit MX), which this check does not follow.",
            "Avoid CNAMEs on the mail path, or keep every zone they cross signed; publish MX \
             records rather than relying on the implicit MX.",
            "RFC 7672 §2.1.3, §2.2.2; RFC 2181 §10.3; RFC 5321 §5.1",
        ),
        N6 => about(
            "Validation starts at the root trust anchor and goes through the TLD. If the root or \
             TLD keys do not validate, the resolver's trust anchor is wrong or stale, or \
             something intercepts DNS, and no result can be trusted.",
            "Update the resolver's root trust anchor and look for DNS interception on the path.",
            "RFC 4035 §5; RFC 5011",
        ),
        N7 => about(
            "DANE applies to a domain only when its MX RRset validates as secure: with an \
             insecure MX RRset an attacker could substitute other MX hosts, so senders need not \
             use the TLSA records of the listed ones (some, like Postfix, still do).",
            "Sign the mail domain's zone and publish its DS.",
            "RFC 7672 §2.2.1",
        ),
        N8 => about(
            "Senders look up TLSA records for an MX host only when its A/AAAA records validate as \
             secure. With insecure addresses DANE is not used for that host, whatever TLSA \
             records exist.",
            "Put the MX host names in a signed zone.",
            "RFC 7672 §2.2.2",
        ),
        N9 => about(
            "Every DNSSEC verdict depends on the resolver validating. One that does not check \
             signatures calls everything insecure and accepts forged answers, so no DANE or \
             DNSSEC result would mean anything.",
            "Use a validating resolver (Unbound, BIND, or a public validating service), or let \
             mailsec validate with a trust anchor.",
            "RFC 7672 §2.1.1",
        ),
        N10 => about(
            "SERVFAIL or a timeout says nothing about whether a record exists. A DANE sender \
             treats a failed TLSA lookup as making the host unusable (it defers), never as \"no \
             TLSA, deliver without DANE\"; an MTA-STS sender keeps its cached policy.",
            "Make every authoritative server answer every query (TLSA, DS and DNSKEY included) \
             promptly; check firewalls that drop TCP or large UDP answers.",
            "RFC 7672 §2.1.2",
        ),
        // DANE
        D1 => about(
            "DANE for SMTP is switched on per MX host by a TLSA RRset at _25._tcp.<mx-host> that \
             validates as secure. Without one (or in an unsigned zone) senders fall back to \
             opportunistic TLS, which an attacker on the path can strip.",
            "Publish `_25._tcp.<mx-host>. IN TLSA 3 1 1 <SHA-256 of the certificate's public \
             key>` (`mailsec tlsa generate`) in the MX host's signed zone.",
            "RFC 7672 §2.2.3",
        ),
        D2 => about(
            "The TLSA lookup failed DNSSEC validation: a bad, expired or missing signature, or a \
             broken chain of trust. A DANE sender must not use the MX host and \
             defers the mail when no other host is usable: bogus TLSA records stop mail, they do \
             not merely switch DANE off.",
            "Re-sign the MX host's zone, check the parent's DS records against its DNSKEYs and \
             watch RRSIG expiry; `mailsec dns query _25._tcp.<mx-host> TLSA` shows where the \
             chain breaks.",
            "RFC 7672 §2.1.1, §2.1.2",
        ),
        D3 => about(
            "A query for another type at the TLSA name (internet.nl asks for A) gets an \
             NXDOMAIN, or a denial whose NSEC/NSEC3 proof does not validate, beside a secure TLSA \
             RRset: a known signer bug. Resolvers that cache or synthesise from that denial \
             (RFC 8198) can then fail the TLSA lookup too, and senders defer mail.",
            "Re-sign the zone with a fresh NSEC or NSEC3 chain, and check that the signer \
             handles empty non-terminals such as _tcp.<mx-host>.",
            "RFC 4035 §5.4; RFC 7672 §2.1.1",
        ),
        D4 => about(
            "In a signed zone, \"no TLSA records\" must come with a validated denial of existence \
             (NSEC or NSEC3). An empty answer without that proof is what an attacker stripping \
             the records produces, so senders treat it as a failed lookup, not as \"no DANE\".",
            "Make sure the zone serves signed NSEC or NSEC3 records for names and types that do \
             not exist.",
            "RFC 7672 §2.1.1; RFC 4035 §5.4",
        ),
        D5 => about(
            "A TLSA record is usable for SMTP when its usage is DANE-TA(2) or DANE-EE(3), its \
             selector 0 or 1, its matching type 0, 1 or 2, and its data as long as the matching \
             type requires. When a secure TLSA RRset has no usable record, senders still insist \
             on TLS but authenticate nothing.",
            "Publish at least one 3 1 1 (or 2 1 1) record, computed with `mailsec tlsa \
             generate`.",
            "RFC 7672 §2.2, §3.1.3",
        ),
        D6 => about(
            "Usages 0 and 1 (PKIX-TA, PKIX-EE) add Web PKI validation, which SMTP senders do not \
             do: there is no agreed trust store for MX hosts. Senders treat such records as \
             unusable.",
            "Replace them with DANE-EE(3) or DANE-TA(2) records, e.g. 3 1 1.",
            "RFC 7672 §3.1.3",
        ),
        D7 => about(
            "The certificate chain the MX host presents must match at least one usable TLSA \
             record, or DANE senders do not deliver to it (TLS-RPT result tlsa-invalid). Usually \
             the certificate was renewed with a new key while DNS still holds the old digest.",
            "Publish the record of the certificate in use (`mailsec tlsa generate --cert`); \
             before a renewal with a new key, publish the new key's record first.",
            "RFC 7672 §3.1; RFC 6698 §2.1",
        ),
        D8 => about(
            "With a DANE-TA(2) record, the server certificate must name (subjectAltName DNS-ID, \
             or the CN without one) the TLSA base domain, the MX host name, or the recipient \
             domain when the MX RRset is secure; otherwise senders reject it \
             (certificate-host-mismatch). DANE-EE(3) records need no name.",
            "Have the certificate issued for the MX host name, or use a 3 1 1 record.",
            "RFC 7672 §3.2.2, §3.2.3",
        ),
        D9 => about(
            "For DANE-TA(2), the server must send the trust anchor certificate (the CA the record \
             names) in its chain, even a self-signed root: senders do not fetch missing issuers.",
            "Configure the MX host to send the whole chain including the CA the 2 x x record \
             names, or publish the record of an intermediate it does send.",
            "RFC 7672 §3.1.2",
        ),
        D10 => about(
            "Under DANE-TA(2), senders build the path from the anchor down to the leaf and check \
             its signatures and validity dates as in PKIX: an expired leaf or intermediate fails \
             (certificate-expired).",
            "Renew expired certificates and serve a chain whose signatures lead from the anchor \
             to the leaf.",
            "RFC 7672 §3.1.2",
        ),
        D11 => about(
            "With DANE-EE(3) the record binds the key itself: senders check neither the \
             certificate's names nor its dates, so an expired or self-signed certificate still \
             authenticates. Reported for information (an expiry still matters to MTA-STS \
             senders).",
            "Nothing to fix for DANE; keep the certificate current if MTA-STS senders use it \
             too.",
            "RFC 7672 §3.1.1, §3.2.1",
        ),
        D12 => about(
            "Records that match nothing the server presents are leftovers of an old key or CA. \
             They do no harm while another record matches, but they hide the real state and \
             enlarge the RRset.",
            "Remove the records of keys and CAs no longer in use, once any rollover is complete.",
            "RFC 7671 §8",
        ),
        D13 => about(
            "With a single record, renewing the certificate with a new key breaks delivery from \
             DANE senders until DNS catches up. Two records (current and next key as 3 1 1, or \
             3 1 1 plus 2 1 1 for the issuing CA) let the key change without an outage.",
            "Add a record for the next key, or a 2 1 1 record of the issuer, at least two TTLs \
             before a key change.",
            "RFC 7672 §4; RFC 7671 §8.1",
        ),
        D14 => about(
            "A server with both an RSA and an ECDSA certificate presents either, depending on \
             the sender: each key needs its own matching record and its own rollover plan.",
            "Publish records that cover both keys, current and next for each.",
            "RFC 7672 §4; RFC 7671 §8",
        ),
        D15 => about(
            "2 x x records of CAs that no longer issue your certificates (a retired \
             intermediate) still let that CA's certificates authenticate your MX host, and \
             enlarge the RRset.",
            "Remove the records of retired intermediates once no certificate you serve chains to \
             them.",
            "RFC 7671 §8",
        ),
        D16 => about(
            "A 2 0 x record hashes a whole CA certificate. A cross-signed CA has several \
             certificates for one key and the server may send any of them; a 2 1 x record \
             hashes the key and matches them all.",
            "Use 2 1 1 (the CA's public key) instead of 2 0 1.",
            "RFC 7671 §5.2; RFC 6698 §2.1.2",
        ),
        D17 => about(
            "CAs such as Let's Encrypt issue from several intermediates and pick one at each \
             renewal. A 2 1 1 record for only one of them breaks DANE when the next certificate \
             comes from another.",
            "Publish a 2 1 1 record for every current intermediate of your key type, or rely on \
             3 1 1 records.",
            "RFC 7671 §8",
        ),
        D18 => about(
            "Large TLSA RRsets make answers that need TCP and have hit sender limits: Microsoft's \
             outbound servers were reported to handle only about a dozen records per name.",
            "Keep a few records: the current and next key, and at most one 2 1 1 per issuing \
             intermediate.",
            "no RFC limit; RFC 7671 §8 (keep the RRset current)",
        ),
        D19 => about(
            "When records with the same usage and selector use different matching types (3 1 1 \
             and 3 1 2), senders use only the strongest and ignore the weaker: a correct 3 1 1 \
             does not help when the 3 1 2 beside it is wrong.",
            "Keep every matching type of the same key correct, or publish only 3 1 1.",
            "RFC 7671 §9; RFC 7672 §5",
        ),
        D20 => about(
            "Senders may connect to any IPv4 or IPv6 address of any MX host. One address with \
             another certificate (a forgotten server behind the same name) fails DANE for every \
             sender that reaches it.",
            "Serve a certificate that matches the TLSA records on every address of each MX host.",
            "RFC 7672 §2.2",
        ),
        D21 => about(
            "Senders try MX hosts in preference order. DANE on a backup MX does not cover the \
             primary, and a sender must not skip a preferred MX without TLSA for a less \
             preferred one with TLSA.",
            "Publish TLSA records for every MX host, the primary first.",
            "RFC 7672 §2.2.1",
        ),
        D22 => about(
            "With usable TLSA records, senders send the TLSA base domain as SNI: the MX host \
             name, or, when that is a CNAME, the name it expands to. A server that rejects that \
             name, or picks another certificate for it, fails DANE.",
            "Accept SNI for the TLSA base domain (or ignore unknown SNI values) and present the \
             certificate the TLSA records match.",
            "RFC 7672 §8.1",
        ),
        D23 => about(
            "TLSA records for other services of the MX host (submission on 465 and 587, IMAP on \
             993, ...) play no part in SMTP delivery; they are listed for information.",
            "Nothing to fix; keep them in step with those services' certificates.",
            "RFC 6698 §3",
        ),
        D24 => about(
            "The most common DANE outage: a renewal with a new key while DNS still holds only the \
             old key's record. The next key's record must be published, and cached by \
             resolvers, before the new certificate is deployed.",
            "Pre-generate the next key, publish its 3 1 1 record, wait two TTLs, then deploy it; \
             or keep the key at renewal; or pair 3 1 1 with 2 1 1.",
            "RFC 7672 §4; RFC 7671 §8.1",
        ),
        // STARTTLS
        T1 => about(
            "Without STARTTLS the MX host takes mail only in cleartext. Senders under MTA-STS \
             enforce or DANE refuse to deliver to it (starttls-not-supported); others send in \
             the clear.",
            "Enable STARTTLS with a certificate on every MX host.",
            "RFC 3207; RFC 8461 §4.2; RFC 7672 §2.2",
        ),
        T2 => about(
            "MTA-STS requires TLS 1.2 or newer, and the older versions are broken and disabled \
             in current TLS libraries.",
            "Enable TLS 1.2 and 1.3 on the MX hosts; disable SSL 3, TLS 1.0 and TLS 1.1.",
            "RFC 8461 §7.2; RFC 8996",
        ),
        T3 => about(
            "Cipher suites without forward secrecy, or with RC4, 3DES, NULL, export-grade or \
             anonymous key exchange, can be broken or let a passive attacker decrypt recorded \
             mail later. A sender that offers them may be talked into one by the server's \
             choice.",
            "Offer only ECDHE (or TLS 1.3) suites with AES-GCM or ChaCha20-Poly1305; in \
             Postfix: `smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, DES, 3DES, RC4, MD5`.",
            "RFC 9325 §4.1; RFC 7465; RFC 8996",
        ),
        T4 => about(
            "When the server picks the cipher suite by its own preference, a client that lists a \
             weak suite first still gets a strong one. internet.nl asks for a server order; it \
             matters only when weak suites are enabled at all.",
            "Make the server's order decide (Postfix: `tls_preempt_cipherlist = yes`), with \
             the strongest suites first.",
            "RFC 9325 §4.1",
        ),
        T5 => about(
            "The key exchange protects the session key: finite-field Diffie-Hellman under 2048 \
             bits and elliptic curves under 256 bits can be broken by a well-funded attacker \
             (Logjam), which decrypts recorded mail.",
            "Use ECDHE with X25519 or P-256 and up; for DHE, a group of 2048 bits or more (RFC \
             7919 ffdhe2048); in Postfix: `smtpd_tls_dh1024_param_file` with a 2048-bit group.",
            "RFC 9325 §4.1; RFC 7919; RFC 8422",
        ),
        T6 => about(
            "In TLS 1.2 the server signs its key-exchange parameters with a hash it chooses from \
             the client's list; MD5 and SHA-1 signatures can be forged (SLOTH), letting an \
             attacker impersonate the server.",
            "Configure the server to sign with SHA-256 or stronger (current OpenSSL does so \
             unless the client offers nothing else).",
            "RFC 9155; RFC 5246 §7.4.1.4.1",
        ),
        T7 => about(
            "TLS compression leaks the plaintext's content through the ciphertext length (CRIME); \
             TLS 1.3 removed it.",
            "Disable TLS compression (OpenSSL builds since 1.1.0 do by default; Postfix: \
             `tls_ssl_options = NO_COMPRESSION`).",
            "RFC 9325 §3.3; RFC 8446 §4.1.2",
        ),
        T8 => about(
            "A TLS 1.2 server without the renegotiation_info extension is open to the \
             renegotiation prefix attack, where an attacker splices its own data in front of \
             the client's session.",
            "Use a TLS library from after 2010, which sends renegotiation_info; or offer TLS 1.3, \
             which has no renegotiation.",
            "RFC 5746; RFC 9325 §3.5",
        ),
        T9 => about(
            "Renegotiation started by the client costs the server a full handshake each time, a \
             cheap denial-of-service lever; there is no use for it in SMTP.",
            "Refuse client-initiated renegotiation (OpenSSL 1.1.1 and later with \
             `SSL_OP_NO_RENEGOTIATION`; Postfix 3.4 and later do so by default).",
            "RFC 9325 §3.5",
        ),
        T10 => about(
            "0-RTT early data can be replayed by an attacker; SMTP commands are not idempotent, \
             and no profile of SMTP allows early data.",
            "Disable early data on the MX host (OpenSSL: `max_early_data` 0, the default).",
            "RFC 8446 §8, §E.5; RFC 9325 §3.4",
        ),
        T11 => about(
            "Without the extended master secret, a TLS 1.2 session can be synchronised between \
             two servers by an attacker (triple handshake); TLS 1.3 always binds the session to \
             its handshake.",
            "Use a TLS library that negotiates extended_master_secret (OpenSSL 1.1.0 and later, \
             GnuTLS 3.4 and later) or offer TLS 1.3.",
            "RFC 7627; RFC 9325 §3.6",
        ),
        T12 => about(
            "MTA-STS senders require an MX certificate that chains to a root they trust; DANE \
             senders do not (the TLSA record is the trust), and opportunistic senders ignore the \
             chain altogether.",
            "Use a certificate from a public CA and send its intermediates with it.",
            "RFC 8461 §4.2",
        ),
        T13 => about(
            "An RSA key under 2048 bits can be factored with affordable effort and is refused by \
             current TLS libraries and CA rules; the certificate's key protects every session to \
             the MX host.",
            "Reissue the certificate with an RSA key of 2048 bits or more, or an ECDSA P-256 key.",
            "RFC 8461 §4.2; NIST SP 800-131A",
        ),
        T14 => about(
            "SHA-1 and MD5 signatures can be forged (chosen-prefix collisions); senders that \
             validate the chain reject them.",
            "Reissue the certificate signed with SHA-256 or stronger.",
            "RFC 8461 §4.2; RFC 9155",
        ),
        T15 => about(
            "MTA-STS senders require the MX host name in the certificate's subjectAltName (a \
             wildcard covers one label); a certificate for another name fails \
             (certificate-host-mismatch).",
            "List every MX host name in the certificate's subjectAltName.",
            "RFC 8461 §4.2; RFC 6125 §6",
        ),
        T16 => about(
            "CAA records name the certificate authorities allowed to issue certificates for a \
             name. For the MX hosts and the policy host they narrow who can mint a certificate \
             that MTA-STS senders accept; they are information, not required.",
            "Publish `<name>. IN CAA 0 issue \"<your CA's domain>\"` for the MX hosts and \
             mta-sts.<domain> (or their parent domain).",
            "RFC 8659 §3, §4",
        ),
        T17 => about(
            "OCSP stapling lets a server prove its certificate is not revoked; SMTP senders do \
             not check revocation, so it plays no part in mail delivery and is reported as \
             information only (internet.nl does not score it for mail).",
            "Nothing to fix for mail; enable stapling if the certificate is shared with a web \
             server.",
            "RFC 6066 §8; RFC 8461 §4.2",
        ),
        T18 => about(
            "Not every sender sends SNI. An MX host that refuses connections without SNI, or then \
             presents an unrelated default certificate, fails those senders.",
            "Serve the MX host's own certificate by default, with or without SNI.",
            "RFC 8461 §7.1; RFC 7672 §8.1",
        ),
        // Cross-checks
        X1 => about(
            "When an MX host has usable DANE records, DANE takes precedence: a sender must not \
             deliver on the strength of a valid MTA-STS policy when DANE validation fails.",
            "Fix the DANE failure (the TLSA records against the certificate served); MTA-STS \
             cannot make up for it.",
            "RFC 8461 §2",
        ),
        X2 => about(
            "MTA-STS delivery needs three things to agree: the MX records, the policy's mx \
             patterns and the names in the MX certificates. Changing one (a new MX host, a new \
             provider) without the others makes enforcing senders defer.",
            "When MX hosts change, update the policy (and its id) and the certificates together.",
            "RFC 8461 §4.1, §4.2",
        ),
        X3 => about(
            "MTA-STS and DANE make senders refuse to deliver when TLS fails; without TLS-RPT \
             nobody tells you, and the first sign of a broken certificate or TLSA record is lost \
             mail.",
            "Publish a TLS-RPT record (`v=TLSRPTv1; rua=mailto:...`) and read the reports.",
            "RFC 8460 §3; RFC 8461 §6",
        ),
        X4 => about(
            "The MX RRset is DNSSEC-signed, so the MX hosts could publish TLSA records: DANE \
             protects from the first message (MTA-STS trusts on first use) and does not depend on \
             the web PKI, and senders that support both use DANE first.",
            "Sign the MX hosts' zones and publish `_25._tcp.<mx> IN TLSA 3 1 1 <key digest>` \
             (`mailsec tlsa generate --connect <mx>`), with a record for the next key.",
            "RFC 7672 §1.3; RFC 8461 §2",
        ),
        X5 => about(
            "Senders cache the policy for max_age and refetch it from the policy host; if the \
             policy host's certificate expires before the cached policy does and is not renewed, \
             senders keep the old policy and cannot learn of a new one, and a renewal that \
             fails unnoticed ends in a fetch failure for every new sender.",
            "Renew the policy host's certificate automatically (ACME) well before it expires, \
             and monitor it; keep max_age longer than the renewal interval.",
            "RFC 8461 §3.3, §10.2",
        ),
        X6 => about(
            "The _mta-sts id changed since an earlier check while the policy served stayed the \
             same. Harmless when nothing was meant to change. But if a policy change is on its \
             way, the TXT record was updated before the policy file: senders that fetch now \
             cache the old policy under the new id and will not fetch the file again when it \
             changes. (A policy changed under an unchanged id is S11.) Needs history: `mailsec \
             check --input LIST --store URL` compares each domain with its last stored result.",
            "Update the policy file first, then publish a new id (`_mta-sts.<domain>. IN TXT \
             \"v=STSv1; id=<new id>\"`); if the file changed after the id, publish another new \
             id now.",
            "RFC 8461 §3.1, §8.1",
        ),
        X7 => about(
            "Reports are sent precisely when TLS to the domain fails. A mailto: address at the \
             domain itself goes to the same MX hosts whose TLS is broken, and a sender applying \
             the same MTA-STS or DANE policy cannot deliver the report; RFC 8460 tells senders \
             to deliver reports regardless, but not all do.",
            "Send reports to a mailbox hosted elsewhere (a different domain or provider), or add \
             an https: rua endpoint.",
            "RFC 8460 §3, §5.1",
        ),
    }
}
