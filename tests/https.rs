//! `eyeballs::hyper::HttpsConnector` (feature `rustls`) under hyper-util's client, against local
//! TLS servers on ::1 and 127.0.0.1: the race runs through the TLS handshake (HE-9.1).

mod common;
mod http_server;

use bytes::Bytes;
use common::{Behaviour, dual_port, listening, serve_as};
use eyeballs::hyper::{ConnectError, ConnectionInfo, HttpsConnector};
use eyeballs::{Connector, Family};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpInfo;
use hyper_util::rt::TokioExecutor;
use tower_service::Service;

type Body = Empty<Bytes>;

/// Trusts the test certificate; offers h2 and http/1.1.
fn https(tls: &http_server::Tls) -> HttpsConnector {
    let mut client = tls.client.clone();
    client.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    HttpsConnector::new(Connector::new(), client)
}

async fn get(
    client: &Client<HttpsConnector, Body>,
    url: &str,
) -> Result<(String, ConnectionInfo, HttpInfo), hyper_util::client::legacy::Error> {
    let res = client.get(url.parse().unwrap()).await?;
    assert_eq!(res.status(), 200);
    let info = res.extensions().get::<ConnectionInfo>().cloned().unwrap();
    let http_info = res.extensions().get::<HttpInfo>().cloned().unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Ok((String::from_utf8(body.to_vec()).unwrap(), info, http_info))
}

fn client(connector: HttpsConnector) -> Client<HttpsConnector, Body> {
    Client::builder(TokioExecutor::new()).build(connector)
}

// HE-9.1: healthy: IPv6 wins through TLS; ALPN h2 is negotiated and used; hyper-util's HttpInfo
// is there next to ConnectionInfo, which has the TLS timing.
#[tokio::test]
async fn he_9_1_healthy_ipv6_wins_with_h2() {
    let dual = dual_port();
    let port = dual.port;
    let tls = http_server::tls();
    let _s6 = http_server::serve_http(listening(dual.v6), Some(tls.acceptor.clone()));
    let _s4 = http_server::serve_http(listening(dual.v4), Some(tls.acceptor.clone()));
    let (body, info, http_info) = get(&client(https(&tls)), &format!("https://localhost:{port}/"))
        .await
        .unwrap();
    assert!(body.starts_with("hello HTTP/2.0 from [::1]"), "{body}");
    assert_eq!(info.family(), Family::V6);
    assert_eq!(info.alpn(), Some(&b"h2"[..]));
    assert!(info.tcp_elapsed() <= info.elapsed());
    assert_eq!(http_info.remote_addr(), info.remote_addr());
    assert_eq!(http_info.local_addr(), info.local_addr());
}

// HE-9.2: IPv6 accepts, then resets (the uv-style failure): eyeballs' HttpsConnector moves on to
// IPv4 and the request succeeds; hyper-rustls over a TCP-only race hands over the broken IPv6
// connection and the request fails.
#[tokio::test]
async fn he_9_2_ipv6_resets_after_accept_request_succeeds_over_ipv4() {
    let dual = dual_port();
    let port = dual.port;
    let tls = http_server::tls();
    let _s6 = serve_as(listening(dual.v6), Behaviour::Reset);
    let _s4 = http_server::serve_http(listening(dual.v4), Some(tls.acceptor.clone()));
    let url = format!("https://localhost:{port}/");
    let (body, info, _) = get(&client(https(&tls)), &url).await.unwrap();
    assert!(body.contains("127.0.0.1"), "{body}");
    assert_eq!(info.family(), Family::V4);
    assert_eq!((info.attempt(), info.attempts()), (1, 2));

    let tcp_only = http_server::https_connector(Connector::new(), tls.client.clone());
    let tcp_only: Client<_, Body> = Client::builder(TokioExecutor::new()).build(tcp_only);
    assert!(
        tcp_only.get(url.parse().unwrap()).await.is_err(),
        "racing TCP only picks the IPv6 connection that resets"
    );
}

// HE-9.3: IPv6 accepts and stays silent: IPv4 starts after the attempt delay and the request
// succeeds over it (the instant itself is the paused-clock driver tests').
#[tokio::test]
async fn he_9_3_ipv6_silent_after_accept_request_succeeds_over_ipv4() {
    let dual = dual_port();
    let port = dual.port;
    let tls = http_server::tls();
    let _s6 = serve_as(listening(dual.v6), Behaviour::Silent);
    let _s4 = http_server::serve_http(listening(dual.v4), Some(tls.acceptor.clone()));
    let (body, info, _) = get(&client(https(&tls)), &format!("https://localhost:{port}/"))
        .await
        .unwrap();
    assert!(body.contains("127.0.0.1"), "{body}");
    assert_eq!(info.family(), Family::V4);
    assert_eq!(
        (info.attempt(), info.attempts()),
        (1, 2),
        "the second attempt won"
    );
}

// HE-9.2: an untrusted certificate fails every attempt's handshake: a typed connect error that
// says TCP connected and the handshake failed.
#[tokio::test]
async fn he_9_2_untrusted_certificate_is_a_handshake_failure() {
    let dual = dual_port();
    let port = dual.port;
    let server = http_server::tls();
    let _s6 = http_server::serve_http(listening(dual.v6), Some(server.acceptor.clone()));
    let _s4 = http_server::serve_http(listening(dual.v4), Some(server.acceptor.clone()));
    let other = http_server::tls(); // trusts another certificate
    let mut connector = https(&other);
    let err = connector
        .call(format!("https://localhost:{port}/").parse().unwrap())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Connect(_)), "{err:?}");
    assert!(
        text.contains("connected, then the handshake failed") && text.contains("certificate"),
        "{text}"
    );
}

// `http` URIs go over plain TCP (as hyper-rustls's https_or_http); with https_only they are a
// typed error.
#[tokio::test]
async fn http_uris_plain_or_refused() {
    let dual = dual_port();
    let port = dual.port;
    let tls = http_server::tls();
    let _s6 = http_server::serve_http(listening(dual.v6), None);
    let _s4 = http_server::serve_http(listening(dual.v4), None);
    let url = format!("http://localhost:{port}/");
    let (body, info, _) = get(&client(https(&tls)), &url).await.unwrap();
    assert!(body.starts_with("hello HTTP/1.1 from [::1]"), "{body}");
    assert_eq!(info.alpn(), None);
    assert_eq!(info.tcp_elapsed(), info.elapsed());

    let mut only = https(&tls);
    only.https_only(true);
    let err = only.call(url.parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, ConnectError::InvalidUri { .. }), "{err:?}");
}

#[test]
fn https_future_is_send_and_unpin() {
    fn send_unpin<T: Send + Unpin>(_: &T) {}
    let tls = http_server::tls();
    let mut c = https(&tls);
    send_unpin(&c.call("https://localhost/".parse().unwrap()));
}

// The platform-roots constructor loads the system's roots (the test command installs
// ca-certificates) and offers HTTP/1.1.
#[cfg(feature = "native-roots")]
#[test]
fn native_roots_load() {
    let https = HttpsConnector::with_native_roots(Connector::new()).expect("platform roots");
    assert!(format!("{https:?}").contains("HttpsConnector"));
}
