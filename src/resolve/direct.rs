//! The system resolver's direct path (HE-8.3): one UDP query per family (and one for the HTTPS
//! records when a connect asks for them), sent from a task of the caller's runtime to the first
//! name server, with a TTL cache of its own; hickory's full resolver answers everything else.
//!
//! hickory sends each query through an exchange task of its runtime and back, on a new socket;
//! at one connect at a time that costs about a tenth of a by-name connect to a nearby name server
//! (issue 9). The direct path keeps hickory's screens for a reply (random source port, message
//! ID, source address, question) by sending through hickory's own `UdpClientStream`, and takes
//! only what it can answer exactly as hickory would:
//! - names that are asked as they are first (a trailing dot, or more labels than `ndots`), and
//!   are not special-use names (`localhost`, `.local`, `.onion`, `invalid`);
//! - a NOERROR reply with addresses of the family or HTTPS records (through a CNAME chain the
//!   reply completes), or NOERROR without any when no search domain would be tried after it.
//!
//! NXDOMAIN (for HTTPS records where no search domain follows, it means "none"), a truncated
//! reply, an unfinished CNAME chain, a server failure, no reply within a second: hickory's
//! resolver is asked (it searches, retries over TCP, tries the other name
//! servers). A server failure or a silent name server turns the direct path off for
//! [`OFF_FOR`], so a dead first name server costs one hedge delay, not one per lookup.
//!
//! The pure parts ([`judge`], [`Cache`], [`Direct::begin`], [`Direct::settle`]) take `now` and
//! are table-tested; the query is the only I/O.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, Shared, WeakShared};
use futures::{FutureExt, StreamExt};
use hickory_resolver::config::{ProtocolConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::udp::UdpClientStream;
use hickory_resolver::net::xfer::DnsRequestSender;
use hickory_resolver::proto::op::{DnsRequest, DnsRequestOptions, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::domain::usage;
use hickory_resolver::proto::rr::{DNSClass, Name, RData, RecordType};

use crate::proto::Family;

/// How long the direct query has alone before hickory's resolver is asked as well.
pub(super) const HEDGE: Duration = Duration::from_secs(1);

/// How long the direct path stays off after its name server failed or stayed silent; doubled
/// for each failure in a row, up to [`MAX_OFF`].
pub(super) const OFF_FOR: Duration = Duration::from_secs(30);

/// The longest the direct path stays off: 32 times [`OFF_FOR`].
const MAX_OFF: Duration = Duration::from_secs(30 * 32);

/// The longest any answer is kept, whatever its TTL (hickory's own limit, one day).
const MAX_TTL: Duration = Duration::from_secs(86_400);

/// At most this many names and families are kept (fewer when the configuration's cache is
/// smaller).
const MAX_ENTRIES: usize = 4_096;

/// The longest CNAME chain followed inside one reply.
const MAX_CHAIN: usize = 16;

/// What a direct query asks for: a family's addresses, or the HTTPS records (RFC 9460).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    Addresses(Family),
    Https,
}

impl From<Family> for Kind {
    fn from(family: Family) -> Kind {
        Kind::Addresses(family)
    }
}

impl Kind {
    fn record_type(self) -> RecordType {
        match self {
            Kind::Addresses(Family::V6) => RecordType::AAAA,
            Kind::Addresses(Family::V4) => RecordType::A,
            Kind::Https => RecordType::HTTPS,
        }
    }
}

/// What a reply answered: addresses, or HTTPS records as their RDATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    Ips(Vec<IpAddr>),
    Records(Vec<Vec<u8>>),
}

impl Found {
    fn none(kind: Kind) -> Found {
        match kind {
            Kind::Addresses(_) => Found::Ips(Vec::new()),
            Kind::Https => Found::Records(Vec::new()),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Found::Ips(ips) => ips.is_empty(),
            Found::Records(records) => records.is_empty(),
        }
    }

    /// The addresses (none when these are records: an address question finds addresses).
    pub(super) fn into_ips(self) -> Vec<IpAddr> {
        match self {
            Found::Ips(ips) => ips,
            Found::Records(_) => Vec::new(),
        }
    }

    /// The records' RDATA (none when these are addresses: an HTTPS question finds records).
    pub(super) fn into_records(self) -> Vec<Vec<u8>> {
        match self {
            Found::Records(records) => records,
            Found::Ips(_) => Vec::new(),
        }
    }
}

/// What one reply means for the direct path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// What the name has of the kind asked, to be kept this long (zero: used once, not kept).
    Answer { found: Found, ttl: Duration },
    /// The name has nothing of the kind asked; kept this long (the SOA's negative TTL; without
    /// an SOA, not kept).
    NoData { ttl: Duration },
    /// hickory's resolver must answer. `trouble`: the name server failed (SERVFAIL, REFUSED,
    /// ...), so the direct path goes off for a while.
    Fallback { trouble: bool },
}

