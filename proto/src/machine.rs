//! The Happy Eyeballs state machine (RFC 8305 §3 and §5): events in, actions out, time as a
//! parameter.
//!
//! # Driving it
//! 1. Create a [`Race`] with the time the connect started and which families are being looked up.
//! 2. Feed every event with [`Race::handle`] (a DNS answer, an attempt that failed or connected) and
//!    call [`Race::handle_timeout`] when the deadline from [`Race::poll_timeout`] is reached.
//! 3. After each of those calls, drain [`Race::poll_action`] and carry the actions out, in order.
//!    [`Action::Done`] is the last action the machine ever produces.
//!
//! `now` must never go backwards; an earlier `now` is treated as the latest one seen.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Family;
use super::admit::{MAX_ADDRESSES, Seen};
use super::fasthash::{FastMap, FastSet};
use super::history::DelayBasis;
use super::interleave::sort_and_interleave_into;
use super::nat64::{Nat64, Nat64Prefix, PrefixSource, SynthesizedBy, Translation};
use super::policy::AddressPolicy;
use super::sort::{Candidate, PolicyTable};
use super::svcb::{ServiceEndpoint, ServiceRecord};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// No attempt starts within this long of the previous one, whatever the configuration and however
/// late the driver's timer fires (RFC 8305 §5 "MUST NOT", HE-5.2).
pub const MIN_ATTEMPT_GAP: Duration = Duration::from_millis(10);

/// How many untried addresses the race wants in hand before it asks for more of a long answer
/// (see [`Race::wants_addresses`]).
const LOW_WATER: usize = 16;

/// Identifies one connection attempt within one race. Ids count up from 0 in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId(pub usize);

/// The transport an attempt uses: the HEv3 draft's protocol dimension (HE-12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// TCP, then the connect's own handshake (TLS) on it, if any (HE-9.1).
    #[default]
    Tcp,
    /// QUIC (RFC 9000): its handshake, TLS 1.3 included, is the attempt.
    Quic,
}

impl Protocol {
    /// `"tcp"` or `"quic"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Quic => "quic",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which destinations of a race also get a QUIC attempt, and how QUIC is raced against TCP
/// (HE-12.1 to HE-12.4): [`Race::with_quic`].
///
/// Each destination of the race's order (sorted and interleaved as always, HE-4.x, HE-10.6)
/// that QUIC applies to gets two attempts, one per protocol, QUIC first unless
/// [`QuicPlan::prefer_tcp`]: the second one Connection Attempt Delay after the first (at once
/// when the first fails), and the next destination one delay after that. With UDP silently
/// dropped the first TCP attempt therefore starts one attempt delay after the first QUIC
/// attempt; with UDP refused, at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuicPlan {
    /// The ALPN protocols the connection can use over QUIC (`h3`): an HTTPS-record endpoint
    /// whose ALPN set has one of them gets QUIC attempts on its own port, and one whose ALPN
    /// set has only these (`alpn="h3" no-default-alpn`) gets only QUIC attempts (HE-12.1).
    pub protocols: Vec<Vec<u8>>,
    /// The name's own addresses (those no HTTPS record covers) get QUIC attempts on this UDP
    /// port: the caller knows the origin speaks HTTP/3, or an `Alt-Svc` header said so.
    /// `None`: only endpoints whose record lists one of [`QuicPlan::protocols`].
    pub origin_port: Option<u16>,
    /// TCP first, QUIC one attempt delay later, where QUIC comes first by default.
    pub prefer_tcp: bool,
    /// QUIC failed on this network recently while TCP worked (HE-12.4): each destination's TCP
    /// attempt starts first, and its QUIC attempt the 10 ms floor after it (HE-5.2), so that a
    /// network that drops UDP costs nothing while QUIC is still tried.
    pub recently_broken: bool,
}

/// The QUIC side of a race (HE-12.x): boxed in the race, which most connects never make.
#[derive(Debug)]
struct QuicRace {
    plan: QuicPlan,
    /// The second protocol of the destination whose first attempt started last, waiting for
    /// its turn.
    follow: Option<Next>,
    /// The follow is due at the 10 ms floor, QUIC being broken to its destination (HE-12.4).
    at_once: bool,
}

/// An attempt about to start: its destination (what was received and sorted), where it
/// connects (a QUIC attempt's UDP port may differ), and over what.
#[derive(Debug, Clone, Copy)]
struct Next {
    dst: SocketAddr,
    addr: SocketAddr,
    protocol: Protocol,
    /// The second protocol of its destination.
    second: bool,
}

/// The timing parameters of one race (validated by the builder).
#[derive(Debug, Clone, Copy)]
pub struct RaceConfig {
    /// RFC 8305 §3 Resolution Delay.
    pub resolution_delay: Duration,
    /// RFC 8305 §5 Connection Attempt Delay.
    pub attempt_delay: Duration,
    /// RFC 8305 §4 First Address Family Count.
    pub first_family_count: usize,
    /// Per-attempt timeout.
    pub attempt_timeout: Option<Duration>,
    /// Whole-connect timeout.
    pub connect_timeout: Option<Duration>,
    /// With history: the bounds of the adaptive Connection Attempt Delay (HE-5.3). The delay after
    /// an address with a known RTT is its retransmission estimate within these bounds; without an
    /// RTT (or with `None`) it is `attempt_delay`.
    pub adaptive_delay: Option<(Duration, Duration)>,
}

/// A race's [`RaceConfig`] as the race keeps it: durations as nanoseconds, 48 bytes where the
/// config takes 104 (issue 23). The connect timeout is kept as the race's deadline instead.
#[derive(Debug, Clone, Copy)]
struct Timing {
    resolution_delay: u64,
    attempt_delay: u64,
    /// [`Timing::NONE`]: no per-attempt timeout (nor one too long to represent, which never
    /// comes).
    attempt_timeout: u64,
    /// The adaptive delay's bounds; [`Timing::NONE`] in the first: no adaptive delay.
    adaptive: [u64; 2],
    first_family_count: u32,
}

impl Timing {
    const NONE: u64 = u64::MAX;

    fn new(config: &RaceConfig) -> Timing {
        // Past 584 years a delay is as good as never: saturated just below `NONE`.
        let saturated = |d: Duration| nanos(d).unwrap_or(Self::NONE - 1);
        let (adaptive_min, adaptive_max) = match config.adaptive_delay {
            Some((min, max)) => (saturated(min), saturated(max)),
            None => (Self::NONE, Self::NONE),
        };
        let attempt_timeout = config.attempt_timeout.and_then(nanos).unwrap_or(Self::NONE);
        Timing {
            resolution_delay: saturated(config.resolution_delay),
            attempt_delay: saturated(config.attempt_delay),
            attempt_timeout,
            adaptive: [adaptive_min, adaptive_max],
            first_family_count: u32::try_from(config.first_family_count).unwrap_or(u32::MAX),
        }
    }

    fn resolution_delay(&self) -> Duration {
        Duration::from_nanos(self.resolution_delay)
    }

    fn attempt_delay(&self) -> Duration {
        Duration::from_nanos(self.attempt_delay)
    }

    fn attempt_timeout(&self) -> Option<Duration> {
        (self.attempt_timeout != Self::NONE).then(|| Duration::from_nanos(self.attempt_timeout))
    }

    fn adaptive_delay(&self) -> Option<(Duration, Duration)> {
        let [min, max] = self.adaptive;
        (min != Self::NONE).then(|| (Duration::from_nanos(min), Duration::from_nanos(max)))
    }

    fn first_family_count(&self) -> usize {
        self.first_family_count as usize
    }
}

/// Where a race's addresses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// From DNS: the race asks for a query of each of these families ([`Action::Query`], AAAA
    /// first, HE-3.1) and waits for their answers.
    Query {
        /// Look up AAAA.
        v6: bool,
        /// Look up A.
        v4: bool,
    },
    /// Already known (IP literals, addresses given to `connect`): the driver feeds addresses of these families
    /// with [`Input::Answer`] under [`Race::given`]'s ids, and nothing is queried.
    Given {
        /// IPv6 addresses will be fed.
        v6: bool,
        /// IPv4 addresses will be fed.
        v4: bool,
    },
}

/// Identifies one DNS query within one race. Ids count up from 0 in the order the race asks
/// ([`Action::Query`]); an answer names the query it answers ([`Input::Answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub usize);

/// What one query asks the resolver for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    /// The race's name's addresses of one family: AAAA or A (HE-3.1). Answer with
    /// [`Answer::Addresses`] (or [`Answer::Part`]s first) or [`Answer::Failed`].
    Addresses(Family),
    /// The HTTPS records of this name (HE-10.2): first the service name
    /// ([`Race::with_service_query`]), then each AliasMode target followed (HE-10.7). Answer
    /// with [`Answer::Records`] or [`Answer::Failed`].
    Service(String),
    /// A ServiceMode TargetName's addresses of one family (HE-10.7), on the connect's port.
    /// Answer with [`Answer::Addresses`] or [`Answer::Failed`].
    Target {
        /// The TargetName.
        name: String,
        /// AAAA or A.
        family: Family,
    },
    /// The AAAA records of [`IPV4ONLY_ARPA`](super::nat64::IPV4ONLY_ARPA), which reveal the
    /// network's NAT64 prefix (RFC 7050, HE-7.7): asked when the race was given
    /// [`Nat64::discover`]. Answer with
    /// [`Answer::Addresses`] (the addresses as destinations, on any port) or [`Answer::Failed`]
    /// (then there is no NAT64 to use).
    Nat64Prefix,
}

/// What a query found.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Destinations (possibly none: NODATA), the answer's last part: the query is settled.
    ///
    /// Each destination's own family is that of its address, after IPv4-mapped IPv6 addresses
    /// are read as the IPv4 address they carry (HE-5.7); for an address query they are expected
    /// to be of the family asked for.
    Addresses(Vec<Candidate>),
    /// Part of a long answer to an address query (the driver looks source addresses up in
    /// bounded batches, HE-5.10): these destinations may be used at once, and more of the same
    /// answer follows, ending with [`Answer::Addresses`]. Given for any other query, it is taken
    /// as the whole answer.
    Part(Vec<Candidate>),
    /// The HTTPS answer (HE-10.2): the records that parsed (AliasMode and all), and every hint
    /// address in them as a destination on the connect's port, with its source. The machine
    /// plans the endpoints (HE-10.4, HE-10.6) and uses the hints of the endpoints it keeps
    /// (HE-10.5).
    Records {
        /// The records.
        records: Vec<ServiceRecord>,
        /// Their hint addresses.
        hints: Vec<Candidate>,
    },
    /// An expired answer to an address query, served while the name server is silent or
    /// failing (RFC 8767, HE-8.7): these destinations may be used at once, like a
    /// [`Answer::Part`], and the refresh's answer follows. When it ends with
    /// [`Answer::Addresses`], that answer replaces this one: destinations it does not list and
    /// that no attempt has used yet are withdrawn (attempts already running go on, as the HEv3
    /// draft has it for changed answers); when it ends with [`Answer::Failed`], these stand.
    /// Given for any other query, it is taken as the whole answer.
    Stale(Vec<Candidate>),
    /// The lookup failed (or, for HTTPS records, found nothing usable): the race goes on
    /// without it.
    Failed,
}

