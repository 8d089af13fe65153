//! The tokio driver: runs the lookups and attempts the core asks for, feeds their results back,
//! and keeps one timer at the core's next deadline.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tracing::{debug, warn};

use crate::config::Config;
use crate::dial::Dial;
use crate::error::{ConnectFailure, Error, round_ms};
use crate::handshake::{Destination, Handshake, NoHandshake};
use crate::nat64::{Discovery, Found as Nat64Found, Nat64Plan, Nat64Shared};
use crate::proto::admit::{Admission, MAX_ADDRESSES, Seen};
use crate::proto::history::{History, PastFailure, Remembered};
use crate::proto::machine::{
    Action, Addresses, Answer, AttemptId, AttemptRecord, AttemptState, CancelReason, Failure,
    Input, Query, QueryId, Race, RaceConfig,
};
use crate::proto::sort::{Candidate, PolicyTable};
use crate::proto::svcb::{ServiceEndpoint, ServiceRecord};
use crate::proto::{Family, Protocol};
use crate::report::{
    Addrs, Answer as AnswerRecord, Attempt, AttemptOutcome, Report, ServiceAnswer,
};
use crate::resolve::{
    Answers, Lookup, RecordLookup, Resolve, ResolveError, ResolveErrorKind, Resolved,
};
use std::sync::Arc;

/// Where the addresses come from.
#[derive(Clone)]
pub(crate) enum Source<'a> {
    /// Look `name` up with the resolver, per family.
    Resolve {
        resolver: &'a dyn Resolve,
        name: Cow<'a, str>,
    },
    /// An IP literal.
    Literal(SocketAddr),
    /// Addresses given to `connect`.
    Addrs(&'a [SocketAddr]),
}

impl Source<'_> {
    /// The addresses already known: a literal's, or those given.
    fn addrs(&self) -> Option<&[SocketAddr]> {
        match self {
            Source::Resolve { .. } => None,
            Source::Literal(addr) => Some(std::slice::from_ref(addr)),
            Source::Addrs(addrs) => Some(addrs),
        }
    }
}

/// Whether the caller will read the [`Report`] of a successful connect. A failed connect's error
/// always carries its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    StreamOnly,
    Report,
    /// No attempt: the order a connect would try the addresses in (`Connector::resolve`).
    Plan,
}

/// How long lookups still pending when a race ends may go on, to warm the resolver's cache
/// (HE-3.7, RFC 8305 §3: "about 1 second").
const LATE_ANSWERS: Duration = Duration::from_secs(1);

/// At most this many source-address lookups (one system call each) in one poll (HE-5.10).
const SOURCE_BATCH: usize = 64;

/// The connector's memory of earlier connects, shared by its clones (HE-4.2).
pub(crate) type SharedHistory = Mutex<History>;

/// What a connector shares with each of its connects besides its configuration.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shared<'a> {
    /// Its memory of earlier connects; `None` when turned off.
    pub(crate) history: Option<&'a SharedHistory>,
    /// Its address-selection policy table; `None`: RFC 6724's default.
    pub(crate) policy: Option<&'a Arc<PolicyTable>>,
    /// What NAT64 discovery learned, per network (HE-7.7); `None`: no discovery.
    pub(crate) nat64: Option<&'a Arc<Nat64Shared>>,
    /// The resolver to discover the NAT64 prefix with, also for connects to literals.
    pub(crate) resolver: Option<&'a dyn Resolve>,
}

/// What one connect asks of the driver.
pub(crate) struct Request<'a> {
    /// Whether the caller reads the report of a successful connect.
    pub(crate) want: Want,
    /// The connector's configuration.
    pub(crate) config: &'a Config,
    /// The settings this connect may set for itself.
    pub(crate) settings: Settings<'a>,
    /// Where the addresses come from.
    pub(crate) source: Source<'a>,
    /// How the report and messages name the target.
    pub(crate) label: &'a str,
    /// The host asked for (a name or literal), handed to the handshake; `None` for addresses.
    pub(crate) host: Option<&'a str>,
    pub(crate) port: u16,
    pub(crate) shared: Shared<'a>,
}

/// The settings a connect may set for itself, over the connector's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    /// Look up and use HTTPS records (HE-10.1).
    pub(crate) https_records: bool,
    /// The ALPN protocols endpoints are chosen for (HE-10.4).
    pub(crate) alpn: &'a [Vec<u8>],
    /// A limit on the whole connect.
    pub(crate) connect_timeout: Option<Duration>,
}

impl<'a> Settings<'a> {
    /// The configuration's own.
    pub(crate) fn of(config: &'a Config) -> Settings<'a> {
        Settings {
            https_records: config.https_records,
            alpn: &config.alpn,
            connect_timeout: config.connect_timeout,
        }
    }
}

/// Runs one race to its end. `handshake` runs on every attempt whose TCP handshake completes;
/// the first attempt through it wins (HE-9.1).
///
/// What can be decided at once is decided here, before the future is made: the future keeps only
/// the driver (or, for a single attempt, a box with that path's state), not the request.
pub(crate) fn run<'a, D: Dial, H: Handshake<D::Stream>>(
    request: Request<'a>,
    dial: &'a D,
    handshake: &'a H,
) -> impl Future<Output = Result<(H::Output, Report), Error>> + Send + 'a {
    let start = Instant::now();
    let (config, shared) = (request.config, request.shared);
    // HE-7.1: on a network without an IPv4 route, IPv4 destinations go through NAT64. An IPv6
    // literal needs no such check.
    let needs_nat64 = !matches!(request.source.addrs(), Some(&[addr]) if addr.is_ipv6());
    let nat64 = match needs_nat64 {
        true => plan_nat64(config, dial, shared, shared.resolver, request.port),
        false => Nat64Plan::default(),
    };
    let nat64_active = nat64.active();
    let run = if let Some(&[addr]) = request.source.addrs()
        && config.allows_single_attempt()
        && request.settings.connect_timeout.is_none()
        && config.admission().admit_addr(addr) == Ok(addr)
        && !nat64_active
        // HE-12.1: a QUIC attempt next to the TCP one is a race.
        && handshake.quic_plan().is_none()
    {
        Run::Single(Box::pin(single_attempt(
            request, dial, handshake, addr, start,
        )))
    } else {
        let driver = match (&request.source, request.source.addrs()) {
            (Source::Resolve { resolver, name }, _) => Driver::for_name(
                &request, dial, handshake, start,
            )
            .resolving(*resolver, name.clone(), request.settings),
            (_, addrs) => {
                let addrs = addrs.unwrap_or_default();
                Driver::for_addrs(&request, dial, handshake, start, addrs, nat64_active)
            }
        };
        Run::Race(driver.with_nat64(nat64))
    };
    let mut run = run;
    async move {
        // By reference: the driver stays where it is (moved out, the future would hold it twice).
        match &mut run {
            Run::Single(single) => single.as_mut().await,
            // In place: the connect's future is on the heap already (one allocation holds both).
            Run::Race(driver) => poll_fn(|cx| driver.poll(cx)).await,
        }
    }
}

/// How [`run`] goes on.
#[allow(
    clippy::large_enum_variant,
    reason = "the race is the common case and lives inside the connect's one allocation"
)]
enum Run<'a, D: Dial, H: Handshake<D::Stream>, S> {
    /// One attempt and nothing to race: that path's own future, boxed (rare; the race should
    /// not carry its state).
    Single(Pin<Box<S>>),
    Race(Driver<'a, D, H>),
}

/// Pushes onto a vector that usually holds two items (a connect's lookups and answers, one per
/// family; its attempts): room for 2, then 4, 8, ... (`Vec` would start at 4), so a connect in
/// flight carries little unused room.
fn push_small<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(2));
    }
    v.push(item);
}

/// A list that usually holds two items (a connect's address answers, one per family): those
/// inline, in the state a connect in flight carries anyway, any more in a vector (issue 23).
struct Inline2<T> {
    inline: [Option<T>; 2],
    more: Vec<T>,
}

impl<T> Default for Inline2<T> {
    fn default() -> Self {
        Inline2 {
            inline: [None, None],
            more: Vec::new(),
        }
    }
}