/// Judges a reply to the query for `qname`'s addresses of a family or its HTTPS records.
/// `nodata_is_final`: no search domain would be tried after this name, so "none" is the answer.
pub(super) fn judge(
    reply: &Message,
    qname: &Name,
    kind: impl Into<Kind>,
    nodata_is_final: bool,
) -> Verdict {
    use hickory_resolver::proto::serialize::binary::BinEncodable;
    let kind = kind.into();
    if reply.metadata.truncation {
        return Verdict::Fallback { trouble: false };
    }
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        // A name without HTTPS records is all an HTTPS query needs to learn (`_8080._https.host`
        // names mostly do not exist), once no search domain follows.
        ResponseCode::NXDomain if kind == Kind::Https && nodata_is_final => {
            return no_data(reply);
        }
        // NXDOMAIN for addresses: hickory searches on, and reports the name as not found.
        ResponseCode::NXDomain => return Verdict::Fallback { trouble: false },
        _ => return Verdict::Fallback { trouble: true },
    }
    // Only class IN records answer an IN question.
    let answers = || reply.answers.iter().filter(|r| r.dns_class == DNSClass::IN);
    let mut name = qname;
    let mut ttl = u32::MAX;
    for _ in 0..=MAX_CHAIN {
        let mut found = Found::none(kind);
        let mut min = ttl;
        for record in answers().filter(|r| &r.name == name) {
            match (&record.data, kind, &mut found) {
                (RData::AAAA(a), Kind::Addresses(Family::V6), Found::Ips(ips)) => {
                    ips.push(IpAddr::V6(a.0));
                }
                (RData::A(a), Kind::Addresses(Family::V4), Found::Ips(ips)) => {
                    ips.push(IpAddr::V4(a.0));
                }
                (RData::HTTPS(_), Kind::Https, Found::Records(records)) => {
                    match record.data.to_bytes() {
                        Ok(rdata) => records.push(rdata),
                        Err(_) => continue,
                    }
                }
                _ => continue,
            }
            min = min.min(record.ttl);
        }
        if !found.is_empty() {
            return Verdict::Answer {
                found,
                ttl: seconds(min),
            };
        }
        let next = answers().find_map(|r| match &r.data {
            RData::CNAME(target) if &r.name == name => Some((&target.0, r.ttl)),
            _ => None,
        });
        match next {
            Some((target, cname_ttl)) => {
                name = target;
                ttl = ttl.min(cname_ttl);
            }
            None => break,
        }
    }
    if name != qname {
        // A chain the reply leaves unfinished (or too long): hickory follows it.
        return Verdict::Fallback { trouble: false };
    }
    if !nodata_is_final {
        return Verdict::Fallback { trouble: false };
    }
    no_data(reply)
}

/// "None of the kind asked", kept for the reply's negative TTL (RFC 2308: the SOA's TTL or its
/// MINIMUM, the smaller; without an SOA, not kept).
fn no_data(reply: &Message) -> Verdict {
    let negative = reply
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .unwrap_or(0);
    Verdict::NoData {
        ttl: seconds(negative),
    }
}

/// [`judge`] on a reply in wire format, for the fuzz target: `None` when it does not parse;
/// otherwise how many addresses (of `family`) or HTTPS records (`family` `None`) it gives and
/// their TTL (none for NODATA), or `Err(trouble)` for hickory.
#[cfg(fuzzing)]
pub fn judge_wire(
    reply: &[u8],
    qname: &str,
    family: Option<Family>,
    nodata_is_final: bool,
) -> Option<Result<(usize, Duration), bool>> {
    let reply = Message::from_vec(reply).ok()?;
    let qname = Name::from_ascii(qname).ok()?;
    let kind = family.map_or(Kind::Https, Kind::Addresses);
    Some(match judge(&reply, &qname, kind, nodata_is_final) {
        Verdict::Answer { found, ttl } => {
            // What an answer must be, whatever the bytes: NOERROR, not truncated, of the kind
            // asked only, a TTL within a day.
            assert!(!reply.metadata.truncation);
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
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
        Verdict::NoData { ttl } => {
            assert!(
                nodata_is_final,
                "NODATA only where no search domain follows"
            );
            let code = reply.metadata.response_code;
            assert!(
                code == ResponseCode::NoError
                    || (code == ResponseCode::NXDomain && family.is_none()),
                "{code:?}"
            );
            assert!(ttl <= MAX_TTL);
            Ok((0, ttl))
        }
        Verdict::Fallback { trouble } => Err(trouble),
    })
}

fn seconds(ttl: u32) -> Duration {
    Duration::from_secs(u64::from(ttl)).min(MAX_TTL)
}

/// Answers kept by their TTL: a bounded map from (name as asked, kind) to what was found.
#[derive(Debug)]
pub(super) struct Cache {
    entries: HashMap<(Box<str>, Kind), (Found, Instant)>,
    capacity: usize,
}

impl Cache {
    pub(super) fn new(capacity: usize) -> Cache {
        Cache {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The kept answer and how long it has left, if it has any.
    pub(super) fn get(
        &self,
        name: &str,
        kind: impl Into<Kind>,
        now: Instant,
    ) -> Option<(Found, Duration)> {
        let (found, expires) = self.entries.get(&(Box::from(name), kind.into()))?;
        let left = expires
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())?;
        Some((found.clone(), left))
    }

    /// Keeps an answer for `ttl` (a zero TTL keeps nothing and forgets what was kept). When full,
    /// expired entries go first, then the one closest to expiring.
    pub(super) fn put(
        &mut self,
        name: &str,
        kind: impl Into<Kind>,
        found: Found,
        ttl: Duration,
        now: Instant,
    ) {
        let key = (Box::from(name), kind.into());
        if ttl.is_zero() || self.capacity == 0 {
            self.entries.remove(&key);
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (_, expires)| *expires > now);
            if self.entries.len() >= self.capacity
                && let Some(soonest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, expires))| *expires)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&soonest);
            }
        }
        self.entries.insert(key, (found, now + ttl));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The TTL bounds a configuration sets (`positive_min_ttl` and friends).