/// What the driver tells the machine.
#[derive(Debug, Clone)]
pub enum Input {
    /// The answer to query `id`. An answer to a query the race did not ask, or to one already
    /// settled, is ignored; so is an answer of the wrong shape (records for an address query).
    Answer {
        /// The query answered.
        id: QueryId,
        /// What it found.
        answer: Answer,
    },
    /// The attempt's connect failed.
    AttemptFailed(AttemptId),
    /// The attempt is usable: its TCP handshake completed and, when the connect runs a handshake
    /// of its own on top (TLS), that too (HE-9.1). The first one wins.
    Connected(AttemptId),
    /// The attempt's TCP handshake completed and the connect's own handshake (TLS) began on it:
    /// progress, not success (HE-9.1). The next attempt is held back while that handshake should
    /// be running (HE-9.3).
    TcpConnected(AttemptId),
}

/// Why the machine cancels an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// Another attempt won (HE-5.4).
    Lost,
    /// The per-attempt timeout expired; the machine moves on as if it had failed (HE-5.5).
    AttemptTimedOut,
    /// The timeout for the whole connect expired.
    ConnectTimedOut,
}

/// Why the whole connect failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Every queried family failed to resolve, at least one with an error.
    Resolve,
    /// Resolution succeeded but yielded no address.
    NoAddresses,
    /// Every address was tried and failed.
    AllAttemptsFailed,
    /// Every address was denied by the address policy; nothing was sent.
    Denied,
    /// The connect timeout expired.
    TimedOut,
}

/// What the machine tells the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this query (HE-3.1, HE-10.2, HE-10.7) and answer it with [`Input::Answer`] under
    /// its id. The HTTPS query comes first, then AAAA, then A, back to back.
    Query {
        /// Its id, for the answer.
        id: QueryId,
        /// What to look up.
        query: Query,
    },
    /// Start connecting to `addr` over `protocol`.
    Start {
        /// The new attempt's id.
        id: AttemptId,
        /// Where to connect (for QUIC, the UDP address).
        addr: SocketAddr,
        /// TCP, or QUIC when the race was given a [`QuicPlan`] (HE-12.1).
        protocol: Protocol,
    },
    /// Stop the attempt and close its socket.
    Cancel {
        /// The attempt to stop.
        id: AttemptId,
        /// Why.
        reason: CancelReason,
    },
    /// The race is over; the machine does nothing more.
    Done(Result<AttemptId, Failure>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LookupState {
    NotQueried,
    Pending,
    /// Part of a long answer has arrived (with at least one address), and more is coming: usable
    /// like [`LookupState::Positive`], unsettled like [`LookupState::Pending`].
    Partial,
    /// Answered with at least one address.
    Positive,
    /// Answered with no address (NODATA), or only with addresses already known.
    Empty,
    Failed,
}

impl LookupState {
    fn settled_without_addresses(self) -> bool {
        matches!(
            self,
            LookupState::NotQueried | LookupState::Empty | LookupState::Failed
        )
    }

    fn has_addresses(self) -> bool {
        matches!(self, LookupState::Positive | LookupState::Partial)
    }

    fn unsettled(self) -> bool {
        matches!(self, LookupState::Pending | LookupState::Partial)
    }
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptState {
    /// Connecting, or in its handshake.
    Running,
    /// Its connect or its handshake failed ([`Input::AttemptFailed`]).
    Failed,
    /// The address policy denied its address, right before the start: nothing was sent.
    Denied,
    /// Cancelled ([`Action::Cancel`]), and why.
    Cancelled(CancelReason),
    /// It won ([`Input::Connected`]).
    Won,
}

/// One attempt, as the race recorded it: [`Race::attempts`], the table behind eyeballs'
/// report. Ids index it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// Where it connected (or would have: denied); for QUIC, the UDP address.
    pub addr: SocketAddr,
    /// Over what (HE-12.1).
    pub protocol: Protocol,
    /// The second attempt of its destination, the first having used the other protocol
    /// (HE-12.2).
    second: bool,
    /// Its destination's port: [`AttemptRecord::destination`].
    dst_port: u16,
    /// The source address it was sorted with ([`Candidate::src`]): the history's key for its
    /// outcome (HE-4.2).
    pub src: Option<IpAddr>,
    /// When it started (or was denied).
    pub started: Instant,
    /// [`AttemptRecord::ended`], in nanoseconds after `started`; [`NONE`] while running. The
    /// times and indices of a record are kept compact, as a connect in flight carries a record
    /// per attempt (issue 23).
    ended: u64,
    /// [`AttemptRecord::tcp_connected`], in nanoseconds after `started`; [`NONE`]: not yet.
    tcp_connected: u64,
    /// What became of it.
    pub state: AttemptState,
    /// The HTTPS-record endpoint its address came from when it started (HE-10.6), an index
    /// into [`Service::started_from`]: [`Race::attempt_endpoint`]. `u32::MAX`: none.
    endpoint: u32,
    /// [`AttemptRecord::plain_position`]; `u32::MAX`: none.
    plain_position: u32,
    /// [`AttemptRecord::delay`], in nanoseconds, with `basis`; [`NONE`]: none set.
    delay: u64,
    basis: DelayBasis,
}

/// A compact record's "none".
const NONE: u64 = u64::MAX;

/// `d` in nanoseconds, if that fits in a u64 (584 years), in u64 arithmetic (cheaper than
/// [`Duration::as_nanos`]'s u128).
fn nanos(d: Duration) -> Option<u64> {
    (d.as_secs().checked_mul(1_000_000_000))
        .and_then(|n| n.checked_add(u64::from(d.subsec_nanos())))
}

/// `Some(n)` for a compact index.
fn index(n: u32) -> Option<u32> {
    (n != u32::MAX).then_some(n)
}

impl AttemptRecord {
    /// When it ended: failed, denied, cancelled or won; `None` while running.
    pub fn ended(&self) -> Option<Instant> {
        self.at(self.ended)
    }

    /// When its TCP handshake completed and the connect's own handshake began
    /// ([`Input::TcpConnected`], HE-9.1).
    pub fn tcp_connected(&self) -> Option<Instant> {
        self.at(self.tcp_connected)
    }

    /// Its position in the order a race without history would have used (HE-4.2), when the
    /// history knew something about this race's addresses.
    pub fn plain_position(&self) -> Option<u32> {
        index(self.plain_position)
    }

    /// The Connection Attempt Delay it set for the next attempt, and where it came from
    /// (HE-5.1, HE-5.3).
    pub fn delay(&self) -> Option<(Duration, DelayBasis)> {
        (self.delay != NONE).then(|| (Duration::from_nanos(self.delay), self.basis))
    }

    fn endpoint(&self) -> Option<u32> {
        index(self.endpoint)
    }

    fn at(&self, after: u64) -> Option<Instant> {
        (after != NONE).then(|| self.started + Duration::from_nanos(after))
    }

    /// `at` as nanoseconds after the start (never before it), saturating just below [`NONE`].
    fn after(&self, at: Instant) -> u64 {
        let nanos = nanos(at.saturating_duration_since(self.started));
        nanos.unwrap_or(NONE - 1).min(NONE - 1)
    }

    fn set_ended(&mut self, at: Instant) {
        self.ended = self.after(at);
    }

    /// The destination it was for, as received and sorted: [`AttemptRecord::addr`], except for
    /// a QUIC attempt sent to another UDP port ([`QuicPlan::origin_port`]).
    pub fn destination(&self) -> SocketAddr {
        SocketAddr::new(self.addr.ip(), self.dst_port)
    }

    /// Whether it was its destination's second attempt, over the other protocol (HE-12.2).
    pub fn is_second(&self) -> bool {
        self.second
    }
}

/// The race's pending actions, in order: the first two in an inline ring (a race is drained
/// after every call, and seldom has more waiting: nothing to allocate, issue 23), any more after
/// them.
#[derive(Debug, Default)]
struct Actions {
    ring: [Option<Action>; 2],
    /// Where the ring's oldest action is.
    head: u8,
    /// How many the ring holds; all of them come before any in `more`.
    len: u8,
    /// Boxed: a pointer in every race, the queue only when more than two wait.
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every race, the queue only when more than two wait"
    )]
    more: Option<Box<VecDeque<Action>>>,
}

impl Actions {
    fn push(&mut self, action: Action) {
        let more_empty = self.more.as_ref().is_none_or(|more| more.is_empty());
        if self.len < 2 && more_empty {
            self.ring[usize::from((self.head + self.len) % 2)] = Some(action);
            self.len += 1;
            return;
        }
        self.more.get_or_insert_default().push_back(action);
    }

    fn pop(&mut self) -> Option<Action> {
        if self.len == 0 {
            return self.more.as_mut()?.pop_front();
        }
        let action = self.ring[usize::from(self.head)].take();
        self.head = (self.head + 1) % 2;
        self.len -= 1;
        action
    }

    fn clear(&mut self) {
        *self = Actions::default();
    }
}

/// The HTTPS lookup of a race and what it brought (HE-10.x).
#[derive(Debug)]
struct Service {
    lookup: LookupState,
    /// The connect's port.
    port: u16,
    /// The ALPN protocols the connection can use over TCP.
    protocols: Vec<Vec<u8>>,
    shuffle: fn(&mut [ServiceEndpoint]),
    /// Whether records steering to one of the Fetch standard's bad ports are left out (HE-10.9).
    refuse_bad_ports: bool,
    /// The endpoints attempts started from, each once (a plan that changes later does not
    /// change them).
    started_from: Vec<Arc<ServiceEndpoint>>,
    /// The usable endpoints, by priority (empty until the answer, or without usable records).
    /// Shared with the attempts that started from them.
    plan: Vec<Arc<ServiceEndpoint>>,
    /// The address answers (AAAA, A) on the connect's port, deduplicated.
    answers: Vec<Candidate>,
    /// Hint addresses (on the connect's port), each with the target whose real answer of its
    /// family has not arrived ("" for the name itself).
    hints: Vec<(String, Candidate)>,
    /// Each destination's endpoint priority.
    priorities: FastMap<SocketAddr, u16>,
    /// The AliasMode chain followed so far (HE-10.7); the last is the name the answers are for.
    aliases: Vec<String>,
    /// The TargetNames being resolved for endpoints (HE-10.7), and their answers.
    targets: FastMap<String, Target>,
    /// Which families the race looks up (targets are looked up for the same).
    families: [bool; 2],
    /// SVCB-reliant ([`Race::service_reliant`]): only endpoints whose record this accepts, no
    /// fallback to the name's own addresses, no attempt before the HTTPS answer.
    reliant: Option<fn(&ServiceRecord) -> bool>,
}

/// A ServiceMode TargetName's own resolution (HE-10.7).
#[derive(Debug, Default)]
struct Target {
    lookups: [Option<LookupState>; 2],
    answers: Vec<Candidate>,
}

/// The queries a race asked, by id, and whether each is settled. Compact and inline for the
/// first few (a race without HTTPS records asks two and allocates nothing for them); the names
/// of HTTPS and TargetName queries are kept apart.
#[derive(Debug, Default)]
struct Asked {
    /// The ids of the name's AAAA and A queries, by family index, plus one (0: not asked).
    addresses: [u32; 2],
    inline: [(Kind, bool); 4],
    more: Vec<(Kind, bool)>,
    names: Vec<String>,
    len: u32,
}

