//! Connects by name, side by side: eyeballs' `Connector`, hyper-util's `HttpConnector` (what
//! reqwest uses) and `tokio::net::TcpStream::connect`, at concurrency 1, 100 and 1,000; and, for
//! reference, `TcpStream::connect` to `[::1]` with no DNS at all (what the machine allows) and
//! eyeballs with HTTPS records on (what the third query, `HttpsConnector`'s default, costs).
//!
//! Every connect resolves for real: the bench runs in a network namespace of its own whose
//! `resolv.conf` points at a DNS server the bench starts on the namespace's 127.0.0.1:53, answering
//! `dual.test` with 127.0.0.1 and ::1 at TTL 0, so no client may cache. The listener accepts on
//! both families. Rounds interleave the clients (rotating who goes first) so drift on the machine
//! hits all alike. Each batch runs in a spawned task on the multi-thread runtime; at 100 and 1,000
//! the connects run both ways: all polled by that one task, and a task each (as a server's or a
//! proxy's per-request tasks connect). Prints connects per second (the median of the 7 rounds'
//! rates), errors, DNS queries per connect and eyeballs' ratios to the faster peer and to
//! hyper-util. Goal (issues 9, 21): at least 1.0x at concurrency 1, at least 10x hyper-util with
//! zero errors at 1,000.
//!
//! Needs root (`ip netns`); without it, says so and exits. Run it with
//! `cargo bench --bench by_name --all-features`.

#[path = "../tests/common/dns.rs"]
mod dns;
#[path = "common/own_namespace.rs"]
mod own_namespace;

use own_namespace::run;
use std::future::IntoFuture;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tower_service::Service;

const NAME: &str = "dual.test";
const INSIDE: &str = "EYEBALLS_BY_NAME_INSIDE";
/// (concurrency, connects per client per round)
const LEVELS: [(usize, usize, Tasks); 5] = [
    (1, 2_000, Tasks::One),
    (100, 4_000, Tasks::One),
    (100, 4_000, Tasks::Each),
    (1_000, 4_000, Tasks::One),
    (1_000, 4_000, Tasks::Each),
];

/// How the concurrent connects are run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tasks {
    /// All polled by one task (`for_each_concurrent`), as a pool warming up or a batch job does.
    One,
    /// A task each (at most `concurrency` at once), as a server's or proxy's per-request tasks do.
    Each,
}
const ROUNDS: usize = 7;

fn main() {
    // `cargo bench` passes `--bench`; criterion-style filters are ignored.
    if own_namespace::is_inside(INSIDE) {
        inside();
        return;
    }
    let files = [
        (
            "resolv.conf",
            "nameserver 127.0.0.1\noptions timeout:2 attempts:2\n",
        ),
        ("hosts", "127.0.0.1 localhost\n::1 localhost\n"),
    ];
    own_namespace::run_inside("by_name", "eb-byname", INSIDE, &files);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    Eyeballs,
    HyperUtil,
    Tokio,
    /// `TcpStream::connect` to `[::1]`, no DNS: what the machine and the listener allow, for
    /// reference (not in the ratio).
    Literal,
    /// eyeballs with HTTPS records on (`HttpsConnector`'s default; the server has none, so a
    /// third query each connect), for reference (not in the ratio).
    EyeballsHttps,
    /// eyeballs with hickory's resolver answering every query (`HickoryResolver::from_config`,
    /// no direct path), for reference (not in the ratio): what the resolver seam costs.
    EyeballsHickory,
}

const CLIENTS: [Client; 6] = [
    Client::Eyeballs,
    Client::HyperUtil,
    Client::Tokio,
    Client::Literal,
    Client::EyeballsHttps,
    Client::EyeballsHickory,
];
const N: usize = CLIENTS.len();

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Eyeballs => "eyeballs Connector",
            Client::HyperUtil => "hyper-util HttpConnector",
            Client::Tokio => "tokio TcpStream::connect",
            Client::Literal => "(tokio, to [::1], no DNS)",
            Client::EyeballsHttps => "(eyeballs, HTTPS records)",
            Client::EyeballsHickory => "(eyeballs, hickory alone)",
        }
    }
}