#[derive(Debug, Clone, Copy)]
struct Bounds {
    positive: (Duration, Duration),
    negative: (Duration, Duration),
}

impl Bounds {
    fn of(options: &ResolverOpts) -> Bounds {
        let pair = |min: Option<Duration>, max: Option<Duration>| {
            let max = max.unwrap_or(MAX_TTL).min(MAX_TTL);
            (min.unwrap_or(Duration::ZERO).min(max), max)
        };
        Bounds {
            positive: pair(options.positive_min_ttl, options.positive_max_ttl),
            negative: pair(options.negative_min_ttl, options.negative_max_ttl),
        }
    }
}

/// One configuration's direct path: where it asks, how, and what it keeps.
pub(super) struct Direct {
    server: SocketAddr,
    bind: Option<SocketAddr>,
    request: DnsRequestOptions,
    timeout: Duration,
    ndots: usize,
    /// Whether the configuration has a search list or a domain.
    searches: bool,
    bounds: Bounds,
    avoid_ports: Arc<HashSet<u16>>,
    os_port_selection: bool,
    state: Mutex<State>,
}

/// A direct query in flight, shared by every lookup of the same name and family that starts
/// while it is (as hickory shares its own): the answer, or `Err(trouble)` for hickory to answer.
pub(super) type InFlight = Shared<QueryFuture>;

type QueryFuture = BoxFuture<'static, Result<(Found, Duration), bool>>;

type InFlightKey = (Box<str>, Kind, tokio::runtime::Id);

struct State {
    cache: Cache,
    /// Queries in flight, held weakly: the last lookup that drops one aborts its task. Keyed by
    /// runtime too: a query's task runs on the runtime that started it, and a lookup on another
    /// runtime must not wait on one that may be blocked (HE-8.1).
    in_flight: HashMap<InFlightKey, WeakShared<QueryFuture>>,
    off_until: Option<Instant>,
    /// Failures in a row (a usable reply starts over).
    strikes: u32,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("server", &self.server)
            .field("ndots", &self.ndots)
            .field("searches", &self.searches)
            .finish_non_exhaustive()
    }
}

/// What [`Direct::begin`] decided for one lookup.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Answered from the cache: what was found and the time it has left.
    Kept(Found, Duration),
    /// Ask the name server directly.
    Ask(Question),
    /// Not for the direct path: hickory's resolver answers.
    Skip,
}

/// One direct query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Question {
    /// The name as the caller gave it (the cache key).
    asked: String,
    name: Name,
    kind: Kind,
    nodata_is_final: bool,
}

impl Question {
    /// The name as the caller gave it.
    pub(super) fn asked(&self) -> &str {
        &self.asked
    }
}

