//! Driver tests: fake resolver and fake dialer under tokio's paused clock, asserting exact instants.

use super::*;
use crate::handshake::{Handshake, NoHandshake};
use crate::proto::history::{DelayBasis, History};
use crate::resolve::{ResolveError, ResolveErrorKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const MS: Duration = Duration::from_millis(1);

/// What a fake lookup answers, and when.
#[derive(Debug, Clone)]
enum Answer {
    Addrs(u64, &'static [&'static str]),
    Fail(u64),
    Never,
}

#[derive(Debug)]
struct FakeResolver {
    v6: Answer,
    v4: Answer,
    queried: Arc<std::sync::Mutex<Vec<(Family, Duration)>>>,
    /// The lookups that ran to their end (their answer delivered or not), with when.
    finished: Arc<std::sync::Mutex<Vec<(Family, Duration)>>>,
    /// HTTPS records (as RDATA) after this many ms; `None`: no HTTPS support.
    https: Option<(u64, Vec<Vec<u8>>)>,
    /// The HTTPS query names asked, with when.
    https_queried: Arc<std::sync::Mutex<Vec<(String, Duration)>>>,
    /// Other names: their HTTPS records and addresses (HE-10.7).
    others: HashMap<String, (Vec<Vec<u8>>, Vec<&'static str>)>,
    /// The AAAA answer for `ipv4only.arpa.` (HE-7.7): after this many ms, these addresses.
    ipv4only: Option<(u64, &'static [&'static str])>,
    /// When `ipv4only.arpa.` was asked.
    ipv4only_queried: Arc<std::sync::Mutex<Vec<Duration>>>,
    /// How many `ipv4only.arpa.` lookups were dropped (answered or not).
    ipv4only_dropped: Arc<AtomicUsize>,
}

impl FakeResolver {
    fn new(v6: Answer, v4: Answer) -> FakeResolver {
        FakeResolver {
            v6,
            v4,
            queried: Default::default(),
            finished: Default::default(),
            https: None,
            https_queried: Default::default(),
            others: HashMap::new(),
            ipv4only: None,
            ipv4only_queried: Default::default(),
            ipv4only_dropped: Default::default(),
        }
    }

    /// Answers `ipv4only.arpa.` AAAA with `addrs` after `ms` (RFC 7050).
    fn with_ipv4only(mut self, ms: u64, addrs: &'static [&'static str]) -> FakeResolver {
        self.ipv4only = Some((ms, addrs));
        self
    }

    /// Another name, with these HTTPS records and addresses, answered at once.
    fn with_name(
        mut self,
        name: &str,
        https: Vec<Vec<u8>>,
        addrs: &[&'static str],
    ) -> FakeResolver {
        self.others
            .insert(name.to_string(), (https, addrs.to_vec()));
        self
    }

    /// Also answers HTTPS queries with `records` after `ms`.
    fn with_https(mut self, ms: u64, records: Vec<Vec<u8>>) -> FakeResolver {
        self.https = Some((ms, records));
        self
    }
}

impl Resolve for FakeResolver {
    fn lookup(&self, name: &str, family: Family) -> Lookup {
        if name == "ipv4only.arpa." {
            let (ms, addrs) = self.ipv4only.unwrap_or((0, &[]));
            let (queried, t0) = (self.ipv4only_queried.clone(), Instant::now());
            let dropped = CountOnDrop(self.ipv4only_dropped.clone());
            return Box::pin(async move {
                let _dropped = dropped;
                queried.lock().unwrap().push(t0.elapsed());
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(addrs.iter().map(|s| s.parse().unwrap()).collect())
            });
        }
        if let Some((_, addrs)) = self.others.get(name) {
            let ips: Vec<IpAddr> = addrs
                .iter()
                .map(|s| s.parse().unwrap())
                .filter(|ip: &IpAddr| Family::of_ip(ip) == family)
                .collect();
            return Box::pin(async move { Ok(ips) });
        }
        let answer = if family == Family::V6 {
            self.v6.clone()
        } else {
            self.v4.clone()
        };
        let queried = self.queried.clone();
        let finished = self.finished.clone();
        let t0 = Instant::now();
        Box::pin(async move {
            queried.lock().unwrap().push((family, t0.elapsed()));
            match answer {
                Answer::Addrs(ms, list) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    finished.lock().unwrap().push((family, t0.elapsed()));
                    Ok(list.iter().map(|s| s.parse().unwrap()).collect())
                }
                Answer::Fail(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Err(ResolveError::new(ResolveErrorKind::Other, "SERVFAIL"))
                }
                Answer::Never => std::future::pending().await,
            }
        })
    }

    fn lookup_https(&self, name: &str) -> Option<crate::resolve::RecordLookup> {
        let (ms, records) = match self.others.get(name) {
            Some((records, _)) => (0, records.clone()),
            None => self.https.clone()?,
        };
        let queried = self.https_queried.clone();
        let (name, t0) = (name.to_string(), Instant::now());
        Some(Box::pin(async move {
            queried.lock().unwrap().push((name, t0.elapsed()));
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(records)
        }))
    }
}

/// Counts its own drop.
#[derive(Debug)]
struct CountOnDrop(Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// How a fake address behaves.
#[derive(Debug, Clone, Copy)]
enum Peer {
    /// Handshake completes after this many ms.
    Up(u64),
    /// Refused after this many ms.
    Refused(u64),
    /// Never answers.
    BlackHole,
}

/// A fake socket: counts itself open until dropped.
#[derive(Debug)]
struct FakeSocket {
    open: Arc<AtomicUsize>,
    addr: SocketAddr,
}

impl FakeSocket {
    fn new(open: &Arc<AtomicUsize>, addr: SocketAddr) -> FakeSocket {
        open.fetch_add(1, Ordering::SeqCst);
        FakeSocket {
            open: open.clone(),
            addr,
        }
    }
}

impl Drop for FakeSocket {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Default)]
struct FakeDial {
    peers: HashMap<SocketAddr, Peer>,
    open: Arc<AtomicUsize>,
    /// No IPv4 route (an IPv6-only network): `source` is `None` for IPv4 destinations.
    ipv6_only: bool,
    /// The IPv6 source address, when not the default `2001:db8:ffff::1` (another network).
    v6_source: std::sync::Mutex<Option<IpAddr>>,
    /// How many source addresses were looked up (each one a system call for the real dialer).
    sources: AtomicUsize,
}

impl FakeDial {
    fn new(peers: &[(&str, Peer)]) -> FakeDial {
        FakeDial {
            peers: peers
                .iter()
                .map(|(a, p)| (a.parse().unwrap(), *p))
                .collect(),
            open: Default::default(),
            ipv6_only: false,
            v6_source: Default::default(),
            sources: AtomicUsize::new(0),
        }
    }

    /// The same, on an IPv6-only network (HE-7.1).
    fn ipv6_only(peers: &[(&str, Peer)]) -> FakeDial {
        FakeDial {
            ipv6_only: true,
            ..FakeDial::new(peers)
        }
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Dial for FakeDial {
    type Stream = FakeSocket;
    type Attempt = Pin<Box<dyn Future<Output = io::Result<FakeSocket>> + Send>>;

    fn dial(&self, addr: SocketAddr) -> Self::Attempt {
        let peer = self.peers.get(&addr).copied().unwrap_or(Peer::BlackHole);
        let socket = FakeSocket::new(&self.open, addr);
        Box::pin(async move {
            match peer {
                Peer::Up(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(socket)
                }
                Peer::Refused(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    drop(socket);
                    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                }
                Peer::BlackHole => std::future::pending().await,
            }
        })
    }

    fn source(&self, dst: SocketAddr) -> Option<IpAddr> {
        self.sources.fetch_add(1, Ordering::SeqCst);
        if self.ipv6_only && dst.is_ipv4() {
            return None;
        }
        if let Some(src) = *self.v6_source.lock().unwrap()
            && dst.is_ipv6()
        {
            return Some(src);
        }
        Some(if dst.is_ipv6() {
            "2001:db8:ffff::1".parse().unwrap()
        } else {
            "192.0.2.200".parse().unwrap()
        })
    }
}

const V6: &str = "[2001:db8::1]:443";
const V6B: &str = "[2001:db8::2]:443";
const V4: &str = "192.0.2.1:443";
const V4B: &str = "192.0.2.2:443";

async fn race(
    config: &Config,
    dial: &FakeDial,
    resolver: &dyn Resolve,
) -> Result<(FakeSocket, Report), Error> {
    race_through(config, dial, resolver, &NoHandshake, 443).await
}

/// A race for `test.example:port` with `handshake` on every connected attempt.
async fn race_through<H: Handshake<FakeSocket>>(
    config: &Config,
    dial: &FakeDial,
    resolver: &dyn Resolve,
    handshake: &H,
    port: u16,
) -> Result<(H::Output, Report), Error> {
    run(
        request(
            Want::Report,
            config,
            Source::Resolve {
                resolver,
                name: "test.example".into(),
            },
            "test.example",
            port,
            Shared::default(),
        ),
        dial,
        handshake,
    )
    .await
}

/// What a connect asks of the driver, with the configuration's own settings.
fn request<'a>(
    want: Want,
    config: &'a Config,
    source: Source<'a>,
    label: &'a str,
    port: u16,
    shared: Shared<'a>,
) -> Request<'a> {
    Request {
        want,
        config,
        settings: Settings::of(config),
        source,
        label,
        host: Some(label),
        port,
        shared,
    }
}

/// `Connector::resolve`'s path for `t.example:443`, without history.
async fn resolve(
    config: &Config,
    dial: &FakeDial,
    resolver: &FakeResolver,
) -> Result<Vec<SocketAddr>, Error> {
    resolve_all(
        config,
        dial,
        resolver,
        "t.example",
        "t.example",
        443,
        Shared::default(),
        false,
    )
    .await
    .map(|planned| planned.into_iter().map(|(addr, _)| addr).collect())
}

/// Each attempt as `(start ms, addr, outcome)`.
fn timeline(report: &Report) -> Vec<(u128, String, &'static str)> {
    report
        .attempts()
        .iter()
        .map(|a| {
            (
                a.started().as_millis(),
                a.addr().to_string(),
                a.outcome().map_or("running", |o| o.label()),
            )
        })
        .collect()
}

fn row(ms: u128, addr: &str, outcome: &'static str) -> (u128, String, &'static str) {
    (ms, addr.to_string(), outcome)
}

// HE-3.1: AAAA is asked first, then A, at the same instant.
#[tokio::test(start_paused = true)]
async fn he_3_1_both_queries_sent_at_once_aaaa_first() {
    let dial = FakeDial::new(&[(V6, Peer::Up(1))]);
    let resolver = FakeResolver::new(
        Answer::Addrs(10, &["2001:db8::1"]),
        Answer::Addrs(10, &["192.0.2.1"]),
    );
    race(&Config::default(), &dial, &resolver).await.unwrap();
    let q = resolver.queried.lock().unwrap().clone();
    assert_eq!(
        q,
        [(Family::V6, Duration::ZERO), (Family::V4, Duration::ZERO)]
    );
}

/// How a scenario ends.
#[derive(Debug)]
enum Outcome {
    /// This address wins; only its socket stays open.
    Won(&'static str),
    /// The connect fails with this message and `io::ErrorKind`; every socket is closed.
    Failed(&'static str, io::ErrorKind),
}

/// One race with a fake resolver and fake peers under the paused clock, and exactly what must
/// happen: each attempt's start instant, address and outcome, the total time, and the end.
struct Scenario {
    /// The requirement ids it checks and what happens.
    name: &'static str,
    aaaa: Answer,
    a: Answer,
    peers: &'static [(&'static str, Peer)],
    connect_timeout_ms: Option<u64>,
    attempt_timeout_ms: Option<u64>,
    timeline: &'static [(u128, &'static str, &'static str)],
    elapsed_ms: u64,
    outcome: Outcome,
}

