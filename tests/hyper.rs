//! The hyper adapter under hyper-util's legacy client, plain and wrapped by hyper-rustls, against
//! local hyper servers on ::1 and 127.0.0.1.

mod common;
mod http_server;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{BlackHole, dual_port, listening};
use eyeballs::hyper::{ConnectError, ConnectionInfo, HttpConnector};
use eyeballs::{Connector, Family};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_service::Service;

type Body = Empty<Bytes>;

async fn get<C>(client: &Client<C, Body>, url: &str) -> (String, ConnectionInfo)
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let res = client.get(url.parse().unwrap()).await.unwrap();
    assert_eq!(res.status(), 200);
    let info = res
        .extensions()
        .get::<ConnectionInfo>()
        .cloned()
        .expect("ConnectionInfo in the extensions");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8(body.to_vec()).unwrap(), info)
}

#[tokio::test]
async fn http1_and_http2_through_hyper_util_client() {
    let dual = dual_port();
    let port = dual.port;
    let _s6 = http_server::serve_http(listening(dual.v6), None);
    let _s4 = http_server::serve_http(listening(dual.v4), None);
    let url = format!("http://localhost:{port}/");

    let h1: Client<_, Body> = Client::builder(TokioExecutor::new()).build(HttpConnector::default());
    let (body, info) = get(&h1, &url).await;
    assert!(body.starts_with("hello HTTP/1.1 from [::1]"), "{body}");
    assert_eq!(info.family(), Family::V6);
    assert_eq!((info.attempt(), info.attempts()), (0, 1));
    assert_eq!(info.remote_addr().port(), port);

    let h2: Client<_, Body> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::default());
    let (body, _) = get(&h2, &url).await;
    assert!(body.starts_with("hello HTTP/2.0 from [::1]"), "{body}");

    // An IPv4 literal URL, and an IPv6 literal in brackets.
    let (body, info) = get(&h1, &format!("http://127.0.0.1:{port}/")).await;
    assert!(body.contains("127.0.0.1"), "{body}");
    assert_eq!(info.family(), Family::V4);
    let (body, _) = get(&h1, &format!("http://[::1]:{port}/")).await;
    assert!(body.contains("[::1]"), "{body}");
}

#[tokio::test]
async fn https_through_hyper_rustls() {
    let dual = dual_port();
    let port = dual.port;
    let tls = http_server::tls();
    let _s6 = http_server::serve_http(listening(dual.v6), Some(tls.acceptor.clone()));
    let _s4 = http_server::serve_http(listening(dual.v4), Some(tls.acceptor));

    let https = http_server::https_connector(Connector::new(), tls.client);
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build(https);
    let (body, info) = get(&client, &format!("https://localhost:{port}/")).await;
    assert!(
        body.starts_with("hello HTTP/2.0 from [::1]"),
        "ALPN chose h2: {body}"
    );
    assert_eq!(info.family(), Family::V6);
}

// HE-5.1 end to end: IPv6 black-holed, the request still succeeds over IPv4.
#[tokio::test]
async fn ipv6_black_holed_request_succeeds_over_ipv4() {
    let dual = dual_port();
    let port = dual.port;
    let _hole = BlackHole::from_bound(dual.v6);
    let _s4 = http_server::serve_http(listening(dual.v4), None);
    let client: Client<_, Body> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::default());
    let t = Instant::now();
    let (body, info) = get(&client, &format!("http://localhost:{port}/")).await;
    assert!(body.contains("127.0.0.1"), "{body}");
    assert_eq!(info.family(), Family::V4);
    assert_eq!((info.attempt(), info.attempts()), (1, 2));
    let took = t.elapsed();
    // IPv4 waited for the attempt delay (the exact instant is the paused-clock driver tests').
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

#[tokio::test]
async fn bad_uris_are_typed_errors() {
    let mut connector = HttpConnector::new(Connector::new());
    let cases = [
        ("https://localhost/", "enforce_http(false)"),
        ("ftp://localhost/", "unsupported scheme"),
        ("/no/scheme", "scheme is missing"),
    ];
    for (uri, want) in cases {
        let err = connector.call(uri.parse().unwrap()).await.unwrap_err();
        assert!(
            matches!(err, ConnectError::InvalidUri { .. }),
            "{uri}: {err:?}"
        );
        assert!(err.to_string().contains(want), "{uri}: {err}");
    }
    let err = connector
        .call("http://a..b/".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::Connect(eyeballs::Error::InvalidInput { .. })
        ),
        "{err:?}"
    );

    // Through the client, the typed error is in the source chain.
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build(connector);
    let err = client
        .get("https://localhost/".parse().unwrap())
        .await
        .unwrap_err();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut found = false;
    while let Some(e) = source {
        found |= e.downcast_ref::<ConnectError>().is_some();
        source = e.source();
    }
    assert!(found, "{err:?}");
}

#[test]
fn connector_future_is_send_and_unpin() {
    fn send_unpin<T: Send + Unpin>(_: &T) {}
    let mut c = HttpConnector::default();
    send_unpin(&c.call("http://localhost/".parse().unwrap()));
}

// hyper-util's own HttpInfo is in the extensions too, so code that reads it (reqwest's
// remote_addr, request logging) keeps working.
#[tokio::test]
async fn http_info_is_there_next_to_connection_info() {
    let dual = dual_port();
    let port = dual.port;
    let _s6 = http_server::serve_http(listening(dual.v6), None);
    let _s4 = http_server::serve_http(listening(dual.v4), None);
    let client: Client<_, Body> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::default());
    let res = client
        .get(format!("http://localhost:{port}/").parse().unwrap())
        .await
        .unwrap();
    let info = res.extensions().get::<ConnectionInfo>().unwrap();
    let http_info = res
        .extensions()
        .get::<hyper_util::client::legacy::connect::HttpInfo>()
        .expect("HttpInfo in the extensions");
    assert_eq!(http_info.remote_addr(), info.remote_addr());
    assert_eq!(http_info.local_addr(), info.local_addr());
    assert_eq!(info.tcp_elapsed(), info.elapsed());
}

// The error hyper-util's client reports for a refused connect leads, through `source()`, to the
// OS error, as with hyper-util's own connector.
#[tokio::test]
async fn a_refused_connect_shows_its_io_error_through_hyper_util() {
    let refused = common::refused_addr("127.0.0.1");
    let client: Client<HttpConnector, Body> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new(Connector::new()));
    let url = format!("http://127.0.0.1:{}/", refused.port());
    let err = client.get(url.parse().unwrap()).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let kind = common::io_error_in_chain(&err).map(std::io::Error::kind);
    assert_eq!(kind, Some(std::io::ErrorKind::ConnectionRefused), "{err:?}");
}
