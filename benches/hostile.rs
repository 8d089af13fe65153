//! Whole connects against hostile HTTPS answers (issue 24): a custom `Resolve` serves the answers
//! of issue 24's table through `lookup_https`, and every hint address is local, inside a network
//! namespace of the bench's own (2001:db8::/64 and the three IPv4 documentation /24s routed to
//! the loopback as local addresses), so connects succeed or are refused at once. For each answer:
//! how long the connect took, the longest the runtime's one thread could not run a 1 ms ticker
//! (the executor blocked), how many destinations the connect tried, what was left out past the
//! limits (HE-10.8), the queries it caused, and the heap it held at most beyond the start
//! (a counting allocator: exact). Nothing is timed in an assertion: the bounds themselves are
//! checked by counting the work in the core's and the driver's HE-10.8 tests.
//!
//! Needs root (`ip netns`); without it, says so and exits. Run it with
//! `cargo bench --bench hostile --all-features`.

#[path = "../tests/common/counting.rs"]
mod counting;
#[path = "common/own_namespace.rs"]
mod own_namespace;

use own_namespace::run;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eyeballs::proto::svcb::ServiceRecord;
use eyeballs::resolve::{Lookup, RecordLookup, Resolve};
use eyeballs::{AddressPolicy, Connector, Family};

use counting::{Counting, live, peak, reset_peak};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const INSIDE: &str = "EYEBALLS_HOSTILE_INSIDE";
const NAME: &str = "hostile.test";
const TARGETS: &str = ".targets.test";

fn main() {
    if own_namespace::is_inside(INSIDE) {
        inside();
        return;
    }
    own_namespace::run_inside("hostile", "eb-hostile", INSIDE, &[]);
}

/// One hostile answer: the HTTPS records, and whether the connect has the address policy on.
struct Case {
    what: &'static str,
    records: Vec<ServiceRecord>,
    public_only: bool,
}

/// The ports: one listening, one refusing.
#[derive(Clone, Copy)]
struct Ports {
    open: u16,
    refused: u16,
}

fn v6(i: usize) -> Ipv6Addr {
    Ipv6Addr::from((0x2001_0db8_u128 << 96) | (i as u128 + 1))
}

/// The `i`-th address of the three IPv4 documentation ranges (762 of them, then again).
fn v4(i: usize) -> Ipv4Addr {
    let nets = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
    let n = nets[(i / 254) % 3];
    Ipv4Addr::new(n[0], n[1], n[2], (i % 254) as u8 + 1)
}

fn record(priority: u16, port: Option<u16>) -> ServiceRecord {
    let mut r = ServiceRecord::default();
    r.priority = priority;
    r.alpn = vec![b"h2".to_vec()];
    r.port = port;
    r
}

fn cases(ports: Ports) -> Vec<Case> {
    let with_v6_hints = |records: usize, hints: usize, port: Option<u16>| -> Vec<ServiceRecord> {
        (0..records)
            .map(|r| {
                let mut rec = record(1 + (r % 1000) as u16, port);
                rec.ipv6_hints = (0..hints).map(|h| v6(r * hints + h)).collect();
                rec
            })
            .collect()
    };
    let with_v4_hint = |records: usize| -> Vec<ServiceRecord> {
        (0..records)
            .map(|r| {
                let mut rec = record(1 + (r % 1000) as u16, None);
                rec.ipv4_hints = vec![v4(r)];
                rec
            })
            .collect()
    };
    let distinct = |records: usize, port: Option<u16>| -> Vec<ServiceRecord> {
        (0..records)
            .map(|r| {
                let mut rec = record((r % 65_535) as u16 + 1, port);
                rec.ipv6_hints = vec![v6(r)];
                rec
            })
            .collect()
    };
    let ech = {
        let mut rec = record(1, None);
        rec.ech = Some((0..30_000).map(|i| i as u8).collect());
        rec.ipv4_hints = (0..8_000u32)
            .map(|i| Ipv4Addr::from(0x0a00_0000 + i + 1))
            .collect();
        vec![rec]
    };
    let targets = (0..10_000)
        .map(|r| {
            let mut rec = record(1 + (r % 1000) as u16, None);
            rec.target = format!("t{r}{TARGETS}");
            rec
        })
        .collect();
    let plain = |what, records| Case {
        what,
        records,
        public_only: false,
    };
    vec![
        plain(
            "1 record, 1,000 ipv6hints, open port",
            with_v6_hints(1, 1_000, None),
        ),
        plain("4 records x 1,000 ipv6hints", with_v6_hints(4, 1_000, None)),
        plain("1,000 records x 1 ipv4hint", with_v4_hint(1_000)),
        plain("2,700 records x 1 ipv4hint", with_v4_hint(2_700)),
        plain(
            "10 records x 1,000 ipv6hints",
            with_v6_hints(10, 1_000, None),
        ),
        plain(
            "10,000 records, distinct priorities, open port",
            distinct(10_000, None),
        ),
        plain(
            "10,000 records, all refused",
            distinct(10_000, Some(ports.refused)),
        ),
        plain(
            "100 records x 1,000 ipv6hints",
            with_v6_hints(100, 1_000, None),
        ),
        Case {
            what: "1 record, 30 KB ech + 8,000 private ipv4hints, public_only",
            records: ech,
            public_only: true,
        },
        plain(
            "10,000 ServiceMode records with distinct TargetNames",
            targets,
        ),
    ]
}