const BASE: Scenario = Scenario {
    name: "",
    aaaa: Answer::Addrs(0, &["2001:db8::1"]),
    a: Answer::Addrs(0, &["192.0.2.1"]),
    peers: &[],
    connect_timeout_ms: None,
    attempt_timeout_ms: None,
    timeline: &[],
    elapsed_ms: 0,
    outcome: Outcome::Won(V4),
};

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "HE-5.1 / HE-5.4: IPv6 black-holed: IPv4 starts at exactly 250 ms and wins; IPv6 is closed",
        peers: &[(V6, Peer::BlackHole), (V4, Peer::Up(3))],
        timeline: &[(0, V6, "cancelled"), (250, V4, "connected")],
        elapsed_ms: 253,
        outcome: Outcome::Won(V4),
        ..BASE
    },
    Scenario {
        name: "HE-3.4: AAAA 40 ms after A, inside the Resolution Delay: IPv6 goes first, at 40 ms",
        aaaa: Answer::Addrs(40, &["2001:db8::1"]),
        peers: &[(V6, Peer::Up(2)), (V4, Peer::Up(2))],
        timeline: &[(40, V6, "connected")],
        elapsed_ms: 42,
        outcome: Outcome::Won(V6),
        ..BASE
    },
    Scenario {
        name: "HE-3.4 / HE-3.5: AAAA 60 ms late: IPv4 starts at 50 ms, IPv6 joins interleaved at 300 ms",
        aaaa: Answer::Addrs(60, &["2001:db8::1"]),
        a: Answer::Addrs(0, &["192.0.2.1", "192.0.2.2"]),
        peers: &[
            (V6, Peer::Up(5)),
            (V4, Peer::BlackHole),
            (V4B, Peer::BlackHole),
        ],
        timeline: &[(50, V4, "cancelled"), (300, V6, "connected")],
        elapsed_ms: 305,
        outcome: Outcome::Won(V6),
        ..BASE
    },
    Scenario {
        name: "HE-5.5: IPv6 refused: IPv4 starts at once",
        peers: &[(V6, Peer::Refused(7)), (V4, Peer::Up(1))],
        timeline: &[(0, V6, "refused"), (7, V4, "connected")],
        elapsed_ms: 8,
        outcome: Outcome::Won(V4),
        ..BASE
    },
    Scenario {
        name: "HE-5.1 / HE-4.3: three dead (black-holed) addresses, then a live one, interleaved and staggered",
        aaaa: Answer::Addrs(0, &["2001:db8::1", "2001:db8::2"]),
        a: Answer::Addrs(0, &["192.0.2.1", "192.0.2.2"]),
        peers: &[(V4B, Peer::Up(4))],
        timeline: &[
            (0, V6, "cancelled"),
            (250, V4, "cancelled"),
            (500, V6B, "cancelled"),
            (750, V4B, "connected"),
        ],
        elapsed_ms: 754,
        outcome: Outcome::Won(V4B),
        ..BASE
    },
    Scenario {
        name: "HE-5.5: per-attempt timeout: the next address starts when it runs out",
        peers: &[(V4, Peer::Up(1))],
        attempt_timeout_ms: Some(100),
        timeline: &[(0, V6, "timed out"), (100, V4, "connected")],
        elapsed_ms: 101,
        outcome: Outcome::Won(V4),
        ..BASE
    },
    Scenario {
        name: "HE-3.6: AAAA SERVFAIL never blocks IPv4",
        aaaa: Answer::Fail(3),
        a: Answer::Addrs(10, &["192.0.2.1"]),
        peers: &[(V4, Peer::Up(1))],
        timeline: &[(10, V4, "connected")],
        elapsed_ms: 11,
        outcome: Outcome::Won(V4),
        ..BASE
    },
    Scenario {
        name: "HE-5.5 / HE-3.6: every attempt fails: the error lists every attempt in start order",
        a: Answer::Addrs(0, &["192.0.2.1", "192.0.2.2"]),
        peers: &[
            (V6, Peer::Refused(1)),
            (V4, Peer::Refused(2)),
            (V4B, Peer::Refused(3)),
        ],
        timeline: &[(0, V6, "refused"), (1, V4, "refused"), (3, V4B, "refused")],
        elapsed_ms: 6,
        outcome: Outcome::Failed(
            "connect to test.example:443 failed: [2001:db8::1]:443 connection refused; \
             192.0.2.1:443 connection refused; 192.0.2.2:443 connection refused",
            io::ErrorKind::ConnectionRefused,
        ),
        ..BASE
    },
    Scenario {
        name: "connect timeout, everything black-holed: fails at exactly the timeout, listing each attempt",
        connect_timeout_ms: Some(400),
        timeline: &[(0, V6, "timed out"), (250, V4, "timed out")],
        elapsed_ms: 400,
        outcome: Outcome::Failed(
            "connect to test.example:443 timed out after 400ms: [2001:db8::1]:443 timed out after \
             400ms; 192.0.2.1:443 timed out after 150ms",
            io::ErrorKind::TimedOut,
        ),
        ..BASE
    },
    Scenario {
        name: "a resolver that never answers is bounded by the connect timeout",
        aaaa: Answer::Never,
        a: Answer::Never,
        connect_timeout_ms: Some(2000),
        timeline: &[],
        elapsed_ms: 2000,
        outcome: Outcome::Failed(
            "connect to test.example:443 timed out after 2s while resolving the name",
            io::ErrorKind::TimedOut,
        ),
        ..BASE
    },
    Scenario {
        name: "HE-3.6: both lookups failing is one error with both causes",
        aaaa: Answer::Fail(5),
        a: Answer::Fail(9),
        timeline: &[],
        elapsed_ms: 9,
        outcome: Outcome::Failed(
            "connect to test.example:443 failed: could not resolve the name (AAAA: SERVFAIL; A: SERVFAIL)",
            io::ErrorKind::Other,
        ),
        ..BASE
    },
];

// Every scenario of the table, each asserting exact instants under the paused clock.
#[tokio::test(start_paused = true)]
async fn scenarios_at_exact_instants() {
    for sc in SCENARIOS {
        let dial = FakeDial::new(sc.peers);
        let resolver = FakeResolver::new(sc.aaaa.clone(), sc.a.clone());
        let config = Config {
            connect_timeout: sc.connect_timeout_ms.map(Duration::from_millis),
            attempt_timeout: sc.attempt_timeout_ms.map(Duration::from_millis),
            ..Config::default()
        };
        let want: Vec<_> = sc
            .timeline
            .iter()
            .map(|(ms, a, o)| row(*ms, a, o))
            .collect();
        let name = sc.name;
        match (race(&config, &dial, &resolver).await, &sc.outcome) {
            (Ok((stream, report)), Outcome::Won(winner)) => {
                assert_eq!(stream.addr, winner.parse().unwrap(), "{name}");
                assert_eq!(timeline(&report), want, "{name}");
                assert_eq!(
                    report.elapsed(),
                    Duration::from_millis(sc.elapsed_ms),
                    "{name}"
                );
                assert_eq!(dial.open(), 1, "{name}: only the winner is open");
                drop(stream);
                assert_eq!(dial.open(), 0, "{name}");
            }
            (Err(err), Outcome::Failed(message, kind)) => {
                assert_eq!(err.to_string(), *message, "{name}");
                let report = err.report().unwrap();
                assert_eq!(timeline(report), want, "{name}");
                assert_eq!(
                    report.elapsed(),
                    Duration::from_millis(sc.elapsed_ms),
                    "{name}"
                );
                let tried: Vec<String> =
                    err.attempts().iter().map(|(a, _)| a.to_string()).collect();
                let started: Vec<&str> = sc.timeline.iter().map(|(_, a, _)| *a).collect();
                assert_eq!(
                    tried, started,
                    "{name}: every attempt's error, in start order"
                );
                assert_eq!(io::Error::from(err).kind(), *kind, "{name}");
                assert_eq!(dial.open(), 0, "{name}");
            }
            (result, outcome) => panic!("{name}: {result:?}, wanted {outcome:?}"),
        }
    }
}

// HE-3.5: the report keeps each answer's family and arrival time.
#[tokio::test(start_paused = true)]
async fn he_3_5_answers_are_reported_as_they_arrive() {
    let dial = FakeDial::new(&[(V6, Peer::Up(5))]);
    let resolver = FakeResolver::new(
        Answer::Addrs(60, &["2001:db8::1"]),
        Answer::Addrs(0, &["192.0.2.1", "192.0.2.2"]),
    );
    let (_, report) = race(&Config::default(), &dial, &resolver).await.unwrap();
    let answers: Vec<_> = report
        .answers()
        .iter()
        .map(|a| (a.family(), a.at().as_millis()))
        .collect();
    assert_eq!(answers, [(Family::V4, 0), (Family::V6, 60)]);
}

// HE-5.4: a loser that completes in the same instant as the winner is closed, never leaked.
#[tokio::test(start_paused = true)]
async fn he_5_4_simultaneous_loser_is_closed() {
    let dial = FakeDial::new(&[(V6, Peer::Up(300)), (V4, Peer::Up(50))]);
    let resolver = one_each();
    let (stream, report) = race(&Config::default(), &dial, &resolver).await.unwrap();
    // Both handshakes complete at 300 ms.
    assert_eq!(report.elapsed(), 300 * MS);
    assert_eq!(
        report
            .attempts()
            .iter()
            .filter(|a| a.outcome() == Some(&AttemptOutcome::Connected))
            .count(),
        1
    );
    assert_eq!(dial.open(), 1, "the simultaneous loser was closed");
    drop(stream);
    assert_eq!(dial.open(), 0);
}

// Dropping the connect future mid-race closes every socket it opened.
#[tokio::test(start_paused = true)]
async fn dropping_the_future_closes_everything() {
    let dial = FakeDial::new(&[]);
    let resolver = FakeResolver::new(
        Answer::Addrs(0, &["2001:db8::1", "2001:db8::2"]),
        Answer::Addrs(0, &["192.0.2.1"]),
    );
    let config = Config::default();
    let fut = race(&config, &dial, &resolver);
    let res = tokio::time::timeout(600 * MS, fut).await;
    assert!(res.is_err(), "still racing");
    assert_eq!(dial.open(), 0, "every attempt's socket was closed");
}

// HE-5.6: addresses given to connect, with duplicates and both families: sorted, interleaved, each once.
#[tokio::test(start_paused = true)]
async fn he_5_6_connect_addrs_dedupes_and_interleaves() {
    let dial = FakeDial::new(&[(V4B, Peer::Up(1))]);
    let addrs: Vec<SocketAddr> = [V4, V4, V6, V4B, V6]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let (_, report) = run(
        request(
            Want::Report,
            &Config::default(),
            Source::Addrs(&addrs),
            "x",
            443,
            Shared::default(),
        ),
        &dial,
        &NoHandshake,
    )
    .await
    .unwrap();
    assert_eq!(
        timeline(&report),
        [
            row(0, V6, "cancelled"),
            row(250, V4, "cancelled"),
            row(500, V4B, "connected")
        ]
    );
}

// Family policy: IPv4 only never asks for AAAA.
#[tokio::test(start_paused = true)]
async fn ipv4_only_skips_aaaa() {
    let dial = FakeDial::new(&[(V4, Peer::Up(1))]);
    let resolver = FakeResolver::new(
        Answer::Addrs(0, &["2001:db8::1"]),
        Answer::Addrs(20, &["192.0.2.1"]),
    );
    let config = Config {
        family: crate::config::FamilyPolicy::Ipv4Only,
        ..Config::default()
    };
    let (_, report) = race(&config, &dial, &resolver).await.unwrap();
    assert_eq!(timeline(&report), [row(20, V4, "connected")]);
    assert_eq!(resolver.queried.lock().unwrap().len(), 1);
}

// DNS answers with unusable destinations (multicast, broadcast, unspecified) are dropped.
#[tokio::test(start_paused = true)]
async fn unusable_answers_are_dropped() {
    let dial = FakeDial::new(&[]);
    let resolver = FakeResolver::new(
        Answer::Addrs(0, &["ff02::1", "::"]),
        Answer::Addrs(0, &["255.255.255.255", "0.0.0.0", "224.0.0.1"]),
    );
    let err = race(&Config::default(), &dial, &resolver)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err:?}");
    assert_eq!(dial.open(), 0);
}