impl Direct {
    /// The direct path for this configuration, if it has one: not when answers must be
    /// filtered (`allow_answers`, `deny_answers`), nor without a name server reached over plain
    /// UDP. The first name server is the one asked, as glibc does.
    pub(super) fn new(config: &ResolverConfig, options: &ResolverOpts) -> Option<Direct> {
        if !options.allow_answers.is_empty() || !options.deny_answers.is_empty() {
            return None;
        }
        let first = config.name_servers.first()?;
        let udp = first
            .connections
            .iter()
            .find(|c| matches!(c.protocol, ProtocolConfig::Udp))?;
        let mut request = DnsRequestOptions::default();
        request.recursion_desired = options.recursion_desired;
        request.use_edns = options.edns0;
        request.edns_payload_len = options.edns_payload_len;
        request.case_randomization = options.case_randomization;
        let capacity = usize::try_from(options.cache_size)
            .unwrap_or(usize::MAX)
            .min(MAX_ENTRIES);
        Some(Direct {
            server: SocketAddr::new(first.ip, udp.port),
            bind: udp.bind_addr,
            request,
            timeout: options.timeout,
            ndots: options.ndots,
            searches: config.domain.is_some() || !config.search.is_empty(),
            bounds: Bounds::of(options),
            avoid_ports: options.avoid_local_udp_ports.clone(),
            os_port_selection: options.os_port_selection,
            state: Mutex::new(State {
                cache: Cache::new(capacity),
                in_flight: HashMap::new(),
                off_until: None,
                strikes: 0,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides how `name`'s addresses of `family` are found (`name` as [`super::Resolve`] gets
    /// it: validated, lowercase, maybe with a trailing dot).
    pub(super) fn begin(&self, name: &str, kind: impl Into<Kind>, now: Instant) -> Step {
        let kind = kind.into();
        let Ok(parsed) = Name::from_utf8(name) else {
            return Step::Skip;
        };
        let special = [
            &*usage::LOCALHOST,
            &*usage::INVALID,
            &*usage::LOCAL,
            &*usage::ONION,
            &*usage::IN_ADDR_ARPA_127,
            &*usage::IP6_ARPA_1,
        ];
        if special.iter().any(|zone| zone.zone_of(&parsed)) {
            return Step::Skip;
        }
        // hickory (and glibc) ask a name as it is first only when it has a trailing dot or more
        // labels than `ndots`; otherwise the search list goes first.
        let fqdn = parsed.is_fqdn();
        if !fqdn && usize::from(parsed.num_labels()) <= self.ndots {
            return Step::Skip;
        }
        let state = self.state();
        if state.off_until.is_some_and(|until| now < until) {
            return Step::Skip;
        }
        if let Some((found, left)) = state.cache.get(name, kind, now) {
            return Step::Kept(found, left);
        }
        drop(state);
        let mut absolute = parsed;
        absolute.set_fqdn(true);
        Step::Ask(Question {
            asked: name.to_string(),
            name: absolute,
            kind,
            nodata_is_final: fqdn || !self.searches,
        })
    }

    /// Keeps what a reply said, within the configuration's TTL bounds; returns the answer
    /// (what was found and its TTL), or `Err(trouble)` for hickory to answer.
    pub(super) fn settle(
        &self,
        question: &Question,
        verdict: Verdict,
        now: Instant,
    ) -> Result<(Found, Duration), bool> {
        let (found, ttl) = match verdict {
            Verdict::Answer { found, ttl } => {
                let (min, max) = self.bounds.positive;
                (found, ttl.clamp(min, max))
            }
            Verdict::NoData { ttl } => {
                let (min, max) = self.bounds.negative;
                (Found::none(question.kind), ttl.clamp(min, max))
            }
            Verdict::Fallback { trouble } => {
                if trouble {
                    self.turn_off(now);
                }
                return Err(trouble);
            }
        };
        let mut state = self.state();
        state.strikes = 0;
        state
            .cache
            .put(&question.asked, question.kind, found.clone(), ttl, now);
        Ok((found, ttl))
    }

    /// The name server failed or stayed silent: hickory's resolver answers for [`OFF_FOR`],
    /// twice as long for each failure in a row (at most [`MAX_OFF`]).
    pub(super) fn turn_off(&self, now: Instant) {
        let mut state = self.state();
        state.strikes = state.strikes.saturating_add(1);
        let off = OFF_FOR
            .saturating_mul(1 << (state.strikes - 1).min(5))
            .min(MAX_OFF);
        state.off_until = Some(now + off);
    }

    /// The query for `question`: the one in flight for the same name and family on this
    /// runtime, or a new one sent from a task of the current runtime (so many lookups polled by
    /// one task still send and receive on every worker). Must be called within a tokio runtime.
    pub(super) fn query(self: &Arc<Self>, question: Question) -> InFlight {
        let runtime = tokio::runtime::Handle::current().id();
        let key = (Box::from(question.asked.as_str()), question.kind, runtime);
        let mut state = self.state();
        if let Some(query) = state.in_flight.get(&key).and_then(WeakShared::upgrade) {
            return query;
        }
        let (direct, done) = (self.clone(), key.clone());
        let task = tokio::spawn(async move {
            let answer = direct.ask(&question).await;
            direct.state().in_flight.remove(&done);
            answer
        });
        let abort = AbortOnDrop(task.abort_handle());
        let query = async move {
            let _abort = abort;
            // A task cancelled with its runtime (or one that panicked) says nothing about the
            // name server: hickory's resolver answers, and the direct path stays on.
            task.await.unwrap_or(Err(false))
        }
        .boxed()
        .shared();
        if state.in_flight.len() >= MAX_ENTRIES {
            state.in_flight.retain(|_, weak| weak.upgrade().is_some());
        }
        if let Some(weak) = query.downgrade() {
            state.in_flight.insert(key, weak);
        }
        query
    }

    /// Sends the question and judges the reply. `Err(true)`: no usable reply because the name
    /// server failed, did not answer, or could not be reached.
    pub(super) async fn ask(&self, question: &Question) -> Result<(Found, Duration), bool> {
        let mut stream = UdpClientStream::builder(self.server, TokioRuntimeProvider::default())
            .with_timeout(Some(self.timeout))
            .with_bind_addr(self.bind)
            .avoid_local_ports(self.avoid_ports.clone())
            .with_os_port_selection(self.os_port_selection)
            .build();
        let query = Query::query(question.name.clone(), question.kind.record_type());
        let mut replies = stream.send_message(DnsRequest::from_query(query, self.request));
        let verdict = match replies.next().await {
            Some(Ok(reply)) => judge(
                &reply,
                &question.name,
                question.kind,
                question.nodata_is_final,
            ),
            Some(Err(error)) => {
                tracing::debug!(server = %self.server, %error, "direct DNS query failed");
                Verdict::Fallback { trouble: true }
            }
            None => Verdict::Fallback { trouble: true },
        };
        self.settle(question, verdict, Instant::now())
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.state().cache.len()
    }
}

/// Aborts a task when dropped: a query nobody waits for any more stops at once.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::config::NameServerConfig;
    use hickory_resolver::proto::op::{MessageType, OpCode};
    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, SOA};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn reply(code: ResponseCode, answers: Vec<Record>, authorities: Vec<Record>) -> Message {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.answers = answers;
        m.authorities = authorities;
        m
    }

    fn aaaa(owner: &str, ttl: u32, ip: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::AAAA(AAAA(ip.parse().unwrap())))
    }

    fn a(owner: &str, ttl: u32, ip: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::A(A(ip.parse().unwrap())))
    }

    fn cname(owner: &str, ttl: u32, target: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
    }

    fn soa(owner: &str, ttl: u32, minimum: u32) -> Record {
        let soa = SOA::new(
            name("ns.test."),
            name("admin.test."),
            1,
            60,
            60,
            60,
            minimum,
        );
        Record::from_rdata(name(owner), ttl, RData::SOA(soa))
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    // HE-8.3: what each kind of reply means, as a table.
    #[test]
    fn he_8_3_judging_replies() {
        let q = name("www.test.");
        let secs = Duration::from_secs;
        let cases: Vec<(&str, Message, Family, bool, Verdict)> = vec![
            (
                "addresses, the smallest TTL",
                reply(
                    ResponseCode::NoError,
                    vec![
                        aaaa("www.test.", 300, "2001:db8::1"),
                        aaaa("www.test.", 60, "2001:db8::2"),
                    ],
                    vec![],
                ),
                Family::V6,
                false,
                Verdict::Answer {
                    found: Found::Ips(ips(&["2001:db8::1", "2001:db8::2"])),
                    ttl: secs(60),
                },
            ),
            (
                "records of the other family are not the answer",
                reply(
                    ResponseCode::NoError,
                    vec![
                        aaaa("www.test.", 300, "2001:db8::1"),
                        a("www.test.", 300, "192.0.2.1"),
                    ],
                    vec![],
                ),
                Family::V4,
                false,
                Verdict::Answer {
                    found: Found::Ips(ips(&["192.0.2.1"])),
                    ttl: secs(300),
                },
            ),
            (
                "TTL 0 is an answer kept for no time",
                reply(
                    ResponseCode::NoError,
                    vec![a("www.test.", 0, "192.0.2.1")],
                    vec![],
                ),
                Family::V4,
                false,
                Verdict::Answer {
                    found: Found::Ips(ips(&["192.0.2.1"])),
                    ttl: secs(0),
                },
            ),
            (
                "a CNAME chain the reply completes; the chain's TTL counts",
                reply(
                    ResponseCode::NoError,
                    vec![
                        a("cdn.test.", 300, "192.0.2.9"),
                        cname("www.test.", 30, "edge.test."),
                        cname("edge.test.", 600, "cdn.test."),
                    ],
                    vec![],
                ),
                Family::V4,
                false,
                Verdict::Answer {
                    found: Found::Ips(ips(&["192.0.2.9"])),
                    ttl: secs(30),
                },
            ),
            (
                "addresses of other names are ignored",
                reply(
                    ResponseCode::NoError,
                    vec![a("evil.test.", 300, "192.0.2.66")],
                    vec![],
                ),
                Family::V4,
                true,
                Verdict::NoData { ttl: secs(0) },
            ),
            (
                "an unfinished CNAME chain: hickory follows it",
                reply(
                    ResponseCode::NoError,
                    vec![cname("www.test.", 30, "elsewhere.test.")],
                    vec![],
                ),
                Family::V4,
                true,
                Verdict::Fallback { trouble: false },
            ),
            (
                "a CNAME loop",
                reply(
                    ResponseCode::NoError,
                    vec![
                        cname("www.test.", 30, "x.test."),
                        cname("x.test.", 30, "www.test."),
                    ],
                    vec![],
                ),
                Family::V4,
                true,
                Verdict::Fallback { trouble: false },
            ),
            (
                "NODATA with an SOA: its negative TTL",
                reply(ResponseCode::NoError, vec![], vec![soa("test.", 900, 120)]),
                Family::V6,
                true,
                Verdict::NoData { ttl: secs(120) },
            ),
            (
                "NODATA where a search domain would come next",
                reply(ResponseCode::NoError, vec![], vec![soa("test.", 900, 120)]),
                Family::V6,
                false,
                Verdict::Fallback { trouble: false },
            ),
            (
                "NXDOMAIN: hickory searches on",
                reply(ResponseCode::NXDomain, vec![], vec![soa("test.", 900, 120)]),
                Family::V6,
                true,
                Verdict::Fallback { trouble: false },
            ),
            (
                "SERVFAIL is the server's trouble",
                reply(ResponseCode::ServFail, vec![], vec![]),
                Family::V6,
                true,
                Verdict::Fallback { trouble: true },
            ),
            (
                "REFUSED is the server's trouble",
                reply(
                    ResponseCode::Refused,
                    vec![a("www.test.", 300, "192.0.2.1")],
                    vec![],
                ),
                Family::V4,
                true,
                Verdict::Fallback { trouble: true },
            ),
        ];
        for (what, message, family, nodata_is_final, expected) in cases {
            assert_eq!(
                judge(&message, &q, family, nodata_is_final),
                expected,
                "{what}"
            );
        }
        // HTTPS records (RFC 9460): their RDATA, through a chain; addresses are not records.
        let svcb = |owner: &str, ttl, priority| {
            use hickory_resolver::proto::rr::rdata::HTTPS;
            use hickory_resolver::proto::rr::rdata::svcb::SVCB;
            let data = RData::HTTPS(HTTPS(SVCB::new(priority, Name::root(), vec![])));
            Record::from_rdata(name(owner), ttl, data)
        };
        let rdata = |priority: u16| {
            // SvcPriority, then the root name as TargetName, no parameters.
            let [hi, lo] = priority.to_be_bytes();
            vec![hi, lo, 0]
        };
        let https = reply(
            ResponseCode::NoError,
            vec![
                cname("www.test.", 120, "svc.test."),
                svcb("svc.test.", 300, 1),
                svcb("svc.test.", 300, 2),
                a("svc.test.", 300, "192.0.2.1"),
            ],
            vec![],
        );
        assert_eq!(
            judge(&https, &q, Kind::Https, false),
            Verdict::Answer {
                found: Found::Records(vec![rdata(1), rdata(2)]),
                ttl: secs(120)
            }
        );
        assert_eq!(
            judge(&https, &q, Family::V6, true),
            Verdict::Fallback { trouble: false },
            "HTTPS records are no addresses: the chain ends without any, hickory asks on"
        );
        let no_https = reply(
            ResponseCode::NoError,
            vec![a("www.test.", 300, "192.0.2.1")],
            vec![soa("test.", 900, 60)],
        );
        assert_eq!(
            judge(&no_https, &q, Kind::Https, true),
            Verdict::NoData { ttl: secs(60) }
        );

        let nxdomain = reply(ResponseCode::NXDomain, vec![], vec![soa("test.", 900, 30)]);
        assert_eq!(
            judge(&nxdomain, &q, Kind::Https, true),
            Verdict::NoData { ttl: secs(30) },
            "no such name: no HTTPS records, once no search domain follows"
        );
        assert_eq!(
            judge(&nxdomain, &q, Kind::Https, false),
            Verdict::Fallback { trouble: false }
        );

        let mut chaos = a("www.test.", 300, "192.0.2.1");
        chaos.dns_class = DNSClass::CH;
        let other_class = reply(ResponseCode::NoError, vec![chaos], vec![]);
        assert_eq!(
            judge(&other_class, &q, Family::V4, true),
            Verdict::NoData { ttl: secs(0) },
            "records of another class are not the answer"
        );
        let mut truncated = reply(
            ResponseCode::NoError,
            vec![a("www.test.", 300, "192.0.2.1")],
            vec![],
        );
        truncated.metadata.truncation = true;
        assert_eq!(
            judge(&truncated, &q, Family::V4, true),
            Verdict::Fallback { trouble: false },
            "TC: hickory retries over TCP"
        );
    }

    // HE-8.3: the dns_reply fuzz target's seeds (fuzz/seeds/dns_reply) are the replies they
    // are named for, so the fuzzer starts from every verdict.
    #[test]
    fn he_8_3_fuzz_seeds_are_well_formed_replies() {
        let q = name("www.test.");
        let secs = Duration::from_secs;
        let judged =
            |bytes: &[u8], kind: Kind| judge(&Message::from_vec(bytes).unwrap(), &q, kind, true);
        let seeds: [(&[u8], Kind, Verdict); 7] = [
            (
                include_bytes!("../../fuzz/seeds/dns_reply/seed-https"),
                Kind::Https,
                Verdict::Answer {
                    found: Found::Records(vec![vec![0, 1, 0, 0, 1, 0, 3, 2, b'h', b'2']]),
                    ttl: secs(300),
                },
            ),
            (
                include_bytes!("../../fuzz/seeds/dns_reply/seed-a"),
                Family::V4.into(),
                Verdict::Answer {
                    found: Found::Ips(ips(&["192.0.2.1", "192.0.2.2"])),
                    ttl: secs(60),
                },
            ),
            (
                include_bytes!("../../fuzz/seeds/dns_reply/seed-aaaa"),
                Family::V6.into(),
                Verdict::Answer {
                    found: Found::Ips(ips(&["2001:db8::1"])),
                    ttl: secs(300),
                },
            ),
            (
                include_bytes!("../../fuzz/seeds/dns_reply/seed-cname"),
                Family::V4.into(),
                Verdict::Answer {
                    found: Found::Ips(ips(&["192.0.2.9"])),
                    ttl: secs(30),
                },
            ),
            (
                include_bytes!("../../fuzz/seeds/dns_reply/seed-nodata"),
                Family::V6.into(),
                Verdict::NoData { ttl: secs(120) },
            ),
            (
                include_bytes!("../../fuzz/seeds/dns_reply/seed-nxdomain"),
                Family::V4.into(),
                Verdict::Fallback { trouble: false },
            ),
            (
                include_bytes!("../../fuzz/seeds/dns_reply/seed-tc"),
                Family::V4.into(),
                Verdict::Fallback { trouble: false },
            ),
        ];
        for (bytes, kind, expected) in seeds {
            assert_eq!(judged(bytes, kind), expected);
        }
    }

    // HE-8.3: the cache honours TTLs, forgets on TTL 0, and stays within its bound.
    #[test]
    fn he_8_3_cache() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut cache = Cache::new(2);
        cache.put(
            "a.test",
            Family::V4,
            Found::Ips(ips(&["192.0.2.1"])),
            s(10),
            t0,
        );
        assert_eq!(
            cache.get("a.test", Family::V4, t0 + s(4)),
            Some((Found::Ips(ips(&["192.0.2.1"])), s(6)))
        );
        assert_eq!(cache.get("a.test", Family::V6, t0), None, "families apart");
        assert_eq!(cache.get("a.test.", Family::V4, t0), None, "names as asked");
        assert_eq!(cache.get("a.test", Family::V4, t0 + s(10)), None, "expired");
        cache.put(
            "a.test",
            Family::V4,
            Found::Ips(ips(&["192.0.2.2"])),
            s(0),
            t0,
        );
        assert_eq!(cache.get("a.test", Family::V4, t0), None, "TTL 0 forgets");
        cache.put(
            "a.test",
            Family::V4,
            Found::Ips(ips(&["192.0.2.1"])),
            s(10),
            t0,
        );
        cache.put(
            "b.test",
            Family::V4,
            Found::Ips(ips(&["192.0.2.2"])),
            s(20),
            t0,
        );
        cache.put(
            "c.test",
            Family::V4,
            Found::Ips(ips(&["192.0.2.3"])),
            s(30),
            t0,
        );
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.get("a.test", Family::V4, t0),
            None,
            "the soonest to expire went"
        );
        assert!(cache.get("c.test", Family::V4, t0).is_some());
        cache.put(
            "d.test",
            Family::V4,
            Found::Ips(ips(&["192.0.2.4"])),
            s(5),
            t0 + s(25),
        );
        assert!(
            cache.get("c.test", Family::V4, t0 + s(25)).is_some(),
            "the expired one went first"
        );
        assert!(cache.get("d.test", Family::V4, t0 + s(25)).is_some());
    }