/// What a query asked for, its name (if any) an index into [`Asked::names`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    Unused,
    Addresses(Family),
    Service(u32),
    Target(u32, Family),
    Nat64,
}

impl Asked {
    #[inline]
    fn push(&mut self, query: Query) {
        let mut name = |name: String| {
            self.names.push(name);
            (self.names.len() - 1) as u32
        };
        let kind = match query {
            Query::Addresses(family) => Kind::Addresses(family),
            Query::Service(service) => Kind::Service(name(service)),
            Query::Target {
                name: target,
                family,
            } => Kind::Target(name(target), family),
            Query::Nat64Prefix => Kind::Nat64,
        };
        self.push_kind(kind);
    }

    fn push_kind(&mut self, kind: Kind) {
        if let Kind::Addresses(family) = kind {
            self.addresses[family.index()] = self.len.saturating_add(1);
        }
        match self.inline.get_mut(self.len as usize) {
            Some(slot) => *slot = (kind, false),
            None => self.more.push((kind, false)),
        }
        self.len += 1;
    }

    fn entry(&mut self, i: usize) -> Option<&mut (Kind, bool)> {
        if i >= self.len as usize {
            return None;
        }
        let inline = self.inline.len();
        match i < inline {
            true => Some(&mut self.inline[i]),
            false => self.more.get_mut(i - inline),
        }
    }

    fn kinds(&self) -> impl DoubleEndedIterator<Item = Kind> + '_ {
        let inline = &self.inline[..(self.len as usize).min(self.inline.len())];
        inline.iter().chain(self.more.iter()).map(|(kind, _)| *kind)
    }

    /// Whether `kind` asked for `query`.
    fn is(&self, kind: Kind, query: &Query) -> bool {
        match (kind, query) {
            (Kind::Addresses(a), Query::Addresses(b)) => a == *b,
            (Kind::Service(i), Query::Service(name)) => self.names[i as usize] == *name,
            (Kind::Target(i, a), Query::Target { name, family }) => {
                a == *family && self.names[i as usize] == *name
            }
            (Kind::Nat64, Query::Nat64Prefix) => true,
            _ => false,
        }
    }

    /// The index of the latest query equal to `query`.
    #[inline]
    fn rposition(&self, query: &Query) -> Option<usize> {
        if let Query::Addresses(family) = query {
            let id = self.addresses[family.index()];
            return (id != 0).then(|| id as usize - 1);
        }
        let found = self.kinds().rev().position(|kind| self.is(kind, query))?;
        Some(self.len as usize - 1 - found)
    }
}

/// At most this many AliasMode records are followed in a row (RFC 9460 §2.4.2 asks for a limit).
const MAX_ALIASES: usize = 8;

/// How history placed and timed one attempt (HE-4.2, HE-5.3): [`Race::placement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Its position in the order of attempts (0 for the first).
    pub position: usize,
    /// Its position in the order that the same addresses, sorted and interleaved without
    /// history, would have had; `None` when history knew nothing about any of them.
    pub plain_position: Option<usize>,
    /// The delay it set before the next attempt, and why; `None` when the race ended or an
    /// attempt failed before it was worked out.
    pub delay: Option<(Duration, DelayBasis)>,
}

/// One Happy Eyeballs race: from the first DNS query to a winner or a failure.
#[derive(Debug)]
pub struct Race {
    config: Timing,
    now: Instant,
    connect_deadline: Option<Instant>,
    lookups: [LookupState; 2],
    /// When the first answer with addresses arrived while the other family's was still pending:
    /// the Resolution Delay runs from here (HE-3.4).
    first_positive_at: Option<Instant>,
    /// Every destination received so far, deduplicated (HE-5.6), in arrival order.
    received: Vec<Candidate>,
    /// Where destinations are in `received`, for long lists ([`Race::received_index`]); made on
    /// first need, checked on every use. Boxed: most races never have one.
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every race, the index only for long answers"
    )]
    received_at: Option<Box<ReceivedIndex>>,
    /// The addresses in `received`, for duplicate checks (HE-5.6).
    seen: Seen,
    /// Per family, how many addresses the name's answers (or the given addresses) gave the race,
    /// against [`MAX_ADDRESSES`] (HE-5.12).
    taken: [u8; 2],
    /// How many addresses past [`MAX_ADDRESSES`] the race ignored (HE-5.12).
    over_limit: u32,
    /// What the race knows of the network's NAT64 (HE-7.1 to HE-7.9); `None`: only the
    /// well-known prefix. Boxed: almost every network has an IPv4 route, and every race's
    /// state stays small.
    nat64: Option<Box<Nat64>>,
    /// The destinations that are NAT64 translations, and what each stands for (HE-7.8): they
    /// count as IPv4 when the families alternate, and are judged as that address (HE-7.6).
    /// Empty (no allocation) on almost every network.
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every race, the map only with NAT64"
    )]
    translated: Option<Box<FastMap<SocketAddr, Translation>>>,
    /// Per family, the destinations a stale answer gave that its refresh has not confirmed yet
    /// (HE-8.7); `None` until a stale answer comes (almost never: boxed, so every race's state
    /// stays small).
    stale: Option<Box<[Vec<SocketAddr>; 2]>>,
    /// The index in `received` of the destination with the lowest known RTT, if any has one
    /// (HE-5.3); without one, no attempt delay needs a look at the history.
    nearest: Option<u32>,
    /// The untried destinations, in the order they will be tried.
    untried: VecDeque<SocketAddr>,
    begun: bool,
    /// When the next attempt may start because of the Connection Attempt Delay (HE-5.1).
    next_attempt_at: Option<Instant>,
    /// When `next_attempt_at` comes from the stagger after a start: the instant that start, the
    /// last attempt's, was due, so the delay can be worked out again when answers bring RTTs
    /// (HE-5.3); the address and start instant are the last attempt record's. `None` when a
    /// failure or a denial made the next attempt due at once.
    staggered_from: Option<Instant>,
    /// When a running attempt's own handshake (TLS, after TCP) should be done: the next attempt
    /// waits for it, up to one more attempt delay (HE-9.3). Cleared when an attempt starts.
    hold: Option<Instant>,
    /// The address-selection policy table (rules 5 and 6); `None`: RFC 6724's default.
    policy: Option<Arc<PolicyTable>>,
    /// Which destinations may be connected to; `None`: all.
    address_policy: Option<AddressPolicy>,
    /// With HTTPS records on (HE-10.x): the service lookup and its plan.
    /// Boxed: most races have none, and every race's state stays small.
    service: Option<Box<Service>>,
    /// When history knows something about the received destinations: each one's position in
    /// the order a race without history would use (for [`Race::placement`]).
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every race, the map only with history"
    )]
    plain_positions: Option<Box<FastMap<SocketAddr, usize>>>,
    attempts: Vec<AttemptRecord>,
    running: u32,
    /// No attempt before this index is running: the oldest running attempt has the earliest
    /// per-attempt deadline, since all attempts share one timeout.
    oldest_running: u32,
    /// Every query asked, by id, and whether it is settled.
    queries: Asked,
    /// The attempt that won.
    winner: Option<u32>,
    /// Plans only ([`Race::plan_only`]): never starts an attempt.
    plan_only: bool,
    /// With QUIC (HE-12.x). Boxed: most races have none, and every race's state stays small.
    quic: Option<Box<QuicRace>>,
    actions: Actions,
    done: bool,
}

// `Race::taken` counts up to the limit in a byte.
const _: () = assert!(MAX_ADDRESSES <= u8::MAX as usize);

/// Takes `c`, an address of `family` from the name's answers or the given addresses, unless it
/// is a duplicate (HE-5.6) or the family has had [`MAX_ADDRESSES`] (HE-5.12: counted in
/// `over_limit`, and not looked at).
fn take(
    taken: &mut [u8; 2],
    over_limit: &mut u32,
    seen: &mut Seen,
    family: Family,
    c: &Candidate,
) -> bool {
    let taken = &mut taken[family.index()];
    if usize::from(*taken) >= MAX_ADDRESSES {
        *over_limit = over_limit.saturating_add(1);
        return false;
    }
    let new = seen.insert(c.dst);
    *taken += u8::from(new);
    new
}

/// Where in `received` the destination with the lowest known RTT is (HE-5.3), if any has one.
fn nearest_in(received: &[Candidate]) -> Option<u32> {
    received
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.hist.rtt().map(|(srtt, _)| (srtt, i)))
        .min()
        .map(|(_, i)| i as u32)
}

/// An index of a race's received destinations: where each was when it was indexed, and how
/// many were. A change to the list other than appending makes it stale; every use checks what it
/// finds, so a stale index costs a rebuild, never a wrong answer.
#[derive(Debug, Default)]
struct ReceivedIndex {
    at: FastMap<SocketAddr, u32>,
    indexed: usize,
}

impl Race {
    /// A race that started at `now`, its addresses coming from `addresses`. Drain
    /// [`Race::poll_action`] after creating it: it starts with the queries to send, and with no
    /// family to expect it is already done.
    pub fn new(config: RaceConfig, now: Instant, addresses: Addresses) -> Race {
        let (query, query_v6, query_v4) = match addresses {
            Addresses::Query { v6, v4 } => (true, v6, v4),
            Addresses::Given { v6, v4 } => (false, v6, v4),
        };
        let state = |q| {
            if q {
                LookupState::Pending
            } else {
                LookupState::NotQueried
            }
        };
        let mut race = Race {
            config: Timing::new(&config),
            now,
            // A limit too far away to be an instant (`Duration::MAX`) is no limit.
            connect_deadline: config.connect_timeout.and_then(|t| now.checked_add(t)),
            lookups: [state(query_v6), state(query_v4)],
            first_positive_at: None,
            received: Vec::new(),
            received_at: None,
            seen: Seen::default(),
            taken: [0; 2],
            over_limit: 0,
            nat64: None,
            translated: None,
            stale: None,
            nearest: None,
            untried: VecDeque::new(),
            begun: false,
            next_attempt_at: None,
            staggered_from: None,
            hold: None,
            policy: None,
            address_policy: None,
            service: None,
            plain_positions: None,
            attempts: Vec::new(),
            running: 0,
            oldest_running: 0,
            queries: Asked::default(),
            winner: None,
            plan_only: false,
            quic: None,
            actions: Actions::default(),
            done: false,
        };
        // HE-3.1: AAAA first, then A, back to back; neither waits for the other. Given
        // addresses are answers to queries nobody sends.
        for (family, asked) in [(Family::V6, query_v6), (Family::V4, query_v4)] {
            if asked {
                race.ask_addresses(family, query);
            }
        }
        // A race with nothing to look up is decided at once.
        race.step();
        race
    }

    /// Lets HTTPS records steer this connect to any port, the Fetch standard's bad ports
    /// ([`crate::svcb::BAD_PORTS`]: 22, 25, 6667, ...) included; by default a record with such a
    /// `port` is left out of the plan (HE-10.9). Call it after [`Race::with_service_query`].
    pub fn allow_bad_record_ports(mut self) -> Race {
        if let Some(service) = self.service.as_mut() {
            service.refuse_bad_ports = false;
        }
        self
    }

