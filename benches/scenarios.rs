//! The side-by-side benchmark on real (namespaced) broken networks: eyeballs, hyper-util's
//! `HttpConnector` with its defaults (what reqwest users get), and `tokio::net::TcpStream::connect`
//! over the resolved list (sequential). Prints, per scenario, each client's median time to connect
//! over N runs, the family that won, and the RFC 8305 ideal; then the same for a second connect
//! with the same client, which for eyeballs has the first's history.
//!
//! Needs root (network namespaces); run with `cargo bench --bench scenarios --all-features`.
//! Every client gets the same DNS server; hyper-util and tokio get the answers the way getaddrinfo
//! gives them (both families awaited, IPv6 first).

#[path = "../tests/netns/mod.rs"]
mod netns;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use eyeballs::{
    Connector, Family,
    resolve::{HickoryResolver, Resolve},
};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use netns::{Lab, NAME, PORT, Rr, v4, v6};
use tower_service::Service;

const RUNS: usize = 5;
const LIMIT: Duration = Duration::from_secs(3);
const MS: Duration = Duration::from_millis(1);

/// getaddrinfo-like: both families awaited, IPv6 first.
async fn both_families(resolver: &HickoryResolver, name: &str) -> Vec<IpAddr> {
    let (a6, a4) = futures::future::join(
        resolver.lookup(name, Family::V6),
        resolver.lookup(name, Family::V4),
    )
    .await;
    a6.unwrap_or_default()
        .into_iter()
        .chain(a4.unwrap_or_default())
        .collect()
}

#[derive(Clone)]
struct GaiLike(HickoryResolver);

