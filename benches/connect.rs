//! Connect to a loopback listener by IP literal: `Connector::connect` against
//! `tokio::net::TcpStream::connect`, side by side in one run. Goal: at most 5% slower.
//!
//! Both sides close with SO_LINGER 0 (an RST) so thousands of connects leave no TIME_WAIT behind.
//! After criterion's two measurements, an interleaved A/B loop prints the ratio directly.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
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
            .iter(|| async { close(connector.connect(&host, port).await.unwrap()) })
    });
    group.finish();

    // Interleaved A/B, so drift on the machine hits both sides alike.
    let rounds = 40;
    let per_round = 500;
    let (mut tokio_total, mut eyeballs_total) = (Duration::ZERO, Duration::ZERO);
    let mut ratios = Vec::new();
    rt.block_on(async {
        for round in 0..rounds {
            // Alternate which side goes first, so neither always runs on a warmer machine.
            let mut pair = [Duration::ZERO; 2];
            for side in [round % 2, 1 - round % 2] {
                let t = Instant::now();
                for _ in 0..per_round {
                    if side == 0 {
                        close(TcpStream::connect(addr).await.unwrap());
                    } else {
                        close(connector.connect(&host, port).await.unwrap());
                    }
                }
                pair[side] = t.elapsed();
            }
            tokio_total += pair[0];
            eyeballs_total += pair[1];
            ratios.push(pair[1].as_secs_f64() / pair[0].as_secs_f64());
        }
    });
    let n = (rounds * per_round) as f64;
    let (a, b) = (
        tokio_total.as_secs_f64() / n * 1e6,
        eyeballs_total.as_secs_f64() / n * 1e6,
    );
    ratios.sort_by(f64::total_cmp);
    println!(
        "interleaved A/B over {} connects each: tokio {a:.2} µs, eyeballs {b:.2} µs; \
         ratio of totals {:.3}, median ratio of {rounds} rounds {:.3} (goal <= 1.05)",
        rounds * per_round,
        b / a,
        ratios[ratios.len() / 2]
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