impl<T> Inline2<T> {
    fn push(&mut self, item: T) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(item),
            None => push_small(&mut self.more, item),
        }
    }

    /// The items in the order they were pushed.
    fn into_vec(self) -> Vec<T> {
        let [a, b] = self.inline;
        let mut all = Vec::with_capacity(2 + self.more.len());
        all.extend(a.into_iter().chain(b));
        all.extend(self.more);
        all
    }
}

/// The usable destinations in one family's answer, on `port`: records of the other family are
/// ignored, the rest admitted (HE-5.7, HE-5.9) and deduplicated against `seen` (HE-5.6), at
/// most `limit` of them, the first ones (HE-5.12). Also how many of `ips` were looked at: those
/// after the `limit`-th destination are not.
pub(crate) fn admit_answer(
    admission: &Admission,
    family: Family,
    ips: &[IpAddr],
    port: u16,
    seen: &mut Seen,
    limit: usize,
) -> (VecDeque<SocketAddr>, usize) {
    let mut queue = Vec::with_capacity(ips.len().min(limit));
    let mut looked = 0;
    for ip in ips {
        if queue.len() == limit {
            break;
        }
        looked += 1;
        if Family::of_ip(ip) != family {
            continue;
        }
        if let Ok(ip) = admission.admit(*ip) {
            let addr = SocketAddr::new(ip, port);
            if seen.insert(addr) {
                queue.push(addr);
            }
        }
    }
    (queue.into(), looked)
}

/// Says once per connect and source that addresses past the limit were ignored (HE-5.12).
fn warn_over_limit(what: impl std::fmt::Display, over: usize) {
    if over > 0 {
        warn!(
            over,
            limit = MAX_ADDRESSES,
            "{what}: ignoring the addresses past the limit"
        );
    }
}

type RaceResult<S> = Result<(S, Report), Error>;

/// A destination of a plan, with the HTTPS-record endpoint it came from.
pub(crate) type Planned = (SocketAddr, Option<ServiceEndpoint>);

/// An HTTPS answer: each record's RDATA, or the lookup's error.
type RecordAnswer = Result<Vec<Vec<u8>>, ResolveError>;

/// One usable address and no timers: the race has exactly one possible course (start the
/// attempt now; its outcome is the result), so it runs without the machine. This keeps a connect
/// to an IP literal as cheap as a plain `TcpStream::connect`.
async fn single_attempt<D: Dial, H: Handshake<D::Stream>>(
    request: Request<'_>,
    dial: &D,
    handshake: &H,
    addr: SocketAddr,
    start: Instant,
) -> RaceResult<H::Output> {
    let (want, port) = (request.want, request.port);
    debug!(%addr, attempt = 0, family = %Family::of(&addr), "attempt started");
    let mut tcp_connected = None;
    let mut handshake_failed = false;
    let to = Destination {
        addr,
        host: request.host,
        endpoint: None,
    };
    let result = match dial.dial(addr).await {
        Ok(stream) if H::TCP_ONLY => handshake.handshake(stream, &to).await,
        Ok(stream) => {
            tcp_connected = Some(start.elapsed());
            debug!(%addr, attempt = 0, "tcp connected, handshake started");
            let result = handshake
                .handshake(stream, &to)
                .await
                .map_err(handshake_error);
            handshake_failed = result.is_err();
            result
        }
        Err(e) => Err(e),
    };
    let ended = start.elapsed();
    let result = match result {
        Ok(stream) if want == Want::StreamOnly => {
            // Nobody will read the report: skip building it.
            debug!(%addr, attempt = 0, ms = ended.as_millis() as u64, "connected");
            return Ok((stream, Report::new("", port)));
        }
        result => result,
    };
    let outcome = match &result {
        Ok(_) => AttemptOutcome::Connected,
        Err(e) => failed_outcome(e, handshake_failed),
    };
    let mut report = lone_report(request.label, port, addr, tcp_connected, ended, outcome);
    match result {
        Ok(stream) => {
            debug!(%addr, attempt = 0, ms = ended.as_millis() as u64, "connected");
            report.attempts[0].note = handshake.note(&stream);
            Ok((stream, report))
        }
        Err(e) => Err(lone_failure(report, addr, e)),
    }
}

/// The report of a connect that made one attempt, to `addr`, with this outcome.
pub(crate) fn lone_report(
    label: &str,
    port: u16,
    addr: SocketAddr,
    tcp_connected: Option<Duration>,
    ended: Duration,
    outcome: AttemptOutcome,
) -> Report {
    let mut report = Report::new(label, port);
    if outcome == AttemptOutcome::Connected {
        report.winner = Some(0);
    }
    report.attempts.push(Attempt {
        history: None,
        placement: None,
        endpoint: None,
        tcp_connected,
        translation: None,
        addr,
        protocol: Protocol::Tcp,
        started: Duration::ZERO,
        ended: Some(ended),
        outcome: Some(outcome),
        note: None,
    });
    report.elapsed = ended;
    report
}

/// The error of a connect whose one attempt, to `addr`, failed with `e`.
pub(crate) fn lone_failure(report: Report, addr: SocketAddr, e: io::Error) -> Error {
    debug!(%addr, attempt = 0, error = %e, "attempt failed");
    failed(Failure::AllAttemptsFailed, report, vec![(addr, e)], None)
}

fn failed(
    kind: Failure,
    report: Report,
    attempts: Vec<(SocketAddr, io::Error)>,
    timeout: Option<Duration>,
) -> Error {
    let f = ConnectFailure {
        kind,
        report,
        attempts,
        timeout,
    };
    debug!(error = %f, "connect failed");
    Error::failed(f)
}

/// A running attempt: its TCP connect, then the handshake on top (HE-9.1). Dropping it closes
/// its socket.
enum Running<C, S, F> {
    Tcp(C),
    /// Connected, its handshake waiting for the HTTPS answer (HE-11.5); `None` once taken.
    Held(Option<S>),
    Handshake(Pin<Box<F>>),
    /// A QUIC attempt (HE-12.3): the handshake's own connect, with no TCP under it.
    Quic(Pin<Box<F>>),
    /// A QUIC attempt that could not start (no UDP socket, HE-12.7): it fails when polled;
    /// `None` once reported.
    Unstarted(Option<io::Error>),
}

/// A running attempt of a driver with dialer `D` and handshake `H`.
type AttemptOf<D, H> = Running<
    <D as Dial>::Attempt,
    <D as Dial>::Stream,
    <H as Handshake<<D as Dial>::Stream>>::Future,
>;

/// How one pass of the driver ended.
enum Pass {
    /// The race is over, at this instant.
    Done(Result<AttemptId, Failure>, Instant),
    Progressed,
    /// Nothing moved: every lookup, attempt and the timer wait to be woken.
    Idle,
}

/// How a running attempt moved in one poll.
enum Polled<T> {
    Pending,
    /// TCP connected and the handshake began, or waits (stored in place of the connect).
    TcpConnected,
    /// A held handshake began (HE-11.5); the race heard of the TCP connect already.
    HandshakeStarted,
    Won(T),
    /// Failed (in the handshake when the race saw TCP connect).
    Failed(io::Error),
}

/// A query in flight, with what the driver needs to read its answer.
enum InFlight {
    /// The name's AAAA or A records (HE-3.1): an answer, or a stale one and its refresh
    /// (HE-8.7).
    Addresses(Family, Answers),
    /// A TargetName's AAAA or A records (HE-10.7).
    Target(String, Family, Lookup),
    /// HTTPS records (HE-10.2).
    Records(RecordLookup),
    /// The NAT64 discovery (HE-7.7).
    Nat64(Discovery),
}

/// What a query in flight found, with what the driver needs to read it.
enum Found {
    Addresses(Family, Result<Resolved, ResolveError>),
    Target(String, Family, Result<Vec<IpAddr>, ResolveError>),
    Records(RecordAnswer),
    Nat64(Nat64Found),
}

