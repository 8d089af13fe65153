//! HTTPS resource records (RFC 9460), parsed from their RDATA wire format: pure, total, and never
//! panicking on any input (HE-10.1). A record that breaks the format rules is an error, and the
//! caller ignores it (with a warning); it never fails a connect.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// SvcParamKeys this crate understands (RFC 9460 §14.3.2).
const KEY_MANDATORY: u16 = 0;
const KEY_ALPN: u16 = 1;
const KEY_NO_DEFAULT_ALPN: u16 = 2;
const KEY_PORT: u16 = 3;
const KEY_IPV4HINT: u16 = 4;
const KEY_ECH: u16 = 5;
const KEY_IPV6HINT: u16 = 6;

/// One HTTPS record (RFC 9460 §2.2 and §7), as a connect can use it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServiceRecord {
    /// SvcPriority: 0 is AliasMode, otherwise lower is preferred (ServiceMode).
    pub priority: u16,
    /// TargetName, lowercase, without the final dot; empty for "." (the owner name itself in
    /// ServiceMode; in AliasMode, "no service").
    pub target: String,
    /// The `alpn` protocols, in order.
    pub alpn: Vec<Vec<u8>>,
    /// `no-default-alpn`: `http/1.1` is not implied.
    pub no_default_alpn: bool,
    /// `port`: the port to connect to instead of the URI's.
    pub port: Option<u16>,
    /// `ipv4hint`.
    pub ipv4_hints: Vec<Ipv4Addr>,
    /// `ipv6hint`.
    pub ipv6_hints: Vec<Ipv6Addr>,
    /// `ech`: the ECHConfigList, as is, for a TLS stack that does Encrypted Client Hello.
    pub ech: Option<Vec<u8>>,
}

impl ServiceRecord {
    /// Whether `c` is one of this record's hints; a NAT64 translation by the IPv4 address it
    /// stands for (HE-7.1).
    pub(crate) fn lists_hint(&self, c: &super::sort::Candidate) -> bool {
        match c.stands_for() {
            std::net::IpAddr::V6(ip) => self.ipv6_hints.contains(&ip),
            std::net::IpAddr::V4(ip) => self.ipv4_hints.contains(&ip),
        }
    }

    /// Every hint address of the record, IPv6 first (HE-10.5).
    pub fn hint_ips(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        self.ipv6_hints
            .iter()
            .map(|ip| std::net::IpAddr::V6(*ip))
            .chain(self.ipv4_hints.iter().map(|ip| std::net::IpAddr::V4(*ip)))
    }

    /// Keeps at most [`MAX_HINTS`] hints of each family (HE-10.8); returns how many went.
    fn truncate_hints(&mut self) -> usize {
        let dropped = self.ipv6_hints.len().saturating_sub(MAX_HINTS)
            + self.ipv4_hints.len().saturating_sub(MAX_HINTS);
        self.ipv6_hints.truncate(MAX_HINTS);
        self.ipv4_hints.truncate(MAX_HINTS);
        dropped
    }

    /// Parses one HTTPS (or SVCB) record's RDATA, in wire format (HE-10.1).
    pub fn from_rdata(rdata: &[u8]) -> Result<ServiceRecord, ServiceRecordError> {
        parse_https_rdata(rdata)
    }

    /// Whether it is an AliasMode record (SvcPriority 0).
    pub fn is_alias(&self) -> bool {
        self.priority == 0
    }

    /// The SVCB ALPN set (RFC 9460 §7.1.1): `alpn`, plus `http/1.1` unless `no-default-alpn`.
    pub fn alpn_set(&self) -> Vec<Vec<u8>> {
        let mut set = self.alpn.clone();
        if !self.no_default_alpn && !set.iter().any(|p| p == b"http/1.1") {
            set.push(b"http/1.1".to_vec());
        }
        set
    }

