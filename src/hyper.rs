//! The hyper adapter (feature `hyper`): [`HttpConnector`], a `tower_service::Service<Uri>` that
//! hyper-util's client, hyper-rustls and anything else built on hyper's connector contract can use.
//!
//! ```no_run
//! use http_body_util::Empty;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let connector = eyeballs::hyper::HttpConnector::new(eyeballs::Connector::new());
//! let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
//! let res = client.get("http://example.com/".parse()?).await?;
//! if let Some(info) = res.extensions().get::<eyeballs::hyper::ConnectionInfo>() {
//!     println!("connected to {} ({}) after {:?}", info.remote_addr(), info.family(), info.elapsed());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # `https` URIs
//!
//! Like hyper-util's `HttpConnector`, this connector makes plain TCP connections and by default
//! refuses `https` URIs ([`HttpConnector::enforce_http`] is `true`), so that a request meant to be
//! encrypted is never sent in the clear by mistake. A TLS connector that wraps it (hyper-rustls,
//! hyper-tls) passes the `https` URI through: call `enforce_http(false)` on the connector you wrap,
//! and `https` then defaults to port 443.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::http::Uri;
use ::hyper::rt::{Read, ReadBufCursor, Write};
use ::hyper_util::client::legacy::connect::{Connected, Connection};
use ::hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{Connector, Error, Family};

#[cfg(feature = "ech")]
pub(crate) mod ech;
#[cfg(feature = "rustls")]
mod https;
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use https::{HttpsConnection, HttpsConnector, TlsConnected, TlsHandshake, TlsHandshaking};

/// A hyper connector that opens connections with Happy Eyeballs v2.
///
/// Cheap to clone (it shares the [`Connector`], its resolver and its cache).
#[derive(Clone, Debug)]
pub struct HttpConnector {
    connector: Connector,
    enforce_http: bool,
}

impl HttpConnector {
    /// A connector that uses `connector` for every connection.
    pub fn new(connector: Connector) -> HttpConnector {
        HttpConnector {
            connector,
            enforce_http: true,
        }
    }

    /// Whether to refuse URIs whose scheme is not `http`. Default: `true`, as in hyper-util. Set
    /// it to `false` when a TLS connector wraps this one.
    ///
    /// With `false`, as in hyper-util, any scheme is accepted: `http` and `ws` default to port
    /// 80, `https` and `wss` to 443; another scheme needs an explicit port (hyper-util would
    /// silently use 80).
    pub fn enforce_http(&mut self, enforce: bool) {
        self.enforce_http = enforce;
    }

    /// The [`Connector`] in use.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }
}

impl Default for HttpConnector {
    fn default() -> HttpConnector {
        HttpConnector::new(Connector::new())
    }
}

/// How a connection was made; hyper-util's client puts it in each response's extensions
/// (`response.extensions().get::<ConnectionInfo>()`), like hyper-util's `HttpInfo`.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    pub(crate) remote_addr: SocketAddr,
    pub(crate) local_addr: SocketAddr,
    pub(crate) attempt: usize,
    pub(crate) attempts: usize,
    pub(crate) elapsed: Duration,
    pub(crate) tcp_elapsed: Duration,
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) endpoint: Option<crate::https_records::ServiceEndpoint>,
    pub(crate) ech: EchStatus,
}

/// What happened to Encrypted Client Hello (RFC 9849) on a connection:
/// [`ConnectionInfo::ech`]. ECH needs the feature `ech` and a TLS connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EchStatus {
    /// No ECH extension was sent: plain TCP, an IP literal, ECH and GREASE off, or the feature
    /// `ech` not built.
    NotOffered,
    /// A GREASE ECH extension was sent (RFC 9849 section 6.2), since no HTTPS record offered an
    /// ECH configuration: the name went in clear text, and ECH use elsewhere does not stand out.
    Grease,
    /// The server accepted ECH: the name asked for crossed the network only encrypted (the
    /// clear-text ClientHello carried the configuration's public name).
    Accepted,
    /// The server rejected the published ECH configuration and sent its current one (the
    /// handshake authenticated under the public name); the one retry, on a new connection to
    /// the same address, was accepted (RFC 9849 section 6.1.6). The name was never sent in clear
    /// text; the HTTPS record is out of date.
    Retried,
}