impl InFlight {
    /// Its answer once it has come (the query is then done with: its name moves out).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Found> {
        match self {
            InFlight::Addresses(family, answers) => answers.as_mut().poll_next(cx).map(|r| {
                let ended = || {
                    let why = "the lookup ended without an answer";
                    ResolveError::new(ResolveErrorKind::Other, why)
                };
                Found::Addresses(*family, r.unwrap_or_else(|| Err(ended())))
            }),
            InFlight::Target(name, family, lookup) => {
                (lookup.as_mut().poll(cx)).map(|r| Found::Target(std::mem::take(name), *family, r))
            }
            InFlight::Records(lookup) => lookup.as_mut().poll(cx).map(Found::Records),
            InFlight::Nat64(discovery) => Pin::new(discovery).poll(cx).map(Found::Nat64),
        }
    }

    /// Its lookup, to finish in the background (HE-3.7).
    fn into_future(mut self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(poll_fn(move |cx| self.poll(cx).map(drop)))
    }
}

/// An address answer not yet handed to the race: admitted and deduplicated, its source addresses
/// still to look up (HE-5.10).
struct Feed {
    /// The query it answers.
    id: QueryId,
    queue: VecDeque<SocketAddr>,
    /// A stale answer (HE-8.7): handed over as [`Answer::Stale`], its refresh to follow.
    stale: bool,
}

/// What only resolving needs: the lookups in flight and the answers not yet handed to the race.
/// Boxed, and let go once every lookup is answered and every answer handed over
/// ([`Driver::settle_resolving`]), so that a connect stalled on its attempts keeps none of it
/// (issue 23). Made again if the race asks another query later; its duplicate checks then start
/// afresh, the race's own (HE-5.6) still dropping any address it has.
#[derive(Default)]
struct Resolving {
    /// Every query in flight, by the race's id.
    lookups: Vec<(QueryId, InFlight)>,
    /// The NAT64 discovery that answers the race's [`Query::Nat64Prefix`], until it is asked.
    discovery: Option<Discovery>,
    /// Address answers still to hand to the race, per family (HE-5.10). `Some` until the
    /// family's last part is fed.
    feeds: [Option<Feed>; 2],
    /// Per family, the destinations of a stale answer handed over, until its refresh comes
    /// (HE-8.7).
    stale_fed: Option<[Vec<SocketAddr>; 2]>,
    /// The addresses fed or queued, for duplicate checks before any system call (HE-5.6).
    seen: Seen,
    /// An HTTPS answer and when it came, held while [`Driver::gated`].
    held_service: Option<(QueryId, RecordAnswer, Instant)>,
}

impl Resolving {
    /// Whether nothing is left in it: no lookup, no answer to hand over or hold.
    fn is_idle(&self) -> bool {
        self.lookups.is_empty()
            && self.discovery.is_none()
            && self.feeds.iter().all(Option::is_none)
            && self.held_service.is_none()
            && self
                .stale_fed
                .as_ref()
                .is_none_or(|fed| fed.iter().all(Vec::is_empty))
    }
}

/// What turns destinations into the race's candidates, and records attempts' outcomes.
struct Sources<'a> {
    /// Whether to look source addresses up (not for a single address: nothing to sort).
    with_sources: bool,
    history: Option<&'a SharedHistory>,
}

impl Sources<'_> {
    /// Destinations as the race takes them: with the source address the kernel would pick (RFC
    /// 6724 needs it; one system call each unless `with_sources` is off), NAT64-translated as
    /// the race says where IPv4 has no route (HE-7.1, HE-7.6) and, with history, what earlier
    /// connects on that network learned (HE-4.2). The race keeps them (for the report, and the
    /// source each attempt's outcome is recorded under).
    fn candidates<D: Dial>(
        &mut self,
        dial: &D,
        race: &Race,
        dsts: impl IntoIterator<Item = SocketAddr>,
        now: Instant,
    ) -> Vec<Candidate> {
        let dsts = dsts.into_iter();
        // Exactly as many as come (the race may keep this list as its own).
        let mut out: Vec<Candidate> = Vec::with_capacity(dsts.size_hint().0);
        out.extend(dsts.map(|dst| {
            let src = match self.with_sources {
                true => dial.source(dst),
                false => Some(dst.ip()),
            };
            race.candidate(dst, src)
        }));
        if let Some(history) = self.history {
            let mut h = lock(history);
            for c in &mut out {
                c.hist = h.verdict(c.src, c.dst, now.into_std());
            }
        }
        out
    }

    /// Records in the history what attempt `record` showed, if there is a history (HE-4.2).
    fn remember(
        &self,
        record: &AttemptRecord,
        now: Instant,
        write: impl FnOnce(&mut History, Option<IpAddr>, SocketAddr, std::time::Instant),
    ) {
        let Some(history) = self.history else { return };
        // The destination as the race sorted it (a QUIC attempt's UDP port may differ).
        let dst = record.destination();
        write(&mut lock(history), record.src, dst, now.into_std());
    }
}

struct Driver<'a, D: Dial, H: Handshake<D::Stream>> {
    config: &'a Config,
    /// Whether the caller reads the report of a successful connect.
    want: Want,
    /// The limit on the whole connect, for the error's message.
    connect_timeout: Option<Duration>,
    /// The host asked for, handed to the handshake.
    host: Option<&'a str>,
    port: u16,
    start: Instant,
    dial: &'a D,
    handshake: &'a H,
    race: Race,
    /// The resolver and name to query when the race asks ([`Action::Query`]).
    resolver: Option<(&'a dyn Resolve, Cow<'a, str>)>,
    /// The lookups and the answers not yet handed over; `None` when there are none.
    resolving: Option<Box<Resolving>>,
    sources: Sources<'a>,
    /// Running attempts; dropping one closes its socket.
    attempts: Vec<(AttemptId, AttemptOf<D, H>)>,
    /// The errors of the attempts that failed, in the order they failed (nothing to allocate
    /// when the first attempt wins).
    errors: Vec<(AttemptId, io::Error)>,
    /// The winner's output, held from its success until [`Action::Done`].
    winner: Option<H::Output>,
    /// Created on the first deadline: many connects (one address, no timeouts) never need it.
    timer: Option<Pin<Box<Sleep>>>,
    /// How the report names the target.
    label: &'a str,
    /// The address answers as they came, for the report (built when the race ends).
    answers: Inline2<AnswerRecord>,
    /// The HTTPS answer, for the report; boxed: most connects look none up.
    service: Option<Box<ServiceAnswer>>,
    /// Addresses left out past the limit (HE-5.12) before the race saw them.
    over_limit: u32,
}

impl<'a, D: Dial, H: Handshake<D::Stream>> Driver<'a, D, H> {
    fn new(
        request: &Request<'a>,
        dial: &'a D,
        handshake: &'a H,
        race: Race,
        start: Instant,
    ) -> Self {
        // HE-12.1: a handshake that speaks QUIC races it against TCP.
        let race = match handshake.quic_plan() {
            Some(plan) => race.with_quic(plan.clone()),
            None => race,
        };
        Driver {
            config: request.config,
            want: request.want,
            connect_timeout: request.settings.connect_timeout,
            host: request.host,
            port: request.port,
            start,
            dial,
            handshake,
            race,
            resolver: None,
            resolving: None,
            sources: Sources {
                with_sources: true,
                history: request.shared.history,
            },
            attempts: Vec::new(),
            errors: Vec::new(),
            winner: None,
            timer: None,
            label: request.label,
            answers: Inline2::default(),
            service: None,
            over_limit: 0,
        }
    }

    /// The race for this connect: its timing, sorting policy, address policy, and whether it
    /// only plans ([`Want::Plan`]).
    fn new_race(request: &Request<'_>, start: Instant, addresses: Addresses) -> Race {
        let config = RaceConfig {
            connect_timeout: request.settings.connect_timeout,
            ..request.config.race()
        };
        let race = Race::new(config, start.into_std(), addresses)
            .with_policy(request.shared.policy.cloned())
            .with_address_policy(request.config.address_policy.clone());
        match request.want {
            Want::Plan => race.plan_only(),
            Want::StreamOnly | Want::Report => race,
        }
    }

