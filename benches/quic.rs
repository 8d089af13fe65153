//! QUIC connects to a loopback literal (an HTTP/3 server made here, quinn's): eyeballs'
//! `QuicConnector::connect` (the race, where QUIC goes first and wins before TCP's turn)
//! against quinn's own `Endpoint::connect` on one shared client endpoint, interleaved A/B.
//! Goal (issue 26): at most 1.05x quinn's time per connect. Then the memory a QUIC attempt in
//! flight holds: N connects to a UDP port that never answers, each in a task, measured 200 ms
//! after their start (before the TCP attempts' turn at 250 ms): heap bytes (a counting
//! allocator: exact), resident growth and descriptors per attempt; then every connect is
//! dropped and the bench checks that heap bytes and descriptors come back once the closing
//! periods (RFC 9000 §10.2) are over.
//!
//! `cargo bench --bench quic --features quic` (no root needed).

mod ab;
#[path = "../tests/common/counting.rs"]
mod counting;
#[path = "../tests/h3_server/mod.rs"]
mod h3_server;
#[path = "../tests/http_server/mod.rs"]
mod http_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use counting::{Counting, live};
use eyeballs::Connector;
use eyeballs::hyper::HttpsConnector;
use eyeballs::quic::QuicConnector;

#[global_allocator]
static ALLOC: Counting = Counting;

const ROUNDS: usize = 20;
const PER_ROUND: usize = 100;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments are not ours.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let certs = h3_server::certs();
    let server = h3_server::start("127.0.0.1", h3_server::Udp::H3, &certs).await;
    let addr = server.addr;
    let host = addr.ip().to_string();

    let https = HttpsConnector::new(Connector::new(), certs.client.clone());
    let eyeballs = QuicConnector::new(https).unwrap();
    eyeballs.mark_h3(&host, addr.port(), addr.port());

    let mut tls = certs.client.clone();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut quinn_client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    quinn_client.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));

    // Warm both up.
    for _ in 0..20 {
        drop(eyeballs.connect(&host, addr.port()).await.unwrap());
        drop(quinn_client.connect(addr, &host).unwrap().await.unwrap());
    }
    let ab = ab::interleaved(
        ROUNDS,
        PER_ROUND,
        || async {
            let connection = quinn_client.connect(addr, &host).unwrap().await.unwrap();
            connection.close(0u32.into(), b"");
        },
        || async {
            let won = eyeballs.connect(&host, addr.port()).await.unwrap();
            let eyeballs::quic::Connected::Quic(connection) = won else {
                panic!("TCP won a race QUIC should win");
            };
            connection.close(0u32.into(), b"");
        },
    )
    .await;
    let (quinn_per, eyeballs_per) = ab.per_op();
    println!(
        "QUIC connect to a loopback literal, interleaved A/B, {} connects each: quinn \
         Endpoint::connect {:.1} µs, eyeballs QuicConnector::connect {:.1} µs per connect; \
         eyeballs / quinn {:.3} (median of {} rounds {:.3}; goal: at most 1.05)",
        ab.operations,
        quinn_per.as_secs_f64() * 1e6,
        eyeballs_per.as_secs_f64() * 1e6,
        ab.ratio_of_totals(),
        ab.ratios.len(),
        ab.median_ratio()
    );
    // Memory per QUIC attempt in flight: a UDP port that reads and never answers. A connector
    // of its own without history (so every TCP attempt waits for the configured 250 ms, and
    // what is measured at 200 ms is the QUIC attempts alone), its endpoint made beforehand.
    let https = HttpsConnector::new(
        Connector::builder().without_history().build().unwrap(),
        certs.client.clone(),
    );
    let eyeballs = QuicConnector::new(https).unwrap();
    eyeballs.mark_h3(&host, addr.port(), addr.port());
    drop(eyeballs.connect(&host, addr.port()).await.unwrap());
    drop(server);
    let silent = h3_server::start("127.0.0.1", h3_server::Udp::Silent, &certs).await;
    let port = silent.addr.port();
    eyeballs.mark_h3(&host, port, port);
    // Let earlier connections finish their closing periods first.
    tokio::time::sleep(Duration::from_secs(4)).await;
    // quinn's own, side by side: the same connects on its shared endpoint.
    let silent_addr = silent.addr;
    {
        let heap0 = live();
        let n = 1000;
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (endpoint, host) = (quinn_client.clone(), host.clone());
                tokio::spawn(async move {
                    let _ = endpoint.connect(silent_addr, &host).unwrap().await;
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let heap1 = live();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        println!(
            "{n} quinn Endpoint::connect attempts in flight (no answer, 200 ms in): {:.0} heap \
             bytes per attempt",
            (heap1 - heap0) as f64 / n as f64
        );
        tokio::time::sleep(Duration::from_millis(3500)).await;
    }
    // 1,000 twice: what stays after the first is the capacity quinn's tables grew to.
    for n in [100usize, 1000, 1000] {
        let (heap0, rss0, fds0) = (live(), resident_bytes(), open_fds());
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (quic, host) = (eyeballs.clone(), host.clone());
                tokio::spawn(async move { quic.connect(&host, port).await.map(drop) })
            })
            .collect();
        // Before the TCP attempts' turn (250 ms), after the last QUIC attempt started (one task
        // polls them all: 1,000 ClientHellos take a while).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (heap1, rss1, fds1) = (live(), resident_bytes(), open_fds());
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        // The closing periods (three probe timeouts at the initial RTT estimate, 333 ms).
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let per = |a: usize, b: usize| a.saturating_sub(b) as f64 / n as f64;
        println!(
            "{n} QUIC attempts in flight (no answer, 200 ms in): {:.0} heap bytes, {:.0} resident \
             bytes, {:.1} descriptors per attempt; after the drop and the closing periods \
             ({:.1} s): descriptors {} -> {}, heap {:+} bytes",
            per(heap1 as usize, heap0 as usize),
            per(rss1, rss0),
            per(fds1, fds0),
            t0.elapsed().as_secs_f64(),
            fds0,
            open_fds(),
            live() as i64 - heap0 as i64,
        );
        assert!(open_fds() <= fds0, "descriptors did not come back");
    }
}
