//! The stub resolver's rules, pure and table-tested: which names a lookup asks and in which
//! order (the search list and `ndots`), which datagram is the reply to a query, what a reply
//! means, how long it is kept, and in which order the name servers are asked. Nothing here does
//! I/O or reads a clock; the parsing is hickory-proto's.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::domain::usage;
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::proto::Family;

/// The longest a positive answer is kept, whatever its TTL (one day, as hickory and RFC 8767's
/// cap on stale data).
pub(crate) const MAX_TTL: Duration = Duration::from_secs(86_400);

/// The longest a negative answer (NXDOMAIN, NODATA) is kept: RFC 2308 section 5's "one to three
/// hours have been found to work well".
pub(crate) const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(3 * 3_600);

/// The longest CNAME chain followed inside one reply.
const MAX_CHAIN: usize = 16;

/// How many further queries one lookup makes to finish CNAME chains its replies leave
/// unfinished (an alias pointing into another zone the recursive server did not follow).
pub(crate) const MAX_ALIAS_QUERIES: usize = 8;

/// What a query asks for: a family's addresses, or the HTTPS records (RFC 9460).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Addresses(Family),
    Https,
}

impl From<Family> for Kind {
    fn from(family: Family) -> Kind {
        Kind::Addresses(family)
    }
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [
        Kind::Addresses(Family::V6),
        Kind::Addresses(Family::V4),
        Kind::Https,
    ];

    pub(crate) fn record_type(self) -> RecordType {
        match self {
            Kind::Addresses(Family::V6) => RecordType::AAAA,
            Kind::Addresses(Family::V4) => RecordType::A,
            Kind::Https => RecordType::HTTPS,
        }
    }
}

/// What a name has of the kind asked: addresses, or HTTPS records as their RDATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    Ips(Vec<IpAddr>),
    Records(Vec<Vec<u8>>),
}

impl Found {
    pub(crate) fn none(kind: Kind) -> Found {
        match kind {
            Kind::Addresses(_) => Found::Ips(Vec::new()),
            Kind::Https => Found::Records(Vec::new()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Found::Ips(ips) => ips.is_empty(),
            Found::Records(records) => records.is_empty(),
        }
    }

    /// The addresses (none when these are records: an address question finds addresses).
    pub(crate) fn into_ips(self) -> Vec<IpAddr> {
        match self {
            Found::Ips(ips) => ips,
            Found::Records(_) => Vec::new(),
        }
    }

    /// The records' RDATA (none when these are addresses: an HTTPS question finds records).
    pub(crate) fn into_records(self) -> Vec<Vec<u8>> {
        match self {
            Found::Records(records) => records,
            Found::Ips(_) => Vec::new(),
        }
    }
}

/// A record's TTL as a duration: a value with the top bit set means zero (RFC 2181 section 8),
/// and nothing is kept longer than [`MAX_TTL`].
pub(crate) fn seconds(ttl: u32) -> Duration {
    if ttl > i32::MAX as u32 {
        return Duration::ZERO;
    }
    Duration::from_secs(u64::from(ttl)).min(MAX_TTL)
}

/// Whether `name` is a special-use name no name server is asked about (RFC 6761, RFC 7686):
/// `localhost`, `invalid`, `.local` (mDNS), `.onion`, and the loopback reverse zones. hickory's
/// resolver answers them by its rules.
pub(crate) fn is_special(name: &Name) -> bool {
    [
        &*usage::LOCALHOST,
        &*usage::INVALID,
        &*usage::LOCAL,
        &*usage::ONION,
        &*usage::IN_ADDR_ARPA_127,
        &*usage::IP6_ARPA_1,
    ]
    .iter()
    .any(|zone| zone.zone_of(name))
}

/// The names one lookup of `name` asks, in order, as glibc's `res_search` does: a name with a
/// trailing dot is asked as it is and only so; a name with at least `ndots` dots is asked as it
/// is first and then with each search domain; a shorter one with each search domain first and
/// as it is last. `None` when `name` is not a domain name.
pub(crate) fn candidates(name: &str, ndots: usize, search: &[Name]) -> Option<Vec<Name>> {
    let parsed = Name::from_ascii(name).ok()?;
    let absolute = |n: &Name| {
        let mut n = n.clone();
        n.set_fqdn(true);
        n
    };
    if parsed.is_fqdn() {
        return Some(vec![parsed]);
    }
    let dots = name.bytes().filter(|b| *b == b'.').count();
    let searched = search
        .iter()
        .filter_map(|domain| parsed.clone().append_domain(domain).ok());
    let mut names = Vec::with_capacity(search.len() + 1);
    if dots >= ndots {
        names.push(absolute(&parsed));
        names.extend(searched);
    } else {
        names.extend(searched);
        names.push(absolute(&parsed));
    }
    Some(names)
}

/// The order in which one query asks the name servers: IPv6 servers before IPv4 ones where both
/// are configured (the HEv3 draft's SHOULD), each family in `resolv.conf`'s order; with
/// `rotate`, the list starts one further along for each query (`turn`), as glibc's `rotate`
/// option does; servers penalized for staying silent (`penalized[i]`) go last, in the same
/// order among themselves.
pub(crate) fn server_order(servers: &[SocketAddr], turn: usize, penalized: &[bool]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..servers.len()).collect();
    order.sort_by_key(|&i| servers[i].is_ipv4());
    if !order.is_empty() {
        let turn = turn % order.len();
        order.rotate_left(turn);
    }
    order.sort_by_key(|&i| penalized.get(i).copied().unwrap_or(false));
    order
}