// One address and no timers takes the fast path; it reports exactly what the race would.
#[tokio::test(start_paused = true)]
async fn single_address_fast_path_matches_the_race() {
    let v4: SocketAddr = V4.parse().unwrap();
    for config in [
        Config::default(),
        Config {
            connect_timeout: Some(10_000 * MS),
            ..Config::default()
        },
    ] {
        let dial = FakeDial::new(&[(V4, Peer::Refused(4))]);
        let err = run(
            request(
                Want::StreamOnly,
                &config,
                Source::Addrs(&[v4]),
                "192.0.2.1",
                443,
                Shared::default(),
            ),
            &dial,
            &NoHandshake,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::AllAttemptsFailed(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "connect to 192.0.2.1:443 failed: 192.0.2.1:443 connection refused"
        );
        assert_eq!(timeline(err.report().unwrap()), [row(0, V4, "refused")]);
        assert_eq!(err.report().unwrap().elapsed(), 4 * MS);

        let dial = FakeDial::new(&[(V4, Peer::Up(2))]);
        let (_, report) = run(
            request(
                Want::Report,
                &config,
                Source::Addrs(&[v4]),
                "192.0.2.1",
                443,
                Shared::default(),
            ),
            &dial,
            &NoHandshake,
        )
        .await
        .unwrap();
        assert_eq!(timeline(&report), [row(0, V4, "connected")]);
        assert_eq!(report.winner().unwrap().addr(), v4);
        assert_eq!(report.elapsed(), 2 * MS);
    }
}

// HE-4.1 / HE-4.3 / HE-5.6: resolve_all waits for both answers and orders like a connect.
#[tokio::test(start_paused = true)]
async fn he_4_3_resolve_all_orders_like_a_connect() {
    let dial = FakeDial::new(&[]);
    let resolver = FakeResolver::new(
        Answer::Addrs(30, &["2001:db8::1", "2001:db8::2", "2001:db8::1"]),
        Answer::Addrs(0, &["192.0.2.1", "192.0.2.2", "224.0.0.1"]),
    );
    let t = Instant::now();
    let config = Config::default();
    let addrs = resolve(&config, &dial, &resolver).await.unwrap();
    let want: Vec<SocketAddr> = [V6, V4, V6B, V4B]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(addrs, want);
    assert_eq!(t.elapsed(), 30 * MS, "both answers are awaited");

    let resolver = FakeResolver::new(Answer::Fail(1), Answer::Addrs(2, &[]));
    let err = resolve(&config, &dial, &resolver).await.unwrap_err();
    assert!(matches!(err, Error::ResolutionFailed(_)), "{err:?}");
    let resolver = FakeResolver::new(Answer::Addrs(1, &[]), Answer::Addrs(2, &[]));
    let err = resolve(&config, &dial, &resolver).await.unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "connect to t.example:443 failed: the name has no usable address (AAAA: no records; A: no records)"
    );
}

// SSRF guard: every address denied: nothing is dialled, the error names them all.
#[tokio::test(start_paused = true)]
async fn address_policy_denies_everything() {
    let dial = FakeDial::new(&[(V6, Peer::Up(1)), (V4, Peer::Up(1))]);
    let resolver = one_each();
    let config = Config {
        address_policy: crate::AddressPolicy::public_only(),
        ..Config::default()
    };
    let err = race(&config, &dial, &resolver).await.unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "connect to test.example:443 failed: all 2 addresses were denied by the address policy: 2001:db8::1, 192.0.2.1"
    );
    assert_eq!(
        timeline(err.report().unwrap()),
        [row(0, V6, "denied"), row(0, V4, "denied")]
    );
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::PermissionDenied);
    assert_eq!(dial.open(), 0, "nothing was dialled");

    // resolve_all applies the policy too (reqwest's resolver relies on it).
    let err = resolve(&config, &dial, &resolver).await.unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
}

// SSRF guard: a denied address counts as failed at once, so the next starts without waiting.
#[tokio::test(start_paused = true)]
async fn address_policy_denied_address_moves_on_at_once() {
    let dial = FakeDial::new(&[(V4, Peer::Up(2))]);
    let resolver = one_each();
    let no_v6 = crate::AddressPolicy::custom(|ip| ip.is_ipv4());
    let config = Config {
        address_policy: no_v6,
        ..Config::default()
    };
    let (_, report) = race(&config, &dial, &resolver).await.unwrap();
    assert_eq!(
        timeline(&report),
        [row(0, V6, "denied"), row(0, V4, "connected")]
    );
    assert_eq!(report.elapsed(), 2 * MS);
}

/// A resolver whose answer is a hostile list: thousands of records, duplicates, the other family,
/// v4-mapped, unspecified, multicast and broadcast addresses.
#[derive(Debug)]
struct HostileResolver;

impl Resolve for HostileResolver {
    fn lookup(&self, _name: &str, family: Family) -> Lookup {
        let mut ips: Vec<IpAddr> = Vec::new();
        for i in 0..3000u32 {
            // Duplicates: 40 distinct addresses, below the limit (HE-5.12), so that the whole
            // answer is looked at.
            let n = i % 40;
            ips.push(match family {
                Family::V6 => IpAddr::from(std::net::Ipv6Addr::from(
                    (0x2001_0db8_u128 << 96) | u128::from(n),
                )),
                Family::V4 => IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 | n)),
            });
        }
        ips.extend(
            [
                "::",
                "0.0.0.0",
                "ff02::1",
                "224.0.0.1",
                "255.255.255.255",
                "::ffff:192.0.2.9",
                "192.0.2.77",
            ]
            .iter()
            .map(|s| s.parse::<IpAddr>().unwrap()),
        );
        Box::pin(async move { Ok(ips) })
    }
}

// Hostile DNS answers: no panic, unusable addresses dropped, every usable address tried once.
#[tokio::test(start_paused = true)]
async fn hostile_dns_answers_are_tamed() {
    let dial = FakeDial::new(&[]);
    let config = Config {
        attempt_timeout: Some(MS),
        ..Config::default()
    };
    let err = run(
        request(
            Want::Report,
            &config,
            Source::Resolve {
                resolver: &HostileResolver,
                name: "x".into(),
            },
            "x",
            443,
            Shared::default(),
        ),
        &dial,
        &NoHandshake,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::AllAttemptsFailed(_)), "{err:?}");
    let tried: Vec<SocketAddr> = err.attempts().iter().map(|(a, _)| *a).collect();
    let unique: std::collections::HashSet<_> = tried.iter().collect();
    assert_eq!(unique.len(), tried.len(), "no address twice");
    // 40 IPv6 + 40 IPv4 and 192.0.2.77 from the A answer; the other family's record in each
    // answer is ignored, unspecified, multicast and broadcast are dropped, and the v4-mapped one
    // is 192.0.2.9, already among the IPv4 addresses (HE-5.7).
    assert_eq!(tried.len(), 40 + 41);
    assert!(tried.iter().all(|a| a.ip().to_canonical() == a.ip()));
    assert!(
        tried
            .iter()
            .all(|a| !a.ip().is_unspecified() && !a.ip().is_multicast())
    );
    assert_eq!(dial.open(), 0);
}

/// A lookup that answers late and reports whether its future was dropped unfinished.
#[derive(Debug)]
struct LateResolver {
    dropped: Arc<AtomicUsize>,
}

struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Resolve for LateResolver {
    fn lookup(&self, _name: &str, family: Family) -> Lookup {
        let flag = DropFlag(self.dropped.clone());
        Box::pin(async move {
            let _flag = flag;
            let (ms, ip) = if family == Family::V6 {
                (0, "2001:db8::1")
            } else {
                (100, "192.0.2.1")
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(vec![ip.parse().unwrap()])
        })
    }
}

// HE-3.7: an answer still pending when the race is won is not awaited: it finishes in the
// background (here at 100 ms) and its future is then dropped.
#[tokio::test(start_paused = true)]
async fn he_3_7_lookup_pending_after_the_winner_is_dropped() {
    let dial = FakeDial::new(&[(V6, Peer::Up(1))]);
    let resolver = LateResolver {
        dropped: Arc::new(AtomicUsize::new(0)),
    };
    let (_, report) = run(
        request(
            Want::Report,
            &Config::default(),
            Source::Resolve {
                resolver: &resolver,
                name: "x".into(),
            },
            "x",
            443,
            Shared::default(),
        ),
        &dial,
        &NoHandshake,
    )
    .await
    .unwrap();
    assert_eq!(
        report.elapsed(),
        MS,
        "the winner does not wait for the A answer"
    );
    assert_eq!(
        resolver.dropped.load(Ordering::SeqCst),
        1,
        "the A lookup goes on in the background (to warm a cache)"
    );
    tokio::time::sleep(200 * MS).await;
    assert_eq!(
        resolver.dropped.load(Ordering::SeqCst),
        2,
        "both lookup futures are gone once A answered"
    );
    assert_eq!(report.answers().len(), 1);
}

/// Answers `2001:db8::1` and `192.0.2.1` at once.
fn one_each() -> FakeResolver {
    FakeResolver::new(
        Answer::Addrs(0, &["2001:db8::1"]),
        Answer::Addrs(0, &["192.0.2.1"]),
    )
}

/// A race like [`race`], remembering into `history`.
async fn race_with(
    history: &SharedHistory,
    dial: &FakeDial,
    resolver: &FakeResolver,
) -> Result<(FakeSocket, Report), Error> {
    race_remembering(history, dial, resolver, &NoHandshake).await
}

/// A race like [`race_through`] to `test.example:443`, remembering into `history`.
async fn race_remembering<H: Handshake<FakeSocket>>(
    history: &SharedHistory,
    dial: &FakeDial,
    resolver: &FakeResolver,
    handshake: &H,
) -> Result<(H::Output, Report), Error> {
    run(
        Request {
            want: Want::Report,
            config: &Config::default(),
            settings: Settings::of(&Config::default()),
            source: Source::Resolve {
                resolver,
                name: "test.example".into(),
            },
            label: "test.example",
            host: Some("test.example"),
            port: 443,
            shared: Shared {
                history: Some(history),
                ..Shared::default()
            },
        },
        dial,
        handshake,
    )
    .await
}

fn history() -> SharedHistory {
    let h = crate::config::HistoryConfig::default();
    Mutex::new(History::new(crate::proto::history::Limits {
        max_entries: h.max_entries,
        failure_ttl: h.failure_ttl,
    }))
}

// HE-4.2: IPv6 black-holed: the first connect falls back at 250 ms; the second, with the same
// history, starts with IPv4 at once (IPv6 lost without completing), and IPv6 is still tried if
// IPv4 fails. After the verdict expires, IPv6 goes first again.
#[tokio::test(start_paused = true)]
async fn he_4_2_second_connect_skips_the_black_hole() {
    let history = history();
    let dial = FakeDial::new(&[(V6, Peer::BlackHole), (V4, Peer::Up(3))]);
    let resolver = one_each();
    let (_, first) = race_with(&history, &dial, &resolver).await.unwrap();
    assert_eq!(
        timeline(&first),
        [row(0, V6, "cancelled"), row(250, V4, "connected")]
    );
    assert_eq!(first.attempts()[0].moved_by_history(), None);
    assert_eq!(
        first.attempts()[0].attempt_delay(),
        Some((250 * MS, DelayBasis::Configured))
    );
    let (_, second) = race_with(&history, &dial, &resolver).await.unwrap();
    assert_eq!(timeline(&second), [row(0, V4, "connected")]);
    assert_eq!(second.elapsed(), 3 * MS, "one RTT, not 250 ms");
    assert_eq!(moves(&second), [Some((1, 0))], "history moved IPv4 first");

    // Never exiled: when IPv4 fails, the remembered-bad IPv6 is tried at once.
    let dial_v4_refused = FakeDial::new(&[(V6, Peer::Up(2)), (V4, Peer::Refused(1))]);
    let (_, third) = race_with(&history, &dial_v4_refused, &resolver)
        .await
        .unwrap();
    assert_eq!(
        timeline(&third),
        [row(0, V4, "refused"), row(1, V6, "connected")]
    );
    assert_eq!(moves(&third), [Some((1, 0)), Some((0, 1))]);

    // Now IPv6 worked (2 ms) and IPv4 was refused: IPv6 leads again, and with its RTT known the
    // next attempt comes after its retransmission estimate, at the 100 ms minimum (HE-5.3).
    let (_, fourth) = race_with(&history, &dial, &resolver).await.unwrap();
    assert_eq!(
        timeline(&fourth),
        [row(0, V6, "cancelled"), row(100, V4, "connected")]
    );
    assert_eq!(moves(&fourth), [None, None], "history confirmed the order");
    assert_eq!(
        fourth.attempts()[0].attempt_delay(),
        Some((100 * MS, DelayBasis::OwnRtt))
    );
}

/// Each attempt's move by history, as (from, to).
fn moves(report: &Report) -> Vec<Option<(usize, usize)>> {
    report
        .attempts()
        .iter()
        .map(|a| a.moved_by_history().map(|m| (m.from, m.to)))
        .collect()
}

// HE-4.2: several dead addresses: two AAAA and one A black-holed, one A up. The first connect
// walks all four at 250 ms steps; the second goes to the live one at once, and the dead ones
// are still behind it, in their interleaved order.
#[tokio::test(start_paused = true)]
async fn he_4_2_several_dead_addresses() {
    let history = history();
    let dial = FakeDial::new(&[
        (V6, Peer::BlackHole),
        (V6B, Peer::BlackHole),
        (V4, Peer::BlackHole),
        (V4B, Peer::Up(3)),
    ]);
    let resolver = FakeResolver::new(
        Answer::Addrs(0, &["2001:db8::1", "2001:db8::2"]),
        Answer::Addrs(0, &["192.0.2.1", "192.0.2.2"]),
    );
    let (_, first) = race_with(&history, &dial, &resolver).await.unwrap();
    assert_eq!(
        timeline(&first),
        [
            row(0, V6, "cancelled"),
            row(250, V4, "cancelled"),
            row(500, V6B, "cancelled"),
            row(750, V4B, "connected"),
        ]
    );
    let (_, second) = race_with(&history, &dial, &resolver).await.unwrap();
    assert_eq!(timeline(&second), [row(0, V4B, "connected")]);
    assert_eq!(second.elapsed(), 3 * MS, "one RTT");
    assert_eq!(moves(&second), [Some((3, 0))]);
    let history_of = second.attempts()[0].history().unwrap();
    assert!(history_of.worked() && history_of.connected_ago().is_some());

    // The live one refuses now: the dead ones follow at once, interleaved, none dropped; the
    // server is known to be near (3 ms), so they are staggered by the 100 ms minimum.
    let refused = FakeDial::new(&[
        (V6, Peer::BlackHole),
        (V6B, Peer::BlackHole),
        (V4, Peer::Up(3)),
        (V4B, Peer::Refused(1)),
    ]);
    let (_, third) = race_with(&history, &refused, &resolver).await.unwrap();
    assert_eq!(
        timeline(&third),
        [
            row(0, V4B, "refused"),
            row(1, V6, "cancelled"),
            row(101, V4, "connected"),
        ]
    );
    // 192.0.2.1 has its network's RTT (that of 192.0.2.2), and comes first in the answer.
    assert_eq!(
        third.attempts()[1].attempt_delay(),
        Some((100 * MS, DelayBasis::NearestRtt(V4.parse().unwrap())))
    );
}

// HE-5.3: a far server (350 ms RTT on both families): the first connect wastes a second handshake
// at 250 ms; the second waits for the first's retransmission estimate and makes one attempt only.
#[tokio::test(start_paused = true)]
async fn he_5_3_far_server_second_connect_makes_one_attempt() {
    let history = history();
    let dial = FakeDial::new(&[(V6, Peer::Up(350)), (V4, Peer::Up(350))]);
    let resolver = one_each();
    let (_, first) = race_with(&history, &dial, &resolver).await.unwrap();
    assert_eq!(
        timeline(&first),
        [row(0, V6, "connected"), row(250, V4, "cancelled")]
    );
    let (_, second) = race_with(&history, &dial, &resolver).await.unwrap();
    assert_eq!(timeline(&second), [row(0, V6, "connected")]);
    assert_eq!(second.elapsed(), 350 * MS);
}

// HE-4.2: a failure verdict expires: after its time to live, IPv6 takes its RFC 6724 place
// first again, so a recovered family is used again.
#[tokio::test(start_paused = true)]
async fn he_4_2_verdicts_expire_and_ipv6_returns() {
    let history = history();
    let broken = FakeDial::new(&[(V6, Peer::BlackHole), (V4, Peer::Up(3))]);
    let resolver = one_each();
    race_with(&history, &broken, &resolver).await.unwrap();
    let healthy = FakeDial::new(&[(V6, Peer::Up(2)), (V4, Peer::Up(3))]);
    let (_, soon) = race_with(&history, &healthy, &resolver).await.unwrap();
    assert_eq!(
        timeline(&soon),
        [row(0, V4, "connected")],
        "still deprioritised"
    );
    let ttl = crate::config::HistoryConfig::default().failure_ttl;
    tokio::time::advance(ttl).await;
    let (_, later) = race_with(&history, &healthy, &resolver).await.unwrap();
    assert_eq!(timeline(&later), [row(0, V6, "connected")], "IPv6 is back");
}

// HE-5.3: a near server whose IPv6 is black-holed and whose IPv4 RTT is 2 ms: a connect to
// another host in the same prefixes falls back at the 100 ms minimum, not at 250 ms (its own
// addresses are new: their prefix's RTT, and the race's nearest known RTT, time the attempts).
#[tokio::test(start_paused = true)]
async fn he_5_3_fallback_at_the_minimum_for_a_sibling_host() {
    let history = history();
    let dial = FakeDial::new(&[(V6, Peer::BlackHole), (V4, Peer::Up(2)), (V4B, Peer::Up(2))]);
    let first = one_each();
    let (_, report) = race_with(&history, &dial, &first).await.unwrap();
    assert_eq!(
        timeline(&report),
        [row(0, V6, "cancelled"), row(250, V4, "connected")]
    );
    let sibling = FakeResolver::new(
        Answer::Addrs(0, &["2001:db8::2"]),
        Answer::Addrs(0, &["192.0.2.2"]),
    );
    let (_, report) = race_with(&history, &dial, &sibling).await.unwrap();
    assert_eq!(
        timeline(&report),
        [row(0, V6B, "cancelled"), row(100, V4B, "connected")]
    );
    assert_eq!(
        report.attempts()[0].attempt_delay(),
        Some((100 * MS, DelayBasis::NearestRtt(V4B.parse().unwrap())))
    );
    assert_eq!(report.attempts()[0].history(), None, "nothing of its own");
    assert_eq!(
        report.attempts()[1].history().map(|h| h.prefix_rtt()),
        Some(true)
    );
}

/// What the fake handshake does on a connected socket.
#[derive(Debug, Clone, Copy)]
enum Hs {
    /// Completes after this many ms.
    Ok(u64),
    /// Fails with a reset after this many ms.
    Reset(u64),
    /// Never completes (nothing received).
    Stall,
}

/// A race that runs the fake handshake `hs` (per address; `Hs::Ok(0)` where unlisted) on every
/// attempt whose TCP connect completes, with `config`.
async fn race_hs(
    config: &Config,
    dial: &FakeDial,
    resolver: &FakeResolver,
    hs: &[(&str, Hs)],
) -> Result<(FakeSocket, Report), Error> {
    let table: HashMap<SocketAddr, Hs> = hs.iter().map(|(a, h)| (a.parse().unwrap(), *h)).collect();
    let handshake = move |socket: FakeSocket| {
        let behaviour = table.get(&socket.addr).copied().unwrap_or(Hs::Ok(0));
        async move {
            match behaviour {
                Hs::Ok(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(socket)
                }
                Hs::Reset(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Err(io::Error::from(io::ErrorKind::ConnectionReset))
                }
                Hs::Stall => std::future::pending().await,
            }
        }
    };
    race_through(config, dial, resolver, &handshake, 443).await
}

/// Each attempt's TCP-connected instant in ms.
fn tcp_times(report: &Report) -> Vec<Option<u128>> {
    report
        .attempts()
        .iter()
        .map(|a| a.tcp_connected().map(|t| t.as_millis()))
        .collect()
}

// HE-9.1 / HE-9.2: IPv6 connects, then its handshake is reset: IPv4 starts at that instant and
// wins through its own handshake; the report tells TCP and handshake apart.
#[tokio::test(start_paused = true)]
async fn he_9_2_handshake_reset_starts_ipv4_at_once() {
    let dial = FakeDial::new(&[(V6, Peer::Up(5)), (V4, Peer::Up(3))]);
    let hs = [(V6, Hs::Reset(5)), (V4, Hs::Ok(3))];
    let (_socket, report) = race_hs(&Config::default(), &dial, &one_each(), &hs)
        .await
        .unwrap();
    assert_eq!(
        timeline(&report),
        [row(0, V6, "handshake failed"), row(10, V4, "connected")]
    );
    assert_eq!(tcp_times(&report), [Some(5), Some(13)]);
    assert_eq!(report.elapsed(), 16 * MS);
    assert_eq!(
        dial.open(),
        1,
        "the reset socket is closed, the winner open"
    );
}

// HE-9.2: every handshake fails: the error lists each attempt as connected, then failed.
#[tokio::test(start_paused = true)]
async fn he_9_2_all_handshakes_fail() {
    let dial = FakeDial::new(&[(V6, Peer::Up(5)), (V4, Peer::Up(3))]);
    let hs = [(V6, Hs::Reset(1)), (V4, Hs::Reset(1))];
    let err = race_hs(&Config::default(), &dial, &one_each(), &hs)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AllAttemptsFailed(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("[2001:db8::1]:443 connected, then the handshake failed: connection reset")
            && text.contains("192.0.2.1:443 connected, then the handshake failed"),
        "{text}"
    );
    assert_eq!(
        err.attempts()[0].1.kind(),
        io::ErrorKind::ConnectionReset,
        "the handshake's error kind is kept"
    );
    assert_eq!(dial.open(), 0);
}

// HE-9.3: IPv6 connects at 100 ms, then its handshake stalls: the next attempt waits for the
// handshake estimate (100 + 2 x 100 + 10 = 310 ms) instead of 250 ms; a stall after a slower
// TCP (200 ms) holds it back by at most one more delay (500 ms). IPv4 wins; the stalled
// handshake is dropped and its socket closed (HE-9.4).
#[tokio::test(start_paused = true)]
async fn he_9_3_stalled_handshake_holds_the_next_attempt_within_bounds() {
    for (tcp_ms, ipv4_at) in [(100, 310), (200, 500), (2, 250)] {
        let dial = FakeDial::new(&[(V6, Peer::Up(tcp_ms)), (V4, Peer::Up(3))]);
        let hs = [(V6, Hs::Stall), (V4, Hs::Ok(3))];
        let (_socket, report) = race_hs(&Config::default(), &dial, &one_each(), &hs)
            .await
            .unwrap();
        assert_eq!(
            timeline(&report),
            [row(0, V6, "cancelled"), row(ipv4_at, V4, "connected")],
            "IPv6 TCP at {tcp_ms} ms"
        );
        assert_eq!(report.elapsed(), (ipv4_at as u32 + 6) * MS);
        assert_eq!(
            tcp_times(&report),
            [Some(tcp_ms as u128), Some(ipv4_at + 3)]
        );
        assert_eq!(dial.open(), 1, "only the winner is open");
    }
}

// HE-9.1: the first TCP connection is not the winner: IPv6's TCP completes first but its
// handshake is slow (600 ms); IPv4, started at 250 ms, completes its handshake first and wins.
#[tokio::test(start_paused = true)]
async fn he_9_1_first_usable_connection_wins() {
    let dial = FakeDial::new(&[(V6, Peer::Up(5)), (V4, Peer::Up(3))]);
    let hs = [(V6, Hs::Ok(600)), (V4, Hs::Ok(3))];
    let (socket, report) = race_hs(&Config::default(), &dial, &one_each(), &hs)
        .await
        .unwrap();
    assert_eq!(socket.addr, V4.parse().unwrap());
    assert_eq!(
        timeline(&report),
        [row(0, V6, "cancelled"), row(250, V4, "connected")]
    );
    assert_eq!(tcp_times(&report), [Some(5), Some(253)]);
    drop(socket);
    assert_eq!(dial.open(), 0);
}

// HE-9.4: a connect dropped mid-handshake closes every socket; a connect timeout mid-handshake
// fails with every attempt listed.
#[tokio::test(start_paused = true)]
async fn he_9_4_cancelled_or_timed_out_mid_handshake() {
    let dial = FakeDial::new(&[(V6, Peer::Up(5)), (V4, Peer::Up(3))]);
    let hs = [(V6, Hs::Stall), (V4, Hs::Stall)];
    let resolver = one_each();
    let config = Config::default();
    let dropped = tokio::time::timeout(300 * MS, race_hs(&config, &dial, &resolver, &hs)).await;
    assert!(dropped.is_err(), "still handshaking at 300 ms");
    assert_eq!(dial.open(), 0, "both handshakes dropped, sockets closed");

    let config = Config {
        connect_timeout: Some(400 * MS),
        ..Config::default()
    };
    let err = race_hs(&config, &dial, &resolver, &hs).await.unwrap_err();
    assert!(matches!(err, Error::TimedOut(_)), "{err}");
    let report = err.report().unwrap();
    assert_eq!(
        timeline(report),
        [row(0, V6, "timed out"), row(250, V4, "timed out")]
    );
    assert_eq!(tcp_times(report), [Some(5), Some(253)]);
    assert_eq!(dial.open(), 0);
}

// HE-9.1: a plain connect (no handshake) records no TCP-connected time of its own: the attempt's
// end is that time.
#[tokio::test(start_paused = true)]
async fn he_9_1_plain_connect_has_no_handshake_phase() {
    let dial = FakeDial::new(&[(V6, Peer::Up(5))]);
    let (_, report) = race(&Config::default(), &dial, &one_each()).await.unwrap();
    assert_eq!(tcp_times(&report), [None]);
    assert_eq!(report.attempts()[0].ended(), Some(5 * MS));
}

/// An HTTPS record's RDATA: ServiceMode priority 1, target ".", with these hints.
fn https_rdata(port: Option<u16>, hints: &[&str]) -> Vec<u8> {
    let mut r = crate::proto::svcb::ServiceRecord::default();
    (r.priority, r.port) = (1, port);
    for hint in hints {
        match hint.parse::<IpAddr>().unwrap() {
            IpAddr::V6(ip) => r.ipv6_hints.push(ip),
            IpAddr::V4(ip) => r.ipv4_hints.push(ip),
        }
    }
    r.to_rdata().expect("an encodable record")
}

/// A race for `test.example:port` with HTTPS records on.
async fn race_https(
    dial: &FakeDial,
    resolver: &FakeResolver,
    port: u16,
) -> Result<(FakeSocket, Report), Error> {
    let config = Config {
        https_records: true,
        ..Config::default()
    };
    race_through(&config, dial, resolver, &NoHandshake, port).await
}

// HE-10.2 / HE-10.5: AAAA and A 400 ms late, the HTTPS record's IPv6 hint at once: the connect
// goes through the hint at 0 ms; the HTTPS query was asked first, under the port's name.
#[tokio::test(start_paused = true)]
async fn he_10_5_hint_connects_before_late_address_answers() {
    let dial = FakeDial::new(&[("[2001:db8::9]:443", Peer::Up(3))]);
    let resolver = FakeResolver::new(
        Answer::Addrs(400, &["2001:db8::1"]),
        Answer::Addrs(400, &["192.0.2.1"]),
    )
    .with_https(0, vec![https_rdata(None, &["2001:db8::9"])]);
    let (_socket, report) = race_https(&dial, &resolver, 443).await.unwrap();
    assert_eq!(
        timeline(&report),
        [row(0, "[2001:db8::9]:443", "connected")]
    );
    assert_eq!(report.elapsed(), 3 * MS);
    let endpoint = report.attempts()[0].endpoint().unwrap();
    assert_eq!((endpoint.priority, endpoint.port), (1, 443));
    let answer = report.service_answer().unwrap();
    assert_eq!(answer.result().unwrap().len(), 1);
    assert_eq!(
        resolver.https_queried.lock().unwrap().as_slice(),
        [("test.example".to_string(), Duration::ZERO)]
    );
}

// HE-10.2: for a port other than 443 the query name is `_PORT._https.NAME`; the record's port
// parameter sets the endpoint's port.
#[tokio::test(start_paused = true)]
async fn he_10_2_query_name_for_another_port_and_port_parameter() {
    let dial = FakeDial::new(&[("[2001:db8::1]:9443", Peer::Up(2))]);
    let resolver = FakeResolver::new(Answer::Addrs(0, &["2001:db8::1"]), Answer::Addrs(0, &[]))
        .with_https(10, vec![https_rdata(Some(9443), &[])]);
    let (_socket, report) = race_https(&dial, &resolver, 8080).await.unwrap();
    assert_eq!(
        timeline(&report),
        [row(10, "[2001:db8::1]:9443", "connected")],
        "HE-10.3: waits for the HTTPS answer (10 ms), not for the Resolution Delay"
    );
    assert_eq!(
        resolver.https_queried.lock().unwrap()[0].0,
        "_8080._https.test.example"
    );
}

// HE-10.3: an HTTPS answer that never comes delays the connect by the Resolution Delay only.
#[tokio::test(start_paused = true)]
async fn he_10_3_slow_https_answer_costs_the_resolution_delay_at_most() {
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let resolver = one_each().with_https(10_000, vec![]);
    let (_socket, report) = race_https(&dial, &resolver, 443).await.unwrap();
    assert_eq!(timeline(&report), [row(50, V6, "connected")]);
    assert!(
        report.service_answer().is_none(),
        "still pending when the race ended"
    );
}

// HE-10.1: a malformed record is ignored (and counted); the valid one is used.
#[tokio::test(start_paused = true)]
async fn he_10_1_malformed_record_is_ignored() {
    let dial = FakeDial::new(&[("[2001:db8::9]:443", Peer::Up(1))]);
    let resolver = FakeResolver::new(Answer::Never, Answer::Never).with_https(
        0,
        vec![vec![0, 1, 0xc0], https_rdata(None, &["2001:db8::9"])],
    );
    let (_socket, report) = race_https(&dial, &resolver, 443).await.unwrap();
    assert_eq!(report.service_answer().unwrap().malformed(), 1);
    assert_eq!(
        timeline(&report),
        [row(0, "[2001:db8::9]:443", "connected")]
    );
}

/// A handshake that notes when it began and with which endpoint's port, and that relies on the
/// HTTPS records (HE-11.5) when `waits`.
struct NotingHandshake {
    waits: bool,
    began: Arc<std::sync::Mutex<Vec<Began>>>,
    t0: tokio::time::Instant,
}

/// When a handshake began, and its endpoint's port.
type Began = (Duration, Option<u16>);

impl Handshake<FakeSocket> for NotingHandshake {
    type Output = FakeSocket;
    type Future = std::future::Ready<io::Result<FakeSocket>>;

    fn handshake(&self, stream: FakeSocket, to: &Destination<'_>) -> Self::Future {
        let port = to.endpoint().map(|e| e.port);
        self.began.lock().unwrap().push((self.t0.elapsed(), port));
        std::future::ready(Ok(stream))
    }

    fn waits_for_service(&self) -> bool {
        self.waits
    }
}

// HE-11.5: a handshake that relies on the HTTPS records waits for their answer: A at once, the
// HTTPS answer at 300 ms; TCP connects at 51 ms (after the Resolution Delay), the handshake
// begins at 300 ms, with the record's endpoint. One that does not rely on them begins at once,
// with none.
#[tokio::test(start_paused = true)]
async fn he_11_5_a_handshake_that_relies_on_the_records_waits_for_them() {
    for (waits, want) in [(true, (300, Some(443))), (false, (51, None))] {
        let dial = FakeDial::new(&[(V4, Peer::Up(1))]);
        let resolver = FakeResolver::new(Answer::Addrs(0, &[]), Answer::Addrs(0, &["192.0.2.1"]))
            .with_https(300, vec![https_rdata(None, &[])]);
        let config = Config {
            https_records: true,
            ..Config::default()
        };
        let handshake = NotingHandshake {
            waits,
            began: Arc::default(),
            t0: tokio::time::Instant::now(),
        };
        let (_socket, report) = race_through(&config, &dial, &resolver, &handshake, 443)
            .await
            .unwrap();
        let began = handshake.began.lock().unwrap().clone();
        let (at, port) = began[0];
        assert_eq!(
            (at.as_millis() as u64, port),
            want,
            "waits: {waits}; {report}"
        );
        assert_eq!(report.attempts().len(), 1);
    }
}

// HE-10.2: with HTTPS records off (the default) nothing is asked and nothing waits.
#[tokio::test(start_paused = true)]
async fn he_10_2_off_by_default_asks_nothing() {
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let resolver = one_each().with_https(0, vec![https_rdata(None, &["2001:db8::9"])]);
    let (_socket, report) = race(&Config::default(), &dial, &resolver).await.unwrap();
    assert_eq!(timeline(&report), [row(0, V6, "connected")]);
    assert!(resolver.https_queried.lock().unwrap().is_empty());
    assert!(report.service_answer().is_none());
}

// HE-10.7: AliasMode to svc.cdn.test, whose ServiceMode record (".") says port 8443: the alias
// target's HTTPS records and then its addresses are asked for, and the connect goes there.
#[tokio::test(start_paused = true)]
async fn he_10_7_alias_then_target_addresses() {
    let mut alias = crate::proto::svcb::ServiceRecord::default();
    alias.target = "svc.cdn.test".into();
    let dial = FakeDial::new(&[("[2001:db8::5]:8443", Peer::Up(2))]);
    let resolver = FakeResolver::new(Answer::Addrs(0, &["2001:db8::1"]), Answer::Addrs(0, &[]))
        .with_https(0, vec![alias.to_rdata().expect("an encodable record")])
        .with_name(
            "svc.cdn.test",
            vec![https_rdata(Some(8443), &[])],
            &["2001:db8::5"],
        );
    let (_socket, report) = race_https(&dial, &resolver, 443).await.unwrap();
    assert_eq!(
        timeline(&report),
        [row(0, "[2001:db8::5]:8443", "connected")]
    );
    let endpoint = report.attempts()[0].endpoint().unwrap();
    assert_eq!(endpoint.record.target, "svc.cdn.test");
    let asked: Vec<String> = resolver
        .https_queried
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(
        asked,
        ["test.example", "svc.cdn.test"],
        "the alias was followed"
    );
}

// HE-10.5: hints replaced: the hint 2001:db8::9 is tried at once (it is black-holed); AAAA at
// 20 ms brings 2001:db8::1 and not the other hint 2001:db8::10, which is dropped; the real
// address is tried next, at 250 ms, and connects.
#[tokio::test(start_paused = true)]
async fn he_10_5_real_answer_replaces_the_hints() {
    let dial = FakeDial::new(&[
        ("[2001:db8::9]:443", Peer::BlackHole),
        ("[2001:db8::10]:443", Peer::Up(1)),
        (V6, Peer::Up(1)),
    ]);
    let resolver = FakeResolver::new(Answer::Addrs(20, &["2001:db8::1"]), Answer::Addrs(20, &[]))
        .with_https(0, vec![https_rdata(None, &["2001:db8::9", "2001:db8::10"])]);
    let (_socket, report) = race_https(&dial, &resolver, 443).await.unwrap();
    assert_eq!(
        timeline(&report),
        [
            row(0, "[2001:db8::9]:443", "cancelled"),
            row(250, V6, "connected"),
        ]
    );
}

// HE-3.7: a lookup still pending when the race is won goes on in the background, up to 1 s, so
// a caching resolver has the answer next time; one that would take longer is given up.
#[tokio::test(start_paused = true)]
async fn he_3_7_late_answers_are_processed_for_a_second() {
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let resolver = FakeResolver::new(
        Answer::Addrs(0, &["2001:db8::1"]),
        Answer::Addrs(400, &["192.0.2.1"]),
    );
    let (_socket, report) = race(&Config::default(), &dial, &resolver).await.unwrap();
    assert_eq!(report.elapsed(), 2 * MS, "the race did not wait for A");
    tokio::time::sleep(500 * MS).await;
    let finished = resolver.finished.lock().unwrap().clone();
    assert_eq!(
        finished,
        [(Family::V6, Duration::ZERO), (Family::V4, 400 * MS)],
        "the A lookup ran to its end after the race"
    );

    let slow = FakeResolver::new(
        Answer::Addrs(0, &["2001:db8::1"]),
        Answer::Addrs(1_500, &["192.0.2.1"]),
    );
    race(&Config::default(), &dial, &slow).await.unwrap();
    tokio::time::sleep(3_000 * MS).await;
    let finished = slow.finished.lock().unwrap().clone();
    assert_eq!(
        finished,
        [(Family::V6, Duration::ZERO)],
        "given up after 1 s"
    );
}

/// NAT64 on an IPv6-only network (HE-7.1 to HE-7.9): prefix discovery, synthesis, DNS64
/// answers and the address policy.
mod nat64 {
    use super::*;
    use crate::nat64::{Nat64Mode, Nat64Prefix, Nat64Shared, PrefixSource, SynthesizedBy};
    use std::net::Ipv4Addr;

    /// The network-specific prefix the fake network's resolver reveals.
    const NSP_WKA: &[&str] = &["2001:db8:64::c000:aa", "2001:db8:64::c000:ab"];
    /// 198.51.100.10 under 2001:db8:64::/96.
    const SYNTH: &str = "[2001:db8:64::c633:640a]:443";

    fn nsp() -> Nat64Prefix {
        Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap()
    }

    /// One connect to `source` with the connector-wide NAT64 state `nat64`.
    async fn connect(
        config: &Config,
        dial: &FakeDial,
        resolver: &FakeResolver,
        source: Source<'_>,
        nat64: &Arc<Nat64Shared>,
    ) -> Result<(FakeSocket, Report), Error> {
        let shared = Shared {
            nat64: Some(nat64),
            resolver: Some(resolver),
            ..Shared::default()
        };
        run(
            request(Want::Report, config, source, "t.example", 443, shared),
            dial,
            &NoHandshake,
        )
        .await
    }

    /// [`connect`] to the one address `addr`, as a literal or a given address list has it.
    async fn connect_addr(
        config: &Config,
        dial: &FakeDial,
        resolver: &FakeResolver,
        addr: &str,
        nat64: &Arc<Nat64Shared>,
    ) -> Result<(FakeSocket, Report), Error> {
        let addrs = [addr.parse().unwrap()];
        connect(config, dial, resolver, Source::Addrs(&addrs), nat64).await
    }

    fn by_name(resolver: &FakeResolver) -> Source<'_> {
        Source::Resolve {
            resolver,
            name: "t.example".into(),
        }
    }

    // HE-7.1, HE-7.7, HE-7.9: an IPv4 literal on a network without an IPv4 route: the prefix is
    // discovered (RFC 7050) and the literal reached through it as soon as it is known; the next
    // connect uses the remembered prefix at once, without asking again.
    #[tokio::test(start_paused = true)]
    async fn he_7_1_ipv4_literal_through_the_discovered_prefix() {
        let dial = FakeDial::ipv6_only(&[(SYNTH, Peer::Up(5))]);
        let resolver = FakeResolver::new(Answer::Never, Answer::Never).with_ipv4only(20, NSP_WKA);
        let nat64 = Arc::new(Nat64Shared::default());
        let config = Config::default();
        let (_s, report) = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64)
            .await
            .unwrap();
        assert_eq!(timeline(&report), [row(20, SYNTH, "connected")]);
        assert_eq!(report.elapsed(), 25 * MS);
        let t = report.winner().unwrap().translation().copied().unwrap();
        assert_eq!(t.ipv4, "198.51.100.10".parse::<Ipv4Addr>().unwrap());
        assert_eq!(
            (t.prefix, t.by, t.learned),
            (nsp(), SynthesizedBy::Client, PrefixSource::Discovered)
        );
        assert_eq!(
            report.nat64_prefix(),
            Some((nsp(), PrefixSource::Discovered))
        );
        assert!(
            report.to_string().contains("NAT64 to 198.51.100.10"),
            "{report}"
        );

        let (_s, report) = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64)
            .await
            .unwrap();
        assert_eq!(timeline(&report), [row(0, SYNTH, "connected")]);
        assert_eq!(
            resolver.ipv4only_queried.lock().unwrap().len(),
            1,
            "asked once"
        );
    }

    // HE-7.7: on a network with an IPv4 route nothing is asked and nothing synthesized, for a
    // literal or a name with A records only.
    #[tokio::test(start_paused = true)]
    async fn he_7_7_dual_stack_never_discovers() {
        let dial = FakeDial::new(&[("198.51.100.10:443", Peer::Up(5))]);
        let resolver =
            FakeResolver::new(Answer::Addrs(0, &[]), Answer::Addrs(0, &["198.51.100.10"]))
                .with_ipv4only(0, NSP_WKA);
        let nat64 = Arc::new(Nat64Shared::default());
        let config = Config::default();
        let (_s, report) = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64)
            .await
            .unwrap();
        assert_eq!(
            timeline(&report),
            [row(0, "198.51.100.10:443", "connected")]
        );
        let (_s, report) = connect(&config, &dial, &resolver, by_name(&resolver), &nat64)
            .await
            .unwrap();
        assert_eq!(
            timeline(&report),
            [row(0, "198.51.100.10:443", "connected")]
        );
        assert_eq!(report.nat64_prefix(), None);
        assert!(
            resolver.ipv4only_queried.lock().unwrap().is_empty(),
            "never asked"
        );
    }

    // HE-7.1, HE-7.7: a name with A records only: discovery runs alongside AAAA and A (asked
    // at 0 ms, no extra round trip), and the A answer is synthesized once the prefix is known.
    #[tokio::test(start_paused = true)]
    async fn he_7_1_a_only_name_is_synthesized() {
        let dial = FakeDial::ipv6_only(&[(SYNTH, Peer::Up(5))]);
        let resolver = FakeResolver::new(
            Answer::Addrs(10, &[]),
            Answer::Addrs(10, &["198.51.100.10"]),
        )
        .with_ipv4only(30, NSP_WKA);
        let nat64 = Arc::new(Nat64Shared::default());
        let (_s, report) = connect(
            &Config::default(),
            &dial,
            &resolver,
            by_name(&resolver),
            &nat64,
        )
        .await
        .unwrap();
        assert_eq!(*resolver.ipv4only_queried.lock().unwrap(), [Duration::ZERO]);
        assert_eq!(timeline(&report), [row(30, SYNTH, "connected")]);
        let t = report.winner().unwrap().translation().unwrap();
        assert_eq!(t.by, SynthesizedBy::Client);
    }

    // HE-7.2, HE-7.8: a name whose AAAA is black-holed falls back through the synthesized
    // address, which is interleaved as IPv4 (after the first IPv6 address, before the second).
    #[tokio::test(start_paused = true)]
    async fn he_7_2_broken_aaaa_falls_back_through_the_translation() {
        let dial = FakeDial::ipv6_only(&[(SYNTH, Peer::Up(5))]);
        let resolver = FakeResolver::new(
            Answer::Addrs(0, &["2001:db8::1", "2001:db8::2"]),
            Answer::Addrs(0, &["198.51.100.10"]),
        );
        let config = Config {
            nat64: Nat64Mode::Prefix(nsp()),
            ..Config::default()
        };
        let nat64 = Arc::new(Nat64Shared::default());
        let (_s, report) = connect(&config, &dial, &resolver, by_name(&resolver), &nat64)
            .await
            .unwrap();
        assert_eq!(
            timeline(&report),
            [row(0, V6, "cancelled"), row(250, SYNTH, "connected"),]
        );
        let t = report.winner().unwrap().translation().unwrap();
        assert_eq!(t.learned, PrefixSource::Configured);
        assert!(
            resolver.ipv4only_queried.lock().unwrap().is_empty(),
            "configured: no discovery"
        );
    }

    // HE-7.6: the address policy judges a translation by the IPv4 address it reaches: a DNS64
    // answer in the well-known prefix, one in the network's prefix, and a synthesized A answer
    // carrying 10.0.0.1 are all denied by a policy that denies 10.0.0.0/8.
    #[tokio::test(start_paused = true)]
    async fn he_7_6_policy_judges_translations_by_their_ipv4_address() {
        let no_ten = crate::AddressPolicy::custom(|ip| match ip {
            IpAddr::V4(v4) => v4.octets()[0] != 10,
            IpAddr::V6(_) => true,
        });
        for (aaaa, a, policy) in [
            (
                &["64:ff9b::a00:1"][..],
                &[][..],
                crate::AddressPolicy::public_only(),
            ),
            (&["64:ff9b::a00:1"][..], &[][..], no_ten.clone()),
            (&["2001:db8:64::a00:1"][..], &[][..], no_ten.clone()),
            (&[][..], &["10.0.0.1"][..], no_ten.clone()),
        ] {
            let dial = FakeDial::ipv6_only(&[]);
            let resolver = FakeResolver::new(Answer::Addrs(0, aaaa), Answer::Addrs(0, a))
                .with_ipv4only(0, NSP_WKA);
            let config = Config {
                address_policy: policy,
                ..Config::default()
            };
            let nat64 = Arc::new(Nat64Shared::default());
            let err = connect(&config, &dial, &resolver, by_name(&resolver), &nat64)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("denied"), "{aaaa:?} {a:?}: {err}");
            let report = err.report().unwrap();
            let t = report.attempts()[0].translation().unwrap();
            assert_eq!(
                t.ipv4,
                "10.0.0.1".parse::<Ipv4Addr>().unwrap(),
                "{aaaa:?} {a:?}"
            );
            assert_eq!(dial.open(), 0);
        }
    }

    // HE-7.5: loopback and the other host-scoped IPv4 ranges are never synthesized; when the
    // network has no NAT64 (no prefix in the answer) IPv4 literals are tried as they are.
    #[tokio::test(start_paused = true)]
    async fn he_7_5_no_synthesis_for_host_scoped_addresses_or_without_a_prefix() {
        let dial = FakeDial::ipv6_only(&[
            ("127.0.0.1:443", Peer::Refused(1)),
            ("198.51.100.10:443", Peer::Refused(1)),
        ]);
        let resolver = FakeResolver::new(Answer::Never, Answer::Never).with_ipv4only(0, NSP_WKA);
        let nat64 = Arc::new(Nat64Shared::default());
        let err = connect_addr(
            &Config::default(),
            &dial,
            &resolver,
            "127.0.0.1:443",
            &nat64,
        )
        .await
        .unwrap_err();
        assert_eq!(
            timeline(err.report().unwrap()),
            [row(0, "127.0.0.1:443", "refused")]
        );

        let no_nat64 = FakeResolver::new(Answer::Never, Answer::Never).with_ipv4only(15, &[]);
        let nat64 = Arc::new(Nat64Shared::default());
        let err = connect_addr(
            &Config::default(),
            &dial,
            &no_nat64,
            "198.51.100.10:443",
            &nat64,
        )
        .await
        .unwrap_err();
        assert_eq!(
            timeline(err.report().unwrap()),
            [row(15, "198.51.100.10:443", "refused")]
        );
        assert_eq!(err.report().unwrap().nat64_prefix(), None);
    }

    // HE-7.7: concurrent connects on a new network share one discovery.
    #[tokio::test(start_paused = true)]
    async fn he_7_7_concurrent_connects_share_one_discovery() {
        let dial = FakeDial::ipv6_only(&[(SYNTH, Peer::Up(5))]);
        let resolver = FakeResolver::new(Answer::Never, Answer::Never).with_ipv4only(20, NSP_WKA);
        let nat64 = Arc::new(Nat64Shared::default());
        let config = Config::default();
        let one = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64);
        let two = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64);
        let (one, two) = futures::future::join(one, two).await;
        assert_eq!(one.unwrap().1.elapsed(), 25 * MS);
        assert_eq!(two.unwrap().1.elapsed(), 25 * MS);
        assert_eq!(resolver.ipv4only_queried.lock().unwrap().len(), 1);
    }

    // HE-7.1: an `ipv4hint` is synthesized like an A answer: with the prefix known it is tried
    // through NAT64 as any IPv4 hint is (after the Resolution Delay, AAAA being late); while
    // discovery runs it is left out, and the A answer's translation goes once the prefix is
    // known.
    #[tokio::test(start_paused = true)]
    async fn he_7_1_ipv4_hints_are_synthesized() {
        let dial = FakeDial::ipv6_only(&[(SYNTH, Peer::Up(3))]);
        let resolver = FakeResolver::new(
            Answer::Addrs(400, &[]),
            Answer::Addrs(400, &["198.51.100.10"]),
        )
        .with_https(0, vec![https_rdata(None, &["198.51.100.10"])]);
        let config = Config {
            https_records: true,
            nat64: Nat64Mode::Prefix(nsp()),
            ..Config::default()
        };
        let nat64 = Arc::new(Nat64Shared::default());
        let (_s, report) = connect(&config, &dial, &resolver, by_name(&resolver), &nat64)
            .await
            .unwrap();
        assert_eq!(timeline(&report), [row(50, SYNTH, "connected")]);
        assert_eq!(
            report.winner().unwrap().translation().unwrap().ipv4,
            "198.51.100.10".parse::<Ipv4Addr>().unwrap()
        );

        let resolver =
            FakeResolver::new(Answer::Addrs(0, &[]), Answer::Addrs(10, &["198.51.100.10"]))
                .with_https(0, vec![https_rdata(None, &["198.51.100.10"])])
                .with_ipv4only(30, NSP_WKA);
        let config = Config {
            https_records: true,
            ..Config::default()
        };
        let (_s, report) = connect(&config, &dial, &resolver, by_name(&resolver), &nat64)
            .await
            .unwrap();
        assert_eq!(timeline(&report), [row(30, SYNTH, "connected")]);
    }

    // HE-7.6: with an address policy, a DNS64 answer in the network's prefix cannot slip past
    // it while the prefix is still being discovered: every destination waits for the prefix
    // (here 30 ms), then the answer is judged as the IPv4 address it carries. Without a policy
    // nothing waits.
    #[tokio::test(start_paused = true)]
    async fn he_7_6_dns64_answer_waits_for_the_prefix_under_a_policy() {
        // A prefix outside the documentation ranges, so that only NAT64 knowledge can deny it.
        const PUBLIC_NSP: &[&str] = &["2a00:1:64::c000:aa"];
        let smuggled = "[2a00:1:64::a00:1]:443";
        let dial = FakeDial::ipv6_only(&[(smuggled, Peer::Up(1))]);
        let resolver = FakeResolver::new(
            Answer::Addrs(0, &["2a00:1:64::a00:1"]),
            Answer::Addrs(0, &[]),
        )
        .with_ipv4only(30, PUBLIC_NSP);
        let config = Config {
            address_policy: crate::AddressPolicy::public_only(),
            ..Config::default()
        };
        let nat64 = Arc::new(Nat64Shared::default());
        let err = connect(&config, &dial, &resolver, by_name(&resolver), &nat64)
            .await
            .unwrap_err();
        assert_eq!(
            timeline(err.report().unwrap()),
            [row(30, smuggled, "denied")]
        );
        let t = err.report().unwrap().attempts()[0].translation().unwrap();
        assert_eq!(
            (t.ipv4, t.by),
            ("10.0.0.1".parse().unwrap(), SynthesizedBy::Dns64)
        );

        let nat64 = Arc::new(Nat64Shared::default());
        let (_s, report) = connect(
            &Config::default(),
            &dial,
            &resolver,
            by_name(&resolver),
            &nat64,
        )
        .await
        .unwrap();
        assert_eq!(timeline(&report), [row(0, smuggled, "connected")]);
    }

    // HE-7.7: the prefix is remembered per network: on another network (another IPv6 source
    // address) discovery runs again; back on the first, the remembered prefix is used.
    #[tokio::test(start_paused = true)]
    async fn he_7_7_another_network_discovers_again() {
        let dial = FakeDial::ipv6_only(&[(SYNTH, Peer::Up(1))]);
        let resolver = FakeResolver::new(Answer::Never, Answer::Never).with_ipv4only(20, NSP_WKA);
        let nat64 = Arc::new(Nat64Shared::default());
        let config = Config::default();
        let mut starts = Vec::new();
        for network in [None, Some("2001:db8:77::2"), None, Some("2001:db8:77::2")] {
            *dial.v6_source.lock().unwrap() = network.map(|a| a.parse().unwrap());
            let (_s, report) = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64)
                .await
                .unwrap();
            starts.push(report.attempts()[0].started().as_millis());
        }
        assert_eq!(starts, [20, 20, 0, 0]);
        assert_eq!(resolver.ipv4only_queried.lock().unwrap().len(), 2);
    }

    // HE-7.7, nothing leaks: a connect cancelled while discovery runs drops the discovery with
    // it (the connector keeps no strong hold on it), and the next connect asks again.
    #[tokio::test(start_paused = true)]
    async fn he_7_7_cancelled_connect_drops_its_discovery() {
        let dial = FakeDial::ipv6_only(&[(SYNTH, Peer::Up(1))]);
        let resolver =
            FakeResolver::new(Answer::Never, Answer::Never).with_ipv4only(1_000, NSP_WKA);
        let nat64 = Arc::new(Nat64Shared::default());
        let config = Config::default();
        let cancelled = tokio::time::timeout(
            10 * MS,
            connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64),
        )
        .await;
        assert!(cancelled.is_err());
        assert_eq!(
            resolver.ipv4only_dropped.load(Ordering::SeqCst),
            1,
            "dropped at once"
        );
        assert_eq!(dial.open(), 0);
        let (_s, report) = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64)
            .await
            .unwrap();
        assert_eq!(timeline(&report), [row(1_000, SYNTH, "connected")]);
        assert_eq!(resolver.ipv4only_queried.lock().unwrap().len(), 2);
    }

    // HE-7.6: a network may reveal several prefixes (RFC 7050); a DNS64 answer in any of them is
    // judged by its IPv4 address.
    #[tokio::test(start_paused = true)]
    async fn he_7_6_every_discovered_prefix_is_recognised() {
        const TWO: &[&str] = &["2001:db8:64::c000:aa", "2001:db8:65::c000:aa"];
        let no_ten = crate::AddressPolicy::custom(|ip| match ip {
            IpAddr::V4(v4) => v4.octets()[0] != 10,
            IpAddr::V6(_) => true,
        });
        let dial = FakeDial::ipv6_only(&[]);
        let resolver = FakeResolver::new(
            Answer::Addrs(0, &["2001:db8:65::a00:1"]),
            Answer::Addrs(0, &[]),
        )
        .with_ipv4only(0, TWO);
        let config = Config {
            address_policy: no_ten,
            ..Config::default()
        };
        let nat64 = Arc::new(Nat64Shared::default());
        let err = connect(&config, &dial, &resolver, by_name(&resolver), &nat64)
            .await
            .unwrap_err();
        let report = err.report().unwrap();
        assert_eq!(
            timeline(report),
            [row(0, "[2001:db8:65::a00:1]:443", "denied")]
        );
        let t = report.attempts()[0].translation().unwrap();
        assert_eq!(
            t.prefix,
            Nat64Prefix::new("2001:db8:65::".parse().unwrap(), 96).unwrap()
        );
        // The first prefix is the one synthesized with.
        assert_eq!(
            report.nat64_prefix(),
            Some((nsp(), PrefixSource::Discovered))
        );
    }

    // HE-7.7: with NAT64 off nothing is asked and IPv4 stays IPv4.
    #[tokio::test(start_paused = true)]
    async fn he_7_7_off_means_off() {
        let dial = FakeDial::ipv6_only(&[("198.51.100.10:443", Peer::Refused(1))]);
        let resolver = FakeResolver::new(Answer::Never, Answer::Never).with_ipv4only(0, NSP_WKA);
        let config = Config {
            nat64: Nat64Mode::Off,
            ..Config::default()
        };
        let nat64 = Arc::new(Nat64Shared::default());
        let err = connect_addr(&config, &dial, &resolver, "198.51.100.10:443", &nat64)
            .await
            .unwrap_err();
        assert_eq!(
            timeline(err.report().unwrap()),
            [row(0, "198.51.100.10:443", "refused")]
        );
        assert!(resolver.ipv4only_queried.lock().unwrap().is_empty());
    }
}