    /// Also looks the HTTPS records of `name` up (HE-10.2), first, and uses them (HE-10.3 to
    /// HE-10.6): `port` is the connect's port, `protocols` the ALPN protocols the connection can
    /// use over TCP, `shuffle` orders endpoints of equal priority. Call it right after
    /// [`Race::new`] with [`Addresses::Query`], before draining actions.
    pub fn with_service_query(
        mut self,
        name: &str,
        port: u16,
        protocols: Vec<Vec<u8>>,
        shuffle: fn(&mut [ServiceEndpoint]),
    ) -> Race {
        if self.done || !self.lookups.contains(&LookupState::Pending) {
            return self;
        }
        let families = [
            self.lookups[0] != LookupState::NotQueried,
            self.lookups[1] != LookupState::NotQueried,
        ];
        // The HTTPS query is asked first (id 0); the address queries follow it, asked again.
        self.queries = Asked::default();
        self.actions.clear();
        self.ask(Query::Service(service_name(name, port)), true);
        for family in [Family::V6, Family::V4] {
            if families[family.index()] {
                self.ask_addresses(family, true);
            }
        }
        if self.nat64_waiting() {
            self.ask(Query::Nat64Prefix, true);
        }
        self.service = Some(Box::new(Service {
            aliases: Vec::new(),
            targets: FastMap::default(),
            families,
            lookup: LookupState::Pending,
            port,
            protocols,
            shuffle,
            refuse_bad_ports: true,
            started_from: Vec::new(),
            plan: Vec::new(),
            answers: Vec::new(),
            hints: Vec::new(),
            priorities: FastMap::default(),
            reliant: None,
        }));
        self
    }

    /// Makes the race SVCB-reliant (RFC 9460 §3) for a handshake that needs something only
    /// HTTPS records carry (an ECH configuration, HE-11.5): it connects only to endpoints whose
    /// record `accept` accepts, never to the name's own addresses without a record, and starts
    /// no attempt before the HTTPS answer (and its TargetNames' answers) are in, whatever the
    /// Resolution Delay. With no such endpoint the race fails with [`Failure::NoAddresses`].
    /// Call it after [`Race::with_service_query`]; without one it does nothing.
    pub fn service_reliant(mut self, accept: fn(&ServiceRecord) -> bool) -> Race {
        if let Some(service) = self.service.as_mut() {
            service.reliant = Some(accept);
        }
        self
    }

    /// Races QUIC against TCP (HE-12.1 to HE-12.4): the destinations `plan` covers get a QUIC
    /// attempt next to their TCP one ([`Action::Start`] with [`Protocol::Quic`]); with HTTPS
    /// records, an endpoint whose ALPN set has only QUIC protocols becomes usable, for QUIC
    /// only. Call it right after [`Race::new`] (or [`Race::with_service_query`]), before the
    /// first answer. An empty plan (no protocols, no origin port) changes nothing.
    pub fn with_quic(mut self, plan: QuicPlan) -> Race {
        let used = !plan.protocols.is_empty() || plan.origin_port.is_some();
        self.quic = used.then(|| {
            Box::new(QuicRace {
                plan,
                follow: None,
                at_once: false,
            })
        });
        self
    }

    /// Whether the race was given a QUIC plan ([`Race::with_quic`]).
    pub fn races_quic(&self) -> bool {
        self.quic.is_some()
    }

    /// Registers a query under the next id; with `send`, asks the driver to send it.
    #[inline]
    fn ask(&mut self, query: Query, send: bool) {
        let id = QueryId(self.queries.len as usize);
        if send {
            self.act(Action::Query {
                id,
                query: query.clone(),
            });
        }
        self.queries.push(query);
    }

    /// Queues `action` for [`Race::poll_action`]. The queue is drained after every input and
    /// rarely holds more than two: room for 2, then 4, 8 (`VecDeque` would start at 4).
    fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// [`Race::ask`] for the name's addresses of `family`.
    fn ask_addresses(&mut self, family: Family, send: bool) {
        let id = QueryId(self.queries.len as usize);
        if send {
            let query = Query::Addresses(family);
            self.act(Action::Query { id, query });
        }
        self.queries.push_kind(Kind::Addresses(family));
    }

    /// With [`Addresses::Given`]: the id to feed `family`'s addresses under (no query is sent
    /// for them), if that family was announced.
    #[inline]
    pub fn given(&self, family: Family) -> Option<QueryId> {
        self.query_id(&Query::Addresses(family))
    }

    /// The id of the query that asked `query`, if the race asked it (the latest, if twice).
    #[inline]
    pub fn query_id(&self, query: &Query) -> Option<QueryId> {
        self.queries.rposition(query).map(QueryId)
    }

    /// The endpoint (priority, port, record) a destination came from, when HTTPS records were
    /// used (for the report).
    pub fn endpoint_of(&self, addr: SocketAddr) -> Option<&ServiceEndpoint> {
        self.endpoint_at(addr).map(|e| &**e)
    }

    /// The endpoint attempt `id` started from (HE-10.6), when HTTPS records were used; a plan
    /// that changed since does not change it.
    pub fn attempt_endpoint(&self, id: AttemptId) -> Option<&Arc<ServiceEndpoint>> {
        let i = self.attempts.get(id.0)?.endpoint()?;
        self.service.as_ref()?.started_from.get(i as usize)
    }

    /// The endpoint attempt `id` belongs to: the one it started from, else (it started before
    /// the HTTPS answer came) the one its address and port belong to now (HE-11.5), for its
    /// handshake and the report.
    pub fn attempt_endpoint_now(&self, id: AttemptId) -> Option<&Arc<ServiceEndpoint>> {
        let dst = self.attempts.get(id.0)?.destination();
        self.attempt_endpoint(id).or_else(|| self.endpoint_at(dst))
    }

    /// Keeps the endpoint `addr` comes from for an attempt starting now; its index.
    #[inline]
    fn note_endpoint(&mut self, addr: SocketAddr) -> Option<u32> {
        let endpoint = self.endpoint_at(addr)?.clone();
        let service = self.service.as_mut()?;
        let used = &mut service.started_from;
        if !used.last().is_some_and(|last| Arc::ptr_eq(last, &endpoint)) {
            used.push(endpoint);
        }
        Some((used.len() - 1) as u32)
    }

    #[inline]
    fn endpoint_at(&self, addr: SocketAddr) -> Option<&Arc<ServiceEndpoint>> {
        let service = self.service.as_ref()?;
        let priority = *service.priorities.get(&addr)?;
        service
            .plan
            .iter()
            .find(|e| e.priority == priority && e.port == addr.port())
    }

    /// Checks every address right before its attempt starts, after DNS (so rebinding cannot slip
    /// past it), a NAT64 translation judged by the IPv4 address it reaches (HE-7.6). A denied
    /// address is recorded as [`AttemptState::Denied`]; like a failure, the next address starts
    /// at once. Call it right after [`Race::new`]; by default every address is allowed.
    pub fn with_address_policy(mut self, policy: AddressPolicy) -> Race {
        self.address_policy = Some(policy).filter(|p| !p.is_allow_all());
        self
    }

    /// Makes the race one that only plans: it asks its queries and takes their answers as a
    /// connect would, but never starts an attempt. Once [`Race::is_settled`], [`Race::plan`] is
    /// the order a connect would try the addresses in (what `Connector::resolve` returns); with
    /// no address at all it ends with [`Action::Done`] and the failure, as a connect would.
    pub fn plan_only(mut self) -> Race {
        self.plan_only = true;
        self
    }

    /// Whether every query is settled: no answer is awaited any more.
    pub fn is_settled(&self) -> bool {
        !self.lookups.iter().any(|l| l.unsettled()) && !self.service_pending()
    }