/// Why a datagram is not the reply to a query: it is ignored and the wait goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ignored {
    /// From an address or port no query was sent to.
    Source,
    /// Shorter than a DNS header.
    Short,
    /// Another message ID.
    Id,
    /// Not a DNS message hickory-proto can read.
    Unreadable,
    /// A query (QR=0), not a response.
    NotResponse,
    /// An opcode other than QUERY (a NOTIFY, an UPDATE).
    OpCode,
    /// Another question (or more than one).
    Question,
}

/// Screens a datagram that arrived from `from` while the query `id` for `question` is waiting on
/// the servers `asked`: the reply, or why it is not one. The cheap checks come first (source,
/// length, ID) so that a flood of forgeries costs no parsing (RFC 5452 section 9).
pub(crate) fn screen(
    bytes: &[u8],
    from: SocketAddr,
    id: u16,
    question: &Query,
    asked: &[SocketAddr],
) -> Result<Message, Ignored> {
    let same = |a: &SocketAddr| {
        a.ip().to_canonical() == from.ip().to_canonical() && a.port() == from.port()
    };
    if !asked.iter().any(same) {
        return Err(Ignored::Source);
    }
    let Some(head) = bytes.first_chunk::<2>() else {
        return Err(Ignored::Short);
    };
    if bytes.len() < 12 {
        return Err(Ignored::Short);
    }
    if u16::from_be_bytes(*head) != id {
        return Err(Ignored::Id);
    }
    let reply = Message::from_vec(bytes).map_err(|_| Ignored::Unreadable)?;
    check(&reply, question)?;
    Ok(reply)
}

/// The header and question checks of [`screen`], for a reply read over TCP too.
pub(crate) fn check(reply: &Message, question: &Query) -> Result<(), Ignored> {
    if reply.metadata.message_type != MessageType::Response {
        return Err(Ignored::NotResponse);
    }
    if reply.metadata.op_code != OpCode::Query {
        return Err(Ignored::OpCode);
    }
    // hickory's `Name` compares case-insensitively (a server may echo 0x20 case changes).
    match reply.queries.as_slice() {
        [q] if q == question => Ok(()),
        _ => Err(Ignored::Question),
    }
}

/// What one reply means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// What the name has of the kind asked, to be kept this long (zero: used once, not kept).
    Answer { found: Found, ttl: Duration },
    /// The name exists but has nothing of the kind asked; kept this long (RFC 2308: the SOA's
    /// negative TTL; without an SOA, not kept).
    NoData { ttl: Duration },
    /// The name does not exist (of any kind); kept this long, as [`Verdict::NoData`].
    NxDomain { ttl: Duration },
    /// The reply's CNAME chain ends at `target` without records of the kind asked: `target`
    /// is asked next. `ttl`: the chain's shortest.
    Alias { target: Name, ttl: Duration },
    /// The reply did not fit (TC): ask the same server over TCP.
    Truncated,
    /// The server failed the query (SERVFAIL, REFUSED, NOTIMP, FORMERR, ...): the next server is
    /// asked.
    ServerFailure(ResponseCode),
    /// The reply cannot answer the name: a CNAME loop or a chain longer than 16 links.
    Broken(&'static str),
}