    /// A driver for a name: the race asks for the queries (HE-3.1), [`Driver::resolving`]
    /// says with what.
    fn for_name(request: &Request<'a>, dial: &'a D, handshake: &'a H, start: Instant) -> Self {
        let admission = request.config.admission();
        let addresses = Addresses::Query {
            v6: admission.v6,
            v4: admission.v4,
        };
        let race = Self::new_race(request, start, addresses);
        Driver::new(request, dial, handshake, race, start)
    }

    /// Queries go to `resolver` for `name`, the HTTPS query too when `settings` ask for it
    /// (HE-10.2).
    fn resolving(
        mut self,
        resolver: &'a dyn Resolve,
        name: Cow<'a, str>,
        settings: Settings<'_>,
    ) -> Self {
        // HE-11.5: a handshake that needs a record makes the connect SVCB-reliant.
        let required = self.handshake.required_record();
        if settings.https_records || required.is_some() {
            let alpn = settings.alpn.to_vec();
            self.race = self
                .race
                .with_service_query(&name, self.port, alpn, shuffle_endpoints);
            if self.config.allow_bad_record_ports {
                self.race = self.race.allow_bad_record_ports();
            }
            if let Some(accept) = required {
                self.race = self.race.service_reliant(accept);
            }
        }
        self.resolver = Some((resolver, name));
        self
    }

    /// A driver for addresses known already (literals, or given): admitted and deduplicated
    /// before any system call (HE-5.6, HE-5.9), fed as the answers of queries nobody sends.
    fn for_addrs(
        request: &Request<'a>,
        dial: &'a D,
        handshake: &'a H,
        start: Instant,
        addrs: &[SocketAddr],
        nat64_active: bool,
    ) -> Self {
        let admission = request.config.admission();
        let mut seen = Seen::default();
        let mut per_family: [VecDeque<SocketAddr>; 2] = Default::default();
        let mut over = 0usize;
        for addr in addrs.iter().filter_map(|a| admission.admit_addr(*a).ok()) {
            let queue = &mut per_family[Family::of(&addr).index()];
            if queue.len() == MAX_ADDRESSES {
                // HE-5.12: counted, and not looked at further.
                over += 1;
            } else if seen.insert(addr) {
                queue.push_back(addr);
            }
        }
        warn_over_limit("given addresses", over);
        let [v6, v4] = per_family;
        let addresses = Addresses::Given {
            v6: !v6.is_empty(),
            v4: !v4.is_empty(),
        };
        let race = Self::new_race(request, start, addresses);
        let mut d = Driver::new(request, dial, handshake, race, start);
        // One address needs no sorting, so no source lookup either, unless its history is kept:
        // history is keyed by the real source (the network).
        d.sources.with_sources =
            v6.len() + v4.len() > 1 || d.sources.history.is_some() || nat64_active;
        d.over_limit = over as u32;
        let mut resolving = Resolving {
            seen,
            ..Resolving::default()
        };
        for (family, queue) in [(Family::V6, v6), (Family::V4, v4)] {
            resolving.feeds[family.index()] = d.race.given(family).map(|id| Feed {
                id,
                queue,
                stale: false,
            });
        }
        d.resolving = Some(Box::new(resolving));
        d
    }

    fn since_start(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// One pass after another until the race is over.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<RaceResult<H::Output>> {
        let mut budget = SOURCE_BATCH;
        loop {
            match self.pass(cx, &mut budget) {
                Pass::Done(result, now) => return Poll::Ready(self.finish(result, now)),
                Pass::Progressed => {}
                Pass::Idle => return self.idle(cx),
            }
        }
    }