/// Answers `NAME`'s HTTPS query (at its port's query name) with the case's records and its A and AAAA queries with nothing
/// (the hints are the addresses); a TargetName's AAAA with one local address. Counts queries.
#[derive(Debug)]
struct Hostile {
    rdatas: Arc<Vec<Vec<u8>>>,
    queries: Arc<AtomicUsize>,
}

impl Resolve for Hostile {
    fn lookup(&self, name: &str, family: Family) -> Lookup {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let ips = match family {
            Family::V6 if name.ends_with(TARGETS) => vec![IpAddr::V6(v6(0))],
            _ => Vec::new(),
        };
        Box::pin(async move { Ok(ips) })
    }

    fn lookup_https(&self, name: &str) -> Option<RecordLookup> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        // `_PORT._https.hostile.test` for a port other than 443 (RFC 9460 section 9.1).
        let rdatas = match name.ends_with(NAME) && !name.ends_with(TARGETS) {
            true => self.rdatas.clone(),
            false => Arc::new(Vec::new()),
        };
        Some(Box::pin(async move { Ok((*rdatas).clone()) }))
    }
}

fn inside() {
    run("ip", &["link", "set", "lo", "up"]);
    run(
        "ip",
        &["-6", "route", "add", "local", "2001:db8::/64", "dev", "lo"],
    );
    for net in ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"] {
        run("ip", &["route", "add", "local", net, "dev", "lo"]);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let v6 = tokio::net::TcpListener::bind("[::]:0").await.unwrap();
        let open = v6.local_addr().unwrap().port();
        let v4 = tokio::net::TcpListener::bind(("0.0.0.0", open)).await;
        let refused = {
            let l = std::net::TcpListener::bind("[::]:0").unwrap();
            l.local_addr().unwrap().port()
        };
        tokio::spawn(accept(v6));
        if let Ok(v4) = v4 {
            tokio::spawn(accept(v4));
        }
        let ports = Ports { open, refused };
        println!(
            "whole connects against hostile HTTPS answers (a current-thread runtime, a 1 ms ticker beside the connect)"
        );
        println!(
            "{:<58} | {:>12} | {:>16} | {:>6} | {:>10} | {:>7} | {:>9} | outcome",
            "HTTPS answer", "connect took", "executor blocked", "tried", "over limit", "queries", "heap peak"
        );
        for case in cases(ports) {
            measure(case, ports).await;
        }
    });
}

async fn accept(listener: tokio::net::TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        drop(stream);
    }
}

async fn measure(case: Case, ports: Ports) {
    let rdatas: Vec<Vec<u8>> = case
        .records
        .iter()
        .map(|r| r.to_rdata().expect("a record the bench can write"))
        .collect();
    let bytes: usize = rdatas.iter().map(Vec::len).sum();
    let queries = Arc::new(AtomicUsize::new(0));
    let resolver = Hostile {
        rdatas: Arc::new(rdatas),
        queries: queries.clone(),
    };
    let mut builder = Connector::builder()
        .resolver(resolver)
        .https_records(true)
        .connect_timeout(Duration::from_secs(60));
    if case.public_only {
        builder = builder.address_policy(AddressPolicy::public_only());
    }
    let connector = builder.build().unwrap();
    let (worst, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let ticker = tokio::spawn({
        let (worst, stop) = (worst.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let before = Instant::now();
                tokio::time::sleep(Duration::from_millis(1)).await;
                let gap = before.elapsed().as_micros() as u64;
                worst.fetch_max(gap, Ordering::Relaxed);
            }
        }
    });
    tokio::task::yield_now().await;
    let base = live();
    reset_peak();
    let start = Instant::now();
    let result = connector.connect((NAME, ports.open)).with_report().await;
    let took = start.elapsed();
    let held = peak() - base;
    stop.store(true, Ordering::Relaxed);
    ticker.await.unwrap();
    let (report, outcome) = match &result {
        Ok((_, report)) => (report, "connected".to_string()),
        Err(e) => (
            e.report().expect("a connect's error has its report"),
            format!("{e}"),
        ),
    };
    let over = report.service_answer().map_or(0, |s| s.over_limit());
    let outcome: String = outcome.chars().take(60).collect();
    println!(
        "{:<58} | {:>9.1} ms | {:>13.1} ms | {:>6} | {:>10} | {:>7} | {:>5.1} MiB | {outcome} ({} KB of RDATA)",
        case.what,
        took.as_secs_f64() * 1e3,
        worst.load(Ordering::Relaxed) as f64 / 1e3,
        report.attempts().len(),
        over,
        queries.load(Ordering::Relaxed),
        held as f64 / (1 << 20) as f64,
        bytes / 1000,
    );
}