/// Judges the reply to the query for `qname`'s addresses of a family or its HTTPS records.
pub(crate) fn judge(reply: &Message, qname: &Name, kind: Kind) -> Verdict {
    if reply.metadata.truncation {
        return Verdict::Truncated;
    }
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => {
            // The reply's chain may have led to the name that does not exist (RFC 6604): then
            // the name asked exists, but nothing of any kind is found through it, which is
            // all a lookup of it learns.
            return Verdict::NxDomain {
                ttl: negative_ttl(reply),
            };
        }
        code => return Verdict::ServerFailure(code),
    }
    match follow(&reply.answers, qname, kind) {
        Chain::Found { found, ttl } => Verdict::Answer { found, ttl },
        Chain::Ends { name, .. } if name == *qname => Verdict::NoData {
            ttl: negative_ttl(reply),
        },
        // Inside the reply's own zone an unfinished chain would be the server's NODATA for the
        // target; across zones a stub asks the target itself.
        Chain::Ends { name, ttl } => Verdict::Alias { target: name, ttl },
        Chain::Loop => Verdict::Broken("a CNAME loop"),
        Chain::TooLong => Verdict::Broken("a CNAME chain longer than 16 links"),
    }
}

/// Where the records for a name lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Chain {
    /// Records of the kind asked, owned by the name or by the end of its CNAME chain; `ttl` the
    /// shortest of theirs and the chain's.
    Found { found: Found, ttl: Duration },
    /// The chain ends at `name` (the name itself without a CNAME) without such records.
    Ends { name: Name, ttl: Duration },
    /// The chain comes back to a name it passed.
    Loop,
    /// More than 16 links.
    TooLong,
}

/// Follows `start`'s CNAME chain through `records` and collects the records of `kind` at its end:
/// records of other owners (or of another class than IN) are never part of the answer, whatever
/// the server put in the section. One rule for the stub's replies and hickory's answers alike.
pub(crate) fn follow(records: &[Record], start: &Name, kind: Kind) -> Chain {
    use hickory_resolver::proto::serialize::binary::BinEncodable;
    let records = || records.iter().filter(|r| r.dns_class == DNSClass::IN);
    let mut name = start;
    let mut passed: Vec<&Name> = Vec::new();
    let mut ttl = Duration::MAX;
    for _ in 0..=MAX_CHAIN {
        let mut found = Found::none(kind);
        let mut min = ttl;
        for record in records().filter(|r| &r.name == name) {
            match (&record.data, &mut found) {
                (RData::AAAA(a), Found::Ips(ips)) if kind == Kind::Addresses(Family::V6) => {
                    ips.push(IpAddr::V6(a.0));
                }
                (RData::A(a), Found::Ips(ips)) if kind == Kind::Addresses(Family::V4) => {
                    ips.push(IpAddr::V4(a.0));
                }
                (RData::HTTPS(_), Found::Records(rdata)) if kind == Kind::Https => {
                    match record.data.to_bytes() {
                        Ok(bytes) => rdata.push(bytes),
                        Err(_) => continue,
                    }
                }
                _ => continue,
            }
            min = min.min(seconds(record.ttl));
        }
        if !found.is_empty() {
            return Chain::Found {
                found,
                ttl: min.min(MAX_TTL),
            };
        }
        let next = records().find_map(|r| match &r.data {
            RData::CNAME(target) if &r.name == name => Some((&target.0, r.ttl)),
            _ => None,
        });
        let Some((target, cname_ttl)) = next else {
            return Chain::Ends {
                name: name.clone(),
                ttl: ttl.min(MAX_TTL),
            };
        };
        passed.push(name);
        if passed.contains(&target) {
            return Chain::Loop;
        }
        name = target;
        ttl = ttl.min(seconds(cname_ttl));
    }
    Chain::TooLong
}

