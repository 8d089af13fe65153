//! hyper-util's legacy `Client` GETs to a loopback server: eyeballs' `HttpConnector` against
//! hyper-util's own `HttpConnector` (what reqwest users get), with a new connection per request
//! and with keep-alive. Goal: at least 97% of hyper-util's requests per second.
//!
//! For "new connection per request" the server answers `Connection: close` and closes first, so
//! thousands of connections leave no TIME_WAIT on the client's ports. After criterion's
//! measurements, an interleaved A/B loop prints the ratios directly.

mod ab;
#[path = "../tests/http_server/mod.rs"]
mod http_server;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector as HyperUtilConnector};
use hyper_util::rt::TokioExecutor;

type Body = Empty<Bytes>;

async fn get<C: Connect + Clone + Send + Sync + 'static>(
    client: &Client<C, Body>,
    uri: &hyper::Uri,
) {
    let res = client.get(uri.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    res.into_body().collect().await.unwrap();
}

struct Setup {
    rt: tokio::runtime::Runtime,
    eyeballs: Client<eyeballs::hyper::HttpConnector, Body>,
    hyper_util: Client<HyperUtilConnector, Body>,
}

fn setup(close: bool) -> (Setup, hyper::Uri) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr: SocketAddr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        http_server::serve_http_with(listener, None, close);
        addr
    });
    let uri: hyper::Uri = format!("http://{addr}/").parse().unwrap();
    let (eyeballs, hyper_util) = rt.block_on(async {
        let builder = Client::builder(TokioExecutor::new());
        (
            builder.build(eyeballs::hyper::HttpConnector::default()),
            builder.build(HyperUtilConnector::new()),
        )
    });
    (
        Setup {
            rt,
            eyeballs,
            hyper_util,
        },
        uri,
    )
}

fn bench(c: &mut Criterion) {
    for (name, close) in [("new_connection_per_request", true), ("keep_alive", false)] {
        let (s, uri) = setup(close);
        let mut group = c.benchmark_group(format!("hyper_client_get/{name}"));
        group.bench_function("hyper_util_HttpConnector", |b| {
            b.to_async(&s.rt).iter(|| get(&s.hyper_util, &uri))
        });
        group.bench_function("eyeballs_HttpConnector", |b| {
            b.to_async(&s.rt).iter(|| get(&s.eyeballs, &uri))
        });
        group.finish();

        // Interleaved A/B: requests per second of each, alternating which goes first.
        let ab = s.rt.block_on(ab::interleaved(
            20,
            300,
            || get(&s.hyper_util, &uri),
            || get(&s.eyeballs, &uri),
        ));
        let line = ab.throughput_line(name, "requests", "hyper-util", "eyeballs", "; goal >= 97%");
        println!("{line}");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