impl EchStatus {
    /// `"not_offered"`, `"grease"`, `"accepted"`, `"retried"`: the probe's and the logs' words.
    pub fn as_str(self) -> &'static str {
        match self {
            EchStatus::NotOffered => "not_offered",
            EchStatus::Grease => "grease",
            EchStatus::Accepted => "accepted",
            EchStatus::Retried => "retried",
        }
    }
}

impl fmt::Display for EchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ConnectionInfo {
    /// The address connected to.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The family that won the race.
    pub fn family(&self) -> Family {
        Family::of(&self.remote_addr)
    }

    /// Which attempt won (0 is the first address tried).
    pub fn attempt(&self) -> usize {
        self.attempt
    }

    /// How many attempts were started.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// How long the connect took, resolution included (for a TLS connection, until its
    /// handshake completed).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// When the winning connection's TCP handshake completed, from the start of the connect
    /// (for plain TCP, [`ConnectionInfo::elapsed`]); the TLS handshake took the rest.
    pub fn tcp_elapsed(&self) -> Duration {
        self.tcp_elapsed
    }

    /// The protocol the TLS handshake negotiated (ALPN), e.g. `b"h2"`; `None` for plain TCP or
    /// when none was negotiated.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// The HTTPS-record endpoint the connection went to (priority, port, ALPN set, and the
    /// `ech` configuration for a TLS stack that does Encrypted Client Hello), when HTTPS records
    /// were used.
    pub fn service_endpoint(&self) -> Option<&crate::https_records::ServiceEndpoint> {
        self.endpoint.as_ref()
    }

    /// What happened to Encrypted Client Hello on this connection (HE-11.x):
    /// [`EchStatus::Accepted`] when the name crossed the network only encrypted.
    pub fn ech(&self) -> EchStatus {
        self.ech
    }
}

impl ConnectionInfo {
    /// The winner's information from a connect's report.
    pub(crate) fn from_report(
        report: &crate::Report,
        local_addr: SocketAddr,
        alpn: Option<Vec<u8>>,
    ) -> ConnectionInfo {
        let winner = report
            .winner()
            .expect("a connected report names its winner");
        let elapsed = report.elapsed();
        ConnectionInfo {
            remote_addr: winner.addr(),
            local_addr,
            attempt: report.winner.unwrap_or(0),
            attempts: report.attempts().len(),
            elapsed,
            tcp_elapsed: winner.tcp_connected().unwrap_or(elapsed),
            alpn,
            endpoint: winner.endpoint().cloned(),
            ech: EchStatus::NotOffered,
        }
    }
}

/// The connected stream [`HttpConnector`] returns: hyper's `Read` and `Write` over a tokio
/// [`TcpStream`], and hyper-util's `Connection` with [`ConnectionInfo`] as extra.
#[derive(Debug)]
pub struct TcpConnection {
    io: TokioIo<TcpStream>,
    info: ConnectionInfo,
}

impl TcpConnection {
    /// How the connection was made.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &TcpStream {
        self.io.inner()
    }

    /// Unwraps the underlying stream.
    pub fn into_inner(self) -> TcpStream {
        self.io.into_inner()
    }
}

impl Read for TcpConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for TcpConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

impl Connection for TcpConnection {
    /// hyper-util's own `HttpInfo` (remote and local address, as its `HttpConnector` gives, so
    /// code that reads it keeps working), then [`ConnectionInfo`].
    fn connected(&self) -> Connected {
        self.io.inner().connected().extra(self.info.clone())
    }
}

/// Why [`HttpConnector`] could not connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URI cannot be connected to (missing host, unsupported scheme, ...).
    #[error("invalid URI {uri}: {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The connect itself failed; the [`Error`] lists every attempt.
    #[error(transparent)]
    Connect(#[from] Error),
    /// The connection's local address could not be read.
    #[error("reading the connection's local address failed: {0}")]
    LocalAddr(#[source] io::Error),
    /// [`HttpsConnector::ech_required`] is on and no HTTPS-record endpoint of the host offers
    /// Encrypted Client Hello (HE-11.5): nothing was connected to. The [`Error`] has the report.
    #[error("ECH required, and no HTTPS-record endpoint of this host offers ECH: {0}")]
    EchUnavailable(#[source] Error),
}

/// The future [`HttpConnector`] returns. `Send` and `Unpin`.
pub struct HttpConnecting {
    inner: Pin<Box<dyn Future<Output = Result<TcpConnection, ConnectError>> + Send>>,
}

impl fmt::Debug for HttpConnecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpConnecting")
    }
}