    fn direct(search: bool, ndots: usize) -> Direct {
        let mut config = ResolverConfig::from_parts(
            None,
            vec![],
            vec![NameServerConfig::udp_and_tcp("192.0.2.53".parse().unwrap())],
        );
        if search {
            config.search = vec![name("corp.test.")];
        }
        let mut options = ResolverOpts::default();
        options.ndots = ndots;
        options.positive_max_ttl = Some(Duration::from_secs(100));
        Direct::new(&config, &options).unwrap()
    }

    // HE-8.3: which names the direct path takes, and what it answers from its cache.
    #[test]
    fn he_8_3_which_names() {
        let now = Instant::now();
        let plain = direct(false, 1);
        let asks = |d: &Direct, n: &str| matches!(d.begin(n, Family::V6, now), Step::Ask(_));
        assert!(asks(&plain, "www.test"));
        assert!(asks(&plain, "www.test."));
        assert!(asks(&plain, "single."), "a trailing dot: asked as it is");
        assert!(
            !asks(&plain, "single"),
            "ndots not met: the search list goes first"
        );
        for special in [
            "localhost",
            "api.localhost",
            "printer.local",
            "x.invalid",
            "abc.onion.",
        ] {
            assert!(!asks(&plain, special), "{special}");
        }
        let deep = direct(false, 3);
        assert!(!asks(&deep, "www.test"));
        assert!(asks(&deep, "a.b.c.test"));
        let Step::Ask(q) = direct(true, 1).begin("www.test", Family::V6, now) else {
            panic!()
        };
        assert!(
            !q.nodata_is_final,
            "with a search list, NODATA goes to hickory"
        );
        let Step::Ask(q) = direct(true, 1).begin("www.test.", Family::V6, now) else {
            panic!()
        };
        assert!(q.nodata_is_final);

        // Kept within the configuration's bounds (positive_max_ttl 100 s here).
        let Step::Ask(q) = plain.begin("www.test", Family::V6, now) else {
            panic!()
        };
        let answer = plain.settle(
            &q,
            Verdict::Answer {
                found: Found::Ips(ips(&["2001:db8::1"])),
                ttl: Duration::from_secs(3_600),
            },
            now,
        );
        assert_eq!(
            answer,
            Ok((Found::Ips(ips(&["2001:db8::1"])), Duration::from_secs(100)))
        );
        assert_eq!(
            plain.begin("www.test", Family::V6, now + Duration::from_secs(40)),
            Step::Kept(Found::Ips(ips(&["2001:db8::1"])), Duration::from_secs(60))
        );
        assert!(asks(&plain, "www.test."), "another spelling is asked");
        assert!(matches!(
            plain.begin("www.test", Family::V6, now + Duration::from_secs(100)),
            Step::Ask(_)
        ));

        // A server failure turns it off for OFF_FOR, then it is back.
        assert_eq!(
            plain.settle(&q, Verdict::Fallback { trouble: true }, now),
            Err(true)
        );
        assert_eq!(
            plain.begin("other.test", Family::V4, now + Duration::from_secs(1)),
            Step::Skip
        );
        assert_eq!(
            plain.begin("www.test", Family::V6, now + Duration::from_secs(1)),
            Step::Skip,
            "not even the cache"
        );
        assert!(matches!(
            plain.begin("other.test", Family::V4, now + OFF_FOR),
            Step::Ask(_)
        ));
        // NXDOMAIN and the like are not trouble.
        assert_eq!(
            plain.settle(&q, Verdict::Fallback { trouble: false }, now + OFF_FOR),
            Err(false)
        );
        assert!(matches!(
            plain.begin("other.test", Family::V4, now + OFF_FOR),
            Step::Ask(_)
        ));
        assert_eq!(plain.kept(), 1);
    }

    // HE-8.3: configurations the direct path stays out of.
    #[test]
    fn he_8_3_not_for_every_configuration() {
        let server = NameServerConfig::udp_and_tcp("192.0.2.53".parse().unwrap());
        let config = ResolverConfig::from_parts(None, vec![], vec![server.clone()]);
        assert!(
            Direct::new(
                &ResolverConfig::from_parts(None, vec![], vec![]),
                &ResolverOpts::default()
            )
            .is_none()
        );
        let mut tcp_only = server;
        tcp_only
            .connections
            .retain(|c| !matches!(c.protocol, ProtocolConfig::Udp));
        assert!(
            Direct::new(
                &ResolverConfig::from_parts(None, vec![], vec![tcp_only]),
                &ResolverOpts::default()
            )
            .is_none()
        );
        let mut filtering = ResolverOpts::default();
        filtering.deny_answers = vec!["192.0.2.0/24".parse().unwrap()];
        assert!(Direct::new(&config, &filtering).is_none());
        assert!(Direct::new(&config, &ResolverOpts::default()).is_some());
    }
}