/// A negative answer's TTL (RFC 2308 section 5: the SOA's TTL or its MINIMUM, the smaller;
/// without an SOA, zero: not kept), at most [`MAX_NEGATIVE_TTL`].
fn negative_ttl(reply: &Message) -> Duration {
    reply
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(seconds(r.ttl).min(seconds(soa.minimum))),
            _ => None,
        })
        .unwrap_or(Duration::ZERO)
        .min(MAX_NEGATIVE_TTL)
}

/// How one lookup's walk through its candidate names ([`candidates`]) ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Found at one of the names; `ttl` as kept.
    Found { found: Found, ttl: Duration },
    /// No name had anything of the kind, and at least one exists (NODATA).
    NoData,
    /// None of the names exists.
    NotFound,
    /// A name server failed for a name and no later name had an answer.
    Failed(String),
    /// No name server answered.
    TimedOut,
}

/// Where the walk through the candidate names stands: fed each name's result in order, it says
/// whether to go on, as glibc's `res_search` does: NXDOMAIN and NODATA go on to the next name
/// (remembering that some name exists), a server failure goes on too (remembered as the error
/// when nothing else answers), silence ends the walk.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    nodata: bool,
    failure: Option<String>,
}

/// One candidate name's result, as [`Walk::step`] takes it.
#[derive(Debug)]
pub(crate) enum Step {
    Found(Found, Duration),
    NoData,
    NxDomain,
    Failed(String),
    TimedOut,
}

impl Walk {
    /// Takes one name's result: `Some` when the walk ends with it.
    pub(crate) fn step(&mut self, step: Step) -> Option<Outcome> {
        match step {
            Step::Found(found, ttl) => Some(Outcome::Found { found, ttl }),
            Step::NoData => {
                self.nodata = true;
                None
            }
            Step::NxDomain => None,
            Step::Failed(why) => {
                self.failure.get_or_insert(why);
                None
            }
            Step::TimedOut => Some(Outcome::TimedOut),
        }
    }

    /// How the walk ends when every name was asked.
    pub(crate) fn end(self) -> Outcome {
        match (self.nodata, self.failure) {
            (true, _) => Outcome::NoData,
            (false, Some(why)) => Outcome::Failed(why),
            (false, None) => Outcome::NotFound,
        }
    }
}

