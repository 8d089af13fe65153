//! A TLS adapter written outside the crate, on the public `Handshake` seam alone (as one for
//! native-tls or BoringSSL would be): tokio-rustls, with the server name taken from the
//! `Destination` each attempt gets. Raced against loopback TLS servers on ::1 and 127.0.0.1
//! (HE-9.1, HE-9.2).

mod common;
mod http_server;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use common::{Behaviour, dual_port, listening, serve_as};
use eyeballs::{Connector, Destination, Family, Handshake};
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A destination a handshake started on: its address, host and whether it came from an HTTPS
/// record.
type Seen = (SocketAddr, Option<String>, bool);

/// What a third party writes: a TLS handshake over each attempt's stream.
struct RustlsAdapter {
    tls: TlsConnector,
    /// Every destination a handshake started on.
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Handshake for RustlsAdapter {
    type Output = TlsStream<TcpStream>;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream<TcpStream>>> + Send>>;

    fn handshake(&self, stream: TcpStream, to: &Destination<'_>) -> Self::Future {
        self.seen.lock().unwrap().push((
            to.addr(),
            to.host().map(str::to_string),
            to.endpoint().is_some(),
        ));
        let name = to
            .host()
            .and_then(|host| ServerName::try_from(host.to_string()).ok());
        let tls = self.tls.clone();
        Box::pin(async move {
            let name = name.ok_or_else(|| io::Error::other("no server name"))?;
            tls.connect(name, stream).await
        })
    }
}

fn adapter(tls: &http_server::Tls) -> RustlsAdapter {
    RustlsAdapter {
        tls: TlsConnector::from(Arc::new(tls.client.clone())),
        seen: Arc::default(),
    }
}

/// Completes the TLS handshake on every connection and holds it until the client closes.
fn serve_tls(listener: TcpListener, tls: &http_server::Tls) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncReadExt;
    let acceptor = tls.acceptor.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut stream) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                }
            });
        }
    })
}

/// TLS servers on ::1 and 127.0.0.1, on one port.
fn tls_on_both(tls: &http_server::Tls) -> (u16, [tokio::task::JoinHandle<()>; 2]) {
    let dual = dual_port();
    let servers = [
        serve_tls(listening(dual.v6), tls),
        serve_tls(listening(dual.v4), tls),
    ];
    (dual.port, servers)
}

// HE-9.1: a handshake of a third party's wins the race through the public seam; it gets the
// host it must verify the certificate for, and the connect yields its TLS stream.
#[tokio::test]
async fn he_9_1_a_third_party_tls_adapter_races_through_its_handshake() {
    let tls = http_server::tls();
    let (port, _servers) = tls_on_both(&tls);
    let adapter = adapter(&tls);
    let seen = adapter.seen.clone();
    let (stream, report) = Connector::new()
        .connect(("localhost", port))
        .handshake(adapter)
        .with_report()
        .await
        .unwrap();
    let (tcp, session) = stream.get_ref();
    assert!(session.peer_certificates().is_some());
    assert_eq!(tcp.peer_addr().unwrap(), report.winner().unwrap().addr());
    assert_eq!(report.winner().unwrap().family(), Family::V6);
    assert!(report.winner().unwrap().tcp_connected().is_some());
    let seen = seen.lock().unwrap().clone();
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    assert_eq!(seen[0], (v6, Some("localhost".to_string()), false));
}

// HE-9.2: IPv6 accepts, then resets, so its TLS handshake fails: the adapter's failure counts as
// the attempt's, IPv4 starts at once and wins through the same adapter.
#[tokio::test]
async fn he_9_2_an_adapter_failure_moves_the_race_on() {
    let dual = dual_port();
    let port = dual.port;
    let tls = http_server::tls();
    let _s6 = serve_as(listening(dual.v6), Behaviour::Reset);
    let _s4 = serve_tls(listening(dual.v4), &tls);
    let (stream, report) = Connector::new()
        .connect(format!("localhost:{port}"))
        .handshake(adapter(&tls))
        .with_report()
        .await
        .unwrap();
    assert_eq!(
        stream.get_ref().0.peer_addr().unwrap().ip().to_string(),
        "127.0.0.1"
    );
    let attempts = report.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].family(), Family::V6);
    assert!(
        matches!(
            attempts[0].outcome(),
            Some(eyeballs::report::AttemptOutcome::HandshakeFailed { .. })
        ),
        "{report}"
    );
    assert_eq!(report.winner().unwrap().family(), Family::V4);
}

// HE-9.2: with a certificate for another name, every attempt's handshake fails; the error keeps
// each attempt's TLS error, and the handshake saw the host as given.
#[tokio::test]
async fn he_9_2_every_handshake_failing_fails_the_connect_with_each_error() {
    let tls = http_server::tls();
    let (port, _servers) = tls_on_both(&tls);
    let adapter = adapter(&tls);
    let seen = adapter.seen.clone();
    // 127.0.0.1 is not the name on the certificate ("localhost").
    let err = Connector::new()
        .connect(("127.0.0.1", port))
        .handshake(adapter)
        .await
        .unwrap_err();
    assert_eq!(err.attempts().len(), 1);
    assert!(err.to_string().contains("handshake failed"), "{err}");
    assert_eq!(seen.lock().unwrap()[0].1.as_deref(), Some("127.0.0.1"));
}