/// `n` IPv4 addresses in 198.18.0.0/15 (benchmarking: 10,000 do not fit the documentation ranges).
fn many_v4(n: u32) -> &'static [&'static str] {
    let addrs: Vec<&'static str> = (0..n)
        .map(|i| &*String::leak(std::net::Ipv4Addr::from(0xc612_0000 + i + 1).to_string()))
        .collect();
    addrs.leak()
}

// HE-5.10: a 10,000-address answer costs at most one batch of source lookups (a system call each
// on a real network) per poll, and only as many batches as the race reaches: the work one poll
// does is bounded, whatever the answer's size and however slow the machine.
#[tokio::test(start_paused = true)]
async fn he_5_10_source_lookups_per_poll_are_bounded() {
    let addrs = many_v4(10_000);
    // 40 refused, the 41st up: the race reaches past the first batch, and no further.
    let on_443 = |a: &str| &*String::leak(format!("{a}:443"));
    let mut peers: Vec<(&str, Peer)> = addrs[..40]
        .iter()
        .map(|a| (on_443(a), Peer::Refused(1)))
        .collect();
    peers.push((on_443(addrs[40]), Peer::Up(1)));
    let dial = FakeDial::new(&peers);
    let resolver = FakeResolver::new(Answer::Addrs(0, &[]), Answer::Addrs(0, addrs));
    let config = Config::default();
    let mut connect = std::pin::pin!(race(&config, &dial, &resolver));
    let (mut polls, mut most) = (0, 0);
    let result = loop {
        let before = dial.sources.load(Ordering::SeqCst);
        let polled = std::future::poll_fn(|cx| Poll::Ready(connect.as_mut().poll(cx))).await;
        polls += 1;
        most = most.max(dial.sources.load(Ordering::SeqCst) - before);
        match polled {
            Poll::Ready(result) => break result,
            // Let the clock and the fakes move (the paused clock advances while all wait).
            Poll::Pending => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    };
    let (_, report) = result.unwrap();
    assert_eq!(report.attempts().len(), 41, "{report}");
    assert_eq!(
        report.winner().unwrap().addr().to_string(),
        format!("{}:443", addrs[40])
    );
    // One batch, and in the first poll the IPv4-route check NAT64 makes (HE-7.1).
    assert!(
        most <= SOURCE_BATCH + 1,
        "{most} source lookups in one poll"
    );
    let total = dial.sources.load(Ordering::SeqCst);
    assert!(
        total <= 3 * SOURCE_BATCH,
        "{total} source lookups for a race that reached 41 addresses"
    );
    assert!(polls > 1, "the answer is fed over several polls");
}

// HE-5.12: an answer of 10,000 addresses, every one refused: the connect takes the first 64,
// tries those and fails; it looks up no source past them, the report keeps only them, and it
// counts the rest. (Before, it went through all 10,000.)
#[tokio::test(start_paused = true)]
async fn he_5_12_an_answer_past_the_limit_is_cut_and_counted() {
    let addrs = many_v4(10_000);
    let refused: Vec<(&str, Peer)> = addrs
        .iter()
        .map(|a| (&*String::leak(format!("{a}:443")), Peer::Refused(1)))
        .collect();
    let dial = FakeDial::new(&refused);
    let resolver = FakeResolver::new(Answer::Addrs(0, &[]), Answer::Addrs(0, addrs));
    let err = race(&Config::default(), &dial, &resolver)
        .await
        .unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(report.attempts().len(), MAX_ADDRESSES, "{report}");
    let tried: Vec<String> = report
        .attempts()
        .iter()
        .map(|a| a.addr().ip().to_string())
        .collect();
    assert_eq!(
        tried,
        addrs[..MAX_ADDRESSES],
        "the first ones, in the answer's order"
    );
    assert_eq!(report.over_limit(), 10_000 - MAX_ADDRESSES);
    let a = report
        .answers()
        .iter()
        .find(|a| a.family() == Family::V4)
        .unwrap();
    assert_eq!(
        (a.result().unwrap().len(), a.over_limit()),
        (MAX_ADDRESSES, 10_000 - MAX_ADDRESSES)
    );
    let sources = dial.sources.load(Ordering::SeqCst);
    assert!(sources <= MAX_ADDRESSES + 1, "{sources} source lookups");
    assert_eq!(dial.open(), 0);
}

// HE-5.12: 10,000 addresses given to connect, the same: 64 of each family at most.
#[tokio::test(start_paused = true)]
async fn he_5_12_given_addresses_past_the_limit_are_cut_and_counted() {
    let v4 = many_v4(10_000);
    let mut addrs: Vec<SocketAddr> = v4
        .iter()
        .map(|a| format!("{a}:443").parse().unwrap())
        .collect();
    addrs.extend(
        (1..=100u16).map(|i| SocketAddr::new(format!("2001:db8::{i:x}").parse().unwrap(), 443)),
    );
    let refused: Vec<(&str, Peer)> = addrs
        .iter()
        .map(|a| (&*String::leak(a.to_string()), Peer::Refused(1)))
        .collect();
    let dial = FakeDial::new(&refused);
    let config = Config::default();
    let request = request(
        Want::Report,
        &config,
        Source::Addrs(&addrs),
        "x",
        443,
        Shared::default(),
    );
    let err = run(request, &dial, &NoHandshake).await.unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(report.attempts().len(), 2 * MAX_ADDRESSES, "{report}");
    assert_eq!(
        report.over_limit(),
        (10_000 - MAX_ADDRESSES) + (100 - MAX_ADDRESSES)
    );
    assert_eq!(dial.open(), 0);
}

/// A resolver whose AAAA answer is expired: served stale after `stale_ms` (as the name server
/// stays silent), then its refresh; A answers as `v4` says.
#[derive(Debug)]
struct StaleResolver {
    stale_ms: u64,
    stale: &'static [&'static str],
    refresh: Answer,
    v4: Answer,
}

