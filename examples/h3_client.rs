//! One GET over whichever connection wins the race of QUIC against TCP+TLS (issue 26): HTTP/3
//! (the `h3` and `h3-quinn` crates) when QUIC wins, HTTP/1.1 or HTTP/2 over hyper when TCP does.
//! It prints which, with the race's timeline.
//!
//! ```sh
//! cargo run --example h3_client --features quic                          # local servers
//! cargo run --example h3_client --features quic,native-roots -- https://example.com/
//! ```
//!
//! With no URL it starts, on 127.0.0.1, an HTTP/3 server and an HTTPS server on the same port
//! number (a self-signed certificate made at start), and fetches from it three times: with
//! UDP answered (QUIC wins), with UDP refused (nothing on the UDP port: TCP at once), and with
//! UDP silent (TCP one attempt delay later). Nothing leaves the machine.
//!
//! With a URL, the origin is marked as speaking HTTP/3 on its port (most HTTP/3 servers are
//! found through HTTPS records or `Alt-Svc`, both of which the connector also uses).

#[path = "../tests/h3_server/mod.rs"]
mod h3_server;
#[path = "../tests/http_server/mod.rs"]
mod http_server;

use std::error::Error;

use bytes::{Buf, Bytes};
use eyeballs::Connector;
use eyeballs::hyper::HttpsConnector;
use eyeballs::quic::{Connected, QuicConnector};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::args().nth(1) {
        Some(url) => {
            let uri: http::Uri = url.parse()?;
            let host = uri.host().ok_or("the URL has no host")?.to_string();
            let port = uri.port_u16().unwrap_or(443);
            let quic = QuicConnector::new(native_https()?)?;
            quic.mark_h3(&host, port, port);
            get(&quic, &host, port, &uri).await
        }
        None => demo().await,
    }
}

#[cfg(feature = "native-roots")]
fn native_https() -> Result<HttpsConnector, BoxError> {
    Ok(HttpsConnector::with_native_roots(Connector::new())?)
}

#[cfg(not(feature = "native-roots"))]
fn native_https() -> Result<HttpsConnector, BoxError> {
    Err(
        "a URL needs the platform's root certificates: build with --features quic,native-roots"
            .into(),
    )
}

/// The three local servers, one GET each.
async fn demo() -> Result<(), BoxError> {
    let certs = h3_server::certs();
    let https = HttpsConnector::new(Connector::new(), certs.client.clone());
    let quic = QuicConnector::new(https)?;
    for (udp, what) in [
        (h3_server::Udp::H3, "UDP answered"),
        (h3_server::Udp::Closed, "UDP refused"),
        (h3_server::Udp::Silent, "UDP silent"),
    ] {
        let server = h3_server::start("127.0.0.1", udp, &certs).await;
        let port = server.addr.port();
        println!("== {what}");
        quic.mark_h3("127.0.0.1", port, port);
        let uri: http::Uri = format!("https://127.0.0.1:{port}/").parse()?;
        get(&quic, "127.0.0.1", port, &uri).await?;
        println!();
    }
    Ok(())
}

/// Races, then sends the GET over what won.
async fn get(quic: &QuicConnector, host: &str, port: u16, uri: &http::Uri) -> Result<(), BoxError> {
    let (connected, report) = quic.connect_with_report(host, port).await?;
    print!("{report}");
    let alpn = connected
        .alpn()
        .map(|p| String::from_utf8_lossy(&p).into_owned());
    println!(
        "won: {} to {} (ALPN {})",
        connected.protocol(),
        connected.remote_addr()?,
        alpn.as_deref().unwrap_or("none")
    );
    let (status, body) = match connected {
        Connected::Quic(connection) => http3_get(connection, uri).await?,
        Connected::Tcp(tls) => hyper_get(tls.into_inner(), uri, alpn.as_deref()).await?,
        _ => return Err("a connection of a kind this example does not know".into()),
    };
    println!(
        "GET {uri}: {status}, {} bytes: {:?}",
        body.len(),
        String::from_utf8_lossy(&body[..body.len().min(80)])
    );
    Ok(())
}

/// HTTP/3 over the QUIC connection.
async fn http3_get(
    connection: quinn::Connection,
    uri: &http::Uri,
) -> Result<(http::StatusCode, Vec<u8>), BoxError> {
    let (mut driver, mut send) = h3::client::new(h3_quinn::Connection::new(connection)).await?;
    let drive = tokio::spawn(async move { driver.wait_idle().await });
    let request = http::Request::get(uri.clone()).body(())?;
    let mut stream = send.send_request(request).await?;
    stream.finish().await?;
    let response = stream.recv_response().await?;
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await? {
        body.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    drop((send, stream));
    drive.abort();
    Ok((response.status(), body))
}

/// HTTP/2 or HTTP/1.1 (as ALPN chose) over the TLS stream, with hyper.
async fn hyper_get(
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    uri: &http::Uri,
    alpn: Option<&str>,
) -> Result<(http::StatusCode, Vec<u8>), BoxError> {
    let io = TokioIo::new(stream);
    let authority = uri
        .authority()
        .ok_or("the URL has no authority")?
        .to_string();
    let response = if alpn == Some("h2") {
        let executor = hyper_util::rt::TokioExecutor::new();
        let (mut send, conn) = hyper::client::conn::http2::handshake(executor, io).await?;
        tokio::spawn(conn);
        let request = http::Request::get(uri.clone()).body(Empty::<Bytes>::new())?;
        send.send_request(request).await?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        let request = http::Request::get(uri.path())
            .header(http::header::HOST, authority)
            .body(Empty::<Bytes>::new())?;
        send.send_request(request).await?
    };
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, body))
}
