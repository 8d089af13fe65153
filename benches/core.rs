//! Core scheduling cost: a whole race over n addresses, every attempt failing in turn, so every
//! address is sorted, interleaved, started and retired. Goal: O(n log n), under 1 µs per address.
//!
//! Also what an HTTPS answer costs, by size (HE-10.8): parsing its records, bounding it and
//! handing it to a race, for answers of 10 to 10,000 records with one hint each and of 4 records
//! with 10 to 1,000 hints each. Goal: growth no worse than linear in the answer.
//!
//! No sockets and no traffic: the core is pure. IPv4 addresses come from 198.18.0.0/15 (RFC 2544,
//! benchmarking) because 4096 do not fit in the documentation ranges.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use eyeballs::Family;
use eyeballs::proto::history::{History, Limits as HistoryLimits};
use eyeballs::proto::svcb::{ServiceRecord, bound_answer};
use eyeballs::proto::{Action, Addresses, Answer, Candidate, Input, Query, Race, RaceConfig};

fn candidates(n: usize) -> (Vec<Candidate>, Vec<Candidate>) {
    let src6: IpAddr = "2001:db8:ffff::1".parse().unwrap();
    let src4: IpAddr = "198.18.255.1".parse().unwrap();
    let v6 = (0..n / 2)
        .map(|i| Candidate {
            dst: SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | (i as u128 + 1))),
                443,
            ),
            src: Some(src6),
            hist: Default::default(),
            origin: None,
        })
        .collect();
    let v4 = (0..n - n / 2)
        .map(|i| Candidate {
            dst: SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(0xc612_0000_u32 + i as u32 + 1)),
                443,
            ),
            src: Some(src4),
            hist: Default::default(),
            origin: None,
        })
        .collect();
    (v6, v4)
}

fn config() -> RaceConfig {
    RaceConfig {
        resolution_delay: Duration::from_millis(50),
        attempt_delay: Duration::from_millis(250),
        first_family_count: 1,
        attempt_timeout: None,
        connect_timeout: None,
        adaptive_delay: None,
    }
}