/// `answer`, `ms` after now (when this is called, not when first polled).
fn answered(answer: Answer) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> {
    let t0 = tokio::time::Instant::now();
    let at = move |ms| tokio::time::sleep_until(t0 + Duration::from_millis(ms));
    async move {
        match answer {
            Answer::Addrs(ms, list) => {
                at(ms).await;
                Ok(list.iter().map(|s| s.parse().unwrap()).collect())
            }
            Answer::Fail(ms) => {
                at(ms).await;
                Err(ResolveError::new(ResolveErrorKind::TimedOut, "silent"))
            }
            Answer::Never => std::future::pending().await,
        }
    }
}

impl Resolve for StaleResolver {
    fn lookup(&self, _name: &str, family: Family) -> Lookup {
        match family {
            Family::V4 => Box::pin(answered(self.v4.clone())),
            Family::V6 => Box::pin(answered(self.refresh.clone())),
        }
    }

    fn lookup_answers(&self, name: &str, family: Family) -> crate::resolve::Answers {
        use futures::StreamExt;
        if family == Family::V4 {
            let lookup = self.lookup(name, family);
            return Box::pin(futures::stream::once(async move {
                lookup.await.map(|ips| Resolved::fresh(ips, None))
            }));
        }
        let (ms, stale) = (self.stale_ms, self.stale);
        let first = async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let ips = stale.iter().map(|s| s.parse().unwrap()).collect();
            Ok(Resolved::stale(ips, Duration::from_secs(30)))
        };
        // The refresh was sent at 0 ms, with the stale answer's timer.
        let refresh = answered(self.refresh.clone());
        let refresh = async move { refresh.await.map(|ips| Resolved::fresh(ips, None)) };
        let refresh = Box::pin(refresh);
        Box::pin(futures::stream::once(first).chain(futures::stream::once(refresh)))
    }
}