    /// Whether a client supporting `protocols` (over TCP) may use this endpoint at all
    /// (RFC 9460 §7.1.2, HE-10.4): its ALPN set and `protocols` share one.
    pub fn usable_with(&self, protocols: &[Vec<u8>]) -> bool {
        self.alpn.iter().any(|p| protocols.contains(p))
            || (!self.no_default_alpn && protocols.iter().any(|p| p == b"http/1.1"))
    }
}

/// One service endpoint a connect may use (HE-10.4, HE-10.6): a ServiceMode record whose ALPN
/// set shares a protocol with the connection's. Its addresses are the name's own (TargetName
/// ".") or its target's (HE-10.7), and its hints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceEndpoint {
    /// SvcPriority: lower first.
    pub priority: u16,
    /// The port to connect to: the record's `port`, else the connect's.
    pub port: u16,
    /// The record.
    pub record: ServiceRecord,
}

/// The Fetch standard's bad ports (fetch.spec.whatwg.org, "port blocking"): services a record
/// must not steer an HTTPS connection to, since a request to them can be made to speak another
/// protocol (SMTP, IRC, SIP, ...). Sorted.
pub const BAD_PORTS: [u16; 83] = [
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
    102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427,
    465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990,
    993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667,
    6668, 6669, 6679, 6697, 10080,
];

/// Whether `port` is one of the Fetch standard's [`BAD_PORTS`] (HE-10.9).
pub fn is_bad_port(port: u16) -> bool {
    BAD_PORTS.binary_search(&port).is_ok()
}

/// The most ServiceMode records of one HTTPS answer a connect uses: the best by priority (HE-10.8).
pub const MAX_SERVICE_RECORDS: usize = 32;
/// The most `ipv6hint` and the most `ipv4hint` addresses used per record (HE-10.8).
pub const MAX_HINTS: usize = 16;
/// The most distinct TargetNames one connect looks up (two queries each, HE-10.8).
pub const MAX_TARGETS: usize = 4;

/// Bounds an HTTPS answer before anything is derived from it (HE-10.8): at most one AliasMode
/// record (the first; a connect follows only one), at most [`MAX_SERVICE_RECORDS`] ServiceMode
/// records (the lowest SvcPriority values, the answer's order among equals; the kept ones stay
/// in the answer's order) and at most [`MAX_HINTS`] hints of each family per record. Returns how
/// many records and hint addresses were dropped. Linear in the answer (plus sorting the
/// priorities).
pub fn bound_answer(records: &mut Vec<ServiceRecord>) -> usize {
    let mut dropped = 0;
    let mut services: Vec<(u16, usize)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.is_alias())
        .map(|(i, r)| (r.priority, i))
        .collect();
    services.sort_unstable();
    let mut keep = vec![false; records.len()];
    for (_, i) in services.iter().take(MAX_SERVICE_RECORDS) {
        keep[*i] = true;
    }
    if let Some(first_alias) = records.iter().position(ServiceRecord::is_alias) {
        keep[first_alias] = true;
    }
    let mut i = 0;
    records.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    dropped += keep.iter().filter(|k| !**k).count();
    for r in records.iter_mut() {
        dropped += r.truncate_hints();
    }
    dropped
}

/// The endpoints of an HTTPS answer, in the order a connect uses them (HE-10.4, HE-10.6):
/// AliasMode records and records this connection cannot use (no shared ALPN protocol) are left
/// out; the rest ordered by SvcPriority, equal priorities in the order `shuffle` puts them (the driver shuffles
/// at random, as RFC 9460 §2.4.1 asks; tests keep the answer's order).
///
/// With `refuse_bad_ports`, a record whose `port` is one of the [`BAD_PORTS`] is left out too
/// (HE-10.9); the connect's own port is the caller's choice and never judged.
pub(crate) fn plan(
    records: &[ServiceRecord],
    protocols: &[Vec<u8>],
    port: u16,
    refuse_bad_ports: bool,
    shuffle: impl FnOnce(&mut [ServiceEndpoint]),
) -> Vec<ServiceEndpoint> {
    // HE-10.8: whatever the caller passed, the plan is bounded as `bound_answer` bounds it.
    let mut endpoints: Vec<ServiceEndpoint> = records
        .iter()
        .filter(|r| !r.is_alias() && r.usable_with(protocols))
        .filter(|r| !(refuse_bad_ports && r.port.is_some_and(is_bad_port)))
        .map(|r| ServiceEndpoint {
            priority: r.priority,
            port: r.port.unwrap_or(port),
            record: r.clone(),
        })
        .collect();
    shuffle(&mut endpoints);
    // Stable: equal priorities keep the shuffled order.
    endpoints.sort_by_key(|e| e.priority);
    endpoints.truncate(MAX_SERVICE_RECORDS);
    for e in &mut endpoints {
        e.record.truncate_hints();
    }
    endpoints
}