    /// With [`Want::Plan`]: passes until every answer is in, then the order a connect would
    /// try the addresses in.
    fn poll_plan(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<Planned>, Error>> {
        let mut budget = SOURCE_BATCH;
        loop {
            match self.pass(cx, &mut budget) {
                Pass::Done(Err(failure), now) => {
                    return Poll::Ready(Err(self.plan_failed(failure, now)));
                }
                _ if self.race.is_settled() => return Poll::Ready(self.planned()),
                Pass::Progressed | Pass::Done(Ok(_), _) => {}
                Pass::Idle => return self.idle(cx),
            }
        }
    }

    /// One pass at one `now`: the named steps move the lookups, the attempts and the timer and
    /// tell the race; its actions are carried out in one place.
    fn pass(&mut self, cx: &mut Context<'_>, budget: &mut usize) -> Pass {
        let now = Instant::now();
        if let Some(result) = self.apply_actions(now) {
            return Pass::Done(result, now);
        }
        let progressed = self.drive_feeds(now, budget)
            | self.drive_lookups(cx, now)
            | self.drive_attempts(cx, now)
            | self.drive_timer(cx, now);
        if let Some(result) = self.apply_actions(now) {
            return Pass::Done(result, now);
        }
        self.settle_resolving();
        match progressed {
            true => Pass::Progressed,
            false => Pass::Idle,
        }
    }

    /// The resolving state, made if there is none.
    fn resolving_mut(&mut self) -> &mut Resolving {
        self.resolving.get_or_insert_with(Box::default)
    }

    /// Lets the resolving state go when nothing is left in it (issue 23).
    fn settle_resolving(&mut self) {
        if self.resolving.as_deref().is_some_and(Resolving::is_idle) {
            self.resolving = None;
        }
    }

    /// Nothing moved: wait to be woken.
    fn idle<T>(&self, cx: &mut Context<'_>) -> Poll<T> {
        if self.feed_waiting() {
            // Out of lookup budget with addresses the race wants: continue in the next poll,
            // letting other tasks run in between (HE-5.10).
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// A plan with every answer in: the allowed addresses in order, or `Error::Denied` when the
    /// address policy denied every one.
    fn planned(&mut self) -> Result<Vec<Planned>, Error> {
        let report = self.take_report(Instant::now());
        let (allowed, denied) = self.race.plan();
        if allowed.is_empty() {
            return Err(denied_error(report, denied));
        }
        let endpoint = |addr| self.race.endpoint_of(addr).cloned();
        Ok(allowed.into_iter().map(|a| (a, endpoint(a))).collect())
    }

    /// A plan that found no address: the lookups failed or were empty.
    fn plan_failed(&mut self, failure: Failure, now: Instant) -> Error {
        let report = self.take_report(now);
        failed(failure, report, Vec::new(), None)
    }

    /// The race is over at `now`: the lookups still pending go on in the background, and the
    /// report is taken with its total time.
    fn take_report(&mut self, now: Instant) -> Report {
        self.finish_lookups_in_background();
        let mut report = Report::new(self.label, self.port);
        report.answers = std::mem::take(&mut self.answers).into_vec();
        report.service = self.service.take().map(|service| *service);
        report.elapsed = self.since_start(now);
        report.nat64 = self.race.nat64_prefix();
        report.over_limit = self.over_limit as usize + self.race.over_limit();
        report
    }

    /// Tells the race what NAT64 this connect uses (HE-7.1 to HE-7.9), before its first
    /// poll (after [`Driver::resolving`]); the discovery, if one runs, answers the race's query.
    fn with_nat64(mut self, plan: Nat64Plan) -> Self {
        self.race = self.race.with_nat64(plan.nat64);
        if let Some(discovery) = plan.discovery {
            self.resolving_mut().discovery = Some(discovery);
        }
        self
    }

    /// HE-7.7: the NAT64 prefix is known (or known not to exist): IPv4 destinations go, and
    /// an HTTPS answer held for it is read.
    fn on_nat64(&mut self, id: QueryId, found: Nat64Found, now: Instant) {
        let answer = found.into_answer();
        self.race
            .handle(Input::Answer { id, answer }, now.into_std());
        debug!(prefix = ?self.race.nat64_prefix().map(|(p, _)| p), "NAT64 discovery ended");
        let held = self.resolving.as_mut().and_then(|r| r.held_service.take());
        if let Some((id, result, arrived)) = held {
            self.on_records(id, result, arrived, now);
        }
    }

    /// Hands queued answer addresses to the race with their source addresses (RFC 6724 needs
    /// them), spending at most `budget` lookups (HE-5.10). A long answer goes in parts, each only
    /// when the race can use more, so what the race never reaches is never looked up.
    fn drive_feeds(&mut self, now: Instant, budget: &mut usize) -> bool {
        let mut progressed = false;
        for family in [Family::V6, Family::V4] {
            if (family == Family::V4 && self.race.nat64_waiting()) || self.gated() {
                // HE-7.7: IPv4 destinations wait for the NAT64 prefix; with an address policy
                // every destination does (HE-7.6: a DNS64 answer in the network's prefix must
                // be judged by the IPv4 address it carries).
                continue;
            }
            let Some(resolving) = self.resolving.as_deref_mut() else {
                break;
            };
            let slot = &mut resolving.feeds[family.index()];
            let Some(feed) = slot else {
                continue;
            };
            if !feed.queue.is_empty() && (!self.race.wants_addresses() || *budget == 0) {
                continue;
            }
            let n = feed.queue.len().min(*budget);
            *budget -= n;
            let addrs =
                (self.sources).candidates(self.dial, &self.race, feed.queue.drain(..n), now);
            let (id, last) = (feed.id, feed.queue.is_empty());
            let answer = match (feed.stale, last) {
                (true, _) => Answer::Stale(addrs),
                (false, true) => Answer::Addresses(addrs),
                (false, false) => Answer::Part(addrs),
            };
            if last {
                *slot = None;
            }
            self.race
                .handle(Input::Answer { id, answer }, now.into_std());
            progressed = true;
        }
        progressed
    }

    /// Whether every destination waits for the NAT64 prefix: while discovery runs, with an
    /// address policy to apply (HE-7.6). Only on a network without an IPv4 route, only until
    /// the first discovery there ends.
    fn gated(&self) -> bool {
        self.race.nat64_waiting() && !self.config.address_policy.is_allow_all()
    }

    /// Whether queued addresses wait for a lookup budget the race wants them for now.
    fn feed_waiting(&self) -> bool {
        let Some(resolving) = self.resolving.as_deref() else {
            return false;
        };
        let v6 = resolving.feeds[Family::V6.index()].is_some() && !self.gated();
        let v4 = resolving.feeds[Family::V4.index()].is_some() && !self.race.nat64_waiting();
        (v6 || v4) && self.race.wants_addresses()
    }

    /// Reads every answer that has come, in the order the race asked.
    fn drive_lookups(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progressed = false;
        let mut i = 0;
        while let Some(resolving) = self.resolving.as_deref_mut() {
            let Some((_, lookup)) = resolving.lookups.get_mut(i) else {
                break;
            };
            let Poll::Ready(found) = lookup.poll(cx) else {
                i += 1;
                continue;
            };
            let (id, lookup) = resolving.lookups.remove(i);
            progressed = true;
            if let Found::Addresses(_, Ok(answer)) = &found
                && answer.is_stale()
            {
                // HE-8.7: the refresh is still to come.
                resolving.lookups.insert(i, (id, lookup));
                i += 1;
            }
            match found {
                Found::Addresses(family, result) => self.on_addresses(id, family, result, now),
                Found::Target(name, family, result) => {
                    self.on_target(id, &name, family, result, now)
                }
                Found::Records(result) if self.gated() => {
                    // HE-7.6: its addresses wait for the prefix, to be judged rightly.
                    self.resolving_mut().held_service = Some((id, result, now));
                }
                Found::Records(result) => self.on_records(id, result, now, now),
                Found::Nat64(found) => self.on_nat64(id, found, now),
            }
        }
        if let Some(resolving) = self.resolving.as_deref_mut()
            && resolving.lookups.is_empty()
            && resolving.lookups.capacity() > 0
        {
            // Every answer is in: a connect that stalls on its attempts keeps no room for them.
            resolving.lookups = Vec::new();
        }
        progressed
    }

    /// The name's answer for one family: queued for [`Driver::drive_feeds`], or a failure
    /// for the race. A stale answer (HE-8.7) is queued as such when the configuration serves
    /// stale answers (and ignored otherwise); its refresh replaces it, and a failed refresh
    /// leaves it standing.
    fn on_addresses(
        &mut self,
        id: QueryId,
        family: Family,
        result: Result<Resolved, ResolveError>,
        now: Instant,
    ) {
        let at = self.since_start(now);
        let slot = family.index();
        let stale = result.as_ref().ok().and_then(Resolved::expired);
        // HE-5.12: how many of the answer's addresses were looked at, and how many were not.
        let (mut looked, mut over_limit) = (0, 0);
        match &result {
            Ok(_) if stale.is_some() && !self.config.serve_stale => {
                debug!(%family, "stale dns answer not used (serve_stale off)");
                return;
            }
            Ok(answer) => {
                let ips = answer.ips();
                debug!(%family, count = ips.len(), ms = at.as_millis() as u64, stale = stale.is_some(), "dns answer");
                // The refresh may list the stale answer's addresses again: they are its own.
                let admission = self.config.admission();
                let port = self.port;
                let resolving = self.resolving_mut();
                let fed = (resolving.stale_fed)
                    .as_mut()
                    .map(|fed| std::mem::take(&mut fed[slot]));
                for addr in fed.unwrap_or_default() {
                    resolving.seen.remove(&addr);
                }
                let (queue, seen) = admit_answer(
                    &admission,
                    family,
                    ips,
                    port,
                    &mut resolving.seen,
                    MAX_ADDRESSES,
                );
                looked = seen;
                over_limit = ips.len() - looked;
                let rr = if family == Family::V6 { "AAAA" } else { "A" };
                warn_over_limit(format_args!("{rr} answer"), over_limit);
                if stale.is_some() {
                    let fed = resolving.stale_fed.get_or_insert_with(Default::default);
                    fed[slot] = queue.iter().copied().collect();
                }
                let stale = stale.is_some();
                resolving.feeds[slot] = Some(Feed { id, queue, stale });
            }
            Err(e) => {
                debug!(%family, error = %e, "dns lookup failed");
                match &mut self.resolving_mut().feeds[slot] {
                    // A stale answer still being handed over becomes the answer.
                    Some(feed) if feed.stale => feed.stale = false,
                    _ => {
                        let answer = Answer::Failed;
                        self.race
                            .handle(Input::Answer { id, answer }, now.into_std());
                    }
                }
            }
        }
        // Exactly the addresses looked at, without the resolver's spare room: the report keeps
        // them for as long as the connect runs.
        let result = result
            .map(|answer| {
                let mut ips = answer.into_ips();
                ips.truncate(looked);
                Addrs::from(ips)
            })
            .map_err(Box::new);
        self.over_limit = self.over_limit.saturating_add(over_limit as u32);
        let answer = AnswerRecord::new(family, at, result, stale, over_limit as u32);
        self.answers.push(answer);
    }

    /// Carries out the race's actions; returns its result once the race is over.
    fn apply_actions(&mut self, now: Instant) -> Option<Result<AttemptId, Failure>> {
        while let Some(action) = self.race.poll_action() {
            match action {
                Action::Query { id, query } => self.send_query(id, query, now),
                Action::Start { id, addr, protocol } => self.start_attempt(id, addr, protocol),
                Action::Cancel { id, reason } => self.cancel_attempt(id, reason, now),
                Action::Done(result) => return Some(result),
            }
        }
        None
    }

    /// Sends query `id` to the resolver; the NAT64 discovery is the connector's, shared with
    /// concurrent connects (HE-7.7). Without a resolver (given addresses) the race asks for no
    /// query of the name.
    fn send_query(&mut self, id: QueryId, query: Query, now: Instant) {
        let lookup = match (query, &self.resolver) {
            (Query::Nat64Prefix, _) => {
                match self.resolving.as_mut().and_then(|r| r.discovery.take()) {
                    Some(discovery) => InFlight::Nat64(discovery),
                    None => return,
                }
            }
            (_, None) => return,
            (Query::Addresses(family), Some((resolver, name))) => {
                InFlight::Addresses(family, resolver.lookup_answers(name, family))
            }
            (Query::Target { name, family }, Some((resolver, _))) => {
                let lookup = resolver.lookup(&name, family);
                InFlight::Target(name, family, lookup)
            }
            (Query::Service(name), Some((resolver, _))) => {
                debug!(%name, "https query");
                match resolver.lookup_https(&name) {
                    Some(lookup) => InFlight::Records(lookup),
                    None => {
                        // This resolver does not do HTTPS records: go on without.
                        let answer = Answer::Failed;
                        self.race
                            .handle(Input::Answer { id, answer }, now.into_std());
                        return;
                    }
                }
            }
        };
        push_small(&mut self.resolving_mut().lookups, (id, lookup));
    }

    /// Starts attempt `id` to `addr` (the race checked the address policy already).
    fn start_attempt(&mut self, id: AttemptId, addr: SocketAddr, protocol: Protocol) {
        let family = Family::of(&addr);
        debug!(%addr, attempt = id.0, %family, %protocol, "attempt started");
        let running = match protocol {
            Protocol::Tcp => Running::Tcp(self.dial.dial(addr)),
            // HE-12.3: the handshake's own QUIC connect; HE-12.7: without UDP it fails at once.
            Protocol::Quic => match self.handshake.quic(&self.destination(id)) {
                Ok(quic) => Running::Quic(Box::pin(quic)),
                Err(e) => {
                    warn!(%addr, error = %e, "QUIC unavailable, going on over TCP");
                    Running::Unstarted(Some(e))
                }
            },
        };
        push_small(&mut self.attempts, (id, running));
    }

    /// Stops attempt `id`: dropping its future closes its socket now (HE-5.4).
    fn cancel_attempt(&mut self, id: AttemptId, reason: CancelReason, now: Instant) {
        self.attempts.retain(|(a, _)| *a != id);
        let record = &self.race.attempts()[id.0];
        let addr = record.addr;
        let ran = now.into_std().saturating_duration_since(record.started);
        let kind = match reason {
            // Lost the race without completing: evidence too (HE-4.2).
            CancelReason::Lost => PastFailure::LostRace,
            _ => PastFailure::TimedOut,
        };
        // HE-12.4: a QUIC attempt's fate says nothing of the address over TCP.
        if record.protocol == Protocol::Tcp {
            self.sources.remember(record, now, |h, src, dst, now| {
                h.failure(src, dst, kind, now)
            });
        }
        if reason != CancelReason::Lost {
            let msg = format!("timed out after {:?}", round_ms(ran));
            let timed_out = io::Error::new(io::ErrorKind::TimedOut, msg);
            self.errors.push((id, timed_out));
        }
        debug!(%addr, attempt = id.0, ?reason, "attempt cancelled");
    }

    /// Polls every running attempt and tells the race how each moved.
    fn drive_attempts(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progressed = false;
        let mut i = 0;
        while i < self.attempts.len() && !self.race.is_done() {
            let (id, polled) = self.poll_attempt(i, cx, now);
            let input = match polled {
                Polled::Pending => {
                    i += 1;
                    continue;
                }
                // HE-9.1: progress, not the win; polled again at once (same index).
                Polled::TcpConnected => Input::TcpConnected(id),
                Polled::HandshakeStarted => {
                    progressed = true;
                    continue;
                }
                Polled::Won(out) => {
                    self.attempts.swap_remove(i);
                    self.race.handle(Input::Connected(id), now.into_std());
                    // A stream the race did not take as the winner is closed here.
                    if self.race.winner() == Some(id) {
                        self.winner = Some(out);
                    }
                    progressed = true;
                    continue;
                }
                Polled::Failed(e) => {
                    self.attempts.swap_remove(i);
                    self.attempt_failed(id, e, now);
                    Input::AttemptFailed(id)
                }
            };
            progressed = true;
            self.race.handle(input, now.into_std());
        }
        progressed
    }

    /// Records attempt `id`'s failure: in the history and the errors.
    fn attempt_failed(&mut self, id: AttemptId, e: io::Error, now: Instant) {
        let kind = failure_kind(e.kind());
        let record = &self.race.attempts()[id.0];
        let addr = record.addr;
        if record.protocol == Protocol::Tcp {
            self.sources.remember(record, now, |h, src, dst, now| {
                h.failure(src, dst, kind, now)
            });
        }
        debug!(%addr, attempt = id.0, error = %e, "attempt failed");
        self.errors.push((id, e));
    }

    /// Keeps one timer at the race's next deadline; tells the race when it comes.
    fn drive_timer(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(deadline) = self.race.poll_timeout().map(Instant::from_std) else {
            return false;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        // Reset only when the deadline moved (quinn's drive_timer).
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        // A timer that fired after this pass's `now` was taken is told in the next pass.
        if now >= deadline {
            self.race.handle_timeout(now.into_std());
        }
        true
    }

    /// HE-3.7: lookups still pending when the race ends go on in a background task for up to
    /// [`LATE_ANSWERS`], their answers discarded, so a resolver with a cache (hickory) has them
    /// for the next connect. Without a tokio runtime to spawn on, they are dropped.
    fn finish_lookups_in_background(&mut self) {
        let Some(resolving) = self.resolving.take() else {
            return;
        };
        let pending: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = (resolving.lookups)
            .into_iter()
            .map(|(_, lookup)| lookup.into_future())
            .collect();
        // A NAT64 discovery among them keeps its result for the next connect (HE-7.7).
        if pending.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            debug!(
                lookups = pending.len(),
                "letting pending lookups finish, to warm the cache"
            );
            runtime.spawn(async move {
                let all = futures::future::join_all(pending);
                let _ = tokio::time::timeout(LATE_ANSWERS, all).await;
            });
        }
    }

    /// Hands the HTTPS answer to the race (HE-10.1, HE-10.5): the records that parse (the
    /// others ignored with a warning) and their admitted hint addresses, with sources and
    /// history, as answers get them.
    fn on_records(&mut self, id: QueryId, result: RecordAnswer, arrived: Instant, now: Instant) {
        let at = self.since_start(arrived);
        let rdatas = match result {
            Ok(rdatas) => rdatas,
            Err(e) => {
                debug!(error = %e, "https record lookup failed");
                self.service = Some(Box::new(ServiceAnswer {
                    at,
                    result: Err(e),
                    malformed: 0,
                    over_limit: 0,
                }));
                let answer = Answer::Failed;
                self.race
                    .handle(Input::Answer { id, answer }, now.into_std());
                return;
            }
        };
        let (mut records, malformed) = parse_records(&rdatas);
        // HE-10.8: a bounded answer before anything is derived from it, whatever its size.
        let over_limit = crate::proto::svcb::bound_answer(&mut records);
        if over_limit > 0 {
            tracing::warn!(
                over_limit,
                kept = records.len(),
                "ignoring HTTPS records and hints past the limits"
            );
        }
        debug!(
            records = records.len(),
            malformed,
            ms = at.as_millis() as u64,
            "https records"
        );
        // HE-7.1: while the NAT64 prefix is still being discovered, IPv4 hints (no route) are
        // left out; the A answer, which waits for the prefix, stands in for them.
        let families: &[Family] = match self.race.nat64_waiting() {
            true => &[Family::V6],
            false => &[Family::V6, Family::V4],
        };
        let admission = self.config.admission();
        let ips = hint_addresses(&records);
        let mut seen = Seen::default();
        // HE-10.8 bounds the hints (16 a family per record), not HE-5.12.
        let dsts: Vec<SocketAddr> = families
            .iter()
            .flat_map(|family| {
                admit_answer(&admission, *family, &ips, self.port, &mut seen, usize::MAX).0
            })
            .collect();
        let hints = (self.sources).candidates(self.dial, &self.race, dsts, now);
        self.service = Some(Box::new(ServiceAnswer {
            at,
            result: Ok(records.clone()),
            malformed,
            over_limit,
        }));
        let answer = Answer::Records { records, hints };
        self.race
            .handle(Input::Answer { id, answer }, now.into_std());
    }

    /// Hands a TargetName's answer to the race (HE-10.7): admitted, deduplicated, at most one
    /// batch of source lookups (HE-5.10), with history.
    fn on_target(
        &mut self,
        id: QueryId,
        target: &str,
        family: Family,
        result: Result<Vec<IpAddr>, ResolveError>,
        now: Instant,
    ) {
        let answer = match result {
            Ok(ips) => {
                debug!(%target, %family, count = ips.len(), "target answer");
                let admission = self.config.admission();
                let mut seen = Seen::default();
                let (dsts, looked) = admit_answer(
                    &admission,
                    family,
                    &ips,
                    self.port,
                    &mut seen,
                    MAX_ADDRESSES,
                );
                let over = ips.len() - looked;
                warn_over_limit(format_args!("{target} {family} answer"), over);
                self.over_limit = self.over_limit.saturating_add(over as u32);
                // One batch of source lookups at most (HE-5.10): the limit is no more than that.
                const _: () = assert!(MAX_ADDRESSES <= SOURCE_BATCH);
                Answer::Addresses((self.sources).candidates(self.dial, &self.race, dsts, now))
            }
            Err(e) => {
                debug!(%target, %family, error = %e, "target lookup failed");
                Answer::Failed
            }
        };
        self.race
            .handle(Input::Answer { id, answer }, now.into_std());
    }

    /// Polls attempt `i`: its TCP connect, then its handshake. A TCP connect that completes
    /// records the handshake RTT and starts the handshake in its place (or wins, without one).
    fn poll_attempt(
        &mut self,
        i: usize,
        cx: &mut Context<'_>,
        now: Instant,
    ) -> (AttemptId, Polled<H::Output>) {
        let id = self.attempts[i].0;
        let stream = match &mut self.attempts[i].1 {
            Running::Tcp(connect) => match Pin::new(connect).poll(cx) {
                Poll::Pending => return (id, Polled::Pending),
                Poll::Ready(Err(e)) => return (id, Polled::Failed(e)),
                Poll::Ready(Ok(stream)) => stream,
            },
            Running::Handshake(handshake) => {
                return match handshake.as_mut().poll(cx) {
                    Poll::Pending => (id, Polled::Pending),
                    Poll::Ready(Ok(out)) => (id, Polled::Won(out)),
                    Poll::Ready(Err(e)) => (id, Polled::Failed(handshake_error(e))),
                };
            }
            // HE-11.5: the HTTPS answer came (or failed): the handshake begins.
            Running::Held(held) if !self.race.service_pending() => {
                let Some(stream) = held.take() else {
                    return (id, Polled::Pending);
                };
                self.start_handshake(i, id, stream);
                return (id, Polled::HandshakeStarted);
            }
            Running::Held(_) => return (id, Polled::Pending),
            Running::Quic(quic) => {
                return match quic.as_mut().poll(cx) {
                    Poll::Pending => (id, Polled::Pending),
                    Poll::Ready(Ok(out)) => {
                        // HE-12.4: the QUIC handshake's time stands for the RTT, as a TCP
                        // connect's does.
                        let record = &self.race.attempts()[id.0];
                        let rtt = now.into_std().saturating_duration_since(record.started);
                        self.sources.remember(record, now, |h, src, dst, now| {
                            h.success(src, dst, rtt, now);
                            h.quic_success(src, dst);
                        });
                        (id, Polled::Won(out))
                    }
                    Poll::Ready(Err(e)) => (id, Polled::Failed(e)),
                };
            }
            Running::Unstarted(e) => {
                let e = e
                    .take()
                    .unwrap_or_else(|| io::Error::other("QUIC unavailable"));
                return (id, Polled::Failed(e));
            }
        };
        let record = &self.race.attempts()[id.0];
        let rtt = now.into_std().saturating_duration_since(record.started);
        let addr = record.addr;
        self.sources.remember(record, now, |h, src, dst, now| {
            h.success(src, dst, rtt, now)
        });
        if H::TCP_ONLY {
            // No handshake: the stream is ready as it is (nothing to allocate).
            let to = self.destination(id);
            let mut ready = std::pin::pin!(self.handshake.handshake(stream, &to));
            return match ready.as_mut().poll(cx) {
                Poll::Ready(Ok(out)) => (id, Polled::Won(out)),
                Poll::Ready(Err(e)) => (id, Polled::Failed(e)),
                Poll::Pending => {
                    let e = io::Error::other("a TCP-only handshake did not complete at once");
                    (id, Polled::Failed(e))
                }
            };
        }
        if self.handshake.waits_for_service() && self.race.service_pending() {
            // HE-11.5: the handshake relies on the records; it begins when they come.
            debug!(%addr, attempt = id.0, "tcp connected, handshake waits for the https answer");
            self.attempts[i].1 = Running::Held(Some(stream));
        } else {
            self.start_handshake(i, id, stream);
        }
        (id, Polled::TcpConnected)
    }

    /// Where attempt `id` goes, for its handshake: with the endpoint it belongs to now
    /// ([`Race::attempt_endpoint_now`], HE-11.5).
    fn destination(&self, id: AttemptId) -> Destination<'_> {
        Destination {
            addr: self.race.attempts()[id.0].addr,
            host: self.host,
            endpoint: self.race.attempt_endpoint_now(id).map(|e| &**e),
        }
    }

    /// Starts attempt `id`'s handshake on its connected `stream`, in place `i`.
    fn start_handshake(&mut self, i: usize, id: AttemptId, stream: D::Stream) {
        let to = self.destination(id);
        let handshake = Box::pin(self.handshake.handshake(stream, &to));
        debug!(addr = %to.addr, attempt = id.0, "handshake started");
        self.attempts[i].1 = Running::Handshake(handshake);
    }

    fn finish(
        &mut self,
        result: Result<AttemptId, Failure>,
        now: Instant,
    ) -> RaceResult<H::Output> {
        self.attempts.clear();
        if let Ok(id) = result {
            self.remember_quic(id, now);
        }
        if let Some(resolving) = self.resolving.as_deref_mut() {
            resolving.feeds = [None, None];
        }
        if let Ok(id) = result
            && self.want == Want::StreamOnly
        {
            // Nobody will read the report: none is built.
            self.finish_lookups_in_background();
            let ms = self.since_start(now).as_millis() as u64;
            debug!(attempt = id.0, ms, "connected");
            return Ok((self.take_winner(), Report::new("", self.port)));
        }
        let mut report = self.take_report(now);
        let id = match result {
            Ok(id) => id,
            Err(failure) => {
                self.report_attempts(&mut report);
                // In the order the attempts started, as the error promises.
                self.errors.sort_by_key(|(id, _)| *id);
                let attempts = self
                    .errors
                    .drain(..)
                    .map(|(id, e)| (report.attempts[id.0].addr, e))
                    .collect();
                return Err(failed(failure, report, attempts, self.connect_timeout));
            }
        };
        self.report_attempts(&mut report);
        report.winner = Some(id.0);
        let winner = self.take_winner();
        report.attempts[id.0].note = self.handshake.note(&winner);
        let addr = report.attempts[id.0].addr;
        debug!(%addr, attempt = id.0, ms = report.elapsed.as_millis() as u64, "connected");
        Ok((winner, report))
    }

    /// HE-12.4: TCP won while a QUIC attempt failed, or was still not done: QUIC counts as
    /// broken to that destination on this network, for the history's backoff.
    fn remember_quic(&self, winner: AttemptId, now: Instant) {
        let records = self.race.attempts();
        if !self.race.races_quic() || records[winner.0].protocol != Protocol::Tcp {
            return;
        }
        let quic = records.iter().filter(|a| a.protocol == Protocol::Quic);
        for record in quic.filter(|a| a.state != AttemptState::Denied) {
            let mut backoff = Duration::ZERO;
            self.sources.remember(record, now, |h, src, dst, now| {
                backoff = h.quic_failure(src, dst, now);
            });
            let dst = record.destination();
            debug!(%dst, backoff_s = backoff.as_secs(), "QUIC failed where TCP worked");
        }
    }

    fn take_winner(&mut self) -> H::Output {
        self.winner
            .take()
            .expect("the winner's stream is held until Done")
    }

    /// Writes the race's attempt table into the report, with what only the driver knows: each
    /// failure's error, what the history knew, the NAT64 translation. A denied attempt's error
    /// joins the errors.
    fn report_attempts(&mut self, report: &mut Report) {
        let start = self.start.into_std();
        let since = |at: std::time::Instant| at.saturating_duration_since(start);
        // What the history knew of each destination when it came (nothing to allocate when it
        // knew nothing), and each attempt's error: looked up once each, whatever the count.
        let remembered: HashMap<SocketAddr, Remembered> = (self.race.received().iter())
            .filter(|c| !c.hist.is_empty())
            .map(|c| (c.dst, c.hist))
            .collect();
        let slots = match self.errors.is_empty() {
            true => 0,
            false => self.race.attempts().len(),
        };
        let mut error_of = vec![None; slots];
        for (i, (id, _)) in self.errors.iter().enumerate() {
            if let Some(slot) = error_of.get_mut(id.0) {
                slot.get_or_insert(i);
            }
        }
        for (i, record) in self.race.attempts().iter().enumerate() {
            let id = AttemptId(i);
            let error = error_of
                .get(i)
                .copied()
                .flatten()
                .map(|e| &self.errors[e].1);
            let in_handshake = record.tcp_connected().is_some();
            let outcome = match (record.state, error) {
                (AttemptState::Running, _) => None,
                (AttemptState::Won, _) => Some(AttemptOutcome::Connected),
                (AttemptState::Denied, _) => Some(AttemptOutcome::Denied),
                (AttemptState::Cancelled(CancelReason::Lost), _) => Some(AttemptOutcome::Cancelled),
                (AttemptState::Cancelled(_), _) => Some(AttemptOutcome::TimedOut),
                (AttemptState::Failed, Some(e)) => Some(failed_outcome(e, in_handshake)),
                (AttemptState::Failed, None) => {
                    Some(failed_outcome(&io::Error::other("failed"), in_handshake))
                }
            };
            report.attempts.push(Attempt {
                addr: record.addr,
                protocol: record.protocol,
                started: since(record.started),
                ended: record.ended().map(since),
                outcome,
                history: remembered.get(&record.addr).copied(),
                placement: self.race.placement(id),
                // The endpoint it came from when it started; else the one its address has now.
                endpoint: self.race.attempt_endpoint_now(id).cloned(),
                tcp_connected: record.tcp_connected().map(since),
                translation: self.race.translation(record.addr),
                note: None,
            });
        }
        for (i, record) in self.race.attempts().iter().enumerate() {
            if record.state == AttemptState::Denied {
                debug!(addr = %record.addr, attempt = i, "attempt denied by the address policy");
                let why = "denied by the address policy";
                let denied = io::Error::new(io::ErrorKind::PermissionDenied, why);
                self.errors.push((AttemptId(i), denied));
            }
        }
    }
}

/// The HTTPS records among `rdatas` that parse, and how many did not (ignored with a warning).
fn parse_records(rdatas: &[Vec<u8>]) -> (Vec<ServiceRecord>, usize) {
    let mut records = Vec::new();
    let mut malformed = 0;
    for rdata in rdatas {
        match ServiceRecord::from_rdata(rdata) {
            Ok(record) => records.push(record),
            Err(e) => {
                malformed += 1;
                tracing::warn!(error = %e, "ignoring a malformed HTTPS record");
            }
        }
    }
    (records, malformed)
}

/// Every hint address of the ServiceMode records (HE-10.5).
fn hint_addresses(records: &[ServiceRecord]) -> Vec<IpAddr> {
    records
        .iter()
        .filter(|r| !r.is_alias())
        .flat_map(ServiceRecord::hint_ips)
        .collect()
}

/// NAT64 for one connect with this configuration and connector state (HE-7.7), discovering
/// with `resolver`.
fn plan_nat64<D: Dial>(
    config: &Config,
    dial: &D,
    shared: Shared<'_>,
    resolver: Option<&dyn Resolve>,
    port: u16,
) -> Nat64Plan {
    let admission = config.admission();
    let both = admission.v4 && admission.v6;
    Nat64Plan::new(config.nat64, both, dial, shared.nat64, resolver, port)
}

/// The address a connect would use for the literal `addr`: its NAT64 translation on a network
/// without an IPv4 route once the prefix is known (HE-7.1), else `addr` itself.
pub(crate) async fn translate_literal<D: Dial>(
    config: &Config,
    dial: &D,
    shared: Shared<'_>,
    addr: SocketAddr,
) -> SocketAddr {
    if addr.is_ipv6() {
        return addr;
    }
    let nat64 = plan_nat64(config, dial, shared, shared.resolver, addr.port());
    let nat64 = nat64.settle().await;
    nat64.candidate(addr, dial.source(addr)).dst
}

/// Resolves both families concurrently, waits for both, and returns every usable address in the
/// order a connect would try them (HE-4.1 sort, HE-4.3 interleave, HE-5.6 no duplicates), under
/// the same rules as a connect (HE-5.9): the same core and driver, in a race that only plans.
#[allow(
    clippy::too_many_arguments,
    reason = "the connector's parts, passed as they are"
)]
pub(crate) async fn resolve_all<D: Dial>(
    config: &Config,
    dial: &D,
    resolver: &dyn Resolve,
    name: &str,
    host: &str,
    port: u16,
    shared: Shared<'_>,
    https_records: bool,
) -> Result<Vec<Planned>, Error> {
    let start = Instant::now();
    let settings = Settings {
        https_records,
        alpn: &config.alpn,
        connect_timeout: None,
    };
    let request = Request {
        want: Want::Plan,
        config,
        settings,
        source: Source::Resolve {
            resolver,
            name: Cow::Borrowed(name),
        },
        label: host,
        host: Some(host),
        port,
        shared,
    };
    // HE-7.1: without an IPv4 route, IPv4 addresses are returned as their NAT64 translations,
    // once the prefix is known.
    let nat64 = plan_nat64(
        config,
        dial,
        shared,
        shared.resolver.or(Some(resolver)),
        port,
    );
    let handshake = NoHandshake;
    let mut driver = Box::new(
        Driver::for_name(&request, dial, &handshake, start)
            .resolving(resolver, Cow::Borrowed(name), settings)
            .with_nat64(nat64),
    );
    poll_fn(|cx| driver.poll_plan(cx)).await
}