// HE-8.7: a stale AAAA answer at 1,800 ms starts an attempt at once (A has nothing); its refresh
// at 2,000 ms brings another address: the running attempt goes on, the stale address the
// refresh dropped is never tried, the new one starts one attempt delay after the first and
// wins. The report marks the stale answer.
#[tokio::test(start_paused = true)]
async fn he_8_7_stale_answer_races_and_is_replaced() {
    let dial = FakeDial::new(&[
        (V6, Peer::BlackHole),
        (V6B, Peer::Up(10)),
        ("[2001:db8::3]:443", Peer::Up(10)),
    ]);
    let resolver = StaleResolver {
        stale_ms: 1_800,
        stale: &["2001:db8::1", "2001:db8::3"],
        refresh: Answer::Addrs(2_000, &["2001:db8::1", "2001:db8::2"]),
        v4: Answer::Addrs(0, &[]),
    };
    let config = Config::default();
    let (stream, report) = race_through(&config, &dial, &resolver, &NoHandshake, 443)
        .await
        .unwrap();
    assert_eq!(stream.addr, V6B.parse().unwrap());
    assert_eq!(
        timeline(&report),
        [row(1_800, V6, "cancelled"), row(2_050, V6B, "connected")]
    );
    let answers: Vec<_> = report
        .answers()
        .iter()
        .map(|a| (a.family(), a.at().as_millis(), a.stale()))
        .collect();
    assert_eq!(
        answers,
        [
            (Family::V4, 0, None),
            (Family::V6, 1_800, Some(Duration::from_secs(30))),
            (Family::V6, 2_000, None)
        ]
    );
    drop(stream);
    assert_eq!(dial.open(), 0);

    // A refresh that fails leaves the stale answer standing; with serve_stale off the stale
    // answer is not used and the failure is the connect's.
    let resolver = StaleResolver {
        stale_ms: 1_800,
        stale: &["2001:db8::2"],
        refresh: Answer::Fail(5_000),
        v4: Answer::Addrs(0, &[]),
    };
    let (stream, report) = race(&config, &dial, &resolver).await.unwrap();
    assert_eq!(stream.addr, V6B.parse().unwrap());
    assert_eq!(timeline(&report), [row(1_800, V6B, "connected")]);
    drop(stream);
    let off = Config {
        serve_stale: false,
        ..Config::default()
    };
    let err = race(&off, &dial, &resolver).await.unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(timeline(report), []);
    assert_eq!(report.elapsed(), Duration::from_millis(5_000));
    assert_eq!(dial.open(), 0);
}