impl ServiceRecord {
    /// The record in RDATA wire format (RFC 9460 §2.2), keys in ascending order: what
    /// [`ServiceRecord::from_rdata`] reads back as this record. `None` when the record cannot be
    /// written: a target label of more than 63 bytes, an empty or 256-byte ALPN id, or a value
    /// of more than 65,535 bytes.
    pub fn to_rdata(&self) -> Option<Vec<u8>> {
        let mut out = self.priority.to_be_bytes().to_vec();
        for label in self.target.split('.').filter(|l| !l.is_empty()) {
            out.push(u8::try_from(label.len()).ok().filter(|n| *n <= 63)?);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        let mut param = |key: u16, value: &[u8]| -> Option<()> {
            out.extend_from_slice(&key.to_be_bytes());
            out.extend_from_slice(&u16::try_from(value.len()).ok()?.to_be_bytes());
            out.extend_from_slice(value);
            Some(())
        };
        if !self.alpn.is_empty() {
            let mut v = Vec::new();
            for p in &self.alpn {
                v.push(u8::try_from(p.len()).ok().filter(|n| *n > 0)?);
                v.extend_from_slice(p);
            }
            param(KEY_ALPN, &v)?;
        }
        if self.no_default_alpn {
            param(KEY_NO_DEFAULT_ALPN, &[])?;
        }
        if let Some(port) = self.port {
            param(KEY_PORT, &port.to_be_bytes())?;
        }
        if !self.ipv4_hints.is_empty() {
            let v: Vec<u8> = self.ipv4_hints.iter().flat_map(|ip| ip.octets()).collect();
            param(KEY_IPV4HINT, &v)?;
        }
        if let Some(ech) = &self.ech {
            param(KEY_ECH, ech)?;
        }
        if !self.ipv6_hints.is_empty() {
            let v: Vec<u8> = self.ipv6_hints.iter().flat_map(|ip| ip.octets()).collect();
            param(KEY_IPV6HINT, &v)?;
        }
        Some(out)
    }
}

/// Why an HTTPS record's RDATA was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceRecordError {
    /// The RDATA ends in the middle of a field.
    Truncated,
    /// The TargetName is not a valid uncompressed domain name.
    BadTarget,
    /// SvcParamKeys are not in strictly increasing order (RFC 9460 §2.2).
    KeyOrder(u16),
    /// A SvcParamValue has the wrong length or content for its key.
    BadValue(u16),
    /// A key listed as mandatory is absent, or this crate does not understand it (§8).
    Mandatory(u16),
}

impl fmt::Display for ServiceRecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceRecordError::Truncated => f.write_str("truncated RDATA"),
            ServiceRecordError::BadTarget => f.write_str("malformed TargetName"),
            ServiceRecordError::KeyOrder(k) => {
                write!(f, "SvcParamKey {k} out of order or repeated")
            }
            ServiceRecordError::BadValue(k) => write!(f, "malformed value for SvcParamKey {k}"),
            ServiceRecordError::Mandatory(k) => {
                write!(f, "mandatory SvcParamKey {k} missing or not supported")
            }
        }
    }
}

impl std::error::Error for ServiceRecordError {}