/// [`screen`] and [`judge`] on a datagram, for the dns_reply fuzz target: `None` when it is not
/// the reply to a query for `qname` (the ID taken from the datagram itself, so that the fuzzer
/// reaches the judge); otherwise how many addresses (of `family`) or HTTPS records (`family`
/// `None`) it gives and their TTL, asserting what every verdict must be, whatever the bytes.
#[cfg(fuzzing)]
pub fn judge_wire(
    reply: &[u8],
    qname: &str,
    family: Option<Family>,
) -> Option<Result<(usize, Duration), ()>> {
    let qname = Name::from_ascii(qname).ok()?;
    let kind = family.map_or(Kind::Https, Kind::Addresses);
    let server: SocketAddr = "192.0.2.53:53".parse().ok()?;
    let id = u16::from_be_bytes(*reply.first_chunk::<2>()?);
    let question = Query::query(qname.clone(), kind.record_type());
    let message = screen(reply, server, id, &question, &[server]).ok()?;
    assert_eq!(message.metadata.message_type, MessageType::Response);
    assert_eq!(message.metadata.op_code, OpCode::Query);
    Some(match judge(&message, &qname, kind) {
        Verdict::Answer { found, ttl } => {
            assert!(!message.metadata.truncation);
            assert_eq!(message.metadata.response_code, ResponseCode::NoError);
            assert!(!found.is_empty());
            assert!(ttl <= MAX_TTL);
            let count = match (found, family) {
                (Found::Ips(ips), Some(family)) => {
                    assert!(ips.iter().all(|ip| ip.is_ipv6() == (family == Family::V6)));
                    ips.len()
                }
                (Found::Records(records), None) => records.len(),
                (found, family) => panic!("{found:?} for {family:?}"),
            };
            Ok((count, ttl))
        }
        Verdict::NoData { ttl } | Verdict::NxDomain { ttl } => {
            assert!(ttl <= MAX_NEGATIVE_TTL);
            Ok((0, ttl))
        }
        Verdict::Alias { target, ttl } => {
            assert_ne!(target, qname);
            assert!(ttl <= MAX_TTL);
            Ok((0, ttl))
        }
        Verdict::Truncated | Verdict::ServerFailure(_) | Verdict::Broken(_) => Err(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, SOA};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn a(owner: &str, ttl: u32, ip: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::A(A(ip.parse().unwrap())))
    }

    fn aaaa(owner: &str, ttl: u32, ip: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::AAAA(AAAA(ip.parse().unwrap())))
    }

    fn cname(owner: &str, ttl: u32, target: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
    }

    fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
        let data = SOA::new(
            name("ns.test."),
            name("root.test."),
            1,
            7200,
            900,
            86400,
            minimum,
        );
        Record::from_rdata(name(zone), ttl, RData::SOA(data))
    }

    fn reply(code: ResponseCode, answers: Vec<Record>, authorities: Vec<Record>) -> Message {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.add_query(Query::query(name("www.test."), RecordType::A));
        m.answers = answers;
        m.authorities = authorities;
        m
    }

    fn ips(list: &[&str]) -> Found {
        Found::Ips(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    const V4: Kind = Kind::Addresses(Family::V4);
    const V6: Kind = Kind::Addresses(Family::V6);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    // HE-8.4: what a reply means, one row per case.
    #[test]
    fn he_8_4_judge_table() {
        let q = name("www.test.");
        let rows: Vec<(&str, Message, Kind, Verdict)> = vec![
            (
                "addresses of the name, the shortest TTL",
                reply(
                    ResponseCode::NoError,
                    vec![
                        a("www.test.", 300, "192.0.2.1"),
                        a("www.test.", 60, "192.0.2.2"),
                    ],
                    vec![],
                ),
                V4,
                Verdict::Answer {
                    found: ips(&["192.0.2.1", "192.0.2.2"]),
                    ttl: secs(60),
                },
            ),
            (
                "through a CNAME chain, its TTL counts",
                reply(
                    ResponseCode::NoError,
                    vec![
                        cname("www.test.", 30, "cdn.test."),
                        aaaa("cdn.test.", 300, "2001:db8::1"),
                    ],
                    vec![],
                ),
                V6,
                Verdict::Answer {
                    found: ips(&["2001:db8::1"]),
                    ttl: secs(30),
                },
            ),
            (
                "records of another owner are never the answer",
                reply(
                    ResponseCode::NoError,
                    vec![a("evil.test.", 300, "192.0.2.66")],
                    vec![soa("test.", 900, 60)],
                ),
                V4,
                Verdict::NoData { ttl: secs(60) },
            ),
            (
                "a stray record beside a real one is dropped",
                reply(
                    ResponseCode::NoError,
                    vec![
                        a("evil.test.", 300, "192.0.2.66"),
                        a("www.test.", 300, "192.0.2.1"),
                    ],
                    vec![],
                ),
                V4,
                Verdict::Answer {
                    found: ips(&["192.0.2.1"]),
                    ttl: secs(300),
                },
            ),
            (
                "an unfinished chain: the target is asked",
                reply(
                    ResponseCode::NoError,
                    vec![cname("www.test.", 30, "far.example.")],
                    vec![],
                ),
                V4,
                Verdict::Alias {
                    target: name("far.example."),
                    ttl: secs(30),
                },
            ),
            (
                "a CNAME loop is an error, not NODATA",
                reply(
                    ResponseCode::NoError,
                    vec![
                        cname("www.test.", 30, "x.test."),
                        cname("x.test.", 30, "www.test."),
                    ],
                    vec![],
                ),
                V4,
                Verdict::Broken("a CNAME loop"),
            ),
            (
                "NODATA: the SOA's negative TTL (its MINIMUM, smaller)",
                reply(ResponseCode::NoError, vec![], vec![soa("test.", 900, 120)]),
                V6,
                Verdict::NoData { ttl: secs(120) },
            ),
            (
                "NODATA without an SOA: not kept",
                reply(ResponseCode::NoError, vec![], vec![]),
                V6,
                Verdict::NoData { ttl: secs(0) },
            ),
            (
                "NXDOMAIN: kept for the SOA's TTL (smaller than MINIMUM)",
                reply(
                    ResponseCode::NXDomain,
                    vec![],
                    vec![soa("test.", 300, 3600)],
                ),
                V6,
                Verdict::NxDomain { ttl: secs(300) },
            ),
            (
                "a negative TTL beyond three hours is cut",
                reply(
                    ResponseCode::NXDomain,
                    vec![],
                    vec![soa("test.", 86_400, 86_400)],
                ),
                V6,
                Verdict::NxDomain {
                    ttl: MAX_NEGATIVE_TTL,
                },
            ),
            (
                "SERVFAIL: the next server",
                reply(ResponseCode::ServFail, vec![], vec![]),
                V6,
                Verdict::ServerFailure(ResponseCode::ServFail),
            ),
            (
                "REFUSED with records: still a failure",
                reply(
                    ResponseCode::Refused,
                    vec![a("www.test.", 300, "192.0.2.1")],
                    vec![],
                ),
                V4,
                Verdict::ServerFailure(ResponseCode::Refused),
            ),
            (
                "a TTL with the top bit set is zero (RFC 2181 section 8)",
                reply(
                    ResponseCode::NoError,
                    vec![a("www.test.", 0x8000_0001, "192.0.2.1")],
                    vec![],
                ),
                V4,
                Verdict::Answer {
                    found: ips(&["192.0.2.1"]),
                    ttl: secs(0),
                },
            ),
            (
                "a TTL beyond a day is a day",
                reply(
                    ResponseCode::NoError,
                    vec![a("www.test.", 0x7fff_ffff, "192.0.2.1")],
                    vec![],
                ),
                V4,
                Verdict::Answer {
                    found: ips(&["192.0.2.1"]),
                    ttl: MAX_TTL,
                },
            ),
            (
                "addresses are not HTTPS records",
                reply(
                    ResponseCode::NoError,
                    vec![a("www.test.", 300, "192.0.2.1")],
                    vec![],
                ),
                Kind::Https,
                Verdict::NoData { ttl: secs(0) },
            ),
        ];
        for (what, message, kind, expected) in rows {
            assert_eq!(judge(&message, &q, kind), expected, "{what}");
        }
        let mut truncated = reply(
            ResponseCode::NoError,
            vec![a("www.test.", 300, "192.0.2.1")],
            vec![],
        );
        truncated.metadata.truncation = true;
        assert_eq!(
            judge(&truncated, &q, V4),
            Verdict::Truncated,
            "TC: over TCP"
        );
        let mut chaos = a("www.test.", 300, "192.0.2.1");
        chaos.dns_class = DNSClass::CH;
        assert_eq!(
            judge(&reply(ResponseCode::NoError, vec![chaos], vec![]), &q, V4),
            Verdict::NoData { ttl: secs(0) },
            "another class is not the answer"
        );
        let long: Vec<Record> = (0..20)
            .map(|i| {
                let owner = if i == 0 {
                    "www.test.".to_string()
                } else {
                    format!("c{i}.test.")
                };
                cname(&owner, 30, &format!("c{}.test.", i + 1))
            })
            .collect();
        assert_eq!(
            judge(&reply(ResponseCode::NoError, long, vec![]), &q, V4),
            Verdict::Broken("a CNAME chain longer than 16 links")
        );
    }

    // HE-8.4: only a response to the query sent, from a server it was sent to, is read.
    #[test]
    fn he_8_4_screen_table() {
        let server: SocketAddr = "192.0.2.53:53".parse().unwrap();
        let question = Query::query(name("www.test."), RecordType::A);
        let good = || {
            let mut m = Message::new(0x1234, MessageType::Response, OpCode::Query);
            m.add_query(question.clone());
            m.add_answer(a("www.test.", 60, "192.0.2.1"));
            m
        };
        let bytes = |m: &Message| m.to_vec().unwrap();
        let screened = |data: &[u8], from: &str| {
            screen(data, from.parse().unwrap(), 0x1234, &question, &[server]).map(|_| ())
        };
        assert_eq!(screened(&bytes(&good()), "192.0.2.53:53"), Ok(()));
        assert_eq!(
            screened(&bytes(&good()), "[::ffff:192.0.2.53]:53"),
            Ok(()),
            "an IPv4-mapped source is the same server"
        );
        assert_eq!(
            screened(&bytes(&good()), "192.0.2.54:53"),
            Err(Ignored::Source)
        );
        assert_eq!(
            screened(&bytes(&good()), "192.0.2.53:5353"),
            Err(Ignored::Source)
        );
        assert_eq!(
            screened(&[0x12, 0x34, 0x81], "192.0.2.53:53"),
            Err(Ignored::Short)
        );
        let mut other_id = good();
        other_id.metadata.id = 0x1235;
        assert_eq!(
            screened(&bytes(&other_id), "192.0.2.53:53"),
            Err(Ignored::Id)
        );
        let mut garbage = vec![0x12, 0x34];
        garbage.extend([0xff; 30]);
        assert_eq!(
            screened(&garbage, "192.0.2.53:53"),
            Err(Ignored::Unreadable)
        );
        let mut query = good();
        query.metadata.message_type = MessageType::Query;
        assert_eq!(
            screened(&bytes(&query), "192.0.2.53:53"),
            Err(Ignored::NotResponse)
        );
        let mut notify = good();
        notify.metadata.op_code = OpCode::Notify;
        assert_eq!(
            screened(&bytes(&notify), "192.0.2.53:53"),
            Err(Ignored::OpCode)
        );
        let mut other_question = good();
        other_question.queries = vec![Query::query(name("evil.test."), RecordType::A)];
        assert_eq!(
            screened(&bytes(&other_question), "192.0.2.53:53"),
            Err(Ignored::Question)
        );
        let mut other_type = good();
        other_type.queries = vec![Query::query(name("www.test."), RecordType::AAAA)];
        assert_eq!(
            screened(&bytes(&other_type), "192.0.2.53:53"),
            Err(Ignored::Question)
        );
        let mut two = good();
        two.add_query(question.clone());
        assert_eq!(
            screened(&bytes(&two), "192.0.2.53:53"),
            Err(Ignored::Question)
        );
        let mut none = good();
        none.queries.clear();
        assert_eq!(
            screened(&bytes(&none), "192.0.2.53:53"),
            Err(Ignored::Question)
        );
        let mut upper = good();
        upper.queries = vec![Query::query(name("WWW.Test."), RecordType::A)];
        assert_eq!(
            screened(&bytes(&upper), "192.0.2.53:53"),
            Ok(()),
            "case is not a forgery"
        );
    }

    // HE-8.5: the search list and ndots, as glibc's res_search.
    #[test]
    fn he_8_5_candidate_names() {
        let search = [name("corp.test."), name("test.")];
        let names = |n: &str, ndots| {
            candidates(n, ndots, &search)
                .unwrap()
                .iter()
                .map(|n| n.to_ascii())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("www.example", 1),
            [
                "www.example.",
                "www.example.corp.test.",
                "www.example.test."
            ]
        );
        assert_eq!(names("www", 1), ["www.corp.test.", "www.test.", "www."]);
        assert_eq!(
            names("www.example.", 1),
            ["www.example."],
            "a trailing dot: as it is only"
        );
        assert_eq!(
            names("a.b", 2),
            ["a.b.corp.test.", "a.b.test.", "a.b."],
            "ndots not met"
        );
        assert_eq!(names("a.b.c", 2)[0], "a.b.c.");
        assert_eq!(
            candidates("www.example", 1, &[]).unwrap(),
            vec![name("www.example.")],
            "no search list"
        );
        assert_eq!(candidates("bad..name", 1, &search), None);
    }

    // HE-8.6: which server a query asks first.
    #[test]
    fn he_8_6_server_order() {
        let servers: Vec<SocketAddr> = [
            "192.0.2.1:53",
            "[2001:db8::1]:53",
            "192.0.2.2:53",
            "[2001:db8::2]:53",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let none = [false; 4];
        assert_eq!(
            server_order(&servers, 0, &none),
            [1, 3, 0, 2],
            "IPv6 first, each in order"
        );
        assert_eq!(
            server_order(&servers, 1, &none),
            [3, 0, 2, 1],
            "rotate: one further along"
        );
        assert_eq!(server_order(&servers, 4, &none), [1, 3, 0, 2]);
        assert_eq!(
            server_order(&servers, 0, &[false, true, false, false]),
            [3, 0, 2, 1],
            "a silent server goes last"
        );
        assert_eq!(server_order(&[], 3, &[]), Vec::<usize>::new());
    }

    // HE-8.5: how the walk through the names ends.
    #[test]
    fn he_8_5_walk() {
        let ended = |steps: Vec<Step>| {
            let mut walk = Walk::default();
            for step in steps {
                if let Some(outcome) = walk.step(step) {
                    return outcome;
                }
            }
            walk.end()
        };
        assert_eq!(
            ended(vec![Step::NxDomain, Step::NxDomain]),
            Outcome::NotFound
        );
        assert_eq!(ended(vec![Step::NoData, Step::NxDomain]), Outcome::NoData);
        assert_eq!(
            ended(vec![
                Step::NxDomain,
                Step::Found(ips(&["192.0.2.1"]), secs(5))
            ]),
            Outcome::Found {
                found: ips(&["192.0.2.1"]),
                ttl: secs(5)
            }
        );
        assert_eq!(
            ended(vec![Step::Failed("SERVFAIL".into()), Step::NxDomain]),
            Outcome::Failed("SERVFAIL".into())
        );
        assert_eq!(
            ended(vec![Step::Failed("SERVFAIL".into()), Step::NoData]),
            Outcome::NoData
        );
        assert_eq!(
            ended(vec![
                Step::TimedOut,
                Step::Found(ips(&["192.0.2.1"]), secs(5))
            ]),
            Outcome::TimedOut,
            "silence ends the walk"
        );
    }

    // HE-8.4: the dns_reply fuzz target's seeds (fuzz/seeds/dns_reply) are the replies they are
    // named for, so the fuzzer starts from every verdict.
    #[test]
    fn he_8_4_fuzz_seeds_are_well_formed_replies() {
        let q = name("www.test.");
        let judged = |bytes: &[u8], kind: Kind| judge(&Message::from_vec(bytes).unwrap(), &q, kind);
        let seeds: [(&[u8], Kind, Verdict); 7] = [
            (
                include_bytes!("../../../fuzz/seeds/dns_reply/seed-https"),
                Kind::Https,
                Verdict::Answer {
                    found: Found::Records(vec![vec![0, 1, 0, 0, 1, 0, 3, 2, b'h', b'2']]),
                    ttl: secs(300),
                },
            ),
            (
                include_bytes!("../../../fuzz/seeds/dns_reply/seed-a"),
                V4,
                Verdict::Answer {
                    found: ips(&["192.0.2.1", "192.0.2.2"]),
                    ttl: secs(60),
                },
            ),
            (
                include_bytes!("../../../fuzz/seeds/dns_reply/seed-aaaa"),
                V6,
                Verdict::Answer {
                    found: ips(&["2001:db8::1"]),
                    ttl: secs(300),
                },
            ),
            (
                include_bytes!("../../../fuzz/seeds/dns_reply/seed-cname"),
                V4,
                Verdict::Answer {
                    found: ips(&["192.0.2.9"]),
                    ttl: secs(30),
                },
            ),
            (
                include_bytes!("../../../fuzz/seeds/dns_reply/seed-nodata"),
                V6,
                Verdict::NoData { ttl: secs(120) },
            ),
            (
                include_bytes!("../../../fuzz/seeds/dns_reply/seed-nxdomain"),
                V4,
                Verdict::NxDomain { ttl: secs(0) },
            ),
            (
                include_bytes!("../../../fuzz/seeds/dns_reply/seed-tc"),
                V4,
                Verdict::Truncated,
            ),
        ];
        for (bytes, kind, expected) in seeds {
            assert_eq!(judged(bytes, kind), expected);
        }
    }
}