// Issue 23: what a connect in flight carries. A change that grows these fails here rather than
// only in `benches/memory.rs` (their sum is most of a connect's heap: see docs/performance.md).
#[test]
fn state_sizes_stay_bounded() {
    use std::mem::size_of;
    type Tcp = crate::dial::TcpDial;
    let driver = size_of::<Driver<'static, Tcp, NoHandshake>>();
    assert!(driver <= 1_048, "Driver is {driver} bytes");
    let race = size_of::<Race>();
    assert!(race <= 664, "Race is {race} bytes");
    // Built when the race ends, so not part of a connect in flight (HE-5.12's count made it 240).
    let report = size_of::<Report>();
    assert!(report <= 240, "Report is {report} bytes");
    // The driver's future is the driver: the request and the single-attempt path are not kept.
    let config = Config::default();
    let dial = Tcp::new(Default::default());
    let resolver = crate::resolve::StaticResolver::new();
    let source = Source::Resolve {
        resolver: &resolver,
        name: "x.example".into(),
    };
    let req = request(
        Want::StreamOnly,
        &config,
        source,
        "x.example",
        80,
        Shared::default(),
    );
    let run = size_of_val(&run(req, &dial, &NoHandshake));
    assert!(run <= driver + 16, "driver::run's future is {run} bytes");
}

// §12: QUIC raced against TCP. A fake QUIC handshake: each UDP address behaves as its `Peer`
// says; its "connection" is a fake socket, counted open until dropped.
#[derive(Debug)]
enum FakeConnection {
    Tcp(FakeSocket),
    Quic(FakeSocket),
}

struct FakeQuic {
    plan: crate::QuicPlan,
    peers: HashMap<SocketAddr, Peer>,
    /// No UDP socket can be made (HE-12.7).
    unavailable: bool,
    open: Arc<AtomicUsize>,
}

impl FakeQuic {
    fn new(plan: crate::QuicPlan, peers: &[(&str, Peer)]) -> FakeQuic {
        FakeQuic {
            plan,
            peers: peers
                .iter()
                .map(|(a, p)| (a.parse().unwrap(), *p))
                .collect(),
            unavailable: false,
            open: Arc::default(),
        }
    }
}

fn origin_h3() -> crate::QuicPlan {
    crate::QuicPlan {
        protocols: vec![b"h3".to_vec()],
        origin_port: Some(443),
        ..crate::QuicPlan::default()
    }
}

impl Handshake<FakeSocket> for FakeQuic {
    type Output = FakeConnection;
    type Future = Pin<Box<dyn Future<Output = io::Result<FakeConnection>> + Send>>;

    fn handshake(&self, stream: FakeSocket, _: &Destination<'_>) -> Self::Future {
        Box::pin(std::future::ready(Ok(FakeConnection::Tcp(stream))))
    }

    fn quic_plan(&self) -> Option<&crate::QuicPlan> {
        Some(&self.plan)
    }

    fn quic(&self, to: &Destination<'_>) -> io::Result<Self::Future> {
        if self.unavailable {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "no UDP socket",
            ));
        }
        let peer = self
            .peers
            .get(&to.addr())
            .copied()
            .unwrap_or(Peer::BlackHole);
        let socket = FakeSocket::new(&self.open, to.addr());
        Ok(Box::pin(async move {
            match peer {
                Peer::Up(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(FakeConnection::Quic(socket))
                }
                Peer::Refused(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    drop(socket);
                    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                }
                Peer::BlackHole => std::future::pending().await,
            }
        }))
    }
}

/// Each attempt's start, protocol, address and outcome.
fn protocol_timeline(report: &Report) -> Vec<(u128, &'static str, String, &'static str)> {
    let rows = report.attempts().iter().map(|a| {
        let outcome = a.outcome().map_or("running", |o| o.label());
        (
            a.started().as_millis(),
            a.protocol().as_str(),
            a.addr().to_string(),
            outcome,
        )
    });
    rows.collect()
}

// HE-12.2, HE-12.3: UDP silently dropped: QUIC at 0, TCP at exactly 250 ms, which wins; the
// QUIC attempt is closed, and nothing is left open but the winner.
#[tokio::test(start_paused = true)]
async fn he_12_2_udp_dropped_tcp_starts_one_delay_later() {
    let dial = FakeDial::new(&[(V6, Peer::Up(2)), (V4, Peer::Up(2))]);
    let quic = FakeQuic::new(origin_h3(), &[]);
    let (conn, report) = race_through(&Config::default(), &dial, &one_each(), &quic, 443)
        .await
        .unwrap();
    assert!(matches!(&conn, FakeConnection::Tcp(s) if s.addr.to_string() == V6));
    assert_eq!(
        protocol_timeline(&report),
        [
            (0, "quic", V6.to_string(), "cancelled"),
            (250, "tcp", V6.to_string(), "connected"),
        ]
    );
    assert_eq!(report.elapsed(), 252 * MS);
    assert_eq!((quic.open.load(Ordering::SeqCst), dial.open()), (0, 1));
    drop(conn);
    assert_eq!(dial.open(), 0);
    assert!(
        report.to_string().contains("quic [2001:db8::1]:443"),
        "{report}"
    );
}

// HE-12.2: UDP refused (the QUIC attempt fails at 1 ms): TCP at once, at 1 ms.
#[tokio::test(start_paused = true)]
async fn he_12_2_udp_refused_tcp_at_once() {
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let quic = FakeQuic::new(origin_h3(), &[(V6, Peer::Refused(1))]);
    let (conn, report) = race_through(&Config::default(), &dial, &one_each(), &quic, 443)
        .await
        .unwrap();
    assert!(matches!(&conn, FakeConnection::Tcp(s) if s.addr.to_string() == V6));
    assert_eq!(
        protocol_timeline(&report),
        [
            (0, "quic", V6.to_string(), "refused"),
            (1, "tcp", V6.to_string(), "connected"),
        ]
    );
}

// HE-12.3: QUIC works: it wins at 3 ms and no TCP attempt is made.
#[tokio::test(start_paused = true)]
async fn he_12_3_quic_wins_where_it_works() {
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let quic = FakeQuic::new(origin_h3(), &[(V6, Peer::Up(3))]);
    let (conn, report) = race_through(&Config::default(), &dial, &one_each(), &quic, 443)
        .await
        .unwrap();
    assert!(matches!(&conn, FakeConnection::Quic(s) if s.addr.to_string() == V6));
    assert_eq!(
        protocol_timeline(&report),
        [(0, "quic", V6.to_string(), "connected")]
    );
    assert_eq!((quic.open.load(Ordering::SeqCst), dial.open()), (1, 0));
}

// HE-12.4: QUIC remembered broken: TCP at 0, QUIC at the 10 ms floor.
#[tokio::test(start_paused = true)]
async fn he_12_4_quic_broken_tcp_at_once() {
    let dial = FakeDial::new(&[(V6, Peer::Up(20))]);
    let plan = crate::QuicPlan {
        recently_broken: true,
        ..origin_h3()
    };
    let quic = FakeQuic::new(plan, &[]);
    let (_, report) = race_through(&Config::default(), &dial, &one_each(), &quic, 443)
        .await
        .unwrap();
    assert_eq!(
        protocol_timeline(&report),
        [
            (0, "tcp", V6.to_string(), "connected"),
            (10, "quic", V6.to_string(), "cancelled"),
        ]
    );
}

// HE-12.7: no UDP socket: the QUIC attempt fails before anything is sent, TCP starts at once,
// and the connect succeeds.
#[tokio::test(start_paused = true)]
async fn he_12_7_no_udp_goes_on_over_tcp() {
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let mut quic = FakeQuic::new(origin_h3(), &[]);
    quic.unavailable = true;
    let (conn, report) = race_through(&Config::default(), &dial, &one_each(), &quic, 443)
        .await
        .unwrap();
    assert!(matches!(&conn, FakeConnection::Tcp(s) if s.addr.to_string() == V6));
    assert_eq!(
        protocol_timeline(&report),
        [
            (0, "quic", V6.to_string(), "failed"),
            (0, "tcp", V6.to_string(), "connected"),
        ]
    );
}

// HE-12.4: UDP dropped: the first connect pays one attempt delay (TCP at 250 ms); the next
// ones, on the same network, start TCP at 0 (and would start QUIC at 10 ms), for 5 minutes;
// then QUIC goes first again, and losing again doubles the backoff (10 minutes).
#[tokio::test(start_paused = true)]
async fn he_12_4_the_second_connect_after_a_quic_failure_goes_tcp_first() {
    let history = history();
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let quic = FakeQuic::new(origin_h3(), &[]);
    let resolver = one_each();
    let connect = || race_remembering(&history, &dial, &resolver, &quic);
    let starts = |report: &Report| -> Vec<(u128, &'static str)> {
        let a = report.attempts().iter();
        a.map(|a| (a.started().as_millis(), a.protocol().as_str()))
            .collect()
    };
    let (_, first) = connect().await.unwrap();
    assert_eq!(starts(&first), [(0, "quic"), (250, "tcp")]);
    let (_, second) = connect().await.unwrap();
    assert_eq!(starts(&second), [(0, "tcp")], "TCP won before QUIC's turn");
    tokio::time::advance(Duration::from_secs(4 * 60)).await;
    let (_, third) = connect().await.unwrap();
    assert_eq!(starts(&third), [(0, "tcp")]);
    tokio::time::advance(Duration::from_secs(60)).await;
    let (_, after) = connect().await.unwrap();
    // The backoff ran out: QUIC first again; the TCP attempt follows after the adaptive delay
    // (HE-5.3: the 2 ms RTT TCP measured, held to the 100 ms floor).
    assert_eq!(starts(&after), [(0, "quic"), (100, "tcp")]);
    tokio::time::advance(Duration::from_secs(9 * 60)).await;
    let (_, doubled) = connect().await.unwrap();
    assert_eq!(starts(&doubled), [(0, "tcp")], "10 minutes now");
}

// HE-12.4: a QUIC attempt's failure is not the address's: the history keeps no failure for it,
// and the next connect orders the addresses as before.
#[tokio::test(start_paused = true)]
async fn he_12_4_quic_failures_stay_out_of_the_address_history() {
    let history = history();
    let dial = FakeDial::new(&[(V6, Peer::Up(2))]);
    let quic = FakeQuic::new(origin_h3(), &[(V6, Peer::Refused(1))]);
    let resolver = one_each();
    race_remembering(&history, &dial, &resolver, &quic)
        .await
        .unwrap();
    let v6: SocketAddr = V6.parse().unwrap();
    let src = dial.source(v6);
    let verdict = lock(&history).verdict(src, v6, std::time::Instant::now());
    assert_eq!(verdict.failed(), None, "{verdict:?}");
    assert!(verdict.worked(), "TCP connected: {verdict:?}");
}