/// A filter given after `--` (`cargo bench --bench by_name -- eyeballs`) keeps the clients whose
/// name contains it; the default runs all three.
fn selected(client: Client) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|f| client.name().contains(f.as_str()))
}

fn inside() {
    run("ip", &["link", "set", "lo", "up"]);
    let dns = dns::DnsServer::start(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53),
        &[(
            NAME,
            &[
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
        )],
        0,
    )
    .expect("bind 127.0.0.1:53 in the namespace");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let port = serve();
        let clients = Arc::new(Clients {
            eyeballs: eyeballs::Connector::new(),
            eyeballs_https: eyeballs::Connector::builder()
                .https_records(true)
                .build()
                .unwrap(),
            eyeballs_hickory: eyeballs::Connector::builder()
                .resolver(hickory_alone())
                .build()
                .unwrap(),
            hyper: HttpConnector::new(),
            uri: format!("http://{NAME}:{port}/").parse().unwrap(),
            port,
        });
        // Every client connects once before timing (resolver set-up, thread pools).
        for client in CLIENTS.into_iter().filter(|c| selected(*c)) {
            clients.one(client).await.unwrap();
        }
        println!(
            "connects by name to {NAME} (A 127.0.0.1, AAAA ::1, TTL 0), {ROUNDS} interleaved rounds; connects/s is the median round's"
        );
        println!(
            "{:>16} | {:<26} | {:>11} | {:>7} | {:>13}",
            "concurrency", "client", "connects/s", "errors", "queries/conn"
        );
        for (concurrency, count, tasks) in LEVELS.into_iter().filter(|l| level_selected(*l)) {
            // Each round's time per client: the rates printed are medians over the rounds.
            let mut time = vec![[Duration::ZERO; N]; ROUNDS];
            let mut errors = [0usize; N];
            let mut queries = [0usize; N];
            for (round, time) in time.iter_mut().enumerate() {
                for k in 0..N {
                    let i = (round + k) % N;
                    if !selected(CLIENTS[i]) {
                        continue;
                    }
                    let before = dns.queries();
                    let t = Instant::now();
                    // In a spawned task, on a worker thread, as a server's or a pool's connects
                    // run (from `block_on`'s thread every wake-up crosses threads).
                    let (clients, client) = (clients.clone(), CLIENTS[i]);
                    errors[i] += tokio::spawn(async move {
                        match tasks {
                            Tasks::One => batch(&clients, client, concurrency, count).await,
                            Tasks::Each => {
                                batch_of_tasks(clients, client, concurrency, count).await
                            }
                        }
                    })
                    .await
                    .unwrap();
                    time[i] = t.elapsed();
                    queries[i] += dns.queries() - before;
                }
            }
            let label = match tasks {
                Tasks::One => format!("{concurrency}, one task"),
                Tasks::Each => format!("{concurrency}, task each"),
            };
            let rate: Vec<f64> = (0..N)
                .map(|i| median(time.iter().map(|t| count as f64 / t[i].as_secs_f64())))
                .collect();
            for i in (0..N).filter(|i| selected(CLIENTS[*i])) {
                println!(
                    "{label:>16} | {:<26} | {:>11.0} | {:>7} | {:>13.2}",
                    CLIENTS[i].name(),
                    rate[i],
                    errors[i],
                    queries[i] as f64 / (count * ROUNDS) as f64
                );
            }
            if CLIENTS[..3].iter().all(|c| selected(*c)) {
                let faster_peer = rate[1].max(rate[2]);
                let hyper = rate[1];
                println!(
                    "{label:>16} | eyeballs / faster peer: {:.2}x; / hyper-util: {:.2}x",
                    rate[0] / faster_peer,
                    rate[0] / hyper
                );
            }
            if selected(Client::Eyeballs) && selected(Client::EyeballsHickory) {
                println!(
                    "{label:>16} | eyeballs / eyeballs with hickory alone: {:.2}x",
                    rate[0] / rate[5]
                );
            }
        }
    });
}

