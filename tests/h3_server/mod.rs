//! A local HTTP/3 server (quinn, h3) and an HTTPS server (hyper over rustls) on the same port
//! number, UDP and TCP, with a self-signed certificate for `localhost`, 127.0.0.1 and ::1 made
//! here: what a QUIC race runs against on loopback. Declare `mod http_server;` beside it.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

// The HTTPS side is the sibling module `http_server` (tests/http_server), which every user of
// this module declares too.
use super::http_server;

/// The certificate's configurations: TCP (h2, http/1.1), QUIC (h3), and a client trusting it.
pub struct Certs {
    pub tcp: rustls::ServerConfig,
    pub quic: rustls::ServerConfig,
    pub client: rustls::ClientConfig,
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn certs() -> Certs {
    let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    let key = rcgen::generate_simple_self_signed(names).unwrap();
    let cert: CertificateDer<'static> = key.cert.der().clone();
    let private = PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let server = |alpn: &[&[u8]]| {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.clone()],
                PrivateKeyDer::Pkcs8(private.clone_key()),
            )
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Certs {
        tcp: server(&[b"h2", b"http/1.1"]),
        quic: server(&[b"h3"]),
        client,
    }
}

/// How the UDP side of a server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udp {
    /// HTTP/3.
    H3,
    /// Nothing bound on the UDP port: the kernel answers ICMP port unreachable.
    Closed,
    /// A socket bound that reads every datagram and answers none.
    Silent,
    /// A socket that answers every datagram with bytes that are not QUIC (a long-header first
    /// byte, then noise), three times over.
    Garbage,
}

/// A server: HTTPS over TCP on `addr`, and UDP on the same port as `udp` says.
pub struct Server {
    pub addr: SocketAddr,
    /// QUIC connections accepted, and HTTP/3 requests answered.
    pub quic_accepted: Arc<AtomicUsize>,
    pub h3_requests: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    endpoint: Option<quinn::Endpoint>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(endpoint) = &self.endpoint {
            endpoint.close(0u32.into(), b"server gone");
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Server {
    pub fn quic_accepted(&self) -> usize {
        self.quic_accepted.load(Ordering::SeqCst)
    }
}

/// Starts a server on `ip` (a loopback address) with a free port for both TCP and UDP.
pub async fn start(ip: &str, udp: Udp, certs: &Certs) -> Server {
    for _ in 0..50 {
        let std_udp = std::net::UdpSocket::bind((ip, 0)).unwrap();
        let port = std_udp.local_addr().unwrap().port();
        let Ok(tcp) = tokio::net::TcpListener::bind((ip, port)).await else {
            continue;
        };
        let addr = tcp.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certs.tcp.clone()));
        let mut tasks = vec![http_server::serve_http(tcp, Some(acceptor))];
        let quic_accepted = Arc::new(AtomicUsize::new(0));
        let h3_requests = Arc::new(AtomicUsize::new(0));
        let mut endpoint = None;
        match udp {
            Udp::Closed => drop(std_udp),
            Udp::Silent => {
                let socket = tokio::net::UdpSocket::from_std({
                    std_udp.set_nonblocking(true).unwrap();
                    std_udp
                })
                .unwrap();
                tasks.push(tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    while socket.recv_from(&mut buf).await.is_ok() {}
                }));
            }
            Udp::Garbage => {
                std_udp.set_nonblocking(true).unwrap();
                let socket = tokio::net::UdpSocket::from_std(std_udp).unwrap();
                tasks.push(tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let mut noise = 0x9e37_79b9_u32;
                    while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                        for len in [n.min(1200), 40, 1] {
                            let reply: Vec<u8> = (0..len)
                                .map(|i| {
                                    noise =
                                        noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                                    if i == 0 {
                                        0xc0 | (noise >> 24) as u8
                                    } else {
                                        (noise >> 24) as u8
                                    }
                                })
                                .collect();
                            let _ = socket.send_to(&reply, peer).await;
                        }
                    }
                }));
            }
            Udp::H3 => {
                let crypto =
                    quinn::crypto::rustls::QuicServerConfig::try_from(certs.quic.clone()).unwrap();
                let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
                let runtime = Arc::new(quinn::TokioRuntime);
                let server = quinn::Endpoint::new(
                    quinn::EndpointConfig::default(),
                    Some(config),
                    std_udp,
                    runtime,
                )
                .unwrap();
                let (accepted, requests) = (quic_accepted.clone(), h3_requests.clone());
                let accepting = server.clone();
                tasks.push(tokio::spawn(async move {
                    while let Some(incoming) = accepting.accept().await {
                        let (accepted, requests) = (accepted.clone(), requests.clone());
                        tokio::spawn(async move {
                            let Ok(conn) = incoming.await else { return };
                            accepted.fetch_add(1, Ordering::SeqCst);
                            serve_h3(conn, requests).await;
                        });
                    }
                }));
                endpoint = Some(server);
            }
        }
        return Server {
            addr,
            quic_accepted,
            h3_requests,
            tasks,
            endpoint,
        };
    }
    panic!("no port free for both TCP and UDP on {ip}");
}

/// Answers every HTTP/3 request with "hello HTTP/3".
async fn serve_h3(conn: quinn::Connection, requests: Arc<AtomicUsize>) {
    let Ok(mut h3) = h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn)).await
    else {
        return;
    };
    while let Ok(Some(resolver)) = h3.accept().await {
        let requests = requests.clone();
        tokio::spawn(async move {
            let Ok((_request, mut stream)) = resolver.resolve_request().await else {
                return;
            };
            requests.fetch_add(1, Ordering::SeqCst);
            let response = http::Response::builder().status(200).body(()).unwrap();
            if stream.send_response(response).await.is_ok() {
                let _ = stream.send_data(Bytes::from_static(b"hello HTTP/3")).await;
                let _ = stream.finish().await;
            }
        });
    }
}