    /// The addresses received so far, in the order a connect that has not begun would try them
    /// (sorted by RFC 6724 and history, HE-4.1, HE-4.2; families interleaved, HE-4.3; by
    /// endpoint priority first, HE-10.6), split into those the address policy allows and those
    /// it denies.
    pub fn plan(&self) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let first_family_count = self.config.first_family_count();
        let mut order = Vec::with_capacity(self.received.len());
        let lead = |best| (best, first_family_count);
        self.order_into(self.received.iter(), true, lead, |addr| order.push(addr));
        order.into_iter().partition(|addr| self.allows(*addr))
    }

    /// Whether the address policy allows `addr` (HE-7.6: a translation judged by its IPv4; its
    /// port by the port rules, HE-5.11).
    #[inline]
    fn allows(&self, addr: SocketAddr) -> bool {
        self.address_policy
            .as_ref()
            .is_none_or(|policy| policy.allows_destination(self.judged(addr), addr.port()))
    }

    /// Every attempt so far, by id: started, denied, failed, cancelled or won.
    pub fn attempts(&self) -> &[AttemptRecord] {
        &self.attempts
    }

    /// Every destination received so far, deduplicated (HE-5.6), in arrival order, with what
    /// the history knew of each when it came.
    pub fn received(&self) -> &[Candidate] {
        &self.received
    }

    /// The address the address policy judges for `addr`: the IPv4 address a NAT64 translation
    /// stands for (HE-7.6), else its own.
    fn judged(&self, addr: SocketAddr) -> IpAddr {
        self.translation(addr)
            .map_or(addr.ip(), |t| IpAddr::V4(t.ipv4))
    }

    /// Uses what `nat64` knows of the network's NAT64 (HE-7.1 to HE-7.9); with
    /// [`Nat64::discover`], asks [`Query::Nat64Prefix`]. Call it right after [`Race::new`] (or
    /// [`Race::with_service_query`]), before draining actions. Without it the race knows only
    /// the well-known prefix, to recognise DNS64 answers in it.
    pub fn with_nat64(mut self, nat64: Nat64) -> Race {
        let discovering = nat64.is_discovering();
        // Knowing only the well-known prefix is what no `Nat64` means: nothing to allocate.
        self.nat64 = (!nat64.is_well_known_only()).then(|| Box::new(nat64));
        if discovering && !self.done {
            self.ask(Query::Nat64Prefix, true);
        }
        self
    }

    /// The candidate to feed for destination `dst`, whose route's source address is `src`
    /// (`None`: no route): its NAT64 translation where one applies ([`Nat64::candidate`]).
    /// While the prefix is being discovered ([`Race::nat64_waiting`]), an IPv4 destination
    /// without a route stays as it is: hold it until the answer.
    pub fn candidate(&self, dst: SocketAddr, src: Option<IpAddr>) -> Candidate {
        match &self.nat64 {
            Some(nat64) => nat64.candidate(dst, src),
            None => Nat64::WELL_KNOWN_ONLY.candidate(dst, src),
        }
    }

    /// Whether the NAT64 prefix is still being discovered (HE-7.7): IPv4 destinations wait
    /// for it, and, with an address policy, every destination does (a DNS64 answer in the
    /// network's prefix must be judged by the IPv4 address it carries, HE-7.6).
    pub fn nat64_waiting(&self) -> bool {
        self.nat64.as_ref().is_some_and(|n| n.is_discovering())
    }

    /// The prefix IPv4 destinations are synthesized in, and how it was learned.
    pub fn nat64_prefix(&self) -> Option<(Nat64Prefix, PrefixSource)> {
        self.nat64.as_ref().and_then(|n| n.prefix())
    }

    /// The NAT64 translation destination `addr` is, if it is one.
    pub fn translation(&self, addr: SocketAddr) -> Option<Translation> {
        self.translated.as_ref()?.get(&addr).copied()
    }

    /// Keeps `c`'s translation: a destination the network's DNS64 gave is DNS64's, whichever
    /// answer came first (HE-7.6).
    fn note_translation(&mut self, c: &Candidate) {
        let Some(t) = c.origin else { return };
        // Boxed and made on the first translation: a race without NAT64 carries a pointer.
        let translated = self.translated.get_or_insert_with(Default::default);
        match translated.entry(c.dst) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(t);
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                if t.by == SynthesizedBy::Dns64 {
                    e.insert(t);
                }
            }
        }
    }

    /// Sorts with `table` (from `/etc/gai.conf` or the caller) instead of RFC 6724's default.
    /// Call it right after [`Race::new`], before any answer.
    pub fn with_policy(mut self, table: Option<Arc<PolicyTable>>) -> Race {
        self.policy = table;
        self
    }

    fn policy(&self) -> &PolicyTable {
        self.policy
            .as_deref()
            .unwrap_or_else(|| PolicyTable::default_ref())
    }

    /// Feeds one event that happened at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        self.advance_clock(now);
        if self.done {
            return;
        }
        let Input::Answer { id, answer } = input else {
            self.on_attempt(input);
            if !self.done {
                self.step();
            }
            return;
        };
        let Some((kind, settled)) = self.queries.entry(id.0).map(|e| (e.0, &mut e.1)) else {
            return; // Not asked.
        };
        if *settled {
            return;
        }
        let last = !matches!(
            (kind, &answer),
            (Kind::Addresses(_), Answer::Part(_) | Answer::Stale(_))
        );
        *settled = last;
        if kind == Kind::Unused {
            return;
        }
        let given = match &answer {
            Answer::Addresses(addrs) | Answer::Part(addrs) | Answer::Stale(addrs) => {
                addrs.as_slice()
            }
            Answer::Records { hints, .. } => hints.as_slice(),
            Answer::Failed => &[],
        };
        for c in given {
            self.note_translation(c);
        }
        // Only a TargetName's name is looked at again.
        let target = |queries: &Asked, i: u32| queries.names[i as usize].clone();
        match (kind, answer) {
            (Kind::Unused, _) => return,
            (Kind::Addresses(family), Answer::Addresses(addrs)) => {
                self.on_resolved(family, addrs, true)
            }
            (Kind::Addresses(family), Answer::Part(addrs)) => {
                self.on_resolved(family, addrs, false)
            }
            (Kind::Addresses(family), Answer::Stale(addrs)) => self.on_stale(family, addrs),
            (Kind::Addresses(family), Answer::Failed) => {
                // HE-8.7: a stale answer the refresh could not replace stands.
                if let Some(stale) = self.stale.as_deref_mut() {
                    stale[family.index()].clear();
                }
                match self.lookups[family.index()] {
                    LookupState::Pending => self.lookups[family.index()] = LookupState::Failed,
                    // The rest of a long answer can no longer come; what came stays usable.
                    LookupState::Partial => self.lookups[family.index()] = LookupState::Positive,
                    _ => {}
                }
            }
            (Kind::Service(_), Answer::Records { records, hints }) => {
                self.on_service(Some((records, hints)))
            }
            (Kind::Service(_), Answer::Failed) => self.on_service(None),
            (
                Kind::Target(i, family),
                Answer::Addresses(addrs) | Answer::Part(addrs) | Answer::Stale(addrs),
            ) => self.on_target(target(&self.queries, i), family, Some(addrs)),
            (Kind::Target(i, family), Answer::Failed) => {
                self.on_target(target(&self.queries, i), family, None)
            }
            // The wrong shape for the query: settled, as if it had failed.
            (Kind::Addresses(family), Answer::Records { .. }) => {
                if self.lookups[family.index()] == LookupState::Pending {
                    self.lookups[family.index()] = LookupState::Failed;
                }
            }
            (Kind::Service(_), Answer::Addresses(_) | Answer::Part(_) | Answer::Stale(_)) => {
                self.on_service(None)
            }
            (Kind::Target(i, family), Answer::Records { .. }) => {
                self.on_target(target(&self.queries, i), family, None)
            }
            (
                Kind::Nat64,
                Answer::Addresses(addrs) | Answer::Part(addrs) | Answer::Stale(addrs),
            ) => {
                let v6: Vec<Ipv6Addr> = addrs
                    .iter()
                    .filter_map(|c| match c.dst.ip() {
                        IpAddr::V6(v6) => Some(v6),
                        IpAddr::V4(_) => None,
                    })
                    .collect();
                if let Some(nat64) = &mut self.nat64 {
                    nat64.learn_from_answer(&v6);
                }
            }
            (Kind::Nat64, Answer::Failed | Answer::Records { .. }) => {
                if let Some(nat64) = &mut self.nat64 {
                    nat64.learn(&[]);
                }
            }
        }
        self.step();
    }

    /// An attempt's progress, success or failure.
    fn on_attempt(&mut self, input: Input) {
        match input {
            Input::Answer { .. } => {}
            Input::AttemptFailed(id) => {
                if self.attempt_state(id) == Some(AttemptState::Running) {
                    self.finish_attempt(id, AttemptState::Failed);
                    // HE-5.5: a failure starts the next address at once.
                    self.next_attempt_at = Some(self.now);
                    self.staggered_from = None;
                }
            }
            Input::TcpConnected(id) => {
                if self.attempt_state(id) == Some(AttemptState::Running)
                    && self.attempts[id.0].tcp_connected == NONE
                {
                    let record = &mut self.attempts[id.0];
                    record.tcp_connected = record.after(self.now);
                    let rtt = self
                        .now
                        .saturating_duration_since(self.attempts[id.0].started);
                    let done_by = self.now + handshake_estimate(rtt);
                    self.hold = Some(self.hold.map_or(done_by, |h| h.max(done_by)));
                    self.restagger();
                }
            }
            Input::Connected(id) => {
                if self.attempt_state(id) == Some(AttemptState::Running) {
                    self.finish_attempt(id, AttemptState::Won);
                    self.winner = Some(id.0 as u32);
                    // HE-5.4: the first handshake wins; cancel every other attempt.
                    self.cancel_running(CancelReason::Lost);
                    self.finish(Ok(id));
                }
            }
        }
    }

    /// Tells the machine that `now` has come; call it when [`Race::poll_timeout`] is reached.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance_clock(now);
        if !self.done {
            self.step();
        }
    }

    /// The next action to carry out, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop()
    }

    /// The instant at which [`Race::handle_timeout`] must be called next, if any.
    ///
    /// Never earlier than the latest `now` the machine has seen, once the pending actions are drained.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        let mut deadline = self.connect_deadline;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                deadline = Some(deadline.map_or(t, |d| d.min(t)));
            }
        };
        // The Resolution Delay matters only with an address to start with: hints that a real
        // answer then replaced by nothing (HE-10.5) leave none.
        if !self.begun
            && !self.plan_only
            && !self.received.is_empty()
            && (self.lookups.contains(&LookupState::Pending) || self.service_pending())
        {
            consider(
                self.first_positive_at
                    .map(|t| t + self.config.resolution_delay()),
            );
        }
        if self.begun && self.has_next() {
            consider(self.next_attempt_at);
        }
        if let Some(timeout) = self.config.attempt_timeout() {
            consider(
                self.oldest_running_attempt()
                    .and_then(|a| a.started.checked_add(timeout)),
            );
        }
        deadline
    }

    /// Whether the race can use more addresses of a long answer now: it has not begun, or fewer
    /// than a handful of untried addresses are left. A driver that looks source addresses up in
    /// batches (HE-5.10) feeds the next batch only then, so it never looks up what the race will
    /// not reach.
    pub fn wants_addresses(&self) -> bool {
        !self.done && (!self.begun || self.untried.len() < LOW_WATER)
    }

    /// How many addresses the race ignored because an answer (or the given addresses) had more
    /// than [`MAX_ADDRESSES`] of a family (HE-5.12). A driver that stops at the limit itself
    /// (eyeballs' own does, before any system call) adds what it left out.
    pub fn over_limit(&self) -> usize {
        self.over_limit as usize
    }

    /// Whether [`Action::Done`] has been produced: the race is over, and inputs change nothing.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The attempt that won, once one has ([`Input::Connected`] for a running attempt).
    pub fn winner(&self) -> Option<AttemptId> {
        self.winner.map(|i| AttemptId(i as usize))
    }

    /// Number of attempts started so far.
    #[cfg(test)]
    pub fn attempts_started(&self) -> usize {
        self.attempts.len()
    }

    /// How many more addresses of `family` the name's answers may give (HE-5.12).
    fn room(&self, family: Family) -> usize {
        MAX_ADDRESSES.saturating_sub(usize::from(self.taken[family.index()]))
    }

    /// [`take`] for the race's own lists.
    fn take(&mut self, family: Family, c: &Candidate) -> bool {
        take(
            &mut self.taken,
            &mut self.over_limit,
            &mut self.seen,
            family,
            c,
        )
    }

    fn advance_clock(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn attempt_state(&self, id: AttemptId) -> Option<AttemptState> {
        self.attempts.get(id.0).map(|a| a.state)
    }

    fn oldest_running_attempt(&self) -> Option<&AttemptRecord> {
        self.attempts[self.oldest_running as usize..]
            .iter()
            .find(|a| a.state == AttemptState::Running)
    }

    fn on_resolved(&mut self, family: Family, addrs: Vec<Candidate>, last: bool) {
        let slot = family.index();
        if !self.lookups[slot].unsettled() {
            return; // An answer for a family not asked for, or a second answer: ignore.
        }
        let mut addrs = addrs;
        for c in &mut addrs {
            // HE-5.7: an IPv4-mapped address is the IPv4 address it carries.
            c.dst.set_ip(c.dst.ip().to_canonical());
        }
        if let Some(stale) = self.stale.as_deref_mut() {
            // HE-8.7: what the refresh lists again is no longer stale; when it is complete, the
            // rest of the stale answer goes.
            let list = &mut stale[slot];
            list.retain(|d| !addrs.iter().any(|c| c.dst == *d));
            if last && !list.is_empty() {
                let gone = std::mem::take(list);
                self.withdraw(family, &gone, addrs.is_empty());
            }
        }
        let was = self.lookups[slot];
        let before = self.received.len();
        if self.service.is_some() {
            self.on_resolved_with_service(family, addrs, last, was);
            return;
        }
        if self.received.is_empty() && addrs.len() <= 1 && self.taken[slot] == 0 {
            // The common single-address answer: adopt the list instead of copying it.
            for c in &addrs {
                self.seen.insert(c.dst);
            }
            self.taken[slot] = addrs.len() as u8;
            self.received = addrs;
            addrs = Vec::new();
        }
        // A few destinations: room for exactly them (a second answer of one address makes the
        // list 2 long, not 4); many: the usual doubling, so parts of a long answer stay linear.
        // Never room for more than the family may still take (HE-5.12).
        let coming = addrs.len().min(self.room(family));
        match self.received.len() + coming {
            total if total <= 16 => self.received.reserve_exact(coming),
            _ => self.received.reserve(coming),
        }
        for c in addrs {
            // HE-5.6: no address twice; HE-5.12: no more than the family may take.
            if self.take(family, &c) {
                self.received.push(c);
            }
        }
        for (i, c) in self.received.iter().enumerate().skip(before) {
            let nearest = self
                .nearest
                .and_then(|n| self.received[n as usize].hist.rtt());
            if let Some((srtt, _)) = c.hist.rtt()
                && nearest.is_none_or(|(best, _)| srtt < best)
            {
                self.nearest = Some(i as u32);
            }
        }
        let positive = self.received.len() > before || was == LookupState::Partial;
        self.lookups[slot] = match (positive, last) {
            (true, true) => LookupState::Positive,
            (true, false) => LookupState::Partial,
            (false, true) => LookupState::Empty,
            (false, false) => LookupState::Pending,
        };
        if positive && self.lookups[family.other().index()] == LookupState::Pending {
            self.first_positive_at.get_or_insert(self.now);
        }
        if self.received.len() > before && self.begun {
            // HE-3.5 / HE-6.3: late answers are sorted into the untried part of the list.
            self.rebuild_untried();
            // HE-5.3: their RTTs may say how far the server is, and so how long to wait.
            if self.config.adaptive_delay().is_some() {
                self.restagger();
            }
        }
    }

    /// A stale answer (HE-8.7): used like part of an answer, and remembered so that the
    /// refresh can replace it.
    fn on_stale(&mut self, family: Family, addrs: Vec<Candidate>) {
        if !self.lookups[family.index()].unsettled() {
            return;
        }
        let dsts: Vec<SocketAddr> = addrs
            .iter()
            .map(|c| SocketAddr::new(c.dst.ip().to_canonical(), c.dst.port()))
            .collect();
        self.on_resolved(family, addrs, false);
        self.stale.get_or_insert_default()[family.index()].extend(dsts);
    }

    /// Withdraws `gone`, the stale destinations of `family` the refresh did not list (HE-8.7):
    /// those no attempt has used leave the race; attempts to the others go on. `empty`: the
    /// refresh found nothing of the family, so unless an attempt used a stale destination the
    /// family has none.
    fn withdraw(&mut self, family: Family, gone: &[SocketAddr], empty: bool) {
        let tried: FastSet<SocketAddr> = self.attempts.iter().map(|a| a.destination()).collect();
        let leaving = |dst: &SocketAddr| gone.contains(dst) && !tried.contains(dst);
        for dst in gone.iter().filter(|d| leaving(d)) {
            self.seen.remove(dst);
            // What leaves makes room for the refresh's own addresses (HE-5.12).
            self.taken[family.index()] = self.taken[family.index()].saturating_sub(1);
        }
        match self.service.as_mut() {
            Some(service) => service.answers.retain(|c| !leaving(&c.dst)),
            None => {
                self.received.retain(|c| !leaving(&c.dst));
                self.nearest = nearest_in(&self.received);
                if self.begun {
                    self.rebuild_untried();
                }
            }
        }
        let used = gone.iter().any(|d| tried.contains(d));
        if empty && !used {
            // The family's state becomes what an empty answer makes it (on_resolved, next).
            self.lookups[family.index()] = LookupState::Pending;
        }
    }

    /// [`Race::on_resolved`] with HTTPS records on: the answer joins the address answers, a
    /// complete answer replaces its family's hints (HE-10.5), and the destinations are derived
    /// again from the plan (HE-10.6).
    fn on_resolved_with_service(
        &mut self,
        family: Family,
        addrs: Vec<Candidate>,
        last: bool,
        was: LookupState,
    ) {
        let Some(service) = self.service.as_mut() else {
            return;
        };
        let before = service.answers.len();
        for c in addrs {
            // HE-5.6: no address twice; HE-5.12: no more than the family may take.
            if take(
                &mut self.taken,
                &mut self.over_limit,
                &mut self.seen,
                family,
                &c,
            ) {
                service.answers.push(c);
            }
        }
        let positive = service.answers.len() > before || was == LookupState::Partial;
        if last {
            service
                .hints
                .retain(|(t, h)| !t.is_empty() || h.family() != family);
        }
        let slot = family.index();
        self.lookups[slot] = match (positive, last) {
            (true, true) => LookupState::Positive,
            (true, false) => LookupState::Partial,
            (false, true) => LookupState::Empty,
            (false, false) => LookupState::Pending,
        };
        if positive {
            self.first_positive_at.get_or_insert(self.now);
        }
        self.derive_and_rebuild();
    }

    /// The HTTPS answer (HE-10.3 to HE-10.7), or its failure (`None`).
    fn on_service(&mut self, answer: Option<(Vec<ServiceRecord>, Vec<Candidate>)>) {
        let lookups = self.lookups;
        let Some(service) = self.service.as_mut() else {
            return;
        };
        if service.lookup != LookupState::Pending {
            return;
        }
        let Some((mut records, hints)) = answer else {
            service.lookup = LookupState::Failed;
            self.derive_and_rebuild();
            return;
        };
        // HE-10.7: an AliasMode record sends the lookup on to its target (ServiceMode records
        // beside it are ignored, RFC 9460 §2.4.2), a bounded number of times, never in a loop.
        if let Some(alias) = records.iter().find(|r| r.is_alias()) {
            let target = alias.target.clone();
            if target.is_empty() {
                // "." in AliasMode: the service is not available; the name's addresses remain.
                service.lookup = LookupState::Empty;
            } else if service.aliases.len() >= MAX_ALIASES || service.aliases.contains(&target) {
                service.lookup = LookupState::Failed;
            } else {
                service.aliases.push(target.clone());
                self.ask(Query::Service(target), true);
                return;
            }
            self.derive_and_rebuild();
            return;
        }
        // Records at an alias target: "." there means the alias target itself; with none, the
        // alias target's own addresses serve (RFC 9460 §2.4.2).
        if let Some(name) = service.aliases.last() {
            for r in &mut records {
                if r.target.is_empty() {
                    r.target = name.clone();
                }
            }
            if !records.iter().any(|r| !r.is_alias()) {
                records.push(ServiceRecord {
                    priority: 1,
                    target: name.clone(),
                    ..ServiceRecord::default()
                });
            }
        }
        // HE-12.1: with QUIC, an endpoint usable over QUIC only is usable too.
        let quic = self.quic.as_ref().map(|q| &q.plan.protocols);
        let usable: std::borrow::Cow<'_, [Vec<u8>]> = match quic.filter(|p| !p.is_empty()) {
            Some(quic) => [&service.protocols[..], &quic[..]].concat().into(),
            None => (&service.protocols[..]).into(),
        };
        let plan = super::svcb::plan(
            &records,
            &usable,
            service.port,
            service.refuse_bad_ports,
            service.shuffle,
        );
        service.plan = plan.into_iter().map(Arc::new).collect();
        service.lookup = if service.plan.is_empty() {
            LookupState::Empty
        } else {
            LookupState::Positive
        };
        // HE-10.7: each TargetName is resolved, for the families the race looks up; HE-10.8: at
        // most MAX_TARGETS of them (endpoints of the others have no addresses and are skipped).
        let mut queries = Vec::new();
        for endpoint in &service.plan {
            let name = &endpoint.record.target;
            if name.is_empty() || service.targets.contains_key(name) {
                continue;
            }
            if service.targets.len() >= super::svcb::MAX_TARGETS {
                continue;
            }
            let mut target = Target::default();
            for family in [Family::V6, Family::V4] {
                if service.families[family.index()] {
                    target.lookups[family.index()] = Some(LookupState::Pending);
                    queries.push(Query::Target {
                        name: name.clone(),
                        family,
                    });
                }
            }
            service.targets.insert(name.clone(), target);
        }
        // HE-10.5: hints stand in for families whose answer has not come (or failed), for the
        // name or the endpoint's target, and only those of endpoints the plan keeps. HE-10.8:
        // linear in the hints given: a hint no planned record lists is dropped by one set lookup,
        // and each (target, address) pair is kept once by another.
        let listed_ips: FastSet<std::net::IpAddr> = service
            .plan
            .iter()
            .flat_map(|e| e.record.hint_ips())
            .collect();
        let mut kept: FastSet<(String, SocketAddr)> = service
            .hints
            .iter()
            .map(|(t, c)| (t.clone(), c.dst))
            .collect();
        for mut h in hints {
            h.dst.set_ip(h.dst.ip().to_canonical());
            if !listed_ips.contains(&h.stands_for()) {
                continue;
            }
            let family = h.family();
            for endpoint in &service.plan {
                let r = &endpoint.record;
                let listed = r.lists_hint(&h);
                let state = if r.target.is_empty() {
                    Some(lookups[family.index()])
                } else {
                    service
                        .targets
                        .get(&r.target)
                        .and_then(|t| t.lookups[family.index()])
                };
                let waiting = matches!(
                    state,
                    Some(LookupState::Pending | LookupState::Partial | LookupState::Failed)
                );
                if listed && waiting && kept.insert((r.target.clone(), h.dst)) {
                    service.hints.push((r.target.clone(), h));
                }
            }
        }
        if !service.hints.is_empty() {
            self.first_positive_at.get_or_insert(self.now);
        }
        for query in queries {
            self.ask(query, true);
        }
        self.derive_and_rebuild();
    }

    /// A TargetName's answer for one family (HE-10.7), or its failure (`None`): it replaces the
    /// hints of that family for endpoints with that target (HE-10.5).
    fn on_target(&mut self, target: String, family: Family, addrs: Option<Vec<Candidate>>) {
        let now = self.now;
        let Some(service) = self.service.as_mut() else {
            return;
        };
        let Some(state) = service.targets.get_mut(&target) else {
            return;
        };
        if state.lookups[family.index()] != Some(LookupState::Pending) {
            return;
        }
        let Some(addrs) = addrs else {
            state.lookups[family.index()] = Some(LookupState::Failed);
            self.derive_and_rebuild();
            return;
        };
        let before = state.answers.len();
        // HE-5.12: at most MAX_ADDRESSES of the family from one TargetName's answer (so the
        // duplicate check below stays short).
        let mut room = MAX_ADDRESSES;
        for mut c in addrs {
            if room == 0 {
                self.over_limit = self.over_limit.saturating_add(1);
                continue;
            }
            c.dst.set_ip(c.dst.ip().to_canonical());
            if c.family() == family && !state.answers.iter().any(|o| o.dst == c.dst) {
                room -= 1;
                state.answers.push(c);
            }
        }
        let positive = state.answers.len() > before;
        state.lookups[family.index()] = Some(if positive {
            LookupState::Positive
        } else {
            LookupState::Empty
        });
        service
            .hints
            .retain(|(t, h)| *t != target || h.family() != family);
        if positive {
            self.first_positive_at.get_or_insert(now);
        }
        self.derive_and_rebuild();
    }

    /// Derives the destinations from the address answers, the hints and the plan (HE-10.6):
    /// each usable endpoint, by priority, takes the address answers and its own hints on its
    /// port, and the answers on the connect's port come last; without a plan, just those. Then, mid-race, sorts the new
    /// set into the untried list (HE-3.5).
    fn derive_and_rebuild(&mut self) {
        let Some(service) = self.service.as_mut() else {
            return;
        };
        let mut received = Vec::with_capacity(service.answers.len() + service.hints.len());
        let mut seen = FastSet::default();
        service.priorities.clear();
        let reliant = service.reliant;
        if service.plan.is_empty() {
            // HE-11.5: a reliant race has no destination without an endpoint.
            if reliant.is_none() {
                for c in service.answers.iter() {
                    if seen.insert(c.dst) {
                        received.push(*c);
                    }
                }
            }
        } else {
            for endpoint in &service.plan {
                let r = &endpoint.record;
                if reliant.is_some_and(|accept| !accept(r)) {
                    continue;
                }
                let own_hint = |(t, c): &&(String, Candidate)| *t == r.target && r.lists_hint(c);
                // HE-10.7: the name's own answers, or its target's.
                let answers = if r.target.is_empty() {
                    &service.answers
                } else {
                    match service.targets.get(&r.target) {
                        Some(target) => &target.answers,
                        None => continue,
                    }
                };
                for c in answers
                    .iter()
                    .chain(service.hints.iter().filter(own_hint).map(|(_, c)| c))
                {
                    let mut c = *c;
                    c.dst.set_port(endpoint.port);
                    if seen.insert(c.dst) {
                        service.priorities.insert(c.dst, endpoint.priority);
                        received.push(c);
                    }
                }
            }
            // Last, the name's own addresses on the connect's port, with no record (RFC 9460
            // §3: an SVCB-optional client falls back to them; a reliant one does not).
            if reliant.is_none() {
                for c in &service.answers {
                    if seen.insert(c.dst) {
                        received.push(*c);
                    }
                }
            }
        }
        self.nearest = nearest_in(&received);
        let changed = received != self.received;
        self.received = received;
        if changed && self.begun {
            self.rebuild_untried();
            if self.config.adaptive_delay().is_some() {
                self.restagger();
            }
        }
    }

    /// Whether a family has usable destinations: an answer with addresses, or (with HTTPS
    /// records) hints standing in for one (HE-10.5).
    fn family_positive(&self, family: Family) -> bool {
        // An SVCB-reliant race (HE-11.5) counts only what the records made destinations of.
        (self.lookups[family.index()].has_addresses() && !self.reliant())
            || (self.service.is_some() && self.received.iter().any(|c| c.family() == family))
    }

    /// Whether connecting waits for service information (HE-10.3): the HTTPS answer, or a
    /// TargetName's answer for the preferred family when no hint of that family stands in for it
    /// (HE-10.5, HE-10.7).
    fn service_awaited(&self) -> bool {
        let Some(s) = &self.service else {
            return false;
        };
        if s.lookup == LookupState::Pending {
            return true;
        }
        let preferred = if s.families[Family::V6.index()] {
            Family::V6
        } else {
            Family::V4
        };
        s.targets.iter().any(|(name, t)| {
            t.lookups[preferred.index()] == Some(LookupState::Pending)
                && !s
                    .hints
                    .iter()
                    .any(|(n, h)| n == name && h.family() == preferred)
        })
    }

    /// Whether the race is SVCB-reliant ([`Race::service_reliant`]).
    fn reliant(&self) -> bool {
        self.service.as_ref().is_some_and(|s| s.reliant.is_some())
    }

    /// Whether the HTTPS answer, or a TargetName's answer (HE-10.7), is still awaited. A driver
    /// whose handshake relies on the records (ECH, HE-11.5) holds a connected stream's handshake
    /// until this is `false`.
    pub fn service_pending(&self) -> bool {
        self.service.as_ref().is_some_and(|s| {
            s.lookup == LookupState::Pending
                || s.targets
                    .values()
                    .any(|t| t.lookups.contains(&Some(LookupState::Pending)))
        })
    }

    fn step(&mut self) {
        let now = self.now;
        if self.connect_deadline.is_some_and(|d| now >= d) {
            self.cancel_running(CancelReason::ConnectTimedOut);
            self.finish(Err(Failure::TimedOut));
            return;
        }
        if let Some(timeout) = self.config.attempt_timeout() {
            while let Some(idx) = self.next_running_index() {
                // An unrepresentable end (`Duration::MAX`) never comes.
                if self.attempts[idx]
                    .started
                    .checked_add(timeout)
                    .is_none_or(|end| end > now)
                {
                    break;
                }
                let reason = CancelReason::AttemptTimedOut;
                self.finish_attempt(AttemptId(idx), AttemptState::Cancelled(reason));
                self.act(Action::Cancel {
                    id: AttemptId(idx),
                    reason,
                });
                self.next_attempt_at = Some(now); // HE-5.5
                self.staggered_from = None;
            }
        }
        if !self.begun {
            if !self.ready_to_begin() {
                let [v6, v4] = self.lookups;
                // An SVCB-reliant race has nothing to try once the records gave no endpoint
                // and the address answers are in, whatever they held.
                let settled = |l: LookupState| match self.reliant() {
                    true => !l.unsettled(),
                    false => l.settled_without_addresses(),
                };
                if settled(v6) && settled(v4) && !self.service_pending() && self.received.is_empty()
                {
                    let failure = if self.lookups.contains(&LookupState::Failed) {
                        Failure::Resolve
                    } else {
                        Failure::NoAddresses
                    };
                    self.finish(Err(failure));
                }
                return;
            }
            if self.plan_only {
                return;
            }
            self.begun = true;
            self.rebuild_untried();
            self.next_attempt_at = Some(now);
        }
        while let Some(due) = self.next_attempt_at.filter(|t| *t <= now)
            && let Some(next) = self.next_attempt()
        {
            let Next {
                dst,
                addr,
                protocol,
                second,
            } = next;
            let id = AttemptId(self.attempts.len());
            let plain_position = self.plain_positions.as_ref().and_then(|p| {
                p.get(&dst)
                    .map(|p| u32::try_from(*p).unwrap_or(u32::MAX - 1))
            });
            let denied = !self.allows(addr);
            let len = self.attempts.len();
            if len == self.attempts.capacity() {
                match len {
                    // Most races make one or two attempts: room for 1, then 2, 4, 8 (`Vec`
                    // would start at 4), so an attempt in flight carries no unused records.
                    0..16 => self.attempts.reserve_exact(len.max(1)),
                    // Past the first few, room for every address left at once: a long race
                    // copies its table once more, not at every doubling.
                    _ => self.attempts.reserve_exact(self.untried.len() + 1),
                }
            }
            let endpoint = self.note_endpoint(dst);
            let src = self.received_index(dst).and_then(|i| self.received[i].src);
            self.attempts.push(AttemptRecord {
                addr,
                protocol,
                second,
                dst_port: dst.port(),
                src,
                started: now,
                // A denial ends as it starts.
                ended: if denied { 0 } else { NONE },
                tcp_connected: NONE,
                state: match denied {
                    true => AttemptState::Denied,
                    false => AttemptState::Running,
                },
                endpoint: endpoint.unwrap_or(u32::MAX),
                plain_position: plain_position.unwrap_or(u32::MAX),
                delay: NONE,
                basis: DelayBasis::Configured,
            });
            if denied {
                // Like a failure, a denial starts the next address at once (HE-5.5).
                self.next_attempt_at = Some(now);
                self.staggered_from = None;
                continue;
            }
            self.running += 1;
            self.act(Action::Start { id, addr, protocol });
            self.hold = None;
            if self.follows_at_once() {
                // HE-12.4: QUIC follows its destination's TCP attempt at the 10 ms floor
                // (HE-5.2); the stagger to the next destination runs from this start's due.
                self.next_attempt_at = Some(now + MIN_ATTEMPT_GAP);
                self.staggered_from = Some(due);
                break;
            }
            // HE-5.1 / HE-5.8: the next attempt is due one Connection Attempt Delay after this one
            // was due, so a late timer does not push the whole schedule back; never sooner than
            // the 10 ms floor after this start (HE-5.2). HE-5.3: with this address's RTT known,
            // the delay is about its first retransmission. The second attempt of a pair that
            // starts at once (HE-12.4) keeps its first's due.
            let paired = second && self.quic.as_ref().is_some_and(|q| q.at_once);
            if !paired || self.staggered_from.is_none() {
                self.staggered_from = Some(due);
            }
            self.restagger();
            break;
        }

        if self.running == 0
            && !self.has_next()
            && !self.lookups.iter().any(|l| l.unsettled())
            && !self.service_pending()
        {
            let all_denied = self
                .attempts
                .iter()
                .all(|a| a.state == AttemptState::Denied);
            let failure = if all_denied && !self.attempts.is_empty() {
                Failure::Denied
            } else {
                Failure::AllAttemptsFailed
            };
            self.finish(Err(failure));
        }
    }

    /// The next attempt to start: the second protocol of the last destination, else the next
    /// destination's first (HE-12.2).
    fn next_attempt(&mut self) -> Option<Next> {
        if let Some(follow) = self.quic.as_mut().and_then(|q| q.follow.take()) {
            return Some(follow);
        }
        let dst = self.untried.pop_front()?;
        if self.untried.is_empty() {
            // The last one: a race that now waits on its attempts keeps no room for more (issue
            // 23); late answers make the list again.
            self.untried = VecDeque::new();
        }
        let Some(quic) = &self.quic else {
            return Some(Next {
                dst,
                addr: dst,
                protocol: Protocol::Tcp,
                second: false,
            });
        };
        let (udp_port, tcp_too) = self.protocols_for(dst);
        let tcp = Next {
            dst,
            addr: dst,
            protocol: Protocol::Tcp,
            second: false,
        };
        // A QUIC attempt on another port than its destination's (an Alt-Svc alternative) may
        // meet the UDP address of another destination's QUIC attempt: none is sent twice.
        let used = |port: u16| {
            let addr = SocketAddr::new(dst.ip(), port);
            let quic = |a: &&AttemptRecord| a.protocol == Protocol::Quic;
            self.attempts.iter().filter(quic).any(|a| a.addr == addr)
        };
        let Some(port) = udp_port.filter(|port| !used(*port)) else {
            return Some(tcp);
        };
        let quic_next = Next {
            dst,
            addr: SocketAddr::new(dst.ip(), port),
            protocol: Protocol::Quic,
            second: false,
        };
        if !tcp_too {
            return Some(quic_next);
        }
        // HE-12.4: QUIC broken on this network (the history's verdict for the destination, or
        // the caller's word): TCP first, QUIC at the 10 ms floor after it.
        let broken = quic.plan.recently_broken
            || self
                .received_index(dst)
                .is_some_and(|i| self.received[i].hist.quic_broken());
        let (first, second) = match (self.quic.as_ref()?.plan.prefer_tcp, broken) {
            (false, false) => (quic_next, tcp),
            _ => (tcp, quic_next),
        };
        if let Some(q) = self.quic.as_mut() {
            q.follow = Some(Next {
                second: true,
                ..second
            });
            q.at_once = broken;
        }
        Some(first)
    }

    /// Over which protocols `dst` is tried (HE-12.1): the UDP port of its QUIC attempt, if it
    /// gets one, and whether it gets a TCP attempt.
    fn protocols_for(&self, dst: SocketAddr) -> (Option<u16>, bool) {
        let Some(quic) = &self.quic else {
            return (None, true);
        };
        let service = self.service.as_ref();
        match self.endpoint_at(dst).zip(service) {
            Some((endpoint, service)) => {
                let record = &endpoint.record;
                let quic = &quic.plan.protocols;
                let udp = (!quic.is_empty() && record.usable_with(quic)).then_some(dst.port());
                (udp, udp.is_none() || record.usable_with(&service.protocols))
            }
            None => (quic.plan.origin_port, true),
        }
    }

    /// Whether a second attempt of the destination just started waits for nothing but the
    /// 10 ms floor (HE-12.4).
    fn follows_at_once(&self) -> bool {
        self.quic
            .as_ref()
            .is_some_and(|q| q.at_once && q.follow.is_some())
    }

    /// Whether an attempt is left to start: an untried destination, or the second protocol of
    /// the last one.
    fn has_next(&self) -> bool {
        !self.untried.is_empty() || self.quic.as_ref().is_some_and(|q| q.follow.is_some())
    }

    /// Sets the next attempt's instant from the last start (HE-5.1, HE-5.8): one delay after it
    /// was due, never within 10 ms of it (HE-5.2).
    fn restagger(&mut self) {
        if self.follows_at_once() {
            return; // The pair's second attempt is due at the 10 ms floor (HE-12.4).
        }
        if let Some(due) = self.staggered_from
            && let Some(record) = self.attempts.last()
        {
            let (dst, started) = (record.destination(), record.started);
            let (delay, basis) = self.attempt_delay_after(dst);
            let at = (due + delay).max(started + MIN_ATTEMPT_GAP);
            // HE-9.3: a handshake under way holds the next attempt until it should be done, by
            // at most one more attempt delay.
            self.next_attempt_at = Some(match self.hold {
                Some(hold) => at.max(hold.min(at + delay)),
                None => at,
            });
            if let Some(last) = self.attempts.last_mut() {
                let nanos = nanos(delay).unwrap_or(NONE - 1);
                (last.delay, last.basis) = (nanos.min(NONE - 1), basis);
            }
        }
    }

    /// How history placed and timed attempt `id` (for the report).
    pub fn placement(&self, id: AttemptId) -> Option<Placement> {
        let a = self.attempts.get(id.0)?;
        Some(Placement {
            position: id.0,
            plain_position: a.plain_position().map(|p| p as usize),
            delay: a.delay(),
        })
    }

    /// Where `dst` is in `received`: searched directly in a short list; in a long one looked up
    /// in an index, extended with what was appended since and rebuilt when the list changed
    /// otherwise, so that starting every attempt of a long race stays linear in all.
    fn received_index(&mut self, dst: SocketAddr) -> Option<usize> {
        const LINEAR_MAX: usize = 16;
        if self.received.len() <= LINEAR_MAX {
            return self.received.iter().position(|c| c.dst == dst);
        }
        let received = &self.received;
        let index = self.received_at.get_or_insert_with(Box::default);
        let found = |index: &ReceivedIndex| {
            let i = *index.at.get(&dst)? as usize;
            (received.get(i)?.dst == dst).then_some(i)
        };
        if let Some(i) = found(index) {
            return Some(i);
        }
        if index.indexed <= received.len() {
            let tail = received.iter().enumerate().skip(index.indexed);
            index.at.extend(tail.map(|(i, c)| (c.dst, i as u32)));
            index.indexed = received.len();
            if let Some(i) = found(index) {
                return Some(i);
            }
        }
        index.at.clear();
        index
            .at
            .extend(received.iter().enumerate().map(|(i, c)| (c.dst, i as u32)));
        index.indexed = received.len();
        found(index)
    }

    /// The Connection Attempt Delay after starting `addr` (HE-5.1, HE-5.3): from its own (or its
    /// prefix's) RTT; without one, from the lowest RTT known among this race's addresses (how
    /// far the server is, whichever family told us); without any, the configured delay.
    fn attempt_delay_after(&mut self, addr: SocketAddr) -> (Duration, DelayBasis) {
        let configured = (self.config.attempt_delay(), DelayBasis::Configured);
        // Without any RTT in this race (no history, or a first connect) there is nothing to adapt.
        let (Some(bounds), Some(nearest)) = (self.config.adaptive_delay(), self.nearest) else {
            return configured;
        };
        let own = self.received_index(addr).map(|i| self.received[i].hist);
        if let Some(own) = own
            && let Some(delay) = own.attempt_delay(bounds)
        {
            let basis = if own.prefix_rtt() {
                DelayBasis::PrefixRtt
            } else {
                DelayBasis::OwnRtt
            };
            return (delay, basis);
        }
        let nearest = &self.received[nearest as usize];
        nearest
            .hist
            .attempt_delay(bounds)
            .map_or(configured, |delay| {
                (delay, DelayBasis::NearestRtt(nearest.dst))
            })
    }

    /// HE-3.3 / HE-3.4: whether the first attempt may start.
    ///
    /// An AAAA answer starts the race at once, unless every address in it failed recently
    /// (HE-4.2): then, like an A answer that arrives first, it waits up to the Resolution Delay
    /// for the other family, so history can put that family first.
    fn ready_to_begin(&self) -> bool {
        if self.reliant() && self.service_pending() {
            // HE-11.5: an SVCB-reliant race knows its destinations only from the records.
            return false;
        }
        let [v6, v4] = self.lookups;
        let pending = |l: LookupState| l == LookupState::Pending;
        let fresh_v6 = || {
            self.received
                .iter()
                .any(|c| c.dst.is_ipv6() && c.hist.failed().is_none())
        };
        let (v6_positive, v4_positive) = (
            self.family_positive(Family::V6),
            self.family_positive(Family::V4),
        );
        // HE-10.3: with HTTPS records on, the service answer is awaited too (up to the
        // Resolution Delay).
        if !self.service_awaited() {
            if v6_positive && (fresh_v6() || !pending(v4)) {
                return true;
            }
            if v4_positive && !pending(v6) {
                return true;
            }
        }
        (v6_positive || v4_positive)
            && self
                .first_positive_at
                .is_some_and(|t| self.now >= t + self.config.resolution_delay())
    }

    /// Sorts every received, untried destination (HE-4.1) and interleaves the families so that
    /// alternation continues from what was already tried (HE-4.3). Before any attempt this is
    /// [`Race::plan`]'s order.
    fn rebuild_untried(&mut self) {
        self.note_plain_order();
        if self.attempts.is_empty() && self.received.len() == 1 {
            // Nothing to sort or interleave.
            self.untried.clear();
            self.untried.reserve_exact(1);
            self.untried.push_back(self.received[0].dst);
            return;
        }
        let attempts = &self.attempts;
        let tried: Option<FastSet<SocketAddr>> =
            (attempts.len() > 16).then(|| attempts.iter().map(|a| a.destination()).collect());
        let untried = |c: &&Candidate| match &tried {
            Some(tried) => !tried.contains(&c.dst),
            None => !attempts.iter().any(|a| a.destination() == c.dst),
        };
        let translated = &self.translated;
        let first_family_count = self.config.first_family_count();
        let lead = |best| match attempts.last() {
            None => (best, first_family_count),
            Some(last) => {
                let family = |addr: &SocketAddr| match translated
                    .as_ref()
                    .is_some_and(|t| t.contains_key(addr))
                {
                    true => Family::V4,
                    false => Family::of(addr),
                };
                // A destination's second attempt (HE-12.2) is not another destination.
                let firsts = attempts.iter().filter(|a| !a.second);
                let fam = family(&last.destination());
                let same = firsts.clone().all(|a| family(&a.destination()) == fam);
                let tried = firsts.count();
                if same && tried < first_family_count {
                    (fam, first_family_count - tried)
                } else {
                    (fam.other(), 1)
                }
            }
        };
        let mut order = std::mem::take(&mut self.untried);
        order.clear();
        // Room for what is left to try, exactly (the room it had is reused).
        order.reserve_exact(self.received.len().saturating_sub(attempts.len()));
        let pending = self.received.iter().filter(untried);
        self.order_into(pending, true, lead, |addr| order.push_back(addr));
        self.untried = order;
    }

    /// Sorts and interleaves `candidates` (HE-4.1, HE-4.3) into `place`, endpoints of a better
    /// SvcPriority first when HTTPS records gave priorities (HE-10.6), else as one group with
    /// nothing collected. Without `history`, in the order a race without history would use.
    fn order_into<'a>(
        &self,
        candidates: impl Iterator<Item = &'a Candidate>,
        history: bool,
        lead: impl FnOnce(Family) -> (Family, usize),
        place: impl FnMut(SocketAddr),
    ) {
        let table = self.policy();
        let priorities = self.service.as_ref().map(|s| &s.priorities);
        let Some(priorities) = priorities.filter(|p| !p.is_empty()) else {
            return sort_and_interleave_into([candidates], table, history, lead, place);
        };
        let mut groups: std::collections::BTreeMap<u32, Vec<&Candidate>> = Default::default();
        for c in candidates {
            // Addresses without a record (the fallback on the connect's port) go last.
            let key = priorities.get(&c.dst).map_or(u32::MAX, |p| u32::from(*p));
            groups.entry(key).or_default().push(c);
        }
        sort_and_interleave_into(groups.into_values(), table, history, lead, place);
    }

    /// When history knows something about the received destinations, works out the order a race
    /// without history would try them in, so the report can say how history moved each attempt.
    fn note_plain_order(&mut self) {
        if self.received.iter().all(|c| c.hist.is_empty()) {
            self.plain_positions = None;
            return;
        }
        let first_family_count = self.config.first_family_count();
        let lead = |best| (best, first_family_count);
        // The map of the last rebuild is reused: its room is already there.
        let mut positions = self.plain_positions.take().unwrap_or_default();
        positions.clear();
        positions.reserve(self.received.len());
        let mut next = 0;
        let place = |addr| {
            positions.insert(addr, next);
            next += 1;
        };
        self.order_into(self.received.iter(), false, lead, place);
        self.plain_positions = Some(positions);
    }

    fn next_running_index(&mut self) -> Option<usize> {
        while (self.oldest_running as usize) < self.attempts.len() {
            let i = self.oldest_running as usize;
            if self.attempts[i].state == AttemptState::Running {
                return Some(i);
            }
            self.oldest_running += 1;
        }
        None
    }

    fn finish_attempt(&mut self, id: AttemptId, state: AttemptState) {
        let attempt = &mut self.attempts[id.0];
        attempt.state = state;
        attempt.set_ended(self.now);
        self.running -= 1;
    }

    fn cancel_running(&mut self, reason: CancelReason) {
        for idx in self.oldest_running as usize..self.attempts.len() {
            if self.attempts[idx].state == AttemptState::Running {
                self.finish_attempt(AttemptId(idx), AttemptState::Cancelled(reason));
                self.act(Action::Cancel {
                    id: AttemptId(idx),
                    reason,
                });
            }
        }
    }

    fn finish(&mut self, result: Result<AttemptId, Failure>) {
        self.untried.clear();
        if let Some(quic) = self.quic.as_mut() {
            quic.follow = None;
        }
        self.done = true;
        self.act(Action::Done(result));
    }
}

/// The name whose HTTPS records serve a connect to `name` on `port` (RFC 9460 §2.3, §9.1): the
/// name itself for the default port 443, else `_port._https.name`.
pub(crate) fn service_name(name: &str, port: u16) -> String {
    match port {
        443 => name.to_string(),
        _ => format!("_{port}._https.{name}"),
    }
}

/// How long the connect's own handshake (TLS) should take on a connection whose TCP handshake
/// took `rtt` (HE-9.3): two round trips (a full TLS 1.2 handshake; TLS 1.3 needs one) and 10 ms
/// for the server's work.
pub(crate) fn handshake_estimate(rtt: Duration) -> Duration {
    2 * rtt + MIN_ATTEMPT_GAP
}

#[cfg(test)]
mod tests;