/// A cursor over RDATA.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ServiceRecordError> {
        if self.0.len() < n {
            return Err(ServiceRecordError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, ServiceRecordError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u8(&mut self) -> Result<u8, ServiceRecordError> {
        Ok(self.take(1)?[0])
    }
}

/// Parses the RDATA of one HTTPS (or SVCB) record.
pub(crate) fn parse_https_rdata(rdata: &[u8]) -> Result<ServiceRecord, ServiceRecordError> {
    let mut r = Reader(rdata);
    let priority = r.u16()?;
    let target = read_name(&mut r)?;
    let mut record = ServiceRecord {
        priority,
        target,
        ..ServiceRecord::default()
    };
    if record.is_alias() {
        // AliasMode: SvcParams are to be ignored (RFC 9460 §2.4.2).
        return Ok(record);
    }
    let mut last: Option<u16> = None;
    let mut seen = Vec::new();
    let mut mandatory = Vec::new();
    while !r.0.is_empty() {
        let key = r.u16()?;
        if last.is_some_and(|l| key <= l) {
            return Err(ServiceRecordError::KeyOrder(key));
        }
        last = Some(key);
        seen.push(key);
        let len = usize::from(r.u16()?);
        let value = r.take(len)?;
        let bad = || ServiceRecordError::BadValue(key);
        match key {
            KEY_MANDATORY => {
                if value.is_empty() || value.len() % 2 != 0 {
                    return Err(bad());
                }
                for pair in value.chunks_exact(2) {
                    let k = u16::from_be_bytes([pair[0], pair[1]]);
                    // Strictly increasing, and never `mandatory` itself (§8).
                    if k == KEY_MANDATORY || mandatory.last().is_some_and(|&p| k <= p) {
                        return Err(bad());
                    }
                    mandatory.push(k);
                }
            }
            KEY_ALPN => {
                let mut v = Reader(value);
                if value.is_empty() {
                    return Err(bad());
                }
                while !v.0.is_empty() {
                    let n = usize::from(v.u8().map_err(|_| bad())?);
                    if n == 0 {
                        return Err(bad());
                    }
                    record.alpn.push(v.take(n).map_err(|_| bad())?.to_vec());
                }
            }
            KEY_NO_DEFAULT_ALPN => {
                if !value.is_empty() {
                    return Err(bad());
                }
                record.no_default_alpn = true;
            }
            KEY_PORT => {
                let [hi, lo] = value else { return Err(bad()) };
                // Port 0 cannot be connected to: the record is malformed for a client, and is
                // ignored (with a warning, counted in the report) like any other.
                let port = u16::from_be_bytes([*hi, *lo]);
                if port == 0 {
                    return Err(bad());
                }
                record.port = Some(port);
            }
            KEY_IPV4HINT => {
                if value.is_empty() || value.len() % 4 != 0 {
                    return Err(bad());
                }
                record.ipv4_hints = value
                    .chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect();
            }
            KEY_ECH => {
                if value.is_empty() {
                    return Err(bad());
                }
                record.ech = Some(value.to_vec());
            }
            KEY_IPV6HINT => {
                if value.is_empty() || value.len() % 16 != 0 {
                    return Err(bad());
                }
                record.ipv6_hints = value
                    .chunks_exact(16)
                    .map(|c| {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(c);
                        Ipv6Addr::from(b)
                    })
                    .collect();
            }
            // Keys this crate does not know are ignored unless mandatory (below).
            _ => {}
        }
    }
    // `no-default-alpn` requires `alpn` (§7.1.1).
    if record.no_default_alpn && record.alpn.is_empty() {
        return Err(ServiceRecordError::BadValue(KEY_NO_DEFAULT_ALPN));
    }
    for k in mandatory {
        let understood = matches!(
            k,
            KEY_ALPN | KEY_NO_DEFAULT_ALPN | KEY_PORT | KEY_IPV4HINT | KEY_ECH | KEY_IPV6HINT
        );
        if !understood || !seen.contains(&k) {
            return Err(ServiceRecordError::Mandatory(k));
        }
    }
    Ok(record)
}

/// An uncompressed domain name in wire format (RFC 9460 §2.2: no compression), as lowercase text
/// without the final dot; "." is the empty string.
fn read_name(r: &mut Reader<'_>) -> Result<String, ServiceRecordError> {
    let mut name = String::new();
    let mut total = 1usize;
    loop {
        let len = usize::from(r.u8().map_err(|_| ServiceRecordError::BadTarget)?);
        if len == 0 {
            return Ok(name);
        }
        // 0xC0 and up is a compression pointer, 0x40..0xC0 reserved label types.
        if len > 63 {
            return Err(ServiceRecordError::BadTarget);
        }
        total += len + 1;
        if total > 255 {
            return Err(ServiceRecordError::BadTarget);
        }
        let label = r.take(len).map_err(|_| ServiceRecordError::BadTarget)?;
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return Err(ServiceRecordError::BadTarget);
        }
        if !name.is_empty() {
            name.push('.');
        }
        name.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The writer is the reader's inverse, and refuses what the wire format cannot carry.
    #[test]
    fn to_rdata_round_trips_and_refuses_the_unwritable() {
        let record = ServiceRecord {
            priority: 2,
            target: "svc.example.com".to_string(),
            alpn: vec![b"h2".to_vec(), b"h3".to_vec()],
            no_default_alpn: true,
            port: Some(8443),
            ipv4_hints: vec!["192.0.2.1".parse().unwrap()],
            ipv6_hints: vec!["2001:db8::1".parse().unwrap()],
            ech: Some(vec![1, 2, 3]),
        };
        let wire = record.to_rdata().unwrap();
        assert_eq!(ServiceRecord::from_rdata(&wire).unwrap(), record);
        let long_label = ServiceRecord {
            target: "a".repeat(64),
            ..record.clone()
        };
        assert_eq!(long_label.to_rdata(), None);
        let empty_alpn = ServiceRecord {
            alpn: vec![Vec::new()],
            ..record.clone()
        };
        assert_eq!(empty_alpn.to_rdata(), None);
        let huge = ServiceRecord {
            ech: Some(vec![0; 70_000]),
            ..record
        };
        assert_eq!(huge.to_rdata(), None);
    }

    /// RDATA from its parts: priority, target labels, (key, value) params.
    fn rdata(priority: u16, target: &[&str], params: &[(u16, &[u8])]) -> Vec<u8> {
        let mut out = priority.to_be_bytes().to_vec();
        for label in target {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        for (key, value) in params {
            out.extend_from_slice(&key.to_be_bytes());
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(value);
        }
        out
    }

    // HE-10.8: an answer is bounded before use: one alias, the 32 best ServiceMode records (kept
    // in the answer's order), 16 hints of each family per record; the rest counted.
    #[test]
    fn he_10_8_bound_answer() {
        let mut records: Vec<ServiceRecord> = (0..10_000u16)
            .map(|i| ServiceRecord {
                priority: 10_000 - i,
                ipv4_hints: (0..20u8).map(|j| Ipv4Addr::new(192, 0, 2, j)).collect(),
                ..ServiceRecord::default()
            })
            .collect();
        records.push(ServiceRecord::default()); // AliasMode "."
        records.push(ServiceRecord::default()); // a second alias: dropped
        let dropped = bound_answer(&mut records);
        assert_eq!(records.len(), MAX_SERVICE_RECORDS + 1);
        let kept: Vec<u16> = records.iter().map(|r| r.priority).collect();
        let mut want: Vec<u16> = (1..=32u16).rev().collect();
        want.push(0);
        assert_eq!(
            kept, want,
            "the best priorities, in the answer's order, then the alias"
        );
        assert!(records.iter().all(|r| r.ipv4_hints.len() <= MAX_HINTS));
        assert_eq!(dropped, (10_000 - 32) + 1 + 32 * (20 - MAX_HINTS));
        // Within the limits nothing changes.
        let mut small = vec![ServiceRecord {
            priority: 1,
            ..ServiceRecord::default()
        }];
        assert_eq!(bound_answer(&mut small), 0);
        assert_eq!(small.len(), 1);
    }

    // HE-10.1: RFC 9460 Appendix D's test vectors, as far as this crate uses them.
    #[test]
    fn he_10_1_rfc9460_appendix_d_vectors() {
        // D.1 AliasMode: `example.com. HTTPS 0 foo.example.com.`
        let alias = parse_https_rdata(&rdata(0, &["foo", "example", "com"], &[])).unwrap();
        assert!(alias.is_alias());
        assert_eq!(alias.target, "foo.example.com");
        // D.2 ServiceMode: `1 .`
        let plain = parse_https_rdata(&rdata(1, &[], &[])).unwrap();
        assert_eq!((plain.priority, plain.target.as_str()), (1, ""));
        // `16 foo.example.com. port=53`
        let port =
            parse_https_rdata(&rdata(16, &["foo", "example", "com"], &[(3, &[0, 53])])).unwrap();
        assert_eq!(port.port, Some(53));
        // Issue 24: port=0 cannot be connected to: the record is malformed (ignored by a connect,
        // with a warning), never an attempt to port 0.
        assert_eq!(
            parse_https_rdata(&rdata(16, &["foo", "example", "com"], &[(3, &[0, 0])])),
            Err(ServiceRecordError::BadValue(3))
        );
        // `1 foo.example.com. key667=hello`: an unknown key is kept out of the way.
        let unknown =
            parse_https_rdata(&rdata(1, &["foo", "example", "com"], &[(667, b"hello")])).unwrap();
        assert_eq!(unknown.priority, 1);
        // `1 foo.example.com. ipv6hint=2001:db8::1,2001:db8::53:1`
        let mut hints = Vec::new();
        hints.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        hints.extend_from_slice(&"2001:db8::53:1".parse::<Ipv6Addr>().unwrap().octets());
        let v6 = parse_https_rdata(&rdata(1, &["foo", "example", "com"], &[(6, &hints)])).unwrap();
        assert_eq!(v6.ipv6_hints.len(), 2);
        // `16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1`
        let full = parse_https_rdata(&rdata(
            16,
            &["foo", "example", "org"],
            &[
                (0, &[0, 1, 0, 4]),
                (1, b"\x02h2\x05h3-19"),
                (4, &[192, 0, 2, 1]),
            ],
        ))
        .unwrap();
        assert_eq!(full.alpn, [b"h2".to_vec(), b"h3-19".to_vec()]);
        assert_eq!(full.ipv4_hints, [Ipv4Addr::new(192, 0, 2, 1)]);
        assert_eq!(
            full.alpn_set(),
            [b"h2".to_vec(), b"h3-19".to_vec(), b"http/1.1".to_vec()]
        );
    }

    // HE-10.1: the failure cases of Appendix D.3, and the format rules.
    #[test]
    fn he_10_1_malformed_records_are_errors() {
        let t = &["foo", "example", "com"][..];
        let cases: &[(Vec<u8>, ServiceRecordError)] = &[
            // Keys out of order, and repeated.
            (
                rdata(1, t, &[(3, &[0, 53]), (1, b"\x02h2")]),
                ServiceRecordError::KeyOrder(1),
            ),
            (
                rdata(1, t, &[(1, b"\x02h2"), (1, b"\x02h3")]),
                ServiceRecordError::KeyOrder(1),
            ),
            // Mandatory lists a key that is absent; lists itself.
            (
                rdata(1, t, &[(0, &[0, 1]), (3, &[0, 53])]),
                ServiceRecordError::Mandatory(1),
            ),
            (
                rdata(1, t, &[(0, &[0, 0])]),
                ServiceRecordError::BadValue(0),
            ),
            // Mandatory lists a key this crate does not know.
            (
                rdata(1, t, &[(0, &[2, 155]), (667, b"x")]),
                ServiceRecordError::Mandatory(667),
            ),
            // Bad values.
            (rdata(1, t, &[(3, &[0])]), ServiceRecordError::BadValue(3)),
            (
                rdata(1, t, &[(4, &[192, 0, 2])]),
                ServiceRecordError::BadValue(4),
            ),
            (
                rdata(1, t, &[(6, &[0; 15])]),
                ServiceRecordError::BadValue(6),
            ),
            (
                rdata(1, t, &[(1, b"\x00")]),
                ServiceRecordError::BadValue(1),
            ),
            (
                rdata(1, t, &[(1, b"\x05h2")]),
                ServiceRecordError::BadValue(1),
            ),
            (rdata(1, t, &[(2, b"x")]), ServiceRecordError::BadValue(2)),
            (rdata(1, t, &[(2, b"")]), ServiceRecordError::BadValue(2)),
            (rdata(1, t, &[(5, b"")]), ServiceRecordError::BadValue(5)),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse_https_rdata(bytes).as_ref(), Err(want), "{bytes:?}");
        }
        // Truncated inside any field is an error; cut between parameters it is a shorter record.
        let good = rdata(1, t, &[(1, b"\x02h2"), (4, &[192, 0, 2, 1])]);
        let boundaries = [19, 19 + 4 + 3];
        for n in 0..good.len() {
            assert_eq!(
                parse_https_rdata(&good[..n]).is_ok(),
                boundaries.contains(&n),
                "cut at {n}"
            );
        }
        assert!(parse_https_rdata(&good).is_ok());
        // A compression pointer in the target.
        assert_eq!(
            parse_https_rdata(&[0, 1, 0xc0, 12]),
            Err(ServiceRecordError::BadTarget)
        );
    }

    // HE-10.4: the SVCB ALPN set decides whether a TCP client may use the endpoint.
    #[test]
    fn he_10_4_alpn_set_and_usability() {
        let tcp: Vec<Vec<u8>> = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let h3_only = parse_https_rdata(&rdata(1, &[], &[(1, b"\x02h3"), (2, b"")])).unwrap();
        assert!(!h3_only.usable_with(&tcp));
        let h3 = parse_https_rdata(&rdata(1, &[], &[(1, b"\x02h3")])).unwrap();
        assert!(h3.usable_with(&tcp), "http/1.1 is implied");
        let none = parse_https_rdata(&rdata(1, &[], &[])).unwrap();
        assert!(none.usable_with(&tcp));
    }

    // HE-10.4 / HE-10.6: unusable and AliasMode records are left out; priorities order the rest;
    // the port parameter sets the endpoint's port.
    #[test]
    fn he_10_6_plan_orders_by_priority_and_filters() {
        let tcp: Vec<Vec<u8>> = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let records: Vec<ServiceRecord> = [
            rdata(3, &[], &[]),
            rdata(0, &["alias", "test"], &[]),
            rdata(1, &[], &[(1, b"\x02h3"), (2, b"")]),
            rdata(2, &[], &[(3, &[0x1f, 0x90])]),
            rdata(2, &["other", "test"], &[(3, &[0x1f, 0x91])]),
            rdata(1, &[], &[(1, b"\x02h2")]),
        ]
        .iter()
        .map(|b| parse_https_rdata(b).unwrap())
        .collect();
        let endpoints = plan(&records, &tcp, 443, true, |_| {});
        let got: Vec<(u16, u16)> = endpoints.iter().map(|e| (e.priority, e.port)).collect();
        assert_eq!(got, [(1, 443), (2, 8080), (2, 8081), (3, 443)]);
        assert_eq!(
            endpoints[2].record.target, "other.test",
            "HE-10.7: kept, with its target"
        );
        // A shuffle reorders only within a priority.
        let two_equal = [
            rdata(5, &[], &[(3, &[0, 1])]),
            rdata(5, &[], &[(3, &[0, 2])]),
        ]
        .map(|b| parse_https_rdata(&b).unwrap());
        let reversed = plan(&two_equal, &tcp, 443, false, |e| e.reverse());
        assert_eq!(reversed.iter().map(|e| e.port).collect::<Vec<_>>(), [2, 1]);
    }

    proptest::proptest! {
        // HE-10.1: any bytes: an answer or an error, never a panic.
        #[test]
        fn he_10_1_any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_https_rdata(&bytes);
        }
    }
}
