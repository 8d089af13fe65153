//! Connect to a loopback listener by IP literal: `Connector::connect` against
//! `tokio::net::TcpStream::connect`, side by side in one run. Goal: at most 5% slower.
//!
//! Both sides close with SO_LINGER 0 (an RST) so thousands of connects leave no TIME_WAIT behind.
//! After criterion's two measurements, an interleaved A/B loop prints the ratio directly.

use std::net::SocketAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

mod ab;
use tokio::net::{TcpListener, TcpStream};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A listener on 127.0.0.1 that accepts and drops connections.
fn server(rt: &tokio::runtime::Runtime) -> SocketAddr {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        });
        addr
    })
}

fn close(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let addr = server(&rt);
    let connector = eyeballs::Connector::new();
    let host = addr.ip().to_string();
    let port = addr.port();

    let mut group = c.benchmark_group("connect_loopback_literal");
    group.bench_function("tokio_TcpStream_connect", |b| {
        b.to_async(&rt)
            .iter(|| async { close(TcpStream::connect(addr).await.unwrap()) })
    });
    group.bench_function("eyeballs_Connector_connect", |b| {
        b.to_async(&rt)
            .iter(|| async { close(connector.connect((&host, port)).await.unwrap()) })
    });
    group.finish();

    // Interleaved A/B, so drift on the machine hits both sides alike.
    let ab = rt.block_on(ab::interleaved(
        40,
        500,
        || async { close(TcpStream::connect(addr).await.unwrap()) },
        || async { close(connector.connect((&host, port)).await.unwrap()) },
    ));
    let (a, b) = ab.per_op();
    println!(
        "interleaved A/B over {} connects each: tokio {:.2} µs, eyeballs {:.2} µs; \
         ratio of totals {:.3}, median ratio of {} rounds {:.3} (goal <= 1.03)",
        ab.operations,
        a.as_secs_f64() * 1e6,
        b.as_secs_f64() * 1e6,
        ab.ratio_of_totals(),
        ab.ratios.len(),
        ab.median_ratio()
    );
}

/// By name (`localhost`, from the hosts file), IPv4 only: HTTPS records off (the default) and on
/// side by side. Off asks nothing more than AAAA/A; on adds the HTTPS lookup, which hickory answers
/// locally for `localhost` (RFC 6761), so the difference is the machinery's own cost.
fn by_name(c: &mut Criterion) {
    let rt = runtime();
    let addr = server(&rt);
    let port = addr.port();
    let build = |https: bool| {
        eyeballs::Connector::builder()
            .family(eyeballs::config::FamilyPolicy::Ipv4Only)
            .https_records(https)
            .build()
            .unwrap()
    };
    let (off, on) = (build(false), build(true));
    let mut group = c.benchmark_group("connect_loopback_by_name");
    group.bench_function("https_records_off", |b| {
        b.to_async(&rt)
            .iter(|| async { close(off.connect(("localhost", port)).await.unwrap()) })
    });
    group.bench_function("https_records_on", |b| {
        b.to_async(&rt)
            .iter(|| async { close(on.connect(("localhost", port)).await.unwrap()) })
    });
    group.finish();
    let ab = rt.block_on(ab::interleaved(
        40,
        250,
        || async { close(off.connect(("localhost", port)).await.unwrap()) },
        || async { close(on.connect(("localhost", port)).await.unwrap()) },
    ));
    let (a, b) = ab.per_op();
    println!(
        "by name, interleaved A/B over {} connects each: HTTPS records off {:.2} µs, on {:.2} µs; \
         ratio of totals {:.3}, median ratio of {} rounds {:.3}",
        ab.operations,
        a.as_secs_f64() * 1e6,
        b.as_secs_f64() * 1e6,
        ab.ratio_of_totals(),
        ab.ratios.len(),
        ab.median_ratio()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = bench, by_name
}
criterion_main!(benches);
