//! A small hyper server for the adapter tests: HTTP/1.1 and HTTP/2 (prior knowledge or ALPN),
//! optionally over TLS with a self-signed certificate made here.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A certificate for `localhost`, and the server and client TLS configurations that use it.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub client: rustls::ClientConfig,
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn tls() -> Tls {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert: CertificateDer<'static> = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private)
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Tls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        client,
    }
}

/// eyeballs' hyper connector wrapped by hyper-rustls, trusting `client`'s roots, https only,
/// HTTP/1.1 and HTTP/2 offered by ALPN.
#[cfg(feature = "hyper")]
pub fn https_connector(
    connector: eyeballs::Connector,
    client: rustls::ClientConfig,
) -> hyper_rustls::HttpsConnector<eyeballs::hyper::HttpConnector> {
    let mut http = eyeballs::hyper::HttpConnector::new(connector);
    http.enforce_http(false); // the TLS layer passes https URIs through
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(client)
        .https_only()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http)
}

/// Serves "hello {version} from {local address}" on every connection of `listener`.
pub fn serve_http(listener: TcpListener, tls: Option<TlsAcceptor>) -> tokio::task::JoinHandle<()> {
    serve_http_with(listener, tls, false)
}

/// As [`serve_http`]; with `close`, every response says `Connection: close` and the server closes
/// first, so a benchmark's client leaves no TIME_WAIT behind.
pub fn serve_http_with(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    close: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let local = stream.local_addr().unwrap();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| async move {
                    let body = format!("hello {:?} from {local}", req.version());
                    let mut res = Response::new(Full::new(Bytes::from(body)));
                    if close {
                        res.headers_mut().insert(
                            hyper::header::CONNECTION,
                            hyper::header::HeaderValue::from_static("close"),
                        );
                    }
                    Ok::<_, Infallible>(res)
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                let _ = match tls {
                    None => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => builder.serve_connection(TokioIo::new(s), service).await,
                        Err(_) => return,
                    },
                };
            });
        }
    })
}