impl Future for HttpConnecting {
    type Output = Result<TcpConnection, ConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl tower_service::Service<Uri> for HttpConnector {
    type Response = TcpConnection;
    type Error = ConnectError;
    type Future = HttpConnecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> HttpConnecting {
        HttpConnector::connect_tcp(self.connector.clone(), uri, self.enforce_http)
    }
}

impl HttpConnector {
    /// A plain TCP connection for `uri`.
    pub(crate) fn connect_tcp(
        connector: Connector,
        uri: Uri,
        enforce_http: bool,
    ) -> HttpConnecting {
        HttpConnecting {
            inner: Box::pin(async move {
                let (host, port) = host_port(&uri, enforce_http)?;
                let (stream, report) = connector.connect((host, port)).with_report().await?;
                let local = stream.local_addr().map_err(ConnectError::LocalAddr)?;
                let info = ConnectionInfo::from_report(&report, local, None);
                Ok(TcpConnection {
                    io: TokioIo::new(stream),
                    info,
                })
            }),
        }
    }
}

/// The host and port to connect to for `uri`: `http` defaults to 80 and `https` to 443.
pub(crate) fn host_port(uri: &Uri, enforce_http: bool) -> Result<(&str, u16), ConnectError> {
    let invalid = |reason| ConnectError::InvalidUri {
        uri: uri.to_string(),
        reason,
    };
    let is = |name: &str| {
        uri.scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(name))
    };
    let default_port = match uri.scheme_str() {
        None => return Err(invalid("the scheme is missing")),
        Some(_) if is("http") => Some(80),
        Some(_) if enforce_http && is("https") => {
            return Err(invalid(
                "the scheme is https but this connector makes plain TCP connections; \
                 wrap it in a TLS connector and call enforce_http(false)",
            ));
        }
        Some(_) if enforce_http => {
            return Err(invalid(
                "unsupported scheme (expected http; call enforce_http(false) for others)",
            ));
        }
        Some(_) if is("https") || is("wss") => Some(443),
        Some(_) if is("ws") => Some(80),
        Some(_) => None,
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("the host is missing"))?;
    match uri.port_u16().or(default_port) {
        Some(port) => Ok((host, port)),
        None => Err(invalid(
            "unsupported scheme without a port (http, https, ws and wss have default ports)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_host_and_port() {
        let ok = |u: &str, enforce: bool, h: &str, p: u16| {
            let uri: Uri = u.parse().unwrap();
            assert_eq!(
                host_port(&uri, enforce).map_err(|e| e.to_string()),
                Ok((h, p)),
                "{u}"
            );
        };
        ok("http://example.com/", true, "example.com", 80);
        ok("http://example.com:8080/x", true, "example.com", 8080);
        ok("HTTP://[2001:db8::1]/", true, "[2001:db8::1]", 80);
        ok("https://example.com/", false, "example.com", 443);
        ok("https://[::1]:8443", false, "[::1]", 8443);
        let bad = |u: &str, enforce: bool, reason: &str| {
            let uri: Uri = u.parse().unwrap();
            let e = host_port(&uri, enforce).unwrap_err().to_string();
            assert!(e.contains(reason), "{u}: {e}");
        };
        ok("ws://example.com/chat", false, "example.com", 80);
        ok("wss://example.com/chat", false, "example.com", 443);
        ok("WSS://example.com:9443/", false, "example.com", 9443);
        ok("redis://example.com:6379", false, "example.com", 6379);
        bad("https://example.com/", true, "enforce_http(false)");
        bad("ws://example.com/", true, "enforce_http(false)");
        bad(
            "ftp://example.com/",
            false,
            "unsupported scheme without a port",
        );
        bad("/just/a/path", false, "scheme is missing");
    }
}