impl Service<Name> for GaiLike {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let r = self.0.clone();
        Box::pin(async move {
            let ips = both_families(&r, name.as_str()).await;
            if ips.is_empty() {
                return Err(io::Error::new(io::ErrorKind::NotFound, "no addresses"));
            }
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect::<Vec<_>>()
                .into_iter())
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Client {
    Eyeballs,
    HyperUtil,
    TokioSequential,
}

/// `connects` connects from the client namespace with one client (so eyeballs' second connect
/// has the first's history): the last one's winner or failure, and its time.
fn run(lab: &Lab, client: Client, connects: usize) -> (Option<IpAddr>, Duration) {
    lab.in_client(move || async move {
        let resolver = Lab::resolver();
        let eyeballs = Connector::builder()
            .resolver(resolver.clone())
            .build()
            .unwrap();
        let hyper = HttpConnector::new_with_resolver(GaiLike(resolver.clone()));
        let mut last = (None, Duration::ZERO);
        for _ in 0..connects {
            let start = Instant::now();
            let attempt = async {
                match client {
                    Client::Eyeballs => eyeballs
                        .connect((NAME, PORT))
                        .await
                        .ok()
                        .map(|s| s.peer_addr().unwrap().ip()),
                    Client::HyperUtil => {
                        let uri = format!("http://{}:{PORT}/", NAME.trim_end_matches('.'))
                            .parse()
                            .unwrap();
                        hyper
                            .clone()
                            .call(uri)
                            .await
                            .ok()
                            .map(|s| s.into_inner().peer_addr().unwrap().ip())
                    }
                    Client::TokioSequential => {
                        let ips = both_families(&resolver, NAME).await;
                        let addrs: Vec<SocketAddr> = ips
                            .into_iter()
                            .map(|ip| SocketAddr::new(ip, PORT))
                            .collect();
                        tokio::net::TcpStream::connect(&addrs[..])
                            .await
                            .ok()
                            .map(|s| s.peer_addr().unwrap().ip())
                    }
                }
            };
            let result = tokio::time::timeout(LIMIT, attempt).await.ok().flatten();
            last = (result, start.elapsed());
        }
        last
    })
}

struct Scenario {
    name: &'static str,
    aaaa: Rr,
    a: Rr,
    setup: fn(&mut Lab),
    /// The RFC 8305 schedule's time to connect (plus the lab's own latency) and winner.
    ideal: &'static str,
}

fn scenarios() -> Vec<Scenario> {
    let now6 = || Rr::now(vec![v6(0)]);
    let now4 = || Rr::now(vec![v4(0)]);
    vec![
        Scenario {
            name: "healthy",
            aaaa: now6(),
            a: now4(),
            setup: |_| {},
            ideal: "~0 ms, ipv6",
        },
        Scenario {
            name: "IPv6 black-holed",
            aaaa: now6(),
            a: now4(),
            setup: |l| l.black_hole(v6(0)),
            ideal: "250 ms, ipv4",
        },
        Scenario {
            name: "IPv6 refused",
            aaaa: now6(),
            a: now4(),
            setup: |l| l.refuse(v6(0)),
            ideal: "~0 ms, ipv4",
        },
        Scenario {
            name: "IPv6 unreachable (route)",
            aaaa: now6(),
            a: now4(),
            setup: |l| l.unreachable_route_v6(),
            ideal: "~0 ms, ipv4",
        },
        Scenario {
            name: "IPv6 unreachable (ICMP)",
            aaaa: now6(),
            a: now4(),
            setup: |l| l.icmp_unreachable(v6(0)),
            ideal: "<= 250 ms, ipv4",
        },
        Scenario {
            name: "IPv6 slower by 400 ms",
            aaaa: now6(),
            a: now4(),
            setup: |l| l.delay_ipv6(200 * MS),
            ideal: "250 ms, ipv4",
        },
        Scenario {
            name: "IPv6 slower by 100 ms",
            aaaa: now6(),
            a: now4(),
            setup: |l| l.delay_ipv6(50 * MS),
            ideal: "100 ms, ipv6",
        },
        Scenario {
            name: "AAAA 400 ms late",
            aaaa: Rr::Answer(400 * MS, vec![v6(0)]),
            a: now4(),
            setup: |_| {},
            ideal: "50 ms, ipv4",
        },
        Scenario {
            name: "A 1 s late",
            aaaa: now6(),
            a: Rr::Answer(1000 * MS, vec![v4(0)]),
            setup: |_| {},
            ideal: "~0 ms, ipv6",
        },
        Scenario {
            name: "only A",
            aaaa: Rr::NoData(Duration::ZERO),
            a: now4(),
            setup: |_| {},
            ideal: "~0 ms, ipv4",
        },
        Scenario {
            name: "only AAAA",
            aaaa: now6(),
            a: Rr::NoData(Duration::ZERO),
            setup: |_| {},
            ideal: "~0 ms, ipv6",
        },
        Scenario {
            name: "3 AAAA + 2 A, first 2 of each dead",
            aaaa: Rr::now(vec![v6(0), v6(1), v6(2)]),
            a: Rr::now(vec![v4(0), v4(1)]),
            setup: |l| {
                for ip in [v6(0), v6(1), v4(0), v4(1)] {
                    l.black_hole(ip);
                }
            },
            ideal: "1000 ms, ipv6",
        },
        Scenario {
            name: "both families 350 ms away",
            aaaa: now6(),
            a: now4(),
            setup: |l| {
                l.delay_ipv6(175 * MS);
                l.delay_ipv4(175 * MS);
            },
            ideal: "350 ms, ipv6",
        },
        Scenario {
            name: "everything refused",
            aaaa: now6(),
            a: now4(),
            setup: |l| {
                l.refuse(v6(0));
                l.refuse(v4(0));
            },
            ideal: "fails at ~0 ms",
        },
    ]
}

fn main() {
    if !netns::available() {
        return;
    }
    // `cargo bench` passes --bench; a name filter may follow.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    println!(
        "median of {RUNS} connects each, {LIMIT:?} limit per connect; 'fail' = no connection within the limit\n"
    );
    println!(
        "| scenario | RFC 8305 ideal | eyeballs | hyper-util HttpConnector | tokio TcpStream::connect (sequential) | eyeballs, 2nd connect | hyper-util, 2nd | tokio, 2nd |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for s in scenarios() {
        if filter
            .as_ref()
            .is_some_and(|f| !s.name.contains(f.as_str()))
        {
            continue;
        }
        let mut lab = Lab::new(s.aaaa.clone(), s.a.clone());
        (s.setup)(&mut lab);
        let mut cells = Vec::new();
        // First connects (a fresh client each), then second connects (the same client twice).
        for (client, connects) in [1, 2].into_iter().flat_map(|n| {
            [Client::Eyeballs, Client::HyperUtil, Client::TokioSequential].map(|c| (c, n))
        }) {
            let mut runs: Vec<(Option<IpAddr>, Duration)> =
                (0..RUNS).map(|_| run(&lab, client, connects)).collect();
            runs.sort_by_key(|(_, t)| *t);
            let (winner, median) = runs[RUNS / 2];
            let family = match winner {
                Some(IpAddr::V6(_)) => "ipv6",
                Some(IpAddr::V4(_)) => "ipv4",
                None => "fail",
            };
            cells.push(format!("{:.1} ms, {family}", median.as_secs_f64() * 1000.0));
        }
        println!("| {} | {} | {} |", s.name, s.ideal, cells.join(" | "));
    }
}