/// Runs one race to its end; returns the number of attempts started.
fn race(v6: Vec<Candidate>, v4: Vec<Candidate>, t0: Instant) -> usize {
    let mut race = Race::new(config(), t0, Addresses::Given { v6: true, v4: true });
    // Given addresses are the answers to queries nobody sends.
    let (Some(v6_id), Some(v4_id)) = (race.given(Family::V6), race.given(Family::V4)) else {
        unreachable!("both families were announced");
    };
    let answer = Answer::Addresses(v4);
    race.handle(Input::Answer { id: v4_id, answer }, t0);
    let answer = Answer::Addresses(v6);
    let later = t0 + Duration::from_millis(10);
    race.handle(Input::Answer { id: v6_id, answer }, later);
    let mut started = 0;
    let mut now = t0 + Duration::from_millis(10);
    loop {
        let mut failed = Vec::new();
        while let Some(action) = race.poll_action() {
            match action {
                Action::Start { id, .. } => {
                    started += 1;
                    failed.push(id);
                }
                Action::Done(_) => return started,
                // Given addresses: nothing is queried.
                Action::Cancel { .. } | Action::Query { .. } => {}
            }
        }
        now += Duration::from_micros(100);
        for id in failed {
            race.handle(Input::AttemptFailed(id), now);
        }
        if let Some(deadline) = race.poll_timeout() {
            race.handle_timeout(deadline.max(now));
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_schedule");
    for n in [2usize, 16, 256, 4096] {
        let (v6, v4) = candidates(n);
        let t0 = Instant::now();
        assert_eq!(
            race(v6.clone(), v4.clone(), t0),
            n,
            "every address is tried once"
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_batched(
                || (v6.clone(), v4.clone()),
                |(v6, v4)| black_box(race(v6, v4, t0)),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // What history costs a connect: one lookup per address, in a full table (4096 entries).
    let mut history = History::new(HistoryLimits {
        max_entries: 4096,
        failure_ttl: Duration::from_secs(300),
    });
    let t0 = Instant::now();
    let src = Some(IpAddr::from([192, 0, 2, 200]));
    for i in 0..4096u32 {
        let dst = SocketAddr::new(IpAddr::from((0xc633_6400 + i).to_be_bytes()), 443);
        history.success(src, dst, Duration::from_millis(20), t0);
    }
    let probe = SocketAddr::new(IpAddr::from((0xc633_6400u32 + 17).to_be_bytes()), 443);
    c.bench_function("history_verdict_in_4096_entries", |b| {
        b.iter(|| black_box(history.verdict(src, black_box(probe), t0)))
    });
}

/// An answer of `records` ServiceMode records (priorities spread), each with `hints` IPv4 hints,
/// as RDATA.
fn https_answer(records: usize, hints: usize) -> Vec<Vec<u8>> {
    (0..records)
        .map(|i| {
            let mut r = ServiceRecord::default();
            r.priority = (i % 1000) as u16 + 1;
            r.ipv4_hints = (0..hints)
                .map(|j| Ipv4Addr::from(0xc612_0000_u32 + (i * hints + j) as u32 + 1))
                .collect();
            r.to_rdata().expect("writable")
        })
        .collect()
}

/// What a driver does with an HTTPS answer, in the core: parse, bound, make the kept hints
/// candidates, hand all to a race waiting for it. Returns the addresses the race planned.
fn handle_https(rdatas: &[Vec<u8>], t0: Instant) -> usize {
    let mut race = Race::new(
        config(),
        t0,
        Addresses::Query {
            v6: false,
            v4: true,
        },
    )
    .with_service_query("svc.test", 443, vec![b"h2".to_vec()], |_| {});
    let mut service = None;
    while let Some(action) = race.poll_action() {
        if let Action::Query {
            id,
            query: Query::Service(_),
        } = action
        {
            service = Some(id);
        }
    }
    let mut records: Vec<ServiceRecord> = rdatas
        .iter()
        .filter_map(|r| ServiceRecord::from_rdata(r).ok())
        .collect();
    bound_answer(&mut records);
    let src = Some(IpAddr::from([198, 18, 255, 1]));
    let hints = records
        .iter()
        .flat_map(|r| r.ipv4_hints.iter())
        .map(|ip| Candidate {
            dst: SocketAddr::new(IpAddr::V4(*ip), 443),
            src,
            hist: Default::default(),
            origin: None,
        })
        .collect();
    let answer = Answer::Records { records, hints };
    race.handle(
        Input::Answer {
            id: service.expect("the HTTPS query is asked"),
            answer,
        },
        t0,
    );
    race.plan().0.len()
}

fn bench_https(c: &mut Criterion) {
    let t0 = Instant::now();
    let mut group = c.benchmark_group("https_answer_records");
    for n in [10usize, 100, 1_000, 10_000] {
        let answer = https_answer(n, 1);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &answer, |b, answer| {
            b.iter(|| black_box(handle_https(answer, t0)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("https_answer_hints_in_4_records");
    for n in [10usize, 100, 1_000] {
        let answer = https_answer(4, n);
        group.throughput(Throughput::Elements(4 * n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &answer, |b, answer| {
            b.iter(|| black_box(handle_https(answer, t0)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench, bench_https
}
/// With `EYEBALLS_CORE_RACES="N K"`: runs K races over N addresses and nothing else, for counting
/// instructions (deterministic, unlike time): run it under callgrind with two values of K, and the
/// difference over the difference in K is the instructions per race, e.g.
/// `EYEBALLS_CORE_RACES="2 3000" valgrind --tool=callgrind target/release/deps/core-*` (the
/// figures in docs/performance.md).
fn count_races(spec: &str) {
    let mut args = spec.split_whitespace().map(|a| a.parse::<usize>());
    let (Some(Ok(n)), Some(Ok(k))) = (args.next(), args.next()) else {
        panic!("EYEBALLS_CORE_RACES is \"N K\": addresses per race, races");
    };
    let (v6, v4) = candidates(n);
    let t0 = Instant::now();
    let started: usize = (0..k)
        .map(|_| black_box(race(black_box(v6.clone()), black_box(v4.clone()), t0)))
        .sum();
    assert_eq!(started, n * k, "every address is tried once");
    println!("{k} races of {n} addresses");
}

fn main() {
    if let Ok(spec) = std::env::var("EYEBALLS_CORE_RACES") {
        count_races(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