/// `EYEBALLS_BY_NAME_LEVELS` (say `1000-one,1000-each`) keeps only those levels, for profiling
/// one of them; unset, all run.
fn level_selected((concurrency, _, tasks): (usize, usize, Tasks)) -> bool {
    let Ok(levels) = std::env::var("EYEBALLS_BY_NAME_LEVELS") else {
        return true;
    };
    let name = match tasks {
        Tasks::One => format!("{concurrency}-one"),
        Tasks::Each => format!("{concurrency}-each"),
    };
    levels.split(',').any(|l| l.trim() == name)
}

/// The median of the rates (the mean of the middle two for an even count).
fn median(rates: impl Iterator<Item = f64>) -> f64 {
    let mut rates: Vec<f64> = rates.collect();
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    if n % 2 == 1 {
        rates[n / 2]
    } else {
        (rates[n / 2 - 1] + rates[n / 2]) / 2.0
    }
}

/// hickory's resolver for the namespace's name server, with the options `resolv.conf` would
/// give (one name server, no search list), answering every query itself.
fn hickory_alone() -> eyeballs::resolve::HickoryResolver {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    let server = NameServerConfig::udp_and_tcp(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let config = ResolverConfig::from_parts(None, vec![], vec![server]);
    eyeballs::resolve::HickoryResolver::from_config(config, ResolverOpts::default())
}

/// A dual-stack listener (`[::]`, IPv4 mapped) that accepts and drops; returns its port.
fn serve() -> u16 {
    let socket = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
    socket.set_only_v6(false).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0).into())
        .unwrap();
    socket.listen(4096).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(socket.into()).unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            if let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        }
    });
    port
}

/// The clients, set up once.
struct Clients {
    eyeballs: eyeballs::Connector,
    eyeballs_https: eyeballs::Connector,
    eyeballs_hickory: eyeballs::Connector,
    hyper: HttpConnector,
    uri: http::Uri,
    port: u16,
}

/// `count` connects with at most `concurrency` in flight; returns how many failed.
async fn batch(clients: &Clients, client: Client, concurrency: usize, count: usize) -> usize {
    let errors = AtomicUsize::new(0);
    futures::stream::iter(0..count)
        .for_each_concurrent(concurrency, |_| async {
            if clients.one(client).await.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await;
    errors.load(Ordering::Relaxed)
}

/// [`batch`], each connect in a task of its own.
async fn batch_of_tasks(
    clients: Arc<Clients>,
    client: Client,
    concurrency: usize,
    count: usize,
) -> usize {
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let slot = slots.clone().acquire_owned().await.unwrap();
        let clients = clients.clone();
        tasks.spawn(async move {
            let failed = clients.one(client).await.is_err();
            drop(slot);
            failed
        });
    }
    let mut errors = 0;
    while let Some(failed) = tasks.join_next().await {
        errors += usize::from(failed.unwrap());
    }
    errors
}

impl Clients {
    /// One connect by `client`.
    async fn one(&self, client: Client) -> Result<(), String> {
        let (port, limit) = (self.port, Duration::from_secs(10));
        let stream = match client {
            Client::Eyeballs => {
                timed(limit, self.eyeballs.connect((NAME, port)).into_future()).await?
            }
            Client::EyeballsHttps => {
                timed(
                    limit,
                    self.eyeballs_https.connect((NAME, port)).into_future(),
                )
                .await?
            }
            Client::EyeballsHickory => {
                timed(
                    limit,
                    self.eyeballs_hickory.connect((NAME, port)).into_future(),
                )
                .await?
            }
            Client::HyperUtil => {
                let mut hyper = self.hyper.clone();
                timed(limit, hyper.call(self.uri.clone()))
                    .await?
                    .into_inner()
            }
            Client::Tokio => timed(limit, TcpStream::connect((NAME, port))).await?,
            Client::Literal => {
                let to = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
                timed(limit, TcpStream::connect(to)).await?
            }
        };
        // An RST instead of a FIN: thousands of connects leave no TIME_WAIT behind.
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        Ok(())
    }
}

/// `connect` within `limit`, any failure as its message.
async fn timed<T, E: std::fmt::Display>(
    limit: Duration,
    connect: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, connect).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(elapsed) => Err(elapsed.to_string()),
    }
}
