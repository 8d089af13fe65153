//! hyper-util's client with eyeballs' Happy Eyeballs connector, plain and wrapped by hyper-rustls.
//!
//! ```sh
//! cargo run --example hyper_client --features hyper                 # local servers, nothing leaves the machine
//! cargo run --example hyper_client --features hyper -- https://example.com/
//! ```
//!
//! With no URL it starts an HTTP and an HTTPS server (a self-signed certificate made at start) on
//! ::1 and 127.0.0.1, and fetches `localhost` from each.

#[path = "../tests/http_server/mod.rs"]
mod http_server;

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;
use eyeballs::Connector;
use eyeballs::hyper::{ConnectionInfo, HttpConnector};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let connector = Connector::builder()
        .socket_options(eyeballs::config::SocketOptions::default().nodelay(true))
        .build()?;
    match std::env::args().nth(1) {
        Some(url) => {
            let roots = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?;
            let mut http = HttpConnector::new(connector);
            http.enforce_http(false);
            let https = roots
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .wrap_connector(http);
            fetch(&Client::builder(TokioExecutor::new()).build(https), &url).await
        }
        None => demo(connector).await,
    }
}

/// One GET, printing status, protocol and how the connection was made.
async fn fetch<C: Connect + Clone + Send + Sync + 'static>(
    client: &Client<C, Empty<Bytes>>,
    url: &str,
) -> Result<(), BoxError> {
    let res = client.get(url.parse()?).await?;
    let status = res.status();
    let version = res.version();
    let info = res.extensions().get::<ConnectionInfo>().cloned();
    let body = res.into_body().collect().await?.to_bytes();
    println!("GET {url}: {status} {version:?}, {} bytes", body.len());
    if let Some(info) = info {
        println!(
            "  connected to {} ({}) from {}: attempt {} of {}, {:.1} ms",
            info.remote_addr(),
            info.family(),
            info.local_addr(),
            info.attempt() + 1,
            info.attempts(),
            info.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

async fn demo(connector: Connector) -> Result<(), BoxError> {
    let tls = http_server::tls();
    let plain = serve_both(None).await?;
    let secure = serve_both(Some(tls.acceptor.clone())).await?;

    println!("plain HTTP/1.1, then HTTP/2 with prior knowledge:");
    let http = HttpConnector::new(connector.clone());
    fetch(
        &Client::builder(TokioExecutor::new()).build(http.clone()),
        &format!("http://localhost:{plain}/"),
    )
    .await?;
    let h2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(http);
    fetch(&h2, &format!("http://localhost:{plain}/")).await?;

    println!("HTTPS through hyper-rustls (ALPN picks the protocol):");
    let https = http_server::https_connector(connector, tls.client);
    fetch(
        &Client::builder(TokioExecutor::new()).build(https),
        &format!("https://localhost:{secure}/"),
    )
    .await
}

/// Serves on one port on both ::1 and 127.0.0.1; returns the port.
async fn serve_both(tls: Option<tokio_rustls::TlsAcceptor>) -> Result<u16, BoxError> {
    for _ in 0..20 {
        let v4 = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await?;
        let port = v4.local_addr()?.port();
        if let Ok(v6) =
            TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)).await
        {
            http_server::serve_http(v6, tls.clone());
            http_server::serve_http(v4, tls);
            return Ok(port);
        }
    }
    Err("no port free on both ::1 and 127.0.0.1".into())
}