/// Puts endpoints of equal priority in random order (RFC 9460 §2.4.1), with the standard
/// library's randomly keyed hasher as the source.
fn shuffle_endpoints(endpoints: &mut [ServiceEndpoint]) {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    for i in (1..endpoints.len()).rev() {
        let j = (state.hash_one(i) % (i as u64 + 1)) as usize;
        endpoints.swap(i, j);
    }
}

/// A handshake's error, saying that TCP had connected (HE-9.2).
fn handshake_error(e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("connected, then the handshake failed: {e}"),
    )
}

/// A failed attempt's outcome for the report.
fn failed_outcome(e: &io::Error, in_handshake: bool) -> AttemptOutcome {
    let (kind, message) = (e.kind(), e.to_string());
    if in_handshake {
        AttemptOutcome::HandshakeFailed { kind, message }
    } else {
        AttemptOutcome::Failed { kind, message }
    }
}

/// How a failed attempt's error counts in the history.
fn failure_kind(kind: io::ErrorKind) -> PastFailure {
    match kind {
        io::ErrorKind::ConnectionRefused => PastFailure::Refused,
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
            PastFailure::Unreachable
        }
        io::ErrorKind::TimedOut => PastFailure::TimedOut,
        _ => PastFailure::Other,
    }
}

/// A lock, even if a panic elsewhere poisoned it: what the crate keeps behind locks (the
/// history, NAT64 and QUIC memory) holds nothing half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The error for a target whose every address the address policy denied.
pub(crate) fn denied_error(report: Report, denied: Vec<SocketAddr>) -> Error {
    let why = || {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            "denied by the address policy",
        )
    };
    let denied = denied.into_iter().map(|dst| (dst, why())).collect();
    failed(Failure::Denied, report, denied, None)
}

#[cfg(test)]
mod tests;
